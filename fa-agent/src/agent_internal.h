/*
 * agent_internal.h — the agent's one internal header: the agent object, the
 * single-producer/single-consumer ring of snapshots, and the functions the
 * modules share.
 *
 * Division of work (measured: at 64 tags fa_snapshot_take() and
 * fa_proto_encode() each cost about a microsecond, so only the first stays
 * on the game thread, and since call sites, the ranking of site rows moved
 * off it too):
 *   game thread  — takes the snapshot straight into a free ring slot's
 *                  preallocated arrays, tag rows unsummed and site pairs
 *                  unranked (fa_snapshot_t.defer), and publishes it
 *                  (hook.c); drops and counts the frame when no daemon is
 *                  connected or the ring is full;
 *   sender       — finishes the snapshot (fa_snapshot_finish), turns each slot
 *                  into messages (HELLO after a new
 *                  connection, TAGS for new tags and budget changes, FRAME),
 *                  encodes them into its own buffer, sends them, appends
 *                  them to the capture file, renders JSON for the file
 *                  emitter (sender.c, capture.c, emit.c);
 *   nng threads  — pipe callbacks set `link` atomics only.
 * Hand-offs are acquire/release pairs on the ring's head and tail; the
 * emitter's request flag carries no data. No mutex anywhere.
 */
#ifndef FA_AGENT_INTERNAL_H
#define FA_AGENT_INTERNAL_H

#include "fa_agent.h"
#include "fa_proto.h"

#include <nng/nng.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define FA__AGENT_LINE 64
/* Call-site definitions per SITES message: 1024 x 523 bytes at most, well
 * inside the protocol's 2 MiB. */
#define FA__AGENT_SITES_PER_MESSAGE 1024u
/* Bits of a sink's set of defined sites: lib's site ids. */
#define FA__AGENT_SITE_WORDS ((FA_SITE_MAX + 64u) / 64u)

/* One frame's snapshot waiting in the ring. snap.rows/threads/findings
 * point into the ring's storage (max_tags, max_threads, max_findings
 * entries); tag paths point into lib, which outlives the agent. */
typedef struct fa__agent_slot {
    fa_snapshot_t snap;
    fa_site_row_t *site_pairs; /* the slot's raw (site, tag) pairs: the game
                                  thread copies them unranked, the sender
                                  ranks them (snap.sites then points at the
                                  sender's rows until the slot is reused) */
    uint64_t game_drops; /* frames the game side had dropped before this one */
    uint64_t ring_drops; /* of which for lack of a free slot */
    bool send;           /* for the daemon (false: no daemon connected) */
    bool capture;        /* for the capture file */
    bool emit;           /* the file emitter asked for this snapshot */
} fa__agent_slot_t;

/* Lock-free SPSC ring of snapshots: the game thread is the only producer
 * (fills a slot, then publishes head with release), the sender the only
 * consumer (reads head with acquire, then publishes tail with release).
 * head - tail is the number of snapshots waiting; indexes never wrap in
 * practice (64 bits). */
typedef struct fa__agent_ring {
    alignas(FA__AGENT_LINE) _Atomic uint64_t head; /* next slot to fill */
    uint64_t tail_seen;                            /* producer's cached tail */
    alignas(FA__AGENT_LINE) _Atomic uint64_t tail; /* next slot to send */
    alignas(FA__AGENT_LINE) fa__agent_slot_t *slots;
    uint32_t capacity; /* a power of two */
    uint32_t mask;
    fa_tag_row_t *rows;       /* capacity x max_tags */
    fa_thread_row_t *threads; /* capacity x max_threads */
    fa_finding_t *findings;   /* capacity x max_findings */
    fa_site_row_t *sites;     /* capacity x site_pairs */
    uint32_t site_pairs;      /* raw pairs per slot: FA__AGENT_SITE_PAIRS x
                                 max_site_rows */
} fa__agent_ring_t;

/* Raw (site, tag) pairs a slot holds, per row a FRAME carries. Up to that
 * many active pairs, the game thread only copies them and the sender ranks
 * them (fa_snapshot_finish); beyond, lib ranks them on the game thread
 * (the same rows, at a higher cost there). */
#define FA__AGENT_SITE_PAIRS 4u

/* Producer side: free slots, refreshing the cached tail only when needed. */
static inline uint32_t fa__ring_free(fa__agent_ring_t *r, uint32_t wanted) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t free_slots = r->capacity - (uint32_t)(head - r->tail_seen);
    if (free_slots < wanted) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        free_slots = r->capacity - (uint32_t)(head - r->tail_seen);
    }
    return free_slots;
}
/* Producer side: the i-th slot after head (not yet visible). */
static inline fa__agent_slot_t *fa__ring_slot(fa__agent_ring_t *r, uint32_t i) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    return &r->slots[(head + i) & r->mask];
}
/* Producer side: makes n filled slots visible to the sender. */
static inline void fa__ring_publish(fa__agent_ring_t *r, uint32_t n) {
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    atomic_store_explicit(&r->head, head + n, memory_order_release);
}
/* Consumer side: the oldest message, or NULL when the ring is empty. */
static inline fa__agent_slot_t *fa__ring_peek(fa__agent_ring_t *r) {
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (tail == atomic_load_explicit(&r->head, memory_order_acquire)) return NULL;
    return &r->slots[tail & r->mask];
}
/* Consumer side: releases the oldest message's slot to the producer. */
static inline void fa__ring_pop(fa__agent_ring_t *r) {
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
}

