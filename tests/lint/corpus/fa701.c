/* FA701: frame memory stored in a libuv request/handle or given as the
 * argument of a callback. */
#include <framealloc.h>
#include <stdlib.h>
#include <uv.h>

typedef void (*done_fn)(void *user);
void register_done(done_fn cb, void *user); /* calls cb later, from its loop */
void visit_each_node(done_fn cb, void *user); /* calls cb before returning */
void apply_now(done_fn cb, void *user);       /* the same; listed in .fa.toml sync_callbacks */

static void on_done(void *user) { (void)user; }
static int compare(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

#define ATTACH(h, p) uv_handle_set_data((uv_handle_t *)(h), (p))

/* Keeps what it is given for the timer's callback. */
static void arm(uv_timer_t *timer, void *state) { timer->data = state; }

void async(fa_alloc_t *fa, uv_timer_t *timer, uv_fs_t *fs) {
    fa_begin_frame(fa);
    char *path = fa_frame_strdup(fa, "save.dat");
    fs->data = path; /* expect: FA701 */
    register_done(on_done, path); /* expect: FA701 */
    ATTACH(timer, path); /* expect: FA701 macro */
    arm(timer, path); /* expect: FA701 cross */

    int *keys = FA_FRAME_ARRAY(fa, int, 16);
    qsort(keys, 16, sizeof *keys, compare); /* ok: FA701 */
    void *state = fa_pool_alloc(fa, 64);
    arm(timer, state); /* ok: FA701 */
    fs->data = fa_pool_alloc(fa, 16); /* ok: FA701 */
    register_done(on_done, NULL); /* ok: FA701 */
    visit_each_node(on_done, path); /* ok: FA701 */
    apply_now(on_done, path); /* ok: FA701 */
    fa_end_frame(fa);
}
