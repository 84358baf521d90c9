/* cmd_alerts.c — `alerts`: budget alerts raised and cleared. */
#include "cli.h"

#include <string.h>

const cmd_info_t cmd_alerts_info = {
    .name = "alerts",
    .summary = "list budget alerts raised and cleared (warning >= 80 %, critical >= 100 % of hard)",
    .synopsis = "[--since DURATION] [--active] [--all-sessions]",
    .details = "Alerts of the session, oldest first: when raised, tag, level, whether still active\n"
               "(an alert clears when usage falls below 75 % of the hard budget), the peak reached\n"
               "and the hard budget.\n",
    .example = "  fa-cli alerts --since 10m\n"
               "  fa-cli alerts --active --all-sessions\n",
};

int cmd_alerts(cli_t *cli, int argc, char **argv) {
    uint64_t since = 0;
    bool have_since = false, active = false, all = false;
    args_opt_t opts[] = {
        {"since", ARGS_TIME, &since, "TIME",
         "only alerts raised or cleared since then (10m = 10 minutes ago)", 0, false, &have_since},
        {"active", ARGS_FLAG, &active, NULL, "only alerts still active"},
        {"all-sessions", ARGS_FLAG, &all, NULL, "alerts of every session, not only the chosen one"},
        {0},
    };
    int rc = args_parse(cli, &cmd_alerts_info, opts, argc, argv);
    if (rc >= 0) return rc;
    char sid[32] = "";
    if (!all && (rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[200] = "/api/v1/alerts?limit=10000", num[32];
    if (!all) http_query_add(path, sizeof path, "session", sid);
    if (have_since) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)since);
        http_query_add(path, sizeof path, "since", num);
    }
    if (active) http_query_add(path, sizeof path, "state", "active");
    http_answer_t a;
    /* Every page (the daemon's cursors), so that nothing is left out. */
    if ((rc = api_get_pages(cli, path, "alerts", LIST_PAGES_MAX, all ? NULL : sid, &a)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *list = jv_array(a.json, "alerts");
    int n = cJSON_GetArraySize(list);
    if (n == 0) {
        printf("no %salerts%s%s\n", active ? "active " : "", all ? "" : " in session ", all ? "" : sid);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    render_table_t *t = render_table_new(all ? 9 : 8);
    const char *head[] = {"RAISED", "TAG", "LEVEL", "STATE", "PEAK", "HARD", "PEAK %", "CLEARED", "SESSION"};
    render_table_header(t, head);
    render_table_align_right(t, 4);
    render_table_align_right(t, 5);
    render_table_align_right(t, 6);
    uint64_t now = render_now_ms();
    /* The daemon lists newest first; print oldest first, newest at the prompt. */
    for (int i = n - 1; i >= 0; i--) {
        const cJSON *al = cJSON_GetArrayItem(list, i);
        char raised[32], cleared[64], b[2][32], pct[32];
        const char *level = jv_str(al, "level", "?");
        bool is_active = strcmp(jv_str(al, "state", ""), "active") == 0;
        render_status st = render_status_parse(level);
        render_table_cell(t, "%s", render_ago(raised, sizeof raised, jv_u64(al, "raised_ms", 0), now));
        const char *tag = jv_str(al, "tag", "?");
        render_table_cell(t, "%s", render_tag_name(tag));
        render_table_cell(t, "%s%s%s", render_color_code(cli, render_status_color(st)), level,
                          render_color_code(cli, RC_RESET));
        render_table_cell(t, "%s%s%s", is_active ? render_color_code(cli, RC_BOLD) : "",
                          is_active ? "active" : "cleared",
                          is_active ? render_color_code(cli, RC_RESET) : "");
        render_table_cell(t, "%s", units_format_bytes(b[0], 32, jv_u64(al, "peak_bytes", 0)));
        render_table_cell(t, "%s", units_format_bytes(b[1], 32, jv_u64(al, "budget_hard", 0)));
        render_table_cell(t, "%s", render_pct(pct, sizeof pct, jv_num(al, "peak_pct", -1)));
        if (is_active) {
            render_table_cell(t, "-");
        } else {
            const char *reason = jv_str(al, "clear_reason", NULL);
            char ago[32];
            render_ago(ago, sizeof ago, jv_u64(al, "cleared_ms", 0), now);
            if (reason)
                snprintf(cleared, sizeof cleared, "%s (%s)", ago, reason);
            else
                snprintf(cleared, sizeof cleared, "%s", ago);
            render_table_cell(t, "%s", cleared);
        }
        if (all) render_table_cell(t, "%s", jv_str(al, "session", "?"));
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
    if (jv_str(a.json, "next", NULL))
        printf("(older alerts exist beyond these %d: narrow with --since)\n", n);
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
