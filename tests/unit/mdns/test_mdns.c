/*
 * Unit tests of the mDNS responder (firmware/core/mdns) in virtual time: the
 * packets it sends are compared with bytes written out here from RFC 1035 /
 * RFC 6762, and the packets it receives are built here by hand (a tiny DNS
 * writer independent of the code under test).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "mdns/mdns.h"
#include "ml_test.h"

#define IP_US   0x0A000005u /* 10.0.0.5 */
#define IP_PEER 0x0A000009u /* 10.0.0.9 */
#define IP_LOW  0x0A000001u /* 10.0.0.1 */

static struct mdns m;
static uint8_t out[MDNS_PACKET_MAX];
static struct mdns_dest dst;

/* ---- a hand-made DNS writer for the packets the responder receives ---- */
static uint8_t pkt[512];
static size_t plen;

static void p8(unsigned v)
{
    pkt[plen++] = (uint8_t)v;
}
static void p16(unsigned v)
{
    p8(v >> 8);
    p8(v & 0xFFu);
}
static void p32(uint32_t v)
{
    p16(v >> 16);
    p16(v & 0xFFFFu);
}
/* dotted name -> labels */
static void pname(const char *s)
{
    while (*s != '\0') {
        const char *dot = strchr(s, '.');
        size_t n = dot != NULL ? (size_t)(dot - s) : strlen(s);
        p8((unsigned)n);
        memcpy(&pkt[plen], s, n);
        plen += n;
        s += n + (dot != NULL ? 1u : 0u);
    }
    p8(0);
}
static void phdr(unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
    plen = 0;
    p16(id);
    p16(flags);
    p16(qd);
    p16(an);
    p16(ns);
    p16(ar);
}
static void pq(const char *name, unsigned type, unsigned cls)
{
    pname(name);
    p16(type);
    p16(cls);
}
static void pa(const char *name, unsigned cls, uint32_t ttl, uint32_t ip)
{
    pname(name);
    p16(1);
    p16(cls);
    p32(ttl);
    p16(4);
    p32(ip);
}

static int input_from(uint64_t now, uint32_t ip, uint16_t port)
{
    return mdns_input(&m, now, pkt, plen, ip, port, out, sizeof out, &dst);
}

static int input(uint64_t now)
{
    return input_from(now, IP_PEER, 5353);
}

/* ---- expected packets, byte by byte ---- */
#define NAME_SC                 13, 's', 'm', 'a', 'r', 't', '-', 'c', 'o', 'n', 'n', 'e', 'c', 't'
#define NAME_SC2                15, 's', 'm', 'a', 'r', 't', '-', 'c', 'o', 'n', 'n', 'e', 'c', 't', '-', '2'
#define NAME_SN                 6, 's', 'c', '-', 'a', 'b', '1'
#define LOCAL                   5, 'l', 'o', 'c', 'a', 'l', 0
#define A_10_0_0_5(cls_hi, ttl) 0, 1, cls_hi, 1, 0, 0, 0, ttl, 0, 4, 10, 0, 0, 5

static const uint8_t probe_bytes[] = {
    0,       0,     0,
    0,       0,     2,
    0,       0,     0,
    2,       0,     0, /* query, 2 questions, 2 authority */
    NAME_SC, LOCAL, 0,
    255,     0,     1, /* smart-connect.local ANY IN (QM) */
    NAME_SN, LOCAL, 0,
    255,     0,     1,                     /* sc-ab1.local ANY IN */
    NAME_SC, LOCAL, A_10_0_0_5(0x00, 120), /* A 10.0.0.5, TTL 120 */
    NAME_SN, LOCAL, A_10_0_0_5(0x00, 120),
};
static const uint8_t announce_bytes[] = {
    0,       0,     0x84,
    0,       0,     0,
    0,       2,     0,
    0,       0,     0,                     /* response, AA, 2 answers */
    NAME_SC, LOCAL, A_10_0_0_5(0x80, 120), /* cache-flush bit set */
    NAME_SN, LOCAL, A_10_0_0_5(0x80, 120),
};

