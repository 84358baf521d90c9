/* FA801: a tag string not declared in the config. */
#include <framealloc.h>

#define PHYSICS_TYPO(fa) FA_TAG_SCOPE((fa), "phyiscs")

static void contacts(fa_alloc_t *fa) {
    FA_TAG_SCOPE(fa, "contcts"); /* expect: FA801 cross */
}

void frame(fa_alloc_t *fa) {
    {
        FA_TAG_SCOPE(fa, "physcs"); /* expect: FA801 */
    }
    {
        PHYSICS_TYPO(fa); /* expect: FA801 macro */
    }
    fa_budget_set(fa, "rendr", 0, 1024); /* expect: FA801 */
    FA_WITH_TAG(fa, "physics") { /* ok: FA801 */
        FA_TAG_SCOPE(fa, "contacts"); /* ok: FA801 */
        contacts(fa);
    }
    fa_budget_set(fa, "render", 0, 1024); /* ok: FA801 */
}
