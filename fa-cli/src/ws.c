/* ws.c — the daemon's live stream through nng's WebSocket stream dialer
 * (text frames). nng's stream API hands over bytes, not messages, so a
 * small splitter cuts the byte stream into top-level JSON values.
 *
 * One receive is kept posted with a completion callback; ws_next() waits
 * for it on a condition variable with its own time-out, so a time-out
 * never cancels a receive half-way (no bytes are lost between waits). */
#include "cli.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#define WS_CHUNK 65536

struct ws_conn {
    nng_stream_dialer *dialer;
    nng_stream *stream;
    nng_aio *rx_aio;
    char rx_chunk[WS_CHUNK];
    bool rx_posted; /* a receive is in flight */
    bool rx_done;   /* it completed; result below */
    int rx_result;
    size_t rx_count;
    pthread_mutex_t mtx;
    pthread_cond_t cv;
    size_t max_message; /* --max-response */
    char *buf;          /* bytes received and not yet split */
    size_t len, cap;
};

long ws_json_extent(const char *buf, size_t len, size_t *skip) {
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
        i++;
    *skip = i;
    if (i == len) return 0;
    if (buf[i] != '{' && buf[i] != '[') return -1;
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t j = i; j < len; j++) {
        char c = buf[j];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0) return (long)(j + 1 - i);
        }
    }
    return 0;
}

static void rx_cb(void *arg) {
    ws_conn_t *c = arg;
    pthread_mutex_lock(&c->mtx);
    c->rx_result = nng_aio_result(c->rx_aio);
    c->rx_count = c->rx_result == 0 ? nng_aio_count(c->rx_aio) : 0;
    c->rx_done = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mtx);
}

/* Posts a receive; the caller holds no lock (nng may call back at once). */
static void post_recv(ws_conn_t *c) {
    nng_iov iov = {.iov_buf = c->rx_chunk, .iov_len = sizeof c->rx_chunk};
    pthread_mutex_lock(&c->mtx);
    c->rx_posted = true;
    c->rx_done = false;
    pthread_mutex_unlock(&c->mtx);
    nng_aio_set_iov(c->rx_aio, 1, &iov);
    nng_stream_recv(c->stream, c->rx_aio);
}

static int ws_url_of(const cli_t *cli, const char *path, char *out, size_t cap) {
    bool tls = strncmp(cli->server, "https://", 8) == 0; /* else checked to be http:// */
    const char *h = cli->server + (tls ? 8 : 7);
    size_t n = strcspn(h, "/");
    int w = snprintf(out, cap, "%s://%.*s%s", tls ? "wss" : "ws", (int)n, h, path);
    if (w < 0 || (size_t)w >= cap) return -1;
    /* Browsers cannot send headers on a WebSocket: the daemon takes the
     * token from the query, and so does this client. */
    return cli->token ? http_query_add(out, cap, "token", cli->token) : 0;
}

int ws_connect(const cli_t *cli, const char *path, uint32_t timeout_ms, ws_conn_t **out) {
    char url[600];
    if (ws_url_of(cli, path, url, sizeof url) != 0) return NNG_EINVAL;
    ws_conn_t *c = calloc(1, sizeof *c);
    if (!c) return NNG_ENOMEM;
    pthread_mutex_init(&c->mtx, NULL);
    pthread_cond_init(&c->cv, NULL);
    nng_aio *dial = NULL;
    int rc;
    if ((rc = nng_stream_dialer_alloc(&c->dialer, url)) != 0) goto fail;
    /* The daemon speaks text frames; messages may be big with many tags. */
    if ((rc = nng_stream_dialer_set_bool(c->dialer, NNG_OPT_WS_RECV_TEXT, true)) != 0 ||
        (rc = nng_stream_dialer_set_bool(c->dialer, NNG_OPT_WS_SEND_TEXT, true)) != 0 ||
        (cli->tls && (rc = nng_stream_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, cli->tls)) != 0))
        goto fail;
    c->max_message = cli->max_response ? cli->max_response : CLI_DEFAULT_MAX_RESPONSE;
    (void)nng_stream_dialer_set_size(c->dialer, NNG_OPT_WS_RECVMAXFRAME, c->max_message);
    if ((rc = nng_aio_alloc(&dial, NULL, NULL)) != 0) goto fail;
    nng_aio_set_timeout(dial, (nng_duration)timeout_ms);
    nng_stream_dialer_dial(c->dialer, dial);
    nng_aio_wait(dial);
    if ((rc = nng_aio_result(dial)) != 0) goto fail;
    c->stream = nng_aio_get_output(dial, 0);
    nng_aio_free(dial);
    dial = NULL;
    if ((rc = nng_aio_alloc(&c->rx_aio, rx_cb, c)) != 0) goto fail;
    post_recv(c);
    *out = c;
    return 0;
