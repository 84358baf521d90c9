/*
 * sender.c — the agent's transport: the nng PUSH socket, its pipe callbacks,
 * and the sender thread that turns ring snapshots into messages and ships
 * them with non-blocking sends.
 *
 * Session rules kept here:
 *   - every connection starts with a HELLO carrying the full dictionary,
 *     built from the first snapshot taken after the connection (seq 0 for
 *     the session's first message);
 *   - before a FRAME whose snapshot has tags the daemon was not told about,
 *     or changed budgets, a TAGS; if a HELLO or TAGS cannot be sent, the
 *     next snapshot re-announces the whole dictionary with a HELLO;
 *   - while no daemon is connected, snapshots are dropped (counted
 *     "disconnected"), so nothing stale waits in nng for the next
 *     connection;
 *   - seq counts the messages handed to nng, and a FRAME's frames_dropped
 *     counts the frames dropped since the previous FRAME handed to nng (both
 *     are known only here, at send time).
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
    case 0:
        return FA_OK;
    case NNG_ENOMEM:
        return FA_ERR_NO_MEMORY;
    case NNG_EADDRINVAL:
    case NNG_EINVAL:
    case NNG_ENOTSUP:
    case NNG_EPROTO:
        return FA_ERR_INVALID_ARG;
    default:
        return FA_ERR_SYSTEM;
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
    uint32_t sent_gen;            /* connection generation whose HELLO left */
    bool need_hello;              /* a HELLO/TAGS failed: re-announce */
    uint64_t hello_at_ns;         /* when the last HELLO left */
    uint64_t game_drops_at_frame; /* game-side drops before the last FRAME sent */
    uint64_t own_drops_at_frame;  /* sender drops when the last FRAME was sent */
    uint64_t limit_ns;            /* stopping: no send waits beyond this */
    bool was_connected;
    uint64_t down_since_ns;    /* no daemon since (start, or the lost connection) */
    bool unreachable_reported; /* FA_AGENT_LOG_UNREACHABLE was logged for it */
} sender_state_t;

static bool connected(const fa_agent_t *a) {
    return atomic_load_explicit(&a->link.pipe_id, memory_order_acquire) != 0;
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

static uint64_t own_drops(const fa_agent_t *a) {
    return fa__read(&a->sender.drop_send_failed) + fa__read(&a->sender.drop_disconnected) +
           fa__read(&a->sender.drop_encode_failed);
}

/* Encodes m (with the next seq) into the wire buffer and sends it. 0, an
 * nng error, or a negative fa_proto error when it could not be encoded. */
static int encode_and_send(fa_agent_t *a, sender_state_t *st, fa_proto_msg_t *m, uint64_t deadline) {
    m->header.session_id = a->meta.session_id;
    m->header.seq = st->next_seq;
    int len = fa_proto_encode(m, a->sender.wire, a->sender.wire_capacity);
    if (len < 0) return len;
    int rv = send_until(a, a->sender.wire, (size_t)len, deadline);
    if (rv == 0) {
        st->next_seq++;
        fa__count(&a->sender.messages_sent, 1);
        fa__count(&a->sender.bytes_sent, (uint64_t)len);
    } else {
        fa__agent_log(a, FA_AGENT_LOG_SEND_FAILED, rv, m->header.type, nng_strerror(rv));
    }
    return rv;
}

static uint64_t send_deadline(const fa_agent_t *a, const sender_state_t *st) {
    uint64_t d = fa__agent_mono_ns() + (uint64_t)a->desc.send_wait_ms * 1000000u;
    return d < st->limit_ns ? d : st->limit_ns;
}

/* Logs connection changes seen since the last call, a daemon unreachable
 * for unreachable_ms (once per outage: a wrong URL is not silent), and its
 * return after that. */
static void track_connection(fa_agent_t *a, sender_state_t *st) {
    bool now = connected(a);
    uint64_t t = fa__agent_mono_ns();
    if (now == st->was_connected) {
        if (!now && !st->unreachable_reported &&
            t - st->down_since_ns >= (uint64_t)a->desc.unreachable_ms * 1000000u) {
            st->unreachable_reported = true;
            fa__agent_log(a, FA_AGENT_LOG_UNREACHABLE, 0, (t - st->down_since_ns) / 1000000u, a->desc.url);
        }
        return;
    }
    st->was_connected = now;
    fa__agent_log(a, now ? FA_AGENT_LOG_CONNECTED : FA_AGENT_LOG_DISCONNECTED, 0, fa__read(&a->link.connects),
                  a->desc.url);
    if (now && st->unreachable_reported)
        fa__agent_log(a, FA_AGENT_LOG_REACHABLE, 0, (t - st->down_since_ns) / 1000000u, a->desc.url);
    st->unreachable_reported = false;
    st->down_since_ns = t;
}

static void remember(fa_agent_t *a, const fa_proto_tag_def_t *defs, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        a->sender.known_soft[defs[i].id] = defs[i].budget_soft;
        a->sender.known_hard[defs[i].id] = defs[i].budget_hard;
    }
}

