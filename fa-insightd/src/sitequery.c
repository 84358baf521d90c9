/* sitequery.c — the call-site documents of the API (see sitequery.h). */
#include "sitequery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pack.h"
#include "pairtab.h"
#include "source.h"

/* ---- one window's figures per (site, tag) ---------------------------------- */

typedef struct agg {
    uint32_t site;
    uint16_t tag;
    uint32_t rows; /* frames with a row for the pair */
    uint64_t bytes_sum, bytes_max, count_sum, count_max, live_sum, live_max, live_last, live_t;
} agg_t;

/* A trend point of /sites/{site}. */
typedef struct point {
    uint64_t frames, bytes_sum, bytes_max, count_sum, live_last, live_t;
    uint64_t last_t; /* the point's latest frame or bucket */
    bool seen;
} point_t;

typedef struct window {
    const sites_query_t *q;
    uint8_t tags[65536 / 8]; /* the tag ids asked for */
    agg_t *pairs;
    uint32_t count, cap;
    pairtab_t index; /* where each pair is in pairs */
    uint64_t frames; /* frames the window's rows cover */
    uint64_t last_t; /* the window's latest frame or bucket */
    uint32_t sites_total_max;
    bool failed;
    /* /sites/{site}: the trend */
    point_t *pts;
    uint64_t from, step;
} window_t;

