/* The behaviour filter: each pattern code fires on a crafted pattern and
 * stays silent on a clean one; it is off by default and reaches the
 * snapshot. Compiled out in FA_MINIMAL. */
#include "capture.h"

#ifndef FA_MINIMAL

#define WINDOW 60 /* the default preset's window */

static int finding(fa_alloc_t *fa, int code, const char *tag, fa_finding_t *out) {
    fa_finding_t f[64];
    uint32_t n = fa_behaviour_report(fa, f, 64);
    int id = tag ? fa_tag_find(fa, tag, false) : -1;
    for (uint32_t i = 0; i < n && i < 64; i++) {
        if (f[i].code == code && (id < 0 || f[i].tag_id == id)) {
            if (out) *out = f[i];
            return 1;
        }
    }
    return 0;
}

static fa_alloc_t *filtered(capture_t *c, fa_config_t *cfg_in) {
    fa_config_t cfg = cfg_in ? *cfg_in : (fa_config_t){0};
    cfg.behaviour = FA_BEHAVIOUR_DEFAULT;
    return capture_create(c, &cfg);
}

/* A clean frame: frame memory within the first chunk, pool blocks that live
 * across frames, no heap inside the frame. */
static void clean_frame(fa_alloc_t *fa, void **keep, int f) {
    fa_begin_frame(fa);
    FA_TAG_SCOPE(fa, "render");
    for (int i = 0; i < 100; i++) (void)!fa_frame_alloc(fa, 64, 16);
    int slot = f % 8;
    if (keep[slot]) fa_pool_free(fa, keep[slot]);
    keep[slot] = fa_pool_alloc(fa, 128);
    fa_end_frame(fa);
}

Test(behaviour, a_clean_program_gets_no_findings) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    void *keep[8] = {0};
    for (int f = 0; f < 3 * WINDOW; f++) clean_frame(fa, keep, f);
    fa_finding_t out[8];
    cr_assert_eq(fa_behaviour_report(fa, out, 8), 0);
    for (int i = 0; i < 8; i++) fa_pool_free(fa, keep[i]);
    fa_destroy(fa);
}

Test(behaviour, it_is_off_by_default) {
    fa_alloc_t *fa = fa_create(NULL);
    for (int f = 0; f < 2 * WINDOW; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 20; i++) fa_pool_free(fa, fa_pool_alloc(fa, 32));
        fa_end_frame(fa);
    }
    cr_assert_eq(fa_behaviour_report(fa, NULL, 0), 0);
    fa_destroy(fa);
}

Test(behaviour, pool_blocks_freed_in_the_same_frame_are_found) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "ai");
        for (int i = 0; i < 20; i++) fa_pool_free(fa, fa_pool_alloc(fa, 32));
        fa_end_frame(fa);
    }
    fa_finding_t f;
    cr_assert(finding(fa, FA_FIND_POOL_SAME_FRAME_FREE, "ai", &f));
    cr_assert_eq(f.count, 20 * WINDOW);
    cr_assert_eq(f.kind, FA_KIND_POOL);
    fa_destroy(fa);
}

Test(behaviour, frame_data_promoted_every_frame_is_found) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    void *copies[WINDOW];
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "physics");
        (void)!fa_frame_alloc_retained(fa, 64, 16, FA_RETAIN_PROMOTE_POOL, 0);
        fa_promotion_result_t r;
        fa_end_frame_with_promotions(fa, &r);
        copies[f] = r.items[0].new_ptr;
    }
    cr_assert(finding(fa, FA_FIND_FRAME_RETAINED_OFTEN, "physics", NULL));
    cr_assert(!finding(fa, FA_FIND_PROMOTION_CHURN, NULL, NULL), "the copies were kept: no churn");
    for (int f = 0; f < WINDOW; f++) fa_pool_free(fa, copies[f]);
    fa_destroy(fa);
}

Test(behaviour, promoted_blocks_freed_soon_after_are_churn) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    void *prev = NULL;
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "ui");
        if (prev) fa_pool_free(fa, prev);
        (void)!fa_frame_alloc_retained(fa, 64, 16, FA_RETAIN_PROMOTE_POOL, 0);
        fa_promotion_result_t r;
        fa_end_frame_with_promotions(fa, &r);
        prev = r.items[0].new_ptr;
    }
    cr_assert(finding(fa, FA_FIND_PROMOTION_CHURN, "ui", NULL));
    fa_pool_free(fa, prev);
    fa_destroy(fa);
}

