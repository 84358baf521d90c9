/* compare.c — thresholds, the comparison of two summaries and its JSON
 * (compare.h). */
#include "compare.h"

#include "escape.h" /* libfa-text */
#include "units.h"

#include <inttypes.h>
#include <stdio.h>
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
        const cJSON *tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
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

const char *compare_row_status(const compare_row_t *row) {
    if (row->failed) return "regression";
    if (row->limits.ignore) return "ignored";
    if (!row->in_candidate) return "gone";
    if (!row->in_base) return "new";
    return "ok";
}

bool compare_row_changed(const compare_row_t *row) {
    bool changed = row->failed || !row->in_base || !row->in_candidate;
    for (int m = 0; m < M_COUNT; m++)
        changed |= !isnan(row->m[m].change) && row->m[m].change != 0;
    return changed;
}

void compare_sites_note(const compare_result_t *r, char *buf, size_t cap) {
    buf[0] = '\0';
    if (r->sites_left_out)
        snprintf(buf, cap, "call sites not compared: only the %s has them (%zu site rows left out)",
                 r->base->sites ? "base" : "candidate", r->sites_left_out);
    else if (!r->sites_compared)
        snprintf(buf, cap, "no call sites in either run");
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

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

cJSON *compare_result_json(const compare_result_t *r) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
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
        cJSON_AddStringToObject(o, "status", compare_row_status(row));
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
    return doc;
}

