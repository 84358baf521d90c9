/* test_sessions.c — message handling with the real writer thread behind
 * it: sessions, tags and their bounds, the daemon's clock, sequence
 * numbers and duplicates, alerts through the hooks, rollups, eviction and
 * a restart. Messages carry receive times chosen by the test. */
#include "helpers.h"

#include <uv.h>

#include "testdb.h"

static testdb_t the_db;
static const char *db;
static store_t *st;
static writer_t *wr;
static sessions_t *ss;
static uv_loop_t loop;
/* The daemon-clock time of frame 1 (frames are 10 ms apart, 9 ms long). */
static uint64_t base_ms;

static int frames_hooked, sessions_started, sessions_ended;
static int alert_events[4];
static char last_clear_reason[32];

static void on_frame(void *ud, const session_t *s) {
    (void)ud, (void)s;
    frames_hooked++;
}
static void on_alert(void *ud, const session_t *s, int event, const alert_row_t *a, uint64_t live) {
    (void)ud, (void)s, (void)live;
    alert_events[event]++;
    if (event == ALERT_EV_CLEARED)
        snprintf(last_clear_reason, sizeof last_clear_reason, "%s", a->clear_reason);
    cr_assert_gt(a->id, 0, "the alert has its id before the hook runs");
}
static void on_session(void *ud, const session_t *s, const char *event) {
    (void)ud, (void)s;
    if (!strcmp(event, "start"))
        sessions_started++;
    else
        sessions_ended++;
}
static void on_lookup(void *ud, uint64_t sid, session_view_t *v) {
    (void)ud;
    sessions_resolved(ss, sid, v);
}

static sessions_options_t opts = {10000, 64, 100, 1024};

static void adopt(void *ud, session_view_t *v) {
    sessions_adopt(ud, v);
}
static void note_id(void *ud, uint64_t id) {
    sessions_note_stored(ud, id);
}

