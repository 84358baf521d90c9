/*
 * fixtures.c — known messages for the golden vectors. Values are chosen so
 * that every byte of a field differs (0x0102030405060708 style), which makes
 * a wrong byte order or offset show up in the goldens.
 */
#include "fixtures.h"

#include "fa_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG_TAGS 300
#define BIG_THREADS 12
#define BIG_FINDINGS 24

static const fa_proto_tag_def_t hello_tags[] = {
    {0, 0, 0, 0, {"", 0}},
    {1, 0, 0x0000000000400000u, 0x0000000000800000u, {"physics", 7}},
    {2, 1, 0, 0x0000000000100000u, {"physics/contacts", 16}},
    {3, 0, 0x0102030405060708u, 0x1112131415161718u, {"render", 6}},
    {4, 3, 0, 0, {"render/cmd.buffers-2", 20}},
};

static const fa_proto_tag_def_t tags_added[] = {
    {5, 0, 0, 0, {"audio", 5}},
    {6, 5, 1000, 2000, {"audio/voices", 12}},
    {1, 0, 0x0000000000500000u, 0x0000000000A00000u, {"physics", 7}}, /* a budget change */
};

static const fa_proto_tag_stat_t frame_tags[] = {
    {0, 0, 4096, 0, 3, 0x00000000001F0000u, 0x0000000000200000u},
    {1, 0x1020304050607080u, 0x0102030405060708u, 0x1112131415161718u, 0x2122232425262728u,
     0x3132333435363738u, 0x4142434445464748u},
    {65535, 1, 2, 3, 4, 5, 6},
};

static const fa_proto_thread_row_t frame_threads[] = {
    {0, 0, 0x0000000000012345u, 0x0000000000100000u, 1000, FA_PROTO_THREAD_IN_FRAME},
    {7, 3, 0x0807060504030201u, 0x1817161514131211u, 0xFFFFFFFFFFFFFFFFu, 0x80},
};

static const fa_proto_finding_t frame_findings[] = {
    {1, 2, FA_PROTO_KIND_POOL, 17, 0x0000000000004000u},
    {0xFFFF, 65535, 0xFF, 0xFFFFFFFFu, 0xFFFFFFFFFFFFFFFFu},
};

/* 1.1: a dictionary of call sites (the unknown pool site, a long path's
 * tail, a C++ function name with spaces and a non-ASCII byte) and a FRAME's
 * rows over them, with each tag's "other" row. */
static const fa_proto_site_def_t site_defs[] = {
    {2, 0, FA_PROTO_KIND_POOL, {"", 0}, {"unknown", 7}},
    {4, 120, FA_PROTO_KIND_FRAME, {"src/physics/broadphase.c", 24}, {"collide_pairs", 13}},
    {5, 0xFFFFFFFFu, FA_PROTO_KIND_HEAP, {"game/ai/path \xc3\xa9.cpp", 19}, {"void ai::plan(int)", 18}},
    {0x00012345u, 7, 0xFF, {"x", 1}, {"", 0}},
};

static const fa_proto_site_row_t site_rows[] = {
    {4, 1, 0x0000000000030000u, 3000, 0x0000000000030000u},
    {5, 1, 5000, 1, 0x0102030405060708u},
    {2, 3, 0, 0, 4096},
    {0, 1, 100, 7, 100}, /* physics' other sites */
    {0, 65535, 0xFFFFFFFFFFFFFFFFu, 0xFFFFFFFFFFFFFFFFu, 0xFFFFFFFFFFFFFFFFu},
};

static const fa_proto_drop_t bye_drops[] = {
    {FA_PROTO_DROP_RING_FULL, 12},
    {FA_PROTO_DROP_SEND_FAILED, 0x0102030405060708u},
    {FA_PROTO_DROP_DISCONNECTED, 3},
    {999, 1}, /* a reason this version does not know is carried as is */
};

/* 1.2: a FRAMES of three frames: a key with frame_tags' three rows, a
 * delta that changes one of them and a delta that changes none. */
