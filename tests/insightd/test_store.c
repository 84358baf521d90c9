/* test_store.c — the store behind store.h, on both backends: schema and
 * migrations, transactions, retention by time range, crash recovery,
 * look-ups and the read queries on their own connections. STORE_TEST
 * runs a body on SQLite (store/...) and PostgreSQL (store_pg/...); the
 * tests named for one backend's own machinery (files, WAL, partitions,
 * several daemons) are that backend's alone. */
#include "helpers.h"

#include <sys/stat.h>

#include "fleet.h"
#include "fleetagg.h"
#include "query.h"
#include "testdb.h"

static testdb_t the_db;
static const char *db; /* the_db.location */

static void store_setup_sqlite(void) {
    testdb_create(&the_db, false);
    db = the_db.location;
}
static void store_setup_pg(void) {
    testdb_create(&the_db, true);
    db = the_db.location;
}
static void store_teardown(void) {
    testdb_destroy(&the_db);
}

static int64_t scalar(const char *sql) {
    return testdb_scalar(&the_db, sql);
}

static int count(const char *table) {
    return (int)testdb_count(&the_db, table);
}

static store_t *open_store(void) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 2, NULL, err, sizeof err), 0, "%s", err);
    return st;
}

static void put_frame(store_t *st, uint64_t sid, uint64_t t_ms, uint64_t frame) {
    static const uint8_t blob[] = {PACK_FRAME_VERSION};
    store_frame_t f = {sid, t_ms, frame, 1, blob, 1};
    size_t rejected;
    cr_assert_eq(store_put_frames(st, &f, 1, &rejected), STORE_OK, "%s", store_error(st));
}

static void put_session(store_t *st, uint64_t sid, uint64_t last_seen, bool ended) {
    session_info_t s = {.id = sid,
                        .have_hello = true,
                        .frames = 1,
                        .first_ms = last_seen,
                        .last_ms = last_seen,
                        .last_seen_ms = last_seen,
                        .live = !ended,
                        .ended_ms = ended ? last_seen : 0,
                        .end_reason = ended ? "bye" : NULL};
    strcpy(s.app, "game");
    cr_assert_eq(store_put_session(st, &s), STORE_OK, "%s", store_error(st));
}

/* ---- SQLite's own ------------------------------------------------------------ */

#define SQLITE_TEST(name) Test(store, name, .init = store_setup_sqlite, .fini = store_teardown)

static sqlite3 *handle(store_t *st) {
    return store_sqlite_handle(st);
}

static int64_t lite_scalar(sqlite3 *h, const char *sql) {
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
    cr_assert(sqlite3_step(q) == SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

SQLITE_TEST(a_new_database_gets_the_current_schema_in_wal_mode) {
    store_t *st = open_store();
    cr_assert_eq(lite_scalar(handle(st), "PRAGMA user_version"), STORE_SQLITE_SCHEMA);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(handle(st), "PRAGMA journal_mode", -1, &q, NULL);
    sqlite3_step(q);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    store_close(st);
    st = open_store(); /* reopening does not migrate again */
    cr_assert_eq(lite_scalar(handle(st), "PRAGMA user_version"), STORE_SQLITE_SCHEMA);
    store_close(st);
}

SQLITE_TEST(an_older_schema_is_migrated_in_place) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 3, 5000, true);
    put_frame(st, 3, 5000, 1);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_close(st);
    /* make it a schema-1 database again */
    sqlite3 *h;
    sqlite3_open(db, &h);
    cr_assert_eq(
        sqlite3_exec(
            h,
            "DROP TABLE sites; DROP INDEX sessions_by_app; DROP TABLE rollup_10s; DROP INDEX "
            "sessions_by_activity;"
            "DROP INDEX frames_by_time;"
            "DROP INDEX rollup_1s_by_time; DROP INDEX rollup_1m_by_time; DROP INDEX findings_by_time;"
            "ALTER TABLE sessions DROP COLUMN last_seen_ms; ALTER TABLE sessions DROP COLUMN next_seq;"
            "ALTER TABLE sessions DROP COLUMN duplicates; ALTER TABLE sessions DROP COLUMN rows_rejected;"
            "ALTER TABLE sessions DROP COLUMN clock_skew_ms;"
            "ALTER TABLE tags DROP COLUMN live_sum; ALTER TABLE tags DROP COLUMN live_frames;"
            "PRAGMA user_version = 1;",
            NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    st = open_store();
    cr_assert_eq(lite_scalar(handle(st), "PRAGMA user_version"), STORE_SQLITE_SCHEMA);
    cr_assert_eq(count("rollup_10s"), 0, "the new table exists");
    cr_assert_eq(count("sites"), 0, "and the call sites' (schema 5)");
    cr_assert_eq(count("frames"), 1, "the data stayed");
    cr_assert_eq(scalar("SELECT last_seen_ms FROM sessions WHERE id = 3"), 5000,
                 "last activity from the stored times");
    store_close(st);
}

SQLITE_TEST(a_newer_schema_is_refused_clearly) {
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "schema 99") && strstr(err, "newer"), "%s", err);
}

SQLITE_TEST(a_file_that_is_not_a_database_is_refused) {
    FILE *f = fopen(db, "w");
    for (int i = 0; i < 1000; i++)
        fputs("not a database ", f);
    fclose(f);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, db), "%s", err);
}

SQLITE_TEST(a_read_only_file_is_refused_clearly) {
    if (geteuid() == 0) cr_skip_test("root writes read-only files (the integration test runs it as nobody)");
    store_close(open_store());
    chmod(db, 0444);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "read-only"), "%s", err);
}

static int count_frame(void *ud, const store_frame_t *row) {
    (void)row;
    (*(int *)ud)++;
    return 0;
}

STORE_TEST(store, writes_are_batched_and_invisible_until_commit) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    for (int i = 0; i < 10; i++)
        put_frame(st, 7, 1000 + (uint64_t)i, (uint64_t)i);
    store_reader_t *r = store_reader_acquire(st, NULL);
    store_frames_query_t q = {7, 0, UINT64_MAX, false, 100};
    int n = 0;
    cr_assert_eq(store_read_frames(r, &q, count_frame, &n), STORE_OK);
    cr_assert_eq(n, 0, "a reader does not see the open batch");
    cr_assert_eq(store_commit(st), STORE_OK);
    cr_assert_eq(store_read_frames(r, &q, count_frame, &n), STORE_OK);
    cr_assert_eq(n, 10);
    store_reader_release(st, r);
    cr_assert_eq(store_commit(st), STORE_OK, "nothing to commit is fine");
    store_close(st);
}

STORE_TEST(store, the_writer_looks_up_what_it_wrote_even_uncommitted) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 0x42, 1000, true);
    tag_info_t t = {.id = 1, .path = "physics", .defined = true, .budget_hard = 500, .live_bytes = 7};
    cr_assert_eq(store_put_tag(st, 0x42, &t), STORE_OK);
    store_counters_t c = {.frames = 9, .last_frame = 9, .gaps = 2, .next_seq = 12, .last_seen_ms = 1500};
    cr_assert_eq(store_put_counters(st, 0x42, &c), STORE_OK);
    session_view_t *v = NULL;
    cr_assert_eq(store_lookup(st, 0x42, &v), 1);
    cr_assert_eq(v->info.frames, 9);
    cr_assert_eq(v->info.gaps, 2);
    cr_assert_eq(v->info.next_seq, 12, "sequence tracking survives a restart");
    cr_assert_eq(v->tag_count, 1);
    cr_assert_str_eq(v->tags[0].path, "physics");
    view_free(v);
    cr_assert_eq(store_lookup(st, 0x43, &v), 0, "an unknown session");
    store_rollback(st);
    store_close(st);
}

