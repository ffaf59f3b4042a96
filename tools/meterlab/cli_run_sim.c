/*
 * The scenario runner against the in-process simulated Smart Connect, in
 * virtual time. The device is observed only from outside, with real clients:
 * libmodbus (Modbus TCP on the device's port), a libmosquitto subscriber on a
 * mosquitto broker, the P1-out UART, the LED log and the app's status/counters.
 *
 * MQTT timing: messages travel over real sockets while virtual time stands
 * still. Before a window opens and when it closes, the runner waits (real time,
 * bounded) until the subscriber has received every message the device handed to
 * its transport (hal_mqtt_get_stats().send_pass), so each message is counted in
 * the right window. While the device's connection attempt is open on the wire
 * the runner waits for its outcome before moving the clock, so connects happen
 * at the same virtual instant on every run.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <modbus.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_scn.h"
#include "hal_mqtt.h"
#include "ml_broker.h"
#include "ml_devices.h"
#include "regmap/regmap.h"

#define REAL_WAIT_MS 10000 /* bound of every wait on a real peer */

/* ------------------------------------------------------------------------- */
/* Subscriber                                                                */
/* ------------------------------------------------------------------------- */

struct msg {
    char *topic, *payload;
    struct msg *next;
};

struct sub {
    struct mosquitto *m;
    pthread_mutex_t mu;
    struct msg *head, *tail;
    uint64_t received;
    volatile bool subscribed;
};

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc == 0) {
        mosquitto_subscribe(m, NULL, "devices/#", 0);
    }
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
    (void)m;
    (void)mid;
    (void)n;
    (void)q;
    ((struct sub *)obj)->subscribed = true;
}

static void sub_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    (void)rc;
    ((struct sub *)obj)->subscribed = false;
}

static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    struct sub *s = obj;
    struct msg *x = calloc(1, sizeof *x);
    x->topic = strdup(msg->topic);
    x->payload = strndup(msg->payload ? (const char *)msg->payload : "", (size_t)msg->payloadlen);
    pthread_mutex_lock(&s->mu);
    if (s->tail) {
        s->tail->next = x;
    } else {
        s->head = x;
    }
    s->tail = x;
    s->received++;
    pthread_mutex_unlock(&s->mu);
}

static uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool sub_wait_subscribed(struct sub *s)
{
    uint64_t end = real_ms() + REAL_WAIT_MS;
    while (!s->subscribed && real_ms() < end) {
        usleep(2000);
    }
    return s->subscribed;
}

static int sub_start(struct sub *s, const char *host, int port)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->m = mosquitto_new(NULL, true, s);
    if (s->m == NULL) {
        return -1;
    }
    mosquitto_connect_callback_set(s->m, sub_on_connect);
    mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
    mosquitto_disconnect_callback_set(s->m, sub_on_disconnect);
    mosquitto_message_callback_set(s->m, sub_on_message);
    mosquitto_reconnect_delay_set(s->m, 1, 1, false);
    if (mosquitto_connect(s->m, host, port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(s->m) != MOSQ_ERR_SUCCESS) {
        return -1;
    }
    return sub_wait_subscribed(s) ? 0 : -1;
}

static struct msg *sub_take_all(struct sub *s)
{
    pthread_mutex_lock(&s->mu);
    struct msg *h = s->head;
    s->head = s->tail = NULL;
    pthread_mutex_unlock(&s->mu);
    return h;
}

