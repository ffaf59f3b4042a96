/*
 * Remote serial ports (ml_serial_net.h): raw TCP and RFC 2217 (Telnet
 * COM-PORT-OPTION), as ser2net and labgrid's NetworkSerialPort export them.
 *
 * RFC 2217 data is Telnet: 0xFF bytes are doubled and commands are mixed into
 * the stream, so its socket cannot be handed to callers that read and write an
 * fd. A relay thread per port sits between the TCP socket and one end of a
 * socketpair; the caller gets the other end and uses it like a tty fd (read,
 * write, poll, close). Closing it ends the relay and the TCP connection.
 */
#define _GNU_SOURCE
#include "ml_serial_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* RFC 854 / 855 / 2217 */
enum {
    T_SE = 240,
    T_SB = 250,
    T_WILL = 251,
    T_WONT = 252,
    T_DO = 253,
    T_DONT = 254,
    T_IAC = 255,
    OPT_BINARY = 0,
    OPT_SGA = 3,
    OPT_COMPORT = 44,
    CP_SET_BAUDRATE = 1,
    CP_SET_DATASIZE = 2,
    CP_SET_PARITY = 3,
    CP_SET_STOPSIZE = 4,
    CP_SET_CONTROL = 5,
    CP_SERVER_OFFSET = 100, /* server replies: client command + 100 */
};

#define NET_CONNECT_MS 5000
#define NET_AGREE_MS   3000 /* the server's DO COM-PORT-OPTION */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    if (err == NULL || cap == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

bool ml_serial_is_net(const char *path)
{
    return strncmp(path, "rfc2217://", 10) == 0 || strncmp(path, "tcp://", 6) == 0;
}

int ml_serial_net_parse(const char *url, struct ml_serial_net_addr *out, char *err, size_t cap)
{
    memset(out, 0, sizeof *out);
    const char *rest;
    if (strncmp(url, "rfc2217://", 10) == 0) {
        out->rfc2217 = true;
        rest = url + 10;
    } else if (strncmp(url, "tcp://", 6) == 0) {
        rest = url + 6;
    } else {
        set_err(err, cap, "%s: not a remote port (want rfc2217://HOST:PORT or tcp://HOST:PORT)",
                url);
        return -EINVAL;
    }
    const char *colon;
    const char *host = rest;
    size_t host_len;
    if (*rest == '[') { /* [v6]:port */
        const char *close = strchr(rest, ']');
        if (close == NULL || close[1] != ':') {
            set_err(err, cap, "%s: want [ADDRESS]:PORT", url);
            return -EINVAL;
        }
        host = rest + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (colon == NULL) {
            set_err(err, cap, "%s: no port (want HOST:PORT)", url);
            return -EINVAL;
        }
        host_len = (size_t)(colon - rest);
    }
    if (host_len == 0 || host_len >= sizeof out->host) {
        set_err(err, cap, "%s: no host, or a host name over %zu characters", url,
                sizeof out->host - 1);
        return -EINVAL;
    }
    memcpy(out->host, host, host_len);
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535) {
        set_err(err, cap, "%s: port '%s' is not 1..65535", url, colon + 1);
        return -EINVAL;
    }
    out->port = (uint16_t)port;
    return 0;
}

static int connect_to(const struct ml_serial_net_addr *a, const char *url, char *err, size_t cap)
{
    char port[8];
    snprintf(port, sizeof port, "%u", a->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(a->host, port, &hints, &res);
    if (gai != 0) {
        set_err(err, cap, "%s: cannot resolve %s: %s", url, a->host, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            last = errno;
            close(fd);
            continue;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, NET_CONNECT_MS);
        int so = 0;
        socklen_t sl = sizeof so;
        if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0) {
            freeaddrinfo(res);
            return fd;
        }
        last = r == 0 ? ETIMEDOUT : (so != 0 ? so : errno);
        close(fd);
    }
    freeaddrinfo(res);
    set_err(err, cap, "%s: cannot connect: %s", url, strerror(last));
    return -last;
}

/* ------------------------------------------------------------------------- */
/* RFC 2217 relay                                                            */
/* ------------------------------------------------------------------------- */

