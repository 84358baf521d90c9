/*
 * sender.c — the agent's transport: the nng PUSH socket, its pipe callbacks,
 * and the sender thread that drains the ring with non-blocking sends.
 *
 * Session rules kept here:
 *   - every connection starts with a HELLO (seq 0 for the session's first):
 *     ring messages are held until the HELLO of the current connection is
 *     sent, and dropped (FRAME: counted "disconnected") while no daemon is
 *     connected, so nothing stale waits in nng for the next connection;
 *   - seq counts the messages handed to nng, and a FRAME's frames_dropped
 *     counts the frames dropped since the previous FRAME handed to nng; both
 *     are written into the encoded bytes just before the send;
 *   - a TAGS that cannot be sent is not retried: the sender asks the game
 *     thread for a fresh HELLO (full dictionary) instead.
 * With NNG_OPT_SENDBUF 0 (the default), nng takes a message only when the
 * connection is ready for it; the socket's send fd is readable exactly then,
 * which lets the sender wait briefly, and lets stop know that the BYE left.
 */
#define _GNU_SOURCE /* ppoll */
#include "agent_internal.h"

#include <errno.h>
#include <nng/protocol/pipeline0/push.h>
#include <poll.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Link                                                                      */
/* ------------------------------------------------------------------------ */

/* Runs on an nng thread: publish, nothing else. */
static void pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg) {
    fa_agent_t *a = arg;
    uint32_t id = (uint32_t)nng_pipe_id(pipe);
    if (ev == NNG_PIPE_EV_ADD_POST) {
        atomic_fetch_add_explicit(&a->link.want_gen, 1, memory_order_acq_rel);
        atomic_fetch_add_explicit(&a->link.connects, 1, memory_order_relaxed);
        atomic_store_explicit(&a->link.pipe_id, id, memory_order_release);
    } else if (ev == NNG_PIPE_EV_REM_POST) {
        /* Only the pipe we announced: a late removal of an older one must
         * not hide a newer connection. */
        uint32_t expected = id;
        atomic_compare_exchange_strong_explicit(&a->link.pipe_id, &expected, 0, memory_order_acq_rel,
                                                memory_order_relaxed);
    }
}

static int map_nng(int rv) {
    switch (rv) {
    case 0: return FA_OK;
    case NNG_ENOMEM: return FA_ERR_NO_MEMORY;
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
    case NNG_ENOTSUP:
    case NNG_EPROTO: return FA_ERR_INVALID_ARG;
    default: return FA_ERR_SYSTEM;
    }
}

int fa__agent_link_open(fa_agent_t *a) {
    int rv = nng_push0_open(&a->link.sock);
    if (rv != 0) {
        fa__agent_log(a, FA_AGENT_LOG_DIAL_FAILED, rv, 0, nng_strerror(rv));
        return map_nng(rv);
    }
    const fa_agent_desc_t *d = &a->desc;
    if ((rv = nng_socket_set_int(a->link.sock, NNG_OPT_SENDBUF, (int)d->send_buffer)) != 0 ||
        (rv = nng_socket_set_ms(a->link.sock, NNG_OPT_RECONNMINT, (nng_duration)d->reconnect_min_ms)) != 0 ||
        (rv = nng_socket_set_ms(a->link.sock, NNG_OPT_RECONNMAXT, (nng_duration)d->reconnect_max_ms)) != 0 ||
        (rv = nng_pipe_notify(a->link.sock, NNG_PIPE_EV_ADD_POST, pipe_event, a)) != 0 ||
        (rv = nng_pipe_notify(a->link.sock, NNG_PIPE_EV_REM_POST, pipe_event, a)) != 0 ||
        (rv = nng_socket_get_int(a->link.sock, NNG_OPT_SENDFD, &a->link.send_fd)) != 0) {
        fa__agent_log(a, FA_AGENT_LOG_DIAL_FAILED, rv, 0, nng_strerror(rv));
        nng_close(a->link.sock);
        return map_nng(rv);
    }
    /* Non-blocking: returns at once and keeps redialing in the background
     * until a daemon listens. Only a URL nng refuses fails here. */
    rv = nng_dial(a->link.sock, d->url, &a->link.dialer, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        fa__agent_log(a, FA_AGENT_LOG_DIAL_FAILED, rv, 0, d->url);
        nng_close(a->link.sock);
        return map_nng(rv);
    }
    return FA_OK;
}

void fa__agent_link_close(fa_agent_t *a) {
    /* Callbacks off first: they point at the agent, which is freed next. */
    nng_pipe_notify(a->link.sock, NNG_PIPE_EV_ADD_POST, NULL, NULL);
    nng_pipe_notify(a->link.sock, NNG_PIPE_EV_REM_POST, NULL, NULL);
    nng_close(a->link.sock);
}

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct sender_state {
    uint64_t next_seq;
    uint32_t sent_gen;             /* connection generation whose HELLO left */
    uint64_t game_drops_at_frame;  /* game-side drops before the last FRAME sent */
    uint64_t own_drops_at_frame;   /* sender drops when the last FRAME was sent */
    bool was_connected;
} sender_state_t;

