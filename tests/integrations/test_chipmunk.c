/* Chipmunk2D through fa_chipmunk: real contact events (begin, persist with
 * impulses, separate) in frame memory under physics/contacts, sorted query
 * hits under physics/queries, the default handler chained, and Debian's
 * debug build (stdout banner, aborting asserts) kept away from the game. */
#include "integ_test.h"

#include <fa_chipmunk.h>
#include <math.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct scene {
    cpSpace *space;
    cpShape *ground;
    cpBody *boxes[64];
    cpShape *shapes[64];
    int count;
} scene_t;

/* A static floor at y = 0 and n boxes of 1 x 1 falling onto it. */
static void scene_init(scene_t *s, int n) {
    *s = (scene_t){.space = fa_cp_space_new(), .count = n};
    cpSpaceSetGravity(s->space, cpv(0, -10));
    s->ground = cpSpaceAddShape(
        s->space, cpSegmentShapeNew(cpSpaceGetStaticBody(s->space), cpv(-100, 0), cpv(100, 0), 0));
    cpShapeSetFriction(s->ground, 1);
    for (int i = 0; i < n; i++) {
        s->boxes[i] = cpSpaceAddBody(s->space, cpBodyNew(1, cpMomentForBox(1, 1, 1)));
        cpBodySetPosition(s->boxes[i], cpv(i * 2.0, 0.6 + 0.1 * i));
        s->shapes[i] = cpSpaceAddShape(s->space, cpBoxShapeNew(s->boxes[i], 1, 1, 0));
        cpShapeSetFriction(s->shapes[i], 1);
    }
}

static void scene_free(scene_t *s) {
    for (int i = 0; i < s->count; i++) {
        if (s->shapes[i]) {
            cpSpaceRemoveShape(s->space, s->shapes[i]);
            cpShapeFree(s->shapes[i]);
        }
        cpSpaceRemoveBody(s->space, s->boxes[i]);
        cpBodyFree(s->boxes[i]);
    }
    cpSpaceRemoveShape(s->space, s->ground);
    cpShapeFree(s->ground);
    cpSpaceFree(s->space);
}

static size_t count_phase(fa_cp_contacts_t c, fa_cp_phase phase) {
    size_t n = 0;
    for (size_t i = 0; i < c.count; i++)
        n += c.items[i].phase == phase;
    return n;
}

/* What a child process prints to stdout while running fn. */
static void child_stdout(void (*fn)(void), char *buf, size_t cap) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        fn();
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(fds[0], buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fds[0]);
    waitpid(pid, NULL, 0);
}

static void plain_space_new(void) {
    cpSpaceFree(cpSpaceNew());
}
static void quiet_space_new(void) {
    cpSpaceFree(fa_cp_space_new());
    cpSpaceFree(fa_cp_space_new());
    printf("game output\n");
}

Test(chipmunk, fa_cp_space_new_keeps_debians_banner_off_stdout) {
    char out[512];
    child_stdout(plain_space_new, out, sizeof out);
    cr_assert(strstr(out, "Chipmunk") != NULL, "Debian's build prints a banner from cpSpaceNew: '%s'", out);
    child_stdout(quiet_space_new, out, sizeof out);
    cr_assert_str_eq(out, "game output\n", "stdout works before and after, without the banner");
}

