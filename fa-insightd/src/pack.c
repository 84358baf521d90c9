/* pack.c — the compact blobs stored in frames.data and rollup_*.data.
 *
 * Every integer is an unsigned LEB128 varint; tag ids are delta-coded
 * (rows come sorted by id), so a typical 64-tag frame packs to about a
 * third of its wire size. The decoders are total: any byte string gives a
 * result or -1, never a read outside the blob. */
#include "pack.h"

#include <stdbool.h>

#include <string.h>

size_t pack_put_varint(uint8_t *out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

size_t pack_get_varint(const uint8_t *in, size_t len, uint64_t *v) {
    uint64_t r = 0;
    for (size_t i = 0; i < len && i < 10; i++) {
        uint64_t b = in[i] & 0x7f;
        if (i == 9 && b > 1) return 0; /* more than 64 bits */
        r |= b << (7 * i);
        if (!(in[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* A write cursor that turns overflow into a sticky failure. */
typedef struct wcur {
    uint8_t *p, *end;
    bool fail;
} wcur_t;

/* Called for every value of every row (a 64-tag frame: ~450 times), so
 * the cases up to 4 bytes (values below 256 MiB: most byte counts) are
 * inlined and unrolled; a field's width rarely changes from one frame to
 * the next, so the branches predict. Room only shrinks: once a put fails,
 * every later one fails too. */
static inline void put(wcur_t *w, uint64_t v) {
    uint8_t *p = w->p;
    if (w->end - p < 10) {
        w->fail = true;
    } else if (v < 0x80) {
        p[0] = (uint8_t)v;
        w->p = p + 1;
    } else if (v < (1u << 14)) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)(v >> 7);
        w->p = p + 2;
    } else if (v < (1u << 21)) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)((v >> 7) | 0x80);
        p[2] = (uint8_t)(v >> 14);
        w->p = p + 3;
    } else if (v < (1u << 28)) {
        p[0] = (uint8_t)(v | 0x80);
        p[1] = (uint8_t)((v >> 7) | 0x80);
        p[2] = (uint8_t)((v >> 14) | 0x80);
        p[3] = (uint8_t)(v >> 21);
        w->p = p + 4;
    } else {
        w->p = p + pack_put_varint(p, v);
    }
}

typedef struct rcur {
    const uint8_t *p, *end;
    bool fail;
} rcur_t;

static uint64_t get(rcur_t *r) {
    uint64_t v = 0;
    if (r->fail) return 0;
    size_t n = pack_get_varint(r->p, (size_t)(r->end - r->p), &v);
    if (n == 0) {
        r->fail = true;
        return 0;
    }
    r->p += n;
    return v;
}

size_t pack_frame_bound(const fa_proto_frame_t *f) {
    return 1 + 10 * (4 + 15 + 8 + 5 + 1 + 7 * (size_t)f->tag_count + 1 + 6 * (size_t)f->thread_count + 1 +
                     5 * (size_t)f->finding_count + 2 + 5 * (size_t)f->site_count);
}

size_t pack_frame(const fa_proto_frame_t *f, uint8_t *out, size_t cap) {
    wcur_t w = {out, out + cap, false};
    if (cap < 1) return 0;
    *w.p++ = PACK_FRAME_VERSION;
    put(&w, f->frames_dropped);
    put(&w, f->tags_total);
    put(&w, f->threads_total);
    put(&w, f->findings_dropped);
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        const fa_proto_kind_totals_t *t = &f->totals[k];
        put(&w, t->in_use);
        put(&w, t->peak);
        put(&w, t->alloc_count);
        put(&w, t->alloc_bytes);
        put(&w, t->free_count);
    }
    const fa_proto_promotions_t *pr = &f->promotions;
    put(&w, pr->promoted_count);
    put(&w, pr->promoted_bytes);
    put(&w, pr->failed_count);
    put(&w, pr->failed_bytes);
    put(&w, pr->retained_count);
    put(&w, pr->retained_bytes);
    put(&w, pr->discarded_count);
    put(&w, pr->discarded_bytes);
    const fa_proto_transfers_t *tr = &f->transfers;
    put(&w, tr->created);
    put(&w, tr->received);
    put(&w, tr->released);
    put(&w, tr->dropped_unreceived);
    put(&w, tr->in_flight);
    put(&w, f->tag_count);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *t = &f->tags[i];
        /* Ids are sorted on the wire; a row out of order is coded as a
         * restart (delta 0 means "absolute id follows"). */
        if (i > 0 && t->id > prev) {
            put(&w, (uint64_t)(t->id - prev));
        } else {
            put(&w, 0);
            put(&w, t->id);
        }
        prev = t->id;
        put(&w, t->live_bytes);
        put(&w, t->peak_bytes);
        put(&w, t->frame_bytes);
        put(&w, t->pool_bytes);
        put(&w, t->heap_bytes);
        put(&w, t->alloc_count);
    }
    put(&w, f->thread_count);
    for (uint32_t i = 0; i < f->thread_count; i++) {
        const fa_proto_thread_row_t *t = &f->threads[i];
        put(&w, t->index);
        put(&w, t->overflow_chunks);
        put(&w, t->frame_used);
        put(&w, t->frame_capacity);
        put(&w, t->frames);
        put(&w, t->flags);
    }
    put(&w, f->finding_count);
    for (uint32_t i = 0; i < f->finding_count; i++) {
        const fa_proto_finding_t *x = &f->findings[i];
        put(&w, x->code);
        put(&w, x->tag_id);
        put(&w, x->kind);
        put(&w, x->count);
        put(&w, x->value);
    }
    put(&w, f->sites_total);
    put(&w, f->site_count);
    for (uint32_t i = 0; i < f->site_count; i++) {
        const fa_proto_site_row_t *x = &f->sites[i];
        put(&w, x->site_id);
        put(&w, x->tag_id);
        put(&w, x->bytes);
        put(&w, x->count);
        put(&w, x->live_bytes);
    }
    return w.fail ? 0 : (size_t)(w.p - out);
}

