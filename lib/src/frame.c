/* Frame arenas: one per thread, a chain of chunks with a bump pointer. The
 * first chunk is made when the thread registers; overflow chunks are added
 * when a frame needs them and kept across resets, so a steady state makes
 * no system call. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fa__chunk_t *chunk_new(size_t size, uint32_t index) {
    fa__chunk_t *c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->index = index;
    c->data = (char *)(c + 1);
    return c;
}

static void use_chunk(fa__thread_t *t, fa__chunk_t *c) {
    t->current = c;
    t->fast.cur = c->data;
    t->fast.end = c->data + c->size;
    atomic_store_explicit(&t->overflow, c->index, memory_order_relaxed);
}

int fa__arena_init(fa__thread_t *t, size_t first_chunk_bytes) {
    t->first = chunk_new(first_chunk_bytes, 0);
    if (!t->first) return FA_ERR_NO_MEMORY;
    atomic_store(&t->capacity, first_chunk_bytes);
    use_chunk(t, t->first);
    t->used_before = 0;
    return FA_OK;
}

void fa__arena_fini(fa__thread_t *t) {
    for (fa__chunk_t *c = t->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    t->first = t->current = NULL;
}

void fa__arena_reset(fa__thread_t *t) {
#ifdef FA_DEBUG
    /* Poison what the frame used, so a stale pointer reads garbage. */
    for (fa__chunk_t *c = t->first; c; c = c->next) {
        size_t used = c == t->current ? (size_t)(t->fast.cur - c->data) : c->size;
        memset(c->data, 0xDD, used);
        if (c == t->current) break;
    }
#endif
    t->used_before = 0;
    use_chunk(t, t->first);
}

size_t fa_frame_used(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? t->used_before + (size_t)(t->fast.cur - t->current->data) : 0;
}

size_t fa_frame_capacity(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? (size_t)atomic_load(&t->capacity) : 0;
}

static bool valid_align(size_t *align) {
    if (*align == 0) *align = _Alignof(max_align_t);
    return (*align & (*align - 1)) == 0 && *align <= 4096;
}

/* Moves to a chunk where size bytes aligned to align fit: the next kept
 * chunk if it is big enough, else a new chunk inserted after the current
 * one. Honours the arena hard limit. */
static bool arena_grow(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align) {
    size_t need = size + align - 1;
    if (need < size) return false;
    fa__chunk_t *cur = t->current;
    size_t used_here = (size_t)(t->fast.cur - cur->data);
    fa__chunk_t *next = cur->next;
    if (!next || next->size < need) {
        size_t want = need > fa->cfg.frame_chunk_bytes ? need : fa->cfg.frame_chunk_bytes;
        uint64_t cap = atomic_load(&t->capacity);
        if (fa->cfg.frame_limit_bytes && cap + want > fa->cfg.frame_limit_bytes) {
            fa__report(fa, FA_ERR_ARENA_LIMIT, NULL,
                       "frame arena limit %zu bytes reached (capacity %llu, request %zu)",
                       fa->cfg.frame_limit_bytes, (unsigned long long)cap, size);
            return false;
        }
        fa__chunk_t *c = chunk_new(want, cur->index + 1);
        if (!c) {
            fa__report(fa, FA_ERR_NO_MEMORY, NULL, "cannot allocate a frame chunk of %zu bytes", want);
            return false;
        }
        c->next = next;
        cur->next = c;
        /* Keep indexes increasing along the chain. */
        for (fa__chunk_t *k = next; k; k = k->next) k->index++;
        atomic_store(&t->capacity, cap + want);
        next = c;
    }
    t->used_before += used_here;
    use_chunk(t, next);
    t->overflowed = true;
    return true;
}

void *fa__frame_alloc_slow(fa_alloc_t *fa, size_t size, size_t align) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    /* Another thread may have asked for a recheck (a budget changed). */
    fa__thread_update_slow(t);
    if (!valid_align(&align)) {
        fa__report(fa, FA_ERR_BAD_ALIGN, NULL, "frame alloc: alignment %zu is not a power of two up to 4096",
                   align);
        return NULL;
    }
    size_t n = size ? size : 1;
    uint32_t tag = t->fast.tag;
    (void)tag; /* unused in FA_MINIMAL */
    if (!t->in_frame) {
        /* Allowed (the memory lives until this thread's next frame end) but
         * reported once per stretch outside a frame. */
        if (!t->warned_outside) {
            t->warned_outside = true;
            fa__report(fa, FA_ERR_NOT_IN_FRAME, NULL,
                       "frame allocation of %zu bytes outside fa_begin_frame/fa_end_frame", size);
        }
#ifndef FA_MINIMAL
        fa__bh_count(fa, tag, FA_FIND_OUTSIDE_FRAME, size);
#endif
    }
