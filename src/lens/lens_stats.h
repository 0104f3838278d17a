// lens_stats — statistics of softmax distributions whose logits are split over vocabulary shards.
//
// Every rank holds the logits of its own ids [v0, v0 + vl) only (the lens GEMM against its slice
// of the unembedding, TENSOR_PARALLEL.md §4); a [rows × V] matrix is never gathered. Each
// statistic is a local pass over the shard followed by one small collective over `rows` scalars
// (TENSOR_PARALLEL.md §5): MAX for maxima and for "broadcasting" a tracked token's logit from its
// owner, SUM (double) for partial sums, an all-gather of R·k pairs for top-k. With one rank (comm
// NULL or of size 1) the collectives are no-ops, so this is the only code path at every TP size.
//
// A distribution is a LensDist: a local logit row z plus an elementwise fp32 transform (identity,
// temperature z/s, scale s·z, Gemma-style softcap), so temperature grids and rescalings need no
// copies of the logits. lens_normalize gives max and log-sum-exp (two rounds); everything
// probability-valued uses p_v = expf(x_v − lse_f) in fp32 and the METRICS.md §0.4 guards
// (1e-30 inside every log of the probability-vector formulas), summed in double.
//
// Conventions (METRICS.md §0.4, §5): entropies and divergences here are in NATS (callers divide
// by ln 2 for bits); ranks count strictly greater probabilities (ties do not push a token down);
// top-k orders by logit descending, ties by id ascending (a lensweep convention, TP §5).
#ifndef LW_LENS_STATS_H
#define LW_LENS_STATS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "backend/comm.h"

// LENS_EPS (1e-30f, METRICS.md §0.4's guard inside ln(p + ε)) comes with backend.h.

typedef struct {
    Comm *comm; // NULL: single rank
    int v0, vl; // this rank's ids [v0, v0 + vl)
    int V;      // global vocabulary (unembedding rows)
    const Backend *bk; // the logits' backend (the model's); NULL: backend_default()
    int fast_exp;      // 1: S and E with the backend's vectorized exp (backend.h lens_sums), 0: expf
} LensShard;

// The transforms are the backend's (backend.h, logit_xform), so its softmax partials apply them.
typedef enum {
    LX_IDENT = XF_IDENT,                 // x = z
    LX_DIV = XF_DIV,                     // x = z / a            (temperature)
    LX_MUL = XF_MUL,                     // x = a · z            (gate-stability scale, METRICS.md §16)
    LX_SOFTCAP = XF_SOFTCAP,             // x = a · tanh(z / a)  (§9 softcap transform)
    LX_SCALE_SOFTCAP = XF_SCALE_SOFTCAP, // x = a · tanh(z / (b · a))
} LensXform;

typedef struct {
    const float *z; // local logits [vl] (ids v0 .. v0 + vl - 1), backend memory (sh->bk's: the lens's chunk)
    LensXform xf;
    float a, b;
} LensDist;

static inline float lens_x(const LensDist *d, float z) { return logit_xform((LogitXformKind)d->xf, d->a, d->b, z); }
static inline LensDist lens_dist(const float *z) { LensDist d = {z, LX_IDENT, 1.0f, 1.0f}; return d; }

typedef struct {
    float max;       // max_v x_v over the whole vocabulary
    double lse;      // ln Σ_v exp(x_v), from double partial sums
    float lse_f;     // (float)lse; p_v = expf(x_v − lse_f)
    double H_nats;   // entropy from logits: ln S − E/S (METRICS.md §0.4, "from logits")
} LensNorm;

// Max, log-sum-exp and logit-formula entropy of n distributions. Two collectives.
void lens_normalize(const LensShard *sh, const LensDist *d, int n, LensNorm *out);

// Transformed logits x at global ids[r * nids + j] for each row r, on every rank (the owner
// contributes, MAX). ids < 0 or >= V give NaN. One collective.
void lens_values_at(const LensShard *sh, const LensDist *d, int n, const int32_t *ids, int nids, float *out);

// p = expf(x − lse_f): the probability every rank computes for a logit it knows.
static inline float lens_prob(const LensNorm *nrm, float x) { return expf(x - nrm->lse_f); }

