/* compare.c — thresholds, the comparison of two summaries, and its four
 * reports (compare.h). */
#include "compare.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Rules                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct rule_entry {
    char *pattern; /* a tag path, a path + slash + star, or a star */
    bool has_growth, has_bytes, has_allocs, has_ignore;
    compare_limits_t limits;
} rule_entry_t;

struct compare_rules {
    compare_limits_t global;
    rule_entry_t *entries;
    size_t count;
};

static const compare_limits_t default_limits = {.max_growth_pct = 10.0, .min_bytes = 65536, .min_allocs = 1.0};

/* Reads the threshold fields of obj into *l (and has_* flags). -1 with the
 * reason on a bad field. where names obj for messages. */
static int read_limits(const cJSON *obj, compare_limits_t *l, bool has[4], const char *where, char *err,
                       size_t errcap) {
    const cJSON *f;
    cJSON_ArrayForEach(f, obj) {
        const char *k = f->string ? f->string : "";
        if (strcmp(k, "max_growth_pct") == 0 && cJSON_IsNumber(f) && f->valuedouble >= 0) {
            l->max_growth_pct = f->valuedouble;
            has[0] = true;
        } else if (strcmp(k, "min_bytes") == 0 && cJSON_IsNumber(f) && f->valuedouble >= 0) {
            l->min_bytes = (uint64_t)f->valuedouble;
            has[1] = true;
        } else if (strcmp(k, "min_bytes") == 0 && cJSON_IsString(f) &&
                   units_parse_bytes(f->valuestring, &l->min_bytes) == 0) {
            has[1] = true;
        } else if (strcmp(k, "min_allocs") == 0 && cJSON_IsNumber(f) && f->valuedouble >= 0) {
            l->min_allocs = f->valuedouble;
            has[2] = true;
        } else if (strcmp(k, "ignore") == 0 && cJSON_IsBool(f)) {
            l->ignore = cJSON_IsTrue(f);
            has[3] = true;
        } else if (strcmp(k, "tags") == 0 && strcmp(where, "the top level") == 0) {
            continue;
        } else {
            bool known = !strcmp(k, "max_growth_pct") || !strcmp(k, "min_bytes") || !strcmp(k, "min_allocs") ||
                         !strcmp(k, "ignore");
            char shown[64];
            escape_sanitize_copy(shown, sizeof shown, k, strlen(k));
            if (known)
                snprintf(err, errcap, "%s: \"%s\" has a bad value (max_growth_pct and min_allocs: numbers >= 0; "
                                      "min_bytes: a number or a size like \"64KiB\"; ignore: true or false)",
                         where, shown);
            else
                snprintf(err, errcap,
                         "%s: unknown field \"%s\" (known: max_growth_pct, min_bytes, min_allocs, ignore%s)",
                         where, shown, strcmp(where, "the top level") == 0 ? ", tags" : "");
            return -1;
        }
    }
    return 0;
}

