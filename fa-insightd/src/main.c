/* main.c — fa-insightd's start-up sequence and its orderly shutdown.
 *
 *   config → store → sessions → ingest → HTTP + WebSocket → uv_run
 *
 * SIGINT/SIGTERM (uv_signal_t: the handler only starts the sequence on
 * the loop) stop in order: ingest (the queue is drained into the store),
 * the writer (rollups flushed, last commit), HTTP (queued requests are
 * answered first, then the server stops), WebSockets, the database. The
 * process then returns 0; nng's own teardown takes about 1.5 s more. */
#include "insightd.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CONNECTIONS 4
#define SESSIONS_LOADED_AT_START 1000
#define HOUSEKEEPING_MS 1000
#define SAVE_EVERY_TICKS 5
#define RETENTION_EVERY_TICKS 60
#define RETENTION_FIRST_TICK 5
#define RETENTION_ROWS_PER_STEP 20000
#define TXN_MAX_ROWS 100000
#define SHUTDOWN_HTTP_MS 5000
#define SHUTDOWN_WS_MS 3000
#define SHUTDOWN_INGEST_MS 2000
#define SHUTDOWN_WATCHDOG_S 30

static config_t cfg;
static insightd_ctx_t ctx;
static ingest_t *ingest;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t commit_timer, housekeeping_timer, shutdown_timer;
static uint64_t housekeeping_ticks;
/* 0 running, SHUTDOWN_INGEST closing ingest, 1 draining HTTP, 2 closing
 * WebSockets, 3 closing handles */
#define SHUTDOWN_INGEST 16
static int shutdown_phase;
static uint64_t shutdown_deadline;

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
    if (ctx.readers) query_pool_close(ctx.readers);
    if (ctx.store) store_close(ctx.store);
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; db_created && i < sizeof suffix / sizeof suffix[0]; i++) {
        char path[sizeof cfg.db_path + 16];
        snprintf(path, sizeof path, "%s%s", cfg.db_path, suffix[i]);
        (void)unlink(path);
    }
    return 1;
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
 * announced. */
static int check_exposure(void) {
    char host[256];
    int port;
    bool http_local =
        config_split_hostport(cfg.listen, host, sizeof host, &port) == 0 && config_host_is_loopback(host);
    bool ingest_local = config_url_is_local(cfg.ingest);
    if ((!http_local || !ingest_local) && !cfg.allow_remote) {
        fprintf(stderr,
                "%s: %s %s is not a loopback address; the daemon has no authentication, so listening "
                "beyond 127.0.0.1 needs --allow-remote\n",
                INSIGHTD_NAME, http_local ? "--ingest" : "--listen", http_local ? cfg.ingest : cfg.listen);
        return -1;
    }
    if (!http_local)
        LOG(LOG_WARN,
            "WARNING: HTTP, API and WebSocket listen on %s, beyond loopback: anyone who can reach "
            "it can read all telemetry (no authentication)",
            cfg.listen);
    if (!ingest_local)
        LOG(LOG_WARN, "WARNING: ingest listens on %s, beyond loopback: anyone who can reach it can push data",
            cfg.ingest);
    return 0;
}

static void check_web_root(void) {
    struct stat st;
    if (realpath(cfg.web_root, ctx.web_root_real) && stat(ctx.web_root_real, &st) == 0 &&
        S_ISDIR(st.st_mode)) {
        ctx.web_root_ok = true;
    } else {
        ctx.web_root_ok = false;
        LOG(LOG_WARN, "web root %s not found: the dashboard is disabled, the API works (see --web-root)",
            cfg.web_root);
    }
}

/* Sessions hooks: forward to the WebSocket module once it exists. */
static void hook_frame(void *ud, session_t *s) {
    (void)ud;
    if (ctx.ws) ws_on_frame(ctx.ws, s);
}
static void hook_alert(void *ud, session_t *s, tag_t *t, const alert_event_t *ev) {
    (void)ud;
    if (ctx.ws) ws_on_alert(ctx.ws, s, t, ev);
}
static void hook_session(void *ud, session_t *s, const char *event) {
    (void)ud;
    if (ctx.ws) ws_on_session(ctx.ws, s, event);
}

/* Every ingested message, on the loop thread. */
static void on_message(void *ud, const void *buf, size_t len, uint64_t recv_mono) {
    (void)ud;
    sessions_handle(ctx.sessions, buf, len, recv_mono);
    /* Alerts are committed at once so that the API agrees with the
     * WebSocket push; a huge transaction is cut short. */
    if (sessions_take_alert_flag(ctx.sessions) || store_rows_in_txn(ctx.store) > TXN_MAX_ROWS)
        store_commit(ctx.store);
}

static void on_commit_timer(uv_timer_t *t) {
    (void)t;
    store_commit(ctx.store);
}

/* WAL checkpoints run on the thread pool, one at a time. */
static uv_work_t checkpoint_req;
static bool checkpoint_busy;
static void checkpoint_work(uv_work_t *w) {
    (void)w;
    int wal = 0, copied = 0;
    if (store_checkpoint(ctx.store, &wal, &copied) != 0) LOG(LOG_WARN, "WAL checkpoint failed");
}
static void checkpoint_done(uv_work_t *w, int status) {
    (void)w, (void)status;
    checkpoint_busy = false;
}

