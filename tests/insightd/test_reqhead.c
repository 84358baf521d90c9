/* test_reqhead.c — the strict request-head parser the daemon uses for the
 * requests that follow the first one on a connection (reqhead.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "reqhead.h"

static const char *const names[] = {"Host", "Content-Length", "Connection"};

static reqhead_status_t parse(const char *s, reqhead_t *h, const char **why) {
    return reqhead_parse(s, strlen(s), names, 3, h, why);
}

static bool text_is(reqhead_text_t t, const char *want) {
    return t.s && t.len == strlen(want) && memcmp(t.s, want, t.len) == 0;
}

Test(reqhead, parses_a_head_and_stops_at_its_end) {
    const char *s =
        "\r\nGET /api/v1/health?x=1 HTTP/1.1\r\nhost:  127.0.0.1:7878 \r\nX-Other: a\r\n\r\nGET /next";
    reqhead_t h;
    const char *why = NULL;
    cr_assert_eq(parse(s, &h, &why), REQHEAD_OK, "%s", why);
    cr_assert_eq(h.head_len, strstr(s, "GET /next") - s);
    cr_assert(text_is(h.method, "GET"));
    cr_assert(text_is(h.target, "/api/v1/health?x=1"));
    cr_assert_eq(h.minor, 1);
    cr_assert(text_is(h.values[0], "127.0.0.1:7878"));
    cr_assert_null(h.values[1].s);
}

Test(reqhead, a_partial_head_asks_for_more) {
    const char *full = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    reqhead_t h;
    const char *why = NULL;
    for (size_t n = 0; n < strlen(full); n++)
        cr_assert_eq(reqhead_parse(full, n, names, 3, &h, &why), REQHEAD_MORE, "at %zu bytes", n);
}

Test(reqhead, malformed_heads_are_refused_with_a_reason) {
    const char *bad[] = {
        "GET / HTTP/1.1\nHost: a\r\n\r\n",              /* bare LF */
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",           /* space before the colon */
        "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",         /* folded */
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", /* Host twice */
        "GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n",
        "GET /a b HTTP/1.1\r\n\r\n",           /* space in the target */
        "GET  / HTTP/1.1\r\n\r\n",             /* empty target */
        "GET / HTTP/1.1\r\nX: a\001b\r\n\r\n", /* control character */
        " GET / HTTP/1.1\r\n\r\n",
        "GET / http/1.1\r\n\r\n",
        "GET /\r\n\r\n", /* HTTP/0.9 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        reqhead_t h;
        const char *why = NULL;
        cr_assert_eq(parse(bad[i], &h, &why), REQHEAD_BAD, "case %zu", i);
        cr_assert(why && *why, "case %zu says why", i);
    }
    reqhead_t h;
    const char *why = NULL;
    cr_assert_eq(parse("GET / HTTP/2.0\r\n\r\n", &h, &why), REQHEAD_VERSION);
}

Test(reqhead, heads_over_8_KiB_or_100_lines_are_too_large) {
    static char big[REQHEAD_MAX + 64];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET /", 5);
    reqhead_t h;
    const char *why = NULL;
    cr_assert_eq(reqhead_parse(big, sizeof big, names, 3, &h, &why), REQHEAD_TOO_LARGE);
    cr_assert_eq(reqhead_parse(big, REQHEAD_MAX, names, 3, &h, &why), REQHEAD_TOO_LARGE);
    cr_assert_eq(reqhead_parse(big, REQHEAD_MAX - 1, names, 3, &h, &why), REQHEAD_MORE);
    char many[4096] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < 101; i++)
        strcat(many, "X: y\r\n");
    strcat(many, "\r\n");
    cr_assert_eq(parse(many, &h, &why), REQHEAD_TOO_LARGE);
}

Test(reqhead, connection_tokens_are_found_in_lists) {
    reqhead_text_t v = {"keep-alive, Close ", 18};
    cr_assert(reqhead_has_token(v, "close"));
    cr_assert(reqhead_has_token(v, "keep-alive"));
    cr_assert_not(reqhead_has_token(v, "clos"));
    reqhead_text_t u = {"closed", 6};
    cr_assert_not(reqhead_has_token(u, "close"));
}
