/* http.c — the nng HTTP server and the hand-off of requests to the loop.
 *
 * nng parses HTTP; we never do. Two handlers: "/api/v1" (a tree, every
 * method: api.c answers 405 itself) and "/" (a tree, every method: our own
 * static file handler, never nng_http_handler_alloc_directory, which
 * serves /../ paths). Both are registered with nng_http_handler_set_tree:
 * nng keeps handlers longest-path first, so "/ws" (ws.c) and "/api/v1"
 * win over "/", and no registration collides (EADDRINUSE).
 *
 * A handler callback runs on an nng thread: it only queues the request's
 * aio and wakes the loop. The loop answers (or sends the work to the
 * thread pool and answers when it comes back) and finishes the aio
 * exactly once. The daemon writes each response itself on the connection
 * (nng_http_conn_write_res with its own aio) and finishes the handler's
 * aio only when the write is done: a request counts as in flight until
 * its last byte left, so that shutdown, which answers every queued
 * request before nng_http_server_stop (a hard stop that cuts writes),
 * never truncates a response. */
#include "insightd.h"

#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct http {
    insightd_ctx_t *ctx;
    nng_http_server *server;
    nng_http_handler *api, *files;
    uv_async_t async;
    pthread_mutex_t lock;
    http_req_t *head, *tail; /* queued by nng threads */
    http_req_t *written;     /* responses whose write completed */
    bool draining;           /* loop only: answer 503 */
    bool stopped;            /* under lock: nng threads answer 503 themselves */
    bool close_when_idle;    /* close the async handle when inflight drops to 0 */
    bool closed;
    uint64_t inflight;
};

static http_t *the_http; /* the handlers' data pointer would do; one server per process */

/* Builds and sends a response; any thread. */
static void finish(nng_aio *aio, uint16_t status, const char *content_type, const void *body, size_t len,
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

static const char *const api_headers[] = {"Cache-Control", "no-store", "X-Content-Type-Options", "nosniff",
                                          NULL};

static void reply_unavailable(nng_aio *aio) {
    char *body = json_error_body("shutting_down", "fa-insightd is shutting down", NULL);
    finish(aio, 503, "application/json", body, body ? strlen(body) : 0, api_headers);
    free(body);
}

static void enqueue(nng_aio *aio, int kind) {
    http_t *h = the_http;
    http_req_t *r = calloc(1, sizeof *r);
    if (!r) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    r->aio = aio;
    r->req = nng_aio_get_input(aio, 0);
    r->kind = kind;
    r->conn = nng_aio_get_input(aio, 2);
    r->method = nng_http_req_get_method(r->req);
    r->uri = nng_http_req_get_uri(r->req);
    pthread_mutex_lock(&h->lock);
    bool stopped = h->stopped;
    if (!stopped) {
        if (h->tail)
            h->tail->next = r;
        else
            h->head = r;
        h->tail = r;
    }
    pthread_mutex_unlock(&h->lock);
    if (stopped) {
        free(r);
        reply_unavailable(aio);
        return;
    }
    uv_async_send(&h->async);
}

/* One request fewer in flight; the last one may close the wake-up handle
 * (it must stay open while a write can still complete). */
static void done_one(http_t *h) {
    g_stats.http_inflight = --h->inflight;
    if (h->inflight == 0 && h->close_when_idle && !h->closed) {
        h->closed = true;
        uv_close((uv_handle_t *)&h->async, NULL);
    }
}

static void write_cb(void *arg) {
    http_req_t *r = arg;
    http_t *h = the_http;
    pthread_mutex_lock(&h->lock);
    r->next = h->written;
    h->written = r;
    pthread_mutex_unlock(&h->lock);
    uv_async_send(&h->async);
}

/* Loop: a response is on the wire; release the handler's aio. */
static void written(http_t *h, http_req_t *r) {
    nng_aio *wa = r->write_aio;
    int rv = nng_aio_result(wa);
    nng_aio_stop(wa); /* its callback has returned */
    nng_aio_free(wa);
    nng_http_res_free(r->res);
    nng_aio_set_output(r->aio, 0, NULL);
    nng_aio_finish(r->aio, rv);
    free(r);
    done_one(h);
}

static void api_cb(nng_aio *aio) {
    enqueue(aio, HTTP_KIND_API);
}
static void files_cb(nng_aio *aio) {
    enqueue(aio, HTTP_KIND_STATIC);
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
        else if (r->kind == HTTP_KIND_API)
            api_handle(h->ctx, r);
        else
            static_handle(h->ctx, r);
        r = next;
    }
}

