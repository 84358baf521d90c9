/* fleetagg.c — the fleet view's figures from the sessions and their tag
 * rows (see fleetagg.h). A group is one (app, build, tag path), a build
 * one (app, build). Strings are interned as they come; at the end each
 * gets its rank in byte order, the rows are sorted on three ranks (no
 * string compared per row) and handed over group by group.
 *
 * Why here and not in SQL: PostgreSQL grouped 64 000 (session, tag) rows
 * by three strings and aggregated them into arrays in 50-90 ms (a sort
 * spilling to disk, or a hash aggregate), SQLite sorted them by three
 * strings in ~60 ms; the two plain scans this takes instead, and the sort
 * here, cost a fraction of that (fa-insightd/BENCH.md). */
#include "fleetagg.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_CUT (VIEW_TEXT_MAX - 1)

/* An open-addressing index over an array: a slot holds an item's index
 * + 1, 0 when empty; at most half full. */
typedef struct index {
    uint32_t *slot;
    uint32_t n; /* a power of two */
} index_t;

typedef struct strtab {
    char **text;
    uint32_t n, cap;
    index_t index;
} strtab_t;

typedef struct session_rec {
    uint64_t sid, last_seen;
    uint32_t app, build, host;
    uint32_t build_stamp; /* the build being handed over that counted it */
    bool live;
} session_rec_t;

typedef struct row {
    uint32_t session, group;
    uint64_t peak, budget;
    double avg;
} row_t;

/* One (app, build, path), found through group_index. */
typedef struct group_rec {
    uint32_t app, build, path;
    uint32_t k_app, k_build, k_path; /* ranks in byte order: the sort key */
    uint32_t count, start;           /* its rows, then where they begin in the order */
} group_rec_t;

typedef struct sample {
    uint64_t sid, peak, budget;
    double avg;
    bool live;
    const char *host;
} sample_t;

struct fleetagg {
    store_fleet_sink_t sink;
    strtab_t strings;
    session_rec_t *sessions;
    uint32_t nsessions, sessions_cap;
    index_t session_index; /* by id */
    row_t *rows;
    size_t nrows, rows_cap;
    group_rec_t *groups;
    uint32_t ngroups, groups_cap;
    index_t group_index; /* by (app, build, path) */
    bool failed;         /* an add ran out of memory */
};

double fleetagg_percentile(const double *v, size_t n, double p) {
    if (n == 0) return 0;
    double rank = p * (double)(n - 1);
    size_t lo = (size_t)rank;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (rank - (double)lo) * (v[lo + 1] - v[lo]);
}

static bool grow(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    if (c > SIZE_MAX / size) return false;
    void *g = realloc(*p, c * size);
    if (!g) return false;
    *p = g;
    *cap = c;
    return true;
}

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

typedef uint32_t (*hash_of_fn)(const void *ud, uint32_t item);

/* Room for one more item beside `count`: rebuilt twice as large (hashing
 * each item again) once half full. */
static bool index_reserve(index_t *x, uint32_t count, hash_of_fn hash_of, const void *ud) {
    if ((count + 1) * 2 <= x->n) return true;
    uint32_t n = x->n ? x->n * 2 : 64;
    uint32_t *slot = calloc(n, sizeof *slot);
    if (!slot) return false;
    for (uint32_t k = 0; k < count; k++) {
        uint32_t i = hash_of(ud, k) & (n - 1);
        while (slot[i])
            i = (i + 1) & (n - 1);
        slot[i] = k + 1;
    }
    free(x->slot);
    x->slot = slot;
    x->n = n;
    return true;
}

/* ---- interned strings ---------------------------------------------------- */

static uint32_t hash_text(const char *s, size_t len) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

static uint32_t text_hash_of(const void *ud, uint32_t id) {
    const char *t = ((const strtab_t *)ud)->text[id];
    return hash_text(t, strlen(t));
}

/* The string's id (it is copied the first time), or -1 out of memory. */
static int64_t intern(strtab_t *t, const char *s) {
    if (!s) s = "";
    size_t len = strnlen(s, TEXT_CUT);
    if (!index_reserve(&t->index, t->n, text_hash_of, t)) return -1;
    uint32_t i = hash_text(s, len) & (t->index.n - 1);
    for (; t->index.slot[i]; i = (i + 1) & (t->index.n - 1)) {
        const char *x = t->text[t->index.slot[i] - 1];
        if (!strncmp(x, s, len) && x[len] == '\0') return t->index.slot[i] - 1;
    }
    size_t cap = t->cap;
    if (!grow((void **)&t->text, &cap, t->n + 1, sizeof *t->text)) return -1;
    t->cap = (uint32_t)cap;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->text[t->n] = copy;
    t->index.slot[i] = t->n + 1;
    return t->n++;
}

