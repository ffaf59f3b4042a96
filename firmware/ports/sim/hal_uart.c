/*
 * Sim UARTs: each role has an RX ring (bytes stamped with their arrival time)
 * filled by the host (sim_uart_inject, sim_uart_feed) or by a bound fd
 * (pty/tty), and a TX ring drained by the host, or written straight to the
 * bound fd. The rings have the target's sizes (ML_UART_<ROLE>_RX_CAP/_TX_CAP,
 * ml_config.h): a full RX ring drops and counts bytes, a full TX ring takes
 * fewer, as on the board.
 */
#define _GNU_SOURCE
#include "hal_uart.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "ml_config.h"
#include "ring.h"
#include "sim.h"
#include "sim_priv.h"

struct sim_uart {
    bool open;
    struct hal_uart_cfg cfg;
    struct ml_ring rx;
    uint8_t *rx_buf; /* rx_cap bytes */
    uint32_t *rx_ts; /* rx_cap arrival stamps */
    uint32_t rx_cap, tx_cap;
    struct ml_ring tx;
    uint8_t *tx_buf;   /* tx_cap bytes */
    uint32_t tx_total; /* bytes the firmware wrote (atomic; never reset) */
    int fd;
};

static struct sim_uart U[HAL_UART_COUNT];

#define SIM_UART_RINGS(role, RX, TX)                                                               \
    static uint8_t rx_buf_##role[RX];                                                              \
    static uint32_t rx_ts_##role[RX];                                                              \
    static uint8_t tx_buf_##role[TX]
SIM_UART_RINGS(p1_in, ML_UART_P1_IN_RX_CAP, ML_UART_P1_IN_TX_CAP);
SIM_UART_RINGS(p1_out, ML_UART_P1_OUT_RX_CAP, ML_UART_P1_OUT_TX_CAP);
SIM_UART_RINGS(rs485, ML_UART_RS485_RX_CAP, ML_UART_RS485_TX_CAP);
SIM_UART_RINGS(console, ML_UART_CONSOLE_RX_CAP, ML_UART_CONSOLE_TX_CAP);
SIM_UART_RINGS(coproc, ML_UART_COPROC_RX_CAP, ML_UART_COPROC_TX_CAP);

#define SIM_UART_BIND(id, role, RX, TX)                                                            \
    do {                                                                                           \
        U[id].rx_buf = rx_buf_##role;                                                              \
        U[id].rx_ts = rx_ts_##role;                                                                \
        U[id].tx_buf = tx_buf_##role;                                                              \
        U[id].rx_cap = (RX);                                                                       \
        U[id].tx_cap = (TX);                                                                       \
    } while (0)

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
        u->rx_ts[u->rx.head & (u->rx_cap - 1u)] = ts;
        if (ml_ring_put(&u->rx, p[n]) != ML_OK) {
            u->rx.dropped += (uint32_t)(len - n - 1u);
            break;
        }
    }
    return n;
}

/* A pty carries no line timing: take what the ring has room for and leave the
 * rest in the kernel until the app has read (bytes are not lost on a pty, as
 * they would not be at the line rate). */
static void fd_readable(int fd, short revents, void *ctx)
{
    struct sim_uart *u = ctx;
    uint8_t buf[4096];
    (void)revents;
    for (;;) {
        size_t room = ml_ring_space(&u->rx);
        if (room == 0) {
            break;
        }
        ssize_t r = read(fd, buf, room < sizeof buf ? room : sizeof buf);
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
        SIM_UART_BIND(HAL_UART_P1_IN, p1_in, ML_UART_P1_IN_RX_CAP, ML_UART_P1_IN_TX_CAP);
        SIM_UART_BIND(HAL_UART_P1_OUT, p1_out, ML_UART_P1_OUT_RX_CAP, ML_UART_P1_OUT_TX_CAP);
        SIM_UART_BIND(HAL_UART_RS485, rs485, ML_UART_RS485_RX_CAP, ML_UART_RS485_TX_CAP);
        SIM_UART_BIND(HAL_UART_CONSOLE, console, ML_UART_CONSOLE_RX_CAP, ML_UART_CONSOLE_TX_CAP);
        SIM_UART_BIND(HAL_UART_COPROC, coproc, ML_UART_COPROC_RX_CAP, ML_UART_COPROC_TX_CAP);
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
        ml_ring_init(&u->rx, u->rx_buf, u->rx_cap);
        ml_ring_init(&u->tx, u->tx_buf, u->tx_cap);
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
        uint32_t ts = u->rx_ts[u->rx.tail & (u->rx_cap - 1u)];
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
    int n;
    if (u->fd >= 0) {
        ssize_t w = write(u->fd, buf, len);
        n = w < 0 ? 0 : (int)w; /* a pty nobody reads from fills up: drop */
    } else {
        n = (int)ml_ring_write(&u->tx, buf, len);
    }
    __atomic_add_fetch(&u->tx_total, (uint32_t)n, __ATOMIC_SEQ_CST);
    return n;
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

/* Time one character takes on the line at the UART's settings (µs, rounded up). */
static uint64_t char_us(const struct sim_uart *u)
{
    uint32_t baud = u->open && u->cfg.baud > 0 ? u->cfg.baud : 115200u;
    uint32_t bits = 1u + (u->open ? u->cfg.data_bits : 8u) +
                    (u->open && u->cfg.parity != HAL_UART_PARITY_NONE ? 1u : 0u) +
                    (u->open && u->cfg.stop_bits == 2 ? 2u : 1u);
    return ((uint64_t)bits * 1000000u + baud - 1u) / baud;
}

size_t sim_uart_feed(enum hal_uart_id id, const void *data, size_t len)
{
    if (!valid(id)) {
        return 0;
    }
    uart_init_once();
    struct sim_uart *u = &U[id];
    const uint8_t *p = data;
    size_t taken = 0;
    /* a quarter of the ring at a time, the time it takes on the line between:
     * the firmware runs at its own deadlines meanwhile and reads when woken */
    size_t slice = u->rx_cap / 4u > 0 ? u->rx_cap / 4u : 1u;
    for (size_t off = 0; off < len; off += slice) {
        size_t k = len - off < slice ? len - off : slice;
        sim_wait_idle();
        taken += sim_uart_inject(id, p + off, k);
        sim_advance_to_us(sim_now_us() + (uint64_t)k * char_us(u));
    }
    sim_wait_idle();
    return taken;
}

uint32_t sim_uart_tx_total(enum hal_uart_id id)
{
    return valid(id) ? __atomic_load_n(&U[id].tx_total, __ATOMIC_SEQ_CST) : 0u;
}

uint32_t sim_uart_rx_total(enum hal_uart_id id)
{
    if (!valid(id)) {
        return 0;
    }
    sim_lock();
    uint32_t n = U[id].rx.head + U[id].rx.dropped;
    sim_unlock();
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
