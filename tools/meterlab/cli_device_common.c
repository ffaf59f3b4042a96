/* Shared by the `meterlab device` products (and at-emu, record, play): ports,
 * options and clean stop. */
#define _GNU_SOURCE
#include "cli_device_common.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "mqtt/mqtt_policy.h"
#include "sim.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void ml_cli_catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_flag = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool ml_cli_stop_requested(void)
{
    return stop_flag != 0;
}

void ml_cli_request_stop(void)
{
    stop_flag = 1;
}

bool ml_cli_no_extra_args(const char *cmd, const char *hint, int argc, char **argv)
{
    if (optind < argc) {
        fprintf(stderr, "meterlab %s: unexpected argument '%s'%s\n", cmd, argv[optind], hint);
        return false;
    }
    return true;
}

bool ml_cli_device_args_ok(int argc, char **argv, const char *product, const char *products)
{
    if (!ml_cli_no_extra_args("device", "", argc, argv)) {
        return false;
    }
    if (product == NULL) {
        fprintf(stderr, "meterlab device: --product %s is required (see --help)\n", products);
        return false;
    }
    return true;
}

bool ml_cli_mqtt_url_ok(const char *arg)
{
    if (mqtt_broker_url_parse(arg, strlen(arg), NULL) != ML_OK) {
        fprintf(stderr,
                "meterlab device: --mqtt '%s': not a broker URL (mqtt://host[:port] or "
                "mqtts://host[:port]; host a name, IPv4 or [IPv6]; no user, path or query)\n",
                arg);
        return false;
    }
    return true;
}

