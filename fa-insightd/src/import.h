/* import.h — `fa-insightd --import FILE...`: capture files (the agent's
 * FA_INSIGHT_URL=file:PATH, proto/PROTOCOL.md §10) loaded into the store as
 * sessions, then the daemon exits.
 *
 * Each file's messages go through the sessions module exactly as received
 * messages do (same decoding, alerts, rollups, findings, writer), stamped
 * with the times the capture itself carries: a frame "arrives" when it
 * ended on the agent's clock (HELLO's wall-clock mapping), so an imported
 * session has the times of the run, not of the import. Retention applies
 * to those times like to any other.
 *
 * IDEMPOTENT: a capture whose session is already stored (or was imported
 * earlier in the same run) is skipped and said so; importing the same files
 * twice stores each session once. A file cut off by a crash imports up to
 * its last whole message; a session without its BYE ends as "timeout".
 * Feeding waits while the writer's backlog is above half its buffer, so
 * nothing is dropped for speed.
 *
 * Loop thread only; runs the loop until every file is done. */
#ifndef FA_INSIGHTD_IMPORT_H
#define FA_INSIGHTD_IMPORT_H

#include <stddef.h>
#include <stdint.h>

struct insightd_ctx;

enum { IMPORT_OK = 0, IMPORT_FAILED = 1, IMPORT_BAD_FILE = 2 };

/* Imports files[0..n) in order, printing one line per file on stdout.
 * stored[0..nstored) are the session ids already in the store (sorted or
 * not). Returns IMPORT_OK, IMPORT_BAD_FILE when a file was missing, not a
 * capture or damaged before its end (the others are still imported), or
 * IMPORT_FAILED when the store failed. */
int import_run(struct insightd_ctx *ctx, char *const *files, size_t n, const uint64_t *stored, size_t nstored);

#endif
