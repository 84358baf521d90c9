/* Call sites: every allocation made through the macros is counted for the
 * line that wrote it, per tag, and a snapshot's site rows add up exactly to
 * its tag rows (and to the kind totals), whatever fits in the rows. */
#include "capture.h"
#include "syscount.h"

#include <fa_frame_vec.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#if FA_SITES

#define ROWS_MAX 4096
static fa_site_row_t site_rows[ROWS_MAX];
static fa_tag_row_t tag_rows[256];

static fa_snapshot_t take(fa_alloc_t *fa, uint32_t site_capacity, int expect) {
    fa_snapshot_t s = {
        .rows = tag_rows, .rows_capacity = 256, .sites = site_rows, .sites_capacity = site_capacity};
    cr_assert_eq(fa_snapshot_take(fa, &s), expect);
    return s;
}

/* For every tag, its site rows add up to its self figures; all rows add up
 * to the kind totals' allocated bytes. */
static void check_sums(const fa_snapshot_t *s) {
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < s->site_count; i++)
        bytes += s->sites[i].bytes;
    uint64_t want_bytes = 0;
    for (int k = 0; k < FA_KIND_COUNT_; k++)
        want_bytes += s->totals[k].alloc_bytes;
    cr_assert_eq(bytes, want_bytes, "site bytes %llu, kind totals %llu", (unsigned long long)bytes,
                 (unsigned long long)want_bytes);
    for (uint32_t r = 0; r < s->row_count; r++) {
        const fa_tag_row_t *t = &s->rows[r];
        uint64_t count = 0, live = 0;
        for (uint32_t i = 0; i < s->site_count; i++) {
            if (s->sites[i].tag_id != t->id) continue;
            count += s->sites[i].count;
            live += s->sites[i].live_bytes;
        }
        cr_assert_eq(count, t->self.alloc_count, "tag '%s': site counts %llu, tag %llu", t->path,
                     (unsigned long long)count, (unsigned long long)t->self.alloc_count);
        cr_assert_eq(live, t->self.frame_bytes + t->self.pool_bytes + t->self.heap_bytes,
                     "tag '%s': site live bytes %llu, tag %llu", t->path, (unsigned long long)live,
                     (unsigned long long)(t->self.frame_bytes + t->self.pool_bytes + t->self.heap_bytes));
    }
}

static const fa_site_row_t *row_at(const fa_snapshot_t *s, const char *function, int line) {
    for (uint32_t i = 0; i < s->site_count; i++) {
        const fa_site_t *site = s->sites[i].site;
        if (site && (int)site->line == line && strstr(site->file, "test_sites.c") &&
            (!function || !strcmp(site->function, function)))
            return &s->sites[i];
    }
    return NULL;
}

/* expr, noting the line it is written on (the line its call site gets). */
#define AT(line_var, expr) ((line_var) = __LINE__, (expr))

static int line_physics_frame, line_physics_pool, line_render_heap, line_render_batch;

static void physics_step(fa_alloc_t *fa, void **keep) {
    FA_TAG_SCOPE(fa, "physics");
    for (int i = 0; i < 3; i++) {
        (void)!AT(line_physics_frame, fa_frame_alloc(fa, 100, 16));
    }
    *keep = AT(line_physics_pool, fa_pool_alloc(fa, 64));
}

static void render_frame(fa_alloc_t *fa, void **keep) {
    FA_TAG_SCOPE(fa, "render");
    *keep = AT(line_render_heap, fa_heap_alloc(fa, 5000, 0));
}

static void render_batch(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "render");
    (void)!AT(line_render_batch, fa_frame_alloc_batch(fa, 48, 16, 10));
}

