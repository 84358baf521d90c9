/* query.c — read queries on libuv's thread pool, each with its own
 * read-only connection. WAL lets them run while the loop thread writes:
 * a slow trend or frames query never delays ingest (measured in
 * BENCH.md). Committed data only: what the writer has not committed yet
 * (at most one commit interval) is not visible here. */
#include "insightd.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct query_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    sqlite3 **all;
    sqlite3 **idle;
    int count, idle_count;
};

int query_pool_open(query_pool_t **out, const char *path, int n, char *err, size_t errcap) {
    query_pool_t *p = calloc(1, sizeof *p);
    if (!p || !(p->all = calloc((size_t)n, sizeof *p->all)) ||
        !(p->idle = calloc((size_t)n, sizeof *p->idle))) {
        if (p) free(p->all);
        free(p);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    for (int i = 0; i < n; i++) {
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
            snprintf(err, errcap, "read-only connection to '%s': %s", path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
            sqlite3_close(db);
            p->count = i;
            query_pool_close(p);
            return -1;
        }
        sqlite3_busy_timeout(db, 2000);
        /* 8 MB per reader: a 1-hour trend touches ~5 MB of rollup pages; with
         * the 2 MB default every query re-read them from the OS (3x slower). */
        sqlite3_exec(db, "PRAGMA query_only=1; PRAGMA cache_size=-8000;", NULL, NULL, NULL);
        p->all[i] = p->idle[i] = db;
    }
    p->count = p->idle_count = n;
    *out = p;
    return 0;
}

void query_pool_close(query_pool_t *p) {
    if (!p) return;
    for (int i = 0; i < p->count; i++)
        sqlite3_close(p->all[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->freed);
    free(p->all);
    free(p->idle);
    free(p);
}

sqlite3 *query_acquire(query_pool_t *p) {
    pthread_mutex_lock(&p->lock);
    while (p->idle_count == 0)
        pthread_cond_wait(&p->freed, &p->lock);
    sqlite3 *db = p->idle[--p->idle_count];
    pthread_mutex_unlock(&p->lock);
    return db;
}

void query_release(query_pool_t *p, sqlite3 *db) {
    pthread_mutex_lock(&p->lock);
    p->idle[p->idle_count++] = db;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

static cJSON *fail(query_result_t *res, sqlite3 *db) {
    res->status = 500;
    snprintf(res->code, sizeof res->code, "database_error");
    snprintf(res->message, sizeof res->message, "database read failed: %s", sqlite3_errmsg(db));
    LOG(LOG_ERROR, "%s", res->message);
    return NULL;
}

static void bind_u64(sqlite3_stmt *s, int i, uint64_t v) {
    sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}
static uint64_t col_u64(sqlite3_stmt *s, int i) {
    return (uint64_t)sqlite3_column_int64(s, i);
}

/* One decoded frame row as API.md's frame object. */
static void frame_json(json_writer_t *w, uint64_t t_ms, uint64_t number, uint64_t duration_ns,
                       const fa_proto_frame_t *f) {
    jw_begin_object(w, NULL);
    jw_u64(w, "frame", number);
    jw_u64(w, "t_ms", t_ms);
    jw_u64(w, "duration_ns", duration_ns);
    jw_u64(w, "frames_dropped", f->frames_dropped);
    jw_u64(w, "tags_total", f->tags_total);
    jw_u64(w, "threads_total", f->threads_total);
    jw_u64(w, "findings_dropped", f->findings_dropped);
    jw_begin_object(w, "totals");
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        jw_begin_object(w, json_kind_name(k));
        jw_u64(w, "in_use", f->totals[k].in_use);
        jw_u64(w, "peak", f->totals[k].peak);
        jw_u64(w, "alloc_count", f->totals[k].alloc_count);
        jw_u64(w, "alloc_bytes", f->totals[k].alloc_bytes);
        jw_u64(w, "free_count", f->totals[k].free_count);
        jw_end_object(w);
    }
    jw_end_object(w);
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
    jw_end_object(w);
}

char *query_frames(sqlite3 *db, uint64_t sid, uint64_t from_ms, uint64_t to_ms, bool has_from, bool has_to,
                   uint32_t limit, query_result_t *res, size_t *len) {
    /* Without a lower bound the newest frames are wanted: take them from
     * the end, then put them back in time order. With one, the row after
     * the limit tells whether the answer is truncated; without, an
     * index-only probe of the row before the first. */
    bool older = false;
    if (!has_from) {
        sqlite3_stmt *probe;
        if (sqlite3_prepare_v2(db,
                               "SELECT 1 FROM frames WHERE session_id=?1 AND t_ms<=?2"
                               " ORDER BY t_ms DESC, rowid DESC LIMIT 1 OFFSET ?3",
                               -1, &probe, NULL) != SQLITE_OK) {
            fail(res, db);
            return NULL;
        }
        bind_u64(probe, 1, sid);
        sqlite3_bind_int64(probe, 2, has_to ? (sqlite3_int64)to_ms : INT64_MAX);
        sqlite3_bind_int64(probe, 3, limit);
        older = sqlite3_step(probe) == SQLITE_ROW;
        sqlite3_finalize(probe);
    }
    const char *sql =
        has_from
            ? "SELECT t_ms, frame, duration_ns, data FROM frames WHERE session_id=?1 AND t_ms>=?2 AND "
              "t_ms<=?3"
              " ORDER BY t_ms, rowid LIMIT ?4"
            : "SELECT t_ms, frame, duration_ns, data FROM (SELECT rowid AS r, t_ms, frame, duration_ns, data"
              " FROM frames WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY t_ms DESC, rowid DESC"
              " LIMIT ?4) ORDER BY t_ms, r";
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fail(res, db);
        return NULL;
    }
    bind_u64(q, 1, sid);
    bind_u64(q, 2, has_from ? from_ms : 0);
    sqlite3_bind_int64(q, 3, has_to ? (sqlite3_int64)to_ms : INT64_MAX);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)limit + (has_from ? 1 : 0));
    fa_proto_space_t *space = malloc(sizeof *space);
    if (!space) {
        sqlite3_finalize(q);
        res->status = 500;
        snprintf(res->code, sizeof res->code, "out_of_memory");
        snprintf(res->message, sizeof res->message, "out of memory");
        return NULL;
    }
    fa_proto_storage_t st = fa_proto_storage_of(space);
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    jw_sid(&w, "session", sid);
    jw_begin_array(&w, "frames");
    uint32_t rows = 0;
    bool truncated = false;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (rows == limit) {
            truncated = true; /* the row after the last one wanted */
            break;
        }
        fa_proto_frame_t f;
        const uint8_t *blob = sqlite3_column_blob(q, 3);
        int blen = sqlite3_column_bytes(q, 3);
        if (!blob || pack_unframe(blob, (size_t)blen, &f, &st) != 0) {
            LOG(LOG_WARN, "frames: skipping a malformed stored frame");
            continue;
        }
        frame_json(&w, col_u64(q, 0), col_u64(q, 1), col_u64(q, 2), &f);
        rows++;
    }
    free(space);
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        jw_free(&w);
        fail(res, db);
        return NULL;
    }
    jw_end_array(&w);
    jw_u64(&w, "count", rows);
    jw_bool(&w, "truncated", truncated || older);
    jw_end_object(&w);
    char *out = jw_finish(&w, len);
    if (!out) {
        res->status = 500;
        snprintf(res->code, sizeof res->code, "out_of_memory");
        snprintf(res->message, sizeof res->message, "out of memory");
        return NULL;
    }
    res->status = 200;
    return out;
}

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

