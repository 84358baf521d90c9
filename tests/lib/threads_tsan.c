/* Threaded behaviour of lib, run under ThreadSanitizer (and plain): cross-
 * thread pool frees, snapshots racing with allocating threads, budgets
 * charged from several threads, tag creation races and thread exits. */
#include <framealloc.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsan_harness.h"

enum { RING = 256 };
typedef struct ring {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *slots[RING];
    int head, count, done;
} ring_t;

typedef struct shared {
    fa_alloc_t *fa;
    ring_t ring;
    int rounds;
    _Atomic int stop;
} shared_t;

static void ring_put(ring_t *r, void *p) {
    pthread_mutex_lock(&r->lock);
    while (r->count == RING) pthread_cond_wait(&r->cond, &r->lock);
    r->slots[(r->head + r->count++) % RING] = p;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *ring_get(ring_t *r) {
    pthread_mutex_lock(&r->lock);
    while (r->count == 0 && !r->done) pthread_cond_wait(&r->cond, &r->lock);
    void *p = NULL;
    if (r->count) {
        p = r->slots[r->head];
        r->head = (r->head + 1) % RING;
        r->count--;
        pthread_cond_broadcast(&r->cond);
    }
    pthread_mutex_unlock(&r->lock);
    return p;
}

static void *producer(void *arg) {
    shared_t *s = arg;
    FA_TAG_SCOPE(s->fa, "physics/contacts");
    for (int i = 0; i < s->rounds; i++) {
        unsigned char *p = fa_pool_alloc(s->fa, (size_t)(i % 300) + 8);
        memset(p, (unsigned char)i, 8);
        ring_put(&s->ring, p);
    }
    pthread_mutex_lock(&s->ring.lock);
    s->ring.done = 1;
    pthread_cond_broadcast(&s->ring.cond);
    pthread_mutex_unlock(&s->ring.lock);
    return NULL;
}

static void *consumer(void *arg) {
    shared_t *s = arg;
    intptr_t bad = 0;
    int i = 0;
    for (unsigned char *p; (p = ring_get(&s->ring)) != NULL; i++) {
        bad += p[0] != (unsigned char)i || p[7] != (unsigned char)i;
        fa_pool_free(s->fa, p);
    }
    return (void *)bad;
}

static void pool_blocks_cross_threads_through_a_ring(void) {
    shared_t s = {.fa = fa_create(NULL), .rounds = 50000};
    pthread_mutex_init(&s.ring.lock, NULL);
    pthread_cond_init(&s.ring.cond, NULL);
    pthread_t p, c;
    pthread_create(&p, NULL, producer, &s);
    pthread_create(&c, NULL, consumer, &s);
    void *bad;
    pthread_join(p, NULL);
    pthread_join(c, &bad);
    CHECK(bad == NULL);
    fa_snapshot_t snap = {0};
    fa_snapshot_take(s.fa, &snap);
#ifndef FA_MINIMAL
    CHECK(snap.totals[FA_KIND_POOL].in_use == 0);
#endif
    fa_destroy(s.fa);
}

static void *busy_worker(void *arg) {
    shared_t *s = arg;
    static const char *tags[] = {"render", "ai/pathfinding", "audio", "physics/broadphase"};
    for (int f = 0; !atomic_load(&s->stop) && f < s->rounds; f++) {
        fa_begin_frame(s->fa);
        FA_TAG_SCOPE(s->fa, tags[f % 4]);
        for (int i = 0; i < 50; i++) (void)!fa_frame_alloc(s->fa, 64, 16);
        void *p = fa_pool_alloc(s->fa, 128);
        void *h = fa_heap_alloc(s->fa, 5000, 64);
        fa_pool_free(s->fa, p);
        fa_heap_free(s->fa, h);
        fa_end_frame(s->fa);
    }
    return NULL;
}

static void snapshot_during_allocation(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    fa_tag_row_t *rows = user;
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 64};
    fa_snapshot_take(fa, &s);
}