#ifdef FA_EXACT_FIGURES
Test(sites, three_functions_two_tags_give_exactly_their_lines_and_bytes) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *pool_block, *heap_block;
    physics_step(fa, &pool_block);
    render_frame(fa, &heap_block);
    render_batch(fa);
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert_eq(s.site_count, 4, "4 rows, no other: %u", s.site_count);
    cr_assert_eq(s.sites_total, 4);
    const fa_site_row_t *pf = row_at(&s, "physics_step", line_physics_frame);
    const fa_site_row_t *pp = row_at(&s, "physics_step", line_physics_pool);
    const fa_site_row_t *rh = row_at(&s, "render_frame", line_render_heap);
    const fa_site_row_t *rb = row_at(&s, "render_batch", line_render_batch);
    cr_assert(pf && pp && rh && rb);
    cr_assert(strstr(pf->site->file, "test_sites.c"));
    cr_assert_eq(pf->site->kind, FA_KIND_FRAME);
    cr_assert_eq(pp->site->kind, FA_KIND_POOL);
    cr_assert_eq(rh->site->kind, FA_KIND_HEAP);
    cr_assert_eq(pf->bytes, 300);
    cr_assert_eq(pf->count, 3);
    cr_assert_eq(pf->live_bytes, 300);
    cr_assert_eq(pp->bytes, 64);
    cr_assert_eq(pp->live_bytes, 64);
    cr_assert_eq(rh->bytes, 5000);
    cr_assert_eq(rb->bytes, 480);
    cr_assert_eq(rb->count, 1);
    cr_assert_eq(pf->tag_id, pp->tag_id);
    cr_assert_str_eq(fa_tag_path(fa, pf->tag_id), "physics");
    cr_assert_str_eq(fa_tag_path(fa, rh->tag_id), "render");
    cr_assert_eq(rh->tag_id, rb->tag_id);
    /* Largest first: the heap block, then the batch, then the frame. */
    cr_assert_eq(&s.sites[0], rh);
    cr_assert_eq(&s.sites[1], rb);
    cr_assert_eq(fa_site_get(pf->site_id), pf->site);
    fa_end_frame(fa);
    /* Next frame: nothing allocated, the pool and heap blocks still live. */
    s = take(fa, 64, FA_OK);
    check_sums(&s);
    pp = row_at(&s, "physics_step", line_physics_pool);
    rh = row_at(&s, "render_frame", line_render_heap);
    cr_assert(pp && rh && !row_at(&s, "physics_step", line_physics_frame));
    cr_assert_eq(pp->count, 0);
    cr_assert_eq(pp->bytes, 0);
    cr_assert_eq(pp->live_bytes, 64);
    fa_pool_free(fa, pool_block);
    fa_heap_free(fa, heap_block);
    s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert_eq(s.site_count, 0);
    fa_destroy(fa);
}

static void *frame_hook_rows(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame;
    fa_snapshot_t *out = user;
    *out = take(fa, 64, FA_OK);
    return NULL;
}
static void hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame_hook_rows(fa, frame, user);
}

Test(sites, a_frame_end_hook_sees_the_frame_that_ends) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_snapshot_t s = {0};
    fa_on_frame_end(fa, hook, &s);
    void *pool_blocks[3], *heap_blocks[3];
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        physics_step(fa, &pool_blocks[f]);
        render_frame(fa, &heap_blocks[f]);
        fa_end_frame(fa);
        check_sums(&s);
        const fa_site_row_t *pf = row_at(&s, "physics_step", line_physics_frame);
        cr_assert(pf && pf->bytes == 300 && pf->count == 3 && pf->live_bytes == 300);
        const fa_site_row_t *pp = row_at(&s, "physics_step", line_physics_pool);
        cr_assert(pp && pp->bytes == 64 && pp->count == 1 && pp->live_bytes == 64 * (uint64_t)(f + 1));
    }
    for (int f = 0; f < 3; f++) {
        fa_pool_free(fa, pool_blocks[f]);
        fa_heap_free(fa, heap_blocks[f]);
    }
    fa_destroy(fa);
}

