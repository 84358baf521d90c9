/* The context: create/destroy, configuration defaults, per-thread records
 * (registration, exit, reuse), frame-end hooks. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local fa__tls_t fa__tls;

/* The only process-wide mutable value: a counter that gives each context a
 * unique id, so a thread's cached (context, state) pair is never confused
 * with a later context created at the same address. */
static _Atomic uint64_t context_ids = 1;

#define DEF(val, def) ((val) ? (val) : (def))
#define MAX_FRAME_CHUNK ((size_t)1 << 40)
#define MAX_POOL_RESERVE ((size_t)1 << 46)

static fa_config_t config_defaults(const fa_config_t *in) {
    fa_config_t c = in ? *in : (fa_config_t){0};
    c.frame_chunk_bytes = DEF(c.frame_chunk_bytes, (size_t)1 << 20);
    c.pool_reserve_bytes = DEF(c.pool_reserve_bytes, (size_t)4 << 30);
    c.max_tags = DEF(c.max_tags, 1024);
    c.budget_policy = DEF(c.budget_policy, FA_POLICY_WARN);
    c.max_retained = DEF(c.max_retained, 256);
    c.max_transfers = DEF(c.max_transfers, 1024);
    c.max_sites = DEF(c.max_sites, 16384);
    return c;
}

/* Why a configuration is refused, or NULL. Every size must be usable as it
 * is: nothing is clamped, and later arithmetic on it cannot overflow. */
static const char *config_problem(const fa_config_t *c) {
    if (c->max_tags > 65535 || c->max_tags < 2) return "max_tags must be 2..65535";
    if (c->frame_chunk_bytes < 256 || c->frame_chunk_bytes > MAX_FRAME_CHUNK)
        return "frame_chunk_bytes must be 256 B..1 TiB";
    if (c->frame_limit_bytes && c->frame_limit_bytes < c->frame_chunk_bytes)
        return "frame_limit_bytes must be 0 or at least frame_chunk_bytes";
    if (c->pool_reserve_bytes > MAX_POOL_RESERVE) return "pool_reserve_bytes must be at most 64 TiB";
    if (c->max_retained > 65535) return "max_retained must be at most 65535";
    if (c->max_transfers > 65535) return "max_transfers must be at most 65535";
    if (c->max_sites < 64 || c->max_sites > (1u << 20)) return "max_sites must be 64..1048576";
    if (c->budget_policy > FA_POLICY_CALLBACK) return "unknown budget_policy";
    if (c->budget_policy == FA_POLICY_CALLBACK && !c->budget_cb) return "FA_POLICY_CALLBACK needs budget_cb";
    if (c->behaviour < 0 || c->behaviour > FA_BEHAVIOUR_RELAXED) return "unknown behaviour preset";
    return NULL;
}

uint64_t fa__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void thread_exit(void *arg);
static void record_free(fa__thread_t *t);

fa_alloc_t *fa_create(const fa_config_t *cfg) {
    fa_config_t c = config_defaults(cfg);
    const char *problem = config_problem(&c);
    if (problem) {
        fa__report(NULL, FA_ERR_INVALID_ARG, NULL, "fa_create: %s", problem);
        if (cfg && cfg->error_cb) {
            char msg[128];
            snprintf(msg, sizeof msg, "fa_create: %s", problem);
            fa_error_event_t ev = {.code = FA_ERR_INVALID_ARG, .message = msg};
            cfg->error_cb(&ev, cfg->error_user);
        }
        return NULL;
    }
    fa_alloc_t *fa = calloc(1, sizeof *fa);
    if (!fa) goto no_memory;
    fa->head.id = atomic_fetch_add(&context_ids, 1);
    fa->cfg = c;
    pthread_mutex_init(&fa->hooks_lock, NULL);
    pthread_mutex_init(&fa->promo_lock, NULL);
    pthread_mutex_init(&fa->records_lock, NULL);
    if (pthread_key_create(&fa->key, thread_exit) != 0) {
        free(fa);
        goto no_memory;
    }
    /* Each part undoes itself on failure, and the fini of a part that was
     * never initialised (all zero) does nothing: fa_destroy undoes the rest. */
    if (fa__stats_init(fa) == FA_OK && fa__tags_init(fa) == FA_OK && fa__pool_init(fa) == FA_OK &&
        fa__heap_init(fa) == FA_OK && fa__budget_init(fa) == FA_OK && fa__transfers_init(fa) == FA_OK &&
        fa__behaviour_init(fa) == FA_OK && fa__debug_init(fa) == FA_OK && fa__sites_init(fa) == FA_OK) {
        fa__thread_t *t = fa__thread_register(fa);
        if (t) {
            atomic_store(&fa->main, t);
            return fa;
        }
    }
    fa_destroy(fa);
    return NULL;

no_memory:
    fa__report(NULL, FA_ERR_NO_MEMORY, NULL, "fa_create: out of memory");
    return NULL;
}

