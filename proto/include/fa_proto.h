/*
 * fa_proto.h — the wire format between fa-agent (in the game) and
 * fa-insightd (the daemon): encoder, total decoder, limits and errors.
 *
 * WHAT IT IS
 *   One nng message carries exactly one protocol message: a 28-byte header
 *   (magic "FAPM", version, type, flags, body length, session id, sequence
 *   number) followed by the body. Five message types: HELLO (a session
 *   starts: app, host, pid, tag dictionary), FRAME (one snapshot per frame,
 *   with call-site rows since 1.1), TAGS (tags added or budgets changed),
 *   BYE (the session ends), SITES (1.1: call sites defined) and FRAMES
 *   (1.2: several frames in one message, tag rows sent only when they
 *   changed since the previous frame; fa_proto_frames_next() reads them
 *   and fa_proto_frame_rebuild() gives back the whole rows). Since 1.2 a
 *   HELLO may also carry the daemon's shared ingest secret. All
 *   integers are little-endian; strings are length-prefixed views. The
 *   format is specified byte by byte in proto/PROTOCOL.md.
 *
 * QUICK START (agent side: encode)
 *     fa_proto_msg_t m = {0};
 *     m.header.type = FA_PROTO_FRAME;
 *     m.header.session_id = session_id;      // random, non-zero
 *     m.header.seq = next_seq++;
 *     fa_proto_frame_from_snapshot(&m.frame, &snap, stats, cap, threads, cap);
 *     int n = fa_proto_encode(&m, slot, slot_size);   // bytes or < 0
 *
 * QUICK START (daemon side: decode)
 *     static fa_proto_space_t space;          // ~600 KiB: not on a stack
 *     fa_proto_storage_t st = fa_proto_storage_of(&space);
 *     fa_proto_msg_t m;
 *     int rc = fa_proto_decode(buf, len, &m, &st);
 *     if (rc < 0) count_rejected(rc);        // fa_proto_err_name(rc)
 *     else switch (m.header.type) { case FA_PROTO_FRAME: ... }
 *
 * OWNERSHIP
 *   Nothing in this library allocates. The encoder writes into a caller
 *   buffer. The decoder writes rows into caller storage (fa_proto_storage_t)
 *   and its strings are views into the INPUT buffer: a decoded message is
 *   valid only while both the input bytes and the storage are alive and
 *   unchanged. Decoded strings are NOT NUL-terminated.
 *
 * THREADS
 *   Every function is reentrant: it touches only its arguments. Two threads
 *   may encode or decode at once if they use distinct buffers and storage.
 *
 * ERRORS
 *   Functions return FA_PROTO_OK (0), a byte count (>= 0) where documented,
 *   or a negative fa_proto_err. The decoder is total: for ANY byte string it
 *   returns a message or one of these errors, never reads outside
 *   [buf, buf + len) and never crashes. Out-parameters are written only on
 *   success (decode storage arrays excepted: their contents are unspecified
 *   after a failed decode).
 */
#ifndef FA_PROTO_H
#define FA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FA_PROTO_API
#elif defined(__GNUC__)
#define FA_PROTO_API __attribute__((visibility("default")))
#else
#define FA_PROTO_API
#endif

#if defined(__GNUC__)
#define FA_PROTO_NODISCARD __attribute__((warn_unused_result))
#else
#define FA_PROTO_NODISCARD
#endif

/* ------------------------------------------------------------------------ */
/* Versions and limits (see PROTOCOL.md, "Limits")                           */
/* ------------------------------------------------------------------------ */

/* The protocol version this library writes. A decoder accepts every minor
 * version of its major version (newer minors only append bytes it skips)
 * and rejects any other major version with FA_PROTO_ERR_BAD_VERSION. */
#define FA_PROTO_VERSION_MAJOR 1
#define FA_PROTO_VERSION_MINOR 2

/* The four magic bytes at offset 0 of every message: "FAPM". */
#define FA_PROTO_MAGIC_0 0x46 /* 'F' */
#define FA_PROTO_MAGIC_1 0x41 /* 'A' */
#define FA_PROTO_MAGIC_2 0x50 /* 'P' */
#define FA_PROTO_MAGIC_3 0x4D /* 'M' */

/* Size of the fixed message header in bytes. */
#define FA_PROTO_HEADER_SIZE 28u
/* Largest whole message (header + body) a v1 peer sends or accepts: 2 MiB,
 * so that a HELLO with FA_PROTO_MAX_ROWS tags of maximal paths fits. */
#define FA_PROTO_MAX_MESSAGE (2u * 1024u * 1024u)
/* Most rows in one section of one message (tag definitions, tag rows,
 * thread rows, findings). Tag ids themselves range over 0..65535. */
#define FA_PROTO_MAX_ROWS 4096u
/* Most drop-reason rows in a BYE. */
#define FA_PROTO_MAX_DROPS 64u
/* Most per-kind totals rows a v1 decoder accepts in a FRAME (it keeps the
 * first FA_PROTO_KIND_COUNT and skips the rest). */
