/*
 * u64map.h — a map from non-zero 64-bit keys to 32-bit indexes (open
 * addressing, linear probing, grown at half full): how summaries find a
 * (site, tag) pair's row and a site's definition, and how readers remember
 * the sites they defined. Zero-initialise; u64map_free releases it.
 * Single-threaded; O(1) expected per operation.
 */
#ifndef FA_COMPARE_U64MAP_H
#define FA_COMPARE_U64MAP_H

#include <stddef.h>
#include <stdint.h>

#define U64MAP_NONE UINT32_MAX

typedef struct u64map {
    uint64_t *keys; /* 0: an empty slot */
    uint32_t *values;
    size_t cap, n;
} u64map_t;

/* The value of key (MUST NOT be 0), or U64MAP_NONE. */
uint32_t u64map_get(const u64map_t *m, uint64_t key);
/* Sets key's value. 0, or -1 when out of memory (the map unchanged). */
int u64map_put(u64map_t *m, uint64_t key, uint32_t value);
void u64map_free(u64map_t *m);

#endif