static void start(void) {
    char err[512];
    cr_assert_eq(store_open(&st, db, 1, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(uv_loop_init(&loop), 0);
    writer_options_t wo = {
        .commit_interval_ms = 20,
        .buffer_bytes = 16 << 20,
        .retention_interval_ms = 3600000,
        .keep = {UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2}};
    writer_hooks_t wh = {on_lookup, NULL, NULL};
    sessions_hooks_t hooks = {on_frame, on_alert, on_session, NULL};
    cr_assert_not_null(ss = sessions_create(NULL, &opts, &hooks));
    int64_t next_alert = 1;
    cr_assert_eq(store_load(st, opts.max_ended, adopt, note_id, ss, &next_alert), 0);
    sessions_set_next_alert_id(ss, next_alert);
    cr_assert_eq(writer_start(&wr, st, &loop, &wo, &wh, err, sizeof err), 0, "%s", err);
    sessions_attach_writer(ss, wr);
}

static void stop(void) {
    writer_stop(wr, clock_mono_ms() + 2000);
    writer_close(wr);
    uv_run(&loop, UV_RUN_DEFAULT);
    writer_free(wr);
    sessions_destroy(ss);
    store_close(st);
    uv_loop_close(&loop);
}

static void setup(bool pg) {
    testdb_create(&the_db, pg);
    db = the_db.location;
    base_ms = clock_now_ms();
    start();
    log_set_hook(capture_hook);
}
static void sessions_setup_sqlite(void) {
    setup(false);
}
static void sessions_setup_pg(void) {
    setup(true);
}
static void sessions_teardown(void) {
    log_set_hook(NULL);
    stop();
    testdb_destroy(&the_db);
}

/* Lets the writer's answers (look-ups) reach the sessions. */
static void settle(void) {
    for (int i = 0; i < 500 && g_stats.pending; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(2000);
    }
    uv_run(&loop, UV_RUN_NOWAIT);
}

static void feed_at(const msgbuf_t *b, uint64_t recv_ms) {
    sessions_handle(ss, b->data, b->len, recv_ms, clock_mono_ms());
    settle();
}

static void feed(const msgbuf_t *b) {
    feed_at(b, base_ms);
}

/* Frame n received exactly when it ended: its time maps to base + (n-1) x 10. */
static void feed_frame(uint64_t sid, uint64_t seq, uint64_t n, uint64_t physics) {
    msgbuf_t b;
    frame_msg(&b, sid, seq, n, physics);
    feed_at(&b, base_ms + (n - 1) * 10 + 9);
}

static uint64_t t_of(uint64_t n) {
    return base_ms + (n - 1) * 10;
}

/* Waits until the writer committed everything queued. */
static void sync_writer(void) {
    writer_commit_soon(wr);
    writer_stats_t s;
    for (int i = 0; i < 500; i++) {
        writer_stats(wr, &s);
        if (s.backlog_ops == 0) return;
        usleep(2000);
    }
    cr_assert_fail("the writer did not commit");
}

static int64_t rows(const char *sql) {
    sync_writer();
    return testdb_scalar(&the_db, sql);
}

static const session_info_t *info(uint64_t sid) {
    const session_t *s = sessions_find(ss, sid);
    cr_assert_not_null(s, "session %llx in memory", (unsigned long long)sid);
    return session_info(s);
}

/* A tag of a session in memory, by path (copied into a static view). */
static const tag_info_t *tag(uint64_t sid, const char *path) {
    static session_view_t *v;
    view_free(v);
    v = session_view(sessions_find(ss, sid));
    return v ? view_tag_by_path(v, path) : NULL;
}

STORE_TEST(sessions, hello_then_frames_are_stored_with_their_tags) {
    msgbuf_t b;
    hello_msg(&b, 0x11, 0, 0);
    feed(&b);
    for (uint64_t n = 1; n <= 5; n++)
        feed_frame(0x11, n, n, 100 * n);
    const session_info_t *s = info(0x11);
    cr_assert_str_eq(s->app, "unit-game");
    cr_assert(s->live);
    cr_assert_eq(s->frames, 5);
    cr_assert_eq(s->last_frame, 5);
    cr_assert_eq(s->first_ms, t_of(1), "frames are on the daemon's clock");
    cr_assert_eq(s->last_ms, t_of(5));
    cr_assert_eq(s->tag_count, 4);
    cr_assert_eq(tag(0x11, "physics")->live_bytes, 500);
    cr_assert_eq(tag(0x11, "/")->id, 0, "the root by '/'");
    cr_assert_eq(tag(0x11, "/physics/contacts")->id, 2);
    cr_assert_eq(frames_hooked, 5);
    cr_assert_eq(sessions_started, 1);
    cr_assert_eq(g_stats.accepted_by_type[FA_PROTO_FRAME], 5);
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 17"), 5);
    cr_assert_eq(rows("SELECT count(*) FROM tags WHERE session_id = 17"), 4);
    cr_assert_eq(rows("SELECT frames FROM sessions WHERE id = 17"), 5, "counters written with the frames");
    cr_assert_eq(session_id(sessions_latest(ss)), 0x11);
}

/* 1.2: frames batched in FRAMES messages with tag rows as deltas are
 * rebuilt whole: the stored frames, tags and counters are exactly those
 * of the same frames sent one FRAME each. */
STORE_TEST(sessions, batched_delta_frames_store_exactly_what_single_frames_store) {
    uint64_t physics[21];
    bool key[21] = {false};
    for (uint64_t n = 0; n <= 20; n++)
        physics[n] = n % 3 ? 100 * n : 500; /* changes on most frames, not all */
    key[1] = key[13] = true;
    msgbuf_t b;
    hello_msg(&b, 0x31, 0, 0);
    feed(&b);
    for (uint64_t n = 1; n <= 20; n++) {
        frame_msg(&b, 0x31, n, n, physics[n]);
        feed_at(&b, base_ms + 300);
    }
    hello_msg(&b, 0x32, 0, 0);
    feed(&b);
    frames_msg(&b, 0x32, 1, 1, 1, physics, key);
    feed_at(&b, base_ms + 300);
    frames_msg(&b, 0x32, 2, 2, 7, physics, key);
    feed_at(&b, base_ms + 300);
    frames_msg(&b, 0x32, 3, 9, 12, physics, key);
    feed_at(&b, base_ms + 300);
    cr_assert_eq(info(0x32)->frames, 20);
    cr_assert_eq(info(0x32)->last_frame, 20);
    cr_assert_eq(g_stats.accepted_by_type[FA_PROTO_FRAMES], 3);
    cr_assert_eq(g_stats.frames_no_base, 0);
    cr_assert_eq(tag(0x32, "physics")->live_bytes, tag(0x31, "physics")->live_bytes);
    cr_assert_eq(tag(0x32, "physics")->peak_bytes, tag(0x31, "physics")->peak_bytes);
    cr_assert_eq(tag(0x32, "render")->live_bytes, 3000);
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 50"), 20);
    cr_assert_eq(rows("SELECT count(*) FROM frames a JOIN frames b ON a.frame = b.frame AND a.t_ms = b.t_ms "
                      "AND a.duration_ns = b.duration_ns AND a.data = b.data "
                      "WHERE a.session_id = 49 AND b.session_id = 50"),
                 20, "every frame stored byte for byte as its single FRAME");
}

/* A lost message: the deltas after it cannot be rebuilt, are counted and
 * skipped, and the next key entry resumes the session's frames. */
STORE_TEST(sessions, a_delta_after_a_lost_message_waits_for_the_next_key_frame) {
    uint64_t physics[21];
    bool key[21] = {false};
    for (uint64_t n = 0; n <= 20; n++)
        physics[n] = 100 * n;
    key[1] = key[10] = true;
    msgbuf_t b;
    hello_msg(&b, 0x33, 0, 0);
    feed(&b);
    frames_msg(&b, 0x33, 1, 1, 4, physics, key); /* 1..4 */
    feed_at(&b, base_ms + 300);
    /* seq 2 (frames 5..6) is lost */
    frames_msg(&b, 0x33, 3, 7, 3, physics, key); /* 7..9: their base 6 never came */
    feed_at(&b, base_ms + 300);
    cr_assert_eq(info(0x33)->frames, 4);
    cr_assert_eq(g_stats.frames_no_base, 3);
    frames_msg(&b, 0x33, 4, 10, 3, physics, key); /* 10 (key), 11, 12 */
    feed_at(&b, base_ms + 300);
    cr_assert_eq(info(0x33)->frames, 7);
    cr_assert_eq(info(0x33)->last_frame, 12);
    cr_assert_eq(g_stats.frames_no_base, 3);
    cr_assert_eq(tag(0x33, "physics")->live_bytes, 1200, "rebuilt from key 10 and the deltas after it");
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 51"), 7);
}

STORE_TEST(sessions, the_agents_clock_is_kept_and_its_skew_reported) {
    msgbuf_t b;
    hello_msg(&b, 0x12, 0, 0);
    feed(&b);
    feed_frame(0x12, 1, 1, 1);
    const session_info_t *s = info(0x12);
    cr_assert_eq(s->start_unix_ns, TEST_START_UNIX_NS, "the agent's start, as sent");
    cr_assert(s->skew_known);
    cr_assert_eq(s->clock_skew_ms, (int64_t)(TEST_START_UNIX_NS / 1000000u) - (int64_t)base_ms);
    cr_assert_eq(g_stats.clock_skewed, 1, "years off: counted once");
    feed_frame(0x12, 2, 2, 1);
    cr_assert_eq(g_stats.clock_skewed, 1);
}

STORE_TEST(sessions, absurd_frame_times_are_clamped_to_the_receipt_and_counted) {
    msgbuf_t b;
    hello_msg(&b, 0x13, 0, 0);
    feed(&b);
    feed_frame(0x13, 1, 1, 1);
    /* frame 2 claims to start an hour later: the agent's clock jumped */
    frame_msg(&b, 0x13, 2, 360001, 1);
    feed_at(&b, base_ms + 20);
    cr_assert_eq(g_stats.bad_timestamps, 1);
    cr_assert_leq(info(0x13)->last_ms, base_ms + 20, "never later than it arrived");
    cr_assert_geq(info(0x13)->last_ms, base_ms + 10);
    /* and the session goes on from there */
    frame_msg(&b, 0x13, 3, 360002, 1);
    feed_at(&b, base_ms + 30);
    cr_assert_eq(g_stats.bad_timestamps, 1);
    cr_assert_eq(info(0x13)->last_ms, base_ms + 20 - 9 + 10);
}

STORE_TEST(sessions, an_absurd_agent_start_time_is_not_shown_and_counted) {
    static fa_proto_tag_def_t def = {0, 0, 0, 0, {"", 0}};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = 0x14;
    m.hello.start_unix_ns = UINT64_MAX - 5;
    m.hello.tags = &def;
    m.hello.tag_count = 1;
    msgbuf_t b;
    enc(&b, &m);
    feed(&b);
    cr_assert_not(info(0x14)->start_valid);
    cr_assert_eq(g_stats.bad_timestamps, 1);
    feed_frame(0x14, 1, 1, 1);
    cr_assert_not(info(0x14)->skew_known, "no skew from a clock that makes no sense");
}

STORE_TEST(sessions, a_frame_without_hello_starts_the_session_and_the_hello_completes_it) {
    for (uint64_t n = 1; n <= 3; n++)
        feed_frame(0x22, n, n, 10);
    const session_info_t *s = info(0x22);
    cr_assert_not(s->have_hello);
    cr_assert_eq(s->frames, 3);
    cr_assert_eq(s->tag_count, 0, "no tag without a definition");
    cr_assert_eq(s->rows_rejected, 3 * 4, "its frame rows are counted, not turned into tags");
    cr_assert_eq(g_stats.rows_undefined_tag, 12);
    msgbuf_t b;
    hello_msg(&b, 0x22, 0, 0);
    feed(&b);
    cr_assert(s->have_hello);
    cr_assert_str_eq(s->app, "unit-game");
    cr_assert_eq(s->tag_count, 4);
    feed_frame(0x22, 4, 4, 10);
    cr_assert_eq(s->gaps, 0, "the late HELLO (seq 0) is no gap");
    cr_assert_eq(s->rows_rejected, 12);
    cr_assert_eq(g_stats.pending, 0);
}

STORE_TEST(sessions, tag_definitions_beyond_the_cap_are_refused) {
    stop();
    opts.max_tags = 3;
    start();
    msgbuf_t b;
    hello_msg(&b, 0x23, 0, 0); /* 4 tags */
    feed(&b);
    cr_assert_eq(info(0x23)->tag_count, 3);
    cr_assert_eq(g_stats.rows_tag_cap, 1);
    feed_frame(0x23, 1, 1, 1);
    cr_assert_eq(g_stats.rows_undefined_tag, 1, "the frame row of the refused tag");
    opts.max_tags = 1024;
}

STORE_TEST(sessions, messages_of_a_stored_session_wait_for_it_bounded) {
    /* Known to the store (not in memory): its messages wait for the
     * look-up, whose answer the loop has not delivered yet. */
    sessions_note_stored(ss, 0x33);
    msgbuf_t b;
    for (uint64_t n = 1; n <= PENDING_MAX_PER_SESSION + 10; n++) {
        frame_msg(&b, 0x33, n, n, 10);
        sessions_handle(ss, b.data, b.len, base_ms, clock_mono_ms());
    }
    cr_assert_eq(g_stats.pending, PENDING_MAX_PER_SESSION);
    cr_assert_eq(g_stats.orphaned, 10);
    settle(); /* not stored after all: a new session, the waiting frames replayed */
    cr_assert_eq(g_stats.pending, 0);
    cr_assert_eq(info(0x33)->frames, PENDING_MAX_PER_SESSION);
    cr_assert_geq(captured_lines[LOG_WARN], 1);
}

STORE_TEST(sessions, malformed_messages_are_counted_by_reason_and_logged_once) {
    msgbuf_t b;
    hello_msg(&b, 0x44, 0, 0);
    for (int i = 0; i < 50; i++)
        sessions_handle(ss, "garbage!", 8, base_ms, 0);
    for (size_t cut = 1; cut < b.len; cut += 7)
        sessions_handle(ss, b.data, cut, base_ms, 0);
    uint8_t bad[FA_PROTO_HEADER_SIZE];
    memcpy(bad, b.data, sizeof bad);
    bad[4] = 9; /* major version */
    sessions_handle(ss, bad, sizeof bad, base_ms, 0);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_BAD_MAGIC], 50);
    cr_assert_gt(g_stats.rejected_by[-FA_PROTO_ERR_TRUNCATED], 0);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_BAD_VERSION], 1);
    cr_assert_eq(g_stats.rejected, 50 + (b.len - 1 + 6) / 7 + 1);
    cr_assert_eq(captured_lines[LOG_WARN], 1, "rate-limited to one line");
    cr_assert_eq(sessions_in_memory(ss), 0);
}

