/* units.h — the translation units to lint: from a compile_commands.json
 * (read with libclang's compilation-database API) or from files and
 * directories given with one set of compiler flags. Every path in a unit is
 * absolute, so a unit parses the same from any working directory. */
#ifndef FA_LINT_UNITS_H
#define FA_LINT_UNITS_H

#include <stddef.h>

#include "util.h"

typedef struct lint_unit {
    char *file;      /* absolute source path */
    char *directory; /* absolute working directory of the compile */
    strlist_t args;  /* compiler flags for libclang (no compiler, -c, -o, file) */
} lint_unit_t;

typedef struct unit_list {
    lint_unit_t *items;
    size_t count, cap;
} unit_list_t;

/* Finds compile_commands.json in dir (or dir/build), else in the
 * directories above start when dir is NULL. The directory that holds it,
 * or NULL. */
char *units_find_database(const char *dir, const char *start);

/* The path of the first of names (relative paths, NULL-terminated) found
 * in start or in a directory above it, or NULL. */
char *find_upward(const char *start, const char *const *names);

/* Reads the database in db_dir. 0, or -1 with a message in err. Units whose
 * file is in `only` (absolute paths or directories; empty: all) are kept. */
int units_from_database(unit_list_t *out, const char *db_dir, const strlist_t *only, char *err,
                        size_t errlen);

/* Every .c file named or below a named directory, each with flags. 0, or -1
 * with a message naming the path that does not exist. */
int units_from_paths(unit_list_t *out, const strlist_t *paths, const strlist_t *flags, char *err,
                     size_t errlen);

void units_free(unit_list_t *l);

/* An absolute, normalised form of path (relative to base when relative);
 * the file need not exist. */
char *absolute_path(const char *base, const char *path);

#endif
