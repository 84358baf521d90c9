/* The agent and an unreliable daemon: absent at start, vanishing mid-stream,
 * too slow; drops are counted by reason and announced in the next FRAME,
 * the game never waits, every new connection starts with a HELLO, and stop
 * flushes and says BYE with the right counts. */
#include <criterion/criterion.h>

#include "agent_test.h"

/* Checks, over the FRAMEs in d from `from` on, that each FRAME's
 * frames_dropped is exactly the number of frames between it and the
 * previous FRAME (`next`: the frame number expected first). With
 * first_at_most, the first FRAME may announce fewer: messages handed to a
 * connection that then closed are lost in transport (a seq gap), not
 * dropped by the agent. Returns the frame number after the last FRAME. */
static uint64_t check_drop_gaps(t_daemon_t *d, size_t from, uint64_t next, bool first_at_most,
                                uint64_t *sum) {
    bool first = true;
    for (size_t m = from; m < d->count; m++) {
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d->msgs[m], &msg), FA_PROTO_OK);
        if (msg.header.type != FA_PROTO_FRAME) continue;
        cr_assert_geq(msg.frame.frame, next);
        uint64_t gap = msg.frame.frame - next;
        if (first && first_at_most)
            cr_assert_leq(msg.frame.frames_dropped, gap);
        else
            cr_assert_eq(msg.frame.frames_dropped, gap, "frame %llu, expected %llu",
                         (unsigned long long)msg.frame.frame, (unsigned long long)next);
        *sum += msg.frame.frames_dropped;
        next = msg.frame.frame + 1;
        first = false;
    }
    return next;
}

Test(link, daemon_absent_for_1000_frames_then_listening_gets_hello_first_and_the_drop_count) {
    char url[128];
    t_url(url, sizeof url, "absent");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 16);
    t_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {
        .url = url, .reconnect_min_ms = 20, .reconnect_max_ms = 50, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t first_frame = fa_frame_number(fa);
    for (uint64_t i = 0; i < 1000; i++)
        t_game_frame(&g, i);
    fa_agent_stats_t st;
    fa_agent_stats(agent, &st);
    cr_assert_eq(st.frames_seen, 1000);
    cr_assert_eq(st.dropped_disconnected, 1000);
    cr_assert_eq(st.frames_dropped, 1000);
    cr_assert_eq(st.frames_sent, 0);
    cr_assert_eq(st.messages_sent, 0);
    cr_assert(!st.connected);

    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    uint64_t i = 1000;
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);

    cr_assert_eq(t_type(&d, 0), FA_PROTO_HELLO);
    long first = t_find(&d, FA_PROTO_FRAME, 0);
    cr_assert_geq(first, 1);
    uint64_t sum = 0;
    check_drop_gaps(&d, 0, first_frame, false, &sum);
    fa_proto_msg_t msg;
    cr_assert_eq(t_decode(d.msgs[first], &msg), FA_PROTO_OK);
    cr_assert_geq(msg.frame.frames_dropped, 1000);
    cr_assert_eq(st.connects, 1);
    cr_assert_eq(st.reconnects, 0);
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_CONNECTED]), 1);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_BYE_SENT]), 1);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

