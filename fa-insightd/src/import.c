/* import.c — capture files into the store (import.h). */
#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "clock.h"
#include "config.h"
#include "ctx.h"
#include "fa_capture.h"
#include "fa_capture_file.h"
#include "log.h"
#include "sessions.h"
#include "stats.h"
#include "writer.h"

/* Messages handed to the sessions per turn of the loop. */
#define IMPORT_BATCH 2048u

typedef struct importer {
    insightd_ctx_t *ctx;
    char *const *files;
    size_t n, next;
    uint64_t *seen; /* sessions stored, or imported in this run */
    size_t nseen, cap_seen;
    int rc;
    uv_timer_t timer;
    /* The file being read. */
    bool open;
    const char *path;
    fa_capture_file_t file;
    fa_capture_reader_t r;
    fa_proto_space_t *space;
    uint64_t session, frames;
    uint64_t start_unix_ns, start_mono_ns;
    bool have_hello, skipping;
    uint64_t recv_ms, recv_mono;
} importer_t;

static bool seen(const importer_t *im, uint64_t id) {
    for (size_t i = 0; i < im->nseen; i++)
        if (im->seen[i] == id) return true;
    return false;
}

static void remember(importer_t *im, uint64_t id) {
    if (im->nseen == im->cap_seen) {
        size_t cap = im->cap_seen ? im->cap_seen * 2 : 64;
        uint64_t *n = realloc(im->seen, cap * sizeof *n);
        if (!n) return;
        im->seen = n;
        im->cap_seen = cap;
    }
    im->seen[im->nseen++] = id;
}

static void close_file(importer_t *im) {
    fa_capture_file_free(&im->file);
    im->open = false;
}

static void bad_file(importer_t *im, const char *fmt, const char *detail) {
    printf("%s: %s: ", INSIGHTD_NAME, im->path);
    printf(fmt, detail);
    printf("\n");
    im->rc = IMPORT_BAD_FILE;
}

/* Reads the next file and checks its header. false when it cannot be read
 * (said, counted). */
