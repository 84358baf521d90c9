/* Hostile sizes: every size, count x size, size + alignment, header + guard
 * and configuration value near SIZE_MAX is refused with FA_ERR_OVERFLOW or
 * FA_ERR_INVALID_ARG (never a wrapped block, never a clamped value), in
 * every build variant; and every (pointer, size) range into frame memory is
 * checked whole. */
#include "capture.h"

#include <stdint.h>
#include <stdlib.h>

/* The call returned NULL and reported a size error (overflow, or a size no
 * allocator could ever satisfy). */
#define ASSERT_REFUSED(call, c)                                                                              \
    do {                                                                                                     \
        fa_clear_error();                                                                                    \
        int before_ = (c)->error_count;                                                                      \
        cr_assert_null((call), "%s returned a block", #call);                                                \
        cr_assert_gt((c)->error_count, before_, "%s reported nothing", #call);                               \
        int e_ = fa_last_error();                                                                            \
        cr_assert(e_ == FA_ERR_OVERFLOW || e_ == FA_ERR_INVALID_ARG, "%s: %s", #call, fa_err_name(e_));      \
    } while (0)

static const size_t huge[] = {SIZE_MAX,      SIZE_MAX - 1,    SIZE_MAX - 15,
                              SIZE_MAX - 63, SIZE_MAX - 4095, SIZE_MAX / 2 + 1};

Test(sizes, every_allocation_call_refuses_sizes_near_size_max) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    void *out[8];
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        size_t n = huge[i];
        ASSERT_REFUSED(fa_frame_alloc(fa, n, 16), &c);
        ASSERT_REFUSED(fa_frame_alloc(fa, n, 4096), &c);
        ASSERT_REFUSED(fa_frame_alloc_batch(fa, n, 16, 1), &c);
        ASSERT_REFUSED(fa_frame_alloc_batch(fa, 16, 16, n), &c);
        ASSERT_REFUSED(fa_frame_alloc2(fa, n, 16, out), &c);
        ASSERT_REFUSED(fa_frame_alloc4(fa, n, 16, out), &c);
        ASSERT_REFUSED(fa_frame_alloc8(fa, n, 0, out), &c);
        ASSERT_REFUSED(fa_frame_alloc_retained(fa, n, 16, FA_RETAIN_PROMOTE_HEAP, 0), &c);
        ASSERT_REFUSED(fa_pool_alloc(fa, n), &c);
        ASSERT_REFUSED(fa_heap_alloc(fa, n, 16), &c);
        ASSERT_REFUSED(fa_heap_alloc(fa, n, 4096), &c);
        fa_task_t *task = fa_task_begin(fa, "jobs");
        ASSERT_REFUSED(fa_task_alloc(task, n), &c);
        fa_task_end(task);
        fa_clear_error();
        cr_assert_eq(fa_transfer_create(fa, n).id, 0);
        cr_assert(fa_last_error() == FA_ERR_OVERFLOW || fa_last_error() == FA_ERR_INVALID_ARG);
    }
    /* The arena is untouched: a normal allocation still works and the
     * thread used nothing for the refused ones. */
    cr_assert_eq(fa_frame_used(fa), 0);
    cr_assert_not_null(fa_frame_alloc(fa, 64, 16));
    fa_end_frame(fa);
    fa_destroy(fa);
}

#ifndef FA_MINIMAL /* budgets are not enforced there */
/* A refused huge allocation under a budget leaves the budget's usage as it
 * was: the next allocations are judged on the real figure. */
Test(sizes, a_refused_huge_allocation_leaves_budget_usage_unchanged) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    cr_assert_eq(fa_budget_set(fa, "assets", 0, 1000), FA_OK);
    fa_tag_push(fa, "assets");
    fa_begin_frame(fa);
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        cr_assert_null(fa_frame_alloc(fa, huge[i], 16));
        cr_assert_null(fa_pool_alloc(fa, huge[i]));
        cr_assert_null(fa_heap_alloc(fa, huge[i], 16));
    }
    cr_assert_not_null(fa_frame_alloc(fa, 1000, 1), "the usage is still 0");
    cr_assert_null(fa_frame_alloc(fa, 1, 1), "and now exactly 1000");
    fa_end_frame(fa);
    fa_tag_pop(fa);
    fa_destroy(fa);
}
#endif

