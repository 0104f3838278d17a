// export_json — the JSON writer over a derived Ex. See export_internal.h; section numbers:
// METRICS.md (M§) and OUTPUTS.md (O§).
#include "export/export_internal.h"
#include "export/export_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static void j_real_list(JsonW *j, const double *v, int n) {
    jw_arr(j);
    for (int i = 0; i < n; i++) jw_real(j, v[i]);
    jw_end(j);
}
// ---------------------------------------------------------------------------- JSON blocks

// The norm lens's primary-pass summary (export/export_summary.h).
static ExLensSummary norm_summary(const Ex *e) {
    const ExPass *p = P(e, 0);
    return (ExLensSummary){.lens = "norm", .p = p, .x = &p->norm, .r = &e->rows[0], .s = &e->sums[0],
                           .teacher_entropy_bits = p->teacher_entropy_bits, .n = e->n, .has = 1, .first_layer = 0,
                           .depth_fractions = 1, .confirmed = 1, .L_confirmed = e->L_confirmed, .signed_soft_deltas = 1};
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
    jw_key(j, "js_divergence_percentiles"); ex_json_pct3(j, e->js_p);
    jw_key(j, "l1_prob_diff_percentiles"); ex_json_pct3(j, e->l1_p);
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
    char key[96];
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
    jw_key(j, "window_ks"); ex_json_long_list(j, c->copy_soft_windows.v, c->copy_soft_windows.n);
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
    ExLensSummary norm = norm_summary(e);
    ex_summary_json(c, run, &norm, j);
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

void ex_write_json(const Ex *e, FILE *f) {
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
    ExLensSummary norm = norm_summary(e);
    jw_key(j, "semantic_margin"); ex_summary_semantic_margin_json(c, run, &norm, j);
    jw_key(j, "semantic_gate"); ex_summary_semantic_gate_json(c, &norm, 1, j);
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