STORE_TEST(sessions, an_unknown_type_is_rejected_but_its_sequence_number_counts) {
    msgbuf_t b;
    hello_msg(&b, 0x55, 0, 0);
    feed(&b);
    frame_msg(&b, 0x55, 1, 1, 1);
    b.data[6] = 9; /* type */
    feed(&b);
    cr_assert_eq(g_stats.rejected_by[-FA_PROTO_ERR_UNKNOWN_TYPE], 1);
    feed_frame(0x55, 2, 2, 1);
    cr_assert_eq(info(0x55)->gaps, 0);
}

STORE_TEST(sessions, sequence_gaps_late_arrivals_and_duplicates_are_counted) {
    msgbuf_t b;
    hello_msg(&b, 0x66, 0, 0);
    feed(&b);
    uint64_t seqs[] = {1, 2, 5, 6, 4, 7, 6, 4};
    for (size_t i = 0; i < 8; i++)
        feed_frame(0x66, seqs[i], i + 1, 1);
    const session_info_t *s = info(0x66);
    cr_assert_eq(s->gaps, 1, "3 is missing; 4 came late and filled its place");
    cr_assert_eq(g_stats.out_of_order, 1);
    cr_assert_eq(s->duplicates, 2, "6 and 4 again");
    cr_assert_eq(g_stats.duplicates, 2);
    cr_assert_eq(s->frames, 6, "duplicates are not frames");
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 102"), 6, "stored once");
}