/* Reads one source table for t in [lo, end_ms] into the points; returns
 * the time up to which it covered (the end of its last bucket), lo if it
 * had no row, or UINT64_MAX on error. */
static uint64_t trend_read(sqlite3 *db, int level, uint64_t sid, uint16_t tag_id, uint64_t lo,
                           uint64_t end_ms, uint64_t from, uint64_t step, point_t *pts, uint32_t points,
                           uint64_t *rows) {
    static const char *const sql[4] = {
        "SELECT t_ms, 1, data FROM frames WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY t_ms",
        "SELECT t_ms, frames, data FROM rollup_1s WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
        "SELECT t_ms, frames, data FROM rollup_10s WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
        "SELECT t_ms, frames, data FROM rollup_1m WHERE session_id=?1 AND t_ms>=?2 AND t_ms<=?3 ORDER BY "
        "t_ms",
    };
    static const uint64_t width[4] = {1, 1000, 10000, 60000};
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql[level], -1, &q, NULL) != SQLITE_OK) return UINT64_MAX;
    bind_u64(q, 1, sid);
    bind_u64(q, 2, lo);
    bind_u64(q, 3, end_ms);
    uint64_t covered = lo;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        uint64_t t = col_u64(q, 0), frames = col_u64(q, 1);
        const uint8_t *blob = sqlite3_column_blob(q, 2);
        size_t len = (size_t)sqlite3_column_bytes(q, 2);
        uint64_t idx = (t - from) / step;
        if (idx >= points) idx = points - 1;
        (*rows)++;
        if (t + width[level] > covered) covered = t + width[level];
        if (!blob) continue;
        if (level == 0) {
            uint64_t live;
            if (pack_frame_find_live(blob, len, tag_id, &live) == 1)
                point_add(&pts[idx], t, live, live, live, live, 1);
        } else {
            pack_rollup_row_t r;
            if (pack_rollup_find(blob, len, tag_id, &r) == 1)
                point_add(&pts[idx], t, r.min, r.avg, r.max, r.last, frames ? frames : 1);
        }
    }
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? covered : UINT64_MAX;
}

