/*
 * `--dut sim`: the firmware in-process on the sim port, in virtual time (the
 * backend of ml_run.c). Smart P1/TIC Connect: Modbus TCP, HTTP and MQTT
 * on loopback sockets, the P1-out ring, the LED log, the app's counters and
 * status. P1MB: its RS485 UART is bound to a pty and the runner's libmodbus RTU
 * master talks to the pty's other end; while a request is open the clock moves
 * in 1 ms steps (the device needs its t3.5 silence), so a read costs ~30 ms of
 * device time and about as much wall time as a TCP read.
 *
 * MQTT: while the device's connection attempt is open on the wire the backend
 * waits for its outcome before the clock moves, so connects happen at the same
 * virtual instant on every run; published() counts what the device handed to
 * its transport across reboots.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ml_run.h"
#include "hal_mqtt.h"
#include "ml_dev_p1mb.h"
#include "ml_devices.h"
#include "ml_serial.h"

#define REAL_WAIT_MS 10000

struct sim_priv {
    bool p1mb;
    int mqtt_port;
    uint64_t pub_base, last_send_pass;
    uint32_t last_boot;
    struct ml_buf p1_out; /* drained after every injected slice */
    int rs_fd;            /* P1MB: pty master bound to the RS485 UART */
    char tls_dir[64];     /* the device's HTTPS key and certificate ("" = none yet) */
};

static struct sim_priv *P(struct ml_dut *d)
{
    return d->priv;
}

static uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- MQTT accounting ---- */

static uint64_t sim_published(struct ml_dut *d)
{
    struct sim_priv *p = P(d);
    struct hal_mqtt_stats st;
    hal_mqtt_get_stats(&st);
    uint32_t boot = sim_boot_count();
    if (boot != p->last_boot) {
        /* a (re)boot zeroed the port's counters: keep what the old boot published */
        p->pub_base += p->last_send_pass;
        p->last_boot = boot;
    }
    p->last_send_pass = st.send_pass;
    return p->pub_base + st.send_pass;
}

/* Is a connection of the device to the broker open on the wire (SYN_SENT / ESTABLISHED)? */
static bool attempt_open(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL) {
        return false;
    }
    char line[512];
    bool open = false;
    while (fgets(line, sizeof line, f)) {
        unsigned rport, st;
        if (sscanf(line, "%*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 && rport == (unsigned)port &&
            (st == 0x01 || st == 0x02)) {
            open = true;
            break;
        }
    }
    fclose(f);
    return open;
}

void ml_dut_sim_mqtt_settle(int broker_port)
{
    uint64_t end = real_ms() + REAL_WAIT_MS;
    while (real_ms() < end) {
        sim_wait_idle();
        enum hal_mqtt_state st = hal_mqtt_get_state();
        if (st == HAL_MQTT_DISABLED || st == HAL_MQTT_AUTH_FAILED || st == HAL_MQTT_CONNECTED) {
            break;
        }
        if (!attempt_open(broker_port)) {
            break; /* waiting for its back-off in device time */
        }
        usleep(1000);
    }
}

/* While the device is connecting on the wire, let the attempt finish (real time). */
static void sim_settle(struct ml_dut *d)
{
    struct sim_priv *p = P(d);
    if (!p->p1mb) {
        /* a reboot listens on new ports (the sim picks free ones) */
        const struct sc_app *a = ml_dev_sc_app();
        d->mb_port = a->status.modbus_port;
        d->http_port = a->status.https_port;
    }
    if (p->p1mb || !d->s->mqtt || p->mqtt_port == 0) {
        return;
    }
    ml_dut_sim_mqtt_settle(p->mqtt_port);
    sim_published(d); /* follows reboots closely */
}

/* ---- start / stop ---- */

static void factory_reset_cb(void *ctx)
{
    (void)ctx;
    struct sc_settings *s = ml_dev_sc_settings();
    struct sc_settings d;
    sc_settings_defaults(&d);
    d.flavour = s->flavour;
    d.modbus_port = 0; /* the sim's port choice is not a setting */
    d.http_port = 0;
    d.https_port = 0;
    d.plain_api = s->plain_api;
    d.net.serial_hash = s->net.serial_hash;
    d.factory_reset = s->factory_reset;
    *s = d;
}

