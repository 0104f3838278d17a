// cmd/tokenize — placeholder until its issue lands; refuses clearly instead of pretending to work.
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_tokenize(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "lensweep: error: 'tokenize' is not implemented in this build yet\n");
    return 1;
}
