/* cmd_frames.c — `frames`: the most recent frames of a session with their
 * totals per allocator kind. */
#include "cli.h"

#include <string.h>

const cmd_info_t cmd_frames_info = {
    .name = "frames",
    .summary = "show the most recent frames with their memory totals",
    .synopsis = "[--last N]",
    .details = "One row per frame, oldest first: frame number, time, duration, bytes in use in the\n"
               "frame arenas, the pools and the heap, their sum, allocations made during the frame\n"
               "and behaviour-filter findings reported with it.\n",
    .example = "  fa-cli frames --last 5\n"
               "  fa-cli --session 3f2a frames --last 100 --json\n",
};

static uint64_t kind_u64(const cJSON *frame, const char *kind, const char *field) {
    return jv_u64(jv_get(jv_get(frame, "totals"), kind), field, 0);
}

int cmd_frames(cli_t *cli, int argc, char **argv) {
    uint32_t last = 20;
    args_opt_t opts[] = {
        {"last", ARGS_UINT, &last, "N", "how many frames, newest last (default 20, at most 1000)", 1000},
        {0},
    };
    int rc = args_parse(cli, &cmd_frames_info, opts, argc, argv);
    if (rc >= 0) return rc;
    char sid[32];
    if ((rc = session_resolve(cli, sid, NULL)) != 0) return rc;
    char path[160];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/frames?limit=%u", sid, last);
    http_answer_t a;
    if ((rc = api_get(cli, path, &a, sid, NULL)) != 0) return rc;
    if (cli->json) {
        cmd_print_json(&a);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    const cJSON *frames = jv_array(a.json, "frames");
    if (cJSON_GetArraySize(frames) == 0) {
        printf("session %s has no stored frames yet\n", sid);
        http_answer_free(&a);
        return CLI_EXIT_OK;
    }
    render_table_t *t = render_table_new(10);
    const char *head[] = {"FRAME", "TIME",  "DURATION", "ARENA", "POOL",
                          "HEAP",  "TOTAL", "ALLOCS",   "FREES", "FINDINGS"};
    render_table_header(t, head);
    for (size_t c = 0; c < 10; c++)
        if (c != 1) render_table_align_right(t, c);
    const cJSON *f;
    uint64_t now = render_now_ms();
    cJSON_ArrayForEach(f, frames) {
        char b[6][32], clock[48];
        uint64_t t_ms = jv_u64(f, "t_ms", 0);
        uint64_t fr = kind_u64(f, "frame", "in_use"), po = kind_u64(f, "pool", "in_use"),
                 he = kind_u64(f, "heap", "in_use");
        uint64_t allocs = kind_u64(f, "frame", "alloc_count") + kind_u64(f, "pool", "alloc_count") +
                          kind_u64(f, "heap", "alloc_count");
        uint64_t frees = kind_u64(f, "pool", "free_count") + kind_u64(f, "heap", "free_count");
        /* hh:mm:ss.mmm and the zone today, with the date otherwise. */
        bool today = now - t_ms < 12u * 3600u * 1000u;
        render_clock(cli, clock, sizeof clock, t_ms, RENDER_CLOCK_MS | (today ? 0 : RENDER_CLOCK_DATE));
        render_table_cell(t, "%llu", (unsigned long long)jv_u64(f, "frame", 0));
        render_table_cell(t, "%s", clock);
        render_table_cell(t, "%s", render_ns(b[0], 32, jv_u64(f, "duration_ns", 0), cli->utf8));
        render_table_cell(t, "%s", units_format_bytes(b[1], 32, fr));
        render_table_cell(t, "%s", units_format_bytes(b[2], 32, po));
        render_table_cell(t, "%s", units_format_bytes(b[3], 32, he));
        render_table_cell(t, "%s", units_format_bytes(b[4], 32, fr + po + he));
        render_table_cell(t, "%s", render_count(b[5], 32, allocs));
        render_table_cell(t, "%llu", (unsigned long long)frees);
        int nf = cJSON_GetArraySize(jv_array(f, "findings"));
        if (nf)
            render_table_cell(t, "%s%d%s", render_color_code(cli, RC_YELLOW), nf,
                              render_color_code(cli, RC_RESET));
        else
            render_table_cell(t, "-");
    }
    render_table_print(cli, t, stdout);
    render_table_free(t);
    if (jv_bool(a.json, "truncated", false))
        printf("(older frames exist: raise --last, or use export for all of them)\n");
    http_answer_free(&a);
    return CLI_EXIT_OK;
}