static uint64_t sub_received(struct sub *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t n = s->received;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void sub_stop(struct sub *s)
{
    if (s->m) {
        mosquitto_disconnect(s->m);
        mosquitto_loop_stop(s->m, true);
        mosquitto_destroy(s->m);
        s->m = NULL;
    }
    struct msg *h = sub_take_all(s);
    while (h) {
        struct msg *n = h->next;
        free(h->topic);
        free(h->payload);
        free(h);
        h = n;
    }
    pthread_mutex_destroy(&s->mu);
}

/* ------------------------------------------------------------------------- */
/* Runner state                                                              */
/* ------------------------------------------------------------------------- */

struct active {
    const struct ml_scn_step *st;
    const struct ml_scn_check *ch;
    long matched, on_topic;
    int best_bad; /* fewest mismatching fields seen so far */
    char *best;   /* the diff of that message */
};

struct runner {
    const struct ml_scenario *s;
    const struct ml_run_opts *o;
    struct ml_run_result *res;
    /* broker and subscriber */
    struct ml_broker broker;
    bool own_broker, broker_up, broker_auth;
    char host[64];
    int port;
    struct sub sub;
    bool have_sub;
    uint64_t pub_base; /* send_pass of earlier boots, and lost messages */
    uint64_t last_send_pass;
    uint32_t last_boot;
    /* Modbus clients 1..4 */
    modbus_t *mb[5];
    /* meter side */
    struct ml_player pl;
    struct ml_buf bytes;
    struct ml_buf p1_pending;
    uint64_t p1_in, p1_out;
    bool p1_mismatch;
    uint64_t p1_mismatch_at;
    /* windows */
    struct active *act;
    size_t nact;
    bool *done;       /* per step: an "eventually" window has passed */
    char **last_seen; /* per step: what the last poll saw */
    /* LED log */
    struct sim_led_event *led;
    size_t nled, capled;
    uint32_t led_start_rgb;
    struct ml_buf report;
};

static double now_s(void)
{
    return (double)sim_now_us() / 1e6;
}

static void report(struct runner *r, const struct ml_scn_loc *l, double t, const char *what,
                   const char *expected, const char *seen)
{
    r->res->failed++;
    ml_buf_printf(&r->report, "  FAIL %s:%d:%d  t=%.3f s  %s\n", l->file, l->line, l->col, t, what);
    if (expected) {
        ml_buf_printf(&r->report, "       expected: %s\n", expected);
    }
    if (seen) {
        ml_buf_printf(&r->report, "       seen:     %s\n", seen);
    }
}

static void narrate(struct runner *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void narrate(struct runner *r, const char *fmt, ...)
{
    if (!r->o->verbose) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("  [%9.3f s] ", now_s());
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

static void setup_error(struct runner *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void setup_error(struct runner *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->res->error = true;
    ml_buf_printf(&r->report, "  ERROR %s\n", buf);
}

/* ------------------------------------------------------------------------- */
/* MQTT accounting                                                           */
/* ------------------------------------------------------------------------- */

static uint64_t device_published(struct runner *r)
{
    struct hal_mqtt_stats st;
    hal_mqtt_get_stats(&st);
    uint32_t boot = sim_boot_count();
    if (boot != r->last_boot) {
        /* a (re)boot zeroed the port's counters: keep what the old boot published */
        r->pub_base += r->last_send_pass;
        r->last_boot = boot;
    }
    r->last_send_pass = st.send_pass;
    return r->pub_base + st.send_pass;
}

/* Is a connection of the device to the broker open on the wire (SYN_SENT / ESTABLISHED)? */
static bool device_attempt_open(struct runner *r)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL) {
        return false;
    }
    char line[512];
    bool open = false;
    while (fgets(line, sizeof line, f)) {
        unsigned rport, st;
        char *colon = strchr(line, ':');
        if (colon == NULL) {
            continue;
        }
        /* sl: local_addr:port rem_addr:port st */
        if (sscanf(line, "%*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 &&
            rport == (unsigned)r->port && (st == 0x01 || st == 0x02)) {
            open = true;
            break;
        }
    }
    fclose(f);
    return open;
}

/* While the device is connecting on the wire, let the attempt finish (real time). */
static void mqtt_settle(struct runner *r)
{
    if (!r->s->mqtt || !r->broker_up) {
        return;
    }
    uint64_t end = real_ms() + REAL_WAIT_MS;
    while (real_ms() < end) {
        sim_wait_idle();
        enum hal_mqtt_state st = hal_mqtt_get_state();
        if (st == HAL_MQTT_DISABLED || st == HAL_MQTT_AUTH_FAILED) {
            return;
        }
        if (st == HAL_MQTT_CONNECTED) {
            return;
        }
        if (!device_attempt_open(r)) {
            return; /* waiting for its back-off in device time */
        }
        usleep(1000);
    }
}

static void process_msgs(struct runner *r);

/* Wait until every message the device published has arrived, then process them. */
static void mqtt_sync(struct runner *r)
{
    if (!r->have_sub) {
        return;
    }
    sim_wait_idle();
    uint64_t want = device_published(r);
    uint64_t end = real_ms() + REAL_WAIT_MS;
    while (sub_received(&r->sub) < want && real_ms() < end) {
        usleep(500);
        sim_wait_idle();
        want = device_published(r);
    }
    uint64_t got = sub_received(&r->sub);
    if (got < want) {
        /* lost in transit (QoS 0, broker stopped meanwhile): do not wait for them again */
        r->pub_base -= want - got;
    }
    process_msgs(r);
}

/* ------------------------------------------------------------------------- */
/* Checks                                                                    */
/* ------------------------------------------------------------------------- */

static const struct sc_app *app(void)
{
    return ml_dev_sc_app();
}

static const char *unit_of(int field)
{
    if (field < 0 || field >= READING_FIELD_COUNT) {
        return "";
    }
    return reading_field_info((enum reading_field)field)->unit;
}

static modbus_t *mb_client(struct runner *r, int n, bool fresh)
{
    if (fresh && r->mb[n]) {
        modbus_close(r->mb[n]);
        modbus_free(r->mb[n]);
        r->mb[n] = NULL;
    }
    if (r->mb[n] == NULL) {
        modbus_t *m = modbus_new_tcp("127.0.0.1", app()->status.modbus_port);
        if (m == NULL) {
            return NULL;
        }
        modbus_set_response_timeout(m, REAL_WAIT_MS / 1000, 0);
        if (modbus_connect(m) != 0) {
            modbus_free(m);
            return NULL;
        }
        r->mb[n] = m;
    }
    return r->mb[n];
}

/* Read @p n registers; reconnects once (the device may have rebooted, or replaced
 * this client after 5 s of silence). */
static int mb_read(struct runner *r, int client, uint8_t fc, uint16_t addr, int n, uint16_t *w,
                   char *why, size_t whycap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        modbus_t *m = mb_client(r, client, attempt > 0);
        if (m == NULL) {
            snprintf(why, whycap, "cannot connect to 127.0.0.1:%u", app()->status.modbus_port);
            continue;
        }
        int rc = fc == 4 ? modbus_read_input_registers(m, addr, n, w)
                         : modbus_read_registers(m, addr, n, w);
        if (rc == n) {
            return 0;
        }
        snprintf(why, whycap, "read failed: %s", modbus_strerror(errno));
    }
    return -1;
}

static double decode_regs(const struct ml_scn_check *ch, const uint16_t *w)
{
    unsigned n =
        ch->type == REGMAP_I64 ? 4 : (ch->type >= REGMAP_I16 && ch->type <= REGMAP_U16 ? 1 : 2);
    uint64_t bits = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = ch->order == REGMAP_CDAB ? i : n - 1u - i; /* significance of word i */
        bits |= (uint64_t)w[i] << (16u * idx);
    }
    double raw;
    switch (ch->type) {
    case REGMAP_F32: {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, sizeof f);
        raw = f;
        break;
    }
    case REGMAP_I32:
        raw = (int32_t)(uint32_t)bits;
        break;
    case REGMAP_U32:
        raw = (uint32_t)bits;
        break;
    case REGMAP_I16:
        raw = (int16_t)(uint16_t)bits;
        break;
    case REGMAP_U16:
        raw = (uint16_t)bits;
        break;
    default:
        raw = (double)(int64_t)bits;
        break;
    }
    return raw * pow(10.0, ch->exp10);
}

