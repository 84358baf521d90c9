/*
 * sitenames.h — a run's call-site dictionary (the definitions run.h's
 * on_site hands over) and the names rows and stacks give sites:
 *   "function file:line"   a defined site
 *   "(other sites)"        site 0, a tag's allocations at sites the frame's
 *                          rows did not name
 *   "(unknown pool site)"  line 0: calls that bypassed lib's macros
 *   "(site #N)"            a site the run never defined
 * A ';' in a name becomes ':' (it separates a row key's tag from its site,
 * and the frames of a folded stack). Zero-initialise; single-threaded.
 */
#ifndef FA_COMPARE_SITENAMES_H
#define FA_COMPARE_SITENAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "u64map.h"

#define SITENAMES_OTHER "(other sites)"
/* Definitions kept; later ones are named by number. */
#define SITENAMES_MAX 16384u
/* Room for any name. */
#define SITENAMES_NAME_MAX 600

typedef struct sitenames {
    u64map_t by_id;
    struct sitenames_def *defs;
    size_t n, cap;
} sitenames_t;

/* Defines (or redefines) site id. 0, or -1 when out of memory. */
int sitenames_define(sitenames_t *sn, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                     const char *function);
/* The name of site (0: the "other" row) into buf[cap]; returns buf. */
const char *sitenames_format(const sitenames_t *sn, uint32_t site, char *buf, size_t cap);
void sitenames_free(sitenames_t *sn);

#endif
