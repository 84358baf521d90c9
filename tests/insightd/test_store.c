/* test_store.c — the SQLite store behind store.h: schema and migrations,
 * transactions, retention by time range, crash recovery, look-ups and the
 * read queries on their own connections. */
#include "helpers.h"

#include <sys/stat.h>

#include "query.h"

static char *dir;
static char db[512];

static void setup(void) {
    dir = tmp_dir();
    snprintf(db, sizeof db, "%s/t.db", dir);
}
static void teardown(void) {
    rm_tree(dir);
    free(dir);
}
TestSuite(store, .init = setup, .fini = teardown);

static sqlite3 *handle(store_t *st) {
    return store_sqlite_handle(st);
}

static int64_t scalar(sqlite3 *h, const char *sql) {
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
    cr_assert(sqlite3_step(q) == SQLITE_ROW);
    int64_t v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int count(sqlite3 *h, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return (int)scalar(h, sql);
}

static store_t *open_store(void) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 2, err, sizeof err), 0, "%s", err);
    return st;
}

static void put_frame(store_t *st, uint64_t sid, uint64_t t_ms, uint64_t frame) {
    static const uint8_t blob[] = {PACK_FRAME_VERSION};
    store_frame_t f = {sid, t_ms, frame, 1, blob, 1};
    size_t rejected;
    cr_assert_eq(store_put_frames(st, &f, 1, &rejected), STORE_OK);
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
    cr_assert_eq(store_put_session(st, &s), STORE_OK);
}

Test(store, a_new_database_gets_the_current_schema_in_wal_mode) {
    store_t *st = open_store();
    cr_assert_eq(scalar(handle(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(handle(st), "PRAGMA journal_mode", -1, &q, NULL);
    sqlite3_step(q);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    store_close(st);
    st = open_store(); /* reopening does not migrate again */
    cr_assert_eq(scalar(handle(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    store_close(st);
}

Test(store, an_older_schema_is_migrated_in_place) {
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
            "DROP TABLE sites; DROP TABLE rollup_10s; DROP INDEX sessions_by_activity; DROP INDEX "
            "frames_by_time;"
            "DROP INDEX rollup_1s_by_time; DROP INDEX rollup_1m_by_time; DROP INDEX findings_by_time;"
            "ALTER TABLE sessions DROP COLUMN last_seen_ms; ALTER TABLE sessions DROP COLUMN next_seq;"
            "ALTER TABLE sessions DROP COLUMN duplicates; ALTER TABLE sessions DROP COLUMN rows_rejected;"
            "ALTER TABLE sessions DROP COLUMN clock_skew_ms; PRAGMA user_version = 1;",
            NULL, NULL, NULL),
        SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    st = open_store();
    cr_assert_eq(scalar(handle(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    cr_assert_eq(count(handle(st), "rollup_10s"), 0, "the new table exists");
    cr_assert_eq(count(handle(st), "sites"), 0, "and the call sites' (schema 4)");
    cr_assert_eq(count(handle(st), "frames"), 1, "the data stayed");
    cr_assert_eq(scalar(handle(st), "SELECT last_seen_ms FROM sessions WHERE id = 3"), 5000,
                 "last activity from the stored times");
    store_close(st);
}

Test(store, a_newer_schema_is_refused_clearly) {
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "schema 99") && strstr(err, "newer"), "%s", err);
}

Test(store, a_file_that_is_not_a_database_is_refused) {
    FILE *f = fopen(db, "w");
    for (int i = 0; i < 1000; i++)
        fputs("not a database ", f);
    fclose(f);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, err, sizeof err), -1);
    cr_assert(strstr(err, db), "%s", err);
}

Test(store, a_read_only_file_is_refused_clearly) {
    if (geteuid() == 0) cr_skip_test("root writes read-only files (the integration test runs it as nobody)");
    store_close(open_store());
    chmod(db, 0444);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, err, sizeof err), -1);
    cr_assert(strstr(err, "read-only"), "%s", err);
}

static int count_frame(void *ud, const store_frame_t *row) {
    (void)row;
    (*(int *)ud)++;
    return 0;
}

Test(store, writes_are_batched_and_invisible_until_commit) {
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

Test(store, the_writer_looks_up_what_it_wrote_even_uncommitted) {
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

Test(store, retention_deletes_by_time_range_in_bounded_steps) {
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
    cr_assert_eq(count(handle(st), "frames"), 50, "frames at t >= 50 s stay");
    cr_assert_eq(count(handle(st), "rollup_1s"), 80);
    cr_assert_eq(count(handle(st), "rollup_10s"), 90);
    cr_assert_eq(count(handle(st), "rollup_1m"), 100);
    store_close(st);
}

Test(store, retention_prunes_ended_sessions_with_their_tags_alerts_and_findings) {
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
    cr_assert_eq(count(handle(st), "sessions"), 11,
                 "ended sessions past the horizon are gone, live ones stay");
    cr_assert_eq(count(handle(st), "tags"), 10);
    cr_assert_eq(count(handle(st), "alerts"), 10);
    cr_assert_eq(count(handle(st), "findings"), 10);
    cr_assert_eq(count(handle(st), "sites"), 10);
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

Test(store, alerts_of_a_session_and_retention_use_their_indexes) {
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

Test(store, alerts_page_both_ways_by_raise_time_then_id) {
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

Test(store, a_crash_leaves_sessions_and_alerts_closed_at_the_next_start) {
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
    cr_assert_eq(next_alert, 8, "alert ids go on after the largest stored");
    cr_assert_eq(loaded_sessions, 1);
    cr_assert_eq(loaded_tags, 1);
    cr_assert_str_eq(loaded.app, "game");
    cr_assert_not(loaded.live);
    cr_assert_eq(loaded.ended_ms, 2000);
    cr_assert_str_eq(loaded.end_reason, "daemon_restart");
    sqlite3_stmt *q;
    sqlite3_prepare_v2(handle(st), "SELECT cleared_ms, clear_reason, level FROM alerts", -1, &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(q, 0), 2000);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 1), "daemon_restart");
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 2), "warning");
    sqlite3_finalize(q);
    store_close(st);
}

Test(store, trend_reads_rollups_and_the_uncovered_tail_from_raw_frames) {
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

Test(store, a_cancelled_read_stops_with_its_reason) {
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

Test(store, a_replaced_or_deleted_file_is_noticed) {
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

Test(store, sites_are_replaced_by_id_and_read_by_their_ids) {
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
