/* fa-demo's subsystems that run on real libraries: physics on Chipmunk2D
 * (contacts and queries in frame memory), a Lua-scripted crowd, and the
 * services (SQLite, cJSON, zlib, FreeType) whose memory the adapters count.
 * Each runs on the main thread, inside the frame the caller began. */
#ifndef FA_DEMO_H
#define FA_DEMO_H

#include <framealloc.h>
#include <stddef.h>
#include <stdint.h>

/* ---- physics (demo/physics.c) -------------------------------------------- */

typedef struct demo_physics demo_physics_t;

typedef struct demo_physics_stats {
    uint64_t contacts; /* contact events the engine produced since the start */
    uint64_t begins;   /* of which BEGIN */
    uint64_t hits;     /* query hits */
    int bodies;        /* bodies alive now (debris included) */
} demo_physics_stats_t;

/* A walled arena where about `bodies` bodies (1..2000) fall, collide and
 * die after a while. NULL on failure. */
demo_physics_t *demo_physics_create(fa_alloc_t *fa, int bodies, uint64_t seed);
/* One frame: spawn and retire bodies (debris while spiking), step the
 * engine, read its contact events, cast the AI's rays, keep the hardest
 * hits for the sound system (promoted to the pool at the frame end). */
void demo_physics_frame(demo_physics_t *p, int spiking);
demo_physics_stats_t demo_physics_stats(const demo_physics_t *p);
void demo_physics_destroy(demo_physics_t *p);

/* ---- scripts (demo/scripts.c) -------------------------------------------- */

typedef struct demo_scripts demo_scripts_t;

/* A Lua state (memory under scripts/lua) with `npcs` scripted characters.
 * NULL on failure (the reason on stderr). */
demo_scripts_t *demo_scripts_create(fa_alloc_t *fa, int npcs);
/* Runs the script's update(frame, contacts); 0, or -1 after a Lua error
 * (reported once). */
int demo_scripts_frame(demo_scripts_t *s, uint64_t frame, uint64_t contacts);
/* Bytes the Lua state holds (Lua's own count). */
size_t demo_scripts_bytes(demo_scripts_t *s);
void demo_scripts_destroy(demo_scripts_t *s);

/* ---- services (demo/services.c) ------------------------------------------ */

typedef struct demo_services demo_services_t;

/* Installs the SQLite and cJSON adapters (process-wide: call before any
 * other SQLite or cJSON use, the agent's included), opens the stats
 * database, parses the level configuration, loads a font when one is
 * installed. NULL on failure (the reason on stderr). */
demo_services_t *demo_services_create(fa_alloc_t *fa);
/* Once per frame: every second a stats row into SQLite (the last ten
 * minutes kept) and a glyph run through FreeType; every 5 s a JSON status
 * document; every 10 s a compressed save through zlib. */
void demo_services_frame(demo_services_t *s, uint64_t frame, double fps, const demo_physics_stats_t *physics,
                         size_t lua_bytes);
/* Closes everything and uninstalls the adapters. */
void demo_services_destroy(demo_services_t *s);

#endif
