/* Internal header of libframealloc: the context, per-thread state, tag
 * registry and pools. Not installed. Functions named fa__<module>_<verb>. */
#ifndef FA_INTERNAL_H
#define FA_INTERNAL_H

#define FA_BUILDING_LIBRARY 1
#include "framealloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>

#define FA__HIDDEN __attribute__((visibility("hidden")))
#define FA__MAX_HOOKS 8

/* Relaxed single-writer counter updates: plain loads and stores on x86-64,
 * but race-free for snapshot readers (and for TSan). */
#define FA__ADD(ctr, n)                                                                            \
    atomic_store_explicit(&(ctr), atomic_load_explicit(&(ctr), memory_order_relaxed) + (n),         \
                          memory_order_relaxed)
#define FA__LOAD(ctr) atomic_load_explicit(&(ctr), memory_order_relaxed)

/* ---- pools ---------------------------------------------------------------- */

#define FA__NCLASS 28
#define FA__SLAB_SIZE ((size_t)64 * 1024)
#define FA__SLAB_MAGIC 0xFA51AB01u

/* A slab: 64 KiB aligned, carved from the context's reserved region. The
 * header is followed by one tag id per block, then the blocks. */
typedef struct fa__slab {
    uint32_t magic;
    uint16_t class_index;
    uint16_t reserved;
    uint32_t block_size;
    uint32_t block_count;
    uint32_t first_offset; /* of block 0 from the slab start */
    uint32_t reciprocal;   /* ceil(2^32 / block_size): offset -> index */
    uint64_t context_id;
    uint16_t tags[]; /* tag of each block while allocated */
} fa__slab_t;

/* Shared free blocks of one class. Blocks link through their first word.
 * Full batches (batch[c] blocks each) are kept pre-linked: the head block's
 * second word links the batches, so a refill or a return moves a whole
 * batch in O(1) under the lock. Partial lists (a thread's cache when it
 * exits) go to the loose list. */
typedef struct fa__depot {
    pthread_mutex_t lock;
    void *batches;       /* full batches, linked through word 1 of their heads */
    void *loose_head;    /* other free blocks, linked through word 0 */
    fa__slab_t *carve_slab; /* slab being carved, blocks [carve_next, count) */
    uint32_t carve_next;
    char pad[64];
} fa__depot_t;

typedef struct fa__cache {
    void *head;
    uint32_t count;
} fa__cache_t;

typedef struct fa__pool {
    char *base;                  /* start of the reserved region, slab-aligned */
    size_t reserved;             /* bytes reserved */
    void *mapping;               /* what mmap returned (for munmap) */
    size_t mapping_size;
    _Atomic size_t slabs_used;   /* bytes handed out as slabs from base */
    uint16_t class_size[FA__NCLASS];
    uint16_t batch[FA__NCLASS];  /* refill/return batch per class */
    uint16_t cache_max[FA__NCLASS]; /* blocks a thread keeps before returning a batch */
    uint8_t class_of[257];       /* (size + 15) / 16 -> class */
    fa__depot_t depot[FA__NCLASS];
} fa__pool_t;

/* ---- heap ---------------------------------------------------------------- */

#define FA__HEAP_MAGIC 0xFA4EA901u
#define FA__HEAP_FREED 0xFA4EAFEEu

/* Sits right before every heap block. 32 bytes keep 16-byte alignment. */
typedef struct fa__heap_hdr {
    uint64_t context_id;
    void *raw; /* what malloc returned */
    uint64_t size;
    uint16_t tag;
    uint16_t flags;
    uint32_t magic;
} fa__heap_hdr_t;

/* ---- tags ---------------------------------------------------------------- */

typedef struct fa__tag {
    const char *path;  /* full path, owned by the registry */
    const char *name;  /* last component, points into path */
    uint32_t name_len;
    uint16_t parent;
    uint16_t depth;
    /* Budget: written under the registry lock, read by allocating threads. */
    _Atomic uint64_t soft;
    _Atomic uint64_t hard;
    _Atomic int policy;
    _Atomic int64_t usage;        /* bytes charged to this tag + children */
    _Atomic uint64_t fired[3];    /* frame + 1 of the last WARNING/SOFT/EXCEEDED */
    _Atomic uint64_t peak;        /* highest live bytes at frame ends */
} fa__tag_t;

