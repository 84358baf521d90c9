/* sessions.c — every session the daemon knows, its tags and their latest
 * figures, and the handling of each protocol message (loop thread).
 *
 * A session is created by its HELLO. Messages of a session whose HELLO has
 * not arrived (yet) are kept, bounded (PENDING_*), and replayed when it
 * does; past the bounds or the time-out they are counted as orphaned.
 * Sessions are never freed while the daemon runs (their slot numbers are
 * stable, ws.c indexes by them); at start the most recent ones come back
 * from the database, ended, and revive if their agent still sends. */
#include "escape.h"
#include "insightd.h"

#include <stdlib.h>
#include <string.h>

#define SESSION_BUCKETS 4096u
#define SAVE_INTERVAL_MS 5000u

typedef struct pending_msg {
    uint64_t recv_mono;
    size_t len;
    uint8_t data[];
} pending_msg_t;

typedef struct pending {
    uint64_t id;
    uint64_t first_mono;
    pending_msg_t **msgs;
    uint32_t n, cap;
    size_t bytes;
    struct pending *next;
} pending_t;

struct sessions {
    store_t *store;
    const config_t *cfg;
    sessions_hooks_t hooks;
    session_t **by_slot;
    uint32_t count, cap, live;
    session_t *buckets[SESSION_BUCKETS];
    pending_t *pending;
    uint32_t pending_sessions;
    size_t pending_bytes;
    fa_proto_space_t *space; /* decode storage, ~600 KiB */
    uint8_t *blob;
    size_t blob_cap;
    log_limiter_t reject_lim, orphan_lim, store_lim;
    bool alert_flag;
    int replay_depth;
};

static uint32_t bucket_of(uint64_t id) {
    return (uint32_t)((id ^ (id >> 29) ^ (id >> 47)) & (SESSION_BUCKETS - 1));
}

session_t *sessions_find(sessions_t *ss, uint64_t id) {
    for (session_t *s = ss->buckets[bucket_of(id)]; s; s = s->hash_next)
        if (s->id == id) return s;
    return NULL;
}

uint32_t sessions_count(const sessions_t *ss) {
    return ss->count;
}
uint32_t sessions_live_count(const sessions_t *ss) {
    return ss->live;
}
session_t *sessions_at(sessions_t *ss, uint32_t slot) {
    return slot < ss->count ? ss->by_slot[slot] : NULL;
}

bool sessions_take_alert_flag(sessions_t *ss) {
    bool f = ss->alert_flag;
    ss->alert_flag = false;
    return f;
}

static session_t *session_new(sessions_t *ss, uint64_t id) {
    if (ss->count == ss->cap) {
        uint32_t cap = ss->cap ? ss->cap * 2 : 64;
        session_t **grown = realloc(ss->by_slot, cap * sizeof *grown);
        if (!grown) return NULL;
        ss->by_slot = grown;
        ss->cap = cap;
    }
    session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->id = id;
    s->slot = ss->count;
    ss->by_slot[ss->count++] = s;
    uint32_t b = bucket_of(id);
    s->hash_next = ss->buckets[b];
    ss->buckets[b] = s;
    return s;
}

static void session_free(session_t *s) {
    for (uint32_t i = 0; i < s->tag_count; i++)
        free(s->tags[i].path);
    free(s->tags);
    for (int i = 0; i < 256; i++)
        free(s->tag_index[i]);
    free(s->findings);
    if (s->frame_json) ws_buf_unref(s->frame_json);
    free(s);
}

tag_t *sessions_tag(session_t *s, uint16_t id) {
    uint32_t *page = s->tag_index[id >> 8];
    if (!page || !page[id & 0xff]) return NULL;
    return &s->tags[page[id & 0xff] - 1];
}

static char *unnamed_path(uint16_t id) {
    char buf[16];
    snprintf(buf, sizeof buf, "#%u", id);
    return strdup(buf);
}

/* The tag with this id, created (unnamed, "#<id>") if new. NULL only when
 * out of memory. */