static const fa_proto_tag_stat_t delta_tags[] = {
    {1, 0x1020304050607081u, 0x0102030405060708u, 0x1112131415161718u, 0x2122232425262728u,
     0x3132333435363739u, 0x4142434445464748u},
};
static fa_proto_frame_entry_t batch_entries[3];

static fa_proto_tag_stat_t big_tags[BIG_TAGS];
static fa_proto_thread_row_t big_threads[BIG_THREADS];
static fa_proto_finding_t big_findings[BIG_FINDINGS];

enum {
    FX_HELLO,
    FX_HELLO_EMPTY,
    FX_FRAME,
    FX_FRAME_EMPTY,
    FX_FRAME_BIG,
    FX_TAGS,
    FX_TAGS_EMPTY,
    FX_SITES,
    FX_FRAME_SITES,
    FX_BYE,
    FX_FRAMES,
    FX_COUNT
};

static const char *const names[FX_COUNT] = {
    "hello",      "hello_empty", "frame",       "frame_empty", "frame_big", "tags",
    "tags_empty", "sites",       "frame_sites", "bye",         "frames",
};

static fa_proto_msg_t msgs[FX_COUNT];
static bool built;

static fa_proto_header_t header(uint8_t type, uint64_t seq) {
    fa_proto_header_t h = {0};
    h.type = type;
    h.session_id = 0xC0FFEE0123456789u;
    h.seq = seq;
    return h;
}

