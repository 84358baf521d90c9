/* api.c — the /api/v1 routes: path and query validation, answers built
 * from the in-memory sessions (loop thread) or from SQLite on the thread
 * pool (query.c). Every bad input is a 400 naming the parameter; see
 * API.md for the contract. */
#include "insightd.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FRAMES_LIMIT_DEFAULT 100u
#define FRAMES_LIMIT_MAX 1000u
#define FINDINGS_LIMIT_DEFAULT 200u
#define FINDINGS_LIMIT_MAX 5000u
#define TREND_POINTS_DEFAULT 120u
#define TREND_POINTS_MAX 1000u
#define TREND_WINDOW_DEFAULT_MS (5u * 60u * 1000u)
#define TREND_WINDOW_MIN_MS 1000u
#define TREND_WINDOW_MAX_MS (30ull * 24u * 3600u * 1000u)
#define UNIX_MS_MAX 9007199254740991ull /* 2^53 - 1: exact in every JSON reader */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int api_url_decode(char *s, bool plus_is_space) {
    char *out = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
            if (hi < 0 || lo < 0) return -1;
            int c = hi * 16 + lo;
            if (c == 0) return -1;
            *out++ = (char)c;
            p += 2;
        } else if (*p == '+' && plus_is_space) {
            *out++ = ' ';
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return (int)(out - s);
}

int api_parse_query(const char *query, api_param_t *out, int cap, char *err, size_t errcap) {
    int n = 0;
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            if (n == cap) {
                snprintf(err, errcap, "too many query parameters (at most %d)", cap);
                return -1;
            }
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            if (nlen >= sizeof out[n].name || vlen >= sizeof out[n].value) {
                snprintf(err, errcap, "query parameter too long");
                return -1;
            }
            memcpy(out[n].name, p, nlen);
            out[n].name[nlen] = '\0';
            memcpy(out[n].value, eq ? eq + 1 : "", vlen);
            out[n].value[vlen] = '\0';
            if (api_url_decode(out[n].name, true) < 0 || api_url_decode(out[n].value, true) < 0) {
                snprintf(err, errcap, "bad percent-encoding in the query string");
                return -1;
            }
            if (out[n].name[0] == '\0') {
                snprintf(err, errcap, "query parameter without a name");
                return -1;
            }
            for (int i = 0; i < n; i++) {
                if (strcmp(out[i].name, out[n].name) == 0) {
                    snprintf(err, errcap, "parameter '%s' given twice", out[n].name);
                    return -1;
                }
            }
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return n;
}

/* ---- request context ---------------------------------------------------- */

enum route {
    R_HEALTH,
    R_SESSIONS,
    R_SESSION,
    R_FRAMES,
    R_TAGS,
    R_TREND,
    R_BUDGETS,
    R_FINDINGS,
    R_ALERTS,
};

typedef struct request {
    insightd_ctx_t *ctx;
    http_req_t *r;
    api_param_t params[API_MAX_PARAMS];
    int nparams;
} request_t;

static const char *param(request_t *q, const char *name) {
    for (int i = 0; i < q->nparams; i++)
        if (strcmp(q->params[i].name, name) == 0) return q->params[i].value;
    return NULL;
}

/* Answers 400 for any parameter not in allowed (NULL-terminated). */
static bool only_params(request_t *q, const char *const *allowed) {
    for (int i = 0; i < q->nparams; i++) {
        bool ok = false;
        for (int k = 0; allowed && allowed[k]; k++)
            if (strcmp(q->params[i].name, allowed[k]) == 0) ok = true;
        if (!ok) {
            char list[200] = "";
            for (int k = 0; allowed && allowed[k]; k++) {
                strncat(list, k ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[k], sizeof list - strlen(list) - 1);
            }
            http_reply_error(q->r, 400, "unknown_parameter", q->params[i].name,
                             "unknown query parameter '%s' (this route accepts: %s)", q->params[i].name,
                             list[0] ? list : "none");
            return false;
        }
    }
    return true;
}

/* Strict decimal: digits only, within [min, max]. */
static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    if (!s[0] || strlen(s) > 20) return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno || v < min || v > max) return false;
    *out = v;
    return true;
}

