/*
 * fa_capture.h — capture files: a session's protocol messages kept in a
 * file, and the one reader of them (fa-cli and the daemon both use it).
 *
 * WHAT IT IS
 *   A capture file is a 16-byte file header (magic "FACF", version, header
 *   size) followed by protocol messages (fa_proto.h) exactly as they would
 *   travel over nng, one after the other, with nothing between them: each
 *   message's own header carries its length. The agent writes it
 *   append-only, one whole message per write, so a file cut off by a crash
 *   ends with at most one partial message, which the reader reports as a
 *   truncated tail, not as an error. The format is specified in
 *   proto/PROTOCOL.md, section 10.
 *
 * QUICK START (read a capture mapped or loaded in memory)
 *     fa_capture_reader_t r;
 *     int rc = fa_capture_reader_init(&r, data, len);   // checks the file header
 *     if (rc < 0) fail("not a capture: %s", fa_proto_strerror(rc));
 *     static fa_proto_space_t space;                    // large: not on a stack
 *     fa_proto_storage_t st = fa_proto_storage_of(&space);
 *     fa_proto_msg_t m;
 *     while ((rc = fa_capture_next(&r, &m, &st)) != 0) {
 *         if (rc > 0) use(&m);                          // valid until the next call
 *         else if (!r.resumable) fail(...);             // framing broken: stop
 *         else count_skipped(rc);                       // one bad message skipped
 *     }
 *     if (r.truncated_bytes) note("cut off: %zu bytes of a last message", ...);
 *
 * OWNERSHIP AND THREADS
 *   Nothing here allocates. The reader holds a view of the caller's bytes,
 *   which MUST outlive it and every message it returned; decoded messages
 *   point into those bytes and into the caller's storage, as with
 *   fa_proto_decode(). A reader is used by one thread at a time; two readers
 *   over the same bytes may run in parallel.
 */
#ifndef FA_CAPTURE_H
#define FA_CAPTURE_H

#include "fa_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the file header this library writes. A reader accepts
 * every minor version of its major version (a newer minor may only make the
 * header longer, and header_size says how long) and refuses another major
 * version with FA_PROTO_ERR_BAD_VERSION. */
#define FA_CAPTURE_VERSION_MAJOR 1
#define FA_CAPTURE_VERSION_MINOR 0
/* Size of the v1 file header, in bytes. */
#define FA_CAPTURE_HEADER_SIZE 16u
/* The four magic bytes at offset 0 of a capture file: "FACF". */
#define FA_CAPTURE_MAGIC "FACF"

/* The file header as read back. */
typedef struct fa_capture_header {
    uint8_t version_major;
    uint8_t version_minor;
    uint16_t header_size; /* where the first message starts (>= 16) */
    uint32_t flags;       /* reserved: v1 writes 0, readers ignore it */
} fa_capture_header_t;

/* Writes the v1 file header into buf[0..cap) and returns its size
 * (FA_CAPTURE_HEADER_SIZE), or FA_PROTO_ERR_INVALID_ARG (NULL buf) or
 * FA_PROTO_ERR_BUFFER_SMALL. Any thread; O(1). */
FA_PROTO_API int fa_capture_header_encode(void *buf, size_t cap);

/* A position in a capture held in memory. Read the public fields; the
 * functions below are the only writers. */
typedef struct fa_capture_reader {
    const unsigned char *data;  /* the whole file */
    size_t len;
    size_t offset;              /* where the next message starts */
    size_t message_offset;      /* where the message last returned (or refused) starts */
    fa_capture_header_t header; /* valid after a successful init */
    uint64_t messages;          /* messages decoded so far */
    uint64_t skipped;           /* whole messages refused by the decoder and skipped */
    size_t truncated_bytes;     /* at the end: bytes of a cut-off last message (0: clean end) */
    bool resumable;             /* after an error: whether fa_capture_next() can go on */
    int error;                  /* sticky framing error, 0 while none */
} fa_capture_reader_t;

/* Checks the file header of data[0..len) and sets r up to read the first
 * message. A file shorter than the header whose bytes are a prefix of a
 * valid header (a crash right after the file was created) is accepted as an
 * empty capture with a truncated tail. Returns FA_PROTO_OK, or
 * FA_PROTO_ERR_BAD_MAGIC (not a capture file), FA_PROTO_ERR_BAD_VERSION
 * (another major version), FA_PROTO_ERR_LENGTH (header_size below 16),
 * FA_PROTO_ERR_INVALID_ARG (NULL r, or NULL data with len > 0); on error *r
 * is untouched. data MUST outlive the reader. O(1). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_capture_reader_init(fa_capture_reader_t *r, const void *data,
                                                           size_t len);

/* Decodes the next message into *out (strings point into the capture, rows
 * into storage, valid until the next call that reuses storage). Returns:
 *   1  a message; r->message_offset is where it starts;
 *   0  the end: every whole message was returned; r->truncated_bytes > 0
 *      when the file ends inside a message (a crash, or a writer still
 *      running) — the bytes of that partial message (a tail of zero bytes,
 *      as a file system may leave after a power loss, counts as one);
 *   <0 a fa_proto_err for the message at r->message_offset. When its own
 *      header was sound (magic, version, length, session) r->resumable is
 *      true: the message was skipped (r->skipped counts it; a message type
 *      of a newer minor version, FA_PROTO_ERR_UNKNOWN_TYPE, is the expected
 *      case) and the next call reads the one after it. Otherwise the bytes
 *      at that offset are not a message, the stream cannot be resynchronised,
 *      and every later call returns the same error (r->error).
 * Never reads outside the capture; no allocation; O(message length). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_capture_next(fa_capture_reader_t *r, fa_proto_msg_t *out,
                                                    const fa_proto_storage_t *storage);

#ifdef __cplusplus
}
#endif
#endif /* FA_CAPTURE_H */
