/* conns.c — connection cap and header/idle timeouts of the HTTP port
 * (see conns.h). */
#include "conns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* its tcp_info has the byte counters */
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "stats.h"

typedef struct conn {
    int fd;
    ino_t ino;
    netdiag_peer_t peer;
    bool upgraded;
    bool cut; /* shut down; nng closes it soon */
    uint64_t waiting_since;  /* accept, or the last time the daemon sent something */
    uint64_t request_since;  /* first byte after waiting_since (0: none yet) */
    uint64_t acked, received; /* TCP_INFO counters at waiting_since */
} conn_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Descriptors being watched, so that a close of any other costs one load. */
#define TRACKED_FDS 65536
static atomic_bool tracked[TRACKED_FDS];
static int watched_port = -1; /* under lock */
static bool watched_tls;
static conns_limits_t limits;
static conn_t *conns; /* under lock */
static uint32_t count, cap;
static int listen_fds[8]; /* listeners seen: fd + 1 when HTTP, -(fd + 1) when not */
static int listen_known;

static const char too_many_body[] =
    "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"fa-insightd has its maximum of "
    "connections open (--max-connections); try again later\"}}";
static const char timed_out_body[] =
    "{\"error\":{\"code\":\"request_timeout\",\"message\":\"no complete request arrived in time "
    "(--http-header-timeout, --http-idle-timeout)\"}}";
static char too_many[512], timed_out[512]; /* whole responses, built once */

static void canned(char *out, size_t cap, const char *status, const char *body) {
    snprintf(out, cap,
             "HTTP/1.1 %s\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
             "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
             status, strlen(body), body);
}

void conns_watch(int port, bool tls, const conns_limits_t *lim) {
    canned(too_many, sizeof too_many, "503 Service Unavailable", too_many_body);
    canned(timed_out, sizeof timed_out, "408 Request Timeout", timed_out_body);
    pthread_mutex_lock(&lock);
    watched_port = port;
    watched_tls = tls;
    limits = *lim;
    pthread_mutex_unlock(&lock);
}

static ino_t inode_of(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? st.st_ino : 0;
}

/* Under lock: whether listen_fd is the HTTP listener (remembered). */
static bool is_http_listener(int listen_fd) {
    for (int i = 0; i < listen_known; i++) {
        if (listen_fds[i] == listen_fd + 1) return true;
        if (listen_fds[i] == -(listen_fd + 1)) return false;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int port = -1;
    if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        if (ss.ss_family == AF_INET6) port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    bool http = port >= 0 && port == watched_port;
    if (listen_known < (int)(sizeof listen_fds / sizeof listen_fds[0]))
        listen_fds[listen_known++] = http ? listen_fd + 1 : -(listen_fd + 1);
    return http;
}

static void peer_of(int fd, netdiag_peer_t *p) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(p, 0, sizeof *p);
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&ss;
        p->family = 4;
        memcpy(p->addr, &in->sin_addr, 4);
        p->port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&ss;
        p->family = 6;
        memcpy(p->addr, &in6->sin6_addr, 16);
        p->port = ntohs(in6->sin6_port);
    }
}

static bool tcp_counters(int fd, uint64_t *acked, uint64_t *received) {
    struct tcp_info ti;
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return false;
    *acked = ti.tcpi_bytes_acked;
    *received = ti.tcpi_bytes_received;
    return true;
}

/* Under lock: drops entry i. */
static void drop(uint32_t i) {
    atomic_store(&tracked[conns[i].fd], false);
    conns[i] = conns[--count];
}

/* Under lock: drops the entries whose descriptor is no longer the socket
 * accepted (closed behind the close guard's back; never expected). */
static void prune(void) {
    for (uint32_t i = 0; i < count;) {
        if (inode_of(conns[i].fd) != conns[i].ino)
            drop(i);
        else
            i++;
    }
}

void conns_on_close(int fd) {
    if (fd < 0 || fd >= TRACKED_FDS || !atomic_load(&tracked[fd])) return;
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < count; i++)
        if (conns[i].fd == fd) {
            drop(i);
            break;
        }
    pthread_mutex_unlock(&lock);
}

bool conns_on_accept(int listen_fd, int fd) {
    pthread_mutex_lock(&lock);
    if (watched_port < 0 || !is_http_listener(listen_fd)) {
        pthread_mutex_unlock(&lock);
        return true;
    }
    if (count >= limits.max_connections) prune();
    bool refuse = count >= limits.max_connections || fd >= TRACKED_FDS;
    if (!refuse && count == cap) {
        uint32_t ncap = cap ? cap * 2 : 64;
        conn_t *n = realloc(conns, ncap * sizeof *n);
        if (n) {
            conns = n;
            cap = ncap;
        }
        refuse = count == cap; /* out of memory: refuse rather than lose track */
    }
    if (!refuse) {
        conn_t *c = &conns[count++];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->ino = inode_of(fd);
        peer_of(fd, &c->peer);
        c->waiting_since = clock_mono_ms();
        tcp_counters(fd, &c->acked, &c->received);
        atomic_store(&tracked[fd], true);
    }
    bool tls = watched_tls;
    pthread_mutex_unlock(&lock);
    if (!refuse) return true;
    atomic_fetch_add(&g_stats.http_refused_connections, 1);
    if (!tls) (void)send(fd, too_many, strlen(too_many), MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    close(fd);
    return false;
}

void conns_mark_upgraded(const netdiag_peer_t *peer) {
    pthread_mutex_lock(&lock);
    for (uint32_t i = 0; i < count; i++)
        if (conns[i].peer.family == peer->family && conns[i].peer.port == peer->port &&
            memcmp(conns[i].peer.addr, peer->addr, peer->family == 4 ? 4 : 16) == 0)
            conns[i].upgraded = true;
    pthread_mutex_unlock(&lock);
}

/* Under lock: ends connection i (its descriptor verified just before). */
static void cut(conn_t *c, bool idle) {
    c->cut = true;
    if (idle)
        g_stats.http_idle_timeouts++;
    else
        g_stats.http_header_timeouts++;
    if (!watched_tls) (void)send(c->fd, timed_out, strlen(timed_out), MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(c->fd, SHUT_RDWR);
}

void conns_sweep(uint64_t now, bool busy) {
    pthread_mutex_lock(&lock);
    prune();
    for (uint32_t i = 0; i < count; i++) {
        conn_t *c = &conns[i];
        uint64_t acked, received;
        if (c->upgraded || c->cut || !c->ino || !tcp_counters(c->fd, &acked, &received)) continue;
        if (acked != c->acked) { /* the daemon answered: waiting for the next request */
            c->acked = acked;
            c->received = received;
            c->waiting_since = now;
            c->request_since = 0;
            continue;
        }
        if (received != c->received && !c->request_since) c->request_since = now;
        if (!c->request_since) {
            if (now - c->waiting_since >= limits.idle_timeout_ms) cut(c, true);
        } else {
            uint64_t allowed = limits.header_timeout_ms + (busy ? limits.grace_ms : 0);
            if (now - c->request_since >= allowed) cut(c, false);
        }
    }
    pthread_mutex_unlock(&lock);
}

uint32_t conns_open(void) {
    pthread_mutex_lock(&lock);
    prune();
    uint32_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
