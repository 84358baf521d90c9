/* Frame containers (fa_frame_vec.h): a growable vector and an open-addressing
 * hash map whose storage is frame memory of the calling thread.
 *
 * A container records the thread whose arena holds its storage and that
 * thread's reset count (frames_ended) when the storage was taken; storage is
 * current while both still match. Every allocation goes through
 * fa_frame_alloc(), so tags, budgets and statistics see it like any other
 * frame allocation. */
#include "internal.h"

#include "fa_frame_vec.h"

#include <string.h>

#define VEC_MIN_CAP 8
#define MAP_MIN_CAP 16

static uint64_t epoch_of(const fa__thread_t *t) {
    return FA__LOAD(t->frames_ended);
}

/* FA_OK when storage recorded as (owner, epoch) is usable by the calling
 * thread t; reports and returns the error otherwise. A NULL owner means no
 * storage was taken yet. */
static int check_current(fa_alloc_t *fa, const fa__thread_t *t, const void *owner, uint64_t epoch,
                         const char *who) {
    if (!owner) return FA_OK;
    if (owner != (const void *)t) {
        fa__report(fa, FA_ERR_CROSS_THREAD, NULL, "%s: the container belongs to another thread's arena", who);
        return FA_ERR_CROSS_THREAD;
    }
    if (epoch != epoch_of(t)) {
        fa__report(fa, FA_ERR_STATE, NULL, "%s: the container's storage was released by fa_end_frame", who);
        return FA_ERR_STATE;
    }
    return FA_OK;
}

/* align 0 means the natural alignment of an element of `size` bytes: its
 * largest power-of-two divisor, at most alignof(max_align_t), so that the
 * stride stays the size given. */
static bool normalise_align(size_t *align, size_t size) {
    if (*align == 0) {
        size_t natural = size ? size & (~size + 1) : 1;
        *align = natural < _Alignof(max_align_t) ? natural : _Alignof(max_align_t);
    }
    return (*align & (*align - 1)) == 0 && *align <= 4096;
}

/* size rounded up to align (a power of two); false on overflow. */
static bool round_up(size_t size, size_t align, size_t *out) {
    if (size > SIZE_MAX - (align - 1)) return false;
    *out = (size + align - 1) & ~(align - 1);
    return true;
}

/* ---- vector ---------------------------------------------------------------- */

int fa_frame_vec_init(fa_frame_vec_t *v, fa_alloc_t *fa, size_t elem_size, size_t align) {
    return fa_frame_vec_init_site(v, fa, elem_size, align, NULL);
}

int fa_frame_vec_init_site(fa_frame_vec_t *v, fa_alloc_t *fa, size_t elem_size, size_t align, fa_site_t *site) {
    if (!v || !fa || elem_size == 0) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL,
                   "fa_frame_vec_init: NULL vector or context, or element size 0");
        return FA_ERR_INVALID_ARG;
    }
    if (!normalise_align(&align, elem_size)) {
        fa__report(fa, FA_ERR_BAD_ALIGN, NULL,
                   "fa_frame_vec_init: alignment %zu is not a power of two up to 4096", align);
        return FA_ERR_BAD_ALIGN;
    }
    size_t stride;
    if (!round_up(elem_size, align, &stride)) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "fa_frame_vec_init: element size %zu overflows", elem_size);
        return FA_ERR_OVERFLOW;
    }
    *v = (fa_frame_vec_t){.elem_size = stride, .align = align, .fa = fa, .site_ = site};
    return FA_OK;
}

/* Grows v to hold at least need elements: to exactly need when exact, else
 * to max(need, 2 x cap, VEC_MIN_CAP). In place when the storage ends at the
 * arena's bump pointer and the chunk has room, else into a new block. */
