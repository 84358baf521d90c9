/* lint.c — the SARIF report holder (see lint.h). */
#include "lint.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cJSON.h>

#include "clock.h"
#include "escape.h"
#include "json.h"
#include "log.h"
#include "pathmatch.h"
#include "url.h"

#define FIELD_MAX 1024u   /* bytes of a path, rule, function or fingerprint */
#define MESSAGE_MAX 2048u /* bytes of a message */
#define CHECK_MS 1000u /* --lint-report is looked at this often */

typedef struct lint_finding {
    char *rule, *rule_name, *level, *message, *file, *function, *fingerprint, *help_uri;
    uint32_t line, column, end_line;
} lint_finding_t;

struct lint_report {
    lint_finding_t *findings;
    uint32_t count;
    uint64_t total; /* results in the document */
    char *tool, *tool_version;
};

struct lint {
    uv_loop_t *loop;
    uv_timer_t check; /* looks at --lint-report (uv_fs_poll reports nothing for a file
                       * that appeared before its first stat) */
    bool checking;
    struct stat seen; /* the file as last looked at */
    bool have_seen;
    char *path; /* --lint-report, NULL for none */
    uint64_t max_bytes;
    lint_report_t *report;
    char source[16]; /* "put" or "file" */
    uint64_t received_ms, accepted, refused;
    char last_error[400];
};

/* ---- parsing ---------------------------------------------------------------- */

typedef struct parse {
    char *err;
    size_t errcap;
} parse_t;

static int fail(parse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parse_t *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errcap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A sanitised, bounded copy (NULL only when out of memory). */
static char *text_copy(const char *s, size_t max) {
    size_t len = strlen(s);
    size_t cap = (len < max ? len : max) + 1;
    char *out = malloc(cap);
    if (out) escape_sanitize_copy(out, cap, s, len);
    return out;
}

/* A member that must be a string when present: *out NULL when absent. */
static int opt_string(parse_t *p, const cJSON *obj, const char *name, const char *where, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsString(v)) return fail(p, "%s.%s: must be a string", where, name);
    *out = v->valuestring;
    return 0;
}

static int opt_object(parse_t *p, const cJSON *obj, const char *name, const char *where, const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsObject(v)) return fail(p, "%s.%s: must be an object", where, name);
    *out = v;
    return 0;
}

static int opt_array(parse_t *p, const cJSON *obj, const char *name, const char *where, const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = NULL;
    if (!v) return 0;
    if (!cJSON_IsArray(v)) return fail(p, "%s.%s: must be an array", where, name);
    *out = v;
    return 0;
}

/* A positive line or column (SARIF numbers them from 1); 0 when absent. */
static int opt_position(parse_t *p, const cJSON *obj, const char *name, const char *where, uint32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    *out = 0;
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 2147483647.0 ||
        floor(v->valuedouble) != v->valuedouble)
        return fail(p, "%s.%s: must be a positive integer", where, name);
    *out = (uint32_t)v->valuedouble;
    return 0;
}

/* "file:///a/b%20c.c" -> "/a/b c.c"; other URIs are kept as written, and
 * so is a path whose escapes do not decode (or decode to NUL). */
static void uri_to_path(char *s) {
    if (strncmp(s, "file://", 7) != 0) return;
    const char *from = s + 7;
    if (strncmp(from, "localhost/", 10) == 0) from += 9;
    memmove(s, from, strlen(from) + 1);
    char *copy = strdup(s);
    if (copy && url_decode(copy, false) >= 0) strcpy(s, copy);
    free(copy);
}

typedef struct rule_ref {
    const char *id, *name, *help_uri;
} rule_ref_t;

static void finding_free(lint_finding_t *f) {
    free(f->rule);
    free(f->rule_name);
    free(f->level);
    free(f->message);
    free(f->file);
    free(f->function);
    free(f->fingerprint);
    free(f->help_uri);
}

