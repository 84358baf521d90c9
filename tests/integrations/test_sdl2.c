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
    /* Each block carries the adapter's 16-byte header (see fa_sdl2.h). */
    uint64_t headers = 16u * (uint64_t)SDL_GetNumAllocations();
    cr_assert_eq(live, reference + headers, "adapter %llu, reference %zu + headers %llu", (unsigned long long)live,
                 reference, (unsigned long long)headers);
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

/* SDL keeps blocks past SDL_Quit: each thread's TLS data (SDL_SetError
 * allocates it), freed through the hooks only when that thread exits. The
 * documented shutdown must still work: uninstall succeeds, and after
 * fa_destroy SDL never reaches the context again (ASan: no use after free),
 * whether it allocates, frees a block it got before, or a thread exits. */
static void *sdl_error_on_a_thread(void *arg) {
    (void)arg;
    SDL_SetError("job %d failed", 42);
    SDL_TLSID id = SDL_TLSCreate();
    SDL_TLSSet(id, "x", NULL);
    return NULL;
}

Test(sdl2, uninstall_after_sdl_quit_succeeds_while_sdl_keeps_per_thread_blocks) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_sdl2_install(fa, "sdl"), FA_OK);
    cr_assert_eq(SDL_Init(SDL_INIT_EVENTS), 0);
    pthread_t th;
    pthread_create(&th, NULL, sdl_error_on_a_thread, NULL);
    pthread_join(th, NULL);
    SDL_SetError("main error"); /* the main thread's TLS data: kept past SDL_Quit */
    void *kept = SDL_malloc(100);
    SDL_Quit();
    cr_assert_gt(SDL_GetNumAllocations(), 0, "SDL holds blocks after SDL_Quit");
    cr_assert_eq(fa_sdl2_uninstall(), FA_OK);
    cr_assert_eq(fa_sdl2_live_blocks(), 0, "no block SDL holds is fa's to count any more");
    fa_destroy(fa);
    /* SDL after the context is gone: nothing of it may be touched. */
    pthread_create(&th, NULL, sdl_error_on_a_thread, NULL);
    pthread_join(th, NULL);
    void *fresh = SDL_malloc(64);
    cr_assert_not_null(fresh);
    SDL_free(fresh);
    kept = SDL_realloc(kept, 200);
    cr_assert_not_null(kept);
    SDL_free(kept);
    SDL_SetError("main error after the context is gone");
    /* SDL frees this thread's TLS data now: its blocks of the context are
     * left behind (LeakSanitizer lists them: that memory leaks, as live heap
     * blocks do at fa_destroy), the others go back to malloc. */
    SDL_TLSCleanup();
}
