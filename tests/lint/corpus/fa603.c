/* FA603: frame allocation outside any begin/end frame, where provable. */
#include <fa_frame_vec.h>
#include <framealloc.h>
#include <stdio.h>

#define SCRATCH(fa) fa_frame_alloc((fa), 128, 16)

static char *describe(fa_alloc_t *fa, int n) { return fa_frame_sprintf(fa, "%d", n); }

/* Called from inside a frame by its callers: not provable here. */
static void helper(fa_alloc_t *fa) {
    char *s = fa_frame_strdup(fa, "tmp"); /* ok: FA603 */
    (void)s;
}

void loop(fa_alloc_t *fa, int frames) {
    for (int i = 0; i < frames; i++) {
        fa_begin_frame(fa);
        char *a = fa_frame_alloc(fa, 64, 0); /* ok: FA603 */
        char *b = describe(fa, i); /* ok: FA603 */
        helper(fa);
        (void)a;
        (void)b;
        fa_end_frame(fa);
    }
    char *summary = fa_frame_sprintf(fa, "%d frames", frames); /* expect: FA603 */
    char *scratch = SCRATCH(fa); /* expect: FA603 macro */
    char *text = describe(fa, frames); /* expect: FA603 cross */
    fa_frame_vec_t late;
    FA_FRAME_VEC_INIT(&late, fa, int);
    int *slot = fa_frame_vec_push(&late); /* expect: FA603 */
    (void)slot;
    (void)summary;
    (void)scratch;
    (void)text;
}

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    char *banner = fa_frame_strdup(fa, "hello"); /* expect: FA603 */
    loop(fa, 3);
    (void)banner;
    fa_destroy(fa);
    return 0;
}
