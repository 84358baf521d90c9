/* http.c — the nng HTTP server and the hand-off of requests to the loop
 * (see http.h).
 *
 * Two handlers: "/api/v1" (a tree, every method: api.c answers 405 itself)
 * and "/" (a tree: our own static handler, never
 * nng_http_handler_alloc_directory, which serves /../ paths). Both use
 * nng_http_handler_set_tree: nng keeps handlers longest-path first, so
 * "/ws" (ws.c) and "/api/v1" win over "/" and nothing collides.
 *
 * Every connection is the daemon's after its first request. nng 1.5.2
 * reads a connection into an 8 KiB buffer that it empties only when all of
 * it has been parsed: behind ~8 KiB of pipelined requests the buffer is
 * full with a partial request at its end, nng's next read asks for 0
 * bytes, a 0-byte read looks like the end of the stream, and nng closes
 * the connection with the rest of the pipeline unanswered and no error
 * (151 of 1 000 small GETs answered; over TLS too). Nothing a handler does
 * changes that buffer, so the handler of a connection's first request
 * takes the connection over (nng_http_hijack) and the daemon reads the
 * following requests itself, strictly (reqhead.h), on the same
 * nng_http_conn (TLS included: nng_http_conn_read first hands over what
 * nng had buffered). Routing, the gate, the counters and the writes are
 * the same for both; nng still accepts, parses the first request (and
 * collects its body for "/api/v1" and "/") and serves WebSocket upgrades
 * that come first on their connection. A pipelined upgrade is refused
 * with an error: nng's WebSocket code takes only connections its server
 * hands it.
 *
 * A connection's life, all on the loop unless marked: a request is
 * dispatched -> answered (its response written) -> the next head is
 * parsed from what was read, or a read is posted. One nng operation at
 * most is in flight per connection (a read, a body read or a write), and
 * the connection is closed (nng_http_conn_close frees it) only when that
 * operation has completed: drain and http_cut_writes cancel them. */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "api.h"
#include "clock.h"
#include "conns.h"
#include "ctx.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "reqhead.h"
#include "static.h"
#include "stats.h"
#include "ws.h"

#define WORK_SWEEP_MS 20
#define HTTP_CLOSER_DEADLINE_MS 1000 /* http_free's wait for the closer thread */

/* The headers the daemon reads; the last two only decide framing. */
static const char *const copied_headers[] = {
    "Host",           "If-None-Match", "Origin", "Authorization", "Transfer-Encoding",
    "Content-Length", "Connection",    "Upgrade"};
#define COPIED_HEADERS 6
#define READ_HEADERS 8
#define CONNS_SWEEP_EVERY 10        /* work sweeps (20 ms) per connection sweep */
#define KCONN_BUF (2 * REQHEAD_MAX) /* a whole head always fits behind a partial one */
#define BODY_MAX 65536              /* what nng collects of a first request's body (api and static) */

typedef struct kconn kconn_t;

struct http_req {
    kconn_t *kc;       /* its connection */
    nng_http_res *res; /* while we write it */
    nng_aio *write_aio;
    int kind;
    bool lint;        /* PUT /api/v1/lint: reads its own body */
    bool body_unread; /* a Content-Length body is still on the connection */
    bool close_after; /* the connection closes after the response */
    char method[16];
    char *uri;
    char *headers[COPIED_HEADERS];
    char *body; /* the lint route's request body (NUL-terminated), else NULL */
    size_t body_len;
    bool body_too_large;       /* its Content-Length is over --max-lint-report or not a number: unread */
    http_req_t *next;          /* queues */
    http_req_t *wnext, *wprev; /* the list of requests being written */
};

/* A connection taken over from nng (see the top of this file). */
struct kconn {
    http_t *h;
    nng_http_conn *conn;
    nng_aio *read_aio;    /* heads and bodies */
    http_req_t *body_req; /* the request whose body read_aio reads */
    bool reading;         /* read_aio is in flight */
    size_t have;          /* bytes read and not yet parsed */
    kconn_t *next, *prev; /* loop: h->kconns */
    kconn_t *ready;       /* lock: h->ready, reads completed */
    char buf[KCONN_BUF];
};

typedef struct work_item {
    uv_work_t req;
    http_t *h;
    http_req_t *r;
    void (*work)(void *, const store_cancel_t *);
    void (*done)(void *, int);
    void *arg;
    atomic_int cancel; /* 0 running, else HTTP_WORK_TIMEOUT / HTTP_WORK_CANCELLED */
    uint64_t deadline;
    struct work_item *prev, *next;
} work_item_t;

