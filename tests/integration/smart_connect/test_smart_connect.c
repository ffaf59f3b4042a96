/*
 * Smart Connect (P1 and TIC flavours) in virtual time on the sim port, observed
 * only from outside: libmodbus reads registers, a libmosquitto subscriber on a
 * real mosquitto broker receives MQTT, P1 out is drained from the UART, LEDs
 * come from the port's LED log. Expected values are written from the telegrams
 * and products.md by hand.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <modbus.h> /* libmodbus (pkg-config include dir); not firmware/core/modbus */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml_broker.h"
#include "ml_devices.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"

#define SERIAL "SC12345678"

static struct ml_broker broker;
static bool have_broker;
static struct ml_mqtt_sub *sub;
static uint8_t *tel50, *tel42;
static size_t tel50_len, tel42_len;

/* ------------------------------------------------------------------------- */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------- */

static void start_device(enum sc_flavour fl, bool mqtt)
{
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.flavour = fl;
    s.modbus_port = 0; /* any free port */
    s.mqtt_enabled = mqtt && have_broker;
    if (s.mqtt_enabled) {
        snprintf(s.mqtt_url, sizeof s.mqtt_url, "%s", broker.url);
    }
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = "abcd2345"};
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&s, &cfg), 0);
}

static void stop_device(void)
{
    ml_dev_sc_stop();
}

static const struct sc_app *app(void)
{
    return ml_dev_sc_app();
}

/* Advance virtual time to the lease (DHCP answers after 0.5 s) and a bit more. */
static void boot_network(void)
{
    sim_advance_ms(1000);
    CU_ASSERT_TRUE(app()->status.has_ip);
}

/* MQTT connects over real loopback while virtual time stands still. */
static bool wait_mqtt_connected(void)
{
    for (int i = 0; i < 500; i++) {
        sim_wait_idle();
        if (app()->status.mqtt == HAL_MQTT_CONNECTED) {
            return true;
        }
        usleep(10000);
    }
    return false;
}

static void inject(const void *p, size_t n)
{
    sim_uart_feed(HAL_UART_P1_IN, p, n);
    sim_wait_idle();
}

static modbus_t *mb_connect(void)
{
    modbus_t *mb = modbus_new_tcp("127.0.0.1", app()->status.modbus_port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_response_timeout(mb, 5, 0);
    CU_ASSERT_EQUAL_FATAL(modbus_connect(mb), 0);
    return mb;
}

static float read_float_cdab(modbus_t *mb, int addr)
{
    uint16_t r[2] = {0xDEAD, 0xBEEF};
    CU_ASSERT_EQUAL(modbus_read_registers(mb, addr, 2, r), 2);
    return modbus_get_float_cdab(r);
}

static cJSON *wait_json(const char *metric, size_t nth)
{
    char topic[128];
    snprintf(topic, sizeof topic, "devices/default/smart-connect/%s/data/%s", SERIAL, metric);
    for (int i = 0; i < 500; i++) {
        size_t n = ml_mqtt_sub_count(sub), seen = 0;
        for (size_t k = 0; k < n; k++) {
            struct ml_mqtt_msg m;
            if (ml_mqtt_sub_get(sub, k, &m) && strcmp(m.topic, topic) == 0 && ++seen == nth) {
                return cJSON_Parse(m.payload);
            }
        }
        usleep(10000);
    }
    return NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    CU_ASSERT_TRUE(cJSON_IsNumber(v));
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static bool is_null(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v != NULL && cJSON_IsNull(v);
}

/* TIC standard group: LF label HT data HT checksum CR (tic.md §3, §5). */
static size_t tic_group(char *out, const char *label, const char *data)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%s\t%s\t", label, data);
    unsigned sum = 0;
    for (int i = 0; i < n; i++) {
        sum += (unsigned char)body[i];
    }
    return (size_t)sprintf(out, "\n%s%c\r", body, (char)((sum & 0x3Fu) + 0x20u));
}

/* ------------------------------------------------------------------------- */
/* P1                                                                        */
/* ------------------------------------------------------------------------- */

static void test_sc_p1_modbus_empro_values(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    modbus_t *mb = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8006), 0.0, 1e-9); /* no telegram yet: 0 */
    inject(tel50, tel50_len);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 1);
    /* 1-0:32.7.0(220.1*V) ... 72.7.0(220.3*V) */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8006), 220.1, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8008), 220.2, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x800A), 220.3, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x800E), 1.0, 1e-6); /* 31.7.0(001*A) */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8012), 3.0, 1e-6);
    /* P = 1.193 kW imported - 0 exported */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8016), 1193.0, 1e-3);
    /* L1: 1.111 kW in, 4.444 kW out -> -3333 W (negative values survive CDAB) */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x801E), -3333.0, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8022), -3333.0, 1e-3);
    /* energies in Wh: 123456.789 + 123456.789 kWh = 246913578 Wh (float32: +-16) */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8100), 246913578.0, 16.0);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8106), 246913578.0, 16.0);
    /* a register the template does not define reads 0; FC04 returns the same data */
    uint16_t r[4] = {1, 1, 1, 1};
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x8036, 4, r), 4);
    CU_ASSERT_TRUE(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 0);
    uint16_t a[2], b[2];
    modbus_read_registers(mb, 0x8016, 2, a);
    modbus_read_input_registers(mb, 0x8016, 2, b);
    CU_ASSERT_TRUE(a[0] == b[0] && a[1] == b[1]);
    /* the 57-register block OpenEMS reads comes back in one piece */
    uint16_t big[57];
    CU_ASSERT_EQUAL(modbus_read_registers(mb, 0x8006, 57, big), 57);
    modbus_close(mb);
    modbus_free(mb);
    stop_device();
}