typedef struct fa__tags {
    pthread_mutex_t lock;       /* creation and budget changes */
    fa__tag_t *entries;         /* max_tags entries; published by count */
    _Atomic uint32_t count;
    _Atomic uint8_t *slow;      /* per tag: a budget applies (self or parent) */
    _Atomic uint32_t *slots;    /* hash: (parent, name) -> id + 1; 0 = empty */
    uint32_t slot_mask;
} fa__tags_t;

/* ---- threads ------------------------------------------------------------- */

typedef struct fa__chunk {
    struct fa__chunk *next;
    size_t size;    /* bytes of data */
    uint32_t index; /* 0 for the first chunk */
    char *data;
} fa__chunk_t;

typedef struct fa__thread {
    fa__fast_t fast; /* MUST be first: fa__tls.fast points here */
    fa_alloc_t *fa;
    struct fa__thread *next;
    uint32_t index;
    /* Frame arena. */
    fa__chunk_t *first;
    fa__chunk_t *current;
    size_t used_before;          /* bytes used in chunks before current */
    uint64_t frame_serial;       /* frames begun on this thread */
    bool in_frame;
    bool warned_outside;
    _Atomic uint64_t frames_ended;
    _Atomic uint64_t capacity;   /* sum of chunk sizes */
    _Atomic uint32_t overflow;   /* index of the current chunk */
    _Atomic bool in_frame_pub;   /* in_frame for snapshot readers */
    /* Tags. */
    uint16_t tag_stack[FA_TAG_STACK_MAX];
    uint32_t tag_depth;
    /* Pools. */
    fa__cache_t cache[FA__NCLASS];
    /* Counters, one per tag id (max_tags). */
    fa__tag_counters_t *counters;
    /* Retention marks of the current frame (max_retained each). */
    fa_promotion_t *retain;
    uint32_t *retain_frames;
    uint32_t retain_count;
    fa_promotion_tag_summary_t *retain_summary;
    uint32_t retain_summary_count;
    fa_promotion_totals_t retain_totals;
    struct fa__kept *kept; /* FA_RETAIN_FRAMES copies, newest first */
    /* Per-thread frame budget. */
    fa_budget_desc_t budget;
    uint64_t budget_fired[3]; /* frame serial + 1 of the last events */
    /* Behaviour filter state (allocated when the filter is first on). */
    struct fa__bh_thread *bh;
    bool overflowed; /* the arena overflowed in this frame */
} fa__thread_t;

/* A FA_RETAIN_FRAMES copy: a heap block with this header in front. */
typedef struct fa__kept {
    struct fa__kept *next;
    uint32_t frames_left;
    uint32_t pad;
} fa__kept_t;

/* ---- the context ----------------------------------------------------------- */

struct fa_alloc_s {
    uint64_t id; /* MUST be first: see fa__context_id() */
    fa_config_t cfg;
    pthread_key_t key;
    pthread_mutex_t threads_lock; /* thread list, retired counters */
    fa__thread_t *threads;
    uint32_t thread_seq;
    _Atomic(fa__thread_t *) main;
    fa__tag_counters_t *retired;  /* counters of threads that exited */
    _Atomic uint64_t frame_number;
    _Atomic uint64_t frame_start_ns;
    _Atomic uint64_t kind_peak[FA_KIND_COUNT_];
    /* Cumulative counts at the last main frame end, per tag and kind, so
     * snapshots report "this frame" as a difference (main thread only). */
    uint64_t (*base_count)[3];
    uint64_t (*base_frees)[2];
    uint64_t (*base_bytes)[2];
    /* The frame-end aggregation (main thread only): rows, totals, and the
     * cumulative counts they came from. While the frame-end hooks run,
     * scratch_valid lets a snapshot on the main thread copy them instead
     * of summing every thread's counters again. */
    fa_tag_row_t *scratch;
    fa_kind_totals_t scratch_totals[FA_KIND_COUNT_];
    uint32_t scratch_count;
    bool scratch_valid;
    struct fa__cumulative *cumulative;
    pthread_mutex_t hooks_lock;
    struct {
        fa_frame_hook fn;
        void *user;
    } hooks[FA__MAX_HOOKS];
    uint32_t hook_count;
    fa__tags_t tags;
    fa__pool_t pool;
    /* Retention outcomes: accumulated by threads, published by the main
     * thread at its frame end for snapshots. */
    pthread_mutex_t promo_lock;
    fa_promotion_totals_t promo_acc, promo_last;
    struct fa__transfers *transfers;
    struct fa__behaviour *behaviour;
    struct fa__debug *debug; /* FA_DEBUG only */
};

