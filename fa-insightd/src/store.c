/* store.c — the single SQLite writer, on the loop thread.
 *
 * LAYOUT (schema 1). Raw frames are one row per frame with every tag row
 * packed into a varint BLOB (pack.c), not one row per tag: at the target
 * load (100 games x 60 fps x 64 tags) per-tag rows are 384k inserts/s and
 * a B-tree whose hot leaves (one per session x tag) do not fit a sane page
 * cache, while packed rows are 6k appends/s to one index leaf per session.
 * `make bench-insightd` measures both layouts; see fa-insightd/BENCH.md.
 * Rollups use the same idea: one row per session and second (10 seconds,
 * minute) holding min/avg/max/last of every tag. A trend query reads at
 * most a few thousand such rows (360 for an hour at 30 s points) and
 * decodes one tag from each.
 *
 * WRITES are batched: the first write opens a transaction and store_commit
 * (every commit interval, earlier after an alert, and at shutdown) ends
 * it. WAL with synchronous=NORMAL: a commit is a write() to the WAL, no
 * fsync; a kill -9 loses at most the open transaction and the file stays
 * consistent. Readers (query.c) use their own read-only connections. */
#include "insightd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))
_Static_assert(MIGRATION_COUNT == STORE_SCHEMA_VERSION, "one migration per schema version");

enum {
    ST_SESSION,
    ST_TAG,
    ST_FRAME,
    ST_ROLLUP_S,
    ST_ROLLUP_10,
    ST_ROLLUP_M,
    ST_FINDING,
    ST_ALERT_INSERT,
    ST_ALERT_UPDATE,
    ST_COUNT
};

static const char *const statements[ST_COUNT] = {
    [ST_SESSION] =
        "INSERT INTO sessions(id, app, label, host, build_id, pid, lib_version, start_unix_ns,"
        " start_mono_ns, have_hello, first_ms, last_ms, ended_ms, end_reason, frames, last_frame,"
        " gaps, agent_dropped) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"
        " ON CONFLICT(id) DO UPDATE SET app=?2, label=?3, host=?4, build_id=?5, pid=?6,"
        " lib_version=?7, start_unix_ns=?8, start_mono_ns=?9, have_hello=?10, first_ms=?11,"
        " last_ms=?12, ended_ms=?13, end_reason=?14, frames=?15, last_frame=?16, gaps=?17,"
        " agent_dropped=?18",
    [ST_TAG] =
        "INSERT INTO tags(session_id, id, parent_id, path, defined, budget_soft, budget_hard, live_bytes,"
        " peak_bytes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT(session_id, id) DO UPDATE SET"
        " parent_id=?3, path=?4, defined=?5, budget_soft=?6, budget_hard=?7, live_bytes=?8,"
        " peak_bytes=?9",
    [ST_FRAME] = "INSERT INTO frames(session_id, t_ms, frame, duration_ns, data) VALUES(?1,?2,?3,?4,?5)",
    [ST_ROLLUP_S] = "INSERT INTO rollup_1s(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_ROLLUP_10] = "INSERT INTO rollup_10s(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_ROLLUP_M] = "INSERT INTO rollup_1m(session_id, t_ms, frames, data) VALUES(?1,?2,?3,?4)",
    [ST_FINDING] = "INSERT INTO findings(session_id, t_ms, code, tag_id, kind, frames, count_max, value_max)"
                   " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [ST_ALERT_INSERT] =
        "INSERT INTO alerts(session_id, tag_id, path, level, raised_ms, raised_bytes,"
        " peak_bytes, budget_hard, cleared_ms, clear_reason) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
    [ST_ALERT_UPDATE] = "UPDATE alerts SET level=?2, peak_bytes=?3, budget_hard=?4, cleared_ms=?5,"
                        " clear_reason=?6 WHERE id=?1",
};