#define FA_PROTO_MAX_KINDS 16u
/* Longest string in bytes (app name, label, host, build id, tag path). */
#define FA_PROTO_MAX_STRING 255u

/* Wire sizes of v1 rows (the "stride" a v1 encoder writes; a decoder
 * accepts larger strides and skips the extra bytes of each row). */
#define FA_PROTO_KIND_ROW_SIZE 40u    /* 5 x u64 */
#define FA_PROTO_TAG_DEF_ROW_SIZE 20u /* fixed part; the path string follows */
#define FA_PROTO_TAG_STAT_ROW_SIZE 50u
#define FA_PROTO_THREAD_ROW_SIZE 33u
#define FA_PROTO_FINDING_ROW_SIZE 17u
#define FA_PROTO_DROP_ROW_SIZE 10u
/* 1.1 rows. */
#define FA_PROTO_SITE_DEF_ROW_SIZE 9u /* fixed part; file and function follow */
#define FA_PROTO_SITE_ROW_SIZE 30u
/* 1.2: entries per FRAMES message, and the fixed part of an entry before
 * its FRAME body (u32 length, u8 flags, u64 base frame, u32 tag rows). */
#define FA_PROTO_MAX_BATCH 256u
#define FA_PROTO_FRAMES_ENTRY_HEADER 17u

/* Exact encoded size of a 1.1 FRAME with the given row counts, for sizing
 * agent ring slots: header 28, fixed fields 144, then four sections (4-byte
 * section header each) of 3 kind rows, tag rows, thread rows, findings, and
 * the 1.1 part: u32 sites_total and a section of site rows. */
#define FA_PROTO_FRAME_SIZE(tag_rows, thread_rows, findings, site_rows)                                      \
    (FA_PROTO_HEADER_SIZE + 144u + 4u + 3u * FA_PROTO_KIND_ROW_SIZE + 4u +                                   \
     (tag_rows)*FA_PROTO_TAG_STAT_ROW_SIZE + 4u + (thread_rows)*FA_PROTO_THREAD_ROW_SIZE + 4u +              \
     (findings)*FA_PROTO_FINDING_ROW_SIZE + 4u + 4u + (site_rows)*FA_PROTO_SITE_ROW_SIZE)

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/* One table: name, value, message. Values are stable across versions; the
 * daemon counts rejected messages by these names. */
#define FA_PROTO_ERR_TABLE(X)                                                                                \
    X(FA_PROTO_OK, 0, "success")                                                                             \
    X(FA_PROTO_ERR_INVALID_ARG, -1, "invalid argument")                                                      \
    X(FA_PROTO_ERR_TRUNCATED, -2, "message shorter than its header declares")                                \
    X(FA_PROTO_ERR_BAD_MAGIC, -3, "not a framealloc protocol message")                                       \
    X(FA_PROTO_ERR_BAD_VERSION, -4, "unsupported protocol major version")                                    \
    X(FA_PROTO_ERR_UNKNOWN_TYPE, -5, "unknown message type")                                                 \
    X(FA_PROTO_ERR_LENGTH, -6, "bytes after the end of the declared message")                                \
    X(FA_PROTO_ERR_TOO_LARGE, -7, "message larger than the protocol maximum")                                \
    X(FA_PROTO_ERR_SHORT_BODY, -8, "message body ends inside a field")                                       \
    X(FA_PROTO_ERR_STRING_TOO_LONG, -9, "string longer than 255 bytes")                                      \
    X(FA_PROTO_ERR_BAD_STRING, -10, "control character in a tag path")                                       \
    X(FA_PROTO_ERR_TOO_MANY_ROWS, -11, "section has more rows than allowed")                                 \
    X(FA_PROTO_ERR_BAD_STRIDE, -12, "row size smaller than the version's")                                   \
    X(FA_PROTO_ERR_BAD_SESSION, -13, "session id is zero")                                                   \
    X(FA_PROTO_ERR_BUFFER_SMALL, -14, "output buffer too small")                                             \
    X(FA_PROTO_ERR_STORAGE_SMALL, -15, "decode storage too small for rows")                                  \
    X(FA_PROTO_ERR_BAD_DELTA, -16, "delta entry with unordered tag rows or more rows than its frame")        \
    X(FA_PROTO_ERR_NO_BASE, -17, "delta frame whose previous frame was not received")

typedef enum fa_proto_err {
#define FA_PROTO__ERR_ENUM(name, value, msg) name = value,
    FA_PROTO_ERR_TABLE(FA_PROTO__ERR_ENUM)
#undef FA_PROTO__ERR_ENUM
} fa_proto_err;

/* The message of an error code ("unknown error" for other values). Static
 * storage, any thread, O(1). */
