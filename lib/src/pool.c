/* Pools: 28 size classes from 16 B to 4 KiB. Blocks live in 64 KiB slabs
 * carved from one address range reserved at create, so a pointer's slab is
 * found by masking and "is this ours?" is a range check. Each thread keeps a
 * free list per class (up to cache_max blocks, about 32 KiB); misses refill
 * a whole pre-linked batch from the class depot under its lock in O(1), and
 * an overfull list returns one. A block freed by another thread simply
 * joins that thread's list: it is back in the pool, not leaked, and may
 * later be handed to any thread.
 *
 * Slabs are not tied to a class for ever. When the reserve is used up (or
 * fa_pool_trim is called), a scan of each class depot counts the free
 * blocks of every slab; a slab whose blocks are all there is taken out of
 * the depot and put on the empty list, from which any class takes a slab
 * before carving a new one. Empty slabs beyond the first
 * FA__EMPTY_SLABS_KEPT go back to the OS (madvise, all but the header
 * page). */
#include "internal.h"

#include <string.h>
#include <sys/mman.h>

/* The size classes and the size -> class table are in framealloc.h
 * (fa__class_size, fa__class_of): the inline path reads them. */
#define class_sizes fa__class_size

int fa__pool_init(fa_alloc_t *fa) {
    fa__pool_t *pool = &fa->pool;
    /* pool_reserve_bytes is at most 64 TiB (fa_create checks): no overflow. */
    size_t reserve = (fa->cfg.pool_reserve_bytes + FA__SLAB_SIZE - 1) & ~(FA__SLAB_SIZE - 1);
    /* PROT_NONE reserves address space without committing memory; slabs are
     * made writable one at a time as they are carved. */
    size_t map_size = reserve + FA__SLAB_SIZE;
    void *m = mmap(NULL, map_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return FA_ERR_NO_MEMORY;
    pool->mapping = m;
    pool->mapping_size = map_size;
    pool->base = (char *)(((uintptr_t)m + FA__SLAB_SIZE - 1) & ~(uintptr_t)(FA__SLAB_SIZE - 1));
    pool->reserved = reserve;
    /* Free-list links keep a pointer in 48 bits (framealloc.h). */
    if (((uintptr_t)m + map_size - 1) >> FA__LINK_SHIFT) {
        munmap(m, map_size);
        return FA_ERR_NO_MEMORY;
    }
    fa->head.pool_base = (uintptr_t)pool->base;
    FA__STORE(fa->head.pool_used, 0);
    for (int c = 0; c < FA__NCLASS; c++) {
        pool->class_size[c] = class_sizes[c];
        /* Refill about 4 KiB worth of blocks at a time: 4 to 64 blocks. */
        uint32_t b = 4096u / class_sizes[c];
        pool->batch[c] = (uint16_t)(b < 4 ? 4 : b > 64 ? 64 : b);
        /* A thread keeps about 32 KiB per class (at least 2 batches), so a
         * steady alloc/free mix stays in its cache and off the depot lock. */
        uint32_t keep = 32768u / class_sizes[c];
        pool->cache_max[c] = (uint16_t)(keep < 2u * pool->batch[c] ? 2u * pool->batch[c] : keep);
        pthread_mutex_init(&pool->depot[c].lock, NULL);
    }
    pthread_mutex_init(&pool->empty_lock, NULL);
    pthread_mutex_init(&pool->reclaim_lock, NULL);
    return FA_OK;
}

void fa__pool_fini(fa_alloc_t *fa) {
    for (int c = 0; c < FA__NCLASS; c++) pthread_mutex_destroy(&fa->pool.depot[c].lock);
    pthread_mutex_destroy(&fa->pool.empty_lock);
    pthread_mutex_destroy(&fa->pool.reclaim_lock);
    if (fa->pool.mapping) munmap(fa->pool.mapping, fa->pool.mapping_size);
}

bool fa__pool_owns(const fa_alloc_t *fa, const void *p) {
    uintptr_t off = (uintptr_t)p - (uintptr_t)fa->pool.base;
    return off < FA__ACQUIRE(fa->head.pool_used);
}

static fa__slab_t *slab_of(const void *p) {
    return (fa__slab_t *)((uintptr_t)p & ~(uintptr_t)(FA__SLAB_SIZE - 1));
}

/* Index of block p in its slab, or -1 when p is not the start of a block
 * (the same test as the inline fa_pool_free: see fa__slab_t). */
static int64_t block_index(const fa__slab_t *s, const void *p) {
    uint32_t x = (uint32_t)((const char *)p - (const char *)s) - s->first_offset;
    uint32_t idx = (x >> s->shift) * s->odd_inverse;
    if ((x & s->low_mask) != 0 || idx >= s->block_count) return -1;
    return (int64_t)idx;
}

bool fa__pool_is_block(const fa_alloc_t *fa, const void *p) {
    if (!fa__pool_owns(fa, p)) return false;
    const fa__slab_t *s = slab_of(p);
    return s->magic == FA__SLAB_MAGIC && block_index(s, p) >= 0;
}

/* Lays out slab s for class c. */
static void slab_format(fa_alloc_t *fa, fa__slab_t *s, int c) {
    uint32_t bs = fa->pool.class_size[c];
    uint32_t header = (uint32_t)sizeof(fa__slab_t);
    uint32_t count = (uint32_t)((FA__SLAB_SIZE - header) / (bs + sizeof(uint32_t)));
    /* Blocks whose size is a multiple of 64 start on a cache line, so none
     * straddles two. */
    uint32_t align = bs % 64 == 0 ? 64u : 16u;
    uint32_t first = (header + count * (uint32_t)sizeof(uint32_t) + align - 1) & ~(align - 1);
    while (first + count * bs > FA__SLAB_SIZE) {
        count--;
        first = (header + count * (uint32_t)sizeof(uint32_t) + align - 1) & ~(align - 1);
    }
    s->class_index = (uint16_t)c;
    s->decommitted = 0;
    s->block_size = bs;
    s->block_count = count;
    s->first_offset = first;
    s->shift = (uint32_t)__builtin_ctz(bs);
    s->low_mask = (1u << s->shift) - 1;
    /* Newton's iteration: each step doubles the correct low bits (an odd m
     * is its own inverse mod 8). */
    uint32_t m = bs >> s->shift, inv = m;
    for (int i = 0; i < 4; i++) inv *= 2u - m * inv;
    s->odd_inverse = inv;
    s->context_id = fa->head.id;
    s->next_empty = NULL;
    s->scan_round = 0;
    s->magic = FA__SLAB_MAGIC;
}

/* A slab for class c: an empty one if there is one, else a new one carved
 * from the reserve. NULL when the reserve is used up. */
static fa__slab_t *slab_new(fa_alloc_t *fa, int c) {
    fa__pool_t *pool = &fa->pool;
    pthread_mutex_lock(&pool->empty_lock);
    fa__slab_t *s = pool->empty;
    if (s) {
        pool->empty = s->next_empty;
        pool->empty_count--;
        if (!s->decommitted) pool->empty_committed--;
    }
    pthread_mutex_unlock(&pool->empty_lock);
    if (!s) {
        uint64_t off = FA__LOAD(fa->head.pool_used);
        do {
            if (off + FA__SLAB_SIZE > pool->reserved) return NULL;
        } while (!__atomic_compare_exchange_n(&fa->head.pool_used, &off, off + FA__SLAB_SIZE, true,
                                              __ATOMIC_RELEASE, __ATOMIC_RELAXED));
        s = (fa__slab_t *)(pool->base + off);
        if (mprotect(s, FA__SLAB_SIZE, PROT_READ | PROT_WRITE) != 0) return NULL;
    }
    slab_format(fa, s, c);
    return s;
}

#define NEXT_BATCH(b) (((void **)(b))[1])

/* Fills an empty cache of class c with one batch. Takes the depot lock
 * once: O(1) for a pre-linked batch, O(batch) when carving or taking loose
 * blocks. */
static bool cache_refill_locked(fa_alloc_t *fa, fa__pool_cache_t *cache, int c) {
    fa__depot_t *d = &fa->pool.depot[c];
    uint32_t want = fa->pool.batch[c], got = 0;
    if (d->batches) {
        void *b = d->batches;
        d->batches = NEXT_BATCH(b);
        cache->head = b;
        cache->count = want;
        return true;
    }
    while (got < want && d->loose_head) {
        void *b = d->loose_head;
        d->loose_head = fa__link_next(b);
        fa__link_set_next(b, cache->head);
        cache->head = b;
        got++;
    }
    while (got < want) {
        fa__slab_t *s = d->carve_slab;
        if (!s || d->carve_next == s->block_count) {
            s = slab_new(fa, c);
            if (!s) break;
            d->carve_slab = s;
            d->carve_next = 0;
        }
        uint32_t idx = d->carve_next++;
        void *b = (char *)s + s->first_offset + (size_t)idx * s->block_size;
        fa__link_set(b, cache->head, idx);
        cache->head = b;
        got++;
    }
    cache->count += got;
    return got > 0;
}

static size_t reclaim(fa_alloc_t *fa, fa__thread_t *t);

__attribute__((noinline, cold)) static bool cache_refill(fa_alloc_t *fa, fa__thread_t *t, fa__pool_cache_t *cache,
                                                         int c) {
    fa__depot_t *d = &fa->pool.depot[c];
    pthread_mutex_lock(&d->lock);
    bool ok = cache_refill_locked(fa, cache, c);
    pthread_mutex_unlock(&d->lock);
    if (ok) return true;
    /* The reserve is used up: find slabs other classes emptied (no depot
     * lock held: the scan takes them one by one), then try again. */
    reclaim(fa, t);
    pthread_mutex_lock(&d->lock);
    ok = cache_refill_locked(fa, cache, c);
    pthread_mutex_unlock(&d->lock);
    return ok;
}

/* Gives one full batch from the head of the cache back to the depot: the
 * list is cut outside the lock, the batch is pushed in O(1) under it. */
__attribute__((noinline)) static void cache_return_batch(fa_alloc_t *fa, fa__pool_cache_t *cache, int c) {
    uint32_t n = fa->pool.batch[c];
    void *first = cache->head, *last = first;
    for (uint32_t i = 1; i < n; i++) last = fa__link_next(last);
    cache->head = fa__link_next(last);
    cache->count -= n;
    fa__link_set_next(last, NULL);
    fa__depot_t *d = &fa->pool.depot[c];
    pthread_mutex_lock(&d->lock);
    NEXT_BATCH(first) = d->batches;
    d->batches = first;
    pthread_mutex_unlock(&d->lock);
}

/* Gives a whole cache (any length) back to the depot's loose list. */
static void cache_return_all(fa_alloc_t *fa, fa__pool_cache_t *cache, int c) {
    if (!cache->head) return;
    void *first = cache->head, *last = first;
    while (fa__link_next(last)) last = fa__link_next(last);
    fa__depot_t *d = &fa->pool.depot[c];
    pthread_mutex_lock(&d->lock);
    fa__link_set_next(last, d->loose_head);
    d->loose_head = first;
    pthread_mutex_unlock(&d->lock);
    cache->head = NULL;
    cache->count = 0;
}

void fa__pool_flush_thread(fa_alloc_t *fa, fa__thread_t *t) {
    for (int c = 0; c < FA__NCLASS; c++) cache_return_all(fa, &t->fast.pool[c], c);
}

/* ---- reclaiming empty slabs ------------------------------------------------ */

static void empty_push(fa__pool_t *pool, fa__slab_t *s) {
    s->magic = FA__SLAB_EMPTY;
    pthread_mutex_lock(&pool->empty_lock);
    s->next_empty = pool->empty;
    pool->empty = s;
    pool->empty_count++;
    if (!s->decommitted) pool->empty_committed++;
    pthread_mutex_unlock(&pool->empty_lock);
}

static void count_block(void *b, uint32_t round) {
    fa__slab_t *s = slab_of(b);
    if (s->scan_round != round) {
        s->scan_round = round;
        s->scan_free = 0;
    }
    s->scan_free++;
}

static bool slab_is_empty(const fa__slab_t *s, uint32_t round) {
    return s->scan_round == round && s->scan_free == s->block_count;
}

/* Moves the slabs of class c whose blocks are all in its depot to the
 * empty list; rebuilds the depot's lists from the other blocks. Caller
 * holds reclaim_lock. Returns the slabs moved. */
static size_t reclaim_class(fa_alloc_t *fa, int c, uint32_t round) {
    fa__pool_t *pool = &fa->pool;
    fa__depot_t *d = &pool->depot[c];
    pthread_mutex_lock(&d->lock);
    for (void *h = d->batches; h; h = NEXT_BATCH(h))
        for (void *b = h; b; b = fa__link_next(b)) count_block(b, round);
    for (void *b = d->loose_head; b; b = fa__link_next(b)) count_block(b, round);
    fa__slab_t *carve = d->carve_slab;
    if (carve) {
        if (carve->scan_round != round) {
            carve->scan_round = round;
            carve->scan_free = 0;
        }
        carve->scan_free += carve->block_count - d->carve_next;
    }
    /* Rebuild: every block of a slab that is not empty goes back, in full
     * batches first. An empty slab goes to the empty list when its first
     * block is met; its scan_round then moves to round + 1 so that its other
     * blocks are skipped. */
    void *all = NULL;
    size_t moved = 0;
    void *lists[2] = {d->batches, d->loose_head};
    for (int l = 0; l < 2; l++) {
        for (void *h = lists[l], *next_h; h; h = next_h) {
            next_h = l == 0 ? NEXT_BATCH(h) : NULL;
            for (void *b = h, *next; b; b = next) {
                next = fa__link_next(b);
                fa__slab_t *s = slab_of(b);
                if (slab_is_empty(s, round)) {
                    s->scan_round = round + 1;
                    if (s != carve) {
                        empty_push(pool, s);
                        moved++;
                    }
                } else if (s->scan_round != round + 1) {
                    fa__link_set_next(b, all);
                    all = b;
                }
            }
        }
    }
    if (carve && (slab_is_empty(carve, round) || carve->scan_round == round + 1)) {
        d->carve_slab = NULL;
        empty_push(pool, carve);
        moved++;
    }
    uint32_t batch = pool->batch[c], n = 0;
    void *loose = NULL;
    d->batches = NULL;
    for (void *b = all, *next; b; b = next) {
        next = fa__link_next(b);
        fa__link_set_next(b, loose);
        loose = b;
        if (++n == batch) {
            NEXT_BATCH(loose) = d->batches;
            d->batches = loose;
            loose = NULL;
            n = 0;
        }
    }
    d->loose_head = loose;
    pthread_mutex_unlock(&d->lock);
    return moved;
}

/* Empty slabs beyond the first FA__EMPTY_SLABS_KEPT go back to the OS. */
static size_t decommit_extra(fa__pool_t *pool) {
    size_t released = 0;
    pthread_mutex_lock(&pool->empty_lock);
    uint32_t kept = 0;
    for (fa__slab_t *s = pool->empty; s; s = s->next_empty) {
        if (s->decommitted) continue;
        if (++kept <= FA__EMPTY_SLABS_KEPT) continue;
        /* The header page stays: it holds the list link. */
        madvise((char *)s + 4096, FA__SLAB_SIZE - 4096, MADV_DONTNEED);
        s->decommitted = 1;
        pool->empty_committed--;
        released++;
    }
    pthread_mutex_unlock(&pool->empty_lock);
    return released;
}

static size_t reclaim(fa_alloc_t *fa, fa__thread_t *t) {
    fa__pool_t *pool = &fa->pool;
    if (t) fa__pool_flush_thread(fa, t);
    pthread_mutex_lock(&pool->reclaim_lock);
    /* Rounds advance by 2: round + 1 marks a slab already pushed. */
    pool->scan_round += 2;
    for (int c = 0; c < FA__NCLASS; c++) reclaim_class(fa, c, pool->scan_round);
    size_t released = decommit_extra(pool);
    pthread_mutex_unlock(&pool->reclaim_lock);
    return released;
}

size_t fa_pool_trim(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? reclaim(fa, t) : 0;
}

/* ---- allocation and free -------------------------------------------------- */

/* The common case is inline in framealloc.h (fa_pool_alloc_site and
 * fa_pool_free, for programs built with GCC or Clang) and again here for the
 * library's own callers and the exported functions; everything else (heap
 * fallback, refill, budgets, the behaviour filter, other tags' blocks, bad
 * pointers) is out of line, so the common case keeps a small frame. */

void fa__pool_thread_init(fa_alloc_t *fa, fa__thread_t *t) {
    for (int c = 0; c < FA__NCLASS; c++) t->fast.pool[c].max = fa->pool.cache_max[c];
}

/* Records p (taken from cache: the start of a block, whose index its link
 * word holds) as allocated under the current tag at site (NULL: the unknown
 * pool site). */
static inline void note_alloc(fa__thread_t *t, void *p, uint32_t bs, fa_site_t *site) {
    uint32_t tag = t->fast.tag;
    fa__stats_alloc(t, FA__PH_POOL, bs);
#if FA_SITES
    uint32_t site_id = fa__sites_alloc(t, site, FA_KIND_POOL, FA__PH_POOL, bs);
#else
    uint32_t site_id = 0;
    (void)site;
#endif
    /* Written only when it changes: a store would pull the slab's owner line
     * away from the other threads that share it. */
    uint32_t *owner = &FA__SLAB_OWNERS(slab_of(p))[fa__link_index(p)], o = FA__OWNER(tag, site_id);
    if (*owner != o) *owner = o;
}

/* Takes the head block of a non-empty cache. */
static inline void cache_pop(fa__pool_cache_t *cache, void *p) {
    cache->head = fa__link_next(p);
    cache->count--;
}

__attribute__((noinline, cold)) static void *alloc_slow(fa_alloc_t *fa, fa__thread_t *t, size_t size,
                                                        fa_site_t *site) {
    if (size > FA_POOL_MAX_SIZE) return fa__heap_alloc_raw(fa, t, size, 16, site);
    int c = fa__class_of[(size + 15) >> 4];
    fa__pool_cache_t *cache = &t->fast.pool[c];
    if (!cache->head && !cache_refill(fa, t, cache, c)) {
        fa__report(fa, FA_ERR_NO_MEMORY, NULL, "pool reserve of %zu bytes exhausted (class %u B)",
                   fa->pool.reserved, fa->pool.class_size[c]);
        return NULL;
    }
    void *p = cache->head;
#ifndef FA_MINIMAL
    uint32_t bs = fa->pool.class_size[c];
    bool accounted = fa__budget_applies(fa, t->fast.tag);
    if (accounted) {
        fa__budget_read_lock(fa, t);
        if (fa__budget_applies(fa, t->fast.tag) &&
            !fa__budget_charge_resize(fa, t->fast.tag, bs, FA_KIND_POOL, t->resize_tag, t->resize_bytes)) {
            fa__budget_read_unlock(fa);
            return NULL;
        }
    }
    note_alloc(t, p, bs, site);
    if (accounted) fa__budget_read_unlock(fa);
    if (t->bh) fa__bh_pool_alloc(fa, t, p);
#endif
    cache_pop(cache, p);
    return p;
}

/* site: the call site (NULL: the unknown pool site). */
static inline __attribute__((always_inline)) void *pool_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size,
                                                               fa_site_t *site) {
    if (FA_LIKELY(size <= FA_POOL_MAX_SIZE)) {
        int c = fa__class_of[(size + 15) >> 4];
        fa__pool_cache_t *cache = &t->fast.pool[c];
        void *p = cache->head;
#ifndef FA_MINIMAL
        if (FA_LIKELY(p && !fa__tag_slow(fa, t->fast.tag))) {
            note_alloc(t, p, fa__class_size[c], site);
#else
        if (FA_LIKELY(p)) {
#endif
            cache_pop(cache, p);
            return p;
        }
    }
    return alloc_slow(fa, t, size, site);
}

void *fa__pool_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, fa_site_t *site) {
    return pool_alloc(fa, t, size, site);
}