static void snapshots_race_with_allocating_threads(void) {
    shared_t s = {.fa = fa_create(NULL), .rounds = 3000};
    fa_budget_set(s.fa, "physics", 0, 1 << 20);
    fa_budget_set(s.fa, "render", 1 << 10, 1 << 16);
    fa_tag_row_t *rows = calloc(64, sizeof *rows);
    fa_on_frame_end(s.fa, snapshot_during_allocation, rows);
    pthread_t w[2];
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, busy_worker, &s);
    for (int f = 0; f < 500; f++) {
        fa_begin_frame(s.fa);
        FA_TAG_SCOPE(s.fa, "ui");
        (void)!fa_frame_alloc(s.fa, 256, 16);
        fa_end_frame(s.fa);
        if (f == 250) fa_budget_set(s.fa, "audio", 0, 1 << 20);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    fa_snapshot_t snap = {.rows = rows, .rows_capacity = 64};
    CHECK(fa_snapshot_take(s.fa, &snap) == FA_OK);
#ifndef FA_MINIMAL
    CHECK(snap.totals[FA_KIND_POOL].in_use == 0);
    CHECK(snap.totals[FA_KIND_HEAP].in_use == 0);
#endif
    CHECK(fa_frame_number(s.fa) == 500);
    fa_destroy(s.fa);
    free(rows);
}

static void *short_lived(void *arg) {
    fa_alloc_t *fa = arg;
    FA_TAG_SCOPE(fa, "assets/streaming");
    fa_begin_frame(fa);
    (void)!fa_frame_alloc(fa, 1000, 8);
    void *keep = fa_heap_alloc(fa, 100, 16);
    fa_end_frame(fa);
    return keep; /* still live after the thread exits */
}

static void exiting_threads_keep_their_live_bytes_counted(void) {
    fa_alloc_t *fa = fa_create(NULL);
    void *kept[40];
    for (int i = 0; i < 40; i += 2) {
        pthread_t a, b;
        pthread_create(&a, NULL, short_lived, fa);
        pthread_create(&b, NULL, short_lived, fa);
        fa_snapshot_t s = {0};
        fa_snapshot_take(fa, &s);
        pthread_join(a, &kept[i]);
        pthread_join(b, &kept[i + 1]);
    }
#ifndef FA_MINIMAL
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    CHECK(s.totals[FA_KIND_HEAP].in_use == 4000);
#endif
    for (int i = 0; i < 40; i++) fa_heap_free(fa, kept[i]);
#ifndef FA_MINIMAL
    fa_snapshot_take(fa, &s);
    CHECK(s.totals[FA_KIND_HEAP].in_use == 0);
#endif
    fa_destroy(fa);
}

static void *make_tags(void *arg) {
    fa_alloc_t *fa = arg;
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof name, "t%d/c%d", i % 50, i % 7);
        FA_TAG_SCOPE(fa, name);
        void *p = fa_pool_alloc(fa, 32);
        fa_pool_free(fa, p);
    }
    return NULL;
}

static void tag_creation_races_with_lookups(void) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, make_tags, fa);
    pthread_create(&b, NULL, make_tags, fa);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    /* 50 parents, each with the children i % 7 for i = parent mod 50. */
    CHECK(fa_tag_count(fa) > 50);
    CHECK(fa_tag_find(fa, "t0/c0", false) > 0);
    fa_destroy(fa);
}

/* --- the frame barrier: 100 000 frames, 3 threads --------------------------- */

typedef struct frames {
    fa_alloc_t *fa;
    fa_barrier_t *done; /* workers signal the end of their frame work */
    fa_barrier_t *next; /* main releases the next frame */
    int frames;
    _Atomic uint64_t *work;
} frames_t;

static void *frame_worker(void *arg) {
    frames_t *f = arg;
    for (int i = 0; i < f->frames; i++) {
        fa_begin_frame(f->fa);
        (void)!fa_frame_alloc(f->fa, 32, 8);
        atomic_fetch_add_explicit(f->work, 1, memory_order_relaxed);
        fa_end_frame(f->fa);
        fa_barrier_signal(f->done);
        if (fa_barrier_wait(f->next, (uint64_t)i + 1, 10ull * 1000000000u) != FA_OK) return (void *)1;
    }
    return NULL;
}

static void barrier_runs_100000_frames_on_3_threads(void) {
    enum { FRAMES = 100000 };
    fa_alloc_t *fa = fa_create(NULL);
    fa_barrier_t done, next;
    fa_barrier_init(&done, 2);
    fa_barrier_init(&next, 1);
    _Atomic uint64_t work = 0;
    frames_t f = {.fa = fa, .done = &done, .next = &next, .frames = FRAMES, .work = &work};
    pthread_t w[2];
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, frame_worker, &f);
    int stuck = 0;
    for (uint64_t round = 1; round <= FRAMES; round++) {
        fa_begin_frame(fa);
        /* All workers finished this frame's work: no lost wake-up may hang here. */
        if (fa_barrier_wait(&done, round, 10ull * 1000000000u) != FA_OK) {
            stuck = 1;
            break;
        }
        if (atomic_load_explicit(&work, memory_order_relaxed) < 2 * round) stuck = 1;
        fa_end_frame(fa);
        fa_barrier_signal(&next);
    }
    CHECK(!stuck);
    for (int i = 0; i < 2; i++) {
        void *rc;
        pthread_join(w[i], &rc);
        CHECK(rc == NULL);
    }
    CHECK(fa_barrier_rounds(&done) == FRAMES);
    CHECK(fa_frame_number(fa) == FRAMES);
    fa_barrier_fini(&done);
    fa_barrier_fini(&next);
    fa_destroy(fa);
}

