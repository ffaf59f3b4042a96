/*
 * meterlab device --target qemu: the device's real target image (Cortex-M port,
 * firmware/ports/cortex-m) booted in qemu-system-arm -M mps2-an386. QEMU's UARTs
 * are, in UART order (docs/target.md): UART0 console on QEMU's stdio (a pipe we
 * read), UART1 P1 in, UART2 P1 out, UART3 RS485, UART4 the network
 * co-processor; each a pty (`-serial pty`) or `null` when the product does not
 * use it. The console lines the image prints (firmware/apps/<app>/target/
 * main_*.c) become the same start banner and `[t s] ...` lines as the
 * simulated device, so `meterlab run --dut qemu` reads both alike. For the
 * Smart Connect the co-processor pty is served by the ESP-AT emulator
 * (sim/at_emu) in this process: the image's Modbus TCP / HTTP / MQTT reach
 * the host through real sockets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "ml_config.h"
#include "ml_serial.h"

int ml_cli_device_qemu(int argc, char **argv);

#define BOOT_TIMEOUT_MS 10000 /* banner must appear within this */
/* QEMU notices that a pty slave was opened on a 1 s timer: input written before
 * that is dropped, so the banner is printed only once this much has passed. */
#define PTY_SETTLE_MS   1100

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: meterlab device --target qemu --product p1mb --variant V [options]\n"
        "       meterlab device --target qemu --product p1|tic [options]\n\n"
        "Boots the device's target image (Cortex-M, MPS2-AN386) in qemu-system-arm with its\n"
        "UARTs on ptys and prints the same banner and status lines as the simulated device.\n"
        "Stop it with Ctrl-C (SIGINT) or SIGTERM: QEMU is stopped with it.\n\n"
        "options:\n"
        "  --target qemu          run the target image (without it: the simulated device)\n"
        "  --product p1mb|p1|tic  which device (required)\n"
        "  --variant NAME         P1MB register map: sdm630, pro380, acr10rh, xemex (p1mb)\n"
        "  --image FILE           the image (.elf); default: <name>.elf in the target build\n"
        "                         beside this meterlab's build (build/target/bin), or\n"
        "                         $ML_TARGET_BIN; images: p1mb_<variant>.elf,\n"
        "                         smart_connect_p1.elf, smart_connect_tic.elf\n"
        "  --p1-in pty            meter input (the only choice: a QEMU pty)\n"
        "  --p1-out pty|none      P1 pass-through output (p1|tic; default pty)\n"
        "  --rs485 pty            Modbus RTU side (p1mb; a QEMU pty)\n"
        "  --modbus-port N        host port for the device's Modbus TCP server (p1|tic;\n"
        "                         default 1502, 0 = any free)\n"
        "  --http-port N          host port for the device's HTTP server (default 8080, 0 = any)\n"
        "  --bind ADDR            address the host ports bind to (default 127.0.0.1)\n"
        "  --mqtt URL             MQTT on, to this broker (mqtt[s]://host:port); the\n"
        "                         co-processor's MQTT connections go there\n"
        "  --meter-type NAME --mqtt-site S --mqtt-user U --mqtt-password P\n"
        "                         as for the sim: with --mqtt these seed the image's empty\n"
        "                         configuration (meterlab sends PATCH /api/v1/config, then\n"
        "                         POST /api/v1/reset, before it prints the banner)\n"
        "  --mqtt-ca FILE --mqtt-cert FILE --mqtt-key FILE   the co-processor's TLS files\n"
        "  --quiet                print only the start banner and errors\n"
        "  -h, --help             this text\n\n"
        "environment: QEMU (the qemu-system-arm to run), ML_TARGET_BIN (image directory).\n"
        "Build the images with `make target` (cmake --preset target && cmake --build --preset\n"
        "target). The emulated flash (configuration) lives in QEMU's RAM: it survives a\n"
        "reboot of the firmware, not a restart of this command.\n\n"
        "example:\n"
        "  meterlab device --target qemu --product p1mb --variant sdm630\n");
}

/* ------------------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Find @p prog on PATH (or take it as a path when it has a '/'). */
static bool find_program(const char *prog, char *out, size_t cap)
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
static bool find_image(const char *name, char *out, size_t cap, char *tried, size_t tcap)
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

enum { UART_CONSOLE = 0, UART_P1_IN, UART_P1_OUT, UART_RS485, UART_COPROC, UART_N };

