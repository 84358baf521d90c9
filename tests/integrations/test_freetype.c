/* FreeType through fa_freetype: a library with a face and rendered glyphs
 * holds what a reference allocator sees for the same work, and
 * FT_Done_Library gives everything back. */
#include "integ_test.h"

#include <fa_freetype.h>
#include <unistd.h>

#define FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" /* fonts-dejavu-core, in .ci/deps */

static void *ref_ft_alloc(FT_Memory m, long size) {
    (void)m;
    return ref_malloc((size_t)size);
}
static void ref_ft_free(FT_Memory m, void *b) {
    (void)m;
    ref_free(b);
}
static void *ref_ft_realloc(FT_Memory m, long cur, long size, void *b) {
    (void)m, (void)cur;
    return ref_realloc(b, (size_t)size);
}

/* Loads the font and renders printable ASCII at 24 px; returns the face. */
static FT_Face work(FT_Library lib) {
    FT_Face face;
    cr_assert_eq(FT_New_Face(lib, FONT, 0, &face), 0);
    cr_assert_eq(FT_Set_Pixel_Sizes(face, 0, 24), 0);
    for (char c = ' '; c <= '~'; c++)
        cr_assert_eq(FT_Load_Char(face, (FT_ULong)c, FT_LOAD_RENDER), 0);
    return face;
}

Test(freetype, a_faces_bytes_match_a_reference_library_and_drop_to_zero) {
    cr_assert_eq(access(FONT, R_OK), 0, FONT " is missing: make deps installs fonts-dejavu-core");
    struct FT_MemoryRec_ ref_mem = {.alloc = ref_ft_alloc, .free = ref_ft_free, .realloc = ref_ft_realloc};
    FT_Library ref_lib;
    cr_assert_eq(FT_New_Library(&ref_mem, &ref_lib), 0);
    FT_Add_Default_Modules(ref_lib);
    FT_Set_Default_Properties(ref_lib);
    FT_Face ref_face = work(ref_lib);
    size_t reference = ref_live;
    FT_Done_Face(ref_face);
    FT_Done_Library(ref_lib);
    cr_assert_eq(ref_live, 0);

    fa_alloc_t *fa = fa_create(NULL);
    fa_ft_t fonts;
    FT_Library lib;
    cr_assert_eq(fa_ft_new_library(&fonts, fa, "ui/fonts", &lib), FA_OK);
    FT_Face face = work(lib);
    uint64_t live = tag_heap(fa, "ui/fonts");
    cr_assert_gt(live, 16 << 10, "a face with its size and glyph slot: %llu", (unsigned long long)live);
    cr_assert_eq(live, reference);
    FT_Done_Face(face);
    FT_Done_Library(lib);
    cr_assert_eq(tag_heap(fa, "ui/fonts"), 0);
    fa_destroy(fa);
}

Test(freetype, bad_arguments_are_refused) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_ft_t fonts;
    FT_Library lib;
    cr_assert_eq(fa_ft_new_library(&fonts, fa, "", &lib), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ft_new_library(&fonts, NULL, "x", &lib), FA_ERR_INVALID_ARG);
    cr_assert_eq(fa_ft_new_library(&fonts, fa, "x", NULL), FA_ERR_INVALID_ARG);
    fa_destroy(fa);
}
