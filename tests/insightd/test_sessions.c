/* test_sessions.c — message handling: sessions, tags, pending frames,
 * malformed input, sequence gaps, alerts through the hooks, rollups. */
#include "helpers.h"

static char *dir;
static store_t *st;
static sessions_t *ss;
static config_t cfg;

static int frames_hooked, sessions_started, sessions_ended;
static int alert_events[4];
static char last_clear_reason[32];

static void on_frame(void *ud, session_t *s) {
    (void)ud, (void)s;
    frames_hooked++;
}
static void on_alert(void *ud, session_t *s, tag_t *t, const alert_event_t *ev) {
    (void)ud, (void)s, (void)t;
    alert_events[ev->event]++;
    if (ev->event == ALERT_EV_CLEARED)
        snprintf(last_clear_reason, sizeof last_clear_reason, "%s", ev->clear_reason);
    cr_assert_gt(t->alert.id, 0, "the alert row exists before the hook runs");
}
static void on_session(void *ud, session_t *s, const char *event) {
    (void)ud, (void)s;
    if (!strcmp(event, "start"))
        sessions_started++;
    else
        sessions_ended++;
}

static void setup(void) {
    dir = tmp_dir();
    char db[512], err[512];
    snprintf(db, sizeof db, "%s/s.db", dir);
    cr_assert_eq(store_open(&st, db, err, sizeof err), 0, "%s", err);
    memset(&cfg, 0, sizeof cfg);
    cfg.session_timeout_ms = 10000;
    sessions_hooks_t hooks = {on_frame, on_alert, on_session, NULL};
    ss = sessions_create(st, &cfg, &hooks, 100);
    cr_assert_not_null(ss);
    log_set_hook(capture_hook);
}
static void teardown(void) {
    log_set_hook(NULL);
    sessions_destroy(ss);
    store_close(st);
    rm_tree(dir);
    free(dir);
}
TestSuite(sessions, .init = setup, .fini = teardown);

static void feed(const msgbuf_t *b) {
    sessions_handle(ss, b->data, b->len, insightd_mono_ms());
}