static int field_of_entry(const struct ml_scenario *s, const struct ml_scn_check *ch)
{
    const char *mt = s->meter_type && s->meter_type[0] ? s->meter_type : "PhoenixContact-EMPro";
    const struct regmap_template *t = regmap_template_find(mt, strlen(mt));
    const struct regmap_space *sp = ch->fc == 4 ? &t->input : &t->holding;
    for (uint16_t i = 0; i < sp->count; i++) {
        if (sp->entries[i].addr == ch->addr) {
            return sp->entries[i].field;
        }
    }
    return -1;
}

/* Evaluate one state check now. @return true when it holds; @p seen describes what was seen. */
static bool check_state(struct runner *r, const struct ml_scn_check *ch, char *exp, char *seen,
                        size_t cap, char *what)
{
    const struct sc_app *a = app();
    static const char *const ms[] = {"disabled", "connecting", "connected", "auth_failed"};
    switch (ch->kind) {
    case ML_CHK_MODBUS: {
        static const char *const tn[] = {"f32", "i32", "u32", "i16", "u16", "i64"};
        unsigned n =
            ch->type == REGMAP_I64 ? 4 : (ch->type >= REGMAP_I16 && ch->type <= REGMAP_U16 ? 1 : 2);
        const char *unit = unit_of(field_of_entry(r->s, ch));
        snprintf(what, cap, "modbus %s (FC%02u 0x%04X %s %s, client %d)", ch->name, ch->fc,
                 ch->addr, tn[ch->type], n > 1 ? (ch->order == REGMAP_CDAB ? "CDAB" : "ABCD") : "",
                 ch->client);
        snprintf(exp, cap, "%.6g ± %.3g %s", ch->value, ch->tol, unit);
        uint16_t w[4] = {0};
        char why[160];
        if (mb_read(r, ch->client, ch->fc, ch->addr, (int)n, w, why, sizeof why) < 0) {
            snprintf(seen, cap, "no answer (%s)", why);
            return false;
        }
        double v = decode_regs(ch, w);
        snprintf(seen, cap, "%.6g %s (registers %04X %04X%s)", v, unit, w[0], n > 1 ? w[1] : 0,
                 n > 2 ? " ..." : "");
        return fabs(v - ch->value) <= ch->tol;
    }
    case ML_CHK_MODBUS_REFUSED: {
        snprintf(what, cap, "modbus client %d refused (one-client rule)", ch->client);
        snprintf(exp, cap, "connection closed without an answer");
        uint16_t w[2];
        modbus_t *m = mb_client(r, ch->client, true);
        if (m == NULL) {
            snprintf(seen, cap, "could not even connect");
            return true;
        }
        int rc = modbus_read_registers(m, 0x8016, 2, w);
        modbus_close(m);
        modbus_free(m);
        r->mb[ch->client] = NULL;
        snprintf(seen, cap, rc == 2 ? "an answer (the client was served)" : "refused");
        return rc != 2;
    }
    case ML_CHK_LED: {
        snprintf(what, cap, "led state");
        snprintf(exp, cap, "%s", ui_led_state_name((enum ui_led_state)ch->led_state));
        snprintf(seen, cap, "%s", ui_led_state_name(a->status.led));
        return (int)a->status.led == ch->led_state;
    }
    case ML_CHK_COUNTER: {
        const struct sc_counters *k = &a->counters;
        double v = 0;
        if (!strcmp(ch->name, "telegrams_pass")) {
            v = k->telegrams_pass;
        } else if (!strcmp(ch->name, "telegrams_fail")) {
            v = k->telegrams_fail;
        } else if (!strcmp(ch->name, "telegrams_frame_fail")) {
            v = k->telegrams_frame_fail;
        } else if (!strcmp(ch->name, "mqtt_publish_pass")) {
            v = k->mqtt_publish_pass;
        } else if (!strcmp(ch->name, "mqtt_publish_fail")) {
            v = k->mqtt_publish_fail;
        } else if (!strcmp(ch->name, "modbus_requests")) {
            v = k->modbus_requests;
        } else if (!strcmp(ch->name, "modbus_clients_refused")) {
            v = k->modbus_clients_refused;
        }
        snprintf(what, cap, "counter %s", ch->name);
        if (ch->min == ch->max) {
            snprintf(exp, cap, "%.0f", ch->min);
        } else {
            snprintf(exp, cap, "%s%.0f .. %s%.0f", "", isfinite(ch->min) ? ch->min : 0, "",
                     isfinite(ch->max) ? ch->max : INFINITY);
        }
        snprintf(seen, cap, "%.0f (pass %u, fail %u, frame_fail %u)", v, k->telegrams_pass,
                 k->telegrams_fail, k->telegrams_frame_fail);
        return v >= ch->min && v <= ch->max;
    }
    case ML_CHK_STATUS: {
        snprintf(what, cap, "status %s", ch->name);
        bool b = false;
        if (!strcmp(ch->name, "mqtt")) {
            enum hal_mqtt_state st = a->status.mqtt;
            snprintf(exp, cap, "%s", ch->str);
            snprintf(seen, cap, "%s", (unsigned)st < 4 ? ms[st] : "?");
            return (int)st == ch->led_state;
        }
        if (!strcmp(ch->name, "meter_data")) {
            b = a->status.meter_data;
        } else if (!strcmp(ch->name, "tic_historic")) {
            b = a->status.tic_historic;
        } else if (!strcmp(ch->name, "has_ip")) {
            b = a->status.has_ip;
        } else if (!strcmp(ch->name, "ap_mode")) {
            b = net_policy_is_ap_on(&a->net);
        }
        snprintf(exp, cap, "%s", ch->b ? "true" : "false");
        snprintf(seen, cap, "%s", b ? "true" : "false");
        return b == ch->b;
    }
    case ML_CHK_P1_OUT:
        snprintf(what, cap, "p1_out equals_input");
        snprintf(exp, cap, "%llu bytes, the same as P1 in", (unsigned long long)r->p1_in);
        if (r->p1_mismatch) {
            snprintf(seen, cap, "first difference at byte %llu",
                     (unsigned long long)r->p1_mismatch_at);
            return false;
        }
        snprintf(seen, cap, "%llu bytes", (unsigned long long)r->p1_out);
        return r->p1_out == r->p1_in;
    case ML_CHK_REBOOTS: {
        double v = sim_boot_count() - 1.0;
        snprintf(what, cap, "reboots");
        if (ch->min == ch->max) {
            snprintf(exp, cap, "%.0f", ch->min);
        } else {
            snprintf(exp, cap, "%.0f .. %.0f", isfinite(ch->min) ? ch->min : 0, ch->max);
        }
        snprintf(seen, cap, "%.0f", v);
        return v >= ch->min && v <= ch->max;
    }
    default:
        return true;
    }
}

