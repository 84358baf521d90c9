/* static.c — the dashboard files under the web root (see static.h).
 *
 * The target is cut at '?', percent-decoded once, refused if a segment is
 * "." or "..", resolved with realpath() and refused unless the result is a
 * regular file strictly inside the web root's real path (symbolic links
 * included). */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctx.h"
#include "url.h"

#define STATIC_MAX_FILE (32u * 1024u * 1024u)

const char *static_mime_type(const char *path) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".wasm", "application/wasm"},
        {".txt", "text/plain; charset=utf-8"},
        {".md", "text/markdown; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}

/* Whether rel (a path under the web root, no leading '/') is one of the
 * files the manifest lists. */
static bool listed(const char *files, const char *rel) {
    size_t n = strlen(rel);
    for (const char *p = files; p && *p;) {
        size_t len = strcspn(p, "\n");
        if (len == n && memcmp(p, rel, n) == 0) return true;
        p += len + (p[len] == '\n');
    }
    return false;
}

int static_load_manifest(const char *root_real, char **out, char *err, size_t errcap) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/%s", root_real, STATIC_MANIFEST);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *files = malloc(cap), line[PATH_MAX];
    int rc = files ? 0 : -1;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *rel = line;
        while (*rel == ' ' || *rel == '/')
            rel++;
        if (!*rel || *rel == '#') continue;
        size_t n = strlen(rel);
        if (strstr(rel, "..") || len + n + 2 > cap) { /* no climbing out; a short list */
            snprintf(err, errcap, "%s: bad or too many entries ('%.200s')", path, rel);
            rc = -1;
            break;
        }
        memcpy(files + len, rel, n);
        len += n;
        files[len++] = '\n';
    }
    fclose(f);
    if (rc != 0) {
        free(files);
        return -1;
    }
    files[len] = '\0';
    *out = files;
    return 0;
}

int static_resolve(const char *root_real, const char *files, const char *target, char *out, size_t cap) {
    char path[PATH_MAX];
    size_t n = strcspn(target, "?#");
    if (n == 0 || n >= sizeof path - 16 || target[0] != '/') return 404;
    memcpy(path, target, n);
    path[n] = '\0';
    /* A bad escape or an encoded NUL is refused like any other probe. */
    if (url_decode(path, false) < 0) return 404;
    /* No "." or ".." segment, encoded or not, and no backslash tricks. */
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return 404;
        p += len;
    }
    if (strchr(path, '\\')) return 404;
    size_t plen = strlen(path);
    if (path[plen - 1] == '/') strcat(path, "index.html");
    char joined[PATH_MAX * 2], real[PATH_MAX];
    snprintf(joined, sizeof joined, "%s%s", root_real, path);
    size_t rlen = strlen(root_real);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!realpath(joined, real)) return 404;
        if (strncmp(real, root_real, rlen) != 0 || real[rlen] != '/') return 404;
        struct stat st;
        if (stat(real, &st) != 0) return 404;
        if (S_ISREG(st.st_mode)) {
            /* Only the dashboard's built files: never the rest of a
             * source tree used as web root (package.json, web.mk,
             * node_modules/...). */
            if (strlen(real) >= cap || !listed(files, real + rlen + 1)) return 404;
            strcpy(out, real);
            return 0;
        }
        if (!S_ISDIR(st.st_mode)) return 404;
        /* A directory: serve its index.html. */
        snprintf(joined, sizeof joined, "%s/index.html", real);
    }
    return 404;
}

typedef struct file_job {
    insightd_ctx_t *ctx;
    http_req_t *r;
    char target[2048];
    char if_none_match[128];
    int status; /* 0 ok, 304, 400, 404, 500, 503 */
    char path[PATH_MAX];
    char etag[64];
    char *data;
    size_t len;
} file_job_t;

