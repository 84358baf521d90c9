/* cmd_trend.c — `trend`: one tag's usage over a window as a sparkline
 * with min / avg / max / last. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const cmd_info_t cmd_trend_info = {
    .name = "trend",
    .summary = "draw a tag's memory over a time window as a sparkline with min/avg/max/last",
    .synopsis = "--tag T [--window DURATION] [--points N]",
    .details = "The window ends at the session's latest frame. Each point covers window/points of\n"
               "time; a blank cell means no frame in that slice. The line is scaled from the\n"
               "window's lowest to its highest value; the budget, when the tag has one, is shown\n"
               "beside the figures.\n",
    .example = "  fa-cli trend --tag physics\n"
               "  fa-cli trend --tag render --window 1h --points 120\n",
};

int cmd_trend(cli_t *cli, int argc, char **argv) {
    const char *tag = NULL;
    uint64_t window_ms = 5u * 60u * 1000u;
    uint32_t points = 60;
    args_opt_t opts[] = {
        {"tag", ARGS_STRING, &tag, "T", "the tag, e.g. physics/contacts ('/' for all memory) (required)"},
        {"window", ARGS_DURATION, &window_ms, "DURATION",
         "how far back from the latest frame (default 5m, 1s..30d)"},
        {"points", ARGS_UINT, &points, "N", "points in the line (default 60, at most 1000)", 1000},
        {0},
    };
    int rc = args_parse(cli, &cmd_trend_info, opts, argc, argv);
    if (rc >= 0) return rc;
    if (!tag) return args_usage_error(&cmd_trend_info, "--tag is required");
    if (window_ms < 1000 || window_ms > 30ull * 86400u * 1000u)
        return args_usage_error(&cmd_trend_info, "--window must be from 1s to 30d");
    char sid[32];
    if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[1400], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/trend", sid);
    snprintf(num, sizeof num, "%llums", (unsigned long long)window_ms);
    if (http_query_add(path, sizeof path, "tag", tag) != 0)
        return args_usage_error(&cmd_trend_info, "--tag: '%.40s...' is too long", tag);
    http_query_add(path, sizeof path, "window", num);
    snprintf(num, sizeof num, "%u", points);
    http_query_add(path, sizeof path, "points", num);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, tag)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *series = jv_array(a.json, "series"), *p;
    uint64_t from = jv_u64(a.json, "from_ms", 0), step = jv_u64(a.json, "step_ms", 1);
    uint32_t npoints = (uint32_t)jv_u64(a.json, "points", points);
    if (npoints == 0 || npoints > 1000) npoints = points;
    if (step == 0) step = 1;
    const char *shown_tag = jv_str(a.json, "tag", tag);
    char wbuf[32], sbuf[32];
    printf("%s%s%s  last %s, %u points of %s (source: %s)\n", render_color_code(cli, RC_BOLD),
           render_tag_name(shown_tag), render_color_code(cli, RC_RESET),
           render_duration_ms(wbuf, sizeof wbuf, jv_u64(a.json, "window_ms", window_ms)), npoints,
           render_duration_ms(sbuf, sizeof sbuf, step), jv_str(a.json, "source", "?"));
    if (cJSON_GetArraySize(series) == 0) {
        printf("no data for %s in this window\n", render_tag_name(shown_tag));
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    double *vals = malloc(npoints * sizeof *vals);
    if (!vals) {
        http_answer_free(&a);
        return CLI_EXIT_SERVER;
    }
    for (uint32_t i = 0; i < npoints; i++)
        vals[i] = NAN;
    uint64_t mn = UINT64_MAX, mx = 0, last = 0, last_t = 0;
    double sum = 0, weight = 0;
    cJSON_ArrayForEach(p, series) {
        uint64_t t = jv_u64(p, "t_ms", from);
        uint64_t idx = t >= from ? (t - from) / step : 0;
        if (idx >= npoints) idx = npoints - 1;
        uint64_t avg = jv_u64(p, "avg", 0), frames = jv_u64(p, "frames", 1);
        vals[idx] = (double)avg;
        if (jv_u64(p, "min", avg) < mn) mn = jv_u64(p, "min", avg);
        if (jv_u64(p, "max", avg) > mx) mx = jv_u64(p, "max", avg);
        if (t >= last_t) {
            last_t = t;
            last = jv_u64(p, "last", avg);
        }
        sum += (double)avg * (double)(frames ? frames : 1);
        weight += (double)(frames ? frames : 1);
    }
    /* Scale between the lowest and highest averages so the shape shows. */
    double lo = INFINITY, hi = -INFINITY;
    for (uint32_t i = 0; i < npoints; i++) {
        if (isnan(vals[i])) continue;
        if (vals[i] < lo) lo = vals[i];
        if (vals[i] > hi) hi = vals[i];
    }
    size_t cap = (size_t)npoints * 4 + 1;
    char *line = malloc(cap);
    if (line) {
        render_sparkline(line, cap, vals, npoints, lo, hi, cli->utf8);
        printf("%s%s%s\n", render_color_code(cli, RC_CYAN), line, render_color_code(cli, RC_RESET));
    }
    free(line);
    free(vals);
    char b[4][32];
    printf("min %s   avg %s   max %s   last %s", units_format_bytes(b[0], 32, mn),
           units_format_bytes(b[1], 32, weight > 0 ? (uint64_t)(sum / weight + 0.5) : 0),
           units_format_bytes(b[2], 32, mx), units_format_bytes(b[3], 32, last));
    /* The budget, from the budgets route (best effort: a failure here only
     * leaves it out). */
    char bpath[1400];
    snprintf(bpath, sizeof bpath, "/api/v1/sessions/%s/budgets", sid);
    http_query_add(bpath, sizeof bpath, "tag", shown_tag[0] ? shown_tag : "/");
    http_answer_t ba;
    if (http_get(cli, bpath, &ba) == 0) {
        const cJSON *row = cJSON_GetArrayItem(jv_array(ba.json, "budgets"), 0);
        uint64_t hard = jv_u64(row, "budget_hard", 0);
        if (ba.status == 200 && hard) {
            char hb[32], pct[32];
            render_status st = render_status_of(last, hard);
            printf("   budget %s hard: %s%s %s%s", units_format_bytes(hb, sizeof hb, hard),
                   render_color_code(cli, render_status_color(st)),
                   render_pct(pct, sizeof pct, (double)last * 100.0 / (double)hard), render_status_name(st),
                   render_color_code(cli, RC_RESET));
        }
        http_answer_free(&ba);
    }
    printf("\n");
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
