/*
 * CMSDK APB UART driver. RX: the RX interrupt moves each byte, stamped with
 * hal_time_us(), into the role's RX ring. TX: hal_uart_write() fills a TX ring
 * and starts the transmitter if it is idle; each TX interrupt (one character
 * sent) feeds the next byte.
 *
 * The CMSDK UART only does 8N1. 7E1/7O1 (DSMR 2.2, TIC) have the same
 * 10-bit frame, so they run as 8N1 with the parity in bit 7: stripped on
 * receive, computed on transmit.
 */
#include "hal_uart.h"

#include "board_mps2_an386.h"
#include "cm.h"
#include "err.h"
#include "hal_time.h"
#include "ring.h"

#define UART_REG(u, off) CM_REG((u)->hw->base + (off))

struct cm_uart {
    const struct board_uart_hw *hw;
    volatile bool open;
    bool seven_bit;                /* 7 data bits + parity carried as bit 7 */
    bool odd;                      /* parity sense when seven_bit */
    struct ml_ring rx;             /* producer: RX ISR; consumer: hal_uart_read */
    struct ml_ring tx;             /* producer: hal_uart_write; consumer: TX ISR / tx_kick */
    volatile uint32_t hw_overruns; /* characters the hardware lost (RX overrun flag) */
    uint8_t *rx_buf;               /* rx_cap bytes */
    uint32_t *rx_ts;               /* rx_cap stamps, or NULL (BOARD_UARTn_STAMPS 0) */
    volatile uint32_t last_rx_us;  /* stamp of the last RX interrupt */
    uint8_t *tx_buf;               /* tx_cap bytes */
    uint32_t rx_cap, tx_cap;
};

static struct cm_uart U[BOARD_UART_HW_COUNT];

/* Ring storage of each hardware UART (sizes: board_mps2_an386.h). */
#define UART_STORAGE(n)                                                                            \
    static uint8_t rx_buf##n[BOARD_UART##n##_RX_CAP];                                              \
    static uint32_t rx_ts##n[BOARD_UART##n##_STAMPS ? BOARD_UART##n##_RX_CAP : 1u];                \
    static uint8_t tx_buf##n[BOARD_UART##n##_TX_CAP]
UART_STORAGE(0);
UART_STORAGE(1);
UART_STORAGE(2);
UART_STORAGE(3);
UART_STORAGE(4);
#define UART_BIND(n)                                                                               \
    do {                                                                                           \
        U[n].rx_buf = rx_buf##n;                                                                   \
        U[n].rx_ts = BOARD_UART##n##_STAMPS ? rx_ts##n : NULL;                                     \
        U[n].tx_buf = tx_buf##n;                                                                   \
        U[n].rx_cap = BOARD_UART##n##_RX_CAP;                                                      \
        U[n].tx_cap = BOARD_UART##n##_TX_CAP;                                                      \
    } while (0)
_Static_assert(BOARD_UART_HW_COUNT == 5u, "one UART_STORAGE per hardware UART");

static struct cm_uart *by_role(enum hal_uart_id id)
{
    if ((unsigned)id >= (unsigned)HAL_UART_COUNT) {
        return NULL;
    }
    return &U[board_uart_of_role[id]];
}

void cm_uart_init(void)
{
    UART_BIND(0);
    UART_BIND(1);
    UART_BIND(2);
    UART_BIND(3);
    UART_BIND(4);
    for (unsigned i = 0; i < BOARD_UART_HW_COUNT; i++) {
        U[i].hw = &board_uart_hw[i];
        U[i].open = false;
        (void)ml_ring_init(&U[i].rx, U[i].rx_buf, U[i].rx_cap);
        (void)ml_ring_init(&U[i].tx, U[i].tx_buf, U[i].tx_cap);
    }
}

/* ------------------------------------------------------------------------- */
/* Interrupts                                                                */
/* ------------------------------------------------------------------------- */

