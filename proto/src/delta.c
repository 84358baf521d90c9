/*
 * delta.c — 1.2 tag-row deltas: the writer's fa_proto_tag_rows_delta() and
 * the reader's fa_proto_frame_rebuild() (PROTOCOL.md 5.6 and 8).
 *
 * Both walk two id-ordered row lists side by side, so a frame costs
 * O(rows) whatever changed, and a hostile entry cannot make the merge
 * quadratic: the decoder already refused deltas whose ids do not increase.
 */
#include "proto_internal.h"

#include <string.h>

static bool row_equal(const fa_proto_tag_stat_t *a, const fa_proto_tag_stat_t *b) {
    return a->id == b->id && a->frame_bytes == b->frame_bytes && a->pool_bytes == b->pool_bytes &&
           a->heap_bytes == b->heap_bytes && a->alloc_count == b->alloc_count &&
           a->live_bytes == b->live_bytes && a->peak_bytes == b->peak_bytes;
}

int fa_proto_tag_rows_delta(const fa_proto_tag_stat_t *prev, uint32_t prev_count,
                            const fa_proto_tag_stat_t *cur, uint32_t cur_count, fa_proto_tag_stat_t *out) {
    if ((prev_count && !prev) || (cur_count && !cur) || (cur_count && !out)) return FA_PROTO_ERR_INVALID_ARG;
    uint32_t i = 0, n = 0;
    for (uint32_t k = 0; k < cur_count; k++) {
        if (k && cur[k].id <= cur[k - 1].id) return FA_PROTO_ERR_BAD_DELTA;
        /* Rows of prev before this id are missing from cur: not a delta. */
        if (i < prev_count && prev[i].id < cur[k].id) return FA_PROTO_ERR_BAD_DELTA;
        if (i < prev_count && prev[i].id == cur[k].id) {
            if (i && prev[i].id <= prev[i - 1].id) return FA_PROTO_ERR_BAD_DELTA;
            bool same = row_equal(&prev[i], &cur[k]);
            i++;
            if (same) continue;
        }
        out[n++] = cur[k];
    }
    return i == prev_count ? (int)n : FA_PROTO_ERR_BAD_DELTA;
}

int fa_proto_frame_rebuild(fa_proto_tag_base_t *base, fa_proto_frame_entry_t *e) {
    if (!base || !e || (base->capacity && (!base->rows || !base->scratch))) return FA_PROTO_ERR_INVALID_ARG;
    fa_proto_frame_t *f = &e->frame;
    int rc = FA_PROTO_OK;
    if (e->tag_rows > base->capacity)
        rc = FA_PROTO_ERR_STORAGE_SMALL;
    else if (!fa__proto_entry_rows_ok(e->delta, e->tag_rows, f->tags, f->tag_count))
        rc = FA_PROTO_ERR_BAD_DELTA;
    else if (e->delta && (!base->valid || base->frame != e->base_frame))
        rc = FA_PROTO_ERR_NO_BASE;
    if (rc < 0) {
        base->valid = false;
        return rc;
    }
    if (!e->delta) {
        if (f->tag_count) memmove(base->rows, f->tags, f->tag_count * sizeof *f->tags);
        base->count = f->tag_count;
    } else {
        /* Merge by id into scratch: a delta row replaces the base row of its
         * id or comes in between; the base rows it does not name stay. */
        uint32_t i = 0, k = 0, n = 0;
        while (i < base->count || k < f->tag_count) {
            if (n == e->tag_rows) {
                n++; /* more rows than the frame has */
                break;
            }
            if (k == f->tag_count || (i < base->count && base->rows[i].id < f->tags[k].id)) {
                base->scratch[n++] = base->rows[i++];
            } else {
                if (i < base->count && base->rows[i].id == f->tags[k].id) i++;
                base->scratch[n++] = f->tags[k++];
            }
        }
        if (n != e->tag_rows) {
            base->valid = false;
            return FA_PROTO_ERR_BAD_DELTA;
        }
        fa_proto_tag_stat_t *t = base->rows;
        base->rows = base->scratch;
        base->scratch = t;
        base->count = n;
    }
    base->frame = f->frame;
    base->valid = true;
    f->tags = base->count ? base->rows : NULL;
    f->tag_count = base->count;
    return FA_PROTO_OK;
}
