/*
 * test_proto.c — the wire format: golden vectors both ways, every decode
 * error, forward-compatibility rules, encoder validation, and a seeded
 * mutation run over the goldens.
 */
#include "fa_proto.h"
#include "fixtures.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------- */

static fa_proto_space_t space; /* ~600 KiB: static, never on the stack */
static unsigned char out_buf[FA_PROTO_MAX_MESSAGE];

static const char *golden_dir(void) {
    const char *d = getenv("FA_PROTO_GOLDEN_DIR");
    return d && *d ? d : "tests/proto/golden";
}

/* Loads fixture i's golden bytes into a malloc'd buffer. */
static unsigned char *load_golden(size_t i, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.hex", golden_dir(), proto_fixture_name(i));
    size_t text_len;
    char *text = proto_read_file(path, &text_len);
    cr_assert(text, "cannot read %s (run the tests from the top directory)", path);
    unsigned char *bytes = malloc(text_len / 2 + 1);
    long n = proto_hex_parse(text, bytes, text_len / 2 + 1);
    free(text);
    cr_assert(n >= 0, "%s: bad hex", path);
    *len = (size_t)n;
    return bytes;
}

static fa_proto_storage_t full_storage(void) {
    return fa_proto_storage_of(&space);
}

/* A tiny byte writer for hand-made messages: the body is written first,
 * then finish() puts the header in front. */
typedef struct wbuf {
    unsigned char b[8192];
    size_t n;
} wbuf_t;

static void w_u8(wbuf_t *w, unsigned v) {
    w->b[w->n++] = (unsigned char)v;
}
static void w_u16(wbuf_t *w, unsigned v) {
    w_u8(w, v & 0xFF);
    w_u8(w, (v >> 8) & 0xFF);
}
static void w_u32(wbuf_t *w, uint32_t v) {
    for (int i = 0; i < 4; i++)
        w_u8(w, (v >> (8 * i)) & 0xFF);
}
static void w_u64(wbuf_t *w, uint64_t v) {
    for (int i = 0; i < 8; i++)
        w_u8(w, (unsigned)(v >> (8 * i)) & 0xFF);
}
static void w_bytes(wbuf_t *w, const void *p, size_t n) {
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void w_str(wbuf_t *w, const char *s, size_t len) {
    w_u16(w, (unsigned)len);
    w_bytes(w, s, len);
}

/* Builds header + body into msg[] and returns the total length. */
static size_t finish(unsigned char *msg, const wbuf_t *body, unsigned type) {
    wbuf_t h = {.n = 0};
    w_bytes(&h, "FAPM", 4);
    w_u8(&h, FA_PROTO_VERSION_MAJOR);
    w_u8(&h, FA_PROTO_VERSION_MINOR);
    w_u8(&h, type);
    w_u8(&h, 0);
    w_u32(&h, (uint32_t)body->n);
    w_u64(&h, 77);
    w_u64(&h, 9);
    memcpy(msg, h.b, h.n);
    memcpy(msg + h.n, body->b, body->n);
    return h.n + body->n;
}

static int decode(const void *buf, size_t len, fa_proto_msg_t *m) {
    fa_proto_storage_t st = full_storage();
    return fa_proto_decode(buf, len, m, &st);
}

static void put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

#define cr_assert_err(got, want)                                                                             \
    do {                                                                                                     \
        int got_ = (got), want_ = (want);                                                                    \
        cr_assert_eq(got_, want_, "%s:%d: got %s, want %s", __FILE__, __LINE__, fa_proto_err_name(got_),     \
                     fa_proto_err_name(want_));                                                              \
    } while (0)

/* ---- golden vectors ------------------------------------------------------- */

Test(golden, encode_of_each_fixture_equals_its_golden_bytes) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *golden = load_golden(i, &len);
        int n = fa_proto_encode(proto_fixture_msg(i), out_buf, sizeof out_buf);
        cr_assert_eq(n, (int)len, "%s: encoded %d bytes, golden has %zu (%s)", proto_fixture_name(i), n, len,
                     fa_proto_err_name(n));
        for (size_t k = 0; k < len; k++)
            cr_assert_eq(out_buf[k], golden[k], "%s: byte %zu is %02x, golden %02x", proto_fixture_name(i), k,
                         out_buf[k], golden[k]);
        free(golden);
    }
}

Test(golden, decode_of_each_golden_equals_its_fixture) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *golden = load_golden(i, &len);
        fa_proto_msg_t m;
        cr_assert_err(decode(golden, len, &m), FA_PROTO_OK);
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, proto_fixture_msg(i), why, sizeof why), "%s: %s", proto_fixture_name(i),
                  why);
        cr_assert_eq(m.header.version_major, FA_PROTO_VERSION_MAJOR);
        cr_assert_eq(m.header.version_minor, FA_PROTO_VERSION_MINOR);
        cr_assert_eq(m.header.body_len, len - FA_PROTO_HEADER_SIZE);
        free(golden);
    }
}

Test(golden, goldens_cover_every_message_type_and_an_empty_tag_dictionary) {
    int seen[FA_PROTO_FRAMES + 1] = {0}, empty_hello = 0, empty_tags = 0, big = 0, site_rows = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *m = proto_fixture_msg(i);
        cr_assert(m->header.type >= FA_PROTO_HELLO && m->header.type <= FA_PROTO_FRAMES);
        seen[m->header.type]++;
        if (m->header.type == FA_PROTO_HELLO && m->hello.tag_count == 0) empty_hello++;
        if (m->header.type == FA_PROTO_TAGS && m->tags.tag_count == 0) empty_tags++;
        if (m->header.type == FA_PROTO_FRAME && m->frame.site_count) site_rows++;
        if (fa_proto_encoded_size(m) > 8192) big++;
    }
    for (int t = FA_PROTO_HELLO; t <= FA_PROTO_FRAMES; t++)
        cr_assert(seen[t] > 0, "no golden of type %d", t);
    cr_assert(empty_hello && empty_tags && big && site_rows);
}

Test(golden, seed_corpus_files_equal_the_goldens) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len, bin_len;
        unsigned char *golden = load_golden(i, &len);
        char path[1024];
        snprintf(path, sizeof path, "fuzz/corpus/decode/%s.bin", proto_fixture_name(i));
        char *bin = proto_read_file(path, &bin_len);
        cr_assert(bin, "cannot read %s", path);
        cr_assert(bin_len == len && memcmp(bin, golden, len) == 0, "%s differs from its golden", path);
        free(bin);
        free(golden);
    }
}

Test(encode, encoded_size_equals_the_bytes_written) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *m = proto_fixture_msg(i);
        cr_assert_eq(fa_proto_encoded_size(m), fa_proto_encode(m, out_buf, sizeof out_buf));
    }
}

Test(encode, frame_size_macro_equals_the_encoded_size) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *m = proto_fixture_msg(i);
        if (m->header.type != FA_PROTO_FRAME) continue;
        cr_assert_eq((unsigned)fa_proto_encoded_size(m), FA_PROTO_FRAME_SIZE(m->frame.tag_count, m->frame.thread_count,
                                                                             m->frame.finding_count, m->frame.site_count));
    }
}

/* ---- header errors ------------------------------------------------------- */

Test(decode, truncation_at_every_offset_of_every_golden_is_an_error) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *golden = load_golden(i, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* A fresh allocation of exactly `cut` bytes, so that ASan catches
             * any read past the end. */
            unsigned char *part = malloc(cut ? cut : 1);
            memcpy(part, golden, cut);
            fa_proto_msg_t m;
            int rc = decode(part, cut, &m);
            cr_assert_err(rc, FA_PROTO_ERR_TRUNCATED);
            free(part);
        }
        free(golden);
    }
}

/* Where a 1.0 FRAME of the same rows would end (its 1.1 part follows). */
static size_t frame_v1_0_end(const fa_proto_frame_t *f) {
    return FA_PROTO_FRAME_SIZE(f->tag_count, f->thread_count, f->finding_count, f->site_count) - 8u -
           f->site_count * FA_PROTO_SITE_ROW_SIZE;
}

/* Where a 1.1 HELLO of the same fields would end (its 1.2 secret follows). */
static size_t hello_v1_1_end(const fa_proto_hello_t *h, size_t len) {
    return len - 2u - h->ingest_secret.len;
}

