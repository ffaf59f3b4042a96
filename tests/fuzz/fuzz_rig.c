/*
 * libFuzzer target for the rig file parser (sim/rig, libyaml): any input
 * either loads or is refused with a message that names a place
 * ("name:line:column: ..."); loaded strings are terminated within their fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml_rig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ml_rig rig;
    char err[512];
    err[0] = 0;
    int rc = ml_rig_parse("rig.yaml", (const char *)data, size, &rig, err, sizeof err);
    if (rc == 0) {
        if (memchr(rig.name, 0, sizeof rig.name) == NULL ||
            memchr(rig.network.host, 0, sizeof rig.network.host) == NULL ||
            memchr(rig.mqtt.url, 0, sizeof rig.mqtt.url) == NULL) {
            abort();
        }
    } else if (strncmp(err, "rig.yaml", 8) != 0) {
        abort(); /* an error must say where */
    }
    return 0;
}
