/* test_pathmatch.c — the path-suffix rule that joins a static finding's file
 * to a call site's (pathmatch.h). */
#include <criterion/criterion.h>

#include "pathmatch.h"

Test(pathmatch, the_same_file_from_different_roots_shares_its_trailing_components) {
    cr_assert_eq(pathmatch_suffix("examples/fa-demo.c", "/work/tree/examples/fa-demo.c"), 2);
    cr_assert_eq(pathmatch_suffix("file:///work/tree/examples/fa-demo.c", "examples/fa-demo.c"), 2);
    cr_assert_eq(pathmatch_suffix("./examples//fa-demo.c", "examples/fa-demo.c"), 2);
    cr_assert_eq(pathmatch_suffix("src\\physics\\world.c", "/home/me/game/src/physics/world.c"), 3);
    cr_assert_eq(pathmatch_suffix("fa-demo.c", "examples/fa-demo.c"), 1);
    cr_assert_eq(pathmatch_suffix("/a/b.c", "/a/b.c"), 2);
}

Test(pathmatch, different_file_names_never_match) {
    cr_assert_eq(pathmatch_suffix("examples/demo.c", "examples/fa-demo.c"), 0);
    cr_assert_eq(pathmatch_suffix("a.c/", "b.c"), 0);
    cr_assert_eq(pathmatch_suffix("", "a.c"), 0);
    cr_assert_eq(pathmatch_suffix("", ""), 0);
    cr_assert_eq(pathmatch_suffix("/", "."), 0);
}

Test(pathmatch, a_directory_of_the_same_name_elsewhere_counts_once_and_dotdot_stops) {
    cr_assert_eq(pathmatch_suffix("a/world.c", "b/world.c"), 1);
    cr_assert_eq(pathmatch_suffix("../a.c", "x/a.c"), 1);
    cr_assert_eq(pathmatch_suffix("../a.c", "../a.c"), 1);
}
