/* test_pack.c — the varint blobs round-trip, and their decoders are total. */
#include "helpers.h"

Test(pack, varints_round_trip_at_every_width) {
    uint8_t buf[10];
    uint64_t vals[] = {0, 1, 127, 128, 16383, 16384, 1ull << 35, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        size_t n = pack_put_varint(buf, vals[i]);
        uint64_t v = 0;
        cr_assert_eq(pack_get_varint(buf, n, &v), n);
        cr_assert_eq(v, vals[i]);
        if (n > 1) cr_assert_eq(pack_get_varint(buf, n - 1, &v), 0, "truncated varint");
    }
    uint8_t over[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0};
    uint64_t v;
    cr_assert_eq(pack_get_varint(over, 10, &v), 0, "more than 64 bits");
}

static fa_proto_frame_t sample(fa_proto_tag_stat_t *rows, uint32_t n, fa_proto_thread_row_t *th,
                               fa_proto_finding_t *fi) {
    fa_proto_frame_t f;
    memset(&f, 0, sizeof f);
    f.frames_dropped = 3;
    f.tags_total = n + 2;
    f.threads_total = 1;
    f.findings_dropped = 1;
    f.totals[1].in_use = 1u << 20;
    f.totals[2].free_count = 9;
    f.promotions.retained_bytes = 77;
    f.transfers.in_flight = 5;
    for (uint32_t i = 0; i < n; i++)
        rows[i] = (fa_proto_tag_stat_t){
            (uint16_t)(i * 3 + (i == n - 1 ? 0 : 1)), i, i * 2, i * 3, i, UINT64_MAX - i, i * 1000};
    /* the last row's id is out of order on purpose */
    rows[n - 1].id = 2;
    f.tags = rows;
    f.tag_count = n;
    *th = (fa_proto_thread_row_t){7, 1, 4096, 8192, 99, FA_PROTO_THREAD_IN_FRAME};
    f.threads = th;
    f.thread_count = 1;
    *fi = (fa_proto_finding_t){4, 1, 2, 10, 1ull << 40};
    f.findings = fi;
    f.finding_count = 1;
    static const fa_proto_site_row_t sites[3] = {
        {5, 1, 3000, 3, 3000}, {UINT32_MAX, 65535, UINT64_MAX, UINT64_MAX, UINT64_MAX}, {0, 1, 17, 1, 0}};
    f.sites_total = 9;
    f.sites = sites;
    f.site_count = 3;
    return f;
}

static int site_eq(const fa_proto_site_row_t *a, const fa_proto_site_row_t *b) {
    return a->site_id == b->site_id && a->tag_id == b->tag_id && a->bytes == b->bytes &&
           a->count == b->count && a->live_bytes == b->live_bytes;
}

static int collect_site(void *ud, const fa_proto_site_row_t *row) {
    fa_proto_site_row_t **out = ud;
    *(*out)++ = *row;
    return 0;
}

