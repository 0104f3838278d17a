// runfile_writer — the one module that writes the run file of `lensweep run` (docs/HDF5.md).
// cmd/run.c and cmd/run_battery.c say what to record (the run's facts, the prompts, the
// calibration, the auxiliary prompts, a battery's items and tables); the lens hands its
// measurements to the LensSink this module implements (lens/lens_sink.h). Every name and path
// comes from runfile/layout.h, the table the reader (run_read.c) uses too; the HDF5 calls are
// runfile/h5.h's (the .tmp.<pid> name until runfile_finish, chunking, errors that die naming
// the file and the object).
//
// Only rank 0 has a RunFile; every function accepts rf == NULL and then does nothing, so the
// other ranks run the same code.
#ifndef LW_RUNFILE_WRITER_H
#define LW_RUNFILE_WRITER_H

#include <stdint.h>

#include "backend/device.h"
#include "config/battery.h"
#include "config/config.h"
#include "lens/lens_sink.h"
#include "model/model.h"
#include "tok/tok.h"
#include "util/util.h"

typedef struct RunFile RunFile;

// Creates <path>.tmp.<pid> (runfile/h5.h). Returns NULL with err set when it cannot.
RunFile *runfile_create(const char *path, LwError *err);
// The root's end attributes (end_time, wall_seconds), then `complete = 1`, close, rename to the
// final path; frees rf. Returns 0 or -1 with err.
int runfile_finish(RunFile *rf, const char *end_time, double wall_seconds, LwError *err);
// The lens's sink into this file; NULL when rf is NULL (the other ranks).
const LensSink *runfile_lens_sink(RunFile *rf);

// ---------------------------------------------------------------------------- a run's header

// The root attributes: what ran (model facts, the device choice, R ranks), the configuration
// and its hash, the start time, the checkpoint's files and content hash (io/fingerprint.h).
void runfile_write_root(RunFile *rf, const LwRunConfig *cfg, const Model *m, const Tokenizer *tok, int bos_id,
                        const DeviceChoice *ran, int R, const char *start_time, const char *checkpoint_files,
                        const char *checkpoint_sha256);
// /vocab: every id's decoded text and token piece ("" past the tokenizer's ids).
void runfile_write_vocab(RunFile *rf, const Tokenizer *tok, int V);

// ---------------------------------------------------------------------------- the reference passes

// /prompts/order: the passes in the order they ran.
void runfile_write_order(RunFile *rf, int n, const char *const *names);

// One pass's prompt (/prompts/<name> attributes, ids, ctx_ids).
typedef struct {
    const char *name, *prompt_id, *variant;
    const char *fact_key;        // "" for the control pass
    int fact_index;              // -1 for the control pass
    const char *text, *answer;
    const TokAlign *align;
    const int32_t *ids, *ctx_ids;
    int T, n_ctx;
    int32_t contrast_id;         // the control pass only (fact_index < 0)
    const char *contrast_answer; // the control pass only
} RunFilePrompt;
void runfile_write_prompt(RunFile *rf, const RunFilePrompt *p);
// /prompts/<pass>/resid_nonfinite [n1, T] (1 NaN, 2 Inf).
void runfile_write_resid_nonfinite(RunFile *rf, const char *pass, int n1, int T, const int32_t *mask);

// /calibration: the τ grid [G], τ per layer [n1], ce [n_prompts, n1, G], the prompts' pass names.
void runfile_write_calibration(RunFile *rf, int G, const double *grid, int n1, const double *tau, int n_prompts,
                               const double *ce, const char *const *prompts);
// /aux/test_prompts: n prompts' texts, head entropy [n] and top-k [n, k].
void runfile_write_test_prompts(RunFile *rf, int n, int k, const char *const *text, const double *H_bits,
                                const int32_t *ids, const double *probs);
// /aux/temperature: n temperatures, head entropy [n] and top-k [n, k].
void runfile_write_temperature(RunFile *rf, int n, int k, const double *temps, const double *H_bits,
                               const int32_t *ids, const double *probs);

// ---------------------------------------------------------------------------- a battery (schema 2)

// One item's sequences (the battery's plan, cmd/run_battery.c).
typedef struct {
    int32_t *ids;           // forward sequence ([BOS] + prompt ids)
    int T;
    int32_t *first_ids;     // [n_answers]: each answer's first id aligned after the prompt
    int32_t *ctl_ids;       // control prompt's sequence, NULL when none
    int ctl_T;
    int32_t *ctl_first_ids; // the answers aligned after the control prompt
} RunFileBatteryItem;

// Per item × layer results of one kind of prompt (the items' own, or their controls): [N, n1]
// unless stated.
typedef struct {
    double *entropy_bits, *kl_to_final_bits, *p_answer, *p_answer_any, *answer_logit, *top_probs; // top: [N, n1, K]
    int32_t *answer_rank, *answer_best, *top_ids;
    double *teacher_entropy_bits, *final_top1_prob; // [N]
    int32_t *final_top1, *first_rank1;              // [N]
} RunFileBatteryTable;

// /battery: its attributes, items[N], skipped items, the items' table and (control != NULL) the
// control prompts' table; K = top-k kept per layer.
void runfile_write_battery(RunFile *rf, const LwBattery *b, const RunFileBatteryItem *items, int N, int n1, int K,
                           const RunFileBatteryTable *next, const RunFileBatteryTable *control);

// The position rows of a battery run with battery_positions != 1: rows item after item, each
// item's in position order (off[i] .. off[i+1]: its last off[i+1] - off[i] positions), per row
// entropy_bits [n1] and top-K ids and probabilities [n1, K].
typedef struct {
    long k;            // the option's value (0 = every position)
    int K;
    const long *off;   // [N+1]
    const double *entropy_bits;
    const int32_t *top_ids;
    const double *top_probs;
} RunFileBatteryPositions;

// /battery/positions (docs/HDF5.md): its attributes, offsets [N+1], item and pos [P] (P = off[N]),
// entropy_bits [P, n1], top_ids and top_probs [P, n1, K].
void runfile_write_battery_positions(RunFile *rf, const RunFileBatteryItem *items, int N, int n1,
                                     const RunFileBatteryPositions *pos);

#endif
