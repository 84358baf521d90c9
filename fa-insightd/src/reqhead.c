/* reqhead.c — a strict parser of one HTTP/1.x request head (see reqhead.h). */
#include "reqhead.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 5.6.2: the characters of a token (method, header name). */
static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A field value's characters: visible, space, tab, obs-text. */
static bool is_value_char(unsigned char c) {
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* The end of the line starting at p (the index of its CR), -1 when no
 * CRLF is in buf yet, -2 when the line is malformed (a bare LF or CR). */
static long line_end(const char *buf, size_t len, size_t p) {
    for (size_t i = p; i < len; i++) {
        if (buf[i] == '\n') return -2;
        if (buf[i] == '\r') {
            if (i + 1 == len) return -1;
            return buf[i + 1] == '\n' ? (long)i : -2;
        }
    }
    return -1;
}

static reqhead_status_t fail(const char **why, const char *what, reqhead_status_t st) {
    *why = what;
    return st;
}

/* "HTTP/1.0" or "HTTP/1.1" at s (len bytes): the minor version, else -1. */
static int version_minor(const char *s, size_t len) {
    if (len != 8 || memcmp(s, "HTTP/1.", 7) != 0) return -1;
    return s[7] == '0' ? 0 : s[7] == '1' ? 1 : -1;
}

static reqhead_status_t request_line(const char *line, size_t len, reqhead_t *h, const char **why) {
    size_t m = 0;
    while (m < len && is_tchar((unsigned char)line[m]))
        m++;
    if (m == 0 || m >= len || line[m] != ' ') return fail(why, "the request line has no method", REQHEAD_BAD);
    if (m > 15) return fail(why, "the method is longer than 15 characters", REQHEAD_BAD);
    size_t t = m + 1, te = t;
    while (te < len && (unsigned char)line[te] > 0x20 && (unsigned char)line[te] < 0x7f)
        te++;
    if (te == t || te >= len || line[te] != ' ')
        return fail(why, "the request target is empty or holds a space or control character", REQHEAD_BAD);
    int minor = version_minor(line + te + 1, len - te - 1);
    if (minor < 0) {
        /* A third word that is a version, just not ours, gets a 505. */
        const char *v = line + te + 1;
        size_t vl = len - te - 1;
        return vl > 5 && memcmp(v, "HTTP/", 5) == 0 && !memchr(v, ' ', vl)
                   ? fail(why, "only HTTP/1.1 and HTTP/1.0 are served", REQHEAD_VERSION)
                   : fail(why, "the request line does not end in HTTP/1.1", REQHEAD_BAD);
    }
    h->method = (reqhead_text_t){line, m};
    h->target = (reqhead_text_t){line + t, te - t};
    h->minor = minor;
    return REQHEAD_OK;
}

static reqhead_status_t field_line(const char *line, size_t len, const char *const *names, size_t n,
                                   reqhead_t *h, const char **why) {
    size_t c = 0;
    while (c < len && is_tchar((unsigned char)line[c]))
        c++;
    if (c == 0 || c >= len || line[c] != ':')
        return fail(why,
                    c == 0 && len && (line[0] == ' ' || line[0] == '\t')
                        ? "folded header lines are not accepted"
                        : "a header line is not 'name: value' (no space before the colon)",
                    REQHEAD_BAD);
    size_t v = c + 1, ve = len;
    for (size_t i = v; i < len; i++)
        if (!is_value_char((unsigned char)line[i]))
            return fail(why, "a header value holds a control character", REQHEAD_BAD);
    while (v < ve && (line[v] == ' ' || line[v] == '\t'))
        v++;
    while (ve > v && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
        ve--;
    for (size_t k = 0; k < n; k++) {
        if (strlen(names[k]) != c || strncasecmp(names[k], line, c) != 0) continue;
        if (h->values[k].s) return fail(why, "a header is given twice", REQHEAD_BAD);
        h->values[k] = (reqhead_text_t){line + v, ve - v};
    }
    return REQHEAD_OK;
}

reqhead_status_t reqhead_parse(const char *buf, size_t len, const char *const *names, size_t n,
                               reqhead_t *out, const char **why) {
    if (n > REQHEAD_WANTED) return fail(why, "too many headers asked for", REQHEAD_BAD);
    size_t p = 0;
    while (p + 1 < len && buf[p] == '\r' && buf[p + 1] == '\n')
        p += 2;
    if (p > REQHEAD_MAX) return fail(why, "the request head is larger than 8 KiB", REQHEAD_TOO_LARGE);
    size_t start = p;
    reqhead_t h;
    memset(&h, 0, sizeof h);
    size_t limit = len < start + REQHEAD_MAX ? len : start + REQHEAD_MAX;
    for (unsigned lines = 0;; lines++) {
        long e = line_end(buf, limit, p);
        if (e == -2) return fail(why, "a line does not end in CRLF", REQHEAD_BAD);
        if (e == -1)
            return limit < len || limit - start >= REQHEAD_MAX
                       ? fail(why, "the request head is larger than 8 KiB", REQHEAD_TOO_LARGE)
                       : REQHEAD_MORE;
        size_t l = (size_t)e - p;
        reqhead_status_t st;
        if (lines == 0) {
            st = request_line(buf + p, l, &h, why);
        } else if (l == 0) {
            h.head_len = (size_t)e + 2;
            *out = h;
            return REQHEAD_OK;
        } else if (lines > REQHEAD_MAX_FIELDS) {
            st = fail(why, "the request has more than 100 header lines", REQHEAD_TOO_LARGE);
        } else {
            st = field_line(buf + p, l, names, n, &h, why);
        }
        if (st != REQHEAD_OK) return st;
        p = (size_t)e + 2;
    }
}

bool reqhead_has_token(reqhead_text_t value, const char *token) {
    size_t tl = strlen(token);
    for (size_t i = 0; i < value.len;) {
        while (i < value.len && (value.s[i] == ' ' || value.s[i] == '\t' || value.s[i] == ','))
            i++;
        size_t j = i;
        while (j < value.len && value.s[j] != ',')
            j++;
        size_t e = j;
        while (e > i && (value.s[e - 1] == ' ' || value.s[e - 1] == '\t'))
            e--;
        if (e - i == tl && strncasecmp(value.s + i, token, tl) == 0) return true;
        i = j;
    }
    return false;
}
