/*
 * MQTT remote commands of the Smart Connect (docs/mqtt.md "Remote commands"),
 * through real peers: a mosquitto broker with a mutual-TLS listener (openssl
 * certificates, tests/support/ml_broker), commands sent with the mosquitto_pub
 * CLI on the broker's plain observer port, results read by an independent
 * libmosquitto subscriber, firmware images signed by `meterlab fw-sign` with the
 * build's development key and served by Python's http.server, the firmware
 * state read back with curl from GET /api/v1/firmware.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ml_broker.h"
#include "ml_devices.h"
#include "ml_mqtt_sub.h"
#include "ml_test.h"

#define SERIAL "SC55500011"
#define BASE   "devices/lab/smart-connect/" SERIAL

static struct ml_broker tls_broker;   /* mutual TLS, like the product's broker */
static struct ml_broker plain_broker; /* mqtt:// without TLS */
static char tmpdir[128];
static pid_t http_pid = -1;
static uint16_t http_port;
static bool tls_down;               /* the trial case stopped the TLS broker */
static struct ml_mqtt_sub *cur_sub; /* the case's results subscriber */

/* ------------------------------------------------------------------------- */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------- */

/* The device's HTTPS key and certificate (made at its first start, kept for the run). */
static char https_dir[160];

static void set_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    CU_ASSERT_FATAL(n < cap);
    memcpy(dst, src, n + 1);
}

static void start_device(const struct ml_broker *b, bool tls)
{
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.modbus_port = 0;
    s.http_port = 0;
    s.https_port = 0; /* the API is on HTTPS: curl trusts the device's certificate */
    s.mqtt_enabled = true;
    set_str(s.mqtt_url, sizeof s.mqtt_url, b->url);
    if (tls) {
        set_str(s.mqtt_ca_file, sizeof s.mqtt_ca_file, b->ca_file);
        set_str(s.mqtt_cert_file, sizeof s.mqtt_cert_file, b->client_cert);
        set_str(s.mqtt_key_file, sizeof s.mqtt_key_file, b->client_key);
    }
    set_str(s.mqtt_site, sizeof s.mqtt_site, "lab");
    if (https_dir[0] == '\0') {
        snprintf(https_dir, sizeof https_dir, "%s/https", tmpdir);
        CU_ASSERT_EQUAL_FATAL(mkdir(https_dir, 0700), 0);
    }
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = "abcd2345",
                             .tls_dir = https_dir};
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&s, &cfg), 0);
    sim_advance_ms(1000); /* DHCP lease, then the MQTT connect starts */
}

/* Wait (real time, bounded) until the device is connected, moving virtual time
 * 1 s at a time so that a back-off attempt comes due. */
static bool wait_connected(void)
{
    for (int step = 0; step < 90; step++) {
        for (int i = 0; i < 50; i++) {
            sim_wait_idle();
            if (ml_dev_sc_app()->status.mqtt == HAL_MQTT_CONNECTED) {
                sim_wait_idle(); /* the pass that subscribes */
                return true;
            }
            usleep(10000);
        }
        sim_advance_ms(1000);
    }
    return false;
}

/* Send a command with the mosquitto_pub CLI on the broker's plain observer port. */
static void send_cmd(const struct ml_broker *b, const char *name, const char *json)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mosquitto_pub -h 127.0.0.1 -p %u -t '" BASE "/cmd/%s' -m '%s'",
             b->obs_port, name, json);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
}

/*
 * Wait for the result of command @p name in state @p state (real time, the
 * device's loop driven with sim_wait_idle()); @return the JSON (cJSON_Delete it)
 * or NULL. Results before it are skipped, so states can be awaited in order.
 */
