/* ws.c — the WebSocket live stream: /ws (no subprotocol) and /ws/v1
 * (subprotocol "fa-insight.v1"), both nng stream listeners joined to the
 * HTTP server of http.c (same host string, so nng shares the port).
 *
 * nng traps handled here:
 *  - A stream's send queue is unbounded: each client has at most ONE send
 *    in flight. Frames are not queued per client at all: a client
 *    remembers, per session, how many frames it has been told about; when
 *    its send slot is free and its rate allows, it gets the newest frame
 *    of the next session with news, and the frames it skipped are counted
 *    as merged. Events (alerts, sessions) wait in a small ring per client;
 *    when the ring is full the oldest is dropped and counted. A client that
 *    accepts nothing for --ws-send-timeout is closed. Memory per client is
 *    bounded whatever it does.
 *  - A receive is always posted on each client so that its close (or a
 *    dead TCP connection) is noticed at once; nng does not answer close
 *    frames itself, so the client is closed promptly on our side.
 *  - A client offering a subprotocol fails the handshake unless the
 *    listener set NNG_OPT_WS_PROTOCOL, and a listener that sets it refuses
 *    clients offering none: hence two paths.
 *  - nng_stream_close / nng_aio_stop are called on the loop thread with no
 *    lock held; the aio callbacks take only the event-queue lock. */
#include "insightd.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WS_EVENT_QUEUE 256u
#define WS_RECV_BUF 4096u
#define WS_MAX_CLIENT_MESSAGE 65536u
#define WS_SEND_MAX_FRAME (8u * 1024u * 1024u)
#define WS_SUBPROTOCOL "fa-insight.v1"

typedef struct ws_client ws_client_t;
typedef struct ws_listener ws_listener_t;

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
    bool accepting;
    bool closed;
};

enum { SUB_ALL, SUB_ONE, SUB_NONE };

struct ws_client {
    ws_t *w;
    uint64_t id;
    nng_stream *stream;
    nng_aio *send_aio, *recv_aio;
    ws_event_t send_ev, recv_ev;
    bool sending, receiving, closing;
    uint64_t send_started_mono;
    int sub_mode;
    uint64_t sub_id;
    uint64_t *seen;               /* per session slot: frames counter already covered */
    uint32_t seen_cap, seen_init; /* slots below seen_init existed at connect */
    uint32_t rr;                  /* round-robin cursor over the active sessions */
    uint64_t next_frame_mono;
    ws_buf_t *events[WS_EVENT_QUEUE];
    uint32_t ev_head, ev_count;
    ws_buf_t *inflight;
    char prefix[96];
    size_t send_len;
    char rbuf[WS_RECV_BUF];
    char *acc;
    size_t acc_len;
    uint64_t sent, merged, dropped;
    ws_client_t *prev, *next;
};

struct ws {
    insightd_ctx_t *ctx;
    ws_listener_t listeners[2];
    uv_async_t async;
    uv_timer_t tick;
    bool tick_running;
    pthread_mutex_t lock;
    ws_event_t *head, *tail;
    ws_client_t *clients;
    uint64_t open, next_id;
    bool closing_all;
    uint64_t frame_interval_ms;
    /* sessions with frames the clients may not have seen (by slot) */
    uint32_t *active;
    uint32_t active_count, active_cap;
    uint8_t *is_active;
    uint32_t is_active_cap;
};

/* ---- shared buffers ----------------------------------------------------- */

