/* sitedict.c — see sitedict.h. Open addressing on the site id. */
#include "sitedict.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    uint32_t id; /* 0: empty (site ids are never 0) */
    uint32_t pad;
    uint64_t hash;
} entry_t;

struct sitedict {
    entry_t *slots;
    uint32_t mask, count, max;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211u;
    return h;
}

static uint64_t hash_of(const site_info_t *s) {
    uint64_t h = fnv(14695981039346656037u, &s->line, sizeof s->line);
    h = fnv(h, &s->kind, sizeof s->kind);
    h = fnv(h, s->file, strlen(s->file) + 1);
    return fnv(h, s->function, strlen(s->function) + 1);
}

sitedict_t *sitedict_create(uint32_t max) {
    sitedict_t *d = calloc(1, sizeof *d);
    if (d) d->max = max;
    return d;
}

void sitedict_free(sitedict_t *d) {
    if (!d) return;
    free(d->slots);
    free(d);
}

uint32_t sitedict_count(const sitedict_t *d) {
    return d ? d->count : 0;
}

static entry_t *slot_of(const sitedict_t *d, uint32_t id) {
    uint32_t i = (uint32_t)((id * 2654435761u) & d->mask);
    while (d->slots[i].id && d->slots[i].id != id)
        i = (i + 1) & d->mask;
    return &d->slots[i];
}

static bool grow(sitedict_t *d) {
    uint32_t cap = d->slots ? (d->mask + 1) * 2 : 64;
    entry_t *old = d->slots;
    uint32_t old_cap = d->slots ? d->mask + 1 : 0;
    d->slots = calloc(cap, sizeof *d->slots);
    if (!d->slots) {
        d->slots = old;
        return false;
    }
    d->mask = cap - 1;
    for (uint32_t i = 0; i < old_cap; i++)
        if (old[i].id) *slot_of(d, old[i].id) = old[i];
    free(old);
    return true;
}

int sitedict_note(sitedict_t *d, const site_info_t *s) {
    uint64_t h = hash_of(s);
    if (d->slots) {
        entry_t *e = slot_of(d, s->id);
        if (e->id) {
            if (e->hash == h) return SITEDICT_SAME;
            e->hash = h;
            return SITEDICT_NEW;
        }
    }
    if (d->count >= d->max) return SITEDICT_FULL;
    /* At most half full. */
    if ((!d->slots || (d->count + 1) * 2 > d->mask + 1) && !grow(d)) return SITEDICT_FULL;
    entry_t *e = slot_of(d, s->id);
    *e = (entry_t){.id = s->id, .hash = h};
    d->count++;
    return SITEDICT_NEW;
}
