/* config.c — .fa.toml. The parser reads the TOML subset fa-lint needs and
 * refuses the rest with path:line, so a typo in a key never silently turns a
 * check off. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct suppress_entry {
    char *path_glob;
    bool rules[RULE_COUNT];
    char *reason;
} suppress_entry_t;

typedef struct module_entry {
    char *glob;
    char *tag;
} module_entry_t;

struct lint_config {
    bool loaded;
    char *dir;
    lint_level level[RULE_COUNT];
    strlist_t exclude, declared, budgeted, frame_functions, long_lived, sync_callbacks;
    bool has_declared, require_budgets;
    module_entry_t *modules;
    size_t module_count, module_cap;
    suppress_entry_t *suppress;
    size_t suppress_count, suppress_cap;
};

lint_config_t *config_create(void) {
    lint_config_t *cfg = xcalloc(1, sizeof *cfg);
    for (int i = 0; i < RULE_COUNT; i++)
        cfg->level[i] = LEVEL_DENY;
    return cfg;
}

void config_destroy(lint_config_t *cfg) {
    if (!cfg) return;
    free(cfg->dir);
    strlist_free(&cfg->exclude);
    strlist_free(&cfg->declared);
    strlist_free(&cfg->budgeted);
    strlist_free(&cfg->frame_functions);
    strlist_free(&cfg->long_lived);
    strlist_free(&cfg->sync_callbacks);
    for (size_t i = 0; i < cfg->module_count; i++) {
        free(cfg->modules[i].glob);
        free(cfg->modules[i].tag);
    }
    free(cfg->modules);
    for (size_t i = 0; i < cfg->suppress_count; i++) {
        free(cfg->suppress[i].path_glob);
        free(cfg->suppress[i].reason);
    }
    free(cfg->suppress);
    free(cfg);
}

/* ---- the TOML subset ---------------------------------------------------- */

typedef enum { V_STRING, V_BOOL, V_ARRAY } value_type;
typedef struct value {
    value_type type;
    char *string;
    bool boolean;
    strlist_t array;
} value_t;

typedef struct parser {
    const char *name;
    const char *p, *end;
    int line;
    char *err;
    size_t errlen;
    char table[64];
    bool array_table;
} parser_t;

static int fail(parser_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(parser_t *ps, const char *fmt, ...) {
    int n = snprintf(ps->err, ps->errlen, "%s:%d: ", ps->name, ps->line);
    if (n < 0 || (size_t)n >= ps->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Skips blanks, comments and (when newlines is set) line ends. */
static void skip_space(parser_t *ps, bool newlines) {
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == ' ' || c == '\t' || c == '\r') {
            ps->p++;
        } else if (c == '#') {
            while (ps->p < ps->end && *ps->p != '\n')
                ps->p++;
        } else if (c == '\n' && newlines) {
            ps->p++;
            ps->line++;
        } else {
            break;
        }
    }
}

static int parse_string(parser_t *ps, char **out) {
    char quote = *ps->p++;
    size_t cap = 0, n = 0;
    char *buf = NULL;
    xgrow(&buf, &cap, 16, 1);
    while (ps->p < ps->end && *ps->p != quote) {
        char c = *ps->p++;
        if (c == '\n') {
            free(buf);
            return fail(ps, "string not closed on its line");
        }
        if (c == '\\' && quote == '"') {
            if (ps->p >= ps->end) break;
            char e = *ps->p++;
            switch (e) {
            case 'n':
                c = '\n';
                break;
            case 't':
                c = '\t';
                break;
            case '"':
                c = '"';
                break;
            case '\\':
                c = '\\';
                break;
            default:
                free(buf);
                return fail(ps, "unsupported escape '\\%c' in a string", e);
            }
        } else if ((unsigned char)c < 0x20 && c != '\t') {
            free(buf);
            return fail(ps, "control character in a string");
        }
        xgrow(&buf, &cap, n + 2, 1);
        buf[n++] = c;
    }
    if (ps->p >= ps->end) {
        free(buf);
        return fail(ps, "string not closed");
    }
    ps->p++;
    buf[n] = 0;
    *out = buf;
    return 0;
}

static int parse_key(parser_t *ps, char *key, size_t keylen) {
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
        char *s;
        if (parse_string(ps, &s) < 0) return -1;
        if (strlen(s) >= keylen) {
            free(s);
            return fail(ps, "key too long");
        }
        strcpy(key, s);
        free(s);
        return 0;
    }
    size_t n = 0;
    while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '-')) {
        if (n + 1 >= keylen) return fail(ps, "key too long");
        key[n++] = *ps->p++;
    }
    key[n] = 0;
    if (n == 0) return fail(ps, "expected a key");
    return 0;
}

