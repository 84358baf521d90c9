/* http.h — the nng HTTP server and the hand-off of requests to the loop.
 *
 * nng parses HTTP; we never do. A handler callback (an nng thread) copies
 * what the daemon needs of the request, registers a cancel routine on the
 * handler's aio, queues the request and wakes the loop. The loop answers
 * it (or sends its work to the thread pool and answers when it comes
 * back) by writing the response itself on the connection, so that a
 * request is in flight until its last byte left.
 *
 * Bounds: every response body is capped (--max-response; a longer one is
 * a 500 response_too_large, counted: list routes truncate themselves
 * first), every write has a deadline (--http-write-timeout: a client that
 * does not take its response is cut off and counted), and every piece of
 * thread-pool work has a deadline (--request-timeout: a 503 timeout) and
 * is cancelled at shutdown (a 503 shutting_down).
 *
 * THREADS: every function on the loop thread unless marked. */
#ifndef FA_INSIGHTD_HTTP_H
#define FA_INSIGHTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store.h"

typedef struct http http_t;
typedef struct http_req http_req_t;
struct insightd_ctx;

enum { HTTP_KIND_API = 1, HTTP_KIND_STATIC = 2 };

/* Starts the server on cfg->listen with the API, static and WebSocket
 * routes. ctx->http_url receives "http://host:port" with the real port. */
int http_start(http_t **out, struct insightd_ctx *ctx, char *err, size_t errcap);

/* The request (copied when it arrived; valid until it is answered). */
const char *http_req_method(const http_req_t *r);
const char *http_req_uri(const http_req_t *r); /* the raw target, query included */
/* "Host", "If-None-Match", "Origin", "Authorization", "Transfer-Encoding"
 * or "Content-Length"; NULL when absent. */
const char *http_req_header(const http_req_t *r, const char *name);

/* The request body and its length: only PUT /api/v1/lint keeps one (NULL
 * and 0 otherwise). NUL-terminated; valid until the request is answered. */
const char *http_req_body(const http_req_t *r, size_t *len);
/* Whether the lint route's body was left unread: its Content-Length is
 * over --max-lint-report or not a number (the connection closes after the
 * answer). */
bool http_req_body_too_large(const http_req_t *r);

/* Replies (each request exactly once). body is copied. extra_headers:
 * NULL-terminated name, value pairs, or NULL. */
void http_reply(http_req_t *r, uint16_t status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers);
void http_reply_json(http_req_t *r, uint16_t status, const char *json, size_t len);
/* A JSON error; parameter may be NULL. */
void http_reply_error(http_req_t *r, uint16_t status, const char *code, const char *parameter,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The byte budget of a response body (for routes that truncate). */
size_t http_max_response(const http_t *h);

/* Work on the thread pool for request r: work(arg, cancel) runs there
 * (it MUST pass cancel to the store's readers and stop when told), then
 * done(arg, status) on the loop, which MUST answer r: status is 0,
 * HTTP_WORK_TIMEOUT (past --request-timeout) or HTTP_WORK_CANCELLED
 * (shutdown). Returns 0, or -1 (then nothing runs). */
enum { HTTP_WORK_TIMEOUT = 1, HTTP_WORK_CANCELLED = 2 };
int http_queue_work(http_t *h, http_req_t *r, void (*work)(void *arg, const store_cancel_t *cancel),
                    void (*done)(void *arg, int status), void *arg);

/* Shutdown, in this order. drain: new requests get 503, queued work is
 * cancelled (its requests answered 503). */
void http_drain(http_t *h);
/* Requests accepted and not yet answered (written). */
uint64_t http_inflight(const http_t *h);
/* Aborts responses still being written (clients not reading). */
void http_cut_writes(http_t *h);
/* Stops the server (after the WebSocket listeners closed: each holds the
 * shared server). Requests that slip in now are answered 503 by nng's
 * threads without the loop. */
void http_stop(http_t *h);
/* Closes the loop handles. */
void http_close(http_t *h);
bool http_owns_handle(const http_t *h, const uv_handle_t *handle);
/* After the loop. false when nng's connection close did not return within
 * a second (nng 1.5.2): the server is then left as it is, and the process
 * must exit without nng's teardown. */
bool http_free(http_t *h);

#endif