Test(chipmunk, a_step_gives_begin_persist_with_impulses_and_separate_in_frame_memory) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 8);
    fa_cp_world_t *w;
    cr_assert_eq(fa_cp_attach(fa, s.space, NULL, &w), FA_OK);
    size_t begins = 0, persists = 0, with_impulse = 0;
    for (int frame = 0; frame < 90; frame++) {
        fa_begin_frame(fa);
        cr_assert_eq(fa_cp_step(w, 1.0 / 60), FA_OK);
        fa_cp_contacts_t c = fa_cp_contacts(w);
        for (size_t i = 0; i < c.count; i++) {
            const fa_cp_contact_t *e = &c.items[i];
            cr_assert(e->shape_a == s.ground || e->shape_b == s.ground, "boxes are 2 apart: only the floor");
            cr_assert_not_null(e->body_a);
            cr_assert_not_null(e->body_b);
            cr_assert_float_eq(cpvlength(e->normal), 1.0, 1e-6);
            cr_assert_geq(e->depth, 0);
            cr_assert_lt(fabs(e->point.y), 0.2, "contact point on the floor: %g", e->point.y);
            cr_assert_gt(e->point_count, 0);
            begins += e->phase == FA_CP_BEGIN;
            persists += e->phase == FA_CP_PERSIST;
            with_impulse += cpvlength(e->impulse) > 1e-3;
        }
        if (frame == 89) {
            fa_tag_row_t row = tag_row(fa, "physics/contacts");
            cr_assert_geq(row.self.frame_bytes, c.count * sizeof(fa_cp_contact_t), "events are frame memory");
        }
        fa_end_frame(fa);
    }
    cr_assert_eq(begins, 8, "each box lands once");
    cr_assert_gt(persists, 8 * 60);
    cr_assert_gt(with_impulse, persists / 2, "resting boxes are held up by the solver");

    /* Removing a resting box's shape between steps separates it from the
     * floor: the event lands in the frame's list. */
    fa_begin_frame(fa);
    cpSpaceRemoveShape(s.space, s.shapes[3]);
    fa_cp_contacts_t c = fa_cp_contacts(w);
    cr_assert_eq(c.count, 1);
    cr_assert_eq(c.items[0].phase, FA_CP_SEPARATE);
    cr_assert(c.items[0].shape_a == s.shapes[3] || c.items[0].shape_b == s.shapes[3]);
    fa_end_frame(fa);
    cpShapeFree(s.shapes[3]);
    s.shapes[3] = NULL;
    fa_begin_frame(fa);
    cr_assert_eq(fa_cp_contacts(w).count, 0, "a new frame starts empty");
    fa_end_frame(fa);
    cr_assert_eq(fa_cp_detach(w), FA_OK);
    scene_free(&s);
    fa_destroy(fa);
}

Test(chipmunk, queries_return_sorted_hits_in_frame_memory_under_physics_queries) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 10); /* boxes at x = 0, 2, 4, ... 18 */
    fa_cp_world_t *w;
    fa_cp_attach(fa, s.space, NULL, &w);
    fa_begin_frame(fa);
    fa_cp_hits_t hits;
    /* A ray from the right, just above the floor, through all ten boxes. */
    cr_assert_eq(fa_cp_segment_query(w, cpv(30, 1.0), cpv(-5, 1.0), 0, CP_SHAPE_FILTER_ALL, &hits), FA_OK);
    cr_assert_eq(hits.count, 10);
    for (size_t i = 0; i < hits.count; i++) {
        cr_assert_eq(hits.items[i].shape, s.shapes[9 - i], "nearest first");
        cr_assert_float_eq(hits.items[i].distance, 30 - (18 - 2.0 * i) - 0.5, 1e-6);
        cr_assert_float_eq(hits.items[i].normal.x, 1, 1e-6);
    }
    cr_assert_eq(fa_cp_point_query(w, cpv(4, 1), 2.6, CP_SHAPE_FILTER_ALL, &hits), FA_OK);
    cr_assert_eq(hits.count, 4, "boxes at 2, 4, 6 and the floor");
    cr_assert_eq(hits.items[0].shape, s.shapes[2]);
    cr_assert_lt(hits.items[0].distance, 0, "inside the box at 4");
    for (size_t i = 1; i < hits.count; i++)
        cr_assert_geq(hits.items[i].distance, hits.items[i - 1].distance);
    cr_assert_eq(fa_cp_box_query(w, cpBBNew(3, 0.5, 9, 2), CP_SHAPE_FILTER_ALL, &hits), FA_OK);
    cr_assert_eq(hits.count, 3, "boxes at 4, 6, 8");
    cr_assert_gt(tag_row(fa, "physics/queries").self.frame_bytes, 0);
    fa_end_frame(fa);
    fa_cp_detach(w);
    scene_free(&s);
    fa_destroy(fa);
}