extern const struct ml_dut_ops ml_dut_sim_p1mb_ops;
static const struct ml_dut_ops sim_ops;

static int start_p1mb(struct ml_dut *d, char *err, size_t cap)
{
    struct sim_priv *p = P(d);
    const struct ml_scenario *s = d->s;
    p->p1mb = true;
    d->ops = &ml_dut_sim_p1mb_ops;
    p->rs_fd = ml_serial_open_pty(d->rtu_path, sizeof d->rtu_path);
    if (p->rs_fd < 0) {
        snprintf(err, cap, "cannot create a pty for the P1MB's RS485 side: %s",
                 strerror(-p->rs_fd));
        return -1;
    }
    struct p1mb_settings set;
    p1mb_settings_defaults(&set);
    set.variant = (enum p1mb_variant)s->variant;
    struct sim_config cfg = {
        .time_mode = SIM_TIME_VIRTUAL, .utc_at_start = s->utc_start, .serial = s->serial};
    sim_uart_bind_fd(HAL_UART_RS485, p->rs_fd);
    int rc = ml_dev_p1mb_start(&set, &cfg);
    if (rc < 0) {
        snprintf(err, cap, "the simulated P1MB did not start (%d)", rc);
        return -1;
    }
    struct hal_uart_cfg h;
    d->rtu_baud = 9600;
    d->rtu_parity = 'E';
    if (sim_uart_get_cfg(HAL_UART_RS485, &h)) {
        d->rtu_baud = (int)h.baud;
        d->rtu_parity = h.parity == HAL_UART_PARITY_EVEN  ? 'E'
                        : h.parity == HAL_UART_PARITY_ODD ? 'O'
                                                          : 'N';
    }
    d->rtu_slave = ml_dev_p1mb_app()->cfg.active.address;
    /* a bound in real time only: whether the device answers is decided in device time
     * (p1mb_modbus_call), so a loaded host does not turn an answer into a timeout */
    d->modbus_timeout_s = REAL_WAIT_MS / 1000.0;
    p->last_boot = sim_boot_count();
    return 0;
}

