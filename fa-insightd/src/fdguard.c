/* fdguard.c — the accept4() interposer (see fdguard.h). */
#define _GNU_SOURCE
#include "fdguard.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conns.h"
#include "stats.h"

typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*close_fn)(int);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int spare = -1; /* under lock */
static _Atomic(accept4_fn) next_accept4;
static _Atomic(close_fn) next_close;

static int raw_close(int fd) {
    return (int)syscall(SYS_close, fd);
}

static int raw_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return (int)syscall(SYS_accept4, fd, addr, len, flags);
}

/* The next accept4 (a sanitizer's interceptor, or libc's). */
static accept4_fn real(void) {
    accept4_fn f = atomic_load(&next_accept4);
    if (!f) {
        f = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
        if (!f) f = raw_accept4;
        atomic_store(&next_accept4, f);
    }
    return f;
}

int fdguard_init(void) {
    real();
    pthread_mutex_lock(&lock);
    if (spare < 0) spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int ok = spare >= 0 ? 0 : -1;
    pthread_mutex_unlock(&lock);
    return ok;
}

/* Both are exported so that the dynamic linker binds nng's calls here
 * (Debian's nng 1.5.2 calls accept; newer builds accept4). */
__attribute__((visibility("default"))) int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    accept4_fn f = real();
    int c = f(fd, addr, len, flags);
    if (c >= 0 && !conns_on_accept(fd, c)) {
        errno = EAGAIN; /* refused (and closed) by the connection cap */
        return -1;
    }
    if (c >= 0 || (errno != EMFILE && errno != ENFILE)) return c;
    pthread_mutex_lock(&lock);
    if (spare >= 0) {
        close(spare);
        int shed = f(fd, NULL, NULL, SOCK_CLOEXEC);
        if (shed >= 0) {
            close(shed);
            atomic_fetch_add(&g_stats.connections_shed, 1);
        }
        spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    bool lost = spare < 0;
    pthread_mutex_unlock(&lock);
    if (lost) {
        /* Someone took the spare's slot: at least do not spin. */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    errno = EAGAIN;
    return -1;
}

__attribute__((visibility("default"))) int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, 0);
}

/* The close guard: a watched HTTP connection leaves conns.c's table
 * before its descriptor number can be reused (see conns.h). */
__attribute__((visibility("default"))) int close(int fd) {
    close_fn f = atomic_load(&next_close);
    if (!f) {
        f = (close_fn)dlsym(RTLD_NEXT, "close");
        if (!f) f = raw_close;
        atomic_store(&next_close, f);
    }
    conns_on_close(fd);
    return f(fd);
}