STORE_TEST(sessions, budget_alerts_raise_escalate_and_clear_through_the_hooks) {
    msgbuf_t b;
    hello_msg(&b, 0x77, 0, 1000);
    feed(&b);
    uint64_t usage[] = {500, 800, 790, 1000, 760, 740, 900};
    for (uint64_t i = 0; i < 7; i++)
        feed_frame(0x77, i + 1, i + 1, usage[i]);
    cr_assert_eq(alert_events[ALERT_EV_RAISED], 2);
    cr_assert_eq(alert_events[ALERT_EV_ESCALATED], 1);
    cr_assert_eq(alert_events[ALERT_EV_CLEARED], 1);
    cr_assert_str_eq(last_clear_reason, "usage");
    const session_info_t *s = info(0x77);
    cr_assert_eq(s->active_alerts, 1);
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

STORE_TEST(sessions, rollups_and_findings_are_written_per_second) {
    /* Frame 1 starts a minute (so a second and a 10-second step too): the
     * 2.5 s of frames must not cross a minute, or two 1-minute rollups exist. */
    base_ms -= base_ms % 60000;
    msgbuf_t b;
    hello_msg(&b, 0x88, 0, 0);
    feed(&b);
    /* 250 frames at 100 fps: seconds 0, 1, 2 (partial) */
    for (uint64_t n = 1; n <= 250; n++)
        feed_frame(0x88, n, n, n);
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1s WHERE session_id = 136"), 2, "closed seconds only");
    cr_assert_eq(rows("SELECT frames FROM rollup_1s WHERE session_id = 136 ORDER BY t_ms LIMIT 1"), 100);
    cr_assert_eq(rows("SELECT count(*) FROM findings WHERE session_id = 136"), 2);
    cr_assert_eq(rows("SELECT frames FROM findings WHERE session_id = 136 ORDER BY t_ms LIMIT 1"), 100);
    sessions_flush(ss);
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1s WHERE session_id = 136"), 3,
                 "shutdown flushes the open one");
    cr_assert_eq(rows("SELECT count(*) FROM rollup_1m WHERE session_id = 136"), 1);
    sync_writer();
    uint8_t blob[4096];
    size_t len = sizeof blob;
    testdb_query(&the_db, "SELECT data FROM rollup_1s WHERE session_id = 136 ORDER BY t_ms LIMIT 1 OFFSET 1",
                 blob, &len);
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_find(blob, len, 1, &r), 1);
    cr_assert_eq(r.min, 101);
    cr_assert_eq(r.max, 200);
    cr_assert_eq(r.last, 200);
    cr_assert_eq(r.avg, 151);
}

