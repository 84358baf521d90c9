/* config.c — one table drives the command-line flags, the config file and
 * the defaults. Every value goes through the same parser whatever its
 * source, defaults included, so a default cannot be invalid. */
#include "config.h"

#include <ctype.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "fa_proto.h"
#include "framealloc.h"
#include "log.h"
#include "store.h"
#include "units.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Baked in by the build (fa-insightd.mk); harmless fallbacks otherwise. */
#ifndef FA_INSIGHTD_INSTALLED_WEB
#define FA_INSIGHTD_INSTALLED_WEB "/usr/local/share/framealloc/web"
#endif
#ifndef FA_INSIGHTD_SOURCE_DIR
#define FA_INSIGHTD_SOURCE_DIR "."
#endif

typedef enum opt_type {
    OPT_ADDR,
    OPT_URL,
    OPT_PATH,
    OPT_TEXT,
    OPT_BOOL,
    OPT_DURATION,
    OPT_UINT,
    OPT_SIZE,
    OPT_LEVEL,
    OPT_STORE
} opt_type;

typedef struct option_def {
    const char *name; /* --name on the command line, `name = value` in the file */
    opt_type type;
    size_t offset, size;
    const char *def; /* default, parsed like any other value */
    const char *metavar;
    uint64_t min, max; /* OPT_DURATION (ms), OPT_UINT and OPT_SIZE (bytes) */
    const char *help;
} option_def_t;

#define FIELD(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)
#define DEFAULT_DB "./fa-insight.db"
#define DAY_MS (24ull * 3600ull * 1000ull)
#define MIB (1024ull * 1024ull)

