/* fleet.c — the fleet view's document (see fleet.h) from the store's
 * figures (store_read_fleet): builds, most recently active first, each
 * with its tags. Memory: the builds' and groups' figures (builds x tags). */
#include "fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "json.h"

/* Builds listed at most (the most recently active). */
#define FLEET_BUILDS_MAX 200

typedef struct build_doc {
    char app[VIEW_TEXT_MAX], build[VIEW_TEXT_MAX];
    store_fleet_build_t figures; /* its strings point into hosts */
    char (*hosts)[VIEW_TEXT_MAX];
    json_writer_t tags; /* the tag rows, as they come */
} build_doc_t;

typedef struct fleet {
    build_doc_t *builds;
    size_t n, cap;
    uint64_t sessions;
    bool failed;
} fleet_t;

static build_doc_t *build_of(fleet_t *f, const char *app, const char *build) {
    for (size_t i = f->n; i-- > 0;) /* the newest is the likeliest */
        if (!strcmp(f->builds[i].app, app) && !strcmp(f->builds[i].build, build)) return &f->builds[i];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        build_doc_t *g = realloc(f->builds, cap * sizeof *g);
        if (!g) return NULL;
        f->builds = g;
        f->cap = cap;
    }
    build_doc_t *b = &f->builds[f->n++];
    memset(b, 0, sizeof *b);
    snprintf(b->app, sizeof b->app, "%s", app);
    snprintf(b->build, sizeof b->build, "%s", build);
    return b;
}

static int on_build(void *ud, const store_fleet_build_t *x) {
    fleet_t *f = ud;
    build_doc_t *b = build_of(f, x->app, x->build);
    if (!b || !(b->hosts = calloc(STORE_FLEET_HOSTS, sizeof *b->hosts))) {
        f->failed = true;
        return 1;
    }
    b->figures = *x;
    for (uint32_t i = 0; i < x->host_names_count && i < STORE_FLEET_HOSTS; i++) {
        snprintf(b->hosts[i], VIEW_TEXT_MAX, "%s", x->host_names[i]);
        b->figures.host_names[i] = b->hosts[i];
    }
    f->sessions += x->sessions;
    return 0;
}

static void spread(json_writer_t *w, const char *key, const double v[3]) {
    jw_begin_object(w, key);
    jw_u64(w, "p50", (uint64_t)llround(v[0]));
    jw_u64(w, "p95", (uint64_t)llround(v[1]));
    jw_u64(w, "max", (uint64_t)llround(v[2]));
    jw_end_object(w);
}

