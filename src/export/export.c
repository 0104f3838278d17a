// export — see export.h. Section numbers: METRICS.md (M§) and OUTPUTS.md (O§).
#include "export/export.h"
#include "export/export_battery.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export/export_prism.h"
#include "export/export_rules.h"
#include "export/export_tuned.h"
#include "export/pyfmt.h"

#define MAXF 64

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

static const ExPass *P(const Ex *e, int i) { return &e->run->passes[i]; }
static const char *tok(const Ex *e, int id) { return id >= 0 && id < e->run->V ? e->run->decoded[id] : ""; }

// ---------------------------------------------------------------------------- derivation

static int is_primary_window_quirk(const Ex *e) { return e->c->quirk_raw_window_primary_radius; }

// Non-finite values of layer L in pass p (METRICS.md §18, with positions): bit 1 NaN, bit 2 Inf,
// from the residual stream at position t (/prompts/<pass>/resid_nonfinite; t < 0: any position)
// and, at NEXT, the norm lens's normalized residual and logits (`nonfinite` bit mask).
static int nonfinite_at(const ExPass *p, int L, int t) {
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

static void derive(Ex *e) {
    const LwRunConfig *c = e->c;
    const ExRun *run = e->run;
    e->n = (int)run->n_layers;
    e->L1 = e->n + 1;
    ex_copy_cols(c, &e->cc);
    e->rows = xcalloc(run->n_passes, sizeof(ExRows));
    e->sums = xcalloc(run->n_passes, sizeof(ExSummary));
    e->ctl = -1;
    for (int i = 0; i < MAXF; i++) e->fact_orig[i] = e->fact_nf[i] = -1;
    for (int i = 0; i < run->n_passes; i++) {
        const ExPass *p = P(e, i);
        ex_rows_build(c, run, p, &p->norm, &p->raw, &e->cc, &e->rows[i]);
        ex_summary_build(c, run, p, &p->norm, &e->rows[i], &e->cc, &e->sums[i]);
        if (!strcmp(p->prompt_id, "ctl")) { if (e->ctl < 0) e->ctl = i; }
        else if (p->fact_index >= 0 && p->fact_index < MAXF) {
            if (!strcmp(p->variant, "orig")) e->fact_orig[p->fact_index] = i;
            else e->fact_nf[p->fact_index] = i;
            if (p->fact_index + 1 > e->n_facts) e->n_facts = p->fact_index + 1;
        }
    }
    int n = e->n, L1 = e->L1;
    const ExPass *p0 = P(e, 0);
    ExRows *r0 = &e->rows[0];
    ExSummary *s0 = &e->sums[0];

    // §8.1 sampled raw-lens check over the pos/orig passes
    int layers[4096], nl = 0;
    const char *mode = c->raw_lens_mode ? c->raw_lens_mode : "sample";
    if (!strcmp(mode, "full")) for (int L = 0; L <= n; L++) layers[nl++] = L;
    else if (strcmp(mode, "off")) {
        int cand[4] = {0, n / 4 + 1, n / 2 + 1, 3 * n / 4 + 1};
        for (int i = 0; i < 4; i++) {
            int dup = 0;
            for (int j = 0; j < nl; j++) dup |= layers[j] == cand[i];
            if (!dup && cand[i] <= n) layers[nl++] = cand[i];
        }
    }
    e->has_raw = P(e, 0)->raw.present;
    if (!e->has_raw) nl = 0;
    e->samples = xcalloc((size_t)MAXF * (nl + 1), sizeof(ExSample));
    for (int f = 0; f < e->n_facts; f++) {
        if (e->fact_orig[f] < 0) continue;
        for (int j = 0; j < nl; j++) e->samples[e->n_samples++] = (ExSample){e->fact_orig[f], layers[j]};
    }
    e->rc_first_norm_only = -1;
    e->rc_max_kl = NAN;
    for (int i = 0; i < e->n_samples; i++) {
        const ExSample *sm = &e->samples[i];
        if (c->quirk_raw_summary_first_fact && sm->pass != 0) continue;
        double kl = P(e, sm->pass)->raw.kl_norm_vs_raw_bits[sm->layer];
        if (isnan(e->rc_max_kl) || kl > e->rc_max_kl) e->rc_max_kl = kl;
        e->rc_have = 1;
        if (e->rc_first_norm_only < 0 && P(e, sm->pass)->norm.answer_rank[sm->layer] == 1 &&
            P(e, sm->pass)->raw.answer_rank[sm->layer] != 1)
            e->rc_first_norm_only = sm->layer;
    }
    if (!e->rc_have) e->rc_risk = NULL;
    else if (e->rc_first_norm_only >= 0 || e->rc_max_kl >= c->raw_lens_risk_high_kl_bits) e->rc_risk = "high";
    else if (e->rc_max_kl >= c->raw_lens_risk_medium_kl_bits) e->rc_risk = "medium";
    else e->rc_risk = "low";
    int escalate = e->rc_have && (!strcmp(e->rc_risk, "high") || e->rc_max_kl >= c->raw_lens_risk_high_kl_bits);
    for (int i = 0; i < run->n_passes; i++) {
        int radius = (int)((escalate && !(i == 0 && is_primary_window_quirk(e))) ? c->raw_lens_window_radius_escalated
                                                                                 : c->raw_lens_window_radius);
        ex_summary_window(c, run, &e->sums[i], radius);
        if (!e->has_raw) e->sums[i].n_checked = 0; // window rows compare with the raw lens
    }
    // window summary (primary)
    e->window_max_kl = NAN;
    for (int i = 0; i < s0->n_checked; i++) {
        int L = s0->checked[i];
        double kl = p0->raw.kl_norm_vs_raw_bits[L];
        if (isnan(e->window_max_kl) || kl > e->window_max_kl) e->window_max_kl = kl;
        if (r0->norm_only_semantics[L]) e->window_norm_only[e->n_window_norm_only++] = L;
    }

    // §19 tuned lens (export_tuned.c)
    e->tp = xcalloc(run->n_passes ? run->n_passes : 1, sizeof(ExTunedPass));
    ex_tuned_in_from_run(run, e->tp, &e->tin);
    ex_tuned_derive(c, run, &e->tin, &e->cc, e->sums, &e->td);

    // §8.5 confirmed semantics
    e->L_confirmed = -1;
    e->confirmed_source = "none";
    if (s0->L_semantic >= 0 && (e->has_raw || e->td.present)) {
        int W = (int)c->confirmed_window, raw_ok = 0, tuned_ok = 0;
        for (int L = s0->L_semantic - W; L <= s0->L_semantic + W; L++) {
            if (L >= 0 && L <= n && e->has_raw && p0->raw.answer_rank[L] == 1) raw_ok = 1;
            if (L >= 1 && L <= n && e->td.present && e->tp[0].next.answer_rank[L] == 1) tuned_ok = 1;
        }
        if (raw_ok || tuned_ok) {
            e->L_confirmed = s0->L_semantic;
            e->confirmed_source = raw_ok && tuned_ok ? "both" : raw_ok ? "raw" : "tuned";
        }
    }

    // §8.3 full summary (primary)
    int kge1 = 0, kge05 = 0;
    e->max_kl_full = NAN;
    e->earliest_norm_only = e->first_js_le_01 = e->first_l1_le_05 = e->first_jac_ge_05 = -1;
    for (int L = 0; L < L1 && e->has_raw; L++) {
        double kl = p0->raw.kl_norm_vs_raw_bits[L];
        kge1 += kl >= 1.0;
        kge05 += kl >= 0.5;
        if (isnan(e->max_kl_full) || kl > e->max_kl_full) e->max_kl_full = kl;
        if (r0->norm_only_semantics[L]) { e->n_norm_only++; if (e->earliest_norm_only < 0) e->earliest_norm_only = L; }
        if (e->first_js_le_01 < 0 && p0->raw.js_divergence[L] <= 0.1) e->first_js_le_01 = L;
        if (e->first_l1_le_05 < 0 && p0->raw.l1_prob_diff[L] <= 0.5) e->first_l1_le_05 = L;
        if (e->first_jac_ge_05 < 0 && r0->jac_raw_norm[L] >= 0.5) e->first_jac_ge_05 = L;
    }
    const double qs[3] = {0.25, 0.5, 0.75};
    if (e->has_raw) {
        e->pct_kl_ge_1 = (double)kge1 / L1;
        e->pct_kl_ge_05 = (double)kge05 / L1;
        for (int i = 0; i < 3; i++) {
            e->js_p[i] = ex_percentile(p0->raw.js_divergence, L1, qs[i]);
            e->l1_p[i] = ex_percentile(p0->raw.l1_prob_diff, L1, qs[i]);
        }
        e->jac_p50 = ex_percentile(r0->jac_raw_norm, L1, 0.5);
        e->score = ex_artifact_score(c, e->pct_kl_ge_1, e->n_norm_only, e->max_kl_full);
        e->score_v2 = ex_artifact_score_v2(c, e->score, e->js_p[1], e->l1_p[1]);
        e->tier = ex_artifact_tier(c, e->score);
    } else {
        e->pct_kl_ge_1 = e->pct_kl_ge_05 = e->jac_p50 = e->score = e->score_v2 = NAN;
        for (int i = 0; i < 3; i++) e->js_p[i] = e->l1_p[i] = NAN;
        e->tier = NULL;
    }

    // §9 last layer
    const ExNext *x = &p0->norm;
    e->ll_kl = x->kl_to_final_bits[n];
    e->ll_top1_agree = x->top_ids[(size_t)n * x->K] == p0->final_topk_ids[(size_t)(p0->T - 1) * p0->final_k];
    e->ll_temp_est = NAN;
    e->ll_kl_after_temp = NAN;
    for (int i = 0; i < x->n_temps; i++)
        if (!isnan(x->last_temp_kl[i]) && (isnan(e->ll_kl_after_temp) || x->last_temp_kl[i] < e->ll_kl_after_temp)) {
            e->ll_kl_after_temp = x->last_temp_kl[i];
            e->ll_temp_est = x->temps[i];
        }
    for (int i = 0; i < 3; i++) e->ll_tr[i] = c->quirk_gemma_softcap_undetected ? NAN : x->transform_kl[i];
    e->ll_warn = ex_last_layer_warn(c, e->ll_kl, isnan(e->ll_kl_after_temp) ? e->ll_kl : e->ll_kl_after_temp);

    // §13 strong milestones as the reference shows them (null) unless the quirk is off
    if (c->quirk_gap_milestones_null)
        for (int i = 0; i < run->n_passes; i++) {
            ExSummary *s = &e->sums[i];
            s->L_top2_ok = s->L_strong = s->L_strong_run2 = s->gap_ge_05 = s->gap_ge_10 = -1;
        }

    // §14 decoding point targets
    ExTarget cand[6] = {{"L_semantic_norm", s0->L_semantic}, {"L_semantic_strong", s0->L_strong},
                        {"L_semantic_strong_run2", s0->L_strong_run2},
                        {"L_semantic_strong_run2_plus1", s0->L_strong_run2 >= 0 ? s0->L_strong_run2 + 1 : -1},
                        {"first_rank_le_5", s0->first_rank_le_5}};
    for (int i = 0; i < 5; i++) {
        if (cand[i].layer < 1 || cand[i].layer > n) continue;
        int dup = 0;
        for (int j = 0; j < e->n_dp; j++) dup |= !strcmp(e->dp[j].name, cand[i].name) && e->dp[j].layer == cand[i].layer;
        if (!dup) e->dp[e->n_dp++] = cand[i];
    }
    e->dp_all_agree = 1;
    e->dp_pref = -1;
    for (int i = 0; i < e->n_dp; i++) {
        int L = e->dp[i].layer;
        int ra = p0->post_ln2.answer_rank[L], rb = p0->norm.answer_rank[L];
        e->dp_rank1_agree[i] = c->quirk_rank1_agree_both ? (ra == 1 && rb == 1) : ((ra == 1) == (rb == 1));
        if (!e->dp_rank1_agree[i]) e->dp_all_agree = 0;
    }
    const char *prio[4] = {"L_semantic_strong_run2", "L_semantic_strong", "L_semantic_confirmed", "L_semantic_norm"};
    for (int k = 0; k < 4 && e->dp_pref < 0; k++)
        for (int i = 0; i < e->n_dp; i++)
            if (!strcmp(e->dp[i].name, prio[k])) { e->dp_pref = i; break; }
    if (!e->n_dp) e->dp_consistent = 1;
    else if (!e->dp_all_agree) e->dp_consistent = 0;
    else if (e->dp_pref < 0) e->dp_consistent = 1;
    else {
        int L = e->dp[e->dp_pref].layer;
        const ExNext *a = &p0->post_ln2, *b = &p0->norm;
        double j10 = ex_jaccard(a->top_ids + (size_t)L * a->K, a->K < 10 ? a->K : 10, b->top_ids + (size_t)L * b->K,
                                b->K < 10 ? b->K : 10);
        e->dp_consistent = j10 >= c->decoding_point_jaccard;
    }

    // §15 lens consistency targets
    ExTarget lcc[6] = {{"first_rank_le_10", s0->first_rank_le_10}, {"first_rank_le_5", s0->first_rank_le_5},
                       {"L_semantic_norm", s0->L_semantic}, {"L_semantic_strong", s0->L_strong},
                       {"L_semantic_strong_run2", s0->L_strong_run2}, {"L_semantic_confirmed", e->L_confirmed}};
    for (int i = 0; i < 6; i++)
        if (lcc[i].layer >= 0 && lcc[i].layer <= n) e->lc[e->n_lc++] = lcc[i];
    for (int i = 0; i < e->n_lc; i++) {
        int L = e->lc[i].layer;
        if (strstr(e->lc[i].name, "semantic") &&
            (r0->jac10_raw_norm[L] < c->lens_consistency_alarm || r0->spearman_raw_norm[L] < c->lens_consistency_alarm))
            e->lc_alarm = 1;
        double t10, t50, tsp; // norm vs tuned, the second pair (§15)
        if (e->td.present) {
            ex_tuned_pairwise(run, p0, &e->tp[0], L, &t10, &t50, &tsp);
            if (strstr(e->lc[i].name, "semantic") && (t10 < c->lens_consistency_alarm || tsp < c->lens_consistency_alarm))
                e->lc_alarm = 1;
        }
    }

    // §16 gate stability
    ExTarget gsc[3] = {{"L_semantic_norm", s0->L_semantic}, {"L_semantic_strong", s0->L_strong},
                       {"L_semantic_strong_run2", s0->L_strong_run2}};
    e->gs_min = NAN;
    for (int i = 0; i < 3; i++) {
        int L = gsc[i].layer;
        if (L < 0 || L > n || p0->first_id < 0 || x->n_scales < 1) continue;
        int k = e->n_gs++;
        e->gs[k] = gsc[i];
        int S = x->n_scales, nu = 0, nt = 0, nb = 0;
        int Ls[2] = {L, L + 1}, nLs = i == 2 ? 2 : 1;
        for (int si = 0; si < S; si++) {
            int u_all = 1, t_all = 1;
            for (int q = 0; q < nLs; q++) {
                int LL = Ls[q];
                if (LL > n) { u_all = t_all = 0; continue; }
                const int *ids = x->top_ids + (size_t)LL * x->K;
                const double *lg = x->top_logits + (size_t)LL * x->K;
                double g = x->answer_logit[LL] - (ids[0] == p0->first_id ? lg[1] : lg[0]);
                int u = x->scaled_p_answer[(size_t)LL * S + si] - 1.0 / (double)run->vocab >= c->semantic_delta_abs;
                int t = x->scales[si] * g >= c->semantic_top2_gap;
                if (i == 2) { u = u && x->answer_rank[LL] == 1; }
                u_all &= u;
                t_all &= t;
            }
            nu += u_all; nt += t_all; nb += u_all && t_all;
        }
        e->gs_u[k] = i == 2 ? NAN : (double)nu / S;
        e->gs_t[k] = i == 2 ? NAN : (double)nt / S;
        e->gs_b[k] = (double)nb / S;
        if (isnan(e->gs_min) || e->gs_b[k] < e->gs_min) e->gs_min = e->gs_b[k];
    }

    // §17.1 repeatability
    double *dev = xmalloc(L1 * sizeof(double));
    int flips = 0;
    e->rep_max = 0;
    for (int L = 0; L < L1; L++) {
        dev[L] = x->repeat_rank_dev[L];
        if (dev[L] > e->rep_max) e->rep_max = dev[L];
        flips += x->repeat_top1_flip[L] != 0;
    }
    e->rep_p95 = ex_percentile(dev, L1, 0.95);
    e->rep_flip = (double)flips / L1;
    e->rep_high = e->rep_max > c->repeatability_max_rank_dev || e->rep_flip > c->repeatability_flip_rate;
    free(dev);

    // §18 norm trajectory: spikes up to L_semantic, least squares of ln(raw norm) on L
    int lim = s0->L_semantic >= 0 ? s0->L_semantic : n;
    for (int L = 0; L <= lim; L++)
        if (x->resid_norm_ratio[L] > c->norm_spike_ratio || x->delta_resid_cos[L] < c->norm_spike_cos) e->nt_spikes++;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (int L = 0; L < L1; L++) {
        double y = log(x->raw_resid_norm[L] + 1e-9);
        sx += L; sy += y; sxx += (double)L * L; sxy += L * y; syy += y * y;
    }
    double mx = sx / L1, my = sy / L1, vxx = sxx - L1 * mx * mx, vxy = sxy - L1 * mx * my, vyy = syy - L1 * my * my;
    e->nt_slope = vxx > 0 ? vxy / vxx : 0.0;
    double ssr = 0, sst = 0;
    for (int L = 0; L < L1; L++) {
        double y = log(x->raw_resid_norm[L] + 1e-9), yhat = my + e->nt_slope * (L - mx);
        ssr += (y - yhat) * (y - yhat);
        sst += (y - my) * (y - my);
    }
    (void)vyy;
    e->nt_r2 = sst > 0 ? 1.0 - ssr / sst : 1.0;
    e->nt_shape = e->nt_spikes > 0 ? "spike" : fabs(e->nt_slope) <= c->norm_plateau_slope ? "plateau"
                  : e->nt_r2 >= c->norm_monotonic_r2                                    ? "monotonic"
                                                                                         : "non_monotonic";
    // numeric health
    for (int L = 0; L < L1; L++) {
        int m = nonfinite_at(P(e, 0), L, -1);
        if (m & 1) e->nh_any_nan = 1;
        if (m & 2) e->nh_any_inf = 1;
        if (m && ((s0->L_copy >= 0 && L <= s0->L_copy) || (s0->L_semantic >= 0 && L <= s0->L_semantic)))
            e->nh_caution = 1;
    }
    e->nh_max_abs_p99 = ex_percentile(x->max_abs_logit, L1, 0.99);
    e->nh_min_prob_p01 = ex_percentile(x->min_prob, L1, 0.01);

    // §2.2 alignment rate over the passes (one alignment per pass)
    int ok = 0;
    for (int i = 0; i < run->n_passes; i++) ok += P(e, i)->align_ok != 0;
    e->align_rate = (double)ok / run->n_passes;
    e->rank_only_near_uniform = s0->L_semantic >= 0 && !r0->margin_ok[s0->L_semantic];

    // §21 micro suite
    for (int f = 0; f < e->n_facts; f++) {
        int pi = e->fact_orig[f];
        e->ms_sem[f] = e->ms_copy[f] = e->ms_soft1[f] = e->ms_margin[f] = e->ms_row[f] = e->ms_conf[f] = -1;
        e->ms_delta_hat[f] = NAN;
        if (pi < 0) continue;
        const ExSummary *s = &e->sums[pi];
        e->ms_sem[f] = s->L_semantic;
        e->ms_copy[f] = s->L_copy;
        for (int i = 0; i < s->n_soft_k; i++)
            if (c->copy_soft_windows.v[i] == 1) e->ms_soft1[f] = s->L_copy_soft[i];
        e->ms_margin[f] = s->L_margin_ok;
        e->ms_conf[f] = pi == 0 ? e->L_confirmed : -1;
        int base = s->L_copy >= 0 ? s->L_copy : s->L_soft_min;
        if (s->L_semantic >= 0 && base >= 0) e->ms_delta_hat[f] = (double)(s->L_semantic - base) / n;
        if (s->L_semantic >= 0) e->ms_row[f] = pi * L1 + s->L_semantic;
    }

    const char *m = run->model_name;
    snprintf(e->f_json, sizeof e->f_json, "output-%s.json", m);
    snprintf(e->f_records, sizeof e->f_records, "output-%s-records.csv", m);
    snprintf(e->f_pure, sizeof e->f_pure, "output-%s-pure-next-token.csv", m);
    snprintf(e->f_raw, sizeof e->f_raw, "output-%s-pure-next-token-rawlens.csv", m);
    snprintf(e->f_window, sizeof e->f_window, "output-%s-pure-next-token-rawlens-window.csv", m);
    snprintf(e->f_ms, sizeof e->f_ms, "output-%s-milestones.csv", m);
    snprintf(e->f_audit, sizeof e->f_audit, "output-%s-artifact-audit.csv", m);
    // Prism sidecars (OUTPUTS.md §1, §4.1): the same writers over the Prism lens's rows
    e->has_prism = run->has_prism;
    snprintf(e->f_prism_pure, sizeof e->f_prism_pure, "output-%s-pure-next-token-prism.csv", m);
    snprintf(e->f_prism_records, sizeof e->f_prism_records, "output-%s-records-prism.csv", m);
    if (e->has_prism) {
        e->prows = xcalloc(run->n_passes, sizeof(ExRows));
        for (int i = 0; i < run->n_passes; i++) ex_rows_build(c, run, P(e, i), &P(e, i)->prism, NULL, &e->cc, &e->prows[i]);
    }
    // tuned sidecars (OUTPUTS.md §1, §4.1): the same writers over the tuned lens's rows, layers 1..n
    e->has_tuned = run->has_tuned;
    snprintf(e->f_tuned_pure, sizeof e->f_tuned_pure, "output-%s-pure-next-token-tuned.csv", m);
    snprintf(e->f_tuned_records, sizeof e->f_tuned_records, "output-%s-records-tuned.csv", m);
    snprintf(e->f_tuned_variants, sizeof e->f_tuned_variants, "output-%s-pure-next-token-tuned-variants.csv", m);
    snprintf(e->f_tuned_positions, sizeof e->f_tuned_positions, "output-%s-positions-tuned-audit.csv", m);
    if (e->has_tuned) {
        e->trows = xcalloc(run->n_passes, sizeof(ExRows));
        for (int i = 0; i < run->n_passes; i++) ex_rows_build(c, run, P(e, i), &P(e, i)->tuned, NULL, &e->cc, &e->trows[i]);
    }
}

// ---------------------------------------------------------------------------- CSV files

static void id_cols(CsvOut *o, const ExPass *p) {
    int ctl = !strcmp(p->prompt_id, "ctl");
    csv_field_str(o, ctl ? NULL : p->fact_key);
    if (ctl || p->fact_index < 0) csv_field_empty(o); else csv_field_int(o, p->fact_index);
    csv_field_str(o, p->prompt_id);
    csv_field_str(o, p->variant);
}

static void csv_rank(CsvOut *o, int r) { if (r < 0) csv_field_empty(o); else csv_field_int(o, r); }
static void csv_id(CsvOut *o, int id) { if (id < 0) csv_field_empty(o); else csv_field_int(o, id); }

static const char *ID_HEAD = "fact_key,fact_index,prompt_id,prompt_variant,layer";

static void topk_header(FILE *f, int k) {
    for (int i = 1; i <= k; i++) fprintf(f, ",top%d,prob%d", i, i);
}

static int verbose_pos(const char *t) {
    static const char *words[] = {"germany", "berlin", "capital", "answer", "word", "simply"};
    size_t n = strlen(t);
    char *low = xmalloc(n + 1);
    for (size_t i = 0; i <= n; i++) low[i] = (t[i] >= 'A' && t[i] <= 'Z') ? t[i] + 32 : t[i];
    int hit = 0;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) hit |= strstr(low, words[i]) != NULL;
    free(low);
    return hit;
}

