/*
 * fa_sqlite.h — SQLite's memory counted by framealloc under a tag.
 *
 * Installs SQLite's allocator (SQLITE_CONFIG_MALLOC) so that every block
 * SQLite takes (page cache, statements, schemas) is a framealloc heap block
 * under one tag, e.g. "sqlite". The tag's live heap bytes then equal
 * sqlite3_memory_used().
 *
 *     fa_sqlite_install(fa, "sqlite");             // before any other sqlite3_ call
 *     sqlite3 *db;
 *     sqlite3_open(":memory:", &db);
 *     ...
 *     sqlite3_close(db);
 *     sqlite3_shutdown();
 *     fa_sqlite_uninstall();                       // before fa_destroy(fa)
 *
 * PROCESS-WIDE: SQLite's allocator belongs to the process and carries no
 * user pointer, so one context at a time feeds it (the adapter keeps that
 * context in a static). THREADS: SQLite calls the hooks from any thread
 * that uses it (under its own memory mutex); the blocks are attributed to
 * the tag whatever the calling thread's tag stack says. COST: one malloc and
 * a 32-byte header per block, a resize moves the block.
 *
 * pkg-config: framealloc-sqlite (links libsqlite3).
 */
#ifndef FA_SQLITE_H
#define FA_SQLITE_H

#include <framealloc.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Routes SQLite's allocations to fa under tag_path (created if needed).
 * MUST be called before sqlite3_initialize() (any sqlite3_ call initialises
 * SQLite) or after sqlite3_shutdown(). FA_OK, or FA_ERR_STATE (SQLite is
 * initialised, or an install is already in force), FA_ERR_INVALID_ARG, a tag
 * error. fa MUST outlive the install. */
FA_API int fa_sqlite_install(fa_alloc_t *fa, const char *tag_path);

/* Gives SQLite back the allocator it had before fa_sqlite_install(). MUST be
 * called after sqlite3_shutdown(); FA_ERR_STATE while SQLite is initialised
 * or still holds blocks from fa (the install then stays in force, so those
 * blocks stay valid). */
FA_API int fa_sqlite_uninstall(void);

/* Blocks SQLite holds from fa now (0 when not installed). */
FA_API long fa_sqlite_live_blocks(void);

#ifdef __cplusplus
}
#endif
#endif
