/*
 * fa_cjson.h — cJSON's memory counted by framealloc under a tag.
 *
 * Installs cJSON's hooks (cJSON_InitHooks) so that every node, string and
 * printed buffer cJSON allocates is a framealloc heap block under one tag,
 * e.g. "config/json". Free printed strings with cJSON_free().
 *
 *     fa_cjson_install(fa, "config/json");
 *     cJSON *doc = cJSON_Parse(text);
 *     char *out = cJSON_PrintUnformatted(doc);
 *     cJSON_free(out);
 *     cJSON_Delete(doc);
 *     fa_cjson_uninstall();                        // before fa_destroy(fa)
 *
 * PROCESS-WIDE: cJSON's hooks belong to the process and carry no user
 * pointer, so one context at a time feeds them. THREADS: cJSON calls the
 * hooks from whatever thread parses or prints; blocks are attributed to the
 * tag whatever the calling thread's tag stack says. cJSON uses its hooks'
 * malloc + copy where it would otherwise realloc. COST: one malloc and a
 * 32-byte header per block.
 *
 * pkg-config: framealloc-cjson (links libcjson).
 */
#ifndef FA_CJSON_H
#define FA_CJSON_H

#include <framealloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Routes cJSON's allocations to fa under tag_path (created if needed). MUST
 * be called while no cJSON object or printed string from the previous
 * allocator is alive. FA_OK, or FA_ERR_STATE (an install is in force),
 * FA_ERR_INVALID_ARG, a tag error. fa MUST outlive the install. */
FA_API int fa_cjson_install(fa_alloc_t *fa, const char *tag_path);

/* Gives cJSON malloc/free back. FA_ERR_STATE while cJSON objects or strings
 * from fa are alive (the install then stays in force). */
FA_API int fa_cjson_uninstall(void);

/* Blocks cJSON holds from fa now (0 when not installed). */
FA_API long fa_cjson_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
