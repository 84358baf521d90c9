/* netdiag.c — TCP byte counts through NETLINK_SOCK_DIAG (see netdiag.h). */
#include "netdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct netdiag {
    int fd;
    uint8_t buf[32768];
};

netdiag_t *netdiag_open(void) {
    netdiag_t *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (d->fd < 0) {
        free(d);
        return NULL;
    }
    return d;
}

void netdiag_close(netdiag_t *d) {
    if (!d) return;
    close(d->fd);
    free(d);
}

static int scan_family(netdiag_t *d, int family, uint16_t port,
                       void (*fn)(void *, const netdiag_peer_t *, uint64_t), void *ud) {
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nlh.nlmsg_len = sizeof req;
    req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.r.sdiag_family = (uint8_t)family;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = 1u << 1; /* TCP_ESTABLISHED */
    req.r.idiag_ext = 1u << (INET_DIAG_INFO - 1);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(d->fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return -1;
    for (;;) {
        ssize_t n = recv(d->fd, d->buf, sizeof d->buf, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)d->buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (h->nlmsg_type == NLMSG_ERROR) return -1;
            struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) != port) continue;
            uint64_t received = 0;
            bool have = false;
            int left = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *m));
            for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, left); a = RTA_NEXT(a, left)) {
                /* Older kernels send a shorter tcp_info: use it only if the
                 * field is there. */
                if (a->rta_type == INET_DIAG_INFO &&
                    RTA_PAYLOAD(a) >=
                        (int)(offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(uint64_t))) {
                    /* Netlink attributes are 4-byte aligned only. */
                    struct tcp_info ti;
                    size_t n_info = (size_t)RTA_PAYLOAD(a) < sizeof ti ? (size_t)RTA_PAYLOAD(a) : sizeof ti;
                    memset(&ti, 0, sizeof ti);
                    memcpy(&ti, RTA_DATA(a), n_info);
                    received = ti.tcpi_bytes_received;
                    have = true;
                }
            }
            if (!have) continue;
            netdiag_peer_t peer = {.family = family == AF_INET ? 4 : 6, .port = ntohs(m->id.idiag_dport)};
            memcpy(peer.addr, m->id.idiag_dst, family == AF_INET ? 4 : 16);
            fn(ud, &peer, received);
        }
    }
}

int netdiag_scan(netdiag_t *d, uint16_t local_port, void (*fn)(void *, const netdiag_peer_t *, uint64_t),
                 void *ud) {
    if (!d) return -1;
    int a = scan_family(d, AF_INET, local_port, fn, ud);
    int b = scan_family(d, AF_INET6, local_port, fn, ud);
    return a == 0 || b == 0 ? 0 : -1;
}