Test(pack, frame_blob_round_trips) {
    fa_proto_tag_stat_t rows[64];
    fa_proto_thread_row_t th;
    fa_proto_finding_t fi;
    fa_proto_frame_t f = sample(rows, 64, &th, &fi);
    uint8_t *blob = malloc(pack_frame_bound(&f));
    size_t len = pack_frame(&f, blob, pack_frame_bound(&f));
    cr_assert_gt(len, 0);
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t st = fa_proto_storage_of(space);
    fa_proto_frame_t g;
    cr_assert_eq(pack_unframe(blob, len, &g, &st), 0);
    cr_assert_eq(g.frames_dropped, 3);
    cr_assert_eq(g.tags_total, 66);
    cr_assert_eq(g.totals[1].in_use, 1u << 20);
    cr_assert_eq(g.totals[2].free_count, 9);
    cr_assert_eq(g.promotions.retained_bytes, 77);
    cr_assert_eq(g.transfers.in_flight, 5);
    cr_assert_eq(g.tag_count, 64);
    for (uint32_t i = 0; i < 64; i++)
        cr_assert(!memcmp(&g.tags[i], &rows[i], sizeof rows[i]) ||
                      (g.tags[i].id == rows[i].id && g.tags[i].live_bytes == rows[i].live_bytes &&
                       g.tags[i].peak_bytes == rows[i].peak_bytes &&
                       g.tags[i].alloc_count == rows[i].alloc_count),
                  "row %u", i);
    cr_assert_eq(g.thread_count, 1);
    cr_assert_eq(g.threads[0].frame_capacity, 8192);
    cr_assert_eq(g.threads[0].flags, FA_PROTO_THREAD_IN_FRAME);
    cr_assert_eq(g.finding_count, 1);
    cr_assert_eq(g.findings[0].value, 1ull << 40);
    cr_assert_eq(g.sites_total, 9);
    cr_assert_eq(g.site_count, 3);
    for (int i = 0; i < 3; i++)
        cr_assert(site_eq(&g.sites[i], &f.sites[i]), "site row %d", i);
    /* The site rows alone, without decoding the rest. */
    fa_proto_site_row_t got[4], *cursor = got;
    uint32_t total = 0;
    cr_assert_eq(pack_frame_each_site(blob, len, &total, collect_site, &cursor), 0);
    cr_assert_eq(total, 9);
    cr_assert_eq(cursor - got, 3);
    for (int i = 0; i < 3; i++)
        cr_assert(site_eq(&got[i], &f.sites[i]), "site row %d", i);
    uint64_t live;
    cr_assert_eq(pack_frame_find_live(blob, len, rows[10].id, &live), 1);
    cr_assert_eq(live, rows[10].live_bytes);
    cr_assert_eq(pack_frame_find_live(blob, len, 60000, &live), 0);
    free(space);
    free(blob);
}

/* Blobs stored before call sites (version 1) still read: no site rows. */
/* pack_frame() writes its varints through its own unrolled cases, not
 * through pack_put_varint(): its blob must still be, varint by varint,
 * what pack_put_varint() writes (the stored bytes never change), at every
 * width from 1 to 10 bytes, and it must never write past cap. */
Test(pack, frame_blob_varints_are_the_reference_encoding_at_every_width) {
    enum { ROWS = 23 };
    fa_proto_tag_stat_t rows[ROWS];
    uint64_t widths[130];
    for (int k = 0; k < 65; k++) { /* 2^k - 1 and 2^k: both sides of every width */
        widths[2 * k] = k == 64 ? UINT64_MAX : (1ull << k) - 1;
        widths[2 * k + 1] = k == 64 ? UINT64_MAX - 1 : 1ull << k;
    }
    fa_proto_thread_row_t th;
    fa_proto_finding_t fi;
    fa_proto_frame_t f = sample(rows, ROWS, &th, &fi);
    for (int i = 0; i < ROWS; i++) {
        const uint64_t *w = &widths[(6 * i) % 125];
        rows[i] = (fa_proto_tag_stat_t){(uint16_t)(i * 700 + 1), w[0], w[1], w[2], w[3], w[4], w[5]};
    }
    rows[ROWS - 1].id = 2; /* out of order, as in sample(): a restart */
    f.totals[0] = (fa_proto_kind_totals_t){1ull << 27, (1ull << 28) - 1, 1ull << 28, 1ull << 62, UINT64_MAX};
    static uint8_t blob[16384], canary[16384];
    size_t len = pack_frame(&f, blob, sizeof blob);
    cr_assert_gt(len, 0);
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t st = fa_proto_storage_of(space);
    fa_proto_frame_t back;
    cr_assert_eq(pack_unframe(blob, len, &back, &st), 0);
    cr_assert_eq(back.tag_count, ROWS);
    for (int i = 0; i < ROWS; i++)
        cr_assert(back.tags[i].id == rows[i].id && back.tags[i].frame_bytes == rows[i].frame_bytes &&
                      back.tags[i].pool_bytes == rows[i].pool_bytes &&
                      back.tags[i].heap_bytes == rows[i].heap_bytes &&
                      back.tags[i].alloc_count == rows[i].alloc_count &&
                      back.tags[i].live_bytes == rows[i].live_bytes &&
                      back.tags[i].peak_bytes == rows[i].peak_bytes,
                  "row %d", i);
    cr_assert_eq(back.totals[0].free_count, UINT64_MAX);
    free(space);
    size_t at = 1, varints = 0;
    while (at < len) {
        uint64_t v;
        uint8_t ref[10];
        size_t n = pack_get_varint(blob + at, len - at, &v);
        cr_assert_gt(n, 0, "a varint at %zu", at);
        cr_assert_eq(pack_put_varint(ref, v), n, "varint %zu (%llu) is %zu bytes", varints,
                     (unsigned long long)v, n);
        cr_assert_eq(memcmp(ref, blob + at, n), 0, "varint %zu (%llu)", varints, (unsigned long long)v);
        at += n;
        varints++;
    }
    cr_assert_eq(at, len);
    for (size_t cap = 0; cap < len; cap++) {
        memset(canary, 0xa5, sizeof canary);
        cr_assert_eq(pack_frame(&f, canary, cap), 0, "cap %zu of %zu", cap, len);
        for (size_t i = cap; i < len + 16; i++)
            cr_assert_eq(canary[i], 0xa5, "byte %zu written with cap %zu", i, cap);
    }
}

