/**
 * @file stm32_usart.h
 * @brief STM32F4 USART driver core (RM0090 §30): line settings, interrupt
 * receive into a stamped ring, interrupt transmit from a ring, and the RS485
 * driver-enable (DE) line turned around on transmit complete.
 *
 * The register block is passed in, so the same code runs on the chip (the
 * USART's base address) and in a host unit test (a plain struct standing in
 * for the registers). Register and bit definitions are written from RM0090
 * (STM32F405/415/407/417/427/437/429/439 reference manual, rev. 19), §30.6.
 *
 * Line settings: the USART frames 8 or 9 bits (CR1.M), one of which is the
 * parity bit when CR1.PCE is set, so
 *   8N1: M=0 PCE=0   7E1/7O1: M=0 PCE=1   8E1/8O1: M=1 PCE=1
 * and 7N1 cannot be made (ML_EINVAL). Stop bits: CR2.STOP 00 = 1, 10 = 2.
 * With 16x oversampling BRR = f_PCLK / baud rounded (mantissa.fraction of
 * USARTDIV in one 16-bit field, §30.3.4).
 *
 * RS485 (half duplex, RM0090 has no hardware DE on the F4 USART): DE is a
 * GPIO. stm32_usart_write() asserts DE before it writes the first byte and
 * enables the TXE interrupt; the ISR feeds DR from the ring on TXE; when the
 * ring is empty it swaps TXEIE for TCIE, and on TC (the last stop bit has left
 * the shift register) it releases DE. The receiver is off while DE is
 * asserted (no echo of our own frame), on again at release.
 */
#ifndef FIRMWARE_PORTS_STM32_STM32_USART_H
#define FIRMWARE_PORTS_STM32_STM32_USART_H

#include <stdbool.h>
#include <stdint.h>

#include "hal_uart.h"
#include "ring.h"

#ifndef STM32_USART_V2
/** USART registers (RM0090 §30.6.8, offsets 0x00..0x18). */
struct stm32_usart_regs {
    volatile uint32_t SR;   /**< 0x00 status */
    volatile uint32_t DR;   /**< 0x04 data */
    volatile uint32_t BRR;  /**< 0x08 baud rate */
    volatile uint32_t CR1;  /**< 0x0C control 1 */
    volatile uint32_t CR2;  /**< 0x10 control 2 */
    volatile uint32_t CR3;  /**< 0x14 control 3 */
    volatile uint32_t GTPR; /**< 0x18 guard time and prescaler */
};
#define STM32_USART_STATUS(r) ((r)->SR)
#define STM32_USART_RX(r)     ((r)->DR)
#define STM32_USART_TX(r)     ((r)->DR)
#define STM32_USART_CR1_UE    (1u << 13)
#else
/*
 * STM32_USART_V2: the USART of the STM32L0 (RM0376 §27.8): status in ISR,
 * separate RDR/TDR, overrun cleared through ICR, UE at CR1 bit 0. The bits
 * this driver uses have the F4's positions otherwise (ISR RXNE 5, TC 6, TXE 7,
 * ORE 3; CR1 RE 2, TE 3, RXNEIE 5, TCIE 6, TXEIE 7, PS 9, PCE 10, M0 12 = the
 * F4's M: 00 = 8 bits, 01 = 9 bits), so the line settings are the same.
 */
struct stm32_usart_regs {
    volatile uint32_t CR1;  /**< 0x00 */
    volatile uint32_t CR2;  /**< 0x04 */
    volatile uint32_t CR3;  /**< 0x08 */
    volatile uint32_t BRR;  /**< 0x0C */
    volatile uint32_t GTPR; /**< 0x10 */
    volatile uint32_t RTOR; /**< 0x14 */
    volatile uint32_t RQR;  /**< 0x18 */
    volatile uint32_t ISR;  /**< 0x1C status */
    volatile uint32_t ICR;  /**< 0x20 flag clear */
    volatile uint32_t RDR;  /**< 0x24 receive data */
    volatile uint32_t TDR;  /**< 0x28 transmit data */
};
#define STM32_USART_STATUS(r) ((r)->ISR)
#define STM32_USART_RX(r)     ((r)->RDR)
#define STM32_USART_TX(r)     ((r)->TDR)
#define STM32_USART_CR1_UE    (1u << 0)
#define STM32_USART_ICR_ORECF (1u << 3)
#endif

