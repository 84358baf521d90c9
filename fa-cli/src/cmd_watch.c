/* cmd_watch.c — `watch`: a live view over the daemon's WebSocket stream.
 * Totals, top tags and new alerts are redrawn in place (at most 10 times a
 * second) until Ctrl-C. When the connection drops (the daemon restarts),
 * the view says so and redials every second; on reconnection it
 * re-resolves the session and re-reads the tag names and budgets.
 *
 * Frame messages carry tag ids only: names and budgets come from the
 * tags route, fetched at (re)connection and again when an unknown id
 * shows up (at most every 2 s). */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

const cmd_info_t cmd_watch_info = {
    .name = "watch",
    .summary = "live view: totals, top tags and new alerts, redrawn in place until Ctrl-C",
    .synopsis = "[--tag T] [--top N]",
    .details = "Follows the session's frames over the WebSocket stream. Without --session it\n"
               "follows the latest live session and switches to a new one when a game starts.\n"
               "With --tag, the tag and its children are shown; otherwise the N biggest tags.\n"
               "If the daemon goes away, the view says so and reconnects when it is back.\n"
               "Not on a terminal, it prints one line per second instead; with --json, every\n"
               "stream message as one line of JSON.\n",
    .example = "  fa-cli watch\n"
               "  fa-cli watch --tag physics\n"
               "  fa-cli watch --json | head -n 20\n",
};

#define WATCH_ALERT_LINES 6
#define WATCH_REDRAW_MS 100u
#define WATCH_RETRY_MS 1000u
#define WATCH_IDLE_MS 1500u

typedef struct wtag {
    uint16_t id;
    char *path;
    uint64_t soft, hard;
    uint64_t live, peak;
    bool in_frame; /* in the latest frame message */
} wtag_t;

typedef struct watch {
    cli_t *cli;
    const char *focus; /* --tag */
    uint32_t top;
    bool follow_latest; /* no --session: follow new sessions */
    char sid[32];
    char app[160];
    bool session_live;
    wtag_t *tags;
    size_t ntags;
    bool tags_known;          /* the focus tag was checked */
    uint64_t tags_fetched_ms; /* last tags request */
    cJSON *frame;             /* the latest frame message of our session */
    uint64_t updates, merged;
    char alerts[WATCH_ALERT_LINES][320];
    size_t nalerts;
    bool connected;
    uint64_t down_since_ms;
    unsigned attempts;
    char status[320];
    uint64_t last_draw_ms;
    bool drawn_once;
    FILE *errs; /* captured error lines */
    char *errbuf;
    size_t errlen;
} watch_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Errors of HTTP requests made while the view is up are captured and the
 * last line is shown in the status line instead of scrolling the screen. */
static void errs_open(watch_t *w) {
    w->errbuf = NULL;
    w->errlen = 0;
    w->errs = open_memstream(&w->errbuf, &w->errlen);
    w->cli->err = w->errs ? w->errs : stderr;
}

static void errs_take(watch_t *w, char *out, size_t cap) {
    if (!w->errs) return;
    fflush(w->errs);
    if (w->errlen && out) {
        char *s = w->errbuf;
        size_t len = w->errlen;
        while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
            len--;
        const char *line = s;
        for (size_t i = len; i > 0; i--)
            if (s[i - 1] == '\n') {
                line = s + i;
                break;
            }
        size_t l = (size_t)(s + len - line);
        if (l >= cap) l = cap - 1;
        memcpy(out, line, l);
        out[l] = '\0';
    }
    fclose(w->errs);
    free(w->errbuf);
    errs_open(w);
}

static void errs_close(watch_t *w) {
    if (w->errs) fclose(w->errs);
    free(w->errbuf);
    w->errs = NULL;
    w->errbuf = NULL;
    w->cli->err = stderr;
}

static void tags_free(watch_t *w) {
    for (size_t i = 0; i < w->ntags; i++)
        free(w->tags[i].path);
    free(w->tags);
    w->tags = NULL;
    w->ntags = 0;
}

