/*
 * summary.h — what compare and baselines look at: one row per tag and per
 * call site with a few figures over a whole run. Part of libfa-compare
 * (lib/compare/), which fa-cli (compare, baseline) and fa-insightd
 * (/api/v1/compare) share so that both compute the same figures.
 *
 * A run is fed to an accumulator (summary_acc_*) whatever it comes from: a
 * capture file, a daemon's API (fa-cli) or the daemon's store (fa-insightd).
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
 * Threads: an accumulator or summary belongs to one thread at a time.
 */
#ifndef FA_COMPARE_SUMMARY_H
#define FA_COMPARE_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fa_proto.h>

/* What a run is, for reports. Its strings are sanitised (escape.h). */
typedef struct run_info {
    char source[320];     /* "capture build/a.facap" or "session 8f3a2c9d41b7e605" */
    char session[17];     /* 16 hex digits */
    char app[256], build[256], host[256], label[256];
    uint64_t start_unix_ms;
    /* At the end: */
    uint64_t frames;          /* frames delivered */
    uint64_t frames_dropped;  /* frames the run says it missed */
    uint64_t first_frame, last_frame;
    bool ended;               /* a BYE (capture) or an ended session */
    size_t truncated_bytes;   /* capture cut off inside its last message */
    uint64_t skipped;         /* capture messages that did not decode */
} run_info_t;

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
/* Sorts rows by (kind, key), as summary_find needs. */
void summary_sort(summary_t *s);
/* The row of (kind, key), or NULL. O(log rows). */
const summary_row_t *summary_find(const summary_t *s, summary_kind kind, const char *key);
/* "tag" or "site". */
const char *summary_kind_name(summary_kind k);

/* ---- accumulating a run ------------------------------------------------- */

typedef struct summary_acc summary_acc_t;

/* A new, empty accumulator (NULL when out of memory). */
summary_acc_t *summary_acc_new(void);
void summary_acc_free(summary_acc_t *a);
/* A tag's definition (path "" for the root; a later one replaces it). */
void summary_acc_tag(summary_acc_t *a, uint16_t id, uint16_t parent_id, const char *path);
/* A call site's definition (kind FA_PROTO_KIND_*, line 0 for the unknown
 * site of its kind). Sites SHOULD be defined before the first frame that
 * names them: a row is keyed when its pair is first seen, and a site not
 * defined by then is "(site #N)". */
void summary_acc_site(summary_acc_t *a, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                      const char *function);
/* One frame's tag rows and site rows (in any order of frames). 0, or -1
 * when out of memory (the accumulator is then only good to free). */
int summary_acc_frame(summary_acc_t *a, const fa_proto_tag_stat_t *tags, uint32_t tag_count,
                      const fa_proto_site_row_t *sites, uint32_t site_count);
/* The rows into out (its info is left as it is). 0 or -1 when out of
 * memory (out freed). Call once. */
int summary_acc_finish(summary_acc_t *a, summary_t *out);

#endif
