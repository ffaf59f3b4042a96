/*
 * Integration tests of the sim port's MQTT client (hal_mqtt on libmosquitto)
 * against a real mosquitto broker, observed by an independent libmosquitto
 * subscriber. The device runs in virtual time; the network is real loopback.
 *
 * Rules for robustness on a loaded machine: every wait on the network is a
 * real-time bounded poll (WAIT_MS), and virtual time is only moved in steps
 * whose outcome does not depend on how fast the broker answers.
 *
 * Run one case: test_mqtt <case name>; without an argument all run.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "ml_broker.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"
#include "sim.h"
#include "timer.h"

#define WAIT_MS       10000u /* real-time bound of every wait on the network */
#define PUB_PERIOD_MS 10000u
#define SERIAL        "SIM0000001"
#define TOPIC         "devices/default/smart-connect/" SERIAL "/data/test"

/* ------------------------------------------------------------------------- */
/* The app: hal_mqtt_start, then one publish every 10 s of device time       */
/* ------------------------------------------------------------------------- */

static struct hal_mqtt_cfg app_cfg; /* set by the case before sim_start */
static volatile int app_start_rc;
static volatile uint32_t app_publishes; /* attempts */
static volatile uint32_t app_pub_ok;

static void mqtt_app(void)
{
    struct ml_timer tick;
    app_publishes = 0;
    app_pub_ok = 0;
    app_start_rc = hal_mqtt_start(&app_cfg);
    ml_timer_start(&tick, hal_time_ms(), PUB_PERIOD_MS, PUB_PERIOD_MS);
    while (!hal_sys_should_stop()) {
        uint64_t now = hal_time_ms();
        if (ml_timer_is_due(&tick, now)) {
            char payload[64];
            int len = snprintf(payload, sizeof payload, "{\"n\":%u,\"t_ms\":%llu}",
                               (unsigned)app_publishes + 1u, (unsigned long long)now);
            int rc = hal_mqtt_publish(TOPIC, payload, (size_t)len);
            app_publishes++;
            if (rc == ML_OK) {
                app_pub_ok++;
            }
        }
        hal_time_wait_until(ml_timer_earliest(&tick, HAL_TIME_FOREVER));
    }
    hal_mqtt_stop();
}

/* ------------------------------------------------------------------------- */
/* Fixture                                                                   */
/* ------------------------------------------------------------------------- */

static struct ml_broker broker;
static bool broker_up;
static struct ml_mqtt_sub *sub;
static bool sim_running;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

static struct hal_mqtt_stats stats(void)
{
    struct hal_mqtt_stats s;
    hal_mqtt_get_stats(&s);
    return s;
}

/* Wait (real time, virtual time standing still) until the state is @p st. */
static bool wait_state(enum hal_mqtt_state st)
{
    uint64_t end = ml_broker_real_ms() + WAIT_MS;
    while (hal_mqtt_get_state() != st) {
        if (ml_broker_real_ms() >= end) {
            fprintf(stderr, "state %d, wanted %d\n", (int)hal_mqtt_get_state(), (int)st);
            return false;
        }
        sleep_ms(5);
    }
    sim_wait_idle();
    return true;
}

/* Wait (real time) until the errors counter reaches @p n, then for idle. */
static bool wait_errors(uint32_t n)
{
    uint64_t end = ml_broker_real_ms() + WAIT_MS;
    while (stats().errors < n) {
        if (ml_broker_real_ms() >= end) {
            fprintf(stderr, "errors %u, wanted %u\n", (unsigned)stats().errors, (unsigned)n);
            return false;
        }
        sleep_ms(5);
    }
    sim_wait_idle();
    return true;
}

static bool start_broker(const struct ml_broker_opts *opts)
{
    broker_up = ml_broker_start(&broker, opts) == 0;
    return broker_up;
}

static bool start_sub(void)
{
    sub = ml_mqtt_sub_start(broker.obs_port, "devices/#", WAIT_MS);
    return sub != NULL;
}

