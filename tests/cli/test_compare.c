/* compare and baselines: a run's figures from a capture (percentiles,
 * subtree means, tags that appear late), the thresholds rule and file, the
 * order of the rows, baselines that read back equal and write the same
 * bytes, and the reports' escaping. Captures are written with the real
 * encoder (synth.c). */
#include <criterion/criterion.h>

#include "baseline.h"
#include "report.h"
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *paths[] = {"", "physics", "physics/contacts", "render", "late"};
static const uint16_t parents[] = {0, 0, 1, 0, 0};

static char tmp_path[64];
static const char *tmp_capture(const char *name) {
    snprintf(tmp_path, sizeof tmp_path, "/tmp/fa-cli-test-%d-%s.facap", (int)getpid(), name);
    return tmp_path;
}

/* A run of `frames` frames: contacts live = contacts(i), physics itself
 * 1000, render 5000; render allocates 2 per frame and 100 frame bytes;
 * contacts 3 allocs, 40 frame bytes. "late" (id 4) appears at frame 50. */
typedef uint64_t (*series_fn)(uint64_t i);
static void write_run_batched(const char *path, uint64_t frames, series_fn contacts, bool bye,
                              uint32_t batch) {
    synth_t s;
    cr_assert_eq(synth_open(&s, path, "game", "b1", 4, paths, parents), 0);
    s.batch = batch;
    for (uint64_t i = 0; i < frames; i++) {
        if (i == 50) cr_assert_eq(synth_tags(&s, 4, 1, paths, parents), 0);
        uint64_t c = contacts(i);
        fa_proto_tag_stat_t rows[5] = {
            {.id = 0, .live_bytes = 6000 + c},
            {.id = 1, .live_bytes = 1000 + c, .pool_bytes = 1000},
            {.id = 2, .live_bytes = c, .frame_bytes = 40, .alloc_count = 3, .peak_bytes = c},
            {.id = 3, .live_bytes = 5000, .frame_bytes = 100, .alloc_count = 2},
            {.id = 4, .live_bytes = 700},
        };
        cr_assert_eq(synth_frame(&s, i + 1, rows, i >= 50 ? 5 : 4), 0);
    }
    cr_assert_eq(synth_close(&s, bye), 0);
}

static void write_run(const char *path, uint64_t frames, series_fn contacts, bool bye) {
    write_run_batched(path, frames, contacts, bye, 0);
}

static uint64_t ramp(uint64_t i) {
    return i; /* 0..frames-1 */
}
static uint64_t ramp_big(uint64_t i) {
    return 1000000 + i * 1000;
}
static uint64_t constant_300k(uint64_t i) {
    (void)i;
    return 300000;
}

static FILE *errs;
static char *errs_text;
static size_t errs_len;
static void close_errs(void) {
    if (errs) fclose(errs);
    free(errs_text);
    errs = NULL;
    errs_text = NULL;
}
static cli_t test_cli(const char *command) {
    close_errs();
    errs = open_memstream(&errs_text, &errs_len);
    return (cli_t){.command = command, .err = errs};
}
TestSuite(summary, .fini = close_errs);
TestSuite(compare, .fini = close_errs);

static summary_t summarise(const char *path) {
    cli_t cli = test_cli("compare");
    summary_t s;
    int rc = summary_of_run(&cli, path, &s);
    fflush(errs);
    cr_assert_eq(rc, 0, "summary of %s: %d: %s", path, rc, errs_text);
    return s;
}

/* s written as a baseline (the text in *text, to free) and read back. */
static summary_t round_trip(const summary_t *s, char **text) {
    size_t len = 0;
    FILE *f = open_memstream(text, &len);
    summary_write_baseline(f, s);
    fclose(f);
    summary_t back;
    char err[256];
    cr_assert_eq(summary_read_baseline(*text, len, &back, err, sizeof err), 0, "%s", err);
    return back;
}

static const summary_row_t *row(const summary_t *s, const char *key) {
    const summary_row_t *r = summary_find(s, SUMMARY_TAG, key);
    cr_assert(r, "no row '%s'", key);
    return r;
}

