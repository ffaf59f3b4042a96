/*
 * The Smart Connect target image (smart_connect_p1.elf, Cortex-M port with the
 * ESP-AT client on UART4) in QEMU, driven through the real `meterlab device
 * --target qemu`, whose ESP-AT emulator carries the image's TCP servers and
 * MQTT to host sockets. Observed from outside with real peers:
 * - a DSMR 5 telegram into the P1-in pty; libmodbus (Modbus TCP) reads the
 *   EMPro registers (same values as tests/integration/smart_connect);
 * - curl: GET /api/v1/status, PATCH /api/v1/config (MQTT on, the test's
 *   broker) and POST /api/v1/reset: the image reboots (the config survives in
 *   the emulated flash), connects to the mosquitto broker the test started,
 *   and publishes power_instant (P = 1193 W) for the next telegram.
 * - curl: signed firmware upload (meterlab fw-sign with the target build's
 *   development key): accepted and booted in trial after a reset; a flipped
 *   signature bit and another key's image are refused with the pending image
 *   kept (the Ed25519 verifier running as Cortex-M4 code).
 * Registered in the target build as qemu.smart_connect (tests/target). Skips
 * (77) when the image is missing (without ML_QEMU_REQUIRED) or when meterlab
 * was built without the AT emulator.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <modbus.h> /* libmodbus */
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ml_broker.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"
#include "qemu_dev.h"

static uint8_t *tel;
static size_t tel_len;
static struct ml_broker broker;
static struct ml_mqtt_sub *sub;
static int skip_no_emu;
static char cacert[512]; /* the module's certificate (banner): curl trusts only it */

/* After qd_start(): the certificate the banner names. */
static void read_cacert(void)
{
    qd_after("  certificate ", cacert, sizeof cacert);
    CU_ASSERT(cacert[0] == '/' && access(cacert, R_OK) == 0);
}

/* Run `curl -s -m 5 -u user:@p password -w ' HTTP<code>' <the rest from @p fmt>`;
 * its output (body, then " HTTP" and the code) into @p out. @return exit status. */
static int curl(char *out, size_t cap, const char *password, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int curl(char *out, size_t cap, const char *password, const char *fmt, ...)
{
    char cmd[1024];
    int n =
        snprintf(cmd, sizeof cmd, "curl -s -m 5 --cacert '%s' -u user:%s -w ' HTTP%%{http_code}' ",
                 cacert, password);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        return -1;
    }
    size_t got = fread(out, 1, cap - 1, f);
    out[got] = '\0';
    return pclose(f);
}

static uint8_t *tel30; /* DSMR 3.0: no meter timestamp */
static size_t tel30_len;

static void feed_bytes(const uint8_t *b, size_t n)
{
    char p1_path[128];
    qd_after("  P1 in ", p1_path, sizeof p1_path);
    int p1 = open(p1_path, O_WRONLY | O_NOCTTY);
    CU_ASSERT_FATAL(p1 >= 0);
    CU_ASSERT_EQUAL((size_t)write(p1, b, n), n);
    close(p1);
}

static void feed(void)
{
    feed_bytes(tel, tel_len);
}

/* Feed telegram @p b, then wait up to 5 s for a message on @p topic (a part of the
 * topic unless @p exact) into @p m. @return 1 when one came. */
static int feed_bytes_and_wait(const uint8_t *b, size_t n, const char *topic, int exact,
                               struct ml_mqtt_msg *m)
{
    ml_mqtt_sub_clear(sub);
    feed_bytes(b, n);
    for (int i = 0; i < 500; i++) {
        size_t n_msg = ml_mqtt_sub_count(sub);
        for (size_t k = 0; k < n_msg; k++) {
            if (ml_mqtt_sub_get(sub, k, m) &&
                (exact ? strcmp(m->topic, topic) == 0 : strstr(m->topic, topic) != NULL)) {
                return 1;
            }
        }
        usleep(10000);
    }
    return 0;
}

