#include "timer.h"

void ml_timer_start(struct ml_timer *t, uint64_t now_ms, uint32_t delay_ms, uint32_t period_ms)
{
    t->due_ms = now_ms + delay_ms;
    t->period_ms = period_ms;
    t->armed = true;
}

void ml_timer_stop(struct ml_timer *t)
{
    t->armed = false;
}

bool ml_timer_is_due(struct ml_timer *t, uint64_t now_ms)
{
    if (!t->armed || now_ms < t->due_ms) {
        return false;
    }
    if (t->period_ms == 0) {
        t->armed = false;
    } else {
        uint64_t late = now_ms - t->due_ms;
        t->due_ms += ((late / t->period_ms) + 1u) * t->period_ms;
    }
    return true;
}

uint64_t ml_timer_earliest(const struct ml_timer *t, uint64_t earliest)
{
    return (t->armed && t->due_ms < earliest) ? t->due_ms : earliest;
}