static void value_free(value_t *v) {
    free(v->string);
    strlist_free(&v->array);
}

static int parse_value(parser_t *ps, value_t *v) {
    *v = (value_t){0};
    if (ps->p >= ps->end) return fail(ps, "expected a value");
    char c = *ps->p;
    if (c == '"' || c == '\'') {
        v->type = V_STRING;
        return parse_string(ps, &v->string);
    }
    if (c == '[') {
        v->type = V_ARRAY;
        ps->p++;
        for (;;) {
            skip_space(ps, true);
            if (ps->p >= ps->end) {
                value_free(v);
                return fail(ps, "array not closed");
            }
            if (*ps->p == ']') {
                ps->p++;
                return 0;
            }
            if (*ps->p != '"' && *ps->p != '\'') {
                value_free(v);
                return fail(ps, "arrays hold strings only");
            }
            char *s;
            if (parse_string(ps, &s) < 0) {
                value_free(v);
                return -1;
            }
            strlist_add(&v->array, s);
            free(s);
            skip_space(ps, true);
            if (ps->p < ps->end && *ps->p == ',')
                ps->p++;
            else if (ps->p < ps->end && *ps->p != ']') {
                value_free(v);
                return fail(ps, "expected ',' or ']' in an array");
            }
        }
    }
    if ((size_t)(ps->end - ps->p) >= 4 && strncmp(ps->p, "true", 4) == 0) {
        ps->p += 4;
        v->type = V_BOOL;
        v->boolean = true;
        return 0;
    }
    if ((size_t)(ps->end - ps->p) >= 5 && strncmp(ps->p, "false", 5) == 0) {
        ps->p += 5;
        v->type = V_BOOL;
        return 0;
    }
    return fail(ps, "unsupported value (strings, true/false and arrays of strings only)");
}

static int want(parser_t *ps, const value_t *v, value_type type, const char *key) {
    static const char *const names[] = {"a string", "true or false", "an array of strings"};
    if (v->type != type) return fail(ps, "'%s' must be %s", key, names[type]);
    return 0;
}

static int set_rule_list(parser_t *ps, lint_config_t *cfg, const value_t *v, lint_level level,
                         const char *key) {
    if (want(ps, v, V_ARRAY, key) < 0) return -1;
    for (size_t i = 0; i < v->array.count; i++) {
        int r = rule_find(v->array.items[i]);
        if (r < 0)
            return fail(ps, "unknown check '%s' in '%s' (fa-lint list shows the codes)", v->array.items[i],
                        key);
        cfg->level[r] = level;
    }
    return 0;
}

static void copy_list(strlist_t *to, const value_t *v) {
    for (size_t i = 0; i < v->array.count; i++)
        strlist_add(to, v->array.items[i]);
}