static tag_t *tag_get(session_t *s, uint16_t id) {
    tag_t *t = sessions_tag(s, id);
    if (t) return t;
    uint32_t **page = &s->tag_index[id >> 8];
    if (!*page && !(*page = calloc(256, sizeof **page))) return NULL;
    if (s->tag_count == s->tag_cap) {
        uint32_t cap = s->tag_cap ? s->tag_cap * 2 : 16;
        tag_t *grown = realloc(s->tags, cap * sizeof *grown);
        if (!grown) return NULL;
        s->tags = grown;
        s->tag_cap = cap;
    }
    t = &s->tags[s->tag_count];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->parent_id = 0;
    if (!(t->path = unnamed_path(id))) return NULL;
    (*page)[id & 0xff] = ++s->tag_count;
    return t;
}

tag_t *sessions_tag_by_path(session_t *s, const char *path) {
    if (path[0] == '/') path++;
    for (uint32_t i = 0; i < s->tag_count; i++)
        if (strcmp(s->tags[i].path, path) == 0) return &s->tags[i];
    return NULL;
}

session_t *sessions_latest(sessions_t *ss) {
    session_t *best = NULL;
    for (uint32_t i = 0; i < ss->count; i++) {
        session_t *s = ss->by_slot[i];
        if (!s) continue;
        uint64_t when = s->frames ? s->last_ms : s->started_ms;
        uint64_t best_when = best ? (best->frames ? best->last_ms : best->started_ms) : 0;
        if (!best || (s->live && !best->live) || (s->live == best->live && when > best_when)) best = s;
    }
    return best;
}

static void save_session(sessions_t *ss, session_t *s) {
    store_save_session(ss->store, s);
    s->dirty = false;
}

static void save_tag(sessions_t *ss, session_t *s, tag_t *t) {
    store_save_tag(ss->store, s->id, t);
    t->dirty = false;
}

static void make_live(sessions_t *ss, session_t *s, uint64_t recv_mono) {
    s->last_recv_mono = recv_mono;
    if (s->live) return;
    s->live = true;
    s->ended_ms = 0;
    s->end_reason = NULL;
    s->dirty = true;
    ss->live++;
    if (ss->hooks.on_session) ss->hooks.on_session(ss->hooks.ud, s, "start");
}

static void alert_changed(sessions_t *ss, session_t *s, tag_t *t, int ev, uint64_t t_ms, const char *reason) {
    alert_event_t e = {.event = ev, .clear_reason = reason, .cleared_ms = t_ms};
    switch (ev) {
    case ALERT_EV_RAISED:
        s->active_alerts++;
        store_save_alert(ss->store, s->id, t, &t->alert, 0, NULL);
        LOG(LOG_INFO, "alert raised: session %016llx tag '%s' %s at %.1f %% of %llu bytes",
            (unsigned long long)s->id, t->path, alerts_level_name(t->alert.level),
            alerts_pct(t->alert.raised_bytes, t->alert.budget_hard),
            (unsigned long long)t->alert.budget_hard);
        break;
    case ALERT_EV_ESCALATED:
        store_save_alert(ss->store, s->id, t, &t->alert, 0, NULL);
        break;
    case ALERT_EV_CLEARED:
        if (s->active_alerts) s->active_alerts--;
        store_save_alert(ss->store, s->id, t, &t->alert, t_ms, reason);
        break;
    default:
        return;
    }
    ss->alert_flag = true;
    if (ss->hooks.on_alert) ss->hooks.on_alert(ss->hooks.ud, s, t, &e);
    if (ev == ALERT_EV_CLEARED) t->alert.id = 0;
}

/* Clears every open episode of the session (it ended, or a tag lost its
 * budget). */
static void clear_alerts(sessions_t *ss, session_t *s, uint64_t t_ms, const char *reason) {
    for (uint32_t i = 0; i < s->tag_count; i++) {
        tag_t *t = &s->tags[i];
        if (t->alert.level == ALERT_NONE) continue;
        t->alert.level = ALERT_NONE;
        alert_changed(ss, s, t, ALERT_EV_CLEARED, t_ms, reason);
    }
}

static void end_session(sessions_t *ss, session_t *s, const char *reason) {
    if (!s->live) return;
    for (int level = 0; level < ROLLUP_LEVELS; level++)
        rollup_flush(s, level, ss->store);
    uint64_t now = insightd_now_ms();
    clear_alerts(ss, s, s->frames ? s->last_ms : now, "session_end");
    s->live = false;
    s->ended_ms = now;
    s->end_reason = reason;
    ss->live--;
    save_session(ss, s);
    for (uint32_t i = 0; i < s->tag_count; i++)
        if (s->tags[i].dirty) save_tag(ss, s, &s->tags[i]);
    LOG(LOG_INFO, "session %016llx (%s) ended: %s after %llu frames", (unsigned long long)s->id, s->app,
        reason, (unsigned long long)s->frames);
    if (ss->hooks.on_session) ss->hooks.on_session(ss->hooks.ud, s, "end");
}

