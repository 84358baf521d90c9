/* sid.h — session ids in text (any thread, no state).
 *
 * A session id is a u64 chosen by the agent. It is written as exactly 16
 * lower-case hex digits everywhere (JSON, URLs, logs, cursors): a u64 does
 * not fit a JavaScript number. */
#ifndef FA_INSIGHTD_SID_H
#define FA_INSIGHTD_SID_H

#include <stdint.h>
#include <string.h>

#define SID_HEX_LEN 16

static inline void sid_format(uint64_t id, char out[SID_HEX_LEN + 1]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = SID_HEX_LEN - 1; i >= 0; i--) {
        out[i] = hex[id & 0xfu];
        id >>= 4;
    }
    out[SID_HEX_LEN] = '\0';
}

/* Parses exactly 16 hex digits (either case) into *out. Returns 0, or -1
 * for anything else (other lengths, signs, spaces, the id 0). */
static inline int sid_parse(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (strnlen(s, SID_HEX_LEN + 1) != SID_HEX_LEN) return -1;
    for (int i = 0; i < SID_HEX_LEN; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return -1;
        v = (v << 4) | d;
    }
    if (v == 0) return -1;
    *out = v;
    return 0;
}

#endif