// lens 0: norm (records CSV), 1: Prism, 2: tuned (their records sidecars, the same schema; the
// tuned lens has layers 1..n only).
static void write_records_lens(const Ex *e, FILE *f, int lens) {
    int K = (int)e->c->topk_records;
    fprintf(f, "%s,pos,token,entropy,entropy_bits", ID_HEAD);
    topk_header(f, K);
    fputs(",rest_mass\n", f);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < e->run->n_passes; i++) {
        const ExPass *p = P(e, i);
        const double *Hs = lens == 2 ? p->tuned_rec_entropy_bits : lens ? p->prism_rec_entropy_bits : p->rec_entropy_bits;
        int rk = lens == 2 ? p->tuned_rec_k : lens ? p->prism_rec_k : p->rec_k;
        const int *rids = lens == 2 ? p->tuned_rec_topk_ids : lens ? p->prism_rec_topk_ids : p->rec_topk_ids;
        const double *rpr = lens == 2 ? p->tuned_rec_topk_probs : lens ? p->prism_rec_topk_probs : p->rec_topk_probs;
        for (int L = lens == 2; L < e->L1; L++)
            for (int t = 0; t < p->T; t++) {
                id_cols(&o, p);
                csv_field_int(&o, L);
                csv_field_int(&o, t);
                const char *ts = tok(e, p->ids[t]);
                csv_field_str(&o, ts);
                o.blank = nonfinite_at(p, L, t) != 0; // a non-finite row: every measurement empty
                double h = Hs[(size_t)L * p->T + t];
                csv_field_float(&o, h);
                csv_field_float(&o, h);
                int k = (t == p->T - 1 || verbose_pos(ts)) ? K : (int)e->c->topk_records_other;
                if (k > rk) k = rk;
                const int *ids = rids + ((size_t)L * p->T + t) * rk;
                const double *pr = rpr + ((size_t)L * p->T + t) * rk;
                double s = 0;
                for (int j = 0; j < K; j++) {
                    if (j < k && ids[j] >= 0) { csv_field_str(&o, tok(e, ids[j])); csv_field_float(&o, pr[j]); s += pr[j]; }
                    else { csv_field_empty(&o); csv_field_empty(&o); }
                }
                csv_field_float(&o, fmax(0.0, 1.0 - s));
                csv_end_row(&o);
            }
    }
}

