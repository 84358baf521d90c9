/* report.c — the four reports of a comparison (report.h): table, JSON,
 * Markdown and JUnit. */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int compare_format_parse(const char *s, compare_format *out) {
    static const struct {
        const char *name;
        compare_format f;
    } names[] = {{"table", CF_TABLE}, {"json", CF_JSON}, {"markdown", CF_MARKDOWN}, {"md", CF_MARKDOWN},
                 {"junit", CF_JUNIT}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                   */
/* ------------------------------------------------------------------------ */

/* A row for people: a tag's path ("(root)"), or a site's key with its
 * tag shown that way. */
static const char *row_name(const compare_row_t *row, char *buf, size_t cap) {
    if (row->kind == SUMMARY_TAG) return render_tag_name(row->key);
    if (row->tag[0]) return row->key;
    snprintf(buf, cap, "%s%s", CLI_ROOT_TAG_NAME, row->key);
    return buf;
}

#define ROW_NAME_MAX 1100

/* A metric's value for people: bytes in units, allocations with decimals. */
static const char *fmt_value(char *buf, size_t cap, summary_metric m, double v) {
    if (isnan(v)) return "-";
    if (summary_metric_is_bytes(m)) return units_format_bytes(buf, cap, (uint64_t)llround(v));
    snprintf(buf, cap, "%.2f", v);
    return buf;
}

static const char *fmt_change(char *buf, size_t cap, summary_metric m, double change) {
    if (isnan(change)) return "-";
    if (summary_metric_is_bytes(m)) return render_signed_bytes(buf, cap, (int64_t)llround(change));
    snprintf(buf, cap, "%+.2f", change);
    return buf;
}

static const char *fmt_pct(char *buf, size_t cap, const compare_metric_t *c) {
    if (isnan(c->change_pct)) return "-";
    if (isinf(c->change_pct)) return "new";
    if (c->change == 0) return "=";
    if (fabs(c->change_pct) < 10)
        snprintf(buf, cap, "%+.1f %%", c->change_pct);
    else
        snprintf(buf, cap, "%+.0f %%", c->change_pct);
    return buf;
}

static void describe_rule(char *buf, size_t cap, const compare_limits_t *l) {
    char b[32];
    snprintf(buf, cap, "a figure fails when it grows by more than %g %% and more than %s (allocations: %g %% "
                       "and %g per frame)",
             l->max_growth_pct, units_format_bytes(b, sizeof b, l->min_bytes), l->max_growth_pct, l->min_allocs);
}

/* The two runs and the rule, one line each, after the given prefixes. */
static void print_header(FILE *out, const compare_result_t *r, const char *base, const char *candidate,
                         const char *rule_prefix) {
    char line[512], rule[256];
    run_describe(&r->base->info, line, sizeof line);
    fprintf(out, "%s%s\n", base, line);
    run_describe(&r->candidate->info, line, sizeof line);
    fprintf(out, "%s%s\n", candidate, line);
    compare_limits_t g = compare_rules_global(r->rules);
    describe_rule(rule, sizeof rule, &g);
    fprintf(out, "%s%s\n\n", rule_prefix, rule);
}

/* The rows of one kind as a table; returns the rows left out (unchanged
 * sites). */
static size_t print_kind_table(const cli_t *cli, FILE *out, const compare_result_t *r, summary_kind kind) {
    render_table_t *t = render_table_new(10);
    const char *head[] = {kind == SUMMARY_SITE ? "CALL SITE" : "TAG", "P95 LIVE", "CHANGE", "P50", "P95", "P99",
                          "PEAK", "FRAME B/F", "ALLOCS/F", "STATUS"};
    render_table_header(t, head);
    for (size_t c = 1; c < 9; c++)
        render_table_align_right(t, c);
    size_t shown = 0, hidden = 0;
    for (size_t i = 0; i < r->count; i++) {
        const compare_row_t *row = &r->rows[i];
        if (row->kind != kind) continue;
        if (kind == SUMMARY_SITE && !compare_row_changed(row)) {
            hidden++;
            continue;
        }
        char b[2][32], p[6][32], name[ROW_NAME_MAX];
        render_table_cell(t, "%s", row_name(row, name, sizeof name));
        render_table_cell(t, "%s", fmt_value(b[0], 32, M_P95, row->m[M_P95].candidate));
        render_table_cell(t, "%s", fmt_change(b[1], 32, M_P95, row->m[M_P95].change));
        const summary_metric shown_m[6] = {M_P50, M_P95, M_P99, M_PEAK, M_FRAME_BYTES, M_ALLOCS};
        for (int k = 0; k < 6; k++)
            render_table_cell(t, "%s%s%s", row->m[shown_m[k]].failed ? render_color_code(cli, RC_BOLD_RED) : "",
                              fmt_pct(p[k], 32, &row->m[shown_m[k]]),
                              row->m[shown_m[k]].failed ? render_color_code(cli, RC_RESET) : "");
        render_table_cell(t, "%s%s%s", render_color_code(cli, row->failed ? RC_BOLD_RED : RC_RESET),
                          compare_row_status(row), render_color_code(cli, RC_RESET));
        shown++;
    }
    if (shown) {
        if (kind == SUMMARY_SITE) fputc('\n', out);
        render_table_print(cli, t, out);
    }
    render_table_free(t);
    return hidden;
}

static size_t count_kind(const compare_result_t *r, summary_kind kind) {
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++)
        n += r->rows[i].kind == kind;
    return n;
}

static void print_table(const cli_t *cli, FILE *out, const compare_result_t *r) {
    print_header(out, r, "base:      ", "candidate: ", "");
    print_kind_table(cli, out, r, SUMMARY_TAG);
    size_t hidden = print_kind_table(cli, out, r, SUMMARY_SITE);
    if (r->failed) {
        fprintf(out, "\nRegressions:\n");
        for (size_t i = 0; i < r->count && r->rows[i].failed; i++) {
            const compare_row_t *row = &r->rows[i];
            char name[ROW_NAME_MAX];
            for (int m = 0; m < M_COUNT; m++) {
                const compare_metric_t *c = &row->m[m];
                if (!c->failed) continue;
                char a[32], b[32], d[32], p[32];
                fprintf(out, "  %s  %s %s -> %s (%s, %s)\n", row_name(row, name, sizeof name),
                        summary_metric_label(m), fmt_value(a, 32, m, c->base), fmt_value(b, 32, m, c->candidate),
                        fmt_change(d, 32, m, c->change), fmt_pct(p, 32, c));
            }
        }
    }
    size_t tags = count_kind(r, SUMMARY_TAG), sites = count_kind(r, SUMMARY_SITE);
    char note[160];
    compare_sites_note(r, note, sizeof note);
    fprintf(out, "\n%zu tag%s and %zu call site%s compared (%zu unchanged site%s not shown): %zu regression%s, "
                 "%zu ignored\n",
            tags, tags == 1 ? "" : "s", sites, sites == 1 ? "" : "s", hidden, hidden == 1 ? "" : "s", r->failed,
            r->failed == 1 ? "" : "s", r->ignored);
    if (note[0]) fprintf(out, "%s\n", note);
}

/* Markdown table cells: backticks and bars would break the table. */
static void md_name(FILE *out, const char *s) {
    fputc('`', out);
    for (; *s; s++)
        fputc(*s == '`' || *s == '|' ? '\'' : *s, out);
    fputc('`', out);
}

/* The changed rows of one kind as a Markdown table; returns the rows left
 * out as unchanged. */
static size_t markdown_rows(FILE *out, const compare_result_t *r, summary_kind kind) {
    size_t unchanged = 0, shown = 0;
    const summary_metric cols[6] = {M_P50, M_P95, M_P99, M_PEAK, M_FRAME_BYTES, M_ALLOCS};
    for (size_t i = 0; i < r->count; i++) {
        const compare_row_t *row = &r->rows[i];
        if (row->kind != kind) continue;
        if (!compare_row_changed(row)) {
            unchanged++;
            continue;
        }
        if (!shown++)
            fprintf(out, "%s| %s | p50 live | p95 live | p99 live | peak | frame B/frame | allocs/frame | status |\n"
                         "|---|---:|---:|---:|---:|---:|---:|---|\n",
                    kind == SUMMARY_SITE ? "\n" : "", kind == SUMMARY_SITE ? "call site" : "tag");
        char name[ROW_NAME_MAX];
        fputs("| ", out);
        md_name(out, row_name(row, name, sizeof name));
        for (int k = 0; k < 6; k++) {
            const compare_metric_t *c = &row->m[cols[k]];
            char a[32], b[32], p[32];
            fprintf(out, " | %s%s → %s (%s)%s", c->failed ? "**" : "", fmt_value(a, 32, cols[k], c->base),
                    fmt_value(b, 32, cols[k], c->candidate), fmt_pct(p, 32, c), c->failed ? "**" : "");
        }
        fprintf(out, " | %s |\n", row->failed ? "**regression**" : compare_row_status(row));
    }
    return unchanged;
}

static void print_markdown(FILE *out, const compare_result_t *r) {
    if (r->failed)
        fprintf(out, "### framealloc memory: %zu regression%s\n\n", r->failed, r->failed == 1 ? "" : "s");
    else
        fputs("### framealloc memory: no regression\n\n", out);
    print_header(out, r, "- base: ", "- candidate: ", "- ");
    size_t unchanged = markdown_rows(out, r, SUMMARY_TAG);
    unchanged += markdown_rows(out, r, SUMMARY_SITE);
    if (unchanged) fprintf(out, "\n%zu unchanged row%s not shown.\n", unchanged, unchanged == 1 ? "" : "s");
    char note[160];
    compare_sites_note(r, note, sizeof note);
    if (note[0]) fprintf(out, "\n_%s._\n", note);
}

static void xml_text(FILE *out, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default: fputc(*s, out);
        }
    }
}

