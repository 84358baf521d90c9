/* store_sqlite.c — the SQLite backend of store.h.
 *
 * LAYOUT. Raw frames are one row per frame with every tag row (and call
 * site row) packed into a varint BLOB (pack.c), not one row per tag: at the target load (100
 * games x 60 fps x 64 tags) per-tag rows are 384k inserts/s and a B-tree
 * whose hot leaves (one per session x tag) do not fit a sane page cache,
 * while packed rows are 6k appends/s. `make bench-insightd` measures both
 * layouts; see fa-insightd/BENCH.md. Rollups use the same idea: one row
 * per session and second (10 seconds, minute) holding min/avg/max/last of
 * every tag.
 *
 * TIME. Every row's t_ms is on the daemon's clock and has an index of its
 * own, so retention deletes by time range: its cost depends on the rows
 * due, not on how many sessions were ever seen.
 *
 * WRITES come from the writer thread only (writer.c) in batches, one
 * transaction each. WAL with synchronous=NORMAL: a commit is a write() to
 * the WAL, no fsync; a kill -9 loses at most the open transaction and the
 * file stays consistent. No automatic checkpoint inside COMMIT (up to
 * 0.4 s measured): store_maintain checkpoints between transactions.
 *
 * READS use their own read-only connections (WAL lets them run beside the
 * writer), each with a progress handler that stops a query once its
 * request is cancelled or past its deadline. */
#include "store_backend.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alerts.h"
#include "clock.h"
#include "fleetagg.h"
#include "log.h"
#include "pack.h"
#include "storerow.h"

/* Each entry moves the schema from version i to i + 1. Never edit one
 * that has shipped: append a new one. */
static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE sessions ("
    "  id INTEGER PRIMARY KEY," /* the u64 session id as its signed bit pattern */
    "  app TEXT NOT NULL DEFAULT '', label TEXT NOT NULL DEFAULT '',"
    "  host TEXT NOT NULL DEFAULT '', build_id TEXT NOT NULL DEFAULT '',"
    "  pid INTEGER NOT NULL DEFAULT 0, lib_version INTEGER NOT NULL DEFAULT 0,"
    "  start_unix_ns INTEGER NOT NULL DEFAULT 0, start_mono_ns INTEGER NOT NULL DEFAULT 0,"
    "  have_hello INTEGER NOT NULL DEFAULT 0,"
    "  first_ms INTEGER, last_ms INTEGER, ended_ms INTEGER, end_reason TEXT,"
    "  frames INTEGER NOT NULL DEFAULT 0, last_frame INTEGER NOT NULL DEFAULT 0,"
    "  gaps INTEGER NOT NULL DEFAULT 0, agent_dropped INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE tags ("
    "  session_id INTEGER NOT NULL, id INTEGER NOT NULL, parent_id INTEGER NOT NULL,"
    "  path TEXT NOT NULL, defined INTEGER NOT NULL,"
    "  budget_soft INTEGER NOT NULL, budget_hard INTEGER NOT NULL,"
    "  live_bytes INTEGER NOT NULL DEFAULT 0, peak_bytes INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (session_id, id)) WITHOUT ROWID;"
    "CREATE TABLE frames ("
    "  session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, frame INTEGER NOT NULL,"
    "  duration_ns INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX frames_by_session_time ON frames(session_id, t_ms);"
    "CREATE TABLE rollup_1s ("
    "  session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, frames INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX rollup_1s_by_session_time ON rollup_1s(session_id, t_ms);"
    "CREATE TABLE rollup_1m ("
    "  session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, frames INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX rollup_1m_by_session_time ON rollup_1m(session_id, t_ms);"
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, tag_id INTEGER NOT NULL,"
    "  path TEXT NOT NULL, level TEXT NOT NULL,"
    "  raised_ms INTEGER NOT NULL, raised_bytes INTEGER NOT NULL, peak_bytes INTEGER NOT NULL,"
    "  budget_hard INTEGER NOT NULL, cleared_ms INTEGER, clear_reason TEXT);"
    "CREATE INDEX alerts_by_session ON alerts(session_id, raised_ms);"
    "CREATE INDEX alerts_by_time ON alerts(raised_ms);"
    "CREATE TABLE findings ("
    "  session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, code INTEGER NOT NULL,"
    "  tag_id INTEGER NOT NULL, kind INTEGER NOT NULL, frames INTEGER NOT NULL,"
    "  count_max INTEGER NOT NULL, value_max INTEGER NOT NULL);"
    "CREATE INDEX findings_by_session_time ON findings(session_id, t_ms);",
    /* 2: 10-second rollups, so that an hour-long trend reads 360 rows */
    "CREATE TABLE rollup_10s ("
    "  session_id INTEGER NOT NULL, t_ms INTEGER NOT NULL, frames INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX rollup_10s_by_session_time ON rollup_10s(session_id, t_ms);",
    /* 3: the daemon's clock decides (last activity, indexes on time for
     * retention), counters that survive a restart, the agent's skew */
    "ALTER TABLE sessions ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN rows_rejected INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE sessions ADD COLUMN clock_skew_ms INTEGER;"
    "UPDATE sessions SET last_seen_ms = COALESCE(ended_ms, last_ms, start_unix_ns / 1000000, 0);"
    "CREATE INDEX sessions_by_activity ON sessions(last_seen_ms, id);"
    "CREATE INDEX frames_by_time ON frames(t_ms);"
    "CREATE INDEX rollup_1s_by_time ON rollup_1s(t_ms);"
    "CREATE INDEX rollup_10s_by_time ON rollup_10s(t_ms);"
    "CREATE INDEX rollup_1m_by_time ON rollup_1m(t_ms);"
    "CREATE INDEX findings_by_time ON findings(t_ms);",
    /* 4: what the fleet view reads: each tag's sum of live bytes over its
     * frames (the per-frame average), sessions by app and activity */
    "ALTER TABLE tags ADD COLUMN live_sum INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE tags ADD COLUMN live_frames INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX sessions_by_app ON sessions(app, last_seen_ms);",
    /* 5: the call-site dictionary of each session (its figures are in the
     * frame and rollup blobs) */
    "CREATE TABLE sites ("
    "  session_id INTEGER NOT NULL, id INTEGER NOT NULL, line INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  file TEXT NOT NULL, function TEXT NOT NULL,"
    "  PRIMARY KEY (session_id, id)) WITHOUT ROWID;",
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(MIGRATION_COUNT == STORE_SQLITE_SCHEMA, "one migration per schema version");

enum {
    ST_SESSION,
    ST_COUNTERS,
    ST_TAG,
    ST_FRAME,
    ST_ROLLUP_S,
    ST_ROLLUP_10,
    ST_ROLLUP_M,
    ST_FINDING,
    ST_ALERT,
    ST_SITE,
    ST_LOOKUP_SESSION,
    ST_LOOKUP_TAGS,
    ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    [ST_SESSION] =
        "INSERT INTO sessions(" STOREROW_SESSION_COLUMNS
        ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,"
        "?16,?17,?18,?19,?20,?21,?22,?23) ON CONFLICT(id) DO UPDATE SET app=?2, label=?3, host=?4,"
        " build_id=?5, pid=?6, lib_version=?7, start_unix_ns=?8, start_mono_ns=?9, have_hello=?10,"
        " first_ms=?11, last_ms=?12, ended_ms=?13, end_reason=?14, frames=?15, last_frame=?16, gaps=?17,"
        " agent_dropped=?18, last_seen_ms=?19, next_seq=?20, duplicates=?21, rows_rejected=?22,"
        " clock_skew_ms=?23",
    [ST_COUNTERS] = "UPDATE sessions SET frames=?2, last_frame=?3, gaps=?4, agent_dropped=?5, duplicates=?6,"
                    " rows_rejected=?7, next_seq=?8, first_ms=?9, last_ms=?10, last_seen_ms=?11 WHERE id=?1",
    [ST_TAG] =
        "INSERT INTO tags(session_id, " STOREROW_TAG_COLUMNS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
        " ON CONFLICT(session_id, id) DO UPDATE SET parent_id=?3, path=?4, defined=?5, budget_soft=?6,"
        " budget_hard=?7, live_bytes=?8, peak_bytes=?9, live_sum=?10, live_frames=?11",
    [ST_FRAME] = "INSERT INTO frames(session_id, t_ms, frame, duration_ns, data) VALUES(?1,?2,?3,?4,?5)",
    [ST_ROLLUP_S] = "INSERT INTO rollup_1s(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_ROLLUP_10] = "INSERT INTO rollup_10s(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_ROLLUP_M] = "INSERT INTO rollup_1m(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_FINDING] = "INSERT INTO findings(session_id, t_ms, code, tag_id, kind, frames, count_max, value_max)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [ST_ALERT] = "INSERT INTO alerts(" STOREROW_ALERT_COLUMNS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)"
                 " ON CONFLICT(id) DO UPDATE SET level=?5, peak_bytes=?8, budget_hard=?9, cleared_ms=?10,"
                 " clear_reason=?11",
    [ST_SITE] = "INSERT INTO sites(session_id, id, line, kind, file, function) VALUES(?1,?2,?3,?4,?5,?6)"
                " ON CONFLICT(session_id, id) DO UPDATE SET line=?3, kind=?4, file=?5, function=?6",
    [ST_LOOKUP_SESSION] = "SELECT " STOREROW_SESSION_COLUMNS " FROM sessions WHERE id = ?1",
    [ST_LOOKUP_TAGS] = "SELECT " STOREROW_TAG_COLUMNS " FROM tags WHERE session_id = ?1 ORDER BY id",
};

