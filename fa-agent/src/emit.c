/*
 * emit.c — the file emitter: JSON snapshots for tools that read files (the
 * IDE integration), written by the sender thread, never the game thread.
 *
 * The sender checks for <dir>/snapshot.request at most every emit_poll_ms
 * (one access() call, off the game thread) and, within the rate limit, asks
 * the game thread to mark its next snapshot (emit.state REQUESTED). The
 * hook takes that snapshot into a ring slot as usual, even with no daemon
 * connected, and flags the slot; the sender renders it with cJSON when it
 * reaches the slot, writes <dir>/.snapshot_<frame>.json.tmp,
 * renames it to snapshot_<frame>.json (readers never see a partial file),
 * removes the request file and keeps the newest emit_keep snapshot files.
 */
#include "agent_internal.h"

#include <cJSON.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Version of the JSON document's layout (not of the wire protocol). */
#define SNAPSHOT_JSON_VERSION 1

/* ------------------------------------------------------------------------ */
/* Rendering                                                                 */
/* ------------------------------------------------------------------------ */

/* cJSON numbers are doubles: byte counts stay exact up to 2^53 (8 PiB). */
static void num(cJSON *o, const char *k, uint64_t v) {
    cJSON_AddNumberToObject(o, k, (double)v);
}

static cJSON *kind_totals(const fa_kind_totals_t *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "in_use", t->in_use);
    num(o, "peak", t->peak);
    num(o, "alloc_count", t->alloc_count);
    num(o, "alloc_bytes", t->alloc_bytes);
    num(o, "free_count", t->free_count);
    return o;
}

static cJSON *usage(const fa_tag_usage_t *u) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "frame_bytes", u->frame_bytes);
    num(o, "pool_bytes", u->pool_bytes);
    num(o, "heap_bytes", u->heap_bytes);
    num(o, "alloc_count", u->alloc_count);
    return o;
}

static cJSON *tag_row(const fa_tag_row_t *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "id", r->id);
    num(o, "parent_id", r->parent_id);
    num(o, "depth", r->depth);
    /* cJSON escapes quotes, backslashes and control characters. */
    cJSON_AddStringToObject(o, "path", r->path ? r->path : "");
    cJSON_AddItemToObject(o, "self", usage(&r->self));
    cJSON_AddItemToObject(o, "total", usage(&r->total));
    num(o, "live_bytes", r->live_bytes);
    num(o, "peak_bytes", r->peak_bytes);
    cJSON *b = cJSON_AddObjectToObject(o, "budget");
    if (b) {
        num(b, "soft", r->budget_soft);
        num(b, "hard", r->budget_hard);
        if (r->budget_hard)
            cJSON_AddNumberToObject(b, "used_pct", 100.0 * (double)r->live_bytes / (double)r->budget_hard);
        else
            cJSON_AddNullToObject(b, "used_pct");
    }
    return o;
}

static cJSON *thread_row(const fa_thread_row_t *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "index", t->index);
    num(o, "frame_used", t->frame_used);
    num(o, "frame_capacity", t->frame_capacity);
    num(o, "frames", t->frames);
    num(o, "overflow_chunks", t->overflow_chunks);
    cJSON_AddBoolToObject(o, "in_frame", t->in_frame);
    return o;
}

static cJSON *finding(const fa_finding_t *f) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "code", f->code);
    num(o, "tag_id", f->tag_id);
    num(o, "kind", f->kind);
    num(o, "count", f->count);
    num(o, "value", f->value);
    return o;
}

/* A site row: its tag, and the site's line (null for a tag's "other"). */
static cJSON *site_row(const fa_site_row_t *r) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    num(o, "site_id", r->site_id);
    num(o, "tag_id", r->tag_id);
    if (r->site) {
        cJSON_AddStringToObject(o, "file", r->site->file ? r->site->file : "");
        cJSON_AddStringToObject(o, "function", r->site->function ? r->site->function : "");
        num(o, "line", r->site->line);
        num(o, "kind", r->site->kind);
    } else {
        cJSON_AddNullToObject(o, "file");
    }
    num(o, "bytes", r->bytes);
    num(o, "count", r->count);
    num(o, "live_bytes", r->live_bytes);
    return o;
}

static void iso8601(char *out, size_t cap, uint64_t unix_ns) {
    time_t secs = (time_t)(unix_ns / 1000000000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, cap, "1970-01-01T00:00:00.000000000Z");
        return;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s.%09uZ", date, (unsigned)(unix_ns % 1000000000u));
}

