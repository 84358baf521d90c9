/* fa-demo: a game loop that uses framealloc the way an engine would, and
 * streams its memory to fa-insightd through fa-agent.
 *
 * Subsystems run under tags. Physics is Chipmunk2D (demo/physics.c): bodies
 * rain into an arena, collide and die, and every contact event and query
 * hit comes from the engine in frame memory (physics/contacts,
 * physics/queries, physics/broadphase); the hardest hits are promoted to
 * the pool for the sound system. A Lua crowd script runs every frame
 * (scripts/lua, demo/scripts.c); SQLite, cJSON, zlib and FreeType work
 * under their own tags through the adapters (demo/services.c). Entities
 * live in pools, streamed assets on the heap, render/audio/ui use frame
 * memory. Scripted, as options for the tests: a debris spike on a schedule
 * that breaks the physics budget, and an asset cache that leaks until a
 * periodic purge. A worker thread receives the visible set through a
 * transfer handle and meets the main thread at a frame barrier; audio and
 * ui carry two classic mistakes for the behaviour filter to find.
 *
 * For comparisons (fa-cli compare): --deterministic runs on a simulated
 * clock (frame n is at n / fps seconds, no waiting between frames), so that
 * two runs with the same seed, options and build do the same allocations;
 * --scripted-leak BYTES adds a leak of BYTES per frame under ai/pathfinding
 * (a path buffer that is never freed), the regression a CI gate must catch.
 *
 *   fa-demo [--fps N] [--duration S] [--frames N] [--seed N] [--entities N]
 *           [--app NAME] [--build ID] [--url URL] [--spike-every S] [--no-leak]
 *           [--deterministic] [--scripted-leak BYTES] [--no-agent] [--quiet]
 */
#include "demo/demo.h"

#include <fa_agent.h>
#include <framealloc.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct options {
    double fps;
    double duration; /* seconds; 0: until Ctrl-C */
    uint64_t seed;
    int entities;
    const char *app;
    const char *url;
    double spike_every; /* seconds between physics spikes; 0: none */
    int leak;           /* the asset cache leaks until a purge */
    uint64_t frames;    /* stop after this many frames; 0: no limit */
    int deterministic;  /* simulated clock, no pacing */
    size_t scripted_leak; /* bytes leaked per frame under ai/pathfinding */
    const char *build;  /* build id sent in the HELLO */
    int agent;
    int quiet;
} options_t;

typedef struct entity {
    float pos[3], vel[3];
    uint32_t id, kind;
    void *path; /* pool block under ai/pathfinding, or NULL */
    uint32_t path_bytes;
    char pad[36];
} entity_t; /* 96 bytes: a pool class of its own */