/* ---- MQTT window checks ---- */

static const cJSON *json_path(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        o = cJSON_GetObjectItemCaseSensitive(o, k);
    }
    return o;
}

static bool topic_matches(struct runner *r, const char *topic, const char *metric)
{
    char want[256];
    snprintf(want, sizeof want, "/%s/data/%s", r->s->serial, metric);
    size_t lt = strlen(topic), lw = strlen(want);
    return lt >= lw && strcmp(topic + lt - lw, want) == 0;
}

static void mqtt_consider(struct runner *r, struct active *a, const char *topic,
                          const char *payload)
{
    if (!topic_matches(r, topic, a->ch->name)) {
        return;
    }
    a->on_topic++;
    cJSON *j = cJSON_Parse(payload);
    int bad = 0;
    struct ml_buf d = {0};
    if (j == NULL) {
        bad = 1000;
        ml_buf_printf(&d, "not JSON: %.80s", payload);
    }
    for (size_t i = 0; j && i < a->ch->nfields; i++) {
        const struct ml_scn_field *f = &a->ch->fields[i];
        const cJSON *v = json_path(j, f->path);
        bool ok;
        char seen[96];
        if (v == NULL) {
            snprintf(seen, sizeof seen, "(missing)");
            ok = false;
        } else if (cJSON_IsNumber(v)) {
            snprintf(seen, sizeof seen, "%.10g", v->valuedouble);
            ok = f->kind == ML_FV_NUM && fabs(v->valuedouble - f->num) <= f->tol;
        } else if (cJSON_IsNull(v)) {
            snprintf(seen, sizeof seen, "null");
            ok = f->kind == ML_FV_NULL;
        } else if (cJSON_IsString(v)) {
            snprintf(seen, sizeof seen, "\"%.80s\"", v->valuestring);
            ok = f->kind == ML_FV_STR && !strcmp(v->valuestring, f->str);
        } else if (cJSON_IsBool(v)) {
            snprintf(seen, sizeof seen, cJSON_IsTrue(v) ? "true" : "false");
            ok = f->kind == ML_FV_BOOL && cJSON_IsTrue(v) == f->b;
        } else {
            snprintf(seen, sizeof seen, "(an object or list)");
            ok = false;
        }
        if (!ok) {
            bad++;
            char e[96];
            switch (f->kind) {
            case ML_FV_NUM:
                snprintf(e, sizeof e, "%.10g ± %.3g", f->num, f->tol);
                break;
            case ML_FV_NULL:
                snprintf(e, sizeof e, "null");
                break;
            case ML_FV_BOOL:
                snprintf(e, sizeof e, f->b ? "true" : "false");
                break;
            default:
                snprintf(e, sizeof e, "\"%s\"", f->str);
            }
            ml_buf_printf(&d, "%s%s: expected %s, seen %s", d.len ? "; " : "", f->path, e, seen);
        }
    }
    cJSON_Delete(j);
    if (bad == 0) {
        a->matched++;
    } else if (a->best == NULL || bad < a->best_bad) {
        free(a->best);
        a->best = strdup((char *)d.p);
        a->best_bad = bad;
    }
    ml_buf_free(&d);
}

static void process_msgs(struct runner *r)
{
    if (!r->have_sub) {
        return;
    }
    struct msg *h = sub_take_all(&r->sub);
    while (h) {
        for (size_t i = 0; i < r->nact; i++) {
            if (r->act[i].ch->kind == ML_CHK_MQTT) {
                mqtt_consider(r, &r->act[i], h->topic, h->payload);
            }
        }
        struct msg *n = h->next;
        free(h->topic);
        free(h->payload);
        free(h);
        h = n;
    }
}

/* ---- LED log ---- */

static void led_drain(struct runner *r)
{
    struct sim_led_event ev[512];
    size_t n;
    while ((n = sim_led_events(ev, 512)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (ev[i].id != HAL_LED_STATUS) {
                continue;
            }
            if (r->nled == r->capled) {
                r->capled = r->capled ? r->capled * 2 : 1024;
                r->led = realloc(r->led, r->capled * sizeof *r->led);
            }
            r->led[r->nled++] = ev[i];
        }
    }
}

static uint32_t led_at(struct runner *r, uint64_t t)
{
    uint32_t c = 0;
    for (size_t i = 0; i < r->nled && r->led[i].t_us <= t; i++) {
        c = r->led[i].rgb;
    }
    return c;
}

