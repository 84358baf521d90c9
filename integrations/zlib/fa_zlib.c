/* zlib's per-stream allocator over framealloc's tagged heap blocks. */
#include "fa_zlib.h"

#include "hook.h"

int fa_zlib_init(fa_zlib_t *z, fa_alloc_t *fa, const char *tag_path) {
    if (!z || !fa || !tag_path || !*tag_path) return FA_ERR_INVALID_ARG;
    int tag = fa_tag_find(fa, tag_path, true);
    if (tag < 0) return tag;
    *z = (fa_zlib_t){.fa = fa, .tag = tag};
    return FA_OK;
}

/* zlib asks for items x size bytes; Z_NULL when the product overflows. */
static voidpf zalloc(voidpf opaque, uInt items, uInt size) {
    fa_zlib_t *z = opaque;
    size_t total;
    if (__builtin_mul_overflow((size_t)items, (size_t)size, &total)) return Z_NULL;
    return fa_heap_alloc_tagged(z->fa, z->tag, total, 0);
}

static void zfree(voidpf opaque, voidpf p) {
    fa_zlib_t *z = opaque;
    fa_heap_free(z->fa, p);
}

void fa_zlib_use(fa_zlib_t *z, z_stream *strm) {
    strm->zalloc = zalloc;
    strm->zfree = zfree;
    strm->opaque = z;
}