Test(link, a_daemon_that_vanishes_mid_stream_never_blocks_the_game_and_gets_a_new_hello_when_back) {
    char url[128];
    t_url(url, sizeof url, "vanish");
    t_daemon_t d1, d2;
    cr_assert_eq(t_daemon_open(&d1, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 32);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .reconnect_min_ms = 20, .reconnect_max_ms = 50};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t start_frame = fa_frame_number(fa);
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d1, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    for (int k = 0; k < 50; k++, i++) {
        t_game_frame(&g, i);
        t_sleep_us(300);
    }

    /* The daemon goes away while frames flow; the game keeps its pace. */
    t_daemon_close(&d1);
    uint64_t worst = 0;
    for (int k = 0; k < 2000; k++, i++) {
        uint64_t t0 = t_now_ns();
        t_game_frame(&g, i);
        uint64_t dt = t_now_ns() - t0;
        if (dt > worst) worst = dt;
        if (k % 8 == 0) t_sleep_us(100);
    }
    /* nng reports the lost pipe asynchronously: the game keeps running
     * frames until the agent has seen it (bounded). */
    fa_agent_stats_t st;
    fa_agent_stats(agent, &st);
    for (uint64_t deadline = t_now_ns() + 5000000000u; st.connected && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
        fa_agent_stats(agent, &st);
    }
    cr_assert(!st.connected);
    cr_assert_gt(st.dropped_disconnected + st.dropped_send_failed, 0);
    cr_assert_eq(st.frames_seen, i);
    /* A frame never waits for the network: a blocked send would stall for
     * the send timeout or forever. The bound leaves room for a loaded
     * machine preempting the thread (make test never gates on fine
     * timings); the typical figure is logged. */
    cr_log_info("slowest frame with the daemon gone: %llu ns", (unsigned long long)worst);
    cr_assert_lt(worst, 250000000u, "a frame took %llu ns with the daemon gone", (unsigned long long)worst);

    /* It comes back: a HELLO again, before anything else, same session. */
    cr_assert_eq(t_daemon_open(&d2, url), 0);
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d2, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d2);

    cr_assert_eq(t_type(&d2, 0), FA_PROTO_HELLO);
    fa_proto_msg_t first, hello2;
    cr_assert_eq(t_decode(d1.msgs[0], &first), FA_PROTO_OK);
    uint64_t session = first.header.session_id;
    uint64_t last_seq_d1 = 0;
    for (size_t m = 0; m < d1.count; m++) {
        cr_assert_eq(t_decode(d1.msgs[m], &first), FA_PROTO_OK);
        last_seq_d1 = first.header.seq;
    }
    cr_assert_eq(t_decode(d2.msgs[0], &hello2), FA_PROTO_OK);
    cr_assert_eq(hello2.header.session_id, session);
    cr_assert_gt(hello2.header.seq, last_seq_d1);
    cr_assert_eq(hello2.hello.tag_count, fa_tag_count(fa));
    cr_assert_eq(st.connects, 2);
    cr_assert_eq(st.reconnects, 1);
    cr_assert_eq(st.hellos_sent, 2);

    /* Over both connections, each FRAME says exactly how many frames were
     * lost before it. */
    uint64_t sum = 0;
    uint64_t next = check_drop_gaps(&d1, 0, start_frame, false, &sum);
    check_drop_gaps(&d2, 0, next, true, &sum);
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d1);
    t_daemon_free(&d2);
}

Test(link, a_sender_that_falls_behind_drops_frames_as_ring_full_and_the_frames_say_so) {
    char url[128];
    t_url(url, sizeof url, "ringfull");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 64);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .ring_slots = 2, .reconnect_max_ms = 100};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t start_frame = fa_frame_number(fa);
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    /* Frames back to back: a two-slot ring cannot keep up. */
    for (int k = 0; k < 3000; k++, i++)
        t_game_frame(&g, i);
    /* Then at a game's pace, so that the last frames leave. */
    for (int k = 0; k < 20; k++, i++) {
        t_game_frame(&g, i);
        t_sleep_us(2000);
    }
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    cr_assert_gt(st.dropped_ring_full, 0);
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);

    uint64_t sum = 0;
    uint64_t next = check_drop_gaps(&d, 0, start_frame, false, &sum);
    /* Every drop was announced by a later FRAME, except those after the
     * last FRAME (normally none: the last frames are paced), and the BYE
     * agrees with the total. */
    uint64_t trailing = start_frame + st.frames_seen - next;
    cr_assert_eq(sum + trailing, st.frames_dropped);
    fa_proto_msg_t bye;
    cr_assert_eq(t_decode(d.msgs[d.count - 1], &bye), FA_PROTO_OK);
    cr_assert_eq(bye.header.type, FA_PROTO_BYE);
    cr_assert_eq(bye.bye.frames_dropped, st.frames_dropped);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

static uint64_t drop_count(const fa_proto_bye_t *b, uint16_t reason) {
    for (uint32_t i = 0; i < b->drop_count; i++)
        if (b->drops[i].reason == reason) return b->drops[i].count;
    return ~0ull;
}

