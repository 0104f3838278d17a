// cmd/report — `lensweep report RUN_DIR [--out FILE] [--format html|md|csv]`.
//
// Reads every model of a run directory (the exported JSON/CSV files; report_model) and writes
// one self-contained HTML page (report_html), or only the cross-model table as Markdown or CSV
// (report_table). A model with a bad file is reported as failed inside the output, which is
// still written: in a sweep, one crashed model must not hide the other nine. The output is
// written under a temporary name and renamed, so an interrupted report never looks complete.
// Battery runs (report_battery) get their own sections in the HTML page, not table rows.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "report/report_battery.h"
#include "report/report_html.h"
#include "report/report_model.h"
#include "report/report_table.h"
#include "util/util.h"

static void report_usage(FILE *f) {
    fputs("usage: lensweep report RUN_DIR [--out FILE] [--format html|md|csv]\n"
          "\n"
          "Reads output-<model>.json and its CSV files for every model in RUN_DIR and writes\n"
          "  html  one self-contained page: cross-model table, all models against relative depth,\n"
          "        per model the curves over depth of every lens and the logit-lens grid, per battery\n"
          "        run (output-<name>-battery-summary.json) band charts across items (default)\n"
          "  md    the cross-model table as Markdown\n"
          "  csv   the cross-model table as CSV, full precision\n"
          "--out FILE   where to write (default RUN_DIR/report.<format>; '-' = standard output)\n"
          "A model whose files are missing or corrupt is listed as failed; the rest is still reported.\n",
          f);
}

int cmd_report(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *format = "html";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { report_usage(stdout); return 0; }
        if ((!strcmp(a, "--out") || !strcmp(a, "-o") || !strcmp(a, "--format")) && i + 1 >= argc)
            lw_die(LW_EXIT_INPUT, "see `lensweep report --help`", "report: option %s needs a value", a);
        if (!strcmp(a, "--out") || !strcmp(a, "-o")) out = argv[++i];
        else if (!strncmp(a, "--out=", 6)) out = a + 6;
        else if (!strcmp(a, "--format")) format = argv[++i];
        else if (!strncmp(a, "--format=", 9)) format = a + 9;
        else if (a[0] == '-' && a[1]) lw_die(LW_EXIT_INPUT, "see `lensweep report --help`", "report: unknown option '%s'", a);
        else if (!dir) dir = a;
        else lw_die(LW_EXIT_INPUT, "give exactly one run directory", "report: unexpected argument '%s'", a);
    }
    if (!dir) {
        report_usage(stderr);
        return LW_EXIT_INPUT;
    }
    if (strcmp(format, "html") && strcmp(format, "md") && strcmp(format, "csv"))
        lw_die(LW_EXIT_INPUT, "use --format html, md or csv", "report: --format: unknown format '%s'", format);

    ReportRun run;
    LwError err = {0};
    if (report_run_load(dir, &run, &err) != 0) lw_die_err(&err, LW_EXIT_INPUT);

    char *out_path = out ? xstrdup(out) : xasprintf("%s/report.%s", dir, format);
    int to_stdout = !strcmp(out_path, "-");
    char *tmp = NULL;
    FILE *f = stdout;
    if (!to_stdout) {
        tmp = xasprintf("%s.tmp.%d", out_path, (int)getpid());
        lw_cleanup_unlink_on_fail(tmp);
        f = fopen(tmp, "w");
        if (!f) lw_die(LW_EXIT_RUNTIME, "check that the output directory exists and is writable", "%s: cannot create", tmp);
    }
    if (!strcmp(format, "html")) report_html_write(f, &run);
    else if (!strcmp(format, "md")) report_table_write_md(f, &run);
    else report_table_write_csv(f, &run);
    if (to_stdout) {
        if (fflush(stdout) != 0) lw_die(LW_EXIT_RUNTIME, "check the output stream", "standard output: write failed");
    } else {
        if (ferror(f) | fclose(f)) lw_die(LW_EXIT_RUNTIME, "check free disk space", "%s: write failed", tmp);
        if (rename(tmp, out_path) != 0) lw_die(LW_EXIT_RUNTIME, "check permissions", "%s: cannot rename to %s", tmp, out_path);
        lw_cleanup_forget(tmp);
    }

    int n_ok = 0;
    for (int i = 0; i < run.n_models; i++) {
        const ReportModel *m = &run.models[i];
        if (m->status == MODEL_OK) n_ok++;
        else lw_warn("%s: %s: %s", m->name, report_status_word(m), m->status_msg ? m->status_msg : "");
    }
    if (!to_stdout) lw_log("report: wrote %s (%d model%s, %d with data)", out_path, run.n_models, run.n_models == 1 ? "" : "s", n_ok);
    for (int i = 0; i < run.n_batteries; i++) {
        const ReportBattery *b = &run.batteries[i];
        if (b->status != MODEL_OK)
            lw_warn("battery %s: %s: %s", b->name, b->status == MODEL_NOT_EXPORTED ? "not exported" : "failed",
                    b->status_msg ? b->status_msg : "");
    }
    if (run.n_batteries && strcmp(format, "html"))
        lw_log("report: %d battery run%s: drawn in the html page only (--format html); --format %s is the cross-model table",
               run.n_batteries, run.n_batteries == 1 ? "" : "s", format);
    free(tmp);
    free(out_path);
    report_run_free(&run);
    return 0;
}
