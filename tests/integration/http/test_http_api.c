/*
 * The Smart Connect HTTP API and web page against the sim device in virtual
 * time (sockets are served while time stands still): the curl CLI exercises
 * every endpoint and error path; headless Chromium loads the page, takes a
 * screenshot and submits the MQTT form. Every wait for a real peer is bounded
 * (curl --max-time 20, Chromium 60 s).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "ml_devices.h"
#include "ml_test.h"
#include "sha256.h"

#define PASSWORD "abcd2345"
#define SERIAL   "SC00001234"

static char tmpdir[128];
static uint8_t *tel50;
static size_t tel50_len;

/* ------------------------------------------------------------------------- */
/* Device                                                                    */
/* ------------------------------------------------------------------------- */

static const struct sc_app *app(void)
{
    return ml_dev_sc_app();
}

/* Start the sim device; its flash is backed by @p flash_file (NULL: memory only). */
static void start_device_with_flash(const char *flash_file)
{
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.modbus_port = 0;
    s.http_port = 0; /* any free port */
    s.https_port = 0;
    /* test-only switch: these cases check the HTTP rules through raw sockets and curl
     * in clear; HTTPS and the plain landing page: test_https.c */
    s.plain_api = true;
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = PASSWORD,
                             .flash_file = flash_file};
    ml_dev_sc_stop(); /* a case that failed fatally left it running */
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&s, &cfg), 0);
    sim_advance_ms(1000); /* DHCP */
    CU_ASSERT_FATAL(app()->status.http_port != 0);
}

static void start_device(void)
{
    start_device_with_flash(NULL);
}

static void stop_device(void)
{
    ml_dev_sc_stop();
}

/* ------------------------------------------------------------------------- */
/* curl                                                                      */
/* ------------------------------------------------------------------------- */

struct resp {
    int status;
    char *body;
    size_t body_len;
    char *head;
};

static void resp_free(struct resp *r)
{
    free(r->body);
    free(r->head);
    memset(r, 0, sizeof *r);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *len = 0;
        return calloc(1, 1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = '\0';
    fclose(f);
    return b;
}

static void write_file(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fwrite(d, 1, n, f);
    fclose(f);
}

/*
 * Run curl: @p method @p path with Basic auth @p userpw (NULL: none), body from
 * @p body (NULL: none), extra curl arguments @p extra (shell words, may be "").
 */
static struct resp curl_req(const char *method, const char *path, const char *userpw,
                            const void *body, size_t body_len, const char *extra)
{
    struct resp r = {0};
    char bodyf[200], outf[200], headf[200], cmd[8192];
    snprintf(bodyf, sizeof bodyf, "%s/req.bin", tmpdir);
    snprintf(outf, sizeof outf, "%s/resp.bin", tmpdir);
    snprintf(headf, sizeof headf, "%s/resp.head", tmpdir);
    unlink(outf);
    unlink(headf);
    char data[300] = "";
    if (body != NULL) {
        write_file(bodyf, body, body_len);
        snprintf(data, sizeof data, "-H 'Content-Type: application/json' --data-binary @%s", bodyf);
    }
    char auth[100] = "";
    if (userpw != NULL) {
        snprintf(auth, sizeof auth, "-u '%s'", userpw);
    }
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 %s%s %s %s %s -D %s -o %s -w '%%{http_code}' "
             "'http://127.0.0.1:%u%s'",
             method != NULL ? "-X " : "", method != NULL ? method : "", auth, data, extra, headf,
             outf, app()->status.http_port, path);
    FILE *p = popen(cmd, "r");
    CU_ASSERT_FATAL(p != NULL);
    char code[16] = "";
    if (fgets(code, sizeof code, p) == NULL) {
        code[0] = '\0';
    }
    pclose(p);
    r.status = atoi(code);
    size_t hl;
    r.body = slurp(outf, &r.body_len);
    r.head = slurp(headf, &hl);
    return r;
}

#define AUTH "user:" PASSWORD

static struct resp get(const char *path)
{
    return curl_req("GET", path, AUTH, NULL, 0, "");
}

static struct resp patch(const char *json)
{
    return curl_req("PATCH", "/api/v1/config", AUTH, json, strlen(json), "");
}

static cJSON *get_json(const char *path)
{
    struct resp r = get(path);
    CU_ASSERT_EQUAL(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    CU_ASSERT(j != NULL);
    resp_free(&r);
    return j;
}

static const char *jstr(cJSON *j, const char *a, const char *b)
{
    cJSON *x = cJSON_GetObjectItem(j, a);
    if (b != NULL) {
        x = cJSON_GetObjectItem(x, b);
    }
    return cJSON_IsString(x) ? x->valuestring : "";
}

static double jnum(cJSON *j, const char *a, const char *b)
{
    cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static bool jbool(cJSON *j, const char *a, const char *b)
{
    return cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, a), b));
}

/* The error body names @p field. */
static void expect_error(struct resp *r, int status, const char *field)
{
    CU_ASSERT_EQUAL(r->status, status);
    cJSON *j = cJSON_Parse(r->body);
    CU_ASSERT_FATAL(j != NULL);
    CU_ASSERT(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
    if (field != NULL) {
        const char *f = jstr(j, "field", NULL);
        if (strcmp(f, field) != 0) {
            fprintf(stderr, "\n  field '%s', expected '%s' (%s)\n", f, field, r->body);
        }
        CU_ASSERT_STRING_EQUAL(f, field);
    }
    cJSON_Delete(j);
}

/* ------------------------------------------------------------------------- */
/* Authentication                                                            */
/* ------------------------------------------------------------------------- */

static void test_http_auth_401_backoff_429(void)
{
    start_device();
    struct resp r = curl_req("GET", "/api/v1/status", NULL, NULL, 0, "");
    expect_error(&r, 401, NULL);
    CU_ASSERT(strstr(r.head, "WWW-Authenticate: Basic realm=\"Smart Connect\"") != NULL);
    resp_free(&r);
    for (int i = 0; i < 5; i++) {
        r = curl_req("GET", "/api/v1/status", "user:wrongpass", NULL, 0, "");
        CU_ASSERT_EQUAL(r.status, 401);
        resp_free(&r);
    }
    r = curl_req("GET", "/api/v1/status", "admin:" PASSWORD, NULL, 0,
                 ""); /* right pw, wrong user */
    CU_ASSERT_EQUAL(r.status, 429);
    CU_ASSERT(strstr(r.head, "Retry-After: 30") != NULL);
    resp_free(&r);
    r = get("/api/v1/status");
    CU_ASSERT_EQUAL(r.status, 429); /* locked out even with the right login */
    resp_free(&r);
    sim_advance_ms(30000);
    r = get("/api/v1/status");
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* Config                                                                    */
/* ------------------------------------------------------------------------- */

static void test_http_config_get_patch_and_errors(void)
{
    start_device();
    cJSON *c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MeterType", NULL), "PhoenixContact-EMPro");
    CU_ASSERT_STRING_EQUAL(jstr(c, "DefaultNetIf", NULL), "Ethernet");
    CU_ASSERT_STRING_EQUAL(jstr(cJSON_GetObjectItem(c, "Ethernet"), "IpMode", NULL), "DHCP");
    cJSON_Delete(c);
    struct resp before = get("/api/v1/config");

    /* the manual's PATCH example */
    struct resp r = patch("{\"MQTT\":{\"Broker\":\"mqtt://broker.xemex-cloud.eu:8883\","
                          "\"Site\":\"site-new\",\"Username\":\"user-new\","
                          "\"Password\":\"newpassword\"}}");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.body, "\"Site\":\"site-new\"") != NULL);
    CU_ASSERT(strstr(r.body, "newpassword") == NULL); /* never in clear */
    CU_ASSERT(strstr(r.body, "\"Password\":\"********\"") != NULL);
    resp_free(&r);
    resp_free(&before);
    before = get("/api/v1/config");

    /* every error: 400 naming the field, config unchanged */
    static const struct {
        const char *body;
        const char *field;
    } bad[] = {
        {"{\"MQTT\":{\"Site\":\"x\"", ""}, /* bad JSON */
        {"not json", ""},
        {"{\"Foo\":1}", "Foo"}, /* unknown key */
        {"{\"MQTT\":{\"Site\":\"ok\",\"Colour\":\"red\"}}", "MQTT.Colour"},
        {"{\"MQTT\":{\"Enable\":\"yes\"}}", "MQTT.Enable"}, /* wrong type */
        {"{\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":\"192.168.1.300\"}}}",
         "Ethernet.StaticIPv4.IpAddress"},
        {"{\"Ethernet\":{\"StaticIPv4\":{\"Netmask\":\"33\"}}}", "Ethernet.StaticIPv4.Netmask"},
        {"{\"MQTT\":{\"Broker\":\"http://example.com\"}}", "MQTT.Broker"},
        {"{\"MeterType\":\"NoSuchMeter\"}", "MeterType"},
        {"{\"WiFi\":{\"ConnectionData\":{\"WiFiSSID\":\"0123456789012345678901234567890123\"}}}",
         "WiFi.ConnectionData.WiFiSSID"},
        {"{\"DefaultNetIf\":\"WiFi\"}", "WiFi.ConnectionData.WiFiSSID"},
    };
    for (size_t i = 0; i < ML_ARRAY_SIZE(bad); i++) {
        r = patch(bad[i].body);
        expect_error(&r, 400, bad[i].field);
        resp_free(&r);
        struct resp after = get("/api/v1/config");
        CU_ASSERT_STRING_EQUAL(after.body, before.body);
        resp_free(&after);
    }
    /* 413: a body over the limit; the config stays */
    char *big = malloc(6000);
    memset(big, ' ', 6000);
    big[0] = '{';
    big[5999] = '}';
    r = curl_req("PATCH", "/api/v1/config", AUTH, big, 6000, "");
    expect_error(&r, 413, NULL);
    resp_free(&r);
    free(big);
    /* 431: headers too large */
    char extra[4200];
    strcpy(extra, "-H 'X-Big: ");
    memset(extra + strlen(extra), 'a', 3000);
    strcpy(extra + strlen("-H 'X-Big: ") + 3000, "'");
    r = curl_req("GET", "/api/v1/config", AUTH, NULL, 0, extra);
    expect_error(&r, 431, NULL);
    resp_free(&r);
    /* 404, 405 */
    r = get("/api/v1/nope");
    expect_error(&r, 404, NULL);
    resp_free(&r);
    r = curl_req("DELETE", "/api/v1/config", AUTH, NULL, 0, "");
    expect_error(&r, 405, NULL);
    CU_ASSERT(strstr(r.head, "Allow: GET, HEAD, PATCH") != NULL);
    resp_free(&r);
    r = curl_req("POST", "/api/v1/status", AUTH, "{}", 2, "");
    expect_error(&r, 405, NULL);
    resp_free(&r);
    struct resp after = get("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(after.body, before.body);
    resp_free(&after);
    resp_free(&before);
    /* the saved change waits for a reboot */
    cJSON *st = get_json("/api/v1/status");
    CU_ASSERT(jbool(st, "Config", "RebootRequired"));
    CU_ASSERT(jbool(st, "Config", "Saved"));
    cJSON_Delete(st);
    stop_device();
}

static void test_http_config_survives_power_cycle_and_applies(void)
{
    start_device();
    CU_ASSERT_STRING_EQUAL(app()->set->meter_type, "PhoenixContact-EMPro");
    struct resp r = patch("{\"MeterType\":\"Eastron-SDM630\",\"MQTT\":{\"Site\":\"kept\"},"
                          "\"Ethernet\":{\"IpMode\":\"Static\",\"StaticIPv4\":{\"IpAddress\":"
                          "\"192.168.10.101\",\"Netmask\":\"24\",\"Gateway\":\"192.168.10.1\","
                          "\"DNS\":\"192.168.10.1\"}}}");
    if (r.status != 200) {
        fprintf(stderr, "\n  %s\n", r.body);
    }
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    /* not applied before the reboot */
    CU_ASSERT_STRING_EQUAL(app()->set->meter_type, "PhoenixContact-EMPro");
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    sim_advance_ms(1000);
    CU_ASSERT_STRING_EQUAL(app()->set->meter_type, "Eastron-SDM630");
    CU_ASSERT_STRING_EQUAL(app()->set->mqtt_site, "kept");
    CU_ASSERT_FALSE(app()->set->net.dhcp);
    cJSON *st = get_json("/api/v1/status");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Network", "IpAddress"), "192.168.10.101");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Network", "State"), "static");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Modbus", "MeterType"), "Eastron-SDM630");
    CU_ASSERT_FALSE(jbool(st, "Config", "RebootRequired"));
    cJSON_Delete(st);
    cJSON *c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "kept");
    cJSON_Delete(c);
    /* factory reset (button > 10 s) erases the store: defaults after the reboot */
    sim_button_set(true);
    sim_advance_ms(10500);
    sim_button_set(false);
    sim_advance_ms(1500);
    CU_ASSERT_STRING_EQUAL(app()->set->meter_type, "PhoenixContact-EMPro");
    c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "");
    cJSON_Delete(c);
    stop_device();
}

