/* Frame arenas: alignment, reset, growth by chunks, batches, per-thread
 * arenas, marks, limits and misuse reports. */
#include "capture.h"
#include "syscount.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

Test(frame, every_power_of_two_alignment_up_to_4096_is_honoured) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    for (size_t align = 1; align <= 4096; align <<= 1) {
        for (size_t size = 1; size < 300; size += 37) {
            char *p = fa_frame_alloc(fa, size, align);
            cr_assert_not_null(p);
            cr_assert_eq((uintptr_t)p % align, 0, "align %zu size %zu gave %p", align, size, (void *)p);
            memset(p, 0xAB, size);
        }
    }
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, bad_alignment_returns_null_and_reports) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    cr_assert_null(fa_frame_alloc(fa, 16, 3));
    cr_assert_null(fa_frame_alloc(fa, 16, 8192));
    cr_assert_eq(capture_count_error(&c, FA_ERR_BAD_ALIGN), 2);
    cr_assert_eq(fa_last_error(), FA_ERR_BAD_ALIGN);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, zero_size_gives_distinct_non_null_pointers) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *a = fa_frame_alloc(fa, 0, 1), *b = fa_frame_alloc(fa, 0, 1);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_neq(a, b);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, end_frame_resets_so_the_next_frame_reuses_the_same_memory) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *first = fa_frame_alloc(fa, 64, 16);
    for (int i = 0; i < 100; i++) (void)!fa_frame_alloc(fa, 100, 8);
    cr_assert_gt(fa_frame_used(fa), 10000);
    fa_end_frame(fa);
    cr_assert_eq(fa_frame_used(fa), 0);
    fa_begin_frame(fa);
    cr_assert_eq(fa_frame_alloc(fa, 64, 16), first);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, arena_grows_by_chunks_instead_of_failing) {
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = fa_create(&cfg);
    fa_begin_frame(fa);
    char *blocks[100];
    for (int i = 0; i < 100; i++) {
        blocks[i] = fa_frame_alloc(fa, 1000, 8);
        cr_assert_not_null(blocks[i]);
        memset(blocks[i], i, 1000);
    }
    for (int i = 0; i < 100; i++)
        for (int j = 0; j < 1000; j += 111) cr_assert_eq((unsigned char)blocks[i][j], (unsigned char)i);
    cr_assert_geq(fa_frame_capacity(fa), 100 * 1000);
    /* A block larger than a chunk gets a chunk of its own. */
    char *big = fa_frame_alloc(fa, 100000, 64);
    cr_assert_not_null(big);
    memset(big, 1, 100000);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, steady_state_makes_no_allocator_or_system_calls) {
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = fa_create(&cfg);
    /* Warm up: the frame overflows into extra chunks, which are kept. */
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 200; i++) cr_assert_not_null(fa_frame_alloc(fa, 100, 16));
        fa_end_frame(fa);
    }
    size_t capacity = fa_frame_capacity(fa);
    syscount_start();
    for (int f = 0; f < 1000; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 200; i++) {
            char *p = fa_frame_alloc(fa, 100, 16);
            if (!p) break;
            p[0] = 1;
        }
        fa_end_frame(fa);
    }
    long calls = syscount_stop();
    cr_assert_eq(calls, 0, "%ld malloc/mmap/mprotect calls in the steady state", calls);
    cr_assert_eq(fa_frame_capacity(fa), capacity);
    fa_destroy(fa);
}

