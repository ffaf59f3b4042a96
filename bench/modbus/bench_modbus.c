/*
 * Modbus TCP requests/s and latency (p50/p99): FC03 30 registers at 0x8006,
 * one connection on 127.0.0.1, against
 *   (1) our engine (core/modbus + core/regmap) as an app on the sim port in
 *       SIM_TIME_REAL, i.e. behind the port's poll loop, and
 *   (2) libmodbus 3.1.6's own server (modbus_tcp_listen + modbus_receive /
 *       modbus_reply in a thread), serving the same register words.
 * Our engine runs twice per round: with the sim port's busy-poll at its default
 * (sim_config.busy_poll_us = 0) and with it off (-1), so both figures come from
 * the same run. Each round serves the three in a rotated order. Two masters
 * (--client): a lean one (one send + one recv) and libmodbus's client; a table
 * for each. Usage: see usage() / --help.
 * Prints the median round of each server, the server thread's CPU time per
 * request (process CPU time minus the client thread's) and, for ours, how often
 * a busy-poll window found the next request.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h> /* libmodbus; ours is "modbus/modbus.h" */
#include <netinet/in.h>
#include <netinet/tcp.h>
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

/*
 * The two masters. Both ask the same request and check every answer.
 *   libmodbus: modbus_read_registers(), i.e. send + 3 x (select + recv): what an
 *     application built on libmodbus costs, ~7 system calls per request.
 *   lean: one blocking send() of the 12-byte ADU and blocking recv() until the
 *     whole answer is in (one recv in practice): the least a master can cost,
 *     so the figures show the server rather than the client's own overhead.
 */
enum client_kind { CLIENT_LIBMODBUS, CLIENT_LEAN };
static const char *const client_names[] = {"libmodbus 3.1.6 client", "lean client"};

struct client {
    enum client_kind kind;
    modbus_t *mb;
    int fd;
    uint16_t tid;
};

static void client_open(struct client *c, enum client_kind kind, uint16_t port)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->fd = -1;
    if (kind == CLIENT_LIBMODBUS) {
        c->mb = modbus_new_tcp("127.0.0.1", port);
        if (c->mb == NULL || modbus_connect(c->mb) != 0) {
            fprintf(stderr, "bench_modbus: cannot connect to port %u: %s\n", port,
                    modbus_strerror(errno));
            exit(2);
        }
        return;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (c->fd < 0 || setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
        connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "bench_modbus: cannot connect to port %u: %s\n", port, strerror(errno));
        exit(2);
    }
}

