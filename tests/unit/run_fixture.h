// run_fixture.h — helpers of the C tests that drive bin/lensweep end to end (mktiny, run, export)
// and read what it wrote: the shared folder, a shell command with its stderr, CSV cells. Included
// by test_export_prism.c, test_run_tuned.c and test_export_tuned_run.c (after test.h).
#ifndef LW_RUN_FIXTURE_H
#define LW_RUN_FIXTURE_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "report/report_csv.h"
#include "test.h"
#include "util/util.h"

static char tmpdir[64]; // the test's temporary directory (mkdtemp by the test)

static inline const char *shared_dir(void) {
    static char buf[512];
    const char *s = getenv("LW_SHARED");
    snprintf(buf, sizeof buf, "%s", s && *s ? s : "../shared");
    if (!lw_is_dir(buf)) snprintf(buf, sizeof buf, "/work/shared");
    return buf;
}

static inline int sh(const char *cmd, char **err_text) {
    char *ef = xasprintf("%s/stderr.txt", tmpdir);
    char *full = xasprintf("{ %s; } 2>%s >/dev/null", cmd, ef);
    int st = system(full);
    if (err_text) { size_t n; LwError e = {0}; *err_text = lw_read_file(ef, &n, &e); if (!*err_text) *err_text = xstrdup(""); }
    free(full); free(ef);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline char *first_line(const char *path) {
    size_t n;
    LwError e = {0};
    char *t = lw_read_file(path, &n, &e);
    if (!t) return xstrdup("");
    char *nl = strchr(t, '\n');
    if (nl) *nl = 0;
    return t;
}

static inline CsvTable read_table(const char *path) {
    CsvTable t;
    LwError e = {0};
    memset(&t, 0, sizeof t);
    CHECKF(csv_table_read(path, &t, &e) == 0, "%s: %s", path, e.msg);
    return t;
}

static inline const char *cell(const CsvTable *t, size_t row, const char *col) {
    int c = csv_table_col(t, col);
    CHECKF(c >= 0, "no column %s", col);
    return c < 0 ? "" : csv_table_cell(t, row, c);
}

static inline double num(const CsvTable *t, size_t row, const char *col) {
    double v = NAN;
    const char *s = cell(t, row, col);
    if (!*s) return NAN;
    CHECKF(csv_cell_number(s, &v) == 1, "%s row %zu: '%s' is not a number", col, row, s);
    return v;
}

// |a − b| ≤ abs + rel·|b|
static inline int close_to_rel(double a, double b, double rel, double abs_tol) { return fabs(a - b) <= abs_tol + rel * fabs(b); }

#endif