typedef struct sqlite_reader {
    store_reader_t base;
    sqlite3 *db;
} sqlite_reader_t;

typedef struct sqlite_store {
    store_t base;
    sqlite3 *db; /* the writer's connection */
    sqlite3_stmt *stmt[ST_COUNT];
    dev_t dev;
    ino_t ino;
    bool registered; /* store_load ran: every live row is this process's */
    sqlite_reader_t *readers;
    int reader_count;
} sqlite_store_t;

static const store_ops_t sqlite_ops;

static sqlite_store_t *lite(store_t *st) {
    return (sqlite_store_t *)st;
}
static sqlite3 *rdb(store_reader_t *r) {
    return ((sqlite_reader_t *)r)->db;
}

/* ---- helpers ------------------------------------------------------------ */

static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) {
    sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}
static void bind_opt(sqlite3_stmt *s, int i, uint64_t v, bool present) {
    if (present)
        bind_u64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}
static void bind_text(sqlite3_stmt *s, int i, const char *text) {
    if (text)
        sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}
static uint64_t col_u64(sqlite3_stmt *s, int i) {
    return (uint64_t)sqlite3_column_int64(s, i);
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errcap) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        if (err) snprintf(err, errcap, "%s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Whether a failure is about this record (skip it) or about the database
 * (keep the batch and retry). */
static int classify(int rc) {
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return STORE_REJECTED;
    default:
        return STORE_RETRY;
    }
}

static int write_failed(store_t *st, int rc, const char *what) {
    snprintf(st->error, sizeof st->error, "%s: %s (%s)", what, sqlite3_errmsg(lite(st)->db),
             sqlite3_errstr(rc));
    return classify(rc);
}

/* Steps a bound write statement and resets it. */
static int run(store_t *st, sqlite3_stmt *s, const char *what) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE ? STORE_OK : write_failed(st, rc, what);
}

/* ---- open, migrate, close ---------------------------------------------- */

static int migrate(sqlite3 *db, const char *path, char *err, size_t errcap) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "database '%s': %s", path, sqlite3_errmsg(db));
        return -1;
    }
    int rc = sqlite3_step(q);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    if (version < 0) {
        snprintf(err, errcap, "database '%s' cannot be read: %s", path, sqlite3_errmsg(db));
        return -1;
    }
    if (version > MIGRATION_COUNT) {
        snprintf(err, errcap,
                 "database '%s' has schema %d, newer than this fa-insightd (%d): use a newer daemon or "
                 "another --db",
                 path, version, MIGRATION_COUNT);
        return -1;
    }
    for (int v = version; v < MIGRATION_COUNT; v++) {
        char why[512], sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        if (exec_sql(db, "BEGIN IMMEDIATE", why, sizeof why) != 0 ||
            exec_sql(db, migrations[v], why, sizeof why) != 0 || exec_sql(db, sql, why, sizeof why) != 0 ||
            exec_sql(db, "COMMIT", why, sizeof why) != 0) {
            exec_sql(db, "ROLLBACK", NULL, 0);
            snprintf(err, errcap, "database '%s': migration to schema %d failed: %s", path, v + 1, why);
            return -1;
        }
        LOG(LOG_INFO, "database %s: migrated to schema %d", path, v + 1);
    }
    return 0;
}

/* The reader's way out: SQLite calls this every few thousand VM steps. */
static int reader_progress(void *arg) {
    return store_backend_cancelled(arg);
}

static void lite_close(store_t *st);

int store_sqlite_open(store_t **out, const char *path, int readers, char *err, size_t errcap) {
    sqlite_store_t *ls = calloc(1, sizeof *ls);
    if (!ls) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    store_t *st = &ls->base;
    store_backend_init(st, &sqlite_ops);
    snprintf(st->path, sizeof st->path, "%s", path);
    int rc = sqlite3_open_v2(path, &ls->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "cannot open database '%s': %s", path,
                 ls->db ? sqlite3_errmsg(ls->db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* SQLite silently opens a write-protected file read-only: say so now
     * rather than failing on the first frame. */
    if (sqlite3_db_readonly(ls->db, "main") == 1) {
        snprintf(err, errcap,
                 "database '%s' is read-only: fa-insightd needs write access to the file and its directory "
                 "(check permissions or choose another --db)",
                 path);
        goto fail;
    }
    /* A short busy wait: a locked file makes the writer retry the batch
     * later (and say so in health) rather than block for long. */
    sqlite3_busy_timeout(ls->db, 1000);
    sqlite3_extended_result_codes(ls->db, 1);
    if (migrate(ls->db, path, err, errcap) != 0) goto fail;
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(ls->db, "PRAGMA journal_mode=WAL", -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "database '%s': %s", path, sqlite3_errmsg(ls->db));
        goto fail;
    }
    const char *mode = sqlite3_step(q) == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    bool wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(q);
    if (!wal) {
        snprintf(err, errcap, "database '%s': cannot switch to WAL mode (%s); is its directory writable?",
                 path, sqlite3_errmsg(ls->db));
        goto fail;
    }
    char why[512];
    if (exec_sql(ls->db,
                 "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY;"
                 "PRAGMA journal_size_limit=67108864; PRAGMA wal_autocheckpoint=0;",
                 why, sizeof why) != 0) {
        snprintf(err, errcap, "database '%s': %s", path, why);
        goto fail;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(ls->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &ls->stmt[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errcap, "database '%s': preparing statement %d: %s", path, i,
                     sqlite3_errmsg(ls->db));
            goto fail;
        }
    }
    /* A write test: a read-only file that SQLite did not detect (another
     * owner, a read-only mount) fails here with a clear message. */
    if (exec_sql(ls->db, "BEGIN IMMEDIATE; COMMIT;", why, sizeof why) != 0) {
        snprintf(err, errcap, "database '%s' is not writable: %s", path, why);
        goto fail;
    }
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(err, errcap, "database '%s': %s", path, strerror(errno));
        goto fail;
    }
    ls->dev = sb.st_dev;
    ls->ino = sb.st_ino;
    ls->readers = calloc((size_t)(readers > 0 ? readers : 1), sizeof *ls->readers);
    if (!ls->readers) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    for (int i = 0; i < readers; i++) {
        sqlite_reader_t *r = &ls->readers[i];
        rc = sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errcap, "read-only connection to '%s': %s", path,
                     r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
            sqlite3_close(r->db);
            r->db = NULL;
            goto fail;
        }
        ls->reader_count = i + 1;
        sqlite3_busy_timeout(r->db, 2000);
        /* 8 MB per reader: a 1-hour trend touches ~5 MB of rollup pages;
         * with the 2 MB default every query re-read them (3x slower). */
        sqlite3_exec(r->db, "PRAGMA query_only=1; PRAGMA cache_size=-8000;", NULL, NULL, NULL);
        sqlite3_progress_handler(r->db, 1000, reader_progress, &r->base);
        store_backend_add_reader(st, &r->base);
    }
    *out = st;
    return 0;
