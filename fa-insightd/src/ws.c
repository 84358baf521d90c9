/* ws.c — the WebSocket live stream (see ws.h).
 *
 * nng traps handled here:
 *  - A stream's send queue is unbounded: each client has at most ONE send
 *    in flight. Frames are not queued per client at all: a client
 *    remembers, per stream (a session with frames), how many frames it has
 *    been told about; when its send slot is free and its rate allows, it
 *    gets the newest frame of the next stream with news, and the frames it
 *    skipped are counted as merged. Events (alerts, sessions) wait in a
 *    small ring per client; a full ring drops the oldest (counted).
 *  - A close is noticed through the posted receive, but nng 1.5.2 loses
 *    it when the peer's close arrives while no receive is posted (between
 *    two of our receives: likely when a message spans several): the
 *    receive posted afterwards never completes. So after posting one (and
 *    every second) the client asks the stream for an option; a closed
 *    stream answers NNG_ECLOSED and the client is closed at once.
 *  - nng answers pings itself and queues its pongs without bound when the
 *    peer does not read. The kernel's count of bytes received from each
 *    client (netdiag.c) reveals a peer sending far more than its messages.
 *  - A client offering a subprotocol fails the handshake unless the
 *    listener set NNG_OPT_WS_PROTOCOL, and a listener that sets it refuses
 *    clients offering none: hence two paths.
 *  - A failed accept is retried after a back-off, never at once.
 *  - nng_stream_close / nng_aio_stop are called on the loop thread with no
 *    lock held; the aio callbacks take only the event-queue lock. */
#include "ws.h"

#include <arpa/inet.h>
#include <malloc.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "alerts.h"
#include "clock.h"
#include "conns.h"
#include "ctx.h"
#include "framealloc.h"
#include "json.h"
#include "log.h"
#include "netdiag.h"
#include "sid.h"
#include "stats.h"

#define WS_EVENT_QUEUE 256u
/* Client messages are small JSON objects: a frame of ours never holds
 * more than one receive buffer. */
#define WS_RECV_BUF 4096u
#define WS_MAX_CLIENT_MESSAGE 65536u
#define WS_SEND_MAX_FRAME (8u * 1024u * 1024u)
#define WS_SUBPROTOCOL "fa-insight.v1"
#define WS_HELLO_SESSIONS 50u
/* Bytes a client may send beyond its messages: the handshake, framing,
 * an occasional ping. */
#define WS_FLOOD_ALLOWANCE (64u * 1024u)
#define WS_FLOOD_PER_SECOND 512u
#define WS_FLOOD_CHECK_MS 200u
#define WS_PROBE_MS 1000u
/* Streams of ended sessions stay offered this long. */
#define WS_STREAM_LINGER_MS 5000u
#define ACCEPT_BACKOFF_MIN_MS 50u
#define ACCEPT_BACKOFF_MAX_MS 2000u

typedef struct ws_client ws_client_t;
typedef struct ws_listener ws_listener_t;

/* A message shared by clients (refcounted, loop thread). */
typedef struct ws_buf {
    uint32_t refs;
    size_t len;
    char data[];
} ws_buf_t;

enum { EV_ACCEPT, EV_SENT, EV_RECV };

typedef struct ws_event {
    int kind;
    int result;
    size_t count;
    ws_client_t *client;
    ws_listener_t *listener;
    nng_stream *stream;
    struct ws_event *next;
} ws_event_t;

struct ws_listener {
    ws_t *w;
    const char *path;
    nng_stream_listener *l;
    nng_aio *aio;
    ws_event_t ev;
    uv_timer_t retry;
    uint64_t backoff_ms;
    bool accepting;
    bool closed;
};

/* A session whose frames clients may be offered. Slots are reused; the
 * generation tells a client's memory of an older stream apart. */
typedef struct ws_stream {
    uint64_t session_id;
    uint32_t gen;
    bool used;
    uint64_t frames;      /* the session's frame counter */
    uint64_t ended_mono;  /* 0 while live */
    ws_buf_t *body;       /* the frame message body, built lazily */
    uint64_t body_frames; /* the counter it was built for */
} ws_stream_t;

typedef struct ws_seen {
    uint32_t gen;
    uint64_t frames;
} ws_seen_t;

enum { SUB_ALL, SUB_ONE, SUB_NONE };

struct ws_client {
    ws_t *w;
    uint64_t id;
    nng_stream *stream;
    nng_aio *send_aio, *recv_aio;
    ws_event_t send_ev, recv_ev;
    bool sending, receiving, closing, refused;
    uint64_t send_started_mono, accepted_mono;
    int sub_mode;
    uint64_t sub_id;
    ws_seen_t *seen; /* by stream slot */
    uint32_t seen_cap;
    uint32_t rr; /* round-robin cursor over the streams */
    uint64_t next_frame_mono;
    ws_buf_t *events[WS_EVENT_QUEUE];
    uint32_t ev_head, ev_count;
    ws_buf_t *inflight;
    char prefix[96];
    size_t send_len;
    char rbuf[WS_RECV_BUF];
    char *acc;
    size_t acc_len;
    uint64_t received; /* payload bytes */
    netdiag_peer_t peer;
    bool have_peer;
    uint64_t sent, merged, dropped;
    ws_client_t *prev, *next;
};

