/* FA001: a suppression must give its reason; a reasoned one silences its
 * finding, an unreasoned one silences nothing. */
#include <framealloc.h>
#include <stdlib.h>

void load(fa_alloc_t *fa) {
    fa_begin_frame(fa);
    char *level = malloc(4096); /* fa-lint: allow(FA602) level load happens once, behind a loading screen */
    /* fa-lint: allow(FA602) the streaming buffer is reused for the session */
    char *stream = malloc(1 << 20);
    char *oops = malloc(16); /* fa-lint: allow(FA602) */ /* expect: FA001 */ /* expect: FA602 */
    /* expect-next: FA001 */
    // fa-lint: allow(FA602)
    char *again = malloc(16); /* expect: FA602 */
    char *typo = malloc(16); // fa-lint: allow(FA6O2) nothing /* expect: FA001 */ /* expect: FA602 */
    free(level), free(stream), free(oops), free(again), free(typo);
    fa_end_frame(fa);
}