static void test_sc_p1_dsmr42_has_no_voltages(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel42, tel42_len);
    CU_ASSERT_EQUAL_FATAL(app()->counters.telegrams_pass, 1);
    modbus_t *mb = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8006), 0.0, 1e-9); /* DSMR 4.2: no 32.7.0 */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8008), 0.0, 1e-9);
    modbus_close(mb);
    modbus_free(mb);
    stop_device();
}

static void test_sc_p1_mqtt_power_instant_and_counters(void)
{
    if (!have_broker) {
        CU_FAIL("no mosquitto broker");
        return;
    }
    ml_mqtt_sub_clear(sub);
    start_device(SC_FLAVOUR_P1, true);
    boot_network();
    CU_ASSERT_TRUE_FATAL(wait_mqtt_connected());
    /* device_counters once right after connecting */
    cJSON *dc = wait_json("device_counters", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
    static const char *const dc_keys[] = {"uptime",
                                          "gw_ping_pass",
                                          "gw_ping_fail",
                                          "internet_ping_pass",
                                          "internet_ping_fail",
                                          "telegrams_pass",
                                          "telegrams_fail",
                                          "telegrams_frame_fail",
                                          "mqtt_event_errors",
                                          "mqtt_event_connect",
                                          "mqtt_send_pass",
                                          "mqtt_send_fail",
                                          "heap_free",
                                          "heap_min_free",
                                          "heap_largest_free",
                                          "heap_failed_allocs"};
    for (size_t i = 0; i < sizeof dc_keys / sizeof dc_keys[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(dc, dc_keys[i]));
    }
    CU_ASSERT_EQUAL(cJSON_GetArraySize(dc), (int)(sizeof dc_keys / sizeof dc_keys[0]));
    CU_ASSERT_EQUAL(num(dc, "mqtt_event_connect"), 1);
    cJSON_Delete(dc);

    inject(tel50, tel50_len);
    cJSON *pi = wait_json("power_instant", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pi);
    static const char *const keys[] = {"ts",    "P",      "P+",  "P-",  "E_IMPORT", "E_EXPORT",
                                       "U12",   "U31",    "U32", "Q",   "Q+",       "Q-",
                                       "EQ1",   "EQ2",    "EQ3", "EQ4", "PF",       "S",
                                       "PFAIL", "LPFAIL", "l1",  "l2",  "l3"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(pi, keys[i]));
    }
    CU_ASSERT_EQUAL(cJSON_GetArraySize(pi), (int)(sizeof keys / sizeof keys[0]));
    CU_ASSERT_EQUAL(num(pi, "ts"), 1291890620); /* 101209113020W = 10:30:20 UTC */
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "P"), 1193.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "P+"), 1193.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "P-"), 0.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "E_IMPORT"), 246913578.0, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "E_EXPORT"), 246913578.0, 1e-3);
    CU_ASSERT_EQUAL(num(pi, "PFAIL"), 4);
    CU_ASSERT_EQUAL(num(pi, "LPFAIL"), 2);
    CU_ASSERT_TRUE(is_null(pi, "U12"));
    CU_ASSERT_TRUE(is_null(pi, "Q"));
    CU_ASSERT_TRUE(is_null(pi, "EQ1"));
    /* no reactive data: S = |P|, PF = sign(P) (products.md "S and PF") */
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "S"), 1193.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(num(pi, "PF"), 1.0, 1e-9);
    static const char *const ph_keys[] = {"U",  "I",  "P", "P+",    "P-",     "Q",
                                          "Q+", "Q-", "S", "VSAGS", "VSWELLS"};
    const cJSON *l1 = cJSON_GetObjectItemCaseSensitive(pi, "l1");
    const cJSON *l2 = cJSON_GetObjectItemCaseSensitive(pi, "l2");
    CU_ASSERT_TRUE_FATAL(cJSON_IsObject(l1) && cJSON_IsObject(l2));
    for (size_t i = 0; i < sizeof ph_keys / sizeof ph_keys[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(l1, ph_keys[i]));
    }
    CU_ASSERT_EQUAL(cJSON_GetArraySize(l1), (int)(sizeof ph_keys / sizeof ph_keys[0]));
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "U"), 220.1, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "I"), 1.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "P"), -3333.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "P+"), 1111.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "P-"), 4444.0, 1e-9);
    CU_ASSERT_EQUAL(num(l1, "VSAGS"), 2);
    CU_ASSERT_EQUAL(num(l2, "VSWELLS"), 3);
    CU_ASSERT_DOUBLE_EQUAL(num(l1, "S"), 3333.0, 1e-9); /* |P| of an exporting phase */
    cJSON_Delete(pi);

    /* one power_instant per good telegram; none for a corrupted one */
    uint8_t *bad = malloc(tel50_len);
    memcpy(bad, tel50, tel50_len);
    bad[40] ^= 0x01;
    inject(bad, tel50_len);
    inject(tel50, tel50_len);
    free(bad);
    cJSON *second = wait_json("power_instant", 2);
    CU_ASSERT_PTR_NOT_NULL(second);
    cJSON_Delete(second);
    usleep(200000);
    cJSON *third = wait_json("power_instant", 3);
    CU_ASSERT_PTR_NULL(third);
    /* device_counters again 60 s later, with the telegram counts */
    sim_advance_ms(60000);
    dc = wait_json("device_counters", 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dc);
    CU_ASSERT_EQUAL(num(dc, "telegrams_pass"), 2);
    CU_ASSERT_EQUAL(num(dc, "telegrams_fail"), 1);
    CU_ASSERT_EQUAL(num(dc, "telegrams_frame_fail"), 0);
    CU_ASSERT_TRUE(num(dc, "uptime") >= 60);
    cJSON_Delete(dc);
    stop_device();
}

