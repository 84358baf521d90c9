/* libFuzzer target: fa-cli's baseline reader (baseline.h), which takes the
 * committed baseline file of `fa-cli baseline check` and `compare` — a file
 * from a repository, so outside input. Any input must end in a summary or a
 * refusal that says why, never a crash, a leak or a read past the end (the
 * input is not NUL-terminated on purpose); a summary read back compares
 * with itself without a regression. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    char err[256] = "";
    summary_t s;
    memset(&s, 0, sizeof s);
    if (summary_read_baseline(copy, size, &s, err, sizeof err) == 0) {
        compare_result_t r;
        if (compare_run(&s, &s, NULL, &r) == 0) {
            if (r.failed) abort(); /* a run never regresses against itself */
            compare_result_free(&r);
        }
        summary_free(&s);
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    free(copy);
    return 0;
}
