/* sessions.c — sessions in memory and the handling of each protocol
 * message (see sessions.h). */
#include "sessions.h"

#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "escape.h"
#include "log.h"
#include "pack.h"
#include "rollup.h"
#include "sitedict.h"
#include "stats.h"

#define SESSION_BUCKETS 4096u
/* The filter of stored ids: 2^23 bits (1 MiB), 4 probes: under 0.1 % of
 * false positives (a needless look-up) up to 500 000 sessions. */
#define KNOWN_BITS (1u << 23)
#define KNOWN_PROBES 4
/* Sequence numbers remembered below the newest: later ones fill a gap,
 * one seen before (or older than the window) is a duplicate. */
#define SEQ_WINDOW 256u
/* A frame mapped more than this after its receipt, or this long before
 * it, means the agent's monotonic clock jumped: the session is re-anchored. */
#define CLOCK_FUTURE_SLACK_MS 1000
#define CLOCK_PAST_SLACK_MS 60000
/* Agents' clocks more than this off the daemon's are counted. */
#define CLOCK_SKEW_REPORTED_MS 2000
/* Plausible agent start times: 2000-01-01 .. 2200-01-01 in ns. */
#define START_MIN_NS 946684800000000000ull
#define START_MAX_NS 7258118400000000000ull

typedef struct tag {
    uint16_t id, parent_id;
    bool defined, seen, dirty;
    char *path;
    uint64_t budget_soft, budget_hard;
    uint64_t live_bytes, peak_bytes; /* latest FRAME row; peak is the agent's */
    uint64_t frame_bytes, pool_bytes, heap_bytes, alloc_count;
    uint64_t live_sum, live_frames; /* over the frames with a row for it (view.h) */
    alert_state_t alert;
} tag_t;

struct session {
    session_info_t info;
    uint32_t source; /* the ingest connection that speaks for it (0: none yet) */
    frame_info_t last;
    /* clock: t_ms = anchor_ms + (frame.start_ns - anchor_ns) / 1e6 */
    bool anchored;
    uint64_t anchor_ms, anchor_ns;
    bool skew_counted;
    /* sequence numbers */
    bool seq_known;
    uint64_t seq_seen[SEQ_WINDOW / 64]; /* bit i: next_seq - 1 - i was seen */
    uint64_t last_recv_mono;
    bool dirty;
    uint64_t last_write; /* writer seq of its newest record */
    /* tags: dense array (slot) + two-level id index (id >> 8, id & 255) */
    tag_t *tags;
    uint32_t tag_count, tag_cap;
    uint32_t *tag_index[256]; /* slot + 1, 0 for none; pages allocated lazily */
    rollup_t *rollup;
    sitedict_t *sites;        /* definitions received (created on the first) */
    fa_proto_tag_base_t base; /* 1.2: the whole tag rows of the latest FRAMES entry */
    session_t *hash_next;
    session_t *prev, *next; /* the live list, or the ended list (oldest first) */
};

