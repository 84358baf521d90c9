/* What the main thread's fa_end_frame costs: the threads and tags active
 * since the last frame end, not every thread times every tag. The work is
 * read from the library's fold counters (timing is for make bench: there,
 * 64 idle threads and 1000 tags cost 22x one thread before this fix). */
#include "capture.h"

#include <pthread.h>
#include <stdio.h>

/* Internal, for tests: threads and (thread, tag) rows the last fold read. */
void fa__stats_last_fold(fa_alloc_t *fa, uint32_t *threads, uint32_t *rows);
/* Internal, for tests: (site, tag) entries the last fold read. */
uint32_t fa__stats_last_fold_sites(fa_alloc_t *fa);
/* Internal, for tests: tags the behaviour filter's last frame end collected. */
uint32_t fa__bh_last_collected(fa_alloc_t *fa);

#ifndef FA_MINIMAL

enum { TAGS = 1000, IDLE = 64 };

typedef struct idle {
    fa_alloc_t *fa;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int registered, release;
} idle_t;

static void *idle_thread(void *arg) {
    idle_t *s = arg;
    char name[32];
    pthread_mutex_lock(&s->lock);
    int me = s->registered;
    pthread_mutex_unlock(&s->lock);
    snprintf(name, sizeof name, "sys%03d", me * 7 % TAGS);
    fa_begin_frame(s->fa);
    FA_WITH_TAG(s->fa, name) {
        (void)!fa_frame_alloc(s->fa, 64, 16);
        fa_pool_free(s->fa, fa_pool_alloc(s->fa, 100));
    }
    fa_end_frame(s->fa);
    pthread_mutex_lock(&s->lock);
    s->registered++;
    pthread_cond_broadcast(&s->cond);
    while (!s->release)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void main_frame(fa_alloc_t *fa, int f) {
    char name[32];
    fa_begin_frame(fa);
    for (int k = 0; k < 4; k++) {
        snprintf(name, sizeof name, "sys%03d", (f * 4 + k) % TAGS);
        FA_WITH_TAG(fa, name) {
            (void)!fa_frame_alloc(fa, 64, 16);
        }
    }
    fa_end_frame(fa);
}

Test(frame_end, idle_threads_and_untouched_tags_add_no_work_to_the_main_frame_end) {
    fa_alloc_t *fa = fa_create(NULL);
    char name[32];
    for (int i = 0; i < TAGS; i++) {
        snprintf(name, sizeof name, "sys%03d", i);
        cr_assert_geq(fa_tag_find(fa, name, true), 0);
    }
    idle_t s = {.fa = fa};
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    pthread_t th[IDLE];
    for (int i = 0; i < IDLE; i++) {
        pthread_create(&th[i], NULL, idle_thread, &s);
        pthread_mutex_lock(&s.lock);
        while (s.registered <= i)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    }
    /* The first frame end takes what the 64 threads did... */
    main_frame(fa, 0);
    uint32_t threads, rows;
    fa__stats_last_fold(fa, &threads, &rows);
    cr_assert_eq(threads, IDLE + 1);
    /* ...then they are idle: each further frame end reads the main thread
     * and the few tags it used, whatever the 64 threads and 1000 tags. */
    for (int f = 1; f < 200; f++) {
        main_frame(fa, f);
        fa__stats_last_fold(fa, &threads, &rows);
        cr_assert_eq(threads, 1, "frame %d folded %u threads", f, threads);
        cr_assert_leq(rows, 12, "frame %d read %u rows", f, rows);
    }
    pthread_mutex_lock(&s.lock);
    s.release = 1;
    pthread_cond_broadcast(&s.cond);
    pthread_mutex_unlock(&s.lock);
    for (int i = 0; i < IDLE; i++)
        pthread_join(th[i], NULL);
    fa_destroy(fa);
}

/* With the behaviour filter on, the frame end collects the tags fed during
 * the frame (here 2 of 1000, by same-frame pool frees), not every tag; the
 * findings are still those of the fed tags (ids beyond the first 64). */
Test(frame_end, the_behaviour_filter_collects_only_the_tags_fed_in_the_frame) {
    fa_alloc_t *fa = fa_create(NULL);
    char name[32];
    int ids[TAGS];
    for (int i = 0; i < TAGS; i++) {
        snprintf(name, sizeof name, "sys%03d", i);
        ids[i] = fa_tag_find(fa, name, true);
        cr_assert_geq(ids[i], 0);
    }
    cr_assert_eq(fa_behaviour_enable(fa, FA_BEHAVIOUR_DEFAULT), FA_OK);
    for (int f = 0; f < 120; f++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "sys700") {
            for (int k = 0; k < 20; k++)
                fa_pool_free(fa, fa_pool_alloc(fa, 48));
        }
        FA_WITH_TAG(fa, "sys999") {
            fa_pool_free(fa, fa_pool_alloc(fa, 48));
        }
        fa_end_frame(fa);
        cr_assert_leq(fa__bh_last_collected(fa), 2, "frame %d collected %u tags", f,
                      fa__bh_last_collected(fa));
    }
    fa_finding_t out[8];
    uint32_t n = fa_behaviour_report(fa, out, 8);
    cr_assert_eq(n, 2, "%u findings", n);
    cr_assert_eq(out[0].code, FA_FIND_POOL_SAME_FRAME_FREE);
    cr_assert_eq(out[0].tag_id, ids[700]);
    cr_assert_eq(out[0].count, 60 * 20); /* the second window's 60 frames */
    cr_assert_eq(out[1].code, FA_FIND_POOL_SAME_FRAME_FREE);
    cr_assert_eq(out[1].tag_id, ids[999]);
    cr_assert_eq(out[1].count, 60);
    fa_destroy(fa);
}