static const char *opt_file(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

bool ml_cli_mqtt_tls_ok(const char *ca, const char *cert, const char *key)
{
    ca = opt_file(ca);
    cert = opt_file(cert);
    key = opt_file(key);
    if (ca == NULL && cert == NULL && key == NULL) {
        return true;
    }
    char why[512];
    if (sim_mqtt_tls_check(ca, cert, key, why, sizeof why) != ML_OK) {
        fprintf(stderr, "meterlab device: MQTT TLS (--mqtt-ca/--mqtt-cert/--mqtt-key): %s\n", why);
        return false;
    }
    return true;
}

bool ml_cli_port_number(const char *s, uint16_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || v < 0 || v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

bool ml_cli_port_opt(const char *opt, const char *arg, uint16_t *out)
{
    if (!ml_cli_port_number(arg, out)) {
        fprintf(stderr, "meterlab device: %s '%s': not a port number 0..65535\n", opt, arg);
        return false;
    }
    return true;
}

bool ml_cli_serial_opt(const char *arg, char *out, size_t cap)
{
    if (arg[0] == '\0' || strlen(arg) >= cap) {
        fprintf(stderr, "meterlab device: --serial must be 1..%zu characters\n", cap - 1);
        return false;
    }
    snprintf(out, cap, "%s", arg);
    return true;
}

int ml_cli_open_port(const char *what, const char *arg, const struct ml_serial_cfg *cfg, char *path,
                     size_t cap, bool *is_pty)
{
    char err[512];
    bool pty = strcmp(arg, "pty") == 0;
    if (is_pty != NULL) {
        *is_pty = pty;
    }
    if (pty) {
        /* ml_serial_open_pty keeps a slave fd open: no hang-up spin while nobody
         * has the pty open */
        int fd = ml_serial_open_pty(path, cap);
        if (fd < 0) {
            fprintf(stderr, "meterlab device: cannot create a pty for %s: %s\n", what,
                    strerror(-fd));
        }
        return fd;
    }
    snprintf(path, cap, "%s", arg);
    int fd = ml_serial_open(arg, cfg, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "meterlab device: %s (%s)\n", err, what);
    }
    return fd;
}

/* ------------------------------------------------------------------------- */
/* The bench control socket (--control PATH)                                 */
/* ------------------------------------------------------------------------- */

struct ml_cli_control {
    struct ml_cli_control_ops ops;
    char path[108];
    int lfd, wake[2];
    pthread_t th;
};

/* One command line -> one answer line. */
static void control_do(struct ml_cli_control *c, char *line, char *ans, size_t cap)
{
    char err[256] = "";
    int rc = -1;
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
    if (strcmp(line, "button press") == 0 || strcmp(line, "button release") == 0) {
        rc = c->ops.button(c->ops.ctx, line[7] == 'p', err, sizeof err);
    } else if (strncmp(line, "fault ", 6) == 0 && line[6] != '\0') {
        rc = c->ops.fault(c->ops.ctx, line + 6, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "unknown command '%.100s' (button press|release, fault <name>)",
                 line);
    }
    if (rc == 0) {
        snprintf(ans, cap, "ok\n");
    } else {
        snprintf(ans, cap, "error: %s\n", err[0] ? err : "failed");
    }
}

static void *control_main(void *x)
{
    struct ml_cli_control *c = x;
    for (;;) {
        struct pollfd pf[2] = {{c->lfd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
        if (poll(pf, 2, -1) < 0 && errno != EINTR) {
            break;
        }
        if (pf[1].revents != 0) {
            break;
        }
        if ((pf[0].revents & POLLIN) == 0) {
            continue;
        }
        int fd = accept4(c->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        /* one client at a time: its commands, until it closes */
        char buf[512];
        size_t len = 0;
        bool quit = false;
        for (;;) {
            struct pollfd q[2] = {{fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
            if (poll(q, 2, -1) < 0 && errno != EINTR) {
                break;
            }
            if (q[1].revents != 0) {
                quit = true;
                break;
            }
            ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
            if (r <= 0) {
                break;
            }
            len += (size_t)r;
            buf[len] = '\0';
            char *nl;
            while ((nl = strchr(buf, '\n')) != NULL) {
                *nl = '\0';
                char ans[384];
                control_do(c, buf, ans, sizeof ans);
                if (write(fd, ans, strlen(ans)) < 0) {
                    break;
                }
                len -= (size_t)(nl + 1 - buf);
                memmove(buf, nl + 1, len + 1);
            }
            if (len == sizeof buf - 1) {
                static const char too_long[] = "error: line too long\n";
                if (write(fd, too_long, sizeof too_long - 1) < 0) {
                    break;
                }
                len = 0;
            }
        }
        close(fd);
        if (quit) {
            break;
        }
    }
    return NULL;
}

struct ml_cli_control *ml_cli_control_start(const char *path, const struct ml_cli_control_ops *ops)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        fprintf(stderr, "meterlab device: --control %s: path too long (at most %zu characters)\n",
                path, sizeof a.sun_path - 1);
        return NULL;
    }
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "meterlab device: --control %s: exists and is not a socket\n", path);
            return NULL;
        }
        unlink(path); /* a socket left by an earlier run */
    }
    struct ml_cli_control *c = calloc(1, sizeof *c);
    if (c == NULL) {
        fprintf(stderr, "meterlab device: out of memory\n");
        return NULL;
    }
    c->ops = *ops;
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->lfd < 0 || bind(c->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(c->lfd, 4) != 0) {
        fprintf(stderr, "meterlab device: --control %s: %s\n", path, strerror(errno));
        if (c->lfd >= 0) {
            close(c->lfd);
        }
        free(c);
        return NULL;
    }
    if (pipe2(c->wake, O_CLOEXEC) != 0 || pthread_create(&c->th, NULL, control_main, c) != 0) {
        fprintf(stderr, "meterlab device: --control %s: cannot start its thread\n", path);
        close(c->lfd);
        unlink(path);
        free(c);
        return NULL;
    }
    return c;
}

void ml_cli_control_stop(struct ml_cli_control *c)
{
    if (c == NULL) {
        return;
    }
    if (write(c->wake[1], "x", 1) < 0) {
        /* the thread then ends at the process's exit */
    }
    pthread_join(c->th, NULL);
    close(c->wake[0]);
    close(c->wake[1]);
    close(c->lfd);
    unlink(c->path);
    free(c);
}
