/* storerow.c — rows into records, for both stores (see storerow.h). */
#include "storerow.h"

#include <stdio.h>
#include <string.h>

static uint64_t u64(const storerow_t *r, int col) {
    return (uint64_t)r->src->i64(r->res, r->row, col);
}
static int64_t i64(const storerow_t *r, int col) {
    return r->src->i64(r->res, r->row, col);
}
static bool is_null(const storerow_t *r, int col) {
    return r->src->is_null(r->res, r->row, col);
}
static const char *text(const storerow_t *r, int col) {
    return r->src->text(r->res, r->row, col);
}
static void text_into(const storerow_t *r, int col, char *dst, size_t cap) {
    const char *t = text(r, col);
    snprintf(dst, cap, "%s", t ? t : "");
}

void storerow_session(const storerow_t *r, int c, session_info_t *s) {
    memset(s, 0, sizeof *s);
    s->id = u64(r, c + 0);
    text_into(r, c + 1, s->app, sizeof s->app);
    text_into(r, c + 2, s->label, sizeof s->label);
    text_into(r, c + 3, s->host, sizeof s->host);
    text_into(r, c + 4, s->build_id, sizeof s->build_id);
    s->pid = (uint32_t)u64(r, c + 5);
    s->lib_version = (uint32_t)u64(r, c + 6);
    s->start_unix_ns = u64(r, c + 7);
    s->start_mono_ns = u64(r, c + 8);
    s->have_hello = i64(r, c + 9) != 0;
    s->start_valid =
        s->have_hello && s->start_unix_ns > 0 && s->start_unix_ns / 1000000u < 9007199254740991ull;
    s->first_ms = u64(r, c + 10);
    s->last_ms = u64(r, c + 11);
    s->ended_ms = u64(r, c + 12);
    s->live = is_null(r, c + 12);
    s->end_reason = view_end_reason(text(r, c + 13));
    s->frames = u64(r, c + 14);
    s->last_frame = u64(r, c + 15);
    s->gaps = u64(r, c + 16);
    s->agent_dropped = u64(r, c + 17);
    s->last_seen_ms = u64(r, c + 18);
    s->next_seq = u64(r, c + 19);
    s->duplicates = u64(r, c + 20);
    s->rows_rejected = u64(r, c + 21);
    s->skew_known = !is_null(r, c + 22);
    s->clock_skew_ms = i64(r, c + 22);
}

void storerow_tag(const storerow_t *r, tag_info_t *t) {
    memset(t, 0, sizeof *t);
    t->id = (uint16_t)i64(r, 0);
    t->parent_id = (uint16_t)i64(r, 1);
    t->path = text(r, 2);
    if (!t->path) t->path = "";
    t->defined = i64(r, 3) != 0;
    t->budget_soft = u64(r, 4);
    t->budget_hard = u64(r, 5);
    t->live_bytes = u64(r, 6);
    t->peak_bytes = u64(r, 7);
    t->live_sum = u64(r, 8);
    t->live_frames = u64(r, 9);
    t->seen = t->live_bytes || t->peak_bytes;
}

void storerow_alert(const storerow_t *r, alert_row_t *a) {
    memset(a, 0, sizeof *a);
    a->id = i64(r, 0);
    a->session_id = u64(r, 1);
    a->tag_id = (uint16_t)i64(r, 2);
    text_into(r, 3, a->path, sizeof a->path);
    const char *level = text(r, 4);
    a->level = level && !strcmp(level, "critical") ? "critical" : "warning";
    a->raised_ms = u64(r, 5);
    a->raised_bytes = u64(r, 6);
    a->peak_bytes = u64(r, 7);
    a->budget_hard = u64(r, 8);
    if (!is_null(r, 9)) {
        a->cleared_ms = u64(r, 9);
        a->clear_reason = view_clear_reason(text(r, 10));
        if (!a->clear_reason) a->clear_reason = "unknown";
    }
}

void storerow_finding(const storerow_t *r, bool summary, uint64_t session_id, store_finding_row_t *x) {
    memset(x, 0, sizeof *x);
    x->f.session_id = session_id;
    /* summary: code, tag_id, kind, frames, count_max, value_max, first,
     * last, path; otherwise key, t_ms, then the same up to value_max, path */
    int c = summary ? 0 : 2;
    if (!summary) {
        x->key = i64(r, 0);
        x->f.t_ms = u64(r, 1);
    }
    x->f.code = (uint16_t)i64(r, c + 0);
    x->f.tag_id = (uint16_t)i64(r, c + 1);
    x->f.kind = (uint8_t)i64(r, c + 2);
    x->f.frames = (uint32_t)u64(r, c + 3);
    x->f.count_max = (uint32_t)u64(r, c + 4);
    x->f.value_max = u64(r, c + 5);
    if (summary) {
        x->first_ms = u64(r, 6);
        x->last_ms = u64(r, 7);
    }
    x->path = text(r, 8);
}

void storerow_site(const storerow_t *r, site_info_t *x) {
    memset(x, 0, sizeof *x);
    x->id = (uint32_t)u64(r, 0);
    x->line = (uint32_t)u64(r, 1);
    x->kind = (uint8_t)i64(r, 2);
    text_into(r, 3, x->file, sizeof x->file);
    text_into(r, 4, x->function, sizeof x->function);
}
