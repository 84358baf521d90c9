/* Retention and promotion: marked frame data survives its frame as asked,
 * and the result and summary say what happened. */
#include "capture.h"

static const fa_promotion_tag_summary_t *summary_of(const fa_promotion_result_t *r, int tag) {
    for (uint32_t i = 0; i < r->tag_count; i++)
        if (r->by_tag[i].tag_id == tag) return &r->by_tag[i];
    return NULL;
}

Test(retain, a_promoted_block_keeps_its_contents_and_the_summary_is_right) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    int physics = fa_tag_push(fa, "physics");
    char *to_pool = fa_frame_alloc_retained(fa, 100, 16, FA_RETAIN_PROMOTE_POOL, 0);
    char *to_heap = fa_frame_alloc_retained(fa, 6000, 64, FA_RETAIN_PROMOTE_HEAP, 0);
    char *dropped = fa_frame_alloc(fa, 50, 8);
    cr_assert_eq(fa_frame_retain(fa, dropped, 50, FA_RETAIN_DISCARD, 0), FA_OK);
    fa_tag_pop(fa);
    memset(to_pool, 0x42, 100);
    for (int i = 0; i < 6000; i++) to_heap[i] = (char)i;
    fa_promotion_result_t r;
    fa_end_frame_with_promotions(fa, &r);
    cr_assert_eq(r.count, 3);
    cr_assert_eq(r.items[0].old_ptr, to_pool);
    cr_assert_eq(r.items[0].error, FA_OK);
    cr_assert_eq(r.items[0].policy, FA_RETAIN_PROMOTE_POOL);
    cr_assert_eq(r.items[0].tag_id, physics);
    cr_assert_eq(r.items[2].new_ptr, NULL, "a discarded mark has no copy");
    /* The frame is over: only the copies are valid. Overwrite the arena. */
    fa_begin_frame(fa);
    memset(fa_frame_alloc(fa, 65536, 16), 0, 65536);
    unsigned char *p = r.items[0].new_ptr;
    char *h = r.items[1].new_ptr;
    for (int i = 0; i < 100; i++) cr_assert_eq(p[i], 0x42);
    for (int i = 0; i < 6000; i++) cr_assert_eq(h[i], (char)i);
    const fa_promotion_tag_summary_t *s = summary_of(&r, physics);
    cr_assert_not_null(s);
    cr_assert_eq(s->promoted_count, 2);
    cr_assert_eq(s->promoted_bytes, 6100);
    cr_assert_eq(s->discarded_count, 1);
    cr_assert_eq(s->discarded_bytes, 50);
    cr_assert_eq(s->failed_count, 0);
    cr_assert_eq(r.totals.promoted_count, 2);
    /* Promoted memory is ordinary pool/heap memory, in the snapshot too. */
    fa_snapshot_t snap = {0};
    fa_snapshot_take(fa, &snap);
    cr_assert_eq(snap.promotions.promoted_count, 2);
    cr_assert_eq(snap.promotions.discarded_count, 1);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(snap.totals[FA_KIND_POOL].in_use, 112);
    cr_assert_eq(snap.totals[FA_KIND_HEAP].in_use, 6000);
#endif
    fa_pool_free(fa, p);
    fa_heap_free(fa, h);
    fa_end_frame(fa);
    fa_destroy(fa);
}

