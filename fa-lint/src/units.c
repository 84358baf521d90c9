/* units.c — see units.h. */
#define _GNU_SOURCE
#include "units.h"

#include <clang-c/CXCompilationDatabase.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *absolute_path(const char *base, const char *path) {
    char *joined;
    if (path[0] == '/') {
        joined = xstrdup(path);
    } else {
        char cwd[PATH_MAX];
        if (!base) base = getcwd(cwd, sizeof cwd) ? cwd : ".";
        joined = xasprintf("%s/%s", base, path);
    }
    /* Normalise "//", "/./" and "/../" without touching the file system
     * (the file may be generated later, and symlinks are the user's). */
    size_t n = strlen(joined);
    char *out = xmalloc(n + 2);
    size_t k = 0;
    const char *p = joined;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p) break;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 1 && p[0] == '.') {
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (k > 0 && out[k - 1] != '/')
                k--;
            if (k > 0) k--;
        } else {
            out[k++] = '/';
            memcpy(out + k, p, len);
            k += len;
        }
        p += len;
    }
    if (k == 0) out[k++] = '/';
    out[k] = 0;
    free(joined);
    return out;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *find_upward(const char *start, const char *const *names) {
    char *cur = absolute_path(NULL, start ? start : ".");
    for (;;) {
        for (const char *const *n = names; *n; n++) {
            char *p = xasprintf("%s/%s", strcmp(cur, "/") == 0 ? "" : cur, *n);
            if (is_file(p)) {
                free(cur);
                return p;
            }
            free(p);
        }
        if (strcmp(cur, "/") == 0) break;
        char *slash = strrchr(cur, '/');
        if (slash == cur)
            cur[1] = 0;
        else
            *slash = 0;
    }
    free(cur);
    return NULL;
}

char *units_find_database(const char *dir, const char *start) {
    static const char *const names[] = {"compile_commands.json", "build/compile_commands.json", NULL};
    if (dir) {
        char *abs = absolute_path(NULL, dir);
        char *p = xasprintf("%s/compile_commands.json", abs);
        bool found = is_file(p);
        free(p);
        if (found) return abs;
        free(abs);
        return NULL;
    }
    char *path = find_upward(start, names);
    if (!path) return NULL;
    *strrchr(path, '/') = 0;
    if (!path[0]) strcpy(path, "/");
    return path;
}

static bool wanted(const char *file, const strlist_t *only) {
    if (!only || only->count == 0) return true;
    for (size_t i = 0; i < only->count; i++) {
        const char *o = only->items[i];
        size_t n = strlen(o);
        if (strcmp(file, o) == 0) return true;
        if (strncmp(file, o, n) == 0 && (file[n] == '/' || (n == 1 && o[0] == '/'))) return true;
    }
    return false;
}

/* Flags with a path argument, joined ("-Ifoo") or separate ("-I foo"). */
static const char *const path_flags[] = {"-I",       "-isystem",  "-iquote",   "-idirafter", "-include",
                                         "-imacros", "-isysroot", "--sysroot", NULL};

/* Flags of the compile that libclang must not see (output, dependency
 * files) and the ones that take the next argument with them. */
static bool dropped(const char *a, bool *takes_next) {
    *takes_next = false;
    if (strcmp(a, "-o") == 0 || strcmp(a, "-MF") == 0 || strcmp(a, "-MT") == 0 || strcmp(a, "-MQ") == 0) {
        *takes_next = true;
        return true;
    }
    if (strcmp(a, "-c") == 0 || strcmp(a, "-MD") == 0 || strcmp(a, "-MMD") == 0 || strcmp(a, "-MP") == 0 ||
        strcmp(a, "-M") == 0 || strcmp(a, "-MM") == 0)
        return true;
    if (strncmp(a, "-Werror", 7) == 0 || strncmp(a, "-fsanitize", 10) == 0 || strncmp(a, "-o", 2) == 0 ||
        strncmp(a, "-MF", 3) == 0)
        return true;
    return false;
}

static void add_arg(lint_unit_t *u, const char *dir, const char *arg, const char **pending_path_flag) {
    if (*pending_path_flag) {
        char *abs = absolute_path(dir, arg);
        strlist_add(&u->args, abs);
        free(abs);
        *pending_path_flag = NULL;
        return;
    }
    for (const char *const *f = path_flags; *f; f++) {
        size_t n = strlen(*f);
        if (strcmp(arg, *f) == 0) {
            strlist_add(&u->args, arg);
            *pending_path_flag = *f;
            return;
        }
        if (strncmp(arg, *f, n) == 0 && n == 2 && arg[n]) {
            char *abs = absolute_path(dir, arg + n);
            char *joined = xasprintf("%s%s", *f, abs);
            strlist_add(&u->args, joined);
            free(abs);
            free(joined);
            return;
        }
    }
    strlist_add(&u->args, arg);
}

static void finish_unit(lint_unit_t *u) {
    /* Warnings cost time and are not ours to report; errors still are. */
    strlist_add(&u->args, "-w");
    strlist_add(&u->args, "-working-directory");
    strlist_add(&u->args, u->directory);
}

