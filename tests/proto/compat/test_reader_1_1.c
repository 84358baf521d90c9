/*
 * test_reader_1_1.c — what a reader of protocol 1.1 (a daemon of the
 * previous release) makes of 1.2 HELLOs. This binary links libfa-proto's
 * sources with the decoder built as the 1.1 one (FA_PROTO__READER_MINOR=1:
 * the 1.2 part compiled out). PROTOCOL.md §7: a 1.2 HELLO reads as its 1.1
 * part, the appended ingest secret skipped, and the 1.1 HELLOs read as
 * before.
 */
#include "fa_proto.h"
#include "../fixtures.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa_proto_space_t space;

/* Decodes golden `name` of dir and checks it equals fixture i without its
 * secret; returns the secret length the decoder saw (always 0 here). */
static size_t read_hello(const char *dir, size_t i) {
    size_t len;
    unsigned char *raw = proto_load_hex(dir, proto_fixture_name(i), &len);
    cr_assert(raw, "%s/%s.hex: missing or bad (run from the top directory)", dir, proto_fixture_name(i));
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    int rc = fa_proto_decode(raw, len, &m, &st);
    cr_assert_eq(rc, FA_PROTO_OK, "%s/%s: %s", dir, proto_fixture_name(i), fa_proto_err_name(rc));
    fa_proto_msg_t want = *proto_fixture_msg(i);
    want.hello.ingest_secret = (fa_proto_str_t){NULL, 0};
    char why[256] = "";
    cr_assert(proto_msg_equal(&m, &want, why, sizeof why), "%s/%s: %s", dir, proto_fixture_name(i), why);
    free(raw);
    return m.hello.ingest_secret.len;
}

Test(reader_1_1, reads_a_1_2_hello_as_its_1_1_part_without_the_secret) {
    int hellos = 0, with_secret = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++) {
        const fa_proto_msg_t *fx = proto_fixture_msg(i);
        if (fx->header.type != FA_PROTO_HELLO) continue;
        cr_assert_eq(read_hello("tests/proto/golden", i), 0);
        with_secret += fx->hello.ingest_secret.len > 0;
        hellos++;
    }
    cr_assert(hellos == 2 && with_secret == 1);
}

Test(reader_1_1, reads_1_1_hellos_as_before) {
    int hellos = 0;
    for (size_t i = 0; i < proto_fixture_count(); i++)
        if (proto_fixture_msg(i)->header.type == FA_PROTO_HELLO) {
            cr_assert_eq(read_hello("tests/proto/golden_v1_1", i), 0);
            hellos++;
        }
    cr_assert_eq(hellos, 2);
}
