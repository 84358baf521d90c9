/* Per-thread statistics and the fold.
 *
 * Every thread counts its own allocations in its own record, per tag, with
 * single-writer relaxed stores (no locked instruction, no shared cache
 * line). Counters are cumulative and never move between threads, so a
 * reader can never count an allocation twice: it takes each figure minus
 * what it last saw.
 *
 * The main thread's frame end folds: for every thread whose activity moved
 * since the last fold (or that is inside a frame), it takes the figures of
 * the tags in that thread's dirty list, adds what changed to the context's
 * per-tag figures and to the figures of the frame that ends, and notes what
 * it saw. Idle threads cost two loads; tags nobody touched cost nothing.
 * The fold writes under fold_lock with fold_seq odd; snapshots read without
 * a lock and start again when fold_seq moved.
 *
 * Peaks. A thread notes, per tag, the high-water mark of its frame bytes in
 * use (at its frame end) and of its pool and heap bytes (before each free:
 * a maximum is always right before a decrease, or now), tagged with the
 * context frame it saw. The fold turns them into rises above what the fold
 * last saw, summed over threads on top of what was live when the frame
 * began.
 *
 * Call sites (FA_SITES). Every allocation is also counted in the thread's
 * (site, tag) entry (sites.c). The fold and the snapshots take a tag's
 * count, bytes and live bytes from those entries, read in the same pass,
 * so that the site rows of a snapshot add up to its tag rows exactly; the
 * tags' own counters still give their peaks, frees, thread rows and
 * budgets. */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Figures other threads read are loaded with acquire and stored with
 * release (plain moves on x86-64): a reader that sees a value stored inside
 * a sequence-checked section also sees the sequence number that opened it,
 * so the checks need no fences. */
#define GET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define PUT(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, n) PUT(x, (x) + (n))

int fa__stats_init(fa_alloc_t *fa) {
    fa->figs = calloc(fa->cfg.max_tags, sizeof *fa->figs);
    if (!fa->figs) return FA_ERR_NO_MEMORY;
    for (uint32_t x = 0; x < fa->cfg.max_tags; x++)
        fa->figs[x].ep[0].epoch = fa->figs[x].ep[1].epoch = UINT64_MAX;
    pthread_mutex_init(&fa->fold_lock, NULL);
    return FA_OK;
}

void fa__stats_fini(fa_alloc_t *fa) {
    free(fa->figs);
    pthread_mutex_destroy(&fa->fold_lock);
}

static size_t page_round(size_t n) {
    return (n + 4095) & ~(size_t)4095;
}

/* One anonymous mapping per record: pages are committed as tags are used,
 * and a recycled record is zeroed by madvise without being unmapped (a
 * reader may still be looking at it). */
int fa__stats_thread_init(fa_alloc_t *fa, fa__thread_t *t) {
    size_t n = fa->cfg.max_tags;
    size_t stats = page_round(n * sizeof(fa__tstat_t)), packed = page_round(n * sizeof(uint64_t));
    size_t lists = page_round(2 * n * sizeof(uint16_t));
    size_t total = stats + packed + lists;
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return FA_ERR_NO_MEMORY;
    t->region = m;
    t->region_size = total;
    t->stats = m;
    t->fast.stats = m;
    t->fast.packed = (uint64_t *)((char *)m + stats);
    t->dirty = (uint16_t *)((char *)m + stats + packed);
    t->frame_tags = t->dirty + n;
    return FA_OK;
}

void fa__stats_thread_fini(fa__thread_t *t) {
    if (t->region) munmap(t->region, t->region_size);
    t->region = NULL;
}

void fa__stats_list(fa__thread_t *t, uint32_t tag) {
    t->stats[tag].listed = 1;
    uint32_t n = t->dirty_count;
    PUT(t->dirty[n], (uint16_t)tag);
    PUT(t->dirty_count, n + 1);
}

void fa__stats_set_tag(fa__thread_t *t, uint32_t tag) {
    fa__tstat_t *old = &t->stats[t->fast.tag];
    /* What the old tag allocated while current is visible once this point
     * is: it may leave the list after the fold sees this activity. */
    if (!t->in_frame) PUT(old->last_change, fa__op_done(t));
    fa__stats_touch(t, tag);
    if (t->in_frame) fa__stats_frame_tag(t, tag);
    t->fast.tag = tag;
}

