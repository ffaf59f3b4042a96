/*
 * Smart Connect MQTT remote commands (sc_cmd.c, docs/mqtt.md "Remote commands"):
 * <base>/cmd/<name> in, <base>/cmd/<name>/result out, JSON bodies with a request
 * id echoed back; `reset` and `firmware` (HTTP fetch into the free slot through
 * sc_fw_upload(), the same checks, trial boot and rollback as an HTTP upload).
 * Accepted only when the MQTT session is TLS. Context: the app thread only.
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_CMD_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_CMD_H

#include "sc_app.h"

/** After sc_fw_boot(): topic base, TLS flag, a final result owed from before the reboot. */
void sc_cmd_boot(struct sc_app *app);
/** Subscribe after each connect, take commands, drive a download, publish results. */
void sc_cmd_poll(struct sc_app *app, uint64_t now);
/** The download's timeout while one runs, else UINT64_MAX. */
uint64_t sc_cmd_next_deadline(const struct sc_app *app);
/** Close a download in progress (the loop ends). */
void sc_cmd_shutdown(struct sc_app *app);

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_CMD_H */