/* A pool block of `owner` freed by thread t: its tag's and its site's
 * figures. */
static inline void pool_free_figures(fa__thread_t *t, uint32_t owner, uint32_t bs) {
    fa__stats_free(t, FA__OWNER_TAG(owner), FA__PH_POOL, bs);
#if FA_SITES
    fa__sites_free(t, FA__OWNER_SITE(owner), FA__OWNER_TAG(owner), FA__PH_POOL, bs);
#endif
}

/* Puts block idx of class c at the head of the thread's cache. */
static inline void cache_push(fa_alloc_t *fa, fa__pool_cache_t *cache, void *p, uint32_t idx, int c) {
    fa__link_set(p, cache->head, idx);
    cache->head = p;
    if (FA_UNLIKELY(++cache->count > cache->max)) cache_return_batch(fa, cache, c);
}

/* A pointer that is not a block of this pool, or a budgeted tag's block, or
 * the behaviour filter is on. */
__attribute__((noinline, cold)) static void free_slow(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *who) {
    if (!fa__pool_owns(fa, p)) {
        fa__heap_free_checked(fa, t, p, who);
        return;
    }
    fa__slab_t *s = slab_of(p);
    int64_t idx = block_index(s, p);
    if (s->magic != FA__SLAB_MAGIC || idx < 0) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "%s: %p is not the start of a pool block", who, p);
        return;
    }
    int c = s->class_index;
    fa__pool_cache_t *cache = &t->fast.pool[c];
    if (p == cache->head) {
        fa__report(fa, FA_ERR_DOUBLE_FREE, p, "%s: %p was already freed", who, p);
        return;
    }