/* The fixture as a reader of an older minor version sees it. */
static fa_proto_msg_t without_secret(const fa_proto_msg_t *fx) {
    fa_proto_msg_t m = *fx;
    if (m.header.type == FA_PROTO_HELLO) m.hello.ingest_secret = (fa_proto_str_t){NULL, 0};
    return m;
}

Test(decode, body_shorter_than_its_fields_is_short_body_at_every_offset) {
    /* Cut the body but fix body_len to match: the framing is now fine and
     * the body ends inside a field. Only the exact end may decode, and, for
     * a FRAME, the end of its 1.0 part: a 1.0 FRAME, without sites. */
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *golden = load_golden(i, &len);
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        for (size_t cut = FA_PROTO_HEADER_SIZE; cut < len; cut++) {
            unsigned char *part = malloc(cut);
            memcpy(part, golden, cut);
            put_le32(part + 8, (uint32_t)(cut - FA_PROTO_HEADER_SIZE));
            fa_proto_msg_t m;
            if (fx->header.type == FA_PROTO_FRAME && cut == frame_v1_0_end(&fx->frame)) {
                cr_assert_err(decode(part, cut, &m), FA_PROTO_OK);
                cr_assert(m.frame.site_count == 0 && m.frame.sites == NULL && m.frame.sites_total == 0);
                cr_assert_eq(m.frame.tag_count, fx->frame.tag_count);
            } else if (fx->header.type == FA_PROTO_HELLO && cut == hello_v1_1_end(&fx->hello, len)) {
                /* 1.1 HELLO: no secret. */
                cr_assert_err(decode(part, cut, &m), FA_PROTO_OK);
                fa_proto_msg_t want = without_secret(fx);
                want.header.body_len = m.header.body_len;
                char why[256] = "";
                cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s", why);
                cr_assert(m.hello.ingest_secret.len == 0);
            } else {
                cr_assert_err(decode(part, cut, &m), FA_PROTO_ERR_SHORT_BODY);
            }
            free(part);
        }
        free(golden);
    }
}

/* ---- 1.1 messages (an older agent, PROTOCOL.md §7) ---------------------- */

/* The 1.1 golden vectors, frozen when 1.2 came: every one but the HELLOs
 * (1.2 appended the secret to them: hellos_of_a_1_1_agent_decode_without_a_secret)
 * decodes to its fixture, and its bytes are the 1.2 golden's but for the
 * minor version (1.2 added a message type, not a field to these). */
Test(compat, messages_of_a_1_1_agent_decode_as_before) {
    int seen = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        if (proto_fixture_msg(i)->header.type == FA_PROTO_HELLO) continue;
        const char *path = proto_fixture_name(i);
        size_t n;
        unsigned char *old = proto_load_hex("tests/proto/golden_v1_1", path, &n);
        if (!old) continue; /* 1.2 fixtures */
        fa_proto_msg_t m;
        cr_assert_err(decode(old, (size_t)n, &m), FA_PROTO_OK);
        cr_assert_eq(m.header.version_minor, 1, "%s", path);
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, proto_fixture_msg(i), why, sizeof why), "%s: %s", path, why);
        size_t len;
        unsigned char *now = load_golden(i, &len);
        cr_assert_eq((size_t)n, len, "%s", path);
        old[5] = FA_PROTO_VERSION_MINOR;
        cr_assert(memcmp(old, now, len) == 0, "%s: only the minor version differs", path);
        free(now);
        free(old);
        seen++;
    }
    cr_assert_geq(seen, 8,
                  "frame, frame_empty, frame_big, frame_sites, tags, tags_empty, sites, bye at least");
}

/* ---- 1.0 messages (an older agent) -------------------------------------- */

static const char *golden_v1_0_dir(void) {
    const char *d = getenv("FA_PROTO_GOLDEN_V1_0_DIR");
    return d && *d ? d : "tests/proto/golden_v1_0";
}

/* The 1.0 golden vectors, frozen when 1.1 came (never regenerated): every
 * one decodes to its fixture, FRAMEs without sites, and their 1.0 FRAMEs
 * are byte for byte the 1.1 ones without the appended part. */
Test(compat, messages_of_a_1_0_agent_decode_as_before_without_sites) {
    int seen = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.hex", golden_v1_0_dir(), proto_fixture_name(i));
        size_t text_len;
        char *text = proto_read_file(path, &text_len);
        if (!text) {
            cr_assert(fx->header.type == FA_PROTO_SITES || fx->header.type == FA_PROTO_FRAMES ||
                          fx->frame.site_count,
                      "%s: no 1.0 golden (only the 1.1 and 1.2 fixtures may lack one)",
                      proto_fixture_name(i));
            continue;
        }
        unsigned char *old = malloc(text_len / 2 + 1);
        long n = proto_hex_parse(text, old, text_len / 2 + 1);
        free(text);
        cr_assert(n > 0);
        fa_proto_msg_t m;
        cr_assert_err(decode(old, (size_t)n, &m), FA_PROTO_OK);
        cr_assert_eq(m.header.version_minor, 0);
        char why[256] = "";
        fa_proto_msg_t want = without_secret(fx);
        cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s: %s", proto_fixture_name(i), why);
        size_t len;
        unsigned char *now = load_golden(i, &len);
        size_t end = fx->header.type == FA_PROTO_FRAME   ? frame_v1_0_end(&fx->frame)
                     : fx->header.type == FA_PROTO_HELLO ? hello_v1_1_end(&fx->hello, len)
                                                         : len;
        cr_assert_eq((size_t)n, end, "%s: 1.0 length %ld, 1.1 without its part %zu", proto_fixture_name(i), n, end);
        /* Same bytes but the minor version (byte 5) and body_len. */
        cr_assert(memcmp(old + 12, now + 12, end - 12) == 0 && memcmp(old, now, 5) == 0 && old[6] == now[6],
                  "%s", proto_fixture_name(i));
        free(now);
        free(old);
        seen++;
    }
    cr_assert_eq(seen, 8);
}

/* ---- 1.1 HELLOs (an agent without an ingest secret) ----------------------- */

/* The 1.1 HELLO goldens, frozen when 1.2 came: they decode to their
 * fixture with no secret, and are byte for byte the 1.2 HELLO without its
 * appended secret (but the minor version and body_len). */
Test(compat, hellos_of_a_1_1_agent_decode_without_a_secret) {
    const char *d = getenv("FA_PROTO_GOLDEN_V1_1_DIR");
    int seen = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        if (fx->header.type != FA_PROTO_HELLO) continue;
        size_t n;
        unsigned char *old = proto_load_hex(d && *d ? d : "tests/proto/golden_v1_1", proto_fixture_name(i), &n);
        cr_assert(old, "%s: no 1.1 golden", proto_fixture_name(i));
        fa_proto_msg_t m;
        cr_assert_err(decode(old, n, &m), FA_PROTO_OK);
        cr_assert_eq(m.header.version_minor, 1);
        cr_assert(m.hello.ingest_secret.len == 0);
        fa_proto_msg_t want = without_secret(fx);
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s: %s", proto_fixture_name(i), why);
        size_t len;
        unsigned char *now = load_golden(i, &len);
        size_t end = hello_v1_1_end(&fx->hello, len);
        cr_assert_eq(n, end, "%s", proto_fixture_name(i));
        cr_assert(memcmp(old + 12, now + 12, end - 12) == 0 && memcmp(old, now, 5) == 0 && old[6] == now[6],
                  "%s", proto_fixture_name(i));
        free(now);
        free(old);
        seen++;
    }
    cr_assert_eq(seen, 2);
}