static int parse_location(parse_t *p, const cJSON *res, const char *where, lint_finding_t *f,
                          const char **uri, const char **function) {
    const cJSON *locs, *loc, *phys = NULL, *art = NULL, *region = NULL, *logical;
    char at[160];
    *uri = *function = NULL;
    if (opt_array(p, res, "locations", where, &locs) != 0) return -1;
    if (!locs || !(loc = cJSON_GetArrayItem(locs, 0))) return 0;
    snprintf(at, sizeof at, "%s.locations[0]", where);
    if (!cJSON_IsObject(loc)) return fail(p, "%s: must be an object", at);
    if (opt_object(p, loc, "physicalLocation", at, &phys) != 0) return -1;
    if (phys) {
        snprintf(at, sizeof at, "%s.locations[0].physicalLocation", where);
        if (opt_object(p, phys, "artifactLocation", at, &art) != 0 ||
            opt_object(p, phys, "region", at, &region) != 0)
            return -1;
        if (art) {
            char at2[200];
            snprintf(at2, sizeof at2, "%s.artifactLocation", at);
            if (opt_string(p, art, "uri", at2, uri) != 0) return -1;
        }
        if (region) {
            char at2[200];
            snprintf(at2, sizeof at2, "%s.region", at);
            if (opt_position(p, region, "startLine", at2, &f->line) != 0 ||
                opt_position(p, region, "startColumn", at2, &f->column) != 0 ||
                opt_position(p, region, "endLine", at2, &f->end_line) != 0)
                return -1;
        }
    }
    snprintf(at, sizeof at, "%s.locations[0]", where);
    if (opt_array(p, loc, "logicalLocations", at, &logical) != 0) return -1;
    const cJSON *first = logical ? cJSON_GetArrayItem(logical, 0) : NULL;
    if (first && cJSON_IsObject(first)) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(first, "name");
        if (cJSON_IsString(name)) *function = name->valuestring;
    }
    return 0;
}

static const char *fingerprint_of(const cJSON *res) {
    static const char *const members[] = {"partialFingerprints", "fingerprints"};
    for (size_t i = 0; i < 2; i++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(res, members[i]), *v;
        if (!cJSON_IsObject(o)) continue;
        cJSON_ArrayForEach(v, o) if (cJSON_IsString(v)) return v->valuestring;
    }
    return NULL;
}

static int parse_result(parse_t *p, const cJSON *res, const char *where, const rule_ref_t *rules, int nrules,
                        lint_finding_t *f) {
    if (!cJSON_IsObject(res)) return fail(p, "%s: must be an object", where);
    const cJSON *msg, *rule_obj;
    const char *text = NULL, *rule = NULL, *level = NULL, *uri = NULL, *function = NULL;
    if (opt_object(p, res, "message", where, &msg) != 0) return -1;
    char at[160];
    snprintf(at, sizeof at, "%s.message", where);
    if (!msg) return fail(p, "%s.message: missing (every SARIF result has a message)", where);
    if (opt_string(p, msg, "text", at, &text) != 0) return -1;
    if (!text) return fail(p, "%s.message.text: missing (message ids without text are not supported)", where);
    if (opt_string(p, res, "ruleId", where, &rule) != 0 || opt_object(p, res, "rule", where, &rule_obj) != 0)
        return -1;
    const cJSON *index = cJSON_GetObjectItemCaseSensitive(res, "ruleIndex");
    if (index &&
        (!cJSON_IsNumber(index) || index->valuedouble < 0 || floor(index->valuedouble) != index->valuedouble))
        return fail(p, "%s.ruleIndex: must be an integer >= 0", where);
    if (!rule && rule_obj) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(rule_obj, "id");
        if (cJSON_IsString(id)) rule = id->valuestring;
    }
    const rule_ref_t *ref = NULL;
    if (index && index->valuedouble < nrules) ref = &rules[(int)index->valuedouble];
    for (int i = 0; !ref && rule && i < nrules; i++)
        if (rules[i].id && strcmp(rules[i].id, rule) == 0) ref = &rules[i];
    if (!rule && ref) rule = ref->id;
    if (opt_string(p, res, "level", where, &level) != 0) return -1;
    if (level && strcmp(level, "none") && strcmp(level, "note") && strcmp(level, "warning") &&
        strcmp(level, "error"))
        return fail(p, "%s.level: must be none, note, warning or error, got '%.40s'", where, level);
    if (parse_location(p, res, where, f, &uri, &function) != 0) return -1;
    const char *fp = fingerprint_of(res);
    f->rule = text_copy(rule ? rule : "", FIELD_MAX);
    f->rule_name = text_copy(ref && ref->name ? ref->name : "", FIELD_MAX);
    f->help_uri = text_copy(ref && ref->help_uri ? ref->help_uri : "", FIELD_MAX);
    f->level = text_copy(level ? level : "warning", 16);
    f->message = text_copy(text, MESSAGE_MAX);
    f->file = text_copy(uri ? uri : "", FIELD_MAX);
    f->function = text_copy(function ? function : "", FIELD_MAX);
    f->fingerprint = text_copy(fp ? fp : "", FIELD_MAX);
    if (!f->rule || !f->rule_name || !f->help_uri || !f->level || !f->message || !f->file || !f->function ||
        !f->fingerprint)
        return fail(p, "out of memory");
    uri_to_path(f->file);
    escape_sanitize(f->file); /* decoding may have made control bytes */
    return 0;
}