static const option_def_t options[] = {
    {"listen", OPT_ADDR, FIELD(listen), "127.0.0.1:7878", "HOST:PORT", 0, 0,
     "HTTP, JSON API and WebSocket address (port 0: any free port)"},
    {"ingest", OPT_URL, FIELD(ingest), "tcp://127.0.0.1:7879", "URL", 0, 0,
     "nng PULL address the agents push to (tcp://, ipc://, or tls+tcp:// with --tls-cert/--tls-key)"},
    {"db", OPT_PATH, FIELD(db_path), DEFAULT_DB, "PATH", 0, 0, "SQLite database (created if missing)"},
    {"store", OPT_STORE, FIELD(store), "", "URL|PATH", 0, 0,
     "where to store: postgresql://USER@HOST/DB (a server many daemons share) or a SQLite path [--db]"},
    {"web-root", OPT_PATH, FIELD(web_root), "", "DIR", 0, 0,
     "dashboard files (default: the installed share/framealloc/web, or the source tree's web/)"},
    {"retention", OPT_DURATION, FIELD(retention_ms), "1h", "DURATION", 10000, 365 * DAY_MS,
     "how long raw frames are kept (rollups stay longer)"},
    {"rollup-retention", OPT_DURATION, FIELD(rollup_retention_ms), "24h", "DURATION", 60000, 365 * DAY_MS,
     "how long per-second rollups and findings are kept (10-second: 7 days, per-minute: 30 days, or more)"},
    {"session-retention", OPT_DURATION, FIELD(session_retention_ms), "30d", "DURATION", 10000, 3650 * DAY_MS,
     "how long an ended session, its tags and its alerts are kept"},
    {"commit-interval", OPT_DURATION, FIELD(commit_interval_ms), "250ms", "DURATION", 10, 250,
     "longest time an accepted frame waits for its SQLite commit"},
    {"session-timeout", OPT_DURATION, FIELD(session_timeout_ms), "10s", "DURATION", 1000, DAY_MS,
     "a session without messages for this long has ended"},
    {"ws-rate", OPT_UINT, FIELD(ws_rate), "20", "N", 1, 1000,
     "frame messages per second per WebSocket client"},
    {"ws-send-timeout", OPT_DURATION, FIELD(ws_send_timeout_ms), "10s", "DURATION", 100, 600000,
     "a WebSocket client that accepts nothing for this long is closed"},
    {"ws-max-clients", OPT_UINT, FIELD(ws_max_clients), "64", "N", 1, 10000,
     "WebSocket clients at once; more are refused (too_many_clients)"},
    {"max-connections", OPT_UINT, FIELD(max_connections), "256", "N", 8, 100000,
     "HTTP and WebSocket connections at once; more get 503 too_many_connections"},
    {"http-header-timeout", OPT_DURATION, FIELD(http_header_timeout_ms), "10s", "DURATION", 100, 600000,
     "a connection whose request has not fully arrived within this time is closed"},
    {"http-idle-timeout", OPT_DURATION, FIELD(http_idle_timeout_ms), "60s", "DURATION", 100, 3600000,
     "a connection that sends no request for this long is closed"},
    {"http-write-timeout", OPT_DURATION, FIELD(http_write_timeout_ms), "10s", "DURATION", 100, 600000,
     "an HTTP client that does not take its response within this time is cut off"},
    {"request-timeout", OPT_DURATION, FIELD(request_timeout_ms), "10s", "DURATION", 10, 600000,
     "a request's database work is cancelled after this time (503 timeout)"},
    {"max-response", OPT_SIZE, FIELD(max_response_bytes), "8MiB", "SIZE", 64 * 1024, 1024 * MIB,
     "byte cap of every response body (lists are truncated with a cursor)"},
    {"max-ended-sessions", OPT_UINT, FIELD(max_ended_sessions), "256", "N", 0, 1000000,
     "ended sessions kept in memory; older ones are answered from the database"},
    {"max-tags", OPT_UINT, FIELD(max_tags), "1024", "N", 1, 65536,
     "tags per session; more definitions and their frame rows are rejected and counted"},
    {"max-sites", OPT_UINT, FIELD(max_sites), "16384", "N", 1, 1048576,
     "call-site definitions per session; more are rejected and counted (their rows show by number)"},
    {"source-root", OPT_PATH, FIELD(source_root), "", "DIR", 0, 0,
     "let the API show a few lines of source around a call site: files under DIR only (off by default)"},
    {"write-buffer", OPT_SIZE, FIELD(write_buffer_bytes), "32MiB", "SIZE", 256 * 1024, 4096 * MIB,
     "writes waiting for the database (a slow or full disk) before frames are dropped"},
    {"ingest-queue", OPT_SIZE, FIELD(ingest_queue_bytes), "24MiB", "SIZE", 64 * 1024, 4096 * MIB,
     "received messages waiting for the loop before frames are dropped"},
    {"log-level", OPT_LEVEL, FIELD(log_level), "info", "LEVEL", 0, 0, "error, warn, info or debug"},
    {"allow-remote", OPT_BOOL, FIELD(allow_remote), "false", NULL, 0, 0,
     "allow --listen / --ingest beyond loopback (prints a warning; --listen also needs --token-file)"},
    {"allow-origin", OPT_TEXT, FIELD(allow_origin), "", "ORIGINS", 0, 0,
     "web origins besides the dashboard's own allowed to open the WebSocket (comma-separated, e.g. "
     "https://tools.example:8443)"},
    {"token-file", OPT_PATH, FIELD(token_file), "", "FILE", 0, 0,
     "bearer token (first line, 16+ characters, mode 600) every HTTP request and WebSocket must carry; "
     "required when --listen is not loopback"},
    {"ingest-secret-file", OPT_PATH, FIELD(ingest_secret_file), "", "FILE", 0, 0,
     "shared ingest secret (first line, 16+ characters, mode 600) every agent's HELLO must carry "
     "(agents: FA_INSIGHT_SECRET_FILE); other connections are refused and counted. It travels in the "
     "HELLO: use it with a tls+tcp:// --ingest"},
    {"tls-cert", OPT_PATH, FIELD(tls_cert), "", "FILE", 0, 0,
     "PEM certificate (chain): HTTPS and WSS on --listen, and TLS for a tls+tcp:// --ingest"},
    {"tls-key", OPT_PATH, FIELD(tls_key), "", "FILE", 0, 0, "the certificate's PEM private key"},
    {"lint-report", OPT_PATH, FIELD(lint_report), "", "FILE", 0, 0,
     "a SARIF 2.1.0 report (fa-lint --format sarif) shown beside the runtime figures; read again when it "
     "changes"},
    {"max-lint-report", OPT_SIZE, FIELD(max_lint_report_bytes), "8MiB", "SIZE", 64 * 1024, 256 * MIB,
     "byte cap of a SARIF report (PUT /api/v1/lint or --lint-report)"},
    {"no-ingest", OPT_BOOL, FIELD(no_ingest), "false", NULL, 0, 0,
     "receive nothing: serve the API and dashboard of a --store other daemons write"},
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

int config_parse_duration(const char *s, uint64_t *out_ms) {
    return units_parse_duration(s, out_ms);
}

int config_parse_size(const char *s, uint64_t *out_bytes) {
    return units_parse_bytes(s, out_bytes);
}

int config_split_hostport(const char *addr, char *host, size_t hostcap, int *port) {
    const char *colon;
    size_t hlen;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (!close || close[1] != ':') return -1;
        hlen = (size_t)(close - addr - 1);
        addr++;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon || memchr(addr, ':', (size_t)(colon - addr))) return -1;
        hlen = (size_t)(colon - addr);
    }
    if (hlen == 0 || hlen >= hostcap) return -1;
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5) return -1;
    long v = 0;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535) return -1;
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    *port = (int)v;
    return 0;
}

