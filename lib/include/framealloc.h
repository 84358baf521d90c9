/*
 * framealloc.h — frame arenas, pools, tags and budgets for game engines.
 *
 * WHAT IT IS
 *   An allocator for code that knows the lifetime of its memory:
 *   - frame arenas: a bump pointer per thread, reset by fa_end_frame();
 *   - pools: O(1) size classes (16 B .. 4 KiB) with thread-local caches;
 *   - heap: malloc-backed blocks aligned up to 4096, for everything larger;
 *   - tags: every allocation is attributed to the calling thread's current
 *     tag ("physics/contacts"), so a snapshot shows who uses what;
 *   - budgets: soft/hard limits per tag, events at 80 % and 100 %.
 *   It is not a malloc replacement.
 *
 * QUICK START
 *     fa_alloc_t *fa = fa_create(NULL);            // NULL: defaults
 *     fa_budget_set(fa, "physics", 1 << 20, 2 << 20);
 *     for (;;) {
 *         fa_begin_frame(fa);
 *         {
 *             FA_TAG_SCOPE(fa, "physics");          // popped at block exit
 *             contact_t *c = FA_FRAME_ARRAY(fa, contact_t, 256);
 *             body_t *b = fa_pool_alloc(fa, sizeof *b);
 *             ...
 *             fa_pool_free(fa, b);
 *         }
 *         fa_end_frame(fa);                         // c is gone now
 *     }
 *     fa_destroy(fa);
 *
 * THREADS
 *   One fa_alloc_t is shared by all threads of the program. Each thread that
 *   allocates gets its own frame arena, pool caches, tag stack and counters,
 *   created on its first call (that first call allocates; no lock that other
 *   threads' allocations need).
 *   - fa_begin_frame()/fa_end_frame() act on the CALLING thread's arena only.
 *     fa_end_frame() on thread T resets T's arena and nothing else.
 *   - The main thread is the thread that called fa_create() (see
 *     fa_set_main_thread()). Its fa_end_frame() also ends the context's frame:
 *     it collects the figures of the threads that were active, runs the
 *     frame-end hooks (fa_on_frame_end) and advances fa_frame_number().
 *   - A worker thread that uses frame memory MUST bracket its own work with
 *     fa_begin_frame()/fa_end_frame() on that worker; the main thread ending
 *     its frame never touches a worker's arena. Frame memory MUST NOT be read
 *     by another thread after its owner ended the frame.
 *   - Pool and heap blocks may be freed by any thread.
 *   - A thread that exits returns its pool caches and arena to the context;
 *     its pool and heap blocks stay counted until freed.
 *   - fa_destroy() MUST be called when no other thread uses the context.
 *
 * FIGURES (snapshots)
 *   "This frame" is the context's frame: from the main thread's last
 *   fa_end_frame() to now. Every allocation and free is counted in exactly
 *   one such frame: the one whose end first sees it (a worker's frame that
 *   straddles the main thread's frame end counts its allocations partly in
 *   each). Peaks are high-water marks within the frame, tracked as they
 *   happen (see fa_kind_totals_t and fa_tag_row_t for what is exact).
 *
 * C AND C++
 *   The header compiles as C11 and as C++11 or later with GCC and Clang; the
 *   inline fast path uses plain fields and the __atomic builtins, so both
 *   languages share one layout. Scoped tags (FA_TAG_SCOPE) need GCC or Clang.
 *
 * ERRORS
 *   Calls that return int return FA_OK (0) or a negative fa_err. Allocation
 *   calls return NULL on failure; the reason goes to the error hook
 *   (fa_config_t.error_cb) and to fa_last_error() of that thread.
 *
 * CALL SITES
 *   Every allocation made through the names below (they are macros with
 *   GCC and Clang) also records its call site: the macro places a static
 *   record (file, line, function, kind) at the call, numbered on its first
 *   use, and the allocation is counted for that site per thread and per
 *   frame beside its tag, so a snapshot answers "which line allocated this
 *   frame's 3 MiB" (fa_site_row_t). Code that calls the functions directly,
 *   `(fa_pool_alloc)(fa, n)`, through a pointer, or compiled without GCC or
 *   Clang, is counted under one "unknown site" per kind. See "Call sites".
 *
 * BUILD VARIANTS (compile the library and your code with the same macros)
 *   FA_MINIMAL   statistics, tag accounting and budgets compiled out of the
 *                hot paths: tags still push/pop, snapshot rows read zero.
 *                Implies FA_NO_SITES.
 *   FA_NO_SITES  call sites off: the allocation names are plain functions
 *                again and snapshots carry no site rows.
 *   FA_PREFETCH  write prefetch of the next frame-arena line on x86-64.
 *   FA_DEBUG     guards, poisoning, call sites and leak reports (see the
 *                debug section). Every build checks sizes for overflow and
 *                refuses foreign and twice-freed heap pointers.
 */
#ifndef FRAMEALLOC_H
#define FRAMEALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FA_VERSION_MAJOR 0
#define FA_VERSION_MINOR 1
#define FA_VERSION_PATCH 0
#define FA_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#define FA_API
#elif defined(__GNUC__)
#define FA_API __attribute__((visibility("default")))
#else
#define FA_API
#endif

#if defined(__GNUC__)
#define FA_NODISCARD __attribute__((warn_unused_result))
#define FA_MALLOC_ATTR __attribute__((malloc))
#define FA_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
#define FA_ALLOC_SIZE2(n, m) __attribute__((alloc_size(n, m)))
#define FA_LIKELY(x) __builtin_expect(!!(x), 1)
#define FA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define FA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define FA__COLD __attribute__((cold))
#else
#define FA_NODISCARD
#define FA_MALLOC_ATTR
#define FA_ALLOC_SIZE(n)
#define FA_ALLOC_SIZE2(n, m)
#define FA_LIKELY(x) (x)
#define FA_UNLIKELY(x) (x)
#define FA_PRINTF(f, a)
#define FA__COLD
#endif

#if defined(__cplusplus)
#define FA__ALIGNOF(T) alignof(T)
#else
#define FA__ALIGNOF(T) _Alignof(T)
#endif

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* One table: code name, value, message. Values are stable across versions. */
#define FA_ERR_TABLE(X)                                                        \
    X(FA_OK, 0, "success")                                                     \
    X(FA_ERR_INVALID_ARG, -1, "invalid argument")                              \
    X(FA_ERR_NO_MEMORY, -2, "out of memory")                                   \
    X(FA_ERR_OVERFLOW, -3, "size computation overflows")                       \
    X(FA_ERR_BAD_ALIGN, -4, "alignment is not a power of two up to 4096")      \
    X(FA_ERR_BUDGET, -5, "hard budget exceeded")                               \
    X(FA_ERR_TOO_MANY_TAGS, -6, "tag table is full")                           \
    X(FA_ERR_TAG_NAME, -7, "tag name is empty, too long or malformed")         \
    X(FA_ERR_TAG_STACK, -8, "tag stack overflow or underflow")                 \
    X(FA_ERR_ARENA_LIMIT, -9, "frame arena hard limit reached")                \
    X(FA_ERR_NOT_IN_FRAME, -10, "frame allocation outside a frame")            \
    X(FA_ERR_FOREIGN_PTR, -11, "pointer not owned by this allocator")          \
    X(FA_ERR_DOUBLE_FREE, -12, "block freed twice")                            \
    X(FA_ERR_CORRUPTION, -13, "guard bytes overwritten")                       \
    X(FA_ERR_STATE, -14, "call not valid in the current state")                \
    X(FA_ERR_NOT_FOUND, -15, "no such item")                                   \
    X(FA_ERR_TRUNCATED, -16, "output buffer too small, result truncated")      \
    X(FA_ERR_TIMEOUT, -17, "timed out")                                        \
    X(FA_ERR_CROSS_THREAD, -18, "frame memory used by another thread")         \
    X(FA_ERR_SYSTEM, -19, "operating system call failed")                      \
    X(FA_ERR_LEAK, -20, "block still live when the allocator was destroyed")   \
    X(FA_ERR_TRANSFER, -21, "transfer handle misused (stale, wrong state)")   \
    X(FA_ERR_DROPPED, -22, "transfer dropped without being received")

typedef enum fa_err {
#define FA__ERR_ENUM(name, value, msg) name = value,
    FA_ERR_TABLE(FA__ERR_ENUM)
#undef FA__ERR_ENUM
} fa_err;

/* The message of an error code ("unknown error" for other values). Static
 * storage, any thread, O(1). */
FA_API const char *fa_strerror(int err);
/* The enum name of an error code, e.g. "FA_ERR_BUDGET". Static storage. */
FA_API const char *fa_err_name(int err);

/* The last error reported on the calling thread by any context (FA_OK after
 * a success does NOT reset it: it is sticky until fa_clear_error()). */
FA_API int fa_last_error(void);
FA_API void fa_clear_error(void);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

typedef struct fa_alloc_s fa_alloc_t;

typedef enum fa_kind {
    FA_KIND_FRAME = 0,
    FA_KIND_POOL = 1,
    FA_KIND_HEAP = 2,
    FA_KIND_COUNT_ = 3
} fa_kind;

/* What happens when an allocation would take a tag past its hard budget. */
typedef enum fa_budget_policy {
    FA_POLICY_DEFAULT = 0, /* the config's policy (itself default: WARN) */
    FA_POLICY_WARN = 1,    /* allow it and raise FA_BUDGET_EXCEEDED */
    FA_POLICY_FAIL = 2,    /* return NULL and raise FA_BUDGET_DENIED */
    FA_POLICY_CALLBACK = 3 /* ask budget_cb: it returns true to allow */
} fa_budget_policy;

typedef enum fa_budget_event_kind {
    FA_BUDGET_WARNING = 1,  /* usage reached 80 % of hard (once per frame) */
    FA_BUDGET_SOFT = 2,     /* usage reached soft (once per frame) */
    FA_BUDGET_EXCEEDED = 3, /* usage reached 100 % of hard (once per frame) */
    FA_BUDGET_DENIED = 4    /* an allocation was refused (every time) */
} fa_budget_event_kind;

typedef struct fa_budget_event {
    fa_budget_event_kind kind;
    uint16_t tag_id;       /* the tag whose budget is concerned */
    const char *tag_path;  /* valid for the context's lifetime */
    uint64_t usage;        /* bytes in use by the tag and its children */
    uint64_t request;      /* bytes of the allocation that triggered it */
    uint64_t soft, hard;   /* the budget */
    uint64_t frame;        /* fa_frame_number() when it happened */
    fa_kind kind_of_alloc; /* frame, pool or heap */
    bool thread_budget;    /* true: the calling thread's frame budget, not a
                              tag's (tag_id is then the current tag) */
    uint32_t thread_index; /* the allocating thread (registration order) */
} fa_budget_event_t;

/* Returns whether to allow the allocation; only consulted for DENIED
 * decisions under FA_POLICY_CALLBACK, ignored otherwise. Runs on the
 * allocating thread, inside the allocation, holding the budget lock for
 * reading: it MUST NOT allocate from the same context, call fa_budget_set,
 * nor block. */
typedef bool (*fa_budget_cb)(const fa_budget_event_t *ev, void *user);

typedef struct fa_error_event {
    int code;            /* a negative fa_err */
    const char *message; /* human text, valid during the call only */
    const char *file;    /* call site where known (FA_DEBUG), else NULL */
    int line;
    const void *ptr;     /* the pointer concerned, if any */
} fa_error_event_t;

/* Runs on the thread that hit the error. MUST NOT allocate from the context. */
typedef void (*fa_error_cb)(const fa_error_event_t *ev, void *user);

/* Zero means "default" for every field (sokol style). Out-of-range values
 * make fa_create() fail with FA_ERR_INVALID_ARG; nothing is clamped. */