FA_PROTO_API const char *fa_proto_strerror(int err);
/* The enum name of an error code, e.g. "FA_PROTO_ERR_TRUNCATED"
 * ("FA_PROTO_ERR_UNKNOWN" for other values). Static storage, any thread. */
FA_PROTO_API const char *fa_proto_err_name(int err);

/* ------------------------------------------------------------------------ */
/* Message model                                                             */
/* ------------------------------------------------------------------------ */

/* Message types (header byte 6). Other values are FA_PROTO_ERR_UNKNOWN_TYPE,
 * which a daemon counts and ignores. */
typedef enum fa_proto_type {
    FA_PROTO_HELLO = 1, /* a session starts */
    FA_PROTO_FRAME = 2, /* one frame's snapshot */
    FA_PROTO_TAGS = 3,  /* tags added, or budgets changed */
    FA_PROTO_BYE = 4,   /* the session ends */
    FA_PROTO_SITES = 5, /* 1.1: call sites defined (a 1.0 reader: UNKNOWN_TYPE) */
    FA_PROTO_FRAMES = 6 /* 1.2: a batch of frames, tag rows as deltas (a 1.1 reader: UNKNOWN_TYPE) */
} fa_proto_type;

/* The name of a message type ("HELLO", ...; "UNKNOWN" otherwise). Static
 * storage, any thread. */
FA_PROTO_API const char *fa_proto_type_name(int type);

/* Why an agent dropped frames (BYE drop rows). Values are stable. */
#define FA_PROTO_DROP_TABLE(X)                                                                               \
    X(FA_PROTO_DROP_RING_FULL, 1, "ring_full")         /* sender too slow */                                 \
    X(FA_PROTO_DROP_SEND_FAILED, 2, "send_failed")     /* nng would block/err */                             \
    X(FA_PROTO_DROP_ENCODE_FAILED, 3, "encode_failed") /* slot too small */                                  \
    X(FA_PROTO_DROP_DISCONNECTED, 4, "disconnected")   /* no daemon attached */

typedef enum fa_proto_drop_reason {
#define FA_PROTO__DROP_ENUM(name, value, text) name = value,
    FA_PROTO_DROP_TABLE(FA_PROTO__DROP_ENUM)
#undef FA_PROTO__DROP_ENUM
} fa_proto_drop_reason;

/* The short name of a drop reason ("ring_full", ...; "unknown" otherwise).
 * Static storage, any thread. */
FA_PROTO_API const char *fa_proto_drop_name(int reason);

/* Indexes of fa_proto_frame_t.totals; the same values as lib's fa_kind. */
#define FA_PROTO_KIND_FRAME 0
#define FA_PROTO_KIND_POOL 1
#define FA_PROTO_KIND_HEAP 2
#define FA_PROTO_KIND_COUNT 3

/* Bits of fa_proto_thread_row_t.flags. Unknown bits are carried as is. */
#define FA_PROTO_THREAD_IN_FRAME 0x01u

/* A byte string that is not NUL-terminated. When encoding, data may be NULL
 * only if len is 0. When decoding, data points INTO the input buffer. */
typedef struct fa_proto_str {
    const char *data;
    size_t len;
} fa_proto_str_t;

/* A view of a NUL-terminated string (NULL gives the empty string). The
 * string MUST outlive the view. O(strlen). */
FA_PROTO_API fa_proto_str_t fa_proto_str(const char *cstr);

/* Copies s into dst as a NUL-terminated string, truncated to cap - 1 bytes.
 * Returns the bytes copied (without the NUL) or FA_PROTO_ERR_INVALID_ARG
 * when dst is NULL or cap is 0. O(len). */
FA_PROTO_API int fa_proto_str_copy(char *dst, size_t cap, fa_proto_str_t s);

/* The fixed header of every message. On encode, the version and body_len
 * fields are ignored (the encoder writes its own); on decode all are set. */
typedef struct fa_proto_header {
    uint8_t version_major;
    uint8_t version_minor;
    uint8_t type;        /* fa_proto_type */
    uint8_t flags;       /* reserved: v1 writes what is given (0), ignores */
    uint32_t body_len;   /* bytes after the header */
    uint64_t session_id; /* random, non-zero, the same for a whole session */
    uint64_t seq;        /* 0 for the first HELLO, +1 per message encoded */
} fa_proto_header_t;

/* One entry of a tag dictionary (HELLO, TAGS). A TAGS entry whose id is
 * already known replaces the earlier one (budget changes). */
typedef struct fa_proto_tag_def {
    uint16_t id;
    uint16_t parent_id;   /* the root (id 0) is its own parent */
    uint64_t budget_soft; /* bytes; 0 when none */
    uint64_t budget_hard; /* bytes; 0 when none */
    fa_proto_str_t path;  /* "physics/contacts"; "" for the root; at most
                             255 bytes, no byte < 0x20 nor 0x7F */
} fa_proto_tag_def_t;

