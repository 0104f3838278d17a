// export — `lensweep export`: one run HDF5 file -> the reference pipeline's JSON and CSV files
// (OUTPUTS.md) in an output directory. Every file is written under a temporary name
// (".<name>.tmp.<pid>") and renamed only after all of them were written, so a failed export never
// leaves a file that looks complete.
//
// Lenses are an axis: the norm lens writes the main CSVs, the raw lens its sidecars; tuned and
// Prism sidecars slot in as further ExLensOut entries once their measurements exist in the file.
#ifndef LW_EXPORT_H
#define LW_EXPORT_H

#include "config/config.h"
#include "runfile/run_read.h"

// Writes every file of one model into out_dir. Returns 0 or -1 with err set.
int ex_export(const LwRunConfig *cfg, const ExRun *run, const char *out_dir, LwError *err);

#endif
