/**
 * @file net.h
 * @brief Network policy of the Smart Connect (products.md §1 "Network behaviour").
 *
 * Pure logic: the policy never calls the HAL. Each time the app polls it, it
 * passes what it observed (link, DHCP and ping outcomes) and gets back at most
 * one action to perform with the HAL (start DHCP, set an address, ping, AP
 * on/off). Results come back in the next poll. The app sleeps until
 * net_policy_next_deadline_ms().
 *
 * Behaviour
 * - DHCP by default: up to NET_DHCP_TRIES attempts of NET_DHCP_TIMEOUT_MS each;
 *   after the last failure a link-local 169.254.x.y/16 address derived from
 *   the serial number; DHCP is retried every NET_DHCP_RETRY_MS meanwhile.
 * - Static IPv4 when configured (applied as soon as the link is up).
 * - Losing the link drops the address; link back starts over.
 * - AP mode (requested by the button in factory-default state): the AP is
 *   switched on (192.168.71.1) and off again after a successful Wi-Fi client
 *   connection (a DHCP lease or static address on Wi-Fi).
 * - Every NET_PING_PERIOD_MS with an address: ping the gateway, then the
 *   internet probe address; pass/fail counters for each.
 * Context: app loop. State is caller-owned.
 */
#ifndef FIRMWARE_CORE_NET_NET_H
#define FIRMWARE_CORE_NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#define NET_DHCP_TRIES      3u
#define NET_DHCP_TIMEOUT_MS 10000u
#define NET_DHCP_RETRY_MS   300000u
#define NET_PING_PERIOD_MS  60000u
#define NET_PING_TIMEOUT_MS 2000u
#define NET_AP_IP           0xC0A84701u /**< 192.168.71.1 */
#define NET_INTERNET_PROBE  0x01010101u /**< 1.1.1.1 */

enum net_iface {
    NET_IF_ETHERNET = 0,
    NET_IF_WIFI = 1,
};

struct net_ipv4 {
    uint32_t ip, netmask, gateway, dns; /**< host byte order */
};

struct net_policy_cfg {
    enum net_iface iface;      /**< DefaultNetIf */
    bool dhcp;                 /**< IpMode DHCP (else Static) */
    struct net_ipv4 static_ip; /**< used when !dhcp */
    uint32_t serial_hash;      /**< seeds the link-local address (stable per device) */
};

/** Outcome of an asynchronous HAL operation, as the app observed it. */
enum net_result {
    NET_RES_NONE = 0, /**< nothing new */
    NET_RES_OK,
    NET_RES_FAILED,
};

struct net_inputs {
    bool link_up;
    enum net_result dhcp;  /**< result of the DHCP attempt in progress */
    struct net_ipv4 lease; /**< valid with dhcp == NET_RES_OK */
    enum net_result ping;  /**< result of the ping in progress */
};

enum net_action_kind {
    NET_ACT_NONE = 0,
    NET_ACT_IF_UP,      /**< bring the configured interface up (hal_net_up) */
    NET_ACT_DHCP_START, /**< hal_net_dhcp_start */
    NET_ACT_SET_IPV4,   /**< hal_net_set_ipv4(&act.addr) (addr all-zero: drop it) */
    NET_ACT_PING,       /**< hal_net_ping_start(act.addr.ip) */
    NET_ACT_AP_START,   /**< hal_net_ap_start(SSID "SC-<serial>", label key) */
    NET_ACT_AP_STOP,    /**< hal_net_ap_stop */
};

struct net_action {
    enum net_action_kind kind;
    struct net_ipv4 addr;
};

enum net_state {
    NET_ST_IF_DOWN = 0, /**< interface not brought up yet */
    NET_ST_NO_LINK,
    NET_ST_DHCP,      /**< attempt in progress */
    NET_ST_DHCP_WAIT, /**< between attempts */
    NET_ST_BOUND,     /**< DHCP lease */
    NET_ST_STATIC,
    NET_ST_LINK_LOCAL,
};

struct net_counters {
    uint32_t gw_ping_pass, gw_ping_fail;
    uint32_t internet_ping_pass, internet_ping_fail;
    uint32_t dhcp_attempts, dhcp_failures;
};

struct net_policy {
    struct net_policy_cfg cfg;
    enum net_state state;
    uint8_t tries;
    uint64_t deadline_ms; /**< timeout of the step in progress */
    struct net_ipv4 addr;
    bool ap_requested, ap_on;
    bool ping_busy, ping_internet; /**< which target the ping in progress is for */
    uint64_t next_ping_ms;
    uint64_t ping_deadline_ms;
    uint64_t next_dhcp_retry_ms;
    bool set_pending; /**< an address change waits to be handed out */
    struct net_counters counters;
};

/** Start from scratch (interface down, no address). */
void net_policy_init(struct net_policy *np, const struct net_policy_cfg *cfg, uint64_t now_ms);

/**
 * Feed the observations @p in at @p now_ms and get the next action in @p act.
 * Call it again while it returns an action other than NET_ACT_NONE (each
 * call hands out at most one).
 * @retval true an action was returned.
 */
bool net_policy_poll(struct net_policy *np, const struct net_inputs *in, uint64_t now_ms,
                     struct net_action *act);

/** Ask for AP mode (the app checks the factory-default rule before calling). */
void net_policy_request_ap(struct net_policy *np);

/** True when the active interface has an address (DHCP, static or link-local). */
bool net_policy_has_ip(const struct net_policy *np);

/** True while the access point is on. */
bool net_policy_is_ap_on(const struct net_policy *np);

/** The current address (all zero when none). */
struct net_ipv4 net_policy_address(const struct net_policy *np);

/** When the policy next needs a poll without new input (UINT64_MAX: only on input). */
uint64_t net_policy_next_deadline_ms(const struct net_policy *np);

/** Short state name ("dhcp", "link_local", ...). */
const char *net_state_name(enum net_state s);

/** The link-local address for @p serial_hash: 169.254.1.0 .. 169.254.254.255 (RFC 3927 §2.1). */
uint32_t net_link_local_addr(uint32_t serial_hash);

#endif /* FIRMWARE_CORE_NET_NET_H */