static bool connected(const fa_agent_t *a) {
    return atomic_load_explicit(&a->link.pipe_id, memory_order_acquire) != 0;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits until nng can take a message (the send fd is readable) or until
 * deadline. */
static void wait_writable(const fa_agent_t *a, uint64_t deadline) {
    uint64_t now = fa__agent_mono_ns();
    if (now >= deadline) return;
    uint64_t ns = deadline - now;
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    struct pollfd pfd = {.fd = a->link.send_fd, .events = POLLIN};
    (void)ppoll(&pfd, 1, &ts, NULL);
}

/* Hands one message to nng, waiting at most until deadline for the
 * connection to be ready. 0 or an nng error. */
static int send_until(fa_agent_t *a, const void *buf, size_t len, uint64_t deadline) {
    for (;;) {
        int rv = nng_send(a->link.sock, (void *)buf, len, NNG_FLAG_NONBLOCK);
        if (rv != NNG_EAGAIN) return rv;
        if (!connected(a) || fa__agent_mono_ns() >= deadline) return rv;
        wait_writable(a, deadline);
    }
}

static uint64_t send_deadline(const fa_agent_t *a) {
    return fa__agent_mono_ns() + (uint64_t)a->desc.send_wait_ms * 1000000u;
}

static uint64_t own_drops(const fa_agent_t *a) {
    return fa__read(&a->sender.drop_send_failed) + fa__read(&a->sender.drop_disconnected);
}

static void sent(fa_agent_t *a, sender_state_t *st, size_t len) {
    st->next_seq++;
    fa__count(&a->sender.messages_sent, 1);
    fa__count(&a->sender.bytes_sent, len);
}

/* Logs connection changes seen since the last call. */
static void track_connection(fa_agent_t *a, sender_state_t *st) {
    bool now = connected(a);
    if (now == st->was_connected) return;
    st->was_connected = now;
    fa__agent_log(a, now ? FA_AGENT_LOG_CONNECTED : FA_AGENT_LOG_DISCONNECTED, 0,
                  fa__read(&a->link.connects), a->desc.url);
}

/* Sends the HELLO the game thread encoded, if any. */
static bool send_hello(fa_agent_t *a, sender_state_t *st) {
    if (atomic_load_explicit(&a->hello.state, memory_order_acquire) != FA__HELLO_READY) return false;
    if (connected(a)) {
        put_le(a->hello.buf + FA__AGENT_SEQ_OFFSET, st->next_seq, 8);
        int rv = send_until(a, a->hello.buf, a->hello.len, send_deadline(a));
        if (rv == 0) {
            sent(a, st, a->hello.len);
            st->sent_gen = a->hello.gen;
            fa__count(&a->sender.hellos_sent, 1);
            fa__agent_log(a, FA_AGENT_LOG_HELLO_SENT, 0, a->hello.gen, NULL);
        } else {
            /* Ask for another one; frames wait for it. */
            atomic_fetch_add_explicit(&a->link.want_gen, 1, memory_order_acq_rel);
            fa__agent_log(a, FA_AGENT_LOG_SEND_FAILED, rv, FA_PROTO_HELLO, nng_strerror(rv));
        }
    }
    /* Not connected: discarded; the next connection asks for a new one. */
    atomic_store_explicit(&a->hello.state, FA__HELLO_FREE, memory_order_release);
    return true;
}

/* Sends what the ring holds, in order. Returns whether it did anything. */
static bool drain_ring(fa_agent_t *a, sender_state_t *st) {
    bool did = false;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        bool is_frame = slot->type == FA_PROTO_FRAME;
        if (!connected(a)) {
            if (is_frame) fa__count(&a->sender.drop_disconnected, 1);
            fa__ring_pop(&a->ring);
            did = true;
            continue;
        }
        /* The current connection's HELLO goes first. */
        if (atomic_load_explicit(&a->link.want_gen, memory_order_acquire) != st->sent_gen) break;
        if (is_frame) {
            uint64_t dropped = (slot->game_drops - st->game_drops_at_frame) + (own_drops(a) - st->own_drops_at_frame);
            put_le(slot->data + FA__AGENT_FRAMES_DROPPED_OFFSET, dropped > UINT32_MAX ? UINT32_MAX : dropped, 4);
        }
        put_le(slot->data + FA__AGENT_SEQ_OFFSET, st->next_seq, 8);
        int rv = send_until(a, slot->data, slot->len, send_deadline(a));
        if (rv == 0) {
            sent(a, st, slot->len);
            if (is_frame) {
                fa__count(&a->sender.frames_sent, 1);
                st->game_drops_at_frame = slot->game_drops;
                st->own_drops_at_frame = own_drops(a);
            } else {
                fa__count(&a->sender.tags_sent, 1);
            }
        } else {
            if (is_frame) {
                fa__count(connected(a) ? &a->sender.drop_send_failed : &a->sender.drop_disconnected, 1);
            } else {
                /* A lost TAGS would leave the daemon without names: resync
                 * with a full HELLO rather than retry. */
                atomic_fetch_add_explicit(&a->link.want_gen, 1, memory_order_acq_rel);
            }
            fa__agent_log(a, FA_AGENT_LOG_SEND_FAILED, rv, slot->type, nng_strerror(rv));
        }
        fa__ring_pop(&a->ring);
        did = true;
    }
    return did;
}

