/**
 * @file mb_sim_app.h
 * @brief A Modbus slave app for the sim port, written only against the HAL,
 * core/modbus and core/regmap: the harness of the libmodbus integration tests
 * and of bench/modbus. The host sets mb_app_cfg before sim_start(mb_app_main).
 */
#ifndef TESTS_INTEGRATION_MODBUS_MB_SIM_APP_H
#define TESTS_INTEGRATION_MODBUS_MB_SIM_APP_H

#include <stdint.h>

#include "modbus/modbus.h"
#include "regmap/regmap.h"

enum mb_app_transport { MB_APP_TCP = 0, MB_APP_RTU };

struct mb_app_cfg {
    enum mb_app_transport transport;
    const struct regmap_template *tpl;
    struct reading reading; /**< rendered once at start */
    uint8_t address;        /**< RTU slave address */
    uint32_t baud;          /**< RTU line speed (t3.5) */
};

extern struct mb_app_cfg mb_app_cfg;
extern volatile uint16_t mb_app_port; /**< TCP port once listening (0 before) */
extern volatile int mb_app_writes;    /**< writes executed */
extern volatile uint16_t mb_app_waddr;
extern volatile uint16_t mb_app_wval;
extern struct mb_rtu mb_app_rtu; /**< stats readable by the host while idle */
extern struct mb_tcp mb_app_tcp;

/** The app loop (sim_app_main_fn). */
void mb_app_main(void);

#endif /* TESTS_INTEGRATION_MODBUS_MB_SIM_APP_H */
