/* source.h — a few lines of a call site's source file, read from under
 * --source-root only (any thread; the thread pool in the daemon).
 *
 * A site's file is the compiler's name for it (absolute, relative, "../"
 * prefixed): it is tried as a path under the root without leading
 * components, longest first ("/home/ci/game/src/a.c": home/ci/game/src/a.c,
 * ci/game/src/a.c, ..., a.c), so that a game built elsewhere still finds
 * its sources. Each candidate has no "." or ".." component and no
 * backslash, and is resolved with realpath() (symbolic links included) and
 * refused unless it is a regular file strictly inside the root's real path
 * (the static handler's rule). Nothing else is ever opened. */
#ifndef FA_INSIGHTD_SOURCE_H
#define FA_INSIGHTD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#define SOURCE_CONTEXT_MAX 20u                /* lines either side */
#define SOURCE_LINE_MAX 400u                  /* bytes kept of one line */
#define SOURCE_FILE_MAX (64u * 1024u * 1024u) /* bytes read at most */

typedef struct source_lines {
    char path[1024]; /* the file found, relative to the root */
    uint32_t first;  /* line number of lines[0] (1-based) */
    uint32_t count;
    char lines[2 * SOURCE_CONTEXT_MAX + 1][SOURCE_LINE_MAX + 1]; /* sanitised, tabs expanded */
} source_lines_t;

enum { SOURCE_OK = 0, SOURCE_NOT_FOUND = -1, SOURCE_NO_LINE = -2, SOURCE_ERROR = -3 };

/* The lines line - context .. line + context (clipped to the file) of the
 * file `file` names under root_real (a realpath). SOURCE_OK, or
 * SOURCE_NOT_FOUND (no candidate under the root), SOURCE_NO_LINE (the file
 * is shorter than `line`), SOURCE_ERROR (read error). */
int source_read(const char *root_real, const char *file, uint32_t line, uint32_t context,
                source_lines_t *out);

#endif