void fa__stats_frame_tag(fa__thread_t *t, uint32_t tag) {
    fa__tstat_t *st = &t->stats[tag];
    uint64_t serial = fa__release_serial(t);
    if (st->frame_listed == serial) return;
    st->frame_listed = serial;
    t->frame_tags[t->frame_tag_count++] = (uint16_t)tag;
}

void fa__stats_fold_window(fa__thread_t *t) {
    bool open = false;
    for (uint32_t i = 0; i < t->frame_tag_count; i++) {
        uint32_t x = t->frame_tags[i];
#if FA_SITES
        fa__sites_fold_window(t, x, &open);
#endif
        uint64_t p = t->fast.packed[x];
        if (!p) continue;
        /* Readers that meet the odd sequence (or see it move) read again:
         * between the two stores below the window is in neither place. */
        if (!open) PUT(t->window_seq, t->window_seq + 1), open = true;
        fa__tstat_t *st = &t->stats[x];
        PUT(t->fast.packed[x], 0);
        PUT(st->frame_bytes, st->frame_bytes + (p & FA__PACKED_BYTES_MASK));
        PUT(st->frame_inuse, st->frame_inuse + (p & FA__PACKED_BYTES_MASK));
        PUT(st->frame_count, st->frame_count + (p >> FA__PACKED_COUNT_SHIFT));
    }
    if (open) PUT(t->window_seq, t->window_seq + 1);
}

static uint64_t inuse_of(const fa__thread_t *t, uint32_t x) {
    const fa__tstat_t *st = &t->stats[x];
    return GET(st->frame_inuse) + (fa__stats_window(t, x) & FA__PACKED_BYTES_MASK);
}

uint64_t fa__stats_frame_used(const fa__thread_t *t) {
    uint64_t used = 0;
    for (uint32_t i = 0; i < t->frame_tag_count; i++)
        used += inuse_of(t, t->frame_tags[i]);
    return used;
}

__attribute__((unused)) static void note_hw(uint64_t *hw, uint64_t *hw_epoch, uint64_t epoch,
                                            uint64_t value) {
    if (*hw_epoch != epoch) {
        PUT(*hw, value);
        PUT(*hw_epoch, epoch);
    } else if (value > *hw) {
        PUT(*hw, value);
    }
}

void fa__stats_end_frame(fa__thread_t *t, uint64_t epoch) {
    (void)epoch; /* unused without peak tracking */
    fa__stats_fold_window(t);
    uint64_t used = 0, done = fa__op_done(t);
    for (uint32_t i = 0; i < t->frame_tag_count; i++) {
        fa__tstat_t *st = &t->stats[t->frame_tags[i]];
        uint64_t inuse = st->frame_inuse;
        used += inuse;
#ifndef FA__NO_PEAK_TRACKING
        if (inuse) note_hw(&st->frame_hw, &st->frame_hw_epoch, epoch, inuse);
#endif
        PUT(st->frame_inuse, 0);
        PUT(st->last_change, done);
    }
#ifndef FA__NO_PEAK_TRACKING
    note_hw(&t->frame_hw, &t->frame_hw_epoch, epoch, used);
#endif
#if FA_SITES
    fa__sites_end_frame(t, t->frame_tags, t->frame_tag_count);
#endif
    t->frame_tag_count = 0;
}

void fa__stats_compact(fa__thread_t *t) {
    uint64_t seen = GET(t->visited);
    if (seen == t->compacted_at) return;
    /* A snapshot is reading lists: leave them alone, compact next time. */
    if (GET(t->fa->snapshots_active)) return;
    PUT(t->list_version, t->list_version + 1);
    uint32_t n = t->dirty_count, kept = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = t->dirty[i];
        fa__tstat_t *st = &t->stats[x];
        bool keep = x == t->fast.tag || st->frame_listed == fa__release_serial(t) || st->last_change > seen;
        if (keep)
            PUT(t->dirty[kept++], (uint16_t)x);
        else
            st->listed = 0;
    }
    PUT(t->dirty_count, kept);
    PUT(t->list_version, t->list_version + 1);
    t->compacted_at = seen;
}

/* ---- reading a thread's figures ----------------------------------------- */

/* One (thread, tag) as read now: every field exact or, for an instant
 * around a window fold, short by that window (never over). */
typedef struct reading {
    uint64_t frame_count, frame_bytes, frame_inuse;
    uint64_t count[2], bytes[2], frees[2], free_bytes[2];
    uint64_t frame_hw, frame_hw_epoch;
    int64_t hw[2];
} reading_t;

