/* tlsconf.c — see tlsconf.h. */
#include "tlsconf.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PEM_MAX (1024 * 1024)

/* The whole file, NUL-terminated (PEM is text), or NULL with err. */
static char *read_pem(const char *flag, const char *path, char *err, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s %s: %s", flag, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > PEM_MAX || !strstr(buf, "-----BEGIN ")) {
        snprintf(err, errcap, "%s %s: not a PEM file (at most 1 MiB)", flag, path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int tlsconf_server(nng_tls_config **out, const char *cert_path, const char *key_path, char *err,
                   size_t errcap) {
    char *cert = read_pem("--tls-cert", cert_path, err, errcap);
    char *key = cert ? read_pem("--tls-key", key_path, err, errcap) : NULL;
    nng_tls_config *cfg = NULL;
    int rv = -1;
    if (key) {
        int e;
        if ((e = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0)
            snprintf(err, errcap, "TLS: %s", nng_strerror(e));
        else if ((e = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0)
            snprintf(err, errcap, "--tls-cert %s / --tls-key %s: %s (a PEM certificate and its unencrypted key)",
                     cert_path, key_path, nng_strerror(e));
        else
            rv = 0;
    }
    free(cert);
    free(key);
    if (rv != 0 && cfg) nng_tls_config_free(cfg);
    if (rv == 0) *out = cfg;
    return rv;
}