/* An optional integer parameter. Returns false after answering 400. */
static bool int_param(request_t *q, const char *name, uint64_t min, uint64_t max, uint64_t def, uint64_t *out,
                      bool *present, const char *what) {
    const char *v = param(q, name);
    if (present) *present = v != NULL;
    if (!v) {
        *out = def;
        return true;
    }
    if (!parse_u64(v, min, max, out)) {
        http_reply_error(q->r, 400, "bad_parameter", name,
                         "parameter '%s' must be %s in %llu..%llu, got '%s'", name, what,
                         (unsigned long long)min, (unsigned long long)max, v);
        return false;
    }
    return true;
}

/* "latest" or 16 hex digits naming a known session. Answers 400/404 and
 * returns NULL otherwise. */
static session_t *session_param(request_t *q, const char *value, const char *name) {
    sessions_t *ss = q->ctx->sessions;
    session_t *s;
    if (strcmp(value, "latest") == 0) {
        if (!(s = sessions_latest(ss)))
            http_reply_error(q->r, 404, "session_not_found", name, "no session has been seen yet");
        return s;
    }
    uint64_t id;
    if (insightd_sid_parse(value, &id) != 0) {
        http_reply_error(q->r, 400, "bad_parameter", name,
                         "parameter '%s' must be a session id (16 hex digits) or 'latest', got '%.64s'", name,
                         value);
        return NULL;
    }
    if (!(s = sessions_find(ss, id)))
        http_reply_error(q->r, 404, "session_not_found", name, "no session %016llx", (unsigned long long)id);
    return s;
}

static void reply_doc(request_t *q, cJSON *doc) {
    char *s = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!s) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return;
    }
    http_reply_json(q->r, 200, s);
    free(s);
}

/* ---- loop-thread routes ------------------------------------------------- */

