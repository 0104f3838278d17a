// export_summary — see export_summary.h. Section numbers: METRICS.md (M§) and OUTPUTS.md (O§).
#include "export/export_summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int capped(int n) { return n < EX_MAX_MS ? n : EX_MAX_MS; } // ExSummary holds EX_MAX_MS per list

// "<name>_<lens>" into key[96]: the surface and geometry keys (L_geom_norm, L_geom_tuned)
static const char *lens_key(char *key, const char *name, const char *lens) {
    snprintf(key, 96, "%s_%s", name, lens);
    return key;
}

static double frac3(int L, int n) { return L < 0 ? NAN : py_round((double)L / n, 3); }

void ex_json_long_list(JsonW *j, const long *v, int n) {
    jw_arr(j);
    for (int i = 0; i < n; i++) jw_int(j, v[i]);
    jw_end(j);
}

void ex_json_pct3(JsonW *j, const double *p) {
    jw_obj(j);
    jw_k_real(j, "p25", p[0]);
    jw_k_real(j, "p50", p[1]);
    jw_k_real(j, "p75", p[2]);
    jw_end(j);
}

static void j_copy_detector(const LwRunConfig *c, const ExLensSummary *ls, JsonW *j) {
    const ExSummary *s = ls->s;
    int nsk = capped(c->copy_soft_windows.n);
    char key[32];
    jw_obj(j);
    jw_key(j, "strict"); jw_obj(j);
    jw_k_real(j, "thresh", c->copy_threshold);
    jw_k_int(j, "k", c->copy_window_k);
    jw_k_opt_int(j, "L_copy_strict", s->L_copy);
    jw_end(j);
    jw_key(j, "soft"); jw_obj(j);
    jw_k_real(j, "thresh", c->copy_soft_threshold);
    jw_key(j, "window_ks"); ex_json_long_list(j, c->copy_soft_windows.v, c->copy_soft_windows.n);
    jw_key(j, "L_copy_soft"); jw_obj(j);
    for (int k = 0; k < nsk; k++) {
        snprintf(key, sizeof key, "k%ld", c->copy_soft_windows.v[k]);
        jw_k_opt_int(j, key, ls->has ? s->L_copy_soft[k] : -1);
    }
    jw_end(j);
    jw_end(j);
    jw_key(j, "deltas"); jw_obj(j);
    jw_k_opt_int(j, "\xce\x94_sem_minus_copy_strict", (s->L_semantic >= 0 && s->L_copy >= 0) ? s->L_semantic - s->L_copy : -1);
    jw_key(j, "\xce\x94_sem_minus_copy_soft"); jw_obj(j);
    for (int k = 0; k < nsk; k++) {
        snprintf(key, sizeof key, "k%ld", c->copy_soft_windows.v[k]);
        jw_key(j, key);
        if (!ls->has || s->L_semantic < 0 || s->L_copy_soft[k] < 0) jw_null(j);
        else if (ls->signed_soft_deltas) jw_int(j, s->L_semantic - s->L_copy_soft[k]);
        else jw_opt_int(j, s->L_semantic - s->L_copy_soft[k]);
    }
    jw_end(j);
    jw_end(j);
    jw_end(j);
}

// copy_thresholds (M§6.5): the strict-copy layer at each τ of copy_strict_sweep.
static void j_copy_thresholds(const LwRunConfig *c, const ExRun *run, const ExLensSummary *ls, JsonW *j) {
    const ExSummary *s = ls->s;
    char lb[32];
    jw_obj(j);
    jw_key(j, "tau_list"); jw_arr(j);
    for (int i = 0; i < c->copy_strict_sweep.n; i++) jw_real(j, c->copy_strict_sweep.v[i]);
    jw_end(j);
    jw_key(j, "L_copy_strict"); jw_obj(j);
    for (int i = 0; i < s->n_sweep; i++) jw_k_opt_int(j, py_float_repr(c->copy_strict_sweep.v[i], lb), s->L_sweep[i]);
    jw_end(j);
    jw_key(j, "L_copy_strict_frac"); jw_obj(j);
    for (int i = 0; i < s->n_sweep; i++) jw_k_real(j, py_float_repr(c->copy_strict_sweep.v[i], lb), frac3(s->L_sweep[i], ls->n));
    jw_end(j);
    jw_key(j, "norm_only_flags"); jw_obj(j);
    int any = 0;
    for (int i = 0; i < s->n_sweep; i++) {
        int fl = ex_copy_norm_only(c, run, ls->p, s, i);
        any |= fl >= 0;
        jw_k_bool(j, py_float_repr(c->copy_strict_sweep.v[i], lb), fl);
    }
    jw_end(j);
    jw_k_str(j, "stability", ex_copy_stability(c, s, ls->n, any));
    jw_end(j);
}