int compare_rules_load(const char *path, const compare_limits_t *flags, bool set_growth, bool set_bytes,
                       bool set_allocs, compare_rules_t **out, char *err, size_t errcap) {
    compare_rules_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    r->global = default_limits;
    cJSON *doc = NULL;
    int rc = -1;
    if (path) {
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        size_t len = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            if (n >= 0 && n < (16 << 20) && (text = malloc((size_t)n + 1)) && fread(text, 1, (size_t)n, f) == (size_t)n)
                len = (size_t)n;
            fclose(f);
        }
        if (!f || !text) {
            snprintf(err, errcap, "cannot read '%s'", path);
            free(text);
            goto out;
        }
        doc = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(doc)) {
            snprintf(err, errcap, "'%s' is not a JSON object", path);
            goto out;
        }
        bool has[4] = {0};
        if (read_limits(doc, &r->global, has, "the top level", err, errcap) != 0) goto out;
        const cJSON *tags = jv_get(doc, "tags");
        if (tags && !cJSON_IsObject(tags)) {
            snprintf(err, errcap, "\"tags\" must be an object of tag path: thresholds");
            goto out;
        }
        size_t n = (size_t)cJSON_GetArraySize(tags);
        r->entries = calloc(n ? n : 1, sizeof *r->entries);
        if (!r->entries) goto out;
        const cJSON *e;
        cJSON_ArrayForEach(e, tags) {
            char where[300], shown[200];
            escape_sanitize_copy(shown, sizeof shown, e->string, strlen(e->string));
            snprintf(where, sizeof where, "tags.\"%s\"", shown);
            if (!cJSON_IsObject(e)) {
                snprintf(err, errcap, "%s must be an object", where);
                goto out;
            }
            rule_entry_t *re = &r->entries[r->count++];
            bool h[4] = {0};
            if (!(re->pattern = strdup(e->string))) goto out;
            if (read_limits(e, &re->limits, h, where, err, errcap) != 0) goto out;
            re->has_growth = h[0];
            re->has_bytes = h[1];
            re->has_allocs = h[2];
            re->has_ignore = h[3];
        }
    }
    if (set_growth) r->global.max_growth_pct = flags->max_growth_pct;
    if (set_bytes) r->global.min_bytes = flags->min_bytes;
    if (set_allocs) r->global.min_allocs = flags->min_allocs;
    rc = 0;
