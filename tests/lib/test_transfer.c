/* Transfer handles: explicit hand-off of data between threads, with the
 * state machine owned -> in flight -> received -> released checked. */
#include "capture.h"

#include <pthread.h>

typedef struct receiver {
    fa_alloc_t *fa;
    fa_transfer_t h;
    pthread_barrier_t *go;
    int ok;
} receiver_t;

static void *receive_later(void *arg) {
    receiver_t *r = arg;
    pthread_barrier_wait(r->go); /* the sender ends 3 frames first */
    size_t size = 0;
    unsigned char *p = fa_transfer_receive(r->fa, r->h, &size);
    r->ok = p && size == 4096;
    for (size_t i = 0; r->ok && i < size; i++) r->ok = p[i] == (unsigned char)(i * 7);
    r->ok = r->ok && fa_transfer_release(r->fa, r->h) == FA_OK;
    return NULL;
}

Test(transfer, received_on_another_thread_after_the_sender_ended_3_frames_is_intact) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    fa_begin_frame(fa);
    unsigned char *frame_data = fa_frame_alloc(fa, 4096, 16);
    for (int i = 0; i < 4096; i++) frame_data[i] = (unsigned char)(i * 7);
    receiver_t r = {.fa = fa, .h = fa_transfer_from_frame(fa, frame_data, 4096), .go = &go};
    cr_assert_neq(r.h.id, 0);
    cr_assert_eq(fa_transfer_send(fa, r.h), FA_OK);
    pthread_t th;
    pthread_create(&th, NULL, receive_later, &r);
    fa_end_frame(fa);
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        memset(fa_frame_alloc(fa, 8192, 16), 0xEE, 8192); /* reuse the arena */
        fa_end_frame(fa);
    }
    pthread_barrier_wait(&go);
    pthread_join(th, NULL);
    cr_assert(r.ok, "the payload changed or the hand-off failed");
    cr_assert_eq(fa_transfer_state_of(fa, r.h), FA_TRANSFER_RELEASED);
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    cr_assert_eq(s.transfers.created, 1);
    cr_assert_eq(s.transfers.received, 1);
    cr_assert_eq(s.transfers.released, 1);
    cr_assert_eq(s.transfers.in_flight, 0);
    pthread_barrier_destroy(&go);
    fa_destroy(fa);
}

Test(transfer, a_second_receive_is_an_error_not_a_crash) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_transfer_t h = fa_transfer_create(fa, 64);
    strcpy(fa_transfer_data(fa, h), "payload");
    fa_transfer_send(fa, h);
    cr_assert_str_eq(fa_transfer_receive(fa, h, NULL), "payload");
    cr_assert_null(fa_transfer_receive(fa, h, NULL));
    cr_assert_eq(capture_count_error(&c, FA_ERR_TRANSFER), 1);
    cr_assert_eq(fa_transfer_release(fa, h), FA_OK);
    cr_assert_null(fa_transfer_receive(fa, h, NULL), "a stale handle");
    cr_assert_eq(fa_transfer_release(fa, h), FA_ERR_TRANSFER);
    cr_assert_eq(capture_count_error(&c, FA_ERR_TRANSFER), 3);
    fa_destroy(fa);
}

