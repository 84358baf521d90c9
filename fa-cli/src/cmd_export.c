/* cmd_export.c — `export`: raw frames (totals per kind) or one tag's
 * rollups as CSV or JSON on stdout, for spreadsheets and scripts; a run
 * (session or capture file) as trace events or folded stacks for other
 * tools (export_formats.c). */
#include "export_formats.h"

#include <stdlib.h>
#include <string.h>

const cmd_info_t cmd_export_info = {
    .name = "export",
    .summary = "write frames, a tag's rollups, trace events or folded stacks to stdout",
    .synopsis = "--format csv|json|trace|folded [--from TIME] [--to TIME] [--tag T] [--points N]\n"
                "       [--capture FILE]",
    .details = "Without --tag: every stored raw frame between --from and --to (default: all kept),\n"
               "one row per frame with its totals per allocator kind. With --tag: that tag's usage\n"
               "over time (min, avg, max, last per point) from the daemon's rollups, from --from\n"
               "(default: 1h before the latest frame) to the latest frame, cut at --to.\n"
               "TIME is a duration ago (10m), 'now', unix seconds or ms, or 2024-05-01T12:00:00Z.\n"
               "Columns (frames): frame,t_ms,duration_ns,arena_bytes,pool_bytes,heap_bytes,total_bytes,\n"
               "alloc_count,alloc_bytes,free_count,findings. (tag): t_ms,min,avg,max,last,frames.\n"
               "--format trace: Chrome/Perfetto trace-event JSON (ui.perfetto.dev opens it): one counter\n"
               "track per tag (live bytes, an event when the value changes) and a slice per frame.\n"
               "--format folded: 'tag;function file:line bytes' lines for flame-graph tools\n"
               "(flamegraph.pl, speedscope): each call site's live bytes per frame under its tag,\n"
               "averaged (a run without call sites: each tag's own bytes). Both read the session, or the\n"
               "capture file given with --capture (no daemon needed), between --from and --to.\n",
    .example = "  fa-cli export --format csv > frames.csv\n"
               "  fa-cli export --format json --from 10m --to now\n"
               "  fa-cli export --format csv --tag physics --from 1h --points 360\n"
               "  fa-cli export --format trace --capture run.facap > run.trace.json\n"
               "  fa-cli --session fa-demo@42 export --format folded | flamegraph.pl > memory.svg\n",
};

static uint64_t kind_u64(const cJSON *frame, const char *kind, const char *field) {
    return jv_u64(jv_get(jv_get(frame, "totals"), kind), field, 0);
}

static void frame_csv(const cJSON *f) {
    uint64_t fr = kind_u64(f, "frame", "in_use"), po = kind_u64(f, "pool", "in_use"),
             he = kind_u64(f, "heap", "in_use");
    uint64_t ac = 0, ab = 0, fc = 0;
    const char *kinds[] = {"frame", "pool", "heap"};
    for (int k = 0; k < 3; k++) {
        ac += kind_u64(f, kinds[k], "alloc_count");
        ab += kind_u64(f, kinds[k], "alloc_bytes");
        fc += kind_u64(f, kinds[k], "free_count");
    }
    printf("%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%d\n",
           (unsigned long long)jv_u64(f, "frame", 0), (unsigned long long)jv_u64(f, "t_ms", 0),
           (unsigned long long)jv_u64(f, "duration_ns", 0), (unsigned long long)fr, (unsigned long long)po,
           (unsigned long long)he, (unsigned long long)(fr + po + he), (unsigned long long)ac,
           (unsigned long long)ab, (unsigned long long)fc, cJSON_GetArraySize(jv_array(f, "findings")));
}

