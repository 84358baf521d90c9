/* Internal header of libframealloc: the context, per-thread state and
 * statistics, tag registry, pools, heap registry. Not installed. Functions
 * named fa__<module>_<verb>. */
#ifndef FA_INTERNAL_H
#define FA_INTERNAL_H

#define FA_BUILDING_LIBRARY 1
#include "framealloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#define FA__HIDDEN __attribute__((visibility("hidden")))
#define FA__MAX_HOOKS 8

/* Plain fields shared between threads are accessed with the __atomic
 * builtins, like the inline fast path in the public header. Single-writer
 * counters use a relaxed load and store (plain moves on x86-64), never a
 * locked read-modify-write. */
#define FA__LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FA__STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define FA__ADD(x, n) FA__STORE(x, FA__LOAD(x) + (n))
#define FA__ACQUIRE(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define FA__RELEASE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)
#define FA__COMPILER_BARRIER() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* Sizes above this are refused with FA_ERR_OVERFLOW: no object may be
 * larger (pointer differences would overflow), and budgets count in int64. */
#define FA__SIZE_MAX ((size_t)PTRDIFF_MAX)

/* ---- pools ---------------------------------------------------------------- */

/* FA__NCLASS, FA__SLAB_SIZE, FA__SLAB_MAGIC, fa__slab_t, the owner words
 * and the free-list links: framealloc.h (the inline pool path). */
#define FA__SLAB_EMPTY 0xFA51AB0Eu
#define FA__EMPTY_SLABS_KEPT 16 /* empty slabs kept committed; more go back to the OS */

/* A slab: 64 KiB aligned, carved from the context's reserved region (the
 * header, fa__slab_t, is in framealloc.h). An empty slab (magic
 * FA__SLAB_EMPTY) sits in the pool's empty list until a class takes it and
 * rewrites the header. */
_Static_assert(sizeof(fa__slab_t) == 56, "the owner words follow a 56-byte slab header");
/* A free block's link word: next block and the block's own index. */
static inline void *fa__link_next(const void *b) {
    return (void *)(uintptr_t)(*(const uint64_t *)b & FA__LINK_MASK);
}
static inline uint32_t fa__link_index(const void *b) { return (uint32_t)(*(const uint64_t *)b >> FA__LINK_SHIFT); }
static inline void fa__link_set(void *b, const void *next, uint32_t idx) {
    *(uint64_t *)b = (uint64_t)(uintptr_t)next | (uint64_t)idx << FA__LINK_SHIFT;
}
/* Replaces the next block, keeping b's index. */
static inline void fa__link_set_next(void *b, const void *next) { fa__link_set(b, next, fa__link_index(b)); }

/* Shared free blocks of one class. Blocks link through their first word.
 * Full batches (batch[c] blocks each) are kept pre-linked: the head block's
 * second word links the batches, so a refill or a return moves a whole
 * batch in O(1) under the lock. Partial lists (a thread's cache when it
 * exits) go to the loose list. */
typedef struct fa__depot {
    pthread_mutex_t lock;
    void *batches;          /* full batches, linked through word 1 of their heads */
    void *loose_head;       /* other free blocks, linked through word 0 */
    fa__slab_t *carve_slab; /* slab being carved, blocks [carve_next, count) */
    uint32_t carve_next;
    char pad[64];
} fa__depot_t;

typedef struct fa__pool {
    char *base;              /* start of the reserved region, slab-aligned */
    size_t reserved;         /* bytes reserved */
    void *mapping;           /* what mmap returned (for munmap) */
    size_t mapping_size;
    /* bytes handed out as slabs from base: fa_alloc_s.head.pool_used */
    uint16_t class_size[FA__NCLASS];
    uint16_t batch[FA__NCLASS];     /* refill/return batch per class */
    uint16_t cache_max[FA__NCLASS]; /* blocks a thread keeps before returning a batch */
    fa__depot_t depot[FA__NCLASS];
    /* Empty slabs any class may take; and the reclaim scan (one at a time). */
    pthread_mutex_t empty_lock;
    fa__slab_t *empty;
    uint32_t empty_count, empty_committed;
    pthread_mutex_t reclaim_lock;
    uint32_t scan_round;
} fa__pool_t;

/* ---- heap ---------------------------------------------------------------- */

/* Sits right before every heap block. 32 bytes keep 16-byte alignment. It is
 * read only after the registry said the block is live. */
typedef struct fa__heap_hdr {
    uint64_t context_id;
    void *raw; /* what malloc returned */
    uint64_t size;
    uint16_t tag;
    uint16_t flags;
    uint32_t site; /* the call site's id */
} fa__heap_hdr_t;

#define FA__HEAP_SHARDS 16
/* The registry of live heap blocks: one open-addressing hash set per shard.
 * A freed block leaves a tombstone with its address, so a second free is a
 * double free until the slot is reused or the table rebuilt. */
typedef struct fa__heap_shard {
    pthread_mutex_t lock;
    uintptr_t *slots; /* 0 empty; ptr live; ptr | 1 freed (tombstone) */
    size_t cap, used, live;
    char pad[24];
} fa__heap_shard_t;

