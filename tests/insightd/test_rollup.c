/* test_rollup.c — the rollup levels against figures the test computes from
 * every frame: each bucket's min / avg / max / last per tag, at 1 s, 10 s
 * and 1 min, whatever the order the buckets close in. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "rollup.h"

typedef struct expect {
    uint64_t start, min, max, sum, last, n;
} expect_t;

typedef struct seen {
    int rows[STORE_LEVELS];
    int checked;
    expect_t want[STORE_LEVELS][2][160]; /* level, tag, bucket */
} seen_t;

static seen_t seen;

static void on_bucket(void *ud, int level, const store_rollup_t *row) {
    (void)ud;
    seen.rows[level]++;
    for (uint16_t tag = 0; tag < 2; tag++) {
        pack_rollup_row_t r;
        cr_assert_eq(pack_rollup_find(row->blob, row->len, (uint16_t)(7 + tag), &r), 1);
        const expect_t *e = NULL;
        for (int b = 0; b < 160; b++)
            if (seen.want[level][tag][b].n && seen.want[level][tag][b].start == row->t_ms)
                e = &seen.want[level][tag][b];
        cr_assert_not_null(e, "level %d: a bucket at %llu", level, (unsigned long long)row->t_ms);
        cr_assert_eq(row->frames, e->n, "level %d frames", level);
        cr_assert_eq(r.min, e->min, "level %d tag %u min", level, tag);
        cr_assert_eq(r.max, e->max, "level %d tag %u max", level, tag);
        cr_assert_eq(r.avg, (e->sum + e->n / 2) / e->n, "level %d tag %u avg", level, tag);
        cr_assert_eq(r.last, e->last, "level %d tag %u last", level, tag);
        seen.checked++;
    }
}

static void note(int level, int tag, uint64_t t, uint64_t v) {
    uint64_t w = rollup_width_ms(level), start = t - t % w;
    expect_t *e = NULL;
    for (int b = 0; b < 160 && !e; b++)
        if (!seen.want[level][tag][b].n || seen.want[level][tag][b].start == start)
            e = &seen.want[level][tag][b];
    cr_assert_not_null(e);
    if (!e->n || v < e->min) e->min = v;
    if (!e->n || v > e->max) e->max = v;
    e->start = start;
    e->sum += v;
    e->last = v;
    e->n++;
}

/* 130 s of frames every 370 ms (buckets of uneven frame counts), from a
 * time that is not on a minute, two tags whose values rise and fall. */
Test(rollup, coarser_levels_hold_the_figures_of_every_frame_they_cover) {
    memset(&seen, 0, sizeof seen);
    rollup_t *r = rollup_create(0x42);
    cr_assert_not_null(r);
    rollup_sink_t sink = {on_bucket, NULL, NULL};
    uint64_t t0 = 1700000017123ull;
    for (uint64_t t = t0; t < t0 + 130000; t += 370) {
        rollup_advance(r, t, &sink);
        for (int tag = 0; tag < 2; tag++) {
            uint64_t v = (t * 2654435761u >> (tag ? 7 : 11)) % 100000 + (uint64_t)tag * 5;
            rollup_add(r, (uint32_t)tag, (uint16_t)(7 + tag), v);
            for (int level = 0; level < STORE_LEVELS; level++)
                note(level, tag, t, v);
        }
    }
    rollup_flush(r, &sink);
    rollup_destroy(r);
    int buckets = 0;
    for (int level = 0; level < STORE_LEVELS; level++) {
        int n = 0;
        for (int b = 0; b < 160; b++)
            n += seen.want[level][0][b].n > 0;
        cr_assert_eq(seen.rows[level], n, "level %d: %d buckets of %d", level, seen.rows[level], n);
        buckets += n;
    }
    cr_assert_eq(seen.rows[STORE_MINUTE], 3, "130 s from 17 s past a minute");
    cr_assert_eq(seen.checked, 2 * buckets);
}
