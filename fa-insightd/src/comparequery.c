/* comparequery.c — see comparequery.h. */
#include "comparequery.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "u64map.h" /* libfa-compare */

/* One side being read. */
typedef struct side {
    summary_acc_t *acc;
    fa_proto_space_t *space; /* decoding storage for one frame */
    u64map_t seen_sites;     /* ids named by the frames (value 1) */
    uint32_t *site_ids;
    size_t nsites, sites_cap;
    uint64_t frames;
    bool oom, bad_blob;
} side_t;

static int collect_site(void *ud, const fa_proto_site_row_t *row) {
    side_t *s = ud;
    if (!row->site_id || u64map_get(&s->seen_sites, row->site_id) != U64MAP_NONE) return 0;
    if (s->nsites == s->sites_cap) {
        size_t cap = s->sites_cap ? s->sites_cap * 2 : 256;
        uint32_t *ids = realloc(s->site_ids, cap * sizeof *ids);
        if (!ids) return (s->oom = true), 1;
        s->site_ids = ids;
        s->sites_cap = cap;
    }
    if (u64map_put(&s->seen_sites, row->site_id, 1) != 0) return (s->oom = true), 1;
    s->site_ids[s->nsites++] = row->site_id;
    return 0;
}

/* Pass 1: the site ids of the frames. */
static int frame_sites(void *ud, const store_frame_t *f) {
    side_t *s = ud;
    uint32_t total;
    if (pack_frame_each_site(f->blob, f->len, &total, collect_site, s) != 0) s->bad_blob = true;
    return s->oom;
}

static int define_site(void *ud, const site_info_t *si) {
    side_t *s = ud;
    summary_acc_site(s->acc, si->id, si->line, si->kind, si->file, si->function);
    return 0;
}

/* Pass 2: every row of the frames. */
static int frame_rows(void *ud, const store_frame_t *f) {
    side_t *s = ud;
    fa_proto_storage_t st = fa_proto_storage_of(s->space);
    fa_proto_frame_t fr;
    if (pack_unframe(f->blob, f->len, &fr, &st) != 0) {
        s->bad_blob = true; /* counted, skipped: the rest still compares */
        return 0;
    }
    s->frames++;
    if (summary_acc_frame(s->acc, fr.tags, fr.tag_count, fr.sites, fr.site_count) != 0) return (s->oom = true), 1;
    return 0;
}

static void side_free(side_t *s) {
    summary_acc_free(s->acc);
    free(s->space);
    free(s->site_ids);
    u64map_free(&s->seen_sites);
}

/* Reads one session into out. STORE_OK, a store error, or STORE_FAILED
 * with *oom. */
static int read_side(store_reader_t *r, const session_view_t *v, uint32_t max_frames, summary_t *out,
                     bool *oom) {
    side_t s = {.acc = summary_acc_new(), .space = malloc(sizeof(fa_proto_space_t))};
    memset(out, 0, sizeof *out);
    int rc = STORE_FAILED;
    if (!s.acc || !s.space) {
        *oom = true;
        goto done;
    }
    const session_info_t *i = &v->info;
    for (uint32_t t = 0; t < v->tag_count; t++)
        if (v->tags[t].defined) summary_acc_tag(s.acc, v->tags[t].id, v->tags[t].parent_id, v->tags[t].path);
    store_frames_query_t fq = {.session_id = i->id, .to_ms = UINT64_MAX, .newest = true, .limit = max_frames};
    if ((rc = store_read_frames(r, &fq, frame_sites, &s)) != STORE_OK || s.oom) goto done;
    if ((rc = store_read_sites(r, i->id, s.site_ids, s.nsites, define_site, &s)) != STORE_OK) goto done;
    if ((rc = store_read_frames(r, &fq, frame_rows, &s)) != STORE_OK || s.oom) goto done;
    if (summary_acc_finish(s.acc, out) != 0) {
        s.oom = true;
        goto done;
    }
    run_info_t *info = &out->info;
    snprintf(info->session, sizeof info->session, "%016" PRIx64, i->id);
    snprintf(info->source, sizeof info->source, "session %s", info->session);
    snprintf(info->app, sizeof info->app, "%s", i->app);
    snprintf(info->build, sizeof info->build, "%s", i->build_id);
    snprintf(info->host, sizeof info->host, "%s", i->host);
    snprintf(info->label, sizeof info->label, "%s", i->label);
    info->frames = s.frames;
    info->ended = !i->live;
    info->skipped = s.bad_blob;
done:
    if (s.oom) {
        *oom = true;
        rc = STORE_FAILED;
    }
    side_free(&s);
    return rc;
}

