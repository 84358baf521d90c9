/* fleetagg.h — the fleet view's figures (store.h, store_read_fleet) from
 * one row per (session, tag), computed here: the SQLite store feeds it its
 * rows; the PostgreSQL store computes the same figures in SQL (any thread;
 * an aggregator belongs to one thread).
 *
 * Rows MUST come in (app, build, tag path, session) order, strings
 * compared bytewise. Memory: one group's rows and one build's session ids
 * and host names at a time. */
#ifndef FA_INSIGHTD_FLEETAGG_H
#define FA_INSIGHTD_FLEETAGG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct fleetagg fleetagg_t;

typedef struct fleetagg_row {
    const char *app, *build, *host, *path; /* copied as needed */
    uint64_t session_id, last_seen_ms;
    bool live;
    uint64_t budget_hard, peak_bytes;
    uint64_t live_sum, live_frames; /* live_frames > 0 */
} fleetagg_row_t;

/* NULL when out of memory. */
fleetagg_t *fleetagg_create(const store_fleet_sink_t *sink);
/* One row. Returns 0, 1 when the sink stopped, or -1 out of memory. */
int fleetagg_add(fleetagg_t *a, const fleetagg_row_t *row);
/* Hands over what is still open. Same returns. */
int fleetagg_finish(fleetagg_t *a);
void fleetagg_destroy(fleetagg_t *a);

/* The p-quantile (0..1) of n sorted values, interpolated between the two
 * nearest ranks (rank p x (n - 1)). */
double fleetagg_percentile(const double *sorted, size_t n, double p);

#endif
