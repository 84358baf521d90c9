/* findings.h — what a check reports, and the list that collects them per
 * translation unit and for the whole run. */
#ifndef FA_LINT_FINDINGS_H
#define FA_LINT_FINDINGS_H

#include <stddef.h>

#include "rules.h"

typedef struct lint_finding {
    rule_id rule;
    char *file; /* absolute path */
    unsigned line, col, end_line, end_col;
    char *message;
    char *function; /* enclosing function, "" at file scope */
    char *subject;  /* the variable, tag or function the message names */
    int level;      /* lint_level, set when the run's findings are final */
} lint_finding_t;

typedef struct finding_list {
    lint_finding_t *items;
    size_t count, cap;
} finding_list_t;

/* Adds a finding; strings are copied. */
void findings_add(finding_list_t *l, rule_id rule, const char *file, unsigned line, unsigned col,
                  unsigned end_line, unsigned end_col, const char *function, const char *subject,
                  const char *fmt, ...) __attribute__((format(printf, 10, 11)));
/* Moves every finding of from into to (from is left empty). */
void findings_move(finding_list_t *to, finding_list_t *from);
/* Sorts by file, line, column, code and message, and drops exact repeats
 * (the same header finding seen from several translation units). */
void findings_sort_unique(finding_list_t *l);
/* Removes item i (order kept). */
void findings_remove(finding_list_t *l, size_t i);
void findings_free(finding_list_t *l);

#endif
