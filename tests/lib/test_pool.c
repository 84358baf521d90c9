/* Pools: size classes, reuse, heap fallback, cross-thread frees, foreign
 * pointers, thread exit. */
#include "capture.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

Test(pool, every_size_up_to_4096_gets_a_16_aligned_block_that_fits) {
    fa_alloc_t *fa = fa_create(NULL);
    for (size_t size = 0; size <= FA_POOL_MAX_SIZE; size++) {
        char *p = fa_pool_alloc(fa, size);
        cr_assert_not_null(p, "size %zu", size);
        cr_assert_eq((uintptr_t)p % 16, 0);
        size_t bs = fa_block_size(fa, p);
#ifdef FA_DEBUG
        cr_assert_eq(bs, size, "the debug build reports the requested size");
#else
        cr_assert_geq(bs, size ? size : 1);
#endif
        cr_assert_leq(bs, size < 128 ? size + 16 : size + size / 4 + 16, "size %zu got class %zu", size, bs);
        memset(p, 0xCD, bs);
        fa_pool_free(fa, p);
    }
    fa_destroy(fa);
}

Test(pool, a_freed_block_is_reused_by_the_next_allocation_of_its_class) {
    fa_alloc_t *fa = fa_create(NULL);
    void *a = fa_pool_alloc(fa, 64);
    fa_pool_free(fa, a);
    void *b = fa_pool_alloc(fa, 60);
    cr_assert_eq(b, a);
    fa_pool_free(fa, b);
    fa_destroy(fa);
}

Test(pool, live_blocks_never_overlap) {
    fa_alloc_t *fa = fa_create(NULL);
    enum { N = 5000 };
    unsigned char **p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37 % 600) + 1;
        p[i] = fa_pool_alloc(fa, size);
        memset(p[i], (unsigned char)i, size);
    }
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)(i * 37 % 600) + 1;
        for (size_t j = 0; j < size; j += 7) cr_assert_eq(p[i][j], (unsigned char)i);
        fa_pool_free(fa, p[i]);
    }
    free(p);
    fa_destroy(fa);
}

#ifdef FA_EXACT_FIGURES
Test(pool, sizes_above_the_largest_class_fall_back_to_the_heap_and_count_as_heap) {
    fa_alloc_t *fa = fa_create(NULL);
    char *big = fa_pool_alloc(fa, 10000);
    cr_assert_not_null(big);
    memset(big, 1, 10000);
    cr_assert_eq(fa_block_size(fa, big), 10000);
    fa_tag_row_t rows[4];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 4};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.totals[FA_KIND_HEAP].in_use, 10000);
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 0);
    cr_assert_eq(s.totals[FA_KIND_HEAP].alloc_count, 1);
    fa_pool_free(fa, big);
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.totals[FA_KIND_HEAP].in_use, 0);
    fa_destroy(fa);
}
#endif

Test(pool, a_pointer_the_pool_does_not_own_is_reported_and_ignored) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *p = fa_pool_alloc(fa, 64);
    fa_pool_free(fa, p + 16); /* interior pointer */
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 1);
    int expected = 1;
#ifdef FA_DEBUG
    /* Only the debug build can tell a malloc block from a heap block without
     * reading memory that is not ours. */
    void *m = malloc(64);
    fa_pool_free(fa, m);
    expected++;
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), expected);
    free(m);
#endif
    fa_pool_free(fa, p);
    fa_pool_free(fa, NULL);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), expected);
    fa_destroy(fa);
}

/* The free path finds a block's index without a division (framealloc.h,
 * fa__slab_t): every address of a slab that is not the start of one of its
 * blocks (the header and owner words, every 16-byte step inside a block of
 * every class, the slack at the end) must still be refused. */
static void count_foreign(const fa_error_event_t *ev, void *user) {
    if (ev->code == FA_ERR_FOREIGN_PTR) ++*(int *)user;
    else if (ev->code == FA_ERR_DOUBLE_FREE) *(int *)user += 1000000;
}

Test(pool, every_address_that_is_not_a_block_start_is_refused_in_every_class) {
    int foreign = 0;
    fa_alloc_t *fa = fa_create(&(fa_config_t){.error_cb = count_foreign, .error_user = &foreign});
    cr_assert_not_null(fa);
    static const size_t sizes[] = {16,  32,  48,  64,  80,   96,   112,  128,  160,  192,  224,  256,  320,  384,
                                   448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096};
    int refused = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char *p = fa_pool_alloc(fa, sizes[k]);
        cr_assert_not_null(p);
        cr_assert_eq(fa_block_size(fa, p), sizes[k]);
        char *slab = (char *)((uintptr_t)p & ~(uintptr_t)(64 * 1024 - 1));
        for (char *q = slab; q < slab + 64 * 1024; q += 16) {
            if (fa_block_size(fa, q) != 0) {
                /* A block start of the same slab: a whole number of blocks
                 * away from p. */
                cr_assert_eq((size_t)((q > p ? q - p : p - q) % sizes[k]), 0, "class %zu: %p is not a block start",
                             sizes[k], (void *)q);
                continue;
            }
            int before = foreign;
            fa_pool_free(fa, q);
            cr_assert_eq(foreign, before + 1, "class %zu: offset %zu accepted", sizes[k], (size_t)(q - slab));
            refused++;
        }
        p[0] = 1;
        fa_pool_free(fa, p);
        cr_assert_eq(fa_pool_alloc(fa, sizes[k]), p, "class %zu: the block came back", sizes[k]);
        fa_pool_free(fa, p);
    }
    cr_assert_gt(refused, 28 * 64);
    fa_destroy(fa);
}