Test(sites, direct_calls_count_as_the_unknown_site_of_their_kind) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *p = (fa_pool_alloc)(fa, 32);
    void *h = (fa_heap_alloc)(fa, 10, 0);
    (void)!(fa_frame_alloc)(fa, 7, 1);
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert_eq(s.site_count, 3);
    for (uint32_t i = 0; i < s.site_count; i++) {
        const fa_site_row_t *r = &s.sites[i];
        cr_assert_eq(r->site_id, FA_SITE_UNKNOWN(r->site->kind));
        cr_assert_eq(r->site->line, 0);
        cr_assert_eq(r->bytes, r->site->kind == FA_KIND_POOL ? 32 : r->site->kind == FA_KIND_HEAP ? 10 : 7);
    }
    fa_pool_free(fa, p);
    fa_heap_free(fa, h);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(sites, one_line_under_two_tags_gives_a_row_for_each) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    int line = 0;
    for (int i = 0; i < 4; i++) {
        fa_tag_push(fa, i % 2 ? "b" : "a");
        (void)!AT(line, fa_frame_alloc(fa, 10 + (size_t)i, 1));
        fa_tag_pop(fa);
    }
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert_eq(s.site_count, 2);
    cr_assert_eq(s.sites[0].site_id, s.sites[1].site_id);
    cr_assert_eq((int)s.sites[0].site->line, line);
    cr_assert_neq(s.sites[0].tag_id, s.sites[1].tag_id);
    cr_assert_eq(s.sites[0].bytes + s.sites[1].bytes, 10 + 11 + 12 + 13);
    fa_end_frame(fa);
    fa_destroy(fa);
}

typedef struct freer {
    fa_alloc_t *fa;
    void *p;
} freer_t;

static void *free_elsewhere(void *arg) {
    freer_t *f = arg;
    fa_pool_free(f->fa, f->p);
    return NULL;
}

Test(sites, a_block_freed_on_another_thread_leaves_its_sites_live_bytes) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    void *keep;
    physics_step(fa, &keep);
    int line;
    void *other = AT(line, fa_pool_alloc(fa, 100));
    fa_end_frame(fa);
    freer_t f = {fa, keep};
    pthread_t th;
    pthread_create(&th, NULL, free_elsewhere, &f);
    pthread_join(th, NULL);
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert_null(row_at(&s, "physics_step", line_physics_pool));
    const fa_site_row_t *r = row_at(&s, NULL, line); /* Criterion names the test's function */
    cr_assert(r && r->live_bytes == 112);
    fa_pool_free(fa, other);
    fa_destroy(fa);
}

Test(sites, promotions_tasks_vectors_and_tagged_heap_count_for_their_lines) {
    fa_alloc_t *fa = fa_create(NULL);
    int physics = fa_tag_find(fa, "physics", true);
    fa_begin_frame(fa);
    int l_retain, l_task, l_task_alloc, l_vec, l_tagged, l_realloc, l_sprintf;
    void *kept = AT(l_retain, fa_frame_alloc_retained(fa, 200, 16, FA_RETAIN_PROMOTE_POOL, 0));
    fa_task_t *task = AT(l_task, fa_task_begin(fa, "jobs"));
    void *tb = AT(l_task_alloc, fa_task_alloc(task, 50));
    fa_frame_vec_t v;
    (void)AT(l_vec, FA_FRAME_VEC_INIT(&v, fa, double));
    for (int i = 0; i < 100; i++)
        *FA_FRAME_VEC_PUSH(&v, double) = i;
    void *tagged = AT(l_tagged, fa_heap_alloc_tagged(fa, physics, 300, 0));
    void *grown = AT(l_realloc, fa_heap_realloc(fa, tagged, 600, physics));
    char *str = AT(l_sprintf, fa_frame_sprintf(fa, "%d-%s", 42, "x"));
    cr_assert(kept && tb && grown && str);
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    const char *fn = NULL; /* Criterion names the test's function */
    cr_assert(row_at(&s, fn, l_retain) && row_at(&s, fn, l_retain)->bytes == 200);
    cr_assert(row_at(&s, fn, l_task) && row_at(&s, fn, l_task)->count == 1);
    cr_assert(row_at(&s, fn, l_task_alloc) && row_at(&s, fn, l_task_alloc)->count == 1);
    const fa_site_row_t *vr = row_at(&s, fn, l_vec);
    cr_assert(vr && vr->live_bytes >= 800, "the vector's growth counts for its init line");
    const fa_site_row_t *rr = row_at(&s, fn, l_realloc);
    cr_assert(rr && rr->live_bytes == 600 && rr->tag_id == physics);
    cr_assert(row_at(&s, fn, l_tagged) && row_at(&s, fn, l_tagged)->live_bytes == 0);
    cr_assert(row_at(&s, fn, l_sprintf) && row_at(&s, fn, l_sprintf)->bytes == 5);
    fa_promotion_result_t pr;
    fa_end_frame_with_promotions(fa, &pr);
    cr_assert_eq(pr.count, 1);
    s = take(fa, 64, FA_OK);
    check_sums(&s);
    /* The promoted copy is a pool block counted for the retain line. */
    const fa_site_row_t *kr = row_at(&s, fn, l_retain);
    cr_assert(kr && kr->live_bytes == fa_block_size(fa, pr.items[0].new_ptr));
    fa_pool_free(fa, pr.items[0].new_ptr);
    fa_task_end(task);
    fa_heap_free(fa, grown);
    fa_destroy(fa);
}