Test(encode, ingest_secret_is_a_string_checked_for_length) {
    static char big[FA_PROTO_MAX_STRING + 1];
    memset(big, 's', sizeof big);
    fa_proto_msg_t m = {.header = {.type = FA_PROTO_HELLO, .session_id = 7}};
    m.hello.ingest_secret = (fa_proto_str_t){big, sizeof big};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_STRING_TOO_LONG);
    m.hello.ingest_secret = (fa_proto_str_t){NULL, 3};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_INVALID_ARG);
    /* Control bytes and NUL are carried: the secret is opaque. */
    m.hello.ingest_secret = (fa_proto_str_t){"a\0\x1b\n", 4};
    int n = fa_proto_encode(&m, out_buf, sizeof out_buf);
    cr_assert(n > 0, "%s", fa_proto_err_name(n));
    fa_proto_msg_t d;
    cr_assert_err(decode(out_buf, (size_t)n, &d), FA_PROTO_OK);
    cr_assert(d.hello.ingest_secret.len == 4 && memcmp(d.hello.ingest_secret.data, "a\0\x1b\n", 4) == 0);
    /* A length above 255 on the wire is refused. */
    out_buf[n - 6] = 0x00;
    out_buf[n - 5] = 0x01;
    cr_assert_err(decode(out_buf, (size_t)n, &d), FA_PROTO_ERR_STRING_TOO_LONG);
}

Test(decode, bad_magic_is_rejected_even_in_a_short_prefix) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    for (int k = 0; k < 4; k++) {
        unsigned char copy[512];
        memcpy(copy, g, len);
        copy[k] ^= 0x20;
        cr_assert_err(decode(copy, len, &m), FA_PROTO_ERR_BAD_MAGIC);
        cr_assert_err(decode(copy, (size_t)k + 1, &m), FA_PROTO_ERR_BAD_MAGIC);
    }
    cr_assert_err(decode("GET / HTTP/1.1\r\n\r\n", 18, &m), FA_PROTO_ERR_BAD_MAGIC);
    free(g);
}

Test(decode, other_major_version_is_rejected) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    g[4] = FA_PROTO_VERSION_MAJOR + 1;
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_BAD_VERSION);
    g[4] = 0;
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_BAD_VERSION);
    free(g);
}

Test(decode, newer_minor_version_is_accepted) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    g[5] = 200;
    cr_assert_err(decode(g, len, &m), FA_PROTO_OK);
    cr_assert_eq(m.header.version_minor, 200);
    free(g);
}

Test(decode, unknown_type_is_rejected_but_its_header_still_decodes) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    fa_proto_header_t h;
    for (unsigned t = 0; t < 256; t++) {
        if (t >= FA_PROTO_HELLO && t <= FA_PROTO_FRAMES) continue;
        g[6] = (unsigned char)t;
        cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_UNKNOWN_TYPE);
        cr_assert_err(fa_proto_decode_header(g, len, &h), FA_PROTO_OK);
        cr_assert_eq(h.type, t);
        cr_assert_eq(h.session_id, proto_fixture_msg(0)->header.session_id);
    }
    free(g);
}

Test(decode, body_length_above_the_maximum_is_too_large) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    put_le32(g + 8, FA_PROTO_MAX_MESSAGE - FA_PROTO_HEADER_SIZE + 1);
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_TOO_LARGE);
    put_le32(g + 8, 0xFFFFFFFFu);
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_TOO_LARGE);
    /* At the maximum it is merely longer than what arrived. */
    put_le32(g + 8, FA_PROTO_MAX_MESSAGE - FA_PROTO_HEADER_SIZE);
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_TRUNCATED);
    free(g);
}

Test(decode, bytes_after_the_declared_length_are_a_length_error) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    unsigned char *longer = calloc(1, len + 1);
    memcpy(longer, g, len);
    fa_proto_msg_t m;
    cr_assert_err(decode(longer, len + 1, &m), FA_PROTO_ERR_LENGTH);
    free(longer);
    free(g);
}

Test(decode, session_id_zero_is_rejected) {
    size_t len;
    unsigned char *g = load_golden(2, &len);
    memset(g + 12, 0, 8);
    fa_proto_msg_t m;
    cr_assert_err(decode(g, len, &m), FA_PROTO_ERR_BAD_SESSION);
    free(g);
}

Test(decode, null_arguments_are_invalid_and_empty_input_is_truncated) {
    fa_proto_msg_t m;
    fa_proto_header_t h;
    cr_assert_err(fa_proto_decode(NULL, 10, &m, NULL), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_err(fa_proto_decode("FAPM", 4, NULL, NULL), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_err(fa_proto_decode_header("FAPM", 4, NULL), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_err(fa_proto_decode(NULL, 0, &m, NULL), FA_PROTO_ERR_TRUNCATED);
    cr_assert_err(fa_proto_decode_header(NULL, 0, &h), FA_PROTO_ERR_TRUNCATED);
}

Test(decode, failure_leaves_the_output_untouched) {
    size_t len;
    unsigned char *g = load_golden(2, &len);
    fa_proto_msg_t m, before;
    memset(&m, 0xA5, sizeof m);
    before = m;
    cr_assert_err(decode(g, len - 1, &m), FA_PROTO_ERR_TRUNCATED);
    put_le32(g + 8, (uint32_t)(len - 1 - FA_PROTO_HEADER_SIZE));
    cr_assert_err(decode(g, len - 1, &m), FA_PROTO_ERR_SHORT_BODY);
    cr_assert(memcmp(&m, &before, sizeof m) == 0);
    free(g);
}

/* ---- body errors and compatibility ---------------------------------------- */

Test(decode, unknown_trailing_bytes_in_a_known_body_are_skipped) {
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *g = load_golden(i, &len);
        unsigned char *ext = malloc(len + 37);
        memcpy(ext, g, len);
        for (int k = 0; k < 37; k++)
            ext[len + k] = (unsigned char)(0xE0 + k);
        put_le32(ext + 8, (uint32_t)(len + 37 - FA_PROTO_HEADER_SIZE));
        fa_proto_msg_t m;
        cr_assert_err(decode(ext, len + 37, &m), FA_PROTO_OK);
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, proto_fixture_msg(i), why, sizeof why), "%s: %s", proto_fixture_name(i),
                  why);
        free(ext);
        free(g);
    }
}

/* A TAGS body with one entry whose fixed part has `stride` bytes. */
static size_t tags_with_stride(unsigned char *msg, unsigned stride, const char *path, size_t path_len) {
    wbuf_t b = {.n = 0};
    w_u16(&b, 1);
    w_u16(&b, stride);
    w_u16(&b, 9);   /* id */
    w_u16(&b, 0);   /* parent */
    w_u64(&b, 100); /* soft */
    w_u64(&b, 200); /* hard */
    for (unsigned k = FA_PROTO_TAG_DEF_ROW_SIZE; k < stride; k++)
        w_u8(&b, 0xEE); /* future fields */
    w_str(&b, path, path_len);
    return finish(msg, &b, FA_PROTO_TAGS);
}

Test(decode, larger_row_stride_skips_the_unknown_fields) {
    unsigned char msg[512];
    size_t n = tags_with_stride(msg, FA_PROTO_TAG_DEF_ROW_SIZE + 5, "net/sockets", 11);
    fa_proto_msg_t m;
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    cr_assert_eq(m.tags.tag_count, 1);
    cr_assert_eq(m.tags.tags[0].id, 9);
    cr_assert_eq(m.tags.tags[0].budget_hard, 200);
    cr_assert(m.tags.tags[0].path.len == 11 && memcmp(m.tags.tags[0].path.data, "net/sockets", 11) == 0);

    /* The same for fixed-size rows: a BYE with 12-byte drop rows. */
    wbuf_t b = {.n = 0};
    w_u64(&b, 5);
    w_u64(&b, 2);
    w_u16(&b, 2);
    w_u16(&b, 12);
    w_u16(&b, 1), w_u64(&b, 1), w_u16(&b, 0xBEEF);
    w_u16(&b, 2), w_u64(&b, 1), w_u16(&b, 0xBEEF);
    n = finish(msg, &b, FA_PROTO_BYE);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    cr_assert_eq(m.bye.drop_count, 2);
    cr_assert_eq(m.bye.drops[1].reason, 2);
    cr_assert_eq(m.bye.drops[1].count, 1);
}

Test(decode, row_stride_below_the_version_size_is_bad_stride) {
    unsigned char msg[512];
    size_t n = tags_with_stride(msg, FA_PROTO_TAG_DEF_ROW_SIZE - 1, "x", 1);
    fa_proto_msg_t m;
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_BAD_STRIDE);
}