/* ---- cross-module functions ----------------------------------------------- */

/* error.c: sets the thread's last error and calls the error hook. */
FA__HIDDEN void fa__report(fa_alloc_t *fa, int code, const void *ptr, const char *fmt, ...)
    FA_PRINTF(4, 5);

FA__HIDDEN void fa__set_last_error(int code);

/* context.c: the calling thread's state, registering it on first use.
 * NULL (reported) when it cannot be created. */
FA__HIDDEN fa__thread_t *fa__thread_register(fa_alloc_t *fa);
static inline fa__thread_t *fa__thread_get(fa_alloc_t *fa) {
    if (FA_LIKELY(fa__tls.fa == fa && fa__tls.fa_id == fa->id)) return (fa__thread_t *)fa__tls.fast;
    return fa__thread_register(fa);
}
FA__HIDDEN uint64_t fa__now_ns(void);
/* Recomputes t->fast.slow from the thread's own state. */
FA__HIDDEN void fa__thread_update_slow(fa__thread_t *t);

/* frame.c */
FA__HIDDEN int fa__arena_init(fa__thread_t *t, size_t first_chunk_bytes);
FA__HIDDEN void fa__arena_reset(fa__thread_t *t);
FA__HIDDEN void fa__arena_fini(fa__thread_t *t);

/* pool.c */
FA__HIDDEN int fa__pool_init(fa_alloc_t *fa);
FA__HIDDEN void fa__pool_fini(fa_alloc_t *fa);
/* Gives every block of the thread's caches back to the depots. */
FA__HIDDEN void fa__pool_flush_thread(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN bool fa__pool_owns(const fa_alloc_t *fa, const void *p);

/* heap.c: the checked free shared by fa_heap_free and fa_pool_free (who
 * names the public call in reports). */
FA__HIDDEN void fa__heap_free_checked(fa_alloc_t *fa, void *p, const char *who);

/* pool.c: the pool path without debug wrapping. */
FA__HIDDEN void *fa__pool_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size);
FA__HIDDEN void fa__pool_free_raw(fa_alloc_t *fa, void *p, const char *who);
/* heap.c: the heap path without debug wrapping. */
FA__HIDDEN void *fa__heap_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align);

/* retain.c */
FA__HIDDEN int fa__retain_init(fa_alloc_t *fa, fa__thread_t *t);
/* Frees the marks and any kept copies without accounting (context end). */
FA__HIDDEN void fa__retain_fini(fa__thread_t *t);
/* Releases kept copies with accounting (a thread exits). */
FA__HIDDEN void fa__retain_release_kept(fa_alloc_t *fa, fa__thread_t *t);
/* Processes the thread's marks at its frame end and ages kept copies. */
FA__HIDDEN void fa__retain_end_frame(fa_alloc_t *fa, fa__thread_t *t);

/* transfer.c */
FA__HIDDEN int fa__transfers_init(fa_alloc_t *fa);
FA__HIDDEN void fa__transfers_fini(fa_alloc_t *fa);
FA__HIDDEN fa_transfer_totals_t fa__transfers_totals(fa_alloc_t *fa);