static void seq_check(session_t *s, uint64_t seq) {
    if (!s->seq_known) {
        s->seq_known = true;
        s->next_seq = seq + 1;
        return;
    }
    if (seq == s->next_seq) {
        s->next_seq++;
    } else if (seq > s->next_seq) {
        uint64_t gap = seq - s->next_seq;
        s->gaps += gap;
        g_stats.gaps += gap;
        s->next_seq = seq + 1;
        s->dirty = true;
    } else {
        g_stats.out_of_order++;
    }
}

/* Agents' strings are opaque bytes (PROTOCOL.md 6.1): the one sanitiser
 * (libfa-text) turns controls, bidi overrides and invalid UTF-8 into '?'
 * here, where they enter the daemon's state, so every store, JSON document
 * and terminal downstream sees safe text. */
static void copy_text(char *dst, size_t cap, fa_proto_str_t src) {
    escape_sanitize_copy(dst, cap, src.data, src.len);
}

static void define_tag(sessions_t *ss, session_t *s, const fa_proto_tag_def_t *d) {
    tag_t *t = tag_get(s, d->id);
    if (!t) return;
    char path[FA_PROTO_MAX_STRING + 1];
    copy_text(path, sizeof path, d->path);
    if (strcmp(path, t->path) != 0) {
        char *copy = strdup(path);
        if (copy) {
            free(t->path);
            t->path = copy;
        }
    }
    t->parent_id = d->parent_id;
    t->budget_soft = d->budget_soft;
    t->budget_hard = d->budget_hard;
    t->defined = true;
    save_tag(ss, s, t);
}

static void on_hello(sessions_t *ss, const fa_proto_msg_t *m, uint64_t recv_mono) {
    session_t *s = sessions_find(ss, m->header.session_id);
    bool created = !s;
    if (!s && !(s = session_new(ss, m->header.session_id))) {
        LOG(LOG_ERROR, "out of memory for a new session");
        return;
    }
    const fa_proto_hello_t *h = &m->hello;
    if (!created && m->header.seq == 0) s->seq_known = false; /* the agent started over */
    seq_check(s, m->header.seq);
    copy_text(s->app, sizeof s->app, h->app_name);
    copy_text(s->label, sizeof s->label, h->session_label);
    copy_text(s->host, sizeof s->host, h->host);
    copy_text(s->build_id, sizeof s->build_id, h->build_id);
    s->pid = h->pid;
    s->lib_version = h->lib_version;
    s->start_unix_ns = h->start_unix_ns;
    s->start_mono_ns = h->start_mono_ns;
    s->started_ms = h->start_unix_ns / 1000000u;
    s->have_hello = true;
    for (uint32_t i = 0; i < h->tag_count; i++)
        define_tag(ss, s, &h->tags[i]);
    save_session(ss, s);
    LOG(LOG_INFO, "session %016llx %s: app '%s' pid %u host '%s', %u tags", (unsigned long long)s->id,
        created ? "started" : "refreshed", s->app, s->pid, s->host, h->tag_count);
    make_live(ss, s, recv_mono);
}

/* Frame wall time in unix ms: the HELLO maps the agent's monotonic clock
 * to its real-time clock. */
static uint64_t frame_time_ms(const session_t *s, uint64_t start_ns) {
    if (!s->have_hello) return insightd_now_ms();
    int64_t delta = (int64_t)(start_ns - s->start_mono_ns);
    int64_t wall = (int64_t)s->start_unix_ns + delta;
    return wall > 0 ? (uint64_t)wall / 1000000u : 0;
}

static void add_finding(session_t *s, const fa_proto_finding_t *x) {
    for (uint32_t i = 0; i < s->finding_count; i++) {
        finding_acc_t *f = &s->findings[i];
        if (f->code == x->code && f->tag_id == x->tag_id && f->kind == x->kind) {
            f->frames++;
            if (x->count > f->count_max) f->count_max = x->count;
            if (x->value > f->value_max) f->value_max = x->value;
            return;
        }
    }
    if (s->finding_count == s->finding_cap) {
        uint32_t cap = s->finding_cap ? s->finding_cap * 2 : 8;
        if (cap > 4096) return; /* a second with more distinct findings keeps the first 4096 */
        finding_acc_t *grown = realloc(s->findings, cap * sizeof *grown);
        if (!grown) return;
        s->findings = grown;
        s->finding_cap = cap;
    }
    s->findings[s->finding_count++] = (finding_acc_t){x->code, x->tag_id, x->kind, 1, x->count, x->value};
}

