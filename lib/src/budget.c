/* Budgets per tag. Only tags under a budget (their own or a parent's) pay
 * for it: their allocations take a slower path that adds the size to an
 * atomic usage counter of every budgeted tag on the way to the root, checks
 * the limits, and raises events. Other tags stay on the fast path. */
#include "internal.h"

#include <linux/membarrier.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

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
        .frame = FA__LOAD(fa->frame_number),
        .kind_of_alloc = alloc_kind,
    };
}

/* Fires a once-per-frame event if this frame has not seen it yet. */
static void fire_once(fa_alloc_t *fa, uint32_t tag, int slot, fa_budget_event_kind kind, int64_t usage,
                      uint64_t request, fa_kind alloc_kind) {
    fa__tag_t *e = &fa->tags.entries[tag];
    uint64_t mark = FA__LOAD(fa->frame_number) + 1;
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
    if (hard && (unsigned __int128)u * 5 >= (unsigned __int128)hard * 4) fire_once(fa, tag, FIRED_WARNING, FA_BUDGET_WARNING, usage, request, alloc_kind);
    if (soft && u >= soft) fire_once(fa, tag, FIRED_SOFT, FA_BUDGET_SOFT, usage, request, alloc_kind);
    if (hard && u >= hard) {
        fa__bh_count(fa, tag, FA_FIND_BUDGET_BREACH, u);
        fire_once(fa, tag, FIRED_EXCEEDED, FA_BUDGET_EXCEEDED, usage, request, alloc_kind);
    }
    return true;
}

/* Whether tag is ancestor or one of its descendants. O(depth). */
static bool is_within(const fa__tag_t *entries, uint32_t tag, uint32_t ancestor) {
    for (uint32_t t = tag;; t = entries[t].parent) {
        if (t == ancestor) return true;
        if (t == FA_TAG_ROOT) return false;
    }
}

bool fa__budget_charge(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind) {
    return fa__budget_charge_resize(fa, tag, size, kind, tag, 0);
}

