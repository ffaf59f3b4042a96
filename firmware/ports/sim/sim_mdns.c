/*
 * Sim network: mDNS for the firmware's names (hal_net_set_mdns()) and the DHCP
 * host name it records. The responder is firmware/core/mdns; this file gives
 * it a real UDP socket on 0.0.0.0:5353 joined to 224.0.0.251 on the interface
 * of the bind address, and the device time. Firmware thread only, except the
 * sim_net_get_names() reader (under the port lock).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "hal_net.h"
#include "mdns/mdns.h"
#include "sim_priv.h"

static struct {
    bool enabled; /* sim_net_mdns_enable() */
    bool have;    /* the firmware named itself */
    bool failed;  /* the socket could not be set up: said once, then off */
    int fd;
    uint32_t ip; /* the address announced (0: off the network) */
    char dhcp[64];
    struct mdns m; /* under the port lock where the host reads it */
} M = {.fd = -1};

void sim_net_mdns_enable(bool on)
{
    M.enabled = on;
}

static bool label_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return n >= 1 && n <= max;
}

int hal_net_set_mdns(const char *name, const char *alias)
{
    ML_VERIFY(name != NULL && label_ok(name, MDNS_BASE_MAX), ML_EINVAL);
    ML_VERIFY(alias == NULL || label_ok(alias, MDNS_BASE_MAX), ML_EINVAL);
    const char *names[2] = {name, alias};
    sim_lock();
    int rc = mdns_init(&M.m, names, alias != NULL ? 2u : 1u,
                       (uint32_t)(uintptr_t)alias ^ (uint32_t)sim_time_us() ^ (uint32_t)getpid());
    if (rc == ML_OK) {
        snprintf(M.dhcp, sizeof M.dhcp, "%s", name);
        M.have = true;
        M.ip = 0;
    }
    sim_unlock();
    return rc;
}

void sim_net_get_names(struct sim_net_names *out)
{
    memset(out, 0, sizeof *out);
    sim_lock();
    snprintf(out->dhcp, sizeof out->dhcp, "%s", M.dhcp);
    if (M.have) {
        for (size_t i = 0; i < 2; i++) {
            snprintf(out->mdns[i], sizeof out->mdns[i], "%s", mdns_label(&M.m, i));
        }
        out->claimed = mdns_is_claimed(&M.m) && M.fd >= 0;
        out->conflicts = M.m.stats.conflicts;
    }
    sim_unlock();
}

/* The address the A record carries: where the device's servers listen. */
static uint32_t announce_addr(void)
{
    char a[64];
    struct in_addr in;
    sim_net_bind_addr_get(a, sizeof a);
    if (inet_pton(AF_INET, a, &in) != 1 || in.s_addr == htonl(INADDR_ANY)) {
        return INADDR_LOOPBACK;
    }
    return ntohl(in.s_addr);
}

static int open_socket(uint32_t ifaddr)
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

static void send_to(const uint8_t *buf, int n, const struct mdns_dest *d)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(d->port)};
    to.sin_addr.s_addr = htonl(d->ip);
    (void)sendto(M.fd, buf, (size_t)n, MSG_NOSIGNAL, (struct sockaddr *)&to, sizeof to);
}

void sim_mdns_service(void)
{
    if (!M.enabled || !M.have || M.failed) {
        return;
    }
    uint32_t ip = sim_net_online() ? announce_addr() : 0u;
    if (M.fd < 0 && ip != 0u) {
        M.fd = open_socket(ip);
        if (M.fd < 0) {
            fprintf(stderr, "sim: mDNS off: UDP 5353 / 224.0.0.251 on %08x: %s\n", (unsigned)ip,
                    strerror(errno));
            M.failed = true;
            return;
        }
        sim_poll_add(M.fd, NULL, NULL); /* a datagram wakes the loop; we read it here */
    }
    if (M.fd < 0) {
        return;
    }
    uint64_t now = sim_time_us() / 1000u;
    static uint8_t in[9000], out[MDNS_PACKET_MAX];
    struct mdns_dest d;
    int n;
    sim_lock();
    mdns_set_ipv4(&M.m, ip, now);
    sim_unlock();
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t k = recvfrom(M.fd, in, sizeof in, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (k < 0) {
            break;
        }
        sim_lock();
        n = mdns_input(&M.m, now, in, (size_t)k, ntohl(from.sin_addr.s_addr), ntohs(from.sin_port),
                       out, sizeof out, &d);
        sim_unlock();
        if (n > 0) {
            send_to(out, n, &d);
        }
    }
    for (;;) {
        sim_lock();
        n = mdns_poll(&M.m, now, out, sizeof out, &d);
        sim_unlock();
        if (n <= 0) {
            break;
        }
        send_to(out, n, &d);
    }
}

uint64_t sim_mdns_next_event_us(void)
{
    if (M.fd < 0) {
        return UINT64_MAX;
    }
    sim_lock();
    uint64_t t = mdns_next_ms(&M.m);
    sim_unlock();
    return t == UINT64_MAX ? t : t * 1000u;
}

void sim_mdns_reset(void)
{
    if (M.fd >= 0) {
        sim_poll_remove(M.fd);
        close(M.fd);
        M.fd = -1;
    }
    M.have = false;
    M.failed = false;
    M.ip = 0;
    M.dhcp[0] = '\0';
}