/* A FRAME body with `kinds` per-kind rows and no other rows. */
static size_t frame_with_kinds(unsigned char *msg, unsigned kinds) {
    wbuf_t b = {.n = 0};
    w_u64(&b, 10), w_u64(&b, 20), w_u64(&b, 30);
    w_u32(&b, 0), w_u32(&b, 0), w_u32(&b, 0), w_u32(&b, 0);
    for (int i = 0; i < 13; i++)
        w_u64(&b, 0); /* promotions, transfers */
    w_u16(&b, kinds);
    w_u16(&b, FA_PROTO_KIND_ROW_SIZE);
    for (unsigned k = 0; k < kinds; k++)
        for (int f = 0; f < 5; f++)
            w_u64(&b, 100 * (k + 1) + f);
    for (int s = 0; s < 3; s++)
        w_u16(&b, 0), w_u16(&b, 64);
    return finish(msg, &b, FA_PROTO_FRAME);
}

Test(decode, extra_allocator_kinds_are_skipped_and_missing_ones_read_zero) {
    static unsigned char msg[4096];
    fa_proto_msg_t m;
    size_t n = frame_with_kinds(msg, 5);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    cr_assert_eq(m.frame.totals[FA_PROTO_KIND_HEAP].free_count, 304);
    n = frame_with_kinds(msg, 1);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    cr_assert_eq(m.frame.totals[FA_PROTO_KIND_FRAME].in_use, 100);
    cr_assert_eq(m.frame.totals[FA_PROTO_KIND_POOL].in_use, 0);
    cr_assert_eq(m.frame.totals[FA_PROTO_KIND_HEAP].peak, 0);
    n = frame_with_kinds(msg, FA_PROTO_MAX_KINDS + 1);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_TOO_MANY_ROWS);
}

Test(decode, string_longer_than_255_bytes_is_rejected) {
    static unsigned char msg[4096];
    char text[300];
    memset(text, 'a', sizeof text);
    wbuf_t b = {.n = 0};
    w_u32(&b, 1), w_u32(&b, 0), w_u64(&b, 0), w_u64(&b, 0);
    w_str(&b, text, 256);
    w_str(&b, "", 0), w_str(&b, "", 0), w_str(&b, "", 0);
    w_u16(&b, 0), w_u16(&b, FA_PROTO_TAG_DEF_ROW_SIZE);
    size_t n = finish(msg, &b, FA_PROTO_HELLO);
    fa_proto_msg_t m;
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_STRING_TOO_LONG);
    /* 255 is fine. */
    b.n = 0;
    w_u32(&b, 1), w_u32(&b, 0), w_u64(&b, 0), w_u64(&b, 0);
    w_str(&b, text, 255);
    w_str(&b, "", 0), w_str(&b, "", 0), w_str(&b, "", 0);
    w_u16(&b, 0), w_u16(&b, FA_PROTO_TAG_DEF_ROW_SIZE);
    n = finish(msg, &b, FA_PROTO_HELLO);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    cr_assert_eq(m.hello.app_name.len, 255);
}

Test(decode, control_byte_in_a_tag_path_is_rejected_elsewhere_allowed) {
    unsigned char msg[512];
    fa_proto_msg_t m;
    const char bad[][4] = {"a\nb", "a\tb", "\x7f", "ab\x1f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = tags_with_stride(msg, FA_PROTO_TAG_DEF_ROW_SIZE, bad[i], strlen(bad[i]));
        cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_BAD_STRING);
    }
    size_t n = tags_with_stride(msg, FA_PROTO_TAG_DEF_ROW_SIZE, "a\0b", 3);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_BAD_STRING);
    /* Bytes >= 0x80 (UTF-8) and spaces are accepted; UTF-8 is not checked. */
    n = tags_with_stride(msg, FA_PROTO_TAG_DEF_ROW_SIZE, "r\xc3\xa9seau x\xff", 10);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_OK);
    /* Other strings are opaque: a control byte in the host is carried. */
    fa_proto_msg_t hello = *proto_fixture_msg(0);
    hello.hello.host = (fa_proto_str_t){"a\nb", 3};
    int len = fa_proto_encode(&hello, out_buf, sizeof out_buf);
    cr_assert(len > 0);
    cr_assert_err(decode(out_buf, (size_t)len, &m), FA_PROTO_OK);
    cr_assert_eq(m.hello.host.len, 3);
}

Test(decode, section_with_more_rows_than_the_cap_is_too_many_rows) {
    wbuf_t b = {.n = 0};
    w_u16(&b, FA_PROTO_MAX_ROWS + 1);
    w_u16(&b, FA_PROTO_TAG_DEF_ROW_SIZE);
    unsigned char msg[64];
    size_t n = finish(msg, &b, FA_PROTO_TAGS);
    fa_proto_msg_t m;
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_TOO_MANY_ROWS);
    /* BYE drop rows have their own, smaller cap. */
    b.n = 0;
    w_u64(&b, 0), w_u64(&b, 0), w_u16(&b, FA_PROTO_MAX_DROPS + 1), w_u16(&b, FA_PROTO_DROP_ROW_SIZE);
    n = finish(msg, &b, FA_PROTO_BYE);
    cr_assert_err(decode(msg, n, &m), FA_PROTO_ERR_TOO_MANY_ROWS);
}

Test(decode, rows_beyond_the_caller_storage_are_storage_small) {
    size_t len;
    unsigned char *g = load_golden(2, &len); /* "frame": 3 tag rows */
    fa_proto_tag_stat_t two[2];
    fa_proto_thread_row_t threads[8];
    fa_proto_finding_t findings[8];
    fa_proto_storage_t st = {.tag_stats = two,
                             .tag_stats_capacity = 2,
                             .threads = threads,
                             .threads_capacity = 8,
                             .findings = findings,
                             .findings_capacity = 8};
    fa_proto_msg_t m;
    cr_assert_err(fa_proto_decode(g, len, &m, &st), FA_PROTO_ERR_STORAGE_SMALL);
    cr_assert_err(fa_proto_decode(g, len, &m, NULL), FA_PROTO_ERR_STORAGE_SMALL);
    /* A NULL array counts as capacity 0 whatever the capacity says. */
    st.tag_stats = NULL;
    st.tag_stats_capacity = 100;
    cr_assert_err(fa_proto_decode(g, len, &m, &st), FA_PROTO_ERR_STORAGE_SMALL);
    free(g);
    /* A message without rows needs no storage. */
    g = load_golden(6, &len); /* "tags_empty" */
    cr_assert_err(fa_proto_decode(g, len, &m, NULL), FA_PROTO_OK);
    free(g);
}

Test(decode, strings_are_views_into_the_input) {
    size_t len;
    unsigned char *g = load_golden(0, &len);
    fa_proto_msg_t m;
    cr_assert_err(decode(g, len, &m), FA_PROTO_OK);
    cr_assert((const unsigned char *)m.hello.app_name.data > g &&
              (const unsigned char *)m.hello.app_name.data < g + len);
    cr_assert(m.hello.tags == space.tag_defs);
    free(g);
}

/* ---- encoder validation ----------------------------------------------------- */

Test(encode, buffer_too_small_writes_nothing) {
    const fa_proto_msg_t *msg = proto_fixture_msg(2);
    int size = fa_proto_encoded_size(msg);
    cr_assert(size > 0);
    memset(out_buf, 0x5A, (size_t)size);
    cr_assert_err(fa_proto_encode(msg, out_buf, (size_t)size - 1), FA_PROTO_ERR_BUFFER_SMALL);
    cr_assert_err(fa_proto_encode(msg, NULL, 0), FA_PROTO_ERR_BUFFER_SMALL);
    for (int i = 0; i < size; i++)
        cr_assert_eq(out_buf[i], 0x5A);
    cr_assert_eq(fa_proto_encode(msg, out_buf, (size_t)size), size);
}

