/* store_pg.c — the PostgreSQL backend of store.h (libpq).
 *
 * A server that many daemons write to at once: one per host or CI runner,
 * each ingesting its own games, any of them (or one started with
 * --no-ingest) answering for the whole fleet.
 *
 * LAYOUT. The tables of the SQLite store (one row per frame with its tag
 * rows packed, rollups likewise; store_sqlite.c says why), with the
 * time-ordered ones (frames, rollups, findings) partitioned by range of
 * t_ms. A partition's width is chosen once per database from the
 * retention of the daemon that created it (about a sixth of the
 * retention, on a ladder from 1 minute to 7 days) and kept in fa_meta, so
 * every daemon cuts the same partitions. Partitions are created ahead of
 * time (two widths) by the writer between batches, attached so that
 * writers and readers of the parent never wait for it; retention drops
 * whole partitions once they are past the horizon and deletes, in bounded
 * steps, the older rows of the one partition the horizon cuts (its BRIN
 * index on t_ms finds them), so a horizon is exact whatever the width.
 * B-tree indexes on (session_id, t_ms) serve the API's per-session
 * queries; sessions, tags and alerts are plain tables.
 *
 * WRITES come from the writer thread on one connection: frames, rollups
 * and findings by COPY (binary) in batches, the rest through prepared
 * statements, one transaction per batch. u64 values are stored as the
 * bit pattern of a bigint, as in SQLite. PostgreSQL aborts a transaction
 * on any error, so a record the server refuses for good fails its batch
 * once (STORE_RETRY) and is remembered: the writer retries the batch and
 * this time the record is skipped (STORE_REJECTED). A lost connection is
 * STORE_RETRY and is re-opened before the next batch.
 *
 * MANY DAEMONS. A daemon that ingests registers in `daemons` and holds a
 * session-level advisory lock on its id for as long as its connection
 * lives; the sessions it writes carry its id. A session still open whose
 * daemon holds no lock (it was killed, its host lost the network) is
 * ended by whichever daemon looks next ("daemon_restart"). Alert ids are
 * ranges of 2^32 per registered daemon. Partition upkeep and retention
 * take an advisory lock so that one daemon does each at a time.
 *
 * READS use their own connections (read-only transactions), results in
 * binary; a request's cancel flag or deadline is watched while the server
 * works, and the server is told to cancel (PQcancel). */
#include "store_backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fleetagg.h"
#include "log.h"
#include "pack.h"
#include "storerow.h"

/* Advisory lock keys (two-int form): (LOCK_CLASS, what). */
#define LOCK_CLASS 0x66614944 /* "faID" */
enum { LOCK_MIGRATE = 1, LOCK_PARTITIONS = 2, LOCK_RETENTION = 3, LOCK_ANALYZE = 4, LOCK_DAEMON_BASE = 16 };
/* A daemon's alert ids: (daemon id << 32) + n; ids stay below 2^53. */
#define ALERT_ID_SHIFT 32
#define DAEMON_ID_MAX ((1ll << 21) - 1)
#define REAP_EVERY_MS 10000u
#define PARTITION_AHEAD 2 /* widths of partitions ready beyond now */
#define PARTITION_BEHIND_MS 120000u
#define POISON_MAX 64
#define READ_POLL_MS 5
#define FA_STR2(x) #x
#define FA_STR(x) FA_STR2(x)

/* ---- schema ---------------------------------------------------------------- */

enum { PT_FRAMES, PT_ROLLUP_S, PT_ROLLUP_10, PT_ROLLUP_M, PT_FINDINGS, PT_COUNT };
static const char *const pt_table[PT_COUNT] = {"frames", "rollup_1s", "rollup_10s", "rollup_1m", "findings"};

#define BIG "bigint NOT NULL DEFAULT 0"
/* 3: where each tag's figures start in a rollup blob (tag_at[id], 1-based,
 * NULL for an id without a row; the column NULL when the blob's ids are
 * too many or too sparse), so that a trend reads one tag's figures
 * (substring) instead of shipping every tag of every bucket: an hour of
 * per-second buckets of 64 tags is 3.8 MB through the protocol, its one
 * tag 0.2 MB. Rows written before stay NULL and are read whole. */
static const char *const schema_v3 = "ALTER TABLE rollup_1s ADD COLUMN IF NOT EXISTS tag_at integer[];"
                                     "ALTER TABLE rollup_10s ADD COLUMN IF NOT EXISTS tag_at integer[];"
                                     "ALTER TABLE rollup_1m ADD COLUMN IF NOT EXISTS tag_at integer[];";
/* 2: call sites (issue 15): each session's site dictionary (their figures
 * are in the frame and rollup blobs). */
static const char *const schema_v2 =
    "CREATE TABLE sites (session_id bigint NOT NULL, id bigint NOT NULL, line bigint NOT NULL,"
    "  kind integer NOT NULL, file text NOT NULL, function text NOT NULL, PRIMARY KEY (session_id, id));";

static const char *const schema_v1 =
    "CREATE TABLE fa_meta (key text PRIMARY KEY, value bigint NOT NULL);"
    "CREATE TABLE daemons (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, host text NOT NULL,"
    "  pid bigint NOT NULL, started_ms bigint NOT NULL);"
    "CREATE TABLE sessions (id bigint PRIMARY KEY, app text NOT NULL DEFAULT '', label text NOT NULL DEFAULT "
    "'',"
    "  host text NOT NULL DEFAULT '', build_id text NOT NULL DEFAULT '', pid " BIG ", lib_version " BIG ","
    "  start_unix_ns " BIG ", start_mono_ns " BIG ", have_hello boolean NOT NULL DEFAULT false,"
    "  first_ms bigint, last_ms bigint, ended_ms bigint, end_reason text, frames " BIG ", last_frame " BIG ","
    "  gaps " BIG ", agent_dropped " BIG ", last_seen_ms " BIG ", next_seq " BIG ", duplicates " BIG ","
    "  rows_rejected " BIG ", clock_skew_ms bigint, daemon_id bigint);"
    "CREATE INDEX sessions_by_activity ON sessions(last_seen_ms, id);"
    "CREATE INDEX sessions_by_app ON sessions(app, last_seen_ms);"
    "CREATE INDEX sessions_open ON sessions(last_seen_ms, id) WHERE ended_ms IS NULL;"
    "CREATE TABLE tags (session_id bigint NOT NULL, id integer NOT NULL, parent_id integer NOT NULL,"
    "  path text NOT NULL, defined boolean NOT NULL, budget_soft bigint NOT NULL, budget_hard bigint NOT "
    "NULL,"
    "  live_bytes " BIG ", peak_bytes " BIG ", live_sum " BIG ", live_frames " BIG ","
    "  PRIMARY KEY (session_id, id));"
    "CREATE TABLE frames (session_id bigint NOT NULL, t_ms bigint NOT NULL, frame bigint NOT NULL,"
    "  duration_ns bigint NOT NULL, data bytea NOT NULL) PARTITION BY RANGE (t_ms);"
    /* frame breaks ties of t_ms: the newest-first page is an index walk */
    "CREATE INDEX frames_by_session_time ON frames(session_id, t_ms, frame);"
    "CREATE INDEX frames_by_time ON frames USING brin (t_ms);"
    "CREATE TABLE rollup_1s (session_id bigint NOT NULL, t_ms bigint NOT NULL, frames bigint NOT NULL,"
    "  data bytea NOT NULL) PARTITION BY RANGE (t_ms);"
    "CREATE INDEX rollup_1s_by_session_time ON rollup_1s(session_id, t_ms);"
    "CREATE INDEX rollup_1s_by_time ON rollup_1s USING brin (t_ms);"
    "CREATE TABLE rollup_10s (LIKE rollup_1s) PARTITION BY RANGE (t_ms);"
    "CREATE INDEX rollup_10s_by_session_time ON rollup_10s(session_id, t_ms);"
    "CREATE INDEX rollup_10s_by_time ON rollup_10s USING brin (t_ms);"
    "CREATE TABLE rollup_1m (LIKE rollup_1s) PARTITION BY RANGE (t_ms);"
    "CREATE INDEX rollup_1m_by_session_time ON rollup_1m(session_id, t_ms);"
    "CREATE INDEX rollup_1m_by_time ON rollup_1m USING brin (t_ms);"
    "CREATE SEQUENCE findings_id;"
    "CREATE TABLE findings (id bigint NOT NULL DEFAULT nextval('findings_id'), session_id bigint NOT NULL,"
    "  t_ms bigint NOT NULL, code integer NOT NULL, tag_id integer NOT NULL, kind integer NOT NULL,"
    "  frames bigint NOT NULL, count_max bigint NOT NULL, value_max bigint NOT NULL) PARTITION BY RANGE "
    "(t_ms);"
    "CREATE INDEX findings_by_session_time ON findings(session_id, t_ms, id);"
    "CREATE INDEX findings_by_time ON findings USING brin (t_ms);"
    "CREATE TABLE alerts (id bigint PRIMARY KEY, session_id bigint NOT NULL, tag_id integer NOT NULL,"
    "  path text NOT NULL, level text NOT NULL, raised_ms bigint NOT NULL, raised_bytes bigint NOT NULL,"
    "  peak_bytes bigint NOT NULL, budget_hard bigint NOT NULL, cleared_ms bigint, clear_reason text);"
    "CREATE INDEX alerts_by_session ON alerts(session_id, raised_ms, id);"
    "CREATE INDEX alerts_by_time ON alerts(raised_ms, id);"
    /* The partitions of `parent` covering [lo, hi], created (empty, then
     * attached) where missing: the writer uses it, and so can anyone who
     * loads old rows. Returns how many it created. */
    "CREATE FUNCTION fa_partition(parent text, lo bigint, hi bigint) RETURNS integer LANGUAGE plpgsql AS $fa$"
    " DECLARE w bigint; s bigint; n integer := 0; name text;"
    " BEGIN"
    "  SELECT value INTO w FROM fa_meta WHERE key = 'width_' || parent;"
    "  IF w IS NULL THEN RAISE EXCEPTION 'fa_partition: % is not partitioned by fa-insightd', parent; END IF;"
    "  s := greatest(lo, 0) / w * w;"
    "  WHILE s <= hi LOOP"
    "   name := parent || '_p' || s;"
    "   IF to_regclass(name) IS NULL THEN"
    "    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', name, parent);"
    "    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, name, s, "
    "s + w);"
    "    n := n + 1;"
    "   END IF;"
    "   s := s + w;"
    "  END LOOP;"
    "  RETURN n;"
    " END $fa$;";

enum { PS_SESSION, PS_COUNTERS, PS_TAG, PS_ALERT, PS_SITE, PS_LOOKUP_SESSION, PS_LOOKUP_TAGS, PS_COUNT };
static const struct {
    const char *name, *sql;
    int nparams;
} prepared[PS_COUNT] = {
    [PS_SESSION] =
        {"fa_session",
         "INSERT INTO sessions(" STOREROW_SESSION_COLUMNS
         ", daemon_id) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
         "$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24) ON CONFLICT (id) DO UPDATE SET"
         " app=EXCLUDED.app, label=EXCLUDED.label, host=EXCLUDED.host, build_id=EXCLUDED.build_id,"
         " pid=EXCLUDED.pid, lib_version=EXCLUDED.lib_version, start_unix_ns=EXCLUDED.start_unix_ns,"
         " start_mono_ns=EXCLUDED.start_mono_ns, have_hello=EXCLUDED.have_hello,"
         " first_ms=EXCLUDED.first_ms, last_ms=EXCLUDED.last_ms, ended_ms=EXCLUDED.ended_ms,"
         " end_reason=EXCLUDED.end_reason, frames=EXCLUDED.frames, last_frame=EXCLUDED.last_frame,"
         " gaps=EXCLUDED.gaps, agent_dropped=EXCLUDED.agent_dropped,"
         " last_seen_ms=EXCLUDED.last_seen_ms, next_seq=EXCLUDED.next_seq,"
         " duplicates=EXCLUDED.duplicates, rows_rejected=EXCLUDED.rows_rejected,"
         " clock_skew_ms=EXCLUDED.clock_skew_ms, daemon_id=EXCLUDED.daemon_id"
         /* a session another daemon took over (and heard from
          * since) is not overwritten by the one that lost it */
         " WHERE sessions.daemon_id IS NOT DISTINCT FROM EXCLUDED.daemon_id"
         " OR EXCLUDED.last_seen_ms >= sessions.last_seen_ms",
         24},
    [PS_COUNTERS] = {"fa_counters",
                     "UPDATE sessions SET frames=$2, last_frame=$3, gaps=$4, agent_dropped=$5, duplicates=$6,"
                     " rows_rejected=$7, next_seq=$8, first_ms=$9, last_ms=$10, last_seen_ms=$11 WHERE id=$1",
                     11},
    [PS_TAG] =
        {"fa_tag",
         "INSERT INTO tags(session_id, " STOREROW_TAG_COLUMNS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
         " ON CONFLICT (session_id, id) DO UPDATE SET parent_id=EXCLUDED.parent_id, path=EXCLUDED.path,"
         " defined=EXCLUDED.defined, budget_soft=EXCLUDED.budget_soft,"
         " budget_hard=EXCLUDED.budget_hard, live_bytes=EXCLUDED.live_bytes,"
         " peak_bytes=EXCLUDED.peak_bytes, live_sum=EXCLUDED.live_sum, live_frames=EXCLUDED.live_frames",
         11},
    [PS_ALERT] = {"fa_alert",
                  "INSERT INTO alerts(" STOREROW_ALERT_COLUMNS ") VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
                  " ON CONFLICT (id) DO UPDATE SET level=EXCLUDED.level, peak_bytes=EXCLUDED.peak_bytes,"
                  " budget_hard=EXCLUDED.budget_hard, cleared_ms=EXCLUDED.cleared_ms,"
                  " clear_reason=EXCLUDED.clear_reason",
                  11},
    [PS_SITE] = {"fa_site",
                 "INSERT INTO sites(session_id, id, line, kind, file, function) VALUES($1,$2,$3,$4,$5,$6)"
                 " ON CONFLICT (session_id, id) DO UPDATE SET line=EXCLUDED.line, kind=EXCLUDED.kind,"
                 " file=EXCLUDED.file, function=EXCLUDED.function",
                 6},
    [PS_LOOKUP_SESSION] = {"fa_lookup_session",
                           "SELECT " STOREROW_SESSION_COLUMNS " FROM sessions WHERE id = $1", 1},
    [PS_LOOKUP_TAGS] = {"fa_lookup_tags",
                        "SELECT " STOREROW_TAG_COLUMNS " FROM tags WHERE session_id = $1 ORDER BY id", 1},
};

