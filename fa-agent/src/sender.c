/*
 * sender.c — the agent's transport: the nng PUSH socket, its pipe callbacks,
 * and the sender thread that turns ring snapshots into messages and ships
 * them with non-blocking sends, and appends them to the capture file.
 *
 * The daemon and the capture file are two sinks: each gets a complete
 * session of its own (HELLO first, its own seq, its own TAGS, its own drop
 * counts); a snapshot's FRAME is built once and encoded for each.
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
#include <nng/supplemental/tls/tls.h>
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
    if ((rv = nng_dialer_create(&a->link.dialer, a->link.sock, d->url)) != 0) {
        fa__agent_log(a, FA_AGENT_LOG_DIAL_FAILED, rv, 0, d->url);
        nng_close(a->link.sock);
        return map_nng(rv);
    }
    /* tls+tcp://: the daemon's certificate is verified against the CA file,
     * and its name against the URL's host (nng's client default). Without
     * a CA nothing could be verified: refused rather than unauthenticated. */
    if (strncmp(d->url, "tls+", 4) == 0 &&
        (rv = d->tls_ca_file ? nng_dialer_set_string(a->link.dialer, NNG_OPT_TLS_CA_FILE, d->tls_ca_file)
                             : NNG_EINVAL) != 0) {
        fa__agent_log(a, FA_AGENT_LOG_TLS_FAILED, rv, 0,
                      d->tls_ca_file ? d->tls_ca_file : "tls+tcp:// needs tls_ca_file or $" FA_AGENT_CA_ENV);
        nng_close(a->link.sock);
        return FA_ERR_INVALID_ARG;
    }
    /* Non-blocking: returns at once and keeps redialing in the background
     * until a daemon listens. */
    if ((rv = nng_dialer_start(a->link.dialer, NNG_FLAG_NONBLOCK)) != 0) {
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
    uint32_t sent_gen;  /* connection generation whose HELLO left */
    uint64_t limit_ns;  /* stopping: no send waits beyond this */
    bool was_connected;
    uint64_t down_since_ns;    /* no daemon since (start, or the lost connection) */
    bool unreachable_reported; /* FA_AGENT_LOG_UNREACHABLE was logged for it */
} sender_state_t;