static void check_led_pattern(struct runner *r, const struct ml_scn_step *st,
                              const struct ml_scn_check *ch)
{
    led_drain(r);
    uint64_t a = (uint64_t)llround(st->w_from * 1e6), b = (uint64_t)llround(st->w_to * 1e6);
    /* colours seen in the window and the spacing of the changes */
    uint32_t seen[16];
    int nseen = 0;
    uint32_t c0 = led_at(r, a);
    seen[nseen++] = c0;
    uint64_t prev_t = 0;
    bool have_prev = false;
    double min_gap = INFINITY, max_gap = 0;
    uint32_t cur = c0;
    for (size_t i = 0; i < r->nled; i++) {
        const struct sim_led_event *e = &r->led[i];
        if (e->t_us <= a || e->t_us > b || e->rgb == cur) {
            continue;
        }
        cur = e->rgb;
        bool known = false;
        for (int k = 0; k < nseen; k++) {
            known |= seen[k] == e->rgb;
        }
        if (!known && nseen < 16) {
            seen[nseen++] = e->rgb;
        }
        if (have_prev) {
            double g = (double)(e->t_us - prev_t) / 1e6;
            min_gap = fmin(min_gap, g);
            max_gap = fmax(max_gap, g);
        }
        prev_t = e->t_us;
        have_prev = true;
    }
    char exp[256], got[256], nb[8];
    size_t k = 0;
    k += (size_t)snprintf(exp + k, sizeof exp - k, "[");
    for (int i = 0; i < ch->ncolours; i++) {
        k += (size_t)snprintf(exp + k, sizeof exp - k, "%s%s", i ? ", " : "",
                              ml_scn_colour_name(ch->colours[i], nb));
    }
    if (ch->ncolours > 1) {
        snprintf(exp + k, sizeof exp - k, "], a change every %.3f s", ch->period_s / ch->ncolours);
    } else {
        snprintf(exp + k, sizeof exp - k, "], steady");
    }
    k = 0;
    k += (size_t)snprintf(got + k, sizeof got - k, "[");
    for (int i = 0; i < nseen; i++) {
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%s", i ? ", " : "",
                              ml_scn_colour_name(seen[i], nb));
    }
    if (isfinite(min_gap)) {
        snprintf(got + k, sizeof got - k, "], changes every %.3f .. %.3f s", min_gap, max_gap);
    } else {
        snprintf(got + k, sizeof got - k, "]%s", have_prev ? ", one change" : ", steady");
    }
    bool ok = nseen == ch->ncolours;
    for (int i = 0; ok && i < ch->ncolours; i++) {
        bool found = false;
        for (int j = 0; j < nseen; j++) {
            found |= seen[j] == ch->colours[i];
        }
        ok = found;
    }
    if (ok && ch->ncolours > 1) {
        double step = ch->period_s / ch->ncolours, tol = step * 0.1 + 0.001;
        ok = isfinite(min_gap) && fabs(min_gap - step) <= tol && fabs(max_gap - step) <= tol;
    }
    r->res->checks++;
    if (!ok) {
        report(r, &ch->loc, st->w_to, "led_pattern", exp, got);
    } else {
        narrate(r, "ok    led_pattern %s", got);
    }
}

/* ------------------------------------------------------------------------- */
/* Device side                                                               */
/* ------------------------------------------------------------------------- */

static void factory_reset_cb(void *ctx)
{
    (void)ctx;
    struct sc_settings *s = ml_dev_sc_settings();
    struct sc_settings d;
    sc_settings_defaults(&d);
    d.flavour = s->flavour;
    d.modbus_port = 0; /* the sim's port choice is not a setting */
    d.net.serial_hash = s->net.serial_hash;
    d.factory_reset = s->factory_reset;
    *s = d;
}

static int device_start(struct runner *r)
{
    const struct ml_scenario *s = r->s;
    struct sc_settings set;
    sc_settings_defaults(&set);
    set.flavour = s->product == ML_SCN_TIC ? SC_FLAVOUR_TIC : SC_FLAVOUR_P1;
    set.modbus_port = 0;
    if (s->meter_type) {
        snprintf(set.meter_type, sizeof set.meter_type, "%s", s->meter_type);
    }
    set.factory_default = s->factory_default;
    set.net.iface = s->iface ? NET_IF_WIFI : NET_IF_ETHERNET;
    set.net.dhcp = s->dhcp;
    if (!s->dhcp) {
        set.net.static_ip = (struct net_ipv4){s->ip, s->netmask, s->gateway, s->dns};
    }
    set.mqtt_enabled = s->mqtt;
    if (s->mqtt) {
        snprintf(set.mqtt_url, sizeof set.mqtt_url, "mqtt://%s:%d", r->host, r->port);
        snprintf(set.mqtt_site, sizeof set.mqtt_site, "%s", s->mqtt_site ? s->mqtt_site : "");
        snprintf(set.mqtt_user, sizeof set.mqtt_user, "%s", s->mqtt_user ? s->mqtt_user : "");
        snprintf(set.mqtt_password, sizeof set.mqtt_password, "%s",
                 s->mqtt_password ? s->mqtt_password : "");
    }
    set.factory_reset = factory_reset_cb;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = s->utc_start,
                             .serial = s->serial,
                             .label_password = "simlabel"};
    int rc = ml_dev_sc_start(&set, &cfg);
    if (rc < 0) {
        setup_error(r, "the simulated device did not start (%d)", rc);
        return -1;
    }
    r->last_boot = sim_boot_count();
    return 0;
}

static void p1_out_check(struct runner *r)
{
    uint8_t buf[16384];
    size_t n, off = 0;
    while ((n = sim_uart_drain(HAL_UART_P1_OUT, buf, sizeof buf)) > 0) {
        for (size_t i = 0; i < n; i++, r->p1_out++) {
            bool same = off < r->p1_pending.len && r->p1_pending.p[off] == buf[i];
            if (!same && !r->p1_mismatch) {
                r->p1_mismatch = true;
                r->p1_mismatch_at = r->p1_out;
            }
            if (off < r->p1_pending.len) {
                off++;
            }
        }
    }
    if (off > 0) {
        memmove(r->p1_pending.p, r->p1_pending.p + off, r->p1_pending.len - off);
        r->p1_pending.len -= off;
    }
}

static void inject(struct runner *r, const uint8_t *p, size_t n)
{
    /* in slices the RX ring can take, as the UART would deliver them */
    const size_t slice = 4096;
    for (size_t off = 0; off < n; off += slice) {
        size_t k = n - off < slice ? n - off : slice;
        sim_uart_inject(HAL_UART_P1_IN, p + off, k);
        sim_wait_idle();
        ml_buf_put(&r->p1_pending, p + off, k);
        r->p1_in += k;
        p1_out_check(r);
    }
}

