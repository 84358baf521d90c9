/*
 * snapshot.c — mapping lib's fa_snapshot_t onto FRAME and tag-dictionary
 * messages, so the agent holds no mapping code of its own. Uses lib's types
 * only (framealloc.h); nothing of lib is linked.
 */
#include "proto_internal.h"

#include "framealloc.h"

#include <string.h>

_Static_assert(FA_PROTO_KIND_FRAME == FA_KIND_FRAME && FA_PROTO_KIND_POOL == FA_KIND_POOL &&
                   FA_PROTO_KIND_HEAP == FA_KIND_HEAP && FA_PROTO_KIND_COUNT == FA_KIND_COUNT_,
               "proto kind indexes follow lib's fa_kind");

static uint32_t min_u32(uint32_t a, uint32_t b) {
    return a < b ? a : b;
}

int fa_proto_frame_from_snapshot(fa_proto_frame_t *frame, const struct fa_snapshot *snap,
                                 fa_proto_tag_stat_t *tag_rows, uint32_t tag_rows_capacity,
                                 fa_proto_thread_row_t *thread_rows, uint32_t thread_rows_capacity) {
    if (!frame || !snap || snap->version != FA_SNAPSHOT_VERSION) return FA_PROTO_ERR_INVALID_ARG;
    if ((!tag_rows && tag_rows_capacity) || (!thread_rows && thread_rows_capacity))
        return FA_PROTO_ERR_INVALID_ARG;

    fa_proto_frame_t f;
    memset(&f, 0, sizeof f);
    f.frame = snap->frame;
    f.start_ns = snap->frame_start_ns;
    f.duration_ns = snap->frame_duration_ns;
    f.tags_total = snap->tag_count;
    f.threads_total = snap->threads_total;
    const fa_promotion_totals_t *pr = &snap->promotions;
    f.promotions = (fa_proto_promotions_t){pr->promoted_count,  pr->promoted_bytes, pr->failed_count,
                                           pr->failed_bytes,    pr->retained_count, pr->retained_bytes,
                                           pr->discarded_count, pr->discarded_bytes};
    const fa_transfer_totals_t *tr = &snap->transfers;
    f.transfers = (fa_proto_transfers_t){tr->created, tr->received, tr->released, tr->dropped_unreceived,
                                         tr->in_flight};
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        const fa_kind_totals_t *in = &snap->totals[k];
        f.totals[k] =
            (fa_proto_kind_totals_t){in->in_use, in->peak, in->alloc_count, in->alloc_bytes, in->free_count};
    }

    uint32_t n = snap->rows ? min_u32(min_u32(snap->row_count, tag_rows_capacity), FA_PROTO_MAX_ROWS) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const fa_tag_row_t *r = &snap->rows[i];
        tag_rows[i] = (fa_proto_tag_stat_t){
            .id = r->id,
            .frame_bytes = r->self.frame_bytes,
            .pool_bytes = r->self.pool_bytes,
            .heap_bytes = r->self.heap_bytes,
            .alloc_count = r->self.alloc_count,
            .live_bytes = r->live_bytes,
            .peak_bytes = r->peak_bytes,
        };
    }
    f.tags = n ? tag_rows : NULL;
    f.tag_count = n;

    n = snap->threads ? min_u32(min_u32(snap->thread_count, thread_rows_capacity), FA_PROTO_MAX_ROWS) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const fa_thread_row_t *r = &snap->threads[i];
        thread_rows[i] = (fa_proto_thread_row_t){
            .index = r->index,
            .overflow_chunks = r->overflow_chunks,
            .frame_used = r->frame_used,
            .frame_capacity = r->frame_capacity,
            .frames = r->frames,
            .flags = r->in_frame ? FA_PROTO_THREAD_IN_FRAME : 0,
        };
    }
    f.threads = n ? thread_rows : NULL;
    f.thread_count = n;

    *frame = f;
    return FA_PROTO_OK;
}