struct ws {
    struct insightd_ctx *ctx;
    ws_listener_t listeners[2];
    uv_async_t async;
    uv_timer_t tick;
    pthread_mutex_t lock;
    ws_event_t *head, *tail;
    ws_client_t *clients;
    uint64_t open, refusing, next_id;
    bool closing_all;
    uint64_t frame_interval_ms, last_flood_check, last_probe;
    uint16_t port;
    netdiag_t *diag;
    bool trim_due;
    ws_stream_t *streams;
    uint32_t stream_count, stream_cap;
};

/* ---- shared buffers ----------------------------------------------------- */

static ws_buf_t *buf_take(char *text, size_t len) {
    if (!text) return NULL;
    ws_buf_t *b = malloc(sizeof *b + len + 1);
    if (b) {
        b->refs = 1;
        b->len = len;
        memcpy(b->data, text, len);
        b->data[len] = '\0';
    }
    free(text);
    return b;
}

static void buf_unref(ws_buf_t *b) {
    if (b && --b->refs == 0) free(b);
}

static ws_buf_t *buf_of(json_writer_t *w) {
    size_t len;
    char *text = jw_finish(w, &len);
    return buf_take(text, len);
}

/* ---- JSON stream splitting ---------------------------------------------- */

long ws_json_extent(const char *buf, size_t len, size_t *skip) {
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    *skip = i;
    if (i == len) return 0;
    if (buf[i] != '{' && buf[i] != '[') return -1;
    int depth = 0;
    bool in_str = false, esc = false;
    for (size_t k = i; k < len; k++) {
        char c = buf[k];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return (long)(k + 1 - i);
            if (depth < 0) return -1;
        }
    }
    return 0;
}

/* ---- event queue (nng threads -> loop) ----------------------------------- */

static void post(ws_t *w, ws_event_t *ev) {
    pthread_mutex_lock(&w->lock);
    ev->next = NULL;
    if (w->tail)
        w->tail->next = ev;
    else
        w->head = ev;
    w->tail = ev;
    pthread_mutex_unlock(&w->lock);
    uv_async_send(&w->async);
}

static void accept_cb(void *arg) {
    ws_listener_t *l = arg;
    l->ev.result = nng_aio_result(l->aio);
    l->ev.stream = l->ev.result == 0 ? nng_aio_get_output(l->aio, 0) : NULL;
    post(l->w, &l->ev);
}

static void send_cb(void *arg) {
    ws_client_t *c = arg;
    c->send_ev.result = nng_aio_result(c->send_aio);
    c->send_ev.count = nng_aio_count(c->send_aio);
    post(c->w, &c->send_ev);
}

static void recv_cb(void *arg) {
    ws_client_t *c = arg;
    c->recv_ev.result = nng_aio_result(c->recv_aio);
    c->recv_ev.count = nng_aio_count(c->recv_aio);
    post(c->w, &c->recv_ev);
}

/* ---- streams ------------------------------------------------------------ */

static ws_stream_t *stream_of(ws_t *w, uint64_t sid) {
    for (uint32_t i = 0; i < w->stream_count; i++)
        if (w->streams[i].used && w->streams[i].session_id == sid) return &w->streams[i];
    return NULL;
}

static ws_stream_t *stream_add(ws_t *w, uint64_t sid) {
    ws_stream_t *st = stream_of(w, sid);
    if (st) return st;
    uint32_t slot = 0;
    while (slot < w->stream_count && w->streams[slot].used)
        slot++;
    if (slot == w->stream_count) {
        if (w->stream_count == w->stream_cap) {
            uint32_t cap = w->stream_cap ? w->stream_cap * 2 : 64;
            ws_stream_t *grown = realloc(w->streams, cap * sizeof *grown);
            if (!grown) return NULL;
            memset(grown + w->stream_cap, 0, (cap - w->stream_cap) * sizeof *grown);
            w->streams = grown;
            w->stream_cap = cap;
        }
        w->stream_count++;
    }
    st = &w->streams[slot];
    uint32_t gen = st->gen + 1;
    *st = (ws_stream_t){.session_id = sid, .gen = gen, .used = true};
    return st;
}

/* Streams of sessions that ended a while ago (or left memory) go. */
static void prune_streams(ws_t *w) {
    uint64_t now = clock_mono_ms();
    for (uint32_t i = 0; i < w->stream_count; i++) {
        ws_stream_t *st = &w->streams[i];
        if (!st->used) continue;
        bool gone = !sessions_find(w->ctx->sessions, st->session_id);
        if (gone || (st->ended_mono && now - st->ended_mono > WS_STREAM_LINGER_MS)) {
            buf_unref(st->body);
            st->body = NULL;
            st->used = false;
        }
    }
    while (w->stream_count && !w->streams[w->stream_count - 1].used)
        w->stream_count--;
}