static void net_fault(struct runner *r, const struct ml_scn_step *st)
{
    struct sim_net_model m;
    sim_net_get(&m);
    int ifc = r->s->iface ? HAL_NET_WIFI : HAL_NET_ETH;
    switch (st->fault.kind) {
    case ML_SF_LINK_DOWN:
        m.link_up[ifc] = false;
        break;
    case ML_SF_LINK_UP:
        m.link_up[ifc] = true;
        break;
    case ML_SF_DHCP_FAILS:
        m.dhcp_answers = false;
        break;
    case ML_SF_DHCP_OK:
        m.dhcp_answers = true;
        break;
    case ML_SF_GATEWAY_DOWN:
        m.gateway_reachable = false;
        break;
    case ML_SF_GATEWAY_UP:
        m.gateway_reachable = true;
        break;
    case ML_SF_INTERNET_DOWN:
        m.internet_reachable = false;
        break;
    case ML_SF_INTERNET_UP:
        m.internet_reachable = true;
        break;
    default:
        return;
    }
    sim_net_set(&m);
}

static void broker_fault(struct runner *r, const struct ml_scn_step *st)
{
    int rc = 0;
    switch (st->fault.kind) {
    case ML_SF_BROKER_DOWN:
        mqtt_sync(r);
        ml_broker_stop(&r->broker);
        r->broker_up = false;
        break;
    case ML_SF_BROKER_UP:
        rc = ml_broker_restart(&r->broker);
        r->broker_up = rc == 0;
        break;
    case ML_SF_BROKER_REJECTS_CREDENTIALS:
        mqtt_sync(r);
        rc = ml_broker_set_auth(&r->broker, "meterlab-only", "not-the-device-password");
        r->broker_up = rc == 0;
        break;
    case ML_SF_BROKER_ACCEPTS_CREDENTIALS:
        mqtt_sync(r);
        rc = r->s->broker_user
                 ? ml_broker_set_auth(&r->broker, r->s->broker_user, r->s->broker_password)
                 : ml_broker_set_auth(&r->broker, NULL, NULL);
        r->broker_up = rc == 0;
        break;
    default:
        return;
    }
    if (rc != 0) {
        setup_error(r, "%s: the broker did not come back", ml_scn_fault_name(st->fault.kind));
        return;
    }
    if (r->broker_up && !sub_wait_subscribed(&r->sub)) {
        setup_error(r, "the observer did not resubscribe after %s",
                    ml_scn_fault_name(st->fault.kind));
    }
}

static void do_action(struct runner *r, const struct ml_scn_step *st, bool release)
{
    const struct ml_scn_action *a = &st->action;
    if (a->kind == ML_ACT_BUTTON) {
        sim_button_set(!release);
        sim_wait_idle();
        return;
    }
    if (a->kind == ML_ACT_MODBUS_WRITE) {
        r->res->checks++;
        int rc = -1, exc = -1;
        for (int attempt = 0; attempt < 2 && rc < 0 && exc < 0; attempt++) {
            /* a second try on a fresh connection: the device may have dropped this one */
            modbus_t *m = mb_client(r, 1, attempt > 0);
            if (m == NULL) {
                continue;
            }
            modbus_set_slave(m, a->unit);
            rc = modbus_write_register(m, a->address, a->value);
            if (rc < 0 && errno > MODBUS_ENOBASE && errno < MODBUS_ENOBASE + 256) {
                exc = errno - MODBUS_ENOBASE;
            }
        }
        char e[96], s[96];
        snprintf(e, sizeof e, a->expect_exception < 0 ? "written" : "exception %d",
                 a->expect_exception);
        if (rc >= 0) {
            snprintf(s, sizeof s, "written");
        } else if (exc >= 0) {
            snprintf(s, sizeof s, "exception %d", exc);
        } else {
            snprintf(s, sizeof s, "no answer (%s)", modbus_strerror(errno));
        }
        bool ok = a->expect_exception < 0 ? rc >= 0 : exc == a->expect_exception;
        if (!ok) {
            char what[96];
            snprintf(what, sizeof what, "modbus_write 0x%04X = %u (FC06, unit %d)", a->address,
                     a->value, a->unit);
            report(r, &st->loc, now_s(), what, e, s);
        }
    }
}

/* ------------------------------------------------------------------------- */
/* The run                                                                   */
/* ------------------------------------------------------------------------- */

static bool needs_window_checks(const struct ml_scn_step *st, enum ml_scn_check_kind k)
{
    for (size_t i = 0; i < st->nchecks; i++) {
        if (st->checks[i].kind == k) {
            return true;
        }
    }
    return false;
}

static void open_windows(struct runner *r, const struct ml_scn_step *st)
{
    mqtt_sync(r); /* everything published so far belongs before this window */
    for (size_t i = 0; i < st->nchecks; i++) {
        if (st->checks[i].kind != ML_CHK_MQTT) {
            continue;
        }
        r->act = realloc(r->act, (r->nact + 1) * sizeof *r->act);
        r->act[r->nact++] = (struct active){st, &st->checks[i], 0, 0, 0, NULL};
    }
}

