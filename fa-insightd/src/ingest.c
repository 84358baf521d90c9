/* ingest.c — the nng PULL receive loop and the hand-off ring (see
 * ingest.h). A recv aio loop beat NNG_OPT_RECVFD + uv_poll (one message
 * per wake-up) by 5x in the design spike. */
#include "ingest.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fa_proto.h"
#include "log.h"
#include "stats.h"

#define INGEST_SETTLE_MS 20

typedef struct slot {
    nng_msg *msg;
    uint64_t recv_ms, recv_mono;
} slot_t;

struct ingest {
    nng_socket sock;
    nng_listener listener;
    nng_aio *aio;
    uv_async_t async;
    ingest_sink_fn sink;
    void *ud;
    size_t queue_bytes;
    pthread_mutex_t lock;
    slot_t *ring; /* INGEST_QUEUE_SLOTS entries */
    uint32_t head, count;
    size_t bytes;
    atomic_bool stopping;
    /* the socket's pipes (connections), under lock: closed one by one
     * before the socket (see ingest_stop) */
    nng_pipe *pipes;
    uint32_t npipes, pipes_cap;
    pthread_cond_t changed; /* receiving / closed changed */
    bool receiving, closed; /* under lock */
    pthread_t closer;
    bool closer_started;
    log_limiter_t full_lim; /* loop thread only */
    /* ingest_handshake_failures' copy of nng's figures (loop thread) */
    uint64_t handshakes_at, tls_failures, proto_failures;
    uint64_t drops_seen;
};

/* Frames (FRAME, 1.2 FRAMES) may be dropped under load; anything else
 * would orphan a session. Returns the frames the message carries, 0 for a
 * control message. */
static uint32_t frames_in(nng_msg *msg) {
    fa_proto_header_t h;
    const uint8_t *body = nng_msg_body(msg);
    if (fa_proto_decode_header(body, nng_msg_len(msg), &h) != FA_PROTO_OK) return 0;
    if (h.type == FA_PROTO_FRAME) return 1;
    /* FRAMES: its u16 entry count (the loop checks it; a lie only changes
     * what a drop counts). */
    if (h.type != FA_PROTO_FRAMES) return 0;
    uint32_t n =
        h.body_len >= 2 ? (uint32_t)(body[FA_PROTO_HEADER_SIZE] | body[FA_PROTO_HEADER_SIZE + 1] << 8) : 0;
    return n ? n : 1;
}

static void recv_cb(void *arg) {
    ingest_t *in = arg;
    int rv = nng_aio_result(in->aio);
    if (rv == NNG_ECLOSED || atomic_load(&in->stopping)) {
        if (rv == 0) nng_msg_free(nng_aio_get_msg(in->aio)); /* arrived while closing */
        return;
    }
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(in->aio);
        size_t len = nng_msg_len(msg);
        atomic_fetch_add(&g_stats.received, 1);
        atomic_fetch_add(&g_stats.received_bytes, len);
        /* Malformed messages count as control: the loop rejects and counts
         * them, and they cannot crowd the reserve out for long. */
        uint32_t frames = frames_in(msg);
        bool control = frames == 0;
        uint64_t now = clock_now_ms(), mono = clock_mono_ms();
        bool dropped = false, wake = false;
        pthread_mutex_lock(&in->lock);
        uint32_t slots = INGEST_QUEUE_SLOTS - (control ? 0 : INGEST_CONTROL_SLOTS);
        size_t bytes = in->queue_bytes + (control ? INGEST_CONTROL_BYTES : 0);
        if (in->count >= slots || in->bytes + len > bytes) {
            dropped = true;
        } else {
            /* Only the first message of an empty ring wakes the loop: while
             * the ring is not empty the loop is draining it (and re-arms
             * the wake-up itself when it yields). */
            wake = in->count == 0;
            slot_t *s = &in->ring[(in->head + in->count) & (INGEST_QUEUE_SLOTS - 1)];
            *s = (slot_t){msg, now, mono};
            in->count++;
            in->bytes += len;
            atomic_store(&g_stats.queue_depth, in->count);
            if (in->count > atomic_load(&g_stats.queue_high_water))
                atomic_store(&g_stats.queue_high_water, in->count);
        }
        pthread_mutex_unlock(&in->lock);
        if (dropped) {
            atomic_fetch_add(control ? &g_stats.control_over_reserve : &g_stats.queue_dropped,
                             control ? 1 : frames);
            atomic_store(&g_stats.last_queue_drop_mono, mono);
            nng_msg_free(msg);
        }
        if (wake) uv_async_send(&in->async);
    }
    /* Any other error (a peer vanished mid-message): just receive again. */
    nng_recv_aio(in->sock, in->aio);
}

/* Loop thread: hand at most `budget` messages to the sink, then yield to
 * the other handles (HTTP, timers) and come back. */
