/* suppress.h — in-code suppressions, in a block or line comment on the line
 * of the finding or on the line before:
 *     // fa-lint: allow(FA601, FA605) the pool owns it from here
 * (the same text between slash-star and star-slash works too). The reason is required:
 * without one the comment suppresses nothing and is reported (FA001). */
#ifndef FA_LINT_SUPPRESS_H
#define FA_LINT_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "rules.h"

typedef struct suppression {
    unsigned line, end_line, col; /* the comment's first and last line */
    bool rules[RULE_COUNT];
    bool has_reason;
    char unknown[16]; /* a code that is not one of ours, or "" */
} suppression_t;

typedef struct suppression_list {
    suppression_t *items;
    size_t count, cap;
} suppression_list_t;

/* Finds every suppression comment in text (len bytes). */
void suppressions_scan(const char *text, size_t len, suppression_list_t *out);
/* Whether a reasoned suppression covers (line, rule). */
bool suppressions_cover(const suppression_list_t *l, unsigned line, rule_id rule);
void suppressions_free(suppression_list_t *l);

#endif
