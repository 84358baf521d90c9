/* Chipmunk2D contact events and queries gathered into frame memory. */
#include "fa_chipmunk.h"

#include <fa_frame_vec.h>
/* Chipmunk's struct definitions (installed by Debian's libchipmunk-dev):
 * the space's default handler and wildcard flag must be read before
 * cpSpaceAddDefaultCollisionHandler changes them, see fa_cp_attach. */
#include <chipmunk/chipmunk_structs.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fa_cp_world {
    fa_alloc_t *fa;
    cpSpace *space;
    cpCollisionHandler *handler; /* the space's default handler */
    struct {                     /* its callbacks before the attach */
        cpCollisionBeginFunc beginFunc;
        cpCollisionPreSolveFunc preSolveFunc;
        cpCollisionPostSolveFunc postSolveFunc;
        cpCollisionSeparateFunc separateFunc;
        cpDataPointer userData;
    } previous; /* (cpCollisionHandler has const members: no assignment) */
    cpBool had_wildcards;
    int contacts_tag, queries_tag;
    fa_frame_vec_t events;     /* this frame's events (fa_cp_contact_t) */
    fa_frame_map_t of_arbiter; /* this step: arbiter -> index in events */
    size_t dropped;
    size_t last_step_events; /* to size the next step's containers */
    bool in_step;            /* fa_cp_step has the contacts tag pushed */
};

/* ---- the banner -------------------------------------------------------------- */

static pthread_once_t banner_once = PTHREAD_ONCE_INIT;

/* Debian's Chipmunk prints a banner from the first cpSpaceNew of the process
 * (a static flag inside cpSpaceInit). Create and free one space with fd 1
 * on /dev/null, holding stdout's lock so that no other thread's stdio
 * output is lost meanwhile (the lock is recursive for this thread, so the
 * banner's printf goes through). */
static void swallow_banner(void) {
    flockfile(stdout);
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved >= 0 && devnull >= 0 && dup2(devnull, STDOUT_FILENO) >= 0) {
        cpSpaceFree(cpSpaceNew());
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
    }
    if (devnull >= 0) close(devnull);
    if (saved >= 0) close(saved);
    funlockfile(stdout);
}

cpSpace *fa_cp_space_new(void) {
    pthread_once(&banner_once, swallow_banner);
    return cpSpaceNew();
}

/* ---- events ---------------------------------------------------------------- */

/* The events vector of the calling thread's current frame, started afresh
 * when the frame changed. */
static fa_frame_vec_t *frame_events(fa_cp_world_t *w) {
    if (!w->events.fa || !fa_frame_vec_is_current(&w->events)) {
        FA_FRAME_VEC_INIT(&w->events, w->fa, fa_cp_contact_t);
        w->dropped = 0;
    }
    return &w->events;
}

static void record(fa_cp_world_t *w, cpArbiter *arb, fa_cp_phase phase) {
    /* Outside fa_cp_step (a shape removed between steps) the tag is ours to
     * push here. */
    bool pushed = !w->in_step && fa_tag_push_id(w->fa, w->contacts_tag) >= 0;
    /* fa_cp_step made the vector current before stepping. */
    fa_cp_contact_t *c = FA_FRAME_VEC_PUSH(w->in_step ? &w->events : frame_events(w), fa_cp_contact_t);
    if (pushed) fa_tag_pop(w->fa);
    if (!c) {
        w->dropped++;
        return;
    }
    *c = (fa_cp_contact_t){.phase = phase};
    cpArbiterGetShapes(arb, &c->shape_a, &c->shape_b);
    cpArbiterGetBodies(arb, &c->body_a, &c->body_b);
    if (phase == FA_CP_SEPARATE) return;
    cpContactPointSet set = cpArbiterGetContactPointSet(arb);
    c->normal = set.normal;
    c->point_count = set.count;
    for (int i = 0; i < set.count; i++) {
        cpFloat depth = -set.points[i].distance;
        if (i == 0 || depth > c->depth) {
            c->depth = depth > 0 ? depth : 0;
            c->point = cpvlerp(set.points[i].pointA, set.points[i].pointB, 0.5);
        }
    }
    /* post-solve finds the event through the step's map. */
    uint32_t *index = w->in_step ? FA_FRAME_MAP_PUT(&w->of_arbiter, uint32_t, (uintptr_t)arb, NULL) : NULL;
    if (index) *index = (uint32_t)(w->events.len - 1);
}

static void fill_impulse(fa_cp_world_t *w, cpArbiter *arb) {
    const uint32_t *index = w->in_step ? FA_FRAME_MAP_GET(&w->of_arbiter, uint32_t, (uintptr_t)arb) : NULL;
    if (index && *index < w->events.len)
        FA_FRAME_VEC_AT(&w->events, fa_cp_contact_t, *index).impulse = cpArbiterTotalImpulse(arb);
}

