/* meterlab run: play scenarios against a device under test, report, write JUnit XML. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ml_run.h"
#include "ml_rig.h"
#include "ml_suite.h"

/* How many --rig a run may spread over. */
#define ML_RUN_MAX_RIGS 8

/* --vtime-max default: guest s per wall s between events. Uncapped (~25x idle) the
 * firmware's 3 s AT timeouts fired while the co-processor emulator waited for the host
 * on a loaded machine (docs/target.md, "Virtual time"). */
#define ML_RUN_VTIME_MAX_DEFAULT 5.0

/* SIGINT/SIGTERM: the number of the signal; the runner stops the scenario under way. */
static volatile sig_atomic_t stop_sig;

static void on_stop(int sig)
{
    stop_sig = sig;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: meterlab run [--dut sim|device|qemu|rig --rig RIG.yaml] [--junit FILE] [--broker "
        "URL] [--allow-skips] [-q|-v] SCENARIO...\n\n"
        "Plays each scenario (YAML, see docs/scenarios.md) against the device under test and\n"
        "checks its expectations with real clients (libmodbus TCP/RTU, an MQTT subscriber,\n"
        "HTTP), the LED log, P1 out and the device counters. Prints a line per scenario,\n"
        "a diff for every failed expectation (expected / seen, time, file:line of the\n"
        "expectation) and a summary line.\n\n"
        "options:\n"
        "  --dut sim          the firmware in-process on the sim port, virtual time (default)\n"
        "  --dut device       the stand-alone simulated device (`meterlab device`, a child\n"
        "                     process) over ptys, real time; a local mosquitto for MQTT\n"
        "  --dut rig --rig RIG.yaml   a real bench (docs/hil.md), real time; --rig again\n"
        "                     (up to 8): the scenarios are spread over the rigs (round robin\n"
        "                     among the rigs of each scenario's product), one process per\n"
        "                     rig, in parallel; JUnit has a testsuite per rig\n"
        "  --shard I/N        run only scenarios I, I+N, I+2N, ... of the list (1-based; CI\n"
        "                     matrices: N jobs with I = 1..N cover every scenario once)\n"
        "  --wait             --dut rig: wait for the rig's lock (`lock:` in the rig file)\n"
        "                     instead of failing at once when another run holds it\n"
        "  --dut qemu         like device, with `meterlab device --target qemu`\n"
        "  --vtime            --dut qemu on virtual time: QEMU with -icount, the timeline\n"
        "                     played on the guest's clock, which runs ahead of the wall\n"
        "                     clock between events and at wall-clock pace while the\n"
        "                     runner injects and checks (docs/target.md, \"Virtual time\")\n"
        "  --vtime-max N      with --vtime: at most N guest seconds per wall second between\n"
        "                     events (default 5; 0: no cap)\n"
        "  --vtime-pace N     with --vtime: guest seconds per wall second while the runner\n"
        "                     injects and checks (default 1: the firmware's timeouts against\n"
        "                     host peers count as on the wall clock)\n"
        "                     Scenarios say which DUTs they support (`# duts:` line); others\n"
        "                     and checks a DUT cannot observe are reported SKIP with the reason\n"
        "  --junit FILE       also write JUnit XML, one testcase per scenario (its system-out\n"
        "                     holds the board's console: the device child's output, a rig's\n"
        "                     serial.console), one testsuite per rig\n"
        "  --broker URL       use this MQTT broker (mqtt://host:port) instead of starting a\n"
        "                     local mosquitto; scenarios with broker faults need the local one\n"
        "  --allow-skips      a scenario that decided nothing (SKIP) does not fail the run\n"
        "  -q, --quiet        only failures, skips and the summary\n"
        "  -v, --verbose      narrate: faults, actions and each check as it is decided\n"
        "  --pace N           at most N virtual seconds per wall second (demos)\n"
        "  -h, --help         this text\n\n"
        "A scenario with no expectation, or whose MQTT expectations name a topic or payload\n"
        "field the device does not publish, is an error before it runs (file:line:column).\n"
        "A scenario that decided nothing (not for this DUT, or every expectation skipped)\n"
        "ends SKIP, never pass.\n\n"
        "With --dut rig, before any scenario the board is asked who it is (docs/hil.md,\n"
        "preflight): no answer, or another product/variant/serial/firmware than the rig\n"
        "file says, is a setup error (exit 2) naming the port and what was seen. Scenario\n"
        "steps power/reset/flash run the rig's command templates, then wait for the board\n"
        "(console banner, an answer) up to timeouts.boot_s; device: settings a Smart\n"
        "Connect lacks are set over its HTTP API and put back afterwards.\n\n"
        "SIGINT/SIGTERM stop the scenario under way and every child (device, QEMU, broker),\n"
        "remove their temp dirs, write the JUnit of what ran and exit 130/143.\n\n"
        "Exit: 0 every scenario passed, 1 an expectation failed or a scenario was skipped\n"
        "(without --allow-skips), 2 usage, scenario or setup error.\n");
}