static void setup(void)
{
    static const char *const names[] = {"smart-connect", "sc-ab1"};
    CU_ASSERT_EQUAL_FATAL(mdns_init(&m, names, 2, 7u), 0);
}

static void teardown(void)
{
}

static int poll_at(uint64_t now)
{
    return mdns_poll(&m, now, out, sizeof out, &dst);
}

/* Run probing and announcing from t=1000 to the ready state; returns the time. */
static uint64_t claim(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t = mdns_next_ms(&m);
    for (int i = 0; i < 6 && mdns_next_ms(&m) != UINT64_MAX; i++) {
        t = mdns_next_ms(&m);
        CU_ASSERT(poll_at(t) > 0);
    }
    CU_ASSERT_EQUAL(mdns_next_ms(&m), UINT64_MAX);
    return t;
}

static void test_probe_and_announce_schedule(void)
{
    CU_ASSERT_EQUAL(mdns_next_ms(&m), UINT64_MAX); /* off the network: silent */
    CU_ASSERT_EQUAL(poll_at(5000), 0);
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t0 = mdns_next_ms(&m);
    CU_ASSERT(t0 >= 1000 && t0 <= 1250); /* §8.1: random 0-250 ms */
    CU_ASSERT_EQUAL(poll_at(t0 - 1), 0);
    for (int i = 0; i < 3; i++) {
        uint64_t t = t0 + 250u * (unsigned)i;
        CU_ASSERT_EQUAL(mdns_next_ms(&m), t);
        int n = poll_at(t);
        CU_ASSERT_EQUAL_FATAL(n, (int)sizeof probe_bytes);
        CU_ASSERT_EQUAL(memcmp(out, probe_bytes, sizeof probe_bytes), 0);
        CU_ASSERT_EQUAL(dst.ip, 0xE00000FBu);
        CU_ASSERT_EQUAL(dst.port, 5353);
        CU_ASSERT_FALSE(mdns_is_claimed(&m));
        CU_ASSERT_EQUAL(poll_at(t), 0); /* one probe per step */
    }
    /* 250 ms after the third probe: first announcement, the second 1 s later */
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t0 + 750);
    int n = poll_at(t0 + 750);
    CU_ASSERT_EQUAL_FATAL(n, (int)sizeof announce_bytes);
    CU_ASSERT_EQUAL(memcmp(out, announce_bytes, sizeof announce_bytes), 0);
    CU_ASSERT_TRUE(mdns_is_claimed(&m));
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t0 + 1750);
    CU_ASSERT_EQUAL(poll_at(t0 + 1750), (int)sizeof announce_bytes);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), UINT64_MAX);
    CU_ASSERT_EQUAL(m.stats.probes, 3);
    CU_ASSERT_EQUAL(m.stats.announces, 2);
    /* the same address again changes nothing; a new one probes again */
    mdns_set_ipv4(&m, IP_US, 9000);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), UINT64_MAX);
    mdns_set_ipv4(&m, IP_PEER, 9000);
    CU_ASSERT(mdns_next_ms(&m) <= 9250);
    CU_ASSERT_FALSE(mdns_is_claimed(&m));
    mdns_set_ipv4(&m, 0, 9100);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), UINT64_MAX);
}