static void test_sc_p1_out_is_exact_copy_and_counters_add_up(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    /* good, noise, CRC-corrupted, truncated by a new '/', good, oversize-free garbage */
    size_t cap = tel50_len * 6 + 64, n = 0;
    uint8_t *in = malloc(cap);
    memcpy(in + n, tel50, tel50_len);
    n += tel50_len;
    memcpy(in + n, "\x00\xff noise \x7f", 10);
    n += 10;
    memcpy(in + n, tel50, tel50_len);
    in[n + 100] ^= 0x04; /* CRC fail */
    n += tel50_len;
    memcpy(in + n, tel50, tel50_len / 2); /* truncated: frame fail */
    n += tel50_len / 2;
    memcpy(in + n, tel50, tel50_len);
    n += tel50_len;
    /* feed in uneven chunks, as a UART would */
    uint8_t *out = malloc(cap);
    size_t got = 0;
    for (size_t off = 0; off < n;) {
        size_t k = (off * 7 + 13) % 97 + 1;
        if (k > n - off) {
            k = n - off;
        }
        sim_uart_inject(HAL_UART_P1_IN, in + off, k);
        sim_advance_ms(9); /* 97 bytes take 8.4 ms at 115200 8N1 */
        off += k;
        /* P1 out leaves at the line rate too: the UART's TX ring (1 KiB, as on the
         * target) is emptied as it goes */
        got += sim_uart_drain(HAL_UART_P1_OUT, out + got, cap - got);
    }
    sim_wait_idle();
    got += sim_uart_drain(HAL_UART_P1_OUT, out + got, cap - got);
    CU_ASSERT_EQUAL(sim_uart_drain(HAL_UART_P1_OUT, out, cap), 0);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(memcmp(in, out, n), 0);
    const struct sc_counters *k = &app()->counters;
    CU_ASSERT_EQUAL(k->telegrams_pass, 2);
    CU_ASSERT_EQUAL(k->telegrams_fail, 1);
    CU_ASSERT_EQUAL(k->telegrams_frame_fail, 1);
    CU_ASSERT_EQUAL(k->telegrams_pass + k->telegrams_fail + k->telegrams_frame_fail, 4);
    free(in);
    free(out);
    stop_device();
}

