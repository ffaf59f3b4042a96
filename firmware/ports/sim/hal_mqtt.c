/*
 * Sim MQTT: the HAL MQTT client on libmosquitto, driven by the sim port's own
 * poll loop (no libmosquitto thread), so it works in virtual time.
 *
 * - The mosquitto socket and a real-time timerfd sit in a private epoll set,
 *   whose fd is registered with sim_poll_add(): the loop's poll() only asks for
 *   POLLIN, and an epoll fd turns "socket writable" (EPOLLOUT while
 *   mosquitto_want_write()) into "epoll fd readable". The callback then runs
 *   mosquitto_loop_read / _write / _misc on the firmware thread.
 * - Keepalive is a contract with a real broker, so it runs on a real-time
 *   timerfd (mosquitto_loop_misc measures real time itself): a paused virtual
 *   clock does not make the broker drop us.
 * - Reconnect back-off (1 s, 2 s, 4 s ... 60 s) is measured in device time:
 *   sim_mqtt_next_event_us() folds the next attempt into hal_time_wait_until(),
 *   and starts the attempt when it is due. In virtual time, an attempt waits for
 *   the host to advance the clock.
 *
 * Threads: everything that touches libmosquitto runs on the firmware thread
 * (or from sim_mqtt_reset() while that thread is stopped). State and counters
 * are also read by the host thread (status pages, tests), so they sit behind a
 * small mutex of their own.
 */
#define _GNU_SOURCE
#include "hal_mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "err.h"
#include "ml_config.h"
#include "mqtt/mqtt_policy.h"
#include "sim_priv.h"

#define MQTT_KEEPALIVE_S     60               /* MQTT keepalive asked from the broker */
#define MQTT_MISC_PERIOD_S   5                /* real-time period of mosquitto_loop_misc() */
#define MQTT_MAX_PAYLOAD     65536u           /* larger publishes give ML_EMSGSIZE */
#define MQTT_DEFAULT_CA_PATH "/etc/ssl/certs" /* when mqtts:// has no ca_file */
#define MQTT_STR_MAX         512
/* received messages kept until hal_mqtt_receive(): 3 + topic + payload bytes each within
 * ML_MQTT_RX_BYTES, as on the ESP-AT port (each takes at least 4) */
#define MQTT_RX_QUEUE        (ML_MQTT_RX_BYTES / 4)