static int by_position(const void *a, const void *b) {
    const lint_finding_t *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c) return c;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->column != y->column) return x->column < y->column ? -1 : 1;
    return strcmp(x->rule, y->rule);
}

static int parse_run(parse_t *p, const cJSON *run, int ri, lint_report_t *r) {
    char where[96];
    snprintf(where, sizeof where, "runs[%d]", ri);
    if (!cJSON_IsObject(run)) return fail(p, "%s: must be an object", where);
    const cJSON *tool, *driver, *rules_json, *results;
    const char *name = NULL, *version = NULL;
    if (opt_object(p, run, "tool", where, &tool) != 0) return -1;
    if (!tool) return fail(p, "%s.tool: missing (every SARIF run names its tool)", where);
    char at[128];
    snprintf(at, sizeof at, "%s.tool", where);
    if (opt_object(p, tool, "driver", at, &driver) != 0) return -1;
    if (!driver) return fail(p, "%s.tool.driver: missing", where);
    snprintf(at, sizeof at, "%s.tool.driver", where);
    if (opt_string(p, driver, "name", at, &name) != 0) return -1;
    if (!name) return fail(p, "%s.tool.driver.name: missing", where);
    if (opt_string(p, driver, "semanticVersion", at, &version) != 0) return -1;
    if (!version && opt_string(p, driver, "version", at, &version) != 0) return -1;
    if (!r->tool) {
        r->tool = text_copy(name, FIELD_MAX);
        r->tool_version = text_copy(version ? version : "", FIELD_MAX);
        if (!r->tool || !r->tool_version) return fail(p, "out of memory");
    }
    if (opt_array(p, driver, "rules", at, &rules_json) != 0 ||
        opt_array(p, run, "results", where, &results) != 0)
        return -1;
    int nrules = rules_json ? cJSON_GetArraySize(rules_json) : 0;
    rule_ref_t *rules = nrules ? calloc((size_t)nrules, sizeof *rules) : NULL;
    if (nrules && !rules) return fail(p, "out of memory");
    int i = 0;
    const cJSON *it;
    if (rules_json) cJSON_ArrayForEach(it, rules_json) {
            if (cJSON_IsObject(it)) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id"),
                            *nm = cJSON_GetObjectItemCaseSensitive(it, "name"),
                            *help = cJSON_GetObjectItemCaseSensitive(it, "helpUri");
                rules[i] = (rule_ref_t){cJSON_IsString(id) ? id->valuestring : NULL,
                                        cJSON_IsString(nm) ? nm->valuestring : NULL,
                                        cJSON_IsString(help) ? help->valuestring : NULL};
            }
            i++;
        }
    int rc = 0;
    i = 0;
    if (results) cJSON_ArrayForEach(it, results) {
            r->total++;
            if (r->count < LINT_MAX_FINDINGS) {
                char rw[128];
                snprintf(rw, sizeof rw, "%s.results[%d]", where, i);
                lint_finding_t *f = &r->findings[r->count++];
                if ((rc = parse_result(p, it, rw, rules, nrules, f)) != 0) break;
            }
            i++;
        }
    free(rules);
    return rc;
}

int lint_parse(const char *json, size_t len, lint_report_t **out, char *err, size_t errcap) {
    parse_t p = {err, errcap};
    if (len == 0) return fail(&p, "the body is empty (a SARIF 2.1.0 log was expected)");
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, false);
    if (!doc) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return fail(&p, "not JSON: a syntax error near byte %zu", at);
    }
    lint_report_t *r = NULL;
    int rc = -1;
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "version"), *runs, *run;
    if (!cJSON_IsObject(doc)) {
        fail(&p, "not a SARIF log: the document must be a JSON object");
        goto done;
    }
    if (!version) {
        fail(&p, "not a SARIF log: 'version' is missing (SARIF 2.1.0 has \"version\": \"2.1.0\")");
        goto done;
    }
    if (!cJSON_IsString(version) || strcmp(version->valuestring, "2.1.0") != 0) {
        char got[48] = "a non-string";
        if (cJSON_IsString(version)) {
            escape_sanitize_copy(got + 1, sizeof got - 2, version->valuestring, strlen(version->valuestring));
            got[0] = '\'';
            strcat(got, "'");
        }
        fail(&p, "not SARIF 2.1.0: 'version' is %s (only 2.1.0 is read)", got);
        goto done;
    }
    runs = cJSON_GetObjectItemCaseSensitive(doc, "runs");
    if (!cJSON_IsArray(runs)) {
        fail(&p, "not a SARIF log: 'runs' %s", runs ? "must be an array" : "is missing");
        goto done;
    }
    if (!(r = calloc(1, sizeof *r))) {
        fail(&p, "out of memory");
        goto done;
    }
    uint64_t results = 0;
    cJSON_ArrayForEach(run, runs) {
        const cJSON *res = cJSON_IsObject(run) ? cJSON_GetObjectItemCaseSensitive(run, "results") : NULL;
        if (cJSON_IsArray(res)) results += (uint64_t)cJSON_GetArraySize(res);
    }
    size_t keep = results < LINT_MAX_FINDINGS ? (size_t)results : LINT_MAX_FINDINGS;
    if (keep && !(r->findings = calloc(keep, sizeof *r->findings))) {
        fail(&p, "out of memory");
        goto done;
    }
    int ri = 0;
    cJSON_ArrayForEach(run, runs) {
        if (parse_run(&p, run, ri++, r) != 0) goto done;
    }
    if (!r->tool && !(r->tool = text_copy("", 1))) goto done;
    if (!r->tool_version && !(r->tool_version = text_copy("", 1))) goto done;
    if (r->count) qsort(r->findings, r->count, sizeof *r->findings, by_position);
    *out = r;
    r = NULL;
    rc = 0;