int fa_proto_frame_findings_from_snapshot(fa_proto_frame_t *frame, const struct fa_snapshot *snap,
                                          fa_proto_finding_t *rows, uint32_t capacity) {
    if (!frame || !snap || snap->version != FA_SNAPSHOT_VERSION || (!rows && capacity))
        return FA_PROTO_ERR_INVALID_ARG;
    uint32_t n = snap->findings ? min_u32(min_u32(snap->finding_count, capacity), FA_PROTO_MAX_ROWS) : 0;
    for (uint32_t i = 0; i < n; i++) {
        const fa_finding_t *r = &snap->findings[i];
        rows[i] = (fa_proto_finding_t){
            .code = r->code,
            .tag_id = r->tag_id,
            .kind = (uint8_t)(r->kind > UINT8_MAX ? UINT8_MAX : r->kind),
            .count = r->count,
            .value = r->value,
        };
    }
    /* The snapshot counts the findings it saw (findings_total) even when its
     * own array was too small; everything not carried here is "dropped". */
    uint32_t seen = snap->findings_total > snap->finding_count ? snap->findings_total : snap->finding_count;
    frame->findings = n ? rows : NULL;
    frame->finding_count = n;
    frame->findings_dropped = seen - n;
    return FA_PROTO_OK;
}

int fa_proto_frame_sites_from_snapshot(fa_proto_frame_t *frame, const struct fa_snapshot *snap,
                                       fa_proto_site_row_t *rows, uint32_t capacity) {
    if (!frame || !snap || snap->version != FA_SNAPSHOT_VERSION || (!rows && capacity))
        return FA_PROTO_ERR_INVALID_ARG;
    uint32_t n = snap->sites ? snap->site_count : 0;
    if (n > capacity || n > FA_PROTO_MAX_ROWS) return FA_PROTO_ERR_TOO_MANY_ROWS;
    for (uint32_t i = 0; i < n; i++) {
        const fa_site_row_t *r = &snap->sites[i];
        rows[i] = (fa_proto_site_row_t){
            .site_id = r->site_id,
            .tag_id = r->tag_id,
            .bytes = r->bytes,
            .count = r->count,
            .live_bytes = r->live_bytes,
        };
    }
    frame->sites = n ? rows : NULL;
    frame->site_count = n;
    frame->sites_total = snap->sites_total;
    return FA_PROTO_OK;
}

int fa_proto_site_def_from_site(fa_proto_site_def_t *out, const struct fa_site *site) {
    if (!out || !site) return FA_PROTO_ERR_INVALID_ARG;
    fa_proto_str_t file = fa_proto_str(site->file), fn = fa_proto_str(site->function);
    if (file.len > FA_PROTO_MAX_STRING) {
        file.data += file.len - FA_PROTO_MAX_STRING;
        file.len = FA_PROTO_MAX_STRING;
    }
    if (fn.len > FA_PROTO_MAX_STRING) fn.len = FA_PROTO_MAX_STRING;
    *out = (fa_proto_site_def_t){
        .id = site->id,
        .line = site->line,
        .kind = (uint8_t)(site->kind > UINT8_MAX ? UINT8_MAX : site->kind),
        .file = file,
        .function = fn,
    };
    return FA_PROTO_OK;
}

int fa_proto_tag_defs_from_snapshot(const struct fa_snapshot *snap, uint32_t first_id,
                                    fa_proto_tag_def_t *out, uint32_t capacity) {
    if (!snap || (!out && capacity)) return FA_PROTO_ERR_INVALID_ARG;
    uint32_t written = 0;
    uint32_t rows = snap->rows ? snap->row_count : 0;
    for (uint32_t i = 0; i < rows && written < capacity; i++) {
        const fa_tag_row_t *r = &snap->rows[i];
        if (r->id < first_id) continue;
        out[written++] = (fa_proto_tag_def_t){
            .id = r->id,
            .parent_id = r->parent_id,
            .budget_soft = r->budget_soft,
            .budget_hard = r->budget_hard,
            .path = fa_proto_str(r->path),
        };
    }
    return (int)written;
}
