// tuned_fit — the pieces of the tuned-lens fit (METRICS.md §19.2) as pure functions: the loss of
// one translator on a block of sampled positions with its analytic gradient, vocabulary-sharded;
// the penalties; AdamW with the cosine schedule; the seeded sampling of positions and layers.
// `lensweep fit-tuned` (src/cmd/fit_tuned.c) strings them together; tests/unit/test_tuned_fit.c
// checks every gradient against central finite differences of an independent double evaluation.
//
// Loss of translator ℓ on P rows (x_r = the norm lens's normalized residual at layer L = ℓ+1,
// p_r = the teacher distribution, the norm lens at the last block, not soft-capped):
//     s_r = translator_ℓ(x_r) · W_U / τ_ℓ                           (student logits)
//     CE  = (1/P) Σ_r [ lse(s_r) − Σ_v p_rv s_rv ]                   (= CE(teacher, student))
//     pen = a (‖U‖² + ‖V‖² + ‖c‖²) + a Σ_{nb ∈ {ℓ−1, ℓ+1}, 0 ≤ nb ≤ n−2} (‖U − U_nb‖² + ‖V − V_nb‖²)
// with a = 1e-4 and the neighbours detached (the identity translator n−1 has rank 0: no term).
//
// Vocabulary sharding: each rank holds the rows [vl, d] of W_U of its shard and the teacher's
// probabilities on it. The log-sum-exp is merged across ranks (a MAX all-reduce of the row maxima,
// then one SUM all-reduce of [Σ exp(s − m), Σ p·s] per row); dCE/ds = (softmax(s) − p) / P is
// local, dCE/dy = (dCE/ds · W_U) / τ is summed over the shards by ONE all-reduce of [P, d] (in
// double, with dCE/dτ appended); the rest of the backward (translator, temperature) is the same
// on every rank, so every rank holds the same translators.
//
// Backward through the translator (t = x·U):  dV = dyᵀ t,  dt = dy V,  dU = xᵀ dt,  dc = Σ_r dy_r,
// dx = dy + dt Uᵀ;  dθ = dτ · sigmoid(θ) (τ = softplus(θ) + 1e-3). dx is what the hidden state's
// gradient continues from: tuned_rmsnorm_backward carries it through the norm to h.
#ifndef LW_TUNED_FIT_H
#define LW_TUNED_FIT_H

#include <stdint.h>

#include "backend/comm.h"
#include "tuned/tuned.h"

#define TUNED_L2 1e-4     // §19.2 penalty on ‖U‖² + ‖V‖² + ‖c‖²
#define TUNED_SMOOTH 1e-4 // §19.2 penalty on the distance to the neighbouring translators

// This rank's vocabulary shard of the unembedding, fp32 host memory.
typedef struct {
    int d, vl;        // width; rows of the shard
    const float *W;   // [vl, d] row-major (the stored lm_head layout)
    Comm *comm;       // NULL or size 1: a single rank
} TunedVocab;

// Gradient accumulators of one translator: U, V [d, k], c [d], theta (scalar).
typedef struct {
    float *U, *V, *c;
    double theta;
} TunedGrad;

void tuned_grad_init(TunedGrad *g, int d, int k);
void tuned_grad_zero(TunedGrad *g, int d, int k);
void tuned_grad_free(TunedGrad *g);

// Local logits z [rows, vl] = x [rows, d] · W_shardᵀ (sgemm).
void tuned_fit_logits(const TunedVocab *tv, const float *x, int rows, float *z);

// The teacher from its local logits zt [rows, vl]: p [rows, vl] = softmax over the whole
// vocabulary (the log-sum-exp merged across ranks), ent[r] = its entropy in nats.
void tuned_fit_teacher(const TunedVocab *tv, const float *zt, int rows, float *p, double *ent);

// CE of translator l (see above) on rows x [rows, d] against the teacher (p [rows, vl] local,
// ent [rows]); returns the mean CE in nats (the same value on every rank). kl (may be NULL): the
// mean KL(teacher ‖ student) = CE − mean entropy. g (may be NULL): adds scale · dCE/dparams.
// dx (may be NULL): scale · dCE/dx [rows, d]. Collective: every rank calls it with the same rows.
double tuned_fit_ce(const TunedVocab *tv, const TunedLens *t, int l, const float *x, int rows, const float *p,
                    const double *ent, double scale, TunedGrad *g, float *dx, double *kl);

