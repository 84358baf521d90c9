/*
 * test_reader_1_0.c — what a reader of protocol 1.0 (an older fa-insightd,
 * fa-cli compare, a capture importer) makes of 1.1 messages. This binary
 * links libfa-proto's sources with the decoder built as the 1.0 one
 * (FA_PROTO__READER_MINOR=0: the 1.1 parts are compiled out, which is all
 * the 1.0 decoder lacked). PROTOCOL.md §7: it must read every 1.1 message
 * as the 1.0 message it contains (the FRAME's appended site part skipped)
 * and refuse only SITES, as an unknown type whose header still names its
 * session; a capture file of 1.1 reads on past SITES.
 */
#include "fa_capture.h"
#include "fa_proto.h"
#include "../fixtures.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa_proto_space_t space;

/* The fixture as a 1.0 reader sees it: no sites. */
static fa_proto_msg_t as_1_0(const fa_proto_msg_t *m) {
    fa_proto_msg_t c = *m;
    if (c.header.type == FA_PROTO_FRAME) {
        c.frame.sites = NULL;
        c.frame.site_count = 0;
        c.frame.sites_total = 0;
    }
    if (c.header.type == FA_PROTO_HELLO) c.hello.ingest_secret = (fa_proto_str_t){NULL, 0}; /* 1.2 */
    return c;
}

Test(reader_1_0, reads_every_1_2_message_as_its_1_0_part_and_refuses_only_sites) {
    int frames_with_sites = 0, sites = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        size_t len;
        unsigned char *raw = proto_load_hex("tests/proto/golden", proto_fixture_name(i), &len);
        cr_assert(raw, "run from the top directory");
        fa_proto_storage_t st = fa_proto_storage_of(&space);
        fa_proto_msg_t m;
        int rc = fa_proto_decode(raw, len, &m, &st);
        if (fx->header.type == FA_PROTO_SITES) {
            cr_assert_eq(rc, FA_PROTO_ERR_UNKNOWN_TYPE, "%s", fa_proto_err_name(rc));
            fa_proto_header_t h;
            cr_assert_eq(fa_proto_decode_header(raw, len, &h), FA_PROTO_OK);
            cr_assert_eq(h.session_id, fx->header.session_id);
            sites++;
        } else {
            cr_assert_eq(rc, FA_PROTO_OK, "%s: %s", proto_fixture_name(i), fa_proto_err_name(rc));
            fa_proto_msg_t want = as_1_0(fx);
            char why[256] = "";
            cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s: %s", proto_fixture_name(i), why);
            frames_with_sites += fx->header.type == FA_PROTO_FRAME && fx->frame.site_count > 0;
        }
        free(raw);
    }
    cr_assert(frames_with_sites > 0 && sites > 0);
}

Test(reader_1_0, reads_1_0_messages_as_before) {
    int n = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        size_t len;
        unsigned char *raw = proto_load_hex("tests/proto/golden_v1_0", proto_fixture_name(i), &len);
        if (!raw) continue;
        fa_proto_storage_t st = fa_proto_storage_of(&space);
        fa_proto_msg_t m;
        cr_assert_eq(fa_proto_decode(raw, len, &m, &st), FA_PROTO_OK);
        fa_proto_msg_t want = as_1_0(proto_fixture_msg(i));
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s: %s", proto_fixture_name(i), why);
        free(raw);
        n++;
    }
    cr_assert_eq(n, 8);
}

Test(reader_1_0, a_1_1_capture_reads_on_past_its_sites_messages) {
    static unsigned char file[64 * 1024];
    size_t starts[16];
    long len = proto_fixture_capture(file, sizeof file, starts);
    cr_assert(len > 0);
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, file, (size_t)len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    int rc, ok = 0, skipped = 0;
    while ((rc = fa_capture_next(&r, &m, &st)) != 0) {
        if (rc == 1) {
            ok++;
            continue;
        }
        cr_assert_eq(rc, FA_PROTO_ERR_UNKNOWN_TYPE);
        cr_assert(r.resumable);
        skipped++;
    }
    cr_assert_eq(skipped, 1);
    cr_assert_eq(ok + skipped, (int)proto_fixture_count());
    cr_assert_eq(r.truncated_bytes, 0);
}
