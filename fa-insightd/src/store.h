/* store.h — the daemon's storage, behind one interface.
 *
 * The functions below are the whole contract between the daemon and its
 * database: no SQL, connection or driver type crosses it. Two backends
 * implement it (store_backend.h is their side): SQLite (store_sqlite.c),
 * an embedded file and the default, and PostgreSQL (store_pg.c, libpq),
 * a server that many daemons write to at once (a fleet). store_open picks
 * one from the location. The daemon hands the writer thread batches of
 * records and asks readers for rows.
 *
 * THREADS
 *   - Writes (store_begin .. store_commit, store_put_*, store_prune,
 *     store_maintain, store_check_file, store_lookup) belong to ONE thread,
 *     the writer thread (writer.c), and MUST NOT be called elsewhere once
 *     it runs. store_open, store_load and store_close run before it starts
 *     and after it stopped.
 *   - Readers (store_reader_*, store_read_*) may be used by any thread,
 *     one reader per thread at a time; they see committed data only.
 *
 * ERRORS
 *   Writes return STORE_OK, STORE_RETRY (the database cannot take the
 *   write now: disk full, file locked, I/O error, server unreachable; the
 *   caller keeps the batch and retries later) or STORE_REJECTED (this one
 *   record is refused for good and skipped; the transaction goes on).
 *   store_error() says why. Reads return STORE_OK, STORE_FAILED or
 *   STORE_CANCELLED.
 *
 * MANY DAEMONS, ONE DATABASE (PostgreSQL)
 *   Session ids are global (agents draw them at random), so daemons never
 *   write the same session at once. A daemon that ingests registers once
 *   (store_load) and owns the sessions it writes; its live sessions are
 *   "live elsewhere" to every other daemon, which the read side lists
 *   (STORE_SESSIONS_ELSEWHERE). A daemon that stops without ending them is
 *   noticed by the others (its connection is gone) and they end them.
 *
 * WHAT A BACKEND MUST KEEP
 *   Time ranges: every row carries a daemon-clock time in unix ms, and
 *   store_prune removes everything older than its horizon by time range,
 *   at a cost independent of how many sessions ever existed (indexes on
 *   time in SQLite; partitions by time in PostgreSQL). Batches: frames,
 *   rollups and findings come in arrays (COPY in PostgreSQL).
 *
 * PER-FRAME ROWS
 *   A frame's rows of every kind (tags, call sites) travel packed in its
 *   blob (pack.h), and a bucket's in the rollup blob, never as rows of their
 *   own. The call-site dictionary is its own table (store_put_site,
 *   store_read_sites), deleted with its session. */
#ifndef FA_INSIGHTD_STORE_H
#define FA_INSIGHTD_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"

/* Schema versions, each backend migrating its own. */
#define STORE_SQLITE_SCHEMA 5
#define STORE_PG_SCHEMA 3

enum { STORE_OK = 0, STORE_RETRY = -1, STORE_REJECTED = -2, STORE_FAILED = -3, STORE_CANCELLED = -4 };

/* Rollup levels: 1 s, 10 s and 1 min buckets. */
enum { STORE_SECOND = 0, STORE_10S = 1, STORE_MINUTE = 2, STORE_LEVELS = 3 };
static inline uint64_t store_level_ms(int level) {
    return level == STORE_SECOND ? 1000u : level == STORE_10S ? 10000u : 60000u;
}

typedef struct store store_t;
typedef struct store_reader store_reader_t;

/* ---- records ------------------------------------------------------------ */

typedef struct store_frame {
    uint64_t session_id, t_ms, frame, duration_ns;
    const uint8_t *blob; /* pack_frame() */
    size_t len;
} store_frame_t;

typedef struct store_rollup {
    uint64_t session_id, t_ms;
    uint32_t frames;
    const uint8_t *blob; /* pack_rollup() */
    size_t len;
} store_rollup_t;

typedef struct store_finding {
    uint64_t session_id, t_ms;
    uint16_t code, tag_id;
    uint8_t kind;
    uint32_t frames, count_max;
    uint64_t value_max;
} store_finding_t;

