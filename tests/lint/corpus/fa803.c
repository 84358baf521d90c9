/* FA803: fa_tag_push without a matching pop on every path. */
#include <framealloc.h>

#define PUSH_AI(fa) fa_tag_push((fa), "ai")

/* Pushes and leaves the pop to its caller. */
static void begin_ai(fa_alloc_t *fa) {
    fa_tag_push(fa, "ai"); /* expect: FA803 cross */
}

int early_return(fa_alloc_t *fa, const char *path) {
    fa_tag_push(fa, "ai"); /* expect: FA803 */
    if (!path) return -1;
    fa_tag_pop(fa);
    return 0;
}

void loop_break(fa_alloc_t *fa, int n) {
    for (int i = 0; i < n; i++) {
        PUSH_AI(fa); /* expect: FA803 macro */
        if (i == 3) break;
        fa_tag_pop(fa);
    }
}

int balanced(fa_alloc_t *fa, const char *path) {
    if (fa_tag_push(fa, "ai") < 0) return -1; /* ok: FA803 */
    int rc = 0;
    if (!path) {
        rc = -1;
        goto out;
    }
    rc = 1;
out:
    fa_tag_pop(fa);
    return rc;
}

int flagged(fa_alloc_t *fa, int tag, int busy) {
    int pushed = !busy && fa_tag_push_id(fa, tag) >= 0; /* ok: FA803 */
    if (!busy) fa_frame_alloc(fa, 16, 0);
    if (pushed) fa_tag_pop(fa);
    return pushed;
}

int scoped(fa_alloc_t *fa, const char *path) {
    FA_TAG_SCOPE(fa, "ai"); /* ok: FA803 */
    if (!path) return -1;
    return 0;
}

void caller(fa_alloc_t *fa) {
    begin_ai(fa);
    fa_tag_pop(fa);
}