/* ------------------------------------------------------------------------- */
/* State                                                                     */
/* ------------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu; /* state and stats (read by the host thread) */
    enum hal_mqtt_state state;
    struct hal_mqtt_stats stats;

    /* firmware thread only */
    struct mosquitto *mosq;
    bool active;                 /* started and not stopped */
    bool link_open;              /* an attempt or session is under way (its end not yet counted) */
    bool connected;              /* CONNACK 0 seen on the current session */
    uint64_t next_try_us;        /* next attempt (UINT64_MAX: none scheduled) */
    struct mqtt_backoff backoff; /* core/mqtt policy: 1 s, 2 s ... 60 s */
    int epfd;                    /* private epoll set, registered with sim_poll_add() */
    int tfd;                     /* real-time timerfd for keepalive */
    int reg_fd;                  /* the mosquitto socket currently in epfd, -1 none */
    uint32_t reg_events;

    /* received messages, oldest first (firmware thread only) */
    struct sim_mqtt_rx {
        char topic[HAL_MQTT_RX_TOPIC_MAX];
        uint8_t payload[HAL_MQTT_RX_PAYLOAD_MAX];
        size_t len;
    } rx[MQTT_RX_QUEUE];
    size_t rx_head, rx_count;
    size_t rx_bytes; /* 3 + topic + payload of each message waiting (<= ML_MQTT_RX_BYTES) */

    struct mqtt_broker broker; /* host, port, TLS: the core/mqtt URL rule */
    struct sim_mqtt_strings {  /* hal_mqtt_cfg's strings ("" for NULL) */
        char client_id[MQTT_STR_MAX], username[MQTT_STR_MAX], password[MQTT_STR_MAX];
        char ca_file[MQTT_STR_MAX], cert_file[MQTT_STR_MAX], key_file[MQTT_STR_MAX];
    } cfg;
} M = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .epfd = -1,
    .tfd = -1,
    .reg_fd = -1,
    .next_try_us = UINT64_MAX,
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init_once(void)
{
    mosquitto_lib_init();
    /* OpenSSL writes to the socket with write(): a broker that vanishes must
     * not kill the process with SIGPIPE. Keep a handler the host installed. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
    }
}

static void set_state(enum hal_mqtt_state st)
{
    pthread_mutex_lock(&M.mu);
    M.state = st;
    pthread_mutex_unlock(&M.mu);
}

static void stats_add(uint32_t *counter)
{
    pthread_mutex_lock(&M.mu);
    (*counter)++;
    pthread_mutex_unlock(&M.mu);
}

/* ------------------------------------------------------------------------- */
/* Poll integration                                                          */
/* ------------------------------------------------------------------------- */

static void link_down(bool auth_refused);
static void client_free(void);

/* Make the epoll set follow the mosquitto socket: it changes on every
 * (re)connect, and EPOLLOUT is wanted only while output is queued. */
static void sync_fd(void)
{
    int fd = M.mosq != NULL ? mosquitto_socket(M.mosq) : -1;
    if (fd != M.reg_fd && M.reg_fd >= 0) {
        /* mosquitto may already have closed it (which removed it): ignore errors */
        epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.reg_fd, NULL);
        M.reg_fd = -1;
    }
    if (fd < 0) {
        return;
    }
    if (fd != M.reg_fd) {
        /* not inherited by a process the host spawns (a test's broker): a copy
         * there would keep the socket, and its epoll entry, alive after close */
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    uint32_t events = EPOLLIN | (mosquitto_want_write(M.mosq) ? (uint32_t)EPOLLOUT : 0u);
    if (fd == M.reg_fd && events == M.reg_events) {
        return;
    }
    struct epoll_event ev = {.events = events, .data.fd = fd};
    /* MOD first: the same fd number may be a new socket whose predecessor was
     * closed (and so left the set) behind our back; then ADD it. */
    if (epoll_ctl(M.epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
        epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev);
    }
    M.reg_fd = fd;
    M.reg_events = events;
}

static void on_epoll_ready(int fd, short revents, void *ctx)
{
    (void)fd;
    (void)revents;
    (void)ctx;
    struct epoll_event ev[4];
    int n = epoll_wait(M.epfd, ev, 4, 0);
    for (int i = 0; i < n; i++) {
        if (ev[i].data.fd == M.tfd) {
            /* read the tick even without a client (between attempts after a
             * dead TLS one): an unread timerfd keeps the epoll fd readable */
            uint64_t ticks;
            ssize_t r = read(M.tfd, &ticks, sizeof ticks);
            (void)r;
            if (M.mosq != NULL) {
                mosquitto_loop_misc(M.mosq);
            }
            continue;
        }
        if (M.mosq == NULL) {
            continue;
        }
        if (ev[i].data.fd != mosquitto_socket(M.mosq)) {
            continue; /* a stale event of a socket closed meanwhile */
        }
        /* ERR/HUP go to both: loop_write completes (or fails) a pending connect,
         * loop_read reads EOF; either way mosquitto closes the socket, so a dead
         * socket never keeps the loop spinning. */
        if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
            mosquitto_loop_write(M.mosq, 1);
        }
        if ((ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && mosquitto_socket(M.mosq) >= 0) {
            mosquitto_loop_read(M.mosq, 1);
        }
        /* A TLS attempt whose socket failed (connection refused, reset before
         * the handshake ended): libmosquitto 2.0.11 takes SSL_ERROR_SYSCALL as
         * "handshake still under way" and keeps the dead socket, whose ERR/HUP
         * would wake this loop without end (and the attempt would only end at
         * the keepalive, ~60 s). End it like a refused TCP connect: drop the
         * client (which closes the socket); the next attempt makes a new one. */
        if ((ev[i].events & (EPOLLERR | EPOLLHUP)) && !M.connected && M.link_open &&
            mosquitto_socket(M.mosq) >= 0) {
            client_free();
            break;
        }
    }
    /* A failed TLS handshake closes the socket without calling on_disconnect
     * (libmosquitto 2.0.11): a closed socket ends the attempt all the same. */
    if (M.link_open && (M.mosq == NULL || mosquitto_socket(M.mosq) < 0)) {
        link_down(false);
    }
    sync_fd();
}

/* ------------------------------------------------------------------------- */
/* Connection state machine                                                  */
/* ------------------------------------------------------------------------- */

/* The current attempt or session ended: count it once, schedule the next
 * attempt after the back-off (device time), and double the back-off. */
static void link_down(bool auth_refused)
{
    if (!M.link_open) {
        return; /* already counted (CONNACK refusal is followed by a disconnect) */
    }
    M.link_open = false;
    M.connected = false;
    if (!M.active) {
        return; /* our own stop is not an error */
    }
    stats_add(&M.stats.errors);
    set_state(auth_refused ? HAL_MQTT_AUTH_FAILED : HAL_MQTT_CONNECTING);
    M.next_try_us = sim_time_us() + (uint64_t)mqtt_backoff_next(&M.backoff) * 1000u;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)obj;
    if (rc == 0) {
        M.connected = true;
        mqtt_backoff_reset(&M.backoff);
        stats_add(&M.stats.connects);
        set_state(HAL_MQTT_CONNECTED);
        return;
    }
    /* MQTT 3.1.1 CONNACK 4: bad user name or password, 5: not authorised */
    link_down(rc == 4 || rc == 5);
}

