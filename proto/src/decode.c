/*
 * decode.c — the total decoder: fa_proto_decode_header(), fa_proto_decode().
 *
 * Every read goes through a cursor that knows how many bytes remain in the
 * body, and every count is checked against its cap and the remaining bytes
 * before it is used, so no input can make the decoder read outside the
 * buffer, loop for long or write beyond the caller's storage. The decoded
 * message is built in a local and copied to *out only on success.
 */
#include "proto_internal.h"

#include <string.h>

/* The minor version this decoder reads. Built with 0 it is the 1.0 decoder,
 * with 1 the 1.1 one (tests/proto/compat: what an older daemon makes of
 * newer messages). */
#ifndef FA_PROTO__READER_MINOR
#define FA_PROTO__READER_MINOR FA_PROTO_VERSION_MINOR
#endif

/* A read position in the body: p[0..left) are the bytes not yet consumed. */
typedef struct cursor {
    const uint8_t *p;
    size_t left;
} cursor_t;

static bool take(cursor_t *c, size_t n, const uint8_t **out) {
    if (c->left < n) return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static bool read_u16(cursor_t *c, uint16_t *v) {
    const uint8_t *p;
    if (!take(c, 2, &p)) return false;
    *v = fa__proto_get_u16(p);
    return true;
}

/* Reads a length-prefixed string as a view into the input. */
static int read_str(cursor_t *c, fa_proto_str_t *out, bool tag_path) {
    uint16_t len;
    const uint8_t *p;
    if (!read_u16(c, &len)) return FA_PROTO_ERR_SHORT_BODY;
    if (len > FA_PROTO_MAX_STRING) return FA_PROTO_ERR_STRING_TOO_LONG;
    if (!take(c, len, &p)) return FA_PROTO_ERR_SHORT_BODY;
    if (tag_path)
        for (uint16_t i = 0; i < len; i++)
            if (fa__proto_is_control(p[i])) return FA_PROTO_ERR_BAD_STRING;
    out->data = (const char *)p;
    out->len = len;
    return FA_PROTO_OK;
}

/* Reads a section header and checks it, in the order PROTOCOL.md gives:
 * row cap, stride, caller capacity, and (for fixed-size rows) that all the
 * rows are present. */
static int read_section(cursor_t *c, uint32_t cap, uint32_t min_stride, uint32_t storage_cap, bool fixed_rows,
                        uint16_t *count, uint16_t *stride) {
    if (!read_u16(c, count) || !read_u16(c, stride)) return FA_PROTO_ERR_SHORT_BODY;
    if (*count > cap) return FA_PROTO_ERR_TOO_MANY_ROWS;
    if (*stride < min_stride) return FA_PROTO_ERR_BAD_STRIDE;
    if (*count > storage_cap) return FA_PROTO_ERR_STORAGE_SMALL;
    if (fixed_rows && (size_t)*count * *stride > c->left) return FA_PROTO_ERR_SHORT_BODY;
    return FA_PROTO_OK;
}

static int read_tag_defs(cursor_t *c, const fa_proto_storage_t *st, const fa_proto_tag_def_t **rows,
                         uint32_t *count_out) {
    uint16_t count, stride;
    int rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_TAG_DEF_ROW_SIZE, st->tag_defs_capacity, false,
                          &count, &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p;
        if (!take(c, stride, &p)) return FA_PROTO_ERR_SHORT_BODY;
        fa_proto_tag_def_t *t = &st->tag_defs[i];
        t->id = fa__proto_get_u16(p);
        t->parent_id = fa__proto_get_u16(p + 2);
        t->budget_soft = fa__proto_get_u64(p + 4);
        t->budget_hard = fa__proto_get_u64(p + 12);
        if ((rc = read_str(c, &t->path, true)) < 0) return rc;
    }
    *rows = count ? st->tag_defs : NULL;
    *count_out = count;
    return FA_PROTO_OK;
}

static int decode_hello(cursor_t *c, const fa_proto_storage_t *st, fa_proto_hello_t *h) {
    const uint8_t *p;
    if (!take(c, FA_PROTO__HELLO_FIXED, &p)) return FA_PROTO_ERR_SHORT_BODY;
    h->pid = fa__proto_get_u32(p);
    h->lib_version = fa__proto_get_u32(p + 4);
    h->start_unix_ns = fa__proto_get_u64(p + 8);
    h->start_mono_ns = fa__proto_get_u64(p + 16);
    fa_proto_str_t *strs[4] = {&h->app_name, &h->session_label, &h->host, &h->build_id};
    for (int i = 0; i < 4; i++) {
        int rc = read_str(c, strs[i], false);
        if (rc < 0) return rc;
    }
    int rc = read_tag_defs(c, st, &h->tags, &h->tag_count);
#if FA_PROTO__READER_MINOR >= 2
    /* 1.2, appended after the tags: a 1.1 body ends here (no secret). */
    if (rc == FA_PROTO_OK && c->left) rc = read_str(c, &h->ingest_secret, false);
#endif
    return rc;
}

