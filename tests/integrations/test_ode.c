/* ODE through fa_ode: contact events (begin, persist with impulses,
 * separate) in frame memory, the joint group emptied each step, ray casts
 * sorted by distance, and ODE's own allocations under physics/ode matching
 * a reference run and returning to 0 at dCloseODE. */
#include "integ_test.h"

#include <fa_ode.h>
#include <math.h>

typedef struct scene {
    dWorldID world;
    dSpaceID space;
    dGeomID plane;
    dBodyID bodies[32];
    dGeomID geoms[32];
    int count;
} scene_t;

/* A floor at z = 0 and n unit boxes, 2 apart along x, just above it. */
static void scene_init(scene_t *s, int n) {
    *s = (scene_t){.world = dWorldCreate(), .space = dHashSpaceCreate(0), .count = n};
    dWorldSetGravity(s->world, 0, 0, -9.81);
    s->plane = dCreatePlane(s->space, 0, 0, 1, 0);
    for (int i = 0; i < n; i++) {
        s->bodies[i] = dBodyCreate(s->world);
        dMass m;
        dMassSetBoxTotal(&m, 1, 1, 1, 1);
        dBodySetMass(s->bodies[i], &m);
        dBodySetPosition(s->bodies[i], 2.0 * i, 0, 0.55 + 0.05 * i);
        s->geoms[i] = dCreateBox(s->space, 1, 1, 1);
        dGeomSetBody(s->geoms[i], s->bodies[i]);
    }
}

static void scene_free(scene_t *s) {
    dSpaceDestroy(s->space); /* destroys its geoms */
    dWorldDestroy(s->world); /* and its bodies */
}

static int index_of(const scene_t *s, dGeomID g) {
    for (int i = 0; i < s->count; i++)
        if (s->geoms[i] == g) return i;
    return -1;
}

Test(ode, a_step_gives_begin_persist_with_impulses_and_separate_in_frame_memory) {
    dInitODE2(0);
    dAllocateODEDataForThread(dAllocateMaskAll);
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 6);
    fa_ode_world_t *w;
    cr_assert_eq(fa_ode_attach(fa, s.world, s.space, NULL, &w), FA_OK);
    int begins[6] = {0};
    size_t persists = 0, pushed_up = 0;
    for (int frame = 0; frame < 90; frame++) {
        fa_begin_frame(fa);
        cr_assert_eq(fa_ode_step(w, 1.0 / 60), FA_OK);
        fa_ode_contacts_t c = fa_ode_contacts(w);
        for (size_t i = 0; i < c.count; i++) {
            const fa_ode_contact_t *e = &c.items[i];
            cr_assert(e->geom_a == s.plane || e->geom_b == s.plane, "boxes are apart: only the floor");
            int box = index_of(&s, e->geom_a == s.plane ? e->geom_b : e->geom_a);
            cr_assert_geq(box, 0);
            cr_assert_eq(e->phase == FA_ODE_SEPARATE, 0, "nothing leaves the floor");
            cr_assert_gt(e->point_count, 0);
            cr_assert_lt(fabs(e->point[2]), 0.1, "on the floor: z %g", e->point[2]);
            begins[box] += e->phase == FA_ODE_BEGIN;
            persists += e->phase == FA_ODE_PERSIST;
            /* The floor pushes the box up: +z on the box, -z on the floor. */
            dReal up = e->body_a ? e->impulse[2] : -e->impulse[2];
            pushed_up += up > 0.05 / 60;
        }
        cr_assert_eq(dBodyGetNumJoints(s.bodies[0]), 0, "the contact joints are gone after the step");
        if (frame == 89)
            cr_assert_geq(tag_row(fa, "physics/contacts").self.frame_bytes,
                          c.count * sizeof(fa_ode_contact_t));
        fa_end_frame(fa);
    }
    for (int i = 0; i < 6; i++)
        cr_assert_eq(begins[i], 1, "box %d lands once", i);
    cr_assert_gt(persists, 6 * 60);
    cr_assert_gt(pushed_up, persists * 9 / 10, "resting boxes are held up");

    /* Lift box 2 out of reach: its pair separates at the next step. */
    dBodySetPosition(s.bodies[2], 4, 0, 10);
    fa_begin_frame(fa);
    fa_ode_step(w, 1.0 / 60);
    fa_ode_contacts_t c = fa_ode_contacts(w);
    size_t separate = 0;
    for (size_t i = 0; i < c.count; i++)
        if (c.items[i].phase == FA_ODE_SEPARATE) {
            separate++;
            cr_assert(c.items[i].geom_a == s.geoms[2] || c.items[i].geom_b == s.geoms[2]);
            cr_assert(c.items[i].body_a == s.bodies[2] || c.items[i].body_b == s.bodies[2]);
        }
    cr_assert_eq(separate, 1);
    fa_end_frame(fa);

    /* A destroyed geom is forgotten: its pair separates; a new geom at the
     * same address is a new pair (BEGIN, not PERSIST). */
    fa_ode_forget_geom(w, s.geoms[4]);
    dGeomSetPosition(s.geoms[4], 8, 0, 0.5);
    fa_begin_frame(fa);
    fa_ode_step(w, 1.0 / 60);
    c = fa_ode_contacts(w);
    int phases[4] = {0};
    for (size_t i = 0; i < c.count; i++)
        if (c.items[i].geom_a == s.geoms[4] || c.items[i].geom_b == s.geoms[4]) phases[c.items[i].phase]++;
    cr_assert_eq(phases[FA_ODE_SEPARATE], 1);
    cr_assert_eq(phases[FA_ODE_BEGIN], 1);
    cr_assert_eq(phases[FA_ODE_PERSIST], 0);
    fa_end_frame(fa);

    fa_ode_detach(w);
    scene_free(&s);
    fa_destroy(fa);
    dCloseODE();
}