static bool open_file(importer_t *im, const char *path) {
    memset(&im->r, 0, sizeof im->r);
    im->path = path;
    im->session = im->frames = 0;
    im->have_hello = im->skipping = false;
    /* O_NONBLOCK: opening a FIFO nobody writes would wait for ever. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int rc = fd < 0 ? -errno : fa_capture_file_read(fd, &im->file);
    if (fd >= 0) close(fd);
    if (rc < 0) {
        bad_file(im, "cannot read it (%s)", rc == -EINVAL ? "not a regular file" : strerror(-rc));
        return false;
    }
    rc = fa_capture_reader_init(&im->r, im->file.data, im->file.len);
    if (rc < 0) {
        bad_file(im, "not a framealloc capture file (%s)", fa_proto_strerror(rc));
        close_file(im);
        return false;
    }
    im->open = true;
    return true;
}

/* The times a message "arrives" at: the capture's own clock. */
static void stamp(importer_t *im, const fa_proto_msg_t *m) {
    if (m->header.type == FA_PROTO_HELLO && !im->have_hello) {
        im->have_hello = true;
        im->start_unix_ns = m->hello.start_unix_ns;
        im->start_mono_ns = m->hello.start_mono_ns;
        im->recv_ms = im->start_unix_ns / 1000000u;
        im->recv_mono = im->start_mono_ns / 1000000u;
    } else if (m->header.type == FA_PROTO_FRAME) {
        uint64_t end = m->frame.start_ns + m->frame.duration_ns;
        im->recv_mono = end / 1000000u;
        /* Without a HELLO (cut from the front) the import's own clock. */
        im->recv_ms = im->have_hello ? (im->start_unix_ns + (end - im->start_mono_ns)) / 1000000u : clock_now_ms();
    }
}

/* The end of a file: a line for it. */
static void finish_file(importer_t *im) {
    if (im->skipping)
        printf("%s: %s: session %016" PRIx64 " is already stored: skipped\n", INSIGHTD_NAME, im->path, im->session);
    else if (im->session)
        printf("%s: %s: session %016" PRIx64 " imported, %" PRIu64 " frames%s\n", INSIGHTD_NAME, im->path,
               im->session, im->frames, im->r.truncated_bytes ? " (the file was cut off inside its last message)" : "");
    else
        printf("%s: %s: no message to import\n", INSIGHTD_NAME, im->path);
    if (im->r.skipped)
        printf("%s: %s: %" PRIu64 " messages could not be decoded and were skipped\n", INSIGHTD_NAME, im->path,
               im->r.skipped);
    fflush(stdout);
    close_file(im);
}

/* Feeds up to IMPORT_BATCH messages. Returns false when every file is done. */
static bool feed(importer_t *im) {
    fa_proto_storage_t st = fa_proto_storage_of(im->space);
    for (unsigned k = 0; k < IMPORT_BATCH; k++) {
        if (!im->open) {
            if (im->next == im->n) return false;
            if (!open_file(im, im->files[im->next++])) continue;
        }
        fa_proto_msg_t m;
        int rc = fa_capture_next(&im->r, &m, &st);
        if (rc == 0) {
            finish_file(im);
            continue;
        }
        if (rc < 0) {
            if (!im->r.resumable) {
                printf("%s: %s: damaged at byte %zu (%s): imported up to there\n", INSIGHTD_NAME, im->path,
                       im->r.message_offset, fa_proto_strerror(rc));
                im->rc = IMPORT_BAD_FILE;
                finish_file(im);
            }
            continue;
        }
        if (!im->session) {
            im->session = m.header.session_id;
            im->skipping = seen(im, im->session);
            if (!im->skipping) remember(im, im->session);
        }
        if (m.header.session_id != im->session) {
            printf("%s: %s: a second session (%016" PRIx64 ") at byte %zu: not a v1 capture, stopped there\n",
                   INSIGHTD_NAME, im->path, m.header.session_id, im->r.message_offset);
            im->rc = IMPORT_BAD_FILE;
            finish_file(im);
            continue;
        }
        if (im->skipping) {
            finish_file(im);
            continue;
        }
        stamp(im, &m);
        im->frames += m.header.type == FA_PROTO_FRAME;
        sessions_handle(im->ctx->sessions, im->r.data + im->r.message_offset,
                        FA_PROTO_HEADER_SIZE + m.header.body_len, im->recv_ms, im->recv_mono);
        fa_capture_file_release_before(&im->file, im->r.message_offset); /* handled: copied */
    }
    return true;
}

static void on_timer(uv_timer_t *t) {
    importer_t *im = t->data;
    writer_stats_t ws;
    writer_stats(im->ctx->writer, &ws);
    if (ws.failing && ws.failed_attempts > 50) {
        printf("%s: the database refuses the import: %s\n", INSIGHTD_NAME, ws.problem);
        im->rc = IMPORT_FAILED;
        uv_timer_stop(t);
        uv_stop(t->loop); /* or the loop's poll waits on the writer's handle */
        return;
    }
    /* Back-pressure: the writer takes its time, nothing is dropped. */
    if (ws.backlog_bytes > im->ctx->cfg->write_buffer_bytes / 2) return;
    if (feed(im)) return;
    /* Every file is fed; sessions waiting on a look-up finish first. */
    if (g_stats.pending) return;
    /* A capture without its BYE ends as "timeout", as a session that
     * stops does (PROTOCOL.md §8). */
    sessions_tick(im->ctx->sessions, UINT64_MAX / 2, true);
    sessions_flush(im->ctx->sessions);
    uv_timer_stop(t);
    uv_stop(t->loop); /* or the loop's poll waits on the writer's handle */
}

int import_run(insightd_ctx_t *ctx, char *const *files, size_t n, const uint64_t *stored, size_t nstored) {
    importer_t im = {.ctx = ctx, .files = files, .n = n};
    im.space = malloc(sizeof *im.space);
    if (!im.space) return IMPORT_FAILED;
    for (size_t i = 0; i < nstored; i++)
        remember(&im, stored[i]);
    uv_timer_init(ctx->loop, &im.timer);
    im.timer.data = &im;
    uv_timer_start(&im.timer, on_timer, 0, 1);
    /* The timer stops itself when everything is fed; the writer's answers
     * (look-ups) come through the loop meanwhile. */
    while (uv_is_active((uv_handle_t *)&im.timer))
        uv_run(ctx->loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&im.timer, NULL);
    uv_run(ctx->loop, UV_RUN_NOWAIT);
    close_file(&im);
    free(im.space);
    free(im.seen);
    return im.rc;
}
