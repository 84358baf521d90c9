/* Test helpers for the agent: unique URLs, a PULL "daemon" whose receiver
 * thread keeps every message it gets, decoding, log capture and a small
 * workload. Plain C (no Criterion) so that the TSan harness can use it. */
#ifndef FA_TEST_AGENT_H
#define FA_TEST_AGENT_H

#include <fa_agent.h>
#include <fa_proto.h>
#include <framealloc.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t t_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void t_sleep_us(unsigned us) {
    struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000};
    nanosleep(&ts, NULL);
}

/* An ipc URL of its own per process and name, so parallel runs (Criterion
 * forks one process per test, -jN) never collide. */
static inline void t_url(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "ipc:///tmp/fa-agent-test-%d-%s.ipc", (int)getpid(), name);
}

/* ------------------------------------------------------------------------ */
/* The PULL side                                                             */
/* ------------------------------------------------------------------------ */

typedef struct t_raw {
    unsigned char *data;
    size_t len;
    uint32_t batch_pos; /* a frame of a FRAMES message: its entry index */
} t_raw_t;

/* Protocol 1.2: a FRAMES message is kept as the FRAME messages it stands
 * for (rebuilt whole rows, re-encoded with the FRAMES' header), so that
 * tests see one FRAME per frame whichever way it travelled; `received`
 * counts the nng messages themselves. A delta that cannot be rebuilt
 * keeps its FRAMES message as it came (counted in no_base). */
typedef struct t_daemon {
    nng_socket sock;
    pthread_t thread;
    pthread_mutex_t lock;
    t_raw_t *msgs;
    size_t count, cap;
    _Atomic bool quit;
    bool open;
    size_t received, frames_msgs, entries, keys, delta_rows, no_base; /* under lock */
    fa_proto_space_t *space;                                          /* receiver thread */
    fa_proto_tag_base_t base;
} t_daemon_t;

static void t_daemon_keep(t_daemon_t *d, const void *data, size_t len, uint32_t batch_pos) {
    unsigned char *copy = malloc(len ? len : 1);
    memcpy(copy, data, len);
    pthread_mutex_lock(&d->lock);
    if (d->count == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->msgs = realloc(d->msgs, d->cap * sizeof *d->msgs);
    }
    d->msgs[d->count++] = (t_raw_t){copy, len, batch_pos};
    pthread_mutex_unlock(&d->lock);
}

/* Keeps a received message (a FRAMES as its frames). */
static void t_daemon_take(t_daemon_t *d, const void *buf, size_t len) {
    fa_proto_storage_t st = fa_proto_storage_of(d->space);
    fa_proto_msg_t m;
    pthread_mutex_lock(&d->lock);
    d->received++;
    pthread_mutex_unlock(&d->lock);
    if (fa_proto_decode(buf, len, &m, &st) != FA_PROTO_OK || m.header.type != FA_PROTO_FRAMES) {
        t_daemon_keep(d, buf, len, 0);
        return;
    }
    static unsigned char out[FA_PROTO_MAX_MESSAGE];
    fa_proto_frame_entry_t e;
    size_t offset = 0;
    uint32_t pos = 0;
    bool kept_raw = false;
    while (fa_proto_frames_next(&m.frames, &offset, &e, &st) > 0) {
        pthread_mutex_lock(&d->lock);
        d->entries++;
        d->keys += !e.delta;
        d->delta_rows += e.delta ? e.frame.tag_count : 0;
        pthread_mutex_unlock(&d->lock);
        if (fa_proto_frame_rebuild(&d->base, &e) != FA_PROTO_OK) {
            pthread_mutex_lock(&d->lock);
            d->no_base++;
            pthread_mutex_unlock(&d->lock);
            if (!kept_raw) t_daemon_keep(d, buf, len, 0);
            kept_raw = true;
            continue;
        }
        fa_proto_msg_t f = {.header = m.header, .frame = e.frame};
        f.header.type = FA_PROTO_FRAME;
        int n = fa_proto_encode(&f, out, sizeof out);
        if (n > 0) t_daemon_keep(d, out, (size_t)n, pos++);
    }
    pthread_mutex_lock(&d->lock);
    d->frames_msgs++;
    pthread_mutex_unlock(&d->lock);
}

