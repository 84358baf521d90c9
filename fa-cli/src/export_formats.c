/* export_formats.c — trace-event JSON and folded stacks from a run
 * (export_formats.h). */
#include "export_formats.h"
#include "sitenames.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What both writers keep while a run streams by. */
typedef struct export_state {
    FILE *out;
    uint64_t from_ms, to_ms;
    char *names[65536]; /* tag paths by id */
    bool oom;
    /* trace */
    bool header, any_frame;
    uint64_t t0_ns;
    uint64_t last_live[65536];
    bool seen[65536];
    /* folded: own bytes summed over frames; the live bytes of each (site,
     * tag) pair summed the same way */
    double own[65536];
    uint64_t frames;
    sitenames_t site_names;
    u64map_t pair_at; /* (site << 16 | tag) + 1 -> pairs[] */
    struct folded_pair {
        uint32_t site;
        uint16_t tag;
        double live;
    } *pairs;
    size_t npairs, pairs_cap;
} export_state_t;

static void on_site(void *user, uint32_t id, uint32_t line, uint8_t kind, const char *file, const char *function) {
    export_state_t *x = user;
    if (sitenames_define(&x->site_names, id, line, kind, file, function) != 0) x->oom = true;
}


static void on_tag(void *user, uint16_t id, uint16_t parent, const char *path) {
    export_state_t *x = user;
    char *copy = strdup(path);
    if (!copy) {
        x->oom = true;
        return;
    }
    (void)parent;
    free(x->names[id]);
    x->names[id] = copy;
}

static const char *tag_name(export_state_t *x, uint16_t id, char *buf, size_t cap) {
    if (x->names[id]) return render_tag_name(x->names[id]);
    snprintf(buf, cap, "#%u", id);
    return buf;
}

static bool in_range(const export_state_t *x, const run_frame_t *f) {
    uint64_t ms = f->t_unix_ns / 1000000u;
    return ms >= x->from_ms && ms <= x->to_ms;
}

/* ---- trace ----------------------------------------------------------------- */

static void trace_info(void *user, const run_info_t *info) {
    export_state_t *x = user;
    x->header = true;
    fputs("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"fa-cli export\",\"source\":", x->out);
    render_json_string(x->out, info->source);
    fputs(",\"app\":", x->out);
    render_json_string(x->out, info->app);
    fputs(",\"build\":", x->out);
    render_json_string(x->out, info->build);
    fprintf(x->out, ",\"session\":\"%s\",\"start_unix_ms\":%" PRIu64 "},\"traceEvents\":[\n", info->session,
            info->start_unix_ms);
    char pname[600];
    snprintf(pname, sizeof pname, "%s (session %s)", info->app[0] ? info->app : "game", info->session);
    fputs("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":", x->out);
    render_json_string(x->out, pname);
    fputs("}},\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":\"frames\"}}", x->out);
}

/* Microseconds with three decimals (trace-event ts and dur are µs). */
static void put_us(FILE *out, uint64_t ns) {
    fprintf(out, "%" PRIu64 ".%03u", ns / 1000u, (unsigned)(ns % 1000u));
}

static int trace_frame(void *user, const run_frame_t *f) {
    export_state_t *x = user;
    if (!in_range(x, f)) return 0;
    if (!x->any_frame) {
        x->t0_ns = f->t_unix_ns;
        x->any_frame = true;
    }
    uint64_t rel = f->t_unix_ns >= x->t0_ns ? f->t_unix_ns - x->t0_ns : 0;
    fputs(",\n{\"name\":\"frame\",\"cat\":\"frame\",\"ph\":\"X\",\"pid\":1,\"tid\":1,\"ts\":", x->out);
    put_us(x->out, rel);
    fputs(",\"dur\":", x->out);
    put_us(x->out, f->duration_ns);
    fprintf(x->out, ",\"args\":{\"frame\":%" PRIu64 "}}", f->frame);
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *r = &f->tags[i];
        if (x->seen[r->id] && x->last_live[r->id] == r->live_bytes) continue;
        x->seen[r->id] = true;
        x->last_live[r->id] = r->live_bytes;
        char num[16];
        fputs(",\n{\"name\":", x->out);
        render_json_string(x->out, tag_name(x, r->id, num, sizeof num));
        fputs(",\"cat\":\"memory\",\"ph\":\"C\",\"pid\":1,\"ts\":", x->out);
        put_us(x->out, rel);
        fprintf(x->out, ",\"args\":{\"live_bytes\":%" PRIu64 "}}", r->live_bytes);
    }
    return 0;
}

static void state_free(export_state_t *x) {
    for (uint32_t i = 0; i < 65536; i++)
        free(x->names[i]);
    sitenames_free(&x->site_names);
    u64map_free(&x->pair_at);
    free(x->pairs);
    free(x);
}

static export_state_t *state_new(FILE *out, uint64_t from_ms, uint64_t to_ms) {
    export_state_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->out = out;
    x->from_ms = from_ms;
    x->to_ms = to_ms;
    return x;
}

