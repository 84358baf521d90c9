/* rollup.c — the open rollup buckets of a session (see rollup.h). */
#include "rollup.h"

#include <stdlib.h>
#include <string.h>

#include "pack.h"

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

struct rollup {
    uint64_t session_id;
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
    free(r->acc);
    free(r->ids);
    free(r->findings);
    free(r);
}

static int row_by_id(const void *a, const void *b) {
    const pack_rollup_row_t *x = a, *y = b;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sinks the open bucket of `level` (if it saw frames) and empties it. */
static void close_bucket(rollup_t *r, int level, const rollup_sink_t *sink) {
    if (r->bucket_frames[level] == 0) return;
    pack_rollup_row_t *rows = malloc((size_t)(r->slots ? r->slots : 1) * sizeof *rows);
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->slots; i++) {
        acc_t *a = &r->acc[i][level];
        if (a->n == 0) continue;
        if (rows)
            rows[n++] = (pack_rollup_row_t){r->ids[i], a->min, (a->sum + a->n / 2) / a->n, a->max, a->last};
        memset(a, 0, sizeof *a);
    }
    if (rows) {
        qsort(rows, n, sizeof *rows, row_by_id);
        size_t cap = pack_rollup_bound(n);
        uint8_t *blob = malloc(cap);
        size_t len = blob ? pack_rollup(rows, n, blob, cap) : 0;
        if (len && sink && sink->bucket) {
            store_rollup_t row = {r->session_id, r->bucket_start[level], r->bucket_frames[level], blob, len};
            sink->bucket(sink->ud, level, &row);
        }
        free(blob);
        free(rows);
    }
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
    for (int level = 0; level < STORE_LEVELS; level++) {
        acc_t *a = &r->acc[slot][level];
        if (a->n == 0 || v < a->min) a->min = v;
        if (a->n == 0 || v > a->max) a->max = v;
        a->sum += v;
        a->last = v;
        a->n++;
    }
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
