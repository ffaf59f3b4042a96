/*
 * boot_banner: banner, LED blink and a 1 s heartbeat over the HAL, with
 * ml_timer deadlines and hal_time_wait_until() sleeping in between. No stdio:
 * the few lines it prints are assembled by the helpers below.
 */
#include "boot_banner.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hal.h"
#include "ml_config.h"
#include "timer.h"

#ifndef ML_BOARD_NAME
#define ML_BOARD_NAME "unknown-board"
#endif

#define BLINK_MS     250u
#define HEARTBEAT_MS 1000u
#define LINE_MAX     80u

/* ------------------------------------------------------------------------- */
/* Console output                                                            */
/* ------------------------------------------------------------------------- */

struct line {
    char buf[LINE_MAX];
    size_t len;
};

static void line_str(struct line *l, const char *s)
{
    while (*s != '\0' && l->len < sizeof l->buf) {
        l->buf[l->len++] = *s++;
    }
}

static void line_u64(struct line *l, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0u && l->len < sizeof l->buf) {
        l->buf[l->len++] = tmp[--n];
    }
}

/* Send the line with CRLF; the TX ring takes it at once (bytes that do not fit are lost). */
static void line_send(struct line *l)
{
    line_str(l, "\r\n");
    (void)hal_uart_write(HAL_UART_CONSOLE, (const uint8_t *)l->buf, l->len);
    l->len = 0;
}

/* ------------------------------------------------------------------------- */
/* Boot counter in flash                                                     */
/* ------------------------------------------------------------------------- */

#define BOOTS_REGION HAL_FLASH_CONFIG_B /* a demo image has no config to keep */
#define BOOTS_BYTES  64u

/*
 * Count boots as cleared bits (NOR: a write can only clear bits, so each boot
 * costs one write and no erase until the bitmap is full). Exercises the port's
 * flash and shows whether it survives a reset.
 * @return boots including this one, or < 0 (ML_E*) when flash fails.
 */
static int boots_count(void)
{
    uint8_t map[BOOTS_BYTES];
    int err = hal_flash_read(BOOTS_REGION, 0, map, sizeof map);
    if (err < 0) {
        return err;
    }
    uint32_t used = 0;
    while (used < 8u * BOOTS_BYTES && (map[used / 8u] & (1u << (used % 8u))) == 0u) {
        used++;
    }
    if (used == 8u * BOOTS_BYTES) {
        err = hal_flash_erase(BOOTS_REGION, 0, BOOTS_BYTES);
        if (err < 0) {
            return err;
        }
        used = 0;
    }
    uint8_t one = (uint8_t) ~(1u << (used % 8u));
    err = hal_flash_write(BOOTS_REGION, used / 8u, &one, 1);
    return err < 0 ? err : (int)(used + 1u);
}

/* ------------------------------------------------------------------------- */
/* Console input: echo each line; "reboot" and "hang" test the reset paths   */
/* ------------------------------------------------------------------------- */

struct echo {
    char buf[LINE_MAX - 8u];
    size_t len;
    uint32_t first_us; /* arrival of the line's first byte */
};

static bool is_cmd(const struct echo *e, const char *cmd)
{
    size_t i = 0;
    while (i < e->len && cmd[i] != '\0' && e->buf[i] == cmd[i]) {
        i++;
    }
    return i == e->len && cmd[i] == '\0';
}

static void echo_poll(struct echo *e)
{
    uint8_t in[32];
    uint32_t ts[32];
    int n = hal_uart_read(HAL_UART_CONSOLE, in, sizeof in, ts);
    for (int i = 0; i < n; i++) {
        char c = (char)in[i];
        if (c == '\r' || c == '\n') {
            if (is_cmd(e, "reboot")) {
                hal_sys_reboot(); /* the banner then says "reset soft" */
            } else if (is_cmd(e, "hang")) {
                for (;;) {
                    /* stop kicking: the watchdog resets ("reset watchdog") */
                }
            }
            if (e->len > 0u) {
                struct line out = {.len = 0};
                line_str(&out, "echo: ");
                for (size_t k = 0; k < e->len; k++) {
                    char one[2] = {e->buf[k], '\0'};
                    line_str(&out, one);
                }
                line_str(&out, " (");
                line_u64(&out, ts[i] - e->first_us);
                line_str(&out, " us)");
                line_send(&out);
            }
            e->len = 0;
        } else if (e->len < sizeof e->buf) {
            if (e->len == 0u) {
                e->first_us = ts[i];
            }
            e->buf[e->len++] = c;
        }
    }
}

/* ------------------------------------------------------------------------- */
/* The loop                                                                  */
/* ------------------------------------------------------------------------- */

int app_boot_banner_run(void)
{
    static const struct hal_uart_cfg console = {
        .baud = 115200u,
        .data_bits = 8u,
        .parity = HAL_UART_PARITY_NONE,
        .stop_bits = 1u,
        .rx_invert = false,
    };
    int err = hal_uart_open(HAL_UART_CONSOLE, &console);
    if (err < 0) {
        return err;
    }

    struct line l = {.len = 0};
    line_str(&l, "meterlab boot: " ML_BOARD_NAME " fw " ML_FW_VERSION);
    line_send(&l);

    struct hal_sys_identity id;
    hal_sys_get_identity(&id);
    line_str(&l, "serial ");
    line_str(&l, id.serial);
    line_str(&l, ", reset ");
    line_str(&l, hal_sys_reset_cause_name(hal_sys_get_reset_cause()));
    int boots = boots_count();
    if (boots >= 0) {
        line_str(&l, ", boot ");
        line_u64(&l, (uint64_t)boots);
    } else {
        line_str(&l, ", boot count unavailable");
    }
    line_send(&l);

    uint64_t now = hal_time_ms();
    struct ml_timer blink;
    struct ml_timer beat;
    ml_timer_start(&blink, now, BLINK_MS, BLINK_MS);
    ml_timer_start(&beat, now, HEARTBEAT_MS, HEARTBEAT_MS);
    bool led_on = false;
    uint32_t ticks = 0;
    struct echo echo = {.len = 0};

    while (!hal_sys_should_stop()) {
        now = hal_time_ms();
        if (ml_timer_is_due(&blink, now)) {
            led_on = !led_on;
            hal_led_set(HAL_LED_STATUS, led_on ? HAL_RGB_GREEN : HAL_RGB_OFF);
        }
        if (ml_timer_is_due(&beat, now)) {
            ticks++;
            line_str(&l, "tick ");
            line_u64(&l, ticks);
            line_str(&l, " uptime_us ");
            line_u64(&l, hal_time_us());
            line_send(&l);
        }
        echo_poll(&echo);
        hal_sys_watchdog_kick();
        hal_time_wait_until(ml_timer_earliest(&beat, ml_timer_earliest(&blink, HAL_TIME_FOREVER)));
    }
    return ML_OK;
}
