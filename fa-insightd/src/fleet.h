/* fleet.h — the fleet view (GET /api/v1/fleet): per app, build and tag,
 * across the sessions active in a period, the spread of each session's
 * peak and of its per-frame average, the sessions over budget and the
 * worst ones (any thread; the thread pool in the daemon).
 *
 * Percentiles interpolate linearly between the two nearest ranks of the
 * sorted values (rank p * (n - 1), PostgreSQL's percentile_cont), then
 * round to the nearest byte. API.md documents the document. */
#ifndef FA_INSIGHTD_FLEET_H
#define FA_INSIGHTD_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "store.h"

/* How many worst sessions each row names. */
#define FLEET_WORST 3

/* The document for q over the store, as of now_ms, within max_bytes. */
void fleet_query(store_reader_t *r, const store_fleet_query_t *q, uint64_t now_ms, size_t max_bytes,
                 query_result_t *res);

/* The p-quantile (0..1) of n sorted values, interpolated. Exposed for
 * tests. */
double fleet_percentile(const double *sorted, size_t n, double p);

#endif
