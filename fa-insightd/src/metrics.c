/* metrics.c — GET /metrics (metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "clock.h"
#include "ctx.h"
#include "ingest.h"
#include "sessions.h"
#include "stats.h"
#include "view.h"
#include "writer.h"

/* A growing text buffer that remembers running out of memory or room. */
typedef struct text {
    char *buf;
    size_t len, cap, max;
    bool failed;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if (t->buf && (size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t want = t->len + (size_t)n + 1;
        size_t cap = t->cap ? t->cap : 16384;
        while (cap < want)
            cap *= 2;
        char *nb = want > t->max ? NULL : realloc(t->buf, cap);
        if (!nb) {
            t->failed = true;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

/* A label value: backslash, double quote and line feed escaped (the
 * strings were sanitised at ingest; this keeps the format whatever). */
static void put_label(text_t *t, const char *s) {
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            put(t, "\\%c", *s);
        else if (*s == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *s);
    }
}

static void family(text_t *t, const char *name, const char *type, const char *help) {
    put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(text_t *t, const char *name, const char *labels, unsigned long long v) {
    put(t, "%s%s %llu\n", name, labels, v);
}

/* ---- the live sessions' tags ------------------------------------------------ */

/* The per-session and per-tag families, one pass over the live sessions
 * each (a family's samples must be together). */
enum figure { F_FRAMES, F_ALERTS, F_LIVE, F_PEAK, F_SOFT, F_HARD, F_ALERT_LEVEL };
static const struct {
    const char *name, *type, *help;
} figures[] = {
    [F_FRAMES] = {"framealloc_session_frames_total", "counter", "FRAME messages accepted for a live session."},
    [F_ALERTS] = {"framealloc_session_active_alerts", "gauge", "Budget alerts raised and not cleared in a live session."},
    [F_LIVE] = {"framealloc_tag_live_bytes", "gauge",
                "Bytes in use by a tag and its descendants at the newest frame (frame + pool + heap)."},
    [F_PEAK] = {"framealloc_tag_peak_bytes", "gauge", "Highest live bytes of a tag seen in the session."},
    [F_SOFT] = {"framealloc_tag_budget_soft_bytes", "gauge", "A tag's soft budget (0: none; tags with a budget)."},
    [F_HARD] = {"framealloc_tag_budget_hard_bytes", "gauge", "A tag's hard budget (0: none; tags with a budget)."},
    [F_ALERT_LEVEL] = {"framealloc_tag_alert_level", "gauge",
                       "A budgeted tag's alert state: 0 none, 1 warning (>= 80 %), 2 critical (>= 100 % of hard)."},
};

typedef struct pass {
    text_t *t;
    enum figure f;
} pass_t;

static void session_labels(text_t *t, const session_info_t *i) {
    put(t, "session=\"%016llx\",app=\"", (unsigned long long)i->id);
    put_label(t, i->app);
    put(t, "\",build=\"");
    put_label(t, i->build_id);
    put(t, "\"");
}

static unsigned long long tag_value(const tag_info_t *g, enum figure f) {
    switch (f) {
    case F_LIVE: return g->live_bytes;
    case F_PEAK: return g->peak_bytes;
    case F_SOFT: return g->budget_soft;
    case F_HARD: return g->budget_hard;
    default: return g->alert_level;
    }
}

static bool session_samples(void *ud, const session_t *s) {
    pass_t *p = ud;
    if (p->f == F_FRAMES || p->f == F_ALERTS) {
        const session_info_t *i = session_info(s);
        put(p->t, "%s{", figures[p->f].name);
        session_labels(p->t, i);
        put(p->t, "} %llu\n", (unsigned long long)(p->f == F_FRAMES ? i->frames : i->active_alerts));
        return !p->t->failed;
    }
    session_view_t *v = session_view(s);
    if (!v) {
        p->t->failed = true;
        return false;
    }
    bool budget = p->f == F_SOFT || p->f == F_HARD || p->f == F_ALERT_LEVEL;
    for (uint32_t k = 0; k < v->tag_count; k++) {
        const tag_info_t *g = &v->tags[k];
        if (budget ? !g->budget_hard && !g->budget_soft : !g->seen) continue;
        put(p->t, "%s{", figures[p->f].name);
        session_labels(p->t, &v->info);
        put(p->t, ",tag=\"");
        put_label(p->t, g->path && g->path[0] ? g->path : "(root)");
        put(p->t, "\"} %llu\n", tag_value(g, p->f));
    }
    view_free(v);
    return !p->t->failed;
}

/* ---- the document ------------------------------------------------------------ */

static void render(insightd_ctx_t *ctx, text_t *t) {
    writer_stats_t ws;
    writer_stats(ctx->writer, &ws);
    family(t, "fa_insightd_uptime_seconds", "gauge", "Seconds since the daemon started.");
    sample(t, "fa_insightd_uptime_seconds", "", (clock_mono_ms() - ctx->started_mono) / 1000u);
    family(t, "fa_insightd_ingest_received_messages_total", "counter",
           "Protocol messages taken off the ingest socket, valid or not.");
    sample(t, "fa_insightd_ingest_received_messages_total", "", atomic_load(&g_stats.received));
    family(t, "fa_insightd_ingest_received_bytes_total", "counter", "Bytes of those messages.");
    sample(t, "fa_insightd_ingest_received_bytes_total", "", atomic_load(&g_stats.received_bytes));
    family(t, "fa_insightd_ingest_rejected_messages_total", "counter", "Messages that failed to decode.");
    sample(t, "fa_insightd_ingest_rejected_messages_total", "", g_stats.rejected);
    family(t, "fa_insightd_ingest_accepted_messages_total", "counter", "Valid messages handled, by type.");
    static const char *const types[] = {NULL, "hello", "frame", "tags", "bye", "sites", "frames"};
    for (int k = 1; k <= FA_PROTO_FRAMES; k++) {
        char l[32];
        snprintf(l, sizeof l, "{type=\"%s\"}", types[k]);
        sample(t, "fa_insightd_ingest_accepted_messages_total", l, g_stats.accepted_by_type[k]);
    }
    family(t, "fa_insightd_ingest_dropped_messages_total", "counter",
           "Accepted messages that will never be stored, by reason.");
    const struct {
        const char *reason;
        unsigned long long n;
    } drops[] = {{"queue_full", atomic_load(&g_stats.queue_dropped)},
                 {"control_queue_full", atomic_load(&g_stats.control_over_reserve)},
                 {"store_error", ws.frames_rejected},
                 {"store_backlog", g_stats.frames_store_backlog},
                 {"orphaned", g_stats.orphaned},
                 {"duplicate", g_stats.duplicates},
                 {"delta_without_base", g_stats.frames_no_base}};
    for (size_t k = 0; k < sizeof drops / sizeof drops[0]; k++) {
        char l[64];
        snprintf(l, sizeof l, "{reason=\"%s\"}", drops[k].reason);
        sample(t, "fa_insightd_ingest_dropped_messages_total", l, drops[k].n);
    }
    family(t, "fa_insightd_ingest_refused_messages_total", "counter",
           "Messages kept out by the ingest secret (--ingest-secret-file), by reason; never stored.");
    sample(t, "fa_insightd_ingest_refused_messages_total", "{reason=\"secret_missing\"}",
           g_stats.ingest_refused_secret_missing);
    sample(t, "fa_insightd_ingest_refused_messages_total", "{reason=\"secret_wrong\"}",
           g_stats.ingest_refused_secret_wrong);
    sample(t, "fa_insightd_ingest_refused_messages_total", "{reason=\"unauthenticated\"}",
           g_stats.ingest_refused_unauthenticated);
    uint64_t tls_failed, proto_failed;
    ingest_handshake_failures(ctx->ingest, &tls_failed, &proto_failed);
    family(t, "fa_insightd_ingest_refused_connections_total", "counter",
           "Ingest connections refused: by the ingest secret, or in the TLS or protocol handshake.");
    sample(t, "fa_insightd_ingest_refused_connections_total", "{reason=\"secret\"}",
           g_stats.ingest_refused_connections);
    sample(t, "fa_insightd_ingest_refused_connections_total", "{reason=\"tls_handshake\"}", tls_failed);
    sample(t, "fa_insightd_ingest_refused_connections_total", "{reason=\"protocol_handshake\"}", proto_failed);
    family(t, "fa_insightd_ingest_gaps_total", "counter", "Sequence numbers missing: messages lost in transport.");
    sample(t, "fa_insightd_ingest_gaps_total", "", g_stats.gaps);
    family(t, "fa_insightd_ingest_queue_depth", "gauge", "Messages waiting in the hand-off queue.");
    sample(t, "fa_insightd_ingest_queue_depth", "", atomic_load(&g_stats.queue_depth));
    family(t, "fa_insightd_frames_stored_total", "counter", "Frames committed to the database.");
    sample(t, "fa_insightd_frames_stored_total", "", ws.frames_stored);
    family(t, "fa_insightd_store_commits_total", "counter", "Database transactions committed.");
    sample(t, "fa_insightd_store_commits_total", "", ws.commits);
    family(t, "fa_insightd_sessions", "gauge", "Sessions held in memory, live or ended.");
    sample(t, "fa_insightd_sessions", "{state=\"live\"}", sessions_live_count(ctx->sessions));
    sample(t, "fa_insightd_sessions", "{state=\"ended\"}",
           sessions_in_memory(ctx->sessions) - sessions_live_count(ctx->sessions));
    family(t, "fa_insightd_websocket_clients", "gauge", "WebSocket clients connected.");
    sample(t, "fa_insightd_websocket_clients", "", g_stats.ws_clients);
    family(t, "fa_insightd_http_requests_total", "counter", "HTTP requests received.");
    sample(t, "fa_insightd_http_requests_total", "", g_stats.http_requests);

    for (enum figure f = F_FRAMES; f <= F_ALERT_LEVEL; f++) {
        family(t, figures[f].name, figures[f].type, figures[f].help);
        pass_t p = {t, f};
        sessions_each(ctx->sessions, true, session_samples, &p);
    }
}

bool metrics_is_target(const char *uri) {
    size_t n = strcspn(uri, "?#");
    return n == 8 && strncmp(uri, "/metrics", 8) == 0;
}

void metrics_handle(insightd_ctx_t *ctx, http_req_t *r) {
    const char *method = http_req_method(r);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_reply_error(r, 405, "method_not_allowed", NULL, "method %.16s not allowed here (GET or HEAD)",
                         method);
        return;
    }
    text_t t = {.max = http_max_response(ctx->http)};
    render(ctx, &t);
    if (t.failed) {
        http_reply_error(r, 503, "too_large", NULL,
                         "the metrics exceed --max-response (%zu bytes) or memory ran out", t.max);
    } else {
        const char *headers[] = {"Cache-Control", "no-store", NULL};
        http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", t.buf, t.len, headers);
    }
    free(t.buf);
}