Test(summary, percentiles_are_exact_for_small_values_and_the_nearest_rank) {
    const char *p = tmp_capture("small");
    write_run(p, 200, ramp, true);
    summary_t s = summarise(p);
    const summary_row_t *c = row(&s, "physics/contacts");
    /* 0..199 (exact below 256): nearest rank of 200 values. */
    cr_assert_eq(c->v[M_P50], 99);
    cr_assert_eq(c->v[M_P95], 189);
    cr_assert_eq(c->v[M_P99], 197);
    cr_assert_eq(c->v[M_PEAK], 199);
    cr_assert_eq(s.info.frames, 200);
    cr_assert(s.info.ended);
    cr_assert_str_eq(s.info.app, "game");
    cr_assert_str_eq(s.info.build, "b1");
    summary_free(&s);
    unlink(p);
}

/* 1.2: a capture whose frames are FRAMES with tag rows as deltas (another
 * writer's; the agent writes FRAMEs) summarises as the same frames one
 * FRAME each, and a delta whose base is not in the file is a lost frame. */
Test(summary, a_capture_of_batched_delta_frames_summarises_as_its_single_frames) {
    char one[80], batched[80];
    snprintf(one, sizeof one, "/tmp/fa-cli-test-%d-one.facap", (int)getpid());
    snprintf(batched, sizeof batched, "/tmp/fa-cli-test-%d-batched.facap", (int)getpid());
    write_run(one, 200, ramp, true);
    write_run_batched(batched, 200, ramp, true, 7);
    summary_t a = summarise(one), b = summarise(batched);
    cr_assert_eq(b.info.frames, 200);
    cr_assert_eq(b.info.frames_dropped, 0);
    const char *keys[] = {"", "physics", "physics/contacts", "render", "late"};
    for (int k = 0; k < 5; k++)
        for (int v = 0; v < M_COUNT; v++)
            cr_assert_eq(row(&a, keys[k])->v[v], row(&b, keys[k])->v[v], "%s metric %d", keys[k], v);
    summary_free(&a);
    summary_free(&b);
    unlink(one);
    unlink(batched);
}

Test(summary, large_values_are_within_half_a_percent_and_a_constant_is_exact) {
    const char *p = tmp_capture("big");
    write_run(p, 1000, ramp_big, true);
    summary_t s = summarise(p);
    const summary_row_t *c = row(&s, "physics/contacts");
    double want50 = 1000000 + 499 * 1000, want99 = 1000000 + 989 * 1000;
    cr_assert_leq(fabs(c->v[M_P50] - want50) / want50, 0.004, "p50 %.0f", c->v[M_P50]);
    cr_assert_leq(fabs(c->v[M_P99] - want99) / want99, 0.004, "p99 %.0f", c->v[M_P99]);
    cr_assert_eq(row(&s, "render")->v[M_P50], 5000, "a constant is exact");
    cr_assert_eq(row(&s, "render")->v[M_P99], 5000);
    summary_free(&s);
    unlink(p);
}

Test(summary, means_include_descendants_and_late_tags_count_zero_before_they_exist) {
    const char *p = tmp_capture("means");
    write_run(p, 100, ramp, true);
    summary_t s = summarise(p);
    cr_assert_eq(row(&s, "physics/contacts")->v[M_FRAME_BYTES], 40);
    cr_assert_eq(row(&s, "physics")->v[M_FRAME_BYTES], 40, "physics' own 0 plus its child's 40");
    cr_assert_eq(row(&s, "physics")->v[M_ALLOCS], 3);
    cr_assert_eq(row(&s, "")->v[M_FRAME_BYTES], 140, "the root holds everything");
    cr_assert_eq(row(&s, "")->v[M_ALLOCS], 5);
    /* "late" exists for 50 of 100 frames: half its samples are 0. */
    cr_assert_eq(row(&s, "late")->v[M_P50], 0);
    cr_assert_eq(row(&s, "late")->v[M_P95], 700);
    summary_free(&s);
    unlink(p);
}

