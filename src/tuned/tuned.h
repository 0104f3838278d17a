// tuned — the tuned lens (METRICS.md §4.3 runtime map, §19 fit): the translator form, the rules
// that size a fit, and the artifact contract shared by `fit-tuned` (writer) and `run` (reader).
//
// Translator ℓ (block index ℓ = 0..n−1, decoding layer L = ℓ+1), on the norm lens's normalized
// residual x (fp32, row vector of length d):
//     y = x + (x·U_ℓ)·V_ℓᵀ + c_ℓ,      U_ℓ, V_ℓ ∈ ℝ^{d×k},  c_ℓ ∈ ℝ^d
//     z = (y·W_U + b_U) / τ_ℓ,         τ_ℓ = softplus(θ_ℓ) + 1e-3
// The last translator (ℓ = n−1, L = n) is the identity with τ = 1 and is not stored.
//
// Rounding (tuned_apply; every caller that must agree with it bit for bit uses it): t = x·U_ℓ
// with products and sums in double, rounded once to fp32 per entry; y_i = fp32(x_i + Σ_j t_j V_ij
// + c_i) with that sum in double (j ascending). Rows are independent, so the map is the same on
// every rank and at every rank count.
//
// Artifact DIR (docs/TUNED.md):
//   DIR/tuned.safetensors  F32, row-major:
//       U.<ℓ> [d, k], V.<ℓ> [d, k], c.<ℓ> [d]   for ℓ = 0..n−2
//       log_tau [n−1]                           θ_ℓ for ℓ = 0..n−2
//   DIR/provenance.json    written last (its presence marks a complete artifact); fields:
//       format "lensweep-tuned", version, model_path, model_name, family, config_sha256
//       (SHA-256 of config.json, null for GGUF), d_model, n_layers, vocab, rank (k),
//       has_preconditioner false, final_identity true, temperature_eps 0.001, temperatures [n]
//       (τ per layer, last 1.0), safetensors_sha256, tp_size, corpus {path, sha256, format,
//       n_tokens}, training {seed, steps, total_steps, tokens_seen, micro_batch, grad_accum,
//       seq_len, k_layers, p_pos, lr, weight_decay, betas, ...}, final_loss [n−1] (per layer,
//       null for layers never sampled), options (the fit's option values).
#ifndef LW_TUNED_H
#define LW_TUNED_H

#include <stdint.h>

#include "util/util.h"

#define TUNED_TAU_EPS 1e-3
#define TUNED_FORMAT "lensweep-tuned"

// ---------------------------------------------------------------------------- fit-size rules
// §19.1: k = max(64, min(B, 256)), B = max(1, ⌊d/32⌋); 256 when d ≥ 4096.
int tuned_rank_rule(int d);
// §19.2: K_layers = min(24, max(8, round(24·√(32000/V)))), further capped at the n−1 trainable
// layers; P_pos = min(16, max(12, round(16·√(32000/V)))). round() is half away from zero.
int tuned_k_layers_rule(int vocab, int n_layers);
int tuned_p_pos_rule(int vocab);

// τ = softplus(θ) + 1e-3, in double (softplus computed without overflow for large |θ|).
double tuned_tau_of(double theta);
// The θ for which τ = 1 exactly in real arithmetic: softplus⁻¹(1 − 1e-3) = ln(e^{0.999} − 1).
double tuned_theta_init(void);

// ---------------------------------------------------------------------------- the translators
typedef struct {
    int d, n_layers, k;   // n_layers = n (blocks); translators 0..n−2 are stored
    float *U, *V;         // [n−1][d][k]
    float *c;             // [n−1][d]
    float *log_tau;       // [n−1] θ
    char config_sha256[65]; // "" when unknown (GGUF checkpoint)
    int vocab;              // from provenance (0 when absent)
    char path[1024];        // the artifact directory
} TunedLens;

// Zero translators (U = V = 0, c = 0, θ = tuned_theta_init()): the identity map, τ ≈ 1.
void tuned_init(TunedLens *t, int d, int n_layers, int k);
void tuned_free(TunedLens *t);

// τ_ℓ (1.0 for ℓ = n−1, the fixed identity).
double tuned_tau(const TunedLens *t, int l);

// y = translator_ℓ(x) for `rows` rows of length d (x and y may not alias). ℓ = n−1: y = x.
// `t_scratch` holds rows·k floats (NULL: allocated here).
void tuned_apply(const TunedLens *t, int l, const float *x, int rows, float *y, float *t_scratch);

#endif
