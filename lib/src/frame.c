/* Frame arenas: one per thread, a chain of chunks with a bump pointer.
 *
 * The first chunk is made when the thread registers; a frame that does not
 * fit moves on to a later chunk of the chain that fits, or a new one of
 * 1.25 x the request (at least frame_chunk_bytes). At the frame end the
 * arena is reset to its first chunk, and the chunks this frame did not use
 * are freed while the capacity exceeds twice the largest need of the last
 * 64 frames (or frame_chunk_bytes); if it still does (chunks the frame left
 * mostly empty), they are merged into one chunk of 1.25 x the need. So a
 * steady state makes no system call, a need that grows a little every frame
 * allocates a new chunk only every 25 % of growth, and the capacity stays
 * within 2 x the need. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEED_BLOCK_FRAMES 32 /* two blocks: the largest need of the last 32..64 frames */

static fa__chunk_t *chunk_new(size_t size, uint32_t index) {
    if (size > SIZE_MAX - sizeof(fa__chunk_t)) return NULL;
    fa__chunk_t *c = malloc(sizeof *c + size);
    if (!c) return NULL;
    *c = (fa__chunk_t){.size = size, .index = index, .data = (char *)(c + 1)};
    return c;
}

/* The fast window ends at the chunk's end or FA__WINDOW_BYTES after the
 * bump pointer, whichever comes first. */
static void open_window(fa__thread_t *t) {
    char *chunk_end = t->current->data + t->current->size;
    t->window_start = t->fast.cur;
    t->fast.end = (size_t)(chunk_end - t->fast.cur) > FA__WINDOW_BYTES ? t->fast.cur + FA__WINDOW_BYTES : chunk_end;
}

static void use_chunk(fa__thread_t *t, fa__chunk_t *c, size_t base_used, size_t offset) {
    t->current = c;
    c->base_used = base_used;
    t->fast.cur = c->data + offset;
    open_window(t);
    FA__STORE(t->overflow, c->index);
}

int fa__arena_init(fa_alloc_t *fa, fa__thread_t *t) {
    t->first = chunk_new(fa->cfg.frame_chunk_bytes, 0);
    if (!t->first) return FA_ERR_NO_MEMORY;
    FA__STORE(t->capacity, fa->cfg.frame_chunk_bytes);
    use_chunk(t, t->first, 0, 0);
    return FA_OK;
}