done:
    lint_report_free(r);
    cJSON_Delete(doc);
    return rc;
}

void lint_report_free(lint_report_t *r) {
    if (!r) return;
    for (uint32_t i = 0; i < r->count; i++)
        finding_free(&r->findings[i]);
    free(r->findings);
    free(r->tool);
    free(r->tool_version);
    free(r);
}

uint32_t lint_report_count(const lint_report_t *r) {
    return r ? r->count : 0;
}

uint64_t lint_report_total(const lint_report_t *r) {
    return r ? r->total : 0;
}

/* ---- the holder ---------------------------------------------------------------- */

static void take(lint_t *l, lint_report_t *r, const char *source) {
    lint_report_free(l->report);
    l->report = r;
    snprintf(l->source, sizeof l->source, "%s", source);
    l->received_ms = clock_now_ms();
    l->accepted++;
    l->last_error[0] = '\0';
}

static void refused(lint_t *l, const char *why) {
    l->refused++;
    snprintf(l->last_error, sizeof l->last_error, "%s", why);
}

int lint_put(lint_t *l, const char *body, size_t len, char *err, size_t errcap) {
    lint_report_t *r;
    if (len > l->max_bytes) {
        snprintf(err, errcap, "the report is %zu bytes, more than --max-lint-report (%llu)", len,
                 (unsigned long long)l->max_bytes);
        refused(l, err);
        return -1;
    }
    if (lint_parse(body, len, &r, err, errcap) != 0) {
        refused(l, err);
        return -1;
    }
    take(l, r, "put");
    LOG(LOG_INFO, "lint report received: %u findings from %s", r->count, r->tool);
    return 0;
}

/* Reads --lint-report (on the loop thread: a bounded file, read once per
 * change). */
static void read_file(lint_t *l) {
    char err[400];
    FILE *f = fopen(l->path, "rb");
    if (!f) {
        snprintf(err, sizeof err, "cannot open %s: %s", l->path, strerror(errno));
        refused(l, err);
        LOG(LOG_WARN, "--lint-report: %s", err);
        return;
    }
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, sizeof err, "%s is not a regular file", l->path);
    } else if ((uint64_t)st.st_size > l->max_bytes) {
        snprintf(err, sizeof err, "%s is %llu bytes, more than --max-lint-report (%llu)", l->path,
                 (unsigned long long)st.st_size, (unsigned long long)l->max_bytes);
    } else if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(err, sizeof err, "out of memory");
    } else {
        n = fread(buf, 1, (size_t)st.st_size + 1, f);
        err[0] = '\0';
        if (n > (size_t)st.st_size) snprintf(err, sizeof err, "%s grew while it was read; waiting", l->path);
    }
    fclose(f);
    lint_report_t *r;
    if (!err[0]) {
        char why[360];
        if (lint_parse(buf, n, &r, why, sizeof why) == 0) {
            take(l, r, "file");
            LOG(LOG_INFO, "--lint-report %s: %u findings from %s", l->path, r->count, r->tool);
        } else {
            snprintf(err, sizeof err, "%s: %s", l->path, why);
        }
    }
    free(buf);
    if (err[0]) {
        refused(l, err);
        LOG(LOG_WARN, "--lint-report: %s (the previous report stays)", err);
    }
}

/* Reads --lint-report when it is not the file last looked at (another
 * inode, size or modification time): a CI that rewrites it or renames a
 * new one over it. An empty file is being written: the next look sees it
 * grow. Loop thread; one stat(2) per look. */
