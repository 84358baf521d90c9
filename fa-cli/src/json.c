/* json.c — tolerant accessors over the daemon's JSON. A missing member, a
 * null or a value of the wrong type reads as the default: the renderer
 * then shows "-" instead of crashing on a daemon of another version. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

const cJSON *jv_get(const cJSON *obj, const char *name) {
    if (!obj || !cJSON_IsObject(obj)) return NULL;
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

bool jv_has(const cJSON *obj, const char *name) {
    const cJSON *v = jv_get(obj, name);
    return v && !cJSON_IsNull(v);
}

const char *jv_str(const cJSON *obj, const char *name, const char *def) {
    const cJSON *v = jv_get(obj, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

uint64_t jv_u64(const cJSON *obj, const char *name, uint64_t def) {
    const cJSON *v = jv_get(obj, name);
    if (cJSON_IsNumber(v)) {
        /* Exact for integers printed by the daemon: cJSON keeps the text's
         * double, which is exact below 2^53 (bytes, ms, counts are). */
        if (v->valuedouble <= 0) return 0;
        if (v->valuedouble >= 18446744073709551615.0) return UINT64_MAX;
        return (uint64_t)v->valuedouble;
    }
    if (cJSON_IsString(v) && v->valuestring && isdigit((unsigned char)v->valuestring[0]))
        return strtoull(v->valuestring, NULL, 10);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? 1 : 0;
    return def;
}

double jv_num(const cJSON *obj, const char *name, double def) {
    const cJSON *v = jv_get(obj, name);
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (end != v->valuestring) return d;
    }
    return def;
}

bool jv_bool(const cJSON *obj, const char *name, bool def) {
    const cJSON *v = jv_get(obj, name);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    return def;
}

const cJSON *jv_first(const cJSON *obj, const char *const *names) {
    for (; *names; names++) {
        const cJSON *v = jv_get(obj, *names);
        if (v && !cJSON_IsNull(v)) return v;
    }
    return NULL;
}

const cJSON *jv_array(const cJSON *obj, const char *name) {
    if (!name) return cJSON_IsArray(obj) ? obj : NULL;
    const cJSON *v = jv_get(obj, name);
    return cJSON_IsArray(v) ? v : NULL;
}

void jv_sanitize(cJSON *node) {
    for (; node; node = node->next) {
        if (node->string) escape_sanitize(node->string);
        if (cJSON_IsString(node) && node->valuestring) escape_sanitize(node->valuestring);
        jv_sanitize(node->child);
    }
}
