/* cmd_findings.c — `findings`: both kinds of findings. Runtime: the
 * behaviour filter's, with their codes and how to fix them (advice from
 * libframealloc's code table). Static: fa-lint's SARIF report that the
 * daemon holds (GET /api/v1/lint), each beside the runtime call site of the
 * same line when the session has one (GET /api/v1/sessions/{id}/sites;
 * files matched by lib/text/pathmatch.h's rule, like the dashboard). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <framealloc.h>

#include "pathmatch.h"

#define SITES_QUERY "limit=1000&window=60s" /* the last minute, the route's largest page */

const cmd_info_t cmd_findings_info = {
    .name = "findings",
    .summary = "list findings: the behaviour filter's (runtime) and fa-lint's (static), with fixes",
    .synopsis = "[--kind all|runtime|static] [--since TIME]",
    .details = "Runtime findings: the daemon stores them per second; they are merged here by code,\n"
               "tag and kind: seconds seen, when last seen, the highest count in the filter's window\n"
               "and the largest value (bytes). Each code is then explained with its fix (codes in\n"
               "docs/behaviour.md; the game turns the filter on with fa_behaviour_enable).\n"
               "Static findings: the fa-lint report the daemon holds (PUT /api/v1/lint, or its\n"
               "--lint-report FILE), by file and line; where a line is a call site of the session,\n"
               "its bytes and allocations per frame over the last minute follow. Files match by\n"
               "their longest common path suffix (examples/fa-demo.c is /src/game/examples/fa-demo.c).\n"
               "--json: the runtime document with the static one under \"static\" (each finding\n"
               "with \"runtime\": its call sites, or null); --kind picks one document.\n",
    .example = "  fa-cli findings\n"
               "  fa-cli findings --kind static --session latest\n"
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

/* The behaviour filter's findings of session sid, every page. */
static int runtime_get(cli_t *cli, const char *sid, bool have_since, uint64_t since, http_answer_t *a) {
    char path[200], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/findings?limit=5000", sid);
    if (have_since) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)since);
        http_query_add(path, sizeof path, "since", num);
    }
    /* Every page (the daemon's cursors): the table merges all of them. */
    return api_get_pages(cli, path, "findings", LIST_PAGES_MAX, sid, a);
}

