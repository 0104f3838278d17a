// plan_status — see plan_status.h. The run file's attributes come from runfile_probe.h; this file
// holds the rule that turns them, and what surrounds the file, into a status.
#include "runfile/plan_status.h"

#include "io/checksum.h"
#include "io/filelock.h"
#include "io/fingerprint.h"
#include "runfile/runfile_probe.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// plan_h5_status; for a done file (PLAN_DONE) its attributes stay in *self (free them), else
// *self is empty.
static PlanStatus h5_status(const char *h5_path, const char *config_hash, char *detail, size_t detail_len,
                            RunfileSelf *self) {
    memset(self, 0, sizeof *self);
    detail[0] = 0;
    struct stat st;
    if (stat(h5_path, &st) != 0) {
        // A killed run leaves only its temporary name (docs/HDF5.md).
        char *pat = xasprintf("%s.tmp.*", h5_path);
        glob_t g;
        int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
        if (n) {
            char holder[400];
            int live = 0;
            target_lock_holder(h5_path, holder, sizeof holder, &live); // io/filelock.h
            if (live) snprintf(detail, detail_len, "%s being written (%s)", lw_basename(g.gl_pathv[0]), holder);
            else snprintf(detail, detail_len, "%s left by an interrupted run", lw_basename(g.gl_pathv[0]));
        }
        if (n) globfree(&g);
        free(pat);
        return n ? PLAN_INCOMPLETE : PLAN_TODO;
    }
    // the checksum first (io/checksum.h): a damaged file is redone, and libhdf5 never parses it
    char why[300];
    int sealed = runfile_verify(h5_path, why, sizeof why);
    if (sealed < 0) {
        snprintf(detail, detail_len, "%s: %s", sealed == -1 ? "corrupt" : "unreadable", why);
        return PLAN_INCOMPLETE;
    }
    PlanStatus s = PLAN_INCOMPLETE;
    if (runfile_probe(h5_path, self) != 0) {
        snprintf(detail, detail_len, "not a readable HDF5 file (truncated or corrupt)");
    } else if (sealed == 0 && self->has_integrity) {
        snprintf(detail, detail_len, "corrupt: its checksum trailer is missing or damaged");
    } else if (!self->has_complete || self->complete != 1) {
        snprintf(detail, detail_len, "root attribute complete is not 1 (the run did not finish)");
    } else if (!self->config_hash) {
        s = PLAN_STALE;
        snprintf(detail, detail_len, "complete, but without a config_hash attribute");
    } else if (strcmp(self->config_hash, config_hash) != 0) {
        s = PLAN_STALE;
        snprintf(detail, detail_len, "config_hash %s in the file, %s now", self->config_hash, config_hash);
    } else {
        s = PLAN_DONE;
        snprintf(detail, detail_len, "complete, config_hash %s", self->config_hash);
    }
    if (s != PLAN_DONE) runfile_self_free(self);
    return s;
}

PlanStatus plan_h5_status(const char *h5_path, const char *config_hash, char *detail, size_t detail_len) {
    RunfileSelf self;
    PlanStatus s = h5_status(h5_path, config_hash, detail, detail_len, &self);
    runfile_self_free(&self);
    return s;
}

static int g_verify_content; // plan_set_verify_content

void plan_set_verify_content(int on) { g_verify_content = on; }

// --verify-content: the files' SHA-256 now against the run's (root attribute checkpoint_sha256).
// Reads every byte of the checkpoint: minutes for a large model, so only when asked.
static void checkpoint_content(PlanRow *row, const RunfileSelf *self, const char *fp) {
    const char *then = self->checkpoint_sha256;
    if (!then) {
        fprintf(stderr, "lensweep: note: %s: no content hash in %s (written before lensweep recorded one): size and "
                        "modification time checked only\n", row->cfg->name, row->h5_path);
        return;
    }
    double t0 = lw_now();
    uint8_t *dig;
    int n;
    int64_t bytes;
    LwError err = {0};
    CheckpointHash *h = checkpoint_hash_start(row->checkpoint, fp, 0, 1);
    if (checkpoint_hash_finish(h, &dig, &n, &bytes, &err)) {
        row->status = PLAN_STALE;
        row->stale_checkpoint = 1;
        snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %.480s", err.msg);
    } else {
        char *now = checkpoint_sha256_text(fp, dig, 1), what[400];
        if (checkpoint_sha256_diff(then, now, what, sizeof what)) {
            row->status = PLAN_STALE;
            row->stale_checkpoint = 1;
            snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %s; size and modification time unchanged", what);
        }
        fprintf(stderr, "lensweep: %s: checkpoint content verified: %d file%s, %.3f GB in %.1f s: %s\n", row->cfg->name, n,
                n == 1 ? "" : "s", bytes / 1e9, lw_now() - t0, row->stale_checkpoint ? "changed" : "unchanged");
        free(now);
        free(dig);
    }
}

// A done model whose checkpoint files changed since its run (root attribute checkpoint_files,
// io/fingerprint.h: another seed or family written into the same directory) is stale.
static void checkpoint_staleness(PlanRow *row, const RunfileSelf *self) {
    const char *then = self->checkpoint_files;
    if (!then) return; // older files: none
    char *now = checkpoint_fingerprint_also(row->checkpoint, then), what[400];
    if (fingerprint_diff(then, now, what, sizeof what)) {
        row->status = PLAN_STALE;
        row->stale_checkpoint = 1;
        snprintf(row->status_detail, sizeof row->status_detail, "stale checkpoint: %s", what);
    } else if (g_verify_content) checkpoint_content(row, self, then);
    free(now);
}

PlanStatus plan_row_status(PlanRow *row) {
    RunfileSelf self;
    row->stale_checkpoint = 0;
    row->status = h5_status(row->h5_path, row->cfg->config_hash, row->status_detail, sizeof row->status_detail, &self);
    if (row->status == PLAN_DONE && row->checkpoint_found) checkpoint_staleness(row, &self);
    runfile_self_free(&self);
    return row->status;
}
