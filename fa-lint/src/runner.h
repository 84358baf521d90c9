/* runner.h — parses and analyses translation units on N threads (one
 * libclang index per thread, one unit at a time per thread) and merges what
 * they found. */
#ifndef FA_LINT_RUNNER_H
#define FA_LINT_RUNNER_H

#include "analyze.h"
#include "units.h"

typedef struct run_output {
    finding_list_t findings; /* every unit's, header findings once */
    strlist_t budgets;       /* tags budgeted anywhere */
    strlist_t files;         /* files whose findings are reported */
    strlist_t errors;        /* "path: why", one per unit that failed to parse */
    strlist_t error_files;   /* the absolute paths of those units */
} run_output_t;

/* Runs every unit on `jobs` threads (>= 1). */
void runner_run(const unit_list_t *units, const analyze_opts_t *opts, unsigned jobs, run_output_t *out);
void run_output_free(run_output_t *r);

#endif
