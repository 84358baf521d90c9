/* rollup.c — per-second, 10-second and per-minute rollups of every tag's
 * live bytes (min / avg / max / last), and the per-second findings summary.
 *
 * Buckets are aligned on the frame's wall time (unix ms): a frame whose
 * time falls in another second (minute) than the open bucket closes it
 * and opens the next. The open buckets live in the session (bucket_start,
 * bucket_frames) and in each tag (acc[level]); a closed bucket becomes one
 * row in rollup_1s / rollup_10s / rollup_1m with every tag packed in its
 * blob. */
#include "insightd.h"

#include <stdlib.h>
#include <string.h>

static int row_by_id(const void *a, const void *b) {
    const pack_rollup_row_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Writes the open bucket of `level` (if it saw frames) and empties it. */
void rollup_flush(session_t *s, int level, store_t *st) {
    if (s->bucket_frames[level] == 0) return;
    pack_rollup_row_t *rows = malloc((size_t)(s->tag_count ? s->tag_count : 1) * sizeof *rows);
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->tag_count; i++) {
        rollup_acc_t *a = &s->tags[i].acc[level];
        if (a->n == 0) continue;
        if (rows) {
            rows[n].id = s->tags[i].id;
            rows[n].min = a->min;
            rows[n].avg = (a->sum + a->n / 2) / a->n;
            rows[n].max = a->max;
            rows[n].last = a->last;
            n++;
        }
        memset(a, 0, sizeof *a);
    }
    if (rows) {
        qsort(rows, n, sizeof *rows, row_by_id);
        size_t cap = pack_rollup_bound(n);
        uint8_t *blob = malloc(cap);
        size_t len = blob ? pack_rollup(rows, n, blob, cap) : 0;
        if (len)
            store_insert_rollup(st, level, s->id, s->bucket_start[level], s->bucket_frames[level], blob, len);
        free(blob);
        free(rows);
    }
    if (level == ROLLUP_SECOND) {
        for (uint32_t i = 0; i < s->finding_count; i++)
            store_insert_finding(st, s->id, s->bucket_start[level], &s->findings[i]);
        s->finding_count = 0;
    }
    s->bucket_frames[level] = 0;
}

/* Called once per FRAME, before its rows are accumulated. */
void rollup_advance(session_t *s, uint64_t t_ms, store_t *st) {
    for (int level = 0; level < ROLLUP_LEVELS; level++) {
        uint64_t start = rollup_bucket_start(level, t_ms);
        if (s->bucket_frames[level] && start != s->bucket_start[level]) rollup_flush(s, level, st);
        if (s->bucket_frames[level] == 0) s->bucket_start[level] = start;
        s->bucket_frames[level]++;
    }
}
