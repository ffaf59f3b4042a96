/*
 * core_replay on the Cortex-M target: the replay printed on the console UART
 * (replay.h), then idle. tests/target/core_replay.sh reads it from QEMU.
 */
#include <stdint.h>

#include "hal.h"
#include "replay.h"

static void out(const char *s, size_t n, void *ctx)
{
    (void)ctx;
    size_t done = 0;
    while (done < n) { /* the TX interrupt drains the ring; wait for room */
        int k = hal_uart_write(HAL_UART_CONSOLE, (const uint8_t *)s + done, n - done);
        if (k > 0) {
            done += (size_t)k;
        }
    }
}

int main(void);

int main(void)
{
    struct hal_uart_cfg con = {115200, 8, HAL_UART_PARITY_NONE, 1, false};
    (void)hal_uart_open(HAL_UART_CONSOLE, &con);
    (void)replay_run(out, 0);
    for (;;) {
        hal_time_wait_until(UINT64_MAX);
    }
}
