/* summary.c — a run summed up per tag and call site (summary.h):
 * log-linear histograms of the per-frame live bytes for the percentiles,
 * sums for the means. */
#include "summary.h"
#include "sitenames.h"
#include "u64map.h"

#include <inttypes.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *label;
    bool bytes;
} metrics[M_COUNT] = {
    [M_PEAK] = {"peak", "peak", true},
    [M_P50] = {"p50", "p50 live", true},
    [M_P95] = {"p95", "p95 live", true},
    [M_P99] = {"p99", "p99 live", true},
    [M_FRAME_BYTES] = {"frame_bytes_per_frame", "frame B/frame", true},
    [M_ALLOCS] = {"allocs_per_frame", "allocs/frame", false},
};

const char *summary_metric_name(summary_metric m) {
    return m < M_COUNT ? metrics[m].name : "?";
}
const char *summary_metric_label(summary_metric m) {
    return m < M_COUNT ? metrics[m].label : "?";
}
bool summary_metric_is_bytes(summary_metric m) {
    return m < M_COUNT && metrics[m].bytes;
}
const char *summary_kind_name(summary_kind k) {
    return k == SUMMARY_SITE ? "site" : "tag";
}

/* ------------------------------------------------------------------------ */
/* Histogram: exact below 256, then 128 steps per power of two               */
/* ------------------------------------------------------------------------ */

#define HIST_LINEAR 256u
#define HIST_STEPS 128u

typedef struct hist {
    uint32_t lo, n; /* counts[i] is bucket lo + i */
    uint32_t *counts;
    uint64_t total, min, max;
} hist_t;

static uint32_t bucket_of(uint64_t v) {
    if (v < HIST_LINEAR) return (uint32_t)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
    uint32_t sub = (uint32_t)(v >> (e - 7u)) & (HIST_STEPS - 1u);
    return HIST_LINEAR + (e - 8u) * HIST_STEPS + sub;
}

/* The value a bucket stands for: itself below 256, else its middle. */
static uint64_t bucket_value(uint32_t i) {
    if (i < HIST_LINEAR) return i;
    unsigned e = 8u + (i - HIST_LINEAR) / HIST_STEPS;
    uint64_t sub = (i - HIST_LINEAR) % HIST_STEPS;
    uint64_t low = (HIST_STEPS + sub) << (e - 7u), width = 1ull << (e - 7u);
    return low + width / 2;
}

/* Counts v, count times. Returns -1 when out of memory. */
static int hist_add(hist_t *h, uint64_t v, uint64_t count) {
    if (!count) return 0;
    uint32_t b = bucket_of(v);
    if (!h->n || b < h->lo || b >= h->lo + h->n) {
        uint32_t lo = h->n ? (b < h->lo ? b : h->lo) : b;
        uint32_t hi = h->n ? (b >= h->lo + h->n ? b + 1 : h->lo + h->n) : b + 1;
        /* Some room on the side that grew, so a drifting value does not
         * reallocate every frame. */
        uint32_t slack = (hi - lo) / 2 + 8;
        if (h->n && b < h->lo) lo = lo > slack ? lo - slack : 0;
        else hi += slack;
        uint32_t *c = calloc(hi - lo, sizeof *c);
        if (!c) return -1;
        if (h->n) memcpy(c + (h->lo - lo), h->counts, h->n * sizeof *c);
        free(h->counts);
        h->counts = c;
        h->lo = lo;
        h->n = hi - lo;
    }
    if (!h->total || v < h->min) h->min = v;
    if (!h->total || v > h->max) h->max = v;
    h->counts[b - h->lo] += (uint32_t)count;
    h->total += count;
    return 0;
}