Test(sites, interning_gives_one_record_per_position) {
    fa_site_t *a = fa_site_intern("game.lua", "update", 12, FA_KIND_POOL);
    fa_site_t *b = fa_site_intern("game.lua", "update", 12, FA_KIND_POOL);
    fa_site_t *c = fa_site_intern("game.lua", "update", 13, FA_KIND_POOL);
    cr_assert(a && a == b && c && c != a);
    cr_assert_neq(a->id, 0);
    cr_assert_eq(fa_site_get(a->id), a);
    cr_assert_str_eq(a->file, "game.lua");
    cr_assert_lt(a->id, fa_site_count());
    cr_assert_null(fa_site_get(0));
    cr_assert_null(fa_site_get(fa_site_count()));
}

/* 10 000 distinct sites in one frame: the frame end and the snapshot stay
 * bounded, the rows hold the largest and one "other" row per tag, and the
 * sums still hold. */
Test(sites, ten_thousand_sites_in_one_frame_give_the_largest_rows_and_the_rest) {
    static fa_site_t *sites[10000];
    char file[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(file, sizeof file, "generated_%d.c", i);
        sites[i] = fa_site_intern(file, "gen", (uint32_t)i + 1, FA_KIND_FRAME);
        cr_assert_not_null(sites[i]);
    }
    fa_alloc_t *fa = fa_create(NULL);
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        for (int i = 0; i < 10000; i++) {
            fa_tag_push(fa, i % 2 ? "odd" : "even");
            (void)!fa_frame_alloc_site(fa, 16 + (size_t)i, 8, sites[i]);
            fa_tag_pop(fa);
        }
        fa_snapshot_t s = take(fa, 256, FA_OK);
        check_sums(&s);
        cr_assert_eq(s.sites_total, 10000);
        cr_assert_eq(s.site_count, 256);
        /* The largest came first: site 9999's 10 015 bytes. */
        cr_assert_eq(s.sites[0].site, sites[9999]);
        cr_assert_eq(s.sites[0].bytes, 16 + 9999);
        cr_assert_eq(s.sites[253].site_id, sites[9999 - 253]->id);
        cr_assert_eq(s.sites[254].site_id, FA_SITE_OTHER);
        cr_assert_eq(s.sites[255].site_id, FA_SITE_OTHER);
        cr_assert_null(s.sites[255].site);
        fa_end_frame(fa);
    }
    fa_destroy(fa);
}

Test(sites, pairs_beyond_max_sites_count_in_their_tags_other_row) {
    fa_config_t cfg = {.max_sites = 64};
    fa_alloc_t *fa = fa_create(&cfg);
    char file[32];
    fa_begin_frame(fa);
    for (int i = 0; i < 200; i++) {
        snprintf(file, sizeof file, "over_%d.c", i);
        fa_site_t *site = fa_site_intern(file, "f", 1, FA_KIND_POOL);
        void *p = fa_pool_alloc_site(fa, 16, site);
        cr_assert_not_null(p);
    }
    fa_snapshot_t s = take(fa, 1024, FA_OK);
    check_sums(&s);
    cr_assert_leq(s.site_count, 64 + 1);
    const fa_site_row_t *other = &s.sites[s.site_count - 1];
    cr_assert_eq(other->site_id, FA_SITE_OTHER);
    cr_assert_geq(other->count, 200 - 64);
    fa_end_frame(fa);
    fa_destroy(fa);
}

