/*
 * core/net network policy against a small fake world (link, DHCP server,
 * ping targets) in virtual time: the loop sleeps until the policy's deadline
 * or the world's next answer, as the app does on the sim port.
 */
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "net/net.h"

struct world {
    bool link;
    bool dhcp_answers;
    bool gw_ok, inet_ok;
    uint64_t dhcp_due, ping_due; /* UINT64_MAX: nothing in flight */
    uint32_t ping_target;
    struct net_ipv4 set; /* last address the policy set */
    int n_dhcp, n_set, n_ap_start, n_ap_stop, n_if_up;
};

static const struct net_ipv4 lease = {0xC0A80132u, 0xFFFFFF00u, 0xC0A80101u, 0xC0A80101u};

static struct net_policy np;
static struct world w;
static uint64_t now;

static void start(bool dhcp, enum net_iface iface)
{
    struct net_policy_cfg cfg = {iface, dhcp, {0x0A000005u, 0xFFFFFF00u, 0x0A000001u, 0}, 1234};
    memset(&w, 0, sizeof w);
    w.link = true;
    w.dhcp_answers = true;
    w.gw_ok = w.inet_ok = true;
    w.dhcp_due = w.ping_due = UINT64_MAX;
    now = 0;
    net_policy_init(&np, &cfg, now);
}

/* Run the loop until @p until, as an app would. */
static void run_until(uint64_t until)
{
    for (;;) {
        struct net_inputs in = {w.link, NET_RES_NONE, {0, 0, 0, 0}, NET_RES_NONE};
        if (now >= w.dhcp_due) {
            w.dhcp_due = UINT64_MAX;
            in.dhcp = (w.dhcp_answers && w.link) ? NET_RES_OK : NET_RES_FAILED;
            in.lease = lease;
        }
        if (now >= w.ping_due) {
            w.ping_due = UINT64_MAX;
            bool ok = w.link && (w.ping_target == lease.gateway ? w.gw_ok : w.inet_ok);
            in.ping = ok ? NET_RES_OK : NET_RES_FAILED;
        }
        struct net_action act;
        int guard = 0;
        while (net_policy_poll(&np, &in, now, &act)) {
            in.dhcp = NET_RES_NONE;
            in.ping = NET_RES_NONE;
            CU_ASSERT_FATAL(++guard < 20);
            switch (act.kind) {
            case NET_ACT_IF_UP:
                w.n_if_up++;
                break;
            case NET_ACT_DHCP_START:
                w.n_dhcp++;
                w.dhcp_due = now + 500; /* the server answers (or not) in 500 ms */
                break;
            case NET_ACT_SET_IPV4:
                w.n_set++;
                w.set = act.addr;
                break;
            case NET_ACT_PING:
                w.ping_target = act.addr.ip;
                w.ping_due = now + 20;
                break;
            case NET_ACT_AP_START:
                w.n_ap_start++;
                break;
            case NET_ACT_AP_STOP:
                w.n_ap_stop++;
                break;
            case NET_ACT_NONE:
                break;
            }
        }
        uint64_t next = net_policy_next_deadline_ms(&np);
        if (w.dhcp_due < next) {
            next = w.dhcp_due;
        }
        if (w.ping_due < next) {
            next = w.ping_due;
        }
        if (next <= now) {
            next = now + 1; /* the policy asked for an immediate poll */
        }
        if (next > until) {
            now = until;
            return;
        }
        now = next;
    }
}

static void test_net_dhcp_first_try_and_pings(void)
{
    start(true, NET_IF_ETHERNET);
    run_until(400);
    CU_ASSERT_EQUAL(w.n_if_up, 1);
    CU_ASSERT_EQUAL(w.n_dhcp, 1);
    CU_ASSERT_FALSE(net_policy_has_ip(&np));
    run_until(600);
    CU_ASSERT_TRUE(net_policy_has_ip(&np));
    CU_ASSERT_EQUAL(w.set.ip, 0xC0A80132u);
    CU_ASSERT_EQUAL(np.state, NET_ST_BOUND);
    /* first probes 1 s after the lease, then every 60 s: at 1.5 s and 61.5 s ... */
    run_until(60000);
    CU_ASSERT_EQUAL(np.counters.gw_ping_pass, 1);
    CU_ASSERT_EQUAL(np.counters.internet_ping_pass, 1);
    run_until(185000);
    CU_ASSERT_EQUAL(np.counters.gw_ping_pass, 4);
    CU_ASSERT_EQUAL(np.counters.internet_ping_pass, 4);
    w.inet_ok = false;
    run_until(250000);
    CU_ASSERT_EQUAL(np.counters.gw_ping_pass, 5);
    CU_ASSERT_EQUAL(np.counters.internet_ping_fail, 1);
}