static ws_seen_t *seen_slot(ws_client_t *c, uint32_t slot) {
    if (slot >= c->seen_cap) {
        uint32_t cap = c->seen_cap ? c->seen_cap : 16;
        while (cap <= slot)
            cap *= 2;
        ws_seen_t *grown = realloc(c->seen, cap * sizeof *grown);
        if (!grown) return NULL;
        memset(grown + c->seen_cap, 0, (cap - c->seen_cap) * sizeof *grown);
        c->seen = grown;
        c->seen_cap = cap;
    }
    return &c->seen[slot];
}

static void body_tag(void *ud, uint16_t id, uint64_t live, uint64_t peak) {
    json_writer_t *w = ud;
    jw_begin_object(w, NULL);
    jw_u64(w, "id", id);
    jw_u64(w, "live_bytes", live);
    jw_u64(w, "peak_bytes", peak);
    jw_end_object(w);
}

/* The frame message body shared by every client: the JSON object without
 * its opening brace (each client prefixes its type and merged count). */
static ws_buf_t *frame_body(ws_t *w, ws_stream_t *st) {
    if (st->body && st->body_frames == st->frames) return st->body;
    const session_t *s = sessions_find(w->ctx->sessions, st->session_id);
    if (!s) return NULL;
    const session_info_t *i = session_info(s);
    frame_info_t last;
    session_frame_info(s, &last);
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_sid(&jw, "session", i->id);
    jw_u64(&jw, "frame", i->last_frame);
    jw_u64(&jw, "frames", i->frames);
    jw_u64(&jw, "t_ms", i->last_ms);
    jw_u64(&jw, "duration_ns", last.duration_ns);
    jw_u64(&jw, "frames_dropped", last.frames_dropped);
    view_write_totals(&jw, "totals", last.totals);
    jw_u64(&jw, "active_alerts", i->active_alerts);
    jw_begin_array(&jw, "tags");
    session_each_seen_tag(s, body_tag, &jw);
    jw_end_array(&jw);
    jw_end_object(&jw);
    ws_buf_t *b = buf_of(&jw);
    if (!b) return NULL;
    buf_unref(st->body);
    st->body = b;
    st->body_frames = i->frames;
    return b;
}

/* ---- clients (loop thread) ---------------------------------------------- */

static void pump(ws_client_t *c);

static void start_send(ws_client_t *c, const char *prefix, size_t plen, ws_buf_t *b, size_t off) {
    nng_iov iov[2];
    unsigned n = 0;
    if (plen) {
        memcpy(c->prefix, prefix, plen);
        iov[n].iov_buf = c->prefix;
        iov[n++].iov_len = plen;
    }
    iov[n].iov_buf = b->data + off;
    iov[n++].iov_len = b->len - off;
    c->inflight = b;
    c->send_len = plen + b->len - off;
    nng_aio_set_iov(c->send_aio, n, iov);
    c->sending = true;
    c->send_started_mono = clock_mono_ms();
    nng_stream_send(c->stream, c->send_aio);
}

static void enqueue_event(ws_client_t *c, ws_buf_t *b) {
    if (c->closing || !b) return;
    if (c->ev_count == WS_EVENT_QUEUE) {
        buf_unref(c->events[c->ev_head]);
        c->ev_head = (c->ev_head + 1) % WS_EVENT_QUEUE;
        c->ev_count--;
        c->dropped++;
        g_stats.ws_dropped++;
    }
    b->refs++;
    c->events[(c->ev_head + c->ev_count) % WS_EVENT_QUEUE] = b;
    c->ev_count++;
    pump(c);
}

static void send_doc(ws_client_t *c, json_writer_t *jw) {
    ws_buf_t *b = buf_of(jw);
    enqueue_event(c, b);
    buf_unref(b);
}

static void send_error(ws_client_t *c, const char *code, const char *message) {
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_str(&jw, "type", "error");
    jw_str(&jw, "code", code);
    jw_str(&jw, "message", message);
    jw_end_object(&jw);
    send_doc(c, &jw);
}

static bool wants(const ws_client_t *c, uint64_t sid) {
    return c->sub_mode == SUB_ALL || (c->sub_mode == SUB_ONE && c->sub_id == sid);
}

/* Sends the next thing this client should get, if its slot is free. */
static void pump(ws_client_t *c) {
    ws_t *w = c->w;
    if (c->closing || c->sending) return;
    if (c->ev_count) {
        ws_buf_t *b = c->events[c->ev_head];
        c->ev_head = (c->ev_head + 1) % WS_EVENT_QUEUE;
        c->ev_count--;
        start_send(c, NULL, 0, b, 0); /* the queue's reference moves to inflight */
        return;
    }
    if (c->refused || c->sub_mode == SUB_NONE || !w->stream_count) return;
    uint64_t now = clock_mono_ms();
    if (now < c->next_frame_mono) return; /* the tick timer comes back */
    for (uint32_t k = 0; k < w->stream_count; k++) {
        uint32_t idx = (c->rr + k) % w->stream_count;
        ws_stream_t *st = &w->streams[idx];
        if (!st->used || !wants(c, st->session_id)) continue;
        ws_seen_t *seen = seen_slot(c, idx);
        if (!seen) return;
        if (seen->gen != st->gen) *seen = (ws_seen_t){st->gen, 0};
        if (st->frames <= seen->frames) continue;
        ws_buf_t *body = frame_body(w, st);
        if (!body) continue;
        uint64_t merged = st->frames - seen->frames - 1;
        seen->frames = st->frames;
        c->merged += merged;
        g_stats.ws_merged += merged;
        c->rr = idx + 1;
        c->next_frame_mono = now + w->frame_interval_ms;
        char prefix[64];
        int plen = snprintf(prefix, sizeof prefix, "{\"type\":\"frame\",\"merged\":%llu,",
                            (unsigned long long)merged);
        body->refs++;
        start_send(c, prefix, (size_t)plen, body, 1);
        return;
    }
}