STORE_TEST(store, retention_deletes_by_time_range_in_bounded_steps) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    uint8_t blob[] = {1};
    for (uint64_t t = 0; t < 100; t++) {
        put_frame(st, 9, t * 1000, t);
        store_rollup_t r = {9, t * 1000, 1, blob, 1};
        store_put_rollups(st, STORE_SECOND, &r, 1);
        store_put_rollups(st, STORE_10S, &r, 1);
        store_put_rollups(st, STORE_MINUTE, &r, 1);
    }
    cr_assert_eq(store_commit(st), STORE_OK);
    /* now = 100 s: raw keeps 50 s, per-second 80 s, 10 s 90 s, per-minute all */
    store_keep_t keep = {
        .raw = 50000, .second = 80000, .ten_sec = 90000, .minute = 1000000, .session = 1000000};
    bool more;
    cr_assert_eq(store_prune(st, &keep, 100000, 30, &more), 30);
    cr_assert(more, "a full step says more is due");
    int64_t total = 30, n;
    do {
        n = store_prune(st, &keep, 100000, 30, &more);
        cr_assert_geq(n, 0);
        total += n;
    } while (more);
    cr_assert_eq(total, 50 + 20 + 10);
    cr_assert_eq(count("frames"), 50, "frames at t >= 50 s stay");
    cr_assert_eq(count("rollup_1s"), 80);
    cr_assert_eq(count("rollup_10s"), 90);
    cr_assert_eq(count("rollup_1m"), 100);
    store_close(st);
}

STORE_TEST(store, retention_prunes_ended_sessions_with_their_tags_alerts_and_findings) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    for (uint64_t i = 1; i <= 40; i++) {
        uint64_t when = i <= 30 ? 1000 : 900000; /* 30 old ones, 10 recent */
        put_session(st, i, when, true);
        tag_info_t t = {.id = 1, .path = "physics", .defined = true};
        store_put_tag(st, i, &t);
        alert_row_t a = {.id = (int64_t)i,
                         .session_id = i,
                         .tag_id = 1,
                         .level = "warning",
                         .raised_ms = when,
                         .cleared_ms = when + 1,
                         .clear_reason = "usage",
                         .budget_hard = 10};
        strcpy(a.path, "physics");
        store_put_alert(st, &a);
        store_finding_t f = {i, when, 2, 1, 1, 1, 1, 1};
        store_put_findings(st, &f, 1);
        site_info_t si = {.id = 1, .line = 10, .kind = 1, .file = "a.c", .function = "f"};
        store_put_site(st, i, &si);
    }
    put_session(st, 99, 1000, false); /* old, but live: kept */
    cr_assert_eq(store_commit(st), STORE_OK);
    store_keep_t keep = {
        .raw = 500000, .second = 500000, .ten_sec = 500000, .minute = 500000, .session = 500000};
    bool more = true;
    while (more)
        cr_assert_geq(store_prune(st, &keep, 1000000, 64, &more), 0);
    cr_assert_eq(count("sessions"), 11, "ended sessions past the horizon are gone, live ones stay");
    cr_assert_eq(count("tags"), 10);
    cr_assert_eq(count("alerts"), 10);
    cr_assert_eq(count("findings"), 10);
    cr_assert_eq(count("sites"), 10);
    store_close(st);
}

/* EXPLAIN QUERY PLAN's detail column contains `what`. */
static bool plan_uses(sqlite3 *h, const char *sql, const char *what) {
    char explain[1024];
    snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(h, explain, -1, &q, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(h));
    bool found = false;
    while (sqlite3_step(q) == SQLITE_ROW)
        if (strstr((const char *)sqlite3_column_text(q, 3), what)) found = true;
    sqlite3_finalize(q);
    return found;
}

SQLITE_TEST(alerts_of_a_session_and_retention_use_their_indexes) {
    store_t *st = open_store();
    sqlite3 *h = handle(st);
    cr_assert(
        plan_uses(h,
                  "SELECT id FROM alerts WHERE session_id = 1 AND (raised_ms >= 0 OR cleared_ms >= 0)"
                  " AND raised_ms <= 9 AND (raised_ms, id) < (5, 5) ORDER BY raised_ms DESC, id DESC LIMIT 7",
                  "alerts_by_session"),
        "the by-session alerts query walks its index");
    cr_assert(plan_uses(h, "SELECT rowid FROM frames WHERE t_ms < 5 LIMIT 10", "frames_by_time"),
              "retention finds old frames by time, not per session");
    cr_assert(plan_uses(h, "SELECT id FROM sessions WHERE last_seen_ms < 5 AND ended_ms IS NOT NULL LIMIT 3",
                        "sessions_by_activity"),
              "and old sessions by activity");
    store_close(st);
}

static int collect_alert(void *ud, const alert_row_t *a) {
    int64_t *ids = ud;
    ids[++ids[0]] = a->id;
    return 0;
}

STORE_TEST(store, alerts_page_both_ways_by_raise_time_then_id) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    for (int64_t i = 1; i <= 12; i++) {
        alert_row_t a = {
            .id = i, .session_id = 5, .tag_id = 1, .level = "warning", .raised_ms = 1000 + (uint64_t)(i / 2)};
        strcpy(a.path, "x");
        store_put_alert(st, &a);
    }
    cr_assert_eq(store_commit(st), STORE_OK);
    store_reader_t *r = store_reader_acquire(st, NULL);
    int64_t ids[20] = {0};
    store_alerts_query_t q = {.has_session = true, .session_id = 5, .until_ms = UINT64_MAX, .limit = 5};
    cr_assert_eq(store_read_alerts(r, &q, collect_alert, ids), STORE_OK);
    cr_assert_eq(ids[0], 5);
    cr_assert_eq(ids[1], 12, "newest first");
    cr_assert_eq(ids[5], 8);
    /* older than the last row (raised 1004, id 8) */
    q.has_cursor = true;
    q.cursor_ms = 1004;
    q.cursor_id = 8;
    ids[0] = 0;
    cr_assert_eq(store_read_alerts(r, &q, collect_alert, ids), STORE_OK);
    cr_assert_eq(ids[1], 7, "the same raise time, a smaller id: next");
    /* newer than (1004, 8): oldest first from the cursor */
    q.newer = true;
    ids[0] = 0;
    cr_assert_eq(store_read_alerts(r, &q, collect_alert, ids), STORE_OK);
    cr_assert_eq(ids[0], 4);
    cr_assert_eq(ids[1], 9);
    store_reader_release(st, r);
    store_close(st);
}

static int loaded_sessions;
static session_info_t loaded;
static uint32_t loaded_tags;
static void on_loaded(void *ud, session_view_t *v) {
    (void)ud;
    loaded_sessions++;
    loaded = v->info;
    loaded_tags = v->tag_count;
    view_free(v);
}

STORE_TEST(store, a_crash_leaves_sessions_and_alerts_closed_at_the_next_start) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    session_info_t s = {.id = 0xabc,
                        .have_hello = true,
                        .live = true,
                        .frames = 10,
                        .first_ms = 1000,
                        .last_ms = 2000,
                        .last_seen_ms = 2000};
    strcpy(s.app, "game");
    store_put_session(st, &s);
    tag_info_t t = {.id = 1, .path = "physics", .defined = true, .budget_hard = 500, .live_bytes = 450};
    store_put_tag(st, s.id, &t);
    alert_row_t a = {.id = 7,
                     .session_id = s.id,
                     .tag_id = 1,
                     .level = "warning",
                     .raised_ms = 1500,
                     .raised_bytes = 400,
                     .peak_bytes = 450,
                     .budget_hard = 500};
    strcpy(a.path, "physics");
    store_put_alert(st, &a);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_close(st); /* as good as a crash: nothing marked them closed */
    st = open_store();
    int64_t next_alert = 0;
    cr_assert_eq(store_load(st, 100, on_loaded, NULL, NULL, &next_alert), 0);
    if (the_db.pg) /* a range of its own: several daemons raise alerts at once */
        cr_assert(next_alert > 7 && (next_alert - 1) % (1ll << 32) == 0, "alert ids from %lld",
                  (long long)next_alert);
    else
        cr_assert_eq(next_alert, 8, "alert ids go on after the largest stored");
    cr_assert_eq(loaded_sessions, 1);
    cr_assert_eq(loaded_tags, 1);
    cr_assert_str_eq(loaded.app, "game");
    cr_assert_not(loaded.live);
    cr_assert_eq(loaded.ended_ms, 2000);
    cr_assert_str_eq(loaded.end_reason, "daemon_restart");
    cr_assert_eq(
        scalar("SELECT count(*) FROM alerts WHERE cleared_ms = 2000 AND clear_reason = 'daemon_restart'"
               " AND level = 'warning'"),
        1, "its alert cleared at the session's last frame");
    store_close(st);
}

