/* findings.c — see findings.h. */
#include "findings.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void findings_add(finding_list_t *l, rule_id rule, const char *file, unsigned line, unsigned col,
                  unsigned end_line, unsigned end_col, const char *function, const char *subject,
                  const char *fmt, ...) {
    xgrow(&l->items, &l->cap, l->count + 1, sizeof *l->items);
    lint_finding_t *f = &l->items[l->count++];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    f->message = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(f->message, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    f->rule = rule;
    f->file = xstrdup(file);
    f->line = line;
    f->col = col;
    f->end_line = end_line < line ? line : end_line;
    f->end_col = end_line < line || (end_line == line && end_col < col) ? col : end_col;
    f->function = xstrdup(function ? function : "");
    f->subject = xstrdup(subject ? subject : "");
    f->level = 0;
}

void findings_move(finding_list_t *to, finding_list_t *from) {
    if (from->count == 0) {
        free(from->items);
        *from = (finding_list_t){0};
        return;
    }
    xgrow(&to->items, &to->cap, to->count + from->count, sizeof *to->items);
    memcpy(to->items + to->count, from->items, from->count * sizeof *from->items);
    to->count += from->count;
    free(from->items);
    *from = (finding_list_t){0};
}

static int compare(const void *a, const void *b) {
    const lint_finding_t *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    if (c) return c;
    if (x->line != y->line) return x->line < y->line ? -1 : 1;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    if (x->rule != y->rule) return x->rule < y->rule ? -1 : 1;
    return strcmp(x->message, y->message);
}

static void finding_free(lint_finding_t *f) {
    free(f->file);
    free(f->message);
    free(f->function);
    free(f->subject);
}

void findings_sort_unique(finding_list_t *l) {
    if (l->count < 2) return;
    qsort(l->items, l->count, sizeof *l->items, compare);
    size_t out = 1;
    for (size_t i = 1; i < l->count; i++) {
        if (compare(&l->items[out - 1], &l->items[i]) == 0) {
            finding_free(&l->items[i]);
        } else {
            l->items[out++] = l->items[i];
        }
    }
    l->count = out;
}

void findings_remove(finding_list_t *l, size_t i) {
    finding_free(&l->items[i]);
    memmove(&l->items[i], &l->items[i + 1], (l->count - i - 1) * sizeof *l->items);
    l->count--;
}

void findings_free(finding_list_t *l) {
    for (size_t i = 0; i < l->count; i++)
        finding_free(&l->items[i]);
    free(l->items);
    *l = (finding_list_t){0};
}