Test(encode, invalid_messages_are_refused_with_precise_errors) {
    fa_proto_msg_t m = *proto_fixture_msg(0); /* hello */
    char long_text[300];
    memset(long_text, 'x', sizeof long_text);
    fa_proto_tag_def_t tags[2] = {{0, 0, 0, 0, {"", 0}}, {1, 0, 0, 0, {"ok", 2}}};

    cr_assert_err(fa_proto_encoded_size(NULL), FA_PROTO_ERR_INVALID_ARG);
    m.header.session_id = 0;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_SESSION);
    m = *proto_fixture_msg(0);
    m.header.type = 9;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_UNKNOWN_TYPE);
    m = *proto_fixture_msg(0);
    m.hello.host = (fa_proto_str_t){long_text, 256};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_STRING_TOO_LONG);
    m.hello.host = (fa_proto_str_t){NULL, 3};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_INVALID_ARG);
    m.hello.host = (fa_proto_str_t){NULL, 0};
    cr_assert(fa_proto_encode(&m, out_buf, sizeof out_buf) > 0);
    m.hello.tags = tags;
    m.hello.tag_count = 2;
    tags[1].path = (fa_proto_str_t){"a\rb", 3};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_STRING);
    tags[1].path = (fa_proto_str_t){long_text, 256};
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_STRING_TOO_LONG);
    m.hello.tag_count = FA_PROTO_MAX_ROWS + 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_TOO_MANY_ROWS);
    m.hello.tags = NULL;
    m.hello.tag_count = 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_INVALID_ARG);

    m = *proto_fixture_msg(2); /* frame */
    m.frame.thread_count = FA_PROTO_MAX_ROWS + 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_TOO_MANY_ROWS);
    m = *proto_fixture_msg(2);
    m.frame.findings = NULL;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_INVALID_ARG);
    m = *proto_fixture_msg(proto_fixture_count() - 2); /* bye */
    cr_assert_eq(m.header.type, FA_PROTO_BYE);
    m.bye.drop_count = FA_PROTO_MAX_DROPS + 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_TOO_MANY_ROWS);
}

/* The largest messages the limits allow fit FA_PROTO_MAX_MESSAGE and round
 * trip. */
Test(encode, maximal_hello_and_frame_fit_and_round_trip) {
    static fa_proto_tag_def_t tags[FA_PROTO_MAX_ROWS];
    static char path[FA_PROTO_MAX_STRING];
    memset(path, 'p', sizeof path);
    for (uint32_t i = 0; i < FA_PROTO_MAX_ROWS; i++)
        tags[i] = (fa_proto_tag_def_t){(uint16_t)i, 0, i, i, {path, FA_PROTO_MAX_STRING}};
    fa_proto_msg_t m = {.header = {.type = FA_PROTO_HELLO, .session_id = 5}};
    m.hello.app_name = m.hello.host = m.hello.build_id = m.hello.session_label =
        (fa_proto_str_t){path, FA_PROTO_MAX_STRING};
    m.hello.tags = tags;
    m.hello.tag_count = FA_PROTO_MAX_ROWS;
    m.hello.ingest_secret = (fa_proto_str_t){path, FA_PROTO_MAX_STRING};
    int n = fa_proto_encode(&m, out_buf, sizeof out_buf);
    cr_assert(n > 0 && (unsigned)n <= FA_PROTO_MAX_MESSAGE, "%s", fa_proto_err_name(n));
    fa_proto_msg_t d;
    cr_assert_err(decode(out_buf, (size_t)n, &d), FA_PROTO_OK);
    char why[256] = "";
    cr_assert(proto_msg_equal(&d, &m, why, sizeof why), "%s", why);

    static fa_proto_tag_stat_t stats[FA_PROTO_MAX_ROWS];
    static fa_proto_thread_row_t threads[FA_PROTO_MAX_ROWS];
    static fa_proto_finding_t findings[FA_PROTO_MAX_ROWS];
    for (uint32_t i = 0; i < FA_PROTO_MAX_ROWS; i++) {
        stats[i] = (fa_proto_tag_stat_t){(uint16_t)(65535 - i), i, i, i, i, i, UINT64_MAX - i};
        threads[i] = (fa_proto_thread_row_t){i, i, i, i, i, (uint8_t)i};
        findings[i] = (fa_proto_finding_t){(uint16_t)i, (uint16_t)i, (uint8_t)i, i, i};
    }
    static fa_proto_site_row_t site_rows[FA_PROTO_MAX_ROWS];
    for (uint32_t i = 0; i < FA_PROTO_MAX_ROWS; i++)
        site_rows[i] = (fa_proto_site_row_t){UINT32_MAX - i, (uint16_t)i, i, i, UINT64_MAX - i};
    fa_proto_msg_t f = {.header = {.type = FA_PROTO_FRAME, .session_id = UINT64_MAX, .seq = UINT64_MAX}};
    f.frame = (fa_proto_frame_t){.frame = 1,
                                 .tags = stats,
                                 .tag_count = FA_PROTO_MAX_ROWS,
                                 .threads = threads,
                                 .thread_count = FA_PROTO_MAX_ROWS,
                                 .findings = findings,
                                 .finding_count = FA_PROTO_MAX_ROWS,
                                 .sites_total = UINT32_MAX,
                                 .sites = site_rows,
                                 .site_count = FA_PROTO_MAX_ROWS};
    n = fa_proto_encode(&f, out_buf, sizeof out_buf);
    cr_assert_eq((unsigned)n,
                 FA_PROTO_FRAME_SIZE(FA_PROTO_MAX_ROWS, FA_PROTO_MAX_ROWS, FA_PROTO_MAX_ROWS, FA_PROTO_MAX_ROWS));
    cr_assert_err(decode(out_buf, (size_t)n, &d), FA_PROTO_OK);
    cr_assert(proto_msg_equal(&d, &f, why, sizeof why), "%s", why);

    /* SITES: 4096 definitions with two 255-byte strings each exceed the
     * message bound (TOO_LARGE); 2048 of them (twice what an agent puts in
     * one message) fit and round trip. */
    static fa_proto_site_def_t defs[FA_PROTO_MAX_ROWS];
    for (uint32_t i = 0; i < FA_PROTO_MAX_ROWS; i++)
        defs[i] = (fa_proto_site_def_t){i + 4, i, (uint8_t)(i % 3), {path, FA_PROTO_MAX_STRING},
                                        {path, FA_PROTO_MAX_STRING}};
    fa_proto_msg_t sm = {.header = {.type = FA_PROTO_SITES, .session_id = 9}};
    sm.sites = (fa_proto_sites_t){defs, FA_PROTO_MAX_ROWS};
    cr_assert_err(fa_proto_encode(&sm, out_buf, sizeof out_buf), FA_PROTO_ERR_TOO_LARGE);
    sm.sites.site_count = FA_PROTO_MAX_ROWS / 2;
    n = fa_proto_encode(&sm, out_buf, sizeof out_buf);
    cr_assert(n > 0 && (unsigned)n <= FA_PROTO_MAX_MESSAGE, "%s", fa_proto_err_name(n));
    cr_assert_err(decode(out_buf, (size_t)n, &d), FA_PROTO_OK);
    cr_assert(proto_msg_equal(&d, &sm, why, sizeof why), "%s", why);
}

/* ---- 1.1: call sites ------------------------------------------------------- */

/* A FRAME with no rows whose 1.1 part is written by hand. */
static size_t frame_with_site_part(unsigned char *msg, const wbuf_t *part) {
    wbuf_t b = {.n = 0};
    for (unsigned k = 0; k < 144; k++) w_u8(&b, 0);
    w_u16(&b, 3);
    w_u16(&b, FA_PROTO_KIND_ROW_SIZE);
    for (unsigned k = 0; k < 3 * FA_PROTO_KIND_ROW_SIZE; k++) w_u8(&b, 0);
    for (int s = 0; s < 3; s++) {
        w_u16(&b, 0);
        w_u16(&b, 50);
    }
    w_bytes(&b, part->b, part->n);
    return finish(msg, &b, FA_PROTO_FRAME);
}

