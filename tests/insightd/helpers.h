/* helpers.h — shared by the fa-insightd unit tests: temporary directories,
 * protocol messages built with proto/'s encoder, a captured logger. */
#ifndef INSIGHTD_TEST_HELPERS_H
#define INSIGHTD_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alerts.h"
#include "clock.h"
#include "config.h"
#include "ctx.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pack.h"
#include "sessions.h"
#include "sid.h"
#include "static.h"
#include "stats.h"
#include "store.h"
#include "url.h"
#include "view.h"
#include "writer.h"
#include "ws.h"

/* The daemon's info lines (migrations...) would drown Criterion's output. */
__attribute__((constructor)) static void quiet_logs(void) {
    log_level = LOG_WARN;
}

/* A fresh directory under /tmp (malloc'd name), removed by rm_tree. */
static inline char *tmp_dir(void) {
    char *d = strdup("/tmp/insightd-test-XXXXXX");
    cr_assert(mkdtemp(d) != NULL);
    return d;
}

static inline void rm_tree(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert(system(cmd) == 0);
}

/* Encoded messages: tags 0 "" (root), 1 "physics" (hard budget), 2
 * "physics/contacts", 3 "render". */
typedef struct msgbuf {
    uint8_t data[65536];
    size_t len;
} msgbuf_t;

static inline void enc(msgbuf_t *b, const fa_proto_msg_t *m) {
    int n = fa_proto_encode(m, b->data, sizeof b->data);
    cr_assert(n > 0, "encode: %s", fa_proto_err_name(n));
    b->len = (size_t)n;
}

#define TEST_START_UNIX_NS 1700000000000000000ull /* 2023-11-14T22:13:20Z */
#define TEST_START_MONO_NS 5000000000ull

static inline void hello_msg(msgbuf_t *b, uint64_t sid, uint64_t seq, uint64_t budget) {
    static fa_proto_tag_def_t defs[4];
    defs[0] = (fa_proto_tag_def_t){0, 0, 0, 0, fa_proto_str("")};
    defs[1] = (fa_proto_tag_def_t){1, 0, budget / 2, budget, fa_proto_str("physics")};
    defs[2] = (fa_proto_tag_def_t){2, 1, 0, 0, fa_proto_str("physics/contacts")};
    defs[3] = (fa_proto_tag_def_t){3, 0, 0, 0, fa_proto_str("render")};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = sid;
    m.header.seq = seq;
    m.hello.pid = 42;
    m.hello.lib_version = 0x000100;
    m.hello.start_unix_ns = TEST_START_UNIX_NS;
    m.hello.start_mono_ns = TEST_START_MONO_NS;
    m.hello.app_name = fa_proto_str("unit-game");
    m.hello.session_label = fa_proto_str("");
    m.hello.host = fa_proto_str("box");
    m.hello.build_id = fa_proto_str("b1");
    m.hello.tags = defs;
    m.hello.tag_count = 4;
    enc(b, &m);
}

/* The tag rows of a frame whose physics' live bytes are given, the
 * others fixed. */
static inline void frame_rows(fa_proto_tag_stat_t rows[4], uint64_t physics_live) {
    for (int i = 0; i < 4; i++)
        rows[i] = (fa_proto_tag_stat_t){(uint16_t)i, 8, 16, 32, 1, 1000u * (uint64_t)i, 1000u * (uint64_t)i};
    rows[1].live_bytes = physics_live;
    rows[1].peak_bytes = physics_live;
}

/* Frame n (1-based) at 100 fps, rows from frame_rows(), one finding. */
static inline void frame_fields(fa_proto_frame_t *f, uint64_t n, const fa_proto_tag_stat_t *rows) {
    static fa_proto_finding_t finding = {2, 1, 1, 5, 4096};
    f->frame = n;
    f->start_ns = TEST_START_MONO_NS + (n - 1) * 10000000ull;
    f->duration_ns = 9000000;
    f->tags_total = 4;
    f->totals[0].in_use = 100 + n;
    f->tags = rows;
    f->tag_count = 4;
    f->findings = &finding;
    f->finding_count = 1;
}

/* Frame n (1-based) at 100 fps; physics' live bytes given, the others fixed. */
static inline void frame_msg(msgbuf_t *b, uint64_t sid, uint64_t seq, uint64_t n, uint64_t physics_live) {
    static fa_proto_tag_stat_t rows[4];
    frame_rows(rows, physics_live);
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    m.header.session_id = sid;
    m.header.seq = seq;
    frame_fields(&m.frame, n, rows);
    enc(b, &m);
}

