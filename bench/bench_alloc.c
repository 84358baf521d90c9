/* bench_alloc.c — allocator micro-benchmarks: framealloc against the raw
 * bump pointer and against malloc/free (glibc, jemalloc, mimalloc, tcmalloc).
 *
 * One source, several binaries. Which allocator a binary measures is chosen
 * at compile time, so every binary runs the very same harness code:
 *   (no macro)     framealloc, linked against the libframealloc.a of the
 *                  variant whose macros (FA_MINIMAL, FA_PREFETCH) it was
 *                  compiled with — the header's inline fast path depends on
 *                  them;
 *   BENCH_MALLOC   malloc/free; the peer allocator is chosen at link time
 *                  (-ljemalloc, -lmimalloc, -ltcmalloc replace malloc);
 *   BENCH_RAW      the physical limit: a bump pointer and a one-class free
 *                  list written inline here, no bookkeeping at all.
 *
 * Output: one `key=value` line per case for bench/run, e.g.
 *   case=frame_64 threads=1 units=... ops=... ns=... ns_per_op=3.141 cpu_share=1.00
 *   runq_wait=0.000
 * plus `impl=` and `malloc_lib=` lines saying what was measured.
 *
 * Usage: bench-<impl> [--ms N] [--only CASE] [--mix TRACE]
 *   --ms N       target milliseconds per case (150)
 *   --units N    with --only: run exactly N units of that case, untimed (one
 *                before them warms up), for stable callgrind counts: the
 *                difference between two N over the difference of operations
 *                is the instructions per operation
 *   --mix TRACE  the game_frame_mix trace (bench/game_frame_mix.trace);
 *                without it, or in the raw binary, that case is skipped
 *   --only CASE  run only that case (e.g. pool_64; pool_64_2t also runs and
 *                prints pool_64), for perf/callgrind and for re-runs
 *
 * game_frame_mix replays the allocations of one recorded fa-demo frame
 * (bench/mix_record.h): framealloc makes them as the demo did (frame, pool,
 * heap, under their tags); malloc makes every one with malloc (aligned_alloc
 * above 16-byte alignment) and frees the frame's at its end. Blocks the frame
 * frees but did not allocate are made before it, blocks it leaves live are
 * freed after it, outside the timing. Per frame; bench/run divides by the
 * allocations (mix_allocs=) for the figure per allocation.
 *
 * end_frame_1000tags and end_frame_1000tags_64idle (framealloc only) time
 * one whole frame that touches 4 of 1000 tags: begin, 4 x (push, 64-byte
 * allocation, pop), end; the second with 64 more threads registered and
 * asleep. Their ratio is what fa_end_frame costs per idle thread.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(BENCH_MALLOC)
#define IMPL_NAME "malloc"
#elif defined(BENCH_RAW)
#define IMPL_NAME "raw"
#else
#include "framealloc.h"
#if defined(FA_MINIMAL)
#define IMPL_NAME "framealloc-minimal"
#elif defined(FA__NO_PEAK_TRACKING)
#define IMPL_NAME "framealloc-nopeak"
#elif defined(FA_PREFETCH)
#define IMPL_NAME "framealloc-prefetch"
#else
#define IMPL_NAME "framealloc-default"
#endif
#endif

#define FRAME_ALLOCS 10000   /* allocations per frame in the frame cases */
#define BATCH_COUNT 1000     /* elements per batch */
#define BATCH_SIZE 64        /* bytes per element */
#define BATCHES_PER_FRAME 10 /* batches between two frame resets */
#define POOL_SIZE 64         /* bytes per pool block */
#define POOL_SLOTS 1000      /* live-set capacity of the pool case */
#define POOL_OPS 10000       /* allocs + frees per unit of the pool case */
#define POOL_SEED 0x9E3779B97F4A7C15ull
#define SHORT_FRAMES 1000 /* frames per unit of the frame_1x64 case */
#define RAW_ARENA_BYTES ((size_t)8 << 20)
#define RAW_POOL_BLOCKS 2048

static void die(const char *what) {
    fprintf(stderr, "bench_alloc: %s\n", what);
    exit(2);
}

static uint64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void) {
    return clock_ns(CLOCK_MONOTONIC);
}