struct store {
    sqlite3 *db;
    sqlite3 *checkpointer; /* its own connection, used off the loop thread */
    sqlite3_stmt *stmt[ST_COUNT];
    bool in_txn;
    uint64_t rows_in_txn;
    atomic_int wal_pages; /* WAL size seen by the last background checkpoint */
    int wal_reset_pages;  /* STORE_WAL_RESET_PAGES; tests lower it */
    char path[CONFIG_PATH_MAX];
    int retention_cursor; /* which session retention resumes with */
};

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
                 "database '%s' has schema %d, newer than this %s (%d): use a newer daemon or another --db",
                 path, version, INSIGHTD_NAME, MIGRATION_COUNT);
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

int store_open(store_t **out, const char *path, char *err, size_t errcap) {
    store_t *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    snprintf(st->path, sizeof st->path, "%s", path);
    st->wal_reset_pages = STORE_WAL_RESET_PAGES;
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "cannot open database '%s': %s", path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto fail;
    }
    /* SQLite silently opens a write-protected file read-only: say so now
     * rather than failing on the first frame. */
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        snprintf(err, errcap,
                 "database '%s' is read-only: %s needs write access to the file and its directory "
                 "(check permissions or choose another --db)",
                 path, INSIGHTD_NAME);
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 5000);
    sqlite3_extended_result_codes(st->db, 1);
    if (migrate(st->db, path, err, errcap) != 0) goto fail;

    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &q, NULL) != SQLITE_OK) {
        snprintf(err, errcap, "database '%s': %s", path, sqlite3_errmsg(st->db));
        goto fail;
    }
    const char *mode = sqlite3_step(q) == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    bool wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(q);
    if (!wal) {
        snprintf(err, errcap, "database '%s': cannot switch to WAL mode (%s); is its directory writable?",
                 path, sqlite3_errmsg(st->db));
        goto fail;
    }
    char why[512];
    /* No automatic checkpoint in COMMIT: copying the WAL back (and its
     * fsyncs) took up to 0.3 s on the loop thread in the benchmark. A
     * second connection checkpoints on the thread pool instead. */
    if (exec_sql(st->db,
                 "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-8000; PRAGMA temp_store=MEMORY;"
                 "PRAGMA journal_size_limit=67108864; PRAGMA wal_autocheckpoint=0;",
                 why, sizeof why) != 0) {
        snprintf(err, errcap, "database '%s': %s", path, why);
        goto fail;
    }
    for (int i = 0; i < ST_COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errcap, "database '%s': preparing statement %d: %s", path, i,
                     sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    if (sqlite3_open_v2(path, &st->checkpointer, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(err, errcap, "database '%s': checkpoint connection: %s", path,
                 sqlite3_errmsg(st->checkpointer));
        goto fail;
    }
    sqlite3_busy_timeout(st->checkpointer, 1000);
    /* A connection learns the journal mode when it first reads the file;
     * until then a checkpoint through it is a silent no-op. */
    if (exec_sql(st->checkpointer, "SELECT count(*) FROM sqlite_master", why, sizeof why) != 0) {
        snprintf(err, errcap, "database '%s': checkpoint connection: %s", path, why);
        goto fail;
    }
    /* A write test: a read-only file that SQLite did not detect (another
     * owner, a read-only mount) fails here with a clear message. */
    if (exec_sql(st->db, "BEGIN IMMEDIATE; COMMIT;", why, sizeof why) != 0) {
        snprintf(err, errcap, "database '%s' is not writable: %s", path, why);
        goto fail;
    }
    *out = st;
    return 0;
fail:
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->checkpointer);
    sqlite3_close(st->db);
    free(st);
    return -1;
}

sqlite3 *store_db(store_t *st) {
    return st->db;
}
uint64_t store_rows_in_txn(const store_t *st) {
    return st->rows_in_txn;
}

