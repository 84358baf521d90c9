/* feeder.c — a tiny game for fa-cli's integration tests: a real
 * libframealloc context with a real fa-agent streaming to the daemon under
 * test. Its memory is shaped so that every command has something to show:
 *
 *   physics            soft 1 MiB / hard 2 MiB; 600 KiB of heap of its own
 *                      (+ its children): 50..75 % of hard, "ok"
 *   physics/contacts   soft 512 KiB / hard 1 MiB; swings between 400 KiB
 *                      (40 %) and 900 KiB (88 %) every --swing frames, so a
 *                      warning alert is raised and cleared again and again
 *   render             soft 768 KiB / hard 1 MiB; holds 1.25 MiB (125 %):
 *                      critical from the first frame, a budget breach
 *   audio              no budget, 64 KiB
 *   effects            only with --burst N: hard 1 MiB; 1.5 MiB for the
 *                      first N frames (150 %), then 100 KiB: a budget that
 *                      was broken and is fine now
 *
 * Each frame also makes frame-arena allocations (physics), pool blocks
 * freed in the same frame (physics/contacts) and a heap allocation freed
 * at once (render), so that the behaviour filter reports findings
 * (POOL_SAME_FRAME_FREE, HEAP_IN_HOT_PATH, BUDGET_BREACH).
 *
 * usage: cli_feeder --url URL [--frames N] [--fps F] [--app NAME]
 *                   [--label TEXT] [--swing N] [--burst N]
 *   --frames 0 (default) runs until SIGTERM/SIGINT; the agent then sends
 *   its BYE. Prints "session <16 hex>" on stdout once started, and
 *   "frames <n>" when it stops. */
#include <fa_agent.h>
#include <framealloc.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KIB 1024u
#define MIB (1024u * 1024u)

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

static void sleep_until(struct timespec *next, long period_ns) {
    next->tv_nsec += period_ns;
    while (next->tv_nsec >= 1000000000L) {
        next->tv_nsec -= 1000000000L;
        next->tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL);
}

int main(int argc, char **argv) {
    const char *url = NULL, *app = "cli-feeder", *label = "integration";
    unsigned long frames = 0, fps = 60, swing = 45, burst = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "feeder: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--frames"))
            frames = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--fps"))
            fps = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--app"))
            app = v;
        else if (!strcmp(a, "--label"))
            label = v;
        else if (!strcmp(a, "--swing"))
            swing = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--burst"))
            burst = strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "feeder: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (fps == 0 || fps > 1000 || swing == 0) {
        fprintf(stderr, "feeder: bad --fps or --swing\n");
        return 2;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    fa_alloc_t *fa = fa_create(NULL);
    if (!fa) return 1;
    if (fa_budget_set(fa, "physics", 1 * MIB, 2 * MIB) ||
        fa_budget_set(fa, "physics/contacts", 512 * KIB, 1 * MIB) ||
        fa_budget_set(fa, "render", 768 * KIB, 1 * MIB) || fa_tag_find(fa, "audio", true) < 0) {
        fprintf(stderr, "feeder: budgets refused\n");
        return 1;
    }
    if (burst && fa_budget_set(fa, "effects", 0, 1 * MIB)) {
        fprintf(stderr, "feeder: budgets refused\n");
        return 1;
    }
    fa_behaviour_enable(fa, FA_BEHAVIOUR_DEFAULT);
    fa_agent_t *agent = NULL;
    int rc = fa_agent_start(
        fa, &(fa_agent_desc_t){.url = url, .app_name = app, .session_label = label, .build_id = "cli-test"},
        &agent);
    if (rc != FA_OK) {
        fprintf(stderr, "feeder: agent: %s\n", fa_strerror(rc));
        return 1;
    }
    printf("session %016llx\n", (unsigned long long)fa_agent_session_id(agent));
    fflush(stdout);

    /* Long-lived memory, allocated inside frames under their tags. */
    void *physics_heap = NULL, *render_heap = NULL, *audio_heap = NULL, *contacts_base = NULL,
         *contacts_extra = NULL, *effects_base = NULL, *effects_burst = NULL;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long period = 1000000000L / (long)fps;
    unsigned long n = 0;
    for (; !stop && (frames == 0 || n < frames); n++) {
        fa_begin_frame(fa);
        {
            FA_TAG_SCOPE(fa, "physics");
            if (!physics_heap) physics_heap = fa_heap_alloc(fa, 600 * KIB, 16);
            void *scratch = fa_frame_alloc(fa, 64 * KIB, 16);
            if (scratch) memset(scratch, 1, 64);
            {
                FA_TAG_SCOPE(fa, "contacts");
                if (!contacts_base) contacts_base = fa_heap_alloc(fa, 400 * KIB, 16);
                bool high = (n / swing) % 2 == 1;
                if (high && !contacts_extra) contacts_extra = fa_heap_alloc(fa, 500 * KIB, 16);
                if (!high && contacts_extra) {
                    fa_heap_free(fa, contacts_extra);
                    contacts_extra = NULL;
                }
                void *blocks[16];
                for (int i = 0; i < 16; i++)
                    blocks[i] = fa_pool_alloc(fa, 256);
                for (int i = 0; i < 16; i++)
                    fa_pool_free(fa, blocks[i]);
            }
        }
        {
            FA_TAG_SCOPE(fa, "render");
            if (!render_heap) render_heap = fa_heap_alloc(fa, 1280 * KIB, 16);
            void *cmd = fa_heap_alloc(fa, 512, 16);
            fa_heap_free(fa, cmd);
            void *verts = fa_frame_alloc(fa, 16 * KIB, 16);
            if (verts) memset(verts, 2, 64);
        }
        {
            FA_TAG_SCOPE(fa, "audio");
            if (!audio_heap) audio_heap = fa_heap_alloc(fa, 64 * KIB, 16);
        }
        if (burst) {
            FA_TAG_SCOPE(fa, "effects");
            if (!effects_base) effects_base = fa_heap_alloc(fa, 100 * KIB, 16);
            if (n == 0) effects_burst = fa_heap_alloc(fa, 1436 * KIB, 16);
            if (n == burst) {
                fa_heap_free(fa, effects_burst);
                effects_burst = NULL;
            }
        }
        fa_end_frame(fa);
        sleep_until(&next, period);
    }
    fa_agent_stats_t st;
    fa_agent_stop(agent, &st);
    printf("frames %lu sent %llu dropped %llu\n", n, (unsigned long long)st.frames_sent,
           (unsigned long long)st.frames_dropped);
    fa_heap_free(fa, physics_heap);
    fa_heap_free(fa, render_heap);
    fa_heap_free(fa, audio_heap);
    fa_heap_free(fa, contacts_base);
    fa_heap_free(fa, contacts_extra);
    fa_heap_free(fa, effects_base);
    fa_heap_free(fa, effects_burst);
    fa_destroy(fa);
    return 0;
}
