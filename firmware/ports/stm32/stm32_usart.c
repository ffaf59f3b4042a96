/* STM32F4 USART driver core: see stm32_usart.h (RM0090 §30). */
#include "stm32_usart.h"

#include "err.h"

int stm32_usart_line(const struct hal_uart_cfg *cfg, uint32_t pclk_hz, struct stm32_usart_line *out)
{
    if (cfg == NULL || out == NULL || cfg->baud < 1200u || cfg->baud > 115200u) {
        return ML_EINVAL;
    }
    bool parity = cfg->parity != HAL_UART_PARITY_NONE;
    uint32_t cr1 =
        STM32_USART_CR1_UE | STM32_USART_CR1_TE | STM32_USART_CR1_RE | STM32_USART_CR1_RXNEIE;
    if (cfg->data_bits == 8u) {
        cr1 |= parity ? (STM32_USART_CR1_M | STM32_USART_CR1_PCE) : 0u; /* 9-bit frame for 8E1 */
    } else if (cfg->data_bits == 7u && parity) {
        cr1 |= STM32_USART_CR1_PCE; /* 8-bit frame: 7 data + parity */
    } else {
        return ML_EINVAL; /* 7N1 (a 7-bit frame) is not in the USART's repertoire */
    }
    if (cfg->parity == HAL_UART_PARITY_ODD) {
        cr1 |= STM32_USART_CR1_PS;
    }
    uint32_t cr2;
    if (cfg->stop_bits == 1u) {
        cr2 = STM32_USART_CR2_STOP_1;
    } else if (cfg->stop_bits == 2u) {
        cr2 = STM32_USART_CR2_STOP_2;
    } else {
        return ML_EINVAL;
    }
    uint32_t brr = (pclk_hz + cfg->baud / 2u) / cfg->baud;
    if (brr < 16u || brr > 0xFFFFu) {
        return ML_EINVAL;
    }
    out->cr1 = cr1;
    out->cr2 = cr2;
    out->brr = brr;
    out->data_mask = cfg->data_bits == 7u ? 0x7Fu : 0xFFu;
    return ML_OK;
}

int stm32_usart_init(struct stm32_usart *u, struct stm32_usart_regs *regs, uint8_t *rx_buf,
                     uint32_t *rx_ts, uint32_t rx_cap, uint8_t *tx_buf, uint32_t tx_cap,
                     uint32_t (*now_us)(void), void (*de)(void *ctx, bool on), void *de_ctx)
{
    ML_VERIFY(u != NULL && regs != NULL && now_us != NULL, ML_EINVAL);
    int rc = ml_ring_init(&u->rx, rx_buf, rx_cap);
    if (rc == ML_OK) {
        rc = ml_ring_init(&u->tx, tx_buf, tx_cap);
    }
    if (rc != ML_OK) {
        return rc;
    }
    u->regs = regs;
    u->rx_ts = rx_ts;
    u->now_us = now_us;
    u->de = de;
    u->de_ctx = de_ctx;
    u->data_mask = 0xFFu;
    u->open = false;
    u->sending = false;
    u->hw_overruns = 0;
    return ML_OK;
}

static void de_set(struct stm32_usart *u, bool on)
{
    if (u->de != NULL) {
        u->de(u->de_ctx, on);
    }
}

int stm32_usart_open(struct stm32_usart *u, const struct hal_uart_cfg *cfg, uint32_t pclk_hz)
{
    struct stm32_usart_line l;
    int rc = stm32_usart_line(cfg, pclk_hz, &l);
    if (rc != ML_OK) {
        return rc;
    }
    u->open = false;
    u->regs->CR1 = 0u; /* UE off: M, PCE, PS and STOP may only change while disabled */
    de_set(u, false);
    u->sending = false;
    ml_ring_clear(&u->rx);
    ml_ring_clear(&u->tx);
    u->hw_overruns = 0;
    u->data_mask = l.data_mask;
    u->regs->BRR = l.brr;
    u->regs->CR2 = (u->regs->CR2 & ~STM32_USART_CR2_STOP_M) | l.cr2;
    u->regs->CR3 = 0u;
    u->regs->CR1 = l.cr1;
    u->open = true;
    return ML_OK;
}

void stm32_usart_close(struct stm32_usart *u)
{
    u->open = false;
    u->regs->CR1 = 0u;
    u->sending = false;
    de_set(u, false);
}

