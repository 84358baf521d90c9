/*
 * escape.h — text that came from outside (an agent, a server) made safe to
 * store, to print on a terminal and to put in JSON. Shared by fa-insightd
 * (sanitises every agent string once, at ingest; escapes JSON) and fa-cli
 * (sanitises everything it prints from a server) through libfa-text.
 *
 * UNSAFE means, in UTF-8 text:
 *   - a byte that does not start or continue a valid UTF-8 sequence
 *     (stray continuation bytes, truncated, overlong or surrogate sequences,
 *     code points above U+10FFFF), one byte at a time;
 *   - C0 controls U+0000-U+001F (tab and newline too), DEL U+007F and C1
 *     controls U+0080-U+009F (a terminal reads ESC and U+009B as the start
 *     of a command: title changes, screen clears, hyperlinks);
 *   - bidirectional formatting, which reorders what a reader sees
 *     ("Trojan Source"): U+061C, U+200E, U+200F, U+202A-U+202E (U+202E is
 *     the right-to-left override), U+2066-U+2069;
 *   - the line and paragraph separators U+2028, U+2029.
 * Everything else, including every printable non-ASCII character, is kept.
 *
 * Pure functions: no allocation, no global state, any thread. O(length).
 */
#ifndef FA_TEXT_ESCAPE_H
#define FA_TEXT_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The code point reported for an invalid byte. */
#define ESCAPE_INVALID UINT32_MAX

/* Finds the first unsafe sequence in s[0..len): returns its offset (len when
 * there is none) and writes its length in bytes (1 for an invalid byte) and
 * its code point (ESCAPE_INVALID for an invalid byte). */
size_t escape_find_unsafe(const char *s, size_t len, size_t *seq_len, uint32_t *cp);

/* Copies src[0..len) into dst as a NUL-terminated string, each unsafe
 * sequence replaced by '?', so the result is never longer than the input:
 * dst may equal src (in place). At most cap - 1 bytes are written, cut
 * before a whole UTF-8 character. Returns the number of replacements. cap
 * MUST be at least 1. */
size_t escape_sanitize_copy(char *dst, size_t cap, const char *src, size_t len);

/* The same in place on a NUL-terminated string. Returns the number of
 * replacements. */
size_t escape_sanitize(char *s);

/* Receives output in pieces; n > 0. */
typedef void (*escape_sink_fn)(void *user, const char *data, size_t n);

/* Writes s[0..len) as the contents of a JSON string (without the quotes):
 * '"' and '\' escaped, every other unsafe code point as \uXXXX, and each
 * invalid byte as \ufffd, so the output is valid UTF-8 JSON that no
 * terminal misreads. */
void escape_json(const char *s, size_t len, escape_sink_fn put, void *user);

#endif