/* Nanoseconds the calling thread has spent runnable but waiting for a CPU
 * (the second field of /proc/thread-self/schedstat): time a busy machine
 * took from us, as opposed to time we spent blocked on a lock. 0 when the
 * kernel does not provide it. */
static uint64_t runq_wait_ns(void) {
    unsigned long long on_cpu = 0, waited = 0;
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f) return 0;
    if (fscanf(f, "%llu %llu", &on_cpu, &waited) != 2) waited = 0;
    fclose(f);
    return waited;
}

/* Everything one benchmarking thread owns. Aligned so that the two workers
 * of the 2-thread cases never share a cache line. */
typedef struct worker {
    _Alignas(64) void *ptrs[FRAME_ALLOCS]; /* results of the current frame */
    void *batch_first[BATCHES_PER_FRAME];  /* first block of each batch */
    void *live[POOL_SLOTS];                /* the pool case's live set */
    uint32_t live_n;
    uint64_t rng;
#ifdef BENCH_RAW
    char *arena, *cur, *end; /* bump pointer */
    char *pool_area;         /* one-class pool: carve area + free list */
    uint32_t pool_carved;
    void *pool_free;
#endif
    /* 2-thread runs. */
    int case_id;
    uint64_t units;
    uint64_t t_start, t_end;
    uint64_t cpu_ns;  /* CPU time this thread got during its timed run */
    uint64_t wait_ns; /* time it waited for a CPU during that run */
    pthread_barrier_t *barrier;
} worker_t;

static worker_t workers[2];

/* ------------------------------------------------------------------------ */
/* The three implementations behind one set of inline functions             */
/* ------------------------------------------------------------------------ */

#if defined(BENCH_MALLOC)

static void impl_init(void) {}
static void impl_fini(void) {}
static void impl_thread_init(worker_t *w) {
    (void)w;
}
static inline void frame_begin(worker_t *w) {
    (void)w;
}
static inline void *frame_alloc(worker_t *w, size_t size) {
    (void)w;
    return malloc(size);
}
/* malloc has no frame: the frame's blocks are freed one by one. */
static inline void frame_end(worker_t *w, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        free(w->ptrs[i]);
}
/* 1000 single mallocs, each pointer kept (to be freed) and each block
 * touched; returns the first. */
static inline void *batch_alloc(worker_t *w, uint32_t slot) {
    void **out = &w->ptrs[slot * BATCH_COUNT];
    for (uint32_t i = 0; i < BATCH_COUNT; i++) {
        char *p = malloc(BATCH_SIZE);
        if (!p) die("out of memory");
        p[0] = (char)i;
        out[i] = p;
    }
    return out[0];
}
static inline void batch_frame_end(worker_t *w) {
    frame_end(w, BATCHES_PER_FRAME * BATCH_COUNT);
}
static inline void *pool_alloc(worker_t *w) {
    (void)w;
    return malloc(POOL_SIZE);
}
static inline void pool_free(worker_t *w, void *p) {
    (void)w;
    free(p);
}

#elif defined(BENCH_RAW)

static void impl_init(void) {}
static void impl_fini(void) {}
static void impl_thread_init(worker_t *w) {
    size_t bytes = RAW_ARENA_BYTES + (size_t)RAW_POOL_BLOCKS * POOL_SIZE;
    char *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) die("mmap failed");
    w->arena = w->cur = m;
    w->end = m + RAW_ARENA_BYTES;
    w->pool_area = m + RAW_ARENA_BYTES;
}
static inline void frame_begin(worker_t *w) {
    w->cur = w->arena;
}
/* The whole allocator: align up, bounds check, bump. */
static inline void *frame_alloc(worker_t *w, size_t size) {
    uintptr_t p = ((uintptr_t)w->cur + 15) & ~(uintptr_t)15;
    if (__builtin_expect(p + size > (uintptr_t)w->end, 0)) die("raw arena full");
    w->cur = (char *)(p + size);
    return (void *)p;
}
static inline void frame_end(worker_t *w, uint32_t n) {
    (void)w, (void)n;
}
static inline void *batch_alloc(worker_t *w, uint32_t slot) {
    (void)slot;
    char *p = frame_alloc(w, (size_t)BATCH_SIZE * BATCH_COUNT);
    p[0] = 1;
    return p;
}
static inline void batch_frame_end(worker_t *w) {
    (void)w;
}
/* One size class, an intrusive LIFO free list, carving when empty. */
static inline void *pool_alloc(worker_t *w) {
    void *p = w->pool_free;
    if (__builtin_expect(p != NULL, 1)) {
        w->pool_free = *(void **)p;
        return p;
    }
    if (w->pool_carved == RAW_POOL_BLOCKS) die("raw pool full");
    return w->pool_area + (size_t)w->pool_carved++ * POOL_SIZE;
}
static inline void pool_free(worker_t *w, void *p) {
    *(void **)p = w->pool_free;
    w->pool_free = p;
}

