/*
 * Virtual time for a target image in QEMU (ml_qemu_vt.h): QMP stop/cont in
 * bursts, the guest clock read from the FPGA I/O counters while the VM stands.
 *
 * Why bursts: QEMU 7.2 has no "run until virtual time T" (only replay mode has
 * a break point), and a read of the clock while the guest runs costs 1-2 ms of
 * host time, i.e. tens of ms of guest time at full speed. So the thread lets
 * the guest run for a host interval sized from the measured speed, stops it,
 * and reads the clock while it stands (fast and exact); near the target the
 * bursts shrink to a cont/stop pair (~0.7 ms host).
 */
#define _GNU_SOURCE
#include "ml_qemu_vt.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* MPS2 FPGA I/O (QEMU hw/misc/mps2-fpgaio.c): CLK100HZ at +0x14, COUNTER at +0x18. */
#define FPGAIO_CLK100HZ "0x40028014"
#define COUNTER_NS      40ull              /* 25 MHz */
#define COUNTER_WRAP_NS (COUNTER_NS << 32) /* 171.8 s */
#define BURST_MAX_NS    20000000ll         /* host: at most 20 ms per burst */
#define PACE_SLEEP_NS   2000000ll          /* host: pacing looks every 2 ms at most */

struct ml_qemu_vt {
    int fd;
    char buf[8192];
    size_t len;
    pthread_t th;
    bool th_on;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* the clock (under mu) */
    uint64_t raw_ns;  /* guest clock since the last board reset, as last read */
    uint64_t base_ns; /* guest time before that reset */
    uint64_t now_ns;  /* base + raw */
    bool running;     /* as we left QEMU */
    /* control (under mu) */
    bool quit, dead;
    bool target_on;
    uint64_t target_ns;
    uint64_t pace_g0; /* pacing/capping: guest and host instants it counts from */
    int64_t pace_h0;
    double pace, max_speed;
    double speed; /* measured guest/host speed while running (estimate) */
    uint64_t overshoot_ns;
    struct ml_qemu_vt_stats st;
    int64_t open_h;
};

static int64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
    if (ns > 0) {
        struct timespec ts = {(time_t)(ns / 1000000000ll), (long)(ns % 1000000000ll)};
        nanosleep(&ts, NULL);
    }
}

/* One QMP line (events are skipped). @return 0 with the line in @p out, -1. */
static int qmp_line(struct ml_qemu_vt *v, char *out, size_t cap, int timeout_ms)
{
    int64_t end = host_ns() + (int64_t)timeout_ms * 1000000ll;
    for (;;) {
        char *nl = memchr(v->buf, '\n', v->len);
        if (nl != NULL) {
            size_t n = (size_t)(nl - v->buf);
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v->buf);
            memmove(v->buf, nl + 1, v->len - n - 1);
            v->len -= n + 1;
            if (strstr(out, "\"event\"") != NULL) {
                continue; /* STOP, RESUME, RESET, ... */
            }
            return 0;
        }
        if (v->len == sizeof v->buf) {
            v->len = 0;
        }
        int64_t left = end - host_ns();
        struct pollfd p = {v->fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)(left / 1000000ll) + 1) <= 0) {
            return -1;
        }
        ssize_t r = read(v->fd, v->buf + v->len, sizeof v->buf - v->len);
        if (r <= 0) {
            return -1;
        }
        v->len += (size_t)r;
    }
}

/* Send @p json and read its answer into @p out. @return 0 ("return"), -1. */
static int qmp(struct ml_qemu_vt *v, const char *json, char *out, size_t cap)
{
    size_t n = strlen(json);
    if (write(v->fd, json, n) != (ssize_t)n) {
        return -1;
    }
    if (qmp_line(v, out, cap, 5000) != 0) {
        return -1;
    }
    return strstr(out, "\"return\"") != NULL ? 0 : -1;
}

