/* Frame containers: the growable vector (in-place growth while it is the
 * arena's last allocation, copies otherwise, typed macros, lifetime checks)
 * and the open-addressing map (against a reference, removal, rehash). */
#include "capture.h"

#include <fa_frame_vec.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct hit {
    double distance;
    uint32_t id;
} hit_t;

Test(frame_vec, pushes_keep_every_element_across_growths) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    cr_assert_eq(FA_FRAME_VEC_INIT(&v, fa, hit_t), FA_OK);
    cr_assert_null(v.data);
    for (uint32_t i = 0; i < 10000; i++) {
        hit_t *h = FA_FRAME_VEC_PUSH(&v, hit_t);
        cr_assert_not_null(h);
        *h = (hit_t){.distance = i * 0.5, .id = i};
        /* Something else allocates now and then, so some growths copy. */
        if (i % 1000 == 999) (void)!fa_frame_alloc(fa, 24, 8);
    }
    cr_assert_eq(v.len, 10000);
    cr_assert_geq(v.cap, v.len);
    cr_assert_eq((uintptr_t)v.data % _Alignof(hit_t), 0);
    for (uint32_t i = 0; i < 10000; i++) {
        cr_assert_eq(FA_FRAME_VEC_AT(&v, hit_t, i).id, i);
        cr_assert_eq(FA_FRAME_VEC_DATA(&v, hit_t)[i].distance, i * 0.5);
    }
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, grows_in_place_while_it_is_the_last_allocation) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    fa_frame_vec_init(&v, fa, sizeof(uint64_t), 8);
    cr_assert_not_null(fa_frame_vec_push(&v));
    void *first = v.data;
    size_t used = fa_frame_used(fa);
    while (v.cap < 4096)
        cr_assert_not_null(fa_frame_vec_push(&v));
    /* Same address, and the arena grew by exactly the vector's growth. */
    cr_assert_eq(v.data, first);
    cr_assert_eq(fa_frame_used(fa) - used, (v.cap - 8) * sizeof(uint64_t));
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, copies_when_another_allocation_came_after_it) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    fa_frame_vec_init(&v, fa, sizeof(int), 0);
    for (int i = 0; i < 8; i++)
        *(int *)fa_frame_vec_push(&v) = i;
    void *first = v.data;
    int *other = fa_frame_alloc(fa, sizeof(int), 4);
    *other = 99;
    *(int *)fa_frame_vec_push(&v) = 8; /* the ninth element needs a growth */
    cr_assert_neq(v.data, first, "it grew over the later allocation");
    cr_assert_eq(*other, 99);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(((int *)v.data)[i], i);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, growth_is_counted_under_the_current_tag) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    FA_WITH_TAG(fa, "physics/contacts") {
        FA_FRAME_VEC_INIT(&v, fa, hit_t);
        for (int i = 0; i < 1000; i++)
            cr_assert_not_null(FA_FRAME_VEC_PUSH(&v, hit_t));
    }
    fa_tag_row_t rows[16];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 16};
    fa_snapshot_take(fa, &s);
    const fa_tag_row_t *r = row_of(&s, "physics/contacts");
    cr_assert_not_null(r);
#ifdef FA_EXACT_FIGURES
    cr_assert_geq(r->self.frame_bytes, v.cap * sizeof(hit_t));
    cr_assert_leq(r->self.frame_bytes, 2 * v.cap * sizeof(hit_t));
#endif
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, reserve_then_push_n_stays_in_one_block) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    fa_frame_vec_init(&v, fa, 12, 4);
    cr_assert_eq(fa_frame_vec_reserve(&v, 500), FA_OK);
    cr_assert_eq(v.cap, 500);
    void *d = v.data;
    char *p = fa_frame_vec_push_n(&v, 500);
    cr_assert_eq(p, d);
    cr_assert_eq(v.len, 500);
    memset(p, 1, 500 * 12);
    cr_assert_eq(fa_frame_vec_reserve(&v, 10), FA_OK, "reserve never shrinks");
    cr_assert_eq(v.cap, 500);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, bad_arguments_and_overflow_are_reported) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_frame_vec_t v = {0};
    cr_assert_eq(fa_frame_vec_init(&v, fa, 0, 8), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_frame_vec_init(&v, fa, 8, 3), FA_ERR_BAD_ALIGN);
    cr_assert_eq(fa_frame_vec_init(&v, fa, SIZE_MAX - 2, 16), FA_ERR_OVERFLOW);
    fa_begin_frame(fa);
    cr_assert_eq(fa_frame_vec_init(&v, fa, 64, 8), FA_OK);
    cr_assert_eq(fa_frame_vec_reserve(&v, SIZE_MAX / 32), FA_ERR_OVERFLOW);
    cr_assert_not_null(fa_frame_vec_push(&v));
    cr_assert_null(fa_frame_vec_push_n(&v, SIZE_MAX));
    cr_assert_eq(v.len, 1, "a failed push leaves the vector unchanged");
    cr_assert_geq(capture_count_error(&c, FA_ERR_OVERFLOW), 3);
    /* A typed push with the wrong type is refused. */
    cr_assert_null(FA_FRAME_VEC_PUSH(&v, hit_t));
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 2);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_vec, growth_after_the_frame_ended_is_refused) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    fa_frame_vec_init(&v, fa, sizeof(int), 4);
    cr_assert_not_null(fa_frame_vec_push(&v));
    cr_assert(fa_frame_vec_is_current(&v));
    fa_end_frame(fa);
    fa_begin_frame(fa);
    cr_assert_not(fa_frame_vec_is_current(&v));
    cr_assert_null(fa_frame_vec_push_n(&v, 100));
    cr_assert_eq(fa_frame_vec_reserve(&v, 100), FA_ERR_STATE);
    cr_assert_eq(capture_count_error(&c, FA_ERR_STATE), 2);
    /* Re-initialised, it works again. */
    fa_frame_vec_init(&v, fa, sizeof(int), 4);
    cr_assert_not_null(fa_frame_vec_push_n(&v, 100));
    fa_end_frame(fa);
    fa_destroy(fa);
}