Test(sites, fewer_rows_than_tags_is_truncated_and_every_written_row_is_exact) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "t%d", i);
        fa_tag_push(fa, name);
        (void)!fa_frame_alloc(fa, 8, 8);
        fa_tag_pop(fa);
    }
    fa_snapshot_t s = take(fa, 4, FA_ERR_TRUNCATED);
    cr_assert_eq(s.site_count, 4);
    cr_assert_eq(s.sites_total, 10);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_eq(s.sites[i].bytes, 8);
    fa_end_frame(fa);
    fa_destroy(fa);
}

/* Work left to another thread (defer, fa_snapshot_finish) gives the very
 * tag rows, site rows, order and status of a take that does it all, for
 * every room: all fit, the largest plus "other" rows, fewer rows than tags,
 * raw pairs that do not fit the caller's array (the take ranks them
 * itself), and tag rows cut short (the rest counts in the ancestors). */
static fa_site_row_t raw_rows[ROWS_MAX], ranked_rows[ROWS_MAX], direct_rows[ROWS_MAX];
static fa_tag_row_t deferred_tag_rows[256];
static uint64_t rank_work[ROWS_MAX];
static int deferred_checks;

static void compare_deferred(fa_alloc_t *fa) {
    static const uint32_t rooms[][3] = {/* site_rows_max, raw capacity, tag rows */
                                        {ROWS_MAX, ROWS_MAX, 256}, {200, ROWS_MAX, 256}, {50, ROWS_MAX, 256},
                                        {12, ROWS_MAX, 256},       {9, ROWS_MAX, 256},   {4, ROWS_MAX, 256},
                                        {1, ROWS_MAX, 256},        {50, 60, 256},        {12, 12, 256},
                                        {4, 20, 256},              {200, 200, 5},        {50, ROWS_MAX, 3}};
    for (size_t c = 0; c < sizeof rooms / sizeof rooms[0]; c++) {
        uint32_t max = rooms[c][0], raw_cap = rooms[c][1], tag_cap = rooms[c][2];
        fa_snapshot_t d = {.rows = tag_rows, .rows_capacity = tag_cap, .sites = direct_rows, .sites_capacity = max};
        int rv_direct = fa_snapshot_take(fa, &d);
        cr_assert(!d.sites_unranked && !d.rows_unsummed);
        fa_snapshot_t r = {.rows = deferred_tag_rows,
                           .rows_capacity = tag_cap,
                           .sites = raw_rows,
                           .sites_capacity = raw_cap,
                           .defer = 1,
                           .site_rows_max = max};
        int rv = fa_snapshot_take(fa, &r);
        cr_assert_eq(r.sites_total, d.sites_total);
        cr_assert_eq(r.rows_unsummed, 1);
        if (r.sites_total <= raw_cap) {
            cr_assert_eq(r.sites_unranked, 1, "room %zu", c);
            cr_assert_eq(r.site_count, r.sites_total);
            /* Only the tag rows can be short here; the site rows' status
             * comes with the ranking. */
            cr_assert_eq(rv, r.row_count < r.tag_count ? FA_ERR_TRUNCATED : FA_OK);
            /* Scratch: one entry per raw row and per tag. */
            fa_snapshot_t kept = r;
            cr_assert_eq(fa_snapshot_finish(&r, ranked_rows, rank_work, r.site_count + r.tag_count - 1),
                         FA_ERR_INVALID_ARG);
            cr_assert(r.sites == kept.sites && r.site_count == kept.site_count && r.sites_unranked &&
                      r.rows_unsummed);
            int rv_finish = fa_snapshot_finish(&r, ranked_rows, rank_work, r.site_count + r.tag_count);
            cr_assert_eq(r.sites, ranked_rows);
            if (rv == FA_OK) rv = rv_finish;
        } else {
            cr_assert_eq(r.sites_unranked, 0, "room %zu: too many raw pairs are ranked by the take", c);
            cr_assert_eq(r.sites, raw_rows);
            cr_assert_eq(fa_snapshot_finish(&r, NULL, NULL, 0), FA_OK);
        }
        cr_assert_eq(rv, rv_direct, "room %zu: %d vs %d", c, rv, rv_direct);
        cr_assert(!r.sites_unranked && !r.rows_unsummed);
        cr_assert_eq(r.row_count, d.row_count);
        for (uint32_t i = 0; i < d.row_count; i++)
            cr_assert(!memcmp(&r.rows[i].self, &d.rows[i].self, sizeof d.rows[i].self) &&
                          !memcmp(&r.rows[i].total, &d.rows[i].total, sizeof d.rows[i].total) &&
                          r.rows[i].live_bytes == d.rows[i].live_bytes &&
                          r.rows[i].peak_bytes == d.rows[i].peak_bytes && r.rows[i].id == d.rows[i].id,
                      "room %zu tag row %u ('%s'): total %llu vs %llu", c, i, d.rows[i].path,
                      (unsigned long long)r.rows[i].total.frame_bytes, (unsigned long long)d.rows[i].total.frame_bytes);
        cr_assert_eq(r.site_count, d.site_count, "room %zu: %u rows vs %u", c, r.site_count, d.site_count);
        for (uint32_t i = 0; i < d.site_count; i++) {
            const fa_site_row_t *a = &r.sites[i], *b = &d.sites[i];
            cr_assert(a->site_id == b->site_id && a->tag_id == b->tag_id && a->site == b->site &&
                          a->bytes == b->bytes && a->count == b->count && a->live_bytes == b->live_bytes,
                      "room %zu row %u: site %u tag %u %llu B vs site %u tag %u %llu B", c, i, a->site_id,
                      a->tag_id, (unsigned long long)a->bytes, b->site_id, b->tag_id, (unsigned long long)b->bytes);
        }
        deferred_checks++;
    }
}