/* A telegram cut off by the next '/' where that '/' starts the next UART read:
 * the cut ends before the '/' is consumed, and the good telegram that follows
 * must not be lost. Also the whole cut-and-good sequence in a single read. */
static void test_sc_p1_truncated_then_good(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel50, tel50_len / 2); /* cut off here ... */
    inject(tel50, tel50_len);     /* ... by this read, which starts with '/' */
    CU_ASSERT_EQUAL(app()->counters.telegrams_frame_fail, 1);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 1);
    size_t n = tel50_len / 2 + tel50_len;
    uint8_t *in = malloc(n);
    memcpy(in, tel50, tel50_len / 2);
    memcpy(in + tel50_len / 2, tel50, tel50_len);
    inject(in, n);
    free(in);
    CU_ASSERT_EQUAL(app()->counters.telegrams_frame_fail, 2);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 2);
    stop_device();
}

/* LED colour at time @p t from the port's LED log (the last change at or before t). */
static uint32_t led_at(const struct sim_led_event *ev, size_t n, uint64_t t_us)
{
    uint32_t c = 0;
    for (size_t i = 0; i < n && ev[i].t_us <= t_us; i++) {
        if (ev[i].id == HAL_LED_STATUS) {
            c = ev[i].rgb;
        }
    }
    return c;
}

static void test_sc_led_boot_normal_unplugged_noip(void)
{
    start_device(SC_FLAVOUR_P1, false);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_INITIALISING);
    sim_advance_ms(2000);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER); /* IP, no meter yet */
    inject(tel50, tel50_len);
    sim_advance_ms(10);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NORMAL);
    sim_advance_ms(SC_METER_TIMEOUT_MS + 10); /* meter unplugged */
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER);
    struct sim_net_model m;
    sim_net_get(&m);
    m.link_up[HAL_NET_ETH] = false; /* cable out: no IP */
    sim_net_set(&m);
    sim_advance_ms(100);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER_NO_IP);
    inject(tel50, tel50_len);
    sim_advance_ms(10);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_IP);
    uint64_t t_noip = sim_now_us();
    sim_advance_ms(3000);

    static struct sim_led_event ev[4096];
    size_t n = sim_led_events(ev, 4096);
    CU_ASSERT_TRUE_FATAL(n > 10);
    CU_ASSERT_EQUAL(ev[0].t_us, 0);
    CU_ASSERT_EQUAL(ev[0].rgb, 0xFF0000u); /* booting: red */
    /* no meter data: red/green, 500 ms each */
    CU_ASSERT_EQUAL(led_at(ev, n, 1200000) == 0xFF0000u || led_at(ev, n, 1200000) == 0x00FF00u, 1);
    CU_ASSERT_NOT_EQUAL(led_at(ev, n, 1200000), led_at(ev, n, 1700000));
    /* normal: steady green */
    CU_ASSERT_EQUAL(led_at(ev, n, 2100000), 0x00FF00u);
    CU_ASSERT_EQUAL(led_at(ev, n, 20000000), 0x00FF00u);
    /* no IP with meter data: green/orange alternating at 1 Hz */
    uint32_t a = led_at(ev, n, t_noip + 200000), b = led_at(ev, n, t_noip + 700000);
    CU_ASSERT_TRUE((a == 0x00FF00u && b == 0xFF8000u) || (a == 0xFF8000u && b == 0x00FF00u));
    CU_ASSERT_EQUAL(led_at(ev, n, t_noip + 1200000), a);
    stop_device();
}