static lint_unit_t *new_unit(unit_list_t *out, const char *file, const char *dir) {
    xgrow(&out->items, &out->cap, out->count + 1, sizeof *out->items);
    lint_unit_t *u = &out->items[out->count++];
    *u = (lint_unit_t){.file = xstrdup(file), .directory = xstrdup(dir)};
    return u;
}

int units_from_database(unit_list_t *out, const char *db_dir, const strlist_t *only, char *err,
                        size_t errlen) {
    CXCompilationDatabase_Error dberr;
    CXCompilationDatabase db = clang_CompilationDatabase_fromDirectory(db_dir, &dberr);
    if (dberr != CXCompilationDatabase_NoError || !db) {
        snprintf(err, errlen, "%s/compile_commands.json: cannot be read as a compilation database", db_dir);
        return -1;
    }
    CXCompileCommands cmds = clang_CompilationDatabase_getAllCompileCommands(db);
    unsigned n = cmds ? clang_CompileCommands_getSize(cmds) : 0;
    for (unsigned i = 0; i < n; i++) {
        CXCompileCommand cmd = clang_CompileCommands_getCommand(cmds, i);
        CXString d = clang_CompileCommand_getDirectory(cmd);
        CXString f = clang_CompileCommand_getFilename(cmd);
        char *dir = absolute_path(db_dir, clang_getCString(d));
        char *file = absolute_path(dir, clang_getCString(f));
        clang_disposeString(d);
        clang_disposeString(f);
        size_t flen = strlen(file);
        bool is_c = flen > 2 && strcmp(file + flen - 2, ".c") == 0;
        bool seen = false;
        for (size_t k = 0; k < out->count && !seen; k++)
            seen = strcmp(out->items[k].file, file) == 0;
        if (!is_c || seen || !wanted(file, only)) {
            free(dir);
            free(file);
            continue;
        }
        lint_unit_t *u = new_unit(out, file, dir);
        unsigned nargs = clang_CompileCommand_getNumArgs(cmd);
        const char *pending = NULL;
        for (unsigned k = 1; k < nargs; k++) {
            CXString s = clang_CompileCommand_getArg(cmd, k);
            const char *a = clang_getCString(s);
            bool takes_next;
            char *abs_arg = a && a[0] != '-' ? absolute_path(dir, a) : NULL;
            if (!a || (abs_arg && strcmp(abs_arg, file) == 0 && !pending)) {
            } else if (!pending && dropped(a, &takes_next)) {
                if (takes_next) k++;
            } else {
                add_arg(u, dir, a, &pending);
            }
            free(abs_arg);
            clang_disposeString(s);
        }
        finish_unit(u);
        free(dir);
        free(file);
    }
    if (cmds) clang_CompileCommands_dispose(cmds);
    clang_CompilationDatabase_dispose(db);
    return 0;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(const char *dir, strlist_t *files) {
    DIR *d = opendir(dir);
    if (!d) return;
    strlist_t names = {0};
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') strlist_add(&names, e->d_name);
    closedir(d);
    qsort(names.items, names.count, sizeof *names.items, compare_names);
    for (size_t i = 0; i < names.count; i++) {
        char *p = xasprintf("%s/%s", dir, names.items[i]);
        struct stat st;
        if (stat(p, &st) == 0) {
            size_t n = strlen(p);
            if (S_ISDIR(st.st_mode))
                walk_dir(p, files);
            else if (S_ISREG(st.st_mode) && n > 2 && strcmp(p + n - 2, ".c") == 0)
                strlist_add(files, p);
        }
        free(p);
    }
    strlist_free(&names);
}

int units_from_paths(unit_list_t *out, const strlist_t *paths, const strlist_t *flags, char *err,
                     size_t errlen) {
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) strcpy(cwd, "/");
    char *dir = absolute_path(NULL, cwd);
    strlist_t files = {0};
    for (size_t i = 0; i < paths->count; i++) {
        char *abs = absolute_path(dir, paths->items[i]);
        struct stat st;
        if (stat(abs, &st) != 0) {
            snprintf(err, errlen, "%s: %s", paths->items[i], strerror(errno));
            free(abs);
            free(dir);
            strlist_free(&files);
            return -1;
        }
        if (S_ISDIR(st.st_mode))
            walk_dir(abs, &files);
        else if (!strlist_has(&files, abs))
            strlist_add(&files, abs);
        free(abs);
    }
    for (size_t i = 0; i < files.count; i++) {
        lint_unit_t *u = new_unit(out, files.items[i], dir);
        const char *pending = NULL;
        for (size_t k = 0; k < flags->count; k++) {
            bool takes_next;
            if (!pending && dropped(flags->items[k], &takes_next)) {
                if (takes_next) k++;
                continue;
            }
            add_arg(u, dir, flags->items[k], &pending);
        }
        finish_unit(u);
    }
    strlist_free(&files);
    free(dir);
    return 0;
}

void units_free(unit_list_t *l) {
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].file);
        free(l->items[i].directory);
        strlist_free(&l->items[i].args);
    }
    free(l->items);
    *l = (unit_list_t){0};
}
