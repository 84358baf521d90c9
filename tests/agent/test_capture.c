/* The capture file (proto/PROTOCOL.md §10): a complete session per file,
 * with FA_INSIGHT_URL=file:PATH or beside the stream; what a crash and a
 * full disk leave behind; refusals at start. */
#include <criterion/criterion.h>

#include "agent_test.h"
#include "fa_capture.h"
#include "syscount.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void t_capture_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "/tmp/fa-agent-test-%d-%s.facap", (int)getpid(), name);
}

/* A capture path of its own, and the file: URL that names it. */
static void t_file_url(char path[128], char url[160], const char *name, const char *scheme) {
    t_capture_path(path, 128, name);
    snprintf(url, 160, "%s%s", scheme, path);
}

/* A whole file in memory. */
static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* What a capture holds, checked against the session rules as it is read. */
typedef struct summary {
    uint64_t session, hellos, tags_msgs, frames, byes, first_frame, last_frame, dropped_sum, bye_frames_sent;
    uint64_t bye_dropped;
    size_t truncated;
    bool tag_seen_before_defined;
    uint32_t max_tag_id_defined;
    uint64_t sites_msgs, site_rows;
    bool site_seen_before_defined;
} summary_t;

static summary_t read_capture(const char *path) {
    size_t len;
    unsigned char *data = slurp(path, &len);
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, data, len), FA_PROTO_OK, "%s is not a capture", path);
    if (!t_space) t_space = calloc(1, sizeof *t_space);
    fa_proto_storage_t st = fa_proto_storage_of(t_space);
    summary_t s = {0};
    bool defined[65536] = {0}, site_defined[FA_SITE_MAX + 1] = {0};
    fa_proto_msg_t m;
    int rc;
    uint64_t seq = 0;
    while ((rc = fa_capture_next(&r, &m, &st)) != 0) {
        cr_assert_eq(rc, 1, "%s: %s at offset %zu", path, fa_proto_err_name(rc), r.message_offset);
        if (!s.session) s.session = m.header.session_id;
        cr_assert_eq(m.header.session_id, s.session, "one session per file");
        cr_assert_eq(m.header.seq, seq++, "seq runs without gaps from 0");
        cr_assert(s.byes == 0, "nothing after the BYE");
        switch (m.header.type) {
        case FA_PROTO_HELLO:
            s.hellos++;
            for (uint32_t i = 0; i < m.hello.tag_count; i++)
                defined[m.hello.tags[i].id] = true;
            break;
        case FA_PROTO_SITES:
            cr_assert_gt(s.hellos, 0);
            s.sites_msgs++;
            for (uint32_t i = 0; i < m.sites.site_count; i++)
                if (m.sites.sites[i].id <= FA_SITE_MAX) site_defined[m.sites.sites[i].id] = true;
            break;
        case FA_PROTO_TAGS:
            cr_assert_gt(s.hellos, 0);
            s.tags_msgs++;
            for (uint32_t i = 0; i < m.tags.tag_count; i++)
                defined[m.tags.tags[i].id] = true;
            break;
        case FA_PROTO_FRAME:
            cr_assert_gt(s.hellos, 0, "a HELLO comes first");
            if (s.frames) {
                cr_assert_eq(m.frame.frame - s.last_frame - 1, m.frame.frames_dropped,
                             "frames_dropped says exactly which frames are missing");
            } else {
                s.first_frame = m.frame.frame;
            }
            s.dropped_sum += m.frame.frames_dropped;
            s.last_frame = m.frame.frame;
            s.frames++;
            for (uint32_t i = 0; i < m.frame.tag_count; i++)
                if (!defined[m.frame.tags[i].id]) s.tag_seen_before_defined = true;
            s.site_rows += m.frame.site_count;
            for (uint32_t i = 0; i < m.frame.site_count; i++) {
                uint32_t id = m.frame.sites[i].site_id;
                if (id && (id > FA_SITE_MAX || !site_defined[id])) s.site_seen_before_defined = true;
            }
            break;
        case FA_PROTO_BYE:
            s.byes++;
            s.bye_frames_sent = m.bye.frames_sent;
            s.bye_dropped = m.bye.frames_dropped;
            break;
        }
    }
    s.truncated = r.truncated_bytes;
    free(data);
    return s;
}

