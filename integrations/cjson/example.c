/* README example (make test-install-integrations builds it with pkg-config). */
#include <cJSON.h>
#include <fa_cjson.h>
#include <stdio.h>

int main(void) {
    fa_alloc_t *fa = fa_create(NULL);
    fa_cjson_install(fa, "config/json");              /* cJSON's nodes and strings under config/json */
    cJSON *level = cJSON_Parse("{\"name\": \"forest\", \"npcs\": [1, 2, 3]}");
    char *text = cJSON_PrintUnformatted(level);
    printf("%s (%ld blocks)\n", text, fa_cjson_live_blocks());
    cJSON_free(text);
    cJSON_Delete(level);
    fa_cjson_uninstall();                             /* refused while cJSON objects live */
    fa_destroy(fa);
}