/* ---- tags ---------------------------------------------------------------- */

typedef struct fa__tag {
    const char *path;  /* full path, owned by the registry */
    const char *name;  /* last component, points into path */
    uint32_t name_len;
    uint16_t parent;
    uint16_t depth;
    /* Budget: written under the budget lock (write), read by allocating
     * threads (usage: atomics). */
    _Atomic uint64_t soft;
    _Atomic uint64_t hard;
    _Atomic int policy;
    _Atomic int64_t usage;     /* bytes charged to this tag + children */
    _Atomic uint64_t fired[3]; /* frame + 1 of the last WARNING/SOFT/EXCEEDED */
} fa__tag_t;

/* FA__TAG_ACCOUNTED, FA__TAG_FILTERED: framealloc.h. */

typedef struct fa__tags {
    pthread_mutex_t lock;    /* creation */
    fa__tag_t *entries;      /* max_tags entries; published by count */
    _Atomic uint32_t count;
    _Atomic uint8_t *slow;   /* per tag: FA__TAG_ACCOUNTED (a budget on it or a
                                parent), FA__TAG_FILTERED (behaviour filter on) */
    _Atomic uint32_t *slots; /* hash: (parent, name) -> id + 1; 0 = empty */
    uint32_t slot_mask;
} fa__tags_t;

/* ---- per-thread statistics ------------------------------------------------ */

/* Pool and heap figures are indexed [0] pool, [1] heap. */
enum { FA__PH_POOL = 0, FA__PH_HEAP = 1 };

/* What the folding thread last took from one (thread, tag). */
typedef struct fa__seen {
    uint64_t frame_count, frame_bytes, frame_inuse;
    uint64_t count[2], bytes[2], frees[2], free_bytes[2];
} fa__seen_t;

/* One thread's figures for one tag. Counters are cumulative and written by
 * their thread only; the frame figures exclude the current window, which is
 * in fa__fast_t.packed[tag]. Readers take the folded figures first (acquire)
 * and the packed word after: a window fold clears the word before it adds to
 * the figures (release), so a reader may miss a window for an instant but
 * never counts it twice. */
/* One thread's pool or heap figures for one tag (fa__phstat_t, in
 * framealloc.h): everything a pool operation touches is in one cache line.
 * hw is the high-water mark of bytes - free_bytes since the fold last saw
 * the tag (the fold resets it to what it saw). */

typedef struct fa__tstat {
    fa__phstat_t ph[2]; /* pool, heap */
    uint64_t frame_count, frame_bytes; /* frame allocations */
    uint64_t frame_inuse;              /* frame bytes in the open frame */
    /* High-water mark of the frame bytes in use within the context frame
     * frame_hw_epoch (noted at frame ends). */
    uint64_t frame_hw, frame_hw_epoch;
    uint64_t budget_frame; /* frame bytes charged to budgets (budget lock) */
    /* The inline pool free of another tag's block reads listed and writes
     * last_change: one cache line. */
    uint64_t last_change;  /* activity once the last op that changed it ended */
    uint32_t listed;       /* in the thread's dirty list (owner only) */
    uint32_t pad0;
    uint64_t frame_listed; /* frame serial when put in frame_tags (owner) */
    fa__seen_t seen;       /* written by the folding thread (fold_lock) */
    uint64_t pad[2];
} fa__tstat_t;
/* A power of two, so that indexing by tag is a shift on the fast paths. */
_Static_assert(sizeof(fa__tstat_t) == 1u << FA__TSTAT_SHIFT, "fa__tstat_t is 256 bytes");
/* framealloc.h's inline pool free reads and writes these two. */
_Static_assert(offsetof(fa__tstat_t, last_change) == FA__TSTAT_LAST_CHANGE, "FA__TSTAT_LAST_CHANGE");
_Static_assert(offsetof(fa__tstat_t, listed) == FA__TSTAT_LISTED, "FA__TSTAT_LISTED");

/* ---- threads ------------------------------------------------------------- */

typedef struct fa__chunk {
    struct fa__chunk *next;
    size_t size;      /* bytes of data */
    size_t base_used; /* frame used when the arena entered this chunk */
    size_t used_end;  /* bytes of it the frame used before moving on */
    uint32_t index;   /* position in the chain, 0 for the first */
    char *data;
} fa__chunk_t;

/* A record's state: LIVE (listed), FREE (its thread exited), CLAIMED (being
 * reused by a new thread, not listed yet). */
enum { FA__THREAD_LIVE = 1, FA__THREAD_FREE = 2, FA__THREAD_CLAIMED = 3 };

/* The state of one thread. Records live in blocks owned by the context for
 * its lifetime and are reused when their thread exits (state FREE), so that
 * a reader walking them without a lock never touches freed memory. The
 * first cache line holds what the main thread's frame end reads of an idle
 * thread. */