ws_buf_t *ws_buf_new(const char *data, size_t len) {
    ws_buf_t *b = malloc(sizeof *b + len + 1);
    if (!b) return NULL;
    b->refs = 1;
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

ws_buf_t *ws_buf_take(char *printed) {
    if (!printed) return NULL;
    ws_buf_t *b = ws_buf_new(printed, strlen(printed));
    free(printed);
    return b;
}

void ws_buf_unref(ws_buf_t *b) {
    if (b && --b->refs == 0) free(b);
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

/* ---- clients (loop thread) ---------------------------------------------- */

static void pump(ws_client_t *c);
static void mark_active(ws_t *w, uint32_t slot);

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
    c->send_started_mono = insightd_mono_ms();
    nng_stream_send(c->stream, c->send_aio);
}

static void enqueue_event(ws_client_t *c, ws_buf_t *b) {
    if (c->closing || !b) return;
    if (c->ev_count == WS_EVENT_QUEUE) {
        ws_buf_unref(c->events[c->ev_head]);
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

static void send_json(ws_client_t *c, cJSON *doc) {
    ws_buf_t *b = ws_buf_take(cJSON_PrintUnformatted(doc));
    cJSON_Delete(doc);
    enqueue_event(c, b);
    ws_buf_unref(b);
}

static void send_error(ws_client_t *c, const char *code, const char *message) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", message);
    send_json(c, o);
}

static uint64_t *seen_slot(ws_client_t *c, uint32_t slot) {
    if (slot >= c->seen_cap) {
        uint32_t cap = c->seen_cap ? c->seen_cap : 16;
        while (cap <= slot)
            cap *= 2;
        uint64_t *grown = realloc(c->seen, cap * sizeof *grown);
        if (!grown) return NULL;
        memset(grown + c->seen_cap, 0, (cap - c->seen_cap) * sizeof *grown);
        c->seen = grown;
        c->seen_cap = cap;
    }
    return &c->seen[slot];
}

/* The frame message body shared by every client: the JSON object without
 * its opening brace (each client prefixes its own type and merged count). */
static ws_buf_t *frame_body(session_t *s) {
    if (s->frame_json && s->frame_json_frames == s->frames) return s->frame_json;
    cJSON *o = cJSON_CreateObject();
    json_add_sid(o, "session", s->id);
    json_add_u64(o, "frame", s->last_frame);
    json_add_u64(o, "frames", s->frames);
    json_add_u64(o, "t_ms", s->last_ms);
    json_add_u64(o, "duration_ns", s->last_duration_ns);
    json_add_u64(o, "frames_dropped", s->last_frames_dropped);
    cJSON_AddItemToObject(o, "totals", json_kind_totals(s->totals));
    json_add_u64(o, "active_alerts", s->active_alerts);
    cJSON *tags = cJSON_AddArrayToObject(o, "tags");
    for (uint32_t i = 0; i < s->tag_count; i++) {
        const tag_t *t = &s->tags[i];
        if (!t->seen) continue;
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "id", t->id);
        json_add_u64(x, "live_bytes", t->live_bytes);
        json_add_u64(x, "peak_bytes", t->peak_bytes);
        cJSON_AddItemToArray(tags, x);
    }
    ws_buf_t *b = ws_buf_take(cJSON_PrintUnformatted(o));
    cJSON_Delete(o);
    if (!b) return NULL;
    if (s->frame_json) ws_buf_unref(s->frame_json);
    s->frame_json = b;
    s->frame_json_frames = s->frames;
    return b;
}

static bool wants(const ws_client_t *c, const session_t *s) {
    return c->sub_mode == SUB_ALL || (c->sub_mode == SUB_ONE && c->sub_id == s->id);
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
    if (c->sub_mode == SUB_NONE || !w->active_count) return;
    uint64_t now = insightd_mono_ms();
    if (now < c->next_frame_mono) return; /* the tick timer comes back */
    sessions_t *ss = w->ctx->sessions;
    for (uint32_t k = 0; k < w->active_count; k++) {
        uint32_t idx = (c->rr + k) % w->active_count;
        session_t *s = sessions_at(ss, w->active[idx]);
        if (!s || !wants(c, s)) continue;
        uint64_t *seen = seen_slot(c, s->slot);
        if (!seen || s->frames <= *seen) continue;
        uint64_t merged = s->frames - *seen - 1;
        ws_buf_t *body = frame_body(s);
        if (!body) return;
        *seen = s->frames;
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
        ws_buf_unref(c->events[c->ev_head]);
        c->ev_head = (c->ev_head + 1) % WS_EVENT_QUEUE;
        c->ev_count--;
    }
    ws_buf_unref(c->inflight);
    free(c->seen);
    free(c->acc);
    LOG(LOG_DEBUG, "websocket client %llu closed (sent %llu, merged %llu, dropped %llu)",
        (unsigned long long)c->id, (unsigned long long)c->sent, (unsigned long long)c->merged,
        (unsigned long long)c->dropped);
    free(c);
    w->open--;
    g_stats.ws_clients = w->open;
}

static void post_recv(ws_client_t *c) {
    nng_iov iov = {.iov_buf = c->rbuf, .iov_len = sizeof c->rbuf};
    nng_aio_set_iov(c->recv_aio, 1, &iov);
    c->receiving = true;
    nng_stream_recv(c->stream, c->recv_aio);
}

static cJSON *hello_doc(ws_t *w, const ws_client_t *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "hello");
    cJSON_AddStringToObject(o, "version", INSIGHTD_VERSION);
    char proto[16];
    snprintf(proto, sizeof proto, "%d.%d", FA_PROTO_VERSION_MAJOR, FA_PROTO_VERSION_MINOR);
    cJSON_AddStringToObject(o, "protocol", proto);
    json_add_u64(o, "client", c->id);
    cJSON_AddStringToObject(o, "subscription", "*");
    json_add_u64(o, "rate", w->ctx->cfg->ws_rate);
    json_add_u64(o, "now_ms", insightd_now_ms());
    cJSON *arr = cJSON_AddArrayToObject(o, "sessions");
    sessions_t *ss = w->ctx->sessions;
    for (uint32_t i = 0; i < sessions_count(ss); i++) {
        session_t *s = sessions_at(ss, i);
        if (s && s->live) cJSON_AddItemToArray(arr, json_session(s));
    }
    return o;
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
    nng_aio_set_timeout(c->send_aio, (nng_duration)w->ctx->cfg->ws_send_timeout_ms);
    c->sub_mode = SUB_ALL;
    /* Sessions that exist now: start from their newest frame, not from
     * their first (and do not count what came before as merged). */
    sessions_t *ss = w->ctx->sessions;
    c->seen_init = sessions_count(ss);
    for (uint32_t i = 0; i < c->seen_init; i++) {
        session_t *s = sessions_at(ss, i);
        uint64_t *seen = seen_slot(c, i);
        if (s && seen) *seen = s->live && s->frames ? s->frames - 1 : s->frames;
    }
    c->next = w->clients;
    if (w->clients) w->clients->prev = c;
    w->clients = c;
    w->open++;
    g_stats.ws_clients = w->open;
    g_stats.ws_accepted++;
    LOG(LOG_DEBUG, "websocket client %llu connected", (unsigned long long)c->id);
    post_recv(c);
    send_json(c, hello_doc(w, c));
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
    sessions_t *ss = c->w->ctx->sessions;
    char resolved[SID_HEX_LEN + 1];
    if (!strcmp(v, "*")) {
        c->sub_mode = SUB_ALL;
        strcpy(resolved, "*");
    } else if (!strcmp(v, "none")) {
        c->sub_mode = SUB_NONE;
        strcpy(resolved, "none");
    } else {
        session_t *s = NULL;
        uint64_t id;
        if (!strcmp(v, "latest"))
            s = sessions_latest(ss);
        else if (insightd_sid_parse(v, &id) == 0)
            s = sessions_find(ss, id);
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
        c->sub_id = s->id;
        insightd_sid_format(s->id, resolved);
        /* Send this session's newest frame at once (even if it ended:
         * put it back on the scanned list for a while). */
        uint64_t *seen = seen_slot(c, s->slot);
        if (seen && s->frames && *seen >= s->frames) *seen = s->frames - 1;
        if (s->frames) mark_active(c->w, s->slot);
        c->next_frame_mono = 0;
    }
    cJSON_Delete(doc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "subscribed");
    cJSON_AddStringToObject(o, "subscription", resolved);
    send_json(c, o);
}

