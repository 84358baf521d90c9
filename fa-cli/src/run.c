/* run.c — a recorded run, read frame by frame from a capture file (through
 * proto's capture reader, the file read into memory) or from a session of a
 * daemon (its frames through GET /frames, page by page). */
#include "run.h"
#include "u64map.h"

#include <fa_capture.h>
#include <fa_capture_file.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool run_spec_is_capture(const char *spec) {
    if (!spec) return false;
    if (strncmp(spec, "file:", 5) == 0) return true;
    if (strncmp(spec, "session:", 8) == 0) return false;
    struct stat sb;
    return stat(spec, &sb) == 0 && S_ISREG(sb.st_mode);
}

void run_describe(const run_info_t *info, char *buf, size_t cap) {
    snprintf(buf, cap, "%s: %s%s%s, %" PRIu64 " frame%s", info->source, info->app[0] ? info->app : "?",
             info->build[0] ? " build " : "", info->build, info->frames, info->frames == 1 ? "" : "s");
}

/* A string from the run, made safe to print, into dst[cap]. */
static void copy_safe(char *dst, size_t cap, const char *src, size_t len) {
    escape_sanitize_copy(dst, cap, src ? src : "", src ? len : 0);
}

/* ------------------------------------------------------------------------ */
/* Capture files                                                             */
/* ------------------------------------------------------------------------ */

typedef struct capture_state {
    const cli_t *cli;
    const char *path;
    const run_visitor_t *v;
    run_info_t *info;
    bool have_hello;
    uint64_t start_unix_ns, start_mono_ns;
} capture_state_t;

static void capture_hello(capture_state_t *cs, const fa_proto_msg_t *m) {
    const fa_proto_hello_t *h = &m->hello;
    run_info_t *info = cs->info;
    if (!cs->have_hello) {
        snprintf(info->session, sizeof info->session, "%016" PRIx64, m->header.session_id);
        copy_safe(info->app, sizeof info->app, h->app_name.data, h->app_name.len);
        copy_safe(info->build, sizeof info->build, h->build_id.data, h->build_id.len);
        copy_safe(info->host, sizeof info->host, h->host.data, h->host.len);
        copy_safe(info->label, sizeof info->label, h->session_label.data, h->session_label.len);
        info->start_unix_ms = h->start_unix_ns / 1000000u;
        cs->start_unix_ns = h->start_unix_ns;
        cs->start_mono_ns = h->start_mono_ns;
        cs->have_hello = true;
        if (cs->v->on_info) cs->v->on_info(cs->v->user, info);
    }
}

static void capture_tags(capture_state_t *cs, const fa_proto_tag_def_t *defs, uint32_t n) {
    if (!cs->v->on_tag) return;
    for (uint32_t i = 0; i < n; i++) {
        char path[FA_PROTO_MAX_STRING + 1];
        copy_safe(path, sizeof path, defs[i].path.data, defs[i].path.len);
        cs->v->on_tag(cs->v->user, defs[i].id, defs[i].parent_id, path);
    }
}

static void capture_sites(capture_state_t *cs, const fa_proto_sites_t *m) {
    if (!cs->v->on_site) return;
    for (uint32_t i = 0; i < m->site_count; i++) {
        const fa_proto_site_def_t *d = &m->sites[i];
        char file[FA_PROTO_MAX_STRING + 1], function[FA_PROTO_MAX_STRING + 1];
        copy_safe(file, sizeof file, d->file.data, d->file.len);
        copy_safe(function, sizeof function, d->function.data, d->function.len);
        cs->v->on_site(cs->v->user, d->id, d->line, d->kind, file, function);
    }
}

static int capture_frame(capture_state_t *cs, const fa_proto_msg_t *m) {
    const fa_proto_frame_t *f = &m->frame;
    run_info_t *info = cs->info;
    if (!info->frames) info->first_frame = f->frame;
    info->last_frame = f->frame;
    info->frames++;
    info->frames_dropped += f->frames_dropped;
    /* Wall time of the frame: PROTOCOL.md §5.1. */
    uint64_t wall = cs->start_unix_ns + (f->start_ns - cs->start_mono_ns);
    run_frame_t rf = {.frame = f->frame,
                      .t_unix_ns = wall,
                      .duration_ns = f->duration_ns,
                      .tags = f->tags,
                      .tag_count = f->tag_count,
                      .sites = f->sites,
                      .site_count = f->site_count};
    return cs->v->on_frame ? cs->v->on_frame(cs->v->user, &rf) : 0;
}

