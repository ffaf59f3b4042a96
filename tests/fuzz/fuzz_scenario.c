/*
 * libFuzzer target for the scenario parser (sim/scenario, libyaml): any input
 * either loads or is refused with a message that names a place
 * ("name:line:column: ..."); a loaded scenario is freed without leaks
 * (LeakSanitizer in the fuzz build).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ml_scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ml_scenario s;
    char err[512];
    err[0] = 0;
    int rc = ml_scenario_parse("fuzz.yaml", (const char *)data, size, &s, err, sizeof err);
    if (rc == 0) {
        ml_scenario_free(&s);
    } else if (strncmp(err, "fuzz.yaml", 9) != 0 || err[0] == 0) {
        abort(); /* an error must say where */
    }
    return 0;
}