struct qemu {
    pid_t pid;
    int out_fd; /* QEMU's stdout+stderr: console and QEMU's own messages */
    int in_fd;  /* QEMU's stdin: console input (held open) */
    bool pty[UART_N];
    char path[UART_N][128]; /* pty slave paths ("" until QEMU told) */
    int hold[UART_N];       /* our own slave fds (QEMU then sees a connected pty) */
    char buf[4096];         /* console bytes not yet a full line */
    size_t len;
    uint64_t start_ms;
};

static int qemu_start(struct qemu *q, const char *qemu_bin, const char *image)
{
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) {
        fprintf(stderr, "meterlab device: pipe: %s\n", strerror(errno));
        return -1;
    }
    const char *argv[32];
    int n = 0;
    argv[n++] = qemu_bin;
    argv[n++] = "-M";
    argv[n++] = "mps2-an386";
    argv[n++] = "-nographic";
    argv[n++] = "-monitor";
    argv[n++] = "none";
    argv[n++] = "-serial";
    argv[n++] = "stdio"; /* UART0: console */
    for (int u = UART_P1_IN; u < UART_N; u++) {
        argv[n++] = "-serial";
        argv[n++] = q->pty[u] ? "pty" : "null";
    }
    argv[n++] = "-kernel";
    argv[n++] = image;
    argv[n] = NULL;
    q->start_ms = now_ms();
    q->pid = fork();
    if (q->pid < 0) {
        fprintf(stderr, "meterlab device: fork: %s\n", strerror(errno));
        return -1;
    }
    if (q->pid == 0) {
        setpgid(0, 0); /* Ctrl-C reaches meterlab only; meterlab stops QEMU */
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
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

static void qemu_stop(struct qemu *q)
{
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
    for (int u = 0; u < UART_N; u++) {
        if (q->hold[u] >= 0) {
            close(q->hold[u]);
            q->hold[u] = -1;
        }
    }
    if (q->in_fd >= 0) {
        close(q->in_fd);
        q->in_fd = -1;
    }
    if (q->out_fd >= 0) {
        close(q->out_fd);
        q->out_fd = -1;
    }
}

/* True while QEMU runs; false (and the pid reaped) once it has exited. */
static bool qemu_alive(struct qemu *q)
{
    int status;
    if (q->pid > 0 && waitpid(q->pid, &status, WNOHANG) == q->pid) {
        q->pid = 0;
    }
    return q->pid > 0;
}

/* Open a pty slave and keep it open: QEMU sees it connected; raw, no echo. */
static int hold_pty(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
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
static bool qemu_pty_line(struct qemu *q, const char *line)
{
    const char *p = strstr(line, "char device redirected to ");
    if (p == NULL) {
        return false;
    }
    char path[128];
    int k;
    if (sscanf(p, "char device redirected to %127s (label serial%d)", path, &k) == 2 && k > 0 &&
        k < UART_N) {
        snprintf(q->path[k], sizeof q->path[k], "%s", path);
        q->hold[k] = hold_pty(path);
    }
    return true;
}

/*
 * Next complete console line within @p timeout_ms (CR/LF stripped). QEMU's pty
 * lines are consumed here. @return 1 a line, 0 timeout, -1 QEMU's output ended.
 */
static int qemu_line(struct qemu *q, char *line, size_t cap, int timeout_ms)
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

/* ------------------------------------------------------------------------- */
/* The banner: lines the image prints at boot, up to "ready"                 */
/* ------------------------------------------------------------------------- */

struct fw_banner {
    char title[160]; /* "meterlab <app>: ..." */
    char serial[64]; /* from "serial X, reset Y" */
    char reset[32];
    char rs485[96];     /* "9600 8E1, address 16, termination off" */
    char config[64];    /* "factory defaults" / "stored (flash)" */
    char lines[8][160]; /* other banner lines, kept for the app-specific parts */
    int n_lines;
};

static void banner_take(struct fw_banner *b, const char *line)
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

/* Value of banner line "<key> <value>" (NULL when absent). */
static const char *banner_get(const struct fw_banner *b, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < b->n_lines; i++) {
        if (strncmp(b->lines[i], key, k) == 0 && b->lines[i][k] == ' ') {
            return b->lines[i] + k + 1;
        }
    }
    return NULL;
}

#ifdef HAVE_AT_EMU
/*
 * The co-processor follows the MCU's resets: on the product the MCU holds the
 * ESP32's EN pin low at boot, so a reboot of the image (its banner's first line,
 * "meterlab ...") restarts the module too. Without it a reboot in the middle of
 * AT+CIPSEND leaves the module waiting for data, and it swallows the new boot's
 * commands as payload (seen: the network never came back after POST /reset).
 */
static struct ml_at_emu *boot_emu;
#endif

static void console_line_seen(const char *line)
{
#ifdef HAVE_AT_EMU
    if (boot_emu != NULL && strncmp(line, "meterlab ", 9) == 0) {
        ml_at_emu_reset(boot_emu);
    }
#else
    (void)line;
#endif
}

/* Read the banner up to "ready". @return 0, or -1 (message printed). */
static int read_banner(struct qemu *q, struct fw_banner *b, const char *image)
{
    memset(b, 0, sizeof *b);
    uint64_t until = now_ms() + BOOT_TIMEOUT_MS;
    char line[512];
    char seen[1024] = "";
    for (;;) {
        uint64_t now = now_ms();
        if (now >= until || ml_cli_stop_requested()) {
            break;
        }
        int r = qemu_line(q, line, sizeof line, (int)(until - now));
        if (r < 0) {
            qemu_alive(q);
            fprintf(stderr, "meterlab device: QEMU stopped before the image was up%s%s\n",
                    seen[0] ? "; it printed:\n" : "", seen);
            return -1;
        }
        if (r == 0) {
            continue;
        }
        console_line_seen(line);
        size_t used = strlen(seen);
        snprintf(seen + used, sizeof seen - used, "  %s\n", line);
        if (strcmp(line, "ready") == 0) {
            return 0;
        }
        banner_take(b, line);
    }
    if (ml_cli_stop_requested()) {
        return -1;
    }
    fprintf(stderr,
            "meterlab device: %s did not print its start banner within %d s (is it a "
            "meterlab device image?)%s%s\n",
            image, BOOT_TIMEOUT_MS / 1000, seen[0] ? "; console:\n" : "", seen);
    return -1;
}

/* ------------------------------------------------------------------------- */

#ifdef HAVE_AT_EMU
static void at_log(void *ctx, const char *line)
{
    (void)ctx;
    (void)line; /* kept quiet: the console lines say what the device does */
}
#endif

/* ------------------------------------------------------------------------- */
/* Seeding the image's configuration (Smart Connect) through its HTTP API    */
/* ------------------------------------------------------------------------- */

/* Options that, as for the sim, seed the configuration while the store is empty. */
struct seed {
    const char *meter_type, *mqtt_url, *site, *user, *password;
};

static void b64(const char *in, char *out, size_t cap)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)in[i] << 16;
        v |= i + 1 < n ? (uint32_t)(uint8_t)in[i + 1] << 8 : 0u;
        v |= i + 2 < n ? (uint32_t)(uint8_t)in[i + 2] : 0u;
        out[o++] = t[(v >> 18) & 63u];
        out[o++] = t[(v >> 12) & 63u];
        out[o++] = i + 1 < n ? t[(v >> 6) & 63u] : '=';
        out[o++] = i + 2 < n ? t[v & 63u] : '=';
    }
    out[o] = '\0';
}

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