static bool connected(const fa_agent_t *a) {
    return a->link.enabled && atomic_load_explicit(&a->link.pipe_id, memory_order_acquire) != 0;
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

/* Every frame a sink has missed so far, as of this slot: for the daemon
 * the game side's drops and the sender's; for the capture file the frames
 * the ring had no room for and the writes that failed. */
static uint64_t sink_drops(const fa_agent_t *a, const fa__agent_sink_t *s, const fa__agent_slot_t *slot) {
    if (s->kind == FA__SINK_CAPTURE) return slot->ring_drops + fa__read(&a->capture.dropped);
    return slot->game_drops + own_drops(a);
}

/* Encodes m (with the sink's next seq) into the wire buffer and hands it
 * to the sink: nng (waiting until deadline at most) or the capture file.
 * 0, an nng error, a negative errno (capture), or a negative fa_proto
 * error when it could not be encoded. */
static int encode_and_deliver(fa_agent_t *a, fa__agent_sink_t *s, fa_proto_msg_t *m, uint64_t deadline) {
    m->header.session_id = a->meta.session_id;
    m->header.seq = s->next_seq;
    int len = fa_proto_encode(m, a->sender.wire, a->sender.wire_capacity);
    if (len < 0) return len;
    if (s->kind == FA__SINK_CAPTURE) {
        int rc = fa__agent_capture_write(a, a->sender.wire, (size_t)len);
        if (rc == 0) s->next_seq++;
        return rc;
    }
    int rv = send_until(a, a->sender.wire, (size_t)len, deadline);
    if (rv == 0) {
        s->next_seq++;
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
    if (!a->link.enabled) return; /* capture only: no daemon to reach */
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

static void remember(fa__agent_sink_t *s, const fa_proto_tag_def_t *defs, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        s->known_soft[defs[i].id] = defs[i].budget_soft;
        s->known_hard[defs[i].id] = defs[i].budget_hard;
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

/* A HELLO to the sink: the session and every tag of the snapshot. */
static int send_hello(fa_agent_t *a, fa__agent_sink_t *s, const fa_snapshot_t *snap, uint64_t deadline) {
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
        /* The daemon's secret goes to the daemon only: a capture file is
         * shared and read anywhere. */
        .ingest_secret = fa_proto_str(s->kind == FA__SINK_STREAM ? a->meta.ingest_secret : NULL),
    };
    int rv = encode_and_deliver(a, s, &m, deadline);
    if (rv != 0) return rv;
    remember(s, a->sender.defs, (uint32_t)n);
    s->announced = (uint32_t)n;
    s->hello_at_ns = fa__agent_mono_ns();
    /* A new connection, or a daemon that may have lost everything: the
     * sites are defined again as frames use them. */
    memset(s->sites_defined, 0, FA__AGENT_SITE_WORDS * sizeof *s->sites_defined);
    if (s->kind == FA__SINK_STREAM) {
        fa__count(&a->sender.hellos_sent, 1);
        fa__agent_log(a, FA_AGENT_LOG_HELLO_SENT, 0, (uint64_t)n, NULL);
    }
    return 0;
}

/* A TAGS to the sink for the tags that appeared and the budgets that
 * changed since its last HELLO/TAGS, if any. */
static int send_tag_changes(fa_agent_t *a, fa__agent_sink_t *s, const fa_snapshot_t *snap, uint64_t deadline) {
    uint32_t rows = snap->row_count, announced = s->announced, n = 0;
    if (announced > rows) announced = rows;
    fa_proto_tag_def_t *defs = a->sender.defs;
    for (uint32_t i = 0; i < announced; i++) {
        const fa_tag_row_t *r = &snap->rows[i];
        if (r->budget_soft != s->known_soft[i] || r->budget_hard != s->known_hard[i]) defs[n++] = def_of(r);
    }
    for (uint32_t i = announced; i < rows; i++)
        defs[n++] = def_of(&snap->rows[i]);
    if (n == 0) return 0;
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_TAGS;
    m.tags.tags = defs;
    m.tags.tag_count = n;
    int rv = encode_and_deliver(a, s, &m, deadline);
    if (rv != 0) return rv;
    remember(s, defs, n);
    if (rows > s->announced) s->announced = rows;
    if (s->kind == FA__SINK_STREAM) fa__count(&a->sender.tags_sent, 1);
    return 0;
}

/* SITES to the sink for the sites the snapshot's rows use that it has not
 * been told about since its last HELLO, FA__AGENT_SITES_PER_MESSAGE at a
 * time. A site is marked defined only once its message was delivered. */
static int send_site_definitions(fa_agent_t *a, fa__agent_sink_t *s, const fa_snapshot_t *snap,
                                 uint64_t deadline) {
    uint32_t n = 0;
    for (uint32_t i = 0; i <= snap->site_count; i++) {
        const fa_site_t *site = NULL;
        if (i < snap->site_count) {
            uint32_t id = snap->sites[i].site_id;
            if (!id || id > FA_SITE_MAX || s->sites_defined[id / 64] >> (id % 64) & 1) continue;
            site = fa_site_get(id);
            if (!site) continue; /* not in the registry: shown by number */
            bool listed = false;
            for (uint32_t k = 0; k < n && !listed; k++) listed = a->sender.site_defs[k].id == id;
            if (listed) continue; /* the same site under another tag */
            (void)fa_proto_site_def_from_site(&a->sender.site_defs[n++], site);
        }
        if (n && (n == FA__AGENT_SITES_PER_MESSAGE || i == snap->site_count)) {
            fa_proto_msg_t m;
            memset(&m, 0, sizeof m);
            m.header.type = FA_PROTO_SITES;
            m.sites.sites = a->sender.site_defs;
            m.sites.site_count = n;
            int rv = encode_and_deliver(a, s, &m, deadline);
            if (rv != 0) return rv;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t id = a->sender.site_defs[k].id;
                s->sites_defined[id / 64] |= UINT64_C(1) << (id % 64);
            }
            if (s->kind == FA__SINK_STREAM) fa__count(&a->sender.sites_sent, 1);
            n = 0;
        }
    }
    return 0;
}

/* What the sink must hear before a FRAME: a HELLO when it needs one, else
 * a TAGS for what changed; then the definitions of new sites. A lost TAGS
 * or SITES makes the next announcement a HELLO with the whole dictionary
 * (and the sites defined again). */
static int announce(fa_agent_t *a, fa__agent_sink_t *s, const fa_snapshot_t *snap, uint64_t deadline) {
    int rv;
    if (s->need_hello) {
        rv = send_hello(a, s, snap, deadline);
        if (rv == 0) s->need_hello = false;
    } else {
        rv = send_tag_changes(a, s, snap, deadline);
    }
    if (rv == 0) rv = send_site_definitions(a, s, snap, deadline);
    if (rv != 0) s->need_hello = true;
    return rv;
}

/* The FRAME m (built once per snapshot) to the sink, with the frames the
 * sink missed since its previous FRAME. */
static int send_frame(fa_agent_t *a, fa__agent_sink_t *s, fa_proto_msg_t *m, const fa__agent_slot_t *slot,
                      uint64_t deadline) {
    uint64_t total = sink_drops(a, s, slot);
    uint64_t dropped = total - s->drops_at_frame;
    m->frame.frames_dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
    int rv = encode_and_deliver(a, s, m, deadline);
    if (rv == 0) s->drops_at_frame = total;
    return rv;
}

static void count_stream_drops(fa_agent_t *a, int rv, uint64_t frames) {
    fa__count(rv < 0         ? &a->sender.drop_encode_failed
              : connected(a) ? &a->sender.drop_send_failed
                             : &a->sender.drop_disconnected,
              frames);
}
static void count_stream_drop(fa_agent_t *a, int rv) {
    count_stream_drops(a, rv, 1);
}

/* The stream's connection generation now; a new connection, or the
 * periodic repeat for a daemon that lost the HELLO (restart, full queue),
 * makes the next announcement a HELLO with the whole dictionary. */
static uint32_t stream_generation(fa_agent_t *a, const sender_state_t *st) {
    fa__agent_sink_t *s = &a->sender.stream;
    uint32_t want = atomic_load_explicit(&a->link.want_gen, memory_order_acquire);
    bool due = fa__agent_mono_ns() - s->hello_at_ns >= (uint64_t)a->desc.hello_interval_ms * 1000000u;
    if (want != st->sent_gen || due) s->need_hello = true;
    return want;
}

/* One snapshot for the daemon: HELLO or TAGS first when needed, then the
 * FRAME. A frame that cannot be sent is dropped and counted. */
static void stream_snapshot(fa_agent_t *a, sender_state_t *st, const fa__agent_slot_t *slot, fa_proto_msg_t *m) {
    if (!connected(a)) {
        fa__count(&a->sender.drop_disconnected, 1);
        return;
    }
    fa__agent_sink_t *s = &a->sender.stream;
    uint32_t want = stream_generation(a, st);
    int rv = announce(a, s, &slot->snap, send_deadline(a, st));
    if (rv == 0) {
        st->sent_gen = want;
        rv = send_frame(a, s, m, slot, send_deadline(a, st));
    }
    if (rv == 0)
        fa__count(&a->sender.frames_sent, 1);
    else
        count_stream_drop(a, rv);
}

/* ---- 1.2: frames batched in FRAMES, tag rows as deltas ------------------ */

/* Whether the stream must hear a HELLO, TAGS or SITES before snap's frame
 * (what announce() would send), so that a batch is sent before them and
 * every message keeps its place in the session's order. */
static bool announce_pending(const fa__agent_sink_t *s, const fa_snapshot_t *snap) {
    if (s->need_hello || snap->row_count > s->announced) return true;
    for (uint32_t i = 0; i < snap->row_count; i++)
        if (snap->rows[i].budget_soft != s->known_soft[i] || snap->rows[i].budget_hard != s->known_hard[i])
            return true;
    for (uint32_t i = 0; i < snap->site_count; i++) {
        uint32_t id = snap->sites[i].site_id;
        if (id && id <= FA_SITE_MAX && !(s->sites_defined[id / 64] >> (id % 64) & 1) && fa_site_get(id))
            return true;
    }
    return false;
}

/* Sends the FRAMES being built, if it holds any frame. When it cannot be
 * sent, its frames are dropped and counted, and the next frame is a key
 * (the daemon never saw the frame a delta would follow). */
static int flush_batch(fa_agent_t *a, const sender_state_t *st) {
    fa_proto_batch_t *b = &a->sender.batch;
    uint32_t frames = b->count;
    if (frames == 0) return 0;
    fa__agent_sink_t *s = &a->sender.stream;
    fa_proto_header_t h = {.type = FA_PROTO_FRAMES, .session_id = a->meta.session_id, .seq = s->next_seq};
    int len = fa_proto_batch_finish(b, &h);
    int rv = len < 0 ? len : send_until(a, a->sender.batch_wire, (size_t)len, send_deadline(a, st));
    (void)fa_proto_batch_init(b, a->sender.batch_wire, a->sender.batch_capacity);
    if (rv == 0) {
        s->next_seq++;
        fa__count(&a->sender.messages_sent, 1);
        fa__count(&a->sender.bytes_sent, (uint64_t)len);
        fa__count(&a->sender.frames_sent, frames);
        return 0;
    }
    if (len >= 0) fa__agent_log(a, FA_AGENT_LOG_SEND_FAILED, rv, FA_PROTO_FRAMES, nng_strerror(rv));
    count_stream_drops(a, rv, frames);
    s->drops_at_frame = a->sender.batch_drops_at;
    a->sender.prev_valid = false;
    return rv;
}

/* Adds the snapshot's FRAME m to the batch: a delta against the frame
 * added before it, or a key (the first, one every keyframe_interval, and
 * after a loss). The whole rows become the next delta's base. */
static int add_entry(fa_agent_t *a, const fa__agent_slot_t *slot, const fa_proto_msg_t *m) {
    fa__agent_sink_t *s = &a->sender.stream;
    fa_proto_frame_entry_t e = {.frame = m->frame, .tag_rows = m->frame.tag_count};
    uint64_t total = sink_drops(a, s, slot), dropped = total - s->drops_at_frame;
    e.frame.frames_dropped = dropped > UINT32_MAX ? UINT32_MAX : (uint32_t)dropped;
    int n = -1;
    if (a->sender.prev_valid && a->sender.since_key < a->desc.keyframe_interval)
        n = fa_proto_tag_rows_delta(a->sender.prev_rows, a->sender.prev_count, e.frame.tags, e.tag_rows,
                                    a->sender.delta_rows);
    if (n >= 0) {
        e.delta = true;
        e.base_frame = a->sender.prev_frame;
        e.frame.tags = a->sender.delta_rows;
        e.frame.tag_count = (uint32_t)n;
    }
    if (a->sender.batch.count == 0) a->sender.batch_drops_at = s->drops_at_frame;
    int rc = fa_proto_batch_add(&a->sender.batch, &e);
    if (rc < 0) return rc;
    s->drops_at_frame = total;
    a->sender.since_key = e.delta ? a->sender.since_key + 1 : 1;
    fa_proto_tag_stat_t *whole = a->sender.tag_stats; /* m's rows: kept, not copied */
    a->sender.tag_stats = a->sender.prev_rows;
    a->sender.prev_rows = whole;
    a->sender.prev_count = e.tag_rows;
    a->sender.prev_frame = e.frame.frame;
    a->sender.prev_valid = true;
    return 0;
}

/* One snapshot for a 1.2 daemon: HELLO, TAGS or SITES first when needed
 * (after sending the batch before them), then its frame into the batch,
 * which drain_ring() sends once the ring is empty or it is full. */
static void stream_batch_snapshot(fa_agent_t *a, sender_state_t *st, const fa__agent_slot_t *slot,
                                  const fa_proto_msg_t *m) {
    if (!connected(a)) {
        (void)flush_batch(a, st); /* fails and counts its frames */
        fa__count(&a->sender.drop_disconnected, 1);
        return;
    }
    fa__agent_sink_t *s = &a->sender.stream;
    uint32_t want = stream_generation(a, st);
    if (announce_pending(s, &slot->snap)) (void)flush_batch(a, st);
    int rv = announce(a, s, &slot->snap, send_deadline(a, st));
    if (rv != 0) {
        count_stream_drop(a, rv);
        return;
    }
    if (want != st->sent_gen) a->sender.prev_valid = false; /* a new connection starts with a key */
    st->sent_gen = want;
    rv = add_entry(a, slot, m);
    if (rv == FA_PROTO_ERR_BUFFER_SMALL || rv == FA_PROTO_ERR_TOO_LARGE || rv == FA_PROTO_ERR_TOO_MANY_ROWS) {
        (void)flush_batch(a, st); /* full: this frame starts the next one */
        rv = add_entry(a, slot, m);
    }
    if (rv != 0) count_stream_drop(a, rv);
}

/* One snapshot for the capture file, with the same session rules. */
static void capture_snapshot(fa_agent_t *a, const fa__agent_slot_t *slot, fa_proto_msg_t *m) {
    fa__agent_sink_t *s = &a->capture.sink;
    int rv = announce(a, s, &slot->snap, UINT64_MAX);
    if (rv == 0) rv = send_frame(a, s, m, slot, UINT64_MAX);
    fa__count(rv == 0 ? &a->capture.frames : &a->capture.dropped, 1);
}

/* A snapshot's FRAME is built once, then given to each sink it is for. */
static void deliver_snapshot(fa_agent_t *a, sender_state_t *st, const fa__agent_slot_t *slot) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    (void)fa_proto_frame_from_snapshot(&m.frame, &slot->snap, a->sender.tag_stats, a->desc.max_tags,
                                       a->sender.thread_rows, a->desc.max_threads);
    (void)fa_proto_frame_findings_from_snapshot(&m.frame, &slot->snap, a->sender.findings,
                                                a->desc.max_findings);
    (void)fa_proto_frame_sites_from_snapshot(&m.frame, &slot->snap, a->sender.site_rows, a->desc.max_site_rows);
    /* The capture first: the 1.2 stream keeps m's tag rows as its base. */
    if (slot->capture) capture_snapshot(a, slot, &m);
    if (slot->send && a->desc.protocol_minor >= 2)
        stream_batch_snapshot(a, st, slot, &m);
    else if (slot->send)
        stream_snapshot(a, st, slot, &m);
}

/* What the ring holds, in order, until st->limit_ns. Returns whether there
 * was anything. */
static bool drain_ring(fa_agent_t *a, sender_state_t *st) {
    bool did = false;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        if (st->limit_ns != UINT64_MAX && fa__agent_mono_ns() >= st->limit_ns) break;
        /* The game thread left the tag rows unsummed and the site pairs
         * unranked (hook.c). */
        (void)fa_snapshot_finish(&slot->snap, a->sender.ranked_sites, a->sender.rank_work,
                                 a->sender.rank_work_count);
        if (slot->emit) fa__agent_emit_serve(a, &slot->snap);
        if (slot->send || slot->capture) deliver_snapshot(a, st, slot);
        fa__ring_pop(&a->ring);
        did = true;
        /* A frame waits in the batch only while more are waiting behind
         * it: the sender is behind. Otherwise it leaves now. */
        if (a->sender.batch.count >= a->desc.max_batch || !fa__ring_peek(&a->ring)) (void)flush_batch(a, st);
    }
    (void)flush_batch(a, st);
    return did;
}

