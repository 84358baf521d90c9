/* url.c — percent-decoding and query strings (see url.h). */
#include "url.h"

#include <stdio.h>
#include <string.h>

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int url_decode(char *s, bool plus_is_space) {
    char *out = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = hexval((unsigned char)p[1]), lo = hi < 0 ? -1 : hexval((unsigned char)p[2]);
            if (hi < 0 || lo < 0) return -1;
            int c = hi * 16 + lo;
            if (c == 0) return -1;
            *out++ = (char)c;
            p += 2;
        } else if (*p == '+' && plus_is_space) {
            *out++ = ' ';
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
    return (int)(out - s);
}

int url_parse_query(const char *query, url_param_t *out, int cap, char *err, size_t errcap) {
    int n = 0;
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            if (n == cap) {
                snprintf(err, errcap, "too many query parameters (at most %d)", cap);
                return -1;
            }
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            size_t vlen = eq ? len - nlen - 1 : 0;
            if (nlen >= sizeof out[n].name || vlen >= sizeof out[n].value) {
                snprintf(err, errcap, "query parameter too long");
                return -1;
            }
            memcpy(out[n].name, p, nlen);
            out[n].name[nlen] = '\0';
            memcpy(out[n].value, eq ? eq + 1 : "", vlen);
            out[n].value[vlen] = '\0';
            if (url_decode(out[n].name, true) < 0 || url_decode(out[n].value, true) < 0) {
                snprintf(err, errcap, "bad percent-encoding in the query string");
                return -1;
            }
            if (out[n].name[0] == '\0') {
                snprintf(err, errcap, "query parameter without a name");
                return -1;
            }
            for (int i = 0; i < n; i++) {
                if (strcmp(out[i].name, out[n].name) == 0) {
                    snprintf(err, errcap, "parameter '%s' given twice", out[n].name);
                    return -1;
                }
            }
            n++;
        }
        p = amp ? amp + 1 : NULL;
    }
    return n;
}
