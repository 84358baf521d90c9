/* test_writer.c — the writer thread's cadence against a store whose
 * commits take a chosen time (a backend of the test's own behind
 * store_backend.h): under load it writes batch after batch, never idle
 * while records wait; idle, it commits once per interval at most. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "clock.h"
#include "store_backend.h"
#include "writer.h"

#define BATCHES_MAX 256

typedef struct slow_store {
    store_t base;
    uint64_t commit_ms;   /* how long each commit takes */
    pthread_mutex_t lock; /* the fields below: the writer writes, the test reads */
    uint64_t begin_ms[BATCHES_MAX], end_ms[BATCHES_MAX];
    int batches;
    uint64_t frames;
} slow_store_t;

static void sleep_ms(uint64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static slow_store_t *slow(store_t *st) {
    return (slow_store_t *)st;
}
static int slow_begin(store_t *st) {
    slow_store_t *s = slow(st);
    pthread_mutex_lock(&s->lock);
    if (s->batches < BATCHES_MAX) s->begin_ms[s->batches] = clock_mono_ms();
    pthread_mutex_unlock(&s->lock);
    return STORE_OK;
}
static int slow_commit(store_t *st) {
    slow_store_t *s = slow(st);
    sleep_ms(s->commit_ms);
    pthread_mutex_lock(&s->lock);
    if (s->batches < BATCHES_MAX) s->end_ms[s->batches++] = clock_mono_ms();
    pthread_mutex_unlock(&s->lock);
    return STORE_OK;
}
static void slow_rollback(store_t *st) {
    (void)st;
}
static int slow_put_frames(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected) {
    (void)rows, (void)rejected;
    slow_store_t *s = slow(st);
    pthread_mutex_lock(&s->lock);
    s->frames += n;
    pthread_mutex_unlock(&s->lock);
    return STORE_OK;
}
static int slow_put_counters(store_t *st, uint64_t sid, const store_counters_t *c) {
    (void)st, (void)sid, (void)c;
    return STORE_OK;
}
static int64_t slow_prune(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more) {
    (void)st, (void)keep, (void)now_ms, (void)max_rows;
    *more = false;
    return 0;
}
static int slow_maintain(store_t *st, bool *wal_reset) {
    (void)st, (void)wal_reset;
    return STORE_OK;
}
static int slow_check_file(store_t *st) {
    (void)st;
    return 0;
}
static const store_ops_t slow_ops = {.kind = "slow",
                                     .begin = slow_begin,
                                     .commit = slow_commit,
                                     .rollback = slow_rollback,
                                     .put_frames = slow_put_frames,
                                     .put_counters = slow_put_counters,
                                     .prune = slow_prune,
                                     .maintain = slow_maintain,
                                     .check_file = slow_check_file};

typedef struct run {
    slow_store_t store;
    uv_loop_t loop;
    writer_t *w;
} run_t;

static void run_start(run_t *r, uint64_t commit_ms, uint64_t interval_ms) {
    memset(r, 0, sizeof *r);
    store_backend_init(&r->store.base, &slow_ops);
    pthread_mutex_init(&r->store.lock, NULL);
    r->store.commit_ms = commit_ms;
    cr_assert_eq(uv_loop_init(&r->loop), 0);
    writer_options_t wo = {.commit_interval_ms = interval_ms,
                           .buffer_bytes = 64u << 20,
                           .retention_interval_ms = 3600000u,
                           .keep = {3600000u, 3600000u, 3600000u, 3600000u, 3600000u}};
    char err[256];
    cr_assert_eq(writer_start(&r->w, &r->store.base, &r->loop, &wo, NULL, err, sizeof err), 0, "%s", err);
}

/* Frames, one every 5 ms, for `ms`. */
static void feed(run_t *r, uint64_t ms) {
    static const uint8_t blob[64] = {2};
    uint64_t end = clock_mono_ms() + ms;
    for (uint64_t n = 1; clock_mono_ms() < end; n++) {
        store_frame_t f = {0x77, n, n, 1000, blob, sizeof blob};
        store_counters_t c = {.frames = n};
        cr_assert_neq(writer_put_frame(r->w, &f, &c), 0);
        sleep_ms(5);
    }
}

static void run_stop(run_t *r) {
    writer_stop(r->w, clock_mono_ms() + 5000);
    writer_close(r->w);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    writer_free(r->w);
    uv_loop_close(&r->loop);
    pthread_mutex_destroy(&r->store.lock);
    store_backend_fini(&r->store.base);
}

/* Commits that take longer than the interval: the next batch (the records
 * that arrived meanwhile) starts as soon as one ends. The writer used to
 * wait a whole interval after each commit, idle while its buffer filled,
 * which capped a daemon's ingest at batch / (commit + interval). */
Test(writer, starts_the_next_batch_at_once_when_a_commit_outlasts_the_interval) {
    run_t r;
    run_start(&r, 600, 500); /* the old writer: 500 ms idle after each commit */
    feed(&r, 3000);
    run_stop(&r);
    slow_store_t *s = &r.store;
    cr_assert_geq(s->batches, 4, "%d batches", s->batches);
    uint64_t worst = 0;
    for (int i = 1; i < s->batches - 1; i++) /* the last may wait for the stop */
        if (s->begin_ms[i] - s->end_ms[i - 1] > worst) worst = s->begin_ms[i] - s->end_ms[i - 1];
    cr_assert_lt(worst, 250, "the writer was idle %llu ms between two batches while frames waited",
                 (unsigned long long)worst);
}

/* Quick commits: one per interval, not one per record. */
Test(writer, commits_at_most_once_per_interval_when_commits_are_quick) {
    run_t r;
    run_start(&r, 0, 300);
    feed(&r, 1500);
    run_stop(&r);
    slow_store_t *s = &r.store;
    cr_assert_leq(s->batches, 1500 / 300 + 2, "%d batches in 1.5 s", s->batches);
    for (int i = 1; i < s->batches - 1; i++)
        cr_assert_geq(s->begin_ms[i] - s->begin_ms[i - 1], 290, "batches %d and %d %llu ms apart", i - 1, i,
                      (unsigned long long)(s->begin_ms[i] - s->begin_ms[i - 1]));
    cr_assert_gt(s->frames, 0);
}

/* A flood: records arrive faster than one interval's batch should hold.
 * Once the queue holds an eighth of the buffer the writer starts a batch
 * at once instead of sleeping out the interval while the buffer fills and
 * frames are dropped (bench-insightd's 1.2 flood stored 50-80k frames/s
 * with the 250 ms interval, 110-120k with 20 ms, in the same runs). */
Test(writer, starts_a_batch_before_the_interval_when_its_queue_holds_an_eighth_of_the_buffer) {
    run_t r;
    run_start(&r, 0, 5000); /* buffer 64 MiB: 8 MiB starts a batch */
    static uint8_t blob[64u << 10];
    for (uint64_t n = 1; n <= 160; n++) { /* 10 MiB at once */
        store_frame_t f = {0x78, n, n, 1000, blob, sizeof blob};
        store_counters_t c = {.frames = n};
        cr_assert_neq(writer_put_frame(r.w, &f, &c), 0);
    }
    uint64_t start = clock_mono_ms();
    int batches = 0;
    while (batches == 0 && clock_mono_ms() - start < 2000) {
        sleep_ms(10);
        pthread_mutex_lock(&r.store.lock);
        batches = r.store.batches;
        pthread_mutex_unlock(&r.store.lock);
    }
    cr_assert_geq(batches, 1, "no batch within 2 s of 10 MiB queued (interval 5 s)");
    /* Small records still wait for the interval. */
    static const uint8_t small[64] = {2};
    store_frame_t f = {0x78, 1000, 1000, 1000, small, sizeof small};
    store_counters_t c = {.frames = 1000};
    sleep_ms(100); /* the batch above is committed */
    pthread_mutex_lock(&r.store.lock);
    int before = r.store.batches;
    pthread_mutex_unlock(&r.store.lock);
    cr_assert_neq(writer_put_frame(r.w, &f, &c), 0);
    sleep_ms(500);
    pthread_mutex_lock(&r.store.lock);
    cr_assert_eq(r.store.batches, before, "a 64-byte record started a batch before the interval");
    pthread_mutex_unlock(&r.store.lock);
    run_stop(&r);
}
