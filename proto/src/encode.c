/*
 * encode.c — fa_proto_encoded_size() and fa_proto_encode().
 *
 * Encoding is two passes over the message: measure() validates everything
 * that could make the message unencodable and computes its exact size, so
 * that write() can then emit it without a single check and a failed call
 * writes nothing.
 */
#include "proto_internal.h"

#include <string.h>

/* The wire size of a string, or a negative error. tag_path selects the
 * stricter rule for tag paths (no control bytes). */
static int64_t measure_str(fa_proto_str_t s, bool tag_path) {
    if (s.len > FA_PROTO_MAX_STRING) return FA_PROTO_ERR_STRING_TOO_LONG;
    if (s.len && !s.data) return FA_PROTO_ERR_INVALID_ARG;
    if (tag_path) {
        const unsigned char *p = (const unsigned char *)s.data;
        for (size_t i = 0; i < s.len; i++)
            if (fa__proto_is_control(p[i])) return FA_PROTO_ERR_BAD_STRING;
    }
    return (int64_t)(FA_PROTO__STRING_HEADER + s.len);
}

/* Checks a row array: count within the cap and rows present if any. */
static int check_rows(const void *rows, uint32_t count, uint32_t cap) {
    if (count > cap) return FA_PROTO_ERR_TOO_MANY_ROWS;
    if (count && !rows) return FA_PROTO_ERR_INVALID_ARG;
    return FA_PROTO_OK;
}

static int64_t measure_tag_defs(const fa_proto_tag_def_t *tags, uint32_t count) {
    int rc = check_rows(tags, count, FA_PROTO_MAX_ROWS);
    if (rc < 0) return rc;
    int64_t size = FA_PROTO__SECTION_HEADER;
    for (uint32_t i = 0; i < count; i++) {
        int64_t s = measure_str(tags[i].path, true);
        if (s < 0) return s;
        size += FA_PROTO_TAG_DEF_ROW_SIZE + s;
    }
    return size;
}

static int64_t measure_site_defs(const fa_proto_site_def_t *sites, uint32_t count) {
    int rc = check_rows(sites, count, FA_PROTO_MAX_ROWS);
    if (rc < 0) return rc;
    int64_t size = FA_PROTO__SECTION_HEADER;
    for (uint32_t i = 0; i < count; i++) {
        int64_t f = measure_str(sites[i].file, false), fn = measure_str(sites[i].function, false);
        if (f < 0) return f;
        if (fn < 0) return fn;
        size += FA_PROTO_SITE_DEF_ROW_SIZE + f + fn;
    }
    return size;
}

static int64_t measure_frame(const fa_proto_frame_t *f) {
    int rc;
    if ((rc = check_rows(f->tags, f->tag_count, FA_PROTO_MAX_ROWS)) < 0) return rc;
    if ((rc = check_rows(f->threads, f->thread_count, FA_PROTO_MAX_ROWS)) < 0) return rc;
    if ((rc = check_rows(f->findings, f->finding_count, FA_PROTO_MAX_ROWS)) < 0) return rc;
    if ((rc = check_rows(f->sites, f->site_count, FA_PROTO_MAX_ROWS)) < 0) return rc;
    return FA_PROTO__FRAME_FIXED + 4 * FA_PROTO__SECTION_HEADER +
           (int64_t)FA_PROTO_KIND_COUNT * FA_PROTO_KIND_ROW_SIZE +
           (int64_t)f->tag_count * FA_PROTO_TAG_STAT_ROW_SIZE +
           (int64_t)f->thread_count * FA_PROTO_THREAD_ROW_SIZE +
           (int64_t)f->finding_count * FA_PROTO_FINDING_ROW_SIZE + FA_PROTO__FRAME_SITES_FIXED +
           FA_PROTO__SECTION_HEADER + (int64_t)f->site_count * FA_PROTO_SITE_ROW_SIZE;
}

/* 1.2: the wire size of a FRAMES entry, or an error; checks the delta
 * rules that need no state (PROTOCOL.md 5.6). */
