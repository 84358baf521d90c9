/* libFuzzer target: fa-insightd's SARIF reader (lint.h), which takes the
 * body of PUT /api/v1/lint and the --lint-report file. Any input must end
 * in a report or a precise error, never a crash, a leak or a read past the
 * end (the input is not NUL-terminated on purpose). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    char err[400];
    lint_report_t *r = NULL;
    if (lint_parse(copy, size, &r, err, sizeof err) == 0) {
        if (lint_report_count(r) > lint_report_total(r)) abort();
        lint_report_free(r);
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    free(copy);
    return 0;
}