fail:
    lite_close(st);
    return -1;
}

static void lite_close(store_t *st) {
    sqlite_store_t *ls = lite(st);
    for (int i = 0; i < ls->reader_count; i++)
        sqlite3_close(ls->readers[i].db);
    free(ls->readers);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(ls->stmt[i]);
    if (ls->db) {
        if (st->in_txn) exec_sql(ls->db, "ROLLBACK", NULL, 0);
        /* A clean close checkpoints the WAL into the main file. */
        int rc = sqlite3_close(ls->db);
        if (rc != SQLITE_OK) LOG(LOG_WARN, "database %s: close: %s", st->path, sqlite3_errstr(rc));
    }
    store_backend_fini(st);
    free(ls);
}

void *store_sqlite_handle(store_t *st) {
    return st->ops == &sqlite_ops ? lite(st)->db : NULL;
}

/* ---- transactions ------------------------------------------------------- */

static void lite_rollback(store_t *st);

static int lite_begin(store_t *st) {
    if (st->in_txn) return STORE_OK;
    int rc = sqlite3_exec(lite(st)->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        write_failed(st, rc, "BEGIN");
        return STORE_RETRY;
    }
    st->in_txn = true;
    return STORE_OK;
}

static int lite_commit(store_t *st) {
    if (!st->in_txn) return STORE_OK;
    int rc = sqlite3_exec(lite(st)->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        write_failed(st, rc, "COMMIT");
        lite_rollback(st);
        return STORE_RETRY;
    }
    st->in_txn = false;
    return STORE_OK;
}

static void lite_rollback(store_t *st) {
    /* After some errors SQLite has rolled back already; this is harmless. */
    if (!sqlite3_get_autocommit(lite(st)->db)) sqlite3_exec(lite(st)->db, "ROLLBACK", NULL, NULL, NULL);
    st->in_txn = false;
}

/* ---- writes ------------------------------------------------------------- */

static int lite_put_session(store_t *st, const session_info_t *x) {
    sqlite3_stmt *s = lite(st)->stmt[ST_SESSION];
    bind_u64(s, 1, x->id);
    bind_text(s, 2, x->app);
    bind_text(s, 3, x->label);
    bind_text(s, 4, x->host);
    bind_text(s, 5, x->build_id);
    bind_u64(s, 6, x->pid);
    bind_u64(s, 7, x->lib_version);
    bind_u64(s, 8, x->start_unix_ns);
    bind_u64(s, 9, x->start_mono_ns);
    sqlite3_bind_int(s, 10, x->have_hello);
    bind_opt(s, 11, x->first_ms, x->frames > 0);
    bind_opt(s, 12, x->last_ms, x->frames > 0);
    bind_opt(s, 13, x->ended_ms, !x->live && x->ended_ms != 0);
    bind_text(s, 14, x->live ? NULL : x->end_reason);
    bind_u64(s, 15, x->frames);
    bind_u64(s, 16, x->last_frame);
    bind_u64(s, 17, x->gaps);
    bind_u64(s, 18, x->agent_dropped);
    bind_u64(s, 19, x->last_seen_ms);
    bind_u64(s, 20, x->next_seq);
    bind_u64(s, 21, x->duplicates);
    bind_u64(s, 22, x->rows_rejected);
    if (x->skew_known)
        sqlite3_bind_int64(s, 23, x->clock_skew_ms);
    else
        sqlite3_bind_null(s, 23);
    return run(st, s, "saving a session");
}

static int lite_put_counters(store_t *st, uint64_t sid, const store_counters_t *c) {
    sqlite3_stmt *s = lite(st)->stmt[ST_COUNTERS];
    bind_u64(s, 1, sid);
    bind_u64(s, 2, c->frames);
    bind_u64(s, 3, c->last_frame);
    bind_u64(s, 4, c->gaps);
    bind_u64(s, 5, c->agent_dropped);
    bind_u64(s, 6, c->duplicates);
    bind_u64(s, 7, c->rows_rejected);
    bind_u64(s, 8, c->next_seq);
    bind_opt(s, 9, c->first_ms, c->frames > 0);
    bind_opt(s, 10, c->last_ms, c->frames > 0);
    bind_u64(s, 11, c->last_seen_ms);
    return run(st, s, "saving session counters");
}

static int lite_put_tag(store_t *st, uint64_t sid, const tag_info_t *t) {
    sqlite3_stmt *s = lite(st)->stmt[ST_TAG];
    bind_u64(s, 1, sid);
    sqlite3_bind_int(s, 2, t->id);
    sqlite3_bind_int(s, 3, t->parent_id);
    bind_text(s, 4, t->path ? t->path : "");
    sqlite3_bind_int(s, 5, t->defined);
    bind_u64(s, 6, t->budget_soft);
    bind_u64(s, 7, t->budget_hard);
    bind_u64(s, 8, t->live_bytes);
    bind_u64(s, 9, t->peak_bytes);
    bind_u64(s, 10, t->live_sum);
    bind_u64(s, 11, t->live_frames);
    return run(st, s, "saving a tag");
}

static int lite_put_site(store_t *st, uint64_t sid, const site_info_t *x) {
    sqlite3_stmt *s = lite(st)->stmt[ST_SITE];
    bind_u64(s, 1, sid);
    bind_u64(s, 2, x->id);
    bind_u64(s, 3, x->line);
    sqlite3_bind_int(s, 4, x->kind);
    bind_text(s, 5, x->file);
    bind_text(s, 6, x->function);
    return run(st, s, "saving a call site");
}