static void side_fields(cJSON *side, const session_view_t *v, const summary_t *s, uint32_t max_frames) {
    cJSON_AddNumberToObject(side, "frames_used", (double)s->info.frames);
    cJSON_AddNumberToObject(side, "frames_total", (double)v->info.frames);
    cJSON_AddBoolToObject(side, "truncated", v->info.frames > max_frames);
    cJSON_AddBoolToObject(side, "live", v->info.live);
    cJSON_AddBoolToObject(side, "call_sites", s->sites);
}

void query_compare(store_reader_t *r, const compare_query_t *q, query_result_t *res) {
    summary_t sides[2];
    const session_view_t *views[2] = {q->base, q->candidate};
    bool oom = false;
    int rc = STORE_OK;
    memset(sides, 0, sizeof sides);
    for (int k = 0; k < 2 && rc == STORE_OK && !oom; k++)
        rc = read_side(r, views[k], q->max_frames, &sides[k], &oom);
    compare_rules_t *rules = NULL;
    compare_result_t cr = {0};
    cJSON *doc = NULL;
    char err[128];
    if (oom) {
        query_fail(res, 500, "out_of_memory", "out of memory comparing the sessions");
    } else if (rc != STORE_OK) {
        query_store_failed(res, r, rc);
    } else if (compare_rules_load(NULL, &q->flags, q->set_growth, q->set_bytes, q->set_allocs, &rules, err,
                                  sizeof err) != 0 ||
               compare_run(&sides[0], &sides[1], rules, &cr) != 0) {
        query_fail(res, 500, "out_of_memory", "out of memory comparing the sessions");
    } else {
        /* The first `limit` rows in compare's order; the counts
         * (regressions, ignored) stay those of every row. */
        size_t total = cr.count;
        if (cr.count > q->limit) cr.count = q->limit;
        doc = compare_result_json(&cr);
        cr.count = total;
    }
    if (res->status) {
        /* failed above */
    } else if (!doc) {
        query_fail(res, 500, "out_of_memory", "out of memory comparing the sessions");
    } else {
        side_fields(cJSON_GetObjectItemCaseSensitive(doc, "base"), q->base, &sides[0], q->max_frames);
        side_fields(cJSON_GetObjectItemCaseSensitive(doc, "candidate"), q->candidate, &sides[1], q->max_frames);
        cJSON_AddNumberToObject(doc, "frames_limit", q->max_frames);
        cJSON_AddNumberToObject(doc, "rows_total", (double)cr.count);
        cJSON_AddBoolToObject(doc, "rows_truncated", cr.count > q->limit);
        char note[160];
        compare_sites_note(&cr, note, sizeof note);
        cJSON_AddStringToObject(doc, "sites_note", note);
        res->body = cJSON_PrintUnformatted(doc);
        if (res->body) {
            res->len = strlen(res->body);
            res->status = 200;
        } else {
            query_fail(res, 500, "out_of_memory", "out of memory");
        }
    }
    cJSON_Delete(doc);
    compare_result_free(&cr);
    compare_rules_free(rules);
    summary_free(&sides[0]);
    summary_free(&sides[1]);
}
