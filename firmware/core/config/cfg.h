/**
 * @file cfg.h
 * @brief The Smart Connect configuration model, its JSON codec (GET / PATCH of
 *        /api/v1/config) and its binary form for the config store.
 *
 * JSON keys are the vendor manual's (§5.2 of the Smart Connect manual):
 *
 *     { "MeterType": "PhoenixContact-EMPro",
 *       "DefaultNetIf": "Ethernet" | "WiFi",
 *       "Ethernet": { "IpMode": "DHCP" | "Static",
 *                     "StaticIPv4": { "IpAddress": "a.b.c.d", "Netmask": "24",
 *                                     "Gateway": "a.b.c.d", "DNS": "a.b.c.d" } },
 *       "WiFi": { "IpMode": ..., "StaticIPv4": {...},
 *                 "ConnectionData": { "WiFiSSID": "...", "WiFiPassword": "..." } },
 *       "MQTT": { "Enable": true, "Broker": "mqtts://host:8883", "Site": "...",
 *                 "Username": "...", "Password": "..." } }
 *
 * GET never returns a password in clear: a set password reads as
 * CFG_PASSWORD_MASK ("********"), an empty one as "". A PATCH that sends exactly
 * CFG_PASSWORD_MASK leaves that password unchanged, so a form can send back what
 * it read.
 *
 * PATCH is all-or-nothing: the patch is applied to a copy, validated field by
 * field and as a whole, and only copied over the caller's configuration when
 * everything passed. See docs/config.md for every rule.
 *
 * Pure, reentrant, no heap; every call works on caller-owned memory. The JSON
 * tokenizer keeps at most CFG_JSON_MAX_TOKENS tokens on the stack of
 * cfg_json_patch() (~8 bytes each) and nests at most CFG_JSON_MAX_DEPTH levels.
 */
#ifndef FIRMWARE_CORE_CONFIG_CFG_H
#define FIRMWARE_CORE_CONFIG_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_METER_TYPE_MAX  40u  /**< bytes incl. NUL */
#define CFG_SSID_MAX        33u  /**< 32 bytes (802.11) + NUL */
#define CFG_WIFI_PSK_MAX    64u  /**< 8..63 ASCII characters (WPA2-PSK) + NUL */
#define CFG_URL_MAX         128u /**< incl. NUL */
#define CFG_SITE_MAX        64u
#define CFG_USER_MAX        64u
#define CFG_PASSWORD_MAX    64u
#define CFG_JSON_MAX_TOKENS 128u
#define CFG_JSON_MAX_DEPTH  6u
#define CFG_JSON_MAX_INPUT  4096u /**< longest PATCH body accepted */
#define CFG_PASSWORD_MASK   "********"
#define CFG_DEFAULT_BROKER  "mqtts://broker.xemex-cloud.eu:8883"
#define CFG_DEFAULT_METER   "PhoenixContact-EMPro"
/** Size of the binary form (cfg_encode) in the worst case. */
#define CFG_BLOB_MAX        640u

enum cfg_netif { CFG_NETIF_ETHERNET = 0, CFG_NETIF_WIFI, CFG_NETIF_COUNT };

enum cfg_ip_mode { CFG_IP_DHCP = 0, CFG_IP_STATIC, CFG_IP_MODE_COUNT };

struct cfg_static_ipv4 {
    uint32_t ip;      /**< host byte order; 0 = unset */
    uint8_t prefix;   /**< netmask as prefix length 1..32 */
    uint32_t gateway; /**< 0 = none */
    uint32_t dns;     /**< 0 = none */
};

struct cfg_iface {
    enum cfg_ip_mode mode;
    struct cfg_static_ipv4 st;
};

struct cfg {
    char meter_type[CFG_METER_TYPE_MAX];
    enum cfg_netif netif;
    struct cfg_iface eth;
    struct cfg_iface wifi;
    char wifi_ssid[CFG_SSID_MAX];
    char wifi_password[CFG_WIFI_PSK_MAX];
    bool mqtt_enable;
    char mqtt_broker[CFG_URL_MAX];
    char mqtt_site[CFG_SITE_MAX];
    char mqtt_user[CFG_USER_MAX];
    char mqtt_password[CFG_PASSWORD_MAX];
};

