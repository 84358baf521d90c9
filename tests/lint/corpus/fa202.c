/* FA202: a thread function allocates frame memory without its own frames. */
#include <framealloc.h>
#include <pthread.h>
#include <threads.h>

static fa_alloc_t *g_fa;
static volatile int g_running = 1;

#define TMP_FLOATS(n) FA_FRAME_ARRAY(g_fa, float, (n))

static void fill(float *v, int n) {
    for (int i = 0; i < n; i++) v[i] = 0;
}

/* Allocates frame memory for its caller. */
static float *scratch(int n) { return FA_FRAME_ARRAY(g_fa, float, n); } /* expect: FA601 */

static void *no_frames(void *arg) { /* expect: FA202 */
    while (g_running) {
        float *v = FA_FRAME_ARRAY(g_fa, float, 64);
        fill(v, 64);
    }
    return arg;
}

static int via_macro(void *arg) { /* expect: FA202 macro */
    float *v = TMP_FLOATS(16);
    fill(v, 16);
    return arg != 0;
}

static void *via_helper(void *arg) { /* expect: FA202 cross */
    fill(scratch(8), 8);
    return arg;
}

static void *with_frames(void *arg) { /* ok: FA202 */
    while (g_running) {
        fa_begin_frame(g_fa);
        float *v = FA_FRAME_ARRAY(g_fa, float, 64);
        fill(v, 64);
        fa_end_frame(g_fa);
    }
    return arg;
}

static void *pool_only(void *arg) { /* ok: FA202 */
    void *p = fa_pool_alloc(g_fa, 64);
    fa_pool_free(g_fa, p);
    return arg;
}

void start(void) {
    pthread_t t;
    thrd_t c;
    pthread_create(&t, NULL, no_frames, NULL);
    thrd_create(&c, via_macro, NULL);
    pthread_create(&t, NULL, via_helper, NULL);
    pthread_create(&t, NULL, with_frames, NULL);
    pthread_create(&t, NULL, pool_only, NULL);
}
