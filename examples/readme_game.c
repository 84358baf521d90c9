/* The README's "Use it in your own game" program, byte for byte (make test
 * checks that they match, builds it against an installed prefix with
 * pkg-config and runs it against a real fa-insightd). */
#include <fa_agent.h> /* includes framealloc.h */
#include <threads.h>  /* thrd_sleep: C11, no POSIX needed */

typedef struct contact { float normal[3], depth; } contact_t;

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);                    /* NULL: defaults */
    fa_budget_set(fa, "physics", 0, 64 << 10);           /* soft 0, hard 64 KiB */
    fa_agent_t *agent = NULL;                            /* streams to tcp://127.0.0.1:7879 */
    if (fa_agent_start(fa, &(fa_agent_desc_t){.app_name = "my-game"}, &agent) != FA_OK) agent = NULL;
    for (int frame = 0; frame < 600; frame++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "physics") {                     /* popped however the block is left */
            contact_t *c = FA_FRAME_ARRAY(fa, contact_t, 1000 + frame * 8); /* gone at frame end */
            void *body = fa_pool_alloc(fa, 96);                            /* lives until freed */
            c[0].depth = 1.0f;
            fa_pool_free(fa, body);
        }
        fa_end_frame(fa);                                /* resets the frame; the agent sends it */
        thrd_sleep(&(struct timespec){.tv_nsec = 16000000}, NULL); /* your game's work: ~60 fps */
    }
    if (agent) fa_agent_stop(agent, NULL);               /* flush, say goodbye */
    fa_destroy(fa);
}
