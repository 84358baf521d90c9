/* SQLite's sqlite3_mem_methods over framealloc's tagged heap blocks. */
#include "fa_sqlite.h"

#include "hook.h"

#include <sqlite3.h>

static fa__hook_t hook;
static sqlite3_mem_methods previous;

static void *mem_malloc(int n) {
    return n > 0 ? fa__hook_alloc(&hook, (size_t)n) : NULL;
}
static void mem_free(void *p) {
    fa__hook_free(&hook, p);
}
static void *mem_realloc(void *p, int n) {
    return n > 0 ? fa__hook_realloc(&hook, p, (size_t)n) : NULL;
}
static int mem_size(void *p) {
    return p ? (int)fa_block_size(atomic_load(&hook.fa), p) : 0;
}
/* SQLite asks for rounded sizes so that xSize reports what it asked for. */
static int mem_roundup(int n) {
    return n > INT32_MAX - 7 ? n : (n + 7) & ~7;
}
static int mem_init(void *unused) {
    (void)unused;
    return SQLITE_OK;
}
static void mem_shutdown(void *unused) {
    (void)unused;
}

int fa_sqlite_install(fa_alloc_t *fa, const char *tag_path) {
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    sqlite3_mem_methods methods = {mem_malloc,  mem_free, mem_realloc,  mem_size,
                                   mem_roundup, mem_init, mem_shutdown, NULL};
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &previous) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) {
        fa__hook_release(&hook);
        return FA_ERR_STATE; /* SQLITE_MISUSE: SQLite is initialised */
    }
    return FA_OK;
}

int fa_sqlite_uninstall(void) {
    if (!atomic_load(&hook.fa) || fa_sqlite_live_blocks() != 0) return FA_ERR_STATE;
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &previous) != SQLITE_OK) return FA_ERR_STATE;
    return fa__hook_release(&hook);
}

long fa_sqlite_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
