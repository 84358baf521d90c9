/* main.c — fa-insightd's start-up sequence and its orderly shutdown.
 *
 *   config -> store -> writer -> sessions -> ingest -> HTTP + WebSocket -> uv_run
 *
 * With --import FILE... (import.h) the daemon loads capture files instead:
 *   config -> store -> writer -> sessions -> import -> writer stopped -> exit
 *
 * SIGINT/SIGTERM (a uv_signal_t: the handler only starts the sequence on
 * the loop) stop in order, on the loop thread, each step bounded:
 *   1. ingest: the listener and the socket close, the queue is handed to
 *      the sessions, the open rollup buckets and changed figures are queued;
 *   2. HTTP: new requests get 503, every piece of query work is cancelled
 *      (not started: never runs; running: its query stops) and its request
 *      answered 503; responses still being written after a grace period are
 *      cut off;
 *   3. WebSocket clients and listeners close, then a helper thread stops
 *      the HTTP server (nng_http_server_stop waits for nng's reaper; the
 *      loop keeps completing what nng cancels meanwhile);
 *   4. the writer writes what is queued and stops, the store closes, and
 *      main returns through nng's own teardown.
 * nng 1.5.2's reaper thread sometimes stops for good while a socket closes
 * (ingest.h): nng_http_server_stop and nng_close then never return. Both
 * run on helper threads with a deadline (1 s each); past it, the daemon,
 * whose own state is written and closed by then, exits with its exit code
 * without nng's teardown ("stopped (without nng's teardown)").
 * A watchdog ends a shutdown stuck for 30 s with exit code 3. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "access.h"
#include "clock.h"
#include "config.h"
#include "ctx.h"
#include "fdguard.h"
#include "gate.h"
#include "framealloc.h"
#include "http.h"
#include "import.h"
#include "ingest.h"
#include "lint.h"
#include "log.h"
#include "sessions.h"
#include "static.h"
#include "stats.h"
#include "store.h"
#include "tlsconf.h"
#include "writer.h"
#include "ws.h"

#define READ_CONNECTIONS 4
#define HOUSEKEEPING_MS 1000
#define SAVE_EVERY_TICKS 5
#define RETENTION_INTERVAL_MS 60000
#define MAX_LIVE_SESSIONS 4096
#define SHUTDOWN_STEP_MS 10
#define SHUTDOWN_HTTP_GRACE_MS 1000
#define SHUTDOWN_HTTP_MS 1500
#define SHUTDOWN_WS_MS 1000
#define SHUTDOWN_NNG_MS 1000
#define SHUTDOWN_WRITER_MS 5000
#define SHUTDOWN_WATCHDOG_S 30
/* Exit codes (README). */
#define EXIT_START 1
#define EXIT_USAGE 2
#define EXIT_DATABASE_LOST 4

static config_t cfg;
static insightd_ctx_t ctx;
static ingest_t *ingest;
static gate_t *gate; /* --ingest-secret-file; NULL: every connection is admitted */
static char ingest_secret[FA_PROTO_MAX_STRING + 1];
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t housekeeping_timer, shutdown_timer;
static uint64_t housekeeping_ticks;
enum { RUNNING, STOP_HTTP, STOP_WS, STOP_NNG, STOPPED };
static int phase = RUNNING;
static uint64_t phase_start;
static int exit_code;

/* Said once: the log line is on stderr already. */
static void fatal(const char *what, const char *err) {
    LOG(LOG_ERROR, "%s: %s", what, err);
}

/* --db in a directory that does not exist yet: create it (and its
 * parents), or name the one component that is in the way. */
static int make_db_dir(const char *db, char *err, size_t errcap) {
    char dir[sizeof cfg.db_path];
    snprintf(dir, sizeof dir, "%s", db);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        bool end = *p == '\0';
        if (*p != '/' && !end) continue;
        *p = '\0';
        struct stat st;
        if (stat(dir, &st) != 0 && mkdir(dir, 0755) != 0 && errno != EEXIST) {
            snprintf(err, errcap, "--db %.400s: cannot create the directory %.400s: %s", db, dir,
                     strerror(errno));
            return -1;
        }
        if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
            snprintf(err, errcap, "--db %.400s: %.400s is not a directory", db, dir);
            return -1;
        }
        if (end) return 0;
        *p = '/';
    }
}

