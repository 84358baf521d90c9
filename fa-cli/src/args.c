/* args.c — command options from a table: parsing, --help and usage
 * errors. Every refusal names the option and the value, and ends with the
 * command's usage line, so that a script's author sees what to change. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_usage_line(FILE *out, const cmd_info_t *info) {
    fprintf(out, "usage: " CLI_NAME " [global options] %s%s%s\n", info->name, info->synopsis[0] ? " " : "",
            info->synopsis);
}

int args_usage_error(const cmd_info_t *info, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, CLI_NAME " %s: ", info->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_usage_line(stderr, info);
    fprintf(stderr, "Try '" CLI_NAME " %s --help'.\n", info->name);
    return CLI_EXIT_USAGE;
}

void cli_print_global_options(FILE *out) {
    fputs("Global options (before or after the command):\n"
          "  --server URL      the daemon, default " CLI_DEFAULT_SERVER " or $" CLI_SERVER_ENV "\n"
          "                    ($" CLI_TOKEN_ENV ": the daemon's bearer token, when it has one)\n"
          "  --ca FILE         PEM certificate authority of an https:// daemon's certificate,\n"
          "                    default $" CLI_CA_ENV "\n"
          "  --session ID      a session id (or a unique prefix of one) or 'latest'; default:\n"
          "                    the latest live session, else the latest one\n"
          "  --json            print the daemon's JSON instead of tables (stable, for scripts)\n"
          "  --no-color        no colours (also: NO_COLOR set, or stdout not a terminal)\n"
          "  --timeout DURATION  the most the whole command may take, default 5s (watch: each\n"
          "                    connection attempt)\n"
          "  --max-response SIZE  the largest answer read from the server, default 64MiB\n"
          "  --local           print times in local time (default UTC, always with the zone);\n"
          "                    also how times given without a zone are read\n"
          "  --help, --version\n"
          "Exit codes: 0 ok, 1 daemon down or server error (or a damaged capture file),\n"
          "2 bad arguments (unknown option, tag, session or capture file), 3 budgets --check\n"
          "found a budget exceeded, 4 compare / baseline check found a regression.\n",
          out);
}

static const char *kind_metavar(const args_opt_t *o) {
    if (o->metavar) return o->metavar;
    switch (o->kind) {
    case ARGS_UINT:
        return "N";
    case ARGS_DURATION:
        return "DURATION";
    case ARGS_TIME:
        return "TIME";
    case ARGS_STRING:
        return "TEXT";
    default:
        return "";
    }
}

void args_print_help(FILE *out, const cmd_info_t *info, const args_opt_t *opts) {
    fprintf(out, CLI_NAME " %s: %s\n\n", info->name, info->summary);
    print_usage_line(out, info);
    if (info->details) fprintf(out, "\n%s", info->details);
    bool any = opts && opts[0].name;
    if (any) {
        fputs("\nOptions:\n", out);
        for (const args_opt_t *o = opts; o->name; o++) {
            char left[64];
            if (o->kind == ARGS_FLAG)
                snprintf(left, sizeof left, "--%s", o->name);
            else
                snprintf(left, sizeof left, "--%s %s", o->name, kind_metavar(o));
            fprintf(out, "  %-22s %s\n", left, o->help);
        }
    }
    fputc('\n', out);
    cli_print_global_options(out);
    fprintf(out, "\nExample:\n%s", info->example);
}

int args_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    if (!s || !isdigit((unsigned char)s[0])) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int args_parse_duration(const char *s, uint64_t *out_ms) {
    uint64_t ms;
    if (units_parse_duration(s, &ms) != 0 || ms == 0) return -1;
    *out_ms = ms;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * algorithm): timegm without the non-standard call. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* A zone after a date and time: "Z", "+02:00", "+0200", "-05". Returns
 * its offset east of UTC in seconds and the rest of the string, or NULL. */
static const char *zone_offset(const char *p, long *east_s) {
    if (*p == 'Z') {
        *east_s = 0;
        return p + 1;
    }
    if (*p != '+' && *p != '-') return NULL;
    int sign = *p == '-' ? -1 : 1;
    p++;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1])) return NULL;
    long hh = (p[0] - '0') * 10 + (p[1] - '0'), mm = 0;
    p += 2;
    if (*p == ':') p++;
    if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
        mm = (p[0] - '0') * 10 + (p[1] - '0');
        p += 2;
    }
    if (hh > 14 || mm > 59) return NULL;
    *east_s = sign * (hh * 3600 + mm * 60);
    return p;
}

