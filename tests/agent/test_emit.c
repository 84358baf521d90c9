/* The file emitter: JSON snapshots on request or periodically, valid JSON
 * whatever the tag names, written atomically, rate-limited, newest N kept. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <criterion/criterion.h>

#include "../../fa-agent/src/agent_internal.h"
#include "agent_test.h"

#include <errno.h>

#include <cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

static void make_dir(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "/tmp/fa-agent-test-%d-%s", (int)getpid(), name);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", out, out);
    cr_assert_eq(system(cmd), 0);
}

static void remove_dir(const char *dir) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void touch(const char *dir, const char *name) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
}

static bool exists(const char *dir, const char *name) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Snapshot file frame numbers in dir, sorted; other entries counted. */
static size_t list_snapshots(const char *dir, uint64_t *frames, size_t cap, size_t *others) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    size_t n = 0;
    *others = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned long long f;
        char tail[8];
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (sscanf(e->d_name, "snapshot_%llu%7s", &f, tail) == 2 && strcmp(tail, ".json") == 0) {
            if (n < cap) frames[n] = f;
            n++;
        } else {
            (*others)++;
        }
    }
    closedir(d);
    for (size_t i = 1; i < n && i < cap; i++)
        for (size_t j = i; j > 0 && frames[j - 1] > frames[j]; j--) {
            uint64_t t = frames[j];
            frames[j] = frames[j - 1];
            frames[j - 1] = t;
        }
    return n;
}

static cJSON *load_json(const char *dir, uint64_t frame) {
    char path[300];
    snprintf(path, sizeof path, "%s/snapshot_%llu.json", dir, (unsigned long long)frame);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    cr_assert_not_null(j, "invalid JSON in %s", path);
    return j;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return v->valuedouble;
}

static const cJSON *tag_by_path(const cJSON *root, const char *path) {
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(root, "tags")) {
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(t, "path");
        if (cJSON_IsString(p) && strcmp(p->valuestring, path) == 0) return t;
    }
    return NULL;
}

Test(emit, tag_names_with_quotes_backslashes_and_control_characters_give_valid_json) {
    /* lib refuses control characters in tag names, so this snapshot is
     * built by hand: the emitter must not rely on that. */
    static const char weird[] = "we\"ird\\tag\x01";
    fa_tag_row_t rows[2] = {
        {.id = 0, .parent_id = 0, .path = ""},
        {.id = 1,
         .parent_id = 0,
         .depth = 1,
         .path = weird,
         .live_bytes = 500,
         .peak_bytes = 900,
         .budget_soft = 100,
         .budget_hard = 1000,
         .self = {.frame_bytes = 500, .alloc_count = 3}},
    };
    fa_thread_row_t threads[1] = {
        {.index = 0, .frame_used = 500, .frame_capacity = 1 << 20, .in_frame = true}};
    fa_finding_t findings[1] = {{.code = 4, .tag_id = 1, .kind = FA_KIND_HEAP, .count = 7, .value = 4096}};
    fa_snapshot_t s = {.version = FA_SNAPSHOT_VERSION,
                       .frame = 77,
                       .frame_duration_ns = 16000000,
                       .rows = rows,
                       .rows_capacity = 2,
                       .row_count = 2,
                       .tag_count = 2,
                       .threads = threads,
                       .threads_capacity = 1,
                       .thread_count = 1,
                       .threads_total = 1,
                       .findings = findings,
                       .findings_capacity = 1,
                       .finding_count = 1,
                       .findings_total = 1,
                       .promotions = {.promoted_count = 2, .promoted_bytes = 128},
                       .transfers = {.created = 5, .in_flight = 1}};
    s.totals[FA_KIND_FRAME].in_use = 500;
    fa__agent_meta_t meta = {.session_id = 0xabcdef,
                             .pid = 42,
                             .app_name = "app\"\n",
                             .session_label = "",
                             .build_id = "b",
                             .host = "h"};
    char *json = fa__agent_json_render(&s, &meta, 1700000000123456789ull);
    cr_assert_not_null(json);
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "invalid JSON: %s", json);
    /* No raw control byte anywhere in the text. */
    for (const char *p = json; *p; p++)
        cr_assert_geq((unsigned char)*p, 0x20);
    const cJSON *t = tag_by_path(j, weird);
    cr_assert_not_null(t, "the tag's path did not round-trip: %s", json);
    cr_assert_eq(num(t, "live_bytes"), 500);
    const cJSON *budget = cJSON_GetObjectItemCaseSensitive(t, "budget");
    cr_assert_eq(num(budget, "hard"), 1000);
    cr_assert_eq(num(budget, "used_pct"), 50);
    cr_assert_str_eq(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "session"), "app")->valuestring,
        "app\"\n");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "timestamp")->valuestring,
                     "2023-11-14T22:13:20.123456789Z");
    cr_assert_eq(num(j, "frame"), 77);
    cr_assert_eq(num(j, "duration_ns"), 16000000);
    const cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "findings"), 0);
    cr_assert_eq(num(f, "code"), 4);
    cr_assert_eq(num(f, "value"), 4096);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(j, "promotions"), "promoted_bytes"), 128);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(j, "transfers"), "created"), 5);

    /* Written through a temporary file and a rename: only the final name. */
    char dir[128];
    make_dir(dir, sizeof dir, "json");
    cr_assert_eq(fa__agent_emit_file(dir, 77, json, 4), 0);
    uint64_t frames[8];
    size_t others;
    cr_assert_eq(list_snapshots(dir, frames, 8, &others), 1);
    cr_assert_eq(others, 0);
    cJSON *back = load_json(dir, 77);
    cr_assert_not_null(tag_by_path(back, weird));
    cJSON_Delete(back);
    cJSON_Delete(j);
    free(json);
    remove_dir(dir);
}

