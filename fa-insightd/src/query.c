/* query.c — the stored documents of the API (see query.h). */
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "pack.h"
#include "sid.h"

/* Room kept for a list's closing fields. */
#define TAIL_BYTES 512

void query_fail(query_result_t *res, int status, const char *code, const char *message) {
    res->status = status;
    snprintf(res->code, sizeof res->code, "%s", code);
    snprintf(res->message, sizeof res->message, "%s", message);
}

void query_store_failed(query_result_t *res, const store_reader_t *r, int rc) {
    if (rc == STORE_CANCELLED) {
        query_fail(res, 503, "timeout", "the query was stopped (deadline or shutdown)");
        return;
    }
    query_fail(res, 500, "database_error", store_reader_error(r));
    LOG(LOG_ERROR, "%s", res->message);
}

static void finish_doc(query_result_t *res, json_writer_t *w) {
    res->body = jw_finish(w, &res->len);
    if (res->body)
        res->status = 200;
    else
        query_fail(res, 500, "out_of_memory", "out of memory");
}

/* ---- cursors ------------------------------------------------------------ */

void query_cursor_format(char out[QUERY_CURSOR_MAX], char dir, uint64_t ms, uint64_t key, bool hex_key) {
    if (hex_key) {
        char hex[SID_HEX_LEN + 1];
        sid_format(key, hex);
        snprintf(out, QUERY_CURSOR_MAX, "%c.%" PRIu64 ".%s", dir, ms, hex);
    } else {
        snprintf(out, QUERY_CURSOR_MAX, "%c.%" PRIu64 ".%" PRIu64, dir, ms, key);
    }
}