Test(frame, batch_size_times_count_overflow_returns_null_not_a_short_block) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    cr_assert_null(fa_frame_alloc_batch(fa, SIZE_MAX / 2, 8, 3));
    cr_assert_null(fa_frame_alloc_batch(fa, 1u << 20, 16, SIZE_MAX / 1000));
    cr_assert_eq(capture_count_error(&c, FA_ERR_OVERFLOW), 2);
    void *out[4];
    cr_assert_null(fa_frame_alloc4(fa, SIZE_MAX / 3, 8, out));
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, batch_elements_are_contiguous_at_the_aligned_stride) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    char *b = fa_frame_alloc_batch(fa, 24, 16, 1000);
    cr_assert_not_null(b);
    cr_assert_eq((uintptr_t)b % 16, 0);
    memset(b, 7, 32 * 1000); /* stride 32: the whole block is ours */
    char *next = fa_frame_alloc(fa, 1, 1);
    cr_assert_geq(next, b + 32 * 1000);
    typedef struct {
        double x, y, z;
    } v3;
    v3 *arr = FA_FRAME_ARRAY(fa, v3, 10);
    v3 *one = FA_FRAME_NEW(fa, v3);
    cr_assert_not_null(arr);
    cr_assert_not_null(one);
    cr_assert_eq((uintptr_t)arr % _Alignof(v3), 0);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, fixed_count_helpers_fill_distinct_aligned_elements) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *o2[2], *o4[4], *o8[8];
    cr_assert_eq(fa_frame_alloc2(fa, 10, 16, o2), o2[0]);
    cr_assert_eq(fa_frame_alloc4(fa, 20, 32, o4), o4[0]);
    cr_assert_eq(fa_frame_alloc8(fa, 40, 64, o8), o8[0]);
    for (int i = 1; i < 2; i++) cr_assert_eq((char *)o2[i] - (char *)o2[i - 1], 16);
    for (int i = 1; i < 4; i++) cr_assert_eq((char *)o4[i] - (char *)o4[i - 1], 32);
    for (int i = 0; i < 8; i++) {
        cr_assert_eq((uintptr_t)o8[i] % 64, 0);
        memset(o8[i], i, 40);
    }
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, arena_hard_limit_returns_null_and_reports) {
    capture_t c;
    fa_config_t cfg = {.frame_chunk_bytes = 4096, .frame_limit_bytes = 16384};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    int ok = 0;
    while (fa_frame_alloc(fa, 1000, 8)) ok++;
    cr_assert_geq(ok, 12);
    cr_assert_leq(ok, 16);
    cr_assert_eq(capture_count_error(&c, FA_ERR_ARENA_LIMIT), 1);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, allocation_outside_a_frame_works_and_is_reported_once) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    cr_assert_not_null(fa_frame_alloc(fa, 32, 8));
    cr_assert_not_null(fa_frame_alloc(fa, 32, 8));
    cr_assert_eq(capture_count_error(&c, FA_ERR_NOT_IN_FRAME), 1);
    fa_begin_frame(fa);
    cr_assert_not_null(fa_frame_alloc(fa, 32, 8));
    fa_end_frame(fa);
    cr_assert_eq(capture_count_error(&c, FA_ERR_NOT_IN_FRAME), 1);
    fa_destroy(fa);
}

Test(frame, unbalanced_begin_and_end_are_reported) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_end_frame(fa);
    fa_begin_frame(fa);
    fa_begin_frame(fa);
    fa_end_frame(fa);
    cr_assert_eq(capture_count_error(&c, FA_ERR_STATE), 2);
    cr_assert_eq(fa_frame_number(fa), 1);
    fa_destroy(fa);
}

Test(frame, rollback_to_a_mark_releases_what_came_after) {
    capture_t c;
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_begin_frame(fa);
    (void)!fa_frame_alloc(fa, 100, 8);
    fa_frame_mark_t m = fa_frame_mark(fa);
    char *after = fa_frame_alloc(fa, 64, 8);
    for (int i = 0; i < 20; i++) (void)!fa_frame_alloc(fa, 1000, 8); /* into more chunks */
    cr_assert_eq(fa_frame_rollback(fa, m), FA_OK);
    cr_assert_eq(fa_frame_alloc(fa, 64, 8), after);
    fa_end_frame(fa);
    fa_begin_frame(fa);
    cr_assert_eq(fa_frame_rollback(fa, m), FA_ERR_STATE, "a mark of an ended frame is refused");
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, strdup_and_sprintf_copy_into_frame_memory) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    char *s = fa_frame_strdup(fa, "contacts");
    cr_assert_str_eq(s, "contacts");
    char *f = fa_frame_sprintf(fa, "%s/%d", "entity", 42);
    cr_assert_str_eq(f, "entity/42");
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, frame_number_advances_when_the_main_thread_ends_a_frame) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_frame_number(fa), 0);
    for (int i = 0; i < 5; i++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
    }
    cr_assert_eq(fa_frame_number(fa), 5);
    fa_destroy(fa);
}

/* Worker rule: a worker brackets its own frames; the main thread ending its
 * frame does not touch the worker's arena. */
typedef struct worker_ctx {
    fa_alloc_t *fa;
    pthread_barrier_t *step;
    unsigned char *data;
    uint64_t frames_before, frames_after;
} worker_ctx_t;

static void *worker_keeps_its_frame(void *arg) {
    worker_ctx_t *w = arg;
    fa_begin_frame(w->fa);
    w->data = fa_frame_alloc(w->fa, 4096, 64);
    memset(w->data, 0x5A, 4096);
    w->frames_before = fa_frame_number(w->fa);
    pthread_barrier_wait(w->step); /* main now ends three frames */
    pthread_barrier_wait(w->step);
    for (int i = 0; i < 4096; i++)
        if (w->data[i] != 0x5A) return (void *)1;
    w->frames_after = fa_frame_number(w->fa);
    fa_end_frame(w->fa);
    return NULL;
}