/* A BYE with frames sent and drops by reason. */
static int send_bye(fa_agent_t *a, fa__agent_sink_t *s, uint64_t frames_sent, const fa_proto_drop_t drops[4],
                    uint64_t deadline, fa_proto_msg_t *m) {
    memset(m, 0, sizeof *m);
    m->header.type = FA_PROTO_BYE;
    m->bye.frames_sent = frames_sent;
    for (int i = 0; i < 4; i++)
        m->bye.frames_dropped += drops[i].count;
    m->bye.drops = drops;
    m->bye.drop_count = 4;
    return encode_and_deliver(a, s, m, deadline);
}

/* The stream's end: the BYE, and a wait for it to leave. */
static void finish_stream(fa_agent_t *a) {
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
    int rv = connected(a) ? send_bye(a, &a->sender.stream, fa__read(&a->sender.frames_sent), drops,
                                     a->stop_deadline_ns, &m)
                          : NNG_ECLOSED;
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

/* The capture's end: its BYE (a failed write is the file's "send"
 * failure), then to disk and closed. */
static void finish_capture(fa_agent_t *a) {
    fa_proto_drop_t drops[4] = {
        {FA_PROTO_DROP_RING_FULL, fa__read(&a->game.drop_ring_full)},
        {FA_PROTO_DROP_SEND_FAILED, fa__read(&a->capture.dropped)},
        {FA_PROTO_DROP_ENCODE_FAILED, 0},
        {FA_PROTO_DROP_DISCONNECTED, 0},
    };
    fa_proto_msg_t m;
    a->capture.bye_written = send_bye(a, &a->capture.sink, fa__read(&a->capture.frames), drops, UINT64_MAX, &m) == 0;
    fa__agent_log(a, a->capture.bye_written ? FA_AGENT_LOG_BYE_SENT : FA_AGENT_LOG_BYE_NOT_SENT, 0,
                  m.bye.frames_sent, a->capture.path);
    fa__agent_capture_close(a);
}

/* The end of a session: drop what is left, then each sink's BYE. Runs
 * after the flush phase. */
static void finish(fa_agent_t *a) {
    uint64_t left = 0;
    fa__agent_slot_t *slot;
    while ((slot = fa__ring_peek(&a->ring)) != NULL) {
        if (slot->send) fa__count(connected(a) ? &a->sender.drop_send_failed : &a->sender.drop_disconnected, 1);
        if (slot->capture) fa__count(&a->capture.dropped, 1);
        left += slot->send || slot->capture;
        fa__ring_pop(&a->ring);
    }
    atomic_store_explicit(&a->sender.flushed, left == 0, memory_order_relaxed);
    if (left) fa__agent_log(a, FA_AGENT_LOG_FLUSH_TIMEOUT, 0, left, NULL);
    if (a->link.enabled) finish_stream(a);
    if (a->capture.enabled) finish_capture(a);
}

void *fa__agent_sender_main(void *arg) {
    fa_agent_t *a = arg;
    sender_state_t st;
    memset(&st, 0, sizeof st);
    st.limit_ns = UINT64_MAX;
    a->capture.sink.need_hello = true; /* the file starts with its HELLO */
    if (a->desc.protocol_minor >= 2)
        (void)fa_proto_batch_init(&a->sender.batch, a->sender.batch_wire, a->sender.batch_capacity);
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
    finish(a);
    return NULL;
}