static void on_housekeeping(uv_timer_t *t) {
    (void)t;
    housekeeping_ticks++;
    sessions_tick(ctx.sessions, insightd_mono_ms(), housekeeping_ticks % SAVE_EVERY_TICKS == 0);
    if (!checkpoint_busy && uv_queue_work(ctx.loop, &checkpoint_req, checkpoint_work, checkpoint_done) == 0)
        checkpoint_busy = true;
    static bool retention_busy;
    if (retention_busy || housekeeping_ticks % RETENTION_EVERY_TICKS == RETENTION_FIRST_TICK) {
        const uint64_t day = 86400000ull, r = cfg.rollup_retention_ms;
        store_keep_t keep = {.raw = cfg.retention_ms,
                             .second = r,
                             .ten_sec = r > 7 * day ? r : 7 * day,
                             .minute = r > 30 * day ? r : 30 * day};
        int64_t n = store_retention(ctx.store, insightd_now_ms(), &keep, RETENTION_ROWS_PER_STEP);
        /* A full step means more is due: continue on the next tick. */
        retention_busy = n >= RETENTION_ROWS_PER_STEP;
        if (n > 0) LOG(LOG_DEBUG, "retention: %lld old rows deleted", (long long)n);
    }
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    /* HTTP keeps its wake-up handle until its last write completed. */
    if (!uv_is_closing(h) && !http_owns_handle(ctx.http, h)) uv_close(h, NULL);
}

/* Should anything never complete, the process still ends. */
static void *watchdog(void *arg) {
    (void)arg;
    sleep(SHUTDOWN_WATCHDOG_S);
    LOG(LOG_ERROR, "shutdown did not complete within %d s; exiting", SHUTDOWN_WATCHDOG_S);
    _exit(3);
    return NULL;
}

/* nng calls that may wait on nng's own threads (closing a socket, stopping
 * the HTTP server) run on a helper thread, so that the loop keeps
 * answering what nng may be waiting for. If one never returns (seen with
 * nng 1.5.2 under load), the shutdown goes on and the process exits
 * without nng's teardown once everything of ours is closed. */
static pthread_t http_stopper;
static atomic_bool http_stopped;
static bool http_stopper_started;

static void *http_stop_main(void *arg) {
    (void)arg;
    http_stop(ctx.http);
    atomic_store(&http_stopped, true);
    return NULL;
}

static void shutdown_step(uv_timer_t *t) {
    uint64_t now = insightd_mono_ms();
    if (shutdown_phase == SHUTDOWN_INGEST) {
        if (now >= shutdown_deadline) ingest_abandon(ingest);
        return;
    }
    if (shutdown_phase == 1) {
        if (http_inflight(ctx.http) && now < shutdown_deadline) return;
        if (http_inflight(ctx.http))
            LOG(LOG_WARN, "%llu HTTP requests still unanswered after %d ms; stopping anyway",
                (unsigned long long)http_inflight(ctx.http), SHUTDOWN_HTTP_MS);
        /* The WebSocket listeners first: they hold the shared server. */
        ws_close_all(ctx.ws);
        if (pthread_create(&http_stopper, NULL, http_stop_main, NULL) == 0)
            http_stopper_started = true;
        else
            http_stop_main(NULL);
        LOG(LOG_INFO, "HTTP stopping; closing WebSocket clients");
        shutdown_phase = 2;
        shutdown_deadline = now + SHUTDOWN_WS_MS;
        return;
    }
    if (shutdown_phase == 2) {
        bool busy = ws_open_clients(ctx.ws) || http_inflight(ctx.http) || !atomic_load(&http_stopped);
        if (busy && now < shutdown_deadline) return;
        if (!atomic_load(&http_stopped)) {
            /* Our state is flushed; close the database and leave nng be. */
            LOG(LOG_WARN, "nng has not stopped the HTTP server; exiting without waiting for it");
            sessions_flush(ctx.sessions);
            query_pool_close(ctx.readers);
            store_close(ctx.store);
            LOG(LOG_INFO, "stopped (without nng's teardown)");
            fflush(stdout);
            _exit(0);
        } else {
            if (http_stopper_started) pthread_join(http_stopper, NULL);
            LOG(LOG_INFO, "HTTP and WebSocket stopped");
        }
        shutdown_phase = 3;
        uv_timer_stop(t);
        uv_walk(ctx.loop, close_any, NULL);
        http_close_when_idle(ctx.http);
    }
}

/* Ingest is closed and its last messages handled: flush the writer. */
static void on_ingest_stopped(void *ud) {
    (void)ud;
    sessions_flush(ctx.sessions);
    store_commit(ctx.store);
    LOG(LOG_INFO, "writer flushed (%llu frames stored); finishing HTTP requests",
        (unsigned long long)g_stats.frames_stored);
    http_drain(ctx.http);
    shutdown_phase = 1;
    shutdown_deadline = insightd_mono_ms() + SHUTDOWN_HTTP_MS;
}

