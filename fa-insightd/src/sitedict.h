/* sitedict.h — which call sites a session has defined, and as what (loop
 * thread; one per session). Only a hash of each definition is kept: the
 * text lives in the store (sites table), so that a thousand sessions with
 * thousands of sites cost kilobytes, not megabytes. It tells a definition
 * that changed (or is new) from one repeated after a reconnection, which
 * needs no write. */
#ifndef FA_INSIGHTD_SITEDICT_H
#define FA_INSIGHTD_SITEDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "view.h"

typedef struct sitedict sitedict_t;

/* NULL when out of memory. At most max definitions. */
sitedict_t *sitedict_create(uint32_t max);
void sitedict_free(sitedict_t *d);

enum { SITEDICT_SAME = 0, SITEDICT_NEW = 1, SITEDICT_FULL = -1 };
/* Notes s: SITEDICT_NEW (new or changed: write it), SITEDICT_SAME (already
 * known as it is), or SITEDICT_FULL (max reached, or out of memory). */
int sitedict_note(sitedict_t *d, const site_info_t *s);
uint32_t sitedict_count(const sitedict_t *d);

#endif
