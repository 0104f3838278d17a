// cmd/export — placeholder until its issue lands; refuses clearly instead of pretending to work.
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_export(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "lensweep: error: 'export' is not implemented in this build yet\n");
    return 1;
}