void fa__arena_fini(fa__thread_t *t) {
    for (fa__chunk_t *c = t->first, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    t->first = t->current = NULL;
    FA__STORE(t->capacity, 0);
}

size_t fa_frame_used(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? fa__arena_used(t) : 0;
}

size_t fa_frame_capacity(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? (size_t)FA__LOAD(t->capacity) : 0;
}

bool fa__arena_contains(const fa__thread_t *t, const void *p) {
    for (const fa__chunk_t *c = t->first; c; c = c->next)
        if ((const char *)p >= c->data && (const char *)p < c->data + c->size) return true;
    return false;
}

bool fa__arena_holds(const fa__thread_t *t, const void *p, size_t size) {
    for (const fa__chunk_t *c = t->first; c; c = c->next) {
        const char *end = c == t->current ? t->fast.cur : c->data + c->used_end;
        if ((const char *)p >= c->data && (const char *)p <= end)
            return (const char *)p < c->data + c->size && size <= (size_t)(end - (const char *)p);
        if (c == t->current) break;
    }
    return false;
}

static bool valid_align(size_t *align) {
    if (*align == 0) *align = _Alignof(max_align_t);
    return (*align & (*align - 1)) == 0 && *align <= 4096;
}

/* Moves to a chunk where size bytes aligned to align fit: a later chunk of
 * the chain that is big enough (moved right after the current one), else a
 * new chunk. Honours the arena hard limit. size <= FA__SIZE_MAX. */
static bool arena_grow(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align) {
    size_t need = size + align - 1;
    fa__chunk_t *cur = t->current, *prev = cur, *c = cur->next;
    while (c && c->size < need) prev = c, c = c->next;
    if (c) {
        prev->next = c->next;
    } else {
        /* Room to grow by a quarter before the next chunk is needed. */
        size_t want = need + need / 4;
        want = want < need || want > SIZE_MAX - 4095 ? need : (want + 4095) & ~(size_t)4095;
        if (want < fa->cfg.frame_chunk_bytes) want = fa->cfg.frame_chunk_bytes;
        uint64_t cap = FA__LOAD(t->capacity);
        size_t limit = fa->cfg.frame_limit_bytes;
        if (limit && want > need && (cap > limit || want > limit - cap))
            want = need > fa->cfg.frame_chunk_bytes ? need : fa->cfg.frame_chunk_bytes;
        if (limit && (cap > limit || want > limit - cap)) {
            fa__report(fa, FA_ERR_ARENA_LIMIT, NULL,
                       "frame arena limit %zu bytes reached (capacity %llu, request %zu)", limit,
                       (unsigned long long)cap, size);
            return false;
        }
        c = chunk_new(want, 0);
        if (!c) {
            fa__report(fa, FA_ERR_NO_MEMORY, NULL, "cannot allocate a frame chunk of %zu bytes", want);
            return false;
        }
        FA__STORE(t->capacity, cap + want);
    }
    c->next = cur->next;
    cur->next = c;
    uint32_t i = cur->index;
    for (fa__chunk_t *k = c; k; k = k->next) k->index = ++i;
    size_t used_here = (size_t)(t->fast.cur - cur->data);
    cur->used_end = used_here;
    use_chunk(t, c, cur->base_used + used_here, 0);
    t->overflowed = true;
    return true;
}

void *fa__frame_alloc_slow(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    void *result = NULL;
#if FA_SITES
    uint32_t site_id = fa__site_id(site, FA_KIND_FRAME);
#else
    (void)site;
#endif
    fa__op_begin(t);
    /* Another thread may have asked for a recheck (a budget changed). */
    fa__thread_update_slow(t);
    if (!valid_align(&align)) {
        fa__report(fa, FA_ERR_BAD_ALIGN, NULL, "frame alloc: alignment %zu is not a power of two up to 4096",
                   align);
        goto out;
    }
    if (size > FA__SIZE_MAX) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "frame alloc: %zu bytes exceed PTRDIFF_MAX", size);
        goto out;
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
    if ((t->budget.hard_bytes | t->budget.soft_bytes) && !fa__thread_budget_check(fa, t, size)) goto out;
    bool charged = fa__budget_applies(fa, tag);
    if (charged) {
        fa__budget_read_lock(fa, t);
        if (!fa__budget_charge(fa, tag, size, FA_KIND_FRAME)) {
            fa__budget_read_unlock(fa);
            goto out;
        }
    }
#endif
    char *chunk_end = t->current->data + t->current->size;
    uintptr_t p = ((uintptr_t)t->fast.cur + align - 1) & ~(uintptr_t)(align - 1);
    if (p > (uintptr_t)chunk_end || n > (uintptr_t)chunk_end - p) {
        if (!arena_grow(fa, t, n, align)) {
#ifndef FA_MINIMAL
            if (charged) {
                fa__budget_uncharge(fa, tag, size);
                fa__budget_read_unlock(fa);
            }
#endif
            goto out;
        }
        p = ((uintptr_t)t->fast.cur + align - 1) & ~(uintptr_t)(align - 1);
    }
    t->fast.cur = (char *)(p + n);
    result = (void *)p;
    /* The window of the fast path moves on once this one is used up: its
     * packed counts go into the 64-bit figures first. */
    if (t->fast.cur >= t->fast.end) {
        fa__stats_fold_window(t);
        open_window(t);
    }
#ifndef FA_MINIMAL
    fa__tstat_t *st = fa__stats_touch(t, tag);
    fa__stats_frame_tag(t, tag);
    FA__STORE(st->frame_bytes, st->frame_bytes + size);
    FA__STORE(st->frame_inuse, st->frame_inuse + size);
    FA__RELEASE(st->frame_count, st->frame_count + 1);
#if FA_SITES
    fa__sites_frame(t, site_id, size);
#endif
    if (charged) {
        FA__STORE(st->budget_frame, st->budget_frame + size); /* given back at the frame end */
        fa__budget_read_unlock(fa);
    }
#endif
out:
    fa__op_end(t);
    return result;
}