/* The nearest-rank q-quantile. */
static uint64_t hist_quantile(const hist_t *h, double q) {
    if (!h->total) return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < h->n; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(h->lo + i);
            return v < h->min ? h->min : v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ------------------------------------------------------------------------ */
/* Accumulating a run                                                        */
/* ------------------------------------------------------------------------ */

typedef struct tag_acc {
    bool defined, seen;
    uint16_t parent;
    char *path;
    hist_t live;
    uint64_t samples, peak, allocs;
    double frame_bytes;
    /* Subtree sums, at the end. */
    double sub_frame_bytes, sub_allocs;
} tag_acc_t;

/* A site row of the summary: the (site, tag) pairs whose key is the same
 * (normally one), summed per frame before they are counted. */
typedef struct site_acc {
    char *key, *tag;
    hist_t live;
    uint64_t samples, peak, allocs, bytes;
    uint64_t cur_live, cur_bytes, cur_count; /* this frame's, while it is read */
    bool touched;
} site_acc_t;

struct summary_acc {
    tag_acc_t *tags[65536];
    uint64_t frames;
    bool oom;
    /* Call sites. */
    bool sites;              /* some frame carried site rows */
    sitenames_t names;
    u64map_t slot_of_pair; /* (site id << 16 | tag id) + 1 -> slots[] */
    u64map_t slot_of_key;  /* key_hash(key) -> slots[] */
    site_acc_t *slots;
    size_t nslots, slots_cap;
    uint32_t *touched; /* slots of the current frame */
    size_t ntouched, touched_cap;
};
typedef struct summary_acc acc_t;

summary_acc_t *summary_acc_new(void) {
    return calloc(1, sizeof(acc_t));
}

static tag_acc_t *acc_tag(acc_t *a, uint16_t id) {
    if (!a->tags[id] && !(a->tags[id] = calloc(1, sizeof *a->tags[id]))) a->oom = true;
    return a->tags[id];
}

/* Grows a vector to hold one more element. */
static int grow(void **v, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*v, c * size);
    if (!p) return -1;
    *v = p;
    *cap = c;
    return 0;
}

void summary_acc_site(summary_acc_t *a, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                      const char *function) {
    if (sitenames_define(&a->names, id, line, kind, file, function) != 0) a->oom = true;
}

static uint64_t key_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h | 1; /* never 0, the empty slot */
}

/* The slot of a (site, tag) pair: found by the pair, else by its key
 * (pairs of one key share it), else new. Beyond SUMMARY_SITES_MAX slots a
 * pair joins its tag's "other sites". U64MAP_NONE when out of memory. */
static uint32_t acc_slot(acc_t *a, uint32_t site, uint16_t tag) {
    uint64_t pair = ((uint64_t)site << 16 | tag) + 1;
    uint32_t at = u64map_get(&a->slot_of_pair, pair);
    if (at != U64MAP_NONE) return at;
    tag_acc_t *t = acc_tag(a, tag);
    if (!t) return U64MAP_NONE;
    char name[SITENAMES_NAME_MAX], num[16];
    snprintf(num, sizeof num, "#%u", tag);
    const char *tpath = t->defined ? t->path : num;
    sitenames_format(&a->names, site, name, sizeof name);
    size_t kl = strlen(tpath) + strlen(name) + 2;
    char *key = malloc(kl);
    if (!key) return U64MAP_NONE;
    snprintf(key, kl, "%s;%s", tpath, name);
    /* Another pair with this key (the same line under another id)? By
     * the key's hash; a collision of hashes searches every slot. */
    uint64_t h = key_hash(key);
    at = u64map_get(&a->slot_of_key, h);
    if (at != U64MAP_NONE && strcmp(a->slots[at].key, key) != 0) {
        at = U64MAP_NONE;
        for (uint32_t i = 0; i < a->nslots && at == U64MAP_NONE; i++)
            if (strcmp(a->slots[i].key, key) == 0) at = i;
    }
    if (at == U64MAP_NONE && a->nslots >= SUMMARY_SITES_MAX && site != 0) {
        free(key);
        at = acc_slot(a, 0, tag);
        if (at != U64MAP_NONE && u64map_put(&a->slot_of_pair, pair, at) != 0) return U64MAP_NONE;
        return at;
    }
    if (at == U64MAP_NONE) {
        if (grow((void **)&a->slots, &a->slots_cap, a->nslots, sizeof *a->slots) != 0) {
            free(key);
            return U64MAP_NONE;
        }
        at = (uint32_t)a->nslots++;
        a->slots[at] = (site_acc_t){.key = key, .tag = strdup(tpath)};
        if (!a->slots[at].tag) return U64MAP_NONE;
        if (u64map_get(&a->slot_of_key, h) == U64MAP_NONE && u64map_put(&a->slot_of_key, h, at) != 0) return U64MAP_NONE;
    } else {
        free(key);
    }
    return u64map_put(&a->slot_of_pair, pair, at) == 0 ? at : U64MAP_NONE;
}

