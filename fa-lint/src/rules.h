/* rules.h — fa-lint's checks: stable codes, groups, one-line summaries and
 * the `explain` text. The table is the single source for `list`, `explain`,
 * SARIF rule metadata and the README's code table. */
#ifndef FA_LINT_RULES_H
#define FA_LINT_RULES_H

#include <stdbool.h>
#include <stdio.h>

typedef enum rule_group {
    GROUP_META = 0,     /* always on: suppression hygiene */
    GROUP_THREADING,    /* FA2xx */
    GROUP_BUDGETS,      /* FA3xx */
    GROUP_LIFETIME,     /* FA6xx */
    GROUP_ASYNC,        /* FA7xx */
    GROUP_ARCHITECTURE, /* FA8xx */
    GROUP_COUNT
} rule_group;

/* Ids in table order; a finding carries one. */
typedef enum rule_id {
    R_FA001,
    R_FA201,
    R_FA202,
    R_FA203,
    R_FA301,
    R_FA302,
    R_FA601,
    R_FA602,
    R_FA603,
    R_FA604,
    R_FA605,
    R_FA701,
    R_FA702,
    R_FA801,
    R_FA802,
    R_FA803,
    RULE_COUNT
} rule_id;

typedef struct rule_info {
    const char *code; /* "FA601" */
    const char *name; /* "frame-escape": SARIF's rule name */
    rule_group group;
    bool needs_config;   /* silent without a .fa.toml that asks for it */
    const char *summary; /* one line */
    const char *what;    /* explain: what it finds */
    const char *why;     /* explain: why it matters */
    const char *fix;     /* explain: how to fix it */
    const char *wrong;   /* explain: a wrong example */
    const char *right;   /* explain: the right version */
} rule_info;

/* The rule with that id. */
const rule_info *rule_get(rule_id id);
/* The id of a code ("FA601", case-insensitive), or -1. */
int rule_find(const char *code);
/* The group named by a CLI flag word ("threading"), or -1. */
int rule_group_find(const char *word);
const char *rule_group_name(rule_group g);
/* Writes the explain text of a rule. */
void rule_explain(FILE *out, rule_id id);

#endif
