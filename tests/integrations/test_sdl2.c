/* SDL2 through fa_sdl2 (dummy video driver): SDL's own count of live
 * allocations is the adapter's, the bytes are what a reference allocator
 * sees for the same work, and SDL_Quit gives everything back. */
#include "integ_test.h"

#include <SDL.h>
#include <fa_sdl2.h>

/* The work both allocators see: video up, a window, a surface, events. */
static void sdl_work(SDL_Window **win, SDL_Surface **surf) {
    cr_assert_eq(SDL_Init(SDL_INIT_VIDEO | SDL_INIT_EVENTS), 0, "%s", SDL_GetError());
    *win = SDL_CreateWindow("t", 0, 0, 320, 200, 0);
    cr_assert_not_null(*win, "%s", SDL_GetError());
    *surf = SDL_CreateRGBSurfaceWithFormat(0, 256, 256, 32, SDL_PIXELFORMAT_RGBA8888);
    cr_assert_not_null(*surf);
    SDL_Event ev = {.type = SDL_USEREVENT};
    for (int i = 0; i < 100; i++)
        SDL_PushEvent(&ev);
}

static void sdl_done(SDL_Window *win, SDL_Surface *surf) {
    SDL_FreeSurface(surf);
    SDL_DestroyWindow(win);
    SDL_Quit();
}

static void *ref_sdl_calloc(size_t n, size_t s) {
    return ref_calloc(n, s);
}

Test(sdl2, sdls_own_count_is_the_adapters_and_bytes_match_a_reference_run) {
    setenv("SDL_VIDEODRIVER", "dummy", 1);
    SDL_Window *win;
    SDL_Surface *surf;
    /* Reference run through a counting allocator. */
    SDL_malloc_func m0;
    SDL_calloc_func c0;
    SDL_realloc_func r0;
    SDL_free_func f0;
    SDL_GetMemoryFunctions(&m0, &c0, &r0, &f0);
    cr_assert_eq(SDL_SetMemoryFunctions(ref_malloc, ref_sdl_calloc, ref_realloc, ref_free), 0);
    sdl_work(&win, &surf);
    size_t reference = ref_live;
    sdl_done(win, surf);
    cr_assert_eq(SDL_GetNumAllocations(), 0);
    SDL_SetMemoryFunctions(m0, c0, r0, f0);

    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_sdl2_install(fa, "sdl"), FA_OK);
    sdl_work(&win, &surf);
    cr_assert_gt(SDL_GetNumAllocations(), 0);
    cr_assert_eq(fa_sdl2_live_blocks(), SDL_GetNumAllocations());
    uint64_t live = tag_heap(fa, "sdl");
    cr_assert_gt(live, 256 * 256 * 4, "the surface's pixels alone are 256 KiB: %llu",
                 (unsigned long long)live);
    cr_assert_eq(live, reference, "adapter %llu, reference %zu", (unsigned long long)live, reference);
    cr_assert_eq(fa_sdl2_uninstall(), FA_ERR_STATE, "refused while SDL holds blocks");
    sdl_done(win, surf);
    cr_assert_eq(SDL_GetNumAllocations(), 0);
    cr_assert_eq(tag_heap(fa, "sdl"), 0);
    cr_assert_eq(fa_sdl2_uninstall(), FA_OK);
    fa_destroy(fa);
}

Test(sdl2, install_is_refused_while_sdl_holds_blocks_of_another_allocator) {
    fa_alloc_t *fa = fa_create(NULL);
    void *p = SDL_malloc(100);
    cr_assert_eq(fa_sdl2_install(fa, "sdl"), FA_ERR_STATE);
    SDL_free(p);
    cr_assert_eq(fa_sdl2_install(fa, "sdl"), FA_OK);
    cr_assert_eq(fa_sdl2_install(fa, "sdl"), FA_ERR_STATE, "one install at a time");
    cr_assert_eq(fa_sdl2_uninstall(), FA_OK);
    fa_destroy(fa);
}