Test(emit, a_request_file_gives_one_snapshot_of_a_frame_and_is_removed) {
    char dir[128], url[128];
    make_dir(dir, sizeof dir, "request");
    t_url(url, sizeof url, "emit-request");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    g.heap_every = 1;
    const char *odd = "late/we\"ird\\tag";
    cr_assert_geq(fa_tag_find(fa, odd, true), 0);
    fa_budget_set(fa, "sys0", 1000, 1 << 20);
    t_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {
        .url = url, .emit_dir = dir, .emit_poll_ms = 5, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_eq(fa_agent_desc_effective(agent).emit_mode, FA_AGENT_EMIT_REQUEST);

    uint64_t i = 0;
    for (int k = 0; k < 50; k++, i++) {
        t_game_frame(&g, i);
        t_sleep_us(1000);
    }
    fa_agent_stats_t st;
    fa_agent_stats(agent, &st);
    cr_assert_eq(st.snapshots_written, 0); /* nothing without a request */

    touch(dir, FA_AGENT_REQUEST_FILE);
    for (uint64_t deadline = t_now_ns() + 3000000000u; t_now_ns() < deadline; i++) {
        fa_agent_stats(agent, &st);
        if (st.snapshots_written) break;
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, odd) {
            (void)!fa_frame_alloc(fa, 333, 8);
        }
        fa_end_frame(fa);
        t_sleep_us(1000);
    }
    /* A few more frames: no second file without a second request. */
    for (int k = 0; k < 30; k++, i++) {
        t_game_frame(&g, i);
        t_sleep_us(1000);
    }
    cr_assert_eq(fa_agent_stop(agent, &st), FA_ERR_TIMEOUT); /* no daemon: no BYE */
    cr_assert_eq(st.snapshots_written, 1);
    cr_assert_eq(st.snapshot_errors, 0);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_SNAPSHOT_WRITTEN]), 1);
    cr_assert(!exists(dir, FA_AGENT_REQUEST_FILE));

    uint64_t frames[8];
    size_t others;
    cr_assert_eq(list_snapshots(dir, frames, 8, &others), 1);
    cr_assert_eq(others, 0, "temporary files left behind");
    cJSON *j = load_json(dir, frames[0]);
    cr_assert_eq(num(j, "version"), 1);
    cr_assert_eq(num(j, "frame"), frames[0]);
    cr_assert_gt(num(j, "duration_ns"), 0);
    cr_assert_gt(num(j, "timestamp_unix_ns"), 1.6e18);
    cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "timestamp")));
    const cJSON *totals = cJSON_GetObjectItemCaseSensitive(j, "totals");
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(totals, "frame"), "in_use"), 333);
    cr_assert_gt(num(cJSON_GetObjectItemCaseSensitive(totals, "pool"), "in_use"), 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "tags")), (int)fa_tag_count(fa));
    cr_assert_eq(num(j, "tags_total"), fa_tag_count(fa));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "threads")), 1);
    const cJSON *t = tag_by_path(j, odd);
    cr_assert_not_null(t);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(t, "self"), "frame_bytes"), 333);
    const cJSON *sys0 = tag_by_path(j, "sys0");
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(sys0, "budget"), "soft"), 1000);
    cr_assert_eq(num(cJSON_GetObjectItemCaseSensitive(sys0, "budget"), "hard"), 1 << 20);
    cr_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "promotions")));
    cr_assert(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "transfers")));
    cr_assert(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "findings")));
    cr_assert_str_eq(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "session"), "app")->valuestring,
        program_invocation_short_name);
    cJSON_Delete(j);
    t_game_fini(&g);
    fa_destroy(fa);
    remove_dir(dir);
}