typedef struct fa__thread {
    /* MUST be first: fa__tls.fast points here. Its first cache line holds
     * activity (odd while the thread is inside an operation that reads
     * budget flags or changes its figures, even between: the folding thread
     * skips a thread whose activity did not move, fa_budget_set waits for
     * odd ones), seen_activity (written by the folding thread), state and
     * in_frame_pub; then the pool caches. */
    _Alignas(64) fa__fast_t fast;
    fa_alloc_t *fa;
    uint32_t index; /* atomic: read by snapshots; set before the record is LIVE */
    /* Figures per tag id, and the tags whose figures changed since the
     * folding thread last saw them (plus the current tag and the tags of
     * the open frame, always). One mapping holds all four arrays. */
    fa__tstat_t *stats;
    uint16_t *dirty;
    uint32_t dirty_count;  /* atomic, release on append */
    uint32_t list_version; /* atomic, odd while the list is compacted */
    uint32_t window_seq;   /* atomic, odd while packed words are folded */
    uint64_t visited;      /* activity the folding thread last saw in full */
    uint64_t compacted_at; /* owner: visited when it last compacted */
    uint16_t *frame_tags;  /* tags current at some point in the open frame */
    uint32_t frame_tag_count;
    void *region;
    size_t region_size;
    /* The thread's frame used (sum over its frame tags) high-water. */
    uint64_t frame_hw, frame_hw_epoch;
    /* Written by the folding thread. */
    uint64_t row_used, row_peak, row_epoch;
    /* Frame arena. */
    fa__chunk_t *first;
    fa__chunk_t *current;
    char *window_start;
    size_t need_hw;         /* largest used in the open frame */
    size_t recent_need[2];  /* largest need in this and the last block of frames */
    uint32_t recent_frames; /* frames in this block */
    uint64_t frame_serial;  /* frames begun on this thread */
    bool in_frame;
    bool warned_outside;
    bool overflowed; /* the arena overflowed in this frame */
    uint64_t frames_ended; /* atomic */
    uint64_t capacity;     /* atomic: sum of chunk sizes */
    uint32_t overflow;     /* atomic: index of the current chunk */
    /* Tags. */
    uint16_t tag_stack[FA_TAG_STACK_MAX];
    uint32_t tag_depth;
    /* Retention marks of the current frame (max_retained each). */
    fa_promotion_t *retain;
    uint32_t *retain_frames;
    fa_site_t **retain_sites; /* the site each mark's copy counts for */
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
    /* The block a realloc (fa_heap_realloc, fa_pool_realloc) replaces while
     * it allocates the new one: budget checks deduct its bytes from its tag's
     * (the resize frees them). resize_bytes 0: no resize in progress. */
    uint32_t resize_tag;
    uint64_t resize_bytes;
    /* Call sites (FA_SITES): fast.site_slots, the (site, tag) entries and
     * the per-tag overflow entries, in one mapping (sites.c). */
    struct fa__site_stat *site_stats;
    struct fa__site_seen *site_seen;
    uint32_t site_stat_count; /* atomic, release on append */
    uint32_t *site_overflow;  /* per tag: its overflow entry + 1 */
    uint32_t *site_tag_slots; /* per tag: the first slot keyed to it (site id + 1) */
    uint32_t *site_tag_entries; /* per tag: its first entry + 1 (linked by tag_next;
                                   the frame end and the fold walk the entries
                                   of the tags they visit, not all) */
    void *site_region;
    size_t site_region_size;
} fa__thread_t;

/* A FA_RETAIN_FRAMES copy: a heap block with this header in front. */
typedef struct fa__kept {
    struct fa__kept *next;
    uint32_t frames_left;
    uint32_t pad;
} fa__kept_t;

/* ---- the context ----------------------------------------------------------- */

/* The figures of one tag in one context frame. */
typedef struct fa__epochfig {
    uint64_t epoch;
    uint64_t count[3], bytes[3], frees[2];
    int64_t base[3];  /* frame in-use, pool, heap live when the frame began */
    uint64_t rise[3]; /* sum of the threads' high-water rises above it */
} fa__epochfig_t;

/* What the fold made of one tag: live figures as of the last fold, and the
 * figures of the last two context frames (by parity): between the main
 * thread's fold and the end of its hooks, an exiting thread folds into the
 * next frame while the hooks still report the one that ends. */
typedef struct fa__tagfig {
    int64_t frame_inuse, live[2];
    fa__epochfig_t ep[2];
} fa__tagfig_t;

#define FA__RECORDS_PER_BLOCK 64
#define FA__RECORD_BLOCKS 1024 /* up to 65536 threads at once */

