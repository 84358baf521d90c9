/* The agent and fork(): nng cannot run in a forked child (it aborts with
 * "nng is not fork-reentrant safe"), and the child's copy of the agent has
 * no sender thread. The child's agent must be inert: no abort, no hang,
 * never "connected"; the parent's agent goes on streaming. */
#include <criterion/criterion.h>

#include <signal.h>
#include <sys/wait.h>

#include "agent_test.h"

/* The child's checks; its exit status says which one failed. */
static int child(fa_alloc_t *fa, t_game_t *g, fa_agent_t *agent) {
    alarm(10); /* a hang (joining a thread that does not exist here) ends as SIGALRM */
    fa_agent_stats_t st;
    fa_agent_stats(agent, &st);
    if (st.connected) return 10;
    uint64_t seen = st.frames_seen, sent = st.frames_sent;
    for (uint64_t i = 0; i < 50; i++)
        t_game_frame(g, 5000 + i); /* the hook still runs on the child's copy of lib */
    fa_agent_stats(agent, &st);
    if (st.frames_seen != seen + 50 || st.frames_sent != sent) return 11; /* nothing left the child */
    if (st.connected) return 12;
    if (fa_agent_stop(agent, NULL) != FA_ERR_STATE) return 13;
    /* A new agent in the child: refused, because nng cannot run here. */
    fa_agent_t *again = NULL;
    if (fa_agent_start(fa, &(fa_agent_desc_t){.url = "ipc:///tmp/fa-agent-test-child.ipc"}, &again) !=
        FA_ERR_STATE)
        return 14;
    if (again) return 15;
    for (uint64_t i = 0; i < 10; i++)
        t_game_frame(g, 6000 + i); /* no hook left: lib alone */
    return 0;
}

Test(fork, the_childs_agent_is_inert_never_connected_and_stops_without_touching_nng) {
    char url[128];
    t_url(url, sizeof url, "fork");
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    t_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .reconnect_min_ms = 20, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    fa_agent_stats_t st;
    uint64_t i = 0;
    for (uint64_t deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline; i++) {
        t_game_frame(&g, i);
        fa_agent_stats(agent, &st);
        if (st.connected && st.frames_sent > 5) break;
        t_sleep_us(1000);
    }
    cr_assert(st.connected);

    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) _exit(child(fa, &g, agent));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d (6: abort inside nng, 14: a hang)",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "the child's check %d failed", WEXITSTATUS(status));

    /* The parent streams on. */
    fa_agent_stats(agent, &st);
    uint64_t sent = st.frames_sent;
    for (uint64_t deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline && st.frames_sent < sent + 20;
         i++) {
        t_game_frame(&g, i);
        t_sleep_us(1000);
        fa_agent_stats(agent, &st);
    }
    cr_assert_geq(st.frames_sent, sent + 20);
    cr_assert(st.connected);
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}