static void on_frame(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_mono) {
    const fa_proto_frame_t *f = &m->frame;
    make_live(ss, s, recv_mono);
    uint64_t t_ms = frame_time_ms(s, f->start_ns);
    rollup_advance(s, t_ms, ss->store);
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *row = &f->tags[i];
        tag_t *t = tag_get(s, row->id);
        if (!t) continue;
        t->live_bytes = row->live_bytes;
        if (row->peak_bytes > t->peak_bytes) t->peak_bytes = row->peak_bytes;
        if (row->live_bytes > t->peak_bytes) t->peak_bytes = row->live_bytes;
        t->frame_bytes = row->frame_bytes;
        t->pool_bytes = row->pool_bytes;
        t->heap_bytes = row->heap_bytes;
        t->alloc_count = row->alloc_count;
        t->seen = true;
        t->dirty = true;
        for (int level = 0; level < ROLLUP_LEVELS; level++)
            rollup_add(&t->acc[level], row->live_bytes);
        if (t->budget_hard || t->alert.level != ALERT_NONE) {
            int ev = alerts_eval(&t->alert, row->live_bytes, t->budget_hard, t_ms);
            if (ev != ALERT_EV_NONE)
                alert_changed(ss, s, t, ev, t_ms, t->budget_hard ? "usage" : "budget_removed");
        }
    }
    for (uint32_t i = 0; i < f->finding_count; i++)
        add_finding(s, &f->findings[i]);
    if (s->frames == 0) s->first_ms = t_ms;
    s->frames++;
    s->last_ms = t_ms;
    s->last_frame = f->frame;
    s->agent_dropped += f->frames_dropped;
    s->findings_dropped += f->findings_dropped;
    s->last_duration_ns = f->duration_ns;
    s->last_frames_dropped = f->frames_dropped;
    s->last_tags_total = f->tags_total;
    s->last_threads_total = f->threads_total;
    memcpy(s->totals, f->totals, sizeof s->totals);
    s->dirty = true;

    size_t bound = pack_frame_bound(f);
    if (bound > ss->blob_cap) {
        uint8_t *grown = realloc(ss->blob, bound);
        if (grown) {
            ss->blob = grown;
            ss->blob_cap = bound;
        }
    }
    size_t len = bound <= ss->blob_cap ? pack_frame(f, ss->blob, ss->blob_cap) : 0;
    if (!len || store_insert_frame(ss->store, s->id, t_ms, f->frame, f->duration_ns, ss->blob, len) != 0) {
        g_stats.frames_dropped_store++;
        log_limited(&ss->store_lim, 5000, LOG_ERROR, "a frame of session %016llx could not be stored",
                    (unsigned long long)s->id);
    }
    if (ss->hooks.on_frame) ss->hooks.on_frame(ss->hooks.ud, s);
}

static void on_bye(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_mono) {
    s->last_recv_mono = recv_mono;
    /* The agent's own count is authoritative for its drops. */
    if (m->bye.frames_dropped > s->agent_dropped) s->agent_dropped = m->bye.frames_dropped;
    s->dirty = true;
    if (s->live)
        end_session(ss, s, "bye");
    else
        save_session(ss, s);
}

