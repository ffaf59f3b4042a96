/*
 * The ESP-AT client core (firmware/core/esp_at, compiled for the host) drives
 * the AT emulator (sim/at_emu) over a socketpair: TCP servers reached by real
 * sockets on the mapped host ports, MQTT through the emulator's libmosquitto
 * to a mosquitto broker started here and watched by a subscriber, faults.
 * ML_AT_LOG=1 prints the AT traffic.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "esp_at/esp_at.h"
#include "ml_at_emu.h"
#include "ml_broker.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"

#define WAIT_MS 10000u

static int sv[2] = {-1, -1};
static struct ml_at_emu *emu;
static struct ml_esp_at *at;
static struct ml_broker broker;
static bool broker_up;
static struct ml_mqtt_sub *sub;
static char logbuf[64][160];
static unsigned log_n;

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void emu_log(void *ctx, const char *line)
{
    (void)ctx;
    if (getenv("ML_AT_LOG") != NULL) {
        fprintf(stderr, "[at] %s\n", line);
    }
    snprintf(logbuf[log_n % 64], sizeof logbuf[0], "%s", line);
    log_n++;
}

static int io_read(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    ssize_t n = recv(sv[1], buf, cap, MSG_DONTWAIT);
    return n > 0 ? (int)n : 0;
}

static int io_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    ssize_t n = send(sv[1], buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n > 0 ? (int)n : 0;
}

static void poll_once(void)
{
    ml_esp_at_poll(at, now_ms());
    struct pollfd p = {.fd = sv[1], .events = POLLIN};
    (void)poll(&p, 1, 2);
}

/* Poll the client until @p cond holds (evaluated once per pass) or @p ms pass. */
#define WAIT_FOR(cond, ms)                                                                         \
    ({                                                                                             \
        uint64_t t_end_ = now_ms() + (ms);                                                         \
        bool ok_;                                                                                  \
        while (!(ok_ = (cond)) && now_ms() < t_end_) {                                             \
            poll_once();                                                                           \
        }                                                                                          \
        ok_;                                                                                       \
    })

static bool start(const struct ml_at_emu_opts *o)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        return false;
    }
    struct ml_at_emu_opts def = {.eth_link = true};
    struct ml_at_emu_opts opts = o != NULL ? *o : def;
    opts.log = emu_log;
    if (ml_at_emu_start(&emu, sv[0], &opts) != 0) {
        return false;
    }
    static const struct ml_esp_at_io io = {io_read, io_write, NULL};
    at = calloc(1, sizeof *at);
    ml_esp_at_init(at, &io, now_ms());
    return WAIT_FOR(ml_esp_at_is_ready(at), WAIT_MS);
}

static void setup(void)
{
    log_n = 0;
}

static void teardown(void)
{
    if (CU_get_number_of_failures() > 0) {
        unsigned first = log_n > 64 ? log_n - 64 : 0;
        fprintf(stderr, "--- last AT traffic ---\n");
        for (unsigned i = first; i < log_n; i++) {
            fprintf(stderr, "  %s\n", logbuf[i % 64]);
        }
        if (broker_up) {
            ml_broker_dump_log(&broker);
        }
    }
    if (sub != NULL) {
        ml_mqtt_sub_stop(sub);
        sub = NULL;
    }
    ml_at_emu_stop(emu);
    emu = NULL;
    if (broker_up) {
        ml_broker_destroy(&broker);
        broker_up = false;
    }
    for (int i = 0; i < 2; i++) {
        if (sv[i] >= 0) {
            close(sv[i]);
            sv[i] = -1;
        }
    }
    free(at);
    at = NULL;
}

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read exactly @p len bytes from a host socket while polling the client. */
static bool host_read(int fd, uint8_t *buf, size_t len)
{
    size_t got = 0;
    uint64_t end = now_ms() + WAIT_MS;
    while (got < len && now_ms() < end) {
        ssize_t n = recv(fd, buf + got, len - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0) {
            break;
        }
        poll_once();
    }
    return got == len;
}