static cJSON *wait_result(struct ml_mqtt_sub *sub, size_t *from, const char *name,
                          const char *state)
{
    char topic[160];
    snprintf(topic, sizeof topic, BASE "/cmd/%s/result", name);
    for (int i = 0; i < 1000; i++) {
        sim_wait_idle();
        for (; *from < ml_mqtt_sub_count(sub); (*from)++) {
            struct ml_mqtt_msg m;
            ml_mqtt_sub_get(sub, *from, &m);
            if (strcmp(m.topic, topic) != 0) {
                continue;
            }
            cJSON *o = cJSON_Parse(m.payload);
            CU_ASSERT_PTR_NOT_NULL_FATAL(o);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "state");
            CU_ASSERT_FATAL(cJSON_IsString(st));
            if (strcmp(st->valuestring, state) == 0) {
                (*from)++;
                return o;
            }
            cJSON_Delete(o);
        }
        usleep(10000);
    }
    printf("\n  no '%s' result for %s\n", state, name);
    if (getenv("ML_BROKER_LOG") != NULL) {
        ml_broker_dump_log(&tls_broker);
        ml_broker_dump_log(&plain_broker);
    }
    return NULL;
}

/*
 * The device subscribes after its connect; when the SUBSCRIBE reaches the broker
 * is up to the network. Send an unknown command ("probe") until its answer
 * comes back: then commands are delivered. @p from is set past it.
 */
