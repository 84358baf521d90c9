/* A randomized model test of lib's figures and budgets.
 *
 *   model [--seed N] [--ops N] [--threads 1..4] [--quiet]
 *
 * A seeded random sequence of operations runs on 1-4 real threads, one at a
 * time (a controller hands each one to its thread and waits), so a simple
 * reference model kept here knows exactly what lib must report: frame,
 * batch, pool and heap allocations, frees of any live block from any thread,
 * tag pushes and pops, budget sets, changes and clears (FAIL policy: the
 * model predicts every refusal), frame begins and ends on every thread,
 * snapshots from any thread, and threads exiting and new ones starting.
 * After every main-thread frame end (in a frame-end hook) and at every
 * snapshot, the snapshot is compared with the model: per-tag frame, pool
 * and heap bytes and allocation counts, per-kind totals, thread rows, and
 * peaks (never below the real high-water mark, never above what was live
 * plus what was allocated). With call sites, every snapshot's site rows are
 * compared too: each operation allocates at its own line of execute(), so
 * the model knows every (site, tag) row exactly (bytes and allocations of
 * the frame, live bytes), and the rows must add up to the tag rows. Prints
 * the seed and the operation on failure; exit status 1. The figures are those of the default build: FA_DEBUG
 * adds guards and headers to them, FA_MINIMAL has none (nor budgets). */
#include <framealloc.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_THREADS = 4, MAX_TAGS = 64, MAX_BLOCKS = 4096, PATH_LEN = 64 };
/* The allocating lines of execute(): the model's call sites. */
enum { S_FRAME, S_BATCH, S_POOL, S_HEAP, S_TAGGED, SITES }; /* S_TAGGED: fa_pool_alloc_tagged */
static int site_line[SITES];
/* expr, noting the line it is written on (the line its call site gets). */
#define AT(line_var, expr) ((line_var) = __LINE__, (expr))

/* ---- the reference model --------------------------------------------------- */

typedef struct mtag {
    char path[PATH_LEN];
    int parent;                  /* model index, -1 for the root */
    uint64_t hard;               /* FAIL budget; 0: none */
    uint64_t frame[MAX_THREADS]; /* frame bytes in use, per model thread */
    uint64_t pool, heap;         /* live bytes */
    uint64_t count;              /* allocations this frame */
    uint64_t peak_live;          /* high-water of the subtree's live bytes this frame */
    uint64_t start_live;         /* subtree live when the frame began */
    uint64_t allocated;          /* bytes allocated under it this frame */
    /* Per call site: allocations and bytes this frame, frame bytes in use
     * per thread (frame and batch sites), live pool/heap bytes. */
    uint64_t site_count[SITES], site_bytes[SITES];
    uint64_t site_frame[2][MAX_THREADS], site_live[SITES];
} mtag_t;

typedef struct block {
    void *p;
    int kind; /* FA_KIND_POOL or FA_KIND_HEAP */
    int tag;
    int site;      /* S_POOL, S_HEAP or S_TAGGED */
    uint64_t size; /* bytes counted: block size for pool, request for heap */
    uint64_t serial;
    size_t filled; /* bytes written with the serial */
} block_t;

typedef struct mthread {
    bool in_frame;
    int stack[FA_TAG_STACK_MAX + 1];
    int depth; /* stack[depth] is the current tag */
    uint64_t frame_used, frame_peak;
} mthread_t;

static struct {
    mtag_t tags[MAX_TAGS];
    int ntags;
    block_t blocks[MAX_BLOCKS];
    int nblocks;
    mthread_t threads[MAX_THREADS];
    int nthreads;
    uint64_t kind_count[3], kind_bytes[3], kind_frees[3];
    uint64_t kind_in_use_start[3], kind_peak[3];
    uint64_t serial;
} m;

static uint64_t seed, rng_state, op_index;
static int failures;
static bool quiet;

static uint64_t next_rand(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rnd(uint64_t n) {
    return n ? next_rand() % n : 0;
}

static void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "model: seed %" PRIu64 ", operation %" PRIu64 ": ", seed, op_index);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (++failures >= 20) {
        fprintf(stderr, "model: too many failures; rerun with --seed %" PRIu64 "\n", seed);
        exit(1);
    }
}

static int tag_index(const char *path) {
    for (int i = 0; i < m.ntags; i++)
        if (!strcmp(m.tags[i].path, path)) return i;
    return -1;
}