static void client_close(struct client *c)
{
    if (c->mb != NULL) {
        modbus_close(c->mb);
        modbus_free(c->mb);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
}

/* One FC03 request of NREGS at ADDR; false (with a message) on any error. */
static bool client_read(struct client *c, uint16_t *regs)
{
    if (c->kind == CLIENT_LIBMODBUS) {
        if (modbus_read_registers(c->mb, ADDR, NREGS, regs) != NREGS) {
            fprintf(stderr, "bench_modbus: request failed: %s\n", modbus_strerror(errno));
            return false;
        }
        return true;
    }
    c->tid++;
    const uint8_t req[12] = {c->tid >> 8, c->tid & 0xFF, 0,           0, 0,    6, 1,
                             3,           ADDR >> 8,     ADDR & 0xFF, 0, NREGS};
    if (send(c->fd, req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req) {
        fprintf(stderr, "bench_modbus: send: %s\n", strerror(errno));
        return false;
    }
    enum { LEN = 9 + 2 * NREGS };
    uint8_t rsp[LEN + 16];
    size_t got = 0;
    while (got < LEN) {
        ssize_t k = recv(c->fd, &rsp[got], sizeof rsp - got, 0);
        if (k <= 0) {
            fprintf(stderr, "bench_modbus: recv: %s\n",
                    k == 0 ? "connection closed" : strerror(errno));
            return false;
        }
        got += (size_t)k;
    }
    if (got != LEN || rsp[0] != req[0] || rsp[1] != req[1] || rsp[2] != 0 || rsp[3] != 0 ||
        rsp[4] != 0 || rsp[5] != LEN - 6 || rsp[6] != 1 || rsp[7] != 3 || rsp[8] != 2 * NREGS) {
        fprintf(stderr, "bench_modbus: unexpected answer (%zu bytes) to transaction %u\n", got,
                c->tid);
        return false;
    }
    for (int i = 0; i < NREGS; i++) {
        regs[i] = (uint16_t)(rsp[9 + 2 * i] << 8 | rsp[10 + 2 * i]);
    }
    return true;
}

static struct result run_client(enum client_kind kind, uint16_t port, int n)
{
    struct result res = {0};
    struct client cl;
    client_open(&cl, kind, port);
    uint16_t regs[NREGS];
    for (int i = 0; i < 2000; i++) { /* warm-up */
        if (!client_read(&cl, regs)) {
            exit(1);
        }
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
        if (!client_read(&cl, regs)) {
            exit(1);
        }
        lat[i] = now_s() - a;
    }
    double dt = now_s() - t0;
    if (memcmp(regs, expect, sizeof regs) != 0) {
        fprintf(stderr, "bench_modbus: server answered other register values\n");
        exit(1);
    }
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
    client_close(&cl);
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
static struct result run_ours(enum client_kind kind, int32_t busy_poll_us, int n)
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
    struct result r = run_client(kind, mb_app_port, n);
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
    fprintf(f, "usage: bench_modbus [--client libmodbus|lean|both] [--cpus free|same|split]\n"
               "                    [requests>=100 (default 50000)] [rounds 1..64 (default 5)]\n"
               "Modbus TCP FC03 30 registers at 0x8006, one loopback connection: our engine on\n"
               "the sim port (busy-poll default and off) vs libmodbus 3.1.6's server, rounds\n"
               "rotated, median round of each printed as a markdown table per client.\n"
               "--client (default both): libmodbus is modbus_read_registers() (send + 3 x\n"
               "select/recv per request); lean is one blocking send + recv per request, the\n"
               "least a master costs, so the figures show the servers. Every answer is checked.\n"
               "--cpus (diagnostic, the same for every server): free (default) lets the\n"
               "scheduler place the client and server threads; same puts both on CPU 0;\n"
               "split puts the client on CPU 0 and the server on CPU 1.\n");
}

static void bench_client(enum client_kind kind, uint16_t theirs, int n, int rounds,
                         const char *cpus)
{
    struct result a[64];
    struct result o[64];
    struct result b[64];
    for (int i = 0; i < rounds; i++) { /* interleaved and rotated: machine noise hits all */
        for (int k = 0; k < 3; k++) {
            switch ((i + k) % 3) {
            case 0:
                a[i] = run_ours(kind, 0, n);
                break;
            case 1:
                o[i] = run_ours(kind, -1, n);
                break;
            default:
                b[i] = run_client(kind, theirs, n);
                break;
            }
        }
        fprintf(stderr, "bench_modbus: %s: round %d/%d done\n", client_names[kind], i + 1, rounds);
    }
    double load[3] = {0};
    FILE *la = fopen("/proc/loadavg", "r");
    if (la != NULL) {
        if (fscanf(la, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) {
            load[0] = -1;
        }
        fclose(la);
    }
    printf("%s: FC03 %d registers at 0x%04X, one connection, %d requests x %d rounds (median), "
           "--cpus %s, load average %.2f %.2f %.2f\n\n",
           client_names[kind], NREGS, ADDR, n, rounds, cpus, load[0], load[1], load[2]);
    printf("| server | requests/s | p50 us | p90 us | p99 us | mean us | client CPU us/req | "
           "server CPU us/req | server ctx switches/req | busy-poll hits | read ahead | "
           "busy-poll tries/req | busy-poll us/req |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    struct result ma = report("meterlab, sim port, busy-poll default (50 us)", a, rounds, true);
    struct result mo = report("meterlab, sim port, busy-poll off", o, rounds, true);
    struct result mb = report("libmodbus 3.1.6 server", b, rounds, false);
    printf("\n%s, req/s vs libmodbus: busy-poll default %.2fx (p99 %.1f vs %.1f us), off %.2fx\n\n",
           client_names[kind], ma.rps / mb.rps, ma.p99_us, mb.p99_us, mo.rps / mb.rps);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *cpus = "free";
    const char *client = "both";
    int pos = 0;
    int num[2] = {50000, 5};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--cpus") == 0 || strcmp(argv[i], "--client") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "bench_modbus: %s needs a value\n", argv[i]);
                return 2;
            }
            if (strcmp(argv[i], "--cpus") == 0) {
                cpus = argv[i + 1];
            } else {
                client = argv[i + 1];
            }
            i++;
            continue;
        }
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (argv[i][0] == '-' || *end != '\0' || pos >= 2) {
            fprintf(stderr, "bench_modbus: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        num[pos++] = v > 1000000000 ? 1000000000 : (int)v;
    }
    if (strcmp(cpus, "same") == 0) {
        cpus_mode = CPUS_SAME;
    } else if (strcmp(cpus, "split") == 0) {
        cpus_mode = CPUS_SPLIT;
    } else if (strcmp(cpus, "free") != 0) {
        fprintf(stderr, "bench_modbus: --cpus takes free, same or split, not '%s'\n", cpus);
        return 2;
    }
    bool run_lm = strcmp(client, "libmodbus") == 0 || strcmp(client, "both") == 0;
    bool run_lean = strcmp(client, "lean") == 0 || strcmp(client, "both") == 0;
    if (!run_lm && !run_lean) {
        fprintf(stderr, "bench_modbus: --client takes libmodbus, lean or both, not '%s'\n", client);
        return 2;
    }
    if (cpus_mode == CPUS_SPLIT && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
        fprintf(stderr, "bench_modbus: --cpus split needs two CPUs\n");
        return 2;
    }
    int n = num[0];
    int rounds = num[1];
    if (n < 100 || rounds < 1 || rounds > 64) {
        fprintf(stderr, "bench_modbus: requests must be >= 100 and rounds 1..64\n");
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
    if (run_lean) {
        bench_client(CLIENT_LEAN, theirs, n, rounds, cpus);
    }
    if (run_lm) {
        bench_client(CLIENT_LIBMODBUS, theirs, n, rounds, cpus);
    }
    return 0;
}