static void write_records(const Ex *e, FILE *f) { write_records_lens(e, f, 0); }
static void write_records_prism(const Ex *e, FILE *f) { write_records_lens(e, f, 1); }
static void write_records_tuned(const Ex *e, FILE *f) { write_records_lens(e, f, 2); }

// Pass whose jaccard values the pure CSV shows for pass i (§8.3 quirk: the last pos pass of the variant).
static int jaccard_source(const Ex *e, int i) {
    const ExPass *p = P(e, i);
    if (!e->c->quirk_jaccard_last_fact || strcmp(p->prompt_id, "pos")) return i;
    int src = i;
    for (int j = 0; j < e->run->n_passes; j++)
        if (!strcmp(P(e, j)->prompt_id, "pos") && !strcmp(P(e, j)->variant, p->variant)) src = j;
    return src;
}

// lens 0: norm (the pure CSV), 1: Prism, 2: tuned (their sidecars, the same schema; the columns
// OUTPUTS.md §4.1 lists empty under quirks.sidecar_empty_columns; the tuned lens: layers 1..n).
static void write_pure_lens(const Ex *e, FILE *f, int lens) {
    const LwRunConfig *c = e->c;
    int pe = lens == 1 && c->quirk_sidecar_empty_columns, te = lens && c->quirk_sidecar_empty_columns;
#define PE(call) do { if (pe) csv_field_empty(&o); else call; } while (0)
#define TE(call) do { if (te) csv_field_empty(&o); else call; } while (0)
    int K = (int)c->topk_records, kp = (int)c->topk_pure;
    fprintf(f, "%s,pos,token,entropy,entropy_bits", ID_HEAD);
    topk_header(f, K);
    fputs(",rest_mass,copy_collapse", f);
    for (int i = 0; i < e->cc.n; i++) fprintf(f, ",%s", e->cc.names[i]);
    fputs(",entropy_collapse,is_answer,p_top1,p_top5,p_answer,answer_minus_uniform,semantic_margin_ok,"
          "teacher_entropy_bits,kl_to_final_bits,kl_to_final_bits_norm_temp,answer_rank,"
          "topk_jaccard_raw_norm@50,topk_jaccard_consecutive@50,cos_to_final,cos_to_answer,cos_to_prompt_max,"
          "geom_crossover,echo_mass_prompt,answer_mass,answer_minus_echo_mass,mass_ratio_ans_over_prompt,"
          "topk_prompt_mass@50,control_margin,resid_norm_ratio,delta_resid_cos,answer_logit_gap,"
          "answer_vs_top1_gap\n", f);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < e->run->n_passes; i++) {
        const ExPass *p = P(e, i);
        const ExNext *x = lens == 2 ? &p->tuned : lens ? &p->prism : &p->norm;
        const ExRows *rows = lens == 2 ? e->trows : lens ? e->prows : e->rows, *r = &rows[i], *rj = &rows[jaccard_source(e, i)];
        for (int L = lens == 2; L < e->L1; L++) {
            id_cols(&o, p);
            csv_field_int(&o, L);
            csv_field_int(&o, p->T - 1);
            csv_field_str(&o, "\xe2\x9f\xa8NEXT\xe2\x9f\xa9");
            o.blank = nonfinite_at(p, L, p->T - 1) != 0; // a non-finite row: every measurement empty
            csv_field_float(&o, x->entropy_bits[L]);
            csv_field_float(&o, x->entropy_bits[L]);
            for (int j = 0; j < K; j++) {
                int id = j < kp && j < x->K ? x->top_ids[(size_t)L * x->K + j] : -1;
                if (id >= 0) { csv_field_str(&o, tok(e, id)); csv_field_float(&o, x->top_probs[(size_t)L * x->K + j]); }
                else { csv_field_empty(&o); csv_field_empty(&o); }
            }
            csv_field_float(&o, r->rest_mass[L]);
            csv_field_bool(&o, r->copy[(size_t)L * e->cc.n]);
            for (int k = 0; k < e->cc.n; k++) {
                if (pe && k > 0 && k < e->cc.n_strict) csv_field_empty(&o); // Prism: copy_strict sweep empty (M§6.3)
                else csv_field_bool(&o, r->copy[(size_t)L * e->cc.n + k]);
            }
            csv_field_bool(&o, r->entropy_collapse[L]);
            csv_field_bool(&o, r->is_answer[L]);
            csv_field_float(&o, r->p_top1[L]);
            csv_field_float(&o, r->p_top5[L]);
            csv_field_float(&o, x->p_answer[L]);
            csv_field_float(&o, r->amu[L]);
            TE(csv_field_bool(&o, r->margin_ok[L]));
            csv_field_float(&o, lens == 2 ? p->tuned_teacher_entropy_bits : lens ? p->prism_teacher_entropy_bits : p->teacher_entropy_bits);
            csv_field_float(&o, x->kl_to_final_bits[L]);
            TE(csv_field_float(&o, x->kl_to_final_bits_norm_temp[L]));
            csv_rank(&o, x->answer_rank[L]);
            TE(csv_field_float(&o, rj->jac_raw_norm[L]));
            TE(csv_field_float(&o, rj->jac_consec[L]));
            csv_field_float(&o, x->cos_to_final[L]);
            PE(csv_field_float(&o, x->cos_to_answer[L]));
            PE(csv_field_float(&o, x->cos_to_prompt_max[L]));
            PE(csv_field_bool(&o, r->geom_crossover[L]));
            PE(csv_field_float(&o, x->echo_mass_prompt[L]));
            PE(csv_field_float(&o, x->p_answer[L]));
            PE(csv_field_float(&o, r->answer_minus_echo[L]));
            PE(csv_field_float(&o, r->mass_ratio[L]));
            PE(csv_field_float(&o, r->topk_prompt_mass[L]));
            csv_field_float(&o, r->control_margin[L]);
            TE(csv_field_float(&o, x->resid_norm_ratio[L]));
            TE(csv_field_float(&o, x->delta_resid_cos[L]));
            csv_field_float(&o, r->answer_logit_gap[L]);
            csv_field_float(&o, r->answer_vs_top1_gap[L]);
            csv_end_row(&o);
        }
    }
}

#undef PE
#undef TE
static void write_pure(const Ex *e, FILE *f) { write_pure_lens(e, f, 0); }
static void write_pure_prism(const Ex *e, FILE *f) { write_pure_lens(e, f, 1); }
static void write_pure_tuned(const Ex *e, FILE *f) { write_pure_lens(e, f, 2); }
static void write_tuned_variants(const Ex *e, FILE *f) { ex_tuned_write_variants(e->run, &e->td, f); }
static void write_tuned_positions(const Ex *e, FILE *f) { ex_tuned_write_positions(e->run, &e->td, f); }

static void write_rawlens(const Ex *e, FILE *f) {
    fprintf(f, "%s,p_top1_raw,top1_token_id_raw,top1_token_str_raw,p_answer_raw,answer_rank_raw,p_top1_norm,"
               "top1_token_id_norm,top1_token_str_norm,p_answer_norm,answer_rank_norm,kl_norm_vs_raw_bits,"
               "kl_raw_to_norm_bits,js_divergence,entropy_bits_norm,entropy_bits_raw,entropy_gap_bits,l1_prob_diff,"
               "topk_jaccard_raw_norm@50,topk_jaccard_consecutive@50,norm_only_semantics\n", ID_HEAD);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < e->run->n_passes; i++) {
        const ExPass *p = P(e, i);
        const ExNext *x = &p->norm, *w = &p->raw;
        const ExRows *r = &e->rows[i];
        for (int L = 0; L < e->L1; L++) {
            id_cols(&o, p);
            csv_field_int(&o, L);
            o.blank = nonfinite_at(p, L, p->T - 1) != 0; // a non-finite row: every measurement empty
            const ExNext *ls[2] = {w, x};
            for (int q = 0; q < 2; q++) {
                int id = ls[q]->top_ids[(size_t)L * ls[q]->K];
                csv_field_float(&o, ls[q]->top_probs[(size_t)L * ls[q]->K]);
                csv_id(&o, id);
                csv_field_str(&o, tok(e, id));
                csv_field_float(&o, ls[q]->p_answer[L]);
                csv_rank(&o, ls[q]->answer_rank[L]);
            }
            csv_field_float(&o, w->kl_norm_vs_raw_bits[L]);
            csv_field_float(&o, w->kl_raw_to_norm_bits[L]);
            csv_field_float(&o, w->js_divergence[L]);
            csv_field_float(&o, x->entropy_bits_pv[L]);
            csv_field_float(&o, w->entropy_bits_pv[L]);
            csv_field_float(&o, x->entropy_bits_pv[L] - p->teacher_entropy_bits);
            csv_field_float(&o, w->l1_prob_diff[L]);
            csv_field_float(&o, r->jac_raw_norm[L]);
            csv_field_float(&o, r->jac_consec[L]);
            csv_field_bool(&o, r->norm_only_semantics[L]);
            csv_end_row(&o);
        }
    }
}

static void write_window(const Ex *e, FILE *f) {
    fprintf(f, "%s,lens,p_top1,top1_token_id,top1_token_str,p_answer,answer_rank,kl_norm_vs_raw_bits\n", ID_HEAD);
    CsvOut o = {f, 0, 0};
    for (int i = 0; i < e->run->n_passes; i++) {
        const ExPass *p = P(e, i);
        const ExSummary *s = &e->sums[i];
        for (int j = 0; j < s->n_checked; j++) {
            int L = s->checked[j];
            const ExNext *ls[2] = {&p->norm, &p->raw};
            for (int q = 0; q < 2; q++) {
                id_cols(&o, p);
                csv_field_int(&o, L);
                csv_field_str(&o, q ? "raw" : "norm");
                int id = ls[q]->top_ids[(size_t)L * ls[q]->K];
                csv_field_float(&o, ls[q]->top_probs[(size_t)L * ls[q]->K]);
                csv_id(&o, id);
                csv_field_str(&o, tok(e, id));
                csv_field_float(&o, ls[q]->p_answer[L]);
                csv_rank(&o, ls[q]->answer_rank[L]);
                csv_field_float(&o, p->raw.kl_norm_vs_raw_bits[L]);
                csv_end_row(&o);
            }
        }
    }
}

static void milestone_row(const Ex *e, CsvOut *o, int L, int strict, int soft_k, int sem, int conf, const char *lens) {
    const ExNext *x = &P(e, 0)->norm;
    if (L < 0) { csv_field_empty(o); csv_field_empty(o); }
    else { csv_field_int(o, L); csv_field_int(o, L); }
    csv_field_bool(o, L >= 0 && strict);
    if (L >= 0 && soft_k > 0) csv_field_int(o, soft_k); else csv_field_empty(o);
    csv_field_bool(o, L >= 0 && sem);
    csv_field_bool(o, L >= 0 && conf);
    if (L < 0) { for (int i = 0; i < 4; i++) csv_field_empty(o); }
    else {
        csv_rank(o, x->answer_rank[L]);
        csv_field_float(o, x->p_answer[L]);
        csv_field_float(o, x->kl_to_final_bits[L]);
        csv_field_float(o, x->entropy_bits[L]);
    }
    csv_field_str(o, lens);
    csv_end_row(o);
}

static void write_milestones(const Ex *e, FILE *f) {
    fputs("layer,csv_row_index,is_copy_strict,is_copy_soft_k,is_semantic_norm,is_semantic_confirmed,answer_rank,"
          "p_answer,kl_to_final_bits,entropy_bits,lens\n", f);
    CsvOut o = {f, 0, 0};
    const ExSummary *s = &e->sums[0];
    milestone_row(e, &o, s->L_copy, 1, 0, 0, 0, "norm");
    milestone_row(e, &o, s->L_soft_min, 0, s->L_soft_min_k, 0, 0, "norm");
    milestone_row(e, &o, s->L_semantic, 0, 0, 1, 0, "norm");
    milestone_row(e, &o, e->L_confirmed, 0, 0, 0, 1, e->L_confirmed >= 0 ? e->confirmed_source : "none");
}

static void write_audit(const Ex *e, FILE *f) {
    fputs("layer,js_divergence,kl_raw_to_norm_bits,l1_prob_diff,topk_jaccard_raw_norm@50,lens_artifact_score_v2,"
          "risk_tier\n", f);
    CsvOut o = {f, 0, 0};
    const ExPass *p = P(e, 0);
    csv_field_str(&o, "_summary");
    csv_field_float(&o, e->js_p[1]);
    csv_field_float(&o, ex_percentile(p->raw.kl_raw_to_norm_bits, e->L1, 0.5));
    csv_field_float(&o, e->l1_p[1]);
    csv_field_float(&o, e->jac_p50);
    csv_field_float(&o, e->score_v2);
    csv_field_str(&o, e->tier);
    csv_end_row(&o);
    for (int L = 0; L < e->L1; L++) {
        csv_field_int(&o, L);
        csv_field_float(&o, p->raw.js_divergence[L]);
        csv_field_float(&o, p->raw.kl_raw_to_norm_bits[L]);
        csv_field_float(&o, p->raw.l1_prob_diff[L]);
        csv_field_float(&o, e->rows[0].jac_raw_norm[L]);
        csv_field_empty(&o);
        csv_field_empty(&o);
        csv_end_row(&o);
    }
}

// ---------------------------------------------------------------------------- JSON helpers