static bool under(int t, int ancestor) {
    for (; t >= 0; t = m.tags[t].parent)
        if (t == ancestor) return true;
    return false;
}

static uint64_t self_live(int t) {
    uint64_t v = m.tags[t].pool + m.tags[t].heap;
    for (int k = 0; k < m.nthreads; k++)
        v += m.tags[t].frame[k];
    return v;
}

static uint64_t subtree_live(int b) {
    uint64_t v = 0;
    for (int t = 0; t < m.ntags; t++)
        if (under(t, b)) v += self_live(t);
    return v;
}

static uint64_t kind_in_use(int k) {
    uint64_t v = 0;
    for (int t = 0; t < m.ntags; t++)
        v += k == FA_KIND_FRAME  ? self_live(t) - m.tags[t].pool - m.tags[t].heap
             : k == FA_KIND_POOL ? m.tags[t].pool
                                 : m.tags[t].heap;
    return v;
}

/* The figures moved: raise the high-water marks. */
static void note_peaks(void) {
    for (int t = 0; t < m.ntags; t++) {
        uint64_t live = subtree_live(t);
        if (live > m.tags[t].peak_live) m.tags[t].peak_live = live;
    }
    for (int k = 0; k < 3; k++)
        if (kind_in_use(k) > m.kind_peak[k]) m.kind_peak[k] = kind_in_use(k);
    for (int k = 0; k < m.nthreads; k++)
        if (m.threads[k].frame_used > m.threads[k].frame_peak)
            m.threads[k].frame_peak = m.threads[k].frame_used;
}

/* A new context frame begins (after the main thread's frame end). */
static void model_new_frame(void) {
    for (int t = 0; t < m.ntags; t++) {
        m.tags[t].count = 0;
        m.tags[t].allocated = 0;
        memset(m.tags[t].site_count, 0, sizeof m.tags[t].site_count);
        memset(m.tags[t].site_bytes, 0, sizeof m.tags[t].site_bytes);
        m.tags[t].start_live = m.tags[t].peak_live = subtree_live(t);
    }
    for (int k = 0; k < 3; k++) {
        m.kind_count[k] = m.kind_bytes[k] = m.kind_frees[k] = 0;
        m.kind_in_use_start[k] = m.kind_peak[k] = kind_in_use(k);
    }
    for (int k = 0; k < m.nthreads; k++)
        m.threads[k].frame_peak = m.threads[k].frame_used;
}

/* Would a FAIL budget refuse n more bytes under tag t? */
static bool refused(int t, uint64_t n) {
    for (int b = t; b >= 0; b = m.tags[b].parent)
        if (m.tags[b].hard && subtree_live(b) + n > m.tags[b].hard) return true;
    return false;
}

static void model_alloc(int thread, int t, int kind, int site, uint64_t n) {
    if (kind == FA_KIND_FRAME) {
        m.tags[t].frame[thread] += n;
        m.threads[thread].frame_used += n;
        m.tags[t].site_frame[site][thread] += n;
    } else {
        m.tags[t].site_live[site] += n;
    }
    m.tags[t].site_count[site]++;
    m.tags[t].site_bytes[site] += n;
    for (int a = t; a >= 0; a = m.tags[a].parent)
        m.tags[a].allocated += n;
    m.tags[t].count++;
    m.kind_count[kind]++;
    m.kind_bytes[kind] += n;
    note_peaks();
}

/* ---- the threads ------------------------------------------------------------ */

static fa_alloc_t *fa;

typedef struct cmd {
    int op;
    size_t a, b, c;
    const char *s;
    void *p;
    void *result;
    int rc;
} cmd_t;

enum {
    OP_NONE,
    OP_FRAME,
    OP_BATCH,
    OP_POOL,
    OP_TAGGED,
    OP_HEAP,
    OP_FREE_POOL,
    OP_FREE_HEAP,
    OP_PUSH,
    OP_POP,
    OP_BEGIN,
    OP_END,
    OP_BUDGET,
    OP_SNAPSHOT,
    OP_MAIN,
    OP_REGISTER,
    OP_EXIT
};

typedef struct worker {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    cmd_t cmd;
    bool pending, done;
} worker_t;

static worker_t workers[MAX_THREADS];

