/* Built against an installed framealloc (make install PREFIX=... then
 * pkg-config): calls every function of the public API once, so a missing
 * export or header shows up as a build or link error. */
#include <fa_frame_vec.h>
#include <framealloc.h>
#include <stdio.h>
#include <string.h>

static void hook(fa_alloc_t *fa, uint64_t frame, void *user) { (void)fa, (void)frame, (void)user; }

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_config_t cfg = fa_config_effective(fa);
    fa_set_main_thread(fa);
    fa_on_frame_end(fa, hook, NULL);
    fa_budget_set(fa, "physics", 1000, 2000);
    fa_budget_desc_t d = {.hard_bytes = 4096, .policy = FA_POLICY_WARN};
    fa_budget_set_ex(fa, "render", &d);
    fa_budget_get(fa, "render", &d);
    fa_begin_frame(fa);
    int id = fa_tag_push(fa, "physics");
    void *out[8];
    char *a = fa_frame_alloc(fa, 64, 16);
    char *b = fa_frame_alloc_batch(fa, 16, 16, 10);
    (void)!fa_frame_alloc2(fa, 8, 8, out);
    (void)!fa_frame_alloc4(fa, 8, 8, out);
    (void)!fa_frame_alloc8(fa, 8, 8, out);
    int *n = FA_FRAME_NEW(fa, int);
    double *arr = FA_FRAME_ARRAY(fa, double, 4);
    char *s = fa_frame_strdup(fa, "x");
    char *f = fa_frame_sprintf(fa, "%d", 7);
    fa_frame_mark_t m = fa_frame_mark(fa);
    fa_frame_rollback(fa, m);
    void *p = fa_pool_alloc(fa, 100);
    void *h = fa_heap_alloc(fa, 100, 64);
    size_t bs = fa_block_size(fa, p);
    fa_pool_free(fa, p);
    fa_heap_free(fa, h);
    h = fa_heap_alloc_tagged(fa, fa_tag_find(fa, "sqlite", true), 10, 0);
    h = fa_heap_realloc(fa, h, 20, fa_tag_push_id(fa, fa_tag_find(fa, "sqlite", false)));
    fa_tag_pop(fa);
    fa_heap_free(fa, h);
    p = fa_pool_alloc_tagged(fa, fa_tag_find(fa, "lua", true), 24);
    p = fa_pool_realloc(fa, p, 5000, fa_tag_find(fa, "lua", false));
    fa_pool_free(fa, p);
    fa_frame_vec_t vec;
    FA_FRAME_VEC_INIT(&vec, fa, int);
    fa_frame_vec_reserve(&vec, 4);
    (void)!fa_frame_vec_push_n(&vec, 2);
    (void)!FA_FRAME_VEC_PUSH(&vec, int);
    fa_frame_vec_clear(&vec);
    bool current = fa_frame_vec_is_current(&vec);
    fa_frame_map_t map;
    FA_FRAME_MAP_INIT(&map, fa, int, 4);
    (void)!FA_FRAME_MAP_PUT(&map, int, 1, NULL);
    (void)!FA_FRAME_MAP_GET(&map, int, 1);
    size_t cursor = 0;
    while (fa_frame_map_next(&map, &cursor, NULL, NULL)) {
    }
    current = current && fa_frame_map_remove(&map, 1);
    FA_WITH_TAG(fa, "contacts") { (void)!fa_frame_alloc(fa, 8, 8); }
    { FA_TAG_SCOPE(fa, "broadphase"); }
    fa_tag_pop(fa);
    fa_tag_row_t rows[16];
    fa_snapshot_t snap = {.rows = rows, .rows_capacity = 16};
    int rc = fa_snapshot_take(fa, &snap);
    printf("tag %d=%s cur=%d count=%u used=%zu cap=%zu bs=%zu rc=%s frame=%llu err=%s/%s chunk=%zu %p%p%p%p%p%p\n",
           id, fa_tag_path(fa, fa_tag_find(fa, "physics/contacts", false)), fa_tag_current(fa), fa_tag_count(fa),
           fa_frame_used(fa), fa_frame_capacity(fa), bs, fa_err_name(rc), (unsigned long long)fa_frame_number(fa),
           fa_strerror(fa_last_error()), fa_err_name(FA_ERR_BUDGET), cfg.frame_chunk_bytes, (void *)a, (void *)b,
           (void *)n, (void *)arr, (void *)s, (void *)f);
    int bad = strcmp(snap.rows[1].path, "physics") != 0 || !current;
    fa_clear_error();
    fa_end_frame(fa);
    fa_remove_frame_hook(fa, hook, NULL);
    fa_destroy(fa);
    return bad;
}
