/* ODE steps with contacts, feedback and events in frame memory; ray casts;
 * ODE's allocation handlers over framealloc's tagged heap blocks. */
#include "fa_ode.h"

#include "hook.h"

#include <fa_frame_vec.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A touching pair as remembered between steps, geoms ordered by address. */
typedef struct pair {
    dGeomID lo, hi;
    dBodyID lo_body, hi_body;
    int forgotten; /* a geom of the pair was destroyed: never matches */
} pair_t;

/* This step's per-event extra: the joints' feedback, the pair's key. */
typedef struct step_pair {
    pair_t key;
    dJointFeedback *feedback; /* point_count records */
    size_t event;             /* index in the frame's events */
} step_pair_t;

struct fa_ode_world {
    fa_alloc_t *fa;
    dWorldID world;
    dSpaceID space;
    dJointGroupID group;
    dGeomID ray;
    int contacts_tag, queries_tag;
    int max_points;
    int exact_step;
    dSurfaceParameters surface;
    fa_frame_vec_t events; /* this frame's fa_ode_contact_t */
    fa_frame_vec_t step;   /* this step's step_pair_t */
    dContactGeom *scratch; /* this step's dCollide output */
    pair_t *previous;      /* the last step's pairs, sorted; heap */
    size_t previous_count, previous_cap;
    size_t dropped;
    bool in_step;
};

/* ---- contacts ------------------------------------------------------------------- */

static fa_frame_vec_t *frame_events(fa_ode_world_t *w) {
    if (!w->events.fa || !fa_frame_vec_is_current(&w->events)) {
        FA_FRAME_VEC_INIT(&w->events, w->fa, fa_ode_contact_t);
        w->dropped = 0;
    }
    return &w->events;
}

static pair_t pair_of(dGeomID a, dGeomID b) {
    dGeomID lo = (uintptr_t)a < (uintptr_t)b ? a : b, hi = lo == a ? b : a;
    return (pair_t){lo, hi, dGeomGetBody(lo), dGeomGetBody(hi), 0};
}

static int pair_cmp(const pair_t *x, const pair_t *y) {
    if (x->lo != y->lo) return (uintptr_t)x->lo < (uintptr_t)y->lo ? -1 : 1;
    if (x->hi != y->hi) return (uintptr_t)x->hi < (uintptr_t)y->hi ? -1 : 1;
    return 0;
}

static int step_pair_cmp(const void *a, const void *b) {
    return pair_cmp(&((const step_pair_t *)a)->key, &((const step_pair_t *)b)->key);
}

static void near_callback(void *data, dGeomID o1, dGeomID o2) {
    fa_ode_world_t *w = data;
    if (dGeomIsSpace(o1) || dGeomIsSpace(o2)) {
        dSpaceCollide2(o1, o2, w, near_callback);
        if (dGeomIsSpace(o1)) dSpaceCollide((dSpaceID)o1, w, near_callback);
        if (dGeomIsSpace(o2)) dSpaceCollide((dSpaceID)o2, w, near_callback);
        return;
    }
    dBodyID b1 = dGeomGetBody(o1), b2 = dGeomGetBody(o2);
    if (!b1 && !b2) return;
    if (b1 && b2 && dAreConnectedExcluding(b1, b2, dJointTypeContact)) return;
    int n = dCollide(o1, o2, w->max_points, w->scratch, sizeof(dContactGeom));
    if (n <= 0) return;
    /* The feedback records first: ODE keeps pointers to them until the step
     * ends, so they need fixed addresses (not a vector that may move). */
    dJointFeedback *fb = FA_FRAME_ARRAY(w->fa, dJointFeedback, (size_t)n);
    fa_ode_contact_t *c = fb ? FA_FRAME_VEC_PUSH(&w->events, fa_ode_contact_t) : NULL;
    step_pair_t *sp = c ? FA_FRAME_VEC_PUSH(&w->step, step_pair_t) : NULL;
    if (!sp) {
        /* The pair still collides, untracked. */
        if (c) w->events.len--; /* undo the event's push */
        w->dropped++;
        fb = NULL;
    }
    int deepest = 0;
    for (int i = 0; i < n; i++) {
        dContact contact = {.surface = w->surface, .geom = w->scratch[i]};
        dJointID j = dJointCreateContact(w->world, w->group, &contact);
        dJointAttach(j, b1, b2);
        if (fb) dJointSetFeedback(j, &fb[i]);
        if (w->scratch[i].depth > w->scratch[deepest].depth) deepest = i;
    }
    if (!fb) return;
    *c = (fa_ode_contact_t){.geom_a = o1,
                            .geom_b = o2,
                            .body_a = b1,
                            .body_b = b2,
                            .depth = w->scratch[deepest].depth,
                            .point_count = n};
    memcpy(c->point, w->scratch[deepest].pos, sizeof c->point);
    memcpy(c->normal, w->scratch[deepest].normal, sizeof c->normal);
    *sp = (step_pair_t){.key = pair_of(o1, o2), .feedback = fb, .event = w->events.len - 1};
}

