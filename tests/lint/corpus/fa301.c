/* FA301: allocation in an unbounded loop under a tag no code budgets. */
#include <framealloc.h>

static volatile int g_running = 1;

#define PARTICLES(fa) FA_TAG_SCOPE((fa), "particles")

static void setup_budgets(fa_alloc_t *fa) {
    fa_budget_set(fa, "physics", 0, 1 << 20);
}

void spawn_forever(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "particles");
    while (g_running) {
        void *p = fa_pool_alloc(fa, 64); /* expect: FA301 */
        fa_pool_free(fa, p);
    }
}

void spawn_macro(fa_alloc_t *fa) {
    PARTICLES(fa);
    for (;;) {
        void *p = fa_pool_alloc(fa, 64); /* expect: FA301 macro */
        if (!p) break;
        fa_pool_free(fa, p);
    }
}

void budgeted_elsewhere(fa_alloc_t *fa) {
    setup_budgets(fa);
    FA_WITH_TAG(fa, "physics") {
        while (g_running) {
            void *p = fa_pool_alloc(fa, 64); /* ok: FA301 */
            fa_pool_free(fa, p);
        }
    }
}

void nested_under_budget(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "physics");
    FA_TAG_SCOPE(fa, "contacts");
    while (g_running) {
        char *c = fa_frame_alloc(fa, 32, 0); /* ok: FA301 */
        (void)c;
    }
}

int next_event(int *ev);

/* Draining a queue: bounded by what is in it. */
void drain(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "particles");
    int ev;
    while (next_event(&ev)) {
        void *p = fa_pool_alloc(fa, 64); /* ok: FA301 */
        fa_pool_free(fa, p);
    }
}

void bounded(fa_alloc_t *fa, int n) {
    FA_TAG_SCOPE(fa, "particles");
    for (int i = 0; i < n; i++) {
        void *p = fa_pool_alloc(fa, 64); /* ok: FA301 */
        fa_pool_free(fa, p);
    }
}

/* Allocates for its caller's loop. */
static void *spawn_one(fa_alloc_t *fa) { return fa_pool_alloc(fa, 64); }

void pump(fa_alloc_t *fa) {
    fa_tag_push(fa, "audio");
    while (g_running) {
        void *p = spawn_one(fa); /* expect: FA301 cross */
        fa_pool_free(fa, p);
    }
    fa_tag_pop(fa);
}