/* A PATCH the flash does not take (worn: the erase or program does not hold,
 * the port's verify says so) answers 500 and changes nothing, now or after a
 * power cycle; once the flash works again the next PATCH is stored. */
static void test_http_config_flash_failure_500_changes_nothing(void)
{
    start_device();
    struct resp r = patch("{\"MQTT\":{\"Site\":\"one\"}}");
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    sim_flash_set_worn(true);
    uint32_t ops = sim_flash_op_count();
    r = patch("{\"MeterType\":\"Eastron-SDM630\",\"MQTT\":{\"Site\":\"two\"}}");
    CU_ASSERT_TRUE(sim_flash_op_count() > ops); /* it did try to store it */
    expect_error(&r, 500, NULL);
    resp_free(&r);
    cJSON *c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "one");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MeterType", NULL), "PhoenixContact-EMPro");
    cJSON_Delete(c);
    sim_flash_set_worn(false);
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    sim_advance_ms(1000);
    c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "one");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MeterType", NULL), "PhoenixContact-EMPro");
    cJSON_Delete(c);
    CU_ASSERT_STRING_EQUAL(app()->set->meter_type, "PhoenixContact-EMPro");
    r = patch("{\"MQTT\":{\"Site\":\"three\"}}");
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    sim_advance_ms(1000);
    CU_ASSERT_STRING_EQUAL(app()->set->mqtt_site, "three");
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* Status, telegram, reset                                                   */
/* ------------------------------------------------------------------------- */

static void test_http_status_telegram_reset(void)
{
    start_device();
    struct resp r = get("/api/v1/telegram");
    expect_error(&r, 404, NULL); /* none yet */
    resp_free(&r);
    sim_uart_feed(HAL_UART_P1_IN, tel50, tel50_len);
    sim_advance_ms(10);
    r = get("/api/v1/telegram");
    CU_ASSERT_EQUAL(r.status, 200);
    /* the telegram from '/' through the CRC line, byte for byte */
    CU_ASSERT(r.body_len >= tel50_len - 2 && r.body_len <= tel50_len);
    CU_ASSERT(memcmp(r.body, tel50, r.body_len) == 0);
    CU_ASSERT(r.body_len > 0 && r.body[0] == '/');
    CU_ASSERT(strstr(r.head, "Content-Type: text/plain") != NULL);
    resp_free(&r);
    sim_advance_ms(60000); /* a ping round for the reachability dots */
    sim_uart_feed(HAL_UART_P1_IN, tel50, tel50_len);
    sim_advance_ms(10);
    cJSON *st = get_json("/api/v1/status");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Meter", "Protocol"), "DSMR");
    CU_ASSERT_EQUAL(jnum(st, "Meter", "Version"), 50);
    CU_ASSERT(jbool(st, "Meter", "Data"));
    CU_ASSERT_EQUAL(jnum(st, "Meter", "TelegramsPass"), 2);
    CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "Meter"), "Error")));
    CU_ASSERT_STRING_EQUAL(jstr(st, "Network", "ActiveInterface"), "Ethernet");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Network", "Hostname"), "smart-connect-sc00001234");
    char hn[64];
    sim_net_get_hostname(hn, sizeof hn);
    CU_ASSERT_STRING_EQUAL(hn, "smart-connect-sc00001234"); /* handed to the network */
    CU_ASSERT(jbool(st, "Network", "Link"));
    CU_ASSERT(jbool(st, "Network", "Network"));
    CU_ASSERT(jbool(st, "Network", "Internet"));
    CU_ASSERT_STRING_EQUAL(jstr(st, "MQTT", "State"), "disabled");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Device", "Serial"), SERIAL);
    cJSON_Delete(st);
    /* HEAD: headers only */
    r = curl_req(NULL, "/api/v1/status", AUTH, NULL, 0, "-I"); /* HEAD */
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.body, "\"Device\"") == NULL); /* (-I writes the headers to -o) */
    resp_free(&r);
    /* soft reset after the answer */
    uint32_t boots = sim_boot_count();
    r = curl_req("POST", "/api/v1/reset", AUTH, NULL, 0, "-H 'Content-Type: application/json'");
    CU_ASSERT_EQUAL(r.status, 202);
    resp_free(&r);
    sim_wait_idle();
    CU_ASSERT_EQUAL(sim_boot_count(), boots + 1);
    r = curl_req("GET", "/api/v1/reset", AUTH, NULL, 0, "");
    CU_ASSERT_EQUAL(r.status, 405);
    resp_free(&r);
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* Network policy in virtual time                                            */
/* ------------------------------------------------------------------------- */

static void test_http_dhcp_fails_link_local_no_ip_led(void)
{
    start_device();
    struct sim_net_model m;
    sim_net_get(&m);
    m.dhcp_answers = false;
    sim_net_set(&m);
    CU_ASSERT_EQUAL(sim_power_cycle(), 0); /* boot into a network without DHCP */
    for (int i = 0; i < 3; i++) {
        sim_advance_ms(NET_DHCP_TIMEOUT_MS + 500);
    }
    CU_ASSERT_EQUAL(app()->net.counters.dhcp_failures, 3);
    CU_ASSERT_EQUAL(app()->net.state, NET_ST_LINK_LOCAL);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_METER_NO_IP);
    /* the API is reachable on the link-local address (loopback in the sim) */
    cJSON *st = get_json("/api/v1/status");
    CU_ASSERT_STRING_EQUAL(jstr(st, "Network", "State"), "link_local");
    CU_ASSERT(strncmp(jstr(st, "Network", "IpAddress"), "169.254.", 8) == 0);
    CU_ASSERT(jbool(st, "Network", "LinkLocal"));
    CU_ASSERT_FALSE(jbool(st, "Network", "Internet"));
    CU_ASSERT_EQUAL(jnum(st, "Network", "DhcpFailures"), 3);
    cJSON_Delete(st);
    sim_uart_feed(HAL_UART_P1_IN, tel50, tel50_len);
    sim_advance_ms(10);
    CU_ASSERT_EQUAL(app()->status.led, UI_LED_NO_IP); /* green/orange: meter ok, no IP */
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* Firmware update                                                           */
/* ------------------------------------------------------------------------- */

