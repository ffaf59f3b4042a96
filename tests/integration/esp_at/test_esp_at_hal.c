/*
 * The Cortex-M port's hal_net.c / hal_mqtt.c compiled for the host, with
 * HAL_UART_COPROC on a socketpair to the AT emulator and hal_time_ms() on the
 * host clock: the HAL contracts (hal_net.h, hal_mqtt.h) as the Smart Connect
 * app sees them on the target, against real sockets and a real broker.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "hal_mqtt.h"
#include "hal_net.h"
#include "hal_time.h"
#include "hal_uart.h"
#include "ml_at_emu.h"
#include "ml_broker.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"

#define WAIT_MS 10000u

static int sv[2] = {-1, -1};
static struct ml_at_emu *emu;
static struct ml_broker broker;
static struct ml_mqtt_sub *sub;
static int uart_opens;

/* ---- the two HAL pieces hal_net.c needs: time and the co-processor UART ---- */

uint64_t hal_time_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg)
{
    CU_ASSERT_EQUAL(id, HAL_UART_COPROC);
    CU_ASSERT_EQUAL(cfg->baud, 115200u);
    uart_opens++;
    return ML_OK;
}

int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us)
{
    (void)ts_us;
    if (id != HAL_UART_COPROC) {
        return ML_EBADF;
    }
    ssize_t n = recv(sv[1], buf, cap, MSG_DONTWAIT);
    return n > 0 ? (int)n : 0;
}

int hal_uart_write(enum hal_uart_id id, const uint8_t *buf, size_t len)
{
    if (id != HAL_UART_COPROC) {
        return ML_EBADF;
    }
    /* a 1 KiB TX ring like the board's */
    ssize_t n = send(sv[1], buf, len > 1024u ? 1024u : len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n > 0 ? (int)n : 0;
}

static int wdt_kicks;

void hal_sys_watchdog_kick(void)
{
    wdt_kicks++;
}

/* ------------------------------------------------------------------------- */

/* hal_net.c: polls the client (an image calls it from its idle hook); drains
 * its output before a reset (cm_pre_reset_set(cm_net_drain) in the image). */
void cm_net_poll(void);
void cm_net_drain(void);

static void idle(void)
{
    cm_net_poll();
    struct pollfd p = {.fd = sv[1], .events = POLLIN};
    (void)poll(&p, 1, 2);
}

#define WAIT_FOR(cond, ms)                                                                         \
    ({                                                                                             \
        uint64_t t_end_ = hal_time_ms() + (ms);                                                    \
        bool ok_;                                                                                  \
        while (!(ok_ = (cond)) && hal_time_ms() < t_end_) {                                        \
            idle();                                                                                \
        }                                                                                          \
        ok_;                                                                                       \
    })

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

/* One module for the whole run: the HAL's client is a port singleton. */
static bool start_all(void)
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        ml_broker_start(&broker, NULL) != 0) {
        return false;
    }
    struct ml_at_emu_opts o = {.eth_link = true, .n_ports = 1, .ports = {{502, 0}}};
    if (ml_at_emu_start(&emu, sv[0], &o) != 0) {
        return false;
    }
    sub = ml_mqtt_sub_start(broker.obs_port, "meterlab/#", WAIT_MS);
    return sub != NULL;
}

static void test_hal_net_eth_dhcp_ping(void)
{
    CU_ASSERT_EQUAL(hal_net_up(HAL_NET_IF_COUNT, NULL, NULL), ML_EBADF);
    CU_ASSERT_EQUAL(hal_net_up(HAL_NET_ETH, "", ""), ML_OK);
    CU_ASSERT_EQUAL(uart_opens, 1);
    CU_ASSERT_TRUE(WAIT_FOR(hal_net_link_is_up(HAL_NET_ETH), WAIT_MS));
    CU_ASSERT_FALSE(hal_net_link_is_up(HAL_NET_WIFI));
    CU_ASSERT_EQUAL(hal_net_set_hostname("smart-connect-mps2an386-000001"), ML_OK);
    CU_ASSERT_EQUAL(hal_net_set_hostname("no_underscores"), ML_EINVAL);
    CU_ASSERT_EQUAL(hal_net_dhcp_start(), ML_OK);
    struct hal_net_ipv4 a = {0, 0, 0, 0};
    CU_ASSERT_TRUE(WAIT_FOR(hal_net_dhcp_state(&a) != HAL_NET_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(hal_net_dhcp_state(&a), HAL_NET_OP_OK);
    CU_ASSERT_EQUAL(a.ip, 0xC0A80132u);
    struct hal_net_ipv4 g;
    hal_net_get_ipv4(&g);
    CU_ASSERT_EQUAL(g.ip, a.ip);
    CU_ASSERT_EQUAL(hal_net_ping_start(a.gateway), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR(hal_net_ping_state() != HAL_NET_OP_PENDING, WAIT_MS));
    CU_ASSERT_EQUAL(hal_net_ping_state(), HAL_NET_OP_OK);
    struct ml_at_emu_status st;
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), st.mdns_on), WAIT_MS));
    CU_ASSERT_STRING_EQUAL(st.hostname, "smart-connect-mps2an386-000001");
    CU_ASSERT_EQUAL(hal_net_ap_start("SC-MPS2AN386-000001", "qemu0001"), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), st.ap_on), WAIT_MS));
    hal_net_ap_stop();
    CU_ASSERT_TRUE(WAIT_FOR((ml_at_emu_get_status(emu, &st), !st.ap_on), WAIT_MS));
}