typedef struct fa_config {
    size_t frame_chunk_bytes;     /* first arena chunk per thread and the
                                     smallest the arena shrinks to; 1 MiB
                                     (256 B .. 1 TiB) */
    size_t frame_limit_bytes;     /* arena hard limit per thread; 0: none;
                                     else >= frame_chunk_bytes */
    size_t pool_reserve_bytes;    /* address space reserved for pools; 4 GiB
                                     (max 64 TiB) */
    uint32_t max_tags;            /* tag table capacity; 1024 (2 .. 65535) */
    fa_budget_policy budget_policy; /* default policy; WARN */
    fa_budget_cb budget_cb;
    void *budget_user;
    fa_error_cb error_cb;
    void *error_user;
    uint32_t max_retained;        /* retention marks per thread and frame; 256
                                     (max 65535) */
    uint32_t max_transfers;       /* transfer handles alive at once; 1024
                                     (max 65535) */
    int behaviour;                /* fa_behaviour_preset at start; 0: off */
    uint32_t max_sites;           /* (call site, tag) pairs counted apart;
                                     16384 (64 .. 1048576); more are counted
                                     in their tag's "other sites" row */
} fa_config_t;

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

/* Creates a context. cfg may be NULL (all defaults); it is copied. The
 * calling thread becomes the main thread. Returns NULL on failure (a value
 * out of the ranges above: FA_ERR_INVALID_ARG, also passed to cfg->error_cb;
 * or no memory: FA_ERR_NO_MEMORY). Reserves address space for the pools (no
 * memory is committed until used). Any thread; allocates. */
FA_API FA_NODISCARD fa_alloc_t *fa_create(const fa_config_t *cfg);

/* Releases all frame and pool memory and the context itself. Heap blocks
 * still live are not freed (FA_DEBUG lists them as leaks). MUST be called
 * when no other thread uses fa. NULL is ignored. */
FA_API void fa_destroy(fa_alloc_t *fa);

/* The configuration in force, defaults filled in. */
FA_API fa_config_t fa_config_effective(const fa_alloc_t *fa);

/* Makes the calling thread the main thread (the one whose fa_end_frame ends
 * the context's frame). Call between frames. */
FA_API void fa_set_main_thread(fa_alloc_t *fa);

/* ------------------------------------------------------------------------ */
/* Call sites                                                                */
/* ------------------------------------------------------------------------ */

/* 1 when call sites are compiled in (the default), 0 with FA_NO_SITES or
 * FA_MINIMAL. The library and the code using it MUST agree. */
#if defined(FA_NO_SITES) || defined(FA_MINIMAL)
#define FA_SITES 0
#else
#define FA_SITES 1
#endif

/* One allocating line of the program. The allocation macros place one in
 * static storage at each call (static, zero-initialised but for the fields
 * the compiler knows); the library numbers it on its first use. Sites are
 * program objects shared by every context of the process: their ids are
 * process-wide and stable until the process ends. A site MUST live as long
 * as any context counts it (static storage does; so does fa_site_intern):
 * a shared object whose sites were counted MUST NOT be unloaded while a
 * context or a snapshot of it is in use. Read-only for the program. */
typedef struct fa_site {
    const char *file;     /* __FILE__ */
    const char *function; /* __func__ ("" for the unknown sites) */
    uint32_t line;        /* 0 for the unknown sites */
    uint32_t kind;        /* fa_kind of the entry point (a pool site's
                             blocks above FA_POOL_MAX_SIZE count as heap) */
    uint32_t id;          /* 0 until its first use (written by the library) */
    uint32_t reserved;
} fa_site_t;

/* Ids below FA_SITE_FIRST are reserved: 0 is "other sites" in snapshot rows
 * (never a site), 1 + fa_kind the unknown site of each kind. */
#define FA_SITE_OTHER 0u
#define FA_SITE_UNKNOWN(kind) (1u + (uint32_t)(kind))
#define FA_SITE_FIRST 4u
/* At most this many sites get their own id in one process (ids are 16
 * bits); later ones are counted under the unknown site of their kind. */
#define FA_SITE_MAX 65535u

/* The site with this id, NULL for 0 and for ids not handed out. Any thread,
 * lock-free, O(1); the record lives as long as the process. */
FA_API const fa_site_t *fa_site_get(uint32_t id);
/* One more than the largest id handed out so far (FA_SITE_FIRST when none).
 * Any thread, O(1). */
FA_API uint32_t fa_site_count(void);
/* A site made at run time, for code that knows its caller's position only
 * then (C++ std::source_location, a script's file and line): the same
 * (file, function, line, kind) text always gives the same record, which
 * lives until the process ends. The strings are copied. NULL when out of
 * memory or when FA_SITE_MAX sites exist. Any thread; takes a process-wide
 * lock and allocates: call it once per position, not per allocation. */
FA_API fa_site_t *fa_site_intern(const char *file, const char *function, uint32_t line, fa_kind kind);

/* ------------------------------------------------------------------------ */
/* Frames                                                                    */
/* ------------------------------------------------------------------------ */

/* Begins a frame on the calling thread. O(1), no system call. Calling it
 * twice without fa_end_frame() is reported (FA_ERR_STATE) and ignored. */
FA_API void fa_begin_frame(fa_alloc_t *fa);

/* Ends the calling thread's frame: every frame allocation this thread made
 * since fa_begin_frame() is released at once. The arena keeps its chunks, so
 * a steady state makes no system call. A request that fits no chunk gets a
 * new one of 1.25 x its size (at least frame_chunk_bytes); at the frame end,
 * chunks this frame did not use are freed while the capacity exceeds twice
 * the largest need of the last 32 to 64 frames (or frame_chunk_bytes), and
 * if it still does the chunks are merged into one of 1.25 x the need: the
 * capacity stays within 2 x that need.
 * Cost on any thread: O(tags this thread used in the frame); no lock and no
 * atomic read-modify-write unless a budget applies (then the budget lock
 * for reading) or marks were promoted or retained (one lock).
 * On the main thread it also ends the context's frame: it folds the figures
 * of every thread that was active since the last end (O(tags each of them
 * touched)) plus a few nanoseconds per idle thread, holding only a lock that
 * exiting threads and fa_budget_set take (never one an allocation path
 * needs); runs the frame-end hooks (they still see the frame's memory and
 * figures; they run outside the library's own operations, so they may
 * allocate); then advances fa_frame_number(). With the behaviour filter on,
 * add O(tags the filter was fed during the frame) plus one load per 64 tags,
 * and once per window O(tags fed during the window). Measured:
 * bench/README.md (end_frame cases). */
FA_API void fa_end_frame(fa_alloc_t *fa);

/* Number of frames the main thread has ended. Any thread, O(1). */
FA_API uint64_t fa_frame_number(const fa_alloc_t *fa);

/* Called by the main thread's fa_end_frame() before the reset, in the order
 * registered. The hook runs on the main thread and MAY use the context
 * (snapshots, allocation) but MUST NOT call fa_end_frame(). Up to 8 hooks;
 * returns FA_OK, or FA_ERR_STATE when all 8 are taken. */
typedef void (*fa_frame_hook)(fa_alloc_t *fa, uint64_t frame, void *user);
FA_API int fa_on_frame_end(fa_alloc_t *fa, fa_frame_hook hook, void *user);
/* Removes a hook registered with the same function and user pointer. */
FA_API int fa_remove_frame_hook(fa_alloc_t *fa, fa_frame_hook hook, void *user);

/* Allocates size bytes aligned to align (a power of two up to 4096; 0 means
 * alignof(max_align_t)) from the calling thread's arena. Valid until that
 * thread's fa_end_frame(). Never frees individually. O(1): inline, a bump
 * pointer and one counter; the arena grows by a chunk (may call the OS) when
 * the current one is full. NULL on bad alignment (FA_ERR_BAD_ALIGN), a size
 * above PTRDIFF_MAX or whose alignment padding overflows (FA_ERR_OVERFLOW),
 * arena limit, hard budget under FAIL policy, or no memory. size 0 returns a
 * unique non-NULL pointer. */
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *
fa_frame_alloc(fa_alloc_t *fa, size_t size, size_t align);
/* fa_frame_alloc() counted for `site` (NULL: the unknown frame site). Every
 * allocating call below has such a _site twin, which its macro calls with
 * the site of the line that wrote it; use the twins directly only with a
 * site from fa_site_intern(). Counting a site costs a few instructions on
 * the inline path (the first allocation of a site under a new tag on a
 * thread takes the out-of-line path once). */
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *
fa_frame_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);

/* One contiguous block of count elements of size bytes each; the element
 * stride is size rounded up to align, and the block is aligned to align.
 * NULL with FA_ERR_OVERFLOW when count * stride overflows (or exceeds
 * PTRDIFF_MAX). Counts as one allocation. */
FA_API FA_NODISCARD FA_MALLOC_ATTR void *
fa_frame_alloc_batch(fa_alloc_t *fa, size_t size, size_t align, size_t count);
FA_API FA_NODISCARD FA_MALLOC_ATTR void *
fa_frame_alloc_batch_site(fa_alloc_t *fa, size_t size, size_t align, size_t count, fa_site_t *site);

/* Fixed-count batches: fill out[0..N-1] with N separate elements from one
 * bump (one bounds check, one accounting update) and return out[0], or NULL
 * (out untouched) on failure. The stride is size rounded up to align; size 0
 * counts as 1, so the N pointers are always distinct. */
FA_API FA_NODISCARD void *fa_frame_alloc2(fa_alloc_t *fa, size_t size, size_t align, void *out[2]);
FA_API FA_NODISCARD void *fa_frame_alloc4(fa_alloc_t *fa, size_t size, size_t align, void *out[4]);
FA_API FA_NODISCARD void *fa_frame_alloc8(fa_alloc_t *fa, size_t size, size_t align, void *out[8]);
FA_API FA_NODISCARD void *fa_frame_alloc2_site(fa_alloc_t *fa, size_t size, size_t align, void *out[2],
                                               fa_site_t *site);
FA_API FA_NODISCARD void *fa_frame_alloc4_site(fa_alloc_t *fa, size_t size, size_t align, void *out[4],
                                               fa_site_t *site);
FA_API FA_NODISCARD void *fa_frame_alloc8_site(fa_alloc_t *fa, size_t size, size_t align, void *out[8],
                                               fa_site_t *site);

#define FA_FRAME_NEW(fa, T) ((T *)fa_frame_alloc((fa), sizeof(T), FA__ALIGNOF(T)))
#define FA_FRAME_ARRAY(fa, T, n) ((T *)fa_frame_alloc_batch((fa), sizeof(T), FA__ALIGNOF(T), (n)))

/* Copies a NUL-terminated string into frame memory. NULL on failure. */
FA_API FA_NODISCARD char *fa_frame_strdup(fa_alloc_t *fa, const char *s);
/* printf into frame memory. NULL on failure or encoding error. */
FA_API FA_NODISCARD char *fa_frame_sprintf(fa_alloc_t *fa, const char *fmt, ...) FA_PRINTF(2, 3);
FA_API FA_NODISCARD char *fa_frame_strdup_site(fa_alloc_t *fa, const char *s, fa_site_t *site);
FA_API FA_NODISCARD char *fa_frame_sprintf_site(fa_alloc_t *fa, fa_site_t *site, const char *fmt, ...)
    FA_PRINTF(3, 4);

/* A position in the calling thread's arena. fa_frame_rollback() releases
 * everything allocated after the mark (in the same frame): fa_frame_used()
 * is again exactly what it was at the mark, across chunks too (the thread's
 * frame budget reads it). Statistics keep counting the released bytes as
 * allocated in this frame. */