/* Read exactly @p len bytes from a client connection. */
static bool dev_read(int conn, uint8_t *buf, size_t len)
{
    size_t got = 0;
    uint64_t end = now_ms() + WAIT_MS;
    while (got < len && now_ms() < end) {
        int n = ml_esp_at_recv(at, conn, buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
        } else if (n != ML_EAGAIN) {
            break;
        }
        poll_once();
    }
    return got == len;
}

static bool dev_write(int conn, const uint8_t *buf, size_t len)
{
    size_t put = 0;
    uint64_t end = now_ms() + WAIT_MS;
    while (put < len && now_ms() < end) {
        int n = ml_esp_at_send(at, conn, buf + put, len - put);
        if (n < 0) {
            return false;
        }
        put += (size_t)n;
        poll_once();
    }
    return put == len;
}

/* ------------------------------------------------------------------------- */

static void test_esp_at_boot_eth_dhcp(void)
{
    struct ml_at_emu_status st;
    CU_ASSERT_TRUE_FATAL(start(NULL));
    CU_ASSERT_EQUAL(ml_esp_at_net_up(at, ML_ESP_AT_IF_ETH, NULL, NULL), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_link_is_up(at, ML_ESP_AT_IF_ETH), WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_set_hostname(at, "smart-connect-abc"), ML_OK);
    CU_ASSERT_EQUAL(ml_esp_at_set_hostname(at, "Bad_Name"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_dhcp_start(at), ML_OK);
    struct ml_esp_at_ipv4 a = {0, 0, 0, 0};
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_dhcp_state(at, &a) != ML_ESP_AT_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_dhcp_state(at, &a), ML_ESP_AT_OP_OK);
    CU_ASSERT_EQUAL(a.ip, 0xC0A80132u);
    CU_ASSERT_EQUAL(a.gateway, 0xC0A80101u);
    CU_ASSERT_EQUAL(a.netmask, 0xFFFFFF00u);
    CU_ASSERT_EQUAL(ml_esp_at_ping_start(at, a.gateway), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_ping_state(at) != ML_ESP_AT_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(at), ML_ESP_AT_OP_OK);
    /* SNTP: the module's clock is the host's */
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_utc(at) > 0, WAIT_MS));
    int64_t d = ml_esp_at_utc(at) - (int64_t)time(NULL);
    CU_ASSERT_TRUE(d >= -2 && d <= 2);
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), st.mdns_on), WAIT_MS));
    CU_ASSERT_STRING_EQUAL(st.hostname, "smart-connect-abc");
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(at, &s);
    CU_ASSERT_EQUAL(s.timeouts, 0);
    /* our AT+RST at start, and the power-on "ready" when it came first */
    CU_ASSERT_TRUE(s.resets >= 1 && s.resets <= 2);
}

static void test_esp_at_wifi_join_and_ap(void)
{
    struct ml_at_emu_opts o = {.eth_link = false};
    struct ml_at_emu_status st;
    CU_ASSERT_TRUE_FATAL(start(&o));
    CU_ASSERT_EQUAL(ml_esp_at_net_up(at, ML_ESP_AT_IF_WIFI, "", "x"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_net_up(at, ML_ESP_AT_IF_WIFI, "home, \"sweet\"", "p\\w,d"), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_link_is_up(at, ML_ESP_AT_IF_WIFI), WAIT_MS));
    CU_ASSERT_FALSE(ml_esp_at_link_is_up(at, ML_ESP_AT_IF_ETH));
    CU_ASSERT_EQUAL(ml_esp_at_dhcp_start(at), ML_OK);
    struct ml_esp_at_ipv4 a;
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_dhcp_state(at, &a) == ML_ESP_AT_OP_OK, WAIT_MS));
    CU_ASSERT_EQUAL(a.ip, 0xC0A80133u);
    CU_ASSERT_EQUAL(ml_esp_at_ap_start(at, "SC-MPS2", "short"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_ap_start(at, "SC-MPS2", "qemu0001"), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), st.ap_on), WAIT_MS));
    ml_esp_at_ap_stop(at);
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), !st.ap_on), WAIT_MS));
    CU_ASSERT_TRUE(st.wifi_connected);
    /* the link drops and comes back: the client sees both */
    ml_at_emu_set_fault(emu, ML_AT_EMU_LINK_DOWN, true);
    CU_ASSERT_TRUE(WAIT_FOR(!ml_esp_at_link_is_up(at, ML_ESP_AT_IF_WIFI), WAIT_MS));
    ml_at_emu_set_fault(emu, ML_AT_EMU_LINK_DOWN, false);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_link_is_up(at, ML_ESP_AT_IF_WIFI), WAIT_MS));
}

