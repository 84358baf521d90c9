/* The behaviour filter: opt-in pattern detection fed by the real frame,
 * pool, heap, promotion and budget paths. Feeding points add to per-tag,
 * per-code counters of the current frame; the main thread closes each frame
 * (frames with the pattern, totals) and evaluates a window of frames into
 * findings. Off, every feeding point is one predictable branch. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define FINDINGS_MAX 256
#define SET_CAP 2048     /* slots of the per-thread, per-frame block set */
#define SET_PROBES 8     /* probes per insert or lookup: a bounded cost */
#define PROMOTED_CAP 256 /* promoted blocks watched for churn per thread */
#define TOMBSTONE ((void *)1)
#define PENDING_CAP 64   /* tags per thread and frame whose pool-free counts wait for its frame end */

typedef struct bh_tag {
    _Atomic uint64_t frame_count[FA_FIND_COUNT_];
    _Atomic uint64_t frame_value[FA_FIND_COUNT_];
    _Atomic uint64_t frame_pool_frees; /* denominator of same-frame frees */
    /* Window accumulators: main thread only. */
    uint32_t frames_with[FA_FIND_COUNT_];
    uint64_t total_count[FA_FIND_COUNT_];
    uint64_t total_value[FA_FIND_COUNT_];
    uint64_t pool_frees;
} bh_tag_t;

typedef struct thresholds {
    uint32_t window;       /* frames per evaluation */
    uint32_t ratio_pct;    /* % of the window's frames showing the pattern */
    uint32_t min_count;    /* occurrences before a count-based finding */
    uint32_t churn_frames; /* a promoted block freed within this many frames */
    uint32_t outside_min;  /* allocations outside a frame before a finding */
} thresholds_t;

static const thresholds_t presets[] = {
    [FA_BEHAVIOUR_DEFAULT] =
        {.window = 60, .ratio_pct = 50, .min_count = 10, .churn_frames = 4, .outside_min = 1},
    [FA_BEHAVIOUR_STRICT] =
        {.window = 30, .ratio_pct = 25, .min_count = 3, .churn_frames = 8, .outside_min = 1},
    [FA_BEHAVIOUR_RELAXED] =
        {.window = 240, .ratio_pct = 80, .min_count = 50, .churn_frames = 2, .outside_min = 50},
};

static const uint32_t code_kind[FA_FIND_COUNT_] = {
    [FA_FIND_FRAME_RETAINED_OFTEN] = FA_KIND_FRAME, [FA_FIND_POOL_SAME_FRAME_FREE] = FA_KIND_POOL,
    [FA_FIND_PROMOTION_CHURN] = FA_KIND_POOL,       [FA_FIND_HEAP_IN_HOT_PATH] = FA_KIND_HEAP,
    [FA_FIND_OUTSIDE_FRAME] = FA_KIND_FRAME,        [FA_FIND_ARENA_OVERFLOW] = FA_KIND_FRAME,
    [FA_FIND_BUDGET_BREACH] = FA_KIND_FRAME,
};

typedef struct fa__behaviour {
    _Atomic int preset;   /* 0: off */
    pthread_mutex_t lock; /* enabling, findings */
    bh_tag_t *tags;       /* max_tags, allocated at the first enable */
    /* One bit per tag whose frame counters were fed since the last frame
     * end (any thread), and per tag with window accumulators (main thread
     * only): the frame end and the evaluation visit those tags, not all. */
    _Atomic uint64_t *frame_dirty;
    uint64_t *window_dirty;
    uint32_t dirty_words;
    thresholds_t th; /* main thread's copy for the running window */
    uint32_t frames_in_window;
    uint32_t last_collected; /* tags the last frame end collected (tests) */
    fa_finding_t findings[FINDINGS_MAX];
    uint32_t finding_count, findings_total;
} fa__behaviour_t;

