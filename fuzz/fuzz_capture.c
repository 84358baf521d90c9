/*
 * fuzz_capture.c — libFuzzer target for the capture file reader
 * (fa_capture.h, PROTOCOL.md §10).
 *
 * Properties checked on every input (abort() on violation):
 *   - fa_capture_reader_init() and fa_capture_next() return only documented
 *     values, and ASan sees no read outside the input;
 *   - the reader moves forward: each message starts where the previous one
 *     ended, and a resumable error skips exactly one message;
 *   - at the end, the whole messages and the truncated tail account for
 *     every byte after the file header;
 *   - a sticky error stays; a decoded message re-encodes and decodes equal;
 *   - every prefix of an input reads as the same messages up to the cut
 *     (checked on a few cuts per input, which is what a crash produces).
 */
#include "fa_capture.h"
#include "fixtures.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static fa_proto_space_t space, space_again;
static unsigned char encoded[FA_PROTO_MAX_MESSAGE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads data[0..size) to its end; returns the messages read (or -1 when the
 * reader stopped on a sticky error). */
static long read_capture(const uint8_t *data, size_t size, int check_roundtrip) {
    fa_capture_reader_t r;
    int rc = fa_capture_reader_init(&r, data, size);
    if (rc < 0) {
        if (rc != FA_PROTO_ERR_BAD_MAGIC && rc != FA_PROTO_ERR_BAD_VERSION && rc != FA_PROTO_ERR_LENGTH)
            abort();
        return -2;
    }
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    /* A file cut inside its header is all tail. */
    size_t expect = r.truncated_bytes ? 0 : r.offset;
    long n = 0;
    for (;;) {
        fa_proto_msg_t m;
        rc = fa_capture_next(&r, &m, &st);
        if (rc == 0) break;
        if (r.message_offset != expect) abort();
        if (rc == 1) {
            n++;
            size_t len = FA_PROTO_HEADER_SIZE + m.header.body_len;
            if (r.offset != expect + len) abort();
            expect = r.offset;
            if (check_roundtrip) {
                int e = fa_proto_encode(&m, encoded, sizeof encoded);
                if (e <= 0) abort();
                fa_proto_storage_t st2 = fa_proto_storage_of(&space_again);
                fa_proto_msg_t again;
                if (fa_proto_decode(encoded, (size_t)e, &again, &st2) != FA_PROTO_OK) abort();
                if (!proto_msg_equal(&again, &m, NULL, 0)) abort();
            }
            continue;
        }
        if (rc > 1 || strcmp(fa_proto_err_name(rc), "FA_PROTO_ERR_UNKNOWN") == 0) abort();
        if (!r.resumable) {
            if (r.error != rc || fa_capture_next(&r, &m, &st) != rc) abort();
            return -1;
        }
        if (r.offset <= expect) abort();
        expect = r.offset;
    }
    if (r.offset != size || expect + r.truncated_bytes != size) abort();
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    long whole = read_capture(data, size, 1);
    if (whole < 0) return 0;
    /* Cutting a readable capture anywhere never yields an error and never
     * more messages. */
    size_t cuts[3] = {size / 3, size / 2, size ? size - 1 : 0};
    for (int i = 0; i < 3; i++) {
        long n = read_capture(data, cuts[i], 0);
        if (n < 0 && n != -1) abort();
        if (n > whole) abort();
    }
    return 0;
}
