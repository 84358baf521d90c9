/* Foreign and twice-freed pointers, in every build: a pointer lib never
 * handed out (a malloc block, the start of a page whose preceding page is
 * unmapped, an interior pointer) is reported without reading memory lib does
 * not own; a double free is reported without reading freed memory and frees
 * nothing. */
#include "capture.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Two pages with the first unmapped again: anything that reads a header in
 * front of the second page faults. */
static char *page_after_a_hole(void) {
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    munmap(m, (size_t)page);
    return m + page;
}

Test(heap, a_pointer_just_after_an_unmapped_page_is_reported_without_reading_it) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *p = page_after_a_hole();
    fa_heap_free(fa, p);
    fa_heap_free(fa, p + 16);
    fa_pool_free(fa, p);
    fa_pool_free(fa, p + 32);
    cr_assert_eq(fa_block_size(fa, p), 0);
    cr_assert_eq(fa_block_size(fa, p + 16), 0);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 4);
    munmap(p, (size_t)sysconf(_SC_PAGESIZE));
    fa_destroy(fa);
}

Test(heap, a_malloc_block_is_foreign) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *m = malloc(64);
    fa_heap_free(fa, m);
    fa_pool_free(fa, m);
    cr_assert_eq(fa_block_size(fa, m), 0);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 2);
    free(m); /* still ours to free: lib did not touch it */
    fa_destroy(fa);
}

Test(heap, an_interior_pointer_is_foreign) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *h = fa_heap_alloc(fa, 256, 64);
    fa_heap_free(fa, h + 64);
    fa_pool_free(fa, h + 8);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 2);
    cr_assert_eq(fa_block_size(fa, h), 256);
    fa_heap_free(fa, h);
    cr_assert_eq(c.error_count, 2);
    fa_destroy(fa);
}

Test(heap, a_double_free_is_reported_and_frees_nothing) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    void *h = fa_heap_alloc(fa, 100, 16);
    fa_heap_free(fa, h);
    fa_heap_free(fa, h);
    cr_assert_eq(capture_count_error(&c, FA_ERR_DOUBLE_FREE), 1);
    fa_pool_free(fa, fa_pool_alloc(fa, 5000)); /* heap fallback through the pool call */
    fa_destroy(fa);
}

/* After the free, malloc hands the same memory to someone else, whose data
 * happens to look like a live block of ours. A second free must not free
 * that memory. */
Test(heap, a_double_free_never_frees_memory_that_now_belongs_to_someone_else) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    enum { N = 64 };
    char *blocks[N];
    unsigned char header[32];
    for (int i = 0; i < N; i++)
        blocks[i] = fa_heap_alloc(fa, 200, 16);
    memcpy(header, blocks[N - 1] - 32, sizeof header); /* what a live header looks like */
    for (int i = 0; i < N; i++)
        fa_heap_free(fa, blocks[i]);
    /* Reuse the memory with malloc and forge the header in front of where
     * each of our blocks was. */
    char *other[N];
    for (int i = 0; i < N; i++) {
        other[i] = malloc(200 + 32 + 15);
        memset(other[i], 0, 200 + 32 + 15);
    }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++)
            if (blocks[i] - 32 >= other[k] && blocks[i] <= other[k] + 200) {
                memcpy(blocks[i] - 32, header, sizeof header);
                /* the forged header's raw pointer: the other block */
                memcpy(blocks[i] - 32 + 8, &other[k], sizeof(void *));
            }
    for (int i = 0; i < N; i++)
        fa_heap_free(fa, blocks[i]);
    cr_assert_eq(capture_count_error(&c, FA_ERR_DOUBLE_FREE) + capture_count_error(&c, FA_ERR_FOREIGN_PTR),
                 N);
    for (int i = 0; i < N; i++)
        free(other[i]); /* glibc aborts here if lib freed them */
    fa_destroy(fa);
}

Test(pool, a_double_free_is_reported_and_the_block_is_handed_out_once) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    void *p = fa_pool_alloc(fa, 48);
    fa_pool_free(fa, p);
    fa_pool_free(fa, p);
    cr_assert_eq(capture_count_error(&c, FA_ERR_DOUBLE_FREE), 1);
    void *a = fa_pool_alloc(fa, 48), *b = fa_pool_alloc(fa, 48);
    cr_assert_neq(a, b, "the twice-freed block came back twice");
    fa_pool_free(fa, a);
    fa_pool_free(fa, b);
    fa_destroy(fa);
}