static void compare_deferred_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame, (void)user;
    compare_deferred(fa);
}

Test(sites, work_left_to_another_thread_gives_the_rows_of_a_whole_take) {
    /* 64 pairs counted apart, the rest in their tags' overflow. */
    fa_config_t cfg = {.max_sites = 64};
    fa_alloc_t *fa = fa_create(&cfg);
    cr_assert_not_null(fa);
    static fa_site_t *sites[100];
    char file[32], tag[16];
    for (int i = 0; i < 100; i++) {
        snprintf(file, sizeof file, "deferred_%d.c", i);
        sites[i] = fa_site_intern(file, "f", 7, i % 3 ? FA_KIND_FRAME : FA_KIND_POOL);
    }
    void *kept[100] = {0};
    for (int f = 0; f < 3; f++) {
        fa_begin_frame(fa);
        for (int i = f; i < 100; i++) {
            /* Equal sizes (ties), a site under two tags, pool blocks that
             * stay live into frames where they allocate nothing. */
            for (int t = 0; t < 1 + (i % 7 == 0); t++) {
                snprintf(tag, sizeof tag, "d%d", (i + t) % 6);
                fa_tag_push(fa, tag);
                if (i % 3)
                    (void)!fa_frame_alloc_site(fa, 16 * (size_t)(1 + i % 5), 8, sites[i]);
                else if (!kept[i])
                    kept[i] = fa_pool_alloc_site(fa, 32 + (size_t)(i % 4) * 16, sites[i]);
                fa_tag_pop(fa);
            }
        }
        compare_deferred(fa);
        if (f == 1) fa_on_frame_end(fa, compare_deferred_hook, NULL);
        fa_end_frame(fa);
    }
    cr_assert_eq(deferred_checks, 12 * 5);
    /* Nothing to rank is no error; a bad call is refused. */
    fa_snapshot_t none = {0};
    cr_assert_eq(fa_snapshot_finish(&none, NULL, NULL, 0), FA_OK);
    fa_snapshot_t bad = {
        .sites = raw_rows, .site_count = 3, .tag_count = 100, .sites_unranked = 1, .site_rows_max = 4};
    cr_assert_eq(fa_snapshot_finish(&bad, NULL, rank_work, ROWS_MAX), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_snapshot_finish(NULL, ranked_rows, rank_work, ROWS_MAX), FA_ERR_INVALID_ARG);
    raw_rows[1].tag_id = 100; /* not a tag of the snapshot */
    cr_assert_eq(fa_snapshot_finish(&bad, ranked_rows, rank_work, ROWS_MAX), FA_ERR_INVALID_ARG);
    for (int i = 0; i < 100; i++)
        fa_pool_free(fa, kept[i]);
    fa_destroy(fa);
}