/* The unsigned format of header version 1 (64 bytes, no signature): refused now. */
static uint8_t *make_unsigned_image(const char *version, size_t payload, uint8_t seed, size_t *len)
{
    uint8_t *img = calloc(1, 64 + payload);
    uint32_t magic = SC_FW_MAGIC, hv = 1, pl = (uint32_t)payload;
    memcpy(img, &magic, 4); /* little-endian host */
    memcpy(img + 4, &hv, 4);
    memcpy(img + 8, &pl, 4);
    strncpy((char *)img + 12, version, 15);
    for (size_t i = 0; i < payload; i++) {
        img[64 + i] = (uint8_t)(i * 31u + seed);
    }
    struct ml_sha256 s;
    ml_sha256_init(&s);
    ml_sha256_update(&s, img + 64, payload);
    ml_sha256_final(&s, img + 28);
    *len = 64 + payload;
    return img;
}

/*
 * A signed image made by the signing tool (`meterlab fw-sign sign`, libsodium)
 * with @p key (NULL: the build's development key, the one the device trusts).
 */
static uint8_t *make_image(const char *version, size_t payload, uint8_t seed, const char *key,
                           size_t *len)
{
    const char *ml = getenv("ML_METERLAB");
    const char *dev = getenv("ML_FW_DEV_KEY");
    if (ml == NULL || dev == NULL || dev[0] == '\0') {
        fprintf(stderr, "\n  ML_METERLAB and ML_FW_DEV_KEY (the build's signing key) must be "
                        "set (ctest sets them)\n");
    }
    CU_ASSERT_FATAL(ml != NULL && dev != NULL && dev[0] != '\0');
    char pf[200], imgf[200], cmd[1024];
    snprintf(pf, sizeof pf, "%s/payload.bin", tmpdir);
    snprintf(imgf, sizeof imgf, "%s/image.bin", tmpdir);
    uint8_t *p = malloc(payload);
    for (size_t i = 0; i < payload; i++) {
        p[i] = (uint8_t)(i * 31u + seed);
    }
    write_file(pf, p, payload);
    free(p);
    snprintf(cmd, sizeof cmd,
             "'%s' fw-sign sign --key '%s' --fw-version '%s' --out '%s' '%s' >/dev/null", ml,
             key != NULL ? key : dev, version, imgf, pf);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    uint8_t *img = (uint8_t *)slurp(imgf, len);
    CU_ASSERT_FATAL(img != NULL && *len == SC_FW_HDR_SIZE + payload);
    return img;
}

static struct resp upload(const uint8_t *img, size_t len)
{
    return curl_req("POST", "/api/v1/firmware", AUTH, img, len,
                    "-H 'Content-Type: application/octet-stream'");
}

/* Sign a @p payload-byte image as @p version with the device's key, upload it: 202. */
static void upload_signed_ok(const char *version, size_t payload, uint8_t seed)
{
    size_t n;
    uint8_t *img = make_image(version, payload, seed, NULL, &n);
    struct resp r = upload(img, n);
    CU_ASSERT_EQUAL(r.status, 202);
    resp_free(&r);
    free(img);
}

/* Upload @p img, expect @p status naming "image" and @p why in the message. */
static void upload_rejected(uint8_t *img, size_t n, int status, const char *why)
{
    struct resp r = upload(img, n);
    expect_error(&r, status, "image");
    if (strstr(r.body, why) == NULL) {
        fprintf(stderr, "\n  error body %s, expected '%s'\n", r.body, why);
    }
    CU_ASSERT(strstr(r.body, why) != NULL);
    resp_free(&r);
    free(img);
}

/* GET /api/v1/firmware: running @p version, pending @p pending ("": none). */
static void expect_fw(const char *version, const char *pending_slot, const char *pending)
{
    cJSON *f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), version);
    cJSON *p = cJSON_GetObjectItem(f, "Pending");
    if (pending[0] == '\0') {
        CU_ASSERT(cJSON_IsNull(p));
    } else {
        CU_ASSERT_STRING_EQUAL(jstr(p, "Slot", NULL), pending_slot);
        CU_ASSERT_STRING_EQUAL(jstr(p, "Version", NULL), pending);
    }
    cJSON_Delete(f);
}

static void test_http_firmware_upload_pending(void)
{
    start_device();
    cJSON *f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), ML_FW_VERSION);
    CU_ASSERT_STRING_EQUAL(jstr(f, "Slot", NULL), "factory");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "confirmed");
    cJSON_Delete(f);

    /* signed, but the payload does not match its SHA-256: rejected, nothing pending */
    size_t n;
    uint8_t *img = make_image("9.9.9-bad", 100000, 3, NULL, &n);
    img[SC_FW_HDR_SIZE + 5000] ^= 1;
    upload_rejected(img, n, 400, "sha256");
    f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), ML_FW_VERSION);
    CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(f, "Pending")));
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult", NULL), "rejected");
    cJSON_Delete(f);
    /* bad header (magic): rejected early, the body is drained, answer arrives */
    img = make_image("1.0.0", 50000, 3, NULL, &n);
    img[0] ^= 0xFF;
    upload_rejected(img, n, 400, "header");
    /* a reboot now still runs the factory image */
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    expect_fw(ML_FW_VERSION, "", "");

    /* good image: accepted into slot A (free), pending until the reboot */
    upload_signed_ok("1.1.0", 120000, 5);
    f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult", NULL), "pending");
    cJSON_Delete(f);
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    stop_device();
}

/*
 * Issue 19 items 3, 4, 6: only images signed with the built-in key install,
 * and a rejected upload leaves the pending and the running image as they were.
 */
static void test_http_firmware_unsigned_or_foreign_rejected_pending_kept(void)
{
    start_device();
    upload_signed_ok("1.1.0", 120000, 5);
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    size_t n;
    struct resp r;

    /* unsigned (the old format, correct SHA-256) */
    uint8_t *img = make_unsigned_image("6.6.6", 100000, 1, &n);
    upload_rejected(img, n, 400, "unsigned");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* signed with the right key, one bit of the signature flipped */
    img = make_image("6.6.6", 100000, 1, NULL, &n);
    img[SC_FW_HDR_SIGNED + 20] ^= 0x10;
    upload_rejected(img, n, 400, "signature");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* the signed header altered (version) after signing */
    img = make_image("6.6.6", 100000, 1, NULL, &n);
    img[12] = '7';
    upload_rejected(img, n, 400, "signature");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* signed by another key (a fresh key pair from the signing tool) */
    char other[200], cmd[600];
    snprintf(other, sizeof other, "%s/other.pem", tmpdir);
    unlink(other);
    snprintf(cmd, sizeof cmd, "'%s' fw-sign keygen --out '%s' >/dev/null", getenv("ML_METERLAB"),
             other);
    CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
    img = make_image("6.6.6", 100000, 1, other, &n);
    upload_rejected(img, n, 400, "another key");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* ... with the device's key id copied in: the signature still fails */
    img = make_image("6.6.6", 100000, 1, other, &n);
    memcpy(img + 60, sc_fw_pubkey, 4);
    upload_rejected(img, n, 400, "signature");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* validly signed, payload corrupted in transfer: fails only at the end */
    img = make_image("6.6.6", 100000, 1, NULL, &n);
    img[n - 1] ^= 0x01;
    upload_rejected(img, n, 400, "sha256");
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    /* validly signed, cut short (the connection closes mid-body) */
    img = make_image("6.6.6", 100000, 1, NULL, &n);
    r = curl_req("POST", "/api/v1/firmware", AUTH, img, n / 2,
                 "-H 'Content-Type: application/octet-stream' -H 'Content-Length: 100128'"
                 " --max-time 3");
    CU_ASSERT(r.status != 202);
    resp_free(&r);
    free(img);
    expect_fw(ML_FW_VERSION, "A", "1.1.0");

    /* the pending image survived intact: it boots (the boot re-checks it) */
    r = curl_req("POST", "/api/v1/reset", AUTH, NULL, 0, "-H 'Content-Type: application/json'");
    CU_ASSERT_EQUAL(r.status, 202);
    resp_free(&r);
    sim_wait_idle();
    cJSON *f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), "1.1.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Slot", NULL), "A");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "trial");
    cJSON_Delete(f);
    stop_device();
}

static void test_http_firmware_replace_pending_trial_rollback(void)
{
    start_device();
    upload_signed_ok("1.1.0", 120000, 5);
    /* another good image while 1.1.0 waits: it goes to the free slot B and replaces it */
    upload_signed_ok("1.2.0", 150000, 7);
    expect_fw(ML_FW_VERSION, "B", "1.2.0");
    size_t n;
    uint8_t *img;
    struct resp r =
        curl_req("POST", "/api/v1/reset", AUTH, NULL, 0, "-H 'Content-Type: application/json'");
    CU_ASSERT_EQUAL(r.status, 202);
    resp_free(&r);
    sim_wait_idle();
    cJSON *f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), "1.2.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Slot", NULL), "B");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "trial");
    cJSON_Delete(f);
    /* a trial runs: no second upload */
    img = make_image("1.3.0", 1000, 9, NULL, &n);
    r = upload(img, n);
    expect_error(&r, 409, "image");
    resp_free(&r);
    sim_advance_ms(SC_FW_CONFIRM_MS + 100); /* it ran long enough: confirmed */
    f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "confirmed");
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult", NULL), "installed");
    cJSON_Delete(f);
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    expect_fw("1.2.0", "", "");

    /* 1.3.0 into slot A; B runs, A is pending: no slot is free for a third image */
    r = upload(img, n);
    CU_ASSERT_EQUAL(r.status, 202);
    resp_free(&r);
    free(img);
    expect_fw("1.2.0", "A", "1.3.0");
    img = make_image("1.4.0", 1000, 11, NULL, &n);
    upload_rejected(img, n, 409, "pending");
    expect_fw("1.2.0", "A", "1.3.0");
    /* then a power cut during 1.3.0's trial: rollback to 1.2.0 */
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), "1.3.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Slot", NULL), "A");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "trial");
    cJSON_Delete(f);
    sim_advance_ms(5000);
    CU_ASSERT_EQUAL(sim_power_cycle(), 0); /* not confirmed */
    f = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Version", NULL), "1.2.0");
    CU_ASSERT_STRING_EQUAL(jstr(f, "Slot", NULL), "B");
    CU_ASSERT_STRING_EQUAL(jstr(f, "State", NULL), "confirmed");
    CU_ASSERT_STRING_EQUAL(jstr(f, "LastResult", NULL), "rolled back");
    cJSON_Delete(f);
    stop_device();
}

