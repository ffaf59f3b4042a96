/**
 * @file ml_config_target.h
 * @brief Compile-time knobs of the Cortex-M4 target build (`target`): the Smart
 * Connect within 64 KiB of RAM. Included by ml_config.h through
 * ML_CONFIG_OVERRIDE, which the port sets on every firmware target of the
 * build (firmware/ports/cortex-m/CMakeLists.txt), so all objects agree on the
 * structure sizes. The sim keeps the defaults of ml_config.h.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H
#define FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H

/* spec/dsmr.md §6: observed telegrams are 0.4-1.5 kB, the estimated worst case
 * with a 1024-character text message about 3.5 kB. 4 KiB keeps all of those
 * (the sim's 8 KiB also takes a 2048-character text message); the Smart Connect
 * holds the parser buffer and a copy of the last telegram. */
#define ML_DSMR_MAX_TELEGRAM 4096

/*
 * ESP-AT client rings (esp_at.h), per connection slot (6) and for the MQTT
 * publish queue: the largest RAM user after the app. Halving them kept the
 * Smart Connect within 90 % of its RAM budget (96 % since it serves
 * ML_HTTP_CONNS = 3 HTTP connections, docs/security.md); what still holds:
 *
 * - Send ring 512 B (host default 1 KiB): ml_esp_at_send() takes what fits
 *   and says so. HTTP's flush() (sc_http.c) sends the rest on a later pass
 *   when a send takes 0 bytes; an AT+CIPSEND then carries at most 512 B
 *   instead of ML_ESP_AT_CHUNK. The Modbus TCP slave (sc_app.c) sends one
 *   response of at most MB_TCP_ADU_MAX (260 B) per request; when a client
 *   pipelines requests and the ring takes only part of an answer, sc_app.c
 *   sends the rest first and reads no further request until it is out.
 * - Receive ring 256 B (host default 512 B): passive receive mode fetches at
 *   most the free space of the ring (AT+CIPRECVDATA, ML_ESP_AT_RECV_CHUNK is
 *   256 too), so the module keeps the rest and TCP flow control holds back
 *   the peer. Nothing is lost. The HTTP and Modbus TCP parsers take a stream
 *   in pieces of any size.
 * - Publish queue 2 KiB (host default 4 KiB): the largest publish the app
 *   makes is power_instant, 4 + 128 (longest topic, esp_at.c) + 1535
 *   (MQTT_POWER_INSTANT_MAX - 1) = 1667 B, so it always fits an empty queue.
 *   A full queue refuses a publish (ML_EAGAIN, counted in
 *   mqtt_publish_fail) as before. It fills after fewer publishes only while
 *   the module cannot send them.
 */
#define ML_ESP_AT_TX_CAP  512
#define ML_ESP_AT_RX_CAP  256
#define ML_ESP_AT_PUB_CAP 2048

#endif /* FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H */
