/* ingest.h — the nng PULL socket and the hand-off of received messages to
 * the loop thread.
 *
 * One nng_recv_aio is always posted; its callback (an nng thread) only
 * appends the message to a bounded ring and wakes the loop, which drains
 * the ring (wake-ups merge) and hands each message to the sink. The ring
 * is bounded in messages and bytes (--ingest-queue). A full ring drops
 * FRAMEs and FRAMES (counted in frames: queue_full); control messages
 * (HELLO, TAGS, BYE and any other type, whose loss would orphan a session) use a
 * reserve above the bound and are dropped only when even that is full
 * (counted apart). */
#ifndef FA_INSIGHTD_INGEST_H
#define FA_INSIGHTD_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct nng_tls_config;

typedef struct ingest ingest_t;
/* Loop thread: one message and the daemon's wall and monotonic clocks
 * when nng delivered it. buf is valid during the call only. */
/* source: the id of the nng pipe (agent connection) the message came on. */
typedef void (*ingest_sink_fn)(void *ud, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono,
                               uint32_t source);

/* Connections the listener refused before they became connections of the
 * socket, from nng's listener statistics (nng 1.5.2 hands them to no
 * callback): TLS handshakes that failed (`auth`: a plain-TCP agent on a
 * tls+tcp:// ingest, or an agent that refused the certificate) and SP
 * handshakes of another protocol (`proto`: not a PUSH socket). Zero when
 * nng keeps no statistics. Loop thread. The figures are at most
 * INGEST_HANDSHAKE_REFRESH_MS old: a snapshot of nng's statistics tree
 * took 0.4 ms with 50 connections, too much for every /health. */
#define INGEST_HANDSHAKE_REFRESH_MS 1000u
void ingest_handshake_failures(ingest_t *in, uint64_t *tls, uint64_t *protocol);

/* Whether the ingest connection `source` is still open. Any thread. */
bool ingest_source_open(uint32_t source);

/* Ring slots (a power of two) and the part of them, and of the bytes,
 * that only control messages may use. */
#define INGEST_QUEUE_SLOTS 65536u
#define INGEST_CONTROL_SLOTS 1024u
#define INGEST_CONTROL_BYTES (4u * 1024u * 1024u)
/* Messages handled per loop wake-up before yielding to other handles. */
#define INGEST_BATCH 2048u

/* Listens on url and hands every message to sink on the loop thread.
 * queue_bytes bounds the ring (24 MiB by default: over a second of 100
 * games at 60 fps x 64 tags). bound_url receives the URL really bound
 * (port 0 resolved). tls: the server configuration of a tls+tcp:// url
 * (NULL otherwise; it must outlive the ingest). Returns 0 or -1 with err. */
int ingest_start(ingest_t **out, uv_loop_t *loop, const char *url, struct nng_tls_config *tls,
                 size_t queue_bytes, ingest_sink_fn sink, void *ud, char *bound_url, size_t bound_cap, char *err,
                 size_t errcap);
/* Shutdown, loop thread: stops receiving (new messages are discarded) and
 * hands what the ring holds to the sink; a thread closes the listener,
 * every connection and the socket meanwhile. */
void ingest_stop(ingest_t *in);

/* After ingest_stop, once the loop closed its handle: waits (at most
 * INGEST_CLOSE_MS) for the socket to be closed and frees everything.
 * Returns false when nng_close has not returned. The nng behaviour that
 * still needs this helper thread: in nng 1.5.2, nni_aio_stop waits forever
 * for an aio whose task was prepared but never started (nng issues #1543
 * and #1813, fixed by nng pull request #1824 in 1.8.0). It runs on nng's
 * single reaper thread when a connection closes; once it hangs, every
 * later close (nng_close here, nng_http_server_stop in http.c) waits on
 * the stuck reaper while all nng threads idle. With a sender pushing
 * 1000 messages/s it hung about one shutdown in ten; closing connections
 * only after they have gone quiet (no receive posted, INGEST_SETTLE_MS)
 * made it rarer (5 in 170 shutdowns, most beside a parallel build), so
 * the deadline stays. When it fires,
 * the process exits without nng's teardown (which would wait on the same
 * reaper); everything of the daemon's is flushed and closed by then. */
#define INGEST_CLOSE_MS 1000
bool ingest_free(ingest_t *in);

#endif
