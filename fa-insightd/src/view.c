/* view.c — session views and the JSON shapes of API.md (see view.h).
 *
 * The tag tree: parents come from the dictionary's parent_id; a parent
 * the view does not hold, or a cycle, puts the tag at the top level.
 * Children are listed in id order. Trees are walked with explicit stacks:
 * an agent controls their depth. */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"

session_view_t *view_create(const session_info_t *info, const frame_info_t *last, const tag_info_t *tags,
                            uint32_t n) {
    session_view_t *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->info = *info;
    v->info.tag_count = n;
    if (last) v->last = *last;
    size_t bytes = 0;
    for (uint32_t i = 0; i < n; i++)
        bytes += strlen(tags[i].path ? tags[i].path : "") + 1;
    v->tags = malloc((n ? n : 1) * sizeof *v->tags);
    v->strings = malloc(bytes ? bytes : 1);
    if (!v->tags || !v->strings) {
        view_free(v);
        return NULL;
    }
    char *p = v->strings;
    for (uint32_t i = 0; i < n; i++) {
        v->tags[i] = tags[i];
        size_t len = strlen(tags[i].path ? tags[i].path : "");
        memcpy(p, tags[i].path ? tags[i].path : "", len + 1);
        v->tags[i].path = p;
        p += len + 1;
    }
    v->tag_count = n;
    return v;
}

void view_free(session_view_t *v) {
    if (!v) return;
    free(v->tags);
    free(v->strings);
    free(v);
}

const tag_info_t *view_tag_by_path(const session_view_t *v, const char *path) {
    if (path[0] == '/') path++;
    for (uint32_t i = 0; i < v->tag_count; i++)
        if (strcmp(v->tags[i].path, path) == 0) return &v->tags[i];
    return NULL;
}

static const char *known(const char *text, const char *const *list, size_t n) {
    if (!text) return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(text, list[i]) == 0) return list[i];
    return "unknown";
}

const char *view_end_reason(const char *text) {
    static const char *const reasons[] = {"bye", "timeout", "daemon_restart", "daemon_stopped"};
    return known(text, reasons, sizeof reasons / sizeof reasons[0]);
}

const char *view_clear_reason(const char *text) {
    static const char *const reasons[] = {"usage", "budget_removed", "session_end", "daemon_restart"};
    return known(text, reasons, sizeof reasons / sizeof reasons[0]);
}

/* ---- objects ------------------------------------------------------------ */

static void write_lib_version(json_writer_t *w, uint32_t v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%u.%u.%u", (v >> 16) & 0xffffu, (v >> 8) & 0xffu, v & 0xffu);
    jw_str(w, "lib_version", buf);
}

static void opt_u64(json_writer_t *w, const char *key, uint64_t v, bool present) {
    if (present)
        jw_u64(w, key, v);
    else
        jw_null(w, key);
}

static void write_session_fields(json_writer_t *w, const session_info_t *s) {
    jw_sid(w, "id", s->id);
    jw_str(w, "app", s->app);
    jw_str(w, "label", s->label);
    jw_str(w, "host", s->host);
    jw_str(w, "build_id", s->build_id);
    jw_u64(w, "pid", s->pid);
    write_lib_version(w, s->lib_version);
    jw_bool(w, "hello", s->have_hello);
    opt_u64(w, "started_ms", s->start_unix_ns / 1000000u, s->have_hello && s->start_valid);
    if (s->skew_known)
        jw_i64(w, "clock_skew_ms", s->clock_skew_ms);
    else
        jw_null(w, "clock_skew_ms");
    opt_u64(w, "first_frame_ms", s->first_ms, s->frames > 0);
    opt_u64(w, "last_frame_ms", s->last_ms, s->frames > 0);
    opt_u64(w, "last_frame", s->last_frame, s->frames > 0);
    opt_u64(w, "last_seen_ms", s->last_seen_ms, s->last_seen_ms != 0);
    jw_bool(w, "live", s->live);
    opt_u64(w, "ended_ms", s->ended_ms, !s->live && s->ended_ms != 0);
    if (!s->live && s->end_reason)
        jw_str(w, "end_reason", s->end_reason);
    else
        jw_null(w, "end_reason");
    jw_u64(w, "frames", s->frames);
    jw_u64(w, "gaps", s->gaps);
    jw_u64(w, "agent_dropped", s->agent_dropped);
    jw_u64(w, "duplicates", s->duplicates);
    jw_u64(w, "rows_rejected", s->rows_rejected);
    jw_u64(w, "tags", s->tag_count);
    jw_u64(w, "active_alerts", s->active_alerts);
}