static void *t_daemon_main(void *arg) {
    t_daemon_t *d = arg;
    /* Once asked to quit, it still drains what is in flight: until a
     * receive times out, for at most 200 ms. */
    uint64_t quit_at = 0;
    for (;;) {
        if (atomic_load(&d->quit)) {
            if (!quit_at) quit_at = t_now_ns();
            if (t_now_ns() - quit_at > 200000000u) break;
        }
        void *buf = NULL;
        size_t len = 0;
        int rv = nng_recv(d->sock, &buf, &len, NNG_FLAG_ALLOC);
        if (rv == NNG_ETIMEDOUT) {
            if (atomic_load(&d->quit)) break;
            continue;
        }
        if (rv != 0) break;
        t_daemon_take(d, buf, len);
        nng_free(buf, len);
    }
    return NULL;
}

/* Listens on url and starts receiving. 0 or an nng error. */
static inline int t_daemon_open(t_daemon_t *d, const char *url) {
    memset(d, 0, sizeof *d);
    pthread_mutex_init(&d->lock, NULL);
    d->space = calloc(1, sizeof *d->space);
    d->base = (fa_proto_tag_base_t){calloc(FA_PROTO_MAX_ROWS, sizeof(fa_proto_tag_stat_t)),
                                    calloc(FA_PROTO_MAX_ROWS, sizeof(fa_proto_tag_stat_t)),
                                    FA_PROTO_MAX_ROWS,
                                    0,
                                    0,
                                    false};
    int rv = nng_pull0_open(&d->sock);
    if (rv) return rv;
    nng_socket_set_ms(d->sock, NNG_OPT_RECVTIMEO, 20);
    if ((rv = nng_listen(d->sock, url, NULL, 0)) != 0) {
        nng_close(d->sock);
        return rv;
    }
    d->open = true;
    pthread_create(&d->thread, NULL, t_daemon_main, d);
    return 0;
}

/* Stops listening (the agent sees its peer disappear). Messages stay. */
static inline void t_daemon_close(t_daemon_t *d) {
    if (!d->open) return;
    atomic_store(&d->quit, true);
    pthread_join(d->thread, NULL);
    nng_close(d->sock);
    d->open = false;
}

static inline void t_daemon_free(t_daemon_t *d) {
    t_daemon_close(d);
    for (size_t i = 0; i < d->count; i++)
        free(d->msgs[i].data);
    free(d->msgs);
    free(d->space);
    free(d->base.rows);
    free(d->base.scratch);
    pthread_mutex_destroy(&d->lock);
}

static inline size_t t_daemon_count(t_daemon_t *d) {
    pthread_mutex_lock(&d->lock);
    size_t n = d->count;
    pthread_mutex_unlock(&d->lock);
    return n;
}

/* The i-th message (stable once received: the array only grows). */
static inline t_raw_t t_daemon_msg(t_daemon_t *d, size_t i) {
    pthread_mutex_lock(&d->lock);
    t_raw_t r = d->msgs[i];
    pthread_mutex_unlock(&d->lock);
    return r;
}

/* Decodes a raw message; storage is process-wide (one decode at a time). */
static fa_proto_space_t *t_space;
static inline int t_decode(t_raw_t raw, fa_proto_msg_t *m) {
    if (!t_space) t_space = calloc(1, sizeof *t_space);
    fa_proto_storage_t st = fa_proto_storage_of(t_space);
    return fa_proto_decode(raw.data, raw.len, m, &st);
}

/* The type of message i (decoding its header only). */
static inline int t_type(t_daemon_t *d, size_t i) {
    fa_proto_header_t h;
    t_raw_t r = t_daemon_msg(d, i);
    if (fa_proto_decode_header(r.data, r.len, &h) != 0) return -1;
    return h.type;
}

