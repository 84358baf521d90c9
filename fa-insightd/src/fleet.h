/* fleet.h — the fleet view's document (GET /api/v1/fleet, API.md): per
 * app and build, most recently active first, each tag's spread of the
 * sessions' peaks and per-frame averages, its budget state and its worst
 * sessions, from the store's figures (store_read_fleet; any thread, the
 * thread pool in the daemon). */
#ifndef FA_INSIGHTD_FLEET_H
#define FA_INSIGHTD_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "query.h"
#include "store.h"

/* The document for q over the store, as of now_ms, within max_bytes. */
void fleet_query(store_reader_t *r, const store_fleet_query_t *q, uint64_t now_ms, size_t max_bytes,
                 query_result_t *res);

#endif
