/* fleet.c — the fleet view (see fleet.h).
 *
 * The store hands over one row per (session, tag) ordered by app, build,
 * tag path and session; a group is one (app, build, tag), a build one
 * (app, build). Each build's JSON is written on its own as its groups
 * close, and the builds are put in order of their newest activity at the
 * end. Memory: one group's values at a time, and the builds' text. */
#include "fleet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "json.h"

/* Builds listed at most (the most recently active). */
#define FLEET_BUILDS_MAX 200
/* Hosts named per build (all are counted). */
#define FLEET_HOSTS_LISTED 16

typedef struct sample {
    uint64_t sid, peak, budget, last_seen;
    double avg;
    bool live;
    char host[VIEW_TEXT_MAX];
} sample_t;

typedef struct build_doc {
    char *json;
    size_t len;
    uint64_t last_seen;
} build_doc_t;

typedef struct fleet {
    /* the open group */
    char app[VIEW_TEXT_MAX], build[VIEW_TEXT_MAX], path[VIEW_TEXT_MAX];
    bool open;
    sample_t *samples;
    size_t n, cap;
    /* the open build */
    json_writer_t bw;
    uint64_t *sids;
    size_t nsids, sids_cap;
    char (*hosts)[VIEW_TEXT_MAX];
    size_t nhosts, hosts_cap;
    uint64_t build_seen;
    /* done */
    build_doc_t *builds;
    size_t nbuilds, builds_cap;
    uint64_t *all_sids;
    size_t nall, all_cap;
    bool failed;
} fleet_t;

