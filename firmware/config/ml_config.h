/**
 * @file ml_config.h
 * @brief Compile-time knobs (lwIP opt.h style).
 *
 * A build may define ML_CONFIG_OVERRIDE to the name of a header (one each for
 * sim, target, tests and fuzz) that sets knobs before the defaults below.
 */
#ifndef FIRMWARE_CONFIG_ML_CONFIG_H
#define FIRMWARE_CONFIG_ML_CONFIG_H

#ifdef ML_CONFIG_OVERRIDE
#include ML_CONFIG_OVERRIDE
#endif

/** Firmware version string reported by every device. */
#ifndef ML_FW_VERSION
#define ML_FW_VERSION "0.1.0"
#endif

/*
 * The knobs below are the Cortex-M4 target's numbers, and every build that does
 * not override them (the sim port, the host tools, the tests) uses the same:
 * the sim is never kinder than the hardware (issue 18). The small board
 * (Cortex-M0+, firmware/ports/cortex-m/ml_config_small.h) lowers some.
 */

/**
 * Largest P1 telegram the DSMR framer accepts (bytes, '/' to CRC). Observed
 * telegrams are 0.4-1.5 kB, the estimated worst case with a 1024-character
 * text message about 3.5 kB (docs/decode.md); 4 KiB keeps all of those within
 * the Smart Connect's 64 KiB of RAM (the parser buffer and a copy of the last
 * telegram).
 */
#ifndef ML_DSMR_MAX_TELEGRAM
#define ML_DSMR_MAX_TELEGRAM 4096
#endif

/** Largest TIC frame (STX..ETX) the TIC framer accepts. */
#ifndef ML_TIC_MAX_FRAME
#define ML_TIC_MAX_FRAME 4096
#endif

/** Unknown objects (OBIS codes or TIC labels) a reading keeps verbatim. */
#ifndef ML_READING_RAW_MAX
#define ML_READING_RAW_MAX 16
#endif

/** Bytes of text message kept in a reading (decoded). */
#ifndef ML_READING_TEXT_MAX
#define ML_READING_TEXT_MAX 256
#endif

/**
 * HTTP connections the Smart Connect serves at once (docs/security.md). Each
 * holds a request head (HTTP_MAX_HEAD) and ML_HTTP_RX bytes of input; one
 * work area (body + answer) is shared. Bounded by the target's 64 KiB of RAM
 * and the ESP-AT module's 5 links (Modbus TCP takes one, a refused newcomer
 * one for a moment). The sim serves the same number.
 */
#ifndef ML_HTTP_CONNS
#define ML_HTTP_CONNS 3
#endif

/** Input bytes taken from an HTTP connection at a time (kept until the parser took them). */
#ifndef ML_HTTP_RX
#define ML_HTTP_RX 256
#endif

/**
 * Watchdog timeout in ms, the same on every port (the target's CMSDK watchdog,
 * board_mps2_an386.h, and the sim's, firmware/ports/sim/hal_sys.c): the first
 * hal_sys_watchdog_kick() arms it; a loop that does not kick again within it
 * is reset with HAL_SYS_RESET_WATCHDOG.
 */
#ifndef ML_WATCHDOG_TIMEOUT_MS
#define ML_WATCHDOG_TIMEOUT_MS 4000
#endif

/** Longest an app loop waits between two kicks (half the timeout: a late
 * wake-up or a slow pass still kicks in time). */
#ifndef ML_WATCHDOG_KICK_MS
#define ML_WATCHDOG_KICK_MS (ML_WATCHDOG_TIMEOUT_MS / 2)
#endif

/*
 * Flash of the production part, STM32F405 (RM0090 §3.3 sectors; datasheet
 * "Flash memory programming", maximum figures; sector erase at x32 parallelism, one
 * program access (t_prog) per byte as firmware/ports/stm32/hal_flash.c programs):
 * configuration and boot state in 16 KiB sectors, each firmware slot two 128 KiB
 * sectors. The sim port (firmware/ports/sim/hal_flash.c) has this geometry and
 * takes this long for every erase and program (virtual time in scenarios, real
 * time in meterlab device): a loop that blocks in flash calls past the watchdog
 * is reset in the sim as on the board. A flash call blocks the loop: no single
 * call may take ML_WATCHDOG_TIMEOUT_MS (one firmware slot takes 2 x 2 s).
 */
#ifndef ML_FLASH_SMALL_SECTOR
#define ML_FLASH_SMALL_SECTOR (16u * 1024u)
#endif
#ifndef ML_FLASH_LARGE_SECTOR
#define ML_FLASH_LARGE_SECTOR (128u * 1024u)
#endif
#ifndef ML_FLASH_ERASE_SMALL_US
#define ML_FLASH_ERASE_SMALL_US 500000u /* 16 KiB sector */
#endif
#ifndef ML_FLASH_ERASE_LARGE_US
#define ML_FLASH_ERASE_LARGE_US 2000000u /* 128 KiB sector */
#endif
#ifndef ML_FLASH_PROGRAM_BYTE_US
#define ML_FLASH_PROGRAM_BYTE_US 100u /* one byte: the driver programs by byte (PSIZE x8) */
#endif