Test(sites, frame_site_part_is_checked_like_any_section) {
    unsigned char msg[2048];
    fa_proto_msg_t m;
    wbuf_t p = {.n = 0};
    w_u16(&p, 7); /* 2 of the 4 bytes of sites_total */
    cr_assert_err(decode(msg, frame_with_site_part(msg, &p), &m), FA_PROTO_ERR_SHORT_BODY);
    p.n = 0;
    w_u32(&p, 3);
    w_u16(&p, 1);
    w_u16(&p, FA_PROTO_SITE_ROW_SIZE - 1);
    cr_assert_err(decode(msg, frame_with_site_part(msg, &p), &m), FA_PROTO_ERR_BAD_STRIDE);
    p.n = 0;
    w_u32(&p, 3);
    w_u16(&p, FA_PROTO_MAX_ROWS + 1);
    w_u16(&p, FA_PROTO_SITE_ROW_SIZE);
    cr_assert_err(decode(msg, frame_with_site_part(msg, &p), &m), FA_PROTO_ERR_TOO_MANY_ROWS);
    p.n = 0;
    w_u32(&p, 3);
    w_u16(&p, 2);
    w_u16(&p, FA_PROTO_SITE_ROW_SIZE + 2); /* a newer row: 2 bytes more */
    for (int r = 0; r < 2; r++) {
        w_u32(&p, 40 + (uint32_t)r);
        w_u16(&p, 6);
        w_u64(&p, 100);
        w_u64(&p, 2);
        w_u64(&p, 50);
        w_u16(&p, 0xEEEE);
    }
    w_u32(&p, 0xDDDDDDDD); /* and a field of a newer minor version */
    cr_assert_err(decode(msg, frame_with_site_part(msg, &p), &m), FA_PROTO_OK);
    cr_assert_eq(m.frame.sites_total, 3);
    cr_assert_eq(m.frame.site_count, 2);
    cr_assert(m.frame.sites[1].site_id == 41 && m.frame.sites[1].tag_id == 6 && m.frame.sites[1].bytes == 100 &&
              m.frame.sites[1].count == 2 && m.frame.sites[1].live_bytes == 50);
    /* Rows past the caller's storage. */
    fa_proto_storage_t st = full_storage();
    st.site_rows_capacity = 1;
    cr_assert_err(fa_proto_decode(msg, frame_with_site_part(msg, &p), &m, &st), FA_PROTO_ERR_STORAGE_SMALL);
}

Test(sites, site_definitions_are_opaque_strings_checked_for_length) {
    unsigned char msg[2048];
    fa_proto_msg_t m;
    char longs[300];
    memset(longs, 'f', sizeof longs);
    wbuf_t b = {.n = 0};
    w_u16(&b, 1);
    w_u16(&b, FA_PROTO_SITE_DEF_ROW_SIZE);
    w_u32(&b, 9);
    w_u32(&b, 10);
    w_u8(&b, 1);
    w_str(&b, "a\x01\x7f\xff.c", 6); /* control bytes are carried: consumers escape */
    w_str(&b, longs, 256);
    cr_assert_err(decode(msg, finish(msg, &b, FA_PROTO_SITES), &m), FA_PROTO_ERR_STRING_TOO_LONG);
    b.n = 0;
    w_u16(&b, 1);
    w_u16(&b, FA_PROTO_SITE_DEF_ROW_SIZE + 3);
    w_u32(&b, 9);
    w_u32(&b, 10);
    w_u8(&b, 1);
    w_u8(&b, 0xEE);
    w_u8(&b, 0xEE);
    w_u8(&b, 0xEE);
    w_str(&b, "a\x01\x7f\xff.c", 6);
    w_str(&b, "main", 4);
    cr_assert_err(decode(msg, finish(msg, &b, FA_PROTO_SITES), &m), FA_PROTO_OK);
    cr_assert_eq(m.sites.site_count, 1);
    cr_assert(m.sites.sites[0].id == 9 && m.sites.sites[0].line == 10 && m.sites.sites[0].kind == 1);
    cr_assert(m.sites.sites[0].file.len == 6 && m.sites.sites[0].function.len == 4);
    b.n = 0;
    w_u16(&b, 1);
    w_u16(&b, FA_PROTO_SITE_DEF_ROW_SIZE - 1);
    cr_assert_err(decode(msg, finish(msg, &b, FA_PROTO_SITES), &m), FA_PROTO_ERR_BAD_STRIDE);
    fa_proto_site_def_t bad = {1, 1, 0, {longs, 256}, {"f", 1}};
    fa_proto_msg_t e = {.header = {.type = FA_PROTO_SITES, .session_id = 3}, .sites = {&bad, 1}};
    cr_assert_err(fa_proto_encoded_size(&e), FA_PROTO_ERR_STRING_TOO_LONG);
    e.sites = (fa_proto_sites_t){NULL, 1};
    cr_assert_err(fa_proto_encoded_size(&e), FA_PROTO_ERR_INVALID_ARG);
}

/* ---- names ------------------------------------------------------------------ */

Test(errors, every_code_has_a_distinct_name_and_a_message) {
    const int codes[] = {
#define CODE(name, value, msg) value,
        FA_PROTO_ERR_TABLE(CODE)
#undef CODE
    };
    const char *const names[] = {
#define NAME(name, value, msg) #name,
        FA_PROTO_ERR_TABLE(NAME)
#undef NAME
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(fa_proto_err_name(codes[i]), names[i]);
        cr_assert_str_neq(fa_proto_strerror(codes[i]), "unknown error");
        cr_assert(strncmp(names[i], "FA_PROTO_", 9) == 0);
        for (size_t k = 0; k < i; k++)
            cr_assert_neq(codes[i], codes[k]);
    }
    cr_assert_str_eq(fa_proto_err_name(-999), "FA_PROTO_ERR_UNKNOWN");
    cr_assert_str_eq(fa_proto_strerror(12345), "unknown error");
}

Test(errors, types_and_drop_reasons_have_names) {
    cr_assert_str_eq(fa_proto_type_name(FA_PROTO_HELLO), "HELLO");
    cr_assert_str_eq(fa_proto_type_name(FA_PROTO_FRAME), "FRAME");
    cr_assert_str_eq(fa_proto_type_name(FA_PROTO_TAGS), "TAGS");
    cr_assert_str_eq(fa_proto_type_name(FA_PROTO_BYE), "BYE");
    cr_assert_str_eq(fa_proto_type_name(FA_PROTO_SITES), "SITES");
    cr_assert_str_eq(fa_proto_type_name(0), "UNKNOWN");
    cr_assert_str_eq(fa_proto_drop_name(FA_PROTO_DROP_RING_FULL), "ring_full");
    cr_assert_str_eq(fa_proto_drop_name(FA_PROTO_DROP_DISCONNECTED), "disconnected");
    cr_assert_str_eq(fa_proto_drop_name(999), "unknown");
}

Test(strings, copy_truncates_and_always_terminates) {
    char dst[4];
    cr_assert_eq(fa_proto_str_copy(dst, sizeof dst, fa_proto_str("physics")), 3);
    cr_assert_str_eq(dst, "phy");
    cr_assert_eq(fa_proto_str_copy(dst, sizeof dst, fa_proto_str(NULL)), 0);
    cr_assert_str_eq(dst, "");
    cr_assert_eq(fa_proto_str_copy(dst, sizeof dst, (fa_proto_str_t){NULL, 5}), 0);
    cr_assert_err(fa_proto_str_copy(dst, 0, fa_proto_str("x")), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_err(fa_proto_str_copy(NULL, 4, fa_proto_str("x")), FA_PROTO_ERR_INVALID_ARG);
}

/* ---- mutation ----------------------------------------------------------------- */

static uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static unsigned long env_ulong(const char *name, unsigned long dflt) {
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 0) : dflt;
}

/* Deterministic: seed FA_PROTO_MUTATION_SEED (default below), count
 * FA_PROTO_MUTATIONS (default 100000). Each case applies 1..4 edits (bit
 * flip, byte set, truncation, insertion) to a golden and, half of the time,
 * repairs body_len so that the body parser, not the framing check, meets
 * the damage. Decoding must give OK or a known error; an OK message must
 * re-encode, and decode again to the same message. */
