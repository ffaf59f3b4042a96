/*
 * Console lines for target entry files (cm_port.h): a fixed buffer, decimal
 * numbers, and a send that waits for room in the console's TX ring.
 */
#include "cm_port.h"

#include "hal_time.h"
#include "hal_uart.h"

void cm_line_str(struct cm_line *l, const char *s)
{
    while (*s != '\0' && l->len < sizeof l->buf) {
        l->buf[l->len++] = *s++;
    }
}

void cm_line_u32(struct cm_line *l, uint32_t v)
{
    char tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    while (n > 0u && l->len < sizeof l->buf) {
        l->buf[l->len++] = tmp[--n];
    }
}

void cm_line_send(struct cm_line *l)
{
    if (l->len + 2u <= sizeof l->buf) {
        l->buf[l->len++] = '\r';
        l->buf[l->len++] = '\n';
    }
    size_t done = 0;
    uint64_t give_up = hal_time_ms() + 50u;
    while (done < l->len) {
        int n = hal_uart_write(HAL_UART_CONSOLE, (const uint8_t *)l->buf + done, l->len - done);
        if (n < 0) {
            break;
        }
        done += (size_t)n;
        if (done < l->len && hal_time_ms() >= give_up) {
            break; /* the console does not drain: drop the rest, keep the app running */
        }
    }
    l->len = 0;
}

void cm_line_telegrams(struct cm_telegram_counts *last, uint32_t ok, uint32_t fail, uint32_t frame,
                       const char *fail_name)
{
    if (ok == last->ok && fail == last->fail && frame == last->frame) {
        return;
    }
    *last = (struct cm_telegram_counts){ok, fail, frame};
    struct cm_line l = {.len = 0};
    cm_line_str(&l, "telegrams: ");
    cm_line_u32(&l, ok);
    cm_line_str(&l, " ok, ");
    cm_line_u32(&l, fail);
    cm_line_str(&l, " ");
    cm_line_str(&l, fail_name);
    cm_line_str(&l, ", ");
    cm_line_u32(&l, frame);
    cm_line_str(&l, " frame fail");
    cm_line_send(&l);
}