/* One allocator kind's totals (FRAME), as lib's fa_kind_totals_t. */
typedef struct fa_proto_kind_totals {
    uint64_t in_use;      /* frame: arena bytes used; pool/heap: live bytes */
    uint64_t peak;        /* high-water mark of in_use within the frame */
    uint64_t alloc_count; /* allocations in this frame */
    uint64_t alloc_bytes; /* bytes allocated in this frame */
    uint64_t free_count;  /* frees in this frame */
} fa_proto_kind_totals_t;

/* One tag's figures in a FRAME. The self_* figures count allocations made
 * with this tag current; live_bytes and peak_bytes include descendants. */
typedef struct fa_proto_tag_stat {
    uint16_t id;
    uint64_t frame_bytes; /* self: frame bytes allocated this frame */
    uint64_t pool_bytes;  /* self: live pool bytes */
    uint64_t heap_bytes;  /* self: live heap bytes */
    uint64_t alloc_count; /* self: allocations of any kind this frame */
    uint64_t live_bytes;  /* tag + descendants: frame + pool + heap */
    uint64_t peak_bytes;  /* high-water mark of live_bytes within the frame */
} fa_proto_tag_stat_t;

/* One thread's arena figures in a FRAME, as lib's fa_thread_row_t. */
typedef struct fa_proto_thread_row {
    uint32_t index;           /* registration order in the context */
    uint32_t overflow_chunks; /* chunks beyond the first in use */
    uint64_t frame_used;      /* arena bytes in use */
    uint64_t frame_capacity;  /* arena bytes reserved */
    uint64_t frames;          /* frames this thread has ended */
    uint8_t flags;            /* FA_PROTO_THREAD_* bits */
} fa_proto_thread_row_t;

/* One behaviour-filter finding in a FRAME, as lib's fa_finding_t. code is
 * lib's fa_finding_code, opaque to the protocol; value's meaning depends on
 * code (bytes, frames...). */
typedef struct fa_proto_finding {
    uint16_t code;
    uint16_t tag_id; /* the tag the pattern was seen under */
    uint8_t kind;    /* FA_PROTO_KIND_* concerned */
    uint32_t count;  /* occurrences in the filter's window */
    uint64_t value;
} fa_proto_finding_t;

/* Frame-retention outcomes of the frame (lib's fa_promotion_totals_t). */
typedef struct fa_proto_promotions {
    uint64_t promoted_count, promoted_bytes;   /* moved to pool or heap */
    uint64_t failed_count, failed_bytes;       /* could not be promoted */
    uint64_t retained_count, retained_bytes;   /* kept for N more frames */
    uint64_t discarded_count, discarded_bytes; /* marked, then released */
} fa_proto_promotions_t;

/* Cross-thread transfers since the allocator was created (lib's
 * fa_transfer_totals_t). */
typedef struct fa_proto_transfers {
    uint64_t created, received, released, dropped_unreceived, in_flight;
} fa_proto_transfers_t;

/* One BYE drop counter. */
typedef struct fa_proto_drop {
    uint16_t reason; /* fa_proto_drop_reason; unknown values carried as is */
    uint64_t count;
} fa_proto_drop_t;

/* 1.1: one call site of the program (SITES). Its id is the one site rows
 * use; 0 is never a site (rows with site_id 0 are a tag's "other sites").
 * file and function are opaque bytes (at most 255: an agent keeps the end
 * of a longer path); consumers escape them for display. */
typedef struct fa_proto_site_def {
    uint32_t id;
    uint32_t line;          /* 0: the unknown site of its kind (direct calls) */
    uint8_t kind;           /* FA_PROTO_KIND_* of the allocating call */
    fa_proto_str_t file;
    fa_proto_str_t function;
} fa_proto_site_def_t;

/* 1.1: one call site's figures under one tag in a FRAME (lib's
 * fa_site_row_t). For every tag, the rows with its id add up exactly to the
 * tag row: count to alloc_count, live_bytes to frame + pool + heap bytes. */
typedef struct fa_proto_site_row {
    uint32_t site_id;    /* 0: the rest of the tag's sites ("other") */
    uint16_t tag_id;
    uint64_t bytes;      /* bytes allocated in the frame */
    uint64_t count;      /* allocations made in the frame */
    uint64_t live_bytes; /* frame bytes in open frames + live pool and heap bytes */
} fa_proto_site_row_t;