static void print_json(FILE *out, const compare_result_t *r) {
    cJSON *doc = compare_result_json(r);
    char *s = doc ? cJSON_Print(doc) : NULL;
    if (s) fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(doc);
}

static void print_junit(FILE *out, const compare_result_t *r) {
    char base[512], cand[512];
    run_describe(&r->base->info, base, sizeof base);
    run_describe(&r->candidate->info, cand, sizeof cand);
    /* testsuites takes no "skipped" in the schema CI reporters read. */
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"fa-cli compare\" tests=\"%zu\" "
                 "failures=\"%zu\">\n  <testsuite name=\"framealloc memory\" tests=\"%zu\" "
                 "failures=\"%zu\" skipped=\"%zu\">\n    <properties>\n      <property name=\"base\" value=\"",
            r->count, r->failed, r->count, r->failed, r->ignored);
    xml_text(out, base);
    fputs("\"/>\n      <property name=\"candidate\" value=\"", out);
    xml_text(out, cand);
    fputs("\"/>\n    </properties>\n", out);
    for (size_t i = 0; i < r->count; i++) {
        const compare_row_t *row = &r->rows[i];
        char name[ROW_NAME_MAX];
        fprintf(out, "    <testcase classname=\"framealloc.%s\" name=\"", summary_kind_name(row->kind));
        xml_text(out, row_name(row, name, sizeof name));
        fputs("\">", out);
        if (row->failed) {
            char msg[256] = "", detail[2048] = "";
            size_t dl = 0;
            for (int m = 0; m < M_COUNT; m++) {
                const compare_metric_t *c = &row->m[m];
                if (!c->failed) continue;
                char a[32], b[32], d[32], p[32];
                if (!msg[0])
                    snprintf(msg, sizeof msg, "%s grew %s (%s)", summary_metric_label(m), fmt_change(d, 32, m, c->change),
                             fmt_pct(p, 32, c));
                int w = snprintf(detail + dl, sizeof detail - dl, "%s: %s -> %s (%s, %s)\n", summary_metric_label(m),
                                 fmt_value(a, 32, m, c->base), fmt_value(b, 32, m, c->candidate),
                                 fmt_change(d, 32, m, c->change), fmt_pct(p, 32, c));
                if (w > 0 && (size_t)w < sizeof detail - dl) dl += (size_t)w;
            }
            fputs("\n      <failure type=\"memory-regression\" message=\"", out);
            xml_text(out, msg);
            fputs("\">", out);
            xml_text(out, detail);
            fputs("</failure>\n    ", out);
        } else if (row->limits.ignore) {
            fputs("<skipped message=\"ignored by the thresholds file\"/>", out);
        }
        fputs("</testcase>\n", out);
    }
    fputs("  </testsuite>\n</testsuites>\n", out);
}