char *fa__agent_json_render(const fa_snapshot_t *s, const fa__agent_meta_t *meta, uint64_t wall_ns) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    static const char *const kinds[FA_KIND_COUNT_] = {"frame", "pool", "heap"};
    char text[64];

    num(root, "version", SNAPSHOT_JSON_VERSION);
    iso8601(text, sizeof text, wall_ns);
    cJSON_AddStringToObject(root, "timestamp", text);
    num(root, "timestamp_unix_ns", wall_ns);

    cJSON *session = cJSON_AddObjectToObject(root, "session");
    if (session) {
        snprintf(text, sizeof text, "%016" PRIx64, meta->session_id);
        cJSON_AddStringToObject(session, "id", text);
        cJSON_AddStringToObject(session, "app", meta->app_name ? meta->app_name : "");
        cJSON_AddStringToObject(session, "label", meta->session_label ? meta->session_label : "");
        cJSON_AddStringToObject(session, "build_id", meta->build_id ? meta->build_id : "");
        cJSON_AddStringToObject(session, "host", meta->host ? meta->host : "");
        num(session, "pid", meta->pid);
    }

    num(root, "frame", s->frame);
    num(root, "frame_start_ns", s->frame_start_ns);
    num(root, "duration_ns", s->frame_duration_ns);

    cJSON *totals = cJSON_AddObjectToObject(root, "totals");
    for (int k = 0; totals && k < FA_KIND_COUNT_; k++)
        cJSON_AddItemToObject(totals, kinds[k], kind_totals(&s->totals[k]));

    num(root, "threads_total", s->threads_total);
    cJSON *threads = cJSON_AddArrayToObject(root, "threads");
    for (uint32_t i = 0; threads && i < s->thread_count; i++)
        cJSON_AddItemToArray(threads, thread_row(&s->threads[i]));

    num(root, "tags_total", s->tag_count);
    cJSON *tags = cJSON_AddArrayToObject(root, "tags");
    for (uint32_t i = 0; tags && i < s->row_count; i++)
        cJSON_AddItemToArray(tags, tag_row(&s->rows[i]));

    const fa_promotion_totals_t *p = &s->promotions;
    cJSON *promo = cJSON_AddObjectToObject(root, "promotions");
    if (promo) {
        num(promo, "promoted_count", p->promoted_count);
        num(promo, "promoted_bytes", p->promoted_bytes);
        num(promo, "failed_count", p->failed_count);
        num(promo, "failed_bytes", p->failed_bytes);
        num(promo, "retained_count", p->retained_count);
        num(promo, "retained_bytes", p->retained_bytes);
        num(promo, "discarded_count", p->discarded_count);
        num(promo, "discarded_bytes", p->discarded_bytes);
    }
    const fa_transfer_totals_t *t = &s->transfers;
    cJSON *xfer = cJSON_AddObjectToObject(root, "transfers");
    if (xfer) {
        num(xfer, "created", t->created);
        num(xfer, "received", t->received);
        num(xfer, "released", t->released);
        num(xfer, "dropped_unreceived", t->dropped_unreceived);
        num(xfer, "in_flight", t->in_flight);
    }

    uint32_t nf =
        s->findings ? (s->finding_count < s->findings_capacity ? s->finding_count : s->findings_capacity) : 0;
    num(root, "findings_total", s->findings_total > nf ? s->findings_total : nf);
    cJSON *findings = cJSON_AddArrayToObject(root, "findings");
    for (uint32_t i = 0; findings && i < nf; i++)
        cJSON_AddItemToArray(findings, finding(&s->findings[i]));

    uint32_t ns = s->sites ? s->site_count : 0;
    num(root, "sites_total", s->sites_total);
    cJSON *sites = cJSON_AddArrayToObject(root, "sites");
    for (uint32_t i = 0; sites && i < ns; i++)
        cJSON_AddItemToArray(sites, site_row(&s->sites[i]));

    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct snap_file {
    int64_t mtime_ns;
    uint64_t frame;
    char name[64];
} snap_file_t;

