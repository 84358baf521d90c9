/* zlib through fa_zlib: a stream's bytes are zlib's documented figure and
 * a reference allocator's, data round-trips, and End gives everything back. */
#include "integ_test.h"

#include <fa_zlib.h>

static voidpf ref_zalloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return ref_malloc((size_t)items * size);
}
static void ref_zfree(voidpf opaque, voidpf p) {
    (void)opaque;
    ref_free(p);
}

Test(zlib, a_streams_bytes_are_zlibs_figure_and_drop_to_zero_at_end) {
    z_stream ref = {.zalloc = ref_zalloc, .zfree = ref_zfree};
    cr_assert_eq(deflateInit2(&ref, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t reference = ref_live;
    deflateEnd(&ref);

    fa_alloc_t *fa = fa_create(NULL);
    fa_zlib_t zmem;
    cr_assert_eq(fa_zlib_init(&zmem, fa, "assets/zlib"), FA_OK);
    z_stream zs = {0};
    fa_zlib_use(&zmem, &zs);
    cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    uint64_t live = tag_heap(fa, "assets/zlib");
    /* zlib.h: (1 << (windowBits + 2)) + (1 << (memLevel + 9)) plus a few KiB. */
    uint64_t documented = (1u << 17) + (1u << 17);
    cr_assert_geq(live, documented);
    cr_assert_leq(live, documented + 8192, "live %llu", (unsigned long long)live);
    cr_assert_eq(live, reference);

    static unsigned char in[1 << 18], packed[1 << 18], out[1 << 18];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 / 1000);
    zs.next_in = in, zs.avail_in = sizeof in, zs.next_out = packed, zs.avail_out = sizeof packed;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t packed_len = sizeof packed - zs.avail_out;
    deflateEnd(&zs);
    cr_assert_eq(tag_heap(fa, "assets/zlib"), 0);

    z_stream inf = {0};
    fa_zlib_use(&zmem, &inf);
    cr_assert_eq(inflateInit(&inf), Z_OK);
    inf.next_in = packed, inf.avail_in = (uInt)packed_len, inf.next_out = out, inf.avail_out = sizeof out;
    cr_assert_eq(inflate(&inf, Z_FINISH), Z_STREAM_END);
    cr_assert_gt(tag_heap(fa, "assets/zlib"), 7000, "inflate's state (its window is taken only when needed)");
    cr_assert_eq(memcmp(in, out, sizeof in), 0);
    inflateEnd(&inf);
    cr_assert_eq(tag_heap(fa, "assets/zlib"), 0);
    fa_destroy(fa);
}

Test(zlib, a_hard_budget_under_fail_is_z_mem_error) {
    fa_alloc_t *fa = fa_create(&(fa_config_t){.budget_policy = FA_POLICY_FAIL});
    fa_budget_set(fa, "assets", 0, 64 << 10);
    fa_zlib_t zmem;
    fa_zlib_init(&zmem, fa, "assets/zlib");
    z_stream zs = {0};
    fa_zlib_use(&zmem, &zs);
    cr_assert_eq(deflateInit(&zs, 6), Z_MEM_ERROR);
    cr_assert_eq(tag_heap(fa, "assets/zlib"), 0, "zlib gave back what it got before failing");
    fa_destroy(fa);
}