/* ---- the store ---------------------------------------------------------------- */

/* A reader keeps its statements prepared: planning a query over
 * partitions cost more than running it (0.4 ms against 0.1 for a page of
 * rollups). The plans are generic (plan_cache_mode; partitions pruned when
 * they run) and made again when statistics or partitions change. */
#define READER_STATEMENTS 64
typedef struct pg_reader {
    store_reader_t base;
    PGconn *conn;
    char *prepared[READER_STATEMENTS]; /* 'P' (prepared as "fa_r<i>") or 'U' (cannot be), then the text */
    int nprepared;
} pg_reader_t;

/* A record the server refused: skipped when its batch is tried again. */
typedef struct poison {
    int kind; /* POISON_* */
    uint64_t a, b, c;
} poison_t;
enum {
    POISON_FRAME = 1,
    POISON_ROLLUP,
    POISON_FINDING,
    POISON_SESSION,
    POISON_TAG,
    POISON_ALERT,
    POISON_COUNTERS,
    POISON_SITE
};

/* COPY data in binary format, being built. */
typedef struct copybuf {
    uint8_t *p;
    size_t len, cap;
    bool failed; /* out of memory: the COPY is not sent */
} copybuf_t;

typedef struct pg_store {
    store_t base;
    char *uri; /* with its password: for reconnecting */
    PGconn *conn;
    bool txn_failed;   /* an error aborted the open transaction */
    int64_t daemon_id; /* 0 until registered (store_load) */
    uint64_t width[PT_COUNT];
    uint64_t covered_lo[PT_COUNT], covered_hi[PT_COUNT]; /* partitions known to exist */
    uint64_t analyzed[PT_COUNT]; /* the start of the last one analyze_current ran on */
    uint64_t last_reap_mono;
    poison_t poison[POISON_MAX];
    unsigned poison_next;
    copybuf_t copy;                 /* a COPY of frames, rollups or findings */
    copybuf_t tags_in, counters_in; /* tags and counters of the transaction, sent at its end */
    size_t ntags_in, ncounters_in;
    bool one_by_one; /* a batch of them was refused: row by row until a commit, to find which */
    pg_reader_t *readers;
    int reader_count;
} pg_store_t;

static const store_ops_t pg_ops;

static pg_store_t *pgs(store_t *st) {
    return (pg_store_t *)st;
}
static PGconn *rconn(store_reader_t *r) {
    return ((pg_reader_t *)r)->conn;
}

void *store_pg_handle(store_t *st) {
    return st->ops == &pg_ops ? pgs(st)->conn : NULL;
}

/* ---- text helpers ------------------------------------------------------------- */

/* The URI as people may see it: no password, neither in the user part
 * nor as a parameter. */
static void redact(const char *uri, char *out, size_t cap) {
    const char *scheme_end = strstr(uri, "://");
    const char *rest = scheme_end ? scheme_end + 3 : uri;
    size_t auth_len = strcspn(rest, "/?");
    const char *at = NULL;
    for (const char *p = rest; p < rest + auth_len; p++)
        if (*p == '@') at = p;
    size_t n = 0;
    char buf[1024];
#define PUT(s, len)                                                                                          \
    do {                                                                                                     \
        size_t l_ = (len);                                                                                   \
        if (n + l_ < sizeof buf) {                                                                           \
            memcpy(buf + n, (s), l_);                                                                        \
            n += l_;                                                                                         \
        }                                                                                                    \
    } while (0)
    PUT(uri, (size_t)(rest - uri));
    const char *host = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        PUT(rest, (size_t)((colon ? colon : at) - rest));
        PUT("@", 1);
        host = at + 1;
    }
    const char *q = strchr(host, '?');
    PUT(host, q ? (size_t)(q - host) : strlen(host));
    if (q) {
        /* parameters, without password=... */
        const char *p = q + 1;
        char sep = '?';
        while (*p) {
            size_t len = strcspn(p, "&");
            if (strncmp(p, "password=", 9) != 0) {
                PUT(&sep, 1);
                PUT(p, len);
                sep = '&';
            }
            p += len;
            if (*p == '&') p++;
        }
    }
#undef PUT
    buf[n] = '\0';
    snprintf(out, cap, "%s", buf);
}

/* Query parameters, in text, each with its type (so that a query may
 * leave one unused). A u64 is the text of its bigint bit pattern. */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_TEXT = 25 };
typedef struct params {
    int n;
    Oid types[32];
    const char *values[32];
    char text[32][24];
} params_t;

static void p_add(params_t *p, Oid type, const char *value) {
    p->types[p->n] = type;
    p->values[p->n] = value;
    p->n++;
}
static void p_u64(params_t *p, uint64_t v) {
    snprintf(p->text[p->n], sizeof p->text[0], "%lld", (long long)(int64_t)v);
    p_add(p, OID_INT8, p->text[p->n]);
}
static void p_i64(params_t *p, int64_t v) {
    p_u64(p, (uint64_t)v);
}
static void p_opt(params_t *p, uint64_t v, bool present) {
    if (present)
        p_u64(p, v);
    else
        p_add(p, OID_INT8, NULL);
}
/* text borrowed: it must outlive the call */
static void p_text(params_t *p, const char *text) {
    p_add(p, OID_TEXT, text);
}
static void p_bool(params_t *p, bool b) {
    p_add(p, OID_BOOL, b ? "t" : "f");
}

/* Binary result columns. */
static int64_t col_i64(const PGresult *res, int row, int col) {
    if (PQgetisnull(res, row, col)) return 0;
    const unsigned char *v = (const unsigned char *)PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    uint64_t x = 0;
    for (int i = 0; i < len && i < 8; i++)
        x = (x << 8) | v[i];
    if (len == 4) return (int32_t)(uint32_t)x;
    if (len == 2) return (int16_t)(uint16_t)x;
    if (len == 1) return v[0];
    return (int64_t)x;
}
static uint64_t col_u64(const PGresult *res, int row, int col) {
    return (uint64_t)col_i64(res, row, col);
}
static const char *col_str(const PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* ---- errors -------------------------------------------------------------------- */

static const char *sqlstate(const PGresult *res) {
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* The first line of the server's (or libpq's) message. */
static void error_text(PGconn *conn, const PGresult *res, char *out, size_t cap) {
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m) m = conn ? PQerrorMessage(conn) : "no connection";
    snprintf(out, cap, "%.*s", (int)strcspn(m, "\n"), m);
}

/* Whether a failure is about the record (its data: classes 22, 23) rather
 * than about the server or the connection. */
static bool record_error(const char *state) {
    return !strncmp(state, "22", 2) || !strncmp(state, "23", 2);
}

static int write_failed(store_t *st, const PGresult *res, const char *what) {
    pg_store_t *ps = pgs(st);
    char msg[400];
    error_text(ps->conn, res, msg, sizeof msg);
    const char *state = sqlstate(res);
    if (*state)
        snprintf(st->error, sizeof st->error, "%s: %s (SQLSTATE %s)", what, msg, state);
    else
        snprintf(st->error, sizeof st->error, "%s: %s", what, msg);
    if (st->in_txn) ps->txn_failed = true;
    return STORE_RETRY;
}

/* One statement on the writer's connection, outside COPY. Returns the
 * result (the caller clears it) or NULL after recording the failure. */
static PGresult *wexec(store_t *st, const char *sql, const params_t *p, const char *what) {
    pg_store_t *ps = pgs(st);
    PGresult *res =
        PQexecParams(ps->conn, sql, p ? p->n : 0, p ? p->types : NULL, p ? p->values : NULL, NULL, NULL, 1);
    ExecStatusType s = PQresultStatus(res);
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) return res;
    write_failed(st, res, what);
    PQclear(res);
    return NULL;
}

/* Statements without parameters or results (several at once allowed). */
static bool wrun(store_t *st, const char *sql, const char *what) {
    PGresult *res = PQexec(pgs(st)->conn, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) write_failed(st, res, what);
    PQclear(res);
    return ok;
}

/* ---- poisoned records -------------------------------------------------------- */

static bool poisoned(pg_store_t *ps, int kind, uint64_t a, uint64_t b, uint64_t c) {
    for (int i = 0; i < POISON_MAX; i++) {
        poison_t *x = &ps->poison[i];
        if (x->kind == kind && x->a == a && x->b == b && x->c == c) return true;
    }
    return false;
}

static void poison(pg_store_t *ps, int kind, uint64_t a, uint64_t b, uint64_t c) {
    if (poisoned(ps, kind, a, b, c)) return;
    ps->poison[ps->poison_next++ % POISON_MAX] = (poison_t){kind, a, b, c};
}

/* A prepared statement for one record; a record error poisons it. */
static int put_prepared(store_t *st, int which, const params_t *p, int kind, uint64_t a, uint64_t b,
                        uint64_t c) {
    pg_store_t *ps = pgs(st);
    if (ps->txn_failed) return STORE_RETRY;
    if (poisoned(ps, kind, a, b, c)) return STORE_REJECTED;
    PGresult *res = PQexecPrepared(ps->conn, prepared[which].name, p->n, p->values, NULL, NULL, 1);
    int rc = STORE_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (record_error(sqlstate(res))) poison(ps, kind, a, b, c);
        rc = write_failed(st, res, "saving a record");
    }
    PQclear(res);
    return rc;
}

/* ---- connections ------------------------------------------------------------------ */

/* Readers: read only; generic plans for their prepared statements; the
 * fleet view groups a row per session and tag (64 000 for 1000 sessions)
 * in memory, not on disk (the default 4 MB). */
#define READER_SETTINGS                                                                                      \
    "SET default_transaction_read_only = on; SET TIME ZONE 'UTC'; SET work_mem = '32MB';"                    \
    " SET plan_cache_mode = force_generic_plan"

static PGconn *connect_to(const char *uri, bool read_only, char *err, size_t errcap, const char *shown) {
    /* Defaults first: the URI's own parameters win over them. */
    const char *keys[] = {"application_name", "connect_timeout", "dbname", NULL};
    const char *values[] = {read_only ? "fa-insightd reader" : "fa-insightd", "10", uri, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        error_text(c, NULL, msg, sizeof msg);
        snprintf(err, errcap, "cannot connect to PostgreSQL at %s: %s", shown, msg);
        PQfinish(c);
        return NULL;
    }
    PGresult *res = PQexec(c, read_only ? READER_SETTINGS : "SET TIME ZONE 'UTC'; SET lock_timeout = '1s'");
    PQclear(res);
    return c;
}

/* The writer's session: its prepared statements, and the temporary
 * tables its batches of tags and counters go through. */
static const char temp_tables[] =
    "CREATE TEMP TABLE IF NOT EXISTS fa_tags_in (seq bigint, session_id bigint, id integer, parent_id "
    "integer,"
    " path text, defined boolean, budget_soft bigint, budget_hard bigint, live_bytes bigint, peak_bytes "
    "bigint,"
    " live_sum bigint, live_frames bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS fa_counters_in (id bigint, frames bigint, last_frame bigint, gaps "
    "bigint,"
    " agent_dropped bigint, duplicates bigint, rows_rejected bigint, next_seq bigint, first_ms bigint,"
    " last_ms bigint, last_seen_ms bigint) ON COMMIT DELETE ROWS";

static int prepare_statements(pg_store_t *ps, char *err, size_t errcap) {
    PGresult *t = PQexec(ps->conn, temp_tables);
    bool ok = PQresultStatus(t) == PGRES_COMMAND_OK;
    if (!ok) {
        char msg[400];
        error_text(ps->conn, t, msg, sizeof msg);
        snprintf(err, errcap, "PostgreSQL at %s: temporary tables: %s", ps->base.path, msg);
    }
    PQclear(t);
    if (!ok) return -1;
    for (int i = 0; i < PS_COUNT; i++) {
        PGresult *res = PQprepare(ps->conn, prepared[i].name, prepared[i].sql, prepared[i].nparams, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            char msg[400];
            error_text(ps->conn, res, msg, sizeof msg);
            snprintf(err, errcap, "PostgreSQL at %s: preparing %s: %s", ps->base.path, prepared[i].name, msg);
            PQclear(res);
            return -1;
        }
        PQclear(res);
    }
    return 0;
}