#else /* framealloc */

static fa_alloc_t *fa;

static void impl_init(void) {
    /* The defaults a user gets: 1 MiB first chunk. BENCH_FILTER measures the
     * same with the behaviour filter on (its default preset). */
#ifdef BENCH_FILTER
    fa = fa_create(&(fa_config_t){.behaviour = FA_BEHAVIOUR_DEFAULT});
#else
    fa = fa_create(NULL);
#endif
    if (!fa) die("fa_create failed");
}
static void impl_fini(void) {
    fa_destroy(fa);
}
static void impl_thread_init(worker_t *w) {
    (void)w;
}
static inline void frame_begin(worker_t *w) {
    (void)w;
    fa_begin_frame(fa);
}
static inline void *frame_alloc(worker_t *w, size_t size) {
    (void)w;
    return fa_frame_alloc(fa, size, 16);
}
static inline void frame_end(worker_t *w, uint32_t n) {
    (void)w, (void)n;
    fa_end_frame(fa);
}
/* One call for the 1000 elements; the block is touched once, like the raw
 * bump (the elements are not written by any implementation). */
static inline void *batch_alloc(worker_t *w, uint32_t slot) {
    (void)w, (void)slot;
    char *p = fa_frame_alloc_batch(fa, BATCH_SIZE, 16, BATCH_COUNT);
    if (!p) die("fa_frame_alloc_batch failed");
    p[0] = 1;
    return p;
}
static inline void batch_frame_end(worker_t *w) {
    frame_end(w, 0);
}
static inline void *pool_alloc(worker_t *w) {
    (void)w;
    return fa_pool_alloc(fa, POOL_SIZE);
}
static inline void pool_free(worker_t *w, void *p) {
    (void)w;
    fa_pool_free(fa, p);
}

/* The frame-end cases: 1000 tags exist, each frame touches 4 of them (a
 * 64-byte allocation under each), optionally with 64 more threads that
 * registered (one frame each) and now sleep. */
#define END_TAGS 1000
#define END_TAGS_PER_FRAME 4
#define IDLE_THREADS 64
static int end_tag_ids[END_TAGS];
static char end_tag_names[END_TAGS][16];
static uint32_t end_frame_serial;

static void end_frame_setup(void) {
    if (end_tag_ids[0]) return;
    for (int i = 0; i < END_TAGS; i++) {
        snprintf(end_tag_names[i], sizeof end_tag_names[i], "sys%03d", i);
        end_tag_ids[i] = fa_tag_find(fa, end_tag_names[i], true);
        if (end_tag_ids[i] < 0) die("fa_tag_find failed");
    }
}

static void end_frame_unit(worker_t *w) {
    (void)w;
    fa_begin_frame(fa);
    for (int k = 0; k < END_TAGS_PER_FRAME; k++) {
        uint32_t t = (end_frame_serial * END_TAGS_PER_FRAME + (uint32_t)k) % END_TAGS;
        fa_tag_push(fa, end_tag_names[t]);
        char *p = fa_frame_alloc(fa, 64, 16);
        if (__builtin_expect(!p, 0)) die("allocation failed");
        p[0] = 1;
        fa_tag_pop(fa);
    }
    end_frame_serial++;
    fa_end_frame(fa);
}

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int registered, release;
    pthread_t threads[IDLE_THREADS];
} idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *idle_main(void *arg) {
    (void)arg;
    fa_begin_frame(fa);
    FA_WITH_TAG(fa, "idle") { (void)!fa_frame_alloc(fa, 64, 16); }
    fa_end_frame(fa);
    pthread_mutex_lock(&idle.lock);
    idle.registered++;
    pthread_cond_broadcast(&idle.cond);
    while (!idle.release) pthread_cond_wait(&idle.cond, &idle.lock);
    pthread_mutex_unlock(&idle.lock);
    return NULL;
}

