/* escape.c — unsafe text found, replaced or escaped (see escape.h). */
#include "escape.h"

#include <string.h>

/* Decodes one UTF-8 sequence of p[0..left) (p[0] >= 0x80). Returns its
 * length with *cp, or 0 when p[0] does not start a valid sequence. */
static size_t decode(const unsigned char *p, size_t left, uint32_t *cp) {
    static const uint32_t min[4] = {0, 0x80, 0x800, 0x10000};
    unsigned c = p[0];
    size_t n = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    if (n == 0 || n >= left) return 0;
    uint32_t v = c & (0x3fu >> n);
    for (size_t k = 1; k <= n; k++) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (p[k] & 0x3fu);
    }
    if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n + 1;
}

static bool unsafe_code_point(uint32_t cp) {
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

size_t escape_find_unsafe(const char *s, size_t len, size_t *seq_len, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i];
        size_t n = 1;
        if (c >= 0x80 && (n = decode(p + i, len - i, &c)) == 0) {
            *seq_len = 1;
            *cp = ESCAPE_INVALID;
            return i;
        }
        if (unsafe_code_point(c)) {
            *seq_len = n;
            *cp = c;
            return i;
        }
        i += n;
    }
    *seq_len = 0;
    *cp = 0;
    return len;
}

size_t escape_sanitize_copy(char *dst, size_t cap, const char *src, size_t len) {
    size_t in = 0, out = 0, replaced = 0;
    while (in < len) {
        size_t seq, safe = escape_find_unsafe(src + in, len - in, &seq, &(uint32_t){0});
        size_t room = cap - 1 - out;
        if (safe > room) {
            /* Cut before the first byte of the character that does not fit. */
            safe = room;
            while (safe > 0 && ((unsigned char)src[in + safe] & 0xc0) == 0x80)
                safe--;
            memmove(dst + out, src + in, safe);
            out += safe;
            break;
        }
        memmove(dst + out, src + in, safe);
        out += safe;
        in += safe;
        if (seq == 0) break;
        if (out == cap - 1) break;
        dst[out++] = '?';
        in += seq;
        replaced++;
    }
    dst[out] = '\0';
    return replaced;
}

size_t escape_sanitize(char *s) {
    size_t n = strlen(s);
    return escape_sanitize_copy(s, n + 1, s, n);
}

/* Writes a safe run, with '"' and '\' escaped. */
static void put_safe(const char *s, size_t n, escape_sink_fn put, void *user) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\') continue;
        if (i > start) put(user, s + start, i - start);
        char esc[2] = {'\\', s[i]};
        put(user, esc, 2);
        start = i + 1;
    }
    if (n > start) put(user, s + start, n - start);
}

void escape_json(const char *s, size_t len, escape_sink_fn put, void *user) {
    static const char hex[] = "0123456789abcdef";
    size_t in = 0;
    while (in < len) {
        size_t seq;
        uint32_t cp;
        size_t safe = escape_find_unsafe(s + in, len - in, &seq, &cp);
        put_safe(s + in, safe, put, user);
        in += safe;
        if (seq == 0) break;
        if (cp == ESCAPE_INVALID) cp = 0xfffd;
        char esc[6] = {'\\', 'u', hex[cp >> 12 & 15], hex[cp >> 8 & 15], hex[cp >> 4 & 15], hex[cp & 15]};
        put(user, esc, sizeof esc);
        in += seq;
    }
}