static wtag_t *tag_by_id(watch_t *w, uint16_t id) {
    for (size_t i = 0; i < w->ntags; i++)
        if (w->tags[i].id == id) return &w->tags[i];
    return NULL;
}

static void collect_tags(watch_t *w, const cJSON *nodes, size_t *cap) {
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes) {
        if (w->ntags == *cap) {
            size_t ncap = *cap ? *cap * 2 : 32;
            wtag_t *g = realloc(w->tags, ncap * sizeof *g);
            if (!g) return;
            w->tags = g;
            *cap = ncap;
        }
        wtag_t *t = &w->tags[w->ntags++];
        *t = (wtag_t){.id = (uint16_t)jv_u64(n, "id", 0),
                      .path = strdup(jv_str(n, "path", "?")),
                      .soft = jv_u64(n, "budget_soft", 0),
                      .hard = jv_u64(n, "budget_hard", 0),
                      .live = jv_u64(n, "live_bytes", 0),
                      .peak = jv_u64(n, "peak_bytes", 0)};
        collect_tags(w, jv_array(n, "children"), cap);
    }
}

/* Re-reads the session's tags (names, budgets). Returns 0 or an exit code. */
static int fetch_tags(watch_t *w, bool new_deadline) {
    char path[128];
    if (new_deadline) http_deadline_start(w->cli);
    snprintf(path, sizeof path, "/api/v1/sessions/%s/tags", w->sid);
    w->tags_fetched_ms = mono_ms();
    http_answer_t a;
    int rc = api_get(w->cli, path, &a, w->sid, NULL);
    if (rc) return rc;
    tags_free(w);
    size_t cap = 0;
    collect_tags(w, jv_array(a.json, "tree"), &cap);
    http_answer_free(&a);
    return 0;
}

static bool focus_matches(const watch_t *w, const char *path) {
    if (!w->focus) return path[0] != '\0'; /* every tag but the root */
    const char *f = w->focus[0] == '/' ? w->focus + 1 : w->focus;
    size_t fl = strlen(f);
    if (fl == 0) return true;
    return strncmp(path, f, fl) == 0 && (path[fl] == '\0' || path[fl] == '/');
}

/* Resolves the session and reads its tags; with --tag, checks the tag.
 * Returns 0 or an exit code (the error went to cli->err). */
static int load_session(watch_t *w) {
    cJSON *s = NULL;
    int rc = session_resolve(w->cli, w->sid, &s);
    if (rc) return rc;
    snprintf(w->app, sizeof w->app, "%s", jv_str(s, "app", "?"));
    w->session_live = jv_bool(s, "live", false);
    cJSON_Delete(s);
    cJSON_Delete(w->frame);
    w->frame = NULL;
    if ((rc = fetch_tags(w, false)) != 0) return rc;
    if (w->focus && !w->tags_known) {
        const char *f = w->focus[0] == '/' ? w->focus + 1 : w->focus;
        bool found = !*f;
        for (size_t i = 0; i < w->ntags && !found; i++)
            found = strcmp(w->tags[i].path, f) == 0;
        if (!found) return session_unknown_tag(w->cli, w->sid, w->focus);
        w->tags_known = true;
    }
    return 0;
}

static void push_alert_line(watch_t *w, const char *line) {
    if (w->nalerts == WATCH_ALERT_LINES) {
        memmove(w->alerts[0], w->alerts[1], sizeof w->alerts[0] * (WATCH_ALERT_LINES - 1));
        w->nalerts--;
    }
    snprintf(w->alerts[w->nalerts++], sizeof w->alerts[0], "%s", line);
}