int store_commit(store_t *st) {
    if (!st->in_txn) return 0;
    uint64_t t0 = insightd_mono_ms();
    char why[512];
    int rc = exec_sql(st->db, "COMMIT", why, sizeof why);
    uint64_t dt = insightd_mono_ms() - t0;
    st->in_txn = false;
    st->rows_in_txn = 0;
    if (rc != 0) {
        /* The batch is lost: count its frames as dropped, not stored. */
        exec_sql(st->db, "ROLLBACK", NULL, 0);
        g_stats.commit_errors++;
        g_stats.frames_dropped_store += g_stats.frames_uncommitted;
        g_stats.frames_uncommitted = 0;
        LOG(LOG_ERROR, "database %s: commit failed: %s", st->path, why);
        return -1;
    }
    /* The background checkpointer copies the WAL back but can never let it
     * restart from its beginning: under steady ingest a write transaction
     * is always open, so the WAL would grow without bound. When it is big,
     * the writer, now between transactions, checkpoints the little the
     * background left (the last commits) itself; the next BEGIN then
     * rewinds the WAL (and journal_size_limit trims the file). */
    if (atomic_load(&st->wal_pages) > st->wal_reset_pages) {
        int wal = 0, copied = 0;
        if (sqlite3_wal_checkpoint_v2(st->db, "main", SQLITE_CHECKPOINT_PASSIVE, &wal, &copied) ==
                SQLITE_OK &&
            wal == copied) {
            atomic_store(&st->wal_pages, 0);
            g_stats.wal_resets++;
        }
        dt = insightd_mono_ms() - t0;
    }
    g_stats.commits++;
    g_stats.frames_stored += g_stats.frames_uncommitted;
    g_stats.frames_uncommitted = 0;
    g_stats.commit_ms_last = dt;
    if (dt > g_stats.commit_ms_max) g_stats.commit_ms_max = dt;
    g_stats.last_commit_unix_ms = insightd_now_ms();
    return 0;
}

static int begin(store_t *st) {
    if (st->in_txn) return 0;
    char why[512];
    if (exec_sql(st->db, "BEGIN", why, sizeof why) != 0) {
        g_stats.store_errors++;
        LOG(LOG_ERROR, "database %s: BEGIN failed: %s", st->path, why);
        return -1;
    }
    st->in_txn = true;
    return 0;
}

/* Steps a bound statement inside the open transaction. */
static int run(store_t *st, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) {
        g_stats.store_errors++;
        LOG(LOG_ERROR, "database %s: write failed: %s", st->path, sqlite3_errmsg(st->db));
        return -1;
    }
    st->rows_in_txn++;
    return 0;
}

static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) {
    sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}
