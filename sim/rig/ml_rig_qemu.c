/*
 * The built-in rig driver `qemu` (ml_rig.h, docs/hil.md): the board under test is a
 * QEMU machine, driven only through the rig's actions as a real board is through
 * its relay and probe. A helper process (forked once per rig by
 * ml_rig_driver_start) owns everything: the board's four UARTs as null-modems of
 * ptys, whose bench ends are links in `qemu.ports` (console, inject, p1_out,
 * rs485: what a rig's `serial:` paths or ser2net point at) and stay there across
 * power cycles like USB adapters; QEMU itself (power on = start it with the
 * image, power off = QMP `quit`, reset = QMP `system_reset`, flash = the image of
 * the next power on, the board restarted with it). Requests come over a
 * SOCK_SEQPACKET socket inherited by forked children (`--rig A --rig B` plays each
 * rig in its own process); the helper ends when told to or when every holder of
 * the socket is gone, stopping QEMU and removing its links.
 */
#define _GNU_SOURCE
#include "ml_rig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define DRV_MAX 8

static struct drv {
    char key[512]; /* the rig file */
    int fd;
    pid_t pid, owner;
    unsigned seq;
} g_drv[DRV_MAX];
static int g_ndrv;
static bool g_atexit;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* The helper process                                                        */
/* ------------------------------------------------------------------------- */

struct helper {
    const struct ml_rig *rig;
    int ctl;
    int m_bench[ML_RIG_ROLES]; /* pty masters of the bench ends (the links) */
    int m_board[ML_RIG_ROLES]; /* pty masters of QEMU's ends */
    char board_pty[ML_RIG_ROLES][64];
    char link[ML_RIG_ROLES][600];
    char image[512];
    pid_t qemu;
    int qmp;
    char con[512]; /* the console line being read (banner scan) */
    size_t con_n;
    /* a power on (or flash) waiting for the banner */
    bool booting;
    double boot_end;
    unsigned boot_seq;
    char boot_what[16];
};

/* QEMU's UART order: console UART0, P1 in UART1, P1 out UART2, RS485 UART3. */
static const enum ml_rig_role uart_role[4] = {ML_RIG_CONSOLE, ML_RIG_INJECT, ML_RIG_P1_OUT,
                                              ML_RIG_RS485};

static void reply(struct helper *h, unsigned seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply(struct helper *h, unsigned seq, const char *fmt, ...)
{
    char b[1024];
    int n = snprintf(b, sizeof b, "%u ", seq);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, sizeof b - (size_t)n, fmt, ap);
    va_end(ap);
    (void)send(h->ctl, b, strlen(b), MSG_NOSIGNAL);
}

/* A QMP command; @return 0 when QEMU answers "return" within @p ms. */
static int qmp_exec(struct helper *h, const char *json, int ms, char *why, size_t cap)
{
    if (json != NULL && write(h->qmp, json, strlen(json)) < 0) {
        snprintf(why, cap, "QMP: %s", strerror(errno));
        return -1;
    }
    char buf[4096];
    size_t n = 0;
    double end = mono() + ms / 1000.0;
    for (;;) {
        struct pollfd pf = {h->qmp, POLLIN, 0};
        int left = (int)((end - mono()) * 1000);
        if (left <= 0 || poll(&pf, 1, left) != 1) {
            snprintf(why, cap, "QMP: no answer within %d ms", ms);
            return -1;
        }
        ssize_t r = read(h->qmp, buf + n, sizeof buf - 1 - n);
        if (r <= 0) {
            snprintf(why, cap, "QMP: QEMU closed it");
            return -1;
        }
        n += (size_t)r;
        buf[n] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            *nl = 0;
            bool greeting = json == NULL && strstr(buf, "\"QMP\"") != NULL;
            if (greeting || strstr(buf, "\"return\"") != NULL) {
                return 0;
            }
            if (strstr(buf, "\"error\"") != NULL) {
                snprintf(why, cap, "QMP: %.300s", buf);
                return -1;
            }
            n -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, n + 1); /* an event: not the answer */
        }
        if (n == sizeof buf - 1) {
            n = 0;
        }
    }
}