static int lite_put_alert(store_t *st, const alert_row_t *a) {
    sqlite3_stmt *s = lite(st)->stmt[ST_ALERT];
    sqlite3_bind_int64(s, 1, a->id);
    bind_u64(s, 2, a->session_id);
    sqlite3_bind_int(s, 3, a->tag_id);
    bind_text(s, 4, a->path);
    bind_text(s, 5, a->level);
    bind_u64(s, 6, a->raised_ms);
    bind_u64(s, 7, a->raised_bytes);
    bind_u64(s, 8, a->peak_bytes);
    bind_u64(s, 9, a->budget_hard);
    bind_opt(s, 10, a->cleared_ms, a->clear_reason != NULL);
    bind_text(s, 11, a->clear_reason);
    return run(st, s, "saving an alert");
}

/* Batches: one prepared insert stepped per row. A refused row is skipped
 * (STORE_REJECTED is kept to report), a database failure ends the batch. */
static int batch_result(int worst, int rc) {
    return rc == STORE_RETRY ? STORE_RETRY : worst == STORE_OK ? rc : worst;
}

static int lite_put_frames(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected) {
    sqlite3_stmt *s = lite(st)->stmt[ST_FRAME];
    int worst = STORE_OK;
    *rejected = 0;
    for (size_t i = 0; i < n; i++) {
        bind_u64(s, 1, rows[i].session_id);
        bind_u64(s, 2, rows[i].t_ms);
        bind_u64(s, 3, rows[i].frame);
        bind_u64(s, 4, rows[i].duration_ns);
        sqlite3_bind_blob(s, 5, rows[i].blob, (int)rows[i].len, SQLITE_STATIC);
        int rc = run(st, s, "storing a frame");
        if (rc == STORE_REJECTED) (*rejected)++;
        if ((worst = batch_result(worst, rc)) == STORE_RETRY) break;
    }
    return worst;
}

static int lite_put_rollups(store_t *st, int level, const store_rollup_t *rows, size_t n) {
    sqlite3_stmt *s = lite(st)->stmt[level == STORE_SECOND ? ST_ROLLUP_S
                                     : level == STORE_10S  ? ST_ROLLUP_10
                                                           : ST_ROLLUP_M];
    int worst = STORE_OK;
    for (size_t i = 0; i < n; i++) {
        bind_u64(s, 1, rows[i].session_id);
        bind_u64(s, 2, rows[i].t_ms);
        bind_u64(s, 3, rows[i].frames);
        sqlite3_bind_blob(s, 4, rows[i].blob, (int)rows[i].len, SQLITE_STATIC);
        if ((worst = batch_result(worst, run(st, s, "storing a rollup"))) == STORE_RETRY) break;
    }
    return worst;
}

static int lite_put_findings(store_t *st, const store_finding_t *rows, size_t n) {
    sqlite3_stmt *s = lite(st)->stmt[ST_FINDING];
    int worst = STORE_OK;
    for (size_t i = 0; i < n; i++) {
        const store_finding_t *f = &rows[i];
        bind_u64(s, 1, f->session_id);
        bind_u64(s, 2, f->t_ms);
        sqlite3_bind_int(s, 3, f->code);
        sqlite3_bind_int(s, 4, f->tag_id);
        sqlite3_bind_int(s, 5, f->kind);
        bind_u64(s, 6, f->frames);
        bind_u64(s, 7, f->count_max);
        bind_u64(s, 8, f->value_max);
        if ((worst = batch_result(worst, run(st, s, "storing a finding"))) == STORE_RETRY) break;
    }
    return worst;
}

/* ---- retention ------------------------------------------------------------ */

/* Deletes up to `limit` rows of one table older than cutoff through its
 * time index. Returns the count or -1. */
static int64_t prune_table(store_t *st, const char *table, uint64_t cutoff, int limit) {
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE t_ms < ?1 LIMIT ?2)",
             table, table);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(lite(st)->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
    bind_u64(s, 1, cutoff);
    sqlite3_bind_int(s, 2, limit);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        write_failed(st, rc, "retention");
        return -1;
    }
    return sqlite3_changes(lite(st)->db);
}

/* Ended sessions older than their horizon, with everything of theirs:
 * at most `limit` sessions. *sessions receives how many. */
