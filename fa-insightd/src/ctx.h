/* ctx.h — what the HTTP, API, static and WebSocket modules share: the
 * daemon's parts and facts, owned by main.c (loop thread). */
#ifndef FA_INSIGHTD_CTX_H
#define FA_INSIGHTD_CTX_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config.h"

struct sessions;
struct store;
struct writer;
struct http;
struct ws;
struct lint;
struct nng_tls_config;
struct ingest;

typedef struct insightd_ctx {
    uv_loop_t *loop;
    const config_t *cfg;
    struct sessions *sessions;
    struct store *store;
    struct writer *writer;
    struct http *http;
    struct ws *ws;
    struct lint *lint; /* static findings (lint.h) */
    struct ingest *ingest; /* NULL with --no-ingest */
    uint64_t started_ms, started_mono;
    char http_url[300];
    char ingest_url[300];
    bool web_root_ok;
    char web_root_real[CONFIG_PATH_MAX];
    char *web_files; /* the web root's manifest (static.h) */
    bool listen_loopback;  /* --listen resolves to loopback addresses only */
    int listen_port;       /* the real port (after port 0) */
    char token[256];       /* --token-file's token, "" for none */
    struct nng_tls_config *tls; /* --tls-cert/--tls-key: HTTPS, WSS, tls+tcp ingest; NULL for none */
    char source_root_real[CONFIG_PATH_MAX]; /* "": --source-root is off */
} insightd_ctx_t;

#define INSIGHTD_NAME "fa-insightd"

#endif