void *fa_frame_alloc_batch_site(fa_alloc_t *fa, size_t size, size_t align, size_t count, fa_site_t *site) {
    size_t a = align ? align : _Alignof(max_align_t);
    if ((a & (a - 1)) != 0 || a > 4096) return fa__frame_alloc_slow(fa, size, align, site);
    size_t stride, total;
    if (__builtin_add_overflow(size, a - 1, &stride) || __builtin_mul_overflow(stride & ~(a - 1), count, &total) ||
        total > FA__SIZE_MAX) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "frame batch: %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    return fa_frame_alloc_site(fa, total, a, site);
}

void *fa_frame_alloc_batch(fa_alloc_t *fa, size_t size, size_t align, size_t count) {
    return fa_frame_alloc_batch_site(fa, size, align, count, NULL);
}

static void *alloc_n(fa_alloc_t *fa, size_t size, size_t align, void **out, size_t n, fa_site_t *site) {
    size_t a = align ? align : _Alignof(max_align_t);
    if ((a & (a - 1)) != 0 || a > 4096) return fa__frame_alloc_slow(fa, size, align, site);
    /* Size 0 counts as 1, so that the n pointers are distinct. */
    size_t stride, total;
    if (__builtin_add_overflow(size ? size : 1, a - 1, &stride) ||
        __builtin_mul_overflow(stride &= ~(a - 1), n, &total) || total > FA__SIZE_MAX) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "frame batch: %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    char *p = fa_frame_alloc_site(fa, total, a, site);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) out[i] = p + i * stride;
    return p;
}

void *fa_frame_alloc2_site(fa_alloc_t *fa, size_t size, size_t align, void *out[2], fa_site_t *site) {
    return alloc_n(fa, size, align, out, 2, site);
}
void *fa_frame_alloc4_site(fa_alloc_t *fa, size_t size, size_t align, void *out[4], fa_site_t *site) {
    return alloc_n(fa, size, align, out, 4, site);
}
void *fa_frame_alloc8_site(fa_alloc_t *fa, size_t size, size_t align, void *out[8], fa_site_t *site) {
    return alloc_n(fa, size, align, out, 8, site);
}
void *fa_frame_alloc2(fa_alloc_t *fa, size_t size, size_t align, void *out[2]) {
    return alloc_n(fa, size, align, out, 2, NULL);
}
void *fa_frame_alloc4(fa_alloc_t *fa, size_t size, size_t align, void *out[4]) {
    return alloc_n(fa, size, align, out, 4, NULL);
}
void *fa_frame_alloc8(fa_alloc_t *fa, size_t size, size_t align, void *out[8]) {
    return alloc_n(fa, size, align, out, 8, NULL);
}

char *fa_frame_strdup_site(fa_alloc_t *fa, const char *s, fa_site_t *site) {
    if (!s) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_frame_strdup: NULL string");
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = fa_frame_alloc_site(fa, n, 1, site);
    if (d) memcpy(d, s, n);
    return d;
}

char *fa_frame_strdup(fa_alloc_t *fa, const char *s) { return fa_frame_strdup_site(fa, s, NULL); }

