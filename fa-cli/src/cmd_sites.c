/* cmd_sites.c — `sites`: which lines allocate. A tag's top call sites over
 * a window (bytes and allocations per frame, share of the tag), each with
 * a sparkline of its bytes per frame. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SITES_SPARK_POINTS 16u
#define SITES_LIMIT_MAX 1000u

const cmd_info_t cmd_sites_info = {
    .name = "sites",
    .summary = "list the call sites (file:line, function) that allocate the most, per tag",
    .synopsis = "[--tag T] [--window DURATION] [--sort bytes|count] [--limit N]",
    .details = "Every allocation made through framealloc's macros is counted for the line that\n"
               "made it. Rows are (site, tag) pairs of the window, largest first: bytes and\n"
               "allocations per frame (average over the window's frames, and the most in one\n"
               "frame), the share of the tag's bytes (or of all memory without --tag), and a\n"
               "sparkline of bytes per frame across the window. '(other sites)' holds what the\n"
               "agent left out of its per-frame rows, so the rows add up to the tag. --tag takes\n"
               "the tag and its descendants. With --json, the daemon's /sites document.\n",
    .example = "  fa-cli sites --tag physics\n"
               "  fa-cli sites --window 10m --sort count --limit 5\n"
               "  fa-cli sites --tag render --json\n",
};

/* The sparkline of one site: its bytes per frame over the window (blank
 * cells: no frame there). Best effort: a failed request leaves it blank. */
static void site_sparkline(cli_t *cli, const char *sid, uint64_t site_id, const char *tag, uint64_t window_ms,
                           char *out, size_t cap) {
    double vals[SITES_SPARK_POINTS];
    for (size_t i = 0; i < SITES_SPARK_POINTS; i++)
        vals[i] = NAN;
    char path[1400], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/sites/%llu", sid, (unsigned long long)site_id);
    snprintf(num, sizeof num, "%llums", (unsigned long long)window_ms);
    http_query_add(path, sizeof path, "window", num);
    snprintf(num, sizeof num, "%u", SITES_SPARK_POINTS);
    http_query_add(path, sizeof path, "points", num);
    http_query_add(path, sizeof path, "context", "0");
    if (tag) http_query_add(path, sizeof path, "tag", tag[0] ? tag : "/");
    http_answer_t a;
    out[0] = '\0';
    if (site_id == 0 || http_get(cli, path, &a) != 0) return;
    if (a.status == 200) {
        const cJSON *trend = jv_get(a.json, "trend"), *p;
        uint64_t from = jv_u64(a.json, "from_ms", 0), step = jv_u64(trend, "step_ms", 1);
        if (step == 0) step = 1;
        cJSON_ArrayForEach(p, jv_array(trend, "series")) {
            uint64_t t = jv_u64(p, "t_ms", from), idx = t >= from ? (t - from) / step : 0;
            vals[idx < SITES_SPARK_POINTS ? idx : SITES_SPARK_POINTS - 1] =
                (double)jv_u64(p, "bytes_per_frame", 0);
        }
        double hi = 0;
        for (size_t i = 0; i < SITES_SPARK_POINTS; i++)
            if (!isnan(vals[i]) && vals[i] > hi) hi = vals[i];
        render_sparkline(out, cap, vals, SITES_SPARK_POINTS, 0, hi, cli->utf8);
    }
    http_answer_free(&a);
}

/* "file:line", keeping the end of a long path. */
static const char *where(char *buf, size_t cap, const char *file, uint64_t line) {
    size_t len = strlen(file), keep = 48;
    if (len > keep)
        snprintf(buf, cap, "...%s:%llu", file + len - keep, (unsigned long long)line);
    else
        snprintf(buf, cap, "%s:%llu", file, (unsigned long long)line);
    return buf;
}

