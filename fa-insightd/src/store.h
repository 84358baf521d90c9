/* store.h — the daemon's storage, behind one interface.
 *
 * The functions below are the whole contract between the daemon and its
 * database: no SQL, connection or SQLite type crosses it. SQLite
 * (store_sqlite.c) implements it today; a PostgreSQL backend implements
 * the same functions (and the two become a table of operations chosen at
 * store_open). The daemon hands the writer thread batches of records and
 * asks readers for rows.
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
 *   write now: disk full, file locked, I/O error; the caller keeps the
 *   batch and retries later) or STORE_REJECTED (this one record is refused
 *   for good and skipped; the transaction goes on). store_error() says
 *   why. Reads return STORE_OK, STORE_FAILED or STORE_CANCELLED.
 *
 * WHAT A BACKEND MUST KEEP
 *   Time ranges: every row carries a daemon-clock time in unix ms, and
 *   store_prune removes everything older than its horizon by time range,
 *   at a cost independent of how many sessions ever existed (indexes on
 *   time in SQLite; partitions would do in PostgreSQL). Batches: frames,
 *   rollups and findings come in arrays (COPY-friendly).
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

#define STORE_SCHEMA_VERSION 4

enum { STORE_OK = 0, STORE_RETRY = -1, STORE_REJECTED = -2, STORE_FAILED = -3, STORE_CANCELLED = -4 };

/* Rollup levels: 1 s, 10 s and 1 min buckets. */
enum { STORE_SECOND = 0, STORE_10S = 1, STORE_MINUTE = 2, STORE_LEVELS = 3 };

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

/* Ended sessions, by last activity (newest first) then id, keyset-paged;
 * filters are exact matches ("" or 0: none). */
typedef struct store_sessions_query {
    const char *app, *host;
    uint64_t since_ms, until_ms; /* last activity within (until 0: none) */
    bool has_cursor;
    uint64_t cursor_ms, cursor_id;
    uint32_t limit;
} store_sessions_query_t;
typedef int (*store_session_fn)(void *ud, const session_info_t *s);

/* ---- the interface ------------------------------------------------------ */

/* Opens (creating if needed) the database at path: refuses a read-only
 * file or a newer schema (err names which), migrates, and prepares
 * `readers` read connections. */
int store_open(store_t **out, const char *path, int readers, char *err, size_t errcap);
/* Commits nothing (call store_commit first), closes every connection. */
void store_close(store_t *st);
const char *store_path(const store_t *st);
/* The last write failure, for logs and health ("" when none). */
const char *store_error(const store_t *st);

/* Start-up, before the writer runs: sessions left open by a crash are
 * closed ("daemon_restart", and their alerts), then id_fn gets the id of
 * every stored session, and fn the views of the `max` most recently
 * active ones. *next_alert_id receives one more than the largest alert
 * id stored. */
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
 * lo <= t_ms <= hi in time order. */
int store_read_series(store_reader_t *r, int level, uint64_t session_id, uint64_t lo, uint64_t hi,
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

/* Tests. */
void *store_sqlite_handle(store_t *st); /* the write connection (sqlite3 *) */

#endif
