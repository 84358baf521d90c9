/* main.c — fa-lint's start: the command (lint, show, explain, list, init),
 * its options, then config → units → parallel analysis → policy → report.
 * Exit status: 0 clean, 1 findings at deny level, 2 usage, config or parse
 * failure (a unit that does not compile is never reported clean). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <clang-c/Index.h>

#include "config.h"
#include "policy.h"
#include "report.h"
#include "rules.h"
#include "runner.h"
#include "units.h"

#define FA_LINT_VERSION "0.1.0"

typedef struct options {
    bool groups[GROUP_COUNT];
    bool any_group;
    const char *db_dir;
    unsigned jobs;
    report_format format;
    const char *output;
    const char *config_path;
    bool no_config;
    const char *root;
    bool quiet;
    strlist_t paths, flags, excludes;
    bool have_flags; /* "--" was given */
    struct {
        rule_id rule;
        lint_level level;
    } levels[64];
    int nlevels;
} options_t;

static void usage(FILE *out) {
    fputs("fa-lint: static analysis of memory intent in C code that uses framealloc\n"
          "\n"
          "usage: fa-lint [CHECKS] [OPTIONS] [PATHS...]             lint the compile database's units\n"
          "       fa-lint [CHECKS] [OPTIONS] PATHS... -- FLAGS...   lint .c files (dirs: recursive) with "
          "FLAGS\n"
          "       fa-lint show FILE [OPTIONS] [-- FLAGS...]         one file, findings inline\n"
          "       fa-lint explain CODE                               what a check finds, why, how to fix\n"
          "       fa-lint list [--format text|json]                  every check\n"
          "       fa-lint init [--force] [DIR]                       write a commented .fa.toml\n"
          "\n"
          "Checks (default --all; several may be given):\n"
          "  --all  --threading (FA2xx)  --budgets (FA3xx)  --lifetime (FA6xx)  --async (FA7xx)\n"
          "  --architecture (FA8xx)\n"
          "\n"
          "Options:\n"
          "  -p DIR            the directory of compile_commands.json (default: the current\n"
          "                    directory or one above it, or its build/ subdirectory)\n"
          "  -j N              translation units in parallel (default: every core)\n"
          "  --deny CODE       report CODE as an error (exit 1); CODE may be a list: FA601,FA605\n"
          "  --warn CODE       report CODE as a warning (exit 0)\n"
          "  --allow CODE      do not report CODE\n"
          "  --exclude GLOB    skip files matching GLOB (relative to the root; ** spans dirs)\n"
          "  --format FMT      text (default), json, sarif, junit, checkstyle\n"
          "  -o, --output FILE write the report to FILE (default: standard output)\n"
          "  --config FILE     use FILE instead of the nearest .fa.toml above the current dir\n"
          "  --no-config       ignore any .fa.toml\n"
          "  --root DIR        report paths relative to DIR (default: the config's directory,\n"
          "                    else the compile database's, else the current one); findings\n"
          "                    outside DIR are not reported\n"
          "  -q, --quiet       no summary line on standard error\n"
          "  --help, --version\n"
          "\n"
          "Exit status: 0 clean, 1 findings at deny level, 2 bad usage, bad config, or a unit\n"
          "that does not compile (named on standard error).\n"
          "\n"
          "Examples:\n"
          "  bear -- make                          # writes compile_commands.json for a Makefile project\n"
          "  fa-lint --all                         # every check over the whole database\n"
          "  fa-lint --lifetime src/render         # lifetime checks, files under src/render only\n"
          "  fa-lint --format sarif -o fa-lint.sarif\n"
          "  fa-lint game.c -- -Iinclude -DNDEBUG  # no database\n"
          "  fa-lint explain FA601\n",
          out);
}

static int usage_error(const char *fmt, const char *arg) {
    fputs("fa-lint: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nrun 'fa-lint --help' for the usage\n", stderr);
    return 2;
}

static int add_levels(options_t *o, const char *list, lint_level level) {
    char *copy = xstrdup(list);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        int r = rule_find(tok);
        if (r < 0) {
            int rc = usage_error("unknown check '%s' (fa-lint list shows the codes)", tok);
            free(copy);
            return rc;
        }
        if (o->nlevels == (int)(sizeof o->levels / sizeof o->levels[0])) break;
        o->levels[o->nlevels].rule = (rule_id)r;
        o->levels[o->nlevels++].level = level;
    }
    free(copy);
    return 0;
}

