/*
 * insightd.h — the one internal header of fa-insightd, the telemetry daemon.
 *
 * SHAPE
 *   nng threads (ingest PULL, HTTP handlers, WebSocket aios) never touch the
 *   daemon's state: they queue what they received and wake the libuv loop
 *   with uv_async_send. The loop thread owns everything else: sessions and
 *   tags (sessions.c), rollups (rollup.c), alerts (alerts.c), the single
 *   SQLite writer (store.c), WebSocket clients (ws.c) and the HTTP routing
 *   (http.c, api.c, static.c). Read queries that could stall ingest run on
 *   libuv's thread pool with read-only connections (query.c).
 *
 * MODULES (one prefix per file)
 *   log_     log.c      level-filtered, rate-limited logging
 *   config_  config.c   one table drives flags, config file and defaults
 *   pack_    pack.c     varint blobs for frames and rollups
 *   json_    json.c     cJSON helpers and the shared JSON shapes
 *   alerts_  alerts.c   budget hysteresis state machine (pure)
 *   rollup_  rollup.c   per-second / per-minute accumulators
 *   store_   store.c    SQLite writer: schema, migrations, batches, retention
 *   query_   query.c    read-only connection pool and read queries
 *   sessions_ sessions.c sessions, tags, message handling
 *   ingest_  ingest.c   nng PULL receive loop and hand-off queue
 *   http_    http.c     nng HTTP server, request queue, replies
 *   api_     api.c      /api/v1 routes and parameter validation
 *   static_  static.c   the web root
 *   ws_      ws.c       WebSocket live stream
 *
 * THREADS
 *   Unless a declaration says otherwise, a function MUST be called on the
 *   loop thread. Functions marked "any thread" take no daemon state.
 */
#ifndef FA_INSIGHTD_H
#define FA_INSIGHTD_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <sqlite3.h>
#include <uv.h>

#include "fa_proto.h"
#include "framealloc.h"

#define INSIGHTD_NAME "fa-insightd"
#define INSIGHTD_VERSION FA_VERSION_STRING

/* ------------------------------------------------------------------------ */
/* Small shared helpers (any thread)                                         */
/* ------------------------------------------------------------------------ */

/* Wall-clock time in unix milliseconds. */
static inline uint64_t insightd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Monotonic time in milliseconds (durations, rate limits). */
static inline uint64_t insightd_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Session ids are written as exactly 16 lower-case hex digits everywhere
 * (JSON, URLs, logs): a u64 does not fit a JavaScript number. */
#define SID_HEX_LEN 16
static inline void insightd_sid_format(uint64_t id, char out[SID_HEX_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = SID_HEX_LEN - 1; i >= 0; i--) {
        out[i] = hex[id & 0xfu];
        id >>= 4;
    }
    out[SID_HEX_LEN] = '\0';
}

/* Parses exactly 16 hex digits (either case) into *out. Returns 0, or -1
 * for anything else (other lengths, signs, spaces, the id 0). */