static void test_esp_at_tcp_both_ways(void)
{
    struct ml_at_emu_opts o = {.eth_link = true, .n_ports = 1, .ports = {{502, 0}}};
    CU_ASSERT_TRUE_FATAL(start(&o));
    uint16_t hp = ml_at_emu_host_port(emu, 502);
    CU_ASSERT_NOT_EQUAL_FATAL(hp, 0);
    int l = ml_esp_at_listen(at, 502);
    CU_ASSERT_TRUE_FATAL(l >= 0);
    CU_ASSERT_EQUAL(ml_esp_at_listen(at, 502), ML_EBUSY);
    CU_ASSERT_EQUAL(ml_esp_at_local_port(at, l), 502);
    int fd = tcp_connect(hp);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    int c = -1;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = ml_esp_at_accept(at, l)) >= 0, WAIT_MS));

    /* host -> device, larger than every buffer on the way (flow control) */
    static uint8_t big[20000], back[20000];
    uint32_t seed = 7;
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)ml_test_rand(&seed);
    }
    size_t off = 0, rd = 0;
    uint64_t end = now_ms() + 2 * WAIT_MS;
    while (rd < sizeof big && now_ms() < end) {
        if (off < sizeof big) {
            ssize_t n = send(fd, big + off, sizeof big - off, MSG_DONTWAIT);
            if (n > 0) {
                off += (size_t)n;
            }
        }
        poll_once();
        int r = ml_esp_at_recv(at, c, back + rd, sizeof big - rd);
        if (r > 0) {
            rd += (size_t)r;
        }
    }
    CU_ASSERT_EQUAL(rd, sizeof big);
    CU_ASSERT_EQUAL(memcmp(big, back, sizeof big), 0);

    /* device -> host, several AT+CIPSEND chunks */
    CU_ASSERT_TRUE(dev_write(c, big, 5000));
    CU_ASSERT_TRUE(host_read(fd, back, 5000));
    CU_ASSERT_EQUAL(memcmp(big, back, 5000), 0);

    /* request/response like Modbus TCP */
    const uint8_t req[] = {0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2};
    CU_ASSERT_EQUAL(send(fd, req, sizeof req, 0), (ssize_t)sizeof req);
    uint8_t in[sizeof req];
    CU_ASSERT_TRUE(dev_read(c, in, sizeof in));
    CU_ASSERT_EQUAL(memcmp(in, req, sizeof req), 0);
    const uint8_t rsp[] = {0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 42, 0, 43};
    CU_ASSERT_TRUE(dev_write(c, rsp, sizeof rsp));
    uint8_t rin[sizeof rsp];
    CU_ASSERT_TRUE(host_read(fd, rin, sizeof rin));
    CU_ASSERT_EQUAL(memcmp(rin, rsp, sizeof rsp), 0);

    /* the peer closes: the last bytes first, then "closed" */
    CU_ASSERT_EQUAL(send(fd, "bye", 3, 0), 3);
    close(fd);
    CU_ASSERT_TRUE(dev_read(c, in, 3));
    CU_ASSERT_EQUAL(memcmp(in, "bye", 3), 0);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_recv(at, c, in, sizeof in) == ML_ECONNREFUSED, WAIT_MS));
    CU_ASSERT_TRUE(ml_esp_at_send(at, c, in, 1) < 0);
    ml_esp_at_close(at, c);

    /* the device closes */
    fd = tcp_connect(hp);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = ml_esp_at_accept(at, l)) >= 0, WAIT_MS));
    CU_ASSERT_TRUE(dev_write(c, (const uint8_t *)"last", 4));
    ml_esp_at_close(at, c);
    uint8_t last[5] = {0};
    CU_ASSERT_TRUE(host_read(fd, last, 4));
    CU_ASSERT_STRING_EQUAL((char *)last, "last");
    CU_ASSERT_TRUE(WAIT_FOR(recv(fd, last, 1, MSG_DONTWAIT) == 0, WAIT_MS));
    close(fd);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(at, &s);
    CU_ASSERT_EQUAL(s.rx_dropped, 0);
    CU_ASSERT_EQUAL(s.timeouts, 0);
}