struct http {
    struct insightd_ctx *ctx;
    nng_http_server *server;
    nng_http_handler *api, *files, *lint;
    uv_async_t async;
    uv_timer_t sweep;
    pthread_mutex_t lock;
    http_req_t *head, *tail; /* first requests, queued by nng threads (lock) */
    http_req_t *written;     /* writes completed (lock) */
    kconn_t *ready;          /* reads completed (lock) */
    bool stopped;            /* lock: nng threads answer 503 themselves */
    bool closed;             /* lock: the loop's handles are closed; callbacks wake nobody */
    http_req_t *writing;     /* loop: responses in flight */
    kconn_t *kconns;         /* loop: connections taken over */
    work_item_t *works;      /* loop: pool work in flight */
    bool draining;           /* loop */
    uint64_t inflight;       /* loop */
    unsigned sweeps;         /* loop */
    /* The closer thread: connections to close (see kconn_close). */
    pthread_t closer;
    bool closer_running;     /* it was started (http_start) */
    pthread_mutex_t close_lock;
    pthread_cond_t close_cond;
    kconn_t *to_close;       /* close_lock: waiting for the closer */
    bool closer_quit;        /* close_lock: close what is left, then end */
    bool closer_done;        /* close_lock: it ended */
};

static http_t *the_http; /* one server per process; the handlers' callbacks find it here */

static const char *const api_headers[] = {"Cache-Control", "no-store", "X-Content-Type-Options", "nosniff",
                                          NULL};

const char *http_req_method(const http_req_t *r) {
    return r->method;
}
const char *http_req_uri(const http_req_t *r) {
    return r->uri;
}
const char *http_req_header(const http_req_t *r, const char *name) {
    for (int i = 0; i < COPIED_HEADERS; i++)
        if (strcasecmp(name, copied_headers[i]) == 0) return r->headers[i];
    return NULL;
}

const char *http_req_body(const http_req_t *r, size_t *len) {
    *len = r->body_len;
    return r->body;
}

bool http_req_body_too_large(const http_req_t *r) {
    return r->body_too_large;
}

static void req_free(http_req_t *r) {
    free(r->body);
    free(r->uri);
    for (int i = 0; i < COPIED_HEADERS; i++)
        free(r->headers[i]);
    free(r);
}

/* nng thread: wakes the loop unless it is gone. Call with h->lock held. */
static void wake_locked(http_t *h) {
    if (!h->closed) uv_async_send(&h->async);
}

/* nng thread: the server is stopping; nng answers the request. */
static void finish_unavailable(nng_aio *aio) {
    char *body = json_error_body("shutting_down", "fa-insightd is shutting down", NULL);
    nng_http_res *res;
    if (!body || nng_http_res_alloc(&res) != 0) {
        free(body);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, 503);
    nng_http_res_set_header(res, "Content-Type", "application/json");
    for (int i = 0; api_headers[i]; i += 2)
        nng_http_res_set_header(res, api_headers[i], api_headers[i + 1]);
    nng_http_res_copy_data(res, body, strlen(body));
    free(body);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

/* ---- connections taken over ------------------------------------------------ */

/* nng thread: read_aio completed. */
static void read_cb(void *arg) {
    kconn_t *kc = arg;
    http_t *h = kc->h;
    pthread_mutex_lock(&h->lock);
    kc->ready = h->ready;
    h->ready = kc;
    wake_locked(h);
    pthread_mutex_unlock(&h->lock);
}

/* Closer thread, or the loop when there is none. */
static void kconn_release(kconn_t *kc) {
    nng_http_conn_close(kc->conn); /* closes and frees it */
    nng_aio_free(kc->read_aio);    /* waits for read_cb's return */
    if (kc->body_req) req_free(kc->body_req);
    free(kc);
}

/* nng_http_conn_close waits for the connection's operations to stop, and
 * in nng 1.5.2 that wait can last for ever (a task prepared but never
 * started: see fa-insightd/README.md's nng table): on the loop it froze
 * the daemon (a TLS connection's close at shutdown, seen in the
 * pipelining test). Connections are closed on this thread instead; the
 * loop only queues them. */
static void *closer_main(void *arg) {
    http_t *h = arg;
    pthread_mutex_lock(&h->close_lock);
    for (;;) {
        kconn_t *kc = h->to_close;
        if (!kc && h->closer_quit) break;
        if (!kc) {
            pthread_cond_wait(&h->close_cond, &h->close_lock);
            continue;
        }
        h->to_close = kc->next;
        pthread_mutex_unlock(&h->close_lock);
        kconn_release(kc);
        pthread_mutex_lock(&h->close_lock);
    }
    h->closer_done = true;
    pthread_cond_broadcast(&h->close_cond);
    pthread_mutex_unlock(&h->close_lock);
    return NULL;
}

/* Loop (or http_free once the loop is gone): no operation is in flight. */
static void kconn_close(kconn_t *kc) {
    http_t *h = kc->h;
    if (kc->prev)
        kc->prev->next = kc->next;
    else if (h->kconns == kc)
        h->kconns = kc->next;
    if (kc->next) kc->next->prev = kc->prev;
    if (!h->closer_running) {
        kconn_release(kc);
        return;
    }
    pthread_mutex_lock(&h->close_lock);
    kc->prev = NULL;
    kc->next = h->to_close;
    h->to_close = kc;
    pthread_cond_signal(&h->close_cond);
    pthread_mutex_unlock(&h->close_lock);
}

/* Ends the closer thread once it has closed every queued connection, or
 * after deadline_ms: false when it is stuck in nng (it is left behind). */
static bool closer_stop(http_t *h, unsigned deadline_ms) {
    if (!h->closer_running) return true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_ms / 1000u;
    until.tv_nsec += (long)(deadline_ms % 1000u) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&h->close_lock);
    h->closer_quit = true;
    pthread_cond_broadcast(&h->close_cond);
    while (!h->closer_done)
        if (pthread_cond_timedwait(&h->close_cond, &h->close_lock, &until) == ETIMEDOUT) break;
    bool done = h->closer_done;
    pthread_mutex_unlock(&h->close_lock);
    if (done)
        pthread_join(h->closer, NULL);
    else
        pthread_detach(h->closer);
    h->closer_running = false;
    return done;
}

