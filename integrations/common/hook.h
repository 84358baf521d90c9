/* Shared by the adapters' .c files (never installed): the allocation-hook
 * bodies every adapter needs, on top of lib's explicitly tagged heap calls,
 * and the guard for the process-wide hooks that carry no user pointer.
 *
 * Every block goes through fa_heap_alloc_tagged()/fa_heap_realloc() under a
 * fixed tag id, whatever thread the library calls from: counters, budgets
 * and snapshots see the library's memory under that tag. */
#ifndef FA_INTEGRATIONS_HOOK_H
#define FA_INTEGRATIONS_HOOK_H

#include <framealloc.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__GNUC__)
#define FA__UNUSED __attribute__((unused))
#else
#define FA__UNUSED
#endif

/* calloc: count x size bytes, zeroed; NULL when the product overflows. */
static inline FA__UNUSED void *fa__hook_calloc(fa_alloc_t *fa, int tag, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return NULL;
    void *p = fa_heap_alloc_tagged(fa, tag, total ? total : 1, 0); /* >= 1 byte: see fa__hook_free */
    if (p) memset(p, 0, total);
    return p;
}

/* A library's process-wide hooks: which context and tag they feed, and how
 * many blocks they handed out that are still live (so that uninstalling
 * while the library holds blocks is refused: those blocks would later reach
 * the system free()). */
typedef struct fa__hook {
    _Atomic(fa_alloc_t *) fa;
    int tag;
    _Atomic long live_blocks;
} fa__hook_t;

/* Claims h for fa under tag_path (created if needed). FA_ERR_STATE when
 * another install is in force, FA_ERR_INVALID_ARG / tag errors otherwise. */
static inline FA__UNUSED int fa__hook_claim(fa__hook_t *h, fa_alloc_t *fa, const char *tag_path) {
    if (!fa || !tag_path || !*tag_path) return FA_ERR_INVALID_ARG;
    int tag = fa_tag_find(fa, tag_path, true);
    if (tag < 0) return tag;
    fa_alloc_t *none = NULL;
    if (!atomic_compare_exchange_strong(&h->fa, &none, fa)) return FA_ERR_STATE;
    h->tag = tag;
    atomic_store(&h->live_blocks, 0);
    return FA_OK;
}

/* Releases h when no block is live (FA_ERR_STATE otherwise, h kept). */
static inline FA__UNUSED int fa__hook_release(fa__hook_t *h) {
    if (!atomic_load(&h->fa)) return FA_ERR_STATE;
    if (atomic_load(&h->live_blocks) != 0) return FA_ERR_STATE;
    atomic_store(&h->fa, NULL);
    return FA_OK;
}

/* Blocks are at least 1 byte: fa_block_size() tells them from foreign ones. */
static inline FA__UNUSED void *fa__hook_alloc(fa__hook_t *h, size_t size) {
    void *p = fa_heap_alloc_tagged(atomic_load_explicit(&h->fa, memory_order_relaxed), h->tag, size ? size : 1, 0);
    if (p) atomic_fetch_add_explicit(&h->live_blocks, 1, memory_order_relaxed);
    return p;
}

static inline FA__UNUSED void *fa__hook_zalloc(fa__hook_t *h, size_t count, size_t size) {
    void *p = fa__hook_calloc(atomic_load_explicit(&h->fa, memory_order_relaxed), h->tag, count, size);
    if (p) atomic_fetch_add_explicit(&h->live_blocks, 1, memory_order_relaxed);
    return p;
}

static inline FA__UNUSED void *fa__hook_realloc(fa__hook_t *h, void *p, size_t size) {
    void *q = fa_heap_realloc(atomic_load_explicit(&h->fa, memory_order_relaxed), p, size, h->tag);
    if (q && !p) atomic_fetch_add_explicit(&h->live_blocks, 1, memory_order_relaxed);
    return q;
}

/* Only a block of fa counts down: a pointer the library got elsewhere (from
 * its allocator before the install) is reported by fa_heap_free and left
 * alone, and MUST NOT let an uninstall pass while blocks of fa are live (they
 * would reach the system free()). One registry lookup more per free. */
static inline FA__UNUSED void fa__hook_free(fa__hook_t *h, void *p) {
    if (!p) return;
    fa_alloc_t *fa = atomic_load_explicit(&h->fa, memory_order_relaxed);
    if (fa_block_size(fa, p) != 0) atomic_fetch_sub_explicit(&h->live_blocks, 1, memory_order_relaxed);
    fa_heap_free(fa, p);
}

#endif
