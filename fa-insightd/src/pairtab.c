/* pairtab.c — see pairtab.h. */
#include "pairtab.h"

#include <stdlib.h>
#include <string.h>

static uint64_t key_of(uint32_t site, uint16_t tag) {
    return (uint64_t)site << 16 | tag;
}

static uint32_t home(const pairtab_t *t, uint64_t key) {
    return (uint32_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & t->mask;
}

static pairtab_slot_t *slot_of(const pairtab_t *t, uint64_t key) {
    uint32_t i = home(t, key);
    while (t->slots[i].at && t->slots[i].key != key)
        i = (i + 1) & t->mask;
    return &t->slots[i];
}

int64_t pairtab_get(const pairtab_t *t, uint32_t site, uint16_t tag) {
    if (!t->slots) return -1;
    const pairtab_slot_t *s = slot_of(t, key_of(site, tag));
    return s->at ? (int64_t)s->at - 1 : -1;
}

static bool grow(pairtab_t *t) {
    uint32_t cap = t->slots ? (t->mask + 1) * 2 : 128;
    pairtab_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return false;
    pairtab_t bigger = {slots, cap - 1, t->count};
    for (uint32_t i = 0; t->slots && i <= t->mask; i++)
        if (t->slots[i].at) *slot_of(&bigger, t->slots[i].key) = t->slots[i];
    free(t->slots);
    *t = bigger;
    return true;
}

bool pairtab_put(pairtab_t *t, uint32_t site, uint16_t tag, uint32_t index) {
    if ((!t->slots || (t->count + 1) * 2 > t->mask + 1) && !grow(t)) return false;
    *slot_of(t, key_of(site, tag)) = (pairtab_slot_t){.key = key_of(site, tag), .at = index + 1};
    t->count++;
    return true;
}

void pairtab_clear(pairtab_t *t) {
    if (t->slots) memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof *t->slots);
    t->count = 0;
}

void pairtab_free(pairtab_t *t) {
    free(t->slots);
    memset(t, 0, sizeof *t);
}
