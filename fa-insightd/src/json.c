/* json.c — cJSON helpers and the JSON objects shared by the HTTP API and
 * the WebSocket stream, so both speak exactly the shapes API.md lists.
 *
 * Integers (bytes, ns, unix ms, counts) are printed exactly as unsigned
 * decimal through raw cJSON nodes: cJSON stores numbers as doubles and
 * would round or print exponents above 2^53. */
#include "escape.h"
#include "insightd.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

cJSON *json_u64(uint64_t v) {
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return cJSON_CreateRaw(buf);
}

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
    insightd_sid_format(sid, hex);
    return cJSON_AddStringToObject(obj, name, hex);
}

char *json_error_body(const char *code, const char *message, const char *parameter) {
    cJSON *root = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (parameter) cJSON_AddStringToObject(e, "parameter", parameter);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
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

cJSON *json_kind_totals(const fa_proto_kind_totals_t totals[FA_PROTO_KIND_COUNT]) {
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        cJSON *t = cJSON_AddObjectToObject(o, json_kind_name(k));
        json_add_u64(t, "in_use", totals[k].in_use);
        json_add_u64(t, "peak", totals[k].peak);
        json_add_u64(t, "alloc_count", totals[k].alloc_count);
        json_add_u64(t, "alloc_bytes", totals[k].alloc_bytes);
        json_add_u64(t, "free_count", totals[k].free_count);
    }
    return o;
}

static void add_lib_version(cJSON *o, uint32_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%u.%u.%u", (v >> 16) & 0xffffu, (v >> 8) & 0xffu, v & 0xffu);
    cJSON_AddStringToObject(o, "lib_version", buf);
}

cJSON *json_session(const session_t *s) {
    cJSON *o = cJSON_CreateObject();
    json_add_sid(o, "id", s->id);
    cJSON_AddStringToObject(o, "app", s->app);
    cJSON_AddStringToObject(o, "label", s->label);
    cJSON_AddStringToObject(o, "host", s->host);
    cJSON_AddStringToObject(o, "build_id", s->build_id);
    json_add_u64(o, "pid", s->pid);
    add_lib_version(o, s->lib_version);
    cJSON_AddBoolToObject(o, "hello", s->have_hello);
    json_add_u64_or_null(o, "started_ms", s->started_ms, s->have_hello);
    json_add_u64_or_null(o, "first_frame_ms", s->first_ms, s->frames > 0);
    json_add_u64_or_null(o, "last_frame_ms", s->last_ms, s->frames > 0);
    json_add_u64_or_null(o, "last_frame", s->last_frame, s->frames > 0);
    cJSON_AddBoolToObject(o, "live", s->live);
    json_add_u64_or_null(o, "ended_ms", s->ended_ms, s->ended_ms != 0);
    if (s->end_reason)
        cJSON_AddStringToObject(o, "end_reason", s->end_reason);
    else
        cJSON_AddNullToObject(o, "end_reason");
    json_add_u64(o, "frames", s->frames);
    json_add_u64(o, "gaps", s->gaps);
    json_add_u64(o, "agent_dropped", s->agent_dropped);
    json_add_u64(o, "tags", s->tag_count);
    json_add_u64(o, "active_alerts", s->active_alerts);
    return o;
}

cJSON *json_alert_live(const session_t *s, const tag_t *t, const alert_event_t *ev) {
    const alert_state_t *a = &t->alert;
    bool cleared = ev && ev->event == ALERT_EV_CLEARED;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)a->id);
    json_add_sid(o, "session", s->id);
    cJSON_AddNumberToObject(o, "tag_id", t->id);
    cJSON_AddStringToObject(o, "tag", t->path);
    /* On a clear the state already went back to none: report the level
     * the episode reached. */
    cJSON_AddStringToObject(o, "level", alerts_level_name(a->episode_level));
    cJSON_AddStringToObject(o, "state", cleared ? "cleared" : "active");
    json_add_u64(o, "raised_ms", a->raised_ms);
    json_add_u64_or_null(o, "cleared_ms", ev ? ev->cleared_ms : 0, cleared);
    if (cleared && ev->clear_reason)
        cJSON_AddStringToObject(o, "clear_reason", ev->clear_reason);
    else
        cJSON_AddNullToObject(o, "clear_reason");
    json_add_u64(o, "budget_hard", a->budget_hard);
    json_add_u64(o, "raised_bytes", a->raised_bytes);
    json_add_u64(o, "peak_bytes", a->peak_bytes);
    cJSON_AddNumberToObject(o, "peak_pct", alerts_pct(a->peak_bytes, a->budget_hard));
    json_add_u64(o, "live_bytes", t->live_bytes);
    return o;
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
    insightd_sid_format(sid, hex);
    jw_str(w, key, hex);
}

void jw_raw(json_writer_t *w, const char *key, const char *json, size_t len) {
    jw_lead(w, key);
    jw_put(w, json, len);
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
