/* meterlab record: what its two halves share (cmd_record.c: options and the live capture
 * from a port; cli_record_from.c: the import of raw dumps). */
#ifndef TOOLS_METERLAB_CLI_RECORD_H
#define TOOLS_METERLAB_CLI_RECORD_H

#include <stdbool.h>

#include "ml_capture.h"

/** The options of `meterlab record`, parsed. */
struct ml_record_opts {
    const char *port, *usb, *from, *out, *line;
    enum ml_cap_family want;
    double probe, duration;
    long count;
    bool expect_values, quiet;
};

/**
 * `record --from`: import the dump o->from into the capture o->out, or every dump of the
 * directory o->from into o->out/NAME.yaml. Prints a line per dump unless o->quiet.
 * @return ML_EXIT_OK (every dump gave a good telegram), ML_EXIT_FAIL (one gave none),
 *         ML_EXIT_USAGE (unreadable input, unwritable output).
 */
int ml_record_from(const struct ml_record_opts *o);

#endif /* TOOLS_METERLAB_CLI_RECORD_H */
