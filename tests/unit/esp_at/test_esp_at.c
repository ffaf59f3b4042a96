/*
 * Unit tests of the ESP-AT client core with a scripted module: the test reads
 * the commands the client writes and feeds replies byte by byte or in random
 * chunks, with garbage, URCs inside responses, split payloads and timeouts in
 * virtual time.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ml_config.h"
#include "esp_at/esp_at.h"
#include "ml_test.h"

static struct ml_esp_at at;
static uint64_t t;        /* virtual ms */
static uint8_t in[16384]; /* module -> client */
static size_t in_head, in_tail;
static char out[16384]; /* client -> module */
static size_t out_len;
static size_t chunk; /* 0: random chunks, else fixed size */
static uint32_t seed = 1;
static size_t write_cap = 100000; /* bytes the "UART" accepts per write */

static int io_read(void *ctx, uint8_t *buf, size_t cap)
{
    (void)ctx;
    size_t k = chunk != 0 ? chunk : 1u + ml_test_rand(&seed) % 17u;
    size_t avail = in_tail - in_head;
    if (k > avail) {
        k = avail;
    }
    if (k > cap) {
        k = cap;
    }
    memcpy(buf, in + in_head, k);
    in_head += k;
    return (int)k;
}

static int io_write(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    if (len > write_cap) {
        len = write_cap;
    }
    CU_ASSERT_FATAL(out_len + len < sizeof out);
    memcpy(out + out_len, buf, len);
    out_len += len;
    return (int)len;
}

static void feed_n(const void *p, size_t n)
{
    CU_ASSERT_FATAL(in_tail + n <= sizeof in);
    memcpy(in + in_tail, p, n);
    in_tail += n;
}

static void feed(const char *s)
{
    feed_n(s, strlen(s));
}

static void poll_all(void)
{
    for (int i = 0; i < 400 && (in_head < in_tail || i < 200); i++) {
        ml_esp_at_poll(&at, t);
    }
}

/* Take the next command line the client wrote ("" when none). */
static const char *next_cmd(void)
{
    static char line[300];
    poll_all();
    char *nl = memchr(out, '\n', out_len);
    if (nl == NULL) {
        return "";
    }
    size_t n = (size_t)(nl - out) + 1u;
    size_t k = n >= 2u && out[n - 2u] == '\r' ? n - 2u : n - 1u;
    memcpy(line, out, k);
    line[k] = '\0';
    memmove(out, out + n, out_len - n);
    out_len -= n;
    return line;
}

#define EXPECT_CMD(s) CU_ASSERT_STRING_EQUAL(next_cmd(), s)

static const struct ml_esp_at_io io = {io_read, io_write, NULL};

static void boot(void)
{
    ml_esp_at_init(&at, &io, t);
    EXPECT_CMD("AT+RST");
    feed("\r\nOK\r\n");
    poll_all();
    feed("\r\n\xff\xfe boot noise\r\nready\r\n");
    static const char *const seq[] = {"ATE0",
                                      "AT+SYSMSG=2",
                                      "AT+CIPMUX=1",
                                      "AT+CIPRECVMODE=1",
                                      "AT+CIPSERVERMAXCONN=5",
                                      "AT+CWMODE=1",
                                      "AT+CIPSNTPCFG=1,0,\"pool.ntp.org\""};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        EXPECT_CMD(seq[i]);
        feed("\r\nOK\r\n");
    }
    poll_all();
    CU_ASSERT_TRUE(ml_esp_at_is_ready(&at));
}

/* Eth link with an address, a listener on 502 opened, connection on link 0. */
static int boot_with_conn(int *listener)
{
    boot();
    feed("+ETH_CONNECTED\r\n+ETH_GOT_IP:192.168.1.50\r\n");
    ml_esp_at_net_up(&at, ML_ESP_AT_IF_ETH, NULL, NULL);
    *listener = ml_esp_at_listen(&at, 502);
    EXPECT_CMD("AT+CIPSERVER=1,502");
    feed("\r\nOK\r\n");
    poll_all();
    EXPECT_CMD("AT+CIPSNTPTIME?");
    feed("+CIPSNTPTIME:Mon Nov 23 12:00:00 2026\r\n\r\nOK\r\n");
    feed("+LINK_CONN:0,0,\"TCP\",1,\"10.0.0.9\",40000,502\r\n");
    poll_all();
    return ml_esp_at_accept(&at, *listener);
}

static void setup(void)
{
    in_head = in_tail = out_len = 0;
    chunk = 0;
    write_cap = 100000;
    t = 1000;
}

static void teardown(void)
{
}

