/* Snapshots: the fold's figures plus what the threads did since (stats.c),
 * finished into rows with totals that include children and peaks never
 * below the live figure. No allocation. */
#include "internal.h"

#include <string.h>

static uint64_t clamp0(uint64_t v) { return (int64_t)v < 0 ? 0 : v; }

/* In a frame-end hook on the main thread: the figures are the fold's. */
static bool in_frame_end_hook(fa_alloc_t *fa) {
    return fa__tls.fa == fa && fa__tls.fa_id == fa->head.id &&
           (fa__thread_t *)fa__tls.fast == atomic_load_explicit(&fa->main, memory_order_relaxed) && fa->in_hooks;
}

int fa_snapshot_take(fa_alloc_t *fa, fa_snapshot_t *snap) {
    if (!fa || !snap || (snap->rows_capacity && !snap->rows) || (snap->threads_capacity && !snap->threads) ||
        (snap->findings_capacity && !snap->findings) || (snap->sites_capacity && !snap->sites))
        return FA_ERR_INVALID_ARG;
    /* Without call sites there are no site rows. */
    if (!FA_SITES) snap->sites_capacity = 0;
    snap->site_count = snap->sites_total = snap->sites_unranked = snap->rows_unsummed = 0;
    snap->size = (uint32_t)sizeof *snap;
    snap->version = FA_SNAPSHOT_VERSION;
    snap->frame = FA__LOAD(fa->frame_number);
    uint64_t start = FA__LOAD(fa->frame_start_ns);
    snap->frame_start_ns = start;
    snap->frame_duration_ns = start ? fa__now_ns() - start : 0;
    uint32_t ntags = atomic_load_explicit(&fa->tags.count, memory_order_acquire);
    uint64_t frame_peak;
    bool sites_complete;
    fa__stats_snapshot(fa, snap, ntags, !in_frame_end_hook(fa), &frame_peak, &sites_complete);
    snap->tag_count = ntags;
    /* The rows are finished (totals with children, clamped, peaks) by the
     * pass that wrote them. */
    snap->row_count = ntags < snap->rows_capacity ? ntags : snap->rows_capacity;
    for (int k = 0; k < FA_KIND_COUNT_; k++) snap->totals[k].in_use = clamp0(snap->totals[k].in_use);
    snap->totals[FA_KIND_FRAME].peak = frame_peak;
    for (int k = 0; k < FA_KIND_COUNT_; k++)
        if (snap->totals[k].peak < snap->totals[k].in_use) snap->totals[k].peak = snap->totals[k].in_use;
    snap->findings_total = fa__bh_findings(fa, snap->findings, snap->findings_capacity);
    snap->finding_count = snap->findings_total < snap->findings_capacity ? snap->findings_total : snap->findings_capacity;
    pthread_mutex_lock(&fa->promo_lock);
    snap->promotions = fa->promo_last;
    pthread_mutex_unlock(&fa->promo_lock);
    snap->transfers = fa__transfers_totals(fa);
    /* An array the caller did not provide (capacity 0) is not truncation. */
    bool truncated = (snap->rows_capacity && snap->row_count < snap->tag_count) ||
                     (snap->threads_capacity && snap->thread_count < snap->threads_total) ||
                     (snap->findings_capacity && snap->finding_count < snap->findings_total) ||
                     (snap->sites_capacity && !sites_complete);
    return truncated ? FA_ERR_TRUNCATED : FA_OK;
}

int fa_snapshot_finish(fa_snapshot_t *snap, fa_site_row_t *rows, uint64_t *work, size_t work_count) {
    if (!snap) return FA_ERR_INVALID_ARG;
    int rv = fa__sites_rank_check(snap, rows, work, work_count);
    if (rv != FA_OK) return rv;
    if (snap->rows_unsummed && snap->rows) fa__stats_sum_rows(snap->rows, snap->row_count);
    snap->rows_unsummed = 0;
    return fa__sites_rank(snap, rows, work);
}