static void build(void) {
    fa_proto_msg_t *m;

    m = &msgs[FX_HELLO];
    m->header = header(FA_PROTO_HELLO, 0);
    m->hello.pid = 4242;
    m->hello.lib_version = 0x000100;
    m->hello.start_unix_ns = 1700000000123456789u;
    m->hello.start_mono_ns = 0x0000001234567890u;
    m->hello.app_name = fa_proto_str("fa-demo");
    m->hello.session_label = fa_proto_str("level 3, \"night\"");
    m->hello.host = fa_proto_str("build-box.local");
    m->hello.build_id = fa_proto_str("0.1.0-g3952aac");
    m->hello.tags = hello_tags;
    m->hello.tag_count = sizeof hello_tags / sizeof hello_tags[0];
    m->hello.ingest_secret = fa_proto_str("fleet secret: 5f3a9c-\x01-\xc3\xa9"); /* 1.2; any bytes */

    /* Empty strings and no tags at all: the smallest HELLO. */
    m = &msgs[FX_HELLO_EMPTY];
    m->header = header(FA_PROTO_HELLO, 0);
    m->header.session_id = 1;
    m->hello.pid = 1;

    m = &msgs[FX_FRAME];
    m->header = header(FA_PROTO_FRAME, 1);
    m->frame.frame = 1;
    m->frame.start_ns = 0x0000001234567890u + 16666666u;
    m->frame.duration_ns = 16666666u;
    m->frame.frames_dropped = 2;
    m->frame.tags_total = 7;
    m->frame.threads_total = 3;
    m->frame.findings_dropped = 1;
    m->frame.promotions =
        (fa_proto_promotions_t){0x0101, 0x0202, 0x0303, 0x0404, 0x0505, 0x0606, 0x0707, 0x0808};
    m->frame.transfers = (fa_proto_transfers_t){0x1111, 0x2222, 0x3333, 0x4444, 0x0102030405060708u};
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        uint64_t b = (uint64_t)(k + 1) << 56;
        m->frame.totals[k] = (fa_proto_kind_totals_t){b | 1, b | 2, b | 3, b | 4, b | 5};
    }
    m->frame.tags = frame_tags;
    m->frame.tag_count = sizeof frame_tags / sizeof frame_tags[0];
    m->frame.threads = frame_threads;
    m->frame.thread_count = sizeof frame_threads / sizeof frame_threads[0];
    m->frame.findings = frame_findings;
    m->frame.finding_count = sizeof frame_findings / sizeof frame_findings[0];

    m = &msgs[FX_FRAME_EMPTY];
    m->header = header(FA_PROTO_FRAME, 2);
    m->header.flags = 0;
    m->frame.frame = 0xFFFFFFFFFFFFFFFFu;

    /* A big FRAME: many rows with values derived from their index. */
    for (uint32_t i = 0; i < BIG_TAGS; i++) {
        uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15u;
        big_tags[i] = (fa_proto_tag_stat_t){(uint16_t)(i * 7), x, x >> 8, x >> 16, i, x >> 3, x >> 2};
    }
    for (uint32_t i = 0; i < BIG_THREADS; i++)
        big_threads[i] = (fa_proto_thread_row_t){
            i, i % 3, (uint64_t)i << 20, (uint64_t)(i + 1) << 21, 1000u + i, (uint8_t)(i & 1)};
    for (uint32_t i = 0; i < BIG_FINDINGS; i++)
        big_findings[i] = (fa_proto_finding_t){(uint16_t)(1 + i % 6), (uint16_t)(i * 7), (uint8_t)(i % 3),
                                               i + 1, (uint64_t)i << 33};
    m = &msgs[FX_FRAME_BIG];
    m->header = header(FA_PROTO_FRAME, 0x0102030405060708u);
    m->frame.frame = 123456789;
    m->frame.start_ns = 987654321000u;
    m->frame.duration_ns = 33333333u;
    m->frame.tags_total = BIG_TAGS + 5;
    m->frame.threads_total = BIG_THREADS;
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++)
        m->frame.totals[k] = (fa_proto_kind_totals_t){1000u * (k + 1), 2000u * (k + 1), 30u + k, 4000u, 5u};
    m->frame.tags = big_tags;
    m->frame.tag_count = BIG_TAGS;
    m->frame.threads = big_threads;
    m->frame.thread_count = BIG_THREADS;
    m->frame.findings = big_findings;
    m->frame.finding_count = BIG_FINDINGS;

    m = &msgs[FX_TAGS];
    m->header = header(FA_PROTO_TAGS, 3);
    m->tags.tags = tags_added;
    m->tags.tag_count = sizeof tags_added / sizeof tags_added[0];

    m = &msgs[FX_TAGS_EMPTY];
    m->header = header(FA_PROTO_TAGS, 4);

    m = &msgs[FX_SITES];
    m->header = header(FA_PROTO_SITES, 8);
    m->sites.sites = site_defs;
    m->sites.site_count = sizeof site_defs / sizeof site_defs[0];

    m = &msgs[FX_FRAME_SITES];
    m->header = header(FA_PROTO_FRAME, 9);
    m->frame.frame = 2;
    m->frame.start_ns = 0x0000001234567890u + 2 * 16666666u;
    m->frame.duration_ns = 16666666u;
    m->frame.tags_total = 7;
    m->frame.threads_total = 1;
    m->frame.tags = frame_tags;
    m->frame.tag_count = 2;
    m->frame.sites_total = 9;
    m->frame.sites = site_rows;
    m->frame.site_count = sizeof site_rows / sizeof site_rows[0];

    m = &msgs[FX_FRAMES];
    m->header = header(FA_PROTO_FRAMES, 10);
    for (int k = 0; k < 3; k++) {
        fa_proto_frame_entry_t *e = &batch_entries[k];
        e->frame.frame = 3 + (uint64_t)k;
        e->frame.start_ns = 0x0000001234567890u + (3u + (uint64_t)k) * 16666666u;
        e->frame.duration_ns = 16666666u - (uint64_t)k;
        e->frame.frames_dropped = (uint32_t)k;
        e->frame.tags_total = 3;
        e->frame.threads_total = 2;
        e->frame.totals[FA_PROTO_KIND_POOL] = (fa_proto_kind_totals_t){0x0102u + k, 0x0304u, 5, 6, 7};
        e->frame.threads = frame_threads;
        e->frame.thread_count = 1;
        e->tag_rows = 3;
        e->delta = k > 0;
        e->base_frame = k > 0 ? 2 + (uint64_t)k : 0;
    }
    batch_entries[0].frame.tags = frame_tags;
    batch_entries[0].frame.tag_count = 3;
    batch_entries[0].frame.findings = frame_findings;
    batch_entries[0].frame.finding_count = 1;
    batch_entries[1].frame.tags = delta_tags;
    batch_entries[1].frame.tag_count = 1;
    batch_entries[2].frame.sites_total = 1;
    batch_entries[2].frame.sites = site_rows + 4; /* ends in 0xFF bytes: not a zero tail (§10.3) */
    batch_entries[2].frame.site_count = 1;
    m->frames.entries = batch_entries;
    m->frames.count = 3;

    m = &msgs[FX_BYE];
    m->header = header(FA_PROTO_BYE, 5);
    m->bye.frames_sent = 1234;
    m->bye.frames_dropped = 15;
    m->bye.drops = bye_drops;
    m->bye.drop_count = sizeof bye_drops / sizeof bye_drops[0];

    built = true;
}