/* One HTTP/1.1 request to 127.0.0.1:@p port with Basic auth. @return the
 * status code, or -1 (no connection / no answer). The body goes to @p resp. */
static int http_call(uint16_t port, const char *password, const char *method, const char *path,
                     const char *body, char *resp, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char cred[96], auth[160], req[2048];
    snprintf(cred, sizeof cred, "user:%s", password);
    b64(cred, auth, sizeof auth);
    int n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     method, path, auth, body != NULL ? strlen(body) : (size_t)0,
                     body != NULL ? body : "");
    if (n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, resp + got, cap - 1 - got)) > 0) {
        got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    int code = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1) {
        return -1;
    }
    const char *bodyp = strstr(resp, "\r\n\r\n");
    if (bodyp != NULL) {
        memmove(resp, bodyp + 4, strlen(bodyp + 4) + 1);
    }
    return code;
}

/*
 * The sim seeds its configuration from --meter-type/--mqtt... while the store
 * is empty; the image gets the same through its HTTP API: PATCH, then a reset
 * (MQTT and the template apply at boot), then its banner again.
 * @return 0, or -1 (message printed).
 */
static int seed_config(struct qemu *q, struct fw_banner *b, const struct seed *sd,
                       uint16_t http_port, const char *password, const char *image)
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
    for (int i = 0; i < 100 && code < 0 && !ml_cli_stop_requested(); i++) {
        code = http_call(http_port, password, "PATCH", "/api/v1/config", body, resp, sizeof resp);
        if (code < 0) {
            usleep(50000); /* the server opens once the co-processor link is up */
        }
    }
    if (code != 200) {
        fprintf(stderr, "meterlab device: the image %s the configuration %s%s%s\n",
                code < 0 ? "did not answer (HTTP) for" : "refused", body, code < 0 ? "" : ": ",
                code < 0 ? "" : resp);
        return -1;
    }
    (void)http_call(http_port, password, "POST", "/api/v1/reset", "", resp, sizeof resp);
    return read_banner(q, b, image); /* the image's banner after the reboot */
}