static int on_group(void *ud, const store_fleet_group_t *g) {
    fleet_t *f = ud;
    build_doc_t *b = build_of(f, g->app, g->build);
    if (!b) {
        f->failed = true;
        return 1;
    }
    json_writer_t *w = &b->tags;
    jw_begin_object(w, NULL);
    jw_str(w, "tag", g->path);
    jw_u64(w, "sessions", g->sessions);
    jw_u64(w, "budget_hard", g->budget_hard);
    spread(w, "peak", g->peak);
    spread(w, "avg", g->avg);
    jw_u64(w, "over_budget", g->over_budget);
    uint64_t peak_p95 = (uint64_t)llround(g->peak[1]);
    if (g->budget_hard)
        jw_double(w, "peak_p95_pct", alerts_pct(peak_p95, g->budget_hard));
    else
        jw_null(w, "peak_p95_pct");
    /* critical: a session went over its budget; warning: the p95 peak
     * reached 80 % of the budget. */
    const char *state = !g->budget_hard                                       ? "no_budget"
                        : g->over_budget                                      ? "critical"
                        : g->peak[1] * 100.0 >= (double)g->budget_hard * 80.0 ? "warning"
                                                                              : "ok";
    jw_str(w, "state", state);
    jw_begin_array(w, "worst");
    for (uint32_t i = 0; i < g->worst_count; i++) {
        const store_fleet_worst_t *s = &g->worst[i];
        jw_begin_object(w, NULL);
        jw_sid(w, "session", s->session_id);
        jw_str(w, "host", s->host);
        jw_bool(w, "live", s->live);
        jw_u64(w, "peak_bytes", s->peak_bytes);
        jw_u64(w, "avg_bytes", (uint64_t)llround(s->avg_bytes));
        jw_u64(w, "budget_hard", s->budget_hard);
        if (s->budget_hard)
            jw_double(w, "used_pct", alerts_pct(s->peak_bytes, s->budget_hard));
        else
            jw_null(w, "used_pct");
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
    if (w->failed) f->failed = true;
    return f->failed;
}

static int by_recent(const void *a, const void *b) {
    uint64_t x = ((const build_doc_t *)a)->figures.last_seen_ms,
             y = ((const build_doc_t *)b)->figures.last_seen_ms;
    return (x < y) - (x > y);
}

/* One build as JSON (its tag rows taken from b). */
static void write_build(json_writer_t *w, build_doc_t *b) {
    const store_fleet_build_t *x = &b->figures;
    jw_begin_object(w, NULL);
    jw_str(w, "app", b->app);
    jw_str(w, "build", b->build);
    jw_u64(w, "sessions", x->sessions);
    jw_u64(w, "hosts", x->hosts);
    jw_begin_array(w, "host_names");
    for (uint32_t i = 0; i < x->host_names_count; i++)
        jw_str(w, NULL, x->host_names[i]);
    jw_end_array(w);
    jw_u64(w, "last_seen_ms", x->last_seen_ms);
    size_t len = 0;
    char *tags = jw_finish(&b->tags, &len);
    jw_begin_array(w, "tags");
    if (tags && len) jw_raw(w, NULL, tags, len);
    jw_end_array(w);
    free(tags);
    jw_end_object(w);
}

void fleet_query(store_reader_t *r, const store_fleet_query_t *q, uint64_t now_ms, size_t max_bytes,
                 query_result_t *res) {
    fleet_t f;
    memset(&f, 0, sizeof f);
    store_fleet_sink_t sink = {on_build, on_group, &f};
    int rc = store_read_fleet(r, q, &sink);
    if (rc != STORE_OK) {
        query_store_failed(res, r, rc);
    } else if (f.failed) {
        query_fail(res, 500, "out_of_memory", "out of memory");
    } else {
        if (f.n) qsort(f.builds, f.n, sizeof *f.builds, by_recent);
        json_writer_t w = {0};
        jw_begin_object(&w, NULL);
        jw_u64(&w, "since_ms", q->since_ms);
        jw_u64(&w, "until_ms", now_ms);
        if (q->app && q->app[0])
            jw_str(&w, "app", q->app);
        else
            jw_null(&w, "app");
        if (q->build && q->build[0])
            jw_str(&w, "build", q->build);
        else
            jw_null(&w, "build");
        if (q->tag && q->tag[0])
            jw_str(&w, "tag", q->tag);
        else
            jw_null(&w, "tag");
        jw_u64(&w, "sessions", f.sessions);
        jw_begin_array(&w, "builds");
        size_t k = 0;
        bool truncated = false;
        for (; k < f.n; k++) {
            jw_mark_t m = jw_mark(&w);
            write_build(&w, &f.builds[k]);
            if (k >= FLEET_BUILDS_MAX || w.len + 256 > max_bytes) {
                jw_rollback(&w, m);
                truncated = true;
                res->capped = w.len + 256 > max_bytes;
                break;
            }
        }
        jw_end_array(&w);
        jw_u64(&w, "count", k);
        jw_bool(&w, "truncated", truncated);
        jw_end_object(&w);
        res->body = jw_finish(&w, &res->len);
        if (res->body)
            res->status = 200;
        else
            query_fail(res, 500, "out_of_memory", "out of memory");
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.builds[i].hosts);
        jw_free(&f.builds[i].tags);
    }
    free(f.builds);
}