cJSON *query_trend(sqlite3 *db, uint64_t sid, uint16_t tag_id, uint64_t end_ms, uint64_t window_ms,
                   uint32_t points, query_result_t *res) {
    uint64_t from = end_ms > window_ms ? end_ms - window_ms : 0;
    uint64_t step = (window_ms + points - 1) / points;
    if (step == 0) step = 1;
    /* The cheapest source whose resolution is finer than a point. Rollup
     * buckets still open in the writer are not in the database yet, so
     * the tail the coarse source does not cover is read from the finer
     * ones (10-second, per-second rollups, then raw frames). */
    static const char *const names[4] = {"raw", "1s", "10s", "1m"};
    int level = step < 1000 ? 0 : step < 10000 ? 1 : step < 60000 ? 2 : 3;
    point_t *pts = calloc(points, sizeof *pts);
    if (!pts) {
        res->status = 500;
        snprintf(res->code, sizeof res->code, "out_of_memory");
        snprintf(res->message, sizeof res->message, "out of memory");
        return NULL;
    }
    uint64_t rows = 0, covered = from;
    for (int l = level; l >= 0 && covered <= end_ms; l--) {
        uint64_t c = trend_read(db, l, sid, tag_id, covered, end_ms, from, step, pts, points, &rows);
        if (c == UINT64_MAX) {
            free(pts);
            return fail(res, db);
        }
        covered = c;
    }
    const char *source = names[level];
    cJSON *root = cJSON_CreateObject();
    json_add_sid(root, "session", sid);
    cJSON_AddNumberToObject(root, "tag_id", tag_id);
    cJSON_AddStringToObject(root, "source", source);
    json_add_u64(root, "from_ms", from);
    json_add_u64(root, "to_ms", end_ms);
    json_add_u64(root, "window_ms", window_ms);
    json_add_u64(root, "step_ms", step);
    json_add_u64(root, "points", points);
    json_add_u64(root, "rows_read", rows);
    cJSON *series = cJSON_AddArrayToObject(root, "series");
    for (uint32_t i = 0; i < points; i++) {
        const point_t *p = &pts[i];
        if (p->frames == 0) continue;
        cJSON *x = cJSON_CreateObject();
        json_add_u64(x, "t_ms", from + (uint64_t)i * step);
        json_add_u64(x, "min", p->min);
        json_add_u64(x, "avg", p->weight ? (uint64_t)(p->sum / (double)p->weight + 0.5) : p->last);
        json_add_u64(x, "max", p->max);
        json_add_u64(x, "last", p->last);
        json_add_u64(x, "frames", p->frames);
        cJSON_AddItemToArray(series, x);
    }
    free(pts);
    res->status = 200;
    return root;
}

