/* meterlab record: capture a meter's telegrams with their arrival times as a scenario. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_device_common.h"
#include "dsmr/dsmr.h"
#include "meter_in/meter_in.h"
#include "ml_rig.h"
#include "ml_serial.h"
#include "reading/reading.h"
#include "regmap/regmap.h"
#include "tic/tic.h"

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: meterlab record (--port PATH | --usb VID:PID[:SERIAL]) -o CAPTURE.yaml\n"
        "                       [--protocol auto|dsmr|tic] [--line L] [--probe S]\n"
        "                       [--duration S] [--count N] [--expect-values] [--quiet]\n\n"
        "Captures a meter's telegrams (P1) or frames (TIC) with their arrival times and\n"
        "writes a scenario that replays them: CAPTURE.yaml plus the raw bytes of every\n"
        "telegram in the directory CAPTURE/ (000001.txt, ...; .bin for TIC), played back at\n"
        "the recorded instants (the first one at t = 1 s). `meterlab run CAPTURE.yaml` then\n"
        "plays the capture against the device, `meterlab play` into another board.\n\n"
        "The line settings are found by trying 115200 8N1 (DSMR 4/5, e-MUCS), 9600 7E1\n"
        "(DSMR 2.2/3.0, TIC standard) and 1200 7E1 (TIC historic), --probe seconds each,\n"
        "until a complete telegram with a good CRC / checksums arrives; --protocol narrows\n"
        "the list, --line skips the search.\n\n"
        "options:\n"
        "  --port PATH        the serial port (/dev/ttyUSB0, a pty, a by-id link)\n"
        "  --usb ID           the USB adapter VID:PID[:SERIAL] (see `meterlab ports`)\n"
        "  -o, --output FILE  the scenario to write (required)\n"
        "  --protocol P       auto (default), dsmr or tic\n"
        "  --line L           fixed line settings, e.g. 115200,8N1 or \"9600 7E1\"\n"
        "  --probe S          seconds to listen at each setting while searching (default\n"
        "                     12: DSMR 4.2 meters send every 10 s)\n"
        "  --duration S       stop after S seconds\n"
        "  --count N          stop after N telegrams\n"
        "  --expect-values    add expectations: after every good telegram the device's Modbus\n"
        "                     registers hold the values the firmware parser decodes from it\n"
        "                     now (as `meterlab decode`), and at the end the telegram counters;\n"
        "                     the capture becomes a regression test\n"
        "  -q, --quiet        no live status\n"
        "  -h, --help         this text\n\n"
        "Live status on stderr: one redrawn line on a terminal (telegrams, last verdict,\n"
        "rate), a line per telegram otherwise. Stops on Ctrl-C, --duration or --count; what\n"
        "was captured is written in every case. See docs/hil.md.\n\n"
        "Exit: 0 at least one good telegram (or well-framed TIC historic frame) captured,\n"
        "1 none, 2 usage or I/O error.\n");
}

/* ------------------------------------------------------------------------- */
/* State                                                                     */
/* ------------------------------------------------------------------------- */

enum proto { P_AUTO = 0, P_DSMR, P_TIC };
enum verdict { V_OK = 0, V_CRC, V_FRAME, V_HISTORIC, V_COUNT };
static const char *const verdict_names[V_COUNT] = {"ok", "crc_fail", "frame_fail", "historic"};

struct tel {
    double t;     /**< arrival (s since the first telegram) */
    int verdict;  /**< enum verdict */
    size_t len;   /**< bytes */
    char *expect; /**< "{k: v, ...}" of the decoded values (good telegrams, --expect-values) */
};

