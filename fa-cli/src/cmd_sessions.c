/* cmd_sessions.c — `sessions`: every session the daemon knows. */
#include "cli.h"

#include <string.h>

const cmd_info_t cmd_sessions_info = {
    .name = "sessions",
    .summary = "list the sessions (games) the daemon has seen, live ones first",
    .synopsis = "[--limit N | --all]",
    .details = "Columns: id, app, host, pid, started, frames received, live or ended. The session\n"
               "the other commands use by default (the latest live one, else the latest) is\n"
               "marked with '*'. Ids may be shortened to a unique prefix in --session.\n"
               "The newest 100 sessions are listed (live ones first); --limit N or --all for more.\n",
    .example = "  fa-cli sessions\n"
               "  fa-cli sessions --all\n"
               "  fa-cli sessions --json | python3 -c 'import json,sys; print(json.load(sys.stdin))'\n",
};

int cmd_sessions(cli_t *cli, int argc, char **argv) {
    uint32_t limit = 100;
    bool every = false;
    args_opt_t opts[] = {
        {"limit", ARGS_UINT, &limit, "N", "list the newest N sessions (default 100, at most 1000)", 1000},
        {"all", ARGS_FLAG, &every, NULL, "list every session the daemon keeps"},
        {0},
    };
    int rc = args_parse(cli, &cmd_sessions_info, opts, argc, argv);
    if (rc >= 0) return rc;
    http_answer_t a;
    if ((rc = api_get_sessions(cli, limit, every, &a)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *arr = jv_array(a.json, "sessions");
    if (!arr) arr = jv_array(a.json, NULL);
    if (cJSON_GetArraySize(arr) == 0) {
        printf("no sessions yet: run a game linked with fa-agent (it sends to $FA_INSIGHT_URL, default "
               "tcp://127.0.0.1:7879)\n");
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    /* The default session, to mark it. */
    const cJSON *def = NULL, *s;
    uint64_t def_act = 0;
    bool def_live = false;
    cJSON_ArrayForEach(s, arr) {
        bool live = jv_bool(s, "live", false);
        uint64_t act = jv_u64(s, "last_frame_ms", 0);
        if (jv_u64(s, "started_ms", 0) > act) act = jv_u64(s, "started_ms", 0);
        if (!def || (live && !def_live) || (live == def_live && act > def_act)) {
            def = s;
            def_act = act;
            def_live = live;
        }
    }
    render_table_t *t = render_table_new(8);
    const char *head[] = {"", "ID", "APP", "HOST", "PID", "STARTED", "FRAMES", "STATE"};
    render_table_header(t, head);
    render_table_align_right(t, 4);
    render_table_align_right(t, 6);
    uint64_t now = render_now_ms();
    /* Live sessions first, then by start time, newest first (stable order
     * of the daemon's list otherwise). */
    for (int pass = 0; pass < 2; pass++) {
        cJSON_ArrayForEach(s, arr) {
            bool live = jv_bool(s, "live", false);
            if (live != (pass == 0)) continue;
            char ago[32], pid[24];
            const char *label = jv_str(s, "label", "");
            snprintf(pid, sizeof pid, "%llu", (unsigned long long)jv_u64(s, "pid", 0));
            render_table_cell(t, "%s", s == def ? "*" : "");
            render_table_cell(t, "%s", jv_str(s, "id", "?"));
            if (*label)
                render_table_cell(t, "%s (%s)", jv_str(s, "app", "?"), label);
            else
                render_table_cell(t, "%s", jv_str(s, "app", "?"));
            render_table_cell(t, "%s", jv_str(s, "host", "?"));
            render_table_cell(t, "%s", pid);
            render_table_cell(t, "%s", render_ago(ago, sizeof ago, jv_u64(s, "started_ms", 0), now));
            render_table_cell(t, "%llu", (unsigned long long)jv_u64(s, "frames", 0));
            if (live) {
                render_table_cell(t, "%slive%s", render_color_code(cli, RC_GREEN),
                                  render_color_code(cli, RC_RESET));
            } else {
                char ended[32];
                const char *reason = jv_str(s, "end_reason", NULL);
                render_ago(ended, sizeof ended, jv_u64(s, "ended_ms", 0), now);
                render_table_cell(t, "%sended %s%s%s%s%s", render_color_code(cli, RC_DIM), ended,
                                  reason ? " (" : "", reason ? reason : "", reason ? ")" : "",
                                  render_color_code(cli, RC_RESET));
            }
        }
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
    if (jv_str(a.json, "next", NULL)) printf("(older sessions exist: fa-cli sessions --all, or --limit N)\n");
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
