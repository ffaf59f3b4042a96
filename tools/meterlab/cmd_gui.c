/*
 * meterlab gui: the SDL2 demo. The device runs in-process on the sim port in
 * virtual time; the window shows it with its LED and button, the meter side
 * with faults, and the outputs. The work is in gui/ (library ml_gui); this
 * file only parses the command line.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#if __has_include("gui.h")
#include "ml_run.h"
#include "gui.h"
#include "ml_dev_p1mb.h"
#define ML_HAVE_GUI 1
#else
#define ML_HAVE_GUI 0
#endif

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: meterlab gui [--product p1|tic|p1mb [--variant V]] [options] [SCENARIO.yaml]\n\n"
        "The demo GUI: the simulated Smart P1/A1 Connect (p1), Smart TIC Connect (tic) with its\n"
        "status LED and button, or P1MB (p1mb) with its PWR/P1/485 LEDs and a charger polling it\n"
        "over RS485; a meter playing telegrams or a scenario's meter side, one-click faults, and\n"
        "the outputs (live values, Modbus registers, MQTT payload, counters, events). The\n"
        "firmware runs in-process in virtual time, so 1x..100x and screenshots are exact. F1\n"
        "lists the keys. With SCENARIO.yaml the product and settings come from the scenario and\n"
        "its meter side plays (telegrams, faults, button); expectations are not checked here\n"
        "(that is 'meterlab run').\n\n"
        "options:\n"
        "  --product p1|tic|p1mb  which device (default p1, or the scenario's)\n"
        "  --variant V            P1MB register map: sdm630 (default), pro380, acr10rh, xemex\n"
        "  --telegram FILE        telegram(s) the meter plays in a loop (default: the DSMR 5\n"
        "                         bench telegram for p1, scenarios/telegrams/tic/std-3ph.bin for "
        "tic)\n"
        "  --interval S           seconds between telegrams (default 1 for p1; for tic the "
        "frame's\n"
        "                         time on the wire at 9600 baud)\n"
        "  --speed N              1 .. 100 (default 1)\n"
        "  --size WxH             window size (default 1280x720)\n"
        "  --meter-type NAME      Modbus register map template (see 'meterlab regmap')\n"
        "  --mqtt URL|local       enable MQTT to a broker (mqtt://host:port), or 'local': start\n"
        "                         a mosquitto of our own (needed for the brokerdown fault)\n"
        "  --modbus-port N        Modbus TCP port of the simulated device (default: any free)\n"
        "  --press T:S            script: press the button at T s and hold it S s (repeatable)\n"
        "  --fault NAME[@T][-T2]  script: fault on at T (default 0), off at T2; names: unplug,\n"
        "                         noise, crc, historic, netdown, brokerdown (implies --mqtt\n"
        "                         local), powercycle, busgarbage (p1mb)\n"
        "  --screenshot FILE --at T   render the window at virtual time T s into FILE (.png or\n"
        "                         .bmp) and exit; repeat the pair for several\n"
        "  --headless             screenshots drawn in memory, without any display\n"
        "  --verbose              print the layout (LED position), events and screenshot facts\n"
        "  --show-help            start with the keyboard shortcuts shown (F1 toggles them)\n"
        "  -h, --help             this text\n\n"
        "examples:\n"
        "  meterlab gui --product tic\n"
        "  meterlab gui --product p1mb --variant pro380\n"
        "  meterlab gui --speed 10 scenarios/p1-unplugged.yaml\n"
        "  meterlab gui --fault unplug --screenshot nometer.png --at 10\n"
        "  xvfb-run -a meterlab gui --press 3:5.5 --screenshot ap.png --at 10\n");
}

static int bad(const char *what, const char *arg)
{
    fprintf(stderr, "meterlab gui: %s '%s' (see --help)\n", what, arg);
    return ML_EXIT_USAGE;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        return false;
    }
    *out = v;
    return true;
}

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        usage(stdout);
        return ML_EXIT_OK;
    }
#if !ML_HAVE_GUI
    (void)argc;
    (void)argv;
    fprintf(stderr, "meterlab gui: this build has no GUI (SDL2 and SDL2_ttf not found; run "
                    "tools/bootstrap and reconfigure)\n");
    return ML_EXIT_USAGE;
#else
    enum {
        O_PRODUCT = 256,
        O_TELEGRAM,
        O_INTERVAL,
        O_SPEED,
        O_SIZE,
        O_MTYPE,
        O_MQTT,
        O_PORT,
        O_PRESS,
        O_FAULT,
        O_SHOT,
        O_AT,
        O_HEADLESS,
        O_VERBOSE,
        O_VARIANT,
        O_SHOWHELP,
    };
    static const struct option opts[] = {
        {"product", required_argument, 0, O_PRODUCT},
        {"variant", required_argument, 0, O_VARIANT},
        {"telegram", required_argument, 0, O_TELEGRAM},
        {"interval", required_argument, 0, O_INTERVAL},
        {"speed", required_argument, 0, O_SPEED},
        {"size", required_argument, 0, O_SIZE},
        {"meter-type", required_argument, 0, O_MTYPE},
        {"mqtt", required_argument, 0, O_MQTT},
        {"modbus-port", required_argument, 0, O_PORT},
        {"press", required_argument, 0, O_PRESS},
        {"fault", required_argument, 0, O_FAULT},
        {"screenshot", required_argument, 0, O_SHOT},
        {"at", required_argument, 0, O_AT},
        {"headless", no_argument, 0, O_HEADLESS},
        {"verbose", no_argument, 0, O_VERBOSE},
        {"show-help", no_argument, 0, O_SHOWHELP},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    static struct gui_options o;
    gui_options_defaults(&o);
    size_t n_at = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v;
        switch (c) {
        case O_PRODUCT:
            if (strcmp(optarg, "p1") == 0) {
                o.product = GUI_PRODUCT_P1;
            } else if (strcmp(optarg, "tic") == 0) {
                o.product = GUI_PRODUCT_TIC;
            } else if (strcmp(optarg, "p1mb") == 0) {
                o.product = GUI_PRODUCT_P1MB;
            } else {
                return bad("--product must be p1, tic or p1mb, not", optarg);
            }
            o.product_set = true;
            break;
        case O_VARIANT: {
            enum p1mb_variant var;
            if (ml_dev_p1mb_variant_parse(optarg, &var) != 0) {
                return bad("--variant must be sdm630, pro380, acr10rh or xemex, not", optarg);
            }
            o.variant = (int)var;
            break;
        }
        case O_TELEGRAM:
            o.telegram_file = optarg;
            break;
        case O_INTERVAL:
            if (!parse_num(optarg, 0.05, 3600, &o.interval_s)) {
                return bad("--interval: seconds 0.05..3600, not", optarg);
            }
            break;
        case O_SPEED:
            if (!parse_num(optarg, 1, 100, &o.speed)) {
                return bad("--speed: 1..100, not", optarg);
            }
            break;
        case O_SIZE:
            if (sscanf(optarg, "%dx%d", &o.width, &o.height) != 2 || o.width < 640 ||
                o.height < 360 || o.width > 7680 || o.height > 4320) {
                return bad("--size: WxH from 640x360 to 7680x4320, not", optarg);
            }
            break;
        case O_MTYPE:
            o.meter_type = optarg;
            break;
        case O_MQTT:
            if (strncmp(optarg, "mqtt://", 7) != 0 && strncmp(optarg, "mqtts://", 8) != 0 &&
                strcmp(optarg, "local") != 0) {
                return bad("--mqtt must be 'local' or start with mqtt:// or mqtts://:", optarg);
            }
            o.mqtt_url = optarg;
            break;
        case O_PORT:
            if (!parse_num(optarg, 0, 65535, &v)) {
                return bad("--modbus-port: 0..65535, not", optarg);
            }
            o.modbus_port = (uint16_t)v;
            break;
        case O_PRESS: {
            double t, s;
            char tail;
            if (o.n_actions >= GUI_ACTIONS_MAX || sscanf(optarg, "%lf:%lf%c", &t, &s, &tail) != 2 ||
                t < 0 || s <= 0 || s > 60) {
                return bad("--press T:S (seconds; hold up to 60 s), not", optarg);
            }
            o.actions[o.n_actions++] =
                (struct gui_action){.at_s = t, .kind = GUI_ACT_PRESS, .arg = s};
            break;
        }
        case O_FAULT: {
            char name[32];
            double t0 = 0, t1 = -1;
            size_t k = strcspn(optarg, "@");
            if (k == 0 || k >= sizeof name) {
                return bad("--fault NAME[@T][-T2], not", optarg);
            }
            memcpy(name, optarg, k);
            name[k] = '\0';
            int f = gui_fault_by_name(name);
            if (f < 0) {
                return bad("--fault: unknown fault", name);
            }
            if (optarg[k] == '@') {
                char tail;
                int n = sscanf(optarg + k + 1, "%lf-%lf%c", &t0, &t1, &tail);
                if ((n != 1 && n != 2) || t0 < 0 || (n == 2 && t1 <= t0)) {
                    return bad("--fault NAME[@T][-T2], not", optarg);
                }
            }
            if (o.n_actions + 2 > GUI_ACTIONS_MAX) {
                return bad("too many --press/--fault actions at", optarg);
            }
            o.actions[o.n_actions++] = (struct gui_action){
                .at_s = t0, .kind = GUI_ACT_FAULT_ON, .fault = (enum gui_fault)f};
            if (t1 >= 0) {
                o.actions[o.n_actions++] = (struct gui_action){
                    .at_s = t1, .kind = GUI_ACT_FAULT_OFF, .fault = (enum gui_fault)f};
            }
            break;
        }
        case O_SHOT:
            if (o.n_shots >= GUI_SHOTS_MAX) {
                return bad("too many --screenshot at", optarg);
            }
            o.shots[o.n_shots++] = (struct gui_shot){.at_s = -1, .file = optarg};
            break;
        case O_AT:
            if (n_at >= o.n_shots || !parse_num(optarg, 0, 86400, &v)) {
                return bad("--at T (seconds, after its --screenshot FILE), not", optarg);
            }
            o.shots[n_at++].at_s = v;
            break;
        case O_HEADLESS:
            o.headless = true;
            break;
        case O_VERBOSE:
            o.verbose = true;
            break;
        case O_SHOWHELP:
            o.show_help = true;
            break;
        default:
            fprintf(stderr, "meterlab gui: unknown or incomplete option '%s' (see --help)\n",
                    argv[optind - 1]);
            return ML_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        o.scenario_file = argv[optind++];
    }
    if (optind < argc) {
        return bad("one scenario at a time; unexpected argument", argv[optind]);
    }
    if (o.variant >= 0 && o.product != GUI_PRODUCT_P1MB && o.scenario_file == NULL) {
        fprintf(stderr, "meterlab gui: --variant is for --product p1mb\n");
        return ML_EXIT_USAGE;
    }
    if (o.product == GUI_PRODUCT_P1MB && (o.mqtt_url != NULL || o.modbus_port != 0)) {
        fprintf(stderr, "meterlab gui: the P1MB has no network (--mqtt, --modbus-port are for p1 "
                        "and tic)\n");
        return ML_EXIT_USAGE;
    }
    if (o.scenario_file != NULL && o.telegram_file != NULL) {
        fprintf(stderr, "meterlab gui: a scenario brings its own meter: leave out --telegram\n");
        return ML_EXIT_USAGE;
    }
    for (size_t i = 0; i < o.n_actions; i++) {
        if (o.actions[i].fault == GUI_FAULT_BROKER_DOWN && o.actions[i].kind != GUI_ACT_PRESS) {
            if (o.mqtt_url != NULL && strcmp(o.mqtt_url, "local") != 0) {
                fprintf(stderr,
                        "meterlab gui: the brokerdown fault stops the GUI's own broker: "
                        "use --mqtt local (not %s)\n",
                        o.mqtt_url);
                return ML_EXIT_USAGE;
            }
            if (o.product == GUI_PRODUCT_P1MB) {
                fprintf(stderr, "meterlab gui: the P1MB has no MQTT (brokerdown)\n");
                return ML_EXIT_USAGE;
            }
            o.mqtt_url = "local";
        }
    }
    if (n_at != o.n_shots) {
        fprintf(stderr, "meterlab gui: every --screenshot FILE needs its --at T\n");
        return ML_EXIT_USAGE;
    }
    /* the script runs in time order */
    for (size_t i = 1; i < o.n_actions; i++) {
        for (size_t k = i; k > 0 && o.actions[k].at_s < o.actions[k - 1].at_s; k--) {
            struct gui_action t = o.actions[k];
            o.actions[k] = o.actions[k - 1];
            o.actions[k - 1] = t;
        }
    }
    return gui_run(&o);
#endif
}

const struct ml_cmd ml_cmd_gui = {
    .name = "gui",
    .summary = "the SDL2 demo: the simulated device, its LED and button, faults, outputs",
    .run = run,
};