static void read_tag(const fa__thread_t *t, uint32_t x, reading_t *r) {
    const fa__tstat_t *st = &t->stats[x];
    /* Consistent with the thread's window folds: a fold takes a few stores,
     * so wait for it a little; a thread preempted inside one is read as is
     * (short by the window for an instant, never over: the word is cleared
     * before the figures grow). */
    for (int tries = 0;; tries++) {
        uint32_t s1 = GET(t->window_seq);
        r->frame_count = GET(st->frame_count);
        r->frame_bytes = GET(st->frame_bytes);
        r->frame_inuse = GET(st->frame_inuse);
        uint64_t p = fa__stats_window(t, x);
        r->frame_count += p >> FA__PACKED_COUNT_SHIFT;
        r->frame_bytes += p & FA__PACKED_BYTES_MASK;
        r->frame_inuse += p & FA__PACKED_BYTES_MASK;
        if ((!(s1 & 1) && GET(t->window_seq) == s1) || tries == 1000) break;
        if (tries > 100) sched_yield();
    }
    for (int k = 0; k < 2; k++) {
        r->count[k] = GET(st->ph[k].count);
        r->bytes[k] = GET(st->ph[k].bytes);
        r->frees[k] = GET(st->ph[k].frees);
        r->free_bytes[k] = GET(st->ph[k].free_bytes);
        r->hw[k] = GET(st->ph[k].hw);
    }
    r->frame_hw = GET(st->frame_hw);
    r->frame_hw_epoch = GET(st->frame_hw_epoch);
}

/* What changed in one (thread, tag) since the fold last saw it. */
typedef struct delta {
    uint64_t count[3], bytes[3], frees[2];
    int64_t live[3];  /* frame in-use, pool, heap */
    uint64_t rise[3]; /* high-water above what the fold saw */
} delta_t;

static uint64_t mono(uint64_t now, uint64_t seen) {
    return now > seen ? now - seen : 0;
}

static uint64_t rise_above(uint64_t hw, uint64_t hw_epoch, uint64_t epoch, uint64_t now, uint64_t seen) {
    uint64_t top = hw_epoch == epoch && hw > now ? hw : now;
    return top > seen ? top - seen : 0;
}

static void delta_of(const reading_t *r, const fa__seen_t *s, uint64_t epoch, delta_t *d) {
    d->count[FA_KIND_FRAME] = mono(r->frame_count, GET(s->frame_count));
    d->bytes[FA_KIND_FRAME] = mono(r->frame_bytes, GET(s->frame_bytes));
    uint64_t seen_inuse = GET(s->frame_inuse);
    d->live[FA_KIND_FRAME] = (int64_t)(r->frame_inuse - seen_inuse);
    d->rise[FA_KIND_FRAME] = rise_above(r->frame_hw, r->frame_hw_epoch, epoch, r->frame_inuse, seen_inuse);
    for (int k = 0; k < 2; k++) {
        uint64_t sb = GET(s->bytes[k]), sf = GET(s->free_bytes[k]);
        uint64_t b = r->bytes[k] > sb ? r->bytes[k] : sb, f = r->free_bytes[k] > sf ? r->free_bytes[k] : sf;
        d->count[k + 1] = mono(r->count[k], GET(s->count[k]));
        d->bytes[k + 1] = b - sb;
        d->frees[k] = mono(r->frees[k], GET(s->frees[k]));
        d->live[k + 1] = (int64_t)((b - sb) - (f - sf));
        /* Net bytes of this thread for this tag, now and as seen, offset so
         * that they compare as unsigned. */
        uint64_t net_now = b - f + (UINT64_C(1) << 63), net_seen = sb - sf + (UINT64_C(1) << 63);
        uint64_t hw = (uint64_t)r->hw[k] + (UINT64_C(1) << 63);
        uint64_t top = hw > net_now ? hw : net_now;
        d->rise[k + 1] = top > net_seen ? top - net_seen : 0;
    }
}

/* The fold took this reading: what it saw becomes the base of the next
 * rises, and the pool and heap high-waters start again from it. */
