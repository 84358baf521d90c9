/* json.c — cJSON helpers and the JSON objects shared by the HTTP API and
 * the WebSocket stream, so both speak exactly the shapes API.md lists.
 *
 * Integers (bytes, ns, unix ms, counts) are printed exactly as unsigned
 * decimal through raw cJSON nodes: cJSON stores numbers as doubles and
 * would round or print exponents above 2^53. */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "framealloc.h"
#include "sid.h"

cJSON *json_add_u64(cJSON *obj, const char *name, uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_AddRawToObject(obj, name, buf);
}

cJSON *json_add_u64_or_null(cJSON *obj, const char *name, uint64_t v, bool present) {
    return present ? json_add_u64(obj, name, v) : cJSON_AddNullToObject(obj, name);
}

cJSON *json_add_sid(cJSON *obj, const char *name, uint64_t sid) {
    char hex[SID_HEX_LEN + 1];
    sid_format(sid, hex);
    return cJSON_AddStringToObject(obj, name, hex);
}

/* Through the writer: its escaping makes any message valid UTF-8 JSON
 * (a parameter such as limit=%FF is echoed escaped, never raw). */
char *json_error_body(const char *code, const char *message, const char *parameter) {
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    jw_begin_object(&w, "error");
    jw_str(&w, "code", code);
    jw_str(&w, "message", message);
    if (parameter) jw_str(&w, "parameter", parameter);
    jw_end_object(&w);
    jw_end_object(&w);
    return jw_finish(&w, NULL);
}

const char *json_kind_name(int kind) {
    switch (kind) {
    case FA_PROTO_KIND_FRAME:
        return "frame";
    case FA_PROTO_KIND_POOL:
        return "pool";
    case FA_PROTO_KIND_HEAP:
        return "heap";
    default:
        return "unknown";
    }
}

const char *json_finding_name(int code) {
    switch (code) {
#define FIND_NAME(name, value, meaning, fix)                                                                 \
    case value:                                                                                              \
        return #name;
        FA_FINDING_TABLE(FIND_NAME)
#undef FIND_NAME
    default:
        return "unknown";
    }
}

const char *json_finding_meaning(int code) {
    switch (code) {
#define FIND_MEANING(name, value, meaning, fix)                                                              \
    case value:                                                                                              \
        return meaning;
        FA_FINDING_TABLE(FIND_MEANING)
#undef FIND_MEANING
    default:
        return "unknown finding code";
    }
}

/* ---- streaming writer ---------------------------------------------------- */

static void jw_put(json_writer_t *w, const char *s, size_t n) {
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *grown = realloc(w->buf, cap);
        if (!grown) {
            w->failed = true;
            return;
        }
        w->buf = grown;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jw_sink(void *w, const char *s, size_t n) {
    jw_put(w, s, n);
}

/* The one JSON escaping (lib/text/escape.h): control and bidi code points
 * as \uXXXX, invalid bytes as \ufffd. */
static void jw_escaped(json_writer_t *w, const char *s) {
    jw_put(w, "\"", 1);
    escape_json(s, strlen(s), jw_sink, w);
    jw_put(w, "\"", 1);
}

/* Comma and key before a value. */
static void jw_lead(json_writer_t *w, const char *key) {
    if (w->comma) jw_put(w, ",", 1);
    if (key) {
        jw_put(w, "\"", 1);
        jw_put(w, key, strlen(key));
        jw_put(w, "\":", 2);
    }
    w->comma = true;
}

void jw_begin_object(json_writer_t *w, const char *key) {
    jw_lead(w, key);
    jw_put(w, "{", 1);
    w->comma = false;
}

void jw_end_object(json_writer_t *w) {
    jw_put(w, "}", 1);
    w->comma = true;
}

void jw_begin_array(json_writer_t *w, const char *key) {
    jw_lead(w, key);
    jw_put(w, "[", 1);
    w->comma = false;
}

void jw_end_array(json_writer_t *w) {
    jw_put(w, "]", 1);
    w->comma = true;
}

void jw_u64(json_writer_t *w, const char *key, uint64_t v) {
    char buf[24], *p = buf + sizeof buf;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    jw_lead(w, key);
    jw_put(w, p, (size_t)(buf + sizeof buf - p));
}

void jw_i64(json_writer_t *w, const char *key, int64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRId64, v);
    jw_lead(w, key);
    jw_put(w, buf, (size_t)n);
}

/* Numbers with decimals (percentages): like cJSON, 15 significant digits
 * then 17 if that does not round-trip; never NaN or infinity (null). */
void jw_double(json_writer_t *w, const char *key, double v) {
    char buf[32];
    if (v != v || v > 1e308 || v < -1e308) {
        jw_null(w, key);
        return;
    }
    int n = snprintf(buf, sizeof buf, "%1.15g", v);
    double back;
    if (sscanf(buf, "%lg", &back) != 1 || back != v) n = snprintf(buf, sizeof buf, "%1.17g", v);
    jw_lead(w, key);
    jw_put(w, buf, (size_t)n);
}

void jw_null(json_writer_t *w, const char *key) {
    jw_lead(w, key);
    jw_put(w, "null", 4);
}

void jw_str(json_writer_t *w, const char *key, const char *v) {
    jw_lead(w, key);
    jw_escaped(w, v);
}

void jw_bool(json_writer_t *w, const char *key, bool v) {
    jw_lead(w, key);
    jw_put(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_sid(json_writer_t *w, const char *key, uint64_t sid) {
    char hex[SID_HEX_LEN + 1];
    sid_format(sid, hex);
    jw_str(w, key, hex);
}

void jw_raw(json_writer_t *w, const char *key, const char *json, size_t len) {
    jw_lead(w, key);
    jw_put(w, json, len);
}

jw_mark_t jw_mark(const json_writer_t *w) {
    return (jw_mark_t){w->len, w->comma};
}

void jw_rollback(json_writer_t *w, jw_mark_t m) {
    if (w->failed || m.len > w->len) return;
    w->len = m.len;
    w->comma = m.comma;
}

char *jw_finish(json_writer_t *w, size_t *len) {
    if (w->failed || !w->buf) {
        jw_free(w);
        return NULL;
    }
    w->buf[w->len] = '\0';
    char *out = w->buf;
    if (len) *len = w->len;
    memset(w, 0, sizeof *w);
    return out;
}

void jw_free(json_writer_t *w) {
    free(w->buf);
    memset(w, 0, sizeof *w);
}