void cm_uart_rx_isr(unsigned hw)
{
    struct cm_uart *u = &U[hw];
    /* Clear first, then drain: a byte arriving after the last read raises a new interrupt. */
    UART_REG(u, CMSDK_UART_INTSTATUS) = CMSDK_UART_INT_RX;
    uint32_t state;
    while (((state = UART_REG(u, CMSDK_UART_STATE)) & CMSDK_UART_STATE_RXFULL) != 0u) {
        uint8_t byte = (uint8_t)UART_REG(u, CMSDK_UART_DATA);
        if ((state & CMSDK_UART_STATE_RXOVR) != 0u) {
            UART_REG(u, CMSDK_UART_STATE) = CMSDK_UART_STATE_RXOVR; /* write 1 to clear */
            u->hw_overruns = u->hw_overruns + 1u;
        }
        if (u->seven_bit) {
            byte &= 0x7Fu;
        }
        if (u->rx_ts != NULL) {
            u->rx_ts[u->rx.head & (u->rx_cap - 1u)] = (uint32_t)hal_time_us();
        }
        (void)ml_ring_put(&u->rx, byte); /* a full ring counts the byte in rx.dropped */
    }
    u->last_rx_us = (uint32_t)hal_time_us();
    cm_event_signal();
}

/* Feed the transmitter if it can take a byte. Interrupts masked (ISR or tx_kick). */
static void tx_feed(struct cm_uart *u)
{
    uint8_t byte;
    if ((UART_REG(u, CMSDK_UART_STATE) & CMSDK_UART_STATE_TXFULL) == 0u &&
        ml_ring_get(&u->tx, &byte) == ML_OK) {
        UART_REG(u, CMSDK_UART_DATA) = byte;
    }
}

void cm_uart_tx_isr(unsigned hw)
{
    struct cm_uart *u = &U[hw];
    UART_REG(u, CMSDK_UART_INTSTATUS) = CMSDK_UART_INT_TX;
    tx_feed(u);
}

/*
 * The TX interrupt fires when a character has gone, so an idle transmitter
 * needs its first byte from thread context. Both this and the ISR consume the
 * TX ring; masking interrupts keeps them from running at once.
 */
static void tx_kick(struct cm_uart *u)
{
    uint32_t key = cm_irq_save();
    tx_feed(u);
    cm_irq_restore(key);
}

/* ------------------------------------------------------------------------- */
/* HAL                                                                       */
/* ------------------------------------------------------------------------- */

static uint8_t with_parity(uint8_t c, bool odd)
{
    uint8_t v = c & 0x7Fu;
    uint8_t ones = 0;
    for (uint8_t b = v; b != 0u; b = (uint8_t)(b >> 1)) {
        ones = (uint8_t)(ones + (b & 1u));
    }
    bool set = ((ones & 1u) != 0u) != odd; /* even parity: make the count of ones even */
    return set ? (uint8_t)(v | 0x80u) : v;
}

int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg)
{
    struct cm_uart *u = by_role(id);
    ML_VERIFY(u != NULL, ML_EBADF);
    ML_VERIFY(cfg != NULL, ML_EINVAL);
    ML_VERIFY(cfg->baud >= 1200u && cfg->baud <= 115200u, ML_EINVAL);
    ML_VERIFY(cfg->stop_bits == 1u, ML_EINVAL);
    bool seven = cfg->data_bits == 7u && cfg->parity != HAL_UART_PARITY_NONE;
    /* 8E1/8O1 (Modbus RTU's default): the CMSDK UART has no 9-bit frame, so the
     * data byte goes out as 8N1 without the parity bit. QEMU carries bytes, so
     * masters on the pty see the right bytes; on a real MPS2 a master must be
     * set to 8N1 (docs/target.md). */
    bool eight = cfg->data_bits == 8u;
    ML_VERIFY(seven || eight, ML_EINVAL);
    /* cfg->rx_invert: QEMU carries bytes, not line levels; on a real MPS2 an
     * external inverter does it. Accepted and ignored (docs/target.md). */

    cm_nvic_disable(u->hw->rx_irq);
    cm_nvic_disable(u->hw->tx_irq);
    UART_REG(u, CMSDK_UART_CTRL) = 0u;
    UART_REG(u, CMSDK_UART_BAUDDIV) = BOARD_SYSCLK_HZ / cfg->baud;
    u->seven_bit = seven;
    u->odd = cfg->parity == HAL_UART_PARITY_ODD;
    u->hw_overruns = 0u;
    (void)ml_ring_init(&u->rx, u->rx_buf, u->rx_cap);
    (void)ml_ring_init(&u->tx, u->tx_buf, u->tx_cap);
    UART_REG(u, CMSDK_UART_STATE) = CMSDK_UART_STATE_RXOVR | CMSDK_UART_STATE_TXOVR;
    UART_REG(u, CMSDK_UART_INTSTATUS) = CMSDK_UART_INT_RX | CMSDK_UART_INT_TX;
    while ((UART_REG(u, CMSDK_UART_STATE) & CMSDK_UART_STATE_RXFULL) != 0u) {
        (void)UART_REG(u, CMSDK_UART_DATA); /* discard what arrived while closed */
    }
    u->open = true;
    UART_REG(u, CMSDK_UART_CTRL) =
        CMSDK_UART_CTRL_TXEN | CMSDK_UART_CTRL_RXEN | CMSDK_UART_CTRL_TXIE | CMSDK_UART_CTRL_RXIE;
    cm_nvic_enable(u->hw->rx_irq);
    cm_nvic_enable(u->hw->tx_irq);
    return ML_OK;
}