out:
    cJSON_Delete(doc);
    if (rc) {
        compare_rules_free(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void compare_rules_free(compare_rules_t *r) {
    if (!r) return;
    for (size_t i = 0; i < r->count; i++)
        free(r->entries[i].pattern);
    free(r->entries);
    free(r);
}

compare_limits_t compare_rules_global(const compare_rules_t *r) {
    return r ? r->global : default_limits;
}

/* How well pattern matches tag: 0 not at all, else higher is more specific
 * (exact beats any prefix, a longer prefix beats a shorter). */
static size_t match_score(const char *pattern, const char *tag) {
    size_t pl = strlen(pattern);
    if (strcmp(pattern, tag) == 0) return SIZE_MAX;
    if (strcmp(pattern, "*") == 0) return 1;
    if (pl >= 2 && strcmp(pattern + pl - 2, "/*") == 0) {
        size_t prefix = pl - 1; /* "physics/" */
        if (strncmp(tag, pattern, prefix) == 0 && tag[prefix]) return 1 + prefix;
    }
    return 0;
}

compare_limits_t compare_rules_for(const compare_rules_t *r, const char *tag) {
    compare_limits_t l = compare_rules_global(r);
    if (!r) return l;
    const rule_entry_t *best = NULL;
    size_t best_score = 0;
    for (size_t i = 0; i < r->count; i++) {
        size_t s = match_score(r->entries[i].pattern, tag);
        if (s > best_score) {
            best = &r->entries[i];
            best_score = s;
        }
    }
    if (best) {
        if (best->has_growth) l.max_growth_pct = best->limits.max_growth_pct;
        if (best->has_bytes) l.min_bytes = best->limits.min_bytes;
        if (best->has_allocs) l.min_allocs = best->limits.min_allocs;
        if (best->has_ignore) l.ignore = best->limits.ignore;
    }
    return l;
}

/* ------------------------------------------------------------------------ */
/* Comparing                                                                 */
/* ------------------------------------------------------------------------ */

static compare_metric_t compare_metric(summary_metric m, double base, double cand, const compare_limits_t *l) {
    compare_metric_t c = {.base = base, .candidate = cand, .change = NAN, .change_pct = NAN};
    if (isnan(base) || isnan(cand)) return c;
    c.change = cand - base;
    c.change_pct = base > 0 ? c.change * 100.0 / base : cand > 0 ? INFINITY : 0.0;
    double floor = summary_metric_is_bytes(m) ? (double)l->min_bytes : l->min_allocs;
    c.failed = !l->ignore && c.change > 0 && c.change_pct > l->max_growth_pct && c.change > floor;
    return c;
}

/* Tag depth: "" 0, "ai" 1, "ai/pathfinding" 2. */
static size_t depth_of(const char *tag) {
    size_t d = *tag != '\0';
    for (; *tag; tag++)
        d += *tag == '/';
    return d;
}

static int result_cmp(const void *x, const void *y) {
    const compare_row_t *a = x, *b = y;
    if (a->failed != b->failed) return a->failed ? -1 : 1;
    if (a->growth != b->growth) return a->growth > b->growth ? -1 : 1;
    /* The same growth in a tag and its ancestors: the deepest tag is where
     * it happened, so it comes first. */
    size_t da = depth_of(a->tag), db = depth_of(b->tag);
    if (da != db) return da > db ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return strcmp(a->key, b->key);
}

static void fill_row(compare_row_t *row, const summary_row_t *b, const summary_row_t *c,
                     const compare_rules_t *rules) {
    const summary_row_t *any = b ? b : c;
    row->kind = any->kind;
    row->key = any->key;
    row->tag = any->tag;
    row->in_base = b != NULL;
    row->in_candidate = c != NULL;
    row->limits = compare_rules_for(rules, row->tag);
    row->growth = -INFINITY;
    for (int m = 0; m < M_COUNT; m++) {
        row->m[m] = compare_metric(m, b ? b->v[m] : 0.0, c ? c->v[m] : 0.0, &row->limits);
        row->failed |= row->m[m].failed;
        if (summary_metric_is_bytes(m) && !isnan(row->m[m].change) && row->m[m].change > row->growth)
            row->growth = row->m[m].change;
    }
}

int compare_run(const summary_t *base, const summary_t *candidate, const compare_rules_t *rules,
                compare_result_t *out) {
    memset(out, 0, sizeof *out);
    out->base = base;
    out->candidate = candidate;
    out->rules = rules;
    out->rows = calloc(base->count + candidate->count + 1, sizeof *out->rows);
    if (!out->rows) return -1;
    out->sites_compared = base->sites && candidate->sites;
    /* Both are sorted by (kind, key): one merge pass. */
    size_t i = 0, j = 0;
    while (i < base->count || j < candidate->count) {
        const summary_row_t *b = i < base->count ? &base->rows[i] : NULL;
        const summary_row_t *c = j < candidate->count ? &candidate->rows[j] : NULL;
        int order = !b ? 1 : !c ? -1 : (b->kind != c->kind ? (b->kind < c->kind ? -1 : 1) : strcmp(b->key, c->key));
        if ((order <= 0 ? b : c)->kind == SUMMARY_SITE && !out->sites_compared) {
            out->sites_left_out++;
            i += order <= 0;
            j += order >= 0;
            continue;
        }
        compare_row_t *row = &out->rows[out->count++];
        fill_row(row, order <= 0 ? b : NULL, order >= 0 ? c : NULL, rules);
        i += order <= 0;
        j += order >= 0;
        out->failed += row->failed;
        out->ignored += row->limits.ignore;
    }
    qsort(out->rows, out->count, sizeof *out->rows, result_cmp);
    return 0;
}

void compare_result_free(compare_result_t *r) {
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
    r->count = 0;
}

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

static const char *row_status(const compare_row_t *row) {
    if (row->failed) return "regression";
    if (row->limits.ignore) return "ignored";
    if (!row->in_candidate) return "gone";
    if (!row->in_base) return "new";
    return "ok";
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

/* Whether a row shows any change (unchanged site rows are counted, not
 * listed). */
static bool row_changed(const compare_row_t *row) {
    bool changed = row->failed || !row->in_base || !row->in_candidate;
    for (int m = 0; m < M_COUNT; m++)
        changed |= !isnan(row->m[m].change) && row->m[m].change != 0;
    return changed;
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
        if (kind == SUMMARY_SITE && !row_changed(row)) {
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
                          row_status(row), render_color_code(cli, RC_RESET));
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

/* What became of the call sites, one sentence (empty when none). */
static void sites_note(const compare_result_t *r, char *buf, size_t cap) {
    buf[0] = '\0';
    if (r->sites_left_out)
        snprintf(buf, cap, "call sites not compared: only the %s has them (%zu site rows left out)",
                 r->base->sites ? "base" : "candidate", r->sites_left_out);
    else if (!r->sites_compared)
        snprintf(buf, cap, "no call sites in either run");
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
    sites_note(r, note, sizeof note);
    fprintf(out, "\n%zu tag%s and %zu call site%s compared (%zu unchanged site%s not shown): %zu regression%s, "
                 "%zu ignored\n",
            tags, tags == 1 ? "" : "s", sites, sites == 1 ? "" : "s", hidden, hidden == 1 ? "" : "s", r->failed,
            r->failed == 1 ? "" : "s", r->ignored);
    if (note[0]) fprintf(out, "%s\n", note);
}

static cJSON *json_number_or_null(double v) {
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *json_info(const run_info_t *i) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", i->source);
    cJSON_AddStringToObject(o, "session", i->session);
    cJSON_AddStringToObject(o, "app", i->app);
    cJSON_AddStringToObject(o, "build", i->build);
    cJSON_AddNumberToObject(o, "frames", (double)i->frames);
    return o;
}

static cJSON *json_limits(const compare_limits_t *l) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "max_growth_pct", l->max_growth_pct);
    cJSON_AddNumberToObject(o, "min_bytes", (double)l->min_bytes);
    cJSON_AddNumberToObject(o, "min_allocs", l->min_allocs);
    cJSON_AddBoolToObject(o, "ignore", l->ignore);
    return o;
}

static void print_json(FILE *out, const compare_result_t *r) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "base", json_info(&r->base->info));
    cJSON_AddItemToObject(doc, "candidate", json_info(&r->candidate->info));
    compare_limits_t g = compare_rules_global(r->rules);
    cJSON_AddItemToObject(doc, "thresholds", json_limits(&g));
    cJSON_AddNumberToObject(doc, "regressions", (double)r->failed);
    cJSON_AddNumberToObject(doc, "ignored", (double)r->ignored);
    cJSON_AddBoolToObject(doc, "sites_compared", r->sites_compared);
    cJSON_AddNumberToObject(doc, "sites_left_out", (double)r->sites_left_out);
    cJSON *rows = cJSON_AddArrayToObject(doc, "rows");
    for (size_t i = 0; i < r->count; i++) {
        const compare_row_t *row = &r->rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", summary_kind_name(row->kind));
        cJSON_AddStringToObject(o, "key", row->key);
        cJSON_AddStringToObject(o, "tag", row->tag);
        if (row->kind == SUMMARY_SITE) cJSON_AddStringToObject(o, "site", row->key + strlen(row->tag) + 1);
        cJSON_AddStringToObject(o, "status", row_status(row));
        cJSON_AddBoolToObject(o, "in_base", row->in_base);
        cJSON_AddBoolToObject(o, "in_candidate", row->in_candidate);
        cJSON_AddItemToObject(o, "thresholds", json_limits(&row->limits));
        cJSON *ms = cJSON_AddObjectToObject(o, "metrics");
        for (int m = 0; m < M_COUNT; m++) {
            const compare_metric_t *c = &row->m[m];
            cJSON *mo = cJSON_AddObjectToObject(ms, summary_metric_name(m));
            cJSON_AddItemToObject(mo, "base", json_number_or_null(c->base));
            cJSON_AddItemToObject(mo, "candidate", json_number_or_null(c->candidate));
            cJSON_AddItemToObject(mo, "change", json_number_or_null(c->change));
            /* A figure that appears from 0 has no finite percentage. */
            cJSON_AddItemToObject(mo, "change_pct", json_number_or_null(c->change_pct));
            cJSON_AddBoolToObject(mo, "failed", c->failed);
        }
        cJSON_AddItemToArray(rows, o);
    }
    char *s = cJSON_Print(doc);
    if (s) fprintf(out, "%s\n", s);
    free(s);
    cJSON_Delete(doc);
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
        if (!row_changed(row)) {
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
        fprintf(out, " | %s |\n", row->failed ? "**regression**" : row_status(row));
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
    sites_note(r, note, sizeof note);
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