static bool wait_commands_ready(const struct ml_broker *b, struct ml_mqtt_sub *sub, size_t *from)
{
    for (int tries = 0; tries < 50; tries++) {
        send_cmd(b, "probe", "{}");
        for (int i = 0; i < 20; i++) {
            sim_wait_idle();
            for (; *from < ml_mqtt_sub_count(sub); (*from)++) {
                struct ml_mqtt_msg m;
                ml_mqtt_sub_get(sub, *from, &m);
                if (strcmp(m.topic, BASE "/cmd/probe/result") == 0) {
                    sim_wait_idle();
                    usleep(200000); /* answers to earlier probes: let them arrive */
                    *from = ml_mqtt_sub_count(sub);
                    return true;
                }
            }
            usleep(10000);
        }
    }
    return false;
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* GET /api/v1/firmware with curl: Version, State, LastResult, Pending (null or its version). */
static cJSON *get_firmware(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 --cacert %s/https_cert.pem -u 'user:abcd2345' "
             "'https://127.0.0.1:%u/api/v1/firmware'",
             https_dir, ml_dev_sc_app()->status.https_port);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    static char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    pclose(p);
    out[n] = '\0';
    cJSON *o = cJSON_Parse(out);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* Sign a @p payload-byte image as @p version with the build's development key
 * (`meterlab fw-sign sign`) into <tmpdir>/www/<name>. */
static void make_image(const char *name, const char *version, size_t payload, uint8_t seed)
{
    const char *ml = getenv("ML_METERLAB");
    const char *key = getenv("ML_FW_DEV_KEY");
    CU_ASSERT_FATAL(ml != NULL && key != NULL && key[0] != '\0');
    char pf[256], imgf[256], cmd[1024];
    snprintf(pf, sizeof pf, "%s/payload.bin", tmpdir);
    snprintf(imgf, sizeof imgf, "%s/www/%s", tmpdir, name);
    uint8_t *p = malloc(payload);
    for (size_t i = 0; i < payload; i++) {
        p[i] = (uint8_t)(i * 13u + seed);
    }
    write_file(pf, p, payload);
    free(p);
    snprintf(cmd, sizeof cmd,
             "'%s' fw-sign sign --key '%s' --fw-version '%s' --out '%s' '%s' >/dev/null", ml, key,
             version, imgf, pf);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
}

/* Python's http.server on a free loopback port, serving <tmpdir>/www. */
static int http_start(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        return -1;
    }
    http_port = ntohs(sa.sin_port);
    close(fd);
    char dir[200], port[8];
    snprintf(dir, sizeof dir, "%s/www", tmpdir);
    snprintf(port, sizeof port, "%u", http_port);
    http_pid = fork();
    if (http_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("python3", "python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", dir,
               port, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) { /* until it accepts (bounded: 10 s) */
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = {.sin_family = AF_INET,
                                 .sin_port = htons(http_port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(c, (struct sockaddr *)&to, sizeof to);
        close(c);
        if (ok == 0) {
            return 0;
        }
        usleep(20000);
    }
    return -1;
}

static struct ml_mqtt_sub *results_sub(const struct ml_broker *b)
{
    cur_sub = ml_mqtt_sub_start(b->obs_port, BASE "/cmd/+/result", 10000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cur_sub);
    return cur_sub;
}

static void sub_stop(void)
{
    if (cur_sub != NULL) {
        ml_mqtt_sub_stop(cur_sub);
        cur_sub = NULL;
    }
}

/* After every case, also one that failed half-way: nothing left running. */
static void teardown(void)
{
    sub_stop();
    ml_dev_sc_stop();
    if (tls_down) {
        tls_down = ml_broker_restart(&tls_broker) != 0;
    }
}

/* A device on @p b (TLS or not) whose commands are delivered; @p at past the probe. */
static struct ml_mqtt_sub *start_ready(const struct ml_broker *b, bool tls, size_t *at)
{
    struct ml_mqtt_sub *sub = results_sub(b);
    start_device(b, tls);
    CU_ASSERT_TRUE_FATAL(wait_connected());
    *at = 0;
    CU_ASSERT_TRUE_FATAL(wait_commands_ready(b, sub, at));
    return sub;
}

/* Send "firmware" with id @p id for the served file @p file (@p extra: more members). */
static void send_firmware(const struct ml_broker *b, const char *id, const char *file,
                          const char *extra)
{
    char json[256];
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"url\":\"http://127.0.0.1:%u/%s\"%s}", id,
             http_port, file, extra);
    send_cmd(b, "firmware", json);
}

/* ------------------------------------------------------------------------- */
/* Cases                                                                     */
/* ------------------------------------------------------------------------- */

/* reset over TLS: "rebooting", one reboot, then "ok" with the running version
 * after the device is back on the broker, the request id echoed each time. */
static void test_cmd_reset_reboots(void)
{
    size_t at;
    struct ml_mqtt_sub *sub = start_ready(&tls_broker, true, &at);
    uint32_t boots = sim_boot_count();
    send_cmd(&tls_broker, "reset", "{\"id\":\"r-1\"}");
    cJSON *r = wait_result(sub, &at, "reset", "rebooting");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "r-1");
    cJSON_Delete(r);
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    sim_advance_ms(1000); /* DHCP after the reboot */
    CU_ASSERT_TRUE_FATAL(wait_connected());
    r = wait_result(sub, &at, "reset", "ok");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "r-1");
    CU_ASSERT_STRING_EQUAL(jstr(r, "version"), ML_FW_VERSION);
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1); /* exactly one reboot */
    sub_stop();
    ml_dev_sc_stop();
}

/* A good signed image: accepted, downloading, verifying, rebooting; the trial
 * boots, reaches the broker, is confirmed after SC_FW_CONFIRM_MS: "ok" 2.0.0. */
static void test_cmd_firmware_good_image_ok(void)
{
    make_image("good.img", "2.0.0", 60000, 1);
    size_t at;
    struct ml_mqtt_sub *sub = start_ready(&tls_broker, true, &at);
    uint32_t boots = sim_boot_count();
    send_firmware(&tls_broker, "f1", "good.img", ",\"version\":\"2.0.0\"");
    static const char *const states[] = {"accepted", "downloading", "verifying", "rebooting"};
    for (size_t i = 0; i < 4; i++) {
        cJSON *r = wait_result(sub, &at, "firmware", states[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "f1");
        cJSON_Delete(r);
    }
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    sim_advance_ms(1000);
    CU_ASSERT_TRUE_FATAL(wait_connected());
    cJSON *f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), "2.0.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State"), "trial");
    cJSON_Delete(f);
    sim_advance_ms(SC_FW_CONFIRM_MS);
    cJSON *r = wait_result(sub, &at, "firmware", "ok");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "f1");
    CU_ASSERT_STRING_EQUAL(jstr(r, "version"), "2.0.0");
    cJSON_Delete(r);
    f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), "2.0.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State"), "confirmed");
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult"), "installed");
    cJSON_Delete(f);
    sub_stop();
    ml_dev_sc_stop();
}

