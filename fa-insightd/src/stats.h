/* stats.h — the daemon's counters, reported by /api/v1/health.
 *
 * Process-wide like the logger. Counters written by nng threads are
 * atomic; the others belong to the loop thread (the writer thread keeps
 * its own, see writer.h). Everything counts up from the start, except
 * the gauges marked "now". */
#ifndef FA_INSIGHTD_STATS_H
#define FA_INSIGHTD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fa_proto.h"

#define STATS_REJECT_REASONS 18 /* index: -fa_proto_err */

typedef struct insightd_stats {
    /* ingest, written by the nng receive callback */
    atomic_uint_fast64_t received; /* messages taken off the socket */
    atomic_uint_fast64_t received_bytes;
    atomic_uint_fast64_t
        queue_dropped; /* frames refused by a full hand-off queue (a FRAMES counts its entries) */
    atomic_uint_fast64_t control_over_reserve; /* control messages refused: even the reserve was full */
    atomic_uint_fast64_t queue_depth;          /* now */
    atomic_uint_fast64_t queue_high_water;
    atomic_uint_fast64_t last_queue_drop_mono; /* when a FRAME was last refused (health) */
    /* descriptors, written by the accept guard (fdguard.c) on nng threads */
    atomic_uint_fast64_t connections_shed; /* accepted and closed at once: no descriptor left */
    atomic_uint_fast64_t http_refused_connections; /* beyond --max-connections (conns.c) */
    /* message handling (loop) */
    uint64_t rejected; /* failed to decode */
    uint64_t rejected_by[STATS_REJECT_REASONS];
    uint64_t accepted_by_type[FA_PROTO_FRAMES + 1]; /* index fa_proto_type */
    uint64_t orphaned;             /* pending messages given up (bounds) */
    uint64_t pending;              /* now: messages waiting for their session to be resolved */
    uint64_t gaps;                 /* missing sequence numbers */
    uint64_t out_of_order;         /* late but new sequence numbers */
    uint64_t duplicates;           /* sequence numbers seen before: not stored */
    uint64_t session_conflicts;    /* messages of a live session from a second agent: refused */
    uint64_t rows_undefined_tag;   /* FRAME rows for ids no HELLO/TAGS defined */
    uint64_t rows_tag_cap;         /* definitions beyond --max-tags */
    uint64_t sites_defined;        /* call-site definitions stored (new or changed) */
    uint64_t sites_rejected;       /* definitions beyond --max-sites, or with id 0 */
    uint64_t bad_timestamps;       /* absurd agent clocks and frame times, clamped */
    uint64_t clock_skewed;         /* sessions whose agent clock is off by more than 2 s */
    uint64_t frames_store_backlog; /* accepted frames dropped: the writer's buffer was full */
    uint64_t frames_no_base;       /* 1.2 delta frames whose previous frame was lost: skipped */
    uint64_t last_store_drop_mono; /* when that last happened (health) */
    bool database_lost;            /* the database file was deleted or replaced */
    uint64_t sessions_evicted;     /* ended sessions dropped from memory (still stored) */
    uint64_t sessions_loaded;      /* sessions brought back from the store */
    /* ingest refusals by the shared secret (gate.c, loop) */
    uint64_t ingest_refused_secret_missing;   /* HELLOs without a secret */
    uint64_t ingest_refused_secret_wrong;     /* HELLOs with another secret */
    uint64_t ingest_refused_unauthenticated;  /* other messages of connections not admitted */
    uint64_t ingest_refused_connections;      /* connections refused (each once) */
    /* WebSocket (loop) */
    uint64_t ws_accepted, ws_clients, ws_sent, ws_merged, ws_dropped, ws_closed_slow, ws_closed_flood,
        ws_bad_messages, ws_refused, ws_accept_errors, ws_refused_origin, ws_refused_token;
    /* HTTP (loop) */
    uint64_t http_requests, http_4xx, http_5xx, http_inflight, http_timeouts, http_write_timeouts,
        http_capped, http_cancelled;
    /* HTTP refusals (loop): Host of a loopback daemon, token, bodies,
     * timeouts (conns.c) */
    uint64_t http_refused_host, http_refused_token, http_refused_body, http_header_timeouts,
        http_idle_timeouts;
    /* requests read by http.c's own parser (after a connection's first),
     * and heads it refused (malformed, too large, an upgrade not first) */
    uint64_t http_pipelined, http_refused_head;
} insightd_stats_t;

extern insightd_stats_t g_stats;

#endif