/* A session's counters after one of its frames: written in the same
 * transaction as the frame, so that after a crash they match what is
 * stored. */
typedef struct store_counters {
    uint64_t frames, last_frame, gaps, agent_dropped, duplicates, rows_rejected, next_seq;
    uint64_t first_ms, last_ms, last_seen_ms;
} store_counters_t;

/* How long each kind of row is kept (ms). */
typedef struct store_keep {
    uint64_t raw;     /* frames */
    uint64_t second;  /* per-second rollups and findings */
    uint64_t ten_sec; /* 10-second rollups */
    uint64_t minute;  /* per-minute rollups */
    uint64_t session; /* ended sessions, their tags and alerts */
} store_keep_t;

/* A read query's way out: a flag another thread sets, and a deadline on
 * the monotonic clock (0: none). A running query notices either within
 * about a millisecond of work. */
typedef struct store_cancel {
    const atomic_int *flag;
    uint64_t deadline_mono_ms;
} store_cancel_t;

/* ---- queries ------------------------------------------------------------ */

/* Frames of a session in [from_ms, to_ms], the oldest first from from_ms
 * (oldest) or the newest first (newest). */
typedef struct store_frames_query {
    uint64_t session_id, from_ms, to_ms;
    bool newest; /* newest first (descending) */
    uint32_t limit;
} store_frames_query_t;
/* Returns 0 to go on, 1 to stop. */
typedef int (*store_frame_fn)(void *ud, const store_frame_t *row);

/* One rollup source row: raw frames (level -1, frames = 1) or a bucket. */
typedef int (*store_series_fn)(void *ud, uint64_t t_ms, uint32_t frames, const uint8_t *blob, size_t len);

/* Alerts, newest raised first (or, with `newer`, oldest first from the
 * cursor), keyset-paged on (raised_ms, id). */
typedef struct store_alerts_query {
    bool has_session;
    uint64_t session_id;
    uint64_t since_ms, until_ms; /* raised or cleared >= since; raised <= until */
    int state;                   /* STORE_ALERTS_* */
    bool has_cursor, newer;      /* rows after (newer: before) the cursor key */
    uint64_t cursor_ms;
    int64_t cursor_id;
    uint32_t limit;
} store_alerts_query_t;
enum { STORE_ALERTS_ALL = 0, STORE_ALERTS_ACTIVE = 1, STORE_ALERTS_CLEARED = 2 };
typedef int (*store_alert_fn)(void *ud, const alert_row_t *row);

/* Per-second findings of a session, newest first (or oldest first from
 * the cursor with `newer`), keyset-paged on (t_ms, row key). */
typedef struct store_findings_query {
    uint64_t session_id, since_ms, until_ms;
    bool has_cursor, newer;
    uint64_t cursor_ms;
    int64_t cursor_key;
    uint32_t limit;
} store_findings_query_t;
typedef struct store_finding_row {
    store_finding_t f;
    int64_t key;      /* the paging key within one t_ms */
    const char *path; /* the tag's path, NULL if it was never named */
    /* summary rows: over the whole period */
    uint64_t first_ms, last_ms;
} store_finding_row_t;
typedef int (*store_finding_fn)(void *ud, const store_finding_row_t *row);

/* Sessions by last activity (newest first) then id, keyset-paged;
 * filters are exact matches ("" or 0: none). `which` picks the ended ones,
 * or the live ones another daemon writes (see MANY DAEMONS above; with
 * SQLite: every live row when this process has not registered, none when
 * it has). */
enum { STORE_SESSIONS_ENDED = 0, STORE_SESSIONS_ELSEWHERE = 1 };
typedef struct store_sessions_query {
    int which;
    const char *app, *host, *build;
    uint64_t since_ms, until_ms; /* last activity within (until 0: none) */
    bool has_cursor;
    uint64_t cursor_ms, cursor_id;
    uint32_t limit;
} store_sessions_query_t;
typedef int (*store_session_fn)(void *ud, const session_info_t *s);