struct rec {
    const char *out_yaml;
    char dir[1024], dir_rel[1024]; /**< telegram directory: path, and relative to the yaml */
    struct tel *tel;
    size_t n, cap;
    unsigned count[V_COUNT];
    enum proto proto; /**< what was found (P_AUTO: nothing yet) */
    struct ml_serial_cfg line;
    const char *port;
    double t_first_mono;
    time_t utc_first;
    bool expect_values;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------- */
/* Expected values: the device's template registers for a decoded reading     */
/* ------------------------------------------------------------------------- */

static const char *field_key(int f)
{
    return reading_field_info((enum reading_field)f)->key;
}

/* Range of raw values a register of type @p type holds (double, for checks). */
static bool fits(uint8_t type, double raw)
{
    switch (type) {
    case REGMAP_F32:
        return fabs(raw) < 3e38;
    case REGMAP_I16:
        return raw >= -32768 && raw <= 32767;
    case REGMAP_U16:
        return raw >= 0 && raw <= 65535;
    case REGMAP_I32:
        return raw >= -2147483648.0 && raw <= 2147483647.0;
    case REGMAP_U32:
        return raw >= 0 && raw <= 4294967295.0;
    default:
        return fabs(raw) < 9e15;
    }
}

/*
 * The Modbus checks of one reading, written the way the scenario parser resolves
 * them: by the reading key, which must name this entry first in the FC03 space.
 */
static char *expect_of(const struct reading *r, const struct regmap_template *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        return NULL;
    }
    bool done[READING_FIELD_COUNT] = {false};
    int n = 0;
    const struct regmap_space *sp = &t->holding;
    for (uint16_t i = 0; i < sp->count; i++) {
        const struct regmap_entry *e = &sp->entries[i];
        if (e->field < 0 || e->field >= READING_FIELD_COUNT || done[e->field] ||
            !reading_has(r, (enum reading_field)e->field)) {
            continue;
        }
        done[e->field] = true;
        const char *key = field_key(e->field);
        const struct regmap_entry *first = NULL;
        for (uint16_t j = 0; j < sp->count && first == NULL; j++) {
            const struct regmap_entry *x = &sp->entries[j];
            if ((x->name && !strcmp(x->name, key)) ||
                (x->field >= 0 && !strcmp(field_key(x->field), key))) {
                first = x;
            }
        }
        if (first != e) {
            continue;
        }
        double v = reading_get_si(r, (enum reading_field)e->field);
        double raw = v / pow(10.0, e->exp10);
        if (!isfinite(v) || !fits(e->type, raw)) {
            continue;
        }
        fprintf(f, "%s%s: %.10g", n++ ? ", " : "{", key, v);
    }
    fputs(n ? "}" : "", f);
    fclose(f);
    if (n == 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ------------------------------------------------------------------------- */
/* Output                                                                    */
/* ------------------------------------------------------------------------- */

static int save_telegram(struct rec *rc, const uint8_t *p, size_t len, int verdict, double t,
                         const struct reading *r, const struct regmap_template *tpl)
{
    if (rc->n == rc->cap) {
        rc->cap = rc->cap ? rc->cap * 2 : 256;
        struct tel *nt = realloc(rc->tel, rc->cap * sizeof *nt);
        if (nt == NULL) {
            return -ENOMEM;
        }
        rc->tel = nt;
    }
    struct tel *tl = &rc->tel[rc->n];
    memset(tl, 0, sizeof *tl);
    tl->t = t;
    tl->verdict = verdict;
    tl->len = len;
    if (verdict == V_OK && rc->expect_values && r) {
        tl->expect = expect_of(r, tpl);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%06zu.%s", rc->dir, rc->n + 1,
             rc->proto == P_TIC ? "bin" : "txt");
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        int e = errno ? errno : EIO;
        fprintf(stderr, "\nmeterlab record: cannot write %s: %s\n", path, strerror(e));
        return -e;
    }
    rc->n++;
    rc->count[verdict]++;
    return 0;
}

/* @p s as a YAML double-quoted scalar. */
static void yaml_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
    }
    fputc('"', f);
}

