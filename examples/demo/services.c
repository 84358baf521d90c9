/* fa-demo's services, on libraries whose memory the adapters count:
 * SQLite (a stats database, under "sqlite"), cJSON (the level configuration
 * and a status document, under "config/json"), zlib (a compressed save,
 * under "assets/zlib") and FreeType (the status line's glyphs, under
 * "ui/fonts", when a DejaVu font is installed). */
#include "demo.h"

#include <cJSON.h>
#include <fa_cjson.h>
#include <fa_freetype.h>
#include <fa_sqlite.h>
#include <fa_zlib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#define FONT "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

struct demo_services {
    fa_alloc_t *fa;
    sqlite3 *db;
    sqlite3_stmt *insert, *trim;
    cJSON *level;
    fa_zlib_t zmem;
    fa_ft_t fonts;
    FT_Library ft;
    FT_Face face;
    int sqlite_on, cjson_on;
};

static const char *LEVEL = "{\"name\": \"quarry\", \"gravity\": -20, \"spawn\": {\"height\": [12, 20], "
                           "\"lifetime_s\": [10, 20]}, \"music\": [\"dig.ogg\", \"rocks.ogg\"]}";

demo_services_t *demo_services_create(fa_alloc_t *fa) {
    demo_services_t *s = fa_pool_alloc(fa, sizeof *s);
    if (!s) return NULL;
    *s = (demo_services_t){.fa = fa};
    s->sqlite_on = fa_sqlite_install(fa, "sqlite") == FA_OK;
    s->cjson_on = fa_cjson_install(fa, "config/json") == FA_OK;
    if (sqlite3_open(":memory:", &s->db) != SQLITE_OK ||
        sqlite3_exec(
            s->db,
            "CREATE TABLE stats(frame INTEGER, fps REAL, contacts INTEGER, bodies INTEGER, lua INTEGER)",
            NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "INSERT INTO stats VALUES(?, ?, ?, ?, ?)", -1, &s->insert, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM stats WHERE frame < ?", -1, &s->trim, NULL) != SQLITE_OK) {
        fprintf(stderr, "fa-demo: the stats database: %s\n", sqlite3_errmsg(s->db));
        demo_services_destroy(s);
        return NULL;
    }
    s->level = cJSON_Parse(LEVEL);
    fa_zlib_init(&s->zmem, fa, "assets/zlib");
    if (access(FONT, R_OK) == 0 && fa_ft_new_library(&s->fonts, fa, "ui/fonts", &s->ft) == FA_OK &&
        FT_New_Face(s->ft, FONT, 0, &s->face) == 0)
        FT_Set_Pixel_Sizes(s->face, 0, 18);
    return s;
}

static void save_stats(demo_services_t *s, uint64_t frame, double fps, const demo_physics_stats_t *ph,
                       size_t lua) {
    sqlite3_bind_int64(s->insert, 1, (sqlite3_int64)frame);
    sqlite3_bind_double(s->insert, 2, fps);
    sqlite3_bind_int64(s->insert, 3, (sqlite3_int64)ph->contacts);
    sqlite3_bind_int(s->insert, 4, ph->bodies);
    sqlite3_bind_int64(s->insert, 5, (sqlite3_int64)lua);
    sqlite3_step(s->insert);
    sqlite3_reset(s->insert);
    sqlite3_bind_int64(s->trim, 1, (sqlite3_int64)frame - 36000); /* ten minutes at 60 fps */
    sqlite3_step(s->trim);
    sqlite3_reset(s->trim);
}

static void status_document(demo_services_t *s, uint64_t frame, const demo_physics_stats_t *ph) {
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddNumberToObject(doc, "frame", (double)frame);
    cJSON_AddNumberToObject(doc, "contacts", (double)ph->contacts);
    cJSON_AddItemReferenceToObject(doc, "level", s->level);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_free(text);
    cJSON_Delete(doc);
}

/* A save: the stats table's rows, compressed (the stream's 256 KiB window
 * and hash chains come and go under assets/zlib). */
static void compressed_save(demo_services_t *s) {
    unsigned char rows[16384], packed[16384];
    size_t n = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT frame, contacts FROM stats ORDER BY frame DESC LIMIT 512", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    while (sqlite3_step(st) == SQLITE_ROW && n + 32 < sizeof rows)
        n += (size_t)snprintf((char *)rows + n, sizeof rows - n, "%lld %lld\n", sqlite3_column_int64(st, 0),
                              sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    z_stream zs = {0};
    fa_zlib_use(&s->zmem, &zs);
    if (deflateInit(&zs, Z_BEST_COMPRESSION) != Z_OK) return;
    zs.next_in = rows, zs.avail_in = (uInt)n, zs.next_out = packed, zs.avail_out = sizeof packed;
    deflate(&zs, Z_FINISH);
    deflateEnd(&zs);
}

static void render_text(demo_services_t *s, double fps) {
    char line[64];
    snprintf(line, sizeof line, "%.0f fps", fps);
    for (const char *c = line; *c; c++)
        FT_Load_Char(s->face, (FT_ULong)(unsigned char)*c, FT_LOAD_RENDER);
}

void demo_services_frame(demo_services_t *s, uint64_t frame, double fps, const demo_physics_stats_t *physics,
                         size_t lua_bytes) {
    if (frame % 60 == 0) {
        save_stats(s, frame, fps, physics, lua_bytes);
        if (s->face) render_text(s, fps);
    }
    if (frame % 300 == 150) status_document(s, frame, physics);
    if (frame % 600 == 300) compressed_save(s);
}

void demo_services_destroy(demo_services_t *s) {
    if (!s) return;
    sqlite3_finalize(s->insert);
    sqlite3_finalize(s->trim);
    sqlite3_close(s->db);
    sqlite3_shutdown();
    cJSON_Delete(s->level);
    if (s->face) FT_Done_Face(s->face);
    if (s->ft) FT_Done_Library(s->ft);
    /* Uninstalling is refused while a library still holds blocks (then
     * they stay valid until the process ends). */
    if (s->sqlite_on) fa_sqlite_uninstall();
    if (s->cjson_on) fa_cjson_uninstall();
    fa_pool_free(s->fa, s);
}
