/* store_backend.h — what a storage backend provides to store.c (the
 * backends' side of store.h; nothing else includes it).
 *
 * A backend's store and readers begin with the heads below; store.c
 * dispatches every store.h call through the ops table and owns what is
 * common: the pool of readers (acquire blocks until one is idle), their
 * cancellation and their error text. The threads and the meaning of each
 * operation are those of store.h. */
#ifndef FA_INSIGHTD_STORE_BACKEND_H
#define FA_INSIGHTD_STORE_BACKEND_H

#include <pthread.h>

#include "store.h"

typedef struct store_ops {
    const char *kind;
    void (*close)(store_t *st);
    int (*load)(store_t *st, uint32_t max, store_load_fn fn, store_id_fn id_fn, void *ud,
                int64_t *next_alert_id);
    int (*begin)(store_t *st);
    int (*commit)(store_t *st);
    void (*rollback)(store_t *st);
    int (*put_session)(store_t *st, const session_info_t *s);
    int (*put_counters)(store_t *st, uint64_t session_id, const store_counters_t *c);
    int (*put_tag)(store_t *st, uint64_t session_id, const tag_info_t *t);
    int (*put_site)(store_t *st, uint64_t session_id, const site_info_t *s);
    int (*put_alert)(store_t *st, const alert_row_t *a);
    int (*put_frames)(store_t *st, const store_frame_t *rows, size_t n, size_t *rejected);
    int (*put_rollups)(store_t *st, int level, const store_rollup_t *rows, size_t n);
    int (*put_findings)(store_t *st, const store_finding_t *rows, size_t n);
    int64_t (*prune)(store_t *st, const store_keep_t *keep, uint64_t now_ms, int max_rows, bool *more);
    int (*maintain)(store_t *st, bool *wal_reset);
    int (*check_file)(store_t *st);
    int (*lookup)(store_t *st, uint64_t session_id, session_view_t **out);
    /* readers */
    int (*read_view)(store_reader_t *r, uint64_t session_id, session_view_t **out);
    int (*read_frames)(store_reader_t *r, const store_frames_query_t *q, store_frame_fn fn, void *ud);
    int (*read_series)(store_reader_t *r, int level, uint64_t session_id, uint64_t lo, uint64_t hi, int tag,
                       store_series_fn fn, void *ud);
    int (*read_alerts)(store_reader_t *r, const store_alerts_query_t *q, store_alert_fn fn, void *ud);
    int (*read_findings)(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn, void *ud);
    int (*read_finding_summary)(store_reader_t *r, const store_findings_query_t *q, store_finding_fn fn,
                                void *ud);
    int (*read_sessions)(store_reader_t *r, const store_sessions_query_t *q, store_session_fn fn, void *ud);
    int (*read_sites)(store_reader_t *r, uint64_t session_id, const uint32_t *ids, size_t n, store_site_fn fn,
                      void *ud);
    int (*count_elsewhere)(store_reader_t *r, uint64_t *n);
    int (*read_latest)(store_reader_t *r, uint64_t *id, uint64_t *last_seen_ms, bool *live);
    int (*read_fleet)(store_reader_t *r, const store_fleet_query_t *q, const store_fleet_sink_t *sink);
} store_ops_t;

/* The head of every reader. */
struct store_reader {
    store_t *store;
    store_cancel_t cancel;
    char error[256];
    store_reader_t *next_idle;
};

/* The head of every store. */
struct store {
    const store_ops_t *ops;
    char path[1024]; /* store_path(): never a password */
    char error[512]; /* store_error() */
    bool in_txn;
    /* the reader pool */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    store_reader_t *idle;
};

/* Backends' constructors (store.c calls the one the location names).
 * Each fills its ops and path, opens `readers` readers and hands each to
 * store_backend_add_reader. */
int store_sqlite_open(store_t **out, const char *path, int readers, char *err, size_t errcap);
int store_pg_open(store_t **out, const char *uri, int readers, const store_keep_t *keep, char *err,
                  size_t errcap);

/* For the backends: the common head's set-up and tear-down, and the pool. */
void store_backend_init(store_t *st, const store_ops_t *ops);
void store_backend_fini(store_t *st);
void store_backend_add_reader(store_t *st, store_reader_t *r);
/* Whether the reader's request was cancelled or passed its deadline. */
bool store_backend_cancelled(const store_reader_t *r);

#endif
