/* meterlab play: the meter emulator on a real serial port, in real time. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "ml_capture.h"
#include "ml_timeline.h"
#include "ml_rig.h"
#include "ml_serial.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: meterlab play (--port PATH | --usb VID:PID[:SERIAL]) [--line L] [--speed N]\n"
            "                     [--quiet] SCENARIO\n\n"
            "Plays the scenario's meter on a serial port in real time: every telegram or frame\n"
            "(generated, recorded, with the scenario's faults: corrupted checks, noise,\n"
            "silences, ...) is written at its instant on the wall clock, so a real board or\n"
            "another product can be fed as if by a meter. The same meter side as `meterlab\n"
            "emit` and `meterlab run`; device-side steps (network faults, actions,\n"
            "expectations) are skipped. See docs/hil.md.\n\n"
            "options:\n"
            "  --port PATH        the serial port (/dev/ttyUSB0, a pty, a by-id link)\n"
            "  --usb ID           the USB adapter VID:PID[:SERIAL] (see `meterlab ports`)\n"
            "  --line L           line settings, e.g. 115200,8N1 or \"1200 7E1\" (default: the\n"
            "                     meter protocol's: DSMR 4/5 and e-MUCS 115200 8N1, DSMR 2.2/3\n"
            "                     and TIC standard 9600 7E1, TIC historic 1200 7E1; without\n"
            "                     meter: section, that of the recorded telegrams)\n"
            "  --speed N          N times faster than real time (default 1; 0.5 = slower)\n"
            "  -q, --quiet        no progress line on stderr\n"
            "  -h, --help         this text\n\n"
            "A `line:` fault is sent as the bytes a receiver at the port's settings makes of\n"
            "the wrong waveform (the port itself keeps its settings). Ctrl-C stops cleanly.\n\n"
            "Exit: 0 played to the end, 1 stopped early (Ctrl-C, port gone), 2 usage,\n"
            "scenario or port error.\n");
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until @p t (monotonic s); false when interrupted by a stop request. */
static bool sleep_until(double t)
{
    while (!ml_cli_stop_requested()) {
        double d = t - mono_s();
        if (d <= 0) {
            return true;
        }
        if (d > 0.2) {
            d = 0.2; /* stay responsive */
        }
        struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Write everything (non-blocking fd). @return 0, -1 on error (errno), 1 when stopped. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (ml_cli_stop_requested()) {
            return 1;
        }
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
        struct pollfd pf = {fd, POLLOUT, 0};
        int r = poll(&pf, 1, 200);
        if (r > 0 && (pf.revents & (POLLERR | POLLHUP | POLLNVAL))) {
            errno = EIO;
            return -1;
        }
    }
    return 0;
}

