/*
 * Sim network: a host-driven model of links, DHCP, AP mode and ping (answers
 * arrive after a delay in device time), and real TCP listeners on the host
 * (loopback by default) for Modbus TCP and HTTP.
 */
#define _GNU_SOURCE
#include "hal_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "sim_priv.h"

#define TCP_MAX       32
#define PING_DELAY_US 20000u

static char bind_addr[64] = "127.0.0.1";

static struct {
    struct sim_net_model model;
    enum hal_net_if active;
    bool up;
    struct hal_net_ipv4 addr;
    bool ap;
    enum hal_net_op dhcp;
    uint64_t dhcp_done_us;
    enum hal_net_op ping;
    uint32_t ping_ip;
    uint64_t ping_done_us;
    int fds[TCP_MAX]; /* handle -> fd, -1 free */
    bool listener[TCP_MAX];
    bool tls_listener[TCP_MAX]; /* hal_tcp_listen_tls(): accepted connections get an SSL */
    SSL *ssl[TCP_MAX];          /* a TLS connection (handshake underneath recv/send) */
    /* poll reported the fd readable (or hung up) since the last EAGAIN: accept/recv
     * only make a system call when there is something to take */
    volatile bool ready[TCP_MAX];
    /* torn down by a link or address loss (sim_net_check): the app's next
     * recv/send reports the connection gone, as the ESP-AT module's CLOSED */
    bool dead[TCP_MAX];
    bool had_ip; /* an address since hal_net_up(): its loss tears TCP down */
    /* Busy-poll read-ahead (real time, firmware thread): the connection the app
     * read from last, and bytes (or the end of stream) taken from it ahead of
     * the app's next hal_tcp_recv() */
    int hot;
    int stage_h; /* handle the staged bytes belong to, -1: none */
    bool stage_eof;
    size_t stage_len;
    size_t stage_off;
    uint8_t stage[2048];
} N = {.hot = -1, .stage_h = -1};

static const struct sim_net_model default_model = {
    .link_up = {true, false},
    .dhcp_answers = true,
    .dhcp_delay_ms = 500,
    .gateway_reachable = true,
    .internet_reachable = true,
};

void sim_net_set_bind_addr(const char *addr)
{
    snprintf(bind_addr, sizeof bind_addr, "%s", addr);
}

void sim_net_bind_addr_get(char *out, size_t cap)
{
    sim_lock();
    snprintf(out, cap, "%s", bind_addr);
    sim_unlock();
}

static int tcp_sndbuf;

void sim_net_set_tcp_sndbuf(int bytes)
{
    tcp_sndbuf = bytes > 0 ? bytes : 0;
}

void sim_net_world_reset(void)
{
    sim_lock();
    N.model = default_model;
    sim_unlock();
}

void sim_net_reset(void)
{
    static bool inited;
    for (int i = 0; i < TCP_MAX; i++) {
        if (inited && N.fds[i] >= 0) {
            sim_poll_remove(N.fds[i]);
            close(N.fds[i]);
        }
        if (inited && N.ssl[i] != NULL) {
            SSL_free(N.ssl[i]);
        }
        N.ssl[i] = NULL;
        N.tls_listener[i] = false;
        N.fds[i] = -1;
        N.listener[i] = false;
        N.dead[i] = false;
    }
    if (!inited) {
        N.model = default_model;
    }
    inited = true;
    N.hot = -1;
    N.stage_h = -1;
    N.stage_eof = false;
    N.stage_len = 0;
    N.stage_off = 0;
    N.active = HAL_NET_ETH;
    N.up = false;
    N.had_ip = false;
    N.ap = false;
    memset(&N.addr, 0, sizeof N.addr);
    N.dhcp = HAL_NET_OP_IDLE;
    N.ping = HAL_NET_OP_IDLE;
    sim_mdns_reset();
}

void sim_net_get(struct sim_net_model *out)
{
    sim_lock();
    *out = N.model;
    sim_unlock();
}

