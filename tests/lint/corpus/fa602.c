/* FA602: heap or malloc allocation inside the frame loop. */
#include <framealloc.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH(n) malloc(n)

/* Allocates from the heap: fine at load time, not every frame. */
static char *load_text(const char *path) { return strdup(path); }

/* Opens its own frames: what it allocates inside them is its own business. */
static void run_level(fa_alloc_t *fa) {
    char *level = malloc(64); /* ok: FA602 */
    fa_begin_frame(fa);
    fa_end_frame(fa);
    free(level);
}

void game_loop(fa_alloc_t *fa, int frames) {
    char *assets = malloc(1024); /* ok: FA602 */
    for (int i = 0; i < frames; i++) {
        fa_begin_frame(fa);
        char *line = malloc(256); /* expect: FA602 */
        void *big = fa_heap_alloc(fa, 1 << 20, 0); /* expect: FA602 */
        char *tmp = SCRATCH(32); /* expect: FA602 macro */
        char *text = load_text("level.txt"); /* expect: FA602 cross */
        char *per_frame = fa_frame_alloc(fa, 256, 1); /* ok: FA602 */
        void *obj = fa_pool_alloc(fa, 64); /* ok: FA602 */
        memset(per_frame, 0, 256);
        fa_pool_free(fa, obj);
        free(line);
        free(tmp);
        free(text);
        fa_heap_free(fa, big);
        fa_end_frame(fa);
    }
    char *report = load_text("report.txt"); /* ok: FA602 */
    run_level(fa); /* ok: FA602 */
    free(report);
    free(assets);
}
