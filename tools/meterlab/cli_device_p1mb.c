/* meterlab device --product p1mb: placeholder until the P1MB issue lands. */
#include <stdio.h>

#include "cli.h"

int ml_cli_device_p1mb(int argc, char **argv);

int ml_cli_device_p1mb(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "meterlab device: --product p1mb is not built yet (see docs/status.md)\n");
    return ML_EXIT_USAGE;
}
