/* writer.c — the writer thread (see writer.h).
 *
 * Records are queued as self-contained ops (one allocation each, the blob
 * inline). The thread swaps the whole queue out under the lock and writes
 * it in one transaction; a frame's counters are collapsed per session and
 * written after the batch's frames, in the same transaction, so that a
 * crash never leaves counters that disagree with the frames stored. */
#include "writer.h"

#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* Sessions, tags and alerts may use this much beyond the buffer. */
#define CONTROL_RESERVE (4u * 1024u * 1024u)
#define RETENTION_FIRST_MS 5000u
#define RETENTION_STEP_ROWS 5000
#define MAINTAIN_EVERY_MS 1000u
#define FILE_CHECK_EVERY_MS 2000u
#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 4000u
#define LOG_EVERY_MS 10000u
/* A queue holding buffer_bytes / EARLY_BATCH_SHARE starts its batch at
 * once instead of at the end of the commit interval: batching longer gains
 * nothing once a batch is this large, and a writer that slept out the
 * interval while a flood filled its buffer dropped what did not fit (100
 * games at 60 fps queue ~2 MiB per 250 ms, under the default 4 MiB). */
#define EARLY_BATCH_SHARE 8u

enum { OP_SESSION, OP_TAG, OP_ALERT, OP_FRAME, OP_ROLLUP, OP_FINDING, OP_SITE };

typedef struct frame_op {
    store_frame_t row;
    store_counters_t counters;
} frame_op_t;
typedef struct rollup_op {
    int level;
    store_rollup_t row;
} rollup_op_t;
typedef struct tag_op {
    uint64_t session_id;
    tag_info_t tag;
    char path[VIEW_TEXT_MAX];
} tag_op_t;
typedef struct site_op {
    uint64_t session_id;
    site_info_t site;
} site_op_t;

typedef struct op {
    struct op *next;
    uint64_t seq;
    size_t bytes; /* accounted against the buffer */
    uint8_t kind;
    max_align_t payload[]; /* one of the *_op_t or records, then the blob */
} op_t;

typedef struct lookup {
    struct lookup *next;
    uint64_t session_id;
    session_view_t *view;
    bool done;
} lookup_t;

struct writer {
    store_t *st;
    writer_options_t opt;
    writer_hooks_t hooks;
    uv_async_t async; /* replies to the loop */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* under lock */
    op_t *head, *tail;
    lookup_t *lookups, *replies;
    bool stop, urgent, file_lost, file_lost_reported;
    uint64_t stop_deadline;
    uint64_t queued_bytes, queued_ops, queued_frames; /* queue + the batch in progress */
    uint64_t head_bytes;                                 /* the queue alone */
    uint64_t next_seq, committed;
    uint64_t busy_since; /* monotonic start of the store call in progress, 0 idle */
    writer_stats_t stats;
    /* writer thread only */
    op_t *batch;
    log_limiter_t fail_lim;
    uint64_t backoff_ms;
};

/* ---- loop side ----------------------------------------------------------- */

static void *op_payload(op_t *o) {
    return o->payload;
}

static op_t *op_new(uint8_t kind, size_t payload, size_t blob) {
    op_t *o = malloc(sizeof *o + payload + blob);
    if (!o) return NULL;
    o->next = NULL;
    o->kind = kind;
    o->bytes = sizeof *o + payload + blob;
    return o;
}

static bool droppable(uint8_t kind) {
    return kind == OP_FRAME || kind == OP_ROLLUP || kind == OP_FINDING;
}

/* Queues o, or frees it when the buffer is full. Returns its seq or 0. */
static uint64_t enqueue(writer_t *w, op_t *o) {
    pthread_mutex_lock(&w->lock);
    uint64_t limit = w->opt.buffer_bytes + (droppable(o->kind) ? 0 : CONTROL_RESERVE);
    if (w->queued_bytes + o->bytes > limit) {
        if (!droppable(o->kind)) w->stats.control_dropped++;
        pthread_mutex_unlock(&w->lock);
        free(o);
        return 0;
    }
    o->seq = ++w->next_seq;
    uint64_t early = w->opt.buffer_bytes / EARLY_BATCH_SHARE;
    if (w->tail) {
        w->tail->next = o;
        if (w->head_bytes < early && w->head_bytes + o->bytes >= early)
            pthread_cond_signal(&w->wake); /* a batch is due now */
    } else {
        w->head = o;
        pthread_cond_signal(&w->wake); /* it may sleep for longer than the commit interval */
    }
    w->tail = o;
    w->head_bytes += o->bytes;
    w->queued_bytes += o->bytes;
    w->queued_ops++;
    if (o->kind == OP_FRAME) w->queued_frames++;
    uint64_t seq = o->seq;
    pthread_mutex_unlock(&w->lock);
    return seq;
}