/* --- transfers: racing receivers, exactly one wins ----------------------------- */

typedef struct race {
    fa_alloc_t *fa;
    fa_transfer_t h;
    fa_barrier_t *start;
    _Atomic int winners;
} race_t;

static void *racer(void *arg) {
    race_t *r = arg;
    fa_barrier_arrive_and_wait(r->start, FA_WAIT_FOREVER);
    size_t size;
    int *p = fa_transfer_receive(r->fa, r->h, &size);
    if (p && *p == 1234 && size == sizeof(int)) {
        atomic_fetch_add(&r->winners, 1);
        fa_transfer_release(r->fa, r->h);
    }
    return NULL;
}

static void a_transfer_is_received_once_by_racing_threads(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_barrier_t start;
    for (int round = 0; round < 200; round++) {
        fa_barrier_init(&start, 3);
        race_t r = {.fa = fa};
        r.h = fa_transfer_create(fa, sizeof(int));
        *(int *)fa_transfer_data(fa, r.h) = 1234;
        fa_transfer_send(fa, r.h);
        r.start = &start;
        pthread_t t[3];
        for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, racer, &r);
        for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
        CHECK(atomic_load(&r.winners) == 1);
        fa_barrier_fini(&start);
    }
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    CHECK(s.transfers.released == 200);
    fa_destroy(fa);
}

/* --- the behaviour filter with several threads --------------------------------- */

static void *filtered_worker(void *arg) {
    fa_alloc_t *fa = arg;
    for (int f = 0; f < 400; f++) {
        fa_begin_frame(fa);
        FA_TAG_SCOPE(fa, "jobs");
        fa_pool_free(fa, fa_pool_alloc(fa, 64));
        fa_heap_free(fa, fa_heap_alloc(fa, 5000, 16));
        (void)!fa_frame_alloc_retained(fa, 64, 16, FA_RETAIN_FRAMES, 2);
        fa_end_frame(fa);
    }
    return NULL;
}

static void behaviour_filter_is_fed_from_several_threads(void) {
    fa_config_t cfg = {.behaviour = FA_BEHAVIOUR_STRICT};
    fa_alloc_t *fa = fa_create(&cfg);
    pthread_t w[2];
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, filtered_worker, fa);
    fa_finding_t out[16];
    for (int f = 0; f < 300; f++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
        fa_finding_t fs[8];
        fa_snapshot_t s = {.findings = fs, .findings_capacity = 8};
        fa_snapshot_take(fa, &s);
    }
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    for (int f = 0; f < 30; f++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
    }
    (void)fa_behaviour_report(fa, out, 16);
    fa_destroy(fa);
}

/* --- per-frame counts: every allocation counted in exactly one frame ------ */

typedef struct counting {
    fa_alloc_t *fa;
    int frames;
    _Atomic int done;
    uint64_t sum_frame_allocs; /* main thread only (the hook) */
    uint64_t sum_pool_allocs;
    uint64_t sum_pool_frees;
    uint64_t wrapped; /* frames whose count was not a plausible figure */
} counting_t;

static void sum_frame_counts(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    counting_t *c = user;
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    /* A count taken twice in one frame shows as a "negative" (wrapped)
     * count in the next. */
    for (int k = 0; k < FA_KIND_COUNT_; k++)
        if (s.totals[k].alloc_count > (1u << 30) || s.totals[k].free_count > (1u << 30)) c->wrapped++;
    c->sum_frame_allocs += s.totals[FA_KIND_FRAME].alloc_count;
    c->sum_pool_allocs += s.totals[FA_KIND_POOL].alloc_count;
    c->sum_pool_frees += s.totals[FA_KIND_POOL].free_count;
}