Test(pack, version_1_blobs_read_as_frames_and_buckets_without_sites) {
    fa_proto_tag_stat_t rows[8];
    fa_proto_thread_row_t th;
    fa_proto_finding_t fi;
    fa_proto_frame_t f = sample(rows, 8, &th, &fi);
    f.site_count = 0;
    f.sites_total = 0;
    uint8_t blob[4096];
    size_t len = pack_frame(&f, blob, sizeof blob);
    /* Version 1 is version 2 without its last two varints (0 and 0). */
    cr_assert(len > 3 && blob[0] == 2 && blob[len - 1] == 0 && blob[len - 2] == 0);
    blob[0] = 1;
    len -= 2;
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t st = fa_proto_storage_of(space);
    fa_proto_frame_t g;
    cr_assert_eq(pack_unframe(blob, len, &g, &st), 0);
    cr_assert_eq(g.tag_count, 8);
    cr_assert_eq(g.finding_count, 1);
    cr_assert_eq(g.site_count, 0);
    fa_proto_site_row_t got[4], *cursor = got;
    uint32_t total = 7;
    cr_assert_eq(pack_frame_each_site(blob, len, &total, collect_site, &cursor), 0);
    cr_assert(cursor == got && total == 0);
    uint64_t live;
    cr_assert_eq(pack_frame_find_live(blob, len, rows[3].id, &live), 1);
    /* A version 1 bucket: the tags, no sites. */
    pack_rollup_row_t r1 = {4, 1, 2, 3, 4};
    uint8_t rb[64];
    size_t rlen = pack_rollup(&r1, 1, NULL, 0, rb, sizeof rb);
    cr_assert(rlen > 2 && rb[0] == 2 && rb[rlen - 1] == 0);
    rb[0] = 1;
    rlen--;
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_find(rb, rlen, 4, &r), 1);
    cr_assert_eq(r.max, 3);
    free(space);
}

static int collect_acc(void *ud, const pack_site_acc_t *row) {
    pack_site_acc_t **out = ud;
    *(*out)++ = *row;
    return 0;
}

