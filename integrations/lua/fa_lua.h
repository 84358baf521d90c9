/*
 * fa_lua.h — Lua 5.4 states whose memory is counted by framealloc.
 *
 * Every block a Lua state allocates (tables, strings, closures, the stack)
 * becomes a framealloc pool block (up to FA_POOL_MAX_SIZE) or heap block
 * (above) under one tag of your choice, e.g.
 * "scripts/lua": the dashboard shows the scripts' memory live, and a hard
 * budget with FA_POLICY_FAIL turns into Lua's "not enough memory" error
 * inside the script instead of an unbounded heap.
 *
 *     fa_lua_t scripts;                            // MUST outlive the state
 *     fa_lua_init(&scripts, fa, "scripts/lua");
 *     lua_State *L = fa_lua_newstate(&scripts);
 *     luaL_openlibs(L);
 *     luaL_dostring(L, "t = {} for i = 1, 1000 do t[i] = i end");
 *     lua_close(L);                                // the tag is back to 0
 *
 * The tag's live bytes (pool + heap) are Lua's own count (collectgarbage
 * ("count") x 1024) with each block of up to 4 KiB rounded up to its pool
 * size class (16 B steps up to 128 B, then quarter powers of two); the heap
 * blocks above count at the sizes Lua asks for.
 * THREADS: the allocator may be called from any thread that runs the
 * state; it takes no lock of its own. COST: a block of up to 4 KiB is a pool
 * block (no malloc; inline once the state's thread has used the tag, the
 * class lock once per batch of blocks: fa_pool_alloc_tagged, fa_pool_free); a resize
 * within the block's size class stays in place; a larger block is a heap
 * block (malloc + a 32-byte header), and other resizes move the block
 * (allocate, copy, free: fa_pool_realloc).
 *
 * pkg-config: framealloc-lua (links liblua5.4).
 */
#ifndef FA_LUA_H
#define FA_LUA_H

#include <framealloc.h>
#include <lua.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The allocator's user data: caller-owned, filled by fa_lua_init(). */
typedef struct fa_lua {
    fa_alloc_t *fa;
    int tag; /* the tag id blocks are attributed to */
} fa_lua_t;

/* Fills a for fa and tag_path (created if needed). FA_OK, or
 * FA_ERR_INVALID_ARG / a tag error; a is written only on success. */
FA_API int fa_lua_init(fa_lua_t *a, fa_alloc_t *fa, const char *tag_path);

/* A lua_Alloc: pass it with a fa_lua_t as user data to lua_newstate().
 * nsize 0 frees; otherwise it behaves like realloc and returns NULL only when
 * the request cannot be met (no memory, or the tag's hard budget under
 * FA_POLICY_FAIL). A shrink that cannot be met keeps the old block, which
 * still fits, so it never fails. */
FA_API void *fa_lua_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* What luaL_newstate() does, with fa_lua_alloc and a as user data: a panic
 * function that writes the error to stderr (then Lua aborts). NULL when the
 * state cannot be created. Close it with lua_close(). */
FA_API lua_State *fa_lua_newstate(fa_lua_t *a);

#ifdef __cplusplus
}
#endif
#endif
