/* Rig command templates: placeholders and a bounded run (see ml_rig.h). */
#define _GNU_SOURCE
#include "ml_rig.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *value_of(const struct ml_rig *rig, const char *name, size_t n, const char *image,
                            char *tmp, size_t tcap, bool *known)
{
    *known = true;
#define IS(k) (n == strlen(k) && !strncmp(name, k, n))
    if (IS("image")) {
        *known = image != NULL;
        return image;
    }
    if (IS("port")) {
        return rig->port[ML_RIG_CONSOLE].present ? rig->port[ML_RIG_CONSOLE].path
                                                 : rig->port[ML_RIG_INJECT].path;
    }
    for (int r = 0; r < ML_RIG_ROLES; r++) {
        if (IS(ml_rig_role_name((enum ml_rig_role)r))) {
            return rig->port[r].path;
        }
    }
    if (IS("host")) {
        return rig->network.host;
    }
    if (IS("serial")) {
        return rig->dut.serial;
    }
    if (IS("name")) {
        return rig->name;
    }
    if (IS("rig_dir")) {
        const char *slash = strrchr(rig->path, '/');
        if (slash == NULL) {
            return ".";
        }
        snprintf(tmp, tcap, "%.*s", (int)(slash - rig->path), rig->path);
        return tmp[0] ? tmp : "/";
    }
#undef IS
    *known = false;
    return NULL;
}

int ml_rig_expand(const struct ml_rig *rig, const char *tmpl, const char *image, char *out,
                  size_t cap, char *err, size_t errcap)
{
    size_t o = 0;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '{' && (p == tmpl || p[-1] != '$')) {
            size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");
            if (n > 0 && p[1 + n] == '}') {
                char tmp[512];
                bool known;
                const char *v = value_of(rig, p + 1, n, image, tmp, sizeof tmp, &known);
                if (!known) {
                    snprintf(err, errcap, "unknown placeholder {%.*s} (known: %s%s)", (int)n, p + 1,
                             ML_RIG_PLACEHOLDERS,
                             !strncmp(p + 1, "image", 5) ? "; {image} only in commands.flash" : "");
                    return -1;
                }
                size_t l = strlen(v);
                if (o + l >= cap) {
                    snprintf(err, errcap, "the command is longer than %zu bytes", cap - 1);
                    return -1;
                }
                memcpy(out + o, v, l);
                o += l;
                p += n + 1;
                continue;
            }
        }
        if (o + 1 >= cap) {
            snprintf(err, errcap, "the command is longer than %zu bytes", cap - 1);
            return -1;
        }
        out[o++] = *p;
    }
    out[o] = 0;
    return 0;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The last line of @p out that is not empty (at most 200 bytes). */
static void tail_line(const char *out, size_t n, char *line, size_t cap)
{
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) {
        n--;
    }
    size_t s = n;
    while (s > 0 && out[s - 1] != '\n') {
        s--;
    }
    if (n - s > 200) {
        s = n - 200;
    }
    snprintf(line, cap, "%.*s", (int)(n - s), out + s);
}

int ml_rig_command(const struct ml_rig *rig, const char *what, const char *tmpl, const char *image,
                   const volatile sig_atomic_t *stop, char *err, size_t errcap)
{
    char cmd[2048], why[256];
    if (rig->qemu.on && (!strcmp(what, "power_on") || !strcmp(what, "power_off") ||
                         !strcmp(what, "reset") || !strcmp(what, "flash"))) {
        return ml_rig_driver_action(rig, what, image, stop, err, errcap);
    }
    if (ml_rig_expand(rig, tmpl, image, cmd, sizeof cmd, why, sizeof why) < 0) {
        snprintf(err, errcap, "commands.%s: %s", what, why);
        return -1;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errcap, "commands.%s: pipe: %s", what, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errcap, "commands.%s: fork: %s", what, strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0); /* the whole group goes on a timeout (sh and what it started) */
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
        }
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    close(pfd[1]);
    double limit = rig->commands.timeout_s > 0 ? rig->commands.timeout_s : 60;
    double end = mono() + limit;
    char out[4096];
    size_t n = 0;
    int st = 0;
    bool done = false, timed_out = false, stopped = false, eof = false;
    while (!done) {
        if (stop != NULL && *stop) {
            stopped = true;
            break;
        }
        double left = end - mono();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        if (!eof) {
            struct pollfd pf = {pfd[0], POLLIN, 0};
            int ms = left < 0.1 ? (int)(left * 1000) + 1 : 100;
            if (poll(&pf, 1, ms) == 1) {
                char b[1024];
                ssize_t r = read(pfd[0], b, sizeof b);
                if (r <= 0) {
                    eof = true; /* the group closed its output; it may still run */
                } else {
                    if (n + (size_t)r > sizeof out) { /* keep the newest bytes */
                        size_t drop = n + (size_t)r - sizeof out;
                        memmove(out, out + drop, n - drop);
                        n -= drop;
                    }
                    memcpy(out + n, b, (size_t)r);
                    n += (size_t)r;
                }
            }
        } else {
            usleep(20000);
        }
        done = waitpid(pid, &st, WNOHANG) == pid;
    }
    if (done) { /* what it wrote last, before it ended */
        fcntl(pfd[0], F_SETFL, O_NONBLOCK);
        ssize_t r;
        while (n < sizeof out && (r = read(pfd[0], out + n, sizeof out - n)) > 0) {
            n += (size_t)r;
        }
    }
    close(pfd[0]);
    if (!done) {
        kill(-pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(pid, &st, WNOHANG) == 0; i++) {
            usleep(10000);
        }
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    char last[256];
    tail_line(out, n, last, sizeof last);
    if (stopped) {
        snprintf(err, errcap, "commands.%s '%s': stopped", what, cmd);
        return -1;
    }
    if (timed_out) {
        snprintf(err, errcap,
                 "commands.%s '%s' did not finish within %g s (commands.timeout_s)%s%s", what, cmd,
                 limit, last[0] ? "; last output: " : "", last);
        return -1;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char how[64];
        if (WIFEXITED(st)) {
            snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(st));
        } else {
            snprintf(how, sizeof how, "signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        snprintf(err, errcap, "commands.%s '%s' failed (%s)%s%s", what, cmd, how,
                 last[0] ? ": " : "", last);
        return -1;
    }
    return 0;
}