/* Snapshots: taken into these buffers, compared by the controller. */
static fa_tag_row_t snap_rows[MAX_TAGS + 8];
static fa_thread_row_t snap_threads[MAX_THREADS + 4];
static fa_site_row_t snap_sites[MAX_TAGS * (SITES + 1) + 8];
static fa_snapshot_t snap;
static bool hook_taken;

static void take_snapshot(void) {
    snap = (fa_snapshot_t){.rows = snap_rows,
                           .rows_capacity = MAX_TAGS + 8,
                           .threads = snap_threads,
                           .threads_capacity = MAX_THREADS + 4,
                           .sites = snap_sites,
                           .sites_capacity = MAX_TAGS * (SITES + 1) + 8};
    if (fa_snapshot_take(fa, &snap) != FA_OK) fail("fa_snapshot_take failed");
}

static void frame_end_hook(fa_alloc_t *ctx, uint64_t frame, void *user) {
    (void)ctx, (void)frame, (void)user;
    take_snapshot();
    hook_taken = true;
}

static void execute(cmd_t *c) {
    switch (c->op) {
    /* One allocating line per operation: the model's call sites. */
    case OP_FRAME:
        c->result = AT(site_line[S_FRAME], fa_frame_alloc(fa, c->a, c->b));
        if (c->result && c->a) memset(c->result, 0x5A, c->a);
        break;
    case OP_BATCH:
        c->result = AT(site_line[S_BATCH], fa_frame_alloc_batch(fa, c->a, c->b, c->c));
        break;
    case OP_POOL:
        c->result = AT(site_line[S_POOL], fa_pool_alloc(fa, c->a));
        break;
    case OP_TAGGED: /* under tag id c->c, whatever the thread's stack */
        c->result = AT(site_line[S_TAGGED], fa_pool_alloc_tagged(fa, (int)c->c, c->a));
        break;
    case OP_HEAP:
        c->result = AT(site_line[S_HEAP], fa_heap_alloc(fa, c->a, c->b));
        break;
    case OP_FREE_POOL:
        fa_pool_free(fa, c->p);
        break;
    case OP_FREE_HEAP:
        fa_heap_free(fa, c->p);
        break;
    case OP_PUSH:
        c->rc = fa_tag_push(fa, c->s);
        break;
    case OP_POP:
        fa_tag_pop(fa);
        break;
    case OP_BEGIN:
        fa_begin_frame(fa);
        break;
    case OP_END:
        fa_end_frame(fa);
        break;
    case OP_BUDGET: {
        fa_budget_desc_t d = {.hard_bytes = c->a, .policy = FA_POLICY_FAIL};
        c->rc = fa_budget_set_ex(fa, c->s, &d);
        break;
    }
    case OP_SNAPSHOT:
        take_snapshot();
        break;
    case OP_MAIN:
        fa_set_main_thread(fa);
        break;
    case OP_REGISTER:
        c->rc = fa_tag_current(fa); /* the first call registers the thread */
        break;
    }
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->pending)
            pthread_cond_wait(&w->cond, &w->lock);
        w->pending = false;
        pthread_mutex_unlock(&w->lock);
        if (w->cmd.op == OP_EXIT) break;
        execute(&w->cmd);
        pthread_mutex_lock(&w->lock);
        w->done = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* Runs c on model thread k and waits for it. */
static void run_on(int k, cmd_t *c) {
    worker_t *w = &workers[k];
    pthread_mutex_lock(&w->lock);
    w->cmd = *c;
    w->done = false;
    w->pending = true;
    pthread_cond_broadcast(&w->cond);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->lock);
    *c = w->cmd;
    pthread_mutex_unlock(&w->lock);
}

static void start_thread(int k) {
    worker_t *w = &workers[k];
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->pending = w->done = false;
    pthread_create(&w->thread, NULL, worker_main, w);
    m.threads[k] = (mthread_t){0};
    cmd_t c = {.op = OP_REGISTER};
    run_on(k, &c);
}

static void stop_thread(int k) {
    cmd_t c = {.op = OP_EXIT};
    run_on(k, &c);
    pthread_join(workers[k].thread, NULL);
    pthread_mutex_destroy(&workers[k].lock);
    pthread_cond_destroy(&workers[k].cond);
}

/* ---- comparing a snapshot with the model ------------------------------------ */

#ifndef FA_MINIMAL
static const fa_tag_row_t *row_of(const char *path) {
    for (uint32_t i = 0; i < snap.row_count; i++)
        if (!strcmp(snap_rows[i].path, path)) return &snap_rows[i];
    return NULL;
}
#endif

