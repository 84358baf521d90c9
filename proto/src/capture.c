/*
 * capture.c — the capture file header and the reader of capture files
 * (PROTOCOL.md §10): messages one after the other, each framed by its own
 * header, so the reader only needs the framing rules of §3.1 to find where
 * one message ends, and the total decoder for the rest.
 */
#include "fa_capture.h"
#include "proto_internal.h"

#include <string.h>

/* File header layout (PROTOCOL.md §10.1). */
#define OFF_MAJOR 4u
#define OFF_MINOR 5u
#define OFF_HEADER_SIZE 6u
#define OFF_FLAGS 8u

int fa_capture_header_encode(void *buf, size_t cap) {
    if (!buf) return FA_PROTO_ERR_INVALID_ARG;
    if (cap < FA_CAPTURE_HEADER_SIZE) return FA_PROTO_ERR_BUFFER_SMALL;
    uint8_t *p = buf;
    memset(p, 0, FA_CAPTURE_HEADER_SIZE);
    memcpy(p, FA_CAPTURE_MAGIC, 4);
    p[OFF_MAJOR] = FA_CAPTURE_VERSION_MAJOR;
    p[OFF_MINOR] = FA_CAPTURE_VERSION_MINOR;
    fa__proto_put_u16(p + OFF_HEADER_SIZE, FA_CAPTURE_HEADER_SIZE);
    return (int)FA_CAPTURE_HEADER_SIZE;
}

int fa_capture_reader_init(fa_capture_reader_t *r, const void *data, size_t len) {
    const uint8_t *p = data;
    if (!r || (!data && len)) return FA_PROTO_ERR_INVALID_ARG;
    if (len && memcmp(p, FA_CAPTURE_MAGIC, len < 4 ? len : 4) != 0) return FA_PROTO_ERR_BAD_MAGIC;
    if (len > OFF_MAJOR && p[OFF_MAJOR] != FA_CAPTURE_VERSION_MAJOR) return FA_PROTO_ERR_BAD_VERSION;
    fa_capture_reader_t n;
    memset(&n, 0, sizeof n);
    n.data = p;
    n.len = len;
    n.resumable = true;
    if (len < FA_CAPTURE_HEADER_SIZE) {
        /* Cut off inside the header (the magic and version checked above
         * are all there is to check): an empty capture. */
        n.offset = len;
        n.truncated_bytes = len;
        *r = n;
        return FA_PROTO_OK;
    }
    uint16_t header_size = fa__proto_get_u16(p + OFF_HEADER_SIZE);
    if (header_size < FA_CAPTURE_HEADER_SIZE) return FA_PROTO_ERR_LENGTH;
    n.header.version_major = p[OFF_MAJOR];
    n.header.version_minor = p[OFF_MINOR];
    n.header.header_size = header_size;
    n.header.flags = fa__proto_get_u32(p + OFF_FLAGS);
    if (len < header_size) {
        /* A newer minor version's longer header, cut off. */
        n.offset = len;
        n.truncated_bytes = len;
    } else {
        n.offset = header_size;
    }
    *r = n;
    return FA_PROTO_OK;
}

/* Whether the file ends in zero bytes that begin before data[end]: a
 * message whose bytes turn into zeros up to the end of the file was cut off
 * by a crash that left the file longer than what was written (some file
 * systems do after a power loss). Reads forward from data[end - 1] to the
 * first non-zero byte: O(1) for a message followed by another (its magic),
 * and the zero tail is read once, by the check that ends the stream. (From
 * the end of the file, every skipped message read the whole tail again.) */
static bool zero_tail_before(const fa_capture_reader_t *r, size_t end) {
    for (size_t i = end - 1; i < r->len; i++)
        if (r->data[i] != 0) return false;
    return true;
}

/* Ends the stream at r->offset: what is left is a cut-off tail. */
static int end_truncated(fa_capture_reader_t *r, size_t left) {
    r->truncated_bytes = left;
    r->offset = r->len;
    return 0;
}

/* A framing error: the stream cannot be followed past this offset, unless
 * the header was cut by a zero-filled tail. */
static int stick(fa_capture_reader_t *r, int err) {
    if (zero_tail_before(r, r->message_offset + FA_PROTO_HEADER_SIZE))
        return end_truncated(r, r->len - r->message_offset);
    r->error = err;
    r->resumable = false;
    return err;
}

int fa_capture_next(fa_capture_reader_t *r, fa_proto_msg_t *out, const fa_proto_storage_t *storage) {
    if (!r || !out) return FA_PROTO_ERR_INVALID_ARG;
    if (r->error) return r->error;
    if (r->offset >= r->len) return 0;
    const uint8_t *p = r->data + r->offset;
    size_t left = r->len - r->offset;
    r->message_offset = r->offset;
    r->resumable = true;

    /* Framing, as in PROTOCOL.md §3.1 but against the bytes left in the
     * file: a message that does not fit is the cut-off tail. */
    static const uint8_t magic[4] = {FA_PROTO_MAGIC_0, FA_PROTO_MAGIC_1, FA_PROTO_MAGIC_2, FA_PROTO_MAGIC_3};
    if (memcmp(p, magic, left < 4 ? left : 4) != 0) return stick(r, FA_PROTO_ERR_BAD_MAGIC);
    if (left < FA_PROTO_HEADER_SIZE) return end_truncated(r, left);
    if (p[FA_PROTO__OFF_MAJOR] != FA_PROTO_VERSION_MAJOR) return stick(r, FA_PROTO_ERR_BAD_VERSION);
    uint32_t body_len = fa__proto_get_u32(p + FA_PROTO__OFF_BODY_LEN);
    if (body_len > FA_PROTO_MAX_MESSAGE - FA_PROTO_HEADER_SIZE) return stick(r, FA_PROTO_ERR_TOO_LARGE);
    if (fa__proto_get_u64(p + FA_PROTO__OFF_SESSION) == 0) return stick(r, FA_PROTO_ERR_BAD_SESSION);
    size_t msg_len = FA_PROTO_HEADER_SIZE + (size_t)body_len;
    if (left < msg_len) return end_truncated(r, left);

    int rc = fa_proto_decode(p, msg_len, out, storage);
    if (rc < 0 && zero_tail_before(r, r->offset + msg_len)) return end_truncated(r, left);
    r->offset += msg_len;
    if (rc < 0) {
        r->skipped++;
        return rc;
    }
    r->messages++;
    return 1;
}
