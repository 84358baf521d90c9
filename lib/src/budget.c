/* Budgets per tag. Only tags under a budget (their own or a parent's) pay
 * for it: their allocations take a slower path that adds the size to an
 * atomic usage counter of every budgeted tag on the way to the root, checks
 * the limits, and raises events. Other tags stay on the fast path. */
#include "internal.h"

#include <string.h>

enum { FIRED_WARNING, FIRED_SOFT, FIRED_EXCEEDED };

static bool has_budget(const fa__tag_t *e) {
    return atomic_load_explicit(&e->hard, memory_order_relaxed) ||
           atomic_load_explicit(&e->soft, memory_order_relaxed);
}

static fa_budget_policy policy_of(const fa_alloc_t *fa, const fa__tag_t *e) {
    int p = atomic_load_explicit(&e->policy, memory_order_relaxed);
    return p == FA_POLICY_DEFAULT ? fa->cfg.budget_policy : (fa_budget_policy)p;
}

static fa_budget_event_t event_of(const fa_alloc_t *fa, uint32_t tag, fa_budget_event_kind kind, int64_t usage,
                                  uint64_t request, fa_kind alloc_kind) {
    const fa__tag_t *e = &fa->tags.entries[tag];
    return (fa_budget_event_t){
        .kind = kind,
        .tag_id = (uint16_t)tag,
        .tag_path = e->path,
        .usage = usage > 0 ? (uint64_t)usage : 0,
        .request = request,
        .soft = atomic_load_explicit(&e->soft, memory_order_relaxed),
        .hard = atomic_load_explicit(&e->hard, memory_order_relaxed),
        .frame = atomic_load_explicit(&fa->frame_number, memory_order_relaxed),
        .kind_of_alloc = alloc_kind,
    };
}

/* Fires a once-per-frame event if this frame has not seen it yet. */
static void fire_once(fa_alloc_t *fa, uint32_t tag, int slot, fa_budget_event_kind kind, int64_t usage,
                      uint64_t request, fa_kind alloc_kind) {
    fa__tag_t *e = &fa->tags.entries[tag];
    uint64_t mark = atomic_load_explicit(&fa->frame_number, memory_order_relaxed) + 1;
    uint64_t seen = atomic_load_explicit(&e->fired[slot], memory_order_relaxed);
    if (seen == mark || !atomic_compare_exchange_strong(&e->fired[slot], &seen, mark)) return;
    if (fa->cfg.budget_cb) {
        fa_budget_event_t ev = event_of(fa, tag, kind, usage, request, alloc_kind);
        fa->cfg.budget_cb(&ev, fa->cfg.budget_user);
    }
}

/* Whether the budget of tag allows usage; raises the threshold events. */
static bool check(fa_alloc_t *fa, uint32_t tag, int64_t usage, uint64_t request, fa_kind alloc_kind) {
    fa__tag_t *e = &fa->tags.entries[tag];
    uint64_t soft = atomic_load_explicit(&e->soft, memory_order_relaxed);
    uint64_t hard = atomic_load_explicit(&e->hard, memory_order_relaxed);
    uint64_t u = usage > 0 ? (uint64_t)usage : 0;
    if (hard && u > hard) {
        fa_budget_policy policy = policy_of(fa, e);
        bool allow = policy == FA_POLICY_WARN;
        if (policy != FA_POLICY_WARN) {
            fa_budget_event_t ev = event_of(fa, tag, FA_BUDGET_DENIED, usage, request, alloc_kind);
            if (policy == FA_POLICY_CALLBACK) allow = fa->cfg.budget_cb(&ev, fa->cfg.budget_user);
            else if (fa->cfg.budget_cb) fa->cfg.budget_cb(&ev, fa->cfg.budget_user);
        }
        if (!allow) {
            fa__bh_count(fa, tag, FA_FIND_BUDGET_BREACH, u);
            fa__report(fa, FA_ERR_BUDGET, NULL, "tag '%s': %zu more bytes would exceed the hard budget %llu",
                       e->path, (size_t)request, (unsigned long long)hard);
            return false;
        }
    }
    if (hard && u * 5 >= hard * 4) fire_once(fa, tag, FIRED_WARNING, FA_BUDGET_WARNING, usage, request, alloc_kind);
    if (soft && u >= soft) fire_once(fa, tag, FIRED_SOFT, FA_BUDGET_SOFT, usage, request, alloc_kind);
    if (hard && u >= hard) {
        fa__bh_count(fa, tag, FA_FIND_BUDGET_BREACH, u);
        fire_once(fa, tag, FIRED_EXCEEDED, FA_BUDGET_EXCEEDED, usage, request, alloc_kind);
    }
    return true;
}

