/*
 * fa_chipmunk.h — Chipmunk2D contacts and queries in framealloc frame memory.
 *
 * A physics step produces many short-lived facts: which shapes began,
 * kept or stopped touching, where, how deep, how hard they were pushed
 * apart. fa_cp_step() steps your cpSpace and gathers this step's contact
 * events into one frame-allocated array (tag "physics/contacts"), valid until
 * fa_end_frame(); ray (segment), point and box queries return their hits
 * the same way (tag "physics/queries"). Nothing is freed by hand and nothing
 * reaches malloc on the frame path.
 *
 *     cpSpace *space = fa_cp_space_new();          // cpSpaceNew, minus the banner
 *     fa_cp_world_t *world;
 *     fa_cp_attach(fa, space, NULL, &world);       // NULL: default tags
 *     for (;;) {
 *         fa_begin_frame(fa);
 *         fa_cp_step(world, 1.0 / 60);
 *         fa_cp_contacts_t c = fa_cp_contacts(world);
 *         for (size_t i = 0; i < c.count; i++)
 *             if (c.items[i].phase == FA_CP_BEGIN) play_hit_sound(&c.items[i]);
 *         fa_end_frame(fa);                        // the events are gone
 *     }
 *
 * HOW EVENTS ARE COLLECTED
 *   fa_cp_attach() takes over the space's default collision handler
 *   (cpSpaceAddDefaultCollisionHandler) and chains to the callbacks that were
 *   there, so wildcard handlers keep working. One event per shape pair and
 *   callback: BEGIN when Chipmunk calls begin (the pair's first step), PERSIST
 *   at each later pre-solve, SEPARATE when the pair stops touching or a
 *   shape is removed. Pairs whose collision types have their own handler
 *   (cpSpaceAddCollisionHandler) do not reach the default handler: call
 *   fa_cp_record() from that handler's begin, preSolve, postSolve and
 *   separate callbacks to collect them too.
 *
 * DEBIAN'S CHIPMUNK2D
 *   Debian builds Chipmunk2D with its debug checks on: the first
 *   cpSpaceNew() of the process prints a banner to stdout, and misuse
 *   (stepping a locked space, NaN input) ends in abort(). fa_cp_space_new()
 *   swallows the banner (stdout's fd points to /dev/null for that call, with
 *   stdout's stdio lock held). The calls here check their arguments and the
 *   space's lock first and return FA_ERR_INVALID_ARG / FA_ERR_STATE instead
 *   of reaching an assertion. Chipmunk2D allocates its own bodies, shapes and
 *   arbiters with calloc (it has no allocator hook); those are not counted.
 *
 * THREADS AND LIFETIME
 *   A world is stepped and queried by one thread at a time; events and hits
 *   live in that thread's frame arena until its fa_end_frame(). fa_cp_step()
 *   pushes the contacts tag by id, so the tag is the same whatever the
 *   caller pushed. Call fa_cp_detach() before cpSpaceFree().
 *
 * pkg-config: framealloc-chipmunk (links libchipmunk, which has no .pc).
 */
#ifndef FA_CHIPMUNK_H
#define FA_CHIPMUNK_H

#include <chipmunk/chipmunk.h>
#include <framealloc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fa_cp_phase {
    FA_CP_BEGIN = 1,   /* the pair touches for the first step */
    FA_CP_PERSIST = 2, /* the pair still touches */
    FA_CP_SEPARATE = 3 /* the pair stopped touching (or a shape was removed) */
} fa_cp_phase;

typedef struct fa_cp_contact {
    cpShape *shape_a, *shape_b; /* in the arbiter's order */
    cpBody *body_a, *body_b;
    cpVect point;    /* world point of the deepest contact, midway
                        between the two surfaces */
    cpVect normal;   /* unit, from shape_a towards shape_b */
    cpFloat depth;   /* penetration of the deepest point, >= 0 */
    cpVect impulse;  /* impulse the solver applied to the pair in
                        this step (cpArbiterTotalImpulse); zero for
                        SEPARATE, sensors and ignored pairs */
    int point_count; /* contact points (0 for SEPARATE) */
    fa_cp_phase phase;
} fa_cp_contact_t;

/* Events of the calling thread's current frame, in the order recorded.
 * items is frame memory: valid until fa_end_frame() (and until the next
 * fa_cp_step() or fa_cp_record(), which may move the array). */
typedef struct fa_cp_contacts {
    const fa_cp_contact_t *items;
    size_t count;
    size_t dropped; /* events lost this frame: frame memory was refused (a
                       hard budget under FA_POLICY_FAIL, the arena limit) */
} fa_cp_contacts_t;

