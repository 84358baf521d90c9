/* What the main thread's fa_end_frame costs: the threads and tags active
 * since the last frame end, not every thread times every tag. The work is
 * read from the library's fold counters (timing is for make bench: there,
 * 64 idle threads and 1000 tags cost 22x one thread before this fix). */
#include "capture.h"

#include <pthread.h>
#include <stdio.h>

/* Internal, for tests: threads and (thread, tag) rows the last fold read. */
void fa__stats_last_fold(fa_alloc_t *fa, uint32_t *threads, uint32_t *rows);

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

#endif
