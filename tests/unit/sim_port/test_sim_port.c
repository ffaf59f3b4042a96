/*
 * Tests of the sim port's time model: timers fire at their virtual instants,
 * the host advances time and waits for idle, sockets and UARTs are served
 * while virtual time stands still, reboot and power-cycle restart the app.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <termios.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "ml_config.h"
#include "ml_test.h"
#include "sim.h"
#include "sim_priv.h" /* busy-poll counters */
#include "timer.h"

/* ------------------------------------------------------------------------- */
/* A small app written only against the HAL                                  */
/* ------------------------------------------------------------------------- */

#define MAX_FIRES 64
static volatile uint64_t fires[MAX_FIRES];
static volatile int nfires;
static volatile uint16_t echo_port;
static volatile int loops;
static volatile uint64_t uart_seen_at_ms;
static volatile bool echo_mode; /* TCP: send the bytes back instead of the time */

static void test_app(void)
{
    struct ml_timer tick;
    struct hal_uart_cfg cfg = {115200, 8, HAL_UART_PARITY_NONE, 1, false};
    hal_uart_open(HAL_UART_P1_IN, &cfg);
    hal_uart_open(HAL_UART_P1_OUT, &cfg);
    int lst = hal_tcp_listen(0);
    echo_port = hal_tcp_local_port(lst);
    int conn = -1;
    nfires = 0;
    ml_timer_start(&tick, hal_time_ms(), 1000, 1000);
    hal_led_set(HAL_LED_STATUS, HAL_RGB_RED);

    while (!hal_sys_should_stop()) {
        uint64_t now = hal_time_ms();
        loops++;
        if (ml_timer_is_due(&tick, now) && nfires < MAX_FIRES) {
            fires[nfires++] = now;
            hal_led_set(HAL_LED_STATUS, (nfires & 1) ? HAL_RGB_GREEN : HAL_RGB_RED);
        }
        uint8_t buf[256];
        int n = hal_uart_read(HAL_UART_P1_IN, buf, sizeof buf, NULL);
        if (n > 0) {
            uart_seen_at_ms = now;
            hal_uart_write(HAL_UART_P1_OUT, buf, (size_t)n);
        }
        if (conn < 0) {
            int c = hal_tcp_accept(lst);
            if (c >= 0) {
                conn = c;
            }
        }
        if (conn >= 0) {
            n = hal_tcp_recv(conn, buf, sizeof buf);
            if (n > 0 && echo_mode) {
                hal_tcp_send(conn, buf, (size_t)n); /* bytes back, as they came */
            } else if (n > 0) {
                /* answer with the device time, to prove it stood still */
                char msg[64];
                int k = 0;
                uint64_t t = hal_time_ms();
                char tmp[24];
                int d = 0;
                do {
                    tmp[d++] = (char)('0' + t % 10);
                    t /= 10;
                } while (t > 0);
                while (d > 0) {
                    msg[k++] = tmp[--d];
                }
                hal_tcp_send(conn, (const uint8_t *)msg, (size_t)k);
            } else if (n == ML_ECONNREFUSED) {
                hal_tcp_close(conn);
                conn = -1;
            }
        }
        hal_time_wait_until(ml_timer_earliest(&tick, HAL_TIME_FOREVER));
    }
    if (conn >= 0) {
        hal_tcp_close(conn);
    }
    hal_tcp_close(lst);
}

static void setup(void)
{
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
    if (sim_start(&cfg, test_app) != ML_OK) {
        fprintf(stderr, "sim_start failed\n");
        abort();
    }
}

static void teardown(void)
{
    sim_stop();
}

/* ------------------------------------------------------------------------- */
/* Cases                                                                     */
/* ------------------------------------------------------------------------- */