/* The last 64 AT lines hold @p text. */
static bool log_has(const char *text)
{
    for (unsigned i = log_n > 64 ? log_n - 64 : 0; i < log_n; i++) {
        if (strstr(logbuf[i % 64], text) != NULL) {
            return true;
        }
    }
    return false;
}

/* Issue 19 #3: AT+CIPSERVER=1,443,"SSL",0 - the emulator terminates TLS with the
 * module's key and certificate (made in opts.tls_dir, CN = the AT+CWHOSTNAME
 * name); an OpenSSL client that trusts exactly that certificate and checks the
 * name exchanges plaintext with the client core; a plain TCP peer never becomes
 * a link. */
static void test_esp_at_ssl_server(void)
{
    char dir[] = "/tmp/ml-esp-ssl-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    struct ml_at_emu_opts o = {.eth_link = true, .n_ports = 1, .ports = {{443, 0}}, .tls_dir = dir};
    CU_ASSERT_TRUE_FATAL(start(&o));
    CU_ASSERT_EQUAL(ml_esp_at_set_hostname(at, "smart-connect-sc0042"), 0);
    uint16_t hp = ml_at_emu_host_port(emu, 443);
    int l = ml_esp_at_listen_tls(at, 443);
    CU_ASSERT_TRUE_FATAL(l >= 0);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(at->listeners[l].opened, WAIT_MS));
    CU_ASSERT_TRUE(log_has("AT+CIPSERVER=1,443,\"SSL\",0"));

    /* a plain peer on the SSL port: its bytes end the handshake, no link is announced */
    int raw = tcp_connect(hp);
    CU_ASSERT_TRUE_FATAL(raw >= 0);
    CU_ASSERT_EQUAL(send(raw, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
    uint8_t junk[64];
    CU_ASSERT_TRUE(WAIT_FOR(recv(raw, junk, sizeof junk, MSG_DONTWAIT) >= 0, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_accept(at, l), ML_EAGAIN);
    close(raw);

    /* a TLS client trusting the module's certificate, checking its name */
    char cert[64];
    snprintf(cert, sizeof cert, "%s/https_cert.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    CU_ASSERT_FATAL(ctx != NULL && SSL_CTX_load_verify_locations(ctx, cert, NULL) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int fd = tcp_connect(hp);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "smart-connect-sc0042");
    SSL_set1_host(ssl, "smart-connect-sc0042.local");
    int r = 0;
    CU_ASSERT_TRUE(
        WAIT_FOR((r = SSL_connect(ssl)) == 1 || (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ &&
                                                 SSL_get_error(ssl, r) != SSL_ERROR_WANT_WRITE),
                 WAIT_MS));
    CU_ASSERT_EQUAL_FATAL(r, 1);
    CU_ASSERT_EQUAL(SSL_get_verify_result(ssl), X509_V_OK);
    int c = -1;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = ml_esp_at_accept(at, l)) >= 0, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_peer_ipv4(at, c), 0x7F000001u);
    CU_ASSERT_TRUE(log_has("\"SSL\",1,\"127.0.0.1\""));
    CU_ASSERT_EQUAL(SSL_write(ssl, "ping", 4), 4);
    uint8_t in[4];
    CU_ASSERT_TRUE(dev_read(c, in, 4));
    CU_ASSERT_EQUAL(memcmp(in, "ping", 4), 0);
    static uint8_t big[3000], back[3000]; /* several AT+CIPSEND, several records */
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 7u);
    }
    CU_ASSERT_TRUE(dev_write(c, big, sizeof big));
    size_t got = 0;
    WAIT_FOR(({
                 int n = SSL_read(ssl, back + got, (int)(sizeof back - got));
                 got += n > 0 ? (size_t)n : 0u;
                 got == sizeof back;
             }),
             WAIT_MS);
    CU_ASSERT_EQUAL(got, sizeof back);
    CU_ASSERT_EQUAL(memcmp(big, back, sizeof big), 0);
    /* the client core closes: the peer gets close_notify */
    ml_esp_at_close(at, c);
    int n = -1;
    CU_ASSERT_TRUE(
        WAIT_FOR((n = SSL_read(ssl, in, 1)) == 0 || SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN,
                 WAIT_MS));
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_esp_at_two_servers_many_links(void)
{
    struct ml_at_emu_opts o = {.eth_link = true, .n_ports = 1, .ports = {{502, 0}}};
    CU_ASSERT_TRUE_FATAL(start(&o));
    int lm = ml_esp_at_listen(at, 502);
    int lh = ml_esp_at_listen(at, 80);
    CU_ASSERT_TRUE_FATAL(lm >= 0 && lh >= 0);
    /* port 80 was not mapped: it gets a free host port once the device opens it */
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_at_emu_host_port(emu, 80) != 0, WAIT_MS));
    int fds[4], conns[4];
    for (int i = 0; i < 4; i++) {
        fds[i] = tcp_connect(ml_at_emu_host_port(emu, i % 2 ? 80 : 502));
        CU_ASSERT_TRUE_FATAL(fds[i] >= 0);
        int li = i % 2 ? lh : lm;
        CU_ASSERT_TRUE_FATAL(WAIT_FOR((conns[i] = ml_esp_at_accept(at, li)) >= 0, WAIT_MS));
    }
    for (int i = 0; i < 4; i++) {
        char msg[8];
        snprintf(msg, sizeof msg, "conn%d", i);
        CU_ASSERT_EQUAL(send(fds[i], msg, 5, 0), 5);
    }
    for (int i = 0; i < 4; i++) {
        char in[6] = {0}, want[8];
        snprintf(want, sizeof want, "conn%d", i);
        CU_ASSERT_TRUE(dev_read(conns[i], (uint8_t *)in, 5));
        CU_ASSERT_STRING_EQUAL(in, want);
        CU_ASSERT_TRUE(dev_write(conns[i], (const uint8_t *)in, 5));
    }
    for (int i = 0; i < 4; i++) {
        char in[6] = {0}, want[8];
        snprintf(want, sizeof want, "conn%d", i);
        CU_ASSERT_TRUE(host_read(fds[i], (uint8_t *)in, 5));
        CU_ASSERT_STRING_EQUAL(in, want);
        close(fds[i]);
    }
    for (int i = 0; i < 4; i++) {
        uint8_t b;
        CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_recv(at, conns[i], &b, 1) == ML_ECONNREFUSED, WAIT_MS));
        ml_esp_at_close(at, conns[i]);
    }
}

