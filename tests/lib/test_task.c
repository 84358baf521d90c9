/* The task allocator: everything a task allocated goes when it ends, from
 * whatever thread. */
#include "capture.h"

#include <pthread.h>

typedef struct job {
    fa_task_t *task;
    int ok;
} job_t;

static void *work(void *arg) {
    job_t *j = arg;
    j->ok = 1;
    for (int i = 0; i < 200; i++) {
        char *p = fa_task_alloc(j->task, (size_t)(i * 37 % 5000) + 1);
        if (!p) j->ok = 0;
        else p[0] = 1;
    }
    return NULL;
}

Test(task, every_block_of_a_task_is_released_when_it_ends_whatever_thread_allocated_it) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_snapshot_t s = {0};
    fa_task_t *task = fa_task_begin(fa, "assets/streaming");
    cr_assert_not_null(task);
    job_t j = {.task = task};
    pthread_t th;
    pthread_create(&th, NULL, work, &j);
    pthread_join(th, NULL);
    cr_assert(j.ok);
    cr_assert_gt(fa_task_bytes(task), 100000);
#ifdef FA_EXACT_FIGURES
    fa_tag_row_t rows[8];
    s.rows = rows;
    s.rows_capacity = 8;
    fa_snapshot_take(fa, &s);
    const fa_tag_row_t *r = row_of(&s, "assets/streaming");
    cr_assert_not_null(r);
    cr_assert_gt(r->self.pool_bytes + r->self.heap_bytes, 100000, "task memory is attributed to the task's tag");
#endif
    fa_task_end(task); /* on the main thread */
    fa_snapshot_take(fa, &s);
#ifndef FA_MINIMAL
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 0);
    cr_assert_eq(s.totals[FA_KIND_HEAP].in_use, 0);
#endif
    fa_destroy(fa);
}

Test(task, a_block_may_be_released_early) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_task_t *task = fa_task_begin(fa, NULL);
    void *a = fa_task_alloc(task, 100), *b = fa_task_alloc(task, 200);
    cr_assert_eq(fa_task_bytes(task), 300);
    fa_task_free(task, a);
    cr_assert_eq(fa_task_bytes(task), 200);
    memset(b, 1, 200);
    fa_task_end(task);
    fa_task_end(NULL);
    fa_destroy(fa);
}

Test(task, task_memory_is_not_frame_memory) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_task_t *task = fa_task_begin(fa, "jobs");
    char *p = fa_task_alloc(task, 64);
    strcpy(p, "survives the frame");
    fa_end_frame(fa);
    fa_begin_frame(fa);
    memset(fa_frame_alloc(fa, 100000, 16), 0, 100000);
    cr_assert_str_eq(p, "survives the frame");
    fa_end_frame(fa);
    fa_task_end(task);
    fa_destroy(fa);
}