Test(pack, rollup_blob_holds_the_sites_of_its_bucket) {
    pack_rollup_row_t tags[2] = {{1, 10, 20, 30, 25}, {7, 1, 2, 3, 3}};
    pack_site_acc_t sites[3] = {{0, 1, 60, 600, 30, 60, 1, 0, 0, 0},
                                {4, 1, 60, 60000, 1000, 120, 2, 60000, 1000, 1000},
                                {UINT32_MAX, 65535, 1, UINT64_MAX, UINT64_MAX, 1, 1, 5, 5, 5}};
    uint8_t blob[1024];
    size_t len = pack_rollup(tags, 2, sites, 3, blob, sizeof blob);
    cr_assert_gt(len, 0);
    pack_site_acc_t got[4], *cursor = got;
    cr_assert_eq(pack_rollup_each_site(blob, len, collect_acc, &cursor), 0);
    cr_assert_eq(cursor - got, 3);
    for (int i = 0; i < 3; i++)
        cr_assert(got[i].site == sites[i].site && got[i].tag == sites[i].tag &&
                      got[i].frames == sites[i].frames && got[i].bytes_sum == sites[i].bytes_sum &&
                      got[i].bytes_max == sites[i].bytes_max && got[i].count_sum == sites[i].count_sum &&
                      got[i].count_max == sites[i].count_max && got[i].live_sum == sites[i].live_sum &&
                      got[i].live_max == sites[i].live_max && got[i].live_last == sites[i].live_last,
                  "row %d", i);
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_find(blob, len, 7, &r), 1);
    cr_assert_eq(r.avg, 2);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, blob, cut);
        cursor = got;
        cr_assert_eq(pack_rollup_each_site(copy, cut, collect_acc, &cursor), -1, "cut at %zu", cut);
        free(copy);
    }
    cr_assert_eq(pack_rollup(tags, 2, sites, 3, blob, 20), 0, "too small a buffer");
}

Test(pack, frame_blob_is_smaller_than_the_wire) {
    fa_proto_tag_stat_t rows[64];
    for (int i = 0; i < 64; i++)
        rows[i] = (fa_proto_tag_stat_t){(uint16_t)i, 512, 20000, 4000, 12, 1u << 20, 1u << 21};
    fa_proto_frame_t f;
    memset(&f, 0, sizeof f);
    f.tags = rows;
    f.tag_count = 64;
    uint8_t blob[8192];
    size_t len = pack_frame(&f, blob, sizeof blob);
    cr_assert_lt(len, 64 * FA_PROTO_TAG_STAT_ROW_SIZE / 2, "packed %zu bytes", len);
}

Test(pack, decoders_are_total_on_truncated_and_random_blobs) {
    fa_proto_tag_stat_t rows[16];
    fa_proto_thread_row_t th;
    fa_proto_finding_t fi;
    fa_proto_frame_t f = sample(rows, 16, &th, &fi);
    uint8_t blob[4096];
    size_t len = pack_frame(&f, blob, sizeof blob);
    fa_proto_space_t *space = malloc(sizeof *space);
    fa_proto_storage_t st = fa_proto_storage_of(space);
    fa_proto_frame_t g;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(copy, blob, cut);
        cr_assert_eq(pack_unframe(copy, cut, &g, &st), -1, "cut at %zu", cut);
        uint64_t live;
        cr_assert_leq(pack_frame_find_live(copy, cut, 9999, &live), 0);
        pack_rollup_row_t r;
        cr_assert_leq(pack_rollup_find(copy, cut, 1, &r), 1);
        fa_proto_site_row_t sites[8], *cursor = sites;
        uint32_t total;
        cr_assert_eq(pack_frame_each_site(copy, cut, &total, collect_site, &cursor), -1, "cut at %zu", cut);
        free(copy);
    }
    srand(7);
    for (int i = 0; i < 20000; i++) {
        size_t n = (size_t)(rand() % 64);
        uint8_t *copy = malloc(n ? n : 1);
        for (size_t k = 0; k < n; k++)
            copy[k] = (uint8_t)rand();
        if (n) copy[0] = i & 1 ? PACK_FRAME_VERSION : (uint8_t)rand();
        (void)pack_unframe(copy, n, &g, &st);
        uint64_t live;
        (void)pack_frame_find_live(copy, n, 1, &live);
        pack_rollup_row_t r;
        (void)pack_rollup_find(copy, n, 1, &r);
        /* At most 64 bytes: fewer than 64 rows of either kind. */
        static fa_proto_site_row_t sites[64];
        fa_proto_site_row_t *cursor = sites;
        uint32_t total;
        (void)pack_frame_each_site(copy, n, &total, collect_site, &cursor);
        static pack_site_acc_t accs[64];
        pack_site_acc_t *ac = accs;
        (void)pack_rollup_each_site(copy, n, collect_acc, &ac);
        free(copy);
    }
    free(space);
}

