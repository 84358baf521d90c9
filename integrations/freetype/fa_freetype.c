/* A FreeType FT_Memory over framealloc's tagged heap blocks. */
#include "fa_freetype.h"

#include "hook.h"

static void *ft_alloc(FT_Memory memory, long size) {
    fa_ft_t *m = memory->user;
    return size < 0 ? NULL : fa_heap_alloc_tagged(m->fa, m->tag, (size_t)size, 0);
}

static void ft_free(FT_Memory memory, void *block) {
    fa_ft_t *m = memory->user;
    fa_heap_free(m->fa, block);
}

static void *ft_realloc(FT_Memory memory, long cur_size, long new_size, void *block) {
    fa_ft_t *m = memory->user;
    (void)cur_size;
    return new_size < 0 ? NULL : fa_heap_realloc(m->fa, block, (size_t)new_size, m->tag);
}

int fa_ft_new_library(fa_ft_t *m, fa_alloc_t *fa, const char *tag_path, FT_Library *out) {
    if (!m || !fa || !out || !tag_path || !*tag_path) return FA_ERR_INVALID_ARG;
    int tag = fa_tag_find(fa, tag_path, true);
    if (tag < 0) return tag;
    *m = (fa_ft_t){.fa = fa, .tag = tag};
    m->memory = (struct FT_MemoryRec_){.user = m, .alloc = ft_alloc, .free = ft_free, .realloc = ft_realloc};
    FT_Library lib;
    if (FT_New_Library(&m->memory, &lib) != 0) return FA_ERR_NO_MEMORY;
    FT_Add_Default_Modules(lib);
    FT_Set_Default_Properties(lib);
    *out = lib;
    return FA_OK;
}
