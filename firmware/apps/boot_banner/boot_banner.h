/**
 * @file boot_banner.h
 * @brief The boot banner app: proves a port boots, keeps time and talks.
 *
 * On the console UART (115200 8N1) it prints
 *   "meterlab boot: <board> fw <ML_FW_VERSION>" and a line with the serial,
 * the reset cause and a boot count kept in flash (HAL_FLASH_CONFIG_B); it
 * blinks HAL_LED_STATUS at 2 Hz, prints "tick N" every second, and echoes
 * each received console line as "echo: <line> (<us> us)". The line "reboot"
 * calls hal_sys_reboot(); "hang" stops the loop so the watchdog resets.
 * Uses only the HAL and core.
 */
#ifndef FIRMWARE_APPS_BOOT_BANNER_BOOT_BANNER_H
#define FIRMWARE_APPS_BOOT_BANNER_BOOT_BANNER_H

/**
 * Run the app loop. Returns only when hal_sys_should_stop() says so (never on
 * the target). Thread context.
 * @retval 0 stopped
 * @retval <0 the console could not be opened (ML_E*)
 */
int app_boot_banner_run(void);

#endif /* FIRMWARE_APPS_BOOT_BANNER_BOOT_BANNER_H */