static void client_close(ws_client_t *c) {
    if (c->closing) return;
    c->closing = true;
    /* Abort whatever is in flight (their callbacks still run and post
     * their events), then close the stream. No lock is held here. */
    nng_aio_cancel(c->send_aio);
    nng_aio_cancel(c->recv_aio);
    nng_stream_close(c->stream);
}

static void client_maybe_free(ws_client_t *c) {
    if (!c->closing || c->sending || c->receiving) return;
    ws_t *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next) c->next->prev = c->prev;
    nng_aio_stop(c->send_aio);
    nng_aio_stop(c->recv_aio);
    nng_aio_free(c->send_aio);
    nng_aio_free(c->recv_aio);
    nng_stream_free(c->stream);
    while (c->ev_count) {
        buf_unref(c->events[c->ev_head]);
        c->ev_head = (c->ev_head + 1) % WS_EVENT_QUEUE;
        c->ev_count--;
    }
    buf_unref(c->inflight);
    free(c->seen);
    free(c->acc);
    LOG(LOG_DEBUG, "websocket client %llu closed (sent %llu, merged %llu, dropped %llu)",
        (unsigned long long)c->id, (unsigned long long)c->sent, (unsigned long long)c->merged,
        (unsigned long long)c->dropped);
    w->open--;
    if (c->refused)
        w->refusing--;
    else
        g_stats.ws_clients--;
    free(c);
}

/* Whether nng has closed the stream under us (see the top of this file). */
static bool stream_closed(ws_client_t *c) {
    nng_sockaddr sa;
    return nng_stream_get_addr(c->stream, NNG_OPT_REMADDR, &sa) == NNG_ECLOSED;
}

static void post_recv(ws_client_t *c) {
    nng_iov iov = {.iov_buf = c->rbuf, .iov_len = sizeof c->rbuf};
    nng_aio_set_iov(c->recv_aio, 1, &iov);
    c->receiving = true;
    nng_stream_recv(c->stream, c->recv_aio);
    if (stream_closed(c)) client_close(c);
}

typedef struct hello_pick {
    const session_t *s[WS_HELLO_SESSIONS];
    uint32_t n;
} hello_pick_t;

/* Keeps the WS_HELLO_SESSIONS live sessions heard from most recently. */
static bool pick_recent(void *ud, const session_t *s) {
    hello_pick_t *p = ud;
    uint64_t seen = session_info(s)->last_seen_ms;
    if (p->n < WS_HELLO_SESSIONS) {
        p->s[p->n++] = s;
    } else {
        uint32_t oldest = 0;
        for (uint32_t i = 1; i < p->n; i++)
            if (session_info(p->s[i])->last_seen_ms < session_info(p->s[oldest])->last_seen_ms) oldest = i;
        if (seen <= session_info(p->s[oldest])->last_seen_ms) return true;
        p->s[oldest] = s;
    }
    return true;
}

static void send_hello(ws_t *w, ws_client_t *c) {
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_str(&jw, "type", "hello");
    jw_str(&jw, "version", FA_VERSION_STRING);
    char proto[16];
    snprintf(proto, sizeof proto, "%d.%d", FA_PROTO_VERSION_MAJOR, FA_PROTO_VERSION_MINOR);
    jw_str(&jw, "protocol", proto);
    jw_u64(&jw, "client", c->id);
    jw_str(&jw, "subscription", "*");
    jw_u64(&jw, "rate", w->ctx->cfg->ws_rate);
    jw_u64(&jw, "now_ms", clock_now_ms());
    uint32_t live = sessions_live_count(w->ctx->sessions);
    hello_pick_t pick = {.n = 0};
    sessions_each(w->ctx->sessions, true, pick_recent, &pick);
    jw_u64(&jw, "live", live);
    jw_bool(&jw, "sessions_truncated", live > pick.n);
    jw_begin_array(&jw, "sessions");
    for (uint32_t i = 0; i < pick.n; i++)
        view_write_session(&jw, NULL, session_info(pick.s[i]));
    jw_end_array(&jw);
    jw_end_object(&jw);
    send_doc(c, &jw);
}

/* The upgrade's Origin and token (access.h): NULL when allowed, else the
 * error code to refuse it with (counted). nng 1.5.2 has no hook before
 * its handshake answer, so a refused client gets the 101, then this error
 * and the close, and nothing else. */
