/* writer.h — the single writer: a thread of its own between the loop and
 * the store.
 *
 * The loop thread never waits for the disk. It queues records (sessions,
 * tags, alerts, frames with their session's counters, rollups, findings)
 * and goes on; the writer thread writes them in one transaction per
 * commit interval, or back to back when a batch took longer than that
 * (batches then grow with the load; the writer is never idle while
 * records wait past their interval). When the database cannot take them (a full or stalled
 * disk, a locked file) the batch is kept and retried with a back-off while
 * new records wait behind it, up to --write-buffer bytes; beyond that,
 * frames, rollups and findings are dropped and counted, and the small
 * records (sessions, tags, alerts) still fit a reserve. The same thread
 * runs retention in bounded steps between batches, checkpoints the WAL,
 * answers session look-ups, and checks that the database file is still
 * the one it opened.
 *
 * THREADS
 *   writer_start, the writer_put_* functions, writer_lookup, writer_stop
 *   and writer_free are called on the loop thread; replies (hooks) run on
 *   the loop thread. writer_stats may be called from any thread. */
#ifndef FA_INSIGHTD_WRITER_H
#define FA_INSIGHTD_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "store.h"

typedef struct writer writer_t;

typedef struct writer_options {
    uint64_t commit_interval_ms;    /* records wait at most this long for their commit */
    uint64_t buffer_bytes;          /* frames, rollups and findings beyond this are dropped */
    uint64_t retention_interval_ms; /* between two retention passes; the first comes 5 s after start */
    store_keep_t keep;
} writer_options_t;

/* Replies, on the loop thread. */
typedef struct writer_hooks {
    /* A look-up's answer: the stored session (the hook owns v), or NULL
     * when the store does not know it. */
    void (*on_lookup)(void *ud, uint64_t session_id, session_view_t *v);
    /* The database file was deleted or replaced under the daemon. */
    void (*on_file_lost)(void *ud);
    void *ud;
} writer_hooks_t;

/* What health reports (a snapshot; any thread). */
typedef struct writer_stats {
    uint64_t frames_stored;   /* committed */
    uint64_t frames_rejected; /* refused for good by the store (store_error) */
    uint64_t commits, failed_attempts, last_commit_ms, commit_ms_last, commit_ms_max;
    uint64_t backlog_ops, backlog_bytes, backlog_frames; /* queued or in the batch being written */
    uint64_t control_dropped;                            /* sessions, tags, alerts beyond the reserve */
    uint64_t retention_deleted, retention_passes, wal_resets, lookups;
    bool failing;              /* the last attempt failed and is being retried */
    uint64_t failing_since_ms; /* monotonic */
    uint64_t busy_ms;          /* the operation in progress has run this long (0: idle) */
    char problem[256];         /* the last failure while failing */
} writer_stats_t;

/* Process-wide, once, from main() before any thread starts: asks the C
 * library to keep up to one early batch (buffer_bytes / 8, the writer's
 * buffer) of freed heap instead of returning it to the kernel at once.
 * The loop allocates one record per frame and this thread frees a whole
 * batch of them after each commit; with glibc's default trim threshold the
 * heap shrank after every batch and each page of the next batch's records
 * faulted in again (page faults were ~10 % of the ingest path's CPU in a
 * profile of bench-insightd --cpu-only). More than that is still returned.
 * No-op outside glibc. */
void writer_keep_heap(size_t buffer_bytes);

/* Starts the writer thread on an opened store (it owns the store's
 * writes from now on). Returns 0 or -1 with err. */
int writer_start(writer_t **out, store_t *st, uv_loop_t *loop, const writer_options_t *opt,
                 const writer_hooks_t *hooks, char *err, size_t errcap);

/* Queue one record (copied). Each returns the record's sequence number,
 * or 0 when it was dropped because the buffer was full (the caller counts
 * frames; the writer counts the others). */
uint64_t writer_put_session(writer_t *w, const session_info_t *s);
uint64_t writer_put_tag(writer_t *w, uint64_t session_id, const tag_info_t *t);
uint64_t writer_put_site(writer_t *w, uint64_t session_id, const site_info_t *s);
uint64_t writer_put_alert(writer_t *w, const alert_row_t *a);
uint64_t writer_put_frame(writer_t *w, const store_frame_t *f, const store_counters_t *c);
uint64_t writer_put_rollup(writer_t *w, int level, const store_rollup_t *r);
uint64_t writer_put_finding(writer_t *w, const store_finding_t *f);
/* Asks for a stored session; the answer comes through on_lookup. */
void writer_lookup(writer_t *w, uint64_t session_id);
/* Commit what is queued now rather than at the end of the interval
 * (alerts, so that the API agrees with the WebSocket push). */
void writer_commit_soon(writer_t *w);
/* Every record up to this sequence number is committed. */
uint64_t writer_committed(const writer_t *w);
/* More than half the buffer is waiting: optional saves should wait. */
bool writer_backlogged(const writer_t *w);
void writer_stats(const writer_t *w, writer_stats_t *out);

/* Shutdown: writes everything queued (retrying until deadline_mono_ms;
 * what still cannot be written is counted) and joins the thread. */
void writer_stop(writer_t *w, uint64_t deadline_mono_ms);
/* After writer_stop: closes the loop handle; free it once the loop ran. */
void writer_close(writer_t *w);
void writer_free(writer_t *w);

#endif
