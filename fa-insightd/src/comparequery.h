/* comparequery.h — GET /api/v1/compare: two sessions summed up per tag and
 * per call site and compared under thresholds, with libfa-compare (the code
 * of `fa-cli compare`, so both give the same diff). Any thread (the thread
 * pool in the daemon).
 *
 * BOUNDED WORK
 *   Each side is its newest `max_frames` stored raw frames (default 20 000:
 *   5.5 minutes at 60 fps; at most 100 000), read twice from the store (once
 *   for the call sites they name, whose definitions are then read, once for
 *   their rows), with memory O(rows x spread), not O(frames). Percentiles
 *   need per-frame values, so rollups are not used; a longer session is
 *   compared on its newest frames and the document says so (frames_used,
 *   frames_total, truncated). Rows in the document: the first `limit` in
 *   compare's order (regressions first, then growth). */
#ifndef FA_INSIGHTD_COMPAREQUERY_H
#define FA_INSIGHTD_COMPAREQUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "compare.h" /* libfa-compare */
#include "query.h"
#include "store.h"
#include "view.h"

#define COMPARE_FRAMES_DEFAULT 20000u
#define COMPARE_FRAMES_MAX 100000u
#define COMPARE_ROWS_DEFAULT 200u
#define COMPARE_ROWS_MAX 1000u

typedef struct compare_query {
    const session_view_t *base, *candidate;
    compare_limits_t flags; /* the thresholds given (set_*), else defaults */
    bool set_growth, set_bytes, set_allocs;
    uint32_t max_frames, limit;
} compare_query_t;

void query_compare(store_reader_t *r, const compare_query_t *q, query_result_t *res);

#endif