/* The daemon's liveness for the others: a lock its connection holds. */
static int hold_daemon_lock(pg_store_t *ps) {
    if (!ps->daemon_id) return 0;
    params_t p = {0};
    p_i64(&p, LOCK_CLASS);
    p_i64(&p, LOCK_DAEMON_BASE + ps->daemon_id);
    PGresult *res = wexec(&ps->base, "SELECT pg_advisory_lock($1::int, $2::int)", &p, "registering");
    PQclear(res);
    return res ? 0 : -1;
}

/* Before a batch: a connection lost since is opened again. */
static int ensure_connected(store_t *st) {
    pg_store_t *ps = pgs(st);
    if (PQstatus(ps->conn) == CONNECTION_OK) return STORE_OK;
    PQreset(ps->conn);
    if (PQstatus(ps->conn) != CONNECTION_OK) {
        write_failed(st, NULL, "reconnecting");
        return STORE_RETRY;
    }
    char err[512];
    PGresult *res = PQexec(ps->conn, "SET TIME ZONE 'UTC'; SET lock_timeout = '1s'");
    PQclear(res);
    if (prepare_statements(ps, err, sizeof err) != 0 || hold_daemon_lock(ps) != 0) {
        snprintf(st->error, sizeof st->error, "%s", err);
        return STORE_RETRY;
    }
    LOG(LOG_WARN, "PostgreSQL at %s: connected again", st->path);
    return STORE_OK;
}

/* ---- migrations ----------------------------------------------------------------- */

/* Partition widths on a ladder, about a sixth of the retention. */
static uint64_t width_for(uint64_t keep_ms) {
    static const uint64_t ladder[] = {60000ull,    300000ull,   900000ull,   3600000ull,
                                      21600000ull, 86400000ull, 604800000ull};
    uint64_t w = ladder[0];
    for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++)
        if (ladder[i] <= keep_ms / 6) w = ladder[i];
    return w;
}

static int64_t meta_get(pg_store_t *ps, const char *key, bool *found) {
    params_t p = {0};
    p_text(&p, key);
    PGresult *res = wexec(&ps->base, "SELECT value FROM fa_meta WHERE key = $1", &p, "reading fa_meta");
    *found = res && PQntuples(res) == 1;
    int64_t v = *found ? col_i64(res, 0, 0) : 0;
    PQclear(res);
    return v;
}

static int migrate(pg_store_t *ps, const store_keep_t *keep, char *err, size_t errcap) {
    store_t *st = &ps->base;
    /* One daemon migrates at a time; the others wait and find it done. */
    params_t lock = {0};
    p_i64(&lock, LOCK_CLASS);
    p_i64(&lock, LOCK_MIGRATE);
    int rc = -1;
    if (!wrun(st, "BEGIN", "migrating")) goto fail;
    PGresult *res = wexec(st, "SELECT pg_advisory_xact_lock($1::int, $2::int)", &lock, "migrating");
    PQclear(res);
    if (!res) goto fail;
    res = wexec(st, "SELECT to_regclass('fa_meta') IS NOT NULL", NULL, "migrating");
    if (!res) goto fail;
    bool exists = col_i64(res, 0, 0) != 0;
    PQclear(res);
    int64_t version = 0;
    if (exists) {
        bool found;
        version = meta_get(ps, "schema", &found);
        if (!found) version = 0;
    }
    if (version > STORE_PG_SCHEMA) {
        snprintf(err, errcap,
                 "PostgreSQL at %s has schema %lld, newer than this fa-insightd (%d): use a newer daemon or "
                 "another database",
                 st->path, (long long)version, STORE_PG_SCHEMA);
        wrun(st, "ROLLBACK", "migrating");
        return -1;
    }
    if (version < 1) {
        if (exists) {
            snprintf(err, errcap, "PostgreSQL at %s: fa_meta exists without a schema version", st->path);
            wrun(st, "ROLLBACK", "migrating");
            return -1;
        }
        if (!wrun(st, schema_v1, "creating the schema")) goto fail;
        store_keep_t k = keep ? *keep
                              : (store_keep_t){.raw = 3600000ull,
                                               .second = 86400000ull,
                                               .ten_sec = 7 * 86400000ull,
                                               .minute = 30 * 86400000ull};
        const uint64_t kept[PT_COUNT] = {k.raw, k.second, k.ten_sec, k.minute, k.second};
        char sql[256];
        for (int t = 0; t < PT_COUNT; t++) {
            snprintf(sql, sizeof sql, "INSERT INTO fa_meta VALUES ('width_%s', %llu)", pt_table[t],
                     (unsigned long long)width_for(kept[t]));
            if (!wrun(st, sql, "creating the schema")) goto fail;
        }
        if (!wrun(st, "INSERT INTO fa_meta VALUES ('schema', 1)", "creating the schema")) goto fail;
        LOG(LOG_INFO, "PostgreSQL at %s: created schema 1", st->path);
        version = 1;
    }
    if (version < 2) {
        if (!wrun(st, schema_v2, "adding the call sites (schema 2)") ||
            !wrun(st, "UPDATE fa_meta SET value = 2 WHERE key = 'schema'",
                  "adding the call sites (schema 2)"))
            goto fail;
        LOG(LOG_INFO, "PostgreSQL at %s: schema 2 (call sites)", st->path);
    }
    if (version < 3) {
        if (!wrun(st, schema_v3, "adding rollup tag offsets (schema 3)") ||
            !wrun(st, "UPDATE fa_meta SET value = 3 WHERE key = 'schema'",
                  "adding rollup tag offsets (schema 3)"))
            goto fail;
        LOG(LOG_INFO, "PostgreSQL at %s: schema 3 (rollup tag offsets)", st->path);
    }
    for (int t = 0; t < PT_COUNT; t++) {
        char key[64];
        bool found;
        snprintf(key, sizeof key, "width_%s", pt_table[t]);
        int64_t w = meta_get(ps, key, &found);
        if (!found || w < 1000) {
            snprintf(err, errcap, "PostgreSQL at %s: fa_meta has no valid %s", st->path, key);
            wrun(st, "ROLLBACK", "migrating");
            return -1;
        }
        ps->width[t] = (uint64_t)w;
    }
    if (!wrun(st, "COMMIT", "migrating")) goto fail;
    return 0;
fail:
    snprintf(err, errcap, "PostgreSQL at %s: %s", st->path, st->error);
    PQclear(PQexec(ps->conn, "ROLLBACK"));
    return rc;
}

/* ---- partitions ----------------------------------------------------------------- */

/* Creates (if missing) the partitions of table t covering [lo, hi]
 * (fa_partition, in the schema). An empty table attached to its parent:
 * writers and readers of the parent go on meanwhile. */
static int create_partitions(store_t *st, int t, uint64_t lo, uint64_t hi) {
    params_t p = {0};
    p_text(&p, pt_table[t]);
    p_u64(&p, lo);
    p_u64(&p, hi);
    PGresult *res = wexec(st, "SELECT fa_partition($1, $2, $3)", &p, "creating partitions");
    PQclear(res);
    return res ? STORE_OK : STORE_RETRY;
}

/* Partitions from a little before now to two widths ahead, each table in
 * a transaction of its own, by one daemon at a time. */
static void partitions_ahead(store_t *st, uint64_t now_ms) {
    pg_store_t *ps = pgs(st);
    for (int t = 0; t < PT_COUNT; t++) {
        uint64_t w = ps->width[t];
        uint64_t lo = now_ms > PARTITION_BEHIND_MS ? now_ms - PARTITION_BEHIND_MS : 0;
        uint64_t hi = now_ms + PARTITION_AHEAD * w;
        if (ps->covered_hi[t] > hi - w && ps->covered_lo[t] <= lo / w * w) continue;
        params_t p = {0};
        p_i64(&p, LOCK_CLASS);
        p_i64(&p, LOCK_PARTITIONS);
        if (!wrun(st, "BEGIN", "partitions")) return;
        PGresult *res = wexec(st, "SELECT pg_try_advisory_xact_lock($1::int, $2::int)", &p, "partitions");
        bool mine = res && col_i64(res, 0, 0);
        PQclear(res);
        int rc = mine ? create_partitions(st, t, lo, hi - 1) : STORE_RETRY;
        if (rc == STORE_OK && wrun(st, "COMMIT", "partitions")) {
            if (ps->covered_hi[t] == 0 || lo / w * w < ps->covered_lo[t]) ps->covered_lo[t] = lo / w * w;
            ps->covered_hi[t] = (hi - 1) / w * w + w;
        } else {
            PQclear(PQexec(ps->conn, "ROLLBACK"));
        }
        st->error[0] = '\0';
    }
}

/* The planner learns a new partition's size from ANALYZE: autovacuum
 * runs it within a minute or so of the first rows, and until then a
 * per-session query over a partition it takes for empty sorts every row
 * (newest frames: 50 ms instead of 0.1). So the partition that holds now
 * is analyzed once it has held rows for ANALYZE_AFTER_MS, by one daemon. */
#define ANALYZE_AFTER_MS 20000u
static void analyze_current(store_t *st, uint64_t now_ms) {
    pg_store_t *ps = pgs(st);
    for (int t = 0; t < PT_COUNT; t++) {
        uint64_t w = ps->width[t], start = now_ms / w * w;
        if (ps->analyzed[t] == start || now_ms - start < ANALYZE_AFTER_MS) continue;
        ps->analyzed[t] = start;
        params_t p = {0};
        p_i64(&p, LOCK_CLASS);
        p_i64(&p, LOCK_ANALYZE);
        PGresult *res = wexec(st, "SELECT pg_try_advisory_lock($1::int, $2::int)", &p, "analyze");
        bool mine = res && col_i64(res, 0, 0);
        PQclear(res);
        if (!mine) continue; /* another daemon is at it */
        char sql[128];
        snprintf(sql, sizeof sql, "ANALYZE %s_p%llu", pt_table[t], (unsigned long long)start);
        if (!wrun(st, sql, "analyze")) LOG(LOG_DEBUG, "PostgreSQL: %s", st->error);
        PQclear(PQexecParams(ps->conn, "SELECT pg_advisory_unlock($1::int, $2::int)", p.n, p.types, p.values,
                             NULL, NULL, 0));
        st->error[0] = '\0';
    }
}

/* Inside a batch: rows outside what is known to exist (a batch retried
 * long after it was made) get their partitions now. */
static int cover(store_t *st, int t, uint64_t lo, uint64_t hi) {
    pg_store_t *ps = pgs(st);
    if (lo >= ps->covered_lo[t] && hi < ps->covered_hi[t]) return STORE_OK;
    params_t p = {0};
    p_i64(&p, LOCK_CLASS);
    p_i64(&p, LOCK_PARTITIONS);
    PGresult *res = wexec(st, "SELECT pg_advisory_xact_lock($1::int, $2::int)", &p, "partitions");
    PQclear(res);
    return res ? create_partitions(st, t, lo, hi) : STORE_RETRY;
}

/* ---- COPY ------------------------------------------------------------------------- */

static void cb_put(copybuf_t *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}
static void cb_i16(copybuf_t *b, int16_t v) {
    uint16_t be = htons((uint16_t)v);
    cb_put(b, &be, 2);
}
static void cb_i32(copybuf_t *b, int32_t v) {
    uint32_t be = htonl((uint32_t)v);
    cb_put(b, &be, 4);
}
/* Fields: their length, then the value. */
static void field_i64(copybuf_t *b, uint64_t v) {
    uint8_t x[12] = {0, 0, 0, 8};
    for (int i = 0; i < 8; i++)
        x[4 + i] = (uint8_t)(v >> (56 - 8 * i));
    cb_put(b, x, sizeof x);
}
static void field_opt(copybuf_t *b, uint64_t v, bool present) {
    if (present)
        field_i64(b, v);
    else
        cb_i32(b, -1);
}
static void field_i32(copybuf_t *b, int32_t v) {
    cb_i32(b, 4);
    cb_i32(b, v);
}
static void field_bool(copybuf_t *b, bool v) {
    cb_i32(b, 1);
    cb_put(b, &(uint8_t){v}, 1);
}
static void field_bytes(copybuf_t *b, const void *p, size_t n) {
    cb_i32(b, (int32_t)n);
    cb_put(b, p, n);
}