void fa_cp_record(fa_cp_world_t *w, cpArbiter *arb, fa_cp_callback from) {
    if (!w || !arb) return;
    switch (from) {
    case FA_CP_FROM_BEGIN:
        record(w, arb, FA_CP_BEGIN);
        break;
    case FA_CP_FROM_PRE_SOLVE:
        if (!cpArbiterIsFirstContact(arb)) record(w, arb, FA_CP_PERSIST);
        break;
    case FA_CP_FROM_POST_SOLVE:
        fill_impulse(w, arb);
        break;
    case FA_CP_FROM_SEPARATE:
        record(w, arb, FA_CP_SEPARATE);
        break;
    }
}

/* The default handler's callbacks: record, then whatever was there before. */
static cpBool on_begin(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    fa_cp_world_t *w = data;
    fa_cp_record(w, arb, FA_CP_FROM_BEGIN);
    return w->previous.beginFunc ? w->previous.beginFunc(arb, space, w->previous.userData) : cpTrue;
}
static cpBool on_pre_solve(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    fa_cp_world_t *w = data;
    fa_cp_record(w, arb, FA_CP_FROM_PRE_SOLVE);
    return w->previous.preSolveFunc ? w->previous.preSolveFunc(arb, space, w->previous.userData) : cpTrue;
}
static void on_post_solve(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    fa_cp_world_t *w = data;
    fa_cp_record(w, arb, FA_CP_FROM_POST_SOLVE);
    if (w->previous.postSolveFunc) w->previous.postSolveFunc(arb, space, w->previous.userData);
}
static void on_separate(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    fa_cp_world_t *w = data;
    fa_cp_record(w, arb, FA_CP_FROM_SEPARATE);
    if (w->previous.separateFunc) w->previous.separateFunc(arb, space, w->previous.userData);
}

/* ---- world ------------------------------------------------------------------- */

int fa_cp_attach(fa_alloc_t *fa, cpSpace *space, const fa_cp_desc_t *desc, fa_cp_world_t **out) {
    if (!fa || !space || !out) return FA_ERR_INVALID_ARG;
    if (cpSpaceIsLocked(space)) return FA_ERR_STATE;
    fa_cp_desc_t d = desc ? *desc : (fa_cp_desc_t){0};
    int contacts = fa_tag_find(fa, d.contacts_tag ? d.contacts_tag : "physics/contacts", true);
    int queries = fa_tag_find(fa, d.queries_tag ? d.queries_tag : "physics/queries", true);
    if (contacts < 0) return contacts;
    if (queries < 0) return queries;
    fa_cp_world_t *w = fa_heap_alloc_tagged(fa, contacts, sizeof *w, 0);
    if (!w) return FA_ERR_NO_MEMORY;
    memset(w, 0, sizeof *w);
    w->fa = fa;
    w->space = space;
    w->contacts_tag = contacts;
    w->queries_tag = queries;
    /* The callbacks the space calls today: before any
     * cpSpaceAddDefaultCollisionHandler, Chipmunk's do-nothing ones. Adding
     * the default handler would put in callbacks that call the wildcard
     * handlers, which arbiters made before it never got (Chipmunk 7.0.3
     * sets them only while the space uses wildcards): chaining to those
     * crashes at their separation. So the chain is what was in force. */
    const cpCollisionHandler *before = &space->defaultHandler;
    w->had_wildcards = space->usesWildcards;
    w->previous.beginFunc = before->beginFunc;
    w->previous.preSolveFunc = before->preSolveFunc;
    w->previous.postSolveFunc = before->postSolveFunc;
    w->previous.separateFunc = before->separateFunc;
    w->previous.userData = before->userData;
    w->handler = cpSpaceAddDefaultCollisionHandler(space);
    w->handler->beginFunc = on_begin;
    w->handler->preSolveFunc = on_pre_solve;
    w->handler->postSolveFunc = on_post_solve;
    w->handler->separateFunc = on_separate;
    w->handler->userData = w;
    *out = w;
    return FA_OK;
}

int fa_cp_detach(fa_cp_world_t *w) {
    if (!w) return FA_OK;
    if (cpSpaceIsLocked(w->space)) return FA_ERR_STATE;
    w->handler->beginFunc = w->previous.beginFunc;
    w->handler->preSolveFunc = w->previous.preSolveFunc;
    w->handler->postSolveFunc = w->previous.postSolveFunc;
    w->handler->separateFunc = w->previous.separateFunc;
    w->handler->userData = w->previous.userData;
    w->space->usesWildcards = w->had_wildcards;
    fa_heap_free(w->fa, w);
    return FA_OK;
}

int fa_cp_step(fa_cp_world_t *w, cpFloat dt) {
    if (!w || !(dt >= 0) || isinf(dt)) return FA_ERR_INVALID_ARG;
    if (cpSpaceIsLocked(w->space)) return FA_ERR_STATE;
    bool pushed = fa_tag_push_id(w->fa, w->contacts_tag) >= 0;
    /* Room for as many events as the last step had, so that the vector grows
     * rarely, and this step's arbiter -> event map. */
    fa_frame_vec_t *events = frame_events(w);
    size_t before = events->len, expect = w->last_step_events + 16;
    fa_frame_vec_reserve(events, before + expect);
    w->in_step = FA_FRAME_MAP_INIT(&w->of_arbiter, w->fa, uint32_t, expect) == FA_OK;
    cpSpaceStep(w->space, dt);
    w->in_step = false; /* arbiters are only valid for this step */
    w->last_step_events = events->len - before;
    if (pushed) fa_tag_pop(w->fa);
    return FA_OK;
}

