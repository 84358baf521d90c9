/* sender.c — a scripted telemetry source for the fa-insightd tests: it
 * encodes protocol messages with proto/ (as the agent will) and pushes
 * them over nng PUSH, and on demand sends garbage, truncated messages,
 * frames before their HELLO or sequence gaps.
 *
 *   insightd_sender --url tcp://127.0.0.1:PORT [--session HEX] [--sessions N]
 *       [--frames N] [--fps F] [--fast] [--tags T] [--budget BYTES]
 *       [--usage 50x10,85x10,...] [--hello-after K] [--no-hello] [--bye]
 *       [--skip-seq N] [--findings] [--garbage N] [--truncate N]
 *       [--start-unix-ms MS] [--start-unix-ns NS] [--progress] [--app NAME]
 *       [--host NAME] [--build ID] [--undefined-tags N] [--duplicate K] [--first-frame N]
 *       [--proto-1.0] [--site-file PATH:LINE]... [--secret S] [--ca FILE]
 *
 * Tag dictionary: 0 "" (root), 1 "physics", 2 "physics/contacts",
 * 3 "render", then "t<i>" under the root. --budget gives tag 1 (physics)
 * a hard budget (soft = half); --usage scripts physics' live bytes in
 * percent of it ("85x10": 85 % for 10 frames; the last value stays).
 * Frame times are virtual: frame i starts at start + i / fps, whatever the
 * real pace (--fast sends as fast as the socket takes them). Prints
 * "sent N" per frame with --progress, and a summary line at the end.
 *
 * Hostile shapes: --undefined-tags N adds N rows per frame for tag ids the
 * dictionary never defines; --duplicate K sends every K-th frame twice
 * with the same seq; --first-frame N numbers the frames (and their seqs)
 * from N, to continue a session in a second run (with --no-hello);
 * --start-unix-ns takes any 64-bit value (absurd clocks).
 *
 * Versions and call sites: --proto-1.0 sends what a 1.0 agent sends (minor
 * version 0, FRAMEs without their site part); each --site-file defines one
 * call site (ids 1, 2, ... in a SITES after the HELLO; function "fn<id>",
 * kind frame), and every FRAME then carries a row per site under physics
 * (tag 1): 100 * id bytes, id allocations.
 *
 * Remote ingest: --secret S puts the daemon's shared ingest secret in the
 * HELLOs (1.2); --ca FILE verifies a tls+tcp:// daemon's certificate. */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fa_proto.h"

typedef struct opts {
    const char *url, *app, *host, *build, *secret, *ca;
    uint64_t session;
    int sessions, frames, tags, hello_after, skip_seq, garbage, truncate, undefined_tags, duplicate;
    uint64_t first_frame, start_unix_ns;
    double fps;
    bool fast, no_hello, bye, findings, progress, proto_1_0;
    const char *site_files[64];
    uint32_t site_lines[64];
    int site_count;
    uint64_t budget, start_unix_ms;
    int usage_pct[256], usage_n[256], usage_len;
} opts_t;

static uint64_t now_ns(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "insightd_sender: %s\n", msg);
    exit(2);
}

static void parse_usage(opts_t *o, const char *s) {
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok && o->usage_len < 256; tok = strtok(NULL, ",")) {
        char *x = strchr(tok, 'x');
        o->usage_pct[o->usage_len] = atoi(tok);
        o->usage_n[o->usage_len] = x ? atoi(x + 1) : 1;
        o->usage_len++;
    }
}

static int usage_at(const opts_t *o, int frame) {
    int acc = 0;
    for (int i = 0; i < o->usage_len; i++) {
        acc += o->usage_n[i];
        if (frame < acc) return o->usage_pct[i];
    }
    return o->usage_len ? o->usage_pct[o->usage_len - 1] : 50;
}

static nng_socket sock;
static uint8_t buf[FA_PROTO_MAX_MESSAGE];
static long sent_msgs;