// out[r] = Σ_j P_r[ids[j]]: the probability mass of row r on the same nids ids (METRICS.md §7's
// echo mass over the prompt's vocabulary), summed in double in ids order; 0 when nids == 0.
// One collective (lens_values_at).
void lens_mass_at(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, const int32_t *ids, int nids,
                  double *out);

// For each row r and tracked j (ids[r*nt+j], its logit xs[r*nt+j] from lens_values_at):
// out = #{v : p_v > p_t} (strictly greater probability: METRICS.md §5 answer_rank - 1), or with
// tie_by_id the position in a full (p desc, id asc) sort: + #{v < t : p_v == p_t}. NaN → -1.
// One collective.
void lens_count_above(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, const int32_t *ids,
                      const float *xs, int nt, int tie_by_id, int64_t *out);

// Sums over the vocabulary for pairs (P_r, Q_r) of distributions (Q may be NULL when only
// LP_HP is asked), in nats, one collective:
// (the bits of the backend's lens_pair op, backend.h LPS_*)
enum {
    LP_KL_PQ = LPS_KL_PQ,  // Σ p (ln(p+ε) − ln(q+ε))           KL(P‖Q), METRICS.md §0.4 guarded form
    LP_KL_QP = LPS_KL_QP,  // Σ q (ln(q+ε) − ln(p+ε))           KL(Q‖P)
    LP_L1 = LPS_L1,        // Σ |p − q|
    LP_SUMS = LPS_SUMS,    // Σ p, Σ q (for the JS mixture's normalization)
    LP_HP = LPS_HP,        // −Σ p ln(p+ε)                      probability-vector entropy of P
    LP_CE_QP = LPS_CE_QP,  // −Σ q ln(p+ε)                      CE(teacher Q, student P), §10
    LP_HQ = LPS_HQ,        // −Σ q ln(q+ε)
};
typedef struct { double kl_pq, kl_qp, l1, sum_p, sum_q, h_p, h_q, ce_qp; } LensPair;
void lens_pair(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
               int n, unsigned what, LensPair *out);

// Jensen–Shannon divergence (nats) with M = ½(P+Q)/msum (msum = ½(Σp + Σq) from LP_SUMS, so M
// sums to 1, METRICS.md §8.3): ½KL(P‖M) + ½KL(Q‖M), guarded logs. One collective.
void lens_js(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
             int n, const double *msum, double *js_nats);

// Top-k by transformed logit (desc; ties by id asc) of each row: ids [n, k], x [n, k],
// probs [n, k] (fp32 p widened). Local top-k, all-gather of R·k pairs, merge. Rows with fewer
// than k finite entries are padded with id -1, NaN.
void lens_topk(const LensShard *sh, const LensDist *d, const LensNorm *nrm, int n, int k, int32_t *ids, float *x,
               double *probs);

// lens_normalize and lens_topk of the same rows in one pass less: the local top-1 is the local max.
void lens_normalize_topk(const LensShard *sh, const LensDist *d, int n, int k, LensNorm *out, int32_t *ids, float *x,
                         double *probs);

// Dot products of logit vectors: out[3r..3r+2] = Σ x_P·x_Q, Σ x_P², Σ x_Q² (double). One collective.
void lens_dots(const LensShard *sh, const LensDist *P, const LensDist *Q, int n, double *out);

// Numeric health: out[4r..4r+3] = max |x|, min x, 1 if any NaN, 1 if any Inf (over the vocabulary).
void lens_extremes(const LensShard *sh, const LensDist *d, int n, float *out);

// nats → bits.
double lens_bits(double nats);

// ---------------------------------------------------------------------------- partials
// The per-shard half of lens_normalize, exposed so a test can merge hand-split shards the way
// the collectives do: local max m_r, then S_r = Σ exp(x − m), E_r = Σ exp(x − m)(x − m) for a
// common m (the MAX-reduced one). Both run on backend_default()'s softmax_partials.
float lens_local_max(const LensDist *d, int vl);
void lens_local_sums(const LensDist *d, int vl, float m, double *S, double *E);

#endif