static void qemu_stop(struct helper *h)
{
    if (h->qemu <= 0) {
        return;
    }
    char why[256];
    (void)qmp_exec(h, "{\"execute\": \"quit\"}\n", 2000, why, sizeof why);
    int st;
    for (int i = 0; i < 300 && waitpid(h->qemu, &st, WNOHANG) == 0; i++) {
        usleep(10000);
    }
    if (waitpid(h->qemu, &st, WNOHANG) == 0) {
        kill(h->qemu, SIGKILL);
        waitpid(h->qemu, &st, 0);
    }
    h->qemu = 0;
    close(h->qmp);
    h->qmp = -1;
}

static int qemu_start(struct helper *h, char *why, size_t cap)
{
    if (access(h->image, R_OK) != 0) {
        snprintf(why, cap, "qemu.image %s: %s", h->image, strerror(errno));
        return -1;
    }
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
        snprintf(why, cap, "socketpair: %s", strerror(errno));
        return -1;
    }
    for (int u = 0; u < 4; u++) { /* what the board sent before it was off */
        tcflush(h->m_board[uart_role[u]], TCIOFLUSH);
    }
    const char *prog = getenv("QEMU");
    prog = prog != NULL && prog[0] ? prog : "qemu-system-arm";
    const char *argv[32];
    int a = 0;
    argv[a++] = prog;
    argv[a++] = "-M";
    argv[a++] = h->rig->qemu.machine;
    argv[a++] = "-display";
    argv[a++] = "none";
    argv[a++] = "-monitor";
    argv[a++] = "none";
    argv[a++] = "-chardev";
    argv[a++] = "stdio,id=qmp,signal=off";
    argv[a++] = "-mon";
    argv[a++] = "chardev=qmp,mode=control";
    for (int u = 0; u < 4; u++) {
        argv[a++] = "-serial";
        argv[a++] = h->board_pty[uart_role[u]];
    }
    argv[a++] = "-serial";
    argv[a++] = "null"; /* UART4: the co-processor (not emulated by this driver) */
    argv[a++] = "-kernel";
    argv[a++] = h->image;
    argv[a] = NULL;
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(sp[1], 0);
        dup2(sp[1], 1);
        execvp(prog, (char *const *)argv);
        fprintf(stderr, "meterlab: rig driver qemu: cannot run %s: %s\n", prog, strerror(errno));
        _exit(127);
    }
    close(sp[1]);
    h->qemu = pid;
    h->qmp = sp[0];
    h->con_n = 0;
    if (qmp_exec(h, NULL, 5000, why, cap) < 0 ||
        qmp_exec(h, "{\"execute\": \"qmp_capabilities\"}\n", 5000, why, cap) < 0) {
        char w[256];
        snprintf(w, sizeof w, "%s", why);
        qemu_stop(h);
        snprintf(why, cap, "%s %s did not start: %s", prog, h->image, w);
        return -1;
    }
    return 0;
}

/* Start QEMU and wait (in the loop) for the banner; the reply comes from there. */
static void power_on(struct helper *h, unsigned seq, const char *what)
{
    char why[512];
    if (qemu_start(h, why, sizeof why) < 0) {
        reply(h, seq, "%s", why);
        return;
    }
    h->booting = true;
    h->boot_end = mono() + (h->rig->timeouts.boot_s > 0 ? h->rig->timeouts.boot_s : 30);
    h->boot_seq = seq;
    snprintf(h->boot_what, sizeof h->boot_what, "%s", what);
}

static void request(struct helper *h, char *req)
{
    char *sp = strchr(req, ' ');
    unsigned seq = (unsigned)strtoul(req, NULL, 10);
    const char *cmd = sp ? sp + 1 : "";
    char why[512];
    if (h->booting) {
        reply(h, seq, "the board is still booting (%s)", h->boot_what);
    } else if (!strcmp(cmd, "power_on")) {
        if (h->qemu > 0) {
            reply(h, seq, "ok");
        } else {
            power_on(h, seq, "power_on");
        }
    } else if (!strcmp(cmd, "power_off")) {
        qemu_stop(h);
        reply(h, seq, "ok");
    } else if (!strcmp(cmd, "reset")) {
        if (h->qemu <= 0) {
            reply(h, seq, "the board is off");
        } else if (qmp_exec(h, "{\"execute\": \"system_reset\"}\n", 3000, why, sizeof why) < 0) {
            reply(h, seq, "system_reset: %s", why);
        } else {
            reply(h, seq, "ok");
        }
    } else if (!strncmp(cmd, "flash ", 6)) {
        if (access(cmd + 6, R_OK) != 0) {
            reply(h, seq, "image %s: %s", cmd + 6, strerror(errno));
            return;
        }
        snprintf(h->image, sizeof h->image, "%s", cmd + 6);
        if (h->qemu > 0) { /* as a probe's "program ... reset": it boots the new image */
            qemu_stop(h);
            power_on(h, seq, "flash");
        } else {
            reply(h, seq, "ok");
        }
    } else {
        reply(h, seq, "unknown request '%s'", cmd);
    }
}