static inline int insightd_sid_parse(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (strnlen(s, SID_HEX_LEN + 1) != SID_HEX_LEN) return -1;
    for (int i = 0; i < SID_HEX_LEN; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = (v << 4) | d;
    }
    if (v == 0) return -1;
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* log.c                                                                     */
/* ------------------------------------------------------------------------ */

enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* The level in force; messages above it are not formatted at all. */
extern int log_level;

/* Parses "error", "warn", "info" or "debug". Returns the level or -1. */
int log_level_parse(const char *name);
const char *log_level_name(int level);

/* Writes one line "<time> <level> fa-insightd: <message>" to stderr (or to
 * the hook). Any thread: lines are written whole. Prefer the LOG macro. */
void log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                                                                                      \
    do {                                                                                                     \
        if ((level) <= log_level) log_write((level), __VA_ARGS__);                                           \
    } while (0)

/* At most one line per interval for a recurring condition (malformed
 * input, full queues). The next line written says how many were
 * suppressed. Zero-initialise; one limiter per condition; not thread-safe
 * (use it from one thread). */
typedef struct log_limiter {
    uint64_t last_ms;    /* monotonic time of the last line written */
    uint64_t suppressed; /* lines swallowed since */
} log_limiter_t;
void log_limited(log_limiter_t *lim, uint64_t interval_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Tests: route every line to hook (NULL restores stderr). The hook gets
 * the level and the formatted message without the prefix. */
typedef void (*log_hook_fn)(int level, const char *msg);
void log_set_hook(log_hook_fn hook);

/* ------------------------------------------------------------------------ */
/* config.c                                                                  */
/* ------------------------------------------------------------------------ */

#define CONFIG_PATH_MAX 1024

/* What is in force: defaults, then the config file, then flags. */
typedef struct config {
    char listen[256]; /* host:port of HTTP + WebSocket */
    char ingest[256]; /* nng URL of the PULL socket */
    char db_path[CONFIG_PATH_MAX];
    char web_root[CONFIG_PATH_MAX]; /* "" until config_resolve_web_root */
    char config_file[CONFIG_PATH_MAX];
    uint64_t retention_ms;        /* raw frames */
    uint64_t rollup_retention_ms; /* per-second rollups and findings */
    uint64_t commit_interval_ms;
    uint64_t session_timeout_ms;
    uint64_t ws_send_timeout_ms;
    uint32_t ws_rate; /* frame messages per second per WebSocket client */
    int log_level;
    bool allow_remote;
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

/* Parses "250ms", "10s", "5m", "1h", "7d" or a plain number of seconds.
 * Returns 0 and *out in ms, or -1. Any thread. */
int config_parse_duration(const char *s, uint64_t *out_ms);

/* Splits "host:port" / "[v6]:port". Returns 0 or -1. Any thread. */
int config_split_hostport(const char *addr, char *host, size_t hostcap, int *port);

/* Whether host names the loopback interface (127.0.0.0/8, ::1, localhost). */
bool config_host_is_loopback(const char *host);

/* Whether an nng URL listens only locally (loopback tcp, ipc, inproc). */
bool config_url_is_local(const char *url);

/* ------------------------------------------------------------------------ */
/* Counters (loop thread unless atomic)                                      */
/* ------------------------------------------------------------------------ */

#define STATS_REJECT_REASONS 16 /* index: -fa_proto_err */

typedef struct insightd_stats {
    /* ingest, written by the nng receive callback */
    atomic_uint_fast64_t received; /* messages taken off the socket */
    atomic_uint_fast64_t received_bytes;
    atomic_uint_fast64_t queue_dropped; /* hand-off queue full */
    atomic_uint_fast64_t queue_depth;
    atomic_uint_fast64_t queue_high_water;
    /* message handling (loop) */
    uint64_t rejected; /* failed to decode */
    uint64_t rejected_by[STATS_REJECT_REASONS];
    uint64_t accepted_by_type[5];  /* index fa_proto_type */
    uint64_t frames_stored;        /* committed to SQLite */
    uint64_t frames_uncommitted;   /* inserted, not committed */
    uint64_t frames_dropped_store; /* insert failed */
    uint64_t orphaned;             /* messages of sessions never introduced */
    uint64_t pending;              /* messages waiting for their HELLO */
    uint64_t gaps;                 /* missing sequence numbers */
    uint64_t out_of_order;         /* seq below the expected one */
    /* store */
    uint64_t commits, commit_errors, store_errors;
    uint64_t commit_ms_last, commit_ms_max;
    uint64_t last_commit_unix_ms;
    uint64_t retention_deleted;
    uint64_t wal_resets;
    /* WebSocket */
    uint64_t ws_accepted, ws_clients, ws_sent, ws_merged, ws_dropped, ws_closed_slow, ws_bad_messages;
    /* HTTP */
    uint64_t http_requests, http_4xx, http_5xx, http_inflight;
} insightd_stats_t;

extern insightd_stats_t g_stats;

/* ------------------------------------------------------------------------ */
/* pack.c — compact blobs (any thread)                                       */
/* ------------------------------------------------------------------------ */

/* Frame blob, version 1: the frame's scalars, kind totals, promotions,
 * transfers, tag rows (ids delta-coded), thread rows and findings, every
 * integer an unsigned LEB128 varint. One row per frame with this blob is
 * what frames holds (see store.c for why not one row per tag). */
#define PACK_FRAME_VERSION 1
#define PACK_ROLLUP_VERSION 1

/* Upper bound of pack_frame()'s output for a frame. */
size_t pack_frame_bound(const fa_proto_frame_t *f);
/* Encodes f's rows into out[0..cap). Returns the length, or 0 if cap is too
 * small. */
size_t pack_frame(const fa_proto_frame_t *f, uint8_t *out, size_t cap);

/* A decoded frame blob: rows live in caller storage (fa_proto_space_t).
 * Returns 0 or -1 for a malformed blob (never reads outside it). */
int pack_unframe(const uint8_t *blob, size_t len, fa_proto_frame_t *out, fa_proto_storage_t *st);

/* One tag's values in a rollup bucket. */
typedef struct pack_rollup_row {
    uint16_t id;
    uint64_t min, avg, max, last;
} pack_rollup_row_t;

size_t pack_rollup_bound(uint32_t rows);
/* rows MUST be sorted by id. Returns the length or 0 if cap is too small. */
size_t pack_rollup(const pack_rollup_row_t *rows, uint32_t n, uint8_t *out, size_t cap);
/* Finds one tag's row in a rollup blob. Returns 1 found, 0 absent, -1
 * malformed. */
int pack_rollup_find(const uint8_t *blob, size_t len, uint16_t id, pack_rollup_row_t *out);
/* Finds one tag's live bytes in a frame blob without decoding the rest.
 * Returns 1 found, 0 absent, -1 malformed. */
int pack_frame_find_live(const uint8_t *blob, size_t len, uint16_t id, uint64_t *live);

/* Varints, exposed for tests. */
size_t pack_put_varint(uint8_t *out, uint64_t v);
/* Returns bytes consumed, or 0 when the varint is truncated or longer than
 * 10 bytes. */
size_t pack_get_varint(const uint8_t *in, size_t len, uint64_t *v);

/* ------------------------------------------------------------------------ */
/* alerts.c — budget hysteresis (pure, any thread)                           */
/* ------------------------------------------------------------------------ */

/* Thresholds in percent of the hard budget. */
#define ALERT_WARN_PCT 80u
#define ALERT_CRIT_PCT 100u
#define ALERT_CLEAR_PCT 75u

enum { ALERT_NONE = 0, ALERT_WARNING = 1, ALERT_CRITICAL = 2 };
enum { ALERT_EV_NONE = 0, ALERT_EV_RAISED, ALERT_EV_ESCALATED, ALERT_EV_CLEARED };

/* One tag's alert state. An episode starts at >= 80 % (warning) or >= 100 %
 * (critical), may escalate from warning to critical, and ends only below
 * 75 %: usage hovering around 80 % or 100 % raises nothing new. */
typedef struct alert_state {
    uint8_t level;         /* ALERT_* while an episode is open, else NONE */
    uint8_t episode_level; /* highest level of the current or last episode */
    int64_t id;            /* store row id of the open episode, 0 if none */
    uint64_t raised_ms;
    uint64_t raised_bytes;
    uint64_t peak_bytes;  /* highest usage in the episode */
    uint64_t budget_hard; /* the budget when raised (or last seen) */
    bool peak_dirty;      /* peak changed since the row was written */
} alert_state_t;

/* Feeds one usage sample. Returns an ALERT_EV_* and updates st (level,
 * raised_ms on raise, peak). A hard budget of 0 means no budget: an open
 * episode is cleared. O(1). */
int alerts_eval(alert_state_t *st, uint64_t usage, uint64_t hard, uint64_t t_ms);
const char *alerts_level_name(int level); /* "warning", "critical", "none" */
/* usage / hard in percent (0 when hard is 0). */
double alerts_pct(uint64_t usage, uint64_t hard);

/* ------------------------------------------------------------------------ */
/* rollup.c — accumulators                                                   */
/* ------------------------------------------------------------------------ */

typedef struct rollup_acc {
    uint64_t min, max, sum, last;
    uint32_t n;
} rollup_acc_t;

static inline void rollup_add(rollup_acc_t *a, uint64_t v) {
    if (a->n == 0 || v < a->min) a->min = v;
    if (a->n == 0 || v > a->max) a->max = v;
    a->sum += v;
    a->last = v;
    a->n++;
}

/* Rollup levels: 1 s, 10 s and 1 min buckets. */
enum { ROLLUP_SECOND = 0, ROLLUP_10S = 1, ROLLUP_MINUTE = 2, ROLLUP_LEVELS = 3 };
static inline uint64_t rollup_width_ms(int level) {
    return level == ROLLUP_SECOND ? 1000u : level == ROLLUP_10S ? 10000u : 60000u;
}
static inline uint64_t rollup_bucket_start(int level, uint64_t t_ms) {
    return t_ms - t_ms % rollup_width_ms(level);
}

/* ------------------------------------------------------------------------ */
/* Sessions and tags (sessions.c), read by api.c and ws.c on the loop        */
/* ------------------------------------------------------------------------ */

typedef struct ws_buf ws_buf_t;

typedef struct tag {
    uint16_t id, parent_id;
    bool defined; /* named by HELLO or TAGS */
    bool seen;    /* appeared in a FRAME */
    bool dirty;   /* live/peak changed since last saved */
    char *path;   /* owned; "#<id>" until defined */
    uint64_t budget_soft, budget_hard;
    uint64_t live_bytes, peak_bytes; /* latest FRAME row; peak is the agent's */
    uint64_t frame_bytes, pool_bytes, heap_bytes, alloc_count;
    alert_state_t alert;
    rollup_acc_t acc[ROLLUP_LEVELS]; /* by ROLLUP_* level */
} tag_t;

/* Findings of the current second, merged by (code, tag, kind). */
typedef struct finding_acc {
    uint16_t code, tag_id;
    uint8_t kind;
    uint32_t frames, count_max;
    uint64_t value_max;
} finding_acc_t;

typedef struct session {
    uint64_t id;
    uint32_t slot; /* index in sessions_t, stable for the daemon's life */
    char app[256], label[256], host[256], build_id[256];
    uint32_t pid, lib_version;
    uint64_t start_unix_ns, start_mono_ns;
    bool have_hello;
    bool live;
    bool dirty;                 /* counters changed since saved */
    uint64_t started_ms;        /* start_unix_ns in ms */
    uint64_t first_ms, last_ms; /* frame wall times */
    uint64_t last_recv_mono;    /* daemon clock of the last message */
    uint64_t ended_ms;          /* 0 while live */
    const char *end_reason;     /* static string or NULL */
    uint64_t frames;            /* FRAMEs accepted (the WebSocket counter) */
    uint64_t last_frame;        /* frame number of the latest FRAME */
    uint64_t gaps, agent_dropped, unknown_types, findings_dropped;
    uint64_t next_seq;
    bool seq_known;
    /* the latest FRAME's scalars (tags hold their own latest values) */
    uint64_t last_duration_ns;
    uint32_t last_frames_dropped, last_tags_total, last_threads_total;
    fa_proto_kind_totals_t totals[FA_PROTO_KIND_COUNT];
    /* tags: dense array + two-level id index (id >> 8, id & 255) */
    tag_t *tags;
    uint32_t tag_count, tag_cap;
    uint32_t *tag_index[256]; /* slot + 1, 0 for none; pages allocated lazily */
    /* rollup buckets */
    uint64_t bucket_start[ROLLUP_LEVELS];
    uint32_t bucket_frames[ROLLUP_LEVELS];
    finding_acc_t *findings;
    uint32_t finding_count, finding_cap;
    uint32_t active_alerts;
    /* WebSocket frame message cache (built lazily, shared by clients) */
    ws_buf_t *frame_json;
    uint64_t frame_json_frames; /* value of `frames` it was built for */
    struct session *hash_next;
} session_t;

/* What sessions.c tells the rest of the daemon (ws.c in the program,
 * capturing hooks in tests). Called on the loop thread; MUST NOT re-enter
 * sessions_handle. */
typedef struct alert_event {
    int event;                /* ALERT_EV_RAISED / _ESCALATED / _CLEARED */
    const char *clear_reason; /* "usage", "budget_removed", "session_end" */
    uint64_t cleared_ms;
} alert_event_t;

typedef struct sessions_hooks {
    void (*on_frame)(void *ud, session_t *s);
    void (*on_alert)(void *ud, session_t *s, tag_t *t, const alert_event_t *ev);
    void (*on_session)(void *ud, session_t *s, const char *event); /* "start", "end" */
    void *ud;
} sessions_hooks_t;

typedef struct store store_t;
typedef struct sessions sessions_t;

/* Bounds of frames kept for sessions whose HELLO has not arrived. */
#define PENDING_MAX_SESSIONS 256u
#define PENDING_MAX_PER_SESSION 1024u
#define PENDING_MAX_BYTES (16u * 1024u * 1024u)
#define PENDING_TIMEOUT_MS 30000u

/* Creates the session table and loads the sessions known to the store
 * (most recent first, at most `max_loaded`). store MUST outlive it. */
sessions_t *sessions_create(store_t *store, const config_t *cfg, const sessions_hooks_t *hooks,
                            uint32_t max_loaded);
void sessions_destroy(sessions_t *ss);

/* Handles one protocol message (bytes as received). recv_mono is the
 * daemon's monotonic ms at receipt. Malformed messages are counted and
 * logged (rate-limited). O(rows). */
void sessions_handle(sessions_t *ss, const void *buf, size_t len, uint64_t recv_mono);

/* Housekeeping, about once a second: ends sessions silent for longer than
 * the timeout, orphans pending frames older than PENDING_TIMEOUT_MS, saves
 * dirty sessions/tags/alerts when save is true. */
void sessions_tick(sessions_t *ss, uint64_t now_mono, bool save);

/* Shutdown: flushes partial rollup buckets and findings, saves everything
 * dirty. The caller commits. */
void sessions_flush(sessions_t *ss);

session_t *sessions_find(sessions_t *ss, uint64_t id);
/* The live session with the newest frame, else the most recently active
 * one; NULL when there is none. */
session_t *sessions_latest(sessions_t *ss);
uint32_t sessions_count(const sessions_t *ss);
/* By slot (0..count-1); NULL for a free slot. */
session_t *sessions_at(sessions_t *ss, uint32_t slot);
uint32_t sessions_live_count(const sessions_t *ss);
tag_t *sessions_tag(session_t *s, uint16_t id);
/* Finds a tag by path ("/" or "" for the root; one leading '/' ignored). */
tag_t *sessions_tag_by_path(session_t *s, const char *path);
/* Whether any alert event happened since the last call (commit early). */
bool sessions_take_alert_flag(sessions_t *ss);

/* rollup.c: advances the session's open buckets to the frame time t_ms
 * (closing and writing those it leaves), once per FRAME before its rows
 * are accumulated; and writes one open bucket now (session end, shutdown). */
void rollup_advance(session_t *s, uint64_t t_ms, store_t *st);
void rollup_flush(session_t *s, int level, store_t *st);

/* ------------------------------------------------------------------------ */
/* store.c — the single SQLite writer (loop thread)                          */
/* ------------------------------------------------------------------------ */

#define STORE_SCHEMA_VERSION 2
/* WAL pages (4 KiB) above which the writer rewinds the WAL after a commit. */
#define STORE_WAL_RESET_PAGES 8192

/* Opens (creating if needed) the database, refuses a read-only file or a
 * newer schema, migrates, enables WAL and prepares the statements. Returns
 * 0 or -1 with the reason in err. */
int store_open(store_t **out, const char *path, char *err, size_t errcap);
/* Commits what is pending and closes. */
void store_close(store_t *st);
sqlite3 *store_db(store_t *st);

/* Writes happen inside one open transaction, begun by the first write and
 * committed by store_commit (every commit interval, early after alerts, and
 * at shutdown). Each returns 0 or -1 (counted in g_stats.store_errors). */
int store_commit(store_t *st);
uint64_t store_rows_in_txn(const store_t *st);

int store_save_session(store_t *st, const session_t *s);
int store_save_tag(store_t *st, uint64_t sid, const tag_t *t);
int store_insert_frame(store_t *st, uint64_t sid, uint64_t t_ms, uint64_t frame, uint64_t duration_ns,
                       const void *blob, size_t len);
int store_insert_rollup(store_t *st, int level, uint64_t sid, uint64_t t_ms, uint32_t frames,
                        const void *blob, size_t len);
int store_insert_finding(store_t *st, uint64_t sid, uint64_t t_ms, const finding_acc_t *f);
/* Inserts a new alert row (id 0) and sets st->id, or updates the row. */
int store_save_alert(store_t *st, uint64_t sid, const tag_t *t, alert_state_t *a, uint64_t cleared_ms,
                     const char *clear_reason);

/* Copies the WAL back into the database (a PASSIVE checkpoint: it never
 * blocks the writer or readers) with the store's own checkpoint
 * connection. Any thread, but one call at a time and never concurrently
 * with store_close; the daemon runs it on the thread pool about once a
 * second. Writes the WAL size and the frames copied (pages). */
int store_checkpoint(store_t *st, int *wal_frames, int *copied);
/* Tests: the WAL size (pages) that makes store_commit rewind the WAL. */
void store_set_wal_reset_pages(store_t *st, int pages);

/* How long each kind of row is kept (ms). */
typedef struct store_keep {
    uint64_t raw;     /* frames */
    uint64_t second;  /* per-second rollups and findings */
    uint64_t ten_sec; /* 10-second rollups */
    uint64_t minute;  /* per-minute rollups */
} store_keep_t;

/* Deletes at most max_rows rows older than their horizon (relative to
 * now_ms). Returns rows deleted (>= 0) or -1. */
int64_t store_retention(store_t *st, uint64_t now_ms, const store_keep_t *keep, int max_rows);

/* Startup: calls fn for each stored session (most recent first, at most
 * max), then tag_fn for each of its tags. Sessions left open by a crash
 * come back ended ("daemon_restart") and their open alerts cleared. */
typedef void (*store_session_fn)(void *ud, const session_t *s);
typedef void (*store_tag_fn)(void *ud, uint64_t sid, const tag_t *t);
int store_load(store_t *st, uint32_t max, store_session_fn fn, store_tag_fn tag_fn, void *ud);

/* ------------------------------------------------------------------------ */
/* query.c — read-only connections on the thread pool (any thread)           */
/* ------------------------------------------------------------------------ */

typedef struct query_pool query_pool_t;

/* Opens n read-only connections to path (which must exist). */
int query_pool_open(query_pool_t **out, const char *path, int n, char *err, size_t errcap);
void query_pool_close(query_pool_t *p);
/* Blocks until a connection is free; release it after use. Any thread. */
sqlite3 *query_acquire(query_pool_t *p);
void query_release(query_pool_t *p, sqlite3 *db);

/* Each builds its JSON document or returns NULL and sets *status/err.
 * Any thread, one connection each. */
typedef struct query_result {
    int status;    /* HTTP status */
    char code[48]; /* error code when status != 200 */
    char message[256];
} query_result_t;

/* The frames document as JSON text (malloc'd; *len set), or NULL. */
char *query_frames(sqlite3 *db, uint64_t sid, uint64_t from_ms, uint64_t to_ms, bool has_from, bool has_to,
                   uint32_t limit, query_result_t *res, size_t *len);
cJSON *query_trend(sqlite3 *db, uint64_t sid, uint16_t tag_id, uint64_t end_ms, uint64_t window_ms,
                   uint32_t points, query_result_t *res);
cJSON *query_alerts(sqlite3 *db, bool has_session, uint64_t sid, uint64_t since_ms, int state,
                    query_result_t *res);
cJSON *query_findings(sqlite3 *db, uint64_t sid, uint64_t since_ms, uint32_t limit, query_result_t *res);

enum { QUERY_STATE_ALL = 0, QUERY_STATE_ACTIVE = 1, QUERY_STATE_CLEARED = 2 };
#define QUERY_MAX_ALERTS 10000u

/* ------------------------------------------------------------------------ */
/* json.c — shared JSON shapes (loop thread for session/tag objects)         */
/* ------------------------------------------------------------------------ */

/* Adds an unsigned 64-bit integer printed exactly (cJSON numbers are
 * doubles). */
cJSON *json_add_u64(cJSON *obj, const char *name, uint64_t v);
cJSON *json_u64(uint64_t v);
/* Adds v, or null when present is false. */
cJSON *json_add_u64_or_null(cJSON *obj, const char *name, uint64_t v, bool present);
cJSON *json_add_sid(cJSON *obj, const char *name, uint64_t sid);
/* {"error":{"code":..,"message":..[,"parameter":..]}} as a malloc'd
 * string. Any thread. */
char *json_error_body(const char *code, const char *message, const char *parameter);

cJSON *json_session(const session_t *s);
cJSON *json_kind_totals(const fa_proto_kind_totals_t totals[FA_PROTO_KIND_COUNT]);
/* The alert object of the API and the WebSocket (live state of a tag). */
cJSON *json_alert_live(const session_t *s, const tag_t *t, const alert_event_t *ev);
const char *json_finding_name(int code);
const char *json_finding_meaning(int code);
const char *json_kind_name(int kind);

/* A streaming JSON writer for the big documents (frames): no allocation
 * per value, unlike cJSON, whose node-per-value costs dominated the
 * frames route (measured: 1.5 s for 1000 frames x 64 tags, 0.1 s with
 * this). Keys are written as given (they are literals); string values are
 * escaped. Any thread; one writer per document. */
typedef struct json_writer {
    char *buf;
    size_t len, cap;
    bool comma; /* a value was written at this level */
    bool failed;
} json_writer_t;

void jw_begin_object(json_writer_t *w, const char *key); /* key NULL inside arrays */
void jw_end_object(json_writer_t *w);
void jw_begin_array(json_writer_t *w, const char *key);
void jw_end_array(json_writer_t *w);
void jw_u64(json_writer_t *w, const char *key, uint64_t v);
void jw_str(json_writer_t *w, const char *key, const char *v);
void jw_bool(json_writer_t *w, const char *key, bool v);
void jw_sid(json_writer_t *w, const char *key, uint64_t sid);
/* Appends raw JSON text as the next value. */
void jw_raw(json_writer_t *w, const char *key, const char *json, size_t len);
/* The document (malloc'd, NUL-terminated) or NULL when out of memory; the
 * writer is reset. */
char *jw_finish(json_writer_t *w, size_t *len);
void jw_free(json_writer_t *w);

/* ------------------------------------------------------------------------ */
/* ingest.c                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct ingest ingest_t;
typedef void (*ingest_sink_fn)(void *ud, const void *buf, size_t len, uint64_t recv_mono);

/* Hand-off queue bounds: messages and bytes waiting for the loop. 24 MiB
 * is over a second of 100 games at 60 fps x 64 tags: enough to ride out a
 * slow commit, small enough to keep the daemon's RSS under 64 MiB when it
 * is overrun (BENCH.md). */
#define INGEST_QUEUE_MAX_MSGS 65536u
#define INGEST_QUEUE_MAX_BYTES (24u * 1024u * 1024u)
/* Messages handled per loop wake-up before yielding to other handles. */
#define INGEST_BATCH 2048u

/* Listens on url with an nng PULL socket and hands every message to sink
 * on the loop thread. bound_url receives the URL really bound (port 0 is
 * resolved). Returns 0 or -1 with err. */
int ingest_start(ingest_t **out, uv_loop_t *loop, const char *url, ingest_sink_fn sink, void *ud,
                 char *bound_url, size_t bound_cap, char *err, size_t errcap);
/* Stops receiving: new messages are discarded at once, and a thread closes
 * the socket (nng may need the loop to keep turning meanwhile). When it is
 * closed, the loop hands the queued messages to the sink and calls
 * on_stopped(ud) once. ingest_free after the loop ended (the uv handle is
 * closed with the others). */
void ingest_stop(ingest_t *in, void (*on_stopped)(void *), void *ud);
bool ingest_stopped(const ingest_t *in);
/* When nng's close never returns (seen with nng 1.5.2 under load: the
 * closing thread waits on a condition nobody signals), the loop stops
 * waiting: hands the queued messages to the sink, calls on_stopped and
 * returns true (false if the socket closed meanwhile, then the normal path
 * reports it). */
bool ingest_abandon(ingest_t *in);
/* Frees the ingest; false (and nothing freed) after an abandon, when nng
 * may still use it: the process should then exit without nng's teardown. */
bool ingest_free(ingest_t *in);

/* ------------------------------------------------------------------------ */
/* http.c, api.c, static.c, ws.c                                             */
/* ------------------------------------------------------------------------ */

typedef struct http http_t;
typedef struct ws ws_t;

/* One queued HTTP request. The aio MUST be finished exactly once, on the
 * loop thread, through http_reply*. */
typedef struct http_req {
    void *aio;       /* nng_aio * of the handler */
    void *req;       /* nng_http_req * */
    void *conn;      /* nng_http_conn * */
    void *res;       /* nng_http_res * while we write it ourselves */
    void *write_aio; /* nng_aio * of that write */
    int kind;        /* HTTP_KIND_* */
    const char *method;
    const char *uri; /* raw request target, query included */
    struct http_req *next;
} http_req_t;

enum { HTTP_KIND_API = 1, HTTP_KIND_STATIC = 2 };

/* Everything a handler may need, owned by main. */
typedef struct insightd_ctx {
    uv_loop_t *loop;
    config_t *cfg;
    sessions_t *sessions;
    store_t *store;
    query_pool_t *readers;
    http_t *http;
    ws_t *ws;
    uint64_t started_ms, started_mono;
    char http_url[300];
    char ingest_url[300];
    bool web_root_ok;
    char web_root_real[CONFIG_PATH_MAX];
} insightd_ctx_t;

/* Starts the HTTP server on cfg->listen with the API, static and WebSocket
 * routes. bound_url receives "http://host:port" with the real port. */
int http_start(http_t **out, insightd_ctx_t *ctx, char *err, size_t errcap);
/* Shutdown step 1: new requests get 503; queued ones still run. */
void http_drain(http_t *h);
/* Requests accepted and not yet answered. */
uint64_t http_inflight(const http_t *h);
/* Shutdown step 2: stops the server (hard: open connections are closed;
 * responses still being written fail and complete). Call after the
 * WebSocket listeners closed: each holds the shared server started. */
void http_stop(http_t *h);
/* Last step: closes the wake-up handle once nothing is in flight (a write
 * completion needs it until then). */
void http_close_when_idle(http_t *h);
bool http_owns_handle(const http_t *h, const uv_handle_t *handle);
void http_free(http_t *h);

/* Replies (loop thread). body is copied. extra_headers: NULL-terminated
 * name, value pairs, or NULL. */
void http_reply(http_req_t *r, uint16_t status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers);
void http_reply_json(http_req_t *r, uint16_t status, const char *json);
/* A JSON error; parameter may be NULL. */
void http_reply_error(http_req_t *r, uint16_t status, const char *code, const char *parameter,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Runs work(arg) on the thread pool, then done(arg) on the loop; counts
 * as in flight until done returns. Returns 0 or -1. */
int http_queue_work(http_t *h, void (*work)(void *), void (*done)(void *, int status), void *arg);

void api_handle(insightd_ctx_t *ctx, http_req_t *r);
void static_handle(insightd_ctx_t *ctx, http_req_t *r);

/* Pure helpers, exposed for tests (any thread). */
typedef struct api_param {
    char name[32];
    char value[512];
} api_param_t;
#define API_MAX_PARAMS 16
/* Percent-decodes in place ('+' is a space in queries only). Returns the
 * new length, or -1 for a bad escape or an encoded NUL. */
int api_url_decode(char *s, bool plus_is_space);
/* Splits a query string. Returns the count, or -1 with err (too many,
 * too long, bad escape, empty name, duplicate). */
int api_parse_query(const char *query, api_param_t *out, int cap, char *err, size_t errcap);

/* Resolves a request target under root_real (a realpath). Writes the file
 * path into out. Returns 0 when found, 404 otherwise (missing, outside the
 * root, "." or ".." segments, bad escapes, encoded NUL). */
int static_resolve(const char *root_real, const char *target, char *out, size_t cap);
const char *static_mime_type(const char *path);

int ws_start(ws_t **out, insightd_ctx_t *ctx, char *err, size_t errcap);
/* Sessions hooks (installed by main). */
void ws_on_frame(void *ud, session_t *s);
void ws_on_alert(void *ud, session_t *s, tag_t *t, const alert_event_t *ev);
void ws_on_session(void *ud, session_t *s, const char *event);
/* Shutdown: closes every client and the listeners. */
void ws_close_all(ws_t *w);
/* Clients not yet freed (0 once everything closed). */
uint64_t ws_open_clients(const ws_t *w);
void ws_free(ws_t *w);
/* Clients with a send in flight for longer than 1 s. */
uint64_t ws_stalled(const ws_t *w);

/* The JSON stream splitter used for client messages: finds the end of the
 * first complete top-level JSON object or array in buf[0..len). Returns
 * its length, 0 if incomplete, -1 if buf does not start a JSON value
 * (after white space). Any thread. */
long ws_json_extent(const char *buf, size_t len, size_t *skip);

/* ws message buffers: refcounted, shared by clients (loop thread). */
struct ws_buf {
    uint32_t refs;
    size_t len;
    char data[];
};
ws_buf_t *ws_buf_new(const char *data, size_t len);
ws_buf_t *ws_buf_take(char *printed); /* takes a cJSON_Print string */
void ws_buf_unref(ws_buf_t *b);

#endif /* FA_INSIGHTD_H */