static void note_seen(fa__tstat_t *st, const reading_t *r, fa__seen_t *s) {
    for (int k = 0; k < 2; k++) {
        uint64_t b = r->bytes[k] > s->bytes[k] ? r->bytes[k] : s->bytes[k];
        uint64_t f = r->free_bytes[k] > s->free_bytes[k] ? r->free_bytes[k] : s->free_bytes[k];
        PUT(st->ph[k].hw, (int64_t)(b - f));
    }
    PUT(s->frame_count, r->frame_count > s->frame_count ? r->frame_count : s->frame_count);
    PUT(s->frame_bytes, r->frame_bytes > s->frame_bytes ? r->frame_bytes : s->frame_bytes);
    PUT(s->frame_inuse, r->frame_inuse);
    for (int k = 0; k < 2; k++) {
        if (r->count[k] > s->count[k]) PUT(s->count[k], r->count[k]);
        if (r->bytes[k] > s->bytes[k]) PUT(s->bytes[k], r->bytes[k]);
        if (r->frees[k] > s->frees[k]) PUT(s->frees[k], r->frees[k]);
        if (r->free_bytes[k] > s->free_bytes[k]) PUT(s->free_bytes[k], r->free_bytes[k]);
    }
}

/* Adds a thread's delta for tag x to the live figures and to the figures
 * of context frame `epoch` (which start from what is live when it is first
 * touched). */
static void fold_delta(fa_alloc_t *fa, uint32_t x, uint64_t epoch, const delta_t *d) {
    fa__tagfig_t *g = &fa->figs[x];
    fa__epochfig_t *e = &g->ep[epoch & 1];
    if (e->epoch != epoch) {
        PUT(e->base[0], g->frame_inuse);
        PUT(e->base[1], g->live[0]);
        PUT(e->base[2], g->live[1]);
        for (int k = 0; k < 3; k++) {
            PUT(e->count[k], 0);
            PUT(e->bytes[k], 0);
            PUT(e->rise[k], 0);
        }
        PUT(e->frees[0], 0);
        PUT(e->frees[1], 0);
        PUT(e->epoch, epoch);
    }
    for (int k = 0; k < 3; k++) {
        ADD(e->count[k], d->count[k]);
        ADD(e->bytes[k], d->bytes[k]);
        ADD(e->rise[k], d->rise[k]);
    }
    ADD(e->frees[0], d->frees[0]);
    ADD(e->frees[1], d->frees[1]);
    ADD(g->frame_inuse, d->live[0]);
    ADD(g->live[0], d->live[1]);
    ADD(g->live[1], d->live[2]);
}

/* The thread's frame peak in context frame epoch, given its frame bytes in
 * use now. */
static uint64_t thread_peak(const fa__thread_t *t, uint64_t epoch, uint64_t used) {
    uint64_t hw = GET(t->frame_hw);
    return GET(t->frame_hw_epoch) == epoch && hw > used ? hw : used;
}

/* Folds one thread (caller holds fold_lock, fold_seq odd). Returns the
 * rows it read. */
/* A tag's count, bytes and live bytes come from its site entries: the
 * delta of a tag's own counters keeps only its frees and peak rises. */
static void without_sited(delta_t *d) {
#if FA_SITES
    for (int k = 0; k < 3; k++) {
        d->count[k] = d->bytes[k] = 0;
        d->live[k] = 0;
    }
#else
    (void)d;
#endif
}

#if FA_SITES
static delta_t delta_of_site(const fa__site_take_t *r) {
    delta_t d;
    memset(&d, 0, sizeof d);
    for (int k = 0; k < 3; k++) {
        d.count[k] = r->count[k];
        d.bytes[k] = r->bytes[k];
        d.live[k] = r->live[k];
    }
    return d;
}

/* Folds the thread's (site, tag) entries of tag x into the site and tag
 * figures. Every entry that changed belongs to a listed tag: an entry
 * changes with its tag's own figures. */
static void fold_sites(fa_alloc_t *fa, fa__thread_t *t, uint32_t x, uint64_t epoch) {
    for (uint32_t k = fa__sites_tag_first(t, x); k; k = fa__sites_tag_next(t, k)) {
        fa->fold_site_entries++;
        fa__site_take_t r;
        if (!fa__sites_take(t, k - 1, &r)) continue;
        fa__sites_fold_fig(fa, epoch, &r);
        delta_t d = delta_of_site(&r);
        fold_delta(fa, r.tag, epoch, &d);
        fa__sites_seen(t, k - 1, &r);
    }
}
#endif

