/* libfa-text units: the one duration and byte-size syntax of fa-cli and
 * fa-insightd (their two copies used to disagree on "min" and on 0). */
#include <criterion/criterion.h>

#include "units.h"

static uint64_t dur(const char *s) {
    uint64_t v = 12345;
    cr_assert_eq(units_parse_duration(s, &v), 0, "'%s' refused", s);
    return v;
}

static void dur_bad(const char *s) {
    uint64_t v = 12345;
    cr_assert_eq(units_parse_duration(s, &v), -1, "'%s' accepted", s);
    cr_assert_eq(v, 12345, "'%s': out-parameter written on failure", s);
}

Test(units, durations_in_every_unit) {
    cr_assert_eq(dur("250ms"), 250);
    cr_assert_eq(dur("10s"), 10000);
    cr_assert_eq(dur("10"), 10000, "a bare number is seconds");
    cr_assert_eq(dur("5m"), 300000);
    cr_assert_eq(dur("5min"), 300000, "min is minutes, as the CLI accepted");
    cr_assert_eq(dur("2h"), 7200000);
    cr_assert_eq(dur("7d"), 7 * 86400000ull);
}

Test(units, zero_is_a_duration_and_callers_bound_it) {
    cr_assert_eq(dur("0"), 0);
    cr_assert_eq(dur("0ms"), 0);
}

Test(units, bad_durations_are_refused_without_writing) {
    const char *bad[] = {"",
                         "s",
                         "-5s",
                         "+5s",
                         " 5s",
                         "5 s",
                         "1.5s",
                         "5y",
                         "5sec",
                         "5M",
                         "5S",
                         "18446744073709551616",
                         "213503982334601d",
                         "5ms "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        dur_bad(bad[i]);
    uint64_t v;
    cr_assert_eq(units_parse_duration(NULL, &v), -1);
    cr_assert_eq(dur("213503982334d"), 213503982334ull * 86400000ull, "the largest day count that fits");
}

Test(units, byte_sizes_with_binary_units) {
    uint64_t v = 0;
    cr_assert_eq(units_parse_bytes("512", &v), 0);
    cr_assert_eq(v, 512);
    cr_assert_eq(units_parse_bytes("512B", &v), 0);
    cr_assert_eq(v, 512);
    cr_assert_eq(units_parse_bytes("64KiB", &v), 0);
    cr_assert_eq(v, 64 << 10);
    cr_assert_eq(units_parse_bytes("64k", &v), 0);
    cr_assert_eq(v, 64 << 10);
    cr_assert_eq(units_parse_bytes("16MiB", &v), 0);
    cr_assert_eq(v, 16ull << 20);
    cr_assert_eq(units_parse_bytes("2G", &v), 0);
    cr_assert_eq(v, 2ull << 30);
    cr_assert_eq(units_parse_bytes("1tib", &v), 0);
    cr_assert_eq(v, 1ull << 40);
    const char *bad[] = {"", "KiB", "-1", "1.5MiB", "10MB", "10KB", "10 MiB", "10PiB", "16777216TiB"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        cr_assert_eq(units_parse_bytes(bad[i], &v), -1, "'%s' accepted", bad[i]);
        cr_assert_eq(v, 7);
    }
}

Test(units, bytes_print_with_three_significant_digits) {
    char b[32];
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 0), "0 B");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 1023), "1023 B");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 1024), "1.00 KiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 1536), "1.50 KiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 768 << 10), "768 KiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 1280 * 1024), "1.25 MiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 12u * 1024 * 1024 + 300 * 1024), "12.3 MiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, 3ull << 30), "3.00 GiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, (12u << 20) + (1u << 19)), "12.5 MiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, (1u << 20) - 1), "1.00 MiB", "never 1024 KiB");
    cr_assert_str_eq(units_format_bytes(b, sizeof b, UINT64_MAX), "16.0 EiB");
    cr_assert_str_eq(units_format_3sig(b, sizeof b, 999.4, "ms"), "999 ms");
    cr_assert_str_eq(units_format_3sig(b, 4, 1.5, "ms"), "1.5", "cut to the buffer");
}