static bool start_broker(const struct ml_broker_opts *bo)
{
    if (ml_broker_start(&broker, bo) != 0) {
        return false;
    }
    broker_up = true;
    sub = ml_mqtt_sub_start(broker.obs_port, "meterlab/#", WAIT_MS);
    return sub != NULL;
}

static void test_esp_at_mqtt_publish_and_reconnect(void)
{
    CU_ASSERT_TRUE_FATAL(start(NULL));
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "127.0.0.1", broker.port,
                                     "SIM0000001",       NULL,        NULL};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/x", "a", 1), ML_EAGAIN);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(at, &cfg), ML_OK);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTED, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/+", "a", 1), ML_EINVAL);
    static const char tricky[] = "{\"a\":1,\r\n\"b\":\"x,y\"}";
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/power", tricky, sizeof tricky - 1), ML_OK);
    static char big[1500];
    memset(big, 'z', sizeof big);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/big", big, sizeof big), ML_OK);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_mqtt_sub_count(sub) >= 2, WAIT_MS));
    struct ml_mqtt_msg m;
    CU_ASSERT_TRUE(ml_mqtt_sub_get(sub, 0, &m));
    CU_ASSERT_STRING_EQUAL(m.topic, "meterlab/power");
    CU_ASSERT_STRING_EQUAL(m.payload, tricky);
    CU_ASSERT_TRUE(ml_mqtt_sub_get(sub, 1, &m));
    CU_ASSERT_EQUAL(m.len, sizeof big);

    /* broker down: the session drops, attempts fail with back-off */
    ml_broker_stop(&broker);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTING, WAIT_MS));
    struct ml_esp_at_stats s;
    CU_ASSERT_TRUE(WAIT_FOR((ml_esp_at_get_stats(at, &s), s.mqtt_errors >= 2), WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/x", "a", 1), ML_EAGAIN);
    /* broker up: the client reconnects by itself and publishes again */
    CU_ASSERT_EQUAL_FATAL(ml_broker_restart(&broker), 0);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTED, 20000u));
    ml_mqtt_sub_stop(sub);
    sub = ml_mqtt_sub_start(broker.obs_port, "meterlab/#", WAIT_MS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/again", "1", 1), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_mqtt_sub_count(sub) >= 1, WAIT_MS));
    ml_esp_at_get_stats(at, &s);
    CU_ASSERT_EQUAL(s.mqtt_connects, 2);
    CU_ASSERT_EQUAL(s.mqtt_published, 3);
    /* stop: the module's session is cleaned */
    ml_esp_at_mqtt_stop(at);
    struct ml_at_emu_status st;
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), !st.mqtt_connected), WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(at), ML_ESP_AT_MQTT_DISABLED);
}

