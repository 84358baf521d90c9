/* The game thread never allocates because of the agent: malloc, calloc,
 * realloc, mmap and mprotect calls made on the game thread are counted
 * (tests/lib/syscount, -Wl,--wrap over the static agent and lib) through
 * 10 000 frames with the agent connected, sending, announcing a budget
 * change (TAGS), serving snapshot requests and dropping frames for a full
 * ring. The sender and nng threads allocate freely; the count is per
 * thread. */
#include <criterion/criterion.h>

#include "agent_test.h"
#include "syscount.h"

#include <stdlib.h>

Test(noalloc, ten_thousand_frames_with_the_agent_on_make_no_allocation_on_the_game_thread) {
    char url[128], dir[128];
    t_url(url, sizeof url, "noalloc");
    snprintf(dir, sizeof dir, "/tmp/fa-agent-test-%d-noalloc", (int)getpid());
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 64);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url,
                            .ring_slots = 16,
                            .reconnect_max_ms = 100,
                            .emit_dir = dir,
                            .emit_interval_ms = 20,
                            .emit_poll_ms = 5};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    fa_agent_stats_t st;
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        t_sleep_us(300);
        fa_agent_stats(agent, &st);
        if (st.frames_sent > 10) break;
    }
    cr_assert_gt(st.frames_sent, 10);
    fa_agent_stats_t before = st;

    syscount_start();
    for (int k = 0; k < 10000; k++, i++) {
        if (k == 3000) fa_budget_set(fa, "sys3", 1000, 1 << 20); /* a TAGS */
        if (k % 1000 == 500) fa_agent_request_snapshot(agent);   /* a side copy */
        t_game_frame(&g, i);
        /* Mostly a game's pace (the sender keeps up), in bursts at times
         * (the ring fills and frames are dropped). */
        if (k % 200 < 150) {
            uint64_t until = t_now_ns() + 20000;
            while (t_now_ns() < until) {
            }
        }
    }
    long calls = syscount_stop();

    fa_agent_stats(agent, &st);
    cr_assert_eq(calls, 0, "allocation calls on the game thread: %ld", calls);
    cr_assert_eq(st.frames_seen - before.frames_seen, 10000);
    cr_assert_gt(st.frames_sent - before.frames_sent, 1000);
    cr_assert_gt(st.tags_sent, before.tags_sent);
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    cr_assert_gt(st.snapshots_written, 0);
    t_daemon_close(&d);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
