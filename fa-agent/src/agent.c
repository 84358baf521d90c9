/*
 * agent.c — the agent's life cycle: defaults, start (every allocation the
 * agent will ever make on behalf of the game thread happens here), stop
 * (flush, BYE, close, free) and the counters.
 */
#define _GNU_SOURCE /* program_invocation_short_name, pthread_setname_np */
#include "agent_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Defaults                                                                  */
/* ------------------------------------------------------------------------ */

#define DEF(v, d) ((v) ? (v) : (d))

/* ------------------------------------------------------------------------ */
/* fork() (see FORK in fa_agent.h)                                           */
/* ------------------------------------------------------------------------ */

_Atomic uint32_t fa__agent_forks;
static atomic_bool nng_opened;       /* an agent of this process opened nng */
static atomic_bool nng_lost_in_fork; /* ... and this process is a child since */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* Runs in the child, single-threaded, right after fork(). */
static void on_fork_child(void) {
    atomic_fetch_add_explicit(&fa__agent_forks, 1, memory_order_relaxed);
    if (atomic_load_explicit(&nng_opened, memory_order_relaxed))
        atomic_store_explicit(&nng_lost_in_fork, true, memory_order_relaxed);
}

static void register_atfork(void) {
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

static uint32_t pow2_at_least(uint32_t v) {
    uint32_t p = 2;
    while (p < v && p < (1u << 20))
        p <<= 1;
    return p;
}

static uint32_t clamp_u32(uint32_t v, uint32_t lo, uint32_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Numbers only; strings are resolved by copy_strings(). One place. */
static void fill_defaults(fa_agent_desc_t *d, const fa_alloc_t *fa) {
    fa_config_t cfg = fa_config_effective(fa);
    d->ring_slots = pow2_at_least(DEF(d->ring_slots, 64));
    d->max_tags = clamp_u32(DEF(d->max_tags, cfg.max_tags), 1, FA_PROTO_MAX_ROWS);
    d->max_threads = clamp_u32(DEF(d->max_threads, 64), 1, FA_PROTO_MAX_ROWS);
    d->max_findings = clamp_u32(DEF(d->max_findings, 64), 1, FA_PROTO_MAX_ROWS);
    d->max_site_rows = clamp_u32(DEF(d->max_site_rows, 256), 1, FA_PROTO_MAX_ROWS);
    d->stop_timeout_ms = DEF(d->stop_timeout_ms, 1000);
    d->send_wait_ms = DEF(d->send_wait_ms, 5);
    d->idle_sleep_us = DEF(d->idle_sleep_us, 1000);
    d->reconnect_min_ms = DEF(d->reconnect_min_ms, 100);
    d->reconnect_max_ms = DEF(d->reconnect_max_ms, 1000);
    if (d->reconnect_max_ms < d->reconnect_min_ms) d->reconnect_max_ms = d->reconnect_min_ms;
    d->send_buffer = clamp_u32(d->send_buffer, 0, 8192);
    bool has_dir = d->emit_dir && d->emit_dir[0];
    if (d->emit_mode == FA_AGENT_EMIT_DEFAULT)
        d->emit_mode = has_dir ? FA_AGENT_EMIT_REQUEST : FA_AGENT_EMIT_OFF;
    if (!has_dir) d->emit_mode = FA_AGENT_EMIT_OFF;
    d->emit_keep = DEF(d->emit_keep, 8);
    d->emit_interval_ms = DEF(d->emit_interval_ms, 1000);
    d->emit_poll_ms = DEF(d->emit_poll_ms, 100);
    d->unreachable_ms = DEF(d->unreachable_ms, 3000);
    d->hello_interval_ms = DEF(d->hello_interval_ms, 10000);
    d->max_batch = clamp_u32(DEF(d->max_batch, 32), 1, FA_PROTO_MAX_BATCH);
    d->keyframe_interval = DEF(d->keyframe_interval, 60);
}

/* A copy cut to the protocol's 255-byte string limit when `wire` is set. */
static char *copy(const char *s, bool wire) {
    if (!s) s = "";
    size_t n = strlen(s);
    if (wire && n > FA_PROTO_MAX_STRING) n = FA_PROTO_MAX_STRING;
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

static bool empty(const char *s) {
    return !s || !s[0];
}

/* protocol_minor: the desc's, else $FA_INSIGHT_PROTO's, else 2. A value
 * the agent does not speak is refused (FA_ERR_INVALID_ARG) rather than
 * guessed: a wrong guess loses every frame on the daemon's side. */
static int resolve_protocol(fa_agent_desc_t *d) {
    if (d->protocol_minor == 0) {
        const char *env = getenv(FA_AGENT_PROTO_ENV);
        if (empty(env) || strcmp(env, "1.2") == 0)
            d->protocol_minor = 2;
        else if (strcmp(env, "1.1") == 0)
            d->protocol_minor = 1;
        else
            return FA_ERR_INVALID_ARG;
    }
    return d->protocol_minor == 1 || d->protocol_minor == 2 ? FA_OK : FA_ERR_INVALID_ARG;
}

/* The path of a file: URL ("file:PATH" or "file://PATH"), or NULL when
 * url is not one. */
static const char *file_url_path(const char *url) {
    if (strncmp(url, "file://", 7) == 0) return url + 7;
    if (strncmp(url, "file:", 5) == 0) return url + 5;
    return NULL;
}

/* The first line of the secret file, surrounding white space removed, into
 * out[FA_PROTO_MAX_STRING + 1]. Returns FA_OK or FA_ERR_INVALID_ARG (logged
 * with the path, never the content). */
static int read_secret_file(const fa_agent_desc_t *in, const char *path, char *out) {
    char line[FA_PROTO_MAX_STRING + 3] = "";
    FILE *f = fopen(path, "re");
    int err = f ? 0 : errno;
    bool got = f && fgets(line, sizeof line, f) != NULL;
    if (f) fclose(f);
    size_t n = strlen(line);
    bool whole = n == 0 || line[n - 1] == '\n' || n < sizeof line - 1; /* not cut by fgets */
    char *p = line;
    while (*p == ' ' || *p == '\t')
        p++, n--;
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    int rc = got && n > 0 && n <= FA_PROTO_MAX_STRING && whole ? FA_OK : FA_ERR_INVALID_ARG;
    if (rc == FA_OK) {
        memcpy(out, p, n);
        out[n] = '\0';
    } else if (in->log_cb) {
        in->log_cb(&(fa_agent_log_event_t){.id = FA_AGENT_LOG_SECRET_FAILED, .code = err, .detail = path},
                   in->log_user);
    }
    explicit_bzero(line, sizeof line);
    return rc;
}

static int copy_strings(fa_agent_t *a, const fa_agent_desc_t *in) {
    const char *url = in->url;
    if (empty(url)) url = getenv(FA_AGENT_URL_ENV);
    if (empty(url)) url = FA_AGENT_DEFAULT_URL;
    /* file:PATH captures instead of streaming; a second, different capture
     * path in the desc is a contradiction, not a choice to make silently. */
    const char *capture = in->capture_path, *file = file_url_path(url);
    if (file) {
        if (!*file || (!empty(capture) && strcmp(capture, file) != 0)) return FA_ERR_INVALID_ARG;
        capture = file;
    }
    const char *app = empty(in->app_name) ? program_invocation_short_name : in->app_name;
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    /* The secret: the desc's, else the file's; never cut (a cut secret
     * would only be refused later, far from the cause). */
    char from_file[FA_PROTO_MAX_STRING + 1] = "";
    const char *secret = in->ingest_secret, *secret_file = getenv(FA_AGENT_SECRET_FILE_ENV);
    if (empty(secret) && !empty(secret_file)) {
        if (read_secret_file(in, secret_file, from_file) != FA_OK) return FA_ERR_INVALID_ARG;
        secret = from_file;
    }
    if (!empty(secret) && strlen(secret) > FA_PROTO_MAX_STRING) return FA_ERR_INVALID_ARG;
    const char *ca = empty(in->tls_ca_file) ? getenv(FA_AGENT_CA_ENV) : in->tls_ca_file;
    const char *src[FA__AGENT_STRINGS] = {url,  app,     in->session_label, in->build_id, in->emit_dir,
                                          host, capture, secret,            ca};
    const bool wire[FA__AGENT_STRINGS] = {false, true, true, true, false, true, false, false, false};
    int rc = FA_OK;
    for (int i = 0; i < FA__AGENT_STRINGS && rc == FA_OK; i++)
        if (!(a->strings[i] = copy(src[i], wire[i]))) rc = FA_ERR_NO_MEMORY;
    explicit_bzero(from_file, sizeof from_file);
    if (rc != FA_OK) return rc;
    a->meta.ingest_secret = a->strings[7];
    a->desc.ingest_secret = NULL; /* never handed back (fa_agent_desc_effective) */
    a->desc.tls_ca_file = empty(ca) ? NULL : a->strings[8];
    a->desc.url = a->strings[0];
    a->desc.app_name = a->strings[1];
    a->desc.session_label = a->strings[2];
    a->desc.build_id = a->strings[3];
    a->desc.emit_dir = empty(in->emit_dir) ? NULL : a->strings[4];
    a->meta.app_name = a->strings[1];
    a->meta.session_label = a->strings[2];
    a->meta.build_id = a->strings[3];
    a->meta.host = a->strings[5];
    a->desc.capture_path = empty(capture) ? NULL : a->strings[6];
    a->capture.path = a->desc.capture_path;
    a->link.enabled = file == NULL;
    return FA_OK;
}

static uint64_t new_session_id(void) {
    uint64_t id = 0;
    while (id == 0) {
        if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) {
            /* No entropy source: still unique enough per process start. */
            id = fa__agent_real_ns() ^ ((uint64_t)getpid() << 32) ^ fa__agent_mono_ns();
        }
    }
    return id;
}

/* ------------------------------------------------------------------------ */
/* Allocation                                                                */
/* ------------------------------------------------------------------------ */

static void destroy(fa_agent_t *a) {
    if (!a) return;
    free(a->ring.slots);
    free(a->ring.rows);
    free(a->ring.threads);
    free(a->ring.findings);
    free(a->ring.sites);
    free(a->sender.site_rows);
    free(a->sender.site_defs);
    free(a->sender.ranked_sites);
    free(a->sender.rank_work);
    free(a->sender.stream.sites_defined);
    free(a->capture.sink.sites_defined);
    free(a->sender.wire);
    free(a->sender.batch_wire);
    free(a->sender.prev_rows);
    free(a->sender.delta_rows);
    free(a->sender.defs);
    free(a->sender.tag_stats);
    free(a->sender.thread_rows);
    free(a->sender.findings);
    free(a->sender.stream.known_soft);
    free(a->sender.stream.known_hard);
    free(a->capture.sink.known_soft);
    free(a->capture.sink.known_hard);
    free(a->emit.request_path);
    if (a->strings[7]) explicit_bzero(a->strings[7], strlen(a->strings[7])); /* the ingest secret */
    for (int i = 0; i < FA__AGENT_STRINGS; i++)
        free(a->strings[i]);
    free(a);
}

static int allocate(fa_agent_t *a) {
    const fa_agent_desc_t *d = &a->desc;
    size_t tags = d->max_tags, threads = d->max_threads, findings = d->max_findings, slots = d->ring_slots;
    size_t sites = d->max_site_rows, pairs = (size_t)FA__AGENT_SITE_PAIRS * d->max_site_rows;

    /* The ring: every slot holds one whole snapshot. Pages of rows that a
     * game with fewer tags never uses are never touched. */
    fa__agent_ring_t *r = &a->ring;
    r->capacity = d->ring_slots;
    r->mask = d->ring_slots - 1;
    r->slots = calloc(slots, sizeof *r->slots);
    r->rows = calloc(slots * tags, sizeof *r->rows);
    r->threads = calloc(slots * threads, sizeof *r->threads);
    r->findings = calloc(slots * findings, sizeof *r->findings);
    /* Touched now (memset), so that the game thread never faults on them. */
    r->site_pairs = (uint32_t)pairs;
    r->sites = malloc(slots * pairs * sizeof *r->sites);
    if (!r->slots || !r->rows || !r->threads || !r->findings || !r->sites) return FA_ERR_NO_MEMORY;
    memset(r->sites, 0, slots * pairs * sizeof *r->sites);
    /* Touch the rows the game's current tags will fill (and a margin), so
     * that the first pass over the ring makes no page faults on the game
     * thread; pages for tags created later fault once per slot. */
    size_t warm_rows = (size_t)fa_tag_count(a->fa) + 32u;
    if (warm_rows > tags) warm_rows = tags;
    size_t warm_threads = threads < 8 ? threads : 8;
    for (size_t i = 0; i < slots; i++) {
        memset(r->rows + i * tags, 0, warm_rows * sizeof *r->rows);
        memset(r->threads + i * threads, 0, warm_threads * sizeof *r->threads);
    }
    for (size_t i = 0; i < slots; i++) {
        fa_snapshot_t *s = &r->slots[i].snap;
        s->rows = r->rows + i * tags;
        s->rows_capacity = (uint32_t)tags;
        s->threads = r->threads + i * threads;
        s->threads_capacity = (uint32_t)threads;
        s->findings = r->findings + i * findings;
        s->findings_capacity = (uint32_t)findings;
        r->slots[i].site_pairs = r->sites + i * pairs;
    }

    /* The sender's wire buffer: the largest message it can build, a HELLO
     * with max_tags definitions of maximal paths, a full SITES or a full
     * FRAME. */
    size_t hello = FA_PROTO_HEADER_SIZE + 24u + 5u * (2u + FA_PROTO_MAX_STRING) + 4u +
                   tags * (FA_PROTO_TAG_DEF_ROW_SIZE + 2u + FA_PROTO_MAX_STRING); /* 5: 4 + the secret */
    size_t site_defs = FA_PROTO_HEADER_SIZE + 4u +
                       FA__AGENT_SITES_PER_MESSAGE * (FA_PROTO_SITE_DEF_ROW_SIZE + 4u + 2u * FA_PROTO_MAX_STRING);
    size_t frame = FA_PROTO_FRAME_SIZE(tags, threads, findings, sites);
    a->sender.wire_capacity = hello > frame ? hello : frame;
    if (site_defs > a->sender.wire_capacity) a->sender.wire_capacity = site_defs;
    a->sender.wire = malloc(a->sender.wire_capacity);
    a->sender.defs = calloc(tags, sizeof *a->sender.defs);
    a->sender.tag_stats = calloc(tags, sizeof *a->sender.tag_stats);
    a->sender.thread_rows = calloc(threads, sizeof *a->sender.thread_rows);
    a->sender.findings = calloc(findings, sizeof *a->sender.findings);
    a->sender.site_rows = calloc(sites, sizeof *a->sender.site_rows);
    a->sender.site_defs = calloc(FA__AGENT_SITES_PER_MESSAGE, sizeof *a->sender.site_defs);
    a->sender.ranked_sites = calloc(sites, sizeof *a->sender.ranked_sites);
    /* Tag ids in site rows are below lib's tag count, at most its max_tags. */
    a->sender.rank_work_count = pairs + fa_config_effective(a->fa).max_tags;
    a->sender.rank_work = calloc(a->sender.rank_work_count, sizeof *a->sender.rank_work);
    if (!a->sender.wire || !a->sender.defs || !a->sender.tag_stats || !a->sender.thread_rows ||
        !a->sender.findings || !a->sender.site_rows || !a->sender.site_defs || !a->sender.ranked_sites ||
        !a->sender.rank_work)
        return FA_ERR_NO_MEMORY;
    /* 1.2: the batch being built (max_batch whole FRAMEs, within the
     * protocol's bound; a batch that fills it leaves early) and the
     * previous frame's rows that deltas are taken against. */
    if (d->protocol_minor >= 2) {
        size_t entry = FA_PROTO_FRAMES_ENTRY_HEADER + frame - FA_PROTO_HEADER_SIZE;
        size_t batch = FA_PROTO_HEADER_SIZE + 2u + entry * d->max_batch;
        a->sender.batch_capacity = batch < FA_PROTO_MAX_MESSAGE ? batch : FA_PROTO_MAX_MESSAGE;
        a->sender.batch_wire = malloc(a->sender.batch_capacity);
        a->sender.prev_rows = calloc(tags, sizeof *a->sender.prev_rows);
        a->sender.delta_rows = calloc(tags, sizeof *a->sender.delta_rows);
        if (!a->sender.batch_wire || !a->sender.prev_rows || !a->sender.delta_rows) return FA_ERR_NO_MEMORY;
    }
    fa__agent_sink_t *sinks[2] = {&a->sender.stream, &a->capture.sink};
    for (int i = 0; i < 2; i++) {
        sinks[i]->kind = i ? FA__SINK_CAPTURE : FA__SINK_STREAM;
        sinks[i]->known_soft = calloc(tags, sizeof *sinks[i]->known_soft);
        sinks[i]->known_hard = calloc(tags, sizeof *sinks[i]->known_hard);
        sinks[i]->sites_defined = calloc(FA__AGENT_SITE_WORDS, sizeof *sinks[i]->sites_defined);
        if (!sinks[i]->known_soft || !sinks[i]->known_hard || !sinks[i]->sites_defined) return FA_ERR_NO_MEMORY;
    }

    if (d->emit_mode != FA_AGENT_EMIT_OFF) {
        a->emit.enabled = true;
        size_t n = strlen(d->emit_dir) + sizeof "/" FA_AGENT_REQUEST_FILE;
        if (!(a->emit.request_path = malloc(n))) return FA_ERR_NO_MEMORY;
        snprintf(a->emit.request_path, n, "%s/%s", d->emit_dir, FA_AGENT_REQUEST_FILE);
        /* One level; an error (missing parent, EEXIST) shows when a file
         * cannot be written, through the log and snapshot_errors. */
        (void)mkdir(d->emit_dir, 0755);
    }
    return FA_OK;
}

/* The sender thread, with every signal blocked: the game's handlers keep
 * running on the game's threads. */
static int start_sender(fa_agent_t *a) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&a->sender.thread, NULL, fa__agent_sender_main, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return FA_ERR_SYSTEM;
    pthread_setname_np(a->sender.thread, "fa-agent");
    a->sender.thread_started = true;
    return FA_OK;
}

/* Stops the sender (flush, BYE within the deadline), closes nng and the
 * capture file (the sender closed it unless it never ran). */
static void shut_down(fa_agent_t *a, uint64_t timeout_ms) {
    a->stop_start_ns = fa__agent_mono_ns();
    a->stop_deadline_ns = a->stop_start_ns + timeout_ms * 1000000u;
    atomic_store_explicit(&a->stopping, true, memory_order_release);
    if (a->sender.thread_started) pthread_join(a->sender.thread, NULL);
    if (a->link.enabled) fa__agent_link_close(a);
    fa__agent_capture_close(a);
}

/* ------------------------------------------------------------------------ */
/* API                                                                       */
/* ------------------------------------------------------------------------ */

int fa_agent_start(fa_alloc_t *fa, const fa_agent_desc_t *desc, fa_agent_t **out) {
    if (!fa || !out) return FA_ERR_INVALID_ARG;
    const fa_agent_desc_t in = desc ? *desc : (fa_agent_desc_t){0};
    pthread_once(&atfork_once, register_atfork);
    if (atomic_load_explicit(&nng_lost_in_fork, memory_order_relaxed)) {
        if (in.log_cb)
            in.log_cb(&(fa_agent_log_event_t){.id = FA_AGENT_LOG_FORKED, .detail = "nng is not fork-safe"},
                      in.log_user);
        return FA_ERR_STATE;
    }
    fa_agent_t *a = NULL;
    if (posix_memalign((void **)&a, FA__AGENT_LINE, sizeof *a) != 0) return FA_ERR_NO_MEMORY;
    memset(a, 0, sizeof *a);
    a->capture.fd = -1;
    a->fa = fa;
    a->desc = in;
    fill_defaults(&a->desc, fa);
    int rc = resolve_protocol(&a->desc);
    if (rc != FA_OK && in.log_cb)
        in.log_cb(
            &(fa_agent_log_event_t){.id = FA_AGENT_LOG_BAD_PROTOCOL, .detail = getenv(FA_AGENT_PROTO_ENV)},
            in.log_user);
    if (rc == FA_OK) rc = copy_strings(a, &in);
    if (rc == FA_OK) rc = allocate(a);
    if (rc != FA_OK) {
        destroy(a);
        return rc;
    }
    a->meta.session_id = new_session_id();
    a->meta.pid = (uint32_t)getpid();
    a->meta.start_unix_ns = fa__agent_real_ns();
    a->meta.start_mono_ns = fa__agent_mono_ns();
    a->fork_generation = atomic_load_explicit(&fa__agent_forks, memory_order_relaxed);

    if (a->capture.path && (rc = fa__agent_capture_open(a)) != FA_OK) {
        destroy(a);
        return rc;
    }
    if (a->link.enabled) atomic_store_explicit(&nng_opened, true, memory_order_relaxed);
    if (a->link.enabled && (rc = fa__agent_link_open(a)) != FA_OK) {
        fa__agent_capture_close(a);
        destroy(a);
        return rc;
    }
    if ((rc = start_sender(a)) != FA_OK || (rc = fa_on_frame_end(fa, fa__agent_frame_hook, a)) != FA_OK) {
        shut_down(a, 0);
        destroy(a);
        return rc;
    }
    *out = a;
    return FA_OK;
}

void fa_agent_stats(const fa_agent_t *a, fa_agent_stats_t *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!a) return;
    out->frames_seen = fa__read(&a->game.frames_seen);
    out->dropped_ring_full = fa__read(&a->game.drop_ring_full);
    out->dropped_encode_failed = fa__read(&a->sender.drop_encode_failed);
    out->dropped_send_failed = fa__read(&a->sender.drop_send_failed);
    out->dropped_disconnected = fa__read(&a->game.drop_disconnected) + fa__read(&a->sender.drop_disconnected);
    out->frames_dropped = out->dropped_ring_full + out->dropped_encode_failed + out->dropped_send_failed +
                          out->dropped_disconnected;
    out->frames_sent = fa__read(&a->sender.frames_sent);
    out->messages_sent = fa__read(&a->sender.messages_sent);
    out->bytes_sent = fa__read(&a->sender.bytes_sent);
    out->hellos_sent = fa__read(&a->sender.hellos_sent);
    out->tags_sent = fa__read(&a->sender.tags_sent);
    out->sites_sent = fa__read(&a->sender.sites_sent);
    out->connects = fa__read(&a->link.connects);
    out->reconnects = out->connects ? out->connects - 1 : 0;
    out->snapshots_written = fa__read(&a->sender.snapshots_written);
    out->snapshot_errors = fa__read(&a->sender.snapshot_errors);
    uint64_t head = atomic_load_explicit(&a->ring.head, memory_order_acquire);
    uint64_t tail = atomic_load_explicit(&a->ring.tail, memory_order_acquire);
    out->ring_used = head >= tail ? (uint32_t)(head - tail) : 0;
    out->ring_capacity = a->ring.capacity;
    /* A forked copy's pipe id is the parent's: it never was connected here. */
    out->connected =
        atomic_load_explicit(&a->link.pipe_id, memory_order_relaxed) != 0 && !fa__agent_is_forked_copy(a);
    out->bye_sent = atomic_load_explicit(&a->sender.bye_sent, memory_order_relaxed);
    out->frames_captured = fa__read(&a->capture.frames);
    out->capture_dropped = a->capture.enabled ? out->dropped_ring_full + fa__read(&a->capture.dropped) : 0;
    out->capture_bytes = fa__read(&a->capture.bytes);
    out->capture_write_errors = fa__read(&a->capture.write_errors);
}