void view_write_session(json_writer_t *w, const char *key, const session_info_t *s) {
    jw_begin_object(w, key);
    write_session_fields(w, s);
    jw_end_object(w);
}

void view_write_totals(json_writer_t *w, const char *key,
                       const fa_proto_kind_totals_t t[FA_PROTO_KIND_COUNT]) {
    jw_begin_object(w, key);
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        jw_begin_object(w, json_kind_name(k));
        jw_u64(w, "in_use", t[k].in_use);
        jw_u64(w, "peak", t[k].peak);
        jw_u64(w, "alloc_count", t[k].alloc_count);
        jw_u64(w, "alloc_bytes", t[k].alloc_bytes);
        jw_u64(w, "free_count", t[k].free_count);
        jw_end_object(w);
    }
    jw_end_object(w);
}

void view_write_alert(json_writer_t *w, const char *key, const alert_row_t *a, const uint64_t *live_bytes) {
    bool cleared = a->cleared_ms != 0 || a->clear_reason;
    jw_begin_object(w, key);
    jw_i64(w, "id", a->id);
    jw_sid(w, "session", a->session_id);
    jw_u64(w, "tag_id", a->tag_id);
    jw_str(w, "tag", a->path);
    jw_str(w, "level", a->level ? a->level : "warning");
    jw_str(w, "state", cleared ? "cleared" : "active");
    jw_u64(w, "raised_ms", a->raised_ms);
    opt_u64(w, "cleared_ms", a->cleared_ms, cleared);
    if (cleared && a->clear_reason)
        jw_str(w, "clear_reason", a->clear_reason);
    else
        jw_null(w, "clear_reason");
    jw_u64(w, "budget_hard", a->budget_hard);
    jw_u64(w, "raised_bytes", a->raised_bytes);
    jw_u64(w, "peak_bytes", a->peak_bytes);
    jw_double(w, "peak_pct", alerts_pct(a->peak_bytes, a->budget_hard));
    if (live_bytes) jw_u64(w, "live_bytes", *live_bytes);
    jw_end_object(w);
}

char *view_render_session(const session_view_t *v, size_t *len) {
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    write_session_fields(&w, &v->info);
    if (v->last.present) {
        jw_u64(&w, "last_duration_ns", v->last.duration_ns);
        view_write_totals(&w, "totals", v->last.totals);
    }
    jw_end_object(&w);
    return jw_finish(&w, len);
}

/* ---- the tag forest ----------------------------------------------------- */

typedef struct forest {
    int32_t *parent; /* effective parent slot, -1 for a top-level node */
    int32_t *first;  /* first child slot, -1 */
    int32_t *next;   /* next sibling slot, -1 */
    int32_t *tops;   /* top-level slots in id order */
    uint32_t ntops;
} forest_t;

static void forest_free(forest_t *f) {
    free(f->parent);
    free(f->first);
    free(f->next);
    free(f->tops);
}

