/*
 * Modbus TCP requests/s and latency (p50/p99): FC03 30 registers at 0x8006,
 * one connection on 127.0.0.1, a libmodbus client in a loop, against
 *   (1) our engine (core/modbus + core/regmap) as an app on the sim port in
 *       SIM_TIME_REAL, i.e. behind the port's poll loop, and
 *   (2) libmodbus 3.1.6's own server (modbus_tcp_listen + modbus_receive /
 *       modbus_reply in a thread), serving the same register words.
 * Our engine runs twice per round: with the sim port's busy-poll at its default
 * (sim_config.busy_poll_us = 0) and with it off (-1), so both figures come from
 * the same run. Each round serves the three in a rotated order.
 * Usage: bench_modbus [requests-per-round (default 50000)] [rounds (default 5)]
 * Prints the median round of each server, the server thread's CPU time per
 * request (process CPU time minus the client thread's) and, for ours, how often
 * a busy-poll window found the next request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h> /* libmodbus; ours is "modbus/modbus.h" */
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mb_sim_app.h"
#include "sim.h"
#include "sim_priv.h" /* busy-poll counters */

#define ADDR  0x8006
#define NREGS 30

struct result {
    double rps;
    double p50_us;
    double p99_us;
    double p90_us;
    double mean_us;
    double srv_cpu_us; /* server CPU time per request */
    double cli_cpu_us; /* client (libmodbus master) CPU time per request */
    double bp_hit;     /* busy-poll windows that found the request, per request */
    double bp_spin_us; /* time spent busy-polling, per request */
    double bp_polls;   /* non-blocking tries (each miss adds a sched_yield), per request */
    double bp_ra;      /* requests taken by the window's read-ahead recv, per request */
    double srv_csw;    /* server context switches (voluntary + involuntary) per request */
};

static double csw(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

static double cpu_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_result(const void *a, const void *b)
{
    return cmp_double(&((const struct result *)a)->rps, &((const struct result *)b)->rps);
}

static uint16_t expect[NREGS];

static struct result run_client(uint16_t port, int n)
{
    struct result res = {0};
    modbus_t *mb = modbus_new_tcp("127.0.0.1", port);
    if (mb == NULL || modbus_connect(mb) != 0) {
        fprintf(stderr, "bench_modbus: cannot connect to port %u: %s\n", port,
                modbus_strerror(errno));
        exit(2);
    }
    uint16_t regs[NREGS];
    for (int i = 0; i < 2000; i++) { /* warm-up */
        modbus_read_registers(mb, ADDR, NREGS, regs);
    }
    if (memcmp(regs, expect, sizeof regs) != 0) {
        fprintf(stderr, "bench_modbus: server answered other register values\n");
        exit(1);
    }
    double *lat = malloc((size_t)n * sizeof *lat);
    double cpu_proc0 = cpu_s(CLOCK_PROCESS_CPUTIME_ID);
    double cpu_self0 = cpu_s(CLOCK_THREAD_CPUTIME_ID);
    double csw_proc0 = csw(RUSAGE_SELF);
    double csw_self0 = csw(RUSAGE_THREAD);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        double a = now_s();
        if (modbus_read_registers(mb, ADDR, NREGS, regs) != NREGS) {
            fprintf(stderr, "bench_modbus: request failed: %s\n", modbus_strerror(errno));
            exit(1);
        }
        lat[i] = now_s() - a;
    }
    double dt = now_s() - t0;
    /* the only other busy thread of this process is the server under test */
    double cli_cpu = cpu_s(CLOCK_THREAD_CPUTIME_ID) - cpu_self0;
    double srv_cpu = (cpu_s(CLOCK_PROCESS_CPUTIME_ID) - cpu_proc0) - cli_cpu;
    res.srv_cpu_us = srv_cpu / n * 1e6;
    res.cli_cpu_us = cli_cpu / n * 1e6;
    res.srv_csw = ((csw(RUSAGE_SELF) - csw_proc0) - (csw(RUSAGE_THREAD) - csw_self0)) / n;
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    res.rps = n / dt;
    res.p50_us = lat[n / 2] * 1e6;
    res.p99_us = lat[(int)(n * 0.99)] * 1e6;
    res.p90_us = lat[(int)(n * 0.90)] * 1e6;
    res.mean_us = dt / n * 1e6;
    free(lat);
    modbus_close(mb);
    modbus_free(mb);
    return res;
}

/* ------------------------------------------------------------------------- */
/* libmodbus server                                                          */
/* ------------------------------------------------------------------------- */

