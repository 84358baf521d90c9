/* conns.h — the HTTP port's connections, seen from their descriptors.
 *
 * Why: nng 1.5.2's HTTP server has no header or idle timeout (a
 * half-sent request kept a connection open for minutes; 1 100 of them
 * exhausted the descriptors) and no connection cap, and it offers no hook
 * at accept time. The accept guard (fdguard.c) sees every accept of the
 * process: it hands the HTTP listener's connections to this module, which
 *   - refuses a connection beyond --max-connections with a 503
 *     too_many_connections (plain HTTP; with TLS it is closed), counted;
 *   - watches each one through the kernel (TCP_INFO byte counters, on the
 *     loop's sweep): a connection that sends nothing for
 *     --http-idle-timeout, or whose request has not fully arrived within
 *     --http-header-timeout, gets a 408 (plain HTTP) and is shut down
 *     (shutdown(2): nng sees the end and frees it), counted.
 * A request has arrived once the daemon's handlers are busy with it, which
 * the kernel cannot see: while any request is in flight, a connection
 * still sending is given --request-timeout more before it is cut.
 * WebSocket connections (marked by ws.c once upgraded) only count toward
 * the cap. The close guard (fdguard.c interposes close(2)) drops a
 * connection under this module's lock before its descriptor is closed,
 * so a descriptor is never inspected or shut down while nng closes it or
 * after the kernel gave its number to another file.
 *
 * THREADS: conns_on_accept and conns_on_close on any thread (nng's);
 * everything else on the loop thread; a mutex between them. */
#ifndef FA_INSIGHTD_CONNS_H
#define FA_INSIGHTD_CONNS_H

#include <stdbool.h>
#include <stdint.h>

#include "netdiag.h"

typedef struct conns_limits {
    uint32_t max_connections;
    uint64_t header_timeout_ms, idle_timeout_ms, grace_ms; /* grace: the extra time while requests run */
} conns_limits_t;

/* Starts watching the listener bound to port (after the HTTP server
 * started). tls: the port speaks TLS (no plain-text answers then). */
void conns_watch(int port, bool tls, const conns_limits_t *lim);

/* From the accept guard, for every accepted descriptor: returns true to
 * hand it to the caller, false when it was refused (and closed). */
bool conns_on_accept(int listen_fd, int fd);

/* From the close guard, before fd is closed (any thread). */
void conns_on_close(int fd);

/* A connection became a WebSocket (peer as nng reports it). */
void conns_mark_upgraded(const netdiag_peer_t *peer);

/* Checks every connection; busy: requests are in flight. Call a few
 * times per second. */
void conns_sweep(uint64_t now_mono, bool busy);

/* Connections now (HTTP and WebSocket). */
uint32_t conns_open(void);

#endif
