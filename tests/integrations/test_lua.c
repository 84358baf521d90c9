/* Lua 5.4 through fa_lua: the tag's bytes are Lua's own count, budgets
 * become Lua memory errors, and closing the state gives everything back. */
#include "integ_test.h"

#include <fa_lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <pthread.h>

static uint64_t lua_bytes(lua_State *L) {
    return (uint64_t)lua_gc(L, LUA_GCCOUNT) * 1024 + (uint64_t)lua_gc(L, LUA_GCCOUNTB);
}

/* The bytes a block of n bytes takes, computed here from the documented
 * classes (16 B steps up to 128 B, then quarter powers of two up to 4 KiB),
 * not asked of the library; above the classes, heap blocks of n bytes. */
static uint64_t block_bytes(size_t n) {
    if (n > FA_POOL_MAX_SIZE) return n;
    if (n <= 128) return n <= 16 ? 16 : (n + 15) & ~(size_t)15;
    size_t top = 128;
    while (top * 2 < n) top *= 2;
    size_t step = top / 4;
    return (n + step - 1) / step * step;
}

/* Lua's blocks, counted as the adapter should count them: a lua_Alloc in
 * front of fa_lua_alloc (single-threaded use). */
typedef struct counted {
    fa_lua_t inner;
    uint64_t expect; /* live bytes at the block sizes above */
    uint64_t small;  /* of them, in blocks of up to 4 KiB */
} counted_t;

static void *counted_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    counted_t *c = ud;
    void *q = fa_lua_alloc(&c->inner, ptr, osize, nsize);
    if (nsize == 0 || q) {
        if (ptr) c->expect -= block_bytes(osize), c->small -= osize <= FA_POOL_MAX_SIZE ? block_bytes(osize) : 0;
        if (nsize) c->expect += block_bytes(nsize), c->small += nsize <= FA_POOL_MAX_SIZE ? block_bytes(nsize) : 0;
    }
    return q;
}

static uint64_t tag_live(fa_alloc_t *fa, const char *path) {
    fa_tag_row_t r = tag_row(fa, path);
    return r.self.pool_bytes + r.self.heap_bytes;
}

static const char *TABLES = "local t = {}\n"
                            "for i = 1, 20000 do t[i] = {id = i, name = 'e' .. i, v = {i, i * 2}} end\n"
                            "keep = {}\n"
                            "for i = 1, 20000, 7 do keep[#keep + 1] = t[i] end\n"
                            "return #keep\n";

Test(lua, the_tags_bytes_are_luas_blocks_at_their_pool_classes_and_drop_to_zero_at_close) {
    fa_alloc_t *fa = fa_create(NULL);
    counted_t c = {0};
    cr_assert_eq(fa_lua_init(&c.inner, fa, "scripts/lua"), FA_OK);
    lua_State *L = lua_newstate(counted_alloc, &c);
    cr_assert_not_null(L);
    luaL_openlibs(L);
    cr_assert_eq(tag_live(fa, "scripts/lua"), c.expect);
    cr_assert_eq(luaL_dostring(L, TABLES), LUA_OK, "%s", lua_tostring(L, -1));
    uint64_t live = tag_live(fa, "scripts/lua");
    cr_assert_gt(live, 1 << 20, "the script holds about 3000 tables: %llu bytes", (unsigned long long)live);
    cr_assert_eq(live, c.expect);
    cr_assert_geq(live, lua_bytes(L));
    lua_gc(L, LUA_GCCOLLECT);
    cr_assert_lt(tag_live(fa, "scripts/lua"), live, "a full collection gives memory back");
    cr_assert_eq(tag_live(fa, "scripts/lua"), c.expect);
    lua_close(L);
    cr_assert_eq(tag_live(fa, "scripts/lua"), 0);
    fa_destroy(fa);
}

/* Lua's small blocks are pool blocks (no malloc, no registry lock), its
 * large ones heap blocks. */
