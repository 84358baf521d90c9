/* baseline.c — baseline files (baseline.h): a summary as small, stable
 * JSON to commit, and read back. */
#include "baseline.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BASELINE_FORMAT "framealloc-baseline"
/* 2: call sites (site rows and "call_sites"); 1 (tags only) still reads. */
#define BASELINE_VERSION 2


void summary_write_baseline(FILE *out, const summary_t *s) {
    fprintf(out, "{\n  \"format\": \"" BASELINE_FORMAT "\",\n  \"version\": %d,\n  \"app\": ", BASELINE_VERSION);
    render_json_string(out, s->info.app);
    fputs(",\n  \"build\": ", out);
    render_json_string(out, s->info.build);
    fprintf(out, ",\n  \"frames\": %" PRIu64 ",\n  \"call_sites\": %s,\n  \"rows\": [\n", s->info.frames,
            s->sites ? "true" : "false");
    for (size_t i = 0; i < s->count; i++) {
        const summary_row_t *r = &s->rows[i];
        fputs("    {", out);
        if (r->kind == SUMMARY_SITE) {
            fputs("\"site\": ", out);
            render_json_string(out, r->key + strlen(r->tag) + 1);
            fputs(", ", out);
        }
        fputs("\"tag\": ", out);
        render_json_string(out, r->tag);
        for (int m = 0; m < M_COUNT; m++) {
            if (summary_metric_is_bytes(m))
                fprintf(out, ", \"%s\": %.0f", summary_metric_name(m), r->v[m]);
            else
                fprintf(out, ", \"%s\": %.2f", summary_metric_name(m), r->v[m]);
        }
        fprintf(out, "}%s\n", i + 1 < s->count ? "," : "");
    }
    fputs("  ]\n}\n", out);
}

static char *sanitised_dup(const char *s) {
    char *c = strdup(s ? s : "");
    if (c) escape_sanitize(c);
    return c;
}

int summary_read_baseline(const char *text, size_t len, summary_t *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) {
        snprintf(err, errcap, "not JSON (near byte %zu)",
                 cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - text) : (size_t)0);
        return -1;
    }
    int rc = -1;
    const char *format = jv_str(doc, "format", NULL);
    const cJSON *rows = jv_array(doc, "rows");
    if (!format || strcmp(format, BASELINE_FORMAT) != 0) {
        snprintf(err, errcap, "not a baseline file (\"format\" is not \"" BASELINE_FORMAT "\")");
        goto out;
    }
    uint64_t version = jv_u64(doc, "version", 0);
    if (version < 1 || version > BASELINE_VERSION) {
        snprintf(err, errcap, "baseline version %" PRIu64 " is not supported (this fa-cli reads versions 1 to %d)",
                 version, BASELINE_VERSION);
        goto out;
    }
    out->baseline_version = (int)version;
    /* Version 1 was saved before call sites: tags only. */
    out->sites = version >= 2 && jv_bool(doc, "call_sites", false);
    if (!rows) {
        snprintf(err, errcap, "no \"rows\" array");
        goto out;
    }
    snprintf(out->info.source, sizeof out->info.source, "baseline");
    escape_sanitize_copy(out->info.app, sizeof out->info.app, jv_str(doc, "app", ""), strlen(jv_str(doc, "app", "")));
    escape_sanitize_copy(out->info.build, sizeof out->info.build, jv_str(doc, "build", ""),
                         strlen(jv_str(doc, "build", "")));
    out->info.frames = jv_u64(doc, "frames", 0);
    size_t n = (size_t)cJSON_GetArraySize(rows), i = 0;
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    if (!out->rows) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        const char *tag = jv_str(r, "tag", NULL), *site = jv_str(r, "site", NULL);
        if (!tag) {
            snprintf(err, errcap, "row %zu has no \"tag\"", i + 1);
            goto out;
        }
        summary_row_t *row = &out->rows[out->count++];
        row->kind = site ? SUMMARY_SITE : SUMMARY_TAG;
        row->tag = sanitised_dup(tag);
        if (site) {
            size_t kl = strlen(tag) + strlen(site) + 2;
            if ((row->key = malloc(kl))) snprintf(row->key, kl, "%s;%s", tag, site);
            if (row->key) escape_sanitize(row->key);
        } else {
            row->key = sanitised_dup(tag);
        }
        if (!row->tag || !row->key) {
            snprintf(err, errcap, "out of memory");
            goto out;
        }
        /* A metric this version does not know is ignored; one it knows but
         * the file lacks is not compared (NAN). */
        for (int m = 0; m < M_COUNT; m++) {
            const cJSON *x = jv_get(r, summary_metric_name(m));
            row->v[m] = cJSON_IsNumber(x) && x->valuedouble >= 0 ? x->valuedouble : NAN;
        }
        i++;
    }
    summary_sort(out);
    for (size_t k = 1; k < out->count; k++)
        if (out->rows[k - 1].kind == out->rows[k].kind && strcmp(out->rows[k - 1].key, out->rows[k].key) == 0) {
            snprintf(err, errcap, "the %s '%s' appears twice", summary_kind_name(out->rows[k].kind),
                     out->rows[k].key);
            goto out;
        }
    rc = 0;
out:
    cJSON_Delete(doc);
    if (rc) summary_free(out);
    return rc;
}
