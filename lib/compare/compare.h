/*
 * compare.h — two summaries side by side: what grew, by how much, and
 * whether it is a regression under the thresholds; and the JSON of a
 * comparison. Part of libfa-compare: fa-cli's compare and baseline check
 * and fa-insightd's /api/v1/compare decide with this one code.
 *
 * THE RULE
 *   A metric of a row regresses when it grew by more than max_growth_pct
 *   percent AND by more than min_bytes (allocs_per_frame: more than
 *   min_allocs per frame), so that a tiny tag doubling from 1 KiB to 2 KiB
 *   does not fail a build. A row that exists only in the candidate grew
 *   from 0 (an infinite percentage: min_bytes decides). Shrinking never
 *   fails. Defaults: 10 %, 64 KiB, 1 allocation per frame.
 *
 * THRESHOLDS FILE (--thresholds FILE, JSON; example in fa-cli/README.md)
 *   Top-level max_growth_pct, min_bytes (a number or "64KiB") and
 *   min_allocs replace the defaults; command-line flags replace those.
 *   "tags" maps patterns to the same fields and "ignore": true|false. A
 *   pattern is a tag path (that tag), a path followed by a slash and a star
 *   (the tag's descendants), or a lone star (every tag); the most specific
 *   pattern wins (exact, then the longest path), and it applies to the call
 *   sites under the tag too. Fields an entry lacks come from the global
 *   thresholds. An ignored row is reported and never fails.
 *
 * CALL SITES
 *   Site rows (summary.h) are compared like tag rows, under the limits of
 *   their tag. They are compared only when both runs have call sites: when
 *   one lacks them (a baseline saved before call sites, a run of an agent
 *   before proto 1.1), its tags are compared and the sites left out, which
 *   the reports say.
 */
#ifndef FA_COMPARE_COMPARE_H
#define FA_COMPARE_COMPARE_H

#include <cJSON.h>

#include "summary.h"

typedef struct compare_limits {
    double max_growth_pct;
    uint64_t min_bytes;
    double min_allocs;
    bool ignore;
} compare_limits_t;

typedef struct compare_rules compare_rules_t;

/* Rules from an optional thresholds file and the command line (set_* say
 * which flags were given). Returns 0 with *out (free with
 * compare_rules_free), or -1 with the reason (naming the file, the entry
 * and the field) in err. */
int compare_rules_load(const char *path, const compare_limits_t *flags, bool set_growth, bool set_bytes,
                       bool set_allocs, compare_rules_t **out, char *err, size_t errcap);
void compare_rules_free(compare_rules_t *r);
/* The limits in force for a tag path. */
compare_limits_t compare_rules_for(const compare_rules_t *r, const char *tag);
/* The global limits. */
compare_limits_t compare_rules_global(const compare_rules_t *r);

typedef struct compare_metric {
    double base, candidate; /* NAN when a side lacks it */
    double change;          /* candidate - base */
    double change_pct;      /* INFINITY when base is 0 and the candidate not; NAN without both */
    bool failed;
} compare_metric_t;

typedef struct compare_row {
    summary_kind kind;
    const char *key, *tag; /* point into the summaries */
    bool in_base, in_candidate;
    compare_metric_t m[M_COUNT];
    compare_limits_t limits;
    bool failed;
    double growth; /* the sort key: largest byte growth of the row */
} compare_row_t;

typedef struct compare_result {
    const summary_t *base, *candidate;
    const compare_rules_t *rules;
    compare_row_t *rows; /* regressions first, then by growth, then by key */
    size_t count, failed, ignored;
    /* Call sites: compared when both runs have them; left out (counted)
     * when only one has, e.g. a baseline saved before call sites or a run
     * of a 1.0 agent, since every site would look new. */
    bool sites_compared;
    size_t sites_left_out;
} compare_result_t;

/* Compares; the result points into both summaries and the rules, which
 * MUST outlive it. 0, or -1 when out of memory. */
int compare_run(const summary_t *base, const summary_t *candidate, const compare_rules_t *rules,
                compare_result_t *out);
void compare_result_free(compare_result_t *r);

/* A row's status: "regression", "ignored", "gone", "new" or "ok". */
const char *compare_row_status(const compare_row_t *row);
/* Whether a row shows any change (reports list unchanged sites as a count). */
bool compare_row_changed(const compare_row_t *row);
/* What became of the call sites, one sentence into buf ("" when they were
 * compared). */
void compare_sites_note(const compare_result_t *r, char *buf, size_t cap);

/* The comparison as a JSON document (the caller deletes it; NULL when out
 * of memory): base and candidate (source, session, app, build, frames),
 * thresholds, regressions, ignored, sites_compared, sites_left_out and
 * rows (kind, key, tag, site, status, in_base, in_candidate, thresholds,
 * metrics: base, candidate, change, change_pct (null when infinite),
 * failed), in the result's order. */
cJSON *compare_result_json(const compare_result_t *r);

#endif