/*
 * The boot checks the pending image again: a slot whose signed header was
 * altered in flash after the upload (here: one bit of the signature, in the
 * flash file between two runs) is not booted; the device keeps the factory
 * image and reports the pending image rejected.
 */
static void test_http_firmware_boot_rechecks_signature(void)
{
    char flash[200];
    snprintf(flash, sizeof flash, "%s/flash.bin", tmpdir);
    unlink(flash);
    start_device_with_flash(flash);
    upload_signed_ok("1.1.0", 20000, 5);
    expect_fw(ML_FW_VERSION, "A", "1.1.0");
    stop_device();
    /* the flash file: CONFIG_A 16 KiB, CONFIG_B 16 KiB, FW_A (256 KiB), FW_B, BOOT (the
     * STM32F405's sectors, docs/architecture.md) */
    FILE *f = fopen(flash, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    long at = 32 * 1024 + SC_FW_HDR_SIGNED + 7; /* a signature byte of slot A's header */
    CU_ASSERT_EQUAL(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    CU_ASSERT_EQUAL(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x04, f);
    fclose(f);
    start_device_with_flash(flash);
    cJSON *j = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(j, "Version", NULL), ML_FW_VERSION);
    CU_ASSERT_STRING_EQUAL(jstr(j, "Slot", NULL), "factory");
    CU_ASSERT_STRING_EQUAL(jstr(j, "LastResult", NULL), "rejected");
    CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(j, "Pending")));
    cJSON_Delete(j);
    stop_device();
    unlink(flash);
}

/* CRC-32/IEEE bit by bit (the boot record's check), independent of core/common. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        }
    }
    return ~c;
}

/*
 * A boot record of the format before the MQTT commands ("MLBR", CRC at 16; a sim
 * --state-dir kept from then) is still read: slot A named pending there boots
 * in trial. (A record the firmware cannot read would leave the factory image.)
 */
static void test_http_firmware_old_boot_record_still_read(void)
{
    char flash[200];
    snprintf(flash, sizeof flash, "%s/flash.bin", tmpdir);
    unlink(flash);
    start_device_with_flash(flash);
    upload_signed_ok("1.1.0", 20000, 5); /* into slot A */
    stop_device();
    /* the flash file: CONFIG_A 4 KiB, CONFIG_B 4 KiB, FW_A 256 KiB, FW_B 256 KiB, BOOT 4 KiB */
    uint8_t boot[4096];
    memset(boot, 0xFF, sizeof boot);                                   /* erased */
    static const uint8_t rec[16] = {'M',  'L',  'B', 'R', 1, 0, 0, 0,  /* magic, seq 1 */
                                    0xFF, 0xFF, 0,   0,   0, 1, 0, 0}; /* factory runs, A pending */
    memcpy(boot, rec, sizeof rec);
    uint32_t crc = crc32_ieee(rec, sizeof rec);
    for (int i = 0; i < 4; i++) {
        boot[16 + i] = (uint8_t)(crc >> (8 * i));
    }
    FILE *f = fopen(flash, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(fseek(f, (8 + 256 + 256) * 1024, SEEK_SET), 0);
    CU_ASSERT_EQUAL(fwrite(boot, 1, sizeof boot, f), sizeof boot);
    fclose(f);
    start_device_with_flash(flash);
    cJSON *j = get_json("/api/v1/firmware");
    CU_ASSERT_STRING_EQUAL(jstr(j, "Version", NULL), "1.1.0");
    CU_ASSERT_STRING_EQUAL(jstr(j, "Slot", NULL), "A");
    CU_ASSERT_STRING_EQUAL(jstr(j, "State", NULL), "trial");
    cJSON_Delete(j);
    stop_device();
    unlink(flash);
}

/* ------------------------------------------------------------------------- */
/* Connections, deadlines, sessions (issue 19 #1, #7)                        */
/* ------------------------------------------------------------------------- */

static double mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* A TCP connection to the device from source address 127.0.0.@p host (0: any). */
static uint16_t connect_port; /* 0: the device's HTTP port */

static int tcp_connect_from(int host, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    CU_ASSERT_FATAL(fd >= 0);
    if (host != 0) {
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7F000000u | (uint32_t)host);
        CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&src, sizeof src) == 0);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port =
                                 htons(connect_port ? connect_port : app()->status.http_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {3, 0}; /* a frozen device fails the test instead of hanging it */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    CU_ASSERT_FATAL(rc == 0 || (nonblock && errno == EINPROGRESS));
    return fd;
}

static int tcp_connect(void)
{
    return tcp_connect_from(0, false);
}

/* Send @p rq on @p fd and read until the response is complete (or the timeout). */
static int raw_req(int fd, const char *rq, char *buf, size_t cap)
{
    if (send(fd, rq, strlen(rq), MSG_NOSIGNAL) < 0) {
        return -1;
    }
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
        buf[n] = '\0';
        char *e = strstr(buf, "\r\n\r\n");
        char *cl = strstr(buf, "Content-Length: ");
        if (e != NULL && cl != NULL && n >= (size_t)(e + 4 - buf) + (size_t)atoi(cl + 16)) {
            break;
        }
    }
    buf[n] = '\0';
    return (int)n;
}

#define GET_STATUS                                                                                 \
    "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "                      \
    "dXNlcjphYmNkMjM0NQ==\r\n\r\n"

static int raw_get(int fd, char *buf, size_t cap)
{
    return raw_req(fd, GET_STATUS, buf, cap);
}

/* One request from 127.0.0.@p host on a new connection: @return the status. */
static int status_from(int host, const char *rq)
{
    char buf[4096];
    int fd = tcp_connect_from(host, false);
    int st = 0;
    if (raw_req(fd, rq, buf, sizeof buf) > 12) {
        st = atoi(buf + 9);
    }
    close(fd);
    return st;
}

/* 408 after @p fd's request was not complete in time, then the close. */
static void expect_408_close(int fd)
{
    char buf[512];
    ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
    buf[k > 0 ? k : 0] = '\0';
    CU_ASSERT(strncmp(buf, "HTTP/1.1 408", 12) == 0);
    CU_ASSERT_EQUAL(recv(fd, buf, sizeof buf, 0), 0);
    close(fd);
}

/* Several connections are served at once; a partial request gets 408 after 5 s. */
static void test_http_connections_at_once_and_408(void)
{
    start_device();
    char buf[4096];
    int a = tcp_connect();
    CU_ASSERT(raw_get(a, buf, sizeof buf) > 0);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    /* one byte, a bare CR: each holds only its own connection */
    int one = tcp_connect();
    CU_ASSERT_EQUAL(send(one, "G", 1, MSG_NOSIGNAL), 1);
    int cr = tcp_connect();
    CU_ASSERT_EQUAL(send(cr, "\r", 1, MSG_NOSIGNAL), 1);
    sim_wait_idle();
    CU_ASSERT(raw_get(a, buf, sizeof buf) > 0);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    /* 5 s after their first byte: 408 and closed */
    sim_advance_ms(HTTP_REQ_TIMEOUT_MS);
    expect_408_close(one);
    expect_408_close(cr);
    /* half a body: 408 too */
    int half = tcp_connect();
    static const char body[] =
        "PATCH /api/v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Basic dXNlcjphYmNkMjM0NQ==\r\n"
        "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"MQTT\"";
    CU_ASSERT_EQUAL(send(half, body, sizeof body - 1, MSG_NOSIGNAL), (ssize_t)(sizeof body - 1));
    sim_wait_idle();
    sim_advance_ms(HTTP_REQ_TIMEOUT_MS);
    expect_408_close(half);
    CU_ASSERT(!app()->status.config_saved);
    /* an idle keep-alive connection closes after 30 s */
    CU_ASSERT(raw_get(a, buf, sizeof buf) > 0);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    sim_advance_ms(HTTP_IDLE_TIMEOUT_MS - 100);
    CU_ASSERT(raw_get(a, buf, sizeof buf) > 0);
    CU_ASSERT(strncmp(buf, "HTTP/1.1 200", 12) == 0);
    sim_advance_ms(HTTP_IDLE_TIMEOUT_MS);
    CU_ASSERT_EQUAL(recv(a, buf, sizeof buf, 0), 0);
    close(a);
    stop_device();
}

struct flood {
    volatile bool run;
    int n;        /* connections held */
    int reopened; /* closed by the device and opened again */
    int fds[50];
    double closed_at[50];
    bool tls;      /* the byte opens a TLS handshake (the HTTPS port): sent once */
    bool sent[50]; /* tls: that connection's byte is out */
};

/* Hold fl->n half-open requests from 127.0.0.2: each sends one byte; one the device
 * closes is opened again 0.2 s later. */