static void test_hal_tcp_modbus_like(void)
{
    int l = hal_tcp_listen(502);
    CU_ASSERT_TRUE_FATAL(l >= 0);
    CU_ASSERT_EQUAL(hal_tcp_local_port(l), 502);
    CU_ASSERT_EQUAL(hal_tcp_listen(502), ML_EBUSY);
    CU_ASSERT_EQUAL(hal_tcp_accept(l), ML_EAGAIN);
    int fd = tcp_connect(ml_at_emu_host_port(emu, 502));
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    int c = -1;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = hal_tcp_accept(l)) >= 0, WAIT_MS));
    /* the peer's address, for the per-client rules (docs/security.md) */
    CU_ASSERT_EQUAL(hal_tcp_peer_ipv4(c), 0x7F000001u);
    const uint8_t req[] = {0, 7, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2};
    CU_ASSERT_EQUAL(send(fd, req, sizeof req, 0), (ssize_t)sizeof req);
    uint8_t in[64];
    int n = 0;
    CU_ASSERT_TRUE(WAIT_FOR((n = hal_tcp_recv(c, in, sizeof in)) > 0, WAIT_MS));
    CU_ASSERT_EQUAL(n, (int)sizeof req);
    CU_ASSERT_EQUAL(memcmp(in, req, sizeof req), 0);
    const uint8_t rsp[] = {0, 7, 0, 0, 0, 7, 1, 3, 4, 0, 1, 0, 2};
    CU_ASSERT_EQUAL(hal_tcp_send(c, rsp, sizeof rsp), (int)sizeof rsp);
    uint8_t got[sizeof rsp];
    size_t have = 0;
    CU_ASSERT_TRUE(WAIT_FOR(({
                                ssize_t k = recv(fd, got + have, sizeof got - have, MSG_DONTWAIT);
                                have += k > 0 ? (size_t)k : 0u;
                                hal_net_link_is_up(
                                    HAL_NET_ETH); /* the app loop keeps calling the HAL */
                                have == sizeof got;
                            }),
                            WAIT_MS));
    CU_ASSERT_EQUAL(memcmp(got, rsp, sizeof rsp), 0);
    close(fd);
    CU_ASSERT_TRUE(WAIT_FOR(hal_tcp_recv(c, in, sizeof in) == ML_ECONNREFUSED, WAIT_MS));
    hal_tcp_close(c);
    CU_ASSERT_EQUAL(hal_tcp_recv(c, in, sizeof in), ML_EBADF);
    hal_tcp_close(l);
    CU_ASSERT_EQUAL(hal_tcp_accept(l), ML_EAGAIN); /* a closed listener accepts nothing */
}

/* hal_tcp_connect() through the module (AT+CIPSTART) to a real loopback server: the
 * request arrives, a 5000-byte answer comes back whole through passive receive
 * (larger than the 256-byte ring), then the server's close; a closed port and an
 * address the emulator does not reach are ML_ECONNREFUSED. */