#ifndef FA_MINIMAL
    uint32_t owner = FA__SLAB_OWNERS(s)[idx], tag = FA__OWNER_TAG(owner);
    if (fa__budget_applies(fa, tag)) {
        fa__budget_read_lock(fa, t);
        if (fa__budget_applies(fa, tag)) fa__budget_uncharge(fa, tag, s->block_size);
        pool_free_figures(t, owner, s->block_size);
        fa__budget_read_unlock(fa);
    } else {
        pool_free_figures(t, owner, s->block_size);
    }
    if (t->bh) fa__bh_free(fa, t, p, tag, s->block_size);
#endif
    cache_push(fa, cache, p, (uint32_t)idx, c);
}

static inline __attribute__((always_inline)) void pool_free(fa_alloc_t *fa, fa__thread_t *t, void *p,
                                                             const char *who) {
    fa__slab_t *s = slab_of(p);
    int64_t idx;
    if (FA_LIKELY(fa__pool_owns(fa, p) && s->magic == FA__SLAB_MAGIC && (idx = block_index(s, p)) >= 0)) {
        fa__pool_cache_t *cache = &t->fast.pool[s->class_index];
#ifndef FA_MINIMAL
        uint32_t owner = FA__SLAB_OWNERS(s)[idx];
        if (FA_LIKELY(p != cache->head && !fa__tag_slow(fa, FA__OWNER_TAG(owner)))) {
            pool_free_figures(t, owner, s->block_size);
#else
        if (FA_LIKELY(p != cache->head)) {
#endif
            cache_push(fa, cache, p, (uint32_t)idx, s->class_index);
            return;
        }
    }
    free_slow(fa, t, p, who);
}

void fa__pool_free_raw(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *who) { pool_free(fa, t, p, who); }

void fa__pool_cache_overflow(fa_alloc_t *fa, uint32_t c) {
    fa__thread_t *t = fa__thread_get(fa);
    if (t && c < FA__NCLASS) cache_return_batch(fa, &t->fast.pool[c], (int)c);
}

void *fa__pool_alloc_slow(fa_alloc_t *fa, size_t size, fa_site_t *site) {
    fa__thread_t *t = fa__thread_get(fa);
    if (FA_UNLIKELY(!t)) return NULL;
    fa__op_begin(t);
#ifdef FA_DEBUG
    void *p = fa__debug_pool_alloc(fa, t, size, site ? site->file : NULL, site ? (int)site->line : 0, site);
#else
    void *p = pool_alloc(fa, t, size, site);
#endif
    fa__op_end(t);
    return p;
}

void *fa_pool_alloc_site(fa_alloc_t *fa, size_t size, fa_site_t *site) { return fa__pool_alloc_slow(fa, size, site); }

void *fa_pool_alloc(fa_alloc_t *fa, size_t size) { return fa__pool_alloc_slow(fa, size, NULL); }

void fa__pool_free_slow(fa_alloc_t *fa, void *p) {
#ifdef FA_DEBUG
    fa_pool_free_at(fa, p, NULL, 0);
#else
    if (!p) return;
    fa__thread_t *t = fa__thread_get(fa);
    if (FA_UNLIKELY(!t)) return;
    fa__op_begin(t);
    pool_free(fa, t, p, "fa_pool_free");
    fa__op_end(t);
#endif
}

void fa_pool_free(fa_alloc_t *fa, void *p) { fa__pool_free_slow(fa, p); }

/* As fa_heap_alloc_tagged_site: the pool path with the thread's current tag
 * switched to tag_id for the call. */
void *fa__pool_alloc_tagged_slow(fa_alloc_t *fa, int tag_id, size_t size, fa_site_t *site) {
    uint32_t saved;
    fa__thread_t *t = fa__tag_switch(fa, tag_id, "fa_pool_alloc_tagged", &saved);
    if (!t) return NULL;
    void *p = fa__pool_alloc_slow(fa, size, site);
    fa__tag_restore(t, saved);
    return p;
}

void *fa_pool_alloc_tagged_site(fa_alloc_t *fa, int tag_id, size_t size, fa_site_t *site) {
    return fa__pool_alloc_tagged_slow(fa, tag_id, size, site);
}

void *fa_pool_alloc_tagged(fa_alloc_t *fa, int tag_id, size_t size) {
    return fa__pool_alloc_tagged_slow(fa, tag_id, size, NULL);
}

void *fa_pool_realloc(fa_alloc_t *fa, void *p, size_t size, int tag_id) {
    return fa_pool_realloc_site(fa, p, size, tag_id, NULL);
}

/* A block stays where it is when the new size has the same class and the
 * same tag; a heap block that stays above the classes is fa_heap_realloc's;
 * anything else moves (pool <-> heap, another class or tag), with the old
 * block's bytes deducted by budget checks as fa_heap_realloc does. */
void *fa_pool_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag_id, fa_site_t *site) {
    if (!p) return fa__pool_alloc_tagged_slow(fa, tag_id, size, site);
    if (!fa || !fa__tag_id_valid(fa, tag_id, "fa_pool_realloc")) return NULL;
    size_t old_size;
    uint32_t old_tag;
#ifdef FA_DEBUG
    /* A debug block has a header and guard bytes: it always moves, and
     * budgets see the old block until it is freed. */
    old_size = fa_block_size(fa, p);
    old_tag = 0;
    if (!old_size) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_pool_realloc: %p is not a live block of this allocator", p);
        return NULL;
    }
