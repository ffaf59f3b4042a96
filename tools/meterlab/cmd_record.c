/* meterlab record: a meter's telegrams (from a port, or raw dumps) as replayable scenarios.
 * The capture itself is sim/capture (ml_capture); here: options, the port, printing. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "cli_record.h"
#include "ml_capture.h"
#include "ml_rig.h"
#include "ml_serial.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: meterlab record (--port PATH | --usb VID:PID[:SERIAL]) -o CAPTURE.yaml\n"
        "                       [--protocol auto|dsmr|tic] [--line L] [--probe S]\n"
        "                       [--duration S] [--count N] [--expect-values] [--quiet]\n"
        "       meterlab record --from DUMP -o CAPTURE.yaml [--protocol P] [--count N]\n"
        "                       [--expect-values] [--quiet]\n"
        "       meterlab record --from DIR -o OUTDIR [--protocol P] [--count N]\n"
        "                       [--expect-values] [--quiet]\n\n"
        "Captures a meter's telegrams (P1) or frames (TIC) with their arrival times and\n"
        "writes a scenario that replays them: CAPTURE.yaml plus the raw bytes of every\n"
        "telegram in the directory CAPTURE/ (000001.txt, ...; .bin for TIC), played back at\n"
        "the recorded instants (the first one at t = 1 s). `meterlab run CAPTURE.yaml` then\n"
        "plays the capture against the device, `meterlab play` into another board, at the\n"
        "capture's line settings (its meter: protocol).\n\n"
        "The line settings are found by trying 115200 8N1 (DSMR 4/5, e-MUCS), 9600 7E1\n"
        "(DSMR 2.2/3.0, TIC standard) and 1200 7E1 (TIC historic), --probe seconds each,\n"
        "until a complete telegram with a good CRC / checksums arrives; --protocol narrows\n"
        "the list, --line skips the search.\n\n"
        "--from imports raw dumps instead (bytes as read from a port, e.g. by `cat`: a file\n"
        "per meter or one long dump): the protocol and its line settings come from the\n"
        "content, the times from the telegrams' clocks, else the protocol's period (see\n"
        "docs/hil.md). A directory gives OUTDIR/NAME.yaml per file NAME.* (hidden files and\n"
        ".yaml, .yml, .md files skipped).\n\n"
        "options:\n"
        "  --port PATH        the serial port (/dev/ttyUSB0, a pty, a by-id link)\n"
        "  --usb ID           the USB adapter VID:PID[:SERIAL] (see `meterlab ports`)\n"
        "  --from PATH        a raw dump file, or a directory of them\n"
        "  -o, --output FILE  the scenario to write (required; a directory with --from DIR)\n"
        "  --protocol P       auto (default), dsmr or tic\n"
        "  --line L           fixed line settings, e.g. 115200,8N1 or \"9600 7E1\"\n"
        "  --probe S          seconds to listen at each setting while searching (default\n"
        "                     12: DSMR 4.2 meters send every 10 s)\n"
        "  --duration S       stop after S seconds\n"
        "  --count N          stop after N telegrams (--from: keep the first N of each dump)\n"
        "  --expect-values    add expectations: after every good telegram the device's Modbus\n"
        "                     registers hold the values the firmware parser decodes from it\n"
        "                     now (as `meterlab decode`), and at the end the telegram counters;\n"
        "                     the capture becomes a regression test\n"
        "  -q, --quiet        no live status\n"
        "  -h, --help         this text\n\n"
        "Live status on stderr: one redrawn line on a terminal (telegrams, last verdict,\n"
        "rate), a line per telegram otherwise. Stops on Ctrl-C, --duration or --count; what\n"
        "was captured is written in every case. See docs/hil.md.\n\n"
        "Exit: 0 at least one good telegram (or well-framed TIC historic frame) captured\n"
        "(--from: from every dump), 1 none, 2 usage or I/O error.\n");
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* Live capture from a port                                                  */
/* ------------------------------------------------------------------------- */