static void *racing_worker(void *arg) {
    counting_t *c = arg;
    for (int f = 0; f < c->frames; f++) {
        fa_begin_frame(c->fa);
        FA_TAG_SCOPE(c->fa, f % 2 ? "jobs/a" : "jobs/b");
        for (int i = 0; i < 7; i++) (void)!fa_frame_alloc(c->fa, 32, 16);
        fa_pool_free(c->fa, fa_pool_alloc(c->fa, 64));
        fa_end_frame(c->fa);
    }
    atomic_store(&c->done, 1);
    return NULL;
}

static void frame_ends_racing_the_main_frame_end_count_every_allocation_once(void) {
    counting_t c = {.fa = fa_create(NULL), .frames = 20000};
    fa_on_frame_end(c.fa, sum_frame_counts, &c);
    pthread_t w[2];
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, racing_worker, &c);
    uint64_t main_allocs = 0;
    while (!atomic_load(&c.done)) {
        fa_begin_frame(c.fa);
        (void)!fa_frame_alloc(c.fa, 16, 16);
        main_allocs++;
        fa_end_frame(c.fa);
    }
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    fa_begin_frame(c.fa);
    fa_end_frame(c.fa); /* the last worker frames count in this one */
#ifndef FA_MINIMAL
    CHECK(c.wrapped == 0);
    CHECK(c.sum_frame_allocs == main_allocs + 2ull * 7 * (uint64_t)c.frames);
    CHECK(c.sum_pool_allocs == 2ull * (uint64_t)c.frames);
    CHECK(c.sum_pool_frees == 2ull * (uint64_t)c.frames);
    if (c.sum_frame_allocs != main_allocs + 2ull * 7 * (uint64_t)c.frames)
        fprintf(stderr, "  frame allocations counted %llu, made %llu\n", (unsigned long long)c.sum_frame_allocs,
                (unsigned long long)(main_allocs + 2ull * 7 * (uint64_t)c.frames));
#endif
    fa_destroy(c.fa);
}

/* Lock-step rounds: the worker's allocations all happen before its frame
 * end, which races with the main thread's frame end; every round must count
 * them exactly once, never twice. */
typedef struct lockstep {
    fa_alloc_t *fa;
    pthread_barrier_t *b;
    int rounds;
    uint64_t bad_rounds;
    uint64_t last_count;
} lockstep_t;

static void check_round(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    lockstep_t *l = user;
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    l->last_count = s.totals[FA_KIND_FRAME].alloc_count;
}

static void *lockstep_worker(void *arg) {
    lockstep_t *l = arg;
    for (int r = 0; r < l->rounds; r++) {
        fa_begin_frame(l->fa);
        FA_TAG_SCOPE(l->fa, "jobs");
        for (int i = 0; i < 5; i++) (void)!fa_frame_alloc(l->fa, 16, 16);
        pthread_barrier_wait(l->b);
        fa_end_frame(l->fa); /* races with the main thread's */
        pthread_barrier_wait(l->b);
    }
    return NULL;
}

static void a_worker_frame_end_racing_the_main_frame_end_is_counted_once(void) {
    pthread_barrier_t b;
    pthread_barrier_init(&b, NULL, 2);
    lockstep_t l = {.fa = fa_create(NULL), .b = &b, .rounds = 20000};
    fa_on_frame_end(l.fa, check_round, &l);
    pthread_t w;
    pthread_create(&w, NULL, lockstep_worker, &l);
    for (int r = 0; r < l.rounds; r++) {
        fa_begin_frame(l.fa);
        (void)!fa_frame_alloc(l.fa, 16, 16);
        pthread_barrier_wait(&b);
        fa_end_frame(l.fa);
#ifndef FA_MINIMAL
        if (l.last_count != 6) l.bad_rounds++;
#endif
        pthread_barrier_wait(&b);
    }
    pthread_join(w, NULL);
    if (l.bad_rounds) fprintf(stderr, "  %llu of %d rounds miscounted\n", (unsigned long long)l.bad_rounds, l.rounds);
    CHECK(l.bad_rounds == 0);
    pthread_barrier_destroy(&b);
    fa_destroy(l.fa);
}

/* Snapshots on a thread that is not the main one, while the main thread and
 * workers end frames: no data race (TSan), and figures that add up. */