#if !defined(FA_MINIMAL) && FA_SITES
/* The site rows: exactly the model's (site, tag) pairs with figures, each
 * with the model's figures, nothing in "other" (every pair fits), and per
 * tag adding up to the tag row. */
static void compare_sites(const char *when) {
    uint32_t expected = 0;
    for (int t = 0; t < m.ntags; t++) {
        const fa_tag_row_t *tr = row_of(m.tags[t].path);
        uint64_t count = 0, live = 0;
        for (int k = 0; k < SITES; k++) {
            uint64_t want_live = m.tags[t].site_live[k];
            if (k <= S_BATCH) {
                want_live = 0;
                for (int th = 0; th < m.nthreads; th++)
                    want_live += m.tags[t].site_frame[k][th];
            }
            const fa_site_row_t *r = NULL;
            for (uint32_t i = 0; i < snap.site_count; i++)
                if (tr && snap_sites[i].tag_id == tr->id && snap_sites[i].site &&
                    (int)snap_sites[i].site->line == site_line[k])
                    r = &snap_sites[i];
            bool active = m.tags[t].site_count[k] || m.tags[t].site_bytes[k] || want_live;
            if (!active) {
                if (r) fail("%s: '%s' has a row for site %d the model does not", when, m.tags[t].path, k);
                continue;
            }
            expected++;
            if (!r) {
                fail("%s: '%s' has no row for site %d (line %d)", when, m.tags[t].path, k, site_line[k]);
                continue;
            }
            if (r->count != m.tags[t].site_count[k] || r->bytes != m.tags[t].site_bytes[k] ||
                r->live_bytes != want_live)
                fail("%s: '%s' site %d: lib says %" PRIu64 " allocations, %" PRIu64 " bytes, %" PRIu64
                     " live; the model %" PRIu64 ", %" PRIu64 ", %" PRIu64,
                     when, m.tags[t].path, k, r->count, r->bytes, r->live_bytes, m.tags[t].site_count[k],
                     m.tags[t].site_bytes[k], want_live);
            count += r->count;
            live += r->live_bytes;
        }
        if (tr && (count != tr->self.alloc_count ||
                   live != tr->self.frame_bytes + tr->self.pool_bytes + tr->self.heap_bytes))
            fail("%s: '%s' site rows add up to %" PRIu64 " allocations and %" PRIu64
                 " live bytes, the tag row "
                 "to %" PRIu64 " and %" PRIu64,
                 when, m.tags[t].path, count, live, tr->self.alloc_count,
                 tr->self.frame_bytes + tr->self.pool_bytes + tr->self.heap_bytes);
    }
    if (snap.site_count != expected || snap.sites_total != expected)
        fail("%s: %u site rows (%u pairs), the model %u", when, snap.site_count, snap.sites_total, expected);
}
#else
static inline void compare_sites(const char *when) {
    (void)when;
}
#endif

#define EXPECT_EQ(what, got, want)                                                                           \
    do {                                                                                                     \
        uint64_t g_ = (got), w_ = (want);                                                                    \
        if (g_ != w_) fail("%s: lib says %" PRIu64 ", the model %" PRIu64, what, g_, w_);                    \
    } while (0)

