/* pathmatch.c — see pathmatch.h. */
#include "pathmatch.h"

#include <stdbool.h>
#include <string.h>

static bool is_sep(char c) {
    return c == '/' || c == '\\';
}

/* The last component of p[0..*end) that is neither empty nor ".": its
 * bounds in [*start, *end). false when there is none. */
static bool last_component(const char *p, size_t *start, size_t *end) {
    size_t e = *end;
    for (;;) {
        while (e > 0 && is_sep(p[e - 1]))
            e--;
        if (e == 0) return false;
        size_t s = e;
        while (s > 0 && !is_sep(p[s - 1]))
            s--;
        if (e - s == 1 && p[s] == '.') {
            e = s;
            continue;
        }
        *start = s;
        *end = e;
        return true;
    }
}

unsigned pathmatch_suffix(const char *a, const char *b) {
    if (strncmp(a, "file://", 7) == 0) a += 7;
    if (strncmp(b, "file://", 7) == 0) b += 7;
    size_t ea = strlen(a), eb = strlen(b), sa, sb;
    unsigned n = 0;
    while (last_component(a, &sa, &ea) && last_component(b, &sb, &eb)) {
        size_t len = ea - sa;
        if (len != eb - sb || memcmp(a + sa, b + sb, len) != 0) break;
        if (len == 2 && a[sa] == '.' && a[sa + 1] == '.') break;
        n++;
        ea = sa;
        eb = sb;
    }
    return n;
}
