/* clock.h — the daemon's two clocks (any thread, no state).
 *
 * Wall time (unix ms) is the daemon's own clock: it stamps every frame
 * (an agent's clock is only reported, see sessions.c), decides retention
 * and "latest". Monotonic time measures durations, deadlines and rate
 * limits, which a wall-clock step must not disturb. */
#ifndef FA_INSIGHTD_CLOCK_H
#define FA_INSIGHTD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock time in unix milliseconds. */
static inline uint64_t clock_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Monotonic time in milliseconds. */
static inline uint64_t clock_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
