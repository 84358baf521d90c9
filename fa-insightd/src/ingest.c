/* ingest.c — the nng PULL socket and the hand-off to the loop thread.
 *
 * One nng_recv_aio is always posted; its callback (an nng thread) only
 * appends the message to a bounded ring under a mutex, re-posts the
 * receive and calls uv_async_send. The loop thread drains the ring (the
 * async wake-ups merge) and hands each message to the sink. This beat
 * NNG_OPT_RECVFD + uv_poll, which gets one message per wake-up, by 5x in
 * the design spike. When the ring is full the message is dropped and
 * counted (g_stats.queue_dropped): the daemon never blocks nng's threads
 * and never grows without bound. */
#include "insightd.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    nng_msg *msg;
    uint64_t recv_mono;
} slot_t;

struct ingest {
    nng_socket sock;
    nng_listener listener;
    nng_aio *aio;
    uv_async_t async;
    ingest_sink_fn sink;
    void *ud;
    pthread_mutex_t lock;
    slot_t *ring; /* INGEST_QUEUE_MAX_MSGS entries, a power of two */
    uint32_t head, count;
    size_t bytes;
    atomic_bool stopping;
    atomic_bool closed;         /* the closer thread is done with nng */
    void (*on_stopped)(void *); /* loop: called once the socket is closed */
    void *on_stopped_ud;
    bool stop_reported;
    pthread_t closer;
    bool closer_started;
    pthread_mutex_t close_lock; /* closer thread vs ingest_abandon */
    bool abandoned;             /* under close_lock: the loop stopped waiting */
    log_limiter_t full_lim;     /* used on the loop thread only */
    uint64_t drops_seen;
};

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
        bool dropped = false, wake = false;
        atomic_fetch_add(&g_stats.received, 1);
        atomic_fetch_add(&g_stats.received_bytes, len);
        pthread_mutex_lock(&in->lock);
        if (in->count == INGEST_QUEUE_MAX_MSGS || in->bytes + len > INGEST_QUEUE_MAX_BYTES) {
            dropped = true;
        } else {
            /* Only the first message of an empty ring wakes the loop: while
             * the ring is not empty the loop is draining it (and re-arms
             * the wake-up itself when it yields). One eventfd write per
             * batch instead of one per message. */
            wake = in->count == 0;
            slot_t *s = &in->ring[(in->head + in->count) & (INGEST_QUEUE_MAX_MSGS - 1)];
            s->msg = msg;
            s->recv_mono = insightd_mono_ms();
            in->count++;
            in->bytes += len;
            atomic_store(&g_stats.queue_depth, in->count);
            if (in->count > atomic_load(&g_stats.queue_high_water))
                atomic_store(&g_stats.queue_high_water, in->count);
        }
        pthread_mutex_unlock(&in->lock);
        if (dropped) {
            atomic_fetch_add(&g_stats.queue_dropped, 1);
            nng_msg_free(msg);
        }
        if (wake) uv_async_send(&in->async);
    }
    /* Any other error (a peer vanished mid-message): just receive again. */
    nng_recv_aio(in->sock, in->aio);
}

/* Loop thread: hand at most INGEST_BATCH messages to the sink, then yield
 * to the other handles (HTTP, timers) and come back. */