Test(frame, main_thread_frame_end_leaves_worker_arenas_alone) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_barrier_t step;
    pthread_barrier_init(&step, NULL, 2);
    worker_ctx_t w = {.fa = fa, .step = &step};
    pthread_t th;
    pthread_create(&th, NULL, worker_keeps_its_frame, &w);
    pthread_barrier_wait(&step);
    for (int i = 0; i < 3; i++) {
        fa_begin_frame(fa);
        memset(fa_frame_alloc(fa, 4096, 64), 0x11, 4096);
        fa_end_frame(fa);
    }
    pthread_barrier_wait(&step);
    void *bad;
    pthread_join(th, &bad);
    cr_assert_null(bad, "the worker's frame memory changed while the main thread ended frames");
    cr_assert_eq(w.frames_after, w.frames_before + 3);
    pthread_barrier_destroy(&step);
    fa_destroy(fa);
}

static void *worker_frames(void *arg) {
    fa_alloc_t *fa = arg;
    for (int f = 0; f < 50; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 100; i++) {
            char *p = fa_frame_alloc(fa, 64, 16);
            if (!p) return (void *)1;
            memset(p, f, 64);
        }
        fa_end_frame(fa);
    }
    return NULL;
}

Test(frame, threads_have_separate_arenas) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, worker_frames, fa);
    cr_assert_null(worker_frames(fa));
    for (int i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_assert_null(r);
    }
    cr_assert_eq(fa_frame_number(fa), 50, "only the main thread advances the frame number");
    fa_destroy(fa);
}

Test(frame, a_new_context_at_a_reused_address_gets_fresh_thread_state) {
    for (int i = 0; i < 50; i++) {
        fa_alloc_t *fa = fa_create(NULL);
        fa_begin_frame(fa);
        cr_assert_not_null(fa_frame_alloc(fa, 128, 16));
        fa_end_frame(fa);
        fa_destroy(fa);
    }
}

/* A frame need that grows a little every frame (one request larger than any
 * chunk kept so far) must not leave a new chunk behind every frame. */
Test(frame, a_need_growing_every_frame_keeps_capacity_within_twice_the_need) {
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = fa_create(&cfg);
    size_t largest = 0;
    for (int f = 0; f < 300; f++) {
        fa_begin_frame(fa);
        (void)!fa_frame_alloc(fa, 100, 16);
        char *p = fa_frame_alloc(fa, 8192 + (size_t)f * 64, 16);
        cr_assert_not_null(p);
        p[0] = 1;
        size_t need = fa_frame_used(fa);
        if (need > largest) largest = need;
        fa_end_frame(fa);
        cr_assert_leq(fa_frame_capacity(fa), 2 * largest, "frame %d: capacity %zu for a need of %zu", f,
                      fa_frame_capacity(fa), largest);
    }
    /* The need falls back: the arena shrinks within the documented window. */
    for (int f = 0; f < 200; f++) {
        fa_begin_frame(fa);
        (void)!fa_frame_alloc(fa, 1000, 16);
        fa_end_frame(fa);
    }
    cr_assert_leq(fa_frame_capacity(fa), 2 * 4096);
    fa_destroy(fa);
}

Test(frame, rollback_across_chunks_restores_used_exactly) {
    fa_config_t cfg = {.frame_chunk_bytes = 4096};
    fa_alloc_t *fa = fa_create(&cfg);
    fa_begin_frame(fa);
    for (int i = 0; i < 3; i++) (void)!fa_frame_alloc(fa, 1000, 8);
    size_t at_mark = fa_frame_used(fa);
    cr_assert_eq(at_mark, 3000);
    fa_frame_mark_t m = fa_frame_mark(fa);
    (void)!fa_frame_alloc(fa, 500, 8);
    (void)!fa_frame_alloc(fa, 3000, 8); /* next chunk */
    (void)!fa_frame_alloc(fa, 3500, 8); /* and the next */
    cr_assert_eq(fa_frame_rollback(fa, m), FA_OK);
    cr_assert_eq(fa_frame_used(fa), at_mark);
    /* Rolling back within the first chunk after having moved on. */
    fa_frame_mark_t m0 = fa_frame_mark(fa);
    (void)!fa_frame_alloc(fa, 3800, 8);
    fa_frame_mark_t m1 = fa_frame_mark(fa);
    (void)!fa_frame_alloc(fa, 100, 8);
    cr_assert_eq(fa_frame_rollback(fa, m1), FA_OK);
    cr_assert_eq(fa_frame_used(fa), at_mark + 3800);
    cr_assert_eq(fa_frame_rollback(fa, m0), FA_OK);
    cr_assert_eq(fa_frame_used(fa), at_mark);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame, fixed_count_helpers_with_size_0_give_distinct_pointers) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *out[8];
    cr_assert_not_null(fa_frame_alloc2(fa, 0, 1, out));
    cr_assert_neq(out[0], out[1]);
    cr_assert_not_null(fa_frame_alloc4(fa, 0, 8, out));
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) cr_assert_neq(out[i], out[j]);
    cr_assert_not_null(fa_frame_alloc8(fa, 0, 0, out));
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++) cr_assert_neq(out[i], out[j]);
    fa_end_frame(fa);
    fa_destroy(fa);
}
