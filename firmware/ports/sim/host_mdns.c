/* An mDNS responder on a host UDP socket: contract in host_mdns.h. */
#define _GNU_SOURCE
#include "host_mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int ml_host_mdns_open(uint32_t ifaddr)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1, ttl = 255;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(MDNS_PORT)};
    struct ip_mreq mr = {.imr_multiaddr.s_addr = htonl(MDNS_GROUP_IPV4),
                         .imr_interface.s_addr = htonl(ifaddr)};
    struct in_addr ifa = {htonl(ifaddr)};
    unsigned char loop = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void send_to(int fd, const uint8_t *buf, int n, const struct mdns_dest *d)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(d->port)};
    to.sin_addr.s_addr = htonl(d->ip);
    (void)sendto(fd, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&to, sizeof to);
}

void ml_host_mdns_pump(int fd, struct mdns *m, uint64_t now_ms)
{
    uint8_t in[9000], out[MDNS_PACKET_MAX];
    struct mdns_dest d;
    int n;
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t k = recvfrom(fd, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (k < 0) {
            break;
        }
        n = mdns_input(m, now_ms, in, (size_t)k, ntohl(from.sin_addr.s_addr), ntohs(from.sin_port),
                       out, sizeof out, &d);
        if (n > 0) {
            send_to(fd, out, n, &d);
        }
    }
    while ((n = mdns_poll(m, now_ms, out, sizeof out, &d)) > 0) {
        send_to(fd, out, n, &d);
    }
}

uint32_t ml_host_mdns_addr(const char *bind_addr)
{
    struct in_addr in;
    if (bind_addr == NULL || inet_pton(AF_INET, bind_addr, &in) != 1 ||
        in.s_addr == htonl(INADDR_ANY)) {
        return INADDR_LOOPBACK;
    }
    return ntohl(in.s_addr);
}
