/* storerow.h — the stores' rows decoded once for both backends: the
 * columns a session, tag, alert, finding or call site is read with, and
 * the functions that turn such a row into its record, through a small
 * accessor each backend provides for its results (a SQLite statement, a
 * PostgreSQL result in binary). Any thread; no state. */
#ifndef FA_INSIGHTD_STOREROW_H
#define FA_INSIGHTD_STOREROW_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STOREROW_SESSION_COLUMNS                                                                             \
    "id, app, label, host, build_id, pid, lib_version, start_unix_ns, start_mono_ns, have_hello, first_ms,"  \
    " last_ms, ended_ms, end_reason, frames, last_frame, gaps, agent_dropped, last_seen_ms, next_seq,"       \
    " duplicates, rows_rejected, clock_skew_ms"
#define STOREROW_TAG_COLUMNS                                                                                 \
    "id, parent_id, path, defined, budget_soft, budget_hard, live_bytes, peak_bytes, live_sum, live_frames"
#define STOREROW_ALERT_COLUMNS                                                                               \
    "id, session_id, tag_id, path, level, raised_ms, raised_bytes, peak_bytes, budget_hard, cleared_ms,"     \
    " clear_reason"
#define STOREROW_SITE_COLUMNS "id, line, kind, file, function"

/* How a backend reads one column of the current row. */
typedef struct storerow_src {
    bool (*is_null)(const void *res, int row, int col);
    int64_t (*i64)(const void *res, int row, int col);      /* 0 when NULL */
    const char *(*text)(const void *res, int row, int col); /* NULL when NULL; the row's */
} storerow_src_t;

/* One row of a backend's result. */
typedef struct storerow {
    const storerow_src_t *src;
    const void *res;
    int row;
} storerow_t;

/* STOREROW_SESSION_COLUMNS from column `first` on. */
void storerow_session(const storerow_t *r, int first, session_info_t *out);
/* STOREROW_TAG_COLUMNS from column 0; out->path points into the row (copy
 * it before the row moves on). */
void storerow_tag(const storerow_t *r, tag_info_t *out);
void storerow_alert(const storerow_t *r, alert_row_t *out);
/* A finding (key, t_ms, code, tag_id, kind, frames, count_max, value_max,
 * path: each backend has its own key) or, with summary, a summary of one
 * (code, tag_id, kind, frames, count_max, value_max, first, last, path).
 * out->path points into the row. */
void storerow_finding(const storerow_t *r, bool summary, uint64_t session_id, store_finding_row_t *out);
void storerow_site(const storerow_t *r, site_info_t *out);

#endif