/* The fleet view's figures over the sessions active since since_ms
 * (filters exact, "": none; `tag` takes the tag and its descendants; a
 * tag counts in a session once a frame carried it):
 *   - per (app, build, tag): how many sessions, the spread (p50, p95, max)
 *     of each session's peak and of its per-frame average, the largest
 *     hard budget, how many sessions went over theirs, and the worst
 *     sessions (peak against budget; peak alone without one);
 *   - per (app, build): sessions, hosts (the first STORE_FLEET_HOSTS named,
 *     by name), last activity.
 * Percentiles interpolate linearly between the two nearest ranks (rank
 * p x (n - 1), PostgreSQL's percentile_cont): both stores compute the same
 * figures. A build's groups come in tag path byte order; builds and
 * groups may interleave in any way. The sink's functions return 0 to go
 * on, 1 to stop. */
#define STORE_FLEET_WORST 3
#define STORE_FLEET_HOSTS 16
typedef struct store_fleet_query {
    const char *app, *build, *tag;
    uint64_t since_ms;
} store_fleet_query_t;
typedef struct store_fleet_build {
    const char *app, *build; /* valid during the call, as every string here */
    uint64_t sessions, hosts, last_seen_ms;
    const char *host_names[STORE_FLEET_HOSTS];
    uint32_t host_names_count;
} store_fleet_build_t;
typedef struct store_fleet_worst {
    uint64_t session_id, peak_bytes, budget_hard;
    double avg_bytes;
    bool live;
    const char *host;
} store_fleet_worst_t;
typedef struct store_fleet_group {
    const char *app, *build, *path;
    uint64_t sessions, budget_hard, over_budget;
    double peak[3], avg[3]; /* p50, p95, max */
    store_fleet_worst_t worst[STORE_FLEET_WORST];
    uint32_t worst_count;
} store_fleet_group_t;
typedef struct store_fleet_sink {
    int (*build)(void *ud, const store_fleet_build_t *b);
    int (*group)(void *ud, const store_fleet_group_t *g);
    void *ud;
} store_fleet_sink_t;

/* ---- the interface ------------------------------------------------------ */

/* Opens the store at `location`: a PostgreSQL URI (postgresql://... or
 * postgres://...) or a SQLite file path (created if needed). Refuses a
 * read-only file, an unreachable server or a newer schema (err names
 * which and says where, without a password), migrates, and prepares
 * `readers` read connections. `keep` (NULL: the defaults) is the
 * retention a new PostgreSQL database cuts its partitions for. */
int store_open(store_t **out, const char *location, int readers, const store_keep_t *keep, char *err,
               size_t errcap);
/* Whether location names a PostgreSQL server rather than a file. */
bool store_location_is_pg(const char *location);
/* Commits nothing (call store_commit first), closes every connection. */
void store_close(store_t *st);
/* Where the store is, for people: the file, or the URI without password. */
const char *store_path(const store_t *st);
/* "sqlite" or "postgresql". */
const char *store_kind(const store_t *st);
/* The last write failure, for logs and health ("" when none). */
const char *store_error(const store_t *st);

/* Start-up of a daemon that ingests, before the writer runs: it registers
 * as a writer of the store; sessions left open by a crash are closed
 * ("daemon_restart", and their alerts: with PostgreSQL, those of daemons
 * no longer connected); then id_fn gets the id of every stored session,
 * and fn the views of the `max` most recently active ones.
 * *next_alert_id receives the first alert id this daemon may hand out
 * (SQLite: one more than the largest stored; PostgreSQL: the start of a
 * range of 2^32 ids of its own). */
typedef void (*store_load_fn)(void *ud, session_view_t *v); /* fn owns v */
typedef void (*store_id_fn)(void *ud, uint64_t session_id);
int store_load(store_t *st, uint32_t max, store_load_fn fn, store_id_fn id_fn, void *ud,
               int64_t *next_alert_id);

