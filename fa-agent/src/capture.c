/*
 * capture.c — the capture file (proto/PROTOCOL.md §10): the session's
 * messages appended to a file by the sender thread, the game thread never
 * touches it.
 *
 * Each message is one write() on an O_APPEND descriptor, so a crash leaves
 * whole messages and at most one partial one, which readers treat as the
 * cut-off tail. When a write fails or is short (disk full), the file is cut
 * back to the end of the last whole message, so later messages never follow
 * a partial one; if even that fails the capture stops (what follows would
 * be unreadable) and every later frame is counted as dropped.
 */
#include "agent_internal.h"

#include "fa_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* Writes all of buf or fails with -errno. */
static int write_all(int fd, const unsigned char *buf, size_t len) {
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int fa__agent_capture_open(fa_agent_t *a) {
    a->capture.fd = open(a->capture.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (a->capture.fd < 0) {
        fa__agent_log(a, FA_AGENT_LOG_CAPTURE_FAILED, errno, 0, a->capture.path);
        return FA_ERR_SYSTEM;
    }
    unsigned char header[FA_CAPTURE_HEADER_SIZE];
    int n = fa_capture_header_encode(header, sizeof header);
    int rc = n < 0 ? -EINVAL : write_all(a->capture.fd, header, (size_t)n);
    if (rc != 0) {
        fa__agent_log(a, FA_AGENT_LOG_CAPTURE_FAILED, -rc, 0, a->capture.path);
        close(a->capture.fd);
        a->capture.fd = -1;
        return FA_ERR_SYSTEM;
    }
    a->capture.good_size = (uint64_t)n;
    fa__count(&a->capture.bytes, (uint64_t)n);
    a->capture.enabled = true;
    return FA_OK;
}

int fa__agent_capture_write(fa_agent_t *a, const void *buf, size_t len) {
    if (a->capture.broken) return -EIO;
    int rc = write_all(a->capture.fd, buf, len);
    if (rc == 0) {
        a->capture.good_size += len;
        fa__count(&a->capture.bytes, len);
        a->capture.failing = false;
        return 0;
    }
    fa__count(&a->capture.write_errors, 1);
    if (ftruncate(a->capture.fd, (off_t)a->capture.good_size) != 0) a->capture.broken = true;
    if (!a->capture.failing || a->capture.broken)
        fa__agent_log(a, FA_AGENT_LOG_CAPTURE_FAILED, -rc, a->capture.good_size, a->capture.path);
    a->capture.failing = true;
    return rc;
}

void fa__agent_capture_close(fa_agent_t *a) {
    if (a->capture.fd < 0) return;
    (void)fdatasync(a->capture.fd);
    close(a->capture.fd);
    a->capture.fd = -1;
}
