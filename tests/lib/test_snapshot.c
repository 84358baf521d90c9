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
    cr_assert_eq(ph->peak_bytes, ph->live_bytes, "nothing was freed: the peak is what is live");
    cr_assert_eq(ph->budget_hard, 100000);
    cr_assert_eq(row_of(&s, "")->self.frame_bytes, 10);
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 4096 + 1024);
    fa_end_frame(fa);

    /* Next frame: frame bytes and per-frame counts start from zero; live
     * pool and heap bytes stay; peaks are those of the new frame, which
     * starts from what is live. */
    fa_begin_frame(fa);
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    check_rows_add_up(&s);
    ph = row_of(&s, "physics");
    cr_assert_eq(ph->total.frame_bytes, 0);
    cr_assert_eq(ph->total.alloc_count, 0);
    cr_assert_eq(ph->live_bytes, 4096 + 2000);
    cr_assert_eq(ph->peak_bytes, 4096 + 2000);
    cr_assert_eq(s.totals[FA_KIND_FRAME].peak, 0);
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

/* Parents' totals come from every tag, not only from the rows that fit. */
Test(snapshot, a_truncated_snapshot_still_totals_every_tag) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "a/b/c") { (void)!fa_frame_alloc(fa, 300, 1); }
    FA_WITH_TAG(fa, "a/b") { void *p = fa_pool_alloc(fa, 64); fa_pool_free(fa, p); }
    fa_tag_row_t rows[2];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 2};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_ERR_TRUNCATED);
    cr_assert_eq(s.row_count, 2);
    cr_assert_str_eq(rows[1].path, "a");
    cr_assert_eq(rows[1].total.frame_bytes, 300, "a's total includes a/b/c, which did not fit");
    cr_assert_eq(rows[1].total.alloc_count, 2);
    cr_assert_eq(rows[0].total.frame_bytes, 300);
    cr_assert_eq(rows[1].live_bytes, 300);
    cr_assert_eq(s.totals[FA_KIND_FRAME].in_use, 300);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(snapshot, frame_allocation_counts_beyond_2_to_the_24_do_not_wrap) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.frame_chunk_bytes = 32u << 20});
    enum { N = (1 << 24) + 1000 };
    fa_begin_frame(fa);
    fa_tag_push(fa, "particles");
    for (int i = 0; i < N; i++) cr_assert_not_null(fa_frame_alloc(fa, 1, 1));
    fa_tag_row_t rows[4];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(row_of(&s, "particles")->self.alloc_count, N);
    cr_assert_eq(row_of(&s, "particles")->self.frame_bytes, N);
    cr_assert_eq(s.totals[FA_KIND_FRAME].alloc_count, N);
    fa_tag_pop(fa);
    fa_end_frame(fa);
    /* The frame that ended counted them once; the next starts at zero. */
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.totals[FA_KIND_FRAME].alloc_count, 0);
    fa_destroy(fa);
}

/* --- true per-frame peaks ------------------------------------------------ */

typedef struct peak_hook {
    fa_tag_row_t rows[16];
    fa_thread_row_t threads[4];
    fa_snapshot_t s;
} peak_hook_t;

static void take_in_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    peak_hook_t *h = user;
    h->s = (fa_snapshot_t){.rows = h->rows, .rows_capacity = 16, .threads = h->threads, .threads_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &h->s), FA_OK);
}

static void *job_worker(void *arg) {
    fa_alloc_t *fa = arg;
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "jobs/ai") {
        for (int i = 0; i < 64; i++) memset(fa_frame_alloc(fa, 1024, 16), i, 1024);
    }
    fa_end_frame(fa);
    return NULL;
}

