/* README example (make test-install-integrations builds it with pkg-config). */
#include <fa_zlib.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_zlib_t zmem;                                   /* must outlive the streams */
    fa_zlib_init(&zmem, fa, "assets/zlib");
    z_stream zs = {0};
    fa_zlib_use(&zmem, &zs);                          /* before deflateInit */
    deflateInit(&zs, Z_DEFAULT_COMPRESSION);          /* about 262 KiB under assets/zlib */
    unsigned char in[4096] = {0}, out[4096];
    zs.next_in = in, zs.avail_in = sizeof in, zs.next_out = out, zs.avail_out = sizeof out;
    deflate(&zs, Z_FINISH);
    printf("4096 bytes -> %lu\n", zs.total_out);
    deflateEnd(&zs);                                  /* the tag is back to 0 */
    fa_destroy(fa);
}
