/* The heap path: malloc with a 32-byte header in front of the block that
 * records the owner context, size, tag and the raw pointer (for alignment),
 * and a registry of the live blocks, so that a free finds out whether a
 * pointer is a live block of this context without reading anything in
 * front of it. The registry is 16 shards, each an open-addressing hash set
 * of addresses under its own lock; a freed address stays as a tombstone
 * (so that a second free is a double free) until its slot is reused or the
 * shard is rebuilt. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define FREED ((uintptr_t)1)
#define INITIAL_SLOTS 64

static uint64_t hash_ptr(uintptr_t p) {
    uint64_t h = (uint64_t)p >> 4;
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 32;
    return h;
}

static fa__heap_shard_t *shard_of(fa_alloc_t *fa, uintptr_t p) {
    return &fa->heap[hash_ptr(p) >> 60 & (FA__HEAP_SHARDS - 1)];
}

int fa__heap_init(fa_alloc_t *fa) {
    for (int i = 0; i < FA__HEAP_SHARDS; i++) pthread_mutex_init(&fa->heap[i].lock, NULL);
    return FA_OK;
}

void fa__heap_fini(fa_alloc_t *fa) {
    for (int i = 0; i < FA__HEAP_SHARDS; i++) {
        free(fa->heap[i].slots);
        fa->heap[i].slots = NULL;
        pthread_mutex_destroy(&fa->heap[i].lock);
    }
}

/* The slot holding p (live or freed), or the first empty slot of its probe
 * sequence (*found false). Caller holds the shard lock. */
static uintptr_t *probe(fa__heap_shard_t *sh, uintptr_t p, bool *found) {
    size_t mask = sh->cap - 1;
    uintptr_t *reuse = NULL;
    for (size_t i = hash_ptr(p) & mask;; i = (i + 1) & mask) {
        uintptr_t v = sh->slots[i];
        if (v == 0) {
            *found = false;
            return reuse ? reuse : &sh->slots[i];
        }
        if ((v & ~FREED) == p) {
            *found = true;
            return &sh->slots[i];
        }
        if ((v & FREED) && !reuse) reuse = &sh->slots[i];
    }
}

/* Rebuilds the shard with room for twice the live blocks; tombstones go. */
static bool rebuild(fa__heap_shard_t *sh) {
    size_t cap = INITIAL_SLOTS;
    while (cap < sh->live * 4 + 4) cap *= 2;
    uintptr_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    uintptr_t *old = sh->slots;
    size_t old_cap = sh->cap;
    sh->slots = slots;
    sh->cap = cap;
    sh->used = 0;
    for (size_t i = 0; i < old_cap; i++) {
        uintptr_t v = old[i];
        if (v == 0 || (v & FREED)) continue;
        bool found;
        *probe(sh, v, &found) = v;
        sh->used++;
    }
    free(old);
    return true;
}

static bool registry_add(fa_alloc_t *fa, uintptr_t p) {
    fa__heap_shard_t *sh = shard_of(fa, p);
    pthread_mutex_lock(&sh->lock);
    bool ok = true;
    if ((sh->used + 1) * 2 > sh->cap) ok = rebuild(sh);
    if (ok) {
        bool found;
        uintptr_t *slot = probe(sh, p, &found);
        if (*slot == 0) sh->used++;
        *slot = p;
        sh->live++;
    }
    pthread_mutex_unlock(&sh->lock);
    return ok;
}

/* FA_OK when p was live (it is now freed), else FA_ERR_DOUBLE_FREE or
 * FA_ERR_FOREIGN_PTR. */