static void j_topk(const Ex *e, JsonW *j, const int *ids, const double *pr, int k) {
    jw_arr(j);
    for (int i = 0; i < k; i++) {
        if (ids[i] < 0) continue;
        jw_arr(j);
        jw_str(j, tok(e, ids[i]));
        jw_real(j, pr[i]);
        jw_end(j);
    }
    jw_end(j);
}

static void j_int_list(JsonW *j, const int *v, int n) {
    jw_arr(j);
    for (int i = 0; i < n; i++) jw_int(j, v[i]);
    jw_end(j);
}

static void j_pieces(const Ex *e, JsonW *j, const ExPass *p) {
    jw_arr(j);
    for (int i = 0; i < p->n_answer_ids && i < 4; i++)
        jw_str(j, p->answer_ids[i] >= 0 && p->answer_ids[i] < e->run->V ? e->run->pieces[p->answer_ids[i]] : "");
    jw_end(j);
}

static void j_gold_answer(const Ex *e, JsonW *j, const ExPass *p) {
    jw_obj(j);
    jw_k_str(j, "string", p->answer);
    jw_key(j, "pieces"); j_pieces(e, j, p);
    jw_k_opt_int(j, "first_id", p->first_id);
    jw_key(j, "answer_ids"); j_int_list(j, p->answer_ids, p->n_answer_ids);
    jw_k_str(j, "variant", p->align_variant);
    jw_end(j);
}

static void j_alignment_fields(const Ex *e, JsonW *j, const ExPass *p) {
    jw_k_bool(j, "ok", p->align_ok != 0);
    jw_k_str(j, "status", p->align_status);
    jw_k_str(j, "variant", p->align_variant);
    jw_k_opt_int(j, "first_id", p->first_id);
    jw_key(j, "answer_ids"); j_int_list(j, p->answer_ids, p->n_answer_ids);
    jw_key(j, "pieces"); j_pieces(e, j, p);
}

static void j_alignment(const Ex *e, JsonW *j, const ExPass *p) {
    jw_obj(j);
    j_alignment_fields(e, j, p);
    jw_end(j);
}

static char *label(double x, char *buf) { return py_float_repr(x, buf); }

static double frac3(const Ex *e, int L) { return L < 0 ? NAN : py_round((double)L / e->n, 3); }

static void j_real_list(JsonW *j, const double *v, int n) {
    jw_arr(j);
    for (int i = 0; i < n; i++) jw_real(j, v[i]);
    jw_end(j);
}
static void j_long_list(JsonW *j, const long *v, int n) {
    jw_arr(j);
    for (int i = 0; i < n; i++) jw_int(j, v[i]);
    jw_end(j);
}

// ---------------------------------------------------------------------------- JSON blocks

static void j_semantic_margin(const Ex *e, JsonW *j) {
    const ExSummary *s = &e->sums[0];
    const ExPass *p = P(e, 0);
    jw_obj(j);
    jw_k_real(j, "delta_abs", e->c->semantic_delta_abs);
    jw_k_real(j, "p_uniform", 1.0 / (double)e->run->vocab);
    jw_k_opt_int(j, "L_semantic_margin_ok_norm", s->L_margin_ok);
    jw_key(j, "margin_ok_at_L_semantic_norm");
    if (s->L_semantic >= 0) jw_bool(j, e->rows[0].margin_ok[s->L_semantic]); else jw_null(j);
    jw_k_real(j, "p_answer_at_L_semantic_norm", s->L_semantic >= 0 ? p->norm.p_answer[s->L_semantic] : NAN);
    if (e->L_confirmed >= 0)
        jw_k_opt_int(j, "L_semantic_confirmed_margin_ok_norm", e->L_confirmed == s->L_margin_ok ? s->L_margin_ok : -1);
    jw_end(j);
}

static void j_semantic_gate(const Ex *e, JsonW *j, int summary_order) {
    const ExSummary *s = &e->sums[0];
    jw_obj(j);
    if (summary_order) jw_k_real(j, "delta_abs", e->c->semantic_delta_abs);
    jw_k_real(j, "delta_top2_logit", e->c->semantic_top2_gap);
    jw_k_opt_int(j, "L_semantic_top2_ok_norm", s->L_top2_ok);
    jw_k_real(j, "L_semantic_top2_ok_norm_frac", frac3(e, s->L_top2_ok));
    double gap = NAN;
    if (!e->c->quirk_gap_milestones_null && s->L_semantic >= 0) gap = e->rows[0].answer_logit_gap[s->L_semantic];
    jw_k_real(j, "gap_at_L_semantic_norm", gap);
    if (!summary_order) jw_k_real(j, "delta_abs", e->c->semantic_delta_abs);
    jw_k_opt_int(j, "L_semantic_run2", s->L_run2);
    jw_k_opt_int(j, "L_semantic_strong", s->L_strong);
    jw_k_opt_int(j, "L_semantic_strong_run2", s->L_strong_run2);
    jw_key(j, "run2_overlaps_confirmed_window");
    if (e->L_confirmed >= 0 && s->L_run2 >= 0) {
        int W = (int)e->c->confirmed_window, lo = s->L_semantic - W, hi = s->L_semantic + W;
        jw_bool(j, (s->L_run2 >= lo && s->L_run2 <= hi) || (s->L_run2 + 1 >= lo && s->L_run2 + 1 <= hi));
    } else jw_null(j);
    jw_end(j);
}

static void j_ms_aggregates(const Ex *e, JsonW *j, int pack) {
    int nf = e->n_facts;
    double v[MAXF];
    int m;
#define MED(arr) do { m = 0; for (int f = 0; f < nf; f++) if (arr[f] >= 0) v[m++] = arr[f]; } while (0)
#define MED_INT(key, arr) do { MED(arr); jw_key(j, key); if (m) jw_int(j, lw_round_half_even(ex_percentile(v, m, 0.5))); else jw_null(j); } while (0)
    int missing = 0;
    for (int f = 0; f < nf; f++) missing += e->ms_sem[f] < 0;
    m = 0;
    for (int f = 0; f < nf; f++) if (!isnan(e->ms_delta_hat[f])) v[m++] = e->ms_delta_hat[f];
    double dh = m ? py_round(ex_percentile(v, m, 0.5), 4) : NAN;
    jw_obj(j);
    if (pack) {
        MED_INT("L_semantic_confirmed_median", e->ms_conf);
        jw_k_real(j, "delta_hat_median", dh);
        jw_k_int(j, "n_missing", missing);
        jw_k_int(j, "n", nf);
    } else {
        jw_k_int(j, "n", nf);
        MED_INT("L_copy_strict_median", e->ms_copy);
        MED_INT("L_copy_soft_k1_median", e->ms_soft1);
        MED_INT("L_semantic_norm_median", e->ms_sem);
        MED_INT("L_semantic_confirmed_median", e->ms_conf);
        MED_INT("L_semantic_margin_ok_norm_median", e->ms_margin);
        jw_k_real(j, "delta_hat_median", dh);
        jw_key(j, "L_semantic_norm_iqr");
        MED(e->ms_sem);
        if (m) {
            jw_arr(j);
            jw_int(j, lw_round_half_even(ex_percentile(v, m, 0.25)));
            jw_int(j, lw_round_half_even(ex_percentile(v, m, 0.75)));
            jw_end(j);
        } else jw_null(j);
        jw_k_int(j, "n_missing", missing);
        jw_k_str(j, "notes", "control is France\xe2\x86\x92Paris; other positives do not add new controls");
    }
    jw_end(j);
#undef MED
#undef MED_INT
}

static void j_ms_citations(const Ex *e, JsonW *j) {
    jw_obj(j);
    jw_key(j, "fact_rows");
    jw_obj(j);
    for (int f = 0; f < e->n_facts; f++)
        if (e->fact_orig[f] >= 0) jw_k_opt_int(j, P(e, e->fact_orig[f])->fact_key, e->ms_row[f]);
    jw_end(j);
    jw_end(j);
}

static void j_ms_facts(const Ex *e, JsonW *j, int pack) {
    jw_arr(j);
    for (int f = 0; f < e->n_facts; f++) {
        if (e->fact_orig[f] < 0) continue;
        jw_obj(j);
        jw_k_str(j, "fact_key", P(e, e->fact_orig[f])->fact_key);
        jw_k_int(j, "fact_index", f);
        jw_k_opt_int(j, "L_copy_strict", e->ms_copy[f]);
        if (!pack) jw_k_opt_int(j, "L_copy_soft_k1", e->ms_soft1[f]);
        jw_k_opt_int(j, "L_semantic_norm", e->ms_sem[f]);
        jw_k_opt_int(j, "L_semantic_confirmed", e->ms_conf[f]);
        jw_k_opt_int(j, "L_semantic_margin_ok_norm", e->ms_margin[f]);
        jw_k_real(j, "delta_hat", e->ms_delta_hat[f]);
        if (!pack) jw_k_opt_int(j, "row_index", e->ms_row[f]);
        jw_end(j);
    }
    jw_end(j);
}

static void j_pct3(JsonW *j, const double *p) {
    jw_obj(j);
    jw_k_real(j, "p25", p[0]);
    jw_k_real(j, "p50", p[1]);
    jw_k_real(j, "p75", p[2]);
    jw_end(j);
}

static void j_copy_detector(const Ex *e, JsonW *j) {
    const ExSummary *s = &e->sums[0];
    char key[32];
    jw_obj(j);
    jw_key(j, "strict"); jw_obj(j);
    jw_k_real(j, "thresh", e->c->copy_threshold);
    jw_k_int(j, "k", e->c->copy_window_k);
    jw_k_opt_int(j, "L_copy_strict", s->L_copy);
    jw_end(j);
    jw_key(j, "soft"); jw_obj(j);
    jw_k_real(j, "thresh", e->c->copy_soft_threshold);
    jw_key(j, "window_ks"); j_long_list(j, e->c->copy_soft_windows.v, e->c->copy_soft_windows.n);
    jw_key(j, "L_copy_soft"); jw_obj(j);
    for (int i = 0; i < s->n_soft_k; i++) {
        snprintf(key, sizeof key, "k%ld", e->c->copy_soft_windows.v[i]);
        jw_k_opt_int(j, key, s->L_copy_soft[i]);
    }
    jw_end(j);
    jw_end(j);
    jw_key(j, "deltas"); jw_obj(j);
    jw_k_opt_int(j, "\xce\x94_sem_minus_copy_strict", (s->L_semantic >= 0 && s->L_copy >= 0) ? s->L_semantic - s->L_copy : -1);
    jw_key(j, "\xce\x94_sem_minus_copy_soft"); jw_obj(j);
    for (int i = 0; i < s->n_soft_k; i++) {
        snprintf(key, sizeof key, "k%ld", e->c->copy_soft_windows.v[i]);
        jw_key(j, key);
        if (s->L_semantic >= 0 && s->L_copy_soft[i] >= 0) jw_int(j, s->L_semantic - s->L_copy_soft[i]); else jw_null(j);
    }
    jw_end(j);
    jw_end(j);
    jw_end(j);
}

static void j_copy_thresholds(const Ex *e, JsonW *j) {
    const LwRunConfig *c = e->c;
    const ExSummary *s = &e->sums[0];
    const ExPass *p = P(e, 0);
    char lb[32];
    jw_obj(j);
    jw_key(j, "tau_list"); j_real_list(j, c->copy_strict_sweep.v, c->copy_strict_sweep.n);
    jw_key(j, "L_copy_strict"); jw_obj(j);
    for (int i = 0; i < s->n_sweep; i++) jw_k_opt_int(j, label(c->copy_strict_sweep.v[i], lb), s->L_sweep[i]);
    jw_end(j);
    jw_key(j, "L_copy_strict_frac"); jw_obj(j);
    for (int i = 0; i < s->n_sweep; i++) jw_k_real(j, label(c->copy_strict_sweep.v[i], lb), frac3(e, s->L_sweep[i]));
    jw_end(j);
    jw_key(j, "norm_only_flags"); jw_obj(j);
    int any = 0;
    for (int i = 0; i < s->n_sweep; i++) {
        int fl = ex_copy_norm_only(c, e->run, p, s, i);
        any |= fl >= 0;
        jw_k_bool(j, label(c->copy_strict_sweep.v[i], lb), fl);
    }
    jw_end(j);
    const char *stab = ex_copy_stability(c, s, e->n, any);
    jw_k_str(j, "stability", stab);
    jw_end(j);
}

