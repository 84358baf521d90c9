/* Budgets: events at 80 % and 100 % once per frame, soft limits, the fail
 * and callback policies, children counting toward parents, and usage that
 * follows frees and frame ends. Budgets are compiled out in FA_MINIMAL. */
#include "capture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#ifdef FA_EXACT_FIGURES

Test(budget, warning_at_80_percent_and_exceeded_at_100_percent_once_per_frame) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    cr_assert_eq(fa_budget_set(fa, "physics", 0, 1000), FA_OK);
    fa_begin_frame(fa);
    fa_tag_push(fa, "physics");
    cr_assert_not_null(fa_frame_alloc(fa, 700, 1));
    cr_assert_eq(c.event_count, 0, "70 %% raises nothing");
    cr_assert_not_null(fa_frame_alloc(fa, 100, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, "physics"), 1);
    cr_assert_not_null(fa_frame_alloc(fa, 50, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, "physics"), 1, "once per frame");
    cr_assert_not_null(fa_frame_alloc(fa, 150, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, "physics"), 1);
    cr_assert_not_null(fa_frame_alloc(fa, 500, 1), "the default policy warns and allows");
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, "physics"), 1, "once per frame");
    cr_assert_eq(c.events[0].usage, 800);
    cr_assert_eq(c.events[0].hard, 1000);
    fa_tag_pop(fa);
    fa_end_frame(fa);
    /* Next frame: usage starts again from zero and events may fire again. */
    fa_begin_frame(fa);
    fa_tag_push(fa, "physics");
    cr_assert_not_null(fa_frame_alloc(fa, 900, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, "physics"), 2);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, "physics"), 1);
    fa_tag_pop(fa);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(budget, soft_limit_raises_its_own_event) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_budget_set(fa, "audio", 100, 0);
    fa_tag_push(fa, "audio");
    void *p = fa_pool_alloc(fa, 128);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_SOFT, "audio"), 1);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, NULL), 0, "no hard limit, no 80 %% warning");
    fa_pool_free(fa, p);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, fail_policy_refuses_the_allocation_with_null) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "assets", 0, 10000);
    fa_tag_push(fa, "assets");
    void *a = fa_heap_alloc(fa, 8000, 16);
    cr_assert_not_null(a);
    cr_assert_null(fa_heap_alloc(fa, 4000, 16));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "assets"), 1);
    cr_assert_eq(capture_count_error(&c, FA_ERR_BUDGET), 1);
    /* The refused bytes were not kept in the usage: 2000 more still fit. */
    void *b = fa_heap_alloc(fa, 2000, 16);
    cr_assert_not_null(b);
    fa_heap_free(fa, a);
    void *d = fa_heap_alloc(fa, 7000, 16);
    cr_assert_not_null(d, "freeing gives the budget back");
    fa_begin_frame(fa);
    cr_assert_null(fa_frame_alloc(fa, 2000, 8));
    cr_assert_null(fa_pool_alloc(fa, 2048));
    fa_end_frame(fa);
    fa_heap_free(fa, b);
    fa_heap_free(fa, d);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, per_tag_policy_overrides_the_config) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_budget_desc_t d = {.hard_bytes = 100, .policy = FA_POLICY_FAIL};
    cr_assert_eq(fa_budget_set_ex(fa, "ui", &d), FA_OK);
    fa_budget_desc_t got;
    cr_assert_eq(fa_budget_get(fa, "ui", &got), FA_OK);
    cr_assert_eq(got.hard_bytes, 100);
    cr_assert_eq(got.policy, FA_POLICY_FAIL);
    fa_tag_push(fa, "ui");
    cr_assert_null(fa_pool_alloc(fa, 200));
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, callback_policy_lets_the_callback_decide) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_CALLBACK};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "ai", 0, 64);
    fa_tag_push(fa, "ai");
    c.allow = false;
    cr_assert_null(fa_pool_alloc(fa, 100));
    c.allow = true;
    void *p = fa_pool_alloc(fa, 100);
    cr_assert_not_null(p);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "ai"), 2);
    fa_pool_free(fa, p);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, a_parent_budget_counts_its_children) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "physics", 0, 1000);
    fa_begin_frame(fa);
    fa_tag_push(fa, "physics");
    fa_tag_push(fa, "contacts");
    cr_assert_not_null(fa_frame_alloc(fa, 600, 1));
    fa_tag_pop(fa);
    fa_tag_push(fa, "broadphase");
    cr_assert_null(fa_frame_alloc(fa, 600, 1), "600 + 600 exceeds the parent's 1000");
    cr_assert_not_null(fa_frame_alloc(fa, 400, 1));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "physics"), 1);
    fa_tag_pop(fa);
    fa_tag_pop(fa);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(budget, a_child_budget_and_a_parent_budget_both_apply) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "render", 0, 10000);
    fa_budget_set(fa, "render/ui", 0, 100);
    fa_tag_push(fa, "render/ui");
    cr_assert_null(fa_heap_alloc(fa, 200, 0));
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "render/ui"), 1);
    fa_tag_pop(fa);
    fa_tag_push(fa, "render");
    void *p = fa_heap_alloc(fa, 9950, 0);
    cr_assert_not_null(p, "the refused child allocation left nothing charged on the parent");
    fa_heap_free(fa, p);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, setting_a_budget_counts_what_the_tag_already_holds) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_tag_push(fa, "assets/streaming");
    void *a = fa_heap_alloc(fa, 900, 0);
    fa_tag_pop(fa);
    fa_budget_set(fa, "assets", 0, 1000);
    fa_tag_push(fa, "assets");
    cr_assert_null(fa_heap_alloc(fa, 200, 0));
    void *b = fa_heap_alloc(fa, 100, 0);
    cr_assert_not_null(b);
    fa_heap_free(fa, a);
    fa_heap_free(fa, b);
    void *d = fa_heap_alloc(fa, 1000, 0);
    cr_assert_not_null(d);
    fa_heap_free(fa, d);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(budget, a_budget_set_inside_a_frame_counts_the_frame_bytes_already_allocated) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    fa_tag_push(fa, "late");
    cr_assert_not_null(fa_frame_alloc(fa, 900, 1), "no budget yet: the fast path");
    cr_assert_eq(fa_budget_set(fa, "late", 0, 1000), FA_OK);
    cr_assert_null(fa_frame_alloc(fa, 200, 1), "900 in use + 200 > 1000");
    cr_assert_not_null(fa_frame_alloc(fa, 100, 1), "900 + 100 = 1000 fits");
    cr_assert_null(fa_frame_alloc(fa, 1, 1));
    fa_end_frame(fa);
    /* No drift: the frame end gave back exactly what was counted. */
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 1000, 1));
    cr_assert_null(fa_frame_alloc(fa, 1, 1), "usage is exactly 1000, not less");
    fa_tag_pop(fa);
    fa_end_frame(fa);
    fa_destroy(fa);
}

