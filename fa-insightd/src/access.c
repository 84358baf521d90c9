/* access.c — Host, Origin and token checks (see access.h). */
#include "access.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define TOKEN_MIN 16

/* Splits "name", "name:port", "[v6]", "[v6]:port" into the name (without
 * brackets) and the port (-1 when absent). Returns 0 or -1. */
static int split_host(const char *s, size_t len, char *name, size_t cap, long *port) {
    const char *end = s + len, *colon = NULL;
    size_t nlen;
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close) return -1;
        nlen = (size_t)(close - s - 1);
        s++;
        if (close + 1 < end) {
            if (close[1] != ':') return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) return -1; /* bare v6 */
        nlen = colon ? (size_t)(colon - s) : len;
    }
    if (nlen == 0 || nlen >= cap) return -1;
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    *port = -1;
    if (colon) {
        const char *p = colon + 1;
        if (p == end || end - p > 5) return -1;
        long v = 0;
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p)) return -1;
            v = v * 10 + (*p - '0');
        }
        if (v > 65535) return -1;
        *port = v;
    }
    return 0;
}

static bool name_is_loopback(const char *name) {
    size_t n = strlen(name);
    if (n && name[n - 1] == '.') n--; /* "localhost." is the same name */
    if ((n == 9 && strncasecmp(name, "localhost", 9) == 0) ||
        (n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0))
        return true; /* RFC 6761: always the loopback interface */
    if (strcmp(name, "::1") == 0 || strcasecmp(name, "0:0:0:0:0:0:0:1") == 0) return true;
    unsigned a, b, c, d;
    char tail;
    return sscanf(name, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 &&
           d < 256;
}

bool access_host_is_loopback(const char *host) {
    char name[256];
    long port;
    return host && split_host(host, strlen(host), name, sizeof name, &port) == 0 && name_is_loopback(name);
}

/* Whether origin's host and port equal the Host header's. */
static bool same_host(const char *oname, long oport, const char *host) {
    char name[256];
    long port;
    if (!host || split_host(host, strlen(host), name, sizeof name, &port) != 0) return false;
    return strcasecmp(oname, name) == 0 && oport == (port < 0 ? 80 : port);
}

bool access_origin_allowed(const char *origin, const char *host, int listen_port, bool loopback,
                           const char *allow) {
    for (const char *p = allow; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *q = p;
        size_t m = n;
        while (m && isspace((unsigned char)*q))
            q++, m--;
        while (m && isspace((unsigned char)q[m - 1]))
            m--;
        if ((m == 1 && q[0] == '*') || (m && strlen(origin) == m && strncasecmp(origin, q, m) == 0))
            return true;
        p += n + (p[n] == ',');
    }
    long def;
    const char *rest;
    if (strncasecmp(origin, "http://", 7) == 0)
        def = 80, rest = origin + 7;
    else if (strncasecmp(origin, "https://", 8) == 0)
        def = 443, rest = origin + 8;
    else
        return false; /* "null" (a sandboxed or file: page) and other schemes */
    char name[256];
    long port;
    if (split_host(rest, strlen(rest), name, sizeof name, &port) != 0) return false;
    if (port < 0) port = def;
    /* The dashboard's own page, however the user named the daemon. */
    if (same_host(name, port, host)) return true;
    return loopback && name_is_loopback(name) && port == listen_port;
}

bool access_secret_equal(const char *given, size_t glen, const char *token) {
    size_t tlen = strlen(token);
    unsigned char diff = glen != tlen;
    for (size_t i = 0; i < tlen; i++)
        diff |= (unsigned char)token[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    return diff == 0 && tlen > 0;
}

bool access_bearer_ok(const char *authorization, const char *token) {
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) return false;
    const char *t = authorization + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    return access_secret_equal(t, n, token);
}

bool access_query_token_ok(const char *uri, const char *token) {
    const char *q = uri ? strchr(uri, '?') : NULL;
    while (q) {
        q++;
        size_t n = strcspn(q, "&#");
        if (n > 6 && strncmp(q, "token=", 6) == 0) return access_secret_equal(q + 6, n - 6, token);
        q = q[n] == '&' ? q + n : NULL;
    }
    return false;
}

int access_read_token_file(const char *flag, const char *path, char *out, size_t cap, char *err,
                           size_t errcap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "--%s %s: %s", flag, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
        fclose(f);
        snprintf(err, errcap, "--%s %s: readable by other users (chmod 600 %s)", flag, path, path);
        return -1;
    }
    char line[1024] = "";
    bool got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *s = line;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    if (!got || n < TOKEN_MIN) {
        snprintf(err, errcap, "--%s %s: the token must be at least %d characters on the first line", flag,
                 path, TOKEN_MIN);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)s[i])) {
            snprintf(err, errcap, "--%s %s: the token must be printable ASCII without spaces", flag, path);
            return -1;
        }
    if (n >= cap) {
        snprintf(err, errcap, "--%s %s: the token is longer than %zu characters", flag, path, cap - 1);
        return -1;
    }
    memcpy(out, s, n + 1);
    return 0;
}
