/* u64map.c — see u64map.h. */
#include "u64map.h"

#include <stdlib.h>

static size_t slot_of(uint64_t k, size_t cap) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

uint32_t u64map_get(const u64map_t *m, uint64_t key) {
    if (!m->cap) return U64MAP_NONE;
    for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) return m->values[i];
        if (!m->keys[i]) return U64MAP_NONE;
    }
}

int u64map_put(u64map_t *m, uint64_t key, uint32_t value) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        uint64_t *keys = calloc(cap, sizeof *keys);
        uint32_t *values = calloc(cap, sizeof *values);
        if (!keys || !values) {
            free(keys);
            free(values);
            return -1;
        }
        for (size_t k = 0; k < m->cap; k++) {
            if (!m->keys[k]) continue;
            size_t i = slot_of(m->keys[k], cap);
            while (keys[i]) i = (i + 1) & (cap - 1);
            keys[i] = m->keys[k];
            values[i] = m->values[k];
        }
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->cap = cap;
    }
    size_t i = slot_of(key, m->cap);
    while (m->keys[i] && m->keys[i] != key) i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) m->n++;
    m->keys[i] = key;
    m->values[i] = value;
    return 0;
}

void u64map_free(u64map_t *m) {
    free(m->keys);
    free(m->values);
    *m = (u64map_t){0};
}
