/* access.h — who may talk to the daemon: the Host of every HTTP request,
 * the Origin of every WebSocket upgrade, and the bearer token.
 *
 * A web page in the user's browser can reach a loopback daemon: DNS
 * rebinding (a name of the attacker's that resolves to 127.0.0.1) sends
 * the page's own Host, and a cross-site WebSocket carries the page's
 * Origin. So, when the daemon listens on loopback only, a request must
 * name a loopback host (localhost, *.localhost, 127.0.0.0/8, [::1]); and
 * a WebSocket upgrade that carries an Origin (every browser sends one)
 * must come from the dashboard's own origin (the request's Host, or a
 * loopback name with the listen port) or from --allow-origin. Beyond
 * loopback a bearer token protects everything (--token-file).
 *
 * Pure functions of their arguments: any thread, no allocation. */
#ifndef FA_INSIGHTD_ACCESS_H
#define FA_INSIGHTD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a Host header value ("name", "name:port", "[v6]:port") names
 * the loopback interface: localhost, a name under .localhost, a dotted
 * quad in 127.0.0.0/8, or ::1. */
bool access_host_is_loopback(const char *host);

/* Whether a WebSocket upgrade's Origin is allowed. origin: the header (an
 * absent Origin means a client that is not a browser page: allowed, so
 * it is not passed here). host: the request's Host header (may be NULL).
 * listen_port: the port the daemon listens on. loopback: whether it
 * listens on loopback only. allow: the --allow-origin list, origins
 * separated by commas ("" for none; "*" allows every origin). */
bool access_origin_allowed(const char *origin, const char *host, int listen_port, bool loopback,
                           const char *allow);

/* Whether an Authorization header value carries the token ("Bearer
 * <token>", the scheme case-insensitive). Compares in constant time for a
 * given token length. */
bool access_bearer_ok(const char *authorization, const char *token);

/* Whether the token appears as the value of `token=` in a request
 * target's query string (WebSocket clients in a browser cannot send
 * headers). Constant time as above. */
bool access_query_token_ok(const char *uri, const char *token);

/* Reads a token file (--token-file, --ingest-secret-file: flag, without
 * its dashes, names it in errors): its first line, surrounding white space
 * removed. Returns 0, or -1 with a reason in err (missing, empty, shorter
 * than 16 characters, not printable ASCII, readable by others). err never
 * holds the file's content. */
int access_read_token_file(const char *flag, const char *path, char *out, size_t cap, char *err,
                           size_t errcap);

/* Whether given[0..glen) equals the NUL-terminated, non-empty token. Takes
 * the same time whatever the bytes (for a given token length). */
bool access_secret_equal(const char *given, size_t glen, const char *token);

#endif
