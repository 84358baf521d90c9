/*
 * fa_uv.h — libuv's memory counted by framealloc under a tag.
 *
 * Installs libuv's allocator (uv_replace_allocator) so that every block
 * libuv allocates (loop internals, handles' buffers, the thread pool's
 * queue, uv_fs_t paths) is a framealloc heap block under one tag, e.g.
 * "net/uv". For the memory of your own work items, see fa_task_begin() in
 * framealloc.h.
 *
 *     fa_uv_install(fa, "net/uv");                 // before any other uv_ call
 *     uv_loop_t loop;
 *     uv_loop_init(&loop);
 *     ...
 *     uv_loop_close(&loop);
 *     uv_library_shutdown();                       // frees libuv's globals
 *     fa_uv_uninstall();                           // before fa_destroy(fa)
 *
 * PROCESS-WIDE: libuv's allocator belongs to the process and carries no
 * user pointer, so one context at a time feeds it. libuv frees its globals
 * at exit by itself: call uv_library_shutdown() before fa_destroy(), or the
 * exit-time frees reach a destroyed context. THREADS: libuv calls the hooks
 * from the loop thread and from its thread pool; blocks are attributed to
 * the tag whatever the calling thread's tag stack says. COST: one malloc
 * and a 32-byte header per block.
 *
 * pkg-config: framealloc-uv (links libuv).
 */
#ifndef FA_UV_H
#define FA_UV_H

#include <framealloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Routes libuv's allocations to fa under tag_path (created if needed). MUST
 * be called before any other libuv function (libuv cannot tell whether it
 * allocated already: blocks taken before would later reach framealloc as
 * foreign pointers). FA_OK, or FA_ERR_STATE (an install is in force),
 * FA_ERR_INVALID_ARG, a tag error. fa MUST outlive the install. */
FA_API int fa_uv_install(fa_alloc_t *fa, const char *tag_path);

/* Gives libuv the C library's allocator back. MUST be called after
 * uv_library_shutdown(); FA_ERR_STATE while libuv still holds blocks from
 * fa (the install then stays in force). */
FA_API int fa_uv_uninstall(void);

/* Blocks libuv holds from fa now (0 when not installed). */
FA_API long fa_uv_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
