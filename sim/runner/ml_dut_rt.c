/*
 * Real-time devices under test (the backend of ml_run.c for `--dut rig`,
 * `--dut device` and `--dut qemu`). One code path: a rig (sim/rig/ml_rig.h)
 * says where the meter bytes go (serial adapter), where P1 out comes back,
 * how Modbus (TCP host:port or RTU through an RS485 adapter), HTTP and MQTT
 * are reached, and which commands power-cycle the board or press its button.
 *
 * `--dut device` is that rig built in memory from the start banner of
 * `meterlab device` run as a child process over ptys (so CI proves the rig
 * path); power cycle = stop the child and start it again on the same state
 * dir. `--dut qemu` is the same with `--target qemu` and a longer boot time.
 * The child's bench control socket (`--control`) presses its button and pulls
 * its network link (the sim's network model; on qemu the co-processor
 * emulator's link fault). While the link is pulled its HTTP API cannot answer,
 * so the LED, MQTT and IP state are read from the child's status lines then.
 *
 * What is observed: the Smart Connect's GET /api/v1/status (LED state name,
 * counters, MQTT state, uptime -> reboots); a P1MB child's LED/counter lines on
 * its stdout. What a rig cannot observe (LED colours, a P1MB's LEDs on a real
 * board) is skipped with the reason.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <modbus.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ml_qemu_vt.h"
#include "ml_run.h"
#include "ml_capture.h"
#include "ml_p1mb_id.h"
#include "ml_rig.h"
#include "ml_serial.h"
#include "ml_serial_net.h"
#include "mqtt/mqtt_policy.h"
#include "ui/ui.h"

struct rt_priv {
    struct ml_rig rig;
    bool device, qemu;
    /* child (device / qemu) */
    pid_t child;
    int child_out;
    char state_dir[128];
    pthread_t reader;
    bool reader_on;
    pthread_mutex_t mu;
    int led_state;      /* Smart Connect LED state name from the child (-1 unknown) */
    int p1_led, rs_bad; /* P1MB LED lines */
    double tel[3];      /* P1MB telegrams: ok, crc fail, frame fail */
    int child_reboots;
    int mqtt_state;    /* Smart Connect MQTT state from the child's lines (-1 unknown) */
    int has_ip;        /* its "IP:" line: 1 yes, 0 none, -1 unknown */
    bool link_pulled;  /* we pulled the network link: observe through the child's lines */
    char control[160]; /* the child's control socket ("" = none) */
    char mb_port[8], http_port[8],
        https_port[8]; /* fixed for the child's life: reboots keep them */
    /* ports */
    int inject_fd, p1out_fd;
    /* serial.rs485 on a remote port: a local pty for libmodbus (d->rtu_path) */
    struct ml_serial_bridge *rs_bridge;
    double t0;     /* the timeline's zero, device time (dev_now) */
    double con_t0; /* console stamps' zero, wall clock (mono) */
    /* reboots seen through the HTTP uptime: the boot instant (mono) of the last look */
    double last_uptime;
    int reboots;
    double last_inject; /* the DUT needs a moment to act on bytes (device time) */
    /* --vtime (qemu): the guest's clock through QMP (ml_qemu_vt.h) */
    bool vtime;
    struct ml_qemu_vt_opts vt_opts;
    struct ml_qemu_vt *vt;
    char qmp_path[160];
    int64_t vt_off_us; /* added to the guest clock: a power cycle starts a new QEMU */
    uint64_t vt_last_us;
    uint64_t vt_t0_us;
    uint64_t injected, echoed; /* meter bytes written / read back from P1 out (this port) */
    /* the status counters when the scenario started (a rig's board keeps counting
     * across scenarios); judged relative to these until the board reboots */
    double base[6];
    bool have_base;
    bool off;       /* device: powered off by a `power: off` step */
    bool cfg_reset; /* the runner reset the board for its settings before time zero */
    /* the console: a rig's serial.console, read by con_main; for device/qemu the
     * child's stdout. Lines with their time since the scenario's start. */
    int con_fd;
    pthread_t con_reader;
    bool con_on;
    volatile sig_atomic_t con_quit;
    char *con_log;
    size_t con_len;
    bool con_cut;
    int con_boots;     /* console lines starting with rig.console_banner */
    double con_boot_t; /* mono() of the last one */
};

/* At most this much console text per scenario (the rest is cut, and said so). */
#define RT_CONSOLE_MAX (256u * 1024u)

/* Counter name -> GET /api/v1/status object and key. */
static const char *const counter_map[6][3] = {
    {"telegrams_pass", "Meter", "TelegramsPass"},
    {"telegrams_fail", "Meter", "TelegramsFail"},
    {"telegrams_frame_fail", "Meter", "TelegramsFrameFail"},
    {"mqtt_publish_pass", "MQTT", "PublishPass"},
    {"mqtt_publish_fail", "MQTT", "PublishFail"},
    {"modbus_requests", "Modbus", "Requests"}};

static struct rt_priv *P(struct ml_dut *d)
{
    return d->priv;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Device time in seconds: the wall clock, or the guest's clock with --vtime. */
static double dev_now(struct rt_priv *p)
{
    if (p->vt == NULL) {
        return mono();
    }
    uint64_t t = (uint64_t)((int64_t)ml_qemu_vt_now_us(p->vt) + p->vt_off_us);
    p->vt_last_us = t;
    return (double)t / 1e6;
}

/* ------------------------------------------------------------------------- */
/* The console                                                               */
/* ------------------------------------------------------------------------- */

/* One console line: kept with its time; a line starting with the rig's banner is a
 * boot. Called without p->mu held. */
static void con_line(struct rt_priv *p, const char *l)
{
    pthread_mutex_lock(&p->mu);
    if (!p->device && p->rig.console_banner[0] &&
        !strncmp(l, p->rig.console_banner, strlen(p->rig.console_banner))) {
        p->con_boots++;
        p->con_boot_t = mono();
    }
    size_t need = strlen(l) + 24;
    if (p->con_len + need > RT_CONSOLE_MAX) {
        p->con_cut = true;
    } else {
        char *n = realloc(p->con_log, p->con_len + need);
        if (n != NULL) {
            p->con_log = n;
            p->con_len +=
                (size_t)snprintf(n + p->con_len, need, "[%9.3f] %s\n", mono() - p->con_t0, l);
        }
    }
    pthread_mutex_unlock(&p->mu);
}

/* Split @p n bytes of @p buf (cap @p cap) into lines; @return what is left. */
static size_t con_split(struct rt_priv *p, char *buf, size_t n, size_t cap, bool flush)
{
    buf[n] = 0;
    char *nl;
    while ((nl = strchr(buf, '\n')) != NULL) {
        *nl = 0;
        size_t l = strlen(buf);
        if (l > 0 && buf[l - 1] == '\r') {
            buf[l - 1] = 0;
        }
        con_line(p, buf);
        n -= (size_t)(nl + 1 - buf);
        memmove(buf, nl + 1, n + 1);
    }
    if ((flush && n > 0) || n >= cap - 1) { /* a line too long, or the last one */
        con_line(p, buf);
        n = 0;
    }
    return n;
}

/* The rig's serial.console, until con_quit. */
static void *con_main(void *x)
{
    struct rt_priv *p = x;
    char buf[1024];
    size_t n = 0;
    while (!p->con_quit) {
        struct pollfd pf = {p->con_fd, POLLIN, 0};
        if (poll(&pf, 1, 100) != 1) {
            continue;
        }
        ssize_t r = read(p->con_fd, buf + n, sizeof buf - 1 - n);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            break; /* the adapter or the remote port went away */
        }
        if (r > 0) {
            for (ssize_t i = 0; i < r; i++) { /* NULs would end a line early */
                buf[n + (size_t)i] = buf[n + (size_t)i] ? buf[n + (size_t)i] : ' ';
            }
            n = con_split(p, buf, n + (size_t)r, sizeof buf, false);
        }
    }
    con_split(p, buf, n, sizeof buf, true);
    return NULL;
}

static int con_open(struct ml_dut *d, char *err, size_t cap)
{
    struct rt_priv *p = P(d);
    const struct ml_rig_port *c = &p->rig.port[ML_RIG_CONSOLE];
    if (p->device || !c->present) {
        return 0;
    }
    struct ml_serial_cfg line = c->has_line ? c->line : (struct ml_serial_cfg){115200, 8, 'N', 1};
    char e[512];
    p->con_fd = ml_serial_open(c->path, &line, e, sizeof e);
    if (p->con_fd < 0) {
        snprintf(err, cap, "%s: console: %s", p->rig.path[0] ? p->rig.path : p->rig.name, e);
        return -1;
    }
    p->con_quit = 0;
    p->con_on = pthread_create(&p->con_reader, NULL, con_main, p) == 0;
    return 0;
}