Test(lua, blocks_up_to_4_kib_are_pool_blocks_and_larger_ones_heap_blocks) {
    fa_alloc_t *fa = fa_create(NULL);
    counted_t c = {0};
    fa_lua_init(&c.inner, fa, "scripts/lua");
    lua_State *L = lua_newstate(counted_alloc, &c);
    luaL_openlibs(L);
    cr_assert_eq(luaL_dostring(L, TABLES), LUA_OK, "%s", lua_tostring(L, -1));
    fa_tag_row_t r = tag_row(fa, "scripts/lua");
    cr_assert_gt(c.small, 1 << 20, "%llu bytes in small blocks", (unsigned long long)c.small);
    cr_assert_eq(r.self.pool_bytes, c.small, "every live block of up to 4 KiB is a pool block");
    cr_assert_eq(r.self.heap_bytes, c.expect - c.small, "the larger ones (the big arrays) heap blocks");
    cr_assert_gt(r.self.heap_bytes, 0);
    lua_close(L);
    fa_destroy(fa);
}

/* lua_Alloc's realloc contract, block by block: contents kept, a resize
 * within a size class in place, across classes and into and out of the heap
 * moved, the tag's figures right after each step. */
Test(lua, a_resize_keeps_the_contents_and_moves_only_across_size_classes) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_lua_t a;
    fa_lua_init(&a, fa, "scripts");
    char *p = fa_lua_alloc(&a, NULL, LUA_TSTRING, 100);
    cr_assert_not_null(p);
    memset(p, 'a', 100);
    cr_assert_eq(tag_live(fa, "scripts"), 112);
    cr_assert_eq(fa_lua_alloc(&a, p, 100, 110), p, "100 and 110 B share the 112 B class");
    cr_assert_eq(tag_live(fa, "scripts"), 112);
    char *q = fa_lua_alloc(&a, p, 110, 3000);
    cr_assert_not_null(q);
    cr_assert_eq(tag_live(fa, "scripts"), 3072);
    for (int i = 0; i < 100; i++) cr_assert_eq(q[i], 'a');
    memset(q, 'b', 3000);
    char *h = fa_lua_alloc(&a, q, 3000, 10000);
    cr_assert_not_null(h);
    cr_assert_eq(tag_row(fa, "scripts").self.heap_bytes, 10000);
    cr_assert_eq(tag_row(fa, "scripts").self.pool_bytes, 0);
    for (int i = 0; i < 3000; i++) cr_assert_eq(h[i], 'b');
    char *h2 = fa_lua_alloc(&a, h, 10000, 20000);
    cr_assert_not_null(h2);
    cr_assert_eq(tag_live(fa, "scripts"), 20000);
    char *s = fa_lua_alloc(&a, h2, 20000, 40);
    cr_assert_not_null(s);
    cr_assert_eq(tag_row(fa, "scripts").self.pool_bytes, 48, "a heap block shrunk below 4 KiB joins the pool");
    cr_assert_eq(tag_row(fa, "scripts").self.heap_bytes, 0);
    for (int i = 0; i < 40; i++) cr_assert_eq(s[i], 'b');
    cr_assert_null(fa_lua_alloc(&a, s, 40, 0));
    cr_assert_eq(tag_live(fa, "scripts"), 0);
    fa_destroy(fa);
}

/* A pool block resized near a hard budget is judged by what the resize
 * leaves in use, as a heap block is. */
Test(lua, a_pool_block_grows_to_what_the_budget_allows_not_to_budget_minus_the_old_block) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "scripts", 0, 4096);
    fa_lua_t a;
    fa_lua_init(&a, fa, "scripts");
    char *p = fa_lua_alloc(&a, NULL, LUA_TTABLE, 2048);
    cr_assert_not_null(p);
    char *q = fa_lua_alloc(&a, p, 2048, 4096);
    cr_assert_not_null(q, "2 KiB to 4 KiB fits a 4 KiB budget");
    cr_assert_eq(tag_live(fa, "scripts"), 4096);
    cr_assert_null(fa_lua_alloc(&a, q, 4096, 5000), "past the budget fails");
    cr_assert_eq(tag_live(fa, "scripts"), 4096, "and leaves the block");
    cr_assert_null(fa_lua_alloc(&a, q, 4096, 0));
    cr_assert_eq(tag_live(fa, "scripts"), 0);
    fa_destroy(fa);
}