int run_read_capture(const cli_t *cli, const char *path, const run_visitor_t *v, run_info_t *info) {
    memset(info, 0, sizeof *info);
    if (strncmp(path, "file:", 5) == 0) path += 5;
    char shown[256];
    copy_safe(shown, sizeof shown, path, strlen(path));
    snprintf(info->source, sizeof info->source, "capture %s", shown);
    /* O_NONBLOCK: opening a FIFO nobody writes would wait for ever. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        fprintf(cli->err, CLI_NAME " %s: cannot open capture '%s': %s\n", cli->command, shown, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    fa_capture_file_t file;
    int frc = fa_capture_file_read(fd, &file);
    close(fd);
    if (frc == -EINVAL) {
        fprintf(cli->err, CLI_NAME " %s: '%s' is not a regular file\n", cli->command, shown);
        return CLI_EXIT_USAGE;
    }
    if (frc < 0) {
        fprintf(cli->err, CLI_NAME " %s: cannot read capture '%s': %s\n", cli->command, shown, strerror(-frc));
        return CLI_EXIT_SERVER;
    }
    int rc = 0;
    fa_proto_space_t *space = NULL;
    fa_capture_reader_t r;
    int prc = fa_capture_reader_init(&r, file.data, file.len);
    if (prc < 0) {
        fprintf(cli->err, CLI_NAME " %s: '%s' is not a framealloc capture file (%s)\n", cli->command, shown,
                fa_proto_strerror(prc));
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    /* Decoding storage: large (600 KiB), one per capture being read. */
    space = malloc(sizeof *space);
    if (!space) {
        fprintf(cli->err, CLI_NAME " %s: out of memory\n", cli->command);
        rc = CLI_EXIT_SERVER;
        goto out;
    }
    fa_proto_storage_t st = fa_proto_storage_of(space);
    capture_state_t cs = {.cli = cli, .path = shown, .v = v, .info = info};
    uint64_t session = 0;
    fa_proto_msg_t m;
    while (rc == 0 && (prc = fa_capture_next(&r, &m, &st)) != 0) {
        /* Nothing looks back: decoded pages are given back (the file was
         * read in whole first, so the peak is still its size). */
        fa_capture_file_release_before(&file, r.message_offset);
        if (prc < 0) {
            if (!r.resumable) {
                fprintf(cli->err,
                        CLI_NAME " %s: capture '%s' is damaged at byte %zu (%s); %" PRIu64
                                 " messages before it were read\n",
                        cli->command, shown, r.message_offset, fa_proto_strerror(prc), r.messages);
                rc = CLI_EXIT_SERVER;
            }
            continue; /* one message skipped, counted in r.skipped */
        }
        if (!session) session = m.header.session_id;
        if (m.header.session_id != session) {
            fprintf(cli->err,
                    CLI_NAME " %s: capture '%s' holds more than one session (%016" PRIx64 " then %016" PRIx64
                             " at byte %zu)\n",
                    cli->command, shown, session, m.header.session_id, r.message_offset);
            rc = CLI_EXIT_SERVER;
            break;
        }
        switch (m.header.type) {
        case FA_PROTO_HELLO:
            capture_hello(&cs, &m);
            capture_tags(&cs, m.hello.tags, m.hello.tag_count);
            break;
        case FA_PROTO_TAGS:
            capture_tags(&cs, m.tags.tags, m.tags.tag_count);
            break;
        case FA_PROTO_FRAME:
            if (!cs.have_hello) {
                /* The HELLO was lost (cut from the front, or never
                 * written): frames still count, times from the frame. */
                snprintf(info->session, sizeof info->session, "%016" PRIx64, session);
                cs.have_hello = true;
                cs.start_mono_ns = 0;
                if (v->on_info) v->on_info(v->user, info);
            }
            rc = capture_frame(&cs, &m);
            break;
        case FA_PROTO_SITES:
            capture_sites(&cs, &m.sites);
            break;
        case FA_PROTO_BYE:
            info->ended = true;
            break;
        }
    }
    info->truncated_bytes = r.truncated_bytes;
    info->skipped = r.skipped;
    if (rc == 0 && r.truncated_bytes)
        fprintf(cli->err,
                CLI_NAME " %s: note: capture '%s' ends inside a message (%zu bytes cut off, as a crash "
                         "leaves it): read up to its last whole message\n",
                cli->command, shown, r.truncated_bytes);
    if (rc == 0 && r.skipped)
        fprintf(cli->err, CLI_NAME " %s: note: %" PRIu64 " message%s of capture '%s' could not be decoded and %s skipped\n",
                cli->command, r.skipped, r.skipped == 1 ? "" : "s", shown, r.skipped == 1 ? "was" : "were");
    if (rc == 0 && !cs.have_hello && v->on_info) v->on_info(v->user, info);
out:
    free(space);
    fa_capture_file_free(&file);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sessions of a daemon                                                      */
/* ------------------------------------------------------------------------ */

/* The dictionary from GET /tags: every node of the tree, depth first. */
static void session_tags(const run_visitor_t *v, const cJSON *nodes, int depth) {
    const cJSON *t;
    cJSON_ArrayForEach(t, nodes) {
        uint64_t id = jv_u64(t, "id", 0), parent = jv_u64(t, "parent_id", 0);
        if (id <= UINT16_MAX && jv_bool(t, "defined", true) && v->on_tag)
            v->on_tag(v->user, (uint16_t)id, (uint16_t)(parent <= UINT16_MAX ? parent : 0), jv_str(t, "path", ""));
        if (depth < 64) session_tags(v, jv_array(t, "children"), depth + 1);
    }
}

/* At most this many sites are asked about one by one. */
#define SITE_LOOKUPS_MAX 4096u

static uint8_t kind_of_name(const char *k) {
    return !strcmp(k, "pool") ? FA_PROTO_KIND_POOL : !strcmp(k, "heap") ? FA_PROTO_KIND_HEAP : FA_PROTO_KIND_FRAME;
}

/* A site object of the /sites routes (site_id, defined, file, line,
 * function, kind) handed to on_site. */
static void session_site_def(const run_visitor_t *v, u64map_t *known, const cJSON *o) {
    uint64_t id = jv_u64(o, "site_id", 0);
    if (!id || id > UINT32_MAX || !jv_bool(o, "defined", false) || u64map_get(known, id) != U64MAP_NONE) return;
    if (u64map_put(known, id, 1) != 0) return;
    if (v->on_site)
        v->on_site(v->user, (uint32_t)id, (uint32_t)jv_u64(o, "line", 0), kind_of_name(jv_str(o, "kind", "")),
                   jv_str(o, "file", ""), jv_str(o, "function", ""));
}

/* The sites a page of frames names that are not defined yet: asked one by
 * one (GET /sites/{id}; most were defined by the /sites list before). A
 * site the daemon does not know stays undefined (shown by number). */
static int session_define_sites(const cli_t *cli, const char *sid, const run_visitor_t *v, u64map_t *known,
                                size_t *lookups, const cJSON *frames) {
    const cJSON *f, *row;
    cJSON_ArrayForEach(f, frames) {
        cJSON_ArrayForEach(row, jv_array(f, "sites")) {
            uint64_t id = jv_u64(row, "site_id", 0);
            if (!id || id > UINT32_MAX || u64map_get(known, id) != U64MAP_NONE || *lookups >= SITE_LOOKUPS_MAX) continue;
            ++*lookups;
            char path[160];
            snprintf(path, sizeof path, "/api/v1/sessions/%s/sites/%" PRIu64 "?window=1s&points=1&context=0", sid, id);
            http_answer_t a;
            int rc = api_get(cli, path, &a, sid, NULL);
            if (rc) return rc;
            session_site_def(v, known, a.json);
            http_answer_free(&a);
            if (u64map_put(known, id, 1) != 0) return CLI_EXIT_SERVER;
        }
    }
    return 0;
}

/* One JSON frame as proto rows, delivered. rows and site_rows have room for
 * FA_PROTO_MAX_ROWS. */
static int session_frame(const run_visitor_t *v, run_info_t *info, const cJSON *f, fa_proto_tag_stat_t *rows,
                         fa_proto_site_row_t *site_rows) {
    uint32_t n = 0, ns = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, jv_array(f, "tags")) {
        if (n == FA_PROTO_MAX_ROWS) break;
        uint64_t id = jv_u64(t, "id", UINT64_MAX);
        if (id > UINT16_MAX) continue;
        rows[n++] = (fa_proto_tag_stat_t){
            .id = (uint16_t)id,
            .frame_bytes = jv_u64(t, "frame_bytes", 0),
            .pool_bytes = jv_u64(t, "pool_bytes", 0),
            .heap_bytes = jv_u64(t, "heap_bytes", 0),
            .alloc_count = jv_u64(t, "alloc_count", 0),
            .live_bytes = jv_u64(t, "live_bytes", 0),
            .peak_bytes = jv_u64(t, "peak_bytes", 0),
        };
    }
    cJSON_ArrayForEach(t, jv_array(f, "sites")) {
        if (ns == FA_PROTO_MAX_ROWS) break;
        uint64_t id = jv_u64(t, "site_id", UINT64_MAX), tag = jv_u64(t, "tag_id", UINT64_MAX);
        if (id > UINT32_MAX || tag > UINT16_MAX) continue;
        site_rows[ns++] = (fa_proto_site_row_t){
            .site_id = (uint32_t)id,
            .tag_id = (uint16_t)tag,
            .bytes = jv_u64(t, "bytes", 0),
            .count = jv_u64(t, "count", 0),
            .live_bytes = jv_u64(t, "live_bytes", 0),
        };
    }
    uint64_t frame = jv_u64(f, "frame", 0);
    if (!info->frames) info->first_frame = frame;
    info->last_frame = frame;
    info->frames++;
    info->frames_dropped += jv_u64(f, "frames_dropped", 0);
    run_frame_t rf = {.frame = frame,
                      .t_unix_ns = jv_u64(f, "t_ms", 0) * 1000000u,
                      .duration_ns = jv_u64(f, "duration_ns", 0),
                      .tags = rows,
                      .tag_count = n,
                      .sites = site_rows,
                      .site_count = ns};
    return v->on_frame ? v->on_frame(v->user, &rf) : 0;
}