/* ------------------------------------------------------------------------- */

static void test_boot_byte_by_byte(void)
{
    chunk = 1;
    boot();
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.resets, 1);
    CU_ASSERT_EQUAL(s.commands, 8);
    CU_ASSERT_EQUAL(s.errors, 0);
    CU_ASSERT_EQUAL(s.garbage, 1);          /* the boot noise line */
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* idle: nothing wanted */
}

static void test_boot_random_chunks_and_slow_uart(void)
{
    write_cap = 3; /* the TX ring takes a few bytes at a time */
    for (uint32_t s = 1; s < 20; s++) {
        seed = s;
        setup();
        write_cap = 3;
        boot();
    }
}

static void test_garbage_and_long_lines_are_skipped(void)
{
    chunk = 5;
    boot();
    char longline[400];
    memset(longline, 'x', sizeof longline - 3);
    memcpy(longline + sizeof longline - 3, "\r\n", 3);
    feed(longline);
    feed("OK garbage\r\n\xfe\xfe\r\nAT+CIPMUX=1\r\n"); /* an echo is not an answer */
    CU_ASSERT_EQUAL(ml_esp_at_ping_start(&at, 0x0A000001u), ML_OK);
    EXPECT_CMD("AT+PING=\"10.0.0.1\"");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_PENDING);
    feed("+PING:12\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_OK);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.garbage, 1 + 3); /* boot noise, long line, "OK garbage", \xfe\xfe */
}

static void test_urc_inside_a_response(void)
{
    boot();
    int l = ml_esp_at_listen(&at, 502);
    EXPECT_CMD("AT+CIPSERVER=1,502");
    feed("\r\nOK\r\n");
    ml_esp_at_net_up(&at, ML_ESP_AT_IF_WIFI, "net", "secret12");
    EXPECT_CMD("AT+CWJAP=\"net\",\"secret12\"");
    feed("WIFI CONNECTED\r\n");
    feed("+LINK_CONN:0,3,\"TCP\",1,\"10.0.0.9\",40000,502\r\n"); /* in the middle */
    feed("WIFI GOT IP\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_TRUE(ml_esp_at_link_is_up(&at, ML_ESP_AT_IF_WIFI));
    EXPECT_CMD("AT+CIPSNTPTIME?"); /* an address: the clock is asked for */
    feed("+CIPSNTPTIME:Mon Nov 23 12:00:00 2026\r\n\r\nOK\r\n");
    poll_all();
    ml_esp_at_dhcp_start(&at);
    EXPECT_CMD("AT+CWDHCP=1,1");
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+CIPSTA?");
    feed("+CIPSTA:ip:\"192.168.3.112\"\r\n+IPD,3,4\r\n+CIPSTA:gateway:\"192.168.3.1\"\r\n");
    feed("+CIPSTA:netmask:\"255.255.255.0\"\r\n+CIPSTA:ip6ll:\"fe80::1\"\r\n\r\nOK\r\n");
    poll_all();
    struct ml_esp_at_ipv4 a;
    CU_ASSERT_EQUAL(ml_esp_at_dhcp_state(&at, &a), ML_ESP_AT_OP_OK);
    CU_ASSERT_EQUAL(a.ip, 0xC0A80370u);
    CU_ASSERT_EQUAL(a.gateway, 0xC0A80301u);
    CU_ASSERT_EQUAL(a.netmask, 0xFFFFFF00u);
    CU_ASSERT_EQUAL(a.dns, a.gateway);
    int c = ml_esp_at_accept(&at, l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    EXPECT_CMD("AT+CIPRECVDATA=3,256"); /* the +IPD seen inside the answer */
    feed("+CIPRECVDATA:4,ab\r\n\r\nOK\r\n");
    poll_all();
    uint8_t buf[8];
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), 4);
    CU_ASSERT_EQUAL(memcmp(buf, "ab\r\n", 4), 0);
}

static void test_active_ipd_split_across_reads(void)
{
    chunk = 3;
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    ml_esp_at_ping_start(&at, 0x0A000001u);
    EXPECT_CMD("AT+PING=\"10.0.0.1\"");
    /* a payload that looks like an answer must not complete the command */
    feed("+IPD,0,13:\r\nOK\r\nERROR\r\n");
    feed("+IPD,0,3:xyz");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_PENDING);
    uint8_t buf[32];
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), 16);
    CU_ASSERT_EQUAL(memcmp(buf, "\r\nOK\r\nERROR\r\nxyz", 16), 0);
    feed("\r\n+PING:TIMEOUT\r\n\r\nERROR\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_FAILED);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), ML_EAGAIN);
}

