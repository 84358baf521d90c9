/* The frame barrier and per-thread frame budgets. */
#include "capture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct party {
    fa_barrier_t *b;
    int rounds;
    _Atomic int *work;
} party_t;

static void *party_loop(void *arg) {
    party_t *p = arg;
    for (int r = 0; r < p->rounds; r++) {
        atomic_fetch_add(p->work, 1);
        if (fa_barrier_arrive_and_wait(p->b, FA_WAIT_FOREVER) != FA_OK) return (void *)1;
    }
    return NULL;
}

Test(barrier, waiters_wake_when_all_parties_signalled_every_round) {
    fa_barrier_t b;
    cr_assert_eq(fa_barrier_init(&b, 3), FA_OK);
    _Atomic int work = 0;
    party_t p = {.b = &b, .rounds = 1000, .work = &work};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, party_loop, &p);
    for (int r = 0; r < 1000; r++) {
        atomic_fetch_add(&work, 1);
        cr_assert_eq(fa_barrier_arrive_and_wait(&b, FA_WAIT_FOREVER), FA_OK);
        /* Every party did round r's work before anyone passed round r. */
        cr_assert_geq(atomic_load(&work), 3 * (r + 1));
    }
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc);
    }
    cr_assert_eq(fa_barrier_rounds(&b), 1000);
    fa_barrier_fini(&b);
}

Test(barrier, a_late_waiter_returns_at_once_and_a_missing_party_times_out) {
    fa_barrier_t b;
    fa_barrier_init(&b, 2);
    uint64_t r1 = fa_barrier_signal(&b);
    cr_assert_eq(r1, 1);
    fa_barrier_signal(&b); /* round 1 complete before anyone waits */
    cr_assert_eq(fa_barrier_wait(&b, r1, 0), FA_OK, "no lost wake-up for a late waiter");
    uint64_t r2 = fa_barrier_signal(&b);
    struct timespec a, z;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(fa_barrier_wait(&b, r2, 20 * 1000000ull), FA_ERR_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &z);
    double ms = (double)(z.tv_sec - a.tv_sec) * 1e3 + (double)(z.tv_nsec - a.tv_nsec) / 1e6;
    cr_assert_geq(ms, 19.0);
    cr_assert_eq(fa_barrier_init(&b, 0), FA_ERR_INVALID_ARG);
    fa_barrier_fini(&b);
}

#ifndef FA_MINIMAL
Test(thread_budget, frame_bytes_of_a_thread_warn_and_fail_per_frame) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_budget_desc_t d = {.hard_bytes = 10000, .policy = FA_POLICY_FAIL};
    cr_assert_eq(fa_thread_budget_set(fa, &d), FA_OK);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 8000, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, NULL), 1);
    cr_assert(c.events[0].thread_budget);
    cr_assert_null(fa_frame_alloc(fa, 3000, 1), "8000 + 3000 exceeds the thread's 10000");
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, NULL), 1);
    cr_assert_not_null(fa_frame_alloc(fa, 2000, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, NULL), 1);
    fa_end_frame(fa);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 9000, 1), "a new frame starts from zero");
    fa_end_frame(fa);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, NULL), 2);
    fa_budget_desc_t off = {0};
    fa_thread_budget_set(fa, &off);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 50000, 1));
    fa_end_frame(fa);
    fa_destroy(fa);
}
#endif