static int qmp_run(struct ml_qemu_vt *v, bool run)
{
    char a[512];
    if (qmp(v, run ? "{\"execute\":\"cont\"}\n" : "{\"execute\":\"stop\"}\n", a, sizeof a) != 0) {
        return -1;
    }
    v->running = run;
    return 0;
}

/* Read the guest clock into v->now_ns (caller holds no lock; takes mu to store). */
static int read_clock(struct ml_qemu_vt *v)
{
    char a[512];
    if (qmp(v,
            "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"xp /2wx "
            "" FPGAIO_CLK100HZ "\"}}\n",
            a, sizeof a) != 0) {
        return -1;
    }
    const char *p = strstr(a, ": 0x");
    unsigned long c100, cnt;
    if (p == NULL || sscanf(p, ": 0x%lx 0x%lx", &c100, &cnt) != 2) {
        return -1;
    }
    /* CLK100HZ says which 171.8 s turn of the 25 MHz COUNTER we are in */
    uint64_t coarse = (uint64_t)c100 * 10000000ull, fine = (uint64_t)cnt * COUNTER_NS;
    int64_t k = ((int64_t)coarse + 5000000ll - (int64_t)fine);
    k = k >= 0 ? (k + (int64_t)COUNTER_WRAP_NS / 2) / (int64_t)COUNTER_WRAP_NS : 0;
    uint64_t raw = fine + (uint64_t)k * COUNTER_WRAP_NS;
    pthread_mutex_lock(&v->mu);
    if (raw < v->raw_ns) {
        v->base_ns += v->raw_ns; /* the board was reset: its counters started over */
    }
    v->raw_ns = raw;
    v->now_ns = v->base_ns + raw;
    pthread_mutex_unlock(&v->mu);
    return 0;
}

/* Run one burst of about @p host_ns_want (0: cont and stop at once), then read the clock. */
static int burst(struct ml_qemu_vt *v, int64_t want)
{
    uint64_t g0 = v->now_ns;
    int64_t h0 = host_ns();
    if (qmp_run(v, true) != 0) {
        return -1;
    }
    sleep_ns(want);
    if (qmp_run(v, false) != 0 || read_clock(v) != 0) {
        return -1;
    }
    int64_t dh = host_ns() - h0;
    pthread_mutex_lock(&v->mu);
    v->st.bursts++;
    if ((double)dh / 1e9 > v->st.max_burst_host_s) {
        v->st.max_burst_host_s = (double)dh / 1e9;
        v->st.max_burst_want_s = (double)want / 1e9;
        v->st.max_burst_guest_s = (double)(v->now_ns - g0) / 1e9;
    }
    pthread_mutex_unlock(&v->mu);
    if (dh > 0 && v->now_ns > g0) {
        double s = (double)(v->now_ns - g0) / (double)dh;
        pthread_mutex_lock(&v->mu);
        v->speed = v->speed * 0.7 + s * 0.3;
        pthread_mutex_unlock(&v->mu);
    }
    return 0;
}