/* Phases from this step's pairs (sorted) against the last step's, SEPARATE
 * events for pairs that are gone, then this step's pairs become the last. */
static int match_pairs(fa_ode_world_t *w) {
    step_pair_t *now = w->step.data;
    size_t n = w->step.len, p = 0;
    if (n > 1) qsort(now, n, sizeof *now, step_pair_cmp);
    for (size_t i = 0; i < n || p < w->previous_count;) {
        int cmp = i == n ? 1 : p == w->previous_count ? -1 : pair_cmp(&now[i].key, &w->previous[p]);
        if (cmp == 0 && w->previous[p].forgotten) cmp = 1; /* the old pair separates first */
        if (cmp <= 0) {
            FA_FRAME_VEC_AT(&w->events, fa_ode_contact_t, now[i].event).phase =
                cmp == 0 ? FA_ODE_PERSIST : FA_ODE_BEGIN;
            i++;
            p += cmp == 0;
            continue;
        }
        const pair_t *gone = &w->previous[p++];
        fa_ode_contact_t *c = FA_FRAME_VEC_PUSH(&w->events, fa_ode_contact_t);
        if (!c) {
            w->dropped++;
            continue;
        }
        *c = (fa_ode_contact_t){.geom_a = gone->lo,
                                .geom_b = gone->hi,
                                .body_a = gone->lo_body,
                                .body_b = gone->hi_body,
                                .phase = FA_ODE_SEPARATE};
    }
    if (n > w->previous_cap) {
        size_t bytes;
        if (__builtin_mul_overflow(n, sizeof(pair_t), &bytes)) return FA_ERR_OVERFLOW;
        pair_t *grown = fa_heap_realloc(w->fa, w->previous, bytes, w->contacts_tag);
        if (!grown) return FA_ERR_NO_MEMORY;
        w->previous = grown;
        w->previous_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        w->previous[i] = now[i].key;
    w->previous_count = n;
    return FA_OK;
}

/* The impulse on body_a: the feedback's f1 is the force on the joint's
 * first body, which ODE makes body_b when body_a is 0. */
static void read_impulses(fa_ode_world_t *w, dReal dt) {
    const step_pair_t *now = w->step.data;
    for (size_t i = 0; i < w->step.len; i++) {
        fa_ode_contact_t *c = &FA_FRAME_VEC_AT(&w->events, fa_ode_contact_t, now[i].event);
        dReal sign = c->body_a ? dt : -dt;
        for (int k = 0; k < c->point_count; k++)
            for (int d = 0; d < 3; d++)
                c->impulse[d] += now[i].feedback[k].f1[d] * sign;
    }
}

int fa_ode_step(fa_ode_world_t *w, dReal dt) {
    if (!w || !(dt > 0) || isinf(dt)) return FA_ERR_INVALID_ARG;
    if (w->in_step) return FA_ERR_STATE;
    w->in_step = true;
    bool pushed = fa_tag_push_id(w->fa, w->contacts_tag) >= 0;
    frame_events(w);
    size_t expect = w->previous_count + 16;
    fa_frame_vec_reserve(&w->events, w->events.len + expect);
    FA_FRAME_VEC_INIT(&w->step, w->fa, step_pair_t);
    fa_frame_vec_reserve(&w->step, expect);
    w->scratch = FA_FRAME_ARRAY(w->fa, dContactGeom, (size_t)w->max_points);
    int rc = FA_OK;
    if (w->scratch) {
        dSpaceCollide(w->space, w, near_callback);
        rc = match_pairs(w);
    }
    if (w->exact_step)
        dWorldStep(w->world, dt);
    else
        dWorldQuickStep(w->world, dt);
    read_impulses(w, dt);
    dJointGroupEmpty(w->group);
    if (pushed) fa_tag_pop(w->fa);
    w->in_step = false;
    return w->scratch ? rc : fa_last_error();
}

fa_ode_contacts_t fa_ode_contacts(fa_ode_world_t *w) {
    if (!w) return (fa_ode_contacts_t){0};
    fa_frame_vec_t *v = frame_events(w);
    return (fa_ode_contacts_t){.items = v->data, .count = v->len, .dropped = w->dropped};
}

void fa_ode_forget_geom(fa_ode_world_t *w, dGeomID g) {
    if (!w) return;
    for (size_t i = 0; i < w->previous_count; i++)
        if (w->previous[i].lo == g || w->previous[i].hi == g) w->previous[i].forgotten = 1;
}

/* ---- world --------------------------------------------------------------------- */

int fa_ode_attach(fa_alloc_t *fa, dWorldID world, dSpaceID space, const fa_ode_desc_t *desc,
                  fa_ode_world_t **out) {
    fa_ode_desc_t d = desc ? *desc : (fa_ode_desc_t){0};
    if (!fa || !world || !space || !out || d.max_points_per_pair < 0 || d.max_points_per_pair > 64)
        return FA_ERR_INVALID_ARG;
    int contacts = fa_tag_find(fa, d.contacts_tag ? d.contacts_tag : "physics/contacts", true);
    int queries = fa_tag_find(fa, d.queries_tag ? d.queries_tag : "physics/queries", true);
    if (contacts < 0) return contacts;
    if (queries < 0) return queries;
    fa_ode_world_t *w = fa_heap_alloc_tagged(fa, contacts, sizeof *w, 0);
    if (!w) return FA_ERR_NO_MEMORY;
    *w = (fa_ode_world_t){.fa = fa,
                          .world = world,
                          .space = space,
                          .contacts_tag = contacts,
                          .queries_tag = queries,
                          .max_points = d.max_points_per_pair ? d.max_points_per_pair : 4,
                          .exact_step = d.exact_step};
    if (d.surface)
        w->surface = *d.surface;
    else
        w->surface =
            (dSurfaceParameters){.mode = dContactSoftCFM | dContactApprox1, .mu = 0.8, .soft_cfm = 1e-4};
    w->group = dJointGroupCreate(0);
    w->ray = dCreateRay(0, 1);
    if (!w->group || !w->ray) {
        fa_ode_detach(w);
        return FA_ERR_NO_MEMORY;
    }
    dGeomRaySetFirstContact(w->ray, 0);
    dGeomRaySetBackfaceCull(w->ray, 0);
    dGeomRaySetClosestHit(w->ray, 1);
    *out = w;
    return FA_OK;
}

void fa_ode_detach(fa_ode_world_t *w) {
    if (!w) return;
    if (w->group) dJointGroupDestroy(w->group);
    if (w->ray) dGeomDestroy(w->ray);
    fa_heap_free(w->fa, w->previous);
    fa_heap_free(w->fa, w);
}

/* ---- ray casts -------------------------------------------------------------------- */

typedef struct ray_query {
    fa_ode_world_t *w;
    fa_frame_vec_t hits;
    int failed;
} ray_query_t;

static void ray_callback(void *data, dGeomID o1, dGeomID o2) {
    ray_query_t *q = data;
    if (dGeomIsSpace(o1) || dGeomIsSpace(o2)) {
        dSpaceCollide2(o1, o2, q, ray_callback);
        return;
    }
    dGeomID other = o1 == q->w->ray ? o2 : o1;
    dContactGeom g;
    if (dCollide(q->w->ray, other, 1, &g, sizeof g) < 1) return;
    fa_ode_hit_t *h = FA_FRAME_VEC_PUSH(&q->hits, fa_ode_hit_t);
    if (!h) {
        q->failed = fa_last_error();
        return;
    }
    *h = (fa_ode_hit_t){.geom = other, .body = dGeomGetBody(other), .distance = g.depth};
    memcpy(h->point, g.pos, sizeof h->point);
    memcpy(h->normal, g.normal, sizeof h->normal);
}

static int by_distance(const void *a, const void *b) {
    dReal x = ((const fa_ode_hit_t *)a)->distance, y = ((const fa_ode_hit_t *)b)->distance;
    return (x > y) - (x < y);
}

int fa_ode_ray_cast(fa_ode_world_t *w, const dReal origin[3], const dReal dir[3], dReal length,
                    fa_ode_hits_t *out) {
    if (!w || !origin || !dir || !out || !(length > 0) || isinf(length)) return FA_ERR_INVALID_ARG;
    for (int i = 0; i < 3; i++)
        if (!isfinite(origin[i]) || !isfinite(dir[i])) return FA_ERR_INVALID_ARG;
    if (dir[0] == 0 && dir[1] == 0 && dir[2] == 0) return FA_ERR_INVALID_ARG;
    if (w->in_step) return FA_ERR_STATE;
    ray_query_t q = {.w = w};
    int rc = FA_FRAME_VEC_INIT(&q.hits, w->fa, fa_ode_hit_t);
    if (rc != FA_OK) return rc;
    bool pushed = fa_tag_push_id(w->fa, w->queries_tag) >= 0;
    dGeomRaySetLength(w->ray, length);
    dGeomRaySet(w->ray, origin[0], origin[1], origin[2], dir[0], dir[1], dir[2]);
    dSpaceCollide2(w->ray, (dGeomID)w->space, &q, ray_callback);
    if (pushed) fa_tag_pop(w->fa);
    if (q.failed) return q.failed;
    if (q.hits.len > 1) qsort(q.hits.data, q.hits.len, sizeof(fa_ode_hit_t), by_distance);
    *out = (fa_ode_hits_t){.items = q.hits.data, .count = q.hits.len};
    return FA_OK;
}

/* ---- ODE's allocator --------------------------------------------------------------- */

static fa__hook_t hook;

static void *ode_alloc(dsizeint size) {
    return fa__hook_alloc(&hook, size);
}
static void *ode_realloc(void *p, dsizeint old_size, dsizeint size) {
    (void)old_size;
    return fa__hook_realloc(&hook, p, size);
}
static void ode_free(void *p, dsizeint size) {
    (void)size;
    fa__hook_free(&hook, p);
}

int fa_ode_install_allocator(fa_alloc_t *fa, const char *tag_path) {
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    dSetAllocHandler(ode_alloc);
    dSetReallocHandler(ode_realloc);
    dSetFreeHandler(ode_free);
    return FA_OK;
}

int fa_ode_uninstall_allocator(void) {
    if (!atomic_load(&hook.fa) || fa_ode_live_blocks() != 0) return FA_ERR_STATE;
    dSetAllocHandler(NULL);
    dSetReallocHandler(NULL);
    dSetFreeHandler(NULL);
    return fa__hook_release(&hook);
}

long fa_ode_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