int fa_agent_stop(fa_agent_t *a, fa_agent_stats_t *final_stats) {
    if (!a) return FA_ERR_INVALID_ARG;
    /* First the hook: from here on the game thread queues nothing more. */
    (void)fa_remove_frame_hook(a->fa, fa__agent_frame_hook, a);
    if (fa__agent_is_forked_copy(a)) {
        /* The sender thread and nng's state are the parent's: neither is
         * joined nor closed here (nng would abort). The memory and our copy
         * of the capture descriptor are ours; the file is the parent's. */
        if (a->capture.fd >= 0) close(a->capture.fd);
        fa_agent_stats(a, final_stats);
        destroy(a);
        return FA_ERR_STATE;
    }
    shut_down(a, a->desc.stop_timeout_ms);
    fa_agent_stats(a, final_stats);
    bool ok = atomic_load_explicit(&a->sender.flushed, memory_order_relaxed) &&
              (!a->link.enabled || atomic_load_explicit(&a->sender.bye_sent, memory_order_relaxed)) &&
              (!a->capture.enabled || a->capture.bye_written);
    destroy(a);
    return ok ? FA_OK : FA_ERR_TIMEOUT;
}

fa_agent_desc_t fa_agent_desc_effective(const fa_agent_t *a) {
    if (!a) return (fa_agent_desc_t){0};
    return a->desc;
}

uint64_t fa_agent_session_id(const fa_agent_t *a) {
    return a ? a->meta.session_id : 0;
}

int fa_agent_request_snapshot(fa_agent_t *a) {
    if (!a) return FA_ERR_INVALID_ARG;
    if (!a->emit.enabled) return FA_ERR_STATE;
    atomic_store_explicit(&a->emit.api_request, 1, memory_order_relaxed);
    return FA_OK;
}
