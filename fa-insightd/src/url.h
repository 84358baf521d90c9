/* url.h — percent-decoding and query strings (any thread, no state).
 *
 * Shared by the API routes and the static files, below both: neither
 * includes the other. */
#ifndef FA_INSIGHTD_URL_H
#define FA_INSIGHTD_URL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct url_param {
    char name[32];
    char value[512];
} url_param_t;

#define URL_MAX_PARAMS 16

/* Percent-decodes s in place ('+' is a space in queries only). Returns the
 * new length, or -1 for a bad escape or an encoded NUL. */
int url_decode(char *s, bool plus_is_space);

/* Splits a query string into at most cap parameters. Returns the count,
 * or -1 with err (too many, too long, bad escape, empty name, duplicate). */
int url_parse_query(const char *query, url_param_t *out, int cap, char *err, size_t errcap);

#endif