static void j_raw_lens_full(const Ex *e, JsonW *j) {
    const ExRows *r = &e->rows[0];
    char key[32];
    jw_obj(j);
    jw_k_real(j, "pct_layers_kl_ge_1.0", e->pct_kl_ge_1);
    jw_k_real(j, "pct_layers_kl_ge_0.5", e->pct_kl_ge_05);
    jw_k_int(j, "n_norm_only_semantics_layers", e->n_norm_only);
    jw_k_opt_int(j, "earliest_norm_only_semantic", e->earliest_norm_only);
    jw_k_real(j, "max_kl_norm_vs_raw_bits", e->max_kl_full);
    jw_k_str(j, "mode", "full");
    jw_key(j, "js_divergence_percentiles"); j_pct3(j, e->js_p);
    jw_key(j, "l1_prob_diff_percentiles"); j_pct3(j, e->l1_p);
    jw_k_opt_int(j, "first_js_le_0.1", e->first_js_le_01);
    jw_k_opt_int(j, "first_l1_le_0.5", e->first_l1_le_05);
    jw_k_real(j, "teacher_entropy_bits", P(e, 0)->teacher_entropy_bits);
    jw_key(j, "topk_overlap"); jw_obj(j);
    jw_k_int(j, "K", 50);
    jw_k_real(j, "jaccard_raw_norm_p50", e->jac_p50);
    jw_k_opt_int(j, "first_jaccard_raw_norm_ge_0.5", e->first_jac_ge_05);
    jw_key(j, "per_layer_raw_norm"); jw_obj(j);
    for (int L = 0; L < e->L1; L++) { snprintf(key, sizeof key, "%d", L); jw_k_real(j, key, r->jac_raw_norm[L]); }
    jw_end(j);
    jw_key(j, "per_layer_consecutive_norm"); jw_obj(j);
    for (int L = 0; L < e->L1; L++) { snprintf(key, sizeof key, "%d", L); jw_k_real(j, key, r->jac_consec[L]); }
    jw_end(j);
    jw_k_str(j, "cross_key", "topk_jaccard_raw_norm@50");
    jw_k_str(j, "consecutive_key", "topk_jaccard_consecutive@50");
    jw_end(j);
    jw_key(j, "score"); jw_obj(j);
    jw_k_real(j, "lens_artifact_score", e->score);
    jw_k_real(j, "lens_artifact_score_v2", e->score_v2);
    jw_k_str(j, "tier", e->tier);
    jw_end(j);
    jw_end(j);
}

static int pairwise_stats(const Ex *e, int L, double *j10, double *j50, double *sp) {
    const ExRows *r = &e->rows[0];
    *j10 = r->jac10_raw_norm[L];
    *j50 = r->jac_raw_norm[L];
    *sp = r->spearman_raw_norm[L];
    return 0;
}

static void j_decoding_point(const Ex *e, JsonW *j) {
    const ExPass *p = P(e, 0);
    const ExNext *a = &p->post_ln2, *b = &p->norm;
    jw_obj(j);
    jw_k_str(j, "arch", e->run->architecture);
    jw_k_bool(j, "tested", 1);
    jw_key(j, "strategies"); jw_arr(j); jw_str(j, "post_ln2"); jw_str(j, "next_ln1"); jw_end(j);
    jw_key(j, "targets"); jw_arr(j);
    for (int i = 0; i < e->n_dp; i++) { jw_obj(j); jw_k_str(j, "name", e->dp[i].name); jw_k_int(j, "layer", e->dp[i].layer); jw_end(j); }
    jw_end(j);
    jw_key(j, "per_target"); jw_arr(j);
    for (int i = 0; i < e->n_dp; i++) {
        int L = e->dp[i].layer;
        const int *ia = a->top_ids + (size_t)L * a->K, *ib = b->top_ids + (size_t)L * b->K;
        int ra = a->answer_rank[L], rb = b->answer_rank[L];
        jw_obj(j);
        jw_k_str(j, "name", e->dp[i].name);
        jw_k_int(j, "layer", L);
        jw_k_bool(j, "rank1_agree", e->dp_rank1_agree[i]);
        jw_key(j, "delta_answer_rank"); if (ra >= 0 && rb >= 0) jw_int(j, ra - rb); else jw_null(j);
        jw_k_bool(j, "top1_token_agree", ia[0] == ib[0]);
        jw_k_opt_int(j, "answer_rank_post_ln2", ra);
        jw_k_opt_int(j, "answer_rank_next_ln1", rb);
        jw_k_opt_int(j, "top1_id_post_ln2", ia[0]);
        jw_k_opt_int(j, "top1_id_next_ln1", ib[0]);
        jw_k_real(j, "p_answer_post_ln2", a->p_answer[L]);
        jw_k_real(j, "p_answer_next_ln1", b->p_answer[L]);
        jw_k_real(j, "p_top1_post_ln2", a->top_probs[(size_t)L * a->K]);
        jw_k_real(j, "p_top1_next_ln1", b->top_probs[(size_t)L * b->K]);
        // spearman over the union of both top-50 lists; missing -> rank 51
        int ka = a->K < 50 ? a->K : 50, kb = b->K < 50 ? b->K : 50;
        int uni[100], nu = 0;
        double xa[100], xb[100];
        for (int q = 0; q < ka; q++) uni[nu++] = ia[q];
        for (int q = 0; q < kb; q++) {
            int dup = 0;
            for (int t = 0; t < ka; t++) dup |= ia[t] == ib[q];
            if (!dup) uni[nu++] = ib[q];
        }
        for (int q = 0; q < nu; q++) {
            xa[q] = xb[q] = 51;
            for (int t = 0; t < ka; t++) if (ia[t] == uni[q]) { xa[q] = t + 1; break; }
            for (int t = 0; t < kb; t++) if (ib[t] == uni[q]) { xb[q] = t + 1; break; }
        }
        jw_k_real(j, "spearman_top50", ex_pearson(xa, xb, nu));
        jw_k_real(j, "jaccard@10", ex_jaccard(ia, a->K < 10 ? a->K : 10, ib, b->K < 10 ? b->K : 10));
        jw_k_real(j, "jaccard@50", ex_jaccard(ia, ka, ib, kb));
        jw_k_str(j, "status", "ok");
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "gate"); jw_obj(j); jw_k_bool(j, "decoding_point_consistent", e->dp_consistent); jw_end(j);
    if (e->n_dp && e->dp_all_agree && e->dp_pref >= 0) {
        jw_key(j, "preferred_target"); jw_obj(j);
        jw_k_str(j, "name", e->dp[e->dp_pref].name);
        jw_k_int(j, "layer", e->dp[e->dp_pref].layer);
        jw_end(j);
    }
    jw_end(j);
}

static void j_lens_consistency(const Ex *e, JsonW *j) {
    jw_obj(j);
    jw_key(j, "targets"); jw_arr(j);
    for (int i = 0; i < e->n_lc; i++) jw_str(j, e->lc[i].name);
    jw_end(j);
    double v10[8], v50[8], vsp[8];
    int layers[8];
    for (int i = 0; i < e->n_lc; i++) {
        layers[i] = e->lc[i].layer;
        pairwise_stats(e, layers[i], &v10[i], &v50[i], &vsp[i]);
    }
    jw_key(j, "norm_vs_raw"); ex_lens_pair_json(j, layers, v10, v50, vsp, e->n_lc);
    if (e->td.present) { jw_key(j, "norm_vs_tuned"); ex_tuned_consistency_json(e->run, &e->td, layers, e->n_lc, j); }
    jw_end(j);
}

static void j_last_layer(const Ex *e, JsonW *j) {
    const ExPass *p = P(e, 0);
    const ExNext *x = &p->norm;
    int n = e->n, NEXT = p->T - 1;
    jw_obj(j);
    jw_k_real(j, "kl_to_final_bits", e->ll_kl);
    jw_k_bool(j, "top1_agree", e->ll_top1_agree);
    jw_k_real(j, "p_top1_lens", x->top_probs[(size_t)n * x->K]);
    jw_k_real(j, "p_top1_model", p->final_topk_probs[(size_t)NEXT * p->final_k]);
    jw_k_real(j, "p_answer_lens", x->p_answer[n]);
    jw_k_opt_int(j, "answer_rank_lens", x->answer_rank[n]);
    jw_k_real(j, "temp_est", e->ll_temp_est);
    jw_k_real(j, "kl_after_temp_bits", e->ll_kl_after_temp);
    int known = !e->c->quirk_gemma_softcap_undetected && e->run->final_softcap > 0;
    jw_key(j, "cfg_transform"); jw_obj(j);
    jw_k_null(j, "scale");
    jw_k_real(j, "softcap", known ? e->run->final_softcap : NAN);
    jw_end(j);
    jw_key(j, "kl_after_transform_bits"); jw_obj(j);
    jw_k_real(j, "scale", e->ll_tr[0]);
    jw_k_real(j, "softcap", e->ll_tr[1]);
    jw_k_real(j, "scale_then_softcap", e->ll_tr[2]);
    jw_end(j);
    jw_k_bool(j, "warn_high_last_layer_kl", e->ll_warn);
    jw_key(j, "gates"); jw_obj(j);
    jw_k_bool(j, "warn_high_last_layer_kl", e->ll_warn);
    jw_k_real(j, "threshold_bits", e->c->last_layer_kl_gate_bits);
    jw_k_real(j, "delta_kl_temp_bits", e->ll_kl - e->ll_kl_after_temp);
    jw_end(j);
    jw_end(j);
}

static void j_flags(const Ex *e, JsonW *j) {
    jw_obj(j);
    if (!e->dp_consistent) jw_k_bool(j, "decoding_point_sensitive", 1);
    if (e->rank_only_near_uniform) jw_k_bool(j, "rank_only_near_uniform", 1);
    if (e->rep_high) jw_k_bool(j, "repeatability_variance_high", 1);
    if (e->rep_max == 0) jw_k_str(j, "repeatability_forward_skipped", "deterministic_env");
    else jw_k_bool(j, "repeatability_unavailable", 1);
    if (e->align_rate < 1) jw_k_bool(j, "gold_alignment_partial", 1);
    if (e->lc_alarm) jw_k_bool(j, "low_lens_consistency_at_semantic", 1);
    if (e->sums[0].L_semantic >= 0 && ex_tuned_pos_window_low(&e->td)) jw_k_bool(j, "pos_window_low_stability", 1);
    if (!strcmp(e->nt_shape, "spike")) jw_k_bool(j, "normalization_spike", 1);
    if (e->nh_caution) jw_k_bool(j, "numeric_health_caution", 1);
    jw_end(j);
}

static int reasons(const Ex *e, const char **out) {
    int n = 0;
    if (e->ll_warn) out[n++] = "warn_high_last_layer_kl";
    if (e->n_window_norm_only) out[n++] = "norm_only_semantics_window";
    if (e->rc_risk && !strcmp(e->rc_risk, "high")) out[n++] = "high_lens_artifact_risk";
    if (e->tier && !strcmp(e->tier, "high")) out[n++] = "high_lens_artifact_score";
    if (e->rep_high) out[n++] = "repeatability_variance_high";
    if (e->align_rate < 1) out[n++] = "gold_alignment_partial";
    if (!strcmp(e->nt_shape, "spike")) out[n++] = "normalization_spike";
    if (e->nh_caution) out[n++] = "numeric_health_caution";
    if (e->rank_only_near_uniform) out[n++] = "rank_only_near_uniform";
    if (!e->dp_consistent) out[n++] = "decoding_point_sensitive";
    if (e->lc_alarm) out[n++] = "low_lens_consistency_at_semantic";
    if (e->td.present && e->td.calib_only) out[n++] = "tuned_is_calibration_only";
    if (e->sums[0].L_semantic >= 0 && ex_tuned_pos_window_low(&e->td)) out[n++] = "pos_window_low_stability";
    if (!isnan(e->gs_min) && e->gs_min < e->c->gate_stability_alarm) out[n++] = "scale_sensitive_semantic_gate";
    return n;
}

static const char *dtype_torch(const char *d) {
    if (!strcmp(d, "bfloat16") || !strcmp(d, "bf16")) return "torch.bfloat16";
    if (!strcmp(d, "float16") || !strcmp(d, "fp16")) return "torch.float16";
    return "torch.float32";
}

