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
#include <mosquitto.h>
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
#include "sim_priv.h"

#define MQTT_KEEPALIVE_S     60     /* MQTT keepalive asked from the broker */
#define MQTT_MISC_PERIOD_S   5      /* real-time period of mosquitto_loop_misc() */
#define MQTT_BACKOFF_MIN_MS  1000u  /* first reconnect delay */
#define MQTT_BACKOFF_MAX_MS  60000u /* reconnect delay cap */
#define MQTT_MAX_PAYLOAD     65536u /* larger publishes give ML_EMSGSIZE */
#define MQTT_PORT_PLAIN      1883
#define MQTT_PORT_TLS        8883
#define MQTT_DEFAULT_CA_PATH "/etc/ssl/certs" /* when mqtts:// has no ca_file */
#define MQTT_STR_MAX         512

/* ------------------------------------------------------------------------- */
/* State                                                                     */
/* ------------------------------------------------------------------------- */

static struct {
    pthread_mutex_t mu; /* state and stats (read by the host thread) */
    enum hal_mqtt_state state;
    struct hal_mqtt_stats stats;

    /* firmware thread only */
    struct mosquitto *mosq;
    bool active;          /* started and not stopped */
    bool link_open;       /* an attempt or session is under way (its end not yet counted) */
    bool connected;       /* CONNACK 0 seen on the current session */
    uint64_t next_try_us; /* next attempt (UINT64_MAX: none scheduled) */
    uint32_t backoff_ms;  /* delay after the next failure */
    int epfd;             /* private epoll set, registered with sim_poll_add() */
    int tfd;              /* real-time timerfd for keepalive */
    int reg_fd;           /* the mosquitto socket currently in epfd, -1 none */
    uint32_t reg_events;

    char host[256];
    int port;
    bool tls;
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
/* URL                                                                       */
/* ------------------------------------------------------------------------- */

/*
 * mqtt://host[:port][/] or mqtts://host[:port][/]; host is a name, an IPv4
 * address, or [IPv6]. No user info, path or query: the HAL config carries the
 * credentials separately.
 */
static int url_parse(const char *url, char *host, size_t host_cap, int *port, bool *tls)
{
    ML_VERIFY(url != NULL, ML_EINVAL);
    const char *p;
    if (strncmp(url, "mqtt://", 7) == 0) {
        *tls = false;
        *port = MQTT_PORT_PLAIN;
        p = url + 7;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        *tls = true;
        *port = MQTT_PORT_TLS;
        p = url + 8;
    } else {
        return ML_EINVAL;
    }
    const char *h = p;
    const char *h_end;
    if (*p == '[') {
        h = p + 1;
        h_end = strchr(h, ']');
        ML_VERIFY(h_end != NULL, ML_EINVAL);
        p = h_end + 1;
    } else {
        while (*p != '\0' && *p != ':' && *p != '/') {
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
            ML_VERIFY(ok, ML_EINVAL);
            p++;
        }
        h_end = p;
    }
    size_t hlen = (size_t)(h_end - h);
    ML_VERIFY(hlen > 0 && hlen < host_cap, ML_EINVAL);
    if (*p == ':') {
        p++;
        long v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 6) {
            v = v * 10 + (*p - '0');
            p++;
            digits++;
        }
        ML_VERIFY(digits > 0 && v >= 1 && v <= 65535, ML_EINVAL);
        *port = (int)v;
    }
    if (*p == '/') {
        p++;
    }
    ML_VERIFY(*p == '\0', ML_EINVAL);
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    return ML_OK;
}

/* ------------------------------------------------------------------------- */
/* Poll integration                                                          */
/* ------------------------------------------------------------------------- */

