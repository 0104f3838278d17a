// cmd/export — `lensweep export <out>/<model>.h5 [--out DIR] [--<option> VALUE ...]`.
//
// Re-derives every rule and summary of the reference pipeline's files from the measurements in
// one run file (DESIGN.md: the HDF5 file holds measurements, export holds the rules). The
// thresholds start from the run's own resolved config (root attribute `config_yaml`), and any
// option of the table (`lensweep run --help`) can be overridden on the command line, so
// `lensweep export x.h5 --copy_threshold 0.9` re-exports with another rule without the model.
// Default output directory: the directory of the HDF5 file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "export/export.h"
#include "io/filelock.h"
#include "runfile/run_read.h"
#include "util/util.h"

static void export_usage(FILE *f) {
    fputs("usage: lensweep export RUN.h5 [--out DIR] [--<option> VALUE ...]\n"
          "\n"
          "Writes output-<model>.json, -records.csv, -pure-next-token.csv and the sidecars\n"
          "(-pure-next-token-rawlens.csv, -rawlens-window.csv, -milestones.csv, -artifact-audit.csv;\n"
          "-pure-next-token-prism.csv and -records-prism.csv when the run had a prism_dir)\n"
          "from the measurements of one `lensweep run` file (docs/HDF5.md, OUTPUTS.md).\n"
          "--out DIR      output directory (default: the directory of RUN.h5)\n"
          "--<option> V   any run option (thresholds, quirks.*, sidecars, ...); the defaults are the\n"
          "               values recorded in the file, see `lensweep run --help`\n",
          f);
}

// Loads the config recorded in the run file on top of the built-in defaults.
static int config_from_run(const ExRun *run, LwRunConfig *cfg, LwError *err) {
    config_defaults(cfg);
    cfg->battery_no_load = 1; // a battery's items are in the run file; its source may be gone
    if (!run->config_yaml || !run->config_yaml[0]) return 0;
    char path[] = "/tmp/lensweep-export-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    if (fd < 0) return lw_err(err, "check that /tmp is writable", "/tmp: cannot create a temporary file");
    size_t n = strlen(run->config_yaml);
    int bad = write(fd, run->config_yaml, n) != (ssize_t)n;
    close(fd);
    LwError e2 = {0};
    int rc = bad ? -1 : config_load_file(path, cfg, &e2);
    unlink(path);
    if (rc)
        return lw_err(err, "the recorded config is unreadable; re-run `lensweep run`, or pass every option on the command line",
                      "%s: attribute 'config_yaml': %s", run->path, bad ? "cannot copy" : e2.msg);
    return 0;
}

int cmd_export(int argc, char **argv) {
    const char *h5 = NULL;
    char **opts = xmalloc((argc + 1) * sizeof *opts);
    int nopt = 0, out_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { export_usage(stdout); free(opts); return 0; }
        if (!strncmp(a, "--", 2)) {
            opts[nopt++] = argv[i];
            if (!strcmp(a, "--out") || !strcmp(a, "--out_dir") || !strcmp(a, "--out-dir") || !strncmp(a, "--out=", 6) ||
                !strncmp(a, "--out_dir=", 10))
                out_given = 1;
            const LwOption *o = strchr(a, '=') ? NULL : config_option_find(a + 2);
            if (!o && !strchr(a, '=') && strncmp(a, "--no-", 5)) { // unknown: the option table names the nearest
                LwError e = {0};
                LwRunConfig tmp;
                config_defaults(&tmp);
                char *one[1] = {argv[i]};
                if (config_apply_cli(&tmp, 1, one, &e)) lw_die_err(&e, LW_EXIT_INPUT);
                config_free(&tmp);
            }
            if (config_cli_words(argc, argv, i) == 2) opts[nopt++] = argv[++i];
            continue;
        }
        if (h5) lw_die(LW_EXIT_INPUT, "give exactly one run file", "export: unexpected argument '%s'", a);
        h5 = a;
    }
    if (!h5) {
        export_usage(stderr);
        free(opts);
        return LW_EXIT_INPUT;
    }
    LwError err = {0};
    ExRun run;
    if (ex_run_read(h5, &run, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    LwRunConfig cfg;
    if (config_from_run(&run, &cfg, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    if (config_apply_cli(&cfg, nopt, opts, &err)) lw_die_err(&err, LW_EXIT_INPUT);
    char *dir;
    if (out_given) {
        // a file in the way is bad input (exit 2), found before anything is written
        if (access(cfg.out_dir, F_OK) == 0 && !lw_is_dir(cfg.out_dir))
            lw_die(LW_EXIT_INPUT, "--out names a directory (it is created when missing); remove the file or choose another name",
                   "--out (command line): %s exists and is not a directory", cfg.out_dir);
        dir = xstrdup(cfg.out_dir);
    } else {
        dir = xstrdup(h5);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0; else strcpy(dir, ".");
    }
    // one writer per set of files (io/filelock.h): two exports of runs with the same model name
    // into one directory would otherwise interleave their renames into a mixed set
    char *target = xasprintf("%s/output-%s", dir, run.model_name);
    TargetLock lock = {-1, NULL};
    char note[1200];
    if (lw_mkdir_p(dir, &err)) lw_die_err(&err, LW_EXIT_RUNTIME); // as ex_export did it
    int lk = target_lock(target, &lock, note, sizeof note, &err);
    if (lk) lw_die_err(&err, lk == 1 ? LW_EXIT_INPUT : LW_EXIT_RUNTIME);
    if (note[0]) lw_warn("%s", note);
    if (ex_export(&cfg, &run, dir, &err)) lw_die_err(&err, LW_EXIT_RUNTIME);
    target_unlock(&lock);
    free(target);
    lw_log("export: %s -> %s/output-%s*.{json,csv}", h5, dir, run.model_name);
    free(dir);
    free(opts);
    ex_run_free(&run);
    config_free(&cfg);
    return 0;
}