static cJSON *alert_row_json(sqlite3_stmt *q) {
    cJSON *o = cJSON_CreateObject();
    uint64_t hard = col_u64(q, 8), peak = col_u64(q, 7);
    bool cleared = sqlite3_column_type(q, 9) != SQLITE_NULL;
    cJSON_AddNumberToObject(o, "id", (double)sqlite3_column_int64(q, 0));
    json_add_sid(o, "session", col_u64(q, 1));
    cJSON_AddNumberToObject(o, "tag_id", sqlite3_column_int(q, 2));
    cJSON_AddStringToObject(o, "tag", (const char *)sqlite3_column_text(q, 3));
    cJSON_AddStringToObject(o, "level", (const char *)sqlite3_column_text(q, 4));
    cJSON_AddStringToObject(o, "state", cleared ? "cleared" : "active");
    json_add_u64(o, "raised_ms", col_u64(q, 5));
    json_add_u64_or_null(o, "cleared_ms", col_u64(q, 9), cleared);
    if (cleared && sqlite3_column_type(q, 10) != SQLITE_NULL)
        cJSON_AddStringToObject(o, "clear_reason", (const char *)sqlite3_column_text(q, 10));
    else
        cJSON_AddNullToObject(o, "clear_reason");
    json_add_u64(o, "budget_hard", hard);
    json_add_u64(o, "raised_bytes", col_u64(q, 6));
    json_add_u64(o, "peak_bytes", peak);
    cJSON_AddNumberToObject(o, "peak_pct", alerts_pct(peak, hard));
    return o;
}

cJSON *query_alerts(sqlite3 *db, bool has_session, uint64_t sid, uint64_t since_ms, int state,
                    query_result_t *res) {
    const char *state_sql = state == QUERY_STATE_ACTIVE    ? " AND cleared_ms IS NULL"
                            : state == QUERY_STATE_CLEARED ? " AND cleared_ms IS NOT NULL"
                                                           : "";
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, session_id, tag_id, path, level, raised_ms, raised_bytes, peak_bytes, budget_hard,"
             " cleared_ms, clear_reason FROM alerts WHERE (?1 = 0 OR session_id = ?2)"
             " AND (raised_ms >= ?3 OR cleared_ms >= ?3)%s ORDER BY raised_ms DESC, id DESC LIMIT ?4",
             state_sql);
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) return fail(res, db);
    sqlite3_bind_int(q, 1, has_session);
    bind_u64(q, 2, sid);
    bind_u64(q, 3, since_ms);
    sqlite3_bind_int(q, 4, QUERY_MAX_ALERTS + 1);
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "alerts");
    uint32_t n = 0;
    bool truncated = false;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == QUERY_MAX_ALERTS) {
            truncated = true;
            break;
        }
        cJSON_AddItemToArray(list, alert_row_json(q));
        n++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cJSON_Delete(root);
        return fail(res, db);
    }
    json_add_u64(root, "count", n);
    cJSON_AddBoolToObject(root, "truncated", truncated);
    res->status = 200;
    return root;
}