static void bind_opt(sqlite3_stmt *s, int i, uint64_t v, bool present) {
    if (present)
        bind_u64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

int store_save_session(store_t *st, const session_t *x) {
    if (begin(st) != 0) return -1;
    sqlite3_stmt *s = st->stmt[ST_SESSION];
    bind_u64(s, 1, x->id);
    sqlite3_bind_text(s, 2, x->app, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, x->label, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, x->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, x->build_id, -1, SQLITE_STATIC);
    bind_u64(s, 6, x->pid);
    bind_u64(s, 7, x->lib_version);
    bind_u64(s, 8, x->start_unix_ns);
    bind_u64(s, 9, x->start_mono_ns);
    sqlite3_bind_int(s, 10, x->have_hello);
    bind_opt(s, 11, x->first_ms, x->frames > 0);
    bind_opt(s, 12, x->last_ms, x->frames > 0);
    bind_opt(s, 13, x->ended_ms, x->ended_ms != 0);
    if (x->end_reason)
        sqlite3_bind_text(s, 14, x->end_reason, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 14);
    bind_u64(s, 15, x->frames);
    bind_u64(s, 16, x->last_frame);
    bind_u64(s, 17, x->gaps);
    bind_u64(s, 18, x->agent_dropped);
    return run(st, s);
}

int store_save_tag(store_t *st, uint64_t sid, const tag_t *t) {
    if (begin(st) != 0) return -1;
    sqlite3_stmt *s = st->stmt[ST_TAG];
    bind_u64(s, 1, sid);
    sqlite3_bind_int(s, 2, t->id);
    sqlite3_bind_int(s, 3, t->parent_id);
    sqlite3_bind_text(s, 4, t->path, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 5, t->defined);
    bind_u64(s, 6, t->budget_soft);
    bind_u64(s, 7, t->budget_hard);
    bind_u64(s, 8, t->live_bytes);
    bind_u64(s, 9, t->peak_bytes);
    return run(st, s);
}

int store_insert_frame(store_t *st, uint64_t sid, uint64_t t_ms, uint64_t frame, uint64_t duration_ns,
                       const void *blob, size_t len) {
    if (begin(st) != 0) return -1;
    sqlite3_stmt *s = st->stmt[ST_FRAME];
    bind_u64(s, 1, sid);
    bind_u64(s, 2, t_ms);
    bind_u64(s, 3, frame);
    bind_u64(s, 4, duration_ns);
    sqlite3_bind_blob(s, 5, blob, (int)len, SQLITE_STATIC);
    if (run(st, s) != 0) return -1;
    g_stats.frames_uncommitted++;
    return 0;
}

int store_insert_rollup(store_t *st, int level, uint64_t sid, uint64_t t_ms, uint32_t frames,
                        const void *blob, size_t len) {
    if (begin(st) != 0) return -1;
    sqlite3_stmt *s = st->stmt[level == ROLLUP_SECOND ? ST_ROLLUP_S
                               : level == ROLLUP_10S  ? ST_ROLLUP_10
                                                      : ST_ROLLUP_M];
    bind_u64(s, 1, sid);
    bind_u64(s, 2, t_ms);
    bind_u64(s, 3, frames);
    sqlite3_bind_blob(s, 4, blob, (int)len, SQLITE_STATIC);
    return run(st, s);
}

int store_insert_finding(store_t *st, uint64_t sid, uint64_t t_ms, const finding_acc_t *f) {
    if (begin(st) != 0) return -1;
    sqlite3_stmt *s = st->stmt[ST_FINDING];
    bind_u64(s, 1, sid);
    bind_u64(s, 2, t_ms);
    sqlite3_bind_int(s, 3, f->code);
    sqlite3_bind_int(s, 4, f->tag_id);
    sqlite3_bind_int(s, 5, f->kind);
    bind_u64(s, 6, f->frames);
    bind_u64(s, 7, f->count_max);
    bind_u64(s, 8, f->value_max);
    return run(st, s);
}

int store_save_alert(store_t *st, uint64_t sid, const tag_t *t, alert_state_t *a, uint64_t cleared_ms,
                     const char *clear_reason) {
    if (begin(st) != 0) return -1;
    const char *level = alerts_level_name(a->episode_level);
    sqlite3_stmt *s;
    if (a->id == 0) {
        s = st->stmt[ST_ALERT_INSERT];
        bind_u64(s, 1, sid);
        sqlite3_bind_int(s, 2, t->id);
        sqlite3_bind_text(s, 3, t->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, level, -1, SQLITE_STATIC);
        bind_u64(s, 5, a->raised_ms);
        bind_u64(s, 6, a->raised_bytes);
        bind_u64(s, 7, a->peak_bytes);
        bind_u64(s, 8, a->budget_hard);
        bind_opt(s, 9, cleared_ms, clear_reason != NULL);
        if (clear_reason)
            sqlite3_bind_text(s, 10, clear_reason, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 10);
        if (run(st, s) != 0) return -1;
        a->id = sqlite3_last_insert_rowid(st->db);
    } else {
        s = st->stmt[ST_ALERT_UPDATE];
        sqlite3_bind_int64(s, 1, a->id);
        sqlite3_bind_text(s, 2, level, -1, SQLITE_STATIC);
        bind_u64(s, 3, a->peak_bytes);
        bind_u64(s, 4, a->budget_hard);
        bind_opt(s, 5, cleared_ms, clear_reason != NULL);
        if (clear_reason)
            sqlite3_bind_text(s, 6, clear_reason, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(s, 6);
        if (run(st, s) != 0) return -1;
    }
    a->peak_dirty = false;
    return 0;
}

/* Deletes up to `limit` rows of one table for one session older than
 * cutoff, through the (session_id, t_ms) index. */
static int64_t prune(store_t *st, const char *table, sqlite3_int64 sid, uint64_t cutoff, int limit) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE session_id=?1 AND t_ms<?2 LIMIT ?3)",
             table, table);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(s, 1, sid);
    bind_u64(s, 2, cutoff);
    sqlite3_bind_int(s, 3, limit);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return -1;
    return sqlite3_changes(st->db);
}