static void test_passive_receive_respects_ring_space(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    feed("+IPD,0,2000\r\n");
    static char data[600];
    memset(data, 'd', sizeof data);
    /* the receive ring is the target's ML_ESP_AT_RX_CAP (ml_config.h): 256 B */
    CU_ASSERT_EQUAL_FATAL(ML_ESP_AT_RX_CAP, 256);
    EXPECT_CMD("AT+CIPRECVDATA=0,256"); /* one burst stays small for the UART ring */
    feed("+CIPRECVDATA:256,");
    feed_n(data, 256);
    feed("\r\nOK\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* ring full (256): wait for the app */
    uint8_t buf[700];
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, 100), 100);
    EXPECT_CMD("AT+CIPRECVDATA=0,100"); /* room again: fetch more */
    feed("+CIPRECVDATA:50,");
    feed_n(data, 50);
    feed("\r\nOK\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* less than asked: all fetched */
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), 206);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), ML_EAGAIN);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.rx_bytes, 306);
    CU_ASSERT_EQUAL(s.rx_dropped, 0);
}

static void test_send_with_prompt(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, c, (const uint8_t *)"hello", 5), 5);
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* in the ring */
    EXPECT_CMD("AT+CIPSEND=0,5");
    CU_ASSERT_EQUAL(out_len, 0);                   /* nothing before the prompt */
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* waiting for the prompt */
    feed("\r\nOK\r\n\r\n>");
    poll_all();
    CU_ASSERT_EQUAL(out_len, 5);
    CU_ASSERT_EQUAL(memcmp(out, "hello", 5), 0);
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* written, SEND OK not seen */
    out_len = 0;
    feed("\r\nRecv 5 bytes\r\n\r\nSEND OK\r\n");
    poll_all();
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.tx_bytes, 5);
    /* close: AT+CIPCLOSE, the slot is free after the answer */
    ml_esp_at_close(&at, c);
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* the close is output too */
    EXPECT_CMD("AT+CIPCLOSE=0");
    feed("0,CLOSED\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, (uint8_t *)out, 1), ML_EBADF);
}

/* A module that is not ready drains nothing: no output counts as pending, so a
 * firmware reset does not wait for it. */
static void test_output_not_pending_without_module(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, c, (const uint8_t *)"abc", 3), 3);
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at));
    ml_esp_at_reset(&at); /* asked for: the links and their output go with it */
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
}

static void test_busy_repeats_the_command(void)
{
    boot();
    ml_esp_at_ping_start(&at, 0x0A000001u);
    EXPECT_CMD("AT+PING=\"10.0.0.1\"");
    feed("busy p...\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* not at once */
    t += ML_ESP_AT_BUSY_RETRY_MS;
    EXPECT_CMD("AT+PING=\"10.0.0.1\"");
    feed("+PING:3\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_OK);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.busy, 1);
}

/* hal_net_set_mdns() on the Cortex-M port: the module announces
 * smart-connect, the DHCP host name stays the serial one */
static void test_mdns_name_replaces_host_name(void)
{
    int l;
    CU_ASSERT_TRUE_FATAL(boot_with_conn(&l) >= 0);
    CU_ASSERT_EQUAL(ml_esp_at_set_mdns_name(&at, "Smart-Connect"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_set_mdns_name(&at, "smart-connect-0123456789abcdefghij"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_set_hostname(&at, "smart-connect-sc1"), ML_OK);
    CU_ASSERT_EQUAL(ml_esp_at_set_mdns_name(&at, "smart-connect"), ML_OK);
    EXPECT_CMD("AT+CWHOSTNAME=\"smart-connect-sc1\"");
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MDNS=1,\"smart-connect\",\"_http\",80");
    feed("\r\nOK\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
}

static void test_timeouts_reset_the_module(void)
{
    boot();
    for (int i = 0; i < 3; i++) {
        ml_esp_at_ping_start(&at, 0x0A000001u);
        EXPECT_CMD("AT+PING=\"10.0.0.1\"");
        t += ML_ESP_AT_TMO_PING_MS - 1u;
        poll_all();
        CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_PENDING);
        t += 1u;
        poll_all();
        CU_ASSERT_EQUAL(ml_esp_at_ping_state(&at), ML_ESP_AT_OP_FAILED);
    }
    EXPECT_CMD("AT+RST");
    t += ML_ESP_AT_TMO_READY_MS; /* no answer: reset again */
    EXPECT_CMD("AT+RST");
    feed("\r\nOK\r\nready\r\n");
    EXPECT_CMD("ATE0");
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.timeouts, 4);
}

static void test_unsolicited_ready_reapplies_state(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    ml_esp_at_set_hostname(&at, "sc-1");
    EXPECT_CMD("AT+CWHOSTNAME=\"sc-1\"");
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MDNS=1,\"sc-1\",\"_http\",80");
    feed("\r\nOK\r\nready\r\n"); /* the module restarted */
    poll_all();
    uint8_t b;
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, &b, 1), ML_ECONNREFUSED);
    CU_ASSERT_FALSE(ml_esp_at_is_ready(&at));
    EXPECT_CMD("ATE0");
    for (int i = 0; i < 7; i++) {
        feed("\r\nOK\r\n");
        next_cmd();
    }
    /* after the init sequence: host name and the server again */
    CU_ASSERT_TRUE(ml_esp_at_is_ready(&at));
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+CIPSERVER=1,502");
    ml_esp_at_close(&at, c);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, &b, 1), ML_EBADF);
}

