/* Explicitly tagged heap blocks and fa_heap_realloc (what allocation hooks
 * called from any thread need), and pushing a tag by id. */
#include "capture.h"

#include <pthread.h>
#include <stdint.h>

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