static void start_device_cfg(const struct hal_mqtt_cfg *c)
{
    app_cfg = *c;
    struct sim_config cfg = {
        .time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000, .serial = SERIAL};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, mqtt_app), ML_OK);
    sim_running = true;
    CU_ASSERT_EQUAL(app_start_rc, ML_OK);
}

static void start_device(const char *user, const char *pass, bool ca, bool cert)
{
    struct hal_mqtt_cfg c = {
        .url = broker.url,
        .client_id = SERIAL,
        .username = user,
        .password = pass,
        .ca_file = ca ? broker.ca_file : NULL,
        .cert_file = cert ? broker.client_cert : NULL,
        .key_file = cert ? broker.client_key : NULL,
    };
    start_device_cfg(&c);
}

/* Expect the message @p i to be publish number @p n made at @p t_ms. */
static void check_msg(size_t i, unsigned n, uint64_t t_ms)
{
    struct ml_mqtt_msg m;
    char want[64];
    snprintf(want, sizeof want, "{\"n\":%u,\"t_ms\":%llu}", n, (unsigned long long)t_ms);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_get(sub, i, &m));
    CU_ASSERT_STRING_EQUAL(m.topic, TOPIC);
    CU_ASSERT_STRING_EQUAL(m.payload, want);
    CU_ASSERT_EQUAL(m.len, strlen(want));
}

static void setup(void)
{
    memset(&broker, 0, sizeof broker);
    broker_up = false;
    sub = NULL;
    sim_running = false;
}

static void teardown(void)
{
    if (sim_running) {
        /* invariant: every publish attempt is counted once, pass or fail */
        struct hal_mqtt_stats s = stats();
        CU_ASSERT_EQUAL(s.send_pass + s.send_fail, app_publishes);
        CU_ASSERT_EQUAL(s.send_pass, app_pub_ok);
        sim_stop();
        CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
    }
    ml_mqtt_sub_stop(sub);
    sub = NULL;
    if (broker_up) {
        if (CU_get_number_of_failures() > 0 && getenv("ML_BROKER_LOG") != NULL) {
            ml_broker_dump_log(&broker);
        }
        ml_broker_destroy(&broker);
    }
}

/* ------------------------------------------------------------------------- */
/* Cases                                                                     */
/* ------------------------------------------------------------------------- */

static void test_mqtt_plain_connect_and_publish(void)
{
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device(NULL, NULL, false, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    CU_ASSERT_EQUAL(sim_now_us(), 0); /* connected while time stood still */
    CU_ASSERT_EQUAL(stats().connects, 1);
    CU_ASSERT_EQUAL(stats().errors, 0);

    sim_advance_ms(30000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 3, WAIT_MS));
    check_msg(0, 1, 10000);
    check_msg(1, 2, 20000);
    check_msg(2, 3, 30000);
    CU_ASSERT_EQUAL(stats().send_pass, 3);
    CU_ASSERT_EQUAL(stats().send_fail, 0);
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_CONNECTED);
}

static void test_mqtt_bad_url_rejected(void)
{
    static const char *const bad[] = {
        "",
        "http://127.0.0.1:1883",
        "mqtt:/127.0.0.1",
        "mqtt://",
        "mqtt://:1883",
        "mqtt://host:",
        "mqtt://host:0",
        "mqtt://host:65536",
        "mqtt://host:12x",
        "mqtt://host/topic",
        "mqtt://user@host",
        "mqtt://ho st",
        "mqtts://[::1",
        NULL,
    };
    /* validation happens before any side effect, so the host thread may ask */
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad); i++) {
        struct hal_mqtt_cfg cfg = {.url = bad[i], .client_id = SERIAL};
        CU_ASSERT_EQUAL(hal_mqtt_start(&cfg), ML_EINVAL);
    }
    CU_ASSERT_EQUAL(hal_mqtt_start(NULL), ML_EINVAL);
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
}

/* Advance to the loop's next deadline (a reconnect attempt) and wait until
 * that attempt has failed: errors becomes @p errors, the state @p st. */
