// plan_memory — what one rank of a run holds at its peak, and how long its compute takes, from a
// model's shapes alone (issue 12 item 8, issue 16 item 9). `lensweep plan` and `lensweep inspect`
// print the same breakdown; docs/SLURM.md says what each term counts.
//
// Terms per rank (rank 0, the one with the largest vocabulary shard, is sized; 1 MB = 1e6 bytes):
// - weights: model_shape_bytes_per_rank at the compute dtype (the caller's figure);
// - residuals: fp32 [L+1, T, d] for the 3 calibration prompts (kept, cmd/run.c) plus
//   [L+1, max(T, Tb), d] for the batch of passes whose forwards ran together (cmd/run.c
//   run_pass_forwards keeps their residuals until each pass's lens work), T the longest prompt of
//   the probe set (passes and test prompts, BOS counted), Tb the tokens of the largest such batch
//   (config/plan_batch.h plan_pass_batch_tokens: batch_memory_mb over model_token_bytes, then
//   model_batch_plan over the passes' lengths, the formulas `run` uses);
// - activations: one block's forward working set at T tokens (x, norms, q/k/v, attention scores
//   [heads, T, T], gate/up/down, fp32; the row-parallel partials in double in exact mode);
// - lens: the logit chunk min(256 MiB, (L+1)·T·V/R·4) of lens/lens_pass.c, the NEXT rows
//   [L+1, V/R] kept per decoded lens, the head's logits [T, V/R];
// - positions (a battery with battery_positions != 1): the position rows rank 0 keeps until it
//   writes the run file, per row and layer the entropy (8 bytes) and top-k ids and probabilities
//   (12 bytes each): pos_rows · (L+1) · (8 + 12·k) (cmd/run_battery.c PosTable);
// - runtime, CPU: the resident size of a tiny run (libraries, MPI, BLAS buffers, heap) measured on
//   the development machine, per build (CUDA-linked or not; BENCHMARKS.md "Memory estimate");
// - GPU only, projected from documentation, not measured: the CUDA context, one cuBLAS workspace,
//   NCCL's channel buffers when R > 1 (constants in plan_memory.c).
// Time: forwards × max(FLOPs / rate, weight bytes / bandwidth) + lens FLOPs / rate; CPU rates
// measured on the development machine, GPU rates H100 SXM datasheet figures at half efficiency.
#ifndef LW_PLAN_MEMORY_H
#define LW_PLAN_MEMORY_H

#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "config/model_shape.h"

typedef struct {
    int gpu;         // sized for a GPU (device memory) rather than a CPU rank (resident set)
    int tp;          // ranks
    long tokens;     // longest prompt of the probe set, BOS included
    int n_lenses;    // lenses decoded at every position (norm, raw, prism)
    int exact;       // tp_exact: forward partials in double
    int64_t weights; // weight bytes per rank at the compute dtype
    long batch_tokens; // Tb: tokens of the largest batch of passes kept together (0: one pass of `tokens`)
    long pos_rows;     // battery_positions: position rows rank 0 keeps (PlanBatch.pos_rows; 0 = none)
    int pos_topk;      // their top-k (topk_records)
} PlanMemIn;

typedef struct {
    int64_t weights, residuals, activations, lens, runtime; // runtime: CPU ranks only
    int64_t positions;                                      // battery_positions' rows (rank 0)
    int64_t cuda_context, cublas_workspace, nccl_buffers;  // GPUs only (projected)
    int64_t total;
} PlanMemory;

// Bytes the CPU runtime adds to a run's peak RSS in this build (measured, see the .c).
int64_t plan_cpu_runtime_bytes(void);

void plan_memory_estimate(const LwModelShape *s, const PlanMemIn *in, PlanMemory *m);

// Seconds of forward and lens compute for n_passes lensed passes and n_tests forward-only test
// prompts, each counted at in->tokens (an upper bound).
double plan_compute_seconds(const LwModelShape *s, const PlanMemIn *in, int n_passes, int n_tests);

// The longest prompt of cfg's probe set in tokens, BOS included: tokenized with the checkpoint's
// tokenizer when checkpoint is non-NULL and its tokenizer loads (*tokenized = 1), else estimated
// as ceil(bytes / 4) + 1 (English BPE averages ~4.5 characters per token on the reference set:
// 16 tokens for its 76-character longest prompt with SmolLM2's tokenizer).
long plan_probe_tokens(const LwRunConfig *cfg, const char *checkpoint, int *tokenized);

// Lensed passes (2 per fact + the control) and test prompts of cfg's probe set.
int plan_probe_passes(const LwRunConfig *cfg);

// Lenses decoded at every position (norm, raw, prism in cfg->lenses; at least 1).
int plan_decoded_lenses(const LwRunConfig *cfg);

// One line per non-zero term ("  weights  538.1 MB ..."), each prefixed with indent, into f.
void plan_memory_print(FILE *f, const char *indent, const PlanMemory *m);

#endif