static void test_server_error_is_retried(void)
{
    boot();
    ml_esp_at_listen(&at, 80);
    EXPECT_CMD("AT+CIPSERVER=1,80");
    feed("\r\nERROR\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
    t += 1000;
    EXPECT_CMD("AT+CIPSERVER=1,80");
    feed("\r\nOK\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
}

/* While the client holds back (a server that failed is retried after 1 s) with
 * a module reset and an MQTT attempt due, its next deadline is the end of the
 * hold, not the overdue attempt: a loop waiting for it would spin. */
static void test_deadline_not_in_the_past_while_holding_back(void)
{
    boot();
    ml_esp_at_listen(&at, 80);
    EXPECT_CMD("AT+CIPSERVER=1,80");
    feed("\r\nERROR\r\n");
    poll_all();
    uint64_t hold_end = t + 1000u;
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "broker.example", 1883, "SC1", "", ""};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(&at, &cfg), ML_OK);
    ml_esp_at_reset(&at);
    t += 500;
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* nothing goes out before the hold ends */
    CU_ASSERT_EQUAL(ml_esp_at_next_deadline(&at), hold_end);
    t = hold_end;
    EXPECT_CMD("AT+RST"); /* the reset first, then the rest */
}

static void test_mqtt_backoff_and_publish(void)
{
    boot();
    struct ml_esp_at_mqtt_cfg cfg = {
        ML_ESP_AT_MQTT_TLS_MUTUAL, "broker.example", 8883, "MPS2,1", "u\"x", "p\\w"};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(&at, &cfg), ML_OK);
    uint32_t waits[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (size_t i = 0; i < sizeof waits / sizeof waits[0]; i++) {
        EXPECT_CMD("AT+MQTTCLEAN=0");
        feed("\r\nERROR\r\n");
        EXPECT_CMD("AT+MQTTUSERCFG=0,5,\"MPS2\\,1\",\"u\\\"x\",\"p\\\\w\",0,0,\"\"");
        feed("\r\nOK\r\n");
        EXPECT_CMD("AT+MQTTCONN=0,\"broker.example\",8883,0");
        feed("\r\nERROR\r\n");
        poll_all();
        CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_CONNECTING);
        t += waits[i] - 1u;
        CU_ASSERT_STRING_EQUAL(next_cmd(), "");
        t += 1u;
    }
    EXPECT_CMD("AT+MQTTCLEAN=0");
    feed("\r\nOK\r\n");
    next_cmd();
    feed("\r\nOK\r\n");
    next_cmd();
    feed("+MQTTCONNECTED:0,5,\"broker.example\",\"8883\",\"\",0\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_CONNECTED);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "a,b", "v1", 2), ML_OK);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "c", "v22", 3), ML_OK);
    EXPECT_CMD("AT+MQTTPUBRAW=0,\"a\\,b\",2,0,0");
    feed("\r\nOK\r\n\r\n>");
    poll_all();
    CU_ASSERT_EQUAL(out_len, 2);
    out_len = 0;
    feed("\r\n+MQTTPUB:OK\r\n");
    EXPECT_CMD("AT+MQTTPUBRAW=0,\"c\",3,0,0");
    feed("\r\nERROR\r\n"); /* refused before the prompt: the payload is dropped */
    poll_all();
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
    feed("+MQTTDISCONNECTED:0\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_CONNECTING);
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.mqtt_connects, 1);
    CU_ASSERT_EQUAL(s.mqtt_errors, 9);
    CU_ASSERT_EQUAL(s.mqtt_published, 1);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "c", "v", 1), ML_EAGAIN);
    ml_esp_at_mqtt_stop(&at);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_DISABLED);
}