/* One bit of the signature flipped: "error" naming the signature, no reboot,
 * version and pending image as before. */
static void test_cmd_firmware_bad_signature_changes_nothing(void)
{
    make_image("bad.img", "6.6.6", 60000, 2);
    char path[256];
    snprintf(path, sizeof path, "%s/www/bad.img", tmpdir);
    FILE *fp = fopen(path, "r+b");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fseek(fp, 100, SEEK_SET); /* inside the signature (bytes 64..127) */
    int ch = fgetc(fp);
    fseek(fp, 100, SEEK_SET);
    fputc(ch ^ 0x01, fp);
    fclose(fp);
    size_t at;
    struct ml_mqtt_sub *sub = start_ready(&tls_broker, true, &at);
    uint32_t boots = sim_boot_count();
    send_firmware(&tls_broker, "f2", "bad.img", "");
    cJSON *r = wait_result(sub, &at, "firmware", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "f2");
    CU_ASSERT_STRING_EQUAL(jstr(r, "reason"), "bad image signature");
    cJSON_Delete(r);
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots);
    cJSON *f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), ML_FW_VERSION);
    CU_ASSERT_STRING_EQUAL(jstr(f, "State"), "confirmed");
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f, "Pending")));
    cJSON_Delete(f);
    /* bad requests are answered too, and change nothing either */
    send_cmd(&tls_broker, "firmware", "{\"id\":\"f3\",\"url\":\"https://127.0.0.1/x.img\"}");
    r = wait_result(sub, &at, "firmware", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "f3");
    CU_ASSERT_PTR_NOT_NULL(strstr(jstr(r, "reason"), "only http://"));
    cJSON_Delete(r);
    send_cmd(&tls_broker, "firmware", "{\"id\":\"f4\",\"uri\":\"x\"}");
    r = wait_result(sub, &at, "firmware", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "reason"), "bad request: uri: unknown key");
    cJSON_Delete(r);
    send_cmd(&tls_broker, "format", "{\"id\":\"x1\"}");
    r = wait_result(sub, &at, "format", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "x1");
    cJSON_Delete(r);
    make_image("v.img", "5.0.0", 20000, 5); /* good, but not the version asked for */
    send_firmware(&tls_broker, "f6", "v.img", ",\"version\":\"5.0.1\"");
    r = wait_result(sub, &at, "firmware", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "f6");
    CU_ASSERT_STRING_EQUAL(jstr(r, "reason"), "version: does not match the image");
    cJSON_Delete(r);
    send_firmware(&tls_broker, "f5", "missing.img", "");
    r = wait_result(sub, &at, "firmware", "error");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "reason"), "download failed: the server did not answer 200");
    cJSON_Delete(r);
    CU_ASSERT_EQUAL(sim_boot_count(), boots);
    f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), ML_FW_VERSION);
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f, "Pending")));
    cJSON_Delete(f);
    sub_stop();
    ml_dev_sc_stop();
}

/* Over plain MQTT every command is answered "refused" and does nothing. */
static void test_cmd_plain_mqtt_refused(void)
{
    make_image("plain.img", "3.0.0", 20000, 3);
    size_t at;
    struct ml_mqtt_sub *sub = start_ready(&plain_broker, false, &at);
    uint32_t boots = sim_boot_count();
    send_cmd(&plain_broker, "reset", "{\"id\":\"p1\"}");
    cJSON *r = wait_result(sub, &at, "reset", "refused");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "p1");
    CU_ASSERT_PTR_NOT_NULL(strstr(jstr(r, "reason"), "TLS"));
    cJSON_Delete(r);
    send_firmware(&plain_broker, "p2", "plain.img", "");
    r = wait_result(sub, &at, "firmware", "refused");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "p2");
    cJSON_Delete(r);
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots);
    cJSON *f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), ML_FW_VERSION);
    CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(f, "Pending")));
    cJSON_Delete(f);
    sub_stop();
    ml_dev_sc_stop();
}

