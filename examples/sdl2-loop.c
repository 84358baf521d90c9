/* sdl2-loop: an SDL2 game loop that shows where framealloc's calls go in an
 * engine's frame, and SDL's own memory counted under a tag.
 *
 *   fa_sdl2_install      once, before SDL_Init: SDL's blocks under "sdl"
 *   fa_begin_frame       first thing in the frame, before input
 *   ...                  input, update and the draw list use frame memory
 *   SDL_RenderPresent    the frame's last use of its memory
 *   fa_end_frame         right after: everything the frame took is released
 *
 * Runs headless with SDL_VIDEODRIVER=dummy (the tests do).
 *
 *   sdl2-loop [--frames N] [--sprites N] [--quiet]
 */
#include <SDL.h>
#include <fa_frame_vec.h>
#include <fa_sdl2.h>
#include <framealloc.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sprite {
    float x, y, vx, vy;
    uint8_t r, g, b;
} sprite_t;

typedef struct options {
    long frames; /* 0: until the window closes */
    int sprites;
    int quiet;
} options_t;

static int parse_args(int argc, char **argv, options_t *o) {
    *o = (options_t){.frames = 0, .sprites = 2000};
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: sdl2-loop [--frames N] [--sprites N] [--quiet]\n"
                   "An SDL2 game loop with framealloc: frame memory for input, the draw list and\n"
                   "per-frame scratch; SDL's own allocations under the tag \"sdl\".\n"
                   "  --frames N   stop after N frames (default: when the window closes)\n"
                   "  --sprites N  sprites to move and draw (default 2000, 1..1000000)\n"
                   "  --quiet      only the final line\n"
                   "Headless: SDL_VIDEODRIVER=dummy sdl2-loop --frames 120\n");
            exit(0);
        } else if (!strcmp(argv[i], "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(argv[i], "--frames") && i + 1 < argc) {
            o->frames = strtol(argv[++i], &end, 10);
            if (*end || o->frames < 1)
                return fprintf(stderr, "sdl2-loop: --frames expects a count >= 1, got '%s'\n", argv[i]), -1;
        } else if (!strcmp(argv[i], "--sprites") && i + 1 < argc) {
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000000)
                return fprintf(stderr, "sdl2-loop: --sprites expects 1..1000000, got '%s'\n", argv[i]), -1;
            o->sprites = (int)n;
        } else {
            fprintf(stderr, "sdl2-loop: unknown or incomplete option '%s' (see --help)\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    options_t opt;
    if (parse_args(argc, argv, &opt) != 0) return 2;
    fa_alloc_t *fa = fa_create(NULL);
    if (!fa) return 1;
    /* SDL's allocator is process-wide: install before SDL_Init. */
    if (fa_sdl2_install(fa, "sdl") != FA_OK) fprintf(stderr, "sdl2-loop: SDL's memory is not counted\n");
    if (SDL_Init(SDL_INIT_VIDEO | SDL_INIT_EVENTS) != 0) {
        fprintf(stderr, "sdl2-loop: SDL_Init: %s\n", SDL_GetError());
        return 1;
    }
    SDL_Window *window =
        SDL_CreateWindow("framealloc sdl2-loop", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, 640, 400, 0);
    SDL_Renderer *renderer = window ? SDL_CreateRenderer(window, -1, 0) : NULL;
    if (!renderer) {
        fprintf(stderr, "sdl2-loop: no window or renderer: %s\n", SDL_GetError());
        return 1;
    }
    /* Long-lived state: a heap block under "game". */
    fa_tag_push(fa, "game");
    sprite_t *sprites = fa_heap_alloc(fa, (size_t)opt.sprites * sizeof *sprites, 0);
    fa_tag_pop(fa);
    if (!sprites) return 1;
    for (int i = 0; i < opt.sprites; i++)
        sprites[i] = (sprite_t){(float)(i * 37 % 640),
                                (float)(i * 91 % 400),
                                (float)(i % 7) - 3,
                                (float)(i % 5) - 2,
                                (uint8_t)(i * 5),
                                (uint8_t)(i * 3),
                                200};

    uint64_t frame_bytes_peak = 0;
    long frame = 0;
    for (int running = 1; running && (!opt.frames || frame < opt.frames); frame++) {
        fa_begin_frame(fa); /* 1. the frame starts: before input */

        /* Input: this frame's events, copied into frame memory. */
        fa_frame_vec_t input;
        FA_FRAME_VEC_INIT(&input, fa, SDL_Event);
        FA_WITH_TAG(fa, "input") {
            SDL_Event ev;
            while (SDL_PollEvent(&ev)) {
                if (ev.type == SDL_QUIT) running = 0;
                SDL_Event *kept = FA_FRAME_VEC_PUSH(&input, SDL_Event);
                if (kept) *kept = ev;
            }
        }

        /* Update, then the draw list: visible sprites as rects, frame memory. */
        SDL_Rect *draw = NULL;
        int visible = 0;
        FA_WITH_TAG(fa, "render") {
            draw = FA_FRAME_ARRAY(fa, SDL_Rect, (size_t)opt.sprites);
            for (int i = 0; draw && i < opt.sprites; i++) {
                sprite_t *s = &sprites[i];
                s->x += s->vx, s->y += s->vy;
                if (s->x < 0 || s->x > 636) s->vx = -s->vx;
                if (s->y < 0 || s->y > 396) s->vy = -s->vy;
                draw[visible++] = (SDL_Rect){(int)s->x, (int)s->y, 4, 4};
            }
        }

        SDL_SetRenderDrawColor(renderer, 16, 16, 24, 255);
        SDL_RenderClear(renderer);
        SDL_SetRenderDrawColor(renderer, 120, 200, 255, 255);
        if (draw) SDL_RenderFillRects(renderer, draw, visible);
        SDL_RenderPresent(renderer); /* the last use of this frame's memory */

        size_t used = fa_frame_used(fa);
        if (used > frame_bytes_peak) frame_bytes_peak = used;
        fa_end_frame(fa); /* 2. everything the frame allocated is released */
        if (!opt.quiet && frame % 60 == 0)
            printf("frame %ld: %zu bytes of frame memory, %zu input events\n", frame, used, input.len);
        if (!opt.frames) SDL_Delay(16);
    }

    fa_heap_free(fa, sprites);
    SDL_DestroyRenderer(renderer);
    SDL_DestroyWindow(window);
    long sdl_blocks = fa_sdl2_live_blocks();
    SDL_Quit();
    printf(
        "sdl2-loop: frames=%ld frame_bytes_peak=%llu sdl_blocks_while_running=%ld sdl_blocks_after_quit=%d\n",
        frame, (unsigned long long)frame_bytes_peak, sdl_blocks, SDL_GetNumAllocations());
    int rc = fa_sdl2_uninstall() == FA_OK ? 0 : 1;
    fa_destroy(fa);
    return rc;
}
