/* cmd_tags.c — `tags` (the tag tree with usage and budgets) and `budgets`
 * (the budget table of a tag and its children, with a CI check). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

const cmd_info_t cmd_tags_info = {
    .name = "tags",
    .summary = "show the tag tree with current, peak and budget use",
    .synopsis = "[--depth N]",
    .details = "Every tag of the session as an indented tree: bytes in use now (frame + pool + heap,\n"
               "children included), the peak seen, the budget (soft / hard) and the share of the\n"
               "hard budget in use with its status: ok, warning (>= 80 %) or critical (>= 100 %).\n"
               "The root (all memory) is depth 0, 'physics' depth 1, 'physics/contacts' depth 2.\n",
    .example = "  fa-cli tags\n"
               "  fa-cli tags --depth 1\n"
               "  fa-cli --session latest tags --json\n",
};

const cmd_info_t cmd_budgets_info = {
    .name = "budgets",
    .summary = "show the budgets of a tag and its children; --check fails in CI when one was exceeded",
    .synopsis = "[--tag T] [--check] [--since DURATION]",
    .details = "For T (default: every tag) and its children: soft and hard budget, bytes in use now,\n"
               "peak, share of the hard budget and status: ok, warning (>= 80 %), critical (>= 100 %).\n"
               "With --check the exit status is 3 when a hard budget shown was reached at any frame of\n"
               "the session (or of the last DURATION with --since), not only now, and each such budget\n"
               "is listed with when it was first reached (the frame, when raw frames are still kept)\n"
               "and by how much at most; 0 otherwise (2 for bad arguments, 1 when the daemon is down\n"
               "or answers with an error). The frames are judged against the budget in force now.\n",
    .example = "  fa-cli budgets\n"
               "  fa-cli budgets --tag physics\n"
               "  fa-cli budgets --tag render --check || echo 'render went over budget'\n"
               "  fa-cli --session fa-demo@42 budgets --check --since 10m\n",
};

static const cJSON *children_of(const cJSON *node) {
    return jv_array(node, "children");
}

static void usage_cells(const cli_t *cli, render_table_t *t, const cJSON *n) {
    char b[4][32], pct[32], bar[128];
    uint64_t live = jv_u64(n, "live_bytes", 0), hard = jv_u64(n, "budget_hard", 0),
             soft = jv_u64(n, "budget_soft", 0);
    render_table_cell(t, "%s", units_format_bytes(b[0], 32, live));
    render_table_cell(t, "%s", units_format_bytes(b[1], 32, jv_u64(n, "peak_bytes", 0)));
    if (hard || soft) {
        render_table_cell(t, "%s / %s", soft ? units_format_bytes(b[2], 32, soft) : "-",
                          hard ? units_format_bytes(b[3], 32, hard) : "-");
    } else {
        render_table_cell(t, "-");
    }
    if (hard) {
        double p = (double)live * 100.0 / (double)hard;
        render_status st = render_status_of(live, hard);
        render_bar(cli, bar, sizeof bar, p, 10);
        render_table_cell(t, "%5s %s", render_pct(pct, sizeof pct, p), bar);
        render_table_cell(t, "%s%s%s", render_color_code(cli, render_status_color(st)),
                          render_status_name(st), render_color_code(cli, RC_RESET));
    } else {
        render_table_cell(t, "-");
        render_table_cell(t, "-");
    }
}

/* Depth-first over the tree; last[] holds "is the last child" per level. */
static void tree_rows(const cli_t *cli, render_table_t *t, const cJSON *nodes, int depth, int max_depth,
                      bool *last) {
    int n = cJSON_GetArraySize(nodes), i = 0;
    const cJSON *node;
    cJSON_ArrayForEach(node, nodes) {
        last[depth > 0 ? depth - 1 : 0] = ++i == n;
        char prefix[256];
        render_tree_prefix(cli, prefix, sizeof prefix, last, depth);
        const char *path = jv_str(node, "path", "");
        const char *name = path[0] ? jv_str(node, "name", path) : render_tag_name(path);
        render_table_cell(t, "%s%s", prefix, name);
        usage_cells(cli, t, node);
        const cJSON *kids = children_of(node);
        if (kids && depth < max_depth && depth < 60) {
            /* The root's children start the visible tree at depth 1. */
            tree_rows(cli, t, kids, depth + 1, max_depth, last);
        }
    }
}