static void close_windows(struct runner *r, const struct ml_scn_step *st)
{
    if (needs_window_checks(st, ML_CHK_MQTT)) {
        mqtt_sync(r);
    }
    size_t keep = 0;
    for (size_t i = 0; i < r->nact; i++) {
        struct active *a = &r->act[i];
        if (a->st != st) {
            r->act[keep++] = *a;
            continue;
        }
        const struct ml_scn_check *ch = a->ch;
        r->res->checks++;
        if (a->matched < ch->count_min || a->matched > ch->count_max) {
            char what[160], exp[128], seen[1024];
            snprintf(what, sizeof what, "mqtt %s in [%.3f, %.3f] s", ch->name,
                     st->window ? st->w_from : now_s(), st->window ? st->w_to : now_s());
            if (ch->count_max == LONG_MAX) {
                snprintf(exp, sizeof exp, "at least %ld matching message(s)", ch->count_min);
            } else if (ch->count_min == ch->count_max) {
                snprintf(exp, sizeof exp, "%ld matching message(s)", ch->count_min);
            } else {
                snprintf(exp, sizeof exp, "%ld .. %ld matching messages", ch->count_min,
                         ch->count_max);
            }
            snprintf(seen, sizeof seen, "%ld matching, %ld on the topic%s%s", a->matched,
                     a->on_topic, a->best ? "; closest: " : "", a->best ? a->best : "");
            report(r, &ch->loc, now_s(), what, exp, seen);
        } else {
            narrate(r, "ok    mqtt %s: %ld message(s) in [%.3f, %.3f] s", ch->name, a->matched,
                    st->window ? st->w_from : now_s(), st->window ? st->w_to : now_s());
        }
        free(a->best);
    }
    r->nact = keep;
    for (size_t i = 0; i < st->nchecks; i++) {
        if (st->checks[i].kind == ML_CHK_LED_PATTERN) {
            check_led_pattern(r, st, &st->checks[i]);
        }
    }
}