int stm32_usart_write(struct stm32_usart *u, const uint8_t *buf, uint32_t len)
{
    if (!u->open) {
        return ML_EBADF;
    }
    uint32_t n = (uint32_t)ml_ring_write(&u->tx, buf, len);
    if (n > 0u) {
        if (!u->sending) {
            u->sending = true;
            if (u->de != NULL) {
                u->regs->CR1 &= ~STM32_USART_CR1_RE; /* half duplex: no echo of our frame */
                de_set(u, true); /* the driver is on before the first start bit */
            }
        }
        /* (again) feed on TXE; a pending TC wait ends: the new bytes go first */
        u->regs->CR1 = (u->regs->CR1 & ~STM32_USART_CR1_TCIE) | STM32_USART_CR1_TXEIE;
    }
    return (int)n;
}

int stm32_usart_read(struct stm32_usart *u, uint8_t *buf, uint32_t cap, uint32_t *ts)
{
    if (!u->open) {
        return ML_EBADF;
    }
    uint32_t n = 0;
    while (n < cap) {
        uint32_t at = u->rx.tail;
        if (ml_ring_get(&u->rx, &buf[n]) != ML_OK) {
            break;
        }
        if (ts != NULL) {
            ts[n] = u->rx_ts != NULL ? u->rx_ts[at & (u->rx.cap - 1u)] : 0u;
        }
        n++;
    }
    return (int)n;
}

void stm32_usart_isr(struct stm32_usart *u)
{
    struct stm32_usart_regs *r = u->regs;
    uint32_t sr = STM32_USART_STATUS(r);
    if ((sr & (STM32_USART_SR_RXNE | STM32_USART_SR_ORE)) != 0u) {
        /* reading SR then DR clears RXNE and ORE (§30.6.1) */
        uint8_t byte = (uint8_t)(STM32_USART_RX(r) & u->data_mask);
        if ((sr & STM32_USART_SR_ORE) != 0u) {
            u->hw_overruns = u->hw_overruns + 1u;
#ifdef STM32_USART_V2
            r->ICR = STM32_USART_ICR_ORECF; /* the V2 USART keeps ORE until cleared here */
#endif
        }
        if ((sr & STM32_USART_SR_RXNE) != 0u) {
            if (u->rx_ts != NULL) {
                u->rx_ts[u->rx.head & (u->rx.cap - 1u)] = u->now_us();
            }
            (void)ml_ring_put(&u->rx, byte); /* a full ring counts the byte */
        }
    }
    uint32_t cr1 = r->CR1;
    if ((cr1 & STM32_USART_CR1_TXEIE) != 0u && (sr & STM32_USART_SR_TXE) != 0u) {
        uint8_t byte;
        if (ml_ring_get(&u->tx, &byte) == ML_OK) {
            STM32_USART_TX(r) = byte;
        } else {
            /* All bytes are in the USART: wait for the last to leave the shift
             * register. TC needs no clearing here: the SR read above and the DR
             * write of that byte cleared it (§30.6.1). (QEMU 7.2 sets TC only on a
             * DR write, so an explicit clear here would leave it clear forever.) */
            r->CR1 = (cr1 & ~STM32_USART_CR1_TXEIE) | STM32_USART_CR1_TCIE;
        }
    } else if ((cr1 & STM32_USART_CR1_TCIE) != 0u && (sr & STM32_USART_SR_TC) != 0u) {
        r->CR1 = (cr1 & ~STM32_USART_CR1_TCIE) | STM32_USART_CR1_RE;
        de_set(u, false); /* the last stop bit is out: release the line */
        u->sending = false;
    }
}

void stm32_usart_tx_poll(struct stm32_usart *u)
{
    struct stm32_usart_regs *r = u->regs;
    uint8_t byte;
    while ((STM32_USART_STATUS(r) & STM32_USART_SR_TXE) != 0u &&
           ml_ring_get(&u->tx, &byte) == ML_OK) {
        STM32_USART_TX(r) = byte;
    }
    if (u->sending && ml_ring_count(&u->tx) == 0u &&
        (STM32_USART_STATUS(r) & STM32_USART_SR_TC) != 0u) {
        r->CR1 = (r->CR1 & ~(STM32_USART_CR1_TXEIE | STM32_USART_CR1_TCIE)) | STM32_USART_CR1_RE;
        de_set(u, false); /* the last stop bit is out: release the line */
        u->sending = false;
    }
}