static int apply(parser_t *ps, lint_config_t *cfg, const char *key, value_t *v) {
    const char *t = ps->table;
    if (strcmp(t, "lint") == 0) {
        if (strcmp(key, "deny") == 0) return set_rule_list(ps, cfg, v, LEVEL_DENY, key);
        if (strcmp(key, "warn") == 0) return set_rule_list(ps, cfg, v, LEVEL_WARN, key);
        if (strcmp(key, "allow") == 0) return set_rule_list(ps, cfg, v, LEVEL_OFF, key);
        if (strcmp(key, "exclude") == 0)
            return want(ps, v, V_ARRAY, key) < 0 ? -1 : (copy_list(&cfg->exclude, v), 0);
        if (strcmp(key, "frame_functions") == 0)
            return want(ps, v, V_ARRAY, key) < 0 ? -1 : (copy_list(&cfg->frame_functions, v), 0);
        if (strcmp(key, "long_lived_types") == 0)
            return want(ps, v, V_ARRAY, key) < 0 ? -1 : (copy_list(&cfg->long_lived, v), 0);
        if (strcmp(key, "sync_callbacks") == 0)
            return want(ps, v, V_ARRAY, key) < 0 ? -1 : (copy_list(&cfg->sync_callbacks, v), 0);
        if (strcmp(key, "require_budgets") == 0) {
            if (want(ps, v, V_BOOL, key) < 0) return -1;
            cfg->require_budgets = v->boolean;
            return 0;
        }
    } else if (strcmp(t, "tags") == 0) {
        if (strcmp(key, "declared") == 0) {
            if (want(ps, v, V_ARRAY, key) < 0) return -1;
            cfg->has_declared = true;
            copy_list(&cfg->declared, v);
            return 0;
        }
        if (strcmp(key, "budgeted") == 0)
            return want(ps, v, V_ARRAY, key) < 0 ? -1 : (copy_list(&cfg->budgeted, v), 0);
    } else if (strcmp(t, "modules") == 0) {
        if (want(ps, v, V_STRING, key) < 0) return -1;
        xgrow(&cfg->modules, &cfg->module_cap, cfg->module_count + 1, sizeof *cfg->modules);
        cfg->modules[cfg->module_count++] = (module_entry_t){xstrdup(key), xstrdup(v->string)};
        return 0;
    } else if (strcmp(t, "suppress") == 0) {
        suppress_entry_t *s = &cfg->suppress[cfg->suppress_count - 1];
        if (strcmp(key, "path") == 0) {
            if (want(ps, v, V_STRING, key) < 0) return -1;
            free(s->path_glob);
            s->path_glob = xstrdup(v->string);
            return 0;
        }
        if (strcmp(key, "reason") == 0) {
            if (want(ps, v, V_STRING, key) < 0) return -1;
            free(s->reason);
            s->reason = xstrdup(v->string);
            return 0;
        }
        if (strcmp(key, "codes") == 0) {
            if (want(ps, v, V_ARRAY, key) < 0) return -1;
            for (size_t i = 0; i < v->array.count; i++) {
                int r = rule_find(v->array.items[i]);
                if (r < 0) return fail(ps, "unknown check '%s' in 'codes'", v->array.items[i]);
                s->rules[r] = true;
            }
            return 0;
        }
    } else if (!t[0]) {
        return fail(ps, "'%s' outside a table ([lint], [tags], [modules] or [[suppress]])", key);
    }
    return fail(ps, "unknown key '%s' in [%s]", key, t);
}

/* A finished [[suppress]] must say which file, which codes and why. */
static int check_suppress(parser_t *ps, lint_config_t *cfg) {
    if (!ps->array_table || cfg->suppress_count == 0) return 0;
    suppress_entry_t *s = &cfg->suppress[cfg->suppress_count - 1];
    bool any = false;
    for (int r = 0; r < RULE_COUNT; r++)
        any |= s->rules[r];
    if (!s->path_glob || !any) return fail(ps, "[[suppress]] needs 'path' and 'codes'");
    const char *reason = s->reason ? s->reason : "";
    while (*reason == ' ')
        reason++;
    if (!*reason) return fail(ps, "[[suppress]] for '%s' needs a 'reason'", s->path_glob);
    return 0;
}

