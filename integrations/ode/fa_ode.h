/*
 * fa_ode.h — ODE (3D) contacts and ray casts in framealloc frame memory, and
 * ODE's own allocations counted under a tag.
 *
 * fa_ode_step() runs the usual ODE step — dSpaceCollide into contact joints
 * of a joint group, dWorldQuickStep, empty the group — with everything that
 * dies with the step in frame memory: the dContactGeom scratch, the joint
 * feedback records, and this step's contact events (tag "physics/contacts"),
 * one per touching geom pair with begin/persist/separate, point, normal,
 * depth and the impulse the solver applied. Ray casts return frame-allocated
 * hits sorted by distance (tag "physics/queries").
 *
 *     fa_ode_install_allocator(fa, "physics/ode"); // before dInitODE2
 *     dInitODE2(0);
 *     dWorldID world = dWorldCreate();
 *     dSpaceID space = dHashSpaceCreate(0);
 *     fa_ode_world_t *w;
 *     fa_ode_attach(fa, world, space, NULL, &w);
 *     fa_begin_frame(fa);
 *     fa_ode_step(w, 1.0 / 60);
 *     fa_ode_contacts_t c = fa_ode_contacts(w);    // valid until fa_end_frame
 *     fa_end_frame(fa);
 *
 * EVENTS: ODE has no notion of a persistent contact, so the world keeps the
 * previous step's touching pairs (a heap block under the contacts tag) and
 * compares: BEGIN for a new pair, PERSIST for one that touched last step
 * too, SEPARATE (after this step's other events) for one that stopped. Call
 * fa_ode_forget_geom() before dGeomDestroy(): the geom's pairs then report
 * SEPARATE at the next step, and a new geom at the same address is not
 * taken for the old one.
 *
 * ODE'S ALLOCATIONS: dSetAllocHandler/dSetReallocHandler/dSetFreeHandler
 * are process-wide and carry no user pointer, so one context at a time
 * feeds them. Install before dInitODE2() and uninstall after dCloseODE():
 * a block ODE took from malloc must never reach framealloc, and the other
 * way round.
 *
 * THREADS: a world is stepped and queried by one thread at a time (ODE's
 * rule too); events and hits live in that thread's frame arena. The
 * allocation hooks may be called from any thread.
 *
 * pkg-config: framealloc-ode (links libode).
 */
#ifndef FA_ODE_H
#define FA_ODE_H

#include <framealloc.h>
#include <ode/ode.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fa_ode_phase {
    FA_ODE_BEGIN = 1,   /* the pair touches, and did not at the last step */
    FA_ODE_PERSIST = 2, /* the pair touched at the last step too */
    FA_ODE_SEPARATE = 3 /* the pair touched at the last step, not at this one */
} fa_ode_phase;

typedef struct fa_ode_contact {
    dGeomID geom_a, geom_b; /* as dSpaceCollide paired them */
    dBodyID body_a, body_b; /* 0 for a geom without a body */
    dVector3 point;         /* the deepest contact point */
    dVector3 normal;        /* ODE's contact normal for (geom_a, geom_b) */
    dReal depth;            /* penetration of the deepest point */
    dVector3 impulse;       /* impulse the pair's contact joints applied to
                               body_a in this step (the opposite of what they
                               applied to body_b when body_a is 0); 0 for
                               SEPARATE */
    int point_count;        /* contact joints created for the pair */
    fa_ode_phase phase;
} fa_ode_contact_t;

/* The events of the last fa_ode_step() of the calling thread's current
 * frame (earlier steps of the frame are kept before them), frame memory
 * valid until fa_end_frame(). */
typedef struct fa_ode_contacts {
    const fa_ode_contact_t *items;
    size_t count;
    size_t dropped; /* events lost this frame: frame memory was refused */
} fa_ode_contacts_t;

typedef struct fa_ode_hit {
    dGeomID geom;
    dBodyID body;
    dVector3 point, normal;
    dReal distance; /* from the ray's origin */
} fa_ode_hit_t;

