/* http.c — the nng HTTP server and the hand-off of requests to the loop
 * (see http.h).
 *
 * Two handlers: "/api/v1" (a tree, every method: api.c answers 405 itself)
 * and "/" (a tree: our own static handler, never
 * nng_http_handler_alloc_directory, which serves /../ paths). Both use
 * nng_http_handler_set_tree: nng keeps handlers longest-path first, so
 * "/ws" (ws.c) and "/api/v1" win over "/" and nothing collides.
 *
 * A request's life, under h->lock where marked:
 *   queued (nng thread) -> on the loop -> [work on the pool] -> writing
 *   -> written: the handler's aio is finished.
 * nng cancels a handler's aio when it closes the connection or stops the
 * server (its reaper then waits for the aio): the cancel routine finishes
 * the aio at once unless our write is in flight, which the closing
 * connection completes anyway. A cancelled request is never touched again
 * but freed. This is what lets nng_http_server_stop, nng_close and nng's
 * own teardown finish without waiting for the loop. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "access.h"
#include "clock.h"
#include "conns.h"
#include "ctx.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "static.h"
#include "stats.h"
#include "ws.h"

#define WORK_SWEEP_MS 20

static const char *const copied_headers[] = {"Host",          "If-None-Match",     "Origin",
                                            "Authorization", "Transfer-Encoding", "Content-Length"};
#define COPIED_HEADERS 6
#define CONNS_SWEEP_EVERY 10 /* work sweeps (20 ms) per connection sweep */

enum { REQ_QUEUED, REQ_WRITING };

struct http_req {
    nng_aio *aio;        /* the handler's */
    nng_http_conn *conn; /* valid while the aio is not finished */
    nng_http_res *res;   /* while we write it */
    nng_aio *write_aio;
    int kind;
    int state;    /* under lock */
    bool aborted; /* under lock: nng cancelled the aio (finished it) */
    bool close_after; /* the connection closes after the response */
    char method[16];
    char *uri;
    char *headers[COPIED_HEADERS];
    char *body; /* the lint route's request body (NUL-terminated), else NULL */
    size_t body_len;
    nng_aio *body_aio;   /* reads that body (lint_cb) */
    bool body_too_large; /* its Content-Length is over --max-lint-report or not a number: unread */
    http_req_t *next;          /* queues */
    http_req_t *wnext, *wprev; /* the list of requests being written */
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
    http_req_t *head, *tail; /* queued by nng threads (lock) */
    http_req_t *written;     /* writes completed (lock) */
    http_req_t *writing;     /* loop: responses in flight */
    work_item_t *works;      /* loop: pool work in flight */
    bool stopped;            /* lock: nng threads answer 503 themselves */
    bool draining;           /* loop */
    uint64_t inflight;       /* loop */
    unsigned sweeps;         /* loop */
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
    if (r->body_aio) nng_aio_free(r->body_aio);
    free(r->body);
    free(r->uri);
    for (int i = 0; i < COPIED_HEADERS; i++)
        free(r->headers[i]);
    free(r);
}

/* Builds nng's own response and finishes the handler's aio (any thread). */
static void finish_with(nng_aio *aio, uint16_t status, const char *content_type, const void *body, size_t len,
                        const char *const *extra) {
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, status);
    if (content_type) nng_http_res_set_header(res, "Content-Type", content_type);
    for (int i = 0; extra && extra[i]; i += 2)
        nng_http_res_set_header(res, extra[i], extra[i + 1]);
    if (len) nng_http_res_copy_data(res, body, len);
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void finish_unavailable(nng_aio *aio) {
    char *body = json_error_body("shutting_down", "fa-insightd is shutting down", NULL);
    finish_with(aio, 503, "application/json", body, body ? strlen(body) : 0, api_headers);
    free(body);
}

/* nng thread: the connection is closing or the server stopping. */
static void cancel_cb(nng_aio *aio, void *arg, int rv) {
    http_req_t *r = arg;
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    bool finish = r->state == REQ_QUEUED && !r->aborted;
    if (finish) r->aborted = true;
    pthread_mutex_unlock(&h->lock);
    if (finish) nng_aio_finish(aio, rv);
}

/* nng thread: what the daemon keeps of a request (NULL after finishing the
 * aio when out of memory). */
static http_req_t *req_new(nng_aio *aio, int kind) {
    nng_http_req *req = nng_aio_get_input(aio, 0);
    http_req_t *r = calloc(1, sizeof *r);
    if (!r || !(r->uri = strdup(nng_http_req_get_uri(req)))) {
        free(r);
        nng_aio_finish(aio, NNG_ENOMEM);
        return NULL;
    }
    r->aio = aio;
    r->conn = nng_aio_get_input(aio, 2);
    r->kind = kind;
    snprintf(r->method, sizeof r->method, "%s", nng_http_req_get_method(req));
    for (int i = 0; i < COPIED_HEADERS; i++) {
        const char *v = nng_http_req_get_header(req, copied_headers[i]);
        if (v) r->headers[i] = strdup(v);
    }
    return r;
}