static void check_file(lint_t *l) {
    struct stat st;
    if (stat(l->path, &st) != 0) {
        l->have_seen = false;
        return;
    }
    if (l->have_seen && st.st_dev == l->seen.st_dev && st.st_ino == l->seen.st_ino &&
        st.st_size == l->seen.st_size && st.st_mtim.tv_sec == l->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == l->seen.st_mtim.tv_nsec)
        return;
    l->seen = st;
    l->have_seen = true;
    if (st.st_size > 0) read_file(l);
}

static void check_cb(uv_timer_t *t) {
    check_file(t->data);
}

int lint_start(lint_t **out, uv_loop_t *loop, const char *path, uint64_t max_bytes, char *err,
               size_t errcap) {
    lint_t *l = calloc(1, sizeof *l);
    if (!l || (path[0] && !(l->path = strdup(path)))) {
        free(l);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    l->loop = loop;
    l->max_bytes = max_bytes;
    if (l->path) {
        check_file(l);
        if (!l->have_seen)
            LOG(LOG_INFO, "--lint-report %s does not exist yet; it is read when it appears", l->path);
        uv_timer_init(loop, &l->check);
        l->check.data = l;
        l->checking = true;
        uv_timer_start(&l->check, check_cb, CHECK_MS, CHECK_MS);
    }
    (void)err;
    (void)errcap;
    *out = l;
    return 0;
}

/* A line or column (0: absent), a string ("" or NULL: absent), or null. */
static void position_or_null(json_writer_t *w, const char *key, uint32_t v) {
    if (v)
        jw_u64(w, key, v);
    else
        jw_null(w, key);
}

static void str_or_null(json_writer_t *w, const char *key, const char *v) {
    if (v && v[0])
        jw_str(w, key, v);
    else
        jw_null(w, key);
}

char *lint_render(const lint_t *l, const char *file, uint32_t limit, size_t *len) {
    json_writer_t w = {0};
    const lint_report_t *r = l->report;
    jw_begin_object(&w, NULL);
    if (r) {
        jw_begin_object(&w, "report");
        jw_str(&w, "source", l->source);
        str_or_null(&w, "path", strcmp(l->source, "file") ? NULL : l->path);
        jw_u64(&w, "received_ms", l->received_ms);
        jw_str(&w, "tool", r->tool);
        jw_str(&w, "tool_version", r->tool_version);
        jw_u64(&w, "results", r->total);
        jw_u64(&w, "kept", r->count);
        jw_bool(&w, "truncated", r->total > r->count);
        jw_end_object(&w);
    } else {
        jw_null(&w, "report");
    }
    jw_u64(&w, "accepted", l->accepted);
    jw_u64(&w, "refused", l->refused);
    str_or_null(&w, "last_error", l->last_error);
    uint32_t shown = 0, matching = 0;
    unsigned best = 0; /* file=: the findings of the best-matching file */
    for (uint32_t i = 0; file && r && i < r->count; i++) {
        unsigned score = pathmatch_suffix(file, r->findings[i].file);
        if (score > best) best = score;
    }
    jw_begin_array(&w, "findings");
    for (uint32_t i = 0; r && i < r->count && !(file && !best); i++) {
        const lint_finding_t *f = &r->findings[i];
        if (file && pathmatch_suffix(file, f->file) != best) continue;
        matching++;
        if (shown == limit) continue;
        shown++;
        jw_begin_object(&w, NULL);
        jw_str(&w, "kind", "static");
        jw_str(&w, "rule", f->rule);
        jw_str(&w, "rule_name", f->rule_name);
        jw_str(&w, "level", f->level);
        jw_str(&w, "message", f->message);
        jw_str(&w, "file", f->file);
        position_or_null(&w, "line", f->line);
        position_or_null(&w, "column", f->column);
        position_or_null(&w, "end_line", f->end_line);
        jw_str(&w, "function", f->function);
        jw_str(&w, "fingerprint", f->fingerprint);
        jw_str(&w, "help_uri", f->help_uri);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_u64(&w, "count", shown);
    jw_u64(&w, "matching", matching);
    jw_end_object(&w);
    return jw_finish(&w, len);
}

void lint_close(lint_t *l) {
    if (l && l->checking && !uv_is_closing((uv_handle_t *)&l->check)) {
        uv_timer_stop(&l->check);
        uv_close((uv_handle_t *)&l->check, NULL);
    }
}

void lint_free(lint_t *l) {
    if (!l) return;
    lint_report_free(l->report);
    free(l->path);
    free(l);
}
