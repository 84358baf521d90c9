/* FA604: frame memory used after fa_end_frame. */
#include <framealloc.h>
#include <stdio.h>

#define FRAME_STR(fa, s) fa_frame_strdup((fa), (s))

static char *greeting(fa_alloc_t *fa) { return fa_frame_strdup(fa, "hi"); } /* expect: FA601 */

void use_after(fa_alloc_t *fa, int cond) {
    fa_begin_frame(fa);
    char *msg = fa_frame_strdup(fa, "hello");
    char *m2 = FRAME_STR(fa, "macro");
    char *g = greeting(fa);
    char *kept = fa_frame_strdup(fa, "kept");
    puts(kept); /* ok: FA604 */
    fa_end_frame(fa);
    puts(msg); /* expect: FA604 */
    puts(m2); /* expect: FA604 macro */
    puts(g); /* expect: FA604 cross */

    fa_begin_frame(fa);
    msg = fa_frame_strdup(fa, "again");
    puts(msg); /* ok: FA604 */
    char *maybe = fa_frame_strdup(fa, "maybe");
    if (cond) fa_end_frame(fa);
    puts(maybe); /* ok: FA604 */
    if (!cond) fa_end_frame(fa);
}
