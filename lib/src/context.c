/* The context: create/destroy, configuration defaults, per-thread state
 * registration and retirement, frame-end hooks. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local fa__tls_t fa__tls;

/* The only process-wide mutable value: a counter that gives each context a
 * unique id, so a thread's cached (context, state) pair is never confused
 * with a later context created at the same address. */
static _Atomic uint64_t context_ids = 1;

#define DEF(val, def) ((val) ? (val) : (def))

static fa_config_t config_defaults(const fa_config_t *in) {
    fa_config_t c = in ? *in : (fa_config_t){0};
    c.frame_chunk_bytes = DEF(c.frame_chunk_bytes, (size_t)1 << 20);
    c.pool_reserve_bytes = DEF(c.pool_reserve_bytes, (size_t)4 << 30);
    c.max_tags = DEF(c.max_tags, 1024);
    c.budget_policy = DEF(c.budget_policy, FA_POLICY_WARN);
    c.max_retained = DEF(c.max_retained, 256);
    c.max_transfers = DEF(c.max_transfers, 1024);
    return c;
}

uint64_t fa__now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void thread_exit(void *arg);

/* Frees the context's own arrays and the context (not its components). */
static void context_free(fa_alloc_t *fa) {
    free(fa->retired);
    free(fa->base_count);
    free(fa->base_frees);
    free(fa->base_bytes);
    free(fa->scratch);
    free(fa->cumulative);
    free(fa);
}

fa_alloc_t *fa_create(const fa_config_t *cfg) {
    fa_config_t c = config_defaults(cfg);
    if (c.max_tags > 65535 || c.max_tags < 2 || c.frame_chunk_bytes < 256 ||
        (c.frame_limit_bytes && c.frame_limit_bytes < c.frame_chunk_bytes) ||
        c.budget_policy > FA_POLICY_CALLBACK || c.behaviour < 0 || c.behaviour > FA_BEHAVIOUR_RELAXED ||
        c.max_transfers > 65535 ||
        (c.budget_policy == FA_POLICY_CALLBACK && !c.budget_cb)) {
        fa__report(NULL, FA_ERR_INVALID_ARG, NULL, "fa_create: invalid configuration");
        if (cfg && cfg->error_cb) {
            fa_error_event_t ev = {.code = FA_ERR_INVALID_ARG, .message = "fa_create: invalid configuration"};
            cfg->error_cb(&ev, cfg->error_user);
        }
        return NULL;
    }
    fa_alloc_t *fa = calloc(1, sizeof *fa);
    if (!fa) goto no_memory;
    fa->id = atomic_fetch_add(&context_ids, 1);
    fa->cfg = c;
    pthread_mutex_init(&fa->threads_lock, NULL);
    pthread_mutex_init(&fa->hooks_lock, NULL);
    pthread_mutex_init(&fa->promo_lock, NULL);
    fa->retired = calloc(c.max_tags, sizeof *fa->retired);
    fa->base_count = calloc(c.max_tags, sizeof *fa->base_count);
    fa->base_frees = calloc(c.max_tags, sizeof *fa->base_frees);
    fa->base_bytes = calloc(c.max_tags, sizeof *fa->base_bytes);
    fa->scratch = calloc(c.max_tags, sizeof *fa->scratch);
    fa->cumulative = calloc(c.max_tags, sizeof *fa->cumulative);
    if (!fa->retired || !fa->base_count || !fa->base_frees || !fa->base_bytes || !fa->scratch || !fa->cumulative)
        goto no_memory_free;
    if (pthread_key_create(&fa->key, thread_exit) != 0) goto no_memory_free;
    if (fa__tags_init(fa) != FA_OK) {
        pthread_key_delete(fa->key);
        goto no_memory_free;
    }
    if (fa__pool_init(fa) != FA_OK) {
        fa__tags_fini(fa);
        pthread_key_delete(fa->key);
        goto no_memory_free;
    }
    fa__thread_t *t = NULL;
    if (fa__transfers_init(fa) != FA_OK || fa__behaviour_init(fa) != FA_OK || fa__debug_init(fa) != FA_OK ||
        !(t = fa__thread_register(fa))) {
        fa_destroy(fa);
        return NULL;
    }
    atomic_store(&fa->main, t);
    return fa;

no_memory_free:
    context_free(fa);
no_memory:
    fa__report(NULL, FA_ERR_NO_MEMORY, NULL, "fa_create: out of memory");
    return NULL;
}