bool fa__budget_charge_resize(fa_alloc_t *fa, uint32_t tag, uint64_t size, fa_kind kind, uint32_t freed_tag,
                              uint64_t freed) {
    fa__tag_t *entries = fa->tags.entries;
    /* The freed block is charged to the budgets above its own tag (when one
     * applies to it): only those may deduct it. */
    if (freed && !fa__budget_applies(fa, freed_tag)) freed = 0;
    for (uint32_t t = tag;; t = entries[t].parent) {
        if (has_budget(&entries[t])) {
            int64_t usage = atomic_fetch_add(&entries[t].usage, (int64_t)size) + (int64_t)size;
            if (freed && (freed_tag == tag || is_within(entries, freed_tag, t))) usage -= (int64_t)freed;
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

/* ---- the budget lock ------------------------------------------------------ */

int fa__budget_init(fa_alloc_t *fa) {
    fa->budget_live = calloc(fa->cfg.max_tags, sizeof *fa->budget_live);
    if (!fa->budget_live) return FA_ERR_NO_MEMORY;
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* A waiting fa_budget_set is not starved by a stream of allocations. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    int rc = pthread_rwlock_init(&fa->budget_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) return FA_ERR_SYSTEM;
    /* How fa_budget_set makes every thread's stores visible: the kernel's
     * membarrier, or an mprotect of a page of ours (its TLB shootdown
     * interrupts every CPU running one of our threads). */
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
        fa->barrier_mode = 1;
    } else {
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) return FA_ERR_SYSTEM;
        fa->barrier_page = page;
        fa->barrier_mode = 2;
    }
    return FA_OK;
}

void fa__budget_fini(fa_alloc_t *fa) {
    free(fa->budget_live);
    if (!fa->barrier_mode) return;
    pthread_rwlock_destroy(&fa->budget_lock);
    if (fa->barrier_page) munmap(fa->barrier_page, 4096);
}

void fa__budget_read_lock(fa_alloc_t *fa, fa__thread_t *t) {
    if (pthread_rwlock_tryrdlock(&fa->budget_lock) == 0) return;
    /* fa_budget_set holds it and waits for operations in progress: this
     * one counts as paused while it waits. */
    bool in_op = t->fast.activity & 1;
    if (in_op) FA__RELEASE(t->fast.activity, t->fast.activity + 1);
    pthread_rwlock_rdlock(&fa->budget_lock);
    if (in_op) {
        FA__STORE(t->fast.activity, t->fast.activity + 1);
        FA__COMPILER_BARRIER();
    }
}

void fa__budget_read_unlock(fa_alloc_t *fa) { pthread_rwlock_unlock(&fa->budget_lock); }

/* After this, every other thread sees what this one stored before, and this
 * one sees what they stored before. */
static void process_barrier(fa_alloc_t *fa) {
    if (fa->barrier_mode == 1) {
        syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    } else {
        *(volatile char *)fa->barrier_page = 1;
        mprotect(fa->barrier_page, 4096, PROT_READ);
        mprotect(fa->barrier_page, 4096, PROT_READ | PROT_WRITE);
    }
    /* Either system call is a full barrier on this thread too. */
}

/* Waits until no other thread is inside an operation that started before
 * the barrier: those may have read the old budget flags. */
static void wait_for_operations(fa_alloc_t *fa, const fa__thread_t *self) {
    FA__FOR_EACH_THREAD(fa, t) {
        if (t == self) continue;
        uint64_t a = FA__ACQUIRE(t->fast.activity);
        if (!(a & 1)) continue;
        for (int spins = 0; FA__ACQUIRE(t->fast.activity) == a; spins++)
            if (spins > 64) sched_yield();
    }
}

/* Recomputes every budget's usage from the live figures: the fold's, plus
 * what each thread did since. Caller holds the budget lock for writing and
 * no operation is in progress on an accounted tag. Each thread's charged
 * frame bytes become its frame bytes in use, which its frame end gives
 * back. live has room for n tags. O(threads x tags). */
static void recompute_usage(fa_alloc_t *fa, uint32_t n, int64_t *live) {
    fa__tags_t *tg = &fa->tags;
    pthread_mutex_lock(&fa->fold_lock);
    for (uint32_t x = 0; x < n; x++)
        live[x] = FA__LOAD(fa->figs[x].frame_inuse) + FA__LOAD(fa->figs[x].live[0]) + FA__LOAD(fa->figs[x].live[1]);
    FA__FOR_EACH_THREAD(fa, t) {
        for (uint32_t x = 0; x < n; x++) {
            fa__tstat_t *st = &t->stats[x];
            uint64_t inuse = FA__ACQUIRE(st->frame_inuse) + (fa__stats_window(t, x) & FA__PACKED_BYTES_MASK);
            live[x] += (int64_t)(inuse - st->seen.frame_inuse);
            for (int k = 0; k < 2; k++)
                live[x] += (int64_t)((FA__LOAD(st->ph[k].bytes) - st->seen.bytes[k]) -
                                     (FA__LOAD(st->ph[k].free_bytes) - st->seen.free_bytes[k]));
            uint64_t charged = atomic_load(&tg->slow[x]) & FA__TAG_ACCOUNTED ? inuse : 0;
            if (FA__LOAD(st->budget_frame) != charged) FA__STORE(st->budget_frame, charged);
        }
    }
    pthread_mutex_unlock(&fa->fold_lock);
    for (uint32_t b = 0; b < n; b++) atomic_store(&tg->entries[b].usage, 0);
    for (uint32_t x = 0; x < n; x++) {
        if (!(atomic_load(&tg->slow[x]) & FA__TAG_ACCOUNTED) || live[x] <= 0) continue;
        for (uint32_t b = x;; b = tg->entries[b].parent) {
            if (has_budget(&tg->entries[b])) atomic_fetch_add(&tg->entries[b].usage, live[x]);
            if (b == FA_TAG_ROOT) break;
        }
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
    fa__thread_t *self = fa__thread_get(fa);
    fa__tags_t *tg = &fa->tags;
    pthread_rwlock_wrlock(&fa->budget_lock);
    fa__tag_t *e = &tg->entries[id];
    atomic_store(&e->soft, desc->soft_bytes);
    atomic_store(&e->hard, desc->hard_bytes);
    atomic_store(&e->policy, (int)desc->policy);
#ifndef FA_MINIMAL /* FA_MINIMAL records the budget but never enforces it */
    /* Which tags are now accounted: those with a budgeted ancestor. Under
     * the registry lock: a tag created meanwhile would copy its parent's
     * flag from before this loop and stay outside the budget. One created
     * after it copies the new flag and holds nothing yet. */
    pthread_mutex_lock(&tg->lock);
    uint32_t n = atomic_load(&tg->count);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t slow = 0;
        for (uint32_t t = i;; t = tg->entries[t].parent) {
            if (has_budget(&tg->entries[t])) slow = 1;
            if (t == FA_TAG_ROOT || slow) break;
        }
        if (slow)
            atomic_fetch_or(&tg->slow[i], FA__TAG_ACCOUNTED);
        else
            atomic_fetch_and(&tg->slow[i], (uint8_t)~FA__TAG_ACCOUNTED);
    }
    pthread_mutex_unlock(&tg->lock);
    /* Operations that read the old flags finish before the usage is
     * counted; those that start now see the new flags and wait for the lock
     * (or are inline frame allocations: counted as they are seen below). */
    process_barrier(fa);
    wait_for_operations(fa, self);
    recompute_usage(fa, n, fa->budget_live);
    /* Every thread rechecks at its next frame allocation whether a budget
     * applies to its current tag (the fast path reads one flag). */
    FA__FOR_EACH_THREAD(fa, t) __atomic_fetch_or(&t->fast.slow, 2u, __ATOMIC_RELAXED);
#else
    (void)self, (void)process_barrier, (void)wait_for_operations, (void)recompute_usage;
#endif
    pthread_rwlock_unlock(&fa->budget_lock);
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
    uint64_t usage = fa__arena_used(t) + size;
    const fa_budget_desc_t *b = &t->budget;
    fa_budget_event_t ev = {.tag_id = (uint16_t)t->fast.tag,
                            .tag_path = fa->tags.entries[t->fast.tag].path,
                            .usage = usage,
                            .request = size,
                            .soft = b->soft_bytes,
                            .hard = b->hard_bytes,
                            .frame = FA__LOAD(fa->frame_number),
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
        {b->hard_bytes && (unsigned __int128)usage * 5 >= (unsigned __int128)b->hard_bytes * 4, FIRED_WARNING,
         FA_BUDGET_WARNING},
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
