/*
 * run.h — one recorded run, read frame by frame, whichever way it was kept:
 * a capture file read directly (no daemon needed) or a session of a daemon
 * read through its HTTP API. compare, baseline and export consume runs
 * through this one interface, so they treat both sources alike.
 *
 * A run delivers, in order: its description (on_info), its tag dictionary
 * (on_tag, again whenever a definition changes), then its frames
 * (on_frame). Rows are fa_proto's tag statistics for both sources: a
 * session's JSON frames are converted to them.
 *
 * CALL SITES: a frame carries its site rows (proto 1.1: the largest
 * (site, tag) pairs and one "other" row per tag, adding up to the tag
 * rows; none from a 1.0 agent), and on_site defines a site id before the
 * first frame that names it: from the capture's SITES messages, or from the
 * daemon's /sites routes for a session. Consumers that do not know sites
 * ignore them.
 *
 * Strings handed to callbacks are sanitised (escape.h): safe to print.
 * Single-threaded per run; two runs may be read by two threads at once when
 * both are capture files.
 */
#ifndef FA_CLI_RUN_H
#define FA_CLI_RUN_H

#include "cli.h"

#include <fa_proto.h>

#include "summary.h" /* libfa-compare: run_info_t, summaries */

typedef struct run_frame {
    uint64_t frame;
    uint64_t t_unix_ns;   /* the frame's start, wall clock */
    uint64_t duration_ns;
    const fa_proto_tag_stat_t *tags;
    uint32_t tag_count;
    const fa_proto_site_row_t *sites; /* site_id 0: a tag's "other sites" */
    uint32_t site_count;
} run_frame_t;

typedef struct run_visitor {
    void *user;
    /* Once, before anything else. May be NULL. */
    void (*on_info)(void *user, const run_info_t *info);
    /* A tag's definition (a later one with the same id replaces it). path
     * is "" for the root. May be NULL. */
    void (*on_tag)(void *user, uint16_t id, uint16_t parent_id, const char *path);
    /* A call site's definition (a later one with the same id replaces it):
     * kind is FA_PROTO_KIND_*, line 0 the unknown site of its kind. May be
     * NULL. */
    void (*on_site)(void *user, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                    const char *function);
    /* Each frame, in order. A non-zero return stops the run with that exit
     * code. */
    int (*on_frame)(void *user, const run_frame_t *frame);
} run_visitor_t;

/* Whether spec names a capture file: "file:PATH", or an existing regular
 * file; "session:SPEC" forces a session. */
bool run_spec_is_capture(const char *spec);

/* Reads the run named by spec, a capture file or a session (an id, a
 * unique prefix, an app name, app@build, or "latest"), into the visitor and
 * fills *info. Problems are printed on cli->err, naming the input: a
 * missing or unreadable capture, or one that is not a capture, is
 * CLI_EXIT_USAGE; a capture damaged beyond its last whole message is
 * CLI_EXIT_SERVER (as is a daemon that cannot be reached); a capture cut
 * off by a crash is read to its last whole message with a note. Returns 0
 * or an exit code. */
int run_read(const cli_t *cli, const char *spec, const run_visitor_t *v, run_info_t *info);

/* The same for a capture file and a session, when the caller knows which. */
int run_read_capture(const cli_t *cli, const char *path, const run_visitor_t *v, run_info_t *info);
int run_read_session(const cli_t *cli, const char *spec, const run_visitor_t *v, run_info_t *info);

/* The spec of a command's run: "file:CAPTURE" when capture is given, else
 * "session:SESSION" (NULL session: the latest). Whatever the names look
 * like, a --capture is read as a file and a --session as a session.
 * malloc'd (NULL when out of memory). */
char *run_spec_of(const char *capture, const char *session);

/* Reads a run (run_read's spec) into a summary (libfa-compare). 0 or an
 * exit code (the problem printed). */
int summary_of_run(const cli_t *cli, const char *spec, summary_t *out);

/* Prints the one-line description of a run: "capture a.facap: fa-demo
 * build 0.1.0, 600 frames". */
void run_describe(const run_info_t *info, char *buf, size_t cap);

#endif
