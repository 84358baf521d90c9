/* config.h — .fa.toml: levels, excludes, declared tags, module map, budgets
 * known to come from data, config-level suppressions. The file format is a
 * TOML subset (tables, arrays of tables, strings, booleans, arrays of
 * strings); anything else is an error naming the file and line.
 * A config is built on the main thread and read-only while workers run. */
#ifndef FA_LINT_CONFIG_H
#define FA_LINT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "rules.h"

typedef struct lint_config lint_config_t;

typedef enum lint_level { LEVEL_OFF = 0, LEVEL_WARN = 1, LEVEL_DENY = 2 } lint_level;

/* An empty config (every check at deny, nothing declared). NULL on no memory. */
lint_config_t *config_create(void);
void config_destroy(lint_config_t *cfg);

/* Reads a .fa.toml into cfg. 0, or -1 with a message naming path:line
 * written to err (size errlen). */
int config_load(lint_config_t *cfg, const char *path, char *err, size_t errlen);
/* Parses text (len bytes, need not be NUL-terminated) as if read from name. */
int config_parse(lint_config_t *cfg, const char *name, const char *text, size_t len, char *err,
                 size_t errlen);

/* Whether a file was loaded, and its directory (the project root by default). */
bool config_loaded(const lint_config_t *cfg);
const char *config_dir(const lint_config_t *cfg);

void config_set_level(lint_config_t *cfg, rule_id rule, lint_level level);
lint_level config_level(const lint_config_t *cfg, rule_id rule);
/* Adds an exclude glob (relative to the root; ** spans directories). */
int config_add_exclude(lint_config_t *cfg, const char *glob);
bool config_excluded(const lint_config_t *cfg, const char *relpath);

/* FA801: NULL-safe; true when no [tags] declared list exists. */
bool config_has_declared_tags(const lint_config_t *cfg);
bool config_tag_declared(const lint_config_t *cfg, const char *tag);
/* For a tag pushed below an unknown caller's tag: declared, or some declared
 * path ends with "/tag". */
bool config_tag_declared_below(const lint_config_t *cfg, const char *tag);
/* FA802: the subsystem the module map gives relpath, or NULL. */
const char *config_module_tag(const lint_config_t *cfg, const char *relpath);
/* FA301/FA302: tags budgeted from data at run time. */
bool config_tag_budgeted(const lint_config_t *cfg, const char *tag);
bool config_require_budgets(const lint_config_t *cfg);
/* FA601: functions that return frame memory on purpose, and struct types
 * that live longer than a frame. */
bool config_frame_function(const lint_config_t *cfg, const char *name);
bool config_long_lived_type(const lint_config_t *cfg, const char *type_name);
/* FA701: outside functions that call their callback before returning. */
bool config_sync_callback(const lint_config_t *cfg, const char *name);
/* A [[suppress]] entry covering (relpath, rule): its reason, else NULL. */
const char *config_suppressed(const lint_config_t *cfg, const char *relpath, rule_id rule);

/* Glob match: '*' and '?' within one path component, '**' across '/'. */
bool glob_match(const char *glob, const char *path);
/* A tag is covered by a budget on itself or on one of its parents. */
bool tag_under(const char *tag, const char *parent);

/* The commented file `fa-lint init` writes. */
void config_write_template(FILE *out);

#endif