typedef struct ranked {
    const char *text;
    uint32_t id;
} ranked_t;

static int by_text(const void *a, const void *b) {
    return strcmp(((const ranked_t *)a)->text, ((const ranked_t *)b)->text);
}

/* rank[id]: the string's position in byte order. */
static uint32_t *ranks_of(const strtab_t *t) {
    size_t n = t->n ? t->n : 1;
    ranked_t *order = malloc(n * sizeof *order);
    uint32_t *rank = malloc(n * sizeof *rank);
    if (!order || !rank) {
        free(order);
        free(rank);
        return NULL;
    }
    for (uint32_t i = 0; i < t->n; i++)
        order[i] = (ranked_t){t->text[i], i};
    qsort(order, t->n, sizeof *order, by_text);
    for (uint32_t i = 0; i < t->n; i++)
        rank[order[i].id] = i;
    free(order);
    return rank;
}

/* ---- sessions and rows --------------------------------------------------- */

static int64_t session_find(const fleetagg_t *a, uint64_t sid) {
    const index_t *x = &a->session_index;
    if (!x->n) return -1;
    uint32_t i = (uint32_t)mix64(sid) & (x->n - 1);
    for (; x->slot[i]; i = (i + 1) & (x->n - 1))
        if (a->sessions[x->slot[i] - 1].sid == sid) return x->slot[i] - 1;
    return -1;
}

static uint32_t session_hash_of(const void *ud, uint32_t k) {
    return (uint32_t)mix64(((const fleetagg_t *)ud)->sessions[k].sid);
}

static int out_of_memory(fleetagg_t *a) {
    a->failed = true;
    return -1;
}

bool fleetagg_failed(const fleetagg_t *a) {
    return a->failed;
}

int fleetagg_add_session(fleetagg_t *a, const fleetagg_session_t *s) {
    if (session_find(a, s->session_id) >= 0) return 0;
    if (!index_reserve(&a->session_index, a->nsessions, session_hash_of, a)) return out_of_memory(a);
    size_t cap = a->sessions_cap;
    if (!grow((void **)&a->sessions, &cap, a->nsessions + 1, sizeof *a->sessions)) return out_of_memory(a);
    a->sessions_cap = (uint32_t)cap;
    int64_t app = intern(&a->strings, s->app), build = intern(&a->strings, s->build),
            host = intern(&a->strings, s->host);
    if (app < 0 || build < 0 || host < 0) return out_of_memory(a);
    a->sessions[a->nsessions] = (session_rec_t){.sid = s->session_id,
                                                .last_seen = s->last_seen_ms,
                                                .app = (uint32_t)app,
                                                .build = (uint32_t)build,
                                                .host = (uint32_t)host,
                                                .live = s->live};
    index_t *x = &a->session_index;
    uint32_t i = (uint32_t)mix64(s->session_id) & (x->n - 1);
    while (x->slot[i])
        i = (i + 1) & (x->n - 1);
    x->slot[i] = ++a->nsessions;
    return 0;
}

static uint32_t group_hash(uint32_t app, uint32_t build, uint32_t path) {
    return (uint32_t)mix64((uint64_t)app << 42 ^ (uint64_t)build << 21 ^ path);
}

static uint32_t group_hash_of(const void *ud, uint32_t k) {
    const group_rec_t *g = &((const fleetagg_t *)ud)->groups[k];
    return group_hash(g->app, g->build, g->path);
}

/* The group's index, created if new; -1 out of memory. */
static int64_t group_of(fleetagg_t *a, uint32_t app, uint32_t build, uint32_t path) {
    index_t *x = &a->group_index;
    if (!index_reserve(x, a->ngroups, group_hash_of, a)) return -1;
    uint32_t i = group_hash(app, build, path) & (x->n - 1);
    for (; x->slot[i]; i = (i + 1) & (x->n - 1)) {
        const group_rec_t *g = &a->groups[x->slot[i] - 1];
        if (g->app == app && g->build == build && g->path == path) return x->slot[i] - 1;
    }
    size_t cap = a->groups_cap;
    if (!grow((void **)&a->groups, &cap, a->ngroups + 1, sizeof *a->groups)) return -1;
    a->groups_cap = (uint32_t)cap;
    a->groups[a->ngroups] = (group_rec_t){.app = app, .build = build, .path = path};
    x->slot[i] = a->ngroups + 1;
    return a->ngroups++;
}

