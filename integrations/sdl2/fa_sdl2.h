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
 *     fa_sdl2_uninstall();                         // before fa_destroy(fa)
 *
 * SDL_GetNumAllocations() (SDL's own figure) equals fa_sdl2_live_blocks()
 * while the adapter is installed. PROCESS-WIDE: SDL's allocator belongs to
 * the process and carries no user pointer, so one context at a time feeds
 * it. THREADS: SDL calls the hooks from any of its threads (audio, events);
 * blocks are attributed to the tag whatever the calling thread's tag stack
 * says. COST: one malloc and a 32-byte header per block.
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
 * when SDL_GetNumAllocations() is 0): a block from the previous allocator
 * freed through framealloc would be a foreign pointer. FA_OK, or
 * FA_ERR_STATE (SDL holds blocks, or an install is in force),
 * FA_ERR_INVALID_ARG, a tag error. fa MUST outlive the install. */
FA_API int fa_sdl2_install(fa_alloc_t *fa, const char *tag_path);

/* Gives SDL back its previous allocator. MUST be called after SDL_Quit();
 * FA_ERR_STATE while SDL still holds blocks from fa (the install then stays
 * in force). */
FA_API int fa_sdl2_uninstall(void);

/* Blocks SDL holds from fa now (0 when not installed). */
FA_API long fa_sdl2_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