void hal_uart_close(enum hal_uart_id id)
{
    struct cm_uart *u = by_role(id);
    if (u == NULL) {
        return;
    }
    cm_nvic_disable(u->hw->rx_irq);
    cm_nvic_disable(u->hw->tx_irq);
    UART_REG(u, CMSDK_UART_CTRL) = 0u;
    u->open = false;
}

int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us)
{
    struct cm_uart *u = by_role(id);
    ML_VERIFY(u != NULL && u->open, ML_EBADF);
    size_t n = 0;
    while (n < cap) {
        uint32_t ts = u->rx_ts != NULL ? u->rx_ts[u->rx.tail & (u->rx_cap - 1u)] : u->last_rx_us;
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
    struct cm_uart *u = by_role(id);
    ML_VERIFY(u != NULL && u->open, ML_EBADF);
    size_t n = 0;
    if (u->seven_bit) {
        while (n < len && ml_ring_put(&u->tx, with_parity(buf[n], u->odd)) == ML_OK) {
            n++;
        }
    } else {
        n = ml_ring_write(&u->tx, buf, len);
    }
    tx_kick(u);
    return (int)n;
}

uint32_t hal_uart_rx_overruns(enum hal_uart_id id)
{
    struct cm_uart *u = by_role(id);
    if (u == NULL) {
        return 0;
    }
    return u->rx.dropped + u->hw_overruns;
}

/* ------------------------------------------------------------------------- */
/* Polled console output for fault paths (interrupts masked)                                     */
/* ------------------------------------------------------------------------- */

void cm_console_write_polled(const char *s)
{
    struct cm_uart *u = &U[board_uart_of_role[HAL_UART_CONSOLE]];
    if (u->hw == NULL) {
        u->hw = &board_uart_hw[board_uart_of_role[HAL_UART_CONSOLE]];
    }
    uint32_t ctrl = UART_REG(u, CMSDK_UART_CTRL);
    if ((ctrl & CMSDK_UART_CTRL_TXEN) == 0u) {
        UART_REG(u, CMSDK_UART_BAUDDIV) = BOARD_SYSCLK_HZ / BOARD_CONSOLE_BAUD;
        UART_REG(u, CMSDK_UART_CTRL) = ctrl | CMSDK_UART_CTRL_TXEN;
    }
    uint8_t queued;
    while (u->open && ml_ring_get(&u->tx, &queued) == ML_OK) {
        /* what the app queued before the fault goes out first, in order */
        while ((UART_REG(u, CMSDK_UART_STATE) & CMSDK_UART_STATE_TXFULL) != 0u) {
        }
        UART_REG(u, CMSDK_UART_DATA) = queued;
    }
    for (; *s != '\0'; s++) {
        while ((UART_REG(u, CMSDK_UART_STATE) & CMSDK_UART_STATE_TXFULL) != 0u) {
        }
        UART_REG(u, CMSDK_UART_DATA) = (uint8_t)*s;
    }
    while ((UART_REG(u, CMSDK_UART_STATE) & CMSDK_UART_STATE_TXFULL) != 0u) {
    }
}