static int registry_remove(fa_alloc_t *fa, uintptr_t p) {
    fa__heap_shard_t *sh = shard_of(fa, p);
    pthread_mutex_lock(&sh->lock);
    int rc = FA_ERR_FOREIGN_PTR;
    if (sh->cap) {
        bool found;
        uintptr_t *slot = probe(sh, p, &found);
        if (found && !(*slot & FREED)) {
            *slot = p | FREED;
            sh->live--;
            rc = FA_OK;
        } else if (found) {
            rc = FA_ERR_DOUBLE_FREE;
        }
    }
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

bool fa__heap_is_live(fa_alloc_t *fa, const void *p) {
    fa__heap_shard_t *sh = shard_of(fa, (uintptr_t)p);
    pthread_mutex_lock(&sh->lock);
    bool live = false;
    if (sh->cap) {
        bool found;
        uintptr_t v = *probe(sh, (uintptr_t)p, &found);
        live = found && !(v & FREED);
    }
    pthread_mutex_unlock(&sh->lock);
    return live;
}

void fa__heap_release(void *p) { free(((fa__heap_hdr_t *)p - 1)->raw); }

void *fa__heap_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align, fa_site_t *site) {
    (void)site; /* unused without call sites */

    if (align == 0) align = 16;
    if ((align & (align - 1)) != 0 || align > 4096) {
        fa__report(fa, FA_ERR_BAD_ALIGN, NULL, "heap alloc: alignment %zu is not a power of two up to 4096",
                   align);
        return NULL;
    }
    if (align < 16) align = 16;
    size_t total;
    /* malloc's blocks are aligned to 16 already: no slack needed then. */
    size_t slack = align <= _Alignof(max_align_t) ? 0 : align - 1;
    if (__builtin_add_overflow(size, sizeof(fa__heap_hdr_t) + slack, &total) || total > FA__SIZE_MAX) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "heap alloc: size %zu overflows", size);
        return NULL;
    }
    uint32_t tag = t->fast.tag;
    char *raw = malloc(total);
    if (!raw) {
        fa__report(fa, FA_ERR_NO_MEMORY, NULL, "heap alloc of %zu bytes failed", size);
        return NULL;
    }
    uintptr_t user = ((uintptr_t)raw + sizeof(fa__heap_hdr_t) + align - 1) & ~(uintptr_t)(align - 1);
    fa__heap_hdr_t *h = (fa__heap_hdr_t *)user - 1;
    *h = (fa__heap_hdr_t){.context_id = fa->head.id,
                          .raw = raw,
                          .size = size,
                          .tag = (uint16_t)tag,
                          .flags = (uint16_t)__builtin_ctzll(align)};
#ifndef FA_MINIMAL
    bool accounted = fa__budget_applies(fa, tag);
    if (accounted) {
        fa__budget_read_lock(fa, t);
        if (!fa__budget_charge_resize(fa, tag, size, FA_KIND_HEAP, t->resize_tag, t->resize_bytes)) {
            fa__budget_read_unlock(fa);
            free(raw);
            return NULL;
        }
    }
#endif
    if (!registry_add(fa, user)) {
#ifndef FA_MINIMAL
        if (accounted) {
            fa__budget_uncharge(fa, tag, size);
            fa__budget_read_unlock(fa);
        }
#endif
        free(raw);
        fa__report(fa, FA_ERR_NO_MEMORY, NULL, "heap alloc: no memory for the block registry");
        return NULL;
    }
#ifndef FA_MINIMAL
    fa__stats_alloc(t, FA__PH_HEAP, size);
#if FA_SITES
    /* A pool site's large blocks count for it, as heap. */
    h->site = fa__sites_alloc(t, site, FA_KIND_HEAP, FA__PH_HEAP, size);
#else
    (void)site;
#endif
    if (accounted) fa__budget_read_unlock(fa);
    if (FA_UNLIKELY(t->bh != NULL) && t->in_frame) fa__bh_count(fa, tag, FA_FIND_HEAP_IN_HOT_PATH, size);
#endif
    return (void *)user;
}

void *fa_heap_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    fa__op_begin(t);
#ifdef FA_DEBUG
    void *p = fa__debug_heap_alloc(fa, t, size, align, site ? site->file : NULL, site ? (int)site->line : 0, site);
#else
    void *p = fa__heap_alloc_raw(fa, t, size, align, site);
#endif
    fa__op_end(t);
    return p;
}

void *fa_heap_alloc(fa_alloc_t *fa, size_t size, size_t align) { return fa_heap_alloc_site(fa, size, align, NULL); }