struct fa_alloc_s {
    fa__ctx_head_t head; /* MUST be first: what the inline paths read */
    fa_config_t cfg;
    pthread_key_t key;
    /* Thread records, in blocks of FA__RECORDS_PER_BLOCK: record i is
     * record_blocks[i / 64][i % 64]. A reader takes record_count (acquire)
     * and walks them in order, with no pointer chasing. */
    pthread_mutex_t records_lock; /* making a new record */
    fa__thread_t *record_blocks[FA__RECORD_BLOCKS];
    uint32_t record_count; /* atomic */
    uint32_t thread_seq;   /* atomic */
    _Atomic(fa__thread_t *) main;
    uint64_t frame_number;   /* atomic */
    uint64_t frame_start_ns; /* atomic */
    /* The fold: live and per-frame figures per tag, written under fold_lock
     * by the main thread's frame end and by exiting threads; fold_seq is odd
     * while they write, so that snapshots retry instead of locking. */
    pthread_mutex_t fold_lock;
    uint32_t fold_seq;    /* atomic */
    uint64_t fold_epoch;  /* the context frame folds count into: frame_number,
                             or frame_number + 1 once the main thread folded */
    fa__tagfig_t *figs;
    uint64_t frame_peak_epoch;  /* frame kind: sums of thread peaks */
    uint64_t frame_peak_exited; /* ... of threads that exited in that frame */
    uint64_t frame_peak_folded; /* ... of all threads, at the frame end */
    uint32_t fold_threads, fold_rows; /* work of the last fold (tests) */
    uint32_t fold_site_entries;       /* (site, tag) entries it read (tests) */
    bool in_hooks;              /* main thread only */
    uint32_t snapshots_active;  /* atomic: threads leave their lists alone */
    pthread_mutex_t hooks_lock;
    struct {
        fa_frame_hook fn;
        void *user;
    } hooks[FA__MAX_HOOKS];
    uint32_t hook_count; /* atomic: read without the lock to skip it */
    fa__tags_t tags;
    fa__pool_t pool;
    fa__heap_shard_t heap[FA__HEAP_SHARDS];
    /* Budgets: allocations under budgeted tags hold it for reading,
     * fa_budget_set for writing. */
    pthread_rwlock_t budget_lock;
    int64_t *budget_live; /* max_tags: fa_budget_set's scratch (write lock) */
    int barrier_mode; /* how fa_budget_set makes other threads' stores visible */
    void *barrier_page;
    /* Retention outcomes: accumulated by threads, published by the main
     * thread at its frame end for snapshots. */
    pthread_mutex_t promo_lock;
    fa_promotion_totals_t promo_acc, promo_last;
    uint32_t promo_pending;  /* atomic: promo_acc has something (promo_lock) */
    bool promo_published;    /* main thread: promo_last is not zero */
    struct fa__transfers *transfers;
    struct fa__behaviour *behaviour;
    struct fa__debug *debug; /* FA_DEBUG only */
    struct fa__sites *sites; /* FA_SITES: the (site, tag) figures */
};

static inline uint32_t fa__records(fa_alloc_t *fa) {
    return __atomic_load_n(&fa->record_count, __ATOMIC_ACQUIRE);
}
static inline fa__thread_t *fa__record(fa_alloc_t *fa, uint32_t i) {
    return &__atomic_load_n(&fa->record_blocks[i / FA__RECORDS_PER_BLOCK], __ATOMIC_ACQUIRE)[i % FA__RECORDS_PER_BLOCK];
}
/* Every record that has a thread now. */
#define FA__FOR_EACH_THREAD(fa, t)                                                                 \
    for (uint32_t fa__i_ = 0, fa__n_ = fa__records(fa); fa__i_ < fa__n_; fa__i_++)                  \
        for (fa__thread_t *t = fa__record(fa, fa__i_); t; t = NULL)                                 \
            if (__atomic_load_n(&t->fast.state, __ATOMIC_ACQUIRE) == FA__THREAD_LIVE)

/* ---- cross-module functions ----------------------------------------------- */

/* error.c: sets the thread's last error and calls the error hook. */
FA__HIDDEN void fa__report(fa_alloc_t *fa, int code, const void *ptr, const char *fmt, ...) FA_PRINTF(4, 5);
FA__HIDDEN void fa__set_last_error(int code);

/* context.c: the calling thread's state, registering it on first use.
 * NULL (reported) when it cannot be created. */
FA__HIDDEN fa__thread_t *fa__thread_register(fa_alloc_t *fa);
static inline fa__thread_t *fa__thread_get(fa_alloc_t *fa) {
    if (FA_LIKELY(fa__tls.fa == fa && fa__tls.fa_id == fa->head.id)) return (fa__thread_t *)fa__tls.fast;
    return fa__thread_register(fa);
}
FA__HIDDEN uint64_t fa__now_ns(void);
/* Recomputes t->fast.slow from the thread's own state. */
FA__HIDDEN void fa__thread_update_slow(fa__thread_t *t);

/* Operations. Every operation that reads budget flags or changes the
 * thread's figures runs between fa__op_begin and fa__op_end: the activity
 * word is odd inside. Operations do not nest: the library calls its raw
 * paths from inside one, hooks run outside them, and callbacks MUST NOT
 * allocate (FA_DEBUG reports a nested operation). */
#ifndef FA_MINIMAL
static inline void fa__op_begin(fa__thread_t *t) {
#ifdef FA_DEBUG
    if (t->fast.activity & 1) fa__report(t->fa, FA_ERR_STATE, NULL, "allocation from inside a callback");
#endif
    FA__STORE(t->fast.activity, t->fast.activity + 1);
    FA__COMPILER_BARRIER();
}
static inline void fa__op_end(fa__thread_t *t) { FA__RELEASE(t->fast.activity, t->fast.activity + 1); }
#else /* no figures to fold, no budgets to enforce */
static inline void fa__op_begin(fa__thread_t *t) { (void)t; }
static inline void fa__op_end(fa__thread_t *t) { (void)t; }
#endif
/* The activity value once the current operation has ended (outside an
 * operation: once the next one has). A reader that saw this value with
 * acquire sees every change made before it. */
