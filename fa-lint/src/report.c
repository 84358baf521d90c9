/* report.c — text, JSON and SARIF. JSON is written with cJSON, which
 * escapes what must be escaped; the XML formats are in report_xml.c. */
#include "report.h"

#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static const char *const format_names[] = {"text", "json", "sarif", "junit", "checkstyle"};

int report_format_find(const char *name) {
    for (int i = 0; i < 5; i++)
        if (strcmp(name, format_names[i]) == 0) return i;
    return -1;
}

char *report_path(const char *root, const char *abs) {
    char *rel = path_below(root, abs);
    return rel ? rel : xstrdup(abs);
}

/* The text of line `line` of a file, blanks squeezed; files cached. */
typedef struct line_cache {
    char *path;
    char *text;
    size_t len;
} line_cache_t;

/* The start of line `line` in the cached file, or NULL. */
static const char *line_start(line_cache_t *c, const char *path, unsigned line) {
    if (!c->path || strcmp(c->path, path) != 0) {
        free(c->path);
        free(c->text);
        c->path = xstrdup(path);
        c->text = read_whole_file(path, &c->len);
    }
    if (!c->text) return NULL;
    const char *p = c->text, *end = c->text + c->len;
    for (unsigned l = 1; l < line && p < end; p++)
        if (*p == '\n') l++;
    return p;
}

/* libclang's columns count bytes; SARIF's count code points. */
static unsigned codepoint_column(line_cache_t *c, const char *path, unsigned line, unsigned byte_col) {
    const char *p = line_start(c, path, line);
    if (!p) return byte_col;
    const char *end = c->text + c->len;
    unsigned col = 1;
    for (unsigned b = 1; b < byte_col && p < end && *p != '\n'; b++, p++)
        if (((unsigned char)*p & 0xC0) != 0x80) col++;
    return col;
}

static void line_text(line_cache_t *c, const char *path, unsigned line, char *out, size_t outlen) {
    out[0] = 0;
    const char *p = line_start(c, path, line);
    if (!p) return;
    const char *end = c->text + c->len;
    size_t k = 0;
    bool space = false;
    for (; p < end && *p != '\n' && k + 1 < outlen; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            space = k > 0;
            continue;
        }
        if (space) out[k++] = ' ';
        space = false;
        if (k + 1 < outlen) out[k++] = *p;
    }
    out[k] = 0;
}

static void fingerprint_with(line_cache_t *cache, const run_output_t *out, size_t i, const char *root,
                             char hex[17]) {
    const lint_finding_t *f = &out->findings.items[i];
    char text[512];
    line_text(cache, f->file, f->line, text, sizeof text);
    char *rel = report_path(root, f->file);
    char *key = xasprintf("%s|%s|%s|%s|%s", rule_get(f->rule)->code, rel, f->function, f->subject, text);
    unsigned long long h = fnv1a(key, strlen(key), FNV_SEED);
    /* Identical keys (the same mistake twice on one line) stay distinct. */
    unsigned occurrence = 0;
    for (size_t k = 0; k < i; k++) {
        const lint_finding_t *g = &out->findings.items[k];
        if (g->rule == f->rule && strcmp(g->file, f->file) == 0 && strcmp(g->function, f->function) == 0 &&
            strcmp(g->subject, f->subject) == 0 && g->line == f->line)
            occurrence++;
    }
    h = fnv1a(&occurrence, sizeof occurrence, h);
    snprintf(hex, 17, "%016llx", h);
    free(rel);
    free(key);
}

void report_fingerprint(const run_output_t *out, size_t i, const char *root, char hex[17]) {
    line_cache_t cache = {0};
    fingerprint_with(&cache, out, i, root, hex);
    free(cache.path);
    free(cache.text);
}

static const char *level_word(int level) {
    return level == LEVEL_DENY ? "error" : "warning";
}

static size_t deny_count(const run_output_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < out->findings.count; i++)
        n += out->findings.items[i].level == LEVEL_DENY;
    return n;
}

static int write_text(FILE *f, const run_output_t *out, const report_info_t *info) {
    for (size_t i = 0; i < out->findings.count; i++) {
        const lint_finding_t *x = &out->findings.items[i];
        char *path = report_path(info->root, x->file);
        fprintf(f, "%s:%u:%u: %s: %s %s\n", path, x->line, x->col, level_word(x->level),
                rule_get(x->rule)->code, x->message);
        free(path);
    }
    return 0;
}

static cJSON *json_location(const lint_finding_t *x, const char *path) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddNumberToObject(o, "line", x->line);
    cJSON_AddNumberToObject(o, "column", x->col);
    cJSON_AddNumberToObject(o, "end_line", x->end_line);
    cJSON_AddNumberToObject(o, "end_column", x->end_col);
    return o;
}

static int print_json(FILE *f, cJSON *root) {
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) return -1;
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(s);
    return rc;
}