/* 1.2: the same frames as frame_msg() for n = first..first+count-1, in one
 * FRAMES message: physics[n] is frame n's physics live bytes; frame n is a
 * key entry when key[n], else a delta against frame n - 1. */
static inline void frames_msg(msgbuf_t *b, uint64_t sid, uint64_t seq, uint64_t first, uint32_t count,
                              const uint64_t *physics, const bool *key) {
    static fa_proto_tag_stat_t whole[64][4], prev[4], changed[64][4];
    static fa_proto_frame_entry_t entries[64];
    cr_assert(count <= 64);
    for (uint32_t k = 0; k < count; k++) {
        uint64_t n = first + k;
        fa_proto_frame_entry_t *e = &entries[k];
        memset(e, 0, sizeof *e);
        frame_rows(whole[k], physics[n]);
        frame_fields(&e->frame, n, whole[k]);
        e->tag_rows = 4;
        if (!key[n]) {
            frame_rows(prev, physics[n - 1]);
            int c = fa_proto_tag_rows_delta(prev, 4, whole[k], 4, changed[k]);
            cr_assert_geq(c, 0);
            e->delta = true;
            e->base_frame = n - 1;
            e->frame.tags = changed[k];
            e->frame.tag_count = (uint32_t)c;
        }
    }
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAMES;
    m.header.session_id = sid;
    m.header.seq = seq;
    m.frames.entries = entries;
    m.frames.count = count;
    enc(b, &m);
}

/* SITES defining site ids first..first+n-1 at lines 100.., in "game.c". */
static inline void sites_msg(msgbuf_t *b, uint64_t sid, uint64_t seq, uint32_t first, uint32_t n) {
    static fa_proto_site_def_t defs[64];
    static char fn[64][16];
    cr_assert(n <= 64);
    for (uint32_t i = 0; i < n; i++) {
        snprintf(fn[i], sizeof fn[i], "f%u", first + i);
        defs[i] = (fa_proto_site_def_t){first + i, 100 + first + i, 1, fa_proto_str("src/game.c"),
                                        fa_proto_str(fn[i])};
    }
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_SITES;
    m.header.session_id = sid;
    m.header.seq = seq;
    m.sites.sites = defs;
    m.sites.site_count = n;
    enc(b, &m);
}

/* frame_msg with site rows: physics (tag 1) split between site 1 (bytes
 * b1, 2 allocations, b1 bytes live) and site 2 (its rest, 1 allocation),
 * and an "other" row for render (tag 3). */
static inline void frame_sites_msg(msgbuf_t *b, uint64_t sid, uint64_t seq, uint64_t n, uint64_t b1,
                                   uint64_t b2) {
    static fa_proto_tag_stat_t rows[4];
    for (int i = 0; i < 4; i++)
        rows[i] = (fa_proto_tag_stat_t){(uint16_t)i, 0, 0, 0, 0, 0, 0};
    rows[1].frame_bytes = b1 + b2;
    rows[1].live_bytes = b1;
    rows[1].alloc_count = 3;
    rows[3].frame_bytes = 64;
    rows[3].alloc_count = 1;
    static fa_proto_site_row_t srows[3];
    srows[0] = (fa_proto_site_row_t){1, 1, b1, 2, b1};
    srows[1] = (fa_proto_site_row_t){2, 1, b2, 1, 0};
    srows[2] = (fa_proto_site_row_t){0, 3, 64, 1, 0};
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    m.header.session_id = sid;
    m.header.seq = seq;
    m.frame.frame = n;
    m.frame.start_ns = TEST_START_MONO_NS + (n - 1) * 10000000ull;
    m.frame.duration_ns = 9000000;
    m.frame.tags_total = 4;
    m.frame.tags = rows;
    m.frame.tag_count = 4;
    m.frame.sites_total = 3;
    m.frame.sites = srows;
    m.frame.site_count = 3;
    enc(b, &m);
}

/* The wall time of frame n in ms, as the daemon computes it. */
static inline uint64_t frame_ms(uint64_t n) {
    return TEST_START_UNIX_NS / 1000000u + (n - 1) * 10u;
}

static inline void bye_msg(msgbuf_t *b, uint64_t sid, uint64_t seq) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_BYE;
    m.header.session_id = sid;
    m.header.seq = seq;
    m.bye.frames_sent = 1;
    m.bye.frames_dropped = 7;
    enc(b, &m);
}

/* Captured log lines. */
static int captured_lines[4];
static char captured_last[1024];
static inline void capture_hook(int level, const char *msg) {
    if (level >= 0 && level < 4) captured_lines[level]++;
    snprintf(captured_last, sizeof captured_last, "%s", msg);
}

#endif