static void test_answers_a_and_any(void)
{
    uint64_t t = claim();
    static const uint8_t expect[] = {
        0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, NAME_SC, LOCAL, A_10_0_0_5(0x80, 120),
    };
    phdr(0, 0, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT_EQUAL_FATAL(input(t + 10), (int)sizeof expect);
    CU_ASSERT_EQUAL(memcmp(out, expect, sizeof expect), 0);
    CU_ASSERT_EQUAL(dst.ip, 0xE00000FBu);
    CU_ASSERT_EQUAL(dst.port, 5353);

    /* ANY, upper case, the serial name through a compression pointer */
    phdr(0, 0, 2, 0, 0, 0);
    pq("Smart-Connect.LOCAL", 255, 1);
    p8(6);
    memcpy(&pkt[plen], "sc-ab1", 6);
    plen += 6;
    p8(0xC0);
    p8(12 + 14); /* -> "local" of the first question */
    p16(255);
    p16(255); /* class ANY */
    int n = input(t + 20);
    CU_ASSERT_EQUAL_FATAL(n, (int)sizeof announce_bytes);
    CU_ASSERT_EQUAL(memcmp(out, announce_bytes, sizeof announce_bytes), 0);

    /* AAAA, another name, another domain: nothing */
    phdr(0, 0, 3, 0, 0, 0);
    pq("smart-connect.local", 28, 1);
    pq("printer.local", 1, 1);
    pq("smart-connect.local.example", 1, 1);
    CU_ASSERT_EQUAL(input(t + 30), 0);
    /* a response does not get an answer; other opcodes are ignored */
    phdr(0, 0x8400, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT_EQUAL(input(t + 40), 0);
    phdr(0, 0x2000, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT_EQUAL(input(t + 40), 0);
}

static void test_unicast_response_bit(void)
{
    uint64_t t = claim(); /* just announced */
    phdr(0, 0, 1, 0, 0, 0);
    pq("sc-ab1.local", 1, 0x8001); /* QU */
    CU_ASSERT(input_from(t + 1000, IP_PEER, 5353) > 0);
    CU_ASSERT_EQUAL(dst.ip, IP_PEER); /* multicast within TTL/4: unicast */
    CU_ASSERT_EQUAL(dst.port, 5353);
    /* 31 s later (more than a quarter of 120 s): multicast */
    CU_ASSERT(input_from(t + 31000, IP_PEER, 5353) > 0);
    CU_ASSERT_EQUAL(dst.ip, 0xE00000FBu);
    /* that multicast counts: unicast again */
    CU_ASSERT(input_from(t + 32000, IP_PEER, 5353) > 0);
    CU_ASSERT_EQUAL(dst.ip, IP_PEER);
    /* a QU and a QM question together: multicast */
    phdr(0, 0, 2, 0, 0, 0);
    pq("sc-ab1.local", 1, 0x8001);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT(input_from(t + 33000, IP_PEER, 5353) > 0);
    CU_ASSERT_EQUAL(dst.ip, 0xE00000FBu);
}

static void test_legacy_unicast(void)
{
    uint64_t t = claim();
    phdr(0x1234, 0x0100, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    static const uint8_t expect[] = {
        0x12,    0x34,  0x84,
        0,       0,     1,
        0,       1,     0,
        0,       0,     0, /* its id, 1 question, 1 answer */
        NAME_SC, LOCAL, 0,
        1,       0,     1,                    /* the question repeated */
        NAME_SC, LOCAL, A_10_0_0_5(0x00, 10), /* TTL 10, no cache-flush */
    };
    int n = input_from(t + 5, 0x7F000001u, 40000);
    CU_ASSERT_EQUAL_FATAL(n, (int)sizeof expect);
    CU_ASSERT_EQUAL(memcmp(out, expect, sizeof expect), 0);
    CU_ASSERT_EQUAL(dst.ip, 0x7F000001u);
    CU_ASSERT_EQUAL(dst.port, 40000);
}

static void test_known_answer_suppression(void)
{
    uint64_t t = claim();
    phdr(0, 0, 2, 1, 0, 0);
    pq("smart-connect.local", 1, 1);
    pq("sc-ab1.local", 1, 1);
    pa("smart-connect.local", 1, 100, IP_US); /* >= half our TTL */
    int n = input(t + 5);
    CU_ASSERT_FATAL(n > 0);
    CU_ASSERT_EQUAL(out[7], 1); /* only sc-ab1 answered */
    CU_ASSERT_EQUAL(out[12], 6);
    phdr(0, 0, 1, 1, 0, 0);
    pq("smart-connect.local", 1, 1);
    pa("smart-connect.local", 1, 59, IP_US); /* less than half: answered */
    CU_ASSERT(input(t + 6) > 0);
}

static void test_not_answered_while_probing(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    CU_ASSERT(poll_at(mdns_next_ms(&m)) > 0);
    phdr(0, 0, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT_EQUAL(input(1300), 0);
}

static void test_conflict_while_probing_renames(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t = mdns_next_ms(&m);
    CU_ASSERT(poll_at(t) > 0);
    /* another host answers smart-connect.local with its address */
    phdr(0, 0x8400, 0, 1, 0, 0);
    pa("smart-connect.local", 0x8001, 120, IP_PEER);
    CU_ASSERT_EQUAL(input(t + 100), 0);
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect-2");
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 1), "sc-ab1");
    CU_ASSERT_EQUAL(m.stats.conflicts, 1);
    uint64_t t2 = mdns_next_ms(&m);
    CU_ASSERT(t2 >= t + 100 && t2 <= t + 350);
    int n = poll_at(t2);
    CU_ASSERT_FATAL(n > 0);
    static const uint8_t q2[] = {NAME_SC2, LOCAL, 0, 255, 0, 1};
    CU_ASSERT_EQUAL(memcmp(&out[12], q2, sizeof q2), 0); /* probes the new name */
    /* a record of another type with the new name also conflicts (§8.1) */
    phdr(0, 0x8400, 0, 1, 0, 0);
    pname("smart-connect-2.local");
    p16(16); /* TXT */
    p16(1);
    p32(120);
    p16(1);
    p8(0);
    CU_ASSERT_EQUAL(input(t2 + 10), 0);
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect-3");
    /* a response from a port other than 5353 is ignored (§6) */
    phdr(0, 0x8400, 0, 1, 0, 0);
    pa("smart-connect-3.local", 0x8001, 120, IP_PEER);
    CU_ASSERT_EQUAL(input_from(t2 + 20, IP_PEER, 5454), 0);
    /* a goodbye (TTL 0) is no claim */
    phdr(0, 0x8400, 0, 1, 0, 0);
    pa("smart-connect-3.local", 0x8001, 0, IP_PEER);
    CU_ASSERT_EQUAL(input(t2 + 20), 0);
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect-3");
    /* no further conflict: claimed as smart-connect-3 */
    for (int i = 0; i < 6 && mdns_next_ms(&m) != UINT64_MAX; i++) {
        CU_ASSERT(poll_at(mdns_next_ms(&m)) > 0);
    }
    CU_ASSERT_TRUE(mdns_is_claimed(&m));
    phdr(0, 0, 1, 0, 0, 0);
    pq("smart-connect-3.local", 1, 1);
    CU_ASSERT(input(t2 + 5000) > 0);
    phdr(0, 0, 1, 0, 0, 0);
    pq("smart-connect.local", 1, 1);
    CU_ASSERT_EQUAL(input(t2 + 5000), 0);
}

static void test_own_packets_are_no_conflict(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t = mdns_next_ms(&m);
    /* our own probe and announcement looped back by the multicast socket */
    memcpy(pkt, probe_bytes, sizeof probe_bytes);
    plen = sizeof probe_bytes;
    CU_ASSERT_EQUAL(input_from(t, IP_US, 5353), 0);
    memcpy(pkt, announce_bytes, sizeof announce_bytes);
    plen = sizeof announce_bytes;
    CU_ASSERT_EQUAL(input_from(t, IP_US, 5353), 0);
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect");
    CU_ASSERT_EQUAL(m.stats.conflicts + m.stats.tie_lost, 0);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t);
}

static void test_simultaneous_probe_tie_break(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t = mdns_next_ms(&m);
    CU_ASSERT(poll_at(t) > 0);
    /* a peer probing the same name with a lower address: we win, go on */
    phdr(0, 0, 1, 0, 1, 0);
    pq("smart-connect.local", 255, 1);
    pa("smart-connect.local", 1, 120, IP_LOW);
    CU_ASSERT_EQUAL(input_from(t + 10, IP_LOW, 5353), 0);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t + 250);
    CU_ASSERT_EQUAL(m.stats.tie_lost, 0);
    /* with a higher address: we lose, wait 1 s and probe again, same name */
    phdr(0, 0, 1, 0, 1, 0);
    pq("smart-connect.local", 255, 1);
    pa("smart-connect.local", 1, 120, IP_PEER);
    CU_ASSERT_EQUAL(input(t + 20), 0);
    CU_ASSERT_EQUAL(m.stats.tie_lost, 1);
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t + 20 + 1000);
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect");
}

