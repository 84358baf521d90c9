/* synth.c — see synth.h. */
#include "synth.h"

#include <fa_capture.h>

#include <stdlib.h>
#include <string.h>

static int emit(synth_t *s, fa_proto_msg_t *m) {
    m->header.session_id = s->session;
    m->header.seq = s->seq++;
    int n = fa_proto_encode(m, s->buf, FA_PROTO_MAX_MESSAGE);
    if (n < 0 || fwrite(s->buf, 1, (size_t)n, s->f) != (size_t)n) return -1;
    return 0;
}

static int defs(fa_proto_tag_def_t *out, uint32_t first, uint32_t n, const char *const *paths,
                const uint16_t *parents) {
    for (uint32_t i = 0; i < n; i++)
        out[i] = (fa_proto_tag_def_t){.id = (uint16_t)(first + i),
                                      .parent_id = parents[first + i],
                                      .path = fa_proto_str(paths[first + i])};
    return 0;
}

int synth_open(synth_t *s, const char *path, const char *app, const char *build, uint32_t ntags,
               const char *const *paths, const uint16_t *parents) {
    memset(s, 0, sizeof *s);
    s->session = 0x5EED000000000001ull ^ (uint64_t)ntags;
    s->buf = malloc(FA_PROTO_MAX_MESSAGE);
    fa_proto_tag_def_t *d = calloc(ntags ? ntags : 1, sizeof *d);
    s->f = fopen(path, "wb");
    unsigned char header[FA_CAPTURE_HEADER_SIZE];
    int rc = -1;
    if (s->buf && d && s->f && fa_capture_header_encode(header, sizeof header) > 0 &&
        fwrite(header, 1, sizeof header, s->f) == sizeof header) {
        defs(d, 0, ntags, paths, parents);
        fa_proto_msg_t m = {.header.type = FA_PROTO_HELLO};
        m.hello = (fa_proto_hello_t){.pid = 42,
                                     .start_unix_ns = 1700000000000000000ull,
                                     .start_mono_ns = 1000000000ull,
                                     .app_name = fa_proto_str(app),
                                     .build_id = fa_proto_str(build),
                                     .host = fa_proto_str("synth"),
                                     .tags = d,
                                     .tag_count = ntags};
        rc = emit(s, &m);
    }
    free(d);
    return rc;
}

/* Writes the FRAMES being built, if any. */
static int flush(synth_t *s) {
    if (!s->batch || !s->batch_buf || s->b.count == 0) return 0;
    fa_proto_header_t h = {.session_id = s->session, .seq = s->seq++};
    int n = fa_proto_batch_finish(&s->b, &h);
    if (n < 0 || fwrite(s->batch_buf, 1, (size_t)n, s->f) != (size_t)n) return -1;
    return fa_proto_batch_init(&s->b, s->batch_buf, FA_PROTO_MAX_MESSAGE);
}

/* 1.2: m's frame into the batch, its tag rows as a delta of the previous
 * frame's (a key every 10 frames, and the first). */
static int add_entry(synth_t *s, const fa_proto_msg_t *m) {
    if (!s->batch_buf) {
        if (!(s->batch_buf = malloc(FA_PROTO_MAX_MESSAGE))) return -1;
        (void)fa_proto_batch_init(&s->b, s->batch_buf, FA_PROTO_MAX_MESSAGE);
    }
    const fa_proto_frame_t *f = &m->frame;
    if (f->tag_count > 64) return -1;
    fa_proto_frame_entry_t e = {.frame = *f, .tag_rows = f->tag_count};
    int c = s->prev_frame && s->frames % 10 != 1
                ? fa_proto_tag_rows_delta(s->prev, s->prev_n, f->tags, f->tag_count, s->changed)
                : -1;
    if (c >= 0) {
        e.delta = true;
        e.base_frame = s->prev_frame;
        e.frame.tags = s->changed;
        e.frame.tag_count = (uint32_t)c;
    }
    if (fa_proto_batch_add(&s->b, &e) != FA_PROTO_OK) return -1;
    memcpy(s->prev, f->tags, f->tag_count * sizeof *f->tags);
    s->prev_n = f->tag_count;
    s->prev_frame = f->frame;
    return s->b.count >= s->batch ? flush(s) : 0;
}

int synth_tags(synth_t *s, uint32_t first, uint32_t n, const char *const *paths, const uint16_t *parents) {
    fa_proto_tag_def_t *d = calloc(n ? n : 1, sizeof *d);
    if (!d) return -1;
    defs(d, first, n, paths, parents);
    fa_proto_msg_t m = {.header.type = FA_PROTO_TAGS};
    m.tags = (fa_proto_tags_t){.tags = d, .tag_count = n};
    int rc = flush(s) == 0 ? emit(s, &m) : -1;
    free(d);
    return rc;
}

int synth_sites(synth_t *s, const fa_proto_site_def_t *defs, uint32_t n) {
    fa_proto_msg_t m = {.header.type = FA_PROTO_SITES};
    m.sites = (fa_proto_sites_t){.sites = defs, .site_count = n};
    return flush(s) == 0 ? emit(s, &m) : -1;
}

int synth_frame(synth_t *s, uint64_t frame, const fa_proto_tag_stat_t *rows, uint32_t n) {
    return synth_frame_sites(s, frame, rows, n, NULL, 0);
}

int synth_frame_sites(synth_t *s, uint64_t frame, const fa_proto_tag_stat_t *rows, uint32_t n,
                      const fa_proto_site_row_t *sites, uint32_t nsites) {
    fa_proto_msg_t m = {.header.type = FA_PROTO_FRAME};
    m.frame.sites = sites;
    m.frame.site_count = nsites;
    m.frame.sites_total = nsites;
    m.frame.frame = frame;
    m.frame.start_ns = 1000000000ull + s->frames * 16666667ull;
    m.frame.duration_ns = 16666667ull;
    m.frame.tags_total = n;
    m.frame.threads_total = 1;
    m.frame.tags = rows;
    m.frame.tag_count = n;
    s->frames++;
    return s->batch ? add_entry(s, &m) : emit(s, &m);
}

int synth_close(synth_t *s, bool bye) {
    int rc = flush(s);
    if (bye) {
        fa_proto_msg_t m = {.header.type = FA_PROTO_BYE};
        m.bye.frames_sent = s->frames;
        if (emit(s, &m) != 0) rc = -1;
    }
    if (s->f && fclose(s->f) != 0) rc = -1;
    free(s->buf);
    free(s->batch_buf);
    memset(s, 0, sizeof *s);
    return rc;
}