static void idle_threads_start(void) {
    idle.release = 0;
    for (int i = 0; i < IDLE_THREADS; i++)
        if (pthread_create(&idle.threads[i], NULL, idle_main, NULL) != 0) die("pthread_create failed");
    pthread_mutex_lock(&idle.lock);
    while (idle.registered < IDLE_THREADS) pthread_cond_wait(&idle.cond, &idle.lock);
    pthread_mutex_unlock(&idle.lock);
}

static void idle_threads_stop(void) {
    pthread_mutex_lock(&idle.lock);
    idle.release = 1;
    pthread_cond_broadcast(&idle.cond);
    pthread_mutex_unlock(&idle.lock);
    for (int i = 0; i < IDLE_THREADS; i++) pthread_join(idle.threads[i], NULL);
    idle.registered = 0;
}

#define HAVE_END_FRAME_CASES 1
#endif

/* ------------------------------------------------------------------------ */
/* Cases. A unit is a fixed amount of work; ops_per_unit says how many      */
/* operations it holds (the figure reported is ns per operation).           */
/* ------------------------------------------------------------------------ */

/* One frame: FRAME_ALLOCS allocations of size bytes, each touched and its
 * pointer kept (malloc needs it to free; everyone pays the same store), then
 * the frame ends (framealloc: reset; malloc: free each; raw: nothing). */
static void frame_unit(worker_t *w, size_t size) {
    frame_begin(w);
    for (uint32_t i = 0; i < FRAME_ALLOCS; i++) {
        char *p = frame_alloc(w, size);
        if (__builtin_expect(!p, 0)) die("allocation failed");
        p[0] = (char)i;
        w->ptrs[i] = p;
    }
    frame_end(w, FRAME_ALLOCS);
}

/* BATCHES_PER_FRAME batches of BATCH_COUNT x BATCH_SIZE bytes, then the
 * frame ends. */
static void batch_unit(worker_t *w) {
    frame_begin(w);
    for (uint32_t b = 0; b < BATCHES_PER_FRAME; b++) {
        w->batch_first[b] = batch_alloc(w, b);
    }
    batch_frame_end(w);
}

static inline uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* POOL_OPS pool operations on a random live set: a seeded xorshift picks a
 * direction and a burst length of 1..16 (spawn a few, despawn a few); a free
 * takes a random live block (so the free lists are shuffled), an alloc
 * appends. The live set does a random walk in [0, POOL_SLOTS]. Every
 * implementation sees the same sequence. A unit runs inside a frame, as a
 * game's pool traffic does (it costs ~0.01 ns per op; malloc and raw have no
 * frame work), so the behaviour filter's per-frame tracking is exercised. */
static void pool_unit(worker_t *w) {
    uint32_t ops = 0;
    frame_begin(w);
    while (ops < POOL_OPS) {
        uint64_t r = xorshift64(&w->rng);
        uint32_t burst = 1 + (uint32_t)((r >> 1) & 15);
        if (burst > POOL_OPS - ops) burst = POOL_OPS - ops;
        bool alloc = (r & 1) != 0;
        if (w->live_n == 0) alloc = true;
        if (w->live_n == POOL_SLOTS) alloc = false;
        if (alloc) {
            if (burst > POOL_SLOTS - w->live_n) burst = POOL_SLOTS - w->live_n;
            for (uint32_t k = 0; k < burst; k++) {
                char *p = pool_alloc(w);
                if (__builtin_expect(!p, 0)) die("allocation failed");
                p[0] = (char)k;
                w->live[w->live_n++] = p;
            }
        } else {
            if (burst > w->live_n) burst = w->live_n;
            for (uint32_t k = 0; k < burst; k++) {
                uint32_t i = (uint32_t)(((xorshift64(&w->rng) >> 32) * w->live_n) >> 32);
                pool_free(w, w->live[i]);
                w->live[i] = w->live[--w->live_n];
            }
        }
        ops += burst;
    }
    frame_end(w, 0);
}