static void j_diagnostics(const Ex *e, JsonW *j) {
    const LwRunConfig *c = e->c;
    const ExRun *run = e->run;
    const ExPass *p = P(e, 0);
    const ExNext *x = &p->norm;
    const ExSummary *s = &e->sums[0];
    int n = e->n;
    char key[96], lb[32];
    jw_obj(j);
    jw_k_str(j, "type", "diagnostics");
    jw_k_str(j, "model", run->model_id);
    jw_k_str(j, "device", run->backend);
    jw_k_bool(j, "use_norm_lens", 1);
    jw_k_bool(j, "use_fp32_unembed", strcmp(dtype_torch(run->compute_dtype), "torch.float32") != 0);
    jw_k_str(j, "unembed_dtype", "torch.float32");
    jw_k_str(j, "first_block_ln1_type", run->norm_type);
    jw_k_str(j, "final_ln_type", run->norm_type);
    jw_k_str(j, "layernorm_bias_fix", !strcmp(run->norm_type, "RMSNorm") ? "not_needed_rms_model" : "active");
    jw_k_str(j, "norm_alignment_fix", "using_ln2_rmsnorm_for_post_block");
    jw_k_str(j, "layer0_norm_fix", "using_real_ln1_on_embeddings");
    jw_k_str(j, "mixed_precision_fix", "casting_to_fp32_before_unembed");
    jw_k_str(j, "layer0_position_info", "token_only_rotary_model");
    jw_k_str(j, "context_prompt", p->text);
    snprintf(key, sizeof key, "first unseen token (likely '%.60s')", p->answer);
    jw_k_str(j, "target_prediction", key);
    jw_key(j, "surface_diagnostics_config"); jw_obj(j);
    jw_k_real(j, "delta", c->surface_delta);
    jw_k_real(j, "gamma", c->geom_gamma);
    jw_k_int(j, "K", c->prompt_topk);
    jw_k_real(j, "tau", c->prompt_topk_tau);
    jw_key(j, "semantic_margin"); jw_obj(j); jw_k_real(j, "delta_abs", c->semantic_delta_abs); jw_end(j);
    jw_key(j, "semantic_gate"); jw_obj(j); jw_k_real(j, "delta_top2_logit", c->semantic_top2_gap); jw_end(j);
    jw_end(j);
    jw_k_str(j, "answer_margin_unit", "logit");
    jw_key(j, "unembed_bias"); jw_obj(j);
    jw_k_bool(j, "present", 0); jw_k_real(j, "l2_norm", 0.0); jw_k_real(j, "max_abs", 0.0);
    jw_end(j);
    jw_key(j, "flags"); j_flags(e, j);
    jw_key(j, "prism_summary"); ex_prism_summary(c, run, j);
    jw_key(j, "copy_soft_config"); jw_obj(j);
    jw_k_real(j, "threshold", c->copy_soft_threshold);
    jw_key(j, "window_ks"); j_long_list(j, c->copy_soft_windows.v, c->copy_soft_windows.n);
    jw_key(j, "extra_thresholds"); j_real_list(j, c->copy_soft_extra_thresholds.v, c->copy_soft_extra_thresholds.n);
    jw_end(j);
    jw_key(j, "tau_norm_per_layer"); j_real_list(j, run->tau_norm, e->L1);
    // §2.4 copy mask
    jw_key(j, "copy_mask"); jw_obj(j);
    long size = 0;
    jw_key(j, "ignored_token_ids"); jw_arr(j);
    for (long id = 0; id < run->V; id++) if (ex_token_wsp(run, (int)id)) { jw_int(j, id); size++; }
    jw_end(j);
    jw_key(j, "ignored_token_str_sample"); jw_arr(j);
    int ns = 0;
    for (long id = 0; id < run->V && ns < 16; id++) if (ex_token_wsp(run, (int)id)) { jw_str(j, run->decoded[id]); ns++; }
    jw_end(j);
    jw_k_int(j, "size", size);
    jw_end(j);
    jw_k_opt_int(j, "L_copy", s->L_copy);
    jw_k_opt_int(j, "L_copy_H", s->L_copy_H);
    jw_k_opt_int(j, "L_semantic", s->L_semantic);
    jw_k_opt_int(j, "delta_layers", (s->L_semantic >= 0 && s->L_copy >= 0) ? s->L_semantic - s->L_copy : -1);
    jw_k_real(j, "copy_thresh", c->copy_threshold);
    jw_k_int(j, "copy_window_k", c->copy_window_k);
    jw_k_str(j, "copy_match_level", "id_subsequence");
    for (int i = 0; i < s->n_kl; i++) {
        snprintf(key, sizeof key, "first_kl_below_%s", label(c->kl_milestones_bits.v[i], lb));
        jw_k_opt_int(j, key, s->first_kl[i]);
    }
    for (int i = 0; i < s->n_rank; i++) {
        snprintf(key, sizeof key, "first_rank_le_%ld", c->rank_milestones.v[i]);
        jw_k_opt_int(j, key, s->first_rank[i]);
    }
    jw_k_real(j, "copy_soft_threshold", c->copy_soft_threshold);
    jw_key(j, "copy_soft_window_ks"); j_long_list(j, c->copy_soft_windows.v, c->copy_soft_windows.n);
    jw_key(j, "L_copy_soft"); jw_obj(j);
    for (int i = 0; i < s->n_soft_k; i++) { snprintf(key, sizeof key, "%ld", c->copy_soft_windows.v[i]); jw_k_opt_int(j, key, s->L_copy_soft[i]); }
    jw_end(j);
    jw_key(j, "delta_layers_soft"); jw_obj(j);
    for (int i = 0; i < s->n_soft_k; i++) {
        snprintf(key, sizeof key, "%ld", c->copy_soft_windows.v[i]);
        jw_k_opt_int(j, key, (s->L_semantic >= 0 && s->L_copy_soft[i] >= 0) ? s->L_semantic - s->L_copy_soft[i] : -1);
    }
    jw_end(j);
    jw_key(j, "copy_detector"); j_copy_detector(e, j);
    jw_key(j, "answer_margin_thresholds"); jw_obj(j);
    jw_k_opt_int(j, "gap_ge_0.5", s->gap_ge_05);
    jw_k_opt_int(j, "gap_ge_1.0", s->gap_ge_10);
    jw_end(j);
    double *gap = xmalloc(e->L1 * sizeof(double)), gp[3];
    for (int L = 0; L < e->L1; L++) gap[L] = x->entropy_bits[L] - p->teacher_entropy_bits;
    gp[0] = ex_percentile(gap, e->L1, 0.25); gp[1] = ex_percentile(gap, e->L1, 0.5); gp[2] = ex_percentile(gap, e->L1, 0.75);
    free(gap);
    jw_key(j, "entropy_gap_bits_percentiles"); j_pct3(j, gp);
    jw_k_int(j, "entropy_gap_samples", e->L1);
    jw_key(j, "copy_thresholds"); j_copy_thresholds(e, j);
    int Ls = s->L_surface, Lg = s->L_geom, Lt = s->L_topk_decay;
    jw_k_opt_int(j, "L_surface_to_meaning_norm", Ls);
    jw_k_real(j, "answer_mass_at_L_surface_norm", Ls >= 0 ? x->p_answer[Ls] : NAN);
    jw_k_real(j, "echo_mass_at_L_surface_norm", Ls >= 0 ? x->echo_mass_prompt[Ls] : NAN);
    jw_k_opt_int(j, "L_geom_norm", Lg);
    jw_k_real(j, "cos_to_answer_at_L_geom_norm", Lg >= 0 ? x->cos_to_answer[Lg] : NAN);
    jw_k_real(j, "cos_to_prompt_max_at_L_geom_norm", Lg >= 0 ? x->cos_to_prompt_max[Lg] : NAN);
    jw_k_opt_int(j, "L_topk_decay_norm", Lt);
    jw_k_real(j, "topk_prompt_mass_at_L_norm", Lt >= 0 ? e->rows[0].topk_prompt_mass[Lt] : NAN);
    jw_k_real(j, "topk_prompt_tau_norm", c->prompt_topk_tau);
    jw_k_real(j, "surface_delta_norm", c->surface_delta);
    jw_k_real(j, "geom_gamma_norm", c->geom_gamma);
    jw_key(j, "cos_milestones"); jw_obj(j); jw_key(j, "norm"); jw_obj(j);
    for (int i = 0; i < s->n_cos; i++) { snprintf(key, sizeof key, "ge_%s", label(c->cos_milestones.v[i], lb)); jw_k_opt_int(j, key, s->cos_ge[i]); }
    jw_end(j); jw_end(j);
    jw_key(j, "depth_fractions"); jw_obj(j);
    jw_k_real(j, "L_semantic_frac", frac3(e, s->L_semantic));
    jw_k_real(j, "first_rank_le_5_frac", frac3(e, s->first_rank_le_5));
    jw_k_real(j, "L_copy_strict_frac", frac3(e, s->L_copy));
    for (int i = 0; i < s->n_soft_k; i++) {
        snprintf(key, sizeof key, "L_copy_soft_k%ld_frac", c->copy_soft_windows.v[i]);
        jw_k_real(j, key, frac3(e, s->L_copy_soft[i]));
    }
    jw_k_real(j, "L_semantic_run2_frac", frac3(e, s->L_run2));
    jw_k_real(j, "L_semantic_strong_frac", frac3(e, s->L_strong));
    jw_k_real(j, "L_semantic_strong_run2_frac", frac3(e, s->L_strong_run2));
    jw_end(j);
    jw_k_opt_int(j, "L_semantic_margin_ok", s->L_margin_ok);
    jw_key(j, "semantic_margin"); j_semantic_margin(e, j);
    jw_key(j, "semantic_gate"); j_semantic_gate(e, j, 0);
    if (e->n_gs) {
        jw_key(j, "gate_stability_small_scale"); jw_obj(j);
        jw_key(j, "scales"); j_real_list(j, x->scales, x->n_scales);
        jw_key(j, "per_target"); jw_obj(j);
        for (int i = 0; i < e->n_gs; i++) {
            jw_key(j, e->gs[i].name); jw_obj(j);
            jw_k_int(j, "layer", e->gs[i].layer);
            jw_k_real(j, "uniform_margin_pass_frac", e->gs_u[i]);
            jw_k_real(j, "top2_gap_pass_frac", e->gs_t[i]);
            jw_k_real(j, "both_gates_pass_frac", e->gs_b[i]);
            jw_end(j);
        }
        jw_end(j);
        jw_k_real(j, "min_both_gates_pass_frac", e->gs_min);
        jw_end(j);
    }
    jw_key(j, "raw_lens_window"); jw_obj(j);
    jw_k_int(j, "radius", s->radius);
    jw_key(j, "center_layers"); j_int_list(j, s->centers, s->n_centers);
    jw_key(j, "layers_checked"); j_int_list(j, s->checked, s->n_checked);
    jw_key(j, "norm_only_semantics_layers"); j_int_list(j, e->window_norm_only, e->n_window_norm_only);
    jw_k_real(j, "max_kl_norm_vs_raw_bits_window", e->window_max_kl);
    jw_k_str(j, "mode", "window");
    jw_end(j);
    jw_key(j, "raw_lens_full"); j_raw_lens_full(e, j);
    jw_key(j, "normalization_provenance"); jw_obj(j);
    jw_k_str(j, "arch", run->architecture);
    jw_key(j, "strategy");
    if (e->n_dp) { jw_obj(j); jw_k_str(j, "primary", "next_ln1"); jw_k_str(j, "ablation", "post_ln2_vs_next_ln1@targets"); jw_end(j); }
    else jw_str(j, "next_ln1");
    jw_key(j, "per_layer"); jw_arr(j);
    for (int L = 0; L <= n; L++) {
        jw_obj(j);
        jw_k_int(j, "layer", L);
        snprintf(key, sizeof key, "blocks[%d].ln1", L);
        jw_k_str(j, "ln_source", L < n ? key : "ln_final");
        jw_k_bool(j, "eps_inside_sqrt", 1);
        jw_k_bool(j, "scale_gamma_used", 1);
        jw_k_real(j, "resid_norm_ratio", x->resid_norm_ratio[L]);
        jw_k_real(j, "delta_resid_cos", x->delta_resid_cos[L]);
        jw_k_real(j, "raw_resid_norm", x->raw_resid_norm[L]);
        jw_end(j);
    }
    jw_end(j);
    jw_end(j);
    jw_key(j, "layer_map"); jw_arr(j);
    for (int L = 0; L <= n; L++) {
        jw_obj(j);
        jw_k_int(j, "layer", L);
        if (L == 0) { jw_k_str(j, "block", "blocks[0]"); jw_k_str(j, "stream", "pre_block"); jw_k_str(j, "norm", "blocks[0].ln1"); }
        else if (L < n) {
            snprintf(key, sizeof key, "blocks[%d]", L - 1); jw_k_str(j, "block", key);
            jw_k_str(j, "stream", "post_block");
            snprintf(key, sizeof key, "blocks[%d].ln1", L); jw_k_str(j, "norm", key);
        } else { jw_k_str(j, "block", "final"); jw_k_str(j, "stream", "unembed_head"); jw_k_str(j, "norm", "ln_final"); }
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "numeric_health"); jw_obj(j);
    jw_k_bool(j, "any_nan", e->nh_any_nan);
    jw_k_bool(j, "any_inf", e->nh_any_inf);
    jw_k_real(j, "max_abs_logit_p99", e->nh_max_abs_p99);
    jw_k_real(j, "min_prob_p01", e->nh_min_prob_p01);
    jw_key(j, "layers_flagged"); jw_arr(j);
    for (int L = 0; L <= n; L++) {
        const ExPass *p0 = P(e, 0);
        int m = nonfinite_at(p0, L, -1);
        if (!m) continue;
        jw_obj(j);
        jw_k_int(j, "layer", L);
        jw_k_str(j, "lens", "norm");
        jw_k_bool(j, "any_nan", (m & 1) != 0);
        jw_k_bool(j, "any_inf", (m & 2) != 0);
        // positions holding NaN / Inf (residual stream at every position; the normalized
        // residual and logits at NEXT), counted apart
        for (int bit = 1; bit <= 2; bit++) {
            int cnt = 0;
            for (int t = 0; t < p0->T; t++) cnt += (nonfinite_at(p0, L, t) & bit) != 0;
            jw_k_int(j, bit == 1 ? "n_nan_positions" : "n_inf_positions", cnt);
            jw_key(j, bit == 1 ? "nan_positions" : "inf_positions");
            jw_arr(j);
            for (int t = 0; t < p0->T; t++)
                if (nonfinite_at(p0, L, t) & bit) jw_int(j, t);
            jw_end(j);
        }
        jw_end(j);
    }
    jw_end(j);
    jw_end(j);
    jw_key(j, "repeatability"); jw_obj(j);
    jw_k_str(j, "status", "ok");
    jw_k_int(j, "layers_checked", e->L1);
    jw_k_real(j, "max_rank_dev", e->rep_max);
    jw_k_real(j, "p95_rank_dev", e->rep_p95);
    jw_k_real(j, "top1_flip_rate", e->rep_flip);
    jw_k_bool(j, "deterministic_algorithms", 1);
    jw_end(j);
    jw_key(j, "decoding_point"); j_decoding_point(e, j);
    jw_key(j, "lens_consistency"); j_lens_consistency(e, j);
    jw_key(j, "gold_alignment"); j_alignment(e, j, p);
    jw_key(j, "repeatability_forward"); jw_obj(j);
    jw_key(j, "milestones"); jw_obj(j);
    jw_k_str(j, "primary", "L_semantic_norm");
    jw_key(j, "pass1"); jw_obj(j); jw_k_opt_int(j, "layer", s->L_semantic); jw_end(j);
    jw_key(j, "pass2"); jw_obj(j); jw_k_null(j, "layer"); jw_end(j);
    jw_k_null(j, "delta_layers");
    jw_end(j);
    jw_k_null(j, "topk_jaccard_at_primary_layer");
    jw_key(j, "gate"); jw_obj(j); jw_k_null(j, "repeatability_forward_pass"); jw_end(j);
    jw_k_bool(j, "enabled", 1);
    jw_k_str(j, "mode", e->rep_max == 0 ? "skipped_deterministic" : "unavailable");
    jw_k_int(j, "tolerance_layers", 1);
    jw_k_int(j, "topk_k", 10);
    jw_end(j);
    jw_key(j, "last_layer_consistency"); j_last_layer(e, j);
    const double pcts[3] = {0.25, 0.5, 0.75};
    const char *pnames[3] = {"kl_to_final_bits_norm_temp@25%", "kl_to_final_bits_norm_temp@50%", "kl_to_final_bits_norm_temp@75%"};
    for (int i = 0; i < 3; i++) {
        int L = ex_depth_layer(n, pcts[i]);
        jw_key(j, pnames[i]); jw_obj(j);
        jw_k_int(j, "layer", L);
        jw_k_real(j, "value", x->kl_to_final_bits_norm_temp[L]);
        jw_end(j);
    }
    jw_k_real(j, "gold_alignment_rate", e->align_rate);
    jw_key(j, "gold_alignment_prompts"); jw_arr(j);
    // order (§2.2): Germany orig, control, Germany no_filler, then (orig, no_filler) for facts 1..
    int order[2 * MAXF + 2], no = 0;
    if (e->fact_orig[0] >= 0) order[no++] = e->fact_orig[0];
    if (e->ctl >= 0) order[no++] = e->ctl;
    if (e->fact_nf[0] >= 0) order[no++] = e->fact_nf[0];
    for (int f = 1; f < e->n_facts; f++) {
        if (e->fact_orig[f] >= 0) order[no++] = e->fact_orig[f];
        if (e->fact_nf[f] >= 0) order[no++] = e->fact_nf[f];
    }
    for (int i = 0; i < no; i++) {
        const ExPass *q = P(e, order[i]);
        int ctl = !strcmp(q->prompt_id, "ctl");
        jw_obj(j);
        jw_k_str(j, "prompt_id", q->prompt_id);
        jw_k_str(j, "prompt_variant", q->variant);
        j_alignment_fields(e, j, q);
        jw_k_str(j, "string", q->answer);
        jw_k_str(j, "fact_key", ctl ? NULL : q->fact_key);
        jw_k_opt_int(j, "fact_index", ctl ? -1 : q->fact_index);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "tuned_lens"); ex_tuned_lens_json(c, run, &e->td, 0, j);
    ex_tuned_diag_json(c, &e->td, j);
    jw_key(j, "confirmed_semantics"); jw_obj(j);
    jw_k_opt_int(j, "L_semantic_norm", s->L_semantic);
    jw_k_opt_int(j, "L_semantic_raw", s->L_semantic_raw);
    jw_k_opt_int(j, "L_semantic_tuned", e->td.L_semantic_tuned);
    jw_k_int(j, "\xce\x94_window", c->confirmed_window);
    jw_k_opt_int(j, "L_semantic_confirmed", e->L_confirmed);
    jw_k_str(j, "confirmed_source", e->confirmed_source);
    jw_end(j);
    if (e->L_confirmed >= 0) jw_k_int(j, "L_semantic_confirmed", e->L_confirmed);
    jw_key(j, "config"); jw_obj(j); jw_key(j, "lens_artifact_score"); jw_obj(j);
    jw_key(j, "weights"); jw_obj(j);
    jw_k_real(j, "pct_ge_1.0", c->artefact_weights.v[0]);
    jw_k_real(j, "norm_only", c->artefact_weights.v[1]);
    jw_k_real(j, "max_kl_scaled", c->artefact_weights.v[2]);
    jw_end(j);
    jw_key(j, "thresholds"); jw_obj(j);
    jw_k_real(j, "low", c->artefact_tier_low);
    jw_k_real(j, "high", c->artefact_tier_medium);
    jw_end(j);
    jw_key(j, "v2_addends"); jw_obj(j); jw_k_real(j, "js_p50", 0.1); jw_k_real(j, "l1_p50", 0.05); jw_end(j);
    jw_end(j); jw_end(j);
    jw_key(j, "micro_suite"); jw_obj(j);
    jw_key(j, "facts"); j_ms_facts(e, j, 0);
    jw_key(j, "aggregates"); j_ms_aggregates(e, j, 0);
    jw_key(j, "citations"); j_ms_citations(e, j);
    jw_end(j);
    if (s->L_semantic >= 0) { jw_key(j, "position_window"); ex_tuned_position_window_json(&e->td, s->L_semantic, j); }
    jw_key(j, "norm_trajectory"); jw_obj(j);
    jw_k_str(j, "shape", e->nt_shape);
    jw_k_real(j, "slope", e->nt_slope);
    jw_k_real(j, "r2", e->nt_r2);
    jw_k_int(j, "n_spikes", e->nt_spikes);
    jw_k_int(j, "sampled_layers", e->L1);
    jw_end(j);
    jw_end(j);
}

