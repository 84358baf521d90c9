/* Argument parsing: option tables, values, precise usage errors (exit 2),
 * durations and points in time. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cmd_info_t info = {.name = "demo",
                                .summary = "a demo command",
                                .synopsis = "[--tag T] [--n N]",
                                .example = "  fa-cli demo\n"};

typedef struct opts {
    const char *tag;
    uint32_t n;
    bool flag, n_seen;
    uint64_t window, since;
} opts_t;

static int parse(opts_t *o, int argc, char **argv) {
    args_opt_t table[] = {
        {"tag", ARGS_STRING, &o->tag, "T", "a tag"},
        {"n", ARGS_UINT, &o->n, "N", "a count", 100, false, &o->n_seen},
        {"flag", ARGS_FLAG, &o->flag, NULL, "a flag"},
        {"window", ARGS_DURATION, &o->window, NULL, "a window"},
        {"since", ARGS_TIME, &o->since, NULL, "a time"},
        {0},
    };
    cli_t cli = {.err = stderr};
    return args_parse(&cli, &info, table, argc, argv);
}

Test(args, values_come_as_separate_words_or_after_an_equals_sign) {
    opts_t o = {0};
    char *argv[] = {"demo", "--tag", "physics", "--n=42", "--flag", "--window", "5m", NULL};
    cr_assert_eq(parse(&o, 7, argv), -1);
    cr_assert_str_eq(o.tag, "physics");
    cr_assert_eq(o.n, 42);
    cr_assert(o.n_seen);
    cr_assert(o.flag);
    cr_assert_eq(o.window, 300000);
}

Test(args, unknown_option_is_a_usage_error_naming_it, .init = cr_redirect_stderr) {
    opts_t o = {0};
    char *argv[] = {"demo", "--bogus", NULL};
    cr_assert_eq(parse(&o, 2, argv), CLI_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_eq_str("fa-cli demo: unknown option '--bogus'\n"
                            "usage: fa-cli [global options] demo [--tag T] [--n N]\n"
                            "Try 'fa-cli demo --help'.\n");
}

Test(args, bad_values_are_refused_with_the_option_and_the_value, .init = cr_redirect_stderr) {
    opts_t o = {0};
    char *a1[] = {"demo", "--n", "abc", NULL};
    cr_assert_eq(parse(&o, 3, a1), CLI_EXIT_USAGE);
    char *a2[] = {"demo", "--n", "0", NULL};
    cr_assert_eq(parse(&o, 3, a2), CLI_EXIT_USAGE);
    char *a3[] = {"demo", "--n", "101", NULL};
    cr_assert_eq(parse(&o, 3, a3), CLI_EXIT_USAGE);
    char *a4[] = {"demo", "--window", "5 minutes", NULL};
    cr_assert_eq(parse(&o, 3, a4), CLI_EXIT_USAGE);
    char *a5[] = {"demo", "--tag", NULL};
    cr_assert_eq(parse(&o, 2, a5), CLI_EXIT_USAGE);
    char *a6[] = {"demo", "--flag=yes", NULL};
    cr_assert_eq(parse(&o, 2, a6), CLI_EXIT_USAGE);
    char *a7[] = {"demo", "--tag=", NULL};
    cr_assert_eq(parse(&o, 2, a7), CLI_EXIT_USAGE);
    char *a8[] = {"demo", "stray", NULL};
    cr_assert_eq(parse(&o, 2, a8), CLI_EXIT_USAGE);
    char *a9[] = {"demo", "-x", NULL};
    cr_assert_eq(parse(&o, 2, a9), CLI_EXIT_USAGE);
    char *a10[] = {"demo", "--n", "-1", NULL};
    cr_assert_eq(parse(&o, 3, a10), CLI_EXIT_USAGE);
    char *a11[] = {"demo", "--n", "99999999999999999999999", NULL};
    cr_assert_eq(parse(&o, 3, a11), CLI_EXIT_USAGE);
    fflush(stderr);
    cr_assert_stderr_neq_str("");
}

Test(args, help_prints_summary_options_and_an_example_and_exits_zero, .init = cr_redirect_stdout) {
    opts_t o = {0};
    char *argv[] = {"demo", "--help", NULL};
    cr_assert_eq(parse(&o, 2, argv), CLI_EXIT_OK);
    fflush(stdout);
    FILE *f = cr_get_redirected_stdout();
    char buf[4096] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    cr_assert(strstr(buf, "fa-cli demo") && strstr(buf, "a demo command"));
    cr_assert(strstr(buf, "--tag T"));
    cr_assert(strstr(buf, "Example:\n  fa-cli demo\n"));
    cr_assert(strstr(buf, "--server URL"));
}

Test(args, durations_accept_units_and_refuse_zero_and_garbage) {
    uint64_t ms;
    cr_assert_eq(args_parse_duration("250ms", &ms), 0);
    cr_assert_eq(ms, 250);
    cr_assert_eq(args_parse_duration("10", &ms), 0);
    cr_assert_eq(ms, 10000);
    cr_assert_eq(args_parse_duration("2h", &ms), 0);
    cr_assert_eq(ms, 7200000);
    cr_assert_eq(args_parse_duration("1d", &ms), 0);
    cr_assert_eq(ms, 86400000);
    cr_assert_eq(args_parse_duration("0s", &ms), -1);
    cr_assert_eq(args_parse_duration("", &ms), -1);
    cr_assert_eq(args_parse_duration(NULL, &ms), -1);
    cr_assert_eq(args_parse_duration("-5m", &ms), -1);
    cr_assert_eq(args_parse_duration("5x", &ms), -1);
    cr_assert_eq(args_parse_duration("99999999999999999999d", &ms), -1);
}

Test(args, times_are_durations_ago_now_unix_or_iso_dates) {
    uint64_t now = 1700000000000ull, t;
    cr_assert_eq(args_parse_time("10m", now, false, &t), 0);
    cr_assert_eq(t, now - 600000);
    cr_assert_eq(args_parse_time("now", now, false, &t), 0);
    cr_assert_eq(t, now);
    cr_assert_eq(args_parse_time("1700000000", now, false, &t), 0);
    cr_assert_eq(t, 1700000000000ull);
    cr_assert_eq(args_parse_time("1700000000123", now, false, &t), 0);
    cr_assert_eq(t, 1700000000123ull);
    cr_assert_eq(args_parse_time("2023-11-14T22:13:20Z", now, false, &t), 0);
    cr_assert_eq(t, 1700000000000ull);
    cr_assert_eq(args_parse_time("2023-11-14 22:13", now, false, &t), 0);
    cr_assert_eq(t, 1699999980000ull);
    cr_assert_eq(args_parse_time("1970-01-01", now, false, &t), 0);
    cr_assert_eq(t, 0);
    cr_assert_eq(args_parse_time("2023-13-01", now, false, &t), -1);
    cr_assert_eq(args_parse_time("2023-11-14T25:00", now, false, &t), -1);
    cr_assert_eq(args_parse_time("yesterday", now, false, &t), -1);
    cr_assert_eq(args_parse_time("", now, false, &t), -1);
    /* Longer ago than the epoch clamps to 0. */
    cr_assert_eq(args_parse_time("100000d", now, false, &t), 0);
    cr_assert_eq(t, 0);
}

