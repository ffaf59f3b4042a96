/*
 * The target image in qemu-system-arm (ml_qemu.h): QEMU started with the
 * image, its UARTs on ptys, the console read line by line, the banner, the
 * ESP-AT emulator on the co-processor's pty, the configuration seeded through
 * the image's HTTP API, a reset through QEMU's monitor (a unix socket).
 * Moved here from tools/meterlab/cli_device_qemu.c (issue 17) so that the
 * runner's QEMU rig driver uses it too.
 */
#define _GNU_SOURCE
#include "ml_qemu.h"

#include "ml_http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include("ml_at_emu.h")
#include "ml_at_emu.h"
#define HAVE_AT_EMU 1
#endif
#endif

#define BOOT_TIMEOUT_MS 10000 /* default: the banner must appear within this */
/* QEMU notices that a pty slave was opened on a 1 s timer: input written before
 * that is dropped, so ml_qemu_start returns only once this much has passed. */
#define PTY_SETTLE_MS   1100

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Find @p prog on PATH (or take it as a path when it has a '/'). */
bool ml_qemu_find_program(const char *prog, char *out, size_t cap)
{
    if (strchr(prog, '/') != NULL) {
        snprintf(out, cap, "%s", prog);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (path == NULL) {
        path = "/usr/bin:/bin";
    }
    while (*path != '\0') {
        const char *end = strchr(path, ':');
        size_t n = end != NULL ? (size_t)(end - path) : strlen(path);
        snprintf(out, cap, "%.*s/%s", (int)n, path, prog);
        if (n > 0 && access(out, X_OK) == 0) {
            return true;
        }
        path += n;
        if (*path == ':') {
            path++;
        }
    }
    return false;
}

/*
 * The image: --image, else $ML_TARGET_BIN/<name>, else <build>/../target/bin/<name>
 * where <build> holds this meterlab (<build>/bin/meterlab), else the source
 * tree's build/target/bin. @p tried lists where it looked.
 */
bool ml_qemu_find_image(const char *name, char *out, size_t cap, char *tried, size_t tcap)
{
    char dirs[3][PATH_MAX];
    int n = 0;
    const char *env = getenv("ML_TARGET_BIN");
    if (env != NULL && env[0] != '\0') {
        snprintf(dirs[n++], sizeof dirs[0], "%s", env);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/'); /* <build>/bin/meterlab */
        if (slash != NULL) {
            *slash = '\0';
            slash = strrchr(exe, '/');
            if (slash != NULL) {
                *slash = '\0';
                slash = strrchr(exe, '/');
                if (slash != NULL) {
                    *slash = '\0';
                    if (strlen(exe) + sizeof "/target/bin" <= sizeof dirs[0]) {
                        memcpy(dirs[n], exe, strlen(exe));
                        memcpy(dirs[n] + strlen(exe), "/target/bin", sizeof "/target/bin");
                        n++;
                    }
                }
            }
        }
    }
#ifdef ML_SOURCE_DIR
    snprintf(dirs[n++], sizeof dirs[0], "%s/build/target/bin", ML_SOURCE_DIR);
#endif
    tried[0] = '\0';
    for (int i = 0; i < n; i++) {
        int k = snprintf(out, cap, "%s/%s", dirs[i], name);
        if (k > 0 && (size_t)k < cap && access(out, R_OK) == 0) {
            return true;
        }
        size_t used = strlen(tried);
        if (snprintf(tried + used, tcap - used, "%s%s", used ? ", " : "", dirs[i]) < 0) {
            break;
        }
    }
    return false;
}

/* ------------------------------------------------------------------------- */
/* QEMU                                                                      */
/* ------------------------------------------------------------------------- */

struct ml_qemu {
    pid_t pid;
    int out_fd; /* QEMU's stdout+stderr: console and QEMU's own messages */
    int in_fd;  /* QEMU's stdin: console input (held open) */
    bool pty[ML_QEMU_UARTS];
    char path[ML_QEMU_UARTS][128]; /* pty slave paths ("" until QEMU told) */
    int hold[ML_QEMU_UARTS];       /* our own slave fds (QEMU then sees a connected pty) */
    char buf[4096];                /* console bytes not yet a full line */
    size_t len;
    uint64_t start_ms;
    char monitor[108]; /* the monitor's unix socket ("" = none) */
    char qmp[108];     /* the QMP unix socket ("" = none) */
    char icount[64];   /* -icount value ("" = none) */
    char machine[32];  /* -M value */
    bool (*stop)(void);
#ifdef HAVE_AT_EMU
    struct ml_at_emu *emu;
    char broker_host[256];
#endif
    char tls_dir[256]; /* the module's storage (its SSL server's key and certificate) */
    bool tls_tmp;      /* made for this run: removed at the stop */
    char cert[300];    /* tls_dir/https_cert.pem ("" = no co-processor) */
};

static bool stopping(const struct ml_qemu *q)
{
    return q->stop != NULL && q->stop();
}

static int spawn(struct ml_qemu *q, const char *qemu_bin, const char *image, char *err, size_t cap)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        close(in[0]);
        close(in[1]);
        return -1;
    }
    char mon[160], qmp[160];
    const char *argv[40];
    int n = 0;
    argv[n++] = qemu_bin;
    argv[n++] = "-M";
    argv[n++] = q->machine;
    argv[n++] = "-nographic";
    argv[n++] = "-monitor";
    if (q->monitor[0] != '\0') {
        snprintf(mon, sizeof mon, "unix:%s,server,nowait", q->monitor);
        argv[n++] = mon;
    } else {
        argv[n++] = "none";
    }
    if (q->qmp[0] != '\0') {
        snprintf(qmp, sizeof qmp, "unix:%s,server,nowait", q->qmp);
        argv[n++] = "-qmp";
        argv[n++] = qmp;
    }
    if (q->icount[0] != '\0') {
        argv[n++] = "-icount";
        argv[n++] = q->icount;
    }
    argv[n++] = "-serial";
    argv[n++] = "stdio"; /* UART0: console */
    for (int u = ML_QEMU_P1_IN; u < ML_QEMU_UARTS; u++) {
        argv[n++] = "-serial";
        argv[n++] = q->pty[u] ? "pty" : "null";
    }
    argv[n++] = "-kernel";
    argv[n++] = image;
    argv[n] = NULL;
    q->start_ms = now_ms();
    q->pid = fork();
    if (q->pid < 0) {
        snprintf(err, cap, "fork: %s", strerror(errno));
        q->pid = 0;
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        return -1;
    }
    if (q->pid == 0) {
        setpgid(0, 0); /* Ctrl-C reaches the parent only; it stops QEMU */
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execv(qemu_bin, (char *const *)argv);
        fprintf(stderr, "qemu-system-arm: cannot run %s: %s\n", qemu_bin, strerror(errno));
        _exit(127);
    }
    setpgid(q->pid, q->pid);
    close(in[0]);
    close(out[1]);
    q->in_fd = in[1];
    q->out_fd = out[0];
    fcntl(q->out_fd, F_SETFL, O_NONBLOCK);
    return 0;
}