void sim_net_set(const struct sim_net_model *m)
{
    sim_lock();
    N.model = *m;
    if (!N.model.link_up[N.active]) {
        memset(&N.addr, 0, sizeof N.addr); /* losing the link loses the address */
    }
    sim_wake_locked();
    sim_unlock();
}

/* Complete the asynchronous operations whose answer time has come. Lock held. */
static void net_update_locked(void)
{
    uint64_t now = sim_time_us();
    if (N.dhcp == HAL_NET_OP_PENDING && now >= N.dhcp_done_us) {
        bool ok = N.model.dhcp_answers && N.model.link_up[N.active];
        N.dhcp = ok ? HAL_NET_OP_OK : HAL_NET_OP_FAILED;
        if (ok) {
            /* 192.168.1.50/24, gateway .1: a typical home LAN */
            N.addr = (struct hal_net_ipv4){0xC0A80132u, 0xFFFFFF00u, 0xC0A80101u, 0xC0A80101u};
        }
    }
    if (N.ping == HAL_NET_OP_PENDING && now >= N.ping_done_us) {
        bool link = N.model.link_up[N.active] && N.addr.ip != 0;
        bool gw = N.ping_ip == N.addr.gateway;
        bool ok = link && (gw ? N.model.gateway_reachable
                              : (N.model.gateway_reachable && N.model.internet_reachable));
        N.ping = ok ? HAL_NET_OP_OK : HAL_NET_OP_FAILED;
    }
}

/* Reachable over TCP: the app has not brought the network up (a test app
 * that only listens: nothing to model), or the soft-AP is up (its clients),
 * or the active interface has carrier and has not lost its address (before
 * the first lease it counts as reachable, as the ESP-AT emulator's instant
 * lease; an address lost later - the link, a failed renewal - is not). Lock held. */
static bool online_locked(void)
{
    net_update_locked();
    if (N.addr.ip != 0) {
        N.had_ip = true;
    }
    return !N.up || N.ap || (N.model.link_up[N.active] && (N.addr.ip != 0 || !N.had_ip));
}

bool sim_net_online(void)
{
    sim_lock();
    net_update_locked();
    bool on = !N.up || (N.model.link_up[N.active] && N.addr.ip != 0);
    sim_unlock();
    return on;
}

void sim_net_check(void)
{
    sim_mdns_service();
    sim_lock();
    bool on = online_locked();
    sim_unlock();
    if (on) {
        return;
    }
    for (int h = 0; h < TCP_MAX; h++) {
        if (N.fds[h] >= 0 && !N.listener[h] && !N.dead[h]) {
            /* the peer sees the connection end; so does the app's next call */
            shutdown(N.fds[h], SHUT_RDWR);
            N.dead[h] = true;
            if (N.stage_h == h) {
                N.stage_h = -1;
                N.stage_eof = false;
                N.stage_len = 0;
                N.stage_off = 0;
            }
            if (N.hot == h) {
                N.hot = -1;
            }
        }
    }
}

uint64_t sim_net_next_event_us(void)
{
    uint64_t t = UINT64_MAX;
    sim_lock();
    net_update_locked(); /* what is due now is no longer an event to wait for */
    if (N.dhcp == HAL_NET_OP_PENDING && N.dhcp_done_us < t) {
        t = N.dhcp_done_us;
    }
    if (N.ping == HAL_NET_OP_PENDING && N.ping_done_us < t) {
        t = N.ping_done_us;
    }
    sim_unlock();
    uint64_t md = sim_mdns_next_event_us();
    return md < t ? md : t;
}

bool hal_net_link_is_up(enum hal_net_if nif)
{
    if ((int)nif < 0 || nif >= HAL_NET_IF_COUNT) {
        return false;
    }
    sim_lock();
    bool up = N.model.link_up[nif];
    sim_unlock();
    return up;
}