static void test_sim_port_timers_fire_at_virtual_instants(void)
{
    CU_ASSERT_EQUAL(sim_now_us(), 0);
    CU_ASSERT_EQUAL(nfires, 0);
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 1000000u);
    sim_advance_ms(10500);
    CU_ASSERT_EQUAL(sim_now_us(), 10500000u);
    CU_ASSERT_EQUAL_FATAL(nfires, 10);
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(fires[i], (uint64_t)(i + 1) * 1000u);
    }
    /* the LED log carries the same instants */
    struct sim_led_event ev[32];
    size_t n = sim_led_events(ev, 32);
    CU_ASSERT_EQUAL(n, 11); /* red at boot, then one change per tick */
    CU_ASSERT_EQUAL(ev[0].t_us, 0);
    CU_ASSERT_EQUAL(ev[1].t_us, 1000000u);
    CU_ASSERT_EQUAL(ev[1].rgb, HAL_RGB_GREEN);
    CU_ASSERT_EQUAL(ev[10].t_us, 10000000u);
    CU_ASSERT_EQUAL(hal_time_utc(), 1700000010);
}

static void test_sim_port_idle_loop_does_not_spin(void)
{
    int before = loops;
    sim_advance_ms(5000);
    /* one pass per timer tick (plus at most a few for wake-ups) */
    CU_ASSERT_TRUE(loops - before >= 5);
    CU_ASSERT_TRUE(loops - before <= 8);
}

static void test_sim_port_uart_served_while_time_stands_still(void)
{
    sim_advance_ms(2500);
    uint64_t t = sim_now_us();
    CU_ASSERT_EQUAL(sim_uart_inject(HAL_UART_P1_IN, "/ISK5\r\n", 7), 7);
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_now_us(), t);
    CU_ASSERT_EQUAL(uart_seen_at_ms, 2500);
    char out[16];
    CU_ASSERT_EQUAL(sim_uart_drain(HAL_UART_P1_OUT, out, sizeof out), 7);
    CU_ASSERT_EQUAL(memcmp(out, "/ISK5\r\n", 7), 0);
    struct hal_uart_cfg cfg;
    CU_ASSERT_TRUE(sim_uart_get_cfg(HAL_UART_P1_IN, &cfg));
    CU_ASSERT_EQUAL(cfg.baud, 115200);
}

static void test_sim_port_socket_served_while_time_stands_still(void)
{
    sim_advance_ms(3700);
    CU_ASSERT_NOT_EQUAL_FATAL(echo_port, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(echo_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    CU_ASSERT_EQUAL_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(send(fd, "?", 1, 0), 1);
        char buf[32] = {0};
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        CU_ASSERT_TRUE(n > 0);
        CU_ASSERT_STRING_EQUAL(buf, "3700");
    }
    CU_ASSERT_EQUAL(sim_now_us(), 3700000u);
    close(fd);
}

static void test_sim_port_reboot_and_power_cycle_restart_app(void)
{
    sim_advance_ms(1500);
    CU_ASSERT_EQUAL(sim_boot_count(), 1);
    CU_ASSERT_EQUAL(sim_power_cycle(), ML_OK);
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    CU_ASSERT_EQUAL(nfires, 0); /* the app started over */
    CU_ASSERT_EQUAL(hal_sys_get_reset_cause(), HAL_SYS_RESET_POWER_ON);
    CU_ASSERT_EQUAL(sim_led_get(HAL_LED_STATUS), HAL_RGB_RED);
    uint64_t t = sim_now_us();
    sim_advance_ms(1000);
    CU_ASSERT_EQUAL(nfires, 1);
    CU_ASSERT_EQUAL(fires[0], (t / 1000u) + 1000u);
}

static void test_sim_port_flash_nor_and_power_cut(void)
{
    uint8_t buf[8];
    CU_ASSERT_EQUAL(hal_flash_erase(HAL_FLASH_CONFIG_A, 0, 4096), ML_OK);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 0, "\x0f\xf0", 2), ML_OK);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 0, "\xf3\xff", 2), ML_OK);
    hal_flash_read(HAL_FLASH_CONFIG_A, 0, buf, 3);
    CU_ASSERT_EQUAL(buf[0], 0x03); /* bits only cleared */
    CU_ASSERT_EQUAL(buf[1], 0xF0);
    CU_ASSERT_EQUAL(buf[2], 0xFF);
    CU_ASSERT_EQUAL(hal_flash_read(HAL_FLASH_CONFIG_A, 16 * 1024 - 6, buf, 8), ML_EINVAL);
    sim_flash_cut_after(1);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 8, "ab", 2), ML_OK);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 16, "abcd", 4), ML_EIO);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 24, "ab", 2), ML_EIO);
    hal_flash_read(HAL_FLASH_CONFIG_A, 16, buf, 4);
    CU_ASSERT_EQUAL(memcmp(buf, "ab\xff\xff", 4), 0); /* half of the cut write landed */
    sim_flash_cut_after(0);

    /* worn: neither erase nor program takes, and the caller is told */
    sim_flash_set_worn(true);
    CU_ASSERT_EQUAL(hal_flash_erase(HAL_FLASH_CONFIG_A, 0, 4096), ML_EIO);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 100, "xy", 2), ML_EIO);
    hal_flash_read(HAL_FLASH_CONFIG_A, 100, buf, 2);
    CU_ASSERT_EQUAL(memcmp(buf, "\xff\xff", 2), 0);
    CU_ASSERT_EQUAL(hal_flash_erase(HAL_FLASH_CONFIG_B, 0, 4096), ML_OK); /* blank stays blank */
    sim_flash_set_worn(false);
    CU_ASSERT_EQUAL(hal_flash_erase(HAL_FLASH_CONFIG_A, 0, 4096), ML_OK);
    CU_ASSERT_EQUAL(hal_flash_write(HAL_FLASH_CONFIG_A, 100, "xy", 2), ML_OK);
}