Test(task, a_pointer_that_is_not_a_block_of_the_task_is_reported) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    fa_task_t *t = fa_task_begin(fa, "jobs");
    fa_task_t *other = fa_task_begin(fa, "jobs");
    void *mine = fa_task_alloc(t, 64);
    void *theirs = fa_task_alloc(other, 64);
    char *m = malloc(128);
    char *hole = page_after_a_hole();
    fa_task_free(t, m + 64);
    fa_task_free(t, hole);
    fa_task_free(t, theirs);
    fa_task_free(t, (char *)mine + 16);
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 4);
    cr_assert_eq(fa_task_bytes(t), 64);
    cr_assert_eq(fa_task_bytes(other), 64);
    fa_task_free(t, mine);
    cr_assert_eq(fa_task_bytes(t), 0);
    fa_task_end(t);
    fa_task_end(other);
    free(m);
    munmap(hole, (size_t)sysconf(_SC_PAGESIZE));
    fa_destroy(fa);
}

/* Explicitly tagged heap blocks and fa_heap_realloc (what allocation hooks
 * called from any thread need), and pushing a tag by id. */
#include <pthread.h>

static inline uint64_t heap_live(fa_alloc_t *fa, const char *path) {
    fa_tag_row_t rows[32];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 32};
    fa_snapshot_take(fa, &s);
    const fa_tag_row_t *r = row_of(&s, path);
    return r ? r->self.heap_bytes : 0;
}

Test(heap, a_tagged_block_counts_under_its_tag_whatever_the_thread_pushed) {
    fa_alloc_t *fa = fa_create(NULL);
    int lua = fa_tag_find(fa, "scripts/lua", true);
    cr_assert_geq(lua, 0);
    fa_tag_push(fa, "render");
    void *p = fa_heap_alloc_tagged(fa, lua, 1000, 0);
    cr_assert_not_null(p);
    memset(p, 0xA5, 1000); /* UBSan checks the block's declared size */
    cr_assert_eq(fa_tag_current(fa), fa_tag_find(fa, "render", false), "the stack is untouched");
    fa_tag_pop(fa);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "scripts/lua"), 1000);
    cr_assert_eq(heap_live(fa, "render"), 0);
#endif
    cr_assert_eq(fa_block_size(fa, p), 1000);
    fa_heap_free(fa, p);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "scripts/lua"), 0);
#endif
    fa_destroy(fa);
}

Test(heap, an_unknown_tag_id_is_refused) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    cr_assert_null(fa_heap_alloc_tagged(fa, 999, 16, 0));
    cr_assert_null(fa_heap_alloc_tagged(fa, -1, 16, 0));
    cr_assert_null(fa_heap_realloc(fa, NULL, 16, 500));
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 3);
    fa_destroy(fa);
}

Test(heap, realloc_keeps_contents_alignment_and_moves_the_bytes_between_tags) {
    fa_alloc_t *fa = fa_create(NULL);
    int a = fa_tag_find(fa, "a", true), b = fa_tag_find(fa, "b", true);
    unsigned char *p = fa_heap_alloc_tagged(fa, a, 100, 256);
    for (int i = 0; i < 100; i++)
        p[i] = (unsigned char)i;
    unsigned char *q = fa_heap_realloc(fa, p, 5000, b);
    cr_assert_not_null(q);
    cr_assert_eq((uintptr_t)q % 256, 0, "the alignment is kept");
    for (int i = 0; i < 100; i++)
        cr_assert_eq(q[i], i);
    cr_assert_eq(fa_block_size(fa, q), 5000);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "a"), 0);
    cr_assert_eq(heap_live(fa, "b"), 5000);
#endif
    unsigned char *r = fa_heap_realloc(fa, q, 10, b); /* shrink */
    for (int i = 0; i < 10; i++)
        cr_assert_eq(r[i], i);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "b"), 10);
#endif
    unsigned char *z = fa_heap_realloc(fa, r, 0, b);
    cr_assert_not_null(z, "size 0 gives a block, like fa_heap_alloc");
    fa_heap_free(fa, z);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "b"), 0);
#endif
    fa_destroy(fa);
}

Test(heap, realloc_of_a_pool_block_is_reported_and_leaves_it_alone) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char *p = fa_pool_alloc(fa, 64);
    p[0] = 'x';
    cr_assert_null(fa_heap_realloc(fa, p, 128, 0));
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 1);
    cr_assert_eq(p[0], 'x');
    fa_pool_free(fa, p);
    fa_destroy(fa);
}

#ifndef FA_MINIMAL
Test(heap, a_tagged_block_is_charged_to_its_tags_budget) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, &(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "sqlite", 0, 4096);
    int tag = fa_tag_find(fa, "sqlite", false);
    void *p = fa_heap_alloc_tagged(fa, tag, 3000, 0);
    cr_assert_not_null(p);
    cr_assert_null(fa_heap_alloc_tagged(fa, tag, 3000, 0));
    cr_assert_null(fa_heap_realloc(fa, p, 5000, tag), "growth past the hard budget fails");
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "sqlite"), 2);
    fa_heap_free(fa, p);
    fa_destroy(fa);
}

/* A resize is charged what it leaves in use: the old block's bytes are not
 * counted beside the new block's (realloc frees them), under the tag's own
 * budget and under a parent budget shared by the old and the new tag. */