int config_parse(lint_config_t *cfg, const char *name, const char *text, size_t len, char *err,
                 size_t errlen) {
    parser_t ps = {.name = name, .p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen};
    for (;;) {
        skip_space(&ps, true);
        if (ps.p >= ps.end) break;
        if (*ps.p == '[') {
            if (check_suppress(&ps, cfg) < 0) return -1;
            bool array = ps.p + 1 < ps.end && ps.p[1] == '[';
            ps.p += array ? 2 : 1;
            skip_space(&ps, false);
            char key[64];
            if (parse_key(&ps, key, sizeof key) < 0) return -1;
            skip_space(&ps, false);
            if (ps.p >= ps.end || *ps.p != ']' || (array && (ps.p + 1 >= ps.end || ps.p[1] != ']')))
                return fail(&ps, "expected ']' after the table name");
            ps.p += array ? 2 : 1;
            bool known =
                array ? strcmp(key, "suppress") == 0
                      : (strcmp(key, "lint") == 0 || strcmp(key, "tags") == 0 || strcmp(key, "modules") == 0);
            if (!known)
                return fail(&ps, "unknown table '%s%s%s'", array ? "[[" : "[", key, array ? "]]" : "]");
            strcpy(ps.table, key);
            ps.array_table = array;
            if (array) {
                xgrow(&cfg->suppress, &cfg->suppress_cap, cfg->suppress_count + 1, sizeof *cfg->suppress);
                cfg->suppress[cfg->suppress_count++] = (suppress_entry_t){0};
            }
        } else {
            char key[256];
            if (parse_key(&ps, key, sizeof key) < 0) return -1;
            skip_space(&ps, false);
            if (ps.p >= ps.end || *ps.p != '=') return fail(&ps, "expected '=' after '%s'", key);
            ps.p++;
            skip_space(&ps, false);
            value_t v;
            if (parse_value(&ps, &v) < 0) return -1;
            int rc = apply(&ps, cfg, key, &v);
            value_free(&v);
            if (rc < 0) return -1;
        }
        skip_space(&ps, false);
        if (ps.p < ps.end && *ps.p != '\n') return fail(&ps, "unexpected text after a value");
    }
    if (check_suppress(&ps, cfg) < 0) return -1;
    cfg->loaded = true;
    return 0;
}