/* feed_bytes_and_wait() with the DSMR 5 telegram. */
static int feed_and_wait(const char *topic, int exact, struct ml_mqtt_msg *m)
{
    return feed_bytes_and_wait(tel, tel_len, topic, exact, m);
}

static float rd_float_cdab(modbus_t *mb, int addr)
{
    uint16_t r[2] = {0xDEAD, 0xBEEF};
    CU_ASSERT_EQUAL(modbus_read_registers(mb, addr, 2, r), 2);
    return modbus_get_float_cdab(r);
}

static void test_sc_p1_in_qemu(void)
{
    double t0 = qd_now_s();
    char *argv[] = {ML_METERLAB,     "device", "--target",    "qemu", "--product",    "p1",
                    "--modbus-port", "0",      "--http-port", "0",    "--https-port", "0",
                    "--p1-out",      "none",   NULL};
    if (!qd_start(argv, 15.0, "without the ESP-AT emulator")) {
        fprintf(stderr, "\nqemu.smart_connect: %s", qd_seen());
        skip_no_emu = 1;
        return;
    }
    printf("\n  booted in %.2f s\n", qd_now_s() - t0);
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "meterlab device: Smart P1/A1 Connect (qemu"));
    read_cacert();
    char mbs[16], https[16];
    qd_after("  Modbus TCP     port", mbs, sizeof mbs);
    const char *h = strstr(qd_seen(), "@127.0.0.1:");
    snprintf(https, sizeof https, "%d", h != NULL ? atoi(h + 11) : 0);
    int mb_port = atoi(mbs), http_port = atoi(https);
    CU_ASSERT_FATAL(mb_port > 0 && http_port > 0);

    /* Modbus TCP through the co-processor */
    modbus_t *mb = modbus_new_tcp("127.0.0.1", mb_port);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    modbus_set_response_timeout(mb, 2, 0);
    int connected = -1;
    for (int i = 0; i < 50 && connected != 0; i++) { /* the server opens once the AT link is up */
        connected = modbus_connect(mb);
        if (connected == 0) {
            uint16_t r[2];
            if (modbus_read_registers(mb, 0x8006, 2, r) != 2) {
                modbus_close(mb);
                connected = -1;
            }
        }
        if (connected != 0) {
            usleep(100000);
        }
    }
    CU_ASSERT_EQUAL_FATAL(connected, 0);
    CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb, 0x8006), 0.0, 1e-9); /* no telegram yet */
    feed();
    CU_ASSERT(qd_wait_for("telegrams: 1 ok, 0 crc/checksum fail", 5.0));
    CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb, 0x8006), 220.1, 1e-3);  /* U L1 */
    CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb, 0x8016), 1193.0, 1e-3); /* P total, W */
    CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb, 0x8100), 246913578.0, 16.0);
    modbus_close(mb);
    modbus_free(mb);
    printf("  Modbus TCP checked at %.2f s\n", qd_now_s() - t0);

    /* HTTP: status, then MQTT on (the test's broker) and a reboot */
    char out[8192];
    CU_ASSERT_EQUAL(
        curl(out, sizeof out, "qemu0001", "https://127.0.0.1:%d/api/v1/status", http_port), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Serial\":\"MPS2AN386-000001\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"TelegramsPass\":1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP200"));
    CU_ASSERT_EQUAL(
        curl(out, sizeof out, "wrongpw", "https://127.0.0.1:%d/api/v1/status", http_port), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP401"));
    /* issue 19 #3 on the target: the module's SSL server (AT+CIPSERVER=1,443,"SSL") serves
     * the image's page and API with the module's certificate (CN/SAN = the device's host
     * name); the image's plain port serves only the landing page */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%d -servername smart-connect-mps2an386-000001 "
             "-CAfile '%s' -verify_hostname smart-connect-mps2an386-000001 "
             "-verify_return_error -brief </dev/null 2>&1",
             http_port, cacert);
    FILE *sc = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    size_t sn = fread(out, 1, sizeof out - 1, sc);
    out[sn] = '\0';
    pclose(sc);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "Verification: OK"));
    static const char plain_at[] = "HTTP           http://127.0.0.1:";
    const char *pl = strstr(qd_seen(), plain_at);
    int plain_port = pl != NULL ? atoi(pl + sizeof plain_at - 1) : 0;
    CU_ASSERT_FATAL(plain_port > 0);
    curl(out, sizeof out, "qemu0001", "http://127.0.0.1:%d/api/v1/status", plain_port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP403"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "HTTPS only"));
    CU_ASSERT_PTR_NULL(strstr(out, "Serial"));
    curl(out, sizeof out, "qemu0001", "http://127.0.0.1:%d/", plain_port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP200"));
    /* on the device port 443: no port in the link (QEMU's host port differs) */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "href=\"https://127.0.0.1/\""));
    CU_ASSERT_PTR_NULL(strstr(out, "<form"));
    /* the login back-off counts per client address on the device too (+LINK_CONN):
     * 127.0.0.2 guessing is locked out, 127.0.0.1 is not (docs/security.md) */
    for (int i = 0; i < 5; i++) {
        curl(out, sizeof out, "wrongpw", "--interface 127.0.0.2 https://127.0.0.1:%d/api/v1/status",
             http_port);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP401"));
    }
    curl(out, sizeof out, "qemu0001", "--interface 127.0.0.2 https://127.0.0.1:%d/api/v1/status",
         http_port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP429"));
    curl(out, sizeof out, "qemu0001", "https://127.0.0.1:%d/api/v1/status", http_port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP200"));
    if (sub == NULL) {
        CU_FAIL("no broker/subscriber: MQTT part not run");
        return;
    }
    CU_ASSERT_EQUAL(curl(out, sizeof out, "qemu0001",
                         "-X PATCH -H 'Content-Type: application/json' -d "
                         "'{\"MQTT\":{\"Enable\":true,\"Broker\":\"%s\"}}' "
                         "https://127.0.0.1:%d/api/v1/config",
                         broker.url, http_port),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP200"));
    /* the image drains its output through the module before it resets (cm_net_drain):
     * the client gets the whole answer, then the reboot */
    CU_ASSERT_EQUAL(
        curl(out, sizeof out, "qemu0001",
             "-X POST -H 'Content-Type: application/json' https://127.0.0.1:%d/api/v1/reset",
             http_port),
        0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"Reset\":true}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP202"));
    CU_ASSERT(qd_wait_for("rebooted (reset soft)", 10.0));
    int mqtt_up = qd_wait_for("MQTT: connected", 15.0);
    CU_ASSERT(mqtt_up);
    printf("  MQTT connected at %.2f s\n", qd_now_s() - t0);
    if (mqtt_up) {
        struct ml_mqtt_msg m;
        int got = feed_and_wait("MPS2AN386-000001/data/power_instant", 0, &m);
        CU_ASSERT(got);
        if (got) {
            const char *p = strstr(m.payload, "\"P\":");
            CU_ASSERT_PTR_NOT_NULL(p);
            CU_ASSERT(p != NULL && atof(p + 4) > 1192.999 && atof(p + 4) < 1193.001);
            /* no reactive data: S = |P| = 1193 VA, PF = sign(P) = 1 (products.md) */
            CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "\"S\":1193,"));
            CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "\"PF\":1,"));
            CU_ASSERT_PTR_NOT_NULL(strstr(m.payload, "\"ts\":1291890620,")); /* the meter's */
        }
        printf("  power_instant published at %.2f s\n", qd_now_s() - t0);
        /* a telegram without a timestamp: ts from the image's clock (SNTP through the
         * co-processor; the emulator answers with the host's clock) */
        got = feed_bytes_and_wait(tel30, tel30_len, "MPS2AN386-000001/data/power_instant", 0, &m);
        CU_ASSERT(got);
        if (got) {
            const char *ts = strstr(m.payload, "\"ts\":");
            long long now = (long long)time(NULL);
            long long v = ts != NULL ? atoll(ts + 5) : 0;
            if (ts == NULL || v < now - 120 || v > now + 5) {
                fprintf(stderr, "\n  ts %lld, host clock %lld: %.200s\n", v, now, m.payload);
            }
            CU_ASSERT(ts != NULL && v >= now - 120 && v <= now + 5);
        }

        /* meter lost: 30 s after that telegram the instantaneous values read 0 and the
         * energy keeps its value (products.md "Meter loss"); polled, bounded */
        char mbs[16];
        qd_after("  Modbus TCP     port", mbs, sizeof mbs);
        modbus_t *mb2 = modbus_new_tcp("127.0.0.1", atoi(mbs));
        CU_ASSERT_PTR_NOT_NULL_FATAL(mb2);
        modbus_set_response_timeout(mb2, 2, 0);
        CU_ASSERT_EQUAL_FATAL(modbus_connect(mb2), 0);
        CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb2, 0x8016), 1190.0, 1e-3); /* live: 1.19 kW */
        double t_tel = qd_now_s();
        float p_lost = -1.0f;
        while (qd_now_s() - t_tel < 45.0) {
            sleep(1);
            p_lost = rd_float_cdab(mb2, 0x8016);
            if (p_lost == 0.0f) {
                break;
            }
        }
        double lost_after = qd_now_s() - t_tel;
        printf("  meter lost after %.1f s\n", lost_after);
        CU_ASSERT_DOUBLE_EQUAL(p_lost, 0.0, 1e-9);
        CU_ASSERT(lost_after > 28.0); /* not before the no-meter timeout */
        CU_ASSERT_DOUBLE_EQUAL(rd_float_cdab(mb2, 0x8100), 24691356.0, 2.0); /* Wh kept */
        modbus_close(mb2);
        modbus_free(mb2);
    }

    qd_stop();
    if (CU_get_number_of_failures() > 0) {
        qd_dump_on_failure();
        ml_broker_dump_log(&broker);
    }
}

