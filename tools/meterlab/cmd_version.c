/* meterlab version: print the bench and firmware version. */
#include <stdio.h>

#include "cli.h"
#include "ml_config.h"

static int run(int argc, char **argv)
{
    if (ml_cli_wants_help(argc, argv)) {
        printf("usage: meterlab version\n\nPrints the meterlab (and firmware) version.\n");
        return ML_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "meterlab version: unexpected argument '%s'\n", argv[1]);
        return ML_EXIT_USAGE;
    }
    printf("meterlab %s\n", ML_FW_VERSION);
    return ML_EXIT_OK;
}

const struct ml_cmd ml_cmd_version = {"version", "print the version", run};
