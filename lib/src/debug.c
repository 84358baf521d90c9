/* The debug build (FA_DEBUG): a registry of live pool and heap blocks with
 * their call site and allocation backtrace; guard bytes after every block;
 * poisoning on free; double-free, foreign-pointer and guard-overwrite
 * reports through the error hook with the call site; a leak report at
 * fa_destroy(). Other builds forward the _at calls to the plain paths. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef FA_DEBUG
#include <execinfo.h>

#define GUARD_BYTES 16
#define GUARD 0xFD
#define POISON 0xDF
#define POOL_LIVE 0xFA11A11Eu
#define POOL_FREED 0xFA11DEADu
#define BT_DEPTH 8
#define FREED_RING 4096

/* Before every debug pool block: 32 bytes, so the user block stays aligned.
 * The pool links free blocks through the first word and batches through the
 * second, so the magic lives in the third and survives the free (double
 * frees stay detectable). */
typedef struct pool_hdr {
    uint64_t free_link;
    uint64_t batch_link;
    uint32_t magic;
    uint32_t size;
    uint64_t reserved;
} pool_hdr_t;

typedef struct entry {
    void *ptr; /* user pointer; NULL empty, (void*)1 deleted */
    size_t size;
    fa_kind kind;
    uint16_t tag;
    const char *file;
    int line;
    int depth;
    void *frames[BT_DEPTH];
} entry_t;

typedef struct fa__debug {
    pthread_mutex_t lock;
    entry_t *table;
    size_t cap, used, live;
    void *freed[FREED_RING]; /* recently freed heap pointers */
    uint32_t freed_next;
} fa__debug_t;

#define DELETED ((void *)1)

static size_t hash_ptr(const void *p, size_t cap) {
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 21;
    h *= 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 20) & (cap - 1);
}

static entry_t *find(fa__debug_t *d, const void *p) {
    for (size_t i = hash_ptr(p, d->cap), n = 0; n < d->cap; i = (i + 1) & (d->cap - 1), n++) {
        if (d->table[i].ptr == NULL) return NULL;
        if (d->table[i].ptr == p) return &d->table[i];
    }
    return NULL;
}

static bool grow(fa__debug_t *d) {
    size_t cap = d->cap ? d->cap * 2 : 1024;
    entry_t *t = calloc(cap, sizeof *t), *old = d->table;
    if (!t) return false;
    for (size_t i = 0; i < d->cap; i++) {
        if (old[i].ptr == NULL || old[i].ptr == DELETED) continue;
        size_t j = hash_ptr(old[i].ptr, cap);
        while (t[j].ptr) j = (j + 1) & (cap - 1);
        t[j] = old[i];
    }
    free(old);
    d->table = t;
    d->cap = cap;
    d->used = d->live;
    return true;
}

static void insert(fa__debug_t *d, void *p, size_t size, fa_kind kind, uint16_t tag, const char *file, int line) {
    void *frames[BT_DEPTH + 2];
    int depth = backtrace(frames, BT_DEPTH + 2) - 2; /* skip insert and the _at call */
    pthread_mutex_lock(&d->lock);
    if ((d->used + 1) * 2 > d->cap && !grow(d)) {
        pthread_mutex_unlock(&d->lock);
        return;
    }
    size_t i = hash_ptr(p, d->cap);
    while (d->table[i].ptr && d->table[i].ptr != DELETED) i = (i + 1) & (d->cap - 1);
    if (d->table[i].ptr == NULL) d->used++;
    entry_t *e = &d->table[i];
    *e = (entry_t){.ptr = p, .size = size, .kind = kind, .tag = tag, .file = file, .line = line};
    e->depth = depth < 0 ? 0 : depth;
    memcpy(e->frames, frames + 2, (size_t)e->depth * sizeof(void *));
    d->live++;
    pthread_mutex_unlock(&d->lock);
}