static int write_json(FILE *f, const run_output_t *out, const report_info_t *info) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "tool", "fa-lint");
    cJSON_AddStringToObject(root, "version", info->version);
    cJSON_AddStringToObject(root, "root", info->root);
    cJSON *arr = cJSON_AddArrayToObject(root, "findings");
    line_cache_t cache = {0};
    for (size_t i = 0; i < out->findings.count; i++) {
        const lint_finding_t *x = &out->findings.items[i];
        char *path = report_path(info->root, x->file);
        cJSON *o = json_location(x, path);
        cJSON_AddStringToObject(o, "code", rule_get(x->rule)->code);
        cJSON_AddStringToObject(o, "level", x->level == LEVEL_DENY ? "deny" : "warn");
        cJSON_AddStringToObject(o, "message", x->message);
        cJSON_AddStringToObject(o, "function", x->function);
        cJSON_AddStringToObject(o, "subject", x->subject);
        char hex[17];
        fingerprint_with(&cache, out, i, info->root, hex);
        cJSON_AddStringToObject(o, "fingerprint", hex);
        cJSON_AddItemToArray(arr, o);
        free(path);
    }
    free(cache.path);
    free(cache.text);
    cJSON *errors = cJSON_AddArrayToObject(root, "errors");
    for (size_t i = 0; i < out->errors.count; i++) {
        cJSON *e = cJSON_CreateObject();
        char *path = report_path(info->root, out->error_files.items[i]);
        cJSON_AddStringToObject(e, "file", path);
        cJSON_AddStringToObject(e, "message", out->errors.items[i]);
        cJSON_AddItemToArray(errors, e);
        free(path);
    }
    cJSON *sum = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(sum, "findings", (double)out->findings.count);
    cJSON_AddNumberToObject(sum, "deny", (double)deny_count(out));
    cJSON_AddNumberToObject(sum, "files", (double)out->files.count);
    cJSON_AddNumberToObject(sum, "units", info->units);
    cJSON_AddNumberToObject(sum, "parse_failures", (double)out->errors.count);
    return print_json(f, root);
}

/* A file: URI for an absolute directory, with a trailing slash, percent-
 * encoding what a URI may not hold as such. */
static char *file_uri(const char *abs_dir) {
    size_t n = strlen(abs_dir);
    char *s = xmalloc(n * 3 + 16);
    strcpy(s, "file://");
    size_t k = 7;
    for (const unsigned char *p = (const unsigned char *)abs_dir; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/-._~", *p))
            s[k++] = (char)*p;
        else
            k += (size_t)sprintf(s + k, "%%%02X", *p);
    }
    if (k == 7 || s[k - 1] != '/') s[k++] = '/';
    s[k] = 0;
    return s;
}

static char *relative_uri(const char *rel) {
    char *u = file_uri(rel);
    /* file_uri adds "file://" and a final '/': keep the encoded path only. */
    size_t n = strlen(u);
    char *r = xstrndup(u + 7, n - 8);
    free(u);
    return r;
}

