// plan_batch — the forward batches a run will make, from sizes alone (issue 15 item 2: "the batch
// size chosen from a memory budget (an option) and reported"). `lensweep plan` prints them per model
// and `lensweep inspect` the tokens per batch; `run` logs the same figures when it runs.
//
// Tokens per batch: batch_memory_mb · 1e6 / the bytes a forward holds per token on rank 0
// (model_token_bytes of model/batch.c, the formula `run` uses: rank 0 has the largest head, kv and
// MLP slices, model/tp.c). The prompts batched: a battery's item prompts, each followed by its
// control prompt (cmd/run_battery.c); for the reference probe set the three calibration prompts and
// the test prompts, each group batched on its own (cmd/run.c; the 11 passes run one forward each).
// Each prompt is [BOS] + its ids (no BOS for the families without one), tokenized by the
// checkpoint's tokenizer when it loads, else estimated as ceil(bytes / 4) + 1 (as plan_probe_tokens);
// the batches are model_batch_plan's for those lengths.
#ifndef LW_PLAN_BATCH_H
#define LW_PLAN_BATCH_H

#include <stdint.h>

#include "config/config.h"
#include "config/model_shape.h"

typedef struct {
    int64_t token_bytes; // per token of a batch, on rank 0
    int batch_tokens;    // tokens per batch for cfg->batch_memory_mb
    int tokenized;       // 1: the checkpoint's tokenizer; 0: lengths estimated
    int battery;         // 1: cfg->battery's prompts; 0: the reference probe set's
    int n_prompts;       // battery: items + control prompts; reference: the calibration prompts
    int n_controls;      // battery: control prompts among them
    long tokens;         // their tokens, BOS included
    int longest;         // the longest of them
    int n_batches;       // their batches
    int n_tests, test_batches; // reference: the test prompts and their batches
    // reference: the lengths of the passes that are not calibration prompts, in run order (facts
    // 1.. orig and no_filler): cmd/run.c batches their forwards and keeps a batch's residuals
    int pass_lens[2 * LW_MAX_FACTS], n_pass_lens;
    // battery with battery_positions != 1: the position rows decoded and kept on rank 0 (per item
    // its last battery_positions positions, all of a shorter item, all for 0); 0 otherwise
    long pos_rows, pos_k; // pos_k: battery_positions
} PlanBatch;

// Fills pb for cfg on shape s at tp ranks; checkpoint (NULL or "": not found) supplies the
// tokenizer and the BOS rule.
void plan_batches(const LwRunConfig *cfg, const LwModelShape *s, int tp, const char *checkpoint, PlanBatch *pb);

// Tokens per forward batch on rank 0 of tp ranks for cfg->batch_memory_mb (the formula of
// `run`: model_token_bytes of rank 0's slices, model_batch_tokens_of); *token_bytes (when not
// NULL) the bytes per token.
int plan_batch_tokens(const LwRunConfig *cfg, const LwModelShape *s, int tp, int64_t *token_bytes);

// The tokens of the largest batch of pb's passes (pass_lens) that `run` keeps together at
// batch_tokens tokens per batch (model_batch_plan: consecutive passes while they fit, a longer
// pass alone); 0 without such passes.
long plan_pass_batch_tokens(const PlanBatch *pb, int batch_tokens);

// One line, e.g. "up to 367 tokens per batch (2.72 KB per token on rank 0, batch_memory_mb 1);
// battery: 12 prompts (10 items + 2 control), 94 tokens (tokenized), longest 22: 1 batch" (with
// battery_positions != 1 then "; battery_positions 3: 30 position rows decoded").
void plan_batch_describe(const PlanBatch *pb, long budget_mb, char *buf, size_t n);

#endif
