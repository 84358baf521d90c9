/* cmd_compare.c — `compare BASE CANDIDATE`: two runs (capture files or
 * sessions) tag by tag, with thresholds and a CI exit code; and the gate it
 * shares with `baseline check`. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const cmd_info_t cmd_compare_info = {
    .name = "compare",
    .summary = "compare two runs by tag and call site; exit 4 when memory grew past the thresholds",
    .synopsis = "BASE CANDIDATE [--max-growth PCT] [--min-bytes SIZE] [--min-allocs N] [--thresholds FILE]\n"
                "       [--format table|json|markdown|junit] [--junit FILE]",
    .details =
        "BASE and CANDIDATE are each a capture file (FA_INSIGHT_URL=file:PATH in the game; read\n"
        "directly, no daemon needed) or a session of the daemon: an id, a unique prefix, an app\n"
        "name, app@build (its latest session with that build id) or 'latest'. 'file:PATH' and\n"
        "'session:SPEC' force either reading.\n"
        "Per tag (its descendants included): peak, p50/p95/p99 of the per-frame live bytes,\n"
        "frame-arena bytes per frame and allocations per frame; the change in bytes and percent.\n"
        "The same per call site ('tag;function file:line': the line's live bytes, the bytes and\n"
        "allocations it made per frame), when both runs have call sites; the table lists the\n"
        "sites that changed. Rows are sorted with regressions first, then by growth in bytes.\n"
        "A figure regresses when it grows by more than --max-growth percent (default 10) AND by\n"
        "more than --min-bytes (default 64KiB; allocations per frame: more than --min-allocs,\n"
        "default 1), so that small tags do not flap. --thresholds FILE sets them per tag (JSON:\n"
        "see fa-cli/README.md). Exit status: 4 when any figure regressed, else 0.\n",
    .example = "  fa-cli compare build-41.facap build-42.facap\n"
               "  fa-cli compare fa-demo@41 fa-demo@42 --format markdown > comment.md\n"
               "  fa-cli compare base.facap new.facap --max-growth 5 --min-bytes 1MiB --junit memory.xml\n",
};

/* Options shared by compare and baseline check. */
int gate_parse_options(const cmd_info_t *info, const gate_opts_t *o, bool json, compare_rules_t **rules,
                       compare_format *format) {
    compare_limits_t flags = {0};
    bool set_growth = false, set_bytes = false, set_allocs = false;
    if (o->max_growth) {
        char *end;
        errno = 0;
        flags.max_growth_pct = strtod(o->max_growth, &end);
        if (errno || end == o->max_growth || (*end && strcmp(end, "%") != 0) || !(flags.max_growth_pct >= 0) ||
            !isfinite(flags.max_growth_pct))
            return args_usage_error(info, "--max-growth: '%s' is not a percentage >= 0 (e.g. 10 or 2.5)",
                                    o->max_growth);
        set_growth = true;
    }
    if (o->min_bytes) {
        if (units_parse_bytes(o->min_bytes, &flags.min_bytes) != 0)
            return args_usage_error(info, "--min-bytes: '%s' is not a size (e.g. 65536, 64KiB, 1MiB)", o->min_bytes);
        set_bytes = true;
    }
    if (o->min_allocs) {
        char *end;
        errno = 0;
        flags.min_allocs = strtod(o->min_allocs, &end);
        if (errno || end == o->min_allocs || *end || !(flags.min_allocs >= 0) || !isfinite(flags.min_allocs))
            return args_usage_error(info, "--min-allocs: '%s' is not a number >= 0", o->min_allocs);
        set_allocs = true;
    }
    const char *fmt = o->format ? o->format : json ? "json" : "table";
    if (compare_format_parse(fmt, format) != 0)
        return args_usage_error(info, "--format: '%s' is not table, json, markdown or junit", fmt);
    char err[512];
    if (compare_rules_load(o->thresholds, &flags, set_growth, set_bytes, set_allocs, rules, err, sizeof err) != 0)
        return args_usage_error(info, "--thresholds: %s", err);
    return -1;
}

int gate_report(const cli_t *cli, const gate_opts_t *o, const compare_rules_t *rules, compare_format format,
                const summary_t *base, const summary_t *candidate) {
    compare_result_t r;
    if (compare_run(base, candidate, rules, &r) != 0) {
        fprintf(cli->err, CLI_NAME " %s: out of memory\n", cli->command);
        return CLI_EXIT_SERVER;
    }
    compare_print(cli, stdout, format, &r);
    fflush(stdout);
    if (r.sites_left_out)
        fprintf(cli->err,
                CLI_NAME " %s: note: call sites not compared: only the %s has them (%zu site rows left out)\n",
                cli->command, base->sites ? "base" : "candidate", r.sites_left_out);
    int rc = CLI_EXIT_OK;
    if (o->junit) {
        FILE *f = fopen(o->junit, "w");
        if (f) {
            compare_print(cli, f, CF_JUNIT, &r);
            if (fclose(f) != 0) f = NULL;
        }
        if (!f) {
            fprintf(cli->err, CLI_NAME " %s: cannot write --junit '%s': %s\n", cli->command, o->junit,
                    strerror(errno));
            rc = CLI_EXIT_USAGE;
        }
    }
    int verdict = compare_verdict(cli, &r);
    compare_result_free(&r);
    return rc ? rc : verdict;
}

typedef struct side {
    const cli_t *cli;
    const char *spec;
    summary_t summary;
    int rc;
} side_t;

static void *read_side(void *arg) {
    side_t *s = arg;
    s->rc = summary_of_run(s->cli, s->spec, &s->summary);
    return NULL;
}

int cmd_compare(cli_t *cli, int argc, char **argv) {
    gate_opts_t o = {0};
    args_opt_t opts[] = {GATE_OPTIONS(o), {0}};
    const char *pos[2];
    int npos = 0;
    int rc = args_parse_positional(cli, &cmd_compare_info, opts, argc, argv, pos, 2, &npos);
    if (rc >= 0) return rc;
    if (npos != 2)
        return args_usage_error(&cmd_compare_info, "needs two runs, BASE and CANDIDATE (got %d)", npos);
    compare_rules_t *rules = NULL;
    compare_format format;
    if ((rc = gate_parse_options(&cmd_compare_info, &o, cli->json, &rules, &format)) >= 0) return rc;
    side_t sides[2] = {{.cli = cli, .spec = pos[0]}, {.cli = cli, .spec = pos[1]}};
    /* Two capture files are read at once (a one-hour capture is hundreds
     * of MB); sessions one after the other, through one daemon. */
    pthread_t thread;
    bool parallel = run_spec_is_capture(pos[0]) && run_spec_is_capture(pos[1]) &&
                    pthread_create(&thread, NULL, read_side, &sides[1]) == 0;
    read_side(&sides[0]);
    if (parallel)
        pthread_join(thread, NULL);
    else if (sides[0].rc == 0)
        read_side(&sides[1]);
    rc = sides[0].rc ? sides[0].rc : sides[1].rc;
    if (rc == 0) rc = gate_report(cli, &o, rules, format, &sides[0].summary, &sides[1].summary);
    summary_free(&sides[0].summary);
    summary_free(&sides[1].summary);
    compare_rules_free(rules);
    return rc;
}