/* Wait (at most @p max_s) until the port has sent what was written. */
static void drain(int fd, double max_s)
{
    double end = mono_s() + max_s;
    int q = 0;
    while (!ml_cli_stop_requested() && mono_s() < end && ioctl(fd, TIOCOUTQ, &q) == 0 && q > 0) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void progress(FILE *f, bool tty, const char *name, double t, double dur,
                     const struct ml_player *pl, const char *end)
{
    fprintf(f, "%smeterlab play: %s  t = %.1f of %.1f s, %llu telegrams, %llu bytes%s",
            tty ? "\r" : "", name, t, dur, (unsigned long long)pl->telegrams,
            (unsigned long long)pl->bytes, end);
    fflush(f);
}

static int play_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'}, {"usb", required_argument, NULL, 'u'},
        {"line", required_argument, NULL, 'l'}, {"speed", required_argument, NULL, 's'},
        {"quiet", no_argument, NULL, 'q'},      {NULL, 0, NULL, 0}};
    const char *port = NULL, *usb = NULL, *line = NULL;
    double speed = 1;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 'u':
            usb = optarg;
            break;
        case 'l':
            line = optarg;
            break;
        case 's':
            speed = strtod(optarg, &end);
            if (*end != 0 || !(speed >= 0.01 && speed <= 1000)) {
                fprintf(stderr,
                        "meterlab play: --speed must be a number from 0.01 to 1000, "
                        "not '%s'\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case 'q':
            quiet = true;
            break;
        default:
            usage(stderr);
            return ML_EXIT_USAGE;
        }
    }
    if ((port == NULL) == (usb == NULL)) {
        fprintf(stderr, "meterlab play: give exactly one of --port PATH or --usb VID:PID\n");
        return ML_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "meterlab play: give exactly one scenario file (see --help)\n");
        return ML_EXIT_USAGE;
    }
    char err[1024];
    struct ml_serial_cfg cfg;
    if (line && ml_serial_parse_cfg(line, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab play: --line %s\n", err);
        return ML_EXIT_USAGE;
    }
    static struct ml_scenario s;
    if (ml_scenario_load(argv[optind], &s, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab play: %s\n", err);
        return ML_EXIT_USAGE;
    }
    bool has_telegrams = s.has_meter && s.interval_s > 0;
    for (size_t i = 0; i < s.nsteps; i++) {
        has_telegrams = has_telegrams || s.steps[i].kind == ML_STEP_TELEGRAM;
    }
    if (!has_telegrams) {
        fprintf(stderr,
                "meterlab play: %s sends no telegrams (no meter interval_s, no telegram "
                "steps): nothing to play\n",
                s.path);
        ml_scenario_free(&s);
        return ML_EXIT_USAGE;
    }
    if (!line) {
        /* without meter: section (a capture, recorded files): the recorded bytes tell */
        struct ml_line l = ml_meter_proto_line(ml_capture_scenario_proto(&s));
        cfg = (struct ml_serial_cfg){l.baud, l.data_bits, l.parity, l.stop_bits};
    }
    char path[256];
    if (usb) {
        if (ml_rig_find_usb(usb, path, sizeof path, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab play: --usb: %s\n", err);
            ml_scenario_free(&s);
            return ML_EXIT_USAGE;
        }
        port = path;
    }
    int fd = ml_serial_open(port, &cfg, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "meterlab play: %s\n", err);
        ml_scenario_free(&s);
        return ML_EXIT_USAGE;
    }
    ml_cli_catch_stop_signals();
    signal(SIGPIPE, SIG_IGN);

    struct ml_timeline tl;
    ml_timeline_build(&s, &tl);
    struct ml_player pl;
    ml_player_init(&pl, &s);
    /* a line fault is what a receiver at this port's settings makes of it */
    pl.rx_line = (struct ml_line){cfg.baud, cfg.data_bits, cfg.parity, cfg.stop_bits};
    bool tty = isatty(2);
    if (!quiet) {
        fprintf(stderr, "meterlab play: %s -> %s at %u %u%c%u, speed x%g, %.1f s\n", s.path, port,
                (unsigned)cfg.baud, cfg.data_bits, cfg.parity, cfg.stop_bits, speed,
                s.duration_s / speed);
    }
    struct ml_buf b = {0};
    int rc = ML_EXIT_OK;
    double t0 = mono_s(), next_progress = t0 + (tty ? 0.5 : 10.0), t = 0;
    for (size_t i = 0; i < tl.n && rc == ML_EXIT_OK; i++) {
        const struct ml_ev *ev = &tl.ev[i];
        if (ev->kind != ML_EV_FAULT && ev->kind != ML_EV_METER_SET && ev->kind != ML_EV_TELEGRAM &&
            ev->kind != ML_EV_METER_TICK) {
            continue;
        }
        double t_ev = (double)ev->t_us / 1e6;
        if (!sleep_until(t0 + t_ev / speed)) {
            rc = ML_EXIT_FAIL;
            break;
        }
        t = t_ev;
        b.len = 0;
        if (ml_player_bytes(&pl, ev, &b, err, sizeof err) < 0) {
            const struct ml_scn_loc *l = &s.steps[ev->step].loc;
            fprintf(stderr, "%smeterlab play: %s:%d:%d: at %.3f s: %s\n", tty && !quiet ? "\n" : "",
                    l->file, l->line, l->col, t, err);
            rc = ML_EXIT_USAGE;
            break;
        }
        int w = write_all(fd, b.p, b.len);
        if (w != 0) {
            if (w < 0) {
                fprintf(stderr, "%smeterlab play: write to %s failed: %s\n",
                        tty && !quiet ? "\n" : "", port, strerror(errno));
            }
            rc = ML_EXIT_FAIL;
            break;
        }
        if (!quiet && mono_s() >= next_progress) {
            next_progress = mono_s() + (tty ? 0.5 : 10.0);
            progress(stderr, tty, s.name, t, s.duration_s, &pl, tty ? "" : "\n");
        }
    }
    drain(fd, 5.0);
    if (!quiet || rc != ML_EXIT_OK) {
        progress(stderr, tty && !quiet, s.name, t, s.duration_s, &pl, "");
        fprintf(stderr, "  %s in %.1f s\n",
                ml_cli_stop_requested() ? "stopped" : (rc ? "failed" : "done"), mono_s() - t0);
    }
    close(fd);
    ml_buf_free(&b);
    ml_timeline_free(&tl);
    ml_scenario_free(&s);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return rc;
}

const struct ml_cmd ml_cmd_play = {"play", "meter emulator on a serial port, in real time",
                                   play_run};