/* AT+MQTTSUB after a subscribe; +MQTTSUBRECV's counted payload (commas, CRLF and
 * quotes inside) kept until taken; a second one while the first waits is kept too
 * (ML_MQTT_RX_BYTES, in order); one that does not fit is dropped and counted. */
static void test_mqtt_subscribe_and_receive(void)
{
    boot();
    char topic[64];
    uint8_t pl[600];
    size_t n = 0;
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_subscribe(&at, "d/cmd/+"), ML_EAGAIN); /* not connected */
    struct ml_esp_at_stats s0;
    ml_esp_at_get_stats(&at, &s0);
    uint32_t garbage0 = s0.garbage;
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "10.0.0.2", 1883, "SC1", "", ""};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(&at, &cfg), ML_OK);
    EXPECT_CMD("AT+MQTTCLEAN=0");
    feed("\r\nOK\r\n");
    next_cmd();
    feed("\r\nOK\r\n");
    next_cmd();
    feed("+MQTTCONNECTED:0,1,\"10.0.0.2\",\"1883\",\"\",0\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_subscribe(&at, "a\"b"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_subscribe(&at, "d/cmd/+"), ML_OK);
    EXPECT_CMD("AT+MQTTSUB=0,\"d/cmd/+\",0");
    feed("\r\nOK\r\n");
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_EAGAIN);
    feed("\r\n+MQTTSUBRECV:0,\"d/cmd/reset\",12,{\"a\":\"1,\r\n\"}\r\n");
    feed("+MQTTSUBRECV:0,\"d/cmd/firmware\",2,{}\r\n"); /* the first is not taken yet */
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
    CU_ASSERT_STRING_EQUAL(topic, "d/cmd/reset");
    CU_ASSERT_EQUAL(n, 12);
    CU_ASSERT_EQUAL(memcmp(pl, "{\"a\":\"1,\r\n\"}", 12), 0);
    /* the second was not lost while the first waited (before: one message kept) */
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
    CU_ASSERT_STRING_EQUAL(topic, "d/cmd/firmware");
    CU_ASSERT_TRUE(n == 2 && memcmp(pl, "{}", 2) == 0);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_EAGAIN);
    /* ML_MQTT_RX_BYTES (768) holds two 300-byte messages (3 + 3 + 300 B each) in order;
     * a third, arriving while both wait, does not fit: dropped and counted */
    CU_ASSERT_EQUAL_FATAL(ML_MQTT_RX_BYTES, 768);
    struct ml_esp_at_stats q0;
    ml_esp_at_get_stats(&at, &q0);
    for (int i = 0; i < 3; i++) {
        char msg[400];
        int k = snprintf(msg, sizeof msg, "+MQTTSUBRECV:0,\"q/%d\",300,", i);
        memset(msg + k, '0' + i, 300);
        memcpy(msg + k + 300, "\r\n", 2);
        feed_n(msg, (size_t)k + 302u);
    }
    poll_all();
    for (int i = 0; i < 2; i++) {
        char want[8];
        snprintf(want, sizeof want, "q/%d", i);
        CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
        CU_ASSERT_STRING_EQUAL(topic, want);
        CU_ASSERT_TRUE(n == 300 && pl[0] == (uint8_t)('0' + i) && pl[299] == (uint8_t)('0' + i));
    }
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_EAGAIN);
    struct ml_esp_at_stats q1;
    ml_esp_at_get_stats(&at, &q1);
    CU_ASSERT_EQUAL(q1.rx_dropped - q0.rx_dropped, 300u); /* the dropped one's bytes */
    /* taken while the next one is still arriving (split across polls): it moves along */
    feed("+MQTTSUBRECV:0,\"a\",2,xy\r\n+MQTTSUBRECV:0,\"b\",6,ab");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
    CU_ASSERT_TRUE(strcmp(topic, "a") == 0 && n == 2 && memcmp(pl, "xy", 2) == 0);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_EAGAIN);
    feed("cdef\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
    CU_ASSERT_TRUE(strcmp(topic, "b") == 0 && n == 6 && memcmp(pl, "abcdef", 6) == 0);
    CU_ASSERT_EQUAL(q1.garbage, q0.garbage);
    /* too large for the client: dropped, the stream stays in step */
    char big[700];
    int h = snprintf(big, sizeof big, "+MQTTSUBRECV:0,\"t\",513,");
    memset(big + h, 'x', 513);
    static const char next[] = "\r\n+MQTTSUBRECV:0,\"t2\",1,z\r\n";
    memcpy(big + h + 513, next, sizeof next - 1u);
    feed_n(big, (size_t)h + 513u + sizeof next - 1u);
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_receive(&at, topic, sizeof topic, pl, sizeof pl, &n), ML_OK);
    CU_ASSERT_STRING_EQUAL(topic, "t2");
    CU_ASSERT_TRUE(n == 1 && pl[0] == 'z');
    struct ml_esp_at_stats s;
    ml_esp_at_get_stats(&at, &s);
    CU_ASSERT_EQUAL(s.garbage, garbage0);
    /* a result published before a reset on purpose is output to drain (cm_net_drain) */
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "d/cmd/reset/result", "{}", 2), ML_OK);
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* queued */
    EXPECT_CMD("AT+MQTTPUBRAW=0,\"d/cmd/reset/result\",2,0,0");
    CU_ASSERT_TRUE(ml_esp_at_output_pending(&at)); /* in flight */
    feed("\r\nOK\r\n\r\n>");
    poll_all();
    out_len = 0;
    feed("\r\n+MQTTPUB:OK\r\n");
    poll_all();
    CU_ASSERT_FALSE(ml_esp_at_output_pending(&at));
    /* the session is lost: nothing to subscribe on until it is back */
    feed("+MQTTDISCONNECTED:0\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_subscribe(&at, "d/cmd/+"), ML_EAGAIN);
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
}

