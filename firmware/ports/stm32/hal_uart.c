/*
 * hal_uart over the STM32 USART driver core (stm32_usart.[ch]): one driver per
 * hardware USART (board_uart_hw), the HAL roles mapped by the board file, the
 * RS485 role's driver enable on a GPIO (board_rs485_de).
 *
 * QEMU 7.2's USART model interrupts on RXNE only and sends each DR write at
 * once: the QEMU build transmits by polling (stm32_usart_tx_poll() after each
 * write; DE is released when the ring is empty and TC is set).
 * It also carries bytes and ignores CR1.M/PCE: in the QEMU
 * build a 7-bit frame's parity bit is put in bit 7 by software before the byte
 * is queued (what the USART does on the chip), so the bytes on the pty are
 * those of a 7E1 line, as on the MPS2 images.
 */
#include "hal_uart.h"

#include "stm32_board.h"
#include "cm.h"
#include "err.h"
#include "hal_time.h"
#include "stm32_port.h"
#include "stm32_usart.h"

static struct stm32_usart U[BOARD_UART_HW_COUNT];
static volatile uint32_t last_rx_us[BOARD_UART_HW_COUNT];
#ifdef ML_STM32_QEMU
static bool seven_bit[BOARD_UART_HW_COUNT], odd[BOARD_UART_HW_COUNT];
#endif

#define UART_STORAGE(n)                                                                            \
    static uint8_t rx_buf##n[BOARD_UART##n##_RX_CAP];                                              \
    static uint32_t rx_ts##n[BOARD_UART##n##_STAMPS ? BOARD_UART##n##_RX_CAP : 1u];                \
    static uint8_t tx_buf##n[BOARD_UART##n##_TX_CAP]
UART_STORAGE(0);
UART_STORAGE(1);
UART_STORAGE(2);
UART_STORAGE(3);
#if BOARD_UART_HW_COUNT > 4u
UART_STORAGE(4);
#endif
_Static_assert(BOARD_UART_HW_COUNT == 4u || BOARD_UART_HW_COUNT == 5u,
               "one UART_STORAGE per hardware USART");

static uint32_t now_us32(void)
{
    return (uint32_t)hal_time_us();
}

static void de_pin(void *ctx, bool on)
{
    (void)ctx;
    board_pin_write(board_rs485_de, on);
}

#define UART_BIND(n)                                                                               \
    (void)stm32_usart_init(&U[n], (struct stm32_usart_regs *)board_uart_hw[n].base, rx_buf##n,     \
                           BOARD_UART##n##_STAMPS ? rx_ts##n : NULL, BOARD_UART##n##_RX_CAP,       \
                           tx_buf##n, BOARD_UART##n##_TX_CAP, now_us32,                            \
                           n == board_uart_of_role[HAL_UART_RS485] ? de_pin : NULL, NULL)

void stm32_uart_init(void)
{
    UART_BIND(0);
    UART_BIND(1);
    UART_BIND(2);
    UART_BIND(3);
#if BOARD_UART_HW_COUNT > 4u
    UART_BIND(4);
#endif
    board_pin_write(board_rs485_de, false);
    board_pin_mode(board_rs485_de, GPIO_MODE_OUT, 0);
    for (unsigned i = 0; i < BOARD_UART_HW_COUNT; i++) {
        board_pin_mode(board_uart_hw[i].tx, GPIO_MODE_AF, board_uart_hw[i].af);
        board_pin_mode(board_uart_hw[i].rx, GPIO_MODE_AF, board_uart_hw[i].af);
    }
}

void stm32_uart_isr(unsigned hw)
{
    struct stm32_usart *u = &U[hw];
    uint32_t head = u->rx.head;
    uint32_t dropped = u->rx.dropped;
    stm32_usart_isr(u);
    if (u->rx.head != head || u->rx.dropped != dropped) {
        last_rx_us[hw] = (uint32_t)hal_time_us();
        cm_event_signal();
    }
}

static int hw_of(enum hal_uart_id id)
{
    return (unsigned)id < (unsigned)HAL_UART_COUNT ? (int)board_uart_of_role[id] : -1;
}

int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg)
{
    int hw = hw_of(id);
    ML_VERIFY(hw >= 0, ML_EBADF);
    ML_VERIFY(cfg != NULL, ML_EINVAL);
    /* cfg->rx_invert: an external inverter on the board (docs/target.md); accepted. */
    cm_nvic_disable(board_uart_hw[hw].irq);
    int rc = stm32_usart_open(&U[hw], cfg, board_uart_hw[hw].pclk_hz);
    if (rc != ML_OK) {
        return rc;
    }
#ifdef ML_STM32_QEMU
    seven_bit[hw] = cfg->data_bits == 7u;
    odd[hw] = cfg->parity == HAL_UART_PARITY_ODD;
#endif
    cm_nvic_enable(board_uart_hw[hw].irq);
    return ML_OK;
}

