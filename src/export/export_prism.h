// export_prism — the JSON block `diagnostics.prism_summary` (METRICS.md §20.2, OUTPUTS.md) of a
// run file; the Prism sidecar CSVs are export.c's writers run over the Prism lens's rows.
#ifndef LW_EXPORT_PRISM_H
#define LW_EXPORT_PRISM_H

#include "config/config.h"
#include "export/pyfmt.h"
#include "runfile/run_read.h"

// {mode, artifact_path, present, compatible, k, layers, error, metrics}. With a Prism lens in the
// file, metrics (primary pass, pos_orig_0) = {rank_milestones {baseline, prism, delta} (first
// layer of answer rank <= 10, 5, 1; delta = prism − baseline), kl_bits_at_percentiles
// {baseline, prism, delta} (kl_to_final_bits at the depth layers round(n·0.25/0.5/0.75); delta =
// baseline − prism), first_kl_le_1.0 {baseline, prism, delta = prism − baseline}}; baseline =
// the norm lens. Without one: present/compatible false, k/layers/error null, metrics {}.
void ex_prism_summary(const LwRunConfig *c, const ExRun *run, JsonW *j);

#endif