static void con_close(struct rt_priv *p)
{
    if (p->con_on) {
        p->con_quit = 1;
        pthread_join(p->con_reader, NULL);
        p->con_on = false;
    }
    if (p->con_fd >= 0) {
        close(p->con_fd);
        p->con_fd = -1;
    }
}

/* The scenario's console text (the runner's, malloc'ed), NULL when there is none. */
static char *rt_console(struct ml_dut *d)
{
    struct rt_priv *p = P(d);
    pthread_mutex_lock(&p->mu);
    char *t = NULL;
    if (p->con_len > 0 || p->con_cut) {
        const char *cut = p->con_cut ? "[console cut at 256 KiB]\n" : "";
        t = malloc(p->con_len + strlen(cut) + 1);
        if (t != NULL) {
            memcpy(t, p->con_log ? p->con_log : "", p->con_len);
            strcpy(t + p->con_len, cut);
        }
    }
    free(p->con_log);
    p->con_log = NULL;
    p->con_len = 0;
    p->con_cut = false;
    pthread_mutex_unlock(&p->mu);
    return t;
}

/* ------------------------------------------------------------------------- */
/* The child `meterlab device`                                               */
/* ------------------------------------------------------------------------- */

static void child_line(struct rt_priv *p, const char *l)
{
    const char *m;
    pthread_mutex_lock(&p->mu);
    if ((m = strstr(l, "] LED: ")) != NULL) {
        char name[64];
        if (sscanf(m + 7, "%63s", name) == 1) {
            for (int i = 0; i < UI_LED_STATE_COUNT; i++) {
                if (!strcmp(ui_led_state_name((enum ui_led_state)i), name)) {
                    p->led_state = i;
                }
            }
        }
    } else if ((m = strstr(l, "] MQTT: ")) != NULL) {
        for (int i = 0; i < 4; i++) {
            if (!strcmp(m + 8, mqtt_state_name(i))) {
                p->mqtt_state = i;
            }
        }
    } else if ((m = strstr(l, "] IP: ")) != NULL) {
        p->has_ip = strcmp(m + 6, "none") != 0;
    } else if ((m = strstr(l, "] P1 LED: ")) != NULL) {
        p->p1_led = !strncmp(m + 10, "on", 2)         ? ML_LED_SHOW_ON
                    : !strncmp(m + 10, "blinking", 8) ? ML_LED_SHOW_BLINK
                                                      : ML_LED_SHOW_OFF;
    } else if ((m = strstr(l, "] 485 LED: ")) != NULL) {
        p->rs_bad = !strncmp(m + 11, "blinking", 8);
    } else if ((m = strstr(l, "] telegrams: ")) != NULL) {
        unsigned a, b, c;
        if (sscanf(m + 13, "%u ok, %u %*s fail, %u frame fail", &a, &b, &c) == 3) {
            p->tel[0] = a;
            p->tel[1] = b;
            p->tel[2] = c;
        }
    } else if (strstr(l, "] rebooted") != NULL) {
        p->child_reboots++;
        p->tel[0] = p->tel[1] = p->tel[2] = 0;
    }
    pthread_mutex_unlock(&p->mu);
}

static void *reader_main(void *x)
{
    struct rt_priv *p = x;
    char buf[4096];
    size_t n = 0;
    /* ML_RUN_CHILD_LOG=FILE: the child's lines with the device time (debugging) */
    const char *log_path = getenv("ML_RUN_CHILD_LOG");
    FILE *log = log_path != NULL && log_path[0] ? fopen(log_path, "a") : NULL;
    for (;;) {
        ssize_t r = read(p->child_out, buf + n, sizeof buf - 1 - n);
        if (r <= 0) {
            break;
        }
        if (log != NULL) {
            fprintf(log, "[dev %.3f] %.*s", dev_now(p) - p->t0, (int)r, buf + n);
            fflush(log);
        }
        n += (size_t)r;
        buf[n] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = 0;
            child_line(p, buf);
            con_line(p, buf); /* the child's stdout is its console */
            n -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, n + 1);
        }
        if (n == sizeof buf - 1) {
            n = 0;
        }
    }
    if (log != NULL) {
        fclose(log);
    }
    return NULL;
}

/* Read the banner (up to "stop with Ctrl-C") into @p out. */
static int read_banner(int fd, double timeout_s, char *out, size_t cap)
{
    size_t n = 0;
    double end = mono() + timeout_s;
    out[0] = 0;
    while (!strstr(out, "stop with Ctrl-C")) {
        int ms = (int)((end - mono()) * 1000);
        struct pollfd pf = {fd, POLLIN, 0};
        if (ms <= 0 || poll(&pf, 1, ms) != 1) {
            return -1;
        }
        ssize_t r = read(fd, out + n, cap - 1 - n);
        if (r <= 0) {
            return -1;
        }
        n += (size_t)r;
        out[n] = 0;
        if (n == cap - 1) {
            return -1;
        }
    }
    return 0;
}

static const char *banner_value(const char *b, const char *key, char *out, size_t cap)
{
    char k[64];
    snprintf(k, sizeof k, "\n  %s ", key);
    const char *p = strstr(b, k);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(k);
    p += strspn(p, " ");
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
    return out;
}