static void copy_begin(copybuf_t *b) {
    static const uint8_t header[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    b->len = 0;
    b->failed = false;
    cb_put(b, header, sizeof header);
    cb_i32(b, 0); /* flags */
    cb_i32(b, 0); /* header extension */
}

/* The row (0-based) a COPY error names in its context ("COPY frames, line
 * 17"), or -1. */
static long copy_error_row(const PGresult *res) {
    const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
    const char *line = ctx ? strstr(ctx, ", line ") : NULL;
    if (!line) return -1;
    long n = strtol(line + 7, NULL, 10);
    return n >= 1 ? n - 1 : -1;
}

/* Sends the buffer as one COPY. Returns STORE_OK, or STORE_RETRY with
 * *bad_row set when the server refused that row for good. */
static int copy_send(store_t *st, copybuf_t *b, const char *sql, long *bad_row) {
    pg_store_t *ps = pgs(st);
    *bad_row = -1;
    cb_i16(b, -1); /* trailer */
    if (b->failed) {
        snprintf(st->error, sizeof st->error, "out of memory for a COPY batch");
        return STORE_RETRY;
    }
    PGresult *res = PQexec(ps->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        write_failed(st, res, "COPY");
        PQclear(res);
        return STORE_RETRY;
    }
    PQclear(res);
    int ok =
        PQputCopyData(ps->conn, (const char *)b->p, (int)b->len) == 1 && PQputCopyEnd(ps->conn, NULL) == 1;
    int rc = STORE_OK;
    while ((res = PQgetResult(ps->conn))) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (record_error(sqlstate(res))) *bad_row = copy_error_row(res);
            rc = write_failed(st, res, "COPY");
        }
        PQclear(res);
    }
    if (!ok && rc == STORE_OK) rc = write_failed(st, NULL, "COPY");
    return rc;
}

/* Runs a COPY of rows [0, n) built by `row`; poisoned rows are skipped
 * (counted in *rejected), a refused row is poisoned for the retry. */
typedef struct copy_spec {
    const char *sql;
    int kind, table;
    size_t n;
    void (*row)(copybuf_t *b, const void *rows, size_t i);
    void (*key)(const void *rows, size_t i, uint64_t k[3], uint64_t *t_ms);
    const void *rows;
} copy_spec_t;

static int copy_rows(store_t *st, const copy_spec_t *c, size_t *rejected) {
    pg_store_t *ps = pgs(st);
    if (ps->txn_failed) return STORE_RETRY;
    size_t *sent = malloc((c->n ? c->n : 1) * sizeof *sent); /* COPY row -> input row */
    if (!sent) {
        snprintf(st->error, sizeof st->error, "out of memory for a COPY batch");
        return STORE_RETRY;
    }
    copy_begin(&ps->copy);
    size_t m = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < c->n; i++) {
        uint64_t k[3], t;
        c->key(c->rows, i, k, &t);
        if (poisoned(ps, c->kind, k[0], k[1], k[2])) {
            (*rejected)++;
            continue;
        }
        if (t < lo) lo = t;
        if (t > hi) hi = t;
        c->row(&ps->copy, c->rows, i);
        sent[m++] = i;
    }
    int rc = STORE_OK;
    if (m && (rc = cover(st, c->table, lo, hi)) == STORE_OK) {
        long bad;
        rc = copy_send(st, &ps->copy, c->sql, &bad);
        if (rc != STORE_OK && bad >= 0 && (size_t)bad < m) {
            uint64_t k[3], t;
            c->key(c->rows, sent[bad], k, &t);
            poison(ps, c->kind, k[0], k[1], k[2]);
        }
    }
    free(sent);
    return rc;
}

static void frame_key(const void *rows, size_t i, uint64_t k[3], uint64_t *t) {
    const store_frame_t *f = &((const store_frame_t *)rows)[i];
    k[0] = f->session_id;
    k[1] = f->t_ms;
    k[2] = f->frame;
    *t = f->t_ms;
}
static void frame_row(copybuf_t *b, const void *rows, size_t i) {
    const store_frame_t *f = &((const store_frame_t *)rows)[i];
    cb_i16(b, 5);
    field_i64(b, f->session_id);
    field_i64(b, f->t_ms);
    field_i64(b, f->frame);
    field_i64(b, f->duration_ns);
    field_bytes(b, f->blob, f->len);
}

static int pg_put_frames(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected) {
    copy_spec_t c = {"COPY frames (session_id, t_ms, frame, duration_ns, data) FROM STDIN (FORMAT binary)",
                     POISON_FRAME,
                     PT_FRAMES,
                     n,
                     frame_row,
                     frame_key,
                     rows};
    return copy_rows(st, &c, rejected);
}

static void rollup_key(const void *rows, size_t i, uint64_t k[3], uint64_t *t) {
    const store_rollup_t *r = &((const store_rollup_t *)rows)[i];
    k[0] = r->session_id;
    k[1] = r->t_ms;
    k[2] = r->frames;
    *t = r->t_ms;
}
/* tag_at (schema 3), written when every id is below TAG_AT_IDS and the
 * array's holes (ids without a row) are at most a third of the rows plus
 * 64: else NULL, and the blob is read whole. 4 bytes per id, on a row of
 * about 16 bytes per tag. */
#define TAG_AT_IDS 1024
#define OID_INT4 23
static void field_tag_at(copybuf_t *b, const uint8_t *blob, size_t len) {
    uint32_t at[TAG_AT_IDS];
    int n = pack_rollup_tag_at(blob, len, at, TAG_AT_IDS), rows = 0;
    for (int id = 0; id < n; id++)
        rows += at[id] != 0;
    if (n <= 0 || n > rows + rows / 3 + 64) {
        cb_i32(b, -1);
        return;
    }
    /* An int4[] in binary: dimensions, null flag, element type, length
     * and lower bound (0: indexed by tag id), then each element. */
    cb_i32(b, 20 + 4 * n + 4 * rows);
    cb_i32(b, 1);
    cb_i32(b, rows < n);
    cb_i32(b, OID_INT4);
    cb_i32(b, n);
    cb_i32(b, 0);
    for (int id = 0; id < n; id++) {
        if (at[id]) {
            field_i32(b, (int32_t)at[id]);
        } else {
            cb_i32(b, -1);
        }
    }
}

static void rollup_row(copybuf_t *b, const void *rows, size_t i) {
    const store_rollup_t *r = &((const store_rollup_t *)rows)[i];
    cb_i16(b, 5);
    field_i64(b, r->session_id);
    field_i64(b, r->t_ms);
    field_i64(b, r->frames);
    field_bytes(b, r->blob, r->len);
    field_tag_at(b, r->blob, r->len);
}

static int pg_put_rollups(store_t *st, int level, const store_rollup_t *rows, size_t n) {
    static const char *const sql[STORE_LEVELS] = {
        "COPY rollup_1s (session_id, t_ms, frames, data, tag_at) FROM STDIN (FORMAT binary)",
        "COPY rollup_10s (session_id, t_ms, frames, data, tag_at) FROM STDIN (FORMAT binary)",
        "COPY rollup_1m (session_id, t_ms, frames, data, tag_at) FROM STDIN (FORMAT binary)"};
    copy_spec_t c = {sql[level], POISON_ROLLUP + 100 * level, PT_ROLLUP_S + level, n, rollup_row, rollup_key,
                     rows};
    size_t rejected = 0;
    int rc = copy_rows(st, &c, &rejected);
    return rc == STORE_OK && rejected ? STORE_REJECTED : rc;
}

static void finding_key(const void *rows, size_t i, uint64_t k[3], uint64_t *t) {
    const store_finding_t *f = &((const store_finding_t *)rows)[i];
    k[0] = f->session_id;
    k[1] = f->t_ms;
    k[2] = (uint64_t)f->code << 32 | (uint64_t)f->tag_id << 8 | f->kind;
    *t = f->t_ms;
}
static void finding_row(copybuf_t *b, const void *rows, size_t i) {
    const store_finding_t *f = &((const store_finding_t *)rows)[i];
    cb_i16(b, 8);
    field_i64(b, f->session_id);
    field_i64(b, f->t_ms);
    field_i32(b, f->code);
    field_i32(b, f->tag_id);
    field_i32(b, f->kind);
    field_i64(b, f->frames);
    field_i64(b, f->count_max);
    field_i64(b, f->value_max);
}

static int pg_put_findings(store_t *st, const store_finding_t *rows, size_t n) {
    copy_spec_t c = {"COPY findings (session_id, t_ms, code, tag_id, kind, frames, count_max, value_max)"
                     " FROM STDIN (FORMAT binary)",
                     POISON_FINDING,
                     PT_FINDINGS,
                     n,
                     finding_row,
                     finding_key,
                     rows};
    size_t rejected = 0;
    int rc = copy_rows(st, &c, &rejected);
    return rc == STORE_OK && rejected ? STORE_REJECTED : rc;
}

/* ---- transactions and records ----------------------------------------------------- */

static int pg_begin(store_t *st) {
    if (st->in_txn) return STORE_OK;
    if (ensure_connected(st) != STORE_OK) return STORE_RETRY;
    if (!wrun(st, "BEGIN", "BEGIN")) return STORE_RETRY;
    st->in_txn = true;
    pgs(st)->txn_failed = false;
    return STORE_OK;
}

static void pg_rollback(store_t *st) {
    pg_store_t *ps = pgs(st);
    if (PQstatus(ps->conn) == CONNECTION_OK && PQtransactionStatus(ps->conn) != PQTRANS_IDLE)
        PQclear(PQexec(ps->conn, "ROLLBACK"));
    st->in_txn = false;
    ps->txn_failed = false;
    ps->ntags_in = ps->ncounters_in = 0;
}

static int flush_gathered(store_t *st);

static int pg_commit(store_t *st) {
    if (!st->in_txn) return STORE_OK;
    if (flush_gathered(st) != STORE_OK || pgs(st)->txn_failed || !wrun(st, "COMMIT", "COMMIT")) {
        pg_rollback(st);
        return STORE_RETRY;
    }
    st->in_txn = false;
    pgs(st)->one_by_one = false;
    return STORE_OK;
}

static int pg_put_session(store_t *st, const session_info_t *x) {
    params_t p = {0};
    p_u64(&p, x->id);
    p_text(&p, x->app);
    p_text(&p, x->label);
    p_text(&p, x->host);
    p_text(&p, x->build_id);
    p_u64(&p, x->pid);
    p_u64(&p, x->lib_version);
    p_u64(&p, x->start_unix_ns);
    p_u64(&p, x->start_mono_ns);
    p_bool(&p, x->have_hello);
    p_opt(&p, x->first_ms, x->frames > 0);
    p_opt(&p, x->last_ms, x->frames > 0);
    p_opt(&p, x->ended_ms, !x->live && x->ended_ms != 0);
    p_text(&p, x->live ? NULL : x->end_reason);
    p_u64(&p, x->frames);
    p_u64(&p, x->last_frame);
    p_u64(&p, x->gaps);
    p_u64(&p, x->agent_dropped);
    p_u64(&p, x->last_seen_ms);
    p_u64(&p, x->next_seq);
    p_u64(&p, x->duplicates);
    p_u64(&p, x->rows_rejected);
    p_opt(&p, (uint64_t)x->clock_skew_ms, x->skew_known);
    p_opt(&p, (uint64_t)pgs(st)->daemon_id, pgs(st)->daemon_id != 0);
    return put_prepared(st, PS_SESSION, &p, POISON_SESSION, x->id, x->last_seen_ms, 0);
}

/* Tags and counters come by thousands (every live session's tags every
 * 5 s): one statement each was 6 400 round trips in a batch of 100
 * sessions (1.7 s commits under load). They are gathered in COPY data
 * and sent at the end of the transaction, into temporary tables and from
 * there in one statement each (tags: the last of each, in queue order).
 * A refused batch (a record error) is written row by row on the retry,
 * which finds and skips the record (poison). */
static const char tags_flush[] =
    "INSERT INTO tags (session_id, " STOREROW_TAG_COLUMNS
    ") SELECT DISTINCT ON (session_id, id) session_id, " STOREROW_TAG_COLUMNS
    " FROM fa_tags_in ORDER BY session_id, id, seq DESC ON CONFLICT (session_id, id) DO UPDATE SET"
    " parent_id=EXCLUDED.parent_id, path=EXCLUDED.path, defined=EXCLUDED.defined,"
    " budget_soft=EXCLUDED.budget_soft, budget_hard=EXCLUDED.budget_hard, live_bytes=EXCLUDED.live_bytes,"
    " peak_bytes=EXCLUDED.peak_bytes, live_sum=EXCLUDED.live_sum, live_frames=EXCLUDED.live_frames";
static const char counters_flush[] =
    "UPDATE sessions s SET frames=c.frames, last_frame=c.last_frame, gaps=c.gaps, "
    "agent_dropped=c.agent_dropped,"
    " duplicates=c.duplicates, rows_rejected=c.rows_rejected, next_seq=c.next_seq, first_ms=c.first_ms,"
    " last_ms=c.last_ms, last_seen_ms=c.last_seen_ms FROM fa_counters_in c WHERE s.id = c.id";

/* Sends what was gathered into `temp`, then applies it; emptied after
 * (a look-up may flush mid-transaction). */
static int flush_one(store_t *st, copybuf_t *b, size_t *n, const char *temp, const char *apply,
                     const char *what) {
    if (*n == 0) return STORE_OK;
    long bad;
    char sql[96];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN (FORMAT binary)", temp);
    int rc = copy_send(st, b, sql, &bad);
    *n = 0;
    if (rc == STORE_OK) {
        PGresult *res = PQexec(pgs(st)->conn, apply);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            if (record_error(sqlstate(res))) pgs(st)->one_by_one = true;
            rc = write_failed(st, res, what);
        }
        PQclear(res);
    }
    if (rc == STORE_OK) {
        snprintf(sql, sizeof sql, "TRUNCATE %s", temp);
        if (!wrun(st, sql, what)) rc = STORE_RETRY;
    }
    return rc;
}

