/* policy.c — see policy.h. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "suppress.h"

static bool budgeted(const run_output_t *out, const lint_config_t *cfg, const char *tag) {
    if (config_tag_budgeted(cfg, tag)) return true;
    for (size_t i = 0; i < out->budgets.count; i++)
        if (tag_under(tag, out->budgets.items[i])) return true;
    return false;
}

/* FA001 for the unreasoned or unknown suppressions of one file. */
static void suppression_findings(finding_list_t *add, const char *path, const suppression_list_t *l) {
    for (size_t i = 0; i < l->count; i++) {
        const suppression_t *s = &l->items[i];
        char codes[128] = "";
        for (int r = 0; r < RULE_COUNT; r++)
            if (s->rules[r]) {
                size_t n = strlen(codes);
                snprintf(codes + n, sizeof codes - n, "%s%s", n ? ", " : "", rule_get((rule_id)r)->code);
            }
        if (s->unknown[0])
            findings_add(add, R_FA001, path, s->line, s->col, s->line, s->col, "", s->unknown,
                         "suppression names '%s', which is not a fa-lint code", s->unknown);
        else if (!s->has_reason)
            findings_add(add, R_FA001, path, s->line, s->col, s->line, s->col, "", codes,
                         "suppression of %s gives no reason (it suppresses nothing until it does)",
                         codes[0] ? codes : "?");
    }
}

void policy_apply(run_output_t *out, const lint_config_t *cfg, const bool groups[GROUP_COUNT],
                  const char *root) {
    finding_list_t *l = &out->findings;
    finding_list_t extra = {0};
    /* In-code suppressions, file by file (each file read once). */
    for (size_t f = 0; f < out->files.count; f++) {
        const char *path = out->files.items[f];
        size_t len;
        char *text = read_whole_file(path, &len);
        if (!text) continue;
        suppression_list_t sl = {0};
        suppressions_scan(text, len, &sl);
        free(text);
        if (sl.count) {
            for (size_t i = l->count; i-- > 0;)
                if (strcmp(l->items[i].file, path) == 0 &&
                    suppressions_cover(&sl, l->items[i].line, l->items[i].rule))
                    findings_remove(l, i);
            suppression_findings(&extra, path, &sl);
        }
        suppressions_free(&sl);
    }
    findings_move(l, &extra);
    findings_sort_unique(l);

    /* FA302 once per tag, at its first use. */
    strlist_t seen = {0};
    for (size_t i = 0; i < l->count;) {
        lint_finding_t *f = &l->items[i];
        bool drop = false;
        if (f->rule == R_FA301 || f->rule == R_FA302) drop = budgeted(out, cfg, f->subject);
        if (!drop && f->rule == R_FA302) {
            drop = strlist_has(&seen, f->subject);
            if (!drop) strlist_add(&seen, f->subject);
        }
        const rule_info *r = rule_get(f->rule);
        if (!groups[r->group] && r->group != GROUP_META) drop = true;
        if (!drop && config_level(cfg, f->rule) == LEVEL_OFF) drop = true;
        if (!drop) {
            char *rel = path_below(root, f->file);
            if (rel && config_suppressed(cfg, rel, f->rule)) drop = true;
            free(rel);
        }
        if (drop) {
            findings_remove(l, i);
            continue;
        }
        f->level = (int)config_level(cfg, f->rule);
        i++;
    }
    strlist_free(&seen);
}
