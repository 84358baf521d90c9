/* The agent's threads together, with the plain harness so that it runs
 * under ThreadSanitizer (Criterion cannot: issue #274): the game thread's
 * hook, the sender thread, nng's pipe callbacks, a PULL receiver thread, a
 * worker thread allocating in its own frames, stats read from yet another
 * thread, the file emitter's hand-off, and a daemon that comes and goes. */
#include "agent_test.h"

#include "../lib/tsan_harness.h"

#include <stdlib.h>

typedef struct side {
    fa_alloc_t *fa;
    fa_agent_t *agent;
    _Atomic bool stop;
    uint64_t reads;
} side_t;

/* A worker with frames of its own, racing with the main thread's snapshots. */
static void *worker_main(void *arg) {
    side_t *s = arg;
    FA_TAG_SCOPE(s->fa, "worker");
    while (!atomic_load(&s->stop)) {
        fa_begin_frame(s->fa);
        for (int i = 0; i < 16; i++)
            (void)!fa_frame_alloc(s->fa, 256, 16);
        void *p = fa_pool_alloc(s->fa, 100);
        fa_pool_free(s->fa, p);
        fa_end_frame(s->fa);
        t_sleep_us(200);
    }
    return NULL;
}

/* Someone watching the counters, as a game's overlay would. */
static void *stats_main(void *arg) {
    side_t *s = arg;
    while (!atomic_load(&s->stop)) {
        fa_agent_stats_t st;
        fa_agent_stats(s->agent, &st);
        CHECK(st.frames_seen >= st.frames_sent);
        s->reads++;
        t_sleep_us(500);
    }
    return NULL;
}

static void run(bool flapping) {
    char url[128], dir[128], capture[160];
    t_url(url, sizeof url, flapping ? "threads-flap" : "threads");
    snprintf(dir, sizeof dir, "/tmp/fa-agent-test-%d-threads", (int)getpid());
    snprintf(capture, sizeof capture, "%s.facap", dir);
    t_daemon_t d[4];
    int nd = 0;
    CHECK(t_daemon_open(&d[nd++], url) == 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 32);
    g.heap_every = 8;
    fa_agent_desc_t desc = {.url = url,
                            .ring_slots = 32,
                            .reconnect_min_ms = 10,
                            .reconnect_max_ms = 20,
                            .emit_dir = dir,
                            .emit_mode = FA_AGENT_EMIT_AUTO,
                            .emit_interval_ms = 50,
                            .emit_poll_ms = 5,
                            .emit_keep = 2,
                            .capture_path = capture};
    side_t side = {.fa = fa};
    CHECK(fa_agent_start(fa, &desc, &side.agent) == FA_OK);
    pthread_t worker, watcher;
    pthread_create(&worker, NULL, worker_main, &side);
    pthread_create(&watcher, NULL, stats_main, &side);
    for (uint64_t i = 0; i < 2000; i++) {
        if (flapping && i % 500 == 250 && nd < 4) {
            t_daemon_close(&d[nd - 1]);
        } else if (flapping && i % 500 == 400 && nd < 4) {
            CHECK(t_daemon_open(&d[nd++], url) == 0);
        }
        if (i == 1000) fa_budget_set(fa, "sys1", 0, 1 << 20);
        if (i == 1200) (void)fa_tag_find(fa, "late/tag", true);
        t_game_frame(&g, i);
        if (i % 4 == 0) t_sleep_us(300);
    }
    atomic_store(&side.stop, true);
    pthread_join(worker, NULL);
    pthread_join(watcher, NULL);
    fa_agent_stats_t st;
    int rc = fa_agent_stop(side.agent, &st);
    for (int k = 0; k < nd; k++)
        t_daemon_close(&d[k]);

    CHECK(rc == FA_OK);
    CHECK(st.frames_seen == 2000);
    CHECK(st.frames_seen == st.frames_sent + st.frames_dropped);
    CHECK(st.frames_sent > 0);
    CHECK(st.snapshots_written > 0);
    CHECK(side.reads > 0);
    CHECK(st.frames_seen == st.frames_captured + st.capture_dropped);
    CHECK(st.frames_captured > 0);
    CHECK(unlink(capture) == 0);
    if (flapping) CHECK(st.reconnects >= 1);
    /* What the last daemon got ends with the BYE and its counts; every
     * message decodes. */
    t_daemon_t *last = &d[nd - 1];
    size_t frames = 0;
    for (int k = 0; k < nd; k++)
        for (size_t m = 0; m < d[k].count; m++) {
            fa_proto_msg_t msg;
            CHECK(t_decode(d[k].msgs[m], &msg) == FA_PROTO_OK);
            frames += msg.header.type == FA_PROTO_FRAME;
        }
    CHECK(last->count > 0 && t_type(last, last->count - 1) == FA_PROTO_BYE);
    fa_proto_msg_t bye;
    if (last->count && t_decode(last->msgs[last->count - 1], &bye) == FA_PROTO_OK &&
        bye.header.type == FA_PROTO_BYE) {
        CHECK(bye.bye.frames_sent == st.frames_sent);
        CHECK(bye.bye.frames_dropped == st.frames_dropped);
    }
    /* Without flapping nothing is lost in transport. */
    if (!flapping) CHECK(frames == st.frames_sent);
    CHECK(frames <= st.frames_sent);
    t_game_fini(&g);
    fa_destroy(fa);
    for (int k = 0; k < nd; k++)
        t_daemon_free(&d[k]);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void steady_daemon(void) {
    run(false);
}
static void daemon_comes_and_goes(void) {
    run(true);
}

int main(void) {
    static const harness_case_t cases[] = {
        {"2000_frames_with_receiver_worker_watcher_and_emitter", steady_daemon},
        {"2000_frames_while_the_daemon_comes_and_goes", daemon_comes_and_goes},
    };
    return harness_run("agent_threads", cases, (int)(sizeof cases / sizeof cases[0]));
}