static int flush_gathered(store_t *st) {
    pg_store_t *ps = pgs(st);
    if (ps->txn_failed) return STORE_RETRY;
    int rc = flush_one(st, &ps->tags_in, &ps->ntags_in, "fa_tags_in", tags_flush, "saving tags");
    if (rc == STORE_OK)
        rc = flush_one(st, &ps->counters_in, &ps->ncounters_in, "fa_counters_in", counters_flush,
                       "saving session counters");
    return rc;
}

static int pg_put_counters(store_t *st, uint64_t sid, const store_counters_t *c) {
    pg_store_t *ps = pgs(st);
    if (!ps->one_by_one) {
        copybuf_t *b = &ps->counters_in;
        if (ps->ncounters_in++ == 0) copy_begin(b);
        cb_i16(b, 11);
        field_i64(b, sid);
        field_i64(b, c->frames);
        field_i64(b, c->last_frame);
        field_i64(b, c->gaps);
        field_i64(b, c->agent_dropped);
        field_i64(b, c->duplicates);
        field_i64(b, c->rows_rejected);
        field_i64(b, c->next_seq);
        field_opt(b, c->first_ms, c->frames > 0);
        field_opt(b, c->last_ms, c->frames > 0);
        field_i64(b, c->last_seen_ms);
        return STORE_OK;
    }
    params_t p = {0};
    p_u64(&p, sid);
    p_u64(&p, c->frames);
    p_u64(&p, c->last_frame);
    p_u64(&p, c->gaps);
    p_u64(&p, c->agent_dropped);
    p_u64(&p, c->duplicates);
    p_u64(&p, c->rows_rejected);
    p_u64(&p, c->next_seq);
    p_opt(&p, c->first_ms, c->frames > 0);
    p_opt(&p, c->last_ms, c->frames > 0);
    p_u64(&p, c->last_seen_ms);
    return put_prepared(st, PS_COUNTERS, &p, POISON_COUNTERS, sid, c->frames, 0);
}

static int pg_put_tag(store_t *st, uint64_t sid, const tag_info_t *t) {
    pg_store_t *ps = pgs(st);
    if (!ps->one_by_one) {
        copybuf_t *b = &ps->tags_in;
        if (ps->ntags_in == 0) copy_begin(b);
        cb_i16(b, 12);
        field_i64(b, ps->ntags_in++);
        field_i64(b, sid);
        field_i32(b, t->id);
        field_i32(b, t->parent_id);
        const char *path = t->path ? t->path : "";
        field_bytes(b, path, strlen(path));
        field_bool(b, t->defined);
        field_i64(b, t->budget_soft);
        field_i64(b, t->budget_hard);
        field_i64(b, t->live_bytes);
        field_i64(b, t->peak_bytes);
        field_i64(b, t->live_sum);
        field_i64(b, t->live_frames);
        return STORE_OK;
    }
    params_t p = {0};
    p_u64(&p, sid);
    p_u64(&p, t->id);
    p_u64(&p, t->parent_id);
    p_text(&p, t->path ? t->path : "");
    p_bool(&p, t->defined);
    p_u64(&p, t->budget_soft);
    p_u64(&p, t->budget_hard);
    p_u64(&p, t->live_bytes);
    p_u64(&p, t->peak_bytes);
    p_u64(&p, t->live_sum);
    p_u64(&p, t->live_frames);
    return put_prepared(st, PS_TAG, &p, POISON_TAG, sid, t->id, t->live_frames);
}

static int pg_put_alert(store_t *st, const alert_row_t *a) {
    params_t p = {0};
    p_i64(&p, a->id);
    p_u64(&p, a->session_id);
    p_u64(&p, a->tag_id);
    p_text(&p, a->path);
    p_text(&p, a->level);
    p_u64(&p, a->raised_ms);
    p_u64(&p, a->raised_bytes);
    p_u64(&p, a->peak_bytes);
    p_u64(&p, a->budget_hard);
    p_opt(&p, a->cleared_ms, a->clear_reason != NULL);
    p_text(&p, a->clear_reason);
    return put_prepared(st, PS_ALERT, &p, POISON_ALERT, (uint64_t)a->id, a->peak_bytes, a->cleared_ms);
}

static int pg_put_site(store_t *st, uint64_t sid, const site_info_t *x) {
    params_t p = {0};
    p_u64(&p, sid);
    p_u64(&p, x->id);
    p_u64(&p, x->line);
    p_u64(&p, x->kind);
    p_text(&p, x->file);
    p_text(&p, x->function);
    return put_prepared(st, PS_SITE, &p, POISON_SITE, sid, x->id, 0);
}

/* ---- sessions from rows --------------------------------------------------------- */

/* Columns through storerow.c, shared with the SQLite store. */
static bool pg_is_null(const void *res, int row, int col) {
    return PQgetisnull(res, row, col);
}
static int64_t pg_i64(const void *res, int row, int col) {
    return col_i64(res, row, col);
}
static const char *pg_text(const void *res, int row, int col) {
    return col_str(res, row, col);
}
static const storerow_src_t pg_src = {pg_is_null, pg_i64, pg_text};
#define ROW_OF(res, row) (&(storerow_t){&pg_src, (res), (row)})

static void session_from_row(const PGresult *res, int row, int c, session_info_t *s) {
    storerow_session(ROW_OF(res, row), c, s);
}

/* A view from a session result and a tags result. */
static int view_from(const PGresult *sres, const PGresult *tres, session_view_t **out) {
    if (PQntuples(sres) == 0) return 0;
    session_info_t info;
    session_from_row(sres, 0, 0, &info);
    int n = PQntuples(tres);
    tag_info_t *tags = calloc((size_t)(n ? n : 1), sizeof *tags);
    if (!tags) return STORE_FAILED;
    for (int i = 0; i < n; i++) {
        storerow_tag(ROW_OF(tres, i), &tags[i]); /* paths copied by view_create */
    }
    info.tag_count = (uint32_t)n;
    *out = view_create(&info, NULL, tags, (uint32_t)n);
    free(tags);
    return *out ? 1 : STORE_FAILED;
}

static int pg_lookup(store_t *st, uint64_t sid, session_view_t **out) {
    pg_store_t *ps = pgs(st);
    if (ps->txn_failed || (st->in_txn && flush_gathered(st) != STORE_OK)) return STORE_RETRY;
    if (!st->in_txn && ensure_connected(st) != STORE_OK) return STORE_RETRY;
    params_t p = {0};
    p_u64(&p, sid);
    PGresult *sres = PQexecPrepared(ps->conn, prepared[PS_LOOKUP_SESSION].name, 1, p.values, NULL, NULL, 1);
    PGresult *tres = PQresultStatus(sres) == PGRES_TUPLES_OK
                         ? PQexecPrepared(ps->conn, prepared[PS_LOOKUP_TAGS].name, 1, p.values, NULL, NULL, 1)
                         : NULL;
    int rc;
    if (PQresultStatus(sres) != PGRES_TUPLES_OK || PQresultStatus(tres) != PGRES_TUPLES_OK) {
        rc = write_failed(st, PQresultStatus(sres) != PGRES_TUPLES_OK ? sres : tres, "looking a session up");
    } else {
        rc = view_from(sres, tres, out);
        if (rc == STORE_FAILED) {
            snprintf(st->error, sizeof st->error, "out of memory looking a session up");
            rc = STORE_RETRY;
        }
    }
    PQclear(sres);
    PQclear(tres);
    return rc;
}

/* ---- daemons: registration and the end of the sessions of lost ones ----------------- */

/* Ends the open sessions (and their alerts) of daemons whose connection
 * is gone. One statement: the advisory locks held now say who is alive. */
static int reap(store_t *st) {
    params_t p = {0};
    p_i64(&p, LOCK_CLASS);
    p_i64(&p, LOCK_DAEMON_BASE);
    PGresult *res = wexec(
        st,
        "WITH live AS (SELECT objid::bigint - $2 AS id FROM pg_locks WHERE locktype = 'advisory'"
        "  AND classid = $1::int::oid AND objsubid = 2 AND granted"
        "  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())),"
        " dead AS (SELECT id, COALESCE(last_ms, first_ms) AS t, GREATEST(last_seen_ms, COALESCE(last_ms, 0)) "
        "AS e"
        "  FROM sessions WHERE ended_ms IS NULL AND (daemon_id IS NULL OR daemon_id NOT IN (SELECT id FROM "
        "live))"
        "  FOR UPDATE SKIP LOCKED),"
        " cleared AS (UPDATE alerts a SET cleared_ms = COALESCE(dead.t, a.raised_ms),"
        "  clear_reason = 'daemon_restart' FROM dead WHERE a.session_id = dead.id AND a.cleared_ms IS NULL)"
        " UPDATE sessions s SET ended_ms = dead.e, end_reason = 'daemon_restart' FROM dead WHERE s.id = "
        "dead.id",
        &p, "ending the sessions of lost daemons");
    if (!res) return STORE_RETRY;
    long n = strtol(PQcmdTuples(res), NULL, 10);
    if (n > 0) LOG(LOG_INFO, "PostgreSQL: %ld sessions of daemons no longer connected ended", n);
    PQclear(res);
    return STORE_OK;
}

static int pg_load(store_t *st, uint32_t max, store_load_fn fn, store_id_fn id_fn, void *ud,
                   int64_t *next_alert_id) {
    pg_store_t *ps = pgs(st);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    params_t p = {0};
    p_text(&p, host);
    p_u64(&p, (uint64_t)getpid());
    p_u64(&p, clock_now_ms());
    PGresult *res = wexec(st, "INSERT INTO daemons(host, pid, started_ms) VALUES ($1, $2, $3) RETURNING id",
                          &p, "registering");
    if (!res) {
        LOG(LOG_ERROR, "PostgreSQL at %s: %s", st->path, st->error);
        return -1;
    }
    int64_t id = col_i64(res, 0, 0);
    PQclear(res);
    if (id <= 0 || id > DAEMON_ID_MAX) {
        LOG(LOG_ERROR,
            "PostgreSQL at %s: daemon registration %lld is beyond the %lld this schema's alert ids allow; "
            "start over with a new database",
            st->path, (long long)id, (long long)DAEMON_ID_MAX);
        return -1;
    }
    ps->daemon_id = id;
    if (hold_daemon_lock(ps) != 0 || reap(st) != STORE_OK) {
        LOG(LOG_ERROR, "PostgreSQL at %s: %s", st->path, st->error);
        return -1;
    }
    ps->last_reap_mono = clock_mono_ms();
    *next_alert_id = (id << ALERT_ID_SHIFT) + 1;
    LOG(LOG_INFO, "PostgreSQL at %s: registered as daemon %lld", st->path, (long long)id);
    if (id_fn) {
        if (!(res = wexec(st, "SELECT id FROM sessions", NULL, "loading session ids"))) return -1;
        for (int i = 0; i < PQntuples(res); i++)
            id_fn(ud, col_u64(res, i, 0));
        PQclear(res);
    }
    if (max == 0) return 0;
    params_t q = {0};
    p_u64(&q, max);
    if (!(res = wexec(st,
                      "SELECT id FROM sessions WHERE ended_ms IS NOT NULL ORDER BY last_seen_ms DESC, id DESC"
                      " LIMIT $1",
                      &q, "loading sessions")))
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        session_view_t *v = NULL;
        if (pg_lookup(st, col_u64(res, i, 0), &v) == 1) fn(ud, v);
    }
    PQclear(res);
    return 0;
}

/* ---- retention ---------------------------------------------------------------------- */

static int64_t affected(PGresult *res) {
    return res ? strtoll(PQcmdTuples(res), NULL, 10) : -1;
}

/* Table t: whole partitions past the horizon are dropped; the oldest
 * remaining one loses its rows past it, at most `limit`. Returns the rows
 * removed (a dropped partition counts its rows) or -1. */
static int64_t prune_table(store_t *st, int t, uint64_t cutoff, int limit, bool *more) {
    pg_store_t *ps = pgs(st);
    params_t p = {0};
    p_text(&p, pt_table[t]);
    /* The partitions, oldest first: their names carry their lower bound. */
    PGresult *res = wexec(st,
                          "SELECT c.relname, substring(c.relname from '_p([0-9]+)$')::bigint AS lo"
                          " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                          " WHERE i.inhparent = $1::regclass ORDER BY lo",
                          &p, "retention");
    if (!res) return -1;
    int64_t removed = 0;
    uint64_t w = ps->width[t];
    for (int i = 0; i < PQntuples(res) && removed < limit; i++) {
        const char *name = PQgetvalue(res, i, 0);
        uint64_t lo = col_u64(res, i, 1);
        char sql[400];
        if (lo + w <= cutoff) {
            /* Entirely past the horizon. */
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", name);
            PGresult *c = wexec(st, sql, NULL, "retention");
            int64_t rows = c ? col_i64(c, 0, 0) : 0;
            PQclear(c);
            snprintf(sql, sizeof sql, "DROP TABLE %s", name);
            if (!c || !wrun(st, sql, "dropping a partition")) {
                PQclear(res);
                return -1;
            }
            removed += rows;
            if (lo + w > ps->covered_lo[t]) ps->covered_lo[t] = lo + w;
            continue;
        }
        if (lo < cutoff) {
            /* The horizon cuts this one. */
            params_t d = {0};
            p_u64(&d, cutoff);
            p_u64(&d, (uint64_t)(limit - removed));
            snprintf(sql, sizeof sql,
                     "DELETE FROM %s WHERE ctid = ANY(ARRAY(SELECT ctid FROM %s WHERE t_ms < $1 LIMIT $2))",
                     name, name);
            PGresult *del = wexec(st, sql, &d, "retention");
            int64_t n = affected(del);
            PQclear(del);
            if (n < 0) {
                PQclear(res);
                return -1;
            }
            removed += n;
        }
        break;
    }
    *more = removed >= limit;
    PQclear(res);
    return removed;
}

