/* Tags: paths, validation, stack limits, scoped macros whatever the exit,
 * and attribution of every allocation kind. */
#include "capture.h"

#include <pthread.h>

Test(tags, nested_pushes_form_paths_and_reuse_ids) {
    fa_alloc_t *fa = fa_create(NULL);
    int physics = fa_tag_push(fa, "physics");
    int contacts = fa_tag_push(fa, "contacts");
    cr_assert_gt(physics, 0);
    cr_assert_str_eq(fa_tag_path(fa, contacts), "physics/contacts");
    cr_assert_eq(fa_tag_current(fa), contacts);
    fa_tag_pop(fa);
    cr_assert_eq(fa_tag_current(fa), physics);
    fa_tag_pop(fa);
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    cr_assert_eq(fa_tag_push(fa, "physics/contacts"), contacts, "a multi-component push resolves the same tag");
    fa_tag_pop(fa);
    cr_assert_eq(fa_tag_find(fa, "physics/contacts", false), contacts);
    cr_assert_eq(fa_tag_find(fa, "physics/broadphase", false), FA_ERR_NOT_FOUND);
    cr_assert_eq(fa_tag_find(fa, "", false), FA_TAG_ROOT);
    fa_destroy(fa);
}

Test(tags, invalid_names_are_refused_and_nothing_is_pushed) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    char long_name[FA_TAG_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"", "/a", "a/", "a//b", "tab\there", "bell\a", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(fa_tag_push(fa, bad[i]), FA_ERR_TAG_NAME, "'%s'", bad[i]);
        cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    }
    cr_assert_eq(fa_tag_push(fa, NULL), FA_ERR_INVALID_ARG);
    cr_assert_geq(capture_count_error(&c, FA_ERR_TAG_NAME), 7);
    /* Quotes, backslashes and spaces are fine in a name. */
    int odd = fa_tag_push(fa, "say \"hi\" \\o");
    cr_assert_geq(odd, 0);
    cr_assert_str_eq(fa_tag_path(fa, odd), "say \"hi\" \\o");
    fa_tag_pop(fa);
    fa_destroy(fa);
}

Test(tags, the_stack_holds_32_levels_and_reports_overflow_and_underflow) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    for (int i = 0; i < FA_TAG_STACK_MAX; i++) cr_assert_geq(fa_tag_push(fa, "n"), 0);
    cr_assert_eq(fa_tag_push(fa, "n"), FA_ERR_TAG_STACK);
    for (int i = 0; i < FA_TAG_STACK_MAX; i++) fa_tag_pop(fa);
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    fa_tag_pop(fa);
    cr_assert_eq(capture_count_error(&c, FA_ERR_TAG_STACK), 2);
    fa_destroy(fa);
}

Test(tags, a_full_tag_table_is_reported) {
    capture_t c;
    fa_config_t cfg = {.max_tags = 4};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    cr_assert_geq(fa_tag_find(fa, "a", true), 0);
    cr_assert_geq(fa_tag_find(fa, "b", true), 0);
    cr_assert_geq(fa_tag_find(fa, "c", true), 0);
    cr_assert_eq(fa_tag_find(fa, "d", true), FA_ERR_TOO_MANY_TAGS);
    cr_assert_eq(fa_tag_push(fa, "e"), FA_ERR_TOO_MANY_TAGS);
    cr_assert_eq(fa_tag_count(fa), 4);
    cr_assert_eq(capture_count_error(&c, FA_ERR_TOO_MANY_TAGS), 2);
    fa_destroy(fa);
}

/* --- scoped tags pop whatever the exit -------------------------------------- */

static int scope_return(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "ret");
    return fa_tag_current(fa);
}

static int with_return(fa_alloc_t *fa) {
    FA_WITH_TAG(fa, "wret") { return fa_tag_current(fa); }
    return -1;
}

Test(tags, scoped_tag_pops_on_return) {
    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(scope_return(fa), fa_tag_find(fa, "ret", false));
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    cr_assert_eq(with_return(fa), fa_tag_find(fa, "wret", false));
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    fa_destroy(fa);
}

Test(tags, scoped_tag_pops_on_break_and_continue) {
    fa_alloc_t *fa = fa_create(NULL);
    for (int i = 0; i < 3; i++) {
        FA_TAG_SCOPE(fa, "loop");
        cr_assert_eq(fa_tag_current(fa), fa_tag_find(fa, "loop", false));
        if (i == 0) continue;
        break;
    }
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    FA_WITH_TAG(fa, "brk") {
        if (fa_tag_current(fa) > 0) break;
        cr_assert_fail("not reached");
    }
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    FA_WITH_TAG(fa, "cont") { continue; }
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    fa_destroy(fa);
}

Test(tags, scoped_tag_pops_on_goto_out_of_the_scope) {
    fa_alloc_t *fa = fa_create(NULL);
    {
        FA_TAG_SCOPE(fa, "g1");
        if (fa_tag_current(fa) > 0) goto out1;
    }
out1:
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    FA_WITH_TAG(fa, "g2") {
        FA_WITH_TAG(fa, "inner") { goto out2; }
    }
out2:
    cr_assert_eq(fa_tag_current(fa), FA_TAG_ROOT);
    fa_destroy(fa);
}

