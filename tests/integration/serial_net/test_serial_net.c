/*
 * Remote serial ports (sim/serial/ml_serial_net.h) against a real exporter:
 * ser2net (Debian package) on loopback exports a pty over RFC 2217 and over raw
 * TCP; the bench opens rfc2217://127.0.0.1:PORT and tcp://127.0.0.1:PORT with
 * ml_serial_open() and must pass every byte value both ways, and (RFC 2217)
 * set the remote port's speed. Errors: refused port, a raw port opened as
 * rfc2217, bad URLs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ml_serial.h"
#include "ml_serial_net.h"
#include "ml_test.h"

static struct {
    int m[2], s[2]; /* pty pairs: [0] exported by RFC 2217, [1] by raw TCP */
    char slave[2][64];
    uint16_t port[2];
    pid_t ser2net;
    char dir[64];
} g;

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int setup(void)
{
    for (int i = 0; i < 2; i++) {
        if (openpty(&g.m[i], &g.s[i], g.slave[i], NULL, NULL) != 0) {
            return -1;
        }
        struct termios t;
        tcgetattr(g.s[i], &t);
        cfmakeraw(&t);
        tcsetattr(g.s[i], TCSANOW, &t);
        fcntl(g.m[i], F_SETFL, O_NONBLOCK);
        g.port[i] = free_port();
    }
    snprintf(g.dir, sizeof g.dir, "/tmp/ml_serial_net.XXXXXX");
    if (mkdtemp(g.dir) == NULL) {
        return -1;
    }
    char cfg[600], path[128], pid[128];
    snprintf(path, sizeof path, "%s/ser2net.yaml", g.dir);
    snprintf(pid, sizeof pid, "%s/ser2net.pid", g.dir);
    snprintf(cfg, sizeof cfg,
             "connection: &rfc\n"
             "  accepter: telnet(rfc2217),tcp,127.0.0.1,%u\n"
             "  connector: serialdev,%s,115200n81,local\n"
             "connection: &raw\n"
             "  accepter: tcp,127.0.0.1,%u\n"
             "  connector: serialdev,%s,115200n81,local\n",
             g.port[0], g.slave[0], g.port[1], g.slave[1]);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    fputs(cfg, f);
    fclose(f);
    g.ser2net = fork();
    if (g.ser2net == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execlp("ser2net", "ser2net", "-n", "-u", "-c", path, "-P", pid, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && !(port_open(g.port[0]) && port_open(g.port[1])); i++) {
        usleep(50000);
    }
    if (!port_open(g.port[0]) || !port_open(g.port[1])) {
        fprintf(stderr, "ser2net did not listen on %u/%u (installed? tools/bootstrap)\n", g.port[0],
                g.port[1]);
        return -1;
    }
    return 0;
}

static int teardown(void)
{
    if (g.ser2net > 0) {
        kill(g.ser2net, SIGTERM);
        waitpid(g.ser2net, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Read exactly n bytes from fd within 3 s. */
static size_t read_n(int fd, uint8_t *b, size_t n)
{
    size_t got = 0;
    for (int i = 0; i < 300 && got < n; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) {
            ssize_t r = read(fd, b + got, n - got);
            if (r > 0) {
                got += (size_t)r;
            }
        }
    }
    return got;
}

static void drain(int fd)
{
    uint8_t b[256];
    usleep(100000);
    while (read(fd, b, sizeof b) > 0) {
    }
}

/* Every byte value, 0xFF (Telnet IAC) among them several times, both ways. */
static void round_trip(int fd, int master)
{
    uint8_t all[512], got[512];
    for (int i = 0; i < 512; i++) {
        all[i] = (uint8_t)(i < 256 ? i : 0xFF);
    }
    drain(master);
    CU_ASSERT_EQUAL_FATAL(write(fd, all, sizeof all), (ssize_t)sizeof all);
    CU_ASSERT_EQUAL(read_n(master, got, sizeof all), sizeof all);
    CU_ASSERT_EQUAL(memcmp(all, got, sizeof all), 0);
    CU_ASSERT_EQUAL_FATAL(write(master, all, sizeof all), (ssize_t)sizeof all);
    memset(got, 0, sizeof got);
    CU_ASSERT_EQUAL(read_n(fd, got, sizeof all), sizeof all);
    CU_ASSERT_EQUAL(memcmp(all, got, sizeof all), 0);
}

static speed_t remote_speed(int i)
{
    struct termios t;
    tcgetattr(g.s[i], &t);
    return cfgetospeed(&t);
}

static void test_serial_net_rfc2217_bytes_and_speed(void)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "rfc2217://127.0.0.1:%u", g.port[0]);
    struct ml_serial_cfg c = {9600, 8, 'N', 1};
    int fd = ml_serial_open(url, &c, err, sizeof err);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    round_trip(fd, g.m[0]);
    /* ser2net opened the port at 115200; the session asked for 9600 */
    CU_ASSERT_EQUAL(remote_speed(0), B9600);
    struct ml_serial_cfg c2 = {19200, 8, 'N', 1};
    CU_ASSERT_EQUAL(ml_serial_set_cfg(fd, &c2), 0);
    for (int i = 0; i < 50 && remote_speed(0) != B19200; i++) {
        usleep(20000);
    }
    CU_ASSERT_EQUAL(remote_speed(0), B19200);
    round_trip(fd, g.m[0]);
    close(fd);
}

static void test_serial_net_tcp_raw_bytes(void)
{
    char url[64], err[256];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%u", g.port[1]);
    int fd = ml_serial_open(url, &ml_serial_p1_v4, err, sizeof err);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    round_trip(fd, g.m[1]);
    CU_ASSERT_EQUAL(ml_serial_set_cfg(fd, &ml_serial_p1_v2), 0); /* the exporter's settings */
    close(fd);
}

static void test_serial_net_errors_name_the_url(void)
{
    char url[64], err[256];
    struct ml_serial_cfg c = {9600, 8, 'N', 1};
    /* a raw TCP port does not speak RFC 2217 */
    snprintf(url, sizeof url, "rfc2217://127.0.0.1:%u", g.port[1]);
    CU_ASSERT_EQUAL(ml_serial_open(url, &c, err, sizeof err), -EPROTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, url));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tcp://"));
    /* nobody listens */
    uint16_t dead = free_port();
    snprintf(url, sizeof url, "tcp://127.0.0.1:%u", dead);
    CU_ASSERT_EQUAL(ml_serial_open(url, &c, err, sizeof err), -ECONNREFUSED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, url));
    const char *bad[] = {"tcp://127.0.0.1", "tcp://:80",   "rfc2217://h:0",
                         "tcp://h:99999",   "tcp://h:12x", "rfc2217://[::1:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL(ml_serial_open(bad[i], &c, err, sizeof err), -EINVAL);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i]));
    }
    struct ml_serial_net_addr a;
    CU_ASSERT_EQUAL(ml_serial_net_parse("rfc2217://[::1]:4001", &a, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(a.host, "::1");
    CU_ASSERT_EQUAL(a.port, 4001);
    CU_ASSERT_TRUE(a.rfc2217);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_serial_net_rfc2217_bytes_and_speed", test_serial_net_rfc2217_bytes_and_speed},
        {"test_serial_net_tcp_raw_bytes", test_serial_net_tcp_raw_bytes},
        {"test_serial_net_errors_name_the_url", test_serial_net_errors_name_the_url},
    };
    if (setup() != 0) {
        teardown();
        fprintf(stderr, "serial_net: setup failed\n");
        return 1;
    }
    int rc = ml_test_run("serial_net", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    teardown();
    return rc;
}