void fa_destroy(fa_alloc_t *fa) {
    if (!fa) return;
    /* Deleting the key first means no exit destructor runs for this context
     * any more (the caller guarantees no other thread uses it). */
    pthread_key_delete(fa->key);
    /* Transfers still in flight are reported as dropped, then live blocks as
     * leaks (debug), while the threads and pools still exist. */
    fa__transfers_fini(fa);
    fa__debug_fini(fa);
    fa__behaviour_fini(fa);
    for (uint32_t i = 0, n = fa->record_count; i < n; i++) record_free(fa__record(fa, i));
    for (uint32_t b = 0; b < FA__RECORD_BLOCKS && fa->record_blocks[b]; b++) free(fa->record_blocks[b]);
    pthread_mutex_destroy(&fa->records_lock);
    if (fa__tls.fa == fa) fa__tls = (fa__tls_t){0};
    pthread_mutex_destroy(&fa->promo_lock);
    fa__pool_fini(fa);
    fa__heap_fini(fa);
    fa__tags_fini(fa);
    fa__budget_fini(fa);
    fa__stats_fini(fa);
    fa__sites_fini(fa);
    pthread_mutex_destroy(&fa->hooks_lock);
    free(fa);
}

fa_config_t fa_config_effective(const fa_alloc_t *fa) { return fa->cfg; }

void fa__thread_update_slow(fa__thread_t *t) {
    uint32_t slow = !t->in_frame || t->budget.hard_bytes || t->budget.soft_bytes;
#ifndef FA_MINIMAL
    slow |= fa__budget_applies(t->fa, t->fast.tag);
#endif
    FA__STORE(t->fast.slow, slow);
}

/* ---- records -------------------------------------------------------------- */

/* Frees what a record holds (not the record: its block does). */
static void record_free(fa__thread_t *t) {
    fa__retain_fini(t);
    fa__behaviour_thread_fini(t);
    fa__arena_fini(t);
    fa__stats_thread_fini(t);
    fa__sites_thread_fini(t);
}

/* A record of an exited thread, or a new one. */
static fa__thread_t *record_get(fa_alloc_t *fa) {
    for (uint32_t i = 0, n = fa__records(fa); i < n; i++) {
        fa__thread_t *t = fa__record(fa, i);
        uint32_t expected = FA__THREAD_FREE;
        if (FA__LOAD(t->fast.state) == FA__THREAD_FREE &&
            __atomic_compare_exchange_n(&t->fast.state, &expected, FA__THREAD_CLAIMED, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED)) {
            /* Numbered before snapshots list it (they read the index). */
            FA__STORE(t->index, __atomic_fetch_add(&fa->thread_seq, 1, __ATOMIC_RELAXED));
            FA__RELEASE(t->fast.state, FA__THREAD_LIVE);
            return t;
        }
    }
    pthread_mutex_lock(&fa->records_lock);
    fa__thread_t *t = NULL;
    uint32_t n = fa->record_count, b = n / FA__RECORDS_PER_BLOCK;
    if (b < FA__RECORD_BLOCKS && !fa->record_blocks[b]) {
        void *block = NULL;
        if (posix_memalign(&block, 64, FA__RECORDS_PER_BLOCK * sizeof *t) == 0) {
            memset(block, 0, FA__RECORDS_PER_BLOCK * sizeof *t);
            FA__RELEASE(fa->record_blocks[b], (fa__thread_t *)block);
        }
    }
    if (b < FA__RECORD_BLOCKS && fa->record_blocks[b]) {
        t = &fa->record_blocks[b][n % FA__RECORDS_PER_BLOCK];
        t->fa = fa;
        if (fa__stats_thread_init(fa, t) == FA_OK && fa__sites_thread_init(fa, t) == FA_OK &&
            fa__retain_init(fa, t) == FA_OK) {
            FA__STORE(t->index, __atomic_fetch_add(&fa->thread_seq, 1, __ATOMIC_RELAXED));
            t->fast.state = FA__THREAD_LIVE;
            FA__RELEASE(fa->record_count, n + 1);
        } else {
            record_free(t);
            t = NULL;
        }
    }
    pthread_mutex_unlock(&fa->records_lock);
    return t;
}