static void test_net_three_dhcp_failures_give_link_local(void)
{
    start(true, NET_IF_ETHERNET);
    w.dhcp_answers = false;
    run_until(5000);
    /* attempts at 0, 1.5 s, 3.0 s, each answered "no" after 0.5 s, 1 s pause between */
    CU_ASSERT_EQUAL(w.n_dhcp, 3);
    CU_ASSERT_EQUAL(np.counters.dhcp_failures, 3);
    CU_ASSERT_EQUAL(np.state, NET_ST_LINK_LOCAL);
    CU_ASSERT_EQUAL(w.set.ip >> 16, 0xA9FEu); /* 169.254.x.y */
    CU_ASSERT_EQUAL(w.set.netmask, 0xFFFF0000u);
    uint32_t host = w.set.ip & 0xFFFFu;
    CU_ASSERT_TRUE(host >= 0x100u && host <= 0xFEFFu);
    CU_ASSERT_EQUAL(net_link_local_addr(1234), w.set.ip); /* stable per device */
    /* no gateway: probes count as failures without traffic */
    run_until(70000);
    CU_ASSERT_TRUE(np.counters.gw_ping_fail >= 1);
    CU_ASSERT_EQUAL(np.counters.gw_ping_pass, 0);
    /* the DHCP server comes back: the background retry picks it up */
    w.dhcp_answers = true;
    run_until(NET_DHCP_RETRY_MS + 10000u);
    CU_ASSERT_EQUAL(np.state, NET_ST_BOUND);
    CU_ASSERT_EQUAL(w.set.ip, 0xC0A80132u);
}

static void test_net_dhcp_timeout_without_answer(void)
{
    start(true, NET_IF_ETHERNET);
    run_until(1);
    w.dhcp_due = UINT64_MAX; /* the request is lost: no answer at all */
    run_until(NET_DHCP_TIMEOUT_MS + 100u);
    CU_ASSERT_EQUAL(np.counters.dhcp_failures, 1);
    CU_ASSERT_EQUAL(w.n_dhcp, 1);
    run_until(NET_DHCP_TIMEOUT_MS + 2000u); /* the next attempt succeeds */
    CU_ASSERT_EQUAL(w.n_dhcp, 2);
    CU_ASSERT_EQUAL(np.state, NET_ST_BOUND);
}

static void test_net_link_loss_drops_address(void)
{
    start(true, NET_IF_ETHERNET);
    run_until(1000);
    CU_ASSERT_TRUE(net_policy_has_ip(&np));
    w.link = false;
    run_until(2000);
    CU_ASSERT_FALSE(net_policy_has_ip(&np));
    CU_ASSERT_EQUAL(w.set.ip, 0);
    CU_ASSERT_EQUAL(np.state, NET_ST_NO_LINK);
    w.link = true;
    run_until(3000);
    CU_ASSERT_TRUE(net_policy_has_ip(&np));
    CU_ASSERT_EQUAL(w.n_dhcp, 2);
}

static void test_net_static_address(void)
{
    start(false, NET_IF_ETHERNET);
    run_until(10);
    CU_ASSERT_EQUAL(np.state, NET_ST_STATIC);
    CU_ASSERT_EQUAL(w.set.ip, 0x0A000005u);
    CU_ASSERT_EQUAL(w.n_dhcp, 0);
}

static void test_net_ap_mode_until_wifi_client_connects(void)
{
    start(true, NET_IF_WIFI);
    w.link = false; /* Wi-Fi not associated yet (factory state) */
    run_until(100);
    net_policy_request_ap(&np);
    run_until(200);
    CU_ASSERT_EQUAL(w.n_ap_start, 1);
    CU_ASSERT_TRUE(net_policy_is_ap_on(&np));
    run_until(5000);
    CU_ASSERT_TRUE(net_policy_is_ap_on(&np));
    w.link = true; /* joined the configured network */
    run_until(6000);
    CU_ASSERT_EQUAL(np.state, NET_ST_BOUND);
    CU_ASSERT_FALSE(net_policy_is_ap_on(&np));
    CU_ASSERT_EQUAL(w.n_ap_stop, 1);
    CU_ASSERT_STRING_EQUAL(net_state_name(np.state), "bound");
}

static void test_net_ap_stays_on_ethernet(void)
{
    start(true, NET_IF_ETHERNET);
    net_policy_request_ap(&np);
    run_until(2000);
    CU_ASSERT_TRUE(net_policy_has_ip(&np));
    CU_ASSERT_TRUE(net_policy_is_ap_on(&np)); /* only a Wi-Fi client connection ends AP mode */
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_net_dhcp_first_try_and_pings", test_net_dhcp_first_try_and_pings},
        {"test_net_three_dhcp_failures_give_link_local",
         test_net_three_dhcp_failures_give_link_local},
        {"test_net_dhcp_timeout_without_answer", test_net_dhcp_timeout_without_answer},
        {"test_net_link_loss_drops_address", test_net_link_loss_drops_address},
        {"test_net_static_address", test_net_static_address},
        {"test_net_ap_mode_until_wifi_client_connects",
         test_net_ap_mode_until_wifi_client_connects},
        {"test_net_ap_stays_on_ethernet", test_net_ap_stays_on_ethernet},
    };
    return ml_test_run("net", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}