static void pool_reset(worker_t *w) {
    while (w->live_n)
        pool_free(w, w->live[--w->live_n]);
    w->rng = POOL_SEED;
}

/* Frames of a single 64 B allocation: the fixed cost of a frame
 * (framealloc: fa_begin_frame + fa_end_frame; malloc: one malloc + free). */
static void short_frames_unit(worker_t *w) {
    for (uint32_t f = 0; f < SHORT_FRAMES; f++) {
        frame_begin(w);
        char *p = frame_alloc(w, 64);
        if (__builtin_expect(!p, 0)) die("allocation failed");
        p[0] = (char)f;
        w->ptrs[0] = p;
        frame_end(w, 1);
    }
}

/* ---- game_frame_mix ------------------------------------------------------ */

static uint64_t mix_timed; /* ns spent in the replayed frames */
static bool mix_loaded;

#if !defined(BENCH_RAW)
#define MIX_MAX 100000
typedef struct mix_event {
    char op, kind; /* op: I (live before), A, F; kind: F frame, P pool, H heap,
                      T pool block of a named tag (the Lua adapter) */
    uint32_t id;
    size_t size, align;
    int tag;      /* framealloc: the tag's id */
    void *site;   /* framealloc: one call site per (tag, kind), as the demo's
                     subsystems allocate from their own lines */
} mix_event_t;
static mix_event_t mix[MIX_MAX];
static uint32_t mix_count, mix_allocs, mix_ids;
static void **mix_ptr;   /* block id -> pointer (live blocks) */
static void **mix_frame; /* malloc: the frame's blocks, freed at its end */

static void mix_load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open the --mix trace");
    char line[512], tag[300];
    while (fgets(line, sizeof line, f)) {
        mix_event_t e = {0};
        unsigned id;
        size_t size, align;
        char kind;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (mix_count == MIX_MAX) die("trace too long");
        if (sscanf(line, "I %u %c %zu", &id, &kind, &size) == 3) {
            e = (mix_event_t){.op = 'I', .kind = kind, .id = id, .size = size, .align = 16};
        } else if (sscanf(line, "A %u %c %zu %zu %299s", &id, &kind, &size, &align, tag) == 5) {
            e = (mix_event_t){.op = 'A', .kind = kind, .id = id, .size = size, .align = align};
#if !defined(BENCH_MALLOC) && !defined(BENCH_RAW)
            e.tag = strcmp(tag, "-") ? fa_tag_find(fa, tag, true) : FA_TAG_ROOT;
            if (e.tag < 0) die("bad tag in the trace");
            fa_kind k = kind == 'F' ? FA_KIND_FRAME : kind == 'P' || kind == 'T' ? FA_KIND_POOL : FA_KIND_HEAP;
            e.site = fa_site_intern("bench/game_frame_mix.trace", tag, (uint32_t)e.tag * 3 + k, k);
#endif
            mix_allocs++;
        } else if (sscanf(line, "F %u", &id) == 1) {
            e = (mix_event_t){.op = 'F', .id = id};
        } else {
            die("bad line in the --mix trace");
        }
        if (e.id >= mix_ids) mix_ids = e.id + 1;
        mix[mix_count++] = e;
    }
    fclose(f);
    /* A free's kind is its block's (resolved here, not in the timed loop). */
    for (uint32_t i = 0; i < mix_count; i++) {
        if (mix[i].op != 'F') continue;
        for (uint32_t j = 0; j < i && !mix[i].kind; j++)
            if (mix[j].id == mix[i].id && mix[j].op != 'F') mix[i].kind = mix[j].kind;
        if (!mix[i].kind || mix[i].kind == 'F') die("a free of an unknown or frame block in the trace");
    }
    mix_ptr = calloc(mix_ids, sizeof *mix_ptr);
    mix_frame = calloc(mix_count, sizeof *mix_frame);
    if (!mix_ptr || !mix_frame) die("out of memory");
    mix_loaded = true;
}

#if defined(BENCH_MALLOC)
static void *mix_block(char kind, size_t size, size_t align, int tag, void *site) {
    (void)kind, (void)site, (void)tag;
    if (align <= 16) return malloc(size ? size : 1);
    return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}