/* A client connection (AT+CIPSTART, multi-connection mode) beside a server's link:
 * the highest free link id, the request queued before the module connected, the
 * module's own +LINK_CONN (c/s 0) not taken for a newcomer, data in through the
 * same +IPD / AT+CIPRECVDATA path, the server's close; refused and timed-out
 * connects report FAILED. */
static void test_client_connect(void)
{
    int listener;
    int srv = boot_with_conn(&listener); /* a server's link on id 0 */
    CU_ASSERT_TRUE_FATAL(srv >= 0);
    feed("+LINK_CONN:0,4,\"TCP\",1,\"10.0.0.8\",40001,502\r\n"); /* and on id 4 */
    poll_all();
    int srv2 = ml_esp_at_accept(&at, listener);
    CU_ASSERT_TRUE_FATAL(srv2 >= 0);
    CU_ASSERT_EQUAL(ml_esp_at_connect(&at, 0, 80), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_connect(&at, 0x7F000001u, 0), ML_EINVAL);
    int c = ml_esp_at_connect(&at, 0x7F000001u, 8080);
    CU_ASSERT_TRUE_FATAL(c >= 0 && c != srv && c != srv2);
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_PENDING);
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, srv), ML_ESP_AT_OP_FAILED); /* not a client */
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, c, (const uint8_t *)"GET /\r\n", 7), 7);
    EXPECT_CMD("AT+CIPSTART=3,\"TCP\",\"127.0.0.1\",8080");
    feed("+LINK_CONN:0,3,\"TCP\",0,\"127.0.0.1\",8080,50001\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_accept(&at, listener), ML_EAGAIN); /* ours, not a newcomer */
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_PENDING);
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+CIPSEND=3,7"); /* the request waited for the connection */
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_OK);
    feed("\r\nOK\r\n\r\n>");
    poll_all();
    CU_ASSERT_TRUE(out_len == 7 && memcmp(out, "GET /\r\n", 7) == 0);
    out_len = 0;
    feed("\r\nRecv 7 bytes\r\n\r\nSEND OK\r\n+IPD,3,5\r\n");
    EXPECT_CMD("AT+CIPRECVDATA=3,256");
    feed("+CIPRECVDATA:5,hello\r\nOK\r\n3,CLOSED\r\n");
    poll_all();
    uint8_t buf[16];
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), 5);
    CU_ASSERT_EQUAL(memcmp(buf, "hello", 5), 0);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), ML_ECONNREFUSED);
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_FAILED);
    ml_esp_at_close(&at, c);
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* closed by the server: nothing to close */
    /* the server links were not touched */
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, srv2, (const uint8_t *)"x", 1), 1);
    EXPECT_CMD("AT+CIPSEND=4,1");
    feed("\r\nOK\r\n\r\n>");
    poll_all();
    out_len = 0;
    feed("\r\nRecv 1 bytes\r\n\r\nSEND OK\r\n");
    /* refused */
    c = ml_esp_at_connect(&at, 0x7F000001u, 9);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    EXPECT_CMD("AT+CIPSTART=3,\"TCP\",\"127.0.0.1\",9");
    feed("\r\nERROR\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_FAILED);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, buf, sizeof buf), ML_ECONNREFUSED);
    CU_ASSERT_TRUE(ml_esp_at_send(&at, c, (const uint8_t *)"x", 1) < 0);
    ml_esp_at_close(&at, c);
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
    /* no answer in time */
    c = ml_esp_at_connect(&at, 0x7F000001u, 10);
    EXPECT_CMD("AT+CIPSTART=3,\"TCP\",\"127.0.0.1\",10");
    t += ML_ESP_AT_TMO_CONN_MS - 1u;
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_PENDING);
    t += 1u;
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_connect_state(&at, c), ML_ESP_AT_OP_FAILED);
    ml_esp_at_close(&at, c);
    /* every slot taken: ML_ENOMEM */
    int n_ok = 0;
    for (int i = 0; i < ML_ESP_AT_SLOTS + 1; i++) {
        n_ok += ml_esp_at_connect(&at, 0x7F000001u, 8080) >= 0;
    }
    CU_ASSERT_EQUAL(n_ok, ML_ESP_AT_SLOTS - 2); /* the two server links hold theirs */
    CU_ASSERT_EQUAL(ml_esp_at_connect(&at, 0x7F000001u, 8080), ML_ENOMEM);
}

