/*
 * test_snapshot.c — fa_proto_frame_from_snapshot() and
 * fa_proto_tag_defs_from_snapshot(): lib snapshots mapped onto messages.
 * The snapshots are built by hand; nothing of lib is linked.
 */
#include "fa_proto.h"
#include "fixtures.h"
#include "framealloc.h"

#include <criterion/criterion.h>
#include <string.h>

static fa_tag_row_t rows[4];
static fa_thread_row_t threads[2];
static fa_finding_t findings[3];
static fa_site_row_t site_rows[3];

static fa_snapshot_t sample(void) {
    static const char *const paths[4] = {"", "physics", "physics/contacts", "render"};
    static const uint16_t parents[4] = {0, 0, 1, 0};
    for (uint16_t i = 0; i < 4; i++) {
        rows[i] = (fa_tag_row_t){
            .id = i,
            .parent_id = parents[i],
            .depth = i == 2 ? 2
                     : i    ? 1
                            : 0,
            .path = paths[i],
            .self = {100u * i + 1, 100u * i + 2, 100u * i + 3, 100u * i + 4},
            .total = {9, 9, 9, 9},
            .live_bytes = 1000u + i,
            .peak_bytes = 2000u + i,
            .budget_soft = i == 1 ? 1u << 20 : 0,
            .budget_hard = i == 1 ? 2u << 20 : 0,
        };
    }
    threads[0] = (fa_thread_row_t){0, 4096, 1 << 20, 77, 0, true};
    threads[1] = (fa_thread_row_t){1, 10, 1 << 21, 76, 2, false};
    fa_snapshot_t s = {
        .size = sizeof(fa_snapshot_t),
        .version = FA_SNAPSHOT_VERSION,
        .frame = 77,
        .frame_start_ns = 123456789,
        .frame_duration_ns = 16000000,
        .rows = rows,
        .rows_capacity = 4,
        .row_count = 4,
        .tag_count = 6,
        .threads = threads,
        .threads_capacity = 2,
        .thread_count = 2,
        .threads_total = 3,
        .sites = site_rows,
        .sites_capacity = 3,
        .site_count = 3,
        .sites_total = 40,
    };
    site_rows[0] = (fa_site_row_t){.site_id = 7, .tag_id = 1, .bytes = 300, .count = 3, .live_bytes = 300};
    site_rows[1] = (fa_site_row_t){.site_id = 9, .tag_id = 3, .bytes = 0, .count = 0, .live_bytes = 64};
    site_rows[2] = (fa_site_row_t){.site_id = 0, .tag_id = 3, .bytes = 10, .count = 1, .live_bytes = 10};
    for (int k = 0; k < FA_KIND_COUNT_; k++)
        s.totals[k] = (fa_kind_totals_t){10u + k, 20u + k, 30u + k, 40u + k, 50u + k};
    for (uint16_t i = 0; i < 3; i++)
        findings[i] = (fa_finding_t){.code = (uint16_t)(i + 1),
                                     .tag_id = i,
                                     .kind = FA_KIND_HEAP,
                                     .count = 10u + i,
                                     .value = 1000u + i};
    s.findings = findings;
    s.findings_capacity = 3;
    s.finding_count = 3;
    s.findings_total = 5; /* two did not fit the snapshot's own array */
    s.promotions = (fa_promotion_totals_t){1, 2, 3, 4, 5, 6, 7, 8};
    s.transfers = (fa_transfer_totals_t){11, 12, 13, 14, 15};
    return s;
}

