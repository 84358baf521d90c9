/* runner.c — see runner.h. Units are handed out by an atomic counter, so a
 * slow unit never holds the others back; results are merged in unit order,
 * so the output does not depend on -j. */
#include "runner.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct unit_slot {
    unit_result_t result;
    char *error; /* why the unit could not be analysed, or NULL */
} unit_slot_t;

typedef struct shared {
    const unit_list_t *units;
    const analyze_opts_t *opts;
    unit_slot_t *slots;
    atomic_size_t next;
} shared_t;

/* The unit's error diagnostics, or NULL when it parsed cleanly. */
static char *parse_errors(CXTranslationUnit tu) {
    unsigned n = clang_getNumDiagnostics(tu);
    char *msg = NULL;
    unsigned shown = 0;
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
            if (shown < 3) {
                CXString s = clang_formatDiagnostic(d, CXDiagnostic_DisplaySourceLocation |
                                                           CXDiagnostic_DisplayColumn);
                char *next = xasprintf("%s%s%s", msg ? msg : "", msg ? "\n    " : "", clang_getCString(s));
                clang_disposeString(s);
                free(msg);
                msg = next;
            }
            shown++;
        }
        clang_disposeDiagnostic(d);
    }
    if (shown > 3) {
        char *next = xasprintf("%s\n    (%u more errors)", msg, shown - 3);
        free(msg);
        msg = next;
    }
    return msg;
}

static void run_one(CXIndex index, const lint_unit_t *u, const analyze_opts_t *opts, unit_slot_t *slot) {
    const char **args = xcalloc(u->args.count + 1, sizeof *args);
    for (size_t i = 0; i < u->args.count; i++)
        args[i] = u->args.items[i];
    CXTranslationUnit tu = NULL;
    unsigned flags = CXTranslationUnit_IgnoreNonErrorsFromIncludedFiles;
    enum CXErrorCode rc =
        clang_parseTranslationUnit2(index, u->file, args, (int)u->args.count, NULL, 0, flags, &tu);
    free(args);
    if (rc != CXError_Success || !tu) {
        slot->error =
            xasprintf("%s: libclang could not parse it (error %d): check the file exists and the flags",
                      u->file, (int)rc);
        return;
    }
    char *errors = parse_errors(tu);
    if (errors) {
        slot->error = xasprintf("%s: does not compile, not analysed:\n    %s", u->file, errors);
        free(errors);
    } else {
        analyze_unit(tu, opts, &slot->result);
    }
    clang_disposeTranslationUnit(tu);
}

static void *worker(void *arg) {
    shared_t *sh = arg;
    CXIndex index = clang_createIndex(0, 0);
    for (;;) {
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= sh->units->count) break;
        run_one(index, &sh->units->items[i], sh->opts, &sh->slots[i]);
    }
    clang_disposeIndex(index);
    return NULL;
}

void runner_run(const unit_list_t *units, const analyze_opts_t *opts, unsigned jobs, run_output_t *out) {
    shared_t sh = {.units = units, .opts = opts, .slots = xcalloc(units->count + 1, sizeof(unit_slot_t))};
    atomic_init(&sh.next, 0);
    if (jobs < 1) jobs = 1;
    if (jobs > units->count) jobs = units->count ? (unsigned)units->count : 1;
    pthread_t *threads = xcalloc(jobs, sizeof *threads);
    unsigned started = 0;
    /* libclang parses on a thread of its own with a large stack; ours only
     * wait for it and walk the tree. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);
    for (unsigned t = 1; t < jobs; t++)
        if (pthread_create(&threads[t], &attr, worker, &sh) == 0)
            started++;
        else
            break;
    pthread_attr_destroy(&attr);
    worker(&sh);
    for (unsigned t = 1; t <= started; t++)
        pthread_join(threads[t], NULL);
    free(threads);

    for (size_t i = 0; i < units->count; i++) {
        unit_slot_t *s = &sh.slots[i];
        if (s->error) {
            strlist_add(&out->errors, s->error);
            strlist_add(&out->error_files, units->items[i].file);
            free(s->error);
        }
        findings_move(&out->findings, &s->result.findings);
        for (size_t k = 0; k < s->result.budgets.count; k++)
            if (!strlist_has(&out->budgets, s->result.budgets.items[k]))
                strlist_add(&out->budgets, s->result.budgets.items[k]);
        for (size_t k = 0; k < s->result.files.count; k++)
            if (!strlist_has(&out->files, s->result.files.items[k]))
                strlist_add(&out->files, s->result.files.items[k]);
        unit_result_free(&s->result);
    }
    free(sh.slots);
    findings_sort_unique(&out->findings);
}

void run_output_free(run_output_t *r) {
    findings_free(&r->findings);
    strlist_free(&r->budgets);
    strlist_free(&r->files);
    strlist_free(&r->errors);
    strlist_free(&r->error_files);
}
