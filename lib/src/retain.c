/* Retention and promotion: frame allocations marked to outlive their frame.
 * Marks are recorded in a per-thread array (no allocation); at the thread's
 * frame end each mark is discarded, copied into a pool or heap block, or
 * copied into a "kept" heap block released after N more frames. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int fa__retain_init(fa_alloc_t *fa, fa__thread_t *t) {
    uint32_t n = fa->cfg.max_retained;
    t->retain = calloc(n, sizeof *t->retain);
    t->retain_frames = calloc(n, sizeof *t->retain_frames);
    t->retain_sites = calloc(n, sizeof *t->retain_sites);
    t->retain_summary = calloc(n, sizeof *t->retain_summary);
    return t->retain && t->retain_frames && t->retain_sites && t->retain_summary ? FA_OK : FA_ERR_NO_MEMORY;
}

void fa__retain_release_kept(fa_alloc_t *fa, fa__thread_t *t) {
    for (fa__kept_t *k = t->kept, *next; k; k = next) {
        next = k->next;
        fa__heap_free_checked(fa, t, k, "kept copy");
    }
    t->kept = NULL;
}

void fa__retain_fini(fa__thread_t *t) {
    /* The context is going away: no accounting, just give the memory back. */
    for (fa__kept_t *k = t->kept, *next; k; k = next) {
        next = k->next;
        fa__heap_release(k);
    }
    t->kept = NULL;
    free(t->retain);
    free(t->retain_frames);
    free(t->retain_sites);
    free(t->retain_summary);
}

int fa_frame_retain(fa_alloc_t *fa, void *p, size_t size, fa_retain_policy policy, uint32_t frames) {
    return fa_frame_retain_site(fa, p, size, policy, frames, NULL);
}

int fa_frame_retain_site(fa_alloc_t *fa, void *p, size_t size, fa_retain_policy policy, uint32_t frames,
                         fa_site_t *site) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return FA_ERR_NO_MEMORY;
    if (!p || policy > FA_RETAIN_FRAMES || (policy == FA_RETAIN_FRAMES && (frames == 0 || frames > 65535))) {
        fa__report(fa, FA_ERR_INVALID_ARG, p, "fa_frame_retain: invalid pointer, policy or frame count");
        return FA_ERR_INVALID_ARG;
    }
    if (!t->in_frame) {
        fa__report(fa, FA_ERR_NOT_IN_FRAME, p, "fa_frame_retain outside a frame");
        return FA_ERR_NOT_IN_FRAME;
    }
    if (!fa__arena_holds(t, p, size)) {
        fa__report(fa, FA_ERR_CROSS_THREAD, p,
                   "fa_frame_retain: [%p, +%zu) is not frame memory of the calling thread's current frame", p, size);
        return FA_ERR_CROSS_THREAD;
    }
    if (t->retain_count >= fa->cfg.max_retained) {
        fa__report(fa, FA_ERR_TRUNCATED, p, "fa_frame_retain: more than %u marks in one frame",
                   fa->cfg.max_retained);
        return FA_ERR_TRUNCATED;
    }
    uint32_t i = t->retain_count++;
    t->retain[i] = (fa_promotion_t){.old_ptr = p, .size = size, .tag_id = (uint16_t)t->fast.tag, .policy = policy};
    t->retain_frames[i] = frames;
    t->retain_sites[i] = site;
    return FA_OK;
}

void *fa_frame_alloc_retained_site(fa_alloc_t *fa, size_t size, size_t align, fa_retain_policy policy,
                                   uint32_t frames, fa_site_t *site) {
    void *p = fa_frame_alloc_site(fa, size, align, site);
    if (p && fa_frame_retain_site(fa, p, size, policy, frames, site) != FA_OK) return NULL;
    return p;
}

void *fa_frame_alloc_retained(fa_alloc_t *fa, size_t size, size_t align, fa_retain_policy policy,
                              uint32_t frames) {
    return fa_frame_alloc_retained_site(fa, size, align, policy, frames, NULL);
}

static fa_promotion_tag_summary_t *summary_of(fa__thread_t *t, uint16_t tag) {
    for (uint32_t i = 0; i < t->retain_summary_count; i++)
        if (t->retain_summary[i].tag_id == tag) return &t->retain_summary[i];
    fa_promotion_tag_summary_t *s = &t->retain_summary[t->retain_summary_count++];
    *s = (fa_promotion_tag_summary_t){.tag_id = tag};
    return s;
}

/* Copies one mark to its destination, allocating under the mark's tag for
 * the mark's site. */