int cmd_sites(cli_t *cli, int argc, char **argv) {
    const char *tag = NULL, *sort = "bytes";
    uint64_t window_ms = 60u * 1000u;
    uint32_t limit = 20;
    args_opt_t opts[] = {
        {"tag", ARGS_STRING, &tag, "T", "only this tag and its descendants, e.g. physics ('/' for the root)"},
        {"window", ARGS_DURATION, &window_ms, "DURATION",
         "how far back from the latest frame (default 1m, 1s..30d)"},
        {"sort", ARGS_STRING, &sort, "bytes|count", "largest first by bytes (default) or by allocations"},
        {"limit", ARGS_UINT, &limit, "N", "rows shown (default 20, at most 1000)", SITES_LIMIT_MAX},
        {0},
    };
    int rc = args_parse(cli, &cmd_sites_info, opts, argc, argv);
    if (rc >= 0) return rc;
    if (strcmp(sort, "bytes") != 0 && strcmp(sort, "count") != 0)
        return args_usage_error(&cmd_sites_info, "--sort must be 'bytes' or 'count', not '%.40s'", sort);
    if (window_ms < 1000 || window_ms > 30ull * 86400u * 1000u)
        return args_usage_error(&cmd_sites_info, "--window must be from 1s to 30d");
    char sid[32];
    if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[1400], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/sites", sid);
    if (tag && http_query_add(path, sizeof path, "tag", tag) != 0)
        return args_usage_error(&cmd_sites_info, "--tag: '%.40s...' is too long", tag);
    snprintf(num, sizeof num, "%llums", (unsigned long long)window_ms);
    http_query_add(path, sizeof path, "window", num);
    snprintf(num, sizeof num, "%u", limit);
    http_query_add(path, sizeof path, "limit", num);
    http_query_add(path, sizeof path, "sort", sort);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, tag)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    /* The sparklines span the part of the window the session has frames
     * in (a game that ran 5 s of a 1 m window still gets a whole line). */
    uint64_t spark_ms = window_ms, to_ms = jv_u64(a.json, "to_ms", 0);
    http_answer_t sa;
    snprintf(path, sizeof path, "/api/v1/sessions/%s", sid);
    if (http_get(cli, path, &sa) == 0) {
        uint64_t first = jv_u64(sa.json, "first_frame_ms", 0);
        if (sa.status == 200 && first && to_ms > first && to_ms - first < spark_ms)
            spark_ms = to_ms - first + 1;
        if (spark_ms < 1000) spark_ms = 1000;
        http_answer_free(&sa);
    }
    const char *shown_tag = jv_str(a.json, "tag", NULL);
    const cJSON *rows = jv_array(a.json, "sites"), *r;
    char wbuf[32], b[2][32];
    printf("%s%s%s  last %s, %llu frames (source: %s)\n", render_color_code(cli, RC_BOLD),
           shown_tag ? render_tag_name(shown_tag) : "all tags", render_color_code(cli, RC_RESET),
           render_duration_ms(wbuf, sizeof wbuf, jv_u64(a.json, "window_ms", window_ms)),
           (unsigned long long)jv_u64(a.json, "frames", 0), jv_str(a.json, "source", "?"));
    if (cJSON_GetArraySize(rows) == 0) {
        printf("no call sites in this window (an agent older than protocol 1.1, a build with FA_NO_SITES, or "
               "no allocation)\n");
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    render_table_t *t = render_table_new(8);
    const char *head[] = {"BYTES/FRAME", "MAX",      "ALLOCS/FRAME", "SHARE",
                          "TREND",       "FUNCTION", "FILE:LINE",    "TAG"};
    render_table_header(t, head);
    for (size_t c = 0; c < 4; c++)
        render_table_align_right(t, c);
    cJSON_ArrayForEach(r, rows) {
        const cJSON *bytes = jv_get(r, "bytes_per_frame"), *count = jv_get(r, "count_per_frame");
        char pct[32], spark[SITES_SPARK_POINTS * 4 + 1], loc[96];
        const char *row_tag = jv_str(r, "tag", NULL);
        site_sparkline(cli, sid, jv_u64(r, "site_id", 0), row_tag, spark_ms, spark, sizeof spark);
        render_table_cell(t, "%s", units_format_bytes(b[0], sizeof b[0], jv_u64(bytes, "avg", 0)));
        render_table_cell(t, "%s", units_format_bytes(b[1], sizeof b[1], jv_u64(bytes, "max", 0)));
        double per_frame = jv_num(count, "avg", 0);
        if (per_frame >= 100 || per_frame == floor(per_frame))
            render_table_cell(t, "%.0f", per_frame);
        else
            render_table_cell(t, "%.2f", per_frame);
        render_table_cell(t, "%s", render_pct(pct, sizeof pct, jv_num(r, "share", 0) * 100.0));
        render_table_cell(t, "%s%s%s", render_color_code(cli, RC_CYAN), spark,
                          render_color_code(cli, RC_RESET));
        if (jv_bool(r, "other", false)) {
            render_table_cell(t, "%s(other sites)%s", render_color_code(cli, RC_DIM),
                              render_color_code(cli, RC_RESET));
            render_table_cell(t, "-");
        } else if (jv_bool(r, "defined", false) && jv_u64(r, "line", 0) == 0) {
            /* lib's unknown site of a kind: calls that bypass the macros */
            render_table_cell(t, "%s(calls without the macros, %s)%s", render_color_code(cli, RC_DIM),
                              jv_str(r, "kind", "?"), render_color_code(cli, RC_RESET));
            render_table_cell(t, "-");
        } else if (!jv_bool(r, "defined", false)) {
            render_table_cell(t, "(site %llu)", (unsigned long long)jv_u64(r, "site_id", 0));
            render_table_cell(t, "-");
        } else {
            render_table_cell(t, "%s", jv_str(r, "function", "?"));
            render_table_cell(t, "%s", where(loc, sizeof loc, jv_str(r, "file", "?"), jv_u64(r, "line", 0)));
        }
        render_table_cell(t, "%s", row_tag ? render_tag_name(row_tag) : "?");
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
    const cJSON *totals = jv_get(a.json, "totals");
    printf("total %s/frame, %.1f allocations/frame",
           units_format_bytes(b[0], sizeof b[0], jv_u64(totals, "bytes_per_frame", 0)),
           jv_num(totals, "count_per_frame", 0));
    if (jv_bool(a.json, "truncated", false))
        printf("; %llu rows, %d shown (--limit)", (unsigned long long)jv_u64(a.json, "pairs", 0),
               cJSON_GetArraySize(rows));
    printf("\n");
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