static int rows(const char *sql) {
    store_commit(st);
    sqlite3_stmt *q;
    cr_assert(sqlite3_prepare_v2(store_db(st), sql, -1, &q, NULL) == SQLITE_OK);
    cr_assert(sqlite3_step(q) == SQLITE_ROW);
    int v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

Test(sessions, hello_then_frames_are_stored_with_their_tags) {
    msgbuf_t b;
    hello_msg(&b, 0x11, 0, 0);
    feed(&b);
    for (uint64_t n = 1; n <= 5; n++) {
        frame_msg(&b, 0x11, n, n, 100 * n);
        feed(&b);
    }
    session_t *s = sessions_find(ss, 0x11);
    cr_assert_not_null(s);
    cr_assert_str_eq(s->app, "unit-game");
    cr_assert(s->live);
    cr_assert_eq(s->frames, 5);
    cr_assert_eq(s->last_frame, 5);
    cr_assert_eq(s->first_ms, frame_ms(1));
    cr_assert_eq(s->last_ms, frame_ms(5));
    cr_assert_eq(s->tag_count, 4);
    tag_t *t = sessions_tag_by_path(s, "physics");
    cr_assert_not_null(t);
    cr_assert_eq(t->live_bytes, 500);
    cr_assert_eq(t->peak_bytes, 500);
    cr_assert_eq(sessions_tag_by_path(s, "/")->id, 0, "the root by '/'");
    cr_assert_eq(sessions_tag_by_path(s, "/physics/contacts")->id, 2);
    cr_assert_eq(frames_hooked, 5);
    cr_assert_eq(sessions_started, 1);
    cr_assert_eq(g_stats.accepted_by_type[FA_PROTO_FRAME], 5);
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 17"), 5);
    cr_assert_eq(rows("SELECT count(*) FROM tags WHERE session_id = 17"), 4);
    cr_assert_eq(sessions_latest(ss), s);
}

Test(sessions, frames_before_their_hello_wait_and_are_replayed_in_order) {
    msgbuf_t b;
    for (uint64_t n = 1; n <= 3; n++) {
        frame_msg(&b, 0x22, n, n, 10);
        feed(&b);
    }
    cr_assert_null(sessions_find(ss, 0x22));
    cr_assert_eq(g_stats.pending, 3);
    hello_msg(&b, 0x22, 0, 0);
    feed(&b);
    session_t *s = sessions_find(ss, 0x22);
    cr_assert_not_null(s);
    cr_assert_eq(s->frames, 3);
    cr_assert_eq(s->last_frame, 3);
    cr_assert_eq(s->gaps, 0, "replayed after the HELLO, in sequence");
    cr_assert_eq(g_stats.pending, 0);
    cr_assert_eq(g_stats.orphaned, 0);
}

Test(sessions, frames_beyond_the_bound_are_orphaned_and_time_out) {
    msgbuf_t b;
    for (uint64_t n = 1; n <= PENDING_MAX_PER_SESSION + 10; n++) {
        frame_msg(&b, 0x33, n, n, 10);
        feed(&b);
    }
    cr_assert_eq(g_stats.pending, PENDING_MAX_PER_SESSION);
    cr_assert_eq(g_stats.orphaned, 10);
    sessions_tick(ss, insightd_mono_ms() + PENDING_TIMEOUT_MS + 1, false);
    cr_assert_eq(g_stats.pending, 0);
    cr_assert_eq(g_stats.orphaned, PENDING_MAX_PER_SESSION + 10);
    cr_assert_geq(captured_lines[LOG_WARN], 1);
}

Test(sessions, malformed_messages_are_counted_by_reason_and_logged_once) {
    msgbuf_t b;
    hello_msg(&b, 0x44, 0, 0);
    for (int i = 0; i < 50; i++)
        sessions_handle(ss, "garbage!", 8, 0);
    for (size_t cut = 1; cut < b.len; cut += 7)
        sessions_handle(ss, b.data, cut, 0);
    uint8_t bad[FA_PROTO_HEADER_SIZE];
    memcpy(bad, b.data, sizeof bad);
    bad[4] = 9; /* major version */
    sessions_handle(ss, bad, sizeof bad, 0);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_BAD_MAGIC], 50);
    cr_assert_gt(g_stats.rejected_by[-FA_PROTO_ERR_TRUNCATED], 0);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_BAD_VERSION], 1);
    cr_assert_eq(g_stats.rejected, 50 + (b.len - 1 + 6) / 7 + 1);
    cr_assert_eq(captured_lines[LOG_WARN], 1, "rate-limited to one line");
    cr_assert_eq(sessions_count(ss), 0);
}

Test(sessions, an_unknown_type_is_rejected_but_attributed) {
    msgbuf_t b;
    hello_msg(&b, 0x55, 0, 0);
    feed(&b);
    frame_msg(&b, 0x55, 1, 1, 1);
    b.data[6] = 9; /* type */
    feed(&b);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_UNKNOWN_TYPE], 1);
    cr_assert_eq(sessions_find(ss, 0x55)->unknown_types, 1);
}

Test(sessions, sequence_gaps_and_reordering_are_counted) {
    msgbuf_t b;
    hello_msg(&b, 0x66, 0, 0);
    feed(&b);
    uint64_t seqs[] = {1, 2, 5, 6, 4, 7};
    for (size_t i = 0; i < 6; i++) {
        frame_msg(&b, 0x66, seqs[i], i + 1, 1);
        feed(&b);
    }
    cr_assert_eq(sessions_find(ss, 0x66)->gaps, 2);
    cr_assert_eq(g_stats.gaps, 2);
    cr_assert_eq(g_stats.out_of_order, 1);
}