static inline uint64_t fa__op_done(const fa__thread_t *t) { return (t->fast.activity | 1u) + 1; }
/* Frame bytes (low bits) and count (high bits) of tag x's current window
 * on thread t not yet in t->stats[x]: the tag's packed word, and with call
 * sites the packed words of the slots keyed to x. Readers on other threads
 * retry around window_seq (a re-key or a window fold moves them). */
static inline uint64_t fa__stats_window(const fa__thread_t *t, uint32_t x) {
    uint64_t p = __atomic_load_n(&t->fast.packed[x], __ATOMIC_ACQUIRE);
#if FA_SITES
    /* Bounded: a list being changed under a reader may be followed wrong,
     * never for ever (the reader's window_seq check then retries). */
    uint32_t s = __atomic_load_n(&t->site_tag_slots[x], __ATOMIC_ACQUIRE);
    for (uint32_t n = 0; s && n <= FA_SITE_MAX; n++) {
        const fa__site_slot_t *slot = &t->fast.site_slots[s - 1];
        p += __atomic_load_n(&slot->packed, __ATOMIC_ACQUIRE);
        s = __atomic_load_n(&slot->next, __ATOMIC_ACQUIRE);
    }
#endif
    return p;
}

/* Puts tag in the thread's dirty list (if it is not there). */
FA__HIDDEN void fa__stats_list(fa__thread_t *t, uint32_t tag);
static inline fa__tstat_t *fa__stats_touch(fa__thread_t *t, uint32_t tag) {
    fa__tstat_t *st = &t->stats[tag];
    if (FA_UNLIKELY(!st->listed)) fa__stats_list(t, tag);
    return st;
}
/* Puts tag in frame_tags: its frame bytes are released at the end of the
 * frame fa__release_serial names. The tag MUST be listed. */
FA__HIDDEN void fa__stats_frame_tag(fa__thread_t *t, uint32_t tag);
/* Makes tag the current one (listed, and in frame_tags inside a frame). */
FA__HIDDEN void fa__stats_set_tag(fa__thread_t *t, uint32_t tag);
/* tag_id names an existing tag; otherwise reported (FA_ERR_INVALID_ARG,
 * naming the call `who`). */
FA__HIDDEN bool fa__tag_id_valid(fa_alloc_t *fa, int tag_id, const char *who);
/* For the explicitly tagged calls: the calling thread with its current tag
 * switched to tag_id (the stack untouched) and the tag it had in *saved;
 * NULL for a bad tag id (reported) or no thread record. fa__tag_restore
 * puts the saved tag back after the call. */
FA__HIDDEN fa__thread_t *fa__tag_switch(fa_alloc_t *fa, int tag_id, const char *who, uint32_t *saved);
FA__HIDDEN void fa__tag_restore(fa__thread_t *t, uint32_t saved);
/* A pool or heap free of tag's block: high-water first (a maximum is right
 * before a decrease, or now), then the figures. A tag other than the
 * current one stays listed until the fold has seen this change. */
static inline void fa__stats_free(fa__thread_t *t, uint32_t tag, int ph, uint64_t size) {
    fa__tstat_t *st = &t->stats[tag];
#ifndef FA__NO_PEAK_TRACKING
    fa__phstat_t *f = &st->ph[ph];
    int64_t net = (int64_t)(f->bytes - f->free_bytes);
    if (net > FA__LOAD(f->hw)) FA__STORE(f->hw, net);
#endif
    FA__STORE(st->ph[ph].frees, st->ph[ph].frees + 1);
    FA__STORE(st->ph[ph].free_bytes, st->ph[ph].free_bytes + size);
    if (FA_UNLIKELY(tag != t->fast.tag)) {
        if (!st->listed) fa__stats_list(t, tag);
        FA__STORE(st->last_change, fa__op_done(t));
    }
}
/* A pool or heap allocation under the current tag, which is always listed
 * (fa__stats_set_tag). */
static inline void fa__stats_alloc(fa__thread_t *t, int ph, uint64_t size) {
    fa__tstat_t *st = &t->stats[t->fast.tag];
#if !FA_SITES /* the site entries count allocations */
    FA__STORE(st->ph[ph].count, st->ph[ph].count + 1);
#endif
    FA__STORE(st->ph[ph].bytes, st->ph[ph].bytes + size);
}
/* The thread's frame ends: windows folded, frame high-waters noted (for
 * context frame epoch), the frame's in-use bytes released. */
