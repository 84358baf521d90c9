/* agent_game.c — a tiny game linked with the real fa-agent, for the
 * integration test's round trip (agent -> daemon -> API).
 *
 *   insightd_agent_game tcp://127.0.0.1:PORT
 *
 * Tags "physics" (hard budget 1 MiB, filled to ~120 % and back) and
 * "render"; 240 frames at ~240 fps; prints "app=NAME session=HEX sent=N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fa_agent.h"
#include "framealloc.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s URL\n", argv[0]);
        return 2;
    }
    char app[64];
    snprintf(app, sizeof app, "agent-game-%d", (int)getpid());
    fa_alloc_t *fa = fa_create(NULL);
    if (!fa) return 1;
    fa_budget_set(fa, "physics", 512u * 1024u, 1024u * 1024u);
    fa_agent_t *agent = NULL;
    int rc = fa_agent_start(
        fa, &(fa_agent_desc_t){.url = argv[1], .app_name = app, .session_label = "round trip"}, &agent);
    if (rc != FA_OK) {
        fprintf(stderr, "fa_agent_start: %s\n", fa_strerror(rc));
        return 1;
    }
    fa_agent_stats_t st;
    for (int i = 0; i < 200; i++) {
        fa_agent_stats(agent, &st);
        if (st.connected) break;
        sleep_ms(10);
    }
    enum { BLOCKS = 300 };
    static void *blocks[BLOCKS];
    int live = 0;
    for (int f = 0; f < 240; f++) {
        fa_begin_frame(fa);
        {
            FA_TAG_SCOPE(fa, "physics");
            /* grow to 300 x 4 KiB (~117 % of the budget), then release */
            int want = f < 120 ? (f * BLOCKS) / 100 : BLOCKS - (f - 120) * 3;
            if (want > BLOCKS) want = BLOCKS;
            if (want < 0) want = 0;
            while (live < want && (blocks[live] = fa_pool_alloc(fa, 4096)) != NULL)
                live++;
            while (live > want)
                fa_pool_free(fa, blocks[--live]);
        }
        {
            FA_TAG_SCOPE(fa, "render");
            for (int k = 0; k < 16; k++) {
                char *p = fa_frame_alloc(fa, 1024, 16);
                if (p) p[0] = (char)k;
            }
        }
        fa_end_frame(fa);
        sleep_ms(4);
    }
    while (live > 0)
        fa_pool_free(fa, blocks[--live]);
    uint64_t sid = fa_agent_session_id(agent);
    fa_agent_stop(agent, &st);
    printf("app=%s session=%016llx sent=%llu dropped=%llu\n", app, (unsigned long long)sid,
           (unsigned long long)st.frames_sent, (unsigned long long)st.frames_dropped);
    fa_destroy(fa);
    return 0;
}
