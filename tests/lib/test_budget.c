/* Budgets: events at 80 % and 100 % once per frame, soft limits, the fail
 * and callback policies, children counting toward parents, and usage that
 * follows frees and frame ends. Budgets are compiled out in FA_MINIMAL. */
#include "capture.h"

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

Test(budget, a_budget_set_while_its_tag_is_current_applies_to_the_next_frame_allocation) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    fa_tag_push(fa, "late");
    cr_assert_not_null(fa_frame_alloc(fa, 900, 1), "no budget yet: the fast path");
    cr_assert_eq(fa_budget_set(fa, "late", 0, 1000), FA_OK);
    cr_assert_not_null(fa_frame_alloc(fa, 900, 1), "bytes from before the budget are not charged");
    cr_assert_null(fa_frame_alloc(fa, 200, 1), "900 charged + 200 > 1000: the recheck made it a budgeted path");
    fa_end_frame(fa);
    /* No drift: the frame end gave back exactly what was charged (900). */
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 1000, 1));
    cr_assert_null(fa_frame_alloc(fa, 1, 1), "usage is exactly 1000, not less");
    fa_tag_pop(fa);
    fa_end_frame(fa);
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