/* The largest usage any budget event reported must stay a plausible figure:
 * a usage driven negative shows as 0 or as a huge number. */
static uint64_t max_event_usage(capture_t *c) {
    uint64_t m = 0;
    for (int i = 0; i < c->event_count && i < CAPTURE_MAX; i++)
        if (c->events[i].usage > m) m = c->events[i].usage;
    return m;
}

Test(budget, a_child_budget_set_after_its_parent_was_charged_stays_exact) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "physics", 0, 10000);
    fa_begin_frame(fa);
    fa_tag_push(fa, "physics/contacts");
    cr_assert_not_null(fa_frame_alloc(fa, 600, 1)); /* charged to physics */
    void *keep = fa_pool_alloc(fa, 256);             /* charged to physics */
    cr_assert_eq(fa_budget_set(fa, "physics/contacts", 0, 1000), FA_OK);
    cr_assert_null(fa_frame_alloc(fa, 200, 1), "600 + 256 in use: 200 more exceed 1000");
    cr_assert_not_null(fa_frame_alloc(fa, 144, 1));
    fa_end_frame(fa);
    /* Next frame: only the pool block is in use (256). */
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 744, 1));
    cr_assert_null(fa_frame_alloc(fa, 1, 1), "the child's usage is exactly 1000, never below");
    fa_end_frame(fa);
    fa_pool_free(fa, keep);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 1000, 1));
    cr_assert_null(fa_frame_alloc(fa, 1, 1));
    fa_end_frame(fa);
    fa_tag_pop(fa);
    cr_assert_leq(max_event_usage(&c), 20000);
    fa_destroy(fa);
}

Test(budget, changing_a_budget_inside_a_frame_keeps_its_usage_exact) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "ai", 0, 1000);
    fa_tag_push(fa, "ai");
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 600, 1));
    void *h = fa_heap_alloc(fa, 300, 16);
    cr_assert_not_null(h);
    cr_assert_eq(fa_budget_set(fa, "ai", 0, 2000), FA_OK); /* raised mid-frame */
    cr_assert_null(fa_frame_alloc(fa, 1500, 1), "900 in use: 1500 more exceed 2000");
    cr_assert_not_null(fa_frame_alloc(fa, 1100, 1));
    cr_assert_eq(fa_budget_set(fa, "ai", 0, 0), FA_OK);    /* cleared */
    cr_assert_not_null(fa_frame_alloc(fa, 5000, 1));
    cr_assert_eq(fa_budget_set(fa, "ai", 0, 7000), FA_OK); /* set again */
    cr_assert_null(fa_frame_alloc(fa, 1, 1), "7000 in use");
    fa_end_frame(fa);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 6700, 1), "only the heap block (300) is left");
    cr_assert_null(fa_frame_alloc(fa, 1, 1));
    fa_end_frame(fa);
    fa_heap_free(fa, h);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 7000, 1));
    cr_assert_null(fa_frame_alloc(fa, 1, 1));
    fa_end_frame(fa);
    fa_tag_pop(fa);
    cr_assert_leq(max_event_usage(&c), 20000);
    fa_destroy(fa);
}

typedef struct step {
    fa_alloc_t *fa;
    pthread_barrier_t *b;
    void *results[4];
} step_t;