static modbus_t *lm_srv;
static int lm_listen = -1;
static modbus_mapping_t *lm_map;

static void *lm_thread(void *arg)
{
    (void)arg;
    for (;;) {
        int s = lm_listen;
        int c = modbus_tcp_accept(lm_srv, &s); /* returns the connection, keeps s */
        if (c < 0) {
            return NULL;
        }
        uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
        for (;;) {
            int rc = modbus_receive(lm_srv, q);
            if (rc > 0) {
                modbus_reply(lm_srv, q, rc, lm_map);
            } else if (rc == -1) {
                break;
            }
        }
        close(c);
    }
}

/* A free loopback port (libmodbus 3.1.6 cannot listen on port 0). */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    socklen_t len = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        fprintf(stderr, "bench_modbus: no free port\n");
        exit(2);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

static uint16_t lm_start(void)
{
    uint16_t port = free_port();
    lm_srv = modbus_new_tcp("127.0.0.1", port);
    lm_listen = modbus_tcp_listen(lm_srv, 1);
    if (lm_listen < 0) {
        fprintf(stderr, "bench_modbus: libmodbus listen: %s\n", modbus_strerror(errno));
        exit(2);
    }
    lm_map = modbus_mapping_new_start_address(0, 0, 0, 0, 0x8000, 0x0C40, 0x8000, 0x0C40);
    /* the same words our EMPro snapshot serves */
    memcpy(&lm_map->tab_registers[ADDR - 0x8000], expect, sizeof expect);
    pthread_t th;
    pthread_create(&th, NULL, lm_thread, NULL);
    pthread_detach(th);
    return port;
}

/* ------------------------------------------------------------------------- */

static struct result report(const char *name, struct result *r, int rounds, bool bp)
{
    qsort(r, (size_t)rounds, sizeof *r, cmp_result);
    struct result m = r[rounds / 2];
    printf("| %s | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |", name, m.rps, m.p50_us,
           m.p90_us, m.p99_us, m.mean_us, m.cli_cpu_us, m.srv_cpu_us, m.srv_csw);
    if (bp) {
        printf(" %.0f%% | %.0f%% | %.2f | %.1f |\n", m.bp_hit * 100.0, m.bp_ra * 100.0, m.bp_polls,
               m.bp_spin_us);
    } else {
        printf(" | | | |\n");
    }
    return m;
}

/* Thread placement: servers' threads inherit the creator's affinity. */
enum cpus_mode { CPUS_FREE, CPUS_SAME, CPUS_SPLIT };
static enum cpus_mode cpus_mode = CPUS_FREE;

static void pin_self(int cpu)
{
    if (cpus_mode == CPUS_FREE) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
        fprintf(stderr, "bench_modbus: cannot pin to CPU %d\n", cpu);
        exit(2);
    }
}

/* Before creating a server thread: it inherits this placement. */
static void pin_for_server(void)
{
    pin_self(cpus_mode == CPUS_SPLIT ? 1 : 0);
}

/* The client (this thread) while it measures. */
static void pin_for_client(void)
{
    pin_self(0);
}