static int dsim_start(struct ml_dut *d, const char *mqtt_url, char *err, size_t cap)
{
    struct sim_priv *p = P(d);
    const struct ml_scenario *s = d->s;
    /* one ml_dut plays many scenarios: nothing of the previous one stays */
    d->ops = &sim_ops;
    p->p1mb = false;
    p->mqtt_port = 0;
    p->pub_base = p->last_send_pass = 0;
    p->p1_out.len = 0;
    d->rtu_path[0] = 0;
    d->mb_port = d->http_port = 0;
    if (s->product == ML_SCN_P1MB) {
        return start_p1mb(d, err, cap);
    }
    struct sc_settings set;
    sc_settings_defaults(&set);
    set.flavour = s->product == ML_SCN_TIC ? SC_FLAVOUR_TIC : SC_FLAVOUR_P1;
    set.modbus_port = 0;
    set.http_port = 0;
    set.https_port = 0; /* the API on HTTPS, as on the product */
    if (s->meter_type) {
        snprintf(set.meter_type, sizeof set.meter_type, "%s", s->meter_type);
    }
    set.factory_default = s->factory_default;
    set.net.iface = s->iface ? NET_IF_WIFI : NET_IF_ETHERNET;
    set.net.dhcp = s->dhcp;
    if (!s->dhcp) {
        set.net.static_ip = (struct net_ipv4){s->ip, s->netmask, s->gateway, s->dns};
    }
    set.mqtt_enabled = mqtt_url != NULL;
    if (mqtt_url) {
        snprintf(set.mqtt_url, sizeof set.mqtt_url, "%s", mqtt_url);
        snprintf(set.mqtt_site, sizeof set.mqtt_site, "%s", s->mqtt_site ? s->mqtt_site : "");
        snprintf(set.mqtt_user, sizeof set.mqtt_user, "%s", s->mqtt_user ? s->mqtt_user : "");
        snprintf(set.mqtt_password, sizeof set.mqtt_password, "%s",
                 s->mqtt_password ? s->mqtt_password : "");
        const char *colon = strrchr(mqtt_url, ':');
        p->mqtt_port = colon ? atoi(colon + 1) : 1883;
        /* device: {mqtt: tls}: the files the runner's broker made */
        if (s->mqtt_tls && (strlen(d->mqtt_ca) >= sizeof set.mqtt_ca_file ||
                            strlen(d->mqtt_cert) >= sizeof set.mqtt_cert_file ||
                            strlen(d->mqtt_key) >= sizeof set.mqtt_key_file)) {
            snprintf(err, cap, "the broker's TLS file paths are too long (%s)", d->mqtt_ca);
            return -1;
        }
        if (s->mqtt_tls) {
            memcpy(set.mqtt_ca_file, d->mqtt_ca, strlen(d->mqtt_ca) + 1);
            memcpy(set.mqtt_cert_file, d->mqtt_cert, strlen(d->mqtt_cert) + 1);
            memcpy(set.mqtt_key_file, d->mqtt_key, strlen(d->mqtt_key) + 1);
        }
    }
    set.factory_reset = factory_reset_cb;
    if (p->tls_dir[0] == '\0') { /* one device per run: its key, made at its first start */
        snprintf(p->tls_dir, sizeof p->tls_dir, "/tmp/ml-dut-tls-XXXXXX");
        if (mkdtemp(p->tls_dir) == NULL) {
            p->tls_dir[0] = '\0';
            snprintf(err, cap, "cannot make a directory for the device's HTTPS key");
            return -1;
        }
    }
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = s->utc_start,
                             .serial = s->serial,
                             .label_password = "simlabel",
                             .tls_dir = p->tls_dir};
    int rc = ml_dev_sc_start(&set, &cfg);
    if (rc < 0) {
        snprintf(err, cap, "the simulated device did not start (%d)", rc);
        return -1;
    }
    const struct sc_app *a = ml_dev_sc_app();
    snprintf(d->mb_host, sizeof d->mb_host, "127.0.0.1");
    d->mb_port = a->status.modbus_port;
    snprintf(d->http_host, sizeof d->http_host, "127.0.0.1");
    d->http_port = a->status.https_port; /* trusting only the device's certificate */
    snprintf(d->http_ca_file, sizeof d->http_ca_file, "%s/https_cert.pem", p->tls_dir);
    snprintf(d->http_user, sizeof d->http_user, "user");
    snprintf(d->http_password, sizeof d->http_password, "simlabel");
    p->last_boot = sim_boot_count();
    return 0;
}

static void dsim_stop(struct ml_dut *d)
{
    struct sim_priv *p = P(d);
    if (p->p1mb) {
        ml_dev_p1mb_stop();
        sim_uart_bind_fd(HAL_UART_RS485, -1);
        close(p->rs_fd);
        p->rs_fd = -1;
    } else {
        ml_dev_sc_stop();
    }
    if (p->tls_dir[0] != '\0') {
        char f[128];
        snprintf(f, sizeof f, "%s/https_key.pem", p->tls_dir);
        unlink(f);
        snprintf(f, sizeof f, "%s/https_cert.pem", p->tls_dir);
        unlink(f);
        rmdir(p->tls_dir);
        p->tls_dir[0] = '\0';
    }
    ml_buf_free(&p->p1_out);
}

static const char *sim_cannot(struct ml_dut *d, const struct ml_scn_step *st)
{
    if (st != NULL && st->kind == ML_STEP_FAULT && ml_scn_fault_is_board(st->fault.kind) &&
        st->fault.kind != ML_SF_POWER_CYCLE && st->fault.kind != ML_SF_RESET) {
        return "power: on/off and flash: need a board (--dut rig)";
    }
    if (st == NULL || d->s->product != ML_SCN_P1MB) {
        return NULL;
    }
    if (st->kind == ML_STEP_FAULT && st->fault.kind >= ML_SF_LINK_DOWN &&
        st->fault.kind <= ML_SF_BROKER_ACCEPTS_CREDENTIALS) {
        return "the P1MB has no network";
    }
    if (st->kind == ML_STEP_ACTION && st->action.kind == ML_ACT_BUTTON) {
        return "the P1MB has no button";
    }
    return NULL;
}

/* ---- time and bytes ---- */

static uint64_t sim_now(struct ml_dut *d)
{
    (void)d;
    return sim_now_us();
}

static void sim_advance(struct ml_dut *d, uint64_t t_us)
{
    (void)d;
    sim_advance_to_us(t_us);
}