struct live {
    struct ml_capture *c;
    bool quiet, tty;
    double t0;
    const char *last; /**< verdict of the last telegram (status line) */
    size_t last_len;
};

static void status(const struct live *lv, double now, bool searching)
{
    const struct ml_capture *c = lv->c;
    unsigned ok = c->count[ML_CAP_OK], bad = (unsigned)c->n - ok;
    double span = c->n > 1 ? c->tel[c->n - 1].t - c->tel[0].t : 0;
    double rate = span > 0 ? (double)(c->n - 1) / span : 0;
    if (lv->tty) {
        fprintf(stderr, "\r\033[Kmeterlab record: %s %u %u%c%u  %zu telegrams (%u ok, %u bad)",
                searching ? "searching" : (c->family == ML_CAP_TIC ? "TIC" : "P1"),
                (unsigned)c->line.baud, c->line.data_bits, c->line.parity, c->line.stop_bits, c->n,
                ok, bad);
        if (lv->last) {
            fprintf(stderr, "  last: %s %zu B  %.2f/s", lv->last, lv->last_len, rate);
        }
        fprintf(stderr, "  %.0f s", now);
    } else if (lv->last) {
        fprintf(stderr, "meterlab record: t=%.3f s telegram %zu %s %zu bytes (%u ok, %u bad)\n",
                c->tel[c->n - 1].t, c->n, lv->last, lv->last_len, ok, bad);
    }
    fflush(stderr);
}

static void on_tel(void *ctx, const struct ml_capture_tel_info *info)
{
    struct live *lv = ctx;
    const struct ml_capture *c = lv->c;
    if (lv->quiet) {
        return;
    }
    if (info->family_found) {
        fprintf(stderr, "%smeterlab record: %s at %u %u%c%u\n", lv->tty ? "\r\033[K" : "",
                c->family == ML_CAP_TIC ? "TIC" : "P1", (unsigned)c->line.baud, c->line.data_bits,
                c->line.parity, c->line.stop_bits);
    }
    lv->last = ml_cap_verdict_name(info->verdict);
    lv->last_len = info->len;
    status(lv, mono_s() - lv->t0, false);
}

static void say_trying(const struct ml_capture *c)
{
    fprintf(stderr, "meterlab record: trying %u %u%c%u\n", (unsigned)c->line.baud,
            c->line.data_bits, c->line.parity, c->line.stop_bits);
}