Test(snapshot, frame_carries_totals_self_figures_and_thread_rows) {
    fa_snapshot_t s = sample();
    fa_proto_tag_stat_t stats[8];
    fa_proto_thread_row_t trows[8];
    fa_proto_frame_t f;
    memset(&f, 0xFF, sizeof f);
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, &s, stats, 8, trows, 8), FA_PROTO_OK);
    cr_assert_eq(f.frame, 77);
    cr_assert_eq(f.start_ns, 123456789);
    cr_assert_eq(f.duration_ns, 16000000);
    cr_assert_eq(f.tags_total, 6);
    cr_assert_eq(f.threads_total, 3);
    cr_assert_eq(f.frames_dropped, 0);
    cr_assert_eq(f.findings_dropped, 0);
    cr_assert_eq(f.finding_count, 0);
    cr_assert_null(f.findings);
    cr_assert_eq(f.totals[FA_PROTO_KIND_POOL].alloc_bytes, 41);
    cr_assert_eq(f.totals[FA_PROTO_KIND_HEAP].free_count, 52);
    cr_assert_eq(f.tag_count, 4);
    cr_assert(f.tags == stats);
    cr_assert_eq(f.tags[2].id, 2);
    cr_assert_eq(f.tags[2].frame_bytes, 201);
    cr_assert_eq(f.tags[2].pool_bytes, 202);
    cr_assert_eq(f.tags[2].heap_bytes, 203);
    cr_assert_eq(f.tags[2].alloc_count, 204);
    cr_assert_eq(f.tags[2].live_bytes, 1002);
    cr_assert_eq(f.tags[2].peak_bytes, 2002);
    cr_assert_eq(f.thread_count, 2);
    cr_assert_eq(f.threads[0].flags, FA_PROTO_THREAD_IN_FRAME);
    cr_assert_eq(f.threads[1].flags, 0);
    cr_assert_eq(f.threads[1].overflow_chunks, 2);
    cr_assert_eq(f.threads[1].frame_capacity, 1 << 21);
    cr_assert_eq(f.promotions.promoted_count, 1);
    cr_assert_eq(f.promotions.discarded_bytes, 8);
    cr_assert_eq(f.transfers.created, 11);
    cr_assert_eq(f.transfers.in_flight, 15);
}

Test(snapshot, findings_are_carried_and_the_rest_counted_as_dropped) {
    fa_snapshot_t s = sample();
    fa_proto_tag_stat_t stats[8];
    fa_proto_finding_t rows[2];
    fa_proto_frame_t f;
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, &s, stats, 8, NULL, 0), FA_PROTO_OK);
    cr_assert_eq(fa_proto_frame_findings_from_snapshot(&f, &s, rows, 2), FA_PROTO_OK);
    cr_assert_eq(f.finding_count, 2);
    cr_assert(f.findings == rows);
    cr_assert_eq(f.findings_dropped, 3); /* 5 seen, 2 carried */
    cr_assert_eq(f.findings[1].code, 2);
    cr_assert_eq(f.findings[1].tag_id, 1);
    cr_assert_eq(f.findings[1].kind, FA_PROTO_KIND_HEAP);
    cr_assert_eq(f.findings[1].count, 11);
    cr_assert_eq(f.findings[1].value, 1001);
    cr_assert_eq(fa_proto_frame_findings_from_snapshot(&f, &s, NULL, 0), FA_PROTO_OK);
    cr_assert_eq(f.finding_count, 0);
    cr_assert_null(f.findings);
    cr_assert_eq(f.findings_dropped, 5);
    cr_assert_eq(fa_proto_frame_findings_from_snapshot(&f, &s, NULL, 1), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_eq(fa_proto_frame_findings_from_snapshot(NULL, &s, rows, 2), FA_PROTO_ERR_INVALID_ARG);
}

Test(snapshot, frame_built_from_a_snapshot_encodes_and_decodes_back) {
    fa_snapshot_t s = sample();
    fa_proto_tag_stat_t stats[8];
    fa_proto_thread_row_t trows[8];
    fa_proto_finding_t frows[8];
    fa_proto_msg_t m = {.header = {.type = FA_PROTO_FRAME, .session_id = 3, .seq = 1}};
    cr_assert_eq(fa_proto_frame_from_snapshot(&m.frame, &s, stats, 8, trows, 8), FA_PROTO_OK);
    cr_assert_eq(fa_proto_frame_findings_from_snapshot(&m.frame, &s, frows, 8), FA_PROTO_OK);
    fa_proto_site_row_t srows[8];
    cr_assert_eq(fa_proto_frame_sites_from_snapshot(&m.frame, &s, srows, 8), FA_PROTO_OK);
    static unsigned char buf[4096];
    int n = fa_proto_encode(&m, buf, sizeof buf);
    cr_assert_eq((unsigned)n, FA_PROTO_FRAME_SIZE(4, 2, 3, 3));
    static fa_proto_space_t space;
    fa_proto_storage_t st = fa_proto_storage_of(&space);
    fa_proto_msg_t d;
    cr_assert_eq(fa_proto_decode(buf, (size_t)n, &d, &st), FA_PROTO_OK);
    char why[256] = "";
    cr_assert(proto_msg_equal(&d, &m, why, sizeof why), "%s", why);
}

