/* error.c — the proto error table's message and name lookups. */
#include "proto_internal.h"

const char *fa_proto_strerror(int err) {
    switch (err) {
#define FA_PROTO__ERR_MSG(name, value, msg)                                                                  \
    case value:                                                                                              \
        return msg;
        FA_PROTO_ERR_TABLE(FA_PROTO__ERR_MSG)
#undef FA_PROTO__ERR_MSG
    }
    return "unknown error";
}

const char *fa_proto_err_name(int err) {
    switch (err) {
#define FA_PROTO__ERR_NAME(name, value, msg)                                                                 \
    case value:                                                                                              \
        return #name;
        FA_PROTO_ERR_TABLE(FA_PROTO__ERR_NAME)
#undef FA_PROTO__ERR_NAME
    }
    return "FA_PROTO_ERR_UNKNOWN";
}