double fleet_percentile(const double *v, size_t n, double p) {
    if (n == 0) return 0;
    double rank = p * (double)(n - 1);
    size_t lo = (size_t)rank;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (rank - (double)lo) * (v[lo + 1] - v[lo]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* How bad a session is for a tag: its peak against its budget, or its
 * peak alone (scaled below every budgeted one) without a budget. */
static double badness(const sample_t *s) {
    return s->budget ? (double)s->peak / (double)s->budget : (double)s->peak * 1e-30;
}

static int by_badness(const void *a, const void *b) {
    double x = badness(a), y = badness(b);
    if (x != y) return x < y ? 1 : -1;
    const sample_t *p = a, *q = b;
    return (p->sid > q->sid) - (p->sid < q->sid);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *g = realloc(*p, c * size);
    if (!g) return false;
    *p = g;
    *cap = c;
    return true;
}

static void spread(json_writer_t *w, const char *key, double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_double);
    jw_begin_object(w, key);
    jw_u64(w, "p50", (uint64_t)llround(fleet_percentile(v, n, 0.50)));
    jw_u64(w, "p95", (uint64_t)llround(fleet_percentile(v, n, 0.95)));
    jw_u64(w, "max", (uint64_t)llround(n ? v[n - 1] : 0));
    jw_end_object(w);
}

/* Writes the open group as a tag row of the open build. */
static void close_group(fleet_t *f) {
    if (!f->open) return;
    f->open = false;
    json_writer_t *w = &f->bw;
    double *v = malloc((f->n ? f->n : 1) * sizeof *v);
    if (!v) {
        f->failed = true;
        return;
    }
    uint64_t budget = 0, over = 0;
    for (size_t i = 0; i < f->n; i++) {
        const sample_t *s = &f->samples[i];
        if (s->budget > budget) budget = s->budget;
        if (s->budget && s->peak > s->budget) over++;
    }
    jw_begin_object(w, NULL);
    jw_str(w, "tag", f->path);
    jw_u64(w, "sessions", f->n);
    jw_u64(w, "budget_hard", budget);
    for (size_t i = 0; i < f->n; i++)
        v[i] = (double)f->samples[i].peak;
    spread(w, "peak", v, f->n);
    double peak_p95 = fleet_percentile(v, f->n, 0.95);
    for (size_t i = 0; i < f->n; i++)
        v[i] = f->samples[i].avg;
    spread(w, "avg", v, f->n);
    jw_u64(w, "over_budget", over);
    if (budget)
        jw_double(w, "peak_p95_pct", alerts_pct((uint64_t)llround(peak_p95), budget));
    else
        jw_null(w, "peak_p95_pct");
    /* critical: a session went over its budget; warning: the p95 peak
     * reached 80 % of the budget. */
    const char *state = !budget                                     ? "no_budget"
                        : over                                      ? "critical"
                        : peak_p95 * 100.0 >= (double)budget * 80.0 ? "warning"
                                                                    : "ok";
    jw_str(w, "state", state);
    qsort(f->samples, f->n, sizeof *f->samples, by_badness);
    jw_begin_array(w, "worst");
    for (size_t i = 0; i < f->n && i < FLEET_WORST; i++) {
        const sample_t *s = &f->samples[i];
        jw_begin_object(w, NULL);
        jw_sid(w, "session", s->sid);
        jw_str(w, "host", s->host);
        jw_bool(w, "live", s->live);
        jw_u64(w, "peak_bytes", s->peak);
        jw_u64(w, "avg_bytes", (uint64_t)llround(s->avg));
        jw_u64(w, "budget_hard", s->budget);
        if (s->budget)
            jw_double(w, "used_pct", alerts_pct(s->peak, s->budget));
        else
            jw_null(w, "used_pct");
        jw_end_object(w);
    }
    jw_end_array(w);
    jw_end_object(w);
    free(v);
    f->n = 0;
}

/* Finishes the open build: its sessions and hosts, then its text. */
static void close_build(fleet_t *f) {
    close_group(f);
    if (!f->bw.buf && !f->bw.failed) return;
    json_writer_t *w = &f->bw;
    jw_end_array(w); /* tags */
    qsort(f->sids, f->nsids, sizeof *f->sids, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < f->nsids; i++)
        if (i == 0 || f->sids[i] != f->sids[i - 1]) f->sids[distinct++] = f->sids[i];
    jw_u64(w, "sessions", distinct);
    jw_u64(w, "hosts", f->nhosts);
    jw_begin_array(w, "host_names");
    for (size_t i = 0; i < f->nhosts && i < FLEET_HOSTS_LISTED; i++)
        jw_str(w, NULL, f->hosts[i]);
    jw_end_array(w);
    jw_u64(w, "last_seen_ms", f->build_seen);
    jw_end_object(w);
    if (grow((void **)&f->all_sids, &f->all_cap, f->nall + distinct, sizeof *f->all_sids)) {
        memcpy(f->all_sids + f->nall, f->sids, distinct * sizeof *f->sids);
        f->nall += distinct;
    } else {
        f->failed = true;
    }
    build_doc_t d = {0};
    d.json = jw_finish(w, &d.len);
    d.last_seen = f->build_seen;
    if (!d.json || !grow((void **)&f->builds, &f->builds_cap, f->nbuilds + 1, sizeof *f->builds)) {
        free(d.json);
        f->failed = true;
    } else {
        f->builds[f->nbuilds++] = d;
    }
    f->nsids = f->nhosts = 0;
    f->build_seen = 0;
}

static void open_build(fleet_t *f, const store_fleet_row_t *row) {
    json_writer_t *w = &f->bw;
    jw_begin_object(w, NULL);
    jw_str(w, "app", row->app);
    jw_str(w, "build", row->build);
    /* sessions, hosts and last activity come after the tags (known then);
     * JSON readers do not mind the order */
    jw_begin_array(w, "tags");
}

static int fleet_row(void *ud, const store_fleet_row_t *row) {
    fleet_t *f = ud;
    bool same_build = f->open && !strcmp(f->app, row->app) && !strcmp(f->build, row->build);
    bool same_group = same_build && !strcmp(f->path, row->path);
    if (!same_group) close_group(f);
    if (!same_build) {
        if (f->bw.buf || f->nsids) close_build(f);
        open_build(f, row);
    }
    if (!same_group) {
        snprintf(f->app, sizeof f->app, "%s", row->app);
        snprintf(f->build, sizeof f->build, "%s", row->build);
        snprintf(f->path, sizeof f->path, "%s", row->path);
        f->open = true;
    }
    if (!grow((void **)&f->samples, &f->cap, f->n + 1, sizeof *f->samples) ||
        !grow((void **)&f->sids, &f->sids_cap, f->nsids + 1, sizeof *f->sids)) {
        f->failed = true;
        return 1;
    }
    sample_t *s = &f->samples[f->n++];
    s->sid = row->session_id;
    s->peak = row->peak_bytes;
    s->budget = row->budget_hard;
    s->last_seen = row->last_seen_ms;
    s->live = row->live;
    s->avg = row->live_frames ? (double)row->live_sum / (double)row->live_frames : 0;
    snprintf(s->host, sizeof s->host, "%s", row->host);
    f->sids[f->nsids++] = row->session_id;
    if (row->last_seen_ms > f->build_seen) f->build_seen = row->last_seen_ms;
    bool known = false;
    for (size_t i = 0; i < f->nhosts && !known; i++)
        known = !strcmp(f->hosts[i], row->host);
    if (!known) {
        if (!grow((void **)&f->hosts, &f->hosts_cap, f->nhosts + 1, sizeof *f->hosts)) {
            f->failed = true;
            return 1;
        }
        snprintf(f->hosts[f->nhosts++], VIEW_TEXT_MAX, "%s", row->host);
    }
    return 0;
}

static int by_recent(const void *a, const void *b) {
    const build_doc_t *x = a, *y = b;
    return (x->last_seen < y->last_seen) - (x->last_seen > y->last_seen);
}

void fleet_query(store_reader_t *r, const store_fleet_query_t *q, uint64_t now_ms, size_t max_bytes,
                 query_result_t *res) {
    fleet_t f;
    memset(&f, 0, sizeof f);
    int rc = store_read_fleet(r, q, fleet_row, &f);
    if (rc == STORE_OK && !f.failed && (f.bw.buf || f.nsids)) close_build(&f);
    if (rc != STORE_OK) {
        query_store_failed(res, r, rc);
    } else if (f.failed) {
        query_fail(res, 500, "out_of_memory", "out of memory");
    } else {
        if (f.nbuilds) qsort(f.builds, f.nbuilds, sizeof *f.builds, by_recent);
        if (f.nall) qsort(f.all_sids, f.nall, sizeof *f.all_sids, cmp_u64);
        size_t distinct = 0;
        for (size_t i = 0; i < f.nall; i++)
            if (i == 0 || f.all_sids[i] != f.all_sids[i - 1]) distinct++;
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
        jw_u64(&w, "sessions", distinct);
        jw_begin_array(&w, "builds");
        size_t k = 0;
        bool truncated = false;
        for (; k < f.nbuilds; k++) {
            jw_mark_t m = jw_mark(&w);
            jw_raw(&w, NULL, f.builds[k].json, f.builds[k].len);
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
    for (size_t i = 0; i < f.nbuilds; i++)
        free(f.builds[i].json);
    free(f.builds);
    free(f.samples);
    free(f.sids);
    free(f.hosts);
    free(f.all_sids);
    jw_free(&f.bw);
}
