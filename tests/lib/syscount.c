/* Counts calls to malloc, calloc, realloc, mmap and mprotect made while
 * counting is enabled on the calling thread. Linked with
 * -Wl,--wrap=malloc,... so calls from the (static) library come here. */
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "syscount.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__real_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off);
int __real_mprotect(void *a, size_t n, int prot);

static _Thread_local bool counting;
static _Thread_local long calls;

void syscount_start(void) {
    calls = 0;
    counting = true;
}
long syscount_stop(void) {
    counting = false;
    return calls;
}

void *__wrap_malloc(size_t n) {
    if (counting) calls++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
    if (counting) calls++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
    if (counting) calls++;
    return __real_realloc(p, n);
}
void *__wrap_mmap(void *a, size_t n, int prot, int flags, int fd, off_t off) {
    if (counting) calls++;
    return __real_mmap(a, n, prot, flags, fd, off);
}
int __wrap_mprotect(void *a, size_t n, int prot) {
    if (counting) calls++;
    return __real_mprotect(a, n, prot);
}