fail:
    if (dial) nng_aio_free(dial);
    ws_close(c);
    return rc;
}

/* Takes one complete JSON value off the front of the buffer, if any.
 * Returns 1 (a message), 0 (incomplete), -1 (garbage: the buffer is
 * dropped). */
static int take_message(ws_conn_t *c, cJSON **out, char **raw) {
    size_t skip;
    long n = ws_json_extent(c->buf, c->len, &skip);
    if (n < 0) {
        c->len = 0;
        return -1;
    }
    if (n == 0) {
        if (skip == c->len) c->len = 0;
        return 0;
    }
    cJSON *doc = cJSON_ParseWithLength(c->buf + skip, (size_t)n);
    jv_sanitize(doc);
    if (raw) {
        *raw = malloc((size_t)n + 1);
        if (*raw) {
            memcpy(*raw, c->buf + skip, (size_t)n);
            (*raw)[n] = '\0';
        }
    }
    size_t used = skip + (size_t)n;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    if (!doc) {
        if (raw) {
            free(*raw);
            *raw = NULL;
        }
        return -1;
    }
    *out = doc;
    return 1;
}

static int append(ws_conn_t *c, const char *data, size_t n) {
    if (c->len + n > c->max_message) return -1; /* a message bigger than --max-response */
    if (c->len + n > c->cap) {
        size_t ncap = c->cap ? c->cap : WS_CHUNK;
        while (ncap < c->len + n)
            ncap *= 2;
        char *nb = realloc(c->buf, ncap);
        if (!nb) return -1;
        c->buf = nb;
        c->cap = ncap;
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
    return 0;
}

int ws_next(ws_conn_t *c, uint32_t timeout_ms, cJSON **out, char **raw) {
    if (raw) *raw = NULL;
    for (;;) {
        int t = take_message(c, out, raw);
        if (t == 1) return 1;
        /* t == -1: a malformed message was skipped; go on reading. */
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += timeout_ms / 1000u;
        deadline.tv_nsec += (long)(timeout_ms % 1000u) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&c->mtx);
        while (!c->rx_done) {
            if (pthread_cond_timedwait(&c->cv, &c->mtx, &deadline) == ETIMEDOUT) break;
        }
        bool done = c->rx_done;
        int result = c->rx_result;
        size_t count = c->rx_count;
        pthread_mutex_unlock(&c->mtx);
        if (!done) return 0;
        if (result != 0) return -1;
        if (append(c, c->rx_chunk, count) != 0) return -1;
        post_recv(c);
    }
}

int ws_send_text(ws_conn_t *c, const char *text, uint32_t timeout_ms) {
    nng_aio *aio = NULL;
    int rc = nng_aio_alloc(&aio, NULL, NULL);
    if (rc != 0) return rc;
    nng_iov iov = {.iov_buf = (void *)text, .iov_len = strlen(text)};
    nng_aio_set_iov(aio, 1, &iov);
    nng_aio_set_timeout(aio, (nng_duration)timeout_ms);
    nng_stream_send(c->stream, aio);
    nng_aio_wait(aio);
    rc = nng_aio_result(aio);
    nng_aio_free(aio);
    return rc;
}

void ws_close(ws_conn_t *c) {
    if (!c) return;
    if (c->stream) nng_stream_close(c->stream);
    /* Waits for the receive callback to finish before the memory goes. */
    if (c->rx_aio) nng_aio_stop(c->rx_aio);
    if (c->stream) nng_stream_free(c->stream);
    if (c->rx_aio) nng_aio_free(c->rx_aio);
    if (c->dialer) {
        nng_stream_dialer_close(c->dialer);
        nng_stream_dialer_free(c->dialer);
    }
    pthread_mutex_destroy(&c->mtx);
    pthread_cond_destroy(&c->cv);
    free(c->buf);
    free(c);
}