static void push(const void *data, size_t len) {
    int rv = nng_send(sock, (void *)data, len, 0);
    if (rv != 0) {
        fprintf(stderr, "insightd_sender: send: %s\n", nng_strerror(rv));
        exit(1);
    }
    sent_msgs++;
}

static bool as_1_0;

static size_t encode(const fa_proto_msg_t *m) {
    int n = fa_proto_encode(m, buf, sizeof buf);
    if (n < 0) {
        fprintf(stderr, "insightd_sender: encode: %s\n", fa_proto_err_name(n));
        exit(1);
    }
    if (as_1_0) {
        /* What a 1.0 writer sends: minor version 0, and a FRAME ends after
         * its findings (PROTOCOL.md §5.2: without sites_total and the
         * empty site section, 8 bytes). */
        if (m->header.type == FA_PROTO_SITES) die("--proto-1.0 has no SITES");
        buf[5] = 0;
        if (m->header.type == FA_PROTO_HELLO) {
            /* ... and a HELLO ends after its tags (no 1.2 secret). */
            if (m->hello.ingest_secret.len) die("--proto-1.0 has no secret");
            n -= 2;
            uint32_t body = (uint32_t)n - 28;
            memcpy(buf + 8, &body, 4);
        }
        if (m->header.type == FA_PROTO_FRAME) {
            if (m->frame.site_count) die("--proto-1.0 has no site rows");
            n -= 8;
            uint32_t body = (uint32_t)n - 28;
            memcpy(buf + 8, &body, 4); /* little-endian hosts only, like the tests */
        }
    }
    return (size_t)n;
}

typedef struct session {
    uint64_t id, seq;
    int frames_sent;
    bool hello_sent;
} session_t;

static fa_proto_tag_def_t defs[4096];
static char paths[4096][32];

static void build_dict(const opts_t *o) {
    for (int i = 0; i < o->tags; i++) {
        fa_proto_tag_def_t *d = &defs[i];
        memset(d, 0, sizeof *d);
        d->id = (uint16_t)i;
        d->parent_id = 0;
        switch (i) {
        case 0:
            paths[i][0] = '\0';
            break;
        case 1:
            strcpy(paths[i], "physics");
            if (o->budget) {
                d->budget_hard = o->budget;
                d->budget_soft = o->budget / 2;
            }
            break;
        case 2:
            strcpy(paths[i], "physics/contacts");
            d->parent_id = 1;
            break;
        case 3:
            strcpy(paths[i], "render");
            break;
        default:
            snprintf(paths[i], sizeof paths[i], "t%d", i);
        }
        d->path = fa_proto_str(paths[i]);
    }
}

static uint64_t start_unix_ns, start_mono_ns;

static void send_hello(const opts_t *o, session_t *s) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_HELLO;
    m.header.session_id = s->id;
    m.header.seq = s->seq++;
    m.hello.pid = (uint32_t)getpid();
    m.hello.lib_version = (0u << 16) | (1u << 8);
    m.hello.start_unix_ns = start_unix_ns;
    m.hello.start_mono_ns = start_mono_ns;
    m.hello.app_name = fa_proto_str(o->app);
    m.hello.session_label = fa_proto_str("test");
    m.hello.host = fa_proto_str(o->host);
    m.hello.build_id = fa_proto_str(o->build);
    m.hello.tags = defs;
    m.hello.tag_count = (uint32_t)o->tags;
    m.hello.ingest_secret = fa_proto_str(o->secret);
    push(buf, encode(&m));
    s->hello_sent = true;
    if (!o->site_count) return;
    static fa_proto_site_def_t sdefs[64];
    static char fns[64][16];
    for (int k = 0; k < o->site_count; k++) {
        snprintf(fns[k], sizeof fns[k], "fn%d", k + 1);
        sdefs[k] = (fa_proto_site_def_t){(uint32_t)k + 1, o->site_lines[k], FA_PROTO_KIND_FRAME,
                                         fa_proto_str(o->site_files[k]), fa_proto_str(fns[k])};
    }
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_SITES;
    m.header.session_id = s->id;
    m.header.seq = s->seq++;
    m.sites.sites = sdefs;
    m.sites.site_count = (uint32_t)o->site_count;
    push(buf, encode(&m));
}

