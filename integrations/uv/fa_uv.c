/* uv_replace_allocator over framealloc's tagged heap blocks. */
#include "fa_uv.h"

#include "hook.h"

#include <stdlib.h>
#include <uv.h>

static fa__hook_t hook;

static void *uv_hook_malloc(size_t n) {
    return fa__hook_alloc(&hook, n);
}
static void *uv_hook_calloc(size_t count, size_t size) {
    return fa__hook_zalloc(&hook, count, size);
}
static void *uv_hook_realloc(void *p, size_t n) {
    return fa__hook_realloc(&hook, p, n);
}
static void uv_hook_free(void *p) {
    fa__hook_free(&hook, p);
}

int fa_uv_install(fa_alloc_t *fa, const char *tag_path) {
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    if (uv_replace_allocator(uv_hook_malloc, uv_hook_realloc, uv_hook_calloc, uv_hook_free) != 0) {
        fa__hook_release(&hook);
        return FA_ERR_STATE;
    }
    return FA_OK;
}

int fa_uv_uninstall(void) {
    if (!atomic_load(&hook.fa) || fa_uv_live_blocks() != 0) return FA_ERR_STATE;
    uv_replace_allocator(malloc, realloc, calloc, free);
    return fa__hook_release(&hook);
}

long fa_uv_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