static void *vt_main(void *x)
{
    struct ml_qemu_vt *v = x;
    /* A stop that comes late lets the guest run on at full speed (~25-48 guest ms per
     * wall ms when idle). ML_VT_RT=1 (benchmarks) runs this thread SCHED_FIFO where the
     * host allows it (root, or an RLIMIT_RTPRIO): measured, the stops came as late as
     * without it (QEMU's main loop answers `stop` late on a busy host, not this thread),
     * so it is off by default (docs/performance.md). */
    const char *env_rt = getenv("ML_VT_RT");
    if (env_rt != NULL && strcmp(env_rt, "1") == 0) {
        struct sched_param sp = {.sched_priority = 1};
        if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0) {
            pthread_mutex_lock(&v->mu);
            v->st.realtime = true;
            pthread_mutex_unlock(&v->mu);
        }
    }
    for (;;) {
        pthread_mutex_lock(&v->mu);
        if (v->quit) {
            pthread_mutex_unlock(&v->mu);
            break;
        }
        uint64_t g = v->now_ns;
        int64_t h = host_ns();
        double speed = v->speed > 0.5 ? v->speed : 0.5;
        /* how far the guest may go now: the pace, or the cap while running to a target */
        double rate = v->target_on ? v->max_speed : v->pace;
        double allowed = rate > 0 ? (double)v->pace_g0 + rate * (double)(h - v->pace_h0) : 1e300;
        if (v->target_on && (double)v->target_ns < allowed) {
            allowed = (double)v->target_ns;
        }
        if (v->target_on && g >= v->target_ns) {
            if (g - v->target_ns > v->overshoot_ns) {
                v->overshoot_ns = g - v->target_ns;
            }
            v->target_on = false;
            v->pace_g0 = g;
            v->pace_h0 = h;
            pthread_cond_broadcast(&v->cv);
            pthread_mutex_unlock(&v->mu);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        int rc = 0;
        if ((double)g < allowed) {
            /* a burst that should end near the allowed instant */
            double want = (allowed - (double)g) / speed;
            if (want > (double)BURST_MAX_NS) {
                want = (double)BURST_MAX_NS;
            }
            rc = burst(v, want > 300000.0 ? (int64_t)(want * 0.8) : 0);
        } else {
            /* ahead of the pace: stand still until the host clock catches up */
            double wait = (double)(g - (uint64_t)allowed) / (rate > 0 ? rate : 1.0);
            sleep_ns(wait < (double)PACE_SLEEP_NS ? (int64_t)wait + 100000 : PACE_SLEEP_NS);
        }
        if (rc != 0) {
            pthread_mutex_lock(&v->mu);
            v->dead = true;
            v->target_on = false;
            pthread_cond_broadcast(&v->cv);
            pthread_mutex_unlock(&v->mu);
            break;
        }
    }
    return NULL;
}

/*
 * Make every thread of the QEMU at the other end of @p fd (SO_PEERCRED) @p d
 * steps nicer than this thread. The guest runs on its own clock, so a QEMU that
 * waits for the CPU only runs slower; a host peer (this leash, the AT
 * emulator, the runner's clients, the broker) that waits for it while QEMU runs
 * lets the guest's clock run on against a peer that does not answer (a late
 * stop, an AT timeout). Threads QEMU makes later inherit the value.
 * @return the number of threads changed (0 when nothing could be done).
 */
static int renice_peer(int fd, int d)
{
    struct ucred cr;
    socklen_t l = sizeof cr;
    if (d <= 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) != 0 || cr.pid <= 0) {
        return 0;
    }
    errno = 0;
    int mine = getpriority(PRIO_PROCESS, 0);
    if (errno != 0) {
        return 0;
    }
    int want = mine + d > 19 ? 19 : mine + d;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)cr.pid);
    DIR *dir = opendir(path);
    if (dir == NULL) {
        return 0;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        int tid = atoi(e->d_name);
        if (tid > 0 && setpriority(PRIO_PROCESS, (id_t)tid, want) == 0) {
            n++;
        }
    }
    closedir(dir);
    return n;
}