static void on_alert(watch_t *w, const cJSON *msg) {
    const cJSON *al = jv_get(msg, "alert");
    if (strcmp(jv_str(al, "session", ""), w->sid) != 0) return;
    const char *event = jv_str(msg, "event", "?"), *level = jv_str(al, "level", "?");
    bool cleared = strcmp(event, "cleared") == 0;
    uint64_t t = cleared ? jv_u64(al, "cleared_ms", 0) : jv_u64(al, "raised_ms", 0);
    char clock[48], b[2][32], pct[32], line[320];
    render_clock(w->cli, clock, sizeof clock, t ? t : render_now_ms(), 0);
    render_status st = render_status_parse(level);
    const char *tag = jv_str(al, "tag", "?");
    const char *reason = cleared ? jv_str(al, "clear_reason", NULL) : NULL;
    char why[64] = "";
    if (reason && strcmp(reason, "usage") != 0) snprintf(why, sizeof why, " [%s]", reason);
    snprintf(line, sizeof line, "%s  %-20s %s%-8s%s %-9s %s of %s hard (peak %s)%s", clock,
             render_tag_name(tag), cleared ? "" : render_color_code(w->cli, render_status_color(st)), level,
             cleared ? "" : render_color_code(w->cli, RC_RESET), event,
             units_format_bytes(b[0], 32, jv_u64(al, "live_bytes", jv_u64(al, "raised_bytes", 0))),
             units_format_bytes(b[1], 32, jv_u64(al, "budget_hard", 0)),
             render_pct(pct, sizeof pct, jv_num(al, "peak_pct", -1)), why);
    push_alert_line(w, line);
    if (!w->cli->tty && !w->cli->json) {
        printf("alert %s\n", line);
        fflush(stdout);
    }
}

static void on_frame(watch_t *w, cJSON *msg) {
    const char *sid = jv_str(msg, "session", "");
    if (strcmp(sid, w->sid) != 0) return;
    w->updates++;
    w->merged += jv_u64(msg, "merged", 0);
    for (size_t i = 0; i < w->ntags; i++)
        w->tags[i].in_frame = false;
    bool unknown = false;
    const cJSON *t;
    cJSON_ArrayForEach(t, jv_array(msg, "tags")) {
        wtag_t *x = tag_by_id(w, (uint16_t)jv_u64(t, "id", 0));
        if (!x) {
            unknown = true;
            continue;
        }
        x->live = jv_u64(t, "live_bytes", 0);
        x->peak = jv_u64(t, "peak_bytes", 0);
        x->in_frame = true;
    }
    cJSON_Delete(w->frame);
    w->frame = msg;
    w->session_live = true;
    if (unknown && mono_ms() - w->tags_fetched_ms > 2000) {
        /* Keep the values just read: re-fetching replaces the table. */
        fetch_tags(w, true);
        errs_take(w, NULL, 0);
    }
}

static int by_live_desc(const void *a, const void *b) {
    const wtag_t *x = *(wtag_t *const *)a, *y = *(wtag_t *const *)b;
    if (x->live != y->live) return x->live < y->live ? 1 : -1;
    return strcmp(x->path, y->path);
}

static int by_path(const void *a, const void *b) {
    return strcmp((*(wtag_t *const *)a)->path, (*(wtag_t *const *)b)->path);
}

static uint64_t kind_in_use(const cJSON *frame, const char *kind) {
    return jv_u64(jv_get(jv_get(frame, "totals"), kind), "in_use", 0);
}