#ifndef FA_MINIMAL /* budgets are compiled out there */
Test(retain, failed_promotions_say_why) {
    capture_t c;
    fa_config_t cfg = {.budget_policy = FA_POLICY_FAIL};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_budget_set(fa, "ai", 0, 1000);
    fa_begin_frame(fa);
    fa_tag_push(fa, "ai");
    (void)!fa_frame_alloc_retained(fa, 5000, 16, FA_RETAIN_PROMOTE_POOL, 0); /* fails at the frame budget? */
    fa_tag_pop(fa);
    void *big = fa_frame_alloc_retained(fa, 5000, 16, FA_RETAIN_PROMOTE_POOL, 0); /* untagged: too large */
    fa_tag_push(fa, "ai");
    void *over = fa_frame_alloc_retained(fa, 900, 16, FA_RETAIN_PROMOTE_HEAP, 0);
    fa_tag_pop(fa);
    cr_assert_not_null(big);
    cr_assert_not_null(over);
    fa_clear_error();
    fa_promotion_result_t r;
    fa_end_frame_with_promotions(fa, &r);
    cr_assert_eq(r.count, 2, "the first mark failed at allocation (budget) and made no mark");
    cr_assert_eq(r.items[0].error, FA_ERR_INVALID_ARG, "5000 bytes do not fit a pool block");
    cr_assert_null(r.items[0].new_ptr);
    /* 900 frame bytes of "ai" are released at the end, but the copy is made
     * while they still count: 900 + 900 > 1000. */
    cr_assert_eq(r.items[1].error, FA_ERR_BUDGET);
    cr_assert_eq(r.totals.failed_count, 2);
    cr_assert_eq(r.totals.failed_bytes, 5900);
    cr_assert_eq(fa_last_error(), FA_OK, "a failed promotion is in the result, not the sticky error");
    fa_destroy(fa);
}
#endif

Test(retain, kept_data_stays_valid_for_n_frames_then_is_released) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    char *p = fa_frame_alloc_retained(fa, 256, 16, FA_RETAIN_FRAMES, 3);
    memset(p, 7, 256);
    fa_promotion_result_t r;
    fa_end_frame_with_promotions(fa, &r);
    cr_assert_eq(r.totals.retained_count, 1);
    unsigned char *kept = r.items[0].new_ptr;
    for (int f = 0; f < 2; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 256; i++) cr_assert_eq(kept[i], 7, "frame %d", f);
        fa_end_frame(fa);
    }
#ifdef FA_EXACT_FIGURES
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    cr_assert_eq(s.totals[FA_KIND_HEAP].in_use, 256 + 16, "still kept (with its small header)");
    fa_begin_frame(fa);
    fa_end_frame(fa);
    fa_snapshot_take(fa, &s);
    cr_assert_eq(s.totals[FA_KIND_HEAP].in_use, 0, "released after its 3 frames");
#endif
    fa_destroy(fa);
}

Test(retain, marks_are_refused_for_memory_that_is_not_this_frames) {
    capture_t c;
    fa_config_t cfg = {.max_retained = 2};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    char local[16];
    cr_assert_eq(fa_frame_retain(fa, local, 16, FA_RETAIN_PROMOTE_POOL, 0), FA_ERR_NOT_IN_FRAME);
    fa_begin_frame(fa);
    cr_assert_eq(fa_frame_retain(fa, local, 16, FA_RETAIN_PROMOTE_POOL, 0), FA_ERR_CROSS_THREAD);
    void *a = fa_frame_alloc(fa, 16, 8);
    cr_assert_eq(fa_frame_retain(fa, a, 16, FA_RETAIN_FRAMES, 0), FA_ERR_INVALID_ARG, "N must be >= 1");
    cr_assert_eq(fa_frame_retain(fa, a, 16, FA_RETAIN_PROMOTE_POOL, 0), FA_OK);
    cr_assert_eq(fa_frame_retain(fa, a, 16, FA_RETAIN_PROMOTE_POOL, 0), FA_OK);
    cr_assert_eq(fa_frame_retain(fa, a, 16, FA_RETAIN_PROMOTE_POOL, 0), FA_ERR_TRUNCATED);
    cr_assert_eq(capture_count_error(&c, FA_ERR_CROSS_THREAD), 1);
    fa_promotion_result_t r;
    fa_end_frame_with_promotions(fa, &r);
    cr_assert_eq(r.count, 2);
    fa_pool_free(fa, r.items[0].new_ptr);
    fa_pool_free(fa, r.items[1].new_ptr);
    fa_destroy(fa);
}
