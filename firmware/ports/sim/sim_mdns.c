/*
 * Sim network: mDNS for the firmware's names (hal_net_set_mdns()) and the DHCP
 * host name it records. The responder is firmware/core/mdns; this file gives
 * it a real UDP socket on 0.0.0.0:5353 joined to 224.0.0.251 on the interface
 * of the bind address (host_mdns.c), and the device time. Firmware thread only, except the
 * sim_net_get_names() reader (under the port lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "hal_net.h"
#include "host_mdns.h"
#include "mdns/mdns.h"
#include "sim_priv.h"

static struct {
    bool enabled; /* sim_net_mdns_enable() */
    bool have;    /* the firmware named itself */
    bool failed;  /* the socket could not be set up: said once, then off */
    int fd;
    char dhcp[64];
    struct mdns m; /* under the port lock where the host reads it */
} M = {.fd = -1};

void sim_net_mdns_enable(bool on)
{
    M.enabled = on;
}

static bool label_ok(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return false;
        }
    }
    return n >= 1 && n <= max;
}

int hal_net_set_mdns(const char *name, const char *alias)
{
    ML_VERIFY(name != NULL && label_ok(name, MDNS_BASE_MAX), ML_EINVAL);
    ML_VERIFY(alias == NULL || label_ok(alias, MDNS_BASE_MAX), ML_EINVAL);
    const char *names[2] = {name, alias};
    sim_lock();
    int rc = mdns_init(&M.m, names, alias != NULL ? 2u : 1u,
                       (uint32_t)(uintptr_t)alias ^ (uint32_t)sim_time_us() ^ (uint32_t)getpid());
    if (rc == ML_OK) {
        snprintf(M.dhcp, sizeof M.dhcp, "%s", name);
        M.have = true;
    }
    sim_unlock();
    return rc;
}

void sim_net_get_names(struct sim_net_names *out)
{
    memset(out, 0, sizeof *out);
    sim_lock();
    snprintf(out->dhcp, sizeof out->dhcp, "%s", M.dhcp);
    if (M.have) {
        for (size_t i = 0; i < 2; i++) {
            snprintf(out->mdns[i], sizeof out->mdns[i], "%s", mdns_label(&M.m, i));
        }
        out->claimed = mdns_is_claimed(&M.m) && M.fd >= 0;
        out->conflicts = M.m.stats.conflicts;
    }
    sim_unlock();
}

void sim_mdns_service(void)
{
    if (!M.enabled || !M.have || M.failed) {
        return;
    }
    char bind[64];
    sim_net_bind_addr_get(bind, sizeof bind);
    uint32_t ip = sim_net_online() ? ml_host_mdns_addr(bind) : 0u;
    if (M.fd < 0 && ip != 0u) {
        M.fd = ml_host_mdns_open(ip);
        if (M.fd < 0) {
            fprintf(stderr, "sim: mDNS off: UDP 5353 / 224.0.0.251 on %s: %s\n", bind,
                    strerror(errno));
            M.failed = true;
            return;
        }
        sim_poll_add(M.fd, NULL, NULL); /* a datagram wakes the loop; we read it here */
    }
    if (M.fd < 0) {
        return;
    }
    uint64_t now = sim_time_us() / 1000u;
    sim_lock(); /* sim_net_get_names() reads the names from the host's thread */
    mdns_set_ipv4(&M.m, ip, now);
    ml_host_mdns_pump(M.fd, &M.m, now);
    sim_unlock();
}

uint64_t sim_mdns_next_event_us(void)
{
    if (M.fd < 0) {
        return UINT64_MAX;
    }
    sim_lock();
    uint64_t t = mdns_next_ms(&M.m);
    sim_unlock();
    return t == UINT64_MAX ? t : t * 1000u;
}

void sim_mdns_reset(void)
{
    if (M.fd >= 0) {
        sim_poll_remove(M.fd);
        close(M.fd);
        M.fd = -1;
    }
    M.have = false;
    M.failed = false;
    M.dhcp[0] = '\0';
}
