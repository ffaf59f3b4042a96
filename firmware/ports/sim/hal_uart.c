/*
 * Sim UARTs: each role has an RX ring (bytes stamped with their arrival time)
 * filled by the host (sim_uart_inject) or by a bound fd (pty/tty), and a TX
 * ring drained by the host, or written straight to the bound fd.
 */
#define _GNU_SOURCE
#include "hal_uart.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "ring.h"
#include "sim_priv.h"

#define RX_CAP 16384u
#define TX_CAP 65536u

struct sim_uart {
    bool open;
    struct hal_uart_cfg cfg;
    struct ml_ring rx;
    uint8_t rx_buf[RX_CAP];
    uint32_t rx_ts[RX_CAP];
    struct ml_ring tx;
    uint8_t tx_buf[TX_CAP];
    int fd;
};

static struct sim_uart U[HAL_UART_COUNT];

static bool valid(enum hal_uart_id id)
{
    return (int)id >= 0 && id < HAL_UART_COUNT;
}

/* Producer side of the RX ring (host thread for inject, fw thread for fds). */
static size_t rx_push(struct sim_uart *u, const uint8_t *p, size_t len)
{
    uint32_t ts = (uint32_t)sim_time_us();
    size_t n = 0;
    for (; n < len; n++) {
        u->rx_ts[u->rx.head & (RX_CAP - 1u)] = ts;
        if (ml_ring_put(&u->rx, p[n]) != ML_OK) {
            u->rx.dropped += (uint32_t)(len - n - 1u);
            break;
        }
    }
    return n;
}

static void fd_readable(int fd, short revents, void *ctx)
{
    struct sim_uart *u = ctx;
    uint8_t buf[4096];
    (void)revents;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
            break;
        }
        rx_push(u, buf, (size_t)r);
    }
}

/* Static storage starts with fd 0; mark every UART unbound once, before the
 * first reset or bind, whichever comes first (binding before sim_start is normal). */
static void uart_init_once(void)
{
    static bool inited;
    if (!inited) {
        for (int i = 0; i < HAL_UART_COUNT; i++) {
            U[i].fd = -1;
        }
        inited = true;
    }
}

void sim_uart_reset(void)
{
    uart_init_once();
    for (int i = 0; i < HAL_UART_COUNT; i++) {
        struct sim_uart *u = &U[i];
        int fd = u->fd;
        u->open = false;
        ml_ring_init(&u->rx, u->rx_buf, RX_CAP);
        ml_ring_init(&u->tx, u->tx_buf, TX_CAP);
        /* A bound fd survives a power cycle (the cable stays plugged in). */
        u->fd = fd;
    }
}

int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg)
{
    ML_VERIFY(valid(id) && cfg != NULL, ML_EINVAL);
    ML_VERIFY(cfg->baud >= 300 && cfg->baud <= 4000000, ML_EINVAL);
    ML_VERIFY(cfg->data_bits == 7 || cfg->data_bits == 8, ML_EINVAL);
    struct sim_uart *u = &U[id];
    sim_lock();
    u->cfg = *cfg;
    u->open = true;
    ml_ring_clear(&u->rx);
    sim_unlock();
    return ML_OK;
}

void hal_uart_close(enum hal_uart_id id)
{
    if (valid(id)) {
        U[id].open = false;
    }
}

int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us)
{
    ML_VERIFY(valid(id), ML_EBADF);
    struct sim_uart *u = &U[id];
    if (!u->open) {
        return ML_EBADF;
    }
    size_t n = 0;
    while (n < cap) {
        uint32_t ts = u->rx_ts[u->rx.tail & (RX_CAP - 1u)];
        if (ml_ring_get(&u->rx, &buf[n]) != ML_OK) {
            break;
        }
        if (ts_us != NULL) {
            ts_us[n] = ts;
        }
        n++;
    }
    return (int)n;
}

int hal_uart_write(enum hal_uart_id id, const uint8_t *buf, size_t len)
{
    ML_VERIFY(valid(id), ML_EBADF);
    struct sim_uart *u = &U[id];
    if (!u->open) {
        return ML_EBADF;
    }
    if (u->fd >= 0) {
        ssize_t w = write(u->fd, buf, len);
        return w < 0 ? 0 : (int)w; /* a pty nobody reads from fills up: drop */
    }
    return (int)ml_ring_write(&u->tx, buf, len);
}

uint32_t hal_uart_rx_overruns(enum hal_uart_id id)
{
    return valid(id) ? U[id].rx.dropped : 0;
}

/* ------------------------------------------------------------------------- */
/* Host side                                                                 */
/* ------------------------------------------------------------------------- */

size_t sim_uart_inject(enum hal_uart_id id, const void *data, size_t len)
{
    if (!valid(id)) {
        return 0;
    }
    size_t n = rx_push(&U[id], data, len);
    sim_wake();
    return n;
}

size_t sim_uart_drain(enum hal_uart_id id, void *out, size_t cap)
{
    if (!valid(id)) {
        return 0;
    }
    return ml_ring_read(&U[id].tx, out, cap);
}

void sim_uart_bind_fd(enum hal_uart_id id, int fd)
{
    if (!valid(id)) {
        return;
    }
    uart_init_once();
    struct sim_uart *u = &U[id];
    if (u->fd >= 0) {
        sim_poll_remove(u->fd);
    }
    u->fd = fd;
    if (fd >= 0) {
        sim_poll_add(fd, fd_readable, u);
    }
}

bool sim_uart_get_cfg(enum hal_uart_id id, struct hal_uart_cfg *out)
{
    if (!valid(id) || !U[id].open) {
        return false;
    }
    *out = U[id].cfg;
    return true;
}
