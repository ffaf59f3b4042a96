/*
 * ESP-AT co-processor emulator: one thread serves the AT command stream on a
 * file descriptor and carries the commands out with host sockets (TCP
 * servers, links) and libmosquitto (MQTT). Everything the module would do by
 * itself (accepting connections, receiving data, losing the broker) shows as
 * the URCs ESP-AT prints. See ml_at_emu.h and docs/esp-at.md.
 */
#define _GNU_SOURCE
#include "ml_at_emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "host_mdns.h"
#include "host_tls.h"

#define EMU_LINKS       5
#define EMU_HS_MAX_S    10 /* an SSL link whose handshake takes longer is dropped */
#define EMU_SERVERS     (ML_AT_EMU_MAX_PORTS + 4)
#define EMU_LINE_MAX    512
#define EMU_RBUF        2920 /* like the module's TCP window: the peer waits beyond it */
#define EMU_SEND_MAX    8192
#define EMU_ARGS        10
#define EMU_MQTT_WAIT_S 10

/* Emulated addresses (the device's view; the host ports carry the traffic). */
#define EMU_IP_ETH  0xC0A80132u /* 192.168.1.50 */
#define EMU_IP_WIFI 0xC0A80133u /* 192.168.1.51 */
#define EMU_GW      0xC0A80101u
#define EMU_MASK    0xFFFFFF00u

struct emu_server {
    uint16_t dev_port;
    uint16_t host_port;
    int fd;      /* listening socket, -1 none */
    bool mapped; /* from the options: bound for the emulator's whole life */
    bool active; /* AT+CIPSERVER=1 opened it: connections are accepted */
    bool ssl;    /* AT+CIPSERVER=1,<port>,"SSL": TLS terminated here */
};

struct emu_link {
    int fd; /* -1 free */
    uint16_t local_port;
    uint8_t rbuf[EMU_RBUF];
    size_t rlen;
    bool eof; /* peer closed; "CLOSED" once the data is fetched */
    SSL *ssl; /* an SSL server's link: plaintext to the client, TLS to the peer */
    bool hs;  /* TLS handshake running: the client does not know the link yet */
    time_t hs_start;
    char peer_ip[20];
    uint16_t peer_port;
};

struct ml_at_emu {
    int fd;
    int wake[2];
    pthread_t th;
    pthread_mutex_t mu; /* guards: faults, reset_req, stop, status, servers' ports */
    bool stop;
    bool reset_req;
    bool fault[ML_AT_EMU_FAULT_COUNT];
    bool fault_seen[ML_AT_EMU_FAULT_COUNT];
    struct ml_at_emu_status st;

    /* options (copied) */
    char bind_addr[64];
    char broker_host[128];
    uint16_t broker_port;
    char ca_file[256], cert_file[256], key_file[256];
    char tls_dir[256]; /* the module's storage for its SSL server's key and certificate */
    SSL_CTX *ssl_ctx;
    char version[96];
    bool eth_opt;
    bool mdns_opt;
    int mdns_fd; /* AT+MDNS=1 with opts.mdns: the responder's socket, else -1 */
    struct mdns mdns;
    ml_at_emu_log_fn log;
    void *log_ctx;

    /* module state (emulator thread only) */
    char line[EMU_LINE_MAX];
    size_t line_len;
    bool line_over;
    bool echo;
    int sysmsg;
    bool mux;
    int recvmode;
    int maxconn;
    int cwmode;
    bool sntp;
    bool eth_up, eth_ip;
    bool wifi_joined, wifi_ip;
    bool dhcp_sta, dhcp_eth;
    uint32_t sta_ip, eth_ip_addr;
    struct emu_server srv[EMU_SERVERS];
    struct emu_link link[EMU_LINKS];
    int last_link; /* the link id given last (ids are handed out round-robin) */

    /* data mode after '>' */
    enum { DM_NONE, DM_SEND, DM_PUB } dm;
    int dm_link;
    size_t dm_need, dm_have;
    uint8_t *dm_buf;
    char dm_topic[256];

    /* MQTT */
    struct mosquitto *mosq;
    bool mq_connected;
    int mq_connack; /* -1 waiting */
    int mq_scheme;
    char mq_client[257], mq_user[65], mq_pass[65];
    bool mq_cfg;
};

/* ------------------------------------------------------------------------- */
/* Output                                                                    */
/* ------------------------------------------------------------------------- */

static void out_raw(struct ml_at_emu *e, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int waited_ms = 0;
    while (len > 0) {
        ssize_t w = write(e->fd, p, len);
        if (w > 0) {
            p += w;
            len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && waited_ms < 2000) {
            struct pollfd pfd = {.fd = e->fd, .events = POLLOUT};
            (void)poll(&pfd, 1, 10);
            waited_ms += 10;
            continue;
        }
        return; /* the other side is gone or stuck: drop */
    }
}

static void logf_(struct ml_at_emu *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct ml_at_emu *e, const char *fmt, ...)
{
    if (e->log == NULL) {
        return;
    }
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    e->log(e->log_ctx, buf);
}

/* One line with CRLF (logged as "< line"). */
static void emit(struct ml_at_emu *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(struct ml_at_emu *e, const char *fmt, ...)
{
    char buf[700];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n > sizeof buf - 3) {
        n = (int)(sizeof buf - 3);
    }
    const char *shown = buf;
    while (*shown == '\r' || *shown == '\n') {
        shown++;
    }
    logf_(e, "< %s", shown);
    buf[n] = '\r';
    buf[n + 1] = '\n';
    out_raw(e, buf, (size_t)n + 2u);
}

static void ok(struct ml_at_emu *e)
{
    emit(e, "\r\nOK");
}

static void error(struct ml_at_emu *e)
{
    pthread_mutex_lock(&e->mu);
    e->st.errors++;
    pthread_mutex_unlock(&e->mu);
    emit(e, "\r\nERROR");
}

static const char *ip_str(uint32_t ip, char *buf)
{
    sprintf(buf, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255u, (ip >> 8) & 255u, ip & 255u);
    return buf;
}

static bool fault(struct ml_at_emu *e, enum ml_at_emu_fault f)
{
    pthread_mutex_lock(&e->mu);
    bool on = e->fault[f];
    pthread_mutex_unlock(&e->mu);
    return on;
}

/* ------------------------------------------------------------------------- */
/* Sockets                                                                   */
/* ------------------------------------------------------------------------- */

static int listen_on(const char *addr, uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *bound = ntohs(sa.sin_port);
    return fd;
}

static void link_close(struct ml_at_emu *e, int id, bool report)
{
    struct emu_link *l = &e->link[id];
    if (l->fd < 0) {
        return;
    }
    if (l->ssl != NULL) {
        if (!l->hs) {
            SSL_shutdown(l->ssl); /* close_notify, without waiting for the peer's */
        }
        SSL_free(l->ssl);
        l->ssl = NULL;
    }
    bool announced = !l->hs;
    l->hs = false;
    close(l->fd);
    l->fd = -1;
    l->rlen = 0;
    l->eof = false;
    pthread_mutex_lock(&e->mu);
    e->st.links_open--;
    pthread_mutex_unlock(&e->mu);
    if (report && announced) {
        emit(e, "%d,CLOSED", id);
    }
}

static void link_announce(struct ml_at_emu *e, int id)
{
    struct emu_link *l = &e->link[id];
    if (e->sysmsg & 2) {
        emit(e, "+LINK_CONN:0,%d,\"%s\",1,\"%s\",%u,%u", id, l->ssl != NULL ? "SSL" : "TCP",
             l->peer_ip, l->peer_port, l->local_port);
    } else {
        emit(e, "%d,CONNECT", id);
    }
}

