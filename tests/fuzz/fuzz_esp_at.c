/*
 * libFuzzer target for core/esp_at: the input is what the ESP-AT module sends
 * back over the co-processor UART (answers, URCs, +IPD data, prompts, garbage),
 * delivered in chunks whose sizes come from the input itself, while the client
 * is asked to bring the network up, listen on two ports, run MQTT, accept,
 * receive, send and publish, open a client connection (AT+CIPSTART), subscribe
 * and take received MQTT messages, with the clock moving on. Invariants checked:
 *  - reads never return more than asked, and only from accepted slots;
 *  - the client never writes more than it was offered (the write callback
 *    counts) and never overruns its own buffers (ASan/UBSan in the fuzz build);
 *  - its next deadline is never in the past by more than one poll step;
 *  - accessors stay in range (slots, listener ports, MQTT state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "esp_at/esp_at.h"

struct feed {
    const uint8_t *p;
    size_t n, pos;
    size_t chunk;
    size_t written;
};

static void check(int cond)
{
    if (!cond) {
        abort();
    }
}

static int io_read(void *ctx, uint8_t *buf, size_t cap)
{
    struct feed *f = ctx;
    size_t left = f->n - f->pos;
    size_t k = f->chunk < left ? f->chunk : left;
    if (k > cap) {
        k = cap;
    }
    memcpy(buf, f->p + f->pos, k);
    f->pos += k;
    return (int)k;
}

static int io_write(void *ctx, const uint8_t *buf, size_t len)
{
    struct feed *f = ctx;
    (void)buf;
    /* accept a part now and then, as a full UART TX ring does */
    size_t k = (f->written++ % 3u) == 2u && len > 1 ? len / 2 : len;
    return (int)k;
}

static struct ml_esp_at at;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct feed f = {data, size, 0, 1, 0};
    struct ml_esp_at_io io = {io_read, io_write, &f};
    uint64_t now = 1000;
    ml_esp_at_init(&at, &io, now);
    (void)ml_esp_at_net_up(&at, ML_ESP_AT_IF_ETH, "", "");
    (void)ml_esp_at_dhcp_start(&at);
    int l1 = ml_esp_at_listen(&at, 502);
    int l2 = ml_esp_at_listen(&at, 80);
    struct ml_esp_at_mqtt_cfg mc = {ML_ESP_AT_MQTT_TCP, "broker.example", 1883, "SC1", "u", "p"};
    (void)ml_esp_at_mqtt_start(&at, &mc);
    int conn = -1;
    uint8_t buf[300];
    int cli = ml_esp_at_connect(&at, 0x7F000001u, 8080);
    check(cli >= 0 && cli < ML_ESP_AT_SLOTS);
    check(ml_esp_at_send(&at, cli, (const uint8_t *)"GET / HTTP/1.0\r\n\r\n", 18) == 18);
    for (size_t step = 0; step < 4096 && (f.pos < f.n || step < 64); step++) {
        f.chunk = f.pos < f.n ? 1u + (data[f.pos] & 0x3Fu) : 0u;
        ml_esp_at_poll(&at, now);
        uint64_t dl = ml_esp_at_next_deadline(&at);
        check(dl + 1000u >= now);
        if (conn < 0 && l1 >= 0) {
            conn = ml_esp_at_accept(&at, l1);
            check(conn < ML_ESP_AT_SLOTS);
        }
        if (conn < 0 && l2 >= 0) {
            conn = ml_esp_at_accept(&at, l2);
            check(conn < ML_ESP_AT_SLOTS);
        }
        if (conn >= 0) {
            int r = ml_esp_at_recv(&at, conn, buf, sizeof buf);
            check(r <= (int)sizeof buf);
            if (r > 0) {
                (void)ml_esp_at_send(&at, conn, buf, (size_t)r);
            } else if (r < 0 && r != ML_EAGAIN) {
                ml_esp_at_close(&at, conn);
                conn = -1;
            }
        }
        if (cli >= 0) {
            enum ml_esp_at_op cs = ml_esp_at_connect_state(&at, cli);
            check(cs == ML_ESP_AT_OP_PENDING || cs == ML_ESP_AT_OP_OK || cs == ML_ESP_AT_OP_FAILED);
            int r = ml_esp_at_recv(&at, cli, buf, sizeof buf);
            check(r <= (int)sizeof buf);
            if (r < 0 && r != ML_EAGAIN) {
                ml_esp_at_close(&at, cli);
                cli = -1;
            }
        }
        {
            char topic[ML_ESP_AT_SUB_TOPIC_MAX + 1];
            size_t n = 0;
            int r = ml_esp_at_mqtt_receive(&at, topic, sizeof topic, buf, sizeof buf, &n);
            check(r != ML_OK || (n <= sizeof buf && memchr(topic, 0, sizeof topic) != NULL));
        }
        enum ml_esp_at_mqtt_state ms = ml_esp_at_mqtt_state(&at);
        check(ms == ML_ESP_AT_MQTT_DISABLED || ms == ML_ESP_AT_MQTT_CONNECTING ||
              ms == ML_ESP_AT_MQTT_CONNECTED || (unsigned)ms < 8u);
        if (ms == ML_ESP_AT_MQTT_CONNECTED && step % 16u == 0u) {
            (void)ml_esp_at_mqtt_publish(&at, "devices/x/data/power_instant", "{\"P\":1}", 7);
        }
        if (ms == ML_ESP_AT_MQTT_CONNECTED && step % 32u == 5u) {
            (void)ml_esp_at_mqtt_subscribe(&at, "devices/x/cmd/+");
        }
        (void)ml_esp_at_utc(&at);
        now += f.pos < f.n ? 7u : 700u; /* time moves on; faster once the input ends */
    }
    if (l1 >= 0) {
        (void)ml_esp_at_local_port(&at, l1);
    }
    return 0;
}