static int record_live(const struct ml_record_opts *o)
{
    char err[1024];
    /* the line settings to try */
    struct ml_serial_cfg cand[3];
    int ncand = 0;
    if (o->line) {
        if (ml_serial_parse_cfg(o->line, &cand[0], err, sizeof err) < 0) {
            fprintf(stderr, "meterlab record: --line %s\n", err);
            return ML_EXIT_USAGE;
        }
        ncand = 1;
    } else {
        if (o->want != ML_CAP_TIC) {
            cand[ncand++] = ml_serial_p1_v4;
        }
        cand[ncand++] = ml_serial_tic_std; /* = DSMR 2.2/3.0 9600 7E1 */
        if (o->want != ML_CAP_P1) {
            cand[ncand++] = ml_serial_tic_hist;
        }
    }
    static struct ml_capture c;
    if (ml_capture_open(&c, o->out, o->expect_values, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab record: %s\n", err);
        return ML_EXIT_USAGE;
    }
    const char *port = o->port;
    char path[256];
    if (o->usb) {
        if (ml_rig_find_usb(o->usb, path, sizeof path, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab record: --usb: %s\n", err);
            return ML_EXIT_USAGE;
        }
        port = path;
    }
    snprintf(c.source, sizeof c.source, "%s", port);
    c.want = o->want;
    c.max = o->count > 0 ? (size_t)o->count : 0;
    if (o->line && o->want != ML_CAP_ANY) {
        c.family = o->want;
    }
    int ci = 0;
    struct ml_serial_cfg cfg = cand[0];
    c.line = (struct ml_line){cfg.baud, cfg.data_bits, cfg.parity, cfg.stop_bits};
    int fd = ml_serial_open(port, &cfg, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "meterlab record: %s\n", err);
        return ML_EXIT_USAGE;
    }
    /* What waited in the port's buffer arrived before we listened: it has no arrival
     * time (it would all be stamped "now"), so it is not part of the capture. */
    tcflush(fd, TCIFLUSH);
    ml_cli_catch_stop_signals();
    bool tty = isatty(2) && !o->quiet;
    struct live lv = {.c = &c, .quiet = o->quiet, .tty = tty, .t0 = mono_s()};
    c.on_tel = on_tel;
    c.ctx = &lv;
    double t_probe = lv.t0, next_status = lv.t0;
    if (!o->quiet) {
        fprintf(stderr, "meterlab record: listening on %s (%s%s), Ctrl-C to stop\n", port,
                o->line ? "fixed line settings" : "searching the line settings",
                o->want == ML_CAP_ANY ? ", P1 or TIC" : (o->want == ML_CAP_P1 ? ", P1" : ", TIC"));
        if (!tty) {
            say_trying(&c);
        }
    }
    static uint8_t buf[4096];
    int rc = ML_EXIT_OK;
    double t_full = 0;
    while (!ml_cli_stop_requested()) {
        double now = mono_s();
        /* --count reached: the last telegram's line end is read too (it follows at once) */
        if (ml_capture_is_full(&c)) {
            t_full = t_full > 0 ? t_full : now;
            if (!ml_capture_wants_line_end(&c) || now - t_full > 0.5) {
                break;
            }
        }
        if (o->duration > 0 && now - lv.t0 >= o->duration) {
            break;
        }
        if (tty && now >= next_status) {
            next_status = now + 0.25;
            status(&lv, now - lv.t0, c.family == ML_CAP_ANY);
        }
        /* nothing good at this setting for a while: the next one */
        if (c.family == ML_CAP_ANY && ncand > 1 && now - t_probe >= o->probe) {
            ci = (ci + 1) % ncand;
            cfg = cand[ci];
            c.line = (struct ml_line){cfg.baud, cfg.data_bits, cfg.parity, cfg.stop_bits};
            /* no flush, no parser reset: the parsers resynchronise on the next '/' or
             * STX by themselves, and a pty (any setting works) loses nothing */
            ml_serial_set_cfg(fd, &cfg);
            t_probe = now;
            if (!o->quiet && !tty) {
                say_trying(&c);
            }
        }
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 100) <= 0) {
            continue;
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n <= 0) {
            /* an adapter unplugged, the other end of a pty closed: keep what we have */
            fprintf(stderr, "%smeterlab record: %s went away (%s)\n", tty ? "\n" : "", port,
                    n < 0 ? strerror(errno) : "end of file");
            rc = ML_EXIT_USAGE;
            break;
        }
        if (ml_capture_feed(&c, buf, (size_t)n, mono_s()) < 0) {
            break;
        }
    }
    close(fd);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (tty) {
        status(&lv, mono_s() - lv.t0, c.family == ML_CAP_ANY);
        fputc('\n', stderr);
    }
    if (c.family == ML_CAP_ANY) {
        c.family = o->want == ML_CAP_TIC ? ML_CAP_TIC : ML_CAP_P1;
    }
    if (ml_capture_finish(&c, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab record: %s\n", err);
        rc = ML_EXIT_USAGE;
    }
    if (!o->quiet) {
        fprintf(stderr,
                "meterlab record: %zu telegrams (%u ok, %u crc_fail, %u frame_fail, %u historic) "
                "in %.1f s -> %s (+ %s/)\n",
                c.n, c.count[ML_CAP_OK], c.count[ML_CAP_CRC], c.count[ML_CAP_FRAME],
                c.count[ML_CAP_HISTORIC], mono_s() - lv.t0, c.out_yaml, c.dir);
    }
    unsigned good = c.count[ML_CAP_OK] + c.count[ML_CAP_HISTORIC];
    size_t n = c.n;
    ml_capture_free(&c);
    if (rc == ML_EXIT_OK && good == 0) {
        if (!o->quiet) {
            fprintf(stderr, "meterlab record: no good telegram captured%s\n",
                    n == 0 ? " (check the wiring, the inverter and `meterlab ports`)" : "");
        }
        rc = ML_EXIT_FAIL;
    }
    return rc;
}

