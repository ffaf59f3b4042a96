/**
 * @file ml_config_small.h
 * @brief Compile-time knobs of the small-board build (Cortex-M0+, `target-m0`):
 * the P1MB within 16 KiB of RAM. Included by ml_config.h through
 * ML_CONFIG_OVERRIDE, which the port sets on every firmware target of that
 * build (firmware/ports/cortex-m/CMakeLists.txt), so all objects agree on the
 * structure sizes.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_SMALL_H
#define FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_SMALL_H

/* A DSMR 5.0 telegram of a three-phase meter with gas is ~1 KiB; 2 KiB leaves
 * room for long text messages and M-Bus channels (not for e-MUCS history). */
#define ML_DSMR_MAX_TELEGRAM 2048

/* UART rings (16 KiB RAM budget): the roles the P1MB does not use shrink to 16 B. */
#define ML_UART_CONSOLE_RX_CAP 32u
#define ML_UART_CONSOLE_TX_CAP 256u
#define ML_UART_P1_IN_RX_CAP   256u /* P1 in: 22 ms at 115200 baud */
#define ML_UART_P1_OUT_RX_CAP  16u  /* P1 out: not used by the P1MB */
#define ML_UART_P1_OUT_TX_CAP  16u
#define ML_UART_COPROC_RX_CAP  16u /* co-processor: not used by the P1MB */
#define ML_UART_COPROC_TX_CAP  16u

/* The P1MB maps numeric values only: keep few unknown objects and a short text. */
#define ML_READING_RAW_MAX  2
#define ML_READING_TEXT_MAX 32

#endif /* FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_SMALL_H */
