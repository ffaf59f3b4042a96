/*
 * Smart Connect HTTP API and web page server (sc_http.c), driven by the loop
 * (sc_app.c). Context: the app thread only.
 */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_HTTP_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_HTTP_H

#include "sc_app.h"

void sc_http_setup(struct sc_app *app);
void sc_http_poll(struct sc_app *app, uint64_t now);
uint64_t sc_http_next_deadline(const struct sc_app *app, uint64_t now);
void sc_http_shutdown(struct sc_app *app);

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_HTTP_H */