void ml_qemu_stop(struct ml_qemu *q)
{
    if (q == NULL) {
        return;
    }
#ifdef HAVE_AT_EMU
    ml_at_emu_stop(q->emu);
    q->emu = NULL;
#endif
    if (q->pid > 0) {
        kill(-q->pid, SIGTERM);
        int status;
        for (int i = 0; i < 200; i++) { /* 2 s, then SIGKILL */
            if (waitpid(q->pid, &status, WNOHANG) == q->pid) {
                q->pid = 0;
                break;
            }
            usleep(10000);
        }
        if (q->pid > 0) {
            kill(-q->pid, SIGKILL);
            waitpid(q->pid, &status, 0);
            q->pid = 0;
        }
    }
    for (int u = 0; u < ML_QEMU_UARTS; u++) {
        if (q->hold[u] >= 0) {
            close(q->hold[u]);
        }
    }
    if (q->in_fd >= 0) {
        close(q->in_fd);
    }
    if (q->out_fd >= 0) {
        close(q->out_fd);
    }
    if (q->monitor[0] != '\0') {
        unlink(q->monitor);
    }
    if (q->qmp[0] != '\0') {
        unlink(q->qmp);
    }
    if (q->tls_tmp) {
        char f[320];
        snprintf(f, sizeof f, "%s/https_key.pem", q->tls_dir);
        unlink(f);
        unlink(q->cert);
        rmdir(q->tls_dir);
    }
    free(q);
}