/* Keeps a message of an unknown session until its HELLO (bounded). */
static void pend(sessions_t *ss, uint64_t id, const void *buf, size_t len, uint64_t recv_mono) {
    pending_t *p;
    for (p = ss->pending; p; p = p->next)
        if (p->id == id) break;
    const char *why = NULL;
    if (!p) {
        if (ss->pending_sessions >= PENDING_MAX_SESSIONS)
            why = "too many sessions waiting for their HELLO";
        else if (!(p = calloc(1, sizeof *p)))
            why = "out of memory";
        else {
            p->id = id;
            p->first_mono = recv_mono;
            p->next = ss->pending;
            ss->pending = p;
            ss->pending_sessions++;
        }
    }
    if (!why && p->n >= PENDING_MAX_PER_SESSION) why = "too many messages waiting for the session's HELLO";
    if (!why && ss->pending_bytes + len > PENDING_MAX_BYTES) why = "pending-message memory full";
    if (!why && p->n == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 16;
        pending_msg_t **grown = realloc(p->msgs, cap * sizeof *grown);
        if (!grown)
            why = "out of memory";
        else {
            p->msgs = grown;
            p->cap = cap;
        }
    }
    pending_msg_t *pm = why ? NULL : malloc(sizeof *pm + len);
    if (!why && !pm) why = "out of memory";
    if (why) {
        g_stats.orphaned++;
        log_limited(&ss->orphan_lim, 5000, LOG_WARN, "message of unknown session %016llx orphaned: %s",
                    (unsigned long long)id, why);
        return;
    }
    pm->recv_mono = recv_mono;
    pm->len = len;
    memcpy(pm->data, buf, len);
    p->msgs[p->n++] = pm;
    p->bytes += len;
    ss->pending_bytes += len;
    g_stats.pending++;
}

static pending_t *unlink_pending(sessions_t *ss, uint64_t id) {
    for (pending_t **pp = &ss->pending; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            pending_t *p = *pp;
            *pp = p->next;
            ss->pending_sessions--;
            ss->pending_bytes -= p->bytes;
            g_stats.pending -= p->n;
            return p;
        }
    }
    return NULL;
}

static void free_pending(pending_t *p) {
    for (uint32_t i = 0; i < p->n; i++)
        free(p->msgs[i]);
    free(p->msgs);
    free(p);
}

static void count_reject(sessions_t *ss, int rc, size_t len) {
    g_stats.rejected++;
    if (-rc > 0 && -rc < STATS_REJECT_REASONS) g_stats.rejected_by[-rc]++;
    log_limited(&ss->reject_lim, 5000, LOG_WARN, "rejected a %zu-byte message: %s (%s)", len,
                fa_proto_err_name(rc), fa_proto_strerror(rc));
}

void sessions_handle(sessions_t *ss, const void *buf, size_t len, uint64_t recv_mono) {
    fa_proto_storage_t st = fa_proto_storage_of(ss->space);
    fa_proto_msg_t m;
    int rc = fa_proto_decode(buf, len, &m, &st);
    if (rc != FA_PROTO_OK) {
        /* A valid header with an unknown type still names its session. */
        fa_proto_header_t h;
        if (rc == FA_PROTO_ERR_UNKNOWN_TYPE && fa_proto_decode_header(buf, len, &h) == FA_PROTO_OK) {
            session_t *s = sessions_find(ss, h.session_id);
            if (s) {
                s->unknown_types++;
                seq_check(s, h.seq);
            }
        }
        count_reject(ss, rc, len);
        return;
    }
    session_t *s = sessions_find(ss, m.header.session_id);
    if (m.header.type == FA_PROTO_HELLO) {
        g_stats.accepted_by_type[FA_PROTO_HELLO]++;
        on_hello(ss, &m, recv_mono);
        pending_t *p = unlink_pending(ss, m.header.session_id);
        if (p) {
            /* Replay in arrival order; m and st are not used afterwards
             * (the replay decodes into the same storage). */
            LOG(LOG_DEBUG, "session %016llx: replaying %u messages received before its HELLO",
                (unsigned long long)p->id, p->n);
            ss->replay_depth++;
            for (uint32_t i = 0; i < p->n; i++)
                sessions_handle(ss, p->msgs[i]->data, p->msgs[i]->len, p->msgs[i]->recv_mono);
            ss->replay_depth--;
            free_pending(p);
        }
        return;
    }
    if (!s) {
        pend(ss, m.header.session_id, buf, len, recv_mono);
        return;
    }
    g_stats.accepted_by_type[m.header.type]++;
    seq_check(s, m.header.seq);
    switch (m.header.type) {
    case FA_PROTO_FRAME:
        on_frame(ss, s, &m, recv_mono);
        break;
    case FA_PROTO_TAGS:
        make_live(ss, s, recv_mono);
        for (uint32_t i = 0; i < m.tags.tag_count; i++)
            define_tag(ss, s, &m.tags.tags[i]);
        break;
    case FA_PROTO_BYE:
        on_bye(ss, s, &m, recv_mono);
        break;
    }
}

static void save_dirty(sessions_t *ss);

