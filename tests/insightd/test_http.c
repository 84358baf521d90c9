/* test_http.c — nng 1.5.2 traps of the HTTP server, with the daemon's own
 * registration code: every route registers (no EADDRINUSE after the "/"
 * tree), the WebSocket listeners join the same port instead of binding it
 * twice, and a request queued to the loop is answered before the server
 * stops. */
#include "helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

static char *dir;
static config_t cfg;
static insightd_ctx_t ctx;

static void start(void) {
    dir = tmp_dir();
    char db[512], err[512];
    snprintf(db, sizeof db, "%s/h.db", dir);
    const char *argv[] = {"fa-insightd", "--listen", "127.0.0.1:0", "--db", db, "--web-root", dir};
    FILE *devnull = fopen("/dev/null", "w");
    cr_assert_eq(config_load(&cfg, 7, (char **)argv, devnull, err, sizeof err), CONFIG_OK, "%s", err);
    fclose(devnull);
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    ctx.loop = uv_default_loop();
    ctx.web_root_ok = realpath(dir, ctx.web_root_real) != NULL;
    cr_assert_eq(store_open(&ctx.store, db, 2, NULL, err, sizeof err), 0, "%s", err);
    writer_options_t wo = {
        .commit_interval_ms = 50,
        .buffer_bytes = 1 << 20,
        .retention_interval_ms = 60000,
        .keep = {UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX / 2}};
    cr_assert_eq(writer_start(&ctx.writer, ctx.store, ctx.loop, &wo, NULL, err, sizeof err), 0, "%s", err);
    sessions_options_t so = {10000, 64, 16, 1024};
    ctx.sessions = sessions_create(ctx.writer, &so, NULL);
    cr_assert_eq(http_start(&ctx.http, &ctx, err, sizeof err), 0, "http_start: %s", err);
}

static void close_any(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* The daemon's shutdown order (main.c). */
static void stop(void) {
    http_drain(ctx.http);
    for (int i = 0; i < 300 && http_inflight(ctx.http); i++) {
        uv_run(ctx.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    ws_close_all(ctx.ws);
    for (int i = 0; i < 300 && ws_open_clients(ctx.ws); i++) {
        uv_run(ctx.loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    http_stop(ctx.http);
    writer_stop(ctx.writer, clock_mono_ms() + 1000);
    http_close(ctx.http);
    ws_close(ctx.ws);
    writer_close(ctx.writer);
    uv_walk(ctx.loop, close_any, NULL);
    uv_run(ctx.loop, UV_RUN_DEFAULT);
    ws_free(ctx.ws);
    http_free(ctx.http);
    sessions_destroy(ctx.sessions);
    writer_free(ctx.writer);
    store_close(ctx.store);
    uv_loop_close(ctx.loop);
    rm_tree(dir);
    free(dir);
}

static int port_of(const char *url) {
    return atoi(strrchr(url, ':') + 1);
}

typedef struct exchange {
    int port;
    const char *request;
    char reply[8192];
    bool done;
} exchange_t;

static void *client(void *arg) {
    exchange_t *x = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)x->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        (void)!write(fd, x->request, strlen(x->request));
        size_t got = 0;
        ssize_t n;
        while (got < sizeof x->reply - 1 && (n = read(fd, x->reply + got, sizeof x->reply - 1 - got)) > 0)
            got += (size_t)n;
        x->reply[got] = '\0';
    }
    close(fd);
    x->done = true;
    return NULL;
}

/* Sends one request from another thread while this one runs the loop. */
static void exchange(exchange_t *x) {
    pthread_t t;
    pthread_create(&t, NULL, client, x);
    for (int i = 0; i < 500 && !x->done; i++) {
        uv_run(ctx.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    pthread_join(t, NULL);
}

Test(http, every_route_registers_and_websocket_shares_the_port) {
    start();
    int port = port_of(ctx.http_url);
    cr_assert_gt(port, 0, "port 0 was resolved: %s", ctx.http_url);
    char req[256];
    snprintf(req, sizeof req,
             "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
    exchange_t a = {.port = port, .request = req};
    exchange(&a);
    cr_assert(strstr(a.reply, "HTTP/1.1 200") && strstr(a.reply, "\"status\":\"ok\""), "%.300s", a.reply);
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             port);
    exchange_t w = {.port = port, .request = req};
    /* the server keeps the socket open: read what came, then stop */
    pthread_t t;
    pthread_create(&t, NULL, client, &w);
    for (int i = 0; i < 100 && !strstr(w.reply, "\r\n\r\n"); i++) {
        uv_run(ctx.loop, UV_RUN_NOWAIT);
        usleep(5000);
    }
    cr_assert(strstr(w.reply, "101 Switching Protocols"), "WebSocket on the same port: %.200s", w.reply);
    snprintf(req, sizeof req, "GET /nope HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
    exchange_t n = {.port = port, .request = req};
    exchange(&n);
    cr_assert(strstr(n.reply, "HTTP/1.1 404") && strstr(n.reply, "\"not_found\""), "%.300s", n.reply);
    stop();
    pthread_join(t, NULL);
}

Test(http, draining_answers_503_json) {
    start();
    http_drain(ctx.http);
    int port = port_of(ctx.http_url);
    char req[256];
    snprintf(req, sizeof req,
             "GET /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", port);
    exchange_t a = {.port = port, .request = req};
    exchange(&a);
    cr_assert(strstr(a.reply, "HTTP/1.1 503") && strstr(a.reply, "shutting_down"), "%.300s", a.reply);
    cr_assert_eq(http_inflight(ctx.http), 0);
    stop();
}
