/*
 * A null-modem cable of two ptys for the HIL tests: prints "PATH_A PATH_B" and
 * copies bytes between the two until SIGTERM/SIGINT or --timeout seconds.
 * What a program writes to PATH_A is read from PATH_B and back, like two USB
 * serial adapters wired TX to RX (line settings are ignored, as on any pty).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ml_serial.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

struct dir {
    int from, to;
    unsigned char buf[65536];
    size_t len;
};

int main(int argc, char **argv)
{
    double timeout = 300;
    if (argc == 3 && !strcmp(argv[1], "--timeout")) {
        timeout = atof(argv[2]);
    } else if (argc != 1) {
        fprintf(stderr, "usage: ml_ptypair [--timeout S]\n");
        return 2;
    }
    char a[128], b[128];
    int ma = ml_serial_open_pty(a, sizeof a), mb = ml_serial_open_pty(b, sizeof b);
    if (ma < 0 || mb < 0) {
        fprintf(stderr, "ml_ptypair: cannot create ptys: %s\n", strerror(-(ma < 0 ? ma : mb)));
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("%s %s\n", a, b);
    fflush(stdout);
    static struct dir d[2];
    d[0].from = ma, d[0].to = mb;
    d[1].from = mb, d[1].to = ma;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!stop) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) > timeout) {
            fprintf(stderr, "ml_ptypair: timeout after %.0f s\n", timeout);
            return 1;
        }
        struct pollfd p[2];
        for (int i = 0; i < 2; i++) {
            p[i].fd = d[i].from;
            p[i].events = d[i].len < sizeof d[i].buf ? POLLIN : 0;
            if (d[1 - i].len > 0) {
                p[i].events |= POLLOUT; /* fd d[i].from is the target of the other direction */
            }
            p[i].revents = 0;
        }
        if (poll(p, 2, 100) < 0 && errno != EINTR) {
            return 1;
        }
        for (int i = 0; i < 2; i++) {
            struct dir *x = &d[i];
            ssize_t n = read(x->from, x->buf + x->len, sizeof x->buf - x->len);
            if (n > 0) {
                x->len += (size_t)n;
            }
            if (x->len > 0) {
                ssize_t w = write(x->to, x->buf, x->len);
                if (w > 0) {
                    memmove(x->buf, x->buf + w, x->len - (size_t)w);
                    x->len -= (size_t)w;
                }
            }
        }
    }
    return 0;
}