static void test_esp_at_mqtt_mutual_tls(void)
{
    struct ml_broker_opts bo = {.tls = true, .require_cert = true, .client_cn = "MPS2AN386-000001"};
    CU_ASSERT_TRUE_FATAL(start_broker(&bo));
    /* the module's provisioned CA, certificate and key (mfg partition) */
    struct ml_at_emu_opts o = {.eth_link = true,
                               .ca_file = broker.ca_file,
                               .cert_file = broker.client_cert,
                               .key_file = broker.client_key};
    CU_ASSERT_TRUE_FATAL(start(&o));
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TLS_MUTUAL, "127.0.0.1", broker.port,
                                     "MPS2AN386-000001",        NULL,        NULL};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(at, &cfg), ML_OK);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTED, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(at, "meterlab/tls", "secure", 6), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_mqtt_sub_count(sub) >= 1, WAIT_MS));
    /* without the client certificate (scheme 3) the broker refuses */
    cfg.scheme = ML_ESP_AT_MQTT_TLS_VERIFY_SERVER;
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(at, &cfg), ML_OK);
    struct ml_esp_at_stats s;
    CU_ASSERT_TRUE(WAIT_FOR((ml_esp_at_get_stats(at, &s), s.mqtt_errors >= 1), WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(at), ML_ESP_AT_MQTT_CONNECTING);
}

