/* The frame barrier: a mutex, a condition variable on CLOCK_MONOTONIC, the
 * number of parties, arrivals in the current round and rounds completed.
 * The completing signal advances the round and broadcasts while holding the
 * lock, and waiters compare round numbers instead of waiting for "the next
 * wake-up", so no wake-up is lost and a late waiter returns at once. */
#include "internal.h"

#include <errno.h>
#include <time.h>

typedef struct barrier {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint32_t parties;
    uint32_t arrived;
    uint64_t rounds; /* completed */
} barrier_t;

_Static_assert(sizeof(barrier_t) <= sizeof(fa_barrier_t), "fa_barrier_t too small");
_Static_assert(_Alignof(barrier_t) <= _Alignof(fa_barrier_t), "fa_barrier_t misaligned");

int fa_barrier_init(fa_barrier_t *fb, uint32_t parties) {
    if (!fb || parties == 0) return FA_ERR_INVALID_ARG;
    barrier_t *b = (barrier_t *)fb;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&b->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) return FA_ERR_SYSTEM;
    if (pthread_mutex_init(&b->lock, NULL) != 0) {
        pthread_cond_destroy(&b->cond);
        return FA_ERR_SYSTEM;
    }
    b->parties = parties;
    b->arrived = 0;
    b->rounds = 0;
    return FA_OK;
}

void fa_barrier_fini(fa_barrier_t *fb) {
    barrier_t *b = (barrier_t *)fb;
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
}

uint64_t fa_barrier_signal(fa_barrier_t *fb) {
    barrier_t *b = (barrier_t *)fb;
    pthread_mutex_lock(&b->lock);
    uint64_t round = b->rounds + 1;
    if (++b->arrived == b->parties) {
        b->arrived = 0;
        b->rounds = round;
        pthread_cond_broadcast(&b->cond); /* under the lock: no lost wake-up */
    }
    pthread_mutex_unlock(&b->lock);
    return round;
}

int fa_barrier_wait(fa_barrier_t *fb, uint64_t round, uint64_t timeout_ns) {
    barrier_t *b = (barrier_t *)fb;
    struct timespec deadline;
    if (timeout_ns != FA_WAIT_FOREVER) {
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns % 1000000000u;
        deadline.tv_sec += (time_t)(timeout_ns / 1000000000u + ns / 1000000000u);
        deadline.tv_nsec = (long)(ns % 1000000000u);
    }
    int rc = FA_OK;
    pthread_mutex_lock(&b->lock);
    while (b->rounds < round) {
        if (timeout_ns == FA_WAIT_FOREVER) {
            pthread_cond_wait(&b->cond, &b->lock);
        } else if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) == ETIMEDOUT) {
            if (b->rounds < round) rc = FA_ERR_TIMEOUT;
            break;
        }
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

int fa_barrier_arrive_and_wait(fa_barrier_t *fb, uint64_t timeout_ns) {
    return fa_barrier_wait(fb, fa_barrier_signal(fb), timeout_ns);
}

uint64_t fa_barrier_rounds(fa_barrier_t *fb) {
    barrier_t *b = (barrier_t *)fb;
    pthread_mutex_lock(&b->lock);
    uint64_t r = b->rounds;
    pthread_mutex_unlock(&b->lock);
    return r;
}
