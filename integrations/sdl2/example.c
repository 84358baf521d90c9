/* README example (make test-install-integrations builds it with pkg-config). */
#include <SDL.h>
#include <fa_sdl2.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_sdl2_install(fa, "sdl");                       /* before SDL_Init: SDL's blocks under "sdl" */
    SDL_Init(SDL_INIT_VIDEO);
    SDL_Window *win = SDL_CreateWindow("game", 0, 0, 640, 400, 0);
    printf("SDL holds %ld blocks\n", fa_sdl2_live_blocks()); /* = SDL_GetNumAllocations() */
    SDL_DestroyWindow(win);
    SDL_Quit();
    fa_sdl2_uninstall();                              /* SDL holds nothing now */
    fa_destroy(fa);
}