Test(summary, a_capture_cut_off_mid_message_reads_to_its_last_frame_with_a_note) {
    const char *p = tmp_capture("cut");
    write_run(p, 100, ramp, false);
    FILE *f = fopen(p, "r+b");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(p, len - 10), 0);
    summary_t s = summarise(p);
    cr_assert_eq(s.info.frames, 99);
    cr_assert_not(s.info.ended);
    cr_assert(strstr(errs_text, "cut off"), "%s", errs_text);
    summary_free(&s);
    unlink(p);
}

Test(summary, a_capture_cut_at_every_byte_of_its_last_message_reads_without_error) {
    const char *p = tmp_capture("everycut");
    write_run(p, 20, ramp, false); /* no BYE: the last message is frame 20 */
    FILE *f = fopen(p, "rb");
    static unsigned char data[1 << 16];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    size_t last = len - FA_PROTO_FRAME_SIZE(4, 0, 0, 0); /* 4 tags before frame 50 */
    char cut_path[80];
    snprintf(cut_path, sizeof cut_path, "%s.cut", p);
    for (size_t cut = last; cut <= len; cut++) {
        f = fopen(cut_path, "wb");
        fwrite(data, 1, cut, f);
        fclose(f);
        cli_t cli = test_cli("compare");
        summary_t s;
        cr_assert_eq(summary_of_run(&cli, cut_path, &s), 0, "cut at %zu of %zu", cut, len);
        cr_assert_eq(s.info.frames, cut == len ? 20 : 19, "cut at %zu", cut);
        cr_assert_eq(s.info.truncated_bytes, cut == len ? 0 : cut - last);
        summary_free(&s);
    }
    unlink(cut_path);
    unlink(p);
}

Test(summary, inputs_that_are_not_captures_are_refused_by_name) {
    cli_t cli = test_cli("compare");
    summary_t s;
    const char *p = tmp_capture("notcap");
    FILE *f = fopen(p, "w");
    fputs("{\"format\": \"framealloc-baseline\"}\n", f);
    fclose(f);
    cr_assert_eq(summary_of_run(&cli, p, &s), CLI_EXIT_USAGE);
    cr_assert_eq(summary_of_run(&cli, "/nonexistent/run.facap", &s), CLI_EXIT_USAGE);
    cr_assert_eq(summary_of_run(&cli, "file:/nonexistent/x", &s), CLI_EXIT_USAGE);
    fflush(errs);
    cr_assert(strstr(errs_text, "is not a framealloc capture file"), "%s", errs_text);
    cr_assert(strstr(errs_text, "no capture file '/nonexistent/run.facap'"), "%s", errs_text);
    unlink(p);
}

/* A hand-made summary with one tag row. */
static summary_t one_row(const char *tag, double p50, double allocs) {
    summary_t s = {0};
    s.rows = calloc(1, sizeof *s.rows);
    s.count = 1;
    s.rows[0].key = strdup(tag);
    s.rows[0].tag = strdup(tag);
    for (int m = 0; m < M_COUNT; m++)
        s.rows[0].v[m] = p50;
    s.rows[0].v[M_ALLOCS] = allocs;
    return s;
}

static compare_rules_t *rules_of(const char *json) {
    const char *p = tmp_capture("rules");
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
    compare_rules_t *r = NULL;
    char err[512];
    compare_limits_t none = {0};
    int rc = compare_rules_load(p, &none, false, false, false, &r, err, sizeof err);
    unlink(p);
    cr_assert_eq(rc, 0, "%s", err);
    return r;
}

static size_t failures(double base, double cand, const compare_rules_t *rules, const char *tag) {
    summary_t b = one_row(tag, base, 1), c = one_row(tag, cand, 1);
    compare_result_t r;
    cr_assert_eq(compare_run(&b, &c, rules, &r), 0);
    size_t n = r.failed;
    compare_result_free(&r);
    summary_free(&b);
    summary_free(&c);
    return n;
}

