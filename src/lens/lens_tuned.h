// lens_tuned — the tuned lens in `run` (METRICS.md §4.3, §19.3–19.7): a fitted artifact
// (`lensweep fit-tuned`, docs/TUNED.md) decodes every post-block layer L = 1..n as
//
//     x = fp32(N_L(h_L))                   the norm lens's normalized residual (§4.1)
//     y = x + (x·U_ℓ)·V_ℓᵀ + c_ℓ           tuned_apply, ℓ = L − 1 (the identity at L = n)
//     z = (y·W_U) / τ_ℓ                    each logit divided in fp32 by (float)τ_ℓ (τ_n = 1)
//
// y is the same on every rank (tuned_apply: rows independent, fixed rounding); each rank
// multiplies it by its vocabulary shard (model_unembed_bk into backend memory, bit-exact at any rank count); every sum
// over the vocabulary runs in global id order (lens/lens_ordered.h). So /lens/tuned is
// bit-identical at R = 1, 2, 4. Row 0 (the embeddings) has no translator: NaN / −1.
//
// Datasets (docs/HDF5.md `/lens/tuned`; names are a contract of the exports):
//   /lens/tuned                attrs artifact_path, k, config_sha256; tau [n+1] (row 0 NaN, row n 1)
//   /lens/tuned/<pass>/        entropy_bits [n+1, T], topk_ids / topk_probs [n+1, T, K]
//   /lens/tuned/<pass>/next/   top_ids / top_probs / top_logits [n+1, 50], entropy_bits, p_answer,
//       answer_logit, answer_rank, p_contrast, kl_to_final_bits, cos_to_final (y·W_U against the
//       head), cos_to_answer, cos_to_prompt_max (on y), echo_mass_prompt, ranks_of_norm_top50
//       [n+1, 50], kl_rot_only_bits, answer_rank_rot_only (y·W_U, no τ), kl_temp_only_bits,
//       answer_rank_temp_only (norm logits / τ); attrs teacher_entropy_bits, kl_bits_tuned_final,
//       tau_star_modelcal, kl_bits_tuned_final_after_tau_star (§19.4 head_mismatch)
//   /lens/tuned/<pass>/positions/  pos_frac, pos_index [P]; kl_norm_bits, kl_tuned_bits,
//       entropy_norm_bits, entropy_tuned_bits, answer_rank_norm, answer_rank_tuned [n+1, P]
#ifndef LW_LENS_TUNED_H
#define LW_LENS_TUNED_H

#include "config/config.h"
#include "lens/lens_pass.h"
#include "tuned/tuned.h"

typedef struct {
    int on;          // a tuned-lens artifact decodes in this run
    const char *dir; // tuned_lens_dir
    TunedLens t;
} LensTuned;

// Decides whether the run decodes the tuned lens and loads its artifact (tuned/tuned_load.h).
// Before any weight is read (only config.json): `tuned_lens_dir` set turns the lens on;
// `lenses` naming tuned without it, a tuned_lens_dir that is not a directory, or an artifact
// that is incomplete, truncated, corrupt or fitted for another model is an error naming the
// file and field. Returns 0 (lt->on says whether) or -1 with err set (bad input: exit 2).
int lens_tuned_open(const LwRunConfig *cfg, const ModelConfig *mc, LensTuned *lt, LwError *err);
void lens_tuned_free(LensTuned *lt);

// The tuned lens's own attributes and tau, handed to lr's sink (rank 0; nothing elsewhere).
void lens_tuned_write_meta(const LensRun *lr, const LensTuned *lt);

// Decodes one pass (residuals [(n+1), T, d], replicated) and writes /lens/tuned/<pass>/...
// Every rank calls it (collectives inside).
void lens_tuned_pass(const LensRun *lr, const LensTuned *lt, const LensPassSpec *ps, const float *resid);

// §19.4 positional grid of a pass of T tokens: fractions {0.20, 0.40, 0.60, 0.80, 0.92, 0.96,
// 0.98, 1.00} → round-half-even(f·(T−1)), duplicates keep the first fraction, sorted by index.
// Returns P (≤ 8); frac[P], idx[P].
int lens_tuned_pos_grid(int T, double *frac, int32_t *idx);

// §19.4 head_mismatch search over temperatures τ of KL(softmax(z/τ) ‖ P_final): the 61
// log-spaced τ = 10^(log10 0.2 + i·(log10 5 − log10 0.2)/60), then τ = 1, then 41 linearly
// spaced τ in [max(0.2, τ*/2), min(5, 1.5·τ*)] around the best so far; the global minimum over
// all 103 evaluations, the first on ties. grid_out (may be NULL) receives the 62 first τ.
int lens_tuned_tau_grid(double *grid62);
void lens_tuned_refine_grid(double tau_star, double *grid41);

#endif
