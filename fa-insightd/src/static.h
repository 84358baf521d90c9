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

/* Resolves a request target under root_real (a realpath). Writes the file
 * path into out. Returns 0 when found, 404 otherwise (missing, outside the
 * root, "." or ".." segments, bad escapes, encoded NUL). Any thread. */
int static_resolve(const char *root_real, const char *target, char *out, size_t cap);
/* The Content-Type for a path's extension. Any thread. */
const char *static_mime_type(const char *path);

#endif