/* One full screen, each line cleared to its end, then the rest cleared. */
static void draw(watch_t *w) {
    cli_t *cli = w->cli;
    const char *el = "\033[K\n";
    if (!w->drawn_once) {
        fputs("\033[?25l\033[2J", stdout);
        w->drawn_once = true;
    }
    fputs("\033[H", stdout);
    char clock[48], b[5][32], dur[32];
    render_clock(cli, clock, sizeof clock, render_now_ms(), 0);
    printf("%sfa-cli watch%s  %s  session %s (%s, %s)  %s%s", render_color_code(cli, RC_BOLD),
           render_color_code(cli, RC_RESET), cli->server, w->sid[0] ? w->sid : "-", w->app[0] ? w->app : "?",
           /* Disconnected, the session's state is not known: never "live". */
           !w->connected     ? "not connected"
           : w->session_live ? "live"
                             : "ended",
           clock, el);
    const cJSON *f = w->frame;
    if (f) {
        uint64_t fr = kind_in_use(f, "frame"), po = kind_in_use(f, "pool"), he = kind_in_use(f, "heap");
        printf("frame %llu  %s  arena %s  pool %s  heap %s  total %s%s%s  active alerts %llu%s",
               (unsigned long long)jv_u64(f, "frame", 0),
               render_ns(dur, sizeof dur, jv_u64(f, "duration_ns", 0), cli->utf8),
               units_format_bytes(b[0], 32, fr), units_format_bytes(b[1], 32, po),
               units_format_bytes(b[2], 32, he), render_color_code(cli, RC_BOLD),
               units_format_bytes(b[3], 32, fr + po + he), render_color_code(cli, RC_RESET),
               (unsigned long long)jv_u64(f, "active_alerts", 0), el);
    } else {
        printf("waiting for frames...%s", el);
    }
    fputs(el, stdout);
    /* Top tags (or the focus subtree, in path order). */
    wtag_t **list = w->ntags ? malloc(w->ntags * sizeof *list) : NULL;
    size_t n = 0;
    for (size_t i = 0; list && i < w->ntags; i++)
        if (focus_matches(w, w->tags[i].path)) list[n++] = &w->tags[i];
    if (list) qsort(list, n, sizeof *list, w->focus ? by_path : by_live_desc);
    /* Fit the terminal: header, table header, alerts and status take
     * about 8 + WATCH_ALERT_LINES rows. */
    size_t top = w->top;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
        size_t room = ws.ws_row > 10 + WATCH_ALERT_LINES ? (size_t)ws.ws_row - 10 - WATCH_ALERT_LINES : 3;
        if (room < top) top = room;
    }
    size_t shown = n < top ? n : top;
    render_table_t *t = render_table_new(6);
    const char *head[] = {"TAG", "CURRENT", "PEAK", "HARD", "USED", "STATUS"};
    render_table_header(t, head);
    render_table_align_right(t, 1);
    render_table_align_right(t, 2);
    render_table_align_right(t, 3);
    for (size_t i = 0; i < shown; i++) {
        const wtag_t *x = list[i];
        char pct[32], bar[128];
        render_table_cell(t, "%s", render_tag_name(x->path));
        render_table_cell(t, "%s", units_format_bytes(b[0], 32, x->live));
        render_table_cell(t, "%s", units_format_bytes(b[1], 32, x->peak));
        if (x->hard) {
            double p = (double)x->live * 100.0 / (double)x->hard;
            render_status st = render_status_of(x->live, x->hard);
            render_bar(cli, bar, sizeof bar, p, 10);
            render_table_cell(t, "%s", units_format_bytes(b[2], 32, x->hard));
            render_table_cell(t, "%5s %s", render_pct(pct, sizeof pct, p), bar);
            render_table_cell(t, "%s%s%s", render_color_code(cli, render_status_color(st)),
                              render_status_name(st), render_color_code(cli, RC_RESET));
        } else {
            render_table_cell(t, "-");
            render_table_cell(t, "-");
            render_table_cell(t, "-");
        }
    }
    /* The table printer ends lines with '\n': print into a buffer and add
     * the clear-to-end-of-line sequence to each. */
    char *tbuf = NULL;
    size_t tlen = 0;
    FILE *mem = open_memstream(&tbuf, &tlen);
    if (mem) {
        render_table_print(cli, t, mem);
        fclose(mem);
        for (char *line = tbuf, *nl; line && *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (!nl) break;
            fwrite(line, 1, (size_t)(nl - line), stdout);
            fputs(el, stdout);
        }
        free(tbuf);
    }
    render_table_free(t);
    if (n > shown)
        printf("%s(%zu more tags; --top N shows more)%s%s", render_color_code(cli, RC_DIM), n - shown,
               render_color_code(cli, RC_RESET), el);
    free(list);
    fputs(el, stdout);
    printf("%sNew alerts%s%s", render_color_code(cli, RC_BOLD), render_color_code(cli, RC_RESET), el);
    if (w->nalerts == 0) printf("  (none since the view started)%s", el);
    for (size_t i = 0; i < w->nalerts; i++)
        printf("  %s%s", w->alerts[i], el);
    fputs(el, stdout);
    if (w->connected)
        printf("%sconnected%s, %llu updates (%llu merged by the daemon); Ctrl-C to quit%s",
               render_color_code(cli, RC_GREEN), render_color_code(cli, RC_RESET),
               (unsigned long long)w->updates, (unsigned long long)w->merged, el);
    else
        printf("%sconnection lost%s: %s; reconnecting (attempt %u)... Ctrl-C to quit%s",
               render_color_code(cli, RC_BOLD_RED), render_color_code(cli, RC_RESET), w->status, w->attempts,
               el);
    fputs("\033[J", stdout);
    fflush(stdout);
}