size_t proto_fixture_count(void) {
    return FX_COUNT;
}

const char *proto_fixture_name(size_t i) {
    return i < FX_COUNT ? names[i] : NULL;
}

const fa_proto_msg_t *proto_fixture_msg(size_t i) {
    if (!built) build();
    return i < FX_COUNT ? &msgs[i] : NULL;
}

/* ---- comparison --------------------------------------------------------- */

#define DIFF(...)                                                                                            \
    do {                                                                                                     \
        if (why_cap) snprintf(why, why_cap, __VA_ARGS__);                                                    \
        return false;                                                                                        \
    } while (0)

#define SAME(field)                                                                                          \
    if ((a)->field != (b)->field)                                                                            \
    DIFF("%s: %llu != %llu", #field, (unsigned long long)(a)->field, (unsigned long long)(b)->field)

static bool str_equal(fa_proto_str_t x, fa_proto_str_t y) {
    return x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
}

static bool tag_defs_equal(const fa_proto_tag_def_t *ta, const fa_proto_tag_def_t *tb, uint32_t n, char *why,
                           size_t why_cap) {
    for (uint32_t i = 0; i < n; i++) {
        const fa_proto_tag_def_t *a = &ta[i], *b = &tb[i];
        SAME(id);
        SAME(parent_id);
        SAME(budget_soft);
        SAME(budget_hard);
        if (!str_equal(a->path, b->path)) DIFF("tag def %u: path differs", i);
    }
    return true;
}

static bool frame_equal(const fa_proto_frame_t *fa, const fa_proto_frame_t *fb, char *why, size_t why_cap) {
    {
        const fa_proto_frame_t *a = fa, *b = fb;
        SAME(frame);
        SAME(start_ns);
        SAME(duration_ns);
        SAME(frames_dropped);
        SAME(tags_total);
        SAME(threads_total);
        SAME(findings_dropped);
        SAME(promotions.promoted_count);
        SAME(promotions.promoted_bytes);
        SAME(promotions.failed_count);
        SAME(promotions.failed_bytes);
        SAME(promotions.retained_count);
        SAME(promotions.retained_bytes);
        SAME(promotions.discarded_count);
        SAME(promotions.discarded_bytes);
        SAME(transfers.created);
        SAME(transfers.received);
        SAME(transfers.released);
        SAME(transfers.dropped_unreceived);
        SAME(transfers.in_flight);
        SAME(tag_count);
        SAME(thread_count);
        SAME(finding_count);
        SAME(sites_total);
        SAME(site_count);
    }
    for (int k = 0; k < FA_PROTO_KIND_COUNT; k++) {
        const fa_proto_kind_totals_t *a = &fa->totals[k], *b = &fb->totals[k];
        SAME(in_use);
        SAME(peak);
        SAME(alloc_count);
        SAME(alloc_bytes);
        SAME(free_count);
    }
    for (uint32_t i = 0; i < fa->tag_count; i++) {
        const fa_proto_tag_stat_t *a = &fa->tags[i], *b = &fb->tags[i];
        SAME(id);
        SAME(frame_bytes);
        SAME(pool_bytes);
        SAME(heap_bytes);
        SAME(alloc_count);
        SAME(live_bytes);
        SAME(peak_bytes);
    }
    for (uint32_t i = 0; i < fa->thread_count; i++) {
        const fa_proto_thread_row_t *a = &fa->threads[i], *b = &fb->threads[i];
        SAME(index);
        SAME(overflow_chunks);
        SAME(frame_used);
        SAME(frame_capacity);
        SAME(frames);
        SAME(flags);
    }
    for (uint32_t i = 0; i < fa->finding_count; i++) {
        const fa_proto_finding_t *a = &fa->findings[i], *b = &fb->findings[i];
        SAME(code);
        SAME(tag_id);
        SAME(kind);
        SAME(count);
        SAME(value);
    }
    for (uint32_t i = 0; i < fa->site_count; i++) {
        const fa_proto_site_row_t *a = &fa->sites[i], *b = &fb->sites[i];
        SAME(site_id);
        SAME(tag_id);
        SAME(bytes);
        SAME(count);
        SAME(live_bytes);
    }
    return true;
}

/* 1.2: the entries of a FRAMES, from its list (encoding) or its bytes
 * (decoded), into e[0..n); each decoded entry's rows in space i. */
static fa_proto_space_t entry_space[2][3];
static uint32_t frames_entries(const fa_proto_frames_t *fs, int side, fa_proto_frame_entry_t *e,
                               uint32_t cap) {
    if (fs->entries) {
        for (uint32_t i = 0; i < fs->count && i < cap; i++)
            e[i] = fs->entries[i];
        return fs->count;
    }
    size_t offset = 0;
    uint32_t n = 0;
    for (; n < cap; n++) {
        fa_proto_storage_t st = fa_proto_storage_of(&entry_space[side][n]);
        if (fa_proto_frames_next(fs, &offset, &e[n], &st) != 1) break;
    }
    return n;
}

static bool frames_equal(const fa_proto_frames_t *a, const fa_proto_frames_t *b, char *why, size_t why_cap) {
    SAME(count);
    if (a->count > 3) {
        /* Beyond the fixtures' size: compare the bytes (both decoded). */
        if (!a->data || !b->data || a->size != b->size || memcmp(a->data, b->data, a->size) != 0)
            DIFF("FRAMES entries differ");
        return true;
    }
    fa_proto_frame_entry_t ea[3], eb[3];
    if (frames_entries(a, 0, ea, 3) != a->count || frames_entries(b, 1, eb, 3) != b->count)
        DIFF("FRAMES entries unreadable");
    for (uint32_t i = 0; i < a->count; i++) {
        if (ea[i].delta != eb[i].delta || ea[i].base_frame != eb[i].base_frame ||
            ea[i].tag_rows != eb[i].tag_rows)
            DIFF("entry %u: delta, base or tag_rows differ", i);
        if (!frame_equal(&ea[i].frame, &eb[i].frame, why, why_cap)) return false;
    }
    return true;
}

bool proto_msg_equal(const fa_proto_msg_t *ma, const fa_proto_msg_t *mb, char *why, size_t why_cap) {
    {
        const fa_proto_header_t *a = &ma->header, *b = &mb->header;
        SAME(type);
        SAME(flags);
        SAME(session_id);
        SAME(seq);
    }
    switch (ma->header.type) {
    case FA_PROTO_HELLO: {
        const fa_proto_hello_t *a = &ma->hello, *b = &mb->hello;
        SAME(pid);
        SAME(lib_version);
        SAME(start_unix_ns);
        SAME(start_mono_ns);
        if (!str_equal(a->app_name, b->app_name)) DIFF("app_name differs");
        if (!str_equal(a->session_label, b->session_label)) DIFF("session_label differs");
        if (!str_equal(a->host, b->host)) DIFF("host differs");
        if (!str_equal(a->build_id, b->build_id)) DIFF("build_id differs");
        if (!str_equal(a->ingest_secret, b->ingest_secret)) DIFF("ingest_secret differs");
        SAME(tag_count);
        return tag_defs_equal(a->tags, b->tags, a->tag_count, why, why_cap);
    }
    case FA_PROTO_TAGS: {
        const fa_proto_tags_t *a = &ma->tags, *b = &mb->tags;
        SAME(tag_count);
        return tag_defs_equal(a->tags, b->tags, a->tag_count, why, why_cap);
    }
    case FA_PROTO_FRAME:
        return frame_equal(&ma->frame, &mb->frame, why, why_cap);
    case FA_PROTO_FRAMES:
        return frames_equal(&ma->frames, &mb->frames, why, why_cap);
    case FA_PROTO_SITES: {
        const fa_proto_sites_t *sa = &ma->sites, *sb = &mb->sites;
        {
            const fa_proto_sites_t *a = sa, *b = sb;
            SAME(site_count);
        }
        for (uint32_t i = 0; i < sa->site_count; i++) {
            const fa_proto_site_def_t *a = &sa->sites[i], *b = &sb->sites[i];
            SAME(id);
            SAME(line);
            SAME(kind);
            if (!str_equal(a->file, b->file)) DIFF("site %u: file differs", i);
            if (!str_equal(a->function, b->function)) DIFF("site %u: function differs", i);
        }
        return true;
    }
    case FA_PROTO_BYE: {
        const fa_proto_bye_t *a = &ma->bye, *b = &mb->bye;
        SAME(frames_sent);
        SAME(frames_dropped);
        SAME(drop_count);
        for (uint32_t i = 0; i < a->drop_count; i++) {
            const fa_proto_drop_t *ra = &a->drops[i], *rb = &b->drops[i];
            if (ra->reason != rb->reason || ra->count != rb->count) DIFF("drop %u differs", i);
        }
        return true;
    }
    }
    return true; /* other types carry nothing beyond the header */
}

/* ---- files --------------------------------------------------------------- */

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long proto_hex_parse(const char *text, unsigned char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = text; *p;) {
        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
        } else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
        } else {
            int hi = hex_value((unsigned char)p[0]), lo = hi < 0 ? -1 : hex_value((unsigned char)p[1]);
            if (hi < 0 || lo < 0 || n == cap) return -1;
            out[n++] = (unsigned char)(hi << 4 | lo);
            p += 2;
        }
    }
    return (long)n;
}