Test(mutation, hundred_thousand_mutated_goldens_decode_or_fail_cleanly) {
    uint64_t seed = env_ulong("FA_PROTO_MUTATION_SEED", 0x5EED2024F00DULL);
    unsigned long cases = env_ulong("FA_PROTO_MUTATIONS", 100000);
    size_t count = proto_fixture_count();
    unsigned char *golden[16];
    size_t golden_len[16];
    cr_assert(count <= 16);
    for (size_t i = 0; i < count; i++)
        golden[i] = load_golden(i, &golden_len[i]);
    static unsigned char work[FA_PROTO_MAX_MESSAGE];
    static fa_proto_space_t space2;
    fa_proto_storage_t st2 = fa_proto_storage_of(&space2);
    unsigned long outcomes[18] = {0}; /* by -error */

    uint64_t s = seed ? seed : 1;
    for (unsigned long c = 0; c < cases; c++) {
        size_t g = xorshift64(&s) % count;
        size_t len = golden_len[g];
        memcpy(work, golden[g], len);
        int edits = 1 + (int)(xorshift64(&s) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = xorshift64(&s);
            size_t at = len ? (size_t)(r >> 16) % len : 0;
            switch (r % 4) {
            case 0: /* bit flip */
                if (len) work[at] ^= (unsigned char)(1u << ((r >> 8) % 8));
                break;
            case 1: /* byte set, biased to boundary values */
                if (len) {
                    static const unsigned char vals[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, 0x20};
                    work[at] = (r >> 8) % 2 ? vals[(r >> 9) % 6] : (unsigned char)(r >> 40);
                }
                break;
            case 2: /* truncation */
                len = at;
                break;
            case 3: { /* insertion of 1..16 random bytes */
                size_t k = 1 + (size_t)((r >> 8) % 16);
                if (len + k > sizeof work) break;
                memmove(work + at + k, work + at, len - at);
                for (size_t j = 0; j < k; j++)
                    work[at + j] = (unsigned char)xorshift64(&s);
                len += k;
                break;
            }
            }
        }
        if (len >= FA_PROTO_HEADER_SIZE && (xorshift64(&s) & 1))
            put_le32(work + 8, (uint32_t)(len - FA_PROTO_HEADER_SIZE));

        /* Decode from an exact-size copy so ASan sees any over-read. */
        unsigned char *input = malloc(len ? len : 1);
        memcpy(input, work, len);
        fa_proto_msg_t m;
        fa_proto_storage_t st = full_storage();
        int rc = fa_proto_decode(input, len, &m, &st);
        cr_assert(rc <= 0 && rc >= -17 && strcmp(fa_proto_err_name(rc), "FA_PROTO_ERR_UNKNOWN") != 0,
                  "case %lu: undocumented result %d", c, rc);
        outcomes[-rc]++;
        if (rc == FA_PROTO_OK) {
            int n = fa_proto_encode(&m, out_buf, sizeof out_buf);
            cr_assert(n > 0, "case %lu: decoded message does not re-encode: %s", c, fa_proto_err_name(n));
            fa_proto_msg_t again;
            cr_assert_err(fa_proto_decode(out_buf, (size_t)n, &again, &st2), FA_PROTO_OK);
            char why[256] = "";
            cr_assert(proto_msg_equal(&again, &m, why, sizeof why), "case %lu: round trip differs: %s", c,
                      why);
        }
        free(input);
    }
    for (size_t i = 0; i < count; i++)
        free(golden[i]);
    /* The run must reach both the body parser's successes and its errors. */
    cr_assert(outcomes[0] > 0 && outcomes[-FA_PROTO_ERR_SHORT_BODY] > 0 &&
              outcomes[-FA_PROTO_ERR_TRUNCATED] > 0);
    char summary[1024];
    size_t off = 0;
    for (int e = 0; e <= 17; e++)
        if (outcomes[e])
            off += (size_t)snprintf(summary + off, sizeof summary - off, " %s=%lu", fa_proto_err_name(-e),
                                    outcomes[e]);
    cr_log_info("mutation seed=%#llx cases=%lu:%s", (unsigned long long)seed, cases, summary);
}

/* ---- 1.2: FRAMES and tag-row deltas -------------------------------------- */

static uint64_t frames_seed = 0x5eed1234abcd0001ull;

/* n whole rows with ids 0, 2, 4, ... whose figures follow frame f. */
static void whole_rows(fa_proto_tag_stat_t *rows, uint32_t n, uint64_t f) {
    for (uint32_t i = 0; i < n; i++) {
        uint64_t r = xorshift64(&frames_seed);
        /* About one row in four changes from one frame to the next. */
        uint64_t v = r % 4 == 0 ? f : 0;
        rows[i] = (fa_proto_tag_stat_t){(uint16_t)(2 * i), 10 + v, 20, 30 + i, 1, 100 * i + v, 100 * i + v};
    }
}

/* A writer's deltas, encoded and decoded, rebuild exactly its whole rows,
 * frame after frame, while tags appear; a key every few frames. */
Test(frames, deltas_rebuild_exactly_the_whole_rows_while_tags_appear) {
    static fa_proto_tag_stat_t prev[64], cur[64], changed[64], base_rows[2][64];
    fa_proto_tag_base_t base = {base_rows[0], base_rows[1], 64, 0, 0, false};
    uint32_t prev_n = 0;
    size_t delta_rows = 0, whole_rows_of_deltas = 0;
    for (uint64_t f = 1; f <= 200; f++) {
        uint32_t n = 8 + (uint32_t)(f / 10); /* a tag appears every 10 frames */
        whole_rows(cur, n, f);
        fa_proto_frame_entry_t e = {.tag_rows = n};
        e.frame.frame = f;
        e.frame.tags = cur;
        e.frame.tag_count = n;
        int c = f % 25 == 1 ? -1 : fa_proto_tag_rows_delta(prev, prev_n, cur, n, changed);
        if (c >= 0) {
            e.delta = true;
            e.base_frame = f - 1;
            e.frame.tags = changed;
            e.frame.tag_count = (uint32_t)c;
            delta_rows += (size_t)c;
            whole_rows_of_deltas += n;
        }
        fa_proto_msg_t m = {.header = {.type = FA_PROTO_FRAMES, .session_id = 7, .seq = f}};
        m.frames.entries = &e;
        m.frames.count = 1;
        int len = fa_proto_encode(&m, out_buf, sizeof out_buf);
        cr_assert_gt(len, 0, "%s", fa_proto_err_name(len));
        fa_proto_msg_t d;
        cr_assert_err(decode(out_buf, (size_t)len, &d), FA_PROTO_OK);
        fa_proto_storage_t st = full_storage();
        fa_proto_frame_entry_t got;
        size_t off = 0;
        cr_assert_eq(fa_proto_frames_next(&d.frames, &off, &got, &st), 1);
        cr_assert_err(fa_proto_frame_rebuild(&base, &got), FA_PROTO_OK);
        cr_assert_eq(got.frame.tag_count, n);
        cr_assert(memcmp(got.frame.tags, cur, n * sizeof *cur) == 0, "frame %llu rebuilt",
                  (unsigned long long)f);
        cr_assert_eq(fa_proto_frames_next(&d.frames, &off, &got, &st), 0);
        memcpy(prev, cur, n * sizeof *cur);
        prev_n = n;
    }
    /* A row changes between two frames with probability 7/16. */
    cr_assert_lt(delta_rows, whole_rows_of_deltas * 6 / 10, "deltas carry the changed rows only");
    cr_assert_gt(delta_rows, whole_rows_of_deltas * 3 / 10);
}

/* A lost message: a delta that does not follow the base is NO_BASE, and
 * so is every delta after it, until a key entry. */
