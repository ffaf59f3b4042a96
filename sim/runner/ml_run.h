/**
 * @file ml_run.h
 * @brief The scenario runner (library ml_runner, host only): plays a scenario's
 * timeline (ml_timeline.h) against a device under test and decides every
 * expectation (ml_check.h) with real clients: libmodbus, the MQTT observer
 * (ml_mqtt_obs.h), the HTTP client (ml_http.h). The devices under test: sim
 * (in-process, virtual time), device and qemu (a `meterlab device` child), rig.
 */
#ifndef SIM_RUNNER_ML_RUN_H
#define SIM_RUNNER_ML_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include "ml_http.h"
#include "ml_meter.h"
#include "ml_scenario.h"
#include "ml_timeline.h"

/* ------------------------------------------------------------------------- */
/* Runner                                                                    */
/* ------------------------------------------------------------------------- */

struct ml_ev;

struct ml_run_opts {
    const char *broker_url; /**< NULL: start a local mosquitto when the scenario needs MQTT */
    bool quiet;
    bool verbose; /**< narrate: faults, actions and every check as it is decided */
    double pace;  /**< > 0: at most this many virtual seconds per wall second (demos) */
    bool tty;     /**< progress may redraw one line */
    /** Called with each timeline event just before it is played (NULL: none), on the
     * thread that calls ml_run_advance(); `meterlab gui` follows the steps with it. */
    void (*on_event)(void *ctx, const struct ml_ev *ev);
    void *ctx; /**< handed to on_event */
    /** Non-NULL: once *stop != 0 (a signal handler sets it) the scenario ends at the next
     * event or within 100 ms of real-time waiting, as an error marked interrupted; the
     * DUT, its children, the broker and temp dirs are stopped and removed as usual. */
    const volatile sig_atomic_t *stop;
};

struct ml_run_result {
    bool error; /**< the scenario could not be run (setup failed): exit 2 */
    /** Nothing was decided: the scenario does not apply to this DUT, or every one of its
     * expectations was skipped (reasons in report). Never reported as a pass. */
    bool skipped;
    bool interrupted; /**< ended by ml_run_opts.stop (error is set too) */
    int checks, failed, skips;
    double virtual_s, wall_s;
    uint64_t telegrams, bytes;
    char *report;  /**< failure diffs and skip reasons (malloc'ed text, NULL when none) */
    char *console; /**< the board's console during the scenario (malloc'ed, NULL: none) */
};

/* ------------------------------------------------------------------------- */
/* Devices under test: the runner (ml_run.c) plays the timeline and     */
/* decides every expectation; a backend does what differs per DUT.           */
/* ------------------------------------------------------------------------- */

/** Outcome of a backend call. */
enum ml_dut_rc {
    ML_DUT_OK = 0,    /**< done / observed */
    ML_DUT_SKIP = 1,  /**< this DUT cannot do or see it: skipped with the reason */
    ML_DUT_FAIL = -1, /**< tried, no answer (the check fails with the reason) */
};

/** What a backend observed for a state check (led, counters, status, reboots). */
struct ml_dut_obs {
    double num;       /**< counters, reboots */
    bool b;           /**< boolean status */
    int state;        /**< led (enum ui_led_state), status mqtt (0..3) */
    int p1mb_led[3];  /**< P1MB: enum ml_scn_led_show per LED */
    char detail[160]; /**< extra text for a failure ("pass 3, fail 1") */
};

/** One colour change of the status LED. */
struct ml_dut_led_ev {
    uint64_t t_us;
    uint32_t rgb;
};

struct ml_dut;

struct ml_dut_ops {
    const char *name; /**< "sim", "device", "rig", "qemu" */
    /** Start (or attach to) the DUT; @p mqtt_url is the broker it must publish to (NULL: none).
     * @return 0, or -1 with a message in @p err. */
    int (*start)(struct ml_dut *d, const char *mqtt_url, char *err, size_t cap);
    void (*stop)(struct ml_dut *d);
    /** Why step @p st (NULL: the scenario's device settings) cannot be played on this DUT
     * (the scenario is skipped), or NULL. */
    const char *(*cannot)(struct ml_dut *d, const struct ml_scn_step *st);
    /** Device time since start (µs). */
    uint64_t (*now_us)(struct ml_dut *d);
    /** Let time run to @p t_us (virtual: fire every deadline; real: sleep). */
    void (*advance_to)(struct ml_dut *d, uint64_t t_us);
    /** Let pending I/O be handled (virtual time; NULL in real time). */
    void (*settle)(struct ml_dut *d);
    /** Messages the device handed to its MQTT transport so far, across reboots (NULL:
     * unknown; the runner then waits ml_dut.mqtt_grace_ms at the end of a window). */
    uint64_t (*published)(struct ml_dut *d);
    /** Meter bytes into the DUT's input, now. */
    int (*inject)(struct ml_dut *d, const uint8_t *p, size_t n, char *err, size_t cap);
    /** Bytes that came out of P1 out since the last call (NULL: not observable). */
    size_t (*p1_out)(struct ml_dut *d, uint8_t *buf, size_t cap);
    /** Status LED colour changes since the last call (NULL: no LED sensor). */
    size_t (*led_events)(struct ml_dut *d, struct ml_dut_led_ev *out, size_t cap);
    /** A state check (led, counters, status, reboots): enum ml_dut_rc, @p why on SKIP/FAIL. */
    int (*observe)(struct ml_dut *d, const struct ml_scn_check *ch, struct ml_dut_obs *o, char *why,
                   size_t cap);
    /** Network and power faults (broker faults are the runner's). enum ml_dut_rc. */
    int (*fault)(struct ml_dut *d, const struct ml_scn_fault *f, char *why, size_t cap);
    /** Button contact closed / open. enum ml_dut_rc. */
    int (*button)(struct ml_dut *d, bool pressed, char *why, size_t cap);
    /** Run @p fn(@p m, @p arg) (a libmodbus call) while the DUT keeps running (virtual
     * time: the clock moves while an RTU master waits). NULL: call it directly. */
    int (*modbus_call)(struct ml_dut *d, int (*fn)(void *arg), void *arg);
    /** Device time 0 is now: the runner calls it once after its setup (real time: a
     * slow setup read must not shift the scenario's instants). NULL: nothing to do. */
    void (*time_zero)(struct ml_dut *d);
    /** The board's console since start, one "[   t s] line" per line (malloc'ed, the
     * caller's), taken before stop; NULL: none (or no console). */
    char *(*console)(struct ml_dut *d);
};