static int write_yaml(const struct rec *rc)
{
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", rc->out_yaml);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "meterlab record: cannot write %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    const char *base = strrchr(rc->out_yaml, '/');
    base = base ? base + 1 : rc->out_yaml;
    char name[256];
    snprintf(name, sizeof name, "%s", base);
    char *dot = strrchr(name, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml"))) {
        *dot = 0;
    }
    char when[32] = "?";
    struct tm tm;
    if (rc->n > 0 && gmtime_r(&rc->utc_first, &tm)) {
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    double last = rc->n ? rc->tel[rc->n - 1].t : 0;
    fprintf(f, "# Recorded by `meterlab record` from %s at %u %u%c%u (%s), first telegram %s.\n",
            rc->port, (unsigned)rc->line.baud, rc->line.data_bits, rc->line.parity,
            rc->line.stop_bits, rc->proto == P_TIC ? "TIC" : "P1", when);
    fprintf(f, "# %zu telegrams: %u ok, %u crc_fail, %u frame_fail, %u historic.\n", rc->n,
            rc->count[V_OK], rc->count[V_CRC], rc->count[V_FRAME], rc->count[V_HISTORIC]);
    fputs("name: ", f);
    yaml_str(f, name);
    fputc('\n', f);
    fprintf(f,
            "description: >\n  Capture of %zu %s over %.1f s, replayed at the recorded "
            "instants%s.\n",
            rc->n, rc->proto == P_TIC ? "TIC frames" : "P1 telegrams", last,
            rc->expect_values ? " with the values decoded at capture time as expectations" : "");
    fprintf(f, "product: %s\n", rc->proto == P_TIC ? "tic" : "p1");
    if (rc->n > 0) {
        fprintf(f, "device: {utc_start: %lld}\n", (long long)rc->utc_first - 1);
    }
    double end = 1.0 + last + 1.0;
    fprintf(f, "duration: %.3f\n", end);
    fprintf(f, "steps:%s\n", rc->n == 0 ? " []" : "");
    for (size_t i = 0; i < rc->n; i++) {
        const struct tel *t = &rc->tel[i];
        char file[1100];
        snprintf(file, sizeof file, "%s/%06zu.%s", rc->dir_rel, i + 1,
                 rc->proto == P_TIC ? "bin" : "txt");
        fprintf(f, "  - {at: %.3f, telegram: {file: ", 1.0 + t->t);
        yaml_str(f, file);
        fprintf(f, "}}  # %s, %zu bytes\n", verdict_names[t->verdict], t->len);
        if (t->expect) {
            /* checked halfway to the next telegram (at most 0.5 s later) */
            double gap = i + 1 < rc->n ? rc->tel[i + 1].t - t->t : 1.0;
            double d = fmin(0.5, gap / 2);
            if (round((1.0 + t->t + d) * 1000) > round((1.0 + t->t) * 1000)) {
                fprintf(f, "  - at: %.3f\n    expect:\n      modbus: %s\n", 1.0 + t->t + d,
                        t->expect);
            }
        }
    }
    if (rc->expect_values && rc->n > 0) {
        fprintf(f, "  - at: %.3f\n    expect:\n", end);
        fprintf(f, "      counters: {telegrams_pass: %u, telegrams_fail: %u", rc->count[V_OK],
                rc->count[V_CRC]);
        if (rc->count[V_FRAME] == 0) {
            /* a recorded broken telegram may or may not break at the same byte on replay */
            fprintf(f, ", telegrams_frame_fail: %u", rc->count[V_HISTORIC]);
        }
        fprintf(f, "}\n");
        if (rc->proto != P_TIC) {
            fprintf(f, "      p1_out: equals_input\n");
        } else {
            /* the last verdict decides whether the device reports historic mode */
            int lv = rc->tel[rc->n - 1].verdict;
            if (lv == V_OK || lv == V_HISTORIC) {
                fprintf(f, "      status: {tic_historic: %s}\n",
                        lv == V_HISTORIC ? "true" : "false");
            }
        }
    }
    if (fclose(f) != 0 || rename(tmp, rc->out_yaml) != 0) {
        fprintf(stderr, "meterlab record: cannot write %s: %s\n", rc->out_yaml, strerror(errno));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* Capture                                                                   */
/* ------------------------------------------------------------------------- */

static void status(const struct rec *rc, bool tty, double now, const char *last, size_t last_len,
                   bool searching)
{
    unsigned ok = rc->count[V_OK], bad = (unsigned)rc->n - ok;
    double span = rc->n > 1 ? rc->tel[rc->n - 1].t - rc->tel[0].t : 0;
    double rate = span > 0 ? (double)(rc->n - 1) / span : 0;
    if (tty) {
        fprintf(stderr, "\r\033[Kmeterlab record: %s %u %u%c%u  %zu telegrams (%u ok, %u bad)",
                searching ? "searching" : (rc->proto == P_TIC ? "TIC" : "P1"),
                (unsigned)rc->line.baud, rc->line.data_bits, rc->line.parity, rc->line.stop_bits,
                rc->n, ok, bad);
        if (last) {
            fprintf(stderr, "  last: %s %zu B  %.2f/s", last, last_len, rate);
        }
        fprintf(stderr, "  %.0f s", now);
    } else if (last) {
        fprintf(stderr, "meterlab record: t=%.3f s telegram %zu %s %zu bytes (%u ok, %u bad)\n",
                rc->tel[rc->n - 1].t, rc->n, last, last_len, ok, bad);
    }
    fflush(stderr);
}

/* ------------------------------------------------------------------------- */
/* Telegrams as they end                                                     */
/* ------------------------------------------------------------------------- */

/* What the meter inputs' callback needs of record_run(). */
struct feed {
    struct rec *rc;
    bool is_tic; /**< the input that is calling back */
    bool quiet, tty;
    long count;
    const struct regmap_template *tpl;
    double t0, t_arr; /**< start, and arrival of the bytes being fed */
    const char *last; /**< verdict and size of the last telegram (status line) */
    size_t last_len;
    int exit_rc;
    bool done; /**< --count reached or a write failed: keep no more */
};

static void on_telegram(void *ctx, const struct meter_in_telegram *t)
{
    struct feed *f = ctx;
    struct rec *rc = f->rc;
    if (f->done || (rc->proto != P_AUTO && (rc->proto == P_TIC) != f->is_tic)) {
        return;
    }
    int verdict = t->verdict == METER_IN_OK         ? V_OK
                  : t->verdict == METER_IN_CRC_FAIL ? V_CRC
                  : t->verdict == METER_IN_HISTORIC ? V_HISTORIC
                                                    : V_FRAME;
    if (rc->proto == P_AUTO) {
        if (verdict != V_OK && verdict != V_HISTORIC) {
            return; /* not yet sure of the setting: a bad one does not count */
        }
        rc->proto = f->is_tic ? P_TIC : P_DSMR;
        if (!f->quiet) {
            fprintf(stderr, "%smeterlab record: %s at %u %u%c%u\n", f->tty ? "\r\033[K" : "",
                    f->is_tic ? "TIC" : "P1", (unsigned)rc->line.baud, rc->line.data_bits,
                    rc->line.parity, rc->line.stop_bits);
        }
    }
    if (rc->n == 0) {
        rc->t_first_mono = f->t_arr;
        rc->utc_first = time(NULL);
    }
    int e = save_telegram(rc, t->raw.ptr, t->raw.len, verdict, f->t_arr - rc->t_first_mono,
                          verdict == V_OK ? t->reading : NULL, f->tpl);
    if (e < 0) {
        f->exit_rc = ML_EXIT_USAGE;
        f->done = true;
        ml_cli_request_stop();
        return;
    }
    f->last = verdict_names[verdict];
    f->last_len = t->raw.len;
    if (!f->quiet) {
        status(rc, f->tty, f->t_arr - f->t0, f->last, f->last_len, false);
    }
    if (f->count > 0 && (long)rc->n >= f->count) {
        f->done = true;
    }
}

static int record_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"usb", required_argument, NULL, 'u'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"protocol", required_argument, NULL, 'P'},
                                         {"line", required_argument, NULL, 'l'},
                                         {"probe", required_argument, NULL, 'b'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"expect-values", no_argument, NULL, 'e'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    const char *port = NULL, *usb = NULL, *line = NULL;
    static struct rec rc;
    memset(&rc, 0, sizeof rc);
    enum proto want = P_AUTO;
    double probe = 12, duration = 0;
    long count = 0;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 'u':
            usb = optarg;
            break;
        case 'o':
            rc.out_yaml = optarg;
            break;
        case 'P':
            if (!strcmp(optarg, "auto")) {
                want = P_AUTO;
            } else if (!strcmp(optarg, "dsmr") || !strcmp(optarg, "p1")) {
                want = P_DSMR;
            } else if (!strcmp(optarg, "tic")) {
                want = P_TIC;
            } else {
                fprintf(stderr, "meterlab record: --protocol must be auto, dsmr or tic, not '%s'\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case 'l':
            line = optarg;
            break;
        case 'b':
        case 'd':
            (c == 'b' ? &probe : &duration)[0] = strtod(optarg, &end);
            if (*end != 0 || !((c == 'b' ? probe : duration) > 0)) {
                fprintf(stderr, "meterlab record: --%s must be a number of seconds > 0, not '%s'\n",
                        c == 'b' ? "probe" : "duration", optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case 'c':
            count = strtol(optarg, &end, 10);
            if (*end != 0 || count <= 0) {
                fprintf(stderr, "meterlab record: --count must be a number > 0, not '%s'\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        case 'e':
            rc.expect_values = true;
            break;
        case 'q':
            quiet = true;
            break;
        default:
            usage(stderr);
            return ML_EXIT_USAGE;
        }
    }
    if (!ml_cli_no_extra_args("record", " (see --help)", argc, argv)) {
        return ML_EXIT_USAGE;
    }
    if ((port == NULL) == (usb == NULL)) {
        fprintf(stderr, "meterlab record: give exactly one of --port PATH or --usb VID:PID\n");
        return ML_EXIT_USAGE;
    }
    if (rc.out_yaml == NULL) {
        fprintf(stderr, "meterlab record: give the capture file with -o CAPTURE.yaml\n");
        return ML_EXIT_USAGE;
    }
    size_t ol = strlen(rc.out_yaml);
    if (ol < 6 || (strcmp(rc.out_yaml + ol - 5, ".yaml") && strcmp(rc.out_yaml + ol - 4, ".yml"))) {
        fprintf(stderr, "meterlab record: -o must name a .yaml file, not '%s'\n", rc.out_yaml);
        return ML_EXIT_USAGE;
    }
    /* the line settings to try */
    char err[1024];
    struct ml_serial_cfg cand[3];
    int ncand = 0;
    if (line) {
        if (ml_serial_parse_cfg(line, &cand[0], err, sizeof err) < 0) {
            fprintf(stderr, "meterlab record: --line %s\n", err);
            return ML_EXIT_USAGE;
        }
        ncand = 1;
    } else {
        if (want != P_TIC) {
            cand[ncand++] = ml_serial_p1_v4;
        }
        cand[ncand++] = ml_serial_tic_std; /* = DSMR 2.2/3.0 9600 7E1 */
        if (want != P_DSMR) {
            cand[ncand++] = ml_serial_tic_hist;
        }
    }
    /* the telegram directory: CAPTURE.yaml -> CAPTURE/ */
    snprintf(rc.dir, sizeof rc.dir, "%.*s", (int)(ol - (rc.out_yaml[ol - 4] == '.' ? 4 : 5)),
             rc.out_yaml);
    const char *slash = strrchr(rc.dir, '/');
    snprintf(rc.dir_rel, sizeof rc.dir_rel, "%s", slash ? slash + 1 : rc.dir);
    if (mkdir(rc.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "meterlab record: cannot create %s/: %s\n", rc.dir, strerror(errno));
        return ML_EXIT_USAGE;
    }
    char path[256];
    if (usb) {
        if (ml_rig_find_usb(usb, path, sizeof path, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab record: --usb: %s\n", err);
            return ML_EXIT_USAGE;
        }
        port = path;
    }
    rc.port = port;
    int ci = 0;
    rc.line = cand[0];
    int fd = ml_serial_open(port, &rc.line, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "meterlab record: %s\n", err);
        return ML_EXIT_USAGE;
    }
    const struct regmap_template *tpl = regmap_template_find("PhoenixContact-EMPro", 20);
    ml_cli_catch_stop_signals();

    /* both inputs while the protocol is unknown */
    static struct dsmr_parser dp;
    static struct tic_parser tp;
    static struct reading dr, tr;
    static struct meter_in in_p1, in_tic;
    meter_in_init_p1(&in_p1, &dp, &dr);
    meter_in_init_tic(&in_tic, &tp, &tr);
    bool tty = isatty(2) && !quiet;
    bool locked = line != NULL && want != P_AUTO;
    if (locked) {
        rc.proto = want;
    }
    double t0 = mono_s(), t_probe = t0, next_status = t0;
    if (!quiet) {
        fprintf(stderr, "meterlab record: listening on %s (%s%s), Ctrl-C to stop\n", port,
                line ? "fixed line settings" : "searching the line settings",
                want == P_AUTO ? ", P1 or TIC" : (want == P_DSMR ? ", P1" : ", TIC"));
        if (!tty) {
            fprintf(stderr, "meterlab record: trying %u %u%c%u\n", (unsigned)rc.line.baud,
                    rc.line.data_bits, rc.line.parity, rc.line.stop_bits);
        }
    }
    static uint8_t buf[4096];
    struct feed f = {.rc = &rc, .quiet = quiet, .tty = tty, .count = count, .tpl = tpl, .t0 = t0};
    while (!ml_cli_stop_requested()) {
        double now = mono_s();
        if (duration > 0 && now - t0 >= duration) {
            break;
        }
        if (count > 0 && (long)rc.n >= count) {
            break;
        }
        if (tty && now >= next_status) {
            next_status = now + 0.25;
            status(&rc, true, now - t0, f.last, f.last_len, rc.proto == P_AUTO);
        }
        /* nothing good at this setting for a while: the next one */
        if (rc.proto == P_AUTO && ncand > 1 && now - t_probe >= probe) {
            ci = (ci + 1) % ncand;
            rc.line = cand[ci];
            /* no flush, no parser reset: the parsers resynchronise on the next '/' or
             * STX by themselves, and a pty (any setting works) loses nothing */
            ml_serial_set_cfg(fd, &rc.line);
            t_probe = now;
            if (!quiet && !tty) {
                fprintf(stderr, "meterlab record: trying %u %u%c%u\n", (unsigned)rc.line.baud,
                        rc.line.data_bits, rc.line.parity, rc.line.stop_bits);
            }
        }
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, 100);
        if (pr <= 0) {
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
            f.exit_rc = ML_EXIT_USAGE;
            break;
        }
        f.t_arr = mono_s();
        /* feed each input in turn; both while the protocol is unknown */
        for (int which = 0; which < 2; which++) {
            f.is_tic = which == 1;
            if ((rc.proto == P_DSMR && f.is_tic) || (rc.proto == P_TIC && !f.is_tic) ||
                (rc.proto == P_AUTO && want == P_DSMR && f.is_tic) ||
                (rc.proto == P_AUTO && want == P_TIC && !f.is_tic)) {
                continue;
            }
            meter_in_feed(f.is_tic ? &in_tic : &in_p1, buf, (size_t)n, on_telegram, &f);
        }
    }
    close(fd);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (tty) {
        status(&rc, true, mono_s() - t0, f.last, f.last_len, rc.proto == P_AUTO);
        fputc('\n', stderr);
    }
    if (rc.proto == P_AUTO) {
        rc.proto = want == P_TIC ? P_TIC : P_DSMR;
    }
    if (write_yaml(&rc) < 0) {
        f.exit_rc = ML_EXIT_USAGE;
    }
    if (!quiet) {
        fprintf(stderr,
                "meterlab record: %zu telegrams (%u ok, %u crc_fail, %u frame_fail, %u historic) "
                "in %.1f s -> %s (+ %s/)\n",
                rc.n, rc.count[V_OK], rc.count[V_CRC], rc.count[V_FRAME], rc.count[V_HISTORIC],
                mono_s() - t0, rc.out_yaml, rc.dir);
    }
    for (size_t i = 0; i < rc.n; i++) {
        free(rc.tel[i].expect);
    }
    free(rc.tel);
    if (f.exit_rc == ML_EXIT_OK && rc.count[V_OK] + rc.count[V_HISTORIC] == 0) {
        if (!quiet) {
            fprintf(stderr, "meterlab record: no good telegram captured%s\n",
                    rc.n == 0 ? " (check the wiring, the inverter and `meterlab ports`)" : "");
        }
        f.exit_rc = ML_EXIT_FAIL;
    }
    return f.exit_rc;
}

const struct ml_cmd ml_cmd_record = {
    "record", "capture a meter's telegrams as a replayable scenario", record_run};
