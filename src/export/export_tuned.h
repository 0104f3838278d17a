// export_tuned — the tuned lens's JSON blocks and audit CSVs (METRICS.md §19.3–§19.7, §8.5, §15;
// OUTPUTS.md §7, §8, §11): the per-pass tuned summaries (the §13 summarizer of export_rules.c run
// over the tuned rows, layers 1..n), tuned_lens.summary.metrics, audit_summary, attribution,
// skip_layers_sanity, position_window, the `*_tuned` diagnostics, lens_consistency.norm_vs_tuned
// and evaluation_pack.tuned_audit.
//
// Inputs are plain arrays (ExTunedPass, one per pass of the run, in pass order) so the rules can
// be tested on hand-made values; export.c fills them from the run file's /lens/tuned groups.
// Layers: 0..n; the tuned lens has no row 0 (NaN / -1 there). Ranks and ids: -1 = missing.
#ifndef LW_EXPORT_TUNED_H
#define LW_EXPORT_TUNED_H

#include <stdio.h>

#include "config/config.h"
#include "export/export_rules.h"
#include "export/pyfmt.h"
#include "runfile/run_read.h"

// The tuned lens in one pass (/lens/tuned/<pass>/). next.present = 0: no tuned values for it.
typedef struct {
    ExNext next;                                        // NEXT values as the norm lens's (row 0 missing)
    const double *kl_rot_only_bits, *kl_temp_only_bits; // [n+1] §19.4 variants; NULL when not stored
    const int *answer_rank_rot_only, *answer_rank_temp_only;
    double teacher_entropy_bits;                        // H(P_final) by the tuned code path
    double kl_bits_tuned_final, tau_star_modelcal, kl_bits_tuned_final_after_tau_star; // §19.4 head mismatch
    int P;                                              // positional rows (0: none stored)
    const double *pos_frac;                             // [P] grid label of each position
    const int *pos_index;                               // [P]
    const double *kl_norm_bits, *kl_tuned_bits, *entropy_norm_bits, *entropy_tuned_bits; // [n+1, P]
    const int *answer_rank_norm, *answer_rank_tuned;    // [n+1, P], -1 except at the last position
} ExTunedPass;

// The tuned lens of a run: present = 0 when the run decoded none.
typedef struct {
    int present;
    const char *artifact_path;                         // /lens/tuned attribute
    const ExTunedPass *passes;                         // [run->n_passes]
} ExTunedIn;

// The view of a run file's /lens/tuned (run_read.h): tp[run->n_passes] filled, in->present =
// run->has_tuned.
void ex_tuned_in_from_run(const ExRun *run, ExTunedPass *tp, ExTunedIn *in);

// Everything derived once (ex_tuned_derive), read by the writers below.
typedef struct {
    int present;
    const ExTunedIn *in;
    int n, L1, n_passes;
    ExRows *rows;          // per pass (tuned lens)
    ExSummary *sums;       // per pass (tuned lens, layers 1..n)
    int primary;           // the Germany orig pass (0)
    int audit;             // the pass the audit describes (-1: none has the audit arrays)
    // tuned_lens.summary.metrics (primary pass; baseline = norm lens)
    int depth[3];          // depth-percentile layers round(n·0.25/0.5/0.75)
    int fr_base[3], fr_tuned[3];        // first rank <= 10, 5, 1
    double kl_base[3], kl_tuned[3];     // kl_to_final_bits at depth[]
    int fk_base, fk_tuned;              // first kl <= 1.0
    // audit_summary (audit pass)
    double rot_p[3], temp_p[3], inter_p50, tuned_p50;
    double pos_in, pos_ood, pos_gap;
    int calib_only;
    const char *hint;      // preferred_semantics_lens_hint
    // attribution (primary pass)
    double a_tuned[3], a_temp[3], a_rot[3];
    int prefer_tuned;
    // skip_layers_sanity (m from skip_layers_m)
    int n_skip;
    long skip_m[EX_MAX_MS];
    double skip[EX_MAX_MS];
    int regression;
    double regression_value;
    // position window (audit pass rows at the primary pass's norm L_semantic)
    int L_semantic_norm;
    double rank1_frac;
    int n_positions;
    // §8.5
    int L_semantic_tuned;  // primary pass: first tuned layer with answer rank 1
} ExTunedD;

