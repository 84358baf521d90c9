/* A tiny test harness for programs run under ThreadSanitizer, where
 * Criterion cannot run (its inheritable arena clashes with TSan's memory
 * layout: Criterion issue #274). Each case is a function; CHECK records a
 * failure with its location; the program ends with "N passed, N failed". */
#ifndef FA_TSAN_HARNESS_H
#define FA_TSAN_HARNESS_H

#include <stdio.h>

static int harness_case_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);             \
            harness_case_failed = 1;                                                               \
        }                                                                                          \
    } while (0)

typedef struct harness_case {
    const char *name;
    void (*fn)(void);
} harness_case_t;

static int harness_run(const char *suite, const harness_case_t *cases, int n) {
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        harness_case_failed = 0;
        cases[i].fn();
        printf("[%s] %s::%s\n", harness_case_failed ? "FAIL" : "PASS", suite, cases[i].name);
        fflush(stdout);
        if (harness_case_failed) failed++;
        else passed++;
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

#endif
