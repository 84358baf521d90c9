/* suppress.c — see suppress.h. The text is searched for the marker with
 * memmem: no tokenizing, so a file without suppressions costs one scan. */
#define _GNU_SOURCE
#include "suppress.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char marker[] = "fa-lint:";

void suppressions_scan(const char *text, size_t len, suppression_list_t *out) {
    const char *p = text, *end = text + len;
    unsigned line = 1;
    const char *line_counted = text;
    while (p < end) {
        const char *m = memmem(p, (size_t)(end - p), marker, sizeof marker - 1);
        if (!m) break;
        for (const char *q = line_counted; q < m; q++)
            line += *q == '\n';
        line_counted = m;
        /* Only inside a comment: look back on the line for // or /x. */
        const char *ls = m;
        while (ls > text && ls[-1] != '\n')
            ls--;
        bool block = false, in_comment = false, in_string = false;
        for (const char *q = ls; q < m && !in_comment; q++) {
            if (*q == '"' && (q == ls || q[-1] != '\\')) in_string = !in_string;
            if (in_string) continue;
            if (q[0] == '/' && q + 1 < m && q[1] == '/') in_comment = true;
            if (q[0] == '/' && q + 1 < m && q[1] == '*') in_comment = block = true;
        }
        p = m + sizeof marker - 1;
        if (!in_comment) continue;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(end - p) < 6 || strncmp(p, "allow(", 6) != 0) continue;
        p += 6;
        suppression_t s = {.line = line, .col = (unsigned)(m - ls) + 1};
        while (p < end && *p != ')' && *p != '\n') {
            while (p < end && (*p == ',' || *p == ' ' || *p == '\t'))
                p++;
            const char *w = p;
            while (p < end && isalnum((unsigned char)*p))
                p++;
            if (p == w) break;
            char code[16];
            size_t n = (size_t)(p - w) < sizeof code - 1 ? (size_t)(p - w) : sizeof code - 1;
            memcpy(code, w, n);
            code[n] = 0;
            int r = rule_find(code);
            if (r >= 0)
                s.rules[r] = true;
            else if (!s.unknown[0])
                memcpy(s.unknown, code, n + 1);
        }
        if (p < end && *p == ')') p++;
        /* The reason: the rest of the comment. */
        const char *r = p;
        unsigned end_line = line;
        bool reason = false;
        while (r < end) {
            if (block && r + 1 < end && r[0] == '*' && r[1] == '/') break;
            if (*r == '\n') {
                if (!block) break;
                end_line++;
            } else if (isalnum((unsigned char)*r)) {
                reason = true;
            }
            r++;
        }
        s.has_reason = reason;
        s.end_line = end_line;
        xgrow(&out->items, &out->cap, out->count + 1, sizeof *out->items);
        out->items[out->count++] = s;
    }
}

bool suppressions_cover(const suppression_list_t *l, unsigned line, rule_id rule) {
    for (size_t i = 0; i < l->count; i++) {
        const suppression_t *s = &l->items[i];
        if (!s->has_reason || !s->rules[rule]) continue;
        if ((line >= s->line && line <= s->end_line) || line == s->end_line + 1) return true;
    }
    return false;
}

void suppressions_free(suppression_list_t *l) {
    free(l->items);
    *l = (suppression_list_t){0};
}