/* Not a terminal: one summary line per second. */
static void print_line(watch_t *w) {
    const cJSON *f = w->frame;
    char b[32];
    if (!f) return;
    uint64_t total = kind_in_use(f, "frame") + kind_in_use(f, "pool") + kind_in_use(f, "heap");
    printf("session %s frame %llu total %s active_alerts %llu\n", w->sid,
           (unsigned long long)jv_u64(f, "frame", 0), units_format_bytes(b, sizeof b, total),
           (unsigned long long)jv_u64(f, "active_alerts", 0));
    fflush(stdout);
}

static void maybe_draw(watch_t *w, bool force) {
    if (w->cli->json) return;
    uint64_t now = mono_ms();
    uint64_t every = w->cli->tty ? WATCH_REDRAW_MS : 1000u;
    if (!force && now - w->last_draw_ms < every) return;
    w->last_draw_ms = now;
    if (w->cli->tty)
        draw(w);
    else
        print_line(w);
}

static void handle(watch_t *w, cJSON *msg, const char *raw) {
    const char *type = jv_str(msg, "type", "");
    if (w->cli->json && raw) {
        render_json_safe(stdout, raw, strlen(raw));
        putchar('\n');
        fflush(stdout);
    }
    if (strcmp(type, "frame") == 0) {
        on_frame(w, msg); /* takes msg when it is ours */
        if (w->frame == msg) {
            maybe_draw(w, false);
            return;
        }
    } else if (strcmp(type, "alert") == 0) {
        on_alert(w, msg);
        maybe_draw(w, true);
    } else if (strcmp(type, "session") == 0) {
        const cJSON *s = jv_get(msg, "session");
        const char *event = jv_str(msg, "event", "");
        const char *id = jv_str(s, "id", "");
        if (strcmp(event, "start") == 0 && w->follow_latest && strcmp(id, w->sid) != 0) {
            /* A new game: follow it. */
            snprintf(w->sid, sizeof w->sid, "%s", id);
            snprintf(w->app, sizeof w->app, "%s", jv_str(s, "app", "?"));
            w->session_live = true;
            cJSON_Delete(w->frame);
            w->frame = NULL;
            w->nalerts = 0;
            fetch_tags(w, true);
            errs_take(w, NULL, 0);
            char line[320];
            snprintf(line, sizeof line, "now following the new session %s (%s)", w->sid, w->app);
            push_alert_line(w, line);
        } else if (strcmp(id, w->sid) == 0) {
            w->session_live = strcmp(event, "end") != 0;
        }
        maybe_draw(w, true);
    }
    cJSON_Delete(msg);
}