static void test_sc_button_gestures(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    uint32_t boots = sim_boot_count();
    /* short press: soft reset */
    sim_button_set(true);
    sim_advance_ms(300);
    sim_button_set(false);
    sim_advance_ms(200);
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    boot_network();
    /* hold 5 s in factory state: blue blinking from the 5 s mark, AP mode on release */
    sim_button_set(true);
    sim_advance_ms(5100);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_BUTTON_AP);
    sim_advance_ms(500);
    sim_button_set(false);
    sim_advance_ms(200);
    CU_ASSERT_TRUE(net_policy_is_ap_on(&app()->net));
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER_AP); /* blue/red: AP, no meter data */
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    stop_device();
}

static void test_sc_modbus_one_client_rule(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel50, tel50_len);
    modbus_t *first = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(first, 0x8016), 1193.0, 1e-3);
    /* a second client while the first is active is closed at once */
    modbus_t *second = mb_connect();
    modbus_set_response_timeout(second, 1, 0);
    uint16_t r[2];
    CU_ASSERT_EQUAL(modbus_read_registers(second, 0x8016, 2, r), -1);
    CU_ASSERT_EQUAL(app()->counters.modbus_clients_refused, 1);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(first, 0x8016), 1193.0, 1e-3);
    /* after 5 s of silence the first one may be replaced */
    sim_advance_ms(SC_CLIENT_IDLE_MS + 100);
    modbus_t *third = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(third, 0x8016), 1193.0, 1e-3);
    modbus_close(first);
    modbus_free(first);
    modbus_close(second);
    modbus_free(second);
    modbus_close(third);
    modbus_free(third);
    stop_device();
}

/*
 * Issue 19 #5: a master that closes and reconnects at once is served every
 * time (the old connection's close is noticed before the newcomer is judged).
 */
static void test_sc_modbus_reconnect_at_once_is_served(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel50, tel50_len);
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        modbus_t *mb = mb_connect();
        modbus_set_response_timeout(mb, 1, 0);
        uint16_t r[2];
        if (modbus_read_registers(mb, 0x8016, 2, r) == 2) {
            ok++;
        }
        modbus_close(mb);
        modbus_free(mb);
    }
    CU_ASSERT_EQUAL(ok, 40);
    CU_ASSERT_EQUAL(app()->counters.modbus_clients_refused, 0);
    stop_device();
}

/*
 * Issue 19 #5: a client that sends one byte every 4 s and never completes a
 * frame counts as silent 5 s after its last complete frame (here: its accept),
 * so it does not keep the next master out.
 */
static void test_sc_modbus_trickling_client_counts_as_silent(void)
{
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel50, tel50_len);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(app()->status.modbus_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    sim_wait_idle();
    /* a valid read request, one byte every 4 s: never complete in 16 s */
    static const uint8_t req[12] = {0, 1, 0, 0, 0, 6, 1, 3, 0x80, 0x16, 0, 2};
    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(send(fd, &req[i], 1, MSG_NOSIGNAL), 1);
        sim_wait_idle();
        sim_advance_ms(4000);
    }
    modbus_t *mb = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8016), 1193.0, 1e-3);
    CU_ASSERT_EQUAL(app()->counters.modbus_clients_refused, 0);
    modbus_close(mb);
    modbus_free(mb);
    close(fd);
    stop_device();
}