static void runtime_print(const cli_t *cli, const char *sid, const http_answer_t *a) {
    const cJSON *rows = jv_array(a->json, "findings"), *r;
    int n = cJSON_GetArraySize(rows);
    if (n == 0) {
        printf("no runtime findings in session %s (is the behaviour filter on? fa_behaviour_enable)\n", sid);
        return;
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
    if (jv_str(a->json, "next", NULL))
        printf("(older findings exist beyond these %d seconds: narrow with --since)\n", n);
    free(m);
}

/* ---- static findings -------------------------------------------------------- */

/* The daemon's report, or 1 (printed) when the daemon holds none it can
 * say: an older daemon without the route answers not_found. */
static int static_get(cli_t *cli, http_answer_t *a, bool *absent) {
    *absent = false;
    int rc = http_get(cli, "/api/v1/lint", a);
    if (rc != 0) {
        http_print_down(cli, rc);
        return CLI_EXIT_SERVER;
    }
    const char *code = NULL, *message = NULL;
    if (a->status == 200 && a->json) return 0;
    http_error_fields(a, &code, &message);
    if (a->status == 404 && code && !strcmp(code, "not_found")) {
        *absent = true;
        return 0;
    }
    fprintf(stderr, "fa-cli: GET /api/v1/lint: %u %s\n", a->status, message ? message : "(no JSON error)");
    http_answer_free(a);
    return CLI_EXIT_SERVER;
}

/* Call sites of session sid over the last minute; NULL when there are none
 * to read (no session, a daemon without call sites). */
static const cJSON *sites_get(cli_t *cli, const char *sid, http_answer_t *a) {
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/sites?" SITES_QUERY, sid);
    if (http_get(cli, path, a) != 0) return NULL;
    return a->status == 200 ? jv_array(a->json, "sites") : NULL;
}

/* Adds "runtime" to each static finding: the call sites at its line whose
 * file shares the longest path suffix with its own (null: none), their
 * bytes and allocations per frame added up. */
static void join_sites(cJSON *findings, const cJSON *sites) {
    cJSON *f;
    cJSON_ArrayForEach(f, findings) {
        const char *file = jv_str(f, "file", "");
        uint64_t line = jv_u64(f, "line", 0);
        unsigned best = 0;
        const cJSON *s;
        cJSON_ArrayForEach(s, sites) {
            if (line && jv_u64(s, "line", 0) == line && !jv_bool(s, "other", false)) {
                unsigned score = pathmatch_suffix(file, jv_str(s, "file", ""));
                if (score > best) best = score;
            }
        }
        if (!best) {
            cJSON_AddNullToObject(f, "runtime");
            continue;
        }
        cJSON *rt = cJSON_AddObjectToObject(f, "runtime"), *list = cJSON_AddArrayToObject(rt, "sites");
        double bytes = 0, count = 0;
        cJSON_ArrayForEach(s, sites) {
            if (jv_u64(s, "line", 0) != line || jv_bool(s, "other", false) ||
                pathmatch_suffix(file, jv_str(s, "file", "")) != best)
                continue;
            bytes += jv_num(jv_get(s, "bytes_per_frame"), "avg", 0);
            count += jv_num(jv_get(s, "count_per_frame"), "avg", 0);
            cJSON_AddItemToArray(list, cJSON_Duplicate(s, true));
        }
        cJSON_AddNumberToObject(rt, "bytes_per_frame", bytes);
        cJSON_AddNumberToObject(rt, "count_per_frame", count);
    }
}

static void static_print(const cli_t *cli, const cJSON *doc, const char *sid, bool have_sites) {
    const cJSON *rep = jv_get(doc, "report"), *findings = jv_array(doc, "findings"), *f;
    if (!rep || cJSON_IsNull(rep)) {
        printf("no static findings: the daemon has no fa-lint report (fa-lint --all --format sarif -o "
               "fa-lint.sarif, then curl -T fa-lint.sarif %s/api/v1/lint, or fa-insightd --lint-report "
               "fa-lint.sarif)\n",
               cli->server);
        return;
    }
    int n = cJSON_GetArraySize(findings), joined = 0;
    cJSON_ArrayForEach(f, findings) joined += jv_has(f, "runtime");
    char when[64];
    printf("%sStatic findings%s: %d from %s %s (%s, %s)", render_color_code(cli, RC_BOLD),
           render_color_code(cli, RC_RESET), n, jv_str(rep, "tool", "?"), jv_str(rep, "tool_version", ""),
           strcmp(jv_str(rep, "source", ""), "file") ? "sent" : jv_str(rep, "path", "?"),
           render_ago(when, sizeof when, jv_u64(rep, "received_ms", 0), render_now_ms()));
    if (jv_bool(rep, "truncated", false))
        printf(", the first of %llu", (unsigned long long)jv_u64(rep, "results", 0));
    if (have_sites)
        printf("; %d at a call site of session %s\n", joined, sid);
    else
        printf("; no call sites to compare with%s\n", sid ? "" : " (no session)");
    const char *last_file = NULL;
    cJSON_ArrayForEach(f, findings) {
        const char *file = jv_str(f, "file", "");
        if (!last_file || strcmp(last_file, file))
            printf("%s%s%s\n", render_color_code(cli, RC_CYAN), file[0] ? file : "(no file)",
                   render_color_code(cli, RC_RESET));
        last_file = file;
        const char *level = jv_str(f, "level", "warning");
        printf("  %5llu  %s%-6s%s %-7s %s\n", (unsigned long long)jv_u64(f, "line", 0),
               render_color_code(cli, !strcmp(level, "error") ? RC_RED : RC_YELLOW), jv_str(f, "rule", "?"),
               render_color_code(cli, RC_RESET), level, jv_str(f, "message", ""));
        const cJSON *rt = jv_get(f, "runtime");
        if (rt && !cJSON_IsNull(rt)) {
            char b[32];
            double per = jv_num(rt, "bytes_per_frame", 0), count = jv_num(rt, "count_per_frame", 0);
            const cJSON *s0 = cJSON_GetArrayItem(jv_array(rt, "sites"), 0);
            printf("         %sruntime%s: this line is flagged %s and allocated %s/frame (%.3g "
                   "allocation%s/frame, "
                   "%s) in session %s\n",
                   render_color_code(cli, RC_BOLD), render_color_code(cli, RC_RESET), jv_str(f, "rule", "?"),
                   units_format_bytes(b, sizeof b, (uint64_t)(per + 0.5)), count, count == 1 ? "" : "s",
                   s0 ? jv_str(s0, "kind", "?") : "?", sid);
        }
    }
}

int cmd_findings(cli_t *cli, int argc, char **argv) {
    uint64_t since = 0;
    bool have_since = false;
    const char *kind = "all";
    args_opt_t opts[] = {
        {"kind", ARGS_STRING, &kind, "KIND",
         "all (default), runtime (the behaviour filter) or static (fa-lint)", 0, false, NULL},
        {"since", ARGS_TIME, &since, "TIME",
         "only runtime findings since then (5m = 5 minutes ago; default: all kept)", 0, false, &have_since},
        {0},
    };
    int rc = args_parse(cli, &cmd_findings_info, opts, argc, argv);
    if (rc >= 0) return rc;
    bool want_runtime = !strcmp(kind, "all") || !strcmp(kind, "runtime"),
         want_static = !strcmp(kind, "all") || !strcmp(kind, "static");
    if (!want_runtime && !want_static)
        return args_usage_error(&cmd_findings_info, "--kind must be all, runtime or static, not '%s'", kind);
    char sid[32] = "";
    /* Static findings alone need no session: they are joined with one when
     * there is one. */
    bool have_sid = true;
    if (want_runtime || cli->session) {
        if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    } else {
        http_answer_t probe = {0};
        if ((rc = api_get_sessions(cli, 1, false, &probe)) != 0) return rc;
        have_sid = cJSON_GetArraySize(jv_array(probe.json, "sessions")) > 0;
        http_answer_free(&probe);
        if (have_sid && (rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    }
    http_answer_t runtime = {0}, lint = {0}, sites = {0};
    if (want_runtime && (rc = runtime_get(cli, sid, have_since, since, &runtime)) != 0) return rc;
    bool absent = false, have_sites = false;
    cJSON *static_doc = NULL;
    if (want_static) {
        if ((rc = static_get(cli, &lint, &absent)) != 0) {
            http_answer_free(&runtime);
            return rc;
        }
        if (!absent) {
            static_doc = lint.json;
            const cJSON *rows = have_sid && cJSON_GetArraySize(jv_array(static_doc, "findings")) > 0
                                    ? sites_get(cli, sid, &sites)
                                    : NULL;
            have_sites = rows != NULL;
            join_sites((cJSON *)jv_array(static_doc, "findings"), rows);
        }
    }
    if (cli->json) {
        char *text = static_doc ? cJSON_PrintUnformatted(static_doc) : NULL;
        if (!want_runtime) {
            if (text)
                render_json_safe(stdout, text, strlen(text));
            else
                fputs("{\"report\":null,\"findings\":[]}", stdout);
            fputc('\n', stdout);
        } else if (!want_static) {
            cmd_print_json(&runtime);
        } else {
            /* The runtime document as the daemon sent it, with "static" added. */
            const char *end = strrchr(runtime.body, '}');
            size_t len = end ? (size_t)(end - runtime.body) : 0;
            render_json_safe(stdout, runtime.body, len);
            fputs(",\"static\":", stdout);
            if (text)
                render_json_safe(stdout, text, strlen(text));
            else
                fputs("null", stdout);
            fputs("}\n", stdout);
        }
        free(text);
    } else {
        if (want_runtime) runtime_print(cli, sid, &runtime);
        if (want_runtime && want_static) printf("\n");
        if (absent)
            printf(
                "no static findings: this daemon does not take fa-lint reports (it has no /api/v1/lint)\n");
        else if (want_static)
            static_print(cli, static_doc, have_sid ? sid : NULL, have_sites);
    }
    http_answer_free(&runtime);
    http_answer_free(&lint);
    http_answer_free(&sites);
    return CLI_EXIT_OK;
}
