/* json.h — JSON helpers shared by the API and the WebSocket stream (any
 * thread; a writer or a cJSON tree belongs to one thread at a time).
 *
 * Integers (bytes, ns, unix ms, counts) are printed exactly as unsigned
 * decimal: cJSON stores numbers as doubles and would round above 2^53. */
#ifndef FA_INSIGHTD_JSON_H
#define FA_INSIGHTD_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "fa_proto.h"

/* cJSON: an unsigned 64-bit integer printed exactly. */
cJSON *json_add_u64(cJSON *obj, const char *name, uint64_t v);
/* v, or null when present is false. */
cJSON *json_add_u64_or_null(cJSON *obj, const char *name, uint64_t v, bool present);
cJSON *json_add_sid(cJSON *obj, const char *name, uint64_t sid);
/* {"error":{"code":..,"message":..[,"parameter":..]}} as a malloc'd
 * string (NULL when out of memory). */
char *json_error_body(const char *code, const char *message, const char *parameter);

/* Names of the protocol's enumerations (static strings). */
const char *json_kind_name(int kind);
const char *json_finding_name(int code);
const char *json_finding_meaning(int code);

/* A streaming JSON writer for documents built row by row: no allocation
 * per value (cJSON's node-per-value cost dominated the frames route:
 * 1.5 s for 1000 frames x 64 tags, 0.1 s with this). Keys are written as
 * given (they are literals); string values are escaped. A failed
 * allocation makes the writer fail for good (jw_finish returns NULL). */
typedef struct json_writer {
    char *buf;
    size_t len, cap;
    bool comma; /* a value was written at this level */
    bool failed;
} json_writer_t;

void jw_begin_object(json_writer_t *w, const char *key); /* key NULL inside arrays */
void jw_end_object(json_writer_t *w);
void jw_begin_array(json_writer_t *w, const char *key);
void jw_end_array(json_writer_t *w);
void jw_u64(json_writer_t *w, const char *key, uint64_t v);
void jw_i64(json_writer_t *w, const char *key, int64_t v);
void jw_double(json_writer_t *w, const char *key, double v);
void jw_str(json_writer_t *w, const char *key, const char *v);
void jw_bool(json_writer_t *w, const char *key, bool v);
void jw_null(json_writer_t *w, const char *key);
void jw_sid(json_writer_t *w, const char *key, uint64_t sid);
/* Appends raw JSON text as the next value. */
void jw_raw(json_writer_t *w, const char *key, const char *json, size_t len);

/* Rows under a byte cap: take a mark before a row, and if the row made
 * the document too long, roll back to the mark (the row disappears). */
typedef struct jw_mark {
    size_t len;
    bool comma;
} jw_mark_t;
jw_mark_t jw_mark(const json_writer_t *w);
void jw_rollback(json_writer_t *w, jw_mark_t m);

/* The document (malloc'd, NUL-terminated) or NULL when out of memory; the
 * writer is reset either way. */
char *jw_finish(json_writer_t *w, size_t *len);
void jw_free(json_writer_t *w);

#endif