/* Our engine on the sim port, busy-poll as given, for one round of n requests. */
static struct result run_ours(int32_t busy_poll_us, int n)
{
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL, .busy_poll_us = busy_poll_us};
    mb_app_port = 0;
    pin_for_server();
    if (sim_start(&cfg, mb_app_main) != 0) {
        fprintf(stderr, "bench_modbus: sim_start failed\n");
        exit(2);
    }
    pin_for_client();
    while (mb_app_port == 0) {
        usleep(1000);
    }
    struct sim_busy_poll_stats b0;
    struct sim_busy_poll_stats b1;
    sim_busy_poll_get_stats(&b0);
    struct result r = run_client(mb_app_port, n);
    sim_busy_poll_get_stats(&b1);
    /* the 2000 warm-up requests are in the counters too: scale per request served */
    r.bp_hit = (double)(b1.hits - b0.hits) / (n + 2000);
    r.bp_spin_us = (double)(b1.spin_us - b0.spin_us) / (n + 2000);
    r.bp_polls = (double)(b1.polls - b0.polls) / (n + 2000);
    r.bp_ra = (double)(b1.read_aheads - b0.read_aheads) / (n + 2000);
    sim_stop();
    return r;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_modbus [--cpus free|same|split] [requests>=100 (default 50000)]\n"
               "                    [rounds 1..64 (default 5)]\n"
               "Modbus TCP FC03 30 registers at 0x8006, one loopback connection, a libmodbus\n"
               "client: our engine on the sim port (busy-poll default and off) vs libmodbus's\n"
               "server, rounds rotated, median round of each printed as a markdown table.\n"
               "--cpus (diagnostic, the same for every server): free (default) lets the\n"
               "scheduler place the client and server threads; same puts both on CPU 0;\n"
               "split puts the client on CPU 0 and the server on CPU 1.\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    const char *cpus = "free";
    if (argc > 2 && strcmp(argv[1], "--cpus") == 0) {
        cpus = argv[2];
        if (strcmp(cpus, "same") == 0) {
            cpus_mode = CPUS_SAME;
        } else if (strcmp(cpus, "split") == 0) {
            cpus_mode = CPUS_SPLIT;
        } else if (strcmp(cpus, "free") != 0) {
            fprintf(stderr, "bench_modbus: --cpus takes free, same or split, not '%s'\n", cpus);
            return 2;
        }
        argc -= 2;
        argv += 2;
    }
    if (cpus_mode == CPUS_SPLIT && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "bench_modbus: --cpus split needs two CPUs\n");
        return 2;
    }
    int n = argc > 1 ? atoi(argv[1]) : 50000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (argc > 3 || n < 100 || rounds < 1 || rounds > 64) {
        usage(stderr);
        return 2;
    }
    memset(&mb_app_cfg, 0, sizeof mb_app_cfg);
    mb_app_cfg.transport = MB_APP_TCP;
    mb_app_cfg.tpl = regmap_template_find("PhoenixContact-EMPro", 20);
    reading_init(&mb_app_cfg.reading);
    for (int f = 0; f < READING_FIELD_COUNT; f++) {
        reading_set(&mb_app_cfg.reading, (enum reading_field)f, 230000 + f * 1111);
    }
    struct regmap_snapshot snap;
    regmap_render(mb_app_cfg.tpl, &mb_app_cfg.reading, &snap);
    regmap_snapshot_read(&snap, 3, ADDR, NREGS, expect);

    pin_for_server();
    uint16_t theirs = lm_start();
    pin_for_client();

    /* the engine alone, no sockets: mb_tcp_feed of the same request */
    {
        static struct regmap_live live;
        struct mb_slave sl;
        struct mb_tcp tcp;
        regmap_live_init(&live, mb_app_cfg.tpl);
        regmap_live_update(&live, &mb_app_cfg.reading);
        mb_slave_init(&sl, regmap_mb_read, NULL, &live);
        mb_tcp_init(&tcp, &sl);
        static const uint8_t req[] = {0, 1, 0, 0, 0, 6, 1, 3, 0x80, 0x06, 0, NREGS};
        uint8_t out[MB_TCP_ADU_MAX];
        size_t used;
        const int m = 2000000;
        double t0 = now_s();
        for (int i = 0; i < m; i++) {
            if (mb_tcp_feed(&tcp, req, sizeof req, &used, out, sizeof out) != 9 + 2 * NREGS) {
                return 1;
            }
        }
        printf("engine alone (mb_tcp_feed, no I/O): %.0f ns per request\n\n",
               (now_s() - t0) / m * 1e9);
    }
    struct result a[64];
    struct result o[64];
    struct result b[64];
    for (int i = 0; i < rounds; i++) { /* interleaved and rotated: machine noise hits all */
        for (int k = 0; k < 3; k++) {
            switch ((i + k) % 3) {
            case 0:
                a[i] = run_ours(0, n);
                break;
            case 1:
                o[i] = run_ours(-1, n);
                break;
            default:
                b[i] = run_client(theirs, n);
                break;
            }
        }
    }
    double load[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) {
            load[0] = -1;
        }
        fclose(la);
    }
    printf("FC03 %d registers at 0x%04X, one connection, %d requests x %d rounds (median), "
           "--cpus %s, load average %.2f %.2f %.2f\n\n",
           NREGS, ADDR, n, rounds, cpus, load[0], load[1], load[2]);
    printf("| server | requests/s | p50 us | p90 us | p99 us | mean us | client CPU us/req | "
           "server CPU us/req | server ctx switches/req | busy-poll hits | read ahead | "
           "busy-poll tries/req | busy-poll us/req |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    struct result ma = report("meterlab, sim port, busy-poll default (50 us)", a, rounds, true);
    struct result mo = report("meterlab, sim port, busy-poll off", o, rounds, true);
    struct result mb = report("libmodbus 3.1.6 server", b, rounds, false);
    printf("\nreq/s vs libmodbus: busy-poll default %.2fx, off %.2fx\n", ma.rps / mb.rps,
           mo.rps / mb.rps);
    return 0;
}