typedef struct fa_frame_mark {
    uint64_t frame_id; /* the thread's frame serial when taken */
    uint32_t chunk;    /* index of the chunk */
    size_t offset;     /* offset in that chunk */
} fa_frame_mark_t;
FA_API fa_frame_mark_t fa_frame_mark(fa_alloc_t *fa);
/* FA_ERR_STATE if the mark is from another frame or thread position ahead. */
FA_API int fa_frame_rollback(fa_alloc_t *fa, fa_frame_mark_t mark);

/* Bytes currently used in the calling thread's arena (allocations and their
 * alignment padding, in every chunk the frame used), and its capacity (all
 * chunks; bounded as fa_end_frame() says). */
FA_API size_t fa_frame_used(fa_alloc_t *fa);
FA_API size_t fa_frame_capacity(fa_alloc_t *fa);

/* ------------------------------------------------------------------------ */
/* Pools and heap                                                            */
/* ------------------------------------------------------------------------ */

#define FA_POOL_MAX_SIZE 4096u

/* A block of at least size bytes from the size class that fits (16 B steps
 * up to 128, then quarter powers of two up to 4096), aligned to 16.
 * Above FA_POOL_MAX_SIZE it falls back to fa_heap_alloc(size, 16) and counts
 * as heap. O(1) from the thread cache, inline (GCC and Clang, not FA_DEBUG):
 * a class table, a pop, the tag's and the call site's counters, no lock, no
 * division; a tag under a budget, a site's first use under a tag, and an
 * empty cache take a call. A cache miss takes the class lock
 * once per batch; a depot miss carves a slab (no system call: the address
 * space is reserved at create). Slabs (64 KiB) are not tied to a class for
 * ever: when the reserve is used up, slabs whose blocks are all free in the
 * class depots are handed to the class that needs one (the calling thread's
 * caches are given back first), see also fa_pool_trim(). Any thread. size 0
 * gets a 16 B block. */
#if defined(__GNUC__) && !defined(FA_DEBUG) && !defined(FA_BUILDING_LIBRARY)
/* The common case is inline (see the end of this header): the calling
 * thread's cache of the class, a few counters, no lock, no division. */
#define FA__POOL_INLINE 1
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *fa_pool_alloc(fa_alloc_t *fa, size_t size);
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *fa_pool_alloc_site(fa_alloc_t *fa, size_t size,
                                                                                   fa_site_t *site);
#else
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *fa_pool_alloc(fa_alloc_t *fa, size_t size);
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *fa_pool_alloc_site(fa_alloc_t *fa, size_t size,
                                                                            fa_site_t *site);
#endif

/* Returns a block from fa_pool_alloc() (pool or heap fallback, found from
 * the pointer alone). Any thread, including one other than the allocating
 * thread. NULL is ignored. Inline like fa_pool_alloc (one multiply checks
 * that p starts a block and finds its index) for a block of the calling
 * thread's current tag, or of a tag this thread counted recently (an
 * adapter's tag, say); other blocks take a call. A pointer that fa does not own (a malloc block,
 * another context's block, an interior pointer, frame memory) is reported
 * (FA_ERR_FOREIGN_PTR) and ignored, without reading memory fa does not own.
 * A double free is reported (FA_ERR_DOUBLE_FREE) and ignored when the block
 * is a heap block, or a pool block still at the head of this thread's cache
 * (a free twice in a row); FA_DEBUG catches every pool double free. */
#if defined(FA__POOL_INLINE)
static inline void fa_pool_free(fa_alloc_t *fa, void *p);
#else
FA_API void fa_pool_free(fa_alloc_t *fa, void *p);
#endif

/* Gives back what the pools do not use: the calling thread's cached blocks
 * return to the class depots, every slab whose blocks are all free in a depot
 * joins a list of empty slabs that any class may take, and the empty slabs
 * beyond the first 16 (1 MiB) are returned to the OS (madvise DONTNEED: the
 * address space stays reserved, the memory is released). Blocks cached by
 * other threads are not touched. Call it between frames (after a level
 * unload, say): O(free blocks in the depots), takes each class lock in
 * turn. Returns the number of slabs returned to the OS. The same search runs
 * by itself when the reserve is used up. */
FA_API size_t fa_pool_trim(fa_alloc_t *fa);

/* The usable size of a pool or heap block (its class size for pool); 0 for
 * a pointer fa does not own, without reading it. */
FA_API size_t fa_block_size(fa_alloc_t *fa, const void *p);

/* A block from the system heap (malloc) with a small header, aligned to
 * align (power of two up to 4096; 0 means 16). Attributed to the current
 * tag. Every live heap block is entered in a registry (a hash set in
 * 16 locked shards), so that a free never reads memory fa does not own.
 * Any thread; calls malloc, takes one shard lock. NULL with FA_ERR_OVERFLOW
 * when size plus header and alignment exceeds PTRDIFF_MAX. */
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *
fa_heap_alloc(fa_alloc_t *fa, size_t size, size_t align);
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(2) void *
fa_heap_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);
/* Frees a block from fa_heap_alloc(). Any thread. NULL is ignored. A pointer
 * the registry does not hold is reported and ignored without being read:
 * FA_ERR_DOUBLE_FREE when it is a block freed earlier (as long as the
 * registry remembers it: until malloc hands the address to fa_heap_alloc
 * again or the registry is rebuilt), else FA_ERR_FOREIGN_PTR. */
FA_API void fa_heap_free(fa_alloc_t *fa, void *p);

/* Explicitly tagged heap blocks, for allocation hooks that a library calls
 * from any thread (integrations/ adapters): the block is attributed to
 * tag_id (from fa_tag_find()) whatever the calling thread's tag stack holds,
 * and charged to that tag's budgets. NULL with FA_ERR_INVALID_ARG for an
 * unknown tag id, otherwise as fa_heap_alloc(). Any thread; calls malloc. */
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *
fa_heap_alloc_tagged(fa_alloc_t *fa, int tag_id, size_t size, size_t align);
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *
fa_heap_alloc_tagged_site(fa_alloc_t *fa, int tag_id, size_t size, size_t align, fa_site_t *site);
/* realloc for heap blocks: a block of size bytes (same alignment as p) under
 * tag_id holding the first min(old, new size) bytes of p, which is freed;
 * p NULL allocates. On failure returns NULL and p is untouched. p MUST be a
 * live heap block of fa (a pool block is reported as FA_ERR_FOREIGN_PTR).
 * Always moves the block (allocate, copy, free): O(size). Hard budgets
 * judge what the resize leaves in use: p's bytes count as freed already
 * (a grow from 600 KB to 700 KB fits a 1 MB budget). Any thread. The
 * block's size is fa_block_size(). */
FA_API FA_NODISCARD FA_ALLOC_SIZE(3) void *fa_heap_realloc(fa_alloc_t *fa, void *p, size_t size, int tag_id);
FA_API FA_NODISCARD FA_ALLOC_SIZE(3) void *fa_heap_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag_id,
                                                                fa_site_t *site);

/* Explicitly tagged pool blocks, for allocation hooks that pass the old size
 * (Lua's lua_Alloc): fa_pool_alloc() attributed to tag_id (from
 * fa_tag_find()) whatever the calling thread's tag stack holds, and charged
 * to that tag's budgets; above FA_POOL_MAX_SIZE a heap block as
 * fa_heap_alloc_tagged(). NULL with FA_ERR_INVALID_ARG for an unknown tag id.
 * Free with fa_pool_free(). Any thread. Inline as fa_pool_alloc once the call
 * site has allocated under tag_id on this thread and the tag is on the
 * thread's fold list (with call sites on; otherwise only when tag_id is the
 * current tag); otherwise a call that switches the thread's current tag for
 * the allocation. */
#if defined(FA__POOL_INLINE)
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *fa_pool_alloc_tagged(fa_alloc_t *fa, int tag_id,
                                                                                      size_t size);
static inline FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *
fa_pool_alloc_tagged_site(fa_alloc_t *fa, int tag_id, size_t size, fa_site_t *site);
#else
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *fa_pool_alloc_tagged(fa_alloc_t *fa, int tag_id,
                                                                               size_t size);
FA_API FA_NODISCARD FA_MALLOC_ATTR FA_ALLOC_SIZE(3) void *fa_pool_alloc_tagged_site(fa_alloc_t *fa, int tag_id,
                                                                                    size_t size, fa_site_t *site);
#endif
/* realloc over pool and heap blocks: p (a block of fa_pool_alloc*() or
 * fa_heap_alloc*(), or NULL to allocate) becomes a block of at least size
 * bytes under tag_id holding the first min(old, new size) bytes. It stays in
 * place when size has p's size class and p is tag_id's (O(1), no copy); a
 * heap block resized above FA_POOL_MAX_SIZE is fa_heap_realloc(); anything
 * else moves (allocate, copy, free: O(size)), between pool and heap as the
 * new size says. Hard budgets judge what the resize leaves in use (p's bytes
 * count as freed already; FA_DEBUG builds count them until the free). On
 * failure returns NULL and p is untouched; a pointer fa does not own is
 * reported (FA_ERR_FOREIGN_PTR). size 0 is a 16 B block, not a free. Any
 * thread. */
FA_API FA_NODISCARD FA_ALLOC_SIZE(3) void *fa_pool_realloc(fa_alloc_t *fa, void *p, size_t size, int tag_id);
FA_API FA_NODISCARD FA_ALLOC_SIZE(3) void *fa_pool_realloc_site(fa_alloc_t *fa, void *p, size_t size, int tag_id,
                                                                fa_site_t *site);

/* ------------------------------------------------------------------------ */
/* Tags                                                                      */
/* ------------------------------------------------------------------------ */

#define FA_TAG_NAME_MAX 63   /* bytes in one path component */
#define FA_TAG_PATH_MAX 255  /* bytes in a whole path */
#define FA_TAG_STACK_MAX 32  /* nesting depth per thread */
#define FA_TAG_ROOT 0        /* the tag of untagged allocations, path "" */

/* Pushes a tag on the calling thread's stack: its id is the child `name` of
 * the current tag (created on first use). name may hold several components
 * ("physics/contacts"); each is [A-Za-z0-9_.-]+ (other bytes are accepted
 * too, except '/' and control characters). Returns the tag id (>= 0) or a
 * negative fa_err; on error nothing is pushed and fa_tag_pop() MUST NOT be
 * called for it. Lock-free lookup for existing tags; creating a tag takes
 * the registry lock. */
FA_API int fa_tag_push(fa_alloc_t *fa, const char *name);

/* Pushes the existing tag tag_id (from fa_tag_find(), an absolute path, not
 * a child of the current tag) on the calling thread's stack. Returns tag_id,
 * or FA_ERR_INVALID_ARG (unknown id) / FA_ERR_TAG_STACK; on error nothing is
 * pushed. Lock-free, O(1): resolve the path once, push the id every frame. */
FA_API int fa_tag_push_id(fa_alloc_t *fa, int tag_id);

/* Pops the calling thread's top tag. Underflow is reported (FA_ERR_TAG_STACK)
 * and ignored. O(1). */
FA_API void fa_tag_pop(fa_alloc_t *fa);

/* The calling thread's current tag id (FA_TAG_ROOT when none). */
FA_API int fa_tag_current(fa_alloc_t *fa);

/* The id of a tag path ("physics/contacts"), creating it (and its parents)
 * when create is true. "" is FA_TAG_ROOT. Negative fa_err on failure. A path
 * is checked whole before anything is created: a malformed one ("physics/",
 * "a//b": FA_ERR_TAG_NAME), one longer than FA_TAG_PATH_MAX, or one whose new
 * components do not all fit in the table (FA_ERR_TOO_MANY_TAGS) creates no
 * tag at all. The same holds for fa_tag_push(), fa_budget_set() and
 * fa_task_begin(). */
