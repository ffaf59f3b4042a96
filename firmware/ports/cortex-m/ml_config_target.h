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

#endif /* FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H */