Test(sessions, budget_alerts_raise_escalate_and_clear_through_the_hooks) {
    msgbuf_t b;
    hello_msg(&b, 0x77, 0, 1000);
    feed(&b);
    uint64_t usage[] = {500, 800, 790, 1000, 760, 740, 900};
    for (uint64_t i = 0; i < 7; i++) {
        frame_msg(&b, 0x77, i + 1, i + 1, usage[i]);
        feed(&b);
    }
    cr_assert_eq(alert_events[ALERT_EV_RAISED], 2);
    cr_assert_eq(alert_events[ALERT_EV_ESCALATED], 1);
    cr_assert_eq(alert_events[ALERT_EV_CLEARED], 1);
    cr_assert_str_eq(last_clear_reason, "usage");
    session_t *s = sessions_find(ss, 0x77);
    cr_assert_eq(s->active_alerts, 1);
    cr_assert(sessions_take_alert_flag(ss));
    cr_assert_not(sessions_take_alert_flag(ss));
    bye_msg(&b, 0x77, 8);
    feed(&b);
    cr_assert_not(s->live);
    cr_assert_str_eq(s->end_reason, "bye");
    cr_assert_eq(s->agent_dropped, 7);
    cr_assert_eq(s->active_alerts, 0);
    cr_assert_str_eq(last_clear_reason, "session_end");
    cr_assert_eq(sessions_ended, 1);
    cr_assert_eq(rows("SELECT count(*) FROM alerts WHERE cleared_ms IS NOT NULL"), 2);
    cr_assert_eq(rows("SELECT count(*) FROM alerts WHERE level = 'critical' AND peak_bytes = 1000"), 1);
}

Test(sessions, rollups_and_findings_are_written_per_second) {
    msgbuf_t b;
    hello_msg(&b, 0x88, 0, 0);
    feed(&b);
    /* 250 frames at 100 fps: seconds 0, 1, 2 (partial) */
    for (uint64_t n = 1; n <= 250; n++) {
        frame_msg(&b, 0x88, n, n, n);
        feed(&b);
    }
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1s WHERE session_id = 136"), 2, "closed seconds only");
    cr_assert_eq(rows("SELECT frames FROM rollup_1s WHERE session_id = 136 ORDER BY t_ms LIMIT 1"), 100);
    cr_assert_eq(rows("SELECT count(*) FROM findings WHERE session_id = 136"), 2);
    cr_assert_eq(rows("SELECT frames FROM findings WHERE session_id = 136 ORDER BY t_ms LIMIT 1"), 100);
    sessions_flush(ss);
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1s WHERE session_id = 136"), 3,
                 "shutdown flushes the open one");
    cr_assert_eq(rows("SELECT count(*) FROM rollup_10s WHERE session_id = 136"), 1);
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1m WHERE session_id = 136"), 1);
    /* the second second's physics rollup: min 101, max 200, last 200 */
    sqlite3_stmt *q;
    sqlite3_prepare_v2(store_db(st),
                       "SELECT data FROM rollup_1s WHERE session_id = 136 ORDER BY t_ms LIMIT 1 OFFSET 1", -1,
                       &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_find(sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), 1, &r), 1);
    cr_assert_eq(r.min, 101);
    cr_assert_eq(r.max, 200);
    cr_assert_eq(r.last, 200);
    cr_assert_eq(r.avg, 151);
    sqlite3_finalize(q);
}

Test(sessions, silence_ends_a_session_and_frames_revive_it) {
    msgbuf_t b;
    hello_msg(&b, 0x99, 0, 0);
    feed(&b);
    frame_msg(&b, 0x99, 1, 1, 1);
    feed(&b);
    session_t *s = sessions_find(ss, 0x99);
    sessions_tick(ss, insightd_mono_ms() + 5000, false);
    cr_assert(s->live);
    sessions_tick(ss, insightd_mono_ms() + 10001, true);
    cr_assert_not(s->live);
    cr_assert_str_eq(s->end_reason, "timeout");
    frame_msg(&b, 0x99, 2, 2, 1);
    feed(&b);
    cr_assert(s->live);
    cr_assert_eq(sessions_started, 2);
    cr_assert_eq(sessions_live_count(ss), 1);
}