void summary_acc_tag(summary_acc_t *a, uint16_t id, uint16_t parent, const char *path) {
    tag_acc_t *t = acc_tag(a, id);
    if (!t) return;
    char *copy = strdup(path);
    if (!copy) {
        a->oom = true;
        return;
    }
    free(t->path);
    t->path = copy;
    t->parent = parent;
    t->defined = true;
}

static int acc_frame_sites(acc_t *a, const fa_proto_site_row_t *sites, uint32_t site_count) {
    if (site_count) a->sites = true;
    for (uint32_t i = 0; i < site_count; i++) {
        const fa_proto_site_row_t *r = &sites[i];
        uint32_t at = acc_slot(a, r->site_id, r->tag_id);
        if (at == U64MAP_NONE) return -1;
        site_acc_t *s = &a->slots[at];
        if (!s->touched) {
            if (grow((void **)&a->touched, &a->touched_cap, a->ntouched, sizeof *a->touched) != 0) return -1;
            a->touched[a->ntouched++] = at;
            s->touched = true;
        }
        s->cur_live += r->live_bytes;
        s->cur_bytes += r->bytes;
        s->cur_count += r->count;
    }
    for (size_t i = 0; i < a->ntouched; i++) {
        site_acc_t *s = &a->slots[a->touched[i]];
        if (hist_add(&s->live, s->cur_live, 1) != 0) return -1;
        if (s->cur_live > s->peak) s->peak = s->cur_live;
        s->samples++;
        s->bytes += s->cur_bytes;
        s->allocs += s->cur_count;
        s->cur_live = s->cur_bytes = s->cur_count = 0;
        s->touched = false;
    }
    a->ntouched = 0;
    return 0;
}

int summary_acc_frame(summary_acc_t *a, const fa_proto_tag_stat_t *tags, uint32_t tag_count,
                      const fa_proto_site_row_t *sites, uint32_t site_count) {
    if (a->oom) return -1;
    a->frames++;
    for (uint32_t i = 0; i < tag_count; i++) {
        const fa_proto_tag_stat_t *r = &tags[i];
        tag_acc_t *t = acc_tag(a, r->id);
        if (!t) return -1;
        t->seen = true;
        t->samples++;
        if (hist_add(&t->live, r->live_bytes, 1) != 0) return -1;
        uint64_t peak = r->peak_bytes > r->live_bytes ? r->peak_bytes : r->live_bytes;
        if (peak > t->peak) t->peak = peak;
        t->frame_bytes += (double)r->frame_bytes;
        t->allocs += r->alloc_count;
    }
    return acc_frame_sites(a, sites, site_count);
}