static char *vsprintf_site(fa_alloc_t *fa, fa_site_t *site, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *d = NULL;
    if (n >= 0 && (d = fa_frame_alloc_site(fa, (size_t)n + 1, 1, site)) != NULL) vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

char *fa_frame_sprintf_site(fa_alloc_t *fa, fa_site_t *site, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *d = vsprintf_site(fa, site, fmt, ap);
    va_end(ap);
    return d;
}

char *fa_frame_sprintf(fa_alloc_t *fa, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *d = vsprintf_site(fa, NULL, fmt, ap);
    va_end(ap);
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
    fa__chunk_t *c = t->first;
    while (c != t->current && c->index != mark.chunk) c = c->next;
    size_t used_there = c == t->current ? (size_t)(t->fast.cur - c->data) : c->used_end;
    if (mark.frame_id != t->frame_serial || c->index != mark.chunk || mark.offset > used_there) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_frame_rollback: mark is from another frame or ahead");
        return FA_ERR_STATE;
    }
    /* The frame's need is its high-water, rolled back or not. */
    size_t used = fa__arena_used(t);
    if (used > t->need_hw) t->need_hw = used;
    use_chunk(t, c, c->base_used, mark.offset);
    return FA_OK;
}

void fa_begin_frame(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    if (t->in_frame) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_begin_frame called twice without fa_end_frame");
        return;
    }
    fa__op_begin(t);
    fa__stats_compact(t);
    t->in_frame = true;
    t->warned_outside = false;
    t->frame_serial++;
    t->retain_count = 0;
    fa__stats_frame_tag(t, t->fast.tag);
#ifndef FA_MINIMAL
    fa__bh_thread_begin_frame(fa, t);
#endif
    FA__STORE(t->fast.in_frame_pub, 1);
    fa__thread_update_slow(t);
    if (t == atomic_load_explicit(&fa->main, memory_order_relaxed)) FA__STORE(fa->frame_start_ns, fa__now_ns());
    fa__op_end(t);
}

/* Resets the arena to its first chunk and trims it (see the top of the
 * file). The frame's memory is dead by now. */
static void arena_end_frame(fa_alloc_t *fa, fa__thread_t *t) {
    size_t used = fa__arena_used(t), need = used > t->need_hw ? used : t->need_hw;
    t->need_hw = 0;
#ifdef FA_DEBUG
    /* Poison what the frame used, so a stale pointer reads garbage. */
    for (fa__chunk_t *c = t->first; c; c = c->next) {
        memset(c->data, 0xDD, c == t->current ? (size_t)(t->fast.cur - c->data) : c->used_end);
        if (c == t->current) break;
    }
#endif
    if (need > t->recent_need[0]) t->recent_need[0] = need;
    if (++t->recent_frames == NEED_BLOCK_FRAMES) {
        t->recent_need[1] = t->recent_need[0];
        t->recent_need[0] = 0;
        t->recent_frames = 0;
    }
    size_t recent = t->recent_need[0] > t->recent_need[1] ? t->recent_need[0] : t->recent_need[1];
    size_t floor = fa->cfg.frame_chunk_bytes;
    size_t bound = (recent > floor ? recent : floor), cap = (size_t)FA__LOAD(t->capacity);
    bound = bound > SIZE_MAX / 2 ? SIZE_MAX : 2 * bound;
    /* Chunks after the current one were not used in this frame. */
    for (fa__chunk_t **pp = &t->current->next; *pp && cap > bound;) {
        fa__chunk_t *c = *pp;
        *pp = c->next;
        cap -= c->size;
        free(c);
    }
    if (cap > bound && t->first->next) {
        size_t want = need + need / 4;
        want = (want + 4095) & ~(size_t)4095;
        if (want < floor) want = floor;
        fa__chunk_t *c = want >= need && want <= bound ? chunk_new(want, 0) : NULL;
        if (c) {
            fa__arena_fini(t);
            t->first = c;
            cap = want;
        }
    }
    FA__STORE(t->capacity, cap);
    uint32_t i = 0;
    for (fa__chunk_t *c = t->first; c; c = c->next) c->index = i++;
    use_chunk(t, t->first, 0, 0);
}