/* Parses argv[start..]; 0, or the exit status on an error or --help. */
static int parse_options(options_t *o, int argc, char **argv, int start) {
    o->format = FORMAT_TEXT;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_ARG()                                                                                           \
    do {                                                                                                     \
        if (!next) return usage_error("%s needs a value", a);                                                \
        i++;                                                                                                 \
    } while (0)
        if (strcmp(a, "--") == 0) {
            o->have_flags = true;
            for (int k = i + 1; k < argc; k++)
                strlist_add(&o->flags, argv[k]);
            break;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return -1;
        } else if (strcmp(a, "--version") == 0) {
            CXString v = clang_getClangVersion();
            printf("fa-lint %s (libclang: %s)\n", FA_LINT_VERSION, clang_getCString(v));
            clang_disposeString(v);
            return -1;
        } else if (strcmp(a, "--all") == 0) {
            for (int g = 1; g < GROUP_COUNT; g++)
                o->groups[g] = true;
            o->any_group = true;
        } else if (strncmp(a, "--", 2) == 0 && rule_group_find(a + 2) >= 0) {
            o->groups[rule_group_find(a + 2)] = true;
            o->any_group = true;
        } else if (strcmp(a, "-p") == 0) {
            NEED_ARG();
            o->db_dir = next;
        } else if (strcmp(a, "-j") == 0 || strncmp(a, "-j", 2) == 0) {
            const char *v = a[2] ? a + 2 : next;
            if (!a[2]) NEED_ARG();
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1024)
                return usage_error("-j needs a number from 1 to 1024, not '%s'", v);
            o->jobs = (unsigned)n;
        } else if (strcmp(a, "--deny") == 0 || strcmp(a, "--warn") == 0 || strcmp(a, "--allow") == 0) {
            NEED_ARG();
            int rc = add_levels(o, next, a[2] == 'd' ? LEVEL_DENY : a[2] == 'w' ? LEVEL_WARN : LEVEL_OFF);
            if (rc) return rc;
        } else if (strcmp(a, "--exclude") == 0) {
            NEED_ARG();
            strlist_add(&o->excludes, next);
        } else if (strcmp(a, "--format") == 0) {
            NEED_ARG();
            int f = report_format_find(next);
            if (f < 0) return usage_error("unknown format '%s' (text, json, sarif, junit, checkstyle)", next);
            o->format = (report_format)f;
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            NEED_ARG();
            o->output = next;
        } else if (strcmp(a, "--config") == 0) {
            NEED_ARG();
            o->config_path = next;
        } else if (strcmp(a, "--no-config") == 0) {
            o->no_config = true;
        } else if (strcmp(a, "--root") == 0) {
            NEED_ARG();
            o->root = next;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->quiet = true;
        } else if (a[0] == '-' && a[1]) {
            return usage_error("unknown option '%s'", a);
        } else {
            strlist_add(&o->paths, a);
        }
#undef NEED_ARG
    }
    if (!o->any_group)
        for (int g = 1; g < GROUP_COUNT; g++)
            o->groups[g] = true;
    if (!o->jobs) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->jobs = n > 0 ? (unsigned)n : 1;
    }
    return 0;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct lint_session {
    lint_config_t *cfg;
    char *root;
    unit_list_t units;
    run_output_t out;
    double seconds;
} lint_session_t;

static void session_free(lint_session_t *s) {
    config_destroy(s->cfg);
    free(s->root);
    units_free(&s->units);
    run_output_free(&s->out);
}

