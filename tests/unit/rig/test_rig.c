/* Rig files: a good file, the example bench, and every error class with its line:column. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "ml_p1mb_id.h"
#include "ml_rig.h"
#include "ml_test.h"

static struct ml_rig rig;
static char err[1024];

static int parse(const char *text)
{
    err[0] = 0;
    return ml_rig_parse("r.yaml", text, strlen(text), &rig, err, sizeof err);
}

/* The text must fail with a message that starts with @p where and contains @p what. */
static void expect_error(const char *text, const char *where, const char *what)
{
    int rc = parse(text);
    CU_ASSERT_EQUAL(rc, -1);
    if (strncmp(err, where, strlen(where)) != 0 || strstr(err, what) == NULL) {
        fprintf(stderr, "\n  expected '%s ... %s'\n  got      '%s'\n", where, what, err);
        CU_FAIL("error message");
    }
}

static const char good[] = "name: pty-bench\n"
                           "dut: {product: p1mb, variant: SDM630, serial: X1}\n"
                           "serial:\n"
                           "  inject: {path: /dev/pts/7}\n"
                           "  rs485:\n"
                           "    usb: \"1a86:7523:0042\"\n"
                           "    line: 19200 8N1\n"
                           "    slave_id: 3\n"
                           "  console: {path: /dev/ttyACM0, line: \"115200,8N1\"}\n"
                           "commands: {button_press: \"gpio 4 1\", button_release: \"gpio 4 0\"}\n"
                           "timeouts: {boot_s: 12, http_s: 500ms}\n";

static void test_rig_good_file(void)
{
    CU_ASSERT_EQUAL_FATAL(parse(good), 0);
    CU_ASSERT_STRING_EQUAL(rig.name, "pty-bench");
    CU_ASSERT_EQUAL(rig.dut.product, ML_SCN_P1MB);
    CU_ASSERT_STRING_EQUAL(rig.dut.variant, "sdm630");
    CU_ASSERT_EQUAL(rig.dut.variant_index, 2);
    CU_ASSERT_STRING_EQUAL(rig.dut.serial, "X1");
    const struct ml_rig_port *in = &rig.port[ML_RIG_INJECT];
    CU_ASSERT_TRUE(in->present);
    CU_ASSERT_STRING_EQUAL(in->path, "/dev/pts/7");
    CU_ASSERT_FALSE(in->has_line);
    CU_ASSERT_EQUAL(in->loc.line, 4);
    CU_ASSERT_EQUAL(in->loc.col, 11);
    const struct ml_rig_port *mb = &rig.port[ML_RIG_RS485];
    CU_ASSERT_STRING_EQUAL(mb->usb, "1a86:7523:0042");
    CU_ASSERT_STRING_EQUAL(mb->path, "");
    CU_ASSERT_TRUE(mb->has_line);
    CU_ASSERT_EQUAL(mb->line.baud, 19200);
    CU_ASSERT_EQUAL(mb->line.parity, 'N');
    CU_ASSERT_EQUAL(mb->slave_id, 3);
    CU_ASSERT_EQUAL(rig.port[ML_RIG_CONSOLE].line.baud, 115200);
    CU_ASSERT_FALSE(rig.port[ML_RIG_P1_OUT].present);
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_BUTTON));
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_RS485));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_POWER));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_LED));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_MQTT));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_HTTP));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_P1_OUT));
    CU_ASSERT_PTR_NOT_NULL(strstr(ml_rig_missing_reason(ML_RIG_CAP_POWER), "power"));
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.boot_s, 12, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.http_s, 0.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.modbus_s, 2, 1e-9); /* default */
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.mqtt_s, 10, 1e-9);  /* default */
    CU_ASSERT_STRING_EQUAL(ml_rig_role_name(ML_RIG_P1_OUT), "p1_out");
}

