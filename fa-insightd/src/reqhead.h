/* reqhead.h — a strict parser of one HTTP/1.x request head.
 *
 * Why: nng 1.5.2 parses the first request of a connection well, but its
 * connection keeps an 8 KiB read buffer that it empties only when every
 * byte in it has been parsed: behind ~8 KiB of pipelined requests the
 * buffer is full, its next read asks for 0 bytes, which reads as the end
 * of the stream, and nng closes the connection with the rest of the
 * pipeline unanswered (http.c). So the daemon takes every connection over
 * after its first request (nng_http_hijack) and reads the following heads
 * itself, with this parser.
 *
 * Strict on purpose: a request line "METHOD SP target SP HTTP/1.0|1.1",
 * then "name: value" lines, each ending in CRLF, then an empty line. No
 * bare LF, no folded lines, no whitespace before a colon, no control
 * characters, at most REQHEAD_MAX bytes and REQHEAD_MAX_FIELDS lines,
 * and no header the caller asks for given twice (a second Host or
 * Content-Length is a request-smuggling vector when two parsers
 * disagree). Empty lines before the request line are skipped (RFC 9112
 * 2.2).
 *
 * The parser neither allocates nor keeps state: it reads buf[0..len) and
 * points into it. THREADS: any. COST: O(len). */
#ifndef FA_INSIGHTD_REQHEAD_H
#define FA_INSIGHTD_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>

enum {
    REQHEAD_MAX = 8192,       /* bytes of a head, the empty line included (nng's limit too) */
    REQHEAD_MAX_FIELDS = 100, /* header lines */
    REQHEAD_WANTED = 8        /* headers the caller can ask for */
};

typedef enum {
    REQHEAD_OK = 0,         /* a complete head */
    REQHEAD_MORE = 1,       /* no complete head yet, and no error in what there is */
    REQHEAD_BAD = -1,       /* malformed: 400 */
    REQHEAD_TOO_LARGE = -2, /* over REQHEAD_MAX bytes or REQHEAD_MAX_FIELDS lines: 431 */
    REQHEAD_VERSION = -3    /* not HTTP/1.0 or HTTP/1.1: 505 */
} reqhead_status_t;

typedef struct reqhead_text {
    const char *s; /* into the buffer; NOT NUL-terminated */
    size_t len;
} reqhead_text_t;

typedef struct reqhead {
    size_t head_len; /* bytes consumed: skipped empty lines + the head */
    reqhead_text_t method, target;
    int minor; /* HTTP/1.<minor> */
    /* values of the names asked for, in their order (s NULL: absent),
     * optional whitespace around them removed */
    reqhead_text_t values[REQHEAD_WANTED];
} reqhead_t;

/* Parses the head at the start of buf. names: n (<= REQHEAD_WANTED)
 * header names whose values the caller wants (compared without case).
 * On REQHEAD_OK fills *out; on an error sets *why to a static phrase
 * saying what is wrong (for the error response); *out and *why are
 * otherwise left alone. */
reqhead_status_t reqhead_parse(const char *buf, size_t len, const char *const *names, size_t n,
                               reqhead_t *out, const char **why);

/* Whether a comma-separated header value holds token (without case), as
 * "close" in "Connection: keep-alive, close". */
bool reqhead_has_token(reqhead_text_t value, const char *token);

#endif