/* Bytes QEMU sent on the console: the banner ends a boot wait. */
static void console_scan(struct helper *h, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] == '\n' || h->con_n == sizeof h->con - 1) {
            h->con[h->con_n] = 0;
            const char *ban = h->rig->console_banner[0] ? h->rig->console_banner : "meterlab ";
            if (h->booting && !strncmp(h->con, ban, strlen(ban))) {
                h->booting = false;
                reply(h, h->boot_seq, "ok");
            }
            h->con_n = 0;
        } else if (b[i] != '\r') {
            h->con[h->con_n++] = b[i];
        }
    }
}

static void write_some(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w <= 0) {
            return; /* full (nobody reads the port) or gone: dropped, as a UART does */
        }
        b += w;
        n -= (size_t)w;
    }
}

static void helper_cleanup(struct helper *h)
{
    qemu_stop(h);
    for (int r = 0; r < ML_RIG_ROLES; r++) {
        if (h->link[r][0]) {
            unlink(h->link[r]);
        }
    }
}

static int helper_setup(struct helper *h, char *why, size_t cap)
{
    if (mkdir(h->rig->qemu.ports, 0777) != 0 && errno != EEXIST) {
        snprintf(why, cap, "qemu.ports %s: %s", h->rig->qemu.ports, strerror(errno));
        return -1;
    }
    for (int r = 0; r < ML_RIG_ROLES; r++) {
        h->m_board[r] = ml_serial_open_pty(h->board_pty[r], sizeof h->board_pty[r]);
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        const char *name = NULL;
        if (h->m_board[r] < 0 || m < 0 || grantpt(m) != 0 || unlockpt(m) != 0 ||
            (name = ptsname(m)) == NULL) {
            snprintf(why, cap, "cannot make the ptys of the board's ports: %s", strerror(errno));
            return -1;
        }
        struct termios t;
        if (tcgetattr(m, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(m, TCSANOW, &t);
        }
        /* the slave opened and closed once: until a user opens it, the master reports
         * POLLHUP and what the board sends is dropped, not queued for the first reader */
        int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (s >= 0) {
            close(s);
        }
        h->m_bench[r] = m;
        snprintf(h->link[r], sizeof h->link[r], "%s/%s", h->rig->qemu.ports,
                 ml_rig_role_name((enum ml_rig_role)r));
        unlink(h->link[r]); /* a link left by a run that was killed */
        if (symlink(name, h->link[r]) != 0) {
            snprintf(why, cap, "qemu.ports: cannot link %s to %s: %s", h->link[r], name,
                     strerror(errno));
            h->link[r][0] = 0;
            return -1;
        }
    }
    return 0;
}

static void helper_main(const struct ml_rig *rig, int ctl)
{
    signal(SIGINT, SIG_IGN); /* the run stops it (or its socket closes) */
    signal(SIGTERM, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    setpgid(0, 0);
    struct helper h = {.rig = rig, .ctl = ctl, .qmp = -1};
    snprintf(h.image, sizeof h.image, "%s", rig->qemu.image);
    char why[512];
    if (helper_setup(&h, why, sizeof why) < 0) {
        reply(&h, 0, "%s", why);
        helper_cleanup(&h);
        _exit(1);
    }
    reply(&h, 0, "ok");
    for (;;) {
        struct pollfd pf[1 + 2 * ML_RIG_ROLES];
        int n = 0;
        pf[n++] = (struct pollfd){ctl, POLLIN, 0};
        for (int r = 0; r < ML_RIG_ROLES; r++) {
            /* a bench end nobody has open reports POLLHUP: left out (its bytes dropped) */
            struct pollfd t = {h.m_bench[r], POLLIN, 0};
            bool open = poll(&t, 1, 0) >= 0 && !(t.revents & POLLHUP);
            pf[n++] = (struct pollfd){open ? h.m_bench[r] : -1, POLLIN, 0};
            pf[n++] = (struct pollfd){h.m_board[r], POLLIN, 0};
        }
        if (poll(pf, (nfds_t)n, 50) < 0 && errno != EINTR) {
            break;
        }
        if (pf[0].revents & (POLLHUP | POLLERR)) {
            break; /* every holder of the socket is gone */
        }
        char buf[4096];
        for (int r = 0; r < ML_RIG_ROLES; r++) {
            struct pollfd *b = &pf[1 + 2 * r], *q = &pf[2 + 2 * r];
            ssize_t k;
            if ((b->revents & POLLIN) && (k = read(h.m_bench[r], buf, sizeof buf)) > 0 &&
                h.qemu > 0) {
                write_some(h.m_board[r], buf, (size_t)k); /* an unpowered board hears nothing */
            }
            if ((q->revents & POLLIN) && (k = read(h.m_board[r], buf, sizeof buf)) > 0) {
                if (r == ML_RIG_CONSOLE) {
                    console_scan(&h, buf, (size_t)k);
                }
                struct pollfd t = {h.m_bench[r], POLLOUT, 0};
                if (poll(&t, 1, 0) >= 0 && !(t.revents & POLLHUP)) {
                    write_some(h.m_bench[r], buf, (size_t)k);
                }
            }
        }
        if (h.qmp >= 0) { /* QMP events: read and dropped */
            struct pollfd t = {h.qmp, POLLIN, 0};
            if (poll(&t, 1, 0) == 1) {
                (void)read(h.qmp, buf, sizeof buf);
            }
        }
        int st;
        if (h.qemu > 0 && waitpid(h.qemu, &st, WNOHANG) == h.qemu) {
            h.qemu = 0;
            close(h.qmp);
            h.qmp = -1;
            if (h.booting) {
                h.booting = false;
                reply(&h, h.boot_seq, "QEMU (%s) ended while booting (%s %d)", h.image,
                      WIFEXITED(st) ? "exit status" : "signal",
                      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            }
        }
        if (h.booting && mono() > h.boot_end) {
            h.booting = false;
            reply(&h, h.boot_seq,
                  "no line starting with '%s' on the console within %g s (timeouts.boot_s)",
                  rig->console_banner, rig->timeouts.boot_s);
        }
        if (pf[0].revents & POLLIN) {
            char req[700];
            ssize_t k = recv(ctl, req, sizeof req - 1, 0);
            if (k <= 0) {
                break;
            }
            req[k] = 0;
            char *sp = strchr(req, ' ');
            if (sp != NULL && !strcmp(sp + 1, "quit")) {
                helper_cleanup(&h);
                reply(&h, (unsigned)strtoul(req, NULL, 10), "ok");
                _exit(0);
            }
            request(&h, req);
        }
    }
    helper_cleanup(&h);
    _exit(0);
}

/* ------------------------------------------------------------------------- */
/* The runner's side                                                         */
/* ------------------------------------------------------------------------- */

static struct drv *drv_of(const struct ml_rig *rig)
{
    for (int i = 0; i < g_ndrv; i++) {
        if (g_drv[i].fd >= 0 && !strcmp(g_drv[i].key, rig->path)) {
            return &g_drv[i];
        }
    }
    return NULL;
}

/* Wait for the answer to request @p seq (at most @p limit s, or *@p stop). */
static int drv_wait(struct drv *dv, unsigned seq, double limit, const volatile sig_atomic_t *stop,
                    char *err, size_t errcap)
{
    char b[1024];
    double end = mono() + limit;
    while (mono() < end) {
        if (stop != NULL && *stop) {
            snprintf(err, errcap, "interrupted");
            return -1;
        }
        struct pollfd pf = {dv->fd, POLLIN, 0};
        if (poll(&pf, 1, 100) != 1) {
            continue;
        }
        ssize_t k = recv(dv->fd, b, sizeof b - 1, 0);
        if (k <= 0) {
            snprintf(err, errcap, "the driver ended");
            return -1;
        }
        b[k] = 0;
        char *sp = strchr(b, ' ');
        if (sp == NULL || strtoul(b, NULL, 10) != seq) {
            continue; /* the late answer of a request given up */
        }
        if (strcmp(sp + 1, "ok") != 0) {
            snprintf(err, errcap, "%s", sp + 1);
            return -1;
        }
        return 0;
    }
    snprintf(err, errcap, "no answer from the driver within %g s", limit);
    return -1;
}

/* Send @p req and wait for its answer. */
static int drv_call(struct drv *dv, const char *req, double limit,
                    const volatile sig_atomic_t *stop, char *err, size_t errcap)
{
    char b[1024];
    unsigned seq = ++dv->seq;
    int n = snprintf(b, sizeof b, "%u %s", seq, req);
    if (send(dv->fd, b, (size_t)n, MSG_NOSIGNAL) < 0) {
        snprintf(err, errcap, "the driver is gone: %s", strerror(errno));
        return -1;
    }
    return drv_wait(dv, seq, limit, stop, err, errcap);
}

static void drv_stop_all(void)
{
    for (int i = 0; i < g_ndrv; i++) {
        if (g_drv[i].fd >= 0 && g_drv[i].owner == getpid()) {
            char e[256];
            (void)drv_call(&g_drv[i], "quit", 10, NULL, e, sizeof e);
            close(g_drv[i].fd);
            g_drv[i].fd = -1;
            waitpid(g_drv[i].pid, NULL, 0);
        }
    }
}

int ml_rig_driver_start(const struct ml_rig *rig, const volatile sig_atomic_t *stop, char *err,
                        size_t errcap)
{
    if (!rig->qemu.on || drv_of(rig) != NULL) {
        return 0;
    }
    if (g_ndrv == DRV_MAX) {
        snprintf(err, errcap, "%s: driver qemu: at most %d rigs", rig->path, DRV_MAX);
        return -1;
    }
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        snprintf(err, errcap, "%s: driver qemu: socketpair: %s", rig->path, strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "%s: driver qemu: fork: %s", rig->path, strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        close(sp[0]);
        for (int i = 0; i < g_ndrv; i++) { /* other rigs' drivers end with their owner */
            if (g_drv[i].fd >= 0) {
                close(g_drv[i].fd);
            }
        }
        for (int fd = 3; fd < 1024; fd++) { /* the rig locks, the run's ports: not ours */
            if (fd != sp[1]) {
                close(fd);
            }
        }
        helper_main(rig, sp[1]);
    }
    close(sp[1]);
    struct drv *dv = &g_drv[g_ndrv++];
    *dv = (struct drv){.fd = sp[0], .pid = pid, .owner = getpid()};
    snprintf(dv->key, sizeof dv->key, "%s", rig->path);
    if (!g_atexit) {
        atexit(drv_stop_all);
        g_atexit = true;
    }
    char e[600];
    if (drv_wait(dv, 0, 10, NULL, e, sizeof e) < 0) { /* the helper's first word: its setup */
        goto fail;
    }
    if (drv_call(dv, "power_on", (rig->timeouts.boot_s > 0 ? rig->timeouts.boot_s : 30) + 10, stop,
                 e, sizeof e) < 0) {
        goto fail;
    }
    return 0;
fail:
    snprintf(err, errcap, "%s: driver qemu: %s", rig->path, e);
    ml_rig_driver_stop(rig);
    return -1;
}

void ml_rig_driver_stop(const struct ml_rig *rig)
{
    struct drv *dv = drv_of(rig);
    if (dv == NULL) {
        return;
    }
    if (dv->owner == getpid()) {
        char e[256];
        (void)drv_call(dv, "quit", 10, NULL, e, sizeof e);
        close(dv->fd);
        waitpid(dv->pid, NULL, 0);
    } else {
        close(dv->fd);
    }
    dv->fd = -1;
}

int ml_rig_driver_action(const struct ml_rig *rig, const char *what, const char *image,
                         const volatile sig_atomic_t *stop, char *err, size_t errcap)
{
    char e[700];
    if (ml_rig_driver_start(rig, stop, err, errcap) < 0) {
        return -1;
    }
    struct drv *dv = drv_of(rig);
    char req[700];
    snprintf(req, sizeof req, "%s%s%s", what, image ? " " : "", image ? image : "");
    double limit = (rig->timeouts.boot_s > 0 ? rig->timeouts.boot_s : 30) + 10;
    if (dv == NULL || drv_call(dv, req, limit, stop, e, sizeof e) < 0) {
        snprintf(err, errcap, "driver qemu: %s: %s", what, dv ? e : "not started");
        return -1;
    }
    return 0;
}