FA_API int fa_tag_find(fa_alloc_t *fa, const char *path, bool create);

/* The full path of a tag id, valid for the context's lifetime; NULL for an
 * unknown id. */
FA_API const char *fa_tag_path(const fa_alloc_t *fa, int tag_id);

/* Number of tags registered (the root included). */
FA_API uint32_t fa_tag_count(const fa_alloc_t *fa);

/* Scoped tags. The pop happens when the enclosing scope is left, however it
 * is left (end of block, return, break, continue, goto): it uses the
 * cleanup attribute of GCC and Clang.
 *
 *   FA_TAG_SCOPE(fa, "physics");    // statement form: until end of block
 *   FA_WITH_TAG(fa, "render") { }   // block form
 *
 * Rule: `break`/`continue` written directly inside an FA_WITH_TAG block leave
 * that block (it is a one-shot loop), not an enclosing loop of yours; use
 * FA_TAG_SCOPE inside loops where you need them. If the push fails, the
 * block still runs (allocations go to the enclosing tag) and nothing is
 * popped. */
typedef struct fa__tag_guard {
    fa_alloc_t *fa;
    int pushed; /* 1 if the push succeeded */
    int done;   /* FA_WITH_TAG's one-shot loop */
} fa__tag_guard_t;
FA_API fa__tag_guard_t fa__tag_guard_begin(fa_alloc_t *fa, const char *name);
FA_API void fa__tag_guard_end(fa__tag_guard_t *g);

#if defined(__GNUC__) || defined(__clang__)
#define FA__CAT2(a, b) a##b
#define FA__CAT(a, b) FA__CAT2(a, b)
#define FA_TAG_SCOPE(fa, name)                                                 \
    fa__tag_guard_t FA__CAT(fa__tag_scope_, __LINE__)                          \
        __attribute__((cleanup(fa__tag_guard_end), unused)) =                  \
            fa__tag_guard_begin((fa), (name))
#define FA_WITH_TAG(fa, name)                                                  \
    for (fa__tag_guard_t FA__CAT(fa__with_tag_, __LINE__)                      \
             __attribute__((cleanup(fa__tag_guard_end))) =                     \
             fa__tag_guard_begin((fa), (name));                                \
         !FA__CAT(fa__with_tag_, __LINE__).done;                               \
         FA__CAT(fa__with_tag_, __LINE__).done = 1)
#endif

/* ------------------------------------------------------------------------ */
/* Budgets                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct fa_budget_desc {
    uint64_t soft_bytes;     /* 0: no soft limit */
    uint64_t hard_bytes;     /* 0: no hard limit (and no 80 % warning) */
    fa_budget_policy policy; /* FA_POLICY_DEFAULT: the config's */
} fa_budget_desc_t;

/* Sets (or with both 0, clears) the budget of a tag path, creating the tag.
 * Usage is the tag's bytes including its children: frame bytes in the
 * current frames of all threads + live pool bytes (at block size) + live
 * heap bytes. The call may come at any moment from any thread (inside a
 * frame, while workers are inside theirs, on a child of a budgeted tag): it
 * recomputes the usage of every budget from those figures, so usage is
 * exact and never negative, and a hard budget under FA_POLICY_FAIL refuses
 * every allocation that would take it past hard, counting what the subtree
 * already held (an inline frame allocation racing with the call on another
 * thread is counted or not, and given back at its frame end accordingly). Events (see fa_budget_event_kind) go to
 * config.budget_cb. soft > hard (hard != 0) is FA_ERR_INVALID_ARG.
 * Cost: O(threads x tags), takes the budget lock for writing (allocations
 * under budgeted tags wait for it), asks the kernel for a memory barrier
 * (membarrier) and waits for allocations in progress on other threads to
 * finish. Each thread applies the new budget from its next allocation on.
 * MUST NOT be called from a budget or error callback. */
FA_API int fa_budget_set(fa_alloc_t *fa, const char *tag_path, size_t soft_bytes, size_t hard_bytes);
FA_API int fa_budget_set_ex(fa_alloc_t *fa, const char *tag_path, const fa_budget_desc_t *desc);
/* The budget of a tag; FA_ERR_NOT_FOUND when the path is unknown. */
FA_API int fa_budget_get(fa_alloc_t *fa, const char *tag_path, fa_budget_desc_t *out);

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */
/* ------------------------------------------------------------------------ */

/* "The frame" below is the context's frame (see FIGURES at the top). */
typedef struct fa_kind_totals {
    uint64_t in_use;      /* frame: frame bytes the threads have not
                             released yet (their open frames); pool/heap:
                             live bytes */
    uint64_t peak;        /* high-water mark of in_use within the frame,
                             tracked as it happens (not sampled): frame: the
                             sum over threads of each thread's largest frame
                             (what the arenas needed); pool/heap: the sum
                             over tags of each tag's high-water (exact when
                             one tag moves at a time, an upper bound
                             otherwise). Never below in_use. */
    uint64_t alloc_count; /* allocations made in the frame */
    uint64_t alloc_bytes; /* bytes allocated in the frame */
    uint64_t free_count;  /* frees made in the frame (pool/heap) */
} fa_kind_totals_t;

typedef struct fa_tag_usage {
    uint64_t frame_bytes; /* frame bytes in the threads' open frames */
    uint64_t pool_bytes;  /* live pool bytes (block sizes) */
    uint64_t heap_bytes;  /* live heap bytes (requested sizes) */
    uint64_t alloc_count; /* allocations of any kind in the current frame */
} fa_tag_usage_t;

typedef struct fa_tag_row {
    uint16_t id;
    uint16_t parent_id;    /* FA_TAG_ROOT's parent is itself */
    uint16_t depth;        /* 0 for the root, 1 for "physics" */
    const char *path;      /* valid for the context's lifetime */
    fa_tag_usage_t self;   /* allocations made with this tag current */
    fa_tag_usage_t total;  /* self + all descendants */
    uint64_t live_bytes;   /* total.frame + total.pool + total.heap */
    uint64_t peak_bytes;   /* high-water mark of live_bytes within the
                              frame, tracked per thread as it happens: the sum
                              over the tag, its descendants and the threads
                              of each one's frame, pool and heap high-waters.
                              Exact for one thread using one kind under one
                              tag; otherwise an upper bound; never below
                              live_bytes. A worker's frame that ended before
                              the main thread's frame end still counts. */
    uint64_t budget_soft;  /* 0 when none */
    uint64_t budget_hard;  /* 0 when none */
} fa_tag_row_t;

typedef struct fa_thread_row {
    uint32_t index;        /* registration order in the context */
    uint64_t frame_used;   /* frame bytes it has not released yet (its open
                              frame) */
    uint64_t frame_capacity; /* arena bytes reserved (all chunks) */
    uint64_t frames;       /* frames this thread has ended */
    uint32_t overflow_chunks; /* chunks beyond the first in use this frame */
    bool in_frame;
    uint64_t frame_peak;   /* its largest frame_used within the context's
                              frame, frames it ended since included */
} fa_thread_row_t;

/* A behaviour-filter finding (see fa_finding_code in the behaviour section
 * and docs/behaviour.md). */
typedef struct fa_finding {
    uint16_t code;   /* fa_finding_code */
    uint16_t tag_id; /* the tag the pattern was seen under */
    uint32_t kind;   /* fa_kind concerned */
    uint32_t count;  /* occurrences in the filter's window */
    uint64_t value;  /* code-specific figure (bytes, frames...), see the table */
} fa_finding_t;

/* Frame-retention outcomes of the frame that ended last (main thread). */
typedef struct fa_promotion_totals {
    uint64_t promoted_count, promoted_bytes; /* moved to pool or heap */
    uint64_t failed_count, failed_bytes;     /* could not be promoted */
    uint64_t retained_count, retained_bytes; /* kept for N more frames */
    uint64_t discarded_count, discarded_bytes; /* marked, then released */
} fa_promotion_totals_t;

/* Cross-thread transfers since the context was created. */
typedef struct fa_transfer_totals {
    uint64_t created, received, released, dropped_unreceived, in_flight;
} fa_transfer_totals_t;

/* One call site's figures under one tag in the frame, or (site_id
 * FA_SITE_OTHER) what a tag's sites that have no row of their own add up
 * to. For every tag, the rows with that tag_id add up exactly to the tag
 * row's self figures: count to self.alloc_count, live_bytes to
 * self.frame_bytes + self.pool_bytes + self.heap_bytes; and the bytes of
 * all rows add up to the kind totals' alloc_bytes. */
typedef struct fa_site_row {
    uint32_t site_id;      /* fa_site_get(site_id); FA_SITE_OTHER: the rest of the tag */
    uint16_t tag_id;       /* the tag current at the allocations */
    uint16_t reserved;
    const fa_site_t *site; /* NULL for FA_SITE_OTHER; lives as fa_site_get says */
    uint64_t bytes;        /* bytes allocated in the frame (frame, pool block
                              sizes, heap requests) */
    uint64_t count;        /* allocations made in the frame */
    uint64_t live_bytes;   /* frame bytes in the threads' open frames + live
                              pool and heap bytes from this site */
} fa_site_row_t;

/* 2: per-frame peaks, fa_thread_row_t.frame_peak, 64-bit transfer ids.
 * 3: call-site rows (sites, sites_capacity, site_count, sites_total).
 * 4: work left to another thread (defer, site_rows_max, rows_unsummed,
 *    sites_unranked, fa_snapshot_finish()). */
#define FA_SNAPSHOT_VERSION 4

/* Caller-owned. Set rows/rows_capacity (and threads/threads_capacity) to
 * arrays you own before fa_snapshot_take(); they may be NULL/0. */
typedef struct fa_snapshot {
    uint32_t size;    /* sizeof(fa_snapshot_t), filled by take */
    uint32_t version; /* FA_SNAPSHOT_VERSION */
    uint64_t frame;   /* fa_frame_number() at the time of the snapshot */
    uint64_t frame_start_ns; /* CLOCK_MONOTONIC of the main thread's begin */
    uint64_t frame_duration_ns; /* begin .. snapshot (or .. end in a hook) */
    fa_kind_totals_t totals[FA_KIND_COUNT_];
    fa_tag_row_t *rows;
    uint32_t rows_capacity;
    uint32_t row_count; /* rows written (the root first, then by id) */
    uint32_t tag_count; /* tags that exist; > row_count means truncated */
    fa_thread_row_t *threads;
    uint32_t threads_capacity;
    uint32_t thread_count;
    uint32_t threads_total;
    fa_finding_t *findings; /* behaviour-filter findings of this frame */
    uint32_t findings_capacity;
    uint32_t finding_count;
    uint32_t findings_total;
    fa_promotion_totals_t promotions;
    fa_transfer_totals_t transfers;
    /* Call sites (FA_SITES), largest first (by the larger of bytes and
     * live_bytes), then one FA_SITE_OTHER row per tag whose other sites did
     * not get a row, by tag id. */
    fa_site_row_t *sites;
    uint32_t sites_capacity;
    uint32_t site_count;  /* rows written */
    uint32_t sites_total; /* (site, tag) pairs with figures in the frame */
    /* Work left to another thread (set before the take; 0: none). With
     * defer set, the take leaves two steps to fa_snapshot_finish(), which
     * any thread may run later: the rows' total, live_bytes and peak_bytes
     * hold only each tag's own figures until it sums them up the tag tree
     * (rows_unsummed); and when every active (site, tag) pair fits in
     * sites_capacity, the take copies the pairs as they are (site_count ==
     * sites_total rows in the context's order, `site` NULL, each tag's
     * overflow as an FA_SITE_OTHER row, unsorted; they already add up to the
     * tag rows) for it to rank into the rows a take with sites_capacity ==
     * site_rows_max would have written (sites_unranked). When they do not
     * fit, the take ranks them itself, to at most site_rows_max rows. */
    uint32_t defer;
    uint32_t site_rows_max;  /* with defer: site rows once ranked; 0: sites_capacity */
    uint32_t rows_unsummed;  /* set by the take: see defer */
    uint32_t sites_unranked; /* set by the take: see defer */
} fa_snapshot_t;