static void test_rig_defaults(void)
{
    CU_ASSERT_EQUAL_FATAL(parse("name: n\ndut: {product: p1mb}\n"
                                "serial: {inject: {path: /dev/a}, rs485: {path: /dev/b}}\n"
                                "network: {host: 10.0.0.2}\n"),
                          0);
    CU_ASSERT_EQUAL(rig.dut.variant_index, -1);
    CU_ASSERT_EQUAL(rig.port[ML_RIG_RS485].slave_id, 16);
    CU_ASSERT_EQUAL(rig.port[ML_RIG_RS485].line.baud, 9600);
    CU_ASSERT_EQUAL(rig.port[ML_RIG_RS485].line.parity, 'E');
    CU_ASSERT_EQUAL(rig.network.modbus_port, 502);
    CU_ASSERT_EQUAL(rig.network.http_port, 80);
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_MODBUS_TCP));
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.boot_s, 30, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.http_s, 5, 1e-9);
}

static void test_rig_example_bench_loads(void)
{
    const char *src = getenv("ML_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/rigs/example-bench.yaml", src);
    int rc = ml_rig_load(path, &rig, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "\n  %s\n", err);
    }
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(rig.name, "qa-bench-1");
    CU_ASSERT_EQUAL(rig.dut.product, ML_SCN_P1);
    CU_ASSERT_STRING_EQUAL(rig.port[ML_RIG_INJECT].usb, "0403:6001:A10K3Z7Q");
    CU_ASSERT_TRUE(rig.port[ML_RIG_P1_OUT].present);
    CU_ASSERT_TRUE(rig.port[ML_RIG_CONSOLE].has_line);
    for (int c = 0; c < ML_RIG_CAP_COUNT; c++) {
        CU_ASSERT_EQUAL(ml_rig_has(&rig, (enum ml_rig_cap)c),
                        c != ML_RIG_CAP_LED && c != ML_RIG_CAP_RS485);
    }
    CU_ASSERT_STRING_EQUAL(rig.mqtt.site, "qa");
    CU_ASSERT_DOUBLE_EQUAL(rig.timeouts.boot_s, 40, 1e-9);
}

/* The P1MB example of docs/hil.md, as printed there. */
static void test_rig_docs_p1mb_example(void)
{
    CU_ASSERT_EQUAL_FATAL(
        parse("name: p1mb-bench\n"
              "dut: {product: p1mb, variant: sdm630}\n"
              "serial:\n"
              "  inject: {usb: \"0403:6001:A10K3Z7Q\"}\n"
              "  rs485: {usb: \"0403:6015:DN05ABCD\", line: \"9600 8E1\", slave_id: 16}\n"
              "commands: {power_off: \"gpio-relay 1 off\", power_on: \"gpio-relay 1 on\"}\n"),
        0);
    CU_ASSERT_EQUAL(rig.dut.variant_index, 2);
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_RS485));
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_POWER));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_BUTTON));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_MODBUS_TCP));
    CU_ASSERT_EQUAL(rig.port[ML_RIG_RS485].line.parity, 'E');
}