/* A view's tags are in id order. */
static const tag_info_t *tag_of(const session_view_t *v, uint16_t id) {
    uint32_t lo = 0, hi = v->tag_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->tags[mid].id == id) return &v->tags[mid];
        if (v->tags[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool tag_wanted(const window_t *w, uint16_t tag) {
    return w->tags[tag / 8] >> (tag % 8) & 1;
}

/* The tags asked for: the subtree of q->tag (its id and its descendants,
 * by the parents of the session's tags), or every tag. */
static void want_tags(window_t *w) {
    const sites_query_t *q = w->q;
    if (!q->tag) {
        memset(w->tags, 0xff, sizeof w->tags);
        return;
    }
    memset(w->tags, 0, sizeof w->tags);
    const session_view_t *v = q->view;
    for (uint32_t i = 0; i < v->tag_count; i++) {
        /* Walk up (bounded: a cycle of bad parents ends the walk). */
        uint16_t id = v->tags[i].id;
        for (int depth = 0; depth < 256; depth++) {
            if (id == q->tag_id) {
                w->tags[v->tags[i].id / 8] |= (uint8_t)(1u << (v->tags[i].id % 8));
                break;
            }
            const tag_info_t *t = tag_of(v, id);
            if (!t || t->parent_id == id) break;
            id = t->parent_id;
        }
    }
    w->tags[q->tag_id / 8] |= (uint8_t)(1u << (q->tag_id % 8));
}

/* The pair's figures, created if needed; beyond SITEQUERY_PAIRS_MAX a real
 * site's figures go to its tag's "other" pair. NULL when out of memory. */
static agg_t *pair_of(window_t *w, uint32_t site, uint16_t tag) {
    int64_t i = pairtab_get(&w->index, site, tag);
    if (i < 0 && site && w->count >= SITEQUERY_PAIRS_MAX) {
        site = 0;
        i = pairtab_get(&w->index, 0, tag);
    }
    if (i >= 0) return &w->pairs[i];
    if (w->count == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 256;
        agg_t *grown = realloc(w->pairs, cap * sizeof *grown);
        if (!grown) {
            w->failed = true;
            return NULL;
        }
        w->pairs = grown;
        w->cap = cap;
    }
    if (!pairtab_put(&w->index, site, tag, w->count)) {
        w->failed = true;
        return NULL;
    }
    agg_t *a = &w->pairs[w->count++];
    *a = (agg_t){.site = site, .tag = tag};
    return a;
}

/* One pair's figures of one frame or bucket. */
typedef struct sample {
    uint32_t site;
    uint16_t tag;
    uint32_t rows;
    uint64_t bytes_sum, bytes_max, count_sum, count_max, live_sum, live_max, live_last;
} sample_t;

static void add_sample(window_t *w, uint64_t t, const sample_t *s) {
    if (!tag_wanted(w, s->tag)) return;
    if (w->q->site_id && s->site != w->q->site_id) return;
    agg_t *a = pair_of(w, s->site, s->tag);
    if (!a) return;
    a->rows += s->rows;
    a->bytes_sum += s->bytes_sum;
    if (s->bytes_max > a->bytes_max) a->bytes_max = s->bytes_max;
    a->count_sum += s->count_sum;
    if (s->count_max > a->count_max) a->count_max = s->count_max;
    a->live_sum += s->live_sum;
    if (s->live_max > a->live_max) a->live_max = s->live_max;
    if (t >= a->live_t) {
        a->live_last = s->live_last;
        a->live_t = t;
    }
    if (w->pts) {
        uint64_t idx = (t - w->from) / w->step;
        if (idx >= w->q->points) idx = w->q->points - 1;
        point_t *p = &w->pts[idx];
        p->seen = true;
        p->bytes_sum += s->bytes_sum;
        p->bytes_max = s->bytes_max > p->bytes_max ? s->bytes_max : p->bytes_max;
        p->count_sum += s->count_sum;
        if (t >= p->live_t) {
            p->live_last = s->live_last;
            p->live_t = t;
        }
    }
}

typedef struct row_ctx {
    window_t *w;
    uint64_t t;
} row_ctx_t;

static int frame_site(void *ud, const fa_proto_site_row_t *x) {
    row_ctx_t *c = ud;
    sample_t s = {x->site_id,    x->tag_id,    1, x->bytes, x->bytes, x->count, x->count, x->live_bytes,
                  x->live_bytes, x->live_bytes};
    add_sample(c->w, c->t, &s);
    return c->w->failed;
}

static int bucket_site(void *ud, const pack_site_acc_t *x) {
    row_ctx_t *c = ud;
    sample_t s = {x->site,      x->tag,       x->frames,   x->bytes_sum, x->bytes_max,
                  x->count_sum, x->count_max, x->live_sum, x->live_max,  x->live_last};
    add_sample(c->w, c->t, &s);
    return c->w->failed;
}

static int window_row(void *ud, int level, uint64_t t, uint32_t frames, const uint8_t *blob, size_t len) {
    window_t *w = ud;
    uint32_t n = level < 0 ? 1 : frames ? frames : 1;
    w->frames += n;
    if (t > w->last_t) w->last_t = t;
    if (w->pts) {
        uint64_t idx = (t - w->from) / w->step;
        point_t *p = &w->pts[idx >= w->q->points ? w->q->points - 1 : idx];
        p->frames += n;
        if (t > p->last_t) p->last_t = t;
    }
    if (!blob) return 0;
    row_ctx_t c = {w, t};
    if (level < 0) {
        uint32_t total = 0;
        (void)pack_frame_each_site(blob, len, &total, frame_site, &c);
        if (total > w->sites_total_max) w->sites_total_max = total;
    } else {
        (void)pack_rollup_each_site(blob, len, bucket_site, &c);
    }
    return w->failed;
}

static void window_free(window_t *w) {
    free(w->pairs);
    pairtab_free(&w->index);
    free(w->pts);
    free(w);
}

/* Reads the window at `level`; NULL after answering res. */
static window_t *read_window(store_reader_t *r, const sites_query_t *q, int level, query_result_t *res) {
    window_t *w = calloc(1, sizeof *w);
    if (!w) {
        query_fail(res, 500, "out_of_memory", "out of memory");
        return NULL;
    }
    w->q = q;
    want_tags(w);
    query_span_t span = query_window_span(q->end_ms, q->window_ms, q->points);
    w->from = span.from;
    w->step = span.step;
    if (q->points && !(w->pts = calloc(q->points, sizeof *w->pts))) w->failed = true;
    int rc = w->failed ? STORE_OK
                       : query_read_window(r, q->session_id, w->from, q->end_ms, level, -1, window_row, w);
    if (rc != STORE_OK || w->failed) {
        if (rc != STORE_OK)
            query_store_failed(res, r, rc);
        else
            query_fail(res, 500, "out_of_memory", "out of memory");
        window_free(w);
        return NULL;
    }
    return w;
}

/* The level a window without points reads: about a hundred rows or more. */
static int level_for_window(uint64_t window_ms) {
    return window_ms <= 60000 ? -1 : query_level_for(window_ms / 120);
}

/* ---- names ------------------------------------------------------------------- */

typedef struct names {
    site_info_t *sites;
    size_t n, cap;
} names_t;

static int name_cb(void *ud, const site_info_t *s) {
    names_t *nm = ud;
    if (nm->n < nm->cap) nm->sites[nm->n++] = *s;
    return 0;
}

static const site_info_t *name_of(const names_t *nm, uint32_t id) {
    for (size_t i = 0; i < nm->n; i++)
        if (nm->sites[i].id == id) return &nm->sites[i];
    return NULL;
}

/* The definitions of the rows' sites, from the store. */
static int read_names(store_reader_t *r, uint64_t sid, const agg_t *const *rows, size_t n, names_t *nm) {
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    nm->sites = malloc((n ? n : 1) * sizeof *nm->sites);
    nm->cap = n;
    nm->n = 0;
    if (!ids || !nm->sites) {
        free(ids);
        return STORE_FAILED;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->site) ids[k++] = rows[i]->site;
    int rc = store_read_sites(r, sid, ids, k, name_cb, nm);
    free(ids);
    return rc;
}

static const char *tag_path(const session_view_t *v, uint16_t id) {
    const tag_info_t *t = tag_of(v, id);
    return t ? t->path : NULL;
}

/* The site's fields of a row: its definition (file, line, function,
 * kind), or null fields when the session never defined it. */
static void site_fields(json_writer_t *jw, uint32_t site, const site_info_t *def) {
    jw_u64(jw, "site_id", site);
    jw_bool(jw, "other", site == 0);
    jw_bool(jw, "defined", def != NULL);
    if (def) {
        jw_str(jw, "file", def->file);
        jw_u64(jw, "line", def->line);
        jw_str(jw, "function", def->function);
        jw_str(jw, "kind", json_kind_name(def->kind));
    } else {
        jw_null(jw, "file");
        jw_null(jw, "line");
        jw_null(jw, "function");
        jw_null(jw, "kind");
    }
}

/* A pair's live bytes at the end of the window: a pair without a row in
 * the latest frame (or bucket) had none live then (an agent sends a row
 * for every pair with live bytes, or adds them to the tag's "other"). */
static uint64_t live_now(const agg_t *a, uint64_t last_t) {
    return a->live_t == last_t ? a->live_last : 0;
}

static double ratio(uint64_t a, uint64_t b) {
    return b ? (double)a / (double)b : 0.0;
}

/* A pair's tag and figures per frame of the window. */
static void pair_figures(json_writer_t *jw, const agg_t *a, const window_t *w, uint64_t tag_bytes,
                         uint64_t tag_count) {
    uint64_t frames = w->frames;
    const char *path = tag_path(w->q->view, a->tag);
    if (path)
        jw_str(jw, "tag", path);
    else
        jw_null(jw, "tag");
    jw_u64(jw, "tag_id", a->tag);
    jw_begin_object(jw, "bytes_per_frame");
    jw_u64(jw, "avg", frames ? (a->bytes_sum + frames / 2) / frames : 0);
    jw_u64(jw, "max", a->bytes_max);
    jw_end_object(jw);
    jw_begin_object(jw, "count_per_frame");
    jw_double(jw, "avg", ratio(a->count_sum, frames));
    jw_u64(jw, "max", a->count_max);
    jw_end_object(jw);
    jw_begin_object(jw, "live_bytes");
    jw_u64(jw, "avg", frames ? (a->live_sum + frames / 2) / frames : 0);
    jw_u64(jw, "max", a->live_max);
    jw_u64(jw, "last", live_now(a, w->last_t));
    jw_end_object(jw);
    jw_double(jw, "share", ratio(a->bytes_sum, tag_bytes));
    jw_double(jw, "count_share", ratio(a->count_sum, tag_count));
    jw_u64(jw, "frames", a->rows);
}

static void window_fields(json_writer_t *jw, const sites_query_t *q, const window_t *w, int level) {
    jw_sid(jw, "session", q->session_id);
    if (q->tag)
        jw_str(jw, "tag", q->tag);
    else
        jw_null(jw, "tag");
    jw_u64(jw, "window_ms", q->window_ms);
    jw_u64(jw, "from_ms", w->from);
    jw_u64(jw, "to_ms", q->end_ms);
    jw_str(jw, "source", query_level_name(level));
    jw_u64(jw, "frames", w->frames);
}

/* ---- /sites ---------------------------------------------------------------------- */

/* Largest first by the first figure, then the second, then the live
 * bytes; then by site and tag, so that the order is stable. */
static int larger_first(const agg_t *x, const agg_t *y, uint64_t fx, uint64_t fy, uint64_t gx, uint64_t gy) {
    if (fx != fy) return fx < fy ? 1 : -1;
    if (gx != gy) return gx < gy ? 1 : -1;
    if (x->live_last != y->live_last) return x->live_last < y->live_last ? 1 : -1;
    if (x->site != y->site) return x->site > y->site ? 1 : -1;
    return (x->tag > y->tag) - (x->tag < y->tag);
}
static int by_bytes(const void *a, const void *b) {
    const agg_t *x = *(const agg_t *const *)a, *y = *(const agg_t *const *)b;
    return larger_first(x, y, x->bytes_sum, y->bytes_sum, x->count_sum, y->count_sum);
}
static int by_count(const void *a, const void *b) {
    const agg_t *x = *(const agg_t *const *)a, *y = *(const agg_t *const *)b;
    return larger_first(x, y, x->count_sum, y->count_sum, x->bytes_sum, y->bytes_sum);
}

void query_sites(store_reader_t *r, const sites_query_t *q, query_result_t *res) {
    int level = level_for_window(q->window_ms);
    window_t *w = read_window(r, q, level, res);
    if (!w) return;
    uint64_t tag_bytes = 0, tag_count = 0, live = 0;
    const agg_t **rows = malloc((w->count ? w->count : 1) * sizeof *rows);
    if (!rows) {
        window_free(w);
        query_fail(res, 500, "out_of_memory", "out of memory");
        return;
    }
    for (uint32_t i = 0; i < w->count; i++) {
        rows[i] = &w->pairs[i];
        tag_bytes += w->pairs[i].bytes_sum;
        tag_count += w->pairs[i].count_sum;
        live += live_now(&w->pairs[i], w->last_t);
    }
    qsort(rows, w->count, sizeof *rows, q->by_count ? by_count : by_bytes);
    size_t shown = w->count < q->limit ? w->count : q->limit;
    names_t nm = {0};
    int rc = read_names(r, q->session_id, rows, shown, &nm);
    if (rc != STORE_OK) {
        free(rows);
        free(nm.sites);
        window_free(w);
        query_store_failed(res, r, rc);
        return;
    }
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    window_fields(&jw, q, w, level);
    jw_str(&jw, "sort", q->by_count ? "count" : "bytes");
    jw_u64(&jw, "pairs", w->count);
    jw_bool(&jw, "truncated", w->count > shown);
    if (w->sites_total_max)
        jw_u64(&jw, "sites_total_max", w->sites_total_max);
    else
        jw_null(&jw, "sites_total_max");
    jw_begin_object(&jw, "totals");
    jw_u64(&jw, "bytes_per_frame", w->frames ? (tag_bytes + w->frames / 2) / w->frames : 0);
    jw_double(&jw, "count_per_frame", ratio(tag_count, w->frames));
    jw_u64(&jw, "live_bytes", live);
    jw_end_object(&jw);
    jw_begin_array(&jw, "sites");
    for (size_t i = 0; i < shown; i++) {
        const agg_t *a = rows[i];
        jw_begin_object(&jw, NULL);
        site_fields(&jw, a->site, a->site ? name_of(&nm, a->site) : NULL);
        pair_figures(&jw, a, w, tag_bytes, tag_count);
        jw_end_object(&jw);
    }
    jw_end_array(&jw);
    jw_end_object(&jw);
    free(rows);
    free(nm.sites);
    window_free(w);
    res->body = jw_finish(&jw, &res->len);
    if (res->body)
        res->status = 200;
    else
        query_fail(res, 500, "out_of_memory", "out of memory");
}

/* ---- /sites/{site} ------------------------------------------------------------------ */

static void source_fields(json_writer_t *jw, const sites_query_t *q, const site_info_t *def) {
    if (!q->source_root || !q->source_root[0]) {
        jw_null(jw, "source_code");
        jw_str(jw, "source_code_status", "off");
        return;
    }
    if (!def || !def->line) {
        jw_null(jw, "source_code");
        jw_str(jw, "source_code_status", "no_position");
        return;
    }
    source_lines_t *src = malloc(sizeof *src);
    int rc = src ? source_read(q->source_root, def->file, def->line, q->context, src) : SOURCE_ERROR;
    if (rc != SOURCE_OK) {
        jw_null(jw, "source_code");
        jw_str(jw, "source_code_status",
               rc == SOURCE_NOT_FOUND ? "not_found"
               : rc == SOURCE_NO_LINE ? "no_line"
                                      : "error");
    } else {
        jw_begin_object(jw, "source_code");
        jw_str(jw, "path", src->path);
        jw_u64(jw, "line", def->line);
        jw_u64(jw, "first_line", src->first);
        jw_begin_array(jw, "lines");
        for (uint32_t i = 0; i < src->count; i++)
            jw_str(jw, NULL, src->lines[i]);
        jw_end_array(jw);
        jw_end_object(jw);
        jw_str(jw, "source_code_status", "ok");
    }
    free(src);
}

void query_site(store_reader_t *r, const sites_query_t *q, query_result_t *res) {
    int level = query_level_for(q->points ? q->window_ms / q->points : q->window_ms);
    window_t *w = read_window(r, q, level, res);
    if (!w) return;
    names_t nm = {0};
    const agg_t *any = w->count ? &w->pairs[0] : NULL;
    agg_t probe = {.site = q->site_id};
    if (!any) any = &probe;
    int rc = read_names(r, q->session_id, &any, q->site_id ? 1 : 0, &nm);
    if (rc != STORE_OK) {
        free(nm.sites);
        window_free(w);
        query_store_failed(res, r, rc);
        return;
    }
    const site_info_t *def = q->site_id ? name_of(&nm, q->site_id) : NULL;
    uint64_t bytes = 0, count = 0;
    for (uint32_t i = 0; i < w->count; i++) {
        bytes += w->pairs[i].bytes_sum;
        count += w->pairs[i].count_sum;
    }
    json_writer_t jw = {0};
    jw_begin_object(&jw, NULL);
    window_fields(&jw, q, w, level);
    site_fields(&jw, q->site_id, def);
    jw_begin_array(&jw, "tags");
    for (uint32_t i = 0; i < w->count; i++) {
        const agg_t *a = &w->pairs[i];
        jw_begin_object(&jw, NULL);
        pair_figures(&jw, a, w, bytes, count);
        jw_end_object(&jw);
    }
    jw_end_array(&jw);
    jw_begin_object(&jw, "trend");
    jw_u64(&jw, "points", q->points);
    jw_u64(&jw, "step_ms", w->step);
    jw_begin_array(&jw, "series");
    for (uint32_t i = 0; i < q->points; i++) {
        const point_t *p = &w->pts[i];
        if (!p->frames) continue;
        jw_begin_object(&jw, NULL);
        jw_u64(&jw, "t_ms", w->from + (uint64_t)i * w->step);
        jw_u64(&jw, "frames", p->frames);
        jw_u64(&jw, "bytes_per_frame", (p->bytes_sum + p->frames / 2) / p->frames);
        jw_u64(&jw, "bytes_max", p->bytes_max);
        jw_double(&jw, "count_per_frame", ratio(p->count_sum, p->frames));
        jw_u64(&jw, "live_bytes", p->seen && p->live_t == p->last_t ? p->live_last : 0);
        jw_end_object(&jw);
    }
    jw_end_array(&jw);
    jw_end_object(&jw);
    source_fields(&jw, q, def);
    jw_end_object(&jw);
    free(nm.sites);
    window_free(w);
    res->body = jw_finish(&jw, &res->len);
    if (res->body)
        res->status = 200;
    else
        query_fail(res, 500, "out_of_memory", "out of memory");
}
