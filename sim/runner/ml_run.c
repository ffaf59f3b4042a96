/*
 * The scenario runner, shared by every device under test: plays the timeline,
 * starts the broker and the observers (libmodbus masters, a libmosquitto
 * subscriber, an HTTP client) and decides every expectation; what differs per
 * DUT (how bytes get in, how time moves, what can be seen) is behind struct
 * ml_dut_ops (ml_dut_sim.c: in-process, virtual time; ml_dut_rt.c: a
 * stand-alone device or a real bench, real time).
 *
 * MQTT timing: before a window opens and when it closes the runner makes sure
 * the subscriber holds every message the device published so far: in virtual
 * time by waiting (real time, bounded) until it received as many messages as
 * the device handed to its transport; in real time by a grace period. So each
 * message is counted in the right window.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
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

#include "ml_check.h"
#include "ml_mqtt_obs.h"
#include "ml_run.h"
#include "ml_broker.h"
#include "mqtt/mqtt.h"
#include "mqtt/mqtt_policy.h"
#include "p1mb_app.h"
#include "regmap/regmap.h"
#include "ui/ui.h"

#define REAL_WAIT_MS 10000 /* bound of every wait on a real peer */

static uint64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ------------------------------------------------------------------------- */
/* Runner state                                                              */
/* ------------------------------------------------------------------------- */

struct active {
    const struct ml_scn_step *st;
    const struct ml_scn_check *ch;
    long matched, on_topic;
    int best_bad; /* fewest mismatching fields seen so far (the latest on a tie) */
    char *best;   /* the diff of that message */
};

struct runner {
    const struct ml_scenario *s;
    const struct ml_run_opts *o;
    struct ml_run_result *res;
    struct ml_dut *d;
    /* broker and subscriber */
    struct ml_broker broker;
    bool own_broker, broker_up, broker_auth;
    char host[64];
    int port;
    struct ml_mqtt_obs sub;
    bool have_sub;
    uint64_t lost; /* messages published but never received (QoS 0, broker stopped) */
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
    bool *done;         /* per step: an "eventually" window has passed */
    uint64_t *skipmask; /* per step: checks this DUT cannot decide */
    char **last_seen;   /* per step: what the last poll saw */
    /* LED log */
    struct ml_dut_led_ev *led;
    size_t nled, capled;
    uint32_t led_start_rgb;
    struct ml_buf report;
    char *skipped_locs; /* "file:line:col\n" of checks reported skipped once */
    char *restore_cfg;  /* device: settings changed on a rig's board: what to put back */
};

static struct runner *cur; /* for now_s() */

static double now_s(void)
{
    return (double)cur->d->ops->now_us(cur->d) / 1e6;
}