/* A message on a subscription: keep it for hal_mqtt_receive() (runs inside
 * mosquitto_loop_read on the firmware thread; the loop then polls the app). */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    (void)obj;
    size_t tl = msg->topic != NULL ? strlen(msg->topic) : HAL_MQTT_RX_TOPIC_MAX;
    if (M.rx_count == MQTT_RX_QUEUE || tl >= HAL_MQTT_RX_TOPIC_MAX || msg->payloadlen < 0 ||
        (size_t)msg->payloadlen > HAL_MQTT_RX_PAYLOAD_MAX ||
        M.rx_bytes + 3u + tl + (size_t)msg->payloadlen > ML_MQTT_RX_BYTES) {
        return; /* full or too large: dropped (bounded memory) */
    }
    M.rx_bytes += 3u + tl + (size_t)msg->payloadlen;
    struct sim_mqtt_rx *r = &M.rx[(M.rx_head + M.rx_count) % MQTT_RX_QUEUE];
    memcpy(r->topic, msg->topic, tl + 1);
    r->len = (size_t)msg->payloadlen;
    if (r->len > 0) {
        memcpy(r->payload, msg->payload, r->len);
    }
    M.rx_count++;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)obj;
    (void)rc;
    link_down(false);
}

void sim_mqtt_net_check(void)
{
    if (!M.active || !M.link_open || M.mosq == NULL || sim_net_online()) {
        return;
    }
    /* link or address lost: the session dies without a DISCONNECT (the broker
     * sees the TCP connection end); mosquitto reads the end of stream later */
    int fd = mosquitto_socket(M.mosq);
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
    }
    link_down(false);
}

static int client_new(void);