int fleetagg_add_tag(fleetagg_t *a, const fleetagg_tag_t *t) {
    int64_t s = session_find(a, t->session_id);
    if (s < 0) return 0;
    int64_t path = intern(&a->strings, t->path);
    if (path < 0) return out_of_memory(a);
    const session_rec_t *rec = &a->sessions[s];
    int64_t g = group_of(a, rec->app, rec->build, (uint32_t)path);
    if (g < 0 || !grow((void **)&a->rows, &a->rows_cap, a->nrows + 1, sizeof *a->rows))
        return out_of_memory(a);
    a->groups[g].count++;
    a->rows[a->nrows++] = (row_t){.session = (uint32_t)s,
                                  .group = (uint32_t)g,
                                  .peak = t->peak_bytes,
                                  .budget = t->budget_hard,
                                  .avg = t->live_frames ? (double)t->live_sum / (double)t->live_frames : 0};
    return 0;
}

/* ---- the figures --------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int by_key(const void *a, const void *b) {
    const group_rec_t *x = a, *y = b;
    if (x->k_app != y->k_app) return x->k_app < y->k_app ? -1 : 1;
    if (x->k_build != y->k_build) return x->k_build < y->k_build ? -1 : 1;
    if (x->k_path != y->k_path) return x->k_path < y->k_path ? -1 : 1;
    return 0;
}

/* How bad a session is for a tag: its peak against its budget, or its
 * peak alone (scaled below every budgeted one) without a budget. Ties:
 * the smaller stored id (the signed order, as PostgreSQL sorts). */
static double badness(const sample_t *s) {
    return s->budget ? (double)s->peak / (double)s->budget : (double)s->peak * 1e-30;
}

static bool worse(const sample_t *x, const sample_t *y) {
    double p = badness(x), q = badness(y);
    if (p != q) return p > q;
    return (int64_t)x->sid < (int64_t)y->sid;
}

static void spread(double *values, size_t n, double out[3]) {
    qsort(values, n, sizeof *values, cmp_double);
    out[0] = fleetagg_percentile(values, n, 0.50);
    out[1] = fleetagg_percentile(values, n, 0.95);
    out[2] = n ? values[n - 1] : 0;
}

