/* test_config.c — one table drives flags, the config file and defaults. */
#include "helpers.h"

static int load(config_t *cfg, char *err, int argc, const char **argv) {
    FILE *out = fopen("/dev/null", "w");
    int rc = config_load(cfg, argc, (char **)argv, out, err, 512);
    fclose(out);
    return rc;
}

Test(config, defaults_are_loopback_and_documented_values) {
    config_t c;
    char err[512];
    const char *argv[] = {"fa-insightd"};
    cr_assert_eq(load(&c, err, 1, argv), CONFIG_OK);
    cr_assert_str_eq(c.listen, "127.0.0.1:7878");
    cr_assert_str_eq(c.ingest, "tcp://127.0.0.1:7879");
    cr_assert_str_eq(c.db_path, "./fa-insight.db");
    cr_assert_eq(c.retention_ms, 3600000);
    cr_assert_eq(c.commit_interval_ms, 250);
    cr_assert_eq(c.ws_rate, 20);
    cr_assert_eq(c.log_level, LOG_INFO);
    cr_assert_not(c.allow_remote);
    cr_assert_str_eq(c.web_root, "");
}

Test(config, flags_override_the_file_which_overrides_defaults) {
    char *dir = tmp_dir(), path[256];
    snprintf(path, sizeof path, "%s/conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "# a comment\n\nretention = 2h\nws-rate = 5\ndb = \"/tmp/x y.db\"\nallow-remote = yes\n");
    fclose(f);
    config_t c;
    char err[512];
    const char *argv[] = {"fa-insightd", "--ws-rate=7", "-c", path, "--log-level", "debug"};
    cr_assert_eq(load(&c, err, 6, argv), CONFIG_OK, "%s", err);
    cr_assert_eq(c.retention_ms, 2 * 3600000ull);
    cr_assert_eq(c.ws_rate, 7);
    cr_assert_str_eq(c.db_path, "/tmp/x y.db");
    cr_assert(c.allow_remote);
    cr_assert_eq(c.log_level, LOG_DEBUG);
    rm_tree(dir);
    free(dir);
}

Test(config, bad_values_name_the_flag) {
    static const char *cases[][3] = {
        {"--ws-rate", "0", "--ws-rate"},
        {"--ws-rate", "abc", "--ws-rate"},
        {"--retention", "1s", "--retention"},
        {"--retention", "3x", "--retention"},
        {"--listen", "7878", "--listen"},
        {"--listen", "[::1]7878", "--listen"},
        {"--ingest", "udp://1:2", "--ingest"},
        {"--log-level", "loud", "--log-level"},
        {"--allow-remote=maybe", NULL, "--allow-remote"},
        {"--nope", NULL, "--nope"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_t c;
        char err[512] = "";
        const char *argv[] = {"fa-insightd", cases[i][0], cases[i][1]};
        int argc = cases[i][1] ? 3 : 2;
        cr_assert_eq(load(&c, err, argc, argv), CONFIG_ERROR, "%s %s accepted", cases[i][0], cases[i][1]);
        cr_assert(strstr(err, cases[i][2]), "error '%s' does not name %s", err, cases[i][2]);
    }
}

Test(config, file_errors_give_file_and_line) {
    char *dir = tmp_dir(), path[256];
    snprintf(path, sizeof path, "%s/conf", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "retention = 1h\nwhat = 1\n");
    fclose(f);
    config_t c;
    char err[512], want[300];
    const char *argv[] = {"fa-insightd", "--config", path};
    cr_assert_eq(load(&c, err, 3, argv), CONFIG_ERROR);
    snprintf(want, sizeof want, "%s:2", path);
    cr_assert(strstr(err, want) && strstr(err, "what"), "%s", err);
    const char *argv2[] = {"fa-insightd", "--config", "/nonexistent/conf"};
    cr_assert_eq(load(&c, err, 3, argv2), CONFIG_ERROR);
    cr_assert(strstr(err, "cannot open"), "%s", err);
    rm_tree(dir);
    free(dir);
}

Test(config, help_and_version_exit_without_error) {
    config_t c;
    char err[512];
    const char *h[] = {"fa-insightd", "--db", "x", "--help"};
    cr_assert_eq(load(&c, err, 4, h), CONFIG_EXIT);
    const char *v[] = {"fa-insightd", "-V"};
    cr_assert_eq(load(&c, err, 2, v), CONFIG_EXIT);
}

/* The syntax itself is pinned in tests/text/test_units.c; the daemon must
 * accept what fa-cli accepts ("min" was refused here before libfa-text). */
Test(config, durations_take_the_syntax_shared_with_fa_cli) {
    uint64_t ms;
    cr_assert(config_parse_duration("5min", &ms) == 0 && ms == 300000);
    cr_assert(config_parse_duration("250ms", &ms) == 0 && ms == 250);
    cr_assert(config_parse_duration("1.5s", &ms) < 0);
}

Test(config, loopback_detection) {
    cr_assert(config_host_is_loopback("127.0.0.1"));
    cr_assert(config_host_is_loopback("127.1.2.3"));
    cr_assert(config_host_is_loopback("localhost"));
    cr_assert(config_host_is_loopback("::1"));
    cr_assert_not(config_host_is_loopback("0.0.0.0"));
    cr_assert_not(config_host_is_loopback("10.0.0.1"));
    cr_assert_not(config_host_is_loopback("127.0.0.1.evil.com"));
    cr_assert(config_url_is_local("tcp://127.0.0.1:7879"));
    cr_assert(config_url_is_local("ipc:///tmp/x"));
    cr_assert(config_url_is_local("tcp://[::1]:7879"));
    cr_assert_not(config_url_is_local("tcp://0.0.0.0:7879"));
    cr_assert_not(config_url_is_local("tcp://192.168.1.2:7879"));
    char host[64];
    int port;
    cr_assert(config_split_hostport("[::1]:80", host, sizeof host, &port) == 0 && !strcmp(host, "::1") &&
              port == 80);
    cr_assert(config_split_hostport("a:b:80", host, sizeof host, &port) < 0);
    cr_assert(config_split_hostport("h:70000", host, sizeof host, &port) < 0);
}