static void *flood_main(void *arg)
{
    struct flood *fl = arg;
    for (int i = 0; i < fl->n; i++) {
        fl->fds[i] = -1;
        fl->closed_at[i] = 0;
    }
    while (fl->run) {
        double now = mono_ms();
        for (int i = 0; i < fl->n && fl->run; i++) {
            if (fl->fds[i] < 0) {
                if (now - fl->closed_at[i] < 200) {
                    continue;
                }
                fl->fds[i] = tcp_connect_from(2, true);
                fl->sent[i] = false;
                continue;
            }
            char b[512];
            ssize_t k = recv(fl->fds[i], b, sizeof b, MSG_DONTWAIT);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(fl->fds[i]);
                fl->fds[i] = -1;
                fl->closed_at[i] = now;
                fl->reopened++;
                continue;
            }
            /* connected: the first byte of a request (or of a TLS ClientHello) that never
             * comes */
            if (fl->tls && fl->sent[i]) {
                continue; /* a record header that stays 1 byte long */
            }
            ssize_t w = send(fl->fds[i], fl->tls ? "\x16" : "G", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w == 1) {
                fl->sent[i] = true;
            } else if (errno != EAGAIN && errno != ENOTCONN) {
                close(fl->fds[i]);
                fl->fds[i] = -1;
                fl->closed_at[i] = now;
            }
        }
        usleep(20000);
    }
    for (int i = 0; i < fl->n; i++) {
        if (fl->fds[i] >= 0) {
            close(fl->fds[i]);
        }
    }
    return NULL;
}

/*
 * Issue 19 #1: 50 half-open connections (one byte sent, opened again when
 * closed) from one host; a good client on another host gets every answer
 * within 1 s, measured from its connect() to the last byte of the answer.
 * Real time: the deadlines run while the flood goes on.
 */
static void test_http_half_open_flood_good_client_served(void)
{
    struct sc_settings set;
    sc_settings_defaults(&set);
    set.modbus_port = 0;
    set.http_port = 0;
    set.https_port = 0;
    set.plain_api = true; /* raw sockets in clear (see start_device_with_flash) */
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = PASSWORD,
                             .busy_poll_us = -1};
    ml_dev_sc_stop();
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&set, &cfg), 0);
    for (int i = 0; i < 100 && app()->status.http_port == 0; i++) {
        usleep(10000);
    }
    CU_ASSERT_FATAL(app()->status.http_port != 0);
    static struct flood fl;
    fl.run = true;
    fl.n = 50;
    fl.reopened = 0;
    pthread_t t;
    pthread_create(&t, NULL, flood_main, &fl);
    usleep(500000); /* the flood is in place */
    int ok = 0, total = 0;
    double worst = 0;
    double end = mono_ms() + 12000; /* > 2 request deadlines */
    char buf[4096];
    while (mono_ms() < end) {
        double t0 = mono_ms();
        int fd = tcp_connect_from(1, false);
        int n = raw_get(fd, buf, sizeof buf);
        double dt = mono_ms() - t0;
        close(fd);
        total++;
        if (n > 12 && strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "\"Device\"") != NULL) {
            ok++;
        }
        worst = dt > worst ? dt : worst;
        usleep(200000);
    }
    fl.run = false;
    pthread_join(t, NULL);
    fprintf(stderr,
            "\n  flood: %d/%d answers ok, worst %.1f ms, %d flood connections reopened, "
            "%u evicted\n",
            ok, total, worst, fl.reopened, app()->http_evicted);
    CU_ASSERT(total >= 20);
    CU_ASSERT_EQUAL(ok, total);
    CU_ASSERT(worst < 1000.0);
    CU_ASSERT(fl.reopened > 0); /* the device did close flood connections */
    stop_device();
}

/* Issue 19 #7 and the session rule: the back-off counts per client address; a
 * second user (another address) gets 409 while a session holds. */
static void test_http_backoff_per_address_and_one_user(void)
{
    start_device();
    static const char bad[] = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Authorization: Basic dXNlcjp3cm9uZ3B3\r\n\r\n";
    for (unsigned i = 0; i < HTTP_AUTH_MAX_FAILS; i++) {
        CU_ASSERT_EQUAL(status_from(2, bad), 401);
    }
    CU_ASSERT_EQUAL(status_from(2, GET_STATUS), 429); /* the guesser is locked out */
    CU_ASSERT_EQUAL(status_from(1, GET_STATUS), 200); /* the owner is not */
    /* the owner's session holds: a login from another address gets 409 */
    CU_ASSERT_EQUAL(status_from(3, GET_STATUS), 409);
    sim_advance_ms(SC_HTTP_SESSION_MS - 1000);
    CU_ASSERT_EQUAL(status_from(1, GET_STATUS), 200); /* the session goes on */
    sim_advance_ms(SC_HTTP_SESSION_MS - 1000);
    CU_ASSERT_EQUAL(status_from(3, GET_STATUS), 409);
    sim_advance_ms(1000); /* 30 s after the owner's last request: the session ended */
    CU_ASSERT_EQUAL(status_from(3, GET_STATUS), 200);
    CU_ASSERT_EQUAL(status_from(1, GET_STATUS), 409);
    stop_device();
}

/* Issue 19 #3: uploads and resets from a foreign page or with a GET are refused
 * (curl playing the browser; the Chromium test below does it for real). */
static void test_http_state_changes_need_json_and_same_origin(void)
{
    start_device();
    size_t img_len = 64 + 1000;
    uint8_t *img = calloc(1, img_len);
    struct resp r =
        curl_req("POST", "/api/v1/firmware", AUTH, img, img_len, "-H 'Content-Type: text/plain'");
    CU_ASSERT_EQUAL(r.status, 415);
    resp_free(&r);
    r = curl_req("POST", "/api/v1/firmware", AUTH, img, img_len,
                 "-H 'Content-Type: application/octet-stream' -H 'Origin: http://evil.example'");
    CU_ASSERT_EQUAL(r.status, 403);
    resp_free(&r);
    /* GET and HEAD with a body: no upload starts */
    r = curl_req("GET", "/api/v1/firmware", AUTH, img, img_len,
                 "-H 'Content-Type: application/octet-stream'");
    CU_ASSERT_EQUAL(r.status, 200);
    resp_free(&r);
    free(img);
    cJSON *fw = get_json("/api/v1/firmware");
    char *txt = cJSON_PrintUnformatted(fw);
    CU_ASSERT(strstr(txt, "rejected") == NULL && strstr(txt, "Rejected") == NULL);
    free(txt);
    cJSON_Delete(fw);
    /* a form POST to reset, a reset from a foreign page: nothing happens */
    uint32_t boots = sim_boot_count();
    r = curl_req("POST", "/api/v1/reset", AUTH, NULL, 0, "--data 'x=1'");
    CU_ASSERT_EQUAL(r.status, 415);
    resp_free(&r);
    r = curl_req("POST", "/api/v1/reset", AUTH, NULL, 0,
                 "-H 'Content-Type: application/json' -H 'Referer: http://evil.example/a'");
    CU_ASSERT_EQUAL(r.status, 403);
    resp_free(&r);
    r = curl_req("PATCH", "/api/v1/config", AUTH, NULL, 0,
                 "-H 'Content-Type: text/plain' --data '{\"MQTT\":{\"Site\":\"x\"}}'");
    CU_ASSERT_EQUAL(r.status, 415);
    resp_free(&r);
    sim_advance_ms(100);
    CU_ASSERT_EQUAL(sim_boot_count(), boots);
    CU_ASSERT(!app()->status.config_saved);
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* The web page in headless Chromium                                         */
/* ------------------------------------------------------------------------- */

static volatile bool ticking;

/* Let virtual time move (5x real time) while a browser works: Chromium's spare
 * connections meet their deadlines as they would on a device. */
static void *ticker(void *arg)
{
    (void)arg;
    while (ticking) {
        sim_advance_ms(100);
        usleep(20000);
    }
    return NULL;
}

static const char *chromium_path(void)
{
    static const char *const c[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(c); i++) {
        if (access(c[i], X_OK) == 0) {
            return c[i];
        }
    }
    return NULL;
}

/*
 * tests/integration/http/browser.py: Chromium over DevTools. Opens @p login,
 * then (with @p serve_dir) the hostile page {EVIL}/evil.html served from it,
 * evaluates @p js (may be NULL) and waits @p wait_ms. @return its JSON (malloc'ed).
 */
static char browser_extra[300]; /* more browser.py arguments (the HTTPS cases) */

static char *run_browser(const char *login, const char *serve_dir, const char *js, int wait_ms)
{
    char prof[200], jsf[200], outf[200], cmd[4096];
    snprintf(prof, sizeof prof, "%s/cdp-XXXXXX", tmpdir);
    CU_ASSERT_FATAL(mkdtemp(prof) != NULL);
    snprintf(jsf, sizeof jsf, "%s/eval.js", tmpdir);
    snprintf(outf, sizeof outf, "%s/browser.json", tmpdir);
    write_file(jsf, js != NULL ? js : "", js != NULL ? strlen(js) : 0);
    char serve[300] = "";
    if (serve_dir != NULL) {
        snprintf(serve, sizeof serve, "--serve %s --nav '{EVIL}/evil.html'", serve_dir);
    }
    const char *src = getenv("ML_SOURCE_DIR");
    snprintf(cmd, sizeof cmd,
             "timeout 90 python3 %s/tests/integration/http/browser.py --chromium %s --profile %s "
             "--nav '%s' %s %s %s%s --wait-ms %d > %s 2>%s/browser.err",
             src != NULL ? src : ".", chromium_path(), prof, login, browser_extra, serve,
             js != NULL ? "--eval-file " : "", js != NULL ? jsf : "", wait_ms, outf, tmpdir);
    ticking = true; /* the device's deadlines and session run while the browser works */
    pthread_t t;
    pthread_create(&t, NULL, ticker, NULL);
    int rc = system(cmd);
    ticking = false;
    pthread_join(t, NULL);
    (void)rc;
    size_t n;
    char *out = slurp(outf, &n);
    if (n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Run Chromium headless with @p args (shell words) on @p url; stdout to @p out. */
static int run_chromium(const char *args, const char *url, const char *out)
{
    char prof[200], cmd[2048];
    snprintf(prof, sizeof prof, "%s/chrome-XXXXXX", tmpdir);
    CU_ASSERT_FATAL(mkdtemp(prof) != NULL);
    snprintf(cmd, sizeof cmd,
             "timeout 60 %s --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--disable-dev-shm-usage --user-data-dir=%s %s '%s' > %s 2>%s/chrome.log",
             chromium_path(), prof, args, url, out, tmpdir);
    ticking = true;
    pthread_t t;
    pthread_create(&t, NULL, ticker, NULL);
    int rc = system(cmd);
    ticking = false;
    pthread_join(t, NULL);
    return rc;
}

/* manual 002 §7 sends users to /config for the IP settings: it serves the page */
static void test_http_config_page(void)
{
    start_device();
    struct resp r = get("/config");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.head, "text/html") != NULL);
    CU_ASSERT(strstr(r.body, "Save network settings") != NULL);
    CU_ASSERT(strstr(r.body, "Save MQTT settings") != NULL);
    resp_free(&r);
    stop_device();
}

static void test_http_web_page_in_chromium(void)
{
    if (chromium_path() == NULL) {
        fprintf(stderr, "\n  chromium not installed (tools/bootstrap): skipped\n");
        return;
    }
    start_device();
    sim_uart_feed(HAL_UART_P1_IN, tel50, tel50_len);
    sim_advance_ms(10);
    /* the page itself over curl: small, no external resources */
    struct resp r = get("/");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.head, "text/html") != NULL);
    CU_ASSERT(strstr(r.body, "Save MQTT settings") != NULL);
    CU_ASSERT(strstr(r.body, "http://") == NULL && strstr(r.body, "https://") == NULL);
    CU_ASSERT(r.body_len < 16384);
    resp_free(&r);

    char url[256], shot[200], args[400];
    snprintf(url, sizeof url, "http://user:%s@127.0.0.1:%u/", PASSWORD, app()->status.http_port);
    snprintf(shot, sizeof shot, "%s/page.png", tmpdir);
    snprintf(args, sizeof args, "--screenshot=%s --window-size=1280,900 --virtual-time-budget=3000",
             shot);
    char devnull[200];
    snprintf(devnull, sizeof devnull, "%s/shot.out", tmpdir);
    run_chromium(args, url, devnull);
    size_t png_len;
    char *png = slurp(shot, &png_len);
    CU_ASSERT(png_len > 8 && memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0);
    /* non-blank: a blank 1280x900 PNG compresses to a few KiB; the page is larger */
    CU_ASSERT(png_len > 20000);
    fprintf(stderr, "\n  screenshot %s: %zu bytes\n", shot, png_len);
    free(png);
    const char *keep = getenv("ML_KEEP_SCREENSHOT");
    if (keep != NULL && keep[0] != '\0') {
        char cp[600];
        snprintf(cp, sizeof cp, "cp %s '%s'", shot, keep);
        CU_ASSERT_EQUAL(system(cp), 0);
    }

    /* the user fills in and submits the MQTT form (driven over DevTools) */
    char login[256];
    snprintf(login, sizeof login, "http://user:%s@127.0.0.1:%u/", PASSWORD,
             app()->status.http_port);
    static const char js[] =
        "(async()=>{const w=()=>new Promise(r=>setTimeout(r,50));"
        "for(let i=0;i<200&&!window.cfg;i++){await w()}"
        "const m=document.getElementById('mqtt');"
        "m.querySelector('input[name=en][value=\"1\"]').checked=true;"
        "m.broker.value='mqtt://127.0.0.1:1883';m.site.value='from-browser';m.user.value='tester';"
        "m.querySelector('button[type=submit]').click();"
        "for(let i=0;i<200;i++){const t=document.getElementById('mqtt-msg').textContent;"
        "if(t){return t}await w()}return 'no answer'})()";
    char *res = run_browser(login, NULL, js, 0);
    CU_ASSERT(res != NULL && strstr(res, "\"eval\": \"Saved. Reboot to apply.\"") != NULL);
    if (res == NULL || strstr(res, "Saved.") == NULL) {
        fprintf(stderr, "\n  browser: %s\n", res != NULL ? res : "(nothing)");
    }
    free(res);
    cJSON *c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "from-browser");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Broker"), "mqtt://127.0.0.1:1883");
    CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(c, "MQTT"), "Enable")));
    cJSON_Delete(c);
    stop_device();
}