int export_trace(const cli_t *cli, const char *spec, uint64_t from_ms, uint64_t to_ms, FILE *out) {
    export_state_t *x = state_new(out, from_ms, to_ms);
    if (!x) return CLI_EXIT_SERVER;
    run_visitor_t v = {.user = x, .on_info = trace_info, .on_tag = on_tag, .on_frame = trace_frame};
    run_info_t info;
    int rc = run_read(cli, spec, &v, &info);
    /* The document is closed even when the run stopped early, so that what
     * was written is valid JSON; the exit code tells. */
    if (x->header) fputs("\n]}\n", out);
    if (rc == 0)
        fprintf(cli->err, CLI_NAME " export: %" PRIu64 " frame%s of %s as trace events\n", info.frames,
                info.frames == 1 ? "" : "s", info.source);
    state_free(x);
    return rc;
}

/* ---- folded ---------------------------------------------------------------- */

static int folded_frame(void *user, const run_frame_t *f) {
    export_state_t *x = user;
    if (!in_range(x, f)) return 0;
    x->frames++;
    for (uint32_t i = 0; i < f->tag_count; i++) {
        const fa_proto_tag_stat_t *r = &f->tags[i];
        x->own[r->id] += (double)r->frame_bytes + (double)r->pool_bytes + (double)r->heap_bytes;
    }
    /* A site's live bytes are part of its tag's own bytes (the rows add up
     * to them): they move from the tag's line to the site's. */
    for (uint32_t i = 0; i < f->site_count; i++) {
        const fa_proto_site_row_t *r = &f->sites[i];
        uint64_t key = ((uint64_t)r->site_id << 16 | r->tag_id) + 1;
        uint32_t at = u64map_get(&x->pair_at, key);
        if (at == U64MAP_NONE) {
            if (x->npairs == x->pairs_cap) {
                size_t cap = x->pairs_cap ? x->pairs_cap * 2 : 256;
                struct folded_pair *p = realloc(x->pairs, cap * sizeof *p);
                if (!p) return CLI_EXIT_SERVER;
                x->pairs = p;
                x->pairs_cap = cap;
            }
            if (u64map_put(&x->pair_at, key, (uint32_t)x->npairs) != 0) return CLI_EXIT_SERVER;
            at = (uint32_t)x->npairs++;
            x->pairs[at] = (struct folded_pair){.site = r->site_id, .tag = r->tag_id};
        }
        x->pairs[at].live += (double)r->live_bytes;
        x->own[r->tag_id] -= (double)r->live_bytes;
    }
    return 0;
}

/* The stack of a tag: its path with '/' as ';' (a ';' of the name as ':'). */
static void put_stack(FILE *out, const char *name) {
    for (const char *p = name; *p; p++)
        fputc(*p == '/' ? ';' : *p == ';' ? ':' : *p, out);
}

/* One line: the stack, then the mean bytes per frame; 0 when it rounds
 * to nothing (not written). */
static size_t folded_line(export_state_t *x, uint16_t tag, const char *site, double sum) {
    if (sum <= 0 || !x->frames) return 0;
    uint64_t bytes = (uint64_t)llround(sum / (double)x->frames);
    if (!bytes) return 0;
    char num[16];
    /* A root site stands alone ("function file:line"), beside the tags. */
    if (!site || tag != 0 || x->names[0] == NULL || x->names[0][0]) {
        put_stack(x->out, tag_name(x, tag, num, sizeof num));
        if (site) fputc(';', x->out);
    }
    if (site) fputs(site, x->out);
    fprintf(x->out, " %" PRIu64 "\n", bytes);
    return 1;
}

int export_folded(const cli_t *cli, const char *spec, uint64_t from_ms, uint64_t to_ms, FILE *out) {
    export_state_t *x = state_new(out, from_ms, to_ms);
    if (!x) return CLI_EXIT_SERVER;
    run_visitor_t v = {.user = x, .on_tag = on_tag, .on_site = on_site, .on_frame = folded_frame};
    run_info_t info;
    int rc = run_read(cli, spec, &v, &info);
    if (rc == 0 && x->oom) {
        fprintf(cli->err, CLI_NAME " export: out of memory\n");
        rc = CLI_EXIT_SERVER;
    }
    if (rc == 0) {
        size_t lines = 0;
        /* What no site row claimed (frames without site rows: an agent
         * before call sites), then each (site, tag). */
        for (uint32_t id = 0; id < 65536; id++)
            lines += folded_line(x, (uint16_t)id, NULL, x->own[id]);
        for (size_t i = 0; i < x->npairs; i++) {
            char name[SITENAMES_NAME_MAX];
            sitenames_format(&x->site_names, x->pairs[i].site, name, sizeof name);
            lines += folded_line(x, x->pairs[i].tag, name, x->pairs[i].live);
        }
        fprintf(cli->err, CLI_NAME " export: %zu stack%s, own bytes per frame over %" PRIu64 " frame%s of %s\n",
                lines, lines == 1 ? "" : "s", x->frames, x->frames == 1 ? "" : "s", info.source);
    }
    state_free(x);
    return rc;
}