static int sim_inject(struct ml_dut *d, const uint8_t *p, size_t n, char *err, size_t cap)
{
    (void)err;
    (void)cap;
    struct sim_priv *pr = P(d);
    /* at the line's pace into the target-sized RX ring (sim_uart_feed); P1 out
     * leaves at the same pace, so it is taken as it goes */
    const size_t slice = 256;
    for (size_t off = 0; off < n; off += slice) {
        size_t k = n - off < slice ? n - off : slice;
        sim_uart_feed(HAL_UART_P1_IN, p + off, k);
        if (!pr->p1mb) {
            uint8_t buf[4096];
            size_t got;
            while ((got = sim_uart_drain(HAL_UART_P1_OUT, buf, sizeof buf)) > 0) {
                ml_buf_put(&pr->p1_out, buf, got);
            }
        }
    }
    return 0;
}

static size_t sim_p1_out(struct ml_dut *d, uint8_t *buf, size_t cap)
{
    struct sim_priv *p = P(d);
    uint8_t tmp[16384];
    size_t got;
    while ((got = sim_uart_drain(HAL_UART_P1_OUT, tmp, sizeof tmp)) > 0) {
        ml_buf_put(&p->p1_out, tmp, got);
    }
    size_t n = p->p1_out.len < cap ? p->p1_out.len : cap;
    memcpy(buf, p->p1_out.p, n);
    memmove(p->p1_out.p, p->p1_out.p + n, p->p1_out.len - n);
    p->p1_out.len -= n;
    return n;
}

static size_t sim_led_events_of(struct ml_dut *d, struct ml_dut_led_ev *out, size_t cap)
{
    (void)d;
    struct sim_led_event ev[512];
    size_t n, k = 0;
    while (k < cap && (n = sim_led_events(ev, cap - k < 512 ? cap - k : 512)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (ev[i].id == HAL_LED_STATUS) {
                out[k++] = (struct ml_dut_led_ev){ev[i].t_us, ev[i].rgb};
            }
        }
    }
    return k;
}

/* ---- what the runner checks ---- */

/* What both products answer the same way. */
static int observe_common(const struct ml_scn_check *ch, struct ml_dut_obs *o, char *why,
                          size_t cap)
{
    if (ch->kind == ML_CHK_REBOOTS) {
        o->num = sim_boot_count() - 1.0;
        return ML_DUT_OK;
    }
    snprintf(why, cap, "not a state check");
    return ML_DUT_SKIP;
}

static int sim_observe(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o,
                       char *why, size_t cap)
{
    (void)d;
    const struct sc_app *a = ml_dev_sc_app();
    switch (ch->kind) {
    case ML_CHK_LED:
        o->state = (int)a->status.led;
        return ML_DUT_OK;
    case ML_CHK_COUNTER: {
        const struct sc_counters *k = &a->counters;
        static const char *const names[] = {
            "telegrams_pass",    "telegrams_fail",  "telegrams_frame_fail",  "mqtt_publish_pass",
            "mqtt_publish_fail", "modbus_requests", "modbus_clients_refused"};
        const uint32_t v[] = {k->telegrams_pass,        k->telegrams_fail,
                              k->telegrams_frame_fail,  k->mqtt_publish_pass,
                              k->mqtt_publish_fail,     k->modbus_requests,
                              k->modbus_clients_refused};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            if (!strcmp(ch->name, names[i])) {
                o->num = v[i];
            }
        }
        snprintf(o->detail, sizeof o->detail, "(pass %u, fail %u, frame_fail %u)",
                 k->telegrams_pass, k->telegrams_fail, k->telegrams_frame_fail);
        return ML_DUT_OK;
    }
    case ML_CHK_STATUS:
        o->state = (int)a->status.mqtt;
        o->b = !strcmp(ch->name, "meter_data")     ? a->status.meter_data
               : !strcmp(ch->name, "tic_historic") ? a->status.tic_historic
               : !strcmp(ch->name, "has_ip")       ? a->status.has_ip
               : !strcmp(ch->name, "ap_mode")      ? net_policy_is_ap_on(&a->net)
                                                   : false;
        return ML_DUT_OK;
    default:
        return observe_common(ch, o, why, cap);
    }
}

