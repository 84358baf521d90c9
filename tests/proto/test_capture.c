/*
 * test_capture.c — capture files (PROTOCOL.md §10): the file header, the
 * reader over whole files, files cut off at every byte, zero-filled tails,
 * and what the reader does with damaged or newer content.
 */
#include "fa_capture.h"
#include "fixtures.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static fa_proto_space_t space; /* large: static */
static unsigned char file[64 * 1024];
static size_t starts[16];

static size_t build(void) {
    long n = proto_fixture_capture(file, sizeof file, starts);
    cr_assert(n > 0);
    return (size_t)n;
}

/* Reads data[0..len) to its end; returns the messages read, and fails the
 * test on any error. Each message must equal the fixture at its position. */
static size_t read_all(const unsigned char *data, size_t len, fa_capture_reader_t *r) {
    cr_assert_eq(fa_capture_reader_init(r, data, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    size_t n = 0;
    int rc;
    while ((rc = fa_capture_next(r, &m, &st)) != 0) {
        cr_assert_eq(rc, 1, "error %s at offset %zu of %zu", fa_proto_err_name(rc), r->message_offset, len);
        char why[256] = "";
        cr_assert(proto_msg_equal(&m, proto_fixture_msg(n), why, sizeof why), "message %zu: %s", n, why);
        cr_assert_eq(r->message_offset, starts[n]);
        n++;
    }
    return n;
}

Test(capture, header_encodes_as_specified) {
    unsigned char h[16];
    cr_assert_eq(fa_capture_header_encode(h, sizeof h), 16);
    const unsigned char want[16] = {'F', 'A', 'C', 'F', 1, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(h, want, 16);
    cr_assert_eq(fa_capture_header_encode(h, 15), FA_PROTO_ERR_BUFFER_SMALL);
    cr_assert_eq(fa_capture_header_encode(NULL, 16), FA_PROTO_ERR_INVALID_ARG);
}

Test(capture, whole_file_reads_back_every_message_in_order) {
    size_t len = build();
    fa_capture_reader_t r;
    cr_assert_eq(read_all(file, len, &r), proto_fixture_count());
    cr_assert_eq(r.truncated_bytes, 0);
    cr_assert_eq(r.messages, proto_fixture_count());
    cr_assert_eq(r.skipped, 0);
    cr_assert_eq(r.header.version_major, 1);
    cr_assert_eq(r.header.header_size, 16);
}

Test(capture, cut_at_every_byte_of_the_last_message_reads_up_to_the_one_before) {
    size_t len = build(), count = proto_fixture_count(), last = starts[count - 1];
    for (size_t cut = last; cut < len; cut++) {
        fa_capture_reader_t r;
        cr_assert_eq(read_all(file, cut, &r), count - 1, "cut at %zu", cut);
        cr_assert_eq(r.truncated_bytes, cut - last, "cut at %zu", cut);
    }
}

Test(capture, cut_anywhere_gives_the_whole_messages_before_the_cut_and_never_an_error) {
    size_t len = build(), count = proto_fixture_count();
    for (size_t cut = 0; cut <= len; cut++) {
        size_t whole = 0;
        while (whole < count && (whole + 1 < count ? starts[whole + 1] : len) <= cut)
            whole++;
        fa_capture_reader_t r;
        cr_assert_eq(read_all(file, cut, &r), whole, "cut at %zu", cut);
        size_t end_of_whole = whole ? (whole < count ? starts[whole] : len) : (cut < 16 ? 0 : 16);
        cr_assert_eq(r.truncated_bytes, cut - (cut < 16 ? 0 : end_of_whole), "cut at %zu", cut);
    }
}

Test(capture, zero_filled_tail_after_a_power_loss_is_a_truncated_tail) {
    size_t len = build(), count = proto_fixture_count();
    static unsigned char padded[sizeof file + 4096];
    memcpy(padded, file, len);
    memset(padded + len, 0, 4096);
    fa_capture_reader_t r;
    cr_assert_eq(read_all(padded, len + 4096, &r), count);
    cr_assert_eq(r.truncated_bytes, 4096);
    /* Zeros from inside the last message's header, or from inside its
     * body (its header intact, its length reaching into the zeros). */
    size_t last = starts[count - 1];
    memset(padded + last + 7, 0, len + 4096 - last - 7);
    cr_assert_eq(read_all(padded, len + 4096, &r), count - 1);
    cr_assert_eq(r.truncated_bytes, len + 4096 - last);
    memcpy(padded, file, len);
    memset(padded + last + 40, 0, len + 4096 - last - 40);
    cr_assert_eq(read_all(padded, len + 4096, &r), count - 1);
    cr_assert_eq(r.skipped, 0);
    cr_assert_eq(r.truncated_bytes, len + 4096 - last);
}

Test(capture, garbage_between_messages_is_a_sticky_framing_error) {
    size_t len = build();
    file[starts[2]] = 'X';
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, file, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    cr_assert_eq(fa_capture_next(&r, &m, &st), 1);
    cr_assert_eq(fa_capture_next(&r, &m, &st), 1);
    cr_assert_eq(fa_capture_next(&r, &m, &st), FA_PROTO_ERR_BAD_MAGIC);
    cr_assert_not(r.resumable);
    cr_assert_eq(r.message_offset, starts[2]);
    cr_assert_eq(fa_capture_next(&r, &m, &st), FA_PROTO_ERR_BAD_MAGIC, "the error sticks");
}

Test(capture, message_of_an_unknown_type_is_skipped_and_reading_goes_on) {
    size_t len = build();
    file[starts[1] + 6] = 99; /* the type byte of the second message */
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, file, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    cr_assert_eq(fa_capture_next(&r, &m, &st), 1);
    cr_assert_eq(fa_capture_next(&r, &m, &st), FA_PROTO_ERR_UNKNOWN_TYPE);
    cr_assert(r.resumable);
    cr_assert_eq(r.message_offset, starts[1]);
    size_t rest = 0;
    int rc;
    while ((rc = fa_capture_next(&r, &m, &st)) == 1)
        rest++;
    cr_assert_eq(rc, 0);
    cr_assert_eq(rest, proto_fixture_count() - 2);
    cr_assert_eq(r.skipped, 1);
}

Test(capture, message_with_a_bad_body_is_skipped_with_its_error) {
    size_t len = build();
    /* The hello fixture's first tag path gets a control byte: the header is
     * sound, the body is not. */
    unsigned char *hello = file + starts[0];
    size_t hello_len = starts[1] - starts[0];
    unsigned char *slash = memchr(hello, '/', hello_len);
    cr_assert(slash);
    *slash = 0x01;
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, file, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    cr_assert_eq(fa_capture_next(&r, &m, &st), FA_PROTO_ERR_BAD_STRING);
    cr_assert(r.resumable);
    cr_assert_eq(fa_capture_next(&r, &m, &st), 1);
    cr_assert_eq(m.header.type, proto_fixture_msg(1)->header.type);
}

Test(capture, file_header_errors_name_what_is_wrong) {
    size_t len = build();
    fa_capture_reader_t r;
    memset(&r, 0x5A, sizeof r);
    fa_capture_reader_t before = r;
    cr_assert_eq(fa_capture_reader_init(&r, "FAPM", 4), FA_PROTO_ERR_BAD_MAGIC, "a message is not a capture");
    cr_assert_eq(fa_capture_reader_init(&r, "{\"json\":1}", 10), FA_PROTO_ERR_BAD_MAGIC);
    file[4] = 2;
    cr_assert_eq(fa_capture_reader_init(&r, file, len), FA_PROTO_ERR_BAD_VERSION);
    file[4] = 1;
    file[6] = 15;
    cr_assert_eq(fa_capture_reader_init(&r, file, len), FA_PROTO_ERR_LENGTH);
    cr_assert_eq(fa_capture_reader_init(NULL, file, len), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_eq(fa_capture_reader_init(&r, NULL, 3), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_arr_eq(&r, &before, sizeof r, "untouched on error");
}

Test(capture, empty_or_header_only_file_is_an_empty_capture) {
    build();
    fa_capture_reader_t r;
    cr_assert_eq(read_all(file, 0, &r), 0);
    cr_assert_eq(r.truncated_bytes, 0);
    cr_assert_eq(read_all(file, 16, &r), 0);
    cr_assert_eq(r.truncated_bytes, 0);
    cr_assert_eq(read_all(file, 9, &r), 0);
    cr_assert_eq(r.truncated_bytes, 9);
}

Test(capture, longer_header_of_a_newer_minor_version_is_skipped) {
    size_t len = build();
    static unsigned char newer[sizeof file + 8];
    memcpy(newer, file, 16);
    newer[5] = 3;  /* minor */
    newer[6] = 24; /* header_size */
    memset(newer + 16, 0xEE, 8);
    memcpy(newer + 24, file + 16, len - 16);
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, newer, len + 8), FA_PROTO_OK);
    cr_assert_eq(r.header.version_minor, 3);
    cr_assert_eq(r.offset, 24);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    size_t n = 0;
    while (fa_capture_next(&r, &m, &st) == 1)
        n++;
    cr_assert_eq(n, proto_fixture_count());
}

/* Each skipped message made the reader look at the whole zero tail again
 * (O(messages x tail)): 20 000 messages of an unknown type before 16 MiB of
 * zeros took minutes. Now each check stops at the first non-zero byte. */
Test(capture, many_skipped_messages_before_a_long_zero_tail_read_in_linear_time, .timeout = 20) {
    enum { N = 20000, TAIL = 16 << 20 };
    size_t len = FA_CAPTURE_HEADER_SIZE + (size_t)N * FA_PROTO_HEADER_SIZE + TAIL;
    unsigned char *data = calloc(1, len);
    cr_assert_not_null(data);
    cr_assert_eq(fa_capture_header_encode(data, FA_CAPTURE_HEADER_SIZE), (int)FA_CAPTURE_HEADER_SIZE);
    for (size_t i = 0; i < N; i++) {
        unsigned char *h = data + FA_CAPTURE_HEADER_SIZE + i * FA_PROTO_HEADER_SIZE;
        memcpy(h, "FAPM", 4);
        h[4] = FA_PROTO_VERSION_MAJOR;
        h[6] = 99; /* a type of a newer minor version: skipped */
        h[12] = 1; /* session 1 */
        h[FA_PROTO_HEADER_SIZE - 1] = 0xff; /* its last byte is not zero: the message is whole */
    }
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, data, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t m;
    int rc;
    while ((rc = fa_capture_next(&r, &m, &st)) != 0)
        cr_assert_eq(rc, FA_PROTO_ERR_UNKNOWN_TYPE, "%s at %zu", fa_proto_err_name(rc), r.message_offset);
    cr_assert_eq(r.skipped, N);
    cr_assert_eq(r.truncated_bytes, TAIL);
    free(data);
}