static void test_sim_port_net_model_dhcp_in_virtual_time(void)
{
    struct sim_net_model m;
    sim_net_get(&m);
    CU_ASSERT_TRUE(m.link_up[HAL_NET_ETH]);
    CU_ASSERT_EQUAL(hal_net_up(HAL_NET_ETH, NULL, NULL), ML_OK);
    CU_ASSERT_EQUAL(hal_net_dhcp_start(), ML_OK);
    struct hal_net_ipv4 a;
    CU_ASSERT_EQUAL(hal_net_dhcp_state(&a), HAL_NET_OP_PENDING);
    sim_advance_ms(m.dhcp_delay_ms);
    CU_ASSERT_EQUAL(hal_net_dhcp_state(&a), HAL_NET_OP_OK);
    CU_ASSERT_EQUAL(a.ip, 0xC0A80132u);
    m.dhcp_answers = false;
    sim_net_set(&m);
    hal_net_dhcp_start();
    sim_advance_ms(m.dhcp_delay_ms);
    CU_ASSERT_EQUAL(hal_net_dhcp_state(&a), HAL_NET_OP_FAILED);
    m.dhcp_answers = true;
    sim_net_set(&m);
}

/* Binding UARTs to ptys before sim_start (as meterlab device does) must hold. */
static void test_sim_port_uart_bound_before_start(void)
{
    sim_stop();
    int in_m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    int out_m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    CU_ASSERT_FATAL(in_m >= 0 && out_m >= 0);
    grantpt(in_m);
    unlockpt(in_m);
    grantpt(out_m);
    unlockpt(out_m);
    int in_s = open(ptsname(in_m), O_RDWR | O_NOCTTY);
    int out_s = open(ptsname(out_m), O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios t;
    tcgetattr(in_s, &t);
    cfmakeraw(&t);
    tcsetattr(in_s, TCSANOW, &t);
    tcsetattr(out_s, TCSANOW, &t);
    sim_uart_bind_fd(HAL_UART_P1_IN, in_m);
    sim_uart_bind_fd(HAL_UART_P1_OUT, out_m);
    setup();
    CU_ASSERT_EQUAL(write(in_s, "/ABC5\r\n", 7), 7);
    char buf[16] = {0};
    ssize_t got = 0;
    for (int i = 0; i < 200 && got < 7; i++) {
        usleep(5000);
        ssize_t r = read(out_s, buf + got, sizeof buf - 1 - (size_t)got);
        if (r > 0) {
            got += r;
        }
    }
    CU_ASSERT_EQUAL(got, 7);
    CU_ASSERT_STRING_EQUAL(buf, "/ABC5\r\n");
    sim_uart_bind_fd(HAL_UART_P1_IN, -1);
    sim_uart_bind_fd(HAL_UART_P1_OUT, -1);
    close(in_s);
    close(out_s);
    close(in_m);
    close(out_m);
}

/* ------------------------------------------------------------------------- */
/* Busy-poll (real time only)                                                */
/* ------------------------------------------------------------------------- */

static int connect_echo(void)
{
    for (int i = 0; i < 500 && echo_port == 0; i++) {
        usleep(1000);
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(echo_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (echo_port == 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* @p n request/answer round trips, @p gap_us apart; returns how many were answered. */
static int ping_pong(int fd, int n, unsigned gap_us)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        if (gap_us > 0) {
            usleep(gap_us);
        }
        char buf[32];
        if (send(fd, "?", 1, 0) == 1 && recv(fd, buf, sizeof buf, 0) > 0) {
            ok++;
        }
    }
    return ok;
}

static void start_real(int32_t busy_poll_us)
{
    sim_stop();
    echo_port = 0;
    echo_mode = false;
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL, .busy_poll_us = busy_poll_us};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, test_app), ML_OK);
}