/*
 * Issue 19 #2 and #3 with a real browser: the owner is logged in to the device
 * (Basic credentials cached by Chromium), then opens a hostile page from
 * another origin. The page tries a text/plain form POST of JSON to the config,
 * a form POST to reset, no-cors fetches (reset, firmware upload, config), an
 * image GET of reset, the page in a frame with ?autotest=1&broker=..., and at
 * last navigates the tab to that link. Nothing may change.
 */
static void test_http_csrf_hostile_page_in_chromium(void)
{
    if (chromium_path() == NULL) {
        fprintf(stderr, "\n  chromium not installed (tools/bootstrap): skipped\n");
        return;
    }
    start_device();
    unsigned port = app()->status.http_port;
    char dev[64], dir[200], path[260];
    snprintf(dev, sizeof dev, "http://127.0.0.1:%u", port);
    snprintf(dir, sizeof dir, "%s/evil", tmpdir);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/evil.html", dir);
    char page[6000];
    const char *link = "/?autotest=1&broker=mqtt://127.0.0.2:1883&site=pwned";
    int n = snprintf(
        page, sizeof page,
        "<!DOCTYPE html><html><body>\n"
        "<form id=f1 method=POST action='%s/api/v1/config' enctype=text/plain target=fr1>"
        "<input name='{\"MQTT\":{\"Enable\":true,\"Broker\":\"mqtt://127.0.0.2:1883\","
        "\"Site\":\"pwned\",\"x\":\"' value='\"}}'></form>\n"
        "<form id=f2 method=POST action='%s/api/v1/reset' target=fr2>"
        "<input name=a value=1></form>\n"
        "<iframe name=fr1></iframe><iframe name=fr2></iframe>\n"
        "<iframe src='%s%s'></iframe>\n"
        "<script>\n"
        "var "
        "D='%s',o={mode:'no-cors',credentials:'include',headers:{'Content-Type':'text/plain'}};\n"
        "document.getElementById('f1').submit();document.getElementById('f2').submit();\n"
        "fetch(D+'/api/v1/reset',Object.assign({method:'POST',body:'{}'},o)).catch(function(){});\n"
        "fetch(D+'/api/v1/firmware',Object.assign({method:'POST',body:'MLFW0000'},o))"
        ".catch(function(){});\n"
        "fetch(D+'/api/v1/config',Object.assign({method:'POST',"
        "body:'{\"MQTT\":{\"Site\":\"pwned\"}}'},o)).catch(function(){});\n"
        "new Image().src=D+'/api/v1/reset';\n"
        "setTimeout(function(){fetch('/ran')},1500);\n"
        "setTimeout(function(){location.href=D+'%s'},2000);\n"
        "</script></body></html>\n",
        dev, dev, dev, link, dev, link);
    CU_ASSERT_FATAL(n > 0 && (size_t)n < sizeof page);
    write_file(path, page, (size_t)n);

    uint32_t boots = sim_boot_count();
    char login[256];
    snprintf(login, sizeof login, "http://user:%s@127.0.0.1:%u/", PASSWORD, port);
    char *res = run_browser(login, dir, NULL, 5000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    fprintf(stderr, "\n  browser: %.300s\n", res);
    /* the hostile page did run (it fetched /ran from its own server) */
    CU_ASSERT(strstr(res, "\"/ran\"") != NULL);
    CU_ASSERT(strstr(res, "\"error\": null") != NULL);
    free(res);
    /* nothing changed: no reboot, no configuration saved, broker and site as before */
    CU_ASSERT_EQUAL(sim_boot_count(), boots);
    CU_ASSERT(!app()->status.config_saved);
    cJSON *c = get_json("/api/v1/config");
    CU_ASSERT_STRING_EQUAL(jstr(c, "MQTT", "Site"), "");
    CU_ASSERT(strstr(jstr(c, "MQTT", "Broker"), "127.0.0.2") == NULL);
    cJSON_Delete(c);
    cJSON *fw = get_json("/api/v1/firmware");
    char *txt = cJSON_PrintUnformatted(fw);
    CU_ASSERT(strstr(txt, "rejected") == NULL);
    free(txt);
    cJSON_Delete(fw);
    stop_device();
}

/* ------------------------------------------------------------------------- */
/* HTTPS (issue 19 #3): the product's setting, plain_api off                 */
/* ------------------------------------------------------------------------- */

static char tls_dir[200];
static char cert_file[260];
static char dev_host[64];

/* Start the device with HTTPS on any free port, its key and certificate in @p dir. */
static void start_https_device(const char *dir)
{
    struct sc_settings s;
    sc_settings_defaults(&s);
    s.modbus_port = 0;
    s.http_port = 0;
    s.https_port = 0; /* plain_api stays off: the product */
    struct sim_config cfg = {.time_mode = SIM_TIME_VIRTUAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = PASSWORD,
                             .tls_dir = dir};
    ml_dev_sc_stop();
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&s, &cfg), 0);
    sim_advance_ms(1000);
    CU_ASSERT_FATAL(app()->status.https_port != 0 && app()->status.http_port != 0);
    snprintf(cert_file, sizeof cert_file, "%s/https_cert.pem", dir);
    snprintf(dev_host, sizeof dev_host, "%s", app()->status.hostname);
}

static void new_tls_dir(void)
{
    snprintf(tls_dir, sizeof tls_dir, "%s/tls-XXXXXX", tmpdir);
    CU_ASSERT_FATAL(mkdtemp(tls_dir) != NULL);
}

