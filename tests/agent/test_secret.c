/* Remote ingest settings of the agent: the daemon's shared secret in the
 * stream's HELLOs (never in the capture file), read from the desc or from
 * the file $FA_INSIGHT_SECRET_FILE names, and the CA file a tls+tcp:// URL
 * needs. Refusals at start name the file, never the secret. */
#define _GNU_SOURCE /* memmem */
#include <criterion/criterion.h>

#include "agent_test.h"
#include "fa_capture.h"

#include <errno.h>
#include <sys/stat.h>

#define SECRET "0123456789abcdef-fleet"

static void t_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "/tmp/fa-agent-test-%d-%s", (int)getpid(), name);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Runs frames until the daemon holds a HELLO; returns its index. */
static size_t first_hello(t_daemon_t *d, t_game_t *g) {
    for (uint64_t i = 0, deadline = t_now_ns() + 5000000000u; t_now_ns() < deadline; i++) {
        t_game_frame(g, i);
        long k = t_find(d, FA_PROTO_HELLO, 0);
        if (k >= 0) return (size_t)k;
        t_sleep_us(2000);
    }
    cr_assert_fail("no HELLO arrived");
    return 0;
}

/* Starts an agent with desc on a fresh daemon, and returns the secret of
 * the first HELLO the daemon got (a NUL-terminated copy). */
static void hello_secret(fa_agent_desc_t desc, const char *name, char *out, size_t cap) {
    char url[128];
    t_url(url, sizeof url, name);
    desc.url = url;
    t_daemon_t d;
    cr_assert_eq(t_daemon_open(&d, url), 0);
    fa_alloc_t *fa = fa_create(NULL);
    t_game_t g;
    t_game_init(&g, fa, 4);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_OK);
    cr_assert_null(fa_agent_desc_effective(agent).ingest_secret, "the secret is never handed back");
    size_t k = first_hello(&d, &g);
    fa_proto_msg_t m;
    cr_assert_eq(t_decode(t_daemon_msg(&d, k), &m), FA_PROTO_OK);
    cr_assert_eq(fa_proto_str_copy(out, cap, m.hello.ingest_secret), (int)m.hello.ingest_secret.len);
    cr_assert_eq(fa_agent_stop(agent, NULL), FA_OK);
    t_game_fini(&g);
    fa_destroy(fa);
    t_daemon_free(&d);
}

Test(secret, the_stream_hello_carries_the_secret_and_the_capture_file_never_does) {
    char path[128], got[256];
    t_path(path, sizeof path, "secret.facap");
    hello_secret((fa_agent_desc_t){.ingest_secret = SECRET, .capture_path = path}, "secret-desc", got,
                 sizeof got);
    cr_assert_str_eq(got, SECRET);

    FILE *f = fopen(path, "rb");
    cr_assert(f);
    static unsigned char data[1 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    fa_capture_reader_t r;
    cr_assert_eq(fa_capture_reader_init(&r, data, len), FA_PROTO_OK);
    fa_proto_storage_t st = fa_proto_storage_of(t_space);
    fa_proto_msg_t m;
    int hellos = 0;
    while (fa_capture_next(&r, &m, &st) == 1)
        if (m.header.type == FA_PROTO_HELLO) {
            cr_assert_eq(m.hello.ingest_secret.len, 0, "a capture file is shared: no secret in it");
            hellos++;
        }
    cr_assert_geq(hellos, 1);
    cr_assert_null(memmem(data, len, SECRET, strlen(SECRET)));
    unlink(path);
}

Test(secret, without_a_secret_the_hello_carries_an_empty_one) {
    char got[256];
    unsetenv(FA_AGENT_SECRET_FILE_ENV);
    hello_secret((fa_agent_desc_t){0}, "secret-none", got, sizeof got);
    cr_assert_str_eq(got, "");
}

Test(secret, the_file_the_environment_names_gives_its_first_line_trimmed) {
    char path[128], got[256];
    t_path(path, sizeof path, "secret.txt");
    write_file(path, "  \t" SECRET " \r\nsecond line\n");
    setenv(FA_AGENT_SECRET_FILE_ENV, path, 1);
    hello_secret((fa_agent_desc_t){0}, "secret-env", got, sizeof got);
    cr_assert_str_eq(got, SECRET);
    /* The desc's secret wins over the environment's file. */
    hello_secret((fa_agent_desc_t){.ingest_secret = "from-the-desc-0123"}, "secret-desc-wins", got, sizeof got);
    cr_assert_str_eq(got, "from-the-desc-0123");
    unsetenv(FA_AGENT_SECRET_FILE_ENV);
    unlink(path);
}

Test(secret, a_missing_empty_or_overlong_secret_is_refused_at_start_and_logged_by_path) {
    char path[128], longer[300];
    t_path(path, sizeof path, "secret-bad.txt");
    memset(longer, 'x', 256);
    longer[256] = '\0';
    const char *files[] = {NULL, "", " \n", longer};
    fa_alloc_t *fa = fa_create(NULL);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        unlink(path);
        if (files[i]) write_file(path, files[i]);
        setenv(FA_AGENT_SECRET_FILE_ENV, path, 1);
        t_log_t log = {0};
        fa_agent_t *agent = NULL;
        cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.log_cb = t_log_cb, .log_user = &log}, &agent),
                     FA_ERR_INVALID_ARG, "case %zu", i);
        cr_assert_null(agent);
        cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_SECRET_FAILED]), 1, "case %zu", i);
    }
    unsetenv(FA_AGENT_SECRET_FILE_ENV);
    /* A secret longer than the protocol's strings, given in the desc. */
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.ingest_secret = longer}, &agent), FA_ERR_INVALID_ARG);
    cr_assert_str_eq(fa_agent_log_name(FA_AGENT_LOG_SECRET_FAILED), "FA_AGENT_LOG_SECRET_FAILED");
    fa_destroy(fa);
    unlink(path);
}

Test(secret, a_tls_url_needs_a_ca_file_nng_can_load) {
    char path[128];
    t_path(path, sizeof path, "not-a-ca.pem");
    write_file(path, "not a certificate\n");
    unsetenv(FA_AGENT_CA_ENV);
    const char *cas[] = {NULL, "/nonexistent/ca.pem", path};
    fa_alloc_t *fa = fa_create(NULL);
    for (size_t i = 0; i < sizeof cas / sizeof cas[0]; i++) {
        t_log_t log = {0};
        fa_agent_t *agent = NULL;
        fa_agent_desc_t desc = {.url = "tls+tcp://127.0.0.1:1", .tls_ca_file = cas[i], .log_cb = t_log_cb,
                                .log_user = &log};
        cr_assert_eq(fa_agent_start(fa, &desc, &agent), FA_ERR_INVALID_ARG, "case %zu", i);
        cr_assert_eq(atomic_load(&log.count[FA_AGENT_LOG_TLS_FAILED]), 1, "case %zu", i);
    }
    /* $FA_INSIGHT_CA is the default: the same refusal names it. */
    setenv(FA_AGENT_CA_ENV, path, 1);
    fa_agent_t *agent = NULL;
    cr_assert_eq(fa_agent_start(fa, &(fa_agent_desc_t){.url = "tls+tcp://127.0.0.1:1"}, &agent),
                 FA_ERR_INVALID_ARG);
    unsetenv(FA_AGENT_CA_ENV);
    fa_destroy(fa);
    unlink(path);
}