Test(lua, a_hard_budget_under_fail_is_a_lua_memory_error_and_the_state_survives) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "scripts", 0, 512 << 10);
    fa_lua_t scripts;
    fa_lua_init(&scripts, fa, "scripts/lua");
    lua_State *L = fa_lua_newstate(&scripts);
    luaL_openlibs(L);
    cr_assert_eq(luaL_loadstring(L, "local t = {} for i = 1, 1e7 do t[i] = 'x' .. i end"), LUA_OK);
    int rc = lua_pcall(L, 0, 0, 0);
    cr_assert_eq(rc, LUA_ERRMEM, "rc %d: %s", rc, lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_gc(L, LUA_GCCOLLECT);
    cr_assert_leq(tag_live(fa, "scripts/lua"), 512 << 10);
    cr_assert_eq(luaL_dostring(L, "return 1 + 1"), LUA_OK, "the state still runs scripts");
    cr_assert_eq(lua_tointeger(L, -1), 2);
    lua_close(L);
    cr_assert_eq(tag_live(fa, "scripts/lua"), 0);
    fa_destroy(fa);
}

/* Lua grows a table's array by doubling it: a resize must be judged by what
 * it leaves in use, or a state stops at a third of its budget. */
Test(lua, a_table_grows_until_its_array_no_longer_fits_the_budget_not_a_third_of_it) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "scripts", 0, 10u << 20);
    fa_lua_t a;
    fa_lua_init(&a, fa, "scripts");
    lua_State *L = fa_lua_newstate(&a);
    luaL_openlibs(L);
    int rc = luaL_dostring(L, "collectgarbage('stop') t = {} local i = 1\n"
                              "local ok = pcall(function() while true do t[i] = i; i = i + 1 end end)\n"
                              "return i");
    cr_assert_eq(rc, LUA_OK, "%s", lua_tostring(L, -1));
    /* The array part doubles: 4 MiB (2^18 slots of 16 bytes) to 8 MiB fits
     * 10 MiB; 8 to 16 MiB does not. */
    cr_assert_gt(lua_tointeger(L, -1), 1 << 19, "the table stopped at %lld elements",
                 (long long)lua_tointeger(L, -1));
    lua_close(L);
    cr_assert_eq(tag_live(fa, "scripts"), 0);
    fa_destroy(fa);
}

Test(lua, a_shrink_that_cannot_get_a_new_block_keeps_the_old_one) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "scripts", 0, 4096);
    fa_lua_t a;
    fa_lua_init(&a, fa, "scripts");
    char *p = fa_lua_alloc(&a, NULL, LUA_TTABLE, 3000);
    cr_assert_not_null(p);
    p[0] = 'k';
    /* The budget drops below what the state holds: even the shrunk block
     * does not fit, so no new block is given. */
    fa_budget_set(fa, "scripts", 0, 1024);
    char *q = fa_lua_alloc(&a, p, 3000, 2000);
    cr_assert_eq(q, p, "Lua relies on shrinks succeeding");
    cr_assert_null(fa_lua_alloc(&a, p, 3000, 6000), "a growth past the budget fails");
    cr_assert_eq(p[0], 'k');
    cr_assert_null(fa_lua_alloc(&a, p, 3000, 0));
    cr_assert_eq(tag_live(fa, "scripts"), 0);
    fa_destroy(fa);
}

typedef struct runner {
    lua_State *L;
    int rc;
} runner_t;

static void *run_script(void *arg) {
    runner_t *r = arg;
    r->rc = luaL_dostring(r->L, TABLES);
    return NULL;
}

Test(lua, a_state_run_by_another_thread_counts_under_the_same_tag) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_lua_t scripts;
    fa_lua_init(&scripts, fa, "scripts/lua");
    lua_State *L = fa_lua_newstate(&scripts);
    luaL_openlibs(L);
    fa_tag_push(fa, "render"); /* the main thread's stack plays no part */
    runner_t r = {L, -1};
    pthread_t th;
    pthread_create(&th, NULL, run_script, &r);
    pthread_join(th, NULL);
    cr_assert_eq(r.rc, LUA_OK);
    cr_assert_geq(tag_live(fa, "scripts/lua"), lua_bytes(L));
    cr_assert_eq(tag_live(fa, "render"), 0);
    lua_close(L);
    fa_tag_pop(fa);
    cr_assert_eq(tag_live(fa, "scripts/lua"), 0);
    fa_destroy(fa);
}

Test(lua, init_rejects_bad_arguments) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_lua_t a = {0};
    cr_assert_eq(fa_lua_init(&a, fa, ""), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_lua_init(&a, NULL, "x"), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_lua_init(&a, fa, "a//b"), FA_ERR_TAG_NAME);
    cr_assert_null(a.fa, "nothing written on failure");
    cr_assert_null(fa_lua_newstate(&a));
    fa_destroy(fa);
}
