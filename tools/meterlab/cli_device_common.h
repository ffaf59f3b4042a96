/**
 * @file cli_device_common.h
 * @brief What `meterlab device` shares between its products: opening the
 * meter/RS485 ports (a new pty or a tty/adapter) and a clean stop on
 * SIGINT/SIGTERM. Host only.
 */
#ifndef TOOLS_METERLAB_CLI_DEVICE_COMMON_H
#define TOOLS_METERLAB_CLI_DEVICE_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "ml_serial.h"

/**
 * Open the port for role @p what ("P1 in", "RS485", ...): @p arg "pty" creates
 * a pty (its path goes to @p path), anything else is opened as a serial port
 * at @p cfg. Errors are printed on stderr naming the role.
 * @param is_pty may be NULL; set to whether a pty was created.
 * @return the fd (owned by the caller), or < 0.
 */
int ml_cli_open_port(const char *what, const char *arg, const struct ml_serial_cfg *cfg, char *path,
                     size_t cap, bool *is_pty);

/** Catch SIGINT and SIGTERM; ml_cli_stop_requested() becomes true on either. */
void ml_cli_catch_stop_signals(void);

/** True once SIGINT or SIGTERM arrived. */
bool ml_cli_stop_requested(void);

#endif /* TOOLS_METERLAB_CLI_DEVICE_COMMON_H */