static void kconn_read(kconn_t *kc) {
    nng_iov iov = {kc->buf + kc->have, sizeof kc->buf - kc->have};
    nng_aio_set_iov(kc->read_aio, 1, &iov);
    nng_aio_set_timeout(kc->read_aio, NNG_DURATION_INFINITE); /* conns.c times connections out */
    kc->reading = true;
    nng_http_conn_read(kc->conn, kc->read_aio);
}

static void dispatch(http_t *h, http_req_t *r);

/* A request's Content-Length: its value, or -1 when it is not a number. */
static long long content_length(const http_req_t *r) {
    const char *cl = http_req_header(r, "Content-Length");
    if (!cl) return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long len = strtoull(cl, &end, 10);
    if (errno || end == cl || *end || !isdigit((unsigned char)cl[0]) || len > (1ull << 62)) return -1;
    return (long long)len;
}

/* A request is complete but for its body: PUT /api/v1/lint reads a body
 * within --max-lint-report (what was read past its head first); any other
 * body left on the connection is not read, the route answers, and the
 * connection closes (its bytes are never parsed as a request). */
static void begin(http_t *h, http_req_t *r) {
    kconn_t *kc = r->kc;
    long long len = content_length(r);
    if (!r->body_unread || len == 0 || h->draining) {
        dispatch(h, r);
        return;
    }
    bool put = strcmp(r->method, "PUT") == 0;
    if (!r->lint || !put || len < 0 || (unsigned long long)len > h->ctx->cfg->max_lint_report_bytes) {
        r->body_too_large = r->lint && put;
        r->close_after = true;
        dispatch(h, r);
        return;
    }
    if (!(r->body = malloc((size_t)len + 1))) {
        r->close_after = true;
        r->body_too_large = true;
        dispatch(h, r);
        return;
    }
    r->body[len] = '\0';
    r->body_len = (size_t)len;
    size_t from_buf = kc->have < (size_t)len ? kc->have : (size_t)len;
    memcpy(r->body, kc->buf, from_buf);
    memmove(kc->buf, kc->buf + from_buf, kc->have - from_buf);
    kc->have -= from_buf;
    if (from_buf == (size_t)len) {
        dispatch(h, r);
        return;
    }
    kc->body_req = r;
    nng_iov iov = {r->body + from_buf, (size_t)len - from_buf};
    nng_aio_set_iov(kc->read_aio, 1, &iov);
    nng_aio_set_timeout(kc->read_aio, (nng_duration)h->ctx->cfg->http_header_timeout_ms);
    kc->reading = true;
    nng_http_conn_read_all(kc->conn, kc->read_aio);
}

/* The path a target routes by, as nng's server decodes it: the query cut
 * off, an absolute form reduced to its path, %XX decoded. */