Test(sessions, a_tags_message_changes_budgets_and_names_new_ids) {
    msgbuf_t b;
    hello_msg(&b, 0xaa, 0, 1000);
    feed(&b);
    fa_proto_tag_def_t defs[2] = {{1, 0, 0, 0, fa_proto_str("physics")},
                                  {9, 3, 0, 50, fa_proto_str("render/ui")}};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_TAGS;
    m.header.session_id = 0xaa;
    m.header.seq = 1;
    m.tags.tags = defs;
    m.tags.tag_count = 2;
    enc(&b, &m);
    feed(&b);
    session_t *s = sessions_find(ss, 0xaa);
    cr_assert_eq(sessions_tag(s, 1)->budget_hard, 0);
    cr_assert_str_eq(sessions_tag(s, 9)->path, "render/ui");
    cr_assert_eq(sessions_tag(s, 9)->parent_id, 3);
}

Test(sessions, agent_strings_become_valid_utf8) {
    static fa_proto_tag_def_t def = {0, 0, 0, 0, {"", 0}};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = 0xbb;
    m.hello.app_name = (fa_proto_str_t){"ok\xc3\xa9\xff\x01\xe2\x82", 8};
    m.hello.tags = &def;
    m.hello.tag_count = 1;
    msgbuf_t b;
    enc(&b, &m);
    feed(&b);
    cr_assert_str_eq(sessions_find(ss, 0xbb)->app, "ok\xc3\xa9???"
                                                   "?");
}

Test(sessions, known_sessions_come_back_after_a_restart) {
    msgbuf_t b;
    hello_msg(&b, 0xcc, 0, 1000);
    feed(&b);
    frame_msg(&b, 0xcc, 1, 1, 900);
    feed(&b);
    sessions_flush(ss);
    store_commit(st);
    sessions_hooks_t none = {0};
    sessions_t *again = sessions_create(st, &cfg, &none, 100);
    session_t *s = sessions_find(again, 0xcc);
    cr_assert_not_null(s);
    cr_assert_not(s->live);
    cr_assert_str_eq(s->end_reason, "daemon_restart");
    cr_assert_eq(s->tag_count, 4);
    cr_assert_eq(sessions_tag_by_path(s, "physics")->live_bytes, 900);
    cr_assert_eq(sessions_tag_by_path(s, "physics")->budget_hard, 1000);
    sessions_destroy(again);
}

/* Issue 14: C1 controls (U+009B is CSI) and bidi overrides (U+202E) in an
 * agent's strings reached the API and every terminal that printed them. */
Test(sessions, agent_strings_lose_c1_controls_and_bidi_overrides) {
    static fa_proto_tag_def_t def = {1, 0, 0, 0, {"evil\xe2\x80\xaegpj\xc2\x9b\x32J", 14}};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = 0xbc;
    m.hello.app_name = (fa_proto_str_t){"app\xc2\x9d\x38;;x\xe2\x81\xa6", 12};
    m.hello.host = (fa_proto_str_t){"h\xe2\x80\x8fost", 7};
    m.hello.build_id = (fa_proto_str_t){"b\x1b]0;t\x07", 7};
    m.hello.session_label = (fa_proto_str_t){"caf\xc3\xa9", 5};
    m.hello.tags = &def;
    m.hello.tag_count = 1;
    msgbuf_t b;
    enc(&b, &m);
    feed(&b);
    session_t *s = sessions_find(ss, 0xbc);
    cr_assert_str_eq(s->app, "app?8;;x?");
    cr_assert_str_eq(s->host, "h?ost");
    cr_assert_str_eq(s->build_id, "b?]0;t?");
    cr_assert_str_eq(s->label, "caf\xc3\xa9");
    cr_assert_str_eq(sessions_tag(s, 1)->path, "evil?gpj?2J");
}
