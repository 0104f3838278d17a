// run_plan — what `lensweep run` probes, planned before any weight is read: the passes in
// METRICS.md §1.2 order (every prompt tokenized, every gold answer aligned), the test prompts, the
// BOS id, the calibration passes, and the checks of top-k sizes and layer indices against the
// model. The orchestration is run.c.
#ifndef LW_RUN_PLAN_H
#define LW_RUN_PLAN_H

#include <stdint.h>

#include "config/config.h"
#include "model/model.h"
#include "tok/tok.h"

#define N_CALIB 3

typedef struct {
    char name[64];         // pos_orig_0, pos_no_filler_0, ..., ctl_orig
    const char *prompt_id; // pos | ctl
    const char *variant;   // orig | no_filler
    int fact_index;        // -1 for ctl
    char *text, *answer;
    char key_text[256];    // config key naming the prompt text (errors)
    char key_answer[256];  // config key naming the answer (errors)
    TokAlign align;
    int32_t *ctx_ids;
    int n_ctx;
    int32_t *ids;          // forward sequence ([BOS] + ctx)
    int T;
    int32_t *prompt_vocab; // unique non-WSP ctx ids (§7)
    int n_prompt_vocab;
    int32_t contrast_id;   // ctl: Berlin on the Germany orig prompt
} Pass;

typedef struct {
    int32_t *ids;
    int T;
} Seq;

typedef struct {
    Pass passes[2 * LW_MAX_FACTS + 1];
    int n_passes;
    Seq tests[LW_MAX_TEST_PROMPTS];
    int n_tests;
    int bos_id;
    int calib[N_CALIB]; // pass indices of Germany orig, Germany no_filler, control
} Plan;

// Where an option's value came from ("--tp_size (command line)", a file:line, "default").
const char *opt_where(const LwRunConfig *cfg, const char *name);
// The file (or "built-in probe set") that the probe set came from, for errors.
const char *probe_where(const LwRunConfig *cfg);
// Plans the passes and test prompts of cfg's probe set for a model (no weights). Returns 0, or -1
// with err naming the probe-set file and key (exit 2).
int plan_build(const LwRunConfig *cfg, const ModelConfig *mc, const Tokenizer *tok, Plan *pl, LwError *err);

#endif