static bool nothing_pending(fa_agent_t *a) {
    return fa__ring_peek(&a->ring) == NULL &&
           atomic_load_explicit(&a->hello.state, memory_order_acquire) != FA__HELLO_READY;
}

/* The end of a session: drop what is left, send the BYE, wait for it to
 * leave. Runs after the flush phase. */
static void finish(fa_agent_t *a, sender_state_t *st) {
    uint64_t left = 0;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        if (slot->type == FA_PROTO_FRAME) {
            fa__count(connected(a) ? &a->sender.drop_send_failed : &a->sender.drop_disconnected, 1);
            left++;
        }
        fa__ring_pop(&a->ring);
    }
    atomic_store_explicit(&a->hello.state, FA__HELLO_FREE, memory_order_release);
    atomic_store_explicit(&a->sender.flushed, left == 0, memory_order_relaxed);
    if (left) fa__agent_log(a, FA_AGENT_LOG_FLUSH_TIMEOUT, 0, left, NULL);

    /* The game thread no longer runs the hook (stop removed it before
     * releasing `stopping`): its counters are final. */
    fa_proto_drop_t drops[4] = {
        {FA_PROTO_DROP_RING_FULL, fa__read(&a->game.drop_ring_full)},
        {FA_PROTO_DROP_SEND_FAILED, fa__read(&a->sender.drop_send_failed)},
        {FA_PROTO_DROP_ENCODE_FAILED, fa__read(&a->game.drop_encode_failed)},
        {FA_PROTO_DROP_DISCONNECTED, fa__read(&a->game.drop_disconnected) + fa__read(&a->sender.drop_disconnected)},
    };
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_BYE;
    m.header.session_id = a->meta.session_id;
    m.header.seq = st->next_seq;
    m.bye.frames_sent = fa__read(&a->sender.frames_sent);
    for (int i = 0; i < 4; i++) m.bye.frames_dropped += drops[i].count;
    m.bye.drops = drops;
    m.bye.drop_count = 4;
    int len = fa_proto_encode(&m, a->sender.bye_buf, sizeof a->sender.bye_buf);
    int rv = NNG_ECLOSED;
    if (len > 0 && connected(a)) rv = send_until(a, a->sender.bye_buf, (size_t)len, a->stop_deadline_ns);
    if (rv == 0) {
        sent(a, st, (size_t)len);
        /* With an unbuffered socket the send fd turns readable again once
         * the BYE was written to the connection: then closing loses nothing. */
        uint64_t deadline = a->stop_deadline_ns;
        while (connected(a) && fa__agent_mono_ns() < deadline) {
            struct pollfd pfd = {.fd = a->link.send_fd, .events = POLLIN};
            if (poll(&pfd, 1, 0) > 0) break;
            wait_writable(a, deadline);
        }
        atomic_store_explicit(&a->sender.bye_sent, true, memory_order_relaxed);
        fa__agent_log(a, FA_AGENT_LOG_BYE_SENT, 0, m.bye.frames_sent, NULL);
    } else {
        fa__agent_log(a, FA_AGENT_LOG_BYE_NOT_SENT, rv, m.bye.frames_dropped, NULL);
    }
}

void *fa__agent_sender_main(void *arg) {
    fa_agent_t *a = arg;
    sender_state_t st;
    memset(&st, 0, sizeof st);
    for (;;) {
        bool stopping = atomic_load_explicit(&a->stopping, memory_order_acquire);
        track_connection(a, &st);
        bool busy = send_hello(a, &st);
        busy |= drain_ring(a, &st);
        uint64_t now = fa__agent_mono_ns();
        if (a->emit.enabled) fa__agent_emit_tick(a, now);
        if (stopping) {
            /* Flush for three quarters of the time-out; the rest is the
             * BYE's. Without a daemon there is nothing to wait for. */
            uint64_t flush_end = a->stop_start_ns + (a->stop_deadline_ns - a->stop_start_ns) / 4 * 3;
            if (nothing_pending(a) || !connected(a) || now >= flush_end) break;
        }
        if (!busy) sleep_ns((uint64_t)a->desc.idle_sleep_us * 1000u);
    }
    track_connection(a, &st);
    finish(a, &st);
    return NULL;
}
