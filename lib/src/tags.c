/* The tag registry and the per-thread tag stack. Tags are never removed, so
 * an id and its path stay valid for the context's lifetime. Lookups of an
 * existing (parent, name) pair are lock-free: a hash slot is published with
 * a release store after the entry is complete. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_name(uint32_t parent, const char *name, size_t len) {
    uint32_t h = 2166136261u ^ parent;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)name[i]) * 16777619u;
    return h ^ (h >> 15);
}

int fa__tags_init(fa_alloc_t *fa) {
    fa__tags_t *tg = &fa->tags;
    uint32_t cap = fa->cfg.max_tags;
    uint32_t slots = 16;
    while (slots < cap * 2) slots <<= 1;
    tg->entries = calloc(cap, sizeof *tg->entries);
    tg->slow = calloc(cap, sizeof *tg->slow);
    tg->slots = calloc(slots, sizeof *tg->slots);
    char *root = calloc(1, 1);
    if (!tg->entries || !tg->slow || !tg->slots || !root) {
        free(tg->entries);
        free((void *)tg->slow);
        free((void *)tg->slots);
        free(root);
        return FA_ERR_NO_MEMORY;
    }
    tg->slot_mask = slots - 1;
    pthread_mutex_init(&tg->lock, NULL);
    tg->entries[0].path = root;
    tg->entries[0].name = root;
    atomic_init(&tg->count, 1);
    return FA_OK;
}

void fa__tags_fini(fa_alloc_t *fa) {
    fa__tags_t *tg = &fa->tags;
    uint32_t n = atomic_load(&tg->count);
    for (uint32_t i = 0; i < n; i++) free((void *)tg->entries[i].path);
    free(tg->entries);
    free((void *)tg->slow);
    free((void *)tg->slots);
    pthread_mutex_destroy(&tg->lock);
}

static bool valid_component(const char *name, size_t len) {
    if (len == 0 || len > FA_TAG_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || ch == '/') return false;
    }
    return true;
}

static int lookup(const fa__tags_t *tg, uint32_t parent, const char *name, size_t len, uint32_t h) {
    for (uint32_t i = h & tg->slot_mask;; i = (i + 1) & tg->slot_mask) {
        uint32_t v = atomic_load_explicit(&tg->slots[i], memory_order_acquire);
        if (v == 0) return -1;
        const fa__tag_t *e = &tg->entries[v - 1];
        if (e->parent == parent && e->name_len == len && memcmp(e->name, name, len) == 0) return (int)(v - 1);
    }
}

/* The child `name` of parent, created if asked. */
static int child(fa_alloc_t *fa, uint32_t parent, const char *name, size_t len, bool create) {
    fa__tags_t *tg = &fa->tags;
    if (!valid_component(name, len)) return FA_ERR_TAG_NAME;
    uint32_t h = hash_name(parent, name, len);
    int id = lookup(tg, parent, name, len, h);
    if (id >= 0 || !create) return id >= 0 ? id : FA_ERR_NOT_FOUND;
    pthread_mutex_lock(&tg->lock);
    id = lookup(tg, parent, name, len, h); /* another thread may have won */
    if (id < 0) {
        uint32_t n = atomic_load_explicit(&tg->count, memory_order_relaxed);
        const fa__tag_t *pe = &tg->entries[parent];
        size_t plen = strlen(pe->path);
        size_t full = plen + (plen ? 1 : 0) + len;
        char *path;
        if (n >= fa->cfg.max_tags) {
            id = FA_ERR_TOO_MANY_TAGS;
        } else if (full > FA_TAG_PATH_MAX) {
            id = FA_ERR_TAG_NAME;
        } else if (!(path = malloc(full + 1))) {
            id = FA_ERR_NO_MEMORY;
        } else {
            memcpy(path, pe->path, plen);
            if (plen) path[plen] = '/';
            memcpy(path + full - len, name, len);
            path[full] = '\0';
            fa__tag_t *e = &tg->entries[n];
            e->path = path;
            e->name = path + full - len;
            e->name_len = (uint32_t)len;
            e->parent = (uint16_t)parent;
            e->depth = (uint16_t)(pe->depth + 1);
            /* A new child is under its parent's budgets. */
            atomic_store(&tg->slow[n], atomic_load(&tg->slow[parent]));
            atomic_store_explicit(&tg->count, n + 1, memory_order_release);
            uint32_t i = h & tg->slot_mask;
            while (atomic_load_explicit(&tg->slots[i], memory_order_relaxed)) i = (i + 1) & tg->slot_mask;
            atomic_store_explicit(&tg->slots[i], n + 1, memory_order_release);
            id = (int)n;
        }
    }
    pthread_mutex_unlock(&tg->lock);
    if (id < 0)
        fa__report(fa, id, NULL, "cannot create tag '%.*s' under '%s': %s", (int)len, name,
                   tg->entries[parent].path, fa_strerror(id));
    return id;
}