/* Run @p cmd in a shell: its stdout (malloc'ed), exit status in *@p rc. */
static char *sh(const char *cmd, int *rc)
{
    FILE *p = popen(cmd, "r");
    CU_ASSERT_FATAL(p != NULL);
    size_t cap = 65536, n = 0;
    char *b = malloc(cap);
    size_t k;
    while (n + 1 < cap && (k = fread(b + n, 1, cap - 1 - n, p)) > 0) {
        n += k;
    }
    b[n] = '\0';
    int st = pclose(p);
    if (rc != NULL) {
        *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    return b;
}

/* curl over HTTPS to the device's name (resolved to 127.0.0.1), trusting only its
 * certificate: "<status>\n<body>" (malloc'ed). */
static char *https_curl(const char *args, const char *path, int *rc)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 --cacert %s --resolve %s:%u:127.0.0.1 %s "
             "-w '\\n%%{http_code}' 'https://%s:%u%s' 2>&1",
             cert_file, dev_host, app()->status.https_port, args, dev_host,
             app()->status.https_port, path);
    return sh(cmd, rc);
}

/* The SHA-256 fingerprint of the certificate the device serves on its HTTPS port. */
static char *served_fingerprint(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%u -servername %s </dev/null 2>/dev/null | "
             "openssl x509 -noout -fingerprint -sha256",
             app()->status.https_port, dev_host);
    return sh(cmd, NULL);
}

static void test_https_device_certificate_curl_and_s_client(void)
{
    new_tls_dir();
    start_https_device(tls_dir);
    struct stat st;
    char key[260];
    snprintf(key, sizeof key, "%s/https_key.pem", tls_dir);
    CU_ASSERT(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
    CU_ASSERT(strncmp(dev_host, "smart-connect-", 14) == 0);

    /* the certificate names the device: CN and SAN = its host name and .local name */
    char cmd[1024], want[200];
    snprintf(cmd, sizeof cmd, "openssl x509 -in %s -noout -subject -ext subjectAltName", cert_file);
    char *x = sh(cmd, NULL);
    snprintf(want, sizeof want, "CN = %s", dev_host);
    CU_ASSERT(strstr(x, want) != NULL);
    snprintf(want, sizeof want, "DNS:%s,", dev_host);
    CU_ASSERT(strstr(x, want) != NULL);
    snprintf(want, sizeof want, "DNS:%s.local", dev_host);
    CU_ASSERT(strstr(x, want) != NULL);
    free(x);

    /* openssl s_client verifies the chain and the name against the device's certificate */
    int rc = -1;
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%u -servername %s -CAfile %s "
             "-verify_hostname %s -verify_return_error -brief </dev/null 2>&1",
             app()->status.https_port, dev_host, cert_file, dev_host);
    x = sh(cmd, &rc);
    CU_ASSERT(strstr(x, "Verification: OK") != NULL);
    if (strstr(x, "Verification: OK") == NULL) {
        fprintf(stderr, "\n  s_client: %s\n", x);
    }
    free(x);
    snprintf(cmd, sizeof cmd,
             "openssl s_client -connect 127.0.0.1:%u -CAfile %s -verify_hostname evil.example "
             "-verify_return_error -brief </dev/null 2>&1",
             app()->status.https_port, cert_file);
    x = sh(cmd, &rc);
    CU_ASSERT(strstr(x, "Verification: OK") == NULL && rc != 0); /* another name: refused */
    free(x);

    /* curl: the API with the login, trusting only this certificate */
    x = https_curl("-u user:" PASSWORD, "/api/v1/status", &rc);
    CU_ASSERT(rc == 0 && strstr(x, "\"Serial\":\"" SERIAL "\"") != NULL &&
              strstr(x, "\n200") != NULL);
    free(x);
    x = https_curl("", "/api/v1/status", &rc); /* still Basic authentication */
    CU_ASSERT(strstr(x, "\n401") != NULL);
    free(x);
    /* HSTS: a browser that trusts the device never asks for it over plain HTTP again */
    x = https_curl("-D - -u user:" PASSWORD, "/api/v1/status", &rc);
    CU_ASSERT(strstr(x, "Strict-Transport-Security: max-age=31536000\r\n") != NULL);
    free(x);
    /* DNS rebinding: a foreign name for the device gets 421, not a login prompt */
    x = https_curl("-D - -u user:" PASSWORD " -H 'Host: evil.example'", "/api/v1/status", &rc);
    CU_ASSERT(strstr(x, "\n421") != NULL);
    CU_ASSERT(strstr(x, "WWW-Authenticate") == NULL && strstr(x, SERIAL) == NULL);
    free(x);
    x = https_curl("-D - -H 'Host: evil.example'", "/", &rc);
    CU_ASSERT(strstr(x, "\n421") != NULL && strstr(x, "WWW-Authenticate") == NULL);
    free(x);
    x = https_curl("-u user:" PASSWORD " -H 'Host: SMART-CONNECT.local'", "/api/v1/status", &rc);
    CU_ASSERT(strstr(x, "\n200") != NULL); /* the manual's name for it */
    free(x);
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 -o /dev/null -w '%%{http_code}' "
             "'https://127.0.0.1:%u/api/v1/status' 2>/dev/null",
             app()->status.https_port);
    x = sh(cmd, &rc);
    CU_ASSERT(rc == 60); /* not in curl's default trust store: refused */
    free(x);

    /* the page's own origin is https://: a PATCH from it lands, from http:// it does not */
    char args[512];
    snprintf(args, sizeof args,
             "-u user:" PASSWORD " -X PATCH -H 'Content-Type: application/json' "
             "-H 'Origin: https://%s:%u' --data '{\"MQTT\":{\"Site\":\"tls-site\"}}'",
             dev_host, app()->status.https_port);
    x = https_curl(args, "/api/v1/config", &rc);
    CU_ASSERT(strstr(x, "tls-site") != NULL && strstr(x, "\n200") != NULL);
    free(x);
    snprintf(args, sizeof args,
             "-u user:" PASSWORD " -X PATCH -H 'Content-Type: application/json' "
             "-H 'Origin: http://%s:%u' --data '{\"MQTT\":{\"Site\":\"plain-site\"}}'",
             dev_host, app()->status.https_port);
    x = https_curl(args, "/api/v1/config", &rc);
    CU_ASSERT(strstr(x, "\n403") != NULL);
    free(x);
    stop_device();
}

/* Plain HTTP: the landing page (link + status dots, no form, no secret), the
 * rest refused with the https URL, whatever the credentials. */
/*
 * Issue 19 #1 through TLS: the page and the API are on HTTPS, so the same flood
 * of 50 half-open connections goes to the HTTPS port with the first byte of a
 * TLS handshake that never completes; a good client (curl, trusting only the
 * device's certificate, from another host address) gets every answer within 1 s.
 * Real time.
 */
static void test_https_half_open_tls_flood_good_client_served(void)
{
    new_tls_dir();
    struct sc_settings set;
    sc_settings_defaults(&set);
    set.modbus_port = 0;
    set.http_port = 0;
    set.https_port = 0;
    struct sim_config cfg = {.time_mode = SIM_TIME_REAL,
                             .utc_at_start = 1767225600,
                             .serial = SERIAL,
                             .label_password = PASSWORD,
                             .busy_poll_us = -1,
                             .tls_dir = tls_dir};
    ml_dev_sc_stop();
    CU_ASSERT_EQUAL_FATAL(ml_dev_sc_start(&set, &cfg), 0);
    for (int i = 0; i < 200 && app()->status.https_port == 0; i++) {
        usleep(10000);
    }
    CU_ASSERT_FATAL(app()->status.https_port != 0);
    snprintf(cert_file, sizeof cert_file, "%s/https_cert.pem", tls_dir);
    static struct flood fl;
    fl.run = true;
    fl.n = 50;
    fl.reopened = 0;
    fl.tls = true;
    connect_port = app()->status.https_port;
    pthread_t t;
    pthread_create(&t, NULL, flood_main, &fl);
    usleep(500000); /* the flood is in place */
    int ok = 0, total = 0;
    double worst = 0;
    double end = mono_ms() + 12000; /* > 2 request deadlines */
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "curl -s --max-time 5 --interface 127.0.0.1 --cacert %s -o /dev/null "
             "-w '%%{http_code}' 'https://user:%s@127.0.0.1:%u/api/v1/status'",
             cert_file, PASSWORD, app()->status.https_port);
    while (mono_ms() < end) {
        double t0 = mono_ms();
        char *x = sh(cmd, NULL);
        double dt = mono_ms() - t0;
        total++;
        if (strcmp(x, "200") == 0) {
            ok++;
        }
        free(x);
        worst = dt > worst ? dt : worst;
        usleep(200000);
    }
    fl.run = false;
    pthread_join(t, NULL);
    connect_port = 0;
    fprintf(stderr, "\n  TLS flood: %d/%d answers ok, worst %.1f ms (curl included), %d reopened\n",
            ok, total, worst, fl.reopened);
    CU_ASSERT(total >= 20);
    CU_ASSERT_EQUAL(ok, total);
    CU_ASSERT(worst < 1000.0);
    ml_dev_sc_stop();
}

