/* testdb.h — the store a unit test runs against: a SQLite file in a
 * temporary directory, or a database of its own on a PostgreSQL server.
 *
 * FA_TEST_PG names that server with a URI its tests may create databases
 * through (postgresql://USER@/postgres?host=SOCKET_DIR); the test runners
 * start a throwaway server and set it (tests/insightd/pgserver.py). The
 * same test body runs on both stores: STORE_TEST(suite, name) defines
 * suite/name on SQLite and suite_pg/name on PostgreSQL; without
 * FA_TEST_PG the PostgreSQL ones are skipped and say why (make runs them
 * in a step of their own, where it is set). */
#ifndef INSIGHTD_TEST_DB_H
#define INSIGHTD_TEST_DB_H

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct testdb {
    bool pg;
    char dir[256];       /* SQLite: its directory */
    char location[1024]; /* what store_open takes */
    char name[64];       /* PostgreSQL: the database */
} testdb_t;

/* The admin URI with another database name. */
static inline void testdb_uri(const char *admin, const char *db, char *out, size_t cap) {
    const char *auth = strstr(admin, "://");
    auth = auth ? auth + 3 : admin;
    const char *path = strchr(auth, '/');
    const char *query = strchr(auth, '?');
    if (!path || (query && query < path)) path = query ? query : auth + strlen(auth);
    const char *rest = query ? query : "";
    snprintf(out, cap, "%.*s/%s%s", (int)(path - admin), admin, db, rest);
}

static inline PGconn *testdb_admin(void) {
    const char *admin = getenv("FA_TEST_PG");
    PGconn *c = PQconnectdb(admin);
    cr_assert(PQstatus(c) == CONNECTION_OK, "FA_TEST_PG %s: %s", admin, PQerrorMessage(c));
    return c;
}

static inline void testdb_admin_exec(const char *sql) {
    PGconn *c = testdb_admin();
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

static inline void testdb_create(testdb_t *t, bool pg) {
    static int counter;
    memset(t, 0, sizeof *t);
    t->pg = pg;
    if (!pg) {
        snprintf(t->dir, sizeof t->dir, "/tmp/insightd-test-XXXXXX");
        cr_assert(mkdtemp(t->dir) != NULL);
        snprintf(t->location, sizeof t->location, "%s/t.db", t->dir);
        return;
    }
    if (!getenv("FA_TEST_PG"))
        cr_skip_test(
            "no PostgreSQL server for this test: FA_TEST_PG is not set (make test-insightd-pg sets it)");
    snprintf(t->name, sizeof t->name, "fa_t_%d_%d", (int)getpid(), counter++);
    char sql[160];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s TEMPLATE template0", t->name);
    testdb_admin_exec(sql);
    testdb_uri(getenv("FA_TEST_PG"), t->name, t->location, sizeof t->location);
}

static inline void testdb_destroy(testdb_t *t) {
    if (!t->pg) {
        char cmd[400];
        if (!t->dir[0]) return;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
        cr_assert(system(cmd) == 0);
        return;
    }
    if (!t->name[0]) return;
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", t->name);
    testdb_admin_exec(sql);
}

/* One value of a query (an integer, or the bytes of the first column of
 * the first row), on a connection of its own. */
static inline int64_t testdb_query(const testdb_t *t, const char *sql, uint8_t *blob, size_t *len) {
    int64_t v = 0;
    if (t->pg) {
        PGconn *c = PQconnectdb(t->location);
        cr_assert(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, blob ? 1 : 0);
        ExecStatusType s = PQresultStatus(r);
        cr_assert(s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
        if (s == PGRES_TUPLES_OK) {
            cr_assert(PQntuples(r) >= 1, "%s: no row", sql);
            if (blob) {
                *len = (size_t)PQgetlength(r, 0, 0) < *len ? (size_t)PQgetlength(r, 0, 0) : *len;
                memcpy(blob, PQgetvalue(r, 0, 0), *len);
            } else {
                v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            }
        }
        PQclear(r);
        PQfinish(c);
        return v;
    }
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(t->location, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(h));
    int rc = sqlite3_step(q);
    cr_assert(rc == SQLITE_ROW || rc == SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(h));
    if (rc == SQLITE_ROW && blob) {
        size_t n = (size_t)sqlite3_column_bytes(q, 0);
        *len = n < *len ? n : *len;
        memcpy(blob, sqlite3_column_blob(q, 0), *len);
    } else if (rc == SQLITE_ROW) {
        v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

static inline int64_t testdb_scalar(const testdb_t *t, const char *sql) {
    return testdb_query(t, sql, NULL, NULL);
}

static inline void testdb_exec(const testdb_t *t, const char *sql) {
    (void)testdb_query(t, sql, NULL, NULL);
}

static inline int64_t testdb_count(const testdb_t *t, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    return testdb_scalar(t, sql);
}

/* A test body run on both stores; `the_db` is the suite's testdb_t and
 * setup/teardown its init and fini for a given kind. */
#define STORE_TEST(suite, name)                                                                              \
    static void suite##_##name##_body(void);                                                                 \
    Test(suite, name, .init = suite##_setup_sqlite, .fini = suite##_teardown) {                              \
        suite##_##name##_body();                                                                             \
    }                                                                                                        \
    Test(suite##_pg, name, .init = suite##_setup_pg, .fini = suite##_teardown) {                             \
        suite##_##name##_body();                                                                             \
    }                                                                                                        \
    static void suite##_##name##_body(void)

#endif