/* A free TCP port on loopback (the child binds it soon after; a reboot of its
 * firmware must find the same port, as a real board keeps its port). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0) {
        port = ntohs(a.sin_port);
    }
    if (fd >= 0) {
        close(fd);
    }
    return port;
}

/* Start `meterlab device` for the scenario and turn its banner into the rig. */
static int child_start(struct ml_dut *d, const char *mqtt_url, char *err, size_t cap)
{
    struct rt_priv *p = P(d);
    const struct ml_scenario *s = d->s;
    const char *argv[40];
    int a = 0;
    argv[a++] = "meterlab";
    argv[a++] = "device";
    if (p->qemu) {
        argv[a++] = "--target";
        argv[a++] = "qemu";
        if (p->vtime) {
            snprintf(p->qmp_path, sizeof p->qmp_path, "%s/qmp", p->state_dir);
            argv[a++] = "--icount";
            argv[a++] = ML_QEMU_VT_ICOUNT;
            argv[a++] = "--qmp";
            argv[a++] = p->qmp_path;
        }
    }
    argv[a++] = "--product";
    argv[a++] = s->product == ML_SCN_TIC ? "tic" : s->product == ML_SCN_P1MB ? "p1mb" : "p1";
    if (s->product != ML_SCN_P1MB) {
        /* the bench control socket: button and network link */
        snprintf(p->control, sizeof p->control, "%s/control.sock", p->state_dir);
        argv[a++] = "--control";
        argv[a++] = p->control;
    } else {
        p->control[0] = 0;
    }
    if (!p->qemu) {
        /* the QEMU target keeps its flash in QEMU's RAM and has its own serial */
        argv[a++] = "--state-dir";
        argv[a++] = p->state_dir;
        argv[a++] = "--serial";
        argv[a++] = s->serial;
    }
    argv[a++] = "--p1-in";
    argv[a++] = "pty";
    if (s->product == ML_SCN_P1MB) {
        argv[a++] = "--variant";
        argv[a++] = ml_scn_variant_name(s->variant);
        argv[a++] = "--rs485";
        argv[a++] = "pty";
    } else {
        argv[a++] = "--p1-out";
        argv[a++] = "pty";
        if (!p->mb_port[0]) {
            snprintf(p->mb_port, sizeof p->mb_port, "%d", free_port());
            snprintf(p->http_port, sizeof p->http_port, "%d", free_port());
            snprintf(p->https_port, sizeof p->https_port, "%d", free_port());
        }
        argv[a++] = "--modbus-port";
        argv[a++] = p->mb_port;
        argv[a++] = "--http-port";
        argv[a++] = p->http_port;
        /* the API on HTTPS; the banner names the port and the certificate to trust */
        argv[a++] = "--https-port";
        argv[a++] = p->https_port;
        if (s->meter_type) {
            argv[a++] = "--meter-type";
            argv[a++] = s->meter_type;
        }
        if (mqtt_url) {
            argv[a++] = "--mqtt";
            argv[a++] = mqtt_url;
            if (s->mqtt_site) {
                argv[a++] = "--mqtt-site";
                argv[a++] = s->mqtt_site;
            }
            if (s->mqtt_user) {
                argv[a++] = "--mqtt-user";
                argv[a++] = s->mqtt_user;
            }
            if (s->mqtt_password) {
                argv[a++] = "--mqtt-password";
                argv[a++] = s->mqtt_password;
            }
        }
    }
    argv[a] = NULL;
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, cap, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(pfd[1], 1);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
        }
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    p->child = pid;
    p->child_out = pfd[0];
    if (p->vtime) {
        /* The guest is on the leash from its first instruction: it boots (and is
         * seeded) at wall-clock pace, as without --vtime, not at full speed with its
         * AT timeouts racing the emulator. QEMU makes the QMP socket as it starts. */
        uint64_t before = p->vt_last_us;
        if (ml_qemu_vt_open(&p->vt, p->qmp_path, &p->vt_opts, err, cap) < 0) {
            return -1;
        }
        /* a new QEMU (power cycle) starts its clock again: device time goes on */
        p->vt_off_us = (int64_t)before - (int64_t)ml_qemu_vt_now_us(p->vt);
        (void)dev_now(p);
    }
    char b[8192];
    double boot = p->qemu ? 120 : 15;
    if (read_banner(p->child_out, boot, b, sizeof b) < 0) {
        snprintf(err, cap, "%s did not print its start banner within %.0f s%s%s",
                 p->qemu ? "meterlab device --target qemu" : "meterlab device", boot,
                 b[0] ? ": " : "", b);
        return -1; /* the child's own error went to stderr */
    }
    for (char *l = b, *e; *l; l = e) { /* the start banner belongs to the console too */
        e = l + strcspn(l, "\n");
        char c = *e;
        *e = 0;
        con_line(p, l);
        *e = c;
        e += c != 0;
    }
    /* the rig, from the banner (nothing of an earlier child stays) */
    struct ml_rig *rig = &p->rig;
    char keep_url[sizeof rig->mqtt.url];
    memcpy(keep_url, rig->mqtt.url, sizeof keep_url);
    memset(rig, 0, sizeof *rig);
    memcpy(rig->mqtt.url, keep_url, sizeof keep_url);
    d->serial[0] = 0;
    char v[512];
    rig->dut.product = s->product;
    snprintf(rig->name, sizeof rig->name, "meterlab device (pid %d)", (int)pid);
    if (banner_value(b, s->product == ML_SCN_TIC ? "TIC in" : "P1 in", v, sizeof v)) {
        rig->port[ML_RIG_INJECT].present = true;
        sscanf(v, "%255s", rig->port[ML_RIG_INJECT].path);
    }
    if (banner_value(b, "P1 out", v, sizeof v) && strncmp(v, "none", 4)) {
        rig->port[ML_RIG_P1_OUT].present = true;
        sscanf(v, "%255s", rig->port[ML_RIG_P1_OUT].path);
    }
    if (banner_value(b, "RS485", v, sizeof v)) {
        struct ml_rig_port *rp = &rig->port[ML_RIG_RS485];
        unsigned baud = 9600, bits = 8, stop = 1, addr = 16;
        char par = 'E';
        rp->present = true;
        sscanf(v, "%255s (%u %u%c%u, address %u", rp->path, &baud, &bits, &par, &stop, &addr);
        rp->has_line = true;
        rp->line = (struct ml_serial_cfg){baud, (uint8_t)bits, par, (uint8_t)stop};
        rp->slave_id = (int)addr;
    }
    if (banner_value(b, "serial number", v, sizeof v)) {
        sscanf(v, "%63s", d->serial); /* MQTT topics carry the device's own serial */
    }
    if (banner_value(b, "login", v, sizeof v)) {
        sscanf(v, "%63s / %63s", rig->network.http_user, rig->network.http_password);
    }
    if (banner_value(b, "Modbus TCP", v, sizeof v)) {
        snprintf(rig->network.host, sizeof rig->network.host, "127.0.0.1");
        sscanf(v, "port %d", &rig->network.modbus_port);
    }
    if (banner_value(b, "HTTP", v, sizeof v)) {
        const char *at = strrchr(v, '@');
        if (at) {
            char host[128];
            int port = 0;
            if (sscanf(at + 1, "%127[^:]:%d", host, &port) == 2) {
                rig->network.http_port = port;
            }
        }
    }
    /* the API on HTTPS: its port, and the device's certificate to trust */
    char cert[512];
    if (banner_value(b, "HTTPS", v, sizeof v) &&
        banner_value(b, "certificate", cert, sizeof cert) && cert[0] == '/') {
        const char *at = strrchr(v, '@');
        char host[128];
        int port = 0;
        if (at && sscanf(at + 1, "%127[^:]:%d", host, &port) == 2) {
            rig->network.http_port = port;
            sscanf(cert, "%511s", rig->network.https_ca);
        }
    }
    rig->timeouts.boot_s = boot;
    /* the target in QEMU answers through the AT co-processor's UART, byte by byte */
    rig->timeouts.modbus_s = p->qemu ? 3 : 1;
    rig->timeouts.http_s = 5;
    rig->timeouts.mqtt_s = 10;
    pthread_mutex_lock(&p->mu);
    p->led_state = p->mqtt_state = p->has_ip = -1;
    p->link_pulled = false; /* a new child starts with its link up */
    p->p1_led = ML_LED_SHOW_OFF;
    p->rs_bad = 0;
    memset(p->tel, 0, sizeof p->tel);
    pthread_mutex_unlock(&p->mu);
    p->reader_on = pthread_create(&p->reader, NULL, reader_main, p) == 0;
    return 0;
}

static void child_stop(struct rt_priv *p)
{
    if (p->vt != NULL) {
        (void)dev_now(p);
        if (getenv("ML_VT_STATS") != NULL) {
            /* ML_VT_STATS: what the leash cost (bench/qemu-vtime/run.sh reads it) */
            struct ml_qemu_vt_stats st;
            ml_qemu_vt_stats(p->vt, &st);
            fprintf(stderr,
                    "vtime: %llu run-to (%llu bursts): %.2f s guest in %.2f s wall; max "
                    "overshoot %.1f ms; leash on for %.2f s wall; longest burst %.1f ms wall "
                    "(meant %.1f ms), %.1f ms guest; leash thread %s\n",
                    (unsigned long long)st.run_to_calls, (unsigned long long)st.bursts,
                    st.run_to_guest_s, st.run_to_host_s, (double)st.max_overshoot_us / 1e3,
                    st.open_host_s, st.max_burst_host_s * 1e3, st.max_burst_want_s * 1e3,
                    st.max_burst_guest_s * 1e3, st.realtime ? "SCHED_FIFO" : "SCHED_OTHER");
        }
        ml_qemu_vt_close(p->vt); /* QEMU runs free again: it is stopped next */
        p->vt = NULL;
    }
    if (p->child > 0) {
        kill(p->child, SIGTERM);
        int st;
        for (int i = 0; i < 500 && waitpid(p->child, &st, WNOHANG) == 0; i++) {
            usleep(10000);
        }
        if (waitpid(p->child, &st, WNOHANG) == 0) {
            kill(p->child, SIGKILL);
            waitpid(p->child, &st, 0);
        }
        p->child = 0;
    }
    if (p->reader_on) {
        pthread_join(p->reader, NULL);
        p->reader_on = false;
    }
    if (p->child_out >= 0) {
        close(p->child_out);
        p->child_out = -1;
    }
}

/* ------------------------------------------------------------------------- */
/* The rig                                                                   */
/* ------------------------------------------------------------------------- */

static void close_ports(struct rt_priv *p)
{
    p->injected = p->echoed = 0;
    if (p->inject_fd >= 0) {
        close(p->inject_fd);
    }
    if (p->p1out_fd >= 0) {
        close(p->p1out_fd);
    }
    p->inject_fd = p->p1out_fd = -1;
    ml_serial_bridge_close(p->rs_bridge);
    p->rs_bridge = NULL;
}