static int64_t measure_entry(const fa_proto_frame_entry_t *e) {
    int64_t size = measure_frame(&e->frame);
    if (size < 0) return size;
    if (!fa__proto_entry_rows_ok(e->delta, e->tag_rows, e->frame.tags, e->frame.tag_count))
        return FA_PROTO_ERR_BAD_DELTA;
    return FA_PROTO_FRAMES_ENTRY_HEADER + size;
}

static int64_t measure_body(const fa_proto_msg_t *msg) {
    int64_t size = 0, s;
    int rc;
    switch (msg->header.type) {
    case FA_PROTO_HELLO: {
        const fa_proto_hello_t *h = &msg->hello;
        const fa_proto_str_t strs[4] = {h->app_name, h->session_label, h->host, h->build_id};
        size = FA_PROTO__HELLO_FIXED;
        for (int i = 0; i < 4; i++) {
            if ((s = measure_str(strs[i], false)) < 0) return s;
            size += s;
        }
        if ((s = measure_tag_defs(h->tags, h->tag_count)) < 0) return s;
        size += s;
        /* 1.2: the ingest secret, always written (empty when none). */
        if ((s = measure_str(h->ingest_secret, false)) < 0) return s;
        return size + s;
    }
    case FA_PROTO_FRAME:
        return measure_frame(&msg->frame);
    case FA_PROTO_FRAMES: {
        const fa_proto_frames_t *fs = &msg->frames;
        if (fs->count > FA_PROTO_MAX_BATCH) return FA_PROTO_ERR_TOO_MANY_ROWS;
        /* A decoded FRAMES (no list) re-encodes its checked entries' bytes. */
        if (!fs->entries && fs->count)
            return fs->data ? (int64_t)(FA_PROTO__FRAMES_FIXED + fs->size) : FA_PROTO_ERR_INVALID_ARG;
        size = FA_PROTO__FRAMES_FIXED;
        for (uint32_t i = 0; i < fs->count; i++) {
            if ((s = measure_entry(&fs->entries[i])) < 0) return s;
            size += s;
        }
        return size;
    }
    case FA_PROTO_TAGS:
        return measure_tag_defs(msg->tags.tags, msg->tags.tag_count);
    case FA_PROTO_SITES:
        return measure_site_defs(msg->sites.sites, msg->sites.site_count);
    case FA_PROTO_BYE: {
        const fa_proto_bye_t *b = &msg->bye;
        if ((rc = check_rows(b->drops, b->drop_count, FA_PROTO_MAX_DROPS)) < 0) return rc;
        return FA_PROTO__BYE_FIXED + FA_PROTO__SECTION_HEADER +
               (int64_t)b->drop_count * FA_PROTO_DROP_ROW_SIZE;
    }
    }
    return FA_PROTO_ERR_UNKNOWN_TYPE;
}

int fa_proto_encoded_size(const fa_proto_msg_t *msg) {
    if (!msg) return FA_PROTO_ERR_INVALID_ARG;
    int64_t body = measure_body(msg);
    if (body < 0) return (int)body;
    if (msg->header.session_id == 0) return FA_PROTO_ERR_BAD_SESSION;
    if (body > (int64_t)(FA_PROTO_MAX_MESSAGE - FA_PROTO_HEADER_SIZE)) return FA_PROTO_ERR_TOO_LARGE;
    return (int)(FA_PROTO_HEADER_SIZE + body);
}

/* ---- writing: every size was checked by measure_body() ------------------ */

static uint8_t *put_str(uint8_t *p, fa_proto_str_t s) {
    fa__proto_put_u16(p, (uint16_t)s.len);
    if (s.len) memcpy(p + 2, s.data, s.len);
    return p + 2 + s.len;
}

static uint8_t *put_section(uint8_t *p, uint32_t count, uint32_t stride) {
    fa__proto_put_u16(p, (uint16_t)count);
    fa__proto_put_u16(p + 2, (uint16_t)stride);
    return p + FA_PROTO__SECTION_HEADER;
}