static const char *upgrade_refusal(ws_t *w, nng_stream *stream, const char **message) {
    const insightd_ctx_t *ctx = w->ctx;
    char *origin = NULL, *host = NULL, *uri = NULL;
    const char *why = NULL;
    if (nng_stream_get_string(stream, NNG_OPT_WS_REQUEST_HEADER "Origin", &origin) != 0) origin = NULL;
    if (nng_stream_get_string(stream, NNG_OPT_WS_REQUEST_HEADER "Host", &host) != 0) host = NULL;
    if (origin &&
        !access_origin_allowed(origin, host, ctx->listen_port, ctx->listen_loopback, ctx->cfg->allow_origin)) {
        g_stats.ws_refused_origin++;
        LOG(LOG_WARN, "websocket client from origin %.100s refused (not the dashboard's; see --allow-origin)",
            origin);
        why = "origin_not_allowed";
        *message = "this page's origin may not open the live stream (fa-insightd --allow-origin)";
    } else if (ctx->token[0]) {
        if (nng_stream_get_string(stream, NNG_OPT_WS_REQUEST_URI, &uri) != 0) uri = NULL;
        if (!access_query_token_ok(uri, ctx->token)) {
            g_stats.ws_refused_token++;
            why = "unauthorized";
            *message = "this daemon needs its bearer token: connect to /ws?token=<token>";
        }
    }
    if (origin) nng_strfree(origin);
    if (host) nng_strfree(host);
    if (uri) nng_strfree(uri);
    return why;
}

static void client_new(ws_t *w, nng_stream *stream) {
    ws_client_t *c = calloc(1, sizeof *c);
    if (!c || nng_aio_alloc(&c->send_aio, send_cb, c) != 0 || nng_aio_alloc(&c->recv_aio, recv_cb, c) != 0) {
        if (c) {
            if (c->send_aio) nng_aio_free(c->send_aio);
            free(c);
        }
        nng_stream_close(stream);
        nng_stream_free(stream);
        return;
    }
    c->w = w;
    c->id = ++w->next_id;
    c->stream = stream;
    c->send_ev = (ws_event_t){.kind = EV_SENT, .client = c};
    c->recv_ev = (ws_event_t){.kind = EV_RECV, .client = c};
    c->accepted_mono = clock_mono_ms();
    nng_aio_set_timeout(c->send_aio, (nng_duration)w->ctx->cfg->ws_send_timeout_ms);
    c->sub_mode = SUB_ALL;
    nng_sockaddr sa;
    if (nng_stream_get_addr(stream, NNG_OPT_REMADDR, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET) {
            c->peer.family = 4;
            memcpy(c->peer.addr, &sa.s_in.sa_addr, 4);
            c->peer.port = ntohs(sa.s_in.sa_port);
            c->have_peer = true;
        } else if (sa.s_family == NNG_AF_INET6) {
            c->peer.family = 6;
            memcpy(c->peer.addr, sa.s_in6.sa_addr, 16);
            c->peer.port = ntohs(sa.s_in6.sa_port);
            c->have_peer = true;
        }
    }
    if (c->have_peer) conns_mark_upgraded(&c->peer);
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->open++;
    g_stats.ws_accepted++;
    const char *message = NULL, *why = upgrade_refusal(w, stream, &message);
    if (why) {
        c->refused = true;
        w->refusing++;
        post_recv(c);
        send_error(c, why, message);
        return;
    }
    if (g_stats.ws_clients >= w->ctx->cfg->ws_max_clients) {
        /* Over the cap: say why, then close once that was sent. */
        c->refused = true;
        w->refusing++;
        g_stats.ws_refused++;
        LOG(LOG_WARN, "websocket client refused: %u clients already (--ws-max-clients)",
            w->ctx->cfg->ws_max_clients);
        post_recv(c);
        send_error(c, "too_many_clients",
                   "the daemon serves its maximum of WebSocket clients (--ws-max-clients)");
        return;
    }
    g_stats.ws_clients++;
    /* Streams that exist now: start from their newest frame (live ones),
     * not from their first, and do not count what came before as merged. */
    for (uint32_t i = 0; i < w->stream_count; i++) {
        ws_stream_t *st = &w->streams[i];
        ws_seen_t *seen = st->used ? seen_slot(c, i) : NULL;
        if (seen) *seen = (ws_seen_t){st->gen, !st->ended_mono && st->frames ? st->frames - 1 : st->frames};
    }
    LOG(LOG_DEBUG, "websocket client %llu connected", (unsigned long long)c->id);
    post_recv(c);
    send_hello(w, c);
}