Test(frames, a_delta_that_does_not_follow_the_base_waits_for_a_key) {
    static fa_proto_tag_stat_t rows[4], base_rows[2][4];
    whole_rows(rows, 4, 1);
    fa_proto_tag_base_t base = {base_rows[0], base_rows[1], 4, 0, 0, false};
    fa_proto_frame_entry_t key = {.tag_rows = 4, .frame = {.frame = 10, .tags = rows, .tag_count = 4}};
    fa_proto_frame_entry_t delta = {.delta = true, .base_frame = 9, .tag_rows = 4, .frame = {.frame = 10}};
    cr_assert_err(fa_proto_frame_rebuild(&base, &delta), FA_PROTO_ERR_NO_BASE); /* no key yet */
    cr_assert_err(fa_proto_frame_rebuild(&base, &key), FA_PROTO_OK);
    delta.base_frame = 10;
    delta.frame.frame = 11;
    cr_assert_err(fa_proto_frame_rebuild(&base, &delta), FA_PROTO_OK);
    cr_assert_eq(delta.frame.tag_count, 4, "an empty delta is the base's rows");
    delta.base_frame = 12; /* frame 12 was lost */
    delta.frame.frame = 13;
    cr_assert_err(fa_proto_frame_rebuild(&base, &delta), FA_PROTO_ERR_NO_BASE);
    delta.base_frame = 13;
    delta.frame.frame = 14;
    cr_assert_err(fa_proto_frame_rebuild(&base, &delta),
                  FA_PROTO_ERR_NO_BASE); /* still none after a failure */
    key.frame.frame = 15;
    cr_assert_err(fa_proto_frame_rebuild(&base, &key), FA_PROTO_OK);
    delta.base_frame = 15;
    delta.frame.frame = 16;
    cr_assert_err(fa_proto_frame_rebuild(&base, &delta), FA_PROTO_OK);
    /* A key larger than the caller's rows, and a delta whose merge does
     * not give its tag_rows. */
    key.tag_rows = key.frame.tag_count = 4;
    base.capacity = 3;
    cr_assert_err(fa_proto_frame_rebuild(&base, &key), FA_PROTO_ERR_STORAGE_SMALL);
    base.capacity = 4;
    cr_assert_err(fa_proto_frame_rebuild(&base, &key), FA_PROTO_OK);
    fa_proto_tag_stat_t extra = {99, 1, 1, 1, 1, 1, 1};
    fa_proto_frame_entry_t grows = {.delta = true,
                                    .base_frame = 15,
                                    .tag_rows = 4,
                                    .frame = {.frame = 16, .tags = &extra, .tag_count = 1}};
    cr_assert_err(fa_proto_frame_rebuild(&base, &grows), FA_PROTO_ERR_BAD_DELTA); /* 5 rows, 4 declared */
}

/* The stateless rules are the decoder's and the encoder's: a delta's rows
 * in increasing id order and no more than its frame's, a key with exactly
 * its frame's rows; a writer cannot express a vanished row as a delta. */
Test(frames, entries_that_break_the_delta_rules_are_refused_both_ways) {
    fa_proto_tag_stat_t rows[3] = {{5, 1, 1, 1, 1, 1, 1}, {3, 2, 2, 2, 2, 2, 2}, {9, 3, 3, 3, 3, 3, 3}};
    fa_proto_frame_entry_t e = {
        .delta = true, .base_frame = 1, .tag_rows = 3, .frame = {.frame = 2, .tags = rows, .tag_count = 3}};
    fa_proto_msg_t m = {.header = {.type = FA_PROTO_FRAMES, .session_id = 7, .seq = 1}};
    m.frames.entries = &e;
    m.frames.count = 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_DELTA); /* ids 5, 3, 9 */
    rows[1].id = 7;
    int len = fa_proto_encode(&m, out_buf, sizeof out_buf);
    cr_assert_gt(len, 0);
    fa_proto_msg_t d;
    cr_assert_err(decode(out_buf, (size_t)len, &d), FA_PROTO_OK);
    /* The same bytes with the second row's id lowered: refused on decode. */
    size_t row1 = FA_PROTO_HEADER_SIZE + 2 + FA_PROTO_FRAMES_ENTRY_HEADER + 144 + 4 +
                  3 * FA_PROTO_KIND_ROW_SIZE + 4 + FA_PROTO_TAG_STAT_ROW_SIZE;
    cr_assert_eq(out_buf[row1], 7);
    out_buf[row1] = 5;
    cr_assert_err(decode(out_buf, (size_t)len, &d), FA_PROTO_ERR_BAD_DELTA); /* ids 5, 5, 9 */
    out_buf[row1] = 7;
    /* tag_rows below the rows carried, and above the protocol's rows. */
    size_t tag_rows_at = FA_PROTO_HEADER_SIZE + 2 + 13;
    out_buf[tag_rows_at] = 2;
    cr_assert_err(decode(out_buf, (size_t)len, &d), FA_PROTO_ERR_BAD_DELTA);
    e.tag_rows = FA_PROTO_MAX_ROWS + 1;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_DELTA);
    e.delta = false;
    e.tag_rows = 3;
    rows[1].id = 3;
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_DELTA); /* a key in order too */
    rows[1].id = 7;
    e.tag_rows = 4; /* a key carries every row */
    cr_assert_err(fa_proto_encode(&m, out_buf, sizeof out_buf), FA_PROTO_ERR_BAD_DELTA);
    e.tag_rows = 3;
    cr_assert_gt(fa_proto_encode(&m, out_buf, sizeof out_buf), 0);

    fa_proto_tag_stat_t prev[2] = {{1, 0, 0, 0, 0, 0, 0}, {2, 0, 0, 0, 0, 0, 0}},
                        cur[1] = {{2, 0, 0, 0, 0, 0, 0}}, out[2];
    cr_assert_err(fa_proto_tag_rows_delta(prev, 2, cur, 1, out), FA_PROTO_ERR_BAD_DELTA); /* tag 1 vanished */
    cr_assert_err(fa_proto_tag_rows_delta(prev + 1, 1, prev, 2, out), 1);                 /* tag 1 appeared */
    cr_assert_eq(out[0].id, 1);
}

/* The batch builder: entries append until the buffer or the protocol's
 * bound is full; a refused entry leaves the batch as it was; finish makes
 * a FRAMES message that decodes to the entries in order. */
Test(frames, a_batch_fills_up_to_its_buffer_and_refuses_without_damage) {
    static unsigned char buf[4096];
    fa_proto_batch_t b;
    cr_assert_err(fa_proto_batch_init(&b, buf, 10), FA_PROTO_ERR_BUFFER_SMALL);
    cr_assert_err(fa_proto_batch_init(&b, buf, sizeof buf), FA_PROTO_OK);
    fa_proto_tag_stat_t rows[2] = {{0, 1, 2, 3, 4, 5, 6}, {1, 7, 8, 9, 10, 11, 12}};
    int added = 0, rc;
    for (uint64_t f = 1;; f++) {
        fa_proto_frame_entry_t e = {.tag_rows = 2, .frame = {.frame = f, .tags = rows, .tag_count = 2}};
        if ((rc = fa_proto_batch_add(&b, &e)) != FA_PROTO_OK) break;
        added++;
    }
    cr_assert_err(rc, FA_PROTO_ERR_BUFFER_SMALL);
    cr_assert_gt(added, 5);
    fa_proto_header_t h = {.session_id = 0};
    cr_assert_err(fa_proto_batch_finish(&b, &h), FA_PROTO_ERR_BAD_SESSION);
    h.session_id = 77;
    h.seq = 3;
    int len = fa_proto_batch_finish(&b, &h);
    cr_assert_gt(len, 0);
    fa_proto_msg_t d;
    cr_assert_err(decode(buf, (size_t)len, &d), FA_PROTO_OK);
    cr_assert_eq(d.header.type, FA_PROTO_FRAMES);
    cr_assert_eq(d.header.seq, 3);
    cr_assert_eq(d.frames.count, (uint32_t)added);
    fa_proto_storage_t st = full_storage();
    fa_proto_frame_entry_t e;
    size_t off = 0;
    for (int k = 0; k < added; k++) {
        cr_assert_eq(fa_proto_frames_next(&d.frames, &off, &e, &st), 1);
        cr_assert_eq(e.frame.frame, (uint64_t)k + 1);
        cr_assert(!e.delta);
        cr_assert_eq(e.frame.tags[1].live_bytes, 11);
    }
    cr_assert_eq(fa_proto_frames_next(&d.frames, &off, &e, &st), 0);
    /* FA_PROTO_MAX_BATCH entries at most. */
    static unsigned char big[FA_PROTO_MAX_MESSAGE];
    cr_assert_err(fa_proto_batch_init(&b, big, sizeof big), FA_PROTO_OK);
    fa_proto_frame_entry_t empty = {0};
    for (uint32_t k = 0; k < FA_PROTO_MAX_BATCH; k++)
        cr_assert_err(fa_proto_batch_add(&b, &empty), FA_PROTO_OK);
    cr_assert_err(fa_proto_batch_add(&b, &empty), FA_PROTO_ERR_TOO_MANY_ROWS);
}
