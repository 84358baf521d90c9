/* bench_integrations.c — what the integrations cost and save, on real
 * libraries, same run, medians of interleaved rounds:
 *
 *   contacts: a 500-body Chipmunk2D pile and a 500-body ODE pile. Each step's
 *     contacts (shapes, bodies, point, normal, depth; impulse for Chipmunk)
 *     are gathered from the engine's own callback into
 *       frame     a growable frame vector (fa_frame_vec), released by fa_end_frame
 *       vector    a malloc'd growable array (realloc doubling), freed after the step
 *       per-malloc  one malloc per contact (a linked list), freed after the step
 *       none      computed but not stored: the floor
 *     "step" rows time whole engine steps (the engine dominates); "collect"
 *     rows replay one real step's contacts into each container many times
 *     (the storage alone). Ratios are malloc strategy / frame.
 *   integration: fa_cp_step / fa_ode_step (events, impulses, begin/persist/
 *     separate) against the bare engine step.
 *   lua: a table-heavy script on a state from luaL_newstate (Lua's default
 *     realloc/free allocator) and from fa_lua_newstate (framealloc heap
 *     blocks under a tag). Ratio of run times.
 *
 * Which malloc the "vector" and "per-malloc" strategies use is the binary's:
 * bench-integ-glibc, bench-integ-mimalloc (linked against mimalloc).
 *
 * Usage: bench-integ-<malloc> [--rounds N] [--quick]
 */
#define _GNU_SOURCE /* dladdr */
#include <fa_chipmunk.h>
#include <fa_frame_vec.h>
#include <fa_lua.h>
#include <fa_ode.h>

#include <dlfcn.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODIES 500
#define BLOCK 10 /* steps per block in the integration rows */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double median(uint64_t *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_u64);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* ---- the containers ----------------------------------------------------------- */

/* What every strategy stores per contact (the size of fa_cp_contact_t). */
typedef struct contact {
    void *shape_a, *shape_b, *body_a, *body_b;
    double point[3], normal[3], impulse[3], depth;
    int count, phase;
} contact_t;

enum { S_FRAME, S_VECTOR, S_MALLOC, S_NONE, S_COUNT };

typedef struct node {
    struct node *next;
    contact_t c;
} node_t;

typedef struct collector {
    int strategy;
    fa_alloc_t *fa;
    fa_frame_vec_t frame;
    contact_t *vec;
    size_t vec_len, vec_cap;
    node_t *list;
    size_t count;
    double sink;
} collector_t;

static void collect_begin(collector_t *k) {
    k->count = 0;
    if (k->strategy == S_FRAME) {
        fa_begin_frame(k->fa);
        FA_FRAME_VEC_INIT(&k->frame, k->fa, contact_t);
    }
}

static void collect(collector_t *k, const contact_t *c) {
    k->count++;
    switch (k->strategy) {
    case S_FRAME: {
        contact_t *d = FA_FRAME_VEC_PUSH(&k->frame, contact_t);
        if (d) *d = *c;
        break;
    }
    case S_VECTOR:
        if (k->vec_len == k->vec_cap) {
            size_t cap = k->vec_cap ? k->vec_cap * 2 : 16;
            contact_t *grown = realloc(k->vec, cap * sizeof *grown);
            if (!grown) return;
            k->vec = grown, k->vec_cap = cap;
        }
        k->vec[k->vec_len++] = *c;
        break;
    case S_MALLOC: {
        node_t *n = malloc(sizeof *n);
        if (!n) return;
        n->c = *c;
        n->next = k->list;
        k->list = n;
        break;
    }
    default:
        k->sink += c->depth;
    }
}

/* Reads what was gathered (as a game would), then releases it. */
static void collect_end(collector_t *k) {
    double sum = 0;
    switch (k->strategy) {
    case S_FRAME:
        for (size_t i = 0; i < k->frame.len; i++)
            sum += FA_FRAME_VEC_AT(&k->frame, contact_t, i).depth;
        fa_end_frame(k->fa);
        break;
    case S_VECTOR:
        for (size_t i = 0; i < k->vec_len; i++)
            sum += k->vec[i].depth;
        free(k->vec);
        k->vec = NULL, k->vec_len = k->vec_cap = 0;
        break;
    case S_MALLOC:
        while (k->list) {
            node_t *n = k->list;
            sum += n->c.depth;
            k->list = n->next;
            free(n);
        }
        break;
    }
    k->sink += sum;
}