/* Runs frames at a pace the sender keeps up with (no ring drops). */
static void run_frames(t_game_t *g, fa_agent_t *agent, uint64_t from, uint64_t n) {
    for (uint64_t i = from; i < from + n; i++) {
        if (i == 1000) fa_budget_set(g->fa, "sys3", 1000, 1 << 20);
        t_game_frame(g, i);
        fa_agent_stats_t st;
        for (int k = 0; k < 2000; k++) {
            fa_agent_stats(agent, &st);
            if (st.ring_used < st.ring_capacity / 2) break;
            t_sleep_us(100);
        }
    }
}

Test(capture, file_url_writes_a_complete_session_and_streams_nothing) {
    char path[128], url[160];
    t_file_url(path, url, "fileurl", "file:");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 16);
    fa_agent_t *agent = NULL;
    t_log_t log = {0};
    fa_agent_desc_t desc = {
        .url = url, .build_id = "b1", .unreachable_ms = 20, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_str_eq(fa_agent_desc_effective(agent).capture_path, path);
    run_frames(&g, agent, 0, 100);
    t_sleep_us(50000);
    fa_budget_set(fa, "sys1", 1000, 1 << 20); /* a TAGS */
    (void)fa_tag_find(fa, "late/tag", true);   /* another */
    run_frames(&g, agent, 100, 200);
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_game_fini(&g);
    fa_destroy(fa);

    summary_t s = read_capture(path);
    cr_assert_eq(s.hellos, 1);
    cr_assert_geq(s.tags_msgs, 1);
    cr_assert_eq(s.frames, 300);
    cr_assert_eq(s.last_frame - s.first_frame, 299);
    cr_assert_eq(s.byes, 1);
    cr_assert_eq(s.bye_frames_sent, 300);
    cr_assert_eq(s.bye_dropped, 0);
    cr_assert_not(s.tag_seen_before_defined, "TAGS precede the frames that use new tags");
    cr_assert_geq(s.sites_msgs, 1, "the capture holds the call sites");
    cr_assert_geq(s.site_rows, 300 * 2);
    cr_assert_not(s.site_seen_before_defined, "SITES precede the frames that use new sites");
    cr_assert_eq(s.truncated, 0);
    cr_assert_eq(st.frames_captured, 300);
    cr_assert_eq(st.frames_seen, st.frames_captured + st.capture_dropped);
    cr_assert_eq(st.frames_sent, 0);
    cr_assert_eq(st.dropped_disconnected, 0, "no daemon to miss frames in a capture-only agent");
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_UNREACHABLE]), 0, "no daemon to be unreachable");
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, st.capture_bytes);
    unlink(path);
}

Test(capture, the_environment_file_url_captures_without_a_code_change) {
    char path[128], url[160];
    t_file_url(path, url, "env", "file://");
    setenv(FA_AGENT_URL_ENV, url, 1);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 4);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, NULL, &agent), FA_OK);
    run_frames(&g, agent, 0, 20);
    cr_assert_eq(fa_agent_stop(agent, NULL), FA_OK);
    unsetenv(FA_AGENT_URL_ENV);
    t_game_fini(&g);
    fa_destroy(fa);
    summary_t s = read_capture(path);
    cr_assert_eq(s.frames, 20);
    cr_assert_eq(s.byes, 1);
    unlink(path);
}

