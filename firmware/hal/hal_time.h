/**
 * @file hal_time.h
 * @brief Monotonic time, the UTC wall clock, and waiting for the next event.
 *
 * The firmware has no OS timers: the app loop keeps deadlines (ml_timer in
 * core/common) and, when it has nothing to do, calls hal_time_wait_until()
 * with the earliest one. On the target that sleeps (WFI) until an interrupt or
 * the deadline. In the sim with virtual time it tells the host the loop is idle;
 * the clock then jumps to the next due event.
 */
#ifndef FIRMWARE_HAL_HAL_TIME_H
#define FIRMWARE_HAL_HAL_TIME_H

#include <stdint.h>

/** No deadline: wait for an event only. */
#define HAL_TIME_FOREVER UINT64_MAX

/** Milliseconds since boot; never goes backwards. ISR-safe. */
uint64_t hal_time_ms(void);

/** Microseconds since boot; never goes backwards. ISR-safe. */
uint64_t hal_time_us(void);

/**
 * UTC wall clock in epoch seconds (SNTP on hardware, host clock or scenario
 * time in the sim).
 * @return seconds, or a negative ML_EAGAIN while the clock is not set.
 */
int64_t hal_time_utc(void);

/**
 * Sleep until @p deadline_ms (hal_time_ms() scale) or until an event arrives
 * (UART byte, socket activity, button edge, host command), whichever is first.
 * Returns at once when the deadline has passed. Thread context (app loop only).
 */
void hal_time_wait_until(uint64_t deadline_ms);

#endif /* FIRMWARE_HAL_HAL_TIME_H */
