/* fa-demo's physics: Chipmunk2D in a walled arena. Bodies rain in, pile up,
 * collide and die after their lifetime; a spike pours debris in. Every
 * frame's contact events come from the engine through fa_chipmunk (frame
 * memory under physics/contacts), the AI's rays through its queries
 * (physics/queries), a per-body contact count lives in a frame hash map
 * (physics/broadphase), body records in the pool (physics/bodies), and the
 * hardest hits of the frame are promoted to the pool for the sound system. */
#include "demo.h"

#include <fa_chipmunk.h>
#include <fa_frame_vec.h>

#include <stdlib.h>

#define ARENA_HALF_W 20.0
#define WALL_H 60.0
#define DEBRIS_FRAMES 150 /* 2.5 s at 60 fps */
#define HARD_HIT 3.0      /* impulse of a hit the sound system plays */
#define CRUSHED 6         /* contacts at once that shorten a body's life */

typedef struct body_rec {
    cpBody *body;
    cpShape *shape;
    uint32_t frames_left;
    uint32_t debris;
} body_rec_t;

/* What the sound system receives, promoted out of the frame. */
typedef struct impact {
    cpVect point;
    cpFloat strength;
    uint64_t frame;
} impact_t;

struct demo_physics {
    fa_alloc_t *fa;
    cpSpace *space;
    fa_cp_world_t *world;
    cpShape *walls[3];
    body_rec_t **recs; /* heap block under physics/bodies */
    int count, cap, target;
    uint64_t rng, frame;
    int tag_bodies, tag_broadphase, tag_contacts;
    demo_physics_stats_t stats;
};

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static double rng_unit(uint64_t *s) {
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void spawn(demo_physics_t *p, int debris) {
    if (p->count == p->cap) return;
    fa_tag_push_id(p->fa, p->tag_bodies);
    body_rec_t *r = fa_pool_alloc(p->fa, sizeof *r);
    fa_tag_pop(p->fa);
    if (!r) return;
    double x = -ARENA_HALF_W + 1.5 + rng_unit(&p->rng) * (2 * ARENA_HALF_W - 3),
           y = 12 + rng_unit(&p->rng) * 8;
    if (debris || rng_next(&p->rng) % 2) {
        cpFloat radius = debris ? 0.25 : 0.35 + 0.25 * rng_unit(&p->rng);
        r->body = cpSpaceAddBody(p->space, cpBodyNew(1, cpMomentForCircle(1, 0, radius, cpvzero)));
        r->shape = cpSpaceAddShape(p->space, cpCircleShapeNew(r->body, radius, cpvzero));
    } else {
        cpFloat side = 0.8 + 0.3 * rng_unit(&p->rng);
        r->body = cpSpaceAddBody(p->space, cpBodyNew(1, cpMomentForBox(1, side, side)));
        r->shape = cpSpaceAddShape(p->space, cpBoxShapeNew(r->body, side, side, 0.02));
    }
    cpShapeSetFriction(r->shape, 0.7);
    cpShapeSetElasticity(r->shape, 0.2);
    cpBodySetPosition(r->body, cpv(x, y));
    cpBodySetVelocity(r->body, cpv((rng_unit(&p->rng) - 0.5) * 4, -5));
    r->debris = (uint32_t)debris;
    r->frames_left = debris ? DEBRIS_FRAMES : 600 + (uint32_t)(rng_next(&p->rng) % 600);
    cpBodySetUserData(r->body, r);
    p->recs[p->count++] = r;
}

/* Between steps: Chipmunk reports the separations of the removed shape,
 * which land in this frame's events. */
static void retire(demo_physics_t *p, int i) {
    body_rec_t *r = p->recs[i];
    cpSpaceRemoveShape(p->space, r->shape);
    cpSpaceRemoveBody(p->space, r->body);
    cpShapeFree(r->shape);
    cpBodyFree(r->body);
    fa_pool_free(p->fa, r);
    p->recs[i] = p->recs[--p->count];
}

demo_physics_t *demo_physics_create(fa_alloc_t *fa, int bodies, uint64_t seed) {
    if (bodies < 1 || bodies > 2000) return NULL;
    demo_physics_t *p = fa_heap_alloc_tagged(fa, fa_tag_find(fa, "physics/bodies", true), sizeof *p, 0);
    if (!p) return NULL;
    *p = (demo_physics_t){
        .fa = fa, .target = bodies, .cap = bodies * 4, .rng = seed * 0x2545F4914F6CDD1Du | 1};
    p->tag_bodies = fa_tag_find(fa, "physics/bodies", true);
    p->tag_broadphase = fa_tag_find(fa, "physics/broadphase", true);
    p->tag_contacts = fa_tag_find(fa, "physics/contacts", true);
    p->recs = fa_heap_alloc_tagged(fa, p->tag_bodies, (size_t)p->cap * sizeof *p->recs, 0);
    p->space = fa_cp_space_new();
    if (!p->recs || !p->space || fa_cp_attach(fa, p->space, NULL, &p->world) != FA_OK) {
        if (p->space) cpSpaceFree(p->space);
        fa_heap_free(fa, p->recs);
        fa_heap_free(fa, p);
        return NULL;
    }
    cpSpaceSetGravity(p->space, cpv(0, -20));
    cpSpaceSetIterations(p->space, 8);
    cpBody *ground = cpSpaceGetStaticBody(p->space);
    cpVect corner[4] = {cpv(-ARENA_HALF_W, WALL_H), cpv(-ARENA_HALF_W, 0), cpv(ARENA_HALF_W, 0),
                        cpv(ARENA_HALF_W, WALL_H)};
    for (int i = 0; i < 3; i++) {
        p->walls[i] = cpSpaceAddShape(p->space, cpSegmentShapeNew(ground, corner[i], corner[i + 1], 0.5));
        cpShapeSetFriction(p->walls[i], 0.9);
    }
    return p;
}

/* Who touches how many: a frame map from body to its contacts this frame.
 * Crushed bodies (too many at once) end sooner. */
static void contact_graph(demo_physics_t *p, fa_cp_contacts_t c) {
    fa_tag_push_id(p->fa, p->tag_broadphase);
    fa_frame_map_t touching;
    if (FA_FRAME_MAP_INIT(&touching, p->fa, uint32_t, (size_t)p->count) == FA_OK) {
        for (size_t i = 0; i < c.count; i++) {
            if (c.items[i].phase == FA_CP_SEPARATE) continue;
            uint32_t *a = FA_FRAME_MAP_PUT(&touching, uint32_t, (uintptr_t)c.items[i].body_a, NULL);
            uint32_t *b = FA_FRAME_MAP_PUT(&touching, uint32_t, (uintptr_t)c.items[i].body_b, NULL);
            if (a) ++*a;
            if (b) ++*b;
        }
        for (int i = 0; i < p->count; i++) {
            const uint32_t *n = FA_FRAME_MAP_GET(&touching, uint32_t, (uintptr_t)p->recs[i]->body);
            if (n && *n >= CRUSHED && p->recs[i]->frames_left > 60) p->recs[i]->frames_left -= 2;
        }
    }
    fa_tag_pop(p->fa);
}

/* The hardest new hits of the frame survive it: promoted to the pool at the
 * frame end, for the sound system (fa-demo frees them a few frames later). */
static void keep_impacts(demo_physics_t *p, fa_cp_contacts_t c) {
    fa_tag_push_id(p->fa, p->tag_contacts);
    int kept = 0;
    for (size_t i = 0; i < c.count && kept < 4; i++) {
        if (c.items[i].phase != FA_CP_BEGIN || cpvlength(c.items[i].impulse) < HARD_HIT) continue;
        impact_t *imp =
            fa_frame_alloc_retained(p->fa, sizeof *imp, _Alignof(impact_t), FA_RETAIN_PROMOTE_POOL, 0);
        if (!imp) break;
        *imp = (impact_t){c.items[i].point, cpvlength(c.items[i].impulse), p->frame};
        kept++;
    }
    fa_tag_pop(p->fa);
}

/* The AI's line-of-sight rays and a look-around, nearest hits first. */
static void sight(demo_physics_t *p) {
    for (int i = 0; i < 16; i++) {
        double x = -ARENA_HALF_W + 1 + rng_unit(&p->rng) * (2 * ARENA_HALF_W - 2);
        fa_cp_hits_t hits;
        if (fa_cp_segment_query(p->world, cpv(x, 25), cpv(x + 4 * (rng_unit(&p->rng) - 0.5), -1), 0.1,
                                CP_SHAPE_FILTER_ALL, &hits) == FA_OK)
            p->stats.hits += hits.count;
    }
    fa_cp_hits_t near;
    if (fa_cp_point_query(p->world, cpv(0, 2), 4, CP_SHAPE_FILTER_ALL, &near) == FA_OK)
        p->stats.hits += near.count;
}

void demo_physics_frame(demo_physics_t *p, int spiking) {
    p->frame++;
    for (int i = 0; i < p->count;) {
        body_rec_t *r = p->recs[i];
        if (--r->frames_left == 0 || cpBodyGetPosition(r->body).y < -10)
            retire(p, i);
        else
            i++;
    }
    int normal = 0;
    for (int i = 0; i < p->count; i++)
        normal += !p->recs[i]->debris;
    for (int n = 0; n < 8 && normal < p->target; n++, normal++)
        spawn(p, 0);
    for (int n = 0; spiking && n < p->target / 60 + 1; n++)
        spawn(p, 1);

    fa_cp_step(p->world, 1.0 / 60);
    fa_cp_contacts_t c = fa_cp_contacts(p->world);
    for (size_t i = 0; i < c.count; i++)
        p->stats.begins += c.items[i].phase == FA_CP_BEGIN;
    p->stats.contacts += c.count;
    p->stats.bodies = p->count;
    contact_graph(p, c);
    keep_impacts(p, c);
    sight(p);
}

demo_physics_stats_t demo_physics_stats(const demo_physics_t *p) {
    return p->stats;
}

void demo_physics_destroy(demo_physics_t *p) {
    if (!p) return;
    fa_begin_frame(p->fa); /* the separations of the retired bodies land in a frame */
    while (p->count)
        retire(p, p->count - 1);
    fa_end_frame(p->fa);
    fa_cp_detach(p->world);
    for (int i = 0; i < 3; i++) {
        cpSpaceRemoveShape(p->space, p->walls[i]);
        cpShapeFree(p->walls[i]);
    }
    cpSpaceFree(p->space);
    fa_heap_free(p->fa, p->recs);
    fa_heap_free(p->fa, p);
}
