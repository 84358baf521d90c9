/*
 * feeder.c — a small game loop that feeds a real fa-insightd through a real
 * agent, for the dashboard's browser tests (tests/web/run.mjs) and for a
 * human who wants to see the page move.
 *
 * What it does, frame by frame (default 60 fps):
 *   - physics (budget 4 MiB hard, 3 MiB soft) with a child physics/contacts
 *     (budget 1.5 MiB): frame scratch plus pool blocks kept across frames;
 *   - render (budget 8 MiB): frame scratch and a heap block allocated and
 *     freed in every frame (the behaviour filter reports it, code 4);
 *   - audio, ai/pathfinding, ai/perception: smaller, slowly waving figures;
 *   - --extra-tags N more tags under assets/ (groups of 20), each holding a
 *     few pool blocks that come and go, some with budgets; one tag name
 *     carries markup characters so the page's escaping is exercised, and
 *     a call site with markup in its file and function names allocates
 *     640 B of frame memory under it every frame;
 *   - from --breach-at seconds, physics/contacts grows until physics is at
 *     about 120 % of its budget (passing 80 % on the way), holds it for
 *     --breach-hold seconds, then lets go (the alerts clear); with
 *     --breach-period P the cycle repeats every P seconds. audio waves
 *     through 80 % of its budget every 20 s or so.
 *
 * It prints "feeder: session <16 hex digits>" once the agent runs, and
 * stops cleanly (agent flush + BYE) on SIGINT/SIGTERM or after --seconds.
 *
 *   feeder [--url tcp://127.0.0.1:7879] [--fps 60] [--seconds 0 (forever)]
 *          [--extra-tags 200] [--breach-at 3] [--breach-hold 6]
 *          [--breach-period 0] [--app web-feeder] [--label TEXT]
 */
#include <fa_agent.h>
#include <framealloc.h>

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1024u * 1024u)
#define BLOCK 4096u /* the largest pool class: few blocks for many bytes */
#define MAX_EXTRA 1000
#define EXTRA_BLOCKS_MAX 24

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* A set of pool blocks held across frames under one tag. */
typedef struct held {
    void **blocks;
    unsigned count, cap;
} held_t;

static void held_init(held_t *h, unsigned cap) {
    h->blocks = calloc(cap, sizeof *h->blocks);
    h->count = 0;
    h->cap = h->blocks ? cap : 0;
}

/* Grows or shrinks h to `want` blocks; allocations are attributed to the
 * tag current on the calling thread. */
static void held_resize(fa_alloc_t *fa, held_t *h, unsigned want) {
    if (want > h->cap) want = h->cap;
    while (h->count < want) {
        void *p = fa_pool_alloc(fa, BLOCK);
        if (!p) break;
        memset(p, 0xab, 64);
        h->blocks[h->count++] = p;
    }
    while (h->count > want) fa_pool_free(fa, h->blocks[--h->count]);
}

static void held_release(fa_alloc_t *fa, held_t *h) {
    held_resize(fa, h, 0);
    free(h->blocks);
    h->blocks = NULL;
    h->cap = 0;
}

/* Frame scratch of about `bytes`, touched so it is real memory. */
static void scratch(fa_alloc_t *fa, size_t bytes) {
    if (bytes == 0) return;
    char *p = fa_frame_alloc(fa, bytes, 16);
    if (p) p[0] = p[bytes - 1] = 1;
}

/* A call site whose file and function names are markup, as a hostile
 * agent may send them (the tag holding it, extra tag 7, is markup too): the
 * dashboard's Where panel must show them as text (tests/web/where.mjs). */
static fa_site_t hostile_site = {"web/<svg onload=alert(1)>.c", "<img src=x onerror=alert(2)>", 7, FA_KIND_FRAME, 0, 0};

static unsigned blocks_for(double bytes) { return bytes <= 0 ? 0u : (unsigned)(bytes / BLOCK); }