/* One group: its rows are order[0, n). */
static int hand_group(fleetagg_t *a, const group_rec_t *gr, const uint32_t *order, sample_t *samples,
                      double *values) {
    size_t n = gr->count;
    store_fleet_group_t g = {.app = a->strings.text[gr->app],
                             .build = a->strings.text[gr->build],
                             .path = a->strings.text[gr->path],
                             .sessions = n};
    sample_t worst[STORE_FLEET_WORST];
    for (size_t i = 0; i < n; i++) {
        const row_t *r = &a->rows[order[i]];
        const session_rec_t *s = &a->sessions[r->session];
        samples[i] = (sample_t){s->sid, r->peak, r->budget, r->avg, s->live, a->strings.text[s->host]};
        if (r->budget > g.budget_hard) g.budget_hard = r->budget;
        if (r->budget && r->peak > r->budget) g.over_budget++;
        values[i] = (double)r->peak;
        /* the worst few, kept in order as they come (no sort of them all) */
        uint32_t k = g.worst_count < STORE_FLEET_WORST ? g.worst_count++ : STORE_FLEET_WORST;
        while (k > 0 && worse(&samples[i], &worst[k - 1])) {
            if (k < STORE_FLEET_WORST) worst[k] = worst[k - 1];
            k--;
        }
        if (k < STORE_FLEET_WORST) worst[k] = samples[i];
    }
    spread(values, n, g.peak);
    for (size_t i = 0; i < n; i++)
        values[i] = samples[i].avg;
    spread(values, n, g.avg);
    for (uint32_t i = 0; i < g.worst_count; i++) {
        const sample_t *s = &worst[i];
        g.worst[i] = (store_fleet_worst_t){s->sid, s->peak, s->budget, s->avg, s->live, s->host};
    }
    return a->sink.group ? a->sink.group(a->sink.ud, &g) : 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One build: groups [lo, hi) of the sorted ones. host_seen: a stamp per
 * string id; hosts: room for the build's distinct hosts. */
static int hand_build(fleetagg_t *a, const group_rec_t *groups, size_t lo, size_t hi, const uint32_t *order,
                      uint32_t stamp, uint32_t *host_seen, const char **hosts) {
    store_fleet_build_t b = {.app = a->strings.text[groups[lo].app],
                             .build = a->strings.text[groups[lo].build]};
    uint32_t nhosts = 0;
    for (size_t g = lo; g < hi; g++) {
        for (uint32_t i = groups[g].start; i < groups[g].start + groups[g].count; i++) {
            session_rec_t *s = &a->sessions[a->rows[order[i]].session];
            if (s->build_stamp == stamp) continue;
            s->build_stamp = stamp;
            b.sessions++;
            if (s->last_seen > b.last_seen_ms) b.last_seen_ms = s->last_seen;
            if (host_seen[s->host] != stamp) {
                host_seen[s->host] = stamp;
                hosts[nhosts++] = a->strings.text[s->host];
            }
        }
    }
    qsort(hosts, nhosts, sizeof *hosts, by_name);
    b.hosts = nhosts;
    for (uint32_t i = 0; i < nhosts && i < STORE_FLEET_HOSTS; i++)
        b.host_names[b.host_names_count++] = hosts[i];
    return a->sink.build ? a->sink.build(a->sink.ud, &b) : 0;
}

int fleetagg_finish(fleetagg_t *a) {
    if (a->failed) return -1;
    size_t n = a->nrows;
    uint32_t *rank = ranks_of(&a->strings);
    group_rec_t *groups = malloc((a->ngroups ? a->ngroups : 1) * sizeof *groups);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order),
             *next = calloc(a->ngroups ? a->ngroups : 1, sizeof *next);
    sample_t *samples = malloc((n ? n : 1) * sizeof *samples);
    double *values = malloc((n ? n : 1) * sizeof *values);
    uint32_t *host_seen = calloc(a->strings.n ? a->strings.n : 1, sizeof *host_seen);
    const char **hosts = malloc((a->nsessions ? a->nsessions : 1) * sizeof *hosts);
    int rc = rank && groups && order && next && samples && values && host_seen && hosts ? 0 : -1;
    if (rc == 0) {
        /* The groups in byte order; each one's rows together (a counting
         * sort: where each group's rows begin, then the rows in place). */
        uint32_t start = 0;
        for (uint32_t g = 0; g < a->ngroups; g++) {
            group_rec_t *x = &a->groups[g];
            x->k_app = rank[x->app];
            x->k_build = rank[x->build];
            x->k_path = rank[x->path];
            x->start = start;
            next[g] = start;
            start += x->count;
        }
        for (size_t i = 0; i < n; i++)
            order[next[a->rows[i].group]++] = (uint32_t)i;
        if (a->ngroups) memcpy(groups, a->groups, a->ngroups * sizeof *groups); /* NULL when none */
        qsort(groups, a->ngroups, sizeof *groups, by_key);
    }
    uint32_t stamp = 0;
    for (size_t b = 0; rc == 0 && b < a->ngroups;) {
        size_t e = b;
        while (e < a->ngroups && groups[e].k_app == groups[b].k_app && groups[e].k_build == groups[b].k_build)
            e++;
        for (size_t g = b; rc == 0 && g < e; g++)
            rc = hand_group(a, &groups[g], order + groups[g].start, samples, values);
        if (rc == 0) rc = hand_build(a, groups, b, e, order, ++stamp, host_seen, hosts);
        b = e;
    }
    free(rank);
    free(groups);
    free(order);
    free(next);
    free(samples);
    free(values);
    free(host_seen);
    free(hosts);
    return rc;
}

fleetagg_t *fleetagg_create(const store_fleet_sink_t *sink) {
    fleetagg_t *a = calloc(1, sizeof *a);
    if (a) a->sink = *sink;
    return a;
}

void fleetagg_destroy(fleetagg_t *a) {
    if (!a) return;
    for (uint32_t i = 0; i < a->strings.n; i++)
        free(a->strings.text[i]);
    free(a->strings.text);
    free(a->strings.index.slot);
    free(a->sessions);
    free(a->session_index.slot);
    free(a->rows);
    free(a->groups);
    free(a->group_index.slot);
    free(a);
}