/** A device under test: the backend and the endpoints the runner's clients use. */
struct ml_dut {
    const struct ml_dut_ops *ops;
    void *priv;
    const struct ml_scenario *s;
    const struct ml_run_opts *o;
    bool real_time;
    /* Modbus: TCP (mb_port > 0) or RTU over a serial path (rtu_path[0]) */
    char mb_host[128];
    int mb_port;
    char rtu_path[256];
    int rtu_slave, rtu_baud;
    char rtu_parity; /**< 'N', 'E', 'O' */
    double modbus_timeout_s;
    /* HTTP API (http_port 0: none) */
    char http_host[128];
    int http_port;
    char http_user[64], http_password[64];
    double http_timeout_s;
    /* MQTT: a broker the backend imposes (rig), "" = the runner's choice */
    char broker_url[256], broker_user[64], broker_password[64];
    /** device: {mqtt: tls}: the TLS files the runner's broker made for the device */
    char mqtt_ca[256], mqtt_cert[256], mqtt_key[256];
    int mqtt_grace_ms; /**< real time: wait this long for late messages before a window closes */
    /** A scenario's device: settings the board lacks are set (PATCH /api/v1/config and
     * a reset; put back after the scenario) instead of making it not applicable. */
    bool apply_settings;
    double boot_timeout_s; /**< a reset board answers within this (0: 30 s) */
    char serial[64];       /**< the board's serial (MQTT topics), "" = the scenario's */
    uint64_t boots;        /**< maintained by backends that can see reboots */
};

/** Play @p s against @p d (set up by one of the ml_dut_*_init below): ml_run_open(),
 * ml_run_advance(ML_RUN_TO_END), ml_run_close(). @p r is filled (its report is the
 * caller's to free). */
void ml_run(struct ml_dut *d, const struct ml_scenario *s, const struct ml_run_opts *o,
            struct ml_run_result *r);

/*
 * The same run in steps, for a program that moves time itself (`meterlab gui`):
 * open, advance as often as wanted, close. One session at a time per process.
 * @p d, @p s, @p o and @p r must outlive the session; @p r is updated as checks are
 * decided (checks, failed, skips) and completed by ml_run_close().
 */
struct ml_run_session;

/** Everything up to the timeline's end (ml_run_advance). */
#define ML_RUN_TO_END UINT64_MAX

/**
 * Set up: the DUT-support and not-applicable rules, the broker and observer, the
 * DUT started, the timeline built. Never NULL (aborts when out of memory); when
 * @p r says error or skipped there is nothing to play and ml_run_advance() returns
 * false.
 */
struct ml_run_session *ml_run_open(struct ml_dut *d, const struct ml_scenario *s,
                                   const struct ml_run_opts *o, struct ml_run_result *r);

/**
 * Play every event due at or before @p t_us (faults, meter bytes, actions, checks),
 * then let the DUT run to @p t_us (ML_RUN_TO_END: every event, then the scenario's
 * duration). Past the scenario's end the DUT keeps running.
 * @return true while there is more to play; false after an error or ML_RUN_TO_END.
 */
bool ml_run_advance(struct ml_run_session *ss, uint64_t t_us);

/** Time of the next event to play (UINT64_MAX: none). */
uint64_t ml_run_next_event_us(const struct ml_run_session *ss);

/** The session's timeline; *@p next (may be NULL) = the index of the next event. Valid
 * until ml_run_close(). */
const struct ml_timeline *ml_run_timeline(const struct ml_run_session *ss, size_t *next);

/** The broker the runner started for the scenario (broker faults act on it), or NULL
 * (no MQTT, or an outside broker). Owned by the session. */