/* HELLO: the first message of a session. */
typedef struct fa_proto_hello {
    uint32_t pid;
    uint32_t lib_version;   /* major << 16 | minor << 8 | patch of lib */
    uint64_t start_unix_ns; /* CLOCK_REALTIME at agent start */
    uint64_t start_mono_ns; /* CLOCK_MONOTONIC at the same instant: maps
                               FRAME start_ns to wall time */
    fa_proto_str_t app_name;
    fa_proto_str_t session_label; /* free text chosen by the game, may be "" */
    fa_proto_str_t host;
    fa_proto_str_t build_id;
    const fa_proto_tag_def_t *tags; /* the dictionary known at start */
    uint32_t tag_count;             /* <= FA_PROTO_MAX_ROWS */
    /* 1.2: the shared ingest secret a daemon started with one requires
     * (PROTOCOL.md §5.1); "" when none. Opaque bytes, at most 255. It is
     * sent in clear inside the message: only a tls+tcp:// transport keeps
     * it from the network. A 1.1 HELLO decodes with an empty secret. */
    fa_proto_str_t ingest_secret;
} fa_proto_hello_t;

/* FRAME: one snapshot, sent after the frame ended. */
typedef struct fa_proto_frame {
    uint64_t frame;    /* lib's fa_frame_number() */
    uint64_t start_ns; /* CLOCK_MONOTONIC of the frame's begin */
    uint64_t duration_ns;
    uint32_t frames_dropped;   /* frames the agent dropped since the
                                  previous FRAME it encoded */
    uint32_t tags_total;       /* tags that exist (> tag_count: truncated) */
    uint32_t threads_total;    /* threads that exist */
    uint32_t findings_dropped; /* findings that did not fit this message */
    fa_proto_promotions_t promotions;
    fa_proto_transfers_t transfers;
    fa_proto_kind_totals_t totals[FA_PROTO_KIND_COUNT]; /* FA_PROTO_KIND_* */
    const fa_proto_tag_stat_t *tags;
    uint32_t tag_count; /* <= FA_PROTO_MAX_ROWS, each of the following too */
    const fa_proto_thread_row_t *threads;
    uint32_t thread_count;
    const fa_proto_finding_t *findings;
    uint32_t finding_count;
    /* 1.1 (absent from a 1.0 FRAME: decoded as 0 and none). */
    uint32_t sites_total;               /* (site, tag) pairs active in the frame */
    const fa_proto_site_row_t *sites;   /* the largest, then one "other" row per tag */
    uint32_t site_count;                /* <= FA_PROTO_MAX_ROWS */
} fa_proto_frame_t;

/* TAGS: tags that appeared, or whose budget changed, since the last HELLO
 * or TAGS of the session. */
typedef struct fa_proto_tags {
    const fa_proto_tag_def_t *tags;
    uint32_t tag_count;
} fa_proto_tags_t;

/* 1.1 SITES: call sites the session's FRAMEs use, each defined once per
 * connection (again after a reconnection), before the first FRAME that
 * names it. A definition whose id is already known replaces it. */
typedef struct fa_proto_sites {
    const fa_proto_site_def_t *sites;
    uint32_t site_count; /* <= FA_PROTO_MAX_ROWS */
} fa_proto_sites_t;

/* 1.2: one frame of a FRAMES message, its tag rows in increasing id order.
 * A key entry (delta false) carries every tag row of its frame; a delta
 * entry only the rows that differ from
 * the previous frame of the session, base_frame, in the same sink (stream),
 * ordered by id: the rows it does not carry are base_frame's.
 * fa_proto_frame_rebuild() turns it into the whole frame. */
typedef struct fa_proto_frame_entry {
    bool delta;
    uint64_t base_frame;    /* delta: the `frame` of the frame it follows; key: 0 */
    uint32_t tag_rows;      /* rows of the whole frame (key: frame.tag_count) */
    fa_proto_frame_t frame; /* its tag rows: all (key) or the changed ones (delta) */
} fa_proto_frame_entry_t;

/* 1.2 FRAMES: frames of one session in one message, oldest first.
 * Encoding: entries[0..count). Decoding: entries is NULL and data/size
 * view the entries' bytes in the input (every entry was checked): read
 * them with fa_proto_frames_next(). A decoded FRAMES re-encodes those
 * bytes as they are. */
typedef struct fa_proto_frames {
    uint32_t count; /* <= FA_PROTO_MAX_BATCH */
    const fa_proto_frame_entry_t *entries;
    const uint8_t *data;
    size_t size;
} fa_proto_frames_t;

/* BYE: the last message of a session. */
typedef struct fa_proto_bye {
    uint64_t frames_sent;         /* FRAME messages handed to nng */
    uint64_t frames_dropped;      /* all frames dropped in the session */
    const fa_proto_drop_t *drops; /* the same split by reason */
    uint32_t drop_count;          /* <= FA_PROTO_MAX_DROPS */
} fa_proto_bye_t;

/* One message: header.type says which member of the union is meaningful. */
typedef struct fa_proto_msg {
    fa_proto_header_t header;
    union {
        fa_proto_hello_t hello;
        fa_proto_frame_t frame;
        fa_proto_tags_t tags;
        fa_proto_bye_t bye;
        fa_proto_sites_t sites;
        fa_proto_frames_t frames;
    };
} fa_proto_msg_t;

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */
/* ------------------------------------------------------------------------ */