static void test_probe_answered_when_claimed(void)
{
    uint64_t t = claim();
    /* another device probes our name with the QU bit: answered by multicast */
    phdr(0, 0, 1, 0, 1, 0);
    pq("smart-connect.local", 255, 0x8001);
    pa("smart-connect.local", 1, 120, IP_PEER);
    int n = input(t + 100);
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(dst.ip, 0xE00000FBu);
    CU_ASSERT_TRUE(mdns_is_claimed(&m));
}

static void test_conflict_after_claim_probes_again(void)
{
    uint64_t t = claim();
    phdr(0, 0x8400, 0, 1, 0, 0);
    pa("sc-ab1.local", 0x8001, 120, IP_PEER);
    CU_ASSERT_EQUAL(input(t + 100), 0);
    CU_ASSERT_FALSE(mdns_is_claimed(&m)); /* §9: back to probing, name kept */
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 1), "sc-ab1");
    CU_ASSERT(mdns_next_ms(&m) <= t + 350);
}

static void test_conflict_rate_limit(void)
{
    mdns_set_ipv4(&m, IP_US, 1000);
    uint64_t t = 1000;
    for (int i = 0; i < 16; i++) {
        t += 100;
        char name[80];
        strcpy(name, mdns_label(&m, 0));
        strcat(name, ".local");
        phdr(0, 0x8400, 0, 1, 0, 0);
        pa(name, 0x8001, 120, IP_PEER);
        CU_ASSERT_EQUAL(input(t), 0);
        if (i < 15) {
            CU_ASSERT(mdns_next_ms(&m) <= t + 250);
        }
    }
    CU_ASSERT_STRING_EQUAL(mdns_label(&m, 0), "smart-connect-17");
    CU_ASSERT_EQUAL(mdns_next_ms(&m), t + 5000); /* the 16th within 10 s */
}