Test(ode, ray_casts_return_hits_sorted_by_distance_under_physics_queries) {
    dInitODE2(0);
    dAllocateODEDataForThread(dAllocateMaskAll);
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    scene_init(&s, 8); /* boxes at x = 0, 2, ... 14 */
    fa_ode_world_t *w;
    fa_ode_attach(fa, s.world, s.space, NULL, &w);
    fa_begin_frame(fa);
    fa_ode_hits_t hits;
    const dReal origin[3] = {20, 0, 0.6}, dir[3] = {-3, 0, 0};
    cr_assert_eq(fa_ode_ray_cast(w, origin, dir, 100, &hits), FA_OK);
    cr_assert_eq(hits.count, 8);
    for (size_t i = 0; i < hits.count; i++) {
        cr_assert_eq(hits.items[i].geom, s.geoms[7 - i], "nearest first");
        cr_assert_float_eq(hits.items[i].distance, 20 - (14 - 2.0 * i) - 0.5, 1e-6);
        cr_assert_float_eq(hits.items[i].normal[0], 1, 1e-6);
    }
    cr_assert_eq(fa_ode_ray_cast(w, origin, dir, 5.4, &hits), FA_OK);
    cr_assert_eq(hits.count, 0, "the nearest box is 5.5 away");
    cr_assert_gt(tag_row(fa, "physics/queries").self.frame_bytes, 0);
    const dReal zero[3] = {0, 0, 0}, bad[3] = {NAN, 0, 0};
    cr_assert_eq(fa_ode_ray_cast(w, origin, zero, 10, &hits), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ode_ray_cast(w, bad, dir, 10, &hits), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ode_ray_cast(w, origin, dir, -1, &hits), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ode_step(w, NAN), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ode_step(w, 0), FA_ERR_INVALID_ARG);
    fa_end_frame(fa);
    fa_ode_detach(w);
    scene_free(&s);
    fa_destroy(fa);
    dCloseODE();
}

static void *ref_ode_alloc(dsizeint n) {
    return ref_malloc(n);
}
static void *ref_ode_realloc(void *p, dsizeint old, dsizeint n) {
    (void)old;
    return ref_realloc(p, n);
}
static void ref_ode_free(void *p, dsizeint n) {
    (void)n;
    ref_free(p);
}

/* ODE up, a scene, a few steps; returns with everything alive. */
static void ode_work(scene_t *s, fa_alloc_t *fa, fa_ode_world_t **w) {
    dInitODE2(0);
    dAllocateODEDataForThread(dAllocateMaskAll);
    scene_init(s, 20);
    cr_assert_eq(fa_ode_attach(fa, s->world, s->space, NULL, w), FA_OK);
    for (int i = 0; i < 10; i++) {
        fa_begin_frame(fa);
        fa_ode_step(*w, 1.0 / 60);
        fa_end_frame(fa);
    }
}

static void ode_done(scene_t *s, fa_ode_world_t *w) {
    fa_ode_detach(w);
    scene_free(s);
    dCloseODE();
}

Test(ode, odes_own_allocations_count_under_physics_ode_like_a_reference_run_and_return_to_zero) {
    fa_alloc_t *fa = fa_create(NULL);
    scene_t s;
    fa_ode_world_t *w;
    dSetAllocHandler(ref_ode_alloc);
    dSetReallocHandler(ref_ode_realloc);
    dSetFreeHandler(ref_ode_free);
    ode_work(&s, fa, &w);
    size_t reference = ref_live;
    ode_done(&s, w);
    cr_assert_eq(ref_live, 0, "ODE frees everything at dCloseODE");
    dSetAllocHandler(NULL);
    dSetReallocHandler(NULL);
    dSetFreeHandler(NULL);

    cr_assert_eq(fa_ode_install_allocator(fa, "physics/ode"), FA_OK);
    cr_assert_eq(fa_ode_install_allocator(fa, "physics/ode"), FA_ERR_STATE);
    ode_work(&s, fa, &w);
    uint64_t live = tag_heap(fa, "physics/ode");
    cr_assert_gt(live, 20 * 100, "worlds, bodies, geoms: %llu", (unsigned long long)live);
    cr_assert_eq(live, reference);
    cr_assert_eq(fa_ode_uninstall_allocator(), FA_ERR_STATE, "refused while ODE holds blocks");
    ode_done(&s, w);
    cr_assert_eq(tag_heap(fa, "physics/ode"), 0);
    cr_assert_eq(fa_ode_live_blocks(), 0);
    cr_assert_eq(fa_ode_uninstall_allocator(), FA_OK);
    fa_destroy(fa);
}

Test(ode, events_refused_by_a_hard_budget_are_counted_and_the_world_still_steps) {
    dInitODE2(0);
    dAllocateODEDataForThread(dAllocateMaskAll);
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "physics/contacts", 0, 6000);
    scene_t s;
    scene_init(&s, 32);
    fa_ode_world_t *w;
    fa_ode_attach(fa, s.world, s.space, NULL, &w);
    size_t dropped = 0;
    for (int frame = 0; frame < 60; frame++) {
        fa_begin_frame(fa);
        fa_ode_step(w, 1.0 / 60);
        dropped += fa_ode_contacts(w).dropped;
        fa_end_frame(fa);
    }
    cr_assert_gt(dropped, 0);
    const dReal *p = dBodyGetPosition(s.bodies[31]);
    cr_assert_gt(p[2], 0.3, "untracked pairs still collide: the last box rests on the floor (z %g)", p[2]);
    fa_ode_detach(w);
    scene_free(&s);
    fa_destroy(fa);
    dCloseODE();
}
