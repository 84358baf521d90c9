/* cmd_baseline.c — `baseline save FILE` (a run's figures per tag as a small
 * JSON file to commit) and `baseline check FILE` (a run against it, with
 * compare's thresholds and exit code). */
#include "baseline.h"
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const cmd_info_t cmd_baseline_info = {
    .name = "baseline",
    .summary = "save a run's memory figures as a baseline file, or check a run against one (exit 4)",
    .synopsis = "save FILE [--capture F]\n"
                "       baseline check FILE [--capture F] [--max-growth PCT] [--min-bytes SIZE] [--min-allocs N]\n"
                "       [--thresholds FILE] [--format table|json|markdown|junit] [--junit FILE]",
    .details = "The run is the capture file given with --capture, or a session of the daemon chosen\n"
               "with the global --session (an id, a prefix, an app name, app@build, 'latest').\n"
               "save writes the figures compare uses (peak, p50/p95/p99 live bytes, frame bytes and\n"
               "allocations per frame, per tag and per call site) as JSON, one row per line, sorted, without times or\n"
               "session ids, so that the file is stable and its diffs are readable in review ('-'\n"
               "writes to stdout). check compares the run to the file exactly as compare does, the\n"
               "baseline being the base: exit 4 on a regression, 0 otherwise. A baseline saved before\n"
               "call sites (version 1) still reads: its tags are checked, with a note.\n",
    .example = "  fa-cli baseline save memory-baseline.json --capture run.facap\n"
               "  fa-cli baseline check memory-baseline.json --capture run.facap --junit memory.xml\n"
               "  fa-cli --session fa-demo@42 baseline check memory-baseline.json --format markdown\n"
               "  (run.facap from the game run as FA_INSIGHT_URL=file:run.facap ./game)\n",
};

static int read_file(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    *text = NULL;
    *len = 0;
    size_t cap = 0;
    for (;;) {
        if (*len + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > (64u << 20)) break;
            char *n = realloc(*text, cap);
            if (!n) break;
            *text = n;
        }
        size_t got = fread(*text + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0) {
            int err = ferror(f);
            fclose(f);
            return err ? -1 : 0;
        }
    }
    fclose(f);
    free(*text);
    *text = NULL;
    errno = EFBIG;
    return -1;
}

static int baseline_save(cli_t *cli, const char *file, const summary_t *s) {
    if (strcmp(file, "-") == 0) {
        summary_write_baseline(stdout, s);
        return CLI_EXIT_OK;
    }
    /* Through a temporary file and a rename: a baseline is never half
     * written. */
    size_t n = strlen(file) + 8;
    char *tmp = malloc(n);
    if (!tmp) return CLI_EXIT_SERVER;
    snprintf(tmp, n, "%s.tmp~", file);
    FILE *f = fopen(tmp, "w");
    int rc = CLI_EXIT_OK;
    if (f) {
        summary_write_baseline(f, s);
        if (fclose(f) != 0 || rename(tmp, file) != 0) f = NULL;
    }
    if (!f) {
        fprintf(cli->err, CLI_NAME " baseline: cannot write '%s': %s\n", file, strerror(errno));
        unlink(tmp);
        rc = CLI_EXIT_USAGE;
    } else {
        size_t sites = 0;
        for (size_t i = 0; i < s->count; i++)
            sites += s->rows[i].kind == SUMMARY_SITE;
        fprintf(cli->err, CLI_NAME " baseline: %zu tag%s and %zu call site%s of %s written to %s\n", s->count - sites,
                s->count - sites == 1 ? "" : "s", sites, sites == 1 ? "" : "s", s->info.source, file);
    }
    free(tmp);
    return rc;
}

int cmd_baseline(cli_t *cli, int argc, char **argv) {
    const char *capture = NULL;
    gate_opts_t o = {0};
    args_opt_t opts[] = {
        {"capture", ARGS_STRING, &capture, "F", "the run is this capture file (default: --session)"},
        GATE_OPTIONS(o),
        {0},
    };
    const char *pos[2];
    int npos = 0;
    int rc = args_parse_positional(cli, &cmd_baseline_info, opts, argc, argv, pos, 2, &npos);
    if (rc >= 0) return rc;
    if (npos != 2 || (strcmp(pos[0], "save") != 0 && strcmp(pos[0], "check") != 0))
        return args_usage_error(&cmd_baseline_info, "needs 'save FILE' or 'check FILE'");
    bool save = strcmp(pos[0], "save") == 0;
    if (save && (o.max_growth || o.min_bytes || o.min_allocs || o.thresholds || o.format || o.junit))
        return args_usage_error(&cmd_baseline_info, "thresholds and report options belong to 'check', not 'save'");
    if (capture && cli->session)
        return args_usage_error(&cmd_baseline_info, "give --capture or --session, not both");
    compare_rules_t *rules = NULL;
    compare_format format = CF_TABLE;
    summary_t base = {0}, run = {0};
    if (!save) {
        if ((rc = gate_parse_options(&cmd_baseline_info, &o, cli->json, &rules, &format)) >= 0) return rc;
        char *text = NULL, err[512];
        size_t len = 0;
        if (read_file(pos[1], &text, &len) != 0) {
            fprintf(cli->err, CLI_NAME " baseline: cannot read '%s': %s\n", pos[1], strerror(errno));
            compare_rules_free(rules);
            return CLI_EXIT_USAGE;
        }
        rc = summary_read_baseline(text, len, &base, err, sizeof err);
        free(text);
        if (rc != 0) {
            fprintf(cli->err, CLI_NAME " baseline: '%s': %s\n", pos[1], err);
            compare_rules_free(rules);
            return CLI_EXIT_USAGE;
        }
        snprintf(base.info.source, sizeof base.info.source, "baseline %s", pos[1]);
        if (base.baseline_version < 2)
            fprintf(cli->err,
                    CLI_NAME " baseline: note: '%s' is a version %d baseline, saved before call sites: its tags are "
                             "checked, call sites are not (save it again to gate them too)\n",
                    pos[1], base.baseline_version);
    }
    char *spec = run_spec_of(capture, cli->session);
    rc = spec ? summary_of_run(cli, spec, &run) : CLI_EXIT_SERVER;
    free(spec);
    if (rc == 0) rc = save ? baseline_save(cli, pos[1], &run) : gate_report(cli, &o, rules, format, &base, &run);
    summary_free(&base);
    summary_free(&run);
    compare_rules_free(rules);
    return rc;
}