static void test_sim_port_busy_poll_never_in_virtual_time(void)
{
    /* setup() started the port in virtual time with busy_poll_us = 0 (the default) */
    int fd = connect_echo();
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ping_pong(fd, 50, 0), 50);
    close(fd);
    struct sim_busy_poll_stats st;
    sim_busy_poll_get_stats(&st);
    CU_ASSERT_EQUAL(st.windows, 0);
    CU_ASSERT_EQUAL(st.window_us, 0);
    CU_ASSERT_EQUAL(sim_now_us(), 0); /* and time did not move */
}

static void test_sim_port_busy_poll_adapts_in_real_time(void)
{
    start_real(0); /* the default bound */
    int fd = connect_echo();
    CU_ASSERT_TRUE_FATAL(fd >= 0);

    /* a client that asks again at once: windows open and find its next request
     * (on a loaded machine the window may back off for a while: keep asking) */
    struct sim_busy_poll_stats a;
    int asked = 0;
    do {
        CU_ASSERT_EQUAL(ping_pong(fd, 100, 0), 100);
        asked += 100;
        sim_busy_poll_get_stats(&a);
    } while ((a.hits == 0 || a.read_aheads == 0) && asked < 5000);
    CU_ASSERT_TRUE(a.windows > 0);
    CU_ASSERT_TRUE(a.hits > 0);
    CU_ASSERT_TRUE(a.read_aheads > 0); /* requests taken by the window's own recv */
    CU_ASSERT_TRUE(a.window_us <= 50);

    /* a slow client (every 5 ms): the window halves down to off (50, 25, 12, 6, 0) */
    CU_ASSERT_EQUAL(ping_pong(fd, 10, 5000), 10);
    struct sim_busy_poll_stats b;
    sim_busy_poll_get_stats(&b);
    CU_ASSERT_EQUAL(b.window_us, 0);
    /* the last few requests opened no window at all */
    CU_ASSERT_TRUE(b.windows - a.windows < 10);

    /* fast again: the window grows back and finds requests again */
    struct sim_busy_poll_stats c;
    asked = 0;
    do {
        CU_ASSERT_EQUAL(ping_pong(fd, 100, 0), 100);
        asked += 100;
        sim_busy_poll_get_stats(&c);
    } while (c.hits == b.hits && asked < 5000);
    CU_ASSERT_TRUE(c.hits > b.hits);
    close(fd);
}

/* Send @p len bytes and read the same bytes back (the app echoes what it reads). */
static bool echo_round_trip(int fd, const uint8_t *out, size_t len)
{
    static uint8_t back[8192];
    if (send(fd, out, len, 0) != (ssize_t)len) {
        return false;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = recv(fd, back + got, len - got, 0);
        if (r <= 0) {
            return false;
        }
        got += (size_t)r;
    }
    return memcmp(back, out, len) == 0;
}

