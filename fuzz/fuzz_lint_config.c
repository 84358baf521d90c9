/* libFuzzer target: fa-lint's readers of files it does not control, the
 * .fa.toml parser and the suppression-comment scanner. Any input must end
 * in a parse or a precise error, never a crash, a leak or a read past the
 * end (the input is not NUL-terminated on purpose). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "suppress.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    lint_config_t *cfg = config_create();
    char err[256];
    if (config_parse(cfg, "fuzz.toml", copy, size, err, sizeof err) == 0) {
        (void)config_excluded(cfg, "src/a/b.c");
        (void)config_tag_declared(cfg, "physics/contacts");
        (void)config_tag_declared_below(cfg, "contacts");
        (void)config_module_tag(cfg, "src/audio/mix.c");
        (void)config_suppressed(cfg, "tests/x.c", R_FA601);
    }
    config_destroy(cfg);
    suppression_list_t l = {0};
    suppressions_scan(copy, size, &l);
    for (unsigned line = 0; line < 4; line++)
        (void)suppressions_cover(&l, line, R_FA602);
    suppressions_free(&l);
    free(copy);
    return 0;
}