static uint32_t fold_thread(fa_alloc_t *fa, fa__thread_t *t, uint64_t epoch, uint64_t activity) {
    uint32_t v1 = GET(t->list_version);
    uint32_t n = GET(t->dirty_count);
    uint64_t used = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = GET(t->dirty[i]);
#if FA_SITES
        fold_sites(fa, t, x, epoch);
#endif
        fa__tstat_t *st = &t->stats[x];
        reading_t r;
        delta_t d;
        read_tag(t, x, &r);
        delta_of(&r, &st->seen, epoch, &d);
        without_sited(&d);
        fold_delta(fa, x, epoch, &d);
        note_seen(st, &r, &st->seen);
        used += r.frame_inuse;
    }
    uint32_t v2 = GET(t->list_version);
    /* The list held every tag that changed up to `activity`: the thread may
     * drop those whose last change that was. */
    if (v1 == v2 && !(v1 & 1)) PUT(t->visited, activity);
    PUT(t->fast.seen_activity, activity);
    PUT(t->row_used, used);
    PUT(t->row_peak, thread_peak(t, epoch, used));
    PUT(t->row_epoch, epoch);
    return n;
}

static void fold_begin(fa_alloc_t *fa) {
    pthread_mutex_lock(&fa->fold_lock);
    PUT(fa->fold_seq, fa->fold_seq + 1);
}

static void fold_end(fa_alloc_t *fa) {
    PUT(fa->fold_seq, fa->fold_seq + 1);
    pthread_mutex_unlock(&fa->fold_lock);
}

static bool thread_idle(const fa__thread_t *t, uint64_t *activity) {
    *activity = GET(t->fast.activity);
    return *activity == GET(t->fast.seen_activity) && !GET(t->fast.in_frame_pub);
}

void fa__stats_fold_all(fa_alloc_t *fa) {
    fold_begin(fa);
    uint64_t epoch = GET(fa->frame_number);
    PUT(fa->fold_epoch, epoch);
    uint64_t peaks = fa->frame_peak_epoch == epoch ? fa->frame_peak_exited : 0;
    uint32_t threads = 0, rows = 0;
    fa->fold_site_entries = 0;
    FA__FOR_EACH_THREAD(fa, t) {
        uint64_t activity;
        if (thread_idle(t, &activity)) {
            /* Frame memory it allocated outside a frame is still there. */
            peaks += t->row_used;
            continue;
        }
        rows += fold_thread(fa, t, epoch, activity);
        threads++;
        peaks += t->row_peak;
    }
    fa->fold_threads = threads;
    fa->fold_rows = rows;
    if (fa->frame_peak_epoch != epoch) {
        PUT(fa->frame_peak_exited, 0);
        PUT(fa->frame_peak_epoch, epoch);
    }
    PUT(fa->frame_peak_folded, peaks);
    /* This frame is closed: what is folded from now on (exiting threads
     * while the hooks run) counts in the next one. */
    PUT(fa->fold_epoch, epoch + 1);
    fold_end(fa);
}

uint32_t fa__stats_last_fold_sites(fa_alloc_t *fa) {
    pthread_mutex_lock(&fa->fold_lock);
    uint32_t n = fa->fold_site_entries;
    pthread_mutex_unlock(&fa->fold_lock);
    return n;
}

void fa__stats_last_fold(fa_alloc_t *fa, uint32_t *threads, uint32_t *rows) {
    pthread_mutex_lock(&fa->fold_lock);
    *threads = fa->fold_threads;
    *rows = fa->fold_rows;
    pthread_mutex_unlock(&fa->fold_lock);
}

#if FA_SITES
static void release_tag(fa_alloc_t *fa, uint32_t tag, int64_t d) {
    ADD(fa->figs[tag].frame_inuse, d);
}
#endif

void fa__stats_release_own_frame(fa_alloc_t *fa, fa__thread_t *t) {
    fold_begin(fa);
    /* The tags of the frame that ended are still listed (their last change,
     * the release, came after the fold). */
    uint32_t n = t->dirty_count;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t x = t->dirty[i];
#if FA_SITES
        fa__sites_release_own_tag(fa, t, x, release_tag);
#endif
        fa__seen_t *s = &t->stats[x].seen;
        uint64_t now = inuse_of(t, x);
        if (now == s->frame_inuse) continue;
#if !FA_SITES
        ADD(fa->figs[x].frame_inuse, (int64_t)(now - s->frame_inuse));
#endif
        PUT(s->frame_inuse, now);
    }
    PUT(t->row_used, 0);
    fold_end(fa);
}