/* nng thread: hands a request to the loop. */
static void req_queue(http_req_t *r) {
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    bool stopped = h->stopped;
    if (!stopped) {
        nng_aio_defer(r->aio, cancel_cb, r);
        if (h->tail)
            h->tail->next = r;
        else
            h->head = r;
        h->tail = r;
    }
    pthread_mutex_unlock(&h->lock);
    if (stopped) {
        nng_aio *aio = r->aio;
        req_free(r);
        finish_unavailable(aio);
        return;
    }
    uv_async_send(&h->async);
}

static void api_cb(nng_aio *aio) {
    http_req_t *r = req_new(aio, HTTP_KIND_API);
    if (r) req_queue(r);
}
static void files_cb(nng_aio *aio) {
    http_req_t *r = req_new(aio, HTTP_KIND_STATIC);
    if (r) req_queue(r);
}

/* nng thread: the lint route's body has been read (or not). */
static void body_cb(void *arg) {
    http_req_t *r = arg;
    int rv = nng_aio_result(r->body_aio);
    if (rv != 0) { /* the client went away or was too slow: nothing to answer */
        nng_aio_reap(r->body_aio);
        r->body_aio = NULL;
        nng_aio *aio = r->aio;
        req_free(r);
        nng_aio_finish(aio, rv);
        return;
    }
    req_queue(r);
}

/* nng thread: PUT /api/v1/lint. nng does not collect this route's body:
 * its refusal of a long one is a bare HTML 400 before the daemon sees the
 * request. A body within --max-lint-report is read here, then the request
 * is queued; a longer one (or a Content-Length that is not a number) is
 * queued unread, for the route's JSON 413, and the connection closes after
 * the answer (its bytes are never parsed as a request). */
