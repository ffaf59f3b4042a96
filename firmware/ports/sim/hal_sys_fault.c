/* hal_sys_fault for every host build (sim port, unit tests, tools): abort(). */
#include <stdio.h>
#include <stdlib.h>

#include "hal_sys.h"

void hal_sys_fault(const char *file, int line)
{
    fprintf(stderr, "meterlab: internal error (assertion) at %s:%d\n", file, line);
    abort();
}
