/* test_store.c — schema and migrations, batched writes, retention, crash
 * recovery, and the read queries on their own connections. */
#include "helpers.h"

#include <sys/stat.h>

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

static int pragma_int(sqlite3 *h, const char *sql) {
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK);
    cr_assert(sqlite3_step(q) == SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

static int count(sqlite3 *h, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return pragma_int(h, sql);
}

Test(store, a_new_database_gets_the_current_schema_in_wal_mode) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pragma_int(store_db(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(store_db(st), "PRAGMA journal_mode", -1, &q, NULL);
    sqlite3_step(q);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    store_close(st);
    /* reopening does not migrate again and keeps the data */
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pragma_int(store_db(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    store_close(st);
}

Test(store, an_older_schema_is_migrated_in_place) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    uint8_t blob[] = {1};
    store_insert_frame(st, 3, 1, 1, 1, blob, 1);
    store_close(st);
    /* make it a schema-1 database again */
    sqlite3 *h;
    sqlite3_open(db, &h);
    cr_assert_eq(sqlite3_exec(h, "DROP TABLE rollup_10s; PRAGMA user_version = 1;", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(h);
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    cr_assert_eq(pragma_int(store_db(st), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    cr_assert_eq(count(store_db(st), "rollup_10s"), 0, "the new table exists");
    cr_assert_eq(count(store_db(st), "frames"), 1, "the data stayed");
    store_close(st);
}

Test(store, a_newer_schema_is_refused_clearly) {
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(h);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), -1);
    cr_assert(strstr(err, "schema 99") && strstr(err, "newer"), "%s", err);
}

Test(store, a_file_that_is_not_a_database_is_refused) {
    FILE *f = fopen(db, "w");
    for (int i = 0; i < 1000; i++)
        fputs("not a database ", f);
    fclose(f);
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), -1);
    cr_assert(strstr(err, db), "%s", err);
}

Test(store, a_read_only_file_is_refused_clearly) {
    if (geteuid() == 0) cr_skip_test("root writes read-only files (the integration test runs it as nobody)");
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    store_close(st);
    chmod(db, 0444);
    cr_assert_eq(store_open(&st, db, err, sizeof err), -1);
    cr_assert(strstr(err, "read-only"), "%s", err);
}

Test(store, writes_are_batched_and_invisible_until_commit) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    query_pool_t *pool;
    cr_assert_eq(query_pool_open(&pool, db, 2, err, sizeof err), 0, "%s", err);
    uint8_t blob[] = {PACK_FRAME_VERSION};
    for (int i = 0; i < 10; i++)
        cr_assert_eq(store_insert_frame(st, 7, 1000 + (uint64_t)i, (uint64_t)i, 5, blob, 1), 0);
    cr_assert_eq(store_rows_in_txn(st), 10);
    cr_assert_eq(g_stats.frames_uncommitted, 10);
    sqlite3 *r = query_acquire(pool);
    cr_assert_eq(count(r, "frames"), 0, "a reader does not see the open batch");
    cr_assert_eq(store_commit(st), 0);
    cr_assert_eq(count(r, "frames"), 10);
    query_release(pool, r);
    cr_assert_eq(g_stats.frames_stored, 10);
    cr_assert_eq(g_stats.frames_uncommitted, 0);
    cr_assert_eq(g_stats.commits, 1);
    cr_assert_eq(store_commit(st), 0, "nothing to commit is fine");
    cr_assert_eq(g_stats.commits, 1);
    query_pool_close(pool);
    store_close(st);
}

Test(store, retention_deletes_old_rows_in_bounded_steps) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    session_t *s = calloc(1, sizeof *s);
    s->id = 9;
    s->frames = 1;
    s->first_ms = 0;
    store_save_session(st, s);
    uint8_t blob[] = {1};
    for (uint64_t t = 0; t < 100; t++) {
        store_insert_frame(st, 9, t * 1000, t, 1, blob, 1);
        store_insert_rollup(st, ROLLUP_SECOND, 9, t * 1000, 1, blob, 1);
        store_insert_rollup(st, ROLLUP_10S, 9, t * 1000, 1, blob, 1);
        store_insert_rollup(st, ROLLUP_MINUTE, 9, t * 1000, 1, blob, 1);
    }
    store_commit(st);
    /* now = 100 s: raw keeps 50 s, per-second 80 s, 10 s 90 s, per-minute everything */
    store_keep_t keep = {.raw = 50000, .second = 80000, .ten_sec = 90000, .minute = 1000000};
    cr_assert_eq(store_retention(st, 100000, &keep, 30), 30);
    int64_t n;
    while ((n = store_retention(st, 100000, &keep, 30)) > 0) {
    }
    cr_assert_eq(n, 0);
    store_commit(st);
    cr_assert_eq(count(store_db(st), "frames"), 50, "frames at t >= 50 s stay");
    cr_assert_eq(count(store_db(st), "rollup_1s"), 80);
    cr_assert_eq(count(store_db(st), "rollup_10s"), 90);
    cr_assert_eq(count(store_db(st), "rollup_1m"), 100);
    cr_assert_eq(g_stats.retention_deleted, 50 + 20 + 10);
    free(s);
    store_close(st);
}

static int loaded_sessions, loaded_tags;
static session_t loaded;
static void on_session(void *ud, const session_t *s) {
    (void)ud;
    loaded_sessions++;
    loaded = *s;
}
static void on_tag(void *ud, uint64_t sid, const tag_t *t) {
    (void)ud;
    cr_assert_eq(sid, 0xabcull);
    cr_assert(t->id != 1 || (!strcmp(t->path, "physics") && t->budget_hard == 500));
    loaded_tags++;
}

Test(store, a_crash_leaves_sessions_and_alerts_closed_at_the_next_start) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    session_t *s = calloc(1, sizeof *s);
    s->id = 0xabc;
    strcpy(s->app, "game");
    s->have_hello = true;
    s->frames = 10;
    s->first_ms = 1000;
    s->last_ms = 2000;
    store_save_session(st, s);
    tag_t t = {.id = 1, .path = "physics", .defined = true, .budget_hard = 500, .live_bytes = 450};
    store_save_tag(st, s->id, &t);
    alert_state_t a = {.level = ALERT_WARNING,
                       .episode_level = ALERT_WARNING,
                       .raised_ms = 1500,
                       .raised_bytes = 400,
                       .peak_bytes = 450,
                       .budget_hard = 500};
    store_save_alert(st, s->id, &t, &a, 0, NULL);
    cr_assert_gt(a.id, 0);
    store_commit(st);
    store_close(st); /* as good as a crash: nothing marked them closed */
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_load(st, 100, on_session, on_tag, NULL), 0);
    cr_assert_eq(loaded_sessions, 1);
    cr_assert_eq(loaded_tags, 1);
    cr_assert_str_eq(loaded.app, "game");
    cr_assert_eq(loaded.ended_ms, 2000);
    cr_assert_str_eq(loaded.end_reason, "daemon_restart");
    sqlite3_stmt *q;
    sqlite3_prepare_v2(store_db(st), "SELECT cleared_ms, clear_reason, level FROM alerts", -1, &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int64(q, 0), 2000);
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 1), "daemon_restart");
    cr_assert_str_eq((const char *)sqlite3_column_text(q, 2), "warning");
    sqlite3_finalize(q);
    free(s);
    store_close(st);
}