// norm_sums: the norm lens's per-pass summaries (L_semantic, raw-lens window radius).
void ex_tuned_derive(const LwRunConfig *c, const ExRun *run, const ExTunedIn *in, const ExCopyCols *cc,
                     const ExSummary *norm_sums, ExTunedD *d);
void ex_tuned_free(ExTunedD *d);

// The audit pass: the last pos/orig pass with the audit arrays when quirk_tuned_audit_last_fact
// (the reference: Canada→Ottawa), else the first (Germany→Berlin); -1 when none has them.
int ex_tuned_audit_pass(const LwRunConfig *c, const ExRun *run, const ExTunedIn *in);

// §19.4 decisions over already computed percentiles.
int ex_tuned_calibration_only(double rot_p50, double temp_p50, double tuned_p50);
const char *ex_tuned_hint(int calib_only, double tuned_p50);
// §19.5: d = first_rank_le_5(norm) − first_rank_le_5(tuned) (either missing: that part fails).
int ex_tuned_prefer(double rot_p50, int fr5_norm, int fr5_tuned, int n);
// §19.6: ppl_delta from the mean losses: (e^tuned − e^base) / e^base.
double ex_tuned_ppl_delta(double mean_loss_tuned, double mean_loss_base);

// §15 norm vs tuned at layer L of pass p: jaccard@10, jaccard@50, spearman_top50 (NaN at L = 0).
void ex_tuned_pairwise(const ExRun *run, const ExPass *p, const ExTunedPass *tp, int L, double *j10, double *j50,
                       double *sp);

// ---------------------------------------------------------------------------- JSON

// `tuned_lens` (top-level when top, else the diagnostics copy): {status, mode, path} without a
// tuned lens (path from tuned_lens_dir), else top: {status, path, summaries, provenance,
// provenance_snapshot, summary, audit_summary, attribution}; diagnostics: {status, mode, path,
// summaries}.
void ex_tuned_lens_json(const LwRunConfig *c, const ExRun *run, const ExTunedD *d, int top, JsonW *j);
// The diagnostics keys after `tuned_lens`: the 11 `*_tuned` keys of the primary summary,
// skip_layers_sanity, [tuned_lens_skip_warning], tuned_lens_regression (only the last without one).
void ex_tuned_diag_json(const LwRunConfig *c, const ExTunedD *d, JsonW *j);
// position_window {grid, L_semantic_norm, rank1_frac, n_positions, rank1_frac_strong_run2}.
void ex_tuned_position_window_json(const ExTunedD *d, int L_semantic_norm, JsonW *j);
// audit_summary (= evaluation_pack.tuned_audit), {} without a tuned lens.
void ex_tuned_audit_json(const ExTunedD *d, JsonW *j);
// One pair of lens_consistency (§15): {at_targets [{layer, jaccard@10, jaccard@50,
// spearman_top50}], p50 {...}} (p50 = median over the entries); norm_vs_raw and norm_vs_tuned.
void ex_lens_pair_json(JsonW *j, const int *layers, const double *j10, const double *j50, const double *sp, int n);
// norm_vs_tuned over the given target layers (primary pass).
void ex_tuned_consistency_json(const ExRun *run, const ExTunedD *d, const int *layers, int n_targets, JsonW *j);
// 1 when pos_window_low_stability is raised (rank1_frac < 0.5).
int ex_tuned_pos_window_low(const ExTunedD *d);

// ---------------------------------------------------------------------------- CSV

// OUTPUTS.md §7 (-pure-next-token-tuned-variants.csv) and §8 (-positions-tuned-audit.csv).
void ex_tuned_write_variants(const ExRun *run, const ExTunedD *d, FILE *f);
void ex_tuned_write_positions(const ExRun *run, const ExTunedD *d, FILE *f);

#endif