Test(pool, a_block_of_another_context_is_foreign) {
    capture_t c;
    fa_alloc_t *a = capture_create(&c, NULL);
    fa_alloc_t *b = fa_create(NULL);
    void *pb = fa_pool_alloc(b, 32);
    void *hb = fa_heap_alloc(b, 32, 16);
    fa_pool_free(a, pb);
    fa_heap_free(a, hb);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 2);
    fa_pool_free(b, pb);
    fa_heap_free(b, hb);
    fa_destroy(b);
    fa_destroy(a);
}

typedef struct handoff {
    fa_alloc_t *fa;
    void **blocks;
    int n;
} handoff_t;

static void *free_all(void *arg) {
    handoff_t *h = arg;
    for (int i = 0; i < h->n; i++) fa_pool_free(h->fa, h->blocks[i]);
    return NULL;
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

Test(pool, blocks_freed_by_another_thread_return_to_the_pool_and_are_not_leaked) {
    fa_alloc_t *fa = fa_create(NULL);
    enum { N = 1000, ROUNDS = 200 };
    void **seen = malloc((size_t)N * ROUNDS * sizeof *seen);
    void *blocks[N];
    int seen_n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            blocks[i] = fa_pool_alloc(fa, 48);
            cr_assert_not_null(blocks[i]);
            memset(blocks[i], r, 48);
            seen[seen_n++] = blocks[i];
        }
        handoff_t h = {.fa = fa, .blocks = blocks, .n = N};
        pthread_t th;
        pthread_create(&th, NULL, free_all, &h);
        pthread_join(th, NULL); /* the thread exits: its cache goes back */
    }
    qsort(seen, (size_t)seen_n, sizeof *seen, cmp_ptr);
    int distinct = seen_n ? 1 : 0;
    for (int i = 1; i < seen_n; i++) distinct += seen[i] != seen[i - 1];
    /* Leaked blocks would make every round use fresh addresses (200 000). */
    cr_assert_lt(distinct, 3 * N, "%d distinct addresses for %d live at a time", distinct, N);
#ifndef FA_MINIMAL
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
    cr_assert_eq(s.totals[FA_KIND_POOL].in_use, 0);
#endif
    free(seen);
    fa_destroy(fa);
}

static void *alloc_free_and_exit(void *arg) {
    handoff_t *h = arg;
    for (int i = 0; i < h->n; i++) h->blocks[i] = fa_pool_alloc(h->fa, 100);
    for (int i = 0; i < h->n; i++) fa_pool_free(h->fa, h->blocks[i]);
    return NULL;
}

Test(pool, a_thread_that_exits_gives_its_cached_blocks_back) {
    fa_alloc_t *fa = fa_create(NULL);
    void *theirs[64], *mine[64];
    handoff_t h = {.fa = fa, .blocks = theirs, .n = 64};
    pthread_t th;
    pthread_create(&th, NULL, alloc_free_and_exit, &h);
    pthread_join(th, NULL);
    int reused = 0;
    for (int i = 0; i < 64; i++) {
        mine[i] = fa_pool_alloc(fa, 100);
        for (int j = 0; j < 64; j++) reused += mine[i] == theirs[j];
    }
    cr_assert_gt(reused, 0, "none of the exited thread's blocks came back");
    for (int i = 0; i < 64; i++) fa_pool_free(fa, mine[i]);
    fa_destroy(fa);
}

Test(pool, exhausting_the_reserve_returns_null_and_reports) {
    capture_t c;
    fa_config_t cfg = {.pool_reserve_bytes = 4 * 65536};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    int n = 0;
    while (fa_pool_alloc(fa, 4000) && n < 1000) n++;
    cr_assert_lt(n, 1000);
    cr_assert_geq(n, 4 * 14);
    cr_assert_eq(capture_count_error(&c, FA_ERR_NO_MEMORY), 1);
    fa_destroy(fa);
}

/* Slabs are not tied to a size class for ever: once every 16-byte block is
 * free again, their slabs serve 32-byte blocks when the reserve is used up. */