Test(store, trend_reads_rollups_and_the_uncovered_tail_from_raw_frames) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    /* 10 per-second rollups of tag 5 (values 10..19), then 50 raw frames */
    for (uint64_t s = 0; s < 10; s++) {
        pack_rollup_row_t r = {5, 10 + s, 10 + s, 10 + s, 10 + s};
        uint8_t blob[64];
        size_t len = pack_rollup(&r, 1, blob, sizeof blob);
        store_insert_rollup(st, ROLLUP_SECOND, 1, 100000 + s * 1000, 60, blob, len);
    }
    fa_proto_tag_stat_t row = {5, 0, 0, 0, 0, 0, 0};
    for (uint64_t i = 0; i < 50; i++) {
        fa_proto_frame_t f;
        memset(&f, 0, sizeof f);
        row.live_bytes = 1000 + i;
        f.tags = &row;
        f.tag_count = 1;
        uint8_t blob[256];
        size_t len = pack_frame(&f, blob, sizeof blob);
        store_insert_frame(st, 1, 110000 + i * 10, i, 1, blob, len);
    }
    store_commit(st);
    query_pool_t *pool;
    cr_assert_eq(query_pool_open(&pool, db, 1, err, sizeof err), 0);
    sqlite3 *r = query_acquire(pool);
    query_result_t res = {0};
    cJSON *raw = query_trend(r, 1, 5, 110490, 20000, 10, &res);
    cr_assert_not_null(raw, "%s", res.message);
    char *text = cJSON_PrintUnformatted(raw); /* integers are raw nodes until printed */
    cJSON_Delete(raw);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "source")->valuestring, "1s");
    cJSON *series = cJSON_GetObjectItem(doc, "series");
    int n = cJSON_GetArraySize(series);
    cr_assert_geq(n, 5);
    cJSON *last = cJSON_GetArrayItem(series, n - 1);
    cr_assert_eq(cJSON_GetObjectItem(last, "last")->valuedouble, 1049, "the raw tail is included");
    cr_assert_eq(cJSON_GetObjectItem(last, "max")->valuedouble, 1049);
    cJSON *first = cJSON_GetArrayItem(series, 0);
    cr_assert_eq(cJSON_GetObjectItem(first, "min")->valuedouble, 10);
    cJSON_Delete(doc);
    query_release(pool, r);
    query_pool_close(pool);
    store_close(st);
}

Test(store, the_wal_is_checkpointed_off_the_writer_and_rewound_when_big) {
    store_t *st;
    char err[512];
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    store_set_wal_reset_pages(st, 100);
    static uint8_t blob[2000];
    blob[0] = PACK_FRAME_VERSION;
    for (int i = 0; i < 1000; i++)
        store_insert_frame(st, 1, (uint64_t)i, (uint64_t)i, 1, blob, sizeof blob);
    cr_assert_eq(store_commit(st), 0);
    int wal = 0, copied = 0;
    cr_assert_eq(store_checkpoint(st, &wal, &copied), 0);
    cr_assert_gt(wal, 100, "the WAL holds the batch (%d pages)", wal);
    cr_assert_eq(wal, copied, "a passive checkpoint with nobody reading copies it all");
    cr_assert_eq(g_stats.wal_resets, 0);
    store_insert_frame(st, 1, 5000, 5000, 1, blob, sizeof blob);
    cr_assert_eq(store_commit(st), 0);
    cr_assert_eq(g_stats.wal_resets, 1, "the writer rewound the WAL after its commit");
    store_insert_frame(st, 1, 5001, 5001, 1, blob, sizeof blob);
    cr_assert_eq(store_commit(st), 0);
    cr_assert_eq(store_checkpoint(st, &wal, &copied), 0);
    cr_assert_lt(wal, 20, "the next transaction started at the beginning of the WAL (%d pages)", wal);
    store_close(st);
}