/* Fills snap with the context's figures now: per-kind totals, one row per
 * tag (ids in increasing order; parents come before children) and one row
 * per thread. Any thread, any time. Allocates nothing and takes no lock;
 * cost O(tags x depth) plus O(tags each active thread touched) plus a few
 * nanoseconds per idle thread. Figures of threads that run meanwhile are read
 * as they are (each one exact; an allocation is never counted twice); if the
 * main thread ends a frame during the call, it starts again, and after 8
 * tries it takes the lock frame ends fold under (holding up the next one for
 * the length of one snapshot). Counts are 64-bit and never wrap. Called in a frame-end hook on
 * the main thread it returns the figures of the frame that is ending, as
 * fa_end_frame() collected them (what the hooks allocate counts in the next
 * frame). Returns FA_OK, or FA_ERR_TRUNCATED when a provided array
 * (capacity > 0) was too small: what fit is written, and every total (kind
 * totals, rows' `total`, live and peak bytes) still includes every tag. The
 * sum of all rows' `self` figures equals the totals (frame bytes, pool and
 * heap live bytes, allocation counts). In FA_MINIMAL rows read zero.
 * Site rows (sites_capacity > 0): the snapshot also reads every (site, tag)
 * pair the context counts, O(pairs), and takes a lock that only other
 * snapshots with site rows take. When more pairs are active than fit, the
 * largest get rows and each tag's remainder one FA_SITE_OTHER row; if even
 * those do not fit, FA_ERR_TRUNCATED (the rows written are still exact). */
FA_API int fa_snapshot_take(fa_alloc_t *fa, fa_snapshot_t *snap);

/* Finishes a snapshot taken with defer set (see fa_snapshot_t): sums the
 * rows up the tag tree, then ranks the raw site rows into rows[]
 * (site_rows_max entries, not overlapping snap->sites), points snap->sites
 * at rows and sets sites_capacity = site_rows_max and site_count. Clears
 * rows_unsummed and sites_unranked. work: scratch of work_count >=
 * site_count + tag_count entries (sites_capacity + the context's max_tags
 * always suffice). Needs no context: any thread, any time after the take,
 * while the tag paths and site records live. No allocation, no lock;
 * O(rows + n log site_rows_max + tag_count) for n raw site rows. Returns
 * FA_OK (also when nothing was left to do), FA_ERR_TRUNCATED when not even
 * one FA_SITE_OTHER row per tag fit (the rows written are still exact), or
 * FA_ERR_INVALID_ARG (NULL snap; with site rows to rank: NULL rows or work,
 * site_rows_max 0, work_count too small, a tag_id not below tag_count),
 * leaving snap as it was. */
FA_API int fa_snapshot_finish(fa_snapshot_t *snap, fa_site_row_t *rows, uint64_t *work, size_t work_count);

/* ------------------------------------------------------------------------ */
/* Retention and promotion                                                   */
/* ------------------------------------------------------------------------ */

/* What happens to a marked frame allocation when its thread ends the frame. */
typedef enum fa_retain_policy {
    FA_RETAIN_DISCARD = 0,      /* released with the frame (the default) */
    FA_RETAIN_PROMOTE_POOL = 1, /* copied into a pool block (<= 4096 bytes) */
    FA_RETAIN_PROMOTE_HEAP = 2, /* copied into a heap block */
    FA_RETAIN_FRAMES = 3        /* kept valid for N more frames of the thread,
                                   then released automatically */
} fa_retain_policy;

/* Marks size bytes at p, a frame allocation the calling thread made in its
 * current frame, to survive the frame end as policy says. The copy is
 * attributed to the tag that was current at the mark. frames is the N of
 * FA_RETAIN_FRAMES (1..65535), ignored otherwise. Returns FA_OK, or
 * FA_ERR_INVALID_ARG, FA_ERR_CROSS_THREAD (p is not in this thread's arena),
 * FA_ERR_NOT_IN_FRAME, FA_ERR_TRUNCATED (more than config.max_retained marks
 * this frame: the block is then simply released). The whole range
 * [p, p + size) MUST lie in what this frame allocated, in one chunk
 * (checked without wrapping). O(chunks), no allocation. */
FA_API int fa_frame_retain(fa_alloc_t *fa, void *p, size_t size, fa_retain_policy policy, uint32_t frames);
/* The promoted or kept copy is counted for `site` (the unknown site of its
 * kind for NULL). */
FA_API int fa_frame_retain_site(fa_alloc_t *fa, void *p, size_t size, fa_retain_policy policy, uint32_t frames,
                                fa_site_t *site);

/* fa_frame_alloc() + fa_frame_retain(). NULL when either fails. */
FA_API FA_NODISCARD void *fa_frame_alloc_retained_site(fa_alloc_t *fa, size_t size, size_t align,
                                                       fa_retain_policy policy, uint32_t frames, fa_site_t *site);
FA_API FA_NODISCARD void *fa_frame_alloc_retained(fa_alloc_t *fa, size_t size, size_t align,
                                                  fa_retain_policy policy, uint32_t frames);

/* Why a promotion failed (fa_promotion_t.error is a negative fa_err too). */
typedef struct fa_promotion {
    void *old_ptr;           /* the frame address (invalid after the end) */
    void *new_ptr;           /* the pool/heap/kept copy; NULL on failure */
    size_t size;
    uint16_t tag_id;
    fa_retain_policy policy; /* the destination asked for */
    int error;               /* FA_OK, or FA_ERR_BUDGET, FA_ERR_NO_MEMORY,
                                FA_ERR_INVALID_ARG (too large for a pool) */
} fa_promotion_t;

typedef struct fa_promotion_tag_summary {
    uint16_t tag_id;
    uint32_t promoted_count, failed_count, retained_count, discarded_count;
    uint64_t promoted_bytes, failed_bytes, retained_bytes, discarded_bytes;
} fa_promotion_tag_summary_t;

/* What fa_end_frame_with_promotions() hands back. The arrays belong to the
 * calling thread's state and stay valid until its next fa_begin_frame(). */
typedef struct fa_promotion_result {
    const fa_promotion_t *items; /* one per mark, in marking order */
    uint32_t count;
    const fa_promotion_tag_summary_t *by_tag;
    uint32_t tag_count;
    fa_promotion_totals_t totals;
} fa_promotion_result_t;

/* fa_end_frame(), and out receives what the marks of this frame became.
 * Promoted blocks are ordinary pool/heap blocks: free them with
 * fa_pool_free()/fa_heap_free(). FA_RETAIN_FRAMES copies are released by
 * the library after their N frames and MUST NOT be freed by the caller.
 * Allocates only the promoted copies themselves. out may be NULL. */
FA_API void fa_end_frame_with_promotions(fa_alloc_t *fa, fa_promotion_result_t *out);

/* ------------------------------------------------------------------------ */
/* Threads: transfers, barrier, per-thread budgets                           */
/* ------------------------------------------------------------------------ */

/* A transfer handle: a slot and a 48-bit generation, so a stale handle is
 * detected (it would take 2^48 reuses of one slot to come back). */
typedef struct fa_transfer {
    uint64_t id; /* 0 is never a valid handle */
} fa_transfer_t;

typedef enum fa_transfer_state {
    FA_TRANSFER_INVALID = 0,
    FA_TRANSFER_OWNED = 1,     /* created; the sender fills the payload */
    FA_TRANSFER_IN_FLIGHT = 2, /* sent; nobody may touch the payload */
    FA_TRANSFER_RECEIVED = 3,  /* the receiver owns the payload */
    FA_TRANSFER_RELEASED = 4   /* gone; the handle is stale */
} fa_transfer_state;

/* Creates a transfer whose payload (size bytes, 16-aligned, pool or heap
 * memory outside any frame) the calling thread fills, then sends. The
 * payload stays valid until the receiver releases it, whatever frames pass
 * on either thread. Returns {0} on failure (fa_last_error()). Any thread;
 * takes the transfer lock once; allocates the payload. */
FA_API fa_transfer_t fa_transfer_create(fa_alloc_t *fa, size_t size);
/* Creates a transfer holding a copy of size bytes of frame data at p. The
 * whole range MUST lie in what the calling thread allocated in its current
 * frame (in one chunk): otherwise {0} with FA_ERR_CROSS_THREAD. */
FA_API fa_transfer_t fa_transfer_from_frame(fa_alloc_t *fa, const void *p, size_t size);
/* The payload of an OWNED handle, for the sender to fill. NULL otherwise. */
FA_API void *fa_transfer_data(fa_alloc_t *fa, fa_transfer_t h);
/* OWNED -> IN_FLIGHT. FA_ERR_TRANSFER for a stale handle or another state. */
FA_API int fa_transfer_send(fa_alloc_t *fa, fa_transfer_t h);
/* IN_FLIGHT -> RECEIVED, on any thread: returns the payload and its size.
 * A handle is received at most once: a second receive returns NULL and
 * reports FA_ERR_TRANSFER. Lock-free (one CAS). */
FA_API void *fa_transfer_receive(fa_alloc_t *fa, fa_transfer_t h, size_t *size);
/* RECEIVED -> RELEASED: frees the payload; the handle becomes stale. */
FA_API int fa_transfer_release(fa_alloc_t *fa, fa_transfer_t h);
/* Abandons an OWNED or IN_FLIGHT handle: the payload is freed and the drop
 * is counted and reported (FA_ERR_DROPPED). Handles still in flight at
 * fa_destroy() are dropped the same way. */
FA_API int fa_transfer_drop(fa_alloc_t *fa, fa_transfer_t h);
/* The state of a handle (FA_TRANSFER_RELEASED for a stale one). */
FA_API fa_transfer_state fa_transfer_state_of(fa_alloc_t *fa, fa_transfer_t h);

/* A frame barrier: N parties signal that their frame work is done; waiters
 * wake when all N have signalled. Generation-counted: round r completes when
 * the r-th set of N signals is in, so it is reused every frame and a waiter
 * that comes late returns at once (no lost wake-up: the completing signal
 * broadcasts under the lock). Caller-owned storage (_init/_fini). A party
 * MUST NOT signal round r+1 before round r completed (use
 * fa_barrier_arrive_and_wait for that). */
typedef struct fa_barrier {
    uint64_t opaque[16]; /* a mutex, a condition variable, counters */
} fa_barrier_t;
#define FA_WAIT_FOREVER UINT64_MAX
/* FA_OK or FA_ERR_INVALID_ARG (parties 0) / FA_ERR_SYSTEM. */
FA_API int fa_barrier_init(fa_barrier_t *b, uint32_t parties);
/* MUST be called with no thread inside a barrier call. */
FA_API void fa_barrier_fini(fa_barrier_t *b);
/* Signals one party's arrival without waiting; returns the round number the
 * signal counts toward (1 for the first round). */
FA_API uint64_t fa_barrier_signal(fa_barrier_t *b);
/* Waits until round `round` has completed, or timeout_ns passed
 * (FA_WAIT_FOREVER: no limit). FA_OK or FA_ERR_TIMEOUT. */
FA_API int fa_barrier_wait(fa_barrier_t *b, uint64_t round, uint64_t timeout_ns);
/* Signal, then wait for that round: a classic barrier among N parties. */
FA_API int fa_barrier_arrive_and_wait(fa_barrier_t *b, uint64_t timeout_ns);
/* Rounds completed so far. */
FA_API uint64_t fa_barrier_rounds(fa_barrier_t *b);