void sessions_tick(sessions_t *ss, uint64_t now_mono, bool save) {
    for (uint32_t i = 0; i < ss->count; i++) {
        session_t *s = ss->by_slot[i];
        if (s && s->live && now_mono - s->last_recv_mono > ss->cfg->session_timeout_ms)
            end_session(ss, s, "timeout");
    }
    for (pending_t **pp = &ss->pending; *pp;) {
        pending_t *p = *pp;
        if (now_mono - p->first_mono < PENDING_TIMEOUT_MS) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        ss->pending_sessions--;
        ss->pending_bytes -= p->bytes;
        g_stats.pending -= p->n;
        g_stats.orphaned += p->n;
        log_limited(&ss->orphan_lim, 5000, LOG_WARN,
                    "%u messages of session %016llx orphaned: no HELLO within %u s", p->n,
                    (unsigned long long)p->id, PENDING_TIMEOUT_MS / 1000);
        free_pending(p);
    }
    if (save) save_dirty(ss);
}

/* Writes every session, tag and open alert whose figures changed. */
static void save_dirty(sessions_t *ss) {
    for (uint32_t i = 0; i < ss->count; i++) {
        session_t *s = ss->by_slot[i];
        if (!s) continue;
        if (s->dirty) save_session(ss, s);
        for (uint32_t k = 0; k < s->tag_count; k++) {
            tag_t *t = &s->tags[k];
            if (t->dirty) save_tag(ss, s, t);
            if (t->alert.level != ALERT_NONE && t->alert.peak_dirty)
                store_save_alert(ss->store, s->id, t, &t->alert, 0, NULL);
        }
    }
}

void sessions_flush(sessions_t *ss) {
    for (uint32_t i = 0; i < ss->count; i++) {
        session_t *s = ss->by_slot[i];
        if (!s) continue;
        for (int level = 0; level < ROLLUP_LEVELS; level++)
            rollup_flush(s, level, ss->store);
    }
    save_dirty(ss);
}

/* store_load callbacks */
static void load_session(void *ud, const session_t *from) {
    sessions_t *ss = ud;
    if (sessions_find(ss, from->id)) return;
    session_t *s = session_new(ss, from->id);
    if (!s) return;
    uint32_t slot = s->slot;
    session_t *next = s->hash_next;
    memcpy(s, from, sizeof *s);
    s->slot = slot;
    s->hash_next = next;
    s->live = false;
}

static void load_tag(void *ud, uint64_t sid, const tag_t *from) {
    sessions_t *ss = ud;
    session_t *s = sessions_find(ss, sid);
    if (!s) return;
    tag_t *t = tag_get(s, from->id);
    if (!t) return;
    char *path = strdup(from->path ? from->path : "");
    if (!path) return;
    free(t->path);
    t->path = path;
    t->parent_id = from->parent_id;
    t->defined = from->defined;
    t->seen = from->seen;
    t->budget_soft = from->budget_soft;
    t->budget_hard = from->budget_hard;
    t->live_bytes = from->live_bytes;
    t->peak_bytes = from->peak_bytes;
}

sessions_t *sessions_create(store_t *store, const config_t *cfg, const sessions_hooks_t *hooks,
                            uint32_t max_loaded) {
    sessions_t *ss = calloc(1, sizeof *ss);
    if (!ss) return NULL;
    ss->store = store;
    ss->cfg = cfg;
    if (hooks) ss->hooks = *hooks;
    if (!(ss->space = malloc(sizeof *ss->space))) {
        free(ss);
        return NULL;
    }
    if (max_loaded && store_load(store, max_loaded, load_session, load_tag, ss) != 0)
        LOG(LOG_WARN, "could not load the stored sessions; starting with none");
    for (uint32_t i = 0; i < ss->count; i++) {
        session_t *s = ss->by_slot[i];
        for (uint32_t k = 0; k < s->tag_count; k++)
            s->tags[k].dirty = false;
        s->dirty = false;
    }
    return ss;
}

void sessions_destroy(sessions_t *ss) {
    if (!ss) return;
    for (uint32_t i = 0; i < ss->count; i++)
        if (ss->by_slot[i]) session_free(ss->by_slot[i]);
    while (ss->pending) {
        pending_t *p = ss->pending;
        ss->pending = p->next;
        g_stats.pending -= p->n;
        free_pending(p);
    }
    free(ss->by_slot);
    free(ss->space);
    free(ss->blob);
    free(ss);
}