void fa__stats_retire(fa_alloc_t *fa, fa__thread_t *t) {
    fold_begin(fa);
    uint64_t epoch = GET(fa->fold_epoch);
    fold_thread(fa, t, epoch, GET(t->fast.activity));
    if (fa->frame_peak_epoch != epoch) {
        PUT(fa->frame_peak_exited, 0);
        PUT(fa->frame_peak_epoch, epoch);
    }
    ADD(fa->frame_peak_exited, t->row_peak);
    /* Everything it counted is in the context's figures now: its record
     * starts again from zero for the next thread (zero pages, no unmap). */
    madvise(t->region, t->region_size, MADV_DONTNEED);
#if FA_SITES
    fa__sites_thread_reset(t);
#endif
    PUT(t->dirty_count, 0);
    PUT(t->list_version, t->list_version + 2);
    PUT(t->visited, 0);
    PUT(t->fast.activity, 0);
    PUT(t->fast.seen_activity, 0);
    PUT(t->row_used, 0);
    PUT(t->row_peak, 0);
    PUT(t->frame_hw, 0);
    PUT(t->frame_hw_epoch, 0);
    t->compacted_at = 0;
    t->frame_tag_count = 0;
    fold_end(fa);
}

/* ---- snapshots ------------------------------------------------------------ */

/* Per-tag figures of a snapshot before the rows are written. */
typedef struct acc {
    fa_tag_row_t *rows;
    uint32_t rows_n;
    fa_kind_totals_t *totals;
    const fa__tag_t *tags;
    uint64_t part_peak_sum[3]; /* pool and heap kind peaks: sums over tags */
} acc_t;

/* Adds one tag's self figures (and self peaks) to its row, or (no row of
 * its own) to the `total` of its nearest ancestor that has one; the rows'
 * totals include their descendants' once fa__stats_sum_rows() has run. */
static void add_self(acc_t *a, uint32_t x, const int64_t live[3], uint64_t count, const uint64_t peak[3]) {
    uint32_t p = x;
    while (p >= a->rows_n && p != FA_TAG_ROOT)
        p = a->tags[p].parent;
    if (p < a->rows_n) {
        fa_tag_row_t *r = &a->rows[p];
        if (p == x) {
            r->self.frame_bytes += (uint64_t)live[0];
            r->self.pool_bytes += (uint64_t)live[1];
            r->self.heap_bytes += (uint64_t)live[2];
            r->self.alloc_count += count;
        }
        r->total.frame_bytes += (uint64_t)live[0];
        r->total.pool_bytes += (uint64_t)live[1];
        r->total.heap_bytes += (uint64_t)live[2];
        r->total.alloc_count += count;
        r->peak_bytes += peak[0] + peak[1] + peak[2];
    }
    for (int k = 0; k < 3; k++)
        a->totals[k].in_use += (uint64_t)live[k];
    a->part_peak_sum[1] += peak[1];
    a->part_peak_sum[2] += peak[2];
}

static uint64_t clamp0(uint64_t v) {
    return (int64_t)v < 0 ? 0 : v;
}

/* Each row's total and peak take in its children's (ids: a parent comes
 * before its children, so one pass from the last row up); then each row is
 * finished: figures below zero (frees seen before their allocations) read
 * 0, live bytes from the total, the peak never below them. O(rows). */
void fa__stats_sum_rows(fa_tag_row_t *rows, uint32_t n) {
    for (uint32_t x = n; x-- > 0;) {
        fa_tag_row_t *r = &rows[x];
        if (x != FA_TAG_ROOT) {
            fa_tag_row_t *up = &rows[r->parent_id];
            up->total.frame_bytes += r->total.frame_bytes;
            up->total.pool_bytes += r->total.pool_bytes;
            up->total.heap_bytes += r->total.heap_bytes;
            up->total.alloc_count += r->total.alloc_count;
            up->peak_bytes += r->peak_bytes;
        }
        r->self.frame_bytes = clamp0(r->self.frame_bytes);
        r->self.pool_bytes = clamp0(r->self.pool_bytes);
        r->self.heap_bytes = clamp0(r->self.heap_bytes);
        r->total.frame_bytes = clamp0(r->total.frame_bytes);
        r->total.pool_bytes = clamp0(r->total.pool_bytes);
        r->total.heap_bytes = clamp0(r->total.heap_bytes);
        r->live_bytes = r->total.frame_bytes + r->total.pool_bytes + r->total.heap_bytes;
        if (r->peak_bytes < r->live_bytes) r->peak_bytes = r->live_bytes;
    }
}

/* One pass over the fold and the threads. Returns false when the fold or a
 * thread's list moved meanwhile (the caller starts again). */
#if FA_SITES
/* What a running thread's (site, tag) entries add since the fold: to the
 * tag rows and totals, and (site rows wanted) to the sites' figures. */