int cmd_tags(cli_t *cli, int argc, char **argv) {
    uint32_t max_depth = 64;
    args_opt_t opts[] = {
        {"depth", ARGS_UINT, &max_depth, "N", "show tags down to depth N (0: the root only)", 64, true},
        {0},
    };
    int rc = args_parse(cli, &cmd_tags_info, opts, argc, argv);
    if (rc >= 0) return rc;
    char sid[32];
    if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[128];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/tags", sid);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, NULL)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *tree = jv_array(a.json, "tree");
    char ago[32];
    printf("session %s, %s, frame %llu (%s)\n", sid, jv_bool(a.json, "live", false) ? "live" : "ended",
           (unsigned long long)jv_u64(a.json, "frame", 0),
           render_ago(ago, sizeof ago, jv_u64(a.json, "t_ms", 0), render_now_ms()));
    if (cJSON_GetArraySize(tree) == 0) {
        printf("no tags yet\n");
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    render_table_t *t = render_table_new(6);
    const char *head[] = {"TAG", "CURRENT", "PEAK", "BUDGET soft / hard", "USED of hard", "STATUS"};
    render_table_header(t, head);
    render_table_align_right(t, 1);
    render_table_align_right(t, 2);
    render_table_align_right(t, 3);
    bool last[64] = {0};
    tree_rows(cli, t, tree, 0, (int)max_depth, last);
    render_table_print(cli, t, stdout);
    render_table_free(t);
    http_answer_free(&a);
    return CLI_EXIT_OK;
}

/* When a hard budget was reached within a window. */
typedef struct breach {
    char path[256];
    uint64_t hard, worst, first_ms, first_frame;
    bool exact; /* first_frame known (raw frames kept) */
} breach_t;

/* The frame, among those of [from_ms, to_ms], where tag id first reached
 * hard: refines a trend point to a frame while raw frames are kept. */
static void breach_frame(const cli_t *cli, const char *sid, uint64_t id, uint64_t from_ms, uint64_t to_ms,
                         breach_t *b) {
    char path[200];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/frames?limit=1000&from=%llu&to=%llu", sid,
             (unsigned long long)from_ms, (unsigned long long)to_ms);
    http_answer_t a;
    if (api_get(cli, path, &a, sid, NULL) != 0) return;
    const cJSON *f, *t;
    cJSON_ArrayForEach(f, jv_array(a.json, "frames")) {
        cJSON_ArrayForEach(t, jv_array(f, "tags")) {
            if (jv_u64(t, "id", UINT64_MAX) != id || jv_u64(t, "live_bytes", 0) < b->hard) continue;
            b->first_ms = jv_u64(f, "t_ms", b->first_ms);
            b->first_frame = jv_u64(f, "frame", 0);
            b->exact = true;
            http_answer_free(&a);
            return;
        }
    }
    http_answer_free(&a);
}

/* Whether the budget row r was reached within the last window_ms of the
 * session: the trend's per-point maxima are exact maxima over the frames
 * of each point (raw frames or rollups). When the trend cannot be read for
 * the tag (a name the daemon no longer knows as written), the session's
 * peak decides, without a time. 1 with *b, 0 when not, or an exit code (as
 * a negative number) when the daemon cannot be reached. */
