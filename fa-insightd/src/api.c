/* api.c — the /api/v1 routes: path and query validation, answers from the
 * sessions in memory or from the store on the thread pool (see api.h).
 * Every bad input is a 400 naming the parameter; see API.md. */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "alerts.h"
#include "clock.h"
#include "comparequery.h"
#include "config.h"
#include "conns.h"
#include "ctx.h"
#include "fleet.h"
#include "ingest.h"
#include "framealloc.h"
#include "json.h"
#include "lint.h"
#include "query.h"
#include "sessions.h"
#include "sid.h"
#include "sitequery.h"
#include "source.h"
#include "stats.h"
#include "store.h"
#include "units.h" /* libfa-text */
#include "url.h"
#include "writer.h"
#include "ws.h"

#define FRAMES_LIMIT_DEFAULT 100u
#define FRAMES_LIMIT_MAX 1000u
#define FINDINGS_LIMIT_DEFAULT 200u
#define FINDINGS_LIMIT_MAX 5000u
#define ALERTS_LIMIT_DEFAULT 1000u
#define ALERTS_LIMIT_MAX 10000u
#define SESSIONS_LIMIT_DEFAULT 100u
#define SESSIONS_LIMIT_MAX 1000u
#define TREND_POINTS_DEFAULT 120u
#define TREND_POINTS_MAX 1000u
#define TREND_WINDOW_DEFAULT_MS (5u * 60u * 1000u)
#define TREND_WINDOW_MIN_MS 1000u
#define TREND_WINDOW_MAX_MS (30ull * 24u * 3600u * 1000u)
#define SITES_WINDOW_DEFAULT_MS (60u * 1000u)
#define SITES_LIMIT_DEFAULT 20u
#define SITES_LIMIT_MAX 1000u
#define SITE_POINTS_DEFAULT 60u
#define SITE_CONTEXT_DEFAULT 3u
#define UNIX_MS_MAX 9007199254740991ull /* 2^53 - 1: exact in every JSON reader */
#define FLEET_SINCE_DEFAULT_MS (24ull * 3600u * 1000u)
/* A problem seen this recently still shows in health. */
#define PROBLEM_RECENT_MS 10000u

enum route {
    R_LINT, /* first: outside the session routes' range (R_SESSION..) */
    R_HEALTH,
    R_SESSIONS,
    R_SESSION,
    R_FRAMES,
    R_TAGS,
    R_TREND,
    R_BUDGETS,
    R_FINDINGS,
    R_SITES,
    R_SITE,
    R_ALERTS,
    R_FLEET,
    R_COMPARE
};

/* `latest` when this daemon has no live session: the store decides
 * (another daemon's live session, or the newest of all), against the
 * newest one in memory. */
typedef struct latest {
    bool pending;
    uint64_t memory_id, memory_seen_ms;
} latest_t;

typedef struct request {
    insightd_ctx_t *ctx;
    http_req_t *r;
    url_param_t params[URL_MAX_PARAMS];
    int nparams;
    latest_t latest;
} request_t;

/* ---- parameters ----------------------------------------------------------- */

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
                         "parameter '%s' must be %s in %llu..%llu, got '%.64s'", name, what,
                         (unsigned long long)min, (unsigned long long)max, v);
        return false;
    }
    return true;
}

/* A "cursor" parameter of the forms in `dirs`. Returns false after 400. */
static bool cursor_param(request_t *q, const char *dirs, bool hex, bool *present, char *dir, uint64_t *ms,
                         uint64_t *key) {
    const char *v = param(q, "cursor");
    *present = v != NULL;
    if (!v) return true;
    if (query_cursor_parse(v, dir, ms, key, hex) != 0 || !strchr(dirs, *dir)) {
        http_reply_error(
            q->r, 400, "bad_parameter", "cursor",
            "parameter 'cursor' must be a cursor this route returned (next or prev), got '%.64s'", v);
        return false;
    }
    return true;
}

/* A session named by "latest" or 16 hex digits: in memory (*s set) or not
 * (then only *id; the store will tell; *id 0 with q->latest pending).
 * Returns false after answering. */
static bool session_param(request_t *q, const char *value, const char *name, const session_t **s,
                          uint64_t *id) {
    *s = NULL;
    if (strcmp(value, "latest") == 0) {
        const session_t *m = sessions_latest(q->ctx->sessions);
        if (m && session_live(m)) {
            *s = m;
            *id = session_id(m);
            return true;
        }
        *id = 0;
        q->latest = (latest_t){true, m ? session_id(m) : 0, m ? session_info(m)->last_seen_ms : 0};
        return true;
    }
    if (sid_parse(value, id) != 0) {
        http_reply_error(q->r, 400, "bad_parameter", name,
                         "parameter '%s' must be a session id (16 hex digits) or 'latest', got '%.64s'", name,
                         value);
        return false;
    }
    *s = sessions_find(q->ctx->sessions, *id);
    return true;
}

static void reply_body(http_req_t *r, char *body, size_t len) {
    if (!body)
        http_reply_error(r, 500, "internal", NULL, "out of memory");
    else
        http_reply_json(r, 200, body, len);
    free(body);
}

/* ---- health ---------------------------------------------------------------- */