/* A frame budget for the calling thread's arena: bytes allocated per frame
 * (soft/hard, same events and policies as tag budgets, with
 * fa_budget_event_t.thread_budget set). Both 0 clear it. Thread-local: call
 * it on the thread concerned. */
FA_API int fa_thread_budget_set(fa_alloc_t *fa, const fa_budget_desc_t *desc);

/* ------------------------------------------------------------------------ */
/* Behaviour filter                                                          */
/* ------------------------------------------------------------------------ */

/* Pattern codes (stable; docs/behaviour.md has meaning, threshold, fix). */
#define FA_FINDING_TABLE(X)                                                                        \
    X(FA_FIND_FRAME_RETAINED_OFTEN, 1, "frame data promoted or retained in most frames",            \
      "allocate it from a pool or the heap in the first place")                                     \
    X(FA_FIND_POOL_SAME_FRAME_FREE, 2, "pool blocks freed in the frame they were allocated",        \
      "use frame memory (fa_frame_alloc) for data that dies with the frame")                        \
    X(FA_FIND_PROMOTION_CHURN, 3, "promoted blocks freed again within a few frames",                \
      "keep the data for N frames (FA_RETAIN_FRAMES) or do not promote it")                         \
    X(FA_FIND_HEAP_IN_HOT_PATH, 4, "heap allocations inside most frames",                           \
      "use a pool for small blocks or allocate once outside the frame loop")                        \
    X(FA_FIND_OUTSIDE_FRAME, 5, "frame allocations outside fa_begin_frame/fa_end_frame",             \
      "bracket the code with fa_begin_frame/fa_end_frame or use the pool")                          \
    X(FA_FIND_ARENA_OVERFLOW, 6, "frame arena outgrew its chunk and allocated during a frame",       \
      "raise frame_chunk_bytes to at least the reported peak")                                      \
    X(FA_FIND_BUDGET_BREACH, 7, "budget exceeded or allocations refused",                           \
      "raise the budget or reduce the tag's memory")

typedef enum fa_finding_code {
#define FA__FIND_ENUM(name, value, meaning, fix) name = value,
    FA_FINDING_TABLE(FA__FIND_ENUM)
#undef FA__FIND_ENUM
        FA_FIND_COUNT_ = 8
} fa_finding_code;

typedef enum fa_behaviour_preset {
    FA_BEHAVIOUR_OFF = 0,
    FA_BEHAVIOUR_DEFAULT = 1,
    FA_BEHAVIOUR_STRICT = 2, /* shorter window, lower thresholds */
    FA_BEHAVIOUR_RELAXED = 3 /* longer window, higher thresholds */
} fa_behaviour_preset;

/* Turns the filter on (or off with FA_BEHAVIOUR_OFF) at run time. Off, it
 * costs nothing on the pool and inline frame paths (the per-tag flag the
 * pool path reads for budgets also says whether the filter is on) and one
 * predictable branch on the heap path. On, pool operations leave the inline
 * path: an allocation notes its block in the calling thread's set of this
 * frame's blocks, a free looks it up and counts per tag in the calling
 * thread's own state, which the thread's fa_end_frame adds to the shared
 * counters (so no allocation path writes a line another thread writes; a
 * worker's frees count in the context frame during which it ends its
 * frame). The main thread's frame end collects the tags fed during the
 * frame. O(tags), takes the tag registry lock. Any thread;
 * takes effect at the next frame. Compiled out in FA_MINIMAL (returns
 * FA_ERR_STATE there). */
FA_API int fa_behaviour_enable(fa_alloc_t *fa, fa_behaviour_preset preset);
/* Copies the findings of the last evaluation (done by the main thread at
 * each frame end, over the preset's window of frames) into out[0..cap) and
 * returns how many exist (may exceed cap). No allocation. */
FA_API uint32_t fa_behaviour_report(fa_alloc_t *fa, fa_finding_t *out, uint32_t cap);
/* The stable name ("FA_FIND_POOL_SAME_FRAME_FREE"), meaning and advice of a
 * code. Static strings; "unknown" for other values. */
FA_API const char *fa_finding_name(int code);
FA_API const char *fa_finding_meaning(int code);
FA_API const char *fa_finding_advice(int code);

/* ------------------------------------------------------------------------ */
/* Task allocator                                                            */
/* ------------------------------------------------------------------------ */

/* Memory for one asynchronous task (a libuv work item, a job): pool or heap
 * blocks that are all released by fa_task_end(). Frame memory is never
 * handed to a task, so a task may outlive the frame that started it. A task
 * may move between threads (begin on one, allocate on a worker, end on a
 * third) but MUST be used by one thread at a time. */
typedef struct fa_task fa_task_t;

/* Starts a task whose allocations are attributed to tag_path ("" or NULL:
 * the calling thread's current tag). NULL on failure. Allocates the task
 * record from the pool. */
FA_API FA_NODISCARD fa_task_t *fa_task_begin(fa_alloc_t *fa, const char *tag_path);
FA_API FA_NODISCARD fa_task_t *fa_task_begin_site(fa_alloc_t *fa, const char *tag_path, fa_site_t *site);
/* A 16-aligned block owned by the task. NULL on failure (FA_ERR_OVERFLOW
 * for a size near SIZE_MAX). */
FA_API FA_NODISCARD FA_MALLOC_ATTR void *fa_task_alloc(fa_task_t *task, size_t size);
FA_API FA_NODISCARD FA_MALLOC_ATTR void *fa_task_alloc_site(fa_task_t *task, size_t size, fa_site_t *site);
/* Releases one block early (optional). A pointer that is not a live block
 * of this task (another task's, a malloc block, an interior pointer) is
 * reported (FA_ERR_FOREIGN_PTR) and ignored, without reading memory fa does
 * not own. */
FA_API void fa_task_free(fa_task_t *task, void *p);
/* Bytes and blocks the task holds now. */
FA_API size_t fa_task_bytes(const fa_task_t *task);
/* Releases every block of the task and the task. NULL is ignored. */
FA_API void fa_task_end(fa_task_t *task);

/* ------------------------------------------------------------------------ */
/* Debug build (FA_DEBUG)                                                    */
/* ------------------------------------------------------------------------ */

/* FA_DEBUG adds 16-byte guards after pool and heap blocks (and a 32-byte
 * header before pool blocks), poisons freed blocks (0xDF) and reset frame
 * memory (0xDD), and reports double frees, foreign pointers and guard
 * overwrites through the error hook with the call site. fa_destroy()
 * reports each block still live as FA_ERR_LEAK with its allocation
 * backtrace (to stderr when there is no hook); the backtrace names your
 * functions when the program is linked with -rdynamic and they are not
 * hidden. Pool and heap figures then include the guard and header bytes.
 * The _at variants record the call site for those reports. In FA_DEBUG
 * builds the plain names expand to them, and an allocation made from inside
 * a budget or error callback is reported (FA_ERR_STATE). */
FA_API FA_NODISCARD void *fa_pool_alloc_at(fa_alloc_t *fa, size_t size, const char *file, int line);
FA_API void fa_pool_free_at(fa_alloc_t *fa, void *p, const char *file, int line);
FA_API FA_NODISCARD void *fa_heap_alloc_at(fa_alloc_t *fa, size_t size, size_t align, const char *file,
                                           int line);
FA_API void fa_heap_free_at(fa_alloc_t *fa, void *p, const char *file, int line);
/* What every build detects (release included): sizes that overflow,
 * foreign pointers (a malloc block, another context's block, an interior
 * pointer, frame memory) and heap double frees, without reading memory that
 * is not fa's (see fa_pool_free and fa_heap_free). FA_DEBUG adds every pool
 * double free, guard overwrites, leaks and call sites.
 * Number of pool and heap blocks live now (FA_DEBUG: exact; otherwise 0). */
FA_API size_t fa_debug_live_blocks(fa_alloc_t *fa);

#if defined(FA_DEBUG) && !defined(FA_BUILDING_LIBRARY)
/* With call sites (GCC, Clang) the allocation names pass their site, whose
 * file and line the reports use; see the end of this header. */
#if !(FA_SITES && (defined(__GNUC__) || defined(__clang__)))
#define fa_pool_alloc(fa, size) fa_pool_alloc_at((fa), (size), __FILE__, __LINE__)
#define fa_heap_alloc(fa, size, align) fa_heap_alloc_at((fa), (size), (align), __FILE__, __LINE__)
#endif
#define fa_pool_free(fa, p) fa_pool_free_at((fa), (p), __FILE__, __LINE__)
#define fa_heap_free(fa, p) fa_heap_free_at((fa), (p), __FILE__, __LINE__)
#endif

/* ------------------------------------------------------------------------ */
/* Internals of the inline fast path. Not API: may change in any version.   */
/* ------------------------------------------------------------------------ */

/* C and C++ see the same plain fields: the ones another thread reads or
 * writes are accessed with the GCC/Clang __atomic builtins (relaxed, plain
 * moves on x86-64), so one layout and one code path serve both languages
 * without C11 _Atomic, which C++ does not have. */

/* A thread's frame allocations of the current window, one word per tag id:
 * bytes in the low 40 bits, count above. A window is at most
 * FA__WINDOW_BYTES of arena, so neither field can overflow; the slow path
 * moves the words into 64-bit counters when a window closes. */
#define FA__PACKED_COUNT_SHIFT 40
#define FA__PACKED_BYTES_MASK ((UINT64_C(1) << FA__PACKED_COUNT_SHIFT) - 1)
#define FA__WINDOW_BYTES ((size_t)1 << 23)

/* What a thread counts for one call site: the (site, tag) entry its
 * allocations there go to while `key` is the current tag + 1 (0: none),
 * and, for the inline frame path, the frame bytes and count of the current
 * window not yet moved into that entry and into the tag's figures (packed
 * as above; with call sites the inline path counts here only, and the
 * slots keyed to a tag are linked so that its window can be summed). One
 * per site id, indexed by fa_site_t.id; slot 0 never matches, so a site
 * without an id yet takes the out-of-line path, which numbers it. */
typedef struct fa__site_slot {
    uint32_t key;    /* tag + 1 of `entry` */
    uint32_t entry;  /* the thread's (site, tag) entry */
    uint64_t packed; /* read by other threads */
    void *stat;      /* that entry (the library's) */
    uint32_t head;   /* first entry of this site on the thread + 1 */
    uint32_t next;   /* the next slot keyed to the same tag: site id + 1 */
} fa__site_slot_t;

/* Pools. 28 size classes (16 B steps up to 128, then quarter powers of two
 * up to 4096) in 64 KiB slabs; a slab header is followed by one owner word
 * per block (FA__OWNER: the block's tag and call site while allocated),
 * then the blocks. A free block links to the next through its first 8
 * bytes: the pointer in the low 48 bits (user-space addresses fit), the
 * block's own index in its slab in the high 16, so that an allocation finds
 * the block's owner word without a division. */
#define FA__NCLASS 28
#define FA__SLAB_SIZE ((size_t)64 * 1024)
#define FA__SLAB_MAGIC 0xFA51AB01u
#define FA__LINK_SHIFT 48
#define FA__LINK_MASK ((UINT64_C(1) << FA__LINK_SHIFT) - 1)
#define FA__OWNER(tag, site) ((uint32_t)(tag) | (uint32_t)(site) << 16)
#define FA__OWNER_TAG(o) ((o)&0xFFFFu)
#define FA__OWNER_SITE(o) ((o) >> 16)

static const uint16_t fa__class_size[FA__NCLASS] = {16,  32,  48,  64,  80,   96,   112,  128,  160,  192,
                                                    224, 256, 320, 384, 448,  512,  640,  768,  896,  1024,
                                                    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096};
