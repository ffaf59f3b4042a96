/*
 * The Modbus slave app used by the integration tests and the benchmark: one
 * regmap_live fed from a fixed reading, served over TCP (one connection, a new
 * one replaces the old) or RTU on HAL_UART_RS485.
 */
#include "mb_sim_app.h"

#include "err.h"
#include "hal.h"

struct mb_app_cfg mb_app_cfg;
volatile uint16_t mb_app_port;
volatile int mb_app_writes;
volatile uint16_t mb_app_waddr;
volatile uint16_t mb_app_wval;
struct mb_rtu mb_app_rtu;
struct mb_tcp mb_app_tcp;

static struct regmap_live live;
static struct mb_slave slave;

static int app_write(void *ctx, uint16_t addr, uint16_t count, const uint16_t *vals)
{
    (void)ctx;
    (void)count;
    mb_app_waddr = addr;
    mb_app_wval = vals[0];
    mb_app_writes++;
    return MB_EX_NONE;
}

static void serve_tcp(void)
{
    int lst = hal_tcp_listen(0);
    mb_app_port = hal_tcp_local_port(lst);
    int conn = -1;
    bool data_woke = false;
    uint8_t in[1024];
    uint8_t out[MB_TCP_ADU_MAX];
    while (!hal_sys_should_stop()) {
        /* Try accept only when the last wake-up brought no request: with a busy
         * client that saves an accept() per request. A new client replaces the
         * old one (test policy; products.md's 5 s rule belongs to the app). */
        if (conn < 0 || !data_woke) {
            int c = hal_tcp_accept(lst);
            if (c >= 0) {
                if (conn >= 0) {
                    hal_tcp_close(conn);
                }
                conn = c;
                mb_tcp_init(&mb_app_tcp, &slave);
            }
        }
        data_woke = false;
        while (conn >= 0) {
            int n = hal_tcp_recv(conn, in, sizeof in);
            if (n == ML_EAGAIN) {
                break;
            }
            if (n < 0) {
                hal_tcp_close(conn);
                conn = -1;
                break;
            }
            data_woke = true;
            size_t off = 0;
            while (off < (size_t)n) {
                size_t used;
                int r = mb_tcp_feed(&mb_app_tcp, &in[off], (size_t)n - off, &used, out, sizeof out);
                off += used;
                if (r > 0) {
                    hal_tcp_send(conn, out, (size_t)r);
                } else if (r < 0) {
                    /* Messaging on TCP/IP §4.4.1.1: a bad MBAP header drops the connection */
                    hal_tcp_close(conn);
                    conn = -1;
                    break;
                }
            }
            if ((size_t)n < sizeof in) {
                break; /* drained; poll() wakes the loop again when more arrives */
            }
        }
        hal_time_wait_until(HAL_TIME_FOREVER);
    }
    if (conn >= 0) {
        hal_tcp_close(conn);
    }
    hal_tcp_close(lst);
}

static void serve_rtu(void)
{
    struct hal_uart_cfg cfg = {mb_app_cfg.baud, 8, HAL_UART_PARITY_EVEN, 1, false};
    hal_uart_open(HAL_UART_RS485, &cfg);
    mb_rtu_init(&mb_app_rtu, &slave, mb_app_cfg.address, mb_app_cfg.baud, 11);
    uint8_t in[512];
    uint32_t ts[512];
    uint8_t out[MB_RTU_ADU_MAX];
    while (!hal_sys_should_stop()) {
        int n = hal_uart_read(HAL_UART_RS485, in, sizeof in, ts);
        size_t off = 0;
        while (n > 0 && off < (size_t)n) {
            size_t used;
            int r = mb_rtu_feed(&mb_app_rtu, &in[off], &ts[off], (size_t)n - off, &used, out,
                                sizeof out);
            off += used;
            if (r > 0) {
                hal_uart_write(HAL_UART_RS485, out, (size_t)r);
            }
        }
        int r = mb_rtu_poll(&mb_app_rtu, (uint32_t)hal_time_us(), out, sizeof out);
        if (r > 0) {
            hal_uart_write(HAL_UART_RS485, out, (size_t)r);
        }
        hal_time_wait_until(mb_rtu_deadline_ms(&mb_app_rtu, hal_time_us()));
    }
    hal_uart_close(HAL_UART_RS485);
}

void mb_app_main(void)
{
    mb_app_port = 0;
    mb_app_writes = 0;
    regmap_live_init(&live, mb_app_cfg.tpl);
    regmap_live_update(&live, &mb_app_cfg.reading);
    mb_slave_init(&slave, regmap_mb_read, app_write, &live);
    if (mb_app_cfg.transport == MB_APP_TCP) {
        serve_tcp();
    } else {
        serve_rtu();
    }
}
