/* cJSON_InitHooks over framealloc's tagged heap blocks. */
#include "fa_cjson.h"

#include "hook.h"

#include <cJSON.h>

static fa__hook_t hook;

static void *json_malloc(size_t n) {
    return fa__hook_alloc(&hook, n);
}
static void json_free(void *p) {
    fa__hook_free(&hook, p);
}

int fa_cjson_install(fa_alloc_t *fa, const char *tag_path) {
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = json_malloc, .free_fn = json_free});
    return FA_OK;
}

int fa_cjson_uninstall(void) {
    if (!atomic_load(&hook.fa) || fa_cjson_live_blocks() != 0) return FA_ERR_STATE;
    cJSON_InitHooks(NULL);
    return fa__hook_release(&hook);
}

long fa_cjson_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