static int64_t prune_sessions(store_t *st, uint64_t cutoff, int limit, int *sessions) {
    static const char *const own[] = {"DELETE FROM tags WHERE session_id = ?1",
                                      "DELETE FROM alerts WHERE session_id = ?1",
                                      "DELETE FROM frames WHERE session_id = ?1",
                                      "DELETE FROM rollup_1s WHERE session_id = ?1",
                                      "DELETE FROM rollup_10s WHERE session_id = ?1",
                                      "DELETE FROM rollup_1m WHERE session_id = ?1",
                                      "DELETE FROM findings WHERE session_id = ?1",
                                      "DELETE FROM sites WHERE session_id = ?1",
                                      "DELETE FROM sessions WHERE id = ?1"};
    enum { OWN = sizeof own / sizeof own[0] };
    sqlite3_stmt *q, *del[OWN] = {0};
    *sessions = 0;
    if (sqlite3_prepare_v2(lite(st)->db,
                           "SELECT id FROM sessions WHERE last_seen_ms < ?1 AND ended_ms IS NOT NULL"
                           " ORDER BY last_seen_ms LIMIT ?2",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    int64_t deleted = 0;
    int rc = SQLITE_OK;
    for (int i = 0; i < OWN; i++)
        if (sqlite3_prepare_v2(lite(st)->db, own[i], -1, &del[i], NULL) != SQLITE_OK) rc = SQLITE_ERROR;
    bind_u64(q, 1, cutoff);
    sqlite3_bind_int(q, 2, limit);
    while (rc == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(q, 0);
        for (int i = 0; i < OWN && rc == SQLITE_OK; i++) {
            sqlite3_bind_int64(del[i], 1, id);
            int s = sqlite3_step(del[i]);
            sqlite3_reset(del[i]);
            if (s != SQLITE_DONE)
                rc = s;
            else
                deleted += sqlite3_changes(lite(st)->db);
        }
        (*sessions)++;
    }
    sqlite3_finalize(q);
    for (int i = 0; i < OWN; i++)
        sqlite3_finalize(del[i]);
    if (rc != SQLITE_OK) {
        write_failed(st, rc, "session retention");
        return -1;
    }
    return deleted;
}

/* Alerts of long-lived sessions: cleared ones past the session horizon. */
static int64_t prune_alerts(store_t *st, uint64_t cutoff, int limit) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(lite(st)->db,
                           "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE raised_ms < ?1"
                           " AND cleared_ms IS NOT NULL LIMIT ?2)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    bind_u64(s, 1, cutoff);
    sqlite3_bind_int(s, 2, limit);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        write_failed(st, rc, "alert retention");
        return -1;
    }
    return sqlite3_changes(lite(st)->db);
}

static int64_t lite_prune(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more) {
    struct {
        const char *table;
        uint64_t keep;
    } plan[] = {{"frames", keep->raw},
                {"rollup_1s", keep->second},
                {"findings", keep->second},
                {"rollup_10s", keep->ten_sec},
                {"rollup_1m", keep->minute}};
    *more = false;
    if (lite_begin(st) != STORE_OK) return STORE_RETRY;
    int64_t deleted = 0;
    /* Each kind in turn, until the step's budget is spent: a kind that
     * used all it was allowed has more due. */
    for (size_t p = 0; p < sizeof plan / sizeof plan[0] && !*more; p++) {
        if (now_ms <= plan[p].keep) continue;
        int allowed = (int)(max_rows - deleted);
        int64_t d = prune_table(st, plan[p].table, now_ms - plan[p].keep, allowed);
        if (d < 0) goto fail;
        deleted += d;
        *more = d >= allowed;
    }
    if (!*more && now_ms > keep->session) {
        int allowed = (int)(max_rows - deleted);
        int64_t d = prune_alerts(st, now_ms - keep->session, allowed);
        if (d < 0) goto fail;
        deleted += d;
        *more = d >= allowed;
        /* A session costs a handful of deletes: allow one per 8 rows left. */
        int sessions = (int)((max_rows - deleted) / 8), done = 0;
        if (!*more && sessions == 0) *more = true; /* no room left to look */
        if (!*more) {
            d = prune_sessions(st, now_ms - keep->session, sessions, &done);
            if (d < 0) goto fail;
            deleted += d;
            *more = done >= sessions;
        }
    }
    if (lite_commit(st) != STORE_OK) return STORE_RETRY;
    return deleted;
fail:
    lite_rollback(st);
    return STORE_RETRY;
}

/* ---- maintenance -------------------------------------------------------- */

/* WAL pages above which a checkpoint that copied everything rewinds the
 * log (the next write starts it over; journal_size_limit trims it). */
#define WAL_RESET_PAGES 8192

static int lite_maintain(store_t *st, bool *wal_reset) {
    *wal_reset = false;
    if (st->in_txn) return STORE_OK;
    int wal = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(lite(st)->db, "main", SQLITE_CHECKPOINT_PASSIVE, &wal, &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) return write_failed(st, rc, "checkpoint");
    /* Everything copied and nobody reading an older snapshot: the next
     * transaction starts the WAL from its beginning. */
    if (rc == SQLITE_OK && wal > WAL_RESET_PAGES && wal == copied) *wal_reset = true;
    return STORE_OK;
}

static int lite_check_file(store_t *st) {
    struct stat sb;
    if (stat(st->path, &sb) != 0) return errno == ENOENT ? 1 : 0;
    return sb.st_dev != lite(st)->dev || sb.st_ino != lite(st)->ino;
}

/* ---- sessions from rows --------------------------------------------------- */

/* Columns through storerow.c, shared with the PostgreSQL store. */
static bool lite_is_null(const void *res, int row, int col) {
    (void)row;
    return sqlite3_column_type((sqlite3_stmt *)res, col) == SQLITE_NULL;
}
static int64_t lite_i64(const void *res, int row, int col) {
    (void)row;
    return sqlite3_column_int64((sqlite3_stmt *)res, col);
}
static const char *lite_text(const void *res, int row, int col) {
    (void)row;
    return (const char *)sqlite3_column_text((sqlite3_stmt *)res, col);
}
static const storerow_src_t lite_src = {lite_is_null, lite_i64, lite_text};
#define ROW_OF(q) (&(storerow_t){&lite_src, (q), 0})

static void session_from_row(sqlite3_stmt *q, int c, session_info_t *s) {
    storerow_session(ROW_OF(q), c, s);
}

/* Reads the tags of one session with a prepared STOREROW_TAG_COLUMNS statement;
 * paths are copied by view_create. */
static int read_view(sqlite3 *db, sqlite3_stmt *sq, sqlite3_stmt *tq, uint64_t sid, session_view_t **out) {
    bind_u64(sq, 1, sid);
    int rc = sqlite3_step(sq);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(sq);
        return rc == SQLITE_DONE ? 0 : STORE_FAILED;
    }
    session_info_t info;
    session_from_row(sq, 0, &info);
    sqlite3_reset(sq);
    bind_u64(tq, 1, sid);
    tag_info_t *tags = NULL;
    char **paths = NULL;
    uint32_t n = 0, cap = 0;
    int result = 1;
    while ((rc = sqlite3_step(tq)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            tag_info_t *t2 = realloc(tags, cap * sizeof *tags);
            char **p2 = t2 ? realloc(paths, cap * sizeof *paths) : NULL;
            if (t2) tags = t2;
            if (!t2 || !p2) {
                result = STORE_FAILED;
                break;
            }
            paths = p2;
        }
        tag_info_t *t = &tags[n];
        storerow_tag(ROW_OF(tq), t);
        paths[n] = strdup(t->path);
        t->path = paths[n];
        n++;
        if (!t->path) {
            result = STORE_FAILED;
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) result = STORE_FAILED;
    sqlite3_reset(tq);
    if (result == 1) {
        info.tag_count = n;
        *out = view_create(&info, NULL, tags, n);
        if (!*out) result = STORE_FAILED;
    }
    for (uint32_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(tags);
    (void)db;
    return result;
}

static int lite_lookup(store_t *st, uint64_t sid, session_view_t **out) {
    int rc =
        read_view(lite(st)->db, lite(st)->stmt[ST_LOOKUP_SESSION], lite(st)->stmt[ST_LOOKUP_TAGS], sid, out);
    if (rc == STORE_FAILED) {
        write_failed(st, sqlite3_errcode(lite(st)->db), "looking a session up");
        return STORE_RETRY;
    }
    return rc;
}

static int lite_load(store_t *st, uint32_t max, store_load_fn fn, store_id_fn id_fn, void *ud,
                     int64_t *next_alert_id) {
    char why[512];
    lite(st)->registered = true;
    /* Sessions and alerts a crash (or kill) left open are closed now: the
     * agents they belong to will be seen again if they are alive. */
    if (exec_sql(
            lite(st)->db,
            "BEGIN IMMEDIATE;"
            "UPDATE alerts SET cleared_ms = COALESCE((SELECT COALESCE(s.last_ms, s.first_ms)"
            " FROM sessions s WHERE s.id = alerts.session_id), raised_ms), clear_reason = 'daemon_restart'"
            " WHERE cleared_ms IS NULL;"
            "UPDATE sessions SET ended_ms = MAX(last_seen_ms, COALESCE(last_ms, 0)),"
            " end_reason = 'daemon_restart' WHERE ended_ms IS NULL;"
            "COMMIT;",
            why, sizeof why) != 0) {
        exec_sql(lite(st)->db, "ROLLBACK", NULL, 0);
        LOG(LOG_ERROR, "database %s: closing open sessions failed: %s", st->path, why);
        return -1;
    }
    sqlite3_stmt *ids, *m;
    if (sqlite3_prepare_v2(lite(st)->db, "SELECT COALESCE(max(id), 0) FROM alerts", -1, &m, NULL) !=
        SQLITE_OK)
        return -1;
    *next_alert_id = sqlite3_step(m) == SQLITE_ROW ? sqlite3_column_int64(m, 0) + 1 : 1;
    sqlite3_finalize(m);
    if (id_fn) {
        if (sqlite3_prepare_v2(lite(st)->db, "SELECT id FROM sessions", -1, &ids, NULL) != SQLITE_OK)
            return -1;
        while (sqlite3_step(ids) == SQLITE_ROW)
            id_fn(ud, (uint64_t)sqlite3_column_int64(ids, 0));
        sqlite3_finalize(ids);
    }
    if (max == 0) return 0;
    if (sqlite3_prepare_v2(lite(st)->db,
                           "SELECT id FROM sessions ORDER BY last_seen_ms DESC, id DESC LIMIT ?1", -1, &ids,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(ids, 1, max);
    while (sqlite3_step(ids) == SQLITE_ROW) {
        session_view_t *v = NULL;
        if (read_view(lite(st)->db, lite(st)->stmt[ST_LOOKUP_SESSION], lite(st)->stmt[ST_LOOKUP_TAGS],
                      (uint64_t)sqlite3_column_int64(ids, 0), &v) == 1)
            fn(ud, v);
    }
    sqlite3_finalize(ids);
    return 0;
}

/* ---- readers ------------------------------------------------------------- */

static int read_failed(store_reader_t *r, int rc) {
    if (rc == SQLITE_INTERRUPT) {
        snprintf(r->error, sizeof r->error, "cancelled");
        return STORE_CANCELLED;
    }
    snprintf(r->error, sizeof r->error, "database read failed: %s", sqlite3_errmsg(rdb(r)));
    return STORE_FAILED;
}

static int prepare(store_reader_t *r, const char *sql, sqlite3_stmt **q) {
    int rc = sqlite3_prepare_v2(rdb(r), sql, -1, q, NULL);
    return rc == SQLITE_OK ? STORE_OK : read_failed(r, rc);
}

/* Steps q to the end; fn gets each row and may stop (1). */
typedef int (*row_fn)(sqlite3_stmt *q, void *ud);
static int each_row(store_reader_t *r, sqlite3_stmt *q, row_fn fn, void *ud) {
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        if (fn(q, ud)) {
            rc = SQLITE_DONE;
            break;
        }
    int result = rc == SQLITE_DONE ? STORE_OK : read_failed(r, rc);
    sqlite3_finalize(q);
    return result;
}

static int lite_read_view(store_reader_t *r, uint64_t sid, session_view_t **out) {
    sqlite3_stmt *sq, *tq;
    if (prepare(r, "SELECT " STOREROW_SESSION_COLUMNS " FROM sessions WHERE id = ?1", &sq) != STORE_OK)
        return STORE_FAILED;
    if (prepare(r, "SELECT " STOREROW_TAG_COLUMNS " FROM tags WHERE session_id = ?1 ORDER BY id", &tq) !=
        STORE_OK) {
        sqlite3_finalize(sq);
        return STORE_FAILED;
    }
    int rc = read_view(rdb(r), sq, tq, sid, out);
    if (rc < 0) read_failed(r, sqlite3_errcode(rdb(r)));
    sqlite3_finalize(sq);
    sqlite3_finalize(tq);
    if (rc != 1) return rc;
    /* The newest frame's totals, when raw frames still hold it. */
    sqlite3_stmt *fq;
    if (prepare(r,
                "SELECT duration_ns, data FROM frames WHERE session_id = ?1 ORDER BY t_ms DESC, rowid DESC "
                "LIMIT 1",
                &fq) == STORE_OK) {
        bind_u64(fq, 1, sid);
        if (sqlite3_step(fq) == SQLITE_ROW) {
            fa_proto_space_t *space = malloc(sizeof *space);
            if (space) {
                fa_proto_storage_t stor = fa_proto_storage_of(space);
                fa_proto_frame_t f;
                const uint8_t *blob = sqlite3_column_blob(fq, 1);
                if (blob && pack_unframe(blob, (size_t)sqlite3_column_bytes(fq, 1), &f, &stor) == 0) {
                    (*out)->last.present = true;
                    (*out)->last.duration_ns = col_u64(fq, 0);
                    (*out)->last.frames_dropped = f.frames_dropped;
                    memcpy((*out)->last.totals, f.totals, sizeof f.totals);
                }
                free(space);
            }
        }
        sqlite3_finalize(fq);
    }
    return 1;
}

typedef struct frames_ctx {
    store_frame_fn fn;
    void *ud;
    uint64_t sid;
} frames_ctx_t;

static int frame_row(sqlite3_stmt *q, void *ud) {
    frames_ctx_t *c = ud;
    store_frame_t f = {c->sid,
                       col_u64(q, 0),
                       col_u64(q, 1),
                       col_u64(q, 2),
                       sqlite3_column_blob(q, 3),
                       (size_t)sqlite3_column_bytes(q, 3)};
    return c->fn(c->ud, &f);
}

static int lite_read_frames(store_reader_t *r, const store_frames_query_t *fq, store_frame_fn fn, void *ud) {
    sqlite3_stmt *q;
    if (prepare(r,
                fq->newest
                    ? "SELECT t_ms, frame, duration_ns, data FROM frames WHERE session_id=?1 AND t_ms>=?2"
                      " AND t_ms<=?3 ORDER BY t_ms DESC, rowid DESC LIMIT ?4"
                    : "SELECT t_ms, frame, duration_ns, data FROM frames WHERE session_id=?1 AND t_ms>=?2"
                      " AND t_ms<=?3 ORDER BY t_ms, rowid LIMIT ?4",
                &q) != STORE_OK)
        return STORE_FAILED;
    bind_u64(q, 1, fq->session_id);
    bind_u64(q, 2, fq->from_ms);
    sqlite3_bind_int64(q, 3, fq->to_ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)fq->to_ms);
    sqlite3_bind_int64(q, 4, fq->limit);
    frames_ctx_t c = {fn, ud, fq->session_id};
    return each_row(r, q, frame_row, &c);
}

typedef struct series_ctx {
    store_series_fn fn;
    void *ud;
} series_ctx_t;

static int series_row(sqlite3_stmt *q, void *ud) {
    series_ctx_t *c = ud;
    return c->fn(c->ud, col_u64(q, 0), (uint32_t)col_u64(q, 1), sqlite3_column_blob(q, 2),
                 (size_t)sqlite3_column_bytes(q, 2));
}

/* Every blob whole, whatever the tag: read in-process, a blob costs
 * nothing to hand over. */
static int lite_read_series(store_reader_t *r, int level, uint64_t sid, uint64_t lo, uint64_t hi, int tag,
                            store_series_fn fn, void *ud) {
    (void)tag;
    static const char *const sql[4] = {
        "SELECT t_ms, 1, data FROM frames WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY t_ms",
        "SELECT t_ms, frames, data FROM rollup_1s WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
        "SELECT t_ms, frames, data FROM rollup_10s WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
        "SELECT t_ms, frames, data FROM rollup_1m WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
    };
    sqlite3_stmt *q;
    if (prepare(r, sql[level + 1], &q) != STORE_OK) return STORE_FAILED;
    bind_u64(q, 1, sid);
    bind_u64(q, 2, lo);
    bind_u64(q, 3, hi);
    series_ctx_t c = {fn, ud};
    return each_row(r, q, series_row, &c);
}

typedef struct alerts_ctx {
    store_alert_fn fn;
    void *ud;
} alerts_ctx_t;

static int alert_row(sqlite3_stmt *q, void *ud) {
    alerts_ctx_t *c = ud;
    alert_row_t a;
    storerow_alert(ROW_OF(q), &a);
    return c->fn(c->ud, &a);
}

static int lite_read_alerts(store_reader_t *r, const store_alerts_query_t *aq, store_alert_fn fn, void *ud) {
    const char *state = aq->state == STORE_ALERTS_ACTIVE    ? " AND cleared_ms IS NULL"
                        : aq->state == STORE_ALERTS_CLEARED ? " AND cleared_ms IS NOT NULL"
                                                            : "";
    /* The by-session form and the global form are separate statements so
     * that each uses its index (a "?1 = 0 OR session_id = ?2" defeats it). */
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT " STOREROW_ALERT_COLUMNS
             " FROM alerts WHERE %s (raised_ms >= ?2 OR cleared_ms >= ?2) AND raised_ms <= ?3"
             "%s%s ORDER BY raised_ms %s, id %s LIMIT ?6",
             aq->has_session ? "session_id = ?1 AND" : "", state,
             !aq->has_cursor ? ""
             : aq->newer     ? " AND (raised_ms, id) > (?4, ?5)"
                             : " AND (raised_ms, id) < (?4, ?5)",
             aq->newer ? "ASC" : "DESC", aq->newer ? "ASC" : "DESC");
    sqlite3_stmt *q;
    if (prepare(r, sql, &q) != STORE_OK) return STORE_FAILED;
    if (aq->has_session) bind_u64(q, 1, aq->session_id);
    bind_u64(q, 2, aq->since_ms);
    sqlite3_bind_int64(q, 3, aq->until_ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)aq->until_ms);
    if (aq->has_cursor) {
        bind_u64(q, 4, aq->cursor_ms);
        sqlite3_bind_int64(q, 5, aq->cursor_id);
    }
    sqlite3_bind_int64(q, 6, aq->limit);
    alerts_ctx_t c = {fn, ud};
    return each_row(r, q, alert_row, &c);
}

typedef struct findings_ctx {
    store_finding_fn fn;
    void *ud;
    uint64_t sid;
    bool summary;
} findings_ctx_t;

static int finding_row(sqlite3_stmt *q, void *ud) {
    findings_ctx_t *c = ud;
    store_finding_row_t x;
    storerow_finding(ROW_OF(q), c->summary, c->sid, &x);
    return c->fn(c->ud, &x);
}

static int lite_read_findings(store_reader_t *r, const store_findings_query_t *fq, store_finding_fn fn,
                              void *ud) {
    char sql[640];
    snprintf(sql, sizeof sql,
             "SELECT f.rowid, f.t_ms, f.code, f.tag_id, f.kind, f.frames, f.count_max, f.value_max, t.path"
             " FROM findings f LEFT JOIN tags t ON t.session_id = f.session_id AND t.id = f.tag_id"
             " WHERE f.session_id = ?1 AND f.t_ms >= ?2 AND f.t_ms <= ?3%s ORDER BY f.t_ms %s, f.rowid %s "
             "LIMIT ?6",
             !fq->has_cursor ? ""
             : fq->newer     ? " AND (f.t_ms, f.rowid) > (?4, ?5)"
                             : " AND (f.t_ms, f.rowid) < (?4, ?5)",
             fq->newer ? "ASC" : "DESC", fq->newer ? "ASC" : "DESC");
    sqlite3_stmt *q;
    if (prepare(r, sql, &q) != STORE_OK) return STORE_FAILED;
    bind_u64(q, 1, fq->session_id);
    bind_u64(q, 2, fq->since_ms);
    sqlite3_bind_int64(q, 3, fq->until_ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)fq->until_ms);
    if (fq->has_cursor) {
        bind_u64(q, 4, fq->cursor_ms);
        sqlite3_bind_int64(q, 5, fq->cursor_key);
    }
    sqlite3_bind_int64(q, 6, fq->limit);
    findings_ctx_t c = {fn, ud, fq->session_id, false};
    return each_row(r, q, finding_row, &c);
}

