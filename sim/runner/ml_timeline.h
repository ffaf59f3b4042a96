/**
 * @file ml_timeline.h
 * @brief A scenario as a time-ordered list of events, and the meter side that
 * turns meter events into bytes (library ml_runner, host only). `meterlab run`,
 * `meterlab emit`, `meterlab play` and `meterlab gui` share them.
 */
#ifndef SIM_RUNNER_ML_TIMELINE_H
#define SIM_RUNNER_ML_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ml_meter.h"
#include "ml_scenario.h"

/* ------------------------------------------------------------------------- */
/* Timeline                                                                  */
/* ------------------------------------------------------------------------- */

/** What happens at one instant; at equal times events run in this order. */
enum ml_ev_kind {
    ML_EV_SYNC = 0,   /**< MQTT window opens: everything published so far is before it */
    ML_EV_FAULT,      /**< a fault step (network, power, stream, next-telegram) */
    ML_EV_ACTION,     /**< button press, Modbus write, ... */
    ML_EV_RELEASE,    /**< button release (press time + hold) */
    ML_EV_METER_SET,  /**< meter: values from now on */
    ML_EV_TELEGRAM,   /**< an explicit telegram step */
    ML_EV_METER_TICK, /**< the meter's periodic telegram */
    ML_EV_EXPECT,     /**< checks at an instant */
    ML_EV_POLL,       /**< "eventually" checks inside a window: one poll */
    ML_EV_WINDOW_END, /**< window checks are decided */
};

struct ml_ev {
    uint64_t t_us;
    uint32_t seq;
    uint32_t step; /**< index into the scenario's steps (meter ticks: UINT32_MAX) */
    uint32_t k;    /**< occurrence number of a periodic step / meter tick */
    uint8_t kind;  /**< enum ml_ev_kind */
};

struct ml_timeline {
    struct ml_ev *ev;
    size_t n;
};

/** Expand and sort every event of @p s. @return 0 (aborts on out of memory). */
int ml_timeline_build(const struct ml_scenario *s, struct ml_timeline *tl);
void ml_timeline_free(struct ml_timeline *tl);

/* ------------------------------------------------------------------------- */
/* The meter side                                                            */
/* ------------------------------------------------------------------------- */

struct ml_player {
    const struct ml_scenario *s;
    struct ml_meter_values overlay; /**< values set by meter: steps (persist) */
    struct {
        const struct ml_scn_fault *f;
        long left;
    } pending[32];
    size_t npending;
    uint64_t silence_until, historic_until, line_until;
    struct ml_line line;    /**< the line fault's settings */
    struct ml_line rx_line; /**< what the device's UART is set to */
    uint64_t telegrams, bytes;
};

void ml_player_init(struct ml_player *p, const struct ml_scenario *s);

/**
 * The meter bytes of event @p ev (telegram, tick, or a noise/stream fault) at
 * its time, appended to @p out. Faults are applied here.
 * @return 0, or -1 with a message in @p err (a fault that does not apply).
 */
int ml_player_bytes(struct ml_player *p, const struct ml_ev *ev, struct ml_buf *out, char *err,
                    size_t errcap);

#endif /* SIM_RUNNER_ML_TIMELINE_H */
