// cmd — the subcommands of `lensweep <command>`; one file per command in src/cmd/.
// Each returns the process exit status (0 ok, 2 bad input, 1 runtime failure).
#ifndef LW_CMD_H
#define LW_CMD_H

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv); // argv[0] is the command name
    const char *summary;
} LwCommand;

int cmd_run(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_mktiny(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_fit_prism(int argc, char **argv);
int cmd_fit_tuned(int argc, char **argv);

#endif