static int vec_grow(fa_frame_vec_t *v, fa__thread_t *t, size_t need, bool exact) {
    size_t new_cap = need;
    if (!exact) {
        if (v->cap <= SIZE_MAX / 2 && v->cap * 2 > new_cap) new_cap = v->cap * 2;
        if (new_cap < VEC_MIN_CAP) new_cap = VEC_MIN_CAP;
    }
    size_t bytes;
    if (__builtin_mul_overflow(new_cap, v->elem_size, &bytes)) {
        new_cap = need; /* the geometric step overflowed: try the minimum */
        if (__builtin_mul_overflow(new_cap, v->elem_size, &bytes)) {
            fa__report(v->fa, FA_ERR_OVERFLOW, NULL, "fa_frame_vec: %zu elements of %zu bytes overflow", need,
                       v->elem_size);
            return FA_ERR_OVERFLOW;
        }
    }
    size_t old_bytes = v->cap * v->elem_size;
    if (v->data && (char *)v->data + old_bytes == t->fast.cur &&
        bytes - old_bytes <= (size_t)(t->fast.end - t->fast.cur)) {
        /* The bump pointer is at the vector's end: an alignment-1 allocation
         * of the missing bytes returns exactly that address. */
        char *more = fa_frame_alloc_site(v->fa, bytes - old_bytes, 1, v->site_);
        if (!more) return fa_last_error();
        if (more == (char *)v->data + old_bytes) {
            v->cap = new_cap;
            return FA_OK;
        }
    }
    char *d = fa_frame_alloc_site(v->fa, bytes, v->align, v->site_);
    if (!d) return fa_last_error();
    if (v->len) memcpy(d, v->data, v->len * v->elem_size);
    v->data = d;
    v->cap = new_cap;
    v->owner_ = t;
    v->epoch_ = epoch_of(t);
    return FA_OK;
}

int fa_frame_vec_reserve(fa_frame_vec_t *v, size_t cap) {
    if (!v || !v->fa) return FA_ERR_INVALID_ARG;
    fa__thread_t *t = fa__thread_get(v->fa);
    if (!t) return FA_ERR_NO_MEMORY;
    int rc = check_current(v->fa, t, v->owner_, v->epoch_, "fa_frame_vec_reserve");
    if (rc != FA_OK || cap <= v->cap) return rc;
    return vec_grow(v, t, cap, true);
}

void *fa_frame_vec_push_n(fa_frame_vec_t *v, size_t n) {
    if (!v || !v->fa) {
        fa__set_last_error(FA_ERR_INVALID_ARG);
        return NULL;
    }
    fa__thread_t *t = fa__thread_get(v->fa);
    if (!t || check_current(v->fa, t, v->owner_, v->epoch_, "fa_frame_vec_push") != FA_OK) return NULL;
    if (n > v->cap - v->len) {
        if (n > SIZE_MAX - v->len) {
            fa__report(v->fa, FA_ERR_OVERFLOW, NULL, "fa_frame_vec_push_n: %zu + %zu elements overflow",
                       v->len, n);
            return NULL;
        }
        if (vec_grow(v, t, v->len + n, false) != FA_OK) return NULL;
    }
    void *p = (char *)v->data + v->len * v->elem_size;
    v->len += n;
    return p;
}

void *fa__frame_vec_push_slow(fa_frame_vec_t *v) {
    return fa_frame_vec_push_n(v, 1);
}

void *fa__frame_vec_push_checked(fa_frame_vec_t *v, size_t size) {
    if (v && size != v->elem_size) {
        fa__report(v->fa, FA_ERR_INVALID_ARG, NULL, "FA_FRAME_VEC_PUSH: type of %zu bytes, vector of %zu",
                   size, v->elem_size);
        return NULL;
    }
    return fa_frame_vec_push(v);
}

bool fa_frame_vec_is_current(const fa_frame_vec_t *v) {
    if (!v || !v->fa) return false;
    if (!v->owner_) return true;
    fa__thread_t *t = fa__thread_get(v->fa);
    return t && v->owner_ == (const void *)t && v->epoch_ == epoch_of(t);
}

/* ---- map ------------------------------------------------------------------- */

/* The splitmix64 finaliser: consecutive ids spread over the table. */
static uint64_t mix(uint64_t k) {
    k ^= k >> 30;
    k *= UINT64_C(0xbf58476d1ce4e5b9);
    k ^= k >> 27;
    k *= UINT64_C(0x94d049bb133111eb);
    return k ^ (k >> 31);
}

