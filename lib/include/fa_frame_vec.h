/*
 * fa_frame_vec.h — growable arrays and small hash maps in frame memory.
 *
 * WHAT IT IS
 *   Two containers for data that dies with the frame: contact lists, query
 *   hits, visible sets, per-frame lookups. Both live in the calling thread's
 *   frame arena (framealloc.h) and are released all at once by that thread's
 *   fa_end_frame(): there is nothing to free.
 *   - fa_frame_vec_t: a growable array. While its storage is the arena's
 *     most recent allocation it grows in place (the bump pointer simply moves
 *     on); otherwise growing takes a new block twice as large and copies, and
 *     the old block stays in the arena until the frame ends.
 *   - fa_frame_map_t: open addressing (linear probing) from a 64-bit key to a
 *     fixed-size value. Growing rehashes into a new block twice as large.
 *
 * QUICK START
 *     #include <fa_frame_vec.h>
 *     fa_begin_frame(fa);
 *     fa_frame_vec_t hits;
 *     FA_FRAME_VEC_INIT(&hits, fa, hit_t);          // no allocation yet
 *     hit_t *h = FA_FRAME_VEC_PUSH(&hits, hit_t);   // NULL on failure
 *     if (h) *h = (hit_t){...};
 *     fa_frame_map_t seen;
 *     FA_FRAME_MAP_INIT(&seen, fa, int, 256);       // room for 256 keys
 *     int *n = FA_FRAME_MAP_PUT(&seen, int, entity_id, NULL);
 *     if (n) ++*n;
 *     fa_end_frame(fa);                             // both are gone
 *
 * THREADS AND LIFETIME
 *   A container belongs to the thread whose arena holds its storage (the
 *   thread that first grew it) and to that thread's current frame. It MUST
 *   NOT be used after that thread's fa_end_frame() (nor after a
 *   fa_frame_rollback() to a mark taken before its storage): re-initialise
 *   it in the next frame. Calls that allocate check this and fail with
 *   FA_ERR_STATE (another frame) or FA_ERR_CROSS_THREAD (another thread);
 *   the inline push below does not check while it stays within the
 *   capacity, except in FA_DEBUG builds where every push checks. Reading
 *   `data` is never checked. Allocations are attributed to the calling
 *   thread's current tag and count against its budgets like any frame
 *   allocation (an in-place growth counts as one allocation of the added
 *   bytes).
 *
 * COSTS
 *   Push within capacity: O(1), inline, no call. Growth: O(1) in place, or
 *   O(len) copy; amortised O(1). Map get/put/remove: O(1) expected; a put
 *   that crosses 3/4 load rehashes, O(count). No container ever calls
 *   malloc; their memory comes only from the frame arena.
 *
 * This header may be included on its own (it includes framealloc.h).
 */
#ifndef FA_FRAME_VEC_H
#define FA_FRAME_VEC_H

#include "framealloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Growable frame vector                                                     */
/* ------------------------------------------------------------------------ */

/* Caller-owned (usually on the stack or in a per-frame struct). Fields are
 * readable; only the functions below may write them. */
typedef struct fa_frame_vec {
    void *data;       /* len elements, `elem_size` bytes apart; NULL until
                         the first growth; frame memory of the owner thread */
    size_t len;       /* elements in use */
    size_t cap;       /* elements that fit before the next growth */
    size_t elem_size; /* element stride: the size given, rounded up to align */
    size_t align;     /* alignment of data */
    fa_alloc_t *fa;
    const void *owner_; /* the owning thread's state (internal) */
    uint64_t epoch_;    /* the owner's frame-reset count at growth (internal) */
    fa_site_t *site_;   /* the call site its growth counts for (internal) */
} fa_frame_vec_t;

/* Prepares an empty vector of elements of elem_size bytes aligned to align
 * (a power of two up to 4096; 0 means the natural alignment of elem_size:
 * its largest power-of-two divisor, at most alignof(max_align_t)). Allocates
 * nothing. FA_OK, FA_ERR_INVALID_ARG (NULL v or fa, elem_size 0),
 * FA_ERR_BAD_ALIGN or FA_ERR_OVERFLOW; v is written only on success. Any
 * thread; O(1). */
FA_API int fa_frame_vec_init(fa_frame_vec_t *v, fa_alloc_t *fa, size_t elem_size, size_t align);
/* The same, with the growth of the vector counted for `site` (NULL: the
 * unknown frame site); the fa_frame_vec_init macro passes the site of the
 * line that initialises the vector. */
FA_API int fa_frame_vec_init_site(fa_frame_vec_t *v, fa_alloc_t *fa, size_t elem_size, size_t align,
                                  fa_site_t *site);

/* Makes room for at least cap elements in total (never shrinks). FA_OK, or
 * FA_ERR_OVERFLOW, FA_ERR_STATE / FA_ERR_CROSS_THREAD (see THREADS), or the
 * frame allocation's error (FA_ERR_NO_MEMORY, FA_ERR_BUDGET under the FAIL
 * policy, FA_ERR_ARENA_LIMIT); the vector is unchanged on error. */
FA_API int fa_frame_vec_reserve(fa_frame_vec_t *v, size_t cap);

/* Appends n uninitialised elements and returns the first, or NULL (vector
 * unchanged; the reason goes to the error hook and fa_last_error()). The
 * pointer is valid until the next growth of the vector (a growth may move
 * the storage). */
FA_API void *fa_frame_vec_push_n(fa_frame_vec_t *v, size_t n);

/* The out-of-line part of fa_frame_vec_push(): checks, grows, appends. */
FA_API void *fa__frame_vec_push_slow(fa_frame_vec_t *v);

/* Appends one uninitialised element and returns it, or NULL. O(1) inline
 * while len < cap. */
