/* fleetagg.c — the fleet view's figures from per-(session, tag) rows (see
 * fleetagg.h). A group is one (app, build, tag path), a build one (app,
 * build): each is handed to the sink when the rows move past it. */
#include "fleetagg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sample {
    uint64_t sid, peak, budget;
    double avg;
    bool live;
    char host[VIEW_TEXT_MAX];
} sample_t;

struct fleetagg {
    store_fleet_sink_t sink;
    char app[VIEW_TEXT_MAX], build[VIEW_TEXT_MAX], path[VIEW_TEXT_MAX];
    bool open;
    sample_t *samples; /* the open group */
    size_t n, cap;
    uint64_t *sids; /* the open build's sessions (with repeats) */
    size_t nsids, sids_cap;
    char (*hosts)[VIEW_TEXT_MAX]; /* its hosts, each once */
    size_t nhosts, hosts_cap;
    uint64_t build_seen;
    double *values;
    size_t values_cap;
};

double fleetagg_percentile(const double *v, size_t n, double p) {
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

static int cmp_str(const void *a, const void *b) {
    return strcmp(a, b);
}

/* How bad a session is for a tag: its peak against its budget, or its
 * peak alone (scaled below every budgeted one) without a budget. Ties:
 * the smaller stored id (the signed order, as PostgreSQL sorts). */
static double badness(const sample_t *s) {
    return s->budget ? (double)s->peak / (double)s->budget : (double)s->peak * 1e-30;
}

static int by_badness(const void *a, const void *b) {
    double x = badness(a), y = badness(b);
    if (x != y) return x < y ? 1 : -1;
    int64_t p = (int64_t)((const sample_t *)a)->sid, q = (int64_t)((const sample_t *)b)->sid;
    return (p > q) - (p < q);
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

static void spread(fleetagg_t *a, double out[3]) {
    qsort(a->values, a->n, sizeof *a->values, cmp_double);
    out[0] = fleetagg_percentile(a->values, a->n, 0.50);
    out[1] = fleetagg_percentile(a->values, a->n, 0.95);
    out[2] = a->n ? a->values[a->n - 1] : 0;
}

static int close_group(fleetagg_t *a) {
    if (!a->open || !a->n) return 0;
    if (!grow((void **)&a->values, &a->values_cap, a->n, sizeof *a->values)) return -1;
    store_fleet_group_t g = {.app = a->app, .build = a->build, .path = a->path, .sessions = a->n};
    for (size_t i = 0; i < a->n; i++) {
        const sample_t *s = &a->samples[i];
        if (s->budget > g.budget_hard) g.budget_hard = s->budget;
        if (s->budget && s->peak > s->budget) g.over_budget++;
        a->values[i] = (double)s->peak;
    }
    spread(a, g.peak);
    for (size_t i = 0; i < a->n; i++)
        a->values[i] = a->samples[i].avg;
    spread(a, g.avg);
    qsort(a->samples, a->n, sizeof *a->samples, by_badness);
    for (size_t i = 0; i < a->n && i < STORE_FLEET_WORST; i++) {
        const sample_t *s = &a->samples[i];
        g.worst[g.worst_count++] =
            (store_fleet_worst_t){s->sid, s->peak, s->budget, s->avg, s->live, s->host};
    }
    a->n = 0;
    return a->sink.group ? a->sink.group(a->sink.ud, &g) : 0;
}

static int close_build(fleetagg_t *a) {
    if (!a->nsids) return 0;
    qsort(a->sids, a->nsids, sizeof *a->sids, cmp_u64);
    size_t distinct = 0;
    for (size_t i = 0; i < a->nsids; i++)
        if (i == 0 || a->sids[i] != a->sids[i - 1]) distinct++;
    qsort(a->hosts, a->nhosts, sizeof *a->hosts, cmp_str);
    store_fleet_build_t b = {.app = a->app,
                             .build = a->build,
                             .sessions = distinct,
                             .hosts = a->nhosts,
                             .last_seen_ms = a->build_seen};
    for (size_t i = 0; i < a->nhosts && i < STORE_FLEET_HOSTS; i++)
        b.host_names[b.host_names_count++] = a->hosts[i];
    a->nsids = a->nhosts = 0;
    a->build_seen = 0;
    return a->sink.build ? a->sink.build(a->sink.ud, &b) : 0;
}

int fleetagg_add(fleetagg_t *a, const fleetagg_row_t *row) {
    bool same_build = a->open && !strcmp(a->app, row->app) && !strcmp(a->build, row->build);
    bool same_group = same_build && !strcmp(a->path, row->path);
    int rc;
    if (!same_group && (rc = close_group(a)) != 0) return rc;
    if (!same_build && (rc = close_build(a)) != 0) return rc;
    if (!same_group) {
        snprintf(a->app, sizeof a->app, "%s", row->app);
        snprintf(a->build, sizeof a->build, "%s", row->build);
        snprintf(a->path, sizeof a->path, "%s", row->path);
        a->open = true;
    }
    if (!grow((void **)&a->samples, &a->cap, a->n + 1, sizeof *a->samples) ||
        !grow((void **)&a->sids, &a->sids_cap, a->nsids + 1, sizeof *a->sids))
        return -1;
    sample_t *s = &a->samples[a->n++];
    s->sid = row->session_id;
    s->peak = row->peak_bytes;
    s->budget = row->budget_hard;
    s->live = row->live;
    s->avg = row->live_frames ? (double)row->live_sum / (double)row->live_frames : 0;
    snprintf(s->host, sizeof s->host, "%s", row->host);
    a->sids[a->nsids++] = row->session_id;
    if (row->last_seen_ms > a->build_seen) a->build_seen = row->last_seen_ms;
    for (size_t i = 0; i < a->nhosts; i++)
        if (!strcmp(a->hosts[i], row->host)) return 0;
    if (!grow((void **)&a->hosts, &a->hosts_cap, a->nhosts + 1, sizeof *a->hosts)) return -1;
    snprintf(a->hosts[a->nhosts++], VIEW_TEXT_MAX, "%s", row->host);
    return 0;
}

int fleetagg_finish(fleetagg_t *a) {
    int rc = close_group(a);
    if (rc == 0) rc = close_build(a);
    a->open = false;
    return rc;
}

fleetagg_t *fleetagg_create(const store_fleet_sink_t *sink) {
    fleetagg_t *a = calloc(1, sizeof *a);
    if (a) a->sink = *sink;
    return a;
}

void fleetagg_destroy(fleetagg_t *a) {
    if (!a) return;
    free(a->samples);
    free(a->sids);
    free(a->hosts);
    free(a->values);
    free(a);
}