/* Skips a fixed-size section's rows (present: checked by read_section())
 * when the caller only checks the message: returns true when skipped. */
static bool skip_rows(cursor_t *c, bool keep, uint16_t count, uint16_t stride) {
    const uint8_t *p;
    if (keep) return false;
    (void)take(c, (size_t)count * stride, &p);
    return true;
}

/* A FRAME body. With keep false (checking a FRAMES entry) its rows are
 * checked and skipped, not written: f->tags is NULL, f->tag_count set, and
 * *tags_ordered says whether the tag rows' ids increase strictly. */
static int decode_frame_rows(cursor_t *c, const fa_proto_storage_t *st, fa_proto_frame_t *f, bool keep,
                             bool *tags_ordered) {
    const uint8_t *p;
    uint16_t count, stride;
    int rc;
    if (!take(c, FA_PROTO__FRAME_FIXED, &p)) return FA_PROTO_ERR_SHORT_BODY;
    f->frame = fa__proto_get_u64(p);
    f->start_ns = fa__proto_get_u64(p + 8);
    f->duration_ns = fa__proto_get_u64(p + 16);
    f->frames_dropped = fa__proto_get_u32(p + 24);
    f->tags_total = fa__proto_get_u32(p + 28);
    f->threads_total = fa__proto_get_u32(p + 32);
    f->findings_dropped = fa__proto_get_u32(p + 36);
    uint64_t *const retention[13] = {
        &f->promotions.promoted_count,  &f->promotions.promoted_bytes,  &f->promotions.failed_count,
        &f->promotions.failed_bytes,    &f->promotions.retained_count,  &f->promotions.retained_bytes,
        &f->promotions.discarded_count, &f->promotions.discarded_bytes, &f->transfers.created,
        &f->transfers.received,         &f->transfers.released,         &f->transfers.dropped_unreceived,
        &f->transfers.in_flight,
    };
    for (int i = 0; i < 13; i++)
        *retention[i] = fa__proto_get_u64(p + 40 + 8 * i);

    /* Kinds: the first FA_PROTO_KIND_COUNT rows are kept, later ones (kinds
     * of a newer minor version) skipped, missing ones read as zero. */
    rc = read_section(c, FA_PROTO_MAX_KINDS, FA_PROTO_KIND_ROW_SIZE, FA_PROTO_MAX_KINDS, true, &count,
                      &stride);
    if (rc < 0) return rc;
    memset(f->totals, 0, sizeof f->totals);
    for (uint32_t k = 0; k < count; k++) {
        (void)take(c, stride, &p); /* present: checked by read_section() */
        if (k >= FA_PROTO_KIND_COUNT) continue;
        fa_proto_kind_totals_t *t = &f->totals[k];
        t->in_use = fa__proto_get_u64(p);
        t->peak = fa__proto_get_u64(p + 8);
        t->alloc_count = fa__proto_get_u64(p + 16);
        t->alloc_bytes = fa__proto_get_u64(p + 24);
        t->free_count = fa__proto_get_u64(p + 32);
    }

    rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_TAG_STAT_ROW_SIZE,
                      keep ? st->tag_stats_capacity : UINT32_MAX, true, &count, &stride);
    if (rc < 0) return rc;
    *tags_ordered = true;
    for (uint32_t i = 0; i < count && !keep; i++) {
        (void)take(c, stride, &p);
        if (i && fa__proto_get_u16(p) <= fa__proto_get_u16(p - stride)) *tags_ordered = false;
    }
    for (uint32_t i = 0; i < count && keep; i++) {
        (void)take(c, stride, &p);
        fa_proto_tag_stat_t *t = &st->tag_stats[i];
        t->id = fa__proto_get_u16(p);
        t->frame_bytes = fa__proto_get_u64(p + 2);
        t->pool_bytes = fa__proto_get_u64(p + 10);
        t->heap_bytes = fa__proto_get_u64(p + 18);
        t->alloc_count = fa__proto_get_u64(p + 26);
        t->live_bytes = fa__proto_get_u64(p + 34);
        t->peak_bytes = fa__proto_get_u64(p + 42);
    }
    f->tags = count && keep ? st->tag_stats : NULL;
    f->tag_count = count;

    rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_THREAD_ROW_SIZE,
                      keep ? st->threads_capacity : UINT32_MAX, true, &count, &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count && !skip_rows(c, keep, count, stride); i++) {
        (void)take(c, stride, &p);
        fa_proto_thread_row_t *t = &st->threads[i];
        t->index = fa__proto_get_u32(p);
        t->overflow_chunks = fa__proto_get_u32(p + 4);
        t->frame_used = fa__proto_get_u64(p + 8);
        t->frame_capacity = fa__proto_get_u64(p + 16);
        t->frames = fa__proto_get_u64(p + 24);
        t->flags = p[32];
    }
    f->threads = count ? st->threads : NULL;
    f->thread_count = count;

    rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_FINDING_ROW_SIZE,
                      keep ? st->findings_capacity : UINT32_MAX, true, &count, &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count && !skip_rows(c, keep, count, stride); i++) {
        (void)take(c, stride, &p);
        fa_proto_finding_t *t = &st->findings[i];
        t->code = fa__proto_get_u16(p);
        t->tag_id = fa__proto_get_u16(p + 2);
        t->kind = p[4];
        t->count = fa__proto_get_u32(p + 5);
        t->value = fa__proto_get_u64(p + 9);
    }
    f->findings = count ? st->findings : NULL;
    f->finding_count = count;