/* ---- Chipmunk2D ---------------------------------------------------------------- */

static void cp_no_post_solve(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    (void)arb, (void)space, (void)data;
}

static void cp_post_solve(cpArbiter *arb, cpSpace *space, cpDataPointer data) {
    (void)space;
    collector_t *k = data;
    contact_t c = {.phase = cpArbiterIsFirstContact(arb) ? 1 : 2};
    cpArbiterGetShapes(arb, (cpShape **)&c.shape_a, (cpShape **)&c.shape_b);
    cpArbiterGetBodies(arb, (cpBody **)&c.body_a, (cpBody **)&c.body_b);
    cpContactPointSet set = cpArbiterGetContactPointSet(arb);
    c.count = set.count;
    c.normal[0] = set.normal.x, c.normal[1] = set.normal.y;
    for (int i = 0; i < set.count; i++)
        if (-set.points[i].distance > c.depth) {
            c.depth = -set.points[i].distance;
            c.point[0] = set.points[i].pointA.x, c.point[1] = set.points[i].pointA.y;
        }
    cpVect j = cpArbiterTotalImpulse(arb);
    c.impulse[0] = j.x, c.impulse[1] = j.y;
    collect(k, &c);
}

/* 500 boxes and circles poured into a 30-unit-wide bin, settled. Every
 * shape and body is kept here for the cleanup. */
static cpShape *cp_shapes[BODIES + 3];
static cpBody *cp_bodies[BODIES];

static cpSpace *cp_scene(void) {
    cpSpace *space = fa_cp_space_new();
    cpSpaceAddDefaultCollisionHandler(space)->postSolveFunc = cp_no_post_solve; /* before any arbiter */
    cpSpaceSetGravity(space, cpv(0, -10));
    cpSpaceSetIterations(space, 10);
    cpBody *ground = cpSpaceGetStaticBody(space);
    cpVect wall[4] = {cpv(-15, 60), cpv(-15, 0), cpv(15, 0), cpv(15, 60)};
    for (int i = 0; i < 3; i++) {
        cp_shapes[BODIES + i] = cpSpaceAddShape(space, cpSegmentShapeNew(ground, wall[i], wall[i + 1], 0.5));
        cpShapeSetFriction(cp_shapes[BODIES + i], 0.8);
    }
    for (int i = 0; i < BODIES; i++) {
        cpBody *b;
        cpShape *s;
        if (i % 2) {
            b = cpSpaceAddBody(space, cpBodyNew(1, cpMomentForBox(1, 1, 1)));
            s = cpBoxShapeNew(b, 1, 1, 0.02);
        } else {
            b = cpSpaceAddBody(space, cpBodyNew(1, cpMomentForCircle(1, 0, 0.5, cpvzero)));
            s = cpCircleShapeNew(b, 0.5, cpvzero);
        }
        cpBodySetPosition(b, cpv(-13 + (i % 25) * 1.08 + rnd() * 0.05, 1 + (i / 25) * 1.1));
        cpShapeSetFriction(cpSpaceAddShape(space, s), 0.8);
        cp_bodies[i] = b;
        cp_shapes[i] = s;
    }
    for (int i = 0; i < 240; i++)
        cpSpaceStep(space, 1.0 / 60);
    return space;
}

static void cp_scene_free(cpSpace *space) {
    for (int i = 0; i < BODIES + 3; i++) {
        cpSpaceRemoveShape(space, cp_shapes[i]);
        cpShapeFree(cp_shapes[i]);
    }
    for (int i = 0; i < BODIES; i++) {
        cpSpaceRemoveBody(space, cp_bodies[i]);
        cpBodyFree(cp_bodies[i]);
    }
    cpSpaceFree(space);
}

/* ---- ODE ------------------------------------------------------------------------ */

typedef struct ode_scene {
    dWorldID world;
    dSpaceID space;
    dJointGroupID group;
    collector_t *k;
    dContactGeom scratch[8];
} ode_scene_t;

