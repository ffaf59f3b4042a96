/**
 * @file ml_qemu_vt.h
 * @brief Virtual time for a target image in QEMU (library ml_qemu_vt, host only):
 * QEMU started with `-icount shift=N,sleep=off` (its virtual clock counts guest
 * instructions and jumps over idle time, so an idle image runs far ahead of the
 * wall clock) and `-qmp unix:PATH,server,nowait`; this module holds that clock on
 * a leash through QMP `stop`/`cont` so that a host program (the scenario runner)
 * can play a timeline on the guest's clock (docs/target.md, "Virtual time").
 *
 * The guest clock is read from the MPS2 FPGA I/O block (0x40028000: CLK100HZ
 * and the 25 MHz COUNTER, both computed by QEMU from its virtual clock) with
 * the HMP command `xp` through QMP: no firmware help is needed. A board reset
 * restarts those counters; the clock then continues from the last value read
 * (the time between that read and the reset, at most one poll, is lost).
 *
 * Two modes, switched by the caller; a thread of this module enforces them:
 * - **pace** (the default after open): the guest may run at most @p pace times
 *   as fast as the host clock (1.0 = real time), from the instant pacing began.
 *   While the caller talks to the device (HTTP, Modbus, MQTT) through host
 *   peers that count host time, this keeps the firmware's timeouts honest.
 * - **run to**: ml_qemu_vt_run_to() lets the guest run at full speed (capped by
 *   the `max_speed` of open) up to a guest instant and stops it there (a few ms
 *   of virtual time late at most, see docs/performance.md), then returns to pace.
 *
 * All functions are for one controlling thread, except that ml_qemu_vt_now_us()
 * may be called from any thread.
 */
#ifndef SIM_QEMU_ML_QEMU_VT_H
#define SIM_QEMU_ML_QEMU_VT_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/** QEMU's -icount option value for virtual time (the clock of ml_qemu_vt). */
#define ML_QEMU_VT_ICOUNT "shift=0,sleep=off,align=off"

struct ml_qemu_vt;

/** How the leash is set. */
struct ml_qemu_vt_opts {
    double pace;      /**< guest/host speed while pacing (0: 1.0, real time) */
    double max_speed; /**< cap while running to an instant (0: none) */
    /** open() makes QEMU's threads this much nicer than the calling thread (0 or
     *  negative: left alone; the environment variable ML_VT_NICE overrides it for
     *  benchmarks). Measured on a loaded host, it does more harm than good: the
     *  starved QEMU answered QMP `stop` up to 1.7 s late and the runner's HTTPS
     *  requests (wall-clock timeouts) failed (docs/performance.md). */
    int qemu_nice;
};

/**
 * Connect to QEMU's QMP socket @p qmp_path (waits up to 5 s for it), read the
 * guest clock and start pacing from there. QEMU's threads are reniced only when
 * opts.qemu_nice asks for it; the leash's thread asks for SCHED_FIFO priority 1
 * only with ML_VT_RT=1 in the environment (both measured, docs/performance.md).
 * @return 0 with *@p out, or -1 with the reason in @p err.
 */
int ml_qemu_vt_open(struct ml_qemu_vt **out, const char *qmp_path, const struct ml_qemu_vt_opts *o,
                    char *err, size_t cap);

/** The guest's clock (µs since its board was first seen by open, across resets). */
uint64_t ml_qemu_vt_now_us(struct ml_qemu_vt *v);

/**
 * Let the guest run (at full speed, up to max_speed) until its clock reaches
 * @p t_us, stop it there, then pace again from that instant. Returns at once
 * when the clock is already there.
 * @return 0, or -1 when QEMU went away (QMP closed) or ml_qemu_vt_close() ran.
 */
int ml_qemu_vt_run_to(struct ml_qemu_vt *v, uint64_t t_us);

/** Overshoot of run_to so far: the largest (guest clock - target) after a stop, in µs. */
uint64_t ml_qemu_vt_max_overshoot_us(struct ml_qemu_vt *v);

/** What the leash cost so far (benchmarks, docs/performance.md). */
struct ml_qemu_vt_stats {
    uint64_t run_to_calls, bursts;
    double run_to_host_s;  /**< wall time spent in ml_qemu_vt_run_to() */
    double run_to_guest_s; /**< guest time those calls covered */
    uint64_t max_overshoot_us;
    double open_host_s; /**< wall time since ml_qemu_vt_open() */
    /** the longest burst (cont to the clock read after stop), wall time, and how
     *  long it was meant to run; a late stop shows as the first far above the second */
    double max_burst_host_s, max_burst_want_s;
    double max_burst_guest_s; /**< guest time covered by the longest burst */
    bool realtime; /**< the leash thread got SCHED_FIFO (ML_VT_RT=1, see ml_qemu_vt_open) */
};
void ml_qemu_vt_stats(struct ml_qemu_vt *v, struct ml_qemu_vt_stats *out);

/** Leave the guest running free (`cont`), stop the thread, free @p v (NULL: nothing). */
void ml_qemu_vt_close(struct ml_qemu_vt *v);

#endif /* SIM_QEMU_ML_QEMU_VT_H */
