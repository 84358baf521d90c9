/* Snapshots: sums the per-thread counters into per-tag rows (self, then
 * totals including children) and per-kind totals. No allocation. */
#include "internal.h"

#include <string.h>

/* Cumulative figures of one tag over all threads (and retired ones). */
typedef struct tag_sums {
    uint64_t frame_bytes;
    uint64_t count[3];
    int64_t live[2];
    uint64_t alloc_bytes[2];
    uint64_t frees[2];
} tag_sums_t;

static void add_counters(tag_sums_t *s, const fa__tag_counters_t *c) {
    uint64_t packed = FA__LOAD(c->frame_packed);
    s->frame_bytes += packed & FA__FRAME_BYTES_MASK;
    s->count[FA_KIND_FRAME] += packed >> FA__FRAME_COUNT_SHIFT;
    for (int k = 0; k < 3; k++) s->count[k] += FA__LOAD(c->count[k]);
    for (int k = 0; k < 2; k++) {
        s->live[k] += FA__LOAD(c->live[k]);
        s->alloc_bytes[k] += FA__LOAD(c->alloc_bytes[k]);
        s->frees[k] += FA__LOAD(c->frees[k]);
    }
}

/* Caller holds threads_lock. */
static void sum_tag(const fa_alloc_t *fa, uint32_t i, tag_sums_t *s) {
    memset(s, 0, sizeof *s);
    add_counters(s, &fa->retired[i]);
    for (const fa__thread_t *t = fa->threads; t; t = t->next) add_counters(s, &t->counters[i]);
}

static uint64_t clamp0(int64_t v) { return v > 0 ? (uint64_t)v : 0; }

uint32_t fa__aggregate(fa_alloc_t *fa, fa_tag_row_t *rows, uint32_t cap, fa_kind_totals_t totals[FA_KIND_COUNT_],
                       fa__cumulative_t *cumulative) {
    memset(totals, 0, sizeof(fa_kind_totals_t) * FA_KIND_COUNT_);
    uint32_t n = atomic_load_explicit(&fa->tags.count, memory_order_acquire);
    uint32_t rows_n = n < cap ? n : cap;
    pthread_mutex_lock(&fa->threads_lock);
    for (uint32_t i = 0; i < n; i++) {
        tag_sums_t s;
        sum_tag(fa, i, &s);
        if (cumulative) {
            fa__cumulative_t *c = &cumulative[i];
            memcpy(c->count, s.count, sizeof c->count);
            memcpy(c->alloc_bytes, s.alloc_bytes, sizeof c->alloc_bytes);
            memcpy(c->frees, s.frees, sizeof c->frees);
        }
        uint64_t count_this_frame = 0;
        for (int k = 0; k < 3; k++) {
            uint64_t d = s.count[k] - fa->base_count[i][k];
            totals[k].alloc_count += d;
            count_this_frame += d;
        }
        totals[FA_KIND_FRAME].in_use += s.frame_bytes;
        totals[FA_KIND_FRAME].alloc_bytes += s.frame_bytes;
        for (int k = 0; k < 2; k++) {
            totals[k + 1].in_use += (uint64_t)s.live[k];
            totals[k + 1].alloc_bytes += s.alloc_bytes[k] - fa->base_bytes[i][k];
            totals[k + 1].free_count += s.frees[k] - fa->base_frees[i][k];
        }
        if (i < rows_n) {
            const fa__tag_t *e = &fa->tags.entries[i];
            fa_tag_row_t *r = &rows[i];
            r->id = (uint16_t)i;
            r->parent_id = e->parent;
            r->depth = e->depth;
            r->path = e->path;
            r->self = (fa_tag_usage_t){.frame_bytes = s.frame_bytes,
                                       .pool_bytes = clamp0(s.live[0]),
                                       .heap_bytes = clamp0(s.live[1]),
                                       .alloc_count = count_this_frame};
            r->total = r->self;
            r->peak_bytes = atomic_load_explicit(&e->peak, memory_order_relaxed);
            r->budget_soft = atomic_load_explicit(&e->soft, memory_order_relaxed);
            r->budget_hard = atomic_load_explicit(&e->hard, memory_order_relaxed);
        }
    }
    pthread_mutex_unlock(&fa->threads_lock);
    /* Live figures summed over threads can be transiently negative for one
     * tag (a free seen before its allocation); clamp the kind totals too. */
    for (int k = 1; k < FA_KIND_COUNT_; k++)
        if ((int64_t)totals[k].in_use < 0) totals[k].in_use = 0;
    /* Children have larger ids than their parents: fold from the end. */
    for (uint32_t i = rows_n; i-- > 1;) {
        fa_tag_row_t *r = &rows[i], *p = &rows[r->parent_id];
        p->total.frame_bytes += r->total.frame_bytes;
        p->total.pool_bytes += r->total.pool_bytes;
        p->total.heap_bytes += r->total.heap_bytes;
        p->total.alloc_count += r->total.alloc_count;
    }
    for (uint32_t i = 0; i < rows_n; i++) {
        fa_tag_row_t *r = &rows[i];
        r->live_bytes = r->total.frame_bytes + r->total.pool_bytes + r->total.heap_bytes;
        if (r->live_bytes > r->peak_bytes) r->peak_bytes = r->live_bytes;
    }
    return n;
}

