/* rollup.c — the open rollup buckets of a session (see rollup.h). */
#include "rollup.h"

#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "pairtab.h"

#define FINDINGS_PER_SECOND_MAX 4096u

typedef struct acc {
    uint64_t min, max, sum, last;
    uint32_t n;
} acc_t;

typedef struct finding_acc {
    uint16_t code, tag_id;
    uint8_t kind;
    uint32_t frames, count_max;
    uint64_t value_max;
} finding_acc_t;

/* A level's (site, tag) pairs, found through `index`. */
typedef struct site_table {
    pack_site_acc_t *pairs;
    uint32_t *last_frame; /* per pair: the bucket's frame (1..) of its last row */
    uint32_t count, cap;
    pairtab_t index;
} site_table_t;

struct rollup {
    uint64_t session_id;
    site_table_t sites[STORE_LEVELS];
    uint64_t bucket_start[STORE_LEVELS];
    uint32_t bucket_frames[STORE_LEVELS];
    /* per tag slot */
    acc_t (*acc)[STORE_LEVELS];
    uint16_t *ids;
    uint32_t slots, cap;
    finding_acc_t *findings;
    uint32_t finding_count, finding_cap;
};

rollup_t *rollup_create(uint64_t session_id) {
    rollup_t *r = calloc(1, sizeof *r);
    if (r) r->session_id = session_id;
    return r;
}

void rollup_destroy(rollup_t *r) {
    if (!r) return;
    for (int l = 0; l < STORE_LEVELS; l++) {
        free(r->sites[l].pairs);
        free(r->sites[l].last_frame);
        pairtab_free(&r->sites[l].index);
    }
    free(r->acc);
    free(r->ids);
    free(r->findings);
    free(r);
}

static int row_by_id(const void *a, const void *b) {
    const pack_rollup_row_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

static int pair_order(const void *a, const void *b) {
    const pack_site_acc_t *x = a, *y = b;
    if (x->site != y->site) return (x->site > y->site) - (x->site < y->site);
    return (x->tag > y->tag) - (x->tag < y->tag);
}

/* The pair's accumulator in table t, created (zeroed) if needed; NULL
 * when out of memory, or for a real site (not 0) when t holds
 * ROLLUP_SITES_MAX pairs: a tag's "other" pair can always be made. */
static pack_site_acc_t *pair_of(site_table_t *t, uint32_t site, uint16_t tag, bool create) {
    int64_t i = pairtab_get(&t->index, site, tag);
    if (i >= 0) return &t->pairs[i];
    if (!create || (site && t->count >= ROLLUP_SITES_MAX)) return NULL;
    if (t->count == t->cap) {
        uint32_t cap = t->cap ? t->cap * 2 : 64;
        pack_site_acc_t *grown = realloc(t->pairs, cap * sizeof *grown);
        if (grown) t->pairs = grown;
        uint32_t *last = grown ? realloc(t->last_frame, cap * sizeof *last) : NULL;
        if (!last) return NULL;
        t->last_frame = last;
        t->cap = cap;
    }
    if (!pairtab_put(&t->index, site, tag, t->count)) return NULL;
    t->last_frame[t->count] = 0;
    pack_site_acc_t *p = &t->pairs[t->count++];
    *p = (pack_site_acc_t){.site = site, .tag = tag};
    return p;
}

static void site_table_clear(site_table_t *t) {
    t->count = 0;
    pairtab_clear(&t->index);
}

void rollup_site(rollup_t *r, const fa_proto_site_row_t *x) {
    for (int level = 0; level < STORE_LEVELS; level++) {
        site_table_t *t = &r->sites[level];
        pack_site_acc_t *p = pair_of(t, x->site_id, x->tag_id, true);
        /* A full bucket: the tag's "other" pair. */
        if (!p && x->site_id) p = pair_of(t, 0, x->tag_id, true);
        if (!p) continue; /* out of memory */
        t->last_frame[p - t->pairs] = r->bucket_frames[level];
        p->frames++;
        p->bytes_sum += x->bytes;
        if (x->bytes > p->bytes_max) p->bytes_max = x->bytes;
        p->count_sum += x->count;
        if (x->count > p->count_max) p->count_max = x->count;
        p->live_sum += x->live_bytes;
        if (x->live_bytes > p->live_max) p->live_max = x->live_bytes;
        p->live_last = x->live_bytes;
    }
}

/* A frame's values go into the per-second accumulators only; a closing
 * second adds its figures to the open 10-second and minute buckets (min
 * of mins, max of maxes, sums, the last value), which is what adding each
 * frame to all three gave, for a third of the work per tag row. Widths
 * nest (a 10-second or minute boundary is also a second's), and buckets
 * close finest first, so a coarser bucket has every second of its frames
 * before it closes. */
static void fold_second(rollup_t *r) {
    for (uint32_t i = 0; i < r->slots; i++) {
        const acc_t *a = &r->acc[i][STORE_SECOND];
        if (a->n == 0) continue;
        for (int level = STORE_SECOND + 1; level < STORE_LEVELS; level++) {
            acc_t *b = &r->acc[i][level];
            if (b->n == 0 || a->min < b->min) b->min = a->min;
            if (b->n == 0 || a->max > b->max) b->max = a->max;
            b->sum += a->sum;
            b->last = a->last;
            b->n += a->n;
        }
    }
}

/* Sinks the open bucket of `level` (if it saw frames) and empties it. */
static void close_bucket(rollup_t *r, int level, const rollup_sink_t *sink) {
    if (r->bucket_frames[level] == 0) return;
    if (level == STORE_SECOND) fold_second(r);
    pack_rollup_row_t *rows = malloc((size_t)(r->slots ? r->slots : 1) * sizeof *rows);
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->slots; i++) {
        acc_t *a = &r->acc[i][level];
        if (a->n == 0) continue;
        if (rows)
            rows[n++] = (pack_rollup_row_t){r->ids[i], a->min, (a->sum + a->n / 2) / a->n, a->max, a->last};
        memset(a, 0, sizeof *a);
    }
    site_table_t *st = &r->sites[level];
    /* A pair without a row in the bucket's last frame had nothing live
     * then (the agent sends a row for every pair with live bytes, or adds
     * them to the tag's "other" row). */
    for (uint32_t i = 0; i < st->count; i++)
        if (st->last_frame[i] != r->bucket_frames[level]) st->pairs[i].live_last = 0;
    if (rows) {
        qsort(rows, n, sizeof *rows, row_by_id);
        if (st->count) qsort(st->pairs, st->count, sizeof *st->pairs, pair_order);
        size_t cap = pack_rollup_bound(n, st->count);
        uint8_t *blob = malloc(cap);
        size_t len = blob ? pack_rollup(rows, n, st->pairs, st->count, blob, cap) : 0;
        if (len && sink && sink->bucket) {
            store_rollup_t row = {r->session_id, r->bucket_start[level], r->bucket_frames[level], blob, len};
            sink->bucket(sink->ud, level, &row);
        }
        free(blob);
        free(rows);
    }
    site_table_clear(st);
    if (level == STORE_SECOND) {
        for (uint32_t i = 0; i < r->finding_count && sink && sink->finding; i++) {
            const finding_acc_t *f = &r->findings[i];
            store_finding_t row = {r->session_id, r->bucket_start[level], f->code,     f->tag_id, f->kind,
                                   f->frames,     f->count_max,           f->value_max};
            sink->finding(sink->ud, &row);
        }
        r->finding_count = 0;
    }
    r->bucket_frames[level] = 0;
}

