/* Rendering: human units, statuses, tables, tree connectors, bars and
 * sparklines, with and without UTF-8 and colours. */
#include <criterion/criterion.h>

#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

Test(render, signed_bytes_carry_their_sign) {
    char b[32];
    cr_assert_str_eq(render_signed_bytes(b, sizeof b, -2048), "-2.00 KiB");
    cr_assert_str_eq(render_signed_bytes(b, sizeof b, 512), "+512 B");
    cr_assert_str_eq(render_signed_bytes(b, sizeof b, 0), "0 B");
    cr_assert_str_eq(render_signed_bytes(b, sizeof b, INT64_MIN), "-8.00 EiB");
}

Test(render, durations_in_ns_use_the_right_unit_and_ascii_micro_without_utf8) {
    char b[32];
    cr_assert_str_eq(render_ns(b, sizeof b, 850, true), "850 ns");
    cr_assert_str_eq(render_ns(b, sizeof b, 12400, true), "12.4 \xc2\xb5s");
    cr_assert_str_eq(render_ns(b, sizeof b, 12400, false), "12.4 us");
    cr_assert_str_eq(render_ns(b, sizeof b, 16700000, true), "16.7 ms");
    cr_assert_str_eq(render_ns(b, sizeof b, 1200000000ull, true), "1.20 s");
    cr_assert_str_eq(render_ns(b, sizeof b, 999999, false), "1.00 ms");
}

Test(render, relative_times_read_like_a_person_would_say_them) {
    char b[32];
    uint64_t now = 1700000000000ull;
    cr_assert_str_eq(render_ago(b, sizeof b, now - 300, now), "just now");
    cr_assert_str_eq(render_ago(b, sizeof b, now - 12000, now), "12s ago");
    cr_assert_str_eq(render_ago(b, sizeof b, now - 3 * 60000 - 5000, now), "3m ago");
    cr_assert_str_eq(render_ago(b, sizeof b, now - 2 * 3600000ull, now), "2h ago");
    cr_assert_str_eq(render_ago(b, sizeof b, now - 4 * 86400000ull, now), "4d ago");
    cr_assert_str_eq(render_ago(b, sizeof b, now + 5000, now), "just now");
    cr_assert_str_eq(render_ago(b, sizeof b, 0, now), "-");
    cr_assert_str_eq(render_duration_ms(b, sizeof b, 45000), "45s");
    cr_assert_str_eq(render_duration_ms(b, sizeof b, 3720000), "1h 02m");
    cr_assert_str_eq(render_duration_ms(b, sizeof b, 500), "500ms");
}

Test(render, percentages_and_counts) {
    char b[32];
    cr_assert_str_eq(render_pct(b, sizeof b, 85.2), "85 %");
    cr_assert_str_eq(render_pct(b, sizeof b, 7.25), "7.2 %");
    /* Issue 14: never "100 %" (or "80 %") for a usage below it. */
    cr_assert_str_eq(render_pct(b, sizeof b, 99.7), "99.7 %");
    cr_assert_str_eq(render_pct(b, sizeof b, 99.96), "99.9 %");
    cr_assert_str_eq(render_pct(b, sizeof b, 79.6), "79.6 %");
    cr_assert_str_eq(render_pct(b, sizeof b, 100.0), "100 %");
    cr_assert_str_eq(render_pct(b, sizeof b, 99.4), "99 %");
    cr_assert_str_eq(render_pct(b, sizeof b, -1), "-");
    cr_assert_str_eq(render_pct(b, sizeof b, NAN), "-");
    cr_assert_str_eq(render_count(b, sizeof b, 9999), "9999");
    cr_assert_str_eq(render_count(b, sizeof b, 12345), "12.3k");
    cr_assert_str_eq(render_count(b, sizeof b, 2500000), "2.50M");
}

