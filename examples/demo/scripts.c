/* fa-demo's scripted crowd: a Lua 5.4 state whose every block is counted
 * under scripts/lua (fa_lua). Each frame the script's update() lets some
 * characters remember what happened (tables and strings that live a few
 * seconds) and builds a throw-away report: Lua's memory rises, and its
 * collector brings it down, live on the dashboard. */
#include "demo.h"

#include <fa_lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

struct demo_scripts {
    fa_lua_t alloc; /* MUST outlive the state: it is its allocator's user data */
    lua_State *L;
    fa_alloc_t *fa;
    int failed;
};

static const char *SCRIPT =
    "npcs = {}\n"
    "function spawn(n)\n"
    "  for i = 1, n do npcs[i] = {name = 'npc-' .. i, mood = 0, memory = {}} end\n"
    "end\n"
    "function update(frame, contacts)\n"
    "  local n = #npcs\n"
    "  for k = 1, n, 5 do\n"
    "    local npc = npcs[(k + frame) % n + 1]\n"
    "    local m = npc.memory\n"
    "    m[#m + 1] = {frame = frame, saw = 'contacts ' .. contacts}\n"
    "    if #m > 12 then table.remove(m, 1) end\n"
    "    npc.mood = npc.mood * 0.95 + contacts * 0.0001\n"
    "  end\n"
    "  local report = {}\n"
    "  for i = 1, 40 do report[i] = string.format('%s:%d', npcs[i % n + 1].name, frame) end\n"
    "  return #report\n"
    "end\n";

demo_scripts_t *demo_scripts_create(fa_alloc_t *fa, int npcs) {
    demo_scripts_t *s = fa_pool_alloc(fa, sizeof *s);
    if (!s) return NULL;
    *s = (demo_scripts_t){.fa = fa};
    if (fa_lua_init(&s->alloc, fa, "scripts/lua") != FA_OK || !(s->L = fa_lua_newstate(&s->alloc))) {
        fprintf(stderr, "fa-demo: cannot create the Lua state\n");
        fa_pool_free(fa, s);
        return NULL;
    }
    luaL_openlibs(s->L);
    int rc = luaL_loadstring(s->L, SCRIPT);
    if (rc == LUA_OK) rc = lua_pcall(s->L, 0, 0, 0);
    if (rc == LUA_OK) {
        lua_getglobal(s->L, "spawn");
        lua_pushinteger(s->L, npcs);
        rc = lua_pcall(s->L, 1, 0, 0);
    }
    if (rc != LUA_OK) {
        fprintf(stderr, "fa-demo: the crowd script failed: %s\n", lua_tostring(s->L, -1));
        demo_scripts_destroy(s);
        return NULL;
    }
    return s;
}

int demo_scripts_frame(demo_scripts_t *s, uint64_t frame, uint64_t contacts) {
    if (s->failed) return -1;
    lua_getglobal(s->L, "update");
    lua_pushinteger(s->L, (lua_Integer)frame);
    lua_pushinteger(s->L, (lua_Integer)contacts);
    if (lua_pcall(s->L, 2, 1, 0) != LUA_OK) {
        /* A budget under FA_POLICY_FAIL shows up here as a memory error. */
        fprintf(stderr, "fa-demo: the crowd script stopped: %s\n", lua_tostring(s->L, -1));
        s->failed = 1;
    }
    lua_settop(s->L, 0);
    return s->failed ? -1 : 0;
}

size_t demo_scripts_bytes(demo_scripts_t *s) {
    return (size_t)lua_gc(s->L, LUA_GCCOUNT) * 1024 + (size_t)lua_gc(s->L, LUA_GCCOUNTB);
}

void demo_scripts_destroy(demo_scripts_t *s) {
    if (!s) return;
    lua_close(s->L);
    fa_pool_free(s->fa, s);
}
