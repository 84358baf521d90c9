/* analyze.h — the checks over one parsed translation unit. Runs on a worker
 * thread; reads the config, writes only its own result. */
#ifndef FA_LINT_ANALYZE_H
#define FA_LINT_ANALYZE_H

#include <clang-c/Index.h>

#include "config.h"
#include "findings.h"
#include "util.h"

typedef struct unit_result {
    finding_list_t findings; /* FA301/FA302 here are candidates: the run
                                drops those whose tag some unit budgets */
    strlist_t budgets;       /* tag paths given a budget in this unit */
    strlist_t files;         /* absolute paths of the reported files seen */
} unit_result_t;

typedef struct analyze_opts {
    const lint_config_t *cfg;
    const char *root; /* absolute, no trailing '/': reports name files below it */
} analyze_opts_t;

void analyze_unit(CXTranslationUnit tu, const analyze_opts_t *opts, unit_result_t *out);
void unit_result_free(unit_result_t *r);

/* The path of abs relative to root, or NULL when abs is not below root. */
char *path_below(const char *root, const char *abs);

#endif