Test(capture, beside_the_stream_it_holds_every_frame_even_those_the_daemon_missed) {
    char path[128], url[128];
    t_capture_path(path, sizeof path, "beside");
    t_url(url, sizeof url, "capture-beside");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .capture_path = path, .reconnect_max_ms = 50},
                                &agent),
                 FA_OK);
    run_frames(&g, agent, 0, 50); /* no daemon yet */
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_agent_stats_t st;
    uint64_t i = 50, frames_held = 0;
    /* Until the daemon holds 30 frames (not until the agent has sent 30:
     * sent frames can still be in flight when the agent stops and the test
     * daemon drains its socket, as they were once under load). */
    for (uint64_t deadline = t_now_ns() + 20000000000u, seen = 0; t_now_ns() < deadline; i++) {
        run_frames(&g, agent, i, 1);
        for (size_t k = seen, n = t_daemon_count(&d); k < n; k++, seen++)
            if (t_type(&d, k) == FA_PROTO_FRAME && ++frames_held >= 30) break;
        if (frames_held >= 30) break;
    }
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    t_daemon_close(&d);
    t_game_fini(&g);
    fa_destroy(fa);

    summary_t s = read_capture(path);
    cr_assert_eq(s.frames, i + 1, "every frame is in the capture");
    cr_assert_eq(st.frames_captured, i + 1);
    cr_assert_geq(st.dropped_disconnected, 50, "the daemon missed the first 50");
    cr_assert_eq(st.frames_seen, st.frames_sent + st.frames_dropped);
    /* The frames the daemon got are the capture's, figure for figure. */
    size_t n = t_daemon_count(&d), compared = 0;
    size_t len;
    unsigned char *data = slurp(path, &len);
    for (size_t k = 0; k < n; k++) {
        t_raw_t raw = t_daemon_msg(&d, k);
        if (t_type(&d, k) != FA_PROTO_FRAME) continue;
        fa_proto_header_t h;
        cr_assert_eq(fa_proto_decode_header(raw.data, raw.len, &h), 0);
        /* Find the same frame in the capture: equal bytes but for seq and
         * frames_dropped (each sink numbers its own). */
        fa_capture_reader_t r;
        cr_assert_eq(fa_capture_reader_init(&r, data, len), 0);
        fa_proto_msg_t m;
        fa_proto_storage_t st2 = fa_proto_storage_of(t_space);
        uint64_t frame_no = 0;
        memcpy(&frame_no, raw.data + FA_PROTO_HEADER_SIZE, 8);
        bool found = false;
        while (fa_capture_next(&r, &m, &st2) == 1) {
            if (m.header.type != FA_PROTO_FRAME || m.frame.frame != frame_no) continue;
            const unsigned char *c = data + r.message_offset;
            cr_assert_eq(raw.len, FA_PROTO_HEADER_SIZE + m.header.body_len);
            cr_assert_arr_eq(raw.data + 28, c + 28, 24, "frame number, start, duration");
            cr_assert_arr_eq(raw.data + 28 + 28, c + 28 + 28, raw.len - 56, "the rest of the body");
            found = true;
            break;
        }
        cr_assert(found, "frame %llu not in the capture", (unsigned long long)frame_no);
        compared++;
    }
    cr_assert_geq(compared, 30);
    free(data);
    t_daemon_free(&d);
    unlink(path);
}

Test(capture, bad_capture_settings_are_refused_and_leave_nothing_behind) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = (fa_agent_t *)0x1;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = "file:"}, &agent), FA_ERR_INVALID_ARG);
    cr_assert_eq(
        fa_agent_start(fa, &(fa_agent_desc_t){.url = "file:/tmp/a.facap", .capture_path = "/tmp/b.facap"}, &agent),
        FA_ERR_INVALID_ARG);
    t_log_t log = {0};
    cr_assert_eq(fa_agent_start(fa,
                                &(fa_agent_desc_t){.url = "file:/nonexistent-dir/x/run.facap",
                                                   .log_cb = t_log_cb,
                                                   .log_user = &log},
                                &agent),
                 FA_ERR_SYSTEM);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_CAPTURE_FAILED]), 1);
    cr_assert_eq(agent, (fa_agent_t *)0x1, "untouched on failure");
    /* All 8 hooks still free: nothing was left registered. */
    cr_assert_str_eq(fa_agent_log_name(FA_AGENT_LOG_CAPTURE_FAILED), "FA_AGENT_LOG_CAPTURE_FAILED");
    fa_destroy(fa);
}

