/*
 * fa_freetype.h — FreeType libraries whose memory framealloc counts under a
 * tag.
 *
 * FreeType takes an allocator per library (FT_Memory): fa_ft_new_library()
 * creates a library with the default modules whose faces, glyph slots,
 * caches and rasteriser pools are framealloc heap blocks under one tag,
 * e.g. "ui/fonts".
 *
 *     fa_ft_t fonts;                               // MUST outlive the library
 *     FT_Library lib;
 *     fa_ft_new_library(&fonts, fa, "ui/fonts", &lib);
 *     FT_Face face;
 *     FT_New_Face(lib, "DejaVuSans.ttf", 0, &face);
 *     ...
 *     FT_Done_Face(face);
 *     FT_Done_Library(lib);                        // the tag is back to 0
 *
 * THREADS: a library is used by one thread at a time (FreeType's rule);
 * blocks are attributed to the tag whatever that thread's tag stack says.
 * COST: one malloc and a 32-byte header per block; a resize moves the block.
 *
 * pkg-config: framealloc-freetype (links libfreetype).
 */
#ifndef FA_FREETYPE_H
#define FA_FREETYPE_H

#include <framealloc.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_MODULE_H

#ifdef __cplusplus
extern "C" {
#endif

/* FreeType's memory object plus where it allocates: caller-owned. */
typedef struct fa_ft {
    struct FT_MemoryRec_ memory; /* FreeType's view: user points here */
    fa_alloc_t *fa;
    int tag;
} fa_ft_t;

/* Fills m for fa and tag_path (created if needed), then creates a FreeType
 * library that allocates through it, with FreeType's default modules and
 * properties (FT_Init_FreeType's set). FA_OK, or FA_ERR_INVALID_ARG, a tag
 * error, FA_ERR_NO_MEMORY (FreeType could not create the library).
 * Destroy the library with FT_Done_Library(); m MUST outlive it. */
FA_API int fa_ft_new_library(fa_ft_t *m, fa_alloc_t *fa, const char *tag_path, FT_Library *out);

#ifdef __cplusplus
}
#endif
#endif