/* behaviour.c: feeding points (cheap no-ops when the filter is off). */
FA__HIDDEN int fa__behaviour_init(fa_alloc_t *fa);
FA__HIDDEN void fa__behaviour_fini(fa_alloc_t *fa);
FA__HIDDEN void fa__behaviour_thread_fini(fa__thread_t *t);
FA__HIDDEN bool fa__behaviour_on(const fa_alloc_t *fa);
FA__HIDDEN void fa__bh_count(fa_alloc_t *fa, uint32_t tag, int code, uint64_t value);
FA__HIDDEN void fa__bh_pool_alloc(fa_alloc_t *fa, fa__thread_t *t, void *p);
FA__HIDDEN void fa__bh_free(fa_alloc_t *fa, fa__thread_t *t, void *p, uint32_t tag, uint64_t size);
FA__HIDDEN void fa__bh_promoted(fa_alloc_t *fa, fa__thread_t *t, void *p);
FA__HIDDEN void fa__bh_thread_begin_frame(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN void fa__bh_thread_end_frame(fa_alloc_t *fa, fa__thread_t *t);
/* Main thread, at frame end: closes the frame's counters, evaluates. */
FA__HIDDEN void fa__bh_main_end_frame(fa_alloc_t *fa);
FA__HIDDEN uint32_t fa__bh_findings(fa_alloc_t *fa, fa_finding_t *out, uint32_t cap);

/* budget.c: the calling thread's frame budget; false when it refuses. */
FA__HIDDEN bool fa__thread_budget_check(fa_alloc_t *fa, fa__thread_t *t, uint64_t size);

/* debug.c (FA_DEBUG): the registry of live pool and heap blocks. */
FA__HIDDEN int fa__debug_init(fa_alloc_t *fa);
FA__HIDDEN void fa__debug_fini(fa_alloc_t *fa); /* reports leaks */
FA__HIDDEN size_t fa__debug_block_size(fa_alloc_t *fa, const void *p);
/* The pool/heap block behind a user pointer (differs in FA_DEBUG, where a
 * header precedes pool blocks). */
FA__HIDDEN void *fa__debug_block_of(fa_alloc_t *fa, void *p);
/* Is p inside some thread's frame arena? (debug diagnostics; takes the
 * threads lock.) Returns the owning thread or NULL. */
FA__HIDDEN fa__thread_t *fa__arena_owner(fa_alloc_t *fa, const void *p);
FA__HIDDEN bool fa__arena_contains(const fa__thread_t *t, const void *p);

/* tags.c */
FA__HIDDEN int fa__tags_init(fa_alloc_t *fa);
FA__HIDDEN void fa__tags_fini(fa_alloc_t *fa);

/* budget.c: charges size bytes to tag and its budgeted ancestors. Returns
 * false when a hard budget refuses it (nothing stays charged then). */
FA__HIDDEN bool fa__budget_charge(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind);
FA__HIDDEN void fa__budget_uncharge(fa_alloc_t *fa, uint32_t tag, uint64_t size);
/* True when a budget applies to tag (its own or a parent's). */
static inline bool fa__budget_applies(const fa_alloc_t *fa, uint32_t tag) {
    return atomic_load_explicit(&fa->tags.slow[tag], memory_order_relaxed) != 0;
}

/* Cumulative counts of one tag over all threads, as summed by fa__aggregate. */
typedef struct fa__cumulative {
    uint64_t count[3];
    uint64_t alloc_bytes[2];
    uint64_t frees[2];
} fa__cumulative_t;

/* snapshot.c: fills rows[0..n) (n = min(tag count, cap)) with self and total
 * usage, and totals per kind; when cumulative is not NULL (max_tags
 * entries) it also receives the cumulative counts. Caller holds no lock.
 * Returns the tag count. */
FA__HIDDEN uint32_t fa__aggregate(fa_alloc_t *fa, fa_tag_row_t *rows, uint32_t cap,
                                  fa_kind_totals_t totals[FA_KIND_COUNT_], fa__cumulative_t *cumulative);
/* Makes cumulative[0..ntags) the start of the next frame's counts (main
 * thread, at frame end). */
FA__HIDDEN void fa__rebase(fa_alloc_t *fa, const fa__cumulative_t *cumulative, uint32_t ntags);

#endif