STORE_TEST(store, trend_reads_rollups_and_the_uncovered_tail_from_raw_frames) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    /* 10 per-second rollups of tag 5 (values 10..19), then 50 raw frames */
    for (uint64_t s = 0; s < 10; s++) {
        pack_rollup_row_t r = {5, 10 + s, 10 + s, 10 + s, 10 + s};
        uint8_t blob[64];
        size_t len = pack_rollup(&r, 1, NULL, 0, blob, sizeof blob);
        store_rollup_t row = {1, 100000 + s * 1000, 60, blob, len};
        store_put_rollups(st, STORE_SECOND, &row, 1);
    }
    fa_proto_tag_stat_t tag = {5, 0, 0, 0, 0, 0, 0};
    for (uint64_t i = 0; i < 50; i++) {
        fa_proto_frame_t f;
        memset(&f, 0, sizeof f);
        tag.live_bytes = 1000 + i;
        f.tags = &tag;
        f.tag_count = 1;
        uint8_t blob[256];
        size_t len = pack_frame(&f, blob, sizeof blob), rejected;
        store_frame_t row = {1, 110000 + i * 10, i, 1, blob, len};
        store_put_frames(st, &row, 1, &rejected);
    }
    cr_assert_eq(store_commit(st), STORE_OK);
    store_reader_t *r = store_reader_acquire(st, NULL);
    query_result_t res = {0};
    query_trend(r, 1, 5, "t", 110490, 20000, 10, &res);
    store_reader_release(st, r);
    cr_assert_eq(res.status, 200, "%s", res.message);
    cJSON *doc = cJSON_Parse(res.body);
    free(res.body);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "source")->valuestring, "1s");
    cJSON *series = cJSON_GetObjectItem(doc, "series");
    int n = cJSON_GetArraySize(series);
    cr_assert_geq(n, 5);
    cJSON *last = cJSON_GetArrayItem(series, n - 1);
    cr_assert_eq(cJSON_GetObjectItem(last, "last")->valuedouble, 1049, "the raw tail is included");
    cr_assert_eq(cJSON_GetObjectItem(last, "max")->valuedouble, 1049);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(series, 0), "min")->valuedouble, 10);
    cJSON_Delete(doc);
    store_close(st);
}

STORE_TEST(store, a_cancelled_read_stops_with_its_reason) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    for (int i = 0; i < 2000; i++)
        put_frame(st, 1, (uint64_t)i, (uint64_t)i);
    cr_assert_eq(store_commit(st), STORE_OK);
    atomic_int flag = 1;
    store_cancel_t cancel = {&flag, 0};
    store_reader_t *r = store_reader_acquire(st, &cancel);
    store_frames_query_t q = {1, 0, UINT64_MAX, true, 1000};
    int n = 0;
    cr_assert_eq(store_read_frames(r, &q, count_frame, &n), STORE_CANCELLED);
    store_reader_release(st, r);
    store_cancel_t past = {NULL, clock_mono_ms() - 1};
    r = store_reader_acquire(st, &past);
    cr_assert_eq(store_read_frames(r, &q, count_frame, &n), STORE_CANCELLED, "a deadline in the past");
    store_reader_release(st, r);
    store_close(st);
}

SQLITE_TEST(a_replaced_or_deleted_file_is_noticed) {
    store_t *st = open_store();
    cr_assert_eq(store_check_file(st), 0);
    char moved[600];
    snprintf(moved, sizeof moved, "%s.moved", db);
    cr_assert_eq(rename(db, moved), 0);
    cr_assert_eq(store_check_file(st), 1, "deleted (or moved away)");
    FILE *f = fopen(db, "w");
    fclose(f);
    cr_assert_eq(store_check_file(st), 1, "another file at the path");
    store_close(st);
}

static int got_site(void *ud, const site_info_t *s) {
    site_info_t *out = ud;
    cr_assert(s->id >= 1 && s->id <= 3, "site %u", s->id);
    out[s->id - 1] = *s;
    return 0;
}

STORE_TEST(store, sites_are_replaced_by_id_and_read_by_their_ids) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 7, 1000, false);
    for (uint32_t i = 1; i <= 3; i++) {
        site_info_t s = {.id = i, .line = 10 * i, .kind = (uint8_t)i};
        snprintf(s.file, sizeof s.file, "src/f%u.c", i);
        snprintf(s.function, sizeof s.function, "fn%u", i);
        cr_assert_eq(store_put_site(st, 7, &s), STORE_OK);
    }
    site_info_t again = {.id = 2, .line = 99, .kind = 4, .file = "moved.c", .function = "g"};
    cr_assert_eq(store_put_site(st, 7, &again), STORE_OK);
    site_info_t elsewhere = {.id = 3, .line = 5, .file = "x.c", .function = "h"};
    cr_assert_eq(store_put_site(st, 8, &elsewhere), STORE_OK);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_reader_t *r = store_reader_acquire(st, NULL);
    cr_assert_not_null(r);
    site_info_t got[3];
    memset(got, 0, sizeof got);
    const uint32_t ids[] = {2, 3, 40};
    cr_assert_eq(store_read_sites(r, 7, ids, 3, got_site, got), STORE_OK);
    cr_assert_eq(got[0].id, 0, "not asked");
    cr_assert_eq(got[1].line, 99);
    cr_assert_str_eq(got[1].file, "moved.c");
    cr_assert_str_eq(got[1].function, "g");
    cr_assert_eq(got[1].kind, 4);
    cr_assert_eq(got[2].line, 30, "session 7's, not 8's");
    cr_assert_str_eq(got[2].function, "fn3");
    store_reader_release(st, r);
    store_close(st);
}

/* ---- the fleet's figures, and sessions other daemons write -------------------- */

static void put_tag_figures(store_t *st, uint64_t sid, uint16_t id, const char *path, uint64_t budget,
                            uint64_t peak, uint64_t sum, uint64_t frames) {
    tag_info_t t = {.id = id,
                    .path = path,
                    .defined = true,
                    .budget_hard = budget,
                    .peak_bytes = peak,
                    .live_bytes = peak,
                    .live_sum = sum,
                    .live_frames = frames};
    cr_assert_eq(store_put_tag(st, sid, &t), STORE_OK, "%s", store_error(st));
}

static void put_game(store_t *st, uint64_t sid, const char *app, const char *build, const char *host,
                     uint64_t last_seen) {
    session_info_t s = {
        .id = sid, .have_hello = true, .frames = 10, .last_seen_ms = last_seen, .live = false};
    s.first_ms = s.last_ms = s.ended_ms = last_seen;
    s.end_reason = "bye";
    snprintf(s.app, sizeof s.app, "%s", app);
    snprintf(s.build_id, sizeof s.build_id, "%s", build);
    snprintf(s.host, sizeof s.host, "%s", host);
    cr_assert_eq(store_put_session(st, &s), STORE_OK, "%s", store_error(st));
}

typedef struct fleet_seen {
    int groups, builds;
    char keys[16][200], build_keys[8][200];
    store_fleet_group_t g[16]; /* their strings are not kept: keys are */
    store_fleet_build_t b[8];
} fleet_seen_t;

static int collect_group(void *ud, const store_fleet_group_t *g) {
    fleet_seen_t *f = ud;
    cr_assert_lt(f->groups, 16);
    snprintf(f->keys[f->groups], sizeof f->keys[0], "%s/%s/%s %s", g->app, g->build, g->path,
             g->worst_count ? g->worst[0].host : "-");
    f->g[f->groups++] = *g;
    return 0;
}

static int collect_build(void *ud, const store_fleet_build_t *b) {
    fleet_seen_t *f = ud;
    cr_assert_lt(f->builds, 8);
    int n = snprintf(f->build_keys[f->builds], sizeof f->build_keys[0], "%s/%s:", b->app, b->build);
    for (uint32_t i = 0; i < b->host_names_count; i++)
        n += snprintf(f->build_keys[f->builds] + n, sizeof f->build_keys[0] - (size_t)n, " %s",
                      b->host_names[i]);
    f->b[f->builds++] = *b;
    return 0;
}