static int ignored_begins;
static cpBool ignore_all(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    (void)arb, (void)space, (void)data;
    ignored_begins++;
    return cpFalse;
}

Test(chipmunk, the_default_handlers_previous_callbacks_still_run_and_come_back_at_detach) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 4);
    cpCollisionHandler *h = cpSpaceAddDefaultCollisionHandler(s.space);
    h->beginFunc = ignore_all; /* the game's own rule: nothing collides */
    fa_cp_world_t *w;
    fa_cp_attach(fa, s.space, NULL, &w);
    for (int frame = 0; frame < 60; frame++) {
        fa_begin_frame(fa);
        fa_cp_step(w, 1.0 / 60);
        cr_assert_eq(count_phase(fa_cp_contacts(w), FA_CP_PERSIST), 0, "ignored pairs are not solved");
        fa_end_frame(fa);
    }
    cr_assert_eq(ignored_begins, 4, "the game's begin ran for each box");
    cr_assert_lt(cpBodyGetPosition(s.boxes[0]).y, -1, "the boxes fell through the floor");
    cr_assert_eq(fa_cp_detach(w), FA_OK);
    cr_assert_eq(h->beginFunc, ignore_all);
    scene_free(&s);
    fa_destroy(fa);
}

static fa_cp_world_t *nested_world;
static int nested_rc = 1;
static void step_from_a_callback(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    (void)arb, (void)space, (void)data;
    nested_rc = fa_cp_step(nested_world, 1.0 / 60);
    if (nested_rc == FA_OK) return;
    nested_rc = nested_rc == FA_ERR_STATE && fa_cp_detach(nested_world) == FA_ERR_STATE ? FA_ERR_STATE : -999;
}

Test(chipmunk, misuse_is_an_error_code_not_an_abort_of_debians_checked_build) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 2);
    cpSpaceAddDefaultCollisionHandler(s.space)->postSolveFunc = step_from_a_callback;
    fa_cp_world_t *w;
    fa_cp_attach(fa, s.space, NULL, &w);
    nested_world = w;
    fa_begin_frame(fa);
    cr_assert_eq(fa_cp_step(w, NAN), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_cp_step(w, -1), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_cp_step(w, INFINITY), FA_ERR_INVALID_ARG);
    fa_cp_hits_t hits;
    cr_assert_eq(fa_cp_segment_query(w, cpv(NAN, 0), cpv(1, 1), 0, CP_SHAPE_FILTER_ALL, &hits),
                 FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_cp_segment_query(w, cpv(0, 0), cpv(1, 1), -1, CP_SHAPE_FILTER_ALL, &hits),
                 FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_cp_point_query(w, cpv(0, INFINITY), 1, CP_SHAPE_FILTER_ALL, &hits), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_cp_box_query(w, cpBBNew(1, 0, 0, 1), CP_SHAPE_FILTER_ALL, &hits), FA_ERR_INVALID_ARG);
    for (int i = 0; i < 60 && nested_rc == 1; i++)
        fa_cp_step(w, 1.0 / 60);
    cr_assert_eq(nested_rc, FA_ERR_STATE, "stepping or detaching inside a step is refused");
    fa_end_frame(fa);
    cr_assert_eq(fa_cp_detach(w), FA_OK);
    scene_free(&s);
    fa_destroy(fa);
}

