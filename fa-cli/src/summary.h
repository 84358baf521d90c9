/*
 * summary.h — what compare and baselines look at: one row per tag (and, once
 * call sites exist, per call site) with a few figures over a whole run.
 *
 * FIGURES (all of a tag AND its descendants, like the budgets)
 *   peak                   highest live bytes seen: at frame ends, and the
 *                          per-frame peaks lib tracks within frames
 *   p50, p95, p99          percentiles of the per-frame live bytes (frame +
 *                          pool + heap at frame end); frames before a tag
 *                          existed count as 0. Exact below 256 bytes, within
 *                          0.4 % above (a log-linear histogram of 128 steps
 *                          per power of two), and never outside the lowest
 *                          and highest values seen.
 *   frame_bytes_per_frame  mean frame-arena bytes allocated per frame
 *   allocs_per_frame       mean allocations (any kind) per frame
 *
 * ROWS
 *   A row has a kind, a key and the tag it belongs to. Tags: the key is the
 *   tag's path ("" for the root, where every byte counts). Call sites: the
 *   key is "<tag path>;<function> <file>:<line>" (a ';' in a name becomes
 *   ':'), "<tag path>;(other sites)" for the allocations a frame's rows did
 *   not name, "<tag path>;(unknown pool site)" for calls that bypassed the
 *   macros, "<tag path>;(site #N)" for a site the run never defined; the
 *   tag is the site's own tag (not a subtree). Pairs of one key (the same
 *   line under two ids) are summed per frame. Compare, thresholds (per
 *   tag), baselines and every report handle a site row like a tag row,
 *   keyed by (kind, key).
 *
 * FIGURES OF A SITE ROW
 *   peak and the percentiles are of its live bytes at frame ends (frames
 *   without a row count as 0); frame_bytes_per_frame is the mean of the
 *   bytes it allocated per frame whatever its kind (a frame site's are
 *   frame-arena bytes; a pool or heap site's what it took from them);
 *   allocs_per_frame the mean of its allocations.
 *
 * BOUNDS
 *   SUMMARY_SITES_MAX site rows and definitions: further pairs are added to
 *   their tag's "(other sites)" row, so the sums still hold.
 *
 * Memory: O(rows x the spread of their values), never O(frames).
 */
#ifndef FA_CLI_SUMMARY_H
#define FA_CLI_SUMMARY_H

#include "run.h"

#define SUMMARY_SITES_MAX 16384u

typedef enum summary_kind { SUMMARY_TAG = 0, SUMMARY_SITE = 1 } summary_kind;

typedef enum summary_metric {
    M_PEAK,
    M_P50,
    M_P95,
    M_P99,
    M_FRAME_BYTES,
    M_ALLOCS,
    M_COUNT
} summary_metric;

/* The metric's name in JSON and files ("p95", "frame_bytes_per_frame") and
 * for people ("p95 live", "frame B/frame"); whether it counts bytes. */
const char *summary_metric_name(summary_metric m);
const char *summary_metric_label(summary_metric m);
bool summary_metric_is_bytes(summary_metric m);

typedef struct summary_row {
    summary_kind kind;
    char *key;
    char *tag;
    double v[M_COUNT]; /* bytes are whole numbers; allocs_per_frame has decimals */
} summary_row_t;

typedef struct summary {
    run_info_t info;
    summary_row_t *rows; /* sorted by (kind, key) */
    size_t count;
    /* The run had call sites (frames with site rows; a baseline saved with
     * them). Without, a comparison leaves the other side's sites out. */
    bool sites;
    int baseline_version; /* a baseline read back: its format version */
} summary_t;

void summary_free(summary_t *s);
/* The row of (kind, key), or NULL. O(log rows). */
const summary_row_t *summary_find(const summary_t *s, summary_kind kind, const char *key);
/* "tag" or "site". */
const char *summary_kind_name(summary_kind k);

/* Reads a run (run_read's spec) into a summary. 0 or an exit code (the
 * problem printed). */
int summary_of_run(const cli_t *cli, const char *spec, summary_t *out);

/* ---- baselines: small, stable, diff-friendly JSON ---------------------- */

/* Writes s as a baseline document: format and version, the run's app,
 * build and frame count, then one row per line sorted by kind and key,
 * integers for bytes and two decimals for allocations. No times, no
 * session id: saving the same figures again gives the same bytes. */
void summary_write_baseline(FILE *out, const summary_t *s);

/* Reads a baseline document. 0, or -1 with the reason in err. */
int summary_read_baseline(const char *text, size_t len, summary_t *out, char *err, size_t errcap);

#endif