fa__thread_t *fa__thread_register(fa_alloc_t *fa) {
    fa__thread_t *t = pthread_getspecific(fa->key);
    if (!t) {
        t = record_get(fa);
        if (!t) goto fail;
        if (fa__arena_init(fa, t) != FA_OK) {
            FA__RELEASE(t->fast.state, FA__THREAD_FREE);
            goto fail;
        }
        t->fast.tag = FA_TAG_ROOT;
        fa__stats_list(t, FA_TAG_ROOT);
        fa__pool_thread_init(fa, t);
        fa__thread_update_slow(t);
        pthread_setspecific(fa->key, t);
    }
    fa__tls = (fa__tls_t){.fa = fa, .fa_id = fa->head.id, .fast = &t->fast};
    return t;
fail:
    fa__report(fa, FA_ERR_NO_MEMORY, NULL, "cannot create the state of a new thread");
    return NULL;
}

/* A thread that used the context exits: an open frame is released, kept
 * copies are freed and its cached blocks go back to the depots (with their
 * accounting); its figures are folded one last time into the context's, so
 * that its live pool and heap blocks stay counted; then its record is
 * cleared for the next thread. */
static void thread_exit(void *arg) {
    fa__thread_t *t = arg;
    fa_alloc_t *fa = t->fa;
    fa__tls = (fa__tls_t){.fa = fa, .fa_id = fa->head.id, .fast = &t->fast};
    fa__op_begin(t);
#ifndef FA_MINIMAL
    /* What the behaviour filter holds for the thread's frame end. */
    fa__bh_thread_end_frame(fa, t);
#endif
    /* An open frame, or frame memory allocated outside a frame, is gone. */
    fa__frame_release(fa, t);
    fa__retain_release_kept(fa, t);
    fa__pool_flush_thread(fa, t);
    fa__op_end(t);
    fa__thread_t *expected = t;
    atomic_compare_exchange_strong(&fa->main, &expected, NULL);
    fa__stats_retire(fa, t);
    fa__behaviour_thread_fini(t);
    fa__arena_fini(t);
    /* Back to a blank record, keeping its allocations (retention arrays,
     * statistics mapping) for the next thread. */
    t->fast.cur = t->fast.end = NULL;
    t->fast.tag = FA_TAG_ROOT;
    t->frame_serial = 0;
    t->in_frame = t->warned_outside = t->overflowed = false;
    FA__STORE(t->frames_ended, 0);
    FA__STORE(t->fast.in_frame_pub, 0);
    t->tag_depth = 0;
    t->retain_count = t->retain_summary_count = 0;
    t->budget = (fa_budget_desc_t){0};
    memset(t->budget_fired, 0, sizeof t->budget_fired);
    t->need_hw = 0;
    t->recent_need[0] = t->recent_need[1] = 0;
    t->recent_frames = 0;
    FA__RELEASE(t->fast.state, FA__THREAD_FREE);
    fa__tls = (fa__tls_t){0};
}

void fa_set_main_thread(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (t) atomic_store(&fa->main, t);
}

int fa_on_frame_end(fa_alloc_t *fa, fa_frame_hook hook, void *user) {
    if (!fa || !hook) return FA_ERR_INVALID_ARG;
    pthread_mutex_lock(&fa->hooks_lock);
    int rc = FA_ERR_STATE;
    if (fa->hook_count < FA__MAX_HOOKS) {
        fa->hooks[fa->hook_count].fn = hook;
        fa->hooks[fa->hook_count].user = user;
        FA__RELEASE(fa->hook_count, fa->hook_count + 1);
        rc = FA_OK;
    }
    pthread_mutex_unlock(&fa->hooks_lock);
    return rc;
}

int fa_remove_frame_hook(fa_alloc_t *fa, fa_frame_hook hook, void *user) {
    if (!fa || !hook) return FA_ERR_INVALID_ARG;
    int rc = FA_ERR_NOT_FOUND;
    pthread_mutex_lock(&fa->hooks_lock);
    for (uint32_t i = 0; i < fa->hook_count; i++) {
        if (fa->hooks[i].fn == hook && fa->hooks[i].user == user) {
            memmove(&fa->hooks[i], &fa->hooks[i + 1], (fa->hook_count - i - 1) * sizeof fa->hooks[0]);
            FA__STORE(fa->hook_count, fa->hook_count - 1);
            rc = FA_OK;
            break;
        }
    }
    pthread_mutex_unlock(&fa->hooks_lock);
    return rc;
}

uint64_t fa_frame_number(const fa_alloc_t *fa) { return FA__LOAD(fa->frame_number); }