static void test_bad_arguments(void)
{
    boot();
    CU_ASSERT_EQUAL(ml_esp_at_listen(&at, 0), ML_EINVAL);
    for (uint16_t p = 1; p <= ML_ESP_AT_LISTENERS; p++) {
        CU_ASSERT_TRUE(ml_esp_at_listen(&at, p) >= 0);
    }
    CU_ASSERT_EQUAL(ml_esp_at_listen(&at, 999), ML_ENOMEM);
    CU_ASSERT_EQUAL(ml_esp_at_accept(&at, 99), ML_EBADF);
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, 0, NULL, 0), ML_EBADF);
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, 42, NULL, 0), ML_EBADF);
    CU_ASSERT_EQUAL(ml_esp_at_ap_start(&at, "x", "1234567"), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_set_hostname(&at, ""), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "a/#", "", 0), ML_EINVAL);
    static char big[ML_ESP_AT_PUB_CAP];
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_publish(&at, "a", big, sizeof big), ML_EMSGSIZE);
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "", 1883, NULL, NULL, NULL};
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_start(&at, &cfg), ML_EINVAL);
    CU_ASSERT_EQUAL(ml_esp_at_utc(&at), ML_EAGAIN);
}

static void test_sntp_time(void)
{
    boot();
    feed("+ETH_CONNECTED\r\n+ETH_GOT_IP:192.168.1.50\r\n");
    ml_esp_at_net_up(&at, ML_ESP_AT_IF_ETH, NULL, NULL);
    EXPECT_CMD("AT+CIPSNTPTIME?");
    feed("+CIPSNTPTIME:Thu Jan 01 00:00:00 1970\r\n\r\nOK\r\n"); /* not synchronised */
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_utc(&at), ML_EAGAIN);
    t += 2000;
    EXPECT_CMD("AT+CIPSNTPTIME?");
    feed("+CIPSNTPTIME:Mon Nov 23 12:34:56 2026\r\n\r\nOK\r\n");
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_utc(&at), 1795437296);
    t += 5000;
    CU_ASSERT_EQUAL(ml_esp_at_utc(&at), 1795437296);
    poll_all();
    CU_ASSERT_EQUAL(ml_esp_at_utc(&at), 1795437301);
}

static void test_send_refused_drops_the_link(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    CU_ASSERT_EQUAL(ml_esp_at_send(&at, c, (const uint8_t *)"abc", 3), 3);
    EXPECT_CMD("AT+CIPSEND=0,3");
    feed("\r\nERROR\r\n");                  /* link 0 is gone; its CLOSED was lost */
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* not repeated */
    uint8_t b;
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c, &b, 1), ML_ECONNREFUSED);
    CU_ASSERT_TRUE(ml_esp_at_send(&at, c, &b, 1) < 0);
    ml_esp_at_close(&at, c);
    CU_ASSERT_STRING_EQUAL(next_cmd(), ""); /* nothing to close in the module */
}

/* The peer closes while the app's AT+CIPCLOSE is in flight, and a new client takes
 * the freed slot before the close's answer: the answer must not free the newcomer
 * (seen with HTTPS: the module announces a TLS link and its data back to back). */
