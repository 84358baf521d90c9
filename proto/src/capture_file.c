/*
 * capture_file.c — a capture file read into private anonymous memory with
 * read(2) (fa_capture_file.h says why not a mapping of the file).
 */
#define _GNU_SOURCE
#include "fa_capture_file.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages are given back in steps of this much (one madvise per step). */
#define RELEASE_STEP ((size_t)32 << 20)

int fa_capture_file_read(int fd, fa_capture_file_t *f) {
    if (!f) return -EINVAL;
    memset(f, 0, sizeof *f);
    struct stat sb;
    if (fstat(fd, &sb) != 0) return -errno;
    if (!S_ISREG(sb.st_mode)) return -EINVAL;
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (at < 0) return -errno;
    if (sb.st_size <= at) return 0;
    if ((uintmax_t)(sb.st_size - at) > SIZE_MAX / 2) return -EFBIG;
    size_t cap = (size_t)(sb.st_size - at), got = 0;
    unsigned char *buf = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) return -ENOMEM;
    while (got < cap) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            munmap(buf, cap);
            return -e;
        }
        if (n == 0) break; /* the file shrank since fstat */
        got += (size_t)n;
    }
    f->data = buf;
    f->len = got;
    f->cap_ = cap;
    return 0;
}

void fa_capture_file_release_before(fa_capture_file_t *f, size_t offset) {
    long page = sysconf(_SC_PAGESIZE);
    if (!f || !f->data || page <= 0) return;
    if (offset > f->len) offset = f->len;
    size_t upto = offset / (size_t)page * (size_t)page;
    if (upto - f->released_ < RELEASE_STEP && upto < f->len) return;
    if (upto <= f->released_) return;
    (void)madvise((unsigned char *)f->data + f->released_, upto - f->released_, MADV_DONTNEED);
    f->released_ = upto;
}

void fa_capture_file_free(fa_capture_file_t *f) {
    if (!f) return;
    if (f->data) munmap((void *)f->data, f->cap_);
    memset(f, 0, sizeof *f);
}