static void route_health(request_t *q) {
    insightd_ctx_t *c = q->ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", "ok");
    cJSON_AddStringToObject(o, "version", INSIGHTD_VERSION);
    char proto[16];
    snprintf(proto, sizeof proto, "%d.%d", FA_PROTO_VERSION_MAJOR, FA_PROTO_VERSION_MINOR);
    cJSON_AddStringToObject(o, "protocol", proto);
    uint64_t now = insightd_now_ms();
    json_add_u64(o, "now_ms", now);
    json_add_u64(o, "started_ms", c->started_ms);
    json_add_u64(o, "uptime_ms", insightd_mono_ms() - c->started_mono);
    cJSON_AddStringToObject(o, "http_url", c->http_url);
    char ws[340];
    snprintf(ws, sizeof ws, "ws%s/ws", c->http_url + 4);
    cJSON_AddStringToObject(o, "ws_url", ws);

    cJSON *in = cJSON_AddObjectToObject(o, "ingest");
    cJSON_AddStringToObject(in, "url", c->ingest_url);
    uint64_t dropped = atomic_load(&g_stats.queue_dropped) + g_stats.frames_dropped_store + g_stats.orphaned;
    json_add_u64(in, "received", atomic_load(&g_stats.received));
    json_add_u64(in, "received_bytes", atomic_load(&g_stats.received_bytes));
    json_add_u64(in, "stored", g_stats.frames_stored);
    json_add_u64(in, "rejected", g_stats.rejected);
    json_add_u64(in, "dropped", dropped);
    json_add_u64(in, "uncommitted", g_stats.frames_uncommitted);
    json_add_u64(in, "pending", g_stats.pending);
    json_add_u64(in, "gaps", g_stats.gaps);
    json_add_u64(in, "out_of_order", g_stats.out_of_order);
    json_add_u64(in, "queue_depth", atomic_load(&g_stats.queue_depth));
    json_add_u64(in, "queue_high_water", atomic_load(&g_stats.queue_high_water));
    cJSON *acc = cJSON_AddObjectToObject(in, "accepted");
    json_add_u64(acc, "hello", g_stats.accepted_by_type[FA_PROTO_HELLO]);
    json_add_u64(acc, "frame", g_stats.accepted_by_type[FA_PROTO_FRAME]);
    json_add_u64(acc, "tags", g_stats.accepted_by_type[FA_PROTO_TAGS]);
    json_add_u64(acc, "bye", g_stats.accepted_by_type[FA_PROTO_BYE]);
    cJSON *dr = cJSON_AddObjectToObject(in, "dropped_by_reason");
    json_add_u64(dr, "queue_full", atomic_load(&g_stats.queue_dropped));
    json_add_u64(dr, "store_error", g_stats.frames_dropped_store);
    json_add_u64(dr, "orphaned", g_stats.orphaned);
    cJSON *rj = cJSON_AddObjectToObject(in, "rejected_by_reason");
    for (int i = 1; i < STATS_REJECT_REASONS; i++)
        if (g_stats.rejected_by[i]) json_add_u64(rj, fa_proto_err_name(-i), g_stats.rejected_by[i]);

    cJSON *st = cJSON_AddObjectToObject(o, "store");
    cJSON_AddStringToObject(st, "path", c->cfg->db_path);
    json_add_u64(st, "commits", g_stats.commits);
    json_add_u64(st, "commit_errors", g_stats.commit_errors);
    json_add_u64(st, "write_errors", g_stats.store_errors);
    json_add_u64(st, "commit_interval_ms", c->cfg->commit_interval_ms);
    json_add_u64(st, "last_commit_ms", g_stats.last_commit_unix_ms);
    json_add_u64(st, "commit_duration_ms_last", g_stats.commit_ms_last);
    json_add_u64(st, "commit_duration_ms_max", g_stats.commit_ms_max);
    json_add_u64(st, "rows_in_transaction", store_rows_in_txn(c->store));
    json_add_u64(st, "retention_ms", c->cfg->retention_ms);
    json_add_u64(st, "rollup_retention_ms", c->cfg->rollup_retention_ms);
    json_add_u64(st, "retention_deleted", g_stats.retention_deleted);
    json_add_u64(st, "wal_resets", g_stats.wal_resets);

    cJSON *se = cJSON_AddObjectToObject(o, "sessions");
    json_add_u64(se, "known", sessions_count(c->sessions));
    json_add_u64(se, "live", sessions_live_count(c->sessions));

    cJSON *w = cJSON_AddObjectToObject(o, "ws");
    json_add_u64(w, "clients", g_stats.ws_clients);
    json_add_u64(w, "accepted", g_stats.ws_accepted);
    json_add_u64(w, "sent", g_stats.ws_sent);
    json_add_u64(w, "merged", g_stats.ws_merged);
    json_add_u64(w, "dropped", g_stats.ws_dropped);
    json_add_u64(w, "stalled", c->ws ? ws_stalled(c->ws) : 0);
    json_add_u64(w, "closed_slow", g_stats.ws_closed_slow);
    json_add_u64(w, "bad_messages", g_stats.ws_bad_messages);
    json_add_u64(w, "rate", c->cfg->ws_rate);

    cJSON *h = cJSON_AddObjectToObject(o, "http");
    json_add_u64(h, "requests", g_stats.http_requests);
    json_add_u64(h, "errors_4xx", g_stats.http_4xx);
    json_add_u64(h, "errors_5xx", g_stats.http_5xx);
    json_add_u64(h, "inflight", g_stats.http_inflight);
    cJSON_AddStringToObject(h, "web_root", c->cfg->web_root);
    cJSON_AddBoolToObject(h, "web_root_ok", c->web_root_ok);
    reply_doc(q, o);
}

static int by_activity(const void *a, const void *b) {
    const session_t *x = *(session_t *const *)a, *y = *(session_t *const *)b;
    if (x->live != y->live) return x->live ? -1 : 1;
    uint64_t wx = x->frames ? x->last_ms : x->started_ms, wy = y->frames ? y->last_ms : y->started_ms;
    return (wx < wy) - (wx > wy);
}

static void route_sessions(request_t *q) {
    sessions_t *ss = q->ctx->sessions;
    uint32_t n = sessions_count(ss), k = 0;
    session_t **list = malloc((n ? n : 1) * sizeof *list);
    if (!list) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if (sessions_at(ss, i)) list[k++] = sessions_at(ss, i);
    qsort(list, k, sizeof *list, by_activity);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "sessions");
    for (uint32_t i = 0; i < k; i++)
        cJSON_AddItemToArray(arr, json_session(list[i]));
    json_add_u64(o, "count", k);
    json_add_u64(o, "live", sessions_live_count(ss));
    free(list);
    reply_doc(q, o);
}

/* The tag forest of a session: effective parent of each tag slot (-1 for a
 * top-level node) with cycles and unknown parents broken, and children
 * lists in id order. */
typedef struct forest {
    int32_t *parent; /* by slot */
    int32_t *first;  /* first child slot, -1 */
    int32_t *next;   /* next sibling slot, -1 */
    uint32_t n;
} forest_t;

