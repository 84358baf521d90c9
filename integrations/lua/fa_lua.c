/* Lua 5.4 allocator over framealloc's explicitly tagged heap blocks. */
#include "fa_lua.h"

#include <stdio.h>

int fa_lua_init(fa_lua_t *a, fa_alloc_t *fa, const char *tag_path) {
    if (!a || !fa || !tag_path || !*tag_path) return FA_ERR_INVALID_ARG;
    int tag = fa_tag_find(fa, tag_path, true);
    if (tag < 0) return tag;
    *a = (fa_lua_t){.fa = fa, .tag = tag};
    return FA_OK;
}

void *fa_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    /* One call site for every block Lua asks for, new or resized: the site
     * rows name Lua's allocator once. */
    static fa_site_t site = {__FILE__, __func__, (uint32_t)__LINE__, FA_KIND_POOL, 0u, 0u};
    fa_lua_t *a = ud;
    if (nsize == 0) {
        fa_pool_free(a->fa, ptr); /* a pool or a heap block, found from ptr */
        return NULL;
    }
    if (!ptr) return fa_pool_alloc_tagged_site(a->fa, a->tag, nsize, &site); /* most calls */
    void *q = fa_pool_realloc_site(a->fa, ptr, nsize, a->tag, &site);
    /* ptr is not NULL only when osize is its size. */
    if (!q && ptr && nsize <= osize) return ptr;
    return q;
}

/* An error outside any protected call: say what it was before Lua aborts. */
static int panic(lua_State *L) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "PANIC: unprotected error in call to Lua API (%s)\n",
            msg ? msg : "error object is not a string");
    return 0;
}

lua_State *fa_lua_newstate(fa_lua_t *a) {
    if (!a || !a->fa) return NULL;
    lua_State *L = lua_newstate(fa_lua_alloc, a);
    if (L) lua_atpanic(L, panic);
    return L;
}