static int find_breach(const cli_t *cli, const char *sid, const cJSON *r, uint64_t window_ms, breach_t *b) {
    memset(b, 0, sizeof *b);
    b->hard = jv_u64(r, "budget_hard", 0);
    const char *tag = jv_str(r, "path", "");
    snprintf(b->path, sizeof b->path, "%s", tag);
    char path[1400], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/trend", sid);
    bool fits = http_query_add(path, sizeof path, "tag", tag[0] ? tag : "/") == 0;
    snprintf(num, sizeof num, "%llums", (unsigned long long)window_ms);
    http_query_add(path, sizeof path, "window", num);
    http_query_add(path, sizeof path, "points", "1000");
    http_answer_t a = {0};
    int rc = fits ? http_get(cli, path, &a) : 0;
    if (rc) return -rc;
    if (!fits || a.status != 200 || !a.json) {
        http_answer_free(&a);
        b->worst = jv_u64(r, "peak_bytes", 0);
        b->first_ms = 0;
        return b->worst >= b->hard;
    }
    uint64_t step = jv_u64(a.json, "step_ms", 1000);
    const cJSON *p;
    bool found = false;
    cJSON_ArrayForEach(p, jv_array(a.json, "series")) {
        uint64_t max = jv_u64(p, "max", 0);
        if (max < b->hard) continue;
        if (!found) b->first_ms = jv_u64(p, "t_ms", 0);
        found = true;
        if (max > b->worst) b->worst = max;
    }
    http_answer_free(&a);
    if (found) breach_frame(cli, sid, jv_u64(r, "id", UINT64_MAX), b->first_ms, b->first_ms + step - 1, b);
    return found;
}

static void print_breach(const cli_t *cli, FILE *out, const breach_t *b) {
    char hard[32], worst[32], over[32], when[64], pct[32];
    render_clock(cli, when, sizeof when, b->first_ms, RENDER_CLOCK_DATE | RENDER_CLOCK_MS);
    if (!b->first_ms)
        fprintf(out, "  %s: hard budget %s reached (when: its trend could not be read)", render_tag_name(b->path),
                units_format_bytes(hard, sizeof hard, b->hard));
    else
        fprintf(out, "  %s: hard budget %s first reached %s%s", render_tag_name(b->path),
                units_format_bytes(hard, sizeof hard, b->hard), b->exact ? "at " : "in the interval from ", when);
    if (b->exact) fprintf(out, " (frame %llu)", (unsigned long long)b->first_frame);
    fprintf(out, "; at most %s, %s over (%s)\n", units_format_bytes(worst, sizeof worst, b->worst),
            units_format_bytes(over, sizeof over, b->worst - b->hard),
            render_pct(pct, sizeof pct, (double)b->worst * 100.0 / (double)b->hard));
}