/* A check this DUT cannot decide: reported once per expectation, never passed. */
static void skip(struct runner *r, const struct ml_scn_loc *l, const char *what, const char *why)
{
    char key[512];
    snprintf(key, sizeof key, "%s:%d:%d|", l->file, l->line, l->col);
    if (r->skipped_locs && strstr(r->skipped_locs, key)) {
        return;
    }
    size_t n = r->skipped_locs ? strlen(r->skipped_locs) : 0;
    r->skipped_locs = realloc(r->skipped_locs, n + strlen(key) + 1);
    strcpy(r->skipped_locs + n, key);
    r->res->skips++;
    ml_buf_printf(&r->report, "  SKIP %s:%d:%d  %s: %s (--dut %s)\n", l->file, l->line, l->col,
                  what, why, r->d->ops->name);
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

static void settle(struct runner *r)
{
    if (r->d->ops->settle) {
        r->d->ops->settle(r->d);
    }
}

static void process_msgs(struct runner *r);

/* Make sure every message the device published so far has arrived (@p closing:
 * a window ends now), then process them. */
static void mqtt_sync(struct runner *r, bool closing)
{
    if (!r->have_sub) {
        return;
    }
    settle(r);
    if (r->d->ops->published) {
        uint64_t want = r->d->ops->published(r->d) - r->lost;
        uint64_t end = real_ms() + REAL_WAIT_MS;
        while (ml_mqtt_obs_received(&r->sub) < want && real_ms() < end) {
            usleep(500);
            settle(r);
            want = r->d->ops->published(r->d) - r->lost;
        }
        uint64_t got = ml_mqtt_obs_received(&r->sub);
        if (got < want) {
            /* lost in transit (QoS 0, broker stopped meanwhile): do not wait for them again */
            r->lost += want - got;
        }
    } else if (closing) {
        usleep((useconds_t)r->d->mqtt_grace_ms * 1000u);
    }
    process_msgs(r);
}

/* ------------------------------------------------------------------------- */
/* Checks                                                                    */
/* ------------------------------------------------------------------------- */

enum { CK_FAIL = 0, CK_OK = 1, CK_SKIP = 2 };

static const char *unit_of(int field)
{
    if (field < 0 || field >= READING_FIELD_COUNT) {
        return "";
    }
    return reading_field_info((enum reading_field)field)->unit;
}

static void mb_drop(struct runner *r, int n)
{
    if (r->mb[n]) {
        modbus_close(r->mb[n]);
        modbus_free(r->mb[n]);
        r->mb[n] = NULL;
    }
}

static modbus_t *mb_client(struct runner *r, int n, bool fresh)
{
    struct ml_dut *d = r->d;
    if (fresh) {
        mb_drop(r, n);
    }
    if (r->mb[n] == NULL) {
        modbus_t *m = d->rtu_path[0] ? modbus_new_rtu(d->rtu_path, d->rtu_baud, d->rtu_parity, 8,
                                                      d->rtu_parity == 'N' ? 2 : 1)
                                     : modbus_new_tcp(d->mb_host, d->mb_port);
        if (m == NULL) {
            return NULL;
        }
        double to = d->modbus_timeout_s > 0 ? d->modbus_timeout_s : REAL_WAIT_MS / 1000.0;
        modbus_set_response_timeout(m, (uint32_t)to, (uint32_t)((to - floor(to)) * 1e6));
        if (d->rtu_path[0]) {
            modbus_set_slave(m, d->rtu_slave);
        }
        if (modbus_connect(m) != 0) {
            modbus_free(m);
            return NULL;
        }
        r->mb[n] = m;
    }
    return r->mb[n];
}

struct mb_req {
    modbus_t *m;
    int fc, addr, n, rc, err;
    uint16_t *w;
};

static int mb_do(void *arg)
{
    struct mb_req *q = arg;
    if (q->fc == 6) {
        q->rc = modbus_write_register(q->m, q->addr, q->w[0]);
    } else if (q->fc == 4) {
        q->rc = modbus_read_input_registers(q->m, q->addr, q->n, q->w);
    } else {
        q->rc = modbus_read_registers(q->m, q->addr, q->n, q->w);
    }
    q->err = errno;
    return q->rc;
}

/* One libmodbus call through the backend (virtual time moves while an RTU master waits). */
static int mb_call(struct runner *r, struct mb_req *q)
{
    if (r->d->ops->modbus_call) {
        r->d->ops->modbus_call(r->d, mb_do, q);
    } else {
        mb_do(q);
    }
    errno = q->err;
    return q->rc;
}

static const char *mb_where(struct runner *r, char *buf, size_t cap)
{
    if (r->d->rtu_path[0]) {
        snprintf(buf, cap, "%s (RTU, address %d)", r->d->rtu_path, r->d->rtu_slave);
    } else {
        snprintf(buf, cap, "%s:%d", r->d->mb_host, r->d->mb_port);
    }
    return buf;
}

/* Read @p n registers; reconnects once (the device may have rebooted, or replaced
 * this client after 5 s of silence). */
static int mb_read(struct runner *r, int client, uint8_t fc, uint16_t addr, int n, uint16_t *w,
                   char *why, size_t whycap)
{
    char wh[300];
    for (int attempt = 0; attempt < 2; attempt++) {
        modbus_t *m = mb_client(r, client, attempt > 0);
        if (m == NULL) {
            snprintf(why, whycap, "cannot connect to %s", mb_where(r, wh, sizeof wh));
            continue;
        }
        struct mb_req q = {m, fc, addr, n, 0, 0, w};
        if (mb_call(r, &q) == n) {
            return 0;
        }
        snprintf(why, whycap, "read failed: %s (%s)", modbus_strerror(errno),
                 mb_where(r, wh, sizeof wh));
    }
    return -1;
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

static void p1_out_check(struct runner *r);

static const char *const led_shows[] = {"off", "on", "blink"};
static const char *const p1mb_led_names[] = {"PWR", "P1", "485"};

static void p1mb_leds_text(const int *l, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (l[i] >= 0 && l[i] <= 2) {
            k += (size_t)snprintf(buf + k, cap - k, "%s%s %s", k ? ", " : "", p1mb_led_names[i],
                                  led_shows[l[i]]);
        }
    }
}

/* An HTTP request and its checks (an action, or an expectation). */
static int check_http(struct runner *r, const struct ml_scn_check *ch, char *exp, char *seen,
                      size_t cap, char *what)
{
    struct ml_dut *d = r->d;
    snprintf(what, cap, "http %s %s", ch->str, ch->name);
    struct ml_buf e = {0};
    if (ch->status) {
        ml_buf_printf(&e, "status %d", ch->status);
    } else {
        ml_buf_printf(&e, "status 2xx");
    }
    for (size_t i = 0; i < ch->nfields; i++) {
        const struct ml_scn_field *f = &ch->fields[i];
        if (f->kind == ML_FV_NUM) {
            ml_buf_printf(&e, ", %s = %.10g", f->path, f->num);
        } else if (f->kind == ML_FV_STR) {
            ml_buf_printf(&e, ", %s = \"%s\"", f->path, f->str);
        } else if (f->kind == ML_FV_BOOL) {
            ml_buf_printf(&e, ", %s = %s", f->path, f->b ? "true" : "false");
        } else {
            ml_buf_printf(&e, ", %s = null", f->path);
        }
    }
    snprintf(exp, cap, "%s", (char *)e.p);
    ml_buf_free(&e);
    if (d->http_port <= 0) {
        snprintf(seen, cap, "this DUT has no HTTP API address");
        return CK_SKIP;
    }
    struct ml_http_resp resp;
    char err[256];
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
        /* one session at a time on the device: a busy answer is retried */
        rc = ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                                 d->http_password, ch->str, ch->name, ch->body, d->http_timeout_s,
                                 &resp, err, sizeof err);
        if (rc == 0 && resp.status == 503) {
            ml_http_resp_free(&resp);
            rc = -1;
            snprintf(err, sizeof err, "503 (device busy)");
            usleep(200000);
        }
    }
    if (rc < 0) {
        snprintf(seen, cap, "no answer: %s", err);
        return CK_FAIL;
    }
    bool ok = ch->status ? resp.status == ch->status : resp.status / 100 == 2;
    struct ml_buf diff = {0};
    int bad = ch->nfields ? ml_check_fields_match(ch->fields, ch->nfields,
                                                  resp.body ? resp.body : "", &diff)
                          : 0;
    snprintf(seen, cap, "status %d%s%s; body %.200s", resp.status, bad ? ", " : "",
             bad ? (char *)diff.p : "", resp.body ? resp.body : "(none)");
    ml_buf_free(&diff);
    ml_http_resp_free(&resp);
    return ok && bad == 0 ? CK_OK : CK_FAIL;
}

