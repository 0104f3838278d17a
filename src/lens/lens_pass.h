// lens_pass — decoding every layer of one forward pass through the lenses and handing the
// measurements to the sink (lens/lens_sink.h; in the run file they are docs/HDF5.md's
// `/lens/<lens>/<pass>/...` and the model-head datasets of `/prompts/<pass>/`), plus the
// norm-temperature calibration (METRICS.md §10) and the head-only statistics of the auxiliary
// prompts (§1.4).
//
// Shape of the work (DESIGN.md, TENSOR_PARALLEL.md §4-5): the residuals r_0..r_n of a pass are
// replicated on every rank; each rank normalizes them (norm lens: blocks[L].ln1 for L < n, the
// final norm at L = n, METRICS.md §4.1) and multiplies ALL layers × positions by its vocabulary
// shard of the unembedding in one GEMM (chunked by rows when (n+1)·T·V/R·4 bytes is large), then
// lens_stats reduces each row with a few small collectives. The NEXT position (T-1) gets the full
// metric set against the model head P_final; the raw lens (un-normalized residual) and the
// post_ln2 decoding point (§14: layer L ≥ 1 normalized by block L-1's second norm) are one more
// GEMM each over the n+1 NEXT rows.
//
// Every rank runs the same calls (collectives inside); only rank 0 has a sink (lens/lens_sink.h:
// the lens hands its measurements over and names no file; the run file's writer places them).
#ifndef LW_LENS_PASS_H
#define LW_LENS_PASS_H

#include <stdint.h>

#include "lens/lens_sink.h"
#include "lens/lens_stats.h"
#include "model/model.h"

#define LENS_NEXT_TOPK 50 // top-50 at NEXT (METRICS.md §5, §7 K=50, §8.3 Jaccard@50)

typedef struct {
    const Model *m;
    Comm *comm;
    LensShard sh;
    const LensSink *sink;  // NULL on ranks != 0
    int topk_all;          // top-k at every position (topk_records, 20)
    int topk_final;        // model head top-k per position (topk_final, 20)
    long positions;        // 0 = every position; k = the last k
    int want_raw;          // lens `raw` requested
    int n_scales;          // gate-stability scales (§16)
    const double *scales;
    int n_last_temps;      // §9 temperature grid
    const double *last_temps;
    int transforms_known;  // §9 head transforms probed (quirks.gemma_softcap_undetected off)
    const double *tau;     // [n+1] calibrated τ (§10), NULL before calibration
    int keep_residuals, keep_final_logits;
    const char *progress;  // prefix of progress lines ("pass 3/11 pos_no_filler_0")
} LensRun;

typedef struct {
    const char *name;                // "pos_orig_0"
    const int32_t *ids;              // forward sequence [T]
    int T;
    int32_t answer_id;               // a (-1 unresolved)
    int32_t contrast_id;             // ctl only: Berlin's id (-1 elsewhere)
    const int32_t *prompt_vocab_ids; // §7: unique non-WSP ctx ids
    int n_prompt_vocab;
} LensPassSpec;

typedef struct {
    int first_rank1;            // first layer with answer_rank == 1 (norm lens), -1
    double kl_last_bits;        // KL(P_n ‖ P_final) at NEXT
    double teacher_entropy_bits;
    int32_t final_top1;         // model head argmax at NEXT
    double final_top1_prob;
    int nonfinite_layer;        // first layer whose `nonfinite` mask at NEXT is set (norm lens), -1
    int nonfinite_bits;         // that mask (docs/HDF5.md)
} LensPassSummary;

// Initializes lr's shard from the model's slice and comm; sink NULL on ranks != 0.
void lens_run_init(LensRun *lr, const Model *m, Comm *comm, const LensSink *sink);

// Decodes one pass whose residuals are resid[(n+1), T, d] and hands its measurements to the sink.
void lens_pass(const LensRun *lr, const LensPassSpec *ps, const float *resid, LensPassSummary *out);

// Norm-temperature calibration (§10) from n_prompts passes: per layer the first τ of grid[G]
// minimizing the mean over prompts of CE(P_final, softmax(z_L/τ)) (nats). ce[p, L, g] and tau[L].
void lens_calibrate(const LensRun *lr, int n_prompts, const float *const *resid, const int *T, int G,
                    const double *grid, double *ce, double *tau);

// Model head of n raw last-layer residual rows r_last[n, d] (e.g. the last position of each test
// prompt, METRICS.md §1.4), one GEMM: entropy in bits of softmax(y / temps[r]) from logits and its
// top-k (ids, probs) per row. temps NULL = 1.
void lens_head_rows(const LensRun *lr, const float *r_last, int n, const double *temps, int k, double *H_bits,
                    int32_t *ids, double *probs);

#endif
