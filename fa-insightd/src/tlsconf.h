/* tlsconf.h — the daemon's TLS server configuration (nng's TLS engine),
 * shared by HTTPS/WSS (http.c, ws.c) and tls+tcp:// ingest (ingest.c).
 * Start-up only (main thread). */
#ifndef FA_INSIGHTD_TLSCONF_H
#define FA_INSIGHTD_TLSCONF_H

#include <stddef.h>

struct nng_tls_config;

/* A server configuration with the PEM certificate (chain) in cert_path
 * and its PEM private key in key_path. Returns 0 with *out (the caller
 * releases it with nng_tls_config_free), or -1 with a reason in err
 * naming the file. */
int tlsconf_server(struct nng_tls_config **out, const char *cert_path, const char *key_path, char *err,
                   size_t errcap);

#endif
