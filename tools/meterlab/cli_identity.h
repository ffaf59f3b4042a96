/**
 * @file cli_identity.h
 * @brief Device identity of the simulated devices: serial number and the
 * 8-character label password, made once and kept in STATE_DIR/identity.
 */
#ifndef TOOLS_METERLAB_CLI_IDENTITY_H
#define TOOLS_METERLAB_CLI_IDENTITY_H

#include <stddef.h>

/**
 * Load DIR/identity ("serial=...", "password=..." lines), filling what is
 * missing: a serial of @p prefix + 8 random digits (unless @p serial is already
 * set, e.g. from --serial) and a random 8-character password without look-alike
 * characters; writes the file back when something was made.
 * @return 0, or -1 with a message on stderr (unwritable dir, over-long value).
 */
int ml_cli_identity_load(const char *dir, const char *prefix, char *serial, size_t scap, char *pw,
                         size_t pcap);

/**
 * Prepare a device state dir: create @p dir when missing, load or make the
 * identity (ml_cli_identity_load) and write the path of the flash backing file
 * (DIR/flash.bin) into @p flash.
 * @return 0, or -1 with a message on stderr.
 */
int ml_cli_state_dir_prepare(const char *dir, const char *prefix, char *serial, size_t scap,
                             char *pw, size_t pcap, char *flash, size_t fcap);

#endif /* TOOLS_METERLAB_CLI_IDENTITY_H */