static int p1mb_observe(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o,
                        char *why, size_t cap)
{
    (void)d;
    const struct p1mb_app *a = ml_dev_p1mb_app();
    switch (ch->kind) {
    case ML_CHK_LED:
        o->p1mb_led[ML_P1MB_LED_PWR] = sim_led_get(HAL_LED_PWR) != 0 ? ML_LED_SHOW_ON : 0;
        o->p1mb_led[ML_P1MB_LED_P1] = a->status.p1_led == P1MB_P1_LED_ON      ? ML_LED_SHOW_ON
                                      : a->status.p1_led == P1MB_P1_LED_BLINK ? ML_LED_SHOW_BLINK
                                                                              : ML_LED_SHOW_OFF;
        o->p1mb_led[ML_P1MB_LED_485] = a->status.rs485_led == P1MB_485_LED_ON ? ML_LED_SHOW_ON
                                       : a->status.rs485_led == P1MB_485_LED_BLINK
                                           ? ML_LED_SHOW_BLINK
                                           : ML_LED_SHOW_OFF;
        return ML_DUT_OK;
    case ML_CHK_COUNTER: {
        const struct p1mb_counters *k = &a->counters;
        if (!strcmp(ch->name, "telegrams_pass")) {
            o->num = k->telegrams_pass;
        } else if (!strcmp(ch->name, "telegrams_fail")) {
            o->num = k->telegrams_fail;
        } else if (!strcmp(ch->name, "telegrams_frame_fail")) {
            o->num = k->telegrams_frame_fail;
        } else if (!strcmp(ch->name, "modbus_requests")) {
            o->num = k->modbus_requests;
        } else {
            snprintf(why, cap, "the P1MB has no counter %s", ch->name);
            return ML_DUT_SKIP;
        }
        snprintf(o->detail, sizeof o->detail, "(pass %u, fail %u, frame_fail %u)",
                 k->telegrams_pass, k->telegrams_fail, k->telegrams_frame_fail);
        return ML_DUT_OK;
    }
    case ML_CHK_STATUS:
        if (!strcmp(ch->name, "meter_data")) {
            o->b = a->status.have_telegram && a->status.last_telegram_ok;
            return ML_DUT_OK;
        }
        snprintf(why, cap, "the P1MB has no status %s", ch->name);
        return ML_DUT_SKIP;
    default:
        return observe_common(ch, o, why, cap);
    }
}

/* ---- faults and actions ---- */

static int sim_fault(struct ml_dut *d, const struct ml_scn_fault *f, char *why, size_t cap)
{
    if (f->kind == ML_SF_POWER_CYCLE || f->kind == ML_SF_RESET) { /* both lose RAM, keep flash */
        if (d->s->mqtt) {
            sim_published(d); /* the count of this boot, before it is lost */
        }
        int rc = sim_power_cycle();
        if (rc != 0) {
            snprintf(why, cap, "power cycle failed (%d)", rc);
            return ML_DUT_FAIL;
        }
        if (P(d)->p1mb) {
            d->rtu_slave = ml_dev_p1mb_app()->cfg.active.address;
        }
        sim_settle(d);
        return ML_DUT_OK;
    }
    int rc = ml_dut_sim_net_fault(f->kind, d->s->iface != 0);
    if (rc == ML_DUT_SKIP) {
        snprintf(why, cap, "not a device fault");
    }
    return rc;
}

int ml_dut_sim_net_fault(enum ml_scn_fault_kind k, bool wifi)
{
    struct sim_net_model m;
    sim_net_get(&m);
    int ifc = wifi ? HAL_NET_WIFI : HAL_NET_ETH;
    switch (k) {
    case ML_SF_LINK_DOWN:
    case ML_SF_LINK_UP:
        m.link_up[ifc] = k == ML_SF_LINK_UP;
        break;
    case ML_SF_DHCP_FAILS:
    case ML_SF_DHCP_OK:
        m.dhcp_answers = k == ML_SF_DHCP_OK;
        break;
    case ML_SF_GATEWAY_DOWN:
    case ML_SF_GATEWAY_UP:
        m.gateway_reachable = k == ML_SF_GATEWAY_UP;
        break;
    case ML_SF_INTERNET_DOWN:
    case ML_SF_INTERNET_UP:
        m.internet_reachable = k == ML_SF_INTERNET_UP;
        break;
    default:
        return ML_DUT_SKIP;
    }
    sim_net_set(&m);
    sim_wait_idle();
    return ML_DUT_OK;
}