static void pending_sites(acc_t *a, const fa__thread_t *t, uint32_t ntags, bool sites) {
    uint32_t n = GET(t->site_stat_count);
    static const uint64_t no_peak[3] = {0, 0, 0};
    for (uint32_t i = 0; i < n; i++) {
        fa__site_take_t r;
        if (!fa__sites_take(t, i, &r) || r.tag >= ntags) continue;
        for (int k = 0; k < 3; k++) {
            a->totals[k].alloc_count += r.count[k];
            a->totals[k].alloc_bytes += r.bytes[k];
        }
        add_self(a, r.tag, r.live, r.count[0] + r.count[1] + r.count[2], no_peak);
        if (sites) fa__sites_pending(t->fa, &r);
    }
}
#endif

static bool gather(fa_alloc_t *fa, fa_snapshot_t *snap, uint32_t ntags, bool pending, uint64_t *frame_peak,
                   bool *sites_complete) {
    bool sites = FA_SITES && snap->sites_capacity > 0;
    (void)sites, (void)sites_complete;
#if FA_SITES
    if (sites) fa__sites_attempt(fa);
#endif
    uint64_t epoch = GET(fa->frame_number);
    uint32_t rows_n = ntags < snap->rows_capacity ? ntags : snap->rows_capacity;
    acc_t a = {.rows = snap->rows, .rows_n = rows_n, .totals = snap->totals, .tags = fa->tags.entries};
    memset(snap->totals, 0, sizeof snap->totals);
    /* What the fold holds: the frame being reported, and (outside a hook)
     * what was folded for the next one while the main thread's hooks ran. */
    uint64_t next = pending ? GET(fa->fold_epoch) : epoch;
    /* Kind totals in locals: the compiler cannot keep them in registers
     * through the row stores. */
    uint64_t counts[3] = {0, 0, 0}, bytes[3] = {0, 0, 0}, in_use[3] = {0, 0, 0}, frees[2] = {0, 0};
    for (uint32_t x = 0; x < ntags; x++) {
        const fa__tagfig_t *g = &fa->figs[x];
        int64_t live[3] = {GET(g->frame_inuse), GET(g->live[0]), GET(g->live[1])};
        uint64_t count = 0, peak[3] = {0, 0, 0};
        bool seen = false;
        for (int p = 0; p < 2; p++) {
            const fa__epochfig_t *e = &g->ep[p];
            uint64_t ee = GET(e->epoch);
            if (ee != epoch && ee != next) continue;
            seen = true;
            for (int k = 0; k < 3; k++) {
                uint64_t c = GET(e->count[k]);
                count += c;
                counts[k] += c;
                bytes[k] += GET(e->bytes[k]);
                int64_t base = GET(e->base[k]);
                uint64_t top = (base > 0 ? (uint64_t)base : 0) + GET(e->rise[k]);
                if (top > peak[k]) peak[k] = top;
            }
            frees[0] += GET(e->frees[0]);
            frees[1] += GET(e->frees[1]);
        }
        if (!seen)
            for (int k = 0; k < 3; k++)
                peak[k] = live[k] > 0 ? (uint64_t)live[k] : 0;
        if (x >= rows_n) {
            add_self(&a, x, live, count, peak);
            continue;
        }
        /* The row, written once, field by field (a compound literal goes
         * through a zeroed temporary): its own figures, which
         * fa__stats_sum_rows() adds up the tree. */
        const fa__tag_t *e = &fa->tags.entries[x];
        fa_tag_row_t *r = &snap->rows[x];
        r->id = (uint16_t)x;
        r->parent_id = e->parent;
        r->depth = e->depth;
        r->path = e->path;
        r->self.frame_bytes = r->total.frame_bytes = (uint64_t)live[0];
        r->self.pool_bytes = r->total.pool_bytes = (uint64_t)live[1];
        r->self.heap_bytes = r->total.heap_bytes = (uint64_t)live[2];
        r->self.alloc_count = r->total.alloc_count = count;
        r->live_bytes = 0;
        r->peak_bytes = peak[0] + peak[1] + peak[2];
        r->budget_soft = atomic_load_explicit(&e->soft, memory_order_relaxed);
        r->budget_hard = atomic_load_explicit(&e->hard, memory_order_relaxed);
        for (int k = 0; k < 3; k++)
            in_use[k] += (uint64_t)live[k];
        a.part_peak_sum[1] += peak[1];
        a.part_peak_sum[2] += peak[2];
    }
    for (int k = 0; k < 3; k++) {
        snap->totals[k].alloc_count += counts[k];
        snap->totals[k].alloc_bytes += bytes[k];
        snap->totals[k].in_use += in_use[k];
    }
    snap->totals[1].free_count += frees[0];
    snap->totals[2].free_count += frees[1];
    /* What the threads did since. */
    uint64_t peaks = GET(fa->frame_peak_epoch) == epoch ? GET(fa->frame_peak_exited) : 0;
    if (!pending) peaks = GET(fa->frame_peak_folded);
    uint32_t nt = 0, total = 0;
    FA__FOR_EACH_THREAD(fa, t) {
        uint64_t used = 0, peak = 0, activity;
        if (!pending) {
            used = GET(t->row_used);
            peak = GET(t->row_epoch) == epoch && GET(t->row_peak) > used ? GET(t->row_peak) : used;
        } else if (!thread_idle(t, &activity)) {
            uint32_t v1 = GET(t->list_version);
            uint32_t n = GET(t->dirty_count);
#if FA_SITES
            pending_sites(&a, t, ntags, sites);
#endif
            for (uint32_t i = 0; i < n; i++) {
                uint32_t x = GET(t->dirty[i]);
                if (x >= ntags) continue;
                reading_t r;
                delta_t d;
                read_tag(t, x, &r);
                delta_of(&r, &t->stats[x].seen, epoch, &d);
                without_sited(&d);
                used += r.frame_inuse;
                for (int k = 0; k < 3; k++) {
                    snap->totals[k].alloc_count += d.count[k];
                    snap->totals[k].alloc_bytes += d.bytes[k];
                }
                snap->totals[1].free_count += d.frees[0];
                snap->totals[2].free_count += d.frees[1];
                add_self(&a, x, d.live, d.count[0] + d.count[1] + d.count[2], d.rise);
            }
            if (GET(t->list_version) != v1 || (v1 & 1)) return false;
            peak = thread_peak(t, epoch, used);
            peaks += peak;
        } else {
            /* Idle since the fold: its frame memory (allocated outside a
             * frame) is what the fold saw. */
            used = GET(t->row_used);
            peak = GET(t->row_epoch) == epoch && GET(t->row_peak) > used ? GET(t->row_peak) : used;
            peaks += peak;
        }
        if (nt < snap->threads_capacity) {
            snap->threads[nt++] = (fa_thread_row_t){
                .index = GET(t->index),
                .frame_used = used,
                .frame_peak = peak,
                .frame_capacity = GET(t->capacity),
                .frames = GET(t->frames_ended),
                .overflow_chunks = GET(t->overflow),
                .in_frame = GET(t->fast.in_frame_pub) != 0,
            };
        }
        total++;
    }
    snap->thread_count = nt;
    snap->threads_total = total;
    *frame_peak = peaks;
    snap->totals[1].peak = a.part_peak_sum[1];
    snap->totals[2].peak = a.part_peak_sum[2];
    /* Deferred: fa_snapshot_finish() sums them on the caller's thread. */
    snap->rows_unsummed = snap->defer != 0;
    if (!snap->defer) fa__stats_sum_rows(snap->rows, rows_n);
#if FA_SITES
    if (sites) *sites_complete = fa__sites_rows(fa, snap, epoch, next);
#endif
    return true;
}

