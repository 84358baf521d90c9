/*
 * fa_sdl2.h — SDL2's memory counted by framealloc under a tag.
 *
 * Installs SDL's allocator (SDL_SetMemoryFunctions) so that every block SDL
 * allocates (windows, surfaces, audio buffers, event queues) is a
 * framealloc heap block under one tag, e.g. "sdl".
 *
 *     fa_sdl2_install(fa, "sdl");                  // before SDL_Init
 *     SDL_Init(SDL_INIT_VIDEO);
 *     ...
 *     SDL_Quit();
 *     SDL_TLSCleanup();                            // this thread's SDL data
 *     fa_sdl2_uninstall();                         // before fa_destroy(fa)
 *
 * SDL_GetNumAllocations() (SDL's own figure) equals fa_sdl2_live_blocks()
 * while the adapter is installed. PROCESS-WIDE: SDL's allocator belongs to
 * the process and carries no user pointer, so one context at a time feeds
 * it. THREADS: SDL calls the hooks from any of its threads (audio, events);
 * blocks are attributed to the tag whatever the calling thread's tag stack
 * says. SDL KEEPS BLOCKS PAST SDL_Quit: each thread's TLS data (any
 * SDL_SetError allocates it) until that thread exits or calls
 * SDL_TLSCleanup(). COST: one malloc per block and 48 bytes of headers (the
 * adapter's 16, which say which allocator a block came from, are counted
 * under the tag).
 *
 * pkg-config: framealloc-sdl2 (links libSDL2).
 */
#ifndef FA_SDL2_H
#define FA_SDL2_H

#include <framealloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Routes SDL's allocations to fa under tag_path (created if needed). MUST
 * be called while SDL holds no block (before SDL_Init, or after SDL_Quit
 * and SDL_TLSCleanup() when SDL_GetNumAllocations() is 0): a block from the previous allocator
 * freed through framealloc would be a foreign pointer. FA_OK, or
 * FA_ERR_STATE (SDL holds blocks, or an install is in force),
 * FA_ERR_INVALID_ARG, a tag error. fa MUST outlive the install. */
FA_API int fa_sdl2_install(fa_alloc_t *fa, const char *tag_path);

/* Detaches SDL from fa. MUST be called after SDL_Quit(), while no other
 * thread calls SDL. When SDL holds no block of fa, SDL gets its previous
 * allocator back. Otherwise (other threads' TLS data, see above) the hooks
 * stay in SDL but never touch fa again: new blocks come from the previous
 * allocator, and the blocks of fa that SDL frees later are left alone (their
 * memory leaks, as live heap blocks do at fa_destroy(); they stay counted
 * under the tag until then). FA_OK; FA_ERR_STATE when not installed, or
 * while a subsystem is initialised and SDL holds blocks of fa (the install
 * then stays in force). fa may be destroyed after FA_OK. */
FA_API int fa_sdl2_uninstall(void);

/* Blocks SDL holds from fa now (0 when not installed). */
FA_API long fa_sdl2_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
