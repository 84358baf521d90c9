/* lint.h — static findings: the SARIF 2.1.0 report of fa-lint (or of any
 * SARIF producer) that the dashboard and fa-cli show beside the runtime
 * figures.
 *
 * A report arrives by `PUT /api/v1/lint` (api.c) or from `--lint-report
 * FILE`, which is read at start and again whenever the file changes
 * (looked at once a second: a CI that rewrites it or renames a new one over
 * it is seen). The newest valid report replaces the previous one; an invalid
 * one is refused with a message naming the problem (the JSON path of the
 * bad member) and leaves the previous report in force. Only the daemon's
 * memory holds it: one report, at most LINT_MAX_FINDINGS findings (the
 * rest are counted, `truncated`), every string sanitised (escape.h) and cut
 * to a bound. The body or file is at most --max-lint-report bytes.
 *
 * THREADS: the loop thread, except lint_parse and lint_report_free (any
 * thread, pure). */
#ifndef FA_INSIGHTD_LINT_H
#define FA_INSIGHTD_LINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define LINT_MAX_FINDINGS 10000u

typedef struct lint_report lint_report_t;
typedef struct lint lint_t;

/* Parses and validates a SARIF 2.1.0 document. Returns 0 and *out (the
 * caller frees it with lint_report_free), or -1 with one line in err
 * saying what is wrong and where ("runs[0].results[3].ruleId: must be a
 * string"). Pure; O(len). */
int lint_parse(const char *json, size_t len, lint_report_t **out, char *err, size_t errcap);
void lint_report_free(lint_report_t *r);
/* Findings kept (at most LINT_MAX_FINDINGS) and results in the document. */
uint32_t lint_report_count(const lint_report_t *r);
uint64_t lint_report_total(const lint_report_t *r);

/* The daemon's report holder. path: --lint-report ("" for none): read now
 * (a missing file is waited for, an invalid one logged) and watched.
 * Returns 0, or -1 with a reason in err. */
int lint_start(lint_t **out, uv_loop_t *loop, const char *path, uint64_t max_bytes, char *err, size_t errcap);

/* A report sent by a client: replaces the current one when valid. Returns
 * 0, or -1 with the reason in err (the current report stays). */
int lint_put(lint_t *l, const char *body, size_t len, char *err, size_t errcap);

/* GET /api/v1/lint: the report's facts and its findings (when file is not
 * NULL, those of the file that matches it best by lib/text/pathmatch.h's
 * rule, none when no file has its name; at most limit), sorted by file and line, as a malloc'd
 * JSON document (NULL: out of memory). */
char *lint_render(const lint_t *l, const char *file, uint32_t limit, size_t *len);

/* Stops watching the file (at shutdown: the loop can end). */
void lint_close(lint_t *l);
void lint_free(lint_t *l);

#endif
