/* render.c — what the human output is made of: units (B/KiB/MiB/GiB,
 * ns/µs/ms/s, "3m ago"), colours (only when cli->color), aligned tables,
 * tree connectors, usage bars and sparklines. Nothing here talks to the
 * daemon; everything is a pure function of its arguments, so the unit
 * tests pin it exactly. */
#include "cli.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t render_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool render_locale_is_utf8(void) {
    const char *vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v) continue; /* the first one set decides, as setlocale does */
        return strstr(v, "UTF-8") || strstr(v, "utf-8") || strstr(v, "UTF8") || strstr(v, "utf8");
    }
    return false;
}

const char *render_signed_bytes(char *buf, size_t cap, int64_t bytes) {
    char tmp[32];
    uint64_t mag = bytes < 0 ? (uint64_t)(-(bytes + 1)) + 1u : (uint64_t)bytes;
    units_format_bytes(tmp, sizeof tmp, mag);
    snprintf(buf, cap, "%s%s", bytes < 0 ? "-" : bytes > 0 ? "+" : "", tmp);
    return buf;
}

const char *render_ns(char *buf, size_t cap, uint64_t ns, bool utf8) {
    if (ns < 1000) {
        snprintf(buf, cap, "%llu ns", (unsigned long long)ns);
        return buf;
    }
    if (ns < 999500) return units_format_3sig(buf, cap, (double)ns / 1e3, utf8 ? "\xc2\xb5s" : "us");
    if (ns < 999500000) return units_format_3sig(buf, cap, (double)ns / 1e6, "ms");
    return units_format_3sig(buf, cap, (double)ns / 1e9, "s");
}