int cmd_watch(cli_t *cli, int argc, char **argv) {
    const char *focus = NULL;
    uint32_t top = 10;
    args_opt_t opts[] = {
        {"tag", ARGS_STRING, &focus, "T", "show this tag and its children (default: the biggest tags)"},
        {"top", ARGS_UINT, &top, "N", "how many tags to show (default 10, at most 200)", 200},
        {0},
    };
    int rc = args_parse(cli, &cmd_watch_info, opts, argc, argv);
    if (rc >= 0) return rc;
    watch_t w = {.cli = cli, .focus = focus, .top = top};
    w.follow_latest = !cli->session || strcmp(cli->session, "latest") == 0;
    /* The first connection is checked like any command: daemon down, or an
     * unknown session or tag, ends the command with its exit code. */
    if ((rc = load_session(&w)) != 0) {
        tags_free(&w);
        return rc;
    }
    ws_conn_t *conn = NULL;
    if ((rc = ws_connect(cli, "/ws", http_time_left(cli), &conn)) != 0) {
        http_print_down(cli, rc);
        tags_free(&w);
        return CLI_EXIT_SERVER;
    }
    w.connected = true;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    errs_open(&w);
    maybe_draw(&w, true);
    uint64_t next_try = 0;
    /* Liveness: after WATCH_IDLE_MS without a message (a paused game sends
     * nothing), a harmless re-subscription asks the daemon for an answer;
     * none within WATCH_IDLE_MS more means the connection is dead even if
     * nng has not noticed (seen when the daemon exits mid-stream). */
    uint64_t last_msg = mono_ms(), probe_sent = 0;
    while (!stop_requested) {
        if (!conn) {
            uint64_t now = mono_ms();
            if (now < next_try) {
                struct timespec ts = {0, 50 * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
            next_try = now + WATCH_RETRY_MS;
            w.attempts++;
            http_deadline_start(cli); /* each attempt has the whole --timeout */
            int r = ws_connect(cli, "/ws", http_time_left(cli), &conn);
            if (r != 0) {
                snprintf(w.status, sizeof w.status, "%s", nng_strerror(r));
                conn = NULL;
                maybe_draw(&w, true);
                continue;
            }
            /* Back: the daemon may have restarted; read everything again. */
            char sid_before[32];
            snprintf(sid_before, sizeof sid_before, "%s", w.sid);
            if (load_session(&w) != 0) {
                errs_take(&w, w.status, sizeof w.status);
                snprintf(w.sid, sizeof w.sid, "%s", sid_before);
                ws_close(conn);
                conn = NULL;
                maybe_draw(&w, true);
                continue;
            }
            w.connected = true;
            w.attempts = 0;
            last_msg = mono_ms();
            probe_sent = 0;
            char line[200];
            snprintf(line, sizeof line, "reconnected to %s", cli->server);
            push_alert_line(&w, line);
            maybe_draw(&w, true);
        }
        cJSON *msg = NULL;
        char *raw = NULL;
        int r = ws_next(conn, 100, &msg, &raw);
        if (r == 0) {
            uint64_t now = mono_ms();
            if (!probe_sent && now - last_msg > WATCH_IDLE_MS) {
                probe_sent = now;
                if (ws_send_text(conn, "{\"subscribe\":\"*\"}", 1000) != 0) r = -1;
            } else if (probe_sent && now - probe_sent > WATCH_IDLE_MS) {
                r = -1;
            }
        }
        if (r == 1) {
            last_msg = mono_ms();
            probe_sent = 0;
            handle(&w, msg, raw);
        } else if (r < 0) {
            ws_close(conn);
            conn = NULL;
            w.connected = false;
            w.down_since_ms = mono_ms();
            snprintf(w.status, sizeof w.status, "the daemon closed the stream");
            next_try = mono_ms() + 200; /* a restart takes a moment */
            if (!cli->tty && !cli->json) {
                printf("connection lost; reconnecting\n");
                fflush(stdout);
            }
            maybe_draw(&w, true);
        } else {
            maybe_draw(&w, false);
        }
        free(raw);
    }
    ws_close(conn);
    if (cli->tty && !cli->json && w.drawn_once) {
        maybe_draw(&w, true);
        fputs("\033[?25h\n", stdout);
    }
    fflush(stdout);
    errs_close(&w);
    cJSON_Delete(w.frame);
    tags_free(&w);
    return CLI_EXIT_OK;
}