static int slot_by_id(const void *a, const void *b, void *ctx) {
    const session_t *s = ctx;
    uint16_t x = s->tags[*(const int32_t *)a].id, y = s->tags[*(const int32_t *)b].id;
    return (x > y) - (x < y);
}

static session_t *sort_session; /* qsort has no context argument in C11 */
static int slot_cmp(const void *a, const void *b) {
    return slot_by_id(a, b, sort_session);
}

static int forest_build(const session_t *s, forest_t *f) {
    uint32_t n = s->tag_count;
    f->n = n;
    f->parent = malloc((n + 1) * sizeof *f->parent);
    f->first = malloc((n + 1) * sizeof *f->first);
    f->next = malloc((n + 1) * sizeof *f->next);
    uint8_t *state = calloc(n + 1, 1); /* 0 unknown, 1 visiting, 2 done */
    int32_t *path = malloc((n + 1) * sizeof *path);
    int32_t *order = malloc((n + 1) * sizeof *order);
    if (!f->parent || !f->first || !f->next || !state || !path || !order) {
        free(f->parent), free(f->first), free(f->next), free(state), free(path), free(order);
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        const tag_t *t = &s->tags[i];
        tag_t *p = t->parent_id != t->id ? sessions_tag((session_t *)s, t->parent_id) : NULL;
        f->parent[i] = p ? (int32_t)(p - s->tags) : -1;
        f->first[i] = f->next[i] = -1;
    }
    /* Walk each chain once; a chain that meets itself is a cycle: its
     * members become top-level nodes. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t len = 0;
        int32_t cur = (int32_t)i;
        while (cur >= 0 && state[cur] == 0) {
            state[cur] = 1;
            path[len++] = cur;
            cur = f->parent[cur];
        }
        bool cycle = cur >= 0 && state[cur] == 1;
        for (uint32_t k = 0; k < len; k++) {
            state[path[k]] = 2;
            if (cycle) f->parent[path[k]] = -1;
        }
    }
    /* Children in id order: insert in reverse id order at the head. */
    for (uint32_t i = 0; i < n; i++)
        order[i] = (int32_t)i;
    sort_session = (session_t *)s;
    qsort(order, n, sizeof *order, slot_cmp);
    for (uint32_t k = n; k-- > 0;) {
        int32_t i = order[k], p = f->parent[i];
        if (p >= 0) {
            f->next[i] = f->first[p];
            f->first[p] = i;
        }
    }
    free(state);
    free(path);
    free(order);
    return 0;
}

static void forest_free(forest_t *f) {
    free(f->parent);
    free(f->first);
    free(f->next);
}

/* Live sessions: the alert state (with its hysteresis). Ended ones have
 * no open alert any more: judge their last figures instead. */
static const char *tag_state(const session_t *s, const tag_t *t) {
    if (!t->budget_hard) return "no_budget";
    if (s->live) return t->alert.level == ALERT_NONE ? "ok" : alerts_level_name(t->alert.level);
    double pct = alerts_pct(t->live_bytes, t->budget_hard);
    return pct >= ALERT_CRIT_PCT ? "critical" : pct >= ALERT_WARN_PCT ? "warning" : "ok";
}

static void add_budget_fields(cJSON *o, const session_t *s, const tag_t *t) {
    json_add_u64(o, "budget_soft", t->budget_soft);
    json_add_u64(o, "budget_hard", t->budget_hard);
    if (t->budget_hard)
        cJSON_AddNumberToObject(o, "used_pct", alerts_pct(t->live_bytes, t->budget_hard));
    else
        cJSON_AddNullToObject(o, "used_pct");
    if (t->budget_soft)
        cJSON_AddNumberToObject(o, "soft_pct", alerts_pct(t->live_bytes, t->budget_soft));
    else
        cJSON_AddNullToObject(o, "soft_pct");
    cJSON_AddBoolToObject(o, "over_soft", t->budget_soft && t->live_bytes > t->budget_soft);
    cJSON_AddBoolToObject(o, "over_hard", t->budget_hard && t->live_bytes > t->budget_hard);
    cJSON_AddStringToObject(o, "state", tag_state(s, t));
}

