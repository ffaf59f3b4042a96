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

/** Largest P1 telegram the DSMR framer accepts (bytes, '/' to CRC). 8 KiB fits e-MUCS history. */
#ifndef ML_DSMR_MAX_TELEGRAM
#define ML_DSMR_MAX_TELEGRAM 8192
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

/** Feature switch helper: if (ML_ENABLED(ML_FEATURE_X)) ... */
#define ML_ENABLED(x) ((x) != 0)

#endif /* FIRMWARE_CONFIG_ML_CONFIG_H */
