/* FA201: frame memory passed to another thread without fa_transfer_*. */
#include <framealloc.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>
#include <uv.h>

typedef struct job {
    float *items;
    int count;
} job_t;

static void *worker(void *arg) { return arg; }
static int c11_worker(void *arg) { return arg != 0; }
static void work_cb(uv_work_t *req) { (void)req; }
static void after_cb(uv_work_t *req, int status) { (void)req, (void)status; }

#define START(t, arg) pthread_create((t), NULL, worker, (arg))

/* Starts a thread on whatever it is given. */
static void start_worker(pthread_t *t, void *data) { pthread_create(t, NULL, worker, data); }

void spawn(fa_alloc_t *fa, uv_loop_t *loop, uv_work_t *req) {
    pthread_t t;
    thrd_t c11;
    fa_begin_frame(fa);
    float *items = FA_FRAME_ARRAY(fa, float, 64);
    pthread_create(&t, NULL, worker, items); /* expect: FA201 */
    job_t job = {.items = items, .count = 64};
    thrd_create(&c11, c11_worker, &job); /* expect: FA201 */
    START(&t, items); /* expect: FA201 macro */
    start_worker(&t, items); /* expect: FA201 cross */
    req->data = items; /* expect: FA701 */
    uv_queue_work(loop, req, work_cb, after_cb); /* expect: FA201 */

    fa_transfer_t h = fa_transfer_from_frame(fa, items, 64 * sizeof *items);
    fa_transfer_send(fa, h);
    pthread_create(&t, NULL, worker, (void *)(uintptr_t)h.id); /* ok: FA201 */
    void *shared = fa_pool_alloc(fa, 256);
    start_worker(&t, shared); /* ok: FA201 */
    job_t pooled = {.items = fa_pool_alloc(fa, 64 * sizeof(float)), .count = 64};
    thrd_create(&c11, c11_worker, &pooled); /* ok: FA201 */
    fa_end_frame(fa);
}