#if FA_PROTO__READER_MINOR >= 1
    /* 1.1, appended after the last 1.0 section: a 1.0 body ends here. */
    if (c->left == 0) return FA_PROTO_OK;
    if (!take(c, FA_PROTO__FRAME_SITES_FIXED, &p)) return FA_PROTO_ERR_SHORT_BODY;
    f->sites_total = fa__proto_get_u32(p);
    rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_SITE_ROW_SIZE,
                      keep ? st->site_rows_capacity : UINT32_MAX, true, &count, &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count && !skip_rows(c, keep, count, stride); i++) {
        (void)take(c, stride, &p);
        fa_proto_site_row_t *t = &st->site_rows[i];
        t->site_id = fa__proto_get_u32(p);
        t->tag_id = fa__proto_get_u16(p + 4);
        t->bytes = fa__proto_get_u64(p + 6);
        t->count = fa__proto_get_u64(p + 14);
        t->live_bytes = fa__proto_get_u64(p + 22);
    }
    f->sites = count ? st->site_rows : NULL;
    f->site_count = count;
#endif
    return FA_PROTO_OK;
}

static int decode_frame(cursor_t *c, const fa_proto_storage_t *st, fa_proto_frame_t *f) {
    bool ordered;
    return decode_frame_rows(c, st, f, true, &ordered);
}

#if FA_PROTO__READER_MINOR >= 1
static int decode_sites(cursor_t *c, const fa_proto_storage_t *st, fa_proto_sites_t *out) {
    uint16_t count, stride;
    int rc = read_section(c, FA_PROTO_MAX_ROWS, FA_PROTO_SITE_DEF_ROW_SIZE, st->site_defs_capacity, false,
                          &count, &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p;
        if (!take(c, stride, &p)) return FA_PROTO_ERR_SHORT_BODY;
        fa_proto_site_def_t *s = &st->site_defs[i];
        s->id = fa__proto_get_u32(p);
        s->line = fa__proto_get_u32(p + 4);
        s->kind = p[8];
        if ((rc = read_str(c, &s->file, false)) < 0 || (rc = read_str(c, &s->function, false)) < 0) return rc;
    }
    out->sites = count ? st->site_defs : NULL;
    out->site_count = count;
    return FA_PROTO_OK;
}
#endif

/* The caller's storage, a NULL array counting as capacity 0 whatever its
 * capacity says (NULL storage: no arrays at all). */
static fa_proto_storage_t usable(const fa_proto_storage_t *storage) {
    static const fa_proto_storage_t no_storage = {0};
    fa_proto_storage_t st = storage ? *storage : no_storage;
    if (!st.tag_defs) st.tag_defs_capacity = 0;
    if (!st.tag_stats) st.tag_stats_capacity = 0;
    if (!st.threads) st.threads_capacity = 0;
    if (!st.findings) st.findings_capacity = 0;
    if (!st.drops) st.drops_capacity = 0;
    if (!st.site_defs) st.site_defs_capacity = 0;
    if (!st.site_rows) st.site_rows_capacity = 0;
    return st;
}

#if FA_PROTO__READER_MINOR >= 2
/* 1.2: one FRAMES entry: its length, header and FRAME body. Bytes of the
 * entry after the fields this reader knows are skipped. */
