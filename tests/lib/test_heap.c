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