int cmd_budgets(cli_t *cli, int argc, char **argv) {
    const char *tag = NULL;
    bool check = false, have_since = false;
    uint64_t since_ms = 0;
    args_opt_t opts[] = {
        {"tag", ARGS_STRING, &tag, "T", "the tag whose subtree to show, e.g. physics (default: all)"},
        {"check", ARGS_FLAG, &check, NULL,
         "exit 3 when a hard budget shown was reached at any frame of the session (or --since)"},
        {"since", ARGS_DURATION, &since_ms, "DURATION",
         "judge only the last DURATION of the session (e.g. 10m; default: all of it)", 0, false, &have_since},
        {0},
    };
    int rc = args_parse(cli, &cmd_budgets_info, opts, argc, argv);
    if (rc >= 0) return rc;
    char sid[32];
    cJSON *session = NULL;
    if ((rc = session_resolve(cli, sid, &session)) != 0) return rc;
    /* The window ends at the session's newest frame, like the trend's. */
    uint64_t first = jv_u64(session, "first_frame_ms", 0), last = jv_u64(session, "last_frame_ms", 0);
    cJSON_Delete(session);
    uint64_t window_ms = have_since ? since_ms : (last > first ? last - first : 0) + 1000;
    if (window_ms < 1000) window_ms = 1000;
    if (window_ms > 30ull * 86400000u) window_ms = 30ull * 86400000u;
    char path[1400];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/budgets", sid);
    if (tag && http_query_add(path, sizeof path, "tag", tag) != 0)
        return args_usage_error(&cmd_budgets_info, "--tag: '%.40s...' is too long", tag);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, tag)) != 0) return rc;
    const cJSON *rows = jv_array(a.json, "budgets"), *r;
    /* The status is computed here from current and hard, exactly as the
     * help says (the daemon's alert state has hysteresis). */
    unsigned counts[4] = {0};
    cJSON_ArrayForEach(r, rows) {
        render_status st = render_status_of(jv_u64(r, "live_bytes", 0), jv_u64(r, "budget_hard", 0));
        counts[st]++;
    }
    /* The check looks at every frame of the window, not only the last. */
    size_t nbreach = 0, cap = (size_t)cJSON_GetArraySize(rows);
    breach_t *breaches = (check || have_since) && cap ? calloc(cap, sizeof *breaches) : NULL;
    if (breaches) {
        cJSON_ArrayForEach(r, rows) {
            if (!jv_u64(r, "budget_hard", 0)) continue;
            int found = find_breach(cli, sid, r, window_ms, &breaches[nbreach]);
            if (found < 0) {
                free(breaches);
                http_answer_free(&a);
                return -found;
            }
            nbreach += (size_t)found;
        }
    }
    rc = check && nbreach ? CLI_EXIT_CRITICAL : CLI_EXIT_OK;
    if (cli->json) {
        cmd_print_json(&a);
    } else {
        render_table_t *t = render_table_new(7);
        const char *head[] = {"TAG", "SOFT", "HARD", "CURRENT", "PEAK", "% OF HARD", "STATUS"};
        render_table_header(t, head);
        for (size_t c = 1; c < 6; c++)
            render_table_align_right(t, c);
        cJSON_ArrayForEach(r, rows) {
            char b[4][32], pct[32], ind[140];
            uint64_t live = jv_u64(r, "live_bytes", 0), hard = jv_u64(r, "budget_hard", 0),
                     soft = jv_u64(r, "budget_soft", 0);
            uint64_t depth = jv_u64(r, "depth", 0);
            if (depth > 32) depth = 32;
            memset(ind, ' ', depth * 2);
            ind[depth * 2] = '\0';
            const char *p = jv_str(r, "path", "?");
            render_status st = render_status_of(live, hard);
            render_table_cell(t, "%s%s", ind, render_tag_name(p));
            render_table_cell(t, "%s", soft ? units_format_bytes(b[0], 32, soft) : "-");
            render_table_cell(t, "%s", hard ? units_format_bytes(b[1], 32, hard) : "-");
            render_table_cell(t, "%s", units_format_bytes(b[2], 32, live));
            render_table_cell(t, "%s", units_format_bytes(b[3], 32, jv_u64(r, "peak_bytes", 0)));
            render_table_cell(t, "%s",
                              hard ? render_pct(pct, sizeof pct, (double)live * 100.0 / (double)hard) : "-");
            render_table_cell(t, "%s%s%s", render_color_code(cli, render_status_color(st)),
                              hard ? render_status_name(st) : "no budget", render_color_code(cli, RC_RESET));
        }
        render_table_print(cli, t, stdout);
        render_table_free(t);
        unsigned with_budget = counts[RS_OK] + counts[RS_WARNING] + counts[RS_CRITICAL];
        printf("%u budget%s: %u ok, %u warning, %u critical\n", with_budget, with_budget == 1 ? "" : "s",
               counts[RS_OK], counts[RS_WARNING], counts[RS_CRITICAL]);
        if (breaches) {
            char w[32];
            if (nbreach) printf("Hard budgets reached in the %s%s:\n", have_since ? "last " : "session",
                                have_since ? render_duration_ms(w, sizeof w, window_ms) : "");
            else printf("No hard budget reached in the %s%s.\n", have_since ? "last " : "session",
                        have_since ? render_duration_ms(w, sizeof w, window_ms) : "");
            for (size_t i = 0; i < nbreach; i++)
                print_breach(cli, stdout, &breaches[i]);
        }
    }
    if (rc == CLI_EXIT_CRITICAL) {
        fprintf(stderr, CLI_NAME " budgets: check failed: %zu hard budget%s reached:\n", nbreach,
                nbreach == 1 ? "" : "s");
        for (size_t i = 0; i < nbreach; i++)
            print_breach(cli, stderr, &breaches[i]);
    }
    free(breaches);
    http_answer_free(&a);
    return rc;
}