/*
 * UART rings per HAL role (bytes, powers of two), the same on every port: the
 * target's interrupt-driven rings (firmware/ports/cortex-m/board_mps2_an386.h)
 * and the sim's (firmware/ports/sim/hal_uart.c). A full RX ring drops and
 * counts the byte (hal_uart_rx_overruns()): the app must read P1 in at least
 * every 89 ms at 115200 baud; a full TX ring takes fewer bytes. The console
 * mostly sends, P1 in takes a telegram burst, P1 out and the co-processor
 * carry bulk data, RS485 one Modbus RTU frame (256 B) at a time.
 */
#ifndef ML_UART_P1_IN_RX_CAP
#define ML_UART_P1_IN_RX_CAP 1024u /* 89 ms at 115200 baud */
#endif
#ifndef ML_UART_P1_IN_TX_CAP
#define ML_UART_P1_IN_TX_CAP 64u /* P1MB configurator answers (data-request line) */
#endif
#ifndef ML_UART_P1_OUT_RX_CAP
#define ML_UART_P1_OUT_RX_CAP 16u
#endif
#ifndef ML_UART_P1_OUT_TX_CAP
#define ML_UART_P1_OUT_TX_CAP 1024u
#endif
#ifndef ML_UART_RS485_RX_CAP
#define ML_UART_RS485_RX_CAP 256u /* one RTU frame */
#endif
#ifndef ML_UART_RS485_TX_CAP
#define ML_UART_RS485_TX_CAP 256u
#endif
#ifndef ML_UART_CONSOLE_RX_CAP
#define ML_UART_CONSOLE_RX_CAP 256u
#endif
#ifndef ML_UART_CONSOLE_TX_CAP
#define ML_UART_CONSOLE_TX_CAP 1024u
#endif
#ifndef ML_UART_COPROC_RX_CAP
#define ML_UART_COPROC_RX_CAP 1024u /* AT lines, +IPD data */
#endif
#ifndef ML_UART_COPROC_TX_CAP
#define ML_UART_COPROC_TX_CAP 1024u
#endif

/*
 * ESP-AT client rings (core/esp_at/esp_at.h), per connection slot (6) and for
 * the MQTT publish queue: the largest RAM user after the app. Sized to keep
 * the Smart Connect within its RAM budget; what still holds:
 *
 * - Send ring 512 B: ml_esp_at_send() takes what fits and says so. HTTP's
 *   flush() (sc_http.c) sends the rest on a later pass when a send takes 0
 *   bytes; an AT+CIPSEND then carries at most 512 B instead of
 *   ML_ESP_AT_CHUNK. The Modbus TCP slave (sc_app.c) sends one response of at
 *   most MB_TCP_ADU_MAX (260 B) per request; when a client pipelines requests
 *   and the ring takes only part of an answer, sc_app.c sends the rest first
 *   and reads no further request until it is out.
 * - Receive ring 256 B: passive receive mode fetches at most the free space
 *   of the ring (AT+CIPRECVDATA, ML_ESP_AT_RECV_CHUNK is 256 too), so the
 *   module keeps the rest and TCP flow control holds back the peer. Nothing is
 *   lost. The HTTP and Modbus TCP parsers take a stream in pieces of any size.
 * - Publish queue 2 KiB: the largest publish the app makes is power_instant,
 *   4 + 128 (longest topic, esp_at.c) + 1535 (MQTT_POWER_INSTANT_MAX - 1) =
 *   1667 B, so it always fits an empty queue. A full queue refuses a publish
 *   (ML_EAGAIN, counted in mqtt_publish_fail).
 */
#ifndef ML_ESP_AT_TX_CAP
#define ML_ESP_AT_TX_CAP 512
#endif
#ifndef ML_ESP_AT_RX_CAP
#define ML_ESP_AT_RX_CAP 256
#endif
#ifndef ML_ESP_AT_PUB_CAP
#define ML_ESP_AT_PUB_CAP 2048
#endif

/**
 * Bytes of received MQTT messages (subscriptions: the remote commands) a port keeps
 * until the app takes them with hal_mqtt_receive(), oldest first: each message
 * takes 3 + topic + payload bytes (topic < 128, payload <= 512). 768: one of the
 * largest (642 B), or several commands (a firmware command is ~200 B), in the RAM
 * the Smart Connect images have left. The ESP-AT client (core/esp_at) and the sim
 * port keep the same. One that does not fit is dropped (counted).
 */
#ifndef ML_MQTT_RX_BYTES
#define ML_MQTT_RX_BYTES 768
#endif

/** Feature switch helper: if (ML_ENABLED(ML_FEATURE_X)) ... */
#define ML_ENABLED(x) ((x) != 0)

#endif /* FIRMWARE_CONFIG_ML_CONFIG_H */