static void drain(ingest_t *in, uint32_t budget) {
    slot_t batch[256];
    uint32_t done = 0;
    for (;;) {
        uint32_t n = 0;
        pthread_mutex_lock(&in->lock);
        while (n < 256 && in->count > 0 && done + n < budget) {
            batch[n++] = in->ring[in->head];
            in->bytes -= nng_msg_len(in->ring[in->head].msg);
            in->head = (in->head + 1) & (INGEST_QUEUE_MAX_MSGS - 1);
            in->count--;
        }
        bool more = in->count > 0;
        atomic_store(&g_stats.queue_depth, in->count);
        pthread_mutex_unlock(&in->lock);
        for (uint32_t i = 0; i < n; i++) {
            in->sink(in->ud, nng_msg_body(batch[i].msg), nng_msg_len(batch[i].msg), batch[i].recv_mono);
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
        log_limited(&in->full_lim, 5000, LOG_WARN, "ingest queue full: %llu messages dropped so far",
                    (unsigned long long)drops);
        in->drops_seen = drops;
    }
}

static void async_cb(uv_async_t *h) {
    ingest_t *in = h->data;
    drain(in, INGEST_BATCH);
    if (atomic_load(&in->closed) && !in->stop_reported) {
        /* The socket is closed: what it delivered is all in the ring. */
        in->stop_reported = true;
        drain(in, UINT32_MAX);
        if (in->on_stopped) in->on_stopped(in->on_stopped_ud);
    }
}

int ingest_start(ingest_t **out, uv_loop_t *loop, const char *url, ingest_sink_fn sink, void *ud,
                 char *bound_url, size_t bound_cap, char *err, size_t errcap) {
    ingest_t *in = calloc(1, sizeof *in);
    if (!in || !(in->ring = calloc(INGEST_QUEUE_MAX_MSGS, sizeof *in->ring))) {
        free(in);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    _Static_assert((INGEST_QUEUE_MAX_MSGS & (INGEST_QUEUE_MAX_MSGS - 1)) == 0, "ring size is a power of two");
    in->sink = sink;
    in->ud = ud;
    pthread_mutex_init(&in->lock, NULL);
    pthread_mutex_init(&in->close_lock, NULL);
    int rv;
    if ((rv = nng_pull0_open(&in->sock)) != 0) {
        snprintf(err, errcap, "ingest: cannot open a PULL socket: %s", nng_strerror(rv));
        goto fail;
    }
    /* Accept the largest valid message; nng drops bigger ones (and the
     * connection that sent them). */
    nng_socket_set_size(in->sock, NNG_OPT_RECVMAXSZ, FA_PROTO_MAX_MESSAGE);
    nng_socket_set_int(in->sock, NNG_OPT_RECVBUF, 1024);
    if ((rv = nng_listener_create(&in->listener, in->sock, url)) != 0 ||
        (rv = nng_listener_start(in->listener, 0)) != 0) {
        snprintf(err, errcap, "ingest: cannot listen on %s: %s", url, nng_strerror(rv));
        nng_close(in->sock);
        goto fail;
    }
    snprintf(bound_url, bound_cap, "%s", url);
    int port = 0;
    if (strncmp(url, "tcp", 3) == 0 &&
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
    free(in->ring);
    free(in);
    return -1;
}

/* Closing an nng socket waits for nng's reaper thread, which may itself
 * be waiting for work only the loop can finish (an HTTP request queued to
 * it): so the close runs on its own thread and the loop keeps turning. */
static void *closer_main(void *arg) {
    ingest_t *in = arg;
    /* Closing the socket completes the posted receive with NNG_ECLOSED;
     * nng_aio_stop then waits for the callback to return. No lock of ours
     * is held, and the callback takes only in->lock briefly. */
    /* The listener first: a sender that loses its connection redials at
     * once, and a connection accepted while the socket closes its pipes
     * was seen to leave nng_close waiting forever. */
    nng_listener_close(in->listener);
    nng_close(in->sock);
    nng_aio_stop(in->aio);
    pthread_mutex_lock(&in->close_lock);
    atomic_store(&in->closed, true);
    if (!in->abandoned) uv_async_send(&in->async); /* else the handle may be gone */
    pthread_mutex_unlock(&in->close_lock);
    return NULL;
}

void ingest_stop(ingest_t *in, void (*on_stopped)(void *), void *ud) {
    in->on_stopped = on_stopped;
    in->on_stopped_ud = ud;
    atomic_store(&in->stopping, true);
    if (pthread_create(&in->closer, NULL, closer_main, in) == 0)
        in->closer_started = true;
    else
        closer_main(in); /* no thread: close here */
}

bool ingest_stopped(const ingest_t *in) {
    return in->stop_reported;
}

bool ingest_abandon(ingest_t *in) {
    pthread_mutex_lock(&in->close_lock);
    bool closed = atomic_load(&in->closed);
    in->abandoned = !closed;
    pthread_mutex_unlock(&in->close_lock);
    if (closed) return false; /* closed after all: the async callback reports it */
    LOG(LOG_WARN, "nng has not closed the ingest socket; shutting down without waiting for it");
    in->stop_reported = true;
    drain(in, UINT32_MAX);
    if (in->on_stopped) in->on_stopped(in->on_stopped_ud);
    return true;
}

bool ingest_free(ingest_t *in) {
    if (!in) return true;
    if (in->abandoned) return false; /* nng still holds it: leave it be */
    if (in->closer_started) pthread_join(in->closer, NULL);
    nng_aio_free(in->aio);
    pthread_mutex_lock(&in->lock);
    while (in->count) {
        nng_msg_free(in->ring[in->head].msg);
        in->head = (in->head + 1) & (INGEST_QUEUE_MAX_MSGS - 1);
        in->count--;
    }
    pthread_mutex_unlock(&in->lock);
    pthread_mutex_destroy(&in->lock);
    pthread_mutex_destroy(&in->close_lock);
    free(in->ring);
    free(in);
    return true;
}