static void write_json(const Ex *e, FILE *f) {
    const LwRunConfig *c = e->c;
    const ExRun *run = e->run;
    const ExPass *p = P(e, 0);
    const ExSummary *s = &e->sums[0];
    JsonW jj, *j = &jj;
    jw_init(j, f);
    jw_obj(j);
    jw_key(j, "prompt"); jw_obj(j);
    jw_k_str(j, "type", "prompt");
    jw_k_str(j, "context_prompt", p->text);
    jw_k_str(j, "ground_truth", p->answer);
    jw_k_str(j, "fact_key", p->fact_key);
    jw_k_int(j, "fact_index", p->fact_index);
    jw_end(j);
    jw_key(j, "test_prompts"); jw_arr(j);
    for (int i = 0; i < run->n_test; i++) {
        jw_obj(j);
        jw_k_str(j, "type", "test_prompt");
        jw_k_str(j, "prompt", run->test_text[i]);
        jw_k_real(j, "entropy", run->test_entropy[i]);
        jw_key(j, "topk");
        j_topk(e, j, run->test_ids + (size_t)i * run->test_k, run->test_probs + (size_t)i * run->test_k, run->test_k);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "temperature_exploration"); jw_arr(j);
    for (int i = 0; i < run->n_temp; i++) {
        jw_obj(j);
        jw_k_str(j, "type", "temperature_exploration");
        jw_k_real(j, "temperature", run->temp_values[i]);
        jw_k_real(j, "entropy", run->temp_entropy[i]);
        jw_key(j, "topk");
        j_topk(e, j, run->temp_ids + (size_t)i * run->temp_k, run->temp_probs + (size_t)i * run->temp_k, run->temp_k);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "diagnostics"); j_diagnostics(e, j);
    int NEXT = p->T - 1;
    jw_key(j, "final_prediction"); jw_obj(j);
    jw_k_str(j, "type", "final_prediction");
    jw_k_real(j, "entropy", p->final_entropy_bits[NEXT]);
    jw_key(j, "topk");
    int kf = (int)(c->topk_final < p->final_k ? c->topk_final : p->final_k);
    j_topk(e, j, p->final_topk_ids + (size_t)NEXT * p->final_k, p->final_topk_probs + (size_t)NEXT * p->final_k, kf);
    jw_end(j);
    jw_key(j, "model_stats"); jw_obj(j);
    jw_k_str(j, "type", "model_stats");
    jw_k_int(j, "num_layers", run->n_layers);
    jw_k_int(j, "d_model", run->d_model);
    jw_k_int(j, "n_heads", run->n_heads);
    jw_k_int(j, "d_vocab", run->vocab);
    jw_k_int(j, "n_ctx", run->n_ctx);
    jw_k_str(j, "architecture", run->architecture);
    jw_end(j);
    jw_key(j, "raw_lens_check"); jw_obj(j);
    jw_k_str(j, "mode", c->raw_lens_mode && c->raw_lens_mode[0] ? c->raw_lens_mode : "sample");
    jw_key(j, "samples"); jw_arr(j);
    for (int i = 0; i < e->n_samples; i++) {
        const ExPass *q = P(e, e->samples[i].pass);
        int L = e->samples[i].layer;
        const ExNext *nx = &q->norm, *rw = &q->raw;
        jw_obj(j);
        jw_k_int(j, "layer", L);
        jw_k_real(j, "kl_norm_vs_raw_bits", rw->kl_norm_vs_raw_bits[L]);
        jw_k_bool(j, "top1_agree", nx->top_ids[(size_t)L * nx->K] == rw->top_ids[(size_t)L * rw->K]);
        jw_k_real(j, "p_top1_norm", nx->top_probs[(size_t)L * nx->K]);
        jw_k_real(j, "p_top1_raw", rw->top_probs[(size_t)L * rw->K]);
        jw_k_real(j, "p_answer_norm", nx->p_answer[L]);
        jw_k_real(j, "p_answer_raw", rw->p_answer[L]);
        jw_k_opt_int(j, "answer_rank_norm", nx->answer_rank[L]);
        jw_k_opt_int(j, "answer_rank_raw", rw->answer_rank[L]);
        jw_k_bool(j, "is_answer_norm", nx->answer_rank[L] == 1);
        jw_k_bool(j, "is_answer_raw", rw->answer_rank[L] == 1);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "summary"); jw_obj(j);
    jw_k_opt_int(j, "first_norm_only_semantic_layer", e->rc_first_norm_only);
    jw_k_real(j, "max_kl_norm_vs_raw_bits", e->rc_max_kl);
    jw_k_str(j, "lens_artifact_risk", e->rc_risk);
    jw_end(j);
    jw_end(j);
    jw_key(j, "prompts"); jw_obj(j);
    jw_key(j, "facts_micro_suite"); jw_arr(j);
    for (int f = 0; f < e->n_facts; f++) if (e->fact_orig[f] >= 0) jw_str(j, P(e, e->fact_orig[f])->fact_key);
    jw_end(j);
    jw_end(j);
    jw_key(j, "provenance"); jw_obj(j); jw_key(j, "env"); jw_obj(j);
    jw_k_null(j, "torch_version");
    jw_k_null(j, "cuda_version");
    jw_k_null(j, "cudnn");
    jw_k_str(j, "device", run->backend);
    jw_k_str(j, "dtype_compute", dtype_torch(run->compute_dtype));
    jw_k_bool(j, "deterministic_algorithms", 1);
    jw_k_bool(j, "cudnn_benchmark", 0);
    jw_k_int(j, "seed", c->seed);
    jw_k_null(j, "python");
    char plat[256];
    snprintf(plat, sizeof plat, "lensweep %s (%s)", run->lensweep_version, run->lensweep_git);
    jw_k_str(j, "platform", plat);
    jw_end(j); jw_end(j);
    jw_key(j, "copy_flag_columns"); jw_arr(j);
    for (int i = 0; i < e->cc.n; i++) jw_str(j, e->cc.names[i]);
    jw_end(j);
    // §12 ablation
    int nf0 = e->fact_nf[0];
    const ExSummary *snf = nf0 >= 0 ? &e->sums[nf0] : NULL;
    int Lc_nf = snf ? snf->L_copy : -1, Ls_nf = snf ? snf->L_semantic : -1;
    jw_key(j, "ablation_summary"); jw_obj(j);
    jw_k_opt_int(j, "L_copy_orig", s->L_copy);
    jw_k_opt_int(j, "L_sem_orig", s->L_semantic);
    jw_k_opt_int(j, "L_copy_nf", Lc_nf);
    jw_k_opt_int(j, "L_sem_nf", Ls_nf);
    jw_key(j, "delta_L_copy"); if (Lc_nf >= 0 && s->L_copy >= 0) jw_int(j, Lc_nf - s->L_copy); else jw_null(j);
    jw_key(j, "delta_L_sem"); if (Ls_nf >= 0 && s->L_semantic >= 0) jw_int(j, Ls_nf - s->L_semantic); else jw_null(j);
    jw_end(j);
    // §11 control
    if (e->ctl >= 0) {
        const ExPass *q = P(e, e->ctl);
        const ExRows *rc = &e->rows[e->ctl];
        jw_key(j, "control_prompt"); jw_obj(j);
        jw_k_str(j, "context_prompt", q->text);
        jw_key(j, "gold_answer"); j_gold_answer(e, j, q);
        jw_key(j, "gold_alignment"); j_alignment(e, j, q);
        jw_end(j);
        int first_pos = -1, first_strong = -1;
        double max_m = NAN, max_gap = NAN;
        for (int L = 0; L < e->L1; L++) {
            double m = rc->control_margin[L], g = rc->control_top2_gap[L];
            if (!isnan(m) && (isnan(max_m) || m > max_m)) max_m = m;
            if (!isnan(g) && (isnan(max_gap) || g > max_gap)) max_gap = g;
            if (first_pos < 0 && m > 0) first_pos = L;
            if (first_strong < 0 && m > 0 && g >= c->control_top2_gap && rc->top1[L] == q->first_id) first_strong = L;
        }
        jw_key(j, "control_summary"); jw_obj(j);
        jw_k_opt_int(j, "first_control_margin_pos", first_pos);
        jw_k_real(j, "max_control_margin", max_m);
        jw_k_opt_int(j, "first_control_strong_pos", first_strong);
        jw_k_real(j, "max_control_top2_logit_gap", max_gap);
        jw_k_real(j, "delta_top2_logit_ctl", c->control_top2_gap);
        jw_end(j);
    }
    jw_key(j, "tuned_lens"); ex_tuned_lens_json(c, run, &e->td, 1, j);
    jw_key(j, "summary"); jw_obj(j);
    jw_key(j, "semantic_margin"); j_semantic_margin(e, j);
    jw_key(j, "semantic_gate"); j_semantic_gate(e, j, 1);
    jw_key(j, "micro_suite"); j_ms_aggregates(e, j, 0);
    if (s->L_semantic >= 0) { jw_key(j, "position_window"); ex_tuned_position_window_json(&e->td, s->L_semantic, j); }
    jw_end(j);
    jw_key(j, "micro_suite"); jw_obj(j);
    jw_key(j, "facts"); j_ms_facts(e, j, 0);
    jw_key(j, "aggregates"); j_ms_aggregates(e, j, 0);
    jw_end(j);
    // §22 guidance
    const char *rs[32];
    int nr = reasons(e, rs);
    jw_key(j, "measurement_guidance"); jw_obj(j);
    jw_k_bool(j, "prefer_ranks", nr > 0);
    jw_k_bool(j, "suppress_abs_probs", nr > 0);
    jw_key(j, "reasons"); jw_arr(j);
    for (int i = 0; i < nr; i++) jw_str(j, rs[i]);
    jw_end(j);
    jw_k_str(j, "notes", "Family-level head calibration; treat probabilities comparatively only within model.");
    // §22: tuned when the attribution prefers it, never for a calibration-only translator
    const char *pref = e->td.present && e->td.prefer_tuned && !e->td.calib_only ? "tuned" : "norm";
    jw_k_str(j, "preferred_lens_for_reporting", pref);
    if (e->td.present) jw_k_str(j, "preferred_semantics_lens_hint", e->td.hint);
    jw_k_bool(j, "use_confirmed_semantics", e->L_confirmed >= 0);
    jw_k_str(j, "notes_append", "Prism is diagnostic-only; treat probabilities comparatively within model.");
    jw_end(j);
    // §23 evaluation pack
    jw_key(j, "evaluation_pack"); jw_obj(j);
    jw_k_str(j, "model", run->model_name);
    jw_k_int(j, "n_layers", run->n_layers);
    jw_k_str(j, "preferred_lens_for_reporting", pref);
    jw_k_bool(j, "use_confirmed_semantics", e->L_confirmed >= 0);
    jw_key(j, "milestones"); jw_obj(j);
    jw_k_opt_int(j, "L_copy_strict", s->L_copy);
    jw_key(j, "L_copy_soft"); jw_obj(j);
    jw_k_opt_int(j, "k", s->L_soft_min_k);
    jw_k_opt_int(j, "layer", s->L_soft_min);
    jw_end(j);
    jw_k_opt_int(j, "L_semantic_norm", s->L_semantic);
    jw_key(j, "L_semantic_confirmed"); jw_obj(j);
    jw_k_opt_int(j, "layer", e->L_confirmed);
    jw_k_str(j, "source", e->confirmed_source); // "none" when unconfirmed (reference: Qwen2.5-72B)
    jw_end(j);
    jw_key(j, "depth_fractions"); jw_obj(j);
    jw_k_real(j, "copy_strict_frac", s->L_copy >= 0 ? py_round((double)s->L_copy / e->n, 4) : NAN);
    jw_k_real(j, "semantic_frac", s->L_semantic >= 0 ? py_round((double)s->L_semantic / e->n, 4) : NAN);
    jw_k_real(j, "delta_hat", isnan(e->ms_delta_hat[0]) ? NAN : py_round(e->ms_delta_hat[0], 4));
    jw_end(j);
    jw_end(j);
    jw_key(j, "artifact"); jw_obj(j);
    jw_k_real(j, "lens_artifact_score", e->score);
    jw_k_real(j, "lens_artifact_score_v2", e->score_v2);
    jw_k_real(j, "js_divergence_p50", e->js_p[1]);
    jw_k_real(j, "l1_prob_diff_p50", e->l1_p[1]);
    jw_k_opt_int(j, "first_js_le_0.1", e->first_js_le_01);
    jw_k_opt_int(j, "first_l1_le_0.5", e->first_l1_le_05);
    jw_k_real(j, "jaccard_raw_norm_p50", e->jac_p50);
    jw_k_opt_int(j, "first_jaccard_raw_norm_ge_0.5", e->first_jac_ge_05);
    jw_k_real(j, "pct_layers_kl_ge_1.0", e->pct_kl_ge_1);
    jw_k_int(j, "n_norm_only_semantics_layers", e->n_norm_only);
    jw_k_opt_int(j, "earliest_norm_only_semantic", e->earliest_norm_only);
    jw_k_str(j, "risk_tier", e->tier);
    jw_end(j);
    jw_key(j, "repeatability"); jw_obj(j);
    jw_k_real(j, "max_rank_dev", e->rep_max);
    jw_k_real(j, "p95_rank_dev", e->rep_p95);
    jw_k_real(j, "top1_flip_rate", e->rep_flip);
    jw_k_str(j, "flag", e->rep_high ? "high_variance" : "ok");
    jw_end(j);
    jw_key(j, "alignment"); jw_obj(j);
    jw_k_real(j, "gold_alignment_rate", e->align_rate);
    jw_k_str(j, "variant", p->align_variant);
    jw_end(j);
    jw_key(j, "norm_trajectory"); jw_obj(j);
    jw_k_str(j, "shape", e->nt_shape);
    jw_k_real(j, "slope", e->nt_slope);
    jw_k_real(j, "r2", e->nt_r2);
    jw_k_int(j, "n_spikes", e->nt_spikes);
    jw_end(j);
    double *gap = xmalloc(e->L1 * sizeof(double));
    for (int L = 0; L < e->L1; L++) gap[L] = p->norm.entropy_bits[L] - p->teacher_entropy_bits;
    jw_key(j, "entropy"); jw_obj(j);
    jw_k_real(j, "entropy_gap_bits_p25", ex_percentile(gap, e->L1, 0.25));
    jw_k_real(j, "entropy_gap_bits_p50", ex_percentile(gap, e->L1, 0.5));
    jw_k_real(j, "entropy_gap_bits_p75", ex_percentile(gap, e->L1, 0.75));
    jw_end(j);
    free(gap);
    jw_key(j, "tuned_audit"); ex_tuned_audit_json(&e->td, j);
    jw_key(j, "citations"); jw_obj(j);
    jw_key(j, "layers"); jw_obj(j);
    jw_k_opt_int(j, "L_copy_strict_row", s->L_copy);
    jw_k_opt_int(j, "L_copy_soft_row", s->L_soft_min);
    jw_k_opt_int(j, "L_semantic_norm_row", s->L_semantic);
    jw_k_opt_int(j, "L_semantic_confirmed_row", e->L_confirmed);
    jw_end(j);
    jw_key(j, "files"); jw_obj(j);
    jw_k_str(j, "pure_csv", e->f_pure);
    int tuned_files = c->sidecars && e->has_tuned;
    jw_k_str(j, "tuned_pure_csv", tuned_files ? e->f_tuned_pure : NULL);
    jw_k_str(j, "rawlens_full_csv", c->sidecars && e->has_raw ? e->f_raw : NULL);
    jw_k_str(j, "tuned_variants_csv", tuned_files && e->td.audit >= 0 ? e->f_tuned_variants : NULL);
    jw_k_str(j, "positions_audit_csv", tuned_files && e->td.audit >= 0 ? e->f_tuned_positions : NULL);
    jw_end(j);
    jw_end(j);
    jw_key(j, "micro_suite"); jw_obj(j);
    jw_key(j, "facts"); j_ms_facts(e, j, 1);
    jw_key(j, "aggregates"); j_ms_aggregates(e, j, 1);
    jw_key(j, "citations"); j_ms_citations(e, j);
    jw_end(j);
    jw_end(j);
    jw_key(j, "gold_answer"); j_gold_answer(e, j, p);
    jw_end(j);
}