static uint8_t *put_tag_defs(uint8_t *p, const fa_proto_tag_def_t *tags, uint32_t count) {
    p = put_section(p, count, FA_PROTO_TAG_DEF_ROW_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        const fa_proto_tag_def_t *t = &tags[i];
        fa__proto_put_u16(p, t->id);
        fa__proto_put_u16(p + 2, t->parent_id);
        fa__proto_put_u64(p + 4, t->budget_soft);
        fa__proto_put_u64(p + 12, t->budget_hard);
        p = put_str(p + FA_PROTO_TAG_DEF_ROW_SIZE, t->path);
    }
    return p;
}

static uint8_t *put_frame(uint8_t *p, const fa_proto_frame_t *f) {
    fa__proto_put_u64(p, f->frame);
    fa__proto_put_u64(p + 8, f->start_ns);
    fa__proto_put_u64(p + 16, f->duration_ns);
    fa__proto_put_u32(p + 24, f->frames_dropped);
    fa__proto_put_u32(p + 28, f->tags_total);
    fa__proto_put_u32(p + 32, f->threads_total);
    fa__proto_put_u32(p + 36, f->findings_dropped);
    const uint64_t retention[13] = {
        f->promotions.promoted_count,  f->promotions.promoted_bytes,  f->promotions.failed_count,
        f->promotions.failed_bytes,    f->promotions.retained_count,  f->promotions.retained_bytes,
        f->promotions.discarded_count, f->promotions.discarded_bytes, f->transfers.created,
        f->transfers.received,         f->transfers.released,         f->transfers.dropped_unreceived,
        f->transfers.in_flight,
    };
    for (int i = 0; i < 13; i++)
        fa__proto_put_u64(p + 40 + 8 * i, retention[i]);
    p += FA_PROTO__FRAME_FIXED;

    p = put_section(p, FA_PROTO_KIND_COUNT, FA_PROTO_KIND_ROW_SIZE);
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++, p += FA_PROTO_KIND_ROW_SIZE) {
        const fa_proto_kind_totals_t *t = &f->totals[k];
        fa__proto_put_u64(p, t->in_use);
        fa__proto_put_u64(p + 8, t->peak);
        fa__proto_put_u64(p + 16, t->alloc_count);
        fa__proto_put_u64(p + 24, t->alloc_bytes);
        fa__proto_put_u64(p + 32, t->free_count);
    }

    p = put_section(p, f->tag_count, FA_PROTO_TAG_STAT_ROW_SIZE);
    for (uint32_t i = 0; i < f->tag_count; i++, p += FA_PROTO_TAG_STAT_ROW_SIZE) {
        const fa_proto_tag_stat_t *t = &f->tags[i];
        fa__proto_put_u16(p, t->id);
        fa__proto_put_u64(p + 2, t->frame_bytes);
        fa__proto_put_u64(p + 10, t->pool_bytes);
        fa__proto_put_u64(p + 18, t->heap_bytes);
        fa__proto_put_u64(p + 26, t->alloc_count);
        fa__proto_put_u64(p + 34, t->live_bytes);
        fa__proto_put_u64(p + 42, t->peak_bytes);
    }

    p = put_section(p, f->thread_count, FA_PROTO_THREAD_ROW_SIZE);
    for (uint32_t i = 0; i < f->thread_count; i++, p += FA_PROTO_THREAD_ROW_SIZE) {
        const fa_proto_thread_row_t *t = &f->threads[i];
        fa__proto_put_u32(p, t->index);
        fa__proto_put_u32(p + 4, t->overflow_chunks);
        fa__proto_put_u64(p + 8, t->frame_used);
        fa__proto_put_u64(p + 16, t->frame_capacity);
        fa__proto_put_u64(p + 24, t->frames);
        p[32] = t->flags;
    }

    p = put_section(p, f->finding_count, FA_PROTO_FINDING_ROW_SIZE);
    for (uint32_t i = 0; i < f->finding_count; i++, p += FA_PROTO_FINDING_ROW_SIZE) {
        const fa_proto_finding_t *t = &f->findings[i];
        fa__proto_put_u16(p, t->code);
        fa__proto_put_u16(p + 2, t->tag_id);
        p[4] = t->kind;
        fa__proto_put_u32(p + 5, t->count);
        fa__proto_put_u64(p + 9, t->value);
    }

    /* 1.1: appended after the last 1.0 section. */
    fa__proto_put_u32(p, f->sites_total);
    p = put_section(p + FA_PROTO__FRAME_SITES_FIXED, f->site_count, FA_PROTO_SITE_ROW_SIZE);
    for (uint32_t i = 0; i < f->site_count; i++, p += FA_PROTO_SITE_ROW_SIZE) {
        const fa_proto_site_row_t *t = &f->sites[i];
        fa__proto_put_u32(p, t->site_id);
        fa__proto_put_u16(p + 4, t->tag_id);
        fa__proto_put_u64(p + 6, t->bytes);
        fa__proto_put_u64(p + 14, t->count);
        fa__proto_put_u64(p + 22, t->live_bytes);
    }
    return p;
}

