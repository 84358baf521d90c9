/* util.h — memory that cannot fail (fa-lint is a command-line tool: out of
 * memory ends it with exit 2 and a message), growable string lists, whole
 * files read into memory, and checked size arithmetic. */
#ifndef FA_LINT_UTIL_H
#define FA_LINT_UTIL_H

#include <stdbool.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
/* Grows *array (of elem bytes each) so that it holds at least need
 * elements; *cap is updated. Overflow-checked. */
void xgrow(void *array_ptr, size_t *cap, size_t need, size_t elem);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct strlist {
    char **items;
    size_t count, cap;
} strlist_t;
void strlist_add(strlist_t *l, const char *s);
bool strlist_has(const strlist_t *l, const char *s);
void strlist_free(strlist_t *l);

/* The whole file, NUL-terminated (*len without the NUL); NULL with errno. */
char *read_whole_file(const char *path, size_t *len);

/* 64-bit FNV-1a, for stable fingerprints and hash tables. */
unsigned long long fnv1a(const void *data, size_t len, unsigned long long seed);
#define FNV_SEED 0xcbf29ce484222325ULL

#endif
