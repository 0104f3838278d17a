// lens_ordered — sums over the vocabulary that are bit-identical at any rank count, for the
// learned lenses (Prism, tuned) whose outputs are compared across TP sizes without tolerance.
//
// The sums behind log-sum-exp, entropy, KL and cos_to_final are taken as ONE sequence of double
// additions over the global ids 0..V−1: rank 0 sums its shard (the shards are in rank order),
// broadcasts its running sums, rank 1 continues them over its own ids, and so on. That is exactly
// the sequence one rank alone performs. (lens_stats' collectives add per-shard partial sums: equal
// across rank counts to ~1e-14 relative, not bit for bit.) Cost: R small broadcasts per call, one
// pass over the logits. A distribution's transform (LensDist.xf: the tuned lens's temperatures) is
// applied to each logit as lens_stats applies it. The sums run on the host: on a backend without
// host_memory each distinct row is downloaded first (explicitly; LW_CUDA_OP_COUNTS prints the
// bytes at exit as "lens ordered sums (rank R): lens logits downloaded N bytes device to host").
#ifndef LW_LENS_ORDERED_H
#define LW_LENS_ORDERED_H

#include <stdint.h>

#include "config/config.h"
#include "lens/lens_stats.h"

// LensNorm of n rows: the max (a MAX all-reduce: exact), then lse, lse_f and the logit-formula
// entropy ln S − E/S from the chained sums (S = Σ e_v, E = Σ e_v·δ_v, δ_v = x_v − max,
// e_v = expf(δ_v) in fp32, summed in double).
void lens_ordered_normalize(const LensShard *sh, const LensDist *D, int n, LensNorm *N);

// kl[r] = KL(P_r ‖ Q_r) in nats: terms p (ln(p + ε) − ln(q + ε)) in fp32 (lens_stats' guarded
// form), summed in double.
void lens_ordered_kl(const LensShard *sh, const LensDist *P, const LensNorm *nP, const LensDist *Q, const LensNorm *nQ,
                     int n, double *kl);

// h[r] = −Σ q ln(q + ε) of Q_r (probability-vector formula, fp32 terms), in nats.
void lens_ordered_entropy_pv(const LensShard *sh, const LensDist *Q, const LensNorm *nQ, int n, double *h);

// out[3r..3r+2] = Σ z_P·z_Q, Σ z_P², Σ z_Q² (products of floats, exact in double).
void lens_ordered_dots(const LensShard *sh, const LensDist *P, const LensDist *Q, int n, double *out);

// P_r[id], z_r[id] and 1 + #{P_i > P[id]} of n rows (NaN / -1 when id < 0); any of p, logit,
// rank may be NULL. Exact at any rank count (a MAX and an integer count).
void lens_track_id(const LensShard *sh, const LensDist *D, const LensNorm *N, int n, int32_t id, double *p,
                   double *logit, int32_t *rank);

// The start of opening a learned lens's artifact, shared by Prism and the tuned lens: `lens`
// ("prism", "tuned") is named in `lenses` or not, `key` (prism_dir, tuned_lens_dir) is `dir`.
// Returns 0 when the lens is off (no dir; refused with err when `lenses` names it), 1 with
// config_sha256 (SHA-256 of the checkpoint's config.json, "" for a GGUF) when dir is a directory
// to load, -1 with err (dir not a directory, config.json unreadable). `fit_cmd` and `files` word
// the hints ("fit-prism", "prism.safetensors, provenance.json").
int lens_artifact_dir(const LwRunConfig *cfg, const char *lens, const char *key, const char *dir, const char *fit_cmd,
                      const char *what, const char *files, char config_sha256[65], LwError *err);

#endif