static void test_hal_tcp_connect(void)
{
    int srv = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    CU_ASSERT_FATAL(srv >= 0 && bind(srv, (struct sockaddr *)&sa, sizeof sa) == 0 &&
                    listen(srv, 2) == 0 && getsockname(srv, (struct sockaddr *)&sa, &sl) == 0);
    uint16_t port = ntohs(sa.sin_port);
    struct ml_at_emu_status st0, st;
    ml_at_emu_get_status(emu, &st0);
    int c = hal_tcp_connect(0x7F000001u, port);
    CU_ASSERT_TRUE_FATAL(c >= 0 && c < 16);
    int fd = accept(srv, NULL, NULL);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    ml_at_emu_get_status(emu, &st);
    CU_ASSERT_EQUAL(st.connects - st0.connects, 1u);
    static const char req[] = "GET /fw.img HTTP/1.0\r\n\r\n";
    CU_ASSERT_EQUAL(hal_tcp_send(c, (const uint8_t *)req, sizeof req - 1), (int)sizeof req - 1);
    char got[64] = "";
    size_t have = 0;
    CU_ASSERT_TRUE(WAIT_FOR(({
                                ssize_t k =
                                    recv(fd, got + have, sizeof req - 1 - have, MSG_DONTWAIT);
                                have += k > 0 ? (size_t)k : 0u;
                                have == sizeof req - 1;
                            }),
                            WAIT_MS));
    CU_ASSERT_EQUAL(memcmp(got, req, sizeof req - 1), 0);
    static uint8_t big[5000], back[5000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 13u + 7u);
    }
    CU_ASSERT_EQUAL(send(fd, big, sizeof big, 0), (ssize_t)sizeof big);
    close(fd);
    size_t n_back = 0;
    int r = 0;
    CU_ASSERT_TRUE(WAIT_FOR(({
                                r = hal_tcp_recv(c, back + n_back, sizeof back - n_back);
                                n_back += r > 0 ? (size_t)r : 0u;
                                r == ML_ECONNREFUSED || n_back == sizeof back;
                            }),
                            WAIT_MS));
    CU_ASSERT_EQUAL(n_back, sizeof big);
    CU_ASSERT_EQUAL(memcmp(back, big, sizeof big), 0);
    CU_ASSERT_TRUE(WAIT_FOR(hal_tcp_recv(c, back, 1) == ML_ECONNREFUSED, WAIT_MS));
    hal_tcp_close(c);
    close(srv); /* nothing listens there now */
    CU_ASSERT_EQUAL(hal_tcp_connect(0x7F000001u, port), ML_ECONNREFUSED);
    CU_ASSERT_EQUAL(hal_tcp_connect(0xC0A80101u, 80), ML_ECONNREFUSED); /* not loopback */
    CU_ASSERT_EQUAL(hal_tcp_connect(0, 80), ML_ECONNREFUSED);
}

/* What hal_sys_reboot() runs first on a Smart Connect image: an answer handed to
 * hal_tcp_send() (larger than one AT+CIPSEND) reaches the peer with no further
 * HAL call, and the drain returns once it is through, not after its time bound. */
static void test_drain_before_reset(void)
{
    int l = hal_tcp_listen(80); /* not in the emulator's options: known once the module has it */
    CU_ASSERT_TRUE_FATAL(l >= 0);
    uint16_t hp = 0;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((hp = ml_at_emu_host_port(emu, 80)) != 0, WAIT_MS));
    int fd = tcp_connect(hp);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    int c = -1;
    CU_ASSERT_TRUE_FATAL(WAIT_FOR((c = hal_tcp_accept(l)) >= 0, WAIT_MS));
    uint8_t answer[1500];
    for (size_t i = 0; i < sizeof answer; i++) {
        answer[i] = (uint8_t)(i * 7u + 1u);
    }
    size_t queued = 0;
    while (queued < sizeof answer) { /* the send ring takes 1 KiB at a time */
        int n = hal_tcp_send(c, answer + queued, sizeof answer - queued);
        CU_ASSERT_TRUE_FATAL(n >= 0);
        queued += (size_t)n;
        if (n == 0) {
            cm_net_drain();
        }
    }
    int kicks0 = wdt_kicks;
    uint64_t t0 = hal_time_ms();
    cm_net_drain();
    uint64_t took = hal_time_ms() - t0;
    CU_ASSERT_TRUE(took < 500u); /* done by the module's SEND OK, not by the bound */
    CU_ASSERT_TRUE(wdt_kicks > kicks0);
    uint8_t got[sizeof answer];
    size_t have = 0;
    uint64_t end = hal_time_ms() + WAIT_MS;
    while (have < sizeof got && hal_time_ms() < end) { /* no HAL call: the MCU has reset */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        (void)poll(&p, 1, 10);
        ssize_t k = recv(fd, got + have, sizeof got - have, MSG_DONTWAIT);
        have += k > 0 ? (size_t)k : 0u;
    }
    CU_ASSERT_EQUAL(have, sizeof answer);
    CU_ASSERT_EQUAL(memcmp(got, answer, sizeof answer), 0);
    printf("  drain: %zu bytes through the module in %llu ms\n", sizeof answer,
           (unsigned long long)took);
    close(fd);
    hal_tcp_close(c);
    hal_tcp_close(l);
    WAIT_FOR(false, 50u); /* let the module take the closes */
}

