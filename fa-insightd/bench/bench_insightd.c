/* bench_insightd.c — fa-insightd under load, beside its raw peers, in one
 * run (make bench-insightd; the table goes to fa-insightd/BENCH.md).
 *
 *   1. raw SQLite: the same frame rows (60 fps x 64 tags) inserted with
 *      prepared statements in 250 ms batches, with the daemon's layout
 *      (one row per frame, tags packed) and with one row per tag;
 *   2. raw nng: the same encoded messages, PUSH -> PULL over loopback TCP;
 *   3. the daemon, flooded: frames stored per second;
 *   4. the daemon, N simulated games at 60 fps x 64 tags (non-blocking
 *      sends, like the agent) for a few seconds each, N growing until
 *      frames are dropped (by the agent's sends or the daemon's queue);
 *      daemon RSS and CPU per step;
 *   5. trend-query latency (p50/p99) over 1 hour of 60 fps data (written
 *      by the daemon's sessions and writer modules, each frame at its
 *      virtual receive time), idle and while 100 games stream.
 *
 * With --fleet, on the PostgreSQL server FA_TEST_PG names instead:
 *   6. raw COPY: the same frame rows through the store's COPY from three
 *      connections at once;
 *   7. three daemons x 100 games x 60 fps x 64 tags into one database;
 *   8. the three daemons flooded at once: stored rows/s vs raw COPY;
 *   9. the fleet view over 1000 sessions (24 h), and one session's routes
 *      over an hour of data, PostgreSQL against SQLite.
 *
 *   bench-insightd --daemon build/fa-insightd [--quick] [--steps 25,50,...]
 *                  [--step-seconds S] [--keep DIR] [--fleet]
 *                  [--queries-only ROUNDS]  (part 9 alone, ROUNDS times on
 *                  the same data, and the median PostgreSQL / SQLite ratios)
 */
#include <cJSON.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "fa_proto.h"
#include "log.h"
#include "pack.h"
#include "sessions.h"
#include "sid.h"
#include "store.h"
#include "writer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TAGS 64
#define FPS 60
/* Frames per FRAMES message in the 1.2 flood: what the agent sends when
 * its ring holds that many snapshots (its default max_batch). */
#define FLOOD_BATCH 32

static int flood_rounds = 1;
/* Raw SQLite's CPU per frame (its one thread: encode, decode, pack,
 * insert), for a ratio that the machine's load does not move. */
static double raw_cpu_us;
static bool flood_only, cpu_only;

static const char *daemon_path;
static char workdir[512];
static bool quick;
static int query_rounds; /* --queries-only: only part 9, this many rounds */
static double step_seconds = 5.0;

/* The machine is shared: the load average goes with every table. */
static void print_load(const char *when) {
    char buf[128] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fgets(buf, sizeof buf, f)) buf[strcspn(buf, "\n")] = '\0';
    if (f) fclose(f);
    printf("(load average %s: %s)\n", when, buf);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- message generation --------------------------------------------------- */

typedef struct game {
    uint64_t id, seq, frame;
    uint64_t start_unix_ns, start_mono_ns;
    nng_socket sock;
    uint64_t send_failed;
} game_t;

static fa_proto_tag_def_t defs[TAGS];
static char paths[TAGS][32];

static void init_defs(void) {
    for (int i = 0; i < TAGS; i++) {
        if (i == 0)
            paths[i][0] = '\0';
        else if (i < 8)
            snprintf(paths[i], sizeof paths[i], "sys%d", i);
        else
            snprintf(paths[i], sizeof paths[i], "sys%d/part%d", i % 8 ? i % 8 : 1, i);
        defs[i] = (fa_proto_tag_def_t){(uint16_t)i, (uint16_t)(i < 8 ? 0 : (i % 8 ? i % 8 : 1)), 0,
                                       i % 4 == 1 ? 64u << 20 : 0, fa_proto_str(paths[i])};
    }
}