static cJSON *tag_node(const session_t *s, const tag_t *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", t->id);
    cJSON_AddNumberToObject(o, "parent_id", t->parent_id);
    cJSON_AddStringToObject(o, "path", t->path);
    const char *slash = strrchr(t->path, '/');
    cJSON_AddStringToObject(o, "name", t->path[0] ? (slash ? slash + 1 : t->path) : "(root)");
    cJSON_AddBoolToObject(o, "defined", t->defined);
    cJSON_AddBoolToObject(o, "seen", t->seen);
    json_add_u64(o, "live_bytes", t->live_bytes);
    json_add_u64(o, "peak_bytes", t->peak_bytes);
    json_add_u64(o, "frame_bytes", t->frame_bytes);
    json_add_u64(o, "pool_bytes", t->pool_bytes);
    json_add_u64(o, "heap_bytes", t->heap_bytes);
    json_add_u64(o, "alloc_count", t->alloc_count);
    add_budget_fields(o, s, t);
    if (t->alert.level != ALERT_NONE)
        cJSON_AddStringToObject(o, "alert", alerts_level_name(t->alert.level));
    else
        cJSON_AddNullToObject(o, "alert");
    return o;
}

static void add_session_header(cJSON *o, const session_t *s) {
    json_add_sid(o, "session", s->id);
    cJSON_AddBoolToObject(o, "live", s->live);
    json_add_u64_or_null(o, "frame", s->last_frame, s->frames > 0);
    json_add_u64_or_null(o, "t_ms", s->last_ms, s->frames > 0);
}

static void route_session(request_t *q, session_t *s) {
    cJSON *o = json_session(s);
    if (s->frames) {
        json_add_u64(o, "last_duration_ns", s->last_duration_ns);
        cJSON_AddItemToObject(o, "totals", json_kind_totals(s->totals));
    }
    reply_doc(q, o);
}

static void route_tags(request_t *q, session_t *s) {
    forest_t f;
    if (forest_build(s, &f) != 0) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return;
    }
    cJSON **nodes = malloc((s->tag_count + 1) * sizeof *nodes);
    if (!nodes) {
        forest_free(&f);
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return;
    }
    for (uint32_t i = 0; i < s->tag_count; i++)
        nodes[i] = tag_node(s, &s->tags[i]);
    /* Attach children (already in id order) without recursion. */
    for (uint32_t i = 0; i < s->tag_count; i++) {
        cJSON *kids = cJSON_AddArrayToObject(nodes[i], "children");
        for (int32_t c = f.first[i]; c >= 0; c = f.next[c])
            cJSON_AddItemToArray(kids, nodes[c]);
    }
    cJSON *o = cJSON_CreateObject();
    add_session_header(o, s);
    json_add_u64(o, "count", s->tag_count);
    cJSON *tree = cJSON_AddArrayToObject(o, "tree");
    sort_session = s;
    int32_t *tops = malloc((s->tag_count + 1) * sizeof *tops);
    uint32_t ntop = 0;
    for (uint32_t i = 0; tops && i < s->tag_count; i++)
        if (f.parent[i] < 0) tops[ntop++] = (int32_t)i;
    if (tops) qsort(tops, ntop, sizeof *tops, slot_cmp);
    for (uint32_t k = 0; k < ntop; k++)
        cJSON_AddItemToArray(tree, nodes[tops[k]]);
    free(tops);
    free(nodes);
    forest_free(&f);
    reply_doc(q, o);
}

