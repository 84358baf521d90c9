/* cmd_fleet.c — `fleet`: one app's builds and tags across its sessions
 * (every host that writes to the daemon's store). */
#include "cli.h"

#include <string.h>

const cmd_info_t cmd_fleet_info = {
    .name = "fleet",
    .summary = "an app's builds x tags across sessions: peak and average spreads, sessions over budget",
    .synopsis = "--app APP [--build BUILD] [--tag TAG] [--since TIME]",
    .details = "For each build of the app and each tag (with --tag: that tag and the ones below it),\n"
               "across the sessions active since --since (default: the last 24 hours) on every host\n"
               "writing to the daemon's store: the p50 / p95 / max of each session's peak and of its\n"
               "per-frame average, the hard budget, how many sessions went over it, and the worst\n"
               "session (its peak against its budget) with its host. STATE is critical when a session\n"
               "went over its budget, warning when the p95 peak reached 80 % of it.\n",
    .example = "  fa-cli fleet --app mygame\n"
               "  fa-cli fleet --app mygame --tag physics --since 2h\n",
};

static void spread_cells(render_table_t *t, const cJSON *s) {
    char b[3][32];
    render_table_cell(t, "%s", units_format_bytes(b[0], 32, jv_u64(s, "p50", 0)));
    render_table_cell(t, "%s", units_format_bytes(b[1], 32, jv_u64(s, "p95", 0)));
    render_table_cell(t, "%s", units_format_bytes(b[2], 32, jv_u64(s, "max", 0)));
}

static void print_build(const cli_t *cli, const cJSON *b) {
    const cJSON *hosts = jv_array(b, "host_names");
    char last[32];
    printf("%sbuild %s%s  %llu sessions on %llu hosts (", render_color_code(cli, RC_BOLD),
           jv_str(b, "build", "?"), render_color_code(cli, RC_RESET),
           (unsigned long long)jv_u64(b, "sessions", 0), (unsigned long long)jv_u64(b, "hosts", 0));
    for (int i = 0; i < cJSON_GetArraySize(hosts); i++)
        printf("%s%s", i ? ", " : "",
               cJSON_IsString(cJSON_GetArrayItem(hosts, i)) ? cJSON_GetArrayItem(hosts, i)->valuestring
                                                            : "?");
    if ((uint64_t)cJSON_GetArraySize(hosts) < jv_u64(b, "hosts", 0)) printf(", ...");
    printf("), last seen %s\n", render_ago(last, sizeof last, jv_u64(b, "last_seen_ms", 0), render_now_ms()));
    render_table_t *t = render_table_new(12);
    const char *head[] = {"TAG", "SESSIONS", "PEAK p50", "p95",  "max",   "AVG p50",
                          "p95", "max",      "BUDGET",   "OVER", "STATE", "WORST SESSION"};
    render_table_header(t, head);
    for (size_t c = 1; c <= 9; c++)
        render_table_align_right(t, c);
    const cJSON *tags = jv_array(b, "tags");
    for (int i = 0; i < cJSON_GetArraySize(tags); i++) {
        const cJSON *row = cJSON_GetArrayItem(tags, i);
        char budget[32], pct[32];
        render_table_cell(t, "%s", render_tag_name(jv_str(row, "tag", "?")));
        render_table_cell(t, "%llu", (unsigned long long)jv_u64(row, "sessions", 0));
        spread_cells(t, jv_get(row, "peak"));
        spread_cells(t, jv_get(row, "avg"));
        uint64_t hard = jv_u64(row, "budget_hard", 0);
        render_table_cell(t, "%s", hard ? units_format_bytes(budget, sizeof budget, hard) : "-");
        render_table_cell(t, "%llu", (unsigned long long)jv_u64(row, "over_budget", 0));
        const char *state = jv_str(row, "state", "?");
        render_status st = render_status_parse(state);
        render_table_cell(t, "%s%s%s", render_color_code(cli, render_status_color(st)),
                          strcmp(state, "no_budget") ? state : "-", render_color_code(cli, RC_RESET));
        const cJSON *worst = cJSON_GetArrayItem(jv_array(row, "worst"), 0);
        if (!worst)
            render_table_cell(t, "-");
        else if (jv_has(worst, "used_pct"))
            render_table_cell(t, "%s %s (%s)", jv_str(worst, "session", "?"), jv_str(worst, "host", "?"),
                              render_pct(pct, sizeof pct, jv_num(worst, "used_pct", -1)));
        else
            render_table_cell(t, "%s %s", jv_str(worst, "session", "?"), jv_str(worst, "host", "?"));
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
}

int cmd_fleet(cli_t *cli, int argc, char **argv) {
    const char *app = NULL, *build = NULL, *tag = NULL;
    uint64_t since = 0;
    bool have_since = false;
    args_opt_t opts[] = {
        {"app", ARGS_STRING, &app, "APP", "the app (its name in the sessions list)"},
        {"build", ARGS_STRING, &build, "BUILD", "only this build"},
        {"tag", ARGS_STRING, &tag, "TAG", "only this tag and the tags below it"},
        {"since", ARGS_TIME, &since, "TIME", "sessions active since then (2h = 2 hours ago; default 24h)", 0,
         false, &have_since},
        {0},
    };
    int rc = args_parse(cli, &cmd_fleet_info, opts, argc, argv);
    if (rc >= 0) return rc;
    if (!app)
        return args_usage_error(&cmd_fleet_info, "--app is required (the app's name, see 'fa-cli sessions')");
    char path[1200] = "/api/v1/fleet", num[32];
    if (http_query_add(path, sizeof path, "app", app) != 0 ||
        (build && http_query_add(path, sizeof path, "build", build) != 0) ||
        (tag && http_query_add(path, sizeof path, "tag", tag) != 0))
        return args_usage_error(&cmd_fleet_info, "--app, --build and --tag are too long together");
    if (have_since) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)since);
        http_query_add(path, sizeof path, "since", num);
    }
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, NULL, NULL)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *builds = jv_array(a.json, "builds");
    int n = cJSON_GetArraySize(builds);
    char since_text[64];
    render_clock(cli, since_text, sizeof since_text, jv_u64(a.json, "since_ms", 0), RENDER_CLOCK_DATE);
    if (n == 0) {
        printf("no sessions of '%s'%s%s%s since %s\n", app, build ? " build " : "", build ? build : "",
               tag ? " with that tag" : "", since_text);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    printf("%s: %llu sessions since %s\n\n", app, (unsigned long long)jv_u64(a.json, "sessions", 0),
           since_text);
    for (int i = 0; i < n; i++) {
        if (i) putchar('\n');
        print_build(cli, cJSON_GetArrayItem(builds, i));
    }
    if (jv_bool(a.json, "truncated", false)) printf("(more builds exist: narrow with --since or --build)\n");
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