#ifndef FA_MINIMAL
    if (t->budget.hard_bytes | t->budget.soft_bytes && !fa__thread_budget_check(fa, t, size)) return NULL;
    bool charged = fa__budget_applies(fa, tag);
    if (charged && !fa__budget_charge(fa, tag, size, FA_KIND_FRAME)) return NULL;
#endif
    uintptr_t p = ((uintptr_t)t->fast.cur + align - 1) & ~(uintptr_t)(align - 1);
    if (p > (uintptr_t)t->fast.end || n > (uintptr_t)t->fast.end - p) {
        if (!arena_grow(fa, t, n, align)) {
#ifndef FA_MINIMAL
            if (charged) fa__budget_uncharge(fa, tag, size);
#endif
            return NULL;
        }
        p = ((uintptr_t)t->fast.cur + align - 1) & ~(uintptr_t)(align - 1);
    }
    t->fast.cur = (char *)(p + n);
#ifndef FA_MINIMAL
    fa__tag_counters_t *c = &t->counters[tag];
    FA__ADD(c->frame_packed, size + (UINT64_C(1) << FA__FRAME_COUNT_SHIFT));
    if (charged) c->budget_frame += size; /* given back at the frame end */
#endif
    return (void *)p;
}

void *fa_frame_alloc_batch(fa_alloc_t *fa, size_t size, size_t align, size_t count) {
    size_t a = align ? align : _Alignof(max_align_t);
    if ((a & (a - 1)) != 0 || a > 4096) return fa__frame_alloc_slow(fa, size, align);
    size_t stride = (size + a - 1) & ~(a - 1), total;
    if (stride < size || __builtin_mul_overflow(stride, count, &total)) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "frame batch: %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    return fa_frame_alloc(fa, total, a);
}

static void *alloc_n(fa_alloc_t *fa, size_t size, size_t align, void **out, size_t n) {
    size_t a = align ? align : _Alignof(max_align_t);
    if ((a & (a - 1)) != 0 || a > 4096) return fa__frame_alloc_slow(fa, size, align);
    size_t stride = (size + a - 1) & ~(a - 1);
    if (stride < size || stride > SIZE_MAX / n) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "frame batch: %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    char *p = fa_frame_alloc(fa, stride * n, a);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) out[i] = p + i * stride;
    return p;
}

void *fa_frame_alloc2(fa_alloc_t *fa, size_t size, size_t align, void *out[2]) {
    return alloc_n(fa, size, align, out, 2);
}
void *fa_frame_alloc4(fa_alloc_t *fa, size_t size, size_t align, void *out[4]) {
    return alloc_n(fa, size, align, out, 4);
}
void *fa_frame_alloc8(fa_alloc_t *fa, size_t size, size_t align, void *out[8]) {
    return alloc_n(fa, size, align, out, 8);
}

char *fa_frame_strdup(fa_alloc_t *fa, const char *s) {
    if (!s) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_frame_strdup: NULL string");
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = fa_frame_alloc(fa, n, 1);
    if (d) memcpy(d, s, n);
    return d;
}

char *fa_frame_sprintf(fa_alloc_t *fa, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = NULL;
    if (n >= 0 && (d = fa_frame_alloc(fa, (size_t)n + 1, 1)) != NULL) vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

fa_frame_mark_t fa_frame_mark(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return (fa_frame_mark_t){0};
    return (fa_frame_mark_t){.frame_id = t->frame_serial,
                             .chunk = t->current->index,
                             .offset = (size_t)(t->fast.cur - t->current->data)};
}

int fa_frame_rollback(fa_alloc_t *fa, fa_frame_mark_t mark) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return FA_ERR_NO_MEMORY;
    size_t offset_now = (size_t)(t->fast.cur - t->current->data);
    if (mark.frame_id != t->frame_serial || mark.chunk > t->current->index ||
        (mark.chunk == t->current->index && mark.offset > offset_now)) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_frame_rollback: mark is from another frame or ahead");
        return FA_ERR_STATE;
    }
    /* Walk from the first chunk to the marked one, recomputing used_before. */
    size_t used_before = 0;
    fa__chunk_t *c = t->first;
    while (c->index != mark.chunk) {
        /* Chunks before the mark were filled up to where the frame moved on;
         * their exact fill is not kept, so count them whole. */
        used_before += c->size;
        c = c->next;
    }
    t->used_before = used_before;
    use_chunk(t, c);
    t->fast.cur = c->data + mark.offset;
    return FA_OK;
}