typedef struct pending_msg {
    uint64_t recv_ms, recv_mono;
    uint32_t source;
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

typedef struct session_list {
    session_t *head, *tail;
    uint32_t count;
} session_list_t;

struct sessions {
    writer_t *writer;
    sessions_options_t opt;
    sessions_hooks_t hooks;
    session_t *buckets[SESSION_BUCKETS];
    session_list_t live, ended;
    pending_t *pending;
    uint32_t pending_sessions;
    size_t pending_bytes;
    int64_t next_alert_id;
    uint64_t *known;         /* KNOWN_BITS: ids that may be stored */
    fa_proto_space_t *space; /* decode storage, ~600 KiB */
    uint8_t *blob;
    size_t blob_cap;
    log_limiter_t reject_lim, orphan_lim, refuse_lim, conflict_lim;
    int replay_depth;
    bool (*source_open)(uint32_t source);
};

/* ---- the filter of stored ids ------------------------------------------- */

static uint32_t known_probe(uint64_t id, int k) {
    uint64_t h = (id + (uint64_t)k * 0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    h *= 0x94D049BB133111EBull;
    return (uint32_t)(h >> 32) & (KNOWN_BITS - 1);
}

static void known_add(sessions_t *ss, uint64_t id) {
    for (int k = 0; k < KNOWN_PROBES; k++) {
        uint32_t bit = known_probe(id, k);
        ss->known[bit / 64] |= 1ull << (bit % 64);
    }
}

static bool known_maybe(const sessions_t *ss, uint64_t id) {
    for (int k = 0; k < KNOWN_PROBES; k++) {
        uint32_t bit = known_probe(id, k);
        if (!(ss->known[bit / 64] >> (bit % 64) & 1u)) return false;
    }
    return true;
}

void sessions_note_stored(sessions_t *ss, uint64_t id) {
    known_add(ss, id);
}

/* ---- lists and lookup ---------------------------------------------------- */

static uint32_t bucket_of(uint64_t id) {
    return (uint32_t)((id ^ (id >> 29) ^ (id >> 47)) & (SESSION_BUCKETS - 1));
}

static session_t *find(const sessions_t *ss, uint64_t id) {
    for (session_t *s = ss->buckets[bucket_of(id)]; s; s = s->hash_next)
        if (s->info.id == id) return s;
    return NULL;
}

const session_t *sessions_find(const sessions_t *ss, uint64_t id) {
    return find(ss, id);
}

static void list_push(session_list_t *l, session_t *s) {
    s->next = NULL;
    s->prev = l->tail;
    if (l->tail)
        l->tail->next = s;
    else
        l->head = s;
    l->tail = s;
    l->count++;
}

static void list_push_front(session_list_t *l, session_t *s) {
    s->prev = NULL;
    s->next = l->head;
    if (l->head)
        l->head->prev = s;
    else
        l->tail = s;
    l->head = s;
    l->count++;
}

static void list_remove(session_list_t *l, session_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        l->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        l->tail = s->prev;
    s->prev = s->next = NULL;
    l->count--;
}

uint32_t sessions_in_memory(const sessions_t *ss) {
    return ss->live.count + ss->ended.count;
}
uint32_t sessions_live_count(const sessions_t *ss) {
    return ss->live.count;
}

void sessions_each(const sessions_t *ss, bool live, bool (*fn)(void *, const session_t *), void *ud) {
    for (session_t *s = live ? ss->live.head : ss->ended.head; s; s = s->next)
        if (!fn(ud, s)) return;
}

const session_t *sessions_latest(const sessions_t *ss) {
    const session_t *best = NULL;
    for (const session_t *s = ss->live.head; s; s = s->next)
        if (!best || s->info.last_seen_ms > best->info.last_seen_ms) best = s;
    if (best) return best;
    return ss->ended.tail; /* the ended list is in end order, oldest first */
}

/* ---- accessors ------------------------------------------------------------ */

uint64_t session_id(const session_t *s) {
    return s->info.id;
}
bool session_live(const session_t *s) {
    return s->info.live;
}
uint64_t session_frames(const session_t *s) {
    return s->info.frames;
}
const session_info_t *session_info(const session_t *s) {
    return &s->info;
}
void session_frame_info(const session_t *s, frame_info_t *out) {
    *out = s->last;
}

void session_each_seen_tag(const session_t *s, void (*fn)(void *, uint16_t, uint64_t, uint64_t), void *ud) {
    /* Slots are in creation order; the index walk gives id order. */
    for (int page = 0; page < 256; page++) {
        uint32_t *p = s->tag_index[page];
        if (!p) continue;
        for (int i = 0; i < 256; i++) {
            if (!p[i]) continue;
            const tag_t *t = &s->tags[p[i] - 1];
            if (t->seen) fn(ud, t->id, t->live_bytes, t->peak_bytes);
        }
    }
}

static tag_info_t tag_info_of(const tag_t *t) {
    return (tag_info_t){.id = t->id,
                        .parent_id = t->parent_id,
                        .defined = t->defined,
                        .seen = t->seen,
                        .alert_level = t->alert.level,
                        .path = t->path,
                        .budget_soft = t->budget_soft,
                        .budget_hard = t->budget_hard,
                        .live_bytes = t->live_bytes,
                        .peak_bytes = t->peak_bytes,
                        .frame_bytes = t->frame_bytes,
                        .pool_bytes = t->pool_bytes,
                        .heap_bytes = t->heap_bytes,
                        .alloc_count = t->alloc_count,
                        .live_sum = t->live_sum,
                        .live_frames = t->live_frames};
}

session_view_t *session_view(const session_t *s) {
    tag_info_t *tags = malloc((s->tag_count ? s->tag_count : 1) * sizeof *tags);
    if (!tags) return NULL;
    uint32_t n = 0;
    for (int page = 0; page < 256; page++) {
        uint32_t *p = s->tag_index[page];
        for (int i = 0; p && i < 256; i++)
            if (p[i]) tags[n++] = tag_info_of(&s->tags[p[i] - 1]);
    }
    session_view_t *v = view_create(&s->info, &s->last, tags, n);
    free(tags);
    return v;
}

/* ---- sessions and tags ------------------------------------------------- */

static session_t *session_new(sessions_t *ss, uint64_t id) {
    session_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    if (!(s->rollup = rollup_create(id))) {
        free(s);
        return NULL;
    }
    s->info.id = id;
    uint32_t b = bucket_of(id);
    s->hash_next = ss->buckets[b];
    ss->buckets[b] = s;
    known_add(ss, id); /* from now on it may be stored */
    return s;
}

static void session_free(sessions_t *ss, session_t *s) {
    session_t **pp = &ss->buckets[bucket_of(s->info.id)];
    while (*pp && *pp != s)
        pp = &(*pp)->hash_next;
    if (*pp) *pp = s->hash_next;
    for (uint32_t i = 0; i < s->tag_count; i++)
        free(s->tags[i].path);
    free(s->tags);
    for (int i = 0; i < 256; i++)
        free(s->tag_index[i]);
    rollup_destroy(s->rollup);
    sitedict_free(s->sites);
    free(s->base.rows);
    free(s->base.scratch);
    free(s);
}

static tag_t *tag_find(const session_t *s, uint16_t id) {
    uint32_t *page = s->tag_index[id >> 8];
    if (!page || !page[id & 0xff]) return NULL;
    return &s->tags[page[id & 0xff] - 1];
}

/* A new tag; NULL past max_tags (counted) or when out of memory. */
static tag_t *tag_new(sessions_t *ss, session_t *s, uint16_t id) {
    if (s->tag_count >= ss->opt.max_tags) {
        g_stats.rows_tag_cap++;
        s->info.rows_rejected++;
        return NULL;
    }
    uint32_t **page = &s->tag_index[id >> 8];
    if (!*page && !(*page = calloc(256, sizeof **page))) return NULL;
    if (s->tag_count == s->tag_cap) {
        uint32_t cap = s->tag_cap ? s->tag_cap * 2 : 16;
        tag_t *grown = realloc(s->tags, cap * sizeof *grown);
        if (!grown) return NULL;
        s->tags = grown;
        s->tag_cap = cap;
    }
    tag_t *t = &s->tags[s->tag_count];
    memset(t, 0, sizeof *t);
    t->id = id;
    if (!(t->path = strdup(""))) return NULL;
    (*page)[id & 0xff] = ++s->tag_count;
    s->info.tag_count = s->tag_count;
    return t;
}

static void put_tag(sessions_t *ss, session_t *s, tag_t *t) {
    t->dirty = false;
    if (!ss->writer) return;
    tag_info_t info = tag_info_of(t);
    uint64_t seq = writer_put_tag(ss->writer, s->info.id, &info);
    if (seq)
        s->last_write = seq;
    else
        t->dirty = true; /* the buffer is full: saved later */
}

static void put_session(sessions_t *ss, session_t *s) {
    s->dirty = false;
    if (!ss->writer) return;
    uint64_t seq = writer_put_session(ss->writer, &s->info);
    if (seq)
        s->last_write = seq;
    else
        s->dirty = true;
}

static void put_alert(sessions_t *ss, session_t *s, const tag_t *t, uint64_t cleared_ms, const char *reason,
                      alert_row_t *row) {
    const alert_state_t *a = &t->alert;
    memset(row, 0, sizeof *row);
    row->id = a->id;
    row->session_id = s->info.id;
    row->tag_id = t->id;
    snprintf(row->path, sizeof row->path, "%s", t->path);
    row->level = alerts_level_name(a->episode_level);
    row->raised_ms = a->raised_ms;
    row->cleared_ms = reason ? cleared_ms : 0;
    row->clear_reason = reason;
    row->raised_bytes = a->raised_bytes;
    row->peak_bytes = a->peak_bytes;
    row->budget_hard = a->budget_hard;
    if (!ss->writer) return;
    uint64_t seq = writer_put_alert(ss->writer, row);
    if (seq) s->last_write = seq;
    /* Alerts are committed at once so that the API agrees with the push. */
    writer_commit_soon(ss->writer);
}

/* Agents' strings are opaque bytes (PROTOCOL.md 6.1): the one sanitiser
 * (libfa-text) turns controls, bidi overrides and invalid UTF-8 into '?'
 * here, where they enter the daemon's state, so every store, JSON document
 * and terminal downstream sees safe text. */
static void copy_text(char *dst, size_t cap, fa_proto_str_t src) {
    escape_sanitize_copy(dst, cap, src.data, src.len);
}

static void define_tag(sessions_t *ss, session_t *s, const fa_proto_tag_def_t *d) {
    tag_t *t = tag_find(s, d->id);
    if (!t && !(t = tag_new(ss, s, d->id))) return;
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
    put_tag(ss, s, t);
}

/* A SITES message: each definition new to the session (or changed) is
 * stored; repeats (the agent defines its sites again on every connection)
 * are not. Committed soon, so that the API names the rows at once. */
static void define_sites(sessions_t *ss, session_t *s, const fa_proto_sites_t *m) {
    if (!s->sites && !(s->sites = sitedict_create(ss->opt.max_sites))) return;
    bool wrote = false;
    for (uint32_t k = 0; k < m->site_count; k++) {
        const fa_proto_site_def_t *d = &m->sites[k];
        site_info_t x;
        memset(&x, 0, sizeof x);
        x.id = d->id;
        x.line = d->line;
        x.kind = d->kind;
        copy_text(x.file, sizeof x.file, d->file);
        copy_text(x.function, sizeof x.function, d->function);
        int rc = d->id ? sitedict_note(s->sites, &x) : SITEDICT_FULL;
        if (rc == SITEDICT_FULL) {
            g_stats.sites_rejected++;
            continue;
        }
        if (rc == SITEDICT_SAME || !ss->writer) continue;
        uint64_t seq = writer_put_site(ss->writer, s->info.id, &x);
        if (seq) s->last_write = seq;
        g_stats.sites_defined++;
        wrote = true;
    }
    if (wrote) writer_commit_soon(ss->writer);
}

/* ---- life cycle ------------------------------------------------------------ */

static void make_live(sessions_t *ss, session_t *s, uint64_t recv_ms, uint64_t recv_mono) {
    s->last_recv_mono = recv_mono;
    if (recv_ms > s->info.last_seen_ms) s->info.last_seen_ms = recv_ms;
    if (s->info.live) return;
    list_remove(&ss->ended, s);
    list_push(&ss->live, s);
    s->info.live = true;
    s->info.ended_ms = 0;
    s->info.end_reason = NULL;
    s->dirty = true;
    if (ss->hooks.on_session) ss->hooks.on_session(ss->hooks.ud, s, "start");
}

static void alert_changed(sessions_t *ss, session_t *s, tag_t *t, int ev, uint64_t t_ms, const char *reason) {
    alert_row_t row;
    switch (ev) {
    case ALERT_EV_RAISED:
        t->alert.id = ss->next_alert_id++;
        s->info.active_alerts++;
        put_alert(ss, s, t, 0, NULL, &row);
        LOG(LOG_INFO, "alert raised: session %016llx tag '%s' %s at %.1f %% of %llu bytes",
            (unsigned long long)s->info.id, t->path, alerts_level_name(t->alert.level),
            alerts_pct(t->alert.raised_bytes, t->alert.budget_hard),
            (unsigned long long)t->alert.budget_hard);
        break;
    case ALERT_EV_ESCALATED:
        put_alert(ss, s, t, 0, NULL, &row);
        break;
    case ALERT_EV_CLEARED:
        if (s->info.active_alerts) s->info.active_alerts--;
        put_alert(ss, s, t, t_ms, reason, &row);
        break;
    default:
        return;
    }
    if (ss->hooks.on_alert) ss->hooks.on_alert(ss->hooks.ud, s, ev, &row, t->live_bytes);
    if (ev == ALERT_EV_CLEARED) t->alert.id = 0;
}

/* Clears every open episode of the session (it ended). */
static void clear_alerts(sessions_t *ss, session_t *s, uint64_t t_ms, const char *reason) {
    for (uint32_t i = 0; i < s->tag_count; i++) {
        tag_t *t = &s->tags[i];
        if (t->alert.level == ALERT_NONE) continue;
        t->alert.level = ALERT_NONE;
        alert_changed(ss, s, t, ALERT_EV_CLEARED, t_ms, reason);
    }
}

static void rollup_bucket(void *ud, int level, const store_rollup_t *row) {
    sessions_t *ss = ud;
    if (ss->writer) writer_put_rollup(ss->writer, level, row);
}

static void rollup_finding_out(void *ud, const store_finding_t *row) {
    sessions_t *ss = ud;
    if (ss->writer) writer_put_finding(ss->writer, row);
}

static rollup_sink_t sink_of(sessions_t *ss) {
    return (rollup_sink_t){rollup_bucket, rollup_finding_out, ss};
}

static void end_session(sessions_t *ss, session_t *s, const char *reason) {
    if (!s->info.live) return;
    rollup_sink_t sink = sink_of(ss);
    rollup_flush(s->rollup, &sink);
    uint64_t now = clock_now_ms();
    clear_alerts(ss, s, s->info.frames ? s->info.last_ms : now, "session_end");
    s->info.live = false;
    s->info.ended_ms = now;
    s->info.end_reason = reason;
    list_remove(&ss->live, s);
    list_push(&ss->ended, s);
    for (uint32_t i = 0; i < s->tag_count; i++)
        if (s->tags[i].dirty) put_tag(ss, s, &s->tags[i]);
    put_session(ss, s);
    LOG(LOG_INFO, "session %016llx (%s) ended: %s after %llu frames", (unsigned long long)s->info.id,
        s->info.app, reason, (unsigned long long)s->info.frames);
    if (ss->hooks.on_session) ss->hooks.on_session(ss->hooks.ud, s, "end");
}

/* A session created by a message (live at once) or brought back from the
 * store (ended, until it hears from its agent). NULL past max_live. */
static session_t *create_live(sessions_t *ss, uint64_t id) {
    if (ss->live.count >= ss->opt.max_live) {
        log_limited(&ss->refuse_lim, 5000, LOG_WARN,
                    "session %016llx refused: %u sessions are live already (--max-live-sessions)",
                    (unsigned long long)id, ss->live.count);
        return NULL;
    }
    session_t *s = session_new(ss, id);
    if (!s) return NULL;
    list_push(&ss->ended, s); /* make_live moves it */
    return s;
}

/* Brings a stored session into memory, ended (at the old end of the
 * ended list with `oldest`); the view is freed. */
static session_t *adopt(sessions_t *ss, session_view_t *v, bool oldest) {
    session_t *s = find(ss, v->info.id);
    if (s || !(s = session_new(ss, v->info.id))) {
        view_free(v);
        return s;
    }
    s->info = v->info;
    s->info.live = false;
    if (!s->info.end_reason) s->info.end_reason = "daemon_restart";
    s->info.tag_count = 0;
    s->info.active_alerts = 0;
    /* Everything below next_seq is behind us: a repeat is a duplicate. */
    s->seq_known = s->info.next_seq > 0;
    memset(s->seq_seen, 0xff, sizeof s->seq_seen);
    for (uint32_t i = 0; i < v->tag_count; i++) {
        const tag_info_t *x = &v->tags[i];
        tag_t *t = tag_find(s, x->id);
        if (!t && !(t = tag_new(ss, s, x->id))) continue;
        char *path = strdup(x->path);
        if (!path) continue;
        free(t->path);
        t->path = path;
        t->parent_id = x->parent_id;
        t->defined = x->defined;
        t->seen = x->seen;
        t->budget_soft = x->budget_soft;
        t->budget_hard = x->budget_hard;
        t->live_bytes = x->live_bytes;
        t->peak_bytes = x->peak_bytes;
        t->live_sum = x->live_sum;
        t->live_frames = x->live_frames;
    }
    s->info.rows_rejected = v->info.rows_rejected; /* tag_new may have counted: keep the stored figure */
    if (oldest)
        list_push_front(&ss->ended, s);
    else
        list_push(&ss->ended, s);
    g_stats.sessions_loaded++;
    view_free(v);
    return s;
}

/* The store hands them over most recent first. */
void sessions_adopt(sessions_t *ss, session_view_t *v) {
    adopt(ss, v, true);
}

void sessions_set_next_alert_id(sessions_t *ss, int64_t id) {
    ss->next_alert_id = id > 0 ? id : 1;
}

/* ---- sequence numbers ------------------------------------------------------ */

static bool seen_bit(const session_t *s, uint64_t back) {
    return (s->seq_seen[back / 64] >> (back % 64)) & 1u;
}
static void set_seen(session_t *s, uint64_t back) {
    s->seq_seen[back / 64] |= 1ull << (back % 64);
}
/* Shifts the window up by n (new sequence numbers above it). */
static void shift_window(session_t *s, uint64_t n) {
    if (n >= SEQ_WINDOW) {
        memset(s->seq_seen, 0, sizeof s->seq_seen);
        return;
    }
    for (int k = 0; k < (int)n; k++) {
        uint64_t carry = 0;
        for (unsigned w = 0; w < SEQ_WINDOW / 64; w++) {
            uint64_t out = s->seq_seen[w] >> 63;
            s->seq_seen[w] = (s->seq_seen[w] << 1) | carry;
            carry = out;
        }
    }
}

/* Returns false for a duplicate (seen before, or older than the window). */
static bool seq_check(session_t *s, uint64_t seq) {
    session_info_t *i = &s->info;
    if (!s->seq_known) {
        s->seq_known = true;
        memset(s->seq_seen, 0, sizeof s->seq_seen);
        i->next_seq = seq + 1;
        set_seen(s, 0);
        return true;
    }
    if (seq >= i->next_seq) {
        uint64_t gap = seq - i->next_seq;
        i->gaps += gap;
        g_stats.gaps += gap;
        shift_window(s, gap + 1);
        set_seen(s, 0);
        i->next_seq = seq + 1;
        return true;
    }
    uint64_t back = i->next_seq - 1 - seq;
    if (back >= SEQ_WINDOW || seen_bit(s, back)) {
        i->duplicates++;
        g_stats.duplicates++;
        return false;
    }
    /* Late, but new: it fills a gap counted when it was skipped. */
    set_seen(s, back);
    g_stats.out_of_order++;
    if (i->gaps) {
        i->gaps--;
        g_stats.gaps--;
    }
    return true;
}

/* ---- message handling ------------------------------------------------------- */

static bool start_plausible(uint64_t ns) {
    return ns >= START_MIN_NS && ns < START_MAX_NS;
}

static void on_hello(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_ms,
                     uint64_t recv_mono) {
    const fa_proto_hello_t *h = &m->hello;
    session_info_t *i = &s->info;
    bool created = i->frames == 0 && !i->have_hello, had_hello = i->have_hello;
    bool repeated =
        i->have_hello && i->start_unix_ns == h->start_unix_ns && i->start_mono_ns == h->start_mono_ns;
    copy_text(i->app, sizeof i->app, h->app_name);
    copy_text(i->label, sizeof i->label, h->session_label);
    copy_text(i->host, sizeof i->host, h->host);
    copy_text(i->build_id, sizeof i->build_id, h->build_id);
    i->pid = h->pid;
    i->lib_version = h->lib_version;
    i->start_unix_ns = h->start_unix_ns;
    i->start_mono_ns = h->start_mono_ns;
    i->start_valid = start_plausible(h->start_unix_ns);
    if (!i->start_valid && !repeated) g_stats.bad_timestamps++;
    i->have_hello = true;
    if (!repeated) s->skew_counted = false; /* a new clock pair: judged again */
    for (uint32_t k = 0; k < h->tag_count; k++)
        define_tag(ss, s, &h->tags[k]);
    /* Agents repeat their HELLO (every 10 s by default): said once. */
    LOG(repeated ? LOG_DEBUG : LOG_INFO, "session %016llx %s: app '%s' pid %u host '%s', %u tags",
        (unsigned long long)i->id,
        created     ? "started"
        : had_hello ? "re-announced"
                    : "named by its HELLO",
        i->app, i->pid, i->host, h->tag_count);
    make_live(ss, s, recv_ms, recv_mono);
    put_session(ss, s);
}

/* Frame start time on the daemon's clock (see the top of sessions.h). */
static uint64_t frame_time(session_t *s, const fa_proto_frame_t *f, uint64_t recv_ms) {
    uint64_t dur = f->duration_ns / 1000000u;
    int64_t dur_ms = dur > CLOCK_PAST_SLACK_MS ? 0 : (int64_t)dur;
    if (!s->anchored) {
        s->anchored = true;
        s->anchor_ms = recv_ms - (uint64_t)dur_ms;
        s->anchor_ns = f->start_ns;
    }
    int64_t t = (int64_t)s->anchor_ms + (int64_t)(f->start_ns - s->anchor_ns) / 1000000;
    int64_t end = t + dur_ms, recv = (int64_t)recv_ms;
    if (end > recv + CLOCK_FUTURE_SLACK_MS || t < recv - CLOCK_PAST_SLACK_MS) {
        /* The agent's clock jumped (or lies): start over from this frame. */
        g_stats.bad_timestamps++;
        s->anchor_ms = recv_ms - (uint64_t)dur_ms;
        s->anchor_ns = f->start_ns;
        return s->anchor_ms;
    }
    if (end > recv) {
        /* Ended after it arrived: the anchor is late (the first frame
         * waited somewhere). Move it earlier. */
        s->anchor_ms -= (uint64_t)(end - recv);
        t -= end - recv;
    }
    return (uint64_t)t;
}

/* The agent's wall clock minus the daemon's, from the HELLO's mapping. */
static void note_skew(session_t *s, const fa_proto_frame_t *f, uint64_t t_ms) {
    session_info_t *i = &s->info;
    if (!i->have_hello || !i->start_valid) {
        i->skew_known = false;
        return;
    }
    int64_t agent_ms =
        (int64_t)(i->start_unix_ns / 1000000u) + (int64_t)(f->start_ns - i->start_mono_ns) / 1000000;
    i->clock_skew_ms = agent_ms - (int64_t)t_ms;
    i->skew_known = true;
    if (!s->skew_counted &&
        (i->clock_skew_ms > CLOCK_SKEW_REPORTED_MS || i->clock_skew_ms < -CLOCK_SKEW_REPORTED_MS)) {
        s->skew_counted = true;
        g_stats.clock_skewed++;
        LOG(LOG_INFO,
            "session %016llx: the agent's clock is %lld ms off the daemon's; frames keep the daemon's time",
            (unsigned long long)i->id, (long long)i->clock_skew_ms);
    }
}

static void store_frame(sessions_t *ss, session_t *s, const fa_proto_frame_t *f, uint64_t t_ms) {
    if (!ss->writer) return;
    size_t bound = pack_frame_bound(f);
    if (bound > ss->blob_cap) {
        uint8_t *grown = realloc(ss->blob, bound);
        if (grown) {
            ss->blob = grown;
            ss->blob_cap = bound;
        }
    }
    size_t len = bound <= ss->blob_cap ? pack_frame(f, ss->blob, ss->blob_cap) : 0;
    const session_info_t *i = &s->info;
    store_frame_t row = {i->id, t_ms, f->frame, f->duration_ns, ss->blob, len};
    store_counters_t c = {i->frames,        i->last_frame, i->gaps,     i->agent_dropped, i->duplicates,
                          i->rows_rejected, i->next_seq,   i->first_ms, i->last_ms,       i->last_seen_ms};
    uint64_t seq = len ? writer_put_frame(ss->writer, &row, &c) : 0;
    if (seq) {
        s->last_write = seq;
    } else {
        g_stats.frames_store_backlog++;
        g_stats.last_store_drop_mono = clock_mono_ms();
    }
}

static void on_frame(sessions_t *ss, session_t *s, const fa_proto_frame_t *f, uint64_t recv_ms,
                     uint64_t recv_mono) {
    make_live(ss, s, recv_ms, recv_mono);
    uint64_t t_ms = frame_time(s, f, recv_ms);
    note_skew(s, f, t_ms);
    rollup_sink_t sink = sink_of(ss);
    rollup_advance(s->rollup, t_ms, &sink);
    uint64_t rejected = 0;
    for (uint32_t k = 0; k < f->tag_count; k++) {
        const fa_proto_tag_stat_t *row = &f->tags[k];
        tag_t *t = tag_find(s, row->id);
        if (!t) {
            rejected++; /* no HELLO or TAGS defined it: no tag, no rollup */
            continue;
        }
        t->live_bytes = row->live_bytes;
        /* Stored as a bigint: saturates there (years of terabytes). */
        t->live_sum = row->live_bytes > INT64_MAX - t->live_sum ? INT64_MAX : t->live_sum + row->live_bytes;
        t->live_frames++;
        if (row->peak_bytes > t->peak_bytes) t->peak_bytes = row->peak_bytes;
        if (row->live_bytes > t->peak_bytes) t->peak_bytes = row->live_bytes;
        t->frame_bytes = row->frame_bytes;
        t->pool_bytes = row->pool_bytes;
        t->heap_bytes = row->heap_bytes;
        t->alloc_count = row->alloc_count;
        t->seen = true;
        t->dirty = true;
        rollup_add(s->rollup, (uint32_t)(t - s->tags), t->id, row->live_bytes);
        if (t->budget_hard || t->alert.level != ALERT_NONE) {
            int ev = alerts_eval(&t->alert, row->live_bytes, t->budget_hard, t_ms);
            if (ev != ALERT_EV_NONE)
                alert_changed(ss, s, t, ev, t_ms, t->budget_hard ? "usage" : "budget_removed");
        }
    }
    if (rejected) {
        s->info.rows_rejected += rejected;
        g_stats.rows_undefined_tag += rejected;
    }
    for (uint32_t k = 0; k < f->finding_count; k++)
        rollup_finding(s->rollup, &f->findings[k]);
    for (uint32_t k = 0; k < f->site_count; k++)
        rollup_site(s->rollup, &f->sites[k]);
    session_info_t *i = &s->info;
    if (i->frames == 0) i->first_ms = t_ms;
    i->frames++;
    if (t_ms > i->last_ms || i->frames == 1) i->last_ms = t_ms;
    i->last_frame = f->frame;
    i->agent_dropped += f->frames_dropped;
    s->last.present = true;
    s->last.duration_ns = f->duration_ns;
    s->last.frames_dropped = f->frames_dropped;
    memcpy(s->last.totals, f->totals, sizeof s->last.totals);
    s->dirty = true;
    store_frame(ss, s, f, t_ms);
    if (ss->hooks.on_frame) ss->hooks.on_frame(ss->hooks.ud, s);
}

/* Room for `rows` whole tag rows in the session's base (both arrays),
 * keeping the rows it holds. */
static bool base_reserve(session_t *s, uint32_t rows) {
    fa_proto_tag_base_t *b = &s->base;
    if (rows <= b->capacity) return true;
    uint32_t cap = b->capacity ? b->capacity : 64;
    while (cap < rows)
        cap *= 2;
    fa_proto_tag_stat_t *r = realloc(b->rows, cap * sizeof *r);
    if (r) b->rows = r;
    fa_proto_tag_stat_t *t = r ? realloc(b->scratch, cap * sizeof *t) : NULL;
    if (t) b->scratch = t;
    if (!r || !t) return false;
    b->capacity = cap;
    return true;
}

/* 1.2 FRAMES: each entry made whole against the session's base (PROTOCOL.md
 * 5.6), then handled as the FRAME it stands for, so that what is stored is
 * what that FRAME would have stored. A delta whose base was lost is
 * counted and skipped until the next key entry. */
static void on_frames(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_ms,
                      uint64_t recv_mono) {
    fa_proto_storage_t st = fa_proto_storage_of(ss->space);
    fa_proto_frame_entry_t e;
    size_t offset = 0;
    int rc;
    while ((rc = fa_proto_frames_next(&m->frames, &offset, &e, &st)) > 0) {
        if (!base_reserve(s, e.tag_rows)) {
            s->base.valid = false;
            rc = FA_PROTO_ERR_STORAGE_SMALL;
        } else {
            rc = fa_proto_frame_rebuild(&s->base, &e);
        }
        if (rc < 0) {
            g_stats.frames_no_base++;
            s->info.agent_dropped += e.frame.frames_dropped; /* its own drops still happened */
            log_limited(&ss->reject_lim, 5000, LOG_INFO,
                        "session %016llx: frame %llu skipped (%s); frames resume at the next key frame",
                        (unsigned long long)s->info.id, (unsigned long long)e.frame.frame,
                        fa_proto_err_name(rc));
            continue;
        }
        on_frame(ss, s, &e.frame, recv_ms, recv_mono);
    }
}

static void on_bye(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_ms,
                   uint64_t recv_mono) {
    /* The agent's own count is authoritative for its drops. */
    if (m->bye.frames_dropped > s->info.agent_dropped) s->info.agent_dropped = m->bye.frames_dropped;
    s->dirty = true;
    if (recv_ms > s->info.last_seen_ms) s->info.last_seen_ms = recv_ms;
    s->last_recv_mono = recv_mono;
    if (s->info.live)
        end_session(ss, s, "bye");
    else
        put_session(ss, s);
}

/* A message of a session in memory (or just created for it). */
static void dispatch(sessions_t *ss, session_t *s, const fa_proto_msg_t *m, uint64_t recv_ms,
                     uint64_t recv_mono) {
    bool hello0 = m->header.type == FA_PROTO_HELLO && m->header.seq == 0;
    /* A second HELLO with seq 0 is an agent that started over; the first
     * one of a session created from its frames is only late (its seq is
     * below theirs and is no news). */
    if (hello0 && s->info.have_hello) s->seq_known = false;
    if (!(hello0 && !s->info.have_hello && s->seq_known) && !seq_check(s, m->header.seq))
        return; /* a duplicate: counted */
    g_stats.accepted_by_type[m->header.type]++;
    switch (m->header.type) {
    case FA_PROTO_HELLO:
        on_hello(ss, s, m, recv_ms, recv_mono);
        break;
    case FA_PROTO_FRAME:
        on_frame(ss, s, &m->frame, recv_ms, recv_mono);
        break;
    case FA_PROTO_FRAMES:
        on_frames(ss, s, m, recv_ms, recv_mono);
        break;
    case FA_PROTO_TAGS:
        make_live(ss, s, recv_ms, recv_mono);
        for (uint32_t k = 0; k < m->tags.tag_count; k++)
            define_tag(ss, s, &m->tags.tags[k]);
        break;
    case FA_PROTO_BYE:
        on_bye(ss, s, m, recv_ms, recv_mono);
        break;
    case FA_PROTO_SITES:
        make_live(ss, s, recv_ms, recv_mono);
        define_sites(ss, s, &m->sites);
        break;
    }
}

/* ---- pending: messages of sessions being looked up -------------------------- */

static pending_t *pending_find(sessions_t *ss, uint64_t id) {
    for (pending_t *p = ss->pending; p; p = p->next)
        if (p->id == id) return p;
    return NULL;
}

static void free_pending(pending_t *p) {
    for (uint32_t i = 0; i < p->n; i++)
        free(p->msgs[i]);
    free(p->msgs);
    free(p);
}

static void orphan(sessions_t *ss, uint64_t id, const char *why) {
    g_stats.orphaned++;
    log_limited(&ss->orphan_lim, 5000, LOG_WARN, "message of session %016llx orphaned: %s",
                (unsigned long long)id, why);
}

/* Keeps a message until its session is resolved; asks the writer when
 * this is the session's first waiting message. */
static void pend(sessions_t *ss, uint64_t id, const void *buf, size_t len, uint64_t recv_ms,
                 uint64_t recv_mono, uint32_t source) {
    pending_t *p = pending_find(ss, id);
    const char *why = NULL;
    bool ask = false;
    if (!p) {
        if (ss->pending_sessions >= PENDING_MAX_SESSIONS)
            why = "too many sessions waiting to be resolved";
        else if (!(p = calloc(1, sizeof *p)))
            why = "out of memory";
        else {
            p->id = id;
            p->first_mono = recv_mono;
            p->next = ss->pending;
            ss->pending = p;
            ss->pending_sessions++;
            ask = true;
        }
    }
    if (!why && p->n >= PENDING_MAX_PER_SESSION) why = "too many messages waiting for the session";
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
        orphan(ss, id, why);
    } else {
        pm->recv_ms = recv_ms;
        pm->recv_mono = recv_mono;
        pm->source = source;
        pm->len = len;
        memcpy(pm->data, buf, len);
        p->msgs[p->n++] = pm;
        p->bytes += len;
        ss->pending_bytes += len;
        g_stats.pending++;
    }
    if (ask) {
        if (ss->writer)
            writer_lookup(ss->writer, id);
        else
            sessions_resolved(ss, id, NULL);
    }
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

static void count_reject(sessions_t *ss, int rc, size_t len) {
    g_stats.rejected++;
    if (-rc > 0 && -rc < STATS_REJECT_REASONS) g_stats.rejected_by[-rc]++;
    log_limited(&ss->reject_lim, 5000, LOG_WARN, "rejected a %zu-byte message: %s (%s)", len,
                fa_proto_err_name(rc), fa_proto_strerror(rc));
}

/* Whether source may speak for s: a live session belongs to the
 * connection that sent its messages while that connection is open; a
 * second agent claiming its id meanwhile is refused and counted (it would
 * overwrite the first one's frames). A closed connection hands the session
 * to the next (an agent reconnecting). */
static bool claim(sessions_t *ss, session_t *s, uint32_t source) {
    if (!source) return true;
    if (s->info.live && s->source && s->source != source && ss->source_open && ss->source_open(s->source)) {
        g_stats.session_conflicts++;
        log_limited(&ss->conflict_lim, 5000, LOG_WARN,
                    "refused a message for session %016llx from a second connection: the session belongs to "
                    "a live agent (app '%s' pid %u host '%s'); two agents must not share a session id",
                    (unsigned long long)s->info.id, s->info.app, s->info.pid, s->info.host);
        return false;
    }
    s->source = source;
    return true;
}

void sessions_set_source_check(sessions_t *ss, bool (*source_open)(uint32_t source)) {
    ss->source_open = source_open;
}

void sessions_handle(sessions_t *ss, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono) {
    sessions_handle_from(ss, buf, len, recv_ms, recv_mono, 0);
}

void sessions_handle_from(sessions_t *ss, const void *buf, size_t len, uint64_t recv_ms, uint64_t recv_mono,
                          uint32_t source) {
    fa_proto_storage_t st = fa_proto_storage_of(ss->space);
    fa_proto_msg_t m;
    int rc = fa_proto_decode(buf, len, &m, &st);
    if (rc != FA_PROTO_OK) {
        /* A valid header with an unknown type still names its session. */
        fa_proto_header_t h;
        if (rc == FA_PROTO_ERR_UNKNOWN_TYPE && fa_proto_decode_header(buf, len, &h) == FA_PROTO_OK) {
            session_t *s = find(ss, h.session_id);
            if (s) seq_check(s, h.seq);
        }
        count_reject(ss, rc, len);
        return;
    }
    session_t *s = find(ss, m.header.session_id);
    if (!s && !known_maybe(ss, m.header.session_id) && !pending_find(ss, m.header.session_id)) {
        /* Never stored: a new session, no look-up. */
        if (!(s = create_live(ss, m.header.session_id))) {
            orphan(ss, m.header.session_id, "too many live sessions");
            return;
        }
    }
    if (!s) {
        pend(ss, m.header.session_id, buf, len, recv_ms, recv_mono, source);
        return;
    }
    if (claim(ss, s, source)) dispatch(ss, s, &m, recv_ms, recv_mono);
}

void sessions_resolved(sessions_t *ss, uint64_t id, session_view_t *v) {
    pending_t *p = unlink_pending(ss, id);
    session_t *s = find(ss, id);
    if (!s && v)
        s = adopt(ss, v, false);
    else
        view_free(v);
    if (!p) return;
    if (!s && !(s = create_live(ss, id))) {
        g_stats.orphaned += p->n;
        free_pending(p);
        return;
    }
    /* Replay in arrival order; each decodes into the shared storage. */
    LOG(LOG_DEBUG, "session %016llx: %s, replaying %u messages", (unsigned long long)id,
        s->info.frames || s->info.have_hello ? "found in the store" : "new", p->n);
    ss->replay_depth++;
    for (uint32_t i = 0; i < p->n; i++) {
        fa_proto_storage_t st = fa_proto_storage_of(ss->space);
        fa_proto_msg_t m;
        if (fa_proto_decode(p->msgs[i]->data, p->msgs[i]->len, &m, &st) == FA_PROTO_OK &&
            claim(ss, s, p->msgs[i]->source))
            dispatch(ss, s, &m, p->msgs[i]->recv_ms, p->msgs[i]->recv_mono);
    }
    ss->replay_depth--;
    free_pending(p);
}

/* ---- housekeeping ------------------------------------------------------------ */

static void save_dirty(sessions_t *ss, session_t *s) {
    for (uint32_t k = 0; k < s->tag_count; k++) {
        tag_t *t = &s->tags[k];
        if (t->dirty) put_tag(ss, s, t);
        if (t->alert.level != ALERT_NONE && t->alert.peak_dirty) {
            alert_row_t row;
            put_alert(ss, s, t, 0, NULL, &row);
            t->alert.peak_dirty = false;
        }
    }
    if (s->dirty) put_session(ss, s);
}

void sessions_tick(sessions_t *ss, uint64_t now, bool save) {
    for (session_t *s = ss->live.head, *next; s; s = next) {
        next = s->next;
        if (now - s->last_recv_mono > ss->opt.session_timeout_ms) end_session(ss, s, "timeout");
    }
    /* Ended sessions beyond the bound leave memory once their records are
     * committed (the API reads the store for them from then on). */
    uint64_t committed = ss->writer ? writer_committed(ss->writer) : UINT64_MAX;
    for (session_t *s = ss->ended.head, *next; s && ss->ended.count > ss->opt.max_ended; s = next) {
        next = s->next;
        if (s->last_write > committed || s->dirty || pending_find(ss, s->info.id)) continue;
        list_remove(&ss->ended, s);
        session_free(ss, s);
        g_stats.sessions_evicted++;
    }
    for (pending_t **pp = &ss->pending; *pp;) {
        pending_t *p = *pp;
        if (now - p->first_mono < PENDING_TIMEOUT_MS) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        ss->pending_sessions--;
        ss->pending_bytes -= p->bytes;
        g_stats.pending -= p->n;
        g_stats.orphaned += p->n;
        log_limited(&ss->orphan_lim, 5000, LOG_WARN,
                    "%u messages of session %016llx orphaned: not resolved within %u s", p->n,
                    (unsigned long long)p->id, PENDING_TIMEOUT_MS / 1000);
        free_pending(p);
    }
    /* Figures that changed (tags' live bytes, alert peaks, counters) are
     * saved every few seconds, unless the writer is behind. */
    if (save && !(ss->writer && writer_backlogged(ss->writer)))
        for (session_t *s = ss->live.head; s; s = s->next)
            save_dirty(ss, s);
}

void sessions_flush(sessions_t *ss) {
    rollup_sink_t sink = sink_of(ss);
    for (session_t *s = ss->live.head; s; s = s->next) {
        rollup_flush(s->rollup, &sink);
        save_dirty(ss, s);
    }
    for (session_t *s = ss->ended.head; s; s = s->next)
        save_dirty(ss, s);
}

/* ---- create / destroy ------------------------------------------------------- */

sessions_t *sessions_create(writer_t *writer, const sessions_options_t *opt, const sessions_hooks_t *hooks) {
    sessions_t *ss = calloc(1, sizeof *ss);
    if (!ss) return NULL;
    ss->writer = writer;
    ss->opt = *opt;
    if (!ss->opt.max_tags) ss->opt.max_tags = 1024;
    if (!ss->opt.max_live) ss->opt.max_live = 4096;
    if (!ss->opt.max_sites) ss->opt.max_sites = 16384;
    ss->next_alert_id = 1;
    if (hooks) ss->hooks = *hooks;
    ss->space = malloc(sizeof *ss->space);
    ss->known = calloc(KNOWN_BITS / 64, sizeof *ss->known);
    if (!ss->space || !ss->known) {
        free(ss->space);
        free(ss->known);
        free(ss);
        return NULL;
    }
    return ss;
}

void sessions_attach_writer(sessions_t *ss, writer_t *writer) {
    ss->writer = writer;
}

void sessions_set_hooks_data(sessions_t *ss, void *ud) {
    ss->hooks.ud = ud;
}

void sessions_destroy(sessions_t *ss) {
    if (!ss) return;
    for (session_list_t *l = &ss->live; l; l = l == &ss->live ? &ss->ended : NULL)
        while (l->head) {
            session_t *s = l->head;
            list_remove(l, s);
            session_free(ss, s);
        }
    while (ss->pending) {
        pending_t *p = ss->pending;
        ss->pending = p->next;
        g_stats.pending -= p->n;
        free_pending(p);
    }
    free(ss->space);
    free(ss->known);
    free(ss->blob);
    free(ss);
}