/* Reads one site row; false when the blob is malformed. */
static bool get_site_row(rcur_t *r, fa_proto_site_row_t *x) {
    uint64_t site = get(r), tag = get(r);
    x->bytes = get(r);
    x->count = get(r);
    x->live_bytes = get(r);
    if (r->fail || site > UINT32_MAX || tag > 0xffff) return false;
    x->site_id = (uint32_t)site;
    x->tag_id = (uint16_t)tag;
    return true;
}

/* Reads the delta-coded id of the next tag row. */
static uint64_t get_tag_id(rcur_t *r, uint64_t prev) {
    uint64_t d = get(r);
    uint64_t id = d == 0 ? get(r) : prev + d;
    if (id > 0xffff) r->fail = true;
    return id;
}

/* Version 1 (before call sites) or 2. */
static int unframe_header(rcur_t *r, fa_proto_frame_t *f, int *version) {
    if (r->p >= r->end || (*r->p != 1 && *r->p != PACK_FRAME_VERSION)) return -1;
    *version = *r->p++;
    f->frames_dropped = (uint32_t)get(r);
    f->tags_total = (uint32_t)get(r);
    f->threads_total = (uint32_t)get(r);
    f->findings_dropped = (uint32_t)get(r);
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        fa_proto_kind_totals_t *t = &f->totals[k];
        t->in_use = get(r);
        t->peak = get(r);
        t->alloc_count = get(r);
        t->alloc_bytes = get(r);
        t->free_count = get(r);
    }
    fa_proto_promotions_t *pr = &f->promotions;
    pr->promoted_count = get(r);
    pr->promoted_bytes = get(r);
    pr->failed_count = get(r);
    pr->failed_bytes = get(r);
    pr->retained_count = get(r);
    pr->retained_bytes = get(r);
    pr->discarded_count = get(r);
    pr->discarded_bytes = get(r);
    fa_proto_transfers_t *tr = &f->transfers;
    tr->created = get(r);
    tr->received = get(r);
    tr->released = get(r);
    tr->dropped_unreceived = get(r);
    tr->in_flight = get(r);
    return r->fail ? -1 : 0;
}