typedef struct written {
    pthread_mutex_t lock;
    uint64_t frames[256];
    int count;
} written_t;

static void record_written(const fa_agent_log_event_t *ev, void *user) {
    written_t *w = user;
    if (ev->id != FA_AGENT_LOG_SNAPSHOT_WRITTEN) return;
    pthread_mutex_lock(&w->lock);
    if (w->count < 256) w->frames[w->count++] = ev->value;
    pthread_mutex_unlock(&w->lock);
}

Test(emit, auto_mode_writes_periodically_and_keeps_only_the_newest_files) {
    char dir[128], url[128];
    make_dir(dir, sizeof dir, "auto");
    t_url(url, sizeof url, "emit-auto");
    /* Older snapshot files of another run and an unrelated file. */
    touch(dir, "snapshot_1.json");
    touch(dir, "notes.txt");
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 8);
    written_t w = {.lock = PTHREAD_MUTEX_INITIALIZER};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url,
                            .emit_dir = dir,
                            .emit_mode = FA_AGENT_EMIT_AUTO,
                            .emit_keep = 3,
                            .emit_interval_ms = 20,
                            .emit_poll_ms = 2,
                            .log_cb = record_written,
                            .log_user = &w};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    uint64_t t0 = t_now_ns();
    uint64_t i = 0;
    while (t_now_ns() - t0 < 400000000u) {
        t_game_frame(&g, i++);
        t_sleep_us(1000);
    }
    fa_agent_stats_t st;
    fa_agent_stop(agent, &st);
    /* 400 ms at one file per 20 ms at most. */
    cr_assert_geq(st.snapshots_written, 5);
    cr_assert_leq(st.snapshots_written, 21);
    cr_assert_eq((uint64_t)w.count, st.snapshots_written);
    uint64_t frames[8];
    size_t others;
    cr_assert_eq(list_snapshots(dir, frames, 8, &others), 3);
    cr_assert_eq(others, 1); /* notes.txt */
    for (int k = 0; k < 3; k++)
        cr_assert_eq(frames[k], w.frames[w.count - 3 + k]);
    t_game_fini(&g);
    fa_destroy(fa);
    remove_dir(dir);
}

Test(emit, requests_are_rate_limited_and_served_by_the_api_too) {
    char dir[128], url[128];
    make_dir(dir, sizeof dir, "rate");
    t_url(url, sizeof url, "emit-rate");
    fa_alloc_t *fa = fa_create(NULL);
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {.url = url, .emit_dir = dir, .emit_interval_ms = 300, .emit_poll_ms = 2};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    fa_agent_stats_t st;
    cr_assert_eq(fa_agent_request_snapshot(agent), FA_OK);
    uint64_t t0 = t_now_ns(), first = 0;
    while (t_now_ns() - t0 < 2000000000u) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
        fa_agent_stats(agent, &st);
        if (st.snapshots_written == 1 && !first) {
            first = t_now_ns();
            touch(dir, FA_AGENT_REQUEST_FILE); /* at once: too early */
        }
        if (st.snapshots_written == 2) break;
        t_sleep_us(1000);
    }
    uint64_t second = t_now_ns();
    fa_agent_stop(agent, &st);
    cr_assert_eq(st.snapshots_written, 2);
    cr_assert_geq(second - first, 250000000u, "second file after %llu ms",
                  (unsigned long long)((second - first) / 1000000u));
    cr_assert(!exists(dir, FA_AGENT_REQUEST_FILE));
    fa_destroy(fa);
    remove_dir(dir);
}

Test(emit, a_directory_that_cannot_be_written_is_counted_and_logged_not_fatal) {
    char dir[160], url[128];
    snprintf(dir, sizeof dir, "/tmp/fa-agent-test-%d-missing/parent/dir", (int)getpid());
    t_url(url, sizeof url, "emit-missing");
    fa_alloc_t *fa = fa_create(NULL);
    t_log_t log = {0};
    fa_agent_t *agent = NULL;
    fa_agent_desc_t desc = {
        .url = url, .emit_dir = dir, .emit_poll_ms = 2, .log_cb = t_log_cb, .log_user = &log};
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_eq(fa_agent_request_snapshot(agent), FA_OK);
    fa_agent_stats_t st;
    for (uint64_t deadline = t_now_ns() + 2000000000u; t_now_ns() < deadline;) {
        fa_begin_frame(fa);
        fa_end_frame(fa);
        fa_agent_stats(agent, &st);
        if (st.snapshot_errors) break;
        t_sleep_us(1000);
    }
    fa_agent_stop(agent, &st);
    cr_assert_eq(st.snapshot_errors, 1);
    cr_assert_eq(st.snapshots_written, 0);
    cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_SNAPSHOT_FAILED]), 1);
    fa_destroy(fa);
}