static void compare(const char *when) {
    char what[160];
#ifndef FA_MINIMAL
    for (int t = 0; t < m.ntags; t++) {
        const fa_tag_row_t *r = row_of(m.tags[t].path);
        if (!r) {
            fail("%s: no row for tag '%s'", when, m.tags[t].path);
            continue;
        }
        uint64_t frame = 0;
        for (int k = 0; k < m.nthreads; k++)
            frame += m.tags[t].frame[k];
        snprintf(what, sizeof what, "%s: '%s' frame bytes", when, m.tags[t].path);
        EXPECT_EQ(what, r->self.frame_bytes, frame);
        snprintf(what, sizeof what, "%s: '%s' pool bytes", when, m.tags[t].path);
        EXPECT_EQ(what, r->self.pool_bytes, m.tags[t].pool);
        snprintf(what, sizeof what, "%s: '%s' heap bytes", when, m.tags[t].path);
        EXPECT_EQ(what, r->self.heap_bytes, m.tags[t].heap);
        snprintf(what, sizeof what, "%s: '%s' allocations this frame", when, m.tags[t].path);
        EXPECT_EQ(what, r->self.alloc_count, m.tags[t].count);
        snprintf(what, sizeof what, "%s: '%s' live bytes", when, m.tags[t].path);
        EXPECT_EQ(what, r->live_bytes, subtree_live(t));
        if (r->peak_bytes < m.tags[t].peak_live)
            fail("%s: '%s' peak %" PRIu64 " below the real high-water %" PRIu64, when, m.tags[t].path,
                 r->peak_bytes, m.tags[t].peak_live);
        if (r->peak_bytes > m.tags[t].start_live + m.tags[t].allocated)
            fail("%s: '%s' peak %" PRIu64 " above what was live (%" PRIu64 ") plus allocated (%" PRIu64 ")",
                 when, m.tags[t].path, r->peak_bytes, m.tags[t].start_live, m.tags[t].allocated);
    }
    static const char *kinds[3] = {"frame", "pool", "heap"};
    for (int k = 0; k < 3; k++) {
        snprintf(what, sizeof what, "%s: %s in use", when, kinds[k]);
        EXPECT_EQ(what, snap.totals[k].in_use, kind_in_use(k));
        snprintf(what, sizeof what, "%s: %s allocations", when, kinds[k]);
        EXPECT_EQ(what, snap.totals[k].alloc_count, m.kind_count[k]);
        snprintf(what, sizeof what, "%s: %s bytes allocated", when, kinds[k]);
        EXPECT_EQ(what, snap.totals[k].alloc_bytes, m.kind_bytes[k]);
        snprintf(what, sizeof what, "%s: %s frees", when, kinds[k]);
        EXPECT_EQ(what, snap.totals[k].free_count, m.kind_frees[k]);
        if (snap.totals[k].peak < m.kind_peak[k])
            fail("%s: %s peak %" PRIu64 " below the real high-water %" PRIu64, when, kinds[k],
                 snap.totals[k].peak, m.kind_peak[k]);
        if (snap.totals[k].peak > m.kind_in_use_start[k] + m.kind_bytes[k])
            fail("%s: %s peak %" PRIu64 " above what was in use plus allocated", when, kinds[k],
                 snap.totals[k].peak);
    }
    uint64_t used = 0;
    for (uint32_t i = 0; i < snap.thread_count; i++)
        used += snap_threads[i].frame_used;
    snprintf(what, sizeof what, "%s: sum of the thread rows' frame_used", when);
    EXPECT_EQ(what, used, kind_in_use(FA_KIND_FRAME));
    EXPECT_EQ("thread rows (the model threads and the controller)", snap.thread_count,
              (uint64_t)m.nthreads + 1);
    compare_sites(when);
#else
    (void)what, (void)when;
#endif
}

/* ---- operations ---------------------------------------------------------------- */

static const char *const names[] = {"a", "b", "c"};

static void op_frame_alloc(int k, bool batch) {
    mthread_t *th = &m.threads[k];
    int t = th->stack[th->depth];
    size_t align = (size_t)1 << rnd(7);
    cmd_t c = {.op = batch ? OP_BATCH : OP_FRAME, .b = align};
    uint64_t n;
    if (batch) {
        c.a = 1 + rnd(200);
        c.c = rnd(20);
        n = ((c.a + align - 1) & ~(align - 1)) * c.c;
    } else {
        c.a = rnd(8) == 0 ? 0 : rnd(3000);
        n = c.a;
    }
    bool expect_refused = refused(t, n);
    run_on(k, &c);
    if (!c.result != expect_refused) {
        fail("frame allocation of %" PRIu64 " under '%s' on thread %d: %s, the model %s", n, m.tags[t].path,
             k, c.result ? "allowed" : "refused", expect_refused ? "refuses it" : "allows it");
        return;
    }
    if (c.result) model_alloc(k, t, FA_KIND_FRAME, batch ? S_BATCH : S_FRAME, n);
}

/* A pool (or heap) block under the thread's current tag, or (tagged) a pool
 * block of up to 4 KiB under any tag the model has, named by its id as an
 * adapter names its tag. */