/* A counter with a single writer: relaxed load + store (no locked
 * instruction on the game thread); readers on other threads see whole
 * values. */
static inline void fa__count(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline uint64_t fa__read(const _Atomic uint64_t *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* The file emitter's request: IDLE -> REQUESTED (sender) -> TAKEN (game
 * thread, with the slot it marks) -> IDLE (sender, once the file is
 * written). */
enum { FA__EMIT_IDLE = 0, FA__EMIT_REQUESTED = 1, FA__EMIT_TAKEN = 2 };

/* The identity of the session, for HELLO and the JSON files. */
typedef struct fa__agent_meta {
    uint64_t session_id;
    uint32_t pid;
    uint64_t start_unix_ns, start_mono_ns;
    const char *app_name, *session_label, *build_id, *host;
    const char *ingest_secret; /* "" when none; only the stream's HELLOs carry it */
} fa__agent_meta_t;

/* One receiver of the session's messages: the daemon over nng, or the
 * capture file. Each numbers its messages and learns the tag dictionary on
 * its own, so that either one is a complete session by itself. Sender
 * thread only. */
typedef enum { FA__SINK_STREAM, FA__SINK_CAPTURE } fa__sink_kind;
typedef struct fa__agent_sink {
    fa__sink_kind kind;
    uint64_t next_seq;
    bool need_hello;                   /* the next message must be a HELLO */
    uint32_t announced;                /* tag ids below this were announced */
    uint64_t *known_soft, *known_hard; /* budgets as announced (max_tags each) */
    uint64_t drops_at_frame;           /* the sink's drop total at its last FRAME */
    uint64_t *sites_defined;           /* bit per site id: defined to this sink
                                          since its last HELLO */
    uint64_t hello_at_ns;              /* when its last HELLO left (the stream
                                          repeats it every hello_interval_ms) */
} fa__agent_sink_t;

#define FA__AGENT_STRINGS 9
struct fa_agent_s {
    fa_alloc_t *fa;
    uint32_t fork_generation; /* fa__agent_forks when the agent started */
    fa_agent_desc_t desc;     /* effective; strings point to `strings` below */
    fa__agent_meta_t meta;
    char *strings[FA__AGENT_STRINGS]; /* owned copies: url, app, label, build, dir, host,
                                         capture, ingest secret (wiped on free), CA file */

    /* Game thread: single-writer counters. */
    struct {
        alignas(FA__AGENT_LINE) _Atomic uint64_t frames_seen;
        _Atomic uint64_t drop_ring_full;
        _Atomic uint64_t drop_disconnected;
        _Atomic uint64_t drops; /* the two above */
    } game;

    fa__agent_ring_t ring;

    /* nng: the socket and what the pipe callbacks publish. */
    struct {
        bool enabled; /* false when the URL is file:PATH (capture only) */
        nng_socket sock;
        nng_dialer dialer;
        int send_fd;                                      /* readable when nng can take a message */
        alignas(FA__AGENT_LINE) _Atomic uint32_t pipe_id; /* 0: not connected */
        _Atomic uint32_t want_gen;                        /* +1 per connection */
        _Atomic uint64_t connects;
    } link;

    /* Sender thread: counters (single writer) and its own buffers. */
    struct {
        alignas(FA__AGENT_LINE) _Atomic uint64_t frames_sent;
        _Atomic uint64_t messages_sent, bytes_sent, hellos_sent, tags_sent, sites_sent;
        _Atomic uint64_t drop_send_failed, drop_disconnected, drop_encode_failed;
        _Atomic uint64_t snapshots_written, snapshot_errors;
        _Atomic bool bye_sent;
        _Atomic bool flushed; /* final: nothing was left in the ring */
        pthread_t thread;
        bool thread_started;
        /* Wire buffer: the largest HELLO, TAGS or FRAME of this agent. */
        unsigned char *wire;
        size_t wire_capacity;
        fa_proto_tag_def_t *defs;           /* max_tags */
        fa_proto_tag_stat_t *tag_stats;     /* max_tags */
        fa_proto_thread_row_t *thread_rows; /* max_threads */
        fa_proto_finding_t *findings;       /* max_findings */
        fa_proto_site_row_t *site_rows;     /* max_site_rows */
        fa_site_row_t *ranked_sites;        /* max_site_rows: a slot's ranked site rows */
        uint64_t *rank_work;                /* the ranking's scratch: ring.site_pairs +
                                               lib's max_tags */
        size_t rank_work_count;
        fa_proto_site_def_t *site_defs;     /* FA__AGENT_SITES_PER_MESSAGE */
        fa__agent_sink_t stream;
        /* 1.2 stream: the FRAMES being built (batch_wire), the whole tag
         * rows of the frame last added to it (prev_rows, swapped with
         * tag_stats), and a frame's changed rows (delta_rows). */
        unsigned char *batch_wire;
        size_t batch_capacity;
        fa_proto_batch_t batch;
        uint64_t batch_drops_at;         /* stream.drops_at_frame before the batch */
        fa_proto_tag_stat_t *prev_rows;  /* max_tags */
        fa_proto_tag_stat_t *delta_rows; /* max_tags */
        uint32_t prev_count;
        uint64_t prev_frame;
        bool prev_valid;    /* false: the next frame is a key */
        uint32_t since_key; /* frames added since the last key */
    } sender;

    /* Capture file: opened by start, written and closed by the sender. */
    struct {
        bool enabled;
        int fd;
        const char *path;     /* the agent's copy */
        uint64_t good_size;   /* end of the last whole message written */
        bool failing;         /* the last write failed (log once per episode) */
        bool broken;          /* the file could not be cut back: no more writes */
        bool bye_written;     /* final */
        fa__agent_sink_t sink;
        alignas(FA__AGENT_LINE) _Atomic uint64_t frames, bytes, dropped, write_errors;
    } capture;

    /* Stop: the deadline is written before `stopping` is released. */
    alignas(FA__AGENT_LINE) _Atomic bool stopping;
    uint64_t stop_start_ns, stop_deadline_ns;

    /* File emitter. */
    struct {
        bool enabled;
        alignas(FA__AGENT_LINE) _Atomic uint32_t state; /* FA__EMIT_* */
        _Atomic uint32_t api_request;
        /* Sender only. */
        uint64_t next_poll_ns, last_write_ns;
        bool written_once;
        char *request_path;
    } emit;
};

/* fork(): the number of fork() calls this process has lived through as the
 * child (a pthread_atfork child handler counts them). An agent compares it
 * with the value at its start: a difference means the agent is a forked
 * copy, whose sender thread and nng state do not exist here (nng aborts on
 * any use after fork). The agent's one piece of process-wide mutable
 * state, because pthread_atfork handlers take no argument. */
extern _Atomic uint32_t fa__agent_forks;
static inline bool fa__agent_is_forked_copy(const fa_agent_t *a) {
    return atomic_load_explicit(&fa__agent_forks, memory_order_relaxed) != a->fork_generation;
}

/* hook.c — runs on the game thread. */
void fa__agent_frame_hook(fa_alloc_t *fa, uint64_t frame, void *user);

/* sender.c */
int fa__agent_link_open(fa_agent_t *a);
void fa__agent_link_close(fa_agent_t *a);
void *fa__agent_sender_main(void *arg);

/* capture.c — the capture file (PROTOCOL.md §10). */
/* Opens desc.capture_path (truncating it) and writes the file header; on
 * the starting thread. FA_OK, or FA_ERR_SYSTEM (logged with errno). */
int fa__agent_capture_open(fa_agent_t *a);
/* Appends one whole message, or leaves the file at its last whole message
 * and counts the failure. 0 or a negative errno. Sender thread. */
int fa__agent_capture_write(fa_agent_t *a, const void *buf, size_t len);
/* Flushes to disk and closes. Sender thread at the end, or start's clean-up. */
void fa__agent_capture_close(fa_agent_t *a);

/* emit.c — JSON snapshots (sender thread). */
/* Renders a snapshot as JSON; the caller frees the string with
 * cJSON_free(). NULL when out of memory. wall_ns: the frame's wall time. */
char *fa__agent_json_render(const fa_snapshot_t *snap, const fa__agent_meta_t *meta, uint64_t wall_ns);
/* Writes json to <dir>/snapshot_<frame>.json through a temporary file and a
 * rename, then removes the oldest snapshot files beyond `keep`. 0 or a
 * negative errno. */
int fa__agent_emit_file(const char *dir, uint64_t frame, const char *json, uint32_t keep);
/* The sender's emitter steps: checks for requests (at most every
 * emit_poll_ms, within the rate limit) and serves a snapshot taken for it. */
void fa__agent_emit_tick(fa_agent_t *a, uint64_t now_ns);
void fa__agent_emit_serve(fa_agent_t *a, const fa_snapshot_t *snap);

/* log.c */
void fa__agent_log(const fa_agent_t *a, fa_agent_log_id id, int code, uint64_t value, const char *detail);

/* Clocks in nanoseconds. */
uint64_t fa__agent_mono_ns(void);
uint64_t fa__agent_real_ns(void);

#endif