static void fail_attempt_at(uint64_t t_us, uint32_t errors, enum hal_mqtt_state st)
{
    CU_ASSERT_EQUAL(sim_next_deadline_us(), t_us);
    sim_advance_to_us(t_us);
    CU_ASSERT_TRUE(wait_errors(errors));
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), st);
}

static void test_mqtt_password_accepted(void)
{
    struct ml_broker_opts o = {.username = "meter", .password = "s3cret"};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device("meter", "s3cret", false, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    sim_advance_ms(10000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 1, WAIT_MS));
    check_msg(0, 1, 10000);
    CU_ASSERT_EQUAL(stats().errors, 0);
}

static void test_mqtt_password_rejected(void)
{
    struct ml_broker_opts o = {.username = "meter", .password = "s3cret"};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device("meter", "wrong", false, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_AUTH_FAILED));
    CU_ASSERT_TRUE_FATAL(wait_errors(1));
    CU_ASSERT_EQUAL(stats().connects, 0);
    /* retried after 1 s, then 2 s, of device time; still refused */
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 1000000u);
    sim_advance_to_us(1000000u);
    CU_ASSERT_TRUE_FATAL(wait_errors(2));
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 3000000u);
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_AUTH_FAILED);

    /* attempts at 3 s and 7 s are refused too; the publish at 10 s fails */
    fail_attempt_at(3000000u, 3, HAL_MQTT_AUTH_FAILED);
    fail_attempt_at(7000000u, 4, HAL_MQTT_AUTH_FAILED);
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 10000000u);
    sim_advance_to_us(10000000u);
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 15000000u);
    struct hal_mqtt_stats s = stats();
    CU_ASSERT_EQUAL(app_publishes, 1);
    CU_ASSERT_EQUAL(s.send_pass, 0);
    CU_ASSERT_EQUAL(s.send_fail, 1);
    CU_ASSERT_EQUAL(s.connects, 0);
    CU_ASSERT_EQUAL(ml_mqtt_sub_count(sub), 0);
}

static void test_mqtt_tls_with_ca(void)
{
    struct ml_broker_opts o = {.tls = true};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    CU_ASSERT_EQUAL(strncmp(broker.url, "mqtts://", 8), 0);
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device(NULL, NULL, true, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    sim_advance_ms(10000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 1, WAIT_MS));
    check_msg(0, 1, 10000);
}

static void test_mqtt_tls_untrusted_server_refused(void)
{
    struct ml_broker_opts o = {.tls = true};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    /* trust the client certificate only: the server's chain does not verify */
    struct hal_mqtt_cfg c = {.url = broker.url, .client_id = SERIAL, .ca_file = broker.client_cert};
    start_device_cfg(&c);
    CU_ASSERT_TRUE_FATAL(wait_errors(1));
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_CONNECTING);
    CU_ASSERT_EQUAL(stats().connects, 0);
}

static void test_mqtt_mutual_tls_cn_is_serial(void)
{
    struct ml_broker_opts o = {.require_cert = true, .client_cn = SERIAL};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device(NULL, NULL, true, true);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    sim_advance_ms(10000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 1, WAIT_MS));
    check_msg(0, 1, 10000);
    /* the broker took the certificate's CN as the user name */
    size_t len = 0;
    char *log = (char *)ml_test_read_file(broker.log_file, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "u'" SERIAL "'"));
    free(log);
}

static void test_mqtt_mutual_tls_without_cert_refused(void)
{
    struct ml_broker_opts o = {.require_cert = true, .client_cn = SERIAL};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    start_device(NULL, NULL, true, false);
    CU_ASSERT_TRUE_FATAL(wait_errors(1));
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_CONNECTING);
    CU_ASSERT_EQUAL(stats().connects, 0);
    sim_advance_ms(10000);
    CU_ASSERT_EQUAL(stats().send_fail, 1);
    CU_ASSERT_EQUAL(stats().send_pass, 0);
    CU_ASSERT_EQUAL(stats().connects, 0);
}