/* Open the rig's ports and take its endpoints. */
static int rig_attach(struct ml_dut *d, char *err, size_t cap)
{
    struct rt_priv *p = P(d);
    const struct ml_rig *rig = &p->rig;
    const struct ml_scenario *s = d->s;
    char e[512];
    const struct ml_rig_port *in = &rig->port[ML_RIG_INJECT];
    /* without meter: section (a capture, recorded files): the recorded bytes tell */
    enum ml_meter_proto proto = (enum ml_meter_proto)ml_capture_scenario_proto(s);
    if (in->present) {
        struct ml_serial_cfg line =
            in->has_line ? in->line
            : s->product == ML_SCN_TIC
                ? ml_serial_tic_std
                : (proto == ML_METER_DSMR22 || proto == ML_METER_DSMR30 ? ml_serial_p1_v2
                                                                        : ml_serial_p1_v4);
        p->inject_fd = ml_serial_open(in->path, &line, e, sizeof e);
        if (p->inject_fd < 0) {
            snprintf(err, cap, "%s: inject: %s", rig->path[0] ? rig->path : rig->name, e);
            return -1;
        }
    }
    const struct ml_rig_port *po = &rig->port[ML_RIG_P1_OUT];
    if (po->present) {
        struct ml_serial_cfg line = po->has_line ? po->line : ml_serial_p1_v4;
        p->p1out_fd = ml_serial_open(po->path, &line, e, sizeof e);
        if (p->p1out_fd < 0) {
            snprintf(err, cap, "%s: p1_out: %s", rig->path[0] ? rig->path : rig->name, e);
            return -1;
        }
        fcntl(p->p1out_fd, F_SETFL, fcntl(p->p1out_fd, F_GETFL) | O_NONBLOCK);
    }
    const struct ml_rig_port *rs = &rig->port[ML_RIG_RS485];
    d->rtu_path[0] = 0;
    if (rs->present && s->product == ML_SCN_P1MB) {
        d->rtu_slave = rs->slave_id > 0 ? rs->slave_id : 16;
        d->rtu_baud = rs->has_line ? (int)rs->line.baud : 9600;
        d->rtu_parity = rs->has_line ? rs->line.parity : 'E';
        /* libmodbus opens device paths only: a remote port gets a local pty */
        struct ml_serial_cfg line = {(unsigned)d->rtu_baud, 8, d->rtu_parity, 1};
        if (ml_serial_bridge_open(&p->rs_bridge, rs->path, &line, d->rtu_path, sizeof d->rtu_path,
                                  e, sizeof e) < 0) {
            d->rtu_path[0] = 0;
            snprintf(err, cap, "%s: rs485: %s", rig->path[0] ? rig->path : rig->name, e);
            return -1;
        }
    }
    snprintf(d->mb_host, sizeof d->mb_host, "%s", rig->network.host);
    d->mb_port = rig->network.host[0] ? rig->network.modbus_port : 0;
    snprintf(d->http_host, sizeof d->http_host, "%s", rig->network.host);
    d->http_port = rig->network.host[0] ? rig->network.http_port : 0;
    snprintf(d->http_user, sizeof d->http_user, "%s", rig->network.http_user);
    snprintf(d->http_password, sizeof d->http_password, "%s", rig->network.http_password);
    snprintf(d->http_ca_file, sizeof d->http_ca_file, "%s", rig->network.https_ca);
    d->modbus_timeout_s = rig->timeouts.modbus_s > 0 ? rig->timeouts.modbus_s : 2;
    d->http_timeout_s = rig->timeouts.http_s > 0 ? rig->timeouts.http_s : 5;
    return 0;
}

static cJSON *get_status(struct ml_dut *d, char *why, size_t cap);
static const cJSON *jget(const cJSON *j, const char *a, const char *b);

static void rt_stop(struct ml_dut *d);

static int rt_start(struct ml_dut *d, const char *mqtt_url, char *err, size_t cap)
{
    struct rt_priv *p = P(d);
    p->inject_fd = p->p1out_fd = p->child_out = p->con_fd = -1;
    p->t0 = p->con_t0 = mono();
    p->cfg_reset = false;
    free(rt_console(d)); /* nothing of an earlier scenario */
    p->last_uptime = -1;
    p->reboots = 0;
    p->child_reboots = 0;
    p->mqtt_state = p->has_ip = p->led_state = -1;
    p->link_pulled = false;
    if (p->device) {
        p->mb_port[0] = p->http_port[0] = p->https_port[0] = 0;
        snprintf(p->state_dir, sizeof p->state_dir, "/tmp/meterlab-run-XXXXXX");
        if (mkdtemp(p->state_dir) == NULL) {
            snprintf(err, cap, "mkdtemp: %s", strerror(errno));
            return -1;
        }
        if (child_start(d, mqtt_url, err, cap) < 0) {
            goto fail;
        }
    }
    p->off = false;
    p->con_boots = 0;
    p->con_boot_t = 0;
    if (rig_attach(d, err, cap) < 0 || con_open(d, err, cap) < 0) {
        goto fail;
    }
    p->t0 = dev_now(p);
    p->have_base = false;
    if (d->http_port > 0 && d->s->product != ML_SCN_P1MB) {
        char why[256];
        cJSON *j = get_status(d, why, sizeof why); /* the boot instant, for reboots */
        for (int i = 0; j && i < 6; i++) {
            const cJSON *v = jget(j, counter_map[i][1], counter_map[i][2]);
            p->base[i] = cJSON_IsNumber(v) ? v->valuedouble : 0;
        }
        p->have_base = j != NULL;
        cJSON_Delete(j);
    }
    return 0;
fail: /* the runner does not stop what did not start: the child, ports, temp dir */
    rt_stop(d);
    return -1;
}

static void rt_stop(struct ml_dut *d)
{
    struct rt_priv *p = P(d);
    con_close(p);
    close_ports(p);
    if (p->device) {
        child_stop(p);
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->state_dir);
        if (p->state_dir[0] && system(cmd) != 0) {
            fprintf(stderr, "meterlab run: could not remove %s\n", p->state_dir);
        }
    }
    free(rt_console(d)); /* what came after the runner took the scenario's console */
}

static const char *rt_cannot(struct ml_dut *d, const struct ml_scn_step *st)
{
    struct rt_priv *p = P(d);
    const struct ml_scenario *s = d->s;
    static char why[256];
    if (st != NULL) {
        goto step;
    }
    if (p->device && (!s->dhcp || s->iface)) {
        return "the stand-alone device takes no static address or Wi-Fi interface";
    }
    if (!p->device && (!s->dhcp || s->iface)) {
        return "device: network/interface: a rig's board keeps its own network settings";
    }
    if (!s->factory_default) {
        return "device: factory_default: false cannot be set here (the device starts from its "
               "own store)";
    }
    if (s->utc_start != ML_SCN_UTC_START_DEFAULT) {
        return "device: utc_start needs the sim's clock (this DUT runs on the wall clock)";
    }
    if (!p->device && p->rig.dut.product != s->product) {
        return "the rig's board is another product";
    }
    return NULL;
step:
    if (st->kind == ML_STEP_FAULT) {
        enum ml_scn_fault_kind k = st->fault.kind;
        if (k >= ML_SF_LINK_DOWN && k <= ML_SF_INTERNET_UP) {
            if (p->qemu && (k == ML_SF_LINK_DOWN || k == ML_SF_LINK_UP)) {
                return NULL; /* the co-processor emulator's link fault */
            }
            if (p->device && !p->qemu) {
                return NULL; /* the sim's network model, through --control */
            }
            snprintf(why, sizeof why,
                     p->qemu ? "fault %s: the target's co-processor emulator models link loss "
                               "only"
                             : "fault %s: a rig has no network control",
                     ml_scn_fault_name(k));
            return why;
        }
        if (k == ML_SF_FLASH && p->device) {
            return "the stand-alone device has no image to flash";
        }
        enum ml_rig_cap need = k == ML_SF_RESET   ? ML_RIG_CAP_RESET
                               : k == ML_SF_FLASH ? ML_RIG_CAP_FLASH
                                                  : ML_RIG_CAP_POWER;
        if (ml_scn_fault_is_board(k) && !p->device && !ml_rig_has(&p->rig, need)) {
            return ml_rig_missing_reason(need);
        }
    }
    if (st->kind == ML_STEP_ACTION && st->action.kind == ML_ACT_BUTTON && !p->device &&
        !ml_rig_has(&p->rig, ML_RIG_CAP_BUTTON)) {
        return ml_rig_missing_reason(ML_RIG_CAP_BUTTON);
    }
    return NULL;
}

static uint64_t rt_now(struct ml_dut *d)
{
    double t = dev_now(P(d)) - P(d)->t0;
    return t > 0 ? (uint64_t)(t * 1e6) : 0;
}

/* --vtime: let the guest run to device time @p t_us (scenario time), in steps of at
 * most 10 s so that a stop signal is seen. */
static void vt_advance(struct ml_dut *d, uint64_t t_us)
{
    struct rt_priv *p = P(d);
    uint64_t t0 = (uint64_t)llround(p->t0 * 1e6);
    while (p->vt != NULL && rt_now(d) < t_us &&
           !(d->o != NULL && d->o->stop != NULL && *d->o->stop)) {
        uint64_t to = rt_now(d) + 10000000u < t_us ? rt_now(d) + 10000000u : t_us;
        if (ml_qemu_vt_run_to(p->vt, (uint64_t)((int64_t)(t0 + to) - p->vt_off_us)) < 0) {
            break; /* QEMU went away: the checks say so */
        }
    }
}