/* SR (§30.6.1) */
#define STM32_USART_SR_PE      (1u << 0)
#define STM32_USART_SR_FE      (1u << 1)
#define STM32_USART_SR_NF      (1u << 2)
#define STM32_USART_SR_ORE     (1u << 3)
#define STM32_USART_SR_RXNE    (1u << 5)
#define STM32_USART_SR_TC      (1u << 6)
#define STM32_USART_SR_TXE     (1u << 7)
/* CR1 (§30.6.4) */
#define STM32_USART_CR1_RE     (1u << 2)
#define STM32_USART_CR1_TE     (1u << 3)
#define STM32_USART_CR1_RXNEIE (1u << 5)
#define STM32_USART_CR1_TCIE   (1u << 6)
#define STM32_USART_CR1_TXEIE  (1u << 7)
#define STM32_USART_CR1_PS     (1u << 9)
#define STM32_USART_CR1_PCE    (1u << 10)
#define STM32_USART_CR1_M      (1u << 12)
/* CR2 (§30.6.5): STOP[13:12] */
#define STM32_USART_CR2_STOP_1 (0u << 12)
#define STM32_USART_CR2_STOP_2 (2u << 12)
#define STM32_USART_CR2_STOP_M (3u << 12)

/** The register values of one line setting. */
struct stm32_usart_line {
    uint32_t cr1; /**< M, PCE, PS, TE, RE, RXNEIE, UE */
    uint32_t cr2; /**< STOP */
    uint32_t brr;
    uint8_t data_mask; /**< 0x7F for 7 data bits (the parity bit read in DR bit 7), else 0xFF */
};

/**
 * Register values for @p cfg on a USART clocked at @p pclk_hz (16x
 * oversampling). @retval 0 ok @retval ML_EINVAL 7N1, other data/stop bits, a
 * baud rate outside 1200..115200 or one the clock cannot reach (BRR < 16).
 */
int stm32_usart_line(const struct hal_uart_cfg *cfg, uint32_t pclk_hz,
                     struct stm32_usart_line *out);

/** One USART and its rings; caller-owned (static), set up by stm32_usart_init(). */
struct stm32_usart {
    struct stm32_usart_regs *regs;
    struct ml_ring rx, tx;
    uint32_t *rx_ts;                /**< one stamp per RX ring byte, or NULL */
    uint32_t (*now_us)(void);       /**< stamp clock */
    void (*de)(void *ctx, bool on); /**< RS485 driver enable, or NULL (no RS485) */
    void *de_ctx;
    uint8_t data_mask;
    volatile bool open, sending;
    volatile uint32_t hw_overruns; /**< ORE: characters the USART lost */
};

/** Bind @p u to @p regs and the caller's ring storage (powers of two). */
int stm32_usart_init(struct stm32_usart *u, struct stm32_usart_regs *regs, uint8_t *rx_buf,
                     uint32_t *rx_ts, uint32_t rx_cap, uint8_t *tx_buf, uint32_t tx_cap,
                     uint32_t (*now_us)(void), void (*de)(void *ctx, bool on), void *de_ctx);

/** Program @p cfg (USART disabled while it changes; rings emptied). @return 0 or ML_EINVAL. */
int stm32_usart_open(struct stm32_usart *u, const struct hal_uart_cfg *cfg, uint32_t pclk_hz);

/** Disable the USART (DE released). */
void stm32_usart_close(struct stm32_usart *u);

/**
 * Queue bytes and start sending (DE first). Thread context with the USART's
 * interrupt masked by the caller (it changes CR1, which the ISR changes too).
 * @return bytes queued (fewer when the ring is full), or ML_EBADF.
 */
int stm32_usart_write(struct stm32_usart *u, const uint8_t *buf, uint32_t len);

/** Take received bytes (and their stamps, @p ts may be NULL). @return bytes copied. */
int stm32_usart_read(struct stm32_usart *u, uint8_t *buf, uint32_t cap, uint32_t *ts);

/** The USART's interrupt handler body. */
void stm32_usart_isr(struct stm32_usart *u);

/**
 * Transmit by polling, for a USART model that raises no TXE/TC interrupt
 * (QEMU 7.2's stm32f2xx-usart interrupts on RXNE only and sends each DR write
 * at once): feed DR from the ring while TXE is set; once the ring is empty and
 * TC is set, release DE (receiver on again) as the TC interrupt does. Same
 * context rule as stm32_usart_write().
 */
void stm32_usart_tx_poll(struct stm32_usart *u);

#endif /* FIRMWARE_PORTS_STM32_STM32_USART_H */
