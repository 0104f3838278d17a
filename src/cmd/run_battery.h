// run_battery — `lensweep run` with `probes` naming a battery (docs/BATTERY.md): every item's
// prompt (and control prompt) tokenized and every answer aligned before any weight is read, then
// per item one forward and the norm lens at NEXT (lens/battery_pass.h; with battery_positions
// also at the item's last positions), written to the run file as datasets indexed by item
// (/battery, docs/HDF5.md schema 2).
#ifndef LW_RUN_BATTERY_H
#define LW_RUN_BATTERY_H

#include "config/config.h"
#include "lens/lens_pass.h"
#include "model/model.h"
#include "runfile/runfile_writer.h"
#include "tok/tok.h"

typedef struct BatteryPlan BatteryPlan;

// Tokenizes and aligns every item of cfg->battery (still no weights); every problem is added to
// the battery and battery_check reports them all at once (or skips them with skip_bad_items).
// Returns 0 with *out set, or -1 with err (exit 2).
int battery_plan_build(LwRunConfig *cfg, const ModelConfig *mc, const Tokenizer *tok, int bos_id, BatteryPlan **out,
                       LwError *err);
void battery_plan_free(BatteryPlan *bp);

// The items' passes and the /battery datasets; then the root's end attributes and runfile_finish
// (rank 0; rf NULL on the other ranks). t0: the run's start (lw_now) for wall_seconds; fingerprint: the checkpoint's files
// (io/fingerprint.h), part of the progress journal's key. Items finished by an earlier run of the
// same configuration (<out_dir>/<name>.battery-journal) are read back, not run again. Runtime
// failures die (exit 1).
void run_battery(const LensRun *lr, const LwRunConfig *cfg, const BatteryPlan *bp, RunFile *rf, Comm *comm, double t0,
                 const char *fingerprint);

#endif
