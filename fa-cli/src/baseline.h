/*
 * baseline.h — baseline files: a run's summary (libfa-compare's summary.h)
 * as small, stable, diff-friendly JSON, meant to be committed, and read back
 * for `baseline check`.
 *
 * FORMAT (version 2)
 *   {"format": "framealloc-baseline", "version": 2, "app", "build",
 *    "frames", "call_sites": true|false, "rows": [...]}, one row per line
 *   sorted by kind and key: {"tag": ...} or {"site": "function file:line",
 *   "tag": ...}, then the metrics (bytes as integers, allocations with two
 *   decimals). No times, no session id: saving the same figures again gives
 *   the same bytes. Version 1 (before call sites: tag rows only) still
 *   reads, as a summary without call sites.
 */
#ifndef FA_CLI_BASELINE_H
#define FA_CLI_BASELINE_H

#include "cli.h"
#include "summary.h"

/* Writes s as a baseline document. */
void summary_write_baseline(FILE *out, const summary_t *s);

/* Reads a baseline document (out->baseline_version says which). 0, or -1
 * with the reason in err. */
int summary_read_baseline(const char *text, size_t len, summary_t *out, char *err, size_t errcap);

#endif