static void test_hal_mqtt_contract(void)
{
    struct hal_mqtt_stats s0, s;
    hal_mqtt_get_stats(&s0);
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
    static const char *const bad[] = {"",
                                      "http://x",
                                      "mqtt://",
                                      "mqtt://h:0",
                                      "mqtt://h:65536",
                                      "mqtt://h:12x",
                                      "mqtt://h/extra",
                                      "mqtt://[::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hal_mqtt_cfg cfg = {.url = bad[i]};
        CU_ASSERT_EQUAL(hal_mqtt_start(&cfg), ML_EINVAL);
    }
    struct hal_mqtt_cfg certless = {.url = "mqtts://h", .cert_file = "c.pem"};
    CU_ASSERT_EQUAL(hal_mqtt_start(&certless), ML_EINVAL); /* a certificate without key */
    CU_ASSERT_EQUAL(hal_mqtt_start(NULL), ML_EINVAL);
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
    CU_ASSERT_EQUAL(hal_mqtt_publish("meterlab/x", "a", 1), ML_EAGAIN);

    char url[64];
    snprintf(url, sizeof url, "mqtt://127.0.0.1:%u/", broker.port);
    struct hal_mqtt_cfg cfg = {.url = url, .client_id = "MPS2AN386-000001"};
    CU_ASSERT_EQUAL(hal_mqtt_start(&cfg), ML_OK);
    CU_ASSERT_TRUE_FATAL(WAIT_FOR(hal_mqtt_get_state() == HAL_MQTT_CONNECTED, WAIT_MS));
    CU_ASSERT_EQUAL(hal_mqtt_publish(NULL, "a", 1), ML_EINVAL);
    CU_ASSERT_EQUAL(hal_mqtt_publish("meterlab/#", "a", 1), ML_EINVAL);
    CU_ASSERT_EQUAL(hal_mqtt_publish("meterlab/state", "{\"ok\":true}", 11), ML_OK);
    CU_ASSERT_TRUE(WAIT_FOR((hal_mqtt_get_state(), ml_mqtt_sub_count(sub) >= 1), WAIT_MS));
    struct ml_mqtt_msg m;
    CU_ASSERT_TRUE(ml_mqtt_sub_get(sub, 0, &m));
    CU_ASSERT_STRING_EQUAL(m.topic, "meterlab/state");
    CU_ASSERT_STRING_EQUAL(m.payload, "{\"ok\":true}");
    hal_mqtt_get_stats(&s);
    CU_ASSERT_EQUAL(s.connects - s0.connects, 1);
    CU_ASSERT_EQUAL(s.send_pass - s0.send_pass, 1);
    CU_ASSERT_EQUAL(s.send_fail - s0.send_fail, 3); /* EAGAIN, NULL topic, wildcard */

    /* broker down and up: errors counted, reconnect by itself */
    ml_broker_stop(&broker);
    CU_ASSERT_TRUE(WAIT_FOR(hal_mqtt_get_state() == HAL_MQTT_CONNECTING, WAIT_MS));
    CU_ASSERT_EQUAL_FATAL(ml_broker_restart(&broker), 0);
    CU_ASSERT_TRUE(WAIT_FOR(hal_mqtt_get_state() == HAL_MQTT_CONNECTED, 20000u));
    hal_mqtt_get_stats(&s);
    CU_ASSERT_TRUE(s.errors - s0.errors >= 1);
    CU_ASSERT_EQUAL(s.connects - s0.connects, 2);
    hal_mqtt_stop();
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
    hal_mqtt_stop(); /* safe twice */
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (!start_all()) {
        fprintf(stderr, "test_esp_at_hal: set-up failed (broker or emulator)\n");
        return 1;
    }
    static const struct ml_test_case cases[] = {
        {"hal_net: Ethernet, DHCP, ping, host name, AP", test_hal_net_eth_dhcp_ping},
        {"hal_tcp: Modbus-like exchange and closes", test_hal_tcp_modbus_like},
        {"cm_net_drain: an answer goes out before a reset", test_drain_before_reset},
        {"hal_tcp_connect: a download through AT+CIPSTART", test_hal_tcp_connect},
        {"hal_mqtt: contract, publish, broker down/up", test_hal_mqtt_contract},
    };
    int rc = ml_test_run("esp_at_hal", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    ml_mqtt_sub_stop(sub);
    ml_at_emu_stop(emu);
    ml_broker_destroy(&broker);
    close(sv[0]);
    close(sv[1]);
    return rc;
}