typedef struct worker {
    fa_alloc_t *fa;
    int id;
    volatile int *stop;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    void *blocks[16] = {0};
    unsigned n = 0;
    while (!*w->stop) {
        fa_begin_frame(w->fa);
        FA_TAG_SCOPE(w->fa, w->id ? "w1" : "w0");
        for (int i = 0; i < 50; i++)
            (void)!fa_frame_alloc(w->fa, 24, 8);
        unsigned k = n++ % 16;
        fa_pool_free(w->fa, blocks[k]);
        blocks[k] = fa_pool_alloc(w->fa, 40 + k);
        fa_end_frame(w->fa);
    }
    for (int k = 0; k < 16; k++)
        fa_pool_free(w->fa, blocks[k]);
    return NULL;
}

static fa_snapshot_t hook_snap;
static int hook_failures;
static void sums_hook(fa_alloc_t *fa, uint64_t frame, void *user) {
    (void)frame, (void)user;
    hook_snap = take(fa, 64, FA_OK);
    check_sums(&hook_snap);
    hook_failures += hook_snap.site_count == 0;
}

/* Two workers allocate and free all the time while the main thread ends
 * frames: in every frame-end snapshot and every snapshot taken meanwhile,
 * the site rows add up to the tag rows exactly. */
Test(sites, rows_add_up_to_tag_rows_while_other_threads_allocate) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_on_frame_end(fa, sums_hook, NULL);
    volatile int stop = 0;
    worker_t w[2] = {{fa, 0, &stop}, {fa, 1, &stop}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    for (int f = 0; f < 300; f++) {
        fa_begin_frame(fa);
        void *keep;
        physics_step(fa, &keep);
        fa_snapshot_t s = take(fa, 64, FA_OK);
        check_sums(&s);
        fa_pool_free(fa, keep);
        fa_end_frame(fa);
    }
    stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(hook_failures, 0);
    fa_destroy(fa);
}

Test(sites, snapshots_with_site_rows_allocate_nothing) {
    fa_alloc_t *fa = fa_create(NULL);
    void *keep;
    fa_begin_frame(fa);
    physics_step(fa, &keep);
    (void)take(fa, 64, FA_OK);
    syscount_start();
    for (int i = 0; i < 10; i++)
        (void)take(fa, 64, FA_OK);
    cr_assert_eq(syscount_stop(), 0);
    fa_pool_free(fa, keep);
    fa_end_frame(fa);
    fa_destroy(fa);
}
#endif /* FA_EXACT_FIGURES */

/* FA_DEBUG: the rows and sums hold with the guard bytes counted, and the
 * site gives the reports their line. */
Test(sites, rows_add_up_in_every_build) {
    fa_alloc_t *fa = fa_create(NULL);
    void *keep[2];
    fa_begin_frame(fa);
    physics_step(fa, &keep[0]);
    render_frame(fa, &keep[1]);
    render_batch(fa);
    fa_snapshot_t s = take(fa, 64, FA_OK);
    check_sums(&s);
    cr_assert(row_at(&s, "physics_step", line_physics_pool));
    fa_pool_free(fa, keep[0]);
    fa_heap_free(fa, keep[1]);
    fa_end_frame(fa);
    fa_destroy(fa);
}

#else /* !FA_SITES */

Test(sites, without_call_sites_snapshots_have_no_site_rows) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_begin_frame(fa);
    (void)!fa_frame_alloc(fa, 16, 16);
    fa_site_row_t rows[8];
    fa_snapshot_t s = {.sites = rows, .sites_capacity = 8};
    cr_assert_eq(fa_snapshot_take(fa, &s), FA_OK);
    cr_assert_eq(s.site_count, 0);
    cr_assert_eq(s.sites_total, 0);
    fa_end_frame(fa);
    fa_destroy(fa);
}

#endif
