/* rollup.h — per-second, 10-second and per-minute rollups of one
 * session's tags (min / avg / max / last of live bytes), and its findings
 * merged per second (loop thread; one rollup per session).
 *
 * Buckets are aligned on frame time (daemon clock, unix ms): a frame in
 * another second (10 s, minute) than the open bucket closes it and hands
 * it to the sink as one packed row for all the session's tags. */
#ifndef FA_INSIGHTD_ROLLUP_H
#define FA_INSIGHTD_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "fa_proto.h"
#include "store.h"

typedef struct rollup rollup_t;

/* Where closed buckets go (the writer, in the daemon). */
typedef struct rollup_sink {
    void (*bucket)(void *ud, int level, const store_rollup_t *row);
    void (*finding)(void *ud, const store_finding_t *row);
    void *ud;
} rollup_sink_t;

/* NULL when out of memory. */
rollup_t *rollup_create(uint64_t session_id);
void rollup_destroy(rollup_t *r);

/* Once per FRAME, before its rows: closes (and sinks) the buckets the
 * frame time t_ms leaves. */
void rollup_advance(rollup_t *r, uint64_t t_ms, const rollup_sink_t *sink);
/* One tag row of the frame. slot is the tag's stable index in its session
 * (0 .. tags-1), id its tag id. */
void rollup_add(rollup_t *r, uint32_t slot, uint16_t id, uint64_t live_bytes);
/* One finding of the frame, merged per (code, tag, kind) and second; a
 * second keeps at most 4096 distinct ones. */
void rollup_finding(rollup_t *r, const fa_proto_finding_t *f);
/* Closes every open bucket now (session end, shutdown). */
void rollup_flush(rollup_t *r, const rollup_sink_t *sink);

static inline uint64_t rollup_width_ms(int level) {
    return store_level_ms(level);
}

#endif