static void route_path(const char *target, char *out, size_t cap) {
    if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        const char *p = strchr(strstr(target, "://") + 3, '/');
        target = p ? p : "/";
    }
    size_t o = 0;
    for (const char *s = target; *s && *s != '?' && o + 1 < cap; s++) {
        if (s[0] == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            out[o++] = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static bool path_under(const char *path, const char *prefix) {
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* A request refused before routing: answered, then the connection closes. */
static void refuse_head(http_t *h, http_req_t *r, uint16_t status, const char *code, const char *why) {
    g_stats.http_refused_head++;
    r->close_after = true;
    g_stats.http_requests++;
    g_stats.http_inflight = ++h->inflight;
    http_reply_error(r, status, code, NULL, "%s; the connection is closed", why);
}

static char *text_dup(reqhead_text_t t) {
    char *s = malloc(t.len + 1);
    if (s) {
        memcpy(s, t.s, t.len);
        s[t.len] = '\0';
    }
    return s;
}

/* Whether the request asks for the connection to close after it. */
static bool wants_close(int minor, const char *connection) {
    if (!connection) return minor == 0;
    reqhead_text_t v = {connection, strlen(connection)};
    return reqhead_has_token(v, "close") || (minor == 0 && !reqhead_has_token(v, "keep-alive"));
}

/* The next request from what was read, or a read for more. */
static void kconn_next(kconn_t *kc) {
    http_t *h = kc->h;
    reqhead_t head;
    const char *why = NULL;
    reqhead_status_t st = reqhead_parse(kc->buf, kc->have, copied_headers, READ_HEADERS, &head, &why);
    if (st == REQHEAD_MORE) {
        if (h->draining) /* no complete request to answer 503 */
            kconn_close(kc);
        else
            kconn_read(kc);
        return;
    }
    http_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        kconn_close(kc);
        return;
    }
    r->kc = kc;
    r->kind = HTTP_KIND_STATIC;
    snprintf(r->method, sizeof r->method, "GET");
    if (st != REQHEAD_OK) {
        if (!(r->uri = strdup(""))) {
            req_free(r);
            kconn_close(kc);
            return;
        }
        if (st == REQHEAD_VERSION)
            refuse_head(h, r, 505, "http_version_not_supported", why);
        else if (st == REQHEAD_TOO_LARGE)
            refuse_head(h, r, 431, "request_head_too_large", why);
        else
            refuse_head(h, r, 400, "bad_request", why);
        return;
    }
    g_stats.http_pipelined++;
    bool ok = (r->uri = text_dup(head.target)) != NULL;
    snprintf(r->method, sizeof r->method, "%.*s", (int)head.method.len, head.method.s);
    for (int i = 0; i < COPIED_HEADERS; i++)
        if (head.values[i].s && !(r->headers[i] = text_dup(head.values[i]))) ok = false;
    char *connection = head.values[6].s ? text_dup(head.values[6]) : NULL;
    bool upgrade = head.values[7].s != NULL;
    r->close_after = wants_close(head.minor, connection);
    free(connection);
    memmove(kc->buf, kc->buf + head.head_len, kc->have - head.head_len);
    kc->have -= head.head_len;
    if (!ok) {
        req_free(r);
        kconn_close(kc);
        return;
    }
    if (head.minor == 1 && !http_req_header(r, "Host")) {
        refuse_head(h, r, 400, "bad_request", "an HTTP/1.1 request needs a Host header");
        return;
    }
    char path[1024];
    route_path(r->uri, path, sizeof path);
    if (path_under(path, "/ws") && upgrade) {
        refuse_head(
            h, r, 400, "upgrade_not_first",
            "a WebSocket upgrade must be the first request on its connection (open a new one for /ws)");
        return;
    }
    r->lint = strcmp(path, "/api/v1/lint") == 0 || strcmp(path, "/api/v1/lint/") == 0;
    if (path_under(path, "/api/v1")) r->kind = HTTP_KIND_API;
    r->body_unread = true;
    begin(h, r);
}

/* Loop: read_aio completed (a head's bytes or a body). */
static void kconn_on_read(kconn_t *kc) {
    kc->reading = false;
    int rv = nng_aio_result(kc->read_aio);
    http_req_t *r = kc->body_req;
    if (rv != 0) { /* the client went away, was too slow, or the daemon drains */
        if (r) g_stats.http_cancelled++;
        kconn_close(kc);
        return;
    }
    if (r) {
        kc->body_req = NULL;
        dispatch(kc->h, r);
        return;
    }
    kc->have += nng_aio_count(kc->read_aio);
    kconn_next(kc);
}

/* nng thread: a connection's first request. nng parsed it and, for "/api/v1"
 * and "/", collected a body within BODY_MAX; the connection becomes the
 * daemon's (see the top of this file) and nng forgets it. */
static void take_first(nng_aio *aio, int kind, bool lint) {
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    bool stopped = h->stopped;
    pthread_mutex_unlock(&h->lock);
    if (stopped) {
        finish_unavailable(aio);
        return;
    }
    nng_http_req *req = nng_aio_get_input(aio, 0);
    http_req_t *r = calloc(1, sizeof *r);
    kconn_t *kc = calloc(1, sizeof *kc);
    if (!r || !kc || !(r->uri = strdup(nng_http_req_get_uri(req))) ||
        nng_aio_alloc(&kc->read_aio, read_cb, kc) != 0) {
        if (r) req_free(r);
        free(kc);
        nng_aio_finish(aio, NNG_ENOMEM); /* nng closes the connection */
        return;
    }
    kc->h = h;
    kc->conn = nng_aio_get_input(aio, 2);
    r->kc = kc;
    r->kind = kind;
    r->lint = lint;
    r->body_unread = lint; /* nng collected the others' */
    snprintf(r->method, sizeof r->method, "%s", nng_http_req_get_method(req));
    for (int i = 0; i < COPIED_HEADERS; i++) {
        const char *v = nng_http_req_get_header(req, copied_headers[i]);
        if (v) r->headers[i] = strdup(v);
    }
    const char *version = nng_http_req_get_version(req);
    r->close_after = wants_close(version && strcmp(version, "HTTP/1.0") == 0 ? 0 : 1,
                                 nng_http_req_get_header(req, "Connection"));
    nng_http_hijack(kc->conn);
    nng_http_req_free(req); /* the hijacker's to free */
    nng_aio_set_output(aio, 0, NULL);
    nng_aio_finish(aio, 0); /* nng closes its session, not the connection */
    pthread_mutex_lock(&h->lock);
    stopped = h->stopped;
    if (!stopped) {
        if (h->tail)
            h->tail->next = r;
        else
            h->head = r;
        h->tail = r;
        wake_locked(h);
    }
    pthread_mutex_unlock(&h->lock);
    if (stopped) { /* the server stopped meanwhile: nobody is left to answer */
        req_free(r);
        nng_http_conn_close(kc->conn);
        nng_aio_free(kc->read_aio);
        free(kc);
    }
}

static void api_cb(nng_aio *aio) {
    take_first(aio, HTTP_KIND_API, false);
}
static void files_cb(nng_aio *aio) {
    take_first(aio, HTTP_KIND_STATIC, false);
}
/* PUT /api/v1/lint takes a SARIF report: nng does not collect this
 * route's body (its refusal of a long one is a bare HTML 400 before the
 * daemon sees the request); begin() reads it. */
static void lint_cb(nng_aio *aio) {
    take_first(aio, HTTP_KIND_API, true);
}

/* nng thread: our write finished (or failed). */
static void write_cb(void *arg) {
    http_req_t *r = arg;
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    r->next = h->written;
    h->written = r;
    wake_locked(h);
    pthread_mutex_unlock(&h->lock);
}

/* One request answered: it leaves the in-flight count. */
static void done_one(http_t *h) {
    g_stats.http_inflight = --h->inflight;
}

/* Loop: a response is on the wire (or failed); the connection goes on or
 * closes. */
static void written(http_t *h, http_req_t *r) {
    nng_aio *wa = r->write_aio;
    int rv = nng_aio_result(wa);
    nng_aio_stop(wa); /* its callback has returned */
    nng_aio_free(wa);
    nng_http_res_free(r->res);
    if (rv == NNG_ETIMEDOUT) {
        g_stats.http_write_timeouts++;
        LOG(LOG_DEBUG, "an HTTP client took nothing of its response for %llu ms: cut off",
            (unsigned long long)h->ctx->cfg->http_write_timeout_ms);
    } else if (rv != 0) {
        g_stats.http_cancelled++; /* the client went away (or shutdown cut the write) */
    }
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        h->writing = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev;
    kconn_t *kc = r->kc;
    bool close = rv != 0 || r->close_after;
    req_free(r);
    done_one(h);
    if (close)
        kconn_close(kc);
    else
        kconn_next(kc);
}

/* What every request must pass before its route sees it (access.h): no
 * body on GET/HEAD and no Transfer-Encoding at all (nng does not read a
 * chunked body: its bytes would be parsed as the next request, so the
 * connection closes), the Host of a loopback daemon, and the token of the
 * API. Returns false after answering. */
static bool gate(http_t *h, http_req_t *r) {
    const insightd_ctx_t *c = h->ctx;
    const char *te = http_req_header(r, "Transfer-Encoding"), *cl = http_req_header(r, "Content-Length");
    bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    /* Other methods get their 405 from the routes (nng read a
     * Content-Length body whole, so the connection stays in step). */
    if (te || (get && cl && strspn(cl, "0 \t") != strlen(cl))) {
        g_stats.http_refused_body++;
        r->close_after = true;
        http_reply_error(r, 400, "body_not_allowed", NULL,
                         "requests to fa-insightd take no body (%s); the connection is closed",
                         te ? "Transfer-Encoding" : "Content-Length");
        return false;
    }
    const char *host = http_req_header(r, "Host");
    if (c->listen_loopback && host && !access_host_is_loopback(host)) {
        g_stats.http_refused_host++;
        LOG(LOG_DEBUG, "refused a request for Host %.100s (the daemon listens on loopback)", host);
        http_reply_error(r, 403, "forbidden_host", NULL,
                         "fa-insightd listens on loopback and answers only requests for a loopback host "
                         "(localhost, 127.0.0.1, [::1]), not for '%.100s'",
                         host);
        return false;
    }
    /* Everything but the dashboard's own files needs the token: the API and
     * /metrics both name sessions, tags and figures. */
    bool guarded = r->kind == HTTP_KIND_API || metrics_is_target(r->uri);
    if (c->token[0] && guarded && !access_bearer_ok(http_req_header(r, "Authorization"), c->token)) {
        g_stats.http_refused_token++;
        static const char *const challenge[] = {"Cache-Control", "no-store", "WWW-Authenticate",
                                                "Bearer realm=\"fa-insightd\"", NULL};
        char *body = json_error_body("unauthorized",
                                     "this daemon needs its bearer token: Authorization: Bearer <token> "
                                     "(fa-cli: FA_INSIGHT_TOKEN)",
                                     NULL);
        http_reply(r, 401, "application/json", body, body ? strlen(body) : 0, challenge);
        free(body);
        return false;
    }
    return true;
}

/* Loop: a whole request (body included) meets its route. */
static void dispatch(http_t *h, http_req_t *r) {
    g_stats.http_requests++;
    g_stats.http_inflight = ++h->inflight;
    if (h->draining) {
        r->close_after = true;
        http_reply_error(r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    } else if (!gate(h, r)) {
    } else if (r->kind == HTTP_KIND_API) {
        api_handle(h->ctx, r);
    } else if (metrics_is_target(r->uri)) {
        metrics_handle(h->ctx, r);
    } else {
        static_handle(h->ctx, r);
    }
}

/* Loop (or close_leftovers): handles what nng threads queued: completed
 * writes and reads, then first requests. Returns whether there was any. */
static bool take_queues(http_t *h) {
    pthread_mutex_lock(&h->lock);
    http_req_t *r = h->head, *w = h->written;
    kconn_t *kc = h->ready;
    h->head = h->tail = NULL;
    h->written = NULL;
    h->ready = NULL;
    pthread_mutex_unlock(&h->lock);
    bool any = r || w || kc;
    while (w) {
        http_req_t *next = w->next;
        written(h, w);
        w = next;
    }
    while (kc) {
        kconn_t *next = kc->ready;
        kconn_on_read(kc);
        kc = next;
    }
    while (r) {
        http_req_t *next = r->next;
        r->next = NULL;
        r->kc->next = h->kconns;
        if (h->kconns) h->kconns->prev = r->kc;
        h->kconns = r->kc;
        begin(h, r);
        r = next;
    }
    return any;
}

static void async_cb(uv_async_t *a) {
    take_queues(a->data);
}

size_t http_max_response(const http_t *h) {
    return (size_t)h->ctx->cfg->max_response_bytes;
}

void http_reply(http_req_t *r, uint16_t status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers) {
    http_t *h = the_http;
    if (len > http_max_response(h)) {
        g_stats.http_capped++;
        LOG(LOG_WARN, "a %zu-byte response to %.200s exceeds --max-response (%zu bytes)", len, r->uri,
            http_max_response(h));
        char *err =
            json_error_body("response_too_large",
                            "the response is larger than --max-response; ask for less (limit, window)", NULL);
        http_reply(r, 500, "application/json", err, err ? strlen(err) : 0, api_headers);
        free(err);
        return;
    }
    if (status >= 500)
        g_stats.http_5xx++;
    else if (status >= 400)
        g_stats.http_4xx++;
    nng_http_res *res = NULL;
    nng_aio *wa = NULL;
    if (nng_http_res_alloc(&res) == 0 && nng_aio_alloc(&wa, write_cb, r) == 0) {
        nng_http_res_set_status(res, status);
        if (content_type) nng_http_res_set_header(res, "Content-Type", content_type);
        for (int i = 0; extra_headers && extra_headers[i]; i += 2)
            nng_http_res_set_header(res, extra_headers[i], extra_headers[i + 1]);
        if (r->close_after) nng_http_res_set_header(res, "Connection", "close");
        /* HEAD: the length of the body, not the body (no data, a size). */
        int rv = !len                             ? 0
                 : strcmp(r->method, "HEAD") == 0 ? nng_http_res_set_data(res, NULL, len)
                                                  : nng_http_res_copy_data(res, body, len);
        if (rv == 0) {
            r->res = res;
            r->write_aio = wa;
            r->wnext = h->writing;
            r->wprev = NULL;
            if (h->writing) h->writing->wprev = r;
            h->writing = r;
            nng_aio_set_timeout(wa, (nng_duration)h->ctx->cfg->http_write_timeout_ms);
            nng_http_conn_write_res(r->kc->conn, res, wa); /* written() completes it */
            return;
        }
    }
    /* Out of memory: the client sees its connection close. */
    if (wa) nng_aio_free(wa);
    if (res) nng_http_res_free(res);
    kconn_t *kc = r->kc;
    req_free(r);
    done_one(h);
    kconn_close(kc);
}

void http_reply_json(http_req_t *r, uint16_t status, const char *json, size_t len) {
    http_reply(r, status, "application/json", json, len, api_headers);
}

void http_reply_error(http_req_t *r, uint16_t status, const char *code, const char *parameter,
                      const char *fmt, ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    char *body = json_error_body(code, message, parameter);
    if (status == 405) {
        static const char *const allow[] = {"Cache-Control", "no-store", "Allow", "GET, HEAD", NULL};
        http_reply(r, status, "application/json", body, body ? strlen(body) : 0, allow);
    } else {
        http_reply(r, status, "application/json", body, body ? strlen(body) : 0, api_headers);
    }
    free(body);
}

/* ---- thread-pool work ------------------------------------------------------ */

static void work_run(uv_work_t *w) {
    work_item_t *it = w->data;
    store_cancel_t cancel = {&it->cancel, it->deadline};
    if (!atomic_load(&it->cancel)) it->work(it->arg, &cancel);
}

static void work_done(uv_work_t *w, int status) {
    work_item_t *it = w->data;
    http_t *h = it->h;
    if (it->prev)
        it->prev->next = it->next;
    else
        h->works = it->next;
    if (it->next) it->next->prev = it->prev;
    int why = atomic_load(&it->cancel);
    if (status == UV_ECANCELED && !why) why = HTTP_WORK_CANCELLED;
    if (why == HTTP_WORK_TIMEOUT) g_stats.http_timeouts++;
    it->done(it->arg, why);
    free(it);
}

int http_queue_work(http_t *h, http_req_t *r, void (*work)(void *, const store_cancel_t *),
                    void (*done)(void *, int), void *arg) {
    (void)r;
    if (h->draining) return -1;
    work_item_t *it = calloc(1, sizeof *it);
    if (!it) return -1;
    it->h = h;
    it->work = work;
    it->done = done;
    it->arg = arg;
    it->deadline = clock_mono_ms() + h->ctx->cfg->request_timeout_ms;
    it->req.data = it;
    if (uv_queue_work(h->ctx->loop, &it->req, work_run, work_done) != 0) {
        free(it);
        return -1;
    }
    it->next = h->works;
    if (h->works) h->works->prev = it;
    h->works = it;
    return 0;
}

/* Cancels one piece of work: not started, it never runs (done gets
 * UV_ECANCELED); running, the flag stops its query within a moment. */
static void cancel_work(work_item_t *it, int why) {
    int expected = 0;
    atomic_compare_exchange_strong(&it->cancel, &expected, why);
    uv_cancel((uv_req_t *)&it->req);
}

/* Deadlines of the work in flight, checked a few times per 100 ms. */
static void sweep_cb(uv_timer_t *t) {
    http_t *h = t->data;
    uint64_t now = clock_mono_ms();
    if (++h->sweeps % CONNS_SWEEP_EVERY == 0) conns_sweep(now, h->inflight > 0);
    for (work_item_t *it = h->works, *next; it; it = next) {
        next = it->next;
        if (now >= it->deadline && !atomic_load(&it->cancel)) cancel_work(it, HTTP_WORK_TIMEOUT);
    }
}

/* ---- start and stop --------------------------------------------------------- */

int http_start(http_t **out, struct insightd_ctx *ctx, char *err, size_t errcap) {
    http_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    h->ctx = ctx;
    the_http = h;
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->close_lock, NULL);
    pthread_cond_init(&h->close_cond, NULL);
    h->closer_running = pthread_create(&h->closer, NULL, closer_main, h) == 0; /* else closes inline */
    uv_async_init(ctx->loop, &h->async, async_cb);
    h->async.data = h;
    uv_timer_init(ctx->loop, &h->sweep);
    h->sweep.data = h;
    *out = h;
    ctx->http = h;
    char host[256];
    int port;
    if (config_split_hostport(ctx->cfg->listen, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "--listen: bad address '%s'", ctx->cfg->listen);
        return -1;
    }
    char url_text[300];
    bool tls = ctx->tls != NULL;
    /* The WebSocket listeners (ws.c) must use this exact host string to
     * join this server instead of binding the port a second time. */
    snprintf(url_text, sizeof url_text, "%s://%s", tls ? "https" : "http", ctx->cfg->listen);
    nng_url *url;
    int rv;
    if ((rv = nng_url_parse(&url, url_text)) != 0) {
        snprintf(err, errcap, "--listen: '%s': %s", ctx->cfg->listen, nng_strerror(rv));
        return -1;
    }
    rv = nng_http_server_hold(&h->server, url);
    nng_url_free(url);
    if (rv == 0 && tls) rv = nng_http_server_set_tls(h->server, ctx->tls);
    if (rv != 0) {
        snprintf(err, errcap, "HTTP server on %s: %s", ctx->cfg->listen, nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_http_handler_alloc(&h->api, "/api/v1", api_cb)) != 0 ||
        (rv = nng_http_handler_set_method(h->api, NULL)) != 0 ||
        (rv = nng_http_handler_set_tree(h->api)) != 0 ||
        (rv = nng_http_handler_collect_body(h->api, true, BODY_MAX)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->api)) != 0) {
        snprintf(err, errcap, "HTTP handler /api/v1: %s", nng_strerror(rv));
        return -1;
    }
    /* PUT /api/v1/lint takes a SARIF report: this exact path reads its own
     * body (begin), bounded by --max-lint-report. */
    if ((rv = nng_http_handler_alloc(&h->lint, "/api/v1/lint", lint_cb)) != 0 ||
        (rv = nng_http_handler_set_method(h->lint, NULL)) != 0 ||
        (rv = nng_http_handler_collect_body(h->lint, false, 0)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->lint)) != 0) {
        snprintf(err, errcap, "HTTP handler /api/v1/lint: %s", nng_strerror(rv));
        return -1;
    }
    if ((rv = nng_http_handler_alloc(&h->files, "/", files_cb)) != 0 ||
        (rv = nng_http_handler_set_method(h->files, NULL)) != 0 ||
        (rv = nng_http_handler_set_tree(h->files)) != 0 ||
        (rv = nng_http_handler_collect_body(h->files, true, BODY_MAX)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->files)) != 0) {
        snprintf(err, errcap, "HTTP handler /: %s", nng_strerror(rv));
        return -1;
    }
    /* The WebSocket listeners join this server (they start it). */
    if (ws_start((ws_t **)&ctx->ws, ctx, err, errcap) != 0) return -1;
    if ((rv = nng_http_server_start(h->server)) != 0) {
        snprintf(err, errcap, "HTTP server on %s: %s", ctx->cfg->listen, nng_strerror(rv));
        return -1;
    }
    nng_sockaddr sa;
    if (nng_http_server_get_addr(h->server, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET)
            port = ntohs(sa.s_in.sa_port);
        else if (sa.s_family == NNG_AF_INET6)
            port = ntohs(sa.s_in6.sa_port);
    }
    const char *scheme = tls ? "https" : "http";
    if (strchr(host, ':'))
        snprintf(ctx->http_url, sizeof ctx->http_url, "%s://[%s]:%d", scheme, host, port);
    else
        snprintf(ctx->http_url, sizeof ctx->http_url, "%s://%s:%d", scheme, host, port);
    ctx->listen_port = port;
    const config_t *cfg = ctx->cfg;
    conns_limits_t lim = {cfg->max_connections, cfg->http_header_timeout_ms, cfg->http_idle_timeout_ms,
                          cfg->request_timeout_ms + cfg->http_write_timeout_ms};
    conns_watch(port, tls, &lim);
    uv_timer_start(&h->sweep, sweep_cb, WORK_SWEEP_MS, WORK_SWEEP_MS);
    return 0;
}