/* Removes p; false when it is not a live block. */
static bool remove_live(fa__debug_t *d, void *p, size_t *size) {
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, p);
    if (e) {
        *size = e->size;
        e->ptr = DELETED;
        d->live--;
        if (e->kind == FA_KIND_HEAP) {
            d->freed[d->freed_next] = p;
            d->freed_next = (d->freed_next + 1) % FREED_RING;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return e != NULL;
}

static bool recently_freed(fa__debug_t *d, const void *p) {
    bool hit = false;
    pthread_mutex_lock(&d->lock);
    for (uint32_t i = 0; i < FREED_RING && !hit; i++) hit = d->freed[i] == p;
    pthread_mutex_unlock(&d->lock);
    return hit;
}

static void report_at(fa_alloc_t *fa, int code, const void *p, const char *file, int line, const char *msg) {
    fa__set_last_error(code);
    if (!fa->cfg.error_cb) {
        fprintf(stderr, "framealloc: %s: %s (%s:%d)\n", fa_err_name(code), msg, file ? file : "?", line);
        return;
    }
    fa_error_event_t ev = {.code = code, .message = msg, .file = file, .line = line, .ptr = p};
    fa->cfg.error_cb(&ev, fa->cfg.error_user);
}

static bool guard_intact(const unsigned char *g) {
    for (int i = 0; i < GUARD_BYTES; i++)
        if (g[i] != GUARD) return false;
    return true;
}

/* A block leaving the registry: its guard is checked, its bytes poisoned. */
static void check_guard_and_poison(fa_alloc_t *fa, void *p, size_t size, const char *file, int line) {
    if (!guard_intact((unsigned char *)p + size)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%p: bytes after the %zu-byte block were overwritten", p, size);
        report_at(fa, FA_ERR_CORRUPTION, p, file, line, msg);
    }
    memset(p, POISON, size);
}

int fa__debug_init(fa_alloc_t *fa) {
    fa__debug_t *d = calloc(1, sizeof *d);
    if (!d || !(d->table = calloc(1024, sizeof *d->table))) {
        free(d);
        return FA_ERR_NO_MEMORY;
    }
    d->cap = 1024;
    pthread_mutex_init(&d->lock, NULL);
    fa->debug = d;
    return FA_OK;
}

void fa__debug_fini(fa_alloc_t *fa) {
    fa__debug_t *d = fa->debug;
    if (!d) return;
    for (size_t i = 0; i < d->cap; i++) {
        entry_t *e = &d->table[i];
        if (!e->ptr || e->ptr == DELETED) continue;
        char msg[1024];
        int n = snprintf(msg, sizeof msg, "leak: %zu bytes of %s, tag '%s', allocated at %s:%d", e->size,
                         e->kind == FA_KIND_POOL ? "pool" : "heap", fa_tag_path(fa, e->tag),
                         e->file ? e->file : "?", e->line);
        char **names = backtrace_symbols(e->frames, e->depth);
        for (int k = 0; names && k < e->depth && n > 0 && (size_t)n < sizeof msg; k++)
            n += snprintf(msg + n, sizeof msg - (size_t)n, "\n    #%d %s", k, names[k]);
        free(names);
        report_at(fa, FA_ERR_LEAK, e->ptr, e->file, e->line, msg);
    }
    pthread_mutex_destroy(&d->lock);
    free(d->table);
    free(d);
    fa->debug = NULL;
}

size_t fa_debug_live_blocks(fa_alloc_t *fa) {
    fa__debug_t *d = fa->debug;
    pthread_mutex_lock(&d->lock);
    size_t n = d->live;
    pthread_mutex_unlock(&d->lock);
    return n;
}

static void *heap_alloc_at(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align, const char *file,
                           int line, fa_site_t *site) {
    if (size > SIZE_MAX - GUARD_BYTES) {
        report_at(fa, FA_ERR_OVERFLOW, NULL, file, line, "heap alloc: size overflows");
        return NULL;
    }
    unsigned char *p = fa__heap_alloc_raw(fa, t, size + GUARD_BYTES, align, site);
    if (!p) return NULL;
    memset(p + size, GUARD, GUARD_BYTES);
    insert(fa->debug, p, size, FA_KIND_HEAP, (uint16_t)t->fast.tag, file, line);
    return p;
}

void *fa__debug_heap_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align, const char *file,
                           int line, fa_site_t *site) {
    return heap_alloc_at(fa, t, size, align, file, line, site);
}

void *fa_heap_alloc_at(fa_alloc_t *fa, size_t size, size_t align, const char *file, int line) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    fa__op_begin(t);
    void *p = heap_alloc_at(fa, t, size, align, file, line, NULL);
    fa__op_end(t);
    return p;
}

static void pool_free_at(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *file, int line);

static void heap_free_at(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *file, int line) {
    char msg[160];
    size_t size;
    if (fa__arena_contains(t, p)) {
        snprintf(msg, sizeof msg, "%p is frame memory, not a heap block", p);
        report_at(fa, FA_ERR_CROSS_THREAD, p, file, line, msg);
        return;
    }
    if (fa__pool_owns(fa, p)) {
        pool_free_at(fa, t, p, file, line);
        return;
    }
    if (!remove_live(fa->debug, p, &size)) {
        int code = recently_freed(fa->debug, p) ? FA_ERR_DOUBLE_FREE : FA_ERR_FOREIGN_PTR;
        snprintf(msg, sizeof msg, "%p %s", p,
                 code == FA_ERR_DOUBLE_FREE ? "was already freed" : "is not a block of this allocator");
        report_at(fa, code, p, file, line, msg);
        return;
    }
    check_guard_and_poison(fa, p, size, file, line);
    fa__heap_free_checked(fa, t, p, "fa_heap_free");
}

void fa_heap_free_at(fa_alloc_t *fa, void *p, const char *file, int line) {
    if (!p) return;
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    fa__op_begin(t);
    heap_free_at(fa, t, p, file, line);
    fa__op_end(t);
}