void hal_uart_close(enum hal_uart_id id)
{
    int hw = hw_of(id);
    if (hw < 0) {
        return;
    }
    cm_nvic_disable(board_uart_hw[hw].irq);
    stm32_usart_close(&U[hw]);
}

int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us)
{
    int hw = hw_of(id);
    ML_VERIFY(hw >= 0 && U[hw].open, ML_EBADF);
    uint32_t key = cm_irq_save();
    uint32_t last = last_rx_us[hw];
    cm_irq_restore(key);
    int n = stm32_usart_read(&U[hw], buf, (uint32_t)cap, U[hw].rx_ts != NULL ? ts_us : NULL);
    if (n > 0 && ts_us != NULL && U[hw].rx_ts == NULL) {
        for (int i = 0; i < n; i++) {
            ts_us[i] = last;
        }
    }
    return n;
}

#ifdef ML_STM32_QEMU
static uint8_t with_parity(uint8_t c, bool is_odd)
{
    uint8_t v = c & 0x7Fu;
    uint8_t ones = 0;
    for (uint8_t b = v; b != 0u; b = (uint8_t)(b >> 1)) {
        ones = (uint8_t)(ones + (b & 1u));
    }
    bool set = ((ones & 1u) != 0u) != is_odd;
    return set ? (uint8_t)(v | 0x80u) : v;
}
#endif

static int write_masked(int hw, const uint8_t *buf, uint32_t len)
{
    uint32_t key = cm_irq_save(); /* the driver's CR1 changes race the ISR's */
    int n = stm32_usart_write(&U[hw], buf, len);
#ifdef ML_STM32_QEMU
    stm32_usart_tx_poll(&U[hw]); /* QEMU 7.2's USART raises no TX interrupt */
#endif
    cm_irq_restore(key);
    return n;
}

int hal_uart_write(enum hal_uart_id id, const uint8_t *buf, size_t len)
{
    int hw = hw_of(id);
    ML_VERIFY(hw >= 0 && U[hw].open, ML_EBADF);
#ifdef ML_STM32_QEMU
    if (seven_bit[hw]) {
        size_t done = 0;
        while (done < len) {
            uint8_t chunk[32];
            uint32_t k = 0;
            while (k < sizeof chunk && done + k < len) {
                chunk[k] = with_parity(buf[done + k], odd[hw]);
                k++;
            }
            int n = write_masked(hw, chunk, k);
            if (n <= 0) {
                break;
            }
            done += (size_t)n;
            if ((uint32_t)n < k) {
                break;
            }
        }
        return (int)done;
    }
#endif
    return write_masked(hw, buf, (uint32_t)len);
}

uint32_t hal_uart_rx_overruns(enum hal_uart_id id)
{
    int hw = hw_of(id);
    if (hw < 0) {
        return 0;
    }
    return U[hw].rx.dropped + U[hw].hw_overruns;
}

/* Fault paths: poll the console USART out, interrupts masked. */
void cm_console_write_polled(const char *s)
{
    unsigned hw = board_uart_of_role[HAL_UART_CONSOLE];
    struct stm32_usart_regs *r = (struct stm32_usart_regs *)board_uart_hw[hw].base;
    struct stm32_usart *u = &U[hw];
    if ((r->CR1 & STM32_USART_CR1_UE) == 0u) {
        r->BRR = (board_uart_hw[hw].pclk_hz + BOARD_CONSOLE_BAUD / 2u) / BOARD_CONSOLE_BAUD;
        r->CR1 = STM32_USART_CR1_UE | STM32_USART_CR1_TE;
    }
    r->CR1 &= ~(STM32_USART_CR1_TXEIE | STM32_USART_CR1_TCIE);
    uint8_t queued;
    while (u->open && ml_ring_get(&u->tx, &queued) == ML_OK) {
        while ((STM32_USART_STATUS(r) & STM32_USART_SR_TXE) == 0u) {
        }
        STM32_USART_TX(r) = queued;
    }
    for (; *s != '\0'; s++) {
        while ((STM32_USART_STATUS(r) & STM32_USART_SR_TXE) == 0u) {
        }
        STM32_USART_TX(r) = (uint8_t)*s;
    }
    while ((STM32_USART_STATUS(r) & STM32_USART_SR_TC) == 0u) {
    }
}
