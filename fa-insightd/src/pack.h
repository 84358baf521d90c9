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

/* 2: call sites (a frame's site rows; a bucket's per-site figures), after
 * the version 1 fields. Version 1 blobs (no sites) still decode. */
#define PACK_FRAME_VERSION 2
#define PACK_ROLLUP_VERSION 2

/* Upper bound of pack_frame()'s output for a frame. */
size_t pack_frame_bound(const fa_proto_frame_t *f);
/* Encodes f's scalars, kind totals, promotions, transfers, tag rows (ids
 * delta-coded), thread rows, findings and site rows into out[0..cap).
 * Returns the length, or 0 if cap is too small. */
size_t pack_frame(const fa_proto_frame_t *f, uint8_t *out, size_t cap);

/* A decoded frame blob: rows live in caller storage. Returns 0 or -1 for
 * a malformed blob. */
int pack_unframe(const uint8_t *blob, size_t len, fa_proto_frame_t *out, fa_proto_storage_t *st);

/* Each site row of a frame blob, without decoding the rest into storage
 * (fn returns 0 to go on). *sites_total receives the frame's. Returns 0,
 * or -1 for a malformed blob. */
typedef int (*pack_site_fn)(void *ud, const fa_proto_site_row_t *row);
int pack_frame_each_site(const uint8_t *blob, size_t len, uint32_t *sites_total, pack_site_fn fn, void *ud);

/* One tag's values in a rollup bucket. */
typedef struct pack_rollup_row {
    uint16_t id;
    uint64_t min, avg, max, last;
} pack_rollup_row_t;

/* One (site, tag) pair's figures in a rollup bucket: sums and maxima over
 * the bucket's frames that had a row for it (`frames` of them; the others
 * count as zero), and its live bytes at the last of them. */
typedef struct pack_site_acc {
    uint32_t site;
    uint16_t tag;
    uint32_t frames;
    uint64_t bytes_sum, bytes_max, count_sum, count_max, live_sum, live_max, live_last;
} pack_site_acc_t;

size_t pack_rollup_bound(uint32_t rows, uint32_t site_rows);
/* rows MUST be sorted by id, sites by (site, tag). Returns the length or 0
 * if cap is too small. */
size_t pack_rollup(const pack_rollup_row_t *rows, uint32_t n, const pack_site_acc_t *sites, uint32_t nsites,
                   uint8_t *out, size_t cap);
/* Each (site, tag) of a rollup blob (none in a version 1 blob). Returns 0,
 * or -1 for a malformed blob. */
typedef int (*pack_site_acc_fn)(void *ud, const pack_site_acc_t *row);
int pack_rollup_each_site(const uint8_t *blob, size_t len, pack_site_acc_fn fn, void *ud);
/* Finds one tag's row in a rollup blob. Returns 1 found, 0 absent, -1
 * malformed. */
int pack_rollup_find(const uint8_t *blob, size_t len, uint16_t id, pack_rollup_row_t *out);
/* Where each tag's figures start in a rollup blob, so that a store can
 * hand out one tag's figures without the rest: at[id] receives the
 * 1-based offset of the row's first figure for every tag id < cap, and 0
 * for the ids below the largest that have no row. Returns the largest id
 * + 1 (0: no rows), or -1 when the blob is malformed or an id is >= cap.
 * O(rows), no allocation. */
int pack_rollup_tag_at(const uint8_t *blob, size_t len, uint32_t *at, uint32_t cap);
/* Reads the figures of tag `id` from p[0..len), the bytes that start at
 * an offset pack_rollup_tag_at gave. Returns 0, or -1 when they are
 * truncated. */
int pack_rollup_row_at(const uint8_t *p, size_t len, uint16_t id, pack_rollup_row_t *out);
/* The most bytes pack_rollup_row_at reads. */
#define PACK_ROLLUP_ROW_MAX 40

/* Finds one tag's live bytes in a frame blob without decoding the rest.
 * Returns 1 found, 0 absent, -1 malformed. */
int pack_frame_find_live(const uint8_t *blob, size_t len, uint16_t id, uint64_t *live);

/* Varints, exposed for tests. */
size_t pack_put_varint(uint8_t *out, uint64_t v);
/* Returns bytes consumed, or 0 when the varint is truncated or longer than
 * 10 bytes. */
size_t pack_get_varint(const uint8_t *in, size_t len, uint64_t *v);

#endif