cJSON *query_findings(sqlite3 *db, uint64_t sid, uint64_t since_ms, uint32_t limit, query_result_t *res) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(
            db,
            "SELECT f.t_ms, f.code, f.tag_id, f.kind, f.frames, f.count_max, f.value_max, t.path"
            " FROM findings f LEFT JOIN tags t ON t.session_id = f.session_id AND t.id = f.tag_id"
            " WHERE f.session_id = ?1 AND f.t_ms >= ?2 ORDER BY f.t_ms DESC LIMIT ?3",
            -1, &q, NULL) != SQLITE_OK)
        return fail(res, db);
    bind_u64(q, 1, sid);
    bind_u64(q, 2, since_ms);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)limit + 1);
    cJSON *root = cJSON_CreateObject();
    json_add_sid(root, "session", sid);
    cJSON *rows = cJSON_AddArrayToObject(root, "findings");
    uint32_t n = 0;
    bool truncated = false;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n == limit) {
            truncated = true;
            break;
        }
        int code = sqlite3_column_int(q, 1);
        cJSON *o = cJSON_CreateObject();
        json_add_u64(o, "t_ms", col_u64(q, 0));
        cJSON_AddNumberToObject(o, "code", code);
        cJSON_AddStringToObject(o, "name", json_finding_name(code));
        cJSON_AddNumberToObject(o, "tag_id", sqlite3_column_int(q, 2));
        if (sqlite3_column_type(q, 7) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "tag", (const char *)sqlite3_column_text(q, 7));
        else
            cJSON_AddNullToObject(o, "tag");
        cJSON_AddStringToObject(o, "kind", json_kind_name(sqlite3_column_int(q, 3)));
        json_add_u64(o, "frames", col_u64(q, 4));
        json_add_u64(o, "count", col_u64(q, 5));
        json_add_u64(o, "value", col_u64(q, 6));
        cJSON_InsertItemInArray(rows, 0, o);
        n++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cJSON_Delete(root);
        return fail(res, db);
    }
    json_add_u64(root, "count", n);
    cJSON_AddBoolToObject(root, "truncated", truncated);
    /* Totals per (code, tag, kind) over the same period. */
    if (sqlite3_prepare_v2(
            db,
            "SELECT f.code, f.tag_id, f.kind, sum(f.frames), max(f.count_max), max(f.value_max),"
            " min(f.t_ms), max(f.t_ms), t.path FROM findings f LEFT JOIN tags t"
            " ON t.session_id = f.session_id AND t.id = f.tag_id"
            " WHERE f.session_id = ?1 AND f.t_ms >= ?2 GROUP BY f.code, f.tag_id, f.kind"
            " ORDER BY sum(f.frames) DESC",
            -1, &q, NULL) != SQLITE_OK) {
        cJSON_Delete(root);
        return fail(res, db);
    }
    bind_u64(q, 1, sid);
    bind_u64(q, 2, since_ms);
    cJSON *summary = cJSON_AddArrayToObject(root, "summary");
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int code = sqlite3_column_int(q, 0);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "code", code);
        cJSON_AddStringToObject(o, "name", json_finding_name(code));
        cJSON_AddStringToObject(o, "meaning", json_finding_meaning(code));
        cJSON_AddNumberToObject(o, "tag_id", sqlite3_column_int(q, 1));
        if (sqlite3_column_type(q, 8) != SQLITE_NULL)
            cJSON_AddStringToObject(o, "tag", (const char *)sqlite3_column_text(q, 8));
        else
            cJSON_AddNullToObject(o, "tag");
        cJSON_AddStringToObject(o, "kind", json_kind_name(sqlite3_column_int(q, 2)));
        json_add_u64(o, "frames", col_u64(q, 3));
        json_add_u64(o, "count_max", col_u64(q, 4));
        json_add_u64(o, "value_max", col_u64(q, 5));
        json_add_u64(o, "first_ms", col_u64(q, 6));
        json_add_u64(o, "last_ms", col_u64(q, 7));
        cJSON_AddItemToArray(summary, o);
    }
    sqlite3_finalize(q);
    res->status = 200;
    return root;
}