// The penalty of translator l (neighbours as above); g (may be NULL): adds scale · dpen/dparams.
double tuned_fit_penalty(const TunedLens *t, int l, double scale, TunedGrad *g);

// Backward of the RMSNorm x = h / sqrt(mean(h²) + eps) ⊙ w (model.h's norm, row by row):
// dh [rows, n] from dx [rows, n]. In double, rounded to fp32.
void tuned_rmsnorm_backward(const float *h, const float *w, const float *dx, float *dh, int rows, int n, double eps);

// ---------------------------------------------------------------------------- optimizer
// torch.optim.AdamW (decoupled weight decay): p ← p·(1 − lr·wd); m ← β1 m + (1−β1) g;
// v ← β2 v + (1−β2) g²; p ← p − (lr / (1−β1^s)) · m / (sqrt(v) / sqrt(1−β2^s) + eps), with the
// step count s kept per translator (a translator without a gradient in a step — never sampled in
// its micro-batches — is left alone, as torch skips parameters whose grad is None).
typedef struct {
    double lr, beta1, beta2, eps, weight_decay;
} TunedAdamHyper;

typedef struct {
    int d, k, n_train;            // n_train = n − 1 translators
    float *mU, *vU, *mV, *vV;     // [n_train][d][k]
    float *mc, *vc;               // [n_train][d]
    double *mth, *vth;            // [n_train]
    int64_t *steps;               // [n_train]
} TunedAdam;

void tuned_adam_init(TunedAdam *a, int d, int k, int n_train);
void tuned_adam_free(TunedAdam *a);
// One AdamW update of translator l with gradient g at learning rate lr.
void tuned_adam_step(TunedLens *t, TunedAdam *a, int l, const TunedGrad *g, double lr, const TunedAdamHyper *h);

// Cosine annealing to 0 (torch CosineAnnealingLR, eta_min 0, no warmup): the rate of the
// 0-based step s of total: lr0 · (1 + cos(π s / total)) / 2.
double tuned_lr_cosine(double lr0, int64_t step, int64_t total);

// ---------------------------------------------------------------------------- sampling
// splitmix64 (as fit-prism's reservoir): platform-independent, seeded.
uint64_t tuned_rng_next(uint64_t *state);
// Uniform integer in [0, n) (n ≥ 1; Lemire's multiply-shift, no modulo).
int tuned_rng_below(uint64_t *state, int n);
// Standard normal (Box–Muller on two draws).
double tuned_rng_normal(uint64_t *state);

// The position window of §19.2: [⌊0.6·T⌋, min(T, ⌊0.95·T⌋ + 1)) — [307, 487) for T = 512.
void tuned_position_window(int seq_len, int *lo, int *hi);
// P positions uniformly with replacement from the window (the micro-batch shares them).
void tuned_sample_positions(uint64_t *rng, int seq_len, int p, int *pos);
// K distinct translators of 0..n_train−1 (partial Fisher–Yates), returned ascending.
void tuned_sample_layers(uint64_t *rng, int n_train, int k, int *layers);

// ---------------------------------------------------------------------------- files
// DIR/tuned.safetensors of docs/TUNED.md: F32 U.<l> [d, k], V.<l> [d, k], c.<l> [d] for
// l = 0..n−2, log_tau [n−1]; header keys sorted, padded with spaces to 8 bytes, metadata format
// "lensweep-tuned". Returns 0, or -1 with err naming the path.
int tuned_write_safetensors(const TunedLens *t, const char *path, LwError *err);

// The fit's resume state (DIR/fit-state.bin): a JSON header (`meta`: the fit's identity and
// counters, whatever the caller puts there) and the raw arrays of the translators and the
// optimizer. Layout: "LWTUNEDSTATE1\n", u64 header length, header JSON, then U, V, c, log_tau,
// mU, vU, mV, vV, mc, vc (fp32), mth, vth (f64), steps (i64), then "END\n"; every length follows
// from d, k, n in the header. Written to path.tmp.<pid> and renamed.
int tuned_state_save(const char *path, const TunedLens *t, const TunedAdam *a, const char *meta_json, LwError *err);
// Reads a state written by tuned_state_save for translators of shape (d, n, k), into t and a
// (initialized by the caller with those shapes). *meta_json (malloc'ed) gets the header. A file of
// another shape, truncated or without its end mark: -1 with err naming the path.
int tuned_state_load(const char *path, TunedLens *t, TunedAdam *a, char **meta_json, LwError *err);

#endif