void compare_print(const cli_t *cli, FILE *out, compare_format f, const compare_result_t *r) {
    switch (f) {
    case CF_TABLE: print_table(cli, out, r); break;
    case CF_JSON: print_json(out, r); break;
    case CF_MARKDOWN: print_markdown(out, r); break;
    case CF_JUNIT: print_junit(out, r); break;
    }
}

/* Up to 8 failing rows of a kind, after a separator; how many there were. */
static size_t verdict_names(const cli_t *cli, const compare_result_t *r, summary_kind kind, const char *lead) {
    size_t n = 0;
    for (size_t i = 0; i < r->count && r->rows[i].failed; i++) {
        if (r->rows[i].kind != kind) continue;
        char name[ROW_NAME_MAX];
        if (n < 8) fprintf(cli->err, "%s %s", n ? "," : lead, row_name(&r->rows[i], name, sizeof name));
        n++;
    }
    if (n > 8) fputs(", ...", cli->err);
    return n;
}

int compare_verdict(const cli_t *cli, const compare_result_t *r) {
    if (!r->failed) return CLI_EXIT_OK;
    /* Tags first, then the lines: "3 regressions: ai/pathfinding, ai;
     * at call sites: ai/pathfinding;plan paths.c:40". */
    fprintf(cli->err, CLI_NAME " %s: %zu regression%s", cli->command, r->failed, r->failed == 1 ? "" : "s");
    size_t tags = verdict_names(cli, r, SUMMARY_TAG, ":");
    verdict_names(cli, r, SUMMARY_SITE, tags ? "; at call sites:" : ": at call sites:");
    fputc('\n', cli->err);
    return CLI_EXIT_REGRESSION;
}