static void handle_message(ws_client_t *c, const char *text, size_t len) {
    cJSON *doc = cJSON_ParseWithLength(text, len);
    cJSON *sub = doc ? cJSON_GetObjectItemCaseSensitive(doc, "subscribe") : NULL;
    if (!doc || !cJSON_IsObject(doc) || !cJSON_IsString(sub)) {
        g_stats.ws_bad_messages++;
        send_error(c, "bad_message",
                   "expected {\"subscribe\":\"<session id>\"} (or \"*\", \"latest\", \"none\")");
        cJSON_Delete(doc);
        return;
    }
    const char *v = sub->valuestring;
    ws_t *w = c->w;
    char resolved[SID_HEX_LEN + 1];
    if (!strcmp(v, "*")) {
        c->sub_mode = SUB_ALL;
        strcpy(resolved, "*");
    } else if (!strcmp(v, "none")) {
        c->sub_mode = SUB_NONE;
        strcpy(resolved, "none");
    } else {
        const session_t *s = NULL;
        uint64_t id;
        if (!strcmp(v, "latest"))
            s = sessions_latest(w->ctx->sessions);
        else if (sid_parse(v, &id) == 0)
            s = sessions_find(w->ctx->sessions, id);
        else {
            g_stats.ws_bad_messages++;
            send_error(c, "bad_subscription",
                       "subscribe takes a session id (16 hex digits), \"latest\", \"*\" or \"none\"");
            cJSON_Delete(doc);
            return;
        }
        if (!s) {
            send_error(c, "session_not_found", "no such session (yet); subscription unchanged");
            cJSON_Delete(doc);
            return;
        }
        c->sub_mode = SUB_ONE;
        c->sub_id = session_id(s);
        sid_format(c->sub_id, resolved);
        /* Send this session's newest frame at once, even if it ended (its
         * stream comes back for a while). */
        if (session_frames(s)) {
            ws_stream_t *st = stream_add(w, c->sub_id);
            if (st) {
                st->frames = session_frames(s);
                if (!session_live(s) && !st->ended_mono) st->ended_mono = clock_mono_ms();
                ws_seen_t *seen = seen_slot(c, (uint32_t)(st - w->streams));
                if (seen) *seen = (ws_seen_t){st->gen, st->frames - 1};
            }
        }
        c->next_frame_mono = 0;
    }
    cJSON_Delete(doc);
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_str(&jw, "type", "subscribed");
    jw_str(&jw, "subscription", resolved);
    jw_end_object(&jw);
    send_doc(c, &jw);
}

static void on_received(ws_client_t *c, size_t n) {
    c->received += n;
    if (c->acc_len + n > WS_MAX_CLIENT_MESSAGE) {
        g_stats.ws_bad_messages++;
        LOG(LOG_WARN, "websocket client %llu sent more than %u bytes without a complete message; closing",
            (unsigned long long)c->id, WS_MAX_CLIENT_MESSAGE);
        client_close(c);
        return;
    }
    char *grown = realloc(c->acc, c->acc_len + n + 1);
    if (!grown) {
        client_close(c);
        return;
    }
    c->acc = grown;
    memcpy(c->acc + c->acc_len, c->rbuf, n);
    c->acc_len += n;
    if (c->refused) { /* nothing it says matters */
        c->acc_len = 0;
        return;
    }
    /* Stream mode loses message boundaries: split on complete JSON values. */
    size_t pos = 0;
    for (;;) {
        size_t skip;
        long ext = ws_json_extent(c->acc + pos, c->acc_len - pos, &skip);
        if (ext < 0) {
            g_stats.ws_bad_messages++;
            send_error(c, "bad_message", "messages must be JSON objects");
            pos = c->acc_len;
            break;
        }
        pos += skip;
        if (ext == 0) break;
        handle_message(c, c->acc + pos, (size_t)ext);
        pos += (size_t)ext;
    }
    memmove(c->acc, c->acc + pos, c->acc_len - pos);
    c->acc_len -= pos;
}

/* ---- flooding clients ----------------------------------------------------- */

typedef struct flood_ctx {
    ws_t *w;
    uint64_t now;
} flood_ctx_t;

static void flood_peer(void *ud, const netdiag_peer_t *peer, uint64_t received) {
    flood_ctx_t *f = ud;
    for (ws_client_t *c = f->w->clients; c; c = c->next) {
        if (!c->have_peer || c->closing || c->peer.port != peer->port || c->peer.family != peer->family ||
            memcmp(c->peer.addr, peer->addr, peer->family == 4 ? 4 : 16) != 0)
            continue;
        uint64_t age_s = (f->now - c->accepted_mono) / 1000u;
        uint64_t allowed = WS_FLOOD_ALLOWANCE + 2 * c->received + age_s * WS_FLOOD_PER_SECOND;
        if (received > allowed) {
            g_stats.ws_closed_flood++;
            LOG(LOG_WARN,
                "websocket client %llu sent %llu bytes for %llu bytes of messages (pings nng would answer "
                "without "
                "bound?); closing",
                (unsigned long long)c->id, (unsigned long long)received, (unsigned long long)c->received);
            client_close(c);
            f->w->trim_due = true;
        }
        return;
    }
}

/* ---- loop callbacks --------------------------------------------------------- */

static void accept_next(ws_listener_t *l) {
    if (l->closed || l->w->closing_all) return;
    l->accepting = true;
    nng_stream_listener_accept(l->l, l->aio);
}

static void retry_accept(uv_timer_t *t) {
    accept_next(t->data);
}

