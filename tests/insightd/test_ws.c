/* test_ws.c — client messages arrive as a byte stream (nng stream mode
 * loses WebSocket message boundaries): the splitter finds whole values. */
#include "helpers.h"

static long ext(const char *s, size_t *skip) {
    return ws_json_extent(s, strlen(s), skip);
}

Test(ws, json_extent_finds_whole_values) {
    size_t skip;
    cr_assert_eq(ext("{\"subscribe\":\"*\"}", &skip), 17);
    cr_assert_eq(skip, 0);
    cr_assert_eq(ext("  \n{\"a\":1}{\"b\":2}", &skip), 7);
    cr_assert_eq(skip, 3);
    cr_assert_eq(ext("{\"a\":\"}{\\\"\"}x", &skip), 12, "braces and quotes inside strings");
    cr_assert_eq(ext("[1,[2,{}]]", &skip), 10);
}

Test(ws, json_extent_waits_for_the_rest) {
    size_t skip;
    cr_assert_eq(ext("{\"subscribe\":", &skip), 0);
    cr_assert_eq(ext("{\"a\":\"}", &skip), 0);
    cr_assert_eq(ext("   ", &skip), 0);
    cr_assert_eq(ext("", &skip), 0);
}

Test(ws, json_extent_refuses_non_values) {
    size_t skip;
    cr_assert_eq(ext("hello", &skip), -1);
    cr_assert_eq(ext("\"str\"", &skip), -1);
    cr_assert_eq(ext("}", &skip), -1);
}
