/*
 * Network on the MPS2-AN386 port: an ESP32 co-processor running Espressif's
 * ESP-AT firmware on HAL_UART_COPROC (UART4, 115200 8N1), driven by the
 * portable client in core/esp_at. In QEMU the fifth -serial is connected to
 * the AT emulator (sim/at_emu). See docs/esp-at.md.
 *
 * The client is polled from every hal_net_* / hal_tcp_* / hal_mqtt_* call
 * (the app loop calls them each turn; bytes from the module wake the loop
 * through the UART RX interrupt) and from cm_net_poll(), which an image may
 * call from its idle hook. Handles: connections are the client's slot
 * numbers 0..ML_ESP_AT_SLOTS-1, listeners LISTENER_BASE + index.
 */
#include "hal_net.h"

#include "cm_port.h"
#include "err.h"
#include "esp_at/esp_at.h"
#include "hal_sys.h"
#include "hal_time.h"
#include "hal_uart.h"

#define LISTENER_BASE 16

/* Port internals shared with hal_mqtt.c (declared again there). */
struct ml_esp_at *cm_net_at(void);

static struct ml_esp_at at;
static bool started;

static int uart_read(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    int n = hal_uart_read(HAL_UART_COPROC, buf, cap, NULL);
    return n > 0 ? n : 0;
}

static int uart_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    int n = hal_uart_write(HAL_UART_COPROC, buf, len);
    return n > 0 ? n : 0;
}

/* The client, set up on first use and polled. */
struct ml_esp_at *cm_net_at(void)
{
    if (!started) {
        static const struct hal_uart_cfg cfg = {115200u, 8u, HAL_UART_PARITY_NONE, 1u, false};
        static const struct ml_esp_at_io io = {uart_read, uart_write, NULL};
        (void)hal_uart_open(HAL_UART_COPROC, &cfg);
        ml_esp_at_init(&at, &io, hal_time_ms());
        started = true;
    }
    ml_esp_at_poll(&at, hal_time_ms());
    return &at;
}

void cm_net_poll(void)
{
    (void)cm_net_at();
}

void cm_net_drain(void)
{
    if (!started) {
        return;
    }
    uint64_t end = hal_time_ms() + CM_NET_DRAIN_MS;
    while (ml_esp_at_output_pending(&at) && hal_time_ms() < end) {
        hal_sys_watchdog_kick();
        ml_esp_at_poll(&at, hal_time_ms());
    }
}

int64_t cm_net_utc(void)
{
    return started ? ml_esp_at_utc(&at) : ML_EAGAIN;
}

static enum hal_net_op op(enum ml_esp_at_op o)
{
    switch (o) {
    case ML_ESP_AT_OP_PENDING:
        return HAL_NET_OP_PENDING;
    case ML_ESP_AT_OP_OK:
        return HAL_NET_OP_OK;
    case ML_ESP_AT_OP_FAILED:
        return HAL_NET_OP_FAILED;
    default:
        return HAL_NET_OP_IDLE;
    }
}

static enum ml_esp_at_if nif_of(enum hal_net_if nif)
{
    return nif == HAL_NET_WIFI ? ML_ESP_AT_IF_WIFI : ML_ESP_AT_IF_ETH;
}

bool hal_net_link_is_up(enum hal_net_if nif)
{
    return nif < HAL_NET_IF_COUNT && ml_esp_at_link_is_up(cm_net_at(), nif_of(nif));
}

int hal_net_up(enum hal_net_if nif, const char *ssid, const char *psk)
{
    ML_VERIFY(nif < HAL_NET_IF_COUNT, ML_EBADF);
    return ml_esp_at_net_up(cm_net_at(), nif_of(nif), ssid, psk);
}

int hal_net_dhcp_start(void)
{
    return ml_esp_at_dhcp_start(cm_net_at());
}

enum hal_net_op hal_net_dhcp_state(struct hal_net_ipv4 *out)
{
    struct ml_esp_at_ipv4 a;
    enum ml_esp_at_op o = ml_esp_at_dhcp_state(cm_net_at(), &a);
    if (o == ML_ESP_AT_OP_OK && out != NULL) {
        out->ip = a.ip;
        out->netmask = a.netmask;
        out->gateway = a.gateway;
        out->dns = a.dns;
    }
    return op(o);
}

int hal_net_set_ipv4(const struct hal_net_ipv4 *addr)
{
    ML_VERIFY(addr != NULL, ML_EINVAL);
    struct ml_esp_at_ipv4 a = {addr->ip, addr->netmask, addr->gateway, addr->dns};
    return ml_esp_at_set_ipv4(cm_net_at(), &a);
}

