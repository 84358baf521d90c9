/* policy.h — turns what the units found into what the run reports: the
 * program-wide budget checks (FA301/FA302 need every unit's budgets),
 * enabled groups, levels from the config and the command line, and
 * suppressions (in code, and [[suppress]] in .fa.toml). Main thread. */
#ifndef FA_LINT_POLICY_H
#define FA_LINT_POLICY_H

#include <stdbool.h>

#include "config.h"
#include "runner.h"

/* Filters out->findings in place and sets each one's level. groups[g] says
 * whether a group's checks run (GROUP_META always does). */
void policy_apply(run_output_t *out, const lint_config_t *cfg, const bool groups[GROUP_COUNT],
                  const char *root);

#endif
