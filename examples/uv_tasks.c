/* libuv work items with the framealloc task allocator.
 *
 * The loop thread starts a task per work item (fa_task_begin), a libuv
 * worker thread fills it (fa_task_alloc: pool-backed, attributed to the
 * task's tag), and the after-work callback on the loop thread reads the
 * result and ends the task, which releases everything it allocated. Frame
 * memory never crosses into a task. Prints a check line and exits 0 when
 * every result arrived and no pool or heap byte is left live.
 *
 *   uv_tasks [--jobs N]
 */
#include <framealloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct job {
    uv_work_t req;
    fa_alloc_t *fa;
    fa_task_t *task;
    int index;
    char *result; /* task memory, read by the loop thread */
    size_t bytes;
} job_t;

static int completed;

static void work(uv_work_t *req) {
    job_t *j = req->data;
    /* A worker thread: a few allocations of varying sizes, like decoding an
     * asset or building a path. */
    for (int i = 0; i < 50; i++) {
        char *scratch = fa_task_alloc(j->task, (size_t)(64 + (i * 97 + j->index) % 3000));
        if (scratch) memset(scratch, i, 64);
    }
    j->result = fa_task_alloc(j->task, 64);
    if (j->result) snprintf(j->result, 64, "job %d done", j->index);
    j->bytes = fa_task_bytes(j->task);
}

static void after_work(uv_work_t *req, int status) {
    job_t *j = req->data;
    char expected[64];
    snprintf(expected, sizeof expected, "job %d done", j->index);
    if (status == 0 && j->result && strcmp(j->result, expected) == 0 && j->bytes > 0) completed++;
    fa_task_end(j->task); /* everything the worker allocated goes here */
}

int main(int argc, char **argv) {
    int jobs = 64;
    if (argc == 3 && strcmp(argv[1], "--jobs") == 0) jobs = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: uv_tasks [--jobs N]\n");
        return 2;
    }
    if (jobs < 1 || jobs > 100000) {
        fprintf(stderr, "uv_tasks: --jobs must be 1..100000\n");
        return 2;
    }
    fa_alloc_t *fa = fa_create(NULL);
    uv_loop_t *loop = uv_default_loop();
    job_t *all = calloc((size_t)jobs, sizeof *all);
    fa_begin_frame(fa);
    for (int i = 0; i < jobs; i++) {
        all[i] = (job_t){.fa = fa, .index = i, .task = fa_task_begin(fa, "assets/streaming")};
        all[i].req.data = &all[i];
        uv_queue_work(loop, &all[i].req, work, after_work);
    }
    fa_end_frame(fa); /* the frame ends while the work is in flight: tasks do not care */
    uv_run(loop, UV_RUN_DEFAULT);
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    int clean = s.totals[FA_KIND_POOL].in_use == 0 && s.totals[FA_KIND_HEAP].in_use == 0;
    printf("uv_tasks: %d of %d jobs completed, pool %llu B and heap %llu B left live\n", completed, jobs,
           (unsigned long long)s.totals[FA_KIND_POOL].in_use, (unsigned long long)s.totals[FA_KIND_HEAP].in_use);
    int ok = completed == jobs && clean;
    printf("uv_tasks: %d passed, %d failed\n", ok, !ok);
    free(all);
    uv_loop_close(loop);
    fa_destroy(fa);
    return ok ? 0 : 1;
}