static void problem(json_writer_t *w, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void problem(json_writer_t *w, const char *code, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jw_begin_object(w, NULL);
    jw_str(w, "code", code);
    jw_str(w, "message", msg);
    jw_end_object(w);
}

static bool recent(uint64_t when_mono, uint64_t now) {
    return when_mono && now - when_mono < PROBLEM_RECENT_MS;
}

/* What is wrong now (or lately); none: "ok". */
static int write_problems(json_writer_t *w, insightd_ctx_t *c, const writer_stats_t *ws) {
    int n = 0;
    uint64_t now = clock_mono_ms();
    jw_begin_array(w, "problems");
    if (ws->busy_ms >= 2000) {
        problem(w, "store_stalled",
                "a database operation has been running for %llu ms (a slow or stalled disk?); "
                "%llu frames wait",
                (unsigned long long)ws->busy_ms, (unsigned long long)ws->backlog_frames);
        n++;
    }
    if (ws->failing) {
        problem(w, "store_failing",
                "database writes have failed for %llu ms and are retried (%llu frames "
                "buffered): %s",
                (unsigned long long)(now - ws->failing_since_ms), (unsigned long long)ws->backlog_frames,
                ws->problem);
        n++;
    }
    if (recent(g_stats.last_store_drop_mono, now)) {
        problem(w, "store_dropping",
                "frames were dropped in the last 10 s: the write buffer (--write-buffer) "
                "was full");
        n++;
    }
    if (recent(atomic_load(&g_stats.last_queue_drop_mono), now)) {
        problem(w, "ingest_overloaded", "frames were dropped in the last 10 s: the ingest queue was full");
        n++;
    }
    if (g_stats.database_lost) {
        problem(w, "database_lost", "the database file %s was deleted or replaced; the daemon is stopping",
                store_path(c->store));
        n++;
    }
    jw_end_array(w);
    return n;
}

static void route_health(request_t *q) {
    insightd_ctx_t *c = q->ctx;
    writer_stats_t ws;
    writer_stats(c->writer, &ws);
    json_writer_t w = {0};
    jw_begin_object(&w, NULL);
    /* status first: computed from the problems, written after them */
    jw_mark_t status_at = jw_mark(&w);
    jw_str(&w, "status", "degraded");
    jw_str(&w, "version", FA_VERSION_STRING);
    char proto[16];
    snprintf(proto, sizeof proto, "%d.%d", FA_PROTO_VERSION_MAJOR, FA_PROTO_VERSION_MINOR);
    jw_str(&w, "protocol", proto);
    jw_u64(&w, "now_ms", clock_now_ms());
    jw_u64(&w, "started_ms", c->started_ms);
    jw_u64(&w, "uptime_ms", clock_mono_ms() - c->started_mono);
    int problems = write_problems(&w, c, &ws);
    jw_str(&w, "http_url", c->http_url);
    char wsurl[340];
    snprintf(wsurl, sizeof wsurl, "ws%s/ws", c->http_url + 4);
    jw_str(&w, "ws_url", wsurl);

    uint64_t queue_full = atomic_load(&g_stats.queue_dropped),
             control = atomic_load(&g_stats.control_over_reserve);
    jw_begin_object(&w, "ingest");
    jw_str(&w, "url", c->ingest_url);
    jw_u64(&w, "received", atomic_load(&g_stats.received));
    jw_u64(&w, "received_bytes", atomic_load(&g_stats.received_bytes));
    jw_u64(&w, "stored", ws.frames_stored);
    jw_u64(&w, "rejected", g_stats.rejected);
    jw_u64(&w, "dropped",
           queue_full + control + ws.frames_rejected + g_stats.orphaned + g_stats.frames_store_backlog +
               g_stats.duplicates + g_stats.session_conflicts + g_stats.frames_no_base);
    jw_u64(&w, "uncommitted", ws.backlog_frames);
    jw_u64(&w, "pending", g_stats.pending);
    jw_u64(&w, "gaps", g_stats.gaps);
    jw_u64(&w, "out_of_order", g_stats.out_of_order);
    jw_u64(&w, "queue_depth", atomic_load(&g_stats.queue_depth));
    jw_u64(&w, "queue_high_water", atomic_load(&g_stats.queue_high_water));
    jw_u64(&w, "queue_bytes", c->cfg->ingest_queue_bytes);
    jw_u64(&w, "bad_timestamps", g_stats.bad_timestamps);
    jw_u64(&w, "clock_skewed_sessions", g_stats.clock_skewed);
    jw_begin_object(&w, "accepted");
    jw_u64(&w, "hello", g_stats.accepted_by_type[FA_PROTO_HELLO]);
    jw_u64(&w, "frame", g_stats.accepted_by_type[FA_PROTO_FRAME]);
    jw_u64(&w, "tags", g_stats.accepted_by_type[FA_PROTO_TAGS]);
    jw_u64(&w, "bye", g_stats.accepted_by_type[FA_PROTO_BYE]);
    jw_u64(&w, "sites", g_stats.accepted_by_type[FA_PROTO_SITES]);
    jw_u64(&w, "frames", g_stats.accepted_by_type[FA_PROTO_FRAMES]);
    jw_end_object(&w);
    jw_begin_object(&w, "dropped_by_reason");
    jw_u64(&w, "queue_full", queue_full);
    jw_u64(&w, "control_queue_full", control);
    jw_u64(&w, "store_error", ws.frames_rejected);
    jw_u64(&w, "store_backlog", g_stats.frames_store_backlog);
    jw_u64(&w, "orphaned", g_stats.orphaned);
    jw_u64(&w, "duplicate", g_stats.duplicates);
    jw_u64(&w, "session_conflict", g_stats.session_conflicts);
    jw_u64(&w, "delta_without_base", g_stats.frames_no_base);
    jw_end_object(&w);
    jw_begin_object(&w, "rows_rejected");
    jw_u64(&w, "undefined_tag", g_stats.rows_undefined_tag);
    jw_u64(&w, "tag_cap", g_stats.rows_tag_cap);
    jw_u64(&w, "site_cap", g_stats.sites_rejected);
    jw_end_object(&w);
    jw_begin_object(&w, "rejected_by_reason");
    for (int i = 1; i < STATS_REJECT_REASONS; i++)
        if (g_stats.rejected_by[i]) jw_u64(&w, fa_proto_err_name(-i), g_stats.rejected_by[i]);
    jw_end_object(&w);
    /* Who was kept out: the shared secret (gate.h) and the listener's
     * failed handshakes (ingest.h). Nothing refused is stored. */
    uint64_t tls_failed, proto_failed;
    ingest_handshake_failures(c->ingest, &tls_failed, &proto_failed);
    jw_bool(&w, "tls", config_url_is_tls(c->cfg->ingest));
    jw_bool(&w, "secret_required", c->cfg->ingest_secret_file[0] != '\0');
    jw_begin_object(&w, "refused");
    jw_u64(&w, "secret_missing", g_stats.ingest_refused_secret_missing);
    jw_u64(&w, "secret_wrong", g_stats.ingest_refused_secret_wrong);
    jw_u64(&w, "unauthenticated_messages", g_stats.ingest_refused_unauthenticated);
    jw_u64(&w, "connections", g_stats.ingest_refused_connections);
    jw_u64(&w, "tls_handshakes", tls_failed);
    jw_u64(&w, "protocol_handshakes", proto_failed);
    jw_end_object(&w);
    jw_end_object(&w);

    jw_begin_object(&w, "store");
    jw_str(&w, "kind", store_kind(c->store));
    jw_str(&w, "path", store_path(c->store));
    jw_u64(&w, "commits", ws.commits);
    jw_u64(&w, "failed_attempts", ws.failed_attempts);
    jw_u64(&w, "commit_interval_ms", c->cfg->commit_interval_ms);
    jw_u64(&w, "last_commit_ms", ws.last_commit_ms);
    jw_u64(&w, "commit_duration_ms_last", ws.commit_ms_last);
    jw_u64(&w, "commit_duration_ms_max", ws.commit_ms_max);
    jw_u64(&w, "backlog_frames", ws.backlog_frames);
    jw_u64(&w, "backlog_records", ws.backlog_ops);
    jw_u64(&w, "backlog_bytes", ws.backlog_bytes);
    jw_u64(&w, "buffer_bytes", c->cfg->write_buffer_bytes);
    jw_u64(&w, "control_dropped", ws.control_dropped);
    jw_u64(&w, "busy_ms", ws.busy_ms);
    jw_u64(&w, "retention_ms", c->cfg->retention_ms);
    jw_u64(&w, "rollup_retention_ms", c->cfg->rollup_retention_ms);
    jw_u64(&w, "session_retention_ms", c->cfg->session_retention_ms);
    jw_u64(&w, "retention_deleted", ws.retention_deleted);
    jw_u64(&w, "retention_passes", ws.retention_passes);
    jw_u64(&w, "wal_resets", ws.wal_resets);
    jw_u64(&w, "lookups", ws.lookups);
    jw_end_object(&w);

    jw_begin_object(&w, "sessions");
    jw_u64(&w, "live", sessions_live_count(c->sessions));
    jw_u64(&w, "in_memory", sessions_in_memory(c->sessions));
    jw_u64(&w, "max_ended_in_memory", c->cfg->max_ended_sessions);
    jw_u64(&w, "evicted", g_stats.sessions_evicted);
    jw_u64(&w, "loaded", g_stats.sessions_loaded);
    jw_end_object(&w);

    jw_begin_object(&w, "ws");
    jw_u64(&w, "clients", g_stats.ws_clients);
    jw_u64(&w, "max_clients", c->cfg->ws_max_clients);
    jw_u64(&w, "accepted", g_stats.ws_accepted);
    jw_u64(&w, "refused", g_stats.ws_refused);
    jw_u64(&w, "refused_origin", g_stats.ws_refused_origin);
    jw_u64(&w, "refused_token", g_stats.ws_refused_token);
    jw_u64(&w, "sent", g_stats.ws_sent);
    jw_u64(&w, "merged", g_stats.ws_merged);
    jw_u64(&w, "dropped", g_stats.ws_dropped);
    jw_u64(&w, "stalled", c->ws ? ws_stalled(c->ws) : 0);
    jw_u64(&w, "closed_slow", g_stats.ws_closed_slow);
    jw_u64(&w, "closed_flood", g_stats.ws_closed_flood);
    jw_u64(&w, "bad_messages", g_stats.ws_bad_messages);
    jw_u64(&w, "accept_errors", g_stats.ws_accept_errors);
    jw_u64(&w, "rate", c->cfg->ws_rate);
    jw_end_object(&w);

    jw_begin_object(&w, "http");
    jw_u64(&w, "requests", g_stats.http_requests);
    jw_u64(&w, "errors_4xx", g_stats.http_4xx);
    jw_u64(&w, "errors_5xx", g_stats.http_5xx);
    jw_u64(&w, "inflight", g_stats.http_inflight);
    jw_u64(&w, "timeouts", g_stats.http_timeouts);
    jw_u64(&w, "write_timeouts", g_stats.http_write_timeouts);
    jw_u64(&w, "capped_responses", g_stats.http_capped);
    jw_u64(&w, "cancelled", g_stats.http_cancelled);
    jw_u64(&w, "connections_shed", atomic_load(&g_stats.connections_shed));
    jw_u64(&w, "connections", conns_open());
    jw_u64(&w, "max_connections", c->cfg->max_connections);
    jw_u64(&w, "refused_connections", atomic_load(&g_stats.http_refused_connections));
    jw_u64(&w, "header_timeouts", g_stats.http_header_timeouts);
    jw_u64(&w, "idle_timeouts", g_stats.http_idle_timeouts);
    jw_u64(&w, "refused_body", g_stats.http_refused_body);
    jw_u64(&w, "refused_host", g_stats.http_refused_host);
    jw_u64(&w, "refused_token", g_stats.http_refused_token);
    jw_u64(&w, "pipelined", g_stats.http_pipelined);
    jw_u64(&w, "refused_head", g_stats.http_refused_head);
    jw_str(&w, "web_root", c->cfg->web_root);
    jw_bool(&w, "web_root_ok", c->web_root_ok);
    jw_end_object(&w);
    jw_end_object(&w);
    if (!problems && !w.failed) {
        /* Same length: "ok" padded into the place of "degraded" would
         * break JSON; rewrite the status value in place instead. */
        char *at = w.buf + status_at.len;
        size_t old = strlen("\"status\":\"degraded\""), neu = strlen("\"status\":\"ok\"");
        memmove(at + neu, at + old, w.len - status_at.len - old);
        memcpy(at, "\"status\":\"ok\"", neu);
        w.len -= old - neu;
    }
    size_t len;
    char *body = jw_finish(&w, &len);
    reply_body(q->r, body, len);
}

/* ---- jobs on the thread pool ----------------------------------------------- */

typedef struct job {
    insightd_ctx_t *ctx;
    http_req_t *r;
    int route;
    uint64_t sid;
    bool has_session;
    session_view_t *view; /* from memory, or read by the job */
    /* parameters */
    store_frames_query_t frames;
    store_alerts_query_t alerts;
    store_findings_query_t findings;
    store_sessions_query_t sessions;
    char app[VIEW_TEXT_MAX], host[VIEW_TEXT_MAX];
    char tag[FA_PROTO_MAX_STRING + 2];
    bool has_tag;
    uint64_t window;
    uint32_t points;
    sites_query_t sites_q; /* /sites, /sites/{site} */
    latest_t latest;
    /* /compare: the base is the job's session, the candidate this one */
    compare_query_t compare_q;
    uint64_t sid2;
    session_view_t *view2;
    const char *missing; /* the parameter naming a session not found */
    /* /sessions: memory's live rows (collected on the loop); the store's
     * rows: live elsewhere (nelsewhere first), then ended */
    session_info_t *live, *rows;
    size_t nlive, nrows, nelsewhere;
    uint64_t live_elsewhere; /* how many */
    bool want_ended, live_phase;
    uint32_t limit, in_memory;
    /* /fleet */
    store_fleet_query_t fleet;
    char build[VIEW_TEXT_MAX];
    query_result_t res;
} job_t;

static void job_free(job_t *j) {
    view_free(j->view);
    view_free(j->view2);
    free(j->res.body);
    free(j->rows);
    free(j->live);
    free(j);
}

static bool collect_row(void *ud, const session_info_t *s) {
    job_t *j = ud;
    session_info_t *grown = realloc(j->rows, (j->nrows + 1) * sizeof *grown);
    if (!grown) return false;
    j->rows = grown;
    j->rows[j->nrows++] = *s;
    return true;
}

static int store_session_row(void *ud, const session_info_t *s) {
    return collect_row(ud, s) ? 0 : 1;
}

/* The tag a route names (trend, budgets), or an answer. */
static const tag_info_t *job_tag(job_t *j) {
    const tag_info_t *t = view_tag_by_path(j->view, j->tag);
    if (!t) {
        char msg[400];
        snprintf(msg, sizeof msg, "session %016llx has no tag '%.255s'", (unsigned long long)j->sid, j->tag);
        query_fail(&j->res, 404, "tag_not_found", msg);
    }
    return t;
}

/* `latest` decided by the store (see latest_t); 0 or a failure. */
static int job_latest(job_t *j, store_reader_t *r) {
    uint64_t id = 0, seen = 0;
    bool live = false;
    int rc = store_read_latest(r, &id, &seen, &live);
    if (rc < 0) {
        query_store_failed(&j->res, r, rc);
        return rc;
    }
    if (rc == 0 || (!live && j->latest.memory_id && j->latest.memory_seen_ms >= seen))
        id = j->latest.memory_id;
    if (!id) {
        query_fail(&j->res, 404, "session_not_found", "no session has been seen yet");
        return 0;
    }
    j->sid = j->frames.session_id = j->findings.session_id = j->alerts.session_id = id;
    return 1;
}

/* /sessions: the live rows elsewhere (from the cursor, when the page
 * starts among live rows), how many there are, and the ended rows the
 * page has room for. */
static int job_sessions(job_t *j, store_reader_t *r) {
    int rc = store_count_elsewhere(r, &j->live_elsewhere);
    if (rc == STORE_OK && j->live_phase && j->live_elsewhere) {
        store_sessions_query_t q = j->sessions;
        q.which = STORE_SESSIONS_ELSEWHERE;
        q.limit = j->limit + 1;
        rc = store_read_sessions(r, &q, store_session_row, j);
        j->nelsewhere = j->nrows;
    }
    size_t live = j->nlive + j->nelsewhere;
    if (rc == STORE_OK && j->want_ended && live <= j->limit) {
        store_sessions_query_t q = j->sessions;
        q.which = STORE_SESSIONS_ENDED;
        if (j->live_phase) q.has_cursor = false; /* the ended ones follow, from the top */
        /* Enough rows for the page even when memory's copies replace some. */
        q.limit = (uint32_t)(j->limit - live) + 1 + j->in_memory;
        rc = store_read_sessions(r, &q, store_session_row, j);
    }
    return rc;
}

static void job_work(void *arg, const store_cancel_t *cancel) {
    job_t *j = arg;
    store_reader_t *r = store_reader_acquire(j->ctx->store, cancel);
    size_t cap = http_max_response(j->ctx->http);
    if (j->latest.pending && job_latest(j, r) <= 0) {
        store_reader_release(j->ctx->store, r);
        return;
    }
    /* The session(s) not in memory, from the store. */
    for (int k = 0; k < (j->route == R_COMPARE ? 2 : 1) && !j->res.status; k++) {
        session_view_t **v = k ? &j->view2 : &j->view;
        uint64_t sid = k ? j->sid2 : j->sid;
        if (!j->has_session || *v) continue;
        int rc = store_read_view(r, sid, v);
        if (rc == 0) {
            char msg[64];
            snprintf(msg, sizeof msg, "no session %016llx", (unsigned long long)sid);
            query_fail(&j->res, 404, "session_not_found", msg);
            if (j->route == R_COMPARE) j->missing = k ? "candidate" : "base";
        } else if (rc < 0) {
            query_store_failed(&j->res, r, rc);
        }
    }
    if (j->res.status) {
        store_reader_release(j->ctx->store, r);
        return;
    }
    switch (j->route) {
    case R_SESSION:
        j->res.body = view_render_session(j->view, &j->res.len);
        break;
    case R_TAGS:
        j->res.body = view_render_tags(j->view, &j->res.len);
        break;
    case R_BUDGETS: {
        const tag_info_t *t = j->has_tag ? job_tag(j) : NULL;
        if (!j->has_tag || t) j->res.body = view_render_budgets(j->view, t, &j->res.len);
        break;
    }
    case R_FRAMES:
        query_frames(r, &j->frames, cap, &j->res);
        break;
    case R_TREND: {
        const tag_info_t *t = job_tag(j);
        const session_info_t *s = &j->view->info;
        if (t)
            query_trend(r, j->sid, t->id, t->path, s->frames ? s->last_ms : clock_now_ms(), j->window,
                        j->points, &j->res);
        break;
    }
    case R_FINDINGS:
        query_findings(r, &j->findings, cap, &j->res);
        break;
    case R_SITES:
    case R_SITE: {
        const tag_info_t *t = j->has_tag ? job_tag(j) : NULL;
        if (j->has_tag && !t) break;
        sites_query_t q = j->sites_q;
        q.session_id = j->sid;
        q.view = j->view;
        q.end_ms = j->view->info.frames ? j->view->info.last_ms : clock_now_ms();
        q.tag = t ? t->path : NULL;
        q.tag_id = t ? t->id : 0;
        if (j->route == R_SITES)
            query_sites(r, &q, &j->res);
        else
            query_site(r, &q, &j->res);
        break;
    }
    case R_ALERTS:
        query_alerts(r, &j->alerts, cap, &j->res);
        break;
    case R_COMPARE: {
        compare_query_t cq = j->compare_q;
        cq.base = j->view;
        cq.candidate = j->view2;
        query_compare(r, &cq, &j->res);
        if (j->res.status == 200 && j->res.len > cap) {
            free(j->res.body);
            j->res.body = NULL;
            j->res.status = 0;
            query_fail(&j->res, 413, "response_too_large",
                       "the comparison is larger than --max-response: ask for fewer rows (limit)");
        }
        break;
    }
    case R_SESSIONS: {
        int rc = job_sessions(j, r);
        if (rc != STORE_OK) query_store_failed(&j->res, r, rc);
        break;
    }
    case R_FLEET:
        fleet_query(r, &j->fleet, clock_now_ms(), cap, &j->res);
        break;
    }
    if (!j->res.status && (j->res.body || j->route == R_SESSIONS)) j->res.status = 200;
    if (!j->res.status) query_fail(&j->res, 500, "out_of_memory", "out of memory");
    store_reader_release(j->ctx->store, r);
}

static void sessions_merge_and_reply(job_t *j);

static void job_done(void *arg, int status) {
    job_t *j = arg;
    if (j->res.capped) g_stats.http_capped++;
    if (status == HTTP_WORK_CANCELLED)
        http_reply_error(j->r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    else if (status == HTTP_WORK_TIMEOUT || (j->res.status == 503 && !strcmp(j->res.code, "timeout"))) {
        /* The query may notice its deadline before the sweep does. */
        if (status != HTTP_WORK_TIMEOUT) g_stats.http_timeouts++;
        http_reply_error(j->r, 503, "timeout", NULL, "the query took longer than --request-timeout (%llu ms)",
                         (unsigned long long)j->ctx->cfg->request_timeout_ms);
    }
    else if (j->res.status == 200 && j->route == R_SESSIONS) {
        sessions_merge_and_reply(j);
        return;
    } else if (j->res.status == 200)
        http_reply_json(j->r, 200, j->res.body, j->res.len);
    else
        http_reply_error(j->r, (uint16_t)j->res.status, j->res.code,
                         !strcmp(j->res.code, "tag_not_found") ? "tag"
                         : !strcmp(j->res.code, "session_not_found")
                             ? (j->missing ? j->missing : j->route == R_ALERTS ? "session" : "id")
                             : NULL,
                         "%s", j->res.message);
    job_free(j);
}

static job_t *new_job(request_t *q, int route) {
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    j->ctx = q->ctx;
    j->r = q->r;
    j->route = route;
    return j;
}

/* The session of a job: its view from memory now, or read by the job. */
static bool job_session(request_t *q, job_t *j, const session_t *s, uint64_t id, bool need_view) {
    j->has_session = true;
    j->sid = id;
    j->latest = q->latest;
    if (s && need_view && !(j->view = session_view(s))) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        job_free(j);
        return false;
    }
    if (s && !need_view) j->has_session = false; /* known: nothing to check */
    return true;
}

static void submit(request_t *q, job_t *j) {
    if (http_queue_work(q->ctx->http, q->r, job_work, job_done, j) != 0) {
        job_free(j);
        http_reply_error(q->r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    }
}

/* ---- /sessions ------------------------------------------------------------------ */

/* Order: live sessions first, then by last activity (newest first), then
 * by id (the stored id's signed order, as the store sorts). */
static int by_activity(const void *a, const void *b) {
    const session_info_t *x = a, *y = b;
    if (x->last_seen_ms != y->last_seen_ms) return x->last_seen_ms < y->last_seen_ms ? 1 : -1;
    int64_t ix = (int64_t)x->id, iy = (int64_t)y->id;
    return (ix < iy) - (ix > iy);
}

/* Whether (ms, id) comes after the cursor (ms, key) in that order. */
static bool after_cursor(const session_info_t *s, uint64_t ms, uint64_t key) {
    return s->last_seen_ms < ms || (s->last_seen_ms == ms && (int64_t)s->id < (int64_t)key);
}

static bool matches(const job_t *j, const session_info_t *s) {
    if (j->app[0] && strcmp(j->app, s->app) != 0) return false;
    if (j->host[0] && strcmp(j->host, s->host) != 0) return false;
    if (j->build[0] && strcmp(j->build, s->build_id) != 0) return false;
    if (s->last_seen_ms < j->sessions.since_ms) return false;
    if (j->sessions.until_ms && s->last_seen_ms > j->sessions.until_ms) return false;
    return true;
}

typedef struct collect {
    job_t *j;
    bool has_cursor;
    uint64_t ms, key;
} collect_t;

static bool collect_memory(void *ud, const session_t *s) {
    collect_t *c = ud;
    const session_info_t *i = session_info(s);
    if (!matches(c->j, i) || (c->has_cursor && !after_cursor(i, c->ms, c->key))) return true;
    return collect_row(c->j, i);
}

/* rows: the page, its first nlive rows live; more: rows follow it. */
static void reply_sessions(job_t *j, const session_info_t *rows, size_t n, size_t nlive, bool more) {
    json_writer_t w = {0};
    size_t budget = http_max_response(j->ctx->http) - 512;
    jw_begin_object(&w, NULL);
    jw_begin_array(&w, "sessions");
    size_t k = 0;
    for (; k < n; k++) {
        jw_mark_t m = jw_mark(&w);
        view_write_session(&w, NULL, &rows[k]);
        if (w.len > budget) {
            jw_rollback(&w, m);
            more = true;
            g_stats.http_capped++;
            break;
        }
    }
    jw_end_array(&w);
    jw_u64(&w, "count", k);
    jw_u64(&w, "live", sessions_live_count(j->ctx->sessions) + j->live_elsewhere);
    if (more && k > 0) {
        char cur[QUERY_CURSOR_MAX];
        query_cursor_format(cur, k <= nlive ? 'l' : 'e', rows[k - 1].last_seen_ms, rows[k - 1].id, true);
        jw_str(&w, "next", cur);
    } else {
        jw_null(&w, "next");
    }
    jw_end_object(&w);
    size_t len;
    char *body = jw_finish(&w, &len);
    reply_body(j->r, body, len);
}

/* Whether rows[0..n) holds this id. */
static bool has_id(const session_info_t *rows, size_t n, uint64_t id) {
    for (size_t i = 0; i < n; i++)
        if (rows[i].id == id) return true;
    return false;
}

/* Loop: the page from memory's rows and the store's. Live rows: memory's
 * live sessions and those live elsewhere (a copy in memory that says the
 * session ended wins when it is newer). Ended rows: the store's merged
 * with those in memory (fresher, and not all committed yet). */
static void sessions_merge_and_reply(job_t *j) {
    const sessions_t *ss = j->ctx->sessions;
    session_info_t *elsewhere = j->rows, *ended = j->rows + j->nelsewhere;
    size_t nended = j->nrows - j->nelsewhere;
    /* live = memory's live rows + the elsewhere rows memory does not contradict */
    session_info_t *live = malloc((j->nlive + j->nelsewhere + 1) * sizeof *live);
    session_info_t *rest = malloc((nended + sessions_in_memory(ss) + 1) * sizeof *rest);
    if (!live || !rest) {
        free(live);
        free(rest);
        http_reply_error(j->r, 500, "internal", NULL, "out of memory");
        job_free(j);
        return;
    }
    size_t nlive = 0;
    if (j->nlive) memcpy(live, j->live, j->nlive * sizeof *live);
    nlive = j->nlive;
    for (size_t i = 0; i < j->nelsewhere; i++) {
        const session_t *s = sessions_find(ss, elsewhere[i].id);
        if (s && (session_live(s) || session_info(s)->last_seen_ms >= elsewhere[i].last_seen_ms)) continue;
        live[nlive++] = elsewhere[i];
    }
    if (nlive) qsort(live, nlive, sizeof *live, by_activity);
    bool live_more = j->nelsewhere > j->limit;
    if (nlive > j->limit || live_more || !j->want_ended) {
        bool more = nlive > j->limit || live_more;
        reply_sessions(j, live, more && nlive > j->limit ? j->limit : nlive,
                       more && nlive > j->limit ? j->limit : nlive, more);
        free(live);
        free(rest);
        job_free(j);
        return;
    }
    /* Ended: memory's (collected now) over the store's, one row per id,
     * none that is live. */
    size_t n = 0;
    for (size_t i = 0; i < nended; i++)
        if (!sessions_find(ss, ended[i].id) && !has_id(live, nlive, ended[i].id)) rest[n++] = ended[i];
    j->nrows = 0; /* the store's rows are copied: j->rows collects memory's now */
    collect_t c = {j, j->sessions.has_cursor && !j->live_phase, j->sessions.cursor_ms, j->sessions.cursor_id};
    sessions_each(ss, false, collect_memory, &c);
    for (size_t i = 0; i < j->nrows; i++)
        if (!has_id(live, nlive, j->rows[i].id)) rest[n++] = j->rows[i];
    if (n) qsort(rest, n, sizeof *rest, by_activity);
    uint32_t room = (uint32_t)(j->limit - nlive);
    bool more = n > room;
    if (more) n = room;
    session_info_t *page = realloc(live, (nlive + n + 1) * sizeof *page);
    if (!page) {
        free(live);
        http_reply_error(j->r, 500, "internal", NULL, "out of memory");
    } else {
        if (n) memcpy(page + nlive, rest, n * sizeof *page);
        reply_sessions(j, page, nlive + n, nlive, more);
        free(page);
    }
    free(rest);
    job_free(j);
}

static void route_sessions(request_t *q) {
    static const char *const allowed[] = {"limit", "cursor", "live",  "app", "host",
                                          "build", "since",  "until", NULL};
    if (!only_params(q, allowed)) return;
    uint64_t limit, since, until, ms = 0, key = 0;
    bool has_until, has_cursor;
    char dir = 0;
    if (!int_param(q, "limit", 1, SESSIONS_LIMIT_MAX, SESSIONS_LIMIT_DEFAULT, &limit, NULL, "an integer") ||
        !int_param(q, "since", 0, UNIX_MS_MAX, 0, &since, NULL, "a time in unix milliseconds") ||
        !int_param(q, "until", 0, UNIX_MS_MAX, 0, &until, &has_until, "a time in unix milliseconds") ||
        !cursor_param(q, "le", true, &has_cursor, &dir, &ms, &key))
        return;
    const char *live = param(q, "live");
    if (live && strcmp(live, "true") != 0 && strcmp(live, "false") != 0) {
        http_reply_error(q->r, 400, "bad_parameter", "live",
                         "parameter 'live' must be 'true' or 'false', got '%.64s'", live);
        return;
    }
    job_t *j = new_job(q, R_SESSIONS);
    if (!j) return;
    const char *app = param(q, "app"), *host = param(q, "host"), *build = param(q, "build");
    snprintf(j->app, sizeof j->app, "%s", app ? app : "");
    snprintf(j->host, sizeof j->host, "%s", host ? host : "");
    snprintf(j->build, sizeof j->build, "%s", build ? build : "");
    bool want_live = !live || !strcmp(live, "true");
    j->want_ended = !live || !strcmp(live, "false");
    j->live_phase = want_live && (!has_cursor || dir == 'l');
    j->limit = (uint32_t)limit;
    j->in_memory = sessions_in_memory(q->ctx->sessions);
    j->sessions = (store_sessions_query_t){.app = j->app,
                                           .host = j->host,
                                           .build = j->build,
                                           .since_ms = since,
                                           .until_ms = has_until ? (until ? until : 1) : 0,
                                           .has_cursor = has_cursor && (dir == 'e' || j->live_phase),
                                           .cursor_ms = ms,
                                           .cursor_id = key};
    /* This daemon's live sessions, from memory, after the cursor. */
    if (j->live_phase) {
        collect_t c = {j, has_cursor, ms, key};
        sessions_each(q->ctx->sessions, true, collect_memory, &c);
        j->live = j->rows;
        j->nlive = j->nrows;
        j->rows = NULL;
        j->nrows = 0;
    }
    submit(q, j);
}

/* ---- /fleet ---------------------------------------------------------------------- */

static bool tag_param(request_t *q, const char **out);

static void route_fleet(request_t *q) {
    static const char *const allowed[] = {"app", "build", "tag", "since", NULL};
    if (!only_params(q, allowed)) return;
    uint64_t now = clock_now_ms(), since;
    if (!int_param(q, "since", 0, UNIX_MS_MAX,
                   now > FLEET_SINCE_DEFAULT_MS ? now - FLEET_SINCE_DEFAULT_MS : 0, &since, NULL,
                   "a time in unix milliseconds"))
        return;
    const char *tag;
    if (!tag_param(q, &tag)) return;
    job_t *j = new_job(q, R_FLEET);
    if (!j) return;
    const char *app = param(q, "app"), *build = param(q, "build");
    snprintf(j->app, sizeof j->app, "%s", app ? app : "");
    snprintf(j->build, sizeof j->build, "%s", build ? build : "");
    /* "/" is the root: every tag; one leading '/' is ignored. */
    snprintf(j->tag, sizeof j->tag, "%s", tag ? (tag[0] == '/' ? tag + 1 : tag) : "");
    j->fleet = (store_fleet_query_t){.app = j->app, .build = j->build, .tag = j->tag, .since_ms = since};
    submit(q, j);
}

/* ---- one session --------------------------------------------------------------- */

/* Session routes answered from memory when the session is there; from its
 * stored summary otherwise. */
static void route_view(request_t *q, int route, const session_t *s, uint64_t id, const char *tag) {
    if (s && route != R_BUDGETS) {
        session_view_t *v = session_view(s);
        size_t len = 0;
        char *body = !v                   ? NULL
                     : route == R_SESSION ? view_render_session(v, &len)
                                          : view_render_tags(v, &len);
        view_free(v);
        reply_body(q->r, body, len);
        return;
    }
    job_t *j = new_job(q, route);
    if (!j) return;
    if (tag) {
        j->has_tag = true;
        snprintf(j->tag, sizeof j->tag, "%s", tag);
    }
    if (!job_session(q, j, s, id, true)) return;
    if (s) { /* budgets of a session in memory: render here */
        const tag_info_t *t = tag ? view_tag_by_path(j->view, tag) : NULL;
        if (tag && !t) {
            http_reply_error(q->r, 404, "tag_not_found", "tag", "session %016llx has no tag '%.255s'",
                             (unsigned long long)id, tag);
        } else {
            size_t len = 0;
            char *body = view_render_budgets(j->view, t, &len);
            reply_body(q->r, body, len);
        }
        job_free(j);
        return;
    }
    submit(q, j);
}

static bool tag_param(request_t *q, const char **out) {
    const char *tag = param(q, "tag");
    *out = tag;
    if (tag && !tag[0]) {
        http_reply_error(q->r, 400, "bad_parameter", "tag",
                         "parameter 'tag' must not be empty (the root is '/')");
        return false;
    }
    return true;
}

static void route_budgets(request_t *q, const session_t *s, uint64_t id) {
    static const char *const allowed[] = {"tag", NULL};
    const char *tag;
    if (!only_params(q, allowed) || !tag_param(q, &tag)) return;
    route_view(q, R_BUDGETS, s, id, tag);
}

static void route_frames(request_t *q, const session_t *s, uint64_t id) {
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
    if (!j || !job_session(q, j, s, id, false)) return;
    /* With from: the oldest frames from there; without: the newest. */
    j->frames =
        (store_frames_query_t){id, has_from ? from : 0, has_to ? to : UINT64_MAX, !has_from, (uint32_t)limit};
    submit(q, j);
}

/* window: a duration from 1 s to 30 days; false after answering 400. */
static bool window_param(request_t *q, uint64_t *window) {
    const char *w = param(q, "window");
    if (w && (config_parse_duration(w, window) != 0 || *window < TREND_WINDOW_MIN_MS ||
              *window > TREND_WINDOW_MAX_MS)) {
        http_reply_error(
            q->r, 400, "bad_parameter", "window",
            "parameter 'window' must be a duration from 1s to 30d (e.g. 90s, 5m, 1h; a bare number "
            "is seconds), got '%.64s'",
            w);
        return false;
    }
    return true;
}

static void route_trend(request_t *q, const session_t *s, uint64_t id) {
    static const char *const allowed[] = {"tag", "window", "points", NULL};
    const char *tag;
    if (!only_params(q, allowed) || !tag_param(q, &tag)) return;
    if (!tag) {
        http_reply_error(q->r, 400, "missing_parameter", "tag",
                         "parameter 'tag' is required (a tag path such as 'physics/contacts', or '/')");
        return;
    }
    uint64_t window = TREND_WINDOW_DEFAULT_MS, points;
    if (!window_param(q, &window) ||
        !int_param(q, "points", 1, TREND_POINTS_MAX, TREND_POINTS_DEFAULT, &points, NULL, "an integer"))
        return;
    job_t *j = new_job(q, R_TREND);
    if (!j) return;
    j->has_tag = true;
    snprintf(j->tag, sizeof j->tag, "%s", tag);
    j->window = window;
    j->points = (uint32_t)points;
    if (!job_session(q, j, s, id, true)) return;
    /* A tag the session in memory does not have: answer now. */
    if (j->view && !view_tag_by_path(j->view, tag)) {
        http_reply_error(q->r, 404, "tag_not_found", "tag", "session %016llx has no tag '%.255s'",
                         (unsigned long long)id, tag);
        job_free(j);
        return;
    }
    submit(q, j);
}

/* /sessions/{id}/sites and /sessions/{id}/sites/{site}: a tag's top call
 * sites over a window, or one site (its tags, trend and source). */
static void route_sites(request_t *q, const session_t *s, uint64_t id, const char *site) {
    static const char *const list_params[] = {"tag", "window", "limit", "sort", NULL};
    static const char *const site_params[] = {"tag", "window", "points", "context", NULL};
    const char *tag;
    if (!only_params(q, site ? site_params : list_params) || !tag_param(q, &tag)) return;
    uint64_t window = site ? TREND_WINDOW_DEFAULT_MS : SITES_WINDOW_DEFAULT_MS, limit = 0, points = 0,
             context = 0, site_id = 0;
    if (!window_param(q, &window)) return;
    sites_query_t sq = {.window_ms = window};
    if (site) {
        if (!parse_u64(site, 1, UINT32_MAX, &site_id)) {
            http_reply_error(q->r, 400, "bad_parameter", "site",
                             "a call site is named by its id (1..4294967295), got '%.64s'", site);
            return;
        }
        if (!int_param(q, "points", 1, TREND_POINTS_MAX, SITE_POINTS_DEFAULT, &points, NULL, "an integer") ||
            !int_param(q, "context", 0, SOURCE_CONTEXT_MAX, SITE_CONTEXT_DEFAULT, &context, NULL,
                       "an integer"))
            return;
        sq.site_id = (uint32_t)site_id;
        sq.points = (uint32_t)points;
        sq.context = (uint32_t)context;
        sq.source_root = q->ctx->source_root_real;
    } else {
        if (!int_param(q, "limit", 1, SITES_LIMIT_MAX, SITES_LIMIT_DEFAULT, &limit, NULL, "an integer"))
            return;
        const char *sort = param(q, "sort");
        if (sort && strcmp(sort, "bytes") != 0 && strcmp(sort, "count") != 0) {
            http_reply_error(q->r, 400, "bad_parameter", "sort",
                             "parameter 'sort' must be 'bytes' or 'count', got '%.64s'", sort);
            return;
        }
        sq.limit = (uint32_t)limit;
        sq.by_count = sort && !strcmp(sort, "count");
    }
    job_t *j = new_job(q, site ? R_SITE : R_SITES);
    if (!j) return;
    j->sites_q = sq;
    if (tag) {
        j->has_tag = true;
        snprintf(j->tag, sizeof j->tag, "%s", tag);
    }
    if (!job_session(q, j, s, id, true)) return;
    if (tag && j->view && !view_tag_by_path(j->view, tag)) {
        http_reply_error(q->r, 404, "tag_not_found", "tag", "session %016llx has no tag '%.255s'",
                         (unsigned long long)id, tag);
        job_free(j);
        return;
    }
    submit(q, j);
}

/* since / until / limit / cursor of the paged routes. */
static bool page_params(request_t *q, uint32_t limit_default, uint32_t limit_max, uint64_t *since,
                        uint64_t *until, uint64_t *limit, bool *has_cursor, bool *newer, uint64_t *ms,
                        uint64_t *key) {
    bool has_until;
    char dir = 0;
    if (!int_param(q, "since", 0, UNIX_MS_MAX, 0, since, NULL, "a time in unix milliseconds") ||
        !int_param(q, "until", 0, UNIX_MS_MAX, 0, until, &has_until, "a time in unix milliseconds") ||
        !int_param(q, "limit", 1, limit_max, limit_default, limit, NULL, "an integer") ||
        !cursor_param(q, "on", false, has_cursor, &dir, ms, key))
        return false;
    if (!has_until) *until = UINT64_MAX;
    if (has_until && *until < *since) {
        http_reply_error(q->r, 400, "bad_parameter", "until",
                         "parameter 'until' (%llu) is before 'since' (%llu)", (unsigned long long)*until,
                         (unsigned long long)*since);
        return false;
    }
    *newer = dir == 'n';
    return true;
}

static void route_findings(request_t *q, const session_t *s, uint64_t id) {
    static const char *const allowed[] = {"since", "until", "limit", "cursor", NULL};
    if (!only_params(q, allowed)) return;
    uint64_t since, until, limit, ms = 0, key = 0;
    bool has_cursor, newer;
    if (!page_params(q, FINDINGS_LIMIT_DEFAULT, FINDINGS_LIMIT_MAX, &since, &until, &limit, &has_cursor,
                     &newer, &ms, &key))
        return;
    job_t *j = new_job(q, R_FINDINGS);
    if (!j || !job_session(q, j, s, id, false)) return;
    j->findings =
        (store_findings_query_t){id, since, until, has_cursor, newer, ms, (int64_t)key, (uint32_t)limit};
    submit(q, j);
}

static void route_alerts(request_t *q) {
    static const char *const allowed[] = {"session", "since", "until", "state", "limit", "cursor", NULL};
    if (!only_params(q, allowed)) return;
    const session_t *s = NULL;
    uint64_t id = 0;
    const char *sv = param(q, "session");
    if (sv && !session_param(q, sv, "session", &s, &id)) return;
    uint64_t since, until, limit, ms = 0, key = 0;
    bool has_cursor, newer;
    if (!page_params(q, ALERTS_LIMIT_DEFAULT, ALERTS_LIMIT_MAX, &since, &until, &limit, &has_cursor, &newer,
                     &ms, &key))
        return;
    int state = STORE_ALERTS_ALL;
    const char *st = param(q, "state");
    if (st) {
        if (!strcmp(st, "active"))
            state = STORE_ALERTS_ACTIVE;
        else if (!strcmp(st, "cleared"))
            state = STORE_ALERTS_CLEARED;
        else if (strcmp(st, "all") != 0) {
            http_reply_error(q->r, 400, "bad_parameter", "state",
                             "parameter 'state' must be 'active', 'cleared' or 'all', got '%.64s'", st);
            return;
        }
    }
    job_t *j = new_job(q, R_ALERTS);
    if (!j || (sv && !job_session(q, j, s, id, false))) return;
    j->alerts = (store_alerts_query_t){sv != NULL, id,    since, until,        state,
                                       has_cursor, newer, ms,    (int64_t)key, (uint32_t)limit};
    submit(q, j);
}

/* A decimal number parameter >= 0 (2.5, 10). Returns false after 400. */
static bool number_param(request_t *q, const char *name, double max, double *out, bool *present) {
    const char *v = param(q, name);
    *present = v != NULL;
    if (!v) return true;
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(d >= 0) || d > max || !isfinite(d) || strspn(v, "0123456789.") != strlen(v)) {
        http_reply_error(q->r, 400, "bad_parameter", name, "parameter '%s' must be a number in 0..%g, got '%.64s'",
                         name, max, v);
        return false;
    }
    *out = d;
    return true;
}

/* /compare?base=&candidate=: two sessions compared as `fa-cli compare`
 * does (libfa-compare), on the thread pool. */
static void route_compare(request_t *q) {
    static const char *const allowed[] = {"base", "candidate", "max_growth", "min_bytes", "min_allocs",
                                          "frames", "limit", NULL};
    if (!only_params(q, allowed)) return;
    const char *names[2] = {"base", "candidate"};
    const session_t *s[2] = {NULL, NULL};
    uint64_t id[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const char *v = param(q, names[k]);
        if (!v) {
            http_reply_error(q->r, 400, "missing_parameter", names[k],
                             "parameter '%s' is required (a session id, or 'latest')", names[k]);
            return;
        }
        if (!session_param(q, v, names[k], &s[k], &id[k])) return;
    }
    compare_query_t cq = {0};
    uint64_t frames, limit;
    const char *min_bytes = param(q, "min_bytes");
    if (!number_param(q, "max_growth", 1e9, &cq.flags.max_growth_pct, &cq.set_growth) ||
        !number_param(q, "min_allocs", 1e12, &cq.flags.min_allocs, &cq.set_allocs) ||
        !int_param(q, "frames", 1, COMPARE_FRAMES_MAX, COMPARE_FRAMES_DEFAULT, &frames, NULL, "an integer") ||
        !int_param(q, "limit", 1, COMPARE_ROWS_MAX, COMPARE_ROWS_DEFAULT, &limit, NULL, "an integer"))
        return;
    if (min_bytes) {
        if (units_parse_bytes(min_bytes, &cq.flags.min_bytes) != 0) {
            http_reply_error(q->r, 400, "bad_parameter", "min_bytes",
                             "parameter 'min_bytes' must be a size (65536, 64KiB, 1MiB), got '%.64s'", min_bytes);
            return;
        }
        cq.set_bytes = true;
    }
    cq.max_frames = (uint32_t)frames;
    cq.limit = (uint32_t)limit;
    job_t *j = new_job(q, R_COMPARE);
    if (!j) return;
    j->compare_q = cq;
    j->sid2 = id[1];
    if (!job_session(q, j, s[0], id[0], true)) return;
    if (s[1] && !(j->view2 = session_view(s[1]))) {
        http_reply_error(q->r, 500, "internal", NULL, "out of memory");
        job_free(j);
        return;
    }
    j->has_session = true; /* a view missing from memory is read by the job */
    submit(q, j);
}

/* ---- static findings (lint.h) ------------------------------------------------------ */

/* PUT: a SARIF report replaces the current one. Only a loopback daemon
 * takes it (a remote daemon reads --lint-report on its own machine), with
 * the token when it has one (the gate checked it), and never from a web
 * page of another origin. */
static void lint_upload(request_t *q) {
    insightd_ctx_t *c = q->ctx;
    if (!only_params(q, NULL)) return;
    if (!c->listen_loopback) {
        http_reply_error(q->r, 403, "loopback_only", NULL,
                         "this daemon listens beyond loopback: it takes lint reports only from --lint-report "
                         "FILE on its own machine");
        return;
    }
    const char *origin = http_req_header(q->r, "Origin");
    if (origin && !access_origin_allowed(origin, http_req_header(q->r, "Host"), c->listen_port,
                                         c->listen_loopback, c->cfg->allow_origin)) {
        http_reply_error(q->r, 403, "origin_not_allowed", NULL,
                         "a lint report from the web origin '%.100s' is refused", origin);
        return;
    }
    if (http_req_body_too_large(q->r)) {
        const char *cl = http_req_header(q->r, "Content-Length");
        if (cl && cl[0] && strspn(cl, "0123456789") == strlen(cl))
            http_reply_error(q->r, 413, "report_too_large", NULL,
                             "the report is %.40s bytes, more than --max-lint-report (%llu bytes)", cl,
                             (unsigned long long)c->cfg->max_lint_report_bytes);
        else
            http_reply_error(q->r, 400, "bad_content_length", NULL,
                             "Content-Length '%.40s' is not a byte count", cl ? cl : "");
        return;
    }
    size_t len;
    const char *body = http_req_body(q->r, &len);
    char err[400];
    if (lint_put(c->lint, body ? body : "", len, err, sizeof err) != 0) {
        http_reply_error(q->r, 400, "bad_report", NULL, "%s", err);
        return;
    }
    size_t out_len;
    char *out = lint_render(c->lint, NULL, 0, &out_len);
    reply_body(q->r, out, out_len);
}

static void route_lint(request_t *q) {
    const char *method = http_req_method(q->r);
    if (!strcmp(method, "PUT")) {
        lint_upload(q);
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char *const allow[] = {"Cache-Control", "no-store", "Allow", "GET, HEAD, PUT", NULL};
        char *body = json_error_body("method_not_allowed", "/api/v1/lint takes GET, HEAD and PUT", NULL);
        http_reply(q->r, 405, "application/json", body, body ? strlen(body) : 0, allow);
        free(body);
        return;
    }
    static const char *const allowed[] = {"file", "limit", NULL};
    uint64_t limit;
    const char *file = param(q, "file");
    if (!only_params(q, allowed) ||
        !int_param(q, "limit", 1, LINT_MAX_FINDINGS, LINT_MAX_FINDINGS, &limit, NULL, "an integer"))
        return;
    if (file && !file[0]) {
        http_reply_error(q->r, 400, "bad_parameter", "file", "parameter 'file' must not be empty");
        return;
    }
    size_t len;
    char *body = lint_render(q->ctx->lint, file, (uint32_t)limit, &len);
    reply_body(q->r, body, len);
}

/* ---- routing -------------------------------------------------------------------- */

#define MAX_SEGMENTS 6

void api_handle(insightd_ctx_t *ctx, http_req_t *r) {
    request_t q = {.ctx = ctx, .r = r};
    const char *uri = http_req_uri(r), *method = http_req_method(r);
    char target[2048];
    if (strlen(uri) >= sizeof target) {
        http_reply_error(r, 414, "uri_too_long", NULL, "request target longer than %zu bytes",
                         sizeof target - 1);
        return;
    }
    strcpy(target, uri);
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
            if (seg[i][0] == '\0' || url_decode(seg[i], false) < 0) bad_path = true;
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
        else if (nseg == 1 && !strcmp(seg[0], "lint"))
            route = R_LINT;
        else if (nseg == 1 && !strcmp(seg[0], "fleet"))
            route = R_FLEET;
        else if (nseg == 1 && !strcmp(seg[0], "compare"))
            route = R_COMPARE;
        else if (nseg == 2 && !strcmp(seg[0], "sessions"))
            route = R_SESSION;
        else if (nseg == 3 && !strcmp(seg[0], "sessions")) {
            static const struct {
                const char *name;
                int route;
            } sub[] = {{"frames", R_FRAMES},   {"tags", R_TAGS},         {"trend", R_TREND},
                       {"budgets", R_BUDGETS}, {"findings", R_FINDINGS}, {"sites", R_SITES}};
            for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++)
                if (!strcmp(seg[2], sub[i].name)) route = sub[i].route;
        } else if (nseg == 4 && !strcmp(seg[0], "sessions") && !strcmp(seg[2], "sites")) {
            route = R_SITE;
        }
    }
    if (route < 0) {
        http_reply_error(r, 404, "not_found", NULL,
                         "no such route (see API.md: /api/v1/health, /api/v1/sessions, ...)");
        return;
    }
    if (route != R_LINT && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_reply_error(r, 405, "method_not_allowed", NULL, "method %.16s not allowed here (GET or HEAD)",
                         method);
        return;
    }
    char err[200];
    q.nparams = url_parse_query(query, q.params, URL_MAX_PARAMS, err, sizeof err);
    if (q.nparams < 0) {
        http_reply_error(r, 400, "bad_query", NULL, "%s", err);
        return;
    }
    const session_t *s = NULL;
    uint64_t id = 0;
    if (route >= R_SESSION && route <= R_SITE && !session_param(&q, seg[1], "id", &s, &id)) return;
    switch (route) {
    case R_HEALTH:
        if (only_params(&q, NULL)) route_health(&q);
        break;
    case R_SESSIONS:
        route_sessions(&q);
        break;
    case R_SESSION:
    case R_TAGS:
        if (only_params(&q, NULL)) route_view(&q, route, s, id, NULL);
        break;
    case R_BUDGETS:
        route_budgets(&q, s, id);
        break;
    case R_FRAMES:
        route_frames(&q, s, id);
        break;
    case R_TREND:
        route_trend(&q, s, id);
        break;
    case R_FINDINGS:
        route_findings(&q, s, id);
        break;
    case R_SITES:
    case R_SITE:
        route_sites(&q, s, id, route == R_SITE ? seg[3] : NULL);
        break;
    case R_ALERTS:
        route_alerts(&q);
        break;
    case R_LINT:
        route_lint(&q);
        break;
    case R_FLEET:
        route_fleet(&q);
        break;
    case R_COMPARE:
        route_compare(&q);
        break;
    }
}
