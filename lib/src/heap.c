/* The heap path: malloc with a 32-byte header in front of the block that
 * records the owner context, size, tag and the raw pointer (for alignment). */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void *fa__heap_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align) {
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
    if (__builtin_add_overflow(size, sizeof(fa__heap_hdr_t) + slack, &total)) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "heap alloc: size %zu overflows", size);
        return NULL;
    }
    uint32_t tag = t->fast.tag;
#ifndef FA_MINIMAL
    if (fa__budget_applies(fa, tag) && !fa__budget_charge(fa, tag, size, FA_KIND_HEAP)) return NULL;
#endif
    char *raw = malloc(total);
    if (!raw) {
#ifndef FA_MINIMAL
        if (fa__budget_applies(fa, tag)) fa__budget_uncharge(fa, tag, size);
#endif
        fa__report(fa, FA_ERR_NO_MEMORY, NULL, "heap alloc of %zu bytes failed", size);
        return NULL;
    }
    uintptr_t user = ((uintptr_t)raw + sizeof(fa__heap_hdr_t) + align - 1) & ~(uintptr_t)(align - 1);
    fa__heap_hdr_t *h = (fa__heap_hdr_t *)user - 1;
    *h = (fa__heap_hdr_t){.context_id = fa->id, .raw = raw, .size = size, .tag = (uint16_t)tag,
                          .flags = (uint16_t)__builtin_ctzll(align), .magic = FA__HEAP_MAGIC};
#ifndef FA_MINIMAL
    fa__tag_counters_t *c = &t->counters[tag];
    FA__ADD(c->live[1], (int64_t)size);
    FA__ADD(c->alloc_bytes[1], size);
    FA__ADD(c->count[FA_KIND_HEAP], 1);
    if (FA_UNLIKELY(t->bh != NULL) && t->in_frame) fa__bh_count(fa, tag, FA_FIND_HEAP_IN_HOT_PATH, size);
#endif
    return (void *)user;
}

void *fa_heap_alloc(fa_alloc_t *fa, size_t size, size_t align) {
#ifdef FA_DEBUG
    return fa_heap_alloc_at(fa, size, align, NULL, 0);
#else
    fa__thread_t *t = fa__thread_get(fa);
    return t ? fa__heap_alloc_raw(fa, t, size, align) : NULL;
#endif
}

void fa__heap_free_checked(fa_alloc_t *fa, void *p, const char *who) {
    fa__heap_hdr_t *h = (fa__heap_hdr_t *)p - 1;
    if (h->magic != FA__HEAP_MAGIC || h->context_id != fa->id) {
        int code = h->magic == FA__HEAP_FREED && h->context_id == fa->id ? FA_ERR_DOUBLE_FREE
                                                                          : FA_ERR_FOREIGN_PTR;
        fa__report(fa, code, p, "%s: %p %s", who, p,
                   code == FA_ERR_DOUBLE_FREE ? "was already freed" : "is not a block of this allocator");
        return;
    }
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
#ifndef FA_MINIMAL
    fa__tag_counters_t *c = &t->counters[h->tag];
    FA__ADD(c->live[1], -(int64_t)h->size);
    FA__ADD(c->frees[1], 1);
    if (fa__budget_applies(fa, h->tag)) fa__budget_uncharge(fa, h->tag, h->size);
    if (FA_UNLIKELY(t->bh != NULL)) fa__bh_free(fa, t, p, h->tag, h->size);
#endif
    h->magic = FA__HEAP_FREED;
    free(h->raw);
}

void fa_heap_free(fa_alloc_t *fa, void *p) {
#ifdef FA_DEBUG
    fa_heap_free_at(fa, p, NULL, 0);
    return;
#endif
    if (!p) return;
    if (fa__pool_owns(fa, p)) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_heap_free: %p is a pool block (use fa_pool_free)", p);
        return;
    }
    fa__heap_free_checked(fa, p, "fa_heap_free");
}

/* The explicitly tagged calls run the ordinary heap path with the thread's
 * current tag switched to tag_id for the call: every counter, budget and
 * debug record then names tag_id, and the thread's stack is untouched. */
void *fa_heap_alloc_tagged(fa_alloc_t *fa, int tag_id, size_t size, size_t align) {
    if (!fa) return NULL;
    if (tag_id < 0 || (uint32_t)tag_id >= fa_tag_count(fa)) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_heap_alloc_tagged: no tag with id %d", tag_id);
        return NULL;
    }
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    uint32_t saved = t->fast.tag;
    t->fast.tag = (uint32_t)tag_id;
    void *p = fa_heap_alloc(fa, size, align);
    t->fast.tag = saved;
    return p;
}

void *fa_heap_realloc(fa_alloc_t *fa, void *p, size_t size, int tag_id) {
    if (!p) return fa_heap_alloc_tagged(fa, tag_id, size, 0);
    if (!fa) return NULL;
    const fa__heap_hdr_t *h = (const fa__heap_hdr_t *)p - 1;
    if (fa__pool_owns(fa, p) || h->magic != FA__HEAP_MAGIC || h->context_id != fa->id) {
        fa__report(fa, FA_ERR_FOREIGN_PTR, p, "fa_heap_realloc: %p is not a live heap block of this allocator", p);
        return NULL;
    }
    size_t old_size = fa_block_size(fa, p); /* without FA_DEBUG's guard bytes */
    void *q = fa_heap_alloc_tagged(fa, tag_id, size, (size_t)1 << h->flags);
    if (!q) return NULL;
    memcpy(q, p, old_size < size ? old_size : size);
    fa_heap_free(fa, p);
    return q;
}
