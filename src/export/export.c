// export — see export.h. The orchestration: derive once (export_derive.c), then write every file
// of the model (export_csv.c, export_json.c) under a temporary name and rename them all.
#include "export/export.h"
#include "export/export_battery.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export_internal.h"

// ---------------------------------------------------------------------------- files

typedef struct {
    const char *name;
    void (*fn)(const Ex *, FILE *);
    int sidecar, needs_raw;
} ExFile;

int ex_export(const LwRunConfig *cfg, const ExRun *run, const char *out_dir, LwError *err) {
    if (run->battery) return ex_export_battery(cfg, run, out_dir, err); // docs/BATTERY.md
    Ex e;
    memset(&e, 0, sizeof e);
    e.c = cfg;
    e.run = run;
    ex_derive(&e);
    ExFile files[] = {
        {e.f_records, ex_write_records, 0, 0}, {e.f_pure, ex_write_pure, 0, 0},     {e.f_raw, ex_write_rawlens, 1, 1},
        {e.f_window, ex_write_window, 1, 1},   {e.f_ms, ex_write_milestones, 1, 0}, {e.f_audit, ex_write_audit, 1, 1},
        {e.f_prism_records, ex_write_records_prism, 1, 0}, {e.f_prism_pure, ex_write_pure_prism, 1, 0},
        {e.f_tuned_records, ex_write_records_tuned, 1, 0}, {e.f_tuned_pure, ex_write_pure_tuned, 1, 0},
        {e.f_tuned_variants, ex_write_tuned_variants, 1, 0}, {e.f_tuned_positions, ex_write_tuned_positions, 1, 0},
        {e.f_json, ex_write_json, 0, 0},
    };
    int nfiles = (int)(sizeof files / sizeof files[0]);
    char *tmp[16] = {0}, *fin[16] = {0};
    int rc = 0;
    if (lw_mkdir_p(out_dir, err)) rc = -1;
    for (int i = 0; i < nfiles && !rc; i++) {
        if (files[i].sidecar && !cfg->sidecars) continue;
        if (files[i].needs_raw && !e.has_raw) continue;
        if ((files[i].fn == ex_write_records_prism || files[i].fn == ex_write_pure_prism) && !e.has_prism) continue;
        if ((files[i].fn == ex_write_records_tuned || files[i].fn == ex_write_pure_tuned) && !e.has_tuned) continue;
        if ((files[i].fn == ex_write_tuned_variants || files[i].fn == ex_write_tuned_positions) && e.td.audit < 0) continue;
        if (files[i].fn == ex_write_window) { // written when any window rows exist (OUTPUTS.md §1)
            int rows = 0;
            for (int k = 0; k < run->n_passes; k++) rows += e.sums[k].n_checked;
            if (!rows) continue;
        }
        fin[i] = xasprintf("%s/%s", out_dir, files[i].name);
        tmp[i] = xasprintf("%s/.%s.tmp.%ld", out_dir, files[i].name, (long)getpid());
        lw_cleanup_unlink_on_fail(tmp[i]);
        FILE *f = fopen(tmp[i], "w");
        if (!f) { rc = lw_err(err, "check that the output directory is writable", "%s: cannot write: %s", tmp[i], strerror(errno)); break; }
        files[i].fn(&e, f);
        if (ferror(f) | fclose(f)) rc = lw_err(err, "check free disk space", "%s: write failed", tmp[i]);
    }
    // rename in list order, the JSON (the file that marks a model as exported) last; on a failure
    // the files already renamed by this call are removed again
    int renamed = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        if (!tmp[i]) continue;
        if (rename(tmp[i], fin[i]))
            rc = lw_err(err, "check the output directory", "%s: cannot rename to %s: %s", tmp[i], fin[i], strerror(errno));
        else renamed = i + 1;
    }
    if (rc)
        for (int i = 0; i < renamed; i++)
            if (fin[i] && tmp[i]) unlink(fin[i]);
    // a file of this model's set that this export did not write (sidecars off, no raw lens) is
    // stale: it would describe other thresholds than the new JSON
    for (int i = 0; i < nfiles && !rc; i++) {
        if (tmp[i]) continue;
        char *stale = xasprintf("%s/%s", out_dir, files[i].name);
        unlink(stale);
        free(stale);
    }
    for (int i = 0; i < nfiles; i++) {
        if (!tmp[i]) continue;
        if (rc) unlink(tmp[i]);
        lw_cleanup_forget(tmp[i]);
        free(tmp[i]);
        free(fin[i]);
    }
    for (int i = 0; i < run->n_passes; i++) { ex_rows_free(&e.rows[i]); ex_summary_free(&e.sums[i]); }
    for (int i = 0; e.prows && i < run->n_passes; i++) ex_rows_free(&e.prows[i]);
    for (int i = 0; e.trows && i < run->n_passes; i++) ex_rows_free(&e.trows[i]);
    ex_tuned_free(&e.td);
    free(e.rows); free(e.sums); free(e.samples); free(e.prows); free(e.trows); free(e.tp);
    return rc;
}