static void test_sim_port_busy_poll_read_ahead_keeps_the_stream(void)
{
    start_real(0);
    echo_mode = true;
    int fd = connect_echo();
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    static uint8_t msg[6000];
    for (size_t i = 0; i < sizeof msg; i++) {
        msg[i] = (uint8_t)(i * 7u + 3u);
    }
    /* small requests (read ahead whole) mixed with ones larger than the read-ahead
     * buffer and than the app's 256-byte reads: every byte comes back in order */
    int ok = 0;
    for (int i = 0; i < 400; i++) {
        size_t len = (i % 50 == 49) ? sizeof msg : (size_t)(1 + i % 40);
        msg[0] = (uint8_t)i;
        ok += echo_round_trip(fd, msg, len);
    }
    CU_ASSERT_EQUAL(ok, 400);
    struct sim_busy_poll_stats st;
    sim_busy_poll_get_stats(&st);
    CU_ASSERT_TRUE(st.read_aheads > 0);

    /* the end of stream read ahead closes the connection; a new client is served */
    close(fd);
    fd = connect_echo();
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_TRUE(echo_round_trip(fd, msg, 100));
    close(fd);
}

static void test_sim_port_busy_poll_off(void)
{
    start_real(-1);
    int fd = connect_echo();
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ping_pong(fd, 200, 0), 200);
    close(fd);
    struct sim_busy_poll_stats st;
    sim_busy_poll_get_stats(&st);
    CU_ASSERT_EQUAL(st.windows, 0);
    CU_ASSERT_EQUAL(st.spin_us, 0);
}

/* The link goes down under an open connection: the peer sees it closed, a
 * connection made meanwhile is closed unserved, and after the link is back
 * and a new lease the device answers again (as over the ESP-AT module). */
static void test_sim_port_link_loss_tears_down_tcp(void)
{
    struct sim_net_model m;
    sim_net_get(&m);
    CU_ASSERT_EQUAL(hal_net_up(HAL_NET_ETH, NULL, NULL), ML_OK);
    CU_ASSERT_EQUAL(hal_net_dhcp_start(), ML_OK);
    sim_advance_ms(m.dhcp_delay_ms);
    int fd = connect_echo();
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ping_pong(fd, 3, 0), 3);

    m.link_up[HAL_NET_ETH] = false;
    sim_net_set(&m);
    sim_wait_idle();
    char buf[32];
    CU_ASSERT_EQUAL(recv(fd, buf, sizeof buf, 0), 0); /* closed by the device */
    close(fd);
    fd = connect_echo(); /* the listener's backlog takes it; the device closes it */
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(send(fd, "?", 1, 0), 1);
    sim_wait_idle();
    CU_ASSERT_TRUE(recv(fd, buf, sizeof buf, 0) <= 0);
    close(fd);

    m.link_up[HAL_NET_ETH] = true;
    sim_net_set(&m);
    CU_ASSERT_EQUAL(hal_net_dhcp_start(), ML_OK);
    sim_advance_ms(m.dhcp_delay_ms);
    fd = connect_echo();
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(ping_pong(fd, 3, 0), 3);
    close(fd);
}

/* ------------------------------------------------------------------------- */
/* Watchdog                                                                  */
/* ------------------------------------------------------------------------- */

/* Kicks and wakes every second until told to stop kicking; then waits with no
 * deadline (what a loop waiting for a silent meter did). Records each start's
 * reset cause. */
static volatile bool wd_stop_kicking;
static volatile int wd_boots;
static volatile enum hal_sys_reset_cause wd_cause[8];
static volatile uint64_t wd_last_kick_ms;

static void wdog_app(void)
{
    if (wd_boots < 8) {
        wd_cause[wd_boots] = hal_sys_get_reset_cause();
    }
    wd_boots++;
    while (!hal_sys_should_stop()) {
        uint64_t now = hal_time_ms();
        bool kick = !wd_stop_kicking;
        if (kick) {
            hal_sys_watchdog_kick();
            wd_last_kick_ms = now;
        }
        hal_time_wait_until(kick ? now + 1000u : HAL_TIME_FOREVER);
    }
}