int ml_qemu_vt_open(struct ml_qemu_vt **out, const char *qmp_path, const struct ml_qemu_vt_opts *o,
                    char *err, size_t cap)
{
    *out = NULL;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(qmp_path) >= sizeof a.sun_path) {
        snprintf(err, cap, "QMP socket path too long: %s", qmp_path);
        return -1;
    }
    snprintf(a.sun_path, sizeof a.sun_path, "%s", qmp_path);
    struct ml_qemu_vt *v = calloc(1, sizeof *v);
    if (v == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    v->pace = o != NULL && o->pace > 0 ? o->pace : 1.0;
    v->max_speed = o != NULL && o->max_speed > 0 ? o->max_speed : 0;
    v->speed = 20;
    v->fd = -1;
    char line[1024];
    for (int i = 0; i < 100; i++) { /* QEMU creates the socket as it starts */
        v->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (v->fd >= 0 && connect(v->fd, (struct sockaddr *)&a, sizeof a) == 0) {
            break;
        }
        if (v->fd >= 0) {
            close(v->fd);
            v->fd = -1;
        }
        usleep(50000);
    }
    if (v->fd < 0) {
        snprintf(err, cap, "QEMU's QMP socket %s: %s", qmp_path, strerror(errno));
        goto fail;
    }
    if (qmp_line(v, line, sizeof line, 5000) != 0 || strstr(line, "\"QMP\"") == NULL ||
        qmp(v, "{\"execute\":\"qmp_capabilities\"}\n", line, sizeof line) != 0) {
        snprintf(err, cap, "QEMU's QMP socket %s: no QMP greeting", qmp_path);
        goto fail;
    }
    if (qmp_run(v, false) != 0 || read_clock(v) != 0) {
        snprintf(err, cap, "QMP %s: cannot stop QEMU or read the FPGA I/O clock (0x40028014)",
                 qmp_path);
        goto fail;
    }
    int nice_d = o != NULL ? o->qemu_nice : 0;
    const char *env_nice = getenv("ML_VT_NICE"); /* benchmarks: bench/qemu-vtime/run.sh */
    if (env_nice != NULL && *env_nice != 0) {
        nice_d = atoi(env_nice);
    }
    (void)renice_peer(v->fd, nice_d);
    v->pace_g0 = v->now_ns;
    v->pace_h0 = host_ns();
    v->open_h = v->pace_h0;
    if (pthread_create(&v->th, NULL, vt_main, v) != 0) {
        snprintf(err, cap, "pthread_create: %s", strerror(errno));
        goto fail;
    }
    v->th_on = true;
    *out = v;
    return 0;
fail:
    ml_qemu_vt_close(v);
    return -1;
}

uint64_t ml_qemu_vt_now_us(struct ml_qemu_vt *v)
{
    pthread_mutex_lock(&v->mu);
    uint64_t t = v->now_ns / 1000u;
    pthread_mutex_unlock(&v->mu);
    return t;
}

int ml_qemu_vt_run_to(struct ml_qemu_vt *v, uint64_t t_us)
{
    pthread_mutex_lock(&v->mu);
    if (!v->dead && v->now_ns < t_us * 1000u) {
        int64_t h0 = host_ns();
        uint64_t g0 = v->now_ns;
        v->target_ns = t_us * 1000u;
        v->target_on = true;
        v->pace_g0 = v->now_ns; /* the cap (max_speed) counts from here */
        v->pace_h0 = host_ns();
        while (v->target_on && !v->dead) {
            pthread_cond_wait(&v->cv, &v->mu);
        }
        v->st.run_to_calls++;
        v->st.run_to_host_s += (double)(host_ns() - h0) / 1e9;
        v->st.run_to_guest_s += (double)(v->now_ns - g0) / 1e9;
    }
    int rc = v->dead ? -1 : 0;
    pthread_mutex_unlock(&v->mu);
    return rc;
}

uint64_t ml_qemu_vt_max_overshoot_us(struct ml_qemu_vt *v)
{
    pthread_mutex_lock(&v->mu);
    uint64_t o = v->overshoot_ns / 1000u;
    pthread_mutex_unlock(&v->mu);
    return o;
}

void ml_qemu_vt_stats(struct ml_qemu_vt *v, struct ml_qemu_vt_stats *out)
{
    pthread_mutex_lock(&v->mu);
    *out = v->st;
    out->max_overshoot_us = v->overshoot_ns / 1000u;
    out->open_host_s = (double)(host_ns() - v->open_h) / 1e9;
    pthread_mutex_unlock(&v->mu);
}

void ml_qemu_vt_close(struct ml_qemu_vt *v)
{
    if (v == NULL) {
        return;
    }
    if (v->th_on) {
        pthread_mutex_lock(&v->mu);
        v->quit = true;
        pthread_mutex_unlock(&v->mu);
        pthread_join(v->th, NULL);
    }
    if (v->fd >= 0) {
        char a[256];
        if (!v->dead) {
            (void)qmp(v, "{\"execute\":\"cont\"}\n", a, sizeof a);
        }
        close(v->fd);
    }
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