Test(pack, rollup_blob_finds_each_tag) {
    pack_rollup_row_t rows[100];
    for (int i = 0; i < 100; i++)
        rows[i] = (pack_rollup_row_t){(uint16_t)(i * 7), (uint64_t)i, (uint64_t)i + 1, (uint64_t)i + 2,
                                      (uint64_t)i + 3};
    uint8_t blob[8192];
    size_t len = pack_rollup(rows, 100, NULL, 0, blob, sizeof blob);
    cr_assert_gt(len, 0);
    for (int i = 0; i < 100; i++) {
        pack_rollup_row_t r;
        cr_assert_eq(pack_rollup_find(blob, len, (uint16_t)(i * 7), &r), 1);
        cr_assert_eq(r.avg, (uint64_t)i + 1);
        cr_assert_eq(r.last, (uint64_t)i + 3);
    }
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_find(blob, len, 3, &r), 0);
    cr_assert_eq(pack_rollup(rows, 100, NULL, 0, blob, 10), 0, "too small a buffer");
}

/* A store hands out one tag's figures by offset (PostgreSQL's tag_at):
 * every offset must lead to that tag's figures, holes read 0. */
Test(pack, rollup_tag_offsets_lead_to_each_tags_figures) {
    pack_rollup_row_t rows[40];
    for (int i = 0; i < 40; i++)
        rows[i] = (pack_rollup_row_t){(uint16_t)(i * 3 + 2), (uint64_t)i << 40, (uint64_t)i * 1000 + 1,
                                      UINT64_MAX - (uint64_t)i, (uint64_t)i};
    pack_site_acc_t site = {9, 2, 1, 5, 5, 1, 1, 5, 5, 5};
    uint8_t blob[8192];
    size_t len = pack_rollup(rows, 40, &site, 1, blob, sizeof blob);
    cr_assert_gt(len, 0);
    uint32_t at[200];
    memset(at, 0xee, sizeof at);
    cr_assert_eq(pack_rollup_tag_at(blob, len, at, 200), 39 * 3 + 3, "the largest id + 1");
    for (uint32_t id = 0; id < 39 * 3 + 3; id++) {
        if (id < 2 || (id - 2) % 3) {
            cr_assert_eq(at[id], 0, "no row for id %u", id);
            continue;
        }
        int i = (int)(id - 2) / 3;
        cr_assert(at[id] >= 1 && at[id] <= len, "id %u at %u", id, at[id]);
        size_t left = len - (at[id] - 1);
        pack_rollup_row_t r;
        cr_assert_eq(pack_rollup_row_at(blob + at[id] - 1,
                                        left < PACK_ROLLUP_ROW_MAX ? left : PACK_ROLLUP_ROW_MAX, (uint16_t)id,
                                        &r),
                     0);
        cr_assert_eq(r.id, id);
        cr_assert_eq(r.min, rows[i].min);
        cr_assert_eq(r.avg, rows[i].avg);
        cr_assert_eq(r.max, rows[i].max, "a ten-byte varint fits in PACK_ROLLUP_ROW_MAX");
        cr_assert_eq(r.last, rows[i].last);
    }
    cr_assert_eq(pack_rollup_tag_at(blob, len, at, 100), -1, "an id beyond the table");
    cr_assert_eq(pack_rollup_tag_at(blob, 0, at, 200), -1);
    uint8_t empty[16];
    size_t elen = pack_rollup(NULL, 0, NULL, 0, empty, sizeof empty);
    cr_assert_eq(pack_rollup_tag_at(empty, elen, at, 200), 0, "no rows");
    for (size_t cut = 1; cut < 40; cut++) /* truncated inside the tag rows */
        cr_assert_eq(pack_rollup_tag_at(blob, cut, at, 200), -1, "cut at %zu", cut);
    pack_rollup_row_t r;
    cr_assert_eq(pack_rollup_row_at(blob + at[2] - 1, 3, 2, &r), -1, "truncated figures");
}
