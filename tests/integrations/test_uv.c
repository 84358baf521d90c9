/* libuv through fa_uv: the bytes libuv holds are what a reference allocator
 * sees for the same work (libuv publishes no figure; its allocator can only
 * be replaced once per process, so the reference runs in a child), and
 * closing the loop and uv_library_shutdown() give everything back. */
#include "integ_test.h"

#include <fa_uv.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define REQS 64

typedef struct work {
    uv_loop_t loop;
    uv_fs_t stat[REQS];
    uv_work_t jobs[REQS];
    uv_timer_t timer;
    int stats_done, jobs_done;
} work_t;

static void on_stat(uv_fs_t *req) {
    work_t *w = req->data;
    w->stats_done++;
    uv_fs_req_cleanup(req);
}
static void job(uv_work_t *req) {
    (void)req;
}
static void job_done(uv_work_t *req, int status) {
    (void)status;
    ((work_t *)req->data)->jobs_done++;
}

/* Queues the work; returns before the loop runs (libuv's bytes are then a
 * fixed function of what was queued). */
static void start(work_t *w) {
    cr_assert_eq(uv_loop_init(&w->loop), 0);
    uv_timer_init(&w->loop, &w->timer);
    for (int i = 0; i < REQS; i++) {
        w->stat[i].data = w;
        cr_assert_eq(
            uv_fs_stat(&w->loop, &w->stat[i], "/tmp/framealloc-uv-test-path-that-is-copied", on_stat), 0);
    }
}

static void finish(work_t *w) {
    for (int i = 0; i < REQS; i++) {
        w->jobs[i].data = w;
        uv_queue_work(&w->loop, &w->jobs[i], job, job_done);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    cr_assert_eq(w->stats_done, REQS);
    cr_assert_eq(w->jobs_done, REQS);
    uv_close((uv_handle_t *)&w->timer, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&w->loop), 0);
}

/* The same work in a child with a counting allocator: its live bytes after
 * start(). */
static size_t reference_bytes(void) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        uv_replace_allocator(ref_malloc, ref_realloc, ref_calloc, ref_free);
        static work_t w;
        start(&w);
        size_t n = ref_live;
        (void)!write(fds[1], &n, sizeof n);
        _exit(0);
    }
    size_t n = 0;
    cr_assert_eq(read(fds[0], &n, sizeof n), (ssize_t)sizeof n);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    return n;
}

Test(uv, libuvs_bytes_match_a_reference_run_and_drop_to_zero_at_library_shutdown) {
    size_t reference = reference_bytes();
    cr_assert_gt(reference, REQS * 40, "each async request copies its path");
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_uv_install(fa, "net/uv"), FA_OK);
    static work_t w;
    start(&w);
    cr_assert_eq(tag_heap(fa, "net/uv"), reference);
    cr_assert_gt(fa_uv_live_blocks(), REQS - 1);
    cr_assert_eq(fa_uv_uninstall(), FA_ERR_STATE, "refused while libuv holds blocks");
    finish(&w);
    uv_library_shutdown();
    cr_assert_eq(tag_heap(fa, "net/uv"), 0);
    cr_assert_eq(fa_uv_live_blocks(), 0);
    cr_assert_eq(fa_uv_uninstall(), FA_OK);
    fa_destroy(fa);
}