Test(link, stop_flushes_every_queued_frame_and_sends_bye_with_the_counts_by_reason) {
    char url[128];
    t_url(url, sizeof url, "bye");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 16);
    fa_agent_t *agent = NULL;
    /* Generous waits: this test is about the flush and the BYE's counts,
     * not about send time-outs on a loaded machine. */
    fa_agent_desc_t desc = {.url = url,
                            .ring_slots = 1024,
                            .reconnect_min_ms = 20,
                            .reconnect_max_ms = 50,
                            .send_wait_ms = 200,
                            .stop_timeout_ms = 10000};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    /* 100 frames without a daemon: dropped as disconnected. */
    for (uint64_t i = 0; i < 100; i++)
        t_game_frame(&g, i);
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_agent_stats_t st;
    uint64_t i = 100;
    for (uint64_t deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline; i++) {
        fa_agent_stats(agent, &st);
        if (st.hellos_sent) break;
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    /* A burst that the ring holds (200 < 1024 slots) and stop must flush. */
    for (int k = 0; k < 200; k++, i++)
        t_game_frame(&g, i);
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);

    cr_assert(st.bye_sent);
    cr_assert_eq(st.ring_used, 0);
    cr_assert_eq(st.frames_seen, i);
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);
    cr_assert_eq(st.dropped_ring_full, 0);
    cr_assert_geq(st.dropped_disconnected, 100);
    size_t frames = 0;
    for (size_t m = 0; m < d.count; m++)
        frames += t_type(&d, m) == FA_PROTO_FRAME;
    cr_assert_eq(frames, st.frames_sent);
    cr_assert_geq(frames, 200);

    fa_proto_msg_t bye;
    cr_assert_eq(t_decode(d.msgs[d.count - 1], &bye), FA_PROTO_OK);
    cr_assert_eq(bye.header.type, FA_PROTO_BYE);
    cr_assert_eq(bye.bye.frames_sent, st.frames_sent);
    cr_assert_eq(bye.bye.frames_dropped, st.frames_dropped);
    cr_assert_eq(drop_count(&bye.bye, FA_PROTO_DROP_RING_FULL), st.dropped_ring_full);
    cr_assert_eq(drop_count(&bye.bye, FA_PROTO_DROP_SEND_FAILED), st.dropped_send_failed);
    cr_assert_eq(drop_count(&bye.bye, FA_PROTO_DROP_ENCODE_FAILED), st.dropped_encode_failed);
    cr_assert_eq(drop_count(&bye.bye, FA_PROTO_DROP_DISCONNECTED), st.dropped_disconnected);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

Test(link, stop_without_a_daemon_is_quick_and_reports_the_bye_as_not_sent) {
    char url[128];
    t_url(url, sizeof url, "nobody");
    fa_alloc_t *fa = fa_create(NULL);
    t_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    for (int i = 0; i < 10; i++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
    }
    uint64_t t0 = t_now_ns();
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_ERR_TIMEOUT);
    cr_assert_lt(t_now_ns() - t0, 900000000u);
    cr_assert(!st.bye_sent);
    cr_assert_eq(st.dropped_disconnected, 10);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_BYE_NOT_SENT]), 1);
    fa_destroy(fa);
}

/* Issue 14: a wrong ingest URL was silent; nothing ever said the daemon was
 * unreachable. */
typedef struct reach_log {
    _Atomic int unreachable, reachable, connected;
    _Atomic uint64_t unreachable_ms, reachable_ms;
} reach_log_t;

static void reach_cb(const fa_agent_log_event_t *ev, void *user) {
    reach_log_t *l = user;
    if (ev->id == FA_AGENT_LOG_UNREACHABLE) {
        atomic_fetch_add(&l->unreachable, 1);
        atomic_store(&l->unreachable_ms, ev->value);
    } else if (ev->id == FA_AGENT_LOG_REACHABLE) {
        atomic_fetch_add(&l->reachable, 1);
        atomic_store(&l->reachable_ms, ev->value);
    } else if (ev->id == FA_AGENT_LOG_CONNECTED) {
        atomic_fetch_add(&l->connected, 1);
    }
}

static void frames_for(t_game_t *g, uint64_t *i, unsigned ms) {
    for (uint64_t end = t_now_ns() + (uint64_t)ms * 1000000u; t_now_ns() < end; (*i)++) {
        t_game_frame(g, *i);
        t_sleep_us(2000);
    }
}