static fleet_seen_t read_fleet(store_t *st, const char *app, const char *build, const char *tag,
                               uint64_t since) {
    fleet_seen_t f = {0};
    store_reader_t *r = store_reader_acquire(st, NULL);
    store_fleet_query_t q = {app, build, tag, since};
    store_fleet_sink_t sink = {collect_build, collect_group, &f};
    cr_assert_eq(store_read_fleet(r, &q, &sink), STORE_OK, "%s", store_reader_error(r));
    store_reader_release(st, r);
    return f;
}

static int by_key(const void *a, const void *b) {
    return strcmp(a, b);
}

STORE_TEST(store, fleet_figures_are_per_build_and_tag_filtered_and_ordered) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    put_game(st, 0x11, "game", "b2", "hostA", 5000);
    put_game(st, 0x12, "game", "b1", "hostB", 6000);
    put_game(st, 0x15, "game", "b1", "hostA", 6500);
    put_game(st, 0x13, "other", "b1", "hostA", 7000);
    put_game(st, 0x14, "game", "b1", "hostA", 100); /* before `since` */
    for (uint64_t sid = 0x11; sid <= 0x15; sid++) {
        put_tag_figures(st, sid, 1, "physics", 1000, 900 + sid, 8000 + sid, 10);
        put_tag_figures(st, sid, 2, "physics/contacts", 0, 50, 400, 8);
        put_tag_figures(st, sid, 3, "physicsx", 0, 5, 50, 10);
        put_tag_figures(st, sid, 4, "render", 0, 7, 0, 0); /* never in a frame: not counted */
    }
    cr_assert_eq(store_commit(st), STORE_OK);
    fleet_seen_t f = read_fleet(st, "game", "", "physics", 1000);
    cr_assert_eq(f.groups, 4, "physics and its child, of the games active since 1000");
    cr_assert_str_eq(f.keys[0], "game/b1/physics hostA", "the worst: 0x15 peaks higher");
    cr_assert_str_eq(f.keys[1], "game/b1/physics/contacts hostB", "equal peaks: the smaller id");
    cr_assert_str_eq(f.keys[2], "game/b2/physics hostA");
    cr_assert_str_eq(f.keys[3], "game/b2/physics/contacts hostA");
    store_fleet_group_t *g = &f.g[0];
    cr_assert_eq(g->sessions, 2);
    cr_assert_eq(g->budget_hard, 1000);
    cr_assert_float_eq(g->peak[0], (900 + 0x12 + 900 + 0x15) / 2.0, 1e-9, "p50: between the two");
    cr_assert_float_eq(g->peak[1], 900 + 0x12 + 0.95 * 3, 1e-9, "p95 interpolated");
    cr_assert_float_eq(g->peak[2], 900 + 0x15, 1e-9);
    cr_assert_float_eq(g->avg[2], (8000 + 0x15) / 10.0, 1e-9, "the per-frame average: sum / frames");
    cr_assert_eq(g->over_budget, 0);
    cr_assert_eq(g->worst_count, 2);
    cr_assert_eq(g->worst[0].session_id, 0x15);
    cr_assert_eq(g->worst[0].peak_bytes, 900 + 0x15);
    cr_assert_not(g->worst[0].live);
    cr_assert_eq(f.builds, 2);
    qsort(f.build_keys, (size_t)f.builds, sizeof f.build_keys[0], by_key);
    cr_assert_str_eq(f.build_keys[0], "game/b1: hostA hostB", "hosts by name");
    cr_assert_str_eq(f.build_keys[1], "game/b2: hostA");
    f = read_fleet(st, "", "b1", "", 0);
    cr_assert_eq(f.groups, 6, "build b1 of both apps, every tag seen in a frame");
    cr_assert(!strncmp(f.keys[0], "game/b1/physics ", 16), "%s", f.keys[0]);
    cr_assert(!strncmp(f.keys[5], "other/b1/physicsx ", 18), "%s", f.keys[5]);
    cr_assert_eq(f.builds, 2, "b1 of game and of other");
    cr_assert_eq(f.b[0].sessions + f.b[1].sessions, 4, "0x12, 0x14, 0x15 (since 0) and 0x13");
    store_close(st);
}

typedef struct sessions_seen {
    int n;
    uint64_t ids[16];
} sessions_seen_t;

static int collect_session(void *ud, const session_info_t *s) {
    sessions_seen_t *x = ud;
    cr_assert_lt(x->n, 16);
    x->ids[x->n++] = s->id;
    return 0;
}

static void no_view(void *ud, session_view_t *v) {
    (void)ud;
    view_free(v);
}

STORE_TEST(store, live_sessions_another_writer_holds_are_listed_as_elsewhere) {
    store_t *writer = open_store(), *reader = open_store();
    int64_t next_alert;
    cr_assert_eq(store_load(writer, 0, no_view, NULL, NULL, &next_alert), 0);
    cr_assert_eq(store_begin(writer), STORE_OK);
    put_session(writer, 0x21, 3000, false); /* live */
    put_session(writer, 0x22, 4000, true);  /* ended */
    session_info_t other = {.id = 0x23, .live = true, .last_seen_ms = 2000};
    strcpy(other.app, "game");
    strcpy(other.build_id, "b9");
    cr_assert_eq(store_put_session(writer, &other), STORE_OK);
    cr_assert_eq(store_commit(writer), STORE_OK);
    /* The writer: its live sessions are in its memory, none elsewhere. */
    store_reader_t *r = store_reader_acquire(writer, NULL);
    uint64_t n = 99;
    cr_assert_eq(store_count_elsewhere(r, &n), STORE_OK);
    cr_assert_eq(n, 0);
    store_reader_release(writer, r);
    /* Another daemon (this one only reads): both live ones are elsewhere. */
    r = store_reader_acquire(reader, NULL);
    cr_assert_eq(store_count_elsewhere(r, &n), STORE_OK);
    cr_assert_eq(n, 2);
    sessions_seen_t seen = {0};
    store_sessions_query_t q = {.which = STORE_SESSIONS_ELSEWHERE, .until_ms = 0, .limit = 10};
    cr_assert_eq(store_read_sessions(r, &q, collect_session, &seen), STORE_OK, "%s", store_reader_error(r));
    cr_assert_eq(seen.n, 2);
    cr_assert_eq(seen.ids[0], 0x21, "newest first");
    cr_assert_eq(seen.ids[1], 0x23);
    seen.n = 0;
    q.build = "b9";
    cr_assert_eq(store_read_sessions(r, &q, collect_session, &seen), STORE_OK);
    cr_assert_eq(seen.n, 1, "filtered by build");
    seen.n = 0;
    q = (store_sessions_query_t){.which = STORE_SESSIONS_ENDED, .limit = 10};
    cr_assert_eq(store_read_sessions(r, &q, collect_session, &seen), STORE_OK);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.ids[0], 0x22);
    uint64_t id = 0, last_seen = 0;
    bool live = false;
    cr_assert_eq(store_read_latest(r, &id, &last_seen, &live), 1);
    cr_assert_eq(id, 0x21, "latest: the live one elsewhere heard from last");
    cr_assert(live);
    store_reader_release(reader, r);
    store_close(reader);
    store_close(writer);
}

/* Rollup buckets for the one-tag reads: tags 0, 1 and 5 (the figures
 * of tag 5 in bucket k: k, k + 1 << 33, UINT64_MAX - k, 7), bucket 3
 * without tag 5, bucket 4 with sparse ids (0 and 1000: no offsets kept on
 * PostgreSQL), bucket 5 with call sites after the tags. */
