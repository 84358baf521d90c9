/* Snapshots: rows add up to the totals, parents include children, figures
 * are per frame, truncation is reported, and nothing is allocated. */
#include "capture.h"
#include "syscount.h"

#include <pthread.h>
#include <stdlib.h>

#ifdef FA_EXACT_FIGURES

static void check_rows_add_up(const fa_snapshot_t *s) {
    uint64_t frame = 0, pool = 0, heap = 0, count = 0;
    for (uint32_t i = 0; i < s->row_count; i++) {
        frame += s->rows[i].self.frame_bytes;
        pool += s->rows[i].self.pool_bytes;
        heap += s->rows[i].self.heap_bytes;
        count += s->rows[i].self.alloc_count;
    }
    cr_assert_eq(frame, s->totals[FA_KIND_FRAME].in_use);
    cr_assert_eq(pool, s->totals[FA_KIND_POOL].in_use);
    cr_assert_eq(heap, s->totals[FA_KIND_HEAP].in_use);
    cr_assert_eq(count, s->totals[FA_KIND_FRAME].alloc_count + s->totals[FA_KIND_POOL].alloc_count +
                            s->totals[FA_KIND_HEAP].alloc_count);
    /* The root's total is everything. */
    cr_assert_eq(s->rows[0].total.frame_bytes, frame);
    cr_assert_eq(s->rows[0].total.pool_bytes, pool);
    cr_assert_eq(s->rows[0].total.heap_bytes, heap);
}

/* The scenario of the foundation issue: physics, physics/contacts, render. */
Test(snapshot, per_tag_rows_add_up_to_totals_and_budgets_fire_at_80_and_100_percent) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_budget_set(fa, "physics", 0, 100000);
    fa_begin_frame(fa);
    void *keep[3] = {0};
    FA_WITH_TAG(fa, "physics") {
        (void)!fa_frame_alloc(fa, 30000, 16);
        keep[0] = fa_pool_alloc(fa, 4096);
        FA_WITH_TAG(fa, "contacts") {
            (void)!fa_frame_alloc_batch(fa, 64, 16, 700); /* 44800: physics at 78896 */
            keep[1] = fa_heap_alloc(fa, 2000, 64);        /* 80896: 80 % */
        }
    }
    FA_WITH_TAG(fa, "render") { keep[2] = fa_pool_alloc(fa, 1000); }
    (void)!fa_frame_alloc(fa, 10, 1); /* untagged */
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_WARNING, "physics"), 1);
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, "physics"), 0);
    FA_WITH_TAG(fa, "physics/contacts") { (void)!fa_frame_alloc(fa, 20000, 16); }
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_EXCEEDED, "physics"), 1);

    fa_tag_row_t rows[16];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 16};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.version, FA_SNAPSHOT_VERSION);
    cr_assert_eq(s.row_count, 4);
    check_rows_add_up(&s);
    const fa_tag_row_t *ph = row_of(&s, "physics"), *co = row_of(&s, "physics/contacts");
    cr_assert_eq(co->parent_id, ph->id);
    cr_assert_eq(co->depth, 2);
    cr_assert_eq(ph->self.frame_bytes, 30000);
    cr_assert_eq(co->self.frame_bytes, 64800);
    cr_assert_eq(ph->total.frame_bytes, 94800, "the parent includes its child");
    cr_assert_eq(ph->total.heap_bytes, 2000);
    cr_assert_eq(ph->live_bytes, 94800 + 4096 + 2000);
    cr_assert_eq(ph->budget_hard, 100000);
    cr_assert_eq(row_of(&s, "")->self.frame_bytes, 10);
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 4096 + 1024);
    fa_end_frame(fa);

    /* Next frame: frame bytes and per-frame counts start from zero; live
     * pool and heap bytes stay; the peak remembers. */
    fa_begin_frame(fa);
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    check_rows_add_up(&s);
    ph = row_of(&s, "physics");
    cr_assert_eq(ph->total.frame_bytes, 0);
    cr_assert_eq(ph->total.alloc_count, 0);
    cr_assert_eq(ph->live_bytes, 4096 + 2000);
    cr_assert_eq(ph->peak_bytes, 94800 + 4096 + 2000);
    cr_assert_eq(s.totals[FA_KIND_FRAME].peak, 94800 + 10);
    fa_end_frame(fa);
    fa_pool_free(fa, keep[0]);
    fa_heap_free(fa, keep[1]);
    fa_pool_free(fa, keep[2]);
    fa_destroy(fa);
}

Test(snapshot, too_few_rows_is_reported_as_truncated) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_tag_find(fa, "a/b/c", true);
    fa_tag_row_t rows[2];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 2};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_ERR_TRUNCATED);
    cr_assert_eq(s.row_count, 2);
    cr_assert_eq(s.tag_count, 4);
    fa_destroy(fa);
}

typedef struct mt {
    fa_alloc_t *fa;
    pthread_barrier_t *b;
} mt_t;

static void *tagged_worker(void *arg) {
    mt_t *m = arg;
    fa_begin_frame(m->fa);
    FA_TAG_SCOPE(m->fa, "ai/pathfinding");
    for (int i = 0; i < 100; i++) (void)!fa_frame_alloc(m->fa, 100, 8);
    void *p = fa_pool_alloc(m->fa, 256);
    pthread_barrier_wait(m->b); /* main snapshots */
    pthread_barrier_wait(m->b);
    fa_pool_free(m->fa, p);
    fa_end_frame(m->fa);
    return NULL;
}

