/* ws.h — the WebSocket live stream: /ws (no subprotocol) and /ws/v1
 * (subprotocol "fa-insight.v1"), nng stream listeners joined to the HTTP
 * server (same host string, so nng shares the port). Loop thread.
 *
 * Bounds: at most --ws-max-clients clients (more are told
 * too_many_clients and closed, counted); per client one send in flight,
 * frames merged rather than queued, 256 queued events, a write deadline
 * (--ws-send-timeout); a client sending far more than its messages
 * (pings nng answers by itself and queues without bound when the client
 * does not read) is closed and counted; the hello lists at most 50 live
 * sessions. Every client is freed when its peer closes or errs, whatever
 * it sent, with or without frame traffic. */
#ifndef FA_INSIGHTD_WS_H
#define FA_INSIGHTD_WS_H

#include <stddef.h>
#include <stdint.h>

#include "sessions.h"

typedef struct ws ws_t;
struct insightd_ctx;

int ws_start(ws_t **out, struct insightd_ctx *ctx, char *err, size_t errcap);

/* Sessions hooks (installed by main; ud is the ws_t). */
void ws_on_frame(void *ud, const session_t *s);
void ws_on_alert(void *ud, const session_t *s, int event, const alert_row_t *a, uint64_t live_bytes);
void ws_on_session(void *ud, const session_t *s, const char *event);

/* Shutdown: closes every client and the listeners. */
void ws_close_all(ws_t *w);
/* Clients (and accepts) not finished yet: 0 once everything closed. */
uint64_t ws_open_clients(const ws_t *w);
/* Clients with a send in flight for longer than 1 s. */
uint64_t ws_stalled(const ws_t *w);
/* Closes the loop handles; ws_free once the loop ran. */
void ws_close(ws_t *w);
void ws_free(ws_t *w);

/* The JSON stream splitter of client messages: the length of the first
 * complete top-level JSON object or array in buf[0..len), 0 if
 * incomplete, -1 if buf does not start one (after white space, counted
 * in *skip). Any thread. */
long ws_json_extent(const char *buf, size_t len, size_t *skip);

#endif
