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

static const char *TABLES = "local t = {}\n"
                            "for i = 1, 20000 do t[i] = {id = i, name = 'e' .. i, v = {i, i * 2}} end\n"
                            "keep = {}\n"
                            "for i = 1, 20000, 7 do keep[#keep + 1] = t[i] end\n"
                            "return #keep\n";

Test(lua, the_tags_bytes_are_luas_own_count_and_drop_to_zero_at_close) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_lua_t scripts;
    cr_assert_eq(fa_lua_init(&scripts, fa, "scripts/lua"), FA_OK);
    lua_State *L = fa_lua_newstate(&scripts);
    cr_assert_not_null(L);
    luaL_openlibs(L);
    cr_assert_eq(tag_heap(fa, "scripts/lua"), lua_bytes(L));
    cr_assert_eq(luaL_dostring(L, TABLES), LUA_OK, "%s", lua_tostring(L, -1));
    uint64_t live = tag_heap(fa, "scripts/lua");
    cr_assert_gt(live, 1 << 20, "the script holds about 3000 tables: %llu bytes", (unsigned long long)live);
    cr_assert_eq(live, lua_bytes(L));
    lua_gc(L, LUA_GCCOLLECT);
    cr_assert_lt(tag_heap(fa, "scripts/lua"), live, "a full collection gives memory back");
    cr_assert_eq(tag_heap(fa, "scripts/lua"), lua_bytes(L));
    lua_close(L);
    cr_assert_eq(tag_heap(fa, "scripts/lua"), 0);
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
    cr_assert_leq(tag_heap(fa, "scripts/lua"), 512 << 10);
    cr_assert_eq(luaL_dostring(L, "return 1 + 1"), LUA_OK, "the state still runs scripts");
    cr_assert_eq(lua_tointeger(L, -1), 2);
    lua_close(L);
    cr_assert_eq(tag_heap(fa, "scripts/lua"), 0);
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
    cr_assert_eq(tag_heap(fa, "scripts"), 0);
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
    cr_assert_eq(tag_heap(fa, "scripts"), 0);
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
    cr_assert_eq(tag_heap(fa, "scripts/lua"), lua_bytes(L));
    cr_assert_eq(tag_heap(fa, "render"), 0);
    lua_close(L);
    fa_tag_pop(fa);
    cr_assert_eq(tag_heap(fa, "scripts/lua"), 0);
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
