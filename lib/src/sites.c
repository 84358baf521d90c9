/* Call sites: the process's registry of site records, each thread's
 * (site, tag) entries, and the context's figures per (site, tag).
 *
 * A site record is a static object placed by a macro at an allocating line
 * (framealloc.h); its first use numbers it (a process-wide lock, once per
 * site). Each thread counts its allocations per (site, tag) in entries of
 * its own, single-writer, like its tag figures (stats.c): a slot per site
 * id points at the entry of the site under the tag that was current when
 * the slot was last keyed, so the inline frame path and the pool path find
 * it with one compare; a site used under another tag re-keys its slot out
 * of line. The inline frame path counts in the slot's packed word only,
 * for the site and its tag at once: the slots keyed to a tag are linked,
 * and a window fold moves their words into the entries and the tag's
 * figures (fa__stats_window sums them for readers meanwhile). The main thread's frame end folds the entries
 * of the threads that were active into the context's figures, in the same pass as the tags' and from the same
 * readings: a tag's count, bytes and live bytes ARE the sum of its entries' (stats.c), so site rows add up to
 * the tag rows exactly, whatever the threads do meanwhile.
 *
 * Bounds. Ids are 16 bits (the pool keeps one per block): after
 * FA_SITE_MAX sites a new one counts as the unknown site of its kind. A
 * thread keeps at most config.max_sites entries and the context as many
 * figures; a pair beyond them counts in its tag's overflow entry and
 * figure (site 0), which snapshots report in the tag's "other" row. */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define GET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define PUT(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define ADD(x, n) PUT(x, (x) + (n))

/* ---- the registry (process-wide: sites are program objects) --------------- */

fa_site_t fa__site_unknown[FA_KIND_COUNT_] = {
    {"", "unknown", 0, FA_KIND_FRAME, FA_SITE_UNKNOWN(FA_KIND_FRAME), 0},
    {"", "unknown", 0, FA_KIND_POOL, FA_SITE_UNKNOWN(FA_KIND_POOL), 0},
    {"", "unknown", 0, FA_KIND_HEAP, FA_SITE_UNKNOWN(FA_KIND_HEAP), 0},
};

/* The second process-wide mutable state of the library (after context
 * ids): sites outlive contexts, so their numbering cannot belong to one. */
static fa_site_t *registry[FA_SITE_MAX + 1] = {NULL, &fa__site_unknown[0], &fa__site_unknown[1],
                                               &fa__site_unknown[2]};
static uint32_t registry_next = FA_SITE_FIRST; /* atomic for readers */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

uint32_t fa__site_id(fa_site_t *site, uint32_t kind) {
    if (!site) return FA_SITE_UNKNOWN(kind < FA_KIND_COUNT_ ? kind : FA_KIND_FRAME);
    uint32_t id = __atomic_load_n(&site->id, __ATOMIC_ACQUIRE);
    if (FA_LIKELY(id)) return id;
    pthread_mutex_lock(&registry_lock);
    id = site->id;
    if (!id) {
        if (registry_next <= FA_SITE_MAX) {
            id = registry_next;
            __atomic_store_n(&registry[id], site, __ATOMIC_RELEASE);
            __atomic_store_n(&registry_next, id + 1, __ATOMIC_RELEASE);
        } else {
            uint32_t k = site->kind < FA_KIND_COUNT_ ? site->kind : FA_KIND_FRAME;
            id = FA_SITE_UNKNOWN(k);
        }
        __atomic_store_n(&site->id, id, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&registry_lock);
    return id;
}

const fa_site_t *fa_site_get(uint32_t id) {
    if (id == 0 || id > FA_SITE_MAX) return NULL;
    return __atomic_load_n(&registry[id], __ATOMIC_ACQUIRE);
}

uint32_t fa_site_count(void) {
    return __atomic_load_n(&registry_next, __ATOMIC_ACQUIRE);
}

/* Interned sites: records made at run time, kept for the process's
 * lifetime in a hash of their text (registry_lock). */
#define INTERN_BUCKETS 1024u
typedef struct interned {
    fa_site_t site;
    struct interned *next;
    char text[]; /* file, then function */
} interned_t;
static interned_t *intern_buckets[INTERN_BUCKETS];

static uint32_t text_hash(uint32_t h, const char *s) {
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

fa_site_t *fa_site_intern(const char *file, const char *function, uint32_t line, fa_kind kind) {
    if (!file) file = "";
    if (!function) function = "";
    if ((unsigned)kind >= FA_KIND_COUNT_) kind = FA_KIND_FRAME;
    uint32_t h = text_hash(text_hash(2166136261u ^ line ^ (uint32_t)kind << 24, file), function);
    interned_t **bucket = &intern_buckets[h % INTERN_BUCKETS];
    pthread_mutex_lock(&registry_lock);
    interned_t *x = *bucket;
    while (x && !(x->site.line == line && x->site.kind == (uint32_t)kind && !strcmp(x->site.file, file) &&
                  !strcmp(x->site.function, function)))
        x = x->next;
    bool full = registry_next > FA_SITE_MAX;
    if (!x && !full) {
        size_t nf = strlen(file) + 1, nfn = strlen(function) + 1;
        x = nf + nfn < (size_t)PTRDIFF_MAX - sizeof *x ? malloc(sizeof *x + nf + nfn) : NULL;
        if (x) {
            memcpy(x->text, file, nf);
            memcpy(x->text + nf, function, nfn);
            x->site = (fa_site_t){x->text, x->text + nf, line, (uint32_t)kind, registry_next, 0};
            __atomic_store_n(&registry[registry_next], &x->site, __ATOMIC_RELEASE);
            __atomic_store_n(&registry_next, registry_next + 1, __ATOMIC_RELEASE);
            x->next = *bucket;
            *bucket = x;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return x ? &x->site : NULL;
}

/* ---- the context's figures ----------------------------------------------- */

typedef struct fa__site_fig {
    uint32_t site, tag;
    int64_t live[3]; /* frame in use, pool, heap: every thread's, as folded */
    struct {
        uint64_t epoch, count, bytes;
    } ep[2]; /* the last two context frames, by parity (as tags) */
} fa__site_fig_t;

/* One snapshot attempt's pending figures of a context figure; valid when
 * gen is the attempt's. */
typedef struct scratch {
    uint32_t gen;
    uint64_t count, bytes;
    int64_t live;
} scratch_t;

struct fa__sites {
    uint32_t cap;         /* max_sites + max_tags figures */
    uint32_t normal_cap;  /* max_sites: figures of real sites */
    fa__site_fig_t *figs; /* dense; published by count */
    uint32_t count;       /* atomic */
    uint32_t *hash;       /* (site, tag) -> fig + 1; hash_mask + 1 slots */
    uint32_t hash_mask;
    pthread_mutex_t lock; /* creating figures */
    /* Snapshots with site rows, one at a time (snap_lock). */
    pthread_mutex_t snap_lock;
    uint32_t gen;
    scratch_t *scratch; /* cap */
    fa_site_row_t *raw; /* cap: the active pairs of a snapshot ranked here */
    uint64_t *work;     /* cap + max_tags: the ranking's scratch */
    void *region;
    size_t region_size;
};

__attribute__((unused)) static size_t page_round(size_t n) {
    return (n + 4095) & ~(size_t)4095;
}

int fa__sites_init(fa_alloc_t *fa) {
#if FA_SITES
    uint32_t cap = fa->cfg.max_sites + fa->cfg.max_tags;
    uint32_t slots = 1;
    while (slots < 2 * cap)
        slots *= 2;
    size_t figs = page_round((size_t)cap * sizeof(fa__site_fig_t)), hash = page_round((size_t)slots * 4);
    size_t scratch = page_round((size_t)cap * sizeof(scratch_t));
    size_t raw = page_round((size_t)cap * sizeof(fa_site_row_t));
    size_t work = page_round(((size_t)cap + fa->cfg.max_tags) * sizeof(uint64_t));
    size_t total = figs + hash + scratch + raw + work;
    struct fa__sites *x = calloc(1, sizeof *x);
    if (!x) return FA_ERR_NO_MEMORY;
    char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        free(x);
        return FA_ERR_NO_MEMORY;
    }
    x->region = m;
    x->region_size = total;
    x->cap = cap;
    x->normal_cap = fa->cfg.max_sites;
    x->figs = (fa__site_fig_t *)(void *)m;
    x->hash = (uint32_t *)(void *)(m + figs);
    x->hash_mask = slots - 1;
    x->scratch = (scratch_t *)(void *)(m + figs + hash);
    x->raw = (fa_site_row_t *)(void *)(m + figs + hash + scratch);
    x->work = (uint64_t *)(void *)(m + figs + hash + scratch + raw);
    pthread_mutex_init(&x->lock, NULL);
    pthread_mutex_init(&x->snap_lock, NULL);
    fa->sites = x;
#else
    (void)fa;
#endif
    return FA_OK;
}

void fa__sites_fini(fa_alloc_t *fa) {
    struct fa__sites *x = fa->sites;
    if (!x) return;
    munmap(x->region, x->region_size);
    pthread_mutex_destroy(&x->lock);
    pthread_mutex_destroy(&x->snap_lock);
    free(x);
    fa->sites = NULL;
}

static uint32_t pair_hash(uint32_t site, uint32_t tag) {
    uint64_t h = ((uint64_t)site << 32 | tag) * UINT64_C(0x9E3779B97F4A7C15);
    return (uint32_t)(h >> 32);
}

/* The figure of (site, tag), created if needed; a real site beyond
 * normal_cap gets its tag's overflow figure (site 0). Takes the lock. */
static uint32_t fig_of(struct fa__sites *x, uint32_t site, uint32_t tag) {
    pthread_mutex_lock(&x->lock);
    for (;;) {
        uint32_t i = pair_hash(site, tag) & x->hash_mask, found = UINT32_MAX;
        for (;; i = (i + 1) & x->hash_mask) {
            uint32_t v = x->hash[i];
            if (!v) break;
            if (x->figs[v - 1].site == site && x->figs[v - 1].tag == tag) {
                found = v - 1;
                break;
            }
        }
        if (found != UINT32_MAX) {
            pthread_mutex_unlock(&x->lock);
            return found;
        }
        uint32_t n = x->count;
        if (site != 0 && n >= x->normal_cap) {
            site = 0; /* look up (or make) the tag's overflow figure */
            continue;
        }
        /* At most max_tags overflow figures exist besides normal_cap real
         * ones: there is always room. */
        x->figs[n] =
            (fa__site_fig_t){.site = site, .tag = tag, .ep = {{UINT64_MAX, 0, 0}, {UINT64_MAX, 0, 0}}};
        x->hash[i] = n + 1;
        PUT(x->count, n + 1);
        pthread_mutex_unlock(&x->lock);
        return n;
    }
}

void fa__sites_fold_fig(fa_alloc_t *fa, uint64_t epoch, const fa__site_take_t *r) {
    fa__site_fig_t *g = &fa->sites->figs[r->fig];
    __typeof__(g->ep[0]) *e = &g->ep[epoch & 1];
    if (e->epoch != epoch) {
        PUT(e->count, 0);
        PUT(e->bytes, 0);
        PUT(e->epoch, epoch);
    }
    ADD(e->count, r->count[0] + r->count[1] + r->count[2]);
    ADD(e->bytes, r->bytes[0] + r->bytes[1] + r->bytes[2]);
    for (int k = 0; k < 3; k++)
        ADD(g->live[k], r->live[k]);
}

/* ---- a thread's entries ------------------------------------------------------ */

#define SLOTS ((size_t)FA_SITE_MAX + 1)

int fa__sites_thread_init(fa_alloc_t *fa, fa__thread_t *t) {
#if FA_SITES
    size_t entries = (size_t)fa->cfg.max_sites + fa->cfg.max_tags;
    size_t slots = page_round(SLOTS * sizeof(fa__site_slot_t));
    size_t stats = page_round(entries * sizeof(fa__site_stat_t));
    size_t seen = page_round(entries * sizeof(fa__site_seen_t));
    size_t overflow = page_round((size_t)fa->cfg.max_tags * sizeof(uint32_t));
    size_t total = slots + stats + seen + 3 * overflow;
    char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return FA_ERR_NO_MEMORY;
    t->site_region = m;
    t->site_region_size = total;
    t->fast.site_slots = (fa__site_slot_t *)(void *)m;
    t->site_stats = (fa__site_stat_t *)(void *)(m + slots);
    t->site_seen = (fa__site_seen_t *)(void *)(m + slots + stats);
    t->site_overflow = (uint32_t *)(void *)(m + slots + stats + seen);
    t->site_tag_slots = (uint32_t *)(void *)(m + slots + stats + seen + overflow);
    t->site_tag_entries = (uint32_t *)(void *)(m + slots + stats + seen + 2 * overflow);
#else
    (void)fa, (void)t;
#endif
    return FA_OK;
}

void fa__sites_thread_fini(fa__thread_t *t) {
    if (t->site_region) munmap(t->site_region, t->site_region_size);
    t->site_region = NULL;
    t->fast.site_slots = NULL;
}

void fa__sites_thread_reset(fa__thread_t *t) {
    if (!t->site_region) return;
    /* Zero pages, no unmap: a reader may still be looking at the record. */
    PUT(t->site_stat_count, 0);
    madvise(t->site_region, t->site_region_size, MADV_DONTNEED);
}

/* A new entry for (site_id, tag); the tag's overflow entry when the thread
 * has max_sites of them. */
static uint32_t entry_new(fa__thread_t *t, uint32_t site_id, uint32_t tag, bool *overflow) {
    fa_alloc_t *fa = t->fa;
    uint32_t n = t->site_stat_count;
    *overflow = n >= fa->cfg.max_sites;
    if (*overflow) {
        if (t->site_overflow[tag]) return t->site_overflow[tag] - 1;
        site_id = 0;
    }
    fa__site_stat_t *e = &t->site_stats[n];
    /* Atomic: a snapshot may still read this slot's previous entry of a
     * retired thread whose record this thread reuses (it retries then). */
    PUT(e->site, site_id);
    PUT(e->tag, tag);
    PUT(e->fig, fig_of(fa->sites, site_id, tag));
    if (*overflow) {
        t->site_overflow[tag] = n + 1;
    } else {
        fa__site_slot_t *slot = &t->fast.site_slots[site_id];
        e->next = slot->head;
        slot->head = n + 1;
    }
    /* Published after its fields: readers walk a tag's list without a lock. */
    PUT(e->tag_next, t->site_tag_entries[tag]);
    PUT(t->site_tag_entries[tag], n + 1);
    PUT(t->site_stat_count, n + 1);
    return n;
}

/* Moves a slot's packed word into its entry and its tag's figures.
 * Caller: window_seq odd. */
static void slot_fold(fa__thread_t *t, fa__site_slot_t *slot) {
    uint64_t p = slot->packed;
    if (!p) return;
    fa__site_stat_t *e = slot->stat;
    fa__tstat_t *st = &t->stats[slot->key - 1];
    uint64_t bytes = p & FA__PACKED_BYTES_MASK, count = p >> FA__PACKED_COUNT_SHIFT;
    PUT(slot->packed, 0);
    PUT(e->frame_bytes, e->frame_bytes + bytes);
    PUT(e->frame_count, e->frame_count + count);
    PUT(st->frame_bytes, st->frame_bytes + bytes);
    PUT(st->frame_inuse, st->frame_inuse + bytes);
    PUT(st->frame_count, st->frame_count + count);
}

/* The list of slots keyed to one tag (site id + 1 links). Caller:
 * window_seq odd. */
static void tag_list_remove(fa__thread_t *t, uint32_t site_id, fa__site_slot_t *slot) {
    /* A re-key is rare: a walk from the head costs less than a back link
     * in every slot. */
    uint32_t *link = &t->site_tag_slots[slot->key - 1];
    while (*link && *link != site_id + 1)
        link = &t->fast.site_slots[*link - 1].next;
    if (*link) PUT(*link, slot->next);
}

static void tag_list_push(fa__thread_t *t, uint32_t site_id, fa__site_slot_t *slot, uint32_t tag) {
    PUT(slot->next, t->site_tag_slots[tag]);
    PUT(t->site_tag_slots[tag], site_id + 1);
}

fa__site_stat_t *fa__sites_entry_slow(fa__thread_t *t, uint32_t site_id, uint32_t tag, bool frees) {
    fa__site_slot_t *slot = &t->fast.site_slots[site_id];
    uint32_t i = 0;
    bool found = false, overflow = false;
    /* The entry, if it exists, is on both the site's list and the tag's:
     * walk them side by side and stop at the end of the shorter (a site
     * used under many tags, or a tag with many sites, costs the other). */
    for (uint32_t a = slot->head, b = t->site_tag_entries[tag]; a && b;
         a = t->site_stats[a - 1].next, b = t->site_stats[b - 1].tag_next) {
        if (t->site_stats[a - 1].tag == tag) {
            i = a - 1;
            found = true;
            break;
        }
        if (t->site_stats[b - 1].site == site_id) {
            i = b - 1;
            found = true;
            break;
        }
    }
    if (!found) i = entry_new(t, site_id, tag, &overflow);
    /* A free leaves the slot to the allocations; an overflow entry is
     * shared by several sites, so no slot points at it (it is counted out
     * of line). Slot 0 is never keyed. */
    if (!frees && !overflow && site_id != 0) {
        PUT(t->window_seq, t->window_seq + 1);
        if (slot->key) {
            slot_fold(t, slot);
            tag_list_remove(t, site_id, slot);
        }
        PUT(slot->entry, i);
        slot->stat = &t->site_stats[i];
        PUT(slot->key, tag + 1);
        tag_list_push(t, site_id, slot, tag);
        PUT(t->window_seq, t->window_seq + 1);
    }
    return &t->site_stats[i];
}

fa__site_stat_t *fa__sites_alloc_slow(fa__thread_t *t, fa_site_t *site, uint32_t kind, uint32_t *site_id) {
    *site_id = fa__site_id(site, kind);
    return fa__sites_entry(t, *site_id, t->fast.tag);
}

void fa__sites_frame(fa__thread_t *t, uint32_t site_id, uint64_t size) {
    fa__site_stat_t *e = fa__sites_entry(t, site_id, t->fast.tag);
    PUT(e->frame_bytes, e->frame_bytes + size);
    PUT(e->frame_count, e->frame_count + 1);
}

void fa__sites_fold_window(fa__thread_t *t, uint32_t x, bool *opened) {
    for (uint32_t s = t->site_tag_slots[x]; s; s = t->fast.site_slots[s - 1].next) {
        fa__site_slot_t *slot = &t->fast.site_slots[s - 1];
        if (!slot->packed) continue;
        if (!*opened) {
            PUT(t->window_seq, t->window_seq + 1);
            *opened = true;
        }
        slot_fold(t, slot);
    }
}

void fa__sites_end_frame(fa__thread_t *t, const uint16_t *tags, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        for (uint32_t k = t->site_tag_entries[tags[i]]; k; k = t->site_stats[k - 1].tag_next) {
            fa__site_stat_t *e = &t->site_stats[k - 1];
            if (e->frame_released != e->frame_bytes) PUT(e->frame_released, e->frame_bytes);
        }
    }
}

static uint64_t mono(uint64_t now, uint64_t seen) {
    return now > seen ? now - seen : 0;
}

bool fa__sites_take(const fa__thread_t *t, uint32_t i, fa__site_take_t *r) {
    const fa__site_stat_t *e = &t->site_stats[i];
    const fa__site_seen_t *seen = &t->site_seen[i];
    uint64_t fc, fb, fr;
    /* Consistent with the owner's window folds and re-keys (see read_tag in
     * stats.c): short by a window for an instant at worst, never over. */
    for (int tries = 0;; tries++) {
        uint32_t s1 = GET(t->window_seq);
        fc = GET(e->frame_count);
        fb = GET(e->frame_bytes);
        fr = GET(e->frame_released);
        uint32_t site = GET(e->site);
        const fa__site_slot_t *slot = &t->fast.site_slots[site];
        if (site && GET(slot->key) && GET(slot->entry) == i) {
            uint64_t p = GET(slot->packed);
            fc += p >> FA__PACKED_COUNT_SHIFT;
            fb += p & FA__PACKED_BYTES_MASK;
        }
        if ((!(s1 & 1) && GET(t->window_seq) == s1) || tries == 1000) break;
        if (tries > 100) sched_yield();
    }
    r->fig = GET(e->fig);
    r->tag = GET(e->tag);
    r->now_count[0] = fc;
    r->now_bytes[0] = fb;
    r->now_live[0] = (int64_t)(fb - fr);
    for (int k = 0; k < 2; k++) {
        r->now_count[k + 1] = GET(e->count[k]);
        r->now_bytes[k + 1] = GET(e->bytes[k]);
        r->now_live[k + 1] = (int64_t)(r->now_bytes[k + 1] - GET(e->freed[k]));
    }
    bool any = false;
    for (int k = 0; k < 3; k++) {
        r->count[k] = mono(r->now_count[k], GET(seen->count[k]));
        r->bytes[k] = mono(r->now_bytes[k], GET(seen->bytes[k]));
        r->live[k] = r->now_live[k] - GET(seen->live[k]);
        any |= r->count[k] || r->bytes[k] || r->live[k];
    }
    return any;
}

void fa__sites_seen(fa__thread_t *t, uint32_t i, const fa__site_take_t *r) {
    fa__site_seen_t *seen = &t->site_seen[i];
    for (int k = 0; k < 3; k++) {
        if (r->now_count[k] > seen->count[k]) PUT(seen->count[k], r->now_count[k]);
        if (r->now_bytes[k] > seen->bytes[k]) PUT(seen->bytes[k], r->now_bytes[k]);
        PUT(seen->live[k], r->now_live[k]);
    }
}

static void release_own_entry(fa_alloc_t *fa, fa__thread_t *t, uint32_t i,
                              void (*tag_fn)(fa_alloc_t *, uint32_t, int64_t)) {
    fa__site_stat_t *e = &t->site_stats[i];
    fa__site_seen_t *seen = &t->site_seen[i];
    int64_t now = (int64_t)(e->frame_bytes - e->frame_released), d = now - seen->live[0];
    if (!d) return;
    ADD(fa->sites->figs[e->fig].live[0], d);
    tag_fn(fa, e->tag, d);
    PUT(seen->live[0], now);
}

void fa__sites_release_own_tag(fa_alloc_t *fa, fa__thread_t *t, uint32_t x,
                               void (*tag_fn)(fa_alloc_t *, uint32_t, int64_t)) {
    for (uint32_t k = t->site_tag_entries[x]; k; k = t->site_stats[k - 1].tag_next)
        release_own_entry(fa, t, k - 1, tag_fn);
}

/* ---- snapshot rows ------------------------------------------------------------ */

void fa__sites_snapshot_begin(fa_alloc_t *fa) {
    pthread_mutex_lock(&fa->sites->snap_lock);
}
void fa__sites_snapshot_end(fa_alloc_t *fa) {
    pthread_mutex_unlock(&fa->sites->snap_lock);
}

void fa__sites_attempt(fa_alloc_t *fa) {
    struct fa__sites *x = fa->sites;
    /* Generation 0 is what zero pages hold: skip it. */
    if (++x->gen == 0) ++x->gen;
}

void fa__sites_pending(fa_alloc_t *fa, const fa__site_take_t *r) {
    struct fa__sites *x = fa->sites;
    scratch_t *s = &x->scratch[r->fig];
    if (s->gen != x->gen) *s = (scratch_t){.gen = x->gen};
    s->count += r->count[0] + r->count[1] + r->count[2];
    s->bytes += r->bytes[0] + r->bytes[1] + r->bytes[2];
    s->live += r->live[0] + r->live[1] + r->live[2];
}

typedef struct figures {
    uint64_t count, bytes, live;
} figures_t;

static figures_t figures_of(const struct fa__sites *x, uint32_t i, uint64_t epoch, uint64_t next) {
    const fa__site_fig_t *g = &x->figs[i];
    figures_t f = {0, 0, 0};
    int64_t live = GET(g->live[0]) + GET(g->live[1]) + GET(g->live[2]);
    for (int p = 0; p < 2; p++) {
        uint64_t ee = GET(g->ep[p].epoch);
        if (ee != epoch && ee != next) continue;
        f.count += GET(g->ep[p].count);
        f.bytes += GET(g->ep[p].bytes);
    }
    const scratch_t *s = &x->scratch[i];
    if (s->gen == x->gen) {
        f.count += s->count;
        f.bytes += s->bytes;
        live += s->live;
    }
    f.live = live > 0 ? (uint64_t)live : 0;
    return f;
}

/* ---- ranking: any thread, no context ------------------------------------------ */

/* The order of rows: by the larger of bytes and live bytes, then the row
 * that comes first (the figure made first). */
static uint64_t rank_of(const fa_site_row_t *r) {
    return r->bytes > r->live_bytes ? r->bytes : r->live_bytes;
}

static bool below(const fa_site_row_t *raw, uint64_t a, uint64_t b) {
    uint64_t ra = rank_of(&raw[a]), rb = rank_of(&raw[b]);
    return ra != rb ? ra < rb : a > b;
}

/* Min-heap of row indexes. */
static void sift_down(const fa_site_row_t *raw, uint64_t *h, uint32_t n, uint32_t i) {
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        if (l >= n) return;
        if (below(raw, h[l], h[m])) m = l;
        if (l + 1 < n && below(raw, h[l + 1], h[m])) m = l + 1;
        if (m == i) return;
        uint64_t tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* Whether row i of a ranking whose smallest shown row is `threshold`
 * (UINT32_MAX: none shown) has no row of its own: an overflow row, or a
 * real one below the smallest shown (the order is total: that is exactly
 * the rest). */
static bool unshown(const fa_site_row_t *raw, uint32_t i, uint32_t threshold) {
    return !raw[i].site_id || threshold == UINT32_MAX || below(raw, i, threshold);
}

/* The rows of n raw (site, tag) pairs whose tag ids are below ntags: the
 * largest real sites, largest first, then one FA_SITE_OTHER row per tag for
 * what has no row of its own, by tag; at most cap rows. Everything fits:
 * every real site gets a row, the overflow rows are the "other" rows;
 * otherwise the largest K, leaving room for one "other" row per tag.
 * work: n + ntags entries (a heap of K, then the rest grouped by tag with
 * a counting sort over ntags buckets). O(n log K + ntags). Returns whether
 * the "other" rows all fit. */
static bool rank_rows(const fa_site_row_t *raw, uint32_t n, uint32_t ntags, fa_site_row_t *out, uint32_t cap,
                      uint64_t *work, uint32_t *count) {
    uint64_t *bucket = work + n;
    uint32_t real = 0;
    for (uint32_t i = 0; i < n; i++)
        real += raw[i].site_id != 0;
    uint32_t k = real;
    if (n > cap) {
        memset(bucket, 0, (size_t)ntags * sizeof *bucket);
        uint32_t tags = 0;
        for (uint32_t i = 0; i < n; i++) {
            tags += !bucket[raw[i].tag_id];
            bucket[raw[i].tag_id] = 1;
        }
        k = cap > tags ? cap - tags : 0;
        if (k > real) k = real;
    }
    /* The K largest real sites (heap of the smallest on top). */
    uint32_t h = 0;
    for (uint32_t i = 0; i < n && k; i++) {
        if (!raw[i].site_id) continue;
        if (h < k) {
            work[h++] = i;
            if (h == k)
                for (uint32_t j = k / 2; j-- > 0;)
                    sift_down(raw, work, k, j);
        } else if (below(raw, work[0], i)) {
            work[0] = i;
            sift_down(raw, work, k, 0);
        }
    }
    if (h < k)
        for (uint32_t j = h / 2; j-- > 0;)
            sift_down(raw, work, h, j);
    uint32_t threshold = h ? (uint32_t)work[0] : UINT32_MAX;
    for (uint32_t r = h; r-- > 0;) {
        uint64_t i = work[0];
        work[0] = work[r];
        sift_down(raw, work, r, 0);
        out[r] = raw[i];
        out[r].site = fa_site_get(raw[i].site_id);
    }
    /* The rest of each tag: the rows without a row of their own, grouped
     * by tag (counting sort), then one row per group. */
    memset(bucket, 0, (size_t)ntags * sizeof *bucket);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++)
        if (unshown(raw, i, threshold)) bucket[raw[i].tag_id]++, m++;
    for (uint64_t t = 0, at = 0; t < ntags; t++) {
        uint64_t c = bucket[t];
        bucket[t] = at;
        at += c;
    }
    for (uint32_t i = 0; i < n; i++)
        if (unshown(raw, i, threshold)) work[bucket[raw[i].tag_id]++] = i;
    uint32_t rows = h, groups = 0;
    for (uint32_t j = 0; j < m; groups++) {
        uint16_t tag = raw[work[j]].tag_id;
        fa_site_row_t o = {.site_id = FA_SITE_OTHER, .tag_id = tag};
        for (; j < m && raw[work[j]].tag_id == tag; j++) {
            const fa_site_row_t *r = &raw[work[j]];
            o.bytes += r->bytes;
            o.count += r->count;
            o.live_bytes += r->live_bytes;
        }
        if (rows < cap) out[rows++] = o;
    }
    *count = rows;
    return rows == h + groups;
}

int fa__sites_rank_check(const fa_snapshot_t *snap, const fa_site_row_t *rows, const uint64_t *work,
                         size_t work_count) {
    uint32_t n = snap->site_count, ntags = snap->tag_count;
    if (!snap->sites_unranked || !n) return FA_OK;
    if (!snap->sites || !rows || !work || !snap->site_rows_max || work_count < (size_t)n + ntags)
        return FA_ERR_INVALID_ARG;
    for (uint32_t i = 0; i < n; i++)
        if (snap->sites[i].tag_id >= ntags) return FA_ERR_INVALID_ARG;
    return FA_OK;
}

int fa__sites_rank(fa_snapshot_t *snap, fa_site_row_t *rows, uint64_t *work) {
    if (!snap->sites_unranked) return FA_OK;
    uint32_t count = 0;
    bool complete =
        rank_rows(snap->sites, snap->site_count, snap->tag_count, rows, snap->site_rows_max, work, &count);
    snap->sites = rows;
    snap->sites_capacity = snap->site_rows_max;
    snap->site_count = count;
    snap->sites_unranked = 0;
    return complete ? FA_OK : FA_ERR_TRUNCATED;
}

bool fa__sites_rows(fa_alloc_t *fa, fa_snapshot_t *snap, uint64_t epoch, uint64_t next) {
    struct fa__sites *x = fa->sites;
    uint32_t n = GET(x->count);
    uint32_t max = 0;
    if (snap->defer)
        max = snap->site_rows_max && snap->site_rows_max < snap->sites_capacity ? snap->site_rows_max
                                                                                : snap->sites_capacity;
    /* Deferred: the active pairs go straight into the caller's rows while
     * they fit; the first that does not moves them here. */
    fa_site_row_t *out = max ? snap->sites : x->raw;
    uint32_t out_cap = max ? snap->sites_capacity : x->cap, active = 0;
    for (uint32_t i = 0; i < n; i++) {
        figures_t f = figures_of(x, i, epoch, next);
        if (!f.count && !f.bytes && !f.live) continue;
        if (active == out_cap) {
            memcpy(x->raw, out, (size_t)active * sizeof *out);
            out = x->raw;
            out_cap = x->cap;
        }
        const fa__site_fig_t *g = &x->figs[i];
        out[active++] = (fa_site_row_t){.site_id = g->site,
                                        .tag_id = (uint16_t)g->tag,
                                        .bytes = f.bytes,
                                        .count = f.count,
                                        .live_bytes = f.live};
    }
    snap->sites_total = active;
    if (out == snap->sites) {
        snap->site_count = active;
        snap->sites_unranked = 1;
        return true;
    }
    snap->sites_unranked = 0;
    return rank_rows(x->raw, active, fa->cfg.max_tags, snap->sites, max ? max : snap->sites_capacity, x->work,
                     &snap->site_count);
}
