/**
 * @file ml_config_target.h
 * @brief Compile-time knobs of the Cortex-M4 target build (`target`): the Smart
 * Connect within 64 KiB of RAM. Included by ml_config.h through
 * ML_CONFIG_OVERRIDE, which the port sets on every firmware target of the
 * build (firmware/ports/cortex-m/CMakeLists.txt), so all objects agree on the
 * structure sizes.
 *
 * Empty on purpose: ml_config.h's defaults are this target's numbers, so the
 * sim port and the host tools enforce the same telegram size, UART rings and
 * ESP-AT rings as the Cortex-M4 image (issue 18: the sim is never kinder than
 * the hardware). A knob only the target needs goes here.
 */
#ifndef FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H
#define FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H

#endif /* FIRMWARE_PORTS_CORTEX_M_ML_CONFIG_TARGET_H */