static int lite_read_finding_summary(store_reader_t *r, const store_findings_query_t *fq, store_finding_fn fn,
                                     void *ud) {
    sqlite3_stmt *q;
    if (prepare(r,
                "SELECT f.code, f.tag_id, f.kind, sum(f.frames), max(f.count_max), max(f.value_max),"
                " min(f.t_ms), max(f.t_ms), t.path FROM findings f LEFT JOIN tags t"
                " ON t.session_id = f.session_id AND t.id = f.tag_id"
                " WHERE f.session_id = ?1 AND f.t_ms >= ?2 AND f.t_ms <= ?3 GROUP BY f.code, f.tag_id, f.kind"
                " ORDER BY sum(f.frames) DESC LIMIT 1000",
                &q) != STORE_OK)
        return STORE_FAILED;
    bind_u64(q, 1, fq->session_id);
    bind_u64(q, 2, fq->since_ms);
    sqlite3_bind_int64(q, 3, fq->until_ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)fq->until_ms);
    findings_ctx_t c = {fn, ud, fq->session_id, true};
    return each_row(r, q, finding_row, &c);
}

typedef struct sessions_ctx {
    store_session_fn fn;
    void *ud;
} sessions_ctx_t;

static int session_row(sqlite3_stmt *q, void *ud) {
    sessions_ctx_t *c = ud;
    session_info_t s;
    session_from_row(q, 0, &s);
    s.tag_count = (uint32_t)col_u64(q, 23);
    return c->fn(c->ud, &s);
}