FA__HIDDEN void fa__stats_end_frame(fa__thread_t *t, uint64_t epoch);
/* Moves the packed window words into the 64-bit figures. */
FA__HIDDEN void fa__stats_fold_window(fa__thread_t *t);
/* Frame bytes the thread has in its open frame (sum over its frame tags). */
FA__HIDDEN uint64_t fa__stats_frame_used(const fa__thread_t *t);
/* Compacts the dirty list if the folding thread saw it since. */
FA__HIDDEN void fa__stats_compact(fa__thread_t *t);
/* The main thread's frame end: folds every active thread (fold_lock). */
FA__HIDDEN void fa__stats_fold_all(fa_alloc_t *fa);
/* How many threads and (thread, tag) rows the last fold of the main
 * thread's frame end visited. For tests: the work of fa_end_frame. */
FA__HIDDEN void fa__stats_last_fold(fa_alloc_t *fa, uint32_t *threads, uint32_t *rows);
/* How many (site, tag) entries the last fold read. For tests. */
FA__HIDDEN uint32_t fa__stats_last_fold_sites(fa_alloc_t *fa);
/* The main thread's own frame memory is gone: its in-use leaves the fold. */
FA__HIDDEN void fa__stats_release_own_frame(fa_alloc_t *fa, fa__thread_t *t);
/* An exiting thread folds itself for the last time and clears its record. */
FA__HIDDEN void fa__stats_retire(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN int fa__stats_init(fa_alloc_t *fa);
FA__HIDDEN void fa__stats_fini(fa_alloc_t *fa);
FA__HIDDEN int fa__stats_thread_init(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN void fa__stats_thread_fini(fa__thread_t *t);

/* frame.c */
FA__HIDDEN int fa__arena_init(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN void fa__arena_fini(fa__thread_t *t);
/* Gives up the thread's open frame: budgets get its bytes back, its
 * figures release them, the arena is reset (and resized). */
FA__HIDDEN void fa__frame_release(fa_alloc_t *fa, fa__thread_t *t);
/* Bytes used in the thread's arena (allocations, padding, chunk ends). */
static inline size_t fa__arena_used(const fa__thread_t *t) {
    return t->current->base_used + (size_t)(t->fast.cur - t->current->data);
}
/* The frame whose end releases what the thread allocates now: the open
 * one, or outside a frame the next one. */
static inline uint64_t fa__release_serial(const fa__thread_t *t) {
    return t->in_frame ? t->frame_serial : t->frame_serial + 1;
}
/* Is [p, p + size) inside what the open frame allocated, in one chunk? */
FA__HIDDEN bool fa__arena_holds(const fa__thread_t *t, const void *p, size_t size);
/* Does p point into the thread's arena chunks (any part)? Owner only. */
FA__HIDDEN bool fa__arena_contains(const fa__thread_t *t, const void *p);

/* pool.c */
FA__HIDDEN int fa__pool_init(fa_alloc_t *fa);
FA__HIDDEN void fa__pool_fini(fa_alloc_t *fa);
/* Gives every block of the thread's caches back to the depots. */
FA__HIDDEN void fa__pool_flush_thread(fa_alloc_t *fa, fa__thread_t *t);
/* A thread registers: its caches take their limits. */
FA__HIDDEN void fa__pool_thread_init(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN bool fa__pool_owns(const fa_alloc_t *fa, const void *p);
/* Is p the start of a pool block (live or free) of fa? Reads only pool
 * memory. */
FA__HIDDEN bool fa__pool_is_block(const fa_alloc_t *fa, const void *p);
/* pool.c: the pool path without debug wrapping. */
FA__HIDDEN void *fa__pool_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, fa_site_t *site);
FA__HIDDEN void fa__pool_free_raw(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *who);

/* heap.c: the heap path without debug wrapping; the checked free shared by
 * fa_heap_free and fa_pool_free (who names the public call in reports). */
FA__HIDDEN void *fa__heap_alloc_raw(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align, fa_site_t *site);
FA__HIDDEN void fa__heap_free_checked(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *who);
/* Is p a live heap block of fa? (registry lookup) */
FA__HIDDEN bool fa__heap_is_live(fa_alloc_t *fa, const void *p);
FA__HIDDEN int fa__heap_init(fa_alloc_t *fa);
FA__HIDDEN void fa__heap_fini(fa_alloc_t *fa);
/* Frees without accounting (context end). */
FA__HIDDEN void fa__heap_release(void *p);

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
/* Tests: how many tags the last frame end's collection visited. */
FA__HIDDEN uint32_t fa__bh_last_collected(fa_alloc_t *fa);
FA__HIDDEN uint32_t fa__bh_findings(fa_alloc_t *fa, fa_finding_t *out, uint32_t cap);

/* budget.c */
FA__HIDDEN int fa__budget_init(fa_alloc_t *fa);
FA__HIDDEN void fa__budget_fini(fa_alloc_t *fa);
/* Takes the budget lock for reading inside an operation: while it waits
 * (fa_budget_set holds it) the operation counts as paused, so that the
 * setter does not wait for it in turn. */
FA__HIDDEN void fa__budget_read_lock(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN void fa__budget_read_unlock(fa_alloc_t *fa);
/* Charges size bytes to tag and its budgeted ancestors; false when a hard
 * budget refuses it (nothing stays charged then). Caller holds the budget
 * lock for reading. */
FA__HIDDEN bool fa__budget_charge(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind);
/* The same for a block that replaces one of freed bytes under freed_tag
 * (a resize): the limits are checked as if those bytes were gone already,
 * as they will be; they stay charged until their block is freed. */
FA__HIDDEN bool fa__budget_charge_resize(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind,
                                         uint32_t freed_tag, uint64_t freed);
FA__HIDDEN void fa__budget_uncharge(fa_alloc_t *fa, uint32_t tag, uint64_t size);
/* True when a budget applies to tag (its own or a parent's). */
static inline bool fa__budget_applies(const fa_alloc_t *fa, uint32_t tag) {
    return atomic_load_explicit(&fa->tags.slow[tag], memory_order_relaxed) & FA__TAG_ACCOUNTED;
}
/* True when a pool or heap operation under tag needs more than the common
 * path: a budget applies, or the behaviour filter is on. */
static inline bool fa__tag_slow(const fa_alloc_t *fa, uint32_t tag) {
    return atomic_load_explicit(&fa->tags.slow[tag], memory_order_relaxed) != 0;
}
/* The calling thread's frame budget; false when it refuses. */
FA__HIDDEN bool fa__thread_budget_check(fa_alloc_t *fa, fa__thread_t *t, uint64_t size);

/* debug.c (FA_DEBUG): the registry of live pool and heap blocks. */
FA__HIDDEN int fa__debug_init(fa_alloc_t *fa);
FA__HIDDEN void fa__debug_fini(fa_alloc_t *fa); /* reports leaks */
FA__HIDDEN size_t fa__debug_block_size(fa_alloc_t *fa, const void *p);
/* The pool/heap block behind a user pointer (differs in FA_DEBUG, where a
 * header precedes pool blocks). */
FA__HIDDEN void *fa__debug_block_of(fa_alloc_t *fa, void *p);
/* fa_pool_alloc_at and fa_heap_alloc_at from inside an operation of t. */
FA__HIDDEN void *fa__debug_pool_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, const char *file, int line,
                                      fa_site_t *site);
FA__HIDDEN void *fa__debug_heap_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align,
                                      const char *file, int line, fa_site_t *site);

/* sites.c: the process's site registry, each thread's (site, tag) entries
 * and the context's folded figures per (site, tag). */
/* fa__site_stat_t (a thread's figures for one (site, tag)): framealloc.h. */
_Static_assert(sizeof(fa__site_stat_t) == 128, "fa__site_stat_t is two cache lines");

/* What the folding thread last took of an entry (an array beside the
 * entries, so that its writes stay off the owner's lines). */
typedef struct fa__site_seen {
    uint64_t count[3], bytes[3];
    int64_t live[3];
} fa__site_seen_t;

/* One entry as read now, and what changed since the fold took it. */
typedef struct fa__site_take {
    uint32_t fig, tag;
    uint64_t now_count[3], now_bytes[3];
    int64_t now_live[3];
    uint64_t count[3], bytes[3];
    int64_t live[3];
} fa__site_take_t;

/* The site's id, numbering it on its first use (NULL: the unknown site of
 * kind). */
FA__HIDDEN uint32_t fa__site_id(fa_site_t *site, uint32_t kind);
FA__HIDDEN int fa__sites_init(fa_alloc_t *fa);
FA__HIDDEN void fa__sites_fini(fa_alloc_t *fa);
FA__HIDDEN int fa__sites_thread_init(fa_alloc_t *fa, fa__thread_t *t);
FA__HIDDEN void fa__sites_thread_fini(fa__thread_t *t);
/* A thread's record is recycled: every entry and slot back to zero. */
FA__HIDDEN void fa__sites_thread_reset(fa__thread_t *t);
/* The entry allocations at site under the current tag count in (the slot
 * keyed to it, unless `frees`: then it is only looked up, for a block of
 * tag freed by this thread). Never NULL. Owner only. */
FA__HIDDEN fa__site_stat_t *fa__sites_entry_slow(fa__thread_t *t, uint32_t site_id, uint32_t tag, bool frees);
static inline fa__site_stat_t *fa__sites_entry(fa__thread_t *t, uint32_t site_id, uint32_t tag) {
    const fa__site_slot_t *slot = &t->fast.site_slots[site_id];
    if (FA_LIKELY(slot->key == tag + 1)) return (fa__site_stat_t *)slot->stat;
    return fa__sites_entry_slow(t, site_id, tag, false);
}
/* A pool or heap allocation (ph) of `size` bytes at site (NULL: the
 * unknown site of kind); returns the site's id. */
FA__HIDDEN fa__site_stat_t *fa__sites_alloc_slow(fa__thread_t *t, fa_site_t *site, uint32_t kind,
                                                 uint32_t *site_id);
static inline uint32_t fa__sites_alloc(fa__thread_t *t, fa_site_t *site, uint32_t kind, int ph, uint64_t size) {
    uint32_t site_id = site ? __atomic_load_n(&site->id, __ATOMIC_RELAXED) : FA_SITE_UNKNOWN(kind);
    const fa__site_slot_t *slot = &t->fast.site_slots[site_id];
    fa__site_stat_t *e = FA_LIKELY(slot->key == t->fast.tag + 1) ? (fa__site_stat_t *)slot->stat
                                                                 : fa__sites_alloc_slow(t, site, kind, &site_id);
    FA__STORE(e->count[ph], e->count[ph] + 1);
    FA__STORE(e->bytes[ph], e->bytes[ph] + size);
    return site_id;
}
/* A free of a block of `tag` allocated at site_id. */
static inline void fa__sites_free(fa__thread_t *t, uint32_t site_id, uint32_t tag, int ph, uint64_t size) {
    const fa__site_slot_t *slot = &t->fast.site_slots[site_id];
    fa__site_stat_t *e = FA_LIKELY(slot->key == tag + 1) ? (fa__site_stat_t *)slot->stat
                                                        : fa__sites_entry_slow(t, site_id, tag, true);
    FA__STORE(e->freed[ph], e->freed[ph] + size);
}
/* A frame allocation counted out of line (the inline path adds to the
 * slot's packed word instead). */
FA__HIDDEN void fa__sites_frame(fa__thread_t *t, uint32_t site_id, uint64_t size);
/* Moves the packed words of the slots keyed to tag x into their entries
 * and the tag's figures, opening window_seq (*opened) before the first. */
FA__HIDDEN void fa__sites_fold_window(fa__thread_t *t, uint32_t x, bool *opened);
/* The thread's frame ends: the frame bytes of the entries of tags[0..n)
 * (the frame's tags) are released. */
FA__HIDDEN void fa__sites_end_frame(fa__thread_t *t, const uint16_t *tags, uint32_t n);
/* The entries of tag x on thread t: first index + 1, then tag_next. */
static inline uint32_t fa__sites_tag_first(const fa__thread_t *t, uint32_t x) {
    return __atomic_load_n(&t->site_tag_entries[x], __ATOMIC_ACQUIRE);
}
static inline uint32_t fa__sites_tag_next(const fa__thread_t *t, uint32_t k) {
    return __atomic_load_n(&t->site_stats[k - 1].tag_next, __ATOMIC_ACQUIRE);
}
/* Reads entry i of t; false when nothing changed since the fold took it. */
FA__HIDDEN bool fa__sites_take(const fa__thread_t *t, uint32_t i, fa__site_take_t *r);
/* The folding thread took r (fold_lock). */
FA__HIDDEN void fa__sites_seen(fa__thread_t *t, uint32_t i, const fa__site_take_t *r);
FA__HIDDEN void fa__sites_fold_fig(fa_alloc_t *fa, uint64_t epoch, const fa__site_take_t *r);
/* The main thread released its own frame: the frame bytes of its entries
 * of tag x leave the figures. Calls back with each change for the tag
 * figures. */
FA__HIDDEN void fa__sites_release_own_tag(fa_alloc_t *fa, fa__thread_t *t, uint32_t x,
                                          void (*tag_fn)(fa_alloc_t *, uint32_t, int64_t));
/* Snapshots with site rows: the lock, the pending figures of one attempt,
 * and the rows. */
FA__HIDDEN void fa__sites_snapshot_begin(fa_alloc_t *fa);
FA__HIDDEN void fa__sites_snapshot_end(fa_alloc_t *fa);
FA__HIDDEN void fa__sites_attempt(fa_alloc_t *fa);
FA__HIDDEN void fa__sites_pending(fa_alloc_t *fa, const fa__site_take_t *r);
/* Writes the rows of the figures of context frames epoch and next (plus
 * this attempt's pending ones), ranked, or raw for fa_snapshot_finish()
 * (defer, fa_snapshot_t); false when the rows did not all fit. */
FA__HIDDEN bool fa__sites_rows(fa_alloc_t *fa, fa_snapshot_t *snap, uint64_t epoch, uint64_t next);
/* fa_snapshot_finish()'s site step: FA_ERR_INVALID_ARG when the arguments
 * cannot rank snap's raw rows; then the ranking (FA_OK or
 * FA_ERR_TRUNCATED). */
FA__HIDDEN int fa__sites_rank_check(const fa_snapshot_t *snap, const fa_site_row_t *rows, const uint64_t *work,
                                    size_t work_count);
FA__HIDDEN int fa__sites_rank(fa_snapshot_t *snap, fa_site_row_t *rows, uint64_t *work);

/* tags.c */
FA__HIDDEN int fa__tags_init(fa_alloc_t *fa);
FA__HIDDEN void fa__tags_fini(fa_alloc_t *fa);

/* stats.c: the figures of a snapshot (totals, rows, thread rows, site
 * rows); pending: add what threads did since the last fold (false in a
 * frame-end hook). frame_peak receives the frame kind's peak;
 * sites_complete whether every site row fit. */
FA__HIDDEN void fa__stats_snapshot(fa_alloc_t *fa, fa_snapshot_t *snap, uint32_t ntags, bool pending,
                                   uint64_t *frame_peak, bool *sites_complete);
/* Sums n rows that hold their tags' own figures up the tree (parent_id)
 * and finishes them (clamps, live bytes, peaks). Context-free. */
FA__HIDDEN void fa__stats_sum_rows(fa_tag_row_t *rows, uint32_t n);

#endif
