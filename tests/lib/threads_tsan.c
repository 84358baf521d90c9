/* Threaded behaviour of lib, run under ThreadSanitizer (and plain): cross-
 * thread pool frees, snapshots racing with allocating threads, budgets
 * charged from several threads, tag creation races and thread exits. */
#include <framealloc.h>

#include <pthread.h>
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

int main(void) {
    static const harness_case_t cases[] = {
        {"pool_blocks_cross_threads_through_a_ring", pool_blocks_cross_threads_through_a_ring},
        {"snapshots_race_with_allocating_threads", snapshots_race_with_allocating_threads},
        {"exiting_threads_keep_their_live_bytes_counted", exiting_threads_keep_their_live_bytes_counted},
        {"tag_creation_races_with_lookups", tag_creation_races_with_lookups},
        {"barrier_runs_100000_frames_on_3_threads", barrier_runs_100000_frames_on_3_threads},
        {"a_transfer_is_received_once_by_racing_threads", a_transfer_is_received_once_by_racing_threads},
        {"behaviour_filter_is_fed_from_several_threads", behaviour_filter_is_fed_from_several_threads},
    };
    return harness_run("lib-threads", cases, (int)(sizeof cases / sizeof cases[0]));
}