enum { TAG_BUCKETS = 6 };
static void put_tag_buckets(store_t *st, uint64_t sid, uint64_t base) {
    cr_assert_eq(store_begin(st), STORE_OK);
    for (int level = 0; level < STORE_LEVELS; level++) {
        for (uint64_t k = 0; k < TAG_BUCKETS; k++) {
            pack_rollup_row_t rows[3] = {
                {0, 1, 2, 3, 4}, {1, 10, 20, 30, 40}, {5, k, k + (1ull << 33), UINT64_MAX - k, 7}};
            if (k == 3) rows[2].id = 2;
            if (k == 4) rows[2].id = 1000;
            pack_site_acc_t site = {4, 5, 1, 8, 8, 1, 1, 8, 8, 8};
            uint8_t blob[512];
            size_t len = pack_rollup(rows, 3, &site, k == 5, blob, sizeof blob);
            cr_assert_gt(len, 0);
            store_rollup_t r = {sid, base + k * store_level_ms(level), (uint32_t)(k + 1), blob, len};
            cr_assert_eq(store_put_rollups(st, level, &r, 1), STORE_OK, "%s", store_error(st));
        }
    }
    cr_assert_eq(store_commit(st), STORE_OK);
}

typedef struct tag_rows {
    int n, found;
    uint64_t t[TAG_BUCKETS], frames[TAG_BUCKETS];
    size_t len[TAG_BUCKETS];
    pack_rollup_row_t row[TAG_BUCKETS];
    uint16_t tag;
} tag_rows_t;

static int collect_tag(void *ud, uint64_t t_ms, uint32_t frames, const uint8_t *blob, size_t len) {
    tag_rows_t *c = ud;
    cr_assert_lt(c->n, TAG_BUCKETS);
    c->t[c->n] = t_ms;
    c->frames[c->n] = frames;
    c->len[c->n] = len;
    memset(&c->row[c->n], 0, sizeof c->row[0]);
    if (blob && pack_rollup_find(blob, len, c->tag, &c->row[c->n]) == 1) c->found |= 1 << c->n;
    c->n++;
    return 0;
}

/* ---- PostgreSQL's own -------------------------------------------------------------- */

#define PG_TEST(name) Test(store_pg, name, .init = store_setup_pg, .fini = store_teardown)

static store_t *open_store_keep(const store_keep_t *keep) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 2, keep, err, sizeof err), 0, "%s", err);
    return st;
}

PG_TEST(a_new_database_gets_its_schema_and_partitions_ahead) {
    store_keep_t keep = {
        .raw = 3600000, .second = 86400000, .ten_sec = 7 * 86400000ull, .minute = 30 * 86400000ull};
    store_t *st = open_store_keep(&keep);
    cr_assert_str_eq(store_kind(st), "postgresql");
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'schema'"), STORE_PG_SCHEMA);
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'width_frames'"), 300000,
                 "a sixth of an hour, on the ladder: 5 minutes");
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'width_rollup_1m'"), 86400000);
    char sql[300];
    uint64_t now = clock_now_ms();
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_inherits WHERE inhparent = 'frames'::regclass"
             " AND inhrelid::regclass::text IN ('frames_p%llu', 'frames_p%llu', 'frames_p%llu')",
             (unsigned long long)(now / 300000 * 300000),
             (unsigned long long)(now / 300000 * 300000 + 300000),
             (unsigned long long)((now - 120000) / 300000 * 300000));
    cr_assert_geq(scalar(sql), 2, "now's partition and the next exist before any frame");
    store_close(st);
    /* a second open keeps the widths chosen first */
    keep.raw = 365 * 86400000ull;
    st = open_store_keep(&keep);
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'width_frames'"), 300000);
    store_close(st);
}

/* Makes the database one from before schema 3 (rollup tag offsets). */
static void drop_tag_at(void) {
    testdb_exec(&the_db, "ALTER TABLE rollup_1s DROP COLUMN tag_at");
    testdb_exec(&the_db, "ALTER TABLE rollup_10s DROP COLUMN tag_at");
    testdb_exec(&the_db, "ALTER TABLE rollup_1m DROP COLUMN tag_at");
}

/* A database of schema 1 (before call sites) gets the sites table, and its
 * data stays. */
PG_TEST(a_schema_1_database_is_migrated_to_call_sites) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 5, 1000, true);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_close(st);
    testdb_exec(&the_db, "DROP TABLE sites");
    drop_tag_at(); /* and what schema 3 added */
    testdb_exec(&the_db, "UPDATE fa_meta SET value = 1 WHERE key = 'schema'");
    st = open_store();
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'schema'"), STORE_PG_SCHEMA,
                 "and on to today's");
    cr_assert_eq(count("sites"), 0, "the table exists");
    cr_assert_eq(count("sessions"), 1, "the data stayed");
    store_close(st);
}

/* A database of schema 2 gets rollup tag offsets; its rollups written
 * before (no offsets) are read whole, and still give each tag. */
PG_TEST(a_schema_2_database_is_migrated_to_rollup_tag_offsets) {
    store_t *st = open_store();
    uint64_t base = clock_now_ms() / 60000 * 60000 - 3600000;
    put_tag_buckets(st, 0x7a, base);
    store_close(st);
    drop_tag_at();
    testdb_exec(&the_db, "UPDATE fa_meta SET value = 2 WHERE key = 'schema'");
    st = open_store();
    cr_assert_eq(scalar("SELECT value FROM fa_meta WHERE key = 'schema'"), 3);
    cr_assert_eq(scalar("SELECT count(*) FROM rollup_1s WHERE tag_at IS NULL"), TAG_BUCKETS, "old rows stay");
    put_tag_buckets(st, 0x7b, base);
    cr_assert_eq(scalar("SELECT count(*) FROM rollup_1m WHERE tag_at IS NOT NULL"), TAG_BUCKETS - 1,
                 "new ones get it");
    store_reader_t *r = store_reader_acquire(st, NULL);
    for (uint64_t sid = 0x7a; sid <= 0x7b; sid++) {
        tag_rows_t five = {.tag = 5};
        cr_assert_eq(store_read_series(r, STORE_10S, sid, base, base + 60000, 5, collect_tag, &five),
                     STORE_OK, "%s", store_reader_error(r));
        cr_assert_eq(five.n, TAG_BUCKETS);
        cr_assert_eq(five.found, 0x3f & ~(1 << 3) & ~(1 << 4));
        cr_assert_eq(five.row[1].max, UINT64_MAX - 1);
    }
    store_reader_release(st, r);
    store_close(st);
}

PG_TEST(a_newer_schema_is_refused_clearly) {
    store_close(open_store());
    testdb_exec(&the_db, "UPDATE fa_meta SET value = 99 WHERE key = 'schema'");
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "schema 99") && strstr(err, "newer"), "%s", err);
}