static void try_connect(void)
{
    M.next_try_us = UINT64_MAX;
    M.link_open = true;
    M.connected = false;
    pthread_mutex_lock(&M.mu);
    if (M.state != HAL_MQTT_AUTH_FAILED) {
        /* AUTH_FAILED stays until a connect succeeds or fails otherwise */
        M.state = HAL_MQTT_CONNECTING;
    }
    pthread_mutex_unlock(&M.mu);
    if (!sim_net_online()) {
        link_down(false); /* no link or address: the attempt fails at once */
        return;
    }
    if (M.mosq == NULL && client_new() != ML_OK) {
        link_down(false);
        sync_fd();
        return;
    }
    int rc = mosquitto_connect_async(M.mosq, M.broker.host, M.broker.port, MQTT_KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(M.mosq) < 0) {
        link_down(false); /* refused at once, name not resolved, TLS set-up failed */
    }
    sync_fd();
}

uint64_t sim_mqtt_next_event_us(void)
{
    if (!M.active) {
        return UINT64_MAX;
    }
    if (!M.link_open && sim_time_us() >= M.next_try_us) {
        try_connect();
    }
    return M.link_open ? UINT64_MAX : M.next_try_us;
}

/* ------------------------------------------------------------------------- */
/* Set-up and tear-down                                                      */
/* ------------------------------------------------------------------------- */

/* Disconnect and free everything (firmware thread, or its thread stopped). */
static void session_free(void)
{
    M.active = false;
    if (M.mosq != NULL) {
        M.link_open = false; /* our own disconnect is not an error */
        mosquitto_disconnect(M.mosq);
        client_free();
    }
    if (M.epfd >= 0) {
        sim_poll_remove(M.epfd);
        close(M.epfd);
        M.epfd = -1;
    }
    if (M.tfd >= 0) {
        close(M.tfd);
        M.tfd = -1;
    }
    M.reg_fd = -1;
    M.reg_events = 0;
    M.link_open = false;
    M.connected = false;
    M.next_try_us = UINT64_MAX;
    M.rx_head = 0;
    M.rx_count = 0;
    M.rx_bytes = 0;
    set_state(HAL_MQTT_DISABLED);
}

void sim_mqtt_reset(void)
{
    session_free();
    pthread_mutex_lock(&M.mu);
    memset(&M.stats, 0, sizeof M.stats);
    pthread_mutex_unlock(&M.mu);
}

static const char *opt_str(const char *s)
{
    return s[0] != '\0' ? s : NULL;
}

/* Free the libmosquitto client (closes its socket; no callback runs). */
static void client_free(void)
{
    if (M.reg_fd >= 0) {
        /* leave the epoll set before libmosquitto closes the socket */
        epoll_ctl(M.epfd, EPOLL_CTL_DEL, M.reg_fd, NULL);
        M.reg_fd = -1;
        M.reg_events = 0;
    }
    if (M.mosq != NULL) {
        mosquitto_destroy(M.mosq);
        M.mosq = NULL;
    }
}

/* A libmosquitto client for M.cfg (at start, and again for the attempt after
 * a dead TLS attempt). */
static int client_new(void)
{
    M.mosq = mosquitto_new(opt_str(M.cfg.client_id), true, NULL);
    if (M.mosq == NULL) {
        return ML_ENOMEM;
    }
    mosquitto_connect_callback_set(M.mosq, on_connect);
    mosquitto_disconnect_callback_set(M.mosq, on_disconnect);
    mosquitto_message_callback_set(M.mosq, on_message);
    if (M.cfg.username[0] != '\0' &&
        mosquitto_username_pw_set(M.mosq, M.cfg.username, M.cfg.password) != MOSQ_ERR_SUCCESS) {
        client_free();
        return ML_EINVAL;
    }
    if (M.broker.tls) {
        const char *ca = opt_str(M.cfg.ca_file);
        /* fails when a file is unreadable or only one of cert/key is given */
        if (mosquitto_tls_set(M.mosq, ca, ca == NULL ? MQTT_DEFAULT_CA_PATH : NULL,
                              opt_str(M.cfg.cert_file), opt_str(M.cfg.key_file),
                              NULL) != MOSQ_ERR_SUCCESS) {
            client_free();
            return ML_EINVAL;
        }
    }
    return ML_OK;
}