static void lint_cb(nng_aio *aio) {
    http_t *h = the_http;
    nng_http_req *req = nng_aio_get_input(aio, 0);
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    http_req_t *r = req_new(aio, HTTP_KIND_API);
    if (!r) return;
    if (strcmp(r->method, "PUT") != 0 || !cl) { /* the gate refuses a GET's body */
        req_queue(r);
        return;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long len = strtoull(cl, &end, 10);
    if (errno || end == cl || *end || cl[0] == '-' || cl[0] == '+' ||
        len > h->ctx->cfg->max_lint_report_bytes) {
        r->body_too_large = true;
        r->close_after = true;
        req_queue(r);
        return;
    }
    if (len == 0) {
        req_queue(r);
        return;
    }
    int rv;
    if (!(r->body = malloc((size_t)len + 1)) || (rv = nng_aio_alloc(&r->body_aio, body_cb, r)) != 0) {
        req_free(r);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    r->body[len] = '\0';
    r->body_len = (size_t)len;
    nng_iov iov = {r->body, (size_t)len};
    nng_aio_set_iov(r->body_aio, 1, &iov);
    nng_aio_set_timeout(r->body_aio, (nng_duration)h->ctx->cfg->http_header_timeout_ms);
    nng_http_conn_read_all(r->conn, r->body_aio);
}

/* nng thread: our write finished (or failed). */
static void write_cb(void *arg) {
    http_req_t *r = arg;
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    r->next = h->written;
    h->written = r;
    pthread_mutex_unlock(&h->lock);
    uv_async_send(&h->async);
}

/* One request answered: it leaves the in-flight count. */
static void done_one(http_t *h) {
    g_stats.http_inflight = --h->inflight;
}

/* Loop: a response is on the wire (or failed); release the aio. */
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
    }
    if (r->wprev)
        r->wprev->wnext = r->wnext;
    else
        h->writing = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev;
    /* A failed write leaves the connection unusable: finishing with the
     * error makes nng close it. */
    nng_aio_set_output(r->aio, 0, NULL);
    nng_aio_finish(r->aio, rv ? rv : r->close_after ? NNG_ECLOSED : 0);
    req_free(r);
    done_one(h);
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

static void async_cb(uv_async_t *a) {
    http_t *h = a->data;
    pthread_mutex_lock(&h->lock);
    http_req_t *r = h->head, *w = h->written;
    h->head = h->tail = NULL;
    h->written = NULL;
    pthread_mutex_unlock(&h->lock);
    while (w) {
        http_req_t *next = w->next;
        written(h, w);
        w = next;
    }
    while (r) {
        http_req_t *next = r->next;
        r->next = NULL;
        g_stats.http_requests++;
        g_stats.http_inflight = ++h->inflight;
        if (h->draining)
            http_reply_error(r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
        else if (!gate(h, r))
            ;
        else if (r->kind == HTTP_KIND_API)
            api_handle(h->ctx, r);
        else if (metrics_is_target(r->uri))
            metrics_handle(h->ctx, r);
        else
            static_handle(h->ctx, r);
        r = next;
    }
}

size_t http_max_response(const http_t *h) {
    return (size_t)h->ctx->cfg->max_response_bytes;
}

void http_reply(http_req_t *r, uint16_t status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers) {
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    bool aborted = r->aborted;
    if (!aborted) r->state = REQ_WRITING;
    pthread_mutex_unlock(&h->lock);
    if (aborted) { /* nng finished the aio already; the connection is gone */
        g_stats.http_cancelled++;
        req_free(r);
        done_one(h);
        return;
    }
    if (len > http_max_response(h)) {
        g_stats.http_capped++;
        LOG(LOG_WARN, "a %zu-byte response to %.200s exceeds --max-response (%zu bytes)", len, r->uri,
            http_max_response(h));
        char *err =
            json_error_body("response_too_large",
                            "the response is larger than --max-response; ask for less (limit, window)", NULL);
        status = 500;
        content_type = "application/json";
        extra_headers = api_headers;
        body = err;
        len = err ? strlen(err) : 0;
        http_reply(r, status, content_type, body, len, extra_headers);
        free(err);
        return;
    }
    if (status >= 500)
        g_stats.http_5xx++;
    else if (status >= 400)
        g_stats.http_4xx++;
    nng_http_res *res = NULL;
    nng_aio *wa = NULL;
    /* HEAD responses (nng strips their body) are left to the server. */
    if (r->conn && strcmp(r->method, "HEAD") != 0 && nng_http_res_alloc(&res) == 0 &&
        nng_aio_alloc(&wa, write_cb, r) == 0) {
        nng_http_res_set_status(res, status);
        if (content_type) nng_http_res_set_header(res, "Content-Type", content_type);
        for (int i = 0; extra_headers && extra_headers[i]; i += 2)
            nng_http_res_set_header(res, extra_headers[i], extra_headers[i + 1]);
        if (r->close_after) nng_http_res_set_header(res, "Connection", "close");
        if (!len || nng_http_res_copy_data(res, body, len) == 0) {
            r->res = res;
            r->write_aio = wa;
            r->wnext = h->writing;
            r->wprev = NULL;
            if (h->writing) h->writing->wprev = r;
            h->writing = r;
            nng_aio_set_timeout(wa, (nng_duration)h->ctx->cfg->http_write_timeout_ms);
            nng_http_conn_write_res(r->conn, res, wa); /* written() completes it */
            return;
        }
    }
    if (wa) nng_aio_free(wa);
    if (res) nng_http_res_free(res);
    finish_with(r->aio, status, content_type, body, len, extra_headers);
    req_free(r);
    done_one(h);
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
        (rv = nng_http_handler_collect_body(h->api, true, 65536)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->api)) != 0) {
        snprintf(err, errcap, "HTTP handler /api/v1: %s", nng_strerror(rv));
        return -1;
    }
    /* PUT /api/v1/lint takes a SARIF report: this exact path reads its own
     * body (lint_cb), bounded by --max-lint-report. */
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
        (rv = nng_http_handler_collect_body(h->files, true, 65536)) != 0 ||
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
    pthread_mutex_lock(&h->lock);
    h->stopped = true;
    http_req_t *r = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->lock);
    /* Requests that slipped in between the last drain and the flag: nng's
     * own response, nothing left for the loop. */
    while (r) {
        http_req_t *next = r->next;
        pthread_mutex_lock(&h->lock);
        bool aborted = r->aborted;
        r->aborted = true;
        pthread_mutex_unlock(&h->lock);
        if (!aborted) finish_unavailable(r->aio);
        req_free(r);
        r = next;
    }
    nng_http_server_stop(h->server);
}

bool http_owns_handle(const http_t *h, const uv_handle_t *handle) {
    return handle == (const uv_handle_t *)&h->async || handle == (const uv_handle_t *)&h->sweep;
}

void http_close(http_t *h) {
    uv_timer_stop(&h->sweep);
    if (!uv_is_closing((uv_handle_t *)&h->sweep)) uv_close((uv_handle_t *)&h->sweep, NULL);
    if (!uv_is_closing((uv_handle_t *)&h->async)) uv_close((uv_handle_t *)&h->async, NULL);
}

void http_free(http_t *h) {
    if (!h) return;
    if (h->server) nng_http_server_release(h->server);
    pthread_mutex_destroy(&h->lock);
    the_http = NULL;
    free(h);
}