/* Ended sessions past the horizon with everything of theirs, at most
 * `limit` sessions; then cleared alerts of long-lived sessions. */
static int64_t prune_sessions(store_t *st, uint64_t cutoff, int limit, int alert_limit, bool *more) {
    params_t p = {0};
    p_u64(&p, cutoff);
    p_u64(&p, (uint64_t)limit);
    PGresult *res =
        wexec(st,
              "WITH old AS (SELECT id FROM sessions WHERE last_seen_ms < $1 AND ended_ms IS NOT NULL"
              "  ORDER BY last_seen_ms LIMIT $2),"
              " t AS (DELETE FROM tags WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " a AS (DELETE FROM alerts WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " f AS (DELETE FROM frames WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " r1 AS (DELETE FROM rollup_1s WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " r10 AS (DELETE FROM rollup_10s WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " rm AS (DELETE FROM rollup_1m WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " fi AS (DELETE FROM findings WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " si AS (DELETE FROM sites WHERE session_id IN (SELECT id FROM old) RETURNING 1),"
              " s AS (DELETE FROM sessions WHERE id IN (SELECT id FROM old) RETURNING 1)"
              " SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM t) + (SELECT count(*) FROM a)"
              "  + (SELECT count(*) FROM f) + (SELECT count(*) FROM r1) + (SELECT count(*) FROM r10)"
              "  + (SELECT count(*) FROM rm) + (SELECT count(*) FROM fi) + (SELECT count(*) FROM s)",
              &p, "session retention");
    if (!res) return -1;
    int64_t sessions = col_i64(res, 0, 0), rows = col_i64(res, 0, 1);
    PQclear(res);
    *more = sessions >= limit;
    params_t q = {0};
    p_u64(&q, cutoff);
    p_u64(&q, (uint64_t)alert_limit);
    res = wexec(st,
                "DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE raised_ms < $1"
                " AND cleared_ms IS NOT NULL LIMIT $2)",
                &q, "alert retention");
    int64_t n = affected(res);
    PQclear(res);
    if (n < 0) return -1;
    if (n >= alert_limit) *more = true;
    return rows + n;
}

static int64_t pg_prune(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more) {
    pg_store_t *ps = pgs(st);
    *more = false;
    if (ensure_connected(st) != STORE_OK) return STORE_RETRY;
    /* One daemon prunes at a time; the others find the lock taken and
     * leave it to that one. */
    params_t lk = {0};
    p_i64(&lk, LOCK_CLASS);
    p_i64(&lk, LOCK_RETENTION);
    PGresult *res = wexec(st, "SELECT pg_try_advisory_lock($1::int, $2::int)", &lk, "retention");
    if (!res) return STORE_RETRY;
    bool mine = col_i64(res, 0, 0) != 0;
    PQclear(res);
    if (!mine) return 0;
    const uint64_t kept[PT_COUNT] = {keep->raw, keep->second, keep->ten_sec, keep->minute, keep->second};
    int64_t deleted = 0;
    bool failed = false;
    for (int t = 0; t < PT_COUNT && !*more && !failed; t++) {
        if (now_ms <= kept[t]) continue;
        int64_t d = prune_table(st, t, now_ms - kept[t], (int)(max_rows - deleted), more);
        if (d < 0)
            failed = true;
        else
            deleted += d;
    }
    if (!failed && !*more && now_ms > keep->session) {
        int room = (int)(max_rows - deleted);
        int sessions = room / 8;
        if (sessions == 0)
            *more = true;
        else {
            int64_t d = prune_sessions(st, now_ms - keep->session, sessions, room / 2, more);
            if (d < 0)
                failed = true;
            else
                deleted += d;
        }
    }
    PQclear(PQexecParams(ps->conn, "SELECT pg_advisory_unlock($1::int, $2::int)", lk.n, lk.types, lk.values,
                         NULL, NULL, 0));
    return failed ? STORE_RETRY : deleted;
}

/* ---- maintenance ------------------------------------------------------------------------ */

static int pg_maintain(store_t *st, bool *wal_reset) {
    pg_store_t *ps = pgs(st);
    (void)wal_reset;
    if (st->in_txn || ensure_connected(st) != STORE_OK) return STORE_OK;
    partitions_ahead(st, clock_now_ms());
    analyze_current(st, clock_now_ms());
    uint64_t now = clock_mono_ms();
    if (now - ps->last_reap_mono >= REAP_EVERY_MS) {
        ps->last_reap_mono = now;
        reap(st);
        st->error[0] = '\0';
    }
    return STORE_OK;
}

static int pg_check_file(store_t *st) {
    (void)st;
    return 0; /* a server, not a file */
}

/* ---- open, close -------------------------------------------------------------------------- */

static void pg_close(store_t *st) {
    pg_store_t *ps = pgs(st);
    for (int i = 0; i < ps->reader_count; i++) {
        PQfinish(ps->readers[i].conn);
        for (int k = 0; k < ps->readers[i].nprepared; k++)
            free(ps->readers[i].prepared[k]);
    }
    free(ps->readers);
    if (ps->conn) {
        if (st->in_txn) PQclear(PQexec(ps->conn, "ROLLBACK"));
        PQfinish(ps->conn); /* the advisory lock goes with the connection */
    }
    free(ps->copy.p);
    free(ps->tags_in.p);
    free(ps->counters_in.p);
    free(ps->uri);
    store_backend_fini(st);
    free(ps);
}

int store_pg_open(store_t **out, const char *uri, int readers, const store_keep_t *keep, char *err,
                  size_t errcap) {
    pg_store_t *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->uri = strdup(uri))) {
        free(ps);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    store_t *st = &ps->base;
    store_backend_init(st, &pg_ops);
    redact(uri, st->path, sizeof st->path);
    if (!(ps->conn = connect_to(uri, false, err, errcap, st->path))) goto fail;
    if (migrate(ps, keep, err, errcap) != 0 || prepare_statements(ps, err, errcap) != 0) goto fail;
    /* A write test: a role that may read but not write fails now, clearly. */
    if (!wrun(st, "BEGIN; LOCK TABLE sessions IN ROW EXCLUSIVE MODE; ROLLBACK", "write test")) {
        snprintf(err, errcap, "PostgreSQL at %s is not writable: %s", st->path, st->error);
        PQclear(PQexec(ps->conn, "ROLLBACK"));
        goto fail;
    }
    partitions_ahead(st, clock_now_ms());
    ps->readers = calloc((size_t)(readers > 0 ? readers : 1), sizeof *ps->readers);
    if (!ps->readers) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    for (int i = 0; i < readers; i++) {
        pg_reader_t *r = &ps->readers[i];
        if (!(r->conn = connect_to(uri, true, err, errcap, st->path))) goto fail;
        ps->reader_count = i + 1;
        store_backend_add_reader(st, &r->base);
    }
    st->error[0] = '\0';
    *out = st;
    return 0;
fail:
    pg_close(st);
    return -1;
}

/* ---- readers -------------------------------------------------------------------------------- */

static int read_failed(store_reader_t *r, const PGresult *res, bool cancelled) {
    if (cancelled) {
        snprintf(r->error, sizeof r->error, "cancelled");
        return STORE_CANCELLED;
    }
    char msg[200];
    error_text(rconn(r), res, msg, sizeof msg);
    snprintf(r->error, sizeof r->error, "database read failed: %s", msg);
    return STORE_FAILED;
}

/* Waits for the connection to have something to read, watching the
 * request's way out. Returns false once the request is cancelled. */
static bool wait_readable(store_reader_t *r) {
    PGconn *c = rconn(r);
    while (PQisBusy(c)) {
        if (store_backend_cancelled(r)) return false;
        struct pollfd pfd = {PQsocket(c), POLLIN, 0};
        int n = poll(&pfd, 1, READ_POLL_MS);
        if (n < 0 && errno != EINTR) return true; /* PQconsumeInput reports it */
        if (n > 0 && !PQconsumeInput(c)) return true;
    }
    return true;
}

/* Tells the server to stop and reads what is left. */
static void cancel_and_drain(store_reader_t *r) {
    PGconn *c = rconn(r);
    PGcancel *cancel = PQgetCancel(c);
    char buf[128];
    if (cancel) {
        PQcancel(cancel, buf, sizeof buf);
        PQfreeCancel(cancel);
    }
    PGresult *res;
    while ((res = PQgetResult(c)))
        PQclear(res);
}

/* One query on a reader: row(res, i, ud) for each row (0 goes on, 1
 * stops). */
typedef int (*row_fn)(const PGresult *res, int row, void *ud);

/* Sends a statement with its values, prepared on this connection first
 * if it was not (a statement of this file: a bounded set of texts);
 * beyond READER_STATEMENTS texts, unprepared. Returns PQsend*'s result. */
static int send_prepared(store_reader_t *r, const char *sql, const params_t *p) {
    pg_reader_t *pr = (pg_reader_t *)r;
    int i = 0;
    while (i < pr->nprepared && strcmp(pr->prepared[i] + 1, sql) != 0)
        i++;
    char name[16];
    snprintf(name, sizeof name, "fa_r%d", i);
    if (i == pr->nprepared) {
        if (i == READER_STATEMENTS)
            return PQsendQueryParams(pr->conn, sql, p->n, p->types, p->values, NULL, NULL, 1);
        PGresult *res = PQprepare(pr->conn, name, sql, p->n, p->types);
        /* FETCH cannot be prepared: remembered as such, sent as it is */
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        char *copy = malloc(strlen(sql) + 2);
        if (!copy) return PQsendQueryParams(pr->conn, sql, p->n, p->types, p->values, NULL, NULL, 1);
        copy[0] = ok ? 'P' : 'U';
        strcpy(copy + 1, sql);
        pr->prepared[pr->nprepared++] = copy;
    }
    if (pr->prepared[i][0] != 'P')
        return PQsendQueryParams(pr->conn, sql, p->n, p->types, p->values, NULL, NULL, 1);
    return PQsendQueryPrepared(pr->conn, name, p->n, p->values, NULL, NULL, 1);
}

/* Sends one statement (with p: extended protocol, binary rows; without:
 * any text, several statements allowed, rows ignored), waits for it while
 * watching the request's way out, and hands its rows to fn. *rows gets
 * how many came, *stopped whether fn stopped. */
static int reader_exec(store_reader_t *r, const char *sql, const params_t *p, row_fn fn, void *ud, int *rows,
                       bool *stopped) {
    PGconn *c = rconn(r);
    if (rows) *rows = 0;
    if (store_backend_cancelled(r)) return read_failed(r, NULL, true);
    int sent = p ? send_prepared(r, sql, p) : PQsendQuery(c, sql);
    if (!sent) return read_failed(r, NULL, false);
    int rc = STORE_OK;
    for (;;) {
        if (!wait_readable(r)) {
            cancel_and_drain(r);
            return read_failed(r, NULL, true);
        }
        PGresult *res = PQgetResult(c);
        if (!res) break;
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_TUPLES_OK && p && rc == STORE_OK) {
            int n = PQntuples(res);
            if (rows) *rows = n;
            for (int i = 0; i < n && !(stopped && *stopped); i++)
                if (fn(res, i, ud) && stopped) *stopped = true;
        } else if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK && rc == STORE_OK) {
            bool cancelled = !strcmp(sqlstate(res), "57014") && store_backend_cancelled(r);
            rc = read_failed(r, res, cancelled);
        }
        PQclear(res);
    }
    return rc;
}

/* A reader's connection, opened again when it was lost; a transaction a
 * failure left open is ended. */
static int reader_ready(store_reader_t *r) {
    PGconn *c = rconn(r);
    if (PQstatus(c) != CONNECTION_OK) {
        PQreset(c);
        if (PQstatus(c) != CONNECTION_OK) return read_failed(r, NULL, false);
        PQclear(PQexec(c, READER_SETTINGS));
        pg_reader_t *pr = (pg_reader_t *)r; /* a new session: nothing prepared */
        for (int i = 0; i < pr->nprepared; i++)
            free(pr->prepared[i]);
        pr->nprepared = 0;
    }
    if (PQtransactionStatus(c) != PQTRANS_IDLE) PQclear(PQexec(c, "ROLLBACK"));
    return STORE_OK;
}

/* A query whose result is small (bounded by its LIMIT or its nature). */
static int pg_read(store_reader_t *r, const char *sql, const params_t *p, row_fn fn, void *ud) {
    if (reader_ready(r) != STORE_OK) return STORE_FAILED;
    bool stopped = false;
    return reader_exec(r, sql, p, fn, ud, NULL, &stopped);
}

/* A query whose result may be large (series over long windows): read
 * through a cursor, FETCH_ROWS at a time, so memory stays bounded without
 * paying libpq's single-row mode (a result object per row: 5x slower on
 * 600 frames). sql carries its values as literals (integers only). */
