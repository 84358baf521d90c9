/* The debug build (FA_DEBUG): double frees, foreign pointers and guard
 * overwrites are caught and reported with the call site; leaks are listed
 * with their allocation backtrace at fa_destroy. */
#include "capture.h"

#ifdef FA_DEBUG

#include <stdio.h>
#include <stdlib.h>

typedef struct sites {
    capture_t c;
    char last_file[256];
    int last_line;
    char leak_text[2048];
    int leaks;
    int double_frees; /* all of them, not only the first CAPTURE_MAX */
} sites_t;

static void record(const fa_error_event_t *ev, void *user) {
    sites_t *s = user;
    capture_error(ev, &s->c);
    snprintf(s->last_file, sizeof s->last_file, "%s", ev->file ? ev->file : "");
    s->last_line = ev->line;
    s->double_frees += ev->code == FA_ERR_DOUBLE_FREE;
    if (ev->code == FA_ERR_LEAK) {
        s->leaks++;
        snprintf(s->leak_text, sizeof s->leak_text, "%s", ev->message);
    }
}

static fa_alloc_t *debug_context(sites_t *s) {
    memset(s, 0, sizeof *s);
    capture_init(&s->c);
    fa_config_t cfg = {.error_cb = record, .error_user = s};
    return fa_create(&cfg);
}

Test(debug, a_double_free_is_caught_with_its_call_site) {
    sites_t s;
    fa_alloc_t *fa = debug_context(&s);
    void *p = fa_pool_alloc(fa, 40);
    fa_pool_free(fa, p);
    int line = __LINE__ + 1;
    fa_pool_free(fa, p);
    cr_assert_eq(capture_count_error(&s.c, FA_ERR_DOUBLE_FREE), 1);
    cr_assert(strstr(s.last_file, "test_debug.c") != NULL, "file '%s'", s.last_file);
    cr_assert_eq(s.last_line, line);
    void *h = fa_heap_alloc(fa, 10000, 64);
    fa_heap_free(fa, h);
    fa_heap_free(fa, h);
    cr_assert_eq(capture_count_error(&s.c, FA_ERR_DOUBLE_FREE), 2);
    fa_destroy(fa);
}

Test(debug, a_double_free_is_caught_after_the_block_went_back_to_the_depot) {
    sites_t s;
    fa_alloc_t *fa = debug_context(&s);
    enum { N = 2000 }; /* more than a thread cache keeps: batches go to the depot */
    static void *p[N];
    for (int i = 0; i < N; i++) p[i] = fa_pool_alloc(fa, 40);
    for (int i = 0; i < N; i++) fa_pool_free(fa, p[i]);
    for (int i = 0; i < N; i++) fa_pool_free(fa, p[i]);
    cr_assert_eq(s.double_frees, N, "every double free is reported as one, batch heads included");
    fa_destroy(fa);
}

Test(debug, foreign_and_interior_pointers_are_caught) {
    sites_t s;
    fa_alloc_t *fa = debug_context(&s);
    void *m = malloc(64);
    fa_heap_free(fa, m);
    fa_pool_free(fa, m);
    free(m);
    char *p = fa_pool_alloc(fa, 64);
    fa_pool_free(fa, p + 8);
    cr_assert_eq(capture_count_error(&s.c, FA_ERR_FOREIGN_PTR), 3);
    fa_begin_frame(fa);
    void *frame = fa_frame_alloc(fa, 32, 8);
    fa_heap_free(fa, frame);
    cr_assert_eq(capture_count_error(&s.c, FA_ERR_CROSS_THREAD), 1, "frame memory handed to a heap free");
    fa_end_frame(fa);
    fa_pool_free(fa, p);
    cr_assert_eq(fa_debug_live_blocks(fa), 0);
    fa_destroy(fa);
}

Test(debug, a_write_past_the_end_of_a_block_is_caught_at_free) {
    sites_t s;
    fa_alloc_t *fa = debug_context(&s);
    char *p = fa_pool_alloc(fa, 30);
    p[30] = 'x'; /* one byte too far: lands in the guard */
    fa_pool_free(fa, p);
    char *h = fa_heap_alloc(fa, 5000, 16);
    h[5003] = 'y';
    fa_heap_free(fa, h);
    cr_assert_eq(capture_count_error(&s.c, FA_ERR_CORRUPTION), 2);
    fa_destroy(fa);
}

Test(debug, freed_pool_blocks_and_reset_frame_memory_are_poisoned) {
    fa_alloc_t *fa = fa_create(NULL);
    unsigned char *p = fa_pool_alloc(fa, 48);
    memset(p, 0, 48);
    fa_pool_free(fa, p);
    /* Pool memory stays mapped: reading it after the free is safe here. */
    volatile unsigned char *stale = p;
    cr_assert_eq(stale[20], 0xDF);
    fa_begin_frame(fa);
    unsigned char *f = fa_frame_alloc(fa, 64, 16);
    memset(f, 0, 64);
    fa_end_frame(fa);
    /* A volatile read: fa_frame_alloc carries the malloc attribute, so the
     * compiler may otherwise assume the released block still holds zeros. */
    volatile unsigned char *stale_frame = f;
    cr_assert_eq(stale_frame[10], 0xDD);
    fa_destroy(fa);
}

/* Not static and not inlined, so the backtrace can name it (-rdynamic). */
__attribute__((noinline, visibility("default"))) void *leaky_function_for_the_report(fa_alloc_t *fa);
void *leaky_function_for_the_report(fa_alloc_t *fa) { return fa_pool_alloc(fa, 77); }

Test(debug, a_leak_is_listed_at_destroy_with_its_backtrace) {
    sites_t s;
    fa_alloc_t *fa = debug_context(&s);
    fa_tag_push(fa, "render");
    (void)leaky_function_for_the_report(fa);
    fa_tag_pop(fa);
    void *freed = fa_heap_alloc(fa, 10, 0);
    fa_heap_free(fa, freed);
    cr_assert_eq(fa_debug_live_blocks(fa), 1);
    fa_destroy(fa);
    cr_assert_eq(s.leaks, 1);
    cr_assert(strstr(s.leak_text, "77 bytes") != NULL, "%s", s.leak_text);
    cr_assert(strstr(s.leak_text, "'render'") != NULL, "%s", s.leak_text);
    cr_assert(strstr(s.leak_text, "test_debug.c") != NULL, "%s", s.leak_text);
    cr_assert(strstr(s.leak_text, "leaky_function_for_the_report") != NULL, "backtrace: %s", s.leak_text);
}

#else

Test(debug, release_builds_report_no_live_blocks) {
    fa_alloc_t *fa = fa_create(NULL);
    void *p = fa_pool_alloc(fa, 8);
    cr_assert_eq(fa_debug_live_blocks(fa), 0);
    fa_pool_free_at(fa, p, __FILE__, __LINE__);
    fa_destroy(fa);
}

#endif
