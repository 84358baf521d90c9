/* Correct use of framealloc: fa-lint must report nothing here, with or
 * without a .fa.toml. */
#include <framealloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct contact {
    float normal[3], depth;
} contact_t;

typedef struct worker {
    fa_alloc_t *fa;
    fa_barrier_t *go;
    uint32_t transfer;
} worker_t;

static void *worker_main(void *arg) {
    worker_t *w = arg;
    if (fa_barrier_wait(w->go, 1, FA_WAIT_FOREVER) != FA_OK) return NULL;
    fa_begin_frame(w->fa);
    size_t size = 0;
    float *data = fa_transfer_receive(w->fa, (fa_transfer_t){w->transfer}, &size);
    float *scratch = FA_FRAME_ARRAY(w->fa, float, 16);
    if (data && scratch) scratch[0] = data[0];
    fa_transfer_release(w->fa, (fa_transfer_t){w->transfer});
    fa_end_frame(w->fa);
    return NULL;
}

static contact_t *contacts(fa_alloc_t *fa, int n) {
    FA_TAG_SCOPE(fa, "physics");
    contact_t *c = FA_FRAME_ARRAY(fa, contact_t, n);
    for (int i = 0; c && i < n; i++)
        c[i].depth = (float)i;
    return NULL;
}

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    if (!fa) return 1;
    fa_budget_set(fa, "physics", 0, 1 << 20);
    char *level = malloc(4096); /* before the frame loop */
    fa_barrier_t go;
    fa_barrier_init(&go, 1);
    worker_t w = {.fa = fa, .go = &go};
    pthread_t t;
    for (int frame = 0; frame < 3; frame++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "physics") {
            void *body = fa_pool_alloc(fa, 96);
            contacts(fa, 100);
            fa_pool_free(fa, body);
        }
        char *name = fa_frame_sprintf(fa, "frame %d", frame);
        if (name) puts(name);
        if (frame == 1) {
            float *payload = FA_FRAME_ARRAY(fa, float, 4);
            if (payload) payload[0] = 1;
            fa_transfer_t h = fa_transfer_from_frame(fa, payload, 4 * sizeof(float));
            fa_transfer_send(fa, h);
            w.transfer = h.id;
            pthread_create(&t, NULL, worker_main, &w);
            fa_barrier_signal(&go);
        }
        fa_end_frame(fa);
    }
    pthread_join(t, NULL);
    free(level);
    fa_barrier_fini(&go);
    fa_destroy(fa);
    return 0;
}