/* Takes storage for cap slots in one block: keys, then values, then used
 * flags (zeroed). Leaves m untouched on failure. */
static int map_take(fa_frame_map_t *m, fa__thread_t *t, size_t cap) {
    size_t key_bytes, values_at, value_bytes, used_at, total;
    size_t align = m->value_align > 8 ? m->value_align : 8;
    if (__builtin_mul_overflow(cap, sizeof(uint64_t), &key_bytes) ||
        !round_up(key_bytes, align, &values_at) || __builtin_mul_overflow(cap, m->value_size, &value_bytes) ||
        __builtin_add_overflow(values_at, value_bytes, &used_at) ||
        __builtin_add_overflow(used_at, cap, &total)) {
        fa__report(m->fa, FA_ERR_OVERFLOW, NULL, "fa_frame_map: %zu slots of %zu bytes overflow", cap,
                   m->value_size);
        return FA_ERR_OVERFLOW;
    }
    char *block = fa_frame_alloc_site(m->fa, total, align, m->site_);
    if (!block) return fa_last_error();
    m->keys = (uint64_t *)(void *)block;
    m->values = block + values_at;
    m->used = (uint8_t *)block + used_at;
    memset(m->used, 0, cap);
    m->cap = cap;
    m->owner_ = t;
    m->epoch_ = epoch_of(t);
    return FA_OK;
}

/* Slot index of key, or cap + the first empty slot's index when absent. */
static size_t map_find(const fa_frame_map_t *m, uint64_t key) {
    size_t mask = m->cap - 1;
    for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (!m->used[i]) return m->cap + i;
        if (m->keys[i] == key) return i;
    }
}

static int map_rehash(fa_frame_map_t *m, fa__thread_t *t, size_t cap) {
    fa_frame_map_t old = *m;
    int rc = map_take(m, t, cap);
    if (rc != FA_OK) return rc;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.used[i]) continue;
        size_t s = map_find(m, old.keys[i]) - m->cap;
        m->used[s] = 1;
        m->keys[s] = old.keys[i];
        memcpy(m->values + s * m->value_size, old.values + i * m->value_size, m->value_size);
    }
    return FA_OK;
}

/* Slots for `expected` keys at most 3/4 full: a power of two >= 16. */
static bool map_cap_for(size_t expected, size_t *cap) {
    if (expected > SIZE_MAX / 4) return false;
    size_t want = expected / 3 * 4 + 4, c = MAP_MIN_CAP;
    while (c < want) {
        if (c > SIZE_MAX / 2) return false;
        c *= 2;
    }
    *cap = c;
    return true;
}

int fa_frame_map_init(fa_frame_map_t *m, fa_alloc_t *fa, size_t value_size, size_t value_align,
                      size_t expected) {
    return fa_frame_map_init_site(m, fa, value_size, value_align, expected, NULL);
}

int fa_frame_map_init_site(fa_frame_map_t *m, fa_alloc_t *fa, size_t value_size, size_t value_align,
                           size_t expected, fa_site_t *site) {
    if (!m || !fa) {
        fa__report(fa, FA_ERR_INVALID_ARG, NULL, "fa_frame_map_init: NULL map or context");
        return FA_ERR_INVALID_ARG;
    }
    if (!normalise_align(&value_align, value_size)) {
        fa__report(fa, FA_ERR_BAD_ALIGN, NULL,
                   "fa_frame_map_init: alignment %zu is not a power of two up to 4096", value_align);
        return FA_ERR_BAD_ALIGN;
    }
    fa_frame_map_t n = {.value_align = value_align, .fa = fa, .site_ = site};
    size_t cap = 0;
    if (!round_up(value_size, value_align, &n.value_size) || (expected && !map_cap_for(expected, &cap))) {
        fa__report(fa, FA_ERR_OVERFLOW, NULL, "fa_frame_map_init: %zu keys of %zu bytes overflow", expected,
                   value_size);
        return FA_ERR_OVERFLOW;
    }
    if (cap) {
        fa__thread_t *t = fa__thread_get(fa);
        if (!t) return FA_ERR_NO_MEMORY;
        int rc = map_take(&n, t, cap);
        if (rc != FA_OK) return rc;
    }
    *m = n;
    return FA_OK;
}

