// lens_prism — the Prism lens in `run` (METRICS.md §4.4, §20.2): a fitted artifact (`lensweep
// fit-prism`, docs/PRISM.md) decodes every layer's residual as
//
//     z_L = (((fp32(N_L(h_L)) − μ) / sqrt(σ² + ε_w)) · Q) · W_U
//
// i.e. the norm lens's normalized residual (same normalizer per layer, §4.1), whitened and
// rotated (row vector times Q: whitening in double rounded to fp32, then the backend's
// matmul_exact, double sums rounded once; the same rows on every rank), then the model's
// own unembedding through the lens code path: each rank multiplies by its vocabulary shard
// (model_unembed_bk into backend memory, bit-exact at any rank count) and lens_stats reduces the rows with the same
// collectives as the norm lens. So R = 1 and R = 2 write the same numbers.
//
// With quirks.prism_transposed off, the evident intent instead of the reference's runtime: the
// whitening is applied to the un-normalized residual it was fitted on and the fitted map Q·e
// (column vectors, i.e. row vector times Qᵀ).
//
// Datasets (docs/HDF5.md `/lens/prism`): all positions `entropy_bits`, `topk_ids`, `topk_probs`
// as the norm lens; at NEXT `next/` top_ids/top_probs/top_logits [n+1, 50], entropy_bits,
// p_answer, answer_logit, answer_rank, p_contrast, kl_to_final_bits, cos_to_final,
// echo_mass_prompt, attribute teacher_entropy_bits. Group attributes name the artifact.
// Every sum over the vocabulary (log-sum-exp, entropy, KL, cos_to_final, the teacher entropy) runs
// in global id order across the ranks (lens/lens_ordered.h), so the Prism values
// are bit-identical at any rank count.
#ifndef LW_LENS_PRISM_H
#define LW_LENS_PRISM_H

#include "config/config.h"
#include "lens/lens_pass.h"
#include "prism/prism.h"

typedef struct {
    int on;             // a Prism artifact decodes in this run
    const char *dir;    // prism_dir
    int transposed;     // quirks.prism_transposed (the reference's runtime map)
    PrismArtifact art;
    void *qt;           // the rotation as a backend weight [d, d] (Qᵀ of the map), uploaded on first use
    const Backend *qt_bk;
} LensPrism;

// Decides whether the run decodes the Prism lens and loads its artifact. Before any weight is
// read (only config.json): `prism_dir` set turns the lens on (the reference's mode "auto");
// `lenses` naming prism without prism_dir, a prism_dir that is not a directory, or an artifact
// that is incomplete, truncated, corrupt (provenance's safetensors_sha256) or fitted for another
// model (d_model, n_layers, vocab, config.json's SHA-256) is an error naming the file and field.
// Returns 0 (lp->on says whether) or -1 with err set (bad input: exit 2).
int lens_prism_open(const LwRunConfig *cfg, const ModelConfig *mc, LensPrism *lp, LwError *err);
void lens_prism_free(LensPrism *lp);

// The Prism lens's own attributes, handed to lr's sink (rank 0; nothing elsewhere).
void lens_prism_write_meta(const LensRun *lr, const LensPrism *lp);

// Decodes one pass (residuals [(n+1), T, d], replicated) and writes /lens/prism/<pass>/...
// Every rank calls it (collectives inside). The whitened rows are rotated by the backend's
// matmul_exact (double products and sums, rounded once; all rows of the pass in one call, the same
// call on every rank).
void lens_prism_pass(const LensRun *lr, LensPrism *lp, const LensPassSpec *ps, const float *resid);

#endif