static void test_rig_load_missing_file(void)
{
    CU_ASSERT_EQUAL(ml_rig_load("/nonexistent/rig.yaml", &rig, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/rig.yaml: No such file"));
}

#define HEAD "name: n\ndut: {product: p1}\n"
#define INJ  "serial: {inject: {path: /dev/x}}\n"

static void test_rig_errors(void)
{
    /* YAML syntax */
    expect_error("name: [a\n", "r.yaml:2:1: YAML:", "");
    expect_error("", "r.yaml:1:1:", "empty rig file");
    expect_error("- a\n", "r.yaml:1:1:", "the rig must be a map, not a list");
    /* unknown keys, at every level */
    expect_error(HEAD INJ "colour: red\n", "r.yaml:4:1:", "unknown key 'colour' in the rig");
    expect_error("name: n\ndut: {product: p1, flavour: x}\n" INJ, "r.yaml:2:20:",
                 "unknown key 'flavour' in dut (known: product, variant, serial, firmware)");
    expect_error(HEAD "serial: {inject: {path: /dev/x, baud: 9600}}\n",
                 "r.yaml:3:33:", "unknown key 'baud' in serial.inject");
    /* remote ports: the URL is checked at load time */
    expect_error(HEAD "serial: {inject: {path: \"rfc2217://bench2\"}}\n",
                 "r.yaml:3:25:", "serial.inject.path: rfc2217://bench2: no port");
    CU_ASSERT_EQUAL(parse(HEAD "serial: {inject: {path: \"rfc2217://bench2:4001\"}}\n"), 0);
    CU_ASSERT_STRING_EQUAL(rig.port[ML_RIG_INJECT].path, "rfc2217://bench2:4001");
    /* RS485 too: the runner gives libmodbus a local pty for it (ml_serial_bridge_open) */
    CU_ASSERT_EQUAL(parse("name: n\ndut: {product: p1mb}\nserial: {inject: {path: /dev/x}, "
                          "rs485: {path: \"rfc2217://bench2:4002\"}}\n"),
                    0);
    CU_ASSERT_STRING_EQUAL(rig.port[ML_RIG_RS485].path, "rfc2217://bench2:4002");
    /* driver: qemu */
    expect_error(HEAD INJ "driver: openocd\n",
                 "r.yaml:4:9:", "driver must be qemu (the only built-in driver), not 'openocd'");
    expect_error(HEAD INJ "driver: qemu\n", "r.yaml:4:9:", "driver: qemu needs a 'qemu' section");
    expect_error(HEAD INJ "qemu: {image: a.elf, ports: p}\n",
                 "r.yaml:4:7:", "a 'qemu' section needs 'driver: qemu'");
    expect_error(HEAD INJ "driver: qemu\nqemu: {ports: p}\n", "r.yaml:5:7:", "qemu needs 'image'");
    expect_error(HEAD INJ "driver: qemu\nqemu: {image: a.elf}\n",
                 "r.yaml:5:7:", "qemu needs 'ports'");
    expect_error(HEAD INJ "driver: qemu\nqemu: {image: a.elf, ports: p, cpu: m4}\n",
                 "r.yaml:5:32:", "unknown key 'cpu' in qemu");
    expect_error(HEAD INJ "driver: qemu\nqemu: {image: a.elf, ports: p}\ncommands: {reset: x}\n",
                 "r.yaml:4:9:", "leave out commands.reset");
    expect_error(HEAD "serial: {inject: {path: /dev/x}, modem: {path: /dev/y}}\n",
                 "r.yaml:3:34:", "unknown key 'modem' in serial");
    expect_error(HEAD INJ "network: {host: h, ssh_port: 22}\n",
                 "r.yaml:4:20:", "unknown key 'ssh_port' in network");
    expect_error(HEAD INJ "mqtt: {url: \"mqtt://h\", topic: x}\n",
                 "r.yaml:4:25:", "unknown key 'topic' in mqtt");
    expect_error(HEAD INJ "commands: {reboot: x}\n",
                 "r.yaml:4:12:", "unknown key 'reboot' in commands");
    expect_error(HEAD INJ "timeouts: {dhcp_s: 3}\n",
                 "r.yaml:4:12:", "unknown key 'dhcp_s' in timeouts");
    expect_error(HEAD "serial: {inject: {path: /dev/x, slave_id: 3}}\n",
                 "r.yaml:3:33:", "unknown key 'slave_id' in serial.inject");
    expect_error(HEAD INJ "name: again\n", "r.yaml:4:1:", "key 'name' given twice");
    /* missing required keys (reported at the map that lacks them) */
    expect_error("dut: {product: p1}\n" INJ, "r.yaml:1:1:", "the rig needs 'name'");
    expect_error("name: n\n" INJ, "r.yaml:1:1:", "the rig needs 'dut'");
    expect_error(HEAD, "r.yaml:1:1:", "the rig needs 'serial'");
    expect_error("name: n\ndut: {serial: x}\n" INJ, "r.yaml:2:6:", "dut needs 'product'");
    expect_error(HEAD "serial: {console: {path: /dev/c}}\n",
                 "r.yaml:3:9:", "serial needs 'inject'");
    expect_error(HEAD "serial: {inject: {line: 9600}}\n",
                 "r.yaml:3:18:", "exactly one of 'path' or 'usb'");
    expect_error(HEAD "serial: {inject: {path: /dev/x, usb: \"0403:6001\"}}\n",
                 "r.yaml:3:38:", "exactly one of 'path' or 'usb'");
    expect_error(HEAD INJ "network: {http_port: 80}\n", "r.yaml:4:10:", "network needs 'host'");
    expect_error(HEAD INJ "mqtt: {user: u}\n", "r.yaml:4:7:", "mqtt needs 'url'");
    /* wrong types */
    expect_error("name: [a, b]\n", "r.yaml:1:7:", "name must be a single value, not a list");
    expect_error(HEAD "serial: [a]\n", "r.yaml:3:9:", "serial must be a map, not a list");
    expect_error(HEAD "serial: {inject: /dev/ttyUSB0}\n",
                 "r.yaml:3:18:", "serial.inject must be a map, not a scalar");
    expect_error(HEAD INJ "network: {host: h, modbus_port: http}\n",
                 "r.yaml:4:33:", "network.modbus_port must be an integer, not 'http'");
    expect_error(HEAD INJ "network: {host: h, http_port: 70000}\n",
                 "r.yaml:4:31:", "between 0 and 65535");
    expect_error(HEAD INJ "timeouts: {boot_s: soon}\n",
                 "r.yaml:4:20:", "timeouts.boot_s must be a time");
    expect_error(HEAD INJ "timeouts: {modbus_s: 0}\n", "r.yaml:4:22:", "more than 0 s");
    /* bad values */
    expect_error("name: n\ndut: {product: p2}\n" INJ,
                 "r.yaml:2:16:", "dut.product must be p1, tic or p1mb, not 'p2'");
    expect_error("name: n\ndut: {product: p1mb, variant: sdm120}\n" INJ,
                 "r.yaml:2:31:", "dut.variant must be pro380, acr10rh, sdm630 or xemex");
    expect_error("name: n\ndut: {product: p1, variant: sdm630}\n" INJ,
                 "r.yaml:2:29:", "dut.variant is for a p1mb only");
    expect_error(HEAD "serial: {inject: {usb: \"403:6001\"}}\n",
                 "r.yaml:3:24:", "serial.inject.usb must be \"VID:PID\" or \"VID:PID:SERIAL\"");
    expect_error(HEAD "serial: {inject: {usb: \"0403:60zz\"}}\n", "r.yaml:3:24:", "4-digit hex");
    expect_error(HEAD "serial: {inject: {path: /dev/x, line: \"9600 9X1\"}}\n",
                 "r.yaml:3:39:", "serial.inject.line:");
    expect_error(HEAD "serial: {inject: {path: /dev/x}, rs485: {path: /dev/y}}\n",
                 "r.yaml:3:41:", "serial.rs485 is for a p1mb DUT only");
    expect_error("name: n\ndut: {product: p1mb}\nserial: {inject: {path: /dev/x}, rs485: {path: "
                 "/dev/y, slave_id: 248}}\n",
                 "r.yaml:3:66:", "slave_id must be between 1 and 247");
    expect_error("name: n\ndut: {product: tic}\nserial: {inject: {path: /dev/x}, p1_out: {path: "
                 "/dev/y}}\n",
                 "r.yaml:3:42:", "serial.p1_out is for a p1 DUT only");
    expect_error(HEAD "serial: {inject: {path: /dev/x}, p1_out: {path: /dev/x}}\n",
                 "r.yaml:3:42:", "serial.p1_out uses the same adapter as serial.inject");
    expect_error(HEAD INJ "mqtt: {url: \"tcp://h:1883\"}\n",
                 "r.yaml:4:13:", "mqtt.url must start with mqtt://");
    expect_error(HEAD INJ "commands: {power_off: \"relay 1 off\"}\n",
                 "r.yaml:4:12:", "commands.power_off needs commands.power_on too");
    expect_error(HEAD INJ "commands: {button_release: x, button_press: \"\"}\n",
                 "r.yaml:4:45:", "commands.button_press is empty");
    expect_error(HEAD INJ "led_sensor: {path: /dev/x}\n",
                 "r.yaml:4:13:", "no LED sensor is supported yet");
    expect_error(HEAD INJ "---\nname: second\n", "r.yaml:5:1:", "one rig per file");
}

static void test_rig_resolve(void)
{
    /* path-only rigs resolve to themselves without touching the machine */
    CU_ASSERT_EQUAL_FATAL(parse(HEAD INJ), 0);
    CU_ASSERT_EQUAL(ml_rig_resolve(&rig, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(rig.port[ML_RIG_INJECT].path, "/dev/x");
    /* an adapter that is not plugged in: the role, the id and what is present */
    CU_ASSERT_EQUAL_FATAL(parse(HEAD "serial:\n  inject: {usb: \"fffe:fffd:NOPE\"}\n"), 0);
    CU_ASSERT_EQUAL(ml_rig_resolve(&rig, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(
        strstr(err, "r.yaml:4:11: serial.inject: no USB adapter fffe:fffd:NOPE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "present"));
}

/* lock: relative to the rig file; a second holder is refused naming the first. */
static void test_rig_lock(void)
{
    char dir[] = "/tmp/rig-lock.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char name[64], lockp[80];
    snprintf(name, sizeof name, "%s/r.yaml", dir);
    snprintf(lockp, sizeof lockp, "%s/bench.lock", dir);
    static const char text[] = "name: locked\n"
                               "dut: {product: p1, serial: SC1, firmware: 1.2.3}\n"
                               "lock: bench.lock\n"
                               "serial: {inject: {path: /dev/x}}\n";
    CU_ASSERT_EQUAL_FATAL(ml_rig_parse(name, text, strlen(text), &rig, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(rig.dut.firmware, "1.2.3");
    CU_ASSERT_STRING_EQUAL(rig.lock, "bench.lock");
    int a = ml_rig_lock(&rig, false, "test A", err, sizeof err);
    CU_ASSERT_FATAL(a >= 0);
    FILE *f = fopen(lockp, "r");
    char holder[200] = "";
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_PTR_NOT_NULL(fgets(holder, sizeof holder, f));
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "pid %ld on ", (long)getpid());
    CU_ASSERT_PTR_NOT_NULL(strstr(holder, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(holder, ": test A"));
    /* a second run (another open file description) is refused, naming the holder */
    CU_ASSERT_EQUAL(ml_rig_lock(&rig, false, "test B", err, sizeof err), -EBUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "is in use"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    ml_rig_unlock(a);
    int b = ml_rig_lock(&rig, false, "test B", err, sizeof err);
    CU_ASSERT(b >= 0);
    ml_rig_unlock(b);
    /* no lock: key: nothing to hold */
    CU_ASSERT_EQUAL_FATAL(parse(HEAD INJ), 0);
    CU_ASSERT_EQUAL(ml_rig_lock(&rig, false, "x", err, sizeof err), -ENOENT);
    unlink(lockp);
    rmdir(dir);
}

/* Command templates: placeholders checked at load time, a bounded run. */
static void test_rig_commands(void)
{
    static const char text[] =
        "name: cmd-bench\n"
        "dut: {product: p1, serial: SC9}\n"
        "serial:\n"
        "  inject: {path: /dev/pts/70}\n"
        "  console: {path: \"rfc2217://bench2:4003\", banner: \"boot:\"}\n"
        "network: {host: 10.0.0.9}\n"
        "commands:\n"
        "  power_on: \"relay {name} on\"\n"
        "  power_off: \"relay ${RELAY:-1} off\"\n"
        "  reset: \"probe --port {port} --host {host} --sn {serial} {rig_dir}\"\n"
        "  flash: \"st-flash --reset write {image} 0x8000000\"\n"
        "  timeout_s: 500ms\n";
    CU_ASSERT_EQUAL_FATAL(
        ml_rig_parse("/benches/a/r.yaml", text, strlen(text), &rig, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(rig.console_banner, "boot:");
    CU_ASSERT(ml_rig_has(&rig, ML_RIG_CAP_RESET) && ml_rig_has(&rig, ML_RIG_CAP_FLASH) &&
              ml_rig_has(&rig, ML_RIG_CAP_CONSOLE) && ml_rig_has(&rig, ML_RIG_CAP_POWER));
    CU_ASSERT_DOUBLE_EQUAL(rig.commands.timeout_s, 0.5, 1e-9);
    char out[512];
    CU_ASSERT_EQUAL(ml_rig_expand(&rig, rig.commands.reset, NULL, out, sizeof out, err, sizeof err),
                    0);
    CU_ASSERT_STRING_EQUAL(out, "probe --port rfc2217://bench2:4003 --host 10.0.0.9 --sn SC9 "
                                "/benches/a");
    CU_ASSERT_EQUAL(
        ml_rig_expand(&rig, rig.commands.flash, "b/fw.elf", out, sizeof out, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(out, "st-flash --reset write b/fw.elf 0x8000000");
    CU_ASSERT_EQUAL(
        ml_rig_expand(&rig, rig.commands.power_off, NULL, out, sizeof out, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(out, "relay ${RELAY:-1} off"); /* shell text left alone */
    /* defaults: 60 s, the image's first console line */
    CU_ASSERT_EQUAL_FATAL(parse(HEAD INJ), 0);
    CU_ASSERT_DOUBLE_EQUAL(rig.commands.timeout_s, 60, 1e-9);
    CU_ASSERT_STRING_EQUAL(rig.console_banner, "meterlab ");
    CU_ASSERT(!ml_rig_has(&rig, ML_RIG_CAP_RESET) && !ml_rig_has(&rig, ML_RIG_CAP_CONSOLE));
    /* a typo or {image} outside flash: an error at load time, line:column */
    expect_error(HEAD INJ "commands: {reset: \"probe {prot}\"}\n",
                 "r.yaml:4:19:", "commands.reset: unknown placeholder {prot} (known: image, port,");
    expect_error(HEAD INJ "commands: {reset: \"probe {image}\"}\n",
                 "r.yaml:4:19:", "{image} only in commands.flash");
    expect_error(HEAD "serial: {inject: {path: /dev/x, banner: x}}\n",
                 "r.yaml:3:33:", "unknown key 'banner' in serial.inject");

    /* a run: exit 0; a failure with its status and last output line; a timeout
     * that kills the whole process group (the sleep too) */
    CU_ASSERT_EQUAL(ml_rig_command(&rig, "reset", "true", NULL, NULL, err, sizeof err), 0);
    CU_ASSERT_EQUAL(ml_rig_command(&rig, "reset", "echo first; echo 'probe: no target' >&2; exit 3",
                                   NULL, NULL, err, sizeof err),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "commands.reset '"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "failed (exit status 3): probe: no target"));
    rig.commands.timeout_s = 0.3;
    char pidf[] = "/tmp/rig-cmd-XXXXXX";
    int fd = mkstemp(pidf);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! > %s; echo waiting; wait", pidf);
    CU_ASSERT_EQUAL(ml_rig_command(&rig, "power_on", cmd, NULL, NULL, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "did not finish within 0.3 s (commands.timeout_s); "
                                       "last output: waiting"));
    FILE *f = fopen(pidf, "r");
    long sleeper = 0;
    CU_ASSERT_FATAL(f != NULL && fscanf(f, "%ld", &sleeper) == 1);
    fclose(f);
    unlink(pidf);
    /* nothing left running (gone, or a zombie its new parent has not reaped yet) */
    char st[64], buf[256] = "";
    snprintf(st, sizeof st, "/proc/%ld/stat", sleeper);
    usleep(100000);
    f = fopen(st, "r");
    if (f != NULL) {
        CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof buf, f));
        fclose(f);
        const char *rp = strrchr(buf, ')');
        CU_ASSERT(rp != NULL && (rp[2] == 'Z' || rp[2] == 'X'));
    }
}

/* The bench's one P1MB variant table agrees with the scenarios' variant names
 * (enum p1mb_variant order) and finds names in any case. */
/* driver: qemu: paths relative to the rig file's folder, the actions it provides */
static void test_rig_qemu_driver(void)
{
    char err[512];
    const char *t = "name: q\ndut: {product: p1mb}\nserial: {inject: {path: /dev/x}}\n"
                    "driver: qemu\nqemu: {image: img/p1mb.elf, ports: ports}\n";
    CU_ASSERT_EQUAL(ml_rig_parse("benches/q.yaml", t, strlen(t), &rig, err, sizeof err), 0);
    CU_ASSERT_TRUE(rig.qemu.on);
    CU_ASSERT_STRING_EQUAL(rig.qemu.image, "benches/img/p1mb.elf");
    CU_ASSERT_STRING_EQUAL(rig.qemu.ports, "benches/ports");
    CU_ASSERT_STRING_EQUAL(rig.qemu.machine, "mps2-an386");
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_POWER));
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_RESET));
    CU_ASSERT_TRUE(ml_rig_has(&rig, ML_RIG_CAP_FLASH));
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_BUTTON));
    CU_ASSERT_EQUAL(parse("name: q\ndut: {product: p1}\nserial: {inject: {path: /dev/x}}\n"), 0);
    CU_ASSERT_FALSE(rig.qemu.on);
    CU_ASSERT_FALSE(ml_rig_has(&rig, ML_RIG_CAP_POWER));
}

static void test_rig_p1mb_variants(void)
{
    for (int i = 0; i < ML_P1MB_VARIANTS; i++) {
        CU_ASSERT_STRING_EQUAL(ml_p1mb_variants[i].name, ml_scn_variant_name(i));
        CU_ASSERT_EQUAL(ml_p1mb_variants[i].code, i + 1);
        CU_ASSERT_PTR_EQUAL(ml_p1mb_variant_by_code((uint16_t)(i + 1)), &ml_p1mb_variants[i]);
    }
    CU_ASSERT_PTR_NULL(ml_p1mb_variant_by_code(0));
    CU_ASSERT_PTR_NULL(ml_p1mb_variant_by_code(5));
    CU_ASSERT_PTR_EQUAL(ml_p1mb_variant_by_name("SDM630"), &ml_p1mb_variants[2]);
    CU_ASSERT_PTR_NULL(ml_p1mb_variant_by_name("sdm120"));
    CU_ASSERT_EQUAL(parse("name: n\ndut: {product: p1mb, variant: XEMEX}\n" INJ), 0);
    CU_ASSERT_EQUAL(rig.dut.variant_index, 3);
    CU_ASSERT_STRING_EQUAL(rig.dut.variant, "xemex");
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"good file", test_rig_good_file},
        {"defaults", test_rig_defaults},
        {"rigs/example-bench.yaml loads", test_rig_example_bench_loads},
        {"docs/hil.md P1MB example", test_rig_docs_p1mb_example},
        {"missing file", test_rig_load_missing_file},
        {"every error class with line:column", test_rig_errors},
        {"resolve: path kept, missing USB adapter named", test_rig_resolve},
        {"lock: second holder refused with the first named", test_rig_lock},
        {"commands: placeholders, failure, timeout kills the group", test_rig_commands},
        {"P1MB variants: one table, same order as the scenarios'", test_rig_p1mb_variants},
        {"driver: qemu: relative paths, the actions it gives", test_rig_qemu_driver},
    };
    return ml_test_run("rig", cases, sizeof cases / sizeof cases[0], NULL, NULL);
}