static inline void *fa_frame_vec_push(fa_frame_vec_t *v) {
#ifndef FA_DEBUG
    if (FA_LIKELY(v->len < v->cap)) return (char *)v->data + v->len++ * v->elem_size;
#endif
    return fa__frame_vec_push_slow(v);
}

/* Whether the vector's storage belongs to the calling thread's current
 * frame (true for a vector that has not grown yet). Any thread; O(1). */
FA_API bool fa_frame_vec_is_current(const fa_frame_vec_t *v);

/* Forgets the elements and keeps the capacity. */
static inline void fa_frame_vec_clear(fa_frame_vec_t *v) {
    v->len = 0;
}

/* The typed push checks that sizeof(T) is the vector's element stride
 * (FA_ERR_INVALID_ARG and NULL otherwise), then pushes. */
FA_API void *fa__frame_vec_push_checked(fa_frame_vec_t *v, size_t size);
static inline void *fa__frame_vec_push_typed(fa_frame_vec_t *v, size_t size) {
    if (FA_LIKELY(size == v->elem_size)) return fa_frame_vec_push(v);
    return fa__frame_vec_push_checked(v, size);
}

#define FA_FRAME_VEC_INIT(v, fa, T) fa_frame_vec_init((v), (fa), sizeof(T), FA__ALIGNOF(T))
#define FA_FRAME_VEC_PUSH(v, T) ((T *)fa__frame_vec_push_typed((v), sizeof(T)))
#define FA_FRAME_VEC_DATA(v, T) ((T *)(v)->data)
/* Element i (unchecked: i MUST be < len). */
#define FA_FRAME_VEC_AT(v, T, i) (((T *)(v)->data)[i])

/* ------------------------------------------------------------------------ */
/* Frame hash map                                                            */
/* ------------------------------------------------------------------------ */

/* Caller-owned. Keys are any 64-bit values (ids, pointers cast to
 * uintptr_t); values are value_size bytes, zeroed when inserted. */
typedef struct fa_frame_map {
    uint64_t *keys;    /* cap keys */
    uint8_t *used;     /* cap flags: 1 when the slot holds a key */
    char *values;      /* cap values, value_size bytes apart */
    size_t count;      /* keys present */
    size_t cap;        /* slots: 0 or a power of two */
    size_t value_size; /* rounded up to value_align */
    size_t value_align;
    fa_alloc_t *fa;
    const void *owner_;
    uint64_t epoch_;
    fa_site_t *site_; /* the call site its blocks count for (internal) */
} fa_frame_map_t;

/* Prepares a map with room for `expected` keys before its first rehash (0:
 * allocate at the first put). value_align as fa_frame_vec_init's align. Allocates frame memory when expected
 * > 0. FA_OK or a negative fa_err (m written only on success). value_size may be 0 (a set). */
FA_API int fa_frame_map_init(fa_frame_map_t *m, fa_alloc_t *fa, size_t value_size, size_t value_align,
                             size_t expected);
/* The same, with the map's blocks counted for `site` (NULL: unknown). */
FA_API int fa_frame_map_init_site(fa_frame_map_t *m, fa_alloc_t *fa, size_t value_size, size_t value_align,
                                  size_t expected, fa_site_t *site);
/* The value of key, or NULL when absent (or when the map is not current:
 * FA_ERR_STATE / FA_ERR_CROSS_THREAD reported). The pointer is valid until
 * the next put or remove. */
FA_API void *fa_frame_map_get(const fa_frame_map_t *m, uint64_t key);
/* The value of key, inserted (zeroed) when absent; *inserted (may be NULL)
 * says which. NULL on failure (map unchanged). Valid until the next put or
 * remove. */
FA_API void *fa_frame_map_put(fa_frame_map_t *m, uint64_t key, bool *inserted);
/* Removes key; returns whether it was present. Never allocates. */
FA_API bool fa_frame_map_remove(fa_frame_map_t *m, uint64_t key);
/* Iteration: start with *cursor = 0; each call returns true with the next
 * key (and its value when value is not NULL), false at the end. Order is
 * unspecified; the map MUST NOT be changed during an iteration. */
FA_API bool fa_frame_map_next(const fa_frame_map_t *m, size_t *cursor, uint64_t *key, void **value);

/* The typed calls check that sizeof(T) is the map's value size
 * (FA_ERR_INVALID_ARG and NULL otherwise). */
FA_API void *fa__frame_map_get_typed(const fa_frame_map_t *m, uint64_t key, size_t size);
FA_API void *fa__frame_map_put_typed(fa_frame_map_t *m, uint64_t key, bool *inserted, size_t size);
#define FA_FRAME_MAP_INIT(m, fa, T, expected)                                                                \
    fa_frame_map_init((m), (fa), sizeof(T), FA__ALIGNOF(T), (expected))
#define FA_FRAME_MAP_GET(m, T, key) ((T *)fa__frame_map_get_typed((m), (key), sizeof(T)))
#define FA_FRAME_MAP_PUT(m, T, key, inserted)                                                                \
    ((T *)fa__frame_map_put_typed((m), (key), (inserted), sizeof(T)))

/* The containers' memory is counted for the line that initialises them
 * (see CALL SITES in framealloc.h). */
#if defined(FA__SITE_MACROS)
#define fa_frame_vec_init(v, fa, elem_size, align)                                                           \
    fa_frame_vec_init_site((v), (fa), (elem_size), (align), FA__SITE(FA_KIND_FRAME))
#define fa_frame_map_init(m, fa, value_size, value_align, expected)                                          \
    fa_frame_map_init_site((m), (fa), (value_size), (value_align), (expected), FA__SITE(FA_KIND_FRAME))
#endif

#ifdef __cplusplus
}
#endif
#endif /* FA_FRAME_VEC_H */