/* Copy @p src (NULL: "") into @p dst; false when it does not fit. */
static bool cfg_copy(char *dst, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0u;
    if (n >= MQTT_STR_MAX) {
        return false;
    }
    memcpy(dst, src != NULL ? src : "", n + 1u);
    return true;
}

static int session_new(void)
{
    int rc = client_new();
    if (rc < 0) {
        goto free_session;
    }
    rc = ML_ENOMEM;
    M.epfd = epoll_create1(EPOLL_CLOEXEC);
    M.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (M.epfd < 0 || M.tfd < 0) {
        goto free_session;
    }
    struct itimerspec its = {{MQTT_MISC_PERIOD_S, 0}, {MQTT_MISC_PERIOD_S, 0}};
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = M.tfd};
    if (timerfd_settime(M.tfd, 0, &its, NULL) != 0 ||
        epoll_ctl(M.epfd, EPOLL_CTL_ADD, M.tfd, &ev) != 0 ||
        sim_poll_add(M.epfd, on_epoll_ready, NULL) != ML_OK) {
        goto free_session;
    }
    return ML_OK;

free_session:
    session_free();
    return rc;
}

/* ------------------------------------------------------------------------- */
/* TLS material                                                              */
/* ------------------------------------------------------------------------- */

static int tls_fail(char *why, size_t cap, const char *what, const char *path, const char *reason)
{
    if (why != NULL && cap > 0) {
        snprintf(why, cap, "%s '%s': %s", what, path, reason);
    }
    return ML_EINVAL;
}

/* Open @p path for reading; NULL (reason in why) when it cannot be. */
static FILE *tls_open(const char *what, const char *path, char *why, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        tls_fail(why, cap, what, path, strerror(errno));
    }
    return f;
}

int sim_mqtt_tls_check(const char *ca_file, const char *cert_file, const char *key_file, char *why,
                       size_t cap)
{
    if ((cert_file == NULL) != (key_file == NULL)) {
        return tls_fail(why, cap, cert_file != NULL ? "certificate file" : "key file",
                        cert_file != NULL ? cert_file : key_file,
                        "mutual TLS needs both a certificate and its key");
    }
    if (ca_file != NULL) {
        FILE *f = tls_open("CA file", ca_file, why, cap);
        if (f == NULL) {
            return ML_EINVAL;
        }
        X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        ERR_clear_error();
        if (x == NULL) {
            return tls_fail(why, cap, "CA file", ca_file, "no PEM certificate in it");
        }
        X509_free(x);
    }
    if (cert_file == NULL) {
        return ML_OK;
    }
    FILE *f = tls_open("certificate file", cert_file, why, cap);
    if (f == NULL) {
        return ML_EINVAL;
    }
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        ERR_clear_error();
        return tls_fail(why, cap, "certificate file", cert_file, "no PEM certificate in it");
    }
    f = tls_open("key file", key_file, why, cap);
    if (f == NULL) {
        X509_free(x);
        return ML_EINVAL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    int rc = ML_OK;
    if (k == NULL) {
        rc = tls_fail(why, cap, "key file", key_file, "no PEM private key in it");
    } else if (X509_check_private_key(x, k) != 1) {
        rc = tls_fail(why, cap, "key file", key_file, "does not match the certificate");
    }
    ERR_clear_error();
    EVP_PKEY_free(k);
    X509_free(x);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* HAL                                                                       */
/* ------------------------------------------------------------------------- */

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg)
{
    struct mqtt_broker broker;
    ML_VERIFY(cfg != NULL, ML_EINVAL);
    /* validate before touching the running session: a bad URL changes nothing */
    int err =
        cfg->url == NULL ? ML_EINVAL : mqtt_broker_url_parse(cfg->url, strlen(cfg->url), &broker);
    if (err < 0) {
        return err;
    }
    struct sim_mqtt_strings c;
    ML_VERIFY(cfg_copy(c.client_id, cfg->client_id) && cfg_copy(c.username, cfg->username) &&
                  cfg_copy(c.password, cfg->password) && cfg_copy(c.ca_file, cfg->ca_file) &&
                  cfg_copy(c.cert_file, cfg->cert_file) && cfg_copy(c.key_file, cfg->key_file),
              ML_EINVAL);
    /* TLS material that cannot work fails here, not as endless failed handshakes */
    if (broker.tls && sim_mqtt_tls_check(opt_str(c.ca_file), opt_str(c.cert_file),
                                         opt_str(c.key_file), NULL, 0) != ML_OK) {
        return ML_EINVAL;
    }
    pthread_once(&lib_once, lib_init_once);

    session_free();
    M.broker = broker;
    M.cfg = c;
    err = session_new();
    if (err < 0) {
        return err;
    }
    M.active = true;
    mqtt_backoff_reset(&M.backoff);
    try_connect(); /* the first attempt at once; later ones after a back-off */
    return ML_OK;
}