static void async_cb(uv_async_t *a) {
    ws_t *w = a->data;
    pthread_mutex_lock(&w->lock);
    ws_event_t *ev = w->head;
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->lock);
    while (ev) {
        ws_event_t *next = ev->next;
        ws_client_t *c = ev->client;
        switch (ev->kind) {
        case EV_ACCEPT: {
            ws_listener_t *l = ev->listener;
            l->accepting = false;
            if (ev->result == 0) {
                l->backoff_ms = 0;
                if (w->closing_all) {
                    nng_stream_close(ev->stream);
                    nng_stream_free(ev->stream);
                } else {
                    client_new(w, ev->stream);
                }
                accept_next(l);
            } else if (ev->result != NNG_ECLOSED && !l->closed) {
                /* Never at once: a failing accept (no descriptor left)
                 * would spin. */
                g_stats.ws_accept_errors++;
                l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : ACCEPT_BACKOFF_MIN_MS;
                if (l->backoff_ms > ACCEPT_BACKOFF_MAX_MS) l->backoff_ms = ACCEPT_BACKOFF_MAX_MS;
                uv_timer_start(&l->retry, retry_accept, l->backoff_ms, 0);
            }
            break;
        }
        case EV_SENT:
            c->sending = false;
            buf_unref(c->inflight);
            c->inflight = NULL;
            if (ev->result == 0 && ev->count == c->send_len && !c->refused) {
                c->sent++;
                g_stats.ws_sent++;
                pump(c);
            } else {
                if (ev->result == NNG_ETIMEDOUT) {
                    g_stats.ws_closed_slow++;
                    LOG(LOG_INFO, "websocket client %llu accepted nothing for %llu ms; closing",
                        (unsigned long long)c->id, (unsigned long long)w->ctx->cfg->ws_send_timeout_ms);
                }
                client_close(c);
            }
            client_maybe_free(c);
            break;
        case EV_RECV:
            c->receiving = false;
            if (ev->result == 0 && !c->closing) {
                on_received(c, ev->count);
                if (!c->closing) post_recv(c);
            } else {
                client_close(c);
            }
            client_maybe_free(c);
            break;
        }
        ev = next;
    }
}

static void tick_cb(uv_timer_t *t) {
    ws_t *w = t->data;
    uint64_t now = clock_mono_ms();
    if (w->clients && w->diag && now - w->last_flood_check >= WS_FLOOD_CHECK_MS) {
        w->last_flood_check = now;
        flood_ctx_t f = {w, now};
        netdiag_scan(w->diag, w->port, flood_peer, &f);
    }
    bool probe = now - w->last_probe >= WS_PROBE_MS;
    if (probe) {
        w->last_probe = now;
        prune_streams(w);
        /* Memory freed by closed clients (pong queues, big frames) goes
         * back to the system rather than staying in malloc's arenas. */
        if (w->trim_due) {
            w->trim_due = false;
            malloc_trim(0);
        }
    }
    for (ws_client_t *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (probe && !c->closing && stream_closed(c)) {
            client_close(c);
            client_maybe_free(c);
            continue;
        }
        pump(c);
    }
}

/* ---- sessions hooks ----------------------------------------------------- */

void ws_on_frame(void *ud, const session_t *s) {
    ws_t *w = ud;
    if (!w) return;
    ws_stream_t *st = stream_add(w, session_id(s));
    if (st) {
        st->frames = session_frames(s);
        st->ended_mono = 0;
    }
}

static void broadcast(ws_t *w, json_writer_t *jw, const uint64_t *only_for) {
    ws_buf_t *b = buf_of(jw);
    if (!b) return;
    for (ws_client_t *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (!c->refused && (!only_for || wants(c, *only_for))) enqueue_event(c, b);
    }
    buf_unref(b);
}

void ws_on_alert(void *ud, const session_t *s, int event, const alert_row_t *a, uint64_t live_bytes) {
    ws_t *w = ud;
    if (!w || !w->clients) return;
    static const char *const names[] = {"none", "raised", "escalated", "cleared"};
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_str(&jw, "type", "alert");
    jw_str(&jw, "event", names[event & 3]);
    view_write_alert(&jw, "alert", a, &live_bytes);
    jw_end_object(&jw);
    uint64_t sid = session_id(s);
    broadcast(w, &jw, &sid);
}

void ws_on_session(void *ud, const session_t *s, const char *event) {
    ws_t *w = ud;
    if (!w) return;
    ws_stream_t *st = stream_of(w, session_id(s));
    if (st && !strcmp(event, "end")) st->ended_mono = clock_mono_ms();
    if (!w->clients) return;
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    jw_str(&jw, "type", "session");
    jw_str(&jw, "event", event);
    view_write_session(&jw, "session", session_info(s));
    jw_end_object(&jw);
    broadcast(w, &jw, NULL);
}

/* ---- lifecycle ---------------------------------------------------------- */

