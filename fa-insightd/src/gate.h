/* gate.h — admission of ingest connections by the shared ingest secret
 * (--ingest-secret-file; proto/PROTOCOL.md §5.1, 1.2).
 *
 * With a secret, a connection (an nng pipe: the `source` of ingest.h) is
 * admitted once one of its HELLOs carries the secret, compared in constant
 * time; until then, and after a HELLO without it, every message it sends
 * is refused: not handed to the sessions, so never stored, and counted
 * (g_stats: a HELLO without a secret, with a wrong one, other messages of
 * a connection not admitted, and each connection once at its first
 * refusal). Without a secret the gate admits everything and is never
 * created. Connections are remembered by pipe id; ids of closed pipes are
 * forgotten when the table grows.
 *
 * THREADS: the loop thread only. */
#ifndef FA_INSIGHTD_GATE_H
#define FA_INSIGHTD_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gate gate_t;

/* A gate for secret (copied; 1..255 bytes). source_open: whether a pipe is
 * still open (ingest_source_open). NULL when out of memory. */
gate_t *gate_create(const char *secret, bool (*source_open)(uint32_t source));

/* Whether the message buf[0..len) from source may go on to the sessions.
 * O(len) for a HELLO (it is decoded), O(1) otherwise. */
bool gate_admit(gate_t *g, const void *buf, size_t len, uint32_t source);

/* Connections remembered now (open ones, and closed ones not yet
 * forgotten). */
uint32_t gate_connections(const gate_t *g);

/* Wipes the secret and frees the gate. NULL is fine. */
void gate_destroy(gate_t *g);

#endif