const char *render_ago(char *buf, size_t cap, uint64_t then_ms, uint64_t now_ms) {
    if (then_ms == 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    if (then_ms > now_ms) {
        /* Clocks of daemon and reader may differ a little. */
        snprintf(buf, cap, "just now");
        return buf;
    }
    uint64_t s = (now_ms - then_ms) / 1000u;
    if (s < 1)
        snprintf(buf, cap, "just now");
    else if (s < 60)
        snprintf(buf, cap, "%llus ago", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, cap, "%llum ago", (unsigned long long)(s / 60));
    else if (s < 86400)
        snprintf(buf, cap, "%lluh ago", (unsigned long long)(s / 3600));
    else
        snprintf(buf, cap, "%llud ago", (unsigned long long)(s / 86400));
    return buf;
}

const char *render_duration_ms(char *buf, size_t cap, uint64_t ms) {
    uint64_t s = ms / 1000u;
    if (ms < 1000)
        snprintf(buf, cap, "%llums", (unsigned long long)ms);
    else if (s < 60)
        snprintf(buf, cap, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, cap, "%llum %02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, cap, "%lluh %02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, cap, "%llud %02lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    return buf;
}

const char *render_clock(const cli_t *cli, char *buf, size_t cap, uint64_t unix_ms, unsigned flags) {
    if (unix_ms == 0) {
        snprintf(buf, cap, "-");
        return buf;
    }
    time_t t = (time_t)(unix_ms / 1000u);
    struct tm tm;
    bool local = cli && cli->local_time;
    if (local)
        localtime_r(&t, &tm);
    else
        gmtime_r(&t, &tm);
    char day[16] = "", clock[16], ms[8] = "", zone[16] = "UTC";
    if (flags & RENDER_CLOCK_DATE) strftime(day, sizeof day, "%Y-%m-%d ", &tm);
    strftime(clock, sizeof clock, "%H:%M:%S", &tm);
    if (flags & RENDER_CLOCK_MS) snprintf(ms, sizeof ms, ".%03u", (unsigned)(unix_ms % 1000u));
    if (local) strftime(zone, sizeof zone, "%Z", &tm);
    snprintf(buf, cap, "%s%s%s %s", day, clock, ms, zone);
    return buf;
}

const char *render_pct(char *buf, size_t cap, double pct) {
    double whole = round(pct);
    if (pct < 0 || isnan(pct))
        snprintf(buf, cap, "-");
    else if (pct < 10 || ((whole == 80 || whole == 100) && pct < whole))
        /* Tenths, cut not rounded: 99.7 reads "99.7 %", never a "100 %"
         * the usage has not reached (the dashboard's rule too). */
        snprintf(buf, cap, "%.1f %%", floor(pct * 10) / 10);
    else
        snprintf(buf, cap, "%.0f %%", pct);
    return buf;
}

const char *render_count(char *buf, size_t cap, uint64_t n) {
    if (n < 10000)
        snprintf(buf, cap, "%llu", (unsigned long long)n);
    else if (n < 999500)
        units_format_3sig(buf, cap, (double)n / 1e3, "k");
    else if (n < 999500000)
        units_format_3sig(buf, cap, (double)n / 1e6, "M");
    else
        units_format_3sig(buf, cap, (double)n / 1e9, "G");
    /* No space before k/M/G: "12.3k". */
    char *sp = strchr(buf, ' ');
    if (sp) memmove(sp, sp + 1, strlen(sp));
    return buf;
}

const char *render_tag_name(const char *path) {
    return path && path[0] ? path : CLI_ROOT_TAG_NAME;
}

const char *render_color_code(const cli_t *cli, render_color c) {
    if (!cli || !cli->color) return "";
    switch (c) {
    case RC_RESET:
        return "\033[0m";
    case RC_BOLD:
        return "\033[1m";
    case RC_DIM:
        return "\033[2m";
    case RC_RED:
        return "\033[31m";
    case RC_GREEN:
        return "\033[32m";
    case RC_YELLOW:
        return "\033[33m";
    case RC_CYAN:
        return "\033[36m";
    case RC_BOLD_RED:
        return "\033[1;31m";
    }
    return "";
}

render_status render_status_of(uint64_t usage, uint64_t hard) {
    if (hard == 0) return RS_NONE;
    /* Integer comparisons: exactly 80 % is a warning, exactly 100 % critical. */
    if (usage >= hard) return RS_CRITICAL;
    if ((unsigned __int128)usage * 100u >= (unsigned __int128)hard * 80u) return RS_WARNING;
    return RS_OK;
}

render_status render_status_parse(const char *s) {
    if (!s) return RS_NONE;
    if (strcmp(s, "ok") == 0) return RS_OK;
    if (strcmp(s, "warning") == 0 || strcmp(s, "warn") == 0) return RS_WARNING;
    if (strcmp(s, "critical") == 0 || strcmp(s, "over") == 0 || strcmp(s, "exceeded") == 0)
        return RS_CRITICAL;
    return RS_NONE;
}

const char *render_status_name(render_status s) {
    switch (s) {
    case RS_OK:
        return "ok";
    case RS_WARNING:
        return "warning";
    case RS_CRITICAL:
        return "critical";
    default:
        return "-";
    }
}

render_color render_status_color(render_status s) {
    switch (s) {
    case RS_OK:
        return RC_GREEN;
    case RS_WARNING:
        return RC_YELLOW;
    case RS_CRITICAL:
        return RC_BOLD_RED;
    default:
        return RC_DIM;
    }
}

void render_bar(const cli_t *cli, char *buf, size_t cap, double pct, int width) {
    static const char *const eighths[] = {"",
                                          "\xe2\x96\x8f",
                                          "\xe2\x96\x8e",
                                          "\xe2\x96\x8d",
                                          "\xe2\x96\x8c",
                                          "\xe2\x96\x8b",
                                          "\xe2\x96\x8a",
                                          "\xe2\x96\x89"};
    if (cap == 0) return;
    buf[0] = '\0';
    if (width <= 0) return;
    if (pct < 0 || isnan(pct)) pct = 0;
    double cells = pct / 100.0 * width;
    if (cells > width) cells = width;
    int full = (int)cells;
    int part = (int)((cells - full) * 8);
    size_t len = 0;
    bool utf8 = cli && cli->utf8;
#define PUT(s)                                                                                               \
    do {                                                                                                     \
        size_t l_ = strlen(s);                                                                               \
        if (len + l_ + 1 > cap) return;                                                                      \
        memcpy(buf + len, (s), l_);                                                                          \
        len += l_;                                                                                           \
        buf[len] = '\0';                                                                                     \
    } while (0)
    render_status st = pct >= 100 ? RS_CRITICAL : pct >= 80 ? RS_WARNING : RS_OK;
    PUT(render_color_code(cli, render_status_color(st)));
    for (int i = 0; i < full; i++)
        PUT(utf8 ? "\xe2\x96\x88" : "#");
    int used = full;
    if (used < width && part > 0) {
        PUT(utf8 ? eighths[part] : (part >= 4 ? "=" : "-"));
        used++;
    }
    PUT(render_color_code(cli, RC_RESET));
    PUT(render_color_code(cli, RC_DIM));
    for (; used < width; used++)
        PUT(utf8 ? "\xc2\xb7" : ".");
    PUT(render_color_code(cli, RC_RESET));
#undef PUT
}

void render_sparkline(char *buf, size_t cap, const double *values, size_t n, double lo, double hi,
                      bool utf8) {
    static const char *const blocks[] = {"\xe2\x96\x81", "\xe2\x96\x82", "\xe2\x96\x83", "\xe2\x96\x84",
                                         "\xe2\x96\x85", "\xe2\x96\x86", "\xe2\x96\x87", "\xe2\x96\x88"};
    static const char ascii[] = "_.-:=+*#";
    size_t len = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        double v = values[i];
        const char *cell;
        char one[2] = {0, 0};
        if (isnan(v)) {
            cell = " "; /* no data for this point */
        } else {
            int level;
            if (!(hi > lo))
                level = hi > 0 ? 3 : 0; /* flat line: mid height, or the floor for zeros */
            else {
                double f = (v - lo) / (hi - lo);
                if (f < 0) f = 0;
                if (f > 1) f = 1;
                level = (int)lround(f * 7.0);
            }
            if (utf8)
                cell = blocks[level];
            else {
                one[0] = ascii[level];
                cell = one;
            }
        }
        size_t l = strlen(cell);
        if (len + l + 1 > cap) break;
        memcpy(buf + len, cell, l);
        len += l;
        buf[len] = '\0';
    }
}

void render_json_safe(FILE *out, const char *s, size_t len) {
    bool in_string = false, escaped = false;
    size_t i = 0;
    while (i < len) {
        size_t seq;
        uint32_t cp;
        size_t safe = escape_find_unsafe(s + i, len - i, &seq, &cp);
        for (size_t j = 0; j < safe; j++) {
            char c = s[i + j];
            if (escaped)
                escaped = false;
            else if (c == '\\' && in_string)
                escaped = true;
            else if (c == '"')
                in_string = !in_string;
        }
        fwrite(s + i, 1, safe, out);
        i += safe;
        if (seq == 0) break;
        if (in_string)
            fprintf(out, "\\u%04x", (unsigned)(cp == ESCAPE_INVALID ? 0xfffd : cp));
        else
            fputc(cp == '\n' || cp == '\t' || cp == '\r' ? (int)cp : ' ', out); /* JSON white space */
        escaped = false;
        i += seq;
    }
}

size_t render_width(const char *s) {
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p == 0x1b && p[1] == '[') {
            p += 2;
            while (*p && !((*p >= '@' && *p <= '~')))
                p++;
            if (*p) p++;
            continue;
        }
        if ((*p & 0xc0) != 0x80) w++;
        p++;
    }
    return w;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */
/* ------------------------------------------------------------------------ */

struct render_table {
    size_t columns;
    char **cells; /* row-major, header row excluded */
    size_t count, cap;
    char **header;
    bool *right;
};

render_table_t *render_table_new(size_t columns) {
    render_table_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->columns = columns;
    t->right = calloc(columns, sizeof *t->right);
    if (!t->right) {
        free(t);
        return NULL;
    }
    return t;
}

void render_table_header(render_table_t *t, const char *const *names) {
    if (!t) return;
    t->header = calloc(t->columns, sizeof *t->header);
    if (!t->header) return;
    for (size_t i = 0; i < t->columns; i++)
        t->header[i] = strdup(names[i] ? names[i] : "");
}

void render_table_align_right(render_table_t *t, size_t column) {
    if (t && column < t->columns) t->right[column] = true;
}

void render_table_cell(render_table_t *t, const char *fmt, ...) {
    if (!t) return;
    if (t->count == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        char **n = realloc(t->cells, ncap * sizeof *n);
        if (!n) return;
        t->cells = n;
        t->cap = ncap;
    }
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    t->cells[t->count++] = s ? s : strdup("?");
}

size_t render_table_rows(const render_table_t *t) {
    return t ? t->count / t->columns : 0;
}

static void put_padded(FILE *out, const char *s, size_t width, bool right, bool last) {
    size_t w = render_width(s);
    size_t pad = w < width ? width - w : 0;
    if (right)
        for (size_t i = 0; i < pad; i++)
            fputc(' ', out);
    fputs(s, out);
    if (!right && !last)
        for (size_t i = 0; i < pad; i++)
            fputc(' ', out);
}