Test(args, integers_are_strict_decimals_in_range) {
    uint64_t v;
    cr_assert_eq(args_parse_uint("7", 1, 10, &v), 0);
    cr_assert_eq(v, 7);
    cr_assert_eq(args_parse_uint("07x", 1, 10, &v), -1);
    cr_assert_eq(args_parse_uint("+7", 1, 10, &v), -1);
    cr_assert_eq(args_parse_uint(" 7", 1, 10, &v), -1);
    cr_assert_eq(args_parse_uint("11", 1, 10, &v), -1);
}

/* Issue 14: times were printed in local time without a zone while times
 * typed without a zone were read as UTC. Now both follow --local. */
Test(args, times_take_a_zone_and_follow_local_without_one) {
    uint64_t now = 1700000000000ull, t;
    cr_assert_eq(args_parse_time("2023-11-14T23:13:20+01:00", now, false, &t), 0);
    cr_assert_eq(t, 1700000000000ull);
    cr_assert_eq(args_parse_time("2023-11-14 17:13:20-0500", now, true, &t), 0);
    cr_assert_eq(t, 1700000000000ull, "an explicit zone wins over --local");
    cr_assert_eq(args_parse_time("2023-11-14 22:13:20+25:00", now, false, &t), -1);
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    cr_assert_eq(args_parse_time("2023-11-15 07:13:20", now, true, &t), 0);
    cr_assert_eq(t, 1700000000000ull, "read in local time (JST, +9) with --local");
    cr_assert_eq(args_parse_time("2023-11-15 07:13:20", now, false, &t), 0);
    cr_assert_eq(t, 1700000000000ull + 9 * 3600000ull, "UTC without --local");
}