static fa_proto_tag_stat_t rows[4096 + 4096];

static size_t encode_frame(const opts_t *o, session_t *s, int i) {
    fa_proto_msg_t m;
    memset(&m, 0, sizeof m);
    m.header.type = FA_PROTO_FRAME;
    m.header.session_id = s->id;
    if (o->skip_seq && s->seq % (uint64_t)o->skip_seq == (uint64_t)o->skip_seq - 1) s->seq++; /* a gap */
    m.header.seq = s->seq++;
    fa_proto_frame_t *f = &m.frame;
    double fps = o->fps > 0 ? o->fps : 60.0;
    f->frame = (uint64_t)i + o->first_frame;
    f->start_ns = start_mono_ns + (uint64_t)((double)i * 1e9 / fps);
    f->duration_ns = (uint64_t)(1e9 / fps * 0.8);
    f->tags_total = (uint32_t)o->tags;
    f->threads_total = 1;
    for (int k = 0; k < 3; k++) {
        f->totals[k].in_use = 1000000u * (uint64_t)(k + 1) + (uint64_t)i;
        f->totals[k].peak = 2000000u * (uint64_t)(k + 1);
        f->totals[k].alloc_count = 10u + (uint64_t)k;
        f->totals[k].alloc_bytes = 4096u;
        f->totals[k].free_count = 5u;
    }
    for (int t = 0; t < o->tags; t++) {
        fa_proto_tag_stat_t *r = &rows[t];
        memset(r, 0, sizeof *r);
        r->id = (uint16_t)t;
        uint64_t live = 1000u * (uint64_t)t + (uint64_t)(i % 100);
        if (t == 1 && o->budget) live = o->budget * (uint64_t)usage_at(o, i) / 100u;
        r->live_bytes = live;
        r->peak_bytes = live + 10;
        r->frame_bytes = 64u * (uint64_t)t;
        r->pool_bytes = live / 2;
        r->heap_bytes = live / 4;
        r->alloc_count = (uint64_t)t;
    }
    for (int u = 0; u < o->undefined_tags; u++) {
        fa_proto_tag_stat_t *r = &rows[o->tags + u];
        memset(r, 0, sizeof *r);
        r->id = (uint16_t)(o->tags + 1000 + u); /* never in the dictionary */
        r->live_bytes = 1;
    }
    f->tags = rows;
    f->tag_count = (uint32_t)(o->tags + o->undefined_tags);
    static fa_proto_thread_row_t th = {0, 0, 4096, 65536, 0, 0};
    th.frames = (uint64_t)i + 1;
    f->threads = &th;
    f->thread_count = 1;
    static fa_proto_finding_t fi = {2, 1, 1, 3, 1024};
    if (o->findings) {
        f->findings = &fi;
        f->finding_count = 1;
    }
    static fa_proto_site_row_t site_rows[64];
    for (int k = 0; k < o->site_count && o->tags > 1; k++)
        site_rows[k] =
            (fa_proto_site_row_t){(uint32_t)k + 1, 1, 100u * (uint64_t)(k + 1), (uint64_t)k + 1, 0};
    if (o->tags > 1 && o->site_count) {
        f->sites = site_rows;
        f->site_count = (uint32_t)o->site_count;
        f->sites_total = (uint32_t)o->site_count;
    }
    return encode(&m);
}