int ml_cli_device_qemu(int argc, char **argv)
{
    enum { O_TARGET = ML_CLI_O_NEXT, O_VARIANT, O_IMAGE, O_RS485, O_REALTIME, O_UNSUPPORTED };
    static const struct option opts[] = {
        ML_CLI_DEVICE_OPTIONS,
        {"target", required_argument, 0, O_TARGET},
        {"variant", required_argument, 0, O_VARIANT},
        {"image", required_argument, 0, O_IMAGE},
        {"rs485", required_argument, 0, O_RS485},
        {"realtime", no_argument, 0, O_REALTIME},
        /* the sim's options that seed its configuration: the image has its own store */
        {"serial", required_argument, 0, O_UNSUPPORTED},
        {"state-dir", required_argument, 0, O_UNSUPPORTED},
        {0, 0, 0, 0},
    };
    const char *product = NULL, *variant = NULL, *image_arg = NULL, *bind = "127.0.0.1";
    const char *mqtt = NULL, *ca = NULL, *cert = NULL, *key = NULL;
    bool quiet = false, p1out = true;
    struct seed seed = {NULL, NULL, NULL, NULL, NULL};
    uint16_t modbus_port = 1502, http_port = 8080;
    int c, longindex = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &longindex)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return ML_EXIT_OK;
        case O_TARGET:
            if (strcmp(optarg, "qemu") != 0) {
                fprintf(stderr,
                        "meterlab device: --target '%s': must be qemu (or leave it out "
                        "for the simulated device)\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_PRODUCT:
            product = optarg;
            break;
        case O_VARIANT:
            variant = optarg;
            break;
        case O_IMAGE:
            image_arg = optarg;
            break;
        case ML_CLI_O_P1IN:
        case O_RS485:
            if (strcmp(optarg, "pty") != 0) {
                fprintf(stderr,
                        "meterlab device: --%s '%s': with --target qemu only 'pty' is supported\n",
                        opts[longindex].name, optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_P1OUT:
            if (strcmp(optarg, "none") == 0) {
                p1out = false;
            } else if (strcmp(optarg, "pty") != 0) {
                fprintf(stderr, "meterlab device: --p1-out '%s': with --target qemu: pty or none\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_PORT:
        case ML_CLI_O_HTTP:
            if (!ml_cli_port_opt(c == ML_CLI_O_PORT ? "--modbus-port" : "--http-port", optarg,
                                 c == ML_CLI_O_PORT ? &modbus_port : &http_port)) {
                return ML_EXIT_USAGE;
            }
            break;
        case ML_CLI_O_BIND:
            bind = optarg;
            break;
        case ML_CLI_O_MQTT:
            if (!ml_cli_mqtt_url_ok(optarg)) {
                return ML_EXIT_USAGE;
            }
            mqtt = optarg;
            seed.mqtt_url = optarg;
            break;
        case ML_CLI_O_CA:
            ca = optarg;
            break;
        case ML_CLI_O_CERT:
            cert = optarg;
            break;
        case ML_CLI_O_KEY:
            key = optarg;
            break;
        case ML_CLI_O_QUIET:
            quiet = true;
            break;
        case ML_CLI_O_MTYPE:
            seed.meter_type = optarg;
            break;
        case ML_CLI_O_SITE:
            seed.site = optarg;
            break;
        case ML_CLI_O_USER:
            seed.user = optarg;
            break;
        case ML_CLI_O_PASS:
            seed.password = optarg;
            break;
        case O_REALTIME:
            break; /* --realtime: QEMU always runs against the wall clock */
        case O_UNSUPPORTED:
            fprintf(stderr,
                    "meterlab device: --%s is not supported with --target qemu (the image has "
                    "its own identity and configuration store; configure it through its "
                    "interfaces)\n",
                    opts[longindex].name);
            return ML_EXIT_USAGE;
        default:
            fprintf(stderr,
                    "meterlab device: unknown or incomplete option '%s' for --target qemu (see "
                    "--target qemu --help)\n",
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (!ml_cli_device_args_ok(argc, argv, product, "p1mb|p1|tic") ||
        !ml_cli_mqtt_tls_ok(ca, cert, key)) {
        return ML_EXIT_USAGE;
    }
    bool is_p1mb = strcmp(product, "p1mb") == 0;
    bool is_tic = strcmp(product, "tic") == 0;
    if (!is_p1mb && !is_tic && strcmp(product, "p1") != 0) {
        fprintf(stderr, "meterlab device: --product '%s': must be p1, tic or p1mb\n", product);
        return ML_EXIT_USAGE;
    }
    char name[64];
    if (is_p1mb) {
        static const char *const known[] = {"sdm630", "pro380", "acr10rh", "xemex"};
        bool ok = false;
        for (size_t i = 0; variant != NULL && i < sizeof known / sizeof known[0]; i++) {
            ok = ok || strcmp(variant, known[i]) == 0;
        }
        if (!ok) {
            fprintf(stderr,
                    "meterlab device: --variant %s%s%s: must be sdm630, pro380, acr10rh or "
                    "xemex for --product p1mb\n",
                    variant ? "'" : "", variant ? variant : "is required", variant ? "'" : "");
            return ML_EXIT_USAGE;
        }
        snprintf(name, sizeof name, "p1mb_%s.elf", variant);
    } else {
        if (variant != NULL) {
            fprintf(stderr, "meterlab device: --variant is for --product p1mb\n");
            return ML_EXIT_USAGE;
        }
        snprintf(name, sizeof name, "smart_connect_%s.elf", is_tic ? "tic" : "p1");
    }

    /* QEMU and the image, with an error that says how to get them. */
    const char *qemu_name = getenv("QEMU");
    if (qemu_name == NULL || qemu_name[0] == '\0') {
        qemu_name = "qemu-system-arm";
    }
    char qemu_bin[PATH_MAX];
    if (!find_program(qemu_name, qemu_bin, sizeof qemu_bin)) {
        fprintf(stderr,
                "meterlab device: %s not found: install QEMU's Arm system emulator (Debian: "
                "apt-get install qemu-system-arm, or tools/bootstrap) or set QEMU=/path\n",
                qemu_name);
        return ML_EXIT_USAGE;
    }
    char image[PATH_MAX], tried[3 * PATH_MAX];
    if (image_arg != NULL) {
        snprintf(image, sizeof image, "%s", image_arg);
        if (access(image, R_OK) != 0) {
            fprintf(stderr, "meterlab device: --image %s: %s\n", image, strerror(errno));
            return ML_EXIT_USAGE;
        }
    } else if (!find_image(name, image, sizeof image, tried, sizeof tried)) {
        fprintf(stderr,
                "meterlab device: no target image %s (looked in %s): build it with `make "
                "target` (preset 'target': cmake --preset target && cmake --build --preset "
                "target), or give --image FILE\n",
                name, tried);
        return ML_EXIT_USAGE;
    }
#ifndef HAVE_AT_EMU
    if (!is_p1mb) {
        fprintf(stderr, "meterlab device: this meterlab was built without the ESP-AT emulator "
                        "(sim/at_emu): --target qemu runs only --product p1mb\n");
        return ML_EXIT_USAGE;
    }
#endif

    struct qemu q;
    memset(&q, 0, sizeof q);
    q.in_fd = q.out_fd = -1;
    for (int u = 0; u < UART_N; u++) {
        q.hold[u] = -1;
    }
    q.pty[UART_P1_IN] = true;
    q.pty[UART_P1_OUT] = !is_p1mb && p1out;
    q.pty[UART_RS485] = is_p1mb;
    q.pty[UART_COPROC] = !is_p1mb;
    signal(SIGPIPE, SIG_IGN);
    ml_cli_catch_stop_signals();
    if (qemu_start(&q, qemu_bin, image) != 0) {
        return ML_EXIT_USAGE;
    }

#ifdef HAVE_AT_EMU
    struct ml_at_emu *emu = NULL;
    char broker_host[256] = "";
    uint16_t broker_port = 0;
#endif
    int rc = ML_EXIT_USAGE;
    struct fw_banner b;
    if (read_banner(&q, &b, image) != 0) {
        goto out;
    }
    for (int u = UART_P1_IN; u < UART_N; u++) {
        if (q.pty[u] && q.path[u][0] == '\0') {
            fprintf(stderr, "meterlab device: QEMU did not report the pty of UART%d\n", u);
            goto out;
        }
    }
#ifdef HAVE_AT_EMU
    if (q.pty[UART_COPROC]) {
        /* The co-processor's pty: the emulator opens it like a module on a UART. */
        int fd = open(q.path[UART_COPROC], O_RDWR | O_NOCTTY);
        if (fd < 0) {
            fprintf(stderr, "meterlab device: cannot open the co-processor pty %s: %s\n",
                    q.path[UART_COPROC], strerror(errno));
            goto out;
        }
        struct ml_at_emu_opts o;
        memset(&o, 0, sizeof o);
        o.bind_addr = bind;
        o.ports[0].device_port = 502;
        o.ports[0].host_port = modbus_port;
        o.ports[1].device_port = 80;
        o.ports[1].host_port = http_port;
        o.n_ports = 2;
        if (mqtt != NULL) {
            const char *h = strstr(mqtt, "://") + 3;
            const char *colon = strrchr(h, ':');
            size_t hn = colon != NULL ? (size_t)(colon - h) : strlen(h);
            snprintf(broker_host, sizeof broker_host, "%.*s", (int)hn, h);
            broker_port = colon != NULL ? (uint16_t)atoi(colon + 1) : 1883;
            o.broker_host = broker_host;
            o.broker_port = broker_port;
        }
        o.ca_file = ca;
        o.cert_file = cert;
        o.key_file = key;
        o.eth_link = true;
        o.log = at_log;
        if (ml_at_emu_start(&emu, fd, &o) != 0) {
            close(fd);
            fprintf(stderr,
                    "meterlab device: cannot start the ESP-AT emulator (ports %u/%u in "
                    "use?)\n",
                    modbus_port, http_port);
            goto out;
        }
        q.hold[UART_COPROC] = fd; /* closed after the emulator stopped */
        boot_emu = emu;
    }
#else
    (void)bind;
    (void)mqtt;
    (void)ca;
    (void)cert;
    (void)key;
    (void)modbus_port;
    (void)http_port;
#endif
    bool seeding = seed.meter_type != NULL || seed.mqtt_url != NULL || seed.site != NULL ||
                   seed.user != NULL || seed.password != NULL;
    if (seeding && is_p1mb) {
        fprintf(stderr, "meterlab device: --meter-type/--mqtt... are for --product p1|tic\n");
        goto out;
    }
#ifdef HAVE_AT_EMU
    if (seeding && strstr(b.config, "store empty") != NULL) {
        const char *pw = banner_get(&b, "login");
        if (seed_config(&q, &b, &seed, ml_at_emu_host_port(emu, 80), pw != NULL ? pw : "", image) !=
            0) {
            goto out;
        }
    }
#endif
    /* Inputs written before QEMU noticed our slave fds would be lost. */
    while (now_ms() < q.start_ms + PTY_SETTLE_MS && !ml_cli_stop_requested()) {
        usleep(20000);
    }

    if (is_p1mb) {
        /* "meterlab p1mb: variant sdm630 (Eastron-SDM630), board B, firmware F" */
        const char *v = strstr(b.title, "variant ");
        const char *fw = strstr(b.title, "firmware ");
        const char *board = strstr(b.title, "board ");
        int vlen = 0;
        if (v != NULL && board != NULL && board > v + 10) {
            vlen = (int)(board - v - 8 - 2); /* up to ", board" */
        }
        printf("meterlab device: P1MB, variant %.*s, qemu %.*s, firmware %s\n", vlen,
               v != NULL ? v + 8 : "", board != NULL ? (int)strcspn(board + 6, ",") : 0,
               board != NULL ? board + 6 : "", fw != NULL ? fw + 9 : "?");
        printf("  serial number  %s\n", b.serial);
        printf("  P1 in          %s (115200 8N1)\n", q.path[UART_P1_IN]);
        printf("  RS485          %s (%s)\n", q.path[UART_RS485], b.rs485);
        printf("  configuration  %s\n", b.config);
    } else {
        const char *fw = strstr(b.title, "firmware ");
        printf("meterlab device: %s (qemu, firmware %s)\n",
               is_tic ? "Smart TIC Connect" : "Smart P1/A1 Connect", fw != NULL ? fw + 9 : "?");
        const char *pw = banner_get(&b, "login");
        printf("  serial number  %s\n", b.serial);
        printf("  login          user / %s\n", pw != NULL ? pw : "?");
        const struct ml_serial_cfg *line = is_tic ? &ml_serial_tic_std : &ml_serial_p1_v4;
        printf("  %-14s %s (%u %u%c%u)\n", is_tic ? "TIC in" : "P1 in", q.path[UART_P1_IN],
               line->baud, line->data_bits, line->parity, line->stop_bits);
        printf("  P1 out         %s\n", q.pty[UART_P1_OUT] ? q.path[UART_P1_OUT] : "none");
#ifdef HAVE_AT_EMU
        const char *tpl = banner_get(&b, "template");
        uint16_t mb = 0, http = 0;
        for (int i = 0; i < 50 && (mb == 0 || http == 0); i++) {
            mb = ml_at_emu_host_port(emu, 502);
            http = ml_at_emu_host_port(emu, 80);
            if (mb == 0 || http == 0) {
                usleep(20000);
            }
        }
        printf("  Modbus TCP     port %u, template %s\n", mb, tpl != NULL ? tpl : "?");
        printf("  HTTP           http://user:%s@127.0.0.1:%u/ (API /api/v1/...)\n",
               pw != NULL ? pw : "?", http);
        printf("  config         %s\n", b.config[0] ? b.config : "?");
        const char *m = banner_get(&b, "mqtt");
        printf("  MQTT           %s\n", m != NULL ? m : "off");
#endif
    }
    printf("  image          %s\n", image);
    printf("  stop with Ctrl-C\n");
    fflush(stdout);

    /* Console lines: status changes as "[t s] ...", a reboot's banner condensed. */
    char line[512];
    bool in_banner = false;
    struct fw_banner rb;
    while (!ml_cli_stop_requested()) {
        int r = qemu_line(&q, line, sizeof line, 200);
        if (r < 0 || !qemu_alive(&q)) {
            if (ml_cli_stop_requested()) {
                break;
            }
            fprintf(stderr, "meterlab device: QEMU exited unexpectedly\n");
            rc = ML_EXIT_FAIL;
            goto out;
        }
        if (r == 0 || line[0] == '\0') {
            continue;
        }
        double t = (double)(now_ms() - q.start_ms) / 1e3;
        console_line_seen(line);
        if (strncmp(line, "meterlab ", 9) == 0) {
            in_banner = true; /* the image rebooted */
            memset(&rb, 0, sizeof rb);
        }
        if (in_banner) {
            if (strcmp(line, "ready") == 0) {
                in_banner = false;
                if (!quiet) {
                    printf("[%8.1f s] rebooted (reset %s)%s%s\n", t, rb.reset,
                           rb.rs485[0] ? ": RS485 " : "", rb.rs485);
                }
                /* as the sim: the line settings ("9600 8E1") when a reboot changed them */
                size_t ln = strcspn(rb.rs485, ",");
                if (rb.rs485[0] &&
                    (ln != strcspn(b.rs485, ",") || strncmp(rb.rs485, b.rs485, ln))) {
                    printf("[%8.1f s] RS485 line settings now %.*s\n", t, (int)ln, rb.rs485);
                }
                if (rb.rs485[0]) {
                    snprintf(b.rs485, sizeof b.rs485, "%s", rb.rs485);
                }
            } else {
                banner_take(&rb, line);
            }
        } else if (!quiet || strncmp(line, "ASSERT", 6) == 0 || strncmp(line, "FAULT", 5) == 0 ||
                   strncmp(line, "WATCHDOG", 8) == 0) {
            printf("[%8.1f s] %s\n", t, line);
        }
        fflush(stdout);
    }
    printf("meterlab device: stopping\n");
    fflush(stdout);
    rc = ML_EXIT_OK;
out:
#ifdef HAVE_AT_EMU
    boot_emu = NULL;
    ml_at_emu_stop(emu);
#endif
    qemu_stop(&q);
    return rc;
}
