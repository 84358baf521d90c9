/*
 * cli.h — the one internal header of fa-cli, the command-line reader of
 * fa-insightd's HTTP/WebSocket API.
 *
 * SHAPE
 *   main.c parses the global options, picks the command from its dispatch
 *   table and runs it. A command parses its own options (args.c), asks the
 *   daemon through http.c (GET, JSON answers) or ws.c (the live stream),
 *   resolves the session (session.c) and prints through render.c (tables,
 *   trees, sparklines, units, colours). Nothing here speaks HTTP or
 *   WebSocket framing by hand: nng's HTTP client and WebSocket dialer do.
 *
 * MODULES (one prefix per file)
 *   args_     args.c      option tables, --help, usage errors, durations
 *   http_     http.c      nng HTTP client: GET a path, JSON or an error
 *   ws_       ws.c        nng WebSocket dialer, JSON message splitter
 *   jv_       json.c      tolerant cJSON accessors (numbers, strings)
 *   render_   render.c    units, colours, tables, tree, sparkline
 *   session_  session.c   --session resolution, unknown tags, near matches
 *   run_      run.c       a run frame by frame: capture file or session (run.h)
 *   summary_  summary.c   a run's figures per tag; baseline files (summary.h)
 *   compare_  compare.c   thresholds, two summaries compared, reports (compare.h)
 *   cmd_*     cmd_*.c     one file per command (group)
 *
 * EXIT CODES
 *   0 success; 1 the daemon is down or answered with an error, or a capture
 *   file is damaged; 2 bad arguments (unknown option, bad value, unknown
 *   tag, session or capture file); 3 `budgets --check` found a hard budget
 *   exceeded; 4 `compare` or `baseline check` found a regression.
 *
 * THREADS
 *   fa-cli is single-threaded; nng's own threads only complete aios that
 *   the main thread waits for.
 */
#ifndef FA_CLI_H
#define FA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "escape.h" /* libfa-text: the sanitiser */
#include "units.h"  /* libfa-text: durations, byte units */

struct nng_tls_config;

#define CLI_NAME "fa-cli"
#define CLI_DEFAULT_SERVER "http://127.0.0.1:7878"
#define CLI_SERVER_ENV "FA_INSIGHT_SERVER"
/* The daemon's bearer token (fa-insightd --token-file), sent with every
 * request; never a command-line flag, where other users could read it. */
#define CLI_TOKEN_ENV "FA_INSIGHT_TOKEN"
/* The PEM certificate authorities that signed an https:// daemon's
 * certificate (fa-insightd --tls-cert), when --ca is not given; the agent
 * reads the same variable for tls+tcp:// ingest. */
#define CLI_CA_ENV "FA_INSIGHT_CA"
#define CLI_DEFAULT_TIMEOUT_MS 5000u
#define CLI_DEFAULT_MAX_RESPONSE (64u << 20)

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_SERVER = 1,   /* daemon down, or an error answer */
    CLI_EXIT_USAGE = 2,    /* bad arguments, unknown tag or session */
    CLI_EXIT_CRITICAL = 3,   /* budgets --check: a hard budget exceeded */
    CLI_EXIT_REGRESSION = 4, /* compare, baseline check: memory grew past the thresholds */
};

/* What the global options put in force, shared by every command. */
typedef struct cli {
    const char *server;   /* base URL, no trailing slash: http://host:port */
    const char *session;  /* NULL: the latest live session, else the latest */
    bool json;            /* print the daemon's JSON, not tables */
    bool color;           /* ANSI colours on stdout */
    bool utf8;            /* the locale is UTF-8: box drawing, blocks, µ */
    bool tty;             /* stdout is a terminal */
    bool local_time;      /* --local: times in local time (default UTC) */
    uint32_t timeout_ms;  /* --timeout: the whole command (watch: each attempt) */
    uint64_t deadline_ms; /* monotonic ms when the time is up (http_deadline_start) */
    size_t max_response;  /* --max-response: the largest answer read */
    const char *command;  /* the command's name, for messages */
    FILE *err;            /* where errors go: stderr (watch captures them) */
    const char *token;    /* $FA_INSIGHT_TOKEN, or NULL */
    const char *ca_file;  /* --ca, else $FA_INSIGHT_CA, or NULL */
    struct nng_tls_config *tls; /* an https:// server: built once (http_tls_setup), else NULL */
} cli_t;

/* ------------------------------------------------------------------------ */
/* args.c                                                                    */
/* ------------------------------------------------------------------------ */