#define FETCH_ROWS 1000
static int pg_read_stream(store_reader_t *r, const char *sql, row_fn fn, void *ud) {
    if (reader_ready(r) != STORE_OK) return STORE_FAILED;
    size_t len = strlen(sql) + 64;
    char *declare = malloc(len);
    if (!declare) return read_failed(r, NULL, false);
    snprintf(declare, len, "BEGIN READ ONLY; DECLARE fa_cur NO SCROLL CURSOR FOR %s", sql);
    int rc = reader_exec(r, declare, NULL, NULL, NULL, NULL, NULL);
    free(declare);
    params_t none = {0};
    bool stopped = false;
    int rows = FETCH_ROWS;
    while (rc == STORE_OK && !stopped && rows == FETCH_ROWS)
        rc = reader_exec(r, "FETCH FORWARD " FA_STR(FETCH_ROWS) " FROM fa_cur", &none, fn, ud, &rows,
                         &stopped);
    PQclear(PQexec(rconn(r), rc == STORE_OK ? "CLOSE fa_cur; COMMIT" : "ROLLBACK"));
    return rc;
}

/* pg_read keeps no result; the view needs two at once: copy out. */
typedef struct view_ctx {
    session_info_t info;
    bool found;
    tag_info_t *tags;
    char **paths;
    uint32_t n, cap;
    bool failed;
    uint64_t duration_ns;
    bool have_last;
    fa_proto_frame_t frame;
} view_ctx_t;

static int view_session_row(const PGresult *res, int row, void *ud) {
    view_ctx_t *v = ud;
    session_from_row(res, row, 0, &v->info);
    v->found = true;
    return 1;
}

static int view_tag_row(const PGresult *res, int row, void *ud) {
    view_ctx_t *v = ud;
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 64;
        tag_info_t *t2 = realloc(v->tags, cap * sizeof *t2);
        if (t2) v->tags = t2;
        char **p2 = t2 ? realloc(v->paths, cap * sizeof *p2) : NULL;
        if (!p2) {
            v->failed = true;
            return 1;
        }
        v->paths = p2;
        v->cap = cap;
    }
    tag_info_t *t = &v->tags[v->n];
    storerow_tag(ROW_OF(res, row), t);
    v->paths[v->n] = strdup(t->path);
    t->path = v->paths[v->n];
    v->n++;
    if (!t->path) v->failed = true;
    return v->failed;
}

static int last_frame_row(const PGresult *res, int row, void *ud) {
    frame_info_t *last = ud;
    fa_proto_space_t *space = malloc(sizeof *space);
    if (!space) return 1;
    fa_proto_storage_t stor = fa_proto_storage_of(space);
    fa_proto_frame_t f;
    const uint8_t *blob = (const uint8_t *)PQgetvalue(res, row, 1);
    if (pack_unframe(blob, (size_t)PQgetlength(res, row, 1), &f, &stor) == 0) {
        last->present = true;
        last->duration_ns = col_u64(res, row, 0);
        last->frames_dropped = f.frames_dropped;
        memcpy(last->totals, f.totals, sizeof f.totals);
    }
    free(space);
    return 1;
}

static int pg_read_view(store_reader_t *r, uint64_t sid, session_view_t **out) {
    view_ctx_t v = {0};
    params_t p = {0};
    p_u64(&p, sid);
    int rc = pg_read(r, "SELECT " STOREROW_SESSION_COLUMNS " FROM sessions WHERE id = $1", &p,
                     view_session_row, &v);
    if (rc == STORE_OK && v.found)
        rc = pg_read(r, "SELECT " STOREROW_TAG_COLUMNS " FROM tags WHERE session_id = $1 ORDER BY id", &p,
                     view_tag_row, &v);
    frame_info_t last = {0};
    if (rc == STORE_OK && v.found && v.info.frames) {
        /* The newest frame's totals, when raw frames still hold it. */
        params_t f = {0};
        p_u64(&f, sid);
        p_u64(&f, v.info.last_ms > 60000 ? v.info.last_ms - 60000 : 0);
        p_u64(&f, v.info.last_ms);
        rc =
            pg_read(r,
                    "SELECT duration_ns, data FROM frames WHERE session_id = $1 AND t_ms >= $2 AND t_ms <= $3"
                    " ORDER BY t_ms DESC, frame DESC LIMIT 1",
                    &f, last_frame_row, &last);
    }
    if (rc == STORE_OK && v.failed) rc = read_failed(r, NULL, false);
    if (rc == STORE_OK && v.found) {
        v.info.tag_count = v.n;
        *out = view_create(&v.info, &last, v.tags, v.n);
        rc = *out ? 1 : STORE_FAILED;
    }
    for (uint32_t i = 0; i < v.n; i++)
        free(v.paths[i]);
    free(v.paths);
    free(v.tags);
    return rc;
}

typedef struct frames_ctx {
    store_frame_fn fn;
    void *ud;
    uint64_t sid;
} frames_ctx_t;

static int frames_row(const PGresult *res, int row, void *ud) {
    frames_ctx_t *c = ud;
    store_frame_t f = {c->sid,
                       col_u64(res, row, 0),
                       col_u64(res, row, 1),
                       col_u64(res, row, 2),
                       (const uint8_t *)PQgetvalue(res, row, 3),
                       (size_t)PQgetlength(res, row, 3)};
    return c->fn(c->ud, &f);
}

/* A time bound as a bigint: beyond INT64_MAX means no bound. */
static void p_time(params_t *p, uint64_t t) {
    p_u64(p, t > INT64_MAX ? INT64_MAX : t);
}

static int pg_read_frames(store_reader_t *r, const store_frames_query_t *fq, store_frame_fn fn, void *ud) {
    params_t p = {0};
    p_u64(&p, fq->session_id);
    p_time(&p, fq->from_ms);
    p_time(&p, fq->to_ms);
    p_u64(&p, fq->limit);
    frames_ctx_t c = {fn, ud, fq->session_id};
    return pg_read(r,
                   fq->newest ? "SELECT t_ms, frame, duration_ns, data FROM frames WHERE session_id = $1"
                                " AND t_ms >= $2 AND t_ms <= $3 ORDER BY t_ms DESC, frame DESC LIMIT $4"
                              : "SELECT t_ms, frame, duration_ns, data FROM frames WHERE session_id = $1"
                                " AND t_ms >= $2 AND t_ms <= $3 ORDER BY t_ms, frame LIMIT $4",
                   &p, frames_row, &c);
}

typedef struct series_ctx {
    store_series_fn fn;
    void *ud;
    int64_t last_t, last_frame; /* raw frames: where the next page starts */
    int tag;                    /* rollups: -1, or the one tag wanted */
} series_ctx_t;

/* A rollup row read for one tag (columns t_ms, frames, what, sliced): the
 * whole blob when the row has no tag_at (sliced false), else the tag's
 * figures (NULL: none), handed on as a blob of that row alone. */
static int tag_series_row(const PGresult *res, int row, void *ud) {
    series_ctx_t *c = ud;
    uint64_t t = col_u64(res, row, 0);
    uint32_t frames = (uint32_t)col_u64(res, row, 1);
    const uint8_t *data = (const uint8_t *)PQgetvalue(res, row, 2);
    size_t len = (size_t)PQgetlength(res, row, 2);
    if (!*PQgetvalue(res, row, 3)) return c->fn(c->ud, t, frames, data, len);
    pack_rollup_row_t figures;
    if (PQgetisnull(res, row, 2) || pack_rollup_row_at(data, len, (uint16_t)c->tag, &figures) != 0)
        return c->fn(c->ud, t, frames, NULL, 0);
    uint8_t one[PACK_ROLLUP_ROW_MAX + 32];
    size_t n = pack_rollup(&figures, 1, NULL, 0, one, sizeof one);
    return c->fn(c->ud, t, frames, n ? one : NULL, n);
}

static int series_row(const PGresult *res, int row, void *ud) {
    series_ctx_t *c = ud;
    c->last_t = col_i64(res, row, 0);
    if (PQnfields(res) > 3) c->last_frame = col_i64(res, row, 3);
    return c->fn(c->ud, col_u64(res, row, 0), (uint32_t)col_u64(res, row, 1),
                 (const uint8_t *)PQgetvalue(res, row, 2), (size_t)PQgetlength(res, row, 2));
}

/* Raw frames come in pages of SERIES_PAGE (a frame rate is unknown, a
 * window of 1000 s at 240 fps is 240 000 frames), each one round trip;
 * rollups (one row per bucket: their number is known) in one, or through
 * a cursor when there are more than SERIES_PAGE x 10. */
#define SERIES_PAGE 5000
static int pg_read_series(store_reader_t *r, int level, uint64_t sid, uint64_t lo, uint64_t hi, int tag,
                          store_series_fn fn, void *ud) {
    static const char *const table[STORE_LEVELS] = {"rollup_1s", "rollup_10s", "rollup_1m"};
    series_ctx_t c = {fn, ud, 0, 0, tag};
    int64_t from = (int64_t)(lo > INT64_MAX ? INT64_MAX : lo),
            to = (int64_t)(hi > INT64_MAX ? INT64_MAX : hi);
    char sql[500], what[200] = "data";
    if (level >= 0) {
        uint64_t rows = (hi - lo) / store_level_ms(level) + 2;
        bool one_tag = tag >= 0 && tag <= 0xffff, paged = rows <= SERIES_PAGE * 10;
        char index[16] = "$4::integer"; /* the stream's SQL carries literals */
        if (!paged) snprintf(index, sizeof index, "%d", tag);
        if (one_tag)
            snprintf(what, sizeof what,
                     "CASE WHEN tag_at IS NULL THEN data ELSE substring(data FROM tag_at[%s] FOR %d) END,"
                     " tag_at IS NOT NULL",
                     index, PACK_ROLLUP_ROW_MAX);
        row_fn each = one_tag ? tag_series_row : series_row;
        if (paged) {
            snprintf(sql, sizeof sql,
                     "SELECT t_ms, frames, %s FROM %s WHERE session_id = $1 AND t_ms >= $2 AND t_ms <= $3"
                     " ORDER BY t_ms",
                     what, table[level]);
            params_t p = {0};
            p_u64(&p, sid);
            p_i64(&p, from);
            p_i64(&p, to);
            if (one_tag) p_i64(&p, tag);
            return pg_read(r, sql, &p, each, &c);
        }
        snprintf(sql, sizeof sql,
                 "SELECT t_ms, frames, %s FROM %s WHERE session_id = %lld AND t_ms >= %lld AND t_ms <= %lld"
                 " ORDER BY t_ms",
                 what, table[level], (long long)(int64_t)sid, (long long)from, (long long)to);
        return pg_read_stream(r, sql, each, &c);
    }
    if (reader_ready(r) != STORE_OK) return STORE_FAILED;
    int rows = SERIES_PAGE, rc = STORE_OK;
    bool stopped = false;
    for (bool first = true; rc == STORE_OK && !stopped && rows == SERIES_PAGE; first = false) {
        params_t p = {0};
        p_u64(&p, sid);
        p_i64(&p, first ? from : c.last_t);
        p_i64(&p, to);
        p_i64(&p, c.last_frame);
        rc = reader_exec(
            r,
            first ? "SELECT t_ms, 1::bigint, data, frame FROM frames WHERE session_id = $1"
                    " AND t_ms >= $2 AND t_ms <= $3 AND $4::bigint IS NOT NULL ORDER BY t_ms, frame"
                    " LIMIT " FA_STR(SERIES_PAGE)
                  : "SELECT t_ms, 1::bigint, data, frame FROM frames WHERE session_id = $1"
                    " AND (t_ms, frame) > ($2, $4) AND t_ms <= $3 ORDER BY t_ms, frame"
                    " LIMIT " FA_STR(SERIES_PAGE),
            &p, series_row, &c, &rows, &stopped);
    }
    return rc;
}

typedef struct alerts_ctx {
    store_alert_fn fn;
    void *ud;
} alerts_ctx_t;

static int alerts_row(const PGresult *res, int row, void *ud) {
    alerts_ctx_t *c = ud;
    alert_row_t a;
    storerow_alert(ROW_OF(res, row), &a);
    return c->fn(c->ud, &a);
}

static int pg_read_alerts(store_reader_t *r, const store_alerts_query_t *aq, store_alert_fn fn, void *ud) {
    const char *state = aq->state == STORE_ALERTS_ACTIVE    ? " AND cleared_ms IS NULL"
                        : aq->state == STORE_ALERTS_CLEARED ? " AND cleared_ms IS NOT NULL"
                                                            : "";
    params_t p = {0};
    p_u64(&p, aq->session_id);
    p_u64(&p, aq->since_ms);
    p_time(&p, aq->until_ms);
    p_u64(&p, aq->cursor_ms);
    p_i64(&p, aq->cursor_id);
    p_u64(&p, aq->limit);
    char sql[700];
    snprintf(sql, sizeof sql,
             "SELECT " STOREROW_ALERT_COLUMNS " FROM alerts WHERE %s (raised_ms >= $2 OR cleared_ms >= $2)"
             " AND raised_ms <= $3%s%s ORDER BY raised_ms %s, id %s LIMIT $6",
             aq->has_session ? "session_id = $1 AND" : "", state,
             !aq->has_cursor ? ""
             : aq->newer     ? " AND (raised_ms, id) > ($4, $5)"
                             : " AND (raised_ms, id) < ($4, $5)",
             aq->newer ? "ASC" : "DESC", aq->newer ? "ASC" : "DESC");
    alerts_ctx_t c = {fn, ud};
    return pg_read(r, sql, &p, alerts_row, &c);
}