/* With the behaviour filter on, a pool free writes nothing other threads
 * write (issue 16: shared counters made 2 threads 0.21x as fast as one): a
 * worker's pool frees wait in its own state until its frame end. So a
 * main-thread frame end during the worker's frame collects none of them;
 * the one after the worker's frame end collects them, and the finding
 * counts every one. */
typedef struct frees_worker {
    fa_alloc_t *fa;
    fa_barrier_t freed, collected;
} frees_worker_t;

static void *frees_worker(void *arg) {
    frees_worker_t *w = arg;
    for (int f = 0; f < 60; f++) {
        fa_begin_frame(w->fa);
        FA_WITH_TAG(w->fa, "jobs/ai") {
            for (int k = 0; k < 10; k++) fa_pool_free(w->fa, fa_pool_alloc(w->fa, 48));
        }
        fa_barrier_arrive_and_wait(&w->freed, FA_WAIT_FOREVER);    /* main ends a frame */
        fa_barrier_arrive_and_wait(&w->collected, FA_WAIT_FOREVER);
        fa_end_frame(w->fa);
        fa_barrier_arrive_and_wait(&w->freed, FA_WAIT_FOREVER);    /* main ends another */
        fa_barrier_arrive_and_wait(&w->collected, FA_WAIT_FOREVER);
    }
    return NULL;
}

Test(frame_end, a_workers_filtered_pool_frees_are_collected_at_its_frame_end_not_as_they_happen) {
    frees_worker_t w = {.fa = fa_create(&(fa_config_t){.behaviour = FA_BEHAVIOUR_DEFAULT})};
    cr_assert_not_null(w.fa);
    fa_barrier_init(&w.freed, 2);
    fa_barrier_init(&w.collected, 2);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, frees_worker, &w), 0);
    for (int f = 0; f < 60; f++) {
        fa_barrier_arrive_and_wait(&w.freed, FA_WAIT_FOREVER);
        fa_begin_frame(w.fa);
        fa_end_frame(w.fa);
        cr_assert_eq(fa__bh_last_collected(w.fa), 0, "frame %d: collected during the worker's frame", f);
        fa_barrier_arrive_and_wait(&w.collected, FA_WAIT_FOREVER);
        fa_barrier_arrive_and_wait(&w.freed, FA_WAIT_FOREVER);
        fa_begin_frame(w.fa);
        fa_end_frame(w.fa);
        cr_assert_eq(fa__bh_last_collected(w.fa), 1, "frame %d: not collected after the worker's frame end", f);
        fa_barrier_arrive_and_wait(&w.collected, FA_WAIT_FOREVER);
    }
    pthread_join(th, NULL);
    fa_finding_t out[4];
    cr_assert_eq(fa_behaviour_report(w.fa, out, 4), 1);
    cr_assert_eq(out[0].code, FA_FIND_POOL_SAME_FRAME_FREE);
    cr_assert_eq(out[0].tag_id, fa_tag_find(w.fa, "jobs/ai", false));
    cr_assert_eq(out[0].count, 30 * 10); /* the last window: 60 main frames, 30 of the worker's */
    fa_barrier_fini(&w.freed);
    fa_barrier_fini(&w.collected);
    fa_destroy(w.fa);
}

#if FA_SITES
/* With call sites the frame end reads the (site, tag) entries of the tags
 * the frame touched, not every entry the thread ever made (issue 16: a
 * frame touching 4 of 1000 tags cost 263 000 instructions, ~50 us, because
 * its thread had 1000 entries of one site). */
Test(frame_end, the_fold_reads_only_the_site_entries_of_the_tags_touched) {
    fa_alloc_t *fa = fa_create(NULL);
    char name[32];
    /* One allocating line under 1000 tags: 1000 entries of one site. */
    fa_begin_frame(fa);
    for (int i = 0; i < TAGS; i++) {
        snprintf(name, sizeof name, "sys%03d", i);
        int id = fa_tag_push(fa, name);
        (void)!fa_frame_alloc(fa, 64, 16);
        fa_tag_pop(fa);
        cr_assert_geq(id, 0);
    }
    fa_end_frame(fa);
    for (int f = 0; f < 20; f++) {
        fa_begin_frame(fa);
        for (int k = 0; k < 4; k++) {
            snprintf(name, sizeof name, "sys%03d", (f * 4 + k) % TAGS);
            int id = fa_tag_push(fa, name);
            (void)!fa_frame_alloc(fa, 64, 16);
            fa_tag_pop(fa);
            cr_assert_geq(id, 0);
        }
        fa_end_frame(fa);
        /* The 4 tags' entries (one each), the root's, and those of the tags
         * of the frame before (still listed: their release came after the
         * fold). The first frame after the 1000-tag one reads those 1000. */
        if (f >= 1)
            cr_assert_leq(fa__stats_last_fold_sites(fa), 16, "frame %d read %u entries", f,
                          fa__stats_last_fold_sites(fa));
    }
    fa_destroy(fa);
}
#endif

#endif