/* The figures of a context that another thread may be folding: read them
 * without a lock, and start again when the fold moved; after a few tries,
 * wait for the fold instead. */
void fa__stats_snapshot(fa_alloc_t *fa, fa_snapshot_t *snap, uint32_t ntags, bool pending,
                        uint64_t *frame_peak, bool *sites_complete) {
    *sites_complete = true;
#if FA_SITES
    bool sites = snap->sites_capacity > 0;
    if (sites) fa__sites_snapshot_begin(fa);
#endif
    __atomic_fetch_add(&fa->snapshots_active, 1, __ATOMIC_SEQ_CST);
    for (int attempt = 0;; attempt++) {
        bool locked = attempt >= 8;
        if (locked) pthread_mutex_lock(&fa->fold_lock);
        uint32_t s1 = GET(fa->fold_seq);
        if (!(s1 & 1)) {
            bool ok = gather(fa, snap, ntags, pending, frame_peak, sites_complete);
            if ((ok || locked) && GET(fa->fold_seq) == s1) {
                if (locked) pthread_mutex_unlock(&fa->fold_lock);
                __atomic_fetch_sub(&fa->snapshots_active, 1, __ATOMIC_SEQ_CST);
#if FA_SITES
                if (sites) fa__sites_snapshot_end(fa);
#endif
                return;
            }
        }
        if (locked) pthread_mutex_unlock(&fa->fold_lock);
        sched_yield();
    }
}