int hal_net_up(enum hal_net_if nif, const char *ssid, const char *psk)
{
    ML_VERIFY((int)nif >= 0 && nif < HAL_NET_IF_COUNT, ML_EINVAL);
    ML_VERIFY(nif == HAL_NET_ETH || (ssid != NULL && ssid[0] != '\0'), ML_EINVAL);
    (void)psk;
    sim_lock();
    N.active = nif;
    N.up = true;
    N.had_ip = false;
    memset(&N.addr, 0, sizeof N.addr);
    sim_unlock();
    return ML_OK;
}

int hal_net_dhcp_start(void)
{
    sim_lock();
    N.dhcp = HAL_NET_OP_PENDING;
    N.dhcp_done_us = sim_time_us() + (uint64_t)N.model.dhcp_delay_ms * 1000u;
    sim_unlock();
    return ML_OK;
}

enum hal_net_op hal_net_dhcp_state(struct hal_net_ipv4 *out)
{
    sim_lock();
    net_update_locked();
    enum hal_net_op st = N.dhcp;
    if (st == HAL_NET_OP_OK && out != NULL) {
        *out = N.addr;
    }
    sim_unlock();
    return st;
}

int hal_net_set_ipv4(const struct hal_net_ipv4 *addr)
{
    ML_VERIFY(addr != NULL, ML_EINVAL);
    sim_lock();
    N.addr = *addr;
    sim_unlock();
    return ML_OK;
}

void hal_net_get_ipv4(struct hal_net_ipv4 *out)
{
    sim_lock();
    *out = N.addr;
    sim_unlock();
}

static char hostname[64];

int hal_net_set_hostname(const char *name)
{
    size_t n = 0;
    ML_VERIFY(name != NULL, ML_EINVAL);
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        ML_VERIFY((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-', ML_EINVAL);
    }
    ML_VERIFY(n >= 1 && n <= 63, ML_EINVAL);
    sim_lock();
    memcpy(hostname, name, n + 1);
    sim_unlock();
    return ML_OK;
}

void sim_net_get_hostname(char *out, size_t cap)
{
    sim_lock();
    snprintf(out, cap, "%s", hostname);
    sim_unlock();
}

int hal_net_ap_start(const char *ssid, const char *psk)
{
    ML_VERIFY(ssid != NULL && psk != NULL, ML_EINVAL);
    N.ap = true;
    return ML_OK;
}

void hal_net_ap_stop(void)
{
    N.ap = false;
}

int hal_net_ping_start(uint32_t ip)
{
    sim_lock();
    N.ping = HAL_NET_OP_PENDING;
    N.ping_ip = ip;
    N.ping_done_us = sim_time_us() + PING_DELAY_US;
    sim_unlock();
    return ML_OK;
}

enum hal_net_op hal_net_ping_state(void)
{
    sim_lock();
    net_update_locked();
    enum hal_net_op st = N.ping;
    sim_unlock();
    return st;
}

/* ------------------------------------------------------------------------- */
/* TCP                                                                       */
/* ------------------------------------------------------------------------- */

static void fd_ready(int fd, short revents, void *ctx)
{
    (void)fd;
    (void)revents;
    *(volatile bool *)ctx = true;
}

static int handle_new(int fd, bool listener)
{
    for (int h = 0; h < TCP_MAX; h++) {
        if (N.fds[h] < 0) {
            N.fds[h] = fd;
            N.listener[h] = listener;
            /* a new connection may already hold data: try the first recv */
            N.ready[h] = !listener;
            sim_poll_add(fd, fd_ready, (void *)&N.ready[h]);
            return h;
        }
    }
    close(fd);
    return ML_ENOMEM;
}

static int handle_fd(int h)
{
    return (h >= 0 && h < TCP_MAX) ? N.fds[h] : -1;
}

int hal_tcp_listen(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return ML_ENOMEM;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        return e == EADDRINUSE ? ML_EBUSY : (e == EACCES ? ML_EACCES : ML_EIO);
    }
    return handle_new(fd, true);
}