/* The exact number of bytes fa_proto_encode() would write for msg, or a
 * negative error when msg cannot be encoded: FA_PROTO_ERR_INVALID_ARG (NULL
 * msg, NULL data with a non-zero length or count), FA_PROTO_ERR_UNKNOWN_TYPE,
 * FA_PROTO_ERR_BAD_SESSION (session_id 0), FA_PROTO_ERR_STRING_TOO_LONG,
 * FA_PROTO_ERR_BAD_STRING (control byte in a tag path),
 * FA_PROTO_ERR_TOO_MANY_ROWS or FA_PROTO_ERR_TOO_LARGE. Any thread; no
 * allocation; O(rows + tag path bytes). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_encoded_size(const fa_proto_msg_t *msg);

/* Encodes msg into buf[0..cap) and returns the bytes written (the whole
 * message: header + body), or a negative error: any of
 * fa_proto_encoded_size()'s, or FA_PROTO_ERR_BUFFER_SMALL when cap is less
 * than that size. On error nothing is written. The version fields and
 * body_len of msg->header are ignored; type, flags, session_id and seq are
 * written as given. Everything encoded decodes back equal. Any thread; no
 * allocation, no lock; O(rows + string bytes) — it validates first, then
 * writes in one pass. */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_encode(const fa_proto_msg_t *msg, void *buf, size_t cap);

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */
/* ------------------------------------------------------------------------ */

/* Caller-owned arrays the decoder fills with a message's rows. Each pointer
 * may be NULL with capacity 0 when the caller expects no such rows; a
 * message with more rows than a capacity fails with
 * FA_PROTO_ERR_STORAGE_SMALL. The decoded message points into these
 * arrays, so they MUST outlive it and not be reused while it is in use. */
typedef struct fa_proto_storage {
    fa_proto_tag_def_t *tag_defs; /* HELLO and TAGS */
    uint32_t tag_defs_capacity;
    fa_proto_tag_stat_t *tag_stats; /* FRAME */
    uint32_t tag_stats_capacity;
    fa_proto_thread_row_t *threads; /* FRAME */
    uint32_t threads_capacity;
    fa_proto_finding_t *findings; /* FRAME */
    uint32_t findings_capacity;
    fa_proto_drop_t *drops; /* BYE */
    uint32_t drops_capacity;
    fa_proto_site_def_t *site_defs; /* SITES (1.1) */
    uint32_t site_defs_capacity;
    fa_proto_site_row_t *site_rows; /* FRAME (1.1) */
    uint32_t site_rows_capacity;
} fa_proto_storage_t;

/* Storage large enough for any valid v1 message (about 1 MiB: allocate it
 * once, statically or on the heap, never on a small stack). */
typedef struct fa_proto_space {
    fa_proto_tag_def_t tag_defs[FA_PROTO_MAX_ROWS];
    fa_proto_tag_stat_t tag_stats[FA_PROTO_MAX_ROWS];
    fa_proto_thread_row_t threads[FA_PROTO_MAX_ROWS];
    fa_proto_finding_t findings[FA_PROTO_MAX_ROWS];
    fa_proto_drop_t drops[FA_PROTO_MAX_DROPS];
    fa_proto_site_def_t site_defs[FA_PROTO_MAX_ROWS];
    fa_proto_site_row_t site_rows[FA_PROTO_MAX_ROWS];
} fa_proto_space_t;

/* A storage descriptor whose arrays are those of space, at full capacity.
 * space MUST outlive every message decoded with it. O(1). */
FA_PROTO_API fa_proto_storage_t fa_proto_storage_of(fa_proto_space_t *space);

/* Checks the framing of buf[0..len) and decodes its header only: magic,
 * major version, body length against len and FA_PROTO_MAX_MESSAGE, and a
 * non-zero session id. The type is NOT checked, so a daemon can attribute a
 * message of an unknown type to its session. Returns FA_PROTO_OK and fills
 * *out, or FA_PROTO_ERR_TRUNCATED / _BAD_MAGIC / _BAD_VERSION / _TOO_LARGE
 * / _LENGTH / _BAD_SESSION / _INVALID_ARG (see PROTOCOL.md for the order
 * of the checks). Any thread; reads at most the first 28 bytes; O(1). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_decode_header(const void *buf, size_t len,
                                                           fa_proto_header_t *out);

/* Decodes the one message in buf[0..len). Total: every byte string gives
 * FA_PROTO_OK with *out filled, or a negative error (any of
 * fa_proto_decode_header()'s, then FA_PROTO_ERR_UNKNOWN_TYPE,
 * FA_PROTO_ERR_SHORT_BODY, FA_PROTO_ERR_STRING_TOO_LONG,
 * FA_PROTO_ERR_BAD_STRING, FA_PROTO_ERR_TOO_MANY_ROWS,
 * FA_PROTO_ERR_BAD_STRIDE, or FA_PROTO_ERR_STORAGE_SMALL); it never reads
 * outside buf[0..len). Unknown bytes at the end of a row (stride larger than
 * v1's) or at the end of the body are skipped. On success *out's strings
 * point into buf and its rows into storage's arrays; on error *out is
 * untouched and storage's arrays hold unspecified rows. storage may be NULL
 * when no rows are expected (a message with rows then fails with
 * FA_PROTO_ERR_STORAGE_SMALL). Any thread; no allocation; O(len). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_decode(const void *buf, size_t len, fa_proto_msg_t *out,
                                                    const fa_proto_storage_t *storage);

/* ------------------------------------------------------------------------ */
/* 1.2: batches of frames and tag-row deltas (PROTOCOL.md 5.6 and 8)          */
/* ------------------------------------------------------------------------ */