static void j_depth_fractions(const LwRunConfig *c, const ExLensSummary *ls, JsonW *j) {
    const ExSummary *s = ls->s;
    int n = ls->n;
    char key[96];
    jw_obj(j);
    jw_k_real(j, "L_semantic_frac", frac3(s->L_semantic, n));
    jw_k_real(j, "first_rank_le_5_frac", frac3(s->first_rank_le_5, n));
    jw_k_real(j, "L_copy_strict_frac", frac3(s->L_copy, n));
    for (int k = 0; k < capped(c->copy_soft_windows.n); k++) {
        snprintf(key, sizeof key, "L_copy_soft_k%ld_frac", c->copy_soft_windows.v[k]);
        jw_k_real(j, key, frac3(s->L_copy_soft[k], n));
    }
    jw_k_real(j, "L_semantic_run2_frac", frac3(s->L_run2, n));
    jw_k_real(j, "L_semantic_strong_frac", frac3(s->L_strong, n));
    jw_k_real(j, "L_semantic_strong_run2_frac", frac3(s->L_strong_run2, n));
    jw_end(j);
}

void ex_summary_semantic_margin_json(const LwRunConfig *c, const ExRun *run, const ExLensSummary *ls, JsonW *j) {
    const ExSummary *s = ls->s;
    jw_obj(j);
    jw_k_real(j, "delta_abs", c->semantic_delta_abs);
    jw_k_real(j, "p_uniform", 1.0 / (double)run->vocab);
    jw_k_opt_int(j, "L_semantic_margin_ok_norm", s->L_margin_ok);
    jw_key(j, "margin_ok_at_L_semantic_norm");
    if (s->L_semantic >= 0) jw_bool(j, ls->r->margin_ok[s->L_semantic]); else jw_null(j);
    jw_k_real(j, "p_answer_at_L_semantic_norm", s->L_semantic >= 0 ? ls->x->p_answer[s->L_semantic] : NAN);
    if (ls->confirmed && ls->L_confirmed >= 0)
        jw_k_opt_int(j, "L_semantic_confirmed_margin_ok_norm", ls->L_confirmed == s->L_margin_ok ? s->L_margin_ok : -1);
    jw_end(j);
}

void ex_summary_semantic_gate_json(const LwRunConfig *c, const ExLensSummary *ls, int summary_order, JsonW *j) {
    const ExSummary *s = ls->s;
    jw_obj(j);
    if (summary_order) jw_k_real(j, "delta_abs", c->semantic_delta_abs);
    jw_k_real(j, "delta_top2_logit", c->semantic_top2_gap);
    jw_k_opt_int(j, "L_semantic_top2_ok_norm", s->L_top2_ok);
    jw_k_real(j, "L_semantic_top2_ok_norm_frac", frac3(s->L_top2_ok, ls->n));
    double gap = NAN;
    if (!c->quirk_gap_milestones_null && s->L_semantic >= 0) gap = ls->r->answer_logit_gap[s->L_semantic];
    jw_k_real(j, "gap_at_L_semantic_norm", gap);
    if (!summary_order) jw_k_real(j, "delta_abs", c->semantic_delta_abs);
    jw_k_opt_int(j, "L_semantic_run2", s->L_run2);
    jw_k_opt_int(j, "L_semantic_strong", s->L_strong);
    jw_k_opt_int(j, "L_semantic_strong_run2", s->L_strong_run2);
    if (ls->confirmed) {
        jw_key(j, "run2_overlaps_confirmed_window");
        if (ls->L_confirmed >= 0 && s->L_run2 >= 0) {
            int W = (int)c->confirmed_window, lo = s->L_semantic - W, hi = s->L_semantic + W;
            jw_bool(j, (s->L_run2 >= lo && s->L_run2 <= hi) || (s->L_run2 + 1 >= lo && s->L_run2 + 1 <= hi));
        } else jw_null(j);
    }
    jw_end(j);
}