static void thread_free(fa__thread_t *t) {
    fa__retain_fini(t);
    fa__behaviour_thread_fini(t);
    fa__arena_fini(t);
    free(t->counters);
    free(t);
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
    for (fa__thread_t *t = fa->threads, *next; t; t = next) {
        next = t->next;
        thread_free(t);
    }
    if (fa__tls.fa == fa) fa__tls = (fa__tls_t){0};
    pthread_mutex_destroy(&fa->promo_lock);
    fa__pool_fini(fa);
    fa__tags_fini(fa);
    pthread_mutex_destroy(&fa->threads_lock);
    pthread_mutex_destroy(&fa->hooks_lock);
    context_free(fa);
}

fa_config_t fa_config_effective(const fa_alloc_t *fa) { return fa->cfg; }

void fa__thread_update_slow(fa__thread_t *t) {
    uint32_t slow = !t->in_frame || t->budget.hard_bytes || t->budget.soft_bytes;
#ifndef FA_MINIMAL
    slow |= fa__budget_applies(t->fa, t->fast.tag);
#endif
    atomic_store_explicit(&t->fast.slow, slow, memory_order_relaxed);
}

fa__thread_t *fa__thread_register(fa_alloc_t *fa) {
    fa__thread_t *t = pthread_getspecific(fa->key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) goto fail;
        t->counters = calloc(fa->cfg.max_tags, sizeof *t->counters);
        if (!t->counters || fa__arena_init(t, fa->cfg.frame_chunk_bytes) != FA_OK ||
            fa__retain_init(fa, t) != FA_OK) {
            fa__retain_fini(t);
            fa__arena_fini(t);
            free(t->counters);
            free(t);
            goto fail;
        }
        t->fa = fa;
        t->fast.ctr = t->counters;
        t->fast.tag = FA_TAG_ROOT;
        fa__thread_update_slow(t);
        pthread_mutex_lock(&fa->threads_lock);
        t->index = fa->thread_seq++;
        t->next = fa->threads;
        fa->threads = t;
        pthread_mutex_unlock(&fa->threads_lock);
        pthread_setspecific(fa->key, t);
    }
    fa__tls = (fa__tls_t){.fa = fa, .fa_id = fa->id, .fast = &t->fast};
    return t;
fail:
    fa__report(fa, FA_ERR_NO_MEMORY, NULL, "cannot create the state of a new thread");
    return NULL;
}

/* A thread that used the context exits: its live pool/heap figures and
 * cumulative counts move to the retired counters, its cached blocks go back
 * to the depots, its arena is freed, and its frame bytes stop counting
 * against budgets. */
static void thread_exit(void *arg) {
    fa__thread_t *t = arg;
    fa_alloc_t *fa = t->fa;
    uint32_t ntags = atomic_load(&fa->tags.count);
    /* Still this thread's state in the cache: kept copies are released with
     * their accounting, then the pool caches go back to the depots. */
    fa__tls = (fa__tls_t){.fa = fa, .fa_id = fa->id, .fast = &t->fast};
    fa__retain_release_kept(fa, t);
    fa__pool_flush_thread(fa, t);
    pthread_mutex_lock(&fa->threads_lock);
    for (uint32_t i = 0; i < ntags; i++) {
        fa__tag_counters_t *c = &t->counters[i], *r = &fa->retired[i];
        if (c->budget_frame) fa__budget_uncharge(fa, i, c->budget_frame);
        FA__ADD(r->count[FA_KIND_FRAME], FA__LOAD(c->frame_packed) >> FA__FRAME_COUNT_SHIFT);
        for (int k = 0; k < 3; k++) FA__ADD(r->count[k], FA__LOAD(c->count[k]));
        for (int k = 0; k < 2; k++) {
            FA__ADD(r->live[k], FA__LOAD(c->live[k]));
            FA__ADD(r->alloc_bytes[k], FA__LOAD(c->alloc_bytes[k]));
            FA__ADD(r->frees[k], FA__LOAD(c->frees[k]));
        }
    }
    for (fa__thread_t **pp = &fa->threads; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    fa__thread_t *expected = t;
    atomic_compare_exchange_strong(&fa->main, &expected, NULL);
    pthread_mutex_unlock(&fa->threads_lock);
    if (fa__tls.fa == fa) fa__tls = (fa__tls_t){0};
    thread_free(t);
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
        fa->hook_count++;
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
            fa->hook_count--;
            rc = FA_OK;
            break;
        }
    }
    pthread_mutex_unlock(&fa->hooks_lock);
    return rc;
}

uint64_t fa_frame_number(const fa_alloc_t *fa) { return atomic_load(&fa->frame_number); }