STORE_TEST(sessions, silence_ends_a_session_and_frames_revive_it) {
    msgbuf_t b;
    hello_msg(&b, 0x99, 0, 0);
    feed(&b);
    feed_frame(0x99, 1, 1, 1);
    const session_info_t *s = info(0x99);
    sessions_tick(ss, clock_mono_ms() + 5000, false);
    cr_assert(s->live);
    sessions_tick(ss, clock_mono_ms() + 10001, true);
    cr_assert_not(s->live);
    cr_assert_str_eq(s->end_reason, "timeout");
    feed_frame(0x99, 2, 2, 1);
    cr_assert(s->live);
    cr_assert_eq(sessions_started, 2);
    cr_assert_eq(sessions_live_count(ss), 1);
}

STORE_TEST(sessions, ended_sessions_beyond_the_bound_leave_memory_once_committed) {
    stop();
    opts.max_ended = 2;
    start();
    msgbuf_t b;
    for (uint64_t sid = 0x100; sid < 0x105; sid++) {
        hello_msg(&b, sid, 0, 0);
        feed(&b);
        feed_frame(sid, 1, 1, 1);
        bye_msg(&b, sid, 2);
        feed(&b);
    }
    cr_assert_eq(sessions_in_memory(ss), 5);
    sync_writer();
    sessions_tick(ss, clock_mono_ms(), false);
    cr_assert_eq(sessions_in_memory(ss), 2, "the two most recent stay");
    cr_assert_eq(g_stats.sessions_evicted, 3);
    cr_assert_null(sessions_find(ss, 0x100));
    cr_assert_not_null(sessions_find(ss, 0x104));
    /* the evicted one comes back when its agent speaks again */
    feed_frame(0x100, 3, 2, 1);
    cr_assert_eq(info(0x100)->frames, 2, "continued from its stored counters");
    cr_assert_str_eq(info(0x100)->app, "unit-game");
    opts.max_ended = 100;
}