PG_TEST(an_unreachable_server_is_refused_clearly_without_its_password) {
    store_t *st;
    char err[1024];
    const char *uri = "postgresql://fa:s3cret@/nothere?host=/nonexistent-dir&password=s3cret2";
    cr_assert_eq(store_open(&st, uri, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot connect") && strstr(err, "/nonexistent-dir"), "%s", err);
    cr_assert_null(strstr(err, "s3cret"), "the password is not shown: %s", err);
}

PG_TEST(a_role_that_may_not_write_is_refused_clearly) {
    store_close(open_store());
    char sql[400];
    testdb_admin_exec("DROP ROLE IF EXISTS fa_reader_t");
    testdb_admin_exec("CREATE ROLE fa_reader_t LOGIN");
    snprintf(sql, sizeof sql, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO fa_reader_t");
    testdb_exec(&the_db, sql);
    char uri[1200];
    /* the same database as another user */
    const char *at = strstr(db, "@");
    cr_assert_not_null(at);
    snprintf(uri, sizeof uri, "postgresql://fa_reader_t%s", at);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, uri, 1, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "not writable") || strstr(err, "permission denied"), "%s", err);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", the_db.name);
    testdb_admin_exec(sql);
    the_db.name[0] = '\0';
    testdb_admin_exec("DROP ROLE fa_reader_t");
}

PG_TEST(retention_drops_whole_partitions_and_trims_the_one_the_horizon_cuts) {
    store_keep_t keep = {.raw = 3600000,
                         .second = 86400000,
                         .ten_sec = 7 * 86400000ull,
                         .minute = 30 * 86400000ull,
                         .session = 30 * 86400000ull};
    store_t *st = open_store_keep(&keep); /* frames: 5-minute partitions */
    uint64_t now = clock_now_ms(), horizon = now - keep.raw;
    cr_assert_eq(store_begin(st), STORE_OK);
    for (uint64_t i = 0; i < 120; i++) /* one a minute, two hours back */
        put_frame(st, 5, now - i * 60000, i);
    cr_assert_eq(store_commit(st), STORE_OK);
    int64_t partitions = scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'frames'::regclass");
    cr_assert_geq(partitions, 24, "two hours of 5-minute partitions");
    bool more = true;
    int64_t total = 0;
    for (int steps = 0; more && steps < 100; steps++) {
        int64_t n = store_prune(st, &keep, now, 1000, &more);
        cr_assert_geq(n, 0, "%s", store_error(st));
        total += n;
    }
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM frames WHERE t_ms < %llu", (unsigned long long)horizon);
    cr_assert_eq(scalar(sql), 0, "nothing older than the horizon");
    snprintf(sql, sizeof sql, "SELECT count(*) FROM frames WHERE t_ms >= %llu", (unsigned long long)horizon);
    int64_t kept = scalar(sql);
    cr_assert_eq(kept + total, 120, "every row kept or counted as deleted");
    cr_assert(kept >= 59 && kept <= 61, "an hour of rows kept: %lld", (long long)kept);
    cr_assert_lt(scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'frames'::regclass"),
                 partitions - 10, "whole partitions were dropped");
    store_close(st);
}

PG_TEST(a_record_the_server_refuses_fails_its_batch_once_then_is_skipped) {
    store_t *st = open_store();
    testdb_exec(&the_db, "ALTER TABLE sessions ADD CONSTRAINT no_evil CHECK (app <> 'evil')");
    testdb_exec(&the_db, "ALTER TABLE frames ADD CONSTRAINT no_13 CHECK (frame <> 13)");
    session_info_t evil = {.id = 0x66, .last_seen_ms = 5, .live = true};
    strcpy(evil.app, "evil");
    store_frame_t frames[20];
    static const uint8_t blob[] = {PACK_FRAME_VERSION};
    uint64_t now = clock_now_ms();
    for (int i = 0; i < 20; i++)
        frames[i] = (store_frame_t){7, now + (uint64_t)i, (uint64_t)i + 1, 1, blob, 1};
    size_t rejected = 0;
    /* first try: the batch fails, as any write failure */
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 0x65, 5, false);
    cr_assert_eq(store_put_session(st, &evil), STORE_RETRY);
    cr_assert(strstr(store_error(st), "no_evil"), "%s", store_error(st));
    store_rollback(st);
    /* the retry: the refused record is skipped, the rest is stored */
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 0x65, 5, false);
    cr_assert_eq(store_put_session(st, &evil), STORE_REJECTED);
    cr_assert_eq(store_put_frames(st, frames, 20, &rejected), STORE_RETRY, "frame 13 refused");
    store_rollback(st);
    cr_assert_eq(store_begin(st), STORE_OK);
    put_session(st, 0x65, 5, false);
    cr_assert_eq(store_put_session(st, &evil), STORE_REJECTED);
    cr_assert_eq(store_put_frames(st, frames, 20, &rejected), STORE_OK, "%s", store_error(st));
    cr_assert_eq(rejected, 1);
    cr_assert_eq(store_commit(st), STORE_OK);
    cr_assert_eq(count("sessions"), 1);
    cr_assert_eq(count("frames"), 19);
    /* Tags go in one statement at the commit: a refused one fails the
     * batch; the retry goes row by row and finds it; the next skips it. */
    testdb_exec(&the_db, "ALTER TABLE tags ADD CONSTRAINT no_evil_tag CHECK (path <> 'evil')");
    tag_info_t good = {.id = 1, .path = "physics", .defined = true}, bad = {.id = 2, .path = "evil"};
    int attempts = 0, rc = STORE_RETRY;
    while (rc == STORE_RETRY && attempts < 5) {
        attempts++;
        cr_assert_eq(store_begin(st), STORE_OK);
        rc = store_put_tag(st, 0x65, &good);
        int evil_rc = rc == STORE_OK ? store_put_tag(st, 0x65, &bad) : rc;
        if (evil_rc == STORE_RETRY)
            rc = STORE_RETRY;
        else
            rc = store_commit(st);
        if (rc == STORE_RETRY) store_rollback(st);
    }
    cr_assert_eq(rc, STORE_OK, "%s", store_error(st));
    cr_assert_eq(attempts, 3, "batched, then row by row (found), then skipped");
    cr_assert_eq(count("tags"), 1, "the good tag is stored");
    store_close(st);
}

PG_TEST(a_lost_connection_is_retried_then_opened_again) {
    store_t *st = open_store();
    PGconn *c = store_pg_handle(st);
    char sql[100];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)", PQbackendPID(c));
    testdb_exec(&the_db, sql);
    int rc = store_begin(st);
    if (rc == STORE_OK) rc = store_put_counters(st, 1, &(store_counters_t){0});
    if (rc == STORE_OK) rc = store_commit(st);
    cr_assert_eq(rc, STORE_RETRY, "the write fails while the connection is gone");
    store_rollback(st);
    cr_assert_eq(store_begin(st), STORE_OK, "opened again: %s", store_error(st));
    put_session(st, 0x31, 10, true);
    cr_assert_eq(store_commit(st), STORE_OK);
    cr_assert_eq(count("sessions"), 1);
    store_close(st);
}

PG_TEST(daemons_get_alert_ids_of_their_own_and_end_the_sessions_of_lost_ones) {
    store_t *a = open_store(), *b = open_store();
    int64_t alert_a, alert_b;
    cr_assert_eq(store_load(a, 0, no_view, NULL, NULL, &alert_a), 0);
    cr_assert_eq(store_load(b, 0, no_view, NULL, NULL, &alert_b), 0);
    cr_assert_neq(alert_a >> 32, alert_b >> 32, "disjoint ranges");
    cr_assert_lt(alert_b + (1ll << 32), 1ll << 53, "alert ids stay exact in JSON");
    cr_assert_eq(store_begin(a), STORE_OK);
    put_session(a, 0x41, 9000, false);
    alert_row_t al = {.id = alert_a, .session_id = 0x41, .tag_id = 1, .level = "warning", .raised_ms = 8000};
    strcpy(al.path, "physics");
    cr_assert_eq(store_put_alert(a, &al), STORE_OK);
    cr_assert_eq(store_commit(a), STORE_OK);
    /* b sees a's live session as live elsewhere */
    store_reader_t *r = store_reader_acquire(b, NULL);
    uint64_t n = 0;
    cr_assert_eq(store_count_elsewhere(r, &n), STORE_OK);
    cr_assert_eq(n, 1);
    store_reader_release(b, r);
    /* b is alive: a third daemon starting leaves its sessions alone */
    cr_assert_eq(store_begin(b), STORE_OK);
    put_session(b, 0x42, 9000, false);
    cr_assert_eq(store_commit(b), STORE_OK);
    store_close(a); /* gone without ending 0x41 (as a kill -9 would) */
    store_t *c = open_store();
    int64_t alert_c;
    cr_assert_eq(store_load(c, 0, no_view, NULL, NULL, &alert_c), 0);
    cr_assert_eq(scalar("SELECT count(*) FROM sessions WHERE id = 65 AND end_reason = 'daemon_restart'"
                        " AND ended_ms = 9000"),
                 1, "the lost daemon's session ended");
    cr_assert_eq(scalar("SELECT count(*) FROM alerts WHERE clear_reason = 'daemon_restart'"), 1,
                 "and its alert");
    cr_assert_eq(scalar("SELECT count(*) FROM sessions WHERE id = 66 AND ended_ms IS NULL"), 1,
                 "the live daemon's session stays live");
    store_close(b);
    store_close(c);
}