const char *ml_qemu_cert(const struct ml_qemu *q)
{
    return q->cert;
}

bool ml_qemu_alive(struct ml_qemu *q)
{
    int status;
    if (q->pid > 0 && waitpid(q->pid, &status, WNOHANG) == q->pid) {
        q->pid = 0;
    }
    return q->pid > 0;
}

const char *ml_qemu_pty(const struct ml_qemu *q, enum ml_qemu_uart u)
{
    return u < ML_QEMU_UARTS && q->pty[u] ? q->path[u] : "";
}

uint64_t ml_qemu_uptime_ms(const struct ml_qemu *q)
{
    return now_ms() - q->start_ms;
}

uint16_t ml_qemu_host_port(const struct ml_qemu *q, uint16_t device_port)
{
#ifdef HAVE_AT_EMU
    return q->emu != NULL ? ml_at_emu_host_port(q->emu, device_port) : 0;
#else
    (void)q;
    (void)device_port;
    return 0;
#endif
}

/* Open a pty slave and keep it open: QEMU sees it connected; raw, no echo. */
static int hold_pty(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) {
        struct termios t;
        if (tcgetattr(fd, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(fd, TCSANOW, &t);
        }
    }
    return fd;
}

/*
 * QEMU's own line "char device redirected to /dev/pts/N (label serialK)":
 * record the pty of UART K. @return true when @p line was one.
 */
static bool qemu_pty_line(struct ml_qemu *q, const char *line)
{
    const char *p = strstr(line, "char device redirected to ");
    if (p == NULL) {
        return false;
    }
    char path[128];
    int k;
    if (sscanf(p, "char device redirected to %127s (label serial%d)", path, &k) == 2 && k > 0 &&
        k < ML_QEMU_UARTS) {
        snprintf(q->path[k], sizeof q->path[k], "%s", path);
        q->hold[k] = hold_pty(path);
    }
    return true;
}

/*
 * The co-processor follows the MCU's resets: on the product the MCU holds the
 * ESP32's EN pin low at boot, so a reboot of the image (its banner's first line,
 * "meterlab ...") restarts the module too. Without it a reboot in the middle of
 * AT+CIPSEND leaves the module waiting for data, and it swallows the new boot's
 * commands as payload (seen: the network never came back after POST /reset).
 */
static void console_line_seen(struct ml_qemu *q, const char *line)
{
#ifdef HAVE_AT_EMU
    if (q->emu != NULL && strncmp(line, "meterlab ", 9) == 0) {
        ml_at_emu_reset(q->emu);
    }
#else
    (void)q;
    (void)line;
#endif
}

static int next_line(struct ml_qemu *q, char *line, size_t cap, int timeout_ms)
{
    uint64_t until = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - q->buf);
            size_t take = n < cap - 1 ? n : cap - 1;
            memcpy(line, q->buf, take);
            line[take] = '\0';
            while (take > 0 && (line[take - 1] == '\r' || line[take - 1] == '\n')) {
                line[--take] = '\0';
            }
            memmove(q->buf, nl + 1, q->len - n - 1);
            q->len -= n + 1;
            if (qemu_pty_line(q, line)) {
                continue;
            }
            return 1;
        }
        if (q->len == sizeof q->buf) {
            q->len = 0; /* a line longer than the buffer: drop it */
        }
        uint64_t now = now_ms();
        if (now >= until) {
            return 0;
        }
        struct pollfd pfd = {q->out_fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(until - now));
        if (r < 0 && errno == EINTR) {
            return 0; /* a signal: let the caller check for a stop */
        }
        if (r <= 0) {
            continue;
        }
        ssize_t got = read(q->out_fd, q->buf + q->len, sizeof q->buf - q->len);
        if (got == 0) {
            return -1;
        }
        if (got < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return -1;
        }
        q->len += (size_t)got;
    }
}

