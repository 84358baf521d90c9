/* SDL_SetMemoryFunctions over framealloc's tagged heap blocks. */
#include "fa_sdl2.h"

#include "hook.h"

#include <SDL.h>

static fa__hook_t hook;
static SDL_malloc_func prev_malloc;
static SDL_calloc_func prev_calloc;
static SDL_realloc_func prev_realloc;
static SDL_free_func prev_free;

static void *sdl_malloc(size_t n) {
    return fa__hook_alloc(&hook, n);
}
static void *sdl_calloc(size_t count, size_t size) {
    return fa__hook_zalloc(&hook, count, size);
}
static void *sdl_realloc(void *p, size_t n) {
    return fa__hook_realloc(&hook, p, n);
}
static void sdl_free(void *p) {
    fa__hook_free(&hook, p);
}

int fa_sdl2_install(fa_alloc_t *fa, const char *tag_path) {
    if (SDL_GetNumAllocations() > 0) return FA_ERR_STATE;
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    SDL_GetMemoryFunctions(&prev_malloc, &prev_calloc, &prev_realloc, &prev_free);
    if (SDL_SetMemoryFunctions(sdl_malloc, sdl_calloc, sdl_realloc, sdl_free) != 0) {
        fa__hook_release(&hook);
        return FA_ERR_STATE;
    }
    return FA_OK;
}

int fa_sdl2_uninstall(void) {
    if (!atomic_load(&hook.fa) || fa_sdl2_live_blocks() != 0) return FA_ERR_STATE;
    SDL_SetMemoryFunctions(prev_malloc, prev_calloc, prev_realloc, prev_free);
    return fa__hook_release(&hook);
}

long fa_sdl2_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
