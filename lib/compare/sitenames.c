/* sitenames.c — see sitenames.h. */
#include "sitenames.h"

#include <fa_proto.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sitenames_def {
    uint32_t line;
    uint8_t kind;
    char *file, *function;
};

int sitenames_define(sitenames_t *sn, uint32_t id, uint32_t line, uint8_t kind, const char *file,
                     const char *function) {
    uint32_t at = u64map_get(&sn->by_id, (uint64_t)id + 1);
    if (at == U64MAP_NONE) {
        if (sn->n >= SITENAMES_MAX) return 0; /* named by number */
        if (sn->n == sn->cap) {
            size_t cap = sn->cap ? sn->cap * 2 : 64;
            struct sitenames_def *d = realloc(sn->defs, cap * sizeof *d);
            if (!d) return -1;
            sn->defs = d;
            sn->cap = cap;
        }
        if (u64map_put(&sn->by_id, (uint64_t)id + 1, (uint32_t)sn->n) != 0) return -1;
        at = (uint32_t)sn->n++;
        sn->defs[at] = (struct sitenames_def){0};
    }
    char *f = strdup(file ? file : ""), *fn = strdup(function ? function : "");
    if (!f || !fn) {
        free(f);
        free(fn);
        return -1;
    }
    struct sitenames_def *d = &sn->defs[at];
    free(d->file);
    free(d->function);
    *d = (struct sitenames_def){.line = line, .kind = kind, .file = f, .function = fn};
    return 0;
}

const char *sitenames_format(const sitenames_t *sn, uint32_t site, char *buf, size_t cap) {
    uint32_t at = site ? u64map_get(&sn->by_id, (uint64_t)site + 1) : U64MAP_NONE;
    const struct sitenames_def *d = at != U64MAP_NONE ? &sn->defs[at] : NULL;
    if (!site)
        snprintf(buf, cap, SITENAMES_OTHER);
    else if (!d)
        snprintf(buf, cap, "(site #%" PRIu32 ")", site);
    else if (!d->line)
        snprintf(buf, cap, "(unknown %s site)",
                 d->kind == FA_PROTO_KIND_POOL ? "pool" : d->kind == FA_PROTO_KIND_HEAP ? "heap" : "frame");
    else
        snprintf(buf, cap, "%.250s %.250s:%" PRIu32, d->function[0] ? d->function : "?", d->file[0] ? d->file : "?",
                 d->line);
    for (char *p = buf; *p; p++)
        if (*p == ';') *p = ':';
    return buf;
}

void sitenames_free(sitenames_t *sn) {
    for (size_t i = 0; i < sn->n; i++) {
        free(sn->defs[i].file);
        free(sn->defs[i].function);
    }
    free(sn->defs);
    u64map_free(&sn->by_id);
    *sn = (sitenames_t){0};
}