int ml_qemu_line(struct ml_qemu *q, char *line, size_t cap, int timeout_ms)
{
    int r = next_line(q, line, cap, timeout_ms);
    if (r == 1) {
        console_line_seen(q, line);
    }
    return r;
}

int ml_qemu_reset(struct ml_qemu *q, char *err, size_t cap)
{
    if (q->monitor[0] == '\0') {
        snprintf(err, cap, "QEMU was started without a monitor: no reset");
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", q->monitor);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, cap, "QEMU monitor %s: %s", q->monitor, strerror(errno));
        close(fd);
        return -1;
    }
    static const char cmd[] = "system_reset\n";
    int rc = write(fd, cmd, sizeof cmd - 1) == (ssize_t)(sizeof cmd - 1) ? 0 : -1;
    if (rc != 0) {
        snprintf(err, cap, "QEMU monitor %s: write: %s", q->monitor, strerror(errno));
    } else {
        /* the monitor echoes the command once it has run it */
        char buf[512];
        size_t got = 0;
        uint64_t until = now_ms() + 2000;
        while (got + 1 < sizeof buf && now_ms() < until) {
            struct pollfd pfd = {fd, POLLIN, 0};
            if (poll(&pfd, 1, 100) <= 0) {
                continue;
            }
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "system_reset\r\n") != NULL || strstr(buf, "system_reset\n") != NULL) {
                break;
            }
        }
    }
    close(fd);
    return rc;
}

int ml_qemu_button(struct ml_qemu *q, bool pressed, char *err, size_t cap)
{
    /* the images' stand-in for the FPGA I/O button (ML_CM_CONSOLE_BUTTON, hal_gpio.c) */
    const char b = pressed ? 'B' : 'b';
    if (q->in_fd < 0 || write(q->in_fd, &b, 1) != 1) {
        snprintf(err, cap, "QEMU's console input: %s", q->in_fd < 0 ? "closed" : strerror(errno));
        return -1;
    }
    return 0;
}

int ml_qemu_link(struct ml_qemu *q, bool up, char *err, size_t cap)
{
#ifdef HAVE_AT_EMU
    if (q->emu != NULL) {
        ml_at_emu_set_fault(q->emu, ML_AT_EMU_LINK_DOWN, !up);
        return 0;
    }
#endif
    (void)up;
    snprintf(err, cap, "no network co-processor (a P1MB image, or built without sim/at_emu)");
    return -1;
}

/* ------------------------------------------------------------------------- */
/* The banner: lines the image prints at boot, up to "ready"                 */
/* ------------------------------------------------------------------------- */

void ml_qemu_banner_take(struct ml_qemu_banner *b, const char *line)
{
    if (strncmp(line, "meterlab ", 9) == 0) {
        memset(b, 0, sizeof *b); /* (re)boot: the banner starts over */
        snprintf(b->title, sizeof b->title, "%s", line);
    } else if (strncmp(line, "serial ", 7) == 0) {
        const char *comma = strstr(line, ", reset ");
        size_t n = comma != NULL ? (size_t)(comma - line - 7) : strlen(line + 7);
        snprintf(b->serial, sizeof b->serial, "%.*s", (int)n, line + 7);
        snprintf(b->reset, sizeof b->reset, "%s", comma != NULL ? comma + 8 : "?");
    } else if (strncmp(line, "rs485 ", 6) == 0) {
        snprintf(b->rs485, sizeof b->rs485, "%s", line + 6);
    } else if (strncmp(line, "configuration ", 14) == 0) {
        snprintf(b->config, sizeof b->config, "%s", line + 14);
    } else if (b->n_lines < 8) {
        snprintf(b->lines[b->n_lines++], sizeof b->lines[0], "%s", line);
    }
}

