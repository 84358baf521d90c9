/* SDL_SetMemoryFunctions over framealloc's tagged heap blocks.
 *
 * SDL keeps blocks past SDL_Quit (each thread's TLS data, freed through the
 * current hooks when that thread exits), so uninstalling cannot wait for
 * SDL to hold none. Every block therefore starts with a small header naming
 * its allocator: after fa_sdl2_uninstall() the hooks stay in SDL ("detached")
 * and never touch the context again: new blocks come from SDL's previous
 * allocator, and blocks of the context that SDL frees later are left alone
 * (the context may be gone; fa_destroy() leaves live heap blocks unfreed
 * too). */
#include "fa_sdl2.h"

#include "hook.h"

#include <SDL.h>
#include <stdint.h>

static fa__hook_t hook;
static SDL_malloc_func prev_malloc;
static SDL_calloc_func prev_calloc;
static SDL_realloc_func prev_realloc;
static SDL_free_func prev_free;
static atomic_bool detached;

/* In front of every block: where it comes from and its size. 16 bytes keep
 * SDL's blocks 16-byte aligned. */
typedef struct origin {
    uint32_t from;
    uint32_t pad;
    uint64_t size;
} origin_t;
enum { FROM_FA = 0xFA5D1201u, FROM_PREV = 0xFA5D1202u };
#define ORIGIN_SIZE sizeof(origin_t)
_Static_assert(sizeof(origin_t) == 16, "the header keeps 16-byte alignment");

static void *stamp(void *raw, uint32_t from, size_t size) {
    if (!raw) return NULL;
    *(origin_t *)raw = (origin_t){.from = from, .size = size};
    return (char *)raw + ORIGIN_SIZE;
}

static origin_t *origin_of(void *p) {
    return (origin_t *)(void *)((char *)p - ORIGIN_SIZE);
}

static void *sdl_malloc(size_t n) {
    if (n > SIZE_MAX - ORIGIN_SIZE) return NULL;
    if (atomic_load(&detached)) return stamp(prev_malloc(n + ORIGIN_SIZE), FROM_PREV, n);
    return stamp(fa__hook_alloc(&hook, n + ORIGIN_SIZE), FROM_FA, n);
}

static void *sdl_calloc(size_t count, size_t size) {
    size_t n;
    if (__builtin_mul_overflow(count, size, &n) || n > SIZE_MAX - ORIGIN_SIZE) return NULL;
    if (atomic_load(&detached)) return stamp(prev_calloc(1, n + ORIGIN_SIZE), FROM_PREV, n);
    return stamp(fa__hook_zalloc(&hook, 1, n + ORIGIN_SIZE), FROM_FA, n);
}

static void sdl_free(void *p) {
    if (!p) return;
    origin_t *o = origin_of(p);
    if (o->from == FROM_PREV)
        prev_free(o);
    else if (!atomic_load(&detached))
        fa__hook_free(&hook, o);
    /* else a block of a context that may be gone: left as fa_destroy leaves it. */
}

static void *sdl_realloc(void *p, size_t n) {
    if (!p) return sdl_malloc(n);
    if (n > SIZE_MAX - ORIGIN_SIZE) return NULL;
    origin_t *o = origin_of(p);
    if (o->from == FROM_PREV) return stamp(prev_realloc(o, n + ORIGIN_SIZE), FROM_PREV, n);
    if (!atomic_load(&detached)) return stamp(fa__hook_realloc(&hook, o, n + ORIGIN_SIZE), FROM_FA, n);
    /* A block of the context, after uninstall: copied out, left behind. */
    void *q = sdl_malloc(n);
    if (q) memcpy(q, p, o->size < n ? o->size : n);
    return q;
}

int fa_sdl2_install(fa_alloc_t *fa, const char *tag_path) {
    if (SDL_GetNumAllocations() > 0) return FA_ERR_STATE;
    int rc = fa__hook_claim(&hook, fa, tag_path);
    if (rc != FA_OK) return rc;
    /* Detached hooks that no block needs any more give way first. */
    if (atomic_load(&detached)) SDL_SetMemoryFunctions(prev_malloc, prev_calloc, prev_realloc, prev_free);
    atomic_store(&detached, false);
    SDL_GetMemoryFunctions(&prev_malloc, &prev_calloc, &prev_realloc, &prev_free);
    if (SDL_SetMemoryFunctions(sdl_malloc, sdl_calloc, sdl_realloc, sdl_free) != 0) {
        fa__hook_release(&hook);
        return FA_ERR_STATE;
    }
    return FA_OK;
}

int fa_sdl2_uninstall(void) {
    if (!atomic_load(&hook.fa)) return FA_ERR_STATE;
    long live = fa_sdl2_live_blocks();
    if (live != 0 && SDL_WasInit(0) != 0) return FA_ERR_STATE; /* SDL runs: not after SDL_Quit */
    if (live == 0) {
        SDL_SetMemoryFunctions(prev_malloc, prev_calloc, prev_realloc, prev_free);
    } else {
        /* SDL still holds blocks of the context: the hooks stay, detached. */
        atomic_store(&detached, true);
        atomic_store(&hook.live_blocks, 0);
    }
    return fa__hook_release(&hook);
}

long fa_sdl2_live_blocks(void) {
    return atomic_load(&hook.fa) ? atomic_load(&hook.live_blocks) : 0;
}
