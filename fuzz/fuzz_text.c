/*
 * fuzz_text.c — libFuzzer target for libfa-text (lib/text/): the sanitiser,
 * JSON escaping and the unit parsers, which read what agents and servers
 * send and what users type.
 *
 * Properties checked on every input (abort() on violation):
 *   - escape_sanitize_copy() leaves no unsafe sequence, never grows the
 *     text, counts one replacement per unsafe sequence, and with a short
 *     buffer still ends on a whole character;
 *   - in place it gives the same result as into another buffer;
 *   - escape_json() output, in quotes, is a JSON string cJSON parses, with
 *     no unsafe sequence in it;
 *   - the unit parsers never read past the string, and write only on success.
 */
#include "escape.h"
#include "units.h"

#include <cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c)) abort();                                                                                   \
    } while (0)

static size_t count_unsafe(const char *s, size_t len) {
    size_t n = 0, seq;
    uint32_t cp;
    for (size_t at = 0; (at += escape_find_unsafe(s + at, len - at, &seq, &cp)) < len; at += seq)
        n++;
    return n;
}

typedef struct buf {
    char *s;
    size_t len, cap;
} buf_t;

static void sink(void *user, const char *data, size_t n) {
    buf_t *b = user;
    CHECK(n > 0 && b->len + n <= b->cap);
    memcpy(b->s + b->len, data, n);
    b->len += n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *in = (const char *)data;
    char *out = malloc(size + 1), *same = malloc(size + 1);
    size_t replaced = escape_sanitize_copy(out, size + 1, in, size);
    size_t len = strlen(out), seq;
    uint32_t cp;
    CHECK(len <= size && escape_find_unsafe(out, len, &seq, &cp) == len);
    CHECK(replaced == count_unsafe(in, size));
    /* In place. */
    memcpy(same, in, size);
    same[size] = '\0';
    escape_sanitize_copy(same, size + 1, same, size);
    CHECK(strcmp(same, out) == 0);
    /* A short buffer: cut before a whole character, still safe. */
    char small[9];
    size_t cap = size ? (size_t)(data[0] % sizeof small) + 1 : 1;
    escape_sanitize_copy(small, cap, in, size);
    CHECK(strlen(small) < cap && escape_find_unsafe(small, strlen(small), &seq, &cp) == strlen(small));

    /* JSON: at most 6 bytes per input byte, plus quotes. */
    buf_t b = {malloc(6 * size + 3), 0, 6 * size + 3};
    sink(&b, "\"", 1);
    escape_json(in, size, sink, &b);
    sink(&b, "\"", 1);
    CHECK(escape_find_unsafe(b.s, b.len, &seq, &cp) == b.len);
    cJSON *doc = cJSON_ParseWithLength(b.s, b.len);
    CHECK(doc && cJSON_IsString(doc));
    cJSON_Delete(doc);
    free(b.s);

    /* The parsers take NUL-terminated text (what argv and config give). */
    uint64_t v = 42;
    if (units_parse_duration(same, &v) != 0) CHECK(v == 42);
    v = 42;
    memcpy(same, in, size);
    same[size] = '\0';
    if (units_parse_bytes(same, &v) != 0) CHECK(v == 42);
    char text[32];
    units_format_bytes(text, sizeof text, size ? (uint64_t)data[0] << (size % 56) : 0);
    free(out);
    free(same);
    return 0;
}