/* A FRAMES message being built in a caller buffer, entry by entry, so that
 * a sender needs row storage for one frame only. Fields are private. */
typedef struct fa_proto_batch {
    uint8_t *buf;
    size_t cap, len;
    uint32_t count;
} fa_proto_batch_t;

/* Starts a FRAMES message in buf[0..cap). FA_PROTO_OK, or
 * FA_PROTO_ERR_INVALID_ARG (NULL b or buf) / FA_PROTO_ERR_BUFFER_SMALL.
 * buf MUST outlive the batch. O(1). */
FA_PROTO_API int fa_proto_batch_init(fa_proto_batch_t *b, void *buf, size_t cap);

/* Appends one entry. Returns FA_PROTO_OK, or leaves the batch as it was and
 * returns FA_PROTO_ERR_BUFFER_SMALL (the buffer is full: finish this batch
 * and start another), FA_PROTO_ERR_TOO_MANY_ROWS (FA_PROTO_MAX_BATCH
 * entries already), FA_PROTO_ERR_TOO_LARGE (the message would pass 2 MiB),
 * FA_PROTO_ERR_BAD_DELTA (rows not in increasing id order, a key whose
 * tag_rows differs from its rows, a delta whose rows outnumber tag_rows),
 * or fa_proto_encoded_size()'s errors for its FRAME. Any thread; no
 * allocation; O(rows). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_batch_add(fa_proto_batch_t *b, const fa_proto_frame_entry_t *e);

/* Writes the message header (type FRAMES; session_id, seq and flags from
 * header) and returns the message's size in bytes, or
 * FA_PROTO_ERR_BAD_SESSION / FA_PROTO_ERR_INVALID_ARG. The batch may be
 * reused after fa_proto_batch_init(). O(1). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_batch_finish(fa_proto_batch_t *b,
                                                          const fa_proto_header_t *header);

/* The next entry of a decoded FRAMES message: *offset starts at 0 and is
 * advanced past the entry. Returns 1 with *out filled (its rows in
 * storage, its strings none), 0 after the last entry, or a negative error
 * when storage is smaller than the one the message was decoded with. Any
 * thread; no allocation; O(rows). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_frames_next(const fa_proto_frames_t *frames, size_t *offset,
                                                         fa_proto_frame_entry_t *out,
                                                         const fa_proto_storage_t *storage);

/* Writer side: the rows of cur[0..cur_count) that differ from the row of
 * the same id in prev[0..prev_count) (both ordered by id), written into
 * out[] (capacity cur_count is always enough). Returns how many, or
 * FA_PROTO_ERR_BAD_DELTA when cur cannot be expressed as a delta of prev
 * (a row of prev is missing from cur, or either is not ordered by id):
 * send a key entry. Any thread; O(prev_count + cur_count). */
FA_PROTO_API int fa_proto_tag_rows_delta(const fa_proto_tag_stat_t *prev, uint32_t prev_count,
                                         const fa_proto_tag_stat_t *cur, uint32_t cur_count,
                                         fa_proto_tag_stat_t *out);

/* Reader side: the whole tag rows of a session's latest frame, kept
 * between entries by the caller (one per session and stream). rows and
 * scratch are caller arrays of `capacity` rows each; zero-initialise the
 * rest. Not thread-safe: one reader at a time. */
typedef struct fa_proto_tag_base {
    fa_proto_tag_stat_t *rows, *scratch;
    uint32_t capacity;
    uint32_t count;
    uint64_t frame; /* the `frame` of the rows */
    bool valid;     /* false until a key entry, and after a failure */
} fa_proto_tag_base_t;

/* Turns entry e into its whole frame: a key replaces the base's rows; a
 * delta whose base_frame is the base's frame merges its rows into them.
 * On FA_PROTO_OK e->frame.tags/tag_count are the whole rows (base->rows,
 * valid until the next call) and the base is e's frame. Errors, after
 * which the base is invalid until the next key: FA_PROTO_ERR_NO_BASE (a
 * delta that does not follow the base: a message was lost),
 * FA_PROTO_ERR_BAD_DELTA (the merge does not give tag_rows rows),
 * FA_PROTO_ERR_STORAGE_SMALL (tag_rows above capacity). O(rows). */