/* A start that fails after the store was opened leaves no database behind
 * when this run created it. */
static bool db_created;
static int fail_start(const char *err) {
    fatal("cannot start", err);
    if (ctx.writer) writer_stop(ctx.writer, clock_mono_ms() + 1000);
    if (ctx.store) store_close(ctx.store);
    if (store_location_is_pg(cfg.store)) return EXIT_START;
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; db_created && i < sizeof suffix / sizeof suffix[0]; i++) {
        char path[sizeof cfg.db_path + 16];
        snprintf(path, sizeof path, "%s%s", cfg.store, suffix[i]);
        (void)unlink(path);
    }
    return EXIT_START;
}

/* "Address in use": say which flag picks another port. */
static const char *in_use_hint(const char *err, const char *flag) {
    static char msg[1400];
    if (!strstr(err, "in use")) return err;
    snprintf(msg, sizeof msg,
             "%s (another program, or an earlier fa-insightd, has the port: stop it or choose "
             "a free port with %s)",
             err, flag);
    return msg;
}

/* Listening beyond loopback is a decision: it needs --allow-remote and is
 * announced. Loopback is decided on the resolved addresses (config.h).
 * Beyond loopback the API needs a bearer token. */
static int check_exposure(void) {
    char host[256];
    int port;
    bool http_local =
        config_split_hostport(cfg.listen, host, sizeof host, &port) == 0 && config_host_is_loopback(host);
    bool ingest_local = cfg.no_ingest || config_url_is_local(cfg.ingest);
    ctx.listen_loopback = http_local;
    if ((!http_local || !ingest_local) && !cfg.allow_remote) {
        fprintf(stderr,
                "%s: %s %s does not resolve to loopback addresses only; listening beyond loopback needs "
                "--allow-remote%s\n",
                INSIGHTD_NAME, http_local ? "--ingest" : "--listen", http_local ? cfg.ingest : cfg.listen,
                http_local ? "" : " and --token-file");
        return -1;
    }
    char err[1200];
    if ((cfg.token_file[0] &&
         access_read_token_file("token-file", cfg.token_file, ctx.token, sizeof ctx.token, err, sizeof err) != 0) ||
        (cfg.ingest_secret_file[0] && access_read_token_file("ingest-secret-file", cfg.ingest_secret_file,
                                                             ingest_secret, sizeof ingest_secret, err,
                                                             sizeof err) != 0)) {
        fprintf(stderr, "%s: %s\n", INSIGHTD_NAME, err);
        return -1;
    }
    if (!http_local && !ctx.token[0]) {
        fprintf(stderr,
                "%s: --listen %s is beyond loopback: give a bearer token with --token-file FILE (anyone who "
                "can reach the port could read all telemetry otherwise)\n",
                INSIGHTD_NAME, cfg.listen);
        return -1;
    }
    if (!cfg.tls_cert[0] != !cfg.tls_key[0]) {
        fprintf(stderr, "%s: --tls-cert and --tls-key go together\n", INSIGHTD_NAME);
        return -1;
    }
    if (config_url_is_tls(cfg.ingest) && !cfg.tls_cert[0]) {
        fprintf(stderr, "%s: --ingest %s needs --tls-cert and --tls-key\n", INSIGHTD_NAME, cfg.ingest);
        return -1;
    }
    if (!http_local)
        LOG(LOG_WARN, "WARNING: HTTP, API and WebSocket listen on %s, beyond loopback (bearer token %s)",
            cfg.listen, cfg.tls_cert[0] ? "over HTTPS" : "in clear text: consider --tls-cert/--tls-key");
    bool ingest_tls = config_url_is_tls(cfg.ingest);
    if (!ingest_local && !ingest_secret[0])
        LOG(LOG_WARN,
            "WARNING: ingest listens on %s, beyond loopback: anyone who can reach it can push data "
            "(give agents a shared secret: --ingest-secret-file)",
            cfg.ingest);
    if (!ingest_local && ingest_secret[0] && !ingest_tls)
        LOG(LOG_WARN,
            "WARNING: ingest listens on %s in clear text: the ingest secret crosses the network readable "
            "(use tls+tcp:// with --tls-cert/--tls-key)",
            cfg.ingest);
    return 0;
}

