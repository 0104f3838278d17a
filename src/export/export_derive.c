// export_derive — the derivation: per-pass rows, summaries and milestones (what the spec computes),
// before any file is written. See export_internal.h; section numbers: METRICS.md (M§) and
// OUTPUTS.md (O§).
#include "export/export_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---------------------------------------------------------------------------- derivation

static int is_primary_window_quirk(const Ex *e) { return e->c->quirk_raw_window_primary_radius; }

void ex_derive(Ex *e) {
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
