/* units.c — durations and byte sizes (see units.h). */
#include "units.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The leading whole number of s: its value and where it ends. -1 unless s
 * starts with a digit and the number fits 64 bits. */
static int leading_number(const char *s, uint64_t *value, const char **end) {
    if (!s || *s < '0' || *s > '9') return -1;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *value = v;
    *end = s;
    return 0;
}

typedef struct unit {
    const char *name;
    uint64_t factor;
} unit_t;

/* value * the factor of the unit named `suffix` among units[0..n). */
static int scale(uint64_t value, const char *suffix, const unit_t *units, size_t n, bool fold_case,
                 uint64_t *out) {
    for (size_t i = 0; i < n; i++) {
        bool same = fold_case ? strcasecmp(suffix, units[i].name) == 0 : strcmp(suffix, units[i].name) == 0;
        if (!same) continue;
        if (value > UINT64_MAX / units[i].factor) return -1;
        *out = value * units[i].factor;
        return 0;
    }
    return -1;
}

int units_parse_duration(const char *s, uint64_t *out_ms) {
    static const unit_t units[] = {{"", 1000},     {"ms", 1},      {"s", 1000},    {"m", 60000},
                                   {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
    uint64_t v;
    const char *end;
    if (leading_number(s, &v, &end) != 0) return -1;
    return scale(v, end, units, sizeof units / sizeof units[0], false, out_ms);
}

int units_parse_bytes(const char *s, uint64_t *out_bytes) {
    static const unit_t units[] = {
        {"", 1},           {"b", 1},
        {"k", 1ull << 10}, {"kib", 1ull << 10},
        {"m", 1ull << 20}, {"mib", 1ull << 20},
        {"g", 1ull << 30}, {"gib", 1ull << 30},
        {"t", 1ull << 40}, {"tib", 1ull << 40},
    };
    uint64_t v;
    const char *end;
    if (leading_number(s, &v, &end) != 0) return -1;
    return scale(v, end, units, sizeof units / sizeof units[0], true, out_bytes);
}

const char *units_format_3sig(char *buf, size_t cap, double v, const char *unit) {
    if (v < 9.995)
        snprintf(buf, cap, "%.2f %s", v, unit);
    else if (v < 99.95)
        snprintf(buf, cap, "%.1f %s", v, unit);
    else
        snprintf(buf, cap, "%.0f %s", v, unit);
    return buf;
}

const char *units_format_bytes(char *buf, size_t cap, uint64_t bytes) {
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (bytes < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    double v = (double)bytes / 1024.0;
    size_t u = 0;
    /* Move up before the value would print as 1024 at three digits. */
    while (v >= 1023.5 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024.0;
        u++;
    }
    return units_format_3sig(buf, cap, v, units[u]);
}