bool fa__budget_charge(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind) {
    fa__tag_t *entries = fa->tags.entries;
    for (uint32_t t = tag;; t = entries[t].parent) {
        if (has_budget(&entries[t])) {
            int64_t usage = atomic_fetch_add(&entries[t].usage, (int64_t)size) + (int64_t)size;
            if (!check(fa, t, usage, size, kind)) {
                /* Undo this tag and every budgeted tag below it. */
                atomic_fetch_sub(&entries[t].usage, (int64_t)size);
                for (uint32_t u = tag; u != t; u = entries[u].parent)
                    if (has_budget(&entries[u])) atomic_fetch_sub(&entries[u].usage, (int64_t)size);
                return false;
            }
        }
        if (t == FA_TAG_ROOT) return true;
    }
}

void fa__budget_uncharge(fa_alloc_t *fa, uint32_t tag, uint64_t size) {
    fa__tag_t *entries = fa->tags.entries;
    for (uint32_t t = tag;; t = entries[t].parent) {
        if (has_budget(&entries[t])) atomic_fetch_sub(&entries[t].usage, (int64_t)size);
        if (t == FA_TAG_ROOT) return;
    }
}

static bool is_under(const fa__tag_t *entries, uint32_t t, uint32_t ancestor) {
    for (;; t = entries[t].parent) {
        if (t == ancestor) return true;
        if (t == FA_TAG_ROOT) return false;
    }
}

int fa_budget_set_ex(fa_alloc_t *fa, const char *tag_path, const fa_budget_desc_t *desc) {
    if (!fa || !tag_path || !desc || (desc->hard_bytes && desc->soft_bytes > desc->hard_bytes) ||
        desc->policy > FA_POLICY_CALLBACK || (desc->policy == FA_POLICY_CALLBACK && !fa->cfg.budget_cb)) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_budget_set: invalid budget for '%s'",
                   tag_path ? tag_path : "(null)");
        return FA_ERR_INVALID_ARG;
    }
    int id = fa_tag_find(fa, tag_path, true);
    if (id < 0) return id;
    fa__tags_t *tg = &fa->tags;
    pthread_mutex_lock(&tg->lock);
    pthread_mutex_lock(&fa->threads_lock);
    fa__tag_t *e = &tg->entries[id];
    atomic_store(&e->soft, desc->soft_bytes);
    atomic_store(&e->hard, desc->hard_bytes);
    atomic_store(&e->policy, (int)desc->policy);
#ifndef FA_MINIMAL /* FA_MINIMAL records the budget but never enforces it */
    uint32_t n = atomic_load(&tg->count);
    /* Which tags now pay the budget path: those with a budgeted ancestor. */
    for (uint32_t i = 0; i < n; i++) {
        uint8_t slow = 0;
        for (uint32_t t = i;; t = tg->entries[t].parent) {
            if (has_budget(&tg->entries[t])) slow = 1;
            if (t == FA_TAG_ROOT || slow) break;
        }
        atomic_store(&tg->slow[i], slow);
    }
    /* Start the usage from the pool and heap bytes the subtree holds now.
     * Frame bytes allocated before the budget existed are not counted: they
     * were never charged, so they are not given back at the frame end. */
    int64_t usage = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!is_under(tg->entries, i, (uint32_t)id)) continue;
        const fa__tag_counters_t *r = &fa->retired[i];
        usage += FA__LOAD(r->live[0]) + FA__LOAD(r->live[1]);
        for (fa__thread_t *t = fa->threads; t; t = t->next) {
            const fa__tag_counters_t *c = &t->counters[i];
            usage += FA__LOAD(c->live[0]) + FA__LOAD(c->live[1]);
        }
    }
    atomic_store(&e->usage, has_budget(e) ? usage : 0);
    /* Every thread rechecks at its next frame allocation whether a budget
     * applies to its current tag (the fast path reads one flag). */
    for (fa__thread_t *t = fa->threads; t; t = t->next) atomic_fetch_or(&t->fast.slow, 2u);
#else
    (void)is_under;
#endif
    pthread_mutex_unlock(&fa->threads_lock);
    pthread_mutex_unlock(&tg->lock);
    return FA_OK;
}

int fa_budget_set(fa_alloc_t *fa, const char *tag_path, size_t soft_bytes, size_t hard_bytes) {
    fa_budget_desc_t d = {.soft_bytes = soft_bytes, .hard_bytes = hard_bytes};
    return fa_budget_set_ex(fa, tag_path, &d);
}