static void test_sim_port_watchdog_resets_a_loop_that_stops_kicking(void)
{
    sim_stop();
    wd_stop_kicking = false;
    wd_boots = 0;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, wdog_app), ML_OK);
    CU_ASSERT_EQUAL(sim_reset_cause(), HAL_SYS_RESET_POWER_ON);

    /* kicked every second: never reset, however long it runs */
    sim_advance_ms(60000);
    CU_ASSERT_EQUAL(sim_boot_count(), 1);
    CU_ASSERT_EQUAL(sim_watchdog_resets(), 0);
    CU_ASSERT_EQUAL(wd_last_kick_ms, 60000u);

    /* it stops kicking: the loop's wait ends when the watchdog expires, 4 s
     * (ML_WATCHDOG_TIMEOUT_MS, the target's) after the last kick */
    wd_stop_kicking = true;
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_next_deadline_us(), 64000000u);
    sim_advance_to_us(63999000u);
    CU_ASSERT_EQUAL(sim_boot_count(), 1);
    CU_ASSERT_EQUAL(sim_watchdog_resets(), 0);
    sim_advance_to_us(64000000u);
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    CU_ASSERT_EQUAL(sim_watchdog_resets(), 1);
    CU_ASSERT_EQUAL(sim_reset_cause(), HAL_SYS_RESET_WATCHDOG);
    CU_ASSERT_EQUAL(wd_boots, 2);
    CU_ASSERT_EQUAL(wd_cause[0], HAL_SYS_RESET_POWER_ON);
    CU_ASSERT_EQUAL(wd_cause[1], HAL_SYS_RESET_WATCHDOG);

    /* the new start never kicked: not armed, never reset (as the target) */
    sim_advance_ms(60000);
    CU_ASSERT_EQUAL(sim_boot_count(), 2);
    CU_ASSERT_EQUAL(sim_next_deadline_us(), UINT64_MAX);

    /* a power cycle says power-on again */
    CU_ASSERT_EQUAL(sim_power_cycle(), ML_OK);
    CU_ASSERT_EQUAL(sim_reset_cause(), HAL_SYS_RESET_POWER_ON);
    CU_ASSERT_EQUAL(wd_cause[2], HAL_SYS_RESET_POWER_ON);
}

/* Flash takes the STM32F405's time (datasheet maxima, x32): the app (firmware
 * thread) records the clock around each call; a whole firmware slot erased at once
 * (two 128 KiB sectors, 2 s each) outlasts the 4 s watchdog and is reset. */
static volatile uint64_t fl_t[6];
static volatile int fl_rc[3];
static volatile int fl_boots;

static void flash_app(void)
{
    fl_boots++;
    if (fl_boots > 1) {
        while (!hal_sys_should_stop()) {
            hal_time_wait_until(HAL_TIME_FOREVER);
        }
        return;
    }
    static uint8_t page[1024];
    hal_sys_watchdog_kick();
    fl_t[0] = hal_time_us();
    fl_rc[0] = hal_flash_erase(HAL_FLASH_CONFIG_A, 0, 1); /* one 16 KiB sector */
    fl_t[1] = hal_time_us();
    fl_rc[1] = hal_flash_write(HAL_FLASH_CONFIG_A, 0, page, sizeof page); /* 1024 bytes */
    fl_t[2] = hal_time_us();
    hal_sys_watchdog_kick();
    fl_t[3] = hal_time_us();
    fl_rc[2] = hal_flash_erase(HAL_FLASH_FW_A, 0, 256u * 1024u); /* two 128 KiB sectors */
    fl_t[4] = hal_time_us();
    while (!hal_sys_should_stop()) {
        hal_time_wait_until(HAL_TIME_FOREVER);
    }
}

