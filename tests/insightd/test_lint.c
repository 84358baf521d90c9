/* test_lint.c — SARIF reports: what is read, what is refused (and how the
 * refusal names the problem). The path rule of ?file= is tested in
 * tests/text/test_pathmatch.c. */
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "lint.h"

static const char *const run_head = "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"fa-"
                                    "lint\",\"rules\":[{\"id\":\"FA602\","
                                    "\"name\":\"heap-in-frame-loop\"}]}},\"results\":[";

static int parse(const char *results, char *err, size_t errcap, lint_report_t **out) {
    char doc[4096];
    snprintf(doc, sizeof doc, "%s%s]}]}", run_head, results);
    return lint_parse(doc, strlen(doc), out, err, errcap);
}

Test(lint, reads_results_with_rule_index_and_counts_them) {
    char err[400] = "";
    lint_report_t *r = NULL;
    cr_assert_eq(parse("{\"ruleIndex\":0,\"message\":{\"text\":\"a\"},\"locations\":[{\"physicalLocation\":"
                       "{\"artifactLocation\":{\"uri\":\"a.c\"},\"region\":{\"startLine\":4}}}]},"
                       "{\"ruleId\":\"FA601\",\"message\":{\"text\":\"no location\"}}",
                       err, sizeof err, &r),
                 0, "%s", err);
    cr_assert_eq(lint_report_count(r), 2);
    cr_assert_eq(lint_report_total(r), 2);
    lint_report_free(r);
}

Test(lint, refusals_name_the_member_at_fault) {
    static const struct {
        const char *results, *want;
    } cases[] = {
        {"7", "runs[0].results[0]: must be an object"},
        {"{\"message\":{\"text\":1}}", "runs[0].results[0].message.text: must be a string"},
        {"{\"message\":{\"text\":\"a\"},\"ruleId\":3}", "runs[0].results[0].ruleId: must be a string"},
        {"{\"message\":{\"text\":\"a\"},\"locations\":{}}", "runs[0].results[0].locations: must be an array"},
        {"{\"message\":{\"text\":\"a\"},\"locations\":[{\"physicalLocation\":{\"region\":{\"startLine\":1.5}}"
         "}]}",
         "region.startLine: must be a positive integer"},
        {"{\"message\":{\"text\":\"a\"},\"ruleIndex\":-1}", "runs[0].results[0].ruleIndex"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[400] = "";
        lint_report_t *r = NULL;
        cr_assert_eq(parse(cases[i].results, err, sizeof err, &r), -1, "case %zu accepted", i);
        cr_assert_null(r);
        cr_assert(strstr(err, cases[i].want), "case %zu: '%s' does not say '%s'", i, err, cases[i].want);
    }
}

Test(lint, not_sarif_2_1_0_is_refused_whatever_the_shape) {
    static const char *const docs[] = {"",
                                       "{",
                                       "null",
                                       "[]",
                                       "{\"runs\":[]}",
                                       "{\"version\":2.1,\"runs\":[]}",
                                       "{\"version\":\"2.1.0\",\"runs\":{}}"};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char err[400] = "";
        lint_report_t *r = NULL;
        cr_assert_eq(lint_parse(docs[i], strlen(docs[i]), &r, err, sizeof err), -1, "'%s' accepted", docs[i]);
        cr_assert(err[0], "no reason for '%s'", docs[i]);
    }
}

Test(lint, keeps_at_most_the_bound_and_counts_the_rest) {
    size_t n = LINT_MAX_FINDINGS + 5, cap = n * 40 + 512, len = 0;
    char *doc = malloc(cap);
    cr_assert_not_null(doc);
    len += (size_t)snprintf(doc + len, cap - len, "%s", run_head);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(doc + len, cap - len, "%s{\"message\":{\"text\":\"m\"}}", i ? "," : "");
    len += (size_t)snprintf(doc + len, cap - len, "]}]}");
    char err[400] = "";
    lint_report_t *r = NULL;
    cr_assert_eq(lint_parse(doc, len, &r, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lint_report_count(r), LINT_MAX_FINDINGS);
    cr_assert_eq(lint_report_total(r), n);
    lint_report_free(r);
    free(doc);
}