void http_drain(http_t *h) {
    h->draining = true;
    for (work_item_t *it = h->works; it; it = it->next)
        cancel_work(it, HTTP_WORK_CANCELLED);
    /* Idle connections (and bodies being read) close now: their read
     * completes cancelled and kconn_on_read closes them. Busy ones close
     * once their response is written. */
    for (kconn_t *kc = h->kconns; kc; kc = kc->next)
        if (kc->reading) nng_aio_cancel(kc->read_aio);
}

uint64_t http_inflight(const http_t *h) {
    return h->inflight;
}

void http_cut_writes(http_t *h) {
    /* No lock of ours is held: the write callback takes h->lock. */
    for (http_req_t *r = h->writing; r; r = r->wnext)
        nng_aio_cancel(r->write_aio);
}

void http_stop(http_t *h) {
    /* From now on nng's threads answer new connections' requests 503
     * themselves; first requests already queued stay for the loop (or
     * http_free). */
    pthread_mutex_lock(&h->lock);
    h->stopped = true;
    pthread_mutex_unlock(&h->lock);
    nng_http_server_stop(h->server);
}

bool http_owns_handle(const http_t *h, const uv_handle_t *handle) {
    return handle == (const uv_handle_t *)&h->async || handle == (const uv_handle_t *)&h->sweep;
}

