/* http.c — GET requests to the daemon with nng's HTTP client. One client
 * per request (fa-cli makes a handful per run); every transaction runs
 * under an aio time-out so a hung daemon cannot hang a CI job. */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

void http_answer_free(http_answer_t *a) {
    if (!a) return;
    free(a->body);
    cJSON_Delete(a->json);
    memset(a, 0, sizeof *a);
}

int http_check_server_url(const char *url, char *err, size_t errcap) {
    if (!url || !*url) {
        snprintf(err, errcap, "the server URL is empty");
        return -1;
    }
    bool tls = strncmp(url, "https://", 8) == 0;
    if (!tls && strncmp(url, "http://", 7) != 0) {
        snprintf(err, errcap, "'%s' is not an http:// or https:// URL (e.g. " CLI_DEFAULT_SERVER ")", url);
        return -1;
    }
    const char *host = url + (tls ? 8 : 7);
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0) {
        snprintf(err, errcap, "'%s' has no host", url);
        return -1;
    }
    const char *rest = host + hlen;
    if (*rest && strcmp(rest, "/") != 0) {
        snprintf(err, errcap, "'%s': give only scheme, host and port (no path or query)", url);
        return -1;
    }
    /* The port, when there is one, is 1..65535. */
    const char *colon = NULL;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', hlen);
        if (!close) {
            snprintf(err, errcap, "'%s': unterminated IPv6 address", url);
            return -1;
        }
        if (close + 1 < host + hlen) colon = close + 1;
    } else {
        colon = memchr(host, ':', hlen);
    }
    if (colon) {
        if (*colon != ':' || colon + 1 == host + hlen) {
            snprintf(err, errcap, "'%s': bad port", url);
            return -1;
        }
        long port = 0;
        for (const char *p = colon + 1; p < host + hlen; p++) {
            if (!isdigit((unsigned char)*p) || port > 65535) {
                snprintf(err, errcap, "'%s': bad port", url);
                return -1;
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            snprintf(err, errcap, "'%s': port out of range", url);
            return -1;
        }
    }
    nng_url *u = NULL;
    if (nng_url_parse(&u, url) != 0) {
        snprintf(err, errcap, "'%s' is not a valid URL", url);
        return -1;
    }
    nng_url_free(u);
    return 0;
}

