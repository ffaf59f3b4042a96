/**
 * @file cli.h
 * @brief The meterlab subcommand contract (host only).
 *
 * Exit codes for every subcommand: 0 ok, 1 a check or telegram failed,
 * 2 usage or I/O error (with a message on stderr saying what and where).
 */
#ifndef TOOLS_METERLAB_CLI_H
#define TOOLS_METERLAB_CLI_H

#define ML_EXIT_OK 0
#define ML_EXIT_FAIL 1
#define ML_EXIT_USAGE 2

struct ml_cmd {
    const char *name;    /**< as typed: "decode", "p1mb-config" */
    const char *summary; /**< one line for `meterlab --help` */
    /** Runs with argv[0] = the subcommand name. Must handle -h/--help. */
    int (*run)(int argc, char **argv);
};

/** True when argv holds -h or --help. */
int ml_cli_wants_help(int argc, char **argv);

#endif /* TOOLS_METERLAB_CLI_H */
