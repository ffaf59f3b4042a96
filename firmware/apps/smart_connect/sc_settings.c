/*
 * Smart Connect settings: the defaults, and the conversions between the
 * initial settings (struct sc_settings) and the saved configuration (struct
 * cfg); see sc_app.h and docs/decisions.md for why there are two.
 */
#include "sc_app.h"

#include "err.h"
#include "str.h"

void sc_settings_defaults(struct sc_settings *s)
{
    ml_mem_zero(s, sizeof *s);
    s->flavour = SC_FLAVOUR_P1;
    s->modbus_port = SC_MODBUS_PORT_DEFAULT;
    s->http_port = SC_HTTP_PORT_DEFAULT;
    s->https_port = SC_HTTPS_PORT_DEFAULT;
    ml_str_copy(s->meter_type, sizeof s->meter_type, "PhoenixContact-EMPro");
    s->factory_default = true;
    s->net.iface = NET_IF_ETHERNET;
    s->net.dhcp = true;
    ml_str_copy(s->mqtt_url, sizeof s->mqtt_url, "mqtts://broker.xemex-cloud.eu:8883");
}

bool sc_meter_type_is_known(const char *name, size_t len)
{
    return regmap_template_find(name, len) != 0;
}

static uint8_t prefix_of(uint32_t mask)
{
    uint8_t p = 0;
    while (p < 32u && (mask & (0x80000000u >> p)) != 0u) {
        p++;
    }
    return p == 0u ? 24u : p;
}

void sc_cfg_from_settings(const struct sc_settings *s, struct cfg *c)
{
    cfg_defaults(c);
    struct cfg t = *c;
    if (s->meter_type[0] != '\0') {
        ml_str_copy(t.meter_type, sizeof t.meter_type, s->meter_type);
    }
    t.netif = s->net.iface == NET_IF_WIFI ? CFG_NETIF_WIFI : CFG_NETIF_ETHERNET;
    struct cfg_iface *f = t.netif == CFG_NETIF_WIFI ? &t.wifi : &t.eth;
    f->mode = s->net.dhcp ? CFG_IP_DHCP : CFG_IP_STATIC;
    f->st.ip = s->net.static_ip.ip;
    f->st.prefix = prefix_of(s->net.static_ip.netmask);
    f->st.gateway = s->net.static_ip.gateway;
    f->st.dns = s->net.static_ip.dns;
    t.mqtt_enable = s->mqtt_enabled;
    if (s->mqtt_url[0] != '\0') {
        ml_str_copy(t.mqtt_broker, sizeof t.mqtt_broker, s->mqtt_url);
    }
    ml_str_copy(t.mqtt_site, sizeof t.mqtt_site, s->mqtt_site);
    ml_str_copy(t.mqtt_user, sizeof t.mqtt_user, s->mqtt_user);
    ml_str_copy(t.mqtt_password, sizeof t.mqtt_password, s->mqtt_password);
    if (cfg_validate(&t, sc_meter_type_is_known, 0) == ML_OK) {
        *c = t;
    }
}

void sc_settings_apply_cfg(struct sc_settings *s, const struct cfg *c)
{
    ml_str_copy(s->meter_type, sizeof s->meter_type, c->meter_type);
    s->net.iface = c->netif == CFG_NETIF_WIFI ? NET_IF_WIFI : NET_IF_ETHERNET;
    const struct cfg_iface *f = c->netif == CFG_NETIF_WIFI ? &c->wifi : &c->eth;
    s->net.dhcp = f->mode == CFG_IP_DHCP;
    s->net.static_ip.ip = f->st.ip;
    s->net.static_ip.netmask = cfg_prefix_to_mask(f->st.prefix);
    s->net.static_ip.gateway = f->st.gateway;
    s->net.static_ip.dns = f->st.dns;
    s->mqtt_enabled = c->mqtt_enable;
    ml_str_copy(s->mqtt_url, sizeof s->mqtt_url, c->mqtt_broker);
    ml_str_copy(s->mqtt_site, sizeof s->mqtt_site, c->mqtt_site);
    ml_str_copy(s->mqtt_user, sizeof s->mqtt_user, c->mqtt_user);
    ml_str_copy(s->mqtt_password, sizeof s->mqtt_password, c->mqtt_password);
    s->factory_default = false;
}