static void op_block_alloc(int k, bool heap, bool tagged) {
    mthread_t *th = &m.threads[k];
    int t = tagged ? (int)rnd((uint64_t)m.ntags) : th->stack[th->depth];
    if (m.nblocks == MAX_BLOCKS) return;
    cmd_t c = {.op = heap ? OP_HEAP : OP_POOL, .a = 1 + rnd(heap ? 20000 : 5000), .b = (size_t)16 << rnd(4)};
    if (tagged) {
        c.op = OP_TAGGED;
        c.a = 1 + rnd(FA_POOL_MAX_SIZE);
        int id = fa_tag_find(fa, m.tags[t].path, false);
        if (id < 0) {
            fail("tag '%s' of the model is unknown to the library", m.tags[t].path);
            return;
        }
        c.c = (size_t)id;
    }
    int kind = heap || c.a > FA_POOL_MAX_SIZE ? FA_KIND_HEAP : FA_KIND_POOL;
    uint64_t n = c.a;
    if (kind == FA_KIND_POOL) {
        /* The block size the pool will use: ask with a block of the same
         * size class, allocated and freed outside the model's view is not
         * possible, so mirror the class table instead. */
        static const uint16_t sizes[] = {16,   32,   48,   64,   80,   96,   112,  128, 160, 192,
                                         224,  256,  320,  384,  448,  512,  640,  768, 896, 1024,
                                         1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (sizes[i] >= c.a) {
                n = sizes[i];
                break;
            }
    }
    bool expect_refused = refused(t, n);
    run_on(k, &c);
    if (!c.result != expect_refused) {
        fail("%s allocation of %zu under '%s' on thread %d: %s, the model %s", heap ? "heap" : "pool", c.a,
             m.tags[t].path, k, c.result ? "allowed" : "refused",
             expect_refused ? "refuses it" : "allows it");
        if (c.result) {
            cmd_t f = {.op = heap ? OP_FREE_HEAP : OP_FREE_POOL, .p = c.result};
            run_on(k, &f);
        }
        return;
    }
    if (!c.result) return;
    if (kind == FA_KIND_POOL && fa_block_size(fa, c.result) != n)
        fail("pool block of %zu bytes has size %zu, the model %" PRIu64, c.a, fa_block_size(fa, c.result), n);
    block_t *b = &m.blocks[m.nblocks++];
    *b = (block_t){.p = c.result,
                   .kind = kind,
                   .tag = t,
                   .site = heap ? S_HEAP : tagged ? S_TAGGED : S_POOL,
                   .size = n,
                   .serial = ++m.serial,
                   .filled = c.a < 64 ? c.a : 64};
    memset(b->p, (int)(b->serial & 0xFF), b->filled);
    if (kind == FA_KIND_POOL)
        m.tags[t].pool += n;
    else
        m.tags[t].heap += n;
    model_alloc(k, t, kind, b->site, n);
}

static void op_free(int k) {
    if (!m.nblocks) return;
    int i = (int)rnd((uint64_t)m.nblocks);
    block_t b = m.blocks[i];
    const unsigned char *bytes = b.p;
    for (size_t j = 0; j < b.filled; j++)
        if (bytes[j] != (unsigned char)(b.serial & 0xFF)) {
            fail("block %" PRIu64 " was overwritten", b.serial);
            break;
        }
    cmd_t c = {.op = b.kind == FA_KIND_HEAP ? OP_FREE_HEAP : OP_FREE_POOL, .p = b.p};
    run_on(k, &c);
    m.blocks[i] = m.blocks[--m.nblocks];
    if (b.kind == FA_KIND_POOL)
        m.tags[b.tag].pool -= b.size;
    else
        m.tags[b.tag].heap -= b.size;
    m.tags[b.tag].site_live[b.site] -= b.size;
    m.kind_frees[b.kind]++;
    note_peaks();
}

static void op_push(int k) {
    mthread_t *th = &m.threads[k];
    if (th->depth >= 3) return;
    int cur = th->stack[th->depth];
    const char *name = names[rnd(3)];
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s%s%s", m.tags[cur].path, cur ? "/" : "", name);
    cmd_t c = {.op = OP_PUSH, .s = name};
    run_on(k, &c);
    if (c.rc < 0) {
        fail("push of '%s': %s", path, fa_err_name(c.rc));
        return;
    }
    int t = tag_index(path);
    if (t < 0) {
        t = m.ntags++;
        m.tags[t] = (mtag_t){.parent = cur};
        strcpy(m.tags[t].path, path);
    }
    if (strcmp(fa_tag_path(fa, c.rc), path)) fail("push of '%s' gave tag '%s'", path, fa_tag_path(fa, c.rc));
    th->stack[++th->depth] = t;
}

static void op_pop(int k) {
    mthread_t *th = &m.threads[k];
    if (th->depth == 0) return;
    cmd_t c = {.op = OP_POP};
    run_on(k, &c);
    th->depth--;
}

static void thread_frame_end(int k) {
    for (int t = 0; t < m.ntags; t++) {
        m.tags[t].frame[k] = 0;
        m.tags[t].site_frame[0][k] = m.tags[t].site_frame[1][k] = 0;
    }
    m.threads[k].frame_used = 0;
}

static void op_begin_end(int k) {
    mthread_t *th = &m.threads[k];
    cmd_t c = {.op = th->in_frame ? OP_END : OP_BEGIN};
    if (th->in_frame && k == 0) {
        hook_taken = false;
        run_on(k, &c);
        if (!hook_taken) fail("the frame-end hook did not run");
        compare("frame end");
        thread_frame_end(k);
        model_new_frame();
    } else {
        run_on(k, &c);
        if (th->in_frame) thread_frame_end(k);
        note_peaks();
    }
    th->in_frame = !th->in_frame;
}

static void op_budget(int k) {
    int t = (int)rnd((uint64_t)m.ntags);
    uint64_t hard = rnd(4) == 0 ? 0 : subtree_live(t) + rnd(8192);
    cmd_t c = {.op = OP_BUDGET, .a = hard, .s = m.tags[t].path};
    run_on(k, &c);
    if (c.rc != FA_OK) fail("fa_budget_set('%s'): %s", m.tags[t].path, fa_err_name(c.rc));
    m.tags[t].hard = hard;
}

static void op_snapshot(int k) {
    cmd_t c = {.op = OP_SNAPSHOT};
    run_on(k, &c);
    compare("snapshot");
}

/* A worker exits (its open frame is released, its blocks stay live) and a
 * new thread takes its place. */
static void op_respawn(int k) {
    if (k == 0) return;
    stop_thread(k);
    thread_frame_end(k);
    note_peaks();
    start_thread(k);
}

static void usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--seed N] [--ops N] [--threads 1..4] [--quiet]\n", argv0);
    exit(2);
}