int hal_tcp_listen_tls(uint16_t port)
{
    char host[64], ip[64];
    sim_net_get_hostname(host, sizeof host);
    sim_lock();
    snprintf(ip, sizeof ip, "%s", strcmp(bind_addr, "0.0.0.0") == 0 ? "127.0.0.1" : bind_addr);
    sim_unlock();
    if (sim_tls_server_ctx(host, ip) == NULL) {
        return ML_EIO; /* no key or certificate: no HTTPS rather than a weaker one */
    }
    int h = hal_tcp_listen(port);
    if (h >= 0) {
        N.tls_listener[h] = true;
    }
    return h;
}

uint16_t hal_tcp_local_port(int listener)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = handle_fd(listener);
    if (fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        return 0;
    }
    return ntohs(sa.sin_port);
}

int hal_tcp_accept(int listener)
{
    int lfd = handle_fd(listener);
    ML_VERIFY(lfd >= 0 && N.listener[listener], ML_EBADF);
    if (!N.ready[listener]) {
        return ML_EAGAIN;
    }
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        N.ready[listener] = false;
        return ML_EAGAIN;
    }
    sim_lock();
    bool on = online_locked();
    sim_unlock();
    if (!on) {
        close(fd); /* no link or no address: the device is not reachable */
        return ML_EAGAIN;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (tcp_sndbuf > 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &tcp_sndbuf, sizeof tcp_sndbuf);
    }
    SSL *ssl = NULL;
    if (N.tls_listener[listener]) {
        SSL_CTX *ctx = sim_tls_server_ctx("", "");
        ssl = ctx != NULL ? SSL_new(ctx) : NULL;
        if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
            SSL_free(ssl);
            close(fd);
            return ML_EAGAIN;
        }
        SSL_set_accept_state(ssl);
    }
    int h = handle_new(fd, false);
    if (h >= 0) {
        N.ssl[h] = ssl;
    } else {
        SSL_free(ssl);
    }
    return h;
}

bool sim_net_tls_pending(void)
{
    for (int h = 0; h < TCP_MAX; h++) {
        if (N.ssl[h] != NULL && N.fds[h] >= 0 && !N.dead[h] && SSL_pending(N.ssl[h]) > 0) {
            return true;
        }
    }
    return false;
}

/* TLS receive: the handshake, then plaintext; decrypted bytes OpenSSL holds
 * beyond @p cap keep the loop awake (sim_net_has_staged()). */
static int tls_recv(int conn, int fd, uint8_t *buf, size_t cap)
{
    SSL *ssl = N.ssl[conn];
    if (!N.ready[conn] && SSL_pending(ssl) <= 0) {
        return ML_EAGAIN;
    }
    ERR_clear_error();
    int n = SSL_read(ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0) {
        return n;
    }
    int e = SSL_get_error(ssl, n);
    if (e == SSL_ERROR_WANT_READ) {
        N.ready[conn] = false; /* poll says when more ciphertext is there */
        return ML_EAGAIN;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        return ML_EAGAIN; /* the handshake's answer waits for socket space */
    }
    /* closed, a failed handshake (a plain HTTP request, a refused certificate) */
    sim_poll_remove(fd);
    return ML_ECONNREFUSED;
}

int hal_tcp_connect(uint32_t ipv4, uint16_t port)
{
    sim_lock();
    bool on = online_locked();
    sim_unlock();
    if (!on) {
        return ML_ECONNREFUSED; /* no link or no address */
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return ML_ENOMEM;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(ipv4);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 && errno == EINPROGRESS) {
        /* the firmware thread waits for the outcome, bounded (loopback: at once) */
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t el = sizeof err;
        rc = poll(&p, 1, 2000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
                     err == 0
                 ? 0
                 : -1;
    }
    if (rc != 0) {
        close(fd);
        return ML_ECONNREFUSED;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return handle_new(fd, false);
}

uint32_t hal_tcp_peer_ipv4(int conn)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = handle_fd(conn);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &len) != 0 || sa.sin_family != AF_INET) {
        return 0;
    }
    return ntohl(sa.sin_addr.s_addr);
}

static void stage_clear(void)
{
    N.stage_h = -1;
    N.stage_eof = false;
    N.stage_len = 0;
    N.stage_off = 0;
}