void fa__rebase(fa_alloc_t *fa, const fa__cumulative_t *cumulative, uint32_t ntags) {
    for (uint32_t i = 0; i < ntags; i++) {
        memcpy(fa->base_count[i], cumulative[i].count, sizeof fa->base_count[i]);
        memcpy(fa->base_bytes[i], cumulative[i].alloc_bytes, sizeof fa->base_bytes[i]);
        memcpy(fa->base_frees[i], cumulative[i].frees, sizeof fa->base_frees[i]);
    }
}

/* Inside a frame-end hook on the main thread, the frame end has just summed
 * every counter: copy its rows rather than summing again. */
static bool copy_frame_end_rows(fa_alloc_t *fa, fa_snapshot_t *snap) {
    if (!fa->scratch_valid || fa__thread_get(fa) != atomic_load_explicit(&fa->main, memory_order_relaxed))
        return false;
    uint32_t n = fa->scratch_count < snap->rows_capacity ? fa->scratch_count : snap->rows_capacity;
    if (n) memcpy(snap->rows, fa->scratch, n * sizeof *snap->rows);
    memcpy(snap->totals, fa->scratch_totals, sizeof snap->totals);
    snap->tag_count = fa->scratch_count;
    return true;
}

int fa_snapshot_take(fa_alloc_t *fa, fa_snapshot_t *snap) {
    if (!fa || !snap || (snap->rows_capacity && !snap->rows) || (snap->threads_capacity && !snap->threads))
        return FA_ERR_INVALID_ARG;
    snap->size = (uint32_t)sizeof *snap;
    snap->version = FA_SNAPSHOT_VERSION;
    snap->frame = atomic_load(&fa->frame_number);
    uint64_t start = atomic_load_explicit(&fa->frame_start_ns, memory_order_relaxed);
    snap->frame_start_ns = start;
    snap->frame_duration_ns = start ? fa__now_ns() - start : 0;
    if (!copy_frame_end_rows(fa, snap))
        snap->tag_count = fa__aggregate(fa, snap->rows, snap->rows_capacity, snap->totals, NULL);
    snap->row_count = snap->tag_count < snap->rows_capacity ? snap->tag_count : snap->rows_capacity;
    for (int k = 0; k < FA_KIND_COUNT_; k++) {
        uint64_t peak = atomic_load(&fa->kind_peak[k]);
        snap->totals[k].peak = peak > snap->totals[k].in_use ? peak : snap->totals[k].in_use;
    }
    /* Threads, newest registration first in the list: write by index order
     * as found; the index field says which is which. */
    pthread_mutex_lock(&fa->threads_lock);
    uint32_t nt = 0, total = 0;
    for (const fa__thread_t *t = fa->threads; t; t = t->next, total++) {
        if (nt >= snap->threads_capacity) continue;
        uint64_t used = 0;
        uint32_t ntags = snap->tag_count;
        for (uint32_t i = 0; i < ntags; i++) used += FA__LOAD(t->counters[i].frame_packed) & FA__FRAME_BYTES_MASK;
        snap->threads[nt++] = (fa_thread_row_t){
            .index = t->index,
            .frame_used = used,
            .frame_capacity = atomic_load(&t->capacity),
            .frames = atomic_load(&t->frames_ended),
            .overflow_chunks = atomic_load(&t->overflow),
            .in_frame = atomic_load(&t->in_frame_pub),
        };
    }
    pthread_mutex_unlock(&fa->threads_lock);
    snap->thread_count = nt;
    snap->threads_total = total;
    if (snap->findings_capacity && !snap->findings) return FA_ERR_INVALID_ARG;
    snap->findings_total = fa__bh_findings(fa, snap->findings, snap->findings_capacity);
    snap->finding_count = snap->findings_total < snap->findings_capacity ? snap->findings_total : snap->findings_capacity;
    pthread_mutex_lock(&fa->promo_lock);
    snap->promotions = fa->promo_last;
    pthread_mutex_unlock(&fa->promo_lock);
    snap->transfers = fa__transfers_totals(fa);
    /* An array the caller did not provide (capacity 0) is not truncation. */
    bool truncated = (snap->rows_capacity && snap->row_count < snap->tag_count) ||
                     (snap->threads_capacity && nt < total) ||
                     (snap->findings_capacity && snap->finding_count < snap->findings_total);
    return truncated ? FA_ERR_TRUNCATED : FA_OK;
}