static void route_budgets(request_t *q, session_t *s) {
    static const char *const allowed[] = {"tag", NULL};
    if (!only_params(q, allowed)) return;
    const char *tag = param(q, "tag");
    tag_t *top = NULL;
    if (tag) {
        if (!tag[0]) {
            http_reply_error(q->r, 400, "bad_parameter", "tag",
                             "parameter 'tag' must not be empty (the root is '/')");
            return;
        }
        if (!(top = sessions_tag_by_path(s, tag))) {
            http_reply_error(q->r, 404, "tag_not_found", "tag", "session %016llx has no tag '%.255s'",
                             (unsigned long long)s->id, tag);
            return;
        }
    }
    forest_t f;
    int32_t *stack = malloc((s->tag_count + 1) * sizeof *stack);
    uint32_t *depth = malloc((s->tag_count + 1) * sizeof *depth);
    if (!stack || !depth || forest_build(s, &f) != 0) {
        free(stack), free(depth);
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return;
    }
    cJSON *o = cJSON_CreateObject();
    add_session_header(o, s);
    cJSON_AddStringToObject(o, "tag", top ? top->path : "/");
    cJSON *rows = cJSON_AddArrayToObject(o, "budgets");
    /* Depth-first from the chosen tag (or every top-level node). */
    uint32_t sp = 0;
    if (top) {
        stack[sp] = (int32_t)(top - s->tags);
        depth[sp++] = 0;
    } else {
        sort_session = s;
        int32_t *tops = malloc((s->tag_count + 1) * sizeof *tops);
        uint32_t ntop = 0;
        for (uint32_t i = 0; tops && i < s->tag_count; i++)
            if (f.parent[i] < 0) tops[ntop++] = (int32_t)i;
        if (tops) qsort(tops, ntop, sizeof *tops, slot_cmp);
        for (uint32_t k = ntop; k-- > 0;) {
            stack[sp] = tops[k];
            depth[sp++] = 0;
        }
        free(tops);
    }
    uint32_t over = 0;
    while (sp > 0) {
        sp--;
        int32_t i = stack[sp];
        uint32_t d = depth[sp];
        const tag_t *t = &s->tags[i];
        cJSON *row = cJSON_CreateObject();
        cJSON_AddNumberToObject(row, "id", t->id);
        cJSON_AddStringToObject(row, "path", t->path);
        cJSON_AddNumberToObject(row, "depth", d);
        json_add_u64(row, "live_bytes", t->live_bytes);
        json_add_u64(row, "peak_bytes", t->peak_bytes);
        add_budget_fields(row, s, t);
        cJSON_AddItemToArray(rows, row);
        if (t->budget_hard && t->live_bytes > t->budget_hard) over++;
        /* Push children in reverse id order so they pop in id order. */
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
    json_add_u64(o, "over_hard", over);
    free(stack);
    free(depth);
    forest_free(&f);
    reply_doc(q, o);
}

/* ---- thread-pool routes ------------------------------------------------- */

typedef struct job {
    insightd_ctx_t *ctx;
    http_req_t *r;
    int route;
    uint64_t sid;
    bool has_session;
    uint64_t from, to, since, window, end;
    bool has_from, has_to;
    uint32_t limit, points;
    uint16_t tag_id;
    char tag[FA_PROTO_MAX_STRING + 2];
    int state;
    query_result_t res;
    char *body;
} job_t;

static void job_work(void *arg) {
    job_t *j = arg;
    sqlite3 *db = query_acquire(j->ctx->readers);
    cJSON *doc = NULL;
    switch (j->route) {
    case R_FRAMES: {
        size_t len;
        j->body = query_frames(db, j->sid, j->from, j->to, j->has_from, j->has_to, j->limit, &j->res, &len);
        break;
    }
    case R_TREND:
        doc = query_trend(db, j->sid, j->tag_id, j->end, j->window, j->points, &j->res);
        if (doc) cJSON_AddStringToObject(doc, "tag", j->tag);
        break;
    case R_FINDINGS:
        doc = query_findings(db, j->sid, j->since, j->limit, &j->res);
        break;
    case R_ALERTS:
        doc = query_alerts(db, j->has_session, j->sid, j->since, j->state, &j->res);
        break;
    }
    query_release(j->ctx->readers, db);
    if (doc) {
        j->body = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!j->body) {
            j->res.status = 500;
            snprintf(j->res.code, sizeof j->res.code, "internal");
            snprintf(j->res.message, sizeof j->res.message, "out of memory");
        }
    }
}