static void *worker_in_frame(void *arg) {
    step_t *s = arg;
    fa_begin_frame(s->fa);
    fa_tag_push(s->fa, "jobs");
    cr_assert_not_null(fa_frame_alloc(s->fa, 600, 1));
    pthread_barrier_wait(s->b); /* main sets the budget */
    pthread_barrier_wait(s->b);
    s->results[0] = fa_frame_alloc(s->fa, 500, 1);
    s->results[1] = fa_frame_alloc(s->fa, 400, 1);
    fa_end_frame(s->fa);
    fa_begin_frame(s->fa);
    s->results[2] = fa_frame_alloc(s->fa, 1000, 1);
    s->results[3] = fa_frame_alloc(s->fa, 1, 1);
    fa_end_frame(s->fa);
    fa_tag_pop(s->fa);
    return NULL;
}

Test(budget, a_budget_set_by_the_main_thread_while_a_worker_is_inside_its_frame_stays_exact) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    step_t s = {.fa = fa, .b = &b};
    pthread_t w;
    pthread_create(&w, NULL, worker_in_frame, &s);
    pthread_barrier_wait(&b);
    cr_assert_eq(fa_budget_set(fa, "jobs", 0, 1000), FA_OK);
    pthread_barrier_wait(&b);
    pthread_join(w, NULL);
    cr_assert_null(s.results[0], "600 in use on the worker: 500 more exceed 1000");
    cr_assert_not_null(s.results[1]);
    cr_assert_not_null(s.results[2], "the worker's frame end gave its 1000 back");
    cr_assert_null(s.results[3]);
    cr_assert_leq(max_event_usage(&c), 20000);
    pthread_barrier_destroy(&b);
    fa_destroy(fa);
}

Test(budget, invalid_budgets_are_refused) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    cr_assert_eq(fa_budget_set(fa, "x", 200, 100), FA_ERR_INVALID_ARG, "soft above hard");
    cr_assert_eq(fa_budget_set(fa, "a//b", 1, 2), FA_ERR_TAG_NAME);
    cr_assert_eq(fa_budget_set(fa, NULL, 1, 2), FA_ERR_INVALID_ARG);
    fa_budget_desc_t d;
    cr_assert_eq(fa_budget_get(fa, "never/seen", &d), FA_ERR_NOT_FOUND);
    fa_destroy(fa);
}

Test(budget, clearing_a_budget_stops_its_events) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_budget_set(fa, "ui", 0, 10);
    fa_budget_set(fa, "ui", 0, 0);
    fa_tag_push(fa, "ui");
    void *p = fa_pool_alloc(fa, 100);
    cr_assert_eq(c.event_count, 0);
    fa_pool_free(fa, p);
    fa_tag_pop(fa);
    fa_destroy(fa);
}

#endif

#ifndef FA_MINIMAL
/* A tag created while fa_budget_set() runs on its parent is under the
 * parent's budget: fa_budget_set recomputed the flags of the tags that
 * existed when it started while the new child copied its parent's flag from
 * before, so the child escaped the budget for good. Many tags come before
 * the parent so that the setter reaches it late. */
typedef struct creator {
    fa_alloc_t *fa;
    atomic_int stop, done;
} creator_t;

static void *create_children(void *arg) {
    creator_t *cr = arg;
    char name[32];
    for (int i = 0; i < 20000 && !atomic_load(&cr->stop); i++) {
        snprintf(name, sizeof name, "a/c%d", i);
        fa_tag_find(cr->fa, name, true);
        for (volatile int k = 0; k < 2000; k++) {
        }
    }
    atomic_store(&cr->done, 1);
    return NULL;
}

Test(budget, a_tag_created_while_its_parents_budget_is_set_is_under_that_budget) {
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL, .max_tags = 45000};
    fa_alloc_t *fa = fa_create(&cfg);
    char name[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "x%d", i);
        fa_tag_find(fa, name, true);
    }
    uint32_t a = (uint32_t)fa_tag_find(fa, "a", true);
    creator_t cr = {.fa = fa};
    pthread_t th;
    pthread_create(&th, NULL, create_children, &cr);
    int escaped = -1;
    for (int round = 0; round < 200 && !atomic_load(&cr.done) && escaped < 0; round++) {
        uint32_t before = fa_tag_count(fa);
        fa_budget_set(fa, "a", 0, 1); /* every allocation under a/... must fail */
        uint32_t after = fa_tag_count(fa);
        for (uint32_t id = before > a + 1 ? before - 1 : a + 1; id < after && escaped < 0; id++) {
            fa_tag_push_id(fa, (int)id);
            void *p = fa_pool_alloc(fa, 16);
            fa_tag_pop(fa);
            if (p) escaped = (int)id, fa_pool_free(fa, p);
        }
        fa_budget_set(fa, "a", 0, 0);
    }
    atomic_store(&cr.stop, 1);
    pthread_join(th, NULL);
    cr_assert_lt(escaped, 0, "tag %s escaped the 1-byte hard budget of 'a'", fa_tag_path(fa, escaped));
    fa_destroy(fa);
}
#endif