typedef struct cross {
    fa_alloc_t *fa;
    fa_frame_vec_t *v;
    void *pushed;
} cross_t;

static void *push_from_other_thread(void *arg) {
    cross_t *x = arg;
    fa_begin_frame(x->fa);
    x->pushed = fa_frame_vec_push_n(x->v, 64);
    fa_end_frame(x->fa);
    return NULL;
}

Test(frame_vec, growth_from_another_thread_is_refused) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    fa_frame_vec_init(&v, fa, sizeof(int), 4);
    cr_assert_not_null(fa_frame_vec_push(&v));
    cross_t x = {fa, &v, (void *)1};
    pthread_t th;
    pthread_create(&th, NULL, push_from_other_thread, &x);
    pthread_join(th, NULL);
    cr_assert_null(x.pushed);
    cr_assert_eq(capture_count_error(&c, FA_ERR_CROSS_THREAD), 1);
    fa_end_frame(fa);
    fa_destroy(fa);
}

#ifndef FA_MINIMAL /* budgets are compiled out there */
Test(frame_vec, a_hard_budget_under_fail_stops_growth_cleanly) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "physics", 0, 4096);
    fa_begin_frame(fa);
    fa_frame_vec_t v;
    size_t pushed = 0;
    FA_WITH_TAG(fa, "physics") {
        fa_frame_vec_init(&v, fa, 16, 16);
        while (fa_frame_vec_push(&v))
            pushed++;
    }
    cr_assert_eq(fa_last_error(), FA_ERR_BUDGET);
    cr_assert_gt(pushed, 0);
    cr_assert_leq(pushed * 16, 4096);
    cr_assert_eq(v.len, pushed);
    fa_end_frame(fa);
    fa_destroy(fa);
}
#endif

/* ---- map ---------------------------------------------------------------- */

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

Test(frame_map, agrees_with_a_reference_under_random_puts_and_removes) {
    fa_alloc_t *fa = fa_create(NULL);
    enum { KEYS = 512 };
    for (int frame = 0; frame < 3; frame++) {
        fa_begin_frame(fa);
        fa_frame_map_t m;
        cr_assert_eq(FA_FRAME_MAP_INIT(&m, fa, uint64_t, frame == 0 ? 0 : 100), FA_OK);
        uint64_t ref[KEYS] = {0};
        bool present[KEYS] = {0};
        size_t count = 0;
        uint64_t seed = 0x1234567 + (uint64_t)frame;
        for (int op = 0; op < 20000; op++) {
            uint64_t r = rng(&seed);
            /* Keys share low bits so that probe runs are long. */
            uint64_t k = (r >> 8) % KEYS, key = k << 32;
            if (r & 3) {
                bool inserted;
                uint64_t *val = FA_FRAME_MAP_PUT(&m, uint64_t, key, &inserted);
                cr_assert_not_null(val);
                cr_assert_eq(inserted, !present[k]);
                if (inserted) cr_assert_eq(*val, 0, "a new value is zeroed");
                if (inserted) count++;
                *val = r;
                ref[k] = r;
                present[k] = true;
            } else {
                cr_assert_eq(fa_frame_map_remove(&m, key), present[k]);
                if (present[k]) count--;
                present[k] = false;
            }
            if (op % 97 == 0) {
                for (int j = 0; j < KEYS; j++) {
                    uint64_t *got = FA_FRAME_MAP_GET(&m, uint64_t, (uint64_t)j << 32);
                    cr_assert_eq(got != NULL, present[j], "key %d op %d", j, op);
                    if (got) cr_assert_eq(*got, ref[j]);
                }
            }
        }
        cr_assert_eq(m.count, count);
        size_t cursor = 0, seen = 0;
        uint64_t key;
        void *val;
        while (fa_frame_map_next(&m, &cursor, &key, &val)) {
            cr_assert(present[key >> 32]);
            cr_assert_eq(*(uint64_t *)val, ref[key >> 32]);
            seen++;
        }
        cr_assert_eq(seen, count);
        fa_end_frame(fa);
    }
    fa_destroy(fa);
}

Test(frame_map, a_set_without_values_works) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_frame_map_t set;
    cr_assert_eq(fa_frame_map_init(&set, fa, 0, 0, 0), FA_OK);
    for (uint64_t i = 0; i < 1000; i += 3)
        cr_assert_not_null(fa_frame_map_put(&set, i, NULL));
    for (uint64_t i = 0; i < 1000; i++)
        cr_assert_eq(fa_frame_map_get(&set, i) != NULL, i % 3 == 0);
    cr_assert_eq(set.count, 334);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(frame_map, use_after_the_frame_ended_is_refused_and_typed_calls_check_the_type) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_begin_frame(fa);
    fa_frame_map_t m;
    FA_FRAME_MAP_INIT(&m, fa, int, 8);
    *FA_FRAME_MAP_PUT(&m, int, 7, NULL) = 70;
    cr_assert_null(FA_FRAME_MAP_GET(&m, double, 7));
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 1);
    fa_end_frame(fa);
    fa_begin_frame(fa);
    cr_assert_null(fa_frame_map_get(&m, 7));
    cr_assert_null(fa_frame_map_put(&m, 8, NULL));
    cr_assert_eq(capture_count_error(&c, FA_ERR_STATE), 2);
    fa_end_frame(fa);
    fa_destroy(fa);
}
