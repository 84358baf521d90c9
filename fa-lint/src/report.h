/* report.h — writes the run's findings as text, JSON, SARIF 2.1.0, JUnit XML
 * or checkstyle XML. Files are named relative to the root (SARIF: against
 * the base id SRCROOT, whose absolute URI the report states), so a report
 * made on one machine maps onto a checkout anywhere, and a finding's
 * file:line can be matched with a runtime call site of the same build. */
#ifndef FA_LINT_REPORT_H
#define FA_LINT_REPORT_H

#include <stdio.h>

#include "runner.h"

typedef enum report_format {
    FORMAT_TEXT,
    FORMAT_JSON,
    FORMAT_SARIF,
    FORMAT_JUNIT,
    FORMAT_CHECKSTYLE
} report_format;

typedef struct report_info {
    const char *root; /* absolute */
    unsigned units;   /* translation units given */
    double seconds;   /* wall time of the analysis */
    const char *version;
} report_info_t;

/* "text", "json", ... to a format; -1 when unknown. */
int report_format_find(const char *name);
/* Writes out's findings (already filtered by policy_apply). 0, or -1 when
 * out of memory or the stream failed. */
int report_write(FILE *f, report_format format, const run_output_t *out, const report_info_t *info);
/* The stable fingerprint of finding i of out (hex, 16 digits): code, file,
 * function, subject and the finding's line text with blanks squeezed; not
 * the line number, so it survives edits elsewhere in the file. */
void report_fingerprint(const run_output_t *out, size_t i, const char *root, char hex[17]);
/* JUnit and checkstyle (report_xml.c), called by report_write. */
int report_write_xml(FILE *f, report_format format, const run_output_t *out, const report_info_t *info);
/* A path for humans and reports: relative to root when below it. */
char *report_path(const char *root, const char *abs);

#endif