typedef struct fa_ode_hits {
    const fa_ode_hit_t *items;
    size_t count;
} fa_ode_hits_t;

/* Zero means default for every field. */
typedef struct fa_ode_desc {
    const char *contacts_tag;          /* "physics/contacts" */
    const char *queries_tag;           /* "physics/queries" */
    int max_points_per_pair;           /* dCollide's limit; 4 (1..64) */
    const dSurfaceParameters *surface; /* copied; NULL: mu 0.8, soft CFM
                                          1e-4, friction pyramid
                                          (dContactSoftCFM | dContactApprox1) */
    int exact_step;                    /* 1: dWorldStep; 0: dWorldQuickStep */
} fa_ode_desc_t;

typedef struct fa_ode_world fa_ode_world_t;

/* Prepares stepping world with the geoms of space: a joint group for the
 * contacts, a ray geom for casts (both ODE objects, counted under the ODE
 * tag when the allocator is installed) and the world record (a heap block
 * under the contacts tag). ODE MUST be initialised (dInitODE2) and the
 * calling thread allocated for (dAllocateODEDataForThread). FA_OK, or
 * FA_ERR_INVALID_ARG, a tag error, FA_ERR_NO_MEMORY; *out written only on
 * success. */
FA_API int fa_ode_attach(fa_alloc_t *fa, dWorldID world, dSpaceID space, const fa_ode_desc_t *desc,
                         fa_ode_world_t **out);

/* Destroys the joint group, the ray and the record. Call before destroying
 * the world or the space. NULL is ignored. */
FA_API void fa_ode_detach(fa_ode_world_t *w);

/* One step: collide (contact joints, feedback and events in frame memory,
 * the contacts tag pushed by id), step the world by dt, read the impulses,
 * empty the joint group. FA_OK, or FA_ERR_INVALID_ARG (dt not finite or not
 * > 0), FA_ERR_STATE (called while a step of this world runs), FA_ERR_NO_MEMORY
 * (the previous pairs could not be kept). O(pairs log pairs) beyond ODE's
 * own work. */
FA_API int fa_ode_step(fa_ode_world_t *w, dReal dt);

/* The contact events of the calling thread's current frame. O(1). */
FA_API fa_ode_contacts_t fa_ode_contacts(fa_ode_world_t *w);

/* Drops geom g from the pairs remembered for BEGIN/PERSIST/SEPARATE: call
 * it before dGeomDestroy(g). O(pairs). */
FA_API void fa_ode_forget_geom(fa_ode_world_t *w, dGeomID g);

/* Geoms of the space hit by a ray from origin along dir (any length, not
 * zero) up to length, nearest point per geom, sorted by distance. FA_OK
 * and *out, or FA_ERR_INVALID_ARG (non-finite input, zero dir, length <= 0),
 * FA_ERR_STATE (during a step), or the frame allocation's error. */
FA_API int fa_ode_ray_cast(fa_ode_world_t *w, const dReal origin[3], const dReal dir[3], dReal length,
                           fa_ode_hits_t *out);

/* Routes ODE's allocations (dAlloc/dRealloc/dFree: worlds, bodies, geoms,
 * spaces, joints, step scratch) to fa under tag_path (created if needed).
 * MUST be called before dInitODE2(). FA_OK, or FA_ERR_STATE (an install is
 * in force), FA_ERR_INVALID_ARG, a tag error. fa MUST outlive the install. */
FA_API int fa_ode_install_allocator(fa_alloc_t *fa, const char *tag_path);

/* Gives ODE the C library's allocator back. MUST be called after
 * dCloseODE(); FA_ERR_STATE while ODE holds blocks from fa (the install
 * then stays in force). */
FA_API int fa_ode_uninstall_allocator(void);

/* Blocks ODE holds from fa now (0 when not installed). */
FA_API long fa_ode_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