typedef struct asset {
    void *data;
    size_t bytes;
    int leaked; /* the "bug": never evicted until the next purge */
} asset_t;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static double rng_unit(uint64_t *s) {
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the worker: receives the visible set, plans paths, meets at the barrier */

typedef struct worker {
    fa_alloc_t *fa;
    fa_barrier_t *handoff; /* main -> worker: a transfer is ready (2 parties) */
    fa_barrier_t *done;    /* worker -> main: frame work done */
    _Atomic uint64_t transfer_id; /* a fa_transfer_t id */
    _Atomic int quit;
    uint64_t planned;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    fa_tag_push(w->fa, "ai/pathfinding");
    for (uint64_t round = 1;; round++) {
        /* Main signals once per handed-off frame, and once more to quit. */
        if (fa_barrier_wait(w->handoff, round, FA_WAIT_FOREVER) != FA_OK || atomic_load(&w->quit)) break;
        fa_begin_frame(w->fa);
        fa_transfer_t h = {atomic_load(&w->transfer_id)};
        size_t size = 0;
        const uint32_t *visible = fa_transfer_receive(w->fa, h, &size);
        if (visible) {
            size_t n = size / sizeof *visible;
            /* Scratch for the planner: frame memory of the worker's own arena. */
            float *open_set = FA_FRAME_ARRAY(w->fa, float, n * 8 + 1);
            for (size_t i = 0; open_set && i < n; i++)
                open_set[i * 8] = (float)visible[i];
            w->planned += n;
            fa_transfer_release(w->fa, h);
        }
        fa_end_frame(w->fa);
        fa_barrier_signal(w->done);
    }
    fa_tag_pop(w->fa);
    return NULL;
}

/* ---- the game --------------------------------------------------------------- */

typedef struct game {
    fa_alloc_t *fa;
    options_t opt;
    demo_physics_t *physics;
    demo_scripts_t *scripts;
    demo_services_t *services;
    uint64_t rng;
    entity_t **entities;
    int entity_count, entity_cap;
    uint32_t next_id;
    asset_t assets[512];
    int asset_count;
    void *persistent_contacts[32]; /* promoted impacts, freed a few frames later */
    int persistent_next;
    uint64_t frame;
} game_t;

static void spawn(game_t *g) {
    if (g->entity_count == g->entity_cap) return;
    entity_t *e = NULL;
    FA_WITH_TAG(g->fa, "entities") {
        e = fa_pool_alloc(g->fa, sizeof *e);
    }
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->id = g->next_id++;
    e->kind = (uint32_t)(rng_next(&g->rng) % 4);
    if (e->kind == 0) {
        FA_TAG_SCOPE(g->fa, "ai/pathfinding");
        e->path_bytes = (uint32_t)(64 + rng_next(&g->rng) % 448);
        e->path = fa_pool_alloc(g->fa, e->path_bytes);
    }
    g->entities[g->entity_count++] = e;
}

static void despawn(game_t *g, int i) {
    entity_t *e = g->entities[i];
    fa_pool_free(g->fa, e->path);
    fa_pool_free(g->fa, e);
    g->entities[i] = g->entities[--g->entity_count];
}

/* Population: around the target, breathing slowly. */
static void simulate_population(game_t *g, double t) {
    int target = (int)(g->opt.entities * (0.85 + 0.15 * sin(t / 7.0)));
    int births = 0, deaths = 0;
    while (g->entity_count < target && births++ < 40)
        spawn(g);
    for (int i = 0; i < g->entity_count && deaths < 20; i++)
        if (rng_unit(&g->rng) < 0.004) despawn(g, i), deaths++;
}

/* The scripted spike: debris pours into the arena for about 1.5 s every
 * spike_every seconds (never in the first 4 s, while the physics budget is
 * being set from the steady state). */
static int spiking(const game_t *g, double t) {
    double period = g->opt.spike_every;
    if (period <= 0 || t < 4.0) return 0;
    return fmod(t, period) >= period - 1.5;
}

static void move_entities(game_t *g) {
    for (int i = 0; i < g->entity_count; i++) {
        entity_t *e = g->entities[i];
        for (int k = 0; k < 3; k++)
            e->pos[k] += e->vel[k] * 0.016f;
    }
}

/* The physics budget follows the scene the engine really produces: 1.5x the
 * highest usage seen between 3 s and 4 s (bodies piled up, no spike yet),
 * so the steady state sits near 2/3 of it and a spike breaks it. */
static void calibrate_physics_budget(game_t *g, double t, uint64_t *highest) {
    if (t < 3.0 || *highest == UINT64_MAX) return;
    if (t < 4.0) {
        static fa_tag_row_t rows[256];
        fa_snapshot_t snap = {.rows = rows, .rows_capacity = 256};
        fa_snapshot_take(g->fa, &snap);
        for (uint32_t i = 0; i < snap.row_count; i++)
            if (!strcmp(rows[i].path, "physics") && rows[i].live_bytes > *highest)
                *highest = rows[i].live_bytes;
        return;
    }
    size_t hard = (size_t)(*highest * 3 / 2);
    fa_budget_set(g->fa, "physics", hard * 7 / 10, hard);
    *highest = UINT64_MAX; /* done */
}

static void render(game_t *g) {
    FA_TAG_SCOPE(g->fa, "render");
    size_t commands = 2000 + (size_t)g->entity_count * 24;
    char *cmd = fa_frame_alloc(g->fa, commands * 16, 64);
    if (cmd) cmd[0] = 1;
    void *out[8];
    (void)!fa_frame_alloc8(g->fa, 256, 64, out); /* per-pass uniforms */
}

static void audio(game_t *g) {
    FA_TAG_SCOPE(g->fa, "audio");
    /* A classic mistake: voice scratch from the pool, freed in the same
     * frame. Frame memory would do (FA_FIND_POOL_SAME_FRAME_FREE). */
    int voices = 16 + (int)(rng_next(&g->rng) % 16);
    for (int i = 0; i < voices; i++) {
        float *mix = fa_pool_alloc(g->fa, 256);
        if (mix) mix[0] = 0.5f;
        fa_pool_free(g->fa, mix);
    }
    float *bus = FA_FRAME_ARRAY(g->fa, float, 2048);
    if (bus) bus[0] = 0;
}

static void ui(game_t *g, double fps) {
    FA_TAG_SCOPE(g->fa, "ui");
    char *line = fa_frame_sprintf(g->fa, "frame %llu  %.0f fps  %d entities", (unsigned long long)g->frame,
                                  fps, g->entity_count);
    /* Another classic mistake: a heap string every frame
     * (FA_FIND_HEAP_IN_HOT_PATH). */
    char *tooltip = fa_heap_alloc(g->fa, 512, 16);
    if (tooltip && line) snprintf(tooltip, 512, "%s", line);
    fa_heap_free(g->fa, tooltip);
}

/* Streaming: assets come and go; one in eight is "forgotten" (the leak)
 * until a purge every 90 s. */
static void streaming(game_t *g, double t) {
    FA_TAG_SCOPE(g->fa, "assets/streaming");
    if (g->frame % 30 == 0 && g->asset_count < 512) {
        size_t bytes = (size_t)(64 * 1024 + rng_next(&g->rng) % (448 * 1024));
        void *data = fa_heap_alloc(g->fa, bytes, 64);
        if (data) {
            memset(data, 0, 4096);
            g->assets[g->asset_count++] = (asset_t){data, bytes, g->opt.leak && rng_next(&g->rng) % 8 == 0};
        }
    }
    /* Evict the oldest non-leaked asset when more than 40 are resident. */
    int resident = 0;
    for (int i = 0; i < g->asset_count; i++)
        resident += !g->assets[i].leaked;
    for (int i = 0; i < g->asset_count && resident > 40; i++) {
        if (g->assets[i].leaked && g->opt.leak) continue;
        fa_heap_free(g->fa, g->assets[i].data);
        g->assets[i] = g->assets[--g->asset_count];
        resident--;
    }
    if (fmod(t, 90.0) < 1.0 / g->opt.fps && t > 1.0) {
        for (int i = 0; i < g->asset_count;) {
            if (g->assets[i].leaked) {
                fa_heap_free(g->fa, g->assets[i].data);
                g->assets[i] = g->assets[--g->asset_count];
            } else {
                i++;
            }
        }
    }
}

/* The scripted regression: a path buffer per frame that nobody frees (kept
 * in a list only so that the demo can release it at exit). */
typedef struct leak_list {
    void **blocks;
    size_t count, cap;
} leak_list_t;

static void scripted_leak(game_t *g, leak_list_t *l) {
    if (!g->opt.scripted_leak) return;
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        void **n = realloc(l->blocks, cap * sizeof *n);
        if (!n) return;
        l->blocks = n;
        l->cap = cap;
    }
    FA_TAG_SCOPE(g->fa, "ai/pathfinding");
    void *p = fa_heap_alloc(g->fa, g->opt.scripted_leak, 16);
    if (p) l->blocks[l->count++] = p;
}