const char *ml_qemu_banner_get(const struct ml_qemu_banner *b, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < b->n_lines; i++) {
        if (strncmp(b->lines[i], key, k) == 0 && b->lines[i][k] == ' ') {
            return b->lines[i] + k + 1;
        }
    }
    return NULL;
}

/* Read the banner up to "ready". @return 0, or -1 (message in @p err). */
static int read_banner(struct ml_qemu *q, struct ml_qemu_banner *b, const char *image, int boot_ms,
                       char *err, size_t cap)
{
    memset(b, 0, sizeof *b);
    uint64_t until = now_ms() + (uint64_t)boot_ms;
    char line[512];
    char seen[1024] = "";
    for (;;) {
        uint64_t now = now_ms();
        if (now >= until || stopping(q)) {
            break;
        }
        int r = ml_qemu_line(q, line, sizeof line, (int)(until - now));
        if (r < 0) {
            ml_qemu_alive(q);
            snprintf(err, cap, "QEMU stopped before the image was up%s%s",
                     seen[0] ? "; it printed:\n" : "", seen);
            return -1;
        }
        if (r == 0) {
            continue;
        }
        size_t used = strlen(seen);
        snprintf(seen + used, sizeof seen - used, "  %s\n", line);
        if (strcmp(line, "ready") == 0) {
            return 0;
        }
        ml_qemu_banner_take(b, line);
    }
    if (stopping(q)) {
        snprintf(err, cap, "stopped while QEMU booted");
        return -1;
    }
    snprintf(err, cap,
             "%s did not print its start banner within %d s (is it a meterlab device image?)%s%s",
             image, boot_ms / 1000, seen[0] ? "; console:\n" : "", seen);
    return -1;
}

#ifdef HAVE_AT_EMU
/* Kept quiet (the console lines say what the device does), unless ML_QEMU_AT_LOG
 * names a file for the co-processor's traffic (debugging). */
static void at_log(void *ctx, const char *line)
{
    (void)ctx;
    static FILE *f;
    static bool tried;
    if (!tried) {
        tried = true;
        const char *path = getenv("ML_QEMU_AT_LOG");
        f = path != NULL && path[0] != '\0' ? fopen(path, "a") : NULL;
    }
    if (f != NULL) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        fprintf(f, "%ld.%06ld %s\n", (long)ts.tv_sec, ts.tv_nsec / 1000, line);
        fflush(f);
    }
    if (getenv("ML_AT_LOG") != NULL) {
        fprintf(stderr, "[at] %s\n", line);
    }
}

/* ------------------------------------------------------------------------- */
/* Seeding the image's configuration (Smart Connect) through its HTTPS API   */
/* ------------------------------------------------------------------------- */

/* Append "key":"value" (a JSON string, escaped) to the object under way in @p j. */
static void json_kv(char *j, size_t cap, const char *key, const char *val)
{
    size_t n = strlen(j);
    n += (size_t)snprintf(j + n, cap - n, "%s\"%s\":\"", j[n - 1] != '{' ? "," : "", key);
    for (const char *c = val; *c != '\0' && n + 8 < cap; c++) {
        if (*c == '"' || *c == '\\') {
            j[n++] = '\\';
            j[n++] = *c;
        } else if ((unsigned char)*c < 0x20) {
            n += (size_t)snprintf(j + n, cap - n, "\\u%04x", (unsigned)*c);
        } else {
            j[n++] = *c;
        }
    }
    snprintf(j + n, cap - n, "\"");
}

/* One request over HTTPS to 127.0.0.1:@p port with Basic auth, trusting only the
 * module's certificate @p ca. @return the status code, or -1 (no connection / no
 * answer). The body goes to @p resp. */
