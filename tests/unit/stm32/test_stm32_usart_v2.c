/*
 * The USART driver core built for the STM32L0's USART (STM32_USART_V2,
 * RM0376 §27.8) on the host: the line settings give the bits RM0376 lays out
 * (literal positions: CR1 UE bit 0, RE 2, TE 3, RXNEIE 5, PS 9, PCE 10, M0 12;
 * CR2 STOP[13:12]), the status comes from ISR and bytes from RDR, and an
 * overrun is cleared through ICR.ORECF (bit 3), which the V2 USART needs.
 */
#include <string.h>

#include "err.h"
#include "ml_test.h"
#include "stm32_usart.h"

#define RM_CR1_BASE ((1u << 0) | (1u << 2) | (1u << 3) | (1u << 5))

static void test_v2_line_settings_follow_rm0376(void)
{
    static const struct {
        struct hal_uart_cfg cfg;
        uint32_t cr1, cr2, brr;
    } ok[] = {
        /* 8N1 at 32 MHz: BRR 32e6 / 115200 = 277.8 -> 278 */
        {{115200, 8, HAL_UART_PARITY_NONE, 1, false}, RM_CR1_BASE, 0, 278},
        /* 8E1: M[1:0] = 01 (M0, a 9-bit frame) + PCE; 32e6 / 9600 = 3333.3 */
        {{9600, 8, HAL_UART_PARITY_EVEN, 1, false}, RM_CR1_BASE | (1u << 12) | (1u << 10), 0, 3333},
        /* 7E1: M = 00 (8 bits with the parity) + PCE */
        {{9600, 7, HAL_UART_PARITY_EVEN, 1, false}, RM_CR1_BASE | (1u << 10), 0, 3333},
        /* 8N2 */
        {{9600, 8, HAL_UART_PARITY_NONE, 2, false}, RM_CR1_BASE, 2u << 12, 3333},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct stm32_usart_line l;
        CU_ASSERT_EQUAL_FATAL(stm32_usart_line(&ok[i].cfg, 32000000, &l), ML_OK);
        CU_ASSERT_EQUAL(l.cr1, ok[i].cr1);
        CU_ASSERT_EQUAL(l.cr2, ok[i].cr2);
        CU_ASSERT_EQUAL(l.brr, ok[i].brr);
    }
}

static struct stm32_usart_regs regs;
static struct stm32_usart usart;
static uint8_t rx_buf[16], tx_buf[16];
static uint32_t rx_ts[16];

static uint32_t now(void)
{
    return 7u;
}

static void test_v2_receive_reads_rdr_and_clears_overrun(void)
{
    memset(&regs, 0, sizeof regs);
    CU_ASSERT_EQUAL_FATAL(stm32_usart_init(&usart, &regs, rx_buf, rx_ts, sizeof rx_buf, tx_buf,
                                           sizeof tx_buf, now, NULL, NULL),
                          ML_OK);
    struct hal_uart_cfg c = {9600, 7, HAL_UART_PARITY_EVEN, 1, false};
    CU_ASSERT_EQUAL_FATAL(stm32_usart_open(&usart, &c, 32000000), ML_OK);
    CU_ASSERT_EQUAL(regs.CR1, RM_CR1_BASE | (1u << 10));
    regs.ISR = (1u << 5) | (1u << 3); /* RXNE and ORE */
    regs.RDR = 0xAF;                  /* '/' with its parity bit */
    stm32_usart_isr(&usart);
    CU_ASSERT_EQUAL(regs.ICR, 1u << 3); /* ORECF */
    uint8_t b;
    uint32_t ts;
    CU_ASSERT_EQUAL_FATAL(stm32_usart_read(&usart, &b, 1, &ts), 1);
    CU_ASSERT_EQUAL(b, '/');
    CU_ASSERT_EQUAL(ts, 7u);
    CU_ASSERT_EQUAL(usart.hw_overruns, 1u);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"test_v2_line_settings_follow_rm0376", test_v2_line_settings_follow_rm0376},
        {"test_v2_receive_reads_rdr_and_clears_overrun",
         test_v2_receive_reads_rdr_and_clears_overrun},
    };
    return ml_test_run("stm32_usart_v2", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
}
