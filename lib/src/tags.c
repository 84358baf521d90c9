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
    fa->head.tag_flags = (const uint8_t *)tg->slow;
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

/* Creates the child `name` of parent. Caller holds the registry lock, has
 * checked the name and that there is room, and knows it does not exist. */
static uint32_t create_child(fa__tags_t *tg, uint32_t parent, const char *name, size_t len, uint32_t h, char *path) {
    uint32_t n = atomic_load_explicit(&tg->count, memory_order_relaxed);
    const fa__tag_t *pe = &tg->entries[parent];
    size_t plen = strlen(pe->path), full = plen + (plen ? 1 : 0) + len;
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
    return n;
}

/* Follows the existing components of path from parent: returns the deepest
 * tag found and sets *rest to the first missing component (NULL when all
 * exist). */
static uint32_t walk(const fa__tags_t *tg, uint32_t parent, const char *path, const char **rest) {
    uint32_t id = parent;
    for (const char *s = path;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        int child = lookup(tg, id, s, len, hash_name(id, s, len));
        if (child < 0) {
            *rest = s;
            return id;
        }
        id = (uint32_t)child;
        if (!slash) {
            *rest = NULL;
            return id;
        }
        s = slash + 1;
    }
}

/* Resolves a relative path ("a/b/c") from parent. The whole path is checked
 * first (every component, the full length, room for every missing
 * component), so a path that is refused creates no tag. Returns the id or
 * a negative fa_err (not reported). */
static int resolve(fa_alloc_t *fa, uint32_t parent, const char *path, bool create) {
    fa__tags_t *tg = &fa->tags;
    size_t total = strlen(path);
    for (const char *s = path;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (!valid_component(s, len)) return FA_ERR_TAG_NAME;
        if (!slash) break;
        s = slash + 1;
    }
    size_t plen = strlen(tg->entries[parent].path);
    if (plen + (plen ? 1 : 0) + total > FA_TAG_PATH_MAX) return FA_ERR_TAG_NAME;
    const char *rest;
    uint32_t id = walk(tg, parent, path, &rest);
    if (!rest) return (int)id;
    if (!create) return FA_ERR_NOT_FOUND;
    pthread_mutex_lock(&tg->lock);
    id = walk(tg, parent, path, &rest); /* another thread may have created some */
    int rc = (int)id;
    if (rest) {
        size_t missing = 1;
        for (const char *s = rest; (s = strchr(s, '/')) != NULL; s++) missing++;
        /* Every new path is allocated before any tag is created. */
        char *paths[FA_TAG_PATH_MAX / 2 + 1];
        size_t made = 0, len = strlen(tg->entries[id].path);
        if (atomic_load_explicit(&tg->count, memory_order_relaxed) + missing > fa->cfg.max_tags) {
            rc = FA_ERR_TOO_MANY_TAGS;
        } else {
            for (const char *s = rest; made < missing; made++) {
                const char *slash = strchr(s, '/');
                len += (len ? 1 : 0) + (slash ? (size_t)(slash - s) : strlen(s));
                if (!(paths[made] = malloc(len + 1))) break;
                s = slash ? slash + 1 : s;
            }
            if (made < missing) {
                while (made) free(paths[--made]);
                rc = FA_ERR_NO_MEMORY;
            }
        }
        if (rc >= 0) {
            for (size_t k = 0; k < missing; k++) {
                const char *slash = strchr(rest, '/');
                size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
                id = create_child(tg, id, rest, len, hash_name(id, rest, len), paths[k]);
                rest = slash ? slash + 1 : NULL;
            }
            rc = (int)id;
        }
    }
    pthread_mutex_unlock(&tg->lock);
    return rc;
}

static void report_path(fa_alloc_t *fa, int rc, const char *what, const char *path) {
    fa__report(fa, rc, NULL, "%s '%.*s': %s", what, FA_TAG_PATH_MAX, path, fa_strerror(rc));
}

int fa_tag_find(fa_alloc_t *fa, const char *path, bool create) {
    if (!fa || !path) return FA_ERR_INVALID_ARG;
    if (path[0] == '\0') return FA_TAG_ROOT;
    int id = resolve(fa, FA_TAG_ROOT, path, create);
    if (id < 0 && id != FA_ERR_NOT_FOUND) report_path(fa, id, "tag path", path);
    return id;
}

static int push(fa__thread_t *t, int id) {
    fa__stats_compact(t);
    t->tag_stack[t->tag_depth++] = (uint16_t)t->fast.tag;
    fa__stats_set_tag(t, (uint32_t)id);
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
        report_path(fa, id, "tag", name);
        return id;
    }
    return push(t, id);
}

bool fa__tag_id_valid(fa_alloc_t *fa, int tag_id, const char *who) {
    if (tag_id >= 0 && (uint32_t)tag_id < fa_tag_count(fa)) return true;
    fa__report(fa, FA_ERR_INVALID_ARG, NULL, "%s: no tag with id %d", who, tag_id);
    return false;
}

fa__thread_t *fa__tag_switch(fa_alloc_t *fa, int tag_id, const char *who, uint32_t *saved) {
    if (!fa || !fa__tag_id_valid(fa, tag_id, who)) return NULL;
    fa__thread_t *t = fa__thread_get(fa);
    if (!t) return NULL;
    *saved = t->fast.tag;
    if (*saved != (uint32_t)tag_id) fa__stats_set_tag(t, (uint32_t)tag_id);
    return t;
}

void fa__tag_restore(fa__thread_t *t, uint32_t saved) {
    if (t->fast.tag != saved) fa__stats_set_tag(t, saved);
}

int fa_tag_push_id(fa_alloc_t *fa, int tag_id) {
    if (!fa) return FA_ERR_INVALID_ARG;
    if (!fa__tag_id_valid(fa, tag_id, "fa_tag_push_id")) return FA_ERR_INVALID_ARG;
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
    fa__stats_set_tag(t, t->tag_stack[--t->tag_depth]);
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