/* The part of a sessions query after "FROM sessions s WHERE". */
static void sessions_where(const sqlite_store_t *ls, const store_sessions_query_t *sq, char *out,
                           size_t cap) {
    /* Every live row is this process's once it registered (store_load
     * closed those of earlier runs); before, they are another's. */
    const char *which = sq->which == STORE_SESSIONS_ENDED ? "ended_ms IS NOT NULL"
                        : ls->registered                  ? "0"
                                                          : "ended_ms IS NULL";
    snprintf(out, cap, "%s%s%s%s AND last_seen_ms >= ?3 AND last_seen_ms <= ?4%s", which,
             sq->app && sq->app[0] ? " AND app = ?1" : "", sq->host && sq->host[0] ? " AND host = ?2" : "",
             sq->build && sq->build[0] ? " AND build_id = ?8" : "",
             sq->has_cursor ? " AND (last_seen_ms, id) < (?5, ?6)" : "");
}

static int lite_read_sessions(store_reader_t *r, const store_sessions_query_t *sq, store_session_fn fn,
                              void *ud) {
    char where[400], sql[900];
    sessions_where(lite(r->store), sq, where, sizeof where);
    snprintf(sql, sizeof sql,
             "SELECT " STOREROW_SESSION_COLUMNS ", (SELECT count(*) FROM tags t WHERE t.session_id = s.id)"
             " FROM sessions s WHERE %s ORDER BY last_seen_ms DESC, id DESC LIMIT ?7",
             where);
    sqlite3_stmt *q;
    if (prepare(r, sql, &q) != STORE_OK) return STORE_FAILED;
    if (sq->app && sq->app[0]) sqlite3_bind_text(q, 1, sq->app, -1, SQLITE_STATIC);
    if (sq->host && sq->host[0]) sqlite3_bind_text(q, 2, sq->host, -1, SQLITE_STATIC);
    if (sq->build && sq->build[0]) sqlite3_bind_text(q, 8, sq->build, -1, SQLITE_STATIC);
    bind_u64(q, 3, sq->since_ms);
    sqlite3_bind_int64(q, 4,
                       sq->until_ms && sq->until_ms <= INT64_MAX ? (sqlite3_int64)sq->until_ms : INT64_MAX);
    if (sq->has_cursor) {
        bind_u64(q, 5, sq->cursor_ms);
        bind_u64(q, 6, sq->cursor_id);
    }
    sqlite3_bind_int64(q, 7, sq->limit);
    sessions_ctx_t c = {fn, ud};
    return each_row(r, q, session_row, &c);
}

typedef struct sites_ctx {
    store_site_fn fn;
    void *ud;
} sites_ctx_t;

static int site_row(sqlite3_stmt *q, void *ud) {
    sites_ctx_t *c = ud;
    site_info_t x;
    storerow_site(ROW_OF(q), &x);
    return c->fn(c->ud, &x);
}

