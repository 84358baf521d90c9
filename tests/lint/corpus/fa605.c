/* FA605: memory given to the wrong free. */
#include <framealloc.h>
#include <stdlib.h>

#define RELEASE(p) free(p)

static void release_block(fa_alloc_t *fa, void *p) { fa_pool_free(fa, p); }

void frees(fa_alloc_t *fa) {
    char *frame = fa_frame_alloc(fa, 32, 0);
    char *m = malloc(32);
    void *pool = fa_pool_alloc(fa, 32);
    void *heap = fa_heap_alloc(fa, 32, 0);
    free(frame); /* expect: FA605 */
    fa_pool_free(fa, m); /* expect: FA605 */
    RELEASE(pool); /* expect: FA605 macro */
    release_block(fa, heap); /* expect: FA605 cross */
    void *grown = fa_heap_realloc(fa, frame, 64, 0); /* expect: FA605 */

    void *pool2 = fa_pool_alloc(fa, 32);
    void *heap2 = fa_heap_alloc(fa, 64, 0);
    char *m2 = malloc(8);
    fa_pool_free(fa, pool2); /* ok: FA605 */
    fa_heap_free(fa, heap2); /* ok: FA605 */
    RELEASE(m2); /* ok: FA605 */
    void *tagged = fa_heap_alloc_tagged(fa, 0, 32, 0);
    tagged = fa_heap_realloc(fa, tagged, 64, 0); /* ok: FA605 */
    fa_heap_free(fa, tagged); /* ok: FA605 */
    void *pt = fa_pool_alloc_tagged(fa, 0, 32);
    fa_heap_free(fa, pt); /* expect: FA605 */
    char *m3 = malloc(8);
    void *pr = fa_pool_realloc(fa, m3, 64, 0); /* expect: FA605 */
    void *pt2 = fa_pool_alloc_tagged(fa, 0, 16);
    pt2 = fa_pool_realloc(fa, pt2, 64, 0); /* ok: FA605 */
    fa_pool_free(fa, pt2); /* ok: FA605 */
    (void)grown;
    (void)pr;
    release_block(fa, fa_pool_alloc(fa, 16)); /* ok: FA605 */
}