void fa_begin_frame(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    if (t->in_frame) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_begin_frame called twice without fa_end_frame");
        return;
    }
    t->in_frame = true;
    t->warned_outside = false;
    t->frame_serial++;
    t->retain_count = 0;
#ifndef FA_MINIMAL
    fa__bh_thread_begin_frame(fa, t);
#endif
    atomic_store_explicit(&t->in_frame_pub, true, memory_order_relaxed);
    fa__thread_update_slow(t);
    if (t == atomic_load_explicit(&fa->main, memory_order_relaxed))
        atomic_store_explicit(&fa->frame_start_ns, fa__now_ns(), memory_order_relaxed);
}

/* The main thread's part of ending a frame: peaks, hooks, frame number. */
static void end_context_frame(fa_alloc_t *fa) {
    uint64_t frame = atomic_load(&fa->frame_number);
#ifndef FA_MINIMAL
    fa_kind_totals_t *totals = fa->scratch_totals;
    uint32_t n = fa__aggregate(fa, fa->scratch, fa->cfg.max_tags, totals, fa->cumulative);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t live = fa->scratch[i].live_bytes;
        if (live > atomic_load_explicit(&fa->tags.entries[i].peak, memory_order_relaxed))
            atomic_store_explicit(&fa->tags.entries[i].peak, live, memory_order_relaxed);
    }
    fa->scratch_count = n;
    for (int k = 0; k < FA_KIND_COUNT_; k++)
        if (totals[k].in_use > atomic_load(&fa->kind_peak[k])) atomic_store(&fa->kind_peak[k], totals[k].in_use);
#endif

    /* Publish the frame's retention outcomes and evaluate the behaviour
     * filter before the hooks, so a snapshot in a hook sees them. */
    pthread_mutex_lock(&fa->promo_lock);
    fa->promo_last = fa->promo_acc;
    fa->promo_acc = (fa_promotion_totals_t){0};
    pthread_mutex_unlock(&fa->promo_lock);
#ifndef FA_MINIMAL
    fa__bh_main_end_frame(fa);
#endif

    pthread_mutex_lock(&fa->hooks_lock);
    uint32_t nh = fa->hook_count;
    __typeof__(fa->hooks[0]) hooks[FA__MAX_HOOKS];
    memcpy(hooks, fa->hooks, sizeof hooks);
    pthread_mutex_unlock(&fa->hooks_lock);
    /* Hooks run outside the lock so that they may add or remove hooks. A
     * snapshot taken in a hook copies the aggregation above (peaks for the
     * kinds are already updated too). */
#ifndef FA_MINIMAL
    fa->scratch_valid = true;
#endif
    for (uint32_t i = 0; i < nh; i++) hooks[i].fn(fa, frame, hooks[i].user);
    fa->scratch_valid = false;

#ifndef FA_MINIMAL
    /* The next frame's per-frame counts start from the sums taken above;
     * what the hooks allocated counts in the next frame. */
    fa__rebase(fa, fa->cumulative, n);
#endif
    atomic_store(&fa->frame_number, frame + 1);
}

void fa_end_frame(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    if (!t->in_frame) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_end_frame called without fa_begin_frame");
        return;
    }
    fa__retain_end_frame(fa, t);
#ifndef FA_MINIMAL
    fa__bh_thread_end_frame(fa, t);
#endif
    if (t == atomic_load_explicit(&fa->main, memory_order_relaxed)) end_context_frame(fa);
#ifndef FA_MINIMAL
    /* This thread's frame bytes stop counting: the budgets get back what
     * was charged to them, and the frame's allocation count joins the
     * cumulative one. Only tags that exist can have bytes. */
    uint32_t ntags = atomic_load_explicit(&fa->tags.count, memory_order_acquire);
    for (uint32_t i = 0; i < ntags; i++) {
        fa__tag_counters_t *c = &t->counters[i];
        uint64_t packed = FA__LOAD(c->frame_packed);
        if (!packed) continue;
        if (c->budget_frame) {
            fa__budget_uncharge(fa, i, c->budget_frame);
            c->budget_frame = 0;
        }
        /* The cumulative count is updated before the frame word is cleared,
         * so a concurrent snapshot may count these allocations twice for an
         * instant, never zero times. */
        FA__ADD(c->count[FA_KIND_FRAME], packed >> FA__FRAME_COUNT_SHIFT);
        atomic_store_explicit(&c->frame_packed, 0, memory_order_relaxed);
    }
#endif
    fa__arena_reset(t);
    t->in_frame = false;
    atomic_store_explicit(&t->in_frame_pub, false, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->frames_ended, 1, memory_order_relaxed);
    fa__thread_update_slow(t);
}