static int write_sarif(FILE *f, const run_output_t *out, const report_info_t *info) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    cJSON_AddStringToObject(root, "version", "2.1.0");
    cJSON *runs = cJSON_AddArrayToObject(root, "runs");
    cJSON *run = cJSON_CreateObject();
    cJSON_AddItemToArray(runs, run);
    cJSON *driver = cJSON_AddObjectToObject(cJSON_AddObjectToObject(run, "tool"), "driver");
    cJSON_AddStringToObject(driver, "name", "fa-lint");
    cJSON_AddStringToObject(driver, "version", info->version);
    cJSON_AddStringToObject(driver, "semanticVersion", info->version);
    cJSON *rules = cJSON_AddArrayToObject(driver, "rules");
    for (int r = 0; r < RULE_COUNT; r++) {
        const rule_info *ri = rule_get((rule_id)r);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", ri->code);
        cJSON_AddStringToObject(o, "name", ri->name);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "shortDescription"), "text", ri->summary);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "fullDescription"), "text", ri->what);
        char *help = xasprintf("%s\n\nWhy: %s\n\nFix: %s\n\nWrong:\n%s\n\nRight:\n%s", ri->what, ri->why,
                               ri->fix, ri->wrong, ri->right);
        char *md =
            xasprintf("%s\n\n**Why it matters.** %s\n\n**How to fix it.** %s\n\nWrong:\n```c\n%s\n```\n\n"
                      "Right:\n```c\n%s\n```\n",
                      ri->what, ri->why, ri->fix, ri->wrong, ri->right);
        cJSON *h = cJSON_AddObjectToObject(o, "help");
        cJSON_AddStringToObject(h, "text", help);
        cJSON_AddStringToObject(h, "markdown", md);
        free(help);
        free(md);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "defaultConfiguration"), "level", "error");
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
        cJSON *tags = cJSON_AddArrayToObject(props, "tags");
        cJSON_AddItemToArray(tags, cJSON_CreateString(rule_group_name(ri->group)));
        cJSON_AddItemToArray(tags, cJSON_CreateString("memory"));
        cJSON_AddItemToArray(rules, o);
    }
    cJSON *bases = cJSON_AddObjectToObject(run, "originalUriBaseIds");
    char *root_uri = file_uri(info->root);
    cJSON *src = cJSON_AddObjectToObject(bases, "SRCROOT");
    cJSON_AddStringToObject(src, "uri", root_uri);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(src, "description"), "text",
                            "The project root: file paths in this report are relative to it.");
    free(root_uri);
    cJSON_AddStringToObject(run, "columnKind", "unicodeCodePoints");
    cJSON *results = cJSON_AddArrayToObject(run, "results");
    line_cache_t cache = {0};
    for (size_t i = 0; i < out->findings.count; i++) {
        const lint_finding_t *x = &out->findings.items[i];
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "ruleId", rule_get(x->rule)->code);
        cJSON_AddNumberToObject(res, "ruleIndex", x->rule);
        cJSON_AddStringToObject(res, "level", level_word(x->level));
        cJSON_AddStringToObject(cJSON_AddObjectToObject(res, "message"), "text", x->message);
        cJSON *locs = cJSON_AddArrayToObject(res, "locations");
        cJSON *loc = cJSON_CreateObject();
        cJSON_AddItemToArray(locs, loc);
        cJSON *phys = cJSON_AddObjectToObject(loc, "physicalLocation");
        cJSON *art = cJSON_AddObjectToObject(phys, "artifactLocation");
        char *rel = path_below(info->root, x->file);
        if (rel) {
            char *uri = relative_uri(rel);
            cJSON_AddStringToObject(art, "uri", uri);
            cJSON_AddStringToObject(art, "uriBaseId", "SRCROOT");
            free(uri);
            free(rel);
        } else {
            char *uri = file_uri(x->file);
            uri[strlen(uri) - 1] = 0;
            cJSON_AddStringToObject(art, "uri", uri);
            free(uri);
        }
        cJSON *region = cJSON_AddObjectToObject(phys, "region");
        cJSON_AddNumberToObject(region, "startLine", x->line);
        cJSON_AddNumberToObject(region, "startColumn", codepoint_column(&cache, x->file, x->line, x->col));
        cJSON_AddNumberToObject(region, "endLine", x->end_line);
        cJSON_AddNumberToObject(region, "endColumn",
                                codepoint_column(&cache, x->file, x->end_line, x->end_col));
        if (x->function[0]) {
            cJSON *logical = cJSON_AddArrayToObject(loc, "logicalLocations");
            cJSON *l = cJSON_CreateObject();
            cJSON_AddStringToObject(l, "name", x->function);
            cJSON_AddStringToObject(l, "kind", "function");
            cJSON_AddItemToArray(logical, l);
        }
        char hex[17];
        fingerprint_with(&cache, out, i, info->root, hex);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(res, "partialFingerprints"), "faLint/v1", hex);
        cJSON_AddItemToArray(results, res);
    }
    free(cache.path);
    free(cache.text);
    cJSON *invocations = cJSON_AddArrayToObject(run, "invocations");
    cJSON *inv = cJSON_CreateObject();
    cJSON_AddItemToArray(invocations, inv);
    cJSON_AddBoolToObject(inv, "executionSuccessful", out->errors.count == 0);
    cJSON *notes = cJSON_AddArrayToObject(inv, "toolExecutionNotifications");
    for (size_t i = 0; i < out->errors.count; i++) {
        cJSON *n = cJSON_CreateObject();
        cJSON_AddStringToObject(n, "level", "error");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(n, "message"), "text", out->errors.items[i]);
        cJSON *locs = cJSON_AddArrayToObject(n, "locations");
        cJSON *loc = cJSON_CreateObject();
        cJSON *art =
            cJSON_AddObjectToObject(cJSON_AddObjectToObject(loc, "physicalLocation"), "artifactLocation");
        char *rel = path_below(info->root, out->error_files.items[i]);
        char *uri = rel ? relative_uri(rel) : file_uri(out->error_files.items[i]);
        if (!rel) uri[strlen(uri) - 1] = 0;
        cJSON_AddStringToObject(art, "uri", uri);
        if (rel) cJSON_AddStringToObject(art, "uriBaseId", "SRCROOT");
        free(uri);
        free(rel);
        cJSON_AddItemToArray(locs, loc);
        cJSON_AddItemToArray(notes, n);
    }
    return print_json(f, root);
}

int report_write(FILE *f, report_format format, const run_output_t *out, const report_info_t *info) {
    switch (format) {
    case FORMAT_TEXT:
        return write_text(f, out, info);
    case FORMAT_JSON:
        return write_json(f, out, info);
    case FORMAT_SARIF:
        return write_sarif(f, out, info);
    default:
        return report_write_xml(f, format, out, info);
    }
}