static int row_cmp(const void *x, const void *y) {
    const summary_row_t *a = x, *b = y;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Builds the rows from the accumulated tags. */
static int acc_rows(acc_t *a, summary_t *out) {
    size_t n = a->nslots;
    for (uint32_t id = 0; id < 65536; id++)
        if (a->tags[id] && (a->tags[id]->seen || a->tags[id]->defined)) n++;
    /* Self sums go to the tag and each ancestor (the root is its own
     * parent; a cycle or a deep chain stops after 64 steps). */
    for (uint32_t id = 0; id < 65536; id++) {
        tag_acc_t *t = a->tags[id];
        if (!t || !t->seen) continue;
        uint32_t cur = id;
        for (int depth = 0; depth < 64; depth++) {
            tag_acc_t *c = a->tags[cur];
            if (!c) break;
            c->sub_frame_bytes += t->frame_bytes;
            c->sub_allocs += (double)t->allocs;
            if (!c->defined || c->parent == cur) break;
            cur = c->parent;
        }
    }
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    if (!out->rows) return -1;
    double frames = a->frames ? (double)a->frames : 1.0;
    for (uint32_t id = 0; id < 65536; id++) {
        tag_acc_t *t = a->tags[id];
        if (!t || !(t->seen || t->defined)) continue;
        /* Frames before the tag existed (or that did not carry it) are 0. */
        if (a->frames > t->samples && hist_add(&t->live, 0, a->frames - t->samples) != 0) return -1;
        char name[16];
        snprintf(name, sizeof name, "#%u", id);
        summary_row_t *r = &out->rows[out->count++];
        r->kind = SUMMARY_TAG;
        r->key = strdup(t->defined ? t->path : name);
        r->tag = strdup(r->key ? r->key : "");
        if (!r->key || !r->tag) return -1;
        r->v[M_PEAK] = (double)t->peak;
        r->v[M_P50] = (double)hist_quantile(&t->live, 0.50);
        r->v[M_P95] = (double)hist_quantile(&t->live, 0.95);
        r->v[M_P99] = (double)hist_quantile(&t->live, 0.99);
        /* Rounded as a baseline keeps them, so that a baseline read back
         * compares equal to the summary it came from. */
        r->v[M_FRAME_BYTES] = round(t->sub_frame_bytes / frames);
        r->v[M_ALLOCS] = round(t->sub_allocs / frames * 100.0) / 100.0;
    }
    for (size_t i = 0; i < a->nslots; i++) {
        site_acc_t *sa = &a->slots[i];
        if (a->frames > sa->samples && hist_add(&sa->live, 0, a->frames - sa->samples) != 0) return -1;
        summary_row_t *r = &out->rows[out->count++];
        r->kind = SUMMARY_SITE;
        r->key = sa->key;
        r->tag = sa->tag;
        sa->key = sa->tag = NULL; /* the row owns them now */
        r->v[M_PEAK] = (double)sa->peak;
        r->v[M_P50] = (double)hist_quantile(&sa->live, 0.50);
        r->v[M_P95] = (double)hist_quantile(&sa->live, 0.95);
        r->v[M_P99] = (double)hist_quantile(&sa->live, 0.99);
        r->v[M_FRAME_BYTES] = round((double)sa->bytes / frames);
        r->v[M_ALLOCS] = round((double)sa->allocs / frames * 100.0) / 100.0;
    }
    out->sites = a->sites;
    qsort(out->rows, out->count, sizeof *out->rows, row_cmp);
    return 0;
}

void summary_acc_free(summary_acc_t *a) {
    if (!a) return;
    for (uint32_t id = 0; id < 65536; id++) {
        if (!a->tags[id]) continue;
        free(a->tags[id]->path);
        free(a->tags[id]->live.counts);
        free(a->tags[id]);
    }
    sitenames_free(&a->names);
    for (size_t i = 0; i < a->nslots; i++) {
        free(a->slots[i].key);
        free(a->slots[i].tag);
        free(a->slots[i].live.counts);
    }
    free(a->slots);
    free(a->touched);
    u64map_free(&a->slot_of_pair);
    u64map_free(&a->slot_of_key);
    free(a);
}

int summary_acc_finish(summary_acc_t *a, summary_t *out) {
    out->rows = NULL;
    out->count = 0;
    if (a->oom || acc_rows(a, out) != 0) {
        summary_free(out);
        return -1;
    }
    return 0;
}

void summary_free(summary_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->count; i++) {
        free(s->rows[i].key);
        free(s->rows[i].tag);
    }
    free(s->rows);
    s->rows = NULL;
    s->count = 0;
}

void summary_sort(summary_t *s) {
    qsort(s->rows, s->count, sizeof *s->rows, row_cmp);
}

const summary_row_t *summary_find(const summary_t *s, summary_kind kind, const char *key) {
    summary_row_t probe = {.kind = kind, .key = (char *)key};
    return bsearch(&probe, s->rows, s->count, sizeof *s->rows, row_cmp);
}