/* Evaluate one state check now: CK_OK, CK_FAIL or CK_SKIP (the reason in @p seen). */
static int check_state(struct runner *r, const struct ml_scn_check *ch, char *exp, char *seen,
                       size_t cap, char *what)
{
    struct ml_dut_obs ob;
    char why[256] = "";
    int orc = ML_DUT_OK;
    switch (ch->kind) {
    case ML_CHK_MODBUS: {
        static const char *const tn[] = {"f32", "i32", "u32", "i16", "u16", "i64"};
        unsigned n = ml_check_regs_words(ch->type);
        const char *unit = unit_of(field_of_entry(r->s, ch));
        snprintf(what, cap, "modbus %s (FC%02u 0x%04X %s%s, client %d)", ch->name, ch->fc, ch->addr,
                 tn[ch->type], n > 1 ? (ch->order == REGMAP_CDAB ? " CDAB" : " ABCD") : "",
                 ch->client);
        snprintf(exp, cap, "%.10g ± %.3g %s", ch->value, ch->tol, unit);
        if (!r->d->rtu_path[0] && r->d->mb_port <= 0) {
            snprintf(seen, cap, "this DUT has no Modbus address");
            return CK_SKIP;
        }
        uint16_t w[4] = {0};
        char mwhy[400];
        if (mb_read(r, ch->client, ch->fc, ch->addr, (int)n, w, mwhy, sizeof mwhy) < 0) {
            snprintf(seen, cap, "no answer (%s)", mwhy);
            return CK_FAIL;
        }
        double v = ml_check_regs_decode(ch->type, ch->order, w) * pow(10.0, ch->exp10);
        /* enough digits that a near miss shows (an int64 Wh counter off by one) */
        if (n == 4) {
            snprintf(seen, cap, "%.10g%s%s (registers %04X %04X %04X %04X)", v, unit[0] ? " " : "",
                     unit, w[0], w[1], w[2], w[3]);
        } else if (n == 2) {
            snprintf(seen, cap, "%.10g%s%s (registers %04X %04X)", v, unit[0] ? " " : "", unit,
                     w[0], w[1]);
        } else {
            snprintf(seen, cap, "%.10g%s%s (register %04X)", v, unit[0] ? " " : "", unit, w[0]);
        }
        return fabs(v - ch->value) <= ch->tol ? CK_OK : CK_FAIL;
    }
    case ML_CHK_MODBUS_REFUSED: {
        snprintf(what, cap, "modbus client %d refused (one-client rule)", ch->client);
        snprintf(exp, cap, "connection closed without an answer");
        if (r->d->rtu_path[0] || r->d->mb_port <= 0) {
            snprintf(seen, cap, "the one-client rule is Modbus TCP's");
            return CK_SKIP;
        }
        uint16_t w[2];
        modbus_t *m = mb_client(r, ch->client, true);
        if (m == NULL) {
            snprintf(seen, cap, "could not even connect");
            return CK_OK;
        }
        int rc = modbus_read_registers(m, 0x8016, 2, w);
        mb_drop(r, ch->client);
        snprintf(seen, cap, rc == 2 ? "an answer (the client was served)" : "refused");
        return rc != 2 ? CK_OK : CK_FAIL;
    }
    case ML_CHK_HTTP:
        return check_http(r, ch, exp, seen, cap, what);
    case ML_CHK_P1_OUT:
        snprintf(what, cap, "p1_out equals_input");
        snprintf(exp, cap, "%llu bytes, the same as P1 in", (unsigned long long)r->p1_in);
        if (r->d->ops->p1_out == NULL) {
            snprintf(seen, cap, "this DUT has no P1-out capture");
            return CK_SKIP;
        }
        p1_out_check(r);
        if (r->p1_mismatch) {
            snprintf(seen, cap, "first difference at byte %llu",
                     (unsigned long long)r->p1_mismatch_at);
            return CK_FAIL;
        }
        snprintf(seen, cap, "%llu bytes", (unsigned long long)r->p1_out);
        return r->p1_out == r->p1_in ? CK_OK : CK_FAIL;
    default:
        break;
    }
    /* what only the backend can see */
    memset(&ob, 0, sizeof ob);
    orc = r->d->ops->observe(r->d, ch, &ob, why, sizeof why);
    bool ok = false;
    switch (ch->kind) {
    case ML_CHK_LED:
        snprintf(what, cap, "led state");
        if (ch->led_state < 0) {
            p1mb_leds_text(ch->p1mb_led, exp, cap);
            int shown[3];
            for (int i = 0; i < 3; i++) {
                shown[i] = ch->p1mb_led[i] >= 0 ? ob.p1mb_led[i] : -1;
                ok = i == 0 ? true : ok;
                ok &= ch->p1mb_led[i] < 0 || ob.p1mb_led[i] == ch->p1mb_led[i];
            }
            p1mb_leds_text(shown, seen, cap);
        } else {
            snprintf(exp, cap, "%s", ui_led_state_name((enum ui_led_state)ch->led_state));
            snprintf(seen, cap, "%s",
                     ob.state >= 0 && ob.state < UI_LED_STATE_COUNT
                         ? ui_led_state_name((enum ui_led_state)ob.state)
                         : "?");
            ok = ob.state == ch->led_state;
        }
        break;
    case ML_CHK_COUNTER:
        snprintf(what, cap, "counter %s", ch->name);
        ml_check_range_text(ch, exp, cap);
        snprintf(seen, cap, "%.0f%s%s", ob.num, ob.detail[0] ? " " : "", ob.detail);
        ok = ob.num >= ch->min && ob.num <= ch->max;
        break;
    case ML_CHK_STATUS:
        snprintf(what, cap, "status %s", ch->name);
        if (!strcmp(ch->name, "mqtt")) {
            snprintf(exp, cap, "%s", ch->str);
            snprintf(seen, cap, "%s", mqtt_state_name(ob.state));
            ok = ob.state == ch->led_state;
        } else {
            snprintf(exp, cap, "%s", ch->b ? "true" : "false");
            snprintf(seen, cap, "%s", ob.b ? "true" : "false");
            ok = ob.b == ch->b;
        }
        break;
    case ML_CHK_REBOOTS:
        snprintf(what, cap, "reboots");
        ml_check_range_text(ch, exp, cap);
        snprintf(seen, cap, "%.0f%s%s", ob.num, ob.detail[0] ? " " : "", ob.detail);
        ok = ob.num >= ch->min && ob.num <= ch->max;
        break;
    default:
        snprintf(what, cap, "check");
        exp[0] = 0;
        ok = true;
        break;
    }
    if (orc != ML_DUT_OK) {
        snprintf(seen, cap, "%s%s", orc == ML_DUT_FAIL ? "no answer: " : "", why);
        return orc == ML_DUT_SKIP ? CK_SKIP : CK_FAIL;
    }
    return ok ? CK_OK : CK_FAIL;
}

/* ---- MQTT window checks ---- */

static bool topic_matches(struct runner *r, const char *topic, const char *metric)
{
    return ml_check_topic_matches(topic, r->d->serial[0] ? r->d->serial : r->s->serial, metric);
}

