/* SQLite through fa_sqlite: the tag's bytes are sqlite3_memory_used(),
 * budgets become SQLITE_NOMEM, shutdown gives everything back. Each test
 * runs in its own process, so SQLite starts uninitialised in each. */
#include "integ_test.h"

#include <stdio.h>

#include <fa_sqlite.h>
#include <pthread.h>
#include <sqlite3.h>

static int exec(sqlite3 *db, const char *sql) {
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void fill(sqlite3 *db, int rows) {
    cr_assert_eq(exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, name TEXT, blob BLOB)"),
                 SQLITE_OK);
    cr_assert_eq(exec(db, "BEGIN"), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO t(name, blob) VALUES(?, zeroblob(200))", -1, &st, NULL),
                 SQLITE_OK);
    for (int i = 0; i < rows; i++) {
        char name[32];
        snprintf(name, sizeof name, "row-%d", i);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    cr_assert_eq(exec(db, "COMMIT"), SQLITE_OK);
}

Test(sqlite, the_tags_bytes_are_sqlite3_memory_used_and_drop_to_zero_at_shutdown) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_sqlite_install(fa, "sqlite"), FA_OK);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    fill(db, 5000);
    uint64_t live = tag_heap(fa, "sqlite");
    cr_assert_gt(live, 1 << 20, "5000 rows of 200+ bytes: %llu", (unsigned long long)live);
    cr_assert_eq(live, (uint64_t)sqlite3_memory_used());
    cr_assert_gt(fa_sqlite_live_blocks(), 0);
    cr_assert_eq(fa_sqlite_uninstall(), FA_ERR_STATE, "refused while SQLite holds blocks");
    cr_assert_eq(exec(db, "DELETE FROM t WHERE id % 2 = 0"), SQLITE_OK, "SQLite still works");
    cr_assert_eq(tag_heap(fa, "sqlite"), (uint64_t)sqlite3_memory_used());
    sqlite3_close(db);
    sqlite3_shutdown();
    cr_assert_eq(sqlite3_memory_used(), 0);
    cr_assert_eq(tag_heap(fa, "sqlite"), 0);
    cr_assert_eq(fa_sqlite_live_blocks(), 0);
    cr_assert_eq(fa_sqlite_uninstall(), FA_OK);
    fa_destroy(fa);
}

Test(sqlite, install_is_refused_once_sqlite_is_initialised_and_twice) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_sqlite_install(fa, "sqlite"), FA_OK);
    cr_assert_eq(fa_sqlite_install(fa, "sqlite"), FA_ERR_STATE);
    cr_assert_eq(fa_sqlite_uninstall(), FA_OK);
    cr_assert_eq(fa_sqlite_uninstall(), FA_ERR_STATE, "nothing to uninstall");
    sqlite3_initialize();
    cr_assert_eq(fa_sqlite_install(fa, "sqlite"), FA_ERR_STATE);
    sqlite3_shutdown();
    cr_assert_eq(fa_sqlite_install(fa, "sqlite"), FA_OK, "after a shutdown it may be installed");
    sqlite3_shutdown();
    cr_assert_eq(fa_sqlite_uninstall(), FA_OK);
    fa_destroy(fa);
}

Test(sqlite, a_hard_budget_under_fail_is_sqlite_nomem) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "sqlite", 0, 2 << 20);
    fa_sqlite_install(fa, "sqlite");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    exec(db, "CREATE TABLE t(b BLOB)");
    int rc = SQLITE_OK;
    for (int i = 0; i < 100 && rc == SQLITE_OK; i++)
        rc = exec(db, "INSERT INTO t VALUES(zeroblob(100000))");
    cr_assert_eq(rc, SQLITE_NOMEM, "rc %d", rc);
    cr_assert_leq(tag_heap(fa, "sqlite"), 2 << 20);
    sqlite3_close(db);
    sqlite3_shutdown();
    cr_assert_eq(tag_heap(fa, "sqlite"), 0);
    cr_assert_eq(fa_sqlite_uninstall(), FA_OK);
    fa_destroy(fa);
}

static void *query_on_a_thread(void *db) {
    fill(db, 2000);
    return NULL;
}

Test(sqlite, a_connection_used_by_another_thread_counts_under_the_tag) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_sqlite_install(fa, "sqlite");
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    fa_tag_push(fa, "render");
    pthread_t th;
    pthread_create(&th, NULL, query_on_a_thread, db);
    pthread_join(th, NULL);
    fa_tag_pop(fa);
    cr_assert_eq(tag_heap(fa, "sqlite"), (uint64_t)sqlite3_memory_used());
    cr_assert_eq(tag_heap(fa, "render"), 0);
    sqlite3_close(db);
    sqlite3_shutdown();
    cr_assert_eq(tag_heap(fa, "sqlite"), 0);
    fa_sqlite_uninstall();
    fa_destroy(fa);
}