/* Resolves a relative path ("a/b/c") from parent. */
static int resolve(fa_alloc_t *fa, uint32_t parent, const char *path, bool create) {
    int id = (int)parent;
    const char *s = path;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        id = child(fa, (uint32_t)id, s, len, create);
        if (id < 0 || !slash) return id;
        s = slash + 1;
    }
}

int fa_tag_find(fa_alloc_t *fa, const char *path, bool create) {
    if (!fa || !path) return FA_ERR_INVALID_ARG;
    if (path[0] == '\0') return FA_TAG_ROOT;
    int id = resolve(fa, FA_TAG_ROOT, path, create);
    if (id == FA_ERR_TAG_NAME)
        fa__report(fa, FA_ERR_TAG_NAME, NULL, "invalid tag path '%.*s'", FA_TAG_PATH_MAX, path);
    return id;
}

static int push(fa__thread_t *t, int id) {
    t->tag_stack[t->tag_depth++] = (uint16_t)t->fast.tag;
    t->fast.tag = (uint32_t)id;
    fa__thread_update_slow(t);
    return id;
}

int fa_tag_push(fa_alloc_t *fa, const char *name) {
    if (!fa || !name) return FA_ERR_INVALID_ARG;
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return FA_ERR_NO_MEMORY;
    if (t->tag_depth >= FA_TAG_STACK_MAX) {
        fa__report(fa, FA_ERR_TAG_STACK, NULL, "tag stack full (%d) pushing '%.*s'", FA_TAG_STACK_MAX,
                   FA_TAG_NAME_MAX, name);
        return FA_ERR_TAG_STACK;
    }
    int id = resolve(fa, t->fast.tag, name, true);
    if (id < 0) {
        if (id == FA_ERR_TAG_NAME)
            fa__report(fa, id, NULL, "invalid tag name '%.*s'", FA_TAG_PATH_MAX, name);
        return id;
    }
    return push(t, id);
}

int fa_tag_push_id(fa_alloc_t *fa, int tag_id) {
    if (!fa) return FA_ERR_INVALID_ARG;
    if (tag_id < 0 || (uint32_t)tag_id >= fa_tag_count(fa)) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_tag_push_id: no tag with id %d", tag_id);
        return FA_ERR_INVALID_ARG;
    }
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return FA_ERR_NO_MEMORY;
    if (t->tag_depth >= FA_TAG_STACK_MAX) {
        fa__report(fa, FA_ERR_TAG_STACK, NULL, "tag stack full (%d) pushing tag id %d", FA_TAG_STACK_MAX, tag_id);
        return FA_ERR_TAG_STACK;
    }
    return push(t, tag_id);
}

void fa_tag_pop(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return;
    if (t->tag_depth == 0) {
        fa__report(fa, FA_ERR_TAG_STACK, NULL, "fa_tag_pop with an empty tag stack");
        return;
    }
    t->fast.tag = t->tag_stack[--t->tag_depth];
    fa__thread_update_slow(t);
}

int fa_tag_current(fa_alloc_t *fa) {
    fa__thread_t *t = fa__thread_get(fa);
    return t ? (int)t->fast.tag : FA_TAG_ROOT;
}

const char *fa_tag_path(const fa_alloc_t *fa, int tag_id) {
    if (!fa || tag_id < 0 || (uint32_t)tag_id >= atomic_load_explicit(&fa->tags.count, memory_order_acquire))
        return NULL;
    return fa->tags.entries[tag_id].path;
}

uint32_t fa_tag_count(const fa_alloc_t *fa) { return atomic_load_explicit(&fa->tags.count, memory_order_acquire); }

fa__tag_guard_t fa__tag_guard_begin(fa_alloc_t *fa, const char *name) {
    return (fa__tag_guard_t){.fa = fa, .pushed = fa_tag_push(fa, name) >= 0, .done = 0};
}

void fa__tag_guard_end(fa__tag_guard_t *g) {
    if (g->pushed) fa_tag_pop(g->fa);
    g->pushed = 0;
}