void http_reply(http_req_t *r, uint16_t status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers) {
    http_t *h = the_http;
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
        if (len && nng_http_res_copy_data(res, body, len) != 0) status = 0;
        if (status) {
            r->res = res;
            r->write_aio = wa;
            nng_http_conn_write_res(r->conn, res, wa); /* written() completes it */
            return;
        }
    }
    if (wa) nng_aio_free(wa);
    if (res) nng_http_res_free(res);
    finish(r->aio, status ? status : 500, content_type, body, len, extra_headers);
    free(r);
    done_one(h);
}

void http_reply_json(http_req_t *r, uint16_t status, const char *json) {
    http_reply(r, status, "application/json", json, strlen(json), api_headers);
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

typedef struct work_item {
    uv_work_t req;
    void (*work)(void *);
    void (*done)(void *, int);
    void *arg;
} work_item_t;

static void work_run(uv_work_t *w) {
    work_item_t *it = w->data;
    it->work(it->arg);
}

static void work_done(uv_work_t *w, int status) {
    work_item_t *it = w->data;
    it->done(it->arg, status);
    free(it);
}

int http_queue_work(http_t *h, void (*work)(void *), void (*done)(void *, int), void *arg) {
    work_item_t *it = calloc(1, sizeof *it);
    if (!it) return -1;
    it->work = work;
    it->done = done;
    it->arg = arg;
    it->req.data = it;
    if (uv_queue_work(h->ctx->loop, &it->req, work_run, work_done) != 0) {
        free(it);
        return -1;
    }
    return 0;
}

int http_start(http_t **out, insightd_ctx_t *ctx, char *err, size_t errcap) {
    http_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    h->ctx = ctx;
    the_http = h;
    pthread_mutex_init(&h->lock, NULL);
    char host[256];
    int port;
    if (config_split_hostport(ctx->cfg->listen, host, sizeof host, &port) != 0) {
        snprintf(err, errcap, "--listen: bad address '%s'", ctx->cfg->listen);
        return -1;
    }
    char url_text[300];
    /* The WebSocket listeners (ws.c) must use this exact host string to
     * join this server instead of binding the port a second time. */
    snprintf(url_text, sizeof url_text, "http://%s", ctx->cfg->listen);
    nng_url *url;
    int rv;
    if ((rv = nng_url_parse(&url, url_text)) != 0) {
        snprintf(err, errcap, "--listen: '%s': %s", ctx->cfg->listen, nng_strerror(rv));
        return -1;
    }
    rv = nng_http_server_hold(&h->server, url);
    nng_url_free(url);
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
    if ((rv = nng_http_handler_alloc(&h->files, "/", files_cb)) != 0 ||
        (rv = nng_http_handler_set_method(h->files, NULL)) != 0 ||
        (rv = nng_http_handler_set_tree(h->files)) != 0 ||
        (rv = nng_http_handler_collect_body(h->files, true, 65536)) != 0 ||
        (rv = nng_http_server_add_handler(h->server, h->files)) != 0) {
        snprintf(err, errcap, "HTTP handler /: %s", nng_strerror(rv));
        return -1;
    }
    uv_async_init(ctx->loop, &h->async, async_cb);
    h->async.data = h;
    ctx->http = h;
    /* The WebSocket listeners join this server (they start it). */
    if (ws_start(&ctx->ws, ctx, err, errcap) != 0) return -1;
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
    if (strchr(host, ':'))
        snprintf(ctx->http_url, sizeof ctx->http_url, "http://[%s]:%d", host, port);
    else
        snprintf(ctx->http_url, sizeof ctx->http_url, "http://%s:%d", host, port);
    *out = h;
    return 0;
}

void http_drain(http_t *h) {
    h->draining = true;
}

uint64_t http_inflight(const http_t *h) {
    return h->inflight;
}

void http_stop(http_t *h) {
    pthread_mutex_lock(&h->lock);
    h->stopped = true;
    http_req_t *r = h->head;
    h->head = h->tail = NULL;
    pthread_mutex_unlock(&h->lock);
    /* Requests that slipped in between the last drain and the flag. */
    while (r) {
        http_req_t *next = r->next;
        reply_unavailable(r->aio);
        free(r);
        r = next;
    }
    /* A hard stop: open connections are closed, writes in progress fail
     * and complete through written(). */
    nng_http_server_stop(h->server);
}

bool http_owns_handle(const http_t *h, const uv_handle_t *handle) {
    return handle == (const uv_handle_t *)&h->async;
}

void http_close_when_idle(http_t *h) {
    h->close_when_idle = true;
    if (h->inflight == 0 && !h->closed) {
        h->closed = true;
        uv_close((uv_handle_t *)&h->async, NULL);
    }
}

void http_free(http_t *h) {
    if (!h) return;
    if (h->server) nng_http_server_release(h->server);
    pthread_mutex_destroy(&h->lock);
    the_http = NULL;
    free(h);
}