int64_t store_retention(store_t *st, uint64_t now_ms, const store_keep_t *keep, int max_rows) {
    struct {
        const char *table;
        uint64_t keep;
    } plan[] = {{"frames", keep->raw},
                {"rollup_1s", keep->second},
                {"findings", keep->second},
                {"rollup_10s", keep->ten_sec},
                {"rollup_1m", keep->minute}};
    sqlite3_stmt *q;
    /* Only sessions that have data older than the shortest horizon. */
    if (sqlite3_prepare_v2(st->db, "SELECT id FROM sessions WHERE first_ms < ?1 ORDER BY id", -1, &q, NULL) !=
        SQLITE_OK)
        return -1;
    uint64_t shortest = keep->raw < keep->second ? keep->raw : keep->second;
    bind_u64(q, 1, now_ms > shortest ? now_ms - shortest : 0);
    sqlite3_int64 *ids = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            sqlite3_int64 *grown = realloc(ids, cap * sizeof *ids);
            if (!grown) break;
            ids = grown;
        }
        ids[n++] = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    int64_t deleted = 0;
    if (n && begin(st) == 0) {
        /* Resume where the previous call stopped so that one busy session
         * cannot starve the others. */
        for (size_t k = 0; k < n && deleted < max_rows; k++) {
            size_t i = ((size_t)st->retention_cursor + k) % n;
            for (size_t p = 0; p < sizeof plan / sizeof plan[0] && deleted < max_rows; p++) {
                if (now_ms <= plan[p].keep) continue;
                int64_t d =
                    prune(st, plan[p].table, ids[i], now_ms - plan[p].keep, (int)(max_rows - deleted));
                if (d < 0) {
                    g_stats.store_errors++;
                    LOG(LOG_ERROR, "retention on %s failed: %s", plan[p].table, sqlite3_errmsg(st->db));
                    free(ids);
                    return -1;
                }
                deleted += d;
            }
            if (deleted >= max_rows) st->retention_cursor = (int)i;
        }
        st->rows_in_txn += (uint64_t)deleted;
    }
    free(ids);
    g_stats.retention_deleted += (uint64_t)deleted;
    return deleted;
}

static const char *static_reason(const unsigned char *text) {
    static const char *const known[] = {"bye", "timeout", "daemon_restart", "daemon_stopped"};
    if (!text) return NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp((const char *)text, known[i]) == 0) return known[i];
    return "unknown";
}

