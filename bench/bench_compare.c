/*
 * bench_compare.c — the two halves of the compare benchmark that are not
 * fa-cli itself (bench/compare.py runs them):
 *
 *   bench-compare gen OUT [--frames N] [--tags T] [--seed S] [--leak BYTES]
 *       writes a synthetic capture with the real encoder: T tags (a root,
 *       eight systems, their children), N frames at 60 fps, live bytes that
 *       breathe and jitter per tag (so histograms spread as in a game),
 *       frame bytes and allocation counts; --leak adds BYTES per frame to
 *       one leaf and its ancestors.
 *   bench-compare decode A B
 *       the floor a compare cannot beat: maps both captures and decodes
 *       every message with the capture reader, doing nothing with them.
 */
#include "synth.h"

#include <fa_capture.h>
#include <fa_capture_file.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int gen(const char *out, uint64_t frames, uint32_t tags, uint64_t seed, uint64_t leak) {
    if (tags < 10 || tags > 4096) {
        fprintf(stderr, "bench-compare gen: --tags must be 10..4096\n");
        return 2;
    }
    char **paths = calloc(tags, sizeof *paths);
    uint16_t *parents = calloc(tags, sizeof *parents);
    uint64_t *base = calloc(tags, sizeof *base);
    fa_proto_tag_stat_t *rows = calloc(tags, sizeof *rows);
    if (!paths || !parents || !base || !rows) return 1;
    paths[0] = strdup("");
    for (uint32_t i = 1; i < tags; i++) {
        char p[64];
        if (i <= 8) {
            snprintf(p, sizeof p, "system%u", i);
            parents[i] = 0;
        } else {
            parents[i] = (uint16_t)(1 + (i - 9) % 8);
            snprintf(p, sizeof p, "system%u/part%u", parents[i], i);
        }
        paths[i] = strdup(p);
    }
    uint64_t s = seed * 0x9E3779B97F4A7C15ull | 1;
    for (uint32_t i = 9; i < tags; i++)
        base[i] = 4096 + rng(&s) % (4u << 20);
    synth_t w;
    if (synth_open(&w, out, "bench-game", "synthetic", tags, (const char *const *)paths, parents) != 0) {
        perror(out);
        return 1;
    }
    uint32_t leaf = tags - 1;
    for (uint64_t f = 0; f < frames; f++) {
        memset(rows, 0, tags * sizeof *rows);
        for (uint32_t i = 9; i < tags; i++) {
            /* A slow breath (a level loading, a crowd) and frame jitter. */
            uint64_t wave = (base[i] / 8) * ((f / 600 + i) % 8) / 8;
            uint64_t live = base[i] + wave + rng(&s) % (base[i] / 16 + 1);
            if (leak && i == leaf) live += leak * f;
            rows[i].id = (uint16_t)i;
            rows[i].live_bytes = live;
            rows[i].peak_bytes = live;
            rows[i].heap_bytes = live / 2;
            rows[i].pool_bytes = live / 4;
            rows[i].frame_bytes = rng(&s) % 65536;
            rows[i].alloc_count = rng(&s) % 200;
        }
        /* Parents hold their children. */
        for (uint32_t i = tags - 1; i >= 1; i--) {
            rows[parents[i]].live_bytes += rows[i].live_bytes;
            rows[i].id = (uint16_t)i;
        }
        for (uint32_t i = 0; i < 9; i++)
            rows[i].peak_bytes = rows[i].live_bytes;
        rows[0].id = 0;
        if (synth_frame(&w, f + 1, rows, tags) != 0) {
            perror(out);
            return 1;
        }
    }
    if (synth_close(&w, true) != 0) return 1;
    for (uint32_t i = 0; i < tags; i++)
        free(paths[i]);
    free(paths);
    free(parents);
    free(base);
    free(rows);
    return 0;
}

/* Decodes a capture the way fa-cli compare does (read in whole, then
 * decoded front to back). */
static int decode(const char *path, uint64_t *messages) {
    int fd = open(path, O_RDONLY);
    fa_capture_file_t file;
    int frc = fd < 0 ? -errno : fa_capture_file_read(fd, &file);
    if (fd >= 0) close(fd);
    if (frc < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(-frc));
        return 1;
    }
    static fa_proto_space_t space;
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_capture_reader_t r = {0};
    int rc = fa_capture_reader_init(&r, file.data, file.len);
    fa_proto_msg_t m;
    if (rc == 0)
        while ((rc = fa_capture_next(&r, &m, &st)) == 1)
            fa_capture_file_release_before(&file, r.message_offset);
    fa_capture_file_free(&file);
    *messages += r.messages;
    if (rc != 0) fprintf(stderr, "%s: %s at byte %zu\n", path, fa_proto_strerror(rc), r.message_offset);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "gen") == 0) {
        uint64_t frames = 216000, seed = 1, leak = 0;
        uint32_t tags = 64;
        for (int i = 3; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--frames")) frames = strtoull(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "--tags")) tags = (uint32_t)strtoul(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
            else if (!strcmp(argv[i], "--leak")) leak = strtoull(argv[i + 1], NULL, 10);
            else {
                fprintf(stderr, "bench-compare gen: unknown option %s\n", argv[i]);
                return 2;
            }
        }
        return gen(argv[2], frames, tags, seed, leak);
    }
    if (argc == 4 && strcmp(argv[1], "decode") == 0) {
        uint64_t messages = 0;
        int rc = decode(argv[2], &messages) | decode(argv[3], &messages);
        printf("messages %" PRIu64 "\n", messages);
        return rc;
    }
    fprintf(stderr, "usage: bench-compare gen OUT [--frames N] [--tags T] [--seed S] [--leak BYTES]\n"
                    "       bench-compare decode A B\n");
    return 2;
}