FA_PROTO_API FA_PROTO_NODISCARD int fa_proto_frame_rebuild(fa_proto_tag_base_t *base,
                                                           fa_proto_frame_entry_t *e);

/* ------------------------------------------------------------------------ */
/* Building messages from lib snapshots                                      */
/* ------------------------------------------------------------------------ */

struct fa_snapshot; /* lib's fa_snapshot_t (framealloc.h) */

/* Fills *frame from a snapshot taken with lib's fa_snapshot_take(): frame
 * number, start, duration, per-kind totals, promotion and transfer totals,
 * one tag row per snapshot row (its `self` figures, live and peak bytes)
 * and one thread row per snapshot thread row, written into tag_rows[] and
 * thread_rows[] (each truncated to its capacity and to FA_PROTO_MAX_ROWS).
 * tags_total and threads_total are the snapshot's; frames_dropped,
 * findings_dropped, findings and finding_count are set to zero/NULL (see
 * fa_proto_frame_findings_from_snapshot() for the findings). *frame points
 * into tag_rows and thread_rows afterwards, which MUST outlive it. Returns
 * FA_PROTO_OK or FA_PROTO_ERR_INVALID_ARG (NULL frame or snap, NULL arrays
 * with non-zero capacity, or a snapshot whose version is not lib's
 * FA_SNAPSHOT_VERSION). Any thread; no allocation; O(rows). */
FA_PROTO_API int fa_proto_frame_from_snapshot(fa_proto_frame_t *frame, const struct fa_snapshot *snap,
                                              fa_proto_tag_stat_t *tag_rows, uint32_t tag_rows_capacity,
                                              fa_proto_thread_row_t *thread_rows,
                                              uint32_t thread_rows_capacity);

/* Sets frame->findings to one row per snapshot finding, written into
 * rows[] (truncated to capacity and to FA_PROTO_MAX_ROWS), and
 * frame->findings_dropped to the findings the snapshot saw but the frame
 * does not carry (snapshot findings_total minus the rows written). Call it
 * after fa_proto_frame_from_snapshot() with the same snapshot. *frame
 * points into rows afterwards. Returns FA_PROTO_OK or
 * FA_PROTO_ERR_INVALID_ARG (NULL frame or snap, NULL rows with a non-zero
 * capacity, snapshot version not FA_SNAPSHOT_VERSION). Any thread; no
 * allocation; O(findings). */
FA_PROTO_API int fa_proto_frame_findings_from_snapshot(fa_proto_frame_t *frame,
                                                       const struct fa_snapshot *snap,
                                                       fa_proto_finding_t *rows, uint32_t capacity);

/* Writes a tag definition (id, parent, path, budget) into out[] for every
 * snapshot row whose id is >= first_id, in row order, at most capacity of
 * them, and returns how many it wrote (>= 0), or FA_PROTO_ERR_INVALID_ARG.
 * first_id 0 gives the whole dictionary for a HELLO; the previous tag count
 * gives the additions for a TAGS message. Paths are views of lib's strings,
 * which live as long as the fa_alloc_t. Any thread; no allocation;
 * O(rows + path bytes). */
FA_PROTO_API int fa_proto_tag_defs_from_snapshot(const struct fa_snapshot *snap, uint32_t first_id,
                                                 fa_proto_tag_def_t *out, uint32_t capacity);

/* 1.1: sets frame->sites to one row per snapshot site row, written into
 * rows[] (at most capacity and FA_PROTO_MAX_ROWS), and frame->sites_total.
 * Rows beyond capacity would break the rows' sums: take the snapshot with
 * sites_capacity <= capacity (FA_PROTO_ERR_TOO_MANY_ROWS otherwise, and
 * *frame is untouched). FA_PROTO_ERR_INVALID_ARG as the functions above.
 * Any thread; no allocation; O(rows). */
FA_PROTO_API int fa_proto_frame_sites_from_snapshot(fa_proto_frame_t *frame, const struct fa_snapshot *snap,
                                                    fa_proto_site_row_t *rows, uint32_t capacity);

/* 1.1: the definition of a site of lib's registry (fa_site_get()): views of
 * its strings, the file cut to its last FA_PROTO_MAX_STRING bytes (the end
 * of a path says most) and the function to its first. Returns FA_PROTO_OK
 * or FA_PROTO_ERR_INVALID_ARG (NULL site or out). Any thread; O(strlen). */
struct fa_site; /* lib's fa_site_t */
FA_PROTO_API int fa_proto_site_def_from_site(fa_proto_site_def_t *out, const struct fa_site *site);

#ifdef __cplusplus
}
#endif
#endif /* FA_PROTO_H */
