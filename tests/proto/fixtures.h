/*
 * fixtures.h — the known messages behind the golden vectors, shared by the
 * proto tests and the golden generator, plus a field-by-field comparison.
 */
#ifndef FA_PROTO_TEST_FIXTURES_H
#define FA_PROTO_TEST_FIXTURES_H

#include "fa_proto.h"

#include <stdbool.h>
#include <stddef.h>

/* The number of fixtures; each has a stable name, which is also the stem of
 * its golden file (tests/proto/golden/<name>.hex) and seed corpus file. */
size_t proto_fixture_count(void);
const char *proto_fixture_name(size_t i);
/* The fixture's message. Static storage, built on first use; not
 * thread-safe on the very first call. */
const fa_proto_msg_t *proto_fixture_msg(size_t i);

/* Writes a capture file (PROTOCOL.md §10): the file header, then every
 * fixture's message in fixture order, into out[0..cap); the offset of
 * message i goes to starts[i] when starts is not NULL (proto_fixture_count()
 * entries). Returns the file's length, or -1 when cap is too small. */
long proto_fixture_capture(unsigned char *out, size_t cap, size_t *starts);

/* Whether two messages are equal field by field (strings by content, rows
 * by value). On a difference, writes a description into why[0..why_cap). */
bool proto_msg_equal(const fa_proto_msg_t *a, const fa_proto_msg_t *b, char *why, size_t why_cap);

/* Parses golden hex text ('#' starts a comment to the end of the line;
 * otherwise pairs of hex digits separated by white space) into out[0..cap).
 * Returns the byte count, or -1 on a syntax error or overflow. */
long proto_hex_parse(const char *text, unsigned char *out, size_t cap);

/* Reads a whole file into a malloc'd buffer (NUL-terminated); NULL on
 * failure. *len receives the size without the NUL. */
char *proto_read_file(const char *path, size_t *len);

/* The bytes of golden vector dir/name.hex in a malloc'd buffer; NULL when
 * the file is missing or is not golden hex. *len receives the size. */
unsigned char *proto_load_hex(const char *dir, const char *name, size_t *len);

#endif