/* Config, units, analysis, policy. 0, or 2 with the reason on stderr. */
static int lint_run(options_t *o, lint_session_t *s) {
    char err[1024];
    s->cfg = config_create();
    if (!o->no_config) {
        static const char *const names[] = {".fa.toml", NULL};
        char *path = o->config_path ? xstrdup(o->config_path) : find_upward(NULL, names);
        if (path && config_load(s->cfg, path, err, sizeof err) < 0) {
            fprintf(stderr, "fa-lint: %s\n", err);
            free(path);
            return 2;
        }
        free(path);
    }
    for (size_t i = 0; i < o->excludes.count; i++)
        config_add_exclude(s->cfg, o->excludes.items[i]);
    for (int i = 0; i < o->nlevels; i++)
        config_set_level(s->cfg, o->levels[i].rule, o->levels[i].level);

    char *db_dir = NULL;
    if (o->have_flags) {
        if (!o->paths.count) return usage_error("%s", "files or directories must come before '--'");
        if (units_from_paths(&s->units, &o->paths, &o->flags, err, sizeof err) < 0) {
            fprintf(stderr, "fa-lint: %s\n", err);
            return 2;
        }
    } else {
        db_dir = units_find_database(o->db_dir, NULL);
        if (!db_dir) {
            if (o->db_dir)
                fprintf(stderr, "fa-lint: %s: no compile_commands.json there\n", o->db_dir);
            else
                fputs("fa-lint: no compile_commands.json in this directory, above it, or in a build/ below "
                      "one\n"
                      "  make one with 'bear -- make' (Debian's bear), CMake's "
                      "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON,\n"
                      "  or give files and flags: fa-lint FILES -- -Iinclude ...\n",
                      stderr);
            return 2;
        }
        strlist_t only = {0};
        for (size_t i = 0; i < o->paths.count; i++) {
            char *abs = absolute_path(NULL, o->paths.items[i]);
            struct stat st;
            if (stat(abs, &st) != 0) {
                fprintf(stderr, "fa-lint: %s: %s\n", o->paths.items[i], strerror(errno));
                free(abs);
                strlist_free(&only);
                free(db_dir);
                return 2;
            }
            strlist_add(&only, abs);
            free(abs);
        }
        int rc = units_from_database(&s->units, db_dir, &only, err, sizeof err);
        strlist_free(&only);
        if (rc < 0) {
            fprintf(stderr, "fa-lint: %s\n", err);
            free(db_dir);
            return 2;
        }
        if (o->paths.count && s->units.count == 0) {
            fprintf(stderr, "fa-lint: no unit of %s/compile_commands.json is under the paths given\n",
                    db_dir);
            free(db_dir);
            return 2;
        }
    }
    if (o->root)
        s->root = absolute_path(NULL, o->root);
    else if (config_loaded(s->cfg))
        s->root = absolute_path(NULL, config_dir(s->cfg));
    else if (db_dir) {
        /* The database usually sits in build/: the project is above it. */
        size_t n = strlen(db_dir);
        s->root = n > 6 && strcmp(db_dir + n - 6, "/build") == 0 ? xstrndup(db_dir, n - 6) : xstrdup(db_dir);
    } else
        s->root = absolute_path(NULL, ".");
    free(db_dir);

    /* Excluded units are not parsed at all. */
    for (size_t i = s->units.count; i-- > 0;) {
        char *rel = path_below(s->root, s->units.items[i].file);
        bool skip = rel && config_excluded(s->cfg, rel);
        free(rel);
        if (skip) {
            lint_unit_t dead = s->units.items[i];
            memmove(&s->units.items[i], &s->units.items[i + 1], (s->units.count - i - 1) * sizeof dead);
            s->units.count--;
            free(dead.file);
            free(dead.directory);
            strlist_free(&dead.args);
        }
    }
    analyze_opts_t opts = {.cfg = s->cfg, .root = s->root};
    double t0 = now_seconds();
    runner_run(&s->units, &opts, o->jobs, &s->out);
    s->seconds = now_seconds() - t0;
    policy_apply(&s->out, s->cfg, o->groups, s->root);
    for (size_t i = 0; i < s->out.errors.count; i++)
        fprintf(stderr, "fa-lint: %s\n", s->out.errors.items[i]);
    return 0;
}

static int exit_status(const run_output_t *out) {
    if (out->errors.count) return 2;
    for (size_t i = 0; i < out->findings.count; i++)
        if (out->findings.items[i].level == LEVEL_DENY) return 1;
    return 0;
}

static void summary_line(const options_t *o, const lint_session_t *s) {
    if (o->quiet) return;
    size_t deny = 0;
    for (size_t i = 0; i < s->out.findings.count; i++)
        deny += s->out.findings.items[i].level == LEVEL_DENY;
    fprintf(
        stderr,
        "fa-lint: %zu finding%s (%zu deny, %zu warn) in %zu files, %zu units (%zu failed to parse), %.2f s\n",
        s->out.findings.count, s->out.findings.count == 1 ? "" : "s", deny, s->out.findings.count - deny,
        s->out.files.count, s->units.count, s->out.errors.count, s->seconds);
}

static int cmd_lint(options_t *o) {
    lint_session_t s = {0};
    int rc = lint_run(o, &s);
    if (rc) {
        session_free(&s);
        return rc;
    }
    FILE *f = o->output ? fopen(o->output, "w") : stdout;
    if (!f) {
        fprintf(stderr, "fa-lint: %s: %s\n", o->output, strerror(errno));
        session_free(&s);
        return 2;
    }
    report_info_t info = {
        .root = s.root, .units = (unsigned)s.units.count, .seconds = s.seconds, .version = FA_LINT_VERSION};
    int wrc = report_write(f, o->format, &s.out, &info);
    if (o->output && fclose(f) != 0)
        wrc = -1;
    else if (!o->output)
        fflush(stdout);
    if (wrc < 0) {
        fprintf(stderr, "fa-lint: could not write the report%s%s\n", o->output ? " to " : "",
                o->output ? o->output : "");
        session_free(&s);
        return 2;
    }
    summary_line(o, &s);
    rc = exit_status(&s.out);
    session_free(&s);
    return rc;
}

