/* synth.h — synthetic capture files made with the real encoder, for the
 * fa-cli tests and the compare benchmark: a HELLO with a tag dictionary,
 * FRAMEs with the tag rows the caller gives, TAGS, and a BYE. */
#ifndef FA_TEST_SYNTH_H
#define FA_TEST_SYNTH_H

#include <fa_proto.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct synth {
    FILE *f;
    uint64_t session, seq, frames;
    unsigned char *buf; /* one message */
    /* 1.2: set batch after synth_open to write frames as FRAMES of `batch`
     * entries, tag rows as deltas (a key every 10 frames); at most 64 tags. */
    uint32_t batch;
    fa_proto_batch_t b;
    unsigned char *batch_buf;
    fa_proto_tag_stat_t prev[64], changed[64];
    uint32_t prev_n;
    uint64_t prev_frame;
} synth_t;

/* Creates path with the file header and a HELLO: tags[i] has id i, path
 * paths[i] (paths[0] should be "", the root) and parent parents[i]. 0 or
 * -1. */
int synth_open(synth_t *s, const char *path, const char *app, const char *build, uint32_t ntags,
               const char *const *paths, const uint16_t *parents);
/* A TAGS message defining tags first..first+n-1 (ids are indexes). */
int synth_tags(synth_t *s, uint32_t first, uint32_t n, const char *const *paths, const uint16_t *parents);
/* One FRAME numbered `frame`, 16.7 ms after the previous, with rows. */
int synth_frame(synth_t *s, uint64_t frame, const fa_proto_tag_stat_t *rows, uint32_t n);
/* A SITES message defining defs[0..n). */
int synth_sites(synth_t *s, const fa_proto_site_def_t *defs, uint32_t n);
/* A FRAME with site rows too (proto 1.1). */
int synth_frame_sites(synth_t *s, uint64_t frame, const fa_proto_tag_stat_t *rows, uint32_t n,
                      const fa_proto_site_row_t *sites, uint32_t nsites);
/* Writes a BYE when bye is set, closes; 0 or -1. */
int synth_close(synth_t *s, bool bye);

#endif
