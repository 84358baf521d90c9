/*
 * pathmatch.h — whether two paths name the same source file seen from
 * different places: a SARIF report's path relative to its project root, a
 * call site's __FILE__ as the compiler got it (and the agent cut it), an
 * absolute file:// URI. Shared by fa-insightd (GET /api/v1/lint?file=) and
 * fa-cli (`findings`, static findings beside call sites); web/lint.js
 * follows the same rule for the dashboard.
 *
 * Pure function: no allocation, no global state, any thread. O(length).
 */
#ifndef FA_TEXT_PATHMATCH_H
#define FA_TEXT_PATHMATCH_H

/* The number of trailing path components a and b share, compared from the
 * end: a "file://" prefix is dropped, '\' reads as '/', empty and "."
 * components are skipped, ".." ends the comparison (it says nothing of the
 * place). 0 when the last components (the file names) differ. The better
 * match of a path among several is the one with the highest count. */
unsigned pathmatch_suffix(const char *a, const char *b);

#endif
