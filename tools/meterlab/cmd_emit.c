/* meterlab emit: the meter emulator on its own, a scenario's meter bytes to stdout or a file. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ml_timeline.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: meterlab emit SCENARIO [-o FILE] [--quiet]\n\n"
            "Writes every byte the scenario's meter sends (telegrams or frames with the\n"
            "scenario's faults: corrupted CRCs, noise, silences, wrong line settings, ...) in\n"
            "order, without gaps, to standard output or FILE, so other devices and tools can be\n"
            "fed with them (e.g. `meterlab emit s.yaml | meterlab decode`). Device-side steps\n"
            "(network faults, actions, expectations) are skipped. Progress goes to stderr\n"
            "for long scenarios. See docs/scenarios.md.\n\n"
            "options:\n"
            "  -o, --output FILE   write to FILE instead of standard output\n"
            "  -q, --quiet         no progress on stderr\n"
            "  -h, --help          this text\n\n"
            "Exit: 0 ok, 2 usage, scenario or I/O error.\n");
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int emit_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {NULL, 0, NULL, 0}};
    const char *outpath = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
        if (c == 'o') {
            outpath = optarg;
        } else if (c == 'q') {
            quiet = true;
        } else {
            usage(stderr);
            return ML_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "meterlab emit: give exactly one scenario file\n");
        usage(stderr);
        return ML_EXIT_USAGE;
    }
    static struct ml_scenario s;
    char err[1024];
    if (ml_scenario_load(argv[optind], &s, err, sizeof err) < 0) {
        fprintf(stderr, "meterlab emit: %s\n", err);
        return ML_EXIT_USAGE;
    }
    /* a capture (recorded telegram files) needs no meter: section, as in `play` */
    bool has_telegrams = s.has_meter && s.interval_s > 0;
    for (size_t i = 0; i < s.nsteps; i++) {
        has_telegrams = has_telegrams || s.steps[i].kind == ML_STEP_TELEGRAM;
    }
    if (!has_telegrams) {
        fprintf(stderr,
                "meterlab emit: %s sends no telegrams (no meter interval_s, no telegram "
                "steps): nothing to emit\n",
                s.path);
        ml_scenario_free(&s);
        return ML_EXIT_USAGE;
    }
    FILE *out = stdout;
    if (outpath != NULL && (out = fopen(outpath, "wb")) == NULL) {
        fprintf(stderr, "meterlab emit: cannot write %s: %s\n", outpath, strerror(errno));
        ml_scenario_free(&s);
        return ML_EXIT_USAGE;
    }
    struct ml_timeline tl;
    ml_timeline_build(&s, &tl);
    struct ml_player pl;
    ml_player_init(&pl, &s);
    struct ml_buf b = {0};
    int rc = ML_EXIT_OK;
    double t0 = wall_s(), next_progress = t0 + 1.0;
    bool progressed = false;
    for (size_t i = 0; i < tl.n; i++) {
        b.len = 0;
        if (ml_player_bytes(&pl, &tl.ev[i], &b, err, sizeof err) < 0) {
            const struct ml_scn_loc *l = &s.steps[tl.ev[i].step].loc;
            fprintf(stderr, "meterlab emit: %s:%d:%d: at %.3f s: %s\n", l->file, l->line, l->col,
                    (double)tl.ev[i].t_us / 1e6, err);
            rc = ML_EXIT_USAGE;
            break;
        }
        if (b.len > 0 && fwrite(b.p, 1, b.len, out) != b.len) {
            fprintf(stderr, "meterlab emit: write failed: %s\n", strerror(errno));
            rc = ML_EXIT_USAGE;
            break;
        }
        if (!quiet && (i & 255) == 0 && wall_s() >= next_progress) {
            next_progress += 1.0;
            progressed = true;
            fprintf(stderr, "\rmeterlab emit: %s  t = %.0f of %.0f s, %llu telegrams, %llu bytes",
                    s.name, (double)tl.ev[i].t_us / 1e6, s.duration_s,
                    (unsigned long long)pl.telegrams, (unsigned long long)pl.bytes);
        }
    }
    if (!quiet && progressed) {
        fprintf(stderr, "\rmeterlab emit: %s  done: %llu telegrams, %llu bytes in %.1f s\n", s.name,
                (unsigned long long)pl.telegrams, (unsigned long long)pl.bytes, wall_s() - t0);
    }
    if (out != stdout && fclose(out) != 0) {
        fprintf(stderr, "meterlab emit: %s: %s\n", outpath, strerror(errno));
        rc = ML_EXIT_USAGE;
    } else if (out == stdout) {
        fflush(stdout);
    }
    ml_buf_free(&b);
    ml_timeline_free(&tl);
    ml_scenario_free(&s);
    return rc;
}

const struct ml_cmd ml_cmd_emit = {"emit", "meter emulator: a scenario's meter bytes to stdout",
                                   emit_run};