int pack_unframe(const uint8_t *blob, size_t len, fa_proto_frame_t *f, fa_proto_storage_t *st) {
    rcur_t r = {blob, blob + len, false};
    memset(f, 0, sizeof *f);
    int version;
    if (unframe_header(&r, f, &version) != 0) return -1;
    uint64_t n = get(&r);
    if (r.fail || n > st->tag_stats_capacity) return -1;
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; i++) {
        fa_proto_tag_stat_t *t = &st->tag_stats[i];
        prev = get_tag_id(&r, prev);
        t->id = (uint16_t)prev;
        t->live_bytes = get(&r);
        t->peak_bytes = get(&r);
        t->frame_bytes = get(&r);
        t->pool_bytes = get(&r);
        t->heap_bytes = get(&r);
        t->alloc_count = get(&r);
        if (r.fail) return -1;
    }
    f->tags = st->tag_stats;
    f->tag_count = (uint32_t)n;
    n = get(&r);
    if (r.fail || n > st->threads_capacity) return -1;
    for (uint64_t i = 0; i < n; i++) {
        fa_proto_thread_row_t *t = &st->threads[i];
        t->index = (uint32_t)get(&r);
        t->overflow_chunks = (uint32_t)get(&r);
        t->frame_used = get(&r);
        t->frame_capacity = get(&r);
        t->frames = get(&r);
        t->flags = (uint8_t)get(&r);
        if (r.fail) return -1;
    }
    f->threads = st->threads;
    f->thread_count = (uint32_t)n;
    n = get(&r);
    if (r.fail || n > st->findings_capacity) return -1;
    for (uint64_t i = 0; i < n; i++) {
        fa_proto_finding_t *x = &st->findings[i];
        x->code = (uint16_t)get(&r);
        x->tag_id = (uint16_t)get(&r);
        x->kind = (uint8_t)get(&r);
        x->count = (uint32_t)get(&r);
        x->value = get(&r);
        if (r.fail) return -1;
    }
    f->findings = st->findings;
    f->finding_count = (uint32_t)n;
    if (version >= 2) {
        uint64_t total = get(&r);
        n = get(&r);
        if (r.fail || total > UINT32_MAX || n > st->site_rows_capacity) return -1;
        for (uint64_t i = 0; i < n; i++)
            if (!get_site_row(&r, &st->site_rows[i])) return -1;
        f->sites_total = (uint32_t)total;
        f->sites = n ? st->site_rows : NULL;
        f->site_count = (uint32_t)n;
    }
    return r.p == r.end ? 0 : -1;
}

int pack_frame_each_site(const uint8_t *blob, size_t len, uint32_t *sites_total, pack_site_fn fn, void *ud) {
    rcur_t r = {blob, blob + len, false};
    fa_proto_frame_t f;
    int version;
    if (unframe_header(&r, &f, &version) != 0) return -1;
    /* Skip the tag rows (an absolute id takes one varint more), threads,
     * findings. */
    uint64_t n = get(&r);
    for (uint64_t i = 0; i < n && !r.fail; i++) {
        if (get(&r) == 0) get(&r);
        for (int k = 0; k < 6; k++)
            get(&r);
    }
    n = get(&r);
    for (uint64_t i = 0; i < n * 6 && !r.fail; i++)
        get(&r);
    n = get(&r);
    for (uint64_t i = 0; i < n * 5 && !r.fail; i++)
        get(&r);
    *sites_total = 0;
    if (r.fail) return -1;
    if (version < 2) return r.p == r.end ? 0 : -1;
    uint64_t total = get(&r);
    n = get(&r);
    if (r.fail || total > UINT32_MAX) return -1;
    *sites_total = (uint32_t)total;
    for (uint64_t i = 0; i < n; i++) {
        fa_proto_site_row_t x;
        if (!get_site_row(&r, &x)) return -1;
        if (fn(ud, &x)) return 0;
    }
    return r.p == r.end ? 0 : -1;
}

int pack_frame_find_live(const uint8_t *blob, size_t len, uint16_t id, uint64_t *live) {
    rcur_t r = {blob, blob + len, false};
    fa_proto_frame_t f;
    int version;
    if (unframe_header(&r, &f, &version) != 0) return -1;
    uint64_t n = get(&r), prev = 0;
    for (uint64_t i = 0; i < n && !r.fail; i++) {
        prev = get_tag_id(&r, prev);
        uint64_t v = get(&r);
        if (r.fail) return -1;
        if (prev == id) {
            *live = v;
            return 1;
        }
        for (int k = 0; k < 5; k++)
            get(&r);
    }
    return r.fail ? -1 : 0;
}

size_t pack_rollup_bound(uint32_t rows, uint32_t site_rows) {
    return 1 + 10 + (size_t)rows * 6 * 10 + 10 + (size_t)site_rows * 10 * 10;
}

