/* meterlab: the one command line of the bench (git-style subcommands). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ml_cmd_table.h"
#include "ml_config.h"

int ml_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            return 1;
        }
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: meterlab <command> [options]\n\n"
                 "The meterlab bench: firmware in simulation, meter emulator, test harness.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof ml_cmd_table / sizeof ml_cmd_table[0]; i++) {
        fprintf(out, "  %-12s %s\n", ml_cmd_table[i]->name, ml_cmd_table[i]->summary);
    }
    fprintf(out, "\n'meterlab <command> --help' or 'meterlab help <command>' describes each command.\n"
                 "Exit codes: 0 ok, 1 a check or telegram failed, 2 usage or I/O error.\n");
}

static const struct ml_cmd *find(const char *name)
{
    for (size_t i = 0; i < sizeof ml_cmd_table / sizeof ml_cmd_table[0]; i++) {
        if (strcmp(name, ml_cmd_table[i]->name) == 0) {
            return ml_cmd_table[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return ML_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return ML_EXIT_OK;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return ML_EXIT_OK;
        }
        /* `meterlab help CMD` is `meterlab CMD --help` */
        const struct ml_cmd *cmd = find(argv[2]);
        if (cmd == NULL) {
            fprintf(stderr, "meterlab help: '%s' is not a command (see 'meterlab --help')\n",
                    argv[2]);
            return ML_EXIT_USAGE;
        }
        char *help_argv[] = {argv[2], "--help", NULL};
        return cmd->run(2, help_argv);
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("meterlab %s\n", ML_FW_VERSION);
        return ML_EXIT_OK;
    }
    const struct ml_cmd *cmd = find(argv[1]);
    if (cmd != NULL) {
        return cmd->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "meterlab: '%s' is not a command (see 'meterlab --help')\n", argv[1]);
    return ML_EXIT_USAGE;
}
