/* netdiag.h — what the kernel knows about TCP connections (Linux
 * sock_diag): how many bytes each peer sent.
 *
 * Why: nng answers WebSocket pings itself and queues the pongs without
 * bound when the peer does not read; the daemon never sees the pings. The
 * kernel's byte count of a connection shows a peer sending far more than
 * the messages the daemon received, and ws.c closes it. Loop thread. */
#ifndef FA_INSIGHTD_NETDIAG_H
#define FA_INSIGHTD_NETDIAG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct netdiag netdiag_t;

/* A peer's address as nng reports it: family (4 or 6), address bytes in
 * network order, port in host order. */
typedef struct netdiag_peer {
    int family;
    uint8_t addr[16];
    uint16_t port;
} netdiag_peer_t;

/* NULL when the kernel refuses (the check is then skipped). */
netdiag_t *netdiag_open(void);
void netdiag_close(netdiag_t *d);

/* Calls fn for every established TCP connection whose local port is
 * local_port: the peer and the bytes received from it. Returns 0 or -1. */
int netdiag_scan(netdiag_t *d, uint16_t local_port,
                 void (*fn)(void *ud, const netdiag_peer_t *peer, uint64_t bytes_received), void *ud);

#endif
