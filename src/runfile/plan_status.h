// plan_status — where a model of a sweep stands, from its run file <out_dir>/<name>.h5: the status
// column of `lensweep plan` and what slurm/submit skips (the rule: config/plan.h, at the top).
//
// It sits above config/plan.c because it reads the run file, through runfile/runfile_probe.h (the
// one owner of the file's layout): plan_model sizes a model without it, and `lensweep plan` calls
// plan_row_status on each row plan_model filled. Besides the root attributes it looks at what the
// writer leaves around the file: its checksum trailer (io/checksum.h), a <name>.h5.tmp.* of a
// killed or running run and the output lock's holder (io/filelock.h), and the checkpoint's files
// now (io/fingerprint.h).
#ifndef LW_PLAN_STATUS_H
#define LW_PLAN_STATUS_H

#include <stddef.h>

#include "config/plan.h"

// Status of <out_dir>/<name>.h5 against the expected config hash, with why in detail[detail_len].
PlanStatus plan_h5_status(const char *h5_path, const char *config_hash, char *detail, size_t detail_len);

// Fills row->status, row->status_detail and row->stale_checkpoint for a row plan_model filled:
// plan_h5_status of row->h5_path, then, for a done model whose checkpoint was found, whether the
// checkpoint's files changed since the run (root attribute checkpoint_files: size and modification
// time; with plan_set_verify_content also checkpoint_sha256). Returns row->status.
PlanStatus plan_row_status(PlanRow *row);

// `plan --verify-content`: a done model's checkpoint files are hashed again (SHA-256, every byte)
// and compared with the run file's checkpoint_sha256, besides their size and modification time.
void plan_set_verify_content(int on);

#endif