static void test_sim_port_flash_takes_the_targets_time(void)
{
    sim_stop();
    fl_boots = 0;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, flash_app), ML_OK);
    sim_wait_idle();
    CU_ASSERT_EQUAL(fl_rc[0], ML_OK);
    CU_ASSERT_EQUAL(fl_t[1] - fl_t[0], 500000u); /* 16 KiB sector erase: 500 ms */
    CU_ASSERT_EQUAL(fl_rc[1], ML_OK);
    CU_ASSERT_EQUAL(fl_t[2] - fl_t[1], 1024u * 100u); /* 100 us a byte */
    CU_ASSERT_EQUAL(fl_rc[2], ML_EIO);                /* cut short by the reset */
    CU_ASSERT_EQUAL(fl_t[4] - fl_t[3], 4000000u);     /* the watchdog's 4 s, not 2 x 2 s */
    CU_ASSERT_EQUAL(sim_watchdog_resets(), 1);
    CU_ASSERT_EQUAL(sim_reset_cause(), HAL_SYS_RESET_WATCHDOG);
    CU_ASSERT_EQUAL(fl_boots, 2);
    sim_stop();
}

/* Real time: a pass that runs past the timeout is reset at its next kick. */
static void wdog_slow_app(void)
{
    if (wd_boots < 8) {
        wd_cause[wd_boots] = hal_sys_get_reset_cause();
    }
    wd_boots++;
    bool slow = wd_boots == 1;
    while (!hal_sys_should_stop()) {
        hal_sys_watchdog_kick();
        if (slow) {
            slow = false;
            uint64_t until = hal_time_ms() + ML_WATCHDOG_TIMEOUT_MS + 100u;
            while (hal_time_ms() < until) {
                usleep(10000); /* busy, not waiting in the HAL */
            }
        }
        hal_time_wait_until(hal_time_ms() + 50u);
    }
}

static void test_sim_port_watchdog_real_time_slow_pass(void)
{
    sim_stop();
    wd_boots = 0;
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, wdog_slow_app), ML_OK);
    for (int i = 0; i < 100 && sim_watchdog_resets() == 0; i++) {
        usleep(100000);
    }
    CU_ASSERT_EQUAL(sim_watchdog_resets(), 1);
    usleep(200000);
    CU_ASSERT_EQUAL(wd_boots, 2);
    CU_ASSERT_EQUAL(wd_cause[1], HAL_SYS_RESET_WATCHDOG);
}

/* An app that reads P1 in every @ref poll_ms only (a polling loop that sleeps on its
 * timer, woken by the UART but not reading then), and counts what it got. */
static volatile uint32_t poll_ms;
static volatile size_t poll_got;

static void uart_poll_app(void)
{
    struct hal_uart_cfg cfg = {115200, 8, HAL_UART_PARITY_NONE, 1, false};
    hal_uart_open(HAL_UART_P1_IN, &cfg);
    poll_got = 0;
    uint64_t next = hal_time_ms();
    while (!hal_sys_should_stop()) {
        if (hal_time_ms() >= next) {
            uint8_t buf[64];
            int n;
            while ((n = hal_uart_read(HAL_UART_P1_IN, buf, sizeof buf, NULL)) > 0) {
                poll_got += (size_t)n;
            }
            next = hal_time_ms() + poll_ms;
        }
        hal_time_wait_until(next);
    }
}

/* Issue 18: the sim's UART rings are the target's (ML_UART_P1_IN_RX_CAP = 1 KiB, 89 ms
 * at 115200 baud) and sim_uart_feed() delivers at the line's pace: an app that reads P1
 * in every 200 ms loses bytes, as on the board; one that reads every 10 ms loses none.
 * With the old 16 KiB ring and instant delivery both got every byte. */