void rollup_advance(rollup_t *r, uint64_t t_ms, const rollup_sink_t *sink) {
    for (int level = 0; level < STORE_LEVELS; level++) {
        uint64_t start = t_ms - t_ms % rollup_width_ms(level);
        if (r->bucket_frames[level] && start != r->bucket_start[level]) close_bucket(r, level, sink);
        if (r->bucket_frames[level] == 0) r->bucket_start[level] = start;
        r->bucket_frames[level]++;
    }
}

void rollup_add(rollup_t *r, uint32_t slot, uint16_t id, uint64_t v) {
    if (slot >= r->cap) {
        uint32_t cap = r->cap ? r->cap : 16;
        while (cap <= slot)
            cap *= 2;
        acc_t(*acc)[STORE_LEVELS] = realloc(r->acc, cap * sizeof *acc);
        if (!acc) return;
        r->acc = acc;
        uint16_t *ids = realloc(r->ids, cap * sizeof *ids);
        if (!ids) return;
        r->ids = ids;
        memset(r->acc + r->cap, 0, (cap - r->cap) * sizeof *r->acc);
        r->cap = cap;
    }
    if (slot >= r->slots) r->slots = slot + 1;
    r->ids[slot] = id;
    acc_t *a = &r->acc[slot][STORE_SECOND]; /* the coarser levels: fold_second */
    if (a->n == 0 || v < a->min) a->min = v;
    if (a->n == 0 || v > a->max) a->max = v;
    a->sum += v;
    a->last = v;
    a->n++;
}

void rollup_finding(rollup_t *r, const fa_proto_finding_t *x) {
    for (uint32_t i = 0; i < r->finding_count; i++) {
        finding_acc_t *f = &r->findings[i];
        if (f->code == x->code && f->tag_id == x->tag_id && f->kind == x->kind) {
            f->frames++;
            if (x->count > f->count_max) f->count_max = x->count;
            if (x->value > f->value_max) f->value_max = x->value;
            return;
        }
    }
    if (r->finding_count == r->finding_cap) {
        uint32_t cap = r->finding_cap ? r->finding_cap * 2 : 8;
        if (cap > FINDINGS_PER_SECOND_MAX) return;
        finding_acc_t *grown = realloc(r->findings, cap * sizeof *grown);
        if (!grown) return;
        r->findings = grown;
        r->finding_cap = cap;
    }
    r->findings[r->finding_count++] = (finding_acc_t){x->code, x->tag_id, x->kind, 1, x->count, x->value};
}

void rollup_flush(rollup_t *r, const rollup_sink_t *sink) {
    for (int level = 0; level < STORE_LEVELS; level++)
        close_bucket(r, level, sink);
}
