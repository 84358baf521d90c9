/*
 * report.h — the reports of a comparison (libfa-compare's compare.h) that
 * `compare` and `baseline check` share: table, JSON, Markdown, JUnit; the
 * verdict and exit code; and the gate's options.
 */
#ifndef FA_CLI_REPORT_H
#define FA_CLI_REPORT_H

#include "cli.h"
#include "compare.h" /* libfa-compare */
#include "run.h"

typedef enum compare_format { CF_TABLE, CF_JSON, CF_MARKDOWN, CF_JUNIT } compare_format;
/* Parses "table", "json", "markdown" (or "md"), "junit". 0 or -1. */
int compare_format_parse(const char *s, compare_format *out);

/* Prints the result on out in the format. */
void compare_print(const cli_t *cli, FILE *out, compare_format f, const compare_result_t *r);

/* The exit code: CLI_EXIT_REGRESSION when a row failed, else CLI_EXIT_OK;
 * prints the one-line verdict on cli->err when it failed. */
int compare_verdict(const cli_t *cli, const compare_result_t *r);

/* ---- the gate shared by `compare` and `baseline check` ---------------- */

typedef struct gate_opts {
    const char *max_growth, *min_bytes, *min_allocs, *thresholds, *format, *junit;
} gate_opts_t;

/* The option table entries of the gate (args_opt_t initialisers). */
#define GATE_OPTIONS(o)                                                                                      \
    {"max-growth", ARGS_STRING, &(o).max_growth, "PCT", "fail above this growth in percent (default 10)"},   \
        {"min-bytes", ARGS_STRING, &(o).min_bytes, "SIZE",                                                   \
         "... and above this growth in bytes (default 64KiB)"},                                             \
        {"min-allocs", ARGS_STRING, &(o).min_allocs, "N",                                                    \
         "... and, for allocations per frame, above N more per frame (default 1)"},                         \
        {"thresholds", ARGS_STRING, &(o).thresholds, "FILE", "per-tag thresholds (JSON, see the README)"},  \
        {"format", ARGS_STRING, &(o).format, "FMT", "table (default), json, markdown or junit"},            \
        {"junit", ARGS_STRING, &(o).junit, "FILE", "also write the JUnit report to FILE"}

/* Checks the gate's options into rules and format. Returns -1 to go on, or
 * an exit code after a usage error. */
int gate_parse_options(const cmd_info_t *info, const gate_opts_t *o, bool json, compare_rules_t **rules,
                       compare_format *format);
/* Compares, prints the report (and the JUnit file), returns the exit code:
 * CLI_EXIT_REGRESSION, CLI_EXIT_OK, or an error's. */
int gate_report(const cli_t *cli, const gate_opts_t *o, const compare_rules_t *rules, compare_format format,
                const summary_t *base, const summary_t *candidate);

#endif
