// export_battery — `lensweep export` of a battery run (docs/BATTERY.md): the per item × layer
// rows (output-<name>-battery-records.csv) and the aggregates across items per layer with the
// distribution of the first rank-1 layer and its bootstrap confidence intervals
// (output-<name>-battery-summary.json); with /battery/positions (battery_positions != 1) also the
// per item × layer × position rows in the reference records CSV's columns
// (output-<name>-battery-positions.csv). tools/battery_aggregates.py computes the same aggregates
// from the CSV with numpy; tests/sh/test_battery.sh compares the two.
#ifndef LW_EXPORT_BATTERY_H
#define LW_EXPORT_BATTERY_H

#include <stdint.h>

#include "config/config.h"
#include "runfile/run_read.h"

#define BATTERY_BOOT_RESAMPLES 1000

// Writes both files of a battery run into out_dir (temporary names, renamed when both are
// written). Returns 0 or -1 with err.
int ex_export_battery(const LwRunConfig *cfg, const ExRun *run, const char *out_dir, LwError *err);

// The bootstrap's generator (splitmix64; docs/BATTERY.md): the next value of *state.
uint64_t battery_splitmix64(uint64_t *state);
// numpy's default quantile ("linear", Hyndman–Fan type 7) of sorted x[0..n): x[⌊h⌋] + (h − ⌊h⌋)·
// (x[⌊h⌋+1] − x[⌊h⌋]), h = (n − 1)·q. NaN when n = 0.
double battery_quantile_sorted(const double *x, int n, double q);

#endif