uint64_t writer_put_session(writer_t *w, const session_info_t *s) {
    op_t *o = op_new(OP_SESSION, sizeof *s, 0);
    if (!o) return 0;
    memcpy(op_payload(o), s, sizeof *s);
    return enqueue(w, o);
}

uint64_t writer_put_tag(writer_t *w, uint64_t sid, const tag_info_t *t) {
    op_t *o = op_new(OP_TAG, sizeof(tag_op_t), 0);
    if (!o) return 0;
    tag_op_t *p = op_payload(o);
    p->session_id = sid;
    p->tag = *t;
    snprintf(p->path, sizeof p->path, "%s", t->path ? t->path : "");
    p->tag.path = NULL; /* points at p->path when written */
    return enqueue(w, o);
}

/* A record that is a plain struct, copied as it is. */
static uint64_t put_copy(writer_t *w, uint8_t type, const void *rec, size_t size) {
    op_t *o = op_new(type, size, 0);
    if (!o) return 0;
    memcpy(op_payload(o), rec, size);
    return enqueue(w, o);
}

uint64_t writer_put_site(writer_t *w, uint64_t sid, const site_info_t *s) {
    site_op_t op = {sid, *s};
    return put_copy(w, OP_SITE, &op, sizeof op);
}

uint64_t writer_put_alert(writer_t *w, const alert_row_t *a) {
    return put_copy(w, OP_ALERT, a, sizeof *a);
}

uint64_t writer_put_frame(writer_t *w, const store_frame_t *f, const store_counters_t *c) {
    op_t *o = op_new(OP_FRAME, sizeof(frame_op_t), f->len);
    if (!o) return 0;
    frame_op_t *p = op_payload(o);
    p->row = *f;
    p->counters = *c;
    memcpy(p + 1, f->blob, f->len);
    p->row.blob = (const uint8_t *)(p + 1);
    return enqueue(w, o);
}

uint64_t writer_put_rollup(writer_t *w, int level, const store_rollup_t *r) {
    op_t *o = op_new(OP_ROLLUP, sizeof(rollup_op_t), r->len);
    if (!o) return 0;
    rollup_op_t *p = op_payload(o);
    p->level = level;
    p->row = *r;
    memcpy(p + 1, r->blob, r->len);
    p->row.blob = (const uint8_t *)(p + 1);
    return enqueue(w, o);
}

uint64_t writer_put_finding(writer_t *w, const store_finding_t *f) {
    return put_copy(w, OP_FINDING, f, sizeof *f);
}