void ex_summary_json(const LwRunConfig *c, const ExRun *run, const ExLensSummary *ls, JsonW *j) {
    const ExSummary *s = ls->s;
    const ExNext *x = ls->x;
    int has = ls->has, n = ls->n;
    char key[96], lb[32];
    jw_k_opt_int(j, "L_copy", s->L_copy);
    jw_k_opt_int(j, "L_copy_H", s->L_copy_H);
    jw_k_opt_int(j, "L_semantic", s->L_semantic);
    jw_k_opt_int(j, "delta_layers", (s->L_semantic >= 0 && s->L_copy >= 0) ? s->L_semantic - s->L_copy : -1);
    jw_k_real(j, "copy_thresh", c->copy_threshold);
    jw_k_int(j, "copy_window_k", c->copy_window_k);
    jw_k_str(j, "copy_match_level", "id_subsequence");
    for (int k = 0; k < capped(c->kl_milestones_bits.n); k++) {
        snprintf(key, sizeof key, "first_kl_below_%s", py_float_repr(c->kl_milestones_bits.v[k], lb));
        jw_k_opt_int(j, key, has ? s->first_kl[k] : -1);
    }
    for (int k = 0; k < capped(c->rank_milestones.n); k++) {
        snprintf(key, sizeof key, "first_rank_le_%ld", c->rank_milestones.v[k]);
        jw_k_opt_int(j, key, has ? s->first_rank[k] : -1);
    }
    jw_k_real(j, "copy_soft_threshold", c->copy_soft_threshold);
    jw_key(j, "copy_soft_window_ks"); ex_json_long_list(j, c->copy_soft_windows.v, c->copy_soft_windows.n);
    int nsk = capped(c->copy_soft_windows.n);
    jw_key(j, "L_copy_soft"); jw_obj(j);
    for (int k = 0; k < nsk; k++) {
        snprintf(key, sizeof key, "%ld", c->copy_soft_windows.v[k]);
        jw_k_opt_int(j, key, has ? s->L_copy_soft[k] : -1);
    }
    jw_end(j);
    jw_key(j, "delta_layers_soft"); jw_obj(j);
    for (int k = 0; k < nsk; k++) {
        snprintf(key, sizeof key, "%ld", c->copy_soft_windows.v[k]);
        jw_k_opt_int(j, key, (has && s->L_semantic >= 0 && s->L_copy_soft[k] >= 0) ? s->L_semantic - s->L_copy_soft[k] : -1);
    }
    jw_end(j);
    jw_key(j, "copy_detector"); j_copy_detector(c, ls, j);
    jw_key(j, "answer_margin_thresholds"); jw_obj(j);
    jw_k_opt_int(j, "gap_ge_0.5", s->gap_ge_05);
    jw_k_opt_int(j, "gap_ge_1.0", s->gap_ge_10);
    jw_end(j);
    // the entropy gap H(lens) − H(P_final) over the lens's layers
    int m = n + 1 - ls->first_layer;
    double gp[3] = {NAN, NAN, NAN};
    if (has) {
        double *gap = xmalloc(m * sizeof(double));
        for (int L = ls->first_layer; L <= n; L++) gap[L - ls->first_layer] = x->entropy_bits[L] - ls->teacher_entropy_bits;
        gp[0] = ex_percentile(gap, m, 0.25);
        gp[1] = ex_percentile(gap, m, 0.5);
        gp[2] = ex_percentile(gap, m, 0.75);
        free(gap);
    }
    jw_key(j, "entropy_gap_bits_percentiles"); ex_json_pct3(j, gp);
    jw_k_int(j, "entropy_gap_samples", has ? m : 0);
    jw_key(j, "copy_thresholds"); j_copy_thresholds(c, run, ls, j);
    // M§7 surface and geometry, suffixed by the lens
    int Ls = s->L_surface, Lg = s->L_geom, Lt = s->L_topk_decay;
    jw_k_opt_int(j, lens_key(key, "L_surface_to_meaning", ls->lens), Ls);
    jw_k_real(j, lens_key(key, "answer_mass_at_L_surface", ls->lens), Ls >= 0 ? x->p_answer[Ls] : NAN);
    jw_k_real(j, lens_key(key, "echo_mass_at_L_surface", ls->lens), Ls >= 0 ? x->echo_mass_prompt[Ls] : NAN);
    jw_k_opt_int(j, lens_key(key, "L_geom", ls->lens), Lg);
    jw_k_real(j, lens_key(key, "cos_to_answer_at_L_geom", ls->lens), Lg >= 0 ? x->cos_to_answer[Lg] : NAN);
    jw_k_real(j, lens_key(key, "cos_to_prompt_max_at_L_geom", ls->lens), Lg >= 0 ? x->cos_to_prompt_max[Lg] : NAN);
    jw_k_opt_int(j, lens_key(key, "L_topk_decay", ls->lens), Lt);
    jw_k_real(j, lens_key(key, "topk_prompt_mass_at_L", ls->lens), Lt >= 0 ? ls->r->topk_prompt_mass[Lt] : NAN);
    jw_k_real(j, lens_key(key, "topk_prompt_tau", ls->lens), c->prompt_topk_tau);
    jw_k_real(j, lens_key(key, "surface_delta", ls->lens), c->surface_delta);
    jw_k_real(j, lens_key(key, "geom_gamma", ls->lens), c->geom_gamma);
    jw_key(j, "cos_milestones"); jw_obj(j); jw_key(j, ls->lens); jw_obj(j);
    for (int k = 0; k < capped(c->cos_milestones.n); k++) {
        snprintf(key, sizeof key, "ge_%s", py_float_repr(c->cos_milestones.v[k], lb));
        jw_k_opt_int(j, key, has ? s->cos_ge[k] : -1);
    }
    jw_end(j); jw_end(j);
    if (ls->depth_fractions) { jw_key(j, "depth_fractions"); j_depth_fractions(c, ls, j); }
    jw_k_opt_int(j, "L_semantic_margin_ok", s->L_margin_ok);
    jw_key(j, "semantic_margin"); ex_summary_semantic_margin_json(c, run, ls, j);
    jw_key(j, "semantic_gate"); ex_summary_semantic_gate_json(c, ls, 0, j);
}