static void drain(ingest_t *in, uint32_t budget) {
    slot_t batch[256];
    uint32_t done = 0;
    for (;;) {
        uint32_t n = 0;
        pthread_mutex_lock(&in->lock);
        while (n < 256 && in->count > 0 && done + n < budget) {
            batch[n++] = in->ring[in->head];
            in->bytes -= nng_msg_len(in->ring[in->head].msg);
            in->head = (in->head + 1) & (INGEST_QUEUE_SLOTS - 1);
            in->count--;
        }
        bool more = in->count > 0;
        atomic_store(&g_stats.queue_depth, in->count);
        pthread_mutex_unlock(&in->lock);
        for (uint32_t i = 0; i < n; i++) {
            in->sink(in->ud, nng_msg_body(batch[i].msg), nng_msg_len(batch[i].msg), batch[i].recv_ms,
                     batch[i].recv_mono, (uint32_t)nng_pipe_id(nng_msg_get_pipe(batch[i].msg)));
            nng_msg_free(batch[i].msg);
        }
        done += n;
        if (!more) break;
        if (done >= budget) {
            uv_async_send(&in->async);
            break;
        }
    }
    uint64_t drops = atomic_load(&g_stats.queue_dropped);
    if (drops != in->drops_seen) {
        log_limited(&in->full_lim, 5000, LOG_WARN, "ingest queue full: %llu frames dropped so far",
                    (unsigned long long)drops);
        in->drops_seen = drops;
    }
}

static void async_cb(uv_async_t *h) {
    drain(h->data, INGEST_BATCH);
}

/* nng thread: a connection is about to join the socket. Once stopping,
 * none may: a pipe that finished its handshake while nng_close was closing
 * the others was seen to be left behind, and nng_close then waited for it
 * forever (nng 1.5.2, about one shutdown in six with an agent redialling). */
static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg) {
    ingest_t *in = arg;
    if (ev == NNG_PIPE_EV_ADD_PRE && atomic_load(&in->stopping)) {
        nng_pipe_close(p);
        return;
    }
    pthread_mutex_lock(&in->lock);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        if (in->npipes == in->pipes_cap) {
            uint32_t cap = in->pipes_cap ? in->pipes_cap * 2 : 16;
            nng_pipe *grown = realloc(in->pipes, cap * sizeof *grown);
            if (grown) {
                in->pipes = grown;
                in->pipes_cap = cap;
            }
        }
        if (in->npipes < in->pipes_cap) in->pipes[in->npipes++] = p;
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        for (uint32_t i = 0; i < in->npipes; i++)
            if (nng_pipe_id(in->pipes[i]) == nng_pipe_id(p)) {
                in->pipes[i] = in->pipes[--in->npipes];
                break;
            }
    }
    pthread_mutex_unlock(&in->lock);
}

void ingest_handshake_failures(ingest_t *in, uint64_t *tls, uint64_t *protocol) {
    *tls = *protocol = 0;
    if (!in) return;
    uint64_t now = clock_mono_ms();
    nng_stat *all = NULL;
    if ((!in->handshakes_at || now - in->handshakes_at >= INGEST_HANDSHAKE_REFRESH_MS) && nng_stats_get(&all) == 0) {
        nng_stat *l = nng_stat_find_listener(all, in->listener), *s;
        if (l && (s = nng_stat_find(l, "auth")) != NULL) in->tls_failures = nng_stat_value(s);
        if (l && (s = nng_stat_find(l, "proto")) != NULL) in->proto_failures = nng_stat_value(s);
        nng_stats_free(all);
        in->handshakes_at = now;
    }
    *tls = in->tls_failures;
    *protocol = in->proto_failures;
}

bool ingest_source_open(uint32_t source) {
    /* nng looks pipes up by id: a closed pipe's id is gone. */
    nng_pipe p = {.id = source};
    nng_sockaddr sa;
    return source && nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) == 0;
}