static void test_https_plain_http_landing_only(void)
{
    new_tls_dir();
    start_https_device(tls_dir);
    uint32_t boots = sim_boot_count();
    struct resp r = curl_req("GET", "/", NULL, NULL, 0, "");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.head, "text/html") != NULL);
    CU_ASSERT(strstr(r.head, "WWW-Authenticate") == NULL);
    CU_ASSERT(strstr(r.head, "Strict-Transport-Security") == NULL); /* meaningless in clear */
    char want[200];
    snprintf(want, sizeof want, "href=\"https://127.0.0.1:%u/\"", app()->status.https_port);
    CU_ASSERT(strstr(r.body, want) != NULL);
    CU_ASSERT(strstr(r.body, "id=dots") != NULL && strstr(r.body, ">Network<") != NULL);
    CU_ASSERT(strstr(r.body, "<form") == NULL && strstr(r.body, "<input") == NULL &&
              strstr(r.body, "<script") == NULL);
    CU_ASSERT(strstr(r.body, PASSWORD) == NULL && strstr(r.body, "assword") == NULL);
    CU_ASSERT(strstr(r.body, "Broker") == NULL && strstr(r.body, "xemex") == NULL);
    resp_free(&r);
    /* the link is built from Host only when it is a plain name */
    r = curl_req("GET", "/", NULL, NULL, 0, "-H 'Host: <b>x</b>'");
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT(strstr(r.body, "<b>") == NULL);
    resp_free(&r);
    /* the API and the configuration, with or without the login: 403 + the https URL */
    static const char *const paths[] = {"/api/v1/config", "/api/v1/status", "/api/v1/telegram",
                                        "/api/v1/firmware", "/favicon.ico"};
    for (size_t i = 0; i < ML_ARRAY_SIZE(paths); i++) {
        r = curl_req("GET", paths[i], AUTH, NULL, 0, "");
        CU_ASSERT_EQUAL(r.status, 403);
        CU_ASSERT(strstr(r.body, "https://127.0.0.1:") != NULL);
        CU_ASSERT(strstr(r.body, "Broker") == NULL && strstr(r.body, "Serial") == NULL);
        CU_ASSERT(strstr(r.head, "WWW-Authenticate") == NULL);
        resp_free(&r);
    }
    r = curl_req("PATCH", "/api/v1/config", AUTH, "{\"MQTT\":{\"Site\":\"clear\"}}", 26, "");
    CU_ASSERT_EQUAL(r.status, 403);
    resp_free(&r);
    r = curl_req("POST", "/api/v1/reset", AUTH, "{}", 2, "");
    CU_ASSERT_EQUAL(r.status, 403);
    resp_free(&r);
    sim_advance_ms(1000);
    CU_ASSERT_EQUAL(sim_boot_count(), boots); /* no reboot */
    CU_ASSERT(!app()->status.config_saved);   /* nothing saved */
    /* a TLS client on the plain port, a plain client on the TLS port: nothing served */
    int rc;
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 20 -o /dev/null -w '%%{http_code}' "
             "'http://127.0.0.1:%u/api/v1/status' 2>/dev/null",
             app()->status.https_port);
    char *x = sh(cmd, &rc);
    CU_ASSERT(rc != 0 && strcmp(x, "000") == 0);
    free(x);
    stop_device();
}

/* The key and certificate are made once: the same after a power cycle and a new
 * process on the same state; another device (state) has its own. */
static void test_https_certificate_stable_across_restart(void)
{
    new_tls_dir();
    start_https_device(tls_dir);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "openssl x509 -in %s -noout -fingerprint -sha256", cert_file);
    char *file_fp = sh(cmd, NULL);
    char *fp1 = served_fingerprint();
    CU_ASSERT(strstr(fp1, "Fingerprint=") != NULL);
    CU_ASSERT_STRING_EQUAL(fp1, file_fp); /* it serves the certificate it stored */
    CU_ASSERT_EQUAL(sim_power_cycle(), 0);
    sim_advance_ms(1000);
    char *fp2 = served_fingerprint();
    CU_ASSERT_STRING_EQUAL(fp2, fp1);
    stop_device();
    start_https_device(tls_dir); /* a new start on the same state dir */
    char *fp3 = served_fingerprint();
    CU_ASSERT_STRING_EQUAL(fp3, fp1);
    stop_device();
    char first[200];
    snprintf(first, sizeof first, "%s", tls_dir);
    new_tls_dir(); /* another device */
    start_https_device(tls_dir);
    char *fp4 = served_fingerprint();
    CU_ASSERT(strstr(fp4, "Fingerprint=") != NULL && strcmp(fp4, fp1) != 0);
    stop_device();
    /* a key left readable by others is made private again at the next start */
    char key[260];
    snprintf(key, sizeof key, "%s/https_key.pem", first);
    CU_ASSERT(chmod(key, 0644) == 0);
    start_https_device(first);
    struct stat st;
    CU_ASSERT(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600);
    char *fp5 = served_fingerprint();
    CU_ASSERT_STRING_EQUAL(fp5, fp1);
    stop_device();
    free(file_fp);
    free(fp1);
    free(fp2);
    free(fp3);
    free(fp4);
    free(fp5);
}

/* Chromium trusts exactly the device's certificate (its SPKI pin), loads the page
 * over https and submits the MQTT form: the PATCH from the https origin lands. */
static void test_https_web_page_in_chromium(void)
{
    if (chromium_path() == NULL) {
        fprintf(stderr, "\n  chromium not installed (tools/bootstrap): skipped\n");
        return;
    }
    new_tls_dir();
    start_https_device(tls_dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd,
             "openssl x509 -in %s -pubkey -noout | openssl pkey -pubin -outform der | "
             "openssl dgst -sha256 -binary | base64 | tr -d '\\n'",
             cert_file);
    char *spki = sh(cmd, NULL);
    CU_ASSERT_FATAL(strlen(spki) == 44);
    snprintf(browser_extra, sizeof browser_extra,
             "--chromium-arg=--ignore-certificate-errors-spki-list=%s "
             "--chromium-arg=--host-resolver-rules='MAP %s 127.0.0.1'",
             spki, dev_host);
    free(spki);
    char login[256];
    snprintf(login, sizeof login, "https://user:%s@%s:%u/", PASSWORD, dev_host,
             app()->status.https_port);
    static const char js[] =
        "(async()=>{const w=()=>new Promise(r=>setTimeout(r,50));"
        "for(let i=0;i<200&&!window.cfg;i++){await w()}"
        "if(location.protocol!=='https:'){return 'not https: '+location.href}"
        "const m=document.getElementById('mqtt');"
        "m.site.value='from-https';"
        "m.querySelector('button[type=submit]').click();"
        "for(let i=0;i<200;i++){const t=document.getElementById('mqtt-msg').textContent;"
        "if(t){return t}await w()}return 'no answer'})()";
    char *res = run_browser(login, NULL, js, 0);
    browser_extra[0] = '\0';
    CU_ASSERT(res != NULL && strstr(res, "\"eval\": \"Saved. Reboot to apply.\"") != NULL);
    if (res == NULL || strstr(res, "Saved.") == NULL) {
        fprintf(stderr, "\n  browser: %s\n", res != NULL ? res : "(nothing)");
    }
    free(res);
    int rc;
    char *x = https_curl("-u user:" PASSWORD, "/api/v1/config", &rc);
    CU_ASSERT(strstr(x, "\"from-https\"") != NULL);
    free(x);
    stop_device();
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ml-http-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return 1;
    }
    tel50 = ml_test_read_file("src:scenarios/telegrams/dsmr/dsmr50_spec_3ph.txt", &tel50_len);
    static const struct ml_test_case cases[] = {
        {"test_http_auth_401_backoff_429", test_http_auth_401_backoff_429},
        {"test_http_config_get_patch_and_errors", test_http_config_get_patch_and_errors},
        {"test_http_config_survives_power_cycle_and_applies",
         test_http_config_survives_power_cycle_and_applies},
        {"test_http_config_flash_failure_500_changes_nothing",
         test_http_config_flash_failure_500_changes_nothing},
        {"test_http_status_telegram_reset", test_http_status_telegram_reset},
        {"test_http_dhcp_fails_link_local_no_ip_led", test_http_dhcp_fails_link_local_no_ip_led},
        {"test_http_firmware_upload_pending", test_http_firmware_upload_pending},
        {"test_http_firmware_unsigned_or_foreign_rejected_pending_kept",
         test_http_firmware_unsigned_or_foreign_rejected_pending_kept},
        {"test_http_firmware_replace_pending_trial_rollback",
         test_http_firmware_replace_pending_trial_rollback},
        {"test_http_firmware_boot_rechecks_signature", test_http_firmware_boot_rechecks_signature},
        {"test_http_firmware_old_boot_record_still_read",
         test_http_firmware_old_boot_record_still_read},
        {"test_http_connections_at_once_and_408", test_http_connections_at_once_and_408},
        {"test_http_half_open_flood_good_client_served",
         test_http_half_open_flood_good_client_served},
        {"test_http_backoff_per_address_and_one_user", test_http_backoff_per_address_and_one_user},
        {"test_http_state_changes_need_json_and_same_origin",
         test_http_state_changes_need_json_and_same_origin},
        {"test_http_config_page", test_http_config_page},
        {"test_http_web_page_in_chromium", test_http_web_page_in_chromium},
        {"test_http_csrf_hostile_page_in_chromium", test_http_csrf_hostile_page_in_chromium},
        {"test_https_half_open_tls_flood_good_client_served",
         test_https_half_open_tls_flood_good_client_served},
        {"test_https_device_certificate_curl_and_s_client",
         test_https_device_certificate_curl_and_s_client},
        {"test_https_plain_http_landing_only", test_https_plain_http_landing_only},
        {"test_https_certificate_stable_across_restart",
         test_https_certificate_stable_across_restart},
        {"test_https_web_page_in_chromium", test_https_web_page_in_chromium},
    };
    int rc = ml_test_run("http_api", cases, ML_ARRAY_SIZE(cases), NULL, NULL);
    free(tel50);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (getenv("ML_KEEP_TMP") == NULL && system(cmd) != 0) {
        rc = rc ? rc : 0;
    }
    return rc;
}
