/* cJSON through fa_cjson: the bytes a document holds are what a reference
 * allocator sees for the same document, printed strings count too, and
 * deleting everything brings the tag back to 0. */
#include "integ_test.h"

#include <stdio.h>

#include <cJSON.h>
#include <fa_cjson.h>

static char *document(void) {
    static char buf[1 << 16];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"entities\": [");
    for (int i = 0; i < 300; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "%s{\"id\": %d, \"name\": \"npc-%d\", \"pos\": [%d.5, 2, 3]}", i ? "," : "", i,
                              i, i);
    snprintf(buf + n, sizeof buf - n, "], \"level\": \"forest\"}");
    return buf;
}

Test(cjson, a_documents_bytes_match_a_reference_run_and_drop_to_zero) {
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = ref_malloc, .free_fn = ref_free});
    cJSON *doc = cJSON_Parse(document());
    cr_assert_not_null(doc);
    size_t reference = ref_live;
    cJSON_Delete(doc);
    cr_assert_eq(ref_live, 0);
    cJSON_InitHooks(NULL);

    fa_alloc_t *fa = fa_create(NULL);
    cr_assert_eq(fa_cjson_install(fa, "config/json"), FA_OK);
    doc = cJSON_Parse(document());
    cr_assert_not_null(doc);
    cr_assert_eq(tag_heap(fa, "config/json"), reference);
    char *out = cJSON_PrintUnformatted(doc);
    cr_assert_not_null(out);
    cr_assert_gt(tag_heap(fa, "config/json"), reference + strlen(out), "the printed string counts too");
    cr_assert_eq(fa_cjson_uninstall(), FA_ERR_STATE, "refused while cJSON objects are alive");
    cJSON_free(out);
    cJSON_Delete(doc);
    cr_assert_eq(tag_heap(fa, "config/json"), 0);
    cr_assert_eq(fa_cjson_live_blocks(), 0);
    cr_assert_eq(fa_cjson_uninstall(), FA_OK);
    cJSON *after = cJSON_Parse("[1]");
    cr_assert_not_null(after, "cJSON works with malloc again");
    cJSON_Delete(after);
    cr_assert_eq(tag_heap(fa, "config/json"), 0);
    fa_destroy(fa);
}

/* cJSON objects made before the install are freed through the hooks: fa
 * reports them as foreign and leaves them alone, and they must not count
 * down fa's live blocks (the count reached 0 with fa's blocks still live,
 * uninstall passed, and their later delete reached the system free()). */
Test(cjson, an_object_from_before_the_install_does_not_let_uninstall_pass_while_fas_blocks_live) {
    capture_t c;
    fa_alloc_t *fa = capture_create(&c, NULL);
    cJSON *before = cJSON_CreateString("made before the install");
    char *before_text = before->valuestring;
    cr_assert_eq(fa_cjson_install(fa, "config/json"), FA_OK);
    cJSON *mine = cJSON_CreateString("made through fa");
    cJSON_Delete(before); /* malloc's two blocks, handed to fa */
    cr_assert_eq(capture_count_error(&c, FA_ERR_FOREIGN_PTR), 2);
    cr_assert_eq(fa_cjson_live_blocks(), 2, "the string node and its text are fa's");
    cr_assert_eq(fa_cjson_uninstall(), FA_ERR_STATE, "refused: fa's blocks are live");
    cJSON_Delete(mine);
    cr_assert_eq(fa_cjson_live_blocks(), 0);
    cr_assert_eq(fa_cjson_uninstall(), FA_OK);
    free(before_text); /* left alone by fa: still malloc's */
    free(before);
    fa_destroy(fa);
}