/* The new image never reaches the broker (it is down during the trial): it is
 * not confirmed, the device resets itself after SC_FW_TRIAL_MAX_MS and rolls
 * back; back on the broker it reports "rolled_back" with the old version. */
static void test_cmd_firmware_trial_never_confirms_rolls_back(void)
{
    make_image("trial.img", "4.0.0", 30000, 4);
    size_t at;
    struct ml_mqtt_sub *sub = start_ready(&tls_broker, true, &at);
    uint32_t boots = sim_boot_count();
    send_firmware(&tls_broker, "t1", "trial.img", "");
    cJSON *r = wait_result(sub, &at, "firmware", "rebooting");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    cJSON_Delete(r);
    sub_stop();
    tls_down = true;
    ml_broker_stop(&tls_broker); /* before the trial image's first attempt (after DHCP) */
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    sim_advance_ms(1000);
    cJSON *f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), "4.0.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State"), "trial");
    cJSON_Delete(f);
    sim_advance_ms(SC_FW_CONFIRM_MS + 1000); /* long enough, but not healthy: still a trial */
    f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "State"), "trial");
    cJSON_Delete(f);
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    sim_advance_ms(SC_FW_TRIAL_MAX_MS - SC_FW_CONFIRM_MS); /* the trial gives up: reset */
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 2);
    f = get_firmware();
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version"), ML_FW_VERSION);
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult"), "rolled back");
    cJSON_Delete(f);
    CU_ASSERT_EQUAL_FATAL(ml_broker_restart(&tls_broker), 0);
    tls_down = false;
    sub = results_sub(&tls_broker);
    at = 0;
    CU_ASSERT_TRUE_FATAL(wait_connected());
    r = wait_result(sub, &at, "firmware", "rolled_back");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(jstr(r, "id"), "t1");
    CU_ASSERT_STRING_EQUAL(jstr(r, "version"), ML_FW_VERSION);
    cJSON_Delete(r);
    sub_stop();
    ml_dev_sc_stop();
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ml_mqtt_cmd.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return 2;
    }
    char www[200];
    snprintf(www, sizeof www, "%s/www", tmpdir);
    mkdir(www, 0700);
    struct ml_broker_opts tls = {.tls = true, .require_cert = true, .client_cn = SERIAL};
    if (ml_broker_start(&tls_broker, &tls) != 0 || ml_broker_start(&plain_broker, NULL) != 0 ||
        http_start() != 0) {
        fprintf(stderr, "cannot start the brokers or the HTTP server\n");
        return 1;
    }
    static const struct ml_test_case cases[] = {
        {"test_cmd_reset_reboots", test_cmd_reset_reboots},
        {"test_cmd_firmware_good_image_ok", test_cmd_firmware_good_image_ok},
        {"test_cmd_firmware_bad_signature_changes_nothing",
         test_cmd_firmware_bad_signature_changes_nothing},
        {"test_cmd_plain_mqtt_refused", test_cmd_plain_mqtt_refused},
        {"test_cmd_firmware_trial_never_confirms_rolls_back",
         test_cmd_firmware_trial_never_confirms_rolls_back},
    };
    int rc = ml_test_run("mqtt_cmd", cases, sizeof cases / sizeof cases[0], NULL, teardown);
    kill(http_pid, SIGTERM);
    waitpid(http_pid, NULL, 0);
    ml_broker_destroy(&tls_broker);
    ml_broker_destroy(&plain_broker);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
        rc = rc != 0 ? rc : 1;
    }
    return rc;
}