STORE_TEST(sessions, a_tags_message_changes_budgets_and_names_new_ids) {
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
    cr_assert_eq(tag(0xaa, "physics")->budget_hard, 0);
    cr_assert_eq(tag(0xaa, "render/ui")->id, 9);
    cr_assert_eq(tag(0xaa, "render/ui")->parent_id, 3);
}

STORE_TEST(sessions, agent_strings_become_valid_utf8) {
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
    cr_assert_str_eq(info(0xbb)->app, "ok\xc3\xa9???"
                                      "?");
}

STORE_TEST(sessions, a_restarted_daemon_continues_the_counters_and_the_sequence) {
    msgbuf_t b;
    hello_msg(&b, 0xcc, 0, 1000);
    feed(&b);
    for (uint64_t n = 1; n <= 10; n++)
        feed_frame(0xcc, n, n, 900);
    sessions_flush(ss);
    stop(); /* as after a crash: the counters are those of the last commit */
    start();
    const session_info_t *s = info(0xcc);
    cr_assert_not(s->live);
    cr_assert_str_eq(s->end_reason, "daemon_restart");
    cr_assert_eq(s->tag_count, 4);
    cr_assert_eq(s->frames, 10);
    cr_assert_eq(tag(0xcc, "physics")->live_bytes, 900);
    feed_frame(0xcc, 8, 11, 1); /* a frame already stored */
    cr_assert_eq(s->duplicates, 1);
    cr_assert_not(s->live, "a duplicate revives nothing");
    feed_frame(0xcc, 14, 12, 1); /* 11..13 were lost while it was down */
    cr_assert(s->live);
    cr_assert_eq(s->gaps, 3);
    cr_assert_eq(s->frames, 11);
}

/* Issue 14: C1 controls (U+009B is CSI) and bidi overrides (U+202E) in an
 * agent's strings reached the API and every terminal that printed them. */