struct ml_broker *ml_run_broker(struct ml_run_session *ss);

/**
 * Read @p n (1..125) registers with function @p fc (3 or 4) at @p addr through the
 * runner's own Modbus master (client 1: TCP, or RTU on the DUT's serial side, while
 * the DUT runs), e.g. the GUI's charger polling a P1MB. The same master the
 * scenario's checks use, so both never hold the port at once.
 * @return 0, or -1 with the reason in @p why.
 */
int ml_run_modbus_read(struct ml_run_session *ss, uint8_t fc, uint16_t addr, int n, uint16_t *w,
                       char *why, size_t cap);

/** Write @p n raw bytes (not a request: line noise) on that master's line.
 * @return 0, or -1 (no master, or the write failed). */
int ml_run_modbus_send_raw(struct ml_run_session *ss, const uint8_t *p, size_t n);

/** Decide the verdict (nothing decided: skipped), stop the DUT and the broker, fill
 * the rest of @p r (report, times) and free @p ss. */
void ml_run_close(struct ml_run_session *ss);

struct ml_broker;
/**
 * Broker fault @p k (broker_down/up, broker_rejects/accepts_credentials) on @p b, a
 * broker the caller started: stop it, start it again, or switch its login to one
 * the device does not have / back to scenario @p s's broker credentials (which
 * restarts it). Other kinds do nothing. `meterlab run` and `meterlab gui` share it.
 * @param up set to whether the broker runs afterwards
 * @return 0, or -1 when the broker did not come back.
 */
int ml_run_broker_fault(struct ml_broker *b, const struct ml_scenario *s, enum ml_scn_fault_kind k,
                        bool *up);

/** The firmware in-process on the sim port, virtual time (ml_dut_sim.c). */
void ml_dut_sim_init(struct ml_dut *d);

/**
 * Network fault @p k (link, DHCP, gateway, internet down/up) on the in-process
 * simulated device's network model (@p wifi: the Wi-Fi interface, else Ethernet),
 * then wait until the device loop handled it. Also the GUI's "network down".
 * @return ML_DUT_OK, or ML_DUT_SKIP when @p k is not a network fault (nothing done).
 */
int ml_dut_sim_net_fault(enum ml_scn_fault_kind k, bool wifi);

/**
 * While the in-process device's MQTT connection to the broker on TCP @p broker_port
 * is open on the wire but not yet established, let it finish in real time (at most
 * 10 s), so that what the device sees at a virtual instant does not depend on the
 * host's speed. Returns at once when no attempt is under way.
 */
void ml_dut_sim_mqtt_settle(int broker_port);

struct ml_rig;
/** A bench described by @p rig (copied), real time (ml_dut_rt.c). */
void ml_dut_rig_init(struct ml_dut *d, const struct ml_rig *rig);

/**
 * Preflight, before any scenario: ask the board of @p rig who it is (a P1MB:
 * its configuration block over serial.rs485; a Smart Connect: GET
 * /api/v1/status) and compare with the rig file (dut.product, dut.variant,
 * dut.serial, dut.firmware). A rig with no way to ask is not checked (0).
 * @return 0 with what answered in @p out; -1 with what was seen (or that
 * nothing answered, naming the port) in @p out: a setup error.
 */
int ml_dut_rig_preflight(const struct ml_rig *rig, char *out, size_t cap);

/**
 * The stand-alone simulated device (`meterlab device`, a child process) as a
 * rig built from its banner, real time (ml_dut_rt.c). @p qemu: the target
 * image in QEMU (`meterlab device --target qemu`). The child is this program
 * (/proc/self/exe) with `device ...` arguments, so only meterlab can use it.
 */
void ml_dut_device_init(struct ml_dut *d, bool qemu);

/**
 * `--dut qemu` on virtual time (after ml_dut_device_init(d, true); nothing for other
 * DUTs): QEMU runs with -icount (ML_QEMU_VT_ICOUNT) and a QMP socket, and the
 * runner plays the timeline on the guest's clock (sim/qemu/ml_qemu_vt.h): between
 * events the guest runs as fast as it goes (at most @p max_speed times the wall
 * clock, 0: no cap) and stops at the next event's instant; while the runner
 * injects and checks it runs at @p pace times the wall clock (0: 1.0), so the
 * firmware's timeouts against host peers (AT emulator, broker) keep their meaning.
 */
void ml_dut_qemu_vtime(struct ml_dut *d, double pace, double max_speed);

/**
 * Give the Smart Connect behind @p d the configuration @p json (PATCH /api/v1/config),
 * reset it (POST /api/v1/reset: MQTT and the template apply at boot) and wait until
 * GET /api/v1/status answers again, at most d->boot_timeout_s.
 * @return 0, or -1 with what failed in @p why.
 */
int ml_dut_config_apply(struct ml_dut *d, const char *json, char *why, size_t cap);

/** Release what an ml_dut_*_init allocated. */
void ml_dut_free(struct ml_dut *d);

#endif /* SIM_RUNNER_ML_RUN_H */
