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
#include "ml_check.h"
#include "ml_rig.h"

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
        "  --dut rig --rig RIG.yaml   a real bench (docs/hil.md), real time\n"
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
        "                     Scenarios say which DUTs they support (`# duts:` line); others\n"
        "                     and checks a DUT cannot observe are reported SKIP with the reason\n"
        "  --junit FILE       also write JUnit XML, one testcase per scenario\n"
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
        "file says, is a setup error (exit 2) naming the port and what was seen.\n\n"
        "SIGINT/SIGTERM stop the scenario under way and every child (device, QEMU, broker),\n"
        "remove their temp dirs, write the JUnit of what ran and exit 130/143.\n\n"
        "Exit: 0 every scenario passed, 1 an expectation failed or a scenario was skipped\n"
        "(without --allow-skips), 2 usage, scenario or setup error.\n");
}

struct outcome {
    char *name, *path;
    bool error, parsed;
    struct ml_run_result r;
    char *parse_err;
};

static void xml_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t') {
                fputc(*s, f);
            }
        }
    }
}

/* The first failure of @p report as one line: "file:line:col t=... what: expected X, seen Y". */
static void first_diff(FILE *f, const char *report)
{
    const char *p = report ? strstr(report, "  FAIL ") : NULL;
    if (p == NULL) {
        xml_escape(f, "expectations failed");
        return;
    }
    char buf[1200];
    size_t n = 0;
    p += 7;
    for (int line = 0; *p && line < 3; line++) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        if (line > 0 && strncmp(p, "expected:", 9) && strncmp(p, "seen:", 5)) {
            break;
        }
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%.*s",
                              line == 0   ? ""
                              : line == 1 ? ": "
                                          : ", ",
                              (int)len, p);
        if (n >= sizeof buf) {
            n = sizeof buf - 1;
            break;
        }
        p = e ? e + 1 : p + len;
    }
    /* "seen:     X" reads better with one space */
    char *sp = strstr(buf, "seen: ");
    if (sp) {
        char *q = sp + 6;
        while (*q == ' ') {
            memmove(q, q + 1, strlen(q));
        }
    }
    xml_escape(f, buf);
}

