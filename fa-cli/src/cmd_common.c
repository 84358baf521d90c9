/* cmd_common.c — what several commands share: the --json printer. */
#include "cli.h"

#include <string.h>

void cmd_print_json(const http_answer_t *a) {
    /* Verbatim (the daemon prints 64-bit integers exactly, and a script
     * reading --json sees the same document the API documents), except for
     * what could drive a terminal: that is \u-escaped, the same JSON. */
    render_json_safe(stdout, a->body, a->len);
    if (a->len == 0 || a->body[a->len - 1] != '\n') fputc('\n', stdout);
}