static void ode_near(void *data, dGeomID o1, dGeomID o2) {
    ode_scene_t *s = data;
    dBodyID b1 = dGeomGetBody(o1), b2 = dGeomGetBody(o2);
    if (!b1 && !b2) return;
    int n = dCollide(o1, o2, 8, s->scratch, sizeof(dContactGeom));
    if (n <= 0) return;
    contact_t c = {.shape_a = o1, .shape_b = o2, .body_a = b1, .body_b = b2, .count = n};
    for (int i = 0; i < n; i++) {
        dContact contact = {
            .surface = {.mode = dContactSoftCFM | dContactApprox1, .mu = 0.8, .soft_cfm = 1e-4},
            .geom = s->scratch[i]};
        dJointAttach(dJointCreateContact(s->world, s->group, &contact), b1, b2);
        if (s->scratch[i].depth > c.depth) {
            c.depth = s->scratch[i].depth;
            memcpy(c.point, s->scratch[i].pos, sizeof c.point);
            memcpy(c.normal, s->scratch[i].normal, sizeof c.normal);
        }
    }
    if (s->k) collect(s->k, &c);
}

static void ode_scene_init(ode_scene_t *s) {
    *s = (ode_scene_t){.world = dWorldCreate(), .space = dHashSpaceCreate(0), .group = dJointGroupCreate(0)};
    dWorldSetGravity(s->world, 0, 0, -9.81);
    dWorldSetQuickStepNumIterations(s->world, 10);
    dCreatePlane(s->space, 0, 0, 1, 0);
    for (int i = 0; i < BODIES; i++) {
        dBodyID b = dBodyCreate(s->world);
        dMass m;
        dGeomID g;
        if (i % 2) {
            dMassSetBoxTotal(&m, 1, 1, 1, 1);
            g = dCreateBox(s->space, 1, 1, 1);
        } else {
            dMassSetSphereTotal(&m, 1, 0.5);
            g = dCreateSphere(s->space, 0.5);
        }
        dBodySetMass(b, &m);
        dGeomSetBody(g, b);
        dBodySetPosition(b, (i % 10) * 1.05 + rnd() * 0.05, (i / 10 % 10) * 1.05, 0.5 + (i / 100) * 1.05);
    }
    for (int i = 0; i < 120; i++) {
        dSpaceCollide(s->space, s, ode_near);
        dWorldQuickStep(s->world, 1.0 / 60);
        dJointGroupEmpty(s->group);
    }
}

static void ode_raw_step(ode_scene_t *s) {
    dSpaceCollide(s->space, s, ode_near);
    dWorldQuickStep(s->world, 1.0 / 60);
    dJointGroupEmpty(s->group);
}

static void ode_scene_free(ode_scene_t *s) {
    dJointGroupDestroy(s->group);
    dSpaceDestroy(s->space);
    dWorldDestroy(s->world);
}

/* ---- measurements ------------------------------------------------------------------ */

typedef struct result {
    double ns[S_COUNT];
    size_t contacts;
} result_t;

static void print_strategies(const char *what, const char *unit, const result_t *r) {
    printf("%-26s %10.0f %10.0f %10.0f %10.0f %9.2fx %9.2fx   (%zu contacts)\n", what, r->ns[S_FRAME],
           r->ns[S_VECTOR], r->ns[S_MALLOC], r->ns[S_NONE], r->ns[S_VECTOR] / r->ns[S_FRAME],
           r->ns[S_MALLOC] / r->ns[S_FRAME], r->contacts);
    (void)unit;
}

/* Steps the engine round-robin over the strategies; median ns per step. */
static result_t engine_steps(void (*step)(void *, collector_t *), void *scene, fa_alloc_t *fa, int rounds) {
    uint64_t *t[S_COUNT];
    result_t r = {0};
    collector_t k = {.fa = fa};
    for (int s = 0; s < S_COUNT; s++)
        t[s] = calloc((size_t)rounds, sizeof(uint64_t));
    for (int i = 0; i < rounds; i++)
        for (int s = 0; s < S_COUNT; s++) {
            k.strategy = (s + i) % S_COUNT; /* rotate the order too */
            collect_begin(&k);
            uint64_t t0 = now_ns();
            step(scene, &k);
            collect_end(&k);
            t[k.strategy][i] = now_ns() - t0;
            r.contacts = k.count;
        }
    for (int s = 0; s < S_COUNT; s++) {
        r.ns[s] = median(t[s], rounds);
        free(t[s]);
    }
    return r;
}

/* Gathers one real step's contacts into src, then replays them into each
 * container; median ns per step's worth of contacts. */
