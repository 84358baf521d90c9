/* pairtab.h — an index of (call site, tag) pairs: which slot of the
 * caller's array holds a pair (any thread; one table per user, no lock).
 * The rollups and the API's site windows keep their figures in arrays of
 * their own and find them here. Open addressing, at most half full. */
#ifndef FA_INSIGHTD_PAIRTAB_H
#define FA_INSIGHTD_PAIRTAB_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pairtab_slot {
    uint64_t key; /* site << 16 | tag */
    uint32_t at;  /* the caller's index + 1; 0: empty */
    uint32_t pad;
} pairtab_slot_t;

typedef struct pairtab {
    pairtab_slot_t *slots;
    uint32_t mask, count;
} pairtab_t; /* zero-initialised: empty */

/* The caller's index of (site, tag), or -1. */
int64_t pairtab_get(const pairtab_t *t, uint32_t site, uint16_t tag);
/* Records (site, tag) at index (not already present). false when out of
 * memory (the table is unchanged). */
bool pairtab_put(pairtab_t *t, uint32_t site, uint16_t tag, uint32_t index);
/* Empties the table, keeping its memory. */
void pairtab_clear(pairtab_t *t);
void pairtab_free(pairtab_t *t);

#endif