static uint8_t *put_entry(uint8_t *p, const fa_proto_frame_entry_t *e, size_t size) {
    fa__proto_put_u32(p, (uint32_t)(size - 4));
    p[4] = e->delta ? FA_PROTO__ENTRY_DELTA : 0;
    fa__proto_put_u64(p + 5, e->delta ? e->base_frame : 0);
    fa__proto_put_u32(p + 13, e->tag_rows);
    return put_frame(p + FA_PROTO_FRAMES_ENTRY_HEADER, &e->frame);
}

static uint8_t *put_site_defs(uint8_t *p, const fa_proto_site_def_t *sites, uint32_t count) {
    p = put_section(p, count, FA_PROTO_SITE_DEF_ROW_SIZE);
    for (uint32_t i = 0; i < count; i++) {
        const fa_proto_site_def_t *s = &sites[i];
        fa__proto_put_u32(p, s->id);
        fa__proto_put_u32(p + 4, s->line);
        p[8] = s->kind;
        p = put_str(p + FA_PROTO_SITE_DEF_ROW_SIZE, s->file);
        p = put_str(p, s->function);
    }
    return p;
}

static uint8_t *put_body(uint8_t *p, const fa_proto_msg_t *msg) {
    switch (msg->header.type) {
    case FA_PROTO_HELLO: {
        const fa_proto_hello_t *h = &msg->hello;
        fa__proto_put_u32(p, h->pid);
        fa__proto_put_u32(p + 4, h->lib_version);
        fa__proto_put_u64(p + 8, h->start_unix_ns);
        fa__proto_put_u64(p + 16, h->start_mono_ns);
        p += FA_PROTO__HELLO_FIXED;
        p = put_str(p, h->app_name);
        p = put_str(p, h->session_label);
        p = put_str(p, h->host);
        p = put_str(p, h->build_id);
        p = put_tag_defs(p, h->tags, h->tag_count);
        return put_str(p, h->ingest_secret);
    }
    case FA_PROTO_FRAME:
        return put_frame(p, &msg->frame);
    case FA_PROTO_FRAMES:
        fa__proto_put_u16(p, (uint16_t)msg->frames.count);
        p += FA_PROTO__FRAMES_FIXED;
        if (!msg->frames.entries) {
            if (msg->frames.size) memcpy(p, msg->frames.data, msg->frames.size);
            return p + msg->frames.size;
        }
        for (uint32_t i = 0; i < msg->frames.count; i++)
            p = put_entry(p, &msg->frames.entries[i], (size_t)measure_entry(&msg->frames.entries[i]));
        return p;
    case FA_PROTO_TAGS:
        return put_tag_defs(p, msg->tags.tags, msg->tags.tag_count);
    case FA_PROTO_SITES:
        return put_site_defs(p, msg->sites.sites, msg->sites.site_count);
    case FA_PROTO_BYE: {
        const fa_proto_bye_t *b = &msg->bye;
        fa__proto_put_u64(p, b->frames_sent);
        fa__proto_put_u64(p + 8, b->frames_dropped);
        p = put_section(p + FA_PROTO__BYE_FIXED, b->drop_count, FA_PROTO_DROP_ROW_SIZE);
        for (uint32_t i = 0; i < b->drop_count; i++, p += FA_PROTO_DROP_ROW_SIZE) {
            fa__proto_put_u16(p, b->drops[i].reason);
            fa__proto_put_u64(p + 2, b->drops[i].count);
        }
        return p;
    }
    }
    return p; /* unreachable: measure_body() rejected other types */
}

