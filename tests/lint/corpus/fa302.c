/* FA302: a tag used in code is never budgeted (require_budgets = true). */
#include <framealloc.h>

#define UI_SCOPE(fa) FA_TAG_SCOPE((fa), "ui")

static void budgets(fa_alloc_t *fa) {
    fa_budget_set(fa, "physics", 0, 1 << 20);
    fa_budget_set_ex(fa, "render", &(fa_budget_desc_t){.hard_bytes = 1 << 20});
}

void frame(fa_alloc_t *fa) {
    budgets(fa);
    {
        FA_TAG_SCOPE(fa, "audio"); /* expect: FA302 */
    }
    {
        UI_SCOPE(fa); /* expect: FA302 macro */
    }
    FA_WITH_TAG(fa, "physics") { /* ok: FA302 */
        FA_TAG_SCOPE(fa, "contacts"); /* ok: FA302 */
    }
    FA_TAG_SCOPE(fa, "render"); /* ok: FA302 */
}

static void helper(fa_alloc_t *fa) {
    if (fa_tag_push(fa, "net") < 0) return; /* expect: FA302 cross */
    fa_tag_pop(fa);
}

void network(fa_alloc_t *fa) { helper(fa); }