static int http_call(const char *ca, uint16_t port, const char *password, const char *method,
                     const char *path, const char *body, char *resp, size_t cap)
{
    struct ml_http_resp r;
    char why[256];
    if (ml_http_request_tls(ca, "127.0.0.1", port, "user", password, method, path, body, 3.0, &r,
                            why, sizeof why) != 0) {
        snprintf(resp, cap, "%s", why);
        return -1;
    }
    snprintf(resp, cap, "%s", r.body != NULL ? r.body : "");
    ml_http_resp_free(&r);
    return r.status;
}

/*
 * The sim seeds its configuration from --meter-type/--mqtt... while the store
 * is empty; the image gets the same through its HTTP API: PATCH, then a reset
 * (MQTT and the template apply at boot), then its banner again.
 * @return 0, or -1 (message in @p err).
 */
static int seed_config(struct ml_qemu *q, struct ml_qemu_banner *b, const struct ml_qemu_seed *sd,
                       uint16_t https_port, const char *password, const char *image, int boot_ms,
                       char *err, size_t cap)
{
    char body[1024] = "{";
    if (sd->meter_type != NULL) {
        json_kv(body, sizeof body, "MeterType", sd->meter_type);
    }
    if (sd->mqtt_url != NULL || sd->site != NULL || sd->user != NULL || sd->password != NULL) {
        size_t n = strlen(body);
        snprintf(body + n, sizeof body - n, "%s\"MQTT\":{\"Enable\":%s", n > 1 ? "," : "",
                 sd->mqtt_url != NULL ? "true" : "false");
        if (sd->mqtt_url != NULL) {
            json_kv(body, sizeof body, "Broker", sd->mqtt_url);
        }
        if (sd->site != NULL) {
            json_kv(body, sizeof body, "Site", sd->site);
        }
        if (sd->user != NULL) {
            json_kv(body, sizeof body, "Username", sd->user);
        }
        if (sd->password != NULL) {
            json_kv(body, sizeof body, "Password", sd->password);
        }
        n = strlen(body);
        snprintf(body + n, sizeof body - n, "}");
    }
    size_t n = strlen(body);
    snprintf(body + n, sizeof body - n, "}");
    char resp[2048];
    int code = -1;
    for (int i = 0; i < 100 && code < 0 && !stopping(q); i++) {
        code = http_call(q->cert, https_port, password, "PATCH", "/api/v1/config", body, resp,
                         sizeof resp);
        if (code < 0) {
            usleep(50000); /* the server opens once the co-processor link is up */
        }
    }
    if (code != 200) {
        snprintf(err, cap, "the image %s the configuration %s%s%s",
                 code < 0 ? "did not answer (HTTP) for" : "refused", body, code < 0 ? "" : ": ",
                 code < 0 ? "" : resp);
        return -1;
    }
    (void)http_call(q->cert, https_port, password, "POST", "/api/v1/reset", "", resp, sizeof resp);
    return read_banner(q, b, image, boot_ms, err, cap); /* the banner after the reboot */
}
#endif /* HAVE_AT_EMU */