int ingest_start(ingest_t **out, uv_loop_t *loop, const char *url, struct nng_tls_config *tls,
                 size_t queue_bytes, ingest_sink_fn sink, void *ud, char *bound_url, size_t bound_cap, char *err,
                 size_t errcap) {
    _Static_assert((INGEST_QUEUE_SLOTS & (INGEST_QUEUE_SLOTS - 1)) == 0, "ring size is a power of two");
    ingest_t *in = calloc(1, sizeof *in);
    if (!in || !(in->ring = calloc(INGEST_QUEUE_SLOTS, sizeof *in->ring))) {
        free(in);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    in->sink = sink;
    in->ud = ud;
    in->queue_bytes = queue_bytes;
    in->receiving = true;
    pthread_mutex_init(&in->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&in->changed, &ca);
    pthread_condattr_destroy(&ca);
    int rv;
    if ((rv = nng_pull0_open(&in->sock)) != 0) {
        snprintf(err, errcap, "ingest: cannot open a PULL socket: %s", nng_strerror(rv));
        goto fail;
    }
    /* Accept the largest valid message; nng drops bigger ones (and the
     * connection that sent them). */
    nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, FA_PROTO_MAX_MESSAGE);
    nng_socket_set_int(in->sock, NNG_OPT_RECVBUF, 1024);
    nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, in);
    nng_pipe_notify(in->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, in);
    nng_pipe_notify(in->sock, NNG_PIPE_EV_REM_POST, pipe_cb, in);
    if ((rv = nng_listener_create(&in->listener, in->sock, url)) != 0 ||
        (tls && (rv = nng_listener_set_ptr(in->listener, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
        (rv = nng_listener_start(in->listener, 0)) != 0) {
        snprintf(err, errcap, "ingest: cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(in->sock);
        goto fail;
    }
    snprintf(bound_url, bound_cap, "%s", url);
    int port = 0;
    if ((strncmp(url, "tcp", 3) == 0 || strncmp(url, "tls+tcp", 7) == 0) &&
        nng_listener_get_int(in->listener, NNG_OPT_TCP_BOUND_PORT, &port) == 0) {
        /* Replace the port of the URL with the one really bound. */
        const char *colon = strrchr(url, ':');
        snprintf(bound_url, bound_cap, "%.*s:%d", (int)(colon - url), url, port);
    }
    if ((rv = nng_aio_alloc(&in->aio, recv_cb, in)) != 0) {
        snprintf(err, errcap, "ingest: %s", nng_strerror(rv));
        nng_close(in->sock);
        goto fail;
    }
    uv_async_init(loop, &in->async, async_cb);
    in->async.data = in;
    nng_recv_aio(in->sock, in->aio);
    *out = in;
    return 0;
fail:
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->changed);
    free(in->ring);
    free(in);
    return -1;
}

/* The closing thread: stops receiving (then tells the loop), closes every
 * connection and the socket. */
static void *closer_main(void *arg) {
    ingest_t *in = arg;
    /* The listener first: a sender that loses its connection redials at
     * once. After nng_aio_stop no receive callback runs any more. */
    nng_listener_close(in->listener);
    nng_aio_stop(in->aio);
    pthread_mutex_lock(&in->lock);
    in->receiving = false;
    pthread_cond_broadcast(&in->changed);
    pthread_mutex_unlock(&in->lock);
    /* With no receive posted, each connection parks after the message it
     * is reading (PULL starts no read then): closing quiet connections
     * keeps clear of the nng 1.5.2 race that ingest.h describes. */
    struct timespec settle = {0, INGEST_SETTLE_MS * 1000 * 1000};
    nanosleep(&settle, NULL);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&in->lock);
        uint32_t n = in->npipes;
        nng_pipe first = n ? in->pipes[0] : (nng_pipe)NNG_PIPE_INITIALIZER;
        pthread_mutex_unlock(&in->lock);
        if (!n) break;
        nng_pipe_close(first);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    nng_close(in->sock);
    pthread_mutex_lock(&in->lock);
    in->closed = true;
    pthread_cond_broadcast(&in->changed);
    pthread_mutex_unlock(&in->lock);
    return NULL;
}

/* Waits (bounded) until cond holds under in->lock. */
static bool wait_for(ingest_t *in, const bool *flag, bool want, uint64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_mutex_lock(&in->lock);
    while (*flag != want)
        if (pthread_cond_timedwait(&in->changed, &in->lock, &ts) != 0) break;
    bool ok = *flag == want;
    pthread_mutex_unlock(&in->lock);
    return ok;
}

void ingest_stop(ingest_t *in) {
    atomic_store(&in->stopping, true);
    if (pthread_create(&in->closer, NULL, closer_main, in) == 0)
        in->closer_started = true;
    else
        closer_main(in);
    /* What nng delivered before it stopped receiving is handed over. */
    if (!wait_for(in, &in->receiving, false, INGEST_CLOSE_MS))
        LOG(LOG_WARN, "the ingest receive did not stop within %d ms", INGEST_CLOSE_MS);
    drain(in, UINT32_MAX);
    uv_close((uv_handle_t *)&in->async, NULL);
}

bool ingest_free(ingest_t *in) {
    if (!in) return true;
    if (in->closer_started && !wait_for(in, &in->closed, true, INGEST_CLOSE_MS)) {
        /* See ingest.h: nng still holds the socket; so be it. */
        LOG(LOG_WARN,
            "nng_close of the ingest socket has not returned after %d ms (nng 1.5.2); "
            "exiting without nng's teardown",
            INGEST_CLOSE_MS);
        return false;
    }
    if (in->closer_started) pthread_join(in->closer, NULL);
    nng_aio_free(in->aio);
    while (in->count) {
        nng_msg_free(in->ring[in->head].msg);
        in->head = (in->head + 1) & (INGEST_QUEUE_SLOTS - 1);
        in->count--;
    }
    pthread_mutex_destroy(&in->lock);
    pthread_cond_destroy(&in->changed);
    free(in->pipes);
    free(in->ring);
    free(in);
    return true;
}