void http_close(http_t *h) {
    pthread_mutex_lock(&h->lock);
    h->closed = true;
    pthread_mutex_unlock(&h->lock);
    uv_timer_stop(&h->sweep);
    if (!uv_is_closing((uv_handle_t *)&h->sweep)) uv_close((uv_handle_t *)&h->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&h->async)) uv_close((uv_handle_t *)&h->async, NULL);
}

/* After the loop: whatever connections are left (their operations are
 * stopped and completed, requests answered 503 as draining, and the
 * connections closed like the loop would). */
static void close_leftovers(http_t *h) {
    h->draining = true;
    do {
        for (http_req_t *r = h->writing; r; r = r->wnext)
            nng_aio_stop(r->write_aio); /* write_cb queues it */
        for (kconn_t *kc = h->kconns; kc; kc = kc->next)
            if (kc->reading) nng_aio_stop(kc->read_aio); /* read_cb queues it */
    } while (take_queues(h));
    while (h->kconns)
        kconn_close(h->kconns);
}

bool http_free(http_t *h) {
    if (!h) return true;
    close_leftovers(h);
    if (!closer_stop(h, HTTP_CLOSER_DEADLINE_MS)) {
        /* Its connections and this server stay as they are: the process
         * exits without nng's teardown, which would wait the same way. */
        LOG(LOG_WARN, "closing HTTP connections has not ended after %d ms (nng 1.5.2's close waits for ever)",
            HTTP_CLOSER_DEADLINE_MS);
        the_http = NULL;
        return false;
    }
    if (h->server) nng_http_server_release(h->server);
    pthread_cond_destroy(&h->close_cond);
    pthread_mutex_destroy(&h->close_lock);
    pthread_mutex_destroy(&h->lock);
    the_http = NULL;
    free(h);
    return true;
}