typedef enum args_kind {
    ARGS_FLAG,     /* bool *: present or not */
    ARGS_STRING,   /* const char **: any non-empty text */
    ARGS_UINT,     /* uint32_t *: 1 .. max (min 0 if allow_zero) */
    ARGS_DURATION, /* uint64_t * (ms): 250ms, 10s, 5m, 2h, 1d */
    ARGS_TIME,     /* uint64_t * (unix ms): a duration ago, "now", or unix ms/s */
} args_kind;

typedef struct args_opt {
    const char *name; /* long name without the dashes */
    args_kind kind;
    void *dest;
    const char *metavar; /* "N", "TAG", "DURATION" */
    const char *help;
    uint32_t max;    /* ARGS_UINT: largest value accepted (0: UINT32_MAX) */
    bool allow_zero; /* ARGS_UINT */
    bool *seen;      /* optional: set when the option was given */
} args_opt_t;

/* What --help prints for a command, and the one-line usage of errors. */
typedef struct cmd_info {
    const char *name;
    const char *summary;  /* one line for the command list */
    const char *synopsis; /* "[--tag T] [--check]" */
    const char *details;  /* paragraphs after the summary, may be NULL */
    const char *example;  /* one or more lines of examples */
} cmd_info_t;

/* Parses a command's argv (argv[0] is the command's name) against opts,
 * writing destinations. Positional arguments are refused. Returns -1 to
 * go on, CLI_EXIT_OK after printing --help, or CLI_EXIT_USAGE after a
 * precise error naming the option and the usage line on stderr. */
int args_parse(const cli_t *cli, const cmd_info_t *info, const args_opt_t *opts, int argc, char **argv);

/* The same, but up to max_pos arguments that are not options are collected
 * into pos[] (their count in *npos) instead of refused; one more is refused
 * as unexpected. */
int args_parse_positional(const cli_t *cli, const cmd_info_t *info, const args_opt_t *opts, int argc, char **argv,
                          const char **pos, int max_pos, int *npos);

/* Prints the command's help (summary, synopsis, options, global options,
 * examples) to out. */
void args_print_help(FILE *out, const cmd_info_t *info, const args_opt_t *opts);

/* Prints "fa-cli <cmd>: <message>" and the usage line to stderr and
 * returns CLI_EXIT_USAGE. */
