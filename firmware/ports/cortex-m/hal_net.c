/*
 * Network on the MPS2-AN386 port: not yet. A later issue brings the AT
 * co-processor client (HAL_UART_COPROC); until then every operation reports
 * ML_ENOSYS (or "no link") so apps run without a network.
 */
#include "hal_net.h"

#include "err.h"

bool hal_net_link_is_up(enum hal_net_if nif)
{
    (void)nif;
    return false;
}

int hal_net_up(enum hal_net_if nif, const char *ssid, const char *psk)
{
    (void)nif;
    (void)ssid;
    (void)psk;
    return ML_ENOSYS;
}

int hal_net_dhcp_start(void)
{
    return ML_ENOSYS;
}

enum hal_net_op hal_net_dhcp_state(struct hal_net_ipv4 *out)
{
    (void)out;
    return HAL_NET_OP_FAILED;
}

int hal_net_set_ipv4(const struct hal_net_ipv4 *addr)
{
    (void)addr;
    return ML_ENOSYS;
}

void hal_net_get_ipv4(struct hal_net_ipv4 *out)
{
    out->ip = 0;
    out->netmask = 0;
    out->gateway = 0;
    out->dns = 0;
}

int hal_net_ap_start(const char *ssid, const char *psk)
{
    (void)ssid;
    (void)psk;
    return ML_ENOSYS;
}

void hal_net_ap_stop(void)
{
}

int hal_net_set_hostname(const char *name)
{
    (void)name;
    return ML_ENOSYS; /* the AT co-processor client (issue #12) will carry it */
}

int hal_net_ping_start(uint32_t ip)
{
    (void)ip;
    return ML_ENOSYS;
}

enum hal_net_op hal_net_ping_state(void)
{
    return HAL_NET_OP_FAILED;
}

int hal_tcp_listen(uint16_t port)
{
    (void)port;
    return ML_ENOSYS;
}

uint16_t hal_tcp_local_port(int listener)
{
    (void)listener;
    return 0;
}

int hal_tcp_accept(int listener)
{
    (void)listener;
    return ML_ENOSYS;
}

int hal_tcp_recv(int conn, uint8_t *buf, size_t cap)
{
    (void)conn;
    (void)buf;
    (void)cap;
    return ML_ENOSYS;
}

int hal_tcp_send(int conn, const uint8_t *buf, size_t len)
{
    (void)conn;
    (void)buf;
    (void)len;
    return ML_ENOSYS;
}

void hal_tcp_close(int handle)
{
    (void)handle;
}