Test(compare, a_change_fails_only_when_it_exceeds_both_the_percentage_and_the_bytes) {
    /* Defaults: 10 % and 64 KiB. */
    cr_assert_eq(failures(1000, 3000, NULL, "t"), 0, "+200 % but only 2000 bytes");
    cr_assert_eq(failures(10 << 20, (10 << 20) + 100000, NULL, "t"), 0, "+100 KB but under 1 %");
    cr_assert_eq(failures(1 << 20, 2 << 20, NULL, "t"), 1, "+100 % and +1 MiB");
    cr_assert_eq(failures(2 << 20, 1 << 20, NULL, "t"), 0, "shrinking never fails");
    cr_assert_eq(failures(0, 100000, NULL, "t"), 1, "from nothing: the bytes decide");
    cr_assert_eq(failures(0, 1000, NULL, "t"), 0);
}

Test(compare, allocations_per_frame_have_their_own_floor) {
    summary_t b = one_row("t", 0, 2.0), c = one_row("t", 0, 2.5);
    compare_result_t r;
    cr_assert_eq(compare_run(&b, &c, NULL, &r), 0);
    cr_assert_eq(r.failed, 0, "+25 %% but only 0.5 per frame");
    compare_result_free(&r);
    c.rows[0].v[M_ALLOCS] = 4.0;
    cr_assert_eq(compare_run(&b, &c, NULL, &r), 0);
    cr_assert_eq(r.failed, 1);
    cr_assert(r.rows[0].m[M_ALLOCS].failed);
    compare_result_free(&r);
    summary_free(&b);
    summary_free(&c);
}

Test(compare, the_most_specific_threshold_entry_wins_and_fills_in_from_the_global) {
    compare_rules_t *r = rules_of("{\"max_growth_pct\": 50, \"min_bytes\": \"1KiB\", \"tags\": {"
                                  "\"physics\": {\"max_growth_pct\": 5},"
                                  "\"physics/*\": {\"min_bytes\": 10},"
                                  "\"physics/contacts/*\": {\"ignore\": true},"
                                  "\"*\": {\"min_bytes\": \"1MiB\"}}}");
    compare_limits_t l = compare_rules_for(r, "physics");
    cr_assert_eq(l.max_growth_pct, 5);
    cr_assert_eq(l.min_bytes, 1024, "from the top level");
    l = compare_rules_for(r, "physics/contacts");
    cr_assert_eq(l.min_bytes, 10);
    cr_assert_eq(l.max_growth_pct, 50);
    cr_assert(compare_rules_for(r, "physics/contacts/deep").ignore);
    cr_assert_eq(compare_rules_for(r, "render").min_bytes, 1 << 20);
    cr_assert_eq(failures(1000, 2000, r, "physics/contacts/deep"), 0, "ignored");
    cr_assert_eq(failures(1000, 2000, r, "physics/contacts"), 1);
    compare_rules_free(r);
}

Test(compare, command_line_flags_replace_the_files_global_thresholds) {
    const char *p = tmp_capture("flags");
    FILE *f = fopen(p, "w");
    fputs("{\"max_growth_pct\": 50}", f);
    fclose(f);
    compare_rules_t *r = NULL;
    char err[256];
    compare_limits_t flags = {.max_growth_pct = 1};
    cr_assert_eq(compare_rules_load(p, &flags, true, false, false, &r, err, sizeof err), 0);
    cr_assert_eq(compare_rules_global(r).max_growth_pct, 1);
    cr_assert_eq(compare_rules_global(r).min_bytes, 65536);
    compare_rules_free(r);
    unlink(p);
}