int args_parse_time(const char *s, uint64_t now_ms, bool local, uint64_t *out_ms) {
    if (!s || !*s) return -1;
    if (strcmp(s, "now") == 0) {
        *out_ms = now_ms;
        return 0;
    }
    /* ISO date: YYYY-MM-DD[(T| )HH:MM[:SS]][Z|+hh:mm]; without a zone, UTC,
     * or local time with --local (as times are printed). */
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (strlen(s) >= 10 && s[4] == '-' && sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) == 3) {
        const char *p = s + n;
        if (*p == 'T' || *p == ' ') {
            int m2 = 0;
            if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &m2) != 2) return -1;
            p += 1 + m2;
            if (*p == ':') {
                int m3 = 0;
                if (sscanf(p + 1, "%2d%n", &sec, &m3) != 1) return -1;
                p += 1 + m3;
            }
        }
        long east = 0;
        bool zoned = *p != '\0';
        if (zoned && (!(p = zone_offset(p, &east)) || *p != '\0')) return -1;
        if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
            return -1;
        int64_t t;
        if (!zoned && local) {
            struct tm tm = {.tm_year = y - 1900,
                            .tm_mon = mo - 1,
                            .tm_mday = d,
                            .tm_hour = h,
                            .tm_min = mi,
                            .tm_sec = sec,
                            .tm_isdst = -1};
            time_t lt = mktime(&tm);
            if (lt == (time_t)-1) return -1;
            t = (int64_t)lt;
        } else {
            t = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60 + sec - east;
        }
        if (t < 0) return -1;
        *out_ms = (uint64_t)t * 1000u;
        return 0;
    }
    /* Unix time: 10 digits in seconds, 13 in milliseconds. */
    size_t len = strlen(s);
    bool digits = true;
    for (size_t i = 0; i < len; i++)
        digits = digits && isdigit((unsigned char)s[i]);
    if (digits && (len == 10 || len == 13)) {
        uint64_t v;
        if (args_parse_uint(s, 0, UINT64_MAX, &v) != 0) return -1;
        *out_ms = len == 10 ? v * 1000u : v;
        return 0;
    }
    /* Otherwise a duration ago; a bare number is seconds ago. */
    uint64_t ago;
    if (args_parse_duration(s, &ago) != 0) return -1;
    *out_ms = ago >= now_ms ? 0 : now_ms - ago;
    return 0;
}

static const args_opt_t *find_opt(const args_opt_t *opts, const char *name, size_t len) {
    for (const args_opt_t *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) return o;
    return NULL;
}

static int set_value(const cli_t *cli, const cmd_info_t *info, const args_opt_t *o, const char *v) {
    switch (o->kind) {
    case ARGS_FLAG:
        *(bool *)o->dest = true;
        return 0;
    case ARGS_STRING:
        if (!*v) return args_usage_error(info, "--%s needs a non-empty %s", o->name, kind_metavar(o));
        *(const char **)o->dest = v;
        return 0;
    case ARGS_UINT: {
        uint64_t max = o->max ? o->max : UINT32_MAX, x;
        if (args_parse_uint(v, o->allow_zero ? 0 : 1, max, &x) != 0)
            return args_usage_error(info, "--%s: '%s' is not a whole number from %d to %llu", o->name, v,
                                    o->allow_zero ? 0 : 1, (unsigned long long)max);
        *(uint32_t *)o->dest = (uint32_t)x;
        return 0;
    }
    case ARGS_DURATION:
        if (args_parse_duration(v, (uint64_t *)o->dest) != 0)
            return args_usage_error(info,
                                    "--%s: '%s' is not a duration (a positive number with ms, s, m, h "
                                    "or d, e.g. 30s, 5m, 2h)",
                                    o->name, v);
        return 0;
    case ARGS_TIME:
        if (args_parse_time(v, render_now_ms(), cli && cli->local_time, (uint64_t *)o->dest) != 0)
            return args_usage_error(info,
                                    "--%s: '%s' is not a time (a duration ago like 10m, 'now', unix "
                                    "seconds or ms, or 2024-05-01T12:00:00 in %s, or with a zone: ...Z, "
                                    "...+02:00)",
                                    o->name, v, cli && cli->local_time ? "local time (--local)" : "UTC");
        return 0;
    }
    return args_usage_error(info, "--%s: unsupported option kind", o->name);
}

int args_parse(const cli_t *cli, const cmd_info_t *info, const args_opt_t *opts, int argc, char **argv) {
    return args_parse_positional(cli, info, opts, argc, argv, NULL, 0, NULL);
}

int args_parse_positional(const cli_t *cli, const cmd_info_t *info, const args_opt_t *opts, int argc, char **argv,
                          const char **pos, int max_pos, int *npos) {
    if (npos) *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            args_print_help(stdout, info, opts);
            return CLI_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (a[0] == '-' && a[1] != '\0')
                return args_usage_error(info, "unknown option '%s' (options are long: --name)", a);
            if (npos && *npos < max_pos) {
                pos[(*npos)++] = a;
                continue;
            }
            return args_usage_error(info, "unexpected argument '%s'", a);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const args_opt_t *o = find_opt(opts, name, nlen);
        if (!o) return args_usage_error(info, "unknown option '--%.*s'", (int)nlen, name);
        const char *value = NULL;
        if (o->kind == ARGS_FLAG) {
            if (eq) return args_usage_error(info, "--%s takes no value", o->name);
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return args_usage_error(info, "--%s needs a value (%s)", o->name, kind_metavar(o));
        }
        int rc = set_value(cli, info, o, value);
        if (rc != 0) return rc;
        if (o->seen) *o->seen = true;
    }
    return -1;
}
