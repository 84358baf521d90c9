/*
 * fuzz_reqhead.c — libFuzzer target for fa-insightd's request-head parser
 * (fa-insightd/src/reqhead.c), which reads what HTTP clients pipeline
 * behind the first request of a connection.
 *
 * Properties checked on every input (abort() on violation):
 *   - it never reads outside the buffer (ASan: the input is copied into an
 *     allocation of exactly its size);
 *   - a complete head is at most REQHEAD_MAX bytes past the skipped empty
 *     lines, ends in CRLF CRLF, and its method, target and values lie
 *     inside it, free of CR and LF;
 *   - the head alone parses the same, and one byte less asks for more;
 *   - an error always says why.
 */
#include "reqhead.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                             \
    do {                                                                                                     \
        if (!(c)) abort();                                                                                   \
    } while (0)

static const char *const names[] = {"Host", "Content-Length", "Transfer-Encoding", "Connection"};

static void check_text(const char *buf, size_t head_len, reqhead_text_t t) {
    if (!t.s) return;
    CHECK(t.s >= buf && t.s + t.len <= buf + head_len);
    CHECK(!memchr(t.s, '\r', t.len) && !memchr(t.s, '\n', t.len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    reqhead_t h;
    const char *why = NULL;
    reqhead_status_t st = reqhead_parse(buf, size, names, 4, &h, &why);
    if (st == REQHEAD_OK) {
        CHECK(h.head_len >= 4 && h.head_len <= size && memcmp(buf + h.head_len - 4, "\r\n\r\n", 4) == 0);
        CHECK(h.minor == 0 || h.minor == 1);
        CHECK(h.method.len >= 1 && h.method.len <= 15 && h.target.len >= 1);
        check_text(buf, h.head_len, h.method);
        check_text(buf, h.head_len, h.target);
        for (int i = 0; i < 4; i++)
            check_text(buf, h.head_len, h.values[i]);
        reqhead_t again;
        CHECK(reqhead_parse(buf, h.head_len, names, 4, &again, &why) == REQHEAD_OK);
        CHECK(again.head_len == h.head_len && again.target.s == h.target.s);
        CHECK(reqhead_parse(buf, h.head_len - 1, names, 4, &again, &why) == REQHEAD_MORE);
    } else if (st != REQHEAD_MORE) {
        CHECK(st == REQHEAD_BAD || st == REQHEAD_TOO_LARGE || st == REQHEAD_VERSION);
        CHECK(why && *why);
    }
    free(buf);
    return 0;
}