int args_usage_error(const cmd_info_t *info, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A positive duration in the syntax of units_parse_duration ("250ms",
 * "10s", "5m", "2h", "1d", a bare number of seconds), in milliseconds: every
 * duration option of fa-cli means "some time", so zero is refused. Returns 0
 * or -1. */
int args_parse_duration(const char *s, uint64_t *out_ms);

/* Parses a point in time: a duration meaning "that long ago" ("10m"),
 * "now", an ISO date "2024-05-01T12:00:00Z", "2024-05-01 12:00+02:00" or
 * without a zone "2024-05-01 12:00:00" (UTC, or local time when local is
 * set: the way fa-cli prints times), or a unix time in s (10 digits) or ms
 * (13 digits). now_ms is the reference. Returns 0 or -1. */
int args_parse_time(const char *s, uint64_t now_ms, bool local, uint64_t *out_ms);

/* Parses a decimal integer in [min, max]. Returns 0 or -1. */
int args_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ------------------------------------------------------------------------ */
/* http.c                                                                    */
/* ------------------------------------------------------------------------ */

/* One answer from the daemon. body is NUL-terminated and owned by the
 * struct; json is the parsed body (NULL if it is not JSON). */
typedef struct http_answer {
    uint16_t status;
    char content_type[64]; /* sanitised, cut */
    char *body;
    size_t len;
    cJSON *json;
} http_answer_t;

void http_answer_free(http_answer_t *a);

/* Checks that the server URL is one this program can talk to (http://
 * with a host and optional port, nothing after it but '/'). Writes a
 * precise reason into err. Returns 0 or -1. */
int http_check_server_url(const char *url, char *err, size_t errcap);

/* For an https:// server: the TLS client configuration every request and
 * WebSocket uses, verifying the daemon's certificate against cli->ca_file
 * and its name against the URL's host. Nothing for http://. Returns 0, or
 * -1 with a reason in err (no CA file, a file that is not PEM). The caller
 * frees cli->tls with nng_tls_config_free. */
int http_tls_setup(cli_t *cli, char *err, size_t errcap);

/* GETs path_query (starting with '/') from cli->server, within what is left
 * of cli->deadline_ms and reading at most cli->max_response bytes. On a
 * transport failure, a time-out, an answer too big or chunked (fa-insightd
 * never chunks) prints one line and returns CLI_EXIT_SERVER; otherwise
 * fills *out (any status; the parsed JSON sanitised) and returns 0. */
int http_get(const cli_t *cli, const char *path_query, http_answer_t *out);

/* Monotonic clock in ms. */
uint64_t http_mono_ms(void);

/* Starts the time budget of a command (or of one watch attempt):
 * cli->timeout_ms from now. */
void http_deadline_start(cli_t *cli);

/* What is left of the deadline in ms (at least 1). */
uint32_t http_time_left(const cli_t *cli);

/* Reads the error object of an answer: code and message (either may be
 * NULL when absent). */
void http_error_fields(const http_answer_t *a, const char **code, const char **message);

/* Prints the one-line "daemon is down" message for cli->server and the
 * nng error rc. */
void http_print_down(const cli_t *cli, int rc);

/* Appends "name=value" (value percent-encoded) to a query being built in
 * buf (starting with '?' or '&' as needed). Returns 0 or -1 if it does
 * not fit. */
int http_query_add(char *buf, size_t cap, const char *name, const char *value);

/* ------------------------------------------------------------------------ */
/* ws.c                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct ws_conn ws_conn_t;

/* Dials ws://host:port/ws (path from the daemon's API) derived from
 * cli->server. Returns 0 and *out, or the nng error. Blocks up to
 * timeout_ms. */
int ws_connect(const cli_t *cli, const char *path, uint32_t timeout_ms, ws_conn_t **out);

/* Waits up to timeout_ms for the next complete JSON message. Returns 1
 * with *out (caller deletes), 0 on time-out, or a negative value when the
 * connection is gone (the caller then closes it and may reconnect). */
int ws_next(ws_conn_t *c, uint32_t timeout_ms, cJSON **out, char **raw);

/* Sends one text message. Returns 0 or an nng error. */
int ws_send_text(ws_conn_t *c, const char *text, uint32_t timeout_ms);

/* Closes and frees. NULL is allowed. */
void ws_close(ws_conn_t *c);

/* The splitter: finds the end of the first complete top-level JSON object
 * or array in buf[0..len), after *skip bytes of white space. Returns its
 * length (from buf + *skip), 0 if incomplete, -1 if the data does not
 * start a JSON object or array. Exposed for tests. */
long ws_json_extent(const char *buf, size_t len, size_t *skip);

/* ------------------------------------------------------------------------ */
/* json.c — tolerant accessors                                               */
/* ------------------------------------------------------------------------ */

/* Replaces, in place, every unsafe sequence (escape.h) in the strings and
 * member names of a parsed document by '?': whatever a server sends, what
 * fa-cli prints cannot drive the terminal. NULL is allowed. */
void jv_sanitize(cJSON *node);

/* The member `name` of obj (NULL obj allowed). */
const cJSON *jv_get(const cJSON *obj, const char *name);
/* A string member, or def when absent or not a string. */
const char *jv_str(const cJSON *obj, const char *name, const char *def);
/* A numeric member as u64 (negative → 0, strings of digits accepted), or
 * def when absent/null. */
uint64_t jv_u64(const cJSON *obj, const char *name, uint64_t def);
double jv_num(const cJSON *obj, const char *name, double def);
bool jv_bool(const cJSON *obj, const char *name, bool def);
bool jv_has(const cJSON *obj, const char *name); /* present and not null */
/* The first member of obj among names that is present and not null. */
const cJSON *jv_first(const cJSON *obj, const char *const *names);
/* An array member, or obj itself when it is an array and name is NULL. */
const cJSON *jv_array(const cJSON *obj, const char *name);

/* ------------------------------------------------------------------------ */
/* render.c                                                                  */
/* ------------------------------------------------------------------------ */

/* Human units (bytes: units_format_bytes). Each writes into buf (at least
 * 32 bytes) and returns it. */
const char *render_signed_bytes(char *buf, size_t cap, int64_t bytes);
const char *render_ns(char *buf, size_t cap, uint64_t ns, bool utf8); /* 850 ns, 12.4 µs, 16.7 ms, 1.20 s */
const char *render_ago(char *buf, size_t cap, uint64_t then_ms, uint64_t now_ms); /* 3m ago */
const char *render_duration_ms(char *buf, size_t cap, uint64_t ms);               /* 1h 02m, 45s */
/* A point in time with its zone, in UTC or, with --local, local time:
 * "2024-05-01 12:00:03 UTC", "14:00:03.250 CEST". "-" for 0. */
enum { RENDER_CLOCK_DATE = 1, RENDER_CLOCK_MS = 2 };
const char *render_clock(const cli_t *cli, char *buf, size_t cap, uint64_t unix_ms, unsigned flags);
const char *render_pct(char *buf, size_t cap, double pct);   /* 85 %, 99.7 %, 102 %, "-" for < 0 */
const char *render_count(char *buf, size_t cap, uint64_t n); /* 1234567 → 1.23M */

/* The name of a tag path for people: the path, or for the root tag (path
 * "", where untagged allocations count and whose usage includes every
 * tag) CLI_ROOT_TAG_NAME, the name the dashboard and the API use too. */
#define CLI_ROOT_TAG_NAME "(root)"
const char *render_tag_name(const char *path);

/* Colours: the empty string when colours are off. */
typedef enum render_color {
    RC_RESET,
    RC_BOLD,
    RC_DIM,
    RC_RED,
    RC_GREEN,
    RC_YELLOW,
    RC_CYAN,
    RC_BOLD_RED,
} render_color;
const char *render_color_code(const cli_t *cli, render_color c);

/* Budget status from usage and hard budget (0: no budget):
 * "ok" < 80 %, "warning" ≥ 80 %, "critical" ≥ 100 %, "-" without budget. */
typedef enum render_status { RS_NONE, RS_OK, RS_WARNING, RS_CRITICAL } render_status;
render_status render_status_of(uint64_t usage, uint64_t hard);
render_status render_status_parse(const char *s); /* "ok", "warning", "critical"... */
const char *render_status_name(render_status s);
render_color render_status_color(render_status s);

/* A usage bar of width cells for pct (0..100+), e.g. "█████▌    " or
 * "#####     " in ASCII. */
void render_bar(const cli_t *cli, char *buf, size_t cap, double pct, int width);

/* A sparkline of n values (one cell each) scaled between lo and hi, with
 * ▁▂▃▄▅▆▇█ (or " .:-=+*#" in ASCII). Writes NUL-terminated into buf. */
void render_sparkline(char *buf, size_t cap, const double *values, size_t n, double lo, double hi, bool utf8);

/* Writes a JSON document that came from a server with every unsafe
 * sequence inside its strings written as \uXXXX (\ufffd for invalid bytes)
 * and stray control bytes between tokens as spaces: the same JSON for a
 * script, nothing a terminal acts on. */
void render_json_safe(FILE *out, const char *json, size_t len);

/* Writes s as a JSON string, quotes included, escaped by escape_json: valid
 * UTF-8 JSON that no terminal acts on. */
void render_json_string(FILE *out, const char *s);

/* Display width of a UTF-8 string that may hold ANSI colour sequences. */
size_t render_width(const char *s);

/* Tables: add cells row by row (strings are copied), then print. Columns
 * are left-aligned unless right-aligned with render_table_align. */
typedef struct render_table render_table_t;
render_table_t *render_table_new(size_t columns);
void render_table_header(render_table_t *t, const char *const *names);
void render_table_align_right(render_table_t *t, size_t column);
/* Adds a cell to the current row; a row is complete after `columns` cells.
 * fmt is printf-style. */
void render_table_cell(render_table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void render_table_print(const cli_t *cli, render_table_t *t, FILE *out);
size_t render_table_rows(const render_table_t *t);
void render_table_free(render_table_t *t);

/* Tree connectors for a node whose ancestors' "is last child" flags are
 * last[0..depth) and its own flag last[depth] (depth ≥ 0). Writes the
 * prefix ("│  ├─ " or "|  +- "). */
void render_tree_prefix(const cli_t *cli, char *buf, size_t cap, const bool *last, int depth);

/* Whether the environment asks for UTF-8 (LC_ALL, LC_CTYPE, LANG). */
bool render_locale_is_utf8(void);

/* Wall clock in unix ms. */
uint64_t render_now_ms(void);

/* ------------------------------------------------------------------------ */
/* session.c                                                                 */
/* ------------------------------------------------------------------------ */

/* Resolves cli->session (NULL/"latest": the latest live session, else the
 * most recent one; otherwise an id or a unique prefix of one) through GET
 * /api/v1/sessions. Writes the id into id_out (17 bytes). On failure prints
 * why (no sessions yet; unknown id with near matches) and returns an exit
 * code; 0 on success. When session_out is not NULL it receives a copy of
 * the session object (caller deletes). */
int session_resolve(const cli_t *cli, char id_out[32], cJSON **session_out);

/* The same for an explicit spec (NULL or "latest", an id, a unique prefix,
 * an app name, or app@build: the latest session of that app with that
 * build id) instead of cli->session. */
int session_resolve_spec(const cli_t *cli, const char *spec, char id_out[32], cJSON **session_out);

/* GET /api/v1/sessions, which the daemon pages (newest first, live ones
 * first): one page of `limit` rows, or with `every` page after page (of
 * 1000, at most SESSIONS_PAGES_MAX) into one "sessions" array whose "next"
 * is the last page's. Like api_get otherwise. */
#define SESSIONS_PAGES_MAX 100
int api_get_sessions(const cli_t *cli, uint32_t limit, bool every, http_answer_t *out);

/* A paged list route (sessions, alerts, findings): GETs path_query, then
 * follows its "next" cursors for at most max_pages pages, appending each
 * page's `key` rows to the first answer's array; "next", "truncated" and
 * "count" then describe the whole. Like api_get otherwise (sid names the
 * session for its not-found hints). */
int api_get_pages(const cli_t *cli, const char *path_query, const char *key, uint32_t max_pages,
                  const char *sid, http_answer_t *out);
/* Pages the list commands follow (of 10 000 alerts or 5 000 findings). */
#define LIST_PAGES_MAX 100

/* GETs path_query and insists on a 2xx JSON answer: returns 0 with *out
 * (the caller frees it), or prints why and returns an exit code (out is
 * then freed). A 404 whose error code names a tag (and tag is not NULL)
 * or a session lists near matches; 400 naming a parameter passed on from
 * the command line returns CLI_EXIT_USAGE; anything else, and any answer
 * that is not fa-insightd's error JSON (another web server on the port),
 * CLI_EXIT_SERVER. */
int api_get(const cli_t *cli, const char *path_query, http_answer_t *out, const char *sid, const char *tag);

/* Edit distance (Levenshtein), capped: returns at most cap + 1. */
size_t session_edit_distance(const char *a, const char *b, size_t cap);

/* Prints "<what> '<name>' not found in <where>" and up to 5 near matches
 * among candidates (by edit distance, shared prefix or substring). Returns
 * CLI_EXIT_USAGE. */
int session_print_unknown(const cli_t *cli, const char *what, const char *name, const char *where,
                          const char *const *candidates, size_t n);

/* Collects the tag paths of a tags answer into a malloc'd array of
 * pointers into the JSON (free the array only). */
const char **session_tag_paths(const cJSON *tags_doc, size_t *n);

/* GETs a session's tag list to report an unknown tag with near matches.
 * Returns CLI_EXIT_USAGE (or CLI_EXIT_SERVER if that request failed). */
int session_unknown_tag(const cli_t *cli, const char *sid, const char *tag);

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */

typedef int (*cmd_fn)(cli_t *cli, int argc, char **argv);

typedef struct cmd_entry {
    const cmd_info_t *info;
    cmd_fn run;
} cmd_entry_t;

extern const cmd_info_t cmd_sessions_info, cmd_tags_info, cmd_budgets_info, cmd_trend_info, cmd_alerts_info,
    cmd_frames_info, cmd_findings_info, cmd_watch_info, cmd_export_info, cmd_health_info, cmd_compare_info,
    cmd_baseline_info, cmd_sites_info, cmd_fleet_info;

int cmd_sessions(cli_t *cli, int argc, char **argv);
int cmd_tags(cli_t *cli, int argc, char **argv);
int cmd_budgets(cli_t *cli, int argc, char **argv);
int cmd_trend(cli_t *cli, int argc, char **argv);
int cmd_sites(cli_t *cli, int argc, char **argv);
int cmd_alerts(cli_t *cli, int argc, char **argv);
int cmd_frames(cli_t *cli, int argc, char **argv);
int cmd_findings(cli_t *cli, int argc, char **argv);
int cmd_watch(cli_t *cli, int argc, char **argv);
int cmd_export(cli_t *cli, int argc, char **argv);
int cmd_health(cli_t *cli, int argc, char **argv);
int cmd_compare(cli_t *cli, int argc, char **argv);
int cmd_baseline(cli_t *cli, int argc, char **argv);
int cmd_fleet(cli_t *cli, int argc, char **argv);

/* Prints an answer's body as the command's --json output (verbatim, with
 * a final newline). */
void cmd_print_json(const http_answer_t *a);

/* The global options' help block, shared by every --help. */
void cli_print_global_options(FILE *out);

#endif /* FA_CLI_H */