static void rt_advance(struct ml_dut *d, uint64_t t_us)
{
    if (P(d)->vt != NULL) {
        vt_advance(d, t_us);
        return;
    }
    /* in steps of at most 100 ms: a stop signal may be delivered to another thread */
    uint64_t now;
    while ((now = rt_now(d)) < t_us && !(d->o != NULL && d->o->stop != NULL && *d->o->stop)) {
        uint64_t step = t_us - now < 100000u ? t_us - now : 100000u;
        usleep((useconds_t)step);
    }
}

static int rt_inject(struct ml_dut *d, const uint8_t *b, size_t n, char *err, size_t cap)
{
    struct rt_priv *p = P(d);
    if (p->inject_fd < 0) {
        snprintf(err, cap, "the rig has no inject port");
        return -1;
    }
    size_t off = 0;
    double end = mono() + 5;
    while (off < n && mono() < end) {
        ssize_t w = write(p->inject_fd, b + off, n - off);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
            snprintf(err, cap, "write to %s: %s", p->rig.port[ML_RIG_INJECT].path, strerror(errno));
            return -1;
        } else {
            usleep(1000);
        }
    }
    if (off < n) {
        snprintf(err, cap, "the DUT did not take %zu meter bytes within 5 s", n - off);
        return -1;
    }
    p->last_inject = dev_now(p);
    p->injected += n;
    return 0;
}

/* Checks right after meter bytes: give the DUT RT_LATENCY_S to act on them. */
#define RT_LATENCY_S    0.15
/* --vtime: how long to let the guest take injected bytes (P1 out echo), in steps */
#define VT_ECHO_MAX_S   3.0
#define VT_ECHO_STEP_US 20000u

static void rt_settle(struct ml_dut *d)
{
    struct rt_priv *p = P(d);
    if (p->vt != NULL) {
        /* The guest takes the meter bytes one by one (QEMU's CMSDK UART holds one),
         * each when QEMU's main loop gets to it; meanwhile the idle guest's clock
         * jumps to its next SysTick: ~0.4 ms of guest time per byte, depending on
         * the host (docs/target.md, "Virtual time"). So with P1 out to watch (an
         * exact copy of the input as the firmware reads it), run until all of it
         * came back, at most VT_ECHO_MAX_S, and give the latency from there. */
        double from = p->last_inject;
        if (p->p1out_fd >= 0 && p->injected > 0) {
            double give_up = dev_now(p) + VT_ECHO_MAX_S;
            for (;;) {
                int queued = 0;
                if (ioctl(p->p1out_fd, FIONREAD, &queued) != 0 || queued < 0) {
                    queued = 0;
                }
                if (p->echoed + (uint64_t)queued >= p->injected || dev_now(p) >= give_up) {
                    break;
                }
                vt_advance(d, rt_now(d) + VT_ECHO_STEP_US);
            }
            from = dev_now(p) > from ? dev_now(p) : from;
        }
        double due = from + RT_LATENCY_S - p->t0;
        if (due > 0 && (double)rt_now(d) < due * 1e6) {
            vt_advance(d, (uint64_t)(due * 1e6));
        }
        return;
    }
    double wait = P(d)->last_inject + RT_LATENCY_S - mono();
    if (wait > 0) {
        usleep((useconds_t)(wait * 1e6));
    }
}

static size_t rt_p1_out(struct ml_dut *d, uint8_t *buf, size_t cap)
{
    struct rt_priv *p = P(d);
    if (p->p1out_fd < 0) {
        return 0;
    }
    ssize_t r = read(p->p1out_fd, buf, cap);
    p->echoed += r > 0 ? (uint64_t)r : 0u;
    return r > 0 ? (size_t)r : 0;
}

/* GET /api/v1/status (Smart Connect). */
static cJSON *get_status(struct ml_dut *d, char *why, size_t cap)
{
    struct ml_http_resp resp;
    if (d->http_port <= 0) {
        snprintf(why, cap, "%s", ml_rig_missing_reason(ML_RIG_CAP_HTTP));
        return NULL;
    }
    if (ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                            d->http_password, "GET", "/api/v1/status", NULL, d->http_timeout_s,
                            &resp, why, cap) < 0) {
        return NULL;
    }
    cJSON *j = resp.status == 200 && resp.body ? cJSON_Parse(resp.body) : NULL;
    if (j == NULL) {
        snprintf(why, cap, "GET /api/v1/status: %d", resp.status);
    }
    ml_http_resp_free(&resp);
    /* reboots: the uptime went down */
    const cJSON *up = j ? cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Device"), "UptimeS") : NULL;
    if (cJSON_IsNumber(up)) {
        /* when it booted, to 1 s: a later boot time is a reboot (two reboots between
         * two looks count as one) */
        struct rt_priv *p = P(d);
        double boot = dev_now(p) - up->valuedouble;
        if (p->last_uptime < 0) {
            p->last_uptime = boot;
        } else if (boot > p->last_uptime + 1.5) {
            p->reboots++;
            p->last_uptime = boot;
        }
    }
    return j;
}

static const cJSON *jget(const cJSON *j, const char *a, const char *b)
{
    return cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b);
}