int main(int argc, char **argv) {
    const char *url = NULL, *app = "web-feeder", *label = "browser test";
    double fps = 60, seconds = 0, breach_at = 3, breach_hold = 6, breach_period = 0;
    int extra = 200;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "feeder: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--fps")) fps = atof(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--extra-tags")) extra = atoi(v);
        else if (!strcmp(a, "--breach-at")) breach_at = atof(v);
        else if (!strcmp(a, "--breach-hold")) breach_hold = atof(v);
        else if (!strcmp(a, "--breach-period")) breach_period = atof(v);
        else if (!strcmp(a, "--app")) app = v;
        else if (!strcmp(a, "--label")) label = v;
        else {
            fprintf(stderr, "feeder: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (fps < 1) fps = 1;
    if (extra < 0) extra = 0;
    if (extra > MAX_EXTRA) extra = MAX_EXTRA;

    fa_alloc_t *fa = fa_create(&(fa_config_t){.max_tags = 2048, .behaviour = FA_BEHAVIOUR_DEFAULT});
    if (!fa) {
        fprintf(stderr, "feeder: fa_create failed: %s\n", fa_strerror(fa_last_error()));
        return 1;
    }
    fa_budget_set(fa, "physics", 3 * MIB, 4 * MIB);
    fa_budget_set(fa, "physics/contacts", 0, 3 * MIB / 2);
    fa_budget_set(fa, "render", 6 * MIB, 8 * MIB);
    fa_budget_set(fa, "audio", 0, 7 * MIB / 5); /* waves through 80 % now and then */

    /* Every tag exists before the agent starts, so the HELLO names them all. */
    static char extra_names[MAX_EXTRA][64];
    for (int i = 0; i < extra; i++) {
        if (i == 7) snprintf(extra_names[i], sizeof extra_names[i], "assets/g%02d/<b>\"q\" & 'a'", i / 20);
        else snprintf(extra_names[i], sizeof extra_names[i], "assets/g%02d/item_%03d", i / 20, i);
        fa_tag_find(fa, extra_names[i], true);
        if (i % 10 == 3) fa_budget_set(fa, extra_names[i], 0, 128 * 1024); /* at most 75 % */
    }
    fa_tag_find(fa, "ai/pathfinding", true);
    fa_tag_find(fa, "ai/perception", true);

    fa_agent_t *agent = NULL;
    int rc = fa_agent_start(fa,
                            &(fa_agent_desc_t){.url = url, .app_name = app, .session_label = label,
                                               .build_id = "tests/web", .max_tags = 2048},
                            &agent);
    if (rc != FA_OK) {
        fprintf(stderr, "feeder: fa_agent_start: %s\n", fa_strerror(rc));
        fa_destroy(fa);
        return 1;
    }
    printf("feeder: session %016llx\n", (unsigned long long)fa_agent_session_id(agent));
    fflush(stdout);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    held_t physics_bodies, contacts, audio_banks, ai_nav;
    held_init(&physics_bodies, 1024);
    held_init(&contacts, 2048);
    held_init(&audio_banks, 1024);
    held_init(&ai_nav, 1024);
    held_t *extra_held = calloc((size_t)extra + 1, sizeof *extra_held);
    for (int i = 0; i < extra; i++) held_init(&extra_held[i], EXTRA_BLOCKS_MAX);

    const double t0 = now_s(), dt = 1.0 / fps;
    double next = t0;
    for (unsigned long frame = 0; !stop_requested; frame++) {
        double t = now_s() - t0;
        if (seconds > 0 && t >= seconds) break;

        /* Breach cycle: 0 before, ramps 0..1 over 2 s, holds, then 0. */
        double cyc = t - breach_at;
        if (breach_period > 0 && cyc > 0) cyc = fmod(cyc, breach_period);
        double breach = 0;
        if (cyc >= 0 && cyc < 2) breach = cyc / 2;
        else if (cyc >= 2 && cyc < 2 + breach_hold) breach = 1;

        fa_begin_frame(fa);
        {
            FA_TAG_SCOPE(fa, "physics");
            held_resize(fa, &physics_bodies, blocks_for(1.6 * MIB + 0.2 * MIB * sin(t * 0.7)));
            scratch(fa, 256 * 1024 + (size_t)(64 * 1024 * (1 + sin(t * 3))));
            {
                FA_TAG_SCOPE(fa, "contacts");
                /* 0.5 MiB at rest; at the breach physics reaches ~4.8 MiB. */
                held_resize(fa, &contacts, blocks_for(0.5 * MIB + 0.1 * MIB * sin(t) + breach * 2.5 * MIB));
                scratch(fa, 96 * 1024);
            }
        }
        {
            FA_TAG_SCOPE(fa, "render");
            scratch(fa, 700 * 1024 + (size_t)(200 * 1024 * (1 + sin(t * 1.3))));
            void *cmd = fa_heap_alloc(fa, 64 * 1024, 16); /* heap in the hot path: finding 4 */
            if (cmd) memset(cmd, 0, 64);
            fa_heap_free(fa, cmd);
        }
        {
            FA_TAG_SCOPE(fa, "audio");
            held_resize(fa, &audio_banks, blocks_for(0.9 * MIB + 0.3 * MIB * sin(t * 0.3)));
        }
        {
            FA_TAG_SCOPE(fa, "ai/pathfinding");
            held_resize(fa, &ai_nav, blocks_for(0.6 * MIB + 0.25 * MIB * sin(t * 0.5 + 1)));
            scratch(fa, 48 * 1024);
        }
        {
            FA_TAG_SCOPE(fa, "ai/perception");
            scratch(fa, 32 * 1024 + (size_t)(16 * 1024 * (1 + sin(t * 2))));
        }
        for (int i = 0; i < extra; i++) {
            int id = fa_tag_push(fa, extra_names[i]);
            if (id < 0) continue;
            double w = 0.5 + 0.5 * sin(t * (0.2 + 0.01 * (i % 37)) + i);
            held_resize(fa, &extra_held[i], (unsigned)(2 + w * (4 + i % 19)));
            if (i == 7) {
                char *p = fa_frame_alloc_site(fa, 640, 16, &hostile_site);
                if (p) p[0] = 1;
            }
            fa_tag_pop(fa);
        }
        fa_end_frame(fa);

        next += dt;
        double now = now_s();
        if (next < now - 0.25) next = now; /* fell behind: do not sprint */
        sleep_s(next - now);
    }

    fa_agent_stats_t st;
    rc = fa_agent_stop(agent, &st);
    printf("feeder: stopped (%s): %llu frames seen, %llu sent, %llu dropped, %llu reconnects\n",
           rc == FA_OK ? "flushed" : "time-out", (unsigned long long)st.frames_seen,
           (unsigned long long)st.frames_sent, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.reconnects);
    for (int i = 0; i < extra; i++) held_release(fa, &extra_held[i]);
    free(extra_held);
    held_release(fa, &physics_bodies);
    held_release(fa, &contacts);
    held_release(fa, &audio_banks);
    held_release(fa, &ai_nav);
    fa_destroy(fa);
    return 0;
}