static void on_received(ws_client_t *c, size_t n) {
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

/* ---- loop callbacks ----------------------------------------------------- */

static void accept_next(ws_listener_t *l) {
    if (l->closed || l->w->closing_all) return;
    l->accepting = true;
    nng_stream_listener_accept(l->l, l->aio);
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
                if (w->closing_all) {
                    nng_stream_close(ev->stream);
                    nng_stream_free(ev->stream);
                } else {
                    client_new(w, ev->stream);
                }
            }
            if (ev->result != NNG_ECLOSED) accept_next(l);
            break;
        }
        case EV_SENT:
            c->sending = false;
            ws_buf_unref(c->inflight);
            c->inflight = NULL;
            if (ev->result == 0 && ev->count == c->send_len) {
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

/* A session that ended more than 5 s ago has had its last frame offered to
 * every client (100 ticks at the default rate): stop scanning it. */
static void prune_active(ws_t *w) {
    sessions_t *ss = w->ctx->sessions;
    uint64_t now = insightd_now_ms();
    for (uint32_t i = 0; i < w->active_count;) {
        session_t *s = sessions_at(ss, w->active[i]);
        if (!s || (!s->live && s->ended_ms && now > s->ended_ms + 5000)) {
            w->is_active[w->active[i]] = 0;
            w->active[i] = w->active[--w->active_count];
        } else {
            i++;
        }
    }
}

static void tick_cb(uv_timer_t *t) {
    ws_t *w = t->data;
    static unsigned ticks;
    if (++ticks % 64 == 0) prune_active(w);
    for (ws_client_t *c = w->clients, *next; c; c = next) {
        next = c->next;
        pump(c);
    }
}

/* ---- sessions hooks ----------------------------------------------------- */

static void mark_active(ws_t *w, uint32_t slot) {
    if (slot >= w->is_active_cap) {
        uint32_t cap = w->is_active_cap ? w->is_active_cap : 64;
        while (cap <= slot)
            cap *= 2;
        uint8_t *grown = realloc(w->is_active, cap);
        if (!grown) return;
        memset(grown + w->is_active_cap, 0, cap - w->is_active_cap);
        w->is_active = grown;
        w->is_active_cap = cap;
    }
    if (w->is_active[slot]) return;
    if (w->active_count == w->active_cap) {
        uint32_t cap = w->active_cap ? w->active_cap * 2 : 64;
        uint32_t *grown = realloc(w->active, cap * sizeof *grown);
        if (!grown) return;
        w->active = grown;
        w->active_cap = cap;
    }
    w->active[w->active_count++] = slot;
    w->is_active[slot] = 1;
}

void ws_on_frame(void *ud, session_t *s) {
    ws_t *w = ud;
    if (!w) return;
    if (s->slot >= w->is_active_cap || !w->is_active[s->slot]) mark_active(w, s->slot);
}

static void broadcast(ws_t *w, cJSON *doc, const session_t *only_for) {
    ws_buf_t *b = ws_buf_take(cJSON_PrintUnformatted(doc));
    cJSON_Delete(doc);
    if (!b) return;
    for (ws_client_t *c = w->clients, *next; c; c = next) {
        next = c->next;
        if (!only_for || wants(c, only_for)) enqueue_event(c, b);
    }
    ws_buf_unref(b);
}

void ws_on_alert(void *ud, session_t *s, tag_t *t, const alert_event_t *ev) {
    ws_t *w = ud;
    if (!w || !w->clients) return;
    static const char *const names[] = {"none", "raised", "escalated", "cleared"};
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "alert");
    cJSON_AddStringToObject(o, "event", names[ev->event & 3]);
    cJSON_AddItemToObject(o, "alert", json_alert_live(s, t, ev));
    broadcast(w, o, s);
}

