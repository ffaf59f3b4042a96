/**
 * @file cm_port.h
 * @brief What the Cortex-M port offers an image's main file beyond the HAL: an
 * idle hook (the image's own per-loop work, e.g. console status lines) and
 * console line output without stdio.
 *
 * Apps never include this header: only the target entry files
 * (firmware/apps/<app>/target/main_*.c) do. Context: the app thread only.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_CM_PORT_H
#define FIRMWARE_PORTS_CORTEX_M_CM_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "hal_sys.h"

/**
 * Call @p fn at the start of every hal_time_wait_until() (once per turn of the
 * app's event loop, before it sleeps), in thread context. NULL removes it.
 * The hook must not call hal_time_wait_until().
 */
void cm_idle_hook_set(void (*fn)(void));

/** A console line under assembly (no stdio; CRLF is added by cm_line_send()). */
struct cm_line {
    char buf[120];
    size_t len;
};

/** Append @p s (cut at the buffer's end). */
void cm_line_str(struct cm_line *l, const char *s);

/** Append @p v in decimal. */
void cm_line_u32(struct cm_line *l, uint32_t v);

/**
 * Send the line with CRLF on HAL_UART_CONSOLE and empty it. Waits (at most
 * ~50 ms) while the console's TX ring is full, so lines are not cut; the
 * console must be open.
 */
void cm_line_send(struct cm_line *l);

/** The parser counters last reported by cm_line_telegrams(). */
struct cm_telegram_counts {
    uint32_t ok, fail, frame;
};

/**
 * When the counters differ from @p last: send "telegrams: N ok, N <fail_name>,
 * N frame fail" (the images' status line; @p fail_name e.g. "crc fail") and
 * remember them in @p last.
 */
void cm_line_telegrams(struct cm_telegram_counts *last, uint32_t ok, uint32_t fail, uint32_t frame,
                       const char *fail_name);

/**
 * Where hal_time_utc() gets UTC from (NULL: nowhere, ML_EAGAIN). The board has
 * no RTC; an image with the network co-processor passes cm_net_utc (SNTP time
 * of the ESP-AT client). A pointer rather than a call, so images without the
 * network (the P1MB) do not link the AT client.
 */
void cm_utc_source_set(int64_t (*fn)(void));

/**
 * The network co-processor (hal_net.c over the ESP-AT client, docs/esp-at.md):
 * cm_net_poll() runs the client once (call it from the idle hook, so URCs and
 * received data are handled while the app sleeps); cm_net_utc() is its SNTP
 * time in seconds, or ML_EAGAIN until synchronised.
 */
void cm_net_poll(void);
int64_t cm_net_utc(void);

/**
 * The cause of this start (cm_reset.c): the note cm_sys_reset() left, else
 * @p without_note (what the port's reset flags say). Called once by cm_sys_init().
 */
void cm_reset_cause_init(enum hal_sys_reset_cause without_note);

/** The board's identity (its board file; hal_sys_get_identity() returns it). */
extern const struct hal_sys_identity board_identity;

/**
 * What hal_sys_reboot() does before the reset (NULL: nothing). An image with
 * the network co-processor passes cm_net_drain, so what the app already handed
 * to a connection (the answer to POST /api/v1/reset) reaches the client before
 * the MCU and the module reset. Watchdog and fault resets do not call it.
 * A pointer for the same reason as cm_utc_source_set().
 */
void cm_pre_reset_set(void (*fn)(void));

/** Poll the ESP-AT client until no output is pending, for at most CM_NET_DRAIN_MS. */
#define CM_NET_DRAIN_MS 500u
void cm_net_drain(void);

#endif /* FIRMWARE_PORTS_CORTEX_M_CM_PORT_H */