typedef struct fa_cp_hit {
    cpShape *shape;
    cpBody *body;
    cpVect point;     /* segment: point of impact; point query: nearest point
                         on the shape; box: the shape's bounding-box centre */
    cpVect normal;    /* segment: surface normal; point: gradient; box: 0 */
    cpFloat distance; /* segment: from the start; point: signed distance
                         (negative inside); box: 0 */
    cpFloat alpha;    /* segment: distance / segment length; else 0 */
} fa_cp_hit_t;

/* Hits of one query, frame memory valid until fa_end_frame(). */
typedef struct fa_cp_hits {
    const fa_cp_hit_t *items;
    size_t count;
} fa_cp_hits_t;

/* Zero means default for every field. */
typedef struct fa_cp_desc {
    const char *contacts_tag; /* "physics/contacts" */
    const char *queries_tag;  /* "physics/queries" */
} fa_cp_desc_t;

typedef struct fa_cp_world fa_cp_world_t;

/* cpSpaceNew() without the banner Debian's build prints to stdout on the
 * first call of the process. Any thread. NULL when Chipmunk cannot allocate. */
FA_API cpSpace *fa_cp_space_new(void);

/* Takes over space's default collision handler (chaining to the callbacks
 * it had) so that its events are collected. The world record is a heap
 * block under the contacts tag. FA_OK, or FA_ERR_INVALID_ARG, a tag error,
 * FA_ERR_STATE (the space is locked: inside a step or query callback),
 * FA_ERR_NO_MEMORY. *out is written only on success. */
FA_API int fa_cp_attach(fa_alloc_t *fa, cpSpace *space, const fa_cp_desc_t *desc, fa_cp_world_t **out);

/* Gives the default handler its callbacks back and frees the world. MUST be
 * called before cpSpaceFree(space). FA_ERR_STATE (nothing done) while the
 * space is locked. NULL is ignored (FA_OK). */
FA_API int fa_cp_detach(fa_cp_world_t *w);

/* cpSpaceStep(space, dt) with the contacts tag pushed; the step's events are
 * appended to this frame's (see fa_cp_contacts). FA_OK, or
 * FA_ERR_INVALID_ARG (dt negative, NaN or infinite; 0 steps nothing, like
 * Chipmunk), FA_ERR_STATE (the space is locked: called from a callback).
 * Costs Chipmunk's step plus O(1) per event (one push, one map entry). */
FA_API int fa_cp_step(fa_cp_world_t *w, cpFloat dt);

/* The contact events of the calling thread's current frame (all steps of
 * the frame, plus separations caused by removing shapes). O(1). */
FA_API fa_cp_contacts_t fa_cp_contacts(fa_cp_world_t *w);

/* Which Chipmunk callback fa_cp_record() is called from. */
typedef enum fa_cp_callback {
    FA_CP_FROM_BEGIN = 1,      /* records BEGIN */
    FA_CP_FROM_PRE_SOLVE = 2,  /* records PERSIST (not on the first step:
                                  begin recorded BEGIN) */
    FA_CP_FROM_POST_SOLVE = 3, /* fills in the impulse of arb's event of
                                  this step */
    FA_CP_FROM_SEPARATE = 4    /* records SEPARATE */
} fa_cp_callback;

/* Collects arb's event from a callback of a collision handler of your own
 * (one that the default handler does not see), with the same rules as the
 * default handler's. Call it from each of the four callbacks. */
FA_API void fa_cp_record(fa_cp_world_t *w, cpArbiter *arb, fa_cp_callback from);

/* Shapes that a segment from a to b, thickened by radius, hits, sorted by
 * distance from a (the nearest first). FA_OK and *out, or
 * FA_ERR_INVALID_ARG (NaN/infinite points, radius < 0), FA_ERR_STATE, or the
 * frame allocation's error. O(hits log hits) beyond Chipmunk's query. */
FA_API int fa_cp_segment_query(fa_cp_world_t *w, cpVect a, cpVect b, cpFloat radius, cpShapeFilter filter,
                               fa_cp_hits_t *out);
/* Shapes within max_distance of p, sorted by signed distance. */
FA_API int fa_cp_point_query(fa_cp_world_t *w, cpVect p, cpFloat max_distance, cpShapeFilter filter,
                             fa_cp_hits_t *out);
/* Shapes whose bounding box overlaps bb (l <= r, b <= t), in Chipmunk's
 * order. */
FA_API int fa_cp_box_query(fa_cp_world_t *w, cpBB bb, cpShapeFilter filter, fa_cp_hits_t *out);

#ifdef __cplusplus
}
#endif
#endif