static fa_proto_tag_def_t def_of(const fa_tag_row_t *r) {
    return (fa_proto_tag_def_t){
        .id = r->id,
        .parent_id = r->parent_id,
        .budget_soft = r->budget_soft,
        .budget_hard = r->budget_hard,
        .path = fa_proto_str(r->path),
    };
}

/* The HELLO of a connection: the session and every tag of the snapshot. */
static int send_hello(fa_agent_t *a, sender_state_t *st, const fa_snapshot_t *snap) {
    int n = fa_proto_tag_defs_from_snapshot(snap, 0, a->sender.defs, a->desc.max_tags);
    if (n < 0) n = 0;
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.hello = (fa_proto_hello_t){
        .pid = a->meta.pid,
        .lib_version = (FA_VERSION_MAJOR << 16) | (FA_VERSION_MINOR << 8) | FA_VERSION_PATCH,
        .start_unix_ns = a->meta.start_unix_ns,
        .start_mono_ns = a->meta.start_mono_ns,
        .app_name = fa_proto_str(a->meta.app_name),
        .session_label = fa_proto_str(a->meta.session_label),
        .host = fa_proto_str(a->meta.host),
        .build_id = fa_proto_str(a->meta.build_id),
        .tags = a->sender.defs,
        .tag_count = (uint32_t)n,
    };
    int rv = encode_and_send(a, st, &m, send_deadline(a, st));
    if (rv != 0) return rv;
    remember(a, a->sender.defs, (uint32_t)n);
    a->sender.announced = (uint32_t)n;
    st->hello_at_ns = fa__agent_mono_ns();
    fa__count(&a->sender.hellos_sent, 1);
    fa__agent_log(a, FA_AGENT_LOG_HELLO_SENT, 0, (uint64_t)n, NULL);
    return 0;
}

/* A TAGS for the tags that appeared and the budgets that changed since the
 * last HELLO/TAGS, if any. */
static int send_tag_changes(fa_agent_t *a, sender_state_t *st, const fa_snapshot_t *snap) {
    uint32_t rows = snap->row_count, announced = a->sender.announced, n = 0;
    if (announced > rows) announced = rows;
    fa_proto_tag_def_t *defs = a->sender.defs;
    for (uint32_t i = 0; i < announced; i++) {
        const fa_tag_row_t *r = &snap->rows[i];
        if (r->budget_soft != a->sender.known_soft[i] || r->budget_hard != a->sender.known_hard[i])
            defs[n++] = def_of(r);
    }
    for (uint32_t i = announced; i < rows; i++)
        defs[n++] = def_of(&snap->rows[i]);
    if (n == 0) return 0;
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_TAGS;
    m.tags.tags = defs;
    m.tags.tag_count = n;
    int rv = encode_and_send(a, st, &m, send_deadline(a, st));
    if (rv != 0) return rv;
    remember(a, defs, n);
    if (rows > a->sender.announced) a->sender.announced = rows;
    fa__count(&a->sender.tags_sent, 1);
    return 0;
}

/* One snapshot meant for the daemon: HELLO or TAGS first when needed, then
 * the FRAME. A frame that cannot be sent is dropped and counted. */
