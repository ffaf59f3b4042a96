/**
 * @file timer.h
 * @brief Deadline timers for app loops (no OS timers in the firmware).
 *
 * A timer is a deadline in hal_time_ms() units. The loop asks each timer
 * whether it expired (ml_timer_is_due) and folds every armed deadline into the
 * value it passes to hal_time_wait_until() (ml_timer_earliest). Pure logic:
 * the caller passes "now", so tests run in virtual time.
 */
#ifndef FIRMWARE_CORE_COMMON_TIMER_H
#define FIRMWARE_CORE_COMMON_TIMER_H

#include <stdbool.h>
#include <stdint.h>

struct ml_timer {
    uint64_t due_ms;    /**< deadline */
    uint32_t period_ms; /**< 0 for one-shot */
    bool armed;
};

/** Arm @p t to fire @p delay_ms after @p now_ms, repeating every @p period_ms (0 = once). */
void ml_timer_start(struct ml_timer *t, uint64_t now_ms, uint32_t delay_ms, uint32_t period_ms);

/** Disarm. */
void ml_timer_stop(struct ml_timer *t);

/**
 * True when @p t is armed and its deadline has come. A periodic timer re-arms
 * at due + period (no drift; missed periods are skipped, not replayed); a
 * one-shot timer disarms.
 */
bool ml_timer_is_due(struct ml_timer *t, uint64_t now_ms);

/** min(@p earliest, t's deadline) when armed, else @p earliest. */
uint64_t ml_timer_earliest(const struct ml_timer *t, uint64_t earliest);

#endif /* FIRMWARE_CORE_COMMON_TIMER_H */