static void test_mqtt_broker_down_backoff_and_reconnect(void)
{
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device(NULL, NULL, false, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    sim_advance_ms(10000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 1, WAIT_MS));

    /* broker down at 10 s: the drop is seen while time stands still */
    ml_mqtt_sub_stop(sub);
    sub = NULL;
    ml_broker_stop(&broker);
    CU_ASSERT_TRUE_FATAL(wait_errors(1));
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_CONNECTING);
    CU_ASSERT_EQUAL(sim_now_us(), 10000000u);

    /* attempts after 1, 2, 4 s of device time: 11, 13, 17 s */
    fail_attempt_at(11000000u, 2, HAL_MQTT_CONNECTING);
    fail_attempt_at(13000000u, 3, HAL_MQTT_CONNECTING);
    fail_attempt_at(17000000u, 4, HAL_MQTT_CONNECTING);
    /* next attempt at 25 s; the publish at 20 s fails */
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 20000000u);
    sim_advance_to_us(20000000u);
    CU_ASSERT_EQUAL(stats().send_fail, 1);
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 25000000u);

    /* broker back: nothing happens until the host advances to 25 s */
    CU_ASSERT_EQUAL_FATAL(ml_broker_restart(&broker), 0);
    CU_ASSERT_TRUE_FATAL(start_sub());
    CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_CONNECTING);
    CU_ASSERT_EQUAL(stats().connects, 1);
    sim_advance_to_us(25000000u);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    struct hal_mqtt_stats s = stats();
    CU_ASSERT_EQUAL(s.connects, 2);
    CU_ASSERT_EQUAL(s.errors, 4);

    sim_advance_to_us(30000000u);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 1, WAIT_MS));
    check_msg(0, 3, 30000);
    s = stats();
    CU_ASSERT_EQUAL(s.send_pass, 2);
    CU_ASSERT_EQUAL(s.send_fail, 1);
    CU_ASSERT_EQUAL(app_publishes, 3);
}

static void test_mqtt_backoff_caps_at_60s(void)
{
    /* a port nobody listens on: every attempt is refused */
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    ml_broker_stop(&broker);
    start_device(NULL, NULL, false, false);
    CU_ASSERT_TRUE_FATAL(wait_errors(1));
    uint64_t t = 0;
    uint64_t delay = 1000000u;
    for (uint32_t n = 2; n <= 9; n++) {
        t += delay;
        /* the app's publish timer (every 10 s) may come first: pass it */
        while (sim_next_deadline_us() < t) {
            sim_advance_to_us(sim_next_deadline_us());
            sim_wait_idle();
        }
        fail_attempt_at(t, n, HAL_MQTT_CONNECTING);
        delay = delay * 2 > 60000000u ? 60000000u : delay * 2;
    }
    CU_ASSERT_EQUAL(delay, 60000000u);
    CU_ASSERT_EQUAL(stats().connects, 0);
}

static void test_mqtt_power_cycle_starts_fresh(void)
{
    CU_ASSERT_TRUE_FATAL(start_broker(NULL));
    CU_ASSERT_TRUE_FATAL(start_sub());
    start_device(NULL, NULL, false, false);
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    sim_advance_ms(10000);
    CU_ASSERT_EQUAL(stats().send_pass, 1);
    CU_ASSERT_EQUAL(sim_power_cycle(), ML_OK);
    /* counters are volatile; the app connects again */
    CU_ASSERT_TRUE_FATAL(wait_state(HAL_MQTT_CONNECTED));
    struct hal_mqtt_stats s = stats();
    CU_ASSERT_EQUAL(s.connects, 1);
    CU_ASSERT_EQUAL(s.errors, 0);
    CU_ASSERT_EQUAL(s.send_pass, 0);
    sim_advance_ms(10000);
    CU_ASSERT_TRUE_FATAL(ml_mqtt_sub_wait(sub, 2, WAIT_MS));
    check_msg(1, 1, 20000);
}

/* TLS material that cannot work is refused at start (ML_EINVAL, a reason that
 * names the file), not accepted and then failed handshake after handshake. */
