/*
 * test_older_reader.c — what a reader of an older minor version (an older
 * fa-insightd, fa-cli compare, a capture importer) makes of this version's
 * messages. Built twice, linking libfa-proto's sources with the decoder
 * built as an older one (FA_PROTO__READER_MINOR=0 and =1: the newer parts
 * are compiled out, which is all the older decoders lacked). PROTOCOL.md
 * §7: it must read every message as the older message it contains (1.0:
 * the FRAME's appended site part skipped; both: the HELLO's appended ingest
 * secret skipped) and refuse only the message
 * types it does not know (1.0: SITES and FRAMES; 1.1: FRAMES), as an
 * unknown type whose header still names its session; a capture file reads
 * on past them.
 */
#include "../fixtures.h"
#include "fa_capture.h"
#include "fa_proto.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FA_PROTO__READER_MINOR
#error "build with -DFA_PROTO__READER_MINOR=<the older minor version>"
#endif
/* The newest message type the older reader knows. */
#define NEWEST_TYPE (FA_PROTO__READER_MINOR >= 1 ? FA_PROTO_SITES : FA_PROTO_BYE)

static fa_proto_space_t space;

/* The fixture as the older reader sees it (1.0: no sites; 1.0 and 1.1: no
 * HELLO ingest secret, appended in 1.2). */
static fa_proto_msg_t as_older(const fa_proto_msg_t *m) {
    fa_proto_msg_t c = *m;
    if (c.header.type == FA_PROTO_HELLO) c.hello.ingest_secret = (fa_proto_str_t){NULL, 0};
    if (c.header.type == FA_PROTO_FRAME && FA_PROTO__READER_MINOR < 1) {
        c.frame.sites = NULL;
        c.frame.site_count = 0;
        c.frame.sites_total = 0;
    }
    return c;
}

Test(older_reader, reads_every_message_as_its_older_part_and_refuses_only_newer_types) {
    int refused = 0, read = 0, secrets = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        secrets += fx->header.type == FA_PROTO_HELLO && fx->hello.ingest_secret.len > 0;
        size_t len;
        unsigned char *raw = proto_load_hex("tests/proto/golden", proto_fixture_name(i), &len);
        cr_assert(raw, "run from the top directory");
        fa_proto_storage_t st = fa_proto_storage_of(&space);
        fa_proto_msg_t m;
        int rc = fa_proto_decode(raw, len, &m, &st);
        if (fx->header.type > NEWEST_TYPE) {
            cr_assert_eq(rc, FA_PROTO_ERR_UNKNOWN_TYPE, "%s: %s", proto_fixture_name(i),
                         fa_proto_err_name(rc));
            fa_proto_header_t h;
            cr_assert_eq(fa_proto_decode_header(raw, len, &h), FA_PROTO_OK);
            cr_assert_eq(h.session_id, fx->header.session_id);
            refused++;
        } else {
            cr_assert_eq(rc, FA_PROTO_OK, "%s: %s", proto_fixture_name(i), fa_proto_err_name(rc));
            fa_proto_msg_t want = as_older(fx);
            char why[256] = "";
            cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s: %s", proto_fixture_name(i), why);
            read++;
        }
        free(raw);
    }
    cr_assert_eq(refused, FA_PROTO__READER_MINOR >= 1 ? 1 : 2, "FRAMES (and for 1.0 SITES) only");
    cr_assert_gt(read, 0);
    cr_assert_geq(secrets, 1, "a 1.2 HELLO with a secret is among them (read without it)");
}

/* Its own version's messages (the frozen goldens of that version) read as
 * they always did. */
Test(older_reader, reads_its_own_versions_messages_as_before) {
    int n = 0;
    const char *dirs[] = {"tests/proto/golden_v1_0",
                          FA_PROTO__READER_MINOR >= 1 ? "tests/proto/golden_v1_1" : NULL};
    for (int d = 0; d < 2 && dirs[d]; d++) {
        for (size_t i = 0; i < proto_fixture_count(); i++) {
            size_t len;
            unsigned char *raw = proto_load_hex(dirs[d], proto_fixture_name(i), &len);
            if (!raw) continue;
            fa_proto_storage_t st = fa_proto_storage_of(&space);
            fa_proto_msg_t m;
            cr_assert_eq(fa_proto_decode(raw, len, &m, &st), FA_PROTO_OK, "%s/%s", dirs[d],
                         proto_fixture_name(i));
            fa_proto_msg_t want = as_older(proto_fixture_msg(i));
            if (d == 0 && want.header.type == FA_PROTO_FRAME) {
                want.frame.sites = NULL;
                want.frame.site_count = 0;
                want.frame.sites_total = 0;
            }
            char why[256] = "";
            cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s/%s: %s", dirs[d],
                      proto_fixture_name(i), why);
            free(raw);
            n++;
        }
    }
    cr_assert_geq(n, FA_PROTO__READER_MINOR >= 1 ? 16 : 8);
}

Test(older_reader, a_newer_capture_reads_on_past_the_types_it_does_not_know) {
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
    cr_assert_eq(skipped, FA_PROTO__READER_MINOR >= 1 ? 1 : 2, "skipped %d, read %d", skipped, ok);
    cr_assert_eq(ok + skipped, (int)proto_fixture_count());
    cr_assert_eq(r.truncated_bytes, 0);
}
