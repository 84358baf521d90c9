/* view.h — what the daemon knows about a session, as plain values, and
 * the JSON shapes of API.md built from them (any thread).
 *
 * A view is a copy: sessions.c fills one from its live state on the loop
 * thread, the store fills one from its rows on a worker thread, and
 * either can be rendered anywhere. So the API answers a session the same
 * way whether it is in memory or was evicted to its stored summary, and
 * no module but sessions.c reads the live structures. */
#ifndef FA_INSIGHTD_VIEW_H
#define FA_INSIGHTD_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fa_proto.h"
#include "json.h"

#define VIEW_TEXT_MAX 256

/* A session's summary: the sessions table row and the /sessions object. */
typedef struct session_info {
    uint64_t id;
    char app[VIEW_TEXT_MAX], label[VIEW_TEXT_MAX], host[VIEW_TEXT_MAX], build_id[VIEW_TEXT_MAX];
    uint32_t pid, lib_version;
    uint64_t start_unix_ns, start_mono_ns; /* the agent's clocks, from the HELLO */
    bool have_hello;
    bool start_valid; /* start_unix_ns is a plausible time (not shown otherwise) */
    bool live;
    bool skew_known;
    int64_t clock_skew_ms; /* agent clock minus daemon clock */
    /* Daemon clock (unix ms): frame times, the last message, the end. */
    uint64_t first_ms, last_ms, last_seen_ms, ended_ms;
    const char *end_reason; /* static string or NULL while live */
    uint64_t frames;        /* FRAMEs accepted */
    uint64_t last_frame;    /* frame number of the newest one */
    uint64_t gaps, agent_dropped, duplicates, rows_rejected;
    uint64_t next_seq; /* sequence tracking survives a restart */
    uint32_t tag_count, active_alerts;
} session_info_t;

/* A tag's dictionary entry and latest figures. path points into the
 * owner's storage (the session, or the view's string arena). */
typedef struct tag_info {
    uint16_t id, parent_id;
    bool defined, seen;
    uint8_t alert_level; /* ALERT_* of an open episode (live sessions only) */
    const char *path;
    uint64_t budget_soft, budget_hard;
    uint64_t live_bytes, peak_bytes, frame_bytes, pool_bytes, heap_bytes, alloc_count;
    /* Over the frames that carried a row for the tag: the sum of its live
     * bytes (saturating at INT64_MAX) and their number. The fleet's
     * per-frame average is live_sum / live_frames. */
    uint64_t live_sum, live_frames;
} tag_info_t;

/* An alert episode: the alerts table row and the API object. */
typedef struct alert_row {
    int64_t id;
    uint64_t session_id;
    uint16_t tag_id;
    char path[VIEW_TEXT_MAX];
    const char *level;        /* "warning" / "critical" */
    uint64_t raised_ms;       /* daemon clock */
    uint64_t cleared_ms;      /* 0 while active */
    const char *clear_reason; /* static string, NULL while active */
    uint64_t raised_bytes, peak_bytes, budget_hard;
} alert_row_t;

/* The newest frame's scalars (the session detail and the WebSocket). */
typedef struct frame_info {
    bool present;
    uint64_t duration_ns;
    uint32_t frames_dropped;
    fa_proto_kind_totals_t totals[FA_PROTO_KIND_COUNT];
} frame_info_t;

/* A session with its tags, owning everything it points to. */
typedef struct session_view {
    session_info_t info;
    frame_info_t last;
    tag_info_t *tags; /* tag_count entries, in id order */
    uint32_t tag_count;
    char *strings; /* the paths */
} session_view_t;

/* Builds a view from a tag array whose paths are borrowed: copies them.
 * Returns NULL when out of memory. */
session_view_t *view_create(const session_info_t *info, const frame_info_t *last, const tag_info_t *tags,
                            uint32_t n);
void view_free(session_view_t *v);
/* The tag with this path ("/" or "" is the root; one leading '/' is
 * ignored), or NULL. */
const tag_info_t *view_tag_by_path(const session_view_t *v, const char *path);

/* Restores a static end reason from its stored text ("unknown" if it is
 * not one of ours). */
const char *view_end_reason(const char *text);
const char *view_clear_reason(const char *text);

/* JSON shapes of API.md. Each writes one value (with key, or none inside
 * an array). */
void view_write_session(json_writer_t *w, const char *key, const session_info_t *s);
void view_write_alert(json_writer_t *w, const char *key, const alert_row_t *a, const uint64_t *live_bytes);
void view_write_totals(json_writer_t *w, const char *key,
                       const fa_proto_kind_totals_t t[FA_PROTO_KIND_COUNT]);

/* Whole documents (malloc'd, NULL when out of memory). */
char *view_render_session(const session_view_t *v, size_t *len);
char *view_render_tags(const session_view_t *v, size_t *len);
/* The budget table of top (NULL: every top-level tag) and its subtree. */
char *view_render_budgets(const session_view_t *v, const tag_info_t *top, size_t *len);

#endif