static void link_down(bool auth_refused);

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
    for (int i = 0; i < n && M.mosq != NULL; i++) {
        if (ev[i].data.fd == M.tfd) {
            uint64_t ticks;
            ssize_t r = read(M.tfd, &ticks, sizeof ticks);
            (void)r;
            mosquitto_loop_misc(M.mosq);
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
    }
    /* A failed TLS handshake closes the socket without calling on_disconnect
     * (libmosquitto 2.0.11): a closed socket ends the attempt all the same. */
    if (M.link_open && M.mosq != NULL && mosquitto_socket(M.mosq) < 0) {
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
    M.next_try_us = sim_time_us() + (uint64_t)M.backoff_ms * 1000u;
    M.backoff_ms = M.backoff_ms >= MQTT_BACKOFF_MAX_MS / 2 ? MQTT_BACKOFF_MAX_MS : M.backoff_ms * 2;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)obj;
    if (rc == 0) {
        M.connected = true;
        M.backoff_ms = MQTT_BACKOFF_MIN_MS;
        stats_add(&M.stats.connects);
        set_state(HAL_MQTT_CONNECTED);
        return;
    }
    /* MQTT 3.1.1 CONNACK 4: bad user name or password, 5: not authorised */
    link_down(rc == 4 || rc == 5);
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
    int rc = mosquitto_connect_async(M.mosq, M.host, M.port, MQTT_KEEPALIVE_S);
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
        mosquitto_destroy(M.mosq);
        M.mosq = NULL;
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
    set_state(HAL_MQTT_DISABLED);
}

void sim_mqtt_reset(void)
{
    session_free();
    pthread_mutex_lock(&M.mu);
    memset(&M.stats, 0, sizeof M.stats);
    pthread_mutex_unlock(&M.mu);
}

static bool str_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int session_new(const struct hal_mqtt_cfg *cfg)
{
    int rc = ML_ENOMEM;
    M.mosq = mosquitto_new(str_set(cfg->client_id) ? cfg->client_id : NULL, true, NULL);
    if (M.mosq == NULL) {
        return ML_ENOMEM;
    }
    mosquitto_connect_callback_set(M.mosq, on_connect);
    mosquitto_disconnect_callback_set(M.mosq, on_disconnect);
    if (str_set(cfg->username) &&
        mosquitto_username_pw_set(M.mosq, cfg->username, cfg->password) != MOSQ_ERR_SUCCESS) {
        rc = ML_EINVAL;
        goto free_session;
    }
    if (M.tls) {
        const char *ca = str_set(cfg->ca_file) ? cfg->ca_file : NULL;
        const char *cert = str_set(cfg->cert_file) ? cfg->cert_file : NULL;
        const char *key = str_set(cfg->key_file) ? cfg->key_file : NULL;
        /* fails when a file is unreadable or only one of cert/key is given */
        if (mosquitto_tls_set(M.mosq, ca, ca == NULL ? MQTT_DEFAULT_CA_PATH : NULL, cert, key,
                              NULL) != MOSQ_ERR_SUCCESS) {
            rc = ML_EINVAL;
            goto free_session;
        }
    }
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
/* HAL                                                                       */
/* ------------------------------------------------------------------------- */

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg)
{
    char host[sizeof M.host];
    int port;
    bool tls;
    ML_VERIFY(cfg != NULL, ML_EINVAL);
    /* validate before touching the running session: a bad URL changes nothing */
    int err = url_parse(cfg->url, host, sizeof host, &port, &tls);
    if (err < 0) {
        return err;
    }
    ML_VERIFY(cfg->client_id == NULL || strlen(cfg->client_id) < MQTT_STR_MAX, ML_EINVAL);
    pthread_once(&lib_once, lib_init_once);

    session_free();
    memcpy(M.host, host, sizeof host);
    M.port = port;
    M.tls = tls;
    err = session_new(cfg);
    if (err < 0) {
        return err;
    }
    M.active = true;
    M.backoff_ms = MQTT_BACKOFF_MIN_MS;
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

void hal_mqtt_get_stats(struct hal_mqtt_stats *out)
{
    pthread_mutex_lock(&M.mu);
    *out = M.stats;
    pthread_mutex_unlock(&M.mu);
}
