/* The Smart Connect web page served at "/" (sc_web.c), used by sc_http.c. */
#ifndef FIRMWARE_APPS_SMART_CONNECT_SC_WEB_H
#define FIRMWARE_APPS_SMART_CONNECT_SC_WEB_H

#include <stddef.h>

extern const char sc_web_page[];
extern const size_t sc_web_page_len;

#endif /* FIRMWARE_APPS_SMART_CONNECT_SC_WEB_H */
