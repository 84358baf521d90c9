/*
 * fa_capture_file.h — a capture file's bytes, read into memory for
 * fa_capture_reader_init() (fa_capture.h). fa-cli and fa-insightd --import
 * both load captures through it.
 *
 * WHY NOT A MAPPING OF THE FILE
 *   The agent cuts a capture back to its last whole message after a failed
 *   write, so a capture can shrink while it is read; touching a mapped page
 *   past a file's new end kills the reader with SIGBUS. The bytes are read
 *   with read(2) into private anonymous pages instead: a file that shrank
 *   since it was opened is read up to its new end, one that grew up to its
 *   size when opened.
 *
 * OWNERSHIP AND THREADS
 *   fa_capture_file_read() allocates the file's size (anonymous pages);
 *   fa_capture_file_free() gives them back. One thread at a time per
 *   fa_capture_file_t; the bytes may be read by any number of threads.
 */
#ifndef FA_CAPTURE_FILE_H
#define FA_CAPTURE_FILE_H

#include "fa_proto.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A capture read into memory. Read data and len; the rest is private. */
typedef struct fa_capture_file {
    const unsigned char *data; /* len bytes; NULL for an empty file */
    size_t len;
    size_t cap_;      /* bytes allocated */
    size_t released_; /* bytes before this offset were given back */
} fa_capture_file_t;

/* Reads the regular file open on fd, from its current offset to its end,
 * into *f (zeroed first). Returns 0, or a negative errno value: -EINVAL
 * (NULL f, or fd is not a regular file), -EFBIG (larger than the address
 * space), -ENOMEM, or read(2)'s error. On error *f is empty. fd stays open
 * and belongs to the caller. O(file size). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_capture_file_read(int fd, fa_capture_file_t *f);

/* Gives back the whole pages before offset: a long capture is read once,
 * front to back, and its decoded part need not stay resident. Pages go back
 * in steps of 32 MiB (and at the end of the bytes), so calling it after
 * every message costs a comparison most of the time. Reading a released
 * byte afterwards gives 0. */
FA_PROTO_API void fa_capture_file_release_before(fa_capture_file_t *f, size_t offset);

/* Frees the bytes and empties *f (NULL or empty: nothing). */
FA_PROTO_API void fa_capture_file_free(fa_capture_file_t *f);

#ifdef __cplusplus
}
#endif
#endif /* FA_CAPTURE_FILE_H */
