/* Error codes, their names and messages, and the report path to the hook. */
#include "internal.h"

#include <stdio.h>

/* The calling thread's last error (sticky until fa_clear_error). */
static _Thread_local int last_error;

const char *fa_strerror(int err) {
    switch (err) {
#define FA__ERR_MSG(name, value, msg)                                                              \
    case value:                                                                                    \
        return msg;
        FA_ERR_TABLE(FA__ERR_MSG)
#undef FA__ERR_MSG
    }
    return "unknown error";
}

const char *fa_err_name(int err) {
    switch (err) {
#define FA__ERR_NAME(name, value, msg)                                                             \
    case value:                                                                                    \
        return #name;
        FA_ERR_TABLE(FA__ERR_NAME)
#undef FA__ERR_NAME
    }
    return "FA_ERR_UNKNOWN";
}

int fa_last_error(void) { return last_error; }
void fa_clear_error(void) { last_error = FA_OK; }
void fa__set_last_error(int code) { last_error = code; }

void fa__report(fa_alloc_t *fa, int code, const void *ptr, const char *fmt, ...) {
    last_error = code;
    if (!fa || !fa->cfg.error_cb) return;
    /* Formatted on the stack: reporting must not allocate. */
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    fa_error_event_t ev = {.code = code, .message = message, .ptr = ptr};
    fa->cfg.error_cb(&ev, fa->cfg.error_user);
}