Test(compare, a_bad_thresholds_file_is_refused_naming_the_entry_and_field) {
    const char *cases[][2] = {
        {"{\"max_growth\": 5}", "unknown field \"max_growth\""},
        {"{\"tags\": {\"physics\": {\"min_bytes\": \"lots\"}}}", "tags.\"physics\": \"min_bytes\" has a bad value"},
        {"{\"tags\": {\"physics\": 5}}", "tags.\"physics\" must be an object"},
        {"[1]", "is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = tmp_capture("badrules");
        FILE *f = fopen(p, "w");
        fputs(cases[i][0], f);
        fclose(f);
        compare_rules_t *r = NULL;
        char err[512] = "";
        compare_limits_t none = {0};
        cr_assert_eq(compare_rules_load(p, &none, false, false, false, &r, err, sizeof err), -1, "%s", cases[i][0]);
        cr_assert(strstr(err, cases[i][1]), "'%s' gave '%s'", cases[i][0], err);
        cr_assert_null(r);
        unlink(p);
    }
}

Test(compare, rows_come_regressions_first_then_by_growth) {
    const char *a = tmp_capture("order-a");
    write_run(a, 100, ramp, true);
    char b[64];
    snprintf(b, sizeof b, "%s", tmp_capture("order-b"));
    write_run(b, 100, constant_300k, true);
    a = tmp_capture("order-a");
    summary_t sa = summarise(a), sb = summarise(b);
    compare_result_t r;
    cr_assert_eq(compare_run(&sa, &sb, NULL, &r), 0);
    /* contacts, physics and the root grew by ~300 KB: regressions. */
    cr_assert_eq(r.failed, 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert(r.rows[i].failed);
    for (size_t i = 4; i < r.count; i++)
        cr_assert_geq(r.rows[i - 1].growth, r.rows[i].growth);
    cli_t cli = test_cli("compare");
    cr_assert_eq(compare_verdict(&cli, &r), CLI_EXIT_REGRESSION);
    fflush(errs);
    cr_assert(strstr(errs_text, "3 regressions:"), "%s", errs_text);
    cr_assert(strstr(errs_text, "physics/contacts"), "%s", errs_text);
    compare_result_free(&r);
    cr_assert_eq(compare_run(&sa, &sa, NULL, &r), 0);
    cr_assert_eq(r.failed, 0, "a run against itself");
    cr_assert_eq(compare_verdict(&cli, &r), CLI_EXIT_OK);
    compare_result_free(&r);
    summary_free(&sa);
    summary_free(&sb);
    unlink(a);
    unlink(b);
}

Test(baseline, a_saved_baseline_reads_back_equal_and_saves_to_the_same_bytes) {
    const char *p = tmp_capture("base");
    write_run(p, 300, ramp_big, true);
    summary_t s = summarise(p);
    char *text = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    FILE *f = open_memstream(&text, &len);
    summary_write_baseline(f, &s);
    fclose(f);
    summary_t back;
    char err[256];
    cr_assert_eq(summary_read_baseline(text, len, &back, err, sizeof err), 0, "%s", err);
    compare_result_t r;
    cr_assert_eq(compare_run(&back, &s, NULL, &r), 0);
    for (size_t i = 0; i < r.count; i++)
        for (int m = 0; m < M_COUNT; m++)
            cr_assert_eq(r.rows[i].m[m].change, 0, "%s %s", r.rows[i].key, summary_metric_name(m));
    compare_result_free(&r);
    f = open_memstream(&again, &len2);
    summary_write_baseline(f, &back);
    fclose(f);
    back.info = s.info;
    cr_assert_str_eq(again, text, "stable bytes");
    /* One row per line, the root first. */
    cr_assert(strstr(text, "\n    {\"tag\": \"\", \"peak\": "), "%s", text);
    summary_free(&s);
    summary_free(&back);
    free(text);
    free(again);
    unlink(p);
}

Test(baseline, a_file_that_is_not_a_baseline_is_refused_with_the_reason) {
    summary_t s;
    char err[256];
    cr_assert_eq(summary_read_baseline("{", 1, &s, err, sizeof err), -1);
    cr_assert(strstr(err, "not JSON"));
    const char *wrong = "{\"format\": \"framealloc-baseline\", \"version\": 9, \"rows\": []}";
    cr_assert_eq(summary_read_baseline(wrong, strlen(wrong), &s, err, sizeof err), -1);
    cr_assert(strstr(err, "version 9"), "%s", err);
    const char *dup = "{\"format\": \"framealloc-baseline\", \"version\": 1, \"rows\": [{\"tag\": \"a\"}, {\"tag\": \"a\"}]}";
    cr_assert_eq(summary_read_baseline(dup, strlen(dup), &s, err, sizeof err), -1);
    cr_assert(strstr(err, "appears twice"), "%s", err);
}

Test(reports, junit_and_markdown_escape_what_they_print) {
    summary_t b = one_row("a<b>&\"c'|`", 1 << 20, 1), c = one_row("a<b>&\"c'|`", 4 << 20, 1);
    compare_result_t r;
    cr_assert_eq(compare_run(&b, &c, NULL, &r), 0);
    cli_t cli = {.command = "compare", .err = stderr};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    compare_print(&cli, f, CF_JUNIT, &r);
    fclose(f);
    cr_assert(strstr(text, "name=\"a&lt;b&gt;&amp;&quot;c&apos;|`\""), "%s", text);
    cr_assert(strstr(text, "<failure type=\"memory-regression\""), "%s", text);
    cr_assert(strstr(text, "tests=\"1\" failures=\"1\""), "%s", text);
    free(text);
    f = open_memstream(&text, &len);
    compare_print(&cli, f, CF_MARKDOWN, &r);
    fclose(f);
    cr_assert(strstr(text, "| `a<b>&\"c'''` |"), "%s", text);
    cr_assert(strstr(text, "**regression**"), "%s", text);
    free(text);
    compare_result_free(&r);
    summary_free(&b);
    summary_free(&c);
}

/* A run with call sites under physics/contacts (id 2): site 10 and site 11
 * are the same line (two ids of one file:line: summed per frame), site 12
 * an unknown pool site (line 0), site 0 the tag's "other" row, and site 13
 * is named by rows but never defined. contacts' live bytes per frame: 10 x
 * i from site 10, 5 from site 11, 7 from the unknown site, 3 from "other"
 * and 1 from site 13. */
static void write_sites_run(const char *path, uint64_t frames) {
    synth_t s;
    cr_assert_eq(synth_open(&s, path, "game", "b1", 4, paths, parents), 0);
    fa_proto_site_def_t defs[] = {
        {.id = 10, .line = 42, .kind = FA_PROTO_KIND_FRAME, .file = fa_proto_str("src/contacts.c"),
         .function = fa_proto_str("solve;step")},
        {.id = 11, .line = 42, .kind = FA_PROTO_KIND_FRAME, .file = fa_proto_str("src/contacts.c"),
         .function = fa_proto_str("solve;step")},
        {.id = 12, .line = 0, .kind = FA_PROTO_KIND_POOL, .file = fa_proto_str(""), .function = fa_proto_str("unknown")},
    };
    cr_assert_eq(synth_sites(&s, defs, 3), 0);
    for (uint64_t i = 0; i < frames; i++) {
        uint64_t c = 10 * i + 5 + 7 + 3 + 1;
        fa_proto_tag_stat_t rows[4] = {
            {.id = 0, .live_bytes = c},
            {.id = 1, .live_bytes = c},
            {.id = 2, .live_bytes = c, .frame_bytes = c, .alloc_count = 6},
            {.id = 3},
        };
        fa_proto_site_row_t sites[] = {
            {.site_id = 10, .tag_id = 2, .bytes = 10 * i, .count = 2, .live_bytes = 10 * i},
            {.site_id = 11, .tag_id = 2, .bytes = 5, .count = 1, .live_bytes = 5},
            {.site_id = 12, .tag_id = 2, .bytes = 7, .count = 1, .live_bytes = 7},
            {.site_id = 0, .tag_id = 2, .bytes = 3, .count = 1, .live_bytes = 3},
            {.site_id = 13, .tag_id = 2, .bytes = 1, .count = 1, .live_bytes = 1},
        };
        cr_assert_eq(synth_frame_sites(&s, i + 1, rows, 4, sites, 5), 0);
    }
    cr_assert_eq(synth_close(&s, true), 0);
}

Test(summary, call_sites_are_rows_keyed_by_tag_and_line_with_pairs_of_one_line_summed) {
    const char *p = tmp_capture("sites");
    write_sites_run(p, 100);
    summary_t s = summarise(p);
    cr_assert(s.sites);
    const summary_row_t *line = summary_find(&s, SUMMARY_SITE, "physics/contacts;solve:step src/contacts.c:42");
    cr_assert(line, "the two ids of one line are one row (a ';' in a name as ':')");
    cr_assert_str_eq(line->tag, "physics/contacts");
    /* 10 x i + 5 per frame, i = 0..99: exact below 256, nearest rank. */
    cr_assert_eq(line->v[M_PEAK], 995);
    cr_assert_eq(line->v[M_ALLOCS], 3);
    cr_assert_eq(line->v[M_FRAME_BYTES], 500, "mean of 10 x i + 5");
    cr_assert(summary_find(&s, SUMMARY_SITE, "physics/contacts;(unknown pool site)"));
    cr_assert(summary_find(&s, SUMMARY_SITE, "physics/contacts;(other sites)"));
    cr_assert(summary_find(&s, SUMMARY_SITE, "physics/contacts;(site #13)"));
    size_t sites = 0;
    for (size_t i = 0; i < s.count; i++)
        sites += s.rows[i].kind == SUMMARY_SITE;
    cr_assert_eq(sites, 4);
    summary_free(&s);
    unlink(p);
}

Test(compare, call_sites_are_left_out_when_only_one_run_has_them) {
    const char *p = tmp_capture("sites_only");
    write_sites_run(p, 50);
    summary_t with = summarise(p);
    unlink(p);
    p = tmp_capture("no_sites");
    write_run(p, 50, ramp, true);
    summary_t without = summarise(p);
    unlink(p);
    cr_assert_not(without.sites);
    compare_result_t r;
    cr_assert_eq(compare_run(&without, &with, NULL, &r), 0);
    cr_assert_not(r.sites_compared);
    cr_assert_eq(r.sites_left_out, 4);
    for (size_t i = 0; i < r.count; i++)
        cr_assert_eq(r.rows[i].kind, SUMMARY_TAG);
    compare_result_free(&r);
    cr_assert_eq(compare_run(&with, &with, NULL, &r), 0);
    cr_assert(r.sites_compared);
    cr_assert_eq(r.failed, 0);
    compare_result_free(&r);
    summary_free(&with);
    summary_free(&without);
}

Test(summary, a_baseline_keeps_call_sites_and_reads_back_equal) {
    const char *p = tmp_capture("sites_baseline");
    write_sites_run(p, 60);
    summary_t s = summarise(p);
    unlink(p);
    char *text = NULL;
    summary_t back = round_trip(&s, &text);
    cr_assert(back.sites);
    cr_assert_eq(back.baseline_version, 2);
    cr_assert_eq(back.count, s.count);
    compare_result_t r;
    cr_assert_eq(compare_run(&back, &s, NULL, &r), 0);
    cr_assert(r.sites_compared);
    for (size_t i = 0; i < r.count; i++)
        for (int m = 0; m < M_COUNT; m++)
            cr_assert_eq(r.rows[i].m[m].change, 0, "%s %s", r.rows[i].key, summary_metric_name(m));
    compare_result_free(&r);
    free(text);
    summary_free(&back);
    summary_free(&s);
}

/* Captures are read while the agent may still write them, and the agent
 * cuts a capture back to its last whole message after a failed write
 * (PROTOCOL.md §10.2): a capture that shrinks while it is read must not kill
 * the reader (it read through mmap: SIGBUS past the new end). */
typedef struct shrinker {
    const char *path;
    uint64_t frames;
} shrinker_t;

static int shrink_on_frame(void *user, const run_frame_t *frame) {
    (void)frame;
    shrinker_t *s = user;
    if (s->frames++ == 10) cr_assert_eq(truncate(s->path, 4096), 0);
    return 0;
}

Test(summary, a_capture_that_shrinks_while_it_is_read_does_not_kill_the_reader) {
    const char *p = tmp_capture("shrinks");
    write_run(p, 5000, ramp, true);
    shrinker_t s = {.path = p};
    run_visitor_t v = {.user = &s, .on_frame = shrink_on_frame};
    run_info_t info;
    cli_t cli = test_cli("compare");
    int rc = run_read_capture(&cli, p, &v, &info);
    fflush(errs);
    cr_assert_eq(rc, 0, "%s", errs_text);
    cr_assert_eq(s.frames, 5000, "the capture as it was when it was opened");
    unlink(p);
}
