/* fleetagg.h — the fleet view's figures (store.h, store_read_fleet) from
 * the sessions in the window and their tags' figures, computed here for
 * both stores (so that they give the same): each store hands over its rows
 * in whatever order its scan yields them, two plain queries that need no
 * sort, no grouping and no join of strings on the database's side (any
 * thread; an aggregator belongs to one thread).
 *
 * Memory: each distinct string once, a few words per session and per
 * (session, tag) row, until fleetagg_destroy. */
#ifndef FA_INSIGHTD_FLEETAGG_H
#define FA_INSIGHTD_FLEETAGG_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct fleetagg fleetagg_t;

/* A session in the window (strings copied, cut at VIEW_TEXT_MAX - 1). */
typedef struct fleetagg_session {
    uint64_t session_id, last_seen_ms;
    bool live;
    const char *app, *build, *host;
} fleetagg_session_t;

/* One tag's figures in one session (path copied). */
typedef struct fleetagg_tag {
    uint64_t session_id;
    const char *path;
    uint64_t budget_hard, peak_bytes;
    uint64_t live_sum, live_frames; /* live_frames > 0 */
} fleetagg_tag_t;

/* NULL when out of memory. */
fleetagg_t *fleetagg_create(const store_fleet_sink_t *sink);
/* Returns 0, or -1 out of memory. A session given twice keeps the first. */
int fleetagg_add_session(fleetagg_t *a, const fleetagg_session_t *s);
/* Returns 0, or -1 out of memory. Rows of a session not given (it left the
 * window between the store's two reads) are left out. */
int fleetagg_add_tag(fleetagg_t *a, const fleetagg_tag_t *t);
/* Whether an add ran out of memory (the figures would be incomplete). */
bool fleetagg_failed(const fleetagg_t *a);
/* Hands every build and group to the sink, groups in (app, build, path)
 * byte order. Returns 0, 1 when the sink stopped, or -1 out of memory. */
int fleetagg_finish(fleetagg_t *a);
void fleetagg_destroy(fleetagg_t *a);

/* The p-quantile (0..1) of n sorted values, interpolated between the two
 * nearest ranks (rank p x (n - 1)). */
double fleetagg_percentile(const double *sorted, size_t n, double p);

#endif
