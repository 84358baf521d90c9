/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_freetype.h>
#include <stdio.h>

int main(int argc, char **argv) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_ft_t fonts;                                    /* must outlive the library */
    FT_Library lib;
    fa_ft_new_library(&fonts, fa, "ui/fonts", &lib);  /* faces, glyphs, caches under ui/fonts */
    FT_Face face;
    if (argc > 1 && FT_New_Face(lib, argv[1], 0, &face) == 0) {
        FT_Set_Pixel_Sizes(face, 0, 32);
        FT_Load_Char(face, 'A', FT_LOAD_RENDER);
        printf("'A' is %d x %d pixels\n", face->glyph->bitmap.width, face->glyph->bitmap.rows);
        FT_Done_Face(face);
    }
    FT_Done_Library(lib);                             /* the tag is back to 0 */
    fa_destroy(fa);
}
