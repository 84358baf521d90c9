/* sitequery.h — the call-site documents of the API (any thread; the
 * thread pool in the daemon): /sessions/{id}/sites (a tag's top sites over
 * a window) and /sessions/{id}/sites/{site} (one site: its tags, its trend
 * and, with --source-root, its source).
 *
 * Figures come from the frames' and buckets' site rows (pack.h): raw
 * frames for short windows, rollups for long ones, like /trend. Per frame
 * means per frame of the window: a frame in which a pair had no row counts
 * as zero (a pair outside an agent's max_site_rows is in its tag's "other"
 * row that frame). */
#ifndef FA_INSIGHTD_SITEQUERY_H
#define FA_INSIGHTD_SITEQUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "query.h"
#include "store.h"
#include "view.h"

/* Pairs a window's aggregation keeps apart; more add to their tag's "other". */
#define SITEQUERY_PAIRS_MAX 65536u

typedef struct sites_query {
    uint64_t session_id;
    uint64_t end_ms, window_ms;
    const session_view_t *view; /* the session's tags (paths, parents) */
    const char *tag;            /* the subtree asked for (its path), NULL: every tag */
    uint16_t tag_id;
    /* /sites */
    uint32_t limit;
    bool by_count; /* sort by allocations per frame, else by bytes */
    /* /sites/{site} */
    uint32_t site_id;
    uint32_t points;
    const char *source_root; /* a realpath, "" or NULL: no source */
    uint32_t context;        /* source lines either side */
} sites_query_t;

void query_sites(store_reader_t *r, const sites_query_t *q, query_result_t *res);
void query_site(store_reader_t *r, const sites_query_t *q, query_result_t *res);

#endif
