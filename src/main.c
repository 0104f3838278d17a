// lensweep — layer-by-layer lens probes of large language models, at cluster scale.
// `lensweep <command> [args]`; every command lives in src/cmd/<command>.c.
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "util/util.h"
#include "util/watchdog.h"

static const LwCommand COMMANDS[] = {
    {"run", cmd_run, "probe one model (CONFIG.yaml, or --model DIR --out DIR); rank 0 writes HDF5"},
    {"export", cmd_export, "HDF5 -> the reference's JSON and CSV files"},
    {"report", cmd_report, "HTML/Markdown/CSV report of a run directory"},
    {"plan", cmd_plan, "one row per model of a sweep: ranks, memory, status"},
    {"inspect", cmd_inspect, "family, dimensions, parameters and bytes per rank of a checkpoint"},
    {"tokenize", cmd_tokenize, "tokenize JSON strings read from stdin with a tokenizer.json"},
    {"mktiny", cmd_mktiny, "write a tiny random checkpoint of a family (tests, fixtures)"},
    {"fit-prism", cmd_fit_prism, "fit the Prism shared decoder of a checkpoint (METRICS.md §20.1)"},
    {"fit-tuned", cmd_fit_tuned, "fit the tuned-lens translators of a checkpoint on a text corpus (METRICS.md §19.2)"},
    {"devices", cmd_devices, "the CUDA GPUs this process can use (or why none is usable)"},
};
#define N_COMMANDS (int)(sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fprintf(f, "lensweep %s (%s)\nusage: lensweep <command> [args]   (lensweep <command> --help)\n\ncommands:\n",
            LENSWEEP_VERSION, LENSWEEP_GIT);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? LW_EXIT_INPUT : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("lensweep %s (%s)\n", LENSWEEP_VERSION, LENSWEEP_GIT);
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) {
            lw_watchdog_start(argv[1]); // a file system call that never returns: exit 1, not a hang (util/watchdog.h)
            return COMMANDS[i].fn(argc - 1, argv + 1);
        }
    // a mistyped command: the nearest one (a prefix of one, or at most 2 edits; 1 for short words) as the hint
    const char *near = NULL;
    int best = strlen(argv[1]) < 4 ? 2 : 3;
    for (int i = 0; i < N_COMMANDS; i++) {
        int d = strncmp(COMMANDS[i].name, argv[1], strlen(argv[1])) ? lw_edit_distance(argv[1], COMMANDS[i].name) : 1;
        if (d < best) best = d, near = COMMANDS[i].name;
    }
    fprintf(stderr, "lensweep: error: unknown command '%s'\n", argv[1]);
    if (near) {
        fprintf(stderr, "  hint: did you mean 'lensweep %s'? (lensweep --help lists the commands)\n", near);
        return LW_EXIT_INPUT;
    }
    usage(stderr);
    return LW_EXIT_INPUT;
}