typedef struct fa__bh_thread {
    void *set[SET_CAP]; /* pool blocks allocated in this frame */
    uint32_t set_used;
    /* Slots filled this frame (a slot goes from empty to filled at most once
     * per frame), so that the frame end clears those, not the whole set. */
    uint32_t filled;
    uint16_t filled_at[SET_CAP];
    struct {
        void *p;
        uint64_t frame;
    } promoted[PROMOTED_CAP]; /* hash by pointer, bounded probes */
    uint32_t promoted_count;
    /* Pool frees of this frame, per tag, added to the shared counters at
     * the thread's frame end, so that no allocation path writes a line
     * other threads write (open addressing on tag + 1; a full table sends
     * the rest straight to the shared counters). */
    struct {
        uint32_t tag1; /* tag + 1, 0: empty */
        uint32_t frees;
        uint64_t same_count, same_value; /* freed in the frame they were allocated */
    } pending[PENDING_CAP];
    uint8_t pending_at[PENDING_CAP];
    uint32_t pending_count;
} fa__bh_thread_t;

int fa__behaviour_init(fa_alloc_t *fa) {
    fa__behaviour_t *b = calloc(1, sizeof *b);
    if (!b) return FA_ERR_NO_MEMORY;
    pthread_mutex_init(&b->lock, NULL);
    fa->behaviour = b;
#ifndef FA_MINIMAL
    if (fa->cfg.behaviour) return fa_behaviour_enable(fa, (fa_behaviour_preset)fa->cfg.behaviour);
#endif
    return FA_OK;
}

void fa__behaviour_fini(fa_alloc_t *fa) {
    fa__behaviour_t *b = fa->behaviour;
    if (!b) return;
    pthread_mutex_destroy(&b->lock);
    free(b->tags);
    free((void *)b->frame_dirty);
    free(b->window_dirty);
    free(b);
    fa->behaviour = NULL;
}

void fa__behaviour_thread_fini(fa__thread_t *t) {
    free(t->bh);
    t->bh = NULL;
}