static int read_entry(cursor_t *c, const fa_proto_storage_t *st, fa_proto_frame_entry_t *e, bool keep) {
    const uint8_t *p;
    if (!take(c, 4, &p)) return FA_PROTO_ERR_SHORT_BODY;
    uint32_t len = fa__proto_get_u32(p);
    if (len < FA_PROTO_FRAMES_ENTRY_HEADER - 4 || !take(c, len, &p)) return FA_PROTO_ERR_SHORT_BODY;
    memset(e, 0, sizeof *e);
    e->delta = (p[0] & FA_PROTO__ENTRY_DELTA) != 0;
    e->base_frame = e->delta ? fa__proto_get_u64(p + 1) : 0; /* a key's is meaningless */
    e->tag_rows = fa__proto_get_u32(p + 9);
    cursor_t body = {p + FA_PROTO_FRAMES_ENTRY_HEADER - 4, len - (FA_PROTO_FRAMES_ENTRY_HEADER - 4)};
    bool ordered;
    int rc = decode_frame_rows(&body, st, &e->frame, keep, &ordered);
    if (rc < 0) return rc;
    if (!fa__proto_entry_counts_ok(e->delta, e->tag_rows, e->frame.tag_count) || !ordered ||
        (keep && !fa__proto_entry_rows_ok(e->delta, e->tag_rows, e->frame.tags, e->frame.tag_count)))
        return FA_PROTO_ERR_BAD_DELTA;
    return FA_PROTO_OK;
}

/* Checks every entry (its rows checked, not decoded), so that
 * fa_proto_frames_next() can fail only on storage smaller than a row count. */
static int decode_frames(cursor_t *c, const fa_proto_storage_t *st, fa_proto_frames_t *out) {
    uint16_t count;
    if (!read_u16(c, &count)) return FA_PROTO_ERR_SHORT_BODY;
    if (count > FA_PROTO_MAX_BATCH) return FA_PROTO_ERR_TOO_MANY_ROWS;
    const uint8_t *start = c->p;
    for (uint32_t i = 0; i < count; i++) {
        fa_proto_frame_entry_t e;
        int rc = read_entry(c, st, &e, false);
        if (rc < 0) return rc;
    }
    out->count = count;
    out->entries = NULL;
    out->data = start;
    out->size = (size_t)(c->p - start);
    return FA_PROTO_OK;
}
#endif

int fa_proto_frames_next(const fa_proto_frames_t *frames, size_t *offset, fa_proto_frame_entry_t *out,
                         const fa_proto_storage_t *storage) {
#if FA_PROTO__READER_MINOR >= 2
    if (!frames || !offset || !out || (!frames->data && frames->size)) return FA_PROTO_ERR_INVALID_ARG;
    if (*offset >= frames->size) return 0;
    cursor_t c = {frames->data + *offset, frames->size - *offset};
    fa_proto_storage_t st = usable(storage);
    fa_proto_frame_entry_t e;
    int rc = read_entry(&c, &st, &e, true);
    if (rc < 0) return rc;
    *offset = frames->size - c.left;
    *out = e;
    return 1;
#else
    (void)frames, (void)offset, (void)out, (void)storage, (void)usable;
    return FA_PROTO_ERR_UNKNOWN_TYPE;
#endif
}

static int decode_bye(cursor_t *c, const fa_proto_storage_t *st, fa_proto_bye_t *b) {
    const uint8_t *p;
    uint16_t count, stride;
    if (!take(c, FA_PROTO__BYE_FIXED, &p)) return FA_PROTO_ERR_SHORT_BODY;
    b->frames_sent = fa__proto_get_u64(p);
    b->frames_dropped = fa__proto_get_u64(p + 8);
    int rc = read_section(c, FA_PROTO_MAX_DROPS, FA_PROTO_DROP_ROW_SIZE, st->drops_capacity, true, &count,
                          &stride);
    if (rc < 0) return rc;
    for (uint32_t i = 0; i < count; i++) {
        (void)take(c, stride, &p);
        st->drops[i].reason = fa__proto_get_u16(p);
        st->drops[i].count = fa__proto_get_u64(p + 2);
    }
    b->drops = count ? st->drops : NULL;
    b->drop_count = count;
    return FA_PROTO_OK;
}

