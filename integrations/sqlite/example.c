/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_sqlite.h>
#include <sqlite3.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_sqlite_install(fa, "save/sqlite");             /* before any other sqlite3_ call */
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE TABLE inventory(item TEXT, count INT)", NULL, NULL, NULL);
    printf("save/sqlite = %lld bytes = sqlite3_memory_used()\n", (long long)sqlite3_memory_used());
    sqlite3_close(db);
    sqlite3_shutdown();
    fa_sqlite_uninstall();                            /* the tag is back to 0 */
    fa_destroy(fa);
}