/* Writer thread. */
int store_begin(store_t *st);
int store_commit(store_t *st);
void store_rollback(store_t *st);
int store_put_session(store_t *st, const session_info_t *s);
int store_put_counters(store_t *st, uint64_t session_id, const store_counters_t *c);
int store_put_tag(store_t *st, uint64_t session_id, const tag_info_t *t);
/* Inserts or replaces the call site (session_id, s->id). */
int store_put_site(store_t *st, uint64_t session_id, const site_info_t *s);
/* Inserts or updates the alert with this id. */
int store_put_alert(store_t *st, const alert_row_t *a);
/* *rejected receives how many rows were refused (and skipped). */
int store_put_frames(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected);
int store_put_rollups(store_t *st, int level, const store_rollup_t *rows, size_t n);
int store_put_findings(store_t *st, const store_finding_t *rows, size_t n);
/* One bounded retention step outside any transaction: deletes at most
 * about max_rows rows older than their horizon; *more tells whether more
 * are due. Returns the rows deleted or STORE_RETRY. */
int64_t store_prune(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more);
/* Between transactions: copies the WAL back (never blocking readers).
 * *wal_reset set when the log was rewound. */
int store_maintain(store_t *st, bool *wal_reset);
/* Whether the database file is still the one opened: 0 yes, 1 it was
 * deleted or replaced (a different file at the path). */
int store_check_file(store_t *st);
/* A session as written so far by this thread (committed or not). 1 and
 * *out (the caller frees it), 0 unknown, or STORE_RETRY. */
int store_lookup(store_t *st, uint64_t session_id, session_view_t **out);

/* Readers (any thread). acquire blocks until a connection is free. */
store_reader_t *store_reader_acquire(store_t *st, const store_cancel_t *cancel);
void store_reader_release(store_t *st, store_reader_t *r);
/* Why the last read failed. */
const char *store_reader_error(const store_reader_t *r);
int store_read_view(store_reader_t *r, uint64_t session_id, session_view_t **out); /* 1, 0 unknown, error */
int store_read_frames(store_reader_t *r, const store_frames_query_t *q, store_frame_fn fn, void *ud);
/* level: -1 raw frames, else STORE_SECOND .. STORE_MINUTE; rows with
 * lo <= t_ms <= hi in time order. tag: -1, or the one tag id the caller
 * reads from rollup blobs; then a backend may hand, instead of a bucket's
 * whole blob, a rollup blob holding that tag's row alone, or NULL when the
 * bucket has none (PostgreSQL does, so that an hour of per-second buckets
 * does not ship every tag of every second). Raw frames come whole. */
int store_read_series(store_reader_t *r, int level, uint64_t session_id, uint64_t lo, uint64_t hi, int tag,
                      store_series_fn fn, void *ud);
int store_read_alerts(store_reader_t *r, const store_alerts_query_t *q, store_alert_fn fn, void *ud);
int store_read_findings(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn, void *ud);
/* Totals per (code, tag, kind) over since..until, most frequent first. */
int store_read_finding_summary(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn,
                               void *ud);
int store_read_sessions(store_reader_t *r, const store_sessions_query_t *q, store_session_fn fn, void *ud);
/* The call sites of a session with these ids (in no particular order; ids
 * it does not know are left out). */
typedef int (*store_site_fn)(void *ud, const site_info_t *s);
int store_read_sites(store_reader_t *r, uint64_t session_id, const uint32_t *ids, size_t n, store_site_fn fn,
                     void *ud);
/* How many sessions are live elsewhere (see store_sessions_query_t). */
int store_count_elsewhere(store_reader_t *r, uint64_t *n);
/* The session `latest` means when this daemon has none live: the live
 * one elsewhere heard from most recently, else the session seen most
 * recently. 1 and *id, 0 none, or an error. */
int store_read_latest(store_reader_t *r, uint64_t *id, uint64_t *last_seen_ms, bool *live);
int store_read_fleet(store_reader_t *r, const store_fleet_query_t *q, const store_fleet_sink_t *sink);

/* Tests: the write connection (sqlite3 *, or PGconn *), NULL for the
 * other backend. */
void *store_sqlite_handle(store_t *st);
void *store_pg_handle(store_t *st);

#endif