/* Loopback is decided on what the name resolves to, as nng will resolve
 * it when it binds: "localhost" pointed elsewhere by /etc/hosts or DNS is
 * not loopback. */
bool config_host_is_loopback(const char *host) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
    bool all = true;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const void *)a->ai_addr;
            all = all && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct in6_addr *in6 = &((const struct sockaddr_in6 *)(const void *)a->ai_addr)->sin6_addr;
            all = all && (IN6_IS_ADDR_LOOPBACK(in6) ||
                          (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127));
        } else {
            all = false;
        }
    }
    freeaddrinfo(res);
    return all;
}

/* The host:port part of a tcp URL (any of nng's tcp and tls+tcp
 * schemes), or NULL. */
static const char *tcp_url_rest(const char *url) {
    static const char *const schemes[] = {"tcp://", "tcp4://", "tcp6://", "tls+tcp://", "tls+tcp4://",
                                          "tls+tcp6://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0) return url + strlen(schemes[i]);
    return NULL;
}

bool config_url_is_tls(const char *url) {
    return strncmp(url, "tls+", 4) == 0;
}

bool config_url_is_local(const char *url) {
    if (strncmp(url, "ipc://", 6) == 0 || strncmp(url, "inproc://", 9) == 0) return true;
    const char *rest = tcp_url_rest(url);
    char host[256];
    int port;
    return rest && config_split_hostport(rest, host, sizeof host, &port) == 0 && config_host_is_loopback(host);
}

static bool url_is_valid(const char *url) {
    const char *rest = tcp_url_rest(url);
    if (rest) {
        char host[256];
        int port;
        return config_split_hostport(rest, host, sizeof host, &port) == 0;
    }
    return (strncmp(url, "ipc://", 6) == 0 && url[6]) || (strncmp(url, "inproc://", 9) == 0 && url[9]);
}

/* Applies one value to one option. Returns 0 or -1 with err. */
static int option_set(config_t *cfg, const option_def_t *o, const char *value, char *err, size_t errcap) {
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_ADDR: {
        char host[256];
        int port;
        if (config_split_hostport(value, host, sizeof host, &port) != 0) {
            snprintf(err, errcap, "--%s: '%s' is not HOST:PORT (e.g. 127.0.0.1:7878, [::1]:7878)", o->name,
                     value);
            return -1;
        }
        break;
    }
    case OPT_URL:
        if (!url_is_valid(value)) {
            snprintf(err, errcap, "--%s: '%s' is not an nng URL (tcp://HOST:PORT, tls+tcp://HOST:PORT or ipc://PATH)", o->name,
                     value);
            return -1;
        }
        break;
    case OPT_PATH:
    case OPT_TEXT:
        break;
    case OPT_STORE:
        if (value[0] && strstr(value, "://") && !store_location_is_pg(value)) {
            snprintf(
                err, errcap,
                "--%s: '%.200s' is neither a PostgreSQL URI (postgresql://USER@HOST:PORT/DB) nor a file path",
                o->name, value);
            return -1;
        }
        break;
    case OPT_BOOL: {
        bool b;
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") || !strcmp(value, "1"))
            b = true;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
                 !strcmp(value, "0"))
            b = false;
        else {
            snprintf(err, errcap, "--%s: '%s' is not a boolean (true/false)", o->name, value);
            return -1;
        }
        *(bool *)field = b;
        return 0;
    }
    case OPT_DURATION: {
        uint64_t ms;
        if (config_parse_duration(value, &ms) != 0) {
            snprintf(err, errcap, "--%s: '%s' is not a duration (e.g. 250ms, 10s, 5m, 1h, 7d)", o->name,
                     value);
            return -1;
        }
        if (ms < o->min || ms > o->max) {
            snprintf(err, errcap, "--%s: '%s' is out of range (%llu ms .. %llu ms)", o->name, value,
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return -1;
        }
        *(uint64_t *)field = ms;
        return 0;
    }
    case OPT_UINT: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (!isdigit((unsigned char)value[0]) || *end || errno || v < o->min || v > o->max) {
            snprintf(err, errcap, "--%s: '%s' is not an integer in %llu..%llu", o->name, value,
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return -1;
        }
        *(uint32_t *)field = (uint32_t)v;
        return 0;
    }
    case OPT_SIZE: {
        uint64_t bytes;
        if (config_parse_size(value, &bytes) != 0) {
            snprintf(err, errcap, "--%s: '%s' is not a size (e.g. 65536, 512KiB, 32MiB, 1GiB)", o->name,
                     value);
            return -1;
        }
        if (bytes < o->min || bytes > o->max) {
            snprintf(err, errcap, "--%s: '%s' is out of range (%llu .. %llu bytes)", o->name, value,
                     (unsigned long long)o->min, (unsigned long long)o->max);
            return -1;
        }
        *(uint64_t *)field = bytes;
        return 0;
    }
    case OPT_LEVEL: {
        int lvl = log_level_parse(value);
        if (lvl < 0) {
            snprintf(err, errcap, "--%s: '%s' is not a level (error, warn, info, debug)", o->name, value);
            return -1;
        }
        *(int *)field = lvl;
        return 0;
    }
    }
    /* string-like */
    if (strlen(value) >= o->size) {
        snprintf(err, errcap, "--%s: value too long (at most %zu bytes)", o->name, o->size - 1);
        return -1;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static const option_def_t *option_find(const char *name, size_t len) {
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0) return &options[i];
    return NULL;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* `key = value` lines; '#' starts a comment line; values may be quoted. */
static int config_read_file(config_t *cfg, const char *path, char *err, size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "--config: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            snprintf(err, errcap, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errcap, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        const option_def_t *o = option_find(key, strlen(key));
        if (!o) {
            snprintf(err, errcap, "%s:%d: unknown key '%s'", path, lineno, key);
            rc = -1;
            break;
        }
        char why[512];
        if (option_set(cfg, o, value, why, sizeof why) != 0) {
            snprintf(err, errcap, "%s:%d: %s", path, lineno, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

void config_usage(FILE *out) {
    fprintf(out,
            "Usage: %s [OPTIONS]\n"
            "framealloc telemetry daemon: ingests agent snapshots over nng, stores them in SQLite\n"
            "(or a PostgreSQL server that many daemons share) and serves a JSON API, a WebSocket\n"
            "live stream and the dashboard.\n\n"
            "Options (also accepted as `name = value` lines in the --config file;\n"
            "flags override the file, which overrides the defaults):\n",
            "fa-insightd");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const option_def_t *o = &options[i];
        char lhs[64];
        if (o->metavar)
            snprintf(lhs, sizeof lhs, "--%s %s", o->name, o->metavar);
        else
            snprintf(lhs, sizeof lhs, "--%s", o->name);
        fprintf(out, "  %-30s %s", lhs, o->help);
        if (o->def[0]) fprintf(out, " [%s]", o->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-30s %s\n", "-c, --config FILE", "read options from FILE first");
    fprintf(out, "  %-30s %s\n", "-h, --help", "print this help and exit");
    fprintf(out, "  %-30s %s\n", "-V, --version", "print the version and exit");
    fprintf(out, "  %-30s %s\n", "--import FILE...",
            "load capture files (FA_INSIGHT_URL=file:PATH in the game) into --db as sessions, then exit;");
    fprintf(out, "  %-30s %s\n", "", "a session already stored is skipped (exit 2 when a file cannot be read)");
    fprintf(out, "\nSIGINT/SIGTERM stop ingest, flush the database, finish HTTP requests, close\n"
                 "WebSockets and exit 0. The API is documented in fa-insightd/API.md.\n");
}

int config_load(config_t *cfg, int argc, char **argv, FILE *out, char *err, size_t errcap) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        if (option_set(cfg, &options[i], options[i].def, err, errcap) != 0) return CONFIG_ERROR;
    }
    /* First pass: --help, --version and --config, wherever they appear. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            config_usage(out);
            return CONFIG_EXIT;
        }
        if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            fprintf(out, "%s %s (protocol %d.%d, SQLite %s schema %d, PostgreSQL schema %d via libpq %d)\n",
                    "fa-insightd", FA_VERSION_STRING, FA_PROTO_VERSION_MAJOR, FA_PROTO_VERSION_MINOR,
                    sqlite3_libversion(), STORE_SQLITE_SCHEMA, STORE_PG_SCHEMA, PQlibVersion());
            return CONFIG_EXIT;
        }
        const char *file = NULL;
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errcap, "%s: missing FILE", a);
                return CONFIG_ERROR;
            }
            file = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            file = a + 9;
        }
        if (file) {
            if (strlen(file) >= sizeof cfg->config_file) {
                snprintf(err, errcap, "--config: path too long");
                return CONFIG_ERROR;
            }
            strcpy(cfg->config_file, file);
        }
    }
    if (cfg->config_file[0] && config_read_file(cfg, cfg->config_file, err, errcap) != 0) return CONFIG_ERROR;
    /* Second pass: flags, in order. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errcap, "unexpected argument '%s' (see --help)", a);
            return CONFIG_ERROR;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const option_def_t *o = option_find(name, nlen);
        if (!o) {
            snprintf(err, errcap, "unknown option '--%.*s' (see --help)", (int)nlen, name);
            return CONFIG_ERROR;
        }
        const char *value;
        if (eq)
            value = eq + 1;
        else if (o->type == OPT_BOOL)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(err, errcap, "--%s: missing %s", o->name, o->metavar ? o->metavar : "value");
            return CONFIG_ERROR;
        }
        if (option_set(cfg, o, value, err, errcap) != 0) return CONFIG_ERROR;
    }
    /* One store: --store, else the SQLite file of --db. */
    if (cfg->store[0] && strcmp(cfg->db_path, DEFAULT_DB) != 0) {
        snprintf(err, errcap,
                 "--store and --db both name a store: give one (--store takes a SQLite path too)");
        return CONFIG_ERROR;
    }
    if (!cfg->store[0]) memcpy(cfg->store, cfg->db_path, sizeof cfg->store);
    return CONFIG_OK;
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void config_resolve_web_root(config_t *cfg) {
    if (cfg->web_root[0]) return;
    char exe[PATH_MAX], src[PATH_MAX];
    bool from_tree = false;
    if (realpath("/proc/self/exe", exe) && realpath(FA_INSIGHTD_SOURCE_DIR, src)) {
        size_t n = strlen(src);
        from_tree = strncmp(exe, src, n) == 0 && exe[n] == '/';
    }
    char tree_web[CONFIG_PATH_MAX];
    snprintf(tree_web, sizeof tree_web, "%s/web", FA_INSIGHTD_SOURCE_DIR);
    const char *choice;
    if (from_tree && is_dir(tree_web))
        choice = tree_web;
    else if (is_dir(FA_INSIGHTD_INSTALLED_WEB))
        choice = FA_INSIGHTD_INSTALLED_WEB;
    else if (is_dir("./web"))
        choice = "./web";
    else
        choice = from_tree ? tree_web : FA_INSIGHTD_INSTALLED_WEB;
    snprintf(cfg->web_root, sizeof cfg->web_root, "%s", choice);
}
