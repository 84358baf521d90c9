/* Helpers for the integration tests: a tag's figures from a snapshot. */
#ifndef FA_INTEG_TEST_H
#define FA_INTEG_TEST_H

#include "capture.h"

/* The tag's row (self figures) in a fresh snapshot; zeros when absent. */
static inline fa_tag_row_t tag_row(fa_alloc_t *fa, const char *path) {
    static fa_tag_row_t rows[128];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 128};
    fa_snapshot_take(fa, &s);
    const fa_tag_row_t *r = row_of(&s, path);
    return r ? *r : (fa_tag_row_t){0};
}

/* Live heap bytes allocated under the tag itself. */
static inline uint64_t tag_heap(fa_alloc_t *fa, const char *path) {
    return tag_row(fa, path).self.heap_bytes;
}

/* A reference allocator for libraries that publish no figure of their own:
 * malloc with a size header, counting the live bytes asked for. The same
 * workload run once through it and once through the adapter must leave the
 * same bytes live. Single-threaded use only. */
#include <stdlib.h>
static size_t ref_live;
static inline void *ref_malloc(size_t n) {
    size_t *p = malloc(n + 16);
    if (!p) return NULL;
    *p = n;
    ref_live += n;
    return (char *)p + 16;
}
static inline void ref_free(void *q) {
    if (!q) return;
    size_t *p = (size_t *)(void *)((char *)q - 16);
    ref_live -= *p;
    free(p);
}
static inline void *ref_realloc(void *q, size_t n) {
    void *r = ref_malloc(n);
    if (r && q) {
        size_t old = *(size_t *)(void *)((char *)q - 16);
        memcpy(r, q, old < n ? old : n);
        ref_free(q);
    }
    return r;
}
static inline void *ref_calloc(size_t count, size_t size) {
    void *p = ref_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

#endif
