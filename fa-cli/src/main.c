/* main.c — fa-cli's start: global options, then the command from the
 * dispatch table. Global options may come before or after the command. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <framealloc.h>
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

static const cmd_entry_t commands[] = {
    {&cmd_sessions_info, cmd_sessions}, {&cmd_tags_info, cmd_tags},         {&cmd_budgets_info, cmd_budgets},
    {&cmd_trend_info, cmd_trend},       {&cmd_sites_info, cmd_sites},       {&cmd_alerts_info, cmd_alerts},
    {&cmd_frames_info, cmd_frames},     {&cmd_findings_info, cmd_findings}, {&cmd_watch_info, cmd_watch},
    {&cmd_export_info, cmd_export},     {&cmd_health_info, cmd_health},     {&cmd_compare_info, cmd_compare},
    {&cmd_baseline_info, cmd_baseline},
    {&cmd_fleet_info, cmd_fleet},
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void print_main_help(FILE *out) {
    fputs(CLI_NAME ": read fa-insightd's live memory telemetry from the terminal\n\n"
                   "usage: " CLI_NAME " [global options] COMMAND [options]\n\nCommands:\n",
          out);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-10s %s\n", commands[i].info->name, commands[i].info->summary);
    fputc('\n', out);
    cli_print_global_options(out);
    fputs("\nExamples:\n"
          "  " CLI_NAME " sessions\n"
          "  " CLI_NAME " budgets --tag physics --check     # exit 3 when a budget is critical\n"
          "  " CLI_NAME " --server http://10.0.0.5:7878 watch\n"
          "Run '" CLI_NAME " COMMAND --help' for a command's options and examples.\n",
          out);
}

static const cmd_entry_t *find_command(const char *name) {
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].info->name, name) == 0) return &commands[i];
    return NULL;
}

static int unknown_command(const char *name) {
    const char *names[COMMAND_COUNT];
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        names[i] = commands[i].info->name;
    fprintf(stderr, CLI_NAME ": ");
    size_t best = (size_t)-1, pick = 0;
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        size_t d = session_edit_distance(name, names[i], 3);
        if (strncmp(names[i], name, strlen(name)) == 0 && *name) d = 0;
        if (d < best) {
            best = d;
            pick = i;
        }
    }
    if (best <= 3)
        fprintf(stderr, "unknown command '%s'; did you mean '%s'?\n", name, names[pick]);
    else
        fprintf(stderr, "unknown command '%s'\n", name);
    fputs("usage: " CLI_NAME " [global options] COMMAND [options]; run '" CLI_NAME " --help' for the list\n",
          stderr);
    return CLI_EXIT_USAGE;
}

static int global_usage(const char *fmt, const char *arg) {
    fprintf(stderr, CLI_NAME ": ");
    fprintf(stderr, fmt, arg);
    fputs("\nusage: " CLI_NAME " [global options] COMMAND [options]; run '" CLI_NAME " --help' for more\n",
          stderr);
    return CLI_EXIT_USAGE;
}

/* Takes the value of a global option: "--name=value" or "--name value". */
static int take_value(int argc, char **argv, int *i, const char *name, const char **out) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (a[2 + n] == '=') {
        *out = a + 3 + n;
        return 0;
    }
    if (*i + 1 >= argc) return -1;
    *out = argv[++*i];
    return 0;
}

static bool is_opt(const char *a, const char *name) {
    size_t n = strlen(name);
    return strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0 && (a[2 + n] == '\0' || a[2 + n] == '=');
}

