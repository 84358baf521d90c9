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

int main(void) {
    static const harness_case_t cases[] = {
        {"pool_blocks_cross_threads_through_a_ring", pool_blocks_cross_threads_through_a_ring},
        {"snapshots_race_with_allocating_threads", snapshots_race_with_allocating_threads},
        {"exiting_threads_keep_their_live_bytes_counted", exiting_threads_keep_their_live_bytes_counted},
        {"tag_creation_races_with_lookups", tag_creation_races_with_lookups},
    };
    return harness_run("lib-threads", cases, (int)(sizeof cases / sizeof cases[0]));
}
