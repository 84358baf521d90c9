/* store.c — store.h's calls, dispatched to the backend the location names
 * (store_backend.h), and what the backends share: the pool of readers. */
#include "store_backend.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"

bool store_location_is_pg(const char *location) {
    return strncmp(location, "postgresql://", 13) == 0 || strncmp(location, "postgres://", 11) == 0;
}

int store_open(store_t **out, const char *location, int readers, const store_keep_t *keep, char *err,
               size_t errcap) {
    if (store_location_is_pg(location)) return store_pg_open(out, location, readers, keep, err, errcap);
    return store_sqlite_open(out, location, readers, err, errcap);
}

void store_close(store_t *st) {
    if (st) st->ops->close(st);
}
const char *store_path(const store_t *st) {
    return st->path;
}
const char *store_kind(const store_t *st) {
    return st->ops->kind;
}
const char *store_error(const store_t *st) {
    return st->error;
}

int store_load(store_t *st, uint32_t max, store_load_fn fn, store_id_fn id_fn, void *ud,
               int64_t *next_alert_id) {
    return st->ops->load(st, max, fn, id_fn, ud, next_alert_id);
}
int store_begin(store_t *st) {
    return st->ops->begin(st);
}
int store_commit(store_t *st) {
    return st->ops->commit(st);
}
void store_rollback(store_t *st) {
    st->ops->rollback(st);
}
int store_put_session(store_t *st, const session_info_t *s) {
    return st->ops->put_session(st, s);
}
int store_put_counters(store_t *st, uint64_t sid, const store_counters_t *c) {
    return st->ops->put_counters(st, sid, c);
}
int store_put_tag(store_t *st, uint64_t sid, const tag_info_t *t) {
    return st->ops->put_tag(st, sid, t);
}
int store_put_site(store_t *st, uint64_t sid, const site_info_t *s) {
    return st->ops->put_site(st, sid, s);
}
int store_put_alert(store_t *st, const alert_row_t *a) {
    return st->ops->put_alert(st, a);
}
int store_put_frames(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected) {
    *rejected = 0;
    return n ? st->ops->put_frames(st, rows, n, rejected) : STORE_OK;
}
int store_put_rollups(store_t *st, int level, const store_rollup_t *rows, size_t n) {
    return n ? st->ops->put_rollups(st, level, rows, n) : STORE_OK;
}
int store_put_findings(store_t *st, const store_finding_t *rows, size_t n) {
    return n ? st->ops->put_findings(st, rows, n) : STORE_OK;
}
int64_t store_prune(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more) {
    return st->ops->prune(st, keep, now_ms, max_rows, more);
}
int store_maintain(store_t *st, bool *wal_reset) {
    *wal_reset = false;
    return st->ops->maintain(st, wal_reset);
}
int store_check_file(store_t *st) {
    return st->ops->check_file(st);
}
int store_lookup(store_t *st, uint64_t sid, session_view_t **out) {
    return st->ops->lookup(st, sid, out);
}

/* ---- readers ------------------------------------------------------------- */

void store_backend_init(store_t *st, const store_ops_t *ops) {
    st->ops = ops;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->freed, NULL);
}

void store_backend_fini(store_t *st) {
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->freed);
}

void store_backend_add_reader(store_t *st, store_reader_t *r) {
    r->store = st;
    r->next_idle = st->idle;
    st->idle = r;
}

bool store_backend_cancelled(const store_reader_t *r) {
    if (r->cancel.flag && atomic_load(r->cancel.flag)) return true;
    return r->cancel.deadline_mono_ms && clock_mono_ms() >= r->cancel.deadline_mono_ms;
}

store_reader_t *store_reader_acquire(store_t *st, const store_cancel_t *cancel) {
    pthread_mutex_lock(&st->lock);
    while (!st->idle)
        pthread_cond_wait(&st->freed, &st->lock);
    store_reader_t *r = st->idle;
    st->idle = r->next_idle;
    pthread_mutex_unlock(&st->lock);
    r->cancel = cancel ? *cancel : (store_cancel_t){0};
    r->error[0] = '\0';
    return r;
}

void store_reader_release(store_t *st, store_reader_t *r) {
    r->cancel = (store_cancel_t){0};
    pthread_mutex_lock(&st->lock);
    r->next_idle = st->idle;
    st->idle = r;
    pthread_cond_signal(&st->freed);
    pthread_mutex_unlock(&st->lock);
}

const char *store_reader_error(const store_reader_t *r) {
    return r->error;
}

int store_read_view(store_reader_t *r, uint64_t sid, session_view_t **out) {
    return r->store->ops->read_view(r, sid, out);
}
int store_read_frames(store_reader_t *r, const store_frames_query_t *q, store_frame_fn fn, void *ud) {
    return r->store->ops->read_frames(r, q, fn, ud);
}
int store_read_series(store_reader_t *r, int level, uint64_t sid, uint64_t lo, uint64_t hi, int tag,
                      store_series_fn fn, void *ud) {
    return r->store->ops->read_series(r, level, sid, lo, hi, tag, fn, ud);
}
int store_read_alerts(store_reader_t *r, const store_alerts_query_t *q, store_alert_fn fn, void *ud) {
    return r->store->ops->read_alerts(r, q, fn, ud);
}
int store_read_findings(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn, void *ud) {
    return r->store->ops->read_findings(r, q, fn, ud);
}
int store_read_finding_summary(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn,
                               void *ud) {
    return r->store->ops->read_finding_summary(r, q, fn, ud);
}
int store_read_sessions(store_reader_t *r, const store_sessions_query_t *q, store_session_fn fn, void *ud) {
    return r->store->ops->read_sessions(r, q, fn, ud);
}
int store_read_sites(store_reader_t *r, uint64_t sid, const uint32_t *ids, size_t n, store_site_fn fn,
                     void *ud) {
    return n ? r->store->ops->read_sites(r, sid, ids, n, fn, ud) : STORE_OK;
}
int store_count_elsewhere(store_reader_t *r, uint64_t *n) {
    return r->store->ops->count_elsewhere(r, n);
}
int store_read_latest(store_reader_t *r, uint64_t *id, uint64_t *last_seen_ms, bool *live) {
    return r->store->ops->read_latest(r, id, last_seen_ms, live);
}
int store_read_fleet(store_reader_t *r, const store_fleet_query_t *q, const store_fleet_sink_t *sink) {
    return r->store->ops->read_fleet(r, q, sink);
}
