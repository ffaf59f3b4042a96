#include "net.h"

static const struct net_ipv4 no_addr = {0, 0, 0, 0};

uint32_t net_link_local_addr(uint32_t serial_hash)
{
    /* RFC 3927 §2.1: the first and last 256 addresses of 169.254/16 are reserved. */
    uint32_t host = 0x100u + serial_hash % (0xFE00u);
    return 0xA9FE0000u | host;
}

void net_policy_init(struct net_policy *np, const struct net_policy_cfg *cfg, uint64_t now_ms)
{
    np->cfg = *cfg;
    np->state = NET_ST_IF_DOWN;
    np->tries = 0;
    np->deadline_ms = now_ms;
    np->addr = no_addr;
    np->ap_requested = false;
    np->ap_on = false;
    np->ping_busy = false;
    np->ping_internet = false;
    np->next_ping_ms = UINT64_MAX;
    np->ping_deadline_ms = UINT64_MAX;
    np->next_dhcp_retry_ms = UINT64_MAX;
    np->set_pending = false;
    np->counters = (struct net_counters){0, 0, 0, 0, 0, 0};
}

void net_policy_request_ap(struct net_policy *np)
{
    np->ap_requested = true;
}

bool net_policy_has_ip(const struct net_policy *np)
{
    return np->addr.ip != 0;
}

bool net_policy_is_ap_on(const struct net_policy *np)
{
    return np->ap_on;
}

struct net_ipv4 net_policy_address(const struct net_policy *np)
{
    return np->addr;
}

static void set_addr(struct net_policy *np, struct net_ipv4 a, uint64_t now_ms)
{
    np->addr = a;
    np->set_pending = true;
    /* first probe shortly after getting an address, then every period */
    np->next_ping_ms = a.ip != 0 ? now_ms + 1000u : UINT64_MAX;
    np->ping_busy = false;
}

static void start_dhcp(struct net_policy *np, uint64_t now_ms, struct net_action *act)
{
    np->state = NET_ST_DHCP;
    np->tries++;
    np->counters.dhcp_attempts++;
    np->deadline_ms = now_ms + NET_DHCP_TIMEOUT_MS;
    act->kind = NET_ACT_DHCP_START;
}

static void dhcp_failed(struct net_policy *np, uint64_t now_ms)
{
    np->counters.dhcp_failures++;
    if (np->state == NET_ST_LINK_LOCAL) {
        /* a background retry failed: keep the link-local address */
        np->next_dhcp_retry_ms = now_ms + NET_DHCP_RETRY_MS;
        return;
    }
    if (np->tries >= NET_DHCP_TRIES) {
        struct net_ipv4 ll = {net_link_local_addr(np->cfg.serial_hash), 0xFFFF0000u, 0, 0};
        np->state = NET_ST_LINK_LOCAL;
        np->next_dhcp_retry_ms = now_ms + NET_DHCP_RETRY_MS;
        set_addr(np, ll, now_ms);
    } else {
        np->state = NET_ST_DHCP_WAIT;
        np->deadline_ms = now_ms + 1000u; /* short pause between attempts */
    }
}

/* Wi-Fi client connected: AP mode ends (products.md §1). */
static void client_connected(struct net_policy *np)
{
    if (np->cfg.iface == NET_IF_WIFI) {
        np->ap_requested = false;
    }
}

bool net_policy_poll(struct net_policy *np, const struct net_inputs *in, uint64_t now_ms,
                     struct net_action *act)
{
    act->kind = NET_ACT_NONE;
    act->addr = no_addr;

    /* 1. results of operations in progress */
    if (in->dhcp != NET_RES_NONE &&
        (np->state == NET_ST_DHCP || (np->state == NET_ST_LINK_LOCAL && np->tries > 0))) {
        if (in->dhcp == NET_RES_OK && in->lease.ip != 0) {
            np->state = NET_ST_BOUND;
            np->tries = 0;
            np->next_dhcp_retry_ms = UINT64_MAX;
            set_addr(np, in->lease, now_ms);
            client_connected(np);
        } else {
            dhcp_failed(np, now_ms);
        }
    }
    if (np->ping_busy && (in->ping != NET_RES_NONE || now_ms >= np->ping_deadline_ms)) {
        bool ok = in->ping == NET_RES_OK;
        if (np->ping_internet) {
            ok ? np->counters.internet_ping_pass++ : np->counters.internet_ping_fail++;
        } else {
            ok ? np->counters.gw_ping_pass++ : np->counters.gw_ping_fail++;
        }
        np->ping_busy = false;
        if (!np->ping_internet) {
            np->ping_internet = true; /* the internet probe follows the gateway one */
            np->next_ping_ms = now_ms;
        } else {
            np->ping_internet = false;
            np->next_ping_ms = now_ms + NET_PING_PERIOD_MS;
        }
    }