fa_proto_storage_t fa_proto_storage_of(fa_proto_space_t *space) {
    fa_proto_storage_t st = {0};
    if (!space) return st;
    st.tag_defs = space->tag_defs;
    st.tag_defs_capacity = FA_PROTO_MAX_ROWS;
    st.tag_stats = space->tag_stats;
    st.tag_stats_capacity = FA_PROTO_MAX_ROWS;
    st.threads = space->threads;
    st.threads_capacity = FA_PROTO_MAX_ROWS;
    st.findings = space->findings;
    st.findings_capacity = FA_PROTO_MAX_ROWS;
    st.drops = space->drops;
    st.drops_capacity = FA_PROTO_MAX_DROPS;
    st.site_defs = space->site_defs;
    st.site_defs_capacity = FA_PROTO_MAX_ROWS;
    st.site_rows = space->site_rows;
    st.site_rows_capacity = FA_PROTO_MAX_ROWS;
    return st;
}

int fa_proto_decode_header(const void *buf, size_t len, fa_proto_header_t *out) {
    static const uint8_t magic[4] = {FA_PROTO_MAGIC_0, FA_PROTO_MAGIC_1, FA_PROTO_MAGIC_2, FA_PROTO_MAGIC_3};
    const uint8_t *p = buf;
    if (!out || (!buf && len)) return FA_PROTO_ERR_INVALID_ARG;
    /* A prefix that already differs from the magic is not ours at all;
     * one that matches but stops early is a truncated message. */
    if (len && memcmp(p, magic, len < 4 ? len : 4) != 0) return FA_PROTO_ERR_BAD_MAGIC;
    if (len < FA_PROTO_HEADER_SIZE) return FA_PROTO_ERR_TRUNCATED;
    if (p[FA_PROTO__OFF_MAJOR] != FA_PROTO_VERSION_MAJOR) return FA_PROTO_ERR_BAD_VERSION;
    uint32_t body_len = fa__proto_get_u32(p + FA_PROTO__OFF_BODY_LEN);
    if (body_len > FA_PROTO_MAX_MESSAGE - FA_PROTO_HEADER_SIZE) return FA_PROTO_ERR_TOO_LARGE;
    if (len - FA_PROTO_HEADER_SIZE < body_len) return FA_PROTO_ERR_TRUNCATED;
    if (len - FA_PROTO_HEADER_SIZE > body_len) return FA_PROTO_ERR_LENGTH;
    uint64_t session_id = fa__proto_get_u64(p + FA_PROTO__OFF_SESSION);
    if (session_id == 0) return FA_PROTO_ERR_BAD_SESSION;

    out->version_major = p[FA_PROTO__OFF_MAJOR];
    out->version_minor = p[FA_PROTO__OFF_MINOR];
    out->type = p[FA_PROTO__OFF_TYPE];
    out->flags = p[FA_PROTO__OFF_FLAGS];
    out->body_len = body_len;
    out->session_id = session_id;
    out->seq = fa__proto_get_u64(p + FA_PROTO__OFF_SEQ);
    return FA_PROTO_OK;
}

int fa_proto_decode(const void *buf, size_t len, fa_proto_msg_t *out, const fa_proto_storage_t *storage) {
    fa_proto_msg_t msg;
    if (!out) return FA_PROTO_ERR_INVALID_ARG;
    memset(&msg, 0, sizeof msg);
    int rc = fa_proto_decode_header(buf, len, &msg.header);
    if (rc < 0) return rc;
    fa_proto_storage_t st_copy = usable(storage);
    const fa_proto_storage_t *st = &st_copy;
    /* Bytes after the known fields, up to body_len, are a newer minor
     * version's additions: the cursor simply stops short of them. */
    cursor_t c = {(const uint8_t *)buf + FA_PROTO_HEADER_SIZE, msg.header.body_len};
    switch (msg.header.type) {
    case FA_PROTO_HELLO:
        rc = decode_hello(&c, st, &msg.hello);
        break;
    case FA_PROTO_FRAME:
        rc = decode_frame(&c, st, &msg.frame);
        break;
    case FA_PROTO_TAGS:
        rc = read_tag_defs(&c, st, &msg.tags.tags, &msg.tags.tag_count);
        break;
    case FA_PROTO_BYE:
        rc = decode_bye(&c, st, &msg.bye);
        break;
#if FA_PROTO__READER_MINOR >= 1
    case FA_PROTO_SITES:
        rc = decode_sites(&c, st, &msg.sites);
        break;
#endif
#if FA_PROTO__READER_MINOR >= 2
    case FA_PROTO_FRAMES:
        rc = decode_frames(&c, st, &msg.frames);
        break;
#endif
    default:
        return FA_PROTO_ERR_UNKNOWN_TYPE;
    }
    if (rc < 0) return rc;
    *out = msg;
    return FA_PROTO_OK;
}