static void free_promoted(game_t *g, const fa_promotion_result_t *r) {
    for (uint32_t i = 0; i < r->count; i++) {
        if (!r->items[i].new_ptr) continue;
        int slot = g->persistent_next++ % 32;
        if (g->persistent_contacts[slot]) fa_pool_free(g->fa, g->persistent_contacts[slot]);
        g->persistent_contacts[slot] = r->items[i].new_ptr;
    }
}

static void usage(FILE *f) {
    fprintf(f, "usage: fa-demo [--fps N] [--duration S] [--frames N] [--seed N] [--entities N] [--app NAME]\n"
               "               [--build ID] [--url URL] [--spike-every S] [--no-leak] [--deterministic]\n"
               "               [--scripted-leak BYTES] [--no-agent] [--quiet]\n"
               "A game loop that streams its memory to fa-insightd (default tcp://127.0.0.1:7879).\n"
               "  --fps N          frames per second (default 60, 1..1000)\n"
               "  --duration S     run for S seconds, then stop (default: until Ctrl-C)\n"
               "  --frames N       stop after N frames (default: no limit)\n"
               "  --seed N         random seed (default 1)\n"
               "  --entities N     population target (default 2000, 10..200000)\n"
               "  --app NAME       application name shown by the daemon (default fa-demo)\n"
               "  --build ID       build id sent to the daemon (default the library version)\n"
               "  --url URL        daemon ingest URL (default $FA_INSIGHT_URL or tcp://127.0.0.1:7879);\n"
               "                   file:PATH writes a capture file instead (fa-cli compare reads it)\n"
               "  --deterministic  simulated clock (frame n at n/fps s) and no waiting: the same seed\n"
               "                   and options give the same allocations, run after run\n"
               "  --scripted-leak BYTES  leak BYTES per frame under ai/pathfinding (a regression)\n"
               "  --spike-every S  seconds between debris spikes that break the physics budget\n"
               "                   (default 20; 0: no spikes)\n"
               "  --no-leak        the asset cache does not leak (it does by default, until a purge)\n"
               "  --no-agent       run without telemetry (to measure the agent's cost)\n"
               "  --quiet          no status line, only the final counts\n"
               "Example: fa-demo --fps 60 --duration 30 --app level-1\n"
               "         fa-demo --deterministic --frames 600 --url file:run.facap --quiet\n");
}