static int observe_p1mb(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o,
                        char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    if (!p->device && ch->kind == ML_CHK_REBOOTS && p->con_fd >= 0) {
        pthread_mutex_lock(&p->mu);
        o->num = p->con_boots;
        pthread_mutex_unlock(&p->mu);
        snprintf(o->detail, sizeof o->detail, "(lines starting with '%s' on the console)",
                 p->rig.console_banner);
        return ML_DUT_OK;
    }
    if (!p->device) {
        if (ch->kind == ML_CHK_LED) {
            snprintf(why, cap, "%s", ml_rig_missing_reason(ML_RIG_CAP_LED));
        } else {
            snprintf(why, cap, "a P1MB board reports no %s over Modbus RTU",
                     ch->kind == ML_CHK_COUNTER ? "counters" : "reboots or status");
        }
        return ML_DUT_SKIP;
    }
    pthread_mutex_lock(&p->mu);
    int rc = ML_DUT_OK;
    switch (ch->kind) {
    case ML_CHK_LED:
        if (ch->p1mb_led[ML_P1MB_LED_485] == ML_LED_SHOW_ON) {
            snprintf(why, cap, "the device reports the 485 LED's error blinking only");
            rc = ML_DUT_SKIP;
        }
        o->p1mb_led[ML_P1MB_LED_PWR] = p->child > 0 ? ML_LED_SHOW_ON : ML_LED_SHOW_OFF;
        o->p1mb_led[ML_P1MB_LED_P1] = p->p1_led;
        o->p1mb_led[ML_P1MB_LED_485] = p->rs_bad ? ML_LED_SHOW_BLINK : ML_LED_SHOW_OFF;
        break;
    case ML_CHK_COUNTER:
        if (!strcmp(ch->name, "telegrams_pass")) {
            o->num = p->tel[0];
        } else if (!strcmp(ch->name, "telegrams_fail")) {
            o->num = p->tel[1];
        } else if (!strcmp(ch->name, "telegrams_frame_fail")) {
            o->num = p->tel[2];
        } else {
            snprintf(why, cap, "the device does not print counter %s", ch->name);
            rc = ML_DUT_SKIP;
        }
        break;
    case ML_CHK_REBOOTS:
        o->num = p->child_reboots + p->reboots;
        break;
    default:
        snprintf(why, cap, "the device does not print %s", ch->name ? ch->name : "this");
        rc = ML_DUT_SKIP;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* The link is pulled (no HTTP): what the child's status lines say. */
static int observe_lines(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o,
                         char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    int rc = ML_DUT_OK;
    pthread_mutex_lock(&p->mu);
    if (ch->kind == ML_CHK_LED) {
        o->state = p->led_state;
    } else if (ch->kind == ML_CHK_STATUS && !strcmp(ch->name, "mqtt")) {
        o->state = p->mqtt_state;
    } else if (ch->kind == ML_CHK_STATUS && !strcmp(ch->name, "has_ip") && p->has_ip >= 0) {
        o->b = p->has_ip == 1;
    } else {
        snprintf(why, cap,
                 "%s while the link is pulled: the HTTP API cannot answer and the device "
                 "prints no such line",
                 ch->name ? ch->name : "this check");
        rc = ML_DUT_SKIP;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* One command on the child's control socket; its answer "ok" or "error: ...". */
static int control_cmd(struct rt_priv *p, const char *cmd, char *why, size_t cap)
{
    if (!p->control[0]) {
        snprintf(why, cap, "the device has no control socket");
        return ML_DUT_SKIP;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t plen = strlen(p->control);
    if (plen >= sizeof a.sun_path) {
        snprintf(why, cap, "control socket path too long: %s", p->control);
        return ML_DUT_FAIL;
    }
    memcpy(a.sun_path, p->control, plen + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(why, cap, "control socket %s: %s", p->control, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return ML_DUT_FAIL;
    }
    char line[128], ans[400];
    snprintf(line, sizeof line, "%s\n", cmd);
    size_t n = 0;
    ans[0] = 0;
    if (write(fd, line, strlen(line)) == (ssize_t)strlen(line)) {
        double end = mono() + 10;
        while (!strchr(ans, '\n') && n < sizeof ans - 1 && mono() < end) {
            struct pollfd pf = {fd, POLLIN, 0};
            if (poll(&pf, 1, 100) != 1) {
                continue;
            }
            ssize_t r = read(fd, ans + n, sizeof ans - 1 - n);
            if (r <= 0) {
                break;
            }
            n += (size_t)r;
            ans[n] = 0;
        }
    }
    close(fd);
    ans[strcspn(ans, "\n")] = 0;
    if (strcmp(ans, "ok") != 0) {
        snprintf(why, cap, "control '%s': %s", cmd, ans[0] ? ans : "no answer within 10 s");
        return ML_DUT_FAIL;
    }
    return ML_DUT_OK;
}

static int rt_observe(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o,
                      char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    if (d->s->product == ML_SCN_P1MB) {
        return observe_p1mb(d, ch, o, why, cap);
    }
    if (ch->kind == ML_CHK_COUNTER && !strcmp(ch->name, "modbus_clients_refused")) {
        snprintf(why, cap, "not in GET /api/v1/status");
        return ML_DUT_SKIP;
    }
    if (p->link_pulled) {
        return observe_lines(d, ch, o, why, cap);
    }
    cJSON *j = get_status(d, why, cap);
    if (j == NULL) {
        return d->http_port <= 0 ? ML_DUT_SKIP : ML_DUT_FAIL;
    }
    int rc = ML_DUT_OK;
    const cJSON *v = NULL;
    switch (ch->kind) {
    case ML_CHK_LED:
        v = jget(j, "Device", "Led");
        o->state = -1;
        for (int i = 0; cJSON_IsString(v) && i < UI_LED_STATE_COUNT; i++) {
            if (!strcmp(ui_led_state_name((enum ui_led_state)i), v->valuestring)) {
                o->state = i;
            }
        }
        break;
    case ML_CHK_COUNTER: {
        int k = -1;
        for (int i = 0; i < 6; i++) {
            if (!strcmp(ch->name, counter_map[i][0])) {
                v = jget(j, counter_map[i][1], counter_map[i][2]);
                k = i;
            }
        }
        o->num = cJSON_IsNumber(v) ? v->valuedouble : -1;
        if (k >= 0 && o->num >= 0 && p->have_base && p->reboots == 0) {
            /* since the scenario started: the board counted before it too */
            snprintf(o->detail, sizeof o->detail,
                     "since the start (GET /api/v1/status: %.0f - %.0f)", o->num, p->base[k]);
            o->num -= p->base[k];
        } else {
            snprintf(o->detail, sizeof o->detail, "(GET /api/v1/status%s)",
                     p->reboots ? ", since the reboot" : "");
        }
        break;
    }
    case ML_CHK_STATUS:
        if (!strcmp(ch->name, "mqtt")) {
            v = jget(j, "MQTT", "State");
            o->state = -1;
            for (int i = 0; cJSON_IsString(v) && i < 4; i++) {
                if (!strcmp(mqtt_state_name(i), v->valuestring)) {
                    o->state = i;
                }
            }
        } else if (!strcmp(ch->name, "meter_data")) {
            o->b = cJSON_IsTrue(jget(j, "Meter", "Data"));
        } else if (!strcmp(ch->name, "tic_historic")) {
            v = jget(j, "Meter", "Error");
            o->b = cJSON_IsString(v) && strstr(v->valuestring, "historic");
        } else if (!strcmp(ch->name, "has_ip")) {
            v = jget(j, "Network", "IpAddress");
            o->b = cJSON_IsString(v) && v->valuestring[0];
        } else if (!strcmp(ch->name, "ap_mode")) {
            o->b = cJSON_IsTrue(jget(j, "Network", "AccessPoint"));
        }
        break;
    case ML_CHK_REBOOTS:
        o->num = p->reboots;
        if (p->con_fd >= 0) { /* the console sees every boot, also two close together */
            pthread_mutex_lock(&p->mu);
            o->num = p->con_boots;
            pthread_mutex_unlock(&p->mu);
            snprintf(o->detail, sizeof o->detail, "(lines starting with '%s' on the console)",
                     p->rig.console_banner);
        }
        break;
    default:
        snprintf(why, cap, "not a state check");
        rc = ML_DUT_SKIP;
    }
    cJSON_Delete(j);
    return rc;
}

static int run_cmd(struct ml_dut *d, const char *what, const char *cmd, const char *image,
                   char *why, size_t cap)
{
    return ml_rig_command(&P(d)->rig, what, cmd, image, d->o ? d->o->stop : NULL, why, cap) == 0
               ? ML_DUT_OK
               : ML_DUT_FAIL;
}

static int preflight_p1mb(const struct ml_rig *rig, const char *via, char *out, size_t cap);

/* Does the board answer (HTTP status, Modbus TCP, or the P1MB's block over RTU)? */
static bool board_answers(struct ml_dut *d, char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    if (d->http_port > 0) {
        struct ml_http_resp resp;
        if (ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                                d->http_password, "GET", "/api/v1/status", NULL, 1.0, &resp, why,
                                cap) < 0) {
            return false;
        }
        int st = resp.status;
        ml_http_resp_free(&resp);
        snprintf(why, cap, "GET /api/v1/status answered %d", st);
        return st == 200;
    }
    if (d->mb_port > 0) {
        modbus_t *m = modbus_new_tcp(d->mb_host, d->mb_port);
        bool ok = m != NULL && modbus_connect(m) == 0;
        snprintf(why, cap, "Modbus TCP %s:%d: %s", d->mb_host, d->mb_port,
                 ok ? "open" : modbus_strerror(errno));
        if (m != NULL) {
            modbus_close(m);
            modbus_free(m);
        }
        return ok;
    }
    if (d->rtu_path[0]) {
        /* through the scenario's own port (a remote one is connected once: ser2net
         * takes one client per port) */
        return preflight_p1mb(&p->rig, d->rtu_path, why, cap) == 0;
    }
    return true; /* nothing to ask: the action (and the banner) is all there is */
}

/* After power on, reset or flash (the action began at @p since): until the console
 * shows the banner (when the rig has a console) and the board answers, at most
 * timeouts.boot_s. */
static int boot_wait(struct ml_dut *d, double since, char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    double limit = p->rig.timeouts.boot_s > 0 ? p->rig.timeouts.boot_s : 30;
    double end = since + limit;
    bool banner = p->con_fd < 0;
    char last[400] = "";
    while (!(d->o && d->o->stop && *d->o->stop)) {
        if (!banner) {
            pthread_mutex_lock(&p->mu);
            banner = p->con_boot_t >= since;
            pthread_mutex_unlock(&p->mu);
        }
        if (banner && board_answers(d, last, sizeof last)) {
            return ML_DUT_OK;
        }
        if (mono() >= end) {
            break;
        }
        usleep(200000);
    }
    if (!banner) {
        snprintf(why, cap,
                 "the board did not boot within %g s (timeouts.boot_s): no line starting with "
                 "'%s' on the console %s",
                 limit, p->rig.console_banner, p->rig.port[ML_RIG_CONSOLE].path);
    } else {
        snprintf(why, cap, "the board did not answer within %g s (timeouts.boot_s): %s", limit,
                 last);
    }
    return ML_DUT_FAIL;
}

/* `meterlab device` as the board: power is the child process. */
static int device_fault(struct ml_dut *d, const struct ml_scn_fault *f, char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    if (f->kind == ML_SF_FLASH) {
        snprintf(why, cap, "the stand-alone device has no image to flash");
        return ML_DUT_SKIP;
    }
    if (f->kind == ML_SF_POWER_ON && !p->off) {
        return ML_DUT_OK; /* already on */
    }
    /* off (and on again): the same state dir (flash), new ptys and ports */
    if (!p->off) {
        close_ports(p);
        child_stop(p);
    }
    p->off = f->kind == ML_SF_POWER_OFF;
    if (p->off) {
        return ML_DUT_OK;
    }
    int rc = child_start(d, d->s->mqtt ? p->rig.mqtt.url : NULL, why, cap);
    if (rc == 0) {
        rc = rig_attach(d, why, cap);
    }
    if (d->s->product == ML_SCN_P1MB) {
        p->child_reboots++;
    }
    return rc == 0 ? ML_DUT_OK : ML_DUT_FAIL;
}

static int rt_fault(struct ml_dut *d, const struct ml_scn_fault *f, char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    if (!ml_scn_fault_is_board(f->kind)) {
        if (!p->device || f->kind < ML_SF_LINK_DOWN || f->kind > ML_SF_INTERNET_UP) {
            snprintf(why, cap, "fault %s: no network control on this DUT",
                     ml_scn_fault_name(f->kind));
            return ML_DUT_SKIP;
        }
        char cmd[64];
        snprintf(cmd, sizeof cmd, "fault %s", ml_scn_fault_name(f->kind));
        int rc = control_cmd(p, cmd, why, cap);
        if (rc == ML_DUT_OK && (f->kind == ML_SF_LINK_DOWN || f->kind == ML_SF_LINK_UP)) {
            p->link_pulled = f->kind == ML_SF_LINK_DOWN;
        }
        return rc;
    }
    if (d->http_port > 0 && !p->off) {
        cJSON_Delete(get_status(d, why, cap)); /* the uptime before */
    }
    if (p->device) {
        return device_fault(d, f, why, cap);
    }
    const struct ml_rig *rig = &p->rig;
    int rc = ML_DUT_OK;
    if (f->kind == ML_SF_POWER_OFF || f->kind == ML_SF_POWER_CYCLE) {
        rc = run_cmd(d, "power_off", rig->commands.power_off, NULL, why, cap);
        if (rc != ML_DUT_OK || f->kind == ML_SF_POWER_OFF) {
            return rc;
        }
        usleep(1000000); /* let the board's supply drain */
    }
    double since = mono();
    if (f->kind == ML_SF_POWER_ON || f->kind == ML_SF_POWER_CYCLE) {
        rc = run_cmd(d, "power_on", rig->commands.power_on, NULL, why, cap);
    } else if (f->kind == ML_SF_RESET) {
        rc = run_cmd(d, "reset", rig->commands.reset, NULL, why, cap);
    } else if (f->kind == ML_SF_FLASH) {
        rc = run_cmd(d, "flash", rig->commands.flash, f->image, why, cap);
    }
    return rc == ML_DUT_OK ? boot_wait(d, since, why, cap) : rc;
}

static int rt_button(struct ml_dut *d, bool pressed, char *why, size_t cap)
{
    struct rt_priv *p = P(d);
    const char *cmd = pressed ? p->rig.commands.button_press : p->rig.commands.button_release;
    if (p->device) {
        return control_cmd(p, pressed ? "button press" : "button release", why, cap);
    }
    if (!cmd[0]) {
        snprintf(why, cap, "%s", ml_rig_missing_reason(ML_RIG_CAP_BUTTON));
        return ML_DUT_SKIP;
    }
    return run_cmd(d, pressed ? "button_press" : "button_release", cmd, NULL, why, cap);
}

static int rt_start_dev(struct ml_dut *d, const char *mqtt_url, char *err, size_t cap)
{
    /* remember the broker for restarts after a power cycle */
    snprintf(P(d)->rig.mqtt.url, sizeof P(d)->rig.mqtt.url, "%s", mqtt_url ? mqtt_url : "");
    return rt_start(d, mqtt_url, err, cap);
}

#define RT_OPS(nm, startfn)                                                                        \
    {                                                                                              \
        .name = nm, .start = startfn, .stop = rt_stop, .cannot = rt_cannot, .now_us = rt_now,      \
        .advance_to = rt_advance, .settle = rt_settle, .inject = rt_inject, .p1_out = rt_p1_out,   \
        .observe = rt_observe, .fault = rt_fault, .button = rt_button, .time_zero = rt_time_zero,  \
        .console = rt_console,                                                                     \
    }

/* --vtime: the boot and the runner's setup ran at wall-clock pace, so how far the
 * image got by then depends on the CPU QEMU was given. Time zero waits (still paced,
 * at most VT_READY_MAX_S of wall time) until the image's console said it has an IP
 * address, is out of its initialising LED state and, with MQTT, is connected: the
 * state a scenario's first checks find on a booted device, reached at a moment that
 * does not depend on the host. */
#define VT_READY_MAX_S 30.0
static void vt_ready_wait(struct ml_dut *d)
{
    struct rt_priv *p = P(d);
    double end = mono() + VT_READY_MAX_S;
    while (mono() < end && !(d->o != NULL && d->o->stop != NULL && *d->o->stop)) {
        pthread_mutex_lock(&p->mu);
        bool ready = p->has_ip == 1 && p->led_state >= 0 && p->led_state != UI_LED_BOOTING &&
                     p->led_state != UI_LED_INITIALISING &&
                     (!d->s->mqtt ||
                      (p->mqtt_state >= 0 && !strcmp(mqtt_state_name(p->mqtt_state), "connected")));
        pthread_mutex_unlock(&p->mu);
        if (ready) {
            return;
        }
        usleep(20000);
    }
}

/* The runner's own setup (verifying the device: settings) is done: the scenario starts. */
static void rt_time_zero(struct ml_dut *d)
{
    struct rt_priv *p = P(d);
    if (p->vt != NULL && p->qemu && d->s->product != ML_SCN_P1MB) {
        vt_ready_wait(d);
    }
    if (p->cfg_reset) {
        /* the runner reset the board to give it the scenario's settings: the scenario
         * starts with that boot (reboots, counters, console boots from here) */
        char why[256];
        p->cfg_reset = false;
        p->reboots = 0;
        p->last_uptime = -1;
        cJSON *j = get_status(d, why, sizeof why);
        for (int i = 0; j && i < 6; i++) {
            const cJSON *v = jget(j, counter_map[i][1], counter_map[i][2]);
            p->base[i] = cJSON_IsNumber(v) ? v->valuedouble : 0;
        }
        p->have_base = j != NULL;
        cJSON_Delete(j);
    }
    pthread_mutex_lock(&p->mu);
    p->con_boots = 0;
    pthread_mutex_unlock(&p->mu);
    p->t0 = dev_now(p);         /* the timeline's zero (the guest's clock with --vtime) */
    pthread_mutex_lock(&p->mu); /* console lines are timed from here (wall clock) */
    p->con_t0 = mono();
    pthread_mutex_unlock(&p->mu);
}

int ml_dut_config_apply(struct ml_dut *d, const char *json, char *why, size_t cap)
{
    struct ml_http_resp resp;
    char e[256];
    if (ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                            d->http_password, "PATCH", "/api/v1/config", json, d->http_timeout_s,
                            &resp, e, sizeof e) < 0) {
        snprintf(why, cap, "PATCH /api/v1/config %s: %s", json, e);
        return -1;
    }
    int st = resp.status;
    if (st != 200) {
        snprintf(why, cap, "PATCH /api/v1/config %s answered %d%s%.200s", json, st,
                 resp.body ? ": " : "", resp.body ? resp.body : "");
        ml_http_resp_free(&resp);
        return -1;
    }
    ml_http_resp_free(&resp);
    double since = mono();
    P(d)->cfg_reset = true;
    if (ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                            d->http_password, "POST", "/api/v1/reset", "{}", d->http_timeout_s,
                            &resp, e, sizeof e) == 0) {
        ml_http_resp_free(&resp); /* a board that resets at once may not answer at all */
    }
    usleep(300000); /* not the board before its reset */
    double limit = d->boot_timeout_s > 0 ? d->boot_timeout_s : 30;
    while (!(d->o && d->o->stop && *d->o->stop)) {
        if (ml_http_request_tls(d->http_ca_file, d->http_host, d->http_port, d->http_user,
                                d->http_password, "GET", "/api/v1/status", NULL, 1.0, &resp, e,
                                sizeof e) == 0) {
            st = resp.status;
            ml_http_resp_free(&resp);
            if (st == 200) {
                return 0;
            }
            snprintf(e, sizeof e, "GET /api/v1/status answered %d", st);
        }
        if (mono() - since > limit) {
            break;
        }
        usleep(200000);
    }
    snprintf(why, cap, "after POST /api/v1/reset the board did not answer within %g s: %s", limit,
             e);
    return -1;
}

static const struct ml_dut_ops rig_ops = RT_OPS("rig", rt_start);
static const struct ml_dut_ops device_ops = RT_OPS("device", rt_start_dev);
static const struct ml_dut_ops qemu_ops = RT_OPS("qemu", rt_start_dev);

static void rt_init(struct ml_dut *d)
{
    memset(d, 0, sizeof *d);
    struct rt_priv *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->inject_fd = p->p1out_fd = p->child_out = p->con_fd = -1;
    d->priv = p;
    d->real_time = true;
    d->mqtt_grace_ms = 400;
}

void ml_dut_rig_init(struct ml_dut *d, const struct ml_rig *rig)
{
    rt_init(d);
    d->ops = &rig_ops;
    P(d)->rig = *rig;
    snprintf(d->serial, sizeof d->serial, "%s", rig->dut.serial);
    if (rig->mqtt.url[0]) {
        snprintf(d->broker_url, sizeof d->broker_url, "%s", rig->mqtt.url);
        snprintf(d->broker_user, sizeof d->broker_user, "%s", rig->mqtt.user);
        snprintf(d->broker_password, sizeof d->broker_password, "%s", rig->mqtt.password);
    }
    if (rig->timeouts.mqtt_s > 0) {
        d->mqtt_grace_ms = 400;
    }
    d->apply_settings = true;
    d->boot_timeout_s = rig->timeouts.boot_s;
}

void ml_dut_device_init(struct ml_dut *d, bool qemu)
{
    rt_init(d);
    d->ops = qemu ? &qemu_ops : &device_ops;
    P(d)->device = true;
    P(d)->qemu = qemu;
}

void ml_dut_qemu_vtime(struct ml_dut *d, double pace, double max_speed)
{
    struct rt_priv *p = P(d);
    p->vtime = p->qemu;
    p->vt_opts.pace = pace;
    p->vt_opts.max_speed = max_speed;
}

/* ------------------------------------------------------------------------- */
/* Preflight: the board answers and is the one the rig file names            */
/* ------------------------------------------------------------------------- */

/* The P1MB's configuration block (docs/p1mb.md, as `meterlab p1mb-config`
 * reads it, ml_p1mb_id.h): 0xF000 "P1" "MB", layout, variant code 1..4. */

/* @p via: the local path to use for serial.rs485 (a bridge's pty); NULL: its own. */
static int preflight_p1mb(const struct ml_rig *rig, const char *via, char *out, size_t cap)
{
    const struct ml_rig_port *rs = &rig->port[ML_RIG_RS485];
    int baud = rs->has_line ? (int)rs->line.baud : 9600;
    char parity = rs->has_line ? rs->line.parity : 'E';
    int slave = rs->slave_id > 0 ? rs->slave_id : 16;
    char where[400];
    snprintf(where, sizeof where, "RS485 %s (Modbus RTU %d 8%c1, slave %d)", rs->path, baud, parity,
             slave);
    /* libmodbus opens device paths only: a remote port gets a local pty */
    struct ml_serial_bridge *br = NULL;
    char path[256], e[512];
    struct ml_serial_cfg line = {(unsigned)baud, 8, parity, 1};
    if (via != NULL) {
        snprintf(path, sizeof path, "%s", via);
    } else if (ml_serial_bridge_open(&br, rs->path, &line, path, sizeof path, e, sizeof e) < 0) {
        snprintf(out, cap, "cannot open %s: %s", where, e);
        return -1;
    }
    modbus_t *m = modbus_new_rtu(path, baud, parity, 8, 1);
    if (m == NULL) {
        snprintf(out, cap, "cannot use %s: %s", where, modbus_strerror(errno));
        ml_serial_bridge_close(br);
        return -1;
    }
    modbus_set_slave(m, slave);
    double t = rig->timeouts.modbus_s > 0 ? rig->timeouts.modbus_s : 2;
    modbus_set_response_timeout(m, (uint32_t)t, (uint32_t)((t - (int)t) * 1e6));
    if (modbus_connect(m) != 0) {
        snprintf(out, cap, "cannot open %s: %s", where, modbus_strerror(errno));
        modbus_free(m);
        ml_serial_bridge_close(br);
        return -1;
    }
    uint16_t id[4];
    int got = -1;
    for (int i = 0; i < 3 && got != 4; i++) { /* a byte of line noise costs one try */
        got = modbus_read_registers(m, ML_P1MB_REG_SIG, 4, id);
    }
    int en = errno;
    modbus_close(m);
    modbus_free(m);
    ml_serial_bridge_close(br);
    if (got != 4) {
        snprintf(out, cap, "the board does not answer on %s: %s", where, modbus_strerror(en));
        return -1;
    }
    if (id[0] != ML_P1MB_SIG_P1 || id[1] != ML_P1MB_SIG_MB) {
        snprintf(out, cap,
                 "%s answers, but register 0x%04X reads 0x%04X 0x%04X, not \"P1\" \"MB\": not "
                 "a P1MB",
                 where, ML_P1MB_REG_SIG, id[0], id[1]);
        return -1;
    }
    const struct ml_p1mb_variant *pv = ml_p1mb_variant_by_code(id[3]);
    const char *seen = pv ? pv->name : "unknown";
    if (rig->dut.variant_index >= 0 && id[3] != rig->dut.variant_index + 1) {
        snprintf(out, cap, "%s: the rig says variant %s, the board reports variant %s (code %u)",
                 where, rig->dut.variant, seen, id[3]);
        return -1;
    }
    snprintf(out, cap, "P1MB on %s, variant %s", where, seen);
    return 0;
}

static int preflight_http(const struct ml_rig *rig, char *out, size_t cap)
{
    char where[300], why[256];
    snprintf(where, sizeof where, "http://%s:%d (GET /api/v1/status)", rig->network.host,
             rig->network.http_port);
    struct ml_http_resp resp;
    double t = rig->timeouts.http_s > 0 ? rig->timeouts.http_s : 5;
    if (ml_http_request_tls(rig->network.https_ca, rig->network.host, rig->network.http_port,
                            rig->network.http_user, rig->network.http_password, "GET",
                            "/api/v1/status", NULL, t, &resp, why, sizeof why) < 0) {
        snprintf(out, cap, "the board does not answer on %s: %s", where, why);
        return -1;
    }
    cJSON *j = resp.status == 200 && resp.body ? cJSON_Parse(resp.body) : NULL;
    if (j == NULL) {
        snprintf(out, cap, "%s answered %d%s%.200s", where, resp.status, resp.body ? ": " : "",
                 resp.body ? resp.body : "");
        ml_http_resp_free(&resp);
        return -1;
    }
    ml_http_resp_free(&resp);
    const cJSON *ser = jget(j, "Device", "Serial"), *fw = jget(j, "Device", "Firmware");
    const cJSON *proto = jget(j, "Meter", "Protocol");
    const char *s = cJSON_IsString(ser) ? ser->valuestring : "?";
    const char *f = cJSON_IsString(fw) ? fw->valuestring : "?";
    bool tic = cJSON_IsString(proto) && strcmp(proto->valuestring, "TIC") == 0;
    int rc = 0;
    char seen[256];
    snprintf(seen, sizeof seen, "%s, serial %s, firmware %s",
             tic ? "Smart TIC Connect" : "Smart P1/A1 Connect", s, f);
    if (tic != (rig->dut.product == ML_SCN_TIC)) {
        snprintf(out, cap, "%s: the rig says product %s, the board is a %s", where,
                 rig->dut.product == ML_SCN_TIC ? "tic" : "p1", seen);
        rc = -1;
    } else if (rig->dut.serial[0] && strcmp(rig->dut.serial, s) != 0) {
        snprintf(out, cap, "%s: the rig says serial %s, the board is a %s", where, rig->dut.serial,
                 seen);
        rc = -1;
    } else if (rig->dut.firmware[0] && strcmp(rig->dut.firmware, f) != 0) {
        snprintf(out, cap, "%s: the rig says firmware %s, the board is a %s", where,
                 rig->dut.firmware, seen);
        rc = -1;
    } else {
        snprintf(out, cap, "%s on %s", seen, where);
    }
    cJSON_Delete(j);
    return rc;
}

int ml_dut_rig_preflight(const struct ml_rig *rig, char *out, size_t cap)
{
    if (rig->dut.product == ML_SCN_P1MB) {
        if (!rig->port[ML_RIG_RS485].present) {
            snprintf(out, cap, "not checked (no serial.rs485 to ask the P1MB)");
            return 0;
        }
        return preflight_p1mb(rig, NULL, out, cap);
    }
    if (rig->network.host[0] == '\0' || rig->network.http_port <= 0) {
        snprintf(out, cap, "not checked (no network.host/http_port to ask the board)");
        return 0;
    }
    return preflight_http(rig, out, cap);
}