Test(snapshot, site_rows_map_one_to_one_and_never_lose_a_row) {
    fa_snapshot_t s = sample();
    fa_proto_frame_t f;
    memset(&f, 0, sizeof f);
    fa_proto_site_row_t out[8];
    cr_assert_eq(fa_proto_frame_sites_from_snapshot(&f, &s, out, 8), FA_PROTO_OK);
    cr_assert_eq(f.site_count, 3);
    cr_assert_eq(f.sites_total, 40);
    cr_assert(f.sites[0].site_id == 7 && f.sites[0].tag_id == 1 && f.sites[0].bytes == 300 &&
              f.sites[0].count == 3 && f.sites[0].live_bytes == 300);
    cr_assert(f.sites[2].site_id == 0 && f.sites[2].tag_id == 3);
    /* Fewer rows than the snapshot has would break the sums: refused. */
    fa_proto_frame_t g = f;
    cr_assert_eq(fa_proto_frame_sites_from_snapshot(&g, &s, out, 2), FA_PROTO_ERR_TOO_MANY_ROWS);
    cr_assert_eq(memcmp(&g, &f, sizeof f), 0);
    cr_assert_eq(fa_proto_frame_sites_from_snapshot(&f, &s, NULL, 1), FA_PROTO_ERR_INVALID_ARG);
}

Test(snapshot, site_definitions_keep_the_end_of_a_long_path) {
    char file[400], fn[300];
    memset(file, 'd', sizeof file);
    memcpy(file + 390, "/broad.c", 9);
    memset(fn, 'g', sizeof fn - 1);
    fn[sizeof fn - 1] = '\0';
    fa_site_t site = {file, fn, 42, FA_KIND_HEAP, 17, 0};
    fa_proto_site_def_t d;
    cr_assert_eq(fa_proto_site_def_from_site(&d, &site), FA_PROTO_OK);
    cr_assert(d.id == 17 && d.line == 42 && d.kind == FA_PROTO_KIND_HEAP);
    cr_assert_eq(d.file.len, FA_PROTO_MAX_STRING);
    cr_assert_eq(memcmp(d.file.data + d.file.len - 8, "/broad.c", 8), 0);
    cr_assert_eq(d.function.len, FA_PROTO_MAX_STRING);
    cr_assert_eq(d.function.data, fn);
    cr_assert_eq(fa_proto_site_def_from_site(&d, NULL), FA_PROTO_ERR_INVALID_ARG);
}

Test(snapshot, rows_beyond_the_given_capacity_are_left_out) {
    fa_snapshot_t s = sample();
    fa_proto_tag_stat_t stats[2];
    fa_proto_frame_t f;
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, &s, stats, 2, NULL, 0), FA_PROTO_OK);
    cr_assert_eq(f.tag_count, 2);
    cr_assert_eq(f.tags_total, 6);
    cr_assert_eq(f.thread_count, 0);
    cr_assert_null(f.threads);
}

Test(snapshot, bad_arguments_are_refused_and_leave_the_frame_alone) {
    fa_snapshot_t s = sample();
    fa_proto_tag_stat_t stats[8];
    fa_proto_frame_t f, before;
    memset(&f, 0x3C, sizeof f);
    before = f;
    cr_assert_eq(fa_proto_frame_from_snapshot(NULL, &s, stats, 8, NULL, 0), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, NULL, stats, 8, NULL, 0), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, &s, NULL, 8, NULL, 0), FA_PROTO_ERR_INVALID_ARG);
    s.version = FA_SNAPSHOT_VERSION + 1;
    cr_assert_eq(fa_proto_frame_from_snapshot(&f, &s, stats, 8, NULL, 0), FA_PROTO_ERR_INVALID_ARG);
    cr_assert(memcmp(&f, &before, sizeof f) == 0);
}

Test(snapshot, tag_defs_from_a_first_id_list_the_newer_tags) {
    fa_snapshot_t s = sample();
    fa_proto_tag_def_t defs[8];
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(&s, 0, defs, 8), 4);
    cr_assert_eq(defs[0].path.len, 0);
    cr_assert_eq(defs[1].budget_soft, 1u << 20);
    cr_assert_eq(defs[1].budget_hard, 2u << 20);
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(&s, 2, defs, 8), 2);
    cr_assert_eq(defs[0].id, 2);
    cr_assert_eq(defs[0].parent_id, 1);
    cr_assert(defs[0].path.len == 16 && memcmp(defs[0].path.data, "physics/contacts", 16) == 0);
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(&s, 0, defs, 3), 3);
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(&s, 9, defs, 8), 0);
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(NULL, 0, defs, 8), FA_PROTO_ERR_INVALID_ARG);
    cr_assert_eq(fa_proto_tag_defs_from_snapshot(&s, 0, NULL, 8), FA_PROTO_ERR_INVALID_ARG);
}
