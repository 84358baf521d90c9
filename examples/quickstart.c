/* The README's quick start: frame memory, pools, heap, tags and budgets,
 * and a snapshot at the end of each frame. Build it against an installed
 * framealloc:  cc quickstart.c $(pkg-config --cflags --libs framealloc) */
#include <framealloc.h>
#include <stdio.h>

typedef struct contact { float normal[3], depth; } contact_t;

static bool on_budget(const fa_budget_event_t *ev, void *user) {
    (void)user;
    printf("budget %s: %s at %llu of %llu bytes\n", ev->kind == FA_BUDGET_WARNING ? "warning" : "exceeded",
           ev->tag_path, (unsigned long long)ev->usage, (unsigned long long)ev->hard);
    return true;
}

int main(void) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_cb = on_budget});
    fa_budget_set(fa, "physics", 0, 48 << 10); /* soft 0, hard 48 KiB */
    for (int frame = 0; frame < 4; frame++) {
        fa_begin_frame(fa);
        FA_WITH_TAG(fa, "physics") {
            contact_t *contacts = FA_FRAME_ARRAY(fa, contact_t, 1000 * (frame + 1)); /* gone at frame end */
            void *body = fa_pool_alloc(fa, 96);                                  /* lives until freed */
            contacts[0].depth = 1.0f;
            fa_pool_free(fa, body);
        }
        fa_tag_row_t rows[8];
        fa_snapshot_t snap = {.rows = rows, .rows_capacity = 8};
        fa_snapshot_take(fa, &snap);
        printf("frame %llu: %llu frame bytes, physics %llu\n", (unsigned long long)snap.frame,
               (unsigned long long)snap.totals[FA_KIND_FRAME].in_use, (unsigned long long)rows[1].live_bytes);
        fa_end_frame(fa);
    }
    fa_destroy(fa);
    return 0;
}