int main(int argc, char **argv) {
    uint64_t ops = 200000;
    int nthreads = 4;
    seed = (uint64_t)time(NULL);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--ops") && i + 1 < argc)
            ops = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quiet"))
            quiet = true;
        else
            usage(argv[0]);
    }
    if (nthreads < 1 || nthreads > MAX_THREADS) usage(argv[0]);
    rng_state = seed;
    fa = fa_create(NULL);
    if (!fa) return 1;
    fa_on_frame_end(fa, frame_end_hook, NULL);
    m.ntags = 1;
    m.tags[0] = (mtag_t){.parent = -1};
    m.nthreads = nthreads;
    for (int k = 0; k < nthreads; k++)
        start_thread(k);
    cmd_t c = {.op = OP_MAIN};
    run_on(0, &c); /* model thread 0 ends the context's frames */
    model_new_frame();
    for (op_index = 0; op_index < ops; op_index++) {
        int k = (int)rnd((uint64_t)nthreads);
        uint64_t r = rnd(1000);
        if (r < 300)
            op_frame_alloc(k, false);
        else if (r < 340)
            op_frame_alloc(k, true);
        else if (r < 480)
            op_block_alloc(k, false, false);
        else if (r < 520)
            op_block_alloc(k, false, true);
        else if (r < 580)
            op_block_alloc(k, true, false);
        else if (r < 800)
            op_free(k);
        else if (r < 860)
            op_push(k);
        else if (r < 920)
            op_pop(k);
        else if (r < 975)
            op_begin_end(k);
        else if (r < 985)
            op_budget(k);
        else if (r < 997)
            op_snapshot(k);
        else
            op_respawn(k);
        /* Keep the live set bounded: free in bursts when it fills up. */
        while (m.nblocks > MAX_BLOCKS - 64)
            op_free((int)rnd((uint64_t)nthreads));
    }
    while (m.nblocks)
        op_free(0);
    for (int k = 0; k < nthreads; k++)
        stop_thread(k);
    fa_destroy(fa);
    if (!quiet || failures)
        printf("model: seed %" PRIu64 ", %d threads, %" PRIu64 " operations: %s\n", seed, nthreads, ops,
               failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