static size_t encode_hello(game_t *g, uint8_t *buf, size_t cap) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = g->id;
    m.header.seq = g->seq++;
    m.hello.pid = (uint32_t)getpid();
    m.hello.start_unix_ns = g->start_unix_ns;
    m.hello.start_mono_ns = g->start_mono_ns;
    m.hello.app_name = fa_proto_str("bench-game");
    m.hello.host = fa_proto_str("bench");
    m.hello.tags = defs;
    m.hello.tag_count = TAGS;
    int n = fa_proto_encode(&m, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

/* One frame of game g (its rows in thread-local arrays, valid until the
 * next call on the thread). */
static void fill_frame(game_t *g, fa_proto_frame_t *f) {
    static _Thread_local fa_proto_tag_stat_t rows[TAGS];
    static _Thread_local fa_proto_thread_row_t threads[4];
    uint64_t i = g->frame++;
    for (int t = 0; t < TAGS; t++) {
        uint64_t base = (uint64_t)(t + 1) * 200000u;
        uint64_t live = base + (i * 2654435761u + (uint64_t)t * 40503u) % (base / 4 + 1);
        rows[t] = (fa_proto_tag_stat_t){(uint16_t)t, 4096u + (uint64_t)t * 64u, live / 2,
                                        live / 4,    3u + (uint64_t)t % 7u,     live,
                                        live + 1000};
    }
    for (int k = 0; k < 4; k++)
        threads[k] = (fa_proto_thread_row_t){(uint32_t)k, 0, 65536, 1u << 20, i, 1};
    memset(f, 0, sizeof *f);
    f->frame = i + 1;
    f->start_ns = g->start_mono_ns + i * (1000000000u / FPS);
    f->duration_ns = 15000000;
    f->tags_total = TAGS;
    f->threads_total = 4;
    for (int k = 0; k < 3; k++)
        f->totals[k] = (fa_proto_kind_totals_t){1u << 22, 1u << 23, 500, 1u << 20, 400};
    f->tags = rows;
    f->tag_count = TAGS;
    f->threads = threads;
    f->thread_count = 4;
}

/* A 1.1 FRAME message: one frame. */
static size_t encode_frame(game_t *g, uint8_t *buf, size_t cap) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    m.header.session_id = g->id;
    m.header.seq = g->seq++;
    fill_frame(g, &m.frame);
    int n = fa_proto_encode(&m, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

/* A 1.2 FRAMES message of `batch` frames, as an agent that is behind
 * sends them: tag rows that did not change since the previous frame are
 * left out (a key entry every `key_every` frames). prev/prev_count: the
 * previous frame's whole rows, kept by the caller. */
typedef struct delta_state {
    fa_proto_tag_stat_t prev[TAGS], changed[TAGS];
    uint32_t prev_count;
    uint64_t prev_frame, since_key;
} delta_state_t;

static size_t encode_frames(game_t *g, delta_state_t *ds, int batch, uint8_t *buf, size_t cap) {
    fa_proto_batch_t b;
    if (fa_proto_batch_init(&b, buf, cap) != FA_PROTO_OK) return 0;
    for (int k = 0; k < batch; k++) {
        fa_proto_frame_entry_t e;
        memset(&e, 0, sizeof e);
        fill_frame(g, &e.frame);
        const fa_proto_tag_stat_t *whole = e.frame.tags;
        e.tag_rows = e.frame.tag_count;
        int n = ds->since_key < 60 && ds->prev_frame
                    ? fa_proto_tag_rows_delta(ds->prev, ds->prev_count, whole, e.tag_rows, ds->changed)
                    : -1;
        if (n >= 0) {
            e.delta = true;
            e.base_frame = ds->prev_frame;
            e.frame.tags = ds->changed;
            e.frame.tag_count = (uint32_t)n;
            ds->since_key++;
        } else {
            ds->since_key = 1;
        }
        if (fa_proto_batch_add(&b, &e) != FA_PROTO_OK) return 0;
        memcpy(ds->prev, whole, e.tag_rows * sizeof *whole);
        ds->prev_count = e.tag_rows;
        ds->prev_frame = e.frame.frame;
    }
    fa_proto_header_t h = {.session_id = g->id, .seq = g->seq++};
    int n = fa_proto_batch_finish(&b, &h);
    return n > 0 ? (size_t)n : 0;
}

static void game_init(game_t *g, uint64_t id, uint64_t start_unix_ns) {
    memset(g, 0, sizeof *g);
    g->id = id;
    g->start_unix_ns = start_unix_ns;
    g->start_mono_ns = now_ns(CLOCK_MONOTONIC);
}

/* ---- the daemon ---------------------------------------------------------- */

typedef struct daemon {
    pid_t pid;
    int http_port;
    char ingest[128];
    char db[1200]; /* a SQLite path or a PostgreSQL URI */
} daemon_t;

/* A daemon on free ports; its store is `location`, or (NULL) a SQLite
 * file named for it in the work directory. */
static int daemon_start_on(daemon_t *d, const char *name, const char *location, const char *const *extra) {
    if (location)
        snprintf(d->db, sizeof d->db, "%s", location);
    else
        snprintf(d->db, sizeof d->db, "%s/%s.db", workdir, name);
    int out[2];
    if (pipe(out) != 0) return -1;
    d->pid = fork();
    if (d->pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        char log[700];
        snprintf(log, sizeof log, "%s/%s.log", workdir, name);
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        const char *argv[32] = {daemon_path, "--listen", "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0",
                                "--store",   d->db,      "--web-root",  workdir,    "--log-level",
                                "warn"};
        int n = 11;
        for (int i = 0; extra && extra[i] && n < 30; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(daemon_path, (char **)argv);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[512];
    int ok = -1;
    if (fgets(line, sizeof line, f)) {
        char *h = strstr(line, "http=http://"), *in = strstr(line, "ingest=");
        if (h && in) {
            d->http_port = atoi(strchr(h + 12, ':') + 1);
            sscanf(in + 7, "%127s", d->ingest);
            ok = 0;
        }
    }
    fclose(f);
    if (ok != 0) fprintf(stderr, "bench: the daemon did not start (see %s/%s.log)\n", workdir, name);
    return ok;
}

static int daemon_start(daemon_t *d, const char *name, const char *const *extra) {
    return daemon_start_on(d, name, NULL, extra);
}

static int daemon_stop(daemon_t *d) {
    kill(d->pid, SIGTERM);
    int status = 0;
    waitpid(d->pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long proc_kib(pid_t pid, const char *field) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, n)) v = atol(line + n + 1);
    if (f) fclose(f);
    return v;
}

static double proc_cpu_s(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* fields after the name: state(3) ... utime(14) stime(15) */
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A blocking HTTP GET; returns the body (malloc'd) or NULL. */
static char *http_get(int port, const char *path, double *ms) {
    double t0 = now_s();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                     path, port);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = '\0';
    if (ms) *ms = (now_s() - t0) * 1000.0;
    char *body = strstr(buf, "\r\n\r\n");
    if (!body || strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        free(buf);
        return NULL;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}

typedef struct health {
    double received, stored, dropped, rejected, queue_high, queue_full, orphaned, store_error, commit_max_ms;
    double no_base; /* 1.2 delta frames skipped: their base was dropped */
    double backlog, control, duplicate, conflict; /* the other drop reasons */
} health_t;

static double num(cJSON *o, const char *a, const char *b) {
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(o, a), b);
    return x ? x->valuedouble : -1;
}

static int health(daemon_t *d, health_t *h) {
    char *body = http_get(d->http_port, "/api/v1/health", NULL);
    if (!body) return -1;
    cJSON *o = cJSON_Parse(body);
    free(body);
    if (!o) return -1;
    h->received = num(o, "ingest", "received");
    h->stored = num(o, "ingest", "stored");
    h->dropped = num(o, "ingest", "dropped");
    h->rejected = num(o, "ingest", "rejected");
    h->queue_high = num(o, "ingest", "queue_high_water");
    cJSON *dr = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "ingest"), "dropped_by_reason");
    h->queue_full = cJSON_GetObjectItem(dr, "queue_full")->valuedouble;
    h->orphaned = cJSON_GetObjectItem(dr, "orphaned")->valuedouble;
    h->store_error = cJSON_GetObjectItem(dr, "store_error")->valuedouble;
    cJSON *nb = cJSON_GetObjectItem(dr, "delta_without_base");
    h->no_base = nb ? nb->valuedouble : 0;
    static const char *const other[] = {"store_backlog", "control_queue_full", "duplicate", "session_conflict"};
    double *to[] = {&h->backlog, &h->control, &h->duplicate, &h->conflict};
    for (int i = 0; i < 4; i++) {
        cJSON *x = cJSON_GetObjectItem(dr, other[i]);
        *to[i] = x ? x->valuedouble : 0;
    }
    h->commit_max_ms = num(o, "store", "commit_duration_ms_max");
    cJSON_Delete(o);
    return 0;
}

/* Waits until `want` frames are accounted for (stored, or dropped and
 * counted), or until nothing moved for 2 s, or max_s. Returns when the
 * last of them was seen: the 2 s of waiting for more that may follow a
 * drop the daemon did not count are not the daemon's time. */
static double wait_stored(daemon_t *d, double want, health_t *h, double max_s) {
    double t0 = now_s(), last = -1, last_change = now_s();
    while (now_s() - t0 < max_s) {
        if (health(d, h) == 0) {
            double accounted = h->stored + h->dropped;
            if (accounted >= want) return now_s();
            if (accounted != last)
                last = accounted, last_change = now_s();
            else if (now_s() - last_change > 2.0)
                return last_change;
        }
        usleep(20000);
    }
    return last_change;
}

/* ---- 1. raw SQLite -------------------------------------------------------- */

static double sqlite_rate(bool per_tag, double seconds) {
    char path[700], err[512];
    snprintf(path, sizeof path, "%s/raw-%s.db", workdir, per_tag ? "pertag" : "packed");
    store_t *st;
    if (store_open(&st, path, 1, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return 0;
    }
    sqlite3 *db = store_sqlite_handle(st);
    sqlite3_exec(
        db,
        "CREATE TABLE frame_tags(session_id INTEGER, t_ms INTEGER, frame INTEGER, tag_id INTEGER,"
        " live INTEGER, peak INTEGER, frame_bytes INTEGER, pool INTEGER, heap INTEGER, allocs INTEGER);"
        "CREATE INDEX frame_tags_by_tag ON frame_tags(session_id, tag_id, t_ms);",
        NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO frame_tags VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)", -1, &ins, NULL);
    /* 100 games in lockstep, like the target load */
    enum { GAMES = 100 };
    static game_t games[GAMES];
    static uint8_t msg[65536], blob[65536];
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t sto = fa_proto_storage_of(space);
    for (int g = 0; g < GAMES; g++)
        game_init(&games[g], 1000 + (uint64_t)g, 1700000000000000000ull);
    uint64_t frames = 0;
    double t0 = now_s(), batch_start = t0;
    uint64_t cpu0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    if (per_tag)
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    else
        store_begin(st);
    while (now_s() - t0 < seconds) {
        for (int g = 0; g < GAMES; g++) {
            size_t n = encode_frame(&games[g], msg, sizeof msg);
            fa_proto_msg_t m;
            if (fa_proto_decode(msg, n, &m, &sto) != 0) abort();
            uint64_t t_ms = 1700000000000ull + games[g].frame * 1000 / FPS;
            if (!per_tag) {
                size_t len = pack_frame(&m.frame, blob, sizeof blob);
                /* the daemon's statement, through its store module */
                store_frame_t row = {games[g].id, t_ms, m.frame.frame, m.frame.duration_ns, blob, len};
                size_t rejected;
                store_put_frames(st, &row, 1, &rejected);
            } else {
                for (uint32_t t = 0; t < m.frame.tag_count; t++) {
                    const fa_proto_tag_stat_t *r = &m.frame.tags[t];
                    sqlite3_bind_int64(ins, 1, (sqlite3_int64)games[g].id);
                    sqlite3_bind_int64(ins, 2, (sqlite3_int64)t_ms);
                    sqlite3_bind_int64(ins, 3, (sqlite3_int64)m.frame.frame);
                    sqlite3_bind_int(ins, 4, r->id);
                    sqlite3_bind_int64(ins, 5, (sqlite3_int64)r->live_bytes);
                    sqlite3_bind_int64(ins, 6, (sqlite3_int64)r->peak_bytes);
                    sqlite3_bind_int64(ins, 7, (sqlite3_int64)r->frame_bytes);
                    sqlite3_bind_int64(ins, 8, (sqlite3_int64)r->pool_bytes);
                    sqlite3_bind_int64(ins, 9, (sqlite3_int64)r->heap_bytes);
                    sqlite3_bind_int64(ins, 10, (sqlite3_int64)r->alloc_count);
                    sqlite3_step(ins);
                    sqlite3_reset(ins);
                }
            }
            frames++;
        }
        if (now_s() - batch_start >= 0.25) {
            if (per_tag) {
                sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL);
            } else {
                store_commit(st);
                store_begin(st);
            }
            batch_start = now_s();
        }
    }
    if (per_tag)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    else
        store_commit(st);
    double rate = (double)frames / (now_s() - t0);
    if (!per_tag) raw_cpu_us = (double)(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / 1000.0 / (double)frames;
    sqlite3_finalize(ins);
    free(space);
    store_close(st);
    return rate;
}

/* ---- 2. raw nng ----------------------------------------------------------- */

typedef struct nng_job {
    const char *url;
    int count;
    size_t bytes;
} nng_job_t;

static void *nng_pusher(void *arg) {
    nng_job_t *j = arg;
    nng_socket s;
    nng_push0_open(&s);
    nng_dial(s, j->url, NULL, 0);
    game_t g;
    game_init(&g, 77, 0);
    static _Thread_local uint8_t msg[65536];
    for (int i = 0; i < j->count; i++) {
        size_t n = encode_frame(&g, msg, sizeof msg);
        j->bytes = n;
        nng_send(s, msg, n, 0);
    }
    usleep(200000);
    nng_close(s);
    return NULL;
}

/* The receiving side as the daemon does it (an nng_recv_aio loop), minus
 * everything the daemon does with the message. */
typedef struct sink {
    nng_socket sock;
    nng_aio *aio;
    pthread_mutex_t lock;
    pthread_cond_t done;
    int count, want;
    double first, last;
} sink_t;

static void sink_cb(void *arg) {
    sink_t *k = arg;
    if (nng_aio_result(k->aio) != 0) return;
    nng_msg_free(nng_aio_get_msg(k->aio));
    pthread_mutex_lock(&k->lock);
    if (k->count == 0) k->first = now_s();
    if (++k->count == k->want) {
        k->last = now_s();
        pthread_cond_signal(&k->done);
    }
    bool more = k->count < k->want;
    pthread_mutex_unlock(&k->lock);
    if (more) nng_recv_aio(k->sock, k->aio);
}

static double nng_rate(size_t *msg_size) {
    int want = quick ? 50000 : 150000;
    /* The sender is another process, as a game is. It is forked before
     * this process touches nng (nng's threads do not survive a fork) and
     * learns the URL through a pipe. */
    int fds[2];
    if (pipe(fds) != 0) return 0;
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        close(fds[1]);
        char url[64] = {0};
        if (read(fds[0], url, sizeof url - 1) <= 0) _exit(1);
        nng_job_t job = {url, want, 0};
        nng_pusher(&job);
        _exit(0);
    }
    close(fds[0]);
    sink_t k = {.want = want};
    nng_listener l;
    nng_pull0_open(&k.sock);
    nng_socket_set_size(k.sock, NNG_OPT_RECVMAXSZ, FA_PROTO_MAX_MESSAGE);
    nng_socket_set_int(k.sock, NNG_OPT_RECVBUF, 1024);
    nng_listener_create(&l, k.sock, "tcp://127.0.0.1:0");
    nng_listener_start(l, 0);
    int port;
    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
    char url[64];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    pthread_mutex_init(&k.lock, NULL);
    pthread_cond_init(&k.done, NULL);
    nng_aio_alloc(&k.aio, sink_cb, &k);
    nng_recv_aio(k.sock, k.aio);
    if (write(fds[1], url, strlen(url)) < 0) return 0;
    close(fds[1]);
    pthread_mutex_lock(&k.lock);
    while (k.count < k.want)
        pthread_cond_wait(&k.done, &k.lock);
    pthread_mutex_unlock(&k.lock);
    double rate = (double)(k.want - 1) / (k.last - k.first);
    waitpid(child, NULL, 0);
    nng_close(k.sock);
    nng_aio_free(k.aio);
    game_t probe;
    static uint8_t msg[65536];
    game_init(&probe, 1, 0);
    *msg_size = encode_frame(&probe, msg, sizeof msg);
    return rate;
}

/* ---- 3/4. games against the daemon --------------------------------------- */

typedef struct step {
    double queue_high, queue_full, orphaned, commit_max_ms;
    int games;
    double seconds, sent, agent_dropped, stored, daemon_dropped, lag_s, rss_max_mib, hwm_mib, cpu_pct;
} step_t;

static uint64_t next_session = 0x100000;

/* N games at 60 fps with non-blocking sends (the agent never blocks the
 * game: a send that would block is a dropped frame), spread over nd
 * daemons (game g streams to daemon g % nd); out sums them (CPU and RSS:
 * the first daemon's). */
static void run_games_on(daemon_t *ds, int nd, int n, double seconds, step_t *out, volatile bool *stop) {
    game_t *games = calloc((size_t)n, sizeof *games);
    static _Thread_local uint8_t msg[65536];
    uint64_t start_unix = now_ns(CLOCK_REALTIME);
    for (int g = 0; g < n; g++) {
        game_init(&games[g], next_session++, start_unix);
        nng_push0_open(&games[g].sock);
        /* like the agent: a small send queue, never wait */
        nng_socket_set_int(games[g].sock, NNG_OPT_SENDBUF, 64);
        nng_dial(games[g].sock, ds[g % nd].ingest, NULL, 0);
        size_t len = encode_hello(&games[g], msg, sizeof msg);
        nng_send(games[g].sock, msg, len, 0);
    }
    health_t h0[8] = {0};
    for (int k = 0; k < nd; k++)
        health(&ds[k], &h0[k]);
    daemon_t *d = &ds[0];
    double cpu0 = proc_cpu_s(d->pid), t0 = now_s(), rss_max = 0;
    uint64_t sent = 0, failed = 0;
    long tick = 0;
    while ((seconds > 0 && now_s() - t0 < seconds) || (stop && !*stop)) {
        double due = t0 + (double)tick / FPS;
        while (now_s() < due)
            usleep(200);
        for (int g = 0; g < n; g++) {
            size_t len = encode_frame(&games[g], msg, sizeof msg);
            if (nng_send(games[g].sock, msg, len, NNG_FLAG_NONBLOCK) == 0)
                sent++;
            else
                failed++;
        }
        if (tick % 15 == 0) {
            double rss = (double)proc_kib(d->pid, "VmRSS") / 1024.0;
            if (rss > rss_max) rss_max = rss;
        }
        tick++;
    }
    double elapsed = now_s() - t0;
    double cpu = proc_cpu_s(d->pid) - cpu0;
    double t_end = now_s();
    if (out) memset(out, 0, sizeof *out);
    for (int k = 0; k < nd; k++) {
        health_t h;
        /* each daemon stores what its games sent (about sent / nd) */
        wait_stored(&ds[k], h0[k].stored + h0[k].dropped + (double)sent * (n / nd) / n, &h, 30);
        if (!out) continue;
        out->stored += h.stored - h0[k].stored;
        out->daemon_dropped += h.dropped - h0[k].dropped;
        if (h.queue_high > out->queue_high) out->queue_high = h.queue_high;
        out->queue_full += h.queue_full - h0[k].queue_full;
        out->orphaned += h.orphaned - h0[k].orphaned;
        if (h.commit_max_ms > out->commit_max_ms) out->commit_max_ms = h.commit_max_ms;
    }
    if (out) {
        out->games = n;
        out->seconds = elapsed;
        out->sent = (double)sent;
        out->agent_dropped = (double)failed;
        out->lag_s = now_s() - t_end;
        out->rss_max_mib = rss_max;
        out->hwm_mib = (double)proc_kib(d->pid, "VmHWM") / 1024.0;
        out->cpu_pct = 100.0 * cpu / elapsed;
    }
    for (int g = 0; g < n; g++)
        nng_close(games[g].sock);
    free(games);
}

static void run_games(daemon_t *d, int n, double seconds, step_t *out, volatile bool *stop) {
    run_games_on(d, 1, n, seconds, out, stop);
}

/* batch 0: 1.1 FRAMEs, one per message; else 1.2 FRAMES of `batch`. */
static double flood(daemon_t *d, int frames, double *dropped, int batch) {
    game_t g;
    game_init(&g, __atomic_fetch_add(&next_session, 1, __ATOMIC_RELAXED), now_ns(CLOCK_REALTIME));
    static _Thread_local uint8_t msg[1u << 20];
    static _Thread_local delta_state_t ds;
    memset(&ds, 0, sizeof ds);
    nng_push0_open(&g.sock);
    nng_dial(g.sock, d->ingest, NULL, 0);
    size_t len = encode_hello(&g, msg, sizeof msg);
    nng_send(g.sock, msg, len, 0);
    health_t h0, h;
    health(d, &h0);
    double t0 = now_s();
    for (int i = 0; i < frames; i += batch ? batch : 1) {
        len = batch ? encode_frames(&g, &ds, batch, msg, sizeof msg) : encode_frame(&g, msg, sizeof msg);
        nng_send(g.sock, msg, len, 0);
    }
    /* until every frame was stored or counted as dropped: a flood drops
     * (blocking sends outrun any receiver); its rate is what was stored
     * over the time until the last frame was accounted for */
    double dt = wait_stored(d, h0.stored + h0.dropped + frames, &h, 60) - t0;
    *dropped = h.dropped - h0.dropped;
    if (h.dropped > h0.dropped)
        fprintf(stderr,
                "   flood (batch %d): %.0f dropped: %.0f at the full queue, %.0f deltas without base, %.0f over the "
                "store's backlog, %.0f control queue, %.0f duplicates, %.0f session conflicts\n",
                batch, h.dropped - h0.dropped, h.queue_full - h0.queue_full, h.no_base - h0.no_base,
                h.backlog - h0.backlog, h.control - h0.control, h.duplicate - h0.duplicate, h.conflict - h0.conflict);
    nng_close(g.sock);
    return (h.stored - h0.stored) / dt;
}

/* ---- 5. trend latency ----------------------------------------------------- */

typedef struct lat {
    double p50, p99, max;
    int n;
} lat_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static lat_t measure(daemon_t *d, const char *path, int n) {
    double *v = malloc((size_t)n * sizeof *v);
    int k = 0;
    for (int i = 0; i < n; i++) {
        double ms;
        char *body = http_get(d->http_port, path, &ms);
        if (body) v[k++] = ms;
        free(body);
    }
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    lat_t l = {k ? v[k / 2] : -1, k ? v[(int)(k * 0.99)] : -1, k ? v[k - 1] : -1, k};
    free(v);
    return l;
}

/* The daemon's sessions and writer modules in this process, on a SQLite
 * file of their own (parts 5 and the CPU figures). */
typedef struct inproc {
    store_t *st;
    uv_loop_t loop;
    writer_t *w;
    sessions_t *ss;
} inproc_t;

static void inproc_open(inproc_t *d, const char *db) {
    char err[256];
    const uint64_t day = 86400000u;
    writer_options_t wo = {.commit_interval_ms = 250,
                           .buffer_bytes = 64u << 20,
                           .retention_interval_ms = day,
                           .keep = {2 * 3600000u, day, 7 * day, 30 * day, 30 * day}};
    memset(d, 0, sizeof *d);
    writer_keep_heap(wo.buffer_bytes); /* as the daemon's main() does */
    if (store_open(&d->st, db, 1, &wo.keep, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    uv_loop_init(&d->loop);
    if (writer_start(&d->w, d->st, &d->loop, &wo, &(writer_hooks_t){0}, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    d->ss = sessions_create(d->w, &(sessions_options_t){10000, 16, 16, 1024}, &(sessions_hooks_t){0});
}

/* Everything written, then closed. */
static void inproc_close(inproc_t *d) {
    writer_stop(d->w, clock_mono_ms() + 60000);
    writer_close(d->w);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    writer_free(d->w);
    sessions_destroy(d->ss);
    uv_loop_close(&d->loop);
    store_close(d->st);
}

/* The daemon's own CPU per stored frame, without the transport: `frames`
 * frames of one session handed to its sessions module (decode, rebuild,
 * rollups, alerts, packing) with a writer behind it (SQLite), in this
 * process, as 1.1 FRAMEs (batch 0) or 1.2 FRAMES of `batch`. Returns CPU
 * microseconds per frame of the calling thread (the daemon's loop) in
 * *loop_us and of the whole process (loop + writer) in the result. */
static double cpu_per_frame(int frames, int batch, double *loop_us) {
    char db[800];
    snprintf(db, sizeof db, "%s/cpu-%d.db", workdir, batch);
    inproc_t d;
    inproc_open(&d, db);
    sessions_t *ss = d.ss;
    writer_t *w = d.w;
    game_t g;
    game_init(&g, 0xc0c0000000000001ull + (uint64_t)batch, now_ns(CLOCK_REALTIME));
    static uint8_t msg[1u << 20];
    static delta_state_t ds;
    memset(&ds, 0, sizeof ds);
    size_t len = encode_hello(&g, msg, sizeof msg);
    uint64_t t = clock_now_ms(), mono = clock_mono_ms();
    sessions_handle(ss, msg, len, t, mono);
    /* Encoded up front: only the daemon's side is timed. */
    size_t cap = (size_t)frames * 4096u, used = 0, nmsg = 0;
    uint8_t *all = malloc(cap);
    size_t *ends = malloc(((size_t)frames + 1) * sizeof *ends);
    for (int i = 0; i < frames && all && ends; i += batch ? batch : 1) {
        len = batch ? encode_frames(&g, &ds, batch, msg, sizeof msg) : encode_frame(&g, msg, sizeof msg);
        if (used + len > cap) break;
        memcpy(all + used, msg, len);
        used += len;
        ends[nmsg++] = used;
    }
    uint64_t thread0 = now_ns(CLOCK_THREAD_CPUTIME_ID), proc0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    for (size_t i = 0, start = 0; i < nmsg; start = ends[i++]) {
        sessions_handle(ss, all + start, ends[i] - start, t, mono);
        while (writer_backlogged(w)) {
            uv_run(&d.loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
    }
    sessions_flush(ss);
    uint64_t thread1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    inproc_close(&d);
    uint64_t proc1 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
    free(all);
    free(ends);
    *loop_us = (double)(thread1 - thread0) / 1000.0 / frames;
    return (double)(proc1 - proc0) / 1000.0 / frames;
}

/* One hour of 60 fps frames for one session, ending now, written into db
 * by the daemon's own sessions and writer modules in this process. The
 * daemon stamps frames with its receive clock, so an hour sent through it
 * in seconds would be seconds of data: here each frame is "received" at
 * its own virtual time. The daemon then opens the database. */
static uint64_t populate_hour(const char *db, int frames) {
    inproc_t d;
    inproc_open(&d, db);
    sessions_t *ss = d.ss;
    writer_t *w = d.w;
    game_t g;
    uint64_t frame_ns = 1000000000u / FPS,
             start_ms = now_ns(CLOCK_REALTIME) / 1000000u - (uint64_t)frames * 1000u / FPS;
    game_init(&g, 0xbe4c000000000001ull, start_ms * 1000000u);
    static uint8_t msg[65536];
    size_t len = encode_hello(&g, msg, sizeof msg);
    sessions_handle(ss, msg, len, start_ms, start_ms);
    for (int i = 0; i < frames; i++) {
        len = encode_frame(&g, msg, sizeof msg);
        uint64_t t = start_ms + ((uint64_t)i * frame_ns + 15000000u) / 1000000u; /* the frame's end */
        sessions_handle(ss, msg, len, t, t);
        while (writer_backlogged(w)) { /* the writer's pace */
            uv_run(&d.loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
        if (i % 1000 == 999) uv_run(&d.loop, UV_RUN_NOWAIT);
    }
    sessions_flush(ss);
    inproc_close(&d);
    return g.id;
}

typedef struct bg {
    daemon_t *d;
    volatile bool stop;
    step_t result;
} bg_t;

static void *background_games(void *arg) {
    bg_t *b = arg;
    run_games(b->d, 100, 0, &b->result, &b->stop);
    return NULL;
}

/* ---- 6-9. a fleet on PostgreSQL (--fleet) ------------------------------------ */

/* The server: FA_TEST_PG, a URI its databases are reached through
 * (tests/insightd/pgserver.py starts a throwaway one and sets it). */
static const char *pg_admin;

static void pg_uri(const char *db, char *out, size_t cap) {
    const char *auth = strstr(pg_admin, "://") + 3;
    const char *query = strchr(auth, '?');
    const char *path = strchr(auth, '/');
    if (!path || (query && query < path)) path = query ? query : auth + strlen(auth);
    snprintf(out, cap, "%.*s/%s%s", (int)(path - pg_admin), pg_admin, db, query ? query : "");
}

static void pg_create(const char *db) {
    PGconn *c = PQconnectdb(pg_admin);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
}

/* What autovacuum does within a minute of a load: the benchmark's daemons
 * start on freshly loaded databases. */
static void pg_analyze(const char *uri) {
    PGconn *c = PQconnectdb(uri);
    PQclear(PQexec(c, "ANALYZE"));
    PQfinish(c);
}

static double pg_count(const char *uri, const char *sql) {
    PGconn *c = PQconnectdb(uri);
    PGresult *r = PQexec(c, sql);
    double v = PQresultStatus(r) == PGRES_TUPLES_OK ? atof(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

/* The raw peer: the daemon's COPY (its store module) from `daemons`
 * connections at once, 100 games each in 250 ms transactions, nothing
 * else: no nng, no decoding, no rollups, no sessions. The rows' blobs are
 * made before the clock starts (a second of each game, reused with later
 * frame numbers and times): this measures the database. */
typedef struct copy_job {
    const char *uri;
    int index;
    double seconds, frames;
} copy_job_t;

static void *raw_copy(void *arg) {
    copy_job_t *j = arg;
    char err[512];
    store_t *st;
    if (store_open(&st, j->uri, 1, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return NULL;
    }
    enum { GAMES = 100, RUN = 2048, BLOB = 4096 };
    game_t *games = calloc(GAMES, sizeof *games);
    uint8_t *blobs = malloc((size_t)GAMES * FPS * BLOB), msg[65536];
    size_t *lens = calloc((size_t)GAMES * FPS, sizeof *lens);
    store_frame_t *rows = malloc(RUN * sizeof *rows);
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t sto = fa_proto_storage_of(space);
    for (int g = 0; g < GAMES; g++) {
        game_init(&games[g], 0xc0e0000000000000ull + (uint64_t)j->index * 1000 + (uint64_t)g, 0);
        for (int f = 0; f < FPS; f++) {
            size_t len = encode_frame(&games[g], msg, sizeof msg);
            fa_proto_msg_t m;
            if (fa_proto_decode(msg, len, &m, &sto) != 0) abort();
            lens[g * FPS + f] = pack_frame(&m.frame, blobs + (size_t)(g * FPS + f) * BLOB, BLOB);
        }
    }
    uint64_t base_ms = now_ns(CLOCK_REALTIME) / 1000000u, frame = 0;
    double t0 = now_s(), batch_start = t0;
    size_t n = 0, rejected;
    store_begin(st);
    while (now_s() - t0 < j->seconds) {
        for (int g = 0; g < GAMES; g++) {
            size_t k = (size_t)g * FPS + frame % FPS;
            rows[n++] = (store_frame_t){
                games[g].id, base_ms + frame * 1000 / FPS, frame + 1, 15000000, blobs + k * BLOB, lens[k]};
            if (n == RUN) {
                if (store_put_frames(st, rows, n, &rejected) == STORE_OK) j->frames += (double)n;
                n = 0;
            }
        }
        frame++;
        if (now_s() - batch_start >= 0.25) {
            if (n && store_put_frames(st, rows, n, &rejected) == STORE_OK) j->frames += (double)n;
            n = 0;
            store_commit(st);
            store_begin(st);
            batch_start = now_s();
        }
    }
    if (n && store_put_frames(st, rows, n, &rejected) == STORE_OK) j->frames += (double)n;
    store_commit(st);
    j->seconds = now_s() - t0;
    free(space);
    free(rows);
    free(lens);
    free(blobs);
    free(games);
    store_close(st);
    return NULL;
}

typedef struct flood_job {
    daemon_t *d;
    int frames;
    double rate, dropped;
} flood_job_t;

static void *flood_thread(void *arg) {
    flood_job_t *f = arg;
    f->rate = flood(f->d, f->frames, &f->dropped, 0);
    return NULL;
}

/* The fleet's sessions for the fleet query: n ended sessions over the
 * last 24 h, 10 builds, 20 hosts, TAGS tags each with their figures. */
static void populate_fleet(const char *location, int n) {
    char err[512];
    store_t *st;
    if (store_open(&st, location, 1, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    uint64_t now = now_ns(CLOCK_REALTIME) / 1000000u;
    store_begin(st);
    for (int i = 0; i < n; i++) {
        session_info_t s = {.id = 0xf1ee700000000000ull + (uint64_t)i, .have_hello = true, .frames = 36000};
        s.last_seen_ms = s.ended_ms = s.last_ms = now - (uint64_t)i * 86000u;
        s.first_ms = s.last_ms - 600000u;
        s.end_reason = "bye";
        snprintf(s.app, sizeof s.app, "bench-game");
        snprintf(s.build_id, sizeof s.build_id, "1.%d.0", i % 10);
        snprintf(s.host, sizeof s.host, "ci-runner-%02d", i % 20);
        store_put_session(st, &s);
        for (int t = 0; t < TAGS; t++) {
            uint64_t peak = (uint64_t)(t + 1) * 200000u + (uint64_t)((i * 7919 + t * 104729) % 100000);
            tag_info_t tag = {.id = (uint16_t)t,
                              .path = paths[t],
                              .defined = true,
                              .budget_hard = defs[t].budget_hard,
                              .peak_bytes = peak,
                              .live_bytes = peak / 2,
                              .live_sum = peak / 2 * 36000u,
                              .live_frames = 36000};
            store_put_tag(st, s.id, &tag);
        }
    }
    if (store_commit(st) != STORE_OK) fprintf(stderr, "bench: %s\n", store_error(st));
    store_close(st);
}

/* 9. queries: the fleet view over 1000 sessions, and one session's routes
 * over an hour of data, PostgreSQL against SQLite, `rounds` times on the
 * same data (each round both stores, PostgreSQL first), then the median
 * of each round's PostgreSQL / SQLite p50. */
static int fleet_queries(int rounds) {
    int reps = quick ? 50 : 200;
    char fleet_uri[1100], fleet_db[700];
    pg_create("fleetq");
    pg_uri("fleetq", fleet_uri, sizeof fleet_uri);
    snprintf(fleet_db, sizeof fleet_db, "%s/fleetq.db", workdir);
    populate_fleet(fleet_uri, 1000);
    populate_fleet(fleet_db, 1000);
    char hour_uri[1100], hour_db[700];
    pg_create("hour");
    pg_uri("hour", hour_uri, sizeof hour_uri);
    snprintf(hour_db, sizeof hour_db, "%s/hour.db", workdir);
    int hour = quick && rounds == 1 ? 60 * FPS * 10 : 3600 * FPS;
    double p0 = now_s();
    uint64_t sid = populate_hour(hour_uri, hour);
    double pop_pg = now_s() - p0;
    p0 = now_s();
    populate_hour(hour_db, hour);
    double pop_lite = now_s() - p0;
    pg_analyze(hour_uri);
    pg_analyze(fleet_uri);
    char hex[17], path[300];
    sid_format(sid, hex);
    struct {
        const char *label, *query;
    } qs[] = {
        {"fleet, 1000 sessions x 64 tags over 24 h", NULL},
        {"session", ""},
        {"trend, 1 h window, 120 points (10-second rollups)", "/trend?tag=sys1&window=1h&points=120"},
        {"trend, 1 h window, 1000 points (per-second rollups)", "/trend?tag=sys1&window=1h&points=1000"},
        {"trend, 10 s window, 100 points (raw frames)", "/trend?tag=sys1&window=10s&points=100"},
        {"frames, newest 100", "/frames?limit=100"},
        {"alerts of the session", NULL},
        {"findings of the session", "/findings"},
    };
    enum { NQ = sizeof qs / sizeof qs[0], MAX_ROUNDS = 50 };
    if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
    static double ratio[NQ][MAX_ROUNDS];
    for (int round = 0; round < rounds; round++) {
        lat_t res[2][NQ];
        for (int b = 0; b < 2; b++) { /* 0 PostgreSQL, 1 SQLite */
            daemon_t f, h;
            if (daemon_start_on(&f, b ? "fleetq-lite" : "fleetq-pg", b ? fleet_db : fleet_uri,
                                (const char *const[]){"--no-ingest", NULL}) != 0 ||
                daemon_start_on(&h, b ? "hour-lite" : "hour-pg", b ? hour_db : hour_uri,
                                (const char *const[]){"--retention", "2h", NULL}) != 0)
                return 1;
            uint64_t since = now_ns(CLOCK_REALTIME) / 1000000u - 86400000u;
            for (int i = 0; i < NQ; i++) {
                if (i == 0)
                    snprintf(path, sizeof path, "/api/v1/fleet?app=bench-game&since=%llu",
                             (unsigned long long)since);
                else if (!qs[i].query)
                    snprintf(path, sizeof path, "/api/v1/alerts?session=%s", hex);
                else
                    snprintf(path, sizeof path, "/api/v1/sessions/%s%s", hex, qs[i].query);
                res[b][i] = measure(i == 0 ? &f : &h, path, reps);
            }
            daemon_stop(&f);
            daemon_stop(&h);
        }
        printf(
            "\n-- query latency%s, %d requests each: the fleet view over 1000 sessions; one session's routes "
            "over an hour of %d fps data (%d frames; loaded in %.1f s into PostgreSQL, %.1f s into SQLite)\n",
            rounds > 1 ? " (a round)" : "", reps, FPS, hour, pop_pg, pop_lite);
        printf("| query | PostgreSQL p50 ms | p99 ms | SQLite p50 ms | p99 ms | PostgreSQL / SQLite (p50) |\n"
               "|---|---|---|---|---|---|\n");
        for (int i = 0; i < NQ; i++) {
            ratio[i][round] = res[1][i].p50 > 0 ? res[0][i].p50 / res[1][i].p50 : 0;
            printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2fx |\n", qs[i].label, res[0][i].p50, res[0][i].p99,
                   res[1][i].p50, res[1][i].p99, ratio[i][round]);
        }
        print_load(round + 1 < rounds ? "after the round" : "at the end");
        fflush(stdout);
    }
    if (rounds > 1) {
        printf("\n-- PostgreSQL / SQLite p50, the median of %d rounds\n| query | median | rounds "
               "|\n|---|---|---|\n",
               rounds);
        for (int i = 0; i < NQ; i++) {
            char each[MAX_ROUNDS * 8] = "";
            for (int k = 0; k < rounds; k++)
                snprintf(each + strlen(each), sizeof each - strlen(each), "%s%.2f", k ? " " : "",
                         ratio[i][k]);
            qsort(ratio[i], (size_t)rounds, sizeof ratio[i][0], cmp_double);
            double med =
                rounds % 2 ? ratio[i][rounds / 2] : (ratio[i][rounds / 2 - 1] + ratio[i][rounds / 2]) / 2;
            printf("| %s | %.2fx | %s |\n", qs[i].label, med, each);
        }
    }
    return 0;
}

static int run_fleet(void) {
    char uri[1100];
    pg_create("fleet");
    pg_uri("fleet", uri, sizeof uri);
    const int daemons = 3, per = 100;
    double secs = quick ? 5 : 10;
    printf("== bench-insightd --fleet: PostgreSQL (libpq %d), %d daemons x %d games x %d fps x %d tags\n",
           PQlibVersion(), daemons, per, FPS, TAGS);
    print_load("at start");
    fflush(stdout);

    /* 6. the raw peer */
    double raw = 0;
    {
        char err[512];
        store_t *st;
        if (store_open(&st, uri, 1, NULL, err, sizeof err) != 0) { /* the schema, once */
            fprintf(stderr, "bench: %s\n", err);
            return 1;
        }
        store_close(st);
        copy_job_t jobs[3];
        pthread_t th[3];
        for (int k = 0; k < daemons; k++) {
            jobs[k] = (copy_job_t){uri, k, quick ? 3 : 6, 0};
            pthread_create(&th[k], NULL, raw_copy, &jobs[k]);
        }
        double frames = 0, longest = 0;
        for (int k = 0; k < daemons; k++) {
            pthread_join(th[k], NULL);
            frames += jobs[k].frames;
            if (jobs[k].seconds > longest) longest = jobs[k].seconds;
        }
        raw = frames / longest;
        printf("\n-- raw COPY: the same frame rows by %d connections at once (the daemon's COPY, its store "
               "module)\n",
               daemons);
        printf("| measure | rate |\n|---|---|\n| raw COPY into the frames partitions | %.0f rows/s |\n", raw);
        fflush(stdout);
    }

    /* 7. three daemons, one database */
    daemon_t ds[3];
    for (int k = 0; k < daemons; k++) {
        char name[32];
        snprintf(name, sizeof name, "fleet-%d", k);
        if (daemon_start_on(&ds[k], name, uri, NULL) != 0) return 1;
    }
    double before = pg_count(uri, "SELECT count(*) FROM frames");
    step_t s;
    run_games_on(ds, daemons, daemons * per, secs, &s, NULL);
    double rows = pg_count(uri, "SELECT count(*) FROM frames") - before;
    printf("\n-- %d daemons x %d games x %d fps x %d tags into one database, %.0f s (non-blocking sends)\n",
           daemons, per, FPS, TAGS, secs);
    printf("| frames/s due | frames/s sent | agent drops | stored (health) | rows in the database | daemon "
           "drops "
           "| catch-up s | longest commit ms |\n|---|---|---|---|---|---|---|---|\n");
    printf("| %d | %.0f | %.0f | %.0f | %.0f | %.0f (%.0f at the ingest queue) | %.2f | %.0f |\n",
           daemons * per * FPS, s.sent / s.seconds, s.agent_dropped, s.stored, rows, s.daemon_dropped,
           s.queue_full, s.lag_s, s.commit_max_ms);
    if (s.sent / s.seconds < 0.95 * daemons * per * FPS)
        printf("(the load generator reached only %.0f %% of the due rate on this machine)\n",
               100.0 * s.sent / s.seconds / (daemons * per * FPS));
    fflush(stdout);

    /* 8. flooded: every daemon by a sender of its own (blocking sends) */
    flood_job_t fj[3];
    pthread_t ft[3];
    for (int k = 0; k < daemons; k++) {
        fj[k] = (flood_job_t){&ds[k], quick ? 15000 : 40000, 0, 0};
        pthread_create(&ft[k], NULL, flood_thread, &fj[k]);
    }
    double flooded = 0, fdrop = 0;
    for (int k = 0; k < daemons; k++) {
        pthread_join(ft[k], NULL);
        flooded += fj[k].rate;
        fdrop += fj[k].dropped;
    }
    printf("\n-- %d daemons flooded at once (a sender each, blocking sends)\n", daemons);
    printf("| measure | rate | vs raw COPY |\n|---|---|---|\n");
    printf("| frames stored per second, all daemons | %.0f | %.2fx |\n", flooded,
           raw > 0 ? flooded / raw : 0);
    printf("(frames dropped at the daemons' queues during the flood: %.0f)\n", fdrop);
    fflush(stdout);
    for (int k = 0; k < daemons; k++)
        daemon_stop(&ds[k]);

    return fleet_queries(1);
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv) {
    char steps_arg[256] = "25,50,100,150,200,300,400";
    const char *keep = NULL;
    bool fleet = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            daemon_path = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            snprintf(steps_arg, sizeof steps_arg, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--step-seconds") && i + 1 < argc)
            step_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc)
            keep = argv[++i];
        else if (!strcmp(argv[i], "--fleet"))
            fleet = true;
        else if (!strcmp(argv[i], "--cpu-only") && i + 1 < argc) {
            cpu_only = true;
            flood_rounds = atoi(argv[++i]);
            if (flood_rounds < 1) flood_rounds = 1;
        } else if (!strcmp(argv[i], "--queries-only") && i + 1 < argc) {
            fleet = true;
            query_rounds = atoi(argv[++i]);
            if (query_rounds < 1) query_rounds = 1;
        } else if (!strcmp(argv[i], "--flood-only") && i + 1 < argc) {
            flood_only = true;
            flood_rounds = atoi(argv[++i]);
            if (flood_rounds < 1) flood_rounds = 1;
        } else {
            fprintf(stderr,
                    "usage: %s --daemon PATH [--quick] [--steps 25,50,...] [--step-seconds S] [--keep DIR] "
                    "[--fleet] [--queries-only ROUNDS] [--flood-only ROUNDS] [--cpu-only ROUNDS]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!daemon_path) {
        fprintf(stderr, "bench: --daemon is required\n");
        return 2;
    }
    if (quick) step_seconds = 3;
    log_level = LOG_WARN;
    signal(SIGPIPE, SIG_IGN);
    if (keep) {
        snprintf(workdir, sizeof workdir, "%s", keep);
        mkdir(workdir, 0755);
    } else {
        snprintf(workdir, sizeof workdir, "/tmp/bench-insightd-XXXXXX");
        if (!mkdtemp(workdir)) return 1;
    }
    init_defs();
    if (fleet) {
        if (!(pg_admin = getenv("FA_TEST_PG"))) {
            fprintf(stderr,
                    "bench: --fleet needs a PostgreSQL server: FA_TEST_PG (tests/insightd/pgserver.py)\n");
            return 2;
        }
        int rc = query_rounds ? fleet_queries(query_rounds) : run_fleet();
        if (!keep) {
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
            if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", workdir);
        }
        return rc;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("== bench-insightd: %s, %ld cores, %d tags per frame, %d fps per game, SQLite %s\n", daemon_path,
           cores, TAGS, FPS, sqlite3_libversion());
    print_load("at start");
    fflush(stdout);

    if (cpu_only) {
        for (int round = 0; round < flood_rounds; round++) {
            double loop11, loop12;
            double all11 = cpu_per_frame(60000, 0, &loop11),
                   all12 = cpu_per_frame(60000, FLOOD_BATCH, &loop12);
            printf("cpu per frame: 1.1 loop %.2f us, all %.2f us | 1.2 loop %.2f us, all %.2f us\n", loop11,
                   all11, loop12, all12);
        }
        return 0;
    }
    double raw_packed = sqlite_rate(false, quick ? 1.5 : 3.0);
    double raw_pertag = sqlite_rate(true, quick ? 1.5 : 3.0);
    size_t msg_size = 0;
    double raw_nng = nng_rate(&msg_size);
    printf("\n-- raw peers (same rows / same messages)\n");
    printf("| measure | rate |\n|---|---|\n");
    printf("| SQLite, one row per frame, tags packed (the daemon's layout) | %.0f frames/s |\n", raw_packed);
    printf("| SQLite, one row per tag (64 rows per frame, indexed by tag) | %.0f frames/s |\n", raw_pertag);
    printf("| nng PUSH->PULL over loopback TCP, %zu-byte FRAME messages, nng_recv_aio loop | %.0f msgs/s |\n",
           msg_size, raw_nng);
    fflush(stdout);

    daemon_t d;
    if (daemon_start(&d, "ingest", NULL) != 0) return 1;
    printf("\n-- daemon flooded (one sender, blocking sends)\n");
    printf("| sender | frames stored per second | vs raw SQLite | vs raw nng | dropped at the queue |\n"
           "|---|---|---|---|---|\n");
    int flood_frames = quick ? 20000 : 60000;
    for (int round = 0; round < flood_rounds; round++) {
        /* 1.1: one FRAME per message; 1.2: FRAMES of FLOOD_BATCH frames
         * (an agent that is behind), tag rows as deltas. */
        double drop11 = 0, drop12 = 0;
        double fl11 = flood(&d, flood_frames, &drop11, 0);
        double fl12 = flood(&d, flood_frames, &drop12, FLOOD_BATCH);
        printf("| 1.1 FRAME per message | %.0f | %.2fx | %.2fx | %.0f |\n", fl11, fl11 / raw_packed,
               fl11 / raw_nng, drop11);
        printf("| 1.2 FRAMES of %d | %.0f | %.2fx | %.2fx | %.0f |\n", FLOOD_BATCH, fl12, fl12 / raw_packed,
               fl12 / raw_nng, drop12);
        fflush(stdout);
    }
    printf(
        "\n-- the daemon's CPU per frame without the transport (sessions + writer in this process, CPU time; "
        "raw SQLite: %.2f us of CPU per frame)\n| sender | loop thread us/frame | loop + writer us/frame | "
        "frames/s one core could store | raw SQLite's CPU per frame / the daemon's "
        "|\n|---|---|---|---|---|\n",
        raw_cpu_us);
    for (int round = 0; round < flood_rounds; round++) {
        double loop11, loop12;
        double all11 = cpu_per_frame(flood_frames, 0, &loop11),
               all12 = cpu_per_frame(flood_frames, FLOOD_BATCH, &loop12);
        printf("| 1.1 FRAME per message | %.2f | %.2f | %.0f | %.2fx |\n", loop11, all11, 1e6 / all11,
               raw_cpu_us / all11);
        printf("| 1.2 FRAMES of %d | %.2f | %.2f | %.0f | %.2fx |\n", FLOOD_BATCH, loop12, all12, 1e6 / all12,
               raw_cpu_us / all12);
        fflush(stdout);
    }
    if (flood_only) {
        daemon_stop(&d);
        print_load("at the end");
        return 0;
    }

    printf("\n-- N games x %d fps x %d tags, %.0f s per step (non-blocking sends, like the agent)\n", FPS,
           TAGS, step_seconds);
    printf("| games | frames/s due | frames/s sent | agent drops | stored | daemon drops | catch-up s | "
           "daemon CPU %% | "
           "RSS max MiB | RSS peak (HWM) MiB |\n|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    int first_drop = 0, best = 0;
    char *save = NULL;
    for (char *tok = strtok_r(steps_arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int n = atoi(tok);
        step_t s;
        run_games(&d, n, step_seconds, &s, NULL);
        bool drops = s.agent_dropped > 0 || s.daemon_dropped > 0 || s.stored < s.sent;
        /* the generator shares the 2 cores: below 95 % of the due rate the
         * step measures the generator, not the daemon */
        bool generator_bound = s.sent / s.seconds < 0.95 * n * FPS;
        printf("| %d | %d | %.0f | %.0f | %.0f | %.0f | %.2f | %.0f | %.1f | %.1f |\n", n, n * FPS,
               s.sent / s.seconds, s.agent_dropped, s.stored, s.daemon_dropped, s.lag_s, s.cpu_pct,
               s.rss_max_mib, s.hwm_mib);
        fprintf(stderr,
                "   step %d: queue high-water %.0f msgs, queue-full drops %.0f, orphaned %.0f, "
                "longest commit so far %.0f ms\n",
                n, s.queue_high, s.queue_full, s.orphaned, s.commit_max_ms);
        fflush(stdout);
        if (generator_bound)
            printf("(step %d: the load generator reached only %.0f %% of the due rate on this machine)\n", n,
                   100.0 * s.sent / s.seconds / (n * FPS));
        if (drops && !first_drop) first_drop = n;
        if (!drops && !generator_bound) best = n;
        if (drops || generator_bound) break;
        sleep(1);
    }
    char began[64];
    if (first_drop)
        snprintf(began, sizeof began, "%d games", first_drop);
    else
        snprintf(began, sizeof began, "none up to the last step");
    printf("largest step without drops: %d games (%d frames/s); drops began at: %s\n", best, best * FPS,
           began);
    fflush(stdout);
    daemon_stop(&d);

    /* trend latency over an hour of 60 fps data */
    daemon_t t;
    int hour = quick ? 60 * FPS * 10 : 3600 * FPS;
    double p0 = now_s();
    char trend_db[700];
    snprintf(trend_db, sizeof trend_db, "%s/trend.db", workdir);
    uint64_t sid = populate_hour(trend_db, hour);
    double pop = now_s() - p0;
    if (daemon_start(&t, "trend", (const char *const[]){"--retention", "2h", NULL}) != 0) return 1;
    char path[256], hex[17];
    sid_format(sid, hex);
    int reps = quick ? 50 : 200;
    struct {
        const char *label, *query;
    } qs[] = {
        {"trend, 1 h window, 120 points of 30 s (360 10-second rollups)",
         "trend?tag=sys1&window=1h&points=120"},
        {"trend, 1 h window, 1000 points of 3.6 s (3600 per-second rollups)",
         "trend?tag=sys1&window=1h&points=1000"},
        {"trend, 1 h window, 60 points of 1 min (per-minute rollups)", "trend?tag=sys1&window=1h&points=60"},
        {"trend, 10 s window, 100 points of 100 ms (600 raw frames)", "trend?tag=sys1&window=10s&points=100"},
        {"frames, newest 100", "frames?limit=100"},
        {"tags tree (in memory)", "tags"},
    };
    printf(
        "\n-- query latency over 1 hour of %d fps data (%d frames of %d tags, loaded in %.1f s), %d requests "
        "each\n",
        FPS, hour, TAGS, pop, reps);
    printf("| query | p50 ms idle | p99 ms idle | p50 ms under 100 games | p99 ms under 100 games |\n"
           "|---|---|---|---|---|\n");
    lat_t idle[6], busy[6];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "/api/v1/sessions/%s/%s", hex, qs[i].query);
        idle[i] = measure(&t, path, reps);
    }
    bg_t b = {.d = &t};
    pthread_t bgt;
    pthread_create(&bgt, NULL, background_games, &b);
    sleep(1);
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "/api/v1/sessions/%s/%s", hex, qs[i].query);
        busy[i] = measure(&t, path, reps);
    }
    b.stop = true;
    pthread_join(bgt, NULL);
    for (int i = 0; i < 6; i++)
        printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", qs[i].label, idle[i].p50, idle[i].p99, busy[i].p50,
               busy[i].p99);
    printf("(the 100 games meanwhile: %.0f frames sent, %.0f agent drops, %.0f daemon drops, RSS peak %.1f "
           "MiB)\n",
           b.result.sent, b.result.agent_dropped, b.result.daemon_dropped, b.result.hwm_mib);
    struct stat st;
    char wal[1300];
    snprintf(wal, sizeof wal, "%s-wal", t.db);
    double db_mib = stat(t.db, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
    double wal_mib = stat(wal, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
    printf("database after the hour: %.0f MiB (+ %.0f MiB WAL); daemon RSS peak %.1f MiB\n", db_mib, wal_mib,
           (double)proc_kib(t.pid, "VmHWM") / 1024.0);
    int rc = daemon_stop(&t);
    printf("\ndaemon exit codes: %d\n", rc);
    print_load("at the end");
    if (!keep) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
        if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s\n", workdir);
    }
    return 0;
}