struct relay {
    int user;              /* our end of the socketpair (the caller has the other) */
    int net;               /* TCP socket */
    int ufd;               /* the caller's fd (registry key) */
    pthread_mutex_t wlock; /* writes to net */
    /* Telnet receive state */
    int state; /* 0 data, 1 IAC, 2 option verb, 3 SB, 4 SB IAC */
    uint8_t verb;
    uint8_t sb[16];
    size_t sb_len;
    bool agreed; /* server sent DO COM-PORT-OPTION */
    pthread_cond_t cond;
    struct relay *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct relay *g_relays;

static int write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                if (poll(&p, 1, 1000) <= 0) {
                    return -ETIMEDOUT;
                }
                continue;
            }
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int net_send(struct relay *r, const uint8_t *b, size_t n)
{
    pthread_mutex_lock(&r->wlock);
    int rc = write_all(r->net, b, n);
    pthread_mutex_unlock(&r->wlock);
    return rc;
}

static int send_cfg(struct relay *r, const struct ml_serial_cfg *cfg)
{
    uint8_t b[64];
    size_t n = 0;
    uint8_t val[4] = {(uint8_t)(cfg->baud >> 24), (uint8_t)(cfg->baud >> 16),
                      (uint8_t)(cfg->baud >> 8), (uint8_t)cfg->baud};
    /* SET-BAUDRATE: 4 bytes, network order; any 0xFF among them is doubled */
    b[n++] = T_IAC;
    b[n++] = T_SB;
    b[n++] = OPT_COMPORT;
    b[n++] = CP_SET_BAUDRATE;
    for (int i = 0; i < 4; i++) {
        b[n++] = val[i];
        if (val[i] == T_IAC) {
            b[n++] = T_IAC;
        }
    }
    b[n++] = T_IAC;
    b[n++] = T_SE;
    const uint8_t parity = cfg->parity == 'E' ? 3 : cfg->parity == 'O' ? 2 : 1;
    const uint8_t one[][2] = {{CP_SET_DATASIZE, cfg->data_bits},
                              {CP_SET_PARITY, parity},
                              {CP_SET_STOPSIZE, cfg->stop_bits == 2 ? 2 : 1},
                              {CP_SET_CONTROL, 1 /* no flow control */}};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++) {
        uint8_t s[] = {T_IAC, T_SB, OPT_COMPORT, one[i][0], one[i][1], T_IAC, T_SE};
        memcpy(b + n, s, sizeof s);
        n += sizeof s;
    }
    return net_send(r, b, n);
}

/* Answer an option the server offers or asks for: we agree to BINARY and SGA
 * (both ways) and COM-PORT-OPTION (we WILL), and refuse everything else. */
static void negotiate(struct relay *r, uint8_t verb, uint8_t opt)
{
    bool ours = opt == OPT_BINARY || opt == OPT_SGA || opt == OPT_COMPORT;
    if (verb == T_DO && opt == OPT_COMPORT) {
        pthread_mutex_lock(&g_lock);
        r->agreed = true;
        pthread_cond_broadcast(&r->cond);
        pthread_mutex_unlock(&g_lock);
        return; /* our WILL was the request; no reply to the ack */
    }
    uint8_t reply[3] = {T_IAC, 0, opt};
    if (verb == T_DO) {
        if (opt == OPT_BINARY || opt == OPT_SGA) {
            return; /* acks of our WILL */
        }
        reply[1] = T_WONT;
    } else if (verb == T_WILL) {
        if (ours) {
            return; /* acks of our DO */
        }
        reply[1] = T_DONT;
    } else {
        return; /* WONT/DONT need no reply */
    }
    (void)net_send(r, reply, sizeof reply);
}

/* Telnet -> data: returns the data bytes left in place in @p b. */
static size_t from_net(struct relay *r, uint8_t *b, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        switch (r->state) {
        case 0:
            if (c == T_IAC) {
                r->state = 1;
            } else {
                b[out++] = c;
            }
            break;
        case 1:
            if (c == T_IAC) {
                b[out++] = T_IAC;
                r->state = 0;
            } else if (c >= T_WILL) {
                r->verb = c;
                r->state = 2;
            } else if (c == T_SB) {
                r->sb_len = 0;
                r->state = 3;
            } else {
                r->state = 0; /* NOP, GA, ...: ignored */
            }
            break;
        case 2:
            negotiate(r, r->verb, c);
            r->state = 0;
            break;
        case 3: /* sub-negotiation: the server's acks (100 + command); kept, unused */
            if (c == T_IAC) {
                r->state = 4;
            } else if (r->sb_len < sizeof r->sb) {
                r->sb[r->sb_len++] = c;
            }
            break;
        default: /* 4: IAC inside SB */
            if (c == T_SE) {
                r->state = 0;
            } else {
                if (r->sb_len < sizeof r->sb) {
                    r->sb[r->sb_len++] = c; /* IAC IAC: a literal 0xFF */
                }
                r->state = 3;
            }
            break;
        }
    }
    return out;
}