static void mix_release(char kind, void *p) {
    (void)kind;
    free(p);
}
static void mix_set_tag(int tag) {
    (void)tag;
}
static void mix_frame_begin(void) {}
#elif !defined(BENCH_RAW)
static int mix_tag = FA_TAG_ROOT;
static void *mix_block(char kind, size_t size, size_t align, int tag, void *site) {
    if (kind == 'F') return fa_frame_alloc_site(fa, size, align, site);
    if (kind == 'P') return fa_pool_alloc_site(fa, size, site);
    if (kind == 'T') return fa_pool_alloc_tagged_site(fa, tag, size, site); /* as fa_lua_alloc */
    return fa_heap_alloc_site(fa, size, align, site);
}
static void mix_release(char kind, void *p) {
    if (kind == 'P' || kind == 'T') fa_pool_free(fa, p);
    else if (kind == 'H') fa_heap_free(fa, p);
}
static void mix_set_tag(int tag) {
    if (tag == mix_tag) return;
    if (mix_tag != FA_TAG_ROOT) fa_tag_pop(fa);
    if (tag != FA_TAG_ROOT) fa_tag_push_id(fa, tag);
    mix_tag = tag;
}
static void mix_frame_begin(void) {
    fa_begin_frame(fa);
}
#endif

/* One replayed frame (timed), between the untimed making of the blocks it
 * frees and the untimed freeing of those it leaves. */
static void mix_unit(worker_t *w) {
    (void)w;
    for (uint32_t i = 0; i < mix_count; i++)
        if (mix[i].op == 'I') mix_ptr[mix[i].id] = mix_block(mix[i].kind, mix[i].size, 16, 0, NULL);
    uint32_t frame_n = 0;
    uint64_t t0 = now_ns();
    mix_frame_begin();
    for (uint32_t i = 0; i < mix_count; i++) {
        const mix_event_t *e = &mix[i];
        if (e->op == 'A') {
            if (e->kind != 'T') mix_set_tag(e->tag); /* a T block names its tag */
            char *p = mix_block(e->kind, e->size, e->align, e->tag, e->site);
            if (__builtin_expect(!p, 0)) die("allocation failed");
            p[0] = 1;
            if (e->kind == 'F') mix_frame[frame_n++] = p;
            else mix_ptr[e->id] = p;
        } else if (e->op == 'F') {
            mix_release(e->kind, mix_ptr[e->id]);
            mix_ptr[e->id] = NULL;
        }
    }
    mix_set_tag(0); /* the root tag */
#if defined(BENCH_MALLOC)
    for (uint32_t i = 0; i < frame_n; i++) free(mix_frame[i]);
#else
    fa_end_frame(fa);
#endif
    mix_timed += now_ns() - t0;
    for (uint32_t i = 0; i < mix_count; i++) {
        const mix_event_t *e = &mix[i];
        if (e->op == 'A' && e->kind != 'F' && mix_ptr[e->id]) {
            mix_release(e->kind, mix_ptr[e->id]);
            mix_ptr[e->id] = NULL;
        }
    }
}
#endif

/* C_END_1T and C_END_IDLE exist for framealloc only: a frame with 4 of 1000
 * tags, on its own and with 64 idle threads registered. */
enum { C_FRAME_16, C_FRAME_64, C_FRAME_256, C_BATCH, C_POOL, C_SHORT, C_MIX, C_END_1T, C_END_IDLE, C_COUNT };
static const char *const case_names[C_COUNT] = {"frame_16",      "frame_64", "frame_256",
                                                "batch_1000x64", "pool_64",  "frame_1x64",
                                                "game_frame_mix", "end_frame_1000tags", "end_frame_1000tags_64idle"};
static const uint32_t ops_per_unit[C_COUNT] = {FRAME_ALLOCS,      FRAME_ALLOCS, FRAME_ALLOCS,
                                               BATCHES_PER_FRAME, POOL_OPS,     SHORT_FRAMES,
                                               1,                 1,            1};