int fa_budget_get(fa_alloc_t *fa, const char *tag_path, fa_budget_desc_t *out) {
    if (!fa || !tag_path || !out) return FA_ERR_INVALID_ARG;
    int id = fa_tag_find(fa, tag_path, false);
    if (id < 0) return id;
    const fa__tag_t *e = &fa->tags.entries[id];
    *out = (fa_budget_desc_t){.soft_bytes = atomic_load(&e->soft),
                              .hard_bytes = atomic_load(&e->hard),
                              .policy = (fa_budget_policy)atomic_load(&e->policy)};
    return FA_OK;
}

int fa_thread_budget_set(fa_alloc_t *fa, const fa_budget_desc_t *desc) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return FA_ERR_NO_MEMORY;
    if (!desc || (desc->hard_bytes && desc->soft_bytes > desc->hard_bytes) || desc->policy > FA_POLICY_CALLBACK ||
        (desc->policy == FA_POLICY_CALLBACK && !fa->cfg.budget_cb)) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_thread_budget_set: invalid budget");
        return FA_ERR_INVALID_ARG;
    }
#ifdef FA_MINIMAL
    (void)t;
    fa__report(fa, FA_ERR_STATE, NULL, "thread budgets are compiled out (FA_MINIMAL)");
    return FA_ERR_STATE;
#else
    t->budget = *desc;
    memset(t->budget_fired, 0, sizeof t->budget_fired);
    fa__thread_update_slow(t);
    return FA_OK;
#endif
}

/* The calling thread's frame budget: bytes allocated from its arena in this
 * frame, events once per thread frame, the same policies as tags. */
bool fa__thread_budget_check(fa_alloc_t *fa, fa__thread_t *t, uint64_t size) {
    uint64_t usage = t->used_before + (uint64_t)(t->fast.cur - t->current->data) + size;
    const fa_budget_desc_t *b = &t->budget;
    fa_budget_event_t ev = {.tag_id = (uint16_t)t->fast.tag,
                            .tag_path = fa->tags.entries[t->fast.tag].path,
                            .usage = usage,
                            .request = size,
                            .soft = b->soft_bytes,
                            .hard = b->hard_bytes,
                            .frame = atomic_load_explicit(&fa->frame_number, memory_order_relaxed),
                            .kind_of_alloc = FA_KIND_FRAME,
                            .thread_budget = true,
                            .thread_index = t->index};
    fa_budget_policy policy = b->policy == FA_POLICY_DEFAULT ? fa->cfg.budget_policy : b->policy;
    if (b->hard_bytes && usage > b->hard_bytes && policy != FA_POLICY_WARN) {
        ev.kind = FA_BUDGET_DENIED;
        bool allow = false;
        if (fa->cfg.budget_cb) allow = fa->cfg.budget_cb(&ev, fa->cfg.budget_user) && policy == FA_POLICY_CALLBACK;
        if (!allow) {
            fa__bh_count(fa, t->fast.tag, FA_FIND_BUDGET_BREACH, usage);
            fa__report(fa, FA_ERR_BUDGET, NULL, "thread %u: %llu more frame bytes would exceed its frame budget %llu",
                       t->index, (unsigned long long)size, (unsigned long long)b->hard_bytes);
            return false;
        }
    }
    uint64_t mark = t->frame_serial + 1;
    struct {
        bool hit;
        int slot;
        fa_budget_event_kind kind;
    } checks[3] = {
        {b->hard_bytes && usage * 5 >= b->hard_bytes * 4, FIRED_WARNING, FA_BUDGET_WARNING},
        {b->soft_bytes && usage >= b->soft_bytes, FIRED_SOFT, FA_BUDGET_SOFT},
        {b->hard_bytes && usage >= b->hard_bytes, FIRED_EXCEEDED, FA_BUDGET_EXCEEDED},
    };
    for (int i = 0; i < 3; i++) {
        if (!checks[i].hit || t->budget_fired[checks[i].slot] == mark) continue;
        t->budget_fired[checks[i].slot] = mark;
        if (checks[i].kind == FA_BUDGET_EXCEEDED) fa__bh_count(fa, t->fast.tag, FA_FIND_BUDGET_BREACH, usage);
        ev.kind = checks[i].kind;
        if (fa->cfg.budget_cb) fa->cfg.budget_cb(&ev, fa->cfg.budget_user);
    }
    return true;
}