int http_tls_setup(cli_t *cli, char *err, size_t errcap) {
    if (strncmp(cli->server, "https://", 8) != 0) return 0;
    if (!cli->ca_file) {
        snprintf(err, errcap,
                 "'%s': give the certificate authority of the daemon's certificate with --ca FILE or $" CLI_CA_ENV,
                 cli->server);
        return -1;
    }
    nng_url *u = NULL;
    int rc;
    if ((rc = nng_url_parse(&u, cli->server)) != 0 || (rc = nng_tls_config_alloc(&cli->tls, NNG_TLS_MODE_CLIENT)) != 0) {
        snprintf(err, errcap, "'%s': %s", cli->server, nng_strerror(rc));
        nng_url_free(u);
        return -1;
    }
    if ((rc = nng_tls_config_auth_mode(cli->tls, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
        (rc = nng_tls_config_server_name(cli->tls, u->u_hostname)) != 0 ||
        (rc = nng_tls_config_ca_file(cli->tls, cli->ca_file)) != 0) {
        snprintf(err, errcap, "--ca %s: %s (a PEM file of certificates is expected)", cli->ca_file,
                 nng_strerror(rc));
        nng_tls_config_free(cli->tls);
        cli->tls = NULL;
        nng_url_free(u);
        return -1;
    }
    nng_url_free(u);
    return 0;
}

/* "host:port" of the server URL, for the start-up hint. */
static void server_hostport(const char *server, char *out, size_t cap) {
    const char *h = strncmp(server, "http://", 7) == 0    ? server + 7
                    : strncmp(server, "https://", 8) == 0 ? server + 8
                                                          : server;
    size_t n = strcspn(h, "/");
    if (n >= cap) n = cap - 1;
    memcpy(out, h, n);
    out[n] = '\0';
    if (!strchr(out, ':') || out[0] == '[') {
        if (out[0] != '[' || !strstr(out, "]:"))
            strncat(out, strncmp(server, "https", 5) == 0 ? ":443" : ":80", cap - strlen(out) - 1);
    }
}

void http_print_down(const cli_t *cli, int rc) {
    char hp[300];
    server_hostport(cli->server, hp, sizeof hp);
    const char *why;
    switch (rc) {
    case NNG_ECONNREFUSED:
        why = "is not running at";
        break;
    case NNG_ETIMEDOUT:
        why = "did not answer in time at";
        break;
    case NNG_EADDRINVAL:
        why = "has an address that does not resolve:";
        break;
    case NNG_ECONNRESET:
    case NNG_ECONNSHUT:
    case NNG_ECLOSED:
        why = "closed the connection at";
        break;
    case NNG_ECRYPTO:
    case NNG_EPEERAUTH:
        fprintf(cli->err,
                CLI_NAME ": the TLS handshake with %s failed (%s): is --ca / $" CLI_CA_ENV
                         " the authority of its certificate, and does the certificate name the host?\n",
                cli->server, nng_strerror(rc));
        return;
    default:
        why = "cannot be reached at";
        break;
    }
    fprintf(cli->err,
            CLI_NAME ": fa-insightd %s %s (%s); start it with 'fa-insightd --listen %s' or point --server / "
                     "$" CLI_SERVER_ENV " at a running daemon\n",
            why, cli->server, nng_strerror(rc), hp);
}

uint64_t http_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void http_deadline_start(cli_t *cli) {
    cli->deadline_ms = http_mono_ms() + (cli->timeout_ms ? cli->timeout_ms : 5000u);
}

uint32_t http_time_left(const cli_t *cli) {
    uint64_t now = http_mono_ms();
    return cli->deadline_ms > now ? (uint32_t)(cli->deadline_ms - now) : 1u;
}

/* Runs one step of the exchange on aio within what is left of the
 * command's time. 0 or an nng error (NNG_ETIMEDOUT once the time is up). */
static int step(nng_aio *aio) {
    nng_aio_wait(aio);
    return nng_aio_result(aio);
}

/* Starts op on aio with what is left of the command's time (at least 1 ms,
 * so that a spent deadline ends the step as a time-out). */
#define START(op)                                                                                            \
    do {                                                                                                     \
        nng_aio_set_timeout(aio, (nng_duration)http_time_left(cli));                                         \
        op;                                                                                                  \
    } while (0)

/* Reads the body: Content-Length bytes, or until the server closes when
 * it sent no length. Never more than cli->max_response bytes. */
static int read_body(const cli_t *cli, nng_http_conn *conn, nng_http_res *res, nng_aio *aio,
                     http_answer_t *out) {
    size_t cap = cli->max_response ? cli->max_response : CLI_DEFAULT_MAX_RESPONSE;
    const char *te = nng_http_res_get_header(res, "Transfer-Encoding");
    const char *cl = nng_http_res_get_header(res, "Content-Length");
    char shown[32];
    if (te && strcmp(te, "identity") != 0) {
        /* fa-insightd always sends a length; nng's own client would collect
         * an endless chunked body without limit. */
        fprintf(cli->err,
                CLI_NAME ": %s answered with a %s-encoded body, which fa-insightd never sends: is it "
                         "fa-insightd?\n",
                cli->server, "chunked");
        return CLI_EXIT_SERVER;
    }
    uint64_t want = 0;
    if (cl && args_parse_uint(cl, 0, UINT64_MAX, &want) != 0) {
        fprintf(cli->err, CLI_NAME ": %s sent a bad Content-Length: is it fa-insightd?\n", cli->server);
        return CLI_EXIT_SERVER;
    }
    if (want > cap) {
        fprintf(cli->err, CLI_NAME ": the answer of %s is %llu bytes, more than --max-response %s\n",
                cli->server, (unsigned long long)want, units_format_bytes(shown, sizeof shown, cap));
        return CLI_EXIT_SERVER;
    }
    size_t room = cl ? (size_t)want : cap + 1; /* one more byte tells "too big" */
    out->body = malloc(room + 1);
    if (!out->body) {
        fprintf(cli->err, CLI_NAME ": out of memory for a %zu-byte answer\n", room);
        return CLI_EXIT_SERVER;
    }
    while (out->len < room) {
        nng_iov iov = {.iov_buf = out->body + out->len, .iov_len = room - out->len};
        nng_aio_set_iov(aio, 1, &iov);
        if (cl)
            START(nng_http_conn_read_all(conn, aio));
        else
            START(nng_http_conn_read(conn, aio));
        int rc = step(aio);
        out->len += nng_aio_count(aio);
        if (rc == 0) continue;
        if (!cl && (rc == NNG_ECLOSED || rc == NNG_ECONNSHUT || rc == NNG_ECONNRESET)) break; /* the end */
        http_print_down(cli, rc);
        return CLI_EXIT_SERVER;
    }
    if (out->len > cap) {
        fprintf(cli->err, CLI_NAME ": the answer of %s is larger than --max-response %s\n", cli->server,
                units_format_bytes(shown, sizeof shown, cap));
        return CLI_EXIT_SERVER;
    }
    out->body[out->len] = '\0';
    return 0;
}

static int set_token(const cli_t *cli, nng_http_req *req) {
    if (!cli->token) return 0;
    char value[600];
    if ((size_t)snprintf(value, sizeof value, "Bearer %s", cli->token) >= sizeof value) return NNG_EINVAL;
    return nng_http_req_set_header(req, "Authorization", value);
}

int http_get(const cli_t *cli, const char *path_query, http_answer_t *out) {
    memset(out, 0, sizeof *out);
    nng_url *url = NULL;
    nng_http_client *client = NULL;
    nng_http_conn *conn = NULL;
    nng_http_req *req = NULL;
    nng_http_res *res = NULL;
    nng_aio *aio = NULL;
    int rc;
    if ((rc = nng_url_parse(&url, cli->server)) != 0 || (rc = nng_http_client_alloc(&client, url)) != 0 ||
        (cli->tls && (rc = nng_http_client_set_tls(client, cli->tls)) != 0) ||
        (rc = nng_http_req_alloc(&req, url)) != 0 || (rc = nng_http_res_alloc(&res)) != 0 ||
        (rc = nng_aio_alloc(&aio, NULL, NULL)) != 0 || (rc = nng_http_req_set_uri(req, path_query)) != 0 ||
        (rc = nng_http_req_set_header(req, "Accept", "application/json")) != 0 ||
        (rc = nng_http_req_set_header(req, "User-Agent", CLI_NAME)) != 0 ||
        (rc = nng_http_req_set_header(req, "Connection", "close")) != 0 || (rc = set_token(cli, req)) != 0) {
        fprintf(cli->err, CLI_NAME ": cannot prepare a request to %s: %s\n", cli->server, nng_strerror(rc));
        goto fail;
    }
    /* Step by step rather than nng_http_client_transact, which reads any
     * body whole, however big or endless: here every step runs within the
     * command's deadline and the body within --max-response. */
    START(nng_http_client_connect(client, aio));
    if ((rc = step(aio)) != 0) goto down;
    conn = nng_aio_get_output(aio, 0);
    START(nng_http_conn_write_req(conn, req, aio));
    if ((rc = step(aio)) != 0) goto down;
    START(nng_http_conn_read_res(conn, res, aio));
    if ((rc = step(aio)) == NNG_ECONNSHUT || rc == NNG_ECLOSED || rc == NNG_ECONNRESET) {
        /* It took the request: something runs there. nng also ends a
         * connection this way when an answer's head outgrows its 8 KiB
         * read buffer. */
        fprintf(cli->err,
                CLI_NAME ": %s took the request, then ended the connection or answered with a head fa-cli "
                         "cannot read (%s): is it fa-insightd?\n",
                cli->server, nng_strerror(rc));
        goto fail;
    }
    if (rc != 0) goto down;
    out->status = nng_http_res_get_status(res);
    const char *type = nng_http_res_get_header(res, "Content-Type");
    if (type) escape_sanitize_copy(out->content_type, sizeof out->content_type, type, strlen(type));
    if (read_body(cli, conn, res, aio, out) != 0) goto fail;
    out->json = cJSON_ParseWithLength(out->body, out->len);
    jv_sanitize(out->json);
    nng_http_conn_close(conn);
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_http_client_free(client);
    nng_url_free(url);
    return 0;
down:
    http_print_down(cli, rc);
fail:
    if (conn) nng_http_conn_close(conn);
    if (aio) nng_aio_free(aio);
    if (res) nng_http_res_free(res);
    if (req) nng_http_req_free(req);
    if (client) nng_http_client_free(client);
    if (url) nng_url_free(url);
    http_answer_free(out);
    return CLI_EXIT_SERVER;
}

void http_error_fields(const http_answer_t *a, const char **code, const char **message) {
    const cJSON *e = jv_get(a->json, "error");
    if (cJSON_IsString(e)) {
        *code = NULL;
        *message = e->valuestring;
        return;
    }
    *code = jv_str(e, "code", NULL);
    *message = jv_str(e, "message", NULL);
}

int http_query_add(char *buf, size_t cap, const char *name, const char *value) {
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(buf);
    char tmp[1024];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (n + 4 >= sizeof tmp) return -1;
        if (isalnum(*p) || strchr("-._~/", *p))
            tmp[n++] = (char)*p;
        else {
            tmp[n++] = '%';
            tmp[n++] = hex[*p >> 4];
            tmp[n++] = hex[*p & 15];
        }
    }
    tmp[n] = '\0';
    int w = snprintf(buf + len, cap - len, "%c%s=%s", strchr(buf, '?') ? '&' : '?', name, tmp);
    if (w < 0 || (size_t)w >= cap - len) {
        buf[len] = '\0';
        return -1;
    }
    return 0;
}