Test(chipmunk, events_refused_by_a_hard_budget_are_counted_as_dropped) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "physics/contacts", 0, 4096); /* room for a few dozen */
    scene_t s;
    scene_init(&s, 64);
    fa_cp_world_t *w;
    fa_cp_attach(fa, s.space, NULL, &w);
    size_t most = 0, dropped = 0;
    for (int frame = 0; frame < 60; frame++) {
        fa_begin_frame(fa);
        fa_cp_step(w, 1.0 / 60);
        fa_cp_contacts_t c = fa_cp_contacts(w);
        most = c.count > most ? c.count : most;
        dropped += c.dropped;
        fa_end_frame(fa);
    }
    cr_assert_lt(most, 64);
    cr_assert_gt(dropped, 0);
    fa_cp_detach(w);
    scene_free(&s);
    fa_destroy(fa);
}

static fa_cp_world_t *own_world;
static cpBool own_begin(cpArbiter *a, cpSpace *sp, cpDataPointer d) {
    (void)sp, (void)d;
    fa_cp_record(own_world, a, FA_CP_FROM_BEGIN);
    return cpTrue;
}
static cpBool own_pre(cpArbiter *a, cpSpace *sp, cpDataPointer d) {
    (void)sp, (void)d;
    fa_cp_record(own_world, a, FA_CP_FROM_PRE_SOLVE);
    return cpTrue;
}
static void own_post(cpArbiter *a, cpSpace *sp, cpDataPointer d) {
    (void)sp, (void)d;
    fa_cp_record(own_world, a, FA_CP_FROM_POST_SOLVE);
}

Test(chipmunk, pairs_with_their_own_handler_are_collected_through_fa_cp_record) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 3);
    cpShapeSetCollisionType(s.ground, 1);
    for (int i = 0; i < 3; i++)
        cpShapeSetCollisionType(s.shapes[i], 2);
    cpCollisionHandler *h = cpSpaceAddCollisionHandler(s.space, 1, 2);
    h->beginFunc = own_begin;
    h->preSolveFunc = own_pre;
    h->postSolveFunc = own_post;
    fa_cp_world_t *w;
    fa_cp_attach(fa, s.space, NULL, &w);
    own_world = w;
    size_t begins = 0, pushed = 0;
    for (int frame = 0; frame < 60; frame++) {
        fa_begin_frame(fa);
        fa_cp_step(w, 1.0 / 60);
        fa_cp_contacts_t c = fa_cp_contacts(w);
        begins += count_phase(c, FA_CP_BEGIN);
        for (size_t i = 0; i < c.count; i++)
            pushed += cpvlength(c.items[i].impulse) > 1e-3;
        fa_end_frame(fa);
    }
    cr_assert_eq(begins, 3);
    cr_assert_gt(pushed, 3 * 20);
    fa_cp_detach(w);
    scene_free(&s);
    fa_destroy(fa);
}

Test(chipmunk, attaching_to_a_space_whose_pairs_already_touch_and_detaching_again_are_safe) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 8);
    for (int i = 0; i < 60; i++)
        cpSpaceStep(s.space, 1.0 / 60); /* resting pairs, no handler yet */
    fa_cp_world_t *w;
    cr_assert_eq(fa_cp_attach(fa, s.space, NULL, &w), FA_OK);
    /* Lift every box: each resting pair separates at the next step. */
    for (int i = 0; i < 8; i++)
        cpBodySetPosition(s.boxes[i], cpv(i * 2.0, 20));
    fa_begin_frame(fa);
    cr_assert_eq(fa_cp_step(w, 1.0 / 60), FA_OK);
    cr_assert_eq(count_phase(fa_cp_contacts(w), FA_CP_SEPARATE), 8);
    fa_end_frame(fa);
    for (int i = 0; i < 120; i++) {
        fa_begin_frame(fa);
        fa_cp_step(w, 1.0 / 60);
        fa_end_frame(fa);
    }
    cr_assert_eq(fa_cp_detach(w), FA_OK);
    for (int i = 0; i < 8; i++)
        cpBodySetPosition(s.boxes[i], cpv(i * 2.0, 20));
    for (int i = 0; i < 60; i++)
        cpSpaceStep(s.space, 1.0 / 60); /* separations after the detach */
    scene_free(&s);
    fa_destroy(fa);
}
