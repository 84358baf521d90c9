/* metrics.h — GET /metrics: the daemon's counters and every live session's
 * per-tag figures in the Prometheus text exposition format (version
 * 0.0.4), for a Prometheus server to scrape. API.md lists the metrics.
 *
 * Rendered on the loop thread from memory (the sessions module and the
 * counters), like /api/v1/health: O(live sessions x tags). An answer that
 * would exceed --max-response is refused (503) rather than cut, since a
 * cut exposition would mislead the scraper. */
#ifndef FA_INSIGHTD_METRICS_H
#define FA_INSIGHTD_METRICS_H

#include <stdbool.h>

#include "http.h"

struct insightd_ctx;

/* Whether a request target is /metrics (the query string ignored). */
bool metrics_is_target(const char *uri);

/* Loop thread: answers r. */
void metrics_handle(struct insightd_ctx *ctx, http_req_t *r);

#endif
