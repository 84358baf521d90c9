/* FA203: barrier signal/wait mismatch in one function. */
#include <framealloc.h>

static fa_barrier_t physics_done, render_done;

#define SIGNAL_PHYSICS() fa_barrier_signal(&physics_done)

static uint64_t finish_physics(void) { return fa_barrier_signal(&physics_done); }

void wrong_barrier(void) {
    uint64_t r = fa_barrier_signal(&physics_done);
    fa_barrier_wait(&render_done, r, FA_WAIT_FOREVER); /* expect: FA203 */
}

/* The producer side of a hand-off (a one-party barrier used as a signal). */
void hand_off(void) {
    fa_barrier_signal(&render_done); /* ok: FA203 */
}

void twice(void) {
    uint64_t r = SIGNAL_PHYSICS();
    r = SIGNAL_PHYSICS(); /* expect: FA203 macro */
    fa_barrier_wait(&physics_done, r, FA_WAIT_FOREVER);
}

void across(void) {
    uint64_t r = finish_physics();
    fa_barrier_wait(&render_done, r, FA_WAIT_FOREVER); /* ok: FA203 */
    uint64_t q = fa_barrier_signal(&render_done);
    fa_barrier_wait(&physics_done, q, 1000); /* expect: FA203 cross */
}

void right(void) {
    uint64_t r = fa_barrier_signal(&physics_done); /* ok: FA203 */
    fa_barrier_wait(&physics_done, r, FA_WAIT_FOREVER); /* ok: FA203 */
    fa_barrier_arrive_and_wait(&render_done, FA_WAIT_FOREVER); /* ok: FA203 */
}