Test(snapshot, a_worker_frame_that_ended_before_the_main_frame_end_shows_in_the_peaks) {
    fa_alloc_t *fa = fa_create(NULL);
    peak_hook_t *h = calloc(1, sizeof *h);
    fa_on_frame_end(fa, take_in_hook, h);
    fa_begin_frame(fa);
    pthread_t w;
    pthread_create(&w, NULL, job_worker, fa);
    pthread_join(w, NULL); /* the worker's frame ended */
    FA_WITH_TAG(fa, "render") { (void)!fa_frame_alloc(fa, 1000, 16); }
    fa_end_frame(fa);
    const fa_tag_row_t *ai = row_of(&h->s, "jobs/ai"), *jobs = row_of(&h->s, "jobs");
    cr_assert_not_null(ai);
    cr_assert_eq(ai->live_bytes, 0, "the worker's frame memory is gone");
    cr_assert_eq(ai->peak_bytes, 65536);
    cr_assert_eq(jobs->peak_bytes, 65536);
    cr_assert_eq(h->s.totals[FA_KIND_FRAME].peak, 65536 + 1000);
    cr_assert_eq(h->s.totals[FA_KIND_FRAME].alloc_count, 65);
    cr_assert_eq(h->s.totals[FA_KIND_FRAME].alloc_bytes, 65536 + 1000);
    free(h);
    fa_destroy(fa);
}

typedef struct rows_box {
    fa_alloc_t *fa;
    pthread_barrier_t *b;
} rows_box_t;

static void *worker_with_a_row(void *arg) {
    rows_box_t *r = arg;
    fa_begin_frame(r->fa);
    (void)!fa_frame_alloc(r->fa, 40000, 16);
    fa_end_frame(r->fa);
    fa_begin_frame(r->fa);
    (void)!fa_frame_alloc(r->fa, 1000, 16);
    pthread_barrier_wait(r->b); /* main snapshots */
    pthread_barrier_wait(r->b);
    fa_end_frame(r->fa);
    return NULL;
}

Test(snapshot, thread_rows_carry_frame_used_and_frame_peak) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    rows_box_t r = {fa, &b};
    fa_begin_frame(fa);
    (void)!fa_frame_alloc(fa, 300, 16);
    pthread_t w;
    pthread_create(&w, NULL, worker_with_a_row, &r);
    pthread_barrier_wait(&b);
    fa_thread_row_t t[4];
    fa_snapshot_t s = {.threads = t, .threads_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    pthread_barrier_wait(&b);
    pthread_join(w, NULL);
    cr_assert_eq(s.thread_count, 2);
    const fa_thread_row_t *mainrow = t[0].frame_used == 300 ? &t[0] : &t[1];
    const fa_thread_row_t *worker = mainrow == &t[0] ? &t[1] : &t[0];
    cr_assert_eq(mainrow->frame_used, 300);
    cr_assert_eq(mainrow->frame_peak, 300);
    cr_assert_eq(worker->frame_used, 1000);
    cr_assert_eq(worker->frame_peak, 40000, "its earlier frame in this frame of the context");
    fa_end_frame(fa);
    pthread_barrier_destroy(&b);
    fa_destroy(fa);
}

Test(snapshot, a_heap_or_pool_block_allocated_and_freed_within_a_frame_shows_in_the_peaks) {
    fa_alloc_t *fa = fa_create(NULL);
    peak_hook_t *h = calloc(1, sizeof *h);
    fa_on_frame_end(fa, take_in_hook, h);
    void *kept = fa_heap_alloc(fa, 100, 16); /* live before the frame */
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "assets") {
        void *a = fa_heap_alloc(fa, 5000, 16);
        void *b = fa_pool_alloc(fa, 1024);
        fa_heap_free(fa, a);
        fa_pool_free(fa, b);
    }
    fa_end_frame(fa);
    cr_assert_eq(h->s.totals[FA_KIND_HEAP].in_use, 100);
    cr_assert_eq(h->s.totals[FA_KIND_HEAP].peak, 5100);
    cr_assert_eq(h->s.totals[FA_KIND_POOL].peak, 1024);
    const fa_tag_row_t *assets = row_of(&h->s, "assets");
    cr_assert_eq(assets->live_bytes, 0);
    cr_assert_eq(assets->peak_bytes, 5000 + 1024, "both blocks were live at once");
    /* The next frame's peaks start from what is live. */
    fa_begin_frame(fa);
    fa_end_frame(fa);
    cr_assert_eq(h->s.totals[FA_KIND_HEAP].peak, 100);
    cr_assert_eq(h->s.totals[FA_KIND_POOL].peak, 0);
    cr_assert_eq(row_of(&h->s, "assets")->peak_bytes, 0);
    fa_heap_free(fa, kept);
    free(h);
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