Test(transfer, every_call_checks_the_state_machine) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_transfer_t h = fa_transfer_create(fa, 16);
    cr_assert_eq(fa_transfer_state_of(fa, h), FA_TRANSFER_OWNED);
    cr_assert_null(fa_transfer_receive(fa, h, NULL), "not sent yet");
    cr_assert_eq(fa_transfer_release(fa, h), FA_ERR_TRANSFER, "not received yet");
    cr_assert_eq(fa_transfer_send(fa, h), FA_OK);
    cr_assert_eq(fa_transfer_state_of(fa, h), FA_TRANSFER_IN_FLIGHT);
    cr_assert_eq(fa_transfer_send(fa, h), FA_ERR_TRANSFER, "sent twice");
    cr_assert_null(fa_transfer_data(fa, h), "the sender may not touch it in flight");
    cr_assert_not_null(fa_transfer_receive(fa, h, NULL));
    cr_assert_eq(fa_transfer_state_of(fa, h), FA_TRANSFER_RECEIVED);
    cr_assert_eq(fa_transfer_drop(fa, h), FA_ERR_TRANSFER, "a received handle is released, not dropped");
    cr_assert_eq(fa_transfer_release(fa, h), FA_OK);
    cr_assert_eq(fa_transfer_send(fa, (fa_transfer_t){0}), FA_ERR_TRANSFER);
    cr_assert_eq(fa_transfer_send(fa, (fa_transfer_t){0xFFFFFFFFu}), FA_ERR_TRANSFER);
    cr_assert_eq(capture_count_error(&c, FA_ERR_TRANSFER), 7);
    fa_destroy(fa);
}

Test(transfer, a_handle_dropped_unreceived_is_counted_and_reported) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_transfer_t a = fa_transfer_create(fa, 100);
    fa_transfer_send(fa, a);
    cr_assert_eq(fa_transfer_drop(fa, a), FA_OK);
    fa_transfer_t b = fa_transfer_create(fa, 100);
    fa_transfer_send(fa, b); /* never received: reported at destroy */
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    cr_assert_eq(s.transfers.dropped_unreceived, 1);
    cr_assert_eq(s.transfers.in_flight, 1);
    cr_assert_eq(capture_count_error(&c, FA_ERR_DROPPED), 1);
    fa_destroy(fa);
    cr_assert_eq(capture_count_error(&c, FA_ERR_DROPPED), 2);
}

Test(transfer, frame_data_of_another_thread_cannot_be_sent) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char stack[32] = "x";
    fa_begin_frame(fa);
    cr_assert_eq(fa_transfer_from_frame(fa, stack, sizeof stack).id, 0);
    cr_assert_eq(capture_count_error(&c, FA_ERR_CROSS_THREAD), 1);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(transfer, the_handle_table_is_bounded_and_slots_are_reused) {
    capture_t c;
    fa_config_t cfg = {.max_transfers = 4};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_transfer_t h[4];
    for (int i = 0; i < 4; i++) cr_assert_neq((h[i] = fa_transfer_create(fa, 8)).id, 0);
    cr_assert_eq(fa_transfer_create(fa, 8).id, 0);
    fa_transfer_send(fa, h[0]);
    (void)!fa_transfer_receive(fa, h[0], NULL);
    fa_transfer_release(fa, h[0]);
    fa_transfer_t again = fa_transfer_create(fa, 8);
    cr_assert_neq(again.id, 0);
    cr_assert_neq(again.id, h[0].id, "a reused slot has a new generation");
    cr_assert_eq(fa_transfer_state_of(fa, h[0]), FA_TRANSFER_RELEASED);
    for (int i = 1; i < 4; i++) fa_transfer_drop(fa, h[i]);
    fa_transfer_drop(fa, again);
    fa_destroy(fa);
}

Test(transfer, a_stale_handle_stays_stale_after_its_slot_is_reused_65536_times) {
    capture_t c;
    fa_config_t cfg = {.max_transfers = 1};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    fa_transfer_t first = fa_transfer_create(fa, 8);
    fa_transfer_send(fa, first);
    (void)!fa_transfer_receive(fa, first, NULL);
    fa_transfer_release(fa, first);
    for (int i = 0; i < 70000; i++) {
        fa_transfer_t h = fa_transfer_create(fa, 8);
        cr_assert_neq(h.id, 0);
        cr_assert_neq(h.id, first.id, "reuse %d handed out the stale handle again", i);
        cr_assert_eq(fa_transfer_state_of(fa, first), FA_TRANSFER_RELEASED);
        fa_transfer_drop(fa, h);
    }
    cr_assert_eq(fa_transfer_send(fa, first), FA_ERR_TRANSFER);
    fa_destroy(fa);
}