int main(int argc, char **argv) {
    opts_t o = {.app = "insightd-sender",
                .host = "testhost",
                .build = "build-1",
                .sessions = 1,
                .frames = 100,
                .tags = 8,
                .fps = 60,
                .hello_after = 0,
                .first_frame = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (die("missing value"), ""))
        if (!strcmp(a, "--url"))
            o.url = ARG();
        else if (!strcmp(a, "--app"))
            o.app = ARG();
        else if (!strcmp(a, "--host"))
            o.host = ARG();
        else if (!strcmp(a, "--build"))
            o.build = ARG();
        else if (!strcmp(a, "--session"))
            o.session = strtoull(ARG(), NULL, 16);
        else if (!strcmp(a, "--sessions"))
            o.sessions = atoi(ARG());
        else if (!strcmp(a, "--frames"))
            o.frames = atoi(ARG());
        else if (!strcmp(a, "--fps"))
            o.fps = atof(ARG());
        else if (!strcmp(a, "--fast"))
            o.fast = true;
        else if (!strcmp(a, "--tags"))
            o.tags = atoi(ARG());
        else if (!strcmp(a, "--budget"))
            o.budget = strtoull(ARG(), NULL, 10);
        else if (!strcmp(a, "--usage"))
            parse_usage(&o, ARG());
        else if (!strcmp(a, "--hello-after"))
            o.hello_after = atoi(ARG());
        else if (!strcmp(a, "--no-hello"))
            o.no_hello = true;
        else if (!strcmp(a, "--bye"))
            o.bye = true;
        else if (!strcmp(a, "--skip-seq"))
            o.skip_seq = atoi(ARG());
        else if (!strcmp(a, "--findings"))
            o.findings = true;
        else if (!strcmp(a, "--garbage"))
            o.garbage = atoi(ARG());
        else if (!strcmp(a, "--truncate"))
            o.truncate = atoi(ARG());
        else if (!strcmp(a, "--start-unix-ms"))
            o.start_unix_ms = strtoull(ARG(), NULL, 10);
        else if (!strcmp(a, "--start-unix-ns"))
            o.start_unix_ns = strtoull(ARG(), NULL, 10);
        else if (!strcmp(a, "--undefined-tags"))
            o.undefined_tags = atoi(ARG());
        else if (!strcmp(a, "--duplicate"))
            o.duplicate = atoi(ARG());
        else if (!strcmp(a, "--first-frame"))
            o.first_frame = strtoull(ARG(), NULL, 10);
        else if (!strcmp(a, "--proto-1.0"))
            o.proto_1_0 = true;
        else if (!strcmp(a, "--site-file")) {
            char *spec = ARG(), *colon = strrchr(spec, ':');
            if (!colon || o.site_count == 64) die("--site-file takes PATH:LINE (at most 64)");
            *colon = '\0';
            o.site_files[o.site_count] = spec;
            o.site_lines[o.site_count++] = (uint32_t)strtoul(colon + 1, NULL, 10);
        } else if (!strcmp(a, "--secret"))
            o.secret = ARG();
        else if (!strcmp(a, "--ca"))
            o.ca = ARG();
        else if (!strcmp(a, "--progress"))
            o.progress = true;
        else
            die("unknown argument (see the comment at the top of sender.c)");
#undef ARG
    }
    if (!o.url) die("--url is required");
    if (o.tags < 1 || o.tags > 4096) die("--tags must be in 1..4096");
    if (o.sessions < 1 || o.sessions > 1000) die("--sessions must be in 1..1000");
    if (o.undefined_tags < 0 || o.undefined_tags > 4096 - o.tags) die("--undefined-tags must fit 4096 rows");
    if (o.first_frame < 1) die("--first-frame must be >= 1");
    as_1_0 = o.proto_1_0;
    srand((unsigned)(now_ns(CLOCK_REALTIME) ^ (uint64_t)getpid()));
    if (!o.session) o.session = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand() ^ 1u;
    start_unix_ns = o.start_unix_ns   ? o.start_unix_ns
                    : o.start_unix_ms ? o.start_unix_ms * 1000000ull
                                      : now_ns(CLOCK_REALTIME);
    start_mono_ns = now_ns(CLOCK_MONOTONIC);
    build_dict(&o);

    int rv;
    nng_dialer dialer;
    if ((rv = nng_push0_open(&sock)) != 0 || (rv = nng_dialer_create(&dialer, sock, o.url)) != 0 ||
        (o.ca && (rv = nng_dialer_set_string(dialer, NNG_OPT_TLS_CA_FILE, o.ca)) != 0) ||
        (rv = nng_dialer_start(dialer, 0)) != 0) {
        fprintf(stderr, "insightd_sender: %s: %s\n", o.url, nng_strerror(rv));
        return 1;
    }
    nng_socket_set_int(sock, NNG_OPT_SENDBUF, 1024);
    /* A sender whose daemon is gone gives up instead of waiting forever. */
    nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, 10000);

    /* Garbage: random bytes, a wrong magic, a bad version, lengths that lie. */
    for (int g = 0; g < o.garbage; g++) {
        size_t len = (size_t)(rand() % 200) + 1;
        for (size_t k = 0; k < len; k++)
            buf[k] = (uint8_t)rand();
        if (g % 3 == 1 && len >= 8) memcpy(buf, "FAPM\x07\x00\x02\x00", 8); /* version 7 */
        push(buf, len);
    }
    session_t *ss = calloc((size_t)o.sessions, sizeof *ss);
    for (int k = 0; k < o.sessions; k++)
        ss[k].id = o.session + (uint64_t)k;
    /* Truncated frames: a valid frame cut short. */
    for (int t = 0; t < o.truncate; t++) {
        size_t n = encode_frame(&o, &ss[0], t);
        ss[0].seq--;
        push(buf, n / 2 + (size_t)(t % 7));
    }
    for (int k = 0; k < o.sessions; k++)
        if (!o.no_hello && o.hello_after == 0) send_hello(&o, &ss[k]);

    uint64_t t0 = now_ns(CLOCK_MONOTONIC);
    double interval = o.fps > 0 ? 1e9 / o.fps : 0;
    for (int i = 0; i < o.frames; i++) {
        if (!o.fast && interval > 0) {
            uint64_t due = t0 + (uint64_t)(interval * i);
            uint64_t now = now_ns(CLOCK_MONOTONIC);
            if (due > now) {
                struct timespec ts = {(time_t)((due - now) / 1000000000ull),
                                      (long)((due - now) % 1000000000ull)};
                nanosleep(&ts, NULL);
            }
        }
        for (int k = 0; k < o.sessions; k++) {
            if (!o.no_hello && o.hello_after > 0 && i == o.hello_after && !ss[k].hello_sent) {
                /* The HELLO takes seq 0 whatever was sent before it. */
                uint64_t next = ss[k].seq;
                ss[k].seq = 0;
                send_hello(&o, &ss[k]);
                ss[k].seq = next;
            } else if (o.hello_after > 0 && i == 0 && !ss[k].hello_sent) {
                ss[k].seq = 1; /* frames before the HELLO start at 1 */
            }
            if (i == 0 && o.first_frame > 1) ss[k].seq = o.first_frame; /* a continued session */
            size_t n = encode_frame(&o, &ss[k], i);
            push(buf, n);
            if (o.duplicate > 0 && (i + 1) % o.duplicate == 0) push(buf, n); /* same seq again */
            ss[k].frames_sent++;
        }
        if (o.progress) {
            printf("sent %d\n", i + 1);
            fflush(stdout);
        }
    }
    if (o.bye) {
        for (int k = 0; k < o.sessions; k++) {
            fa_proto_msg_t m;
            memset(&m, 0, sizeof m);
            m.header.type = FA_PROTO_BYE;
            m.header.session_id = ss[k].id;
            m.header.seq = ss[k].seq++;
            m.bye.frames_sent = (uint64_t)ss[k].frames_sent;
            push(buf, encode(&m));
        }
    }
    /* Let nng hand the queued messages to the connection before closing. */
    usleep(300000);
    printf("done session=%016llx sessions=%d frames=%d messages=%ld\n", (unsigned long long)o.session,
           o.sessions, o.frames, sent_msgs);
    fflush(stdout);
    nng_close(sock);
    free(ss);
    return 0;
}