/* (size + 15) / 16 -> class, for sizes 0..4096. */
static const uint8_t fa__class_of[257] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  8,  9,  9,  10, 10, 11, 11, 12, 12, 12, 12, 13, 13, 13, 13, 14,
    14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17, 17, 17, 17, 17, 17, 18, 18, 18,
    18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20, 20,
    20, 20, 20, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22,
    22, 22, 22, 22, 22, 22, 22, 22, 22, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 24,
    24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24,
    24, 24, 24, 24, 24, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
    25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26,
    26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 27,
    27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27};

/* A slab's header. A block's index is found from its address without a
 * division: x = offset - first_offset must have its low `shift` bits clear,
 * and (x >> shift) times the inverse of block_size's odd factor (mod 2^32)
 * is then the index if and only if that odd factor divides it, which makes
 * the product below block_count; any other address gives a product at or
 * above it (exact division by multiplication). */
typedef struct fa__slab {
    uint32_t magic;
    uint16_t class_index;
    uint16_t decommitted; /* empty and returned to the OS */
    uint32_t block_size;
    uint32_t block_count;
    uint32_t first_offset; /* of block 0 from the slab start */
    uint32_t shift;        /* trailing zero bits of block_size */
    uint32_t odd_inverse;  /* (block_size >> shift)^-1 mod 2^32 */
    uint32_t scan_free;    /* reclaim scan: free blocks seen */
    uint64_t context_id;
    struct fa__slab *next_empty; /* empty list (pool lock) */
    uint32_t scan_round;
    uint32_t low_mask; /* (1 << shift) - 1 */
} fa__slab_t; /* 56 bytes; the owner words follow */
#define FA__SLAB_OWNERS(s) ((uint32_t *)(void *)((char *)(s) + sizeof(fa__slab_t)))

/* A thread's free list of one class. */
typedef struct fa__pool_cache {
    void *head;     /* first free block (a plain pointer) */
    uint32_t count; /* blocks in the list */
    uint32_t max;   /* more than this: a batch goes back to the depot */
} fa__pool_cache_t;

/* A thread's pool or heap figures for one tag (see internal.h): count,
 * bytes, frees, freed bytes and the high-water mark of the net bytes. */
typedef struct fa__phstat {
    uint64_t count, bytes, frees, free_bytes;
    int64_t hw;
} fa__phstat_t;
/* Each tag's figures take 1 << FA__TSTAT_SHIFT bytes, pool's first; at
 * these offsets (checked in internal.h) the activity once the last
 * operation that changed them ended (uint64_t) and whether the tag is in the
 * thread's list of tags the fold visits (uint32_t, owner only). */
#define FA__TSTAT_SHIFT 8
#define FA__TSTAT_LAST_CHANGE 128
#define FA__TSTAT_LISTED 136

/* A thread's figures for one (call site, tag) pair; the first cache line
 * is what a pool operation touches. */
typedef struct fa__site_stat {
    uint32_t site, tag;
    uint32_t fig;  /* the context's figure this entry folds into */
    uint32_t next; /* the next entry of the same site on this thread + 1 */
    /* Cumulative, written by the owner (frame figures exclude the site
     * slot's packed window while the slot points here). */
    uint64_t count[2], bytes[2], freed[2]; /* pool, heap */
    uint64_t frame_count, frame_bytes, frame_released;
    uint32_t tag_next; /* the next entry of the same tag on this thread + 1 */
    uint32_t pad32;
    uint64_t pad[4];
} fa__site_stat_t;

/* The first cache line is what the frame path and the main thread's frame
 * end read (activity, state); the pool caches follow. */
typedef struct fa__fast {
    char *cur;        /* bump pointer (owner only) */
    char *end;        /* end of the fast window: the chunk's end or sooner */
    uint64_t *packed; /* per tag id, see above; read by other threads */
    uint32_t tag;     /* current tag id (owner only) */
    uint32_t slow;    /* non-zero: frame allocations take the slow path
                         (outside a frame, a budget applies, or another
                         thread asked for a recheck: written by others) */
    fa__site_slot_t *site_slots; /* FA_SITE_MAX + 1 slots (FA_SITES), else NULL */
    /* Odd while the thread is inside an operation that reads budget flags
     * or changes its figures, even between (internal.h, fa__op_begin). */
    uint64_t activity;
    uint64_t seen_activity; /* written by the folding thread */
    uint32_t state;         /* atomic: the record's state */
    uint32_t in_frame_pub;  /* atomic: in a frame, for other threads */
    void *stats;            /* per tag, 1 << FA__TSTAT_SHIFT bytes each */
    fa__pool_cache_t pool[FA__NCLASS];
} fa__fast_t;

/* The calling thread's cached (context, fast state) pair. */
typedef struct fa__tls {
    const fa_alloc_t *fa;
    uint64_t fa_id;
    fa__fast_t *fast;
} fa__tls_t;

#if defined(__cplusplus)
extern FA_API __thread fa__tls_t fa__tls;
#else
extern FA_API _Thread_local fa__tls_t fa__tls;
#endif

/* The unknown site of each kind (ids 1..3): what direct calls count as. */
extern FA_API fa_site_t fa__site_unknown[FA_KIND_COUNT_];

/* What every context starts with. The id is unique, so a cache entry left
 * by a destroyed context at the same address is never mistaken for it. */
typedef struct fa__ctx_head {
    uint64_t id;
    const uint8_t *tag_flags; /* per tag: non-zero when its pool and heap
                                 operations take the slow path (a budget
                                 applies or the behaviour filter is on) */
    uintptr_t pool_base;      /* the pools' reserved range, slab-aligned */
    uint64_t pool_used;       /* bytes of it handed out as slabs (atomic) */
} fa__ctx_head_t;

static inline const fa__ctx_head_t *fa__head(const fa_alloc_t *fa) {
    return (const fa__ctx_head_t *)(const void *)fa;
}
static inline uint64_t fa__context_id(const fa_alloc_t *fa) { return fa__head(fa)->id; }

FA_API void *fa__frame_alloc_slow(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);

static inline void *fa_frame_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site) {
#if defined(__GNUC__)
    const fa__tls_t *tls = &fa__tls;
    if (FA_LIKELY(tls->fa == fa && tls->fa_id == fa__context_id(fa))) {
        fa__fast_t *t = tls->fast;
        uintptr_t a = align ? (uintptr_t)align : (uintptr_t)FA__ALIGNOF(max_align_t);
        uintptr_t p = ((uintptr_t)t->cur + a - 1) & ~(a - 1);
#if FA_SITES
        fa__site_slot_t *slot = &t->site_slots[site ? __atomic_load_n(&site->id, __ATOMIC_RELAXED) : 1u];
        const int site_ready = slot->key == t->tag + 1;
#else
        const int site_ready = 1;
        (void)site;
#endif
        /* align must be a power of two <= 4096 and the block must fit in
         * the window; any other case (size 0 included: size - 1 wraps), and
         * a site not yet counted under the current tag on this thread, go
         * to the slow path. */
        if (FA_LIKELY(!__atomic_load_n(&t->slow, __ATOMIC_RELAXED) && (a & (a - 1)) == 0 && a <= 4096 &&
                      p <= (uintptr_t)t->end && size - 1 < (uintptr_t)t->end - p && site_ready)) {
            t->cur = (char *)(p + size);
#ifdef FA_PREFETCH
#if defined(__x86_64__)
            /* Only when the bump enters a new cache line, well ahead. */
            if ((p ^ (uintptr_t)t->cur) >> 6) __builtin_prefetch(t->cur + 512, 1, 3);
#endif
#endif
#if FA_SITES
            /* The slot's tag is the current one: its window counts for both. */
            __atomic_store_n(&slot->packed,
                             __atomic_load_n(&slot->packed, __ATOMIC_RELAXED) + size +
                                 (UINT64_C(1) << FA__PACKED_COUNT_SHIFT),
                             __ATOMIC_RELAXED);
#elif !defined(FA_MINIMAL)
            uint64_t *c = &t->packed[t->tag];
            __atomic_store_n(c,
                             __atomic_load_n(c, __ATOMIC_RELAXED) + size +
                                 (UINT64_C(1) << FA__PACKED_COUNT_SHIFT),
                             __ATOMIC_RELAXED);
#endif
            return (void *)p;
        }
    }
#endif
    return fa__frame_alloc_slow(fa, size, align, site);
}

static inline void *fa_frame_alloc(fa_alloc_t *fa, size_t size, size_t align) {
    return fa_frame_alloc_site(fa, size, align, NULL);
}

/* Pool operations the inline paths hand over: everything but a block from
 * (or back to) the calling thread's cache under its current tag with no
 * budget and no behaviour filter, at a site already counted there. */
FA_API void *fa__pool_alloc_slow(fa_alloc_t *fa, size_t size, fa_site_t *site);
FA_API void *fa__pool_alloc_tagged_slow(fa_alloc_t *fa, int tag_id, size_t size, fa_site_t *site);
FA_API void fa__pool_free_slow(fa_alloc_t *fa, void *p);
/* The calling thread's cache of class c is over its maximum: one batch goes
 * back to the depot (its lock). */
FA_API FA__COLD void fa__pool_cache_overflow(fa_alloc_t *fa, uint32_t c);
/* The tag flags (fa__ctx_head_t.tag_flags): a budget applies to the tag (the
 * out-of-line path charges it), the behaviour filter is on (the inline path
 * calls its hooks, which touch only the calling thread's state). */
#define FA__TAG_ACCOUNTED 1u
#define FA__TAG_FILTERED 2u
FA_API FA__COLD void fa__bh_pool_alloc_hook(fa_alloc_t *fa, void *p);
FA_API FA__COLD void fa__bh_pool_free_hook(fa_alloc_t *fa, void *p, uint32_t tag, uint32_t size);

#if defined(FA__POOL_INLINE)
static inline uint32_t fa__tag_flags(const fa_alloc_t *fa, uint32_t tag) {
    return __atomic_load_n(&fa__head(fa)->tag_flags[tag], __ATOMIC_RELAXED);
}
#ifndef FA_MINIMAL
/* An operation begins and ends (the activity word is odd inside): see
 * fa__op_begin in the library. Plain moves on x86-64. */