void ws_on_session(void *ud, session_t *s, const char *event) {
    ws_t *w = ud;
    if (!w) return;
    if (!strcmp(event, "start")) mark_active(w, s->slot);
    if (!w->clients) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "session");
    cJSON_AddStringToObject(o, "event", event);
    cJSON_AddItemToObject(o, "session", json_session(s));
    broadcast(w, o, NULL);
}

/* ---- lifecycle ---------------------------------------------------------- */

int ws_start(ws_t **out, insightd_ctx_t *ctx, char *err, size_t errcap) {
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
    static const char *const paths[2] = {"/ws", "/ws/v1"};
    /* Allocate both listeners before either listens: each looks its
     * server up by host and port, and a started server on port 0 would
     * no longer match. */
    for (int i = 0; i < 2; i++) {
        ws_listener_t *l = &w->listeners[i];
        l->w = w;
        l->path = paths[i];
        l->ev = (ws_event_t){.kind = EV_ACCEPT, .listener = l};
        char url[320];
        snprintf(url, sizeof url, "ws://%s%s", ctx->cfg->listen, paths[i]);
        int rv;
        if ((rv = nng_stream_listener_alloc(&l->l, url)) != 0 ||
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
    for (int i = 0; i < 2; i++)
        accept_next(&w->listeners[i]);
    uv_timer_start(&w->tick, tick_cb, w->frame_interval_ms, w->frame_interval_ms);
    w->tick_running = true;
    *out = w;
    return 0;
}

uint64_t ws_stalled(const ws_t *w) {
    uint64_t now = insightd_mono_ms(), n = 0;
    for (const ws_client_t *c = w->clients; c; c = c->next)
        if (c->sending && now - c->send_started_mono > 1000) n++;
    return n;
}

void ws_close_all(ws_t *w) {
    w->closing_all = true;
    for (int i = 0; i < 2; i++) {
        ws_listener_t *l = &w->listeners[i];
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
    if (w->tick_running) {
        uv_timer_stop(&w->tick);
        w->tick_running = false;
    }
}

uint64_t ws_open_clients(const ws_t *w) {
    uint64_t n = w->open;
    for (int i = 0; i < 2; i++)
        if (w->listeners[i].accepting) n++;
    return n;
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
    pthread_mutex_destroy(&w->lock);
    free(w->active);
    free(w->is_active);
    free(w);
}
