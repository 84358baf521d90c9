/*
 * fa_zlib.h — zlib streams whose memory framealloc counts under a tag.
 *
 * zlib takes an allocator per stream (zalloc, zfree, opaque): fa_zlib_use()
 * fills them so that the stream's window and state are framealloc heap
 * blocks under one tag, e.g. "assets/zlib".
 *
 *     fa_zlib_t zmem;                              // MUST outlive the streams
 *     fa_zlib_init(&zmem, fa, "assets/zlib");
 *     z_stream zs = {0};
 *     fa_zlib_use(&zmem, &zs);                     // before deflateInit/inflateInit
 *     deflateInit(&zs, Z_DEFAULT_COMPRESSION);     // about 262 KiB under the tag
 *     ...
 *     deflateEnd(&zs);                             // the tag is back to 0
 *
 * zlib documents its own figure: deflate takes (1 << (windowBits + 2)) +
 * (1 << (memLevel + 9)) bytes plus about 6 KiB of state, inflate
 * (1 << windowBits) plus about 7 KiB; the tag shows exactly what it takes.
 * THREADS: a stream is used by one thread at a time; the blocks are
 * attributed to the tag whatever that thread's tag stack says. COST: one
 * malloc and a 32-byte header per block (a stream takes 2 to 5 blocks).
 *
 * pkg-config: framealloc-zlib (links libz).
 */
#ifndef FA_ZLIB_H
#define FA_ZLIB_H

#include <framealloc.h>
#include <zlib.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The streams' opaque pointer: caller-owned, filled by fa_zlib_init(). */
typedef struct fa_zlib {
    fa_alloc_t *fa;
    int tag;
} fa_zlib_t;

/* Fills z for fa and tag_path (created if needed). FA_OK, or
 * FA_ERR_INVALID_ARG / a tag error; z is written only on success. */
FA_API int fa_zlib_init(fa_zlib_t *z, fa_alloc_t *fa, const char *tag_path);

/* Sets strm's zalloc, zfree and opaque to z. Call before deflateInit*() or
 * inflateInit*(); z MUST outlive the stream (until deflateEnd/inflateEnd). */
FA_API void fa_zlib_use(fa_zlib_t *z, z_stream *strm);

#ifdef __cplusplus
}
#endif
#endif