static void put_header(uint8_t *p, const fa_proto_header_t *h, uint32_t body_len) {
    p[FA_PROTO__OFF_MAGIC + 0] = FA_PROTO_MAGIC_0;
    p[FA_PROTO__OFF_MAGIC + 1] = FA_PROTO_MAGIC_1;
    p[FA_PROTO__OFF_MAGIC + 2] = FA_PROTO_MAGIC_2;
    p[FA_PROTO__OFF_MAGIC + 3] = FA_PROTO_MAGIC_3;
    p[FA_PROTO__OFF_MAJOR] = FA_PROTO_VERSION_MAJOR;
    p[FA_PROTO__OFF_MINOR] = FA_PROTO_VERSION_MINOR;
    p[FA_PROTO__OFF_TYPE] = h->type;
    p[FA_PROTO__OFF_FLAGS] = h->flags;
    fa__proto_put_u32(p + FA_PROTO__OFF_BODY_LEN, body_len);
    fa__proto_put_u64(p + FA_PROTO__OFF_SESSION, h->session_id);
    fa__proto_put_u64(p + FA_PROTO__OFF_SEQ, h->seq);
}

int fa_proto_encode(const fa_proto_msg_t *msg, void *buf, size_t cap) {
    int size = fa_proto_encoded_size(msg);
    if (size < 0) return size;
    if (!buf || cap < (size_t)size) return FA_PROTO_ERR_BUFFER_SMALL;

    uint8_t *p = buf;
    put_header(p, &msg->header, (uint32_t)size - FA_PROTO_HEADER_SIZE);
    uint8_t *end = put_body(p + FA_PROTO_HEADER_SIZE, msg);
    (void)end; /* end - p == size, pinned by the tests */
    return size;
}

/* ---- 1.2: FRAMES built entry by entry ---------------------------------- */

int fa_proto_batch_init(fa_proto_batch_t *b, void *buf, size_t cap) {
    if (!b || !buf) return FA_PROTO_ERR_INVALID_ARG;
    if (cap < FA_PROTO_HEADER_SIZE + FA_PROTO__FRAMES_FIXED) return FA_PROTO_ERR_BUFFER_SMALL;
    *b = (fa_proto_batch_t){buf, cap, FA_PROTO_HEADER_SIZE + FA_PROTO__FRAMES_FIXED, 0};
    return FA_PROTO_OK;
}

int fa_proto_batch_add(fa_proto_batch_t *b, const fa_proto_frame_entry_t *e) {
    if (!b || !b->buf || !e) return FA_PROTO_ERR_INVALID_ARG;
    int64_t size = measure_entry(e);
    if (size < 0) return (int)size;
    if (b->count >= FA_PROTO_MAX_BATCH) return FA_PROTO_ERR_TOO_MANY_ROWS;
    if (b->len + (size_t)size > FA_PROTO_MAX_MESSAGE) return FA_PROTO_ERR_TOO_LARGE;
    if (b->len + (size_t)size > b->cap) return FA_PROTO_ERR_BUFFER_SMALL;
    (void)put_entry(b->buf + b->len, e, (size_t)size);
    b->len += (size_t)size;
    b->count++;
    return FA_PROTO_OK;
}

int fa_proto_batch_finish(fa_proto_batch_t *b, const fa_proto_header_t *header) {
    if (!b || !b->buf || !header) return FA_PROTO_ERR_INVALID_ARG;
    if (header->session_id == 0) return FA_PROTO_ERR_BAD_SESSION;
    fa_proto_header_t h = *header;
    h.type = FA_PROTO_FRAMES;
    put_header(b->buf, &h, (uint32_t)(b->len - FA_PROTO_HEADER_SIZE));
    fa__proto_put_u16(b->buf + FA_PROTO_HEADER_SIZE, (uint16_t)b->count);
    return (int)b->len;
}
