/* The agent's life cycle and configuration: defaults, the URL's sources,
 * refusals at start (nothing left running), log item names. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <criterion/criterion.h>

#include "agent_test.h"

#include <errno.h>

#include <stdlib.h>

Test(agent, a_zero_desc_gets_every_default_and_the_default_url) {
    unsetenv(FA_AGENT_URL_ENV);
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, NULL, &agent), FA_OK);
    fa_agent_desc_t d = fa_agent_desc_effective(agent);
    cr_assert_str_eq(d.url, FA_AGENT_DEFAULT_URL);
    cr_assert_str_eq(d.app_name, program_invocation_short_name);
    cr_assert_str_eq(d.session_label, "");
    cr_assert_str_eq(d.build_id, "");
    cr_assert_eq(d.ring_slots, 64);
    cr_assert_eq(d.max_tags, fa_config_effective(fa).max_tags);
    cr_assert_eq(d.max_threads, 64);
    cr_assert_eq(d.max_findings, 64);
    cr_assert_eq(d.stop_timeout_ms, 1000);
    cr_assert_eq(d.reconnect_min_ms, 100);
    cr_assert_eq(d.reconnect_max_ms, 1000);
    cr_assert_eq(d.send_buffer, 0);
    cr_assert_null(d.emit_dir);
    cr_assert_eq(d.emit_mode, FA_AGENT_EMIT_OFF);
    cr_assert_eq(d.emit_keep, 8);
    cr_assert_eq(d.emit_interval_ms, 1000);
    cr_assert_eq(fa_agent_request_snapshot(agent), FA_ERR_STATE);
    cr_assert_neq(fa_agent_session_id(agent), 0);
    fa_agent_stats_t st;
    fa_agent_stats(agent, &st);
    cr_assert_eq(st.ring_capacity, 64);
    fa_agent_stop(agent, NULL);
    fa_destroy(fa);
}

Test(agent, the_environment_url_applies_only_when_the_desc_leaves_it_empty) {
    setenv(FA_AGENT_URL_ENV, "ipc:///tmp/fa-agent-test-from-env.ipc", 1);
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = ""}, &agent), FA_OK);
    cr_assert_str_eq(fa_agent_desc_effective(agent).url, "ipc:///tmp/fa-agent-test-from-env.ipc");
    fa_agent_stop(agent, NULL);
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = "ipc:///tmp/fa-agent-test-desc.ipc"}, &agent),
                 FA_OK);
    cr_assert_str_eq(fa_agent_desc_effective(agent).url, "ipc:///tmp/fa-agent-test-desc.ipc");
    fa_agent_stop(agent, NULL);
    unsetenv(FA_AGENT_URL_ENV);
    fa_destroy(fa);
}

Test(agent, sizes_are_rounded_and_strings_are_copied_and_cut_to_the_wire_limit) {
    fa_alloc_t *fa = fa_create(NULL);
    char label[400];
    memset(label, 'x', sizeof label - 1);
    label[sizeof label - 1] = '\0';
    char url[128];
    t_url(url, sizeof url, "sizes");
    fa_agent_desc_t in = {.url = url, .session_label = label, .ring_slots = 100, .max_tags = 100000};
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &in, &agent), FA_OK);
    label[0] = 'y'; /* the agent kept its own copy */
    fa_agent_desc_t d = fa_agent_desc_effective(agent);
    cr_assert_eq(d.ring_slots, 128);
    cr_assert_eq(d.max_tags, FA_PROTO_MAX_ROWS);
    cr_assert_eq(strlen(d.session_label), FA_PROTO_MAX_STRING);
    cr_assert_eq(d.session_label[0], 'x');
    fa_agent_stop(agent, NULL);
    fa_destroy(fa);
}

Test(agent, start_refuses_bad_arguments_and_a_url_nng_cannot_dial) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = (fa_agent_t *)(uintptr_t)1; /* untouched on failure */
    t_log_t log = {0};
    cr_assert_eq(fa_agent_start(NULL, NULL, &agent), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_agent_start(fa, NULL, NULL), FA_ERR_INVALID_ARG);
    fa_agent_desc_t bad = {.url = "nosuch://127.0.0.1:1", .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &bad, &agent), FA_ERR_INVALID_ARG);
    cr_assert_eq(agent, (fa_agent_t *)(uintptr_t)1);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_DIAL_FAILED]), 1);
    cr_assert_eq(fa_agent_stop(NULL, NULL), FA_ERR_INVALID_ARG);
    /* Nothing was left hooked: frames run without an agent. */
    fa_begin_frame(fa);
    fa_end_frame(fa);
    fa_destroy(fa);
}

static void other_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)fa;
    (void)frame;
    (void)user;
}

Test(agent, start_fails_cleanly_when_all_frame_hooks_are_taken) {
    fa_alloc_t *fa = fa_create(NULL);
    static int users[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(fa_on_frame_end(fa, other_hook, &users[i]), FA_OK);
    char url[128];
    t_url(url, sizeof url, "hooks");
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url}, &agent), FA_ERR_STATE);
    cr_assert_null(agent);
    /* Once a hook is free, it starts. */
    fa_remove_frame_hook(fa, other_hook, &users[0]);
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url}, &agent), FA_OK);
    fa_agent_stop(agent, NULL);
    fa_destroy(fa);
}

Test(agent, log_items_have_stable_names) {
    cr_assert_str_eq(fa_agent_log_name(FA_AGENT_LOG_CONNECTED), "FA_AGENT_LOG_CONNECTED");
    cr_assert_str_eq(fa_agent_log_name(FA_AGENT_LOG_SNAPSHOT_FAILED), "FA_AGENT_LOG_SNAPSHOT_FAILED");
    cr_assert_str_eq(fa_agent_log_name(999), "FA_AGENT_LOG_UNKNOWN");
    cr_assert_str_eq(fa_agent_log_text(FA_AGENT_LOG_BYE_SENT), "stop: BYE sent");
    cr_assert_eq(FA_AGENT_LOG_DIAL_FAILED, 10);
}

Test(agent, two_agents_on_one_context_have_distinct_sessions) {
    fa_alloc_t *fa = fa_create(NULL);
    char u1[128], u2[128];
    t_url(u1, sizeof u1, "two-a");
    t_url(u2, sizeof u2, "two-b");
    fa_agent_t *a = NULL, *b = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = u1}, &a), FA_OK);
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = u2}, &b), FA_OK);
    cr_assert_neq(fa_agent_session_id(a), fa_agent_session_id(b));
    for (int i = 0; i < 5; i++) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
    }
    fa_agent_stats_t sa, sb;
    fa_agent_stats(a, &sa);
    fa_agent_stats(b, &sb);
    cr_assert_eq(sa.frames_seen, 5);
    cr_assert_eq(sb.frames_seen, 5);
    fa_agent_stop(b, NULL);
    fa_agent_stop(a, NULL);
    fa_destroy(fa);
}