/* Does `meterlab device` know --target (helper D's QEMU target)? */
static bool qemu_available(void)
{
    char exe[4096], cmd[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        return false;
    }
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "'%s' device --help 2>/dev/null", exe);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        return false;
    }
    char line[512];
    bool yes = false;
    while (fgets(line, sizeof line, f)) {
        yes |= strstr(line, "--target") != NULL && strstr(line, "qemu") != NULL;
    }
    pclose(f);
    return yes;
}

/* Load, resolve, lock and preflight every rig; @return 0 or the exit code. */
static int rigs_setup(struct ml_rig *rigs, const char *const *paths, size_t n, int *lock_fd,
                      bool wait_lock, bool quiet)
{
    char err[1024];
    for (size_t k = 0; k < n; k++) {
        if (ml_rig_load(paths[k], &rigs[k], err, sizeof err) < 0 ||
            ml_rig_resolve(&rigs[k], err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: %s\n", err);
            return ML_EXIT_USAGE;
        }
        for (size_t j = 0; j < k; j++) {
            if (!strcmp(rigs[j].name, rigs[k].name)) {
                fprintf(stderr,
                        "meterlab run: %s and %s are both named '%s' (rig names tell "
                        "the JUnit testsuites apart)\n",
                        paths[j], paths[k], rigs[k].name);
                return ML_EXIT_USAGE;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        lock_fd[k] = ml_rig_lock(&rigs[k], wait_lock, "meterlab run", err, sizeof err);
        if (lock_fd[k] < 0 && lock_fd[k] != -ENOENT) {
            fprintf(stderr, "meterlab run: setup error: %s\n", err);
            goto unlock;
        }
        /* a rig with a driver (driver: qemu): its board powered on and booted */
        if (ml_rig_driver_start(&rigs[k], NULL, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: setup error: %s\n", err);
            goto unlock;
        }
        if (ml_dut_rig_preflight(&rigs[k], err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: setup error: %s: %s\n", rigs[k].path, err);
            goto unlock;
        }
        if (!quiet) {
            printf("rig %s: %s\n", rigs[k].name, err);
            fflush(stdout);
        }
    }
    return 0;
unlock:
    for (size_t k = 0; k < n; k++) {
        ml_rig_driver_stop(&rigs[k]);
        ml_rig_unlock(lock_fd[k]);
        lock_fd[k] = -1;
    }
    return ML_EXIT_USAGE;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    static const struct option opts[] = {{"dut", required_argument, NULL, 'd'},
                                         {"junit", required_argument, NULL, 'j'},
                                         {"broker", required_argument, NULL, 'b'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"pace", required_argument, NULL, 'p'},
                                         {"rig", required_argument, NULL, 'r'},
                                         {"allow-skips", no_argument, NULL, 's'},
                                         {"wait", no_argument, NULL, 'w'},
                                         {"shard", required_argument, NULL, 'S'},
                                         {"vtime", no_argument, NULL, 'V'},
                                         {"vtime-max", required_argument, NULL, 'M'},
                                         {"vtime-pace", required_argument, NULL, 'P'},
                                         {NULL, 0, NULL, 0}};
    bool allow_skips = false, wait_lock = false, vtime = false;
    double vtime_max = ML_RUN_VTIME_MAX_DEFAULT, vtime_pace = 1.0;
    long shard_i = 1, shard_n = 1;
    const char *dut = "sim", *junit = NULL, *rig_paths[ML_RUN_MAX_RIGS];
    size_t nrig = 0;
    struct ml_run_opts ro = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qv", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dut = optarg;
            break;
        case 'r':
            if (nrig == ML_RUN_MAX_RIGS) {
                fprintf(stderr, "meterlab run: at most %d --rig\n", ML_RUN_MAX_RIGS);
                return ML_EXIT_USAGE;
            }
            rig_paths[nrig++] = optarg;
            break;
        case 's':
            allow_skips = true;
            break;
        case 'S': {
            char *end;
            shard_i = strtol(optarg, &end, 10);
            shard_n = *end == '/' ? strtol(end + 1, &end, 10) : 0;
            if (*end != '\0' || shard_n < 1 || shard_i < 1 || shard_i > shard_n) {
                fprintf(stderr, "meterlab run: --shard '%s': must be I/N with 1 <= I <= N\n",
                        optarg);
                return ML_EXIT_USAGE;
            }
            break;
        }
        case 'w':
            wait_lock = true;
            break;
        case 'V':
            vtime = true;
            break;
        case 'M': {
            char *end;
            vtime_max = strtod(optarg, &end);
            if (*end != '\0' || vtime_max < 0) {
                fprintf(stderr, "meterlab run: --vtime-max '%s': needs a number >= 0\n", optarg);
                return ML_EXIT_USAGE;
            }
            vtime = true;
            break;
        }
        case 'P': {
            char *end;
            vtime_pace = strtod(optarg, &end);
            if (*end != '\0' || !(vtime_pace > 0)) {
                fprintf(stderr, "meterlab run: --vtime-pace '%s': needs a number > 0\n", optarg);
                return ML_EXIT_USAGE;
            }
            vtime = true;
            break;
        }
        case 'j':
            junit = optarg;
            break;
        case 'b':
            ro.broker_url = optarg;
            break;
        case 'q':
            ro.quiet = true;
            break;
        case 'v':
            ro.verbose = true;
            break;
        case 'p':
            ro.pace = strtod(optarg, NULL);
            if (ro.pace <= 0) {
                fprintf(stderr, "meterlab run: --pace needs a positive number\n");
                return ML_EXIT_USAGE;
            }
            break;
        default:
            usage(stderr);
            return ML_EXIT_USAGE;
        }
    }
    struct ml_dut dutb;
    if (vtime && strcmp(dut, "qemu") != 0) {
        fprintf(stderr, "meterlab run: --vtime goes with --dut qemu (the sim always runs on "
                        "virtual time, a device or rig on the wall clock)\n");
        return ML_EXIT_USAGE;
    }
    static struct ml_rig rigs[ML_RUN_MAX_RIGS];
    int lock_fd[ML_RUN_MAX_RIGS];
    for (size_t k = 0; k < ML_RUN_MAX_RIGS; k++) {
        lock_fd[k] = -1;
    }
    if (strcmp(dut, "rig") != 0 && nrig > 0) {
        fprintf(stderr, "meterlab run: --rig goes with --dut rig\n");
        return ML_EXIT_USAGE;
    }
    if (!strcmp(dut, "sim")) {
        ml_dut_sim_init(&dutb);
    } else if (!strcmp(dut, "device") || !strcmp(dut, "qemu")) {
        if (!strcmp(dut, "qemu") && !qemu_available()) {
            fprintf(stderr, "meterlab run: --dut qemu needs `meterlab device --target qemu` "
                            "(the QEMU target of the device command), which this build does "
                            "not have\n");
            return ML_EXIT_USAGE;
        }
        ml_dut_device_init(&dutb, !strcmp(dut, "qemu"));
        if (vtime && !strcmp(dut, "qemu")) {
            ml_dut_qemu_vtime(&dutb, vtime_pace, vtime_max);
        }
    } else if (!strcmp(dut, "rig")) {
        if (nrig == 0) {
            fprintf(stderr, "meterlab run: --dut rig needs --rig RIG.yaml (see docs/hil.md)\n");
            return ML_EXIT_USAGE;
        }
        if (optind >= argc) {
            fprintf(stderr, "meterlab run: give one or more scenario files\n");
            return ML_EXIT_USAGE;
        }
        int rc = rigs_setup(rigs, rig_paths, nrig, lock_fd, wait_lock, ro.quiet);
        if (rc != 0) {
            return rc;
        }
        ml_dut_rig_init(&dutb, &rigs[0]);
    } else {
        fprintf(stderr, "meterlab run: unknown --dut '%s' (sim, device, rig, qemu)\n", dut);
        return ML_EXIT_USAGE;
    }
    if (optind >= argc) {
        fprintf(stderr, "meterlab run: give one or more scenario files\n");
        usage(stderr);
        return ML_EXIT_USAGE;
    }
    ro.tty = isatty(2);
    stop_sig = 0;
    ro.stop = &stop_sig;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a wait returns to check the flag */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* --shard I/N: scenarios I, I+N, I+2N, ... of the list (1-based) */
    size_t n_all = (size_t)(argc - optind), n = 0;
    char **files = calloc(n_all, sizeof *files);
    for (size_t k = 0; k < n_all; k++) {
        if ((long)(k % (size_t)shard_n) == shard_i - 1) {
            files[n++] = argv[optind + (int)k];
        }
    }
    if (shard_n > 1) {
        printf("shard %ld/%ld: %zu of %zu scenario%s\n", shard_i, shard_n, n, n_all,
               n_all == 1 ? "" : "s");
    }
    struct ml_suite su[ML_RUN_MAX_RIGS];
    memset(su, 0, sizeof su);
    size_t nsu = 1;
    struct ml_suite_opts so = {
        .ro = &ro, .allow_skips = allow_skips, .prefix = "", .stop = &stop_sig};
    double w0 = wall_now();
    int rc = ML_EXIT_OK;
    if (nrig > 1) {
        char err[512];
        nsu = nrig;
        if (ml_suite_run_rigs(su, rigs, nrig, files, n, &so, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: %s\n", err);
            rc = ML_EXIT_USAGE;
        }
    } else {
        snprintf(su[0].name, sizeof su[0].name, "meterlab.scenarios");
        snprintf(su[0].dut, sizeof su[0].dut, "%s", dut);
        ml_suite_run(&su[0], &dutb, files, n, &so);
    }
    double wall = wall_now() - w0;
    size_t passed = 0, failed = 0, errors = 0, skipped = 0, ran = 0;
    for (size_t k = 0; k < nsu; k++) {
        passed += su[k].passed;
        failed += su[k].failed;
        errors += su[k].errors;
        skipped += su[k].skipped;
        ran += su[k].ran;
        if (nsu > 1) {
            printf("rig %s: %zu passed, %zu failed, %zu skipped, %zu errors (%zu scenario%s)\n",
                   rigs[k].name, su[k].passed, su[k].failed, su[k].skipped, su[k].errors, su[k].ran,
                   su[k].ran == 1 ? "" : "s");
        }
    }
    printf("%zu passed, %zu failed", passed, failed);
    if (skipped) {
        printf(", %zu skipped", skipped);
    }
    if (errors) {
        printf(", %zu errors", errors);
    }
    printf(" (%zu scenario%s, %.1f s)\n", ran, ran == 1 ? "" : "s", wall);
    if (rc == ML_EXIT_OK) {
        rc = errors                                ? ML_EXIT_USAGE
             : failed || (skipped && !allow_skips) ? ML_EXIT_FAIL
                                                   : ML_EXIT_OK;
    }
    if (stop_sig) {
        printf("interrupted by %s after %zu of %zu scenario%s\n",
               stop_sig == SIGINT ? "SIGINT" : "SIGTERM", ran, n, n == 1 ? "" : "s");
        rc = 128 + stop_sig;
    }
    fflush(stdout);
    if (junit && ml_suite_write_junit(junit, su, nsu, wall) < 0 && !stop_sig) {
        rc = ML_EXIT_USAGE;
    }
    for (size_t k = 0; k < nsu; k++) {
        ml_suite_free(&su[k]);
    }
    free(files);
    ml_dut_free(&dutb);
    for (size_t k = 0; k < nrig; k++) {
        ml_rig_unlock(lock_fd[k]);
    }
    return rc;
}

const struct ml_cmd ml_cmd_run = {"run", "play scenarios against the simulated device (JUnit)",
                                  run_run};
