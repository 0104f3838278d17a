// export_rules — the threshold rules and summaries of METRICS.md applied to the measurements of
// runfile/run_read.h. Pure functions over arrays; every threshold comes from the LwRunConfig option
// table, so changing one re-exports without re-running the model (DESIGN.md).
//
// Layers: 0..n ("first layer where X" = scan upward, -1 = none/null). Ranks and ids: -1 = missing.
#ifndef LW_EXPORT_RULES_H
#define LW_EXPORT_RULES_H

#include "config/config.h"
#include "runfile/run_read.h"

// ---------------------------------------------------------------------------- small rules

// METRICS.md §0.4 percentile: sort, r = p·(N−1), linear interpolation; NaN for N = 0. NaNs in v
// are skipped. p in [0, 1].
double ex_percentile(const double *v, int n, double p);
// Depth-percentile layer: round-half-even(n·frac) clamped to [0, n] (n=42, 0.25 -> 10).
int ex_depth_layer(int n, double frac);
// WSP of token id (its /vocab/decoded string). A decode that is the single character U+0000 is
// stored as "" (C strings): the byte tokens "<0x00>" / "Ā" are therefore not WSP, as in the reference.
int ex_token_wsp(const ExRun *run, int id);
// 1 when win[0..k) occurs contiguously in seq[0..n).
int ex_contig_subseq(const int *win, int k, const int *seq, int n);
// |A∩B| / |A∪B| of two id lists (ids < 0 ignored; duplicates counted once). NaN when both empty.
double ex_jaccard(const int *a, int na, const int *b, int nb);
// Pearson correlation; NaN when a variance is zero or n < 2.
double ex_pearson(const double *x, const double *y, int n);
// §6.2 strict rule at threshold tau: window in ctx, p1 > tau, p1 - p2 > margin, top-1 not WSP.
int ex_copy_strict(const int *win, int k, const int *ctx, int nctx, double p1, double p2, double tau,
                   double margin, int top1_is_wsp);
// §6.4 soft rule: len >= k, window in ctx, p1 > tau (no margin, no WSP guard).
int ex_copy_soft(const int *hist, int len, int k, const int *ctx, int nctx, double p1, double tau);
// §8.4 lens-artefact score v1 / v2 and tier.
double ex_artifact_score(const LwRunConfig *c, double pct_kl_ge_1, int n_norm_only, double max_kl);
double ex_artifact_score_v2(const LwRunConfig *c, double score, double js_p50, double l1_p50);
const char *ex_artifact_tier(const LwRunConfig *c, double score);
// §9 last-layer gate.
int ex_last_layer_warn(const LwRunConfig *c, double kl_final, double kl_after_temp);

// ---------------------------------------------------------------------------- copy flag columns

#define EX_MAX_COPY_COLS 64
typedef struct {
    int n_strict;                  // strict columns: copy_threshold first, then the other sweep values
    double strict_tau[EX_MAX_COPY_COLS];
    int n_soft;                    // soft columns: (threshold, k) pairs
    double soft_tau[EX_MAX_COPY_COLS];
    int soft_k[EX_MAX_COPY_COLS];
    char names[EX_MAX_COPY_COLS][48];
    int n;                         // n_strict + n_soft
} ExCopyCols;
void ex_copy_cols(const LwRunConfig *c, ExCopyCols *cc);

// ---------------------------------------------------------------------------- per-pass rows

// Derived per-layer values of one pass (norm lens, NEXT) — everything the pure CSV shows that is
// not stored as a measurement, plus the raw-lens comparisons.
typedef struct {
    int L1;                           // n+1
    int *top1, *top1_raw;
    double *p_top1, *p_top5, *rest_mass, *amu, *control_margin;
    double *answer_logit_gap, *answer_vs_top1_gap, *answer_minus_echo, *mass_ratio, *topk_prompt_mass;
    double *control_top2_gap;
    int *copy;                        // [L1 * cc.n] in column order
    int *copy_sweep;                  // [L1 * n_sweep] strict rule at each copy_strict_sweep value
    int *entropy_collapse, *is_answer, *margin_ok, *geom_crossover, *norm_only_semantics;
    double *jac_raw_norm, *jac_consec;// correct per-pass values (NaN at L=0 for consec)
    double *jac10_raw_norm, *spearman_raw_norm; // §15 per layer
    int *prompt_vocab; int n_prompt_vocab;
} ExRows;

// x = the lens whose rows these are (norm today; tuned/Prism sidecars later, same layout), w = the
// lens compared with it in the raw-vs-norm columns (the raw lens; NULL or not present = none).
void ex_rows_build(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExNext *x, const ExNext *w,
                   const ExCopyCols *cc, ExRows *r);
void ex_rows_free(ExRows *r);

// ---------------------------------------------------------------------------- per-pass summary

#define EX_MAX_MS 16
typedef struct {
    int L_copy, L_copy_H, L_semantic;
    int n_kl; int first_kl[EX_MAX_MS];       // per kl_milestones_bits
    int n_rank; int first_rank[EX_MAX_MS];   // per rank_milestones
    int n_soft_k; int L_copy_soft[EX_MAX_MS];// per copy_soft_windows (threshold copy_soft_threshold)
    int n_sweep; int L_sweep[EX_MAX_MS];     // per copy_strict_sweep
    int L_surface, L_geom, L_topk_decay;
    int n_cos; int cos_ge[EX_MAX_MS];
    int L_margin_ok, L_run2;
    int L_top2_ok, L_strong, L_strong_run2;  // intended values (§13); see quirk_gap_milestones_null
    int gap_ge_05, gap_ge_10;
    int L_semantic_raw;
    int first_rank_le_5, first_rank_le_10, first_kl_le_1;
    int L_soft_min, L_soft_min_k;            // earliest soft layer (smallest k on ties)
    // raw-lens window
    int radius, n_centers, centers[8];
    int n_checked; int *checked;             // sorted layers
} ExSummary;

void ex_summary_build(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExNext *x, const ExRows *r,
                      const ExCopyCols *cc, ExSummary *s);
// §6.3 norm-only flag of strict-sweep entry i of summary s (pass p): 1 when the raw lens has no
// strict copy at that threshold within ±s->radius layers of L_sweep[i], 0 when it has one, -1
// (null) when the sweep found no layer or the file has no raw lens.
int ex_copy_norm_only(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExSummary *s, int i);
// §6.3 copy_thresholds.stability: "none" without a norm-only flag (any_flag = 0), else "mixed"
// under quirk_copy_stability_mixed, else the sweep's highest against its lowest threshold.
const char *ex_copy_stability(const LwRunConfig *c, const ExSummary *s, int n, int any_flag);
// Raw-lens window (needs the pass's radius): fills centers/checked.
void ex_summary_window(const LwRunConfig *c, const ExRun *run, ExSummary *s, int radius);
void ex_summary_free(ExSummary *s);

#endif