void render_table_print(const cli_t *cli, render_table_t *t, FILE *out) {
    if (!t) return;
    size_t rows = t->count / t->columns;
    size_t *width = calloc(t->columns, sizeof *width);
    if (!width) return;
    for (size_t c = 0; c < t->columns; c++) {
        if (t->header && t->header[c]) width[c] = render_width(t->header[c]);
        for (size_t r = 0; r < rows; r++) {
            size_t w = render_width(t->cells[r * t->columns + c]);
            if (w > width[c]) width[c] = w;
        }
    }
    if (t->header) {
        fputs(render_color_code(cli, RC_BOLD), out);
        for (size_t c = 0; c < t->columns; c++) {
            put_padded(out, t->header[c] ? t->header[c] : "", width[c], t->right[c], c + 1 == t->columns);
            if (c + 1 < t->columns) fputs("  ", out);
        }
        fputs(render_color_code(cli, RC_RESET), out);
        fputc('\n', out);
    }
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < t->columns; c++) {
            put_padded(out, t->cells[r * t->columns + c], width[c], t->right[c], c + 1 == t->columns);
            if (c + 1 < t->columns) fputs("  ", out);
        }
        fputc('\n', out);
    }
    free(width);
}

void render_table_free(render_table_t *t) {
    if (!t) return;
    for (size_t i = 0; i < t->count; i++)
        free(t->cells[i]);
    free(t->cells);
    if (t->header)
        for (size_t i = 0; i < t->columns; i++)
            free(t->header[i]);
    free(t->header);
    free(t->right);
    free(t);
}

void render_tree_prefix(const cli_t *cli, char *buf, size_t cap, const bool *last, int depth) {
    bool utf8 = cli && cli->utf8;
    size_t len = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    for (int i = 0; i < depth; i++) {
        const char *piece;
        if (i + 1 < depth)
            piece = last[i] ? "   " : (utf8 ? "\xe2\x94\x82  " : "|  ");
        else
            piece = last[i] ? (utf8 ? "\xe2\x94\x94\xe2\x94\x80 " : "`- ")
                            : (utf8 ? "\xe2\x94\x9c\xe2\x94\x80 " : "|- ");
        size_t l = strlen(piece);
        if (len + l + 1 > cap) return;
        memcpy(buf + len, piece, l);
        len += l;
        buf[len] = '\0';
    }
}

static void put_file(void *user, const char *data, size_t n) {
    fwrite(data, 1, n, user);
}

void render_json_string(FILE *out, const char *s) {
    fputc('"', out);
    escape_json(s, strlen(s), put_file, out);
    fputc('"', out);
}