static void copy_text(char *dst, size_t cap, const unsigned char *src) {
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

int store_load(store_t *st, uint32_t max, store_session_fn fn, store_tag_fn tag_fn, void *ud) {
    char why[512];
    /* Sessions and alerts a crash (or kill) left open are closed now: the
     * agents they belong to will send a HELLO again if they are alive. */
    if (exec_sql(
            st->db,
            "BEGIN IMMEDIATE;"
            "UPDATE alerts SET cleared_ms = COALESCE((SELECT COALESCE(s.last_ms, s.first_ms) FROM sessions s"
            " WHERE s.id = alerts.session_id), raised_ms), clear_reason = 'daemon_restart'"
            " WHERE cleared_ms IS NULL;"
            "UPDATE sessions SET ended_ms = COALESCE(last_ms, start_unix_ns / 1000000),"
            " end_reason = 'daemon_restart' WHERE ended_ms IS NULL;"
            "COMMIT;",
            why, sizeof why) != 0) {
        exec_sql(st->db, "ROLLBACK", NULL, 0);
        LOG(LOG_ERROR, "database %s: closing open sessions failed: %s", st->path, why);
        return -1;
    }
    sqlite3_stmt *q, *tq;
    if (sqlite3_prepare_v2(
            st->db,
            "SELECT id, app, label, host, build_id, pid, lib_version, start_unix_ns, start_mono_ns,"
            " have_hello, first_ms, last_ms, ended_ms, end_reason, frames, last_frame, gaps,"
            " agent_dropped FROM sessions"
            " ORDER BY COALESCE(last_ms, start_unix_ns / 1000000) DESC LIMIT ?1",
            -1, &q, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, parent_id, path, defined, budget_soft, budget_hard, live_bytes,"
                           " peak_bytes FROM tags WHERE session_id = ?1 ORDER BY id",
                           -1, &tq, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return -1;
    }
    sqlite3_bind_int64(q, 1, max);
    session_t *s = malloc(sizeof *s);
    if (!s) {
        sqlite3_finalize(q);
        sqlite3_finalize(tq);
        return -1;
    }
    while (sqlite3_step(q) == SQLITE_ROW) {
        memset(s, 0, sizeof *s);
        s->id = (uint64_t)sqlite3_column_int64(q, 0);
        copy_text(s->app, sizeof s->app, sqlite3_column_text(q, 1));
        copy_text(s->label, sizeof s->label, sqlite3_column_text(q, 2));
        copy_text(s->host, sizeof s->host, sqlite3_column_text(q, 3));
        copy_text(s->build_id, sizeof s->build_id, sqlite3_column_text(q, 4));
        s->pid = (uint32_t)sqlite3_column_int64(q, 5);
        s->lib_version = (uint32_t)sqlite3_column_int64(q, 6);
        s->start_unix_ns = (uint64_t)sqlite3_column_int64(q, 7);
        s->start_mono_ns = (uint64_t)sqlite3_column_int64(q, 8);
        s->have_hello = sqlite3_column_int(q, 9) != 0;
        s->started_ms = s->start_unix_ns / 1000000u;
        s->first_ms = (uint64_t)sqlite3_column_int64(q, 10);
        s->last_ms = (uint64_t)sqlite3_column_int64(q, 11);
        s->ended_ms = (uint64_t)sqlite3_column_int64(q, 12);
        s->end_reason = static_reason(sqlite3_column_text(q, 13));
        s->frames = (uint64_t)sqlite3_column_int64(q, 14);
        s->last_frame = (uint64_t)sqlite3_column_int64(q, 15);
        s->gaps = (uint64_t)sqlite3_column_int64(q, 16);
        s->agent_dropped = (uint64_t)sqlite3_column_int64(q, 17);
        fn(ud, s);
        sqlite3_bind_int64(tq, 1, (sqlite3_int64)s->id);
        while (sqlite3_step(tq) == SQLITE_ROW) {
            tag_t t;
            memset(&t, 0, sizeof t);
            t.id = (uint16_t)sqlite3_column_int(tq, 0);
            t.parent_id = (uint16_t)sqlite3_column_int(tq, 1);
            t.path = (char *)sqlite3_column_text(tq, 2); /* borrowed for the call */
            t.defined = sqlite3_column_int(tq, 3) != 0;
            t.budget_soft = (uint64_t)sqlite3_column_int64(tq, 4);
            t.budget_hard = (uint64_t)sqlite3_column_int64(tq, 5);
            t.live_bytes = (uint64_t)sqlite3_column_int64(tq, 6);
            t.peak_bytes = (uint64_t)sqlite3_column_int64(tq, 7);
            t.seen = t.live_bytes || t.peak_bytes;
            tag_fn(ud, s->id, &t);
        }
        sqlite3_reset(tq);
    }
    free(s);
    sqlite3_finalize(q);
    sqlite3_finalize(tq);
    return 0;
}

void store_set_wal_reset_pages(store_t *st, int pages) {
    st->wal_reset_pages = pages;
}

int store_checkpoint(store_t *st, int *wal_frames, int *copied) {
    int rc =
        sqlite3_wal_checkpoint_v2(st->checkpointer, "main", SQLITE_CHECKPOINT_PASSIVE, wal_frames, copied);
    if (rc == SQLITE_OK) atomic_store(&st->wal_pages, *wal_frames);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : -1;
}

void store_close(store_t *st) {
    if (!st) return;
    store_commit(st);
    sqlite3_close(st->checkpointer);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    /* A clean close checkpoints the WAL into the main file. */
    int rc = sqlite3_close(st->db);
    if (rc != SQLITE_OK) LOG(LOG_WARN, "database %s: close: %s", st->path, sqlite3_errstr(rc));
    free(st);
}
