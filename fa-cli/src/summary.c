/* summary.c — a run summed up per tag (summary.h): log-linear histograms of
 * the per-frame live bytes for the percentiles, sums for the means; and the
 * baseline file that keeps a summary in git. */
#include "summary.h"
#include "sitenames.h"
#include "u64map.h"

#include <inttypes.h>
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

typedef struct acc {
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
} acc_t;

static acc_t *acc_new(void) {
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

static void on_site(void *user, uint32_t id, uint32_t line, uint8_t kind, const char *file, const char *function) {
    acc_t *a = user;
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

static void on_tag(void *user, uint16_t id, uint16_t parent, const char *path) {
    acc_t *a = user;
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

static int acc_frame_sites(acc_t *a, const run_frame_t *f) {
    if (f->site_count) a->sites = true;
    for (uint32_t i = 0; i < f->site_count; i++) {
        const fa_proto_site_row_t *r = &f->sites[i];
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

static int on_frame(void *user, const run_frame_t *f) {
    acc_t *a = user;
    a->frames++;
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *r = &f->tags[i];
        tag_acc_t *t = acc_tag(a, r->id);
        if (!t) return CLI_EXIT_SERVER;
        t->seen = true;
        t->samples++;
        if (hist_add(&t->live, r->live_bytes, 1) != 0) return CLI_EXIT_SERVER;
        uint64_t peak = r->peak_bytes > r->live_bytes ? r->peak_bytes : r->live_bytes;
        if (peak > t->peak) t->peak = peak;
        t->frame_bytes += (double)r->frame_bytes;
        t->allocs += r->alloc_count;
    }
    return acc_frame_sites(a, f) == 0 ? 0 : CLI_EXIT_SERVER;
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

static void acc_free(acc_t *a) {
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

int summary_of_run(const cli_t *cli, const char *spec, summary_t *out) {
    memset(out, 0, sizeof *out);
    acc_t *a = acc_new();
    if (!a) return CLI_EXIT_SERVER;
    run_visitor_t v = {.user = a, .on_tag = on_tag, .on_site = on_site, .on_frame = on_frame};
    int rc = run_read(cli, spec, &v, &out->info);
    if (rc == 0 && (a->oom || acc_rows(a, out) != 0)) {
        fprintf(cli->err, CLI_NAME " %s: out of memory summing up %s\n", cli->command, out->info.source);
        rc = CLI_EXIT_SERVER;
    }
    acc_free(a);
    if (rc) summary_free(out);
    return rc;
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

const summary_row_t *summary_find(const summary_t *s, summary_kind kind, const char *key) {
    summary_row_t probe = {.kind = kind, .key = (char *)key};
    return bsearch(&probe, s->rows, s->count, sizeof *s->rows, row_cmp);
}

/* ------------------------------------------------------------------------ */
/* Baseline files                                                            */
/* ------------------------------------------------------------------------ */

#define BASELINE_FORMAT "framealloc-baseline"
/* 2: call sites (site rows and "call_sites"); 1 (tags only) still reads. */
#define BASELINE_VERSION 2


void summary_write_baseline(FILE *out, const summary_t *s) {
    fprintf(out, "{\n  \"format\": \"" BASELINE_FORMAT "\",\n  \"version\": %d,\n  \"app\": ", BASELINE_VERSION);
    render_json_string(out, s->info.app);
    fputs(",\n  \"build\": ", out);
    render_json_string(out, s->info.build);
    fprintf(out, ",\n  \"frames\": %" PRIu64 ",\n  \"call_sites\": %s,\n  \"rows\": [\n", s->info.frames,
            s->sites ? "true" : "false");
    for (size_t i = 0; i < s->count; i++) {
        const summary_row_t *r = &s->rows[i];
        fputs("    {", out);
        if (r->kind == SUMMARY_SITE) {
            fputs("\"site\": ", out);
            render_json_string(out, r->key + strlen(r->tag) + 1);
            fputs(", ", out);
        }
        fputs("\"tag\": ", out);
        render_json_string(out, r->tag);
        for (int m = 0; m < M_COUNT; m++) {
            if (summary_metric_is_bytes(m))
                fprintf(out, ", \"%s\": %.0f", summary_metric_name(m), r->v[m]);
            else
                fprintf(out, ", \"%s\": %.2f", summary_metric_name(m), r->v[m]);
        }
        fprintf(out, "}%s\n", i + 1 < s->count ? "," : "");
    }
    fputs("  ]\n}\n", out);
}

static char *sanitised_dup(const char *s) {
    char *c = strdup(s ? s : "");
    if (c) escape_sanitize(c);
    return c;
}

int summary_read_baseline(const char *text, size_t len, summary_t *out, char *err, size_t errcap) {
    memset(out, 0, sizeof *out);
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) {
        snprintf(err, errcap, "not JSON (near byte %zu)",
                 cJSON_GetErrorPtr() ? (size_t)(cJSON_GetErrorPtr() - text) : (size_t)0);
        return -1;
    }
    int rc = -1;
    const char *format = jv_str(doc, "format", NULL);
    const cJSON *rows = jv_array(doc, "rows");
    if (!format || strcmp(format, BASELINE_FORMAT) != 0) {
        snprintf(err, errcap, "not a baseline file (\"format\" is not \"" BASELINE_FORMAT "\")");
        goto out;
    }
    uint64_t version = jv_u64(doc, "version", 0);
    if (version < 1 || version > BASELINE_VERSION) {
        snprintf(err, errcap, "baseline version %" PRIu64 " is not supported (this fa-cli reads versions 1 to %d)",
                 version, BASELINE_VERSION);
        goto out;
    }
    out->baseline_version = (int)version;
    /* Version 1 was saved before call sites: tags only. */
    out->sites = version >= 2 && jv_bool(doc, "call_sites", false);
    if (!rows) {
        snprintf(err, errcap, "no \"rows\" array");
        goto out;
    }
    snprintf(out->info.source, sizeof out->info.source, "baseline");
    escape_sanitize_copy(out->info.app, sizeof out->info.app, jv_str(doc, "app", ""), strlen(jv_str(doc, "app", "")));
    escape_sanitize_copy(out->info.build, sizeof out->info.build, jv_str(doc, "build", ""),
                         strlen(jv_str(doc, "build", "")));
    out->info.frames = jv_u64(doc, "frames", 0);
    size_t n = (size_t)cJSON_GetArraySize(rows), i = 0;
    out->rows = calloc(n ? n : 1, sizeof *out->rows);
    if (!out->rows) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        const char *tag = jv_str(r, "tag", NULL), *site = jv_str(r, "site", NULL);
        if (!tag) {
            snprintf(err, errcap, "row %zu has no \"tag\"", i + 1);
            goto out;
        }
        summary_row_t *row = &out->rows[out->count++];
        row->kind = site ? SUMMARY_SITE : SUMMARY_TAG;
        row->tag = sanitised_dup(tag);
        if (site) {
            size_t kl = strlen(tag) + strlen(site) + 2;
            if ((row->key = malloc(kl))) snprintf(row->key, kl, "%s;%s", tag, site);
            if (row->key) escape_sanitize(row->key);
        } else {
            row->key = sanitised_dup(tag);
        }
        if (!row->tag || !row->key) {
            snprintf(err, errcap, "out of memory");
            goto out;
        }
        /* A metric this version does not know is ignored; one it knows but
         * the file lacks is not compared (NAN). */
        for (int m = 0; m < M_COUNT; m++) {
            const cJSON *x = jv_get(r, summary_metric_name(m));
            row->v[m] = cJSON_IsNumber(x) && x->valuedouble >= 0 ? x->valuedouble : NAN;
        }
        i++;
    }
    qsort(out->rows, out->count, sizeof *out->rows, row_cmp);
    for (size_t k = 1; k < out->count; k++)
        if (row_cmp(&out->rows[k - 1], &out->rows[k]) == 0) {
            snprintf(err, errcap, "the %s '%s' appears twice", summary_kind_name(out->rows[k].kind),
                     out->rows[k].key);
            goto out;
        }
    rc = 0;
out:
    cJSON_Delete(doc);
    if (rc) summary_free(out);
    return rc;
}