Test(link, an_unreachable_daemon_is_logged_once_per_outage_and_its_return_too) {
    char url[128];
    t_url(url, sizeof url, "unreachable");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 4);
    reach_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url,
                            .reconnect_min_ms = 20,
                            .reconnect_max_ms = 50,
                            .unreachable_ms = 300,
                            .log_cb = reach_cb,
                            .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_eq(fa_agent_desc_effective(agent).unreachable_ms, 300);
    uint64_t i = 0;
    frames_for(&g, &i, 150);
    cr_assert_eq(atomic_load(&log.unreachable), 0, "logged before unreachable_ms");
    frames_for(&g, &i, 600);
    cr_assert_eq(atomic_load(&log.unreachable), 1, "once, not per frame or per redial");
    cr_assert_geq(atomic_load(&log.unreachable_ms), 300);
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    for (uint64_t end = t_now_ns() + 5000000000u; !atomic_load(&log.reachable) && t_now_ns() < end;)
        frames_for(&g, &i, 20);
    cr_assert_eq(atomic_load(&log.reachable), 1);
    /* The outage began with the agent's first dial, a few ms after the
     * first frames_for started: it covers the whole 600 ms one for sure
     * (750 failed once in a clean-clone make test: the 150 ms before it
     * were not all outage). */
    cr_assert_geq(atomic_load(&log.reachable_ms), 600);
    /* A second outage is a second line. */
    t_daemon_close(&d);
    frames_for(&g, &i, 700);
    cr_assert_eq(atomic_load(&log.unreachable), 2);
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_ERR_TIMEOUT);
    cr_assert_eq(atomic_load(&log.reachable), 1);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

Test(link, the_default_unreachable_delay_is_three_seconds) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = "ipc:///tmp/fa-agent-test-none.ipc"}, &agent),
                 FA_OK);
    cr_assert_eq(fa_agent_desc_effective(agent).unreachable_ms, 3000);
    (void)fa_agent_stop(agent, NULL);
    fa_destroy(fa);
}

Test(link, hello_is_sent_again_every_hello_interval_ms_on_one_connection) {
    char url[128];
    t_url(url, sizeof url, "rehello");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {
        .url = url, .reconnect_min_ms = 20, .reconnect_max_ms = 50, .hello_interval_ms = 100};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_eq(fa_agent_desc_effective(agent).hello_interval_ms, 100);
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(&d, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(500);
    }
    /* Frames every 2 ms until the daemon holds 5 HELLOs (a loaded machine
     * may take longer than 500 ms; the bounds below use the time taken). */
    uint64_t t0 = t_now_ns(), first = i;
    for (uint64_t deadline = t0 + 10000000000u; t_now_ns() < deadline;) {
        frames_for(&g, &i, 20);
        if (t_count(&d, FA_PROTO_HELLO) >= 5) break;
    }
    uint64_t elapsed_ms = (t_now_ns() - t0) / 1000000u;
    /* Every HELLO sent reaches the daemon before the agent stops. */
    fa_agent_stats_t st;
    for (uint64_t deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline; t_sleep_us(10000)) {
        fa_agent_stats(agent, &st);
        if (t_count(&d, FA_PROTO_HELLO) == st.hellos_sent) break;
    }
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    /* One connection, yet a HELLO about every 100 ms, each with every tag
     * and the same session, each followed by FRAMEs. */
    cr_assert_eq(st.connects, 1);
    size_t hellos = 0;
    uint64_t session = 0;
    for (size_t m = 0; m < d.count; m++) {
        if (t_type(&d, m) != FA_PROTO_HELLO) continue;
        fa_proto_msg_t msg;
        cr_assert_eq(t_decode(d.msgs[m], &msg), FA_PROTO_OK);
        if (!hellos) session = msg.header.session_id;
        cr_assert_eq(msg.header.session_id, session);
        cr_assert_eq(msg.hello.tag_count, fa_tag_count(fa));
        hellos++;
    }
    cr_assert_geq(hellos, 5, "%zu HELLOs in %llu ms at a 100 ms interval", hellos, (unsigned long long)elapsed_ms);
    cr_assert_leq(hellos, elapsed_ms / 100 + 2, "%zu HELLOs in %llu ms (%llu frames): one per 100 ms at most",
                  hellos, (unsigned long long)elapsed_ms, (unsigned long long)(i - first));
    cr_assert_eq(st.hellos_sent, hellos);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}
