/*
 * proto_internal.h — shared by the sources of proto/src only: little-endian byte
 * access and the v1 layout constants that PROTOCOL.md specifies.
 */
#ifndef FA_PROTO_INTERNAL_H
#define FA_PROTO_INTERNAL_H

#include "fa_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Header field offsets (PROTOCOL.md, "Header"). */
#define FA_PROTO__OFF_MAGIC 0u
#define FA_PROTO__OFF_MAJOR 4u
#define FA_PROTO__OFF_MINOR 5u
#define FA_PROTO__OFF_TYPE 6u
#define FA_PROTO__OFF_FLAGS 7u
#define FA_PROTO__OFF_BODY_LEN 8u
#define FA_PROTO__OFF_SESSION 12u
#define FA_PROTO__OFF_SEQ 20u

/* Fixed scalar prefixes of the bodies, in bytes. */
#define FA_PROTO__HELLO_FIXED 24u
#define FA_PROTO__FRAME_FIXED 144u
#define FA_PROTO__BYE_FIXED 16u
/* 1.1: the scalar before a FRAME's site section (u32 sites_total). */
#define FA_PROTO__FRAME_SITES_FIXED 4u
/* 1.2: FRAMES starts with u16 entry count; an entry's flags bit 0 marks
 * a delta. */
#define FA_PROTO__FRAMES_FIXED 2u
#define FA_PROTO__ENTRY_DELTA 0x01u
/* A section header: u16 row count, u16 row stride. */
#define FA_PROTO__SECTION_HEADER 4u
/* A string: u16 length, then the bytes. */
#define FA_PROTO__STRING_HEADER 2u

/* Byte values that a tag path may not contain: C0 controls and DEL. */
static inline bool fa__proto_is_control(unsigned char c) {
    return c < 0x20u || c == 0x7Fu;
}

/* Little-endian access. On a little-endian host a field is one unaligned
 * load or store (memcpy, which compilers turn into a single move): the
 * decoder and encoder spend most of their time here (64 tag rows of 7 u64
 * per frame). Elsewhere, byte by byte. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FA_PROTO__LE_HOST 1
#else
#define FA_PROTO__LE_HOST 0
#endif

static inline void fa__proto_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void fa__proto_put_u32(uint8_t *p, uint32_t v) {
    if (FA_PROTO__LE_HOST) {
        memcpy(p, &v, 4);
        return;
    }
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void fa__proto_put_u64(uint8_t *p, uint64_t v) {
    if (FA_PROTO__LE_HOST) {
        memcpy(p, &v, 8);
        return;
    }
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t fa__proto_get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t fa__proto_get_u32(const uint8_t *p) {
    uint32_t v = 0;
    if (FA_PROTO__LE_HOST) {
        memcpy(&v, p, 4);
        return v;
    }
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static inline uint64_t fa__proto_get_u64(const uint8_t *p) {
    uint64_t v = 0;
    if (FA_PROTO__LE_HOST) {
        memcpy(&v, p, 8);
        return v;
    }
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* 1.2: the stateless rules of a FRAMES entry's tag rows (PROTOCOL.md 5.6):
 * in strictly increasing id order (a delta is merged by id into the rows
 * before it); a key carries exactly tag_rows rows, a delta at most
 * tag_rows; tag_rows is at most FA_PROTO_MAX_ROWS. */
static inline bool fa__proto_entry_counts_ok(bool delta, uint32_t tag_rows, uint32_t count) {
    return tag_rows <= FA_PROTO_MAX_ROWS && (delta ? count <= tag_rows : count == tag_rows);
}
static inline bool fa__proto_entry_rows_ok(bool delta, uint32_t tag_rows, const fa_proto_tag_stat_t *rows,
                                           uint32_t count) {
    if (!fa__proto_entry_counts_ok(delta, tag_rows, count)) return false;
    for (uint32_t i = 1; i < count; i++)
        if (rows[i].id <= rows[i - 1].id) return false;
    return true;
}

#endif /* FA_PROTO_INTERNAL_H */