/* How many messages of a type the daemon holds so far. */
static inline size_t t_count(t_daemon_t *d, int type) {
    size_t seen = 0;
    for (size_t i = 0, n = t_daemon_count(d); i < n; i++)
        seen += t_type(d, i) == type;
    return seen;
}

/* Index of the first message of a type at or after `from`, or -1. */
static inline long t_find(t_daemon_t *d, int type, size_t from) {
    size_t n = t_daemon_count(d);
    for (size_t i = from; i < n; i++)
        if (t_type(d, i) == type) return (long)i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Log capture                                                               */
/* ------------------------------------------------------------------------ */

typedef struct t_log {
    _Atomic int count[32];
} t_log_t;

static inline void t_log_cb(const fa_agent_log_event_t *ev, void *user) {
    t_log_t *l = user;
    if (ev->id > 0 && ev->id < 32) atomic_fetch_add(&l->count[ev->id], 1);
}

/* ------------------------------------------------------------------------ */
/* A small game                                                              */
/* ------------------------------------------------------------------------ */

/* A workload over `n` tags "sys<i>/part<j>" (4 parts per system; the
 * systems are tags too). Paths are formatted once, not per frame. */
#define T_MAX_TAGS 512
typedef struct t_game {
    fa_alloc_t *fa;
    int tags;
    char paths[T_MAX_TAGS][32];
    void *keep[8];
    int heap_every; /* a heap block every Nth frame (heap calls malloc); 0: never */
    void (*extra)(struct t_game *g, uint64_t frame); /* more work inside the frame */
} t_game_t;

static inline void t_game_init(t_game_t *g, fa_alloc_t *fa, int tags) {
    memset(g, 0, sizeof *g);
    g->fa = fa;
    g->tags = tags < T_MAX_TAGS ? tags : T_MAX_TAGS;
    for (int i = 0; i < g->tags; i++) {
        snprintf(g->paths[i], sizeof g->paths[i], "sys%d/part%d", i / 4, i % 4);
        (void)fa_tag_find(fa, g->paths[i], true);
    }
    (void)fa_tag_find(fa, "heap_user", true);
}

/* One frame's work: a frame allocation per tag, a pool block replaced
 * every frame (8 live), and a heap block every heap_every-th frame. */
static inline void t_game_frame(t_game_t *g, uint64_t frame) {
    fa_alloc_t *fa = g->fa;
    fa_begin_frame(fa);
    for (int i = 0; i < g->tags; i++) {
        if (fa_tag_push(fa, g->paths[i]) < 0) continue;
        (void)!fa_frame_alloc(fa, 64 + (size_t)(i * 8) + (frame % 7) * 16, 16);
        fa_tag_pop(fa);
    }
    int slot = (int)(frame % 8);
    fa_pool_free(fa, g->keep[slot]);
    FA_WITH_TAG(fa, g->paths[1 % (g->tags ? g->tags : 1)]) {
        g->keep[slot] = fa_pool_alloc(fa, 32 + (frame % 5) * 48);
    }
    if (g->heap_every && frame % (uint64_t)g->heap_every == 0) {
        FA_TAG_SCOPE(fa, "heap_user");
        fa_heap_free(fa, fa_heap_alloc(fa, 10000, 0));
    }
    if (g->extra) g->extra(g, frame);
    fa_end_frame(fa);
}

/* Plays frames from *i on, sleep_us apart, until the daemon got a FRAME
 * (the agent is connected) or 5 s passed; *i is the next frame. Returns
 * whether a FRAME arrived. */
static inline bool t_play_until_connected(t_daemon_t *d, t_game_t *g, uint64_t *i, unsigned sleep_us) {
    for (uint64_t deadline = t_now_ns() + 5000000000u;
         t_find(d, FA_PROTO_FRAME, 0) < 0 && t_now_ns() < deadline; ++*i) {
        t_game_frame(g, *i);
        t_sleep_us(sleep_us);
    }
    return t_find(d, FA_PROTO_FRAME, 0) >= 0;
}

static inline void t_game_fini(t_game_t *g) {
    for (int i = 0; i < 8; i++)
        fa_pool_free(g->fa, g->keep[i]);
}

#endif