/* Like the sim: --mqtt/--mqtt-site/--meter-type seed the image's empty store
 * (meterlab PATCHes it and resets the image before printing the banner). */
static void test_sc_seeded_config(void)
{
    if (skip_no_emu || sub == NULL) {
        return;
    }
    char *argv[] = {ML_METERLAB,   "device", "--target",      "qemu",
                    "--product",   "p1",     "--modbus-port", "0",
                    "--http-port", "0",      "--https-port",  "0",
                    "--p1-out",    "none",   "--mqtt",        broker.url,
                    "--mqtt-site", "qtest",  "--meter-type",  "Eastron-SDM630",
                    NULL};
    qd_start(argv, 20.0, NULL);
    read_cacert();
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "template Eastron-SDM630"));
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "(site 'qtest')"));
    CU_ASSERT_PTR_NOT_NULL(strstr(qd_seen(), "saved configuration (store)"));
    CU_ASSERT(qd_wait_for("MQTT: connected", 15.0));
    struct ml_mqtt_msg m;
    CU_ASSERT(
        feed_and_wait("devices/qtest/smart-connect/MPS2AN386-000001/data/power_instant", 1, &m));
    qd_stop();
    qd_dump_on_failure();
}

/* Wait (real time, @p secs) for a command result on @p s whose payload holds
 * @p want; @return 1 when one came. */