static result_t replay(const contact_t *src, size_t n, fa_alloc_t *fa, int rounds) {
    enum { REPEAT = 20 };
    uint64_t *t[S_COUNT];
    result_t r = {.contacts = n};
    collector_t k = {.fa = fa};
    for (int s = 0; s < S_COUNT; s++)
        t[s] = calloc((size_t)rounds, sizeof(uint64_t));
    for (int i = 0; i < rounds; i++)
        for (int s = 0; s < S_COUNT; s++) {
            k.strategy = (s + i) % S_COUNT;
            uint64_t t0 = now_ns();
            for (int rep = 0; rep < REPEAT; rep++) {
                collect_begin(&k);
                for (size_t c = 0; c < n; c++)
                    collect(&k, &src[c]);
                collect_end(&k);
            }
            t[k.strategy][i] = (now_ns() - t0) / REPEAT;
        }
    for (int s = 0; s < S_COUNT; s++) {
        r.ns[s] = median(t[s], rounds);
        free(t[s]);
    }
    return r;
}

static void cp_step(void *space, collector_t *k) {
    cpCollisionHandler *h = cpSpaceAddDefaultCollisionHandler(space);
    h->postSolveFunc = cp_post_solve;
    h->userData = k;
    cpSpaceStep(space, 1.0 / 60);
}

static void ode_step(void *scene, collector_t *k) {
    ode_scene_t *s = scene;
    s->k = k;
    ode_raw_step(s);
}

/* A step's contacts captured into a plain array (the replay's source). */
static contact_t *capture(void (*step)(void *, collector_t *), void *scene, fa_alloc_t *fa, size_t *n) {
    collector_t k = {.fa = fa, .strategy = S_VECTOR};
    collect_begin(&k);
    step(scene, &k);
    *n = k.vec_len;
    return k.vec; /* the caller frees it */
}

/* An integration's step against the bare engine step, in alternating blocks
 * of steps (a world attached afresh sizes its containers at its first step:
 * that step is not timed). */
typedef struct integration {
    const char *step_name, *bare_name;
    void *(*attach)(fa_alloc_t *fa, void *scene);
    void (*step)(void *world);
    size_t (*events)(void *world);
    void (*detach)(void *world);
    void (*bare_step)(void *scene);
} integration_t;

static void integration_vs_bare(const char *what, const integration_t *in, void *scene, fa_alloc_t *fa,
                                int rounds) {
    uint64_t *bare = calloc((size_t)rounds, sizeof *bare), *integ = calloc((size_t)rounds, sizeof *integ);
    size_t events = 0;
    for (int i = 0; i < rounds; i += BLOCK) {
        void *w = in->attach(fa, scene);
        for (int j = -1; j < BLOCK && i + j < rounds; j++) {
            fa_begin_frame(fa);
            uint64_t t0 = now_ns();
            in->step(w);
            if (j >= 0) integ[i + j] = now_ns() - t0;
            events = in->events(w);
            fa_end_frame(fa);
        }
        in->detach(w);
        for (int j = 0; j < BLOCK && i + j < rounds; j++) {
            uint64_t t0 = now_ns();
            in->bare_step(scene);
            bare[i + j] = now_ns() - t0;
        }
    }
    double b = median(bare, rounds), s = median(integ, rounds);
    printf("%-26s %s %.0f ns, %s %.0f ns: %.3fx (%zu events)\n", what, in->step_name, s, in->bare_name, b,
           s / b, events);
    free(bare);
    free(integ);
}

static void *cp_attach(fa_alloc_t *fa, void *space) {
    /* The integration chains to the handler in force: not a collector's. */
    cpSpaceAddDefaultCollisionHandler(space)->postSolveFunc = cp_no_post_solve;
    fa_cp_world_t *w = NULL;
    fa_cp_attach(fa, space, NULL, &w);
    return w;
}
static void cp_integ_step(void *w) {
    fa_cp_step(w, 1.0 / 60);
}
static size_t cp_events(void *w) {
    return fa_cp_contacts(w).count;
}
static void cp_detach(void *w) {
    fa_cp_detach(w);
}
static void cp_bare_step(void *space) {
    cpSpaceStep(space, 1.0 / 60);
}
static const integration_t cp_integration = {"fa_cp_step", "cpSpaceStep", cp_attach,   cp_integ_step,
                                             cp_events,    cp_detach,     cp_bare_step};