static void state_checks(struct runner *r, const struct ml_scn_step *st, size_t idx, bool final)
{
    bool all = true;
    struct ml_buf fails = {0};
    for (size_t i = 0; i < st->nchecks; i++) {
        const struct ml_scn_check *ch = &st->checks[i];
        if (ch->kind == ML_CHK_MQTT || ch->kind == ML_CHK_LED_PATTERN) {
            continue;
        }
        char exp[256], seen[512], what[256];
        bool ok = check_state(r, ch, exp, seen, sizeof exp, what);
        if (!st->window) {
            r->res->checks++;
            if (!ok) {
                report(r, &ch->loc, now_s(), what, exp, seen);
            } else {
                narrate(r, "ok    %s: %s", what, seen);
            }
        } else if (!ok) {
            all = false;
            ml_buf_printf(&fails, "%zu\n%s\n%s\n%s\n", i, what, exp, seen);
        }
    }
    if (!st->window) {
        return;
    }
    if (all) {
        r->done[idx] = true;
        narrate(r, "ok    every check of line %d holds", st->loc.line);
    } else if (final) {
        /* report what the last poll saw, per failing check */
        char *save = NULL;
        for (char *line = strtok_r((char *)fails.p, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            size_t ci = (size_t)atol(line);
            char *what = strtok_r(NULL, "\n", &save);
            char *exp = strtok_r(NULL, "\n", &save);
            char *seen = strtok_r(NULL, "\n", &save);
            char w2[300];
            snprintf(w2, sizeof w2, "%s, at some point in [%.3f, %.3f] s", what, st->w_from,
                     st->w_to);
            report(r, &st->checks[ci].loc, now_s(), w2, exp, seen);
        }
    }
    ml_buf_free(&fails);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_url(const char *url, char *host, size_t hcap, int *port)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *colon = strrchr(p, ':');
    if (colon == NULL) {
        snprintf(host, hcap, "%s", p);
        *port = 1883;
        return 0;
    }
    snprintf(host, hcap, "%.*s", (int)(colon - p), p);
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

static bool uses_broker_faults(const struct ml_scenario *s)
{
    for (size_t i = 0; i < s->nsteps; i++) {
        if (s->steps[i].kind == ML_STEP_FAULT && s->steps[i].fault.kind >= ML_SF_BROKER_DOWN &&
            s->steps[i].fault.kind <= ML_SF_BROKER_ACCEPTS_CREDENTIALS) {
            return true;
        }
    }
    return false;
}

void ml_run_sim(const struct ml_scenario *s, const struct ml_run_opts *o, struct ml_run_result *res)
{
    static struct runner rr;
    struct runner *r = &rr;
    memset(r, 0, sizeof *r);
    memset(res, 0, sizeof *res);
    r->s = s;
    r->o = o;
    r->res = res;
    double w0 = wall_now();
    bool started = false;
    struct ml_timeline tl = {0};

    if (s->product == ML_SCN_P1MB) {
        setup_error(r, "product p1mb: the P1MB sim device is not wired into the runner yet "
                       "(see docs/scenarios.md)");
        goto out;
    }
    if (s->mqtt) {
        if (o->broker_url) {
            if (uses_broker_faults(s)) {
                setup_error(r, "broker faults need the runner's own broker (leave out --broker)");
                goto out;
            }
            if (s->broker_user) {
                setup_error(r, "broker: (credentials) needs the runner's own broker");
                goto out;
            }
            if (parse_url(o->broker_url, r->host, sizeof r->host, &r->port) < 0) {
                setup_error(r, "bad --broker URL '%s'", o->broker_url);
                goto out;
            }
            r->broker_up = true;
            if (sub_start(&r->sub, r->host, r->port) < 0) {
                setup_error(r, "cannot subscribe on %s", o->broker_url);
                goto out;
            }
        } else {
            struct ml_broker_opts bo = {.username = s->broker_user, .password = s->broker_password};
            if (ml_broker_start(&r->broker, &bo) != 0) {
                setup_error(r, "cannot start a local mosquitto broker");
                goto out;
            }
            r->own_broker = r->broker_up = true;
            snprintf(r->host, sizeof r->host, "127.0.0.1");
            r->port = r->broker.port;
            if (sub_start(&r->sub, "127.0.0.1", r->broker.obs_port) < 0) {
                setup_error(r, "cannot subscribe on the local broker");
                goto out;
            }
        }
        r->have_sub = true;
    }
    if (device_start(r) < 0) {
        goto out;
    }
    started = true;
    ml_timeline_build(s, &tl);
    ml_player_init(&r->pl, s);
    r->done = calloc(s->nsteps + 1, sizeof *r->done);
    double next_progress = w0 + 1.0;
    bool progressed = false;
    for (size_t i = 0; i < tl.n && !res->error; i++) {
        const struct ml_ev *ev = &tl.ev[i];
        const struct ml_scn_step *st = ev->step != UINT32_MAX ? &s->steps[ev->step] : NULL;
        if (ev->kind == ML_EV_SYNC) {
            if (ev->t_us > 0) {
                sim_advance_to_us(ev->t_us - 1);
            }
            mqtt_settle(r);
            open_windows(r, st);
            continue;
        }
        if (o->pace > 0) {
            /* demos: let a watcher follow (virtual time still moves only here) */
            double due = w0 + (double)ev->t_us / 1e6 / o->pace - wall_now();
            if (due > 0) {
                usleep((useconds_t)(due * 1e6));
            }
        }
        sim_advance_to_us(ev->t_us);
        mqtt_settle(r);
        if (ev->kind == ML_EV_FAULT) {
            narrate(r, "fault %s", ml_scn_fault_name(st->fault.kind));
        } else if (ev->kind == ML_EV_ACTION) {
            narrate(r, "action %s",
                    st->action.kind == ML_ACT_BUTTON ? "button pressed" : "modbus_write");
        } else if (ev->kind == ML_EV_RELEASE) {
            narrate(r, "action button released after %.1f s", st->action.hold_s);
        }
        switch (ev->kind) {
        case ML_EV_FAULT:
            if (st->fault.kind == ML_SF_POWER_CYCLE) {
                if (r->have_sub) {
                    device_published(r); /* the count of this boot, before it is lost */
                }
                sim_power_cycle();
                for (int c = 1; c <= 4; c++) {
                    if (r->mb[c]) {
                        modbus_close(r->mb[c]);
                        modbus_free(r->mb[c]);
                        r->mb[c] = NULL;
                    }
                }
                break;
            }
            if (st->fault.kind >= ML_SF_LINK_DOWN && st->fault.kind <= ML_SF_INTERNET_UP) {
                net_fault(r, st);
                sim_wait_idle();
                break;
            }
            if (st->fault.kind >= ML_SF_BROKER_DOWN &&
                st->fault.kind <= ML_SF_BROKER_ACCEPTS_CREDENTIALS) {
                broker_fault(r, st);
                break;
            }
            /* the meter-side faults (noise bytes, stream states) */
            __attribute__((fallthrough));
        case ML_EV_METER_SET:
        case ML_EV_TELEGRAM:
        case ML_EV_METER_TICK: {
            char err[512];
            r->bytes.len = 0;
            if (ml_player_bytes(&r->pl, ev, &r->bytes, err, sizeof err) < 0) {
                setup_error(r, "%s:%d:%d: at %.3f s: %s", st->loc.file, st->loc.line, st->loc.col,
                            (double)ev->t_us / 1e6, err);
                break;
            }
            if (r->bytes.len > 0) {
                inject(r, r->bytes.p, r->bytes.len);
            }
            break;
        }
        case ML_EV_ACTION:
            do_action(r, st, false);
            break;
        case ML_EV_RELEASE:
            do_action(r, st, true);
            break;
        case ML_EV_EXPECT:
            led_drain(r);
            state_checks(r, st, ev->step, true);
            close_windows(r, st);
            break;
        case ML_EV_POLL:
            if (!r->done[ev->step]) {
                state_checks(r, st, ev->step, false);
            }
            break;
        case ML_EV_WINDOW_END:
            led_drain(r);
            {
                bool has_state = false;
                for (size_t c = 0; c < st->nchecks; c++) {
                    has_state |= st->checks[c].kind != ML_CHK_MQTT &&
                                 st->checks[c].kind != ML_CHK_LED_PATTERN;
                }
                if (has_state) {
                    if (!r->done[ev->step]) {
                        state_checks(r, st, ev->step, true);
                    }
                    for (size_t c = 0; c < st->nchecks; c++) {
                        if (st->checks[c].kind != ML_CHK_MQTT &&
                            st->checks[c].kind != ML_CHK_LED_PATTERN) {
                            res->checks++;
                        }
                    }
                }
            }
            close_windows(r, st);
            break;
        default:
            break;
        }
        if (r->have_sub) {
            device_published(r); /* follows reboots closely */
        }
        if ((i & 63) == 0) {
            process_msgs(r);
            led_drain(r);
        }
        if (!o->quiet && o->tty && (i & 63) == 0 && wall_now() >= next_progress) {
            next_progress += 0.5;
            progressed = true;
            fprintf(stderr, "\r  ... %-32s t = %8.1f of %.0f s, %llu telegrams", s->name,
                    (double)ev->t_us / 1e6, s->duration_s, (unsigned long long)r->pl.telegrams);
        }
    }
    if (progressed) {
        fprintf(stderr, "\r%*s\r", 90, "");
    }
    if (!res->error) {
        sim_advance_to_us((uint64_t)llround(s->duration_s * 1e6));
    }
out:
    res->virtual_s = started ? now_s() : 0;
    res->telegrams = r->pl.telegrams;
    res->bytes = r->pl.bytes;
    for (int c = 1; c <= 4; c++) {
        if (r->mb[c]) {
            modbus_close(r->mb[c]);
            modbus_free(r->mb[c]);
        }
    }
    if (started) {
        ml_dev_sc_stop();
    }
    if (r->have_sub || r->sub.m) {
        sub_stop(&r->sub);
    }
    if (r->own_broker) {
        ml_broker_destroy(&r->broker);
    }
    for (size_t i = 0; i < r->nact; i++) {
        free(r->act[i].best);
    }
    free(r->act);
    free(r->done);
    free(r->led);
    ml_buf_free(&r->bytes);
    ml_buf_free(&r->p1_pending);
    ml_timeline_free(&tl);
    res->report = r->report.len ? strdup((char *)r->report.p) : NULL;
    ml_buf_free(&r->report);
    res->wall_s = wall_now() - w0;
}