typedef struct findings_ctx {
    store_finding_fn fn;
    void *ud;
    uint64_t sid;
    bool summary;
} findings_ctx_t;

static int findings_row(const PGresult *res, int row, void *ud) {
    findings_ctx_t *c = ud;
    store_finding_row_t x;
    storerow_finding(ROW_OF(res, row), c->summary, c->sid, &x);
    return c->fn(c->ud, &x);
}

static int pg_read_findings(store_reader_t *r, const store_findings_query_t *fq, store_finding_fn fn,
                            void *ud) {
    params_t p = {0};
    p_u64(&p, fq->session_id);
    p_u64(&p, fq->since_ms);
    p_time(&p, fq->until_ms);
    p_u64(&p, fq->cursor_ms);
    p_i64(&p, fq->cursor_key);
    p_u64(&p, fq->limit);
    char sql[800];
    snprintf(
        sql, sizeof sql,
        "SELECT f.id, f.t_ms, f.code, f.tag_id, f.kind, f.frames, f.count_max, f.value_max, t.path"
        " FROM findings f LEFT JOIN tags t ON t.session_id = f.session_id AND t.id = f.tag_id"
        " WHERE f.session_id = $1 AND f.t_ms >= $2 AND f.t_ms <= $3%s ORDER BY f.t_ms %s, f.id %s LIMIT $6",
        !fq->has_cursor ? ""
        : fq->newer     ? " AND (f.t_ms, f.id) > ($4, $5)"
                        : " AND (f.t_ms, f.id) < ($4, $5)",
        fq->newer ? "ASC" : "DESC", fq->newer ? "ASC" : "DESC");
    findings_ctx_t c = {fn, ud, fq->session_id, false};
    return pg_read(r, sql, &p, findings_row, &c);
}

static int pg_read_finding_summary(store_reader_t *r, const store_findings_query_t *fq, store_finding_fn fn,
                                   void *ud) {
    params_t p = {0};
    p_u64(&p, fq->session_id);
    p_u64(&p, fq->since_ms);
    p_time(&p, fq->until_ms);
    findings_ctx_t c = {fn, ud, fq->session_id, true};
    return pg_read(
        r,
        "SELECT f.code, f.tag_id, f.kind, sum(f.frames)::bigint, max(f.count_max), max(f.value_max),"
        " min(f.t_ms), max(f.t_ms), min(t.path) FROM findings f LEFT JOIN tags t"
        " ON t.session_id = f.session_id AND t.id = f.tag_id"
        " WHERE f.session_id = $1 AND f.t_ms >= $2 AND f.t_ms <= $3 GROUP BY f.code, f.tag_id, f.kind"
        " ORDER BY sum(f.frames) DESC, f.code, f.tag_id, f.kind LIMIT 1000",
        &p, findings_row, &c);
}

typedef struct sessions_ctx {
    store_session_fn fn;
    void *ud;
} sessions_ctx_t;

static int sessions_row(const PGresult *res, int row, void *ud) {
    sessions_ctx_t *c = ud;
    session_info_t s;
    session_from_row(res, row, 0, &s);
    s.tag_count = (uint32_t)col_u64(res, row, 23);
    return c->fn(c->ud, &s);
}

/* Live elsewhere: open, and not this daemon's. */
#define ELSEWHERE "ended_ms IS NULL AND daemon_id IS DISTINCT FROM $9"

typedef struct sites_ctx {
    store_site_fn fn;
    void *ud;
} sites_ctx_t;

static int site_row(const PGresult *res, int row, void *ud) {
    sites_ctx_t *c = ud;
    site_info_t x;
    storerow_site(ROW_OF(res, row), &x);
    return c->fn(c->ud, &x);
}

/* The ids as one array literal ("{1,2,3}"): one query for them all. */
static int pg_read_sites(store_reader_t *r, uint64_t sid, const uint32_t *ids, size_t n, store_site_fn fn,
                         void *ud) {
    if (n == 0) return STORE_OK;
    if (n > SIZE_MAX / 12 - 2) return read_failed(r, NULL, false);
    char *list = malloc(n * 12 + 3), *w = list;
    if (!list) return read_failed(r, NULL, false);
    *w++ = '{';
    for (size_t i = 0; i < n; i++)
        w += sprintf(w, i ? ",%u" : "%u", ids[i]);
    strcpy(w, "}");
    params_t p = {0};
    p_u64(&p, sid);
    p_text(&p, list);
    sites_ctx_t c = {fn, ud};
    int rc = pg_read(
        r, "SELECT " STOREROW_SITE_COLUMNS " FROM sites WHERE session_id = $1 AND id = ANY($2::bigint[])", &p,
        site_row, &c);
    free(list);
    return rc;
}

static int pg_read_sessions(store_reader_t *r, const store_sessions_query_t *sq, store_session_fn fn,
                            void *ud) {
    params_t p = {0};
    p_text(&p, sq->app ? sq->app : "");
    p_text(&p, sq->host ? sq->host : "");
    p_u64(&p, sq->since_ms);
    p_time(&p, sq->until_ms ? sq->until_ms : UINT64_MAX);
    p_u64(&p, sq->cursor_ms);
    p_u64(&p, sq->cursor_id);
    p_u64(&p, sq->limit);
    p_text(&p, sq->build ? sq->build : "");
    p_opt(&p, (uint64_t)pgs(r->store)->daemon_id, pgs(r->store)->daemon_id != 0);
    char sql[1000];
    snprintf(sql, sizeof sql,
             "SELECT " STOREROW_SESSION_COLUMNS ", (SELECT count(*) FROM tags t WHERE t.session_id = s.id)"
             " FROM sessions s WHERE %s AND ($1 = '' OR app = $1) AND ($2 = '' OR host = $2)"
             " AND ($8 = '' OR build_id = $8) AND last_seen_ms >= $3 AND last_seen_ms <= $4"
             "%s ORDER BY last_seen_ms DESC, id DESC LIMIT $7",
             sq->which == STORE_SESSIONS_ENDED ? "ended_ms IS NOT NULL" : ELSEWHERE,
             sq->has_cursor ? " AND (last_seen_ms, id) < ($5, $6)" : "");
    sessions_ctx_t c = {fn, ud};
    return pg_read(r, sql, &p, sessions_row, &c);
}

static int count_row(const PGresult *res, int row, void *ud) {
    *(uint64_t *)ud = col_u64(res, row, 0);
    return 1;
}

static int pg_count_elsewhere(store_reader_t *r, uint64_t *n) {
    params_t p = {0};
    p_opt(&p, (uint64_t)pgs(r->store)->daemon_id, pgs(r->store)->daemon_id != 0);
    *n = 0;
    return pg_read(r,
                   "SELECT count(*) FROM sessions WHERE ended_ms IS NULL AND daemon_id IS DISTINCT FROM $1",
                   &p, count_row, n);
}

typedef struct latest_ctx {
    uint64_t id, last_seen;
    bool live, found;
} latest_ctx_t;

static int latest_row(const PGresult *res, int row, void *ud) {
    latest_ctx_t *c = ud;
    c->id = col_u64(res, row, 0);
    c->last_seen = col_u64(res, row, 1);
    c->live = col_i64(res, row, 2) != 0;
    c->found = true;
    return 1;
}

static int pg_read_latest(store_reader_t *r, uint64_t *id, uint64_t *last_seen_ms, bool *live) {
    params_t p = {0};
    p_opt(&p, (uint64_t)pgs(r->store)->daemon_id, pgs(r->store)->daemon_id != 0);
    latest_ctx_t c = {0};
    /* The live one elsewhere heard from last; else the newest of all. */
    int rc = pg_read(r,
                     "(SELECT id, last_seen_ms, true FROM sessions WHERE ended_ms IS NULL"
                     "  AND daemon_id IS DISTINCT FROM $1 ORDER BY last_seen_ms DESC, id DESC LIMIT 1)"
                     " UNION ALL (SELECT id, last_seen_ms, false FROM sessions"
                     "  ORDER BY last_seen_ms DESC, id DESC LIMIT 1)",
                     &p, latest_row, &c);
    if (rc != STORE_OK) return rc;
    if (!c.found) return 0;
    *id = c.id;
    *last_seen_ms = c.last_seen;
    *live = c.live;
    return 1;
}

/* The fleet's figures (store.h): the sessions in the window, then their
 * tags' figures, two scans the server neither sorts nor groups (grouping
 * 64 000 rows by three strings into arrays took it 50-90 ms); fleetagg.c,
 * shared with the SQLite store, computes the figures, so both stores give
 * the same. Both statements read one snapshot (a read-only repeatable
 * read transaction). */
#define FLEET_WHERE " s.last_seen_ms >= $1 AND ($2 = '' OR s.app = $2) AND ($3 = '' OR s.build_id = $3)"
static const char fleet_sessions_sql[] =
    "SELECT s.id, s.app, s.build_id, s.host, s.last_seen_ms, s.ended_ms IS NULL FROM sessions s"
    " WHERE" FLEET_WHERE;
static const char fleet_tags_sql[] =
    "SELECT t.session_id, t.path, t.budget_hard, t.peak_bytes, t.live_sum, t.live_frames"
    " FROM sessions s JOIN tags t ON t.session_id = s.id WHERE" FLEET_WHERE
    " AND t.live_frames > 0 AND ($4 = '' OR t.path = $4 OR left(t.path, length($4) + 1) = $4 || '/')";

static int fleet_session_row(const PGresult *res, int row, void *ud) {
    fleetagg_session_t s = {.session_id = col_u64(res, row, 0),
                            .app = PQgetvalue(res, row, 1),
                            .build = PQgetvalue(res, row, 2),
                            .host = PQgetvalue(res, row, 3),
                            .last_seen_ms = col_u64(res, row, 4),
                            .live = PQgetlength(res, row, 5) == 1 && PQgetvalue(res, row, 5)[0]};
    return fleetagg_add_session(ud, &s) != 0; /* out of memory: stop */
}

static int fleet_tag_row(const PGresult *res, int row, void *ud) {
    fleetagg_tag_t t = {.session_id = col_u64(res, row, 0),
                        .path = PQgetvalue(res, row, 1),
                        .budget_hard = col_u64(res, row, 2),
                        .peak_bytes = col_u64(res, row, 3),
                        .live_sum = col_u64(res, row, 4),
                        .live_frames = col_u64(res, row, 5)};
    return fleetagg_add_tag(ud, &t) != 0; /* out of memory: stop */
}

static int pg_read_fleet(store_reader_t *r, const store_fleet_query_t *fq, const store_fleet_sink_t *sink) {
    params_t p = {0};
    p_u64(&p, fq->since_ms);
    p_text(&p, fq->app ? fq->app : "");
    p_text(&p, fq->build ? fq->build : "");
    p_text(&p, fq->tag ? fq->tag : "");
    if (reader_ready(r) != STORE_OK) return STORE_FAILED;
    fleetagg_t *agg = fleetagg_create(sink);
    if (!agg) return read_failed(r, NULL, false);
    int rc = reader_exec(r, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL, NULL, NULL, NULL);
    params_t sp = p;
    sp.n = 3; /* the sessions' statement has no tag */
    bool stopped = false;
    if (rc == STORE_OK) rc = reader_exec(r, fleet_sessions_sql, &sp, fleet_session_row, agg, NULL, &stopped);
    if (rc == STORE_OK && !stopped)
        rc = reader_exec(r, fleet_tags_sql, &p, fleet_tag_row, agg, NULL, &stopped);
    PQclear(PQexec(rconn(r), rc == STORE_OK ? "COMMIT" : "ROLLBACK"));
    if (rc == STORE_OK && (fleetagg_failed(agg) || fleetagg_finish(agg) < 0)) {
        snprintf(r->error, sizeof r->error, "out of memory");
        rc = STORE_FAILED;
    }
    fleetagg_destroy(agg);
    return rc;
}

static const store_ops_t pg_ops = {
    .kind = "postgresql",
    .close = pg_close,
    .load = pg_load,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .put_session = pg_put_session,
    .put_counters = pg_put_counters,
    .put_tag = pg_put_tag,
    .put_site = pg_put_site,
    .put_alert = pg_put_alert,
    .put_frames = pg_put_frames,
    .put_rollups = pg_put_rollups,
    .put_findings = pg_put_findings,
    .prune = pg_prune,
    .maintain = pg_maintain,
    .check_file = pg_check_file,
    .lookup = pg_lookup,
    .read_view = pg_read_view,
    .read_frames = pg_read_frames,
    .read_series = pg_read_series,
    .read_alerts = pg_read_alerts,
    .read_findings = pg_read_findings,
    .read_finding_summary = pg_read_finding_summary,
    .read_sessions = pg_read_sessions,
    .read_sites = pg_read_sites,
    .count_elsewhere = pg_count_elsewhere,
    .read_latest = pg_read_latest,
    .read_fleet = pg_read_fleet,
};