STORE_TEST(sessions, agent_strings_lose_c1_controls_and_bidi_overrides) {
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
    const session_info_t *s = info(0xbc);
    cr_assert_str_eq(s->app, "app?8;;x?");
    cr_assert_str_eq(s->host, "h?ost");
    cr_assert_str_eq(s->build_id, "b?]0;t?");
    cr_assert_str_eq(s->label, "caf\xc3\xa9");
    cr_assert_str_eq(tag(0xbc, "evil?gpj?2J")->path, "evil?gpj?2J");
}

/* ---- call sites ----------------------------------------------------------- */

/* The first per-second bucket of a session, as stored. */
static size_t first_second(uint64_t sid, uint8_t *blob, size_t cap) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT data FROM rollup_1s WHERE session_id = %llu ORDER BY t_ms LIMIT 1",
             (unsigned long long)sid);
    sync_writer();
    size_t len = cap;
    testdb_query(&the_db, sql, blob, &len);
    cr_assert_gt(len, 0, "a bucket of session %llu", (unsigned long long)sid);
    return len;
}

static int sum_site(void *ud, const pack_site_acc_t *a) {
    pack_site_acc_t *acc = ud; /* [0] site 1, [1] site 2, [2] render's other */
    int i = a->site == 0 ? 2 : (int)a->site - 1;
    cr_assert(i >= 0 && i < 3 && a->tag == (a->site ? 1 : 3), "pair %u/%u", a->site, a->tag);
    acc[i] = *a;
    return 0;
}

STORE_TEST(sessions, sites_are_stored_once_per_definition_and_rolled_up_per_second) {
    base_ms -= base_ms % 1000;
    msgbuf_t b;
    hello_msg(&b, 0x99, 0, 0);
    feed(&b);
    sites_msg(&b, 0x99, 1, 1, 2);
    feed(&b);
    cr_assert_eq(g_stats.sites_defined, 2);
    sites_msg(&b, 0x99, 2, 1, 2); /* after a reconnection: the same again */
    feed(&b);
    cr_assert_eq(g_stats.sites_defined, 2, "repeated definitions are not written again");
    cr_assert_eq(rows("SELECT count(*) FROM sites WHERE session_id = 153"), 2);
    cr_assert_eq(rows("SELECT line FROM sites WHERE session_id = 153 AND id = 2"), 102);
    cr_assert_eq(g_stats.accepted_by_type[FA_PROTO_SITES], 2);
    /* 150 frames: second 0 whole, 1 half; site 1 takes n bytes, site 2 10. */
    for (uint64_t n = 1; n <= 150; n++) {
        frame_sites_msg(&b, 0x99, 2 + n, n, n, 10);
        feed_at(&b, base_ms + (n - 1) * 10 + 9);
    }
    sessions_flush(ss);
    static uint8_t blob[65536];
    size_t len = first_second(153, blob, sizeof blob);
    pack_site_acc_t acc[3];
    memset(acc, 0, sizeof acc);
    cr_assert_eq(pack_rollup_each_site(blob, len, sum_site, acc), 0);
    cr_assert_eq(acc[0].frames, 100);
    cr_assert_eq(acc[0].bytes_sum, 5050);
    cr_assert_eq(acc[0].bytes_max, 100);
    cr_assert_eq(acc[0].count_sum, 200);
    cr_assert_eq(acc[1].bytes_sum, 1000);
    cr_assert_eq(acc[2].bytes_sum, 6400);
    cr_assert_eq(acc[2].count_max, 1);
    /* The frame blobs keep their rows. */
    cr_assert_eq(rows("SELECT count(*) FROM frames WHERE session_id = 153"), 150);
}

STORE_TEST(sessions, a_changed_definition_replaces_the_old_one) {
    msgbuf_t b;
    hello_msg(&b, 0x9a, 0, 0);
    feed(&b);
    sites_msg(&b, 0x9a, 1, 1, 1);
    feed(&b);
    sites_msg(&b, 0x9a, 2, 1, 1);
    fa_proto_msg_t m; /* re-encode with another line */
    fa_proto_site_def_t d = {1, 7, 2, fa_proto_str("other.c"), fa_proto_str("g")};
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_SITES;
    m.header.session_id = 0x9a;
    m.header.seq = 2;
    m.sites.sites = &d;
    m.sites.site_count = 1;
    enc(&b, &m);
    feed(&b);
    cr_assert_eq(g_stats.sites_defined, 2);
    cr_assert_eq(rows("SELECT count(*) FROM sites WHERE session_id = 154"), 1);
    cr_assert_eq(rows("SELECT line FROM sites WHERE session_id = 154 AND id = 1"), 7);
}