void ml_dut_sim_button(bool pressed)
{
    sim_button_set(pressed);
    sim_wait_idle();
}

static int sim_button(struct ml_dut *d, bool pressed, char *why, size_t cap)
{
    (void)d;
    (void)why;
    (void)cap;
    ml_dut_sim_button(pressed);
    return ML_DUT_OK;
}

/* The P1MB: the libmodbus call runs in a thread while the clock moves 1 ms at a
 * time (the device answers after its t3.5 silence, in device time). */
struct mb_job {
    int (*fn)(void *);
    void *arg;
    volatile bool started, done;
};

static void *mb_thread(void *x)
{
    struct mb_job *j = x;
    j->started = true;
    j->fn(j->arg);
    j->done = true;
    return NULL;
}

static int p1mb_modbus_call(struct ml_dut *d, int (*fn)(void *arg), void *arg)
{
    struct sim_priv *p = P(d);
    struct mb_job j = {fn, arg, false, false};
    pthread_t th;
    /* before the master runs: the sim loop may serve its request at once */
    uint32_t rx0 = sim_uart_rx_total(HAL_UART_RS485);
    uint32_t tx0 = sim_uart_tx_total(HAL_UART_RS485);
    if (pthread_create(&th, NULL, mb_thread, &j) != 0) {
        return fn(arg);
    }
    uint64_t end = real_ms() + REAL_WAIT_MS;
    /* a request and its answer take ~15 ms on the wire at 9600 baud plus t3.5: the
     * clock moves at most 100 ms per call, so a frame nobody answers (another
     * address) does not shift the scenario's timeline */
    uint64_t dev_end = sim_now_us() + 100000;
    bool ended = false;
    /* the clock stands still until the master's request reaches the device (a loaded
     * host may run the thread late): it then arrives at the instant of the call, and
     * the 100 ms bound counts from there */
    while (!j.done && real_ms() < end) {
        usleep(100);
        sim_wait_idle(); /* the pty's bytes into the ring */
        if (j.started && sim_uart_rx_total(HAL_UART_RS485) != rx0) {
            break;
        }
    }
    while (!j.done && real_ms() < end) {
        /* let the request's bytes reach the device before time moves */
        usleep(200);
        sim_wait_idle();
        if (sim_uart_tx_total(HAL_UART_RS485) != tx0) {
            continue; /* answered: the clock stands still while the master reads it */
        }
        if (sim_now_us() < dev_end) {
            sim_advance_ms(1);
        } else if (!ended && p->rs_fd >= 0) {
            /* 100 ms of device time without an answer: there is none. End the master's
             * wait now (one byte that is no answer; it gives up after its byte timeout)
             * instead of at its real-time bound. (Never after an answer: on a loaded
             * host the master may not have read it yet, and the byte would start the
             * next answer: "Response not from requested slave".) */
            static const uint8_t none = 0;
            ended = write(p->rs_fd, &none, 1) == 1;
        }
    }
    pthread_join(th, NULL);
    return 0;
}

/* Both products: the sim port's clock, meter input, power and GPIO. */
#define SIM_COMMON_OPS                                                                             \
    .name = "sim", .start = dsim_start, .stop = dsim_stop, .cannot = sim_cannot,                   \
    .now_us = sim_now, .advance_to = sim_advance, .inject = sim_inject, .fault = sim_fault,        \
    .button = sim_button

static const struct ml_dut_ops sim_ops = {
    SIM_COMMON_OPS,
    .settle = sim_settle,
    .published = sim_published,
    .p1_out = sim_p1_out,
    .led_events = sim_led_events_of,
    .observe = sim_observe,
};

const struct ml_dut_ops ml_dut_sim_p1mb_ops = {
    SIM_COMMON_OPS,
    .observe = p1mb_observe,
    .modbus_call = p1mb_modbus_call,
};

void ml_dut_sim_init(struct ml_dut *d)
{
    memset(d, 0, sizeof *d);
    d->ops = &sim_ops;
    d->priv = calloc(1, sizeof(struct sim_priv));
    P(d)->rs_fd = -1;
    d->http_timeout_s = 10;
}