void *fa__debug_pool_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, const char *file, int line,
                           fa_site_t *site) {
    void *result;
    if (size > FA_POOL_MAX_SIZE - sizeof(pool_hdr_t) - GUARD_BYTES) {
        result = heap_alloc_at(fa, t, size, 16, file, line, site);
    } else {
        pool_hdr_t *h = fa__pool_alloc_raw(fa, t, size + sizeof(pool_hdr_t) + GUARD_BYTES, site);
        result = h;
        if (h) {
            h->magic = POOL_LIVE;
            h->size = (uint32_t)size;
            unsigned char *p = (unsigned char *)(h + 1);
            memset(p + size, GUARD, GUARD_BYTES);
            insert(fa->debug, p, size, FA_KIND_POOL, (uint16_t)t->fast.tag, file, line);
            result = p;
        }
    }
    return result;
}

void *fa_pool_alloc_at(fa_alloc_t *fa, size_t size, const char *file, int line) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    fa__op_begin(t);
    void *p = fa__debug_pool_alloc(fa, t, size, file, line, NULL);
    fa__op_end(t);
    return p;
}

static void pool_free_at(fa_alloc_t *fa, fa__thread_t *t, void *p, const char *file, int line) {
    char msg[160];
    if (!fa__pool_owns(fa, p)) {
        heap_free_at(fa, t, p, file, line);
        return;
    }
    pool_hdr_t *h = (pool_hdr_t *)p - 1;
    /* The header is pool memory: reading it is safe even for a bad pointer
     * (at worst it is another block's bytes). */
    if (!fa__pool_owns(fa, h)) {
        snprintf(msg, sizeof msg, "%p is not the start of a pool block", p);
        report_at(fa, FA_ERR_FOREIGN_PTR, p, file, line, msg);
        return;
    }
    if (h->magic == POOL_FREED) {
        snprintf(msg, sizeof msg, "%p was already freed", p);
        report_at(fa, FA_ERR_DOUBLE_FREE, p, file, line, msg);
        return;
    }
    size_t size;
    if (h->magic != POOL_LIVE || !remove_live(fa->debug, p, &size)) {
        snprintf(msg, sizeof msg, "%p is not the start of a pool block", p);
        report_at(fa, FA_ERR_FOREIGN_PTR, p, file, line, msg);
        return;
    }
    check_guard_and_poison(fa, p, size, file, line);
    h->magic = POOL_FREED;
    fa__pool_free_raw(fa, t, h, "fa_pool_free");
}

void fa_pool_free_at(fa_alloc_t *fa, void *p, const char *file, int line) {
    if (!p) return;
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    fa__op_begin(t);
    pool_free_at(fa, t, p, file, line);
    fa__op_end(t);
}

void *fa__debug_block_of(fa_alloc_t *fa, void *p) {
    return fa__pool_owns(fa, p) ? (pool_hdr_t *)p - 1 : p;
}

size_t fa__debug_block_size(fa_alloc_t *fa, const void *p) {
    fa__debug_t *d = fa->debug;
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, p);
    size_t size = e ? e->size : 0;
    pthread_mutex_unlock(&d->lock);
    return size;
}

#else /* !FA_DEBUG: the _at calls are the plain ones */

void *fa__debug_pool_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, const char *file, int line,
                           fa_site_t *site) {
    (void)file, (void)line;
    return fa__pool_alloc_raw(fa, t, size, site);
}
void *fa__debug_heap_alloc(fa_alloc_t *fa, fa__thread_t *t, size_t size, size_t align, const char *file,
                           int line, fa_site_t *site) {
    (void)file, (void)line;
    return fa__heap_alloc_raw(fa, t, size, align, site);
}

void *fa__debug_block_of(fa_alloc_t *fa, void *p) {
    (void)fa;
    return p;
}

int fa__debug_init(fa_alloc_t *fa) {
    (void)fa;
    return FA_OK;
}
void fa__debug_fini(fa_alloc_t *fa) { (void)fa; }
size_t fa_debug_live_blocks(fa_alloc_t *fa) {
    (void)fa;
    return 0;
}
void *fa_pool_alloc_at(fa_alloc_t *fa, size_t size, const char *file, int line) {
    (void)file, (void)line;
    return fa_pool_alloc(fa, size);
}
void fa_pool_free_at(fa_alloc_t *fa, void *p, const char *file, int line) {
    (void)file, (void)line;
    fa_pool_free(fa, p);
}
void *fa_heap_alloc_at(fa_alloc_t *fa, size_t size, size_t align, const char *file, int line) {
    (void)file, (void)line;
    return fa_heap_alloc(fa, size, align);
}
void fa_heap_free_at(fa_alloc_t *fa, void *p, const char *file, int line) {
    (void)file, (void)line;
    fa_heap_free(fa, p);
}

#endif