/* The calling thread when it may use m's storage, else NULL (reported). */
static fa__thread_t *map_user(const fa_frame_map_t *m, const char *who) {
    if (!m || !m->fa) {
        fa__set_last_error(FA_ERR_INVALID_ARG);
        return NULL;
    }
    fa__thread_t *t = fa__thread_get(m->fa);
    if (!t || check_current(m->fa, t, m->owner_, m->epoch_, who) != FA_OK) return NULL;
    return t;
}

void *fa_frame_map_get(const fa_frame_map_t *m, uint64_t key) {
    if (!map_user(m, "fa_frame_map_get") || m->cap == 0) return NULL;
    size_t s = map_find(m, key);
    return s < m->cap ? m->values + s * m->value_size : NULL;
}

void *fa_frame_map_put(fa_frame_map_t *m, uint64_t key, bool *inserted) {
    fa__thread_t *t = map_user(m, "fa_frame_map_put");
    if (!t) return NULL;
    size_t s = m->cap ? map_find(m, key) : 0;
    if (m->cap && s < m->cap) {
        if (inserted) *inserted = false;
        return m->values + s * m->value_size;
    }
    /* Insert, keeping the table at most 3/4 full. */
    if (m->cap == 0 || (m->count + 1) > m->cap / 4 * 3) {
        size_t cap;
        if (!map_cap_for(m->count + 1 > m->cap ? m->count + 1 : m->cap, &cap)) {
            fa__report(m->fa, FA_ERR_OVERFLOW, NULL, "fa_frame_map_put: %zu keys overflow", m->count + 1);
            return NULL;
        }
        if (map_rehash(m, t, cap) != FA_OK) return NULL;
        s = map_find(m, key);
    }
    s -= m->cap;
    m->used[s] = 1;
    m->keys[s] = key;
    memset(m->values + s * m->value_size, 0, m->value_size);
    m->count++;
    if (inserted) *inserted = true;
    return m->values + s * m->value_size;
}

bool fa_frame_map_remove(fa_frame_map_t *m, uint64_t key) {
    if (!map_user(m, "fa_frame_map_remove") || m->cap == 0) return false;
    size_t i = map_find(m, key);
    if (i >= m->cap) return false;
    /* Backward-shift deletion: later keys of the probe run move into the
     * hole when their home slot is not cyclically in (hole, their slot]. */
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->used[j]; j = (j + 1) & mask) {
        size_t home = mix(m->keys[j]) & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        m->keys[i] = m->keys[j];
        memcpy(m->values + i * m->value_size, m->values + j * m->value_size, m->value_size);
        i = j;
    }
    m->used[i] = 0;
    m->count--;
    return true;
}

bool fa_frame_map_next(const fa_frame_map_t *m, size_t *cursor, uint64_t *key, void **value) {
    if (!cursor || !map_user(m, "fa_frame_map_next")) return false;
    for (size_t i = *cursor; i < m->cap; i++) {
        if (!m->used[i]) continue;
        if (key) *key = m->keys[i];
        if (value) *value = m->values + i * m->value_size;
        *cursor = i + 1;
        return true;
    }
    *cursor = m->cap;
    return false;
}

static bool typed_ok(const fa_frame_map_t *m, size_t size, const char *who) {
    if (m && size != m->value_size) {
        fa__report(m->fa, FA_ERR_INVALID_ARG, NULL, "%s: type of %zu bytes, map values of %zu", who, size,
                   m->value_size);
        return false;
    }
    return true;
}

void *fa__frame_map_get_typed(const fa_frame_map_t *m, uint64_t key, size_t size) {
    return typed_ok(m, size, "FA_FRAME_MAP_GET") ? fa_frame_map_get(m, key) : NULL;
}

void *fa__frame_map_put_typed(fa_frame_map_t *m, uint64_t key, bool *inserted, size_t size) {
    return typed_ok(m, size, "FA_FRAME_MAP_PUT") ? fa_frame_map_put(m, key, inserted) : NULL;
}