Test(snapshot, rows_include_every_threads_allocations) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 3);
    mt_t m = {fa, &b};
    pthread_t t1, t2;
    pthread_create(&t1, NULL, tagged_worker, &m);
    pthread_create(&t2, NULL, tagged_worker, &m);
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "ai") { (void)!fa_frame_alloc(fa, 500, 8); }
    pthread_barrier_wait(&b);
    fa_tag_row_t rows[8];
    fa_thread_row_t threads[4];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 8, .threads = threads, .threads_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    pthread_barrier_wait(&b);
    check_rows_add_up(&s);
    cr_assert_eq(row_of(&s, "ai/pathfinding")->self.frame_bytes, 20000);
    cr_assert_eq(row_of(&s, "ai/pathfinding")->self.pool_bytes, 512);
    cr_assert_eq(row_of(&s, "ai")->total.frame_bytes, 20500);
    cr_assert_eq(s.thread_count, 3);
    uint64_t used = 0;
    for (uint32_t i = 0; i < s.thread_count; i++) used += threads[i].frame_used;
    cr_assert_eq(used, 20500);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    fa_end_frame(fa);
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.thread_count, 1, "exited threads are gone from the thread rows");
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 0);
    pthread_barrier_destroy(&b);
    fa_destroy(fa);
}

static void count_frames(fa_alloc_t *fa, uint64_t frame, void *user) {
    fa_tag_row_t rows[4];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 4};
    syscount_start();
    fa_snapshot_take(fa, &s);
    long calls = syscount_stop();
    uint64_t *seen = user;
    seen[0]++;
    seen[1] = frame;
    seen[2] = s.totals[FA_KIND_FRAME].in_use;
    seen[3] += (uint64_t)calls;
}

typedef struct pair {
    fa_tag_row_t before[16], in_hook[16];
    fa_snapshot_t a, b;
} pair_t;

static void snapshot_in_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    pair_t *p = user;
    p->b = (fa_snapshot_t){.rows = p->in_hook, .rows_capacity = 16};
    fa_snapshot_take(fa, &p->b);
}

Test(snapshot, a_snapshot_in_a_frame_end_hook_equals_one_taken_just_before_the_end) {
    fa_alloc_t *fa = fa_create(NULL);
    pair_t *p = calloc(1, sizeof *p);
    fa_on_frame_end(fa, snapshot_in_hook, p);
    void *keep[3];
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "physics") {
            (void)!fa_frame_alloc(fa, 1000 + (size_t)f, 8);
            FA_WITH_TAG(fa, "contacts") { keep[f] = fa_pool_alloc(fa, 200); }
        }
        FA_WITH_TAG(fa, "render") { fa_heap_free(fa, fa_heap_alloc(fa, 7000, 16)); }
        p->a = (fa_snapshot_t){.rows = p->before, .rows_capacity = 16};
        fa_snapshot_take(fa, &p->a);
        fa_end_frame(fa);
        cr_assert_eq(p->b.tag_count, p->a.tag_count);
        cr_assert_eq(p->b.row_count, p->a.row_count);
        for (int k = 0; k < FA_KIND_COUNT_; k++) {
            cr_assert_eq(p->b.totals[k].in_use, p->a.totals[k].in_use, "kind %d", k);
            cr_assert_eq(p->b.totals[k].alloc_count, p->a.totals[k].alloc_count, "kind %d", k);
            cr_assert_eq(p->b.totals[k].alloc_bytes, p->a.totals[k].alloc_bytes, "kind %d", k);
            cr_assert_eq(p->b.totals[k].free_count, p->a.totals[k].free_count, "kind %d", k);
        }
        for (uint32_t i = 0; i < p->a.row_count; i++) {
            cr_assert_str_eq(p->in_hook[i].path, p->before[i].path);
            cr_assert_eq(memcmp(&p->in_hook[i].self, &p->before[i].self, sizeof p->before[i].self), 0, "%s",
                         p->before[i].path);
            cr_assert_eq(memcmp(&p->in_hook[i].total, &p->before[i].total, sizeof p->before[i].total), 0);
            cr_assert_eq(p->in_hook[i].live_bytes, p->before[i].live_bytes);
        }
        cr_assert_eq(p->b.totals[FA_KIND_FRAME].alloc_count, 1, "per-frame counts restart every frame");
    }
    for (int f = 0; f < 3; f++) fa_pool_free(fa, keep[f]);
    free(p);
    fa_destroy(fa);
}

Test(snapshot, frame_end_hooks_see_the_frame_before_reset_and_snapshots_do_not_allocate) {
    fa_alloc_t *fa = fa_create(NULL);
    uint64_t seen[4] = {0};
    cr_assert_eq(fa_on_frame_end(fa, count_frames, seen), FA_OK);
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        (void)!fa_frame_alloc(fa, 1234, 8);
        fa_end_frame(fa);
    }
    cr_assert_eq(seen[0], 3);
    cr_assert_eq(seen[1], 2, "the hook gets the number of the frame that ends");
    cr_assert_eq(seen[2], 1234);
    cr_assert_eq(seen[3], 0, "fa_snapshot_take called malloc or mmap");
    cr_assert_eq(fa_remove_frame_hook(fa, count_frames, seen), FA_OK);
    cr_assert_eq(fa_remove_frame_hook(fa, count_frames, seen), FA_ERR_NOT_FOUND);
    fa_begin_frame(fa);
    fa_end_frame(fa);
    cr_assert_eq(seen[0], 3);
    fa_destroy(fa);
}

#endif

#ifdef FA_MINIMAL
Test(snapshot, minimal_build_reports_tags_without_figures) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "physics") { (void)!fa_frame_alloc(fa, 100, 8); }
    fa_tag_row_t rows[4];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.row_count, 2);
    cr_assert_eq(row_of(&s, "physics")->self.frame_bytes, 0);
    fa_end_frame(fa);
    fa_destroy(fa);
}

#endif
