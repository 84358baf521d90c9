/* mix_record.h — force-included (-include) into fa-demo's sources to build
 * build/bench/fa-demo-record, which writes the allocation sequence of one
 * frame to a file (bench/game_frame_mix.trace, replayed by the
 * game_frame_mix case of bench_alloc.c). Measurement tooling, not part of
 * the library: the allocation names are redefined to wrappers (mix_record.c)
 * that note each call of the chosen frame and then make it.
 *
 * What it sees: every allocation and free the demo's own code makes through
 * these names, on any thread, between the main thread's begin and end of the
 * frame, with its tag. The heap entry points (fa_heap_alloc_site,
 * fa_heap_alloc_tagged_site, fa_heap_free, fa_heap_realloc_site), which the
 * integrations call too, are wrapped at link time (--wrap) instead. Not seen: frame vectors and maps grown
 * inside the library (fa_frame_vec), and what the library allocates by
 * itself (promotion copies, transfer payloads). */
#ifndef MIX_RECORD_H
#define MIX_RECORD_H

#include <framealloc.h>

void *mix_rec_pool_alloc(fa_alloc_t *fa, size_t size);
void *mix_rec_pool_alloc_tagged(fa_alloc_t *fa, int tag, size_t size, fa_site_t *site);
void mix_rec_pool_free(fa_alloc_t *fa, void *p);
void *mix_rec_frame_alloc(fa_alloc_t *fa, size_t size, size_t align);
void *mix_rec_frame_alloc_batch(fa_alloc_t *fa, size_t size, size_t align, size_t count);
void *mix_rec_frame_alloc8(fa_alloc_t *fa, size_t size, size_t align, void *out[8]);
char *mix_rec_frame_sprintf(fa_alloc_t *fa, const char *fmt, ...) FA_PRINTF(2, 3);
void *mix_rec_frame_alloc_retained(fa_alloc_t *fa, size_t size, size_t align, fa_retain_policy policy,
                                   uint32_t frames);
void mix_rec_begin_frame(fa_alloc_t *fa);
void mix_rec_end_frame(fa_alloc_t *fa);
void mix_rec_end_frame_with_promotions(fa_alloc_t *fa, fa_promotion_result_t *out);

#undef fa_pool_alloc
#define fa_pool_alloc_tagged_site(fa, tag, size, site) mix_rec_pool_alloc_tagged((fa), (tag), (size), (site))
#undef fa_pool_free
#undef fa_frame_alloc
#undef fa_frame_alloc_batch
#undef fa_frame_alloc8
#undef fa_frame_sprintf
#undef fa_frame_alloc_retained
#define fa_pool_alloc(fa, size) mix_rec_pool_alloc((fa), (size))
#define fa_pool_free(fa, p) mix_rec_pool_free((fa), (p))
#define fa_frame_alloc(fa, size, align) mix_rec_frame_alloc((fa), (size), (align))
#define fa_frame_alloc_batch(fa, size, align, n) mix_rec_frame_alloc_batch((fa), (size), (align), (n))
#define fa_frame_alloc8(fa, size, align, out) mix_rec_frame_alloc8((fa), (size), (align), (out))
#define fa_frame_sprintf(fa, ...) mix_rec_frame_sprintf((fa), __VA_ARGS__)
#define fa_frame_alloc_retained(fa, size, align, policy, frames)                                             \
    mix_rec_frame_alloc_retained((fa), (size), (align), (policy), (frames))
#define fa_begin_frame(fa) mix_rec_begin_frame(fa)
#define fa_end_frame(fa) mix_rec_end_frame(fa)
#define fa_end_frame_with_promotions(fa, out) mix_rec_end_frame_with_promotions((fa), (out))

#endif
