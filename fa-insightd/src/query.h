/* query.h — the stored documents of the API, built from a store reader
 * (any thread; the thread pool in the daemon).
 *
 * Every document respects a byte budget: lists stop at the budget and say
 * so (truncated, and a cursor to go on). Cursors are opaque text to
 * clients: "o.<ms>.<key>" reads older rows, "n.<ms>.<key>" newer ones. */
#ifndef FA_INSIGHTD_QUERY_H
#define FA_INSIGHTD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* A document or an error. */
typedef struct query_result {
    int status; /* HTTP status; 200 with body */
    char code[48];
    char message[256];
    char *body; /* malloc'd */
    size_t len;
    bool capped; /* a list stopped at the byte budget */
} query_result_t;

void query_fail(query_result_t *res, int status, const char *code, const char *message);
/* Maps a failed store read (STORE_FAILED, STORE_CANCELLED) to a result. */
void query_store_failed(query_result_t *res, const store_reader_t *r, int rc);

/* Cursors. format writes "<dir>.<ms>.<key>"; parse accepts exactly that
 * (dir 'o', 'n', 'l' or 'e'; key in decimal, or 16 hex digits for ids
 * with `hex_key`). */
#define QUERY_CURSOR_MAX 64
void query_cursor_format(char out[QUERY_CURSOR_MAX], char dir, uint64_t ms, uint64_t key, bool hex_key);
int query_cursor_parse(const char *text, char *dir, uint64_t *ms, uint64_t *key, bool hex_key);

/* /frames: the newest (q->newest) or oldest frames of the range, in time
 * order either way, as many as fit max_bytes. */
void query_frames(store_reader_t *r, const store_frames_query_t *q, size_t max_bytes, query_result_t *res);

/* The series rows of a session over [from, end] (raw frames, frames 1,
 * or rollup buckets): from `level` (STORE_SECOND .. STORE_MINUTE, or -1
 * for raw frames) first, then the tail that level does not cover yet (its
 * buckets still open in memory) from the finer ones. tag: -1, or the only
 * tag the caller reads from rollup blobs (see store_read_series: a blob
 * may then hold that tag alone, or be NULL). fn returns 0 to go on.
 * Returns STORE_OK or the store's error. */
typedef int (*query_row_fn)(void *ud, int level, uint64_t t_ms, uint32_t frames, const uint8_t *blob,
                            size_t len);
int query_read_window(store_reader_t *r, uint64_t sid, uint64_t from, uint64_t end, int level, int tag,
                      query_row_fn fn, void *ud);
/* A window of window_ms ending at end_ms, cut into `points` points: where
 * it starts (0 at the earliest) and how wide a point is (rounded up, at
 * least 1 ms; 0 without points). */
typedef struct query_span {
    uint64_t from, step;
} query_span_t;
query_span_t query_window_span(uint64_t end_ms, uint64_t window_ms, uint32_t points);
/* The cheapest level finer than step_ms (-1: raw frames). */
int query_level_for(uint64_t step_ms);
/* Its name in documents: "raw", "1s", "10s", "1m". */
const char *query_level_name(int level);

/* /trend: the series of one tag over [end_ms - window_ms, end_ms]. */
void query_trend(store_reader_t *r, uint64_t sid, uint16_t tag_id, const char *tag_path, uint64_t end_ms,
                 uint64_t window_ms, uint32_t points, query_result_t *res);

/* /alerts and /findings, one page each way. */
void query_alerts(store_reader_t *r, const store_alerts_query_t *q, size_t max_bytes, query_result_t *res);
void query_findings(store_reader_t *r, const store_findings_query_t *q, size_t max_bytes,
                    query_result_t *res);

#endif