static void test_mqtt_bad_tls_material_rejected(void)
{
    struct ml_broker_opts o = {.require_cert = true};
    CU_ASSERT_TRUE_FATAL(start_broker(&o));
    char garbage[256], missing[256], ca_key[256];
    snprintf(garbage, sizeof garbage, "%s/garbage.pem", broker.dir);
    snprintf(missing, sizeof missing, "%s/no-such.pem", broker.dir);
    snprintf(ca_key, sizeof ca_key, "%s/ca.key", broker.dir); /* not the client cert's key */
    FILE *f = fopen(garbage, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n", f);
    fclose(f);
    const struct {
        const char *ca, *cert, *key, *why;
    } bad[] = {
        {missing, NULL, NULL, "CA file '"},
        {garbage, NULL, NULL, "no PEM certificate"},
        {broker.ca_file, garbage, broker.client_key, "certificate file '"},
        {broker.ca_file, broker.client_cert, missing, "key file '"},
        {broker.ca_file, broker.client_cert, garbage, "no PEM private key"},
        {broker.ca_file, broker.client_cert, ca_key, "does not match"},
        {broker.ca_file, broker.client_cert, NULL, "needs both"},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad); i++) {
        char why[512] = "";
        CU_ASSERT_EQUAL(sim_mqtt_tls_check(bad[i].ca, bad[i].cert, bad[i].key, why, sizeof why),
                        ML_EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(why, bad[i].why));
        struct hal_mqtt_cfg c = {.url = broker.url,
                                 .client_id = SERIAL,
                                 .ca_file = bad[i].ca,
                                 .cert_file = bad[i].cert,
                                 .key_file = bad[i].key};
        CU_ASSERT_EQUAL(hal_mqtt_start(&c), ML_EINVAL);
        CU_ASSERT_EQUAL(hal_mqtt_get_state(), HAL_MQTT_DISABLED);
    }
    CU_ASSERT_EQUAL(
        sim_mqtt_tls_check(broker.ca_file, broker.client_cert, broker.client_key, NULL, 0), ML_OK);
    /* plain brokers need no TLS material: a bad path is not even looked at */
    struct hal_mqtt_cfg plain = {
        .url = "mqtt://127.0.0.1:1", .client_id = SERIAL, .ca_file = missing};
    CU_ASSERT_EQUAL(hal_mqtt_start(&plain), ML_OK);
    hal_mqtt_stop();
}

int main(int argc, char **argv)
{
    static const struct ml_test_case all[] = {
        {"test_mqtt_plain_connect_and_publish", test_mqtt_plain_connect_and_publish},
        {"test_mqtt_bad_url_rejected", test_mqtt_bad_url_rejected},
        {"test_mqtt_password_accepted", test_mqtt_password_accepted},
        {"test_mqtt_password_rejected", test_mqtt_password_rejected},
        {"test_mqtt_tls_with_ca", test_mqtt_tls_with_ca},
        {"test_mqtt_tls_untrusted_server_refused", test_mqtt_tls_untrusted_server_refused},
        {"test_mqtt_mutual_tls_cn_is_serial", test_mqtt_mutual_tls_cn_is_serial},
        {"test_mqtt_mutual_tls_without_cert_refused", test_mqtt_mutual_tls_without_cert_refused},
        {"test_mqtt_broker_down_backoff_and_reconnect",
         test_mqtt_broker_down_backoff_and_reconnect},
        {"test_mqtt_backoff_caps_at_60s", test_mqtt_backoff_caps_at_60s},
        {"test_mqtt_power_cycle_starts_fresh", test_mqtt_power_cycle_starts_fresh},
        {"test_mqtt_bad_tls_material_rejected", test_mqtt_bad_tls_material_rejected},
    };
    struct ml_test_case pick[ML_ARRAY_SIZE(all)];
    size_t n = 0;
    for (size_t i = 0; i < ML_ARRAY_SIZE(all); i++) {
        if (argc < 2 || strcmp(argv[1], all[i].name) == 0) {
            pick[n++] = all[i];
        }
    }
    return ml_test_run("mqtt", pick, n, setup, teardown);
}
