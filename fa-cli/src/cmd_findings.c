/* cmd_findings.c — `findings`: behaviour-filter findings with their codes
 * and how to fix them (advice from libframealloc's code table). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <framealloc.h>

const cmd_info_t cmd_findings_info = {
    .name = "findings",
    .summary = "list behaviour-filter findings (wasteful allocation patterns) and how to fix them",
    .synopsis = "[--since TIME]",
    .details = "The daemon stores findings per second; they are merged here by code, tag and kind:\n"
               "seconds seen, when last seen, the highest count in the filter's window and the\n"
               "largest value (bytes). Each code is then explained with its fix. The codes are\n"
               "listed in docs/behaviour.md. The game turns the filter on with\n"
               "fa_behaviour_enable(fa, FA_BEHAVIOUR_DEFAULT).\n",
    .example = "  fa-cli findings\n"
               "  fa-cli findings --since 5m --json\n",
};

typedef struct merged {
    int code;
    const char *name, *tag, *kind;
    const char *meaning, *advice; /* the daemon's text when it sends one */
    uint64_t seconds, last_ms, count_max, value_max;
} merged_t;

static int by_code_then_tag(const void *a, const void *b) {
    const merged_t *x = a, *y = b;
    if (x->code != y->code) return x->code - y->code;
    int c = strcmp(x->tag, y->tag);
    return c ? c : strcmp(x->kind, y->kind);
}

int cmd_findings(cli_t *cli, int argc, char **argv) {
    uint64_t since = 0;
    bool have_since = false;
    args_opt_t opts[] = {
        {"since", ARGS_TIME, &since, "TIME",
         "only findings since then (5m = 5 minutes ago; default: all kept)", 0, false, &have_since},
        {0},
    };
    int rc = args_parse(cli, &cmd_findings_info, opts, argc, argv);
    if (rc >= 0) return rc;
    char sid[32];
    if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[200], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/findings?limit=5000", sid);
    if (have_since) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)since);
        http_query_add(path, sizeof path, "since", num);
    }
    http_answer_t a;
    /* Every page (the daemon's cursors): the table merges all of them. */
    if ((rc = api_get_pages(cli, path, "findings", LIST_PAGES_MAX, sid, &a)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *rows = jv_array(a.json, "findings"), *r;
    int n = cJSON_GetArraySize(rows);
    if (n == 0) {
        printf("no findings in session %s (is the behaviour filter on? fa_behaviour_enable)\n", sid);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    merged_t *m = calloc((size_t)n, sizeof *m);
    size_t k = 0;
    cJSON_ArrayForEach(r, rows) {
        if (!m) break;
        int code = (int)jv_u64(r, "code", 0);
        const char *tag = jv_str(r, "tag", NULL);
        if (!tag) tag = "?";
        const char *kind = jv_str(r, "kind", "?");
        size_t i;
        for (i = 0; i < k; i++)
            if (m[i].code == code && strcmp(m[i].tag, tag) == 0 && strcmp(m[i].kind, kind) == 0) break;
        if (i == k) {
            m[k] = (merged_t){.code = code,
                              .name = jv_str(r, "name", fa_finding_name(code)),
                              .tag = tag,
                              .kind = kind,
                              .meaning = jv_str(r, "meaning", fa_finding_meaning(code)),
                              .advice = jv_str(r, "advice", fa_finding_advice(code))};
            k++;
        }
        uint64_t t = jv_u64(r, "t_ms", 0), c = jv_u64(r, "count", 0), v = jv_u64(r, "value", 0);
        m[i].seconds++;
        if (t > m[i].last_ms) m[i].last_ms = t;
        if (c > m[i].count_max) m[i].count_max = c;
        if (v > m[i].value_max) m[i].value_max = v;
    }
    qsort(m, k, sizeof *m, by_code_then_tag);
    render_table_t *t = render_table_new(8);
    const char *head[] = {"CODE", "FINDING", "TAG", "KIND", "SEEN", "LAST", "COUNT", "VALUE"};
    render_table_header(t, head);
    render_table_align_right(t, 0);
    render_table_align_right(t, 4);
    render_table_align_right(t, 6);
    render_table_align_right(t, 7);
    uint64_t now = render_now_ms();
    for (size_t i = 0; i < k; i++) {
        char ago[32], b[32];
        render_table_cell(t, "%d", m[i].code);
        render_table_cell(t, "%s%s%s", render_color_code(cli, RC_YELLOW), m[i].name,
                          render_color_code(cli, RC_RESET));
        render_table_cell(t, "%s", render_tag_name(m[i].tag));
        render_table_cell(t, "%s", m[i].kind);
        render_table_cell(t, "%llus", (unsigned long long)m[i].seconds);
        render_table_cell(t, "%s", render_ago(ago, sizeof ago, m[i].last_ms, now));
        render_table_cell(t, "%llu", (unsigned long long)m[i].count_max);
        render_table_cell(t, "%s", units_format_bytes(b, sizeof b, m[i].value_max));
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
    printf("\nHow to fix:\n");
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && m[i].code == m[i - 1].code) continue;
        printf("  [%d] %s%s%s: %s\n      fix: %s\n", m[i].code, render_color_code(cli, RC_BOLD), m[i].name,
               render_color_code(cli, RC_RESET), m[i].meaning, m[i].advice);
    }
    if (jv_str(a.json, "next", NULL))
        printf("(older findings exist beyond these %d seconds: narrow with --since)\n", n);
    free(m);
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
