/*
 * units.h — durations and byte sizes as people type and read them, shared
 * by the programs (fa-cli, fa-insightd) through libfa-text, so that both
 * accept exactly the same spellings.
 *
 * Pure functions of their arguments: no allocation, no global state, any
 * thread. Out-parameters are written only on success.
 */
#ifndef FA_TEXT_UNITS_H
#define FA_TEXT_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a whole number followed by an optional unit into milliseconds:
 * "250ms", "10s", "5m" or "5min", "2h", "1d"; a bare number is seconds.
 * Zero is accepted ("0s"): callers bound the value themselves. Returns 0, or
 * -1 for an empty string, a sign, a fraction, an unknown unit or an
 * overflow of 64 bits. O(length). */
int units_parse_duration(const char *s, uint64_t *out_ms);

/* Parses a byte size: a whole number with an optional binary unit, B, K or
 * KiB, M or MiB, G or GiB, T or TiB (case-insensitive; 1 K = 1024 B). A
 * bare number is bytes. "KB"/"MB"/"GB" are refused because they are
 * ambiguous (1000 or 1024). Returns 0, or -1 as units_parse_duration. */
int units_parse_bytes(const char *s, uint64_t *out_bytes);

/* Writes a byte count with three significant digits and a binary unit:
 * "512 B", "1.50 KiB", "12.0 MiB", "768 KiB". buf should hold 16 bytes;
 * the text is cut to cap - 1 bytes otherwise. Returns buf. */
const char *units_format_bytes(char *buf, size_t cap, uint64_t bytes);

/* Writes v (>= 0) with three significant digits, a space and unit: "1.50
 * ms", "12.3 k", "512 KiB". Values from 999.5 up print without decimals.
 * Returns buf. */
const char *units_format_3sig(char *buf, size_t cap, double v, const char *unit);

#endif