static int export_frames(cli_t *cli, const char *sid, bool csv, uint64_t from, uint64_t to, bool have_to) {
    if (csv)
        printf("frame,t_ms,duration_ns,arena_bytes,pool_bytes,heap_bytes,total_bytes,alloc_count,alloc_bytes,"
               "free_count,findings\n");
    else
        printf("{\"session\":\"%s\",\"kind\":\"frames\",\"frames\":[", sid);
    /* Pages of 1000 in time order; the next page starts at the last time
     * seen and skips the frames already written (equal times). */
    uint64_t last_frame = 0, count = 0;
    bool any = false;
    for (;;) {
        char path[256], num[32];
        snprintf(path, sizeof path, "/api/v1/sessions/%s/frames?limit=1000", sid);
        snprintf(num, sizeof num, "%llu", (unsigned long long)from);
        http_query_add(path, sizeof path, "from", num);
        if (have_to) {
            snprintf(num, sizeof num, "%llu", (unsigned long long)to);
            http_query_add(path, sizeof path, "to", num);
        }
        http_answer_t a;
        int rc = api_get(cli, path, &a, sid, NULL);
        if (rc) {
            if (!csv) printf("]}\n");
            return rc;
        }
        const cJSON *frames = jv_array(a.json, "frames"), *f;
        uint64_t page_last_t = from;
        size_t written = 0;
        cJSON_ArrayForEach(f, frames) {
            uint64_t num_f = jv_u64(f, "frame", 0), t = jv_u64(f, "t_ms", 0);
            if (t > page_last_t) page_last_t = t;
            if (any && t == from && num_f <= last_frame) continue;
            if (csv)
                frame_csv(f);
            else {
                char *s = cJSON_PrintUnformatted(f);
                if (s) printf("%s\n%s", any ? "," : "", s);
                free(s);
            }
            any = true;
            last_frame = num_f;
            written++;
            count++;
        }
        bool more = jv_bool(a.json, "truncated", false);
        http_answer_free(&a);
        if (!more || written == 0) break;
        from = page_last_t;
    }
    if (!csv) printf("],\"count\":%llu}\n", (unsigned long long)count);
    fprintf(stderr, CLI_NAME " export: %llu frame%s of session %s\n", (unsigned long long)count,
            count == 1 ? "" : "s", sid);
    return CLI_EXIT_OK;
}

static int export_tag(cli_t *cli, const char *sid, const cJSON *session, const char *tag, bool csv,
                      uint64_t from, bool have_from, uint64_t to, bool have_to, uint32_t points) {
    /* The daemon's trend window ends at the latest frame: derive the window
     * from --from, and cut at --to here. */
    uint64_t end = jv_u64(session, "last_frame_ms", 0);
    if (end == 0) end = render_now_ms();
    uint64_t window = have_from ? (end > from ? end - from : 1000) : 3600u * 1000u;
    if (window < 1000) window = 1000;
    if (window > 30ull * 86400u * 1000u) window = 30ull * 86400u * 1000u;
    char path[1400], num[32];
    snprintf(path, sizeof path, "/api/v1/sessions/%s/trend", sid);
    if (http_query_add(path, sizeof path, "tag", tag) != 0)
        return args_usage_error(&cmd_export_info, "--tag: '%.40s...' is too long", tag);
    snprintf(num, sizeof num, "%llums", (unsigned long long)window);
    http_query_add(path, sizeof path, "window", num);
    snprintf(num, sizeof num, "%u", points);
    http_query_add(path, sizeof path, "points", num);
    http_answer_t a;
    int rc = api_get(cli, path, &a, sid, tag);
    if (rc) return rc;
    const cJSON *series = jv_array(a.json, "series"), *p;
    if (csv)
        printf("t_ms,min,avg,max,last,frames\n");
    else
        printf("{\"session\":\"%s\",\"kind\":\"rollups\",\"tag\":\"%s\",\"step_ms\":%llu,\"series\":[", sid,
               jv_str(a.json, "tag", tag), (unsigned long long)jv_u64(a.json, "step_ms", 0));
    uint64_t count = 0;
    cJSON_ArrayForEach(p, series) {
        uint64_t t = jv_u64(p, "t_ms", 0);
        if (have_to && t > to) continue;
        if (have_from && t + jv_u64(a.json, "step_ms", 0) < from) continue;
        if (csv)
            printf("%llu,%llu,%llu,%llu,%llu,%llu\n", (unsigned long long)t,
                   (unsigned long long)jv_u64(p, "min", 0), (unsigned long long)jv_u64(p, "avg", 0),
                   (unsigned long long)jv_u64(p, "max", 0), (unsigned long long)jv_u64(p, "last", 0),
                   (unsigned long long)jv_u64(p, "frames", 0));
        else {
            char *s = cJSON_PrintUnformatted(p);
            if (s) printf("%s\n%s", count ? "," : "", s);
            free(s);
        }
        count++;
    }
    if (!csv) printf("],\"count\":%llu}\n", (unsigned long long)count);
    fprintf(stderr, CLI_NAME " export: %llu point%s of %s in session %s\n", (unsigned long long)count,
            count == 1 ? "" : "s", jv_str(a.json, "tag", tag), sid);
    http_answer_free(&a);
    return CLI_EXIT_OK;
}