static void check_web_root(void) {
    struct stat st;
    char err[1200];
    if (realpath(cfg.web_root, ctx.web_root_real) && stat(ctx.web_root_real, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        ctx.web_root_ok = static_load_manifest(ctx.web_root_real, &ctx.web_files, err, sizeof err) == 0;
        if (!ctx.web_root_ok)
            LOG(LOG_WARN,
                "web root %s has no usable list of its files (%s): the dashboard is disabled, the API works "
                "(`make` writes web/%s)",
                cfg.web_root, err, STATIC_MANIFEST);
    } else {
        ctx.web_root_ok = false;
        LOG(LOG_WARN, "web root %s not found: the dashboard is disabled, the API works (see --web-root)",
            cfg.web_root);
    }
}

/* --source-root: the directory the API may show call sites' source from,
 * resolved once (every file is then resolved and checked against it). */
static int check_source_root(void) {
    if (!cfg.source_root[0]) return 0;
    struct stat st;
    if (!realpath(cfg.source_root, ctx.source_root_real) || stat(ctx.source_root_real, &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: --source-root %s: not a directory\n", INSIGHTD_NAME, cfg.source_root);
        return -1;
    }
    LOG(LOG_INFO, "source of call sites shown from %s", ctx.source_root_real);
    return 0;
}

/* Every ingested message, on the loop thread: past the gate (the ingest
 * secret), to the sessions. */
static void on_message(void *ud, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono,
                       uint32_t source) {
    (void)ud;
    if (gate && !gate_admit(gate, buf, len, source)) return;
    sessions_handle_from(ctx.sessions, buf, len, recv_ms, recv_mono, source);
}

/* The writer's answers. */
static void on_lookup(void *ud, uint64_t sid, session_view_t *v) {
    (void)ud;
    sessions_resolved(ctx.sessions, sid, v);
}

static void begin_shutdown(int code);

static void on_file_lost(void *ud) {
    (void)ud;
    g_stats.database_lost = true;
    LOG(LOG_ERROR,
        "the database file %s was deleted or replaced under the daemon: what it stores from now on would be "
        "lost; stopping (exit %d; start again to create a new one)",
        cfg.store, EXIT_DATABASE_LOST);
    begin_shutdown(EXIT_DATABASE_LOST);
}

static void on_housekeeping(uv_timer_t *t) {
    (void)t;
    housekeeping_ticks++;
    sessions_tick(ctx.sessions, clock_mono_ms(), housekeeping_ticks % SAVE_EVERY_TICKS == 0);
}

/* Should anything never complete, the process still ends. */
static void *watchdog(void *arg) {
    (void)arg;
    sleep(SHUTDOWN_WATCHDOG_S);
    LOG(LOG_ERROR, "shutdown did not complete within %d s; exiting", SHUTDOWN_WATCHDOG_S);
    _exit(3);
    return NULL;
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* The HTTP server's stop, on a helper thread (see STOP_NNG). */
static pthread_t http_stopper;
static bool http_stopper_started, nng_stuck;
static atomic_bool http_stopped;

static void *http_stop_main(void *arg) {
    (void)arg;
    http_stop(ctx.http);
    atomic_store(&http_stopped, true);
    return NULL;
}

static void shutdown_step(uv_timer_t *t) {
    uint64_t now = clock_mono_ms(), spent = now - phase_start;
    if (phase == STOP_HTTP) {
        /* Clients that do not take their answer lose it after the grace. */
        if (http_inflight(ctx.http) && spent >= SHUTDOWN_HTTP_GRACE_MS) http_cut_writes(ctx.http);
        if (http_inflight(ctx.http) && spent < SHUTDOWN_HTTP_MS) return;
        if (http_inflight(ctx.http))
            LOG(LOG_WARN, "%llu HTTP responses still unfinished after %d ms",
                (unsigned long long)http_inflight(ctx.http), SHUTDOWN_HTTP_MS);
        LOG(LOG_INFO, "HTTP stopping; closing WebSocket clients");
        ws_close_all(ctx.ws); /* the WebSocket listeners first: they hold the shared server */
        phase = STOP_WS;
        phase_start = now;
        return;
    }
    if (phase == STOP_WS) {
        if (ws_open_clients(ctx.ws) && spent < SHUTDOWN_WS_MS) return;
        /* nng_http_server_stop waits for nng's reaper; a helper thread
         * calls it so that the loop still completes what nng cancels. */
        if (pthread_create(&http_stopper, NULL, http_stop_main, NULL) == 0)
            http_stopper_started = true;
        else
            http_stop_main(NULL);
        phase = STOP_NNG;
        phase_start = now;
        return;
    }
    if (phase == STOP_NNG) {
        bool stopped = atomic_load(&http_stopped);
        if (!stopped && spent < SHUTDOWN_NNG_MS) return;
        if (stopped) {
            if (http_stopper_started) pthread_join(http_stopper, NULL);
            LOG(LOG_INFO, "HTTP and WebSocket stopped");
        } else {
            /* See ingest.h: nng's reaper is stuck (nng 1.5.2). */
            LOG(LOG_WARN,
                "nng_http_server_stop has not returned after %d ms (nng 1.5.2's reaper is stuck); "
                "the process will exit without nng's teardown",
                SHUTDOWN_NNG_MS);
            nng_stuck = true;
        }
        writer_stop(ctx.writer, clock_mono_ms() + SHUTDOWN_WRITER_MS);
        writer_stats_t ws;
        writer_stats(ctx.writer, &ws);
        LOG(LOG_INFO, "writer flushed (%llu frames stored)", (unsigned long long)ws.frames_stored);
        phase = STOPPED;
        uv_timer_stop(t);
        if (nng_stuck) {
            /* Everything is written; the loop's handles need not close. */
            if (!http_inflight(ctx.http)) store_close(ctx.store);
            LOG(LOG_INFO, "stopped (without nng's teardown)");
            fflush(stdout);
            _exit(exit_code);
        }
        http_close(ctx.http);
        ws_close(ctx.ws);
        writer_close(ctx.writer);
        uv_walk(ctx.loop, close_any, NULL);
    }
}

static void begin_shutdown(int code) {
    if (phase != RUNNING) return;
    exit_code = code;
    pthread_t dog;
    if (pthread_create(&dog, NULL, watchdog, NULL) == 0) pthread_detach(dog);
    uv_timer_stop(&housekeeping_timer);
    uv_signal_stop(&sigint_h);
    uv_signal_stop(&sigterm_h);
    lint_close(ctx.lint);
    LOG(LOG_INFO, "stopping ingest");
    if (ingest) ingest_stop(ingest);
    sessions_flush(ctx.sessions);
    LOG(LOG_INFO, "ingest stopped; answering HTTP requests");
    http_drain(ctx.http);
    phase = STOP_HTTP;
    phase_start = clock_mono_ms();
    uv_timer_start(&shutdown_timer, shutdown_step, SHUTDOWN_STEP_MS, SHUTDOWN_STEP_MS);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    LOG(LOG_INFO, "signal %d: shutting down", signum);
    begin_shutdown(0);
}

static void load_session(void *ud, session_view_t *v) {
    sessions_adopt(ud, v);
}

/* --import: the ids stored, so that a capture imported before is skipped. */
static uint64_t *stored_ids;
static size_t stored_count, stored_cap;
static bool importing;

static void load_id(void *ud, uint64_t id) {
    sessions_note_stored(ud, id);
    if (!importing) return;
    if (stored_count == stored_cap) {
        size_t cap = stored_cap ? stored_cap * 2 : 256;
        uint64_t *n = realloc(stored_ids, cap * sizeof *n);
        if (!n) return;
        stored_ids = n;
        stored_cap = cap;
    }
    stored_ids[stored_count++] = id;
}

/* Takes "--import FILE..." out of argv (the files run up to the next
 * option) into *files; the rest goes to config_load. */
static int take_import(int *argc, char **argv, char ***files, size_t *n) {
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--import") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        importing = true;
        while (i + 1 < *argc && strncmp(argv[i + 1], "--", 2) != 0) {
            char **grown = realloc(*files, (*n + 1) * sizeof **files);
            if (!grown) return -1;
            *files = grown;
            (*files)[(*n)++] = argv[++i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return importing && *n == 0 ? -1 : 0;
}

/* --import: the capture files, then an orderly stop of the writer. */
static int run_import(char **files, size_t n) {
    int rc = import_run(&ctx, files, n, stored_ids, stored_count);
    writer_stop(ctx.writer, clock_mono_ms() + SHUTDOWN_WRITER_MS);
    writer_stats_t ws;
    writer_stats(ctx.writer, &ws);
    printf("%s: import done: %llu frames stored\n", INSIGHTD_NAME, (unsigned long long)ws.frames_stored);
    writer_close(ctx.writer);
    uv_walk(ctx.loop, close_any, NULL);
    uv_run(ctx.loop, UV_RUN_DEFAULT);
    sessions_destroy(ctx.sessions);
    writer_free(ctx.writer);
    store_close(ctx.store);
    uv_loop_close(ctx.loop);
    free(stored_ids);
    free(files);
    return rc == IMPORT_OK ? 0 : rc == IMPORT_BAD_FILE ? EXIT_USAGE : EXIT_START;
}

int main(int argc, char **argv) {
    char err[1024];

    /* 1. Configuration: defaults, config file, flags (and the files of
     * --import, which make this run an import). */
    char **import_files = NULL;
    size_t import_count = 0;
    if (take_import(&argc, argv, &import_files, &import_count) != 0) {
        fprintf(stderr, "%s: --import needs one or more capture files (FA_INSIGHT_URL=file:PATH in the game)\n",
                INSIGHTD_NAME);
        free(import_files);
        return EXIT_USAGE;
    }
    int rc = config_load(&cfg, argc, argv, stdout, err, sizeof err);
    if (rc == CONFIG_EXIT) return 0;
    if (rc != CONFIG_OK) {
        fprintf(stderr, "%s: %s\n", INSIGHTD_NAME, err);
        return EXIT_USAGE;
    }
    log_level = cfg.log_level;
    if (importing && cfg.no_ingest) {
        /* An import writes; --no-ingest never registers as a writer nor
         * learns which sessions are stored already. */
        fprintf(stderr, "%s: --import writes to the store: it cannot run with --no-ingest\n", INSIGHTD_NAME);
        free(import_files);
        return EXIT_USAGE;
    }
    if (check_exposure() != 0) return EXIT_USAGE;
    config_resolve_web_root(&cfg);
    if (!importing) check_web_root(); /* an import serves nothing */
    if (check_source_root() != 0) return EXIT_USAGE;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* a file-size limit is a write error, not a crash */
    if (fdguard_init() != 0) LOG(LOG_WARN, "no spare descriptor: descriptor exhaustion is not guarded");
    ctx.cfg = &cfg;
    ctx.loop = uv_default_loop();
    ctx.started_ms = clock_now_ms();
    ctx.started_mono = clock_mono_ms();
    LOG(LOG_INFO, "%s %s starting (web root %s)", INSIGHTD_NAME, FA_VERSION_STRING, cfg.web_root);

    /* 2. The store, and the writer thread that owns its writes. */
    const uint64_t day = 86400000ull, r = cfg.rollup_retention_ms;
    writer_options_t wo = {.commit_interval_ms = cfg.commit_interval_ms,
                           .buffer_bytes = cfg.write_buffer_bytes,
                           .retention_interval_ms = RETENTION_INTERVAL_MS,
                           .keep = {.raw = cfg.retention_ms,
                                    .second = r,
                                    .ten_sec = r > 7 * day ? r : 7 * day,
                                    .minute = r > 30 * day ? r : 30 * day,
                                    .session = cfg.session_retention_ms}};
    writer_keep_heap(wo.buffer_bytes);
    bool pg = store_location_is_pg(cfg.store);
    db_created = !pg && access(cfg.store, F_OK) != 0;
    if ((!pg && make_db_dir(cfg.store, err, sizeof err) != 0) ||
        store_open(&ctx.store, cfg.store, READ_CONNECTIONS, &wo.keep, err, sizeof err) != 0) {
        ctx.store = NULL;
        return fail_start(err);
    }
    LOG(LOG_INFO, "store: %s %s", store_kind(ctx.store), store_path(ctx.store));
    sessions_hooks_t hooks = {ws_on_frame, ws_on_alert, ws_on_session, NULL};
    sessions_options_t so = {cfg.session_timeout_ms, MAX_LIVE_SESSIONS, cfg.max_ended_sessions, cfg.max_tags,
                             cfg.max_sites};
    writer_hooks_t wh = {on_lookup, on_file_lost, NULL};

    /* 3. Sessions known from earlier runs (the most recent ones); a daemon
     * that ingests registers as a writer of the store. One that does not
     * (--no-ingest) only reads what others write. */
    if (!(ctx.sessions = sessions_create(NULL, &so, &hooks))) return fail_start("out of memory");
    int64_t next_alert_id = 1;
    if (!cfg.no_ingest && store_load(ctx.store, cfg.max_ended_sessions, load_session, load_id, ctx.sessions,
                                     &next_alert_id) != 0) {
        if (pg) return fail_start("the store refused this daemon's registration (see the log above)");
        LOG(LOG_WARN, "could not load the stored sessions; starting with none");
    }
    sessions_set_next_alert_id(ctx.sessions, next_alert_id);
    sessions_set_source_check(ctx.sessions, ingest_source_open);
    if (writer_start(&ctx.writer, ctx.store, ctx.loop, &wo, &wh, err, sizeof err) != 0)
        return fail_start(err);
    sessions_attach_writer(ctx.sessions, ctx.writer);
    if (importing) return run_import(import_files, import_count);

    /* 4. Ingest: nng PULL, handed to the loop. */
    if (cfg.tls_cert[0] && tlsconf_server(&ctx.tls, cfg.tls_cert, cfg.tls_key, err, sizeof err) != 0)
        return fail_start(err);
    if (ingest_secret[0] && !cfg.no_ingest && !(gate = gate_create(ingest_secret, ingest_source_open)))
        return fail_start("out of memory");
    explicit_bzero(ingest_secret, sizeof ingest_secret); /* the gate keeps the one copy */
    if (cfg.no_ingest)
        snprintf(ctx.ingest_url, sizeof ctx.ingest_url, "none");
    else if (ingest_start(&ingest, ctx.loop, cfg.ingest, config_url_is_tls(cfg.ingest) ? ctx.tls : NULL,
                          cfg.ingest_queue_bytes, on_message, NULL, ctx.ingest_url, sizeof ctx.ingest_url,
                          err, sizeof err) != 0)
        return fail_start(in_use_hint(err, "--ingest tcp://127.0.0.1:PORT"));
    ctx.ingest = ingest;

    /* 5. Static findings (a SARIF report), then HTTP, JSON API, dashboard
     * and WebSocket on one port. */
    if (lint_start(&ctx.lint, ctx.loop, cfg.lint_report, cfg.max_lint_report_bytes, err, sizeof err) != 0)
        return fail_start(err);
    if (http_start(&ctx.http, &ctx, err, sizeof err) != 0)
        return fail_start(in_use_hint(err, "--listen 127.0.0.1:PORT"));
    sessions_set_hooks_data(ctx.sessions, ctx.ws);

    /* 6. Timers and signals. */
    uv_timer_init(ctx.loop, &housekeeping_timer);
    uv_timer_start(&housekeeping_timer, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_timer_init(ctx.loop, &shutdown_timer);
    uv_signal_init(ctx.loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(ctx.loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);

    LOG(LOG_INFO, "ready: HTTP %s, ingest %s, %u sessions loaded", ctx.http_url, ctx.ingest_url,
        sessions_in_memory(ctx.sessions));
    /* One machine-readable line on stdout for scripts and tests. */
    printf("%s ready http=%s ws=ws%s/ws ingest=%s db=%s\n", INSIGHTD_NAME, ctx.http_url, ctx.http_url + 4,
           ctx.ingest_url, store_path(ctx.store));
    fflush(stdout);

    uv_run(ctx.loop, UV_RUN_DEFAULT);

    /* 7. Everything is stopped; release it. nng's own teardown follows. */
    ws_free(ctx.ws);
    bool http_clean = http_free(ctx.http);
    bool nng_clean = (!ingest || ingest_free(ingest)) && http_clean;
    sessions_destroy(ctx.sessions);
    gate_destroy(gate);
    lint_free(ctx.lint);
    writer_free(ctx.writer);
    store_close(ctx.store);
    uv_loop_close(ctx.loop);
    free(ctx.web_files);
    if (ctx.tls) nng_tls_config_free(ctx.tls);
    if (!nng_clean) {
        /* ingest.h says which nng behaviour: its teardown would hang. */
        LOG(LOG_INFO, "stopped (without nng's teardown)");
        fflush(stdout);
        _exit(exit_code);
    }
    if (exit_code)
        LOG(LOG_INFO, "stopped (exit %d)", exit_code);
    else
        LOG(LOG_INFO, "stopped cleanly");
    return exit_code;
}
