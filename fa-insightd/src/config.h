/* config.h — what is in force: defaults, then the config file, then flags.
 *
 * One table in config.c drives the flags, the file and the defaults; every
 * value, defaults included, goes through the same parser. Parsing runs on
 * the main thread before anything starts; afterwards the struct is read
 * only. */
#ifndef FA_INSIGHTD_CONFIG_H
#define FA_INSIGHTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATH_MAX 1024

typedef struct config {
    char listen[256]; /* host:port of HTTP + WebSocket */
    char ingest[256]; /* nng URL of the PULL socket */
    char db_path[CONFIG_PATH_MAX];
    /* Where the data goes: a PostgreSQL URI, or a SQLite path (after
     * config_load: --store, else --db). */
    char store[CONFIG_PATH_MAX];
    char web_root[CONFIG_PATH_MAX]; /* "" until config_resolve_web_root */
    char config_file[CONFIG_PATH_MAX];
    char allow_origin[1024];           /* extra WebSocket origins, comma-separated */
    char token_file[CONFIG_PATH_MAX];  /* bearer token for HTTP and WebSocket */
    char tls_cert[CONFIG_PATH_MAX];    /* PEM certificate chain: HTTPS and tls+tcp ingest */
    char tls_key[CONFIG_PATH_MAX];     /* its PEM private key */
    char ingest_secret_file[CONFIG_PATH_MAX]; /* shared secret every agent's HELLO must carry */
    char lint_report[CONFIG_PATH_MAX]; /* SARIF report file, watched; "" for none */
    uint64_t max_lint_report_bytes;    /* byte cap of a SARIF report */
    uint64_t retention_ms;         /* raw frames */
    uint64_t rollup_retention_ms;  /* per-second rollups and findings */
    uint64_t session_retention_ms; /* sessions, their tags and alerts, after they ended */
    uint64_t commit_interval_ms;
    uint64_t session_timeout_ms;
    uint64_t ws_send_timeout_ms;    /* WebSocket write deadline */
    uint64_t http_write_timeout_ms; /* HTTP response write deadline */
    uint64_t request_timeout_ms;    /* deadline of a request's work */
    uint64_t http_header_timeout_ms; /* a request's head must arrive within this */
    uint64_t http_idle_timeout_ms;   /* a connection without a request for this long is closed */
    uint64_t max_response_bytes;    /* byte cap of every response body */
    uint64_t write_buffer_bytes;    /* writer backlog before frames are dropped */
    uint64_t ingest_queue_bytes;    /* nng -> loop hand-off queue */
    uint32_t ws_rate;               /* frame messages per second per WebSocket client */
    uint32_t ws_max_clients;
    uint32_t max_connections; /* HTTP + WebSocket connections at once */
    uint32_t max_ended_sessions; /* ended sessions kept in memory */
    uint32_t max_tags;           /* tags per session */
    uint32_t max_sites;          /* call-site definitions per session */
    char source_root[CONFIG_PATH_MAX]; /* "" (off): the API shows no source */
    int log_level;
    bool allow_remote;
    bool no_ingest; /* serve the API only (a fleet's shared store) */
} config_t;

enum { CONFIG_OK = 0, CONFIG_EXIT = 1, CONFIG_ERROR = -1 };

/* Fills cfg from defaults, the --config file (if any) and argv. Returns
 * CONFIG_OK; CONFIG_EXIT after printing --help or --version to out; or
 * CONFIG_ERROR with a one-line reason in err (naming the flag, or the file
 * and line). */
int config_load(config_t *cfg, int argc, char **argv, FILE *out, char *err, size_t errcap);

/* The usage text generated from the table. */
void config_usage(FILE *out);

/* Chooses the web root when none was given: the installed
 * share/framealloc/web, or the source tree's web/ when the binary runs
 * from that tree (build dir). Writes the choice into cfg->web_root. */
void config_resolve_web_root(config_t *cfg);

/* Durations ("250ms", "10s", "5m", "1h", "7d", a bare number of seconds)
 * and byte sizes ("65536", "512KiB", "32MiB"), with the syntax fa-cli
 * shares (lib/text/units.h). Return 0 or -1. Any thread. */
int config_parse_duration(const char *s, uint64_t *out_ms);
int config_parse_size(const char *s, uint64_t *out_bytes);

/* Splits "host:port" / "[v6]:port". Returns 0 or -1. Any thread. */
int config_split_hostport(const char *addr, char *host, size_t hostcap, int *port);

/* Whether every address host resolves to (getaddrinfo) is a loopback
 * address (127.0.0.0/8, ::1): decided on the addresses, not the name. A
 * name that does not resolve is not loopback. May block on DNS: start-up
 * only. */
bool config_host_is_loopback(const char *host);

/* Whether an nng URL listens only locally (ipc, inproc, or a tcp or
 * tls+tcp host that resolves to loopback only). Start-up only. */
bool config_url_is_local(const char *url);

/* Whether an nng URL is tls+tcp://. Any thread. */
bool config_url_is_tls(const char *url);

#endif