int config_load(lint_config_t *cfg, const char *path, char *err, size_t errlen) {
    size_t len;
    char *text = read_whole_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read the config", path);
        return -1;
    }
    int rc = config_parse(cfg, path, text, len, err, errlen);
    free(text);
    if (rc == 0) {
        const char *slash = strrchr(path, '/');
        free(cfg->dir);
        cfg->dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
        if (!cfg->dir[0]) {
            free(cfg->dir);
            cfg->dir = xstrdup("/");
        }
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------ */

bool config_loaded(const lint_config_t *cfg) {
    return cfg->loaded;
}
const char *config_dir(const lint_config_t *cfg) {
    return cfg->dir;
}
void config_set_level(lint_config_t *cfg, rule_id rule, lint_level level) {
    cfg->level[rule] = level;
}
lint_level config_level(const lint_config_t *cfg, rule_id rule) {
    return cfg->level[rule];
}

int config_add_exclude(lint_config_t *cfg, const char *glob) {
    strlist_add(&cfg->exclude, glob);
    return 0;
}

static bool glob_at(const char *g, const char *s) {
    for (;;) {
        if (!*g) return !*s;
        if (g[0] == '*' && g[1] == '*') {
            g += 2;
            if (*g == '/') {
                /* "**" + "/" also matches zero directories. */
                if (glob_at(g + 1, s)) return true;
            }
            for (const char *t = s;; t++) {
                if (glob_at(g, t)) return true;
                if (!*t) return false;
            }
        }
        if (*g == '*') {
            g++;
            for (const char *t = s;; t++) {
                if (glob_at(g, t)) return true;
                if (!*t || *t == '/') return false;
            }
        }
        if (!*s) return false;
        if (*g != '?' && *g != *s) return false;
        if (*g == '?' && *s == '/') return false;
        g++;
        s++;
    }
}

bool glob_match(const char *glob, const char *path) {
    return glob_at(glob, path);
}

bool config_excluded(const lint_config_t *cfg, const char *relpath) {
    for (size_t i = 0; i < cfg->exclude.count; i++) {
        const char *g = cfg->exclude.items[i];
        if (glob_match(g, relpath)) return true;
        /* A directory name excludes what is below it. */
        size_t n = strlen(g);
        while (n && g[n - 1] == '/')
            n--;
        if (n && strncmp(g, relpath, n) == 0 && relpath[n] == '/') return true;
    }
    return false;
}

bool config_has_declared_tags(const lint_config_t *cfg) {
    return cfg->has_declared;
}

bool config_tag_declared(const lint_config_t *cfg, const char *tag) {
    for (size_t i = 0; i < cfg->declared.count; i++)
        if (glob_match(cfg->declared.items[i], tag)) return true;
    return false;
}

bool config_tag_declared_below(const lint_config_t *cfg, const char *tag) {
    if (config_tag_declared(cfg, tag)) return true;
    size_t n = strlen(tag);
    for (size_t i = 0; i < cfg->declared.count; i++) {
        const char *d = cfg->declared.items[i];
        size_t m = strlen(d);
        if (m > n && d[m - n - 1] == '/' && strcmp(d + m - n, tag) == 0) return true;
    }
    return false;
}

const char *config_module_tag(const lint_config_t *cfg, const char *relpath) {
    for (size_t i = 0; i < cfg->module_count; i++)
        if (glob_match(cfg->modules[i].glob, relpath)) return cfg->modules[i].tag;
    return NULL;
}

bool tag_under(const char *tag, const char *parent) {
    size_t n = strlen(parent);
    return strncmp(tag, parent, n) == 0 && (tag[n] == 0 || tag[n] == '/');
}

bool config_tag_budgeted(const lint_config_t *cfg, const char *tag) {
    for (size_t i = 0; i < cfg->budgeted.count; i++)
        if (tag_under(tag, cfg->budgeted.items[i]) || glob_match(cfg->budgeted.items[i], tag)) return true;
    return false;
}

bool config_require_budgets(const lint_config_t *cfg) {
    return cfg->require_budgets;
}
bool config_frame_function(const lint_config_t *cfg, const char *name) {
    return strlist_has(&cfg->frame_functions, name);
}
bool config_long_lived_type(const lint_config_t *cfg, const char *type_name) {
    return strlist_has(&cfg->long_lived, type_name);
}

bool config_sync_callback(const lint_config_t *cfg, const char *name) {
    return strlist_has(&cfg->sync_callbacks, name);
}

const char *config_suppressed(const lint_config_t *cfg, const char *relpath, rule_id rule) {
    for (size_t i = 0; i < cfg->suppress_count; i++)
        if (cfg->suppress[i].rules[rule] && glob_match(cfg->suppress[i].path_glob, relpath))
            return cfg->suppress[i].reason;
    return NULL;
}

void config_write_template(FILE *out) {
    fputs("# .fa.toml: fa-lint's configuration (fa-lint init wrote this file).\n"
          "# Paths are relative to this file's directory, which is also the root\n"
          "# that SARIF and JSON reports name files from. Globs: '*' within a\n"
          "# directory, '**' across directories.\n"
          "\n"
          "[lint]\n"
          "# Level per check: deny (reported, exit 1), warn (reported, exit 0) or\n"
          "# allow (not reported). Every check is deny unless listed here.\n"
          "deny = []\n"
          "warn = []\n"
          "allow = []\n"
          "# Files never linted (generated code, third-party code).\n"
          "exclude = [\"build/**\", \"third_party/**\"]\n"
          "# FA302: every tag used in code must have a budget.\n"
          "require_budgets = false\n"
          "# FA601: functions that return frame memory by design (wrappers of\n"
          "# fa_frame_alloc); their callers get frame memory from them.\n"
          "frame_functions = []\n"
          "# FA601: struct types that live longer than a frame.\n"
          "long_lived_types = []\n"
          "# FA701: outside functions that call their callback before they return\n"
          "# (sorts, searches and visitors: *each*, *query*, *collide*, qsort... are\n"
          "# known already).\n"
          "sync_callbacks = []\n"
          "\n"
          "[tags]\n"
          "# FA801: every tag the code may use (globs allowed). Remove this list to\n"
          "# turn FA801 off.\n"
          "declared = [\"physics\", \"physics/*\", \"render\", \"render/*\", \"audio\", \"ai\", \"assets\"]\n"
          "# FA301/FA302: tags whose budgets are set at run time from data, so that\n"
          "# no fa_budget_set call names them.\n"
          "budgeted = []\n"
          "\n"
          "[modules]\n"
          "# FA802: which subsystem's tags each module may use.\n"
          "# \"src/physics/**\" = \"physics\"\n"
          "# \"src/render/**\" = \"render\"\n"
          "\n"
          "# A reasoned suppression for a whole file, when a comment in the code is\n"
          "# not an option. Repeat the block for more.\n"
          "# [[suppress]]\n"
          "# path = \"tests/misuse_test.c\"\n"
          "# codes = [\"FA603\"]\n"
          "# reason = \"tests allocation outside a frame on purpose\"\n",
          out);
}
