/* sessions.h — the sessions the daemon holds in memory, their tags and
 * latest figures, and the handling of every protocol message (loop thread
 * only, every function).
 *
 * MEMORY is bounded by configuration: live sessions (at most
 * max_live), the max_ended most recently ended ones, and per session at
 * most max_tags tags. An ended session beyond the bound is evicted once
 * everything it wrote is committed; the API then answers it from the
 * store. A message of a session not in memory starts a new session at
 * once when the id was never stored (a filter of every id stored answers
 * that in memory, a few false positives aside); otherwise it waits
 * (bounded, see PENDING_*) while the writer looks the session up in the
 * store, and continues the stored session. Either way with or without a
 * HELLO (PROTOCOL.md 8).
 *
 * TIME. Frames are stamped on the daemon's clock: a session's frame times
 * are its agent's monotonic clock, anchored on the daemon's receive time
 * (never later than the receipt). The agent's own wall clock is kept and
 * its skew reported; absurd times are clamped and counted.
 *
 * Pointers to sessions handed out are valid until the loop returns. */
#ifndef FA_INSIGHTD_SESSIONS_H
#define FA_INSIGHTD_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "view.h"
#include "writer.h"

typedef struct sessions sessions_t;
typedef struct session session_t;

/* Bounds of messages waiting for their session to be resolved. */
#define PENDING_MAX_SESSIONS 4096u
#define PENDING_MAX_PER_SESSION 1024u
#define PENDING_MAX_BYTES (16u * 1024u * 1024u)
#define PENDING_TIMEOUT_MS 30000u

typedef struct sessions_options {
    uint64_t session_timeout_ms; /* silence that ends a session */
    uint32_t max_live;           /* sessions live at once; messages of more are refused (orphaned) */
    uint32_t max_ended;          /* ended sessions kept in memory */
    uint32_t max_tags;           /* tags per session */
    uint32_t max_sites;          /* call-site definitions per session */
} sessions_options_t;

/* What the rest of the daemon hears (ws.c). MUST NOT re-enter
 * sessions_handle. An alert event is alerts.h's ALERT_EV_RAISED,
 * _ESCALATED or _CLEARED. */
typedef struct sessions_hooks {
    void (*on_frame)(void *ud, const session_t *s);
    void (*on_alert)(void *ud, const session_t *s, int event, const alert_row_t *a, uint64_t live_bytes);
    void (*on_session)(void *ud, const session_t *s, const char *event); /* "start", "end" */
    void *ud;
} sessions_hooks_t;

/* writer may be NULL (tests of message handling alone). */
sessions_t *sessions_create(writer_t *writer, const sessions_options_t *opt, const sessions_hooks_t *hooks);
void sessions_destroy(sessions_t *ss);
/* Start-up: the writer starts after the stored sessions were loaded; the
 * hooks' data (the WebSocket module) after the HTTP server. */
void sessions_attach_writer(sessions_t *ss, writer_t *writer);
void sessions_set_hooks_data(sessions_t *ss, void *ud);

/* Start-up: takes a stored session (ended) into memory; notes the id of
 * a stored session (those never noted need no look-up: they are new);
 * the first alert id to hand out. */
void sessions_adopt(sessions_t *ss, session_view_t *v);
void sessions_note_stored(sessions_t *ss, uint64_t id);
void sessions_set_next_alert_id(sessions_t *ss, int64_t id);

/* One protocol message (bytes as received) and its receive times.
 * Malformed messages are counted and logged (rate-limited). O(rows). */
void sessions_handle(sessions_t *ss, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono);
/* The same for a message that arrived on ingest connection `source` (an
 * nng pipe id; 0: unknown, no check). A live session belongs to the
 * connection that speaks for it while that connection is open (asked of
 * source_open): messages for it from another connection are refused and
 * counted (ingest.dropped_by_reason.session_conflict). */
void sessions_handle_from(sessions_t *ss, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono,
                          uint32_t source);
/* source_open(source): whether that connection is still open (any
 * thread's answer will do: a closed connection stays closed). */
void sessions_set_source_check(sessions_t *ss, bool (*source_open)(uint32_t source));
/* The writer's answer to a look-up (v may be NULL; taken). */
void sessions_resolved(sessions_t *ss, uint64_t session_id, session_view_t *v);

/* About once a second: ends silent sessions, evicts ended ones beyond the
 * bound, gives up pending messages past their time-out, and (with save)
 * queues the figures that changed. */
void sessions_tick(sessions_t *ss, uint64_t now_mono, bool save);
/* Shutdown: closes the open rollup buckets and queues everything changed. */
void sessions_flush(sessions_t *ss);

const session_t *sessions_find(const sessions_t *ss, uint64_t id);
/* The live session heard from most recently, else the one that ended
 * last; NULL when none is in memory. */
const session_t *sessions_latest(const sessions_t *ss);
uint32_t sessions_in_memory(const sessions_t *ss);
uint32_t sessions_live_count(const sessions_t *ss);
/* Each live (live_only) or each ended session in memory. fn returns
 * false to stop. */
void sessions_each(const sessions_t *ss, bool live, bool (*fn)(void *ud, const session_t *s), void *ud);

/* A session's figures. */
uint64_t session_id(const session_t *s);
bool session_live(const session_t *s);
uint64_t session_frames(const session_t *s);
const session_info_t *session_info(const session_t *s);
void session_frame_info(const session_t *s, frame_info_t *out);
/* Each tag seen in a frame: id, live and peak bytes, in id order. */
void session_each_seen_tag(const session_t *s,
                           void (*fn)(void *ud, uint16_t id, uint64_t live, uint64_t peak), void *ud);
/* A copy with every tag (NULL when out of memory). */
session_view_t *session_view(const session_t *s);

#endif