static void run_units(worker_t *w, int c, uint64_t units) {
    for (uint64_t u = 0; u < units; u++) {
        switch (c) {
        case C_FRAME_16:
            frame_unit(w, 16);
            break;
        case C_FRAME_64:
            frame_unit(w, 64);
            break;
        case C_FRAME_256:
            frame_unit(w, 256);
            break;
        case C_BATCH:
            batch_unit(w);
            break;
        case C_POOL:
            pool_unit(w);
            break;
        case C_SHORT:
            short_frames_unit(w);
            break;
#if !defined(BENCH_RAW)
        case C_MIX:
            mix_unit(w);
            break;
#endif
#ifdef HAVE_END_FRAME_CASES
        case C_END_1T:
        case C_END_IDLE:
            end_frame_unit(w);
            break;
#endif
        }
    }
}

/* Per thread, over its timed run: cpu_share sums CPU time / elapsed (2.00
 * for two threads that never left their core; lower when they blocked on a
 * lock or waited for a CPU); runq_wait sums time spent waiting for a CPU /
 * elapsed (0.00 on an idle machine; above a few per cent a neighbour took
 * the core and the figure, above all a 2-thread one, is disturbed). */
static void print_result(const char *name, int threads, uint64_t units, uint64_t ops, uint64_t ns,
                         double cpu_share, double runq_wait) {
    printf("case=%s threads=%d units=%llu ops=%llu ns=%llu ns_per_op=%.4f cpu_share=%.2f runq_wait=%.3f\n",
           name, threads, (unsigned long long)units, (unsigned long long)ops, (unsigned long long)ns,
           (double)ns / (double)ops, cpu_share, runq_wait);
    fflush(stdout);
}

/* Runs case c on the calling thread: one untimed unit (first-touch faults,
 * thread registration, arena chunks), a calibration that doubles the units
 * until ~1/10 of the target, then timed steps of ~1/20 of the target until
 * the target is reached. Prints the result if asked; returns the units
 * timed. */
static uint64_t run_single(worker_t *w, int c, uint64_t target_ns, bool print) {
    if (c == C_POOL) pool_reset(w);
    run_units(w, c, 1);
    uint64_t units = 1, done = 0, spent = 0;
    uint64_t t0 = now_ns();
    while (spent < target_ns / 10) {
        run_units(w, c, units);
        done += units;
        spent = now_ns() - t0;
        units *= 2;
    }
    uint64_t step = (uint64_t)((double)(target_ns / 20) * (double)done / (double)spent);
    if (step < 1) step = 1;
    if (c == C_POOL) pool_reset(w);
    uint64_t timed = 0, ns;
    uint64_t wait0 = runq_wait_ns();
    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t mix0 = mix_timed;
    t0 = now_ns();
    do {
        run_units(w, c, step);
        timed += step;
        ns = now_ns() - t0;
    } while (ns < target_ns);
    double share = (double)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0) / (double)ns;
    double wait = (double)(runq_wait_ns() - wait0) / (double)ns;
    /* game_frame_mix: only the replayed frames count, not the setting up
     * and clearing of the blocks that live across frames. */
    if (c == C_MIX) ns = mix_timed - mix0;
    if (print) print_result(case_names[c], 1, timed, timed * ops_per_unit[c], ns, share, wait);
    if (c == C_POOL) pool_reset(w);
    return timed;
}

static void *thread_main(void *arg) {
    worker_t *w = arg;
    if (w->case_id == C_POOL) pool_reset(w);
    run_units(w, w->case_id, w->units / 8 + 1); /* warm-up: registration, faults */
    if (w->case_id == C_POOL) pool_reset(w);
    pthread_barrier_wait(w->barrier);
    uint64_t wait0 = runq_wait_ns();
    uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    w->t_start = now_ns();
    run_units(w, w->case_id, w->units);
    w->t_end = now_ns();
    w->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
    w->wait_ns = runq_wait_ns() - wait0;
    if (w->case_id == C_POOL) pool_reset(w);
    return NULL;
}

/* Case c on two threads (this one and one more), each doing the same units
 * as the 1-thread run; reports the aggregate ns per op (wall time over the
 * ops of both threads), so 1-thread ns / 2-thread ns is the scaling. */