bool sim_net_read_ahead(void)
{
    int h = N.hot;
    if (h < 0 || N.stage_h >= 0 || N.fds[h] < 0) {
        return false;
    }
    ssize_t n = recv(N.fds[h], N.stage, sizeof N.stage, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return false;
    }
    N.stage_h = h;
    if (n > 0) {
        N.stage_len = (size_t)n;
        N.stage_off = 0;
        /* a full buffer may have left more in the socket: let recv look again */
        N.ready[h] = (size_t)n == sizeof N.stage;
    } else {
        N.stage_eof = true; /* closed or broken: hal_tcp_recv() reports it */
    }
    return true;
}

bool sim_net_read_ahead_possible(void)
{
    return N.hot >= 0 && N.stage_h < 0;
}

bool sim_net_has_staged(void)
{
    return N.stage_h >= 0 || sim_net_tls_pending();
}

int hal_tcp_recv(int conn, uint8_t *buf, size_t cap)
{
    int fd = handle_fd(conn);
    ML_VERIFY(fd >= 0, ML_EBADF);
    if (N.dead[conn]) {
        sim_poll_remove(fd);
        return ML_ECONNREFUSED;
    }
    if (conn == N.stage_h) {
        if (N.stage_off < N.stage_len) {
            size_t k = N.stage_len - N.stage_off;
            k = k < cap ? k : cap;
            memcpy(buf, &N.stage[N.stage_off], k);
            N.stage_off += k;
            if (N.stage_off == N.stage_len) {
                stage_clear();
            }
            return (int)k;
        }
        stage_clear(); /* the end of stream was read ahead */
        sim_poll_remove(fd);
        return ML_ECONNREFUSED;
    }
    if (N.ssl[conn] != NULL) {
        return tls_recv(conn, fd, buf, cap); /* never read ahead: OpenSSL buffers */
    }
    if (!N.ready[conn]) {
        return ML_EAGAIN;
    }
    ssize_t n = recv(fd, buf, cap, 0);
    if (n > 0) {
        if ((size_t)n < cap) {
            /* drained; poll is level-triggered and reports anything that came since */
            N.ready[conn] = false;
        }
        N.hot = conn;
        return (int)n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        N.ready[conn] = false;
        return ML_EAGAIN;
    }
    /* closed or broken: stop polling it, so the loop does not spin */
    sim_poll_remove(fd);
    return ML_ECONNREFUSED;
}

int hal_tcp_send(int conn, const uint8_t *buf, size_t len)
{
    int fd = handle_fd(conn);
    ML_VERIFY(fd >= 0, ML_EBADF);
    if (N.dead[conn]) {
        return ML_EIO; /* nothing is sent once the link is gone */
    }
    if (N.ssl[conn] != NULL) {
        if (len == 0u) {
            return 0;
        }
        ERR_clear_error();
        int n = SSL_write(N.ssl[conn], buf, len > 16384u ? 16384 : (int)len);
        if (n > 0) {
            return n;
        }
        int e = SSL_get_error(N.ssl[conn], n);
        return (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) ? 0 : ML_EIO;
    }
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : ML_EIO;
    }
    return (int)n;
}

void hal_tcp_close(int handle)
{
    int fd = handle_fd(handle);
    if (fd >= 0) {
        sim_poll_remove(fd);
        if (N.ssl[handle] != NULL) {
            if (SSL_is_init_finished(N.ssl[handle]) && !N.dead[handle]) {
                SSL_shutdown(N.ssl[handle]); /* close_notify, without waiting for the peer's */
            }
            SSL_free(N.ssl[handle]);
            N.ssl[handle] = NULL;
        }
        close(fd);
        N.fds[handle] = -1;
        N.listener[handle] = false;
        N.tls_listener[handle] = false;
        N.ready[handle] = false;
        N.dead[handle] = false;
        if (N.stage_h == handle) {
            stage_clear();
        }
        if (N.hot == handle) {
            N.hot = -1;
        }
    }
}
