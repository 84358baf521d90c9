/* api.h — the /api/v1 routes (API.md is the contract).
 *
 * Path and query validation on the loop thread; answers from the sessions
 * in memory (health, live sessions, a session's tags and budgets) on the
 * loop, everything stored from the read connections on the thread pool.
 * A session evicted from memory is answered from its stored summary. */
#ifndef FA_INSIGHTD_API_H
#define FA_INSIGHTD_API_H

#include "http.h"

struct insightd_ctx;

/* Loop thread: answers r (exactly once, maybe later). */
void api_handle(struct insightd_ctx *ctx, http_req_t *r);

#endif