PG_TEST(per_session_queries_use_their_indexes) {
    store_t *st = open_store();
    unsigned long long now = clock_now_ms(); /* partitions exist around now */
    char queries[4][300];
    snprintf(
        queries[0], sizeof queries[0],
        "SELECT t_ms FROM frames WHERE session_id = 1 AND t_ms >= %llu AND t_ms <= %llu ORDER BY t_ms DESC"
        " LIMIT 5",
        now - 60000, now);
    snprintf(
        queries[1], sizeof queries[1],
        "SELECT t_ms FROM rollup_10s WHERE session_id = 1 AND t_ms >= %llu AND t_ms <= %llu ORDER BY t_ms",
        now - 60000, now);
    snprintf(queries[2], sizeof queries[2],
             "SELECT id FROM alerts WHERE session_id = 1 AND raised_ms <= 9 ORDER BY raised_ms DESC, id DESC "
             "LIMIT 7");
    snprintf(
        queries[3], sizeof queries[3],
        "SELECT id FROM findings WHERE session_id = 1 AND t_ms >= %llu ORDER BY t_ms DESC, id DESC LIMIT 7",
        now - 60000);
    PGconn *c = PQconnectdb(db);
    PQclear(PQexec(c, "SET enable_seqscan = off"));
    for (size_t i = 0; i < 4; i++) {
        char sql[320];
        snprintf(sql, sizeof sql, "EXPLAIN %.300s", queries[i]);
        PGresult *res = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
        bool index = false, scanned = false;
        for (int row = 0; row < PQntuples(res); row++) {
            if (strstr(PQgetvalue(res, row, 0), "Index")) index = true;
            if (strstr(PQgetvalue(res, row, 0), "Scan")) scanned = true;
        }
        cr_assert(index && scanned, "%s walks an index", queries[i]);
        PQclear(res);
    }
    PQfinish(c);
    store_close(st);
}

/* ---- the fleet view's arithmetic ------------------------------------------------------ */

Test(fleet, percentiles_interpolate_between_the_nearest_ranks) {
    double v[] = {10, 20, 30, 40};
    cr_assert_float_eq(fleetagg_percentile(v, 4, 0.5), 25, 1e-9);
    cr_assert_float_eq(fleetagg_percentile(v, 4, 0.95), 38.5, 1e-9);
    cr_assert_float_eq(fleetagg_percentile(v, 4, 1.0), 40, 1e-9);
    cr_assert_float_eq(fleetagg_percentile(v, 1, 0.95), 10, 1e-9);
    cr_assert_float_eq(fleetagg_percentile(v, 0, 0.5), 0, 1e-9);
}

/* Rows come in whatever order a store's scan yields them: 300 sessions
 * (tags first for some, their session after: those are left out), 2 apps
 * x 3 builds x 4 paths, shuffled; every group's figures as if sorted. */
typedef struct agg_seen {
    int groups, builds;
    char last[200];
    bool ordered;
    uint64_t sessions[32], peak_max[32], worst[32], build_sessions;
} agg_seen_t;

static int agg_group(void *ud, const store_fleet_group_t *g) {
    agg_seen_t *f = ud;
    char key[200];
    snprintf(key, sizeof key, "%s\x01%s\x01%s", g->app, g->build, g->path);
    if (f->groups && strcmp(f->last, key) >= 0) f->ordered = false;
    snprintf(f->last, sizeof f->last, "%s", key);
    cr_assert_lt(f->groups, 32);
    f->sessions[f->groups] = g->sessions;
    f->peak_max[f->groups] = (uint64_t)g->peak[2];
    f->worst[f->groups] = g->worst_count ? g->worst[0].session_id : 0;
    f->groups++;
    return 0;
}

static int agg_build(void *ud, const store_fleet_build_t *b) {
    agg_seen_t *f = ud;
    f->builds++;
    f->build_sessions += b->sessions;
    cr_assert_eq(b->hosts, 5, "%s/%s: %llu hosts", b->app, b->build, (unsigned long long)b->hosts);
    return 0;
}

Test(fleet, rows_in_any_order_give_the_figures_of_sorted_ones) {
    agg_seen_t f = {.ordered = true};
    fleetagg_t *a = fleetagg_create(&(store_fleet_sink_t){agg_build, agg_group, &f});
    cr_assert_not_null(a);
    static const char *const apps[] = {"zeta", "alpha"}, *const builds[] = {"3.0", "1.0", "2.0"},
                             *const paths[] = {"render", "physics/contacts", "audio", "physics"};
    enum { SESSIONS = 300 };
    uint32_t order[SESSIONS * 4];
    for (uint32_t i = 0; i < SESSIONS * 4; i++)
        order[i] = i;
    uint64_t seed = 12345;
    for (uint32_t i = SESSIONS * 4 - 1; i > 0; i--) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t j = (uint32_t)(seed >> 33) % (i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    char host[16];
    for (uint32_t s = 0; s < SESSIONS; s++) {
        if (s % 50 == 7) continue; /* its rows come before it, below */
        snprintf(host, sizeof host, "h%u", s % 5);
        fleetagg_session_t x = {0x1000 + s, 1000 + s, s % 2 == 0, apps[s % 2], builds[s % 3], host};
        cr_assert_eq(fleetagg_add_session(a, &x), 0);
    }
    for (uint32_t k = 0; k < SESSIONS * 4; k++) {
        uint32_t s = order[k] / 4, t = order[k] % 4;
        fleetagg_tag_t x = {0x1000 + s, paths[t], 0, 100 * (uint64_t)s + t, 10, 1};
        cr_assert_eq(fleetagg_add_tag(a, &x), 0);
    }
    for (uint32_t s = 7; s < SESSIONS; s += 50) { /* too late: left out */
        fleetagg_session_t x = {0x1000 + s, 1000 + s, false, apps[s % 2], builds[s % 3], "late"};
        cr_assert_eq(fleetagg_add_session(a, &x), 0);
    }
    cr_assert_eq(fleetagg_finish(a), 0);
    cr_assert_not(fleetagg_failed(a));
    fleetagg_destroy(a);
    cr_assert_eq(f.groups, 2 * 3 * 4);
    cr_assert(f.ordered, "groups in (app, build, path) byte order");
    cr_assert_eq(f.builds, 6);
    cr_assert_eq(f.build_sessions, SESSIONS - SESSIONS / 50);
    /* the first group: alpha (odd sessions) / 1.0 (s % 3 == 1) / audio */
    uint64_t n = 0, max = 0;
    for (uint32_t s = 0; s < SESSIONS; s++)
        if (s % 2 == 1 && s % 3 == 1 && s % 50 != 7) {
            n++;
            max = 100 * (uint64_t)s + 2;
        }
    cr_assert_eq(f.sessions[0], n);
    cr_assert_eq(f.peak_max[0], max);
    cr_assert_eq(f.worst[0], 0x1000 + (max - 2) / 100, "the worst: the highest peak without a budget");
}

STORE_TEST(store, the_fleet_document_has_spreads_budgets_and_the_worst_sessions) {
    store_t *st = open_store();
    cr_assert_eq(store_begin(st), STORE_OK);
    /* build b1: five sessions of physics (budget 1000) peaking 600..1400 */
    for (uint64_t i = 0; i < 5; i++) {
        put_game(st, 0x100 + i, "game", "b1", i % 2 ? "h1" : "h2", 10000 + i);
        put_tag_figures(st, 0x100 + i, 1, "physics", 1000, 600 + 200 * i, (500 + 100 * i) * 4, 4);
    }
    put_game(st, 0x200, "game", "b0", "h1", 9000); /* an older build */
    put_tag_figures(st, 0x200, 1, "physics", 1000, 100, 100, 1);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_reader_t *r = store_reader_acquire(st, NULL);
    query_result_t res = {0};
    store_fleet_query_t q = {"game", "", "", 0};
    fleet_query(r, &q, 20000, 1 << 20, &res);
    store_reader_release(st, r);
    cr_assert_eq(res.status, 200, "%s", res.message);
    cJSON *doc = cJSON_Parse(res.body);
    free(res.body);
    cr_assert_eq(cJSON_GetObjectItem(doc, "sessions")->valuedouble, 6);
    cJSON *builds = cJSON_GetObjectItem(doc, "builds");
    cr_assert_eq(cJSON_GetArraySize(builds), 2);
    cJSON *b1 = cJSON_GetArrayItem(builds, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(b1, "build")->valuestring, "b1", "the most recent build first");
    cr_assert_eq(cJSON_GetObjectItem(b1, "sessions")->valuedouble, 5);
    cr_assert_eq(cJSON_GetObjectItem(b1, "hosts")->valuedouble, 2);
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(b1, "tags"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(t, "tag")->valuestring, "physics");
    cJSON *peak = cJSON_GetObjectItem(t, "peak"), *avg = cJSON_GetObjectItem(t, "avg");
    cr_assert_eq(cJSON_GetObjectItem(peak, "p50")->valuedouble, 1000);
    cr_assert_eq(cJSON_GetObjectItem(peak, "p95")->valuedouble, 1360, "1200 + 0.8 x 200");
    cr_assert_eq(cJSON_GetObjectItem(peak, "max")->valuedouble, 1400);
    cr_assert_eq(cJSON_GetObjectItem(avg, "p50")->valuedouble, 700);
    cr_assert_eq(cJSON_GetObjectItem(avg, "p95")->valuedouble, 880);
    cr_assert_eq(cJSON_GetObjectItem(t, "over_budget")->valuedouble, 2,
                 "1200 and 1400 > 1000; 1000 is not over");
    cr_assert_str_eq(cJSON_GetObjectItem(t, "state")->valuestring, "critical");
    cJSON *worst = cJSON_GetObjectItem(t, "worst");
    cr_assert_eq(cJSON_GetArraySize(worst), STORE_FLEET_WORST);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(worst, 0), "session")->valuestring,
                     "0000000000000104");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(worst, 0), "used_pct")->valuedouble, 140);
    cJSON *b0 = cJSON_GetArrayItem(builds, 1);
    cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(b0, "tags"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(t0, "state")->valuestring, "ok");
    cJSON_Delete(doc);
    /* a fleet with nothing in it */
    r = store_reader_acquire(st, NULL);
    query_result_t none = {0};
    store_fleet_query_t nothing = {"no-such-app", "", "", 0};
    fleet_query(r, &nothing, 20000, 1 << 20, &none);
    store_reader_release(st, r);
    cr_assert_eq(none.status, 200, "%s", none.message);
    cr_assert(strstr(none.body, "\"sessions\":0") && strstr(none.body, "\"builds\":[]"), "%s", none.body);
    free(none.body);
    store_close(st);
}

