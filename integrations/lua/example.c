/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_budget_set(fa, "scripts", 0, 64 << 20);        /* scripts may not pass 64 MiB */
    fa_lua_t scripts;                                 /* must outlive the state */
    fa_lua_init(&scripts, fa, "scripts/lua");
    lua_State *L = fa_lua_newstate(&scripts);         /* every Lua block counts under scripts/lua */
    luaL_openlibs(L);
    if (luaL_dostring(L, "t = {} for i = 1, 100000 do t[i] = {id = i} end") != LUA_OK) return 1;
    printf("scripts/lua holds %d KiB\n", lua_gc(L, LUA_GCCOUNT)); /* the dashboard: rounded up to pool classes */
    lua_close(L);                                     /* the tag is back to 0 */
    fa_destroy(fa);
}