int ws_start(ws_t **out, struct insightd_ctx *ctx, char *err, size_t errcap) {
    ws_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    w->ctx = ctx;
    pthread_mutex_init(&w->lock, NULL);
    w->frame_interval_ms = 1000u / ctx->cfg->ws_rate;
    if (w->frame_interval_ms == 0) w->frame_interval_ms = 1;
    uv_async_init(ctx->loop, &w->async, async_cb);
    w->async.data = w;
    uv_timer_init(ctx->loop, &w->tick);
    w->tick.data = w;
    *out = w;
    static const char *const paths[2] = {"/ws", "/ws/v1"};
    /* Allocate both listeners before either listens: each looks its
     * server up by host and port, and a started server on port 0 would
     * no longer match. */
    for (int i = 0; i < 2; i++) {
        ws_listener_t *l = &w->listeners[i];
        l->w = w;
        l->path = paths[i];
        l->ev = (ws_event_t){.kind = EV_ACCEPT, .listener = l};
        uv_timer_init(ctx->loop, &l->retry);
        l->retry.data = l;
        char url[320];
        struct nng_tls_config *tls = ctx->tls;
        snprintf(url, sizeof url, "%s://%s%s", tls ? "wss" : "ws", ctx->cfg->listen, paths[i]);
        int rv;
        if ((rv = nng_stream_listener_alloc(&l->l, url)) != 0 ||
            (tls && (rv = nng_stream_listener_set_ptr(l->l, NNG_OPT_TLS_CONFIG, tls)) != 0) ||
            (rv = nng_stream_listener_set_bool(l->l, NNG_OPT_WS_SEND_TEXT, true)) != 0 ||
            (rv = nng_stream_listener_set_bool(l->l, NNG_OPT_WS_RECV_TEXT, true)) != 0 ||
            (rv = nng_stream_listener_set_size(l->l, NNG_OPT_WS_SENDMAXFRAME, WS_SEND_MAX_FRAME)) != 0 ||
            (rv = nng_stream_listener_set_size(l->l, NNG_OPT_WS_RECVMAXFRAME, WS_MAX_CLIENT_MESSAGE)) != 0 ||
            (i == 1 &&
             (rv = nng_stream_listener_set_string(l->l, NNG_OPT_WS_PROTOCOL, WS_SUBPROTOCOL)) != 0) ||
            (rv = nng_aio_alloc(&l->aio, accept_cb, l)) != 0) {
            snprintf(err, errcap, "WebSocket listener %s: %s", url, nng_strerror(rv));
            return -1;
        }
    }
    for (int i = 0; i < 2; i++) {
        int rv = nng_stream_listener_listen(w->listeners[i].l);
        if (rv != 0) {
            snprintf(err, errcap, "WebSocket listener %s on %s: %s", paths[i], ctx->cfg->listen,
                     nng_strerror(rv));
            return -1;
        }
    }
    nng_sockaddr sa;
    if (nng_stream_listener_get_addr(w->listeners[0].l, NNG_OPT_LOCADDR, &sa) == 0)
        w->port = ntohs(sa.s_family == NNG_AF_INET6 ? sa.s_in6.sa_port : sa.s_in.sa_port);
    if (!(w->diag = netdiag_open()))
        LOG(LOG_WARN,
            "sock_diag is not available: WebSocket ping floods are bounded by --ws-send-timeout only");
    for (int i = 0; i < 2; i++)
        accept_next(&w->listeners[i]);
    uv_timer_start(&w->tick, tick_cb, w->frame_interval_ms, w->frame_interval_ms);
    return 0;
}

uint64_t ws_stalled(const ws_t *w) {
    uint64_t now = clock_mono_ms(), n = 0;
    for (const ws_client_t *c = w->clients; c; c = c->next)
        if (c->sending && now - c->send_started_mono > 1000) n++;
    return n;
}

void ws_close_all(ws_t *w) {
    w->closing_all = true;
    for (int i = 0; i < 2; i++) {
        ws_listener_t *l = &w->listeners[i];
        uv_timer_stop(&l->retry);
        if (l->l && !l->closed) {
            l->closed = true;
            /* Closing the listener does not complete a posted accept:
             * cancel it, its callback posts the last EV_ACCEPT. */
            nng_stream_listener_close(l->l);
            if (l->aio) nng_aio_cancel(l->aio);
        }
    }
    for (ws_client_t *c = w->clients, *next; c; c = next) {
        next = c->next;
        client_close(c);
        client_maybe_free(c);
    }
    uv_timer_stop(&w->tick);
}

uint64_t ws_open_clients(const ws_t *w) {
    uint64_t n = w->open;
    for (int i = 0; i < 2; i++)
        if (w->listeners[i].accepting) n++;
    return n;
}

void ws_close(ws_t *w) {
    if (!w) return;
    uv_handle_t *handles[] = {(uv_handle_t *)&w->async, (uv_handle_t *)&w->tick,
                              (uv_handle_t *)&w->listeners[0].retry, (uv_handle_t *)&w->listeners[1].retry};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
        if (!uv_is_closing(handles[i])) uv_close(handles[i], NULL);
}

void ws_free(ws_t *w) {
    if (!w) return;
    for (int i = 0; i < 2; i++) {
        ws_listener_t *l = &w->listeners[i];
        if (l->aio) {
            nng_aio_stop(l->aio);
            nng_aio_free(l->aio);
        }
        if (l->l) nng_stream_listener_free(l->l);
    }
    while (w->clients) {
        ws_client_t *c = w->clients;
        c->closing = true;
        c->sending = c->receiving = false;
        client_maybe_free(c);
    }
    for (uint32_t i = 0; i < w->stream_count; i++)
        buf_unref(w->streams[i].body);
    free(w->streams);
    netdiag_close(w->diag);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