static void test_close_answer_after_slot_reused(void)
{
    int l;
    int c = boot_with_conn(&l);
    CU_ASSERT_TRUE_FATAL(c >= 0);
    ml_esp_at_close(&at, c);
    EXPECT_CMD("AT+CIPCLOSE=0");
    feed("0,CLOSED\r\n+LINK_CONN:0,1,\"SSL\",1,\"10.0.0.9\",40001,502\r\n+IPD,1,5\r\n");
    feed("\r\nERROR\r\n"); /* link 0 was closed by the peer already */
    poll_all();
    int c2 = ml_esp_at_accept(&at, l);
    CU_ASSERT_TRUE_FATAL(c2 >= 0);
    EXPECT_CMD("AT+CIPRECVDATA=1,256"); /* the newcomer's request is fetched */
    feed("+CIPRECVDATA:5,hello\r\nOK\r\n");
    poll_all();
    uint8_t buf[8];
    CU_ASSERT_EQUAL(ml_esp_at_recv(&at, c2, buf, sizeof buf), 5);
    CU_ASSERT_EQUAL(ml_esp_at_peer_ipv4(&at, c2), 0x0A000009u);
}

static void test_mqtt_stop_during_connect(void)
{
    boot();
    struct ml_esp_at_mqtt_cfg cfg = {ML_ESP_AT_MQTT_TCP, "b", 1883, "id", NULL, NULL};
    ml_esp_at_mqtt_start(&at, &cfg);
    EXPECT_CMD("AT+MQTTCLEAN=0");
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTUSERCFG=0,1,\"id\",\"\",\"\",0,0,\"\"");
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTCONN=0,\"b\",1883,0");
    ml_esp_at_mqtt_stop(&at); /* while the module connects */
    feed("+MQTTCONNECTED:0,1,\"b\",\"1883\",\"\",0\r\n\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTCLEAN=0"); /* the late session is closed */
    feed("\r\nOK\r\n");
    CU_ASSERT_STRING_EQUAL(next_cmd(), "");
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_DISABLED);
    struct ml_esp_at_stats st;
    ml_esp_at_get_stats(&at, &st);
    CU_ASSERT_EQUAL(st.mqtt_connects, 0);
    /* a restart with another broker while connecting: the old session is not taken */
    ml_esp_at_mqtt_start(&at, &cfg);
    EXPECT_CMD("AT+MQTTCLEAN=0");
    feed("\r\nOK\r\n");
    next_cmd();
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTCONN=0,\"b\",1883,0");
    struct ml_esp_at_mqtt_cfg cfg2 = {ML_ESP_AT_MQTT_TCP, "c", 1884, "id", NULL, NULL};
    ml_esp_at_mqtt_start(&at, &cfg2);
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTCLEAN=0");
    feed("\r\nOK\r\n");
    next_cmd();
    feed("\r\nOK\r\n");
    EXPECT_CMD("AT+MQTTCONN=0,\"c\",1884,0");
    CU_ASSERT_EQUAL(ml_esp_at_mqtt_state(&at), ML_ESP_AT_MQTT_CONNECTING);
}

int main(void)
{
    static const struct ml_test_case cases[] = {
        {"boot byte by byte", test_boot_byte_by_byte},
        {"boot in random chunks, slow UART", test_boot_random_chunks_and_slow_uart},
        {"garbage and long lines", test_garbage_and_long_lines_are_skipped},
        {"URC inside a response", test_urc_inside_a_response},
        {"active +IPD split across reads", test_active_ipd_split_across_reads},
        {"passive receive respects ring space", test_passive_receive_respects_ring_space},
        {"AT+CIPSEND with prompt", test_send_with_prompt},
        {"busy repeats the command", test_busy_repeats_the_command},
        {"timeouts reset the module", test_timeouts_reset_the_module},
        {"mDNS name replaces the host name", test_mdns_name_replaces_host_name},
        {"unsolicited ready re-applies state", test_unsolicited_ready_reapplies_state},
        {"server error retried", test_server_error_is_retried},
        {"deadline not in the past while holding back",
         test_deadline_not_in_the_past_while_holding_back},
        {"MQTT back-off and publish", test_mqtt_backoff_and_publish},
        {"mqtt subscribe and receive", test_mqtt_subscribe_and_receive},
        {"bad arguments", test_bad_arguments},
        {"client connection (AT+CIPSTART)", test_client_connect},
        {"SNTP time", test_sntp_time},
        {"refused send drops the link", test_send_refused_drops_the_link},
        {"close answer after slot reused", test_close_answer_after_slot_reused},
        {"no output pending without a module", test_output_not_pending_without_module},
        {"MQTT stop or restart during connect", test_mqtt_stop_during_connect},
    };
    return ml_test_run("esp_at", cases, sizeof cases / sizeof cases[0], setup, teardown);
}