/** Why a PATCH or a decode failed: the JSON path of the field and a short reason. */
struct cfg_error {
    char field[48];     /**< e.g. "MQTT.Broker"; "" for the document itself */
    const char *reason; /**< static string, e.g. "invalid IPv4 address" */
};

/**
 * Which MeterType names the device supports (the app passes a lookup in its
 * regmap templates). NULL in cfg_json_patch(): any 1..39-character name of
 * [A-Za-z0-9._-] is accepted.
 */
typedef bool (*cfg_meter_type_fn)(const char *name, size_t len);

/** Factory defaults: EMPro, Ethernet + DHCP on both interfaces, /24, MQTT off, default broker. */
void cfg_defaults(struct cfg *c);

/**
 * Check a whole configuration (every field and the cross-field rules: a Static
 * interface needs an IpAddress; DefaultNetIf WiFi needs a WiFiSSID).
 * @retval 0 valid  @retval ML_EINVAL invalid (@p err names the field, may be NULL)
 */
int cfg_validate(const struct cfg *c, cfg_meter_type_fn meter_ok, struct cfg_error *err);

/**
 * Render @p c as the GET /api/v1/config JSON object (passwords masked).
 * @return bytes written (no NUL is counted; one is written when it fits),
 *         ML_ENOSPC when @p cap is too small.
 */
int cfg_json_render(const struct cfg *c, char *out, size_t cap);

/**
 * Apply the JSON object @p json (@p len bytes, UTF-8) as a partial update.
 * @param c       the configuration; changed only when 0 is returned
 * @param meter_ok MeterType check (may be NULL)
 * @param err     out: the failing field and reason (may be NULL)
 * @retval 0 applied
 * @retval ML_EINVAL bad JSON, unknown key, wrong type or invalid value
 * @retval ML_EMSGSIZE the document is larger than CFG_JSON_MAX_INPUT or has
 *         more than CFG_JSON_MAX_TOKENS tokens / CFG_JSON_MAX_DEPTH levels
 */
int cfg_json_patch(struct cfg *c, const char *json, size_t len, cfg_meter_type_fn meter_ok,
                   struct cfg_error *err);

/**
 * Binary form for the config store (versioned, little-endian, length-prefixed
 * strings). @return bytes written, or ML_ENOSPC.
 */
int cfg_encode(const struct cfg *c, uint8_t *out, size_t cap);

/**
 * Decode what cfg_encode() wrote and validate it (with @p meter_ok).
 * @retval 0 ok (@p c filled)
 * @retval ML_EINVAL malformed, unknown version or invalid content (@p c untouched)
 */
int cfg_decode(struct cfg *c, const uint8_t *in, size_t len, cfg_meter_type_fn meter_ok);

/** Format @p ip as dotted quad into @p out (at least 16 bytes). @return length. */
size_t cfg_ipv4_format(uint32_t ip, char *out);

/** Parse a dotted quad (strict: 4 decimal parts 0..255, no leading zeros). @retval 0 / ML_EINVAL */
int cfg_ipv4_parse(const char *s, size_t len, uint32_t *ip);

/** Netmask for prefix length @p prefix (0..32). */
uint32_t cfg_prefix_to_mask(uint8_t prefix);

/** One string member of a flat JSON object, for cfg_json_strings(). */
struct cfg_json_str {
    const char *key; /**< member name */
    char *out;       /**< decoded value, NUL-terminated ("" when absent) */
    size_t cap;      /**< bytes at @p out, NUL included */
    bool found;      /**< set when the member was present */
};

/**
 * Parse @p json (@p len bytes) as a flat JSON object whose members are strings
 * named in @p f (@p n entries), with the tokenizer of cfg_json_patch(): the MQTT
 * command bodies (docs/mqtt.md). err->field names the member at fault.
 * @retval 0 ok (members not given: found false, out "")
 * @retval ML_EINVAL malformed JSON, not an object, an unknown member, a value
 *         that is not a string, too long for its field, or a bad escape
 * @retval ML_EMSGSIZE larger than CFG_JSON_MAX_INPUT or too many tokens
 */
int cfg_json_strings(const char *json, size_t len, struct cfg_json_str *f, size_t n,
                     struct cfg_error *err);

#endif /* FIRMWARE_CORE_CONFIG_CFG_H */