char *proto_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t size = 0, cap = 0;
    for (;;) {
        if (cap - size < 4096) {
            char *grown = realloc(buf, cap = cap * 2 + 8192);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t got = fread(buf + size, 1, cap - size - 1, f);
        size += got;
        if (got == 0) break;
    }
    fclose(f);
    buf[size] = '\0';
    *len = size;
    return buf;
}

long proto_fixture_capture(unsigned char *out, size_t cap, size_t *starts) {
    int n = fa_capture_header_encode(out, cap);
    if (n < 0) return -1;
    size_t len = (size_t)n;
    for (size_t i = 0; i < FX_COUNT; i++) {
        int m = fa_proto_encode(proto_fixture_msg(i), out + len, cap - len);
        if (m < 0) return -1;
        if (starts) starts[i] = len;
        len += (size_t)m;
    }
    return (long)len;
}

unsigned char *proto_load_hex(const char *dir, const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.hex", dir, name);
    size_t text_len;
    char *text = proto_read_file(path, &text_len);
    if (!text) return NULL;
    unsigned char *bytes = malloc(text_len / 2 + 1);
    long n = bytes ? proto_hex_parse(text, bytes, text_len / 2 + 1) : -1;
    free(text);
    if (n < 0) {
        free(bytes);
        return NULL;
    }
    *len = (size_t)n;
    return bytes;
}