Test(behaviour, heap_allocations_inside_frames_are_found) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    void *outside = fa_heap_alloc(fa, 1000, 16); /* outside frames: fine */
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "assets");
        fa_heap_free(fa, fa_heap_alloc(fa, 10000, 16));
        fa_end_frame(fa);
    }
    fa_finding_t f;
    cr_assert(finding(fa, FA_FIND_HEAP_IN_HOT_PATH, "assets", &f));
    cr_assert_eq(f.count, WINDOW);
    cr_assert(!finding(fa, FA_FIND_HEAP_IN_HOT_PATH, "", NULL), "the allocation outside frames is not counted");
    fa_heap_free(fa, outside);
    fa_destroy(fa);
}

Test(behaviour, frame_allocations_outside_a_frame_are_found) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    (void)!fa_frame_alloc(fa, 32, 8);
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
    }
    cr_assert(finding(fa, FA_FIND_OUTSIDE_FRAME, "", NULL));
    fa_destroy(fa);
}

Test(behaviour, an_arena_that_overflows_every_frame_is_found_with_its_peak) {
    capture_t c;
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = filtered(&c, &cfg);
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 10; i++) (void)!fa_frame_alloc(fa, 1000, 8);
        fa_end_frame(fa);
    }
    fa_finding_t f;
    cr_assert(finding(fa, FA_FIND_ARENA_OVERFLOW, NULL, &f));
    cr_assert_geq(f.value, 10000, "the peak arena use tells how big the first chunk should be");
    fa_destroy(fa);
}

Test(behaviour, budget_breaches_are_found) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    fa_budget_set(fa, "audio", 0, 1000);
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "audio");
        (void)!fa_frame_alloc(fa, f == 10 ? 2000 : 100, 8);
        fa_end_frame(fa);
    }
    fa_finding_t f;
    cr_assert(finding(fa, FA_FIND_BUDGET_BREACH, "audio", &f));
    cr_assert_eq(f.value, 2000);
    fa_destroy(fa);
}

Test(behaviour, the_strict_preset_finds_what_the_default_lets_pass) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    for (int round = 0; round < 2; round++) {
        for (int f = 0; f < WINDOW; f++) {
            fa_begin_frame(fa);
            FA_TAG_SCOPE(fa, "ai");
            if (f % 3 == 0) fa_heap_free(fa, fa_heap_alloc(fa, 100, 16)); /* a third of frames */
            fa_end_frame(fa);
        }
        if (round == 0) {
            cr_assert(!finding(fa, FA_FIND_HEAP_IN_HOT_PATH, "ai", NULL), "default: 33 %% < 50 %%");
            cr_assert_eq(fa_behaviour_enable(fa, FA_BEHAVIOUR_STRICT), FA_OK);
        }
    }
    cr_assert(finding(fa, FA_FIND_HEAP_IN_HOT_PATH, "ai", NULL), "strict: 33 %% >= 25 %%");
    fa_destroy(fa);
}

Test(behaviour, findings_reach_the_snapshot_and_have_names_and_advice) {
    capture_t c;
    fa_alloc_t *fa = filtered(&c, NULL);
    for (int f = 0; f < WINDOW; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "ai");
        for (int i = 0; i < 20; i++) fa_pool_free(fa, fa_pool_alloc(fa, 32));
        fa_end_frame(fa);
    }
    fa_finding_t fs[4];
    fa_snapshot_t s = {.findings = fs, .findings_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.finding_count, 1);
    cr_assert_eq(fs[0].code, FA_FIND_POOL_SAME_FRAME_FREE);
    for (int code = 1; code < FA_FIND_COUNT_; code++) {
        cr_assert_str_neq(fa_finding_name(code), "unknown");
        cr_assert_str_neq(fa_finding_advice(code), "unknown");
        cr_assert_str_neq(fa_finding_meaning(code), "unknown");
    }
    cr_assert_str_eq(fa_finding_name(FA_FIND_ARENA_OVERFLOW), "FA_FIND_ARENA_OVERFLOW");
    cr_assert_str_eq(fa_finding_name(99), "unknown");
    fa_behaviour_enable(fa, FA_BEHAVIOUR_OFF);
    cr_assert_eq(fa_behaviour_enable(fa, (fa_behaviour_preset)9), FA_ERR_INVALID_ARG);
    fa_destroy(fa);
}

#else

Test(behaviour, minimal_build_has_no_filter) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_behaviour_enable(fa, FA_BEHAVIOUR_DEFAULT), FA_ERR_STATE);
    fa_destroy(fa);
}

#endif
