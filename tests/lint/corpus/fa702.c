/* FA702: frame memory used inside a libuv work or after-work callback. */
#include <framealloc.h>
#include <uv.h>

static fa_alloc_t *g_fa;
static fa_task_t *g_task;

#define TMP(n) fa_frame_alloc(g_fa, (n), 16)

static float *scratch(int n) { return FA_FRAME_ARRAY(g_fa, float, n); } /* expect: FA601 */

static void work_direct(uv_work_t *req) { /* expect: FA702 */
    float *v = FA_FRAME_ARRAY(g_fa, float, 64);
    v[0] = 1;
    (void)req;
}

static void work_macro(uv_work_t *req) { /* expect: FA702 macro */
    char *t = TMP(32);
    t[0] = 0;
    (void)req;
}

static void work_helper(uv_work_t *req) { /* expect: FA702 cross */
    scratch(8)[0] = 1;
    (void)req;
}

static void after_fed(uv_work_t *req, int status) {
    float *items = req->data; /* expect: FA702 */
    items[0] = (float)status;
}

static void work_task(uv_work_t *req) { /* ok: FA702 */
    float *v = fa_task_alloc(g_task, 64 * sizeof(float));
    v[0] = 1;
    (void)req;
}

static void after_pool(uv_work_t *req, int status) {
    float *items = req->data; /* ok: FA702 */
    items[0] = (float)status;
    fa_pool_free(g_fa, items);
}

void queue(uv_loop_t *loop, uv_work_t *a, uv_work_t *b, uv_work_t *c, uv_work_t *d, uv_work_t *e) {
    fa_begin_frame(g_fa);
    uv_queue_work(loop, a, work_direct, NULL);
    uv_queue_work(loop, b, work_macro, NULL);
    uv_queue_work(loop, c, work_helper, after_pool);
    d->data = FA_FRAME_ARRAY(g_fa, float, 4); /* expect: FA701 */
    uv_queue_work(loop, d, work_task, after_fed); /* expect: FA201 */
    c->data = fa_pool_alloc(g_fa, 16);
    uv_queue_work(loop, e, work_task, NULL);
    fa_end_frame(g_fa);
}
