/* FA601: a frame pointer escapes its frame. */
#include <fa_frame_vec.h>
#include <framealloc.h>
#include <stdlib.h>

typedef struct entity {
    const char *name;
    int hp;
} entity_t;

typedef struct label {
    const char *text;
} label_t;

static const char *g_last_name;
static entity_t g_player;
static fa_frame_vec_t g_hits;
static int *g_first_hit;
#define REMEMBER(p) (g_last_name = (p))

/* Stores its argument for longer than any frame. */
static void remember(const char *name) { g_last_name = name; }

static const char *make_label(fa_alloc_t *fa, int n) {
    char *s = fa_frame_sprintf(fa, "unit %d", n);
    return s; /* expect: FA601 */
}

/* Listed in .fa.toml's frame_functions: returning frame memory is its job. */
static const char *frame_label(fa_alloc_t *fa, int n) {
    return fa_frame_sprintf(fa, "label %d", n); /* ok: FA601 */
}

void frame(fa_alloc_t *fa, entity_t *pooled_owner) {
    fa_begin_frame(fa);
    char *name = fa_frame_strdup(fa, "player");
    g_last_name = name; /* expect: FA601 */
    REMEMBER(name); /* expect: FA601 macro */
    remember(name); /* expect: FA601 cross */
    g_player.name = name; /* expect: FA601 */
    entity_t *e = fa_pool_alloc(fa, sizeof *e);
    e->name = fa_frame_strdup(fa, "enemy"); /* expect: FA601 */
    pooled_owner->name = name; /* expect: FA601 */
    static const char *cached;
    cached = make_label(fa, 3); /* expect: FA601 */

    label_t tmp;
    tmp.text = name; /* ok: FA601 */
    const char *local = frame_label(fa, 1); /* ok: FA601 */
    char *copy = fa_frame_strdup(fa, local); /* ok: FA601 */
    remember("static text"); /* ok: FA601 */
    e->name = "static"; /* ok: FA601 */
    fa_frame_vec_t hits;
    FA_FRAME_VEC_INIT(&hits, fa, int);
    int *hit = fa_frame_vec_push(&hits); /* ok: FA601 */
    g_first_hit = hit; /* expect: FA601 */
    g_hits = hits; /* expect: FA601 */
    (void)tmp;
    (void)copy;
    fa_pool_free(fa, e);
    fa_end_frame(fa);
}
