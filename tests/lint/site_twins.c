/* The allocation names as a build with call sites spells them (issue 15:
 * framealloc.h's FA__SITE macros call the _site twin of each name with a
 * static site record). fa-lint must read the twins as the names: the same
 * findings, and no finding in the twins' own inline definitions. The
 * declarations are this file's own (it does not include framealloc.h), in
 * the shape of that header. Markers as in corpus/. */
#include <stddef.h>

typedef struct fa_alloc_s fa_alloc_t;
typedef struct fa_site {
    const char *file, *function;
    unsigned line, kind, id, pad;
} fa_site_t;
void fa_begin_frame(fa_alloc_t *fa);
void fa_end_frame(fa_alloc_t *fa);
void *fa__frame_alloc_slow(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);
void *fa_heap_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site);
void fa_heap_free(fa_alloc_t *fa, void *p);
void *fa_pool_alloc_site(fa_alloc_t *fa, size_t size, fa_site_t *site);
void fa_pool_free(fa_alloc_t *fa, void *p);

/* The header's inline fast path: returning frame memory is its job. */
static inline void *fa_frame_alloc_site(fa_alloc_t *fa, size_t size, size_t align, fa_site_t *site) {
    return fa__frame_alloc_slow(fa, size, align, site); /* ok: FA601 */
}

#define FA__SITE(kind)                                                                                       \
    __extension__({                                                                                          \
        static fa_site_t site_ = {__FILE__, __func__, (unsigned)__LINE__, (kind), 0u, 0u};                  \
        &site_;                                                                                              \
    })
#define fa_frame_alloc(fa, size, align) fa_frame_alloc_site((fa), (size), (align), FA__SITE(0))
#define fa_heap_alloc(fa, size, align) fa_heap_alloc_site((fa), (size), (align), FA__SITE(2))
#define fa_pool_alloc(fa, size) fa_pool_alloc_site((fa), (size), FA__SITE(1))

static char *last_line;

void frame_loop(fa_alloc_t *fa, int frames) {
    for (int i = 0; i < frames; i++) {
        fa_begin_frame(fa);
        void *scratch = fa_heap_alloc(fa, 4096, 16); /* expect: FA602 */
        char *line = fa_frame_alloc(fa, 64, 1);      /* ok: FA602 */
        void *obj = fa_pool_alloc(fa, 32);           /* ok: FA602 */
        last_line = line;                            /* expect: FA601 */
        fa_pool_free(fa, obj);
        fa_heap_free(fa, scratch);
        fa_pool_free(fa, line); /* expect: FA605 */
        fa_end_frame(fa);
    }
}