static void *snapshotter(void *arg) {
    shared_t *s = arg;
    fa_tag_row_t rows[32];
    fa_thread_row_t threads[8];
    int bad = 0;
    while (!atomic_load(&s->stop)) {
        fa_snapshot_t snap = {.rows = rows, .rows_capacity = 32, .threads = threads, .threads_capacity = 8};
        fa_snapshot_take(s->fa, &snap);
#ifndef FA_MINIMAL
        uint64_t frame = 0;
        for (uint32_t i = 0; i < snap.row_count; i++) frame += rows[i].self.frame_bytes;
        if (frame != snap.totals[FA_KIND_FRAME].in_use) bad++;
        if (snap.totals[FA_KIND_FRAME].peak < snap.totals[FA_KIND_FRAME].in_use) bad++;
        if (snap.totals[FA_KIND_POOL].in_use > (1u << 20)) bad++; /* a wrapped figure */
#endif
    }
    return (void *)(intptr_t)bad;
}

static void snapshots_on_any_thread_while_others_end_frames_are_clean(void) {
    shared_t s = {.fa = fa_create(NULL), .rounds = 3000};
    fa_budget_set(s.fa, "render", 0, 1 << 20);
    pthread_t w[2], snap;
    for (int i = 0; i < 2; i++) pthread_create(&w[i], NULL, busy_worker, &s);
    pthread_create(&snap, NULL, snapshotter, &s);
    for (int f = 0; f < 1500; f++) {
        fa_begin_frame(s.fa);
        FA_TAG_SCOPE(s.fa, "ui");
        (void)!fa_frame_alloc(s.fa, 256, 16);
        fa_end_frame(s.fa);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(w[i], NULL);
    void *bad;
    pthread_join(snap, &bad);
    CHECK(bad == NULL);
    fa_destroy(s.fa);
}

/* Thread rows while threads start and exit: a new thread's index was written
 * after its record was listed, racing the snapshot that read it (TSan). */
typedef struct rows_reader {
    fa_alloc_t *fa;
    atomic_int stop;
} rows_reader_t;

static void *read_thread_rows(void *arg) {
    rows_reader_t *r = arg;
    fa_thread_row_t threads[16];
    intptr_t bad = 0;
    while (!atomic_load(&r->stop)) {
        fa_snapshot_t snap = {.threads = threads, .threads_capacity = 16};
        fa_snapshot_take(r->fa, &snap);
        for (uint32_t i = 0; i < snap.thread_count; i++)
            for (uint32_t j = 0; j < i; j++) bad += threads[i].index == threads[j].index;
    }
    return (void *)bad;
}

static void thread_rows_of_threads_starting_during_snapshots_are_clean(void) {
    rows_reader_t r = {.fa = fa_create(NULL)};
    pthread_t reader;
    pthread_create(&reader, NULL, read_thread_rows, &r);
    void *kept[60];
    for (int i = 0; i < 60; i += 2) {
        pthread_t a, b;
        pthread_create(&a, NULL, short_lived, r.fa);
        pthread_create(&b, NULL, short_lived, r.fa);
        pthread_join(a, &kept[i]);
        pthread_join(b, &kept[i + 1]);
    }
    atomic_store(&r.stop, 1);
    void *bad;
    pthread_join(reader, &bad);
    CHECK(bad == NULL);
    for (int i = 0; i < 60; i++) fa_heap_free(r.fa, kept[i]);
    fa_destroy(r.fa);
}

int main(void) {
    static const harness_case_t cases[] = {
        {"thread_rows_of_threads_starting_during_snapshots_are_clean",
         thread_rows_of_threads_starting_during_snapshots_are_clean},
        {"pool_blocks_cross_threads_through_a_ring", pool_blocks_cross_threads_through_a_ring},
        {"snapshots_race_with_allocating_threads", snapshots_race_with_allocating_threads},
        {"exiting_threads_keep_their_live_bytes_counted", exiting_threads_keep_their_live_bytes_counted},
        {"tag_creation_races_with_lookups", tag_creation_races_with_lookups},
        {"barrier_runs_100000_frames_on_3_threads", barrier_runs_100000_frames_on_3_threads},
        {"a_transfer_is_received_once_by_racing_threads", a_transfer_is_received_once_by_racing_threads},
        {"behaviour_filter_is_fed_from_several_threads", behaviour_filter_is_fed_from_several_threads},
        {"frame_ends_racing_the_main_frame_end_count_every_allocation_once",
         frame_ends_racing_the_main_frame_end_count_every_allocation_once},
        {"a_worker_frame_end_racing_the_main_frame_end_is_counted_once",
         a_worker_frame_end_racing_the_main_frame_end_is_counted_once},
        {"snapshots_on_any_thread_while_others_end_frames_are_clean",
         snapshots_on_any_thread_while_others_end_frames_are_clean},
    };
    return harness_run("lib-threads", cases, (int)(sizeof cases / sizeof cases[0]));
}
