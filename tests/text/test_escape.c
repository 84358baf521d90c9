/* libfa-text escape: one definition of unsafe text (controls, bidi
 * overrides, invalid UTF-8) for the daemon's ingest and the CLI's output. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "escape.h"

static char *san(const char *in, size_t len) {
    static char out[256];
    escape_sanitize_copy(out, sizeof out, in, len);
    return out;
}
#define SAN(lit) san(lit, sizeof lit - 1)

Test(escape, printable_text_is_kept_whole) {
    cr_assert_str_eq(SAN("physics/contacts"), "physics/contacts");
    cr_assert_str_eq(SAN("caf\xc3\xa9 \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x8e\xae"),
                     "caf\xc3\xa9 \xe6\xbc\xa2\xe5\xad\x97 \xf0\x9f\x8e\xae");
    cr_assert_str_eq(SAN("\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a"), "\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a",
                     "Arabic letters stay");
}

Test(escape, c0_and_del_controls_are_replaced) {
    cr_assert_str_eq(SAN("a\x1b]0;pwned\x07z"), "a?]0;pwned?z");
    cr_assert_str_eq(SAN("tab\there\nnl\r\x7f"), "tab?here?nl??");
    cr_assert_str_eq(SAN("nul\0inside"), "nul?inside", "an embedded NUL does not cut the string");
}

Test(escape, c1_controls_are_replaced) {
    /* U+009B is CSI, U+009D OSC, U+0085 NEL. */
    cr_assert_str_eq(SAN("x\xc2\x9b"
                         "2Jy\xc2\x9d"
                         "8;;http://e\xc2\x85"),
                     "x?2Jy?8;;http://e?");
    cr_assert_str_eq(SAN("\xc2\xa0\xc2\x9f\xc2\xa9"), "\xc2\xa0?\xc2\xa9",
                     "U+00A0 and U+00A9 stay, U+009F goes");
}

Test(escape, bidi_overrides_and_separators_are_replaced) {
    cr_assert_str_eq(SAN("evil\xe2\x80\xaegpj.exe"), "evil?gpj.exe", "U+202E right-to-left override");
    const char *bidi[] = {"\xd8\x9c",     "\xe2\x80\x8e", "\xe2\x80\x8f", "\xe2\x80\xaa", "\xe2\x80\xab",
                          "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
                          "\xe2\x81\xa9", "\xe2\x80\xa8", "\xe2\x80\xa9"};
    for (size_t i = 0; i < sizeof bidi / sizeof bidi[0]; i++) {
        char in[16];
        snprintf(in, sizeof in, "a%sb", bidi[i]);
        cr_assert_str_eq(san(in, strlen(in)), "a?b", "code point %zu kept", i);
    }
    cr_assert_str_eq(SAN("\xe2\x80\x94\xe2\x80\x8d"), "\xe2\x80\x94\xe2\x80\x8d", "dash and ZWJ stay");
}

Test(escape, invalid_utf8_is_replaced_byte_by_byte) {
    cr_assert_str_eq(SAN("ok\xc3\xa9\xff\x01\xe2\x82"), "ok\xc3\xa9????", "as the daemon always did");
    cr_assert_str_eq(SAN("\xc0\xaf"), "??", "overlong '/'");
    cr_assert_str_eq(SAN("\xed\xa0\x80"), "???", "a surrogate");
    cr_assert_str_eq(SAN("\xf4\x90\x80\x80"), "????", "above U+10FFFF");
    cr_assert_str_eq(SAN("\x80z"), "?z", "a stray continuation byte");
}

Test(escape, copies_are_cut_on_a_character_boundary) {
    char out[6];
    escape_sanitize_copy(out, sizeof out, "abc\xc3\xa9\xc3\xa9", 7);
    cr_assert_str_eq(out, "abc\xc3\xa9");
    escape_sanitize_copy(out, sizeof out, "abcd\xc3\xa9", 6);
    cr_assert_str_eq(out, "abcd", "the half character is left out");
    escape_sanitize_copy(out, sizeof out, "abcd\x1b\x1b", 6);
    cr_assert_str_eq(out, "abcd?");
    char one[1];
    cr_assert_eq(escape_sanitize_copy(one, 1, "x", 1), 0);
    cr_assert_str_eq(one, "");
}

Test(escape, in_place_returns_the_number_replaced) {
    char s[] = "a\x1b[2Jb\xe2\x80\xae";
    cr_assert_eq(escape_sanitize(s), 2);
    cr_assert_str_eq(s, "a?[2Jb?");
}

Test(escape, find_reports_offset_length_and_code_point) {
    size_t n;
    uint32_t cp;
    cr_assert_eq(escape_find_unsafe("ab\xe2\x80\xae", 5, &n, &cp), 2);
    cr_assert_eq(n, 3);
    cr_assert_eq(cp, 0x202e);
    cr_assert_eq(escape_find_unsafe("ab\xff", 3, &n, &cp), 2);
    cr_assert_eq(n, 1);
    cr_assert_eq(cp, ESCAPE_INVALID);
    cr_assert_eq(escape_find_unsafe("abc", 3, &n, &cp), 3);
    cr_assert_eq(n, 0);
}

typedef struct buf {
    char s[256];
    size_t len;
} buf_t;

static void sink(void *user, const char *data, size_t n) {
    buf_t *b = user;
    cr_assert_gt(n, 0);
    cr_assert_lt(b->len + n, sizeof b->s);
    memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static const char *json(const char *in, size_t len) {
    static buf_t b;
    b.len = 0;
    b.s[0] = '\0';
    escape_json(in, len, sink, &b);
    return b.s;
}
#define JSON(lit) json(lit, sizeof lit - 1)

Test(escape, json_escapes_quotes_controls_bidi_and_invalid_bytes) {
    cr_assert_str_eq(JSON("plain caf\xc3\xa9"), "plain caf\xc3\xa9");
    cr_assert_str_eq(JSON("say \"hi\" \\ bye"), "say \\\"hi\\\" \\\\ bye");
    cr_assert_str_eq(JSON("a\nb\x1b\x7f"), "a\\u000ab\\u001b\\u007f");
    cr_assert_str_eq(JSON("\xc2\x9b\xe2\x80\xae"), "\\u009b\\u202e");
    cr_assert_str_eq(JSON("bad\xff%FF"), "bad\\ufffd%FF", "invalid bytes become U+FFFD: the output is UTF-8");
    cr_assert_str_eq(JSON(""), "");
}
