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
 *     equal message;
 *   - 1.2 FRAMES: every entry reads back with fa_proto_frames_next() (the
 *     decode checked them all), re-encodes alone through the batch builder
 *     to an equal entry, and fa_proto_frame_rebuild() either refuses it
 *     with a documented error or gives exactly tag_rows rows in strictly
 *     increasing id order (the base carried from entry to entry, and a
 *     base of the fuzzer's rows before the first).
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
    case FA_PROTO_ERR_BAD_DELTA:
        return 1;
    }
    return 0;
}
static unsigned char encoded[FA_PROTO_MAX_MESSAGE];
static fa_proto_space_t entry_space, entry_again;
static fa_proto_tag_stat_t base_rows[2][FA_PROTO_MAX_ROWS];

static void check_frames(const fa_proto_msg_t *m) {
    /* A base that some deltas follow: rows of ids 0..7, frame 0. */
    fa_proto_tag_base_t base = {base_rows[0], base_rows[1], FA_PROTO_MAX_ROWS, 8, 0, true};
    for (uint16_t i = 0; i < 8; i++)
        base_rows[0][i] = (fa_proto_tag_stat_t){.id = i};
    fa_proto_storage_t st = fa_proto_storage_of(&entry_space), st2 = fa_proto_storage_of(&entry_again);
    fa_proto_frame_entry_t e, back;
    size_t offset = 0;
    uint32_t n = 0;
    int rc;
    while ((rc = fa_proto_frames_next(&m->frames, &offset, &e, &st)) == 1) {
        n++;
        fa_proto_batch_t b;
        if (fa_proto_batch_init(&b, encoded, sizeof encoded) != FA_PROTO_OK || fa_proto_batch_add(&b, &e) != 0)
            abort();
        fa_proto_header_t h = {.session_id = 1};
        int len = fa_proto_batch_finish(&b, &h);
        fa_proto_msg_t one;
        size_t off2 = 0;
        if (len <= 0 || fa_proto_decode(encoded, (size_t)len, &one, &st2) != FA_PROTO_OK ||
            fa_proto_frames_next(&one.frames, &off2, &back, &st2) != 1)
            abort();
        fa_proto_msg_t x = {.header = {.type = FA_PROTO_FRAME}}, y = x;
        x.frame = e.frame;
        y.frame = back.frame;
        if (back.delta != e.delta || back.base_frame != e.base_frame || back.tag_rows != e.tag_rows ||
            !proto_msg_equal(&x, &y, NULL, 0))
            abort();
        rc = fa_proto_frame_rebuild(&base, &e);
        if (rc == FA_PROTO_OK) {
            if (e.frame.tag_count != e.tag_rows) abort();
            for (uint32_t i = 1; i < e.frame.tag_count; i++)
                if (e.frame.tags[i].id <= e.frame.tags[i - 1].id) abort();
        } else if (rc != FA_PROTO_ERR_NO_BASE && rc != FA_PROTO_ERR_BAD_DELTA) {
            abort();
        }
    }
    if (rc != 0 || n != m->frames.count) abort();
}

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
    if (m.header.type == FA_PROTO_FRAMES) check_frames(&m);

    int n = fa_proto_encode(&m, encoded, sizeof encoded);
    if (n <= 0) abort();
    fa_proto_storage_t st2 = fa_proto_storage_of(&space_again);
    fa_proto_msg_t again;
    if (fa_proto_decode(encoded, (size_t)n, &again, &st2) != FA_PROTO_OK) abort();
    if (!proto_msg_equal(&again, &m, NULL, 0)) abort();
    return 0;
}