void writer_lookup(writer_t *w, uint64_t sid) {
    lookup_t *l = calloc(1, sizeof *l);
    if (!l) {
        if (w->hooks.on_lookup) w->hooks.on_lookup(w->hooks.ud, sid, NULL);
        return;
    }
    l->session_id = sid;
    pthread_mutex_lock(&w->lock);
    l->next = w->lookups;
    w->lookups = l;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void writer_commit_soon(writer_t *w) {
    pthread_mutex_lock(&w->lock);
    w->urgent = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

uint64_t writer_committed(const writer_t *w) {
    pthread_mutex_lock((pthread_mutex_t *)&w->lock);
    uint64_t c = w->committed;
    pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
    return c;
}

bool writer_backlogged(const writer_t *w) {
    pthread_mutex_lock((pthread_mutex_t *)&w->lock);
    bool b = w->queued_bytes > w->opt.buffer_bytes / 2 || w->stats.failing;
    pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
    return b;
}

void writer_stats(const writer_t *w, writer_stats_t *out) {
    pthread_mutex_lock((pthread_mutex_t *)&w->lock);
    *out = w->stats;
    out->backlog_ops = w->queued_ops;
    out->backlog_bytes = w->queued_bytes;
    out->backlog_frames = w->queued_frames;
    out->busy_ms = w->busy_since ? clock_mono_ms() - w->busy_since : 0;
    pthread_mutex_unlock((pthread_mutex_t *)&w->lock);
}

/* Loop: replies from the thread. */
static void async_cb(uv_async_t *a) {
    writer_t *w = a->data;
    pthread_mutex_lock(&w->lock);
    lookup_t *r = w->replies;
    w->replies = NULL;
    bool lost = w->file_lost && !w->file_lost_reported;
    if (lost) w->file_lost_reported = true;
    pthread_mutex_unlock(&w->lock);
    while (r) {
        lookup_t *next = r->next;
        if (w->hooks.on_lookup)
            w->hooks.on_lookup(w->hooks.ud, r->session_id, r->view);
        else
            view_free(r->view);
        free(r);
        r = next;
    }
    if (lost && w->hooks.on_file_lost) w->hooks.on_file_lost(w->hooks.ud);
}

/* ---- writer thread -------------------------------------------------------- */

static void set_busy(writer_t *w, bool busy) {
    pthread_mutex_lock(&w->lock);
    w->busy_since = busy ? clock_mono_ms() : 0;
    pthread_mutex_unlock(&w->lock);
}

static void answer_lookups(writer_t *w) {
    pthread_mutex_lock(&w->lock);
    lookup_t *l = w->lookups;
    w->lookups = NULL;
    pthread_mutex_unlock(&w->lock);
    if (!l) return;
    lookup_t *done = NULL;
    while (l) {
        lookup_t *next = l->next;
        set_busy(w, true);
        int rc = store_lookup(w->st, l->session_id, &l->view);
        set_busy(w, false);
        if (rc != 1) l->view = NULL; /* unknown, or the store failed: a new session */
        l->next = done;
        done = l;
        l = next;
    }
    pthread_mutex_lock(&w->lock);
    while (done) {
        lookup_t *next = done->next;
        done->next = w->replies;
        w->replies = done;
        w->stats.lookups++;
        done = next;
    }
    pthread_mutex_unlock(&w->lock);
    uv_async_send(&w->async);
}

/* Latest counters per session in a batch (collapsed before commit). */
typedef struct counters_slot {
    uint64_t sid;
    const store_counters_t *c;
} counters_slot_t;

static void counters_note(counters_slot_t *tab, size_t cap, uint64_t sid, const store_counters_t *c) {
    size_t i = (size_t)((sid * 0x9E3779B97F4A7C15ull) >> 40) & (cap - 1);
    while (tab[i].c && tab[i].sid != sid)
        i = (i + 1) & (cap - 1);
    tab[i].sid = sid;
    tab[i].c = c;
}

/* A batch's bulk rows, gathered by kind: each kind goes to the store in
 * runs as long as BULK_MAX, whatever order the loop queued them in (a
 * COPY per run in PostgreSQL; interleaved, the 1-second rollups of 100
 * games cut the frames into runs of a few rows). */
#define BULK_MAX 2048

typedef struct bulk {
    store_frame_t *frames;
    store_rollup_t *rollups[STORE_LEVELS];
    store_finding_t *findings;
    size_t nframes, nrollups[STORE_LEVELS], nfindings;
} bulk_t;

static void bulk_free(bulk_t *b) {
    free(b->frames);
    for (int l = 0; l < STORE_LEVELS; l++)
        free(b->rollups[l]);
    free(b->findings);
}

/* Control records (sessions, tags, alerts) are written here, in order;
 * bulk rows are gathered into b. */
static int write_controls(writer_t *w, bulk_t *b, size_t n) {
    b->frames = malloc((n ? n : 1) * sizeof *b->frames);
    b->findings = malloc((n ? n : 1) * sizeof *b->findings);
    for (int l = 0; l < STORE_LEVELS; l++)
        b->rollups[l] = malloc((n ? n : 1) * sizeof *b->rollups[l]);
    if (!b->frames || !b->findings || !b->rollups[0] || !b->rollups[1] || !b->rollups[2]) return STORE_RETRY;
    int rc = STORE_OK;
    for (op_t *o = w->batch; o && rc != STORE_RETRY; o = o->next) {
        switch (o->kind) {
        case OP_FRAME:
            b->frames[b->nframes++] = ((frame_op_t *)op_payload(o))->row;
            break;
        case OP_ROLLUP: {
            rollup_op_t *r = op_payload(o);
            b->rollups[r->level][b->nrollups[r->level]++] = r->row;
            break;
        }
        case OP_FINDING:
            b->findings[b->nfindings++] = *(store_finding_t *)op_payload(o);
            break;
        case OP_SESSION:
            rc = store_put_session(w->st, op_payload(o));
            break;
        case OP_TAG: {
            tag_op_t *p = op_payload(o);
            p->tag.path = p->path;
            rc = store_put_tag(w->st, p->session_id, &p->tag);
            break;
        }
        case OP_ALERT:
            rc = store_put_alert(w->st, op_payload(o));
            break;
        case OP_SITE: {
            const site_op_t *p = op_payload(o);
            rc = store_put_site(w->st, p->session_id, &p->site);
            break;
        }
        }
    }
    return rc;
}

static int write_bulk(writer_t *w, const bulk_t *b, uint64_t *frames, uint64_t *rejected) {
    int rc = STORE_OK;
    for (size_t i = 0; i < b->nframes && rc != STORE_RETRY; i += BULK_MAX) {
        size_t n = b->nframes - i < BULK_MAX ? b->nframes - i : BULK_MAX, refused = 0;
        rc = store_put_frames(w->st, b->frames + i, n, &refused);
        *frames += n - refused;
        *rejected += refused;
    }
    for (int l = 0; l < STORE_LEVELS; l++)
        for (size_t i = 0; i < b->nrollups[l] && rc != STORE_RETRY; i += BULK_MAX)
            rc = store_put_rollups(w->st, l, b->rollups[l] + i,
                                   b->nrollups[l] - i < BULK_MAX ? b->nrollups[l] - i : BULK_MAX);
    for (size_t i = 0; i < b->nfindings && rc != STORE_RETRY; i += BULK_MAX)
        rc = store_put_findings(w->st, b->findings + i,
                                b->nfindings - i < BULK_MAX ? b->nfindings - i : BULK_MAX);
    return rc;
}

/* The database took a write again. */
static void note_success(writer_t *w) {
    pthread_mutex_lock(&w->lock);
    bool was_failing = w->stats.failing;
    w->stats.failing = false;
    w->stats.problem[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    if (was_failing) LOG(LOG_WARN, "database %s: writing again", store_path(w->st));
    w->backoff_ms = 0;
}

/* Writes the batch in one transaction: its control records in order, its
 * bulk rows by kind, then the newest counters of each session that had
 * frames in it. Returns STORE_OK (committed and freed) or STORE_RETRY
 * (rolled back, kept). */
static int write_batch(writer_t *w) {
    uint64_t t0 = clock_mono_ms();
    set_busy(w, true);
    size_t n = 0;
    for (op_t *o = w->batch; o; o = o->next)
        n++;
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    counters_slot_t *tab = calloc(cap, sizeof *tab);
    for (op_t *o = w->batch; tab && o; o = o->next) {
        if (o->kind != OP_FRAME) continue;
        frame_op_t *f = op_payload(o);
        counters_note(tab, cap, f->row.session_id, &f->counters); /* the last one wins */
    }
    int rc = tab ? store_begin(w->st) : STORE_RETRY;
    uint64_t frames = 0, rejected = 0;
    bulk_t bulk = {0};
    if (rc != STORE_RETRY) rc = write_controls(w, &bulk, n);
    if (rc != STORE_RETRY) rc = write_bulk(w, &bulk, &frames, &rejected);
    for (size_t i = 0; rc != STORE_RETRY && i < cap; i++)
        if (tab[i].c && store_put_counters(w->st, tab[i].sid, tab[i].c) == STORE_RETRY) rc = STORE_RETRY;
    if (rc != STORE_RETRY) rc = store_commit(w->st);
    bulk_free(&bulk);
    free(tab);
    uint64_t dt = clock_mono_ms() - t0;
    set_busy(w, false);
    if (rc == STORE_RETRY) {
        store_rollback(w->st);
        return STORE_RETRY;
    }
    uint64_t last_seq = 0, bytes = 0, ops = 0, nframes = 0;
    while (w->batch) {
        op_t *o = w->batch;
        w->batch = o->next;
        last_seq = o->seq;
        bytes += o->bytes;
        ops++;
        if (o->kind == OP_FRAME) nframes++;
        free(o);
    }
    pthread_mutex_lock(&w->lock);
    w->committed = last_seq;
    w->queued_bytes -= bytes;
    w->queued_ops -= ops;
    w->queued_frames -= nframes;
    w->stats.commits++;
    w->stats.frames_stored += frames;
    w->stats.frames_rejected += rejected;
    w->stats.last_commit_ms = clock_now_ms();
    w->stats.commit_ms_last = dt;
    if (dt > w->stats.commit_ms_max) w->stats.commit_ms_max = dt;
    pthread_mutex_unlock(&w->lock);
    note_success(w);
    return STORE_OK;
}

static void note_failure(writer_t *w) {
    pthread_mutex_lock(&w->lock);
    if (!w->stats.failing) w->stats.failing_since_ms = clock_mono_ms();
    w->stats.failing = true;
    w->stats.failed_attempts++;
    snprintf(w->stats.problem, sizeof w->stats.problem, "%s", store_error(w->st));
    uint64_t buffered = w->queued_frames;
    pthread_mutex_unlock(&w->lock);
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (w->backoff_ms > BACKOFF_MAX_MS) w->backoff_ms = BACKOFF_MAX_MS;
    log_limited(&w->fail_lim, LOG_EVERY_MS, LOG_ERROR,
                "database %s: write failed, retrying (%llu frames buffered): %s", store_path(w->st),
                (unsigned long long)buffered, store_error(w->st));
}

static void run_retention(writer_t *w, uint64_t *due) {
    uint64_t now = clock_now_ms();
    set_busy(w, true);
    bool more = false;
    int64_t n = store_prune(w->st, &w->opt.keep, now, RETENTION_STEP_ROWS, &more);
    set_busy(w, false);
    if (n == STORE_RETRY) {
        note_failure(w);
        *due = clock_mono_ms() + w->backoff_ms;
        return;
    }
    note_success(w);
    pthread_mutex_lock(&w->lock);
    w->stats.retention_deleted += (uint64_t)n;
    if (!more) w->stats.retention_passes++;
    pthread_mutex_unlock(&w->lock);
    /* More is due: go on after the next batch. */
    if (!more) *due = clock_mono_ms() + w->opt.retention_interval_ms;
    if (n > 0) LOG(LOG_DEBUG, "retention: %lld old rows deleted", (long long)n);
}

static void *writer_main(void *arg) {
    writer_t *w = arg;
    uint64_t start = clock_mono_ms();
    uint64_t retention_due = start + RETENTION_FIRST_MS, last_batch = start, last_maintain = start,
             last_check = start, retry_at = 0;
    for (;;) {
        answer_lookups(w);
        uint64_t now = clock_mono_ms();
        /* Take the queue when the interval since the last batch began is
         * over (or sooner when asked). Counted from the start, not the
         * end: a commit that outlasts the interval is followed at once by
         * the next batch, and the writer is never idle while its buffer
         * fills (batches grow with the load instead). */
        pthread_mutex_lock(&w->lock);
        bool stop = w->stop;
        bool early = w->head_bytes >= w->opt.buffer_bytes / EARLY_BATCH_SHARE;
        bool due = w->head && (w->urgent || stop || early || now - last_batch >= w->opt.commit_interval_ms);
        if (!w->batch && due) {
            last_batch = now;
            w->batch = w->head;
            w->head = w->tail = NULL;
            w->head_bytes = 0;
            w->urgent = false;
        } else if (w->batch && w->head && now >= retry_at) {
            /* Retrying: the new records join the batch. */
            op_t *t = w->batch;
            while (t->next)
                t = t->next;
            t->next = w->head;
            w->head = w->tail = NULL;
            w->head_bytes = 0;
        }
        pthread_mutex_unlock(&w->lock);
        if (w->batch && now >= retry_at) {
            if (write_batch(w) != STORE_OK) {
                note_failure(w);
                retry_at = clock_mono_ms() + w->backoff_ms;
            }
        }
        now = clock_mono_ms();
        if (!w->batch) {
            if (now - last_maintain >= MAINTAIN_EVERY_MS) {
                bool reset = false;
                set_busy(w, true);
                store_maintain(w->st, &reset);
                set_busy(w, false);
                last_maintain = now;
                if (reset) {
                    pthread_mutex_lock(&w->lock);
                    w->stats.wal_resets++;
                    pthread_mutex_unlock(&w->lock);
                }
            }
            if (!stop && now >= retention_due) run_retention(w, &retention_due);
        }
        if (now - last_check >= FILE_CHECK_EVERY_MS) {
            last_check = now;
            if (store_check_file(w->st)) {
                pthread_mutex_lock(&w->lock);
                bool first = !w->file_lost;
                w->file_lost = true;
                pthread_mutex_unlock(&w->lock);
                if (first) uv_async_send(&w->async);
            }
        }
        pthread_mutex_lock(&w->lock);
        if (w->stop && !w->head && !w->batch) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        if (w->stop && w->batch && clock_mono_ms() >= w->stop_deadline) {
            pthread_mutex_unlock(&w->lock);
            break; /* writer_stop counts what is left */
        }
        /* Sleep until something is due. */
        uint64_t wake = last_batch + w->opt.commit_interval_ms;
        if (w->batch) wake = retry_at;
        if (!w->head && !w->batch) wake = now + MAINTAIN_EVERY_MS;
        if (retention_due < wake && !w->batch) wake = retention_due;
        now = clock_mono_ms();
        bool full_queue = !w->batch && w->head_bytes >= w->opt.buffer_bytes / EARLY_BATCH_SHARE;
        if (!w->lookups && !w->urgent && !w->stop && !full_queue && wake > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (wake - now) * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------ */

void writer_keep_heap(size_t buffer_bytes) {
#ifdef __GLIBC__
    /* What one batch frees: an early batch's size (the largest a flood
     * makes). Not the whole buffer: memory must go back to the kernel
     * after a burst (tests/insightd/hostile.py's WebSocket flood). */
    size_t bytes = buffer_bytes / EARLY_BATCH_SHARE;
    int keep = bytes > INT_MAX ? INT_MAX : (int)bytes;
    /* Setting the trim threshold also freezes the mmap threshold, which
     * glibc would otherwise raise as large blocks come and go: 1 MiB keeps
     * nng's messages (a FRAMES of 32 key frames is ~120 KiB) on the heap. */
    if (mallopt(M_TRIM_THRESHOLD, keep) != 1 || mallopt(M_MMAP_THRESHOLD, 1 << 20) != 1)
        LOG(LOG_WARN, "mallopt refused: the heap is trimmed after each batch");
#else
    (void)buffer_bytes;
#endif
}

int writer_start(writer_t **out, store_t *st, uv_loop_t *loop, const writer_options_t *opt,
                 const writer_hooks_t *hooks, char *err, size_t errcap) {
    writer_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    w->st = st;
    w->opt = *opt;
    if (hooks) w->hooks = *hooks;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    uv_async_init(loop, &w->async, async_cb);
    w->async.data = w;
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errcap, "cannot start the writer thread");
        uv_close((uv_handle_t *)&w->async, NULL);
        return -1;
    }
    *out = w;
    return 0;
}

void writer_stop(writer_t *w, uint64_t deadline_mono_ms) {
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    w->stop_deadline = deadline_mono_ms;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    /* What could not be written by the deadline. */
    uint64_t lost = 0;
    for (op_t *lists[2] = {w->batch, w->head}, **l = lists; l < lists + 2; l++) {
        for (op_t *o = *l; o;) {
            op_t *next = o->next;
            if (o->kind == OP_FRAME) lost++;
            free(o);
            o = next;
        }
    }
    w->batch = w->head = w->tail = NULL;
    w->head_bytes = 0;
    if (lost)
        LOG(LOG_ERROR, "database %s: %llu frames could not be written before the shutdown deadline",
            store_path(w->st), (unsigned long long)lost);
    /* Look-ups nobody will answer. */
    while (w->lookups) {
        lookup_t *l = w->lookups;
        w->lookups = l->next;
        free(l);
    }
}

void writer_close(writer_t *w) {
    if (w && !uv_is_closing((uv_handle_t *)&w->async)) uv_close((uv_handle_t *)&w->async, NULL);
}

void writer_free(writer_t *w) {
    if (!w) return;
    while (w->replies) {
        lookup_t *l = w->replies;
        w->replies = l->next;
        view_free(l->view);
        free(l);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    free(w);
}
