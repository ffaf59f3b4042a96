/* clang-format off */
/*
 * The template port (TinyUSB dcd_template.c style): every HAL function exists
 * and reports "not supported". Copy it to start a new port; CI builds it so the
 * contract and this file cannot drift apart (a missing function fails the link
 * of tests/unit/hal_template).
 */
#include "hal.h"

#include "err.h"

int hal_uart_open(enum hal_uart_id id, const struct hal_uart_cfg *cfg) { (void)id; (void)cfg; return ML_ENOSYS; }
void hal_uart_close(enum hal_uart_id id) { (void)id; }
int hal_uart_read(enum hal_uart_id id, uint8_t *buf, size_t cap, uint32_t *ts_us) { (void)id; (void)buf; (void)cap; (void)ts_us; return ML_ENOSYS; }
int hal_uart_write(enum hal_uart_id id, const uint8_t *buf, size_t len) { (void)id; (void)buf; (void)len; return ML_ENOSYS; }
uint32_t hal_uart_rx_overruns(enum hal_uart_id id) { (void)id; return 0; }

void hal_led_set(enum hal_led_id id, hal_rgb_t rgb) { (void)id; (void)rgb; }
bool hal_button_is_pressed(void) { return false; }
void hal_gpio_data_request_set(bool on) { (void)on; }
void hal_gpio_termination_set(bool on) { (void)on; }

uint64_t hal_time_ms(void) { return 0; }
uint64_t hal_time_us(void) { return 0; }
int64_t hal_time_utc(void) { return ML_EAGAIN; }
void hal_time_wait_until(uint64_t deadline_ms) { (void)deadline_ms; }

int hal_flash_get_info(enum hal_flash_region r, struct hal_flash_info *info) { (void)r; (void)info; return ML_ENOSYS; }
int hal_flash_read(enum hal_flash_region r, uint32_t off, void *buf, size_t len) { (void)r; (void)off; (void)buf; (void)len; return ML_ENOSYS; }
int hal_flash_erase(enum hal_flash_region r, uint32_t off, size_t len) { (void)r; (void)off; (void)len; return ML_ENOSYS; }
int hal_flash_write(enum hal_flash_region r, uint32_t off, const void *buf, size_t len) { (void)r; (void)off; (void)buf; (void)len; return ML_ENOSYS; }

bool hal_net_link_is_up(enum hal_net_if nif) { (void)nif; return false; }
int hal_net_up(enum hal_net_if nif, const char *ssid, const char *psk) { (void)nif; (void)ssid; (void)psk; return ML_ENOSYS; }
int hal_net_dhcp_start(void) { return ML_ENOSYS; }
enum hal_net_op hal_net_dhcp_state(struct hal_net_ipv4 *out) { (void)out; return HAL_NET_OP_FAILED; }
int hal_net_set_ipv4(const struct hal_net_ipv4 *addr) { (void)addr; return ML_ENOSYS; }
void hal_net_get_ipv4(struct hal_net_ipv4 *out) { *out = (struct hal_net_ipv4){0, 0, 0, 0}; }
int hal_net_ap_start(const char *ssid, const char *psk) { (void)ssid; (void)psk; return ML_ENOSYS; }
void hal_net_ap_stop(void) {}
int hal_net_set_hostname(const char *name) { (void)name; return ML_ENOSYS; }
int hal_net_set_mdns(const char *name, const char *alias) { (void)name; (void)alias; return ML_ENOSYS; }
int hal_net_ping_start(uint32_t ip) { (void)ip; return ML_ENOSYS; }
enum hal_net_op hal_net_ping_state(void) { return HAL_NET_OP_FAILED; }
int hal_tcp_listen(uint16_t port) { (void)port; return ML_ENOSYS; }
int hal_tcp_listen_tls(uint16_t port) { (void)port; return ML_ENOSYS; }
uint16_t hal_tcp_local_port(int listener) { (void)listener; return 0; }
int hal_tcp_accept(int listener) { (void)listener; return ML_ENOSYS; }
int hal_tcp_connect(uint32_t ipv4, uint16_t port) { (void)ipv4; (void)port; return ML_ENOSYS; }
uint32_t hal_tcp_peer_ipv4(int conn) { (void)conn; return 0; }
int hal_tcp_recv(int conn, uint8_t *buf, size_t cap) { (void)conn; (void)buf; (void)cap; return ML_ENOSYS; }
int hal_tcp_send(int conn, const uint8_t *buf, size_t len) { (void)conn; (void)buf; (void)len; return ML_ENOSYS; }
void hal_tcp_close(int handle) { (void)handle; }

int hal_mqtt_start(const struct hal_mqtt_cfg *cfg) { (void)cfg; return ML_ENOSYS; }
void hal_mqtt_stop(void) {}
enum hal_mqtt_state hal_mqtt_get_state(void) { return HAL_MQTT_DISABLED; }
int hal_mqtt_subscribe(const char *filter) { (void)filter; return ML_ENOSYS; }
int hal_mqtt_receive(char *topic, size_t topic_cap, uint8_t *payload, size_t cap, size_t *len) { (void)topic; (void)topic_cap; (void)payload; (void)cap; (void)len; return ML_ENOSYS; }
int hal_mqtt_publish(const char *topic, const void *payload, size_t len) { (void)topic; (void)payload; (void)len; return ML_ENOSYS; }
void hal_mqtt_get_stats(struct hal_mqtt_stats *out) { *out = (struct hal_mqtt_stats){0, 0, 0, 0}; }

void hal_sys_reboot(void) {}
void hal_sys_get_identity(struct hal_sys_identity *out) { out->serial[0] = '\0'; out->label_password[0] = '\0'; }
void hal_sys_get_heap(struct hal_sys_heap *out) { *out = (struct hal_sys_heap){0, 0, 0, 0}; }
enum hal_sys_reset_cause hal_sys_get_reset_cause(void) { return HAL_SYS_RESET_POWER_ON; }
void hal_sys_watchdog_kick(void) {}
void hal_sys_fault(const char *file, int line) { (void)file; (void)line; for (;;) {} }
bool hal_sys_should_stop(void) { return true; }