int cmd_export(cli_t *cli, int argc, char **argv) {
    const char *format = NULL, *tag = NULL, *capture = NULL;
    uint64_t from = 0, to = 0;
    bool have_from = false, have_to = false;
    uint32_t points = 360;
    args_opt_t opts[] = {
        {"format", ARGS_STRING, &format, "FMT", "csv, json, trace or folded (default csv; json with --json)"},
        {"capture", ARGS_STRING, &capture, "FILE", "trace, folded: read this capture file, not a session"},
        {"from", ARGS_TIME, &from, "TIME", "first time included (default: the oldest kept)", 0, false,
         &have_from},
        {"to", ARGS_TIME, &to, "TIME", "last time included (default: the latest frame)", 0, false, &have_to},
        {"tag", ARGS_STRING, &tag, "T", "export this tag's rollups instead of raw frames"},
        {"points", ARGS_UINT, &points, "N", "with --tag: points over the range (default 360, at most 1000)",
         1000},
        {0},
    };
    int rc = args_parse(cli, &cmd_export_info, opts, argc, argv);
    if (rc >= 0) return rc;
    if (!format) format = cli->json ? "json" : "csv";
    if (have_from && have_to && from > to) return args_usage_error(&cmd_export_info, "--from is after --to");
    bool trace = strcmp(format, "trace") == 0, folded = strcmp(format, "folded") == 0;
    if (trace || folded) {
        if (tag) return args_usage_error(&cmd_export_info, "--tag goes with csv and json, not %s", format);
        if (capture && cli->session) return args_usage_error(&cmd_export_info, "give --capture or --session, not both");
        char *spec = run_spec_of(capture, cli->session);
        if (!spec) return CLI_EXIT_SERVER;
        uint64_t lo = have_from ? from : 0, hi = have_to ? to : UINT64_MAX;
        rc = trace ? export_trace(cli, spec, lo, hi, stdout) : export_folded(cli, spec, lo, hi, stdout);
        free(spec);
        return rc;
    }
    bool csv;
    if (strcmp(format, "csv") == 0)
        csv = true;
    else if (strcmp(format, "json") == 0)
        csv = false;
    else
        return args_usage_error(&cmd_export_info, "--format: '%s' is not csv, json, trace or folded", format);
    if (capture)
        return args_usage_error(&cmd_export_info,
                                "--capture goes with trace and folded (csv and json export a session's stored frames)");
    char sid[32];
    cJSON *session = NULL;
    if ((rc = session_resolve(cli, sid, &session)) != 0) return rc;
    if (tag)
        rc = export_tag(cli, sid, session, tag, csv, from, have_from, to, have_to, points);
    else
        rc = export_frames(cli, sid, csv, have_from ? from : 0, to, have_to);
    cJSON_Delete(session);
    return rc;
}
