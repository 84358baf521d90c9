/* sites_game.c — a game whose allocations are at known lines: three
 * functions under two tags, the same every frame, linked with the real
 * lib and fa-agent. The tests find each line by the "site:" comment on it
 * and expect exactly these rows through the daemon's API and fa-cli:
 *
 *   physics_step  physics  frame  3 x 100 B per frame
 *   physics_step  physics  pool   1 x  64 B (freed in the frame)
 *   plan_paths    physics  frame  1 batch of 10 x 48 B = 480 B
 *   draw_frame    render   heap   1 x 5000 B (freed in the frame)
 *
 *   insightd_sites_game URL [FRAMES]
 *
 * Prints "app=NAME session=HEX sent=N dropped=N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fa_agent.h"
#include "framealloc.h"

static void physics_step(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "physics");
    for (int i = 0; i < 3; i++) {
        char *contact = fa_frame_alloc(fa, 100, 16); /* site: physics_contacts */
        if (contact) contact[0] = (char)i;
    }
    void *body = fa_pool_alloc(fa, 64); /* site: physics_body */
    if (body) fa_pool_free(fa, body);
}

static void plan_paths(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "physics");
    char *nodes = fa_frame_alloc_batch(fa, 48, 16, 10); /* site: plan_nodes */
    if (nodes) nodes[0] = 1;
}

static void draw_frame(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "render");
    char *commands = fa_heap_alloc(fa, 5000, 0); /* site: draw_commands */
    if (commands) {
        commands[0] = 1;
        fa_heap_free(fa, commands);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL [FRAMES]\n", argv[0]);
        return 2;
    }
    int frames = argc > 2 ? atoi(argv[2]) : 120;
    char app[64];
    snprintf(app, sizeof app, "sites-game-%d", (int)getpid());
    fa_alloc_t *fa = fa_create(NULL);
    if (!fa) return 1;
    fa_agent_t *agent = NULL;
    int rc = fa_agent_start(fa, &(fa_agent_desc_t){.url = argv[1], .app_name = app}, &agent);
    if (rc != FA_OK) {
        fprintf(stderr, "fa_agent_start: %s\n", fa_strerror(rc));
        return 1;
    }
    fa_agent_stats_t st;
    for (int i = 0; i < 200; i++) {
        fa_agent_stats(agent, &st);
        if (st.connected) break;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    for (int f = 0; f < frames; f++) {
        fa_begin_frame(fa);
        physics_step(fa);
        plan_paths(fa);
        draw_frame(fa);
        fa_end_frame(fa);
        struct timespec ts = {0, 4000000L};
        nanosleep(&ts, NULL);
    }
    uint64_t sid = fa_agent_session_id(agent);
    fa_agent_stop(agent, &st);
    printf("app=%s session=%016llx sent=%llu dropped=%llu\n", app, (unsigned long long)sid,
           (unsigned long long)st.frames_sent, (unsigned long long)st.frames_dropped);
    fa_destroy(fa);
    return 0;
}