/* Go on with an SSL link's handshake; announced to the client once it is done. */
static void link_handshake(struct ml_at_emu *e, int id)
{
    struct emu_link *l = &e->link[id];
    ERR_clear_error();
    int r = SSL_accept(l->ssl);
    if (r == 1) {
        l->hs = false;
        logf_(e, "# link %d: TLS %s %s", id, SSL_get_version(l->ssl), SSL_get_cipher(l->ssl));
        link_announce(e, id);
        return;
    }
    int err = SSL_get_error(l->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        return;
    }
    logf_(e, "# link %d: TLS handshake failed: dropped", id);
    link_close(e, id, false);
}

/* The SSL server's context: the module's key and certificate, made at the first
 * SSL server and kept in opts.tls_dir (docs/esp-at.md). */
static SSL_CTX *ssl_ctx(struct ml_at_emu *e)
{
    if (e->ssl_ctx != NULL) {
        return e->ssl_ctx;
    }
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    const char *host = e->st.hostname[0] != '\0' ? e->st.hostname : "esp-at";
    if (ml_tls_identity(e->tls_dir, host, e->bind_addr, &key, &cert) < 0) {
        logf_(e, "# SSL server: no key and certificate (%s)", e->tls_dir);
        return NULL;
    }
    ml_tls_ignore_sigpipe();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    e->ssl_ctx = ctx;
    return ctx;
}

static void accept_on(struct ml_at_emu *e, struct emu_server *s)
{
    struct sockaddr_in peer;
    socklen_t pl = sizeof peer;
    int fd = accept4(s->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    int id = -1;
    /* the next free id after the last one given: a link id the peer just closed is
     * not handed to a newcomer while the client's AT+CIPCLOSE for it may be in flight
     * (docs/esp-at.md, known race) */
    int lim = e->maxconn < EMU_LINKS ? e->maxconn : EMU_LINKS;
    for (int k = 1; k <= lim && lim > 0; k++) {
        int i = (e->last_link + k) % lim;
        if (e->link[i].fd < 0) {
            id = i;
            break;
        }
    }
    if (id >= 0) {
        e->last_link = id;
    }
    if (id < 0) {
        logf_(e, "# link table full (%d): connection refused", e->maxconn);
        close(fd);
        return;
    }
    struct emu_link *l = &e->link[id];
    SSL *ssl = NULL;
    if (s->ssl) {
        SSL_CTX *ctx = ssl_ctx(e);
        ssl = ctx != NULL ? SSL_new(ctx) : NULL;
        if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
            SSL_free(ssl);
            close(fd);
            return;
        }
        SSL_set_accept_state(ssl);
    }
    l->fd = fd;
    l->local_port = s->dev_port;
    l->rlen = 0;
    l->eof = false;
    l->ssl = ssl;
    l->hs = ssl != NULL;
    l->hs_start = time(NULL);
    inet_ntop(AF_INET, &peer.sin_addr, l->peer_ip, sizeof l->peer_ip);
    l->peer_port = ntohs(peer.sin_port);
    pthread_mutex_lock(&e->mu);
    e->st.accepts++;
    e->st.links_open++;
    pthread_mutex_unlock(&e->mu);
    if (ssl != NULL) {
        link_handshake(e, id); /* announced when it is done */
    } else {
        link_announce(e, id);
    }
}

static void link_readable(struct ml_at_emu *e, int id)
{
    struct emu_link *l = &e->link[id];
    size_t before = l->rlen;
    if (l->ssl != NULL) {
        while (l->rlen < sizeof l->rbuf) {
            ERR_clear_error();
            int n = SSL_read(l->ssl, l->rbuf + l->rlen, (int)(sizeof l->rbuf - l->rlen));
            if (n > 0) {
                l->rlen += (size_t)n;
                continue;
            }
            int err = SSL_get_error(l->ssl, n);
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                l->eof = true; /* close_notify, a reset, a broken record */
            }
            break;
        }
    } else {
        ssize_t n = read(l->fd, l->rbuf + l->rlen, sizeof l->rbuf - l->rlen);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            l->eof = true;
        } else if (n > 0) {
            l->rlen += (size_t)n;
        }
    }
    size_t fresh = l->rlen - before;
    if (e->recvmode == 0 && l->rlen > 0) {
        char hdr[32];
        int h = snprintf(hdr, sizeof hdr, "+IPD,%d,%zu:", id, l->rlen);
        logf_(e, "< +IPD,%d,%zu:<data>", id, l->rlen);
        out_raw(e, hdr, (size_t)h);
        out_raw(e, l->rbuf, l->rlen);
        out_raw(e, "\r\n", 2);
        l->rlen = 0;
    } else if (fresh > 0) {
        emit(e, "+IPD,%d,%zu", id, fresh);
    }
    if (l->eof && l->rlen == 0) {
        link_close(e, id, true);
    }
}

static void servers_close_all(struct ml_at_emu *e)
{
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < EMU_SERVERS; i++) {
        struct emu_server *s = &e->srv[i];
        s->active = false;
        if (!s->mapped && s->fd >= 0) {
            close(s->fd);
            s->fd = -1;
            s->dev_port = 0;
            s->host_port = 0;
        }
    }
    pthread_mutex_unlock(&e->mu);
}

/* ------------------------------------------------------------------------- */
/* MQTT                                                                      */
/* ------------------------------------------------------------------------- */

static void mq_on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    struct ml_at_emu *e = obj;
    e->mq_connack = rc;
}

/* A message on a subscription: +MQTTSUBRECV:0,"<topic>",<len>,<bytes> (ESP-AT's form). */
static void mq_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    struct ml_at_emu *e = obj;
    char head[300];
    int n =
        snprintf(head, sizeof head, "\r\n+MQTTSUBRECV:0,\"%s\",%d,", msg->topic, msg->payloadlen);
    if (n < 0 || (size_t)n >= sizeof head) {
        return;
    }
    logf_(e, "< +MQTTSUBRECV:0,\"%s\",%d,...", msg->topic, msg->payloadlen);
    out_raw(e, head, (size_t)n);
    if (msg->payloadlen > 0) {
        out_raw(e, msg->payload, (size_t)msg->payloadlen);
    }
    out_raw(e, "\r\n", 2);
}

static void mq_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    (void)rc;
    struct ml_at_emu *e = obj;
    if (e->mq_connected) {
        e->mq_connected = false;
        pthread_mutex_lock(&e->mu);
        e->st.mqtt_connected = false;
        pthread_mutex_unlock(&e->mu);
        emit(e, "+MQTTDISCONNECTED:0");
    }
}

static void mq_free(struct ml_at_emu *e, bool report)
{
    if (e->mosq == NULL) {
        return;
    }
    bool was = e->mq_connected;
    e->mq_connected = false; /* our own disconnect: no URC from the callback */
    mosquitto_disconnect(e->mosq);
    mosquitto_destroy(e->mosq);
    e->mosq = NULL;
    pthread_mutex_lock(&e->mu);
    e->st.mqtt_connected = false;
    pthread_mutex_unlock(&e->mu);
    if (was && report) {
        emit(e, "+MQTTDISCONNECTED:0");
    }
}