static void relay_free(struct relay *r)
{
    pthread_mutex_lock(&g_lock);
    for (struct relay **pp = &g_relays; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    close(r->user);
    close(r->net);
    pthread_mutex_destroy(&r->wlock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    uint8_t buf[4096];
    uint8_t esc[2 * sizeof buf];
    for (;;) {
        struct pollfd p[2] = {{.fd = r->user, .events = POLLIN}, {.fd = r->net, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(r->user, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                break; /* the caller closed its fd */
            }
            size_t m = 0;
            for (ssize_t i = 0; i < n; i++) {
                esc[m++] = buf[i];
                if (buf[i] == T_IAC) {
                    esc[m++] = T_IAC;
                }
            }
            if (n > 0 && net_send(r, esc, m) < 0) {
                break;
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = recv(r->net, buf, sizeof buf, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                break; /* the server went away: the caller reads EOF */
            }
            size_t d = n > 0 ? from_net(r, buf, (size_t)n) : 0;
            if (d > 0 && write_all(r->user, buf, d) < 0) {
                break;
            }
        }
    }
    relay_free(r);
    return NULL;
}

static int open_rfc2217(int net, const char *url, const struct ml_serial_cfg *cfg, char *err,
                        size_t cap)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int e = errno;
        set_err(err, cap, "%s: socketpair: %s", url, strerror(e));
        close(net);
        return -e;
    }
    struct relay *r = calloc(1, sizeof *r);
    if (r == NULL) {
        close(sv[0]);
        close(sv[1]);
        close(net);
        return -ENOMEM;
    }
    r->user = sv[1];
    r->net = net;
    r->ufd = sv[0];
    pthread_mutex_init(&r->wlock, NULL);
    pthread_cond_init(&r->cond, NULL);
    (void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
    pthread_mutex_lock(&g_lock);
    r->next = g_relays;
    g_relays = r;
    pthread_mutex_unlock(&g_lock);

    static const uint8_t hello[] = {T_IAC,      T_WILL,  OPT_COMPORT, T_IAC,      T_WILL,
                                    OPT_BINARY, T_IAC,   T_DO,        OPT_BINARY, T_IAC,
                                    T_WILL,     OPT_SGA, T_IAC,       T_DO,       OPT_SGA};
    int rc = net_send(r, hello, sizeof hello);
    pthread_t th;
    if (rc == 0 && pthread_create(&th, NULL, relay_main, r) != 0) {
        rc = -EAGAIN;
    }
    if (rc < 0) {
        close(sv[0]);
        relay_free(r);
        set_err(err, cap, "%s: cannot start the RFC 2217 session: %s", url, strerror(-rc));
        return rc;
    }
    pthread_detach(th);
    /* Wait for the server to agree to COM-PORT-OPTION: a plain TCP or telnet
     * port without RFC 2217 would take no line settings. Modem-control acks
     * are never waited for (ser2net does not send them for ptys). */
    pthread_mutex_lock(&g_lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += NET_AGREE_MS / 1000;
    while (!r->agreed) {
        if (pthread_cond_timedwait(&r->cond, &g_lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    bool agreed = r->agreed;
    pthread_mutex_unlock(&g_lock);
    if (!agreed) {
        set_err(err, cap,
                "%s: the server did not agree to RFC 2217 COM-PORT-OPTION within %d s "
                "(a raw TCP port? then use tcp://)",
                url, NET_AGREE_MS / 1000);
        close(sv[0]); /* the relay sees EOF and frees itself */
        return -EPROTO;
    }
    rc = send_cfg(r, cfg);
    if (rc < 0) {
        set_err(err, cap, "%s: cannot send the line settings: %s", url, strerror(-rc));
        close(sv[0]);
        return rc;
    }
    return sv[0];
}

int ml_serial_net_open(const char *url, const struct ml_serial_cfg *cfg, char *err, size_t cap)
{
    struct ml_serial_net_addr a;
    int rc = ml_serial_net_parse(url, &a, err, cap);
    if (rc < 0) {
        return rc;
    }
    int fd = connect_to(&a, url, err, cap);
    if (fd < 0) {
        return fd;
    }
    if (!a.rfc2217) {
        return fd; /* raw TCP: the line settings are the exporter's */
    }
    return open_rfc2217(fd, url, cfg, err, cap);
}

int ml_serial_net_set_cfg(int fd, const struct ml_serial_cfg *cfg)
{
    pthread_mutex_lock(&g_lock);
    struct relay *r = g_relays;
    while (r != NULL && r->ufd != fd) {
        r = r->next;
    }
    pthread_mutex_unlock(&g_lock);
    if (r == NULL) {
        return -ENOENT;
    }
    /* The relay stays alive while the caller holds fd, so r is valid here. */
    return send_cfg(r, cfg);
}

bool ml_serial_net_is_fd(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    return getsockname(fd, (struct sockaddr *)&ss, &sl) == 0;
}

/* ------------------------------------------------------------------------- */
/* A local pty for a remote port (ml_serial_bridge_open)                     */
/* ------------------------------------------------------------------------- */

struct ml_serial_bridge {
    int net, master, slave, quit[2];
    pthread_t th;
};

/* Copy what @p from has into @p to (a pty master or the port's socketpair end; a
 * full pty drops bytes as a UART does); @return false when @p from ended. */
static bool bridge_copy(int from, int to, bool sock)
{
    uint8_t b[1024];
    ssize_t n = read(from, b, sizeof b);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EIO)) {
        return false;
    }
    for (ssize_t off = 0, w; off < n; off += w) {
        w = sock ? send(to, b + off, (size_t)(n - off), MSG_NOSIGNAL)
                 : write(to, b + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR) {
            w = 0;
        } else if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = to, .events = POLLOUT};
            if (poll(&p, 1, 1000) <= 0) {
                break;
            }
            w = 0;
        } else if (w < 0) {
            break;
        }
    }
    return true;
}

static void *bridge_main(void *x)
{
    struct ml_serial_bridge *b = x;
    for (;;) {
        struct pollfd pf[3] = {
            {b->net, POLLIN, 0}, {b->master, POLLIN, 0}, {b->quit[0], POLLIN, 0}};
        if (poll(pf, 3, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pf[2].revents) {
            break;
        }
        if ((pf[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
            !bridge_copy(b->net, b->master, false)) {
            break; /* the remote port went away: the pty goes quiet, the user times out */
        }
        if ((pf[1].revents & POLLIN) && !bridge_copy(b->master, b->net, true)) {
            break;
        }
    }
    return NULL;
}

int ml_serial_bridge_open(struct ml_serial_bridge **out, const char *path,
                          const struct ml_serial_cfg *cfg, char *pty, size_t pcap, char *err,
                          size_t cap)
{
    *out = NULL;
    if (!ml_serial_is_net(path)) {
        snprintf(pty, pcap, "%s", path);
        return 0;
    }
    struct ml_serial_bridge *b = calloc(1, sizeof *b);
    if (b == NULL) {
        set_err(err, cap, "%s: out of memory", path);
        return -ENOMEM;
    }
    b->net = b->master = b->slave = b->quit[0] = b->quit[1] = -1;
    int rc = ml_serial_net_open(path, cfg, err, cap);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->net = rc;
    b->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    const char *name = NULL;
    if (b->master < 0 || grantpt(b->master) != 0 || unlockpt(b->master) != 0 ||
        (name = ptsname(b->master)) == NULL || strlen(name) >= pcap ||
        pipe2(b->quit, O_CLOEXEC) != 0) {
        rc = -errno;
        set_err(err, cap, "%s: cannot make a local pty for it: %s", path, strerror(errno));
        goto fail;
    }
    snprintf(pty, pcap, "%s", name);
    /* raw on both sides; our own slave fd keeps the master from reporting POLLHUP
     * while the user has the pty closed */
    b->slave = open(pty, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    if (b->slave < 0 || tcgetattr(b->slave, &t) != 0) {
        rc = -errno;
        set_err(err, cap, "%s: cannot open the local pty %s: %s", path, pty, strerror(errno));
        goto fail;
    }
    cfmakeraw(&t);
    tcsetattr(b->slave, TCSANOW, &t);
    if (pthread_create(&b->th, NULL, bridge_main, b) != 0) {
        rc = -EAGAIN;
        set_err(err, cap, "%s: cannot start its relay thread", path);
        goto fail;
    }
    *out = b;
    return 0;
fail:
    for (int *fd = &b->net; fd <= &b->quit[1]; fd++) {
        if (*fd >= 0) {
            close(*fd);
        }
    }
    free(b);
    return rc;
}

void ml_serial_bridge_close(struct ml_serial_bridge *b)
{
    if (b == NULL) {
        return;
    }
    (void)write(b->quit[1], "q", 1);
    pthread_join(b->th, NULL);
    for (int *fd = &b->net; fd <= &b->quit[1]; fd++) {
        close(*fd);
    }
    free(b);
}
