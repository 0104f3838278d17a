// export_internal — what the export's parts share (not a public header): Ex, everything derived
// from a run once before any file is written (export_derive.c), read by the CSV writers
// (export_csv.c) and the JSON writer (export_json.c); export.c runs them in order.
#ifndef LW_EXPORT_INTERNAL_H
#define LW_EXPORT_INTERNAL_H

#include <stdio.h>

#include "export/export.h"
#include "export/export_prism.h"
#include "export/export_rules.h"
#include "export/export_tuned.h"
#include "export/pyfmt.h"

#define MAXF 64

// A records row's verbose position (OUTPUTS.md §3): the decoded token t, lower-cased, contains one
// of the reference's words (germany, berlin, capital, answer, word, simply).
int ex_verbose_pos(const char *t);

typedef struct {
    int pass, layer;
} ExSample;

typedef struct {
    const char *name;
    int layer;
} ExTarget;

// Everything derived once, before any file is written.
typedef struct {
    const LwRunConfig *c;
    const ExRun *run;
    int has_raw; // the raw lens is in the file (lenses include raw)
    int has_prism; // the Prism lens is in the file (the run had a prism_dir)
    ExRows *prows; // Prism rows (has_prism)
    int has_tuned; // the tuned lens is in the file (the run had a tuned_lens_dir)
    ExRows *trows; // tuned rows (has_tuned; layer 0 missing)
    ExTunedPass *tp; // the tuned lens's JSON blocks and audits (export_tuned.h)
    ExTunedIn tin;
    ExTunedD td;
    ExCopyCols cc;
    int n, L1;
    ExRows *rows;
    ExSummary *sums;
    int n_facts, fact_orig[MAXF], fact_nf[MAXF], ctl;
    // §8.1 sampled check
    int n_samples;
    ExSample *samples;
    int rc_have, rc_first_norm_only;
    double rc_max_kl;
    const char *rc_risk;
    // §8.5
    int L_confirmed;
    const char *confirmed_source;
    // §8.3 full summary (primary)
    double pct_kl_ge_1, pct_kl_ge_05, max_kl_full, js_p[3], l1_p[3], jac_p50;
    int n_norm_only, earliest_norm_only, first_js_le_01, first_l1_le_05, first_jac_ge_05;
    double score, score_v2;
    const char *tier;
    // window summary (primary)
    int n_window_norm_only, window_norm_only[4096];
    double window_max_kl;
    // §9
    double ll_kl, ll_temp_est, ll_kl_after_temp, ll_tr[3];
    int ll_warn, ll_top1_agree;
    // §14
    int n_dp;
    ExTarget dp[8];
    int dp_rank1_agree[8], dp_all_agree, dp_consistent, dp_pref;
    // §15
    int n_lc;
    ExTarget lc[8];
    int lc_alarm;
    // §16
    int n_gs;
    ExTarget gs[4];
    double gs_u[4], gs_t[4], gs_b[4], gs_min;
    // §17
    double rep_max, rep_p95, rep_flip;
    int rep_high;
    // §18
    int nt_spikes;
    double nt_slope, nt_r2;
    const char *nt_shape;
    int nh_any_nan, nh_any_inf, nh_caution;
    double nh_max_abs_p99, nh_min_prob_p01;
    // §2.2
    double align_rate;
    // flags
    int rank_only_near_uniform;
    // micro suite
    int ms_sem[MAXF], ms_copy[MAXF], ms_soft1[MAXF], ms_margin[MAXF], ms_row[MAXF], ms_conf[MAXF];
    double ms_delta_hat[MAXF];
    // file names
    char f_json[512], f_records[512], f_pure[512], f_raw[512], f_window[512], f_ms[512], f_audit[512];
    char f_prism_pure[512], f_prism_records[512];
    char f_tuned_pure[512], f_tuned_records[512], f_tuned_variants[512], f_tuned_positions[512];
} Ex;

static inline const ExPass *P(const Ex *e, int i) { return &e->run->passes[i]; }
static inline const char *tok(const Ex *e, int id) { return id >= 0 && id < e->run->V ? e->run->decoded[id] : ""; }

// Non-finite values of layer L in pass p (METRICS.md §18, with positions): bit 1 NaN, bit 2 Inf,
// from the residual stream at position t (/prompts/<pass>/resid_nonfinite; t < 0: any position)
// and, at NEXT, the norm lens's normalized residual and logits (`nonfinite` bit mask).
static inline int nonfinite_at(const ExPass *p, int L, int t) {
    int b = 0;
    if (p->resid_nonfinite) {
        const int *m = p->resid_nonfinite + (size_t)L * p->T;
        if (t >= 0) b |= m[t] & 3;
        else for (int k = 0; k < p->T; k++) b |= m[k] & 3;
    }
    if (t < 0 || t == p->T - 1) {
        int x = p->norm.nonfinite ? p->norm.nonfinite[L] : 0;
        b |= (x & (1 | 4 | 16) ? 1 : 0) | (x & (2 | 8 | 32) ? 2 : 0);
    }
    return b;
}

// ---------------------------------------------------------------------------- the parts

// export_derive.c: fills e (from e->c and e->run) with every row, summary and milestone the
// files show, and the file names.
void ex_derive(Ex *e);

// export_csv.c: one CSV file each (OUTPUTS.md); f is open for writing.
void ex_write_records(const Ex *e, FILE *f);
void ex_write_pure(const Ex *e, FILE *f);
void ex_write_rawlens(const Ex *e, FILE *f);
void ex_write_window(const Ex *e, FILE *f);
void ex_write_milestones(const Ex *e, FILE *f);
void ex_write_audit(const Ex *e, FILE *f);
void ex_write_records_prism(const Ex *e, FILE *f);
void ex_write_pure_prism(const Ex *e, FILE *f);
void ex_write_records_tuned(const Ex *e, FILE *f);
void ex_write_pure_tuned(const Ex *e, FILE *f);
void ex_write_tuned_variants(const Ex *e, FILE *f);
void ex_write_tuned_positions(const Ex *e, FILE *f);

// export_json.c: the model's JSON file (OUTPUTS.md), written last.
void ex_write_json(const Ex *e, FILE *f);

#endif
