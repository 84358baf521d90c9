/*
 * export_formats.h — runs written in formats other tools open: Chrome /
 * Perfetto trace-event JSON and folded stacks for flame graphs. Both read
 * a run (run.h): a capture file or a session.
 *
 * TRACE (Chrome's "JSON Object Format", opened by ui.perfetto.dev and
 * chrome://tracing)
 *   {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}
 *   - metadata events ("ph": "M"): process_name (the app and session),
 *     thread_name of tid 1 ("frames");
 *   - one complete event ("ph": "X", "name": "frame") per frame on tid 1,
 *     ts and dur in microseconds since the first frame, args.frame;
 *   - one counter track per tag ("ph": "C", "name": the tag path, "(root)"
 *     for the root, args.live_bytes): an event at the first frame and
 *     whenever the value changes (a counter holds its value until the next
 *     event, so nothing is lost and a steady tag costs nothing).
 *   The structure is pinned by tests/cli/trace.schema.json.
 *
 * FOLDED ("stack count" lines, the input of flamegraph.pl, speedscope,
 * inferno)
 *   physics;contacts 123456
 *   The stack is the tag path, one frame per component; the count is the
 *   tag's OWN bytes (frame + pool + heap, without its descendants, whose
 *   lines stack on top) averaged over the run's frames. The root's own
 *   bytes are "(root)". With call sites each (site, tag) pair adds a line
 *   "physics;contacts;function file:line 4096" (sitenames.h names it:
 *   "(other sites)" for the rest of the tag's allocations), its mean live
 *   bytes, and the tag's own line keeps only what no site row claims (none
 *   when every frame has site rows: they add up to the tag's own bytes). A
 *   site of the root tag stands alone: "function file:line 128". ';' inside
 *   a name becomes ':'.
 */
#ifndef FA_CLI_EXPORT_FORMATS_H
#define FA_CLI_EXPORT_FORMATS_H

#include "run.h"

/* Frames whose start lies in [from_ms, to_ms] (unix ms; 0 and UINT64_MAX
 * for all). Return 0 or an exit code (the problem printed). */
int export_trace(const cli_t *cli, const char *spec, uint64_t from_ms, uint64_t to_ms, FILE *out);
int export_folded(const cli_t *cli, const char *spec, uint64_t from_ms, uint64_t to_ms, FILE *out);

#endif