static int parse_decimal(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int query_cursor_parse(const char *text, char *dir, uint64_t *ms, uint64_t *key, bool hex_key) {
    if (!text || strlen(text) >= QUERY_CURSOR_MAX || text[0] == '\0' || text[1] != '.') return -1;
    const char *a = text + 2, *dot = strchr(a, '.');
    if (!dot) return -1;
    if (parse_decimal(a, (size_t)(dot - a), ms) != 0) return -1;
    if (hex_key ? sid_parse(dot + 1, key) != 0 : parse_decimal(dot + 1, strlen(dot + 1), key) != 0) return -1;
    *dir = text[0];
    return 0;
}

/* ---- frames ------------------------------------------------------------- */

/* One decoded frame row as API.md's frame object. */
static void frame_json(json_writer_t *w, const store_frame_t *row, const fa_proto_frame_t *f) {
    jw_begin_object(w, NULL);
    jw_u64(w, "frame", row->frame);
    jw_u64(w, "t_ms", row->t_ms);
    jw_u64(w, "duration_ns", row->duration_ns);
    jw_u64(w, "frames_dropped", f->frames_dropped);
    jw_u64(w, "tags_total", f->tags_total);
    jw_u64(w, "threads_total", f->threads_total);
    jw_u64(w, "findings_dropped", f->findings_dropped);
    view_write_totals(w, "totals", f->totals);
    const fa_proto_promotions_t *pr = &f->promotions;
    jw_begin_object(w, "promotions");
    jw_u64(w, "promoted_count", pr->promoted_count);
    jw_u64(w, "promoted_bytes", pr->promoted_bytes);
    jw_u64(w, "failed_count", pr->failed_count);
    jw_u64(w, "failed_bytes", pr->failed_bytes);
    jw_u64(w, "retained_count", pr->retained_count);
    jw_u64(w, "retained_bytes", pr->retained_bytes);
    jw_u64(w, "discarded_count", pr->discarded_count);
    jw_u64(w, "discarded_bytes", pr->discarded_bytes);
    jw_end_object(w);
    const fa_proto_transfers_t *tr = &f->transfers;
    jw_begin_object(w, "transfers");
    jw_u64(w, "created", tr->created);
    jw_u64(w, "received", tr->received);
    jw_u64(w, "released", tr->released);
    jw_u64(w, "dropped_unreceived", tr->dropped_unreceived);
    jw_u64(w, "in_flight", tr->in_flight);
    jw_end_object(w);
    jw_begin_array(w, "tags");
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *t = &f->tags[i];
        jw_begin_object(w, NULL);
        jw_u64(w, "id", t->id);
        jw_u64(w, "live_bytes", t->live_bytes);
        jw_u64(w, "peak_bytes", t->peak_bytes);
        jw_u64(w, "frame_bytes", t->frame_bytes);
        jw_u64(w, "pool_bytes", t->pool_bytes);
        jw_u64(w, "heap_bytes", t->heap_bytes);
        jw_u64(w, "alloc_count", t->alloc_count);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_begin_array(w, "threads");
    for (uint32_t i = 0; i < f->thread_count; i++) {
        const fa_proto_thread_row_t *t = &f->threads[i];
        jw_begin_object(w, NULL);
        jw_u64(w, "index", t->index);
        jw_u64(w, "overflow_chunks", t->overflow_chunks);
        jw_u64(w, "frame_used", t->frame_used);
        jw_u64(w, "frame_capacity", t->frame_capacity);
        jw_u64(w, "frames", t->frames);
        jw_bool(w, "in_frame", (t->flags & FA_PROTO_THREAD_IN_FRAME) != 0);
        jw_u64(w, "flags", t->flags);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_begin_array(w, "findings");
    for (uint32_t i = 0; i < f->finding_count; i++) {
        const fa_proto_finding_t *x = &f->findings[i];
        jw_begin_object(w, NULL);
        jw_u64(w, "code", x->code);
        jw_str(w, "name", json_finding_name(x->code));
        jw_u64(w, "tag_id", x->tag_id);
        jw_str(w, "kind", json_kind_name(x->kind));
        jw_u64(w, "count", x->count);
        jw_u64(w, "value", x->value);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_u64(w, "sites_total", f->sites_total);
    jw_begin_array(w, "sites");
    for (uint32_t i = 0; i < f->site_count; i++) {
        const fa_proto_site_row_t *x = &f->sites[i];
        jw_begin_object(w, NULL);
        jw_u64(w, "site_id", x->site_id);
        jw_u64(w, "tag_id", x->tag_id);
        jw_u64(w, "bytes", x->bytes);
        jw_u64(w, "count", x->count);
        jw_u64(w, "live_bytes", x->live_bytes);
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
}

/* Frames come in query order; each is written on its own into `rows`
 * (newest first for a newest-first query) and assembled in time order. */
typedef struct frames_ctx {
    fa_proto_space_t *space;
    json_writer_t rows;
    size_t *ends; /* end offset of each row in rows.buf */
    uint32_t n, cap, limit;
    size_t budget;
    bool truncated, capped, failed;
} frames_ctx_t;

static int frame_cb(void *ud, const store_frame_t *row) {
    frames_ctx_t *c = ud;
    if (c->n == c->limit) {
        c->truncated = true; /* the row after the last one wanted */
        return 1;
    }
    fa_proto_storage_t st = fa_proto_storage_of(c->space);
    fa_proto_frame_t f;
    if (!row->blob || pack_unframe(row->blob, row->len, &f, &st) != 0) {
        LOG(LOG_WARN, "frames: skipping a malformed stored frame");
        return 0;
    }
    jw_mark_t m = jw_mark(&c->rows);
    c->rows.comma = false;
    frame_json(&c->rows, row, &f);
    if (c->rows.failed) {
        c->failed = true;
        return 1;
    }
    if (c->rows.len > c->budget) {
        jw_rollback(&c->rows, m);
        c->truncated = c->capped = true;
        return 1;
    }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 64;
        size_t *grown = realloc(c->ends, cap * sizeof *grown);
        if (!grown) {
            c->failed = true;
            return 1;
        }
        c->ends = grown;
        c->cap = cap;
    }
    c->ends[c->n++] = c->rows.len;
    return 0;
}

void query_frames(store_reader_t *r, const store_frames_query_t *q, size_t max_bytes, query_result_t *res) {
    frames_ctx_t c = {.limit = q->limit, .budget = max_bytes > TAIL_BYTES ? max_bytes - TAIL_BYTES : 0};
    if (!(c.space = malloc(sizeof *c.space))) {
        query_fail(res, 500, "out_of_memory", "out of memory");
        return;
    }
    /* One row more than wanted tells whether more exist. */
    store_frames_query_t one_more = *q;
    one_more.limit = q->limit + 1;
    int rc = store_read_frames(r, &one_more, frame_cb, &c);
    free(c.space);
    if (rc != STORE_OK || c.failed) {
        jw_free(&c.rows);
        free(c.ends);
        if (rc != STORE_OK)
            query_store_failed(res, r, rc);
        else
            query_fail(res, 500, "out_of_memory", "out of memory");
        return;
    }
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    jw_sid(&w, "session", q->session_id);
    jw_begin_array(&w, "frames");
    for (uint32_t k = 0; k < c.n; k++) {
        uint32_t i = q->newest ? c.n - 1 - k : k;
        size_t from = i ? c.ends[i - 1] : 0;
        jw_raw(&w, NULL, c.rows.buf + from, c.ends[i] - from);
    }
    jw_end_array(&w);
    jw_u64(&w, "count", c.n);
    jw_bool(&w, "truncated", c.truncated);
    jw_end_object(&w);
    jw_free(&c.rows);
    free(c.ends);
    res->capped = c.capped;
    finish_doc(res, &w);
}

/* ---- trend ---------------------------------------------------------------- */

typedef struct point {
    uint64_t min, max, last, last_t;
    double sum; /* of value x weight */
    uint64_t weight, frames;
} point_t;

static void point_add(point_t *p, uint64_t t, uint64_t min, uint64_t avg, uint64_t max, uint64_t last,
                      uint64_t frames) {
    if (p->frames == 0 || min < p->min) p->min = min;
    if (p->frames == 0 || max > p->max) p->max = max;
    if (p->frames == 0 || t >= p->last_t) {
        p->last = last;
        p->last_t = t;
    }
    p->sum += (double)avg * (double)frames;
    p->weight += frames;
    p->frames += frames;
}

/* ---- windows of series rows ----------------------------------------------- */

typedef struct window_ctx {
    int level;
    uint64_t covered;
    query_row_fn fn;
    void *ud;
} window_ctx_t;

static int window_row(void *ud, uint64_t t, uint32_t frames, const uint8_t *blob, size_t len) {
    static const uint64_t width[4] = {1, 1000, 10000, 60000};
    window_ctx_t *c = ud;
    if (t + width[c->level + 1] > c->covered) c->covered = t + width[c->level + 1];
    return c->fn(c->ud, c->level, t, frames, blob, len);
}

int query_read_window(store_reader_t *r, uint64_t sid, uint64_t from, uint64_t end, int level, int tag,
                      query_row_fn fn, void *ud) {
    /* Buckets still open in memory are not stored yet, so the tail the
     * coarse source does not cover is read from the finer ones. */
    window_ctx_t c = {.covered = from, .fn = fn, .ud = ud};
    for (int l = level; l >= -1 && c.covered <= end; l--) {
        c.level = l;
        int rc = store_read_series(r, l, sid, c.covered, end, tag, window_row, &c);
        if (rc != STORE_OK) return rc;
    }
    return STORE_OK;
}

query_span_t query_window_span(uint64_t end_ms, uint64_t window_ms, uint32_t points) {
    query_span_t s = {end_ms > window_ms ? end_ms - window_ms : 0, 0};
    if (points) {
        s.step = window_ms / points + (window_ms % points != 0);
        if (s.step == 0) s.step = 1;
    }
    return s;
}

int query_level_for(uint64_t step) {
    return step < 1000 ? -1 : step < 10000 ? STORE_SECOND : step < 60000 ? STORE_10S : STORE_MINUTE;
}

const char *query_level_name(int level) {
    static const char *const names[4] = {"raw", "1s", "10s", "1m"};
    return names[level + 1];
}

typedef struct trend_ctx {
    uint16_t tag_id;
    uint64_t from, step, rows;
    point_t *pts;
    uint32_t points;
} trend_ctx_t;

static int series_cb(void *ud, int level, uint64_t t, uint32_t frames, const uint8_t *blob, size_t len) {
    trend_ctx_t *c = ud;
    uint64_t idx = (t - c->from) / c->step;
    if (idx >= c->points) idx = c->points - 1;
    c->rows++;
    if (!blob) return 0;
    if (level < 0) {
        uint64_t live;
        if (pack_frame_find_live(blob, len, c->tag_id, &live) == 1)
            point_add(&c->pts[idx], t, live, live, live, live, 1);
    } else {
        pack_rollup_row_t r;
        if (pack_rollup_find(blob, len, c->tag_id, &r) == 1)
            point_add(&c->pts[idx], t, r.min, r.avg, r.max, r.last, frames ? frames : 1);
    }
    return 0;
}

void query_trend(store_reader_t *r, uint64_t sid, uint16_t tag_id, const char *tag_path, uint64_t end_ms,
                 uint64_t window_ms, uint32_t points, query_result_t *res) {
    query_span_t span = query_window_span(end_ms, window_ms, points);
    uint64_t from = span.from, step = span.step;
    /* The cheapest source whose resolution is finer than a point. */
    int level = query_level_for(step);
    trend_ctx_t c = {.tag_id = tag_id, .from = from, .step = step, .points = points};
    if (!(c.pts = calloc(points, sizeof *c.pts))) {
        query_fail(res, 500, "out_of_memory", "out of memory");
        return;
    }
    int rc = query_read_window(r, sid, from, end_ms, level, tag_id, series_cb, &c);
    if (rc != STORE_OK) {
        free(c.pts);
        query_store_failed(res, r, rc);
        return;
    }
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    jw_sid(&w, "session", sid);
    jw_str(&w, "tag", tag_path);
    jw_u64(&w, "tag_id", tag_id);
    jw_str(&w, "source", query_level_name(level));
    jw_u64(&w, "from_ms", from);
    jw_u64(&w, "to_ms", end_ms);
    jw_u64(&w, "window_ms", window_ms);
    jw_u64(&w, "step_ms", step);
    jw_u64(&w, "points", points);
    jw_u64(&w, "rows_read", c.rows);
    jw_begin_array(&w, "series");
    for (uint32_t i = 0; i < points; i++) {
        const point_t *p = &c.pts[i];
        if (p->frames == 0) continue;
        jw_begin_object(&w, NULL);
        jw_u64(&w, "t_ms", from + (uint64_t)i * step);
        jw_u64(&w, "min", p->min);
        jw_u64(&w, "avg", p->weight ? (uint64_t)(p->sum / (double)p->weight + 0.5) : p->last);
        jw_u64(&w, "max", p->max);
        jw_u64(&w, "last", p->last);
        jw_u64(&w, "frames", p->frames);
        jw_end_object(&w);
    }
    jw_end_array(&w);
    jw_end_object(&w);
    free(c.pts);
    finish_doc(res, &w);
}

/* ---- pages of alerts and findings ----------------------------------------- */

/* Rows of one page, written apart then assembled newest first (alerts) or
 * oldest first (findings). keys[] hold each row's (ms, key) for cursors. */
typedef struct page {
    json_writer_t rows;
    size_t *ends;
    uint64_t *ms, *keys;
    uint32_t n, cap, limit;
    size_t budget;
    bool more, capped, failed;
} page_t;

static bool page_room(page_t *p) {
    if (p->n < p->cap) return true;
    uint32_t cap = p->cap ? p->cap * 2 : 64;
    size_t *e = realloc(p->ends, cap * sizeof *e);
    if (e) p->ends = e;
    uint64_t *m = e ? realloc(p->ms, cap * sizeof *m) : NULL;
    if (m) p->ms = m;
    uint64_t *k = m ? realloc(p->keys, cap * sizeof *k) : NULL;
    if (!k) return false;
    p->keys = k;
    p->cap = cap;
    return true;
}

/* After a row was written since mark m: keeps it, or drops it and stops
 * at the budget. Returns 1 to stop. */
static int page_keep(page_t *p, jw_mark_t m, uint64_t ms, uint64_t key) {
    if (p->rows.failed || !page_room(p)) {
        p->failed = true;
        return 1;
    }
    if (p->rows.len > p->budget) {
        jw_rollback(&p->rows, m);
        p->more = p->capped = true;
        return 1;
    }
    p->ends[p->n] = p->rows.len;
    p->ms[p->n] = ms;
    p->keys[p->n] = key;
    p->n++;
    return 0;
}

static void page_free(page_t *p) {
    jw_free(&p->rows);
    free(p->ends);
    free(p->ms);
    free(p->keys);
}

/* Writes the page's rows as array `key`; the store gave them in `newer`
 * (ascending) or descending order; `ascending` is the order wanted. */
static void page_emit(json_writer_t *w, const char *key, page_t *p, bool newer, bool ascending) {
    jw_begin_array(w, key);
    for (uint32_t k = 0; k < p->n; k++) {
        uint32_t i = newer == ascending ? k : p->n - 1 - k;
        size_t from = i ? p->ends[i - 1] : 0;
        jw_raw(w, NULL, p->rows.buf + from, p->ends[i] - from);
    }
    jw_end_array(w);
}

/* next: older rows; prev: newer ones (see query.h). The rows of the page
 * in store order run from the cursor outward. */
static void page_cursors(json_writer_t *w, const page_t *p, bool had_cursor, bool newer, bool hex) {
    char cur[QUERY_CURSOR_MAX];
    /* oldest and newest rows of the page */
    uint32_t oldest = newer ? 0 : p->n - 1, newest = newer ? p->n - 1 : 0;
    bool older_exist = newer ? had_cursor : p->more;
    bool newer_exist = newer ? p->more : had_cursor;
    if (p->n && older_exist) {
        query_cursor_format(cur, 'o', p->ms[oldest], p->keys[oldest], hex);
        jw_str(w, "next", cur);
    } else {
        jw_null(w, "next");
    }
    if (p->n && newer_exist) {
        query_cursor_format(cur, 'n', p->ms[newest], p->keys[newest], hex);
        jw_str(w, "prev", cur);
    } else {
        jw_null(w, "prev");
    }
}

/* A row about to be written: false (stop reading) when the page is full;
 * the row after the last one wanted says that more exist. */
static bool page_row(page_t *p, jw_mark_t *m) {
    if (p->n == p->limit) {
        p->more = true;
        return false;
    }
    *m = jw_mark(&p->rows);
    p->rows.comma = false;
    return true;
}

/* After the store read one row more than the page: an error answered, or
 * the document begun with the page's rows, count and cursors. */
static bool page_finish(page_t *p, int rc, store_reader_t *r, query_result_t *res, json_writer_t *w,
                        const char *key, bool has_cursor, bool newer, bool ascending,
                        const uint64_t *session_id) {
    if (rc != STORE_OK || p->failed) {
        page_free(p);
        if (rc != STORE_OK)
            query_store_failed(res, r, rc);
        else
            query_fail(res, 500, "out_of_memory", "out of memory");
        return false;
    }
    jw_begin_object(w, NULL);
    if (session_id) jw_sid(w, "session", *session_id);
    page_emit(w, key, p, newer, ascending);
    jw_u64(w, "count", p->n);
    jw_bool(w, "truncated", p->more);
    page_cursors(w, p, has_cursor, newer, false);
    res->capped = p->capped;
    page_free(p);
    return true;
}

static int alert_cb(void *ud, const alert_row_t *a) {
    page_t *p = ud;
    jw_mark_t m;
    if (!page_row(p, &m)) return 1;
    view_write_alert(&p->rows, NULL, a, NULL);
    return page_keep(p, m, a->raised_ms, (uint64_t)a->id);
}

void query_alerts(store_reader_t *r, const store_alerts_query_t *q, size_t max_bytes, query_result_t *res) {
    page_t p = {.limit = q->limit, .budget = max_bytes > TAIL_BYTES ? max_bytes - TAIL_BYTES : 0};
    store_alerts_query_t one_more = *q;
    one_more.limit = q->limit + 1;
    int rc = store_read_alerts(r, &one_more, alert_cb, &p);
    json_writer_t w = {0};
    if (!page_finish(&p, rc, r, res, &w, "alerts", q->has_cursor, q->newer, false, NULL)) return;
    jw_end_object(&w);
    finish_doc(res, &w);
}

static void finding_fields(json_writer_t *w, const store_finding_row_t *x) {
    jw_u64(w, "code", x->f.code);
    jw_str(w, "name", json_finding_name(x->f.code));
    jw_u64(w, "tag_id", x->f.tag_id);
    if (x->path)
        jw_str(w, "tag", x->path);
    else
        jw_null(w, "tag");
    jw_str(w, "kind", json_kind_name(x->f.kind));
}

static int finding_cb(void *ud, const store_finding_row_t *x) {
    page_t *p = ud;
    jw_mark_t m;
    if (!page_row(p, &m)) return 1;
    jw_begin_object(&p->rows, NULL);
    jw_u64(&p->rows, "t_ms", x->f.t_ms);
    finding_fields(&p->rows, x);
    jw_u64(&p->rows, "frames", x->f.frames);
    jw_u64(&p->rows, "count", x->f.count_max);
    jw_u64(&p->rows, "value", x->f.value_max);
    jw_end_object(&p->rows);
    return page_keep(p, m, x->f.t_ms, (uint64_t)x->key);
}

typedef struct summary_ctx {
    json_writer_t *w;
    size_t budget;
} summary_ctx_t;

static int summary_cb(void *ud, const store_finding_row_t *x) {
    summary_ctx_t *c = ud;
    jw_mark_t m = jw_mark(c->w);
    jw_begin_object(c->w, NULL);
    finding_fields(c->w, x);
    jw_str(c->w, "meaning", json_finding_meaning(x->f.code));
    jw_u64(c->w, "frames", x->f.frames);
    jw_u64(c->w, "count_max", x->f.count_max);
    jw_u64(c->w, "value_max", x->f.value_max);
    jw_u64(c->w, "first_ms", x->first_ms);
    jw_u64(c->w, "last_ms", x->last_ms);
    jw_end_object(c->w);
    if (c->w->len > c->budget) {
        jw_rollback(c->w, m);
        return 1;
    }
    return 0;
}

void query_findings(store_reader_t *r, const store_findings_query_t *q, size_t max_bytes,
                    query_result_t *res) {
    /* The page gets three quarters of the budget, the summary the rest. */
    size_t budget = max_bytes > TAIL_BYTES ? max_bytes - TAIL_BYTES : 0;
    page_t p = {.limit = q->limit, .budget = budget / 4 * 3};
    store_findings_query_t one_more = *q;
    one_more.limit = q->limit + 1;
    int rc = store_read_findings(r, &one_more, finding_cb, &p);
    json_writer_t w = {0};
    if (!page_finish(&p, rc, r, res, &w, "findings", q->has_cursor, q->newer, true, &q->session_id)) return;
    jw_begin_array(&w, "summary");
    summary_ctx_t sc = {&w, budget};
    rc = store_read_finding_summary(r, q, summary_cb, &sc);
    jw_end_array(&w);
    jw_end_object(&w);
    if (rc != STORE_OK) {
        jw_free(&w);
        query_store_failed(res, r, rc);
        return;
    }
    finish_doc(res, &w);
}