int run_read_session(const cli_t *cli, const char *spec, const run_visitor_t *v, run_info_t *info) {
    memset(info, 0, sizeof *info);
    if (spec && strncmp(spec, "session:", 8) == 0) spec += 8;
    char sid[32];
    cJSON *session = NULL;
    int rc = session_resolve_spec(cli, spec, sid, &session);
    if (rc) return rc;
    snprintf(info->source, sizeof info->source, "session %s", sid);
    snprintf(info->session, sizeof info->session, "%.16s", sid);
    snprintf(info->app, sizeof info->app, "%s", jv_str(session, "app", ""));
    snprintf(info->build, sizeof info->build, "%s", jv_str(session, "build_id", ""));
    snprintf(info->host, sizeof info->host, "%s", jv_str(session, "host", ""));
    snprintf(info->label, sizeof info->label, "%s", jv_str(session, "label", ""));
    info->start_unix_ms = jv_u64(session, "started_ms", 0);
    info->ended = !jv_bool(session, "live", false);
    cJSON_Delete(session);
    if (v->on_info) v->on_info(v->user, info);

    char path[160];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/tags", sid);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, NULL)) != 0) return rc;
    session_tags(v, jv_array(a.json, "tree"), 0);
    http_answer_free(&a);

    /* The session's call sites, most of them at once: the pairs of its
     * last 30 days; the rest when a frame names them. */
    u64map_t known = {0};
    size_t lookups = 0;
    snprintf(path, sizeof path, "/api/v1/sessions/%s/sites?window=30d&limit=1000", sid);
    if ((rc = api_get(cli, path, &a, sid, NULL)) != 0) return rc;
    const cJSON *site;
    cJSON_ArrayForEach(site, jv_array(a.json, "sites")) session_site_def(v, &known, site);
    http_answer_free(&a);

    fa_proto_tag_stat_t *rows = malloc(FA_PROTO_MAX_ROWS * sizeof *rows);
    fa_proto_site_row_t *site_rows = malloc(FA_PROTO_MAX_ROWS * sizeof *site_rows);
    if (!rows || !site_rows) {
        free(rows);
        free(site_rows);
        u64map_free(&known);
        return CLI_EXIT_SERVER;
    }
    /* Pages of 1000 in time order; the next page starts at the last time
     * seen and skips the frames already delivered (equal times). */
    uint64_t from = 0, last_frame = 0;
    bool any = false;
    for (;;) {
        snprintf(path, sizeof path, "/api/v1/sessions/%s/frames?limit=1000&from=%" PRIu64, sid, from);
        if ((rc = api_get(cli, path, &a, sid, NULL)) != 0) break;
        if ((rc = session_define_sites(cli, sid, v, &known, &lookups, jv_array(a.json, "frames"))) != 0) {
            http_answer_free(&a);
            break;
        }
        const cJSON *f;
        uint64_t page_last_t = from;
        size_t delivered = 0;
        cJSON_ArrayForEach(f, jv_array(a.json, "frames")) {
            uint64_t num = jv_u64(f, "frame", 0), t = jv_u64(f, "t_ms", 0);
            if (t > page_last_t) page_last_t = t;
            if (any && t == from && num <= last_frame) continue;
            if ((rc = session_frame(v, info, f, rows, site_rows)) != 0) break;
            any = true;
            last_frame = num;
            delivered++;
        }
        bool more = jv_bool(a.json, "truncated", false);
        http_answer_free(&a);
        if (rc || !more || delivered == 0) break;
        from = page_last_t;
    }
    free(rows);
    free(site_rows);
    u64map_free(&known);
    return rc;
}

