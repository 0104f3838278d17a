// report_model — everything the report shows about one model of a run directory, loaded from
// the exported files (OUTPUTS.md): the JSON (milestones and summaries, the cross-model table),
// the pure-next-token CSV and its lens sidecars (curves over depth), the records CSV (the
// logit-lens grid).
//
// Loading never stops at a bad file: a model whose JSON is missing, truncated or a plain-text
// failure note ("EXPERIMENT FAILED FOR ...") is kept with status MODEL_FAILED and the reason,
// so the report can list it and still render every other model. A corrupt CSV only removes
// what it would have drawn and adds a note. A model that has only an HDF5 file (not exported
// yet) is listed with its HDF5 state.
#ifndef LW_REPORT_MODEL_H
#define LW_REPORT_MODEL_H

#include <jansson.h>

#include "util/util.h"

typedef enum { LENS_NORM, LENS_RAW, LENS_TUNED, LENS_PRISM, N_LENSES } ReportLens;
extern const char *const REPORT_LENS_NAME[N_LENSES];

// Per-layer curves of the primary pass (Germany→Berlin, orig) at NEXT, indexed by layer
// 0..n_layers; NAN where the lens has no value (tuned layer 0; raw has no KL/cos).
typedef struct {
    int present;
    char *file;            // CSV file name it came from
    double *kl_bits;       // kl_to_final_bits
    double *entropy_bits;
    double *answer_rank;
    double *p_answer;      // P_layer(answer) (p_answer / p_answer_raw)
    double *cos_to_final;
} LensCurves;

// The logit-lens grid: rows = layers 0..n, columns = prompt positions (records CSV) or prompt
// passes at NEXT (pure CSV, when no records CSV exists). Cell = top-1 token, its probability.
typedef struct {
    int n_rows, n_cols;
    char *file;
    char **col_label;      // n_cols (may contain "\n": two-line labels)
    char **top1;           // n_rows * n_cols, NULL where no row
    double *prob;          // n_rows * n_cols, NAN where no row
    unsigned char *is_answer; // n_rows * n_cols: the cell's token is the gold answer
} TokenGrid;

typedef enum { MODEL_OK, MODEL_FAILED, MODEL_NOT_EXPORTED } ModelStatus;

typedef struct {
    char *name;            // file stem (output-<name>.json)
    ModelStatus status;
    char *status_msg;      // why failed / not exported
    char **notes;          // non-fatal problems (a corrupt or missing sidecar)
    int n_notes;
    char *json_file;       // file name inside the run directory
    json_t *json;          // parsed JSON (MODEL_OK only)
    char *json_text;       // its text, for line citations
    int n_layers;
    double teacher_entropy_bits;  // NAN when unknown
    LensCurves lens[N_LENSES];
    TokenGrid grid_positions;     // records CSV (n_rows = 0 when absent)
    TokenGrid grid_passes;        // pure CSV, all passes at NEXT
} ReportModel;

struct ReportBattery; // report_battery.h

typedef struct {
    char *dir;
    ReportModel *models;
    int n_models;
    struct ReportBattery *batteries; // battery runs (their summary JSON), listed apart from the models
    int n_batteries;
} ReportRun;

// Finds every model in dir (output-<m>.json, output-<m>-*.csv, <m>.h5) and loads it, and every
// battery run (output-<m>-battery-summary.json, or <m>.h5 of run_kind "battery").
// Returns -1 with err only when dir is not a readable directory or holds no model or battery files;
// per-model problems are recorded in the models themselves.
int report_run_load(const char *dir, ReportRun *run, LwError *err);
void report_run_free(ReportRun *run);

// Loads one model from dir (exposed for tests).
void report_model_load(const char *dir, const char *name, ReportModel *m);
void report_model_free(ReportModel *m);

// State of an HDF5 run file: 1 complete, 0 not complete (reason in msg), -1 unreadable.
int report_h5_state(const char *path, char *msg, size_t msg_len);

#endif
