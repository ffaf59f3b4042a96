/*
 * Shared between the Smart Connect app's files only: sc_app.c (loop),
 * sc_http.c (HTTP API), sc_fw.c (firmware slots), sc_web.c (the web page).
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_PRIV_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_PRIV_H

#include "sc_app.h"

/* sc_app.c helpers */
size_t sc_str_len(const char *s);
void sc_str_copy(char *dst, size_t cap, const char *src);

/* sc_http.c */
void sc_http_setup(struct sc_app *app);
void sc_http_poll(struct sc_app *app, uint64_t now);
uint64_t sc_http_next_deadline(const struct sc_app *app, uint64_t now);
void sc_http_shutdown(struct sc_app *app);

/* sc_fw.c */
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
void sc_fw_render(const struct sc_app *app, struct http_writer *w);
const char *sc_fw_slot_name(uint8_t slot);

/* sc_web.c: the page served at "/" */
extern const char sc_web_page[];
extern const size_t sc_web_page_len;

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_PRIV_H */