static int parse_number(const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "fa-demo: %s expects a number from %g to %g, got '%s'\n", flag, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options_t *o) {
    *o = (options_t){
        .fps = 60, .seed = 1, .entities = 2000, .app = "fa-demo", .spike_every = 20, .leak = 1, .agent = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        double v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--no-agent")) {
            o->agent = 0;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--no-leak")) {
            o->leak = 0;
        } else if (!strcmp(a, "--deterministic")) {
            o->deterministic = 1;
        } else if (i + 1 < argc && (!strcmp(a, "--fps") || !strcmp(a, "--duration") || !strcmp(a, "--seed") ||
                                    !strcmp(a, "--entities") || !strcmp(a, "--spike-every") ||
                                    !strcmp(a, "--frames") || !strcmp(a, "--scripted-leak"))) {
            const char *val = argv[++i];
            if (!strcmp(a, "--fps") && parse_number(a, val, 1, 1000, &o->fps)) return -1;
            if (!strcmp(a, "--duration") && parse_number(a, val, 0, 1e7, &o->duration)) return -1;
            if (!strcmp(a, "--spike-every") && (parse_number(a, val, 0, 3600, &o->spike_every) ||
                                                (o->spike_every > 0 && o->spike_every < 3))) {
                if (o->spike_every > 0 && o->spike_every < 3)
                    fprintf(stderr, "fa-demo: --spike-every expects 0 (no spikes) or 3 to 3600, got '%s'\n",
                            val);
                return -1;
            }
            if (!strcmp(a, "--seed")) {
                if (parse_number(a, val, 1, 9e15, &v)) return -1;
                o->seed = (uint64_t)v;
            }
            if (!strcmp(a, "--entities")) {
                if (parse_number(a, val, 10, 200000, &v)) return -1;
                o->entities = (int)v;
            }
            if (!strcmp(a, "--frames")) {
                if (parse_number(a, val, 1, 1e12, &v)) return -1;
                o->frames = (uint64_t)v;
            }
            if (!strcmp(a, "--scripted-leak")) {
                if (parse_number(a, val, 1, 1 << 24, &v)) return -1;
                o->scripted_leak = (size_t)v;
            }
        } else if (i + 1 < argc && !strcmp(a, "--app")) {
            o->app = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--url")) {
            o->url = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--build")) {
            o->build = argv[++i];
        } else {
            fprintf(stderr, "fa-demo: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    options_t opt;
    if (parse_args(argc, argv, &opt) != 0) return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    fa_alloc_t *fa =
        fa_create(&(fa_config_t){.frame_chunk_bytes = 512 * 1024, .behaviour = FA_BEHAVIOUR_DEFAULT});
    if (!fa) {
        fprintf(stderr, "fa-demo: fa_create failed: %s\n", fa_strerror(fa_last_error()));
        return 1;
    }
    /* Budgets: physics gets its own from the steady state at 4 s (it then
     * sits near 2/3 of it and breaks it during spikes); the asset cache
     * climbs with its leak; the rest stays comfortable. */
    fa_budget_set(fa, "scripts", 4u << 20, 16u << 20);
    fa_budget_set(fa, "render", 0, (2000 + (size_t)opt.entities * 24) * 16 * 2);
    fa_budget_set(fa, "audio", 0, 256 * 1024);
    fa_budget_set(fa, "ai", 0, (size_t)opt.entities * 256);
    fa_budget_set(fa, "assets/streaming", 24u << 20, 40u << 20);
    fa_budget_set(fa, "ui", 0, 64 * 1024);

    /* The adapters' hooks are process-wide: the services install them before
     * anything else (the agent included) touches SQLite or cJSON. */
    game_t g = {
        .fa = fa, .opt = opt, .rng = opt.seed * 0x9E3779B97F4A7C15u | 1, .entity_cap = opt.entities * 2};
    g.services = demo_services_create(fa);
    int bodies = opt.entities / 8 < 20 ? 20 : opt.entities / 8 > 400 ? 400 : opt.entities / 8;
    g.physics = demo_physics_create(fa, bodies, opt.seed);
    g.scripts = demo_scripts_create(fa, opt.entities / 10 < 10 ? 10 : opt.entities / 10);
    if (!g.physics) {
        fprintf(stderr, "fa-demo: cannot create the physics world\n");
        return 1;
    }

    fa_agent_t *agent = NULL;
    if (opt.agent) {
        fa_agent_desc_t desc = {
            .url = opt.url, .app_name = opt.app, .session_label = "demo",
            .build_id = opt.build ? opt.build : FA_VERSION_STRING};
        int rc = fa_agent_start(fa, &desc, &agent);
        if (rc != FA_OK) fprintf(stderr, "fa-demo: telemetry off: %s\n", fa_strerror(rc));
    }

    g.entities = calloc((size_t)g.entity_cap, sizeof *g.entities);
    fa_barrier_t handoff, done;
    fa_barrier_init(&handoff, 1);
    fa_barrier_init(&done, 1);
    worker_t w = {.fa = fa, .handoff = &handoff, .done = &done};
    pthread_t worker;
    pthread_create(&worker, NULL, worker_main, &w);

    uint64_t period = (uint64_t)(1e9 / opt.fps), start = now_ns(), next = start, work_total = 0,
             last_print = start;
    uint64_t handoffs = 0, frames_at_print = 0, physics_highest = 0;
    double fps_seen = opt.fps;
    leak_list_t leaked = {0};
    while (!stop_requested) {
        uint64_t frame_start = now_ns();
        /* The deterministic clock: frame n is at n / fps. */
        double t = opt.deterministic ? (double)g.frame / opt.fps : (double)(frame_start - start) / 1e9;
        if (opt.duration > 0 && t >= opt.duration) break;
        if (opt.frames && g.frame >= opt.frames) break;
        fa_begin_frame(fa);
        simulate_population(&g, t);
        move_entities(&g);
        demo_physics_frame(g.physics, spiking(&g, t));
        demo_physics_stats_t physics_now = demo_physics_stats(g.physics);
        if (g.scripts) demo_scripts_frame(g.scripts, g.frame, physics_now.contacts);
        if (g.services)
            demo_services_frame(g.services, g.frame, fps_seen, &physics_now,
                                g.scripts ? demo_scripts_bytes(g.scripts) : 0);
        /* Hand the visible set to the worker through a transfer. */
        size_t visible_n = (size_t)g.entity_count / 4 + 1;
        uint32_t *visible = FA_FRAME_ARRAY(fa, uint32_t, visible_n);
        for (size_t i = 0; visible && i < visible_n; i++)
            visible[i] = (uint32_t)i * 4;
        fa_transfer_t h =
            visible ? fa_transfer_from_frame(fa, visible, visible_n * sizeof *visible) : (fa_transfer_t){0};
        int sent = h.id && fa_transfer_send(fa, h) == FA_OK;
        if (sent) {
            atomic_store(&w.transfer_id, h.id);
            fa_barrier_signal(&handoff);
        }
#ifdef FA_DEMO_SEED_LINT
        /* A mistake seeded on purpose (make build/fa-demo-seeded, FA_DEMO_SEED_LINT): a heap scratch
         * buffer every frame, which fa-lint reports as FA602 and the call sites show at this line. */
        void *seeded_scratch = fa_heap_alloc(fa, 256 * 1024, 16);
        if (seeded_scratch) memset(seeded_scratch, 0, 256 * 1024);
        fa_heap_free(fa, seeded_scratch);
#endif
        render(&g);
        audio(&g);
        /* The three heap-in-frame patterns below are the demo's on purpose: the behaviour filter shows
         * them on the dashboard. */
        ui(&g, fps_seen);            /* fa-lint: allow(FA602) a heap string per frame, on purpose */
        streaming(&g, t);            /* fa-lint: allow(FA602) asset loads in the loop, on purpose */
        scripted_leak(&g, &leaked);  /* fa-lint: allow(FA602) the scripted leak, on purpose */
        /* The worker's frame work must be done before the frame ends. */
        if (sent && fa_barrier_wait(&done, ++handoffs, 1000000000ull) != FA_OK)
            fprintf(stderr, "fa-demo: the worker missed frame %llu\n", (unsigned long long)g.frame);
        calibrate_physics_budget(&g, t, &physics_highest);
        fa_promotion_result_t promoted;
        fa_end_frame_with_promotions(fa, &promoted);
        free_promoted(&g, &promoted);
        uint64_t frame_end = now_ns();
        work_total += frame_end - frame_start;
        g.frame++;
        if (frame_end - last_print > 1000000000u) {
            /* Measured, except on the deterministic clock (it reaches the
             * UI text and the services' statistics). */
            if (!opt.deterministic)
                fps_seen = (double)(g.frame - frames_at_print) * 1e9 / (double)(frame_end - last_print);
            frames_at_print = g.frame;
            last_print = frame_end;
        }
        if (!opt.quiet && last_print == frame_end) {
            fa_agent_stats_t st = {0};
            if (agent) fa_agent_stats(agent, &st);
            printf("\rfa-demo: frame %llu, %d entities, %d assets, sent %llu, dropped %llu, %s   ",
                   (unsigned long long)g.frame, g.entity_count, g.asset_count,
                   (unsigned long long)st.frames_sent, (unsigned long long)st.frames_dropped,
                   agent ? (st.connected ? "connected" : "waiting for fa-insightd") : "no agent");
            fflush(stdout);
        }
        next += period;
        uint64_t now = now_ns();
        if (opt.deterministic) {
            /* No waiting, as fast as the machine goes, but never faster
             * than the agent's sender: a frame dropped for a full ring
             * would make two runs differ. */
            next = now;
            for (int k = 0; agent && k < 1000; k++) {
                fa_agent_stats_t st;
                fa_agent_stats(agent, &st);
                if (st.ring_used < st.ring_capacity / 2) break;
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        } else if (next > now) {
            struct timespec ts = {.tv_sec = (time_t)(next / 1000000000u),
                                  .tv_nsec = (long)(next % 1000000000u)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop_requested) {
            }
        } else {
            next = now; /* fell behind: do not try to catch up */
        }
    }

    atomic_store(&w.quit, 1);
    fa_barrier_signal(&handoff);
    pthread_join(worker, NULL);
    fa_agent_stats_t st = {0};
    int stop_rc = agent ? fa_agent_stop(agent, &st) : FA_OK;
    if (!opt.quiet) printf("\n");
    /* One machine-readable line for tests and benchmarks. contacts and
     * begins are the engine's contact events, hits its query hits. */
    demo_physics_stats_t ps = demo_physics_stats(g.physics);
    printf("fa-demo: frames=%llu sent=%llu dropped=%llu wire_bytes=%llu messages=%llu work_ns_avg=%llu planned=%llu "
           "stop=%s contacts=%llu begins=%llu hits=%llu bodies=%d lua_bytes=%zu\n",
           (unsigned long long)g.frame, (unsigned long long)st.frames_sent,
           (unsigned long long)st.frames_dropped, (unsigned long long)st.bytes_sent,
           (unsigned long long)st.messages_sent, (unsigned long long)(g.frame ? work_total / g.frame : 0),
           (unsigned long long)w.planned, fa_err_name(stop_rc), (unsigned long long)ps.contacts,
           (unsigned long long)ps.begins, (unsigned long long)ps.hits, ps.bodies,
           g.scripts ? demo_scripts_bytes(g.scripts) : 0);
    demo_physics_destroy(g.physics);
    demo_scripts_destroy(g.scripts);
    demo_services_destroy(g.services);
    for (int i = 0; i < g.entity_count; i++) {
        fa_pool_free(fa, g.entities[i]->path);
        fa_pool_free(fa, g.entities[i]);
    }
    for (int i = 0; i < g.asset_count; i++)
        fa_heap_free(fa, g.assets[i].data);
    for (size_t i = 0; i < leaked.count; i++)
        fa_heap_free(fa, leaked.blocks[i]);
    free(leaked.blocks);
    for (int i = 0; i < 32; i++)
        fa_pool_free(fa, g.persistent_contacts[i]);
    free(g.entities);
    fa_barrier_fini(&handoff);
    fa_barrier_fini(&done);
    fa_destroy(fa);
    return 0;
}
