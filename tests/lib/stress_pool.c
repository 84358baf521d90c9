/* Seeded multi-threaded stress of pools with cross-thread frees.
 *
 *   stress_pool [--seed N] [--threads N] [--ops N] [--live N]
 *
 * Each thread allocates blocks of random sizes under random tags, fills them
 * with a pattern derived from a serial number, and either frees them itself
 * or passes them to another thread through a shared mailbox. Every free
 * checks the pattern first. At the end the pool must be empty. Exit 0 on
 * success; prints "stress_pool: N passed, 0 failed" style summary. */
#include <framealloc.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    uint64_t serial;
    uint32_t size;
} block_t;

#define MAILBOX 1024
static struct {
    pthread_mutex_t lock;
    block_t *slots[MAILBOX];
    int count;
} mailbox = {.lock = PTHREAD_MUTEX_INITIALIZER};

static fa_alloc_t *fa;
static uint64_t ops_per_thread = 200000;
static uint32_t live_max = 512;
static _Atomic uint64_t failures, checked;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void fill(block_t *b) {
    unsigned char *p = (unsigned char *)(b + 1);
    for (uint32_t i = 0; i < b->size; i++) p[i] = (unsigned char)(b->serial + i);
}

static void check_and_free(block_t *b) {
    unsigned char *p = (unsigned char *)(b + 1);
    for (uint32_t i = 0; i < b->size; i++) {
        if (p[i] != (unsigned char)(b->serial + i)) {
            fprintf(stderr, "stress_pool: block %" PRIu64 " corrupted at byte %u\n", b->serial, i);
            atomic_fetch_add(&failures, 1);
            break;
        }
    }
    atomic_fetch_add(&checked, 1);
    fa_pool_free(fa, b);
}

static void *worker(void *arg) {
    uint64_t seed = (uint64_t)(uintptr_t)arg, serial = seed << 32;
    static const char *tags[] = {"physics", "physics/contacts", "render", "ai/path", "audio"};
    block_t **live = calloc(live_max, sizeof *live);
    uint32_t n = 0;
    for (uint64_t op = 0; op < ops_per_thread; op++) {
        uint64_t r = next_rand(&seed);
        if (n < live_max && (r & 3) != 0) {
            uint32_t size = (uint32_t)(r >> 8) % 1500;
            FA_TAG_SCOPE(fa, tags[(r >> 40) % 5]);
            block_t *b = fa_pool_alloc(fa, sizeof(block_t) + size);
            if (!b) {
                atomic_fetch_add(&failures, 1);
                continue;
            }
            b->serial = serial++;
            b->size = size;
            fill(b);
            live[n++] = b;
        } else if (n) {
            uint32_t i = (uint32_t)(r >> 16) % n;
            block_t *b = live[i];
            live[i] = live[--n];
            if ((r >> 24) & 1) {
                /* Hand it to whoever takes from the mailbox next. */
                pthread_mutex_lock(&mailbox.lock);
                if (mailbox.count < MAILBOX) {
                    mailbox.slots[mailbox.count++] = b;
                    b = NULL;
                }
                pthread_mutex_unlock(&mailbox.lock);
            }
            if (b) check_and_free(b);
            pthread_mutex_lock(&mailbox.lock);
            block_t *other = mailbox.count ? mailbox.slots[--mailbox.count] : NULL;
            pthread_mutex_unlock(&mailbox.lock);
            if (other) check_and_free(other);
        }
    }
    while (n) check_and_free(live[--n]);
    free(live);
    return NULL;
}

int main(int argc, char **argv) {
    uint64_t seed = 42;
    int threads = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: stress_pool [--seed N] [--threads N] [--ops N] [--live N]\n");
            return 0;
        }
        if (i + 1 >= argc) goto usage;
        if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ops")) ops_per_thread = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--live")) live_max = (uint32_t)strtoul(argv[++i], NULL, 0);
        else goto usage;
    }
    if (threads < 1 || threads > 64 || !live_max || !seed) goto usage;
    fa = fa_create(NULL);
    pthread_t th[64];
    for (int t = 0; t < threads; t++)
        pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)(seed * 2654435761u + (uint64_t)t + 1));
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    while (mailbox.count) check_and_free(mailbox.slots[--mailbox.count]);
    fa_snapshot_t s = {0};
    fa_snapshot_take(fa, &s);
#ifndef FA_MINIMAL
    if (s.totals[FA_KIND_POOL].in_use != 0) {
        fprintf(stderr, "stress_pool: %" PRIu64 " pool bytes still live after all frees\n",
                s.totals[FA_KIND_POOL].in_use);
        atomic_fetch_add(&failures, 1);
    }
#endif
    fa_destroy(fa);
    uint64_t f = atomic_load(&failures);
    printf("stress_pool: seed %" PRIu64 ", %d threads, %" PRIu64 " blocks checked\n", seed, threads,
           atomic_load(&checked));
    printf("stress_pool: %d passed, %d failed\n", f ? 0 : 1, f ? 1 : 0);
    return f ? 1 : 0;
usage:
    fprintf(stderr, "usage: stress_pool [--seed N] [--threads N] [--ops N] [--live N]\n");
    return 2;
}
