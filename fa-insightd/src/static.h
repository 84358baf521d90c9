/* static.h — the dashboard's files under the web root.
 *
 * Our own handler, not nng_http_handler_alloc_directory (which serves
 * /../ paths, mishandles query strings and %2E, and guesses MIME types
 * wrongly). Anything refused is a 404, so a probe learns nothing about
 * the file system. Files are read on the thread pool. */
#ifndef FA_INSIGHTD_STATIC_H
#define FA_INSIGHTD_STATIC_H

#include <stddef.h>

#include "http.h"

struct insightd_ctx;

/* Loop thread: answers r from the web root. */
void static_handle(struct insightd_ctx *ctx, http_req_t *r);

/* The list of files the web root serves: STATIC_MANIFEST in the web root,
 * one path relative to it per line (written by the build from the files
 * it installs: web/web.mk). Only these are ever served. */
#define STATIC_MANIFEST "MANIFEST"

/* Reads the manifest of root_real into *out (malloc'd, one path per line,
 * for static_resolve). Returns 0, or -1 with a reason in err. Start-up. */
int static_load_manifest(const char *root_real, char **out, char *err, size_t errcap);

/* Resolves a request target under root_real (a realpath) to one of files
 * (static_load_manifest's list; NULL refuses everything). Writes the file
 * path into out. Returns 0 when found, 404 otherwise (missing, not
 * listed, outside the root, "." or ".." segments, bad escapes, encoded
 * NUL). Any thread. */
int static_resolve(const char *root_real, const char *files, const char *target, char *out, size_t cap);
/* The Content-Type for a path's extension. Any thread. */
const char *static_mime_type(const char *path);

#endif