#else
    if (fa__pool_owns(fa, p)) {
        if (!fa__pool_is_block(fa, p)) {
            fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_pool_realloc: %p is not the start of a pool block", p);
            return NULL;
        }
        fa__slab_t *s = slab_of(p);
        old_size = s->block_size;
#ifdef FA_MINIMAL
        old_tag = (uint32_t)tag_id;
#else
        old_tag = FA__OWNER_TAG(FA__SLAB_OWNERS(s)[block_index(s, p)]);
#endif
        if (size <= FA_POOL_MAX_SIZE && fa__class_of[(size + 15) >> 4] == s->class_index &&
            old_tag == (uint32_t)tag_id)
            return p;
    } else {
        if (size > FA_POOL_MAX_SIZE) return fa_heap_realloc_site(fa, p, size, tag_id, site);
        if (!fa__heap_is_live(fa, p)) {
            fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_pool_realloc: %p is not a live block of this allocator",
                       p);
            return NULL;
        }
        const fa__heap_hdr_t *h = (const fa__heap_hdr_t *)p - 1;
        old_tag = h->tag;
        old_size = h->size;
    }
#endif
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    t->resize_tag = old_tag;
#ifndef FA_DEBUG
    t->resize_bytes = old_size;
#endif
    void *q = size <= FA_POOL_MAX_SIZE ? fa__pool_alloc_tagged_slow(fa, tag_id, size, site)
                                       : fa_heap_alloc_tagged_site(fa, tag_id, size, 16, site);
    t->resize_bytes = 0;
    if (!q) return NULL;
    memcpy(q, p, old_size < size ? old_size : size);
    fa__pool_free_slow(fa, p);
    return q;
}

size_t fa_block_size(fa_alloc_t *fa, const void *p) {
    if (!p) return 0;
#ifdef FA_DEBUG
    return fa__debug_block_size(fa, p);
#endif
    if (fa__pool_owns(fa, p)) return fa__pool_is_block(fa, p) ? slab_of(p)->block_size : 0;
    if (!fa__heap_is_live(fa, p)) return 0;
    return (size_t)((const fa__heap_hdr_t *)p - 1)->size;
}