static void run_two_threads(int c, uint64_t units) {
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    for (int i = 0; i < 2; i++) {
        workers[i].case_id = c;
        workers[i].units = units;
        workers[i].barrier = &barrier;
    }
    pthread_t th;
    if (pthread_create(&th, NULL, thread_main, &workers[1]) != 0) die("pthread_create failed");
    thread_main(&workers[0]);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&barrier);
    uint64_t start = workers[0].t_start < workers[1].t_start ? workers[0].t_start : workers[1].t_start;
    uint64_t end = workers[0].t_end > workers[1].t_end ? workers[0].t_end : workers[1].t_end;
    char name[64];
    snprintf(name, sizeof name, "%s_2t", case_names[c]);
    double share = 0, wait = 0;
    for (int i = 0; i < 2; i++) {
        double elapsed = (double)(workers[i].t_end - workers[i].t_start);
        share += (double)workers[i].cpu_ns / elapsed;
        wait += (double)workers[i].wait_ns / elapsed;
    }
    print_result(name, 2, 2 * units, 2 * units * ops_per_unit[c], end - start, share, wait);
}

/* The library that really provides malloc in this process, so the runner
 * can check that a peer binary measures the allocator it is named after. */
static const char *malloc_provider(void) {
    void *(*fn)(size_t) = malloc;
    void *addr;
    memcpy(&addr, &fn, sizeof addr);
    Dl_info info;
    if (dladdr(addr, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        return slash ? slash + 1 : info.dli_fname;
    }
    return "unknown";
}

int main(int argc, char **argv) {
    uint64_t target_ms = 150;
    const char *only = NULL, *mix_path = NULL;
    uint64_t fixed_units = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
            target_ms = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--units") && i + 1 < argc) {
            fixed_units = strtoull(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--mix") && i + 1 < argc) {
            mix_path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--ms MILLISECONDS_PER_CASE] [--only CASE] [--mix TRACE]\n", argv[0]);
            return 2;
        }
    }
    if (target_ms == 0) target_ms = 1;
    printf("impl=%s\nmalloc_lib=%s\n", IMPL_NAME, malloc_provider());
    impl_init();
#if !defined(BENCH_RAW)
    if (mix_path) {
        mix_load(mix_path);
        printf("mix_events=%u mix_allocs=%u\n", mix_count, mix_allocs);
    }
#else
    (void)mix_path;
#endif
    for (int i = 0; i < 2; i++) {
        workers[i].rng = POOL_SEED;
        impl_thread_init(&workers[i]);
    }
    uint64_t target_ns = target_ms * 1000000u;
    /* A 2-thread case runs right after its 1-thread case and reuses its
     * unit count, so each thread does the work the single thread did. */
    for (int c = 0; c < C_COUNT; c++) {
        char name2[64];
        snprintf(name2, sizeof name2, "%s_2t", case_names[c]);
        bool two = c == C_FRAME_64 || c == C_POOL;
        bool want1 = !only || !strcmp(only, case_names[c]);
        bool want2 = two && (!only || !strcmp(only, name2));
        if (!want1 && !want2) continue;
        if (c == C_MIX && !mix_loaded) continue;
        if (fixed_units && want1) {
#ifdef HAVE_END_FRAME_CASES
            if (c == C_END_1T || c == C_END_IDLE) end_frame_setup();
#endif
            if (c == C_POOL) pool_reset(&workers[0]);
            run_units(&workers[0], c, 1);
            run_units(&workers[0], c, fixed_units);
            printf("case=%s units=%llu ops=%llu\n", case_names[c], (unsigned long long)fixed_units,
                   (unsigned long long)(fixed_units * ops_per_unit[c]));
            continue;
        }
        if (c == C_END_1T || c == C_END_IDLE) {
#ifdef HAVE_END_FRAME_CASES
            end_frame_setup();
            if (c == C_END_IDLE) idle_threads_start();
            run_single(&workers[0], c, target_ns, true);
            if (c == C_END_IDLE) idle_threads_stop();
#endif
            continue;
        }
        /* Asking for a 2-thread case prints its 1-thread partner too: the
         * scaling ratio is taken within one process run. */
        uint64_t units = run_single(&workers[0], c, target_ns, want1 || want2);
        if (want2) run_two_threads(c, units);
    }
    impl_fini();
    return 0;
}