static int count_series(void *ud, uint64_t t_ms, uint32_t frames, const uint8_t *blob, size_t len) {
    uint64_t *c = ud; /* c[0] rows, c[1] the last time, c[2] out of order */
    (void)frames, (void)blob, (void)len;
    if (c[0] && t_ms < c[1]) c[2]++;
    c[0]++;
    c[1] = t_ms;
    return 0;
}

/* Reading one tag (what a trend does) gives every bucket, with the same
 * figures of that tag as reading whole blobs, on both stores. */
STORE_TEST(store, a_series_read_for_one_tag_gives_its_figures_as_whole_blobs_do) {
    store_t *st = open_store();
    uint64_t base = clock_now_ms() / 60000 * 60000 - 3600000;
    put_tag_buckets(st, 0x78, base);
    store_reader_t *r = store_reader_acquire(st, NULL);
    for (int level = 0; level < STORE_LEVELS; level++) {
        uint64_t hi = base + TAG_BUCKETS * store_level_ms(level);
        static const int tags[] = {5, 1000, 0, 7};
        for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++) {
            tag_rows_t one = {.tag = (uint16_t)tags[i]}, whole = {.tag = (uint16_t)tags[i]};
            cr_assert_eq(store_read_series(r, level, 0x78, base, hi, tags[i], collect_tag, &one), STORE_OK,
                         "%s", store_reader_error(r));
            cr_assert_eq(store_read_series(r, level, 0x78, base, hi, -1, collect_tag, &whole), STORE_OK);
            cr_assert_eq(one.n, TAG_BUCKETS, "level %d tag %d: every bucket", level, tags[i]);
            cr_assert_eq(whole.n, TAG_BUCKETS);
            cr_assert_eq(one.found, whole.found, "level %d tag %d", level, tags[i]);
            for (int k = 0; k < TAG_BUCKETS; k++) {
                cr_assert_eq(one.t[k], whole.t[k]);
                cr_assert_eq(one.frames[k], (uint64_t)k + 1);
                cr_assert(!memcmp(&one.row[k], &whole.row[k], sizeof one.row[k]), "level %d tag %d bucket %d",
                          level, tags[i], k);
            }
        }
        tag_rows_t five = {.tag = 5};
        cr_assert_eq(store_read_series(r, level, 0x78, base, hi, 5, collect_tag, &five), STORE_OK);
        cr_assert_eq(five.found, 0x3f & ~(1 << 3) & ~(1 << 4), "tag 5 is in every bucket but 3 and 4");
        cr_assert_eq(five.row[5].max, UINT64_MAX - 5);
        cr_assert_eq(five.row[2].avg, 2 + (1ull << 33));
        /* a window of more than 50 000 buckets: PostgreSQL reads it through a cursor */
        tag_rows_t far = {.tag = 5};
        uint64_t beyond = base + 60000 * store_level_ms(level);
        cr_assert_eq(store_read_series(r, level, 0x78, base, beyond, 5, collect_tag, &far), STORE_OK, "%s",
                     store_reader_error(r));
        cr_assert_eq(far.n, TAG_BUCKETS);
        cr_assert_eq(far.found, five.found);
        cr_assert(!memcmp(far.row, five.row, sizeof far.row));
        cr_assert(!memcmp(far.len, five.len, sizeof far.len));
    }
    store_reader_release(st, r);
    store_close(st);
}

/* On PostgreSQL a one-tag read ships that tag's figures, not every tag of
 * every bucket (the per-second trend over an hour was 3.8 MB through the
 * protocol, 2-5x SQLite's time). */
PG_TEST(a_series_read_for_one_tag_ships_only_its_figures) {
    store_t *st = open_store();
    uint64_t base = clock_now_ms() / 60000 * 60000 - 3600000;
    put_tag_buckets(st, 0x79, base);
    cr_assert_eq(scalar("SELECT count(*) FROM rollup_1s WHERE tag_at IS NULL"), 1, "only the sparse bucket");
    store_reader_t *r = store_reader_acquire(st, NULL);
    tag_rows_t one = {.tag = 1}, whole = {.tag = 1};
    cr_assert_eq(store_read_series(r, STORE_SECOND, 0x79, base, base + 10000, 1, collect_tag, &one),
                 STORE_OK);
    cr_assert_eq(store_read_series(r, STORE_SECOND, 0x79, base, base + 10000, -1, collect_tag, &whole),
                 STORE_OK);
    for (int k = 0; k < TAG_BUCKETS; k++) {
        if (k == 4) {
            cr_assert_eq(one.len[k], whole.len[k], "the sparse bucket comes whole");
            continue;
        }
        cr_assert_leq(one.len[k], 12, "bucket %d: %zu bytes for one tag (a blob of its row alone)", k,
                      one.len[k]);
        cr_assert_gt(whole.len[k], 20, "bucket %d: %zu bytes whole", k, whole.len[k]);
    }
    store_reader_release(st, r);
    store_close(st);
}

/* The PostgreSQL store reads raw frames in pages; three frames share each
 * millisecond, so a page boundary falls inside a millisecond. */
STORE_TEST(store, a_series_of_raw_frames_comes_whole_across_pages) {
    store_t *st = open_store();
    uint64_t base = clock_now_ms() - 60000;
    cr_assert_eq(store_begin(st), STORE_OK);
    for (uint64_t i = 0; i < 12001; i++)
        put_frame(st, 0x77, base + i / 3, i + 1);
    cr_assert_eq(store_commit(st), STORE_OK);
    store_reader_t *r = store_reader_acquire(st, NULL);
    uint64_t c[3] = {0};
    cr_assert_eq(store_read_series(r, -1, 0x77, base, base + 5000, -1, count_series, c), STORE_OK, "%s",
                 store_reader_error(r));
    cr_assert_eq(c[0], 12001, "every frame once");
    cr_assert_eq(c[2], 0, "in time order");
    memset(c, 0, sizeof c);
    cr_assert_eq(store_read_series(r, -1, 0x77, base + 1000, base + 2000, -1, count_series, c), STORE_OK);
    cr_assert_eq(c[0], 3003, "a range: its bounds included");
    store_reader_release(st, r);
    store_close(st);
}
