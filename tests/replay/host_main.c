/* core_replay on the host: the replay printed on standard output (replay.h). */
#include <stdio.h>

#include "replay.h"

static void out(const char *s, size_t n, void *ctx)
{
    fwrite(s, 1, n, (FILE *)ctx);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        fprintf(stdout,
                "usage: %s\n"
                "Prints the core replay (corpus through the parsers, templates and Modbus\n"
                "framing); tests/target/core_replay.sh compares it with the target's.\n",
                argv[0]);
        return argv[1][0] == '-' && argv[1][1] == 'h' ? 0 : 2;
    }
    return replay_run(out, stdout) > 0 ? 0 : 1;
}
