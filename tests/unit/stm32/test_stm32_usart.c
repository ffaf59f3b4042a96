/*
 * The STM32F4 USART driver core against a model of the USART (RM0090 §30):
 * the line settings give the register bits the reference manual lays out
 * (written here as literal bit positions, not the driver's macros), and on
 * RS485 the driver-enable line is asserted before the first start bit and
 * released only after transmission complete (TC: the last stop bit has left
 * the shift register).
 */
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "stm32_usart.h"

/* RM0090 §30.6.4 CR1: RE bit 2, TE 3, RXNEIE 5, TCIE 6, TXEIE 7, PS 9, PCE 10, M 12, UE 13 */
#define RM_CR1_BASE ((1u << 13) | (1u << 3) | (1u << 2) | (1u << 5))

static void test_line_settings_follow_rm0090(void)
{
    static const struct {
        struct hal_uart_cfg cfg;
        uint32_t pclk, cr1, cr2, brr;
        uint8_t mask;
    } ok[] = {
        /* 8N1: M=0 PCE=0; BRR = 84 MHz / 115200 = 729.2 -> 729 */
        {{115200, 8, HAL_UART_PARITY_NONE, 1, false}, 84000000, RM_CR1_BASE, 0, 729, 0xFF},
        /* 8E1 (Modbus RTU default): a 9-bit frame, M=1 PCE=1 PS=0; 42 MHz / 9600 = 4375 */
        {{9600, 8, HAL_UART_PARITY_EVEN, 1, false},
         42000000,
         RM_CR1_BASE | (1u << 12) | (1u << 10),
         0,
         4375,
         0xFF},
        /* 8O1: PS=1 */
        {{9600, 8, HAL_UART_PARITY_ODD, 1, false},
         42000000,
         RM_CR1_BASE | (1u << 12) | (1u << 10) | (1u << 9),
         0,
         4375,
         0xFF},
        /* 7E1 (DSMR 2.2, TIC): an 8-bit frame with parity, M=0 PCE=1; bit 7 is parity */
        {{9600, 7, HAL_UART_PARITY_EVEN, 1, false},
         16000000,
         RM_CR1_BASE | (1u << 10),
         0,
         1667,
         0x7F},
        /* 1200 baud 7E1 (TIC historic) at 16 MHz: 13333.3 -> 13333 */
        {{1200, 7, HAL_UART_PARITY_EVEN, 1, false},
         16000000,
         RM_CR1_BASE | (1u << 10),
         0,
         13333,
         0x7F},
        /* 8N2: CR2 STOP[13:12] = 10 */
        {{19200, 8, HAL_UART_PARITY_NONE, 2, false}, 84000000, RM_CR1_BASE, 2u << 12, 4375, 0xFF},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct stm32_usart_line l;
        CU_ASSERT_EQUAL_FATAL(stm32_usart_line(&ok[i].cfg, ok[i].pclk, &l), ML_OK);
        CU_ASSERT_EQUAL(l.cr1, ok[i].cr1);
        CU_ASSERT_EQUAL(l.cr2, ok[i].cr2);
        CU_ASSERT_EQUAL(l.brr, ok[i].brr);
        CU_ASSERT_EQUAL(l.data_mask, ok[i].mask);
    }
    static const struct {
        struct hal_uart_cfg cfg;
        uint32_t pclk;
    } bad[] = {
        {{9600, 7, HAL_UART_PARITY_NONE, 1, false}, 16000000}, /* 7N1: a 7-bit frame */
        {{9600, 9, HAL_UART_PARITY_NONE, 1, false}, 16000000},
        {{9600, 8, HAL_UART_PARITY_NONE, 3, false}, 16000000},
        {{300, 8, HAL_UART_PARITY_NONE, 1, false}, 16000000},
        {{115200, 8, HAL_UART_PARITY_NONE, 1, false}, 1000000}, /* BRR 8.7: below 1.0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct stm32_usart_line l;
        CU_ASSERT_EQUAL(stm32_usart_line(&bad[i].cfg, bad[i].pclk, &l), ML_EINVAL);
    }
}

/* ------------------------------------------------------------------------- */
/* A model of the USART: data register, shift register, flags, one character   */
/* per tick; the driver's ISR is called when an enabled flag is set.           */
/* ------------------------------------------------------------------------- */

#define SR_RXNE (1u << 5)
#define SR_TC   (1u << 6)
#define SR_TXE  (1u << 7)
#define SR_ORE  (1u << 3)
#define DR_NONE 0xFFFFFFFFu

static struct stm32_usart_regs regs;
static struct stm32_usart usart;
static uint8_t rx_buf[64], tx_buf[64];
static uint32_t rx_ts[64];
static uint32_t clock_us;
static uint32_t sr;           /* the model's status flags */
static int holding, shifting; /* byte in DR (TDR) / in the shift register, or -1 */
static uint8_t wire[128];
static bool wire_de[128]; /* DE while that byte was on the wire */
static bool wire_re[128]; /* receiver enabled then */
static size_t nwire;
static bool de;
static int de_changes;
static size_t de_on_at, de_off_at; /* wire bytes already sent when DE went on / off */
static bool de_off_idle;           /* shift and data registers empty when DE went off */

static uint32_t now(void)
{
    return clock_us;
}

static void de_pin(void *ctx, bool on)
{
    (void)ctx;
    if (on != de) {
        de_changes++;
        if (on) {
            de_on_at = nwire;
        } else {
            de_off_at = nwire;
            de_off_idle = holding < 0 && shifting < 0;
        }
    }
    de = on;
}

/* Run the ISR as the NVIC would, then apply what it wrote: DR (TXE/TC cleared,
 * the byte goes to the data register) and SR (rc_w0 bits: writing 0 clears). */
static void isr(void)
{
    regs.SR = sr;
    regs.DR = DR_NONE;
    stm32_usart_isr(&usart);
    if (regs.SR != sr) {
        sr &= regs.SR | ~(SR_TC | SR_RXNE);
    }
    sr &= ~(SR_RXNE | SR_ORE); /* the ISR read SR then DR */
    if (regs.DR != DR_NONE) {
        CU_ASSERT_FATAL(holding < 0); /* the driver writes DR only when TXE */
        holding = (int)regs.DR;
        sr &= ~(SR_TXE | SR_TC);
    }
}

static bool irq_pending(void)
{
    uint32_t cr1 = regs.CR1;
    return ((cr1 & (1u << 7)) && (sr & SR_TXE)) || ((cr1 & (1u << 6)) && (sr & SR_TC)) ||
           ((cr1 & (1u << 5)) && (sr & SR_RXNE));
}

/* One character time. */
static void tick(void)
{
    clock_us += 1042; /* 9600 baud 8E1: 11 bits */
    if (shifting >= 0) {
        CU_ASSERT_FATAL(nwire < sizeof wire);
        wire[nwire] = (uint8_t)shifting;
        wire_de[nwire] = de;
        wire_re[nwire] = (regs.CR1 & (1u << 2)) != 0;
        nwire++;
        shifting = -1;
    }
    if (holding >= 0) {
        shifting = holding;
        holding = -1;
        sr |= SR_TXE;
    }
    if (shifting < 0 && holding < 0) {
        sr |= SR_TC;
    }
    while (irq_pending()) {
        isr();
    }
}

static void model_reset(void)
{
    memset(&regs, 0, sizeof regs);
    sr = SR_TXE | SR_TC; /* reset values (§30.6.1) */
    holding = shifting = -1;
    nwire = 0;
    de = false;
    de_changes = 0;
    de_on_at = de_off_at = 0;
    clock_us = 0;
    CU_ASSERT_EQUAL_FATAL(stm32_usart_init(&usart, &regs, rx_buf, rx_ts, sizeof rx_buf, tx_buf,
                                           sizeof tx_buf, now, de_pin, NULL),
                          ML_OK);
    struct hal_uart_cfg c = {9600, 8, HAL_UART_PARITY_EVEN, 1, false};
    CU_ASSERT_EQUAL_FATAL(stm32_usart_open(&usart, &c, 42000000), ML_OK);
    CU_ASSERT_EQUAL(regs.CR1, RM_CR1_BASE | (1u << 12) | (1u << 10));
    CU_ASSERT_EQUAL(regs.BRR, 4375);
}

static void send(const uint8_t *p, uint32_t n)
{
    CU_ASSERT_EQUAL(stm32_usart_write(&usart, p, n), (int)n);
    while (irq_pending()) {
        isr();
    }
}

static void test_rs485_de_turnaround_on_tc(void)
{
    model_reset();
    static const uint8_t frame[8] = {0x10, 0x04, 0x00, 0x34, 0x00, 0x02, 0x31, 0x7B};
    send(frame, sizeof frame);
    CU_ASSERT_TRUE(de); /* on before anything reached the wire */
    CU_ASSERT_EQUAL(de_on_at, 0);
    CU_ASSERT_EQUAL(nwire, 0);
    for (int i = 0; i < 20; i++) {
        tick();
    }
    CU_ASSERT_EQUAL_FATAL(nwire, sizeof frame);
    CU_ASSERT_EQUAL(memcmp(wire, frame, sizeof frame), 0);
    for (size_t i = 0; i < nwire; i++) {
        CU_ASSERT_TRUE(wire_de[i]);  /* every bit of every byte driven */
        CU_ASSERT_FALSE(wire_re[i]); /* and not heard back */
    }
    CU_ASSERT_FALSE(de);
    CU_ASSERT_EQUAL(de_changes, 2);       /* on once, off once */
    CU_ASSERT_EQUAL(de_off_at, nwire);    /* off after the last byte ... */
    CU_ASSERT_TRUE(de_off_idle);          /* ... had left the shift register (TC) */
    CU_ASSERT_TRUE(regs.CR1 & (1u << 2)); /* the receiver listens again */
    CU_ASSERT_FALSE(regs.CR1 & ((1u << 6) | (1u << 7)));
}

/* Bytes queued while the driver waits for TC go out in the same burst: DE does
 * not drop between them (a gap would let the bus float inside a frame). */
static void test_rs485_write_during_tc_wait_keeps_de(void)
{
    model_reset();
    static const uint8_t a[3] = {1, 2, 3}, b[2] = {4, 5};
    send(a, sizeof a);
    while (!(regs.CR1 & (1u << 6))) { /* until the driver waits for TC */
        tick();
    }
    CU_ASSERT_TRUE(de);
    send(b, sizeof b);
    for (int i = 0; i < 20; i++) {
        tick();
    }
    CU_ASSERT_EQUAL_FATAL(nwire, 5);
    for (size_t i = 0; i < nwire; i++) {
        CU_ASSERT_EQUAL(wire[i], i + 1);
        CU_ASSERT_TRUE(wire_de[i]);
    }
    CU_ASSERT_EQUAL(de_changes, 2);
    CU_ASSERT_TRUE(de_off_idle);
}

/* Receive: 7E1 keeps the 7 data bits (DR bit 7 is the parity the USART
 * checked), each byte stamped; an overrun is counted. */
static void test_receive_7e1_stamps_and_overrun(void)
{
    model_reset();
    struct hal_uart_cfg c = {9600, 7, HAL_UART_PARITY_EVEN, 1, false};
    CU_ASSERT_EQUAL_FATAL(stm32_usart_open(&usart, &c, 16000000), ML_OK);
    static const uint8_t in[3] = {0xAF, 0x2F, 0xC1}; /* '/' with parity set, '/', 'A' */
    for (int i = 0; i < 3; i++) {
        clock_us = 1000u * (uint32_t)(i + 1);
        regs.SR = SR_TXE | SR_TC | SR_RXNE | (i == 2 ? SR_ORE : 0u);
        regs.DR = in[i];
        stm32_usart_isr(&usart);
    }
    uint8_t got[8];
    uint32_t ts[8];
    CU_ASSERT_EQUAL_FATAL(stm32_usart_read(&usart, got, sizeof got, ts), 3);
    CU_ASSERT_EQUAL(got[0], '/');
    CU_ASSERT_EQUAL(got[1], '/');
    CU_ASSERT_EQUAL(got[2], 'A');
    CU_ASSERT_EQUAL(ts[0], 1000);
    CU_ASSERT_EQUAL(ts[2], 3000);
    CU_ASSERT_EQUAL(usart.hw_overruns, 1);
    /* no DE without an RS485 pin: a plain UART */
    CU_ASSERT_EQUAL(stm32_usart_init(&usart, &regs, rx_buf, NULL, sizeof rx_buf, tx_buf,
                                     sizeof tx_buf, now, NULL, NULL),
                    ML_OK);
}

/* The polled transmit of the QEMU build (QEMU 7.2's USART raises no TX
 * interrupt; each DR write leaves at once): DE goes on before DR is first
 * written, stays on while TC is clear (the last byte still in the shift
 * register on a chip), and is released, the receiver back on, once TC is set. */
static uint32_t dr_when_de_on;

static void de_pin_dr(void *ctx, bool on)
{
    (void)ctx;
    if (on) {
        dr_when_de_on = regs.DR;
    }
    de = on;
    de_changes++;
}

static void test_rs485_polled_tx_releases_de_on_tc(void)
{
    model_reset();
    CU_ASSERT_EQUAL_FATAL(stm32_usart_init(&usart, &regs, rx_buf, rx_ts, sizeof rx_buf, tx_buf,
                                           sizeof tx_buf, now, de_pin_dr, NULL),
                          ML_OK);
    struct hal_uart_cfg c = {9600, 8, HAL_UART_PARITY_EVEN, 1, false};
    CU_ASSERT_EQUAL_FATAL(stm32_usart_open(&usart, &c, 42000000), ML_OK);
    de_changes = 0;
    regs.DR = DR_NONE;
    regs.SR = SR_TXE; /* TC clear: a byte is still on its way out */
    static const uint8_t frame[4] = {0x10, 0x03, 0x00, 0x01};
    CU_ASSERT_EQUAL(stm32_usart_write(&usart, frame, sizeof frame), (int)sizeof frame);
    CU_ASSERT_TRUE(de);
    CU_ASSERT_EQUAL(dr_when_de_on, DR_NONE); /* on before the first byte */
    CU_ASSERT_FALSE(regs.CR1 & (1u << 2));   /* receiver off while driving */
    stm32_usart_tx_poll(&usart);
    CU_ASSERT_EQUAL(regs.DR, frame[3]); /* every byte went to DR, the last one last */
    CU_ASSERT_TRUE(ml_ring_is_empty(&usart.tx));
    CU_ASSERT_TRUE(de);       /* TC clear: still driving */
    regs.SR = SR_TXE | SR_TC; /* the last stop bit has left */
    stm32_usart_tx_poll(&usart);
    CU_ASSERT_FALSE(de);
    CU_ASSERT_EQUAL(de_changes, 2);
    CU_ASSERT_TRUE(regs.CR1 & (1u << 2)); /* listening again */
    CU_ASSERT_FALSE(regs.CR1 & ((1u << 6) | (1u << 7)));
    CU_ASSERT_FALSE(usart.sending);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_line_settings_follow_rm0090", test_line_settings_follow_rm0090},
        {"test_rs485_de_turnaround_on_tc", test_rs485_de_turnaround_on_tc},
        {"test_rs485_write_during_tc_wait_keeps_de", test_rs485_write_during_tc_wait_keeps_de},
        {"test_receive_7e1_stamps_and_overrun", test_receive_7e1_stamps_and_overrun},
        {"test_rs485_polled_tx_releases_de_on_tc", test_rs485_polled_tx_releases_de_on_tc},
    };
    return ml_test_run("stm32_usart", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}