int main(int argc, char **argv) {
    cli_t cli = {.server = getenv(CLI_SERVER_ENV),
                 .timeout_ms = CLI_DEFAULT_TIMEOUT_MS,
                 .max_response = CLI_DEFAULT_MAX_RESPONSE,
                 .err = stderr};
    if (!cli.server || !*cli.server) cli.server = CLI_DEFAULT_SERVER;
    cli.token = getenv(CLI_TOKEN_ENV);
    if (cli.token && !*cli.token) cli.token = NULL;
    cli.ca_file = getenv(CLI_CA_ENV);
    if (cli.ca_file && !*cli.ca_file) cli.ca_file = NULL;
    bool no_color = false, help = false;
    const char *command = NULL;
    /* The command's own arguments, with the global ones taken out. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return CLI_EXIT_SERVER;
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (is_opt(a, "server")) {
            if (take_value(argc, argv, &i, "server", &v) != 0)
                return global_usage("--server needs a URL%s", "");
            cli.server = v;
        } else if (is_opt(a, "ca")) {
            if (take_value(argc, argv, &i, "ca", &v) != 0 || !*v)
                return global_usage("--ca needs a PEM file of certificate authorities%s", "");
            cli.ca_file = v;
        } else if (is_opt(a, "session")) {
            if (take_value(argc, argv, &i, "session", &v) != 0 || !*v)
                return global_usage("--session needs an id or 'latest'%s", "");
            cli.session = v;
        } else if (is_opt(a, "timeout")) {
            uint64_t ms;
            if (take_value(argc, argv, &i, "timeout", &v) != 0 || args_parse_duration(v, &ms) != 0 ||
                ms > 600000)
                return global_usage("--timeout needs a duration up to 10m (e.g. 2s, 500ms)%s", "");
            cli.timeout_ms = (uint32_t)ms;
        } else if (is_opt(a, "max-response")) {
            uint64_t bytes;
            if (take_value(argc, argv, &i, "max-response", &v) != 0 || units_parse_bytes(v, &bytes) != 0 ||
                bytes < 1024 || bytes > (4ull << 30))
                return global_usage("--max-response needs a size from 1KiB to 4GiB (e.g. 64MiB)%s", "");
            cli.max_response = (size_t)bytes;
        } else if (strcmp(a, "--local") == 0) {
            cli.local_time = true;
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "--no-color") == 0 || strcmp(a, "--no-colour") == 0) {
            no_color = true;
        } else if (strcmp(a, "--version") == 0) {
            printf(CLI_NAME " %s (framealloc)\n", FA_VERSION_STRING);
            free(rest);
            return CLI_EXIT_OK;
        } else if (!command && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help = true;
        } else if (!command && strcmp(a, "help") == 0) {
            help = true;
        } else if (!command && a[0] == '-') {
            return global_usage("unknown global option '%s'", a);
        } else if (!command) {
            command = a;
            rest[nrest++] = argv[i];
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (!command) {
        print_main_help(help ? stdout : stderr);
        free(rest);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const cmd_entry_t *cmd = find_command(command);
    if (!cmd) {
        free(rest);
        return unknown_command(command);
    }
    if (help) {
        /* "fa-cli help budgets" / "fa-cli --help budgets" */
        rest[nrest++] = "--help";
    }
    char err[512];
    size_t slen = strlen(cli.server);
    char *server = strdup(cli.server);
    if (server && slen > 1 && server[slen - 1] == '/') server[slen - 1] = '\0';
    cli.server = server ? server : cli.server;
    if (http_check_server_url(cli.server, err, sizeof err) != 0) {
        fprintf(stderr, CLI_NAME ": --server: %s\n", err);
        free(rest);
        return CLI_EXIT_USAGE;
    }
    if (http_tls_setup(&cli, err, sizeof err) != 0) {
        fprintf(stderr, CLI_NAME ": %s\n", err);
        free(rest);
        free(server);
        return CLI_EXIT_USAGE;
    }
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    cli.tty = isatty(STDOUT_FILENO) == 1;
    cli.color = cli.tty && !no_color && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);
    cli.utf8 = render_locale_is_utf8();
    cli.command = cmd->info->name;
    rest[nrest] = NULL;
    http_deadline_start(&cli);
    int rc = cmd->run(&cli, nrest, rest);
    fflush(stdout);
    free(rest);
    free(server);
    if (cli.tls) nng_tls_config_free(cli.tls);
    return rc;
}