static int write_junit(const char *path, const struct outcome *o, size_t n, double wall,
                       const char *dut)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "meterlab run: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t failures = 0, errors = 0;
    for (size_t i = 0; i < n; i++) {
        errors += o[i].error;
        failures += !o[i].error && o[i].r.failed > 0;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n"
            "  <testsuite name=\"meterlab.scenarios\" tests=\"%zu\" failures=\"%zu\" "
            "errors=\"%zu\" time=\"%.3f\">\n",
            n, failures, errors, wall, n, failures, errors, wall);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "    <testcase classname=\"scenario.%s\" name=\"", dut);
        xml_escape(f, o[i].name);
        fprintf(f, "\" file=\"");
        xml_escape(f, o[i].path);
        fprintf(f, "\" time=\"%.3f\">\n", o[i].r.wall_s);
        if (o[i].error) {
            fprintf(f, "      <error message=\"%s\">",
                    o[i].r.interrupted ? "interrupted" : "scenario error");
            xml_escape(f, o[i].parse_err ? o[i].parse_err : o[i].r.report);
            fprintf(f, "</error>\n");
        } else if (o[i].r.skipped) {
            fprintf(f, "      <skipped message=\"");
            xml_escape(f, o[i].r.report);
            fprintf(f, "\"/>\n");
        } else if (o[i].r.failed > 0) {
            fprintf(f,
                    "      <failure message=\"%d of %d expectations failed; first: ", o[i].r.failed,
                    o[i].r.checks);
            first_diff(f, o[i].r.report);
            fprintf(f, "\">");
            xml_escape(f, o[i].r.report);
            fprintf(f, "</failure>\n");
        }
        fprintf(f,
                "      <system-out>--dut %s, device time %.1f s, %llu telegrams, %llu bytes, %d "
                "expectations, %d skipped\n",
                dut, o[i].r.virtual_s, (unsigned long long)o[i].r.telegrams,
                (unsigned long long)o[i].r.bytes, o[i].r.checks, o[i].r.skips);
        if (o[i].r.skips && !o[i].r.failed) {
            xml_escape(f, o[i].r.report);
        }
        fprintf(f, "</system-out>\n");
        fprintf(f, "    </testcase>\n");
    }
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    return fclose(f) == 0 ? 0 : -1;
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
                                         {NULL, 0, NULL, 0}};
    bool allow_skips = false, wait_lock = false, vtime = false;
    double vtime_max = ML_RUN_VTIME_MAX_DEFAULT;
    long shard_i = 1, shard_n = 1;
    int lock_fd = -1;
    const char *dut = "sim", *junit = NULL, *rig_path = NULL;
    struct ml_run_opts ro = {0};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qv", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dut = optarg;
            break;
        case 'r':
            rig_path = optarg;
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
    if (!strcmp(dut, "sim")) {
        if (rig_path) {
            fprintf(stderr, "meterlab run: --rig goes with --dut rig\n");
            return ML_EXIT_USAGE;
        }
        ml_dut_sim_init(&dutb);
    } else if (!strcmp(dut, "device") || !strcmp(dut, "qemu")) {
        if (rig_path) {
            fprintf(stderr, "meterlab run: --rig goes with --dut rig\n");
            return ML_EXIT_USAGE;
        }
        if (!strcmp(dut, "qemu") && !qemu_available()) {
            fprintf(stderr, "meterlab run: --dut qemu needs `meterlab device --target qemu` "
                            "(the QEMU target of the device command), which this build does "
                            "not have\n");
            return ML_EXIT_USAGE;
        }
        ml_dut_device_init(&dutb, !strcmp(dut, "qemu"));
        if (vtime && !strcmp(dut, "qemu")) {
            ml_dut_qemu_vtime(&dutb, 1.0, vtime_max);
        }
    } else if (!strcmp(dut, "rig")) {
        static struct ml_rig rig;
        char err[1024];
        if (rig_path == NULL) {
            fprintf(stderr, "meterlab run: --dut rig needs --rig RIG.yaml (see docs/hil.md)\n");
            return ML_EXIT_USAGE;
        }
        if (ml_rig_load(rig_path, &rig, err, sizeof err) < 0 ||
            ml_rig_resolve(&rig, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: %s\n", err);
            return ML_EXIT_USAGE;
        }
        if (optind >= argc) {
            fprintf(stderr, "meterlab run: give one or more scenario files\n");
            return ML_EXIT_USAGE;
        }
        lock_fd = ml_rig_lock(&rig, wait_lock, "meterlab run", err, sizeof err);
        if (lock_fd < 0 && lock_fd != -ENOENT) {
            fprintf(stderr, "meterlab run: setup error: %s\n", err);
            return ML_EXIT_USAGE;
        }
        if (ml_dut_rig_preflight(&rig, err, sizeof err) < 0) {
            fprintf(stderr, "meterlab run: setup error: %s: %s\n", rig.path, err);
            ml_rig_unlock(lock_fd);
            return ML_EXIT_USAGE;
        }
        if (!ro.quiet) {
            printf("rig %s: %s\n", rig.name, err);
            fflush(stdout);
        }
        ml_dut_rig_init(&dutb, &rig);
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
    struct outcome *out = calloc(n, sizeof *out);
    double w0 = wall_now();
    size_t passed = 0, failed = 0, errors = 0, skipped = 0;
    size_t ran = 0;
    for (size_t i = 0; i < n && !stop_sig; i++) {
        struct outcome *o = &out[i];
        ran = i + 1;
        o->path = files[i];
        static struct ml_scenario s;
        char err[1024];
        int lrc = ml_scenario_load(o->path, &s, err, sizeof err);
        if (lrc == 0 && ml_check_scenario(&s, err, sizeof err) < 0) {
            /* it would pass having checked nothing: an error before it runs */
            ml_scenario_free(&s);
            lrc = -1;
        }
        if (lrc < 0) {
            o->error = true;
            o->parse_err = strdup(err);
            o->name = strdup(o->path);
            errors++;
            printf("[%2zu/%zu] %-36s ERROR\n  %s\n", i + 1, n, o->path, err);
            fflush(stdout);
            continue;
        }
        o->name = strdup(s.name);
        if (ro.verbose) {
            const char *d = s.description ? s.description : "";
            printf("[%2zu/%zu] %s: %.*s\n", i + 1, n, s.name, (int)strcspn(d, "\n"), d);
            fflush(stdout);
        }
        ml_run(&dutb, &s, &ro, &o->r);
        o->error = o->r.error;
        const char *verdict = o->error       ? "ERROR"
                              : o->r.failed  ? "FAIL"
                              : o->r.skipped ? "SKIP"
                                             : "pass";
        if (o->error) {
            errors++;
        } else if (o->r.failed) {
            failed++;
        } else if (o->r.skipped) {
            skipped++;
        } else {
            passed++;
        }
        bool loud = o->error || o->r.failed || (o->r.skipped && !allow_skips);
        if (!ro.quiet || loud) {
            printf("[%2zu/%zu] %-36s %-5s t=%9.1f s  %7llu telegrams  %3d checks  %6.2f s wall",
                   i + 1, n, s.name, verdict, o->r.virtual_s, (unsigned long long)o->r.telegrams,
                   o->r.checks, o->r.wall_s);
            if (o->r.skips) {
                printf("  %d skipped", o->r.skips);
            }
            printf("\n");
        }
        if (o->r.report && (!ro.quiet || loud)) {
            fputs(o->r.report, stdout);
        }
        fflush(stdout);
        ml_scenario_free(&s);
    }
    double wall = wall_now() - w0;
    printf("%zu passed, %zu failed", passed, failed);
    if (skipped) {
        printf(", %zu skipped", skipped);
    }
    if (errors) {
        printf(", %zu errors", errors);
    }
    printf(" (%zu scenario%s, %.1f s)\n", ran, ran == 1 ? "" : "s", wall);
    int rc = errors                                ? ML_EXIT_USAGE
             : failed || (skipped && !allow_skips) ? ML_EXIT_FAIL
                                                   : ML_EXIT_OK;
    if (stop_sig) {
        printf("interrupted by %s after %zu of %zu scenario%s\n",
               stop_sig == SIGINT ? "SIGINT" : "SIGTERM", ran, n, n == 1 ? "" : "s");
        rc = 128 + stop_sig;
    }
    fflush(stdout);
    if (junit && write_junit(junit, out, ran, wall, dut) < 0 && !stop_sig) {
        rc = ML_EXIT_USAGE;
    }
    for (size_t i = 0; i < n; i++) {
        free(out[i].name);
        free(out[i].parse_err);
        free(out[i].r.report);
    }
    free(out);
    free(files);
    ml_dut_free(&dutb);
    ml_rig_unlock(lock_fd);
    return rc;
}

const struct ml_cmd ml_cmd_run = {"run", "play scenarios against the simulated device (JUnit)",
                                  run_run};