    /* 2. link changes */
    if (np->state == NET_ST_IF_DOWN) {
        np->state = NET_ST_NO_LINK;
        act->kind = NET_ACT_IF_UP;
        return true;
    }
    if (!in->link_up && np->state != NET_ST_NO_LINK) {
        np->state = NET_ST_NO_LINK;
        np->tries = 0;
        np->next_dhcp_retry_ms = UINT64_MAX;
        set_addr(np, no_addr, now_ms);
    }
    if (in->link_up && np->state == NET_ST_NO_LINK) {
        if (np->cfg.dhcp) {
            np->tries = 0;
            start_dhcp(np, now_ms, act);
            return true;
        }
        np->state = NET_ST_STATIC;
        set_addr(np, np->cfg.static_ip, now_ms);
        client_connected(np);
    }

    /* 3. pending address change */
    if (np->set_pending) {
        np->set_pending = false;
        act->kind = NET_ACT_SET_IPV4;
        act->addr = np->addr;
        return true;
    }

    /* 4. AP mode */
    if (np->ap_requested && !np->ap_on) {
        np->ap_on = true;
        act->kind = NET_ACT_AP_START;
        act->addr = (struct net_ipv4){NET_AP_IP, 0xFFFFFF00u, 0, 0};
        return true;
    }
    if (!np->ap_requested && np->ap_on) {
        np->ap_on = false;
        act->kind = NET_ACT_AP_STOP;
        return true;
    }

    /* 5. timeouts and periodic work */
    if (np->state == NET_ST_DHCP && now_ms >= np->deadline_ms) {
        dhcp_failed(np, now_ms);
        if (np->set_pending) {
            np->set_pending = false;
            act->kind = NET_ACT_SET_IPV4;
            act->addr = np->addr;
            return true;
        }
    }
    if (np->state == NET_ST_DHCP_WAIT && now_ms >= np->deadline_ms) {
        start_dhcp(np, now_ms, act);
        return true;
    }
    if (np->state == NET_ST_LINK_LOCAL && now_ms >= np->next_dhcp_retry_ms) {
        np->next_dhcp_retry_ms = UINT64_MAX;
        np->tries = 1;
        np->counters.dhcp_attempts++;
        act->kind = NET_ACT_DHCP_START;
        return true;
    }
    if (!np->ping_busy && np->addr.ip != 0 && now_ms >= np->next_ping_ms) {
        uint32_t target = np->ping_internet ? NET_INTERNET_PROBE : np->addr.gateway;
        if (target == 0) {
            /* no gateway (link-local): both probes fail without traffic */
            np->counters.gw_ping_fail++;
            np->counters.internet_ping_fail++;
            np->ping_internet = false;
            np->next_ping_ms = now_ms + NET_PING_PERIOD_MS;
            return false;
        }
        np->ping_busy = true;
        np->ping_deadline_ms = now_ms + NET_PING_TIMEOUT_MS;
        act->kind = NET_ACT_PING;
        act->addr = (struct net_ipv4){target, 0, 0, 0};
        return true;
    }
    return false;
}

uint64_t net_policy_next_deadline_ms(const struct net_policy *np)
{
    uint64_t d = UINT64_MAX;
    if (np->state == NET_ST_IF_DOWN || np->set_pending || np->ap_requested != np->ap_on) {
        return 0; /* work to hand out now */
    }
    if (np->state == NET_ST_DHCP || np->state == NET_ST_DHCP_WAIT) {
        d = np->deadline_ms;
    }
    if (np->state == NET_ST_LINK_LOCAL && np->next_dhcp_retry_ms < d) {
        d = np->next_dhcp_retry_ms;
    }
    if (np->ping_busy && np->ping_deadline_ms < d) {
        d = np->ping_deadline_ms;
    }
    if (!np->ping_busy && np->addr.ip != 0 && np->next_ping_ms < d) {
        d = np->next_ping_ms;
    }
    return d;
}

const char *net_state_name(enum net_state s)
{
    switch (s) {
    case NET_ST_IF_DOWN:
        return "if_down";
    case NET_ST_NO_LINK:
        return "no_link";
    case NET_ST_DHCP:
        return "dhcp";
    case NET_ST_DHCP_WAIT:
        return "dhcp_wait";
    case NET_ST_BOUND:
        return "bound";
    case NET_ST_STATIC:
        return "static";
    case NET_ST_LINK_LOCAL:
        return "link_local";
    }
    return "?";
}