static inline void fa__fast_op_begin(fa__fast_t *t) {
    __atomic_store_n(&t->activity, t->activity + 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
static inline void fa__fast_op_end(fa__fast_t *t) {
    __atomic_store_n(&t->activity, t->activity + 1, __ATOMIC_RELEASE);
}
#define FA__ADD_RELAXED(x, n) __atomic_store_n(&(x), __atomic_load_n(&(x), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#endif

/* Always inlined: a call would save and restore registers around a path of
 * a few dozen instructions. tagged: under tag_id (fa_pool_alloc_tagged),
 * else under the current tag (tag_id unused); a constant at every call. */
static inline __attribute__((always_inline)) void *fa__pool_alloc_inline(fa_alloc_t *fa, size_t size,
                                                                        fa_site_t *site, int tag_id,
                                                                        const int tagged) {
    const fa__tls_t *tls = &fa__tls;
    /* Context ids are unique and start at 1 (a thread with no cached state
     * holds 0): the id alone says the cached state is fa's. */
    if (FA_LIKELY(tls->fa_id == fa__context_id(fa) && size <= FA_POOL_MAX_SIZE)) {
        fa__fast_t *t = tls->fast;
        uint32_t c = fa__class_of[(size + 15) >> 4];
        fa__pool_cache_t *cache = &t->pool[c];
        void *p = cache->head;
        const uint32_t tag = tagged ? (uint32_t)tag_id : t->tag;
        const int other = tagged && tag != t->tag;
#if FA_SITES
        uint32_t site_id = site ? __atomic_load_n(&site->id, __ATOMIC_RELAXED) : FA_SITE_UNKNOWN(FA_KIND_POOL);
        fa__site_slot_t *slot = &t->site_slots[site_id];
        /* A slot is keyed only to a tag that exists: tag_id is checked. */
        const int site_ready = slot->key == tag + 1 && (!tagged || tag_id >= 0);
#else
        const uint32_t site_id = 0;
        const int site_ready = !other; /* nothing here checks tag_id */
        (void)site;
#endif
        if (FA_LIKELY(p != NULL && site_ready)) {
            uint64_t link = *(const uint64_t *)p;
#ifndef FA_MINIMAL
            fa__fast_op_begin(t);
            uint32_t flags = fa__tag_flags(fa, tag);
            char *tstat = (char *)t->stats + ((size_t)tag << FA__TSTAT_SHIFT);
            /* Another tag: no budget or filter (its hook counts the current
             * tag), and on the fold list (see fa_pool_free). */
            if (FA_LIKELY(!(flags & FA__TAG_ACCOUNTED) &&
                          (!other || (!flags && *(const uint32_t *)(void *)(tstat + FA__TSTAT_LISTED))))) {
                uint32_t bs = fa__class_size[c];
                fa__phstat_t *ps = (fa__phstat_t *)(void *)tstat;
#if FA_SITES
                fa__site_stat_t *e = (fa__site_stat_t *)slot->stat;
                FA__ADD_RELAXED(e->count[0], 1);
                FA__ADD_RELAXED(e->bytes[0], bs);
#else
                FA__ADD_RELAXED(ps->count, 1);
#endif
                FA__ADD_RELAXED(ps->bytes, bs);
                if (FA_UNLIKELY(other))
                    __atomic_store_n((uint64_t *)(void *)(tstat + FA__TSTAT_LAST_CHANGE), (t->activity | 1u) + 1,
                                     __ATOMIC_RELAXED);
                /* Written only when it changes: a store would pull the
                 * slab's owner line away from other threads sharing it. */
                uint32_t *owner = FA__SLAB_OWNERS((uintptr_t)p & ~(uintptr_t)(FA__SLAB_SIZE - 1)) +
                                  (uint32_t)(link >> FA__LINK_SHIFT);
                uint32_t o = FA__OWNER(tag, site_id);
                if (*owner != o) *owner = o;
                cache->head = (void *)(uintptr_t)(link & FA__LINK_MASK);
                cache->count--;
                if (FA_UNLIKELY(flags)) fa__bh_pool_alloc_hook(fa, p);
                fa__fast_op_end(t);
                return p;
            }
            fa__fast_op_end(t);
#else
            (void)site_id, (void)tag;
            cache->head = (void *)(uintptr_t)(link & FA__LINK_MASK);
            cache->count--;
            return p;
#endif
        }
    }
    return tagged ? fa__pool_alloc_tagged_slow(fa, tag_id, size, site) : fa__pool_alloc_slow(fa, size, site);
}

static inline __attribute__((always_inline)) void *fa_pool_alloc_site(fa_alloc_t *fa, size_t size,
                                                                      fa_site_t *site) {
    return fa__pool_alloc_inline(fa, size, site, 0, 0);
}

static inline __attribute__((always_inline)) void *fa_pool_alloc_tagged_site(fa_alloc_t *fa, int tag_id, size_t size,
                                                                             fa_site_t *site) {
    return fa__pool_alloc_inline(fa, size, site, tag_id, 1);
}

static inline void *fa_pool_alloc_tagged(fa_alloc_t *fa, int tag_id, size_t size) {
    return fa_pool_alloc_tagged_site(fa, tag_id, size, NULL);
}

static inline void *fa_pool_alloc(fa_alloc_t *fa, size_t size) { return fa_pool_alloc_site(fa, size, NULL); }

static inline __attribute__((always_inline)) void fa_pool_free(fa_alloc_t *fa, void *p) {
    const fa__tls_t *tls = &fa__tls;
    const fa__ctx_head_t *h = fa__head(fa);
    if (FA_LIKELY(tls->fa_id == h->id &&
                  (uintptr_t)p - h->pool_base < __atomic_load_n(&h->pool_used, __ATOMIC_ACQUIRE))) {
        fa__slab_t *s = (fa__slab_t *)((uintptr_t)p & ~(uintptr_t)(FA__SLAB_SIZE - 1));
        /* Wraps for an address before the first block: the index test
         * below refuses it (see fa__slab_t). */
        uint32_t x = (uint32_t)((uintptr_t)p - (uintptr_t)s) - s->first_offset;
        uint32_t idx = (x >> s->shift) * s->odd_inverse;
        if (FA_LIKELY(s->magic == FA__SLAB_MAGIC && (x & s->low_mask) == 0 && idx < s->block_count)) {
            fa__fast_t *t = tls->fast;
            uint32_t c = s->class_index;
            fa__pool_cache_t *cache = &t->pool[c];
#ifndef FA_MINIMAL
            fa__fast_op_begin(t);
            uint32_t o = FA__SLAB_OWNERS(s)[idx], tag = FA__OWNER_TAG(o);
#if FA_SITES
            fa__site_slot_t *slot = &t->site_slots[FA__OWNER_SITE(o)];
            const int site_ready = slot->key == tag + 1;
#else
            const int site_ready = 1;
#endif
            /* A block of another tag that the fold no longer visits on this
             * thread (it must be listed first), the block at the head of the
             * cache (a double free), a budget or the filter: the out-of-line
             * path. */
            uint32_t flags = fa__tag_flags(fa, tag);
            char *tstat = (char *)t->stats + ((size_t)tag << FA__TSTAT_SHIFT);
            const int other = tag != t->tag;
            if (FA_LIKELY(p != cache->head && site_ready && !(flags & FA__TAG_ACCOUNTED) &&
                          (!other || *(const uint32_t *)(void *)(tstat + FA__TSTAT_LISTED)))) {
                uint32_t bs = s->block_size;
                fa__phstat_t *ps = (fa__phstat_t *)(void *)tstat;
#ifndef FA__NO_PEAK_TRACKING
                /* The high-water mark of the tag's net bytes: a maximum is
                 * right before a decrease. */
                int64_t net = (int64_t)(ps->bytes - ps->free_bytes);
                if (net > __atomic_load_n(&ps->hw, __ATOMIC_RELAXED)) __atomic_store_n(&ps->hw, net, __ATOMIC_RELAXED);
#endif
                FA__ADD_RELAXED(ps->frees, 1);
                FA__ADD_RELAXED(ps->free_bytes, bs);
#if FA_SITES
                fa__site_stat_t *e = (fa__site_stat_t *)slot->stat;
                FA__ADD_RELAXED(e->freed[0], bs);
#endif
                /* Another tag stays listed until the fold has seen this free
                 * (the value the activity word takes at this operation's end). */
                if (FA_UNLIKELY(other))
                    __atomic_store_n((uint64_t *)(void *)(tstat + FA__TSTAT_LAST_CHANGE), (t->activity | 1u) + 1,
                                     __ATOMIC_RELAXED);
                *(uint64_t *)p = (uint64_t)(uintptr_t)cache->head | (uint64_t)idx << FA__LINK_SHIFT;
                cache->head = p;
                if (FA_UNLIKELY(++cache->count > cache->max)) fa__pool_cache_overflow(fa, c);
                /* The filter looks up the block's address only. */
                if (FA_UNLIKELY(flags)) fa__bh_pool_free_hook(fa, p, tag, bs);
                fa__fast_op_end(t);
                return;
            }
            fa__fast_op_end(t);
#else
            if (FA_LIKELY(p != cache->head)) {
                *(uint64_t *)p = (uint64_t)(uintptr_t)cache->head | (uint64_t)idx << FA__LINK_SHIFT;
                cache->head = p;
                if (FA_UNLIKELY(++cache->count > cache->max)) fa__pool_cache_overflow(fa, c);
                return;
            }
#endif
        }
    }
    fa__pool_free_slow(fa, p);
}
#endif /* FA__POOL_INLINE */

/* ------------------------------------------------------------------------ */
/* The allocation names as macros that pass their call site                 */
/* ------------------------------------------------------------------------ */

/* A static site record for the line that expands it: a GCC/Clang statement
 * expression (__extension__ keeps -pedantic quiet), so that the same name
 * works in C and C++ and in any expression. The record is constant-
 * initialised: no guard, no code runs for it. Only inside functions. */
#if FA_SITES && (defined(__GNUC__) || defined(__clang__)) && !defined(FA_BUILDING_LIBRARY)
#define FA__SITE_NAMED(name, kind)                                                                           \
    __extension__({                                                                                          \
        static fa_site_t name = {__FILE__, __func__, (uint32_t)__LINE__, (uint32_t)(kind), 0u, 0u};        \
        &name;                                                                                               \
    })
#define FA__SITE(kind) FA__SITE_NAMED(FA__CAT(fa__site_, __COUNTER__), kind)
#define FA__SITE_MACROS 1

#define fa_frame_alloc(fa, size, align) fa_frame_alloc_site((fa), (size), (align), FA__SITE(FA_KIND_FRAME))
#define fa_frame_alloc_batch(fa, size, align, count)                                                         \
    fa_frame_alloc_batch_site((fa), (size), (align), (count), FA__SITE(FA_KIND_FRAME))
#define fa_frame_alloc2(fa, size, align, out) fa_frame_alloc2_site((fa), (size), (align), (out), FA__SITE(FA_KIND_FRAME))
#define fa_frame_alloc4(fa, size, align, out) fa_frame_alloc4_site((fa), (size), (align), (out), FA__SITE(FA_KIND_FRAME))
#define fa_frame_alloc8(fa, size, align, out) fa_frame_alloc8_site((fa), (size), (align), (out), FA__SITE(FA_KIND_FRAME))
#define fa_frame_strdup(fa, s) fa_frame_strdup_site((fa), (s), FA__SITE(FA_KIND_FRAME))
#define fa_frame_sprintf(fa, ...) fa_frame_sprintf_site((fa), FA__SITE(FA_KIND_FRAME), __VA_ARGS__)
#define fa_frame_retain(fa, p, size, policy, frames)                                                         \
    fa_frame_retain_site((fa), (p), (size), (policy), (frames), FA__SITE(FA_KIND_FRAME))
#define fa_frame_alloc_retained(fa, size, align, policy, frames)                                             \
    fa_frame_alloc_retained_site((fa), (size), (align), (policy), (frames), FA__SITE(FA_KIND_FRAME))
#define fa_pool_alloc(fa, size) fa_pool_alloc_site((fa), (size), FA__SITE(FA_KIND_POOL))
#define fa_heap_alloc(fa, size, align) fa_heap_alloc_site((fa), (size), (align), FA__SITE(FA_KIND_HEAP))
#define fa_heap_alloc_tagged(fa, tag_id, size, align)                                                        \
    fa_heap_alloc_tagged_site((fa), (tag_id), (size), (align), FA__SITE(FA_KIND_HEAP))
#define fa_heap_realloc(fa, p, size, tag_id) fa_heap_realloc_site((fa), (p), (size), (tag_id), FA__SITE(FA_KIND_HEAP))
#define fa_pool_alloc_tagged(fa, tag_id, size) fa_pool_alloc_tagged_site((fa), (tag_id), (size), FA__SITE(FA_KIND_POOL))
#define fa_pool_realloc(fa, p, size, tag_id) fa_pool_realloc_site((fa), (p), (size), (tag_id), FA__SITE(FA_KIND_POOL))
#define fa_task_begin(fa, tag_path) fa_task_begin_site((fa), (tag_path), FA__SITE(FA_KIND_POOL))
#define fa_task_alloc(task, size) fa_task_alloc_site((task), (size), FA__SITE(FA_KIND_POOL))
#endif

#ifdef __cplusplus
}
#endif
#endif /* FRAMEALLOC_H */