static void mqtt_consider(struct runner *r, struct active *a, const char *topic,
                          const char *payload)
{
    if (!topic_matches(r, topic, a->ch->name)) {
        return;
    }
    a->on_topic++;
    struct ml_buf d = {0};
    int bad = ml_check_fields_match(a->ch->fields, a->ch->nfields, payload, &d);
    if (bad == 0) {
        a->matched++;
    } else if (a->best == NULL || bad <= a->best_bad) {
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
    struct ml_mqtt_msg *h = ml_mqtt_obs_take_all(&r->sub);
    while (h) {
        for (size_t i = 0; i < r->nact; i++) {
            if (r->act[i].ch->kind == ML_CHK_MQTT) {
                mqtt_consider(r, &r->act[i], h->topic, h->payload);
            }
        }
        struct ml_mqtt_msg *n = h->next;
        free(h->topic);
        free(h->payload);
        free(h);
        h = n;
    }
}

/* ---- LED log ---- */

static void led_drain(struct runner *r)
{
    if (r->d->ops->led_events == NULL) {
        return;
    }
    struct ml_dut_led_ev ev[512];
    size_t n;
    while ((n = r->d->ops->led_events(r->d, ev, 512)) > 0) {
        for (size_t i = 0; i < n; i++) {
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
    if (r->d->ops->led_events == NULL) {
        skip(r, &ch->loc, "led_pattern", "no LED colour sensor on this DUT");
        return;
    }
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
        const struct ml_dut_led_ev *e = &r->led[i];
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

static void p1_out_check(struct runner *r)
{
    if (r->d->ops->p1_out == NULL) {
        return;
    }
    uint8_t buf[16384];
    size_t n, off = 0;
    while ((n = r->d->ops->p1_out(r->d, buf, sizeof buf)) > 0) {
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
    char err[256];
    if (r->d->ops->inject(r->d, p, n, err, sizeof err) < 0) {
        setup_error(r, "meter bytes: %s", err);
        return;
    }
    if (r->d->ops->p1_out != NULL) {
        ml_buf_put(&r->p1_pending, p, n);
    }
    r->p1_in += n;
    p1_out_check(r);
}

int ml_run_broker_fault(struct ml_broker *b, const struct ml_scenario *s, enum ml_scn_fault_kind k,
                        bool *up)
{
    int rc = 0;
    switch (k) {
    case ML_SF_BROKER_DOWN:
        ml_broker_stop(b);
        *up = false;
        return 0;
    case ML_SF_BROKER_UP:
        rc = ml_broker_restart(b);
        break;
    case ML_SF_BROKER_REJECTS_CREDENTIALS:
        rc = ml_broker_set_auth(b, "meterlab-only", "not-the-device-password");
        break;
    case ML_SF_BROKER_ACCEPTS_CREDENTIALS:
        rc = s->broker_user ? ml_broker_set_auth(b, s->broker_user, s->broker_password)
                            : ml_broker_set_auth(b, NULL, NULL);
        break;
    default:
        return 0;
    }
    *up = rc == 0;
    return rc == 0 ? 0 : -1;
}

static void broker_fault(struct runner *r, const struct ml_scn_step *st)
{
    if (st->fault.kind != ML_SF_BROKER_UP) {
        mqtt_sync(r, false); /* what was published before the broker changes */
    }
    int rc = ml_run_broker_fault(&r->broker, r->s, st->fault.kind, &r->broker_up);
    if (rc != 0) {
        setup_error(r, "%s: the broker did not come back", ml_scn_fault_name(st->fault.kind));
        return;
    }
    if (r->broker_up && !ml_mqtt_obs_wait_subscribed(&r->sub)) {
        setup_error(r, "the observer did not resubscribe after %s",
                    ml_scn_fault_name(st->fault.kind));
    }
}

/* Wait (real time, at most @p ms) until the observer holds more than @p n command
 * results; then until none more comes for 100 ms. @return the count. */
static uint64_t wait_results(struct runner *r, uint64_t n, int ms)
{
    uint64_t got = ml_mqtt_obs_results(&r->sub);
    for (int t = 0; t < ms && got <= n; t += 5) {
        usleep(5000);
        got = ml_mqtt_obs_results(&r->sub);
    }
    for (uint64_t last = 0; got > n && got != last;) {
        last = got;
        usleep(100000);
        got = ml_mqtt_obs_results(&r->sub);
    }
    return got;
}

/*
 * mqtt_cmd: publish the body on <base>/cmd/<name> from the observer and wait (real
 * time, 10 s) for the device's first answer on .../cmd/<name>/result; the answers
 * themselves are judged by mqtt: expectations on cmd/<name>/result. The device
 * subscribes after each connect and when that reaches the broker is up to the
 * network: an unknown command, probe, is sent first until it is answered.
 */
static void do_mqtt_cmd(struct runner *r, const struct ml_scn_step *st)
{
    const struct ml_scn_action *a = &st->action;
    char base[160], topic[224], what[96];
    snprintf(what, sizeof what, "mqtt_cmd %s", a->cmd_name);
    r->res->checks++;
    const char *serial = r->d->serial[0] ? r->d->serial : r->s->serial;
    if (!r->have_sub || mqtt_base_build(r->s->mqtt_site, serial, base, sizeof base) < 0) {
        report(r, &st->loc, now_s(), what, "a command sent", "no MQTT observer");
        return;
    }
    snprintf(topic, sizeof topic, "%s/cmd/probe", base);
    uint64_t n = ml_mqtt_obs_results(&r->sub), got = n;
    for (int i = 0; i < 50 && got == n; i++) {
        ml_mqtt_obs_publish(&r->sub, topic, "{}");
        got = wait_results(r, n, 200);
    }
    if (got == n) {
        report(r, &st->loc, now_s(), what, "an answer on .../cmd/probe/result",
               "none within 10 s (is the device connected?)");
        return;
    }
    snprintf(topic, sizeof topic, "%s/cmd/%s", base, a->cmd_name);
    ml_mqtt_obs_publish(&r->sub, topic, a->cmd_body);
    if (wait_results(r, got, 10000) == got) {
        char exp[300];
        snprintf(exp, sizeof exp, "an answer on %s/result", topic);
        report(r, &st->loc, now_s(), what, exp, "none within 10 s");
        return;
    }
    narrate(r, "ok    %s %s: answered", what, a->cmd_body);
}

static void do_action(struct runner *r, const struct ml_scn_step *st, bool release)
{
    const struct ml_scn_action *a = &st->action;
    char why[256] = "";
    if (a->kind == ML_ACT_BUTTON) {
        int rc = r->d->ops->button(r->d, !release, why, sizeof why);
        if (rc == ML_DUT_FAIL) {
            setup_error(r, "%s:%d:%d: button: %s", st->loc.file, st->loc.line, st->loc.col, why);
        }
        return;
    }
    if (a->kind == ML_ACT_MQTT_CMD) {
        do_mqtt_cmd(r, st);
        return;
    }
    if (a->kind == ML_ACT_HTTP) {
        const struct ml_scn_check *ch = &st->checks[0];
        char exp[512], seen[768], what[256];
        int rc = check_state(r, ch, exp, seen, sizeof exp, what);
        if (rc == CK_SKIP) {
            skip(r, &ch->loc, what, seen);
            return;
        }
        r->res->checks++;
        if (rc == CK_FAIL) {
            report(r, &ch->loc, now_s(), what, exp, seen);
        } else {
            narrate(r, "ok    %s: %s", what, seen);
        }
        return;
    }
    if (a->kind == ML_ACT_MODBUS_WRITE) {
        r->res->checks++;
        int rc = -1, exc = -1,
            unit = a->unit >= 0        ? a->unit
                   : r->d->rtu_path[0] ? r->d->rtu_slave
                                       : 1;
        for (int attempt = 0; attempt < 2 && rc < 0 && exc < 0; attempt++) {
            /* a second try on a fresh connection: the device may have dropped this one */
            modbus_t *m = mb_client(r, 1, attempt > 0);
            if (m == NULL) {
                continue;
            }
            modbus_set_slave(m, unit);
            uint16_t v = a->value;
            struct mb_req q = {m, 6, a->address, 1, 0, 0, &v};
            rc = mb_call(r, &q);
            if (rc < 0 && errno > MODBUS_ENOBASE && errno < MODBUS_ENOBASE + 256) {
                exc = errno - MODBUS_ENOBASE;
            }
            if (r->d->rtu_path[0]) {
                modbus_set_slave(m, r->d->rtu_slave);
                if (a->expect_exception == 0) {
                    break; /* no answer expected: one timeout is enough */
                }
            }
        }
        char e[96], s[160];
        snprintf(e, sizeof e,
                 a->expect_exception < 0    ? "written"
                 : a->expect_exception == 0 ? "no answer"
                                            : "exception %d",
                 a->expect_exception);
        if (rc >= 0) {
            snprintf(s, sizeof s, "written");
        } else if (exc >= 0) {
            snprintf(s, sizeof s, "exception %d", exc);
        } else {
            snprintf(s, sizeof s, "no answer (%s)", modbus_strerror(errno));
        }
        bool ok = a->expect_exception < 0    ? rc >= 0
                  : a->expect_exception == 0 ? rc < 0 && exc < 0
                                             : exc == a->expect_exception;
        if (!ok) {
            char what[96];
            snprintf(what, sizeof what, "modbus_write 0x%04X = %u (FC06, unit %d)", a->address,
                     a->value, unit);
            report(r, &st->loc, now_s(), what, e, s);
        } else {
            narrate(r, "ok    modbus_write 0x%04X = %u: %s", a->address, a->value, s);
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

static bool is_state_check(const struct ml_scn_check *ch)
{
    return ch->kind != ML_CHK_MQTT && ch->kind != ML_CHK_LED_PATTERN;
}

static void open_windows(struct runner *r, const struct ml_scn_step *st)
{
    mqtt_sync(r, false); /* everything published so far belongs before this window */
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
        mqtt_sync(r, true);
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

/* The state checks of @p st now. At an instant each is decided; in a window they
 * must all hold at one poll (@p final: the window ends, report what was seen). */
static void state_checks(struct runner *r, const struct ml_scn_step *st, size_t idx, bool final)
{
    bool all = true;
    struct ml_buf fails = {0};
    for (size_t i = 0; i < st->nchecks; i++) {
        const struct ml_scn_check *ch = &st->checks[i];
        if (!is_state_check(ch) || (r->skipmask[idx] >> (i & 63) & 1u)) {
            continue;
        }
        char exp[512], seen[768], what[256];
        int rc = check_state(r, ch, exp, seen, sizeof exp, what);
        if (rc == CK_SKIP) {
            r->skipmask[idx] |= (uint64_t)1 << (i & 63);
            skip(r, &ch->loc, what, seen);
            continue;
        }
        if (!st->window) {
            r->res->checks++;
            if (rc == CK_FAIL) {
                report(r, &ch->loc, now_s(), what, exp, seen);
            } else {
                narrate(r, "ok    %s: %s", what, seen);
            }
        } else if (rc == CK_FAIL) {
            all = false;
            ml_buf_printf(&fails, "%zu\n%s\n%s\n%s\n", i, what, exp, seen);
        }
    }
    if (!st->window) {
        ml_buf_free(&fails);
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

static void window_end(struct runner *r, const struct ml_scn_step *st, size_t idx)
{
    led_drain(r);
    bool has_state = false;
    for (size_t c = 0; c < st->nchecks; c++) {
        has_state |= is_state_check(&st->checks[c]);
    }
    if (has_state) {
        if (!r->done[idx]) {
            state_checks(r, st, idx, true);
        }
        for (size_t c = 0; c < st->nchecks; c++) {
            if (is_state_check(&st->checks[c]) && !(r->skipmask[idx] >> (c & 63) & 1u)) {
                r->res->checks++;
            }
        }
    }
    close_windows(r, st);
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
        *port = 1883;
        return snprintf(host, hcap, "%s", p) < (int)hcap ? 0 : -1;
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

static bool is_broker_fault(enum ml_scn_fault_kind k)
{
    return k >= ML_SF_BROKER_DOWN && k <= ML_SF_BROKER_ACCEPTS_CREDENTIALS;
}

static bool is_dut_fault(enum ml_scn_fault_kind k)
{
    return (k >= ML_SF_LINK_DOWN && k <= ML_SF_INTERNET_UP) || ml_scn_fault_is_board(k);
}

/* The broker and the subscriber: the DUT's, --broker, or a local mosquitto. */
static int broker_setup(struct runner *r)
{
    const struct ml_scenario *s = r->s;
    const char *url = r->d->broker_url[0] ? r->d->broker_url : r->o->broker_url;
    if (url) {
        if (s->mqtt_tls) {
            setup_error(r,
                        "device: {mqtt: tls} needs the runner's own broker (leave out --broker)");
            return -1;
        }
        if (uses_broker_faults(s)) {
            setup_error(r, "broker faults need the runner's own broker (leave out --broker)");
            return -1;
        }
        if (s->broker_user) {
            setup_error(r, "broker: (credentials) needs the runner's own broker");
            return -1;
        }
        if (parse_url(url, r->host, sizeof r->host, &r->port) < 0) {
            setup_error(r, "bad broker URL '%s'", url);
            return -1;
        }
        r->broker_up = true;
        if (strncmp(url, "mqtts://", 8) == 0) {
            setup_error(r,
                        "broker %s: the observer speaks plain MQTT only (use the bench "
                        "broker's plain listener)",
                        url);
            return -1;
        }
        if (ml_mqtt_obs_start(&r->sub, r->host, r->port, r->d->broker_user, r->d->broker_password) <
            0) {
            setup_error(r, "cannot subscribe on %s", url);
            return -1;
        }
    } else {
        struct ml_broker_opts bo = {.username = s->broker_user, .password = s->broker_password};
        if (s->mqtt_tls) {
            /* mutual TLS like the product's broker: the device's certificate CN = serial */
            bo.tls = bo.require_cert = true;
            bo.client_cn = s->serial;
        }
        if (ml_broker_start(&r->broker, &bo) != 0) {
            setup_error(r, "cannot start a local mosquitto broker");
            return -1;
        }
        r->own_broker = r->broker_up = true;
        if (s->mqtt_tls) {
            snprintf(r->d->mqtt_ca, sizeof r->d->mqtt_ca, "%s", r->broker.ca_file);
            snprintf(r->d->mqtt_cert, sizeof r->d->mqtt_cert, "%s", r->broker.client_cert);
            snprintf(r->d->mqtt_key, sizeof r->d->mqtt_key, "%s", r->broker.client_key);
        }
        snprintf(r->host, sizeof r->host, "127.0.0.1");
        r->port = r->broker.port;
        if (ml_mqtt_obs_start(&r->sub, "127.0.0.1", r->broker.obs_port, NULL, NULL) < 0) {
            setup_error(r, "cannot subscribe on the local broker");
            return -1;
        }
    }
    r->have_sub = true;
    return 0;
}

/* A step this DUT cannot play: the whole scenario is skipped (its checks would lie). */
static const char *cannot_play(struct runner *r)
{
    const struct ml_scenario *s = r->s;
    const char *whole = r->d->ops->cannot ? r->d->ops->cannot(r->d, NULL) : NULL;
    if (whole) {
        static char buf[512];
        snprintf(buf, sizeof buf, "%s: %s", s->path, whole);
        return buf;
    }
    if (s->mqtt_tls && strcmp(r->d->ops->name, "sim") != 0) {
        static char buf[512];
        snprintf(buf, sizeof buf,
                 "%s: device: {mqtt: tls} (the device's TLS files) is set up on --dut sim only",
                 s->path);
        return buf;
    }
    for (size_t i = 0; i < s->nsteps; i++) {
        const struct ml_scn_step *st = &s->steps[i];
        if (st->kind == ML_STEP_FAULT && is_broker_fault(st->fault.kind) && r->d->broker_url[0]) {
            return "broker faults need the runner's own broker (the rig names one)";
        }
        const char *why = r->d->ops->cannot ? r->d->ops->cannot(r->d, st) : NULL;
        if (why) {
            static char buf[512];
            snprintf(buf, sizeof buf, "%s:%d:%d: %s", st->loc.file, st->loc.line, st->loc.col, why);
            return buf;
        }
    }
    return NULL;
}

/* GET /api/v1/config, asked again until @p limit seconds have passed (a board that
 * is rebooting closes connections unanswered). @return 0 with *@p out, or -1. */
static int get_config(struct runner *r, double limit, cJSON **out, char *why, size_t cap)
{
    struct ml_dut *d = r->d;
    struct ml_http_resp resp;
    char herr[256];
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int hrc;
    for (;;) {
        hrc = ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                                  d->http_password, "GET", "/api/v1/config", NULL, limit, &resp,
                                  herr, sizeof herr);
        clock_gettime(CLOCK_MONOTONIC, &now);
        double spent = (double)(now.tv_sec - t0.tv_sec) + (now.tv_nsec - t0.tv_nsec) / 1e9;
        if (hrc >= 0 || spent >= limit) {
            break;
        }
        nanosleep(&(struct timespec){0, 200000000L}, NULL);
    }
    if (hrc < 0) {
        snprintf(why, cap, "%s: device: settings cannot be verified: GET /api/v1/config: %s",
                 r->s->path, herr);
        return -1;
    }
    *out = resp.status == 200 && resp.body ? cJSON_Parse(resp.body) : NULL;
    int status = resp.status;
    ml_http_resp_free(&resp);
    if (*out == NULL) {
        snprintf(why, cap,
                 "%s: device: settings cannot be verified: GET /api/v1/config answered %d",
                 r->s->path, status);
        return -1;
    }
    return 0;
}

/* Is the scenario's device: block what the DUT runs with? The sim backend builds the
 * device from it; a child or a rig is asked: GET /api/v1/config on a Smart Connect,
 * the variant register on a P1MB. @return NULL, or why the scenario does not apply. */
static const char *device_settings_not_applicable(struct runner *r)
{
    static char why[768];
    const struct ml_scenario *s = r->s;
    struct ml_dut *d = r->d;
    if (s->product == ML_SCN_P1MB) {
        if (s->variant < 0 || !d->real_time) {
            return NULL; /* the sim starts the variant it is given */
        }
        if (!d->rtu_path[0]) {
            snprintf(why, sizeof why,
                     "%s: device: variant %s cannot be verified: no Modbus RTU port to read "
                     "register 0xF003",
                     s->path, ml_scn_variant_name(s->variant));
            return why;
        }
        uint16_t w[1];
        char mwhy[400];
        uint16_t want = p1mb_variant_code((enum p1mb_variant)s->variant);
        if (mb_read(r, 1, 3, 0xF003, 1, w, mwhy, sizeof mwhy) < 0) {
            snprintf(why, sizeof why, "%s: device: variant %s cannot be verified: %s", s->path,
                     ml_scn_variant_name(s->variant), mwhy);
            return why;
        }
        if (w[0] != want) {
            snprintf(why, sizeof why,
                     "%s: device: variant %s asked, the board is another variant (register "
                     "0xF003 = 0x%04X, not 0x%04X)",
                     s->path, ml_scn_variant_name(s->variant), w[0], want);
            return why;
        }
        return NULL;
    }
    /* Smart Connect: the settings the scenario names */
    struct setting {
        const char *what, *obj, *key, *want;
    } need[4];
    size_t n = 0;
    if (s->meter_type && s->meter_type[0]) {
        need[n++] = (struct setting){"meter_type", NULL, "MeterType", s->meter_type};
    }
    if (s->mqtt) {
        need[n++] = (struct setting){"mqtt", "MQTT", "Enable", "true"};
    }
    if (s->mqtt_site) {
        need[n++] = (struct setting){"site", "MQTT", "Site", s->mqtt_site};
    }
    if (s->mqtt_user) {
        need[n++] = (struct setting){"mqtt_user", "MQTT", "Username", s->mqtt_user};
    }
    if (n == 0) {
        return NULL;
    }
    if (d->http_port <= 0) {
        snprintf(why, sizeof why,
                 "%s: device: %s cannot be verified: this DUT has no HTTP API address", s->path,
                 need[0].what);
        return why;
    }
    /* A rig's board is given the settings it lacks (PATCH /api/v1/config, a reset, the
     * boot wait) and asked again; what it had is put back after the scenario. */
    for (int attempt = 0;; attempt++) {
        cJSON *j = NULL;
        /* A device that was just given its settings may still be rebooting: it closes the
         * first connections unanswered. Ask again until the HTTP timeout has passed. */
        double limit = d->http_timeout_s > 0 ? d->http_timeout_s : 5;
        if (attempt > 0 && d->boot_timeout_s > limit) {
            limit = d->boot_timeout_s;
        }
        if (get_config(r, limit, &j, why, sizeof why) < 0) {
            return why;
        }
        const char *bad = NULL;
        cJSON *patch = cJSON_CreateObject(), *restore = cJSON_CreateObject();
        for (size_t i = 0; i < n; i++) {
            const cJSON *o = need[i].obj ? cJSON_GetObjectItem(j, need[i].obj) : j;
            const cJSON *v = cJSON_GetObjectItem(o, need[i].key);
            char seen[128];
            if (cJSON_IsString(v)) {
                snprintf(seen, sizeof seen, "%s", v->valuestring);
            } else if (cJSON_IsBool(v)) {
                snprintf(seen, sizeof seen, "%s", cJSON_IsTrue(v) ? "true" : "false");
            } else {
                snprintf(seen, sizeof seen, "(missing)");
            }
            if (strcmp(seen, need[i].want) == 0) {
                continue;
            }
            bool is_bool = !strcmp(need[i].key, "Enable");
            cJSON *po = patch, *ro = restore;
            if (need[i].obj) {
                po = cJSON_GetObjectItem(patch, need[i].obj);
                po = po ? po : cJSON_AddObjectToObject(patch, need[i].obj);
                ro = cJSON_GetObjectItem(restore, need[i].obj);
                ro = ro ? ro : cJSON_AddObjectToObject(restore, need[i].obj);
            }
            if (is_bool) {
                cJSON_AddBoolToObject(po, need[i].key, !strcmp(need[i].want, "true"));
            } else {
                cJSON_AddStringToObject(po, need[i].key, need[i].want);
            }
            if (v != NULL) {
                cJSON_AddItemToObject(ro, need[i].key, cJSON_Duplicate(v, true));
            }
            if (bad == NULL) {
                snprintf(why, sizeof why,
                         "%s: device: %s %s asked, the device runs with %s (GET /api/v1/config "
                         "%s%s%s)%s",
                         s->path, need[i].what, need[i].want, seen, need[i].obj ? need[i].obj : "",
                         need[i].obj ? "." : "", need[i].key,
                         attempt > 0 ? " after PATCH /api/v1/config and a reset"
                                     : "; set it on the device or leave it out");
                bad = why;
            }
        }
        cJSON_Delete(j);
        if (bad == NULL || attempt > 0 || !d->apply_settings) {
            cJSON_Delete(patch);
            cJSON_Delete(restore);
            return bad;
        }
        char *body = cJSON_PrintUnformatted(patch);
        char *back = cJSON_PrintUnformatted(restore);
        cJSON_Delete(patch);
        cJSON_Delete(restore);
        narrate(r, "device: settings %s (PATCH /api/v1/config, reset)", body);
        char aerr[400];
        int rc = ml_dut_config_apply(d, body, aerr, sizeof aerr);
        free(body);
        if (rc < 0) {
            free(back);
            snprintf(why, sizeof why, "%s: device: settings could not be set: %s", s->path, aerr);
            return why;
        }
        free(r->restore_cfg);
        r->restore_cfg = back;
    }
}

static void meter_bytes(struct runner *r, const struct ml_ev *ev, const struct ml_scn_step *st)
{
    char err[512];
    r->bytes.len = 0;
    if (ml_player_bytes(&r->pl, ev, &r->bytes, err, sizeof err) < 0) {
        setup_error(r, "%s:%d:%d: at %.3f s: %s", st->loc.file, st->loc.line, st->loc.col,
                    (double)ev->t_us / 1e6, err);
        return;
    }
    if (r->bytes.len > 0) {
        inject(r, r->bytes.p, r->bytes.len);
    }
}

static void dut_fault(struct runner *r, const struct ml_scn_step *st)
{
    char why[768] = "";
    if (ml_scn_fault_is_board(st->fault.kind)) {
        mqtt_sync(r, false); /* what this boot published, before it is gone */
        if (r->d->rtu_path[0]) {
            /* the boot wait asks the board over the same RS485 port, and libmodbus
             * cannot open a port twice (EINVAL): reconnect after the boot */
            for (int n = 0; n < (int)(sizeof r->mb / sizeof r->mb[0]); n++) {
                mb_drop(r, n);
            }
        }
    }
    int rc = r->d->ops->fault(r->d, &st->fault, why, sizeof why);
    if (rc == ML_DUT_FAIL && r->o->stop != NULL && *r->o->stop) {
        rc = ML_DUT_OK; /* a stop signal cut the board's command short: interrupted, below */
    }
    if (rc == ML_DUT_FAIL) {
        setup_error(r, "%s:%d:%d: %s: %s", st->loc.file, st->loc.line, st->loc.col,
                    ml_scn_fault_name(st->fault.kind), why);
    }
    if (ml_scn_fault_is_board(st->fault.kind)) {
        for (int c = 1; c <= 4; c++) {
            mb_drop(r, c);
        }
    }
}

static void play_event(struct runner *r, const struct ml_ev *ev)
{
    const struct ml_scenario *s = r->s;
    const struct ml_scn_step *st = ev->step != UINT32_MAX ? &s->steps[ev->step] : NULL;
    if (ev->kind == ML_EV_FAULT) {
        narrate(r, "fault %s", ml_scn_fault_name(st->fault.kind));
    } else if (ev->kind == ML_EV_ACTION) {
        narrate(r, "action %s",
                st->action.kind == ML_ACT_BUTTON         ? "button pressed"
                : st->action.kind == ML_ACT_MODBUS_WRITE ? "modbus_write"
                : st->action.kind == ML_ACT_MQTT_CMD     ? "mqtt_cmd"
                                                         : "http");
    } else if (ev->kind == ML_EV_RELEASE) {
        narrate(r, "action button released after %.1f s", st->action.hold_s);
    }
    switch (ev->kind) {
    case ML_EV_FAULT:
        if (is_dut_fault(st->fault.kind)) {
            dut_fault(r, st);
        } else if (is_broker_fault(st->fault.kind)) {
            broker_fault(r, st);
        } else {
            meter_bytes(r, ev, st); /* the meter-side faults (noise bytes, stream states) */
        }
        break;
    case ML_EV_METER_SET:
    case ML_EV_TELEGRAM:
    case ML_EV_METER_TICK:
        meter_bytes(r, ev, st);
        break;
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
        window_end(r, st, ev->step);
        break;
    default:
        break;
    }
}

/* A scenario being played: the runner state and where the timeline stands. */
struct ml_run_session {
    struct runner r;
    struct ml_timeline tl;
    size_t next;  /* next timeline event */
    bool started; /* the DUT was started (stop it) */
    bool ready;   /* set up: there is something to play */
    bool progressed;
    double w0, next_progress;
};

struct ml_run_session *ml_run_open(struct ml_dut *d, const struct ml_scenario *s,
                                   const struct ml_run_opts *o, struct ml_run_result *res)
{
    struct ml_run_session *ss = calloc(1, sizeof *ss);
    if (ss == NULL) {
        abort(); /* host tool: out of memory is not recoverable here */
    }
    struct runner *r = &ss->r;
    memset(res, 0, sizeof *res);
    cur = r;
    r->s = s;
    r->o = o;
    r->res = res;
    r->d = d;
    d->s = s;
    d->o = o;
    ss->w0 = wall_now();
    ss->next_progress = ss->w0 + 1.0;
    const char *why = NULL;

    if (!ml_scenario_supports_dut(s, d->ops->name)) {
        res->skipped = true;
        ml_buf_printf(&r->report, "  SKIP %s: not marked for --dut %s (# duts:%s)\n", s->path,
                      d->ops->name, s->duts ? s->duts : " sim, by default");
        return ss;
    }
    if ((why = cannot_play(r)) != NULL) {
        res->skipped = true;
        ml_buf_printf(&r->report, "  SKIP %s\n", why);
        return ss;
    }
    if (s->mqtt && broker_setup(r) < 0) {
        return ss;
    }
    char url[300], err[512];
    if (snprintf(url, sizeof url, "%s://%s:%d", s->mqtt_tls ? "mqtts" : "mqtt", r->host, r->port) >=
        (int)sizeof url) {
        setup_error(r, "broker host name too long: %s", r->host);
        return ss;
    }
    if (d->ops->start(d, s->mqtt ? url : NULL, err, sizeof err) < 0) {
        setup_error(r, "%s", err);
        return ss;
    }
    ss->started = true;
    if ((why = device_settings_not_applicable(r)) != NULL) {
        res->skipped = true;
        ml_buf_printf(&r->report, "  SKIP not applicable: %s\n", why);
        return ss;
    }
    if (d->ops->time_zero) {
        d->ops->time_zero(d);
    }
    ml_timeline_build(s, &ss->tl);
    ml_player_init(&r->pl, s);
    r->done = calloc(s->nsteps + 1, sizeof *r->done);
    r->skipmask = calloc(s->nsteps + 1, sizeof *r->skipmask);
    ss->ready = true;
    return ss;
}

bool ml_run_advance(struct ml_run_session *ss, uint64_t t_us)
{
    struct runner *r = &ss->r;
    struct ml_run_result *res = r->res;
    if (!ss->ready || res->error) {
        return false;
    }
    struct ml_dut *d = r->d;
    const struct ml_scenario *s = r->s;
    const struct ml_run_opts *o = r->o;
    cur = r;
    while (ss->next < ss->tl.n && ss->tl.ev[ss->next].t_us <= t_us && !res->error) {
        if (o->stop != NULL && *o->stop) {
            break;
        }
        size_t i = ss->next++;
        const struct ml_ev *ev = &ss->tl.ev[i];
        if (o->on_event) {
            o->on_event(o->ctx, ev);
        }
        if (ev->kind == ML_EV_SYNC) {
            if (ev->t_us > 0) {
                d->ops->advance_to(d, ev->t_us - 1);
            }
            settle(r);
            open_windows(r, &s->steps[ev->step]);
            continue;
        }
        if (o->pace > 0 && !d->real_time) {
            /* demos: let a watcher follow (virtual time still moves only here) */
            double due = ss->w0 + (double)ev->t_us / 1e6 / o->pace - wall_now();
            if (due > 0) {
                usleep((useconds_t)(due * 1e6));
            }
        }
        d->ops->advance_to(d, ev->t_us);
        settle(r);
        play_event(r, ev);
        if ((i & 63) == 0 || d->real_time) {
            process_msgs(r);
            led_drain(r);
        }
        if (!o->quiet && o->tty && ((i & 63) == 0 || d->real_time) &&
            wall_now() >= ss->next_progress) {
            ss->next_progress += 0.5;
            ss->progressed = true;
            fprintf(stderr, "\r  ... %-32s t = %8.1f of %.0f s, %llu telegrams", s->name,
                    (double)ev->t_us / 1e6, s->duration_s, (unsigned long long)r->pl.telegrams);
        }
    }
    uint64_t end = (uint64_t)llround(s->duration_s * 1e6);
    if (!res->error && !(o->stop != NULL && *o->stop)) {
        d->ops->advance_to(d, t_us == ML_RUN_TO_END ? end : t_us);
    }
    if (!res->error && o->stop != NULL && *o->stop) {
        res->error = true;
        res->interrupted = true;
        ml_buf_printf(&r->report, "  ERROR %s: interrupted at t = %.1f s (stop signal)\n", s->path,
                      (double)d->ops->now_us(d) / 1e6);
    }
    return !res->error && t_us != ML_RUN_TO_END && (ss->next < ss->tl.n || t_us < end);
}

uint64_t ml_run_next_event_us(const struct ml_run_session *ss)
{
    return ss->ready && ss->next < ss->tl.n ? ss->tl.ev[ss->next].t_us : UINT64_MAX;
}

const struct ml_timeline *ml_run_timeline(const struct ml_run_session *ss, size_t *next)
{
    if (next != NULL) {
        *next = ss->next;
    }
    return &ss->tl;
}

int ml_run_modbus_read(struct ml_run_session *ss, uint8_t fc, uint16_t addr, int n, uint16_t *w,
                       char *why, size_t cap)
{
    if (!ss->ready || n < 1 || n > 125) {
        snprintf(why, cap, "no device to read");
        return -1;
    }
    cur = &ss->r;
    return mb_read(&ss->r, 1, fc, addr, n, w, why, cap);
}

int ml_run_modbus_send_raw(struct ml_run_session *ss, const uint8_t *p, size_t n)
{
    modbus_t *m = ss->ready ? mb_client(&ss->r, 1, false) : NULL;
    if (m == NULL || write(modbus_get_socket(m), p, n) != (ssize_t)n) {
        return -1;
    }
    settle(&ss->r);
    return 0;
}

struct ml_broker *ml_run_broker(struct ml_run_session *ss)
{
    return ss->r.own_broker ? &ss->r.broker : NULL;
}

void ml_run_close(struct ml_run_session *ss)
{
    struct runner *r = &ss->r;
    struct ml_run_result *res = r->res;
    struct ml_dut *d = r->d;
    const struct ml_scenario *s = r->s;
    cur = r;
    if (ss->progressed) {
        fprintf(stderr, "\r%*s\r", 90, "");
    }
    if (ss->ready && !res->error && res->failed == 0 && res->checks == 0) {
        /* nothing was decided: never a pass (the skip lines say why) */
        res->skipped = true;
        ml_buf_printf(&r->report,
                      "  SKIP %s: none of its %d expectation(s) could be decided on --dut %s\n",
                      s->path, res->skips, d->ops->name);
    }
    res->virtual_s = ss->started ? now_s() : 0;
    res->telegrams = r->pl.telegrams;
    res->bytes = r->pl.bytes;
    for (int c = 1; c <= 4; c++) {
        mb_drop(r, c);
    }
    if (r->restore_cfg != NULL) { /* the board as it was before the scenario */
        char aerr[400];
        if (ml_dut_config_apply(d, r->restore_cfg, aerr, sizeof aerr) < 0) {
            ml_buf_printf(&r->report, "  note: device: settings not put back (%s): %s\n",
                          r->restore_cfg, aerr);
        }
        free(r->restore_cfg);
        r->restore_cfg = NULL;
    }
    if (ss->started) {
        res->console = d->ops->console ? d->ops->console(d) : NULL;
        d->ops->stop(d);
    }
    if (r->have_sub || r->sub.m) {
        ml_mqtt_obs_stop(&r->sub);
    }
    if (r->own_broker) {
        ml_broker_destroy(&r->broker);
    }
    for (size_t i = 0; i < r->nact; i++) {
        free(r->act[i].best);
    }
    free(r->act);
    free(r->done);
    free(r->skipmask);
    free(r->led);
    free(r->skipped_locs);
    ml_buf_free(&r->bytes);
    ml_buf_free(&r->p1_pending);
    ml_timeline_free(&ss->tl);
    res->report = r->report.len ? strdup((char *)r->report.p) : NULL;
    ml_buf_free(&r->report);
    res->wall_s = wall_now() - ss->w0;
    if (cur == r) {
        cur = NULL;
    }
    free(ss);
}

void ml_run(struct ml_dut *d, const struct ml_scenario *s, const struct ml_run_opts *o,
            struct ml_run_result *res)
{
    struct ml_run_session *ss = ml_run_open(d, s, o, res);
    ml_run_advance(ss, ML_RUN_TO_END);
    ml_run_close(ss);
}

void ml_dut_free(struct ml_dut *d)
{
    free(d->priv);
    d->priv = NULL;
}