Test(sizes, configuration_values_near_size_max_are_refused_by_fa_create) {
    const fa_config_t bad[] = {
        {.frame_chunk_bytes = SIZE_MAX},
        {.frame_chunk_bytes = SIZE_MAX - 16},
        {.frame_chunk_bytes = SIZE_MAX / 2 + 1},
        {.pool_reserve_bytes = SIZE_MAX},
        {.pool_reserve_bytes = SIZE_MAX - 65536},
        {.pool_reserve_bytes = SIZE_MAX / 2 + 1},
        {.frame_limit_bytes = SIZE_MAX, .frame_chunk_bytes = SIZE_MAX},
        {.max_retained = UINT32_MAX},
        {.max_retained = 1u << 30},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fa_clear_error();
        fa_alloc_t *fa = fa_create(&bad[i]);
        if (fa) fa_destroy(fa);
        cr_assert_null(fa, "config %zu was accepted", i);
        cr_assert(fa_last_error() == FA_ERR_INVALID_ARG || fa_last_error() == FA_ERR_OVERFLOW,
                  "config %zu: %s", i, fa_err_name(fa_last_error()));
    }
}

/* A limit near SIZE_MAX and a request near SIZE_MAX: "capacity + request"
 * must not wrap into a small number that passes the limit check. */
Test(sizes, the_arena_limit_check_does_not_wrap) {
    capture_t c;
    fa_config_t cfg = {.frame_chunk_bytes = 4096, .frame_limit_bytes = SIZE_MAX - 4096};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 1000, 16));
    volatile size_t big = SIZE_MAX - 8192; /* not a constant: no compile-time warning */
    ASSERT_REFUSED(fa_frame_alloc(fa, big, 16), &c);
    ASSERT_REFUSED(fa_frame_alloc(fa, big + 3192, 1), &c);
    cr_assert_not_null(fa_frame_alloc(fa, 5000, 16), "a real overflow chunk still works");
    fa_end_frame(fa);
    fa_destroy(fa);
}

/* fa_frame_retain and fa_transfer_from_frame take a range: all of it must
 * be frame memory of the calling thread's current frame, in one chunk, and
 * the end must not wrap around the address space. */
Test(sizes, frame_ranges_are_checked_whole_without_wrapping) {
    capture_t c;
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    char *a = fa_frame_alloc(fa, 3000, 16);
    char *b = fa_frame_alloc(fa, 64, 16);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    /* b + SIZE_MAX - 1 wraps to b - 2, which is inside a. */
    cr_assert_lt(fa_frame_retain(fa, b, SIZE_MAX, FA_RETAIN_PROMOTE_HEAP, 0), 0);
    cr_assert_lt(fa_frame_retain(fa, b, SIZE_MAX - 100, FA_RETAIN_FRAMES, 2), 0);
    /* Past what this frame allocated (the chunk is larger). */
    cr_assert_lt(fa_frame_retain(fa, b, 200, FA_RETAIN_PROMOTE_HEAP, 0), 0);
    cr_assert_eq(fa_transfer_from_frame(fa, b, 200).id, 0);
    cr_assert_eq(fa_transfer_from_frame(fa, b, SIZE_MAX).id, 0);
    cr_assert_eq(fa_transfer_from_frame(fa, b, SIZE_MAX - 100).id, 0);
    /* Two chunks: a range that starts in one and ends in the next is not
     * contiguous memory. */
    char *c1 = fa_frame_alloc(fa, 900, 16);
    char *c2 = fa_frame_alloc(fa, 3000, 16); /* does not fit: next chunk */
    cr_assert_not_null(c1);
    cr_assert_not_null(c2);
    size_t span = (size_t)(c2 - c1) + 16;
    if (c2 > c1) {
        cr_assert_lt(fa_frame_retain(fa, c1, span, FA_RETAIN_PROMOTE_HEAP, 0), 0);
        cr_assert_eq(fa_transfer_from_frame(fa, c1, span).id, 0);
    }
    /* What is right is still accepted. */
    cr_assert_eq(fa_frame_retain(fa, b, 64, FA_RETAIN_PROMOTE_HEAP, 0), FA_OK);
    fa_transfer_t h = fa_transfer_from_frame(fa, a, 3000);
    cr_assert_neq(h.id, 0);
    fa_transfer_drop(fa, h);
    fa_promotion_result_t r;
    fa_end_frame_with_promotions(fa, &r);
    cr_assert_eq(r.count, 1);
    fa_heap_free(fa, r.items[0].new_ptr);
    fa_destroy(fa);
}