static void send_snapshot(fa_agent_t *a, sender_state_t *st, const fa__agent_slot_t *slot) {
    if (!connected(a)) {
        fa__count(&a->sender.drop_disconnected, 1);
        return;
    }
    const fa_snapshot_t *snap = &slot->snap;
    uint32_t want = atomic_load_explicit(&a->link.want_gen, memory_order_acquire);
    int rv;
    bool due = fa__agent_mono_ns() - st->hello_at_ns >= (uint64_t)a->desc.hello_interval_ms * 1000000u;
    if (want != st->sent_gen || st->need_hello || due) {
        rv = send_hello(a, st, snap);
        if (rv == 0) {
            st->sent_gen = want;
            st->need_hello = false;
        }
    } else {
        rv = send_tag_changes(a, st, snap);
        if (rv != 0) st->need_hello = true; /* a lost TAGS: re-announce everything */
    }
    if (rv != 0) {
        fa__count(rv < 0         ? &a->sender.drop_encode_failed
                  : connected(a) ? &a->sender.drop_send_failed
                                 : &a->sender.drop_disconnected,
                  1);
        return;
    }
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    (void)fa_proto_frame_from_snapshot(&m.frame, snap, a->sender.tag_stats, a->desc.max_tags,
                                       a->sender.thread_rows, a->desc.max_threads);
    (void)fa_proto_frame_findings_from_snapshot(&m.frame, snap, a->sender.findings, a->desc.max_findings);
    uint64_t own = own_drops(a);
    uint64_t dropped = (slot->game_drops - st->game_drops_at_frame) + (own - st->own_drops_at_frame);
    m.frame.frames_dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
    rv = encode_and_send(a, st, &m, send_deadline(a, st));
    if (rv == 0) {
        fa__count(&a->sender.frames_sent, 1);
        st->game_drops_at_frame = slot->game_drops;
        st->own_drops_at_frame = own;
    } else {
        fa__count(rv < 0         ? &a->sender.drop_encode_failed
                  : connected(a) ? &a->sender.drop_send_failed
                                 : &a->sender.drop_disconnected,
                  1);
    }
}

/* What the ring holds, in order, until st->limit_ns. Returns whether there
 * was anything. */
static bool drain_ring(fa_agent_t *a, sender_state_t *st) {
    bool did = false;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        if (st->limit_ns != UINT64_MAX && fa__agent_mono_ns() >= st->limit_ns) break;
        if (slot->emit) fa__agent_emit_serve(a, &slot->snap);
        if (slot->send) send_snapshot(a, st, slot);
        fa__ring_pop(&a->ring);
        did = true;
    }
    return did;
}

/* The end of a session: drop what is left, send the BYE, wait for it to
 * leave. Runs after the flush phase. */
static void finish(fa_agent_t *a, sender_state_t *st) {
    uint64_t left = 0;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        if (slot->send) {
            fa__count(connected(a) ? &a->sender.drop_send_failed : &a->sender.drop_disconnected, 1);
            left++;
        }
        fa__ring_pop(&a->ring);
    }
    atomic_store_explicit(&a->sender.flushed, left == 0, memory_order_relaxed);
    if (left) fa__agent_log(a, FA_AGENT_LOG_FLUSH_TIMEOUT, 0, left, NULL);

    /* The game thread no longer runs the hook (stop removed it before
     * releasing `stopping`): its counters are final. */
    fa_proto_drop_t drops[4] = {
        {FA_PROTO_DROP_RING_FULL, fa__read(&a->game.drop_ring_full)},
        {FA_PROTO_DROP_SEND_FAILED, fa__read(&a->sender.drop_send_failed)},
        {FA_PROTO_DROP_ENCODE_FAILED, fa__read(&a->sender.drop_encode_failed)},
        {FA_PROTO_DROP_DISCONNECTED,
         fa__read(&a->game.drop_disconnected) + fa__read(&a->sender.drop_disconnected)},
    };
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_BYE;
    m.bye.frames_sent = fa__read(&a->sender.frames_sent);
    for (int i = 0; i < 4; i++)
        m.bye.frames_dropped += drops[i].count;
    m.bye.drops = drops;
    m.bye.drop_count = 4;
    int rv = connected(a) ? encode_and_send(a, st, &m, a->stop_deadline_ns) : NNG_ECLOSED;
    if (rv == 0) {
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
    st.limit_ns = UINT64_MAX;
    st.down_since_ns = fa__agent_mono_ns();
    for (;;) {
        bool stopping = atomic_load_explicit(&a->stopping, memory_order_acquire);
        /* Flush for three quarters of the stop time-out; the rest is the
         * BYE's. */
        if (stopping) st.limit_ns = a->stop_start_ns + (a->stop_deadline_ns - a->stop_start_ns) / 4 * 3;
        track_connection(a, &st);
        bool busy = drain_ring(a, &st);
        uint64_t now = fa__agent_mono_ns();
        if (a->emit.enabled) fa__agent_emit_tick(a, now);
        /* The game thread is gone once stopping is seen (the hook was
         * removed first): the drain above emptied the ring, or ran out of
         * time and finish() drops the rest. */
        if (stopping) break;
        if (!busy) sleep_ns((uint64_t)a->desc.idle_sleep_us * 1000u);
    }
    track_connection(a, &st);
    finish(a, &st);
    return NULL;
}