char *run_spec_of(const char *capture, const char *session) {
    const char *what = capture ? capture : session ? session : "latest";
    const char *prefix = capture ? (strncmp(what, "file:", 5) ? "file:" : "") : "session:";
    size_t n = strlen(prefix) + strlen(what) + 1;
    char *spec = malloc(n);
    if (spec) snprintf(spec, n, "%s%s", prefix, what);
    return spec;
}

int run_read(const cli_t *cli, const char *spec, const run_visitor_t *v, run_info_t *info) {
    if (run_spec_is_capture(spec)) return run_read_capture(cli, spec, v, info);
    /* Something that looks like a path but is not there: say so, instead
     * of asking a daemon about a session named like a file. */
    if (spec && strncmp(spec, "session:", 8) != 0 && (strchr(spec, '/') || strstr(spec, ".facap"))) {
        char shown[256];
        copy_safe(shown, sizeof shown, spec, strlen(spec));
        struct stat sb;
        if (stat(spec, &sb) == 0)
            fprintf(cli->err, CLI_NAME " %s: '%s' is not a regular file\n", cli->command, shown);
        else
            fprintf(cli->err, CLI_NAME " %s: no capture file '%s' (%s)\n", cli->command, shown, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    return run_read_session(cli, spec, v, info);
}

/* ------------------------------------------------------------------------ */
/* A run summed up                                                           */
/* ------------------------------------------------------------------------ */

typedef struct summing {
    summary_acc_t *acc;
    bool oom;
} summing_t;

static void acc_on_tag(void *user, uint16_t id, uint16_t parent, const char *path) {
    summary_acc_tag(((summing_t *)user)->acc, id, parent, path);
}

static void acc_on_site(void *user, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                        const char *function) {
    summary_acc_site(((summing_t *)user)->acc, id, line, kind, file, function);
}

static int acc_on_frame(void *user, const run_frame_t *f) {
    summing_t *s = user;
    s->oom = summary_acc_frame(s->acc, f->tags, f->tag_count, f->sites, f->site_count) != 0;
    return s->oom ? CLI_EXIT_SERVER : 0;
}

int summary_of_run(const cli_t *cli, const char *spec, summary_t *out) {
    memset(out, 0, sizeof *out);
    summing_t s = {.acc = summary_acc_new()};
    if (!s.acc) return CLI_EXIT_SERVER;
    run_visitor_t v = {.user = &s, .on_tag = acc_on_tag, .on_site = acc_on_site, .on_frame = acc_on_frame};
    int rc = run_read(cli, spec, &v, &out->info);
    if (s.oom || (rc == 0 && summary_acc_finish(s.acc, out) != 0)) {
        fprintf(cli->err, CLI_NAME " %s: out of memory summing up %s\n", cli->command, out->info.source);
        rc = CLI_EXIT_SERVER;
    }
    summary_acc_free(s.acc);
    if (rc) summary_free(out);
    return rc;
}