/* ------------------------------------------------------------------------- */
/* Options                                                                   */
/* ------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct ml_record_opts *o)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},     {"usb", required_argument, NULL, 'u'},
        {"from", required_argument, NULL, 'f'},     {"output", required_argument, NULL, 'o'},
        {"protocol", required_argument, NULL, 'P'}, {"line", required_argument, NULL, 'l'},
        {"probe", required_argument, NULL, 'b'},    {"duration", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'c'},    {"expect-values", no_argument, NULL, 'e'},
        {"quiet", no_argument, NULL, 'q'},          {NULL, 0, NULL, 0}};
    *o = (struct ml_record_opts){.probe = 12};
    bool live_only = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'p':
            o->port = optarg;
            break;
        case 'u':
            o->usb = optarg;
            break;
        case 'f':
            o->from = optarg;
            break;
        case 'o':
            o->out = optarg;
            break;
        case 'P':
            if (!strcmp(optarg, "auto")) {
                o->want = ML_CAP_ANY;
            } else if (!strcmp(optarg, "dsmr") || !strcmp(optarg, "p1")) {
                o->want = ML_CAP_P1;
            } else if (!strcmp(optarg, "tic")) {
                o->want = ML_CAP_TIC;
            } else {
                fprintf(stderr, "meterlab record: --protocol must be auto, dsmr or tic, not '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 'l':
            o->line = optarg;
            live_only = true;
            break;
        case 'b':
        case 'd':
            (c == 'b' ? &o->probe : &o->duration)[0] = strtod(optarg, &end);
            if (*end != 0 || !((c == 'b' ? o->probe : o->duration) > 0)) {
                fprintf(stderr, "meterlab record: --%s must be a number of seconds > 0, not '%s'\n",
                        c == 'b' ? "probe" : "duration", optarg);
                return -1;
            }
            live_only = true;
            break;
        case 'c':
            o->count = strtol(optarg, &end, 10);
            if (*end != 0 || o->count <= 0) {
                fprintf(stderr, "meterlab record: --count must be a number > 0, not '%s'\n",
                        optarg);
                return -1;
            }
            break;
        case 'e':
            o->expect_values = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (!ml_cli_no_extra_args("record", " (see --help)", argc, argv)) {
        return -1;
    }
    int sources = (o->port != NULL) + (o->usb != NULL) + (o->from != NULL);
    if (sources != 1) {
        fprintf(stderr, "meterlab record: give exactly one of --port PATH, --usb VID:PID or "
                        "--from DUMP|DIR\n");
        return -1;
    }
    if (o->from && live_only) {
        fprintf(stderr, "meterlab record: --line, --probe and --duration are for a port, not "
                        "--from (a dump's settings come from its content)\n");
        return -1;
    }
    struct stat st;
    if (o->port && stat(o->port, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        fprintf(stderr,
                "meterlab record: --port %s is a %s, not a serial port; import raw "
                "dumps with --from %s\n",
                o->port, S_ISDIR(st.st_mode) ? "directory" : "file", o->port);
        return -1;
    }
    if (o->out == NULL) {
        fprintf(stderr, "meterlab record: give the capture file with -o %s\n",
                o->from && stat(o->from, &st) == 0 && S_ISDIR(st.st_mode) ? "OUTDIR"
                                                                          : "CAPTURE.yaml");
        return -1;
    }
    return 0;
}

static int record_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    struct ml_record_opts o;
    if (parse_args(argc, argv, &o) < 0) {
        return ML_EXIT_USAGE;
    }
    return o.from ? ml_record_from(&o) : record_live(&o);
}

const struct ml_cmd ml_cmd_record = {
    "record", "capture a meter's telegrams as a replayable scenario", record_run};