static void begin_shutdown(int signum) {
    if (shutdown_phase) {
        LOG(LOG_INFO, "signal %d: already shutting down", signum);
        return;
    }
    shutdown_phase = SHUTDOWN_INGEST; /* becomes 1 in on_ingest_stopped */
    LOG(LOG_INFO, "signal %d: shutting down (stopping ingest)", signum);
    pthread_t dog;
    if (pthread_create(&dog, NULL, watchdog, NULL) == 0) pthread_detach(dog);
    uv_timer_stop(&housekeeping_timer);
    uv_timer_stop(&commit_timer);
    /* HTTP keeps answering meanwhile: nng may need that to close ingest. */
    ingest_stop(ingest, on_ingest_stopped, NULL);
    shutdown_deadline = insightd_mono_ms() + SHUTDOWN_INGEST_MS;
    uv_timer_start(&shutdown_timer, shutdown_step, 10, 10);
}

static void on_signal(uv_signal_t *h, int signum) {
    (void)h;
    begin_shutdown(signum);
}

int main(int argc, char **argv) {
    char err[1024];

    /* 1. Configuration: defaults, config file, flags. */
    int rc = config_load(&cfg, argc, argv, stdout, err, sizeof err);
    if (rc == CONFIG_EXIT) return 0;
    if (rc != CONFIG_OK) {
        fprintf(stderr, "%s: %s\n", INSIGHTD_NAME, err);
        return 2;
    }
    log_level = cfg.log_level;
    if (check_exposure() != 0) return 2;
    config_resolve_web_root(&cfg);
    check_web_root();
    signal(SIGPIPE, SIG_IGN);
    ctx.cfg = &cfg;
    ctx.loop = uv_default_loop();
    ctx.started_ms = insightd_now_ms();
    ctx.started_mono = insightd_mono_ms();
    LOG(LOG_INFO, "%s %s starting (database %s, web root %s)", INSIGHTD_NAME, INSIGHTD_VERSION, cfg.db_path,
        cfg.web_root);

    /* 2. The store: the single writer and the read-only connections. */
    db_created = access(cfg.db_path, F_OK) != 0;
    if (make_db_dir(cfg.db_path, err, sizeof err) != 0 ||
        store_open(&ctx.store, cfg.db_path, err, sizeof err) != 0)
        return fail_start(err);
    if (query_pool_open(&ctx.readers, cfg.db_path, READ_CONNECTIONS, err, sizeof err) != 0) {
        ctx.readers = NULL;
        return fail_start(err);
    }

    /* 3. Sessions known from earlier runs. */
    sessions_hooks_t hooks = {hook_frame, hook_alert, hook_session, NULL};
    if (!(ctx.sessions = sessions_create(ctx.store, &cfg, &hooks, SESSIONS_LOADED_AT_START)))
        return fail_start("out of memory");

    /* 4. Ingest: nng PULL, handed to the loop. */
    if (ingest_start(&ingest, ctx.loop, cfg.ingest, on_message, NULL, ctx.ingest_url, sizeof ctx.ingest_url,
                     err, sizeof err) != 0)
        return fail_start(in_use_hint(err, "--ingest tcp://127.0.0.1:PORT"));

    /* 5. HTTP, JSON API, dashboard and WebSocket on one port. */
    if (http_start(&ctx.http, &ctx, err, sizeof err) != 0)
        return fail_start(in_use_hint(err, "--listen 127.0.0.1:PORT"));

    /* 6. Timers and signals. */
    uv_timer_init(ctx.loop, &commit_timer);
    uv_timer_start(&commit_timer, on_commit_timer, cfg.commit_interval_ms, cfg.commit_interval_ms);
    uv_timer_init(ctx.loop, &housekeeping_timer);
    uv_timer_start(&housekeeping_timer, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    uv_timer_init(ctx.loop, &shutdown_timer);
    uv_signal_init(ctx.loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(ctx.loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);

    LOG(LOG_INFO, "ready: HTTP %s, ingest %s, %u sessions known", ctx.http_url, ctx.ingest_url,
        sessions_count(ctx.sessions));
    /* One machine-readable line on stdout for scripts and tests. */
    printf("%s ready http=%s ws=ws%s/ws ingest=%s db=%s\n", INSIGHTD_NAME, ctx.http_url, ctx.http_url + 4,
           ctx.ingest_url, cfg.db_path);
    fflush(stdout);

    uv_run(ctx.loop, UV_RUN_DEFAULT);

    /* 7. Everything is stopped; release it. */
    ws_free(ctx.ws);
    http_free(ctx.http);
    bool nng_clean = ingest_free(ingest);
    sessions_destroy(ctx.sessions);
    query_pool_close(ctx.readers);
    store_close(ctx.store);
    uv_loop_close(ctx.loop);
    if (!nng_clean) {
        /* Everything of ours is flushed and closed; nng's teardown would
         * wait on the socket it never closed. */
        LOG(LOG_INFO, "stopped (without nng's teardown)");
        fflush(stdout);
        _exit(0);
    }
    LOG(LOG_INFO, "stopped cleanly");
    return 0;
}