Test(heap, realloc_under_a_hard_budget_is_charged_what_it_leaves_in_use) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, &(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "scripts", 0, 1000000);
    int tag = fa_tag_find(fa, "scripts", false);
    void *p = fa_heap_alloc_tagged(fa, tag, 600000, 0);
    cr_assert_not_null(p);
    void *q = fa_heap_realloc(fa, p, 700000, tag);
    cr_assert_not_null(q, "600 KB grown to 700 KB fits a 1 MB budget");
    q = fa_heap_realloc(fa, q, 100000, tag);
    cr_assert_not_null(q, "a shrink fits");
    q = fa_heap_realloc(fa, q, 950000, tag);
    cr_assert_not_null(q, "100 KB grown to 950 KB fits");
    cr_assert_null(fa_heap_realloc(fa, q, 1100000, tag), "1.1 MB does not");
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "scripts"), 1);
    cr_assert_null(fa_heap_alloc_tagged(fa, tag, 100000, 0), "the usage is exact: 950 KB + 100 KB is refused");
    void *r = fa_heap_alloc_tagged(fa, tag, 40000, 0);
    cr_assert_not_null(r, "950 KB + 40 KB fits");
    fa_heap_free(fa, r);
    fa_heap_free(fa, q);

    /* A parent budget shared by the old and the new tag. */
    fa_budget_set(fa, "game", 0, 1000000);
    int a = fa_tag_find(fa, "game/a", true), b = fa_tag_find(fa, "game/b", true);
    int other = fa_tag_find(fa, "other", true);
    p = fa_heap_alloc_tagged(fa, a, 600000, 0);
    q = fa_heap_realloc(fa, p, 700000, b);
    cr_assert_not_null(q, "moved from game/a to game/b: 700 KB under game");
    void *o = fa_heap_alloc_tagged(fa, other, 600000, 0);
    cr_assert_null(fa_heap_realloc(fa, o, 400000, a), "600 KB from outside game adds to its 700 KB");
    cr_assert_eq(capture_count_event(&c, FA_BUDGET_DENIED, "game"), 1);
    fa_heap_free(fa, o);
    fa_heap_free(fa, q);
    fa_destroy(fa);
}
#endif

typedef struct hook_thread {
    fa_alloc_t *fa;
    int tag;
    void *blocks[64];
} hook_thread_t;

static void *alloc_on_a_thread(void *arg) {
    hook_thread_t *h = arg;
    for (int i = 0; i < 64; i++)
        h->blocks[i] = fa_heap_alloc_tagged(h->fa, h->tag, 100, 0);
    for (int i = 0; i < 64; i += 2)
        h->blocks[i] = fa_heap_realloc(h->fa, h->blocks[i], 200, h->tag);
    return NULL;
}

Test(heap, tagged_blocks_from_other_threads_sum_under_the_tag_and_free_anywhere) {
    fa_alloc_t *fa = fa_create(NULL);
    hook_thread_t h = {fa, fa_tag_find(fa, "sdl", true), {0}};
    pthread_t th;
    pthread_create(&th, NULL, alloc_on_a_thread, &h);
    pthread_join(th, NULL);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "sdl"), 32 * 100 + 32 * 200);
#endif
    for (int i = 0; i < 64; i++)
        fa_heap_free(fa, h.blocks[i]);
#ifdef FA_EXACT_FIGURES
    cr_assert_eq(heap_live(fa, "sdl"), 0);
#endif
    fa_destroy(fa);
}

Test(tags, push_id_pushes_the_absolute_tag_not_a_child) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    int contacts = fa_tag_find(fa, "physics/contacts", true);
    fa_tag_push(fa, "render");
    cr_assert_eq(fa_tag_push_id(fa, contacts), contacts);
    cr_assert_eq(fa_tag_current(fa), contacts);
    fa_tag_pop(fa);
    cr_assert_eq(fa_tag_current(fa), fa_tag_find(fa, "render", false));
    fa_tag_pop(fa);
    cr_assert_eq(fa_tag_push_id(fa, 12345), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT, "nothing was pushed");
    cr_assert_eq(capture_count_error(&c, FA_ERR_INVALID_ARG), 1);
    fa_destroy(fa);
}

Test(heap, realloc_of_a_pointer_after_an_unmapped_page_is_reported_without_reading_it) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    int tag = fa_tag_find(fa, "scripts", true);
    char *p = page_after_a_hole();
    cr_assert_null(fa_heap_realloc(fa, p, 64, tag));
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 1);
    void *q = fa_heap_alloc_tagged(fa, tag, 32, 0);
    fa_heap_free(fa, q);
    cr_assert_null(fa_heap_realloc(fa, q, 64, tag), "a freed block is not reallocated");
    munmap(p, (size_t)sysconf(_SC_PAGESIZE));
    fa_destroy(fa);
}
