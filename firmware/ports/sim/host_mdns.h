/**
 * @file host_mdns.h
 * @brief An mDNS responder (firmware/core/mdns) on a host UDP socket: the sim
 *        port's network (sim_mdns.c) and the ESP-AT emulator's AT+MDNS share it.
 */
#ifndef FIRMWARE_PORTS_SIM_HOST_MDNS_H
#define FIRMWARE_PORTS_SIM_HOST_MDNS_H

#include <stdint.h>

#include "mdns/mdns.h"

/**
 * A UDP socket bound to 0.0.0.0:5353 (SO_REUSEADDR, SO_REUSEPORT: several
 * responders and resolvers share a host) that joined 224.0.0.251 and sends
 * multicast on the interface of @p ifaddr (host byte order), TTL 255, looped
 * back. Non-blocking. @return the fd, or -1 with errno set.
 */
int ml_host_mdns_open(uint32_t ifaddr);

/**
 * Hand every datagram waiting on @p fd to @p m and send its answers, then
 * send the probes and announcements due at @p now_ms. Never blocks.
 */
void ml_host_mdns_pump(int fd, struct mdns *m, uint64_t now_ms);

/** The A record of a device whose servers bind to @p bind_addr: that address,
 * 127.0.0.1 for "0.0.0.0", NULL or "" (host byte order). */
uint32_t ml_host_mdns_addr(const char *bind_addr);

#endif /* FIRMWARE_PORTS_SIM_HOST_MDNS_H */
