/* source.c — see source.h. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "escape.h"

/* Whether rel (no leading '/') is a candidate: no empty, "." or ".."
 * component, no backslash. */
static bool plain_relative(const char *rel) {
    if (!*rel || strchr(rel, '\\')) return false;
    for (const char *p = rel; *p;) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) return false;
        p += len;
        if (*p == '/') p++;
    }
    return true;
}

/* rel resolved under the root: a regular file inside it, into real. */
static bool resolve_under(const char *root_real, const char *rel, char real[PATH_MAX]) {
    char joined[PATH_MAX * 2];
    int n = snprintf(joined, sizeof joined, "%s/%s", root_real, rel);
    if (n < 0 || (size_t)n >= sizeof joined || !realpath(joined, real)) return false;
    size_t rlen = strlen(root_real);
    if (strncmp(real, root_real, rlen) != 0 || real[rlen] != '/') return false;
    struct stat st;
    return stat(real, &st) == 0 && S_ISREG(st.st_mode);
}

/* One line into a slot: tabs as 4 spaces, cut at SOURCE_LINE_MAX bytes,
 * unsafe bytes (controls, invalid UTF-8, bidi overrides) as '?'. */
static void keep_line(char *dst, const char *src, size_t len) {
    char expanded[SOURCE_LINE_MAX + 1];
    size_t k = 0;
    for (size_t i = 0; i < len && k < SOURCE_LINE_MAX; i++) {
        if (src[i] == '\t') {
            for (int s = 0; s < 4 && k < SOURCE_LINE_MAX; s++)
                expanded[k++] = ' ';
        } else if (src[i] != '\r' && src[i] != '\n') {
            expanded[k++] = src[i];
        }
    }
    escape_sanitize_copy(dst, SOURCE_LINE_MAX + 1, expanded, k);
}

/* Opens the resolved path as the regular file it was when resolved: the
 * last component is not followed again and the open does not wait (a FIFO
 * put there since would block the thread), and what was opened is checked
 * once more. NULL otherwise. */
static FILE *open_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0) return NULL;
    FILE *f = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) f = fdopen(fd, "r");
    if (!f) close(fd);
    return f;
}

static int read_lines(const char *path, uint32_t line, uint32_t context, source_lines_t *out) {
    FILE *f = open_regular(path);
    if (!f) return SOURCE_NOT_FOUND;
    uint32_t first = line > context ? line - context : 1, last = line + context;
    out->first = first;
    out->count = 0;
    char buf[SOURCE_LINE_MAX + 2];
    uint32_t no = 1;
    size_t total = 0;
    bool mid_line = false;
    while (no <= last && total < SOURCE_FILE_MAX && fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        total += len;
        bool ends = len && buf[len - 1] == '\n';
        if (!mid_line && no >= first) keep_line(out->lines[out->count++], buf, len);
        /* The rest of a line longer than the buffer is skipped. */
        mid_line = !ends;
        if (ends) no++;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) return SOURCE_ERROR;
    if (mid_line) no++; /* a last line without its newline */
    return line < no && out->count ? SOURCE_OK : SOURCE_NO_LINE;
}

int source_read(const char *root_real, const char *file, uint32_t line, uint32_t context,
                source_lines_t *out) {
    if (!root_real || !root_real[0] || !file || !line) return SOURCE_NOT_FOUND;
    if (context > SOURCE_CONTEXT_MAX) context = SOURCE_CONTEXT_MAX;
    char real[PATH_MAX];
    /* Longest candidate first: each step drops one leading component. */
    for (const char *rel = file; *rel;) {
        while (*rel == '/')
            rel++;
        if (plain_relative(rel) && resolve_under(root_real, rel, real)) {
            snprintf(out->path, sizeof out->path, "%s", real + strlen(root_real) + 1);
            escape_sanitize(out->path);
            return read_lines(real, line, context, out);
        }
        const char *slash = strchr(rel, '/');
        if (!slash) break;
        rel = slash + 1;
    }
    return SOURCE_NOT_FOUND;
}