Test(render, status_thresholds_are_80_and_100_percent_of_hard) {
    cr_assert_eq(render_status_of(100, 0), RS_NONE);
    cr_assert_eq(render_status_of(79, 100), RS_OK);
    cr_assert_eq(render_status_of(80, 100), RS_WARNING);
    cr_assert_eq(render_status_of(99, 100), RS_WARNING);
    cr_assert_eq(render_status_of(100, 100), RS_CRITICAL);
    cr_assert_eq(render_status_of(UINT64_MAX, UINT64_MAX - 1), RS_CRITICAL);
    /* 80 % of a huge budget does not overflow. */
    cr_assert_eq(render_status_of(UINT64_MAX / 10 * 8, UINT64_MAX / 10 * 10), RS_WARNING);
    cr_assert_str_eq(render_status_name(RS_CRITICAL), "critical");
    cr_assert_eq(render_status_parse("warning"), RS_WARNING);
    cr_assert_eq(render_status_parse("nonsense"), RS_NONE);
    cr_assert_eq(render_status_parse(NULL), RS_NONE);
}

Test(render, colours_are_empty_when_off) {
    cli_t off = {.color = false}, on = {.color = true};
    cr_assert_str_eq(render_color_code(&off, RC_RED), "");
    cr_assert_str_eq(render_color_code(NULL, RC_RED), "");
    cr_assert_str_eq(render_color_code(&on, RC_RED), "\033[31m");
    cr_assert_str_eq(render_color_code(&on, RC_RESET), "\033[0m");
}

Test(render, width_skips_colour_sequences_and_counts_utf8_characters) {
    cr_assert_eq(render_width("abc"), 3);
    cr_assert_eq(render_width("\033[1;31mcritical\033[0m"), 8);
    cr_assert_eq(render_width("\xe2\x96\x81\xe2\x96\x88"), 2);
    cr_assert_eq(render_width("12.4 \xc2\xb5s"), 7);
    cr_assert_eq(render_width(""), 0);
    cr_assert_eq(render_width("\033["), 0); /* a cut sequence is not read past the end */
}

Test(render, sparkline_maps_low_to_lowest_block_and_high_to_full_block) {
    char b[64];
    double v[] = {0, 1, 2, 3, 4, 5, 6, 7};
    render_sparkline(b, sizeof b, v, 8, 0, 7, true);
    cr_assert_str_eq(
        b,
        "\xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85\xe2\x96\x86\xe2\x96\x87\xe2\x96\x88");
    render_sparkline(b, sizeof b, v, 8, 0, 7, false);
    cr_assert_str_eq(b, "_.-:=+*#");
}

Test(render, sparkline_shows_gaps_as_blanks_and_flat_lines_mid_height) {
    char b[64];
    double v[] = {5, NAN, 5};
    render_sparkline(b, sizeof b, v, 3, 5, 5, false);
    cr_assert_str_eq(b, ": :");
    double z[] = {0, 0};
    render_sparkline(b, sizeof b, z, 2, 0, 0, false);
    cr_assert_str_eq(b, "__");
    /* Out-of-range values are clamped; a tiny buffer is never overrun. */
    double w[] = {-10, 100};
    render_sparkline(b, sizeof b, w, 2, 0, 10, false);
    cr_assert_str_eq(b, "_#");
    char tiny[3];
    render_sparkline(tiny, sizeof tiny, v, 3, 0, 10, true);
    cr_assert_str_eq(tiny, "");
}

Test(render, bar_fills_in_proportion_and_never_exceeds_its_width) {
    cli_t ascii = {.utf8 = false}, utf = {.utf8 = true};
    char b[128];
    render_bar(&ascii, b, sizeof b, 50, 10);
    cr_assert_str_eq(b, "#####.....");
    render_bar(&ascii, b, sizeof b, 250, 10);
    cr_assert_str_eq(b, "##########");
    render_bar(&ascii, b, sizeof b, -5, 4);
    cr_assert_str_eq(b, "....");
    render_bar(&utf, b, sizeof b, 100, 3);
    cr_assert_eq(render_width(b), 3);
    render_bar(&utf, b, sizeof b, 55, 10);
    cr_assert_eq(render_width(b), 10);
}

Test(render, tree_prefixes_draw_branches_and_ascii_fallback) {
    cli_t ascii = {.utf8 = false}, utf = {.utf8 = true};
    char b[128];
    bool last[3] = {false, true, true};
    render_tree_prefix(&ascii, b, sizeof b, last, 0);
    cr_assert_str_eq(b, "");
    render_tree_prefix(&ascii, b, sizeof b, last, 1);
    cr_assert_str_eq(b, "|- ");
    render_tree_prefix(&ascii, b, sizeof b, last, 2);
    cr_assert_str_eq(b, "|  `- ");
    bool last2[2] = {true, false};
    render_tree_prefix(&utf, b, sizeof b, last2, 2);
    cr_assert_str_eq(b, "   \xe2\x94\x9c\xe2\x94\x80 ");
}

