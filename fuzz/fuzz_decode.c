/*
 * fuzz_decode.c — libFuzzer target for the protocol decoder.
 *
 * Properties checked on every input (abort() on violation, so libFuzzer
 * keeps the input as a crash artifact):
 *   - fa_proto_decode() returns FA_PROTO_OK or a documented error, and ASan
 *     sees no read outside the input (libFuzzer hands over an exact-size
 *     heap copy);
 *   - fa_proto_decode_header() agrees with it on the framing;
 *   - a decoded message re-encodes, and the re-encoded bytes decode to an
 *     equal message.
 */
#include "fa_proto.h"
#include "fixtures.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static fa_proto_space_t space, space_again;

/* Whether a decode result comes after a successful framing check. */
static int is_body_outcome(int rc) {
    switch (rc) {
    case FA_PROTO_OK:
    case FA_PROTO_ERR_UNKNOWN_TYPE:
    case FA_PROTO_ERR_SHORT_BODY:
    case FA_PROTO_ERR_STRING_TOO_LONG:
    case FA_PROTO_ERR_BAD_STRING:
    case FA_PROTO_ERR_TOO_MANY_ROWS:
    case FA_PROTO_ERR_BAD_STRIDE:
        return 1;
    }
    return 0;
}
static unsigned char encoded[FA_PROTO_MAX_MESSAGE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    int rc = fa_proto_decode(data, size, &m, &st);
    if (strcmp(fa_proto_err_name(rc), "FA_PROTO_ERR_UNKNOWN") == 0 || rc > 0) abort();
    if (rc == FA_PROTO_ERR_INVALID_ARG || rc == FA_PROTO_ERR_STORAGE_SMALL || rc == FA_PROTO_ERR_BUFFER_SMALL)
        abort(); /* impossible with full storage and valid arguments */

    fa_proto_header_t h;
    int hrc = fa_proto_decode_header(data, size, &h);
    if (is_body_outcome(rc)) {
        if (hrc != FA_PROTO_OK) abort();
    } else if (hrc != rc) {
        abort();
    }
    if (rc != FA_PROTO_OK) return 0;

    int n = fa_proto_encode(&m, encoded, sizeof encoded);
    if (n <= 0) abort();
    fa_proto_storage_t st2 = fa_proto_storage_of(&space_again);
    fa_proto_msg_t again;
    if (fa_proto_decode(encoded, (size_t)n, &again, &st2) != FA_PROTO_OK) abort();
    if (!proto_msg_equal(&again, &m, NULL, 0)) abort();
    return 0;
}