#ifndef FA_MINIMAL
static void heap_free_figures(fa__thread_t *t, const fa__heap_hdr_t *h) {
    fa__stats_free(t, h->tag, FA__PH_HEAP, h->size);
#if FA_SITES
    fa__sites_free(t, h->site, h->tag, FA__PH_HEAP, h->size);
#endif
}
#endif

void fa__heap_free_checked(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *who) {
    int rc = registry_remove(fa, (uintptr_t)p);
    if (rc != FA_OK) {
        fa__report(fa, rc, p, "%s: %p %s", who, p,
                   rc == FA_ERR_DOUBLE_FREE ? "was already freed" : "is not a block of this allocator");
        return;
    }
    /* A live block of ours: its header is ours to read. */
    fa__heap_hdr_t *h = (fa__heap_hdr_t *)p - 1;
#ifndef FA_MINIMAL
    if (FA_UNLIKELY(fa__budget_applies(fa, h->tag))) {
        fa__budget_read_lock(fa, t);
        if (fa__budget_applies(fa, h->tag)) fa__budget_uncharge(fa, h->tag, h->size);
        heap_free_figures(t, h);
        fa__budget_read_unlock(fa);
    } else {
        heap_free_figures(t, h);
    }
    if (FA_UNLIKELY(t->bh != NULL)) fa__bh_free(fa, t, p, h->tag, h->size);
#else
    (void)t;
#endif
    free(h->raw);
}

void fa_heap_free(fa_alloc_t *fa, void *p) {
#ifdef FA_DEBUG
    fa_heap_free_at(fa, p, NULL, 0);
#else
    if (!p) return;
    if (fa__pool_owns(fa, p)) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_heap_free: %p is a pool block (use fa_pool_free)", p);
        return;
    }
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    fa__op_begin(t);
    fa__heap_free_checked(fa, t, p, "fa_heap_free");
    fa__op_end(t);
#endif
}

/* The explicitly tagged calls run the ordinary heap path with the thread's
 * current tag switched to tag_id for the call (through the statistics, so
 * the tag is listed for the frame end and snapshots): every counter, budget
 * and debug record then names tag_id, and the thread's stack is untouched. */
void *fa_heap_alloc_tagged_site(fa_alloc_t *fa, int tag_id, size_t size, size_t align, fa_site_t *site) {
    uint32_t saved;
    fa__thread_t *t = fa__tag_switch(fa, tag_id, "fa_heap_alloc_tagged", &saved);
    if (!t) return NULL;
    void *p = fa_heap_alloc_site(fa, size, align, site);
    fa__tag_restore(t, saved);
    return p;
}

void *fa_heap_alloc_tagged(fa_alloc_t *fa, int tag_id, size_t size, size_t align) {
    return fa_heap_alloc_tagged_site(fa, tag_id, size, align, NULL);
}

void *fa_heap_realloc(fa_alloc_t *fa, void *p, size_t size, int tag_id) {
    return fa_heap_realloc_site(fa, p, size, tag_id, NULL);
}

void *fa_heap_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag_id, fa_site_t *site) {
    if (!p) return fa_heap_alloc_tagged_site(fa, tag_id, size, 0, site);
    if (!fa) return NULL;
    /* The registry, not the memory in front of p, says whether p is ours. */
    if (fa__pool_owns(fa, p) || !fa__heap_is_live(fa, p)) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_heap_realloc: %p is not a live heap block of this allocator", p);
        return NULL;
    }
    const fa__heap_hdr_t *h = (const fa__heap_hdr_t *)p - 1;
    size_t old_size = fa_block_size(fa, p); /* without FA_DEBUG's guard bytes */
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    /* A budget sees what the resize leaves in use, not old + new. */
    t->resize_tag = h->tag;
    t->resize_bytes = h->size;
    void *q = fa_heap_alloc_tagged_site(fa, tag_id, size, (size_t)1 << h->flags, site);
    t->resize_bytes = 0;
    if (!q) return NULL;
    memcpy(q, p, old_size < size ? old_size : size);
    fa_heap_free(fa, p);
    return q;
}
