/* test_pairtab.c — the (site, tag) index of the rollups and API windows. */
#include "helpers.h"

#include "pairtab.h"

Test(pairtab, finds_every_pair_through_growth_and_nothing_else) {
    pairtab_t t = {0};
    cr_assert_eq(pairtab_get(&t, 1, 1), -1, "empty");
    uint32_t n = 0;
    for (uint32_t site = 0; site < 3000; site += 3)
        for (uint16_t tag = 0; tag < 40; tag += 7, n++)
            cr_assert(pairtab_put(&t, site, tag, n));
    n = 0;
    for (uint32_t site = 0; site < 3000; site += 3)
        for (uint16_t tag = 0; tag < 40; tag += 7, n++)
            cr_assert_eq(pairtab_get(&t, site, tag), n, "(%u, %u)", site, tag);
    cr_assert_eq(pairtab_get(&t, 1, 0), -1);
    cr_assert_eq(pairtab_get(&t, 0, 1), -1);
    cr_assert_eq(pairtab_get(&t, UINT32_MAX, 65535), -1);
    cr_assert(pairtab_put(&t, UINT32_MAX, 65535, 7));
    cr_assert_eq(pairtab_get(&t, UINT32_MAX, 65535), 7, "the largest key");
    cr_assert_eq(pairtab_get(&t, 65535, UINT16_MAX), -1, "site and tag do not mix");
    pairtab_clear(&t);
    cr_assert_eq(pairtab_get(&t, 0, 0), -1, "cleared");
    cr_assert(pairtab_put(&t, 0, 0, 3));
    cr_assert_eq(pairtab_get(&t, 0, 0), 3);
    pairtab_free(&t);
}