/* The child of the crash test: captures, then dies without stopping. */
static void crash_child(const char *path, int frames) {
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 32);
    fa_agent_t *agent = NULL;
    char url[160];
    snprintf(url, sizeof url, "file:%s", path);
    if (fa_agent_start(fa, &(fa_agent_desc_t){.url = url}, &agent) != FA_OK) _exit(3);
    for (int i = 0; i < frames; i++) {
        t_game_frame(&g, (uint64_t)i);
        t_sleep_us(200);
    }
    raise(SIGKILL);
}

Test(capture, a_game_killed_mid_run_leaves_a_capture_that_reads_to_its_last_whole_message) {
    char path[128];
    t_capture_path(path, sizeof path, "crash");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) crash_child(path, 400);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    summary_t s = read_capture(path);
    cr_assert_eq(s.hellos, 1);
    cr_assert_gt(s.frames, 100, "the frames written before the kill are there");
    cr_assert_eq(s.byes, 0);
    unlink(path);
}

/* The child of the disk-full test: a file size limit stands for a full
 * disk (writes past it fail with EFBIG, the short one included). */
static void full_child(const char *path) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {.rlim_cur = 48 * 1024, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(4);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 32);
    fa_agent_t *agent = NULL;
    t_log_t log = {0};
    char url[160];
    snprintf(url, sizeof url, "file:%s", path);
    if (fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .log_cb = t_log_cb, .log_user = &log}, &agent) != FA_OK)
        _exit(3);
    run_frames(&g, agent, 0, 200);
    fa_agent_stats_t st;
    int rc = fa_agent_stop(agent, &st);
    /* Exit codes say what went wrong, for the parent's message. */
    /* Frames lost to failed writes are counted, as send failures are; the
     * BYE itself is small and may still fit. */
    if (rc != FA_OK && rc != FA_ERR_TIMEOUT) {
        fprintf(stderr, "stop: %s, captured %llu, dropped %llu, errors %llu, bytes %llu\n", fa_err_name(rc),
                (unsigned long long)st.frames_captured, (unsigned long long)st.capture_dropped,
                (unsigned long long)st.capture_write_errors, (unsigned long long)st.capture_bytes);
        _exit(10);
    }
    if (st.capture_write_errors == 0) _exit(11);
    if (st.frames_captured == 0 || st.capture_dropped == 0) _exit(12);
    if (st.frames_seen != st.frames_captured + st.capture_dropped) _exit(13);
    if (atomic_load(&log.count[FA_AGENT_LOG_CAPTURE_FAILED]) != 1) _exit(14); /* once per episode */
    _exit(0);
}

Test(capture, a_full_disk_leaves_only_whole_messages_and_counts_what_is_missing) {
    char path[128];
    t_capture_path(path, sizeof path, "full");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) full_child(path);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", WEXITSTATUS(status));
    summary_t s = read_capture(path);
    cr_assert_eq(s.truncated, 0, "cut back to the last whole message");
    cr_assert_gt(s.frames, 0);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_leq(sb.st_size, 48 * 1024);
    unlink(path);
}

Test(capture, capturing_makes_no_allocation_on_the_game_thread) {
    char path[128], url[160];
    t_file_url(path, url, "noalloc", "file:");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 64);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = url, .ring_slots = 16}, &agent), FA_OK);
    run_frames(&g, agent, 0, 50);
    syscount_start();
    run_frames(&g, agent, 50, 3000); /* a budget change at 1000 makes a TAGS */
    long calls = syscount_stop();
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_stop(agent, &st), FA_OK);
    cr_assert_eq(calls, 0, "allocation calls on the game thread: %ld", calls);
    cr_assert_gt(st.frames_captured, 1000);
    cr_assert_eq(st.frames_seen, st.frames_captured + st.capture_dropped);
    t_game_fini(&g);
    fa_destroy(fa);
    unlink(path);
}