int ml_qemu_start(struct ml_qemu **out, const struct ml_qemu_opts *o, struct ml_qemu_banner *banner,
                  char *err, size_t cap)
{
    *out = NULL;
    const char *qemu_name = o->qemu;
    if (qemu_name == NULL || qemu_name[0] == '\0') {
        qemu_name = getenv("QEMU");
    }
    if (qemu_name == NULL || qemu_name[0] == '\0') {
        qemu_name = "qemu-system-arm";
    }
    char qemu_bin[PATH_MAX];
    if (!ml_qemu_find_program(qemu_name, qemu_bin, sizeof qemu_bin)) {
        snprintf(err, cap,
                 "%s not found: install QEMU's Arm system emulator (Debian: apt-get install "
                 "qemu-system-arm, or tools/bootstrap) or set QEMU=/path",
                 qemu_name);
        return -1;
    }
    if (o->image == NULL || access(o->image, R_OK) != 0) {
        snprintf(err, cap, "image %s: %s", o->image ? o->image : "(none)",
                 o->image ? strerror(errno) : "not given");
        return -1;
    }
#ifndef HAVE_AT_EMU
    if (!o->p1mb) {
        snprintf(err, cap,
                 "built without the ESP-AT emulator (sim/at_emu): only the P1MB image "
                 "runs in QEMU");
        return -1;
    }
#endif
    bool seeding = o->seed.meter_type != NULL || o->seed.mqtt_url != NULL || o->seed.site != NULL ||
                   o->seed.user != NULL || o->seed.password != NULL;
    if (seeding && o->p1mb) {
        snprintf(err, cap, "the meter type and MQTT settings are for a Smart Connect, not a P1MB");
        return -1;
    }
    struct ml_qemu *q = calloc(1, sizeof *q);
    if (q == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    q->in_fd = q->out_fd = -1;
    for (int u = 0; u < ML_QEMU_UARTS; u++) {
        q->hold[u] = -1;
    }
    q->stop = o->stop;
    q->pty[ML_QEMU_P1_IN] = true;
    q->pty[ML_QEMU_P1_OUT] = !o->p1mb && o->p1_out;
    q->pty[ML_QEMU_RS485] = o->p1mb;
    q->pty[ML_QEMU_COPROC] = !o->p1mb;
    if (o->monitor != NULL && o->monitor[0] != '\0') {
        if (strlen(o->monitor) >= sizeof q->monitor) {
            snprintf(err, cap, "monitor socket path too long: %s", o->monitor);
            free(q);
            return -1;
        }
        snprintf(q->monitor, sizeof q->monitor, "%s", o->monitor);
        unlink(q->monitor);
    }
    if (o->qmp != NULL && o->qmp[0] != '\0') {
        if (strlen(o->qmp) >= sizeof q->qmp) {
            snprintf(err, cap, "QMP socket path too long: %s", o->qmp);
            free(q);
            return -1;
        }
        snprintf(q->qmp, sizeof q->qmp, "%s", o->qmp);
        unlink(q->qmp);
    }
    if (o->icount != NULL && o->icount[0] != '\0') {
        if (strlen(o->icount) >= sizeof q->icount) {
            snprintf(err, cap, "-icount value too long: %s", o->icount);
            free(q);
            return -1;
        }
        snprintf(q->icount, sizeof q->icount, "%s", o->icount);
    }
    const char *machine = o->machine != NULL ? o->machine : "mps2-an386";
    if (strlen(machine) >= sizeof q->machine) {
        snprintf(err, cap, "QEMU machine name too long: %s", machine);
        free(q);
        return -1;
    }
    snprintf(q->machine, sizeof q->machine, "%s", machine);
    signal(SIGPIPE, SIG_IGN);
    int boot_ms = o->boot_ms > 0 ? o->boot_ms : BOOT_TIMEOUT_MS;
    struct ml_qemu_banner bl, *b = banner != NULL ? banner : &bl;
    if (spawn(q, qemu_bin, o->image, err, cap) != 0 ||
        read_banner(q, b, o->image, boot_ms, err, cap) != 0) {
        goto fail;
    }
    for (int u = ML_QEMU_P1_IN; u < ML_QEMU_UARTS; u++) {
        if (q->pty[u] && q->path[u][0] == '\0') {
            snprintf(err, cap, "QEMU did not report the pty of UART%d", u);
            goto fail;
        }
    }
#ifdef HAVE_AT_EMU
    if (q->pty[ML_QEMU_COPROC]) {
        /* The co-processor's pty: the emulator opens it like a module on a UART. */
        int fd = open(q->path[ML_QEMU_COPROC], O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(err, cap, "cannot open the co-processor pty %s: %s", q->path[ML_QEMU_COPROC],
                     strerror(errno));
            goto fail;
        }
        struct ml_at_emu_opts ao;
        memset(&ao, 0, sizeof ao);
        ao.bind_addr = o->bind != NULL ? o->bind : "127.0.0.1";
        ao.ports[0].device_port = 502;
        ao.ports[0].host_port = o->modbus_port;
        ao.ports[1].device_port = 80;
        ao.ports[1].host_port = o->http_port;
        ao.ports[2].device_port = 443;
        ao.ports[2].host_port = o->https_port;
        ao.n_ports = 3;
        /* the module's storage: its SSL server's key and certificate (made at its first
         * SSL server); without one, a directory for this run */
        if (o->tls_dir != NULL) {
            snprintf(q->tls_dir, sizeof q->tls_dir, "%s", o->tls_dir);
        } else {
            snprintf(q->tls_dir, sizeof q->tls_dir, "/tmp/ml-qemu-tls-XXXXXX");
            if (mkdtemp(q->tls_dir) == NULL) {
                snprintf(err, cap, "cannot make a directory for the module's key: %s",
                         strerror(errno));
                close(fd);
                goto fail;
            }
            q->tls_tmp = true;
        }
        snprintf(q->cert, sizeof q->cert, "%s/https_cert.pem", q->tls_dir);
        ao.tls_dir = q->tls_dir;
        ao.mdns = o->mdns;
        if (o->mqtt_url != NULL) {
            const char *h = strstr(o->mqtt_url, "://");
            h = h != NULL ? h + 3 : o->mqtt_url;
            const char *colon = strrchr(h, ':');
            size_t hn = colon != NULL ? (size_t)(colon - h) : strlen(h);
            snprintf(q->broker_host, sizeof q->broker_host, "%.*s", (int)hn, h);
            ao.broker_host = q->broker_host;
            ao.broker_port = colon != NULL ? (uint16_t)atoi(colon + 1) : 1883;
        }
        ao.ca_file = o->ca;
        ao.cert_file = o->cert;
        ao.key_file = o->key;
        ao.eth_link = true;
        ao.log = at_log;
        if (ml_at_emu_start(&q->emu, fd, &ao) != 0) {
            close(fd);
            q->emu = NULL;
            snprintf(err, cap, "cannot start the ESP-AT emulator (ports %u/%u/%u in use?)",
                     o->modbus_port, o->http_port, o->https_port);
            goto fail;
        }
        if (q->hold[ML_QEMU_COPROC] >= 0) {
            close(q->hold[ML_QEMU_COPROC]);
        }
        q->hold[ML_QEMU_COPROC] = fd; /* closed after the emulator stopped */
    }
    if (seeding && strstr(b->config, "store empty") != NULL) {
        const char *pw = ml_qemu_banner_get(b, "login");
        char pwc[64];
        snprintf(pwc, sizeof pwc, "%s", pw != NULL ? pw : "");
        if (seed_config(q, b, &o->seed, ml_at_emu_host_port(q->emu, 443), pwc, o->image, boot_ms,
                        err, cap) != 0) {
            goto fail;
        }
    }
    /* the host ports are bound by the emulator's thread */
    for (int i = 0; q->emu != NULL && i < 50 &&
                    (ml_at_emu_host_port(q->emu, 502) == 0 ||
                     ml_at_emu_host_port(q->emu, 80) == 0 || ml_at_emu_host_port(q->emu, 443) == 0);
         i++) {
        usleep(20000);
    }
    /* the module's SSL server has its key and certificate once the image opened it */
    for (int i = 0; q->emu != NULL && i < 500 && access(q->cert, R_OK) != 0 && !stopping(q); i++) {
        usleep(20000);
    }
#endif
    /* Inputs written before QEMU noticed our slave fds would be lost. */
    while (now_ms() < q->start_ms + PTY_SETTLE_MS && !stopping(q)) {
        usleep(20000);
    }
    if (stopping(q)) {
        snprintf(err, cap, "stopped while QEMU booted");
        goto fail;
    }
    *out = q;
    return 0;
fail:
    ml_qemu_stop(q);
    return -1;
}