/* show FILE: the file's lines with its findings under them. */
static int cmd_show(options_t *o) {
    if (o->paths.count != 1) return usage_error("%s", "show takes one FILE");
    char *abs = absolute_path(NULL, o->paths.items[0]);
    size_t len;
    char *text = read_whole_file(abs, &len);
    if (!text) {
        fprintf(stderr, "fa-lint: %s: %s\n", o->paths.items[0], strerror(errno));
        free(abs);
        return 2;
    }
    lint_session_t s = {0};
    int rc = lint_run(o, &s);
    if (rc) {
        free(abs);
        free(text);
        session_free(&s);
        return rc;
    }
    unsigned line = 1;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        printf("%5u | %.*s\n", line, (int)n, p);
        for (size_t i = 0; i < s.out.findings.count; i++) {
            const lint_finding_t *x = &s.out.findings.items[i];
            if (x->line != line || strcmp(x->file, abs) != 0) continue;
            printf("      | %*s^ %s %s: %s\n", (int)(x->col > 1 ? x->col - 1 : 0), "",
                   rule_get(x->rule)->code, x->level == LEVEL_DENY ? "error" : "warning", x->message);
        }
        line++;
        p = nl ? nl + 1 : end;
    }
    summary_line(o, &s);
    rc = exit_status(&s.out);
    free(abs);
    free(text);
    session_free(&s);
    return rc;
}

static int cmd_explain(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[2], "--help") == 0) {
        fputs("usage: fa-lint explain CODE      (fa-lint list shows the codes)\n",
              argc == 3 ? stdout : stderr);
        return argc == 3 ? 0 : 2;
    }
    int r = rule_find(argv[2]);
    if (r < 0) return usage_error("unknown check '%s' (fa-lint list shows the codes)", argv[2]);
    rule_explain(stdout, (rule_id)r);
    return 0;
}

static int cmd_list(int argc, char **argv) {
    bool json = argc == 4 && strcmp(argv[2], "--format") == 0 && strcmp(argv[3], "json") == 0;
    if (argc == 3 && strcmp(argv[2], "--help") == 0) {
        puts("usage: fa-lint list [--format json]   every check: code, group, name, summary");
        return 0;
    }
    if (argc != 2 && !json) {
        fputs("usage: fa-lint list [--format json]\n", stderr);
        return 2;
    }
    if (json) fputs("[\n", stdout);
    for (int r = 0; r < RULE_COUNT; r++) {
        const rule_info *ri = rule_get((rule_id)r);
        if (json)
            printf("  {\"code\": \"%s\", \"name\": \"%s\", \"group\": \"%s\", \"needs_config\": %s, "
                   "\"summary\": \"%s\"}%s\n",
                   ri->code, ri->name, rule_group_name(ri->group), ri->needs_config ? "true" : "false",
                   ri->summary, r + 1 < RULE_COUNT ? "," : "");
        else
            printf("%s  %-13s %-28s %s%s\n", ri->code, rule_group_name(ri->group), ri->name, ri->summary,
                   ri->needs_config ? " [.fa.toml]" : "");
    }
    if (json) fputs("]\n", stdout);
    return 0;
}

static int cmd_init(int argc, char **argv) {
    bool force = false;
    const char *dir = ".";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if (strcmp(argv[i], "--help") == 0) {
            puts("usage: fa-lint init [--force] [DIR]   writes DIR/.fa.toml (refuses to overwrite without "
                 "--force)");
            return 0;
        } else if (argv[i][0] == '-')
            return usage_error("unknown option '%s' for init", argv[i]);
        else
            dir = argv[i];
    }
    char *path = xasprintf("%s/.fa.toml", dir);
    struct stat st;
    if (!force && stat(path, &st) == 0) {
        fprintf(stderr, "fa-lint: %s exists; use --force to replace it\n", path);
        free(path);
        return 2;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "fa-lint: %s: %s\n", path, strerror(errno));
        free(path);
        return 2;
    }
    config_write_template(f);
    if (fclose(f) != 0) {
        fprintf(stderr, "fa-lint: %s: %s\n", path, strerror(errno));
        free(path);
        return 2;
    }
    printf("wrote %s\n", path);
    free(path);
    return 0;
}

static void options_free(options_t *o) {
    strlist_free(&o->paths);
    strlist_free(&o->flags);
    strlist_free(&o->excludes);
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "";
    if (strcmp(cmd, "explain") == 0) return cmd_explain(argc, argv);
    if (strcmp(cmd, "list") == 0) return cmd_list(argc, argv);
    if (strcmp(cmd, "init") == 0) return cmd_init(argc, argv);
    bool show = strcmp(cmd, "show") == 0;
    options_t o = {0};
    int rc = parse_options(&o, argc, argv, show ? 2 : 1);
    if (rc) {
        options_free(&o);
        return rc < 0 ? 0 : rc;
    }
    rc = show ? cmd_show(&o) : cmd_lint(&o);
    options_free(&o);
    return rc;
}