int fa_behaviour_enable(fa_alloc_t *fa, fa_behaviour_preset preset) {
#ifdef FA_MINIMAL
    (void)presets, (void)code_kind;
    fa__report(fa, FA_ERR_STATE, NULL, "the behaviour filter is compiled out (FA_MINIMAL)");
    (void)preset;
    return FA_ERR_STATE;
#else
    fa__behaviour_t *b = fa->behaviour;
    if ((int)preset < FA_BEHAVIOUR_OFF || preset > FA_BEHAVIOUR_RELAXED) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_behaviour_enable: unknown preset %d", (int)preset);
        return FA_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&b->lock);
    int rc = FA_OK;
    if (preset != FA_BEHAVIOUR_OFF && !b->tags) {
        uint32_t words = (fa->cfg.max_tags + 63) / 64;
        bh_tag_t *tags = calloc(fa->cfg.max_tags, sizeof *tags);
        _Atomic uint64_t *frame_dirty = calloc(words, sizeof *frame_dirty);
        uint64_t *window_dirty = calloc(words, sizeof *window_dirty);
        if (tags && frame_dirty && window_dirty) {
            b->tags = tags;
            b->frame_dirty = frame_dirty;
            b->window_dirty = window_dirty;
            b->dirty_words = words;
        } else {
            free(tags);
            free((void *)frame_dirty);
            free(window_dirty);
            rc = FA_ERR_NO_MEMORY;
        }
    }
    if (rc == FA_OK) {
        atomic_store_explicit(&b->preset, (int)preset, memory_order_release);
        /* The pool paths look at one byte per tag: it says "filter on" too.
         * New tags copy their parent's byte under the same lock. */
        fa__tags_t *tg = &fa->tags;
        pthread_mutex_lock(&tg->lock);
        for (uint32_t i = 0, n = atomic_load(&tg->count); i < n; i++) {
            if (preset != FA_BEHAVIOUR_OFF)
                atomic_fetch_or(&tg->slow[i], FA__TAG_FILTERED);
            else
                atomic_fetch_and(&tg->slow[i], (uint8_t)~FA__TAG_FILTERED);
        }
        pthread_mutex_unlock(&tg->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
#endif
}

bool fa__behaviour_on(const fa_alloc_t *fa) {
    /* Acquire: pairs with the release that published tags[]. */
    return atomic_load_explicit(&fa->behaviour->preset, memory_order_acquire) != 0;
}

/* Marks a tag's frame counters as fed, after the counter update. Sequentially
 * consistent with the frame end's exchange of the word: either this load sees
 * the bit still set (then the update precedes the frame end's exchange of the
 * tag's counters and is collected now) or it sets the bit (collected at the
 * next frame end). */
static void mark_fed(fa__behaviour_t *b, uint32_t tag) {
    _Atomic uint64_t *w = &b->frame_dirty[tag / 64];
    uint64_t bit = (uint64_t)1 << (tag % 64);
    if (!(atomic_load(w) & bit)) atomic_fetch_or(w, bit);
}

void fa__bh_count(fa_alloc_t *fa, uint32_t tag, int code, uint64_t value) {
    if (!fa__behaviour_on(fa)) return;
    bh_tag_t *bt = &fa->behaviour->tags[tag];
    atomic_fetch_add_explicit(&bt->frame_count[code], 1, memory_order_seq_cst);
    if (code == FA_FIND_ARENA_OVERFLOW || code == FA_FIND_BUDGET_BREACH) {
        /* These report the largest figure seen, not a sum. */
        uint64_t v = atomic_load_explicit(&bt->frame_value[code], memory_order_relaxed);
        while (v < value && !atomic_compare_exchange_weak(&bt->frame_value[code], &v, value)) {
        }
    } else {
        atomic_fetch_add_explicit(&bt->frame_value[code], value, memory_order_relaxed);
    }
    mark_fed(fa->behaviour, tag);
}

static uint32_t slot_of(const void *p) {
    uintptr_t h = (uintptr_t)p >> 4;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15u;
    return (uint32_t)(h >> 40) & (SET_CAP - 1);
}

void fa__bh_thread_begin_frame(fa_alloc_t *fa, fa__thread_t *t) {
    if (!fa__behaviour_on(fa) || t->bh) return;
    /* The filter was turned on: this thread starts tracking at this frame
     * (an allocation here, outside the hot path). */
    t->bh = calloc(1, sizeof *t->bh);
}

/* Tracks a pool block allocated in this frame. Best effort: when its few
 * probe slots are taken the block is simply not tracked, so the cost per
 * allocation stays bounded however many blocks a frame churns through. */
void fa__bh_pool_alloc(fa_alloc_t *fa, fa__thread_t *t, void *p) {
    fa__bh_thread_t *bh = t->bh;
    if (!bh || !t->in_frame || !fa__behaviour_on(fa) || bh->set_used >= SET_CAP / 2) return;
    for (uint32_t i = slot_of(p), n = 0; n < SET_PROBES; i = (i + 1) & (SET_CAP - 1), n++) {
        if (bh->set[i] == NULL || bh->set[i] == TOMBSTONE) {
            if (bh->set[i] == NULL) bh->filled_at[bh->filled++] = (uint16_t)i; /* once per slot */
            bh->set[i] = p;
            bh->set_used++;
            return;
        }
    }
}

/* The thread's pending entry of tag, NULL when the table is full. */
static __typeof__(((fa__bh_thread_t *)0)->pending[0]) *pending_of(fa__bh_thread_t *bh, uint32_t tag) {
    for (uint32_t i = (tag * 0x9E3779B1u) >> 26, n = 0; n < PENDING_CAP; i = (i + 1) & (PENDING_CAP - 1), n++) {
        if (bh->pending[i].tag1 == tag + 1) return &bh->pending[i];
        if (!bh->pending[i].tag1) {
            bh->pending[i].tag1 = tag + 1;
            bh->pending_at[bh->pending_count++] = (uint8_t)i;
            return &bh->pending[i];
        }
    }
    return NULL;
}

/* Adds a tag's pool frees to the shared counters, then marks it fed. */
static void pool_frees_publish(fa__behaviour_t *b, uint32_t tag, uint64_t frees, uint64_t same_count,
                               uint64_t same_value) {
    bh_tag_t *bt = &b->tags[tag];
    atomic_fetch_add_explicit(&bt->frame_pool_frees, frees, memory_order_seq_cst);
    if (same_count) {
        atomic_fetch_add_explicit(&bt->frame_count[FA_FIND_POOL_SAME_FRAME_FREE], same_count, memory_order_seq_cst);
        atomic_fetch_add_explicit(&bt->frame_value[FA_FIND_POOL_SAME_FRAME_FREE], same_value, memory_order_relaxed);
    }
    mark_fed(b, tag);
}

/* The thread's pending pool frees go to the shared counters. */
static void pending_flush(fa_alloc_t *fa, fa__bh_thread_t *bh) {
    for (uint32_t k = 0; k < bh->pending_count; k++) {
        __typeof__(bh->pending[0]) *e = &bh->pending[bh->pending_at[k]];
        if (fa__behaviour_on(fa)) pool_frees_publish(fa->behaviour, e->tag1 - 1, e->frees, e->same_count, e->same_value);
        memset(e, 0, sizeof *e);
    }
    bh->pending_count = 0;
}

void fa__bh_free(fa_alloc_t *fa, fa__thread_t *t, void *p, uint32_t tag, uint64_t size) {
    fa__bh_thread_t *bh = t->bh;
    if (!bh || !fa__behaviour_on(fa)) return;
    bool pool = fa__pool_owns(fa, p);
    if (pool && t->in_frame) {
        bool same_frame = false;
        for (uint32_t i = slot_of(p), n = 0; bh->set[i] && n < SET_PROBES; i = (i + 1) & (SET_CAP - 1), n++) {
            if (bh->set[i] == p) {
                bh->set[i] = TOMBSTONE;
                bh->set_used--;
                same_frame = true;
                break;
            }
        }
        __typeof__(bh->pending[0]) *e = pending_of(bh, tag);
        if (e) {
            e->frees++;
            e->same_count += same_frame;
            e->same_value += same_frame ? size : 0;
        } else {
            pool_frees_publish(fa->behaviour, tag, 1, same_frame, same_frame ? size : 0);
        }
    }
    if (!bh->promoted_count) return;
    uint32_t churn = presets[atomic_load_explicit(&fa->behaviour->preset, memory_order_relaxed)].churn_frames;
    for (uint32_t i = slot_of(p) & (PROMOTED_CAP - 1), n = 0; n < SET_PROBES;
         i = (i + 1) & (PROMOTED_CAP - 1), n++) {
        if (bh->promoted[i].p == p) {
            bh->promoted[i].p = NULL;
            bh->promoted_count--;
            if (t->frame_serial - bh->promoted[i].frame <= churn)
                fa__bh_count(fa, tag, FA_FIND_PROMOTION_CHURN, size);
            break;
        }
    }
}

/* The inline pool path, inside an operation of the calling thread. */
void fa__bh_pool_alloc_hook(fa_alloc_t *fa, void *p) { fa__bh_pool_alloc(fa, (fa__thread_t *)fa__tls.fast, p); }
void fa__bh_pool_free_hook(fa_alloc_t *fa, void *p, uint32_t tag, uint32_t size) {
    fa__bh_free(fa, (fa__thread_t *)fa__tls.fast, p, tag, size);
}

void fa__bh_promoted(fa_alloc_t *fa, fa__thread_t *t, void *p) {
    fa__bh_thread_t *bh = t->bh;
    if (!bh || !fa__behaviour_on(fa)) return;
    /* A free slot among the probes, else the home slot (the oldest watch
     * there is forgotten: best effort, bounded cost). */
    uint32_t home = slot_of(p) & (PROMOTED_CAP - 1), at = home;
    for (uint32_t i = home, n = 0; n < SET_PROBES; i = (i + 1) & (PROMOTED_CAP - 1), n++) {
        if (!bh->promoted[i].p) {
            at = i;
            break;
        }
    }
    if (!bh->promoted[at].p) bh->promoted_count++;
    bh->promoted[at].p = p;
    bh->promoted[at].frame = t->frame_serial;
}

void fa__bh_thread_end_frame(fa_alloc_t *fa, fa__thread_t *t) {
    fa__bh_thread_t *bh = t->bh;
    if (bh) {
        pending_flush(fa, bh);
        for (uint32_t i = 0; i < bh->filled; i++)
            bh->set[bh->filled_at[i]] = NULL;
        bh->filled = 0;
        bh->set_used = 0;
    }
    if (t->overflowed) {
        fa__bh_count(fa, FA_TAG_ROOT, FA_FIND_ARENA_OVERFLOW, (uint64_t)fa__arena_used(t));
        t->overflowed = false;
    }
}

/* Over the tags fed during the window only (window_dirty), in code then
 * tag order. */
static void evaluate(fa__behaviour_t *b) {
    const thresholds_t *th = &b->th;
    uint32_t frames_needed = (b->frames_in_window * th->ratio_pct + 99) / 100;
    if (frames_needed == 0) frames_needed = 1;
    fa_finding_t out[FINDINGS_MAX];
    uint32_t n = 0, total = 0;
    for (int code = 1; code < FA_FIND_COUNT_; code++) {
        for (uint32_t w = 0; w < b->dirty_words; w++) {
            for (uint64_t bits = b->window_dirty[w]; bits; bits &= bits - 1) {
                uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
                bh_tag_t *bt = &b->tags[i];
                uint64_t count = bt->total_count[code];
                if (!count) continue;
                bool hit = false;
                switch (code) {
                case FA_FIND_FRAME_RETAINED_OFTEN:
                    hit = bt->frames_with[code] >= frames_needed;
                    break;
                case FA_FIND_ARENA_OVERFLOW:
                    /* The arena adapts to the need at the frame end, so an
                     * overflow in a window is already worth reporting. */
                    hit = true;
                    break;
                case FA_FIND_HEAP_IN_HOT_PATH:
                    hit = bt->frames_with[code] >= frames_needed && count >= th->min_count;
                    break;
                case FA_FIND_POOL_SAME_FRAME_FREE:
                    hit = count >= th->min_count && count * 2 >= bt->pool_frees;
                    break;
                case FA_FIND_PROMOTION_CHURN:
                    hit = count >= th->min_count;
                    break;
                case FA_FIND_OUTSIDE_FRAME:
                    hit = count >= th->outside_min;
                    break;
                case FA_FIND_BUDGET_BREACH:
                    hit = true;
                    break;
                }
                if (!hit) continue;
                total++;
                if (n < FINDINGS_MAX)
                    out[n++] = (fa_finding_t){.code = (uint16_t)code,
                                              .tag_id = (uint16_t)i,
                                              .kind = code_kind[code],
                                              .count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count,
                                              .value = bt->total_value[code]};
            }
        }
    }
    pthread_mutex_lock(&b->lock);
    memcpy(b->findings, out, n * sizeof out[0]);
    b->finding_count = n;
    b->findings_total = total;
    pthread_mutex_unlock(&b->lock);
}

/* Collects the frame's counters of the tags fed since the last frame end:
 * O(tags fed) plus one load per 64 tags; the evaluation and the window reset
 * once per window, O(tags fed during the window). */
void fa__bh_main_end_frame(fa_alloc_t *fa) {
    fa__behaviour_t *b = fa->behaviour;
    int preset = atomic_load_explicit(&b->preset, memory_order_relaxed);
    if (!preset) return;
    if (b->frames_in_window == 0) b->th = presets[preset];
    uint32_t words = (fa_tag_count(fa) + 63) / 64, collected = 0;
    for (uint32_t w = 0; w < words; w++) {
        if (!atomic_load_explicit(&b->frame_dirty[w], memory_order_relaxed)) continue;
        uint64_t bits = atomic_exchange(&b->frame_dirty[w], 0);
        b->window_dirty[w] |= bits;
        for (; bits; bits &= bits - 1) {
            bh_tag_t *bt = &b->tags[w * 64 + (uint32_t)__builtin_ctzll(bits)];
            collected++;
            bt->pool_frees += atomic_exchange(&bt->frame_pool_frees, 0);
            for (int code = 1; code < FA_FIND_COUNT_; code++) {
                uint64_t c = atomic_exchange(&bt->frame_count[code], 0);
                if (!c) continue;
                uint64_t v = atomic_exchange_explicit(&bt->frame_value[code], 0, memory_order_relaxed);
                bt->frames_with[code]++;
                bt->total_count[code] += c;
                if (code == FA_FIND_ARENA_OVERFLOW || code == FA_FIND_BUDGET_BREACH)
                    bt->total_value[code] = v > bt->total_value[code] ? v : bt->total_value[code];
                else
                    bt->total_value[code] += v;
            }
        }
    }
    b->last_collected = collected;
    if (++b->frames_in_window < b->th.window) return;
    evaluate(b);
    for (uint32_t w = 0; w < b->dirty_words; w++) {
        for (uint64_t bits = b->window_dirty[w]; bits; bits &= bits - 1) {
            bh_tag_t *bt = &b->tags[w * 64 + (uint32_t)__builtin_ctzll(bits)];
            memset(bt->frames_with, 0, sizeof bt->frames_with);
            memset(bt->total_count, 0, sizeof bt->total_count);
            memset(bt->total_value, 0, sizeof bt->total_value);
            bt->pool_frees = 0;
        }
        b->window_dirty[w] = 0;
    }
    b->frames_in_window = 0;
}

uint32_t fa__bh_last_collected(fa_alloc_t *fa) { return fa->behaviour->last_collected; }

uint32_t fa__bh_findings(fa_alloc_t *fa, fa_finding_t *out, uint32_t cap) {
    fa__behaviour_t *b = fa->behaviour;
    pthread_mutex_lock(&b->lock);
    uint32_t n = b->finding_count < cap ? b->finding_count : cap;
    if (n) memcpy(out, b->findings, n * sizeof *out);
    uint32_t total = b->findings_total;
    pthread_mutex_unlock(&b->lock);
    return total;
}

uint32_t fa_behaviour_report(fa_alloc_t *fa, fa_finding_t *out, uint32_t cap) {
    if (!fa || (cap && !out)) return 0;
    return fa__bh_findings(fa, out, cap);
}

const char *fa_finding_name(int code) {
    switch (code) {
#define X(name, value, meaning, fix)                                                                         \
    case value:                                                                                              \
        return #name;
        FA_FINDING_TABLE(X)
#undef X
    }
    return "unknown";
}

const char *fa_finding_meaning(int code) {
    switch (code) {
#define X(name, value, meaning, fix)                                                                         \
    case value:                                                                                              \
        return meaning;
        FA_FINDING_TABLE(X)
#undef X
    }
    return "unknown";
}

const char *fa_finding_advice(int code) {
    switch (code) {
#define X(name, value, meaning, fix)                                                                         \
    case value:                                                                                              \
        return fix;
        FA_FINDING_TABLE(X)
#undef X
    }
    return "unknown";
}
