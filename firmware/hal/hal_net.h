/**
 * @file hal_net.h
 * @brief Network interfaces (link, addressing, AP mode, ping) and TCP servers.
 *
 * The network *policy* (DHCP tries, link-local fallback, AP mode rules) lives
 * in core/net; this contract only offers the mechanisms, each asynchronous:
 * start it, then poll its state from the app loop. Thread context (app loop).
 * Addresses are IPv4 in host byte order (0xC0A80101 = 192.168.1.1).
 */
#ifndef FIRMWARE_HAL_HAL_NET_H
#define FIRMWARE_HAL_HAL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hal_net_if { HAL_NET_ETH = 0, HAL_NET_WIFI, HAL_NET_IF_COUNT };

struct hal_net_ipv4 {
    uint32_t ip;
    uint32_t netmask;
    uint32_t gateway;
    uint32_t dns;
};

/** Asynchronous operation state. */
enum hal_net_op {
    HAL_NET_OP_IDLE = 0,
    HAL_NET_OP_PENDING,
    HAL_NET_OP_OK,
    HAL_NET_OP_FAILED,
};

/** True when interface @p nif has link (Ethernet carrier / Wi-Fi associated). */
bool hal_net_link_is_up(enum hal_net_if nif);

/**
 * Make @p nif the active interface and bring it up (Wi-Fi: join @p ssid with
 * @p psk; both ignored for Ethernet). The other interface is taken down.
 * @retval 0 started  @retval ML_EINVAL bad argument  @retval ML_EBADF no such hardware
 */
int hal_net_up(enum hal_net_if nif, const char *ssid, const char *psk);

/** Start one DHCP attempt on the active interface; poll with hal_net_dhcp_state(). */
int hal_net_dhcp_start(void);

/** State of the last DHCP attempt; on HAL_NET_OP_OK, @p out gets the lease. */
enum hal_net_op hal_net_dhcp_state(struct hal_net_ipv4 *out);

/** Configure @p addr statically on the active interface (link-local included). */
int hal_net_set_ipv4(const struct hal_net_ipv4 *addr);

/** Current address of the active interface (ip 0 when none). */
void hal_net_get_ipv4(struct hal_net_ipv4 *out);

/**
 * Set the host name announced on the network (DHCP option 12; mDNS on ports
 * that have it). The name is copied.
 * @retval 0 ok
 * @retval ML_EINVAL not 1..63 characters of a-z, 0-9 and '-' (RFC 1123 label)
 * @retval ML_ENOSYS no network on this port
 */
int hal_net_set_hostname(const char *name);

/**
 * The device's names on the local network: the DHCP host name (option 12)
 * becomes @p name; mDNS answers "<name>.local", claimed with RFC 6762
 * probing and renamed "<name>-2", "-3", ... while another host holds it, and
 * "<alias>.local" (NULL: none). Both are copied; both must be RFC 1123
 * labels of at most 56 characters (a rename suffix must still fit).
 * hal_net_set_hostname() keeps naming the device's certificate.
 * Sim: answered on 224.0.0.251:5353 once sim_net_mdns_enable() allowed it
 * (docs/decisions.md, "mDNS"). Cortex-M (ESP-AT): the module announces @p name
 * (AT+MDNS, probed and renamed by the module); @p alias and the DHCP host
 * name are not applied there (the latter stays the hal_net_set_hostname() one).
 * @retval 0 ok  @retval ML_EINVAL bad name  @retval ML_ENOSYS not on this port
 */
int hal_net_set_mdns(const char *name, const char *alias);

/** Start/stop the access point (SSID, WPA2 key, 192.168.71.1/24 with a DHCP server). */
int hal_net_ap_start(const char *ssid, const char *psk);
void hal_net_ap_stop(void);

/** Start one ICMP echo to @p ip; poll with hal_net_ping_state(). */
int hal_net_ping_start(uint32_t ip);
enum hal_net_op hal_net_ping_state(void);

/* ------------------------------------------------------------------------- */
/* TCP servers (Modbus TCP, HTTP)                                            */
/* ------------------------------------------------------------------------- */

/**
 * Listen on TCP @p port. @return a listener handle >= 0, ML_EBUSY (port taken),
 * ML_ENOMEM (no socket left).
 */
int hal_tcp_listen(uint16_t port);

/**
 * Listen on TCP @p port with TLS terminated by the port (HTTPS): connections
 * accepted from this listener carry plaintext through hal_tcp_recv() and
 * hal_tcp_send() like any other; the handshake runs underneath (recv says
 * ML_EAGAIN until application data arrives; a failed handshake is
 * ML_ECONNREFUSED). The server key and its self-signed certificate belong
 * to the device: made once at first use and kept (sim: the TLS directory of
 * struct sim_config; target: the network module's storage), CN = the host
 * name, subjectAltName = the host name, its ".local" name and the addresses.
 * Where they live and why: docs/decisions.md (HTTPS).
 * @return a listener handle >= 0, ML_EBUSY (port taken), ML_ENOMEM, ML_EIO
 *         (no key or certificate), ML_ENOSYS (no TLS server on this port).
 */
int hal_tcp_listen_tls(uint16_t port);

/** The port a listener is bound to (useful with port 0 in the sim). */
uint16_t hal_tcp_local_port(int listener);

/**
 * Open a TCP connection to @p ipv4 (host byte order) : @p port, as a client
 * (the firmware download of an MQTT command). The connection is usable with
 * hal_tcp_recv/send/close like an accepted one.
 * @return a connection handle >= 0; ML_ECONNREFUSED (refused, unreachable,
 *         timed out, or no network), ML_ENOMEM (no handle left), ML_ENOSYS.
 * Sim: connects before returning (bounded by 2 s of real time). ESP-AT (Cortex-M):
 * AT+CIPSTART in the co-processor, waited for before returning (bounded by 13 s,
 * the watchdog kicked meanwhile).
 */
int hal_tcp_connect(uint32_t ipv4, uint16_t port);

/** Accept one pending connection. @return a connection handle >= 0, or ML_EAGAIN. */
int hal_tcp_accept(int listener);

/**
 * The IPv4 address (host byte order) of a connection's peer, for per-client
 * rules (login back-off, the HTTP session). @return 0 when the port cannot
 * tell (every such client then counts as one). The ESP-AT port has it from
 * the module's +LINK_CONN message.
 */
uint32_t hal_tcp_peer_ipv4(int conn);

/**
 * Receive up to @p cap bytes. Non-blocking.
 * @return bytes (> 0), ML_EAGAIN when nothing is waiting, ML_ECONNREFUSED when
 *         the peer closed (the handle must still be closed with hal_tcp_close()).
 */
int hal_tcp_recv(int conn, uint8_t *buf, size_t cap);

/** Send @p len bytes. @return bytes accepted (may be < len), or < 0 on a broken connection. */
int hal_tcp_send(int conn, const uint8_t *buf, size_t len);

/** Close a connection or listener handle. */
void hal_tcp_close(int handle);

#endif /* FIRMWARE_HAL_HAL_NET_H */