fa_cp_contacts_t fa_cp_contacts(fa_cp_world_t *w) {
    if (!w) return (fa_cp_contacts_t){0};
    fa_frame_vec_t *v = frame_events(w);
    return (fa_cp_contacts_t){.items = v->data, .count = v->len, .dropped = w->dropped};
}

/* ---- queries ------------------------------------------------------------------ */

typedef struct query {
    fa_cp_world_t *w;
    fa_frame_vec_t hits;
    cpFloat length;
    int failed;
    bool pushed;
} query_t;

static fa_cp_hit_t *add_hit(query_t *q, cpShape *shape) {
    fa_cp_hit_t *h = FA_FRAME_VEC_PUSH(&q->hits, fa_cp_hit_t);
    if (!h) {
        q->failed = fa_last_error();
        return NULL;
    }
    *h = (fa_cp_hit_t){.shape = shape, .body = cpShapeGetBody(shape)};
    return h;
}

static void on_segment_hit(cpShape *shape, cpVect point, cpVect normal, cpFloat alpha, void *data) {
    query_t *q = data;
    fa_cp_hit_t *h = add_hit(q, shape);
    if (h) *h = (fa_cp_hit_t){h->shape, h->body, point, normal, alpha * q->length, alpha};
}

static void on_point_hit(cpShape *shape, cpVect point, cpFloat distance, cpVect gradient, void *data) {
    fa_cp_hit_t *h = add_hit(data, shape);
    if (h) *h = (fa_cp_hit_t){h->shape, h->body, point, gradient, distance, 0};
}

static void on_box_hit(cpShape *shape, void *data) {
    fa_cp_hit_t *h = add_hit(data, shape);
    if (h) h->point = cpBBCenter(cpShapeGetBB(shape));
}

static int by_distance(const void *a, const void *b) {
    cpFloat x = ((const fa_cp_hit_t *)a)->distance, y = ((const fa_cp_hit_t *)b)->distance;
    return (x > y) - (x < y);
}

static bool finite_vect(cpVect v) {
    return isfinite(v.x) && isfinite(v.y);
}

/* Starts a query: checks the world, pushes the queries tag. */
static int query_begin(fa_cp_world_t *w, query_t *q) {
    if (!w) return FA_ERR_INVALID_ARG;
    *q = (query_t){.w = w};
    int rc = FA_FRAME_VEC_INIT(&q->hits, w->fa, fa_cp_hit_t);
    if (rc == FA_OK) q->pushed = fa_tag_push_id(w->fa, w->queries_tag) >= 0;
    return rc;
}

static int query_end(query_t *q, bool sort, fa_cp_hits_t *out) {
    if (q->pushed) fa_tag_pop(q->w->fa);
    if (q->failed) return q->failed;
    if (sort && q->hits.len > 1) qsort(q->hits.data, q->hits.len, sizeof(fa_cp_hit_t), by_distance);
    *out = (fa_cp_hits_t){.items = q->hits.data, .count = q->hits.len};
    return FA_OK;
}

int fa_cp_segment_query(fa_cp_world_t *w, cpVect a, cpVect b, cpFloat radius, cpShapeFilter filter,
                        fa_cp_hits_t *out) {
    if (!out || !finite_vect(a) || !finite_vect(b) || !(radius >= 0) || isinf(radius))
        return FA_ERR_INVALID_ARG;
    query_t q;
    int rc = query_begin(w, &q);
    if (rc != FA_OK) return rc;
    q.length = cpvdist(a, b);
    cpSpaceSegmentQuery(w->space, a, b, radius, filter, on_segment_hit, &q);
    return query_end(&q, true, out);
}

int fa_cp_point_query(fa_cp_world_t *w, cpVect p, cpFloat max_distance, cpShapeFilter filter,
                      fa_cp_hits_t *out) {
    if (!out || !finite_vect(p) || !(max_distance >= 0) || isinf(max_distance)) return FA_ERR_INVALID_ARG;
    query_t q;
    int rc = query_begin(w, &q);
    if (rc != FA_OK) return rc;
    cpSpacePointQuery(w->space, p, max_distance, filter, on_point_hit, &q);
    return query_end(&q, true, out);
}

int fa_cp_box_query(fa_cp_world_t *w, cpBB bb, cpShapeFilter filter, fa_cp_hits_t *out) {
    if (!out || !isfinite(bb.l) || !isfinite(bb.b) || !isfinite(bb.r) || !isfinite(bb.t) || bb.l > bb.r ||
        bb.b > bb.t)
        return FA_ERR_INVALID_ARG;
    query_t q;
    int rc = query_begin(w, &q);
    if (rc != FA_OK) return rc;
    cpSpaceBBQuery(w->space, bb, filter, on_box_hit, &q);
    return query_end(&q, false, out);
}