Test(render, table_aligns_columns_by_display_width) {
    cli_t cli = {.color = false};
    render_table_t *t = render_table_new(3);
    const char *head[] = {"TAG", "BYTES", "S"};
    render_table_header(t, head);
    render_table_align_right(t, 1);
    render_table_cell(t, "%s", "physics");
    render_table_cell(t, "%s", "1.00 MiB");
    render_table_cell(t, "%s", "ok");
    render_table_cell(t, "%s", "\xe2\x94\x94\xe2\x94\x80 a");
    render_table_cell(t, "%d B", 12);
    render_table_cell(t, "%s", "\033[31mcritical\033[0m");
    cr_assert_eq(render_table_rows(t), 2);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    render_table_print(&cli, t, f);
    fclose(f);
    cr_assert_str_eq(buf, "TAG         BYTES  S\n"
                          "physics  1.00 MiB  ok\n"
                          "\xe2\x94\x94\xe2\x94\x80 a         12 B  \033[31mcritical\033[0m\n");
    free(buf);
    render_table_free(t);
    render_table_free(NULL);
}

Test(render, utf8_is_read_from_the_first_locale_variable_set) {
    setenv("LC_ALL", "", 1);
    setenv("LC_CTYPE", "C", 1);
    setenv("LANG", "en_US.UTF-8", 1);
    cr_assert_not(render_locale_is_utf8());
    unsetenv("LC_CTYPE");
    cr_assert(render_locale_is_utf8());
    setenv("LC_ALL", "POSIX", 1);
    cr_assert_not(render_locale_is_utf8());
    setenv("LC_ALL", "de_DE.utf8", 1);
    cr_assert(render_locale_is_utf8());
}

/* Issue 14: --json printed a hostile server's body verbatim, escapes and all. */
Test(render, json_from_a_server_keeps_its_meaning_but_not_its_escapes) {
    const char in[] = "{\"a\":\"x\\u001b]0;t\x07\xc2\x9b\xe2\x80\xae\\\"q\xff\",\x1b \"n\":\n1}";
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    render_json_safe(f, in, sizeof in - 1);
    fclose(f);
    cr_assert_str_eq(out, "{\"a\":\"x\\u001b]0;t\\u0007\\u009b\\u202e\\\"q\\ufffd\",  \"n\":\n1}");
    cJSON *doc = cJSON_Parse(out);
    cr_assert_not_null(doc, "still JSON");
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "a")->valuestring, "x\x1b]0;t\x07\xc2\x9b\xe2\x80\xae\"q\xef\xbf\xbd");
    cJSON_Delete(doc);
    free(out);
}

Test(render, parsed_answers_are_sanitised_in_place) {
    cJSON *doc = cJSON_Parse("{\"k\\u001b\":[\"\\u001b[2J\",{\"p\":\"a\\u202eb\"}],\"n\":1}");
    jv_sanitize(doc);
    cr_assert_not_null(cJSON_GetObjectItem(doc, "k?"));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "k?"), 0)->valuestring, "?[2J");
    cr_assert_str_eq(jv_str(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "k?"), 1), "p", ""), "a?b");
    cJSON_Delete(doc);
    jv_sanitize(NULL);
}

Test(render, times_carry_their_zone_utc_by_default) {
    char b[64];
    cli_t utc = {0}, local = {.local_time = true};
    cr_assert_str_eq(render_clock(&utc, b, sizeof b, 1700000000250ull, RENDER_CLOCK_DATE), "2023-11-14 22:13:20 UTC");
    cr_assert_str_eq(render_clock(&utc, b, sizeof b, 1700000000250ull, RENDER_CLOCK_MS), "22:13:20.250 UTC");
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    cr_assert_str_eq(render_clock(&local, b, sizeof b, 1700000000250ull, RENDER_CLOCK_DATE),
                     "2023-11-15 07:13:20 JST");
    cr_assert_str_eq(render_clock(&utc, b, sizeof b, 0, 0), "-");
}

Test(render, the_root_tag_has_one_name) {
    cr_assert_str_eq(render_tag_name(""), "(root)");
    cr_assert_str_eq(render_tag_name("physics"), "physics");
}