static void test_bad_packets(void)
{
    claim();
    static const char *const bad_names[] = {"", "a.b", "x_y"};
    for (size_t i = 0; i < 3; i++) {
        const char *n[] = {bad_names[i]};
        CU_ASSERT_EQUAL(mdns_init(&m, n, 1, 1), ML_EINVAL);
    }
    setup();
    claim();
    phdr(0, 0, 1, 0, 0, 0);
    CU_ASSERT_EQUAL(input_from(0, IP_PEER, 5353), ML_EPROTO); /* question missing */
    plen = 5;
    CU_ASSERT_EQUAL(input(0), ML_EPROTO); /* short header */
    /* a compression pointer loop */
    phdr(0, 0, 1, 0, 0, 0);
    p8(0xC0);
    p8(12);
    p16(1);
    p16(1);
    CU_ASSERT_EQUAL(input(0), 0); /* a well-formed question we cannot name */
    /* a record running past the end */
    phdr(0, 0x8400, 0, 1, 0, 0);
    pa("smart-connect.local", 1, 120, IP_PEER);
    plen -= 2;
    CU_ASSERT_EQUAL(input(0), ML_EPROTO);
    CU_ASSERT_EQUAL(m.stats.bad, 3);
    CU_ASSERT_TRUE(mdns_is_claimed(&m));
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"probe and announce schedule", test_probe_and_announce_schedule},
        {"answers A and ANY", test_answers_a_and_any},
        {"unicast-response bit", test_unicast_response_bit},
        {"legacy unicast", test_legacy_unicast},
        {"known-answer suppression", test_known_answer_suppression},
        {"not answered while probing", test_not_answered_while_probing},
        {"conflict while probing renames", test_conflict_while_probing_renames},
        {"own packets are no conflict", test_own_packets_are_no_conflict},
        {"simultaneous probe tie-break", test_simultaneous_probe_tie_break},
        {"probe answered when claimed", test_probe_answered_when_claimed},
        {"conflict after claim probes again", test_conflict_after_claim_probes_again},
        {"conflict rate limit", test_conflict_rate_limit},
        {"bad packets", test_bad_packets},
    };
    return ml_test_run("mdns", cases, sizeof cases / sizeof cases[0], setup, teardown);
}