// ---------------------------------------------------------------------------- files

typedef struct {
    const char *name;
    void (*fn)(const Ex *, FILE *);
    int sidecar, needs_raw;
} ExFile;

int ex_export(const LwRunConfig *cfg, const ExRun *run, const char *out_dir, LwError *err) {
    if (run->battery) return ex_export_battery(cfg, run, out_dir, err); // docs/BATTERY.md
    Ex e;
    memset(&e, 0, sizeof e);
    e.c = cfg;
    e.run = run;
    derive(&e);
    ExFile files[] = {
        {e.f_records, write_records, 0, 0}, {e.f_pure, write_pure, 0, 0},     {e.f_raw, write_rawlens, 1, 1},
        {e.f_window, write_window, 1, 1},   {e.f_ms, write_milestones, 1, 0}, {e.f_audit, write_audit, 1, 1},
        {e.f_prism_records, write_records_prism, 1, 0}, {e.f_prism_pure, write_pure_prism, 1, 0},
        {e.f_tuned_records, write_records_tuned, 1, 0}, {e.f_tuned_pure, write_pure_tuned, 1, 0},
        {e.f_tuned_variants, write_tuned_variants, 1, 0}, {e.f_tuned_positions, write_tuned_positions, 1, 0},
        {e.f_json, write_json, 0, 0},
    };
    int nfiles = (int)(sizeof files / sizeof files[0]);
    char *tmp[16] = {0}, *fin[16] = {0};
    int rc = 0;
    if (lw_mkdir_p(out_dir, err)) rc = -1;
    for (int i = 0; i < nfiles && !rc; i++) {
        if (files[i].sidecar && !cfg->sidecars) continue;
        if (files[i].needs_raw && !e.has_raw) continue;
        if ((files[i].fn == write_records_prism || files[i].fn == write_pure_prism) && !e.has_prism) continue;
        if ((files[i].fn == write_records_tuned || files[i].fn == write_pure_tuned) && !e.has_tuned) continue;
        if ((files[i].fn == write_tuned_variants || files[i].fn == write_tuned_positions) && e.td.audit < 0) continue;
        if (files[i].fn == write_window) { // written when any window rows exist (OUTPUTS.md §1)
            int rows = 0;
            for (int k = 0; k < run->n_passes; k++) rows += e.sums[k].n_checked;
            if (!rows) continue;
        }
        fin[i] = xasprintf("%s/%s", out_dir, files[i].name);
        tmp[i] = xasprintf("%s/.%s.tmp.%ld", out_dir, files[i].name, (long)getpid());
        lw_cleanup_unlink_on_fail(tmp[i]);
        FILE *f = fopen(tmp[i], "w");
        if (!f) { rc = lw_err(err, "check that the output directory is writable", "%s: cannot write: %s", tmp[i], strerror(errno)); break; }
        files[i].fn(&e, f);
        if (ferror(f) | fclose(f)) rc = lw_err(err, "check free disk space", "%s: write failed", tmp[i]);
    }
    // rename in list order, the JSON (the file that marks a model as exported) last; on a failure
    // the files already renamed by this call are removed again
    int renamed = 0;
    for (int i = 0; i < nfiles && !rc; i++) {
        if (!tmp[i]) continue;
        if (rename(tmp[i], fin[i]))
            rc = lw_err(err, "check the output directory", "%s: cannot rename to %s: %s", tmp[i], fin[i], strerror(errno));
        else renamed = i + 1;
    }
    if (rc)
        for (int i = 0; i < renamed; i++)
            if (fin[i] && tmp[i]) unlink(fin[i]);
    // a file of this model's set that this export did not write (sidecars off, no raw lens) is
    // stale: it would describe other thresholds than the new JSON
    for (int i = 0; i < nfiles && !rc; i++) {
        if (tmp[i]) continue;
        char *stale = xasprintf("%s/%s", out_dir, files[i].name);
        unlink(stale);
        free(stale);
    }
    for (int i = 0; i < nfiles; i++) {
        if (!tmp[i]) continue;
        if (rc) unlink(tmp[i]);
        lw_cleanup_forget(tmp[i]);
        free(tmp[i]);
        free(fin[i]);
    }
    for (int i = 0; i < run->n_passes; i++) { ex_rows_free(&e.rows[i]); ex_summary_free(&e.sums[i]); }
    for (int i = 0; e.prows && i < run->n_passes; i++) ex_rows_free(&e.prows[i]);
    for (int i = 0; e.trows && i < run->n_passes; i++) ex_rows_free(&e.trows[i]);
    ex_tuned_free(&e.td);
    free(e.rows); free(e.sums); free(e.samples); free(e.prows); free(e.trows); free(e.tp);
    return rc;
}