size_t pack_rollup(const pack_rollup_row_t *rows, uint32_t n, const pack_site_acc_t *sites, uint32_t nsites,
                   uint8_t *out, size_t cap) {
    wcur_t w = {out, out + cap, false};
    if (cap < 1) return 0;
    *w.p++ = PACK_ROLLUP_VERSION;
    put(&w, n);
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        const pack_rollup_row_t *x = &rows[i];
        if (i > 0 && x->id > prev) {
            put(&w, (uint64_t)(x->id - prev));
        } else {
            put(&w, 0);
            put(&w, x->id);
        }
        prev = x->id;
        put(&w, x->min);
        put(&w, x->avg);
        put(&w, x->max);
        put(&w, x->last);
    }
    /* Sites, by (site, tag): the site delta-coded. */
    put(&w, nsites);
    uint32_t prev_site = 0;
    for (uint32_t i = 0; i < nsites; i++) {
        const pack_site_acc_t *x = &sites[i];
        put(&w, (uint64_t)(x->site - prev_site));
        prev_site = x->site;
        put(&w, x->tag);
        put(&w, x->frames);
        put(&w, x->bytes_sum);
        put(&w, x->bytes_max);
        put(&w, x->count_sum);
        put(&w, x->count_max);
        put(&w, x->live_sum);
        put(&w, x->live_max);
        put(&w, x->live_last);
    }
    return w.fail ? 0 : (size_t)(w.p - out);
}

/* Skips a blob's tag rows; returns the rows, or -1 when malformed. */
static int64_t skip_rollup_tags(rcur_t *r) {
    uint64_t n = get(r), prev = 0;
    for (uint64_t i = 0; i < n && !r->fail; i++) {
        prev = get_tag_id(r, prev);
        for (int k = 0; k < 4; k++)
            get(r);
    }
    return r->fail ? -1 : (int64_t)n;
}

int pack_rollup_each_site(const uint8_t *blob, size_t len, pack_site_acc_fn fn, void *ud) {
    rcur_t r = {blob, blob + len, false};
    if (len < 1 || (blob[0] != 1 && blob[0] != PACK_ROLLUP_VERSION)) return -1;
    int version = *r.p++;
    if (skip_rollup_tags(&r) < 0) return -1;
    if (version < 2) return r.p == r.end ? 0 : -1;
    uint64_t n = get(&r), site = 0;
    if (r.fail) return -1;
    for (uint64_t i = 0; i < n; i++) {
        pack_site_acc_t x;
        site += get(&r);
        uint64_t tag = get(&r), frames = get(&r);
        x.bytes_sum = get(&r);
        x.bytes_max = get(&r);
        x.count_sum = get(&r);
        x.count_max = get(&r);
        x.live_sum = get(&r);
        x.live_max = get(&r);
        x.live_last = get(&r);
        if (r.fail || site > UINT32_MAX || tag > 0xffff || frames > UINT32_MAX) return -1;
        x.site = (uint32_t)site;
        x.tag = (uint16_t)tag;
        x.frames = (uint32_t)frames;
        if (fn(ud, &x)) return 0;
    }
    return r.p == r.end ? 0 : -1;
}

int pack_rollup_find(const uint8_t *blob, size_t len, uint16_t id, pack_rollup_row_t *out) {
    rcur_t r = {blob, blob + len, false};
    if (len < 1 || (blob[0] != 1 && blob[0] != PACK_ROLLUP_VERSION)) return -1;
    r.p++;
    uint64_t n = get(&r), prev = 0;
    for (uint64_t i = 0; i < n && !r.fail; i++) {
        prev = get_tag_id(&r, prev);
        pack_rollup_row_t row;
        row.min = get(&r);
        row.avg = get(&r);
        row.max = get(&r);
        row.last = get(&r);
        if (r.fail) return -1;
        if (prev == id) {
            row.id = id;
            *out = row;
            return 1;
        }
    }
    return r.fail ? -1 : 0;
}

int pack_rollup_tag_at(const uint8_t *blob, size_t len, uint32_t *at, uint32_t cap) {
    rcur_t r = {blob, blob + len, false};
    if (len < 1 || (blob[0] != 1 && blob[0] != PACK_ROLLUP_VERSION)) return -1;
    r.p++;
    uint64_t n = get(&r), prev = 0, end = 0; /* at[0..end) written */
    for (uint64_t i = 0; i < n && !r.fail; i++) {
        prev = get_tag_id(&r, prev);
        if (r.fail || prev >= cap) return -1;
        while (end <= prev)
            at[end++] = 0;
        at[prev] = (uint32_t)(r.p - blob) + 1;
        for (int k = 0; k < 4; k++)
            get(&r);
    }
    return r.fail ? -1 : (int)end;
}

int pack_rollup_row_at(const uint8_t *p, size_t len, uint16_t id, pack_rollup_row_t *out) {
    rcur_t r = {p, p + len, false};
    pack_rollup_row_t row = {.id = id};
    row.min = get(&r);
    row.avg = get(&r);
    row.max = get(&r);
    row.last = get(&r);
    if (r.fail) return -1;
    *out = row;
    return 0;
}