void hal_mqtt_stop(void)
{
    session_free();
}

enum hal_mqtt_state hal_mqtt_get_state(void)
{
    pthread_mutex_lock(&M.mu);
    enum hal_mqtt_state st = M.state;
    pthread_mutex_unlock(&M.mu);
    return st;
}

int hal_mqtt_publish(const char *topic, const void *payload, size_t len)
{
    int err = ML_OK;
    if (topic == NULL || (payload == NULL && len > 0)) {
        err = ML_EINVAL;
    } else if (len > MQTT_MAX_PAYLOAD) {
        err = ML_EMSGSIZE;
    } else if (M.mosq == NULL || !M.connected || !sim_net_online()) {
        err = ML_EAGAIN; /* not connected, or the link went down: nothing is sent */
    } else {
        int rc = mosquitto_publish(M.mosq, NULL, topic, (int)len, payload, 0, false);
        if (rc == MOSQ_ERR_SUCCESS) {
            stats_add(&M.stats.send_pass);
            sync_fd(); /* what did not fit the socket now waits for POLLOUT */
            return ML_OK;
        }
        err = rc == MOSQ_ERR_PAYLOAD_SIZE                               ? ML_EMSGSIZE
              : (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8) ? ML_EINVAL
                                                                        : ML_EAGAIN;
        /* a lost connection shows here first sometimes: let the read side see it */
        sync_fd();
    }
    stats_add(&M.stats.send_fail);
    return err;
}

int hal_mqtt_subscribe(const char *filter)
{
    if (filter == NULL) {
        return ML_EINVAL;
    }
    if (M.mosq == NULL || !M.connected || !sim_net_online()) {
        return ML_EAGAIN;
    }
    int rc = mosquitto_subscribe(M.mosq, NULL, filter, 0);
    sync_fd();
    return rc == MOSQ_ERR_SUCCESS                                    ? ML_OK
           : (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_MALFORMED_UTF8) ? ML_EINVAL
                                                                     : ML_EAGAIN;
}

int hal_mqtt_receive(char *topic, size_t topic_cap, uint8_t *payload, size_t cap, size_t *len)
{
    ML_VERIFY(topic != NULL && len != NULL && (payload != NULL || cap == 0), ML_EINVAL);
    if (M.rx_count == 0) {
        return ML_EAGAIN;
    }
    const struct sim_mqtt_rx *r = &M.rx[M.rx_head];
    M.rx_head = (M.rx_head + 1) % MQTT_RX_QUEUE;
    M.rx_count--;
    size_t tl = strlen(r->topic);
    M.rx_bytes -= 3u + tl + r->len;
    if (tl >= topic_cap || r->len > cap) {
        return ML_ENOSPC;
    }
    memcpy(topic, r->topic, tl + 1);
    if (r->len > 0) {
        memcpy(payload, r->payload, r->len);
    }
    *len = r->len;
    return ML_OK;
}

void hal_mqtt_get_stats(struct hal_mqtt_stats *out)
{
    pthread_mutex_lock(&M.mu);
    *out = M.stats;
    pthread_mutex_unlock(&M.mu);
}
