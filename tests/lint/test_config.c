/* fa-lint's readers of outside input: .fa.toml, globs, suppression
 * comments, paths. */
#include <criterion/criterion.h>
#include <string.h>

#include "config.h"
#include "suppress.h"
#include "units.h"

static lint_config_t *parse(const char *text, int *rc, char *err, size_t errlen) {
    lint_config_t *cfg = config_create();
    *rc = config_parse(cfg, "t.toml", text, strlen(text), err, errlen);
    return cfg;
}

Test(config, a_full_file_sets_levels_tags_modules_and_suppressions) {
    char err[256] = "";
    int rc;
    lint_config_t *cfg =
        parse("# comment\n[lint]\ndeny = [\"FA602\"]\nwarn = [\"fa601\", 'FA605']\n"
              "allow = [\n  \"FA203\", # why\n]\nexclude = [\"gen/**\"]\nrequire_budgets = true\n"
              "frame_functions = [\"dup\"]\nlong_lived_types = [\"world_t\"]\n"
              "[tags]\ndeclared = [\"physics\", \"physics/*\"]\nbudgeted = [\"net\"]\n"
              "[modules]\n\"src/audio/**\" = \"audio\"\n"
              "[[suppress]]\npath = \"tests/*.c\"\ncodes = [\"FA603\"]\nreason = \"on purpose\"\n",
              &rc, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(config_level(cfg, R_FA602), LEVEL_DENY);
    cr_assert_eq(config_level(cfg, R_FA601), LEVEL_WARN);
    cr_assert_eq(config_level(cfg, R_FA605), LEVEL_WARN);
    cr_assert_eq(config_level(cfg, R_FA203), LEVEL_OFF);
    cr_assert(config_excluded(cfg, "gen/a/b.c"));
    cr_assert_not(config_excluded(cfg, "src/gen.c"));
    cr_assert(config_require_budgets(cfg));
    cr_assert(config_frame_function(cfg, "dup"));
    cr_assert(config_long_lived_type(cfg, "world_t"));
    cr_assert(config_tag_declared(cfg, "physics/contacts"));
    cr_assert_not(config_tag_declared(cfg, "physics/contacts/deep"));
    cr_assert(config_tag_budgeted(cfg, "net/sockets"));
    cr_assert_str_eq(config_module_tag(cfg, "src/audio/mix/voice.c"), "audio");
    cr_assert_null(config_module_tag(cfg, "src/render/a.c"));
    cr_assert_str_eq(config_suppressed(cfg, "tests/x.c", R_FA603), "on purpose");
    cr_assert_null(config_suppressed(cfg, "tests/x.c", R_FA601));
    config_destroy(cfg);
}

Test(config, errors_name_the_line_and_the_problem) {
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[lint]\nbogus = true\n", "t.toml:2: unknown key 'bogus'"},
        {"[nope]\n", "t.toml:1: unknown table"},
        {"[lint]\ndeny = [\"FA999\"]\n", "t.toml:2: unknown check 'FA999'"},
        {"[lint]\nrequire_budgets = \"yes\"\n", "t.toml:2: 'require_budgets' must be true or false"},
        {"[lint]\ndeny = [1]\n", "t.toml:2: arrays hold strings only"},
        {"[lint]\ndeny = [\"FA601\"\n", "array not closed"},
        {"x = \"y\"\n", "t.toml:1: 'x' outside a table"},
        {"[lint]\nexclude = \"a\n", "t.toml:2: string not closed"},
        {"[[suppress]]\npath = \"a\"\ncodes = [\"FA601\"]\nreason = \" \"\n", "needs a 'reason'"},
        {"[[suppress]]\nreason = \"r\"\n", "needs 'path' and 'codes'"},
        {"[lint]\nrequire_budgets = true false\n", "t.toml:2: unexpected text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[256] = "";
        int rc;
        lint_config_t *cfg = parse(cases[i].text, &rc, err, sizeof err);
        cr_assert_eq(rc, -1, "case %zu accepted", i);
        cr_assert(strstr(err, cases[i].want), "case %zu: '%s' lacks '%s'", i, err, cases[i].want);
        config_destroy(cfg);
    }
}

Test(config, the_template_that_init_writes_parses) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    config_write_template(f);
    fclose(f);
    char err[256] = "";
    lint_config_t *cfg = config_create();
    cr_assert_eq(config_parse(cfg, "init", buf, len, err, sizeof err), 0, "%s", err);
    cr_assert(config_has_declared_tags(cfg));
    config_destroy(cfg);
    free(buf);
}

Test(glob, star_stays_in_a_directory_and_double_star_crosses) {
    cr_assert(glob_match("*.c", "a.c"));
    cr_assert_not(glob_match("*.c", "d/a.c"));
    cr_assert(glob_match("**/a.c", "a.c"));
    cr_assert(glob_match("**/a.c", "x/y/a.c"));
    cr_assert(glob_match("src/**", "src/a/b.c"));
    cr_assert(glob_match("src/?.c", "src/a.c"));
    cr_assert_not(glob_match("src/?.c", "src/ab.c"));
    cr_assert(tag_under("physics/contacts", "physics"));
    cr_assert_not(tag_under("physicsx", "physics"));
}

Test(suppress, reasons_codes_and_lines_are_read_from_comments) {
    const char *text = "int a; /* fa-lint: allow(FA602) level load */\n"
                       "// fa-lint: allow(FA601, FA605) owned by the pool\n"
                       "int b;\n"
                       "int c; /* fa-lint: allow(FA603) */\n"
                       "const char *s = \"/* fa-lint: allow(FA601) */\";\n"
                       "int d; // fa-lint: allow(FA6O2) typo\n";
    suppression_list_t l = {0};
    suppressions_scan(text, strlen(text), &l);
    cr_assert_eq(l.count, 4, "the string literal is not a comment");
    cr_assert(suppressions_cover(&l, 1, R_FA602));
    cr_assert(suppressions_cover(&l, 3, R_FA605), "the line after the comment");
    cr_assert(suppressions_cover(&l, 3, R_FA601));
    cr_assert_not(suppressions_cover(&l, 4, R_FA602));
    cr_assert_not(suppressions_cover(&l, 4, R_FA603), "no reason: no suppression");
    cr_assert_not(l.items[2].has_reason);
    cr_assert_str_eq(l.items[3].unknown, "FA6O2");
    suppressions_free(&l);
}

Test(suppress, a_marker_at_the_end_of_the_text_does_not_read_past_it) {
    const char *cases[] = {"// fa-lint:", "// fa-lint: allow(", "// fa-lint: allow(FA601",
                           "/* fa-lint: allow(FA601) x"};
    for (size_t i = 0; i < 4; i++) {
        suppression_list_t l = {0};
        char *copy = strdup(cases[i]);
        suppressions_scan(copy, strlen(copy), &l);
        suppressions_free(&l);
        free(copy);
    }
}

Test(paths, absolute_paths_are_normalised_without_the_file_system) {
    char *p = absolute_path("/a/b", "../c/./d//e.c");
    cr_assert_str_eq(p, "/a/c/d/e.c");
    free(p);
    p = absolute_path("/x", "/y/../z");
    cr_assert_str_eq(p, "/z");
    free(p);
    p = absolute_path("/", "..");
    cr_assert_str_eq(p, "/");
    free(p);
}
