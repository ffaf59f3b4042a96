/**
 * @file cm.h
 * @brief Cortex-M port internals: core registers (SCB, SysTick, NVIC), the
 * interrupt mask helpers, and the services the port's files share.
 *
 * Only the files of firmware/ports/cortex-m include this header. Register
 * addresses come from the ARMv6-M / ARMv7-M Architecture Reference Manuals
 * (System Control Space, B3.2); they are the same on every Cortex-M.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_CM_H
#define FIRMWARE_PORTS_CORTEX_M_CM_H

#include <stdbool.h>
#include <stdint.h>

#include "hal_sys.h"

/* ------------------------------------------------------------------------- */
/* Register access                                                           */
/* ------------------------------------------------------------------------- */

#define CM_REG(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* SysTick (ARMv7-M B3.3.2) */
#define CM_SYST_CSR         CM_REG(0xE000E010u)
#define CM_SYST_RVR         CM_REG(0xE000E014u)
#define CM_SYST_CVR         CM_REG(0xE000E018u)
#define CM_SYST_CSR_ENABLE  (1u << 0)
#define CM_SYST_CSR_TICKINT (1u << 1)
#define CM_SYST_CSR_CLKSRC  (1u << 2) /* 1 = processor clock */

/* NVIC (B3.4): one word covers IRQs 0..31, the next 32..63 */
#define CM_NVIC_ISER(n) CM_REG(0xE000E100u + 4u * (n))
#define CM_NVIC_ICER(n) CM_REG(0xE000E180u + 4u * (n))
#define CM_NVIC_ICPR(n) CM_REG(0xE000E280u + 4u * (n))

/* System Control Block (B3.2.2) */
#define CM_SCB_ICSR              CM_REG(0xE000ED04u)
#define CM_SCB_ICSR_PENDSTSET    (1u << 26)
#define CM_SCB_AIRCR             CM_REG(0xE000ED0Cu)
#define CM_SCB_AIRCR_VECTKEY     (0x05FAu << 16)
#define CM_SCB_AIRCR_SYSRESETREQ (1u << 2)
#define CM_SCB_CPACR             CM_REG(0xE000ED88u) /* ARMv7-M with FPU only */
#define CM_DHCSR                 CM_REG(0xE000EDF0u) /* ARMv7-M: readable by software */
#define CM_DHCSR_C_DEBUGEN       (1u << 0)

/* ------------------------------------------------------------------------- */
/* Interrupt masking                                                         */
/* ------------------------------------------------------------------------- */

/* Mask interrupts (PRIMASK) and return the previous mask, for nesting. */
static inline uint32_t cm_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void cm_irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" : : "r"(primask) : "memory");
}

static inline void cm_nvic_enable(unsigned irq)
{
    CM_NVIC_ICPR(irq / 32u) = 1u << (irq % 32u);
    CM_NVIC_ISER(irq / 32u) = 1u << (irq % 32u);
}

static inline void cm_nvic_disable(unsigned irq)
{
    CM_NVIC_ICER(irq / 32u) = 1u << (irq % 32u);
    __asm volatile("dsb\n\tisb" : : : "memory");
}

/* ------------------------------------------------------------------------- */
/* Shared port services                                                      */
/* ------------------------------------------------------------------------- */

/** Set by ISRs that bring work for the app loop (UART RX); hal_time_wait_until() returns. */
void cm_event_signal(void);

/** Start SysTick at 1 kHz (hal_time.c). Called once by the reset handler. */
void cm_time_init(void);

/** Set up the UART driver state (hal_uart.c). Called once by the reset handler. */
void cm_uart_init(void);

/** UART interrupt entry points, by hardware UART index (the vector table calls these). */
void cm_uart_rx_isr(unsigned hw);
void cm_uart_tx_isr(unsigned hw);

/**
 * Write @p s to the console UART by polling, interrupts or not (fault paths,
 * before the driver runs). Bypasses the TX ring; thread or handler mode.
 */
void cm_console_write_polled(const char *s);

/** Read and clear the reset cause kept across resets (hal_sys.c). Reset handler only. */
void cm_sys_init(void);

/** Record @p cause for the next boot and reset the core (SYSRESETREQ). Never returns. */
void cm_sys_reset(enum hal_sys_reset_cause cause) __attribute__((noreturn));

/** A fault we cannot recover from: report @p what on the console, then reset. */
void cm_sys_panic(const char *what) __attribute__((noreturn));

#endif /* FIRMWARE_PORTS_CORTEX_M_CM_H */