/*
 * A client that sends many requests without reading (pipelining, allowed by
 * Messaging on TCP/IP) and a small receive window: the device's socket fills
 * and hal_tcp_send() takes part of an answer. Every answer must still arrive
 * whole and in order (the input waits behind an answer that is not out).
 */
static void test_sc_modbus_pipelined_answers_stay_whole(void)
{
    enum { N = 1000, NREG = 125, ALEN = 9 + 2 * NREG };
    start_device(SC_FLAVOUR_P1, false);
    boot_network();
    inject(tel50, tel50_len);
    uint16_t ref[NREG];
    modbus_t *mb = mb_connect();
    CU_ASSERT_EQUAL_FATAL(modbus_read_registers(mb, 0x8000, NREG, ref), NREG);
    modbus_close(mb);
    modbus_free(mb);
    sim_advance_ms(SC_CLIENT_IDLE_MS + 100); /* the next client may replace that one */
    uint32_t served0 = app()->counters.modbus_requests;
    sim_net_set_tcp_sndbuf(4096); /* device-like: hal_tcp_send() takes part of an answer */

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    CU_ASSERT_EQUAL_FATAL(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(app()->status.modbus_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    static uint8_t req[N * 12];
    for (int i = 0; i < N; i++) {
        uint8_t *q = &req[i * 12];
        int tid = i + 1;
        const uint8_t one[12] = {
            (uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, 1, 3, 0x80, 0x00, 0, NREG};
        memcpy(q, one, sizeof one);
    }
    static uint8_t got[N * ALEN + 1];
    size_t sent = 0, have = 0;
    /* first only write, for 200 ms: the device answers until its socket is full */
    for (int k = 0; k < 200 && sent < sizeof req; k++) {
        ssize_t w = send(fd, req + sent, sizeof req - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        sent += w > 0 ? (size_t)w : 0u;
        sim_wait_idle();
        usleep(1000);
    }
    /* then read everything, writing the rest and letting virtual time run */
    for (int k = 0; k < 20000 && have < (size_t)N * ALEN; k++) {
        if (sent < sizeof req) {
            ssize_t w = send(fd, req + sent, sizeof req - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            sent += w > 0 ? (size_t)w : 0u;
        }
        ssize_t r = recv(fd, got + have, sizeof got - have, MSG_DONTWAIT);
        have += r > 0 ? (size_t)r : 0u;
        sim_advance_ms(2);
        if (r <= 0) {
            usleep(200);
        }
    }
    CU_ASSERT_EQUAL(sent, sizeof req);
    CU_ASSERT_EQUAL(have, (size_t)N * ALEN);
    int whole = 0;
    for (int i = 0; i < N && (size_t)(i + 1) * ALEN <= have; i++) {
        const uint8_t *a = &got[i * ALEN];
        int tid = i + 1;
        bool ok = a[0] == (uint8_t)(tid >> 8) && a[1] == (uint8_t)tid && a[2] == 0 && a[3] == 0 &&
                  a[4] == 0 && a[5] == ALEN - 6 && a[6] == 1 && a[7] == 3 && a[8] == 2 * NREG;
        for (int j = 0; ok && j < NREG; j++) {
            ok = (uint16_t)(a[9 + 2 * j] << 8 | a[10 + 2 * j]) == ref[j];
        }
        if (!ok) {
            printf("\n  answer %d of %d is not whole or out of order\n", tid, N);
            break;
        }
        whole++;
    }
    CU_ASSERT_EQUAL(whole, N);
    CU_ASSERT_EQUAL(app()->counters.modbus_requests - served0, (uint32_t)N);
    close(fd);
    sim_net_set_tcp_sndbuf(0);
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* TIC                                                                       */
/* ------------------------------------------------------------------------- */

static void test_sc_tic_export_phase_power_zero(void)
{
    start_device(SC_FLAVOUR_TIC, false);
    boot_network();
    char f[2048];
    size_t n = 0;
    f[n++] = 0x02;
    n += tic_group(f + n, "ADSC", "031963000777");
    n += tic_group(f + n, "EAST", "023456789");
    n += tic_group(f + n, "EAIT", "001002003");
    n += tic_group(f + n, "IRMS1", "004");
    n += tic_group(f + n, "IRMS2", "003");
    n += tic_group(f + n, "IRMS3", "004");
    n += tic_group(f + n, "URMS1", "238");
    n += tic_group(f + n, "URMS2", "240");
    n += tic_group(f + n, "URMS3", "239");
    n += tic_group(f + n, "SINSTS", "00000");
    n += tic_group(f + n, "SINSTS1", "00000");
    n += tic_group(f + n, "SINSTS2", "00000");
    n += tic_group(f + n, "SINSTS3", "00000");
    n += tic_group(f + n, "SINSTI", "02500");
    f[n++] = 0x03;
    inject(f, n);
    CU_ASSERT_EQUAL_FATAL(app()->counters.telegrams_pass, 1);
    modbus_t *mb = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8016), -2500.0, 1e-3); /* exporting */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x801E), 0.0, 1e-9);     /* never negative */
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8020), 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8022), 0.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8006), 238.0, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8100), 23456789.0, 2.0);
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8106), 1002003.0, 0.1);
    modbus_close(mb);
    modbus_free(mb);
    stop_device();
}