void fa__frame_release(fa_alloc_t *fa, fa__thread_t *t) {
#ifndef FA_MINIMAL
    /* The budgets get back what this frame charged them. */
    bool budgeted = false;
    for (uint32_t i = 0; i < t->frame_tag_count && !budgeted; i++) {
        uint32_t x = t->frame_tags[i];
        budgeted = fa__budget_applies(fa, x) || FA__LOAD(t->stats[x].budget_frame);
    }
    if (budgeted) {
        fa__budget_read_lock(fa, t);
        for (uint32_t i = 0; i < t->frame_tag_count; i++) {
            fa__tstat_t *st = &t->stats[t->frame_tags[i]];
            uint64_t charged = FA__LOAD(st->budget_frame);
            if (!charged) continue;
            fa__budget_uncharge(fa, t->frame_tags[i], charged);
            FA__STORE(st->budget_frame, 0);
        }
        fa__budget_read_unlock(fa);
    }
#endif
    fa__stats_end_frame(t, FA__LOAD(fa->frame_number));
    arena_end_frame(fa, t);
}

/* The main thread's part of ending a frame: fold, hooks. */
static void end_context_frame(fa_alloc_t *fa) {
    uint64_t frame = FA__LOAD(fa->frame_number);
#ifndef FA_MINIMAL
    fa__stats_fold_all(fa);
#endif
    /* Publish the frame's retention outcomes and evaluate the behaviour
     * filter before the hooks, so a snapshot in a hook sees them. */
    if (FA__LOAD(fa->promo_pending) || fa->promo_published) {
        pthread_mutex_lock(&fa->promo_lock);
        fa->promo_last = fa->promo_acc;
        fa->promo_acc = (fa_promotion_totals_t){0};
        fa->promo_published = FA__LOAD(fa->promo_pending) != 0;
        FA__STORE(fa->promo_pending, 0);
        pthread_mutex_unlock(&fa->promo_lock);
    }
#ifndef FA_MINIMAL
    fa__bh_main_end_frame(fa);
#endif
    uint32_t nh = 0;
    __typeof__(fa->hooks[0]) hooks[FA__MAX_HOOKS];
    if (FA__ACQUIRE(fa->hook_count)) {
        pthread_mutex_lock(&fa->hooks_lock);
        nh = fa->hook_count;
        memcpy(hooks, fa->hooks, sizeof hooks);
        pthread_mutex_unlock(&fa->hooks_lock);
    }
    /* Hooks run outside the lock so that they may add or remove hooks. A
     * snapshot taken in a hook reports the fold above. */
    fa->in_hooks = true;
    for (uint32_t i = 0; i < nh; i++) hooks[i].fn(fa, frame, hooks[i].user);
    fa->in_hooks = false;
}

void fa_end_frame(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    if (!t->in_frame) {
        fa__report(fa, FA_ERR_STATE, NULL, "fa_end_frame called without fa_begin_frame");
        return;
    }
    fa__op_begin(t);
    fa__retain_end_frame(fa, t);
#ifndef FA_MINIMAL
    fa__bh_thread_end_frame(fa, t);
#endif
    fa__op_end(t);
    /* The context's frame ends outside an operation of this thread: the
     * hooks may allocate. */
    bool main = t == atomic_load_explicit(&fa->main, memory_order_relaxed);
    if (main) end_context_frame(fa);
    fa__op_begin(t);
    fa__frame_release(fa, t);
    t->in_frame = false;
    FA__STORE(t->fast.in_frame_pub, 0);
    FA__STORE(t->frames_ended, t->frames_ended + 1);
    fa__thread_update_slow(t);
    fa__op_end(t);
    if (main) {
#ifndef FA_MINIMAL
        fa__stats_release_own_frame(fa, t);
#endif
        FA__RELEASE(fa->frame_number, fa->frame_number + 1);
    }
}