/* "snapshot_<digits>.json" and nothing else. */
static bool parse_name(const char *name, uint64_t *frame) {
    static const char prefix[] = "snapshot_", suffix[] = ".json";
    size_t len = strlen(name), pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    if (len <= pl + sl || len >= sizeof((snap_file_t *)0)->name) return false;
    if (memcmp(name, prefix, pl) != 0 || memcmp(name + len - sl, suffix, sl) != 0) return false;
    uint64_t v = 0;
    for (size_t i = pl; i < len - sl; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *frame = v;
    return true;
}

/* Newest first: by modification time, then by frame number. */
static int newest_first(const void *x, const void *y) {
    const snap_file_t *a = x, *b = y;
    if (a->mtime_ns != b->mtime_ns) return a->mtime_ns > b->mtime_ns ? -1 : 1;
    if (a->frame != b->frame) return a->frame > b->frame ? -1 : 1;
    return 0;
}

static int prune(const char *dir, uint32_t keep) {
    DIR *d = opendir(dir);
    if (!d) return -errno;
    snap_file_t *files = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t frame;
        if (!parse_name(e->d_name, &frame)) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) != 0) continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            snap_file_t *nf = realloc(files, ncap * sizeof *nf);
            if (!nf) {
                rc = -ENOMEM;
                break;
            }
            files = nf;
            cap = ncap;
        }
        files[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        files[n].frame = frame;
        memcpy(files[n].name, e->d_name, strlen(e->d_name) + 1); /* parse_name bounds it */
        n++;
    }
    if (rc == 0 && n > keep) {
        qsort(files, n, sizeof *files, newest_first);
        for (size_t i = keep; i < n; i++)
            if (unlinkat(dirfd(d), files[i].name, 0) != 0 && errno != ENOENT) rc = -errno;
    }
    free(files);
    closedir(d);
    return rc;
}

static int write_all(int fd, const char *p, size_t len) {
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int fa__agent_emit_file(const char *dir, uint64_t frame, const char *json, uint32_t keep) {
    char tmp[PATH_MAX], final[PATH_MAX];
    int n1 = snprintf(tmp, sizeof tmp, "%s/.snapshot_%" PRIu64 ".json.tmp", dir, frame);
    int n2 = snprintf(final, sizeof final, "%s/snapshot_%" PRIu64 ".json", dir, frame);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof tmp || (size_t)n2 >= sizeof final) return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = write_all(fd, json, strlen(json));
    if (rc == 0) rc = write_all(fd, "\n", 1);
    if (close(fd) != 0 && rc == 0) rc = -errno;
    if (rc == 0 && rename(tmp, final) != 0) rc = -errno;
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    return prune(dir, keep);
}

/* ------------------------------------------------------------------------ */
/* The sender's steps                                                        */
/* ------------------------------------------------------------------------ */

void fa__agent_emit_serve(fa_agent_t *a, const fa_snapshot_t *s) {
    /* The frame's wall time, from the monotonic clock's offset at start. */
    uint64_t end_mono = s->frame_start_ns + s->frame_duration_ns;
    uint64_t wall = a->meta.start_unix_ns + (end_mono - a->meta.start_mono_ns);
    char *json = fa__agent_json_render(s, &a->meta, wall);
    int rc = json ? fa__agent_emit_file(a->desc.emit_dir, s->frame, json, a->desc.emit_keep) : -ENOMEM;
    cJSON_free(json);
    if (rc == 0) {
        /* The request is answered (a new one may be made from now on). */
        unlink(a->emit.request_path);
        fa__count(&a->sender.snapshots_written, 1);
        fa__agent_log(a, FA_AGENT_LOG_SNAPSHOT_WRITTEN, 0, s->frame, a->desc.emit_dir);
    } else {
        fa__count(&a->sender.snapshot_errors, 1);
        fa__agent_log(a, FA_AGENT_LOG_SNAPSHOT_FAILED, -rc, s->frame, a->desc.emit_dir);
    }
    a->emit.last_write_ns = fa__agent_mono_ns();
    a->emit.written_once = true;
    atomic_store_explicit(&a->emit.state, FA__EMIT_IDLE, memory_order_relaxed);
}

void fa__agent_emit_tick(fa_agent_t *a, uint64_t now) {
    if (atomic_load_explicit(&a->emit.state, memory_order_relaxed) != FA__EMIT_IDLE) return;
    if (now < a->emit.next_poll_ns) return;
    a->emit.next_poll_ns = now + (uint64_t)a->desc.emit_poll_ms * 1000000u;
    uint64_t interval = (uint64_t)a->desc.emit_interval_ms * 1000000u;
    if (a->emit.written_once && now - a->emit.last_write_ns < interval) return;
    bool wanted = a->desc.emit_mode == FA_AGENT_EMIT_AUTO ||
                  atomic_exchange_explicit(&a->emit.api_request, 0, memory_order_relaxed) != 0 ||
                  access(a->emit.request_path, F_OK) == 0;
    /* The game thread marks its next snapshot for us (hook.c). */
    if (wanted) atomic_store_explicit(&a->emit.state, FA__EMIT_REQUESTED, memory_order_relaxed);
}
