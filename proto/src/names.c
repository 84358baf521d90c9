/* names.c — names of message types and drop reasons, and string views. */
#include "proto_internal.h"

#include <string.h>

const char *fa_proto_type_name(int type) {
    switch (type) {
    case FA_PROTO_HELLO:
        return "HELLO";
    case FA_PROTO_FRAME:
        return "FRAME";
    case FA_PROTO_TAGS:
        return "TAGS";
    case FA_PROTO_BYE:
        return "BYE";
    case FA_PROTO_SITES:
        return "SITES";
    }
    return "UNKNOWN";
}

const char *fa_proto_drop_name(int reason) {
    switch (reason) {
#define FA_PROTO__DROP_TEXT(name, value, text)                                                               \
    case value:                                                                                              \
        return text;
        FA_PROTO_DROP_TABLE(FA_PROTO__DROP_TEXT)
#undef FA_PROTO__DROP_TEXT
    }
    return "unknown";
}

fa_proto_str_t fa_proto_str(const char *cstr) {
    fa_proto_str_t s = {"", 0};
    if (cstr) {
        s.data = cstr;
        s.len = strlen(cstr);
    }
    return s;
}

int fa_proto_str_copy(char *dst, size_t cap, fa_proto_str_t s) {
    if (!dst || cap == 0) return FA_PROTO_ERR_INVALID_ARG;
    size_t n = s.data ? s.len : 0;
    if (n > cap - 1) n = cap - 1;
    /* The result must fit an int; strings of the protocol are <= 255. */
    if (n > (size_t)INT32_MAX) n = (size_t)INT32_MAX;
    if (n) memcpy(dst, s.data, n);
    dst[n] = '\0';
    return (int)n;
}