static void *ode_attach(fa_alloc_t *fa, void *scene) {
    ode_scene_t *s = scene;
    fa_ode_world_t *w = NULL;
    fa_ode_attach(fa, s->world, s->space, NULL, &w);
    return w;
}
static void ode_integ_step(void *w) {
    fa_ode_step(w, 1.0 / 60);
}
static size_t ode_events(void *w) {
    return fa_ode_contacts(w).count;
}
static void ode_detach(void *w) {
    fa_ode_detach(w);
}
static void ode_bare_step(void *scene) {
    ((ode_scene_t *)scene)->k = NULL;
    ode_raw_step(scene);
}
static const integration_t ode_integration = {"fa_ode_step", "raw step", ode_attach,   ode_integ_step,
                                              ode_events,    ode_detach, ode_bare_step};

static double lua_run(lua_State *L, const char *script) {
    uint64_t t0 = now_ns();
    if (luaL_dostring(L, script) != LUA_OK) {
        fprintf(stderr, "bench: lua: %s\n", lua_tostring(L, -1));
        exit(2);
    }
    return (double)(now_ns() - t0);
}

static const char *LUA_SCRIPT =
    "local total = 0\n"
    "for round = 1, 12 do\n"
    "  local t = {}\n"
    "  for i = 1, 20000 do t[i] = {x = i, y = i * 2, name = 'n' .. (i % 500), tags = {i, i + 1}} end\n"
    "  local index = {}\n"
    "  for i = 1, #t, 3 do index[t[i].name .. i] = t[i] end\n"
    "  for _, v in pairs(index) do total = total + v.x end\n"
    "end\n"
    "return total\n";

static const char *malloc_lib(void) {
    Dl_info info;
    void *fn = dlsym(RTLD_DEFAULT, "malloc");
    return fn && dladdr(fn, &info) && info.dli_fname ? info.dli_fname : "?";
}

int main(int argc, char **argv) {
    int rounds = 31, lua_rounds = 7;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--quick")) {
            rounds = 5, lua_rounds = 3;
        } else {
            fprintf(stderr, "usage: %s [--rounds N] [--quick]\n", argv[0]);
            return 2;
        }
    }
    if (rounds < 3) rounds = 3;
    fa_alloc_t *fa = fa_create(&(fa_config_t){.frame_chunk_bytes = 4u << 20});
    printf("malloc_lib=%s\n", malloc_lib());
    printf("%-26s %10s %10s %10s %10s %10s %10s\n", "ns (median)", "frame", "vector", "per-malloc", "none",
           "vector/fr", "malloc/fr");

    /* Chipmunk2D. */
    cpSpace *space = cp_scene();
    result_t r = engine_steps(cp_step, space, fa, rounds);
    print_strategies("chipmunk 500: step", "ns", &r);
    size_t n;
    contact_t *src = capture(cp_step, space, fa, &n);
    r = replay(src, n, fa, rounds);
    print_strategies("chipmunk 500: collect", "ns", &r);
    free(src);
    integration_vs_bare("chipmunk 500: integration", &cp_integration, space, fa, rounds);
    cp_scene_free(space);

    /* ODE. */
    dInitODE2(0);
    dAllocateODEDataForThread(dAllocateMaskAll);
    ode_scene_t os;
    ode_scene_init(&os);
    r = engine_steps(ode_step, &os, fa, rounds);
    print_strategies("ode 500: step", "ns", &r);
    src = capture(ode_step, &os, fa, &n);
    r = replay(src, n, fa, rounds);
    print_strategies("ode 500: collect", "ns", &r);
    free(src);
    integration_vs_bare("ode 500: integration", &ode_integration, &os, fa, rounds);
    ode_scene_free(&os);
    dCloseODE();

    /* Lua. */
    uint64_t *def = calloc((size_t)lua_rounds, sizeof *def),
             *viafa = calloc((size_t)lua_rounds, sizeof *viafa);
    fa_lua_t scripts;
    fa_lua_init(&scripts, fa, "scripts/lua");
    for (int i = 0; i < lua_rounds; i++) {
        lua_State *L = luaL_newstate();
        luaL_openlibs(L);
        def[i] = (uint64_t)lua_run(L, LUA_SCRIPT);
        lua_close(L);
        L = fa_lua_newstate(&scripts);
        luaL_openlibs(L);
        viafa[i] = (uint64_t)lua_run(L, LUA_SCRIPT);
        lua_close(L);
    }
    double lua_def = median(def, lua_rounds), lua_fa = median(viafa, lua_rounds);
    printf("%-26s default %.1f ms, fa_lua %.1f ms: fa_lua/default %.3fx\n", "lua tables", lua_def / 1e6,
           lua_fa / 1e6, lua_fa / lua_def);
    free(def);
    free(viafa);
    fa_destroy(fa);
    return 0;
}
