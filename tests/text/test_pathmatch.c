/* test_pathmatch.c — the path-suffix rule that joins a static finding's file
 * to a call site's (pathmatch.h). */
#include <criterion/criterion.h>

#include "pathmatch.h"

typedef struct pathmatch_case {
    const char *a, *b;
    unsigned want;
} pathmatch_case_t;

static void expect_all(const pathmatch_case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        cr_expect_eq(pathmatch_suffix(cases[i].a, cases[i].b), cases[i].want, "'%s' ~ '%s': %u, want %u",
                     cases[i].a, cases[i].b, pathmatch_suffix(cases[i].a, cases[i].b), cases[i].want);
        cr_expect_eq(pathmatch_suffix(cases[i].b, cases[i].a), cases[i].want, "symmetric: '%s' ~ '%s'",
                     cases[i].b, cases[i].a);
    }
}

Test(pathmatch, the_same_file_from_different_roots_shares_its_trailing_components) {
    static const pathmatch_case_t cases[] = {
        {"examples/fa-demo.c", "/work/tree/examples/fa-demo.c", 2},
        {"file:///work/tree/examples/fa-demo.c", "examples/fa-demo.c", 2},
        {"./examples//fa-demo.c", "examples/fa-demo.c", 2},
        {"src\\physics\\world.c", "/home/me/game/src/physics/world.c", 3},
        {"fa-demo.c", "examples/fa-demo.c", 1},
        {"/a/b.c", "/a/b.c", 2},
    };
    expect_all(cases, sizeof cases / sizeof cases[0]);
}

Test(pathmatch, different_file_names_never_match) {
    static const pathmatch_case_t cases[] = {
        {"examples/demo.c", "examples/fa-demo.c", 0},
        {"a.c/", "b.c", 0},
        {"", "a.c", 0},
        {"", "", 0},
        {"/", ".", 0},
    };
    expect_all(cases, sizeof cases / sizeof cases[0]);
}

Test(pathmatch, a_directory_of_the_same_name_elsewhere_counts_once_and_dotdot_stops) {
    static const pathmatch_case_t cases[] = {
        {"a/world.c", "b/world.c", 1},
        {"../a.c", "x/a.c", 1},
        {"../a.c", "../a.c", 1},
    };
    expect_all(cases, sizeof cases / sizeof cases[0]);
}