static void test_sim_port_uart_rx_overruns_like_the_target(void)
{
    static uint8_t tel[3000];
    for (size_t i = 0; i < sizeof tel; i++) {
        tel[i] = (uint8_t)('0' + i % 10);
    }
    CU_ASSERT_EQUAL(ML_UART_P1_IN_RX_CAP, 1024u);
    const uint32_t periods[2] = {10, 200};
    for (int k = 0; k < 2; k++) {
        sim_stop();
        poll_ms = periods[k];
        struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
        CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, uart_poll_app), ML_OK);
        sim_advance_ms(1000);
        uint64_t t0 = sim_now_us();
        uint32_t o0 = hal_uart_rx_overruns(HAL_UART_P1_IN);
        size_t taken = sim_uart_feed(HAL_UART_P1_IN, tel, sizeof tel);
        CU_ASSERT_EQUAL(taken + (hal_uart_rx_overruns(HAL_UART_P1_IN) - o0), sizeof tel);
        /* 3000 characters of 10 bits at 115200 baud: 87 µs each (rounded up) */
        CU_ASSERT_EQUAL(sim_now_us() - t0, 3000u * 87u);
        sim_advance_ms(500);
        uint32_t lost = hal_uart_rx_overruns(HAL_UART_P1_IN) - o0;
        if (k == 0) {
            CU_ASSERT_EQUAL(lost, 0);
            CU_ASSERT_EQUAL(poll_got, sizeof tel);
        } else {
            CU_ASSERT_TRUE(lost > 0);
            CU_ASSERT_EQUAL(poll_got + lost, sizeof tel);
        }
    }
    /* a burst bigger than the ring, delivered at once, keeps exactly the ring's size */
    sim_stop();
    poll_ms = 100000;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL, .utc_at_start = 1700000000};
    CU_ASSERT_EQUAL_FATAL(sim_start(&cfg, uart_poll_app), ML_OK);
    sim_advance_ms(10);
    CU_ASSERT_EQUAL(sim_uart_inject(HAL_UART_P1_IN, tel, 1100), ML_UART_P1_IN_RX_CAP);
    CU_ASSERT_EQUAL(hal_uart_rx_overruns(HAL_UART_P1_IN), 1100 - ML_UART_P1_IN_RX_CAP);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_sim_port_timers_fire_at_virtual_instants",
         test_sim_port_timers_fire_at_virtual_instants},
        {"test_sim_port_idle_loop_does_not_spin", test_sim_port_idle_loop_does_not_spin},
        {"test_sim_port_uart_served_while_time_stands_still",
         test_sim_port_uart_served_while_time_stands_still},
        {"test_sim_port_socket_served_while_time_stands_still",
         test_sim_port_socket_served_while_time_stands_still},
        {"test_sim_port_reboot_and_power_cycle_restart_app",
         test_sim_port_reboot_and_power_cycle_restart_app},
        {"test_sim_port_flash_nor_and_power_cut", test_sim_port_flash_nor_and_power_cut},
        {"test_sim_port_net_model_dhcp_in_virtual_time",
         test_sim_port_net_model_dhcp_in_virtual_time},
        {"test_sim_port_uart_bound_before_start", test_sim_port_uart_bound_before_start},
        {"test_sim_port_busy_poll_never_in_virtual_time",
         test_sim_port_busy_poll_never_in_virtual_time},
        {"test_sim_port_busy_poll_adapts_in_real_time",
         test_sim_port_busy_poll_adapts_in_real_time},
        {"test_sim_port_busy_poll_read_ahead_keeps_the_stream",
         test_sim_port_busy_poll_read_ahead_keeps_the_stream},
        {"test_sim_port_busy_poll_off", test_sim_port_busy_poll_off},
        {"test_sim_port_link_loss_tears_down_tcp", test_sim_port_link_loss_tears_down_tcp},
        {"test_sim_port_watchdog_resets_a_loop_that_stops_kicking",
         test_sim_port_watchdog_resets_a_loop_that_stops_kicking},
        {"test_sim_port_watchdog_real_time_slow_pass", test_sim_port_watchdog_real_time_slow_pass},
        {"test_sim_port_flash_takes_the_targets_time", test_sim_port_flash_takes_the_targets_time},
        {"test_sim_port_uart_rx_overruns_like_the_target",
         test_sim_port_uart_rx_overruns_like_the_target},
    };
    return ml_test_run("sim_port", cases, ML_ARRAY_SIZE(cases), setup, teardown);
}
