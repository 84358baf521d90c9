/* pack.h — the compact blobs stored in frames.data and rollup_*.data (any
 * thread, no state).
 *
 * Every integer is an unsigned LEB128 varint. One row per frame with this
 * blob is what the frames table holds (see store_sqlite.c for why not one
 * row per tag). The decoders are total: any byte string gives a result or
 * -1, never a read outside the blob. */
#ifndef FA_INSIGHTD_PACK_H
#define FA_INSIGHTD_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "fa_proto.h"

#define PACK_FRAME_VERSION 1
#define PACK_ROLLUP_VERSION 1

/* Upper bound of pack_frame()'s output for a frame. */
size_t pack_frame_bound(const fa_proto_frame_t *f);
/* Encodes f's scalars, kind totals, promotions, transfers, tag rows (ids
 * delta-coded), thread rows and findings into out[0..cap). Returns the
 * length, or 0 if cap is too small. */
size_t pack_frame(const fa_proto_frame_t *f, uint8_t *out, size_t cap);

/* A decoded frame blob: rows live in caller storage. Returns 0 or -1 for
 * a malformed blob. */
int pack_unframe(const uint8_t *blob, size_t len, fa_proto_frame_t *out, fa_proto_storage_t *st);

/* One tag's values in a rollup bucket. */
typedef struct pack_rollup_row {
    uint16_t id;
    uint64_t min, avg, max, last;
} pack_rollup_row_t;

size_t pack_rollup_bound(uint32_t rows);
/* rows MUST be sorted by id. Returns the length or 0 if cap is too small. */
size_t pack_rollup(const pack_rollup_row_t *rows, uint32_t n, uint8_t *out, size_t cap);
/* Finds one tag's row in a rollup blob. Returns 1 found, 0 absent, -1
 * malformed. */
int pack_rollup_find(const uint8_t *blob, size_t len, uint16_t id, pack_rollup_row_t *out);
/* Finds one tag's live bytes in a frame blob without decoding the rest.
 * Returns 1 found, 0 absent, -1 malformed. */
int pack_frame_find_live(const uint8_t *blob, size_t len, uint16_t id, uint64_t *live);

/* Varints, exposed for tests. */
size_t pack_put_varint(uint8_t *out, uint64_t v);
/* Returns bytes consumed, or 0 when the varint is truncated or longer than
 * 10 bytes. */
size_t pack_get_varint(const uint8_t *in, size_t len, uint64_t *v);

#endif