static void test_esp_at_module_reset_recovers(void)
{
    struct ml_at_emu_opts o = {.eth_link = true, .n_ports = 1, .ports = {{502, 0}}};
    CU_ASSERT_TRUE_FATAL(start(&o));
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    int l = ml_esp_at_listen(at, 502);
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "127.0.0.1", broker.port,
                                     "SIM0000001",       NULL,        NULL};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(at, &cfg), ML_OK);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTED, WAIT_MS));
    int fd = tcp_connect(ml_at_emu_host_port(emu, 502));
    int c = -1;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = ml_esp_at_accept(at, l)) >= 0, WAIT_MS));

    ml_at_emu_reset(emu); /* the module restarts on its own ("ready") */
    uint8_t b;
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_recv(at, c, &b, 1) == ML_ECONNREFUSED, WAIT_MS));
    ml_esp_at_close(at, c);
    close(fd);
    /* everything wanted is applied again: server, MQTT */
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_mqtt_state(at) == ML_ESP_AT_MQTT_CONNECTED, WAIT_MS));
    fd = tcp_connect(ml_at_emu_host_port(emu, 502));
    CU_ASSERT_TRUE(WAIT_FOR((c = ml_esp_at_accept(at, l)) >= 0, WAIT_MS));
    CU_ASSERT_EQUAL(send(fd, "x", 1, 0), 1);
    CU_ASSERT_TRUE(dev_read(c, &b, 1));
    close(fd);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(at, &s);
    CU_ASSERT_TRUE(s.resets >= 2 && s.resets <= 3); /* + the power-on "ready" when seen */
}

static void test_esp_at_hung_module_times_out(void)
{
    CU_ASSERT_TRUE_FATAL(start(NULL));
    CU_ASSERT_EQUAL(ml_esp_at_net_up(at, ML_ESP_AT_IF_ETH, NULL, NULL), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_utc(at) > 0, WAIT_MS)); /* quiet from here on */
    ml_at_emu_set_fault(emu, ML_AT_EMU_MUTE, true);
    CU_ASSERT_EQUAL(ml_esp_at_ping_start(at, 0x7F000001u), ML_OK);
    uint64_t t0 = now_ms();
    CU_ASSERT_FALSE(WAIT_FOR(ml_esp_at_ping_state(at) != ML_ESP_AT_OP_PENDING, 1000u));
    ml_at_emu_set_fault(emu, ML_AT_EMU_MUTE, false); /* the command was lost */
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_ping_state(at) != ML_ESP_AT_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(at), ML_ESP_AT_OP_FAILED);
    CU_ASSERT_TRUE(now_ms() - t0 >= ML_ESP_AT_TMO_PING_MS - 50u);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(at, &s);
    CU_ASSERT_EQUAL(s.timeouts, 1);
    /* the module answers again */
    CU_ASSERT_EQUAL(ml_esp_at_ping_start(at, 0x7F000001u), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(ml_esp_at_ping_state(at) != ML_ESP_AT_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(at), ML_ESP_AT_OP_OK);
}

int main(int argc, char **argv)
{
    static const struct ml_test_case all[] = {
        {"test_esp_at_boot_eth_dhcp", test_esp_at_boot_eth_dhcp},
        {"test_esp_at_wifi_join_and_ap", test_esp_at_wifi_join_and_ap},
        {"test_esp_at_tcp_both_ways", test_esp_at_tcp_both_ways},
        {"test_esp_at_ssl_server", test_esp_at_ssl_server},
        {"test_esp_at_two_servers_many_links", test_esp_at_two_servers_many_links},
        {"test_esp_at_mqtt_publish_and_reconnect", test_esp_at_mqtt_publish_and_reconnect},
        {"test_esp_at_mqtt_mutual_tls", test_esp_at_mqtt_mutual_tls},
        {"test_esp_at_module_reset_recovers", test_esp_at_module_reset_recovers},
        {"test_esp_at_hung_module_times_out", test_esp_at_hung_module_times_out},
    };
    struct ml_test_case pick[ML_ARRAY_SIZE(all)];
    size_t n = 0;
    for (size_t i = 0; i < ML_ARRAY_SIZE(all); i++) {
        if (argc < 2 || strcmp(argv[1], all[i].name) == 0) {
            pick[n++] = all[i];
        }
    }
    return ml_test_run("esp_at", pick, n, setup, teardown);
}