static void file_work(void *arg, const store_cancel_t *cancel) {
    file_job_t *j = arg;
    (void)cancel; /* one read of a bounded file */
    int rc = static_resolve(j->ctx->web_root_real, j->ctx->web_files, j->target, j->path, sizeof j->path);
    if (rc != 0) {
        j->status = rc;
        return;
    }
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        j->status = 503; /* out of descriptors: try again later */
        return;
    }
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)STATIC_MAX_FILE) {
        if (fd >= 0) close(fd);
        j->status = 404;
        return;
    }
    snprintf(j->etag, sizeof j->etag, "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    if (j->if_none_match[0] && strcmp(j->if_none_match, j->etag) == 0) {
        close(fd);
        j->status = 304;
        return;
    }
    j->len = (size_t)st.st_size;
    j->data = malloc(j->len ? j->len : 1);
    size_t got = 0;
    while (j->data && got < j->len) {
        ssize_t r = read(fd, j->data + got, j->len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (!j->data || got != j->len) {
        free(j->data);
        j->data = NULL;
        j->status = 500;
        return;
    }
    j->status = 0;
}

static void file_done(void *arg, int status) {
    file_job_t *j = arg;
    if (status == HTTP_WORK_CANCELLED) {
        http_reply_error(j->r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    } else if (status == HTTP_WORK_TIMEOUT || j->status == 503) {
        http_reply_error(j->r, 503, status ? "timeout" : "busy", NULL,
                         "the file could not be read now; try again");
    } else if (j->status == 0 || j->status == 304) {
        bool html = strstr(static_mime_type(j->path), "text/html") != NULL;
        /* The page itself is revalidated each time (it names the scripts);
         * assets may be cached briefly and are revalidated by ETag. */
        const char *cache = html ? "no-cache" : "public, max-age=300";
        const char *headers[] = {"Cache-Control",          cache,     "ETag", j->etag,
                                 "X-Content-Type-Options", "nosniff", NULL};
        if (j->status == 304)
            http_reply(j->r, 304, NULL, NULL, 0, headers);
        else
            http_reply(j->r, 200, static_mime_type(j->path), j->data, j->len, headers);
    } else if (j->status == 400) {
        http_reply_error(j->r, 400, "bad_path", NULL, "malformed request path");
    } else if (j->status == 500) {
        http_reply_error(j->r, 500, "internal", NULL, "could not read the file");
    } else {
        http_reply_error(j->r, 404, "not_found", NULL, "no such file or route");
    }
    free(j->data);
    free(j);
}

void static_handle(insightd_ctx_t *ctx, http_req_t *r) {
    const char *uri = http_req_uri(r), *method = http_req_method(r);
    /* "/ws" reaches this handler only when nng's WebSocket handler did not
     * take it: its Host header differs from the listen address (nng binds
     * the WebSocket route to that exact host). Say so instead of 404. */
    size_t n = strcspn(uri, "?#");
    if ((n == 3 && !strncmp(uri, "/ws", 3)) || (n == 6 && !strncmp(uri, "/ws/v1", 6))) {
        char ws[340];
        snprintf(ws, sizeof ws, "ws%s/ws", ctx->http_url + 4);
        http_reply_error(r, 400, "websocket_host_mismatch", NULL,
                         "WebSocket clients must connect to %s with the Host header of the listen address "
                         "(got Host '%.100s')",
                         ws, http_req_header(r, "Host") ? http_req_header(r, "Host") : "");
        return;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        http_reply_error(r, 405, "method_not_allowed", NULL, "method %.16s not allowed here (GET or HEAD)",
                         method);
        return;
    }
    if (!ctx->web_root_ok) {
        http_reply_error(r, 404, "not_found", NULL, "no such route (the dashboard's web root %s is missing)",
                         ctx->cfg->web_root);
        return;
    }
    file_job_t *j = calloc(1, sizeof *j);
    if (!j || strlen(uri) >= sizeof j->target) {
        free(j);
        http_reply_error(r, 414, "uri_too_long", NULL, "request target too long");
        return;
    }
    j->ctx = ctx;
    j->r = r;
    strcpy(j->target, uri);
    const char *inm = http_req_header(r, "If-None-Match");
    if (inm) snprintf(j->if_none_match, sizeof j->if_none_match, "%s", inm);
    if (http_queue_work(ctx->http, r, file_work, file_done, j) != 0) {
        free(j);
        http_reply_error(r, 503, "shutting_down", NULL, "fa-insightd is shutting down");
    }
}