static void test_sc_tic_historic_is_reported_not_parsed(void)
{
    start_device(SC_FLAVOUR_TIC, false);
    boot_network();
    size_t len;
    uint8_t *h = ml_test_read_file("src:scenarios/telegrams/tic/hist-1ph.bin", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    inject(h, len);
    free(h);
    sim_advance_ms(10);
    CU_ASSERT_TRUE(app()->status.tic_historic);
    CU_ASSERT_EQUAL(app()->counters.telegrams_pass, 0);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER);
    modbus_t *mb = mb_connect();
    CU_ASSERT_DOUBLE_EQUAL(read_float_cdab(mb, 0x8016), 0.0, 1e-9); /* never garbage values */
    modbus_close(mb);
    modbus_free(mb);
    stop_device();
}

int main(void)
{
    tel50 = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel50_len);
    tel42 = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr42_kaifa_3ph.txt", &tel42_len);
    if (tel50 == NULL || tel42 == NULL) {
        return 1;
    }
    have_broker = ml_broker_start(&broker, NULL) == 0;
    if (have_broker) {
        sub = ml_mqtt_sub_start(broker.obs_port, "devices/#", 10000);
        have_broker = sub != NULL;
    }
    static const struct ml_test_case cases[] = {
        {"test_sc_p1_modbus_empro_values", test_sc_p1_modbus_empro_values},
        {"test_sc_p1_dsmr42_has_no_voltages", test_sc_p1_dsmr42_has_no_voltages},
        {"test_sc_p1_mqtt_power_instant_and_counters", test_sc_p1_mqtt_power_instant_and_counters},
        {"test_sc_p1_out_is_exact_copy_and_counters_add_up",
         test_sc_p1_out_is_exact_copy_and_counters_add_up},
        {"test_sc_p1_truncated_then_good", test_sc_p1_truncated_then_good},
        {"test_sc_led_boot_normal_unplugged_noip", test_sc_led_boot_normal_unplugged_noip},
        {"test_sc_button_gestures", test_sc_button_gestures},
        {"test_sc_modbus_one_client_rule", test_sc_modbus_one_client_rule},
        {"test_sc_modbus_reconnect_at_once_is_served", test_sc_modbus_reconnect_at_once_is_served},
        {"test_sc_modbus_trickling_client_counts_as_silent",
         test_sc_modbus_trickling_client_counts_as_silent},
        {"test_sc_modbus_pipelined_answers_stay_whole",
         test_sc_modbus_pipelined_answers_stay_whole},
        {"test_sc_tic_export_phase_power_zero", test_sc_tic_export_phase_power_zero},
        {"test_sc_tic_historic_is_reported_not_parsed",
         test_sc_tic_historic_is_reported_not_parsed},
    };
    int rc = ml_test_run("smart_connect", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    if (sub != NULL) {
        ml_mqtt_sub_stop(sub);
    }
    if (have_broker) {
        ml_broker_destroy(&broker);
    }
    free(tel50);
    free(tel42);
    return rc;
}