static int wait_result_with(struct ml_mqtt_sub *s, const char *want, double secs)
{
    for (double end = qd_now_s() + secs; qd_now_s() < end;) {
        for (size_t k = 0; k < ml_mqtt_sub_count(s); k++) {
            struct ml_mqtt_msg m;
            if (ml_mqtt_sub_get(s, k, &m) && strstr(m.payload, want) != NULL) {
                return 1;
            }
        }
        usleep(20000);
    }
    return 0;
}

/*
 * MQTT remote commands on the Cortex-M4 image (AT+MQTTSUB / +MQTTSUBRECV through
 * the ESP-AT emulator) with a TLS broker (mqtts://, the co-processor verifies it
 * with the test CA): an unknown command is answered error, reset is answered
 * rebooting with its id, the image reboots (soft) and answers ok once back.
 */
static void test_sc_mqtt_cmd_reset_in_qemu(void)
{
    if (skip_no_emu) {
        return;
    }
    struct ml_broker tb;
    struct ml_broker_opts o = {.tls = true};
    CU_ASSERT_EQUAL_FATAL(ml_broker_start(&tb, &o), 0);
    struct ml_mqtt_sub *rs =
        ml_mqtt_sub_start(tb.obs_port, "devices/qcmd/smart-connect/+/cmd/+/result", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    char *argv[] = {ML_METERLAB, "device",        "--target", "qemu",        "--product",
                    "p1",        "--modbus-port", "0",        "--http-port", "0",
                    "--p1-out",  "none",          "--mqtt",   tb.url,        "--mqtt-site",
                    "qcmd",      "--mqtt-ca",     tb.ca_file, NULL};
    qd_start(argv, 20.0, NULL);
    CU_ASSERT_FATAL(qd_wait_for("MQTT: connected", 15.0));
    char cmd[512];
    const char *base = "devices/qcmd/smart-connect/MPS2AN386-000001/cmd";
    /* the image subscribes after its connect: probe until it answers */
    int ready = 0;
    for (int i = 0; i < 40 && !ready; i++) {
        snprintf(cmd, sizeof cmd, "mosquitto_pub -p %u -t '%s/probe' -m '{}'", tb.obs_port, base);
        CU_ASSERT_EQUAL(system(cmd), 0);
        ready = wait_result_with(rs, "unknown command", 0.5);
    }
    CU_ASSERT_FATAL(ready);
    snprintf(cmd, sizeof cmd, "mosquitto_pub -p %u -t '%s/reset' -m '{\"id\":\"q1\"}'", tb.obs_port,
             base);
    CU_ASSERT_EQUAL(system(cmd), 0);
    CU_ASSERT(wait_result_with(rs, "{\"id\":\"q1\",\"state\":\"rebooting\"}", 10.0));
    CU_ASSERT(qd_wait_for("rebooted (reset soft)", 10.0));
    CU_ASSERT(qd_wait_for("MQTT: connected", 20.0));
    CU_ASSERT(wait_result_with(rs, "{\"id\":\"q1\",\"state\":\"ok\",\"version\":", 15.0));
    qd_stop();
    if (CU_get_number_of_failures() > 0) {
        qd_dump_on_failure();
        ml_broker_dump_log(&tb);
    }
    ml_mqtt_sub_stop(rs);
    ml_broker_destroy(&tb);
}

/* Sign @p payload_file as @p version with @p key into @p img (meterlab fw-sign). */
static int fw_sign(const char *key, const char *version, const char *payload_file, const char *img)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' fw-sign sign --key '%s' --fw-version %s --out '%s' '%s' >/dev/null", ML_METERLAB,
             key, version, img, payload_file);
    return system(cmd);
}