static void job_done(void *arg, int status) {
    job_t *j = arg;
    if (status == UV_ECANCELED)
        http_reply_error(j->r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    else if (j->body)
        http_reply_json(j->r, 200, j->body);
    else
        http_reply_error(j->r, (uint16_t)j->res.status, j->res.code, NULL, "%s", j->res.message);
    free(j->body);
    free(j);
}

static void submit(request_t *q, job_t *j) {
    j->ctx = q->ctx;
    j->r = q->r;
    if (http_queue_work(q->ctx->http, job_work, job_done, j) != 0) {
        free(j);
        http_reply_error(q->r, 500, "internal", NULL, "cannot queue the query");
    }
}

static job_t *new_job(request_t *q, int route) {
    job_t *j = calloc(1, sizeof *j);
    if (!j)
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
    else
        j->route = route;
    return j;
}

static void route_frames(request_t *q, session_t *s) {
    static const char *const allowed[] = {"from", "to", "limit", NULL};
    if (!only_params(q, allowed)) return;
    uint64_t from, to, limit;
    bool has_from, has_to;
    if (!int_param(q, "from", 0, UNIX_MS_MAX, 0, &from, &has_from, "a time in unix milliseconds") ||
        !int_param(q, "to", 0, UNIX_MS_MAX, 0, &to, &has_to, "a time in unix milliseconds") ||
        !int_param(q, "limit", 1, FRAMES_LIMIT_MAX, FRAMES_LIMIT_DEFAULT, &limit, NULL, "an integer"))
        return;
    if (has_from && has_to && from > to) {
        http_reply_error(q->r, 400, "bad_parameter", "to", "parameter 'to' (%llu) is before 'from' (%llu)",
                         (unsigned long long)to, (unsigned long long)from);
        return;
    }
    job_t *j = new_job(q, R_FRAMES);
    if (!j) return;
    j->sid = s->id;
    j->from = from, j->to = to, j->has_from = has_from, j->has_to = has_to;
    j->limit = (uint32_t)limit;
    submit(q, j);
}

static void route_trend(request_t *q, session_t *s) {
    static const char *const allowed[] = {"tag", "window", "points", NULL};
    if (!only_params(q, allowed)) return;
    const char *tag = param(q, "tag");
    if (!tag) {
        http_reply_error(q->r, 400, "missing_parameter", "tag",
                         "parameter 'tag' is required (a tag path such as 'physics/contacts', or '/')");
        return;
    }
    if (!tag[0]) {
        http_reply_error(q->r, 400, "bad_parameter", "tag",
                         "parameter 'tag' must not be empty (the root is '/')");
        return;
    }
    tag_t *t = sessions_tag_by_path(s, tag);
    if (!t) {
        http_reply_error(q->r, 404, "tag_not_found", "tag", "session %016llx has no tag '%.255s'",
                         (unsigned long long)s->id, tag);
        return;
    }
    uint64_t window = TREND_WINDOW_DEFAULT_MS, points;
    const char *w = param(q, "window");
    if (w && (config_parse_duration(w, &window) != 0 || window < TREND_WINDOW_MIN_MS ||
              window > TREND_WINDOW_MAX_MS)) {
        http_reply_error(
            q->r, 400, "bad_parameter", "window",
            "parameter 'window' must be a duration from 1s to 30d (e.g. 90s, 5m, 1h; a bare number "
            "is seconds), got '%.64s'",
            w);
        return;
    }
    if (!int_param(q, "points", 1, TREND_POINTS_MAX, TREND_POINTS_DEFAULT, &points, NULL, "an integer"))
        return;
    job_t *j = new_job(q, R_TREND);
    if (!j) return;
    j->sid = s->id;
    j->tag_id = t->id;
    snprintf(j->tag, sizeof j->tag, "%s", t->path);
    j->window = window;
    j->points = (uint32_t)points;
    j->end = s->frames ? s->last_ms : insightd_now_ms();
    submit(q, j);
}

static void route_findings(request_t *q, session_t *s) {
    static const char *const allowed[] = {"since", "limit", NULL};
    if (!only_params(q, allowed)) return;
    uint64_t since, limit;
    if (!int_param(q, "since", 0, UNIX_MS_MAX, 0, &since, NULL, "a time in unix milliseconds") ||
        !int_param(q, "limit", 1, FINDINGS_LIMIT_MAX, FINDINGS_LIMIT_DEFAULT, &limit, NULL, "an integer"))
        return;
    job_t *j = new_job(q, R_FINDINGS);
    if (!j) return;
    j->sid = s->id;
    j->since = since;
    j->limit = (uint32_t)limit;
    submit(q, j);
}

static void route_alerts(request_t *q) {
    static const char *const allowed[] = {"session", "since", "state", NULL};
    if (!only_params(q, allowed)) return;
    session_t *s = NULL;
    const char *sv = param(q, "session");
    if (sv && !(s = session_param(q, sv, "session"))) return;
    uint64_t since;
    if (!int_param(q, "since", 0, UNIX_MS_MAX, 0, &since, NULL, "a time in unix milliseconds")) return;
    int state = QUERY_STATE_ALL;
    const char *st = param(q, "state");
    if (st) {
        if (!strcmp(st, "active"))
            state = QUERY_STATE_ACTIVE;
        else if (!strcmp(st, "cleared"))
            state = QUERY_STATE_CLEARED;
        else if (!strcmp(st, "all"))
            state = QUERY_STATE_ALL;
        else {
            http_reply_error(q->r, 400, "bad_parameter", "state",
                             "parameter 'state' must be 'active', 'cleared' or 'all', got '%.64s'", st);
            return;
        }
    }
    job_t *j = new_job(q, R_ALERTS);
    if (!j) return;
    j->has_session = s != NULL;
    j->sid = s ? s->id : 0;
    j->since = since;
    j->state = state;
    submit(q, j);
}

/* ---- routing ------------------------------------------------------------ */

#define MAX_SEGMENTS 6

void api_handle(insightd_ctx_t *ctx, http_req_t *r) {
    request_t q = {.ctx = ctx, .r = r};
    char target[2048];
    if (strlen(r->uri) >= sizeof target) {
        http_reply_error(r, 414, "uri_too_long", NULL, "request target longer than %zu bytes",
                         sizeof target - 1);
        return;
    }
    strcpy(target, r->uri);
    char *query = strchr(target, '?');
    if (query) *query++ = '\0';
    char *frag = strchr(query ? query : target, '#');
    if (frag) *frag = '\0';

    /* Split the raw path on '/' first, then decode each segment, so that
     * an encoded slash (%2F) stays inside its segment. */
    const char *prefix = "/api/v1";
    if (strncmp(target, prefix, strlen(prefix)) != 0) {
        http_reply_error(r, 404, "not_found", NULL, "no such route");
        return;
    }
    char *rest = target + strlen(prefix);
    char *seg[MAX_SEGMENTS];
    int nseg = 0;
    bool bad_path = false;
    if (*rest == '/') {
        char *p = rest + 1;
        for (;;) {
            if (nseg == MAX_SEGMENTS) {
                bad_path = true;
                break;
            }
            seg[nseg++] = p;
            char *slash = strchr(p, '/');
            if (!slash) break;
            *slash = '\0';
            p = slash + 1;
        }
        for (int i = 0; i < nseg && !bad_path; i++)
            if (seg[i][0] == '\0' || api_url_decode(seg[i], false) < 0) bad_path = true;
    } else {
        bad_path = true; /* "/api/v1" itself, or "/api/v1x" */
    }
    int route = -1;
    if (!bad_path) {
        if (nseg == 1 && !strcmp(seg[0], "health"))
            route = R_HEALTH;
        else if (nseg == 1 && !strcmp(seg[0], "sessions"))
            route = R_SESSIONS;
        else if (nseg == 1 && !strcmp(seg[0], "alerts"))
            route = R_ALERTS;
        else if (nseg == 2 && !strcmp(seg[0], "sessions"))
            route = R_SESSION;
        else if (nseg == 3 && !strcmp(seg[0], "sessions")) {
            if (!strcmp(seg[2], "frames"))
                route = R_FRAMES;
            else if (!strcmp(seg[2], "tags"))
                route = R_TAGS;
            else if (!strcmp(seg[2], "trend"))
                route = R_TREND;
            else if (!strcmp(seg[2], "budgets"))
                route = R_BUDGETS;
            else if (!strcmp(seg[2], "findings"))
                route = R_FINDINGS;
        }
    }
    if (route < 0) {
        http_reply_error(r, 404, "not_found", NULL,
                         "no such route (see API.md: /api/v1/health, /api/v1/sessions, ...)");
        return;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        http_reply_error(r, 405, "method_not_allowed", NULL, "method %.16s not allowed here (GET or HEAD)",
                         r->method);
        return;
    }
    char err[200];
    q.nparams = api_parse_query(query, q.params, API_MAX_PARAMS, err, sizeof err);
    if (q.nparams < 0) {
        http_reply_error(r, 400, "bad_query", NULL, "%s", err);
        return;
    }
    session_t *s = NULL;
    if (route >= R_SESSION && route <= R_FINDINGS && !(s = session_param(&q, seg[1], "id"))) return;
    switch (route) {
    case R_HEALTH:
        if (only_params(&q, NULL)) route_health(&q);
        break;
    case R_SESSIONS:
        if (only_params(&q, NULL)) route_sessions(&q);
        break;
    case R_SESSION:
        if (only_params(&q, NULL)) route_session(&q, s);
        break;
    case R_TAGS:
        if (only_params(&q, NULL)) route_tags(&q, s);
        break;
    case R_BUDGETS:
        route_budgets(&q, s);
        break;
    case R_FRAMES:
        route_frames(&q, s);
        break;
    case R_TREND:
        route_trend(&q, s);
        break;
    case R_FINDINGS:
        route_findings(&q, s);
        break;
    case R_ALERTS:
        route_alerts(&q);
        break;
    }
}