void hal_net_get_ipv4(struct hal_net_ipv4 *out)
{
    struct ml_esp_at_ipv4 a;
    ml_esp_at_get_ipv4(cm_net_at(), &a);
    out->ip = a.ip;
    out->netmask = a.netmask;
    out->gateway = a.gateway;
    out->dns = a.dns;
}

int hal_net_set_hostname(const char *name)
{
    return ml_esp_at_set_hostname(cm_net_at(), name);
}

/* The module announces @p name (AT+MDNS; it probes and renames it). Not here:
 * the alias, and @p name as the DHCP host name, which stays the
 * hal_net_set_hostname() one (docs/conformance.md 5.1). */
int hal_net_set_mdns(const char *name, const char *alias)
{
    (void)alias;
    return ml_esp_at_set_mdns_name(cm_net_at(), name);
}

int hal_net_ap_start(const char *ssid, const char *psk)
{
    return ml_esp_at_ap_start(cm_net_at(), ssid, psk);
}

void hal_net_ap_stop(void)
{
    ml_esp_at_ap_stop(cm_net_at());
}

int hal_net_ping_start(uint32_t ip)
{
    return ml_esp_at_ping_start(cm_net_at(), ip);
}

enum hal_net_op hal_net_ping_state(void)
{
    return op(ml_esp_at_ping_state(cm_net_at()));
}

/* ------------------------------------------------------------------------- */
/* TCP servers                                                               */
/* ------------------------------------------------------------------------- */

int hal_tcp_listen(uint16_t port)
{
    int li = ml_esp_at_listen(cm_net_at(), port);
    return li < 0 ? li : LISTENER_BASE + li;
}

int hal_tcp_listen_tls(uint16_t port)
{
    int li = ml_esp_at_listen_tls(cm_net_at(), port); /* the module's SSL server */
    return li < 0 ? li : LISTENER_BASE + li;
}

uint16_t hal_tcp_local_port(int listener)
{
    return ml_esp_at_local_port(cm_net_at(), listener - LISTENER_BASE);
}

int hal_tcp_accept(int listener)
{
    ML_VERIFY(listener >= LISTENER_BASE, ML_EBADF);
    return ml_esp_at_accept(cm_net_at(), listener - LISTENER_BASE);
}

/* A client connection (AT+CIPSTART through the module): waits, polling the client
 * and kicking the watchdog, until the module answered (bounded by the command's
 * timeout), so the caller gets a connected handle or an error like on the sim. */
int hal_tcp_connect(uint32_t ipv4, uint16_t port)
{
    struct ml_esp_at *e = cm_net_at();
    int slot = ml_esp_at_connect(e, ipv4, port);
    if (slot < 0) {
        return slot == ML_EINVAL ? ML_ECONNREFUSED : slot;
    }
    uint64_t end = hal_time_ms() + ML_ESP_AT_TMO_CONN_MS + ML_ESP_AT_TMO_CMD_MS;
    while (ml_esp_at_connect_state(e, slot) == ML_ESP_AT_OP_PENDING && hal_time_ms() < end) {
        hal_sys_watchdog_kick();
        ml_esp_at_poll(e, hal_time_ms());
    }
    if (ml_esp_at_connect_state(e, slot) != ML_ESP_AT_OP_OK) {
        ml_esp_at_close(e, slot);
        return ML_ECONNREFUSED;
    }
    return slot;
}

uint32_t hal_tcp_peer_ipv4(int conn)
{
    return ml_esp_at_peer_ipv4(cm_net_at(), conn); /* from +LINK_CONN (AT+SYSMSG bit 1) */
}

int hal_tcp_recv(int conn, uint8_t *buf, size_t cap)
{
    return ml_esp_at_recv(cm_net_at(), conn, buf, cap);
}

int hal_tcp_send(int conn, const uint8_t *buf, size_t len)
{
    struct ml_esp_at *e = cm_net_at();
    int n = ml_esp_at_send(e, conn, buf, len);
    if (n > 0) {
        ml_esp_at_poll(e, hal_time_ms()); /* start AT+CIPSEND now */
    }
    return n;
}

void hal_tcp_close(int handle)
{
    struct ml_esp_at *e = cm_net_at();
    if (handle >= LISTENER_BASE) {
        ml_esp_at_unlisten(e, handle - LISTENER_BASE);
    } else {
        ml_esp_at_close(e, handle);
    }
}
