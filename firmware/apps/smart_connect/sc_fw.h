/*
 * Smart Connect firmware slots and boot record (sc_fw.c); used by the loop
 * (sc_app.c) and the HTTP API (sc_http.c). Depends on nothing else of the app.
 * Context: the app thread only.
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_FW_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_FW_H

#include "sc_app.h"
#include "text.h"

void sc_fw_boot(struct sc_app *app, uint64_t now);
void sc_fw_poll(struct sc_app *app, uint64_t now);
uint64_t sc_fw_next_deadline(const struct sc_app *app);
/**
 * Streamed upload of a signed image: chunk (len > 0), end (len == 0).
 * @retval 0 ok so far / installed as pending at the end
 * @retval ML_EINVAL rejected image (bad header, signature, length or SHA-256)
 * @retval ML_EBUSY no upload now (a trial runs, or no slot is free)
 * @retval ML_EIO flash error
 * On error app->fw.up_error says why; the running and the pending image are untouched.
 */
int sc_fw_upload(struct sc_app *app, uint32_t content_length, const uint8_t *chunk, size_t len);
/** Abandon an upload in progress (connection dropped). */
void sc_fw_upload_abort(struct sc_app *app);
/**
 * Record the MQTT command in flight (SC_CMD_*, its request id, "" for none) in
 * the boot record, so its final result can be published after the reboot.
 */
void sc_fw_cmd_save(struct sc_app *app, uint8_t kind, const char *id);
void sc_fw_render(const struct sc_app *app, struct ml_text *w);
const char *sc_fw_slot_name(uint8_t slot);

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_FW_H */