static int32_t slot_of(const session_view_t *v, uint16_t id) {
    /* Tags are kept in id order: binary search. */
    uint32_t lo = 0, hi = v->tag_count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v->tags[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->tag_count && v->tags[lo].id == id ? (int32_t)lo : -1;
}

static int forest_build(const session_view_t *v, forest_t *f) {
    uint32_t n = v->tag_count;
    memset(f, 0, sizeof *f);
    f->parent = malloc((n + 1) * sizeof *f->parent);
    f->first = malloc((n + 1) * sizeof *f->first);
    f->next = malloc((n + 1) * sizeof *f->next);
    f->tops = malloc((n + 1) * sizeof *f->tops);
    uint8_t *state = calloc(n + 1, 1); /* 0 unknown, 1 visiting, 2 done */
    int32_t *chain = malloc((n + 1) * sizeof *chain);
    if (!f->parent || !f->first || !f->next || !f->tops || !state || !chain) {
        forest_free(f);
        free(state);
        free(chain);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        const tag_info_t *t = &v->tags[i];
        f->parent[i] = t->parent_id != t->id ? slot_of(v, t->parent_id) : -1;
        f->first[i] = f->next[i] = -1;
    }
    /* Walk each chain once; a chain that meets itself is a cycle: its
     * members become top-level nodes. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = 0;
        int32_t cur = (int32_t)i;
        while (cur >= 0 && state[cur] == 0) {
            state[cur] = 1;
            chain[len++] = cur;
            cur = f->parent[cur];
        }
        bool cycle = cur >= 0 && state[cur] == 1;
        for (uint32_t k = 0; k < len; k++) {
            state[chain[k]] = 2;
            if (cycle) f->parent[chain[k]] = -1;
        }
    }
    /* Slots are in id order: inserting in reverse at the head leaves every
     * child list in id order. */
    for (uint32_t k = n; k-- > 0;) {
        int32_t p = f->parent[k];
        if (p >= 0) {
            f->next[k] = f->first[p];
            f->first[p] = (int32_t)k;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        if (f->parent[i] < 0) f->tops[f->ntops++] = (int32_t)i;
    free(state);
    free(chain);
    return 0;
}

/* Live sessions: the alert state (with its hysteresis). Ended ones have
 * no open alert any more: judge their last figures instead. */
static const char *tag_state(const session_info_t *s, const tag_info_t *t) {
    if (!t->budget_hard) return "no_budget";
    if (s->live) return t->alert_level == ALERT_NONE ? "ok" : alerts_level_name(t->alert_level);
    double pct = alerts_pct(t->live_bytes, t->budget_hard);
    return pct >= ALERT_CRIT_PCT ? "critical" : pct >= ALERT_WARN_PCT ? "warning" : "ok";
}

static void write_budget_fields(json_writer_t *w, const session_info_t *s, const tag_info_t *t) {
    jw_u64(w, "budget_soft", t->budget_soft);
    jw_u64(w, "budget_hard", t->budget_hard);
    if (t->budget_hard)
        jw_double(w, "used_pct", alerts_pct(t->live_bytes, t->budget_hard));
    else
        jw_null(w, "used_pct");
    if (t->budget_soft)
        jw_double(w, "soft_pct", alerts_pct(t->live_bytes, t->budget_soft));
    else
        jw_null(w, "soft_pct");
    jw_bool(w, "over_soft", t->budget_soft && t->live_bytes > t->budget_soft);
    jw_bool(w, "over_hard", t->budget_hard && t->live_bytes > t->budget_hard);
    jw_str(w, "state", tag_state(s, t));
}

static void write_header(json_writer_t *w, const session_info_t *s) {
    jw_sid(w, "session", s->id);
    jw_bool(w, "live", s->live);
    opt_u64(w, "frame", s->last_frame, s->frames > 0);
    opt_u64(w, "t_ms", s->last_ms, s->frames > 0);
}

/* A node's own fields; its "children" array is left open. */
static void open_node(json_writer_t *w, const session_info_t *s, const tag_info_t *t) {
    jw_begin_object(w, NULL);
    jw_u64(w, "id", t->id);
    jw_u64(w, "parent_id", t->parent_id);
    jw_str(w, "path", t->path);
    const char *slash = strrchr(t->path, '/');
    jw_str(w, "name", t->path[0] ? (slash ? slash + 1 : t->path) : "(root)");
    jw_bool(w, "defined", t->defined);
    jw_bool(w, "seen", t->seen);
    jw_u64(w, "live_bytes", t->live_bytes);
    jw_u64(w, "peak_bytes", t->peak_bytes);
    jw_u64(w, "frame_bytes", t->frame_bytes);
    jw_u64(w, "pool_bytes", t->pool_bytes);
    jw_u64(w, "heap_bytes", t->heap_bytes);
    jw_u64(w, "alloc_count", t->alloc_count);
    write_budget_fields(w, s, t);
    if (s->live && t->alert_level != ALERT_NONE)
        jw_str(w, "alert", alerts_level_name(t->alert_level));
    else
        jw_null(w, "alert");
    jw_begin_array(w, "children");
}

char *view_render_tags(const session_view_t *v, size_t *len) {
    forest_t f;
    if (forest_build(v, &f) != 0) return NULL;
    /* Depth-first: each stack entry is a node whose children array is
     * open, and the next child to visit. */
    int32_t *stack = malloc((v->tag_count + 1) * sizeof *stack);
    if (!stack) {
        forest_free(&f);
        return NULL;
    }
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    write_header(&w, &v->info);
    jw_u64(&w, "count", v->tag_count);
    jw_begin_array(&w, "tree");
    for (uint32_t k = 0; k < f.ntops; k++) {
        uint32_t sp = 0;
        open_node(&w, &v->info, &v->tags[f.tops[k]]);
        stack[sp++] = f.first[f.tops[k]];
        while (sp > 0) {
            int32_t child = stack[sp - 1];
            if (child < 0) { /* no more children: close the node */
                jw_end_array(&w);
                jw_end_object(&w);
                sp--;
                continue;
            }
            stack[sp - 1] = f.next[child];
            open_node(&w, &v->info, &v->tags[child]);
            stack[sp++] = f.first[child];
        }
    }
    jw_end_array(&w);
    jw_end_object(&w);
    free(stack);
    forest_free(&f);
    return jw_finish(&w, len);
}

char *view_render_budgets(const session_view_t *v, const tag_info_t *top, size_t *len) {
    forest_t f;
    if (forest_build(v, &f) != 0) return NULL;
    int32_t *stack = malloc((v->tag_count + 1) * sizeof *stack);
    uint32_t *depth = malloc((v->tag_count + 1) * sizeof *depth);
    if (!stack || !depth) {
        free(stack);
        free(depth);
        forest_free(&f);
        return NULL;
    }
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    write_header(&w, &v->info);
    jw_str(&w, "tag", top ? top->path : "/");
    jw_begin_array(&w, "budgets");
    /* Depth-first from the chosen tag (or every top-level node), children
     * pushed in reverse id order so that they pop in id order. */
    uint32_t sp = 0, over = 0;
    if (top) {
        stack[sp] = (int32_t)(top - v->tags);
        depth[sp++] = 0;
    } else {
        for (uint32_t k = f.ntops; k-- > 0;) {
            stack[sp] = f.tops[k];
            depth[sp++] = 0;
        }
    }
    while (sp > 0) {
        sp--;
        int32_t i = stack[sp];
        uint32_t d = depth[sp];
        const tag_info_t *t = &v->tags[i];
        jw_begin_object(&w, NULL);
        jw_u64(&w, "id", t->id);
        jw_str(&w, "path", t->path);
        jw_u64(&w, "depth", d);
        jw_u64(&w, "live_bytes", t->live_bytes);
        jw_u64(&w, "peak_bytes", t->peak_bytes);
        write_budget_fields(&w, &v->info, t);
        jw_end_object(&w);
        if (t->budget_hard && t->live_bytes > t->budget_hard) over++;
        uint32_t first = sp;
        for (int32_t c = f.first[i]; c >= 0; c = f.next[c]) {
            stack[sp] = c;
            depth[sp++] = d + 1;
        }
        for (uint32_t a = first, b = sp; b > a + 1; a++, b--) {
            int32_t tmp = stack[a];
            stack[a] = stack[b - 1];
            stack[b - 1] = tmp;
        }
    }
    jw_end_array(&w);
    jw_u64(&w, "over_hard", over);
    jw_end_object(&w);
    free(stack);
    free(depth);
    forest_free(&f);
    return jw_finish(&w, len);
}