static void promote(fa_alloc_t *fa, fa__thread_t *t, fa_promotion_t *m, uint32_t frames, fa_site_t *site) {
    uint32_t saved_tag = t->fast.tag;
    fa__stats_set_tag(t, m->tag_id);
    int saved_error = fa_last_error();
    fa_clear_error();
    void *dst = NULL;
    if (m->policy == FA_RETAIN_PROMOTE_POOL) {
        if (m->size > FA_POOL_MAX_SIZE) {
            m->error = FA_ERR_INVALID_ARG; /* too large for a pool block */
        } else {
            dst = fa__debug_pool_alloc(fa, t, m->size, "promotion", 0, site);
        }
    } else if (m->policy == FA_RETAIN_PROMOTE_HEAP) {
        dst = fa__debug_heap_alloc(fa, t, m->size, 16, "promotion", 0, site);
    } else {
        fa__kept_t *k = fa__heap_alloc_raw(fa, t, sizeof(fa__kept_t) + m->size, 16, site);
        if (k) {
            k->frames_left = frames;
            k->next = t->kept;
            t->kept = k;
            dst = k + 1;
        }
    }
    if (dst) {
        memcpy(dst, m->old_ptr, m->size);
        m->new_ptr = dst;
        m->error = FA_OK;
        if (m->policy != FA_RETAIN_FRAMES) fa__bh_promoted(fa, t, fa__debug_block_of(fa, dst));
    } else if (m->error == FA_OK) {
        int e = fa_last_error();
        m->error = e == FA_ERR_BUDGET ? FA_ERR_BUDGET : e ? e : FA_ERR_NO_MEMORY;
    }
    /* A failed promotion is reported in the result, not as the caller's
     * sticky error. */
    fa__set_last_error(saved_error);
    fa__stats_set_tag(t, saved_tag);
}

void fa__retain_end_frame(fa_alloc_t *fa, fa__thread_t *t) {
    /* Age the kept copies first: a copy made this frame gets all its N. */
    for (fa__kept_t **pp = &t->kept; *pp;) {
        fa__kept_t *k = *pp;
        if (--k->frames_left == 0) {
            *pp = k->next;
            fa__heap_free_checked(fa, t, k, "kept copy");
        } else {
            pp = &k->next;
        }
    }
    t->retain_summary_count = 0;
    fa_promotion_totals_t tot = {0};
    for (uint32_t i = 0; i < t->retain_count; i++) {
        fa_promotion_t *m = &t->retain[i];
        m->new_ptr = NULL;
        m->error = FA_OK;
        fa_promotion_tag_summary_t *s = summary_of(t, m->tag_id);
        if (m->policy == FA_RETAIN_DISCARD) {
            s->discarded_count++, s->discarded_bytes += m->size;
            tot.discarded_count++, tot.discarded_bytes += m->size;
            continue;
        }
        promote(fa, t, m, t->retain_frames[i], t->retain_sites[i]);
        if (m->error != FA_OK) {
            s->failed_count++, s->failed_bytes += m->size;
            tot.failed_count++, tot.failed_bytes += m->size;
        } else if (m->policy == FA_RETAIN_FRAMES) {
            s->retained_count++, s->retained_bytes += m->size;
            tot.retained_count++, tot.retained_bytes += m->size;
        } else {
            s->promoted_count++, s->promoted_bytes += m->size;
            tot.promoted_count++, tot.promoted_bytes += m->size;
        }
        fa__bh_count(fa, m->tag_id, FA_FIND_FRAME_RETAINED_OFTEN, m->size);
    }
    t->retain_totals = tot;
    if (t->retain_count) {
        pthread_mutex_lock(&fa->promo_lock);
        FA__STORE(fa->promo_pending, 1);
        fa_promotion_totals_t *a = &fa->promo_acc;
        a->promoted_count += tot.promoted_count, a->promoted_bytes += tot.promoted_bytes;
        a->failed_count += tot.failed_count, a->failed_bytes += tot.failed_bytes;
        a->retained_count += tot.retained_count, a->retained_bytes += tot.retained_bytes;
        a->discarded_count += tot.discarded_count, a->discarded_bytes += tot.discarded_bytes;
        pthread_mutex_unlock(&fa->promo_lock);
    }
}

void fa_end_frame_with_promotions(fa_alloc_t *fa, fa_promotion_result_t *out) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    fa_end_frame(fa);
    if (out) {
        *out = (fa_promotion_result_t){.items = t->retain,
                                       .count = t->retain_count,
                                       .by_tag = t->retain_summary,
                                       .tag_count = t->retain_summary_count,
                                       .totals = t->retain_totals};
    }
}
