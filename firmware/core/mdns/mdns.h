/**
 * @file mdns.h
 * @brief Multicast DNS responder (RFC 6762) for a device's host names.
 *
 * Answers A queries (and ANY) for up to MDNS_NAMES single-label names under
 * ".local" (the Smart Connect: "smart-connect" and "smart-connect-<serial>"),
 * after claiming them: probing (RFC 6762 §8.1: a random 0-250 ms delay, three
 * probes 250 ms apart, simultaneous-probe tie-breaking §8.2), then announcing
 * (§8.3: two unsolicited responses 1 s apart). A name another host already
 * answers is renamed "<base>-2", "-3", ... and probed again; a conflict seen
 * after the claim (§9) starts probing again. More than 15 conflicts within
 * 10 s slow probing to one attempt per 5 s (§8.1).
 *
 * Portable and freestanding: no heap, no I/O, no clock. The caller owns
 * struct mdns, a UDP socket on port 5353 joined to 224.0.0.251, and the time:
 * it passes every received datagram to mdns_input(), sends what
 * mdns_input() and mdns_poll() build to the destination they name, and calls
 * mdns_poll() again by mdns_next_ms(). One responder is one host address
 * (IPv4 only, as the product).
 *
 * Answers: to a query from port 5353 by multicast, or by unicast to the
 * querier when every question it answers asked for a unicast response (the QU
 * bit, §5.4) and the records were multicast within the last quarter of their
 * TTL; probes are always answered by multicast (several responders may share
 * one host's port 5353, where a unicast datagram reaches only one of them).
 * A query from another port is a legacy unicast query (§6.7): answered to its
 * source with its id and questions, TTL 10 s, no cache-flush bit. Known
 * answers (§7.1) with at least half our TTL suppress the answer.
 */
#ifndef FIRMWARE_CORE_MDNS_MDNS_H
#define FIRMWARE_CORE_MDNS_MDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Names one responder answers. */
#define MDNS_NAMES      2
/** Longest base name (a suffix "-NNNNN" must still fit a 63-byte label). */
#define MDNS_BASE_MAX   56
/** The mDNS group and port (host byte order). */
#define MDNS_GROUP_IPV4 0xE00000FBu
#define MDNS_PORT       5353u
/** TTL of our A records (s; RFC 6762 §10: 120 s for host name records). */
#define MDNS_TTL_S      120u
/** A buffer this large holds every packet the responder builds. */
#define MDNS_PACKET_MAX 512u

/** Where to send a packet the responder built (host byte order). */
struct mdns_dest {
    uint32_t ip; /**< MDNS_GROUP_IPV4 or a querier's address */
    uint16_t port;
};

/** Counters (for status and tests). */
struct mdns_stats {
    uint32_t probes;    /**< probe packets built */
    uint32_t announces; /**< unsolicited announcements built */
    uint32_t answers;   /**< responses to queries built */
    uint32_t conflicts; /**< names renamed or re-probed after a conflict */
    uint32_t tie_lost;  /**< simultaneous probes lost (§8.2) */
    uint32_t bad;       /**< datagrams that are not DNS messages */
};

enum mdns_phase { MDNS_OFF = 0, MDNS_PROBING, MDNS_ANNOUNCING, MDNS_READY };

struct mdns_name {
    char base[MDNS_BASE_MAX + 1];
    char label[64];      /**< the name claimed or being probed: base or base-N */
    uint32_t suffix;     /**< 0: base itself, else N >= 2 */
    uint64_t last_mc_ms; /**< last multicast of its record (when mc) */
    bool mc;             /**< multicast since probing began */
};

/** Responder state; caller-owned, set up by mdns_init(). */
struct mdns {
    struct mdns_name names[MDNS_NAMES];
    uint8_t count;
    uint8_t phase; /**< enum mdns_phase */
    uint8_t step;  /**< probes or announcements sent in this phase */
    uint32_t ip;   /**< our address (0: not on the network) */
    uint64_t next_ms;
    uint32_t rng;
    uint64_t conflict_window_ms; /**< start of the current 10 s window */
    uint32_t conflicts_in_window;
    struct mdns_stats stats;
};

/**
 * Set up @p m for the @p count names in @p names (each 1..MDNS_BASE_MAX
 * characters of a-z, A-Z, 0-9 and '-'), off the network. @p seed varies the
 * random probe delay between devices (e.g. a hash of the serial number).
 * @retval 0 ok  @retval ML_EINVAL bad name or count
 */
int mdns_init(struct mdns *m, const char *const *names, size_t count, uint32_t seed);

/**
 * Our address changed to @p ip (host byte order; 0: off the network). A new
 * non-zero address starts probing at @p now_ms; the same one changes nothing.
 */
void mdns_set_ipv4(struct mdns *m, uint32_t ip, uint64_t now_ms);

/**
 * Take one received datagram (@p src_ip : @p src_port, host byte order).
 * Conflicts and tie-breaks act on the state; an answer is built into @p out.
 * @return bytes to send to @p dst (0: nothing), ML_EPROTO for a datagram that
 *         is not a DNS message (counted in stats.bad), ML_EINVAL bad argument.
 */
int mdns_input(struct mdns *m, uint64_t now_ms, const uint8_t *pkt, size_t len, uint32_t src_ip,
               uint16_t src_port, uint8_t *out, size_t cap, struct mdns_dest *dst);

/**
 * The probe or announcement due at @p now_ms, built into @p out (@p cap >=
 * MDNS_PACKET_MAX). Call until it returns 0.
 * @return bytes to send to @p dst, 0 when nothing is due, ML_ENOSPC small @p out.
 */
int mdns_poll(struct mdns *m, uint64_t now_ms, uint8_t *out, size_t cap, struct mdns_dest *dst);

/** When mdns_poll() has something next (ms), UINT64_MAX when nothing is planned. */
uint64_t mdns_next_ms(const struct mdns *m);

/** Name @p i as claimed now ("smart-connect-2"), without ".local"; "" beyond count. */
const char *mdns_label(const struct mdns *m, size_t i);

/** True when every name has been probed and announced (or is being announced). */
bool mdns_is_claimed(const struct mdns *m);

#endif /* FIRMWARE_CORE_MDNS_MDNS_H */