static void test_sc_signed_firmware_in_qemu(void)
{
    if (skip_no_emu) {
        return;
    }
    const char *key = getenv("ML_FW_DEV_KEY");
    if (key == NULL || key[0] == '\0') {
        CU_FAIL("ML_FW_DEV_KEY (the target build's signing key) is not set");
        return;
    }
    char dir[] = "/tmp/ml-qemu-fw-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char pl[64], good[64], bad[64], other_key[64], other[64], cmd[512];
    snprintf(pl, sizeof pl, "%s/payload", dir);
    snprintf(good, sizeof good, "%s/good.img", dir);
    snprintf(bad, sizeof bad, "%s/bad.img", dir);
    snprintf(other_key, sizeof other_key, "%s/other.pem", dir);
    snprintf(other, sizeof other, "%s/other.img", dir);
    FILE *f = fopen(pl, "wb");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 6000; i++) {
        fputc((i * 7) & 0xFF, f);
    }
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(fw_sign(key, "2.0.0", pl, good), 0);
    snprintf(cmd, sizeof cmd,
             "cp %s %s && printf '\\001' | dd of=%s bs=1 seek=90 conv=notrunc 2>/dev/null", good,
             bad, bad);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "'%s' fw-sign keygen --out %s >/dev/null", ML_METERLAB, other_key);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    CU_ASSERT_EQUAL_FATAL(fw_sign(other_key, "6.6.6", pl, other), 0);

    char *argv[] = {ML_METERLAB,     "device", "--target",    "qemu", "--product",    "p1",
                    "--modbus-port", "0",      "--http-port", "0",    "--https-port", "0",
                    "--p1-out",      "none",   NULL};
    CU_ASSERT_FATAL(qd_start(argv, 15.0, NULL));
    read_cacert();
    const char *h = strstr(qd_seen(), "@127.0.0.1:");
    int port = h != NULL ? atoi(h + 11) : 0;
    CU_ASSERT_FATAL(port > 0);
    char out[8192] = "";
    for (int i = 0; i < 50 && strstr(out, " HTTP200") == NULL; i++) { /* until the AT link is up */
        curl(out, sizeof out, "qemu0001", "https://127.0.0.1:%d/api/v1/firmware", port);
        if (strstr(out, " HTTP200") == NULL) {
            usleep(100000);
        }
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Slot\":\"factory\""));
#define UPLOAD                                                                                     \
    "-H 'Content-Type: application/octet-stream' --data-binary @%s "                               \
    "https://127.0.0.1:%d/api/v1/firmware"
    curl(out, sizeof out, "qemu0001", UPLOAD, good, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP202"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Pending\":{\"Slot\":\"A\",\"Version\":\"2.0.0\"}"));
    curl(out, sizeof out, "qemu0001", UPLOAD, bad, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP400"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "bad image signature"));
    curl(out, sizeof out, "qemu0001", UPLOAD, other, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP400"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "another key"));
    curl(out, sizeof out, "qemu0001", "https://127.0.0.1:%d/api/v1/firmware", port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Pending\":{\"Slot\":\"A\",\"Version\":\"2.0.0\"}"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(out, "\"Slot\":\"factory\"")); /* still running the factory image */
    curl(out, sizeof out, "qemu0001",
         "-X POST -H 'Content-Type: application/json' https://127.0.0.1:%d/api/v1/reset", port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP202"));
    CU_ASSERT(qd_wait_for("rebooted (reset soft)", 10.0));
    out[0] = '\0';
    for (int i = 0; i < 50 && strstr(out, " HTTP200") == NULL; i++) {
        curl(out, sizeof out, "qemu0001", "https://127.0.0.1:%d/api/v1/firmware", port);
        if (strstr(out, " HTTP200") == NULL) {
            usleep(100000);
        }
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Version\":\"2.0.0\",\"Slot\":\"A\",\"State\":\"trial\""));
    if (CU_get_number_of_failures() > 0) {
        fprintf(stderr, "\n  last answer: %s\n", out);
    }
    qd_stop();
    qd_dump_on_failure();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* Python's http.server on a free loopback port serving @p dir; @return its pid
 * (port in @p port) or -1. */
static pid_t http_serve(const char *dir, uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    *port = ntohs(sa.sin_port);
    close(fd);
    char ps[8];
    snprintf(ps, sizeof ps, "%u", *port);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir,
               ps, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* until it accepts (bounded: 10 s) */
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sa.sin_port = htons(*port);
        int ok = connect(c, (struct sockaddr *)&sa, sizeof sa);
        close(c);
        if (ok == 0) {
            return pid;
        }
        usleep(20000);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

/* GET /api/v1/firmware over HTTPS until it answers 200 (the AT link comes up after a
 * boot), into @p out. */
static void get_firmware(char *out, size_t cap, int port)
{
    out[0] = '\0';
    for (int i = 0; i < 100 && strstr(out, " HTTP200") == NULL; i++) {
        curl(out, cap, "qemu0001", "https://127.0.0.1:%d/api/v1/firmware", port);
        if (strstr(out, " HTTP200") == NULL) {
            usleep(100000);
        }
    }
}

/*
 * The MQTT command firmware on the Cortex-M4 image (issue 20 item 8): the image
 * downloads from a local HTTP server through the co-processor's client connection
 * (AT+CIPSTART, passive receive), over a TLS broker. A flipped signature bit is
 * answered "error" naming the signature, nothing installed, no reboot; a good
 * signed image goes accepted, downloading, verifying, rebooting, boots in trial
 * (the HTTPS API shows it); a reset before the trial confirmed itself rolls back
 * and the image reports "rolled_back" for the command once it is back on the broker.
 */
static void test_sc_mqtt_cmd_firmware_in_qemu(void)
{
    if (skip_no_emu) {
        return;
    }
    const char *key = getenv("ML_FW_DEV_KEY");
    if (key == NULL || key[0] == '\0') {
        CU_FAIL("ML_FW_DEV_KEY (the target build's signing key) is not set");
        return;
    }
    char dir[] = "/tmp/ml-qemu-fwcmd-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char pl[64], good[64], bad[64], cmd[1024];
    snprintf(pl, sizeof pl, "%s/payload", dir);
    snprintf(good, sizeof good, "%s/good.img", dir);
    snprintf(bad, sizeof bad, "%s/bad.img", dir);
    FILE *f = fopen(pl, "wb");
    CU_ASSERT_FATAL(f != NULL);
    for (int i = 0; i < 6000; i++) {
        fputc((i * 11) & 0xFF, f);
    }
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(fw_sign(key, "3.1.0", pl, good), 0);
    snprintf(cmd, sizeof cmd,
             "cp %s %s && printf '\\001' | dd of=%s bs=1 seek=90 conv=notrunc 2>/dev/null", good,
             bad, bad);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    uint16_t hport = 0;
    pid_t http = http_serve(dir, &hport);
    CU_ASSERT_FATAL(http > 0);

    struct ml_broker tb;
    struct ml_broker_opts o = {.tls = true};
    CU_ASSERT_EQUAL_FATAL(ml_broker_start(&tb, &o), 0);
    struct ml_mqtt_sub *rs =
        ml_mqtt_sub_start(tb.obs_port, "devices/qfw/smart-connect/+/cmd/+/result", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rs);
    char *argv[] = {ML_METERLAB,     "device",   "--target",    "qemu", "--product",    "p1",
                    "--modbus-port", "0",        "--http-port", "0",    "--https-port", "0",
                    "--p1-out",      "none",     "--mqtt",      tb.url, "--mqtt-site",  "qfw",
                    "--mqtt-ca",     tb.ca_file, NULL};
    double t0 = qd_now_s();
    qd_start(argv, 20.0, NULL);
    read_cacert();
    const char *h = strstr(qd_seen(), "@127.0.0.1:");
    int port = h != NULL ? atoi(h + 11) : 0;
    CU_ASSERT_FATAL(port > 0);
    CU_ASSERT_FATAL(qd_wait_for("MQTT: connected", 15.0));
    const char *base = "devices/qfw/smart-connect/MPS2AN386-000001/cmd";
    int ready = 0;
    for (int i = 0; i < 40 && !ready; i++) { /* the image subscribes after its connect */
        snprintf(cmd, sizeof cmd, "mosquitto_pub -p %u -t '%s/probe' -m '{}'", tb.obs_port, base);
        CU_ASSERT_EQUAL(system(cmd), 0);
        ready = wait_result_with(rs, "unknown command", 0.5);
    }
    CU_ASSERT_FATAL(ready);

    /* a bad signature: refused, nothing installed, no reboot */
    snprintf(cmd, sizeof cmd,
             "mosquitto_pub -p %u -t '%s/firmware' -m "
             "'{\"id\":\"fb\",\"url\":\"http://127.0.0.1:%u/bad.img\"}'",
             tb.obs_port, base, hport);
    CU_ASSERT_EQUAL(system(cmd), 0);
    CU_ASSERT(wait_result_with(rs, "{\"id\":\"fb\",\"state\":\"downloading\"}", 10.0));
    CU_ASSERT(wait_result_with(
        rs, "{\"id\":\"fb\",\"state\":\"error\",\"reason\":\"bad image signature\"}", 15.0));
    char out[8192];
    get_firmware(out, sizeof out, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Slot\":\"factory\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Pending\":null"));
    CU_ASSERT_PTR_NULL(strstr(qd_seen(), "rebooted"));
    printf("\n  bad signature refused at %.2f s\n", qd_now_s() - t0);

    /* a good image: downloaded, verified, trial boot */
    snprintf(cmd, sizeof cmd,
             "mosquitto_pub -p %u -t '%s/firmware' -m "
             "'{\"id\":\"fg\",\"url\":\"http://127.0.0.1:%u/good.img\",\"version\":\"3.1.0\"}'",
             tb.obs_port, base, hport);
    CU_ASSERT_EQUAL(system(cmd), 0);
    static const char *const states[] = {"accepted", "downloading", "verifying", "rebooting"};
    for (size_t i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"id\":\"fg\",\"state\":\"%s\"}", states[i]);
        CU_ASSERT(wait_result_with(rs, want, 15.0));
    }
    CU_ASSERT(qd_wait_for("rebooted (reset soft)", 10.0));
    printf("  good image downloaded and rebooting at %.2f s\n", qd_now_s() - t0);
    get_firmware(out, sizeof out, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Version\":\"3.1.0\",\"Slot\":\"A\",\"State\":\"trial\""));
    /* reset before the trial confirmed itself (60 s): rollback, reported on MQTT */
    curl(out, sizeof out, "qemu0001",
         "-X POST -H 'Content-Type: application/json' https://127.0.0.1:%d/api/v1/reset", port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, " HTTP202"));
    CU_ASSERT(qd_wait_for("rebooted (reset soft)", 10.0));
    CU_ASSERT(qd_wait_for("MQTT: connected", 20.0));
    CU_ASSERT(wait_result_with(rs, "{\"id\":\"fg\",\"state\":\"rolled_back\",\"version\":", 15.0));
    get_firmware(out, sizeof out, port);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"Slot\":\"factory\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"LastResult\":\"rolled back\""));
    printf("  rolled back and reported at %.2f s\n", qd_now_s() - t0);
    if (CU_get_number_of_failures() > 0) {
        fprintf(stderr, "\n  last answer: %s\n", out);
    }
    qd_stop();
    if (CU_get_number_of_failures() > 0) {
        qd_dump_on_failure();
        ml_broker_dump_log(&tb);
    }
    ml_mqtt_sub_stop(rs);
    ml_broker_destroy(&tb);
    kill(http, SIGTERM);
    waitpid(http, NULL, 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

int main(void)
{
    int no_image = qd_init("qemu.smart_connect", "smart_connect_p1.elf");
    if (no_image != 0) {
        return no_image;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    tel = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel_len);
    tel30 = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr30_iskra_mt382.txt", &tel30_len);
    CU_cleanup_registry();
    if (tel == NULL || tel30 == NULL) {
        return 1;
    }
    if (ml_broker_start(&broker, NULL) == 0) {
        sub = ml_mqtt_sub_start(broker.obs_port, "devices/#", 10000);
    }
    static const struct ml_test_case cases[] = {
        {"test_sc_p1_in_qemu", test_sc_p1_in_qemu},
        {"test_sc_seeded_config", test_sc_seeded_config},
        {"test_sc_signed_firmware_in_qemu", test_sc_signed_firmware_in_qemu},
        {"test_sc_mqtt_cmd_reset_in_qemu", test_sc_mqtt_cmd_reset_in_qemu},
        {"test_sc_mqtt_cmd_firmware_in_qemu", test_sc_mqtt_cmd_firmware_in_qemu},
    };
    int rc = ml_test_run("qemu_sc", cases, sizeof cases / sizeof cases[0], NULL, NULL);
    qd_cleanup();
    ml_mqtt_sub_stop(sub);
    ml_broker_stop(&broker);
    ml_broker_destroy(&broker);
    free(tel);
    free(tel30);
    if (skip_no_emu) {
        return QD_SKIP;
    }
    return rc;
}