static bool mq_connect(struct ml_at_emu *e, const char *host, int port)
{
    mq_free(e, false);
    if (fault(e, ML_AT_EMU_BROKER_DOWN) || fault(e, ML_AT_EMU_LINK_DOWN)) {
        logf_(e, "# MQTT connect refused: %s",
              fault(e, ML_AT_EMU_LINK_DOWN) ? "link down" : "broker down (fault)");
        return false;
    }
    const char *h = e->broker_host[0] ? e->broker_host : host;
    int p = e->broker_port ? e->broker_port : port;
    e->mosq = mosquitto_new(e->mq_client[0] ? e->mq_client : NULL, true, e);
    if (e->mosq == NULL) {
        return false;
    }
    mosquitto_connect_callback_set(e->mosq, mq_on_connect);
    mosquitto_disconnect_callback_set(e->mosq, mq_on_disconnect);
    mosquitto_message_callback_set(e->mosq, mq_on_message);
    if (e->mq_user[0]) {
        mosquitto_username_pw_set(e->mosq, e->mq_user, e->mq_pass[0] ? e->mq_pass : NULL);
    }
    if (e->mq_scheme >= 2 && e->mq_scheme <= 5) {
        bool verify = e->mq_scheme == 3 || e->mq_scheme == 5;
        bool client = e->mq_scheme == 4 || e->mq_scheme == 5;
        const char *ca = verify && e->ca_file[0] ? e->ca_file : NULL;
        int rc = mosquitto_tls_set(e->mosq, ca, ca ? NULL : "/etc/ssl/certs",
                                   client && e->cert_file[0] ? e->cert_file : NULL,
                                   client && e->key_file[0] ? e->key_file : NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS && !verify) {
            rc = mosquitto_tls_opts_set(e->mosq, 0, NULL, NULL);
            mosquitto_tls_insecure_set(e->mosq, true);
        }
        if (rc != MOSQ_ERR_SUCCESS) {
            logf_(e, "# MQTT TLS set-up failed: %s", mosquitto_strerror(rc));
            mq_free(e, false);
            return false;
        }
    } else if (e->mq_scheme != 1) {
        logf_(e, "# MQTT scheme %d not emulated", e->mq_scheme);
        mq_free(e, false);
        return false;
    }
    e->mq_connack = -1;
    int rc = mosquitto_connect(e->mosq, h, p, 60);
    if (rc != MOSQ_ERR_SUCCESS) {
        logf_(e, "# MQTT connect to %s:%d failed: %s", h, p, mosquitto_strerror(rc));
        mq_free(e, false);
        return false;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (e->mq_connack < 0) {
        rc = mosquitto_loop(e->mosq, 100, 1);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (rc != MOSQ_ERR_SUCCESS || t.tv_sec - t0.tv_sec > EMU_MQTT_WAIT_S) {
            break;
        }
    }
    if (e->mq_connack != 0) {
        logf_(e, "# MQTT connect to %s:%d: %s", h, p,
              e->mq_connack < 0 ? "no CONNACK (TLS or network)"
                                : mosquitto_connack_string(e->mq_connack));
        mq_free(e, false);
        return false;
    }
    e->mq_connected = true;
    pthread_mutex_lock(&e->mu);
    e->st.mqtt_connected = true;
    pthread_mutex_unlock(&e->mu);
    return true;
}

static bool mq_publish(struct ml_at_emu *e, const char *topic, const void *data, size_t len)
{
    if (!e->mq_connected) {
        return false;
    }
    int rc = mosquitto_publish(e->mosq, NULL, topic, (int)len, data, 0, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        return false;
    }
    pthread_mutex_lock(&e->mu);
    e->st.publishes++;
    pthread_mutex_unlock(&e->mu);
    return true;
}

/* ------------------------------------------------------------------------- */
/* Module state changes                                                      */
/* ------------------------------------------------------------------------- */

/* ------------------------------------------------------------------------- */
/* mDNS (AT+MDNS with opts.mdns): firmware/core/mdns on a host socket        */
/* ------------------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void emu_mdns_stop(struct ml_at_emu *e)
{
    if (e->mdns_fd >= 0) {
        close(e->mdns_fd);
        e->mdns_fd = -1;
    }
    pthread_mutex_lock(&e->mu);
    e->st.mdns_name[0] = '\0';
    pthread_mutex_unlock(&e->mu);
}

static void emu_mdns_start(struct ml_at_emu *e, const char *host)
{
    emu_mdns_stop(e);
    if (!e->mdns_opt) {
        return;
    }
    const char *names[1] = {host};
    if (mdns_init(&e->mdns, names, 1, (uint32_t)mono_ms() ^ (uint32_t)getpid()) != 0) {
        logf_(e, "# mDNS: \"%s\" is not a host name: not announced", host);
        return;
    }
    uint32_t ip = ml_host_mdns_addr(e->bind_addr);
    e->mdns_fd = ml_host_mdns_open(ip);
    if (e->mdns_fd < 0) {
        logf_(e, "# mDNS: UDP 5353 / 224.0.0.251 on %s: %s", e->bind_addr, strerror(errno));
        return;
    }
    logf_(e, "# mDNS: probing %s.local (A %s)", host, e->bind_addr);
}

/* Answer and probe; the module answers only while it has an address. */
static void emu_mdns_pump(struct ml_at_emu *e)
{
    if (e->mdns_fd < 0) {
        return;
    }
    uint64_t now = mono_ms();
    mdns_set_ipv4(&e->mdns, (e->eth_ip || e->wifi_ip) ? ml_host_mdns_addr(e->bind_addr) : 0u, now);
    ml_host_mdns_pump(e->mdns_fd, &e->mdns, now);
    const char *name = mdns_is_claimed(&e->mdns) ? mdns_label(&e->mdns, 0) : "";
    pthread_mutex_lock(&e->mu);
    bool changed = strcmp(e->st.mdns_name, name) != 0;
    snprintf(e->st.mdns_name, sizeof e->st.mdns_name, "%s", name);
    pthread_mutex_unlock(&e->mu);
    if (changed && name[0] != '\0') {
        logf_(e, "# mDNS: %s.local claimed", name);
    }
}

/* The poll timeout (ms) that wakes the thread for the next probe/announcement. */
static int emu_mdns_timeout(const struct ml_at_emu *e, int max)
{
    uint64_t next = e->mdns_fd >= 0 ? mdns_next_ms(&e->mdns) : UINT64_MAX;
    uint64_t now = mono_ms();
    if (next == UINT64_MAX) {
        return max;
    }
    return next <= now ? 0 : (next - now < (uint64_t)max ? (int)(next - now) : max);
}

static void boot(struct ml_at_emu *e)
{
    emu_mdns_stop(e);
    for (int i = 0; i < EMU_LINKS; i++) {
        link_close(e, i, false);
    }
    servers_close_all(e);
    e->last_link = -1; /* the first link after a boot is 0 */
    mq_free(e, false);
    e->mq_cfg = false;
    e->echo = true;
    e->sysmsg = 0;
    e->mux = false;
    e->recvmode = 0;
    e->maxconn = EMU_LINKS;
    e->cwmode = 1;
    e->sntp = false;
    e->wifi_joined = e->wifi_ip = false;
    e->dhcp_sta = e->dhcp_eth = true;
    e->sta_ip = EMU_IP_WIFI;
    e->eth_ip_addr = EMU_IP_ETH;
    e->dm = DM_NONE;
    e->line_len = 0;
    pthread_mutex_lock(&e->mu);
    e->st.wifi_connected = e->st.ap_on = e->st.mdns_on = false;
    e->st.hostname[0] = '\0';
    pthread_mutex_unlock(&e->mu);
    emit(e, "ready");
    e->eth_up = e->eth_opt && !fault(e, ML_AT_EMU_LINK_DOWN);
    e->eth_ip = false;
    if (e->eth_up) {
        char ip[20];
        emit(e, "+ETH_CONNECTED");
        e->eth_ip = true;
        emit(e, "+ETH_GOT_IP:%s", ip_str(e->eth_ip_addr, ip));
    }
}

static void link_down(struct ml_at_emu *e)
{
    for (int i = 0; i < EMU_LINKS; i++) {
        link_close(e, i, true);
    }
    mq_free(e, true);
    if (e->wifi_joined) {
        e->wifi_joined = e->wifi_ip = false;
        pthread_mutex_lock(&e->mu);
        e->st.wifi_connected = false;
        pthread_mutex_unlock(&e->mu);
        emit(e, "WIFI DISCONNECT");
        e->wifi_joined = true; /* remembered: the module rejoins when the AP is back */
        e->wifi_ip = false;
    }
    if (e->eth_up) {
        e->eth_up = e->eth_ip = false;
        emit(e, "+ETH_DISCONNECTED");
    }
}

static void link_back(struct ml_at_emu *e)
{
    char ip[20];
    if (e->eth_opt && !e->eth_up) {
        e->eth_up = true;
        emit(e, "+ETH_CONNECTED");
        if (e->dhcp_eth) {
            e->eth_ip = true;
            emit(e, "+ETH_GOT_IP:%s", ip_str(e->eth_ip_addr, ip));
        }
    }
    if (e->wifi_joined && !e->wifi_ip) {
        pthread_mutex_lock(&e->mu);
        e->st.wifi_connected = true;
        pthread_mutex_unlock(&e->mu);
        emit(e, "WIFI CONNECTED");
        e->wifi_ip = true;
        emit(e, "WIFI GOT IP");
    }
}

/* ------------------------------------------------------------------------- */
/* Commands                                                                  */
/* ------------------------------------------------------------------------- */

struct arg {
    char *s;
    bool quoted;
};

/* Split "a,"b\,c",3" in place; unescapes \" \, \\ in quoted strings. */
static int split_args(char *p, struct arg *a, int max)
{
    int n = 0;
    if (*p == '\0') {
        return 0;
    }
    for (;;) {
        if (n == max) {
            return -1;
        }
        a[n].quoted = false;
        if (*p == '"') {
            char *w = ++p;
            a[n].s = w;
            a[n].quoted = true;
            while (*p != '"') {
                if (*p == '\0') {
                    return -1;
                }
                if (*p == '\\' && p[1] != '\0') {
                    p++;
                }
                *w++ = *p++;
            }
            p++;
            *w = '\0';
            if (*p != ',' && *p != '\0') {
                return -1;
            }
        } else {
            a[n].s = p;
            while (*p != ',' && *p != '\0') {
                p++;
            }
        }
        n++;
        if (*p == '\0') {
            return n;
        }
        *p++ = '\0';
    }
}

static bool num(const struct arg *a, long lo, long hi, long *out)
{
    char *end;
    if (a->quoted || a->s[0] == '\0') {
        return false;
    }
    long v = strtol(a->s, &end, 10);
    if (*end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_ipv4(const struct arg *a, uint32_t *out)
{
    struct in_addr in;
    if (inet_pton(AF_INET, a->s, &in) != 1) {
        return false;
    }
    *out = ntohl(in.s_addr);
    return true;
}

static void addr_reply(struct ml_at_emu *e, const char *name, bool have, uint32_t ip)
{
    char b[20];
    emit(e, "+%s:ip:\"%s\"", name, ip_str(have ? ip : 0, b));
    emit(e, "+%s:gateway:\"%s\"", name, ip_str(have ? EMU_GW : 0, b));
    emit(e, "+%s:netmask:\"%s\"", name, ip_str(have ? EMU_MASK : 0, b));
    ok(e);
}

static void cmd_server(struct ml_at_emu *e, struct arg *a, int n)
{
    long mode, port = 333;
    if (n < 1 || !num(&a[0], 0, 1, &mode) || (n >= 2 && !num(&a[1], 1, 65535, &port))) {
        error(e);
        return;
    }
    /* AT+CIPSERVER=1,<port>[,"TCP"|"SSL"[,<CA enable>]]: no client certificates here */
    bool ssl = false;
    if (mode == 1 && n >= 3) {
        long ca = 0;
        if (!a[2].quoted || (strcmp(a[2].s, "SSL") != 0 && strcmp(a[2].s, "TCP") != 0) ||
            (n >= 4 && (!num(&a[3], 0, 0, &ca))) || n > 4) {
            error(e);
            return;
        }
        ssl = strcmp(a[2].s, "SSL") == 0;
        if (ssl && ssl_ctx(e) == NULL) {
            error(e); /* no server certificate and key in the module */
            return;
        }
    }
    if (mode == 0) {
        servers_close_all(e);
        long all = 0;
        if (n >= 2 && num(&a[1], 0, 1, &all) && all == 1) {
            for (int i = 0; i < EMU_LINKS; i++) {
                link_close(e, i, true);
            }
        }
        ok(e);
        return;
    }
    if (!e->mux) {
        error(e); /* ESP-AT: a server needs AT+CIPMUX=1 */
        return;
    }
    struct emu_server *s = NULL, *spare = NULL;
    for (int i = 0; i < EMU_SERVERS; i++) {
        if (e->srv[i].fd >= 0 && e->srv[i].dev_port == port) {
            s = &e->srv[i];
        } else if (e->srv[i].fd < 0 && spare == NULL) {
            spare = &e->srv[i];
        }
    }
    if (s == NULL) {
        uint16_t hp;
        int fd = spare != NULL ? listen_on(e->bind_addr, 0, &hp) : -1;
        if (fd < 0) {
            logf_(e, "# cannot listen for device port %ld", port);
            error(e);
            return;
        }
        pthread_mutex_lock(&e->mu);
        spare->fd = fd;
        spare->dev_port = (uint16_t)port;
        spare->host_port = hp;
        spare->mapped = false;
        pthread_mutex_unlock(&e->mu);
        s = spare;
    }
    if (s->active) {
        error(e); /* already a server on that port */
        return;
    }
    s->active = true;
    s->ssl = ssl;
    logf_(e, "# device %s port %u served on %s:%u", ssl ? "SSL" : "TCP", s->dev_port, e->bind_addr,
          s->host_port);
    ok(e);
}

static void cmd_send(struct ml_at_emu *e, struct arg *a, int n)
{
    long id, len;
    if (n != 2 || !num(&a[0], 0, EMU_LINKS - 1, &id) || !num(&a[1], 1, EMU_SEND_MAX, &len) ||
        e->link[id].fd < 0 || e->link[id].hs) {
        error(e);
        return;
    }
    e->dm = DM_SEND;
    e->dm_link = (int)id;
    e->dm_need = (size_t)len;
    e->dm_have = 0;
    ok(e);
    out_raw(e, ">", 1);
}

static void cmd_recvdata(struct ml_at_emu *e, struct arg *a, int n)
{
    long id, len;
    if (n != 2 || !num(&a[0], 0, EMU_LINKS - 1, &id) || !num(&a[1], 1, 2147483647, &len) ||
        e->link[id].fd < 0 || e->link[id].rlen == 0 || e->recvmode != 1) {
        error(e);
        return;
    }
    struct emu_link *l = &e->link[id];
    size_t k = (size_t)len < l->rlen ? (size_t)len : l->rlen;
    char hdr[32];
    int h = snprintf(hdr, sizeof hdr, "+CIPRECVDATA:%zu,", k);
    logf_(e, "< +CIPRECVDATA:%zu,<data>", k);
    out_raw(e, hdr, (size_t)h);
    out_raw(e, l->rbuf, k);
    memmove(l->rbuf, l->rbuf + k, l->rlen - k);
    l->rlen -= k;
    ok(e);
    if (l->eof && l->rlen == 0) {
        link_close(e, (int)id, true);
    }
}

/*
 * AT+CIPSTART=<link>,"TCP","<ip>",<port>[,<keep alive>] (multi-connection mode): a
 * client connection on a real host socket. Only loopback addresses (127.0.0.0/8) are
 * reached (tests serve on loopback; nothing leaves the machine); no names (the client
 * resolves nothing), no "SSL"/"UDP". Announced like the module: +LINK_CONN with c/s 0
 * (AT+SYSMSG bit 1) or "<link>,CONNECT", then OK; a refused connect is ERROR.
 */
static void cmd_connect(struct ml_at_emu *e, struct arg *a, int n)
{
    long id, port, keepalive = 0;
    uint32_t ip;
    if (!e->mux || n < 4 || n > 5 || !num(&a[0], 0, EMU_LINKS - 1, &id) || !a[1].quoted ||
        strcmp(a[1].s, "TCP") != 0 || !a[2].quoted || !parse_ipv4(&a[2], &ip) ||
        !num(&a[3], 1, 65535, &port) || (n == 5 && !num(&a[4], 0, 7200, &keepalive))) {
        error(e);
        return;
    }
    if (e->link[id].fd >= 0) {
        emit(e, "ALREADY CONNECTED");
        error(e);
        return;
    }
    char ipb[20];
    ip_str(ip, ipb);
    if ((ip >> 24) != 127u || fault(e, ML_AT_EMU_LINK_DOWN) || !(e->eth_ip || e->wifi_ip)) {
        logf_(e,
              "# link %ld: %s:%ld not reachable (the emulator connects to 127.0.0.0/8 only, "
              "with the link up)",
              id, ipb, port);
        error(e);
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(ip)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        logf_(e, "# link %ld: connect to %s:%ld failed (%s)", id, ipb, port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        error(e);
        return;
    }
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    (void)getsockname(fd, (struct sockaddr *)&me, &ml);
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct emu_link *l = &e->link[id];
    l->fd = fd;
    l->local_port = ntohs(me.sin_port);
    l->rlen = 0;
    l->eof = false;
    l->ssl = NULL;
    l->hs = false;
    snprintf(l->peer_ip, sizeof l->peer_ip, "%s", ipb);
    l->peer_port = (uint16_t)port;
    pthread_mutex_lock(&e->mu);
    e->st.connects++;
    e->st.links_open++;
    pthread_mutex_unlock(&e->mu);
    if (e->sysmsg & 2) {
        emit(e, "+LINK_CONN:0,%ld,\"TCP\",0,\"%s\",%ld,%u", id, ipb, port, l->local_port);
    } else {
        emit(e, "%ld,CONNECT", id);
    }
    ok(e);
}

static void cmd_mqtt(struct ml_at_emu *e, const char *name, struct arg *a, int n)
{
    long lid, v;
    if (n < 1 || !num(&a[0], 0, 0, &lid)) {
        error(e);
        return;
    }
    if (strcmp(name, "MQTTUSERCFG") == 0) {
        if (n != 8 || !num(&a[1], 1, 10, &v) || strlen(a[2].s) > 256 || strlen(a[3].s) > 64 ||
            strlen(a[4].s) > 64) {
            error(e);
            return;
        }
        e->mq_scheme = (int)v;
        snprintf(e->mq_client, sizeof e->mq_client, "%s", a[2].s);
        snprintf(e->mq_user, sizeof e->mq_user, "%s", a[3].s);
        snprintf(e->mq_pass, sizeof e->mq_pass, "%s", a[4].s);
        e->mq_cfg = true;
        ok(e);
    } else if (strcmp(name, "MQTTCONN") == 0) {
        long port, reconnect;
        if (n != 4 || !e->mq_cfg || !a[1].quoted || !num(&a[2], 1, 65535, &port) ||
            !num(&a[3], 0, 1, &reconnect) || e->mq_connected) {
            error(e);
            return;
        }
        if (!mq_connect(e, a[1].s, (int)port)) {
            error(e);
            return;
        }
        emit(e, "+MQTTCONNECTED:0,%d,\"%s\",\"%ld\",\"\",%ld", e->mq_scheme, a[1].s, port,
             reconnect);
        ok(e);
    } else if (strcmp(name, "MQTTPUB") == 0) {
        long qos, retain;
        if (n != 5 || !num(&a[3], 0, 2, &qos) || !num(&a[4], 0, 1, &retain) ||
            !mq_publish(e, a[1].s, a[2].s, strlen(a[2].s))) {
            error(e);
            return;
        }
        ok(e);
    } else if (strcmp(name, "MQTTPUBRAW") == 0) {
        long len, qos, retain;
        if (n != 5 || !a[1].quoted || !num(&a[2], 0, 65535, &len) || !num(&a[3], 0, 2, &qos) ||
            !num(&a[4], 0, 1, &retain) || !e->mq_connected) {
            error(e);
            return;
        }
        snprintf(e->dm_topic, sizeof e->dm_topic, "%s", a[1].s);
        e->dm = DM_PUB;
        e->dm_need = (size_t)len;
        e->dm_have = 0;
        ok(e);
        out_raw(e, ">", 1);
        if (len == 0) {
            e->dm = DM_NONE;
            emit(e, mq_publish(e, e->dm_topic, "", 0) ? "+MQTTPUB:OK" : "+MQTTPUB:FAIL");
        }
    } else if (strcmp(name, "MQTTSUB") == 0) {
        long qos;
        if (n != 3 || !a[1].quoted || !num(&a[2], 0, 2, &qos) || !e->mq_connected ||
            mosquitto_subscribe(e->mosq, NULL, a[1].s, (int)qos) != MOSQ_ERR_SUCCESS) {
            error(e);
            return;
        }
        ok(e);
    } else if (strcmp(name, "MQTTCLEAN") == 0) {
        if (e->mosq == NULL) {
            error(e);
            return;
        }
        mq_free(e, false);
        ok(e);
    } else {
        error(e);
    }
}

static void handle_cmd(struct ml_at_emu *e, char *l)
{
    pthread_mutex_lock(&e->mu);
    e->st.commands++;
    pthread_mutex_unlock(&e->mu);
    if (strcmp(l, "AT") == 0) {
        ok(e);
        return;
    }
    if (strcmp(l, "ATE0") == 0 || strcmp(l, "ATE1") == 0) {
        e->echo = l[3] == '1';
        ok(e);
        return;
    }
    if (strncmp(l, "AT+", 3) != 0) {
        error(e);
        return;
    }
    char *name = l + 3;
    char *p = name;
    while (*p >= 'A' && *p <= 'Z') {
        p++;
    }
    char op = *p; /* '=', '?' or '\0' */
    *p = '\0';
    struct arg a[EMU_ARGS];
    int n = 0;
    if (op == '=') {
        n = split_args(p + 1, a, EMU_ARGS);
        if (n <= 0) {
            error(e);
            return;
        }
    } else if (op == '?' && p[1] != '\0') {
        error(e);
        return;
    } else if (op != '?' && op != '\0') {
        error(e);
        return;
    }
    long v;
    char ipb[20];
    bool query = op == '?';
    bool set = op == '=';
    bool exec = op == '\0';
    bool link_ok = !fault(e, ML_AT_EMU_LINK_DOWN);

    if (strcmp(name, "RST") == 0 && exec) {
        ok(e);
        pthread_mutex_lock(&e->mu);
        e->st.resets++;
        pthread_mutex_unlock(&e->mu);
        usleep(20000);
        boot(e);
    } else if (strcmp(name, "GMR") == 0 && exec) {
        emit(e, "AT version:%s", e->version);
        emit(e, "SDK version:meterlab ml_at_emu");
        emit(e, "Bin version:emulated(ESP32)");
        ok(e);
    } else if (strcmp(name, "SYSMSG") == 0 && set && n == 1 && num(&a[0], 0, 7, &v)) {
        e->sysmsg = (int)v;
        ok(e);
    } else if (strcmp(name, "CIPMUX") == 0 && set && n == 1 && num(&a[0], 0, 1, &v)) {
        e->mux = v == 1;
        ok(e);
    } else if (strcmp(name, "CIPRECVMODE") == 0 && set && n == 1 && num(&a[0], 0, 1, &v)) {
        e->recvmode = (int)v;
        ok(e);
    } else if (strcmp(name, "CIPSERVERMAXCONN") == 0 && set && n == 1 &&
               num(&a[0], 1, EMU_LINKS, &v)) {
        e->maxconn = (int)v;
        ok(e);
    } else if (strcmp(name, "CWMODE") == 0 && set && n >= 1 && num(&a[0], 0, 3, &v)) {
        e->cwmode = (int)v;
        if (v < 2) {
            pthread_mutex_lock(&e->mu);
            e->st.ap_on = false;
            pthread_mutex_unlock(&e->mu);
        }
        ok(e);
    } else if (strcmp(name, "CIPSNTPCFG") == 0 && set && n >= 1 && num(&a[0], 0, 1, &v)) {
        e->sntp = v == 1;
        ok(e);
    } else if (strcmp(name, "CIPSNTPTIME") == 0 && query) {
        time_t t = (e->sntp && link_ok && (e->eth_ip || e->wifi_ip)) ? time(NULL) : 0;
        struct tm tm;
        gmtime_r(&t, &tm);
        char buf[64];
        strftime(buf, sizeof buf, "%a %b %d %H:%M:%S %Y", &tm);
        emit(e, "+CIPSNTPTIME:%s", buf);
        ok(e);
    } else if (strcmp(name, "CWHOSTNAME") == 0 && set && n == 1 && a[0].quoted &&
               strlen(a[0].s) >= 1 && strlen(a[0].s) <= 32 && (e->cwmode & 1)) {
        pthread_mutex_lock(&e->mu);
        snprintf(e->st.hostname, sizeof e->st.hostname, "%s", a[0].s);
        pthread_mutex_unlock(&e->mu);
        ok(e);
    } else if (strcmp(name, "CWJAP") == 0 && set && n >= 2 && a[0].quoted && (e->cwmode & 1)) {
        if (strlen(a[0].s) == 0 || strlen(a[0].s) > 32 || strlen(a[1].s) > 64) {
            error(e);
        } else if (!link_ok) {
            emit(e, "+CWJAP:3"); /* cannot find the target AP */
            emit(e, "\r\nFAIL");
            pthread_mutex_lock(&e->mu);
            e->st.errors++;
            pthread_mutex_unlock(&e->mu);
        } else {
            e->wifi_joined = true;
            pthread_mutex_lock(&e->mu);
            e->st.wifi_connected = true;
            pthread_mutex_unlock(&e->mu);
            emit(e, "WIFI CONNECTED");
            if (e->dhcp_sta) {
                e->wifi_ip = true;
                emit(e, "WIFI GOT IP");
            }
            ok(e);
        }
    } else if (strcmp(name, "CWQAP") == 0 && exec) {
        if (e->wifi_joined) {
            e->wifi_joined = e->wifi_ip = false;
            pthread_mutex_lock(&e->mu);
            e->st.wifi_connected = false;
            pthread_mutex_unlock(&e->mu);
            emit(e, "WIFI DISCONNECT");
        }
        ok(e);
    } else if (strcmp(name, "CWDHCP") == 0 && set && n == 2 && num(&a[0], 0, 1, &v)) {
        long mode;
        if (!num(&a[1], 1, 7, &mode)) {
            error(e);
            return;
        }
        ok(e);
        if (mode & 1) {
            e->dhcp_sta = v == 1;
            if (v == 1) {
                e->sta_ip = EMU_IP_WIFI;
                if (e->wifi_joined && link_ok && !e->wifi_ip) {
                    e->wifi_ip = true;
                    emit(e, "WIFI GOT IP");
                }
            }
        }
        if (mode & 4) {
            e->dhcp_eth = v == 1;
            if (v == 1) {
                e->eth_ip_addr = EMU_IP_ETH;
                if (e->eth_up && !e->eth_ip) {
                    e->eth_ip = true;
                    emit(e, "+ETH_GOT_IP:%s", ip_str(e->eth_ip_addr, ipb));
                }
            }
        }
    } else if ((strcmp(name, "CIPSTA") == 0 || strcmp(name, "CIPETH") == 0) && query) {
        bool sta = name[3] == 'S';
        addr_reply(e, name, sta ? e->wifi_joined && e->wifi_ip && link_ok : e->eth_ip && link_ok,
                   sta ? e->sta_ip : e->eth_ip_addr);
    } else if ((strcmp(name, "CIPSTA") == 0 || strcmp(name, "CIPETH") == 0) && set && n >= 1) {
        uint32_t ip;
        if (!a[0].quoted || !parse_ipv4(&a[0], &ip)) {
            error(e);
            return;
        }
        if (name[3] == 'S') {
            e->sta_ip = ip;
            e->dhcp_sta = false;
            e->wifi_ip = e->wifi_joined;
        } else {
            e->eth_ip_addr = ip;
            e->dhcp_eth = false;
            e->eth_ip = e->eth_up;
        }
        ok(e);
    } else if (strcmp(name, "CWSAP") == 0 && set && n >= 4) {
        long ch, ecn;
        if (!(e->cwmode & 2) || !num(&a[2], 1, 13, &ch) || !num(&a[3], 0, 4, &ecn) ||
            strlen(a[0].s) == 0 || strlen(a[0].s) > 32 ||
            (ecn != 0 && (strlen(a[1].s) < 8 || strlen(a[1].s) > 64))) {
            error(e);
            return;
        }
        pthread_mutex_lock(&e->mu);
        e->st.ap_on = true;
        pthread_mutex_unlock(&e->mu);
        logf_(e, "# soft-AP \"%s\" (channel %ld, ecn %ld): modelled, no radio", a[0].s, ch, ecn);
        ok(e);
    } else if (strcmp(name, "CIPAP") == 0 && set && n >= 1) {
        uint32_t ip;
        if (!parse_ipv4(&a[0], &ip) || !(e->cwmode & 2)) {
            error(e);
            return;
        }
        ok(e);
    } else if (strcmp(name, "MDNS") == 0 && set && n >= 1 && num(&a[0], 0, 1, &v)) {
        if (v == 1 && n < 4) {
            error(e);
            return;
        }
        pthread_mutex_lock(&e->mu);
        e->st.mdns_on = v == 1;
        pthread_mutex_unlock(&e->mu);
        if (v == 1) {
            emu_mdns_start(e, a[1].s);
        } else {
            emu_mdns_stop(e);
        }
        ok(e);
    } else if (strcmp(name, "PING") == 0 && set && n == 1) {
        uint32_t ip;
        if (!parse_ipv4(&a[0], &ip)) {
            error(e); /* names are not resolved by the emulator */
            return;
        }
        if (!link_ok || !(e->eth_ip || e->wifi_ip)) {
            emit(e, "+PING:TIMEOUT");
            error(e);
            return;
        }
        emit(e, "+PING:1");
        ok(e);
    } else if (strcmp(name, "CIPSERVER") == 0 && set) {
        cmd_server(e, a, n);
    } else if (strcmp(name, "CIPSEND") == 0 && set) {
        cmd_send(e, a, n);
    } else if (strcmp(name, "CIPRECVDATA") == 0 && set) {
        cmd_recvdata(e, a, n);
    } else if (strcmp(name, "CIPSTART") == 0 && set) {
        cmd_connect(e, a, n);
    } else if (strcmp(name, "CIPRECVLEN") == 0 && query) {
        emit(e, "+CIPRECVLEN:%zd,%zd,%zd,%zd,%zd",
             e->link[0].fd >= 0 ? (ssize_t)e->link[0].rlen : -1,
             e->link[1].fd >= 0 ? (ssize_t)e->link[1].rlen : -1,
             e->link[2].fd >= 0 ? (ssize_t)e->link[2].rlen : -1,
             e->link[3].fd >= 0 ? (ssize_t)e->link[3].rlen : -1,
             e->link[4].fd >= 0 ? (ssize_t)e->link[4].rlen : -1);
        ok(e);
    } else if (strcmp(name, "CIPCLOSE") == 0 && set && n == 1 && num(&a[0], 0, 5, &v)) {
        if (v == 5) {
            for (int i = 0; i < EMU_LINKS; i++) {
                link_close(e, i, true);
            }
        } else if (e->link[v].fd < 0) {
            error(e);
            return;
        } else {
            link_close(e, (int)v, true);
        }
        ok(e);
    } else if (strncmp(name, "MQTT", 4) == 0 && set) {
        cmd_mqtt(e, name, a, n);
    } else {
        error(e);
    }
}

static void data_byte(struct ml_at_emu *e, uint8_t c)
{
    e->dm_buf[e->dm_have++] = c;
    if (e->dm_have < e->dm_need) {
        return;
    }
    if (e->dm == DM_SEND) {
        struct emu_link *l = &e->link[e->dm_link];
        bool good = l->fd >= 0;
        size_t off = 0;
        while (good && l->ssl != NULL && off < e->dm_need) {
            ERR_clear_error();
            int w = SSL_write(l->ssl, e->dm_buf + off, (int)(e->dm_need - off));
            if (w > 0) {
                off += (size_t)w;
                continue;
            }
            int err = SSL_get_error(l->ssl, w);
            struct pollfd pfd = {.fd = l->fd,
                                 .events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            good = (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) &&
                   poll(&pfd, 1, 2000) > 0;
        }
        while (good && l->ssl == NULL && off < e->dm_need) {
            ssize_t w = send(l->fd, e->dm_buf + off, e->dm_need - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                struct pollfd pfd = {.fd = l->fd, .events = POLLOUT};
                good = poll(&pfd, 1, 2000) > 0;
            } else {
                good = false;
            }
        }
        logf_(e, "# link %d: %zu bytes sent", e->dm_link, e->dm_need);
        emit(e, "\r\nRecv %zu bytes", e->dm_need);
        emit(e, good ? "\r\nSEND OK" : "\r\nSEND FAIL");
    } else {
        bool good = mq_publish(e, e->dm_topic, e->dm_buf, e->dm_need);
        emit(e, good ? "+MQTTPUB:OK" : "+MQTTPUB:FAIL");
    }
    e->dm = DM_NONE;
}

static void input(struct ml_at_emu *e, const uint8_t *buf, size_t n)
{
    if (fault(e, ML_AT_EMU_MUTE)) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t c = buf[i];
        if (e->dm != DM_NONE) {
            data_byte(e, c);
            continue;
        }
        if (c == '\n') {
            size_t len = e->line_len;
            if (len > 0 && e->line[len - 1] == '\r') {
                len--;
            }
            e->line[len] = '\0';
            e->line_len = 0;
            if (e->line_over) {
                e->line_over = false;
                logf_(e, "> (line too long)");
                error(e);
                continue;
            }
            if (len == 0) {
                continue;
            }
            if (e->echo) {
                out_raw(e, e->line, len);
                out_raw(e, "\r\n", 2);
            }
            /* passwords stay out of the log */
            logf_(e, "> %s",
                  strncmp(e->line, "AT+MQTTUSERCFG", 14) == 0 ? "AT+MQTTUSERCFG=..." : e->line);
            handle_cmd(e, e->line);
            continue;
        }
        if (e->line_len + 1 >= sizeof e->line) {
            e->line_over = true;
            continue;
        }
        e->line[e->line_len++] = (char)c;
    }
}

/* ------------------------------------------------------------------------- */
/* Thread                                                                    */
/* ------------------------------------------------------------------------- */

static void *emu_thread(void *arg)
{
    struct ml_at_emu *e = arg;
    boot(e);
    for (;;) {
        pthread_mutex_lock(&e->mu);
        bool stop = e->stop;
        bool reset = e->reset_req;
        e->reset_req = false;
        bool lf = e->fault[ML_AT_EMU_LINK_DOWN], lf_seen = e->fault_seen[ML_AT_EMU_LINK_DOWN];
        bool bf = e->fault[ML_AT_EMU_BROKER_DOWN];
        e->fault_seen[ML_AT_EMU_LINK_DOWN] = lf;
        pthread_mutex_unlock(&e->mu);
        if (stop) {
            break;
        }
        if (reset) {
            logf_(e, "# module reset (power cycle)");
            boot(e);
        }
        if (lf && !lf_seen) {
            logf_(e, "# fault: link down");
            link_down(e);
        } else if (!lf && lf_seen) {
            logf_(e, "# fault cleared: link up");
            link_back(e);
        }
        if (bf && e->mosq != NULL) {
            logf_(e, "# fault: broker unreachable");
            mq_free(e, true);
        }

        for (int i = 0; i < EMU_LINKS; i++) {
            struct emu_link *l = &e->link[i];
            if (l->fd >= 0 && l->hs && time(NULL) - l->hs_start > EMU_HS_MAX_S) {
                logf_(e, "# link %d: TLS handshake not done in %d s: dropped", i, EMU_HS_MAX_S);
                link_close(e, i, false);
            } else if (l->fd >= 0 && l->ssl != NULL && !l->hs && !l->eof &&
                       l->rlen < sizeof l->rbuf && SSL_pending(l->ssl) > 0) {
                link_readable(e, i); /* decrypted bytes poll() cannot see */
            }
        }
        struct pollfd pf[2 + EMU_SERVERS + EMU_LINKS + 2];
        int kind[2 + EMU_SERVERS + EMU_LINKS + 2], idx[2 + EMU_SERVERS + EMU_LINKS + 2];
        int np = 0;
        pf[np] = (struct pollfd){.fd = e->fd, .events = POLLIN};
        kind[np++] = 0;
        pf[np] = (struct pollfd){.fd = e->wake[0], .events = POLLIN};
        kind[np++] = 1;
        for (int i = 0; i < EMU_SERVERS; i++) {
            if (e->srv[i].fd >= 0 && e->srv[i].active) {
                pf[np] = (struct pollfd){.fd = e->srv[i].fd, .events = POLLIN};
                kind[np] = 2;
                idx[np++] = i;
            }
        }
        for (int i = 0; i < EMU_LINKS; i++) {
            struct emu_link *l = &e->link[i];
            if (l->fd >= 0 && !l->eof && l->rlen < sizeof l->rbuf) {
                pf[np] = (struct pollfd){.fd = l->fd, .events = POLLIN};
                kind[np] = 3;
                idx[np++] = i;
            }
        }
        if (e->mosq != NULL && mosquitto_socket(e->mosq) >= 0) {
            short ev = POLLIN;
            if (mosquitto_want_write(e->mosq)) {
                ev |= POLLOUT;
            }
            pf[np] = (struct pollfd){.fd = mosquitto_socket(e->mosq), .events = ev};
            kind[np++] = 4;
        }
        if (e->mdns_fd >= 0) {
            pf[np] = (struct pollfd){.fd = e->mdns_fd, .events = POLLIN};
            kind[np++] = 5; /* read in emu_mdns_pump() below */
        }
        int r = poll(pf, (nfds_t)np, emu_mdns_timeout(e, 100));
        if (r < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < np && r > 0; i++) {
            if (pf[i].revents == 0) {
                continue;
            }
            switch (kind[i]) {
            case 0: {
                uint8_t buf[512];
                ssize_t n = read(e->fd, buf, sizeof buf);
                if (n > 0) {
                    input(e, buf, (size_t)n);
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                    usleep(20000); /* pty without a reader yet (QEMU not started) */
                }
                break;
            }
            case 1: {
                char junk[16];
                (void)!read(e->wake[0], junk, sizeof junk);
                break;
            }
            case 2:
                accept_on(e, &e->srv[idx[i]]);
                break;
            case 3:
                if (e->link[idx[i]].fd >= 0 && e->link[idx[i]].hs) {
                    link_handshake(e, idx[i]);
                } else if (e->link[idx[i]].fd >= 0) {
                    link_readable(e, idx[i]);
                }
                break;
            case 4:
                if (pf[i].revents & (POLLIN | POLLERR | POLLHUP)) {
                    mosquitto_loop_read(e->mosq, 1);
                }
                if (e->mosq != NULL && (pf[i].revents & POLLOUT)) {
                    mosquitto_loop_write(e->mosq, 1);
                }
                break;
            default:
                break;
            }
        }
        if (e->mosq != NULL) {
            mosquitto_loop_misc(e->mosq);
            if (mosquitto_socket(e->mosq) < 0 && e->mq_connected) {
                mq_on_disconnect(e->mosq, e, 0);
            }
        }
        emu_mdns_pump(e);
    }
    for (int i = 0; i < EMU_LINKS; i++) {
        link_close(e, i, false);
    }
    mq_free(e, false);
    emu_mdns_stop(e);
    return NULL;
}

/* ------------------------------------------------------------------------- */
/* API                                                                       */
/* ------------------------------------------------------------------------- */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
    mosquitto_lib_init();
}

static void wake(struct ml_at_emu *e)
{
    (void)!write(e->wake[1], "w", 1);
}

int ml_at_emu_start(struct ml_at_emu **out, int fd, const struct ml_at_emu_opts *o)
{
    static const struct ml_at_emu_opts defaults = {0};
    if (o == NULL) {
        o = &defaults;
    }
    *out = NULL;
    if (fd < 0 || o->n_ports > ML_AT_EMU_MAX_PORTS) {
        fprintf(stderr, "ml_at_emu: bad fd or too many ports\n");
        return -1;
    }
    pthread_once(&lib_once, lib_init);
    struct ml_at_emu *e = calloc(1, sizeof *e);
    if (e == NULL || (e->dm_buf = malloc(EMU_SEND_MAX + 1)) == NULL) {
        free(e);
        return -1;
    }
    e->fd = fd;
    snprintf(e->bind_addr, sizeof e->bind_addr, "%s", o->bind_addr ? o->bind_addr : "127.0.0.1");
    snprintf(e->broker_host, sizeof e->broker_host, "%s", o->broker_host ? o->broker_host : "");
    e->broker_port = o->broker_port;
    snprintf(e->ca_file, sizeof e->ca_file, "%s", o->ca_file ? o->ca_file : "");
    snprintf(e->cert_file, sizeof e->cert_file, "%s", o->cert_file ? o->cert_file : "");
    snprintf(e->key_file, sizeof e->key_file, "%s", o->key_file ? o->key_file : "");
    snprintf(e->tls_dir, sizeof e->tls_dir, "%s", o->tls_dir ? o->tls_dir : "");
    snprintf(e->version, sizeof e->version, "%s",
             o->version ? o->version : "3.4.0.0-emu(meterlab ml_at_emu)");
    e->eth_opt = o->eth_link;
    e->mdns_opt = o->mdns;
    e->mdns_fd = -1;
    e->log = o->log;
    e->log_ctx = o->log_ctx;
    pthread_mutex_init(&e->mu, NULL);
    for (int i = 0; i < EMU_SERVERS; i++) {
        e->srv[i].fd = -1;
    }
    for (int i = 0; i < EMU_LINKS; i++) {
        e->link[i].fd = -1;
    }
    for (size_t i = 0; i < o->n_ports; i++) {
        struct emu_server *s = &e->srv[i];
        s->fd = listen_on(e->bind_addr, o->ports[i].host_port, &s->host_port);
        if (s->fd < 0) {
            fprintf(stderr, "ml_at_emu: cannot listen on %s:%u for device port %u: %s\n",
                    e->bind_addr, o->ports[i].host_port, o->ports[i].device_port, strerror(errno));
            goto fail;
        }
        s->dev_port = o->ports[i].device_port;
        s->mapped = true;
    }
    if (isatty(fd)) {
        struct termios t;
        if (tcgetattr(fd, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(fd, TCSANOW, &t);
        }
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    if (pipe2(e->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        goto fail;
    }
    if (pthread_create(&e->th, NULL, emu_thread, e) != 0) {
        close(e->wake[0]);
        close(e->wake[1]);
        goto fail;
    }
    *out = e;
    return 0;
fail:
    for (int i = 0; i < EMU_SERVERS; i++) {
        if (e->srv[i].fd >= 0) {
            close(e->srv[i].fd);
        }
    }
    free(e->dm_buf);
    free(e);
    return -1;
}

void ml_at_emu_stop(struct ml_at_emu *e)
{
    if (e == NULL) {
        return;
    }
    pthread_mutex_lock(&e->mu);
    e->stop = true;
    pthread_mutex_unlock(&e->mu);
    wake(e);
    pthread_join(e->th, NULL);
    for (int i = 0; i < EMU_SERVERS; i++) {
        if (e->srv[i].fd >= 0) {
            close(e->srv[i].fd);
        }
    }
    close(e->wake[0]);
    close(e->wake[1]);
    pthread_mutex_destroy(&e->mu);
    SSL_CTX_free(e->ssl_ctx);
    free(e->dm_buf);
    free(e);
}

uint16_t ml_at_emu_host_port(struct ml_at_emu *e, uint16_t device_port)
{
    uint16_t hp = 0;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < EMU_SERVERS; i++) {
        if (e->srv[i].fd >= 0 && e->srv[i].dev_port == device_port) {
            hp = e->srv[i].host_port;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return hp;
}

void ml_at_emu_set_fault(struct ml_at_emu *e, enum ml_at_emu_fault f, bool on)
{
    if ((unsigned)f >= ML_AT_EMU_FAULT_COUNT) {
        return;
    }
    pthread_mutex_lock(&e->mu);
    e->fault[f] = on;
    pthread_mutex_unlock(&e->mu);
    wake(e);
}

void ml_at_emu_reset(struct ml_at_emu *e)
{
    pthread_mutex_lock(&e->mu);
    e->reset_req = true;
    e->st.resets++;
    pthread_mutex_unlock(&e->mu);
    wake(e);
}

void ml_at_emu_get_status(struct ml_at_emu *e, struct ml_at_emu_status *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->st;
    pthread_mutex_unlock(&e->mu);
}