STORE_TEST(sessions, site_definitions_beyond_the_cap_or_with_id_0_are_refused) {
    stop();
    opts.max_sites = 5;
    start();
    msgbuf_t b;
    hello_msg(&b, 0x9b, 0, 0);
    feed(&b);
    sites_msg(&b, 0x9b, 1, 0, 8); /* ids 0..7 */
    feed(&b);
    cr_assert_eq(g_stats.sites_defined, 5);
    cr_assert_eq(g_stats.sites_rejected, 3);
    cr_assert_eq(rows("SELECT count(*) FROM sites WHERE session_id = 155"), 5);
    cr_assert_eq(rows("SELECT count(*) FROM sites WHERE session_id = 155 AND id = 0"), 0);
    /* Rows of undefined sites are kept (figures without a name). */
    frame_sites_msg(&b, 0x9b, 2, 1, 10, 20);
    feed_at(&b, base_ms + 9);
    cr_assert_eq(info(0x9b)->frames, 1);
    opts.max_sites = 0;
}

/* A pair whose rows stop (its blocks were freed) has nothing live at the
 * end of the bucket, whatever it had at its last row. */
static int last_live_of_site_1(void *ud, const pack_site_acc_t *a) {
    if (a->site == 1) *(pack_site_acc_t *)ud = *a;
    return 0;
}

STORE_TEST(sessions, a_bucket_ends_with_no_live_bytes_for_a_site_without_a_row_in_its_last_frame) {
    base_ms -= base_ms % 1000;
    msgbuf_t b;
    hello_msg(&b, 0x9c, 0, 0);
    feed(&b);
    for (uint64_t n = 1; n <= 20; n++) {
        if (n <= 10)
            frame_sites_msg(&b, 0x9c, n, n, n, 10);
        else
            frame_msg(&b, 0x9c, n, n, 0);
        feed_at(&b, base_ms + (n - 1) * 10 + 9);
    }
    sessions_flush(ss);
    static uint8_t blob[65536];
    size_t len = first_second(156, blob, sizeof blob);
    pack_site_acc_t a;
    memset(&a, 0xff, sizeof a);
    cr_assert_eq(pack_rollup_each_site(blob, len, last_live_of_site_1, &a), 0);
    cr_assert_eq(a.frames, 10);
    cr_assert_eq(a.live_max, 10);
    cr_assert_eq(a.live_last, 0, "nothing live at the bucket's last frame, got %llu",
                 (unsigned long long)a.live_last);
}

/* The fleet view's per-frame average: each tag's sum of live bytes over
 * the frames that carried it, stored with the tag and continued after a
 * restart. */
STORE_TEST(sessions, each_tags_sum_of_live_bytes_is_stored_and_continued) {
    msgbuf_t b;
    hello_msg(&b, 0xdd, 0, 0);
    feed(&b);
    for (uint64_t n = 1; n <= 4; n++)
        feed_frame(0xdd, n, n, 100 * n);
    cr_assert_eq(tag(0xdd, "physics")->live_sum, 1000);
    cr_assert_eq(tag(0xdd, "physics")->live_frames, 4);
    bye_msg(&b, 0xdd, 5);
    feed(&b);
    cr_assert_eq(rows("SELECT live_sum FROM tags WHERE session_id = 221 AND id = 1"), 1000);
    cr_assert_eq(rows("SELECT live_frames FROM tags WHERE session_id = 221 AND id = 1"), 4);
    cr_assert_eq(rows("SELECT live_sum FROM tags WHERE session_id = 221 AND id = 2"), 4 * 2000);
    stop();
    start();
    feed_frame(0xdd, 6, 5, 500);
    cr_assert_eq(tag(0xdd, "physics")->live_sum, 1500, "continued from the stored sum");
    cr_assert_eq(tag(0xdd, "physics")->live_frames, 5);
}