Test(tags, a_failed_scoped_push_pops_nothing) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_tag_push(fa, "outer");
    int outer = fa_tag_current(fa);
    {
        FA_TAG_SCOPE(fa, "bad//name");
        cr_assert_eq(fa_tag_current(fa), outer);
    }
    cr_assert_eq(fa_tag_current(fa), outer, "the failed scope must not pop the outer tag");
    fa_tag_pop(fa);
    fa_destroy(fa);
}

static void *create_tags(void *arg) {
    fa_alloc_t *fa = arg;
    static const char *names[] = {"ai", "ai/path", "render", "audio/mix", "ui"};
    intptr_t sum = 0;
    for (int r = 0; r < 200; r++)
        for (int i = 0; i < 5; i++) sum += fa_tag_find(fa, names[i], true);
    return (void *)sum;
}

Test(tags, concurrent_creation_of_the_same_paths_gives_one_id_each) {
    fa_alloc_t *fa = fa_create(NULL);
    pthread_t a, b;
    pthread_create(&a, NULL, create_tags, fa);
    pthread_create(&b, NULL, create_tags, fa);
    void *ra, *rb;
    pthread_join(a, &ra);
    pthread_join(b, &rb);
    cr_assert_eq(ra, rb);
    cr_assert_eq(fa_tag_count(fa), 7, "root + ai, ai/path, render, audio, audio/mix, ui");
    fa_destroy(fa);
}

#ifdef FA_EXACT_FIGURES
Test(tags, every_kind_of_allocation_is_attributed_to_the_current_tag) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    fa_tag_push(fa, "physics");
    (void)!fa_frame_alloc(fa, 100, 8);
    void *p = fa_pool_alloc(fa, 64);
    void *h = fa_heap_alloc(fa, 5000, 64);
    void *big = fa_pool_alloc(fa, 8000);
    fa_tag_pop(fa);
    fa_tag_push(fa, "render");
    (void)!fa_frame_alloc_batch(fa, 10, 1, 30);
    fa_tag_pop(fa);
    fa_tag_row_t rows[8];
    fa_snapshot_t s = {.rows = rows, .rows_capacity = 8};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    const fa_tag_row_t *ph = row_of(&s, "physics"), *re = row_of(&s, "render");
    cr_assert_not_null(ph);
    cr_assert_eq(ph->self.frame_bytes, 100);
    cr_assert_eq(ph->self.pool_bytes, 64);
    cr_assert_eq(ph->self.heap_bytes, 13000);
    cr_assert_eq(ph->self.alloc_count, 4);
    cr_assert_eq(re->self.frame_bytes, 300);
    cr_assert_eq(re->self.alloc_count, 1);
    cr_assert_eq(row_of(&s, "")->self.alloc_count, 0, "nothing was untagged");
    /* A block freed under another tag still leaves its own tag's figures. */
    fa_tag_push(fa, "render");
    fa_pool_free(fa, p);
    fa_heap_free(fa, h);
    fa_pool_free(fa, big);
    fa_tag_pop(fa);
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    ph = row_of(&s, "physics");
    cr_assert_eq(ph->self.pool_bytes, 0);
    cr_assert_eq(ph->self.heap_bytes, 0);
    fa_end_frame(fa);
    fa_destroy(fa);
}
#endif

Test(tags, a_rejected_path_creates_no_tags) {
    capture_t c;
    fa_config_t cfg = {.max_tags = 5};
    fa_alloc_t *fa = capture_create(&c, &cfg);
    const char *bad[] = {"physics/", "a//b", "x/y/", "x/y//z", "x/\ty"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(fa_tag_find(fa, bad[i], true), FA_ERR_TAG_NAME, "'%s'", bad[i]);
        cr_assert_eq(fa_tag_push(fa, bad[i]), FA_ERR_TAG_NAME);
        cr_assert_eq(fa_budget_set(fa, bad[i], 0, 100), FA_ERR_TAG_NAME);
        cr_assert_null(fa_task_begin(fa, bad[i]));
        cr_assert_eq(fa_tag_count(fa), 1, "'%s' left tags behind", bad[i]);
    }
    /* Four new components do not fit in the four free entries left... */
    cr_assert_eq(fa_tag_find(fa, "a/b/c/d/e", true), FA_ERR_TOO_MANY_TAGS);
    cr_assert_eq(fa_tag_count(fa), 1, "a path that does not fit creates none of it");
    /* ...and too long a path, even with valid components. */
    char longp[FA_TAG_PATH_MAX + 40];
    memset(longp, 'a', sizeof longp);
    for (size_t i = 50; i < sizeof longp; i += 51) longp[i] = '/';
    longp[sizeof longp - 1] = '\0';
    cr_assert_eq(fa_tag_find(fa, longp, true), FA_ERR_TAG_NAME);
    cr_assert_eq(fa_tag_count(fa), 1);
    cr_assert_eq(fa_tag_find(fa, "a/b/c/d", true), 4);
    fa_destroy(fa);
}
