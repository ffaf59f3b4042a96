/*
 * libFuzzer target for core/mdns: the input is a sequence of datagrams
 * received on port 5353, each as [control byte][length byte][length bytes]
 * (control: bit 0 a legacy source port, bit 1 our own address as the source,
 * bits 2-7 the time that passes before it, in 37 ms steps), while the
 * responder probes, announces and answers for two names. Invariants checked:
 *  - every packet built fits MDNS_PACKET_MAX and goes to the group or to the
 *    datagram's source;
 *  - our own packets fed back to us are never a conflict (no rename, no lost
 *    tie-break): a responder must not fight itself over the looped-back copy;
 *  - the claimed names stay valid labels (<= 63 bytes) and the next deadline
 *    is never in the past by more than one step.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mdns/mdns.h"

#define US   0xC0A80132u
#define PEER 0xC0A80140u

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static struct mdns m;
static uint8_t out[MDNS_PACKET_MAX];

static void check_out(int n, const struct mdns_dest *d, uint32_t src, uint16_t port)
{
    check(n <= (int)MDNS_PACKET_MAX);
    if (n > 0) {
        check((d->ip == MDNS_GROUP_IPV4 && d->port == MDNS_PORT) ||
              (d->ip == src && d->port == port));
    }
}

/* Our own packet looped back: no conflict may follow. */
static void loop_back(uint64_t now, int n)
{
    uint32_t c = m.stats.conflicts, t = m.stats.tie_lost;
    uint8_t copy[MDNS_PACKET_MAX];
    struct mdns_dest d;
    memcpy(copy, out, (size_t)n);
    (void)mdns_input(&m, now, copy, (size_t)n, US, MDNS_PORT, out, sizeof out, &d);
    check(m.stats.conflicts == c && m.stats.tie_lost == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"smart-connect", "smart-connect-sc00000001"};
    uint64_t now = 1000;
    check(mdns_init(&m, names, 2, 1u) == 0);
    mdns_set_ipv4(&m, US, now);
    size_t pos = 0;
    for (unsigned step = 0; step < 512u; step++) {
        struct mdns_dest d;
        int n;
        while ((n = mdns_poll(&m, now, out, sizeof out, &d)) > 0) {
            check_out(n, &d, 0, 0);
            loop_back(now, n);
        }
        check(n == 0);
        check(mdns_next_ms(&m) == UINT64_MAX || mdns_next_ms(&m) + 1u > now);
        for (size_t i = 0; i < MDNS_NAMES; i++) {
            size_t k = strlen(mdns_label(&m, i));
            check(k >= 1u && k <= 63u);
        }
        if (pos + 2u > size) {
            if (mdns_next_ms(&m) == UINT64_MAX) {
                break;
            }
            now = mdns_next_ms(&m);
            continue;
        }
        uint8_t ctl = data[pos];
        size_t len = data[pos + 1u];
        pos += 2u;
        if (len > size - pos) {
            len = size - pos;
        }
        now += (uint64_t)(ctl >> 2) * 37u;
        uint32_t src = (ctl & 2u) != 0u ? US : PEER;
        uint16_t port = (ctl & 1u) != 0u ? 40000u : MDNS_PORT;
        /* a copy of exactly len bytes, so ASan sees any read past the datagram */
        uint8_t *pkt = malloc(len > 0u ? len : 1u);
        memcpy(pkt, &data[pos], len);
        n = mdns_input(&m, now, pkt, len, src, port, out, sizeof out, &d);
        free(pkt);
        pos += len;
        check(n == ML_EPROTO || n >= 0);
        check_out(n, &d, src, port);
        if (n > 0 && d.ip == MDNS_GROUP_IPV4) {
            loop_back(now, n);
        }
    }
    return 0;
}
