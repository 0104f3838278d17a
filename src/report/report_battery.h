// report_battery — the battery runs of a run directory (docs/BATTERY.md), as the report shows
// them: the aggregates across items per layer and the distribution of the first rank-1 layer,
// read from the export's output-<name>-battery-summary.json. That file is the one source of the
// numbers (export_battery.c computes them once; the report draws them, it never recomputes).
//
// Like report_model, loading never stops at a bad file: a summary that is missing, not JSON or
// lacks a block is kept with status MODEL_FAILED and the reason; a battery run file without an
// export is MODEL_NOT_EXPORTED with the `lensweep export` command.
#ifndef LW_REPORT_BATTERY_H
#define LW_REPORT_BATTERY_H

#include <jansson.h>
#include <stdio.h>

#include "report/report_model.h"

// The per-layer metrics of the summary (its per_layer keys, in its order).
typedef enum { BAT_RANK, BAT_P_ANSWER, BAT_KL, BAT_ENTROPY, N_BAT_METRICS } BatteryMetric;
extern const char *const REPORT_BATTERY_METRIC_KEY[N_BAT_METRICS];

// The statistics of one metric at each layer (per_layer.<metric>[L]), NAN where the JSON has null.
typedef enum { BQ_Q10, BQ_Q25, BQ_MEDIAN, BQ_Q75, BQ_Q90, BQ_MEAN, N_BQ } BatteryStat;
extern const char *const REPORT_BATTERY_STAT_KEY[N_BQ];

typedef struct {
    int *n;                // items with a value at the layer
    double *v[N_BQ];       // [n_layers + 1] each
} BatteryBands;

typedef struct ReportBattery {
    char *name;            // the run's model name (output-<name>-battery-summary.json, <name>.h5)
    ModelStatus status;
    char *status_msg;      // why failed / not exported
    char *file;            // the summary JSON's file name
    char *json_text;       // its text, for line citations
    json_t *json;
    char *battery_name, *source;
    int n_items, n_layers;
    BatteryBands band[N_BAT_METRICS];
    double *frac_rank1;    // [n_layers + 1]
    // first_rank1
    int fr_n_reached, fr_never;
    double fr_fraction, fr_median, fr_mean; // NAN where null
    int *fr_hist;          // [n_layers + 1]
    int boot_resamples, boot_with_reached;
    long boot_seed;
    double boot_level;
    double ci_fraction[2], ci_median[2], ci_mean[2]; // NAN where null
} ReportBattery;

// Loads battery <name> of dir: its summary JSON when present, else the state of <name>.h5.
void report_battery_load(const char *dir, const char *name, ReportBattery *b);
void report_battery_free(ReportBattery *b);

// The battery's section of the HTML page (report_battery_html.c): band charts of the per-layer
// aggregates, the first rank-1 distribution with its bootstrap intervals; or its status.
void report_battery_html_section(FILE *f, const ReportBattery *b);

#endif