Test(pool, slabs_emptied_by_one_class_serve_another_when_the_reserve_is_used_up) {
    capture_t c;
    fa_config_t cfg = {.pool_reserve_bytes = 32 * 65536};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    enum { MAX = 200000 };
    void **p = malloc(MAX * sizeof *p);
    int n = 0;
    while (n < MAX && (p[n] = fa_pool_alloc(fa, 16)) != NULL) n++;
    cr_assert_lt(n, MAX, "the reserve never ran out");
    cr_assert_gt(n, 32 * 900, "at least 900 blocks per 64 KiB slab (FA_DEBUG adds 48 bytes to each)");
    for (int i = 0; i < n; i++) fa_pool_free(fa, p[i]);
    fa_clear_error();
    int m = 0;
    while (m < MAX && (p[m] = fa_pool_alloc(fa, 32)) != NULL) m++;
    cr_assert_gt(m, n / 2 - 2 * 2048, "only %d 32-byte blocks after freeing %d 16-byte ones", m, n);
    for (int i = 0; i < m; i++) fa_pool_free(fa, p[i]);
    /* And back again. */
    int k = 0;
    while (k < MAX && (p[k] = fa_pool_alloc(fa, 16)) != NULL) k++;
    cr_assert_gt(k, n - 2 * 4096);
    for (int i = 0; i < k; i++) fa_pool_free(fa, p[i]);
    free(p);
    fa_destroy(fa);
}

/* fa_pool_trim: every slab whose blocks are all free goes to the empty
 * list; beyond the first 16 they go back to the OS (their pages are no
 * longer resident), and any class may take them again. */
Test(pool, trim_returns_empty_slabs_beyond_16_to_the_os) {
    fa_alloc_t *fa = fa_create(NULL);
    enum { N = 64 * 1000 };
    char **p = malloc(N * sizeof *p);
    for (int i = 0; i < N; i++) {
        p[i] = fa_pool_alloc(fa, 64);
        cr_assert_not_null(p[i]);
        memset(p[i], 0xAB, 64);
    }
    for (int i = 0; i < N; i++) fa_pool_free(fa, p[i]);
    size_t released = fa_pool_trim(fa);
    cr_assert_geq(released, 40, "only %zu slabs went back to the OS", released);
    /* The pages after each released slab's header page are not resident. */
    long page = sysconf(_SC_PAGESIZE);
    size_t slabs = 0, gone = 0;
    uintptr_t last = 0;
    for (int i = 0; i < N; i++) {
        uintptr_t slab = (uintptr_t)p[i] & ~(uintptr_t)0xFFFF;
        if (slab == last) continue;
        last = slab;
        slabs++;
        unsigned char vec[8];
        cr_assert_eq(mincore((void *)(slab + 4 * (uintptr_t)page), 8 * (size_t)page, vec), 0);
        bool resident = false;
        for (int k = 0; k < 8; k++) resident |= vec[k] & 1;
        gone += !resident;
    }
    cr_assert_geq(gone, released - 4, "%zu of %zu slabs still resident after trim", slabs - gone, slabs);
    /* They serve any class again. */
    for (int i = 0; i < N / 2; i++) {
        p[i] = fa_pool_alloc(fa, 128);
        cr_assert_not_null(p[i]);
        memset(p[i], 0xCD, 128);
    }
    for (int i = 0; i < N / 2; i++) fa_pool_free(fa, p[i]);
    free(p);
    fa_destroy(fa);
}

/* Hooks that name their tag (integrations/ adapters): the block is the
 * named tag's whatever the thread has pushed, and a realloc that has to move
 * a block attributes the new one to the tag it is given. */
#ifdef FA_EXACT_FIGURES
Test(pool, a_tagged_block_counts_for_its_tag_not_the_threads_current_one) {
    fa_alloc_t *fa = fa_create(NULL);
    int lua = fa_tag_find(fa, "scripts/lua", true);
    fa_tag_push(fa, "render");
    void *p = fa_pool_alloc_tagged(fa, lua, 40);
    cr_assert_not_null(p);
    cr_assert_eq(fa_tag_current(fa), fa_tag_find(fa, "render", false), "the stack is untouched");
    fa_tag_row_t rows[8];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 8};
    fa_snapshot_take(fa, &s);
    cr_assert_eq(row_of(&s, "scripts/lua")->self.pool_bytes, 48);
    cr_assert_eq(row_of(&s, "render")->self.pool_bytes, 0);
    void *q = fa_pool_realloc(fa, p, 200, lua);
    cr_assert_not_null(q);
    fa_snapshot_take(fa, &s);
    cr_assert_eq(row_of(&s, "scripts/lua")->self.pool_bytes, 224);
    fa_pool_free(fa, q); /* from a thread whose current tag is another */
    fa_snapshot_take(fa, &s);
    cr_assert_eq(row_of(&s, "scripts/lua")->self.pool_bytes, 0);
    fa_tag_pop(fa);
    fa_destroy(fa);
}
#endif

Test(pool, realloc_refuses_a_foreign_pointer_and_an_unknown_tag_and_leaves_the_block) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *p = fa_pool_alloc(fa, 64);
    p[0] = 'x';
    cr_assert_null(fa_pool_realloc(fa, p + 16, 100, FA_TAG_ROOT));
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 1);
    cr_assert_null(fa_pool_realloc(fa, p, 100, 999));
    cr_assert_null(fa_pool_alloc_tagged(fa, -1, 100));
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 2);
    cr_assert_eq(p[0], 'x');
    fa_pool_free(fa, p);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 1);
    fa_destroy(fa);
}