static int lite_read_sites(store_reader_t *r, uint64_t sid, const uint32_t *ids, size_t n, store_site_fn fn,
                           void *ud) {
    sqlite3_stmt *q;
    if (prepare(r, "SELECT " STOREROW_SITE_COLUMNS " FROM sites WHERE session_id = ?1 AND id = ?2", &q) !=
        STORE_OK)
        return STORE_FAILED;
    sites_ctx_t c = {fn, ud};
    int rc = SQLITE_DONE;
    for (size_t i = 0; i < n && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
        bind_u64(q, 1, sid);
        bind_u64(q, 2, ids[i]);
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW && site_row(q, &c)) {
            rc = SQLITE_DONE;
            break;
        }
        sqlite3_reset(q);
    }
    int result = rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : read_failed(r, rc);
    sqlite3_finalize(q);
    return result;
}

static int count_row(sqlite3_stmt *q, void *ud) {
    *(uint64_t *)ud = col_u64(q, 0);
    return 1;
}

static int lite_count_elsewhere(store_reader_t *r, uint64_t *n) {
    *n = 0;
    if (lite(r->store)->registered) return STORE_OK;
    sqlite3_stmt *q;
    if (prepare(r, "SELECT count(*) FROM sessions WHERE ended_ms IS NULL", &q) != STORE_OK)
        return STORE_FAILED;
    return each_row(r, q, count_row, n);
}

typedef struct latest_ctx {
    uint64_t id, last_seen;
    bool live, found;
} latest_ctx_t;

static int latest_row(sqlite3_stmt *q, void *ud) {
    latest_ctx_t *c = ud;
    c->id = col_u64(q, 0);
    c->last_seen = col_u64(q, 1);
    c->live = sqlite3_column_int(q, 2) != 0;
    c->found = true;
    return 1;
}

static int lite_read_latest(store_reader_t *r, uint64_t *id, uint64_t *last_seen_ms, bool *live) {
    sqlite3_stmt *q;
    if (prepare(r,
                lite(r->store)->registered
                    ? "SELECT id, last_seen_ms, 0 FROM sessions ORDER BY last_seen_ms DESC, id DESC LIMIT 1"
                    : "SELECT id, last_seen_ms, ended_ms IS NULL FROM sessions"
                      " ORDER BY ended_ms IS NULL DESC, last_seen_ms DESC, id DESC LIMIT 1",
                &q) != STORE_OK)
        return STORE_FAILED;
    latest_ctx_t c = {0};
    int rc = each_row(r, q, latest_row, &c);
    if (rc != STORE_OK) return rc;
    if (!c.found) return 0;
    *id = c.id;
    *last_seen_ms = c.last_seen;
    *live = c.live;
    return 1;
}

/* The fleet's figures: the rows here, unsorted, the arithmetic in
 * fleetagg.c. Both statements read in one transaction (one snapshot). */
static const char *text_or_empty(sqlite3_stmt *q, int i) {
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : "";
}

static int fleet_session_row(sqlite3_stmt *q, void *ud) {
    fleetagg_session_t s = {.session_id = col_u64(q, 0),
                            .app = text_or_empty(q, 1),
                            .build = text_or_empty(q, 2),
                            .host = text_or_empty(q, 3),
                            .last_seen_ms = col_u64(q, 4),
                            .live = sqlite3_column_int(q, 5) != 0};
    return fleetagg_add_session(ud, &s) != 0; /* out of memory: stop */
}

static int fleet_tag_row(sqlite3_stmt *q, void *ud) {
    fleetagg_tag_t t = {.session_id = col_u64(q, 0),
                        .path = text_or_empty(q, 1),
                        .budget_hard = col_u64(q, 2),
                        .peak_bytes = col_u64(q, 3),
                        .live_sum = col_u64(q, 4),
                        .live_frames = col_u64(q, 5)};
    return fleetagg_add_tag(ud, &t) != 0; /* out of memory: stop */
}

static int lite_read_fleet(store_reader_t *r, const store_fleet_query_t *fq, const store_fleet_sink_t *sink) {
    bool app = fq->app && fq->app[0], build = fq->build && fq->build[0], tag = fq->tag && fq->tag[0];
    char where[200], sql[2][700];
    snprintf(where, sizeof where, "s.last_seen_ms >= ?1%s%s", app ? " AND s.app = ?2" : "",
             build ? " AND s.build_id = ?3" : "");
    snprintf(
        sql[0], sizeof sql[0],
        "SELECT s.id, s.app, s.build_id, s.host, s.last_seen_ms, s.ended_ms IS NULL FROM sessions s WHERE %s",
        where);
    /* The tag and its descendants: its path, or a path below it. */
    snprintf(sql[1], sizeof sql[1],
             "SELECT t.session_id, t.path, t.budget_hard, t.peak_bytes, t.live_sum, t.live_frames"
             " FROM sessions s JOIN tags t ON t.session_id = s.id WHERE %s AND t.live_frames > 0%s",
             where, tag ? " AND (t.path = ?4 OR substr(t.path, 1, length(?4) + 1) = ?4 || '/')" : "");
    fleetagg_t *agg = fleetagg_create(sink);
    if (!agg) {
        snprintf(r->error, sizeof r->error, "out of memory");
        return STORE_FAILED;
    }
    sqlite3 *db = rdb(r);
    int rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? STORE_OK
                                                                      : read_failed(r, sqlite3_errcode(db));
    for (int k = 0; k < 2 && rc == STORE_OK; k++) {
        sqlite3_stmt *q;
        if ((rc = prepare(r, sql[k], &q)) != STORE_OK) break;
        bind_u64(q, 1, fq->since_ms);
        if (app) sqlite3_bind_text(q, 2, fq->app, -1, SQLITE_STATIC);
        if (build) sqlite3_bind_text(q, 3, fq->build, -1, SQLITE_STATIC);
        if (k == 1 && tag) sqlite3_bind_text(q, 4, fq->tag, -1, SQLITE_STATIC);
        rc = each_row(r, q, k == 0 ? fleet_session_row : fleet_tag_row, agg);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc == STORE_OK && (fleetagg_failed(agg) || fleetagg_finish(agg) < 0)) {
        snprintf(r->error, sizeof r->error, "out of memory");
        rc = STORE_FAILED;
    }
    fleetagg_destroy(agg);
    return rc;
}

static const store_ops_t sqlite_ops = {
    .kind = "sqlite",
    .close = lite_close,
    .load = lite_load,
    .begin = lite_begin,
    .commit = lite_commit,
    .rollback = lite_rollback,
    .put_session = lite_put_session,
    .put_counters = lite_put_counters,
    .put_tag = lite_put_tag,
    .put_site = lite_put_site,
    .put_alert = lite_put_alert,
    .put_frames = lite_put_frames,
    .put_rollups = lite_put_rollups,
    .put_findings = lite_put_findings,
    .prune = lite_prune,
    .maintain = lite_maintain,
    .check_file = lite_check_file,
    .lookup = lite_lookup,
    .read_view = lite_read_view,
    .read_frames = lite_read_frames,
    .read_series = lite_read_series,
    .read_alerts = lite_read_alerts,
    .read_findings = lite_read_findings,
    .read_finding_summary = lite_read_finding_summary,
    .read_sessions = lite_read_sessions,
    .read_sites = lite_read_sites,
    .count_elsewhere = lite_count_elsewhere,
    .read_latest = lite_read_latest,
    .read_fleet = lite_read_fleet,
};
