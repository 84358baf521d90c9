/* Counting of allocator/system calls made by the library on this thread. */
#ifndef FA_TEST_SYSCOUNT_H
#define FA_TEST_SYSCOUNT_H
void syscount_start(void);
long syscount_stop(void);
#define SYSCOUNT_LDFLAGS "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=mmap,--wrap=mprotect"
#endif
