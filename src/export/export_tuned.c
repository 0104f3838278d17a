// export_tuned — see export_tuned.h. Section numbers: METRICS.md (§) and OUTPUTS.md (O§).
#include "export/export_tuned.h"

#include "export/export_summary.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double FR[3] = {0.25, 0.5, 0.75};
static const char *const PKEY[3] = {"p25", "p50", "p75"};
static const int RK[3] = {10, 5, 1};
static const char *const RKEY[3] = {"le_10", "le_5", "le_1"};

static int first_rank_le(const int *rank, int L1, int k) {
    for (int L = 0; L < L1; L++)
        if (rank[L] >= 1 && rank[L] <= k) return L;
    return -1;
}

static int first_kl_le(const double *kl, int L1, double bits) {
    for (int L = 0; L < L1; L++)
        if (kl[L] <= bits) return L; // NaN never passes
    return -1;
}

// A grid label as stored (a float32 0.92 is 0.9200000166893005) compared with a grid boundary.
static int frac_le(double f, double b) { return f <= b + 1e-6; }
static int frac_ge(double f, double b) { return f >= b - 1e-6; }
static double grid_label(double f) { return py_round(f, 6); }

void ex_tuned_in_from_run(const ExRun *run, ExTunedPass *tp, ExTunedIn *in) {
    memset(in, 0, sizeof *in);
    in->present = run->has_tuned;
    in->artifact_path = run->tuned_artifact_path;
    in->passes = tp;
    for (int i = 0; i < run->n_passes; i++) {
        const ExPass *p = &run->passes[i];
        ExTunedPass *t = &tp[i];
        memset(t, 0, sizeof *t);
        t->next = p->tuned;
        t->kl_rot_only_bits = p->tuned.kl_rot_only_bits;
        t->kl_temp_only_bits = p->tuned.kl_temp_only_bits;
        t->answer_rank_rot_only = p->tuned.answer_rank_rot_only;
        t->answer_rank_temp_only = p->tuned.answer_rank_temp_only;
        t->teacher_entropy_bits = p->tuned_teacher_entropy_bits;
        t->kl_bits_tuned_final = p->tuned_kl_bits_final;
        t->tau_star_modelcal = p->tuned_tau_star_modelcal;
        t->kl_bits_tuned_final_after_tau_star = p->tuned_kl_bits_final_after_tau_star;
        const ExTunedPositions *q = &p->tuned_pos;
        t->P = q->pos_frac ? q->P : 0;
        t->pos_frac = q->pos_frac;
        t->pos_index = q->pos_index;
        t->kl_norm_bits = q->kl_norm_bits;
        t->kl_tuned_bits = q->kl_tuned_bits;
        t->entropy_norm_bits = q->entropy_norm_bits;
        t->entropy_tuned_bits = q->entropy_tuned_bits;
        t->answer_rank_norm = q->answer_rank_norm;
        t->answer_rank_tuned = q->answer_rank_tuned;
    }
}

int ex_tuned_audit_pass(const LwRunConfig *c, const ExRun *run, const ExTunedIn *in) {
    int found = -1;
    if (!in || !in->present) return -1;
    for (int i = 0; i < run->n_passes; i++) {
        const ExPass *p = &run->passes[i];
        const ExTunedPass *t = &in->passes[i];
        if (strcmp(p->prompt_id, "pos") || strcmp(p->variant, "orig")) continue;
        if (!t->next.present || !t->kl_rot_only_bits || !t->kl_temp_only_bits) continue;
        if (!c->quirk_tuned_audit_last_fact) {
            if (p->fact_index == 0) return i;
            if (found < 0) found = i;
            continue;
        }
        found = i;
    }
    return found;
}

int ex_tuned_calibration_only(double rot_p50, double temp_p50, double tuned_p50) {
    return rot_p50 < 0.2 && temp_p50 >= 0.8 * tuned_p50; // NaN: false
}

const char *ex_tuned_hint(int calib_only, double tuned_p50) {
    if (calib_only) return "tuned_for_calibration_only";
    return tuned_p50 > 0.2 ? "tuned" : "norm";
}

int ex_tuned_prefer(double rot_p50, int fr5_norm, int fr5_tuned, int n) {
    if (rot_p50 >= 0.2) return 1;
    if (fr5_norm < 0 || fr5_tuned < 0) return 0;
    int d = fr5_norm - fr5_tuned;
    return d >= 2 || d >= lw_round_half_even(0.05 * n);
}

double ex_tuned_ppl_delta(double mean_loss_tuned, double mean_loss_base) {
    double b = exp(mean_loss_base);
    return (exp(mean_loss_tuned) - b) / b;
}

void ex_tuned_pairwise(const ExRun *run, const ExPass *p, const ExTunedPass *tp, int L, double *j10, double *j50,
                       double *sp) {
    *j10 = *j50 = *sp = NAN;
    const ExNext *a = &p->norm, *b = &tp->next;
    if (!b->present || L < 1 || L > run->n_layers) return;
    const int *ia = a->top_ids + (size_t)L * a->K, *ib = b->top_ids + (size_t)L * b->K;
    *j10 = ex_jaccard(ia, a->K < 10 ? a->K : 10, ib, b->K < 10 ? b->K : 10);
    int ka = a->K < 50 ? a->K : 50, kb = b->K < 50 ? b->K : 50;
    *j50 = ex_jaccard(ia, ka, ib, kb);
    if (!b->ranks_of_norm_top50) return;
    double xs[50], ys[50];
    for (int i = 0; i < ka; i++) {
        xs[i] = i + 1;
        int r = b->ranks_of_norm_top50[(size_t)L * 50 + i];
        ys[i] = r < 0 ? (double)run->vocab : r;
    }
    *sp = ex_pearson(xs, ys, ka);
}

// P_final[a] at NEXT: the value the run stored (final_p_answer: the head's full softmax, soft-cap
// included). Files written before it have none; then the head's stored top-k, else the norm lens
// at L = n, which is the head only without a final soft-cap (*fallback set: the caller says so).
static double p_final_answer(const ExRun *run, const ExPass *p, int *fallback) {
    if (p->first_id < 0) return NAN;
    if (p->has_final_p_answer) return p->final_p_answer;
    *fallback = 1;
    const int *ids = p->final_topk_ids + (size_t)(p->T - 1) * p->final_k;
    for (int i = 0; i < p->final_k; i++)
        if (ids[i] == p->first_id) return p->final_topk_probs[(size_t)(p->T - 1) * p->final_k + i];
    return p->norm.p_answer[run->n_layers];
}

static int find_pass(const ExRun *run, const char *prompt_id, const char *variant, int fact_index) {
    for (int i = 0; i < run->n_passes; i++) {
        const ExPass *p = &run->passes[i];
        if (!strcmp(p->prompt_id, prompt_id) && !strcmp(p->variant, variant) && (fact_index < 0 || p->fact_index == fact_index))
            return i;
    }
    return -1;
}

void ex_tuned_derive(const LwRunConfig *c, const ExRun *run, const ExTunedIn *in, const ExCopyCols *cc,
                     const ExSummary *norm_sums, ExTunedD *d) {
    memset(d, 0, sizeof *d);
    d->in = in;
    d->n = (int)run->n_layers;
    d->L1 = d->n + 1;
    d->n_passes = run->n_passes;
    d->audit = -1;
    d->L_semantic_norm = norm_sums[0].L_semantic;
    d->L_semantic_tuned = -1;
    d->rank1_frac = NAN;
    d->present = in && in->present && run->n_passes > 0;
    if (!d->present) return;
    int n = d->n, L1 = d->L1;

    // §19.3 per-pass summaries: the §13 summarizer over the tuned rows (row 0 holds no values)
    d->rows = xcalloc(run->n_passes, sizeof(ExRows));
    d->sums = xcalloc(run->n_passes, sizeof(ExSummary));
    for (int i = 0; i < run->n_passes; i++) {
        const ExTunedPass *t = &in->passes[i];
        ExSummary *s = &d->sums[i];
        if (!t->next.present) {
            memset(s, 0xff, sizeof *s); // every layer -1 (null)
            s->checked = NULL;
            s->n_kl = s->n_rank = s->n_soft_k = s->n_sweep = s->n_cos = s->n_centers = s->n_checked = 0;
            continue;
        }
        ex_rows_build(c, run, &run->passes[i], &t->next, NULL, cc, &d->rows[i]);
        d->rows[i].topk_prompt_mass[0] = NAN; // no top-k list at L = 0: not a decay layer
        ex_summary_build(c, run, &run->passes[i], &t->next, &d->rows[i], cc, s);
        s->radius = norm_sums[i].radius;
        if (c->quirk_gap_milestones_null) s->L_top2_ok = s->L_strong = s->L_strong_run2 = s->gap_ge_05 = s->gap_ge_10 = -1;
        // the tuned sidecar's semantic_margin_ok column is empty (§24.13), so the reference
        // summarizer never finds a margin-ok layer
        if (c->quirk_sidecar_empty_columns) s->L_margin_ok = -1;
    }

    const ExPass *p0 = &run->passes[0];
    const ExTunedPass *t0 = &in->passes[0];
    d->primary = 0;
    if (t0->next.present) {
        for (int L = 1; L < L1 && d->L_semantic_tuned < 0; L++)
            if (t0->next.answer_rank[L] == 1) d->L_semantic_tuned = L;
    }

    // §19.3 summary.metrics (primary pass)
    for (int i = 0; i < 3; i++) {
        d->depth[i] = ex_depth_layer(n, FR[i]);
        d->fr_base[i] = first_rank_le(p0->norm.answer_rank, L1, RK[i]);
        d->fr_tuned[i] = t0->next.present ? first_rank_le(t0->next.answer_rank, L1, RK[i]) : -1;
        d->kl_base[i] = p0->norm.kl_to_final_bits[d->depth[i]];
        d->kl_tuned[i] = t0->next.present ? t0->next.kl_to_final_bits[d->depth[i]] : NAN;
    }
    d->fk_base = first_kl_le(p0->norm.kl_to_final_bits, L1, 1.0);
    d->fk_tuned = t0->next.present ? first_kl_le(t0->next.kl_to_final_bits, L1, 1.0) : -1;

    // §19.5 attribution (primary pass)
    for (int i = 0; i < 3; i++) {
        int L = d->depth[i];
        d->a_tuned[i] = d->kl_base[i] - d->kl_tuned[i];
        d->a_temp[i] = p0->norm.kl_to_final_bits_norm_temp ? d->kl_base[i] - p0->norm.kl_to_final_bits_norm_temp[L] : NAN;
        d->a_rot[i] = d->a_tuned[i] - d->a_temp[i];
    }
    // first_rank_le_5 of each lens
    d->prefer_tuned = ex_tuned_prefer(d->a_rot[1], d->fr_base[1], d->fr_tuned[1], n);

    // §19.4 audit
    d->audit = ex_tuned_audit_pass(c, run, in);
    for (int i = 0; i < 3; i++) d->rot_p[i] = d->temp_p[i] = NAN;
    d->inter_p50 = d->tuned_p50 = d->pos_in = d->pos_ood = d->pos_gap = NAN;
    if (d->audit >= 0) {
        const ExPass *pa = &run->passes[d->audit];
        const ExTunedPass *ta = &in->passes[d->audit];
        double *dr = xmalloc(n * sizeof(double)), *dt = xmalloc(n * sizeof(double));
        double *di = xmalloc(n * sizeof(double)), *dtu = xmalloc(n * sizeof(double));
        for (int L = 1; L <= n; L++) {
            double kb = pa->norm.kl_to_final_bits[L];
            dtu[L - 1] = kb - ta->next.kl_to_final_bits[L];
            dr[L - 1] = kb - ta->kl_rot_only_bits[L];
            dt[L - 1] = kb - ta->kl_temp_only_bits[L];
            di[L - 1] = dtu[L - 1] - (dr[L - 1] + dt[L - 1]);
        }
        for (int i = 0; i < 3; i++) {
            d->rot_p[i] = ex_percentile(dr, n, FR[i]);
            d->temp_p[i] = ex_percentile(dt, n, FR[i]);
        }
        d->inter_p50 = ex_percentile(di, n, 0.5);
        d->tuned_p50 = ex_percentile(dtu, n, 0.5);
        free(dr); free(dt); free(di); free(dtu);
        int P = ta->P;
        if (P > 0) {
            double *vin = xmalloc((size_t)n * P * sizeof(double)), *vood = xmalloc((size_t)n * P * sizeof(double));
            int nin = 0, nood = 0;
            for (int L = 1; L <= n; L++)
                for (int q = 0; q < P; q++) {
                    double f = ta->pos_frac[q], v = ta->kl_norm_bits[(size_t)L * P + q] - ta->kl_tuned_bits[(size_t)L * P + q];
                    if (frac_le(f, 0.92)) vin[nin++] = v;
                    if (frac_ge(f, 0.96)) vood[nood++] = v;
                }
            d->pos_in = ex_percentile(vin, nin, 0.5);
            d->pos_ood = ex_percentile(vood, nood, 0.5);
            d->pos_gap = d->pos_ood - d->pos_in;
            free(vin); free(vood);
            d->n_positions = P;
            int Ls = d->L_semantic_norm;
            if (Ls >= 1 && Ls <= n && ta->answer_rank_norm) {
                int ok = 0;
                for (int q = 0; q < P; q++) ok += ta->answer_rank_norm[(size_t)Ls * P + q] == 1;
                d->rank1_frac = (double)ok / P;
            }
        }
    }
    d->calib_only = ex_tuned_calibration_only(d->rot_p[1], d->temp_p[1], d->tuned_p50);
    d->hint = ex_tuned_hint(d->calib_only, d->tuned_p50);

    // §19.6 skip-layers sanity: (Germany orig, Berlin), (Germany no_filler, Berlin), (control, Paris)
    int sp[3] = {0, find_pass(run, "pos", "no_filler", p0->fact_index), find_pass(run, "ctl", "orig", -1)};
    d->n_skip = c->skip_layers_m.n < EX_MAX_MS ? c->skip_layers_m.n : EX_MAX_MS;
    double base = 0;
    int fallback = 0;
    for (int k = 0; k < 3; k++)
        base += sp[k] >= 0 ? -log(p_final_answer(run, &run->passes[sp[k]], &fallback) + 1e-12) : NAN;
    base /= 3;
    if (fallback)
        lw_warn("%s: no /prompts/<pass>/final_p_answer (a file written before lensweep stored it): "
                "skip_layers_sanity takes P_final[a] from the head's top-%d, else the norm lens at L = n%s; "
                "re-run `lensweep run` for the exact value",
                run->path, p0->final_k,
                run->final_softcap > 0 ? ", which ignores this model's final soft-cap (wrong when the answer is outside that top-k)" : "");
    d->regression_value = NAN;
    for (int i = 0; i < d->n_skip; i++) {
        long m = c->skip_layers_m.v[i];
        int L = (int)(c->quirk_skip_layers_block_index ? n - m + 1 : n - m);
        double lt = 0;
        for (int k = 0; k < 3; k++) {
            const ExTunedPass *t = sp[k] >= 0 ? &in->passes[sp[k]] : NULL;
            if (!t || !t->next.present || L < 1 || L > n) { lt = NAN; break; }
            lt += -log(t->next.p_answer[L] + 1e-12);
        }
        d->skip_m[i] = m;
        d->skip[i] = ex_tuned_ppl_delta(lt / 3, base);
        if (m == 2) d->regression_value = d->skip[i];
    }
    d->regression = d->regression_value > c->skip_layers_regression; // NaN: false
}

void ex_tuned_free(ExTunedD *d) {
    for (int i = 0; d->rows && i < d->n_passes; i++) {
        ex_rows_free(&d->rows[i]);
        ex_summary_free(&d->sums[i]);
    }
    free(d->rows);
    free(d->sums);
    memset(d, 0, sizeof *d);
}

int ex_tuned_pos_window_low(const ExTunedD *d) { return d->present && d->rank1_frac < 0.5; }

// ---------------------------------------------------------------------------- JSON

static void j_layer_delta(JsonW *j, const char *k, int a, int b) { // b − a, null if either is missing
    if (a < 0 || b < 0) jw_k_null(j, k);
    else jw_k_int(j, k, b - a);
}

// One entry of tuned_lens.summaries (§19.3): the primary-pass summary block with the tuned values
// (export/export_summary.h).
static void j_summary(const LwRunConfig *c, const ExRun *run, const ExTunedD *d, int i, JsonW *j) {
    const ExTunedPass *t = &d->in->passes[i];
    ExLensSummary ts = {.lens = "tuned", .p = &run->passes[i], .x = &t->next, .r = &d->rows[i], .s = &d->sums[i],
                        .teacher_entropy_bits = t->teacher_entropy_bits, .n = d->n, .has = t->next.present,
                        .first_layer = 1, .L_confirmed = -1};
    jw_obj(j);
    ex_summary_json(c, run, &ts, j);
    jw_end(j);
}

static void j_metrics(const ExTunedD *d, JsonW *j) {
    jw_obj(j);
    jw_key(j, "rank_milestones"); jw_obj(j);
    for (int s = 0; s < 3; s++) {
        jw_key(j, s == 0 ? "baseline" : s == 1 ? "tuned" : "delta"); jw_obj(j);
        for (int i = 0; i < 3; i++) {
            if (s == 0) jw_k_opt_int(j, RKEY[i], d->fr_base[i]);
            else if (s == 1) jw_k_opt_int(j, RKEY[i], d->fr_tuned[i]);
            else j_layer_delta(j, RKEY[i], d->fr_base[i], d->fr_tuned[i]);
        }
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "kl_bits_at_percentiles"); jw_obj(j);
    for (int s = 0; s < 3; s++) {
        jw_key(j, s == 0 ? "baseline" : s == 1 ? "tuned" : "delta"); jw_obj(j);
        for (int i = 0; i < 3; i++)
            jw_k_real(j, PKEY[i], s == 0 ? d->kl_base[i] : s == 1 ? d->kl_tuned[i] : d->kl_base[i] - d->kl_tuned[i]);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "first_kl_le_1.0"); jw_obj(j);
    jw_k_opt_int(j, "baseline", d->fk_base);
    jw_k_opt_int(j, "tuned", d->fk_tuned);
    j_layer_delta(j, "delta", d->fk_base, d->fk_tuned);
    jw_end(j);
    jw_end(j);
}

static void j_grid(const ExTunedD *d, JsonW *j) {
    jw_arr(j);
    if (d->present && d->audit >= 0) {
        const ExTunedPass *t = &d->in->passes[d->audit];
        for (int q = 0; q < t->P; q++) jw_real(j, grid_label(t->pos_frac[q]));
    }
    jw_end(j);
}

void ex_tuned_audit_json(const ExTunedD *d, JsonW *j) {
    jw_obj(j);
    if (!d->present) { jw_end(j); return; }
    const ExTunedPass *ta = d->audit >= 0 ? &d->in->passes[d->audit] : NULL;
    jw_key(j, "rotation_vs_temperature"); jw_obj(j);
    jw_k_real(j, "delta_kl_rot_p25", d->rot_p[0]);
    jw_k_real(j, "delta_kl_rot_p50", d->rot_p[1]);
    jw_k_real(j, "delta_kl_rot_p75", d->rot_p[2]);
    jw_k_real(j, "delta_kl_temp_p25", d->temp_p[0]);
    jw_k_real(j, "delta_kl_temp_p50", d->temp_p[1]);
    jw_k_real(j, "delta_kl_temp_p75", d->temp_p[2]);
    jw_k_real(j, "delta_kl_interaction_p50", d->inter_p50);
    jw_k_real(j, "delta_kl_tuned_p50", d->tuned_p50);
    jw_end(j);
    jw_key(j, "positional"); jw_obj(j);
    jw_key(j, "pos_grid"); j_grid(d, j);
    jw_k_real(j, "pos_in_dist_le_0.92", d->pos_in);
    jw_k_real(j, "pos_ood_ge_0.96", d->pos_ood);
    jw_k_real(j, "pos_ood_gap", d->pos_gap);
    jw_end(j);
    jw_key(j, "head_mismatch"); jw_obj(j);
    jw_k_real(j, "kl_bits_tuned_final", ta ? ta->kl_bits_tuned_final : NAN);
    jw_k_real(j, "kl_bits_tuned_final_after_tau_star", ta ? ta->kl_bits_tuned_final_after_tau_star : NAN);
    jw_k_real(j, "tau_star_modelcal", ta ? ta->tau_star_modelcal : NAN);
    jw_end(j);
    jw_k_bool(j, "tuned_is_calibration_only", d->calib_only);
    jw_k_str(j, "preferred_semantics_lens_hint", d->hint);
    jw_end(j);
}

static void j_attribution(const ExTunedD *d, JsonW *j) {
    jw_obj(j);
    jw_key(j, "percentiles"); jw_obj(j);
    for (int i = 0; i < 3; i++) {
        jw_key(j, PKEY[i]); jw_obj(j);
        jw_k_real(j, "\xce\x94KL_tuned", d->a_tuned[i]);
        jw_k_real(j, "\xce\x94KL_temp", d->a_temp[i]);
        jw_k_real(j, "\xce\x94KL_rot", d->a_rot[i]);
        jw_end(j);
    }
    jw_end(j);
    jw_k_bool(j, "prefer_tuned", d->prefer_tuned);
    jw_end(j);
}

// ---------------------------------------------------------------------------- provenance

static json_t *jget(json_t *o, const char *a, const char *b) {
    json_t *v = json_object_get(o, a);
    return b ? json_object_get(v, b) : v;
}
static void k_num(JsonW *j, const char *k, json_t *v) { // a JSON number as int or real; else null
    if (json_is_integer(v)) jw_k_int(j, k, (long)json_integer_value(v));
    else if (json_is_real(v)) jw_k_real(j, k, json_real_value(v));
    else jw_k_null(j, k);
}
static void k_bool(JsonW *j, const char *k, json_t *v) {
    if (json_is_boolean(v)) jw_k_bool(j, k, json_is_true(v)); else jw_k_null(j, k);
}
static void k_str(JsonW *j, const char *k, json_t *v) { jw_k_str(j, k, json_is_string(v) ? json_string_value(v) : NULL); }

static void j_optimizer(JsonW *j, json_t *tr) {
    jw_obj(j);
    jw_k_str(j, "type", "AdamW");
    k_num(j, "lr", json_object_get(tr, "lr"));
    json_t *b = json_object_get(tr, "betas");
    jw_key(j, "betas");
    if (json_is_array(b)) { jw_arr(j); for (size_t i = 0; i < json_array_size(b); i++) jw_real(j, json_number_value(json_array_get(b, i))); jw_end(j); }
    else jw_null(j);
    k_num(j, "weight_decay", json_object_get(tr, "weight_decay"));
    jw_end(j);
}

// The training position window of the fit as fractions of seq_len (the reference's [0.6, 0.95]).
static void j_pos_window(JsonW *j, json_t *tr) {
    json_t *w = json_object_get(tr, "position_window");
    double seq = json_number_value(json_object_get(tr, "seq_len"));
    if (json_array_size(w) == 2 && seq > 0) {
        jw_arr(j);
        jw_real(j, py_round(json_number_value(json_array_get(w, 0)) / seq, 2));
        jw_real(j, py_round(json_number_value(json_array_get(w, 1)) / seq, 2));
        jw_end(j);
    } else jw_null(j);
}

// `provenance` and `provenance_snapshot` of the top-level tuned_lens (OUTPUTS.md §11.3), from the
// artifact's provenance.json (docs/TUNED.md) mapped onto the reference's names; fields the
// artifact does not record are null. Both null when the artifact's provenance.json is unreadable.
static void j_provenance(const ExRun *run, const char *dir, JsonW *j) {
    char *path = xasprintf("%s/provenance.json", dir ? dir : "");
    json_t *pv = dir ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    if (!json_is_object(pv)) {
        jw_k_null(j, "provenance");
        jw_k_null(j, "provenance_snapshot");
        json_decref(pv);
        return;
    }
    json_t *tr = json_object_get(pv, "training"), *co = json_object_get(pv, "corpus");
    json_t *temps = json_object_get(pv, "temperatures");
    // tl_version: the fit's creation time as the reference writes it (20250927T1055Z)
    char ver[32] = "";
    const char *cr = json_string_value(json_object_get(pv, "created_utc"));
    if (cr && strlen(cr) >= 16) snprintf(ver, sizeof ver, "%.4s%.2s%.2sT%.2s%.2sZ", cr, cr + 5, cr + 8, cr + 11, cr + 14);
    double mb = json_number_value(json_object_get(tr, "micro_batch")), ga = json_number_value(json_object_get(tr, "grad_accum"));
    double seq = json_number_value(json_object_get(tr, "seq_len")), seen = json_number_value(json_object_get(tr, "tokens_seen"));
    double tps = json_number_value(json_object_get(tr, "tokens_per_step"));
    double steps = json_number_value(json_object_get(tr, "total_steps"));
    // final loss: mean over the fitted translators
    json_t *fl = json_object_get(pv, "final_loss");
    double fsum = 0;
    int fn = 0;
    for (size_t i = 0; i < json_array_size(fl); i++)
        if (json_is_number(json_array_get(fl, i))) { fsum += json_number_value(json_array_get(fl, i)); fn++; }

    jw_key(j, "provenance"); jw_obj(j);
    jw_k_str(j, "model_id", run->model_id);
    jw_k_str(j, "clean_model_name", run->model_name);
    jw_k_str(j, "tl_version", ver[0] ? ver : NULL);
    jw_k_null(j, "model_commit");
    jw_k_null(j, "tokenizer_commit");
    jw_key(j, "translator"); jw_obj(j);
    k_num(j, "num_layers", json_object_get(pv, "n_layers"));
    k_num(j, "d_model", json_object_get(pv, "d_model"));
    k_num(j, "rank", json_object_get(pv, "rank"));
    k_bool(j, "final_identity", json_object_get(pv, "final_identity"));
    k_bool(j, "has_preconditioner", json_object_get(pv, "has_preconditioner"));
    jw_k_bool(j, "use_temperature", 1);
    k_num(j, "temperature_eps", json_object_get(pv, "temperature_eps"));
    jw_key(j, "temperatures"); jw_arr(j);
    for (size_t i = 0; i < json_array_size(temps); i++) jw_real(j, json_number_value(json_array_get(temps, i)));
    jw_end(j);
    jw_end(j);
    jw_key(j, "training"); jw_obj(j);
    k_num(j, "seed", json_object_get(tr, "seed"));
    k_num(j, "total_steps", json_object_get(tr, "total_steps"));
    jw_k_int(j, "warmup_steps", 0); // cosine schedule without warmup (§19.2: none actually applied)
    k_num(j, "micro_batch", json_object_get(tr, "micro_batch"));
    k_num(j, "grad_accum", json_object_get(tr, "grad_accum"));
    if (mb > 0 && ga > 0) jw_k_int(j, "effective_batch", (long)(mb * ga)); else jw_k_null(j, "effective_batch");
    k_num(j, "tokens_per_step", json_object_get(tr, "tokens_per_step"));
    k_num(j, "layers_sampled_per_step", json_object_get(tr, "k_layers"));
    jw_k_bool(j, "use_temperature", 1);
    k_num(j, "temperature_eps", json_object_get(pv, "temperature_eps"));
    jw_key(j, "dataset"); jw_obj(j);
    k_str(j, "repo_id", json_object_get(co, "path"));
    k_str(j, "name", json_object_get(co, "format"));
    jw_k_null(j, "split");
    jw_k_null(j, "revision");
    k_num(j, "seq_len", json_object_get(tr, "seq_len"));
    k_num(j, "positions_per_seq", json_object_get(tr, "p_pos"));
    jw_key(j, "position_fraction_range"); j_pos_window(j, tr);
    k_str(j, "content_hash", json_object_get(co, "sha256"));
    if (seq > 0 && json_is_number(json_object_get(tr, "tokens_seen"))) jw_k_int(j, "samples_streamed", (long)(seen / seq));
    else jw_k_null(j, "samples_streamed");
    jw_end(j);
    jw_key(j, "optimizer"); j_optimizer(j, tr);
    jw_key(j, "regularization"); jw_obj(j);
    k_num(j, "l2", jget(tr, "regularization", "l2"));
    k_num(j, "smooth", jget(tr, "regularization", "smooth"));
    jw_end(j);
    k_str(j, "device", json_object_get(tr, "device"));
    k_str(j, "dtype", json_object_get(tr, "dtype"));
    jw_k_real(j, "final_loss", fn ? fsum / fn : NAN);
    jw_end(j);
    jw_end(j);

    jw_key(j, "provenance_snapshot"); jw_obj(j);
    k_str(j, "dataset_id", json_object_get(co, "path"));
    jw_k_null(j, "dataset_revision");
    k_str(j, "content_hash", json_object_get(co, "sha256"));
    jw_key(j, "train_pos_window"); j_pos_window(j, tr);
    k_num(j, "sampled_layers_count", json_object_get(tr, "k_layers"));
    k_num(j, "sampled_positions_count", json_object_get(tr, "p_pos"));
    k_num(j, "rank", json_object_get(pv, "rank"));
    jw_key(j, "preconditioner"); jw_obj(j);
    jw_k_bool(j, "whiten", 0);
    jw_k_bool(j, "orthogonal_rotation", 0);
    jw_end(j);
    int nt = (int)json_array_size(temps);
    double *tv = xmalloc((nt ? nt : 1) * sizeof(double)), mn = NAN, mx = NAN;
    for (int i = 0; i < nt; i++) {
        tv[i] = json_number_value(json_array_get(temps, i));
        if (isnan(mn) || tv[i] < mn) mn = tv[i];
        if (isnan(mx) || tv[i] > mx) mx = tv[i];
    }
    jw_key(j, "temperatures_stats"); jw_obj(j);
    jw_k_real(j, "min", mn);
    jw_k_real(j, "p25", ex_percentile(tv, nt, 0.25));
    jw_k_real(j, "p50", ex_percentile(tv, nt, 0.5));
    jw_k_real(j, "p75", ex_percentile(tv, nt, 0.75));
    jw_k_real(j, "max", mx);
    jw_end(j);
    free(tv);
    k_bool(j, "final_layer_identity", json_object_get(pv, "final_identity"));
    jw_k_real(j, "fit_total_tokens_est", tps > 0 && steps >= 0 ? tps * steps : NAN);
    jw_key(j, "optimizer"); j_optimizer(j, tr);
    jw_k_null(j, "schedule");
    jw_end(j);
    json_decref(pv);
}

void ex_tuned_lens_json(const LwRunConfig *c, const ExRun *run, const ExTunedD *d, int top, JsonW *j) {
    jw_obj(j);
    if (!d->present) {
        char *tpath = c->tuned_lens_dir && c->tuned_lens_dir[0] ? xasprintf("%s/%s", c->tuned_lens_dir, run->model_name) : NULL;
        jw_k_str(j, "status", "missing");
        jw_k_str(j, "mode", "auto");
        jw_k_str(j, "path", tpath);
        free(tpath);
        jw_end(j);
        return;
    }
    jw_k_str(j, "status", "loaded");
    if (!top) jw_k_str(j, "mode", "auto");
    jw_k_str(j, "path", d->in->artifact_path);
    jw_key(j, "summaries"); jw_arr(j);
    for (int i = 0; i < d->n_passes; i++) j_summary(c, run, d, i, j);
    jw_end(j);
    if (top) {
        j_provenance(run, d->in->artifact_path, j);
        jw_key(j, "summary"); jw_obj(j);
        jw_key(j, "metrics"); j_metrics(d, j);
        jw_end(j);
        jw_key(j, "audit_summary"); ex_tuned_audit_json(d, j);
        jw_key(j, "attribution"); j_attribution(d, j);
    }
    jw_end(j);
}

void ex_tuned_diag_json(const LwRunConfig *c, const ExTunedD *d, JsonW *j) {
    if (d->present) {
        const ExSummary *s = &d->sums[d->primary];
        const ExNext *x = &d->in->passes[d->primary].next;
        int Ls = s->L_surface, Lg = s->L_geom, Lt = s->L_topk_decay;
        jw_k_opt_int(j, "L_surface_to_meaning_tuned", Ls);
        jw_k_real(j, "answer_mass_at_L_surface_tuned", Ls >= 0 ? x->p_answer[Ls] : NAN);
        jw_k_real(j, "echo_mass_at_L_surface_tuned", Ls >= 0 ? x->echo_mass_prompt[Ls] : NAN);
        jw_k_opt_int(j, "L_geom_tuned", Lg);
        jw_k_real(j, "cos_to_answer_at_L_geom_tuned", Lg >= 0 ? x->cos_to_answer[Lg] : NAN);
        jw_k_real(j, "cos_to_prompt_max_at_L_geom_tuned", Lg >= 0 ? x->cos_to_prompt_max[Lg] : NAN);
        jw_k_opt_int(j, "L_topk_decay_tuned", Lt);
        jw_k_real(j, "topk_prompt_mass_at_L_tuned", Lt >= 0 ? d->rows[d->primary].topk_prompt_mass[Lt] : NAN);
        jw_k_real(j, "topk_prompt_tau_tuned", c->prompt_topk_tau);
        jw_k_real(j, "surface_delta_tuned", c->surface_delta);
        jw_k_real(j, "geom_gamma_tuned", c->geom_gamma);
        char key[48];
        jw_key(j, "skip_layers_sanity"); jw_obj(j);
        for (int i = 0; i < d->n_skip; i++) {
            snprintf(key, sizeof key, "m=%ld", d->skip_m[i]);
            jw_k_real(j, key, d->skip[i]);
        }
        jw_end(j);
        if (d->regression) jw_k_real(j, "tuned_lens_skip_warning", d->regression_value);
    }
    jw_k_bool(j, "tuned_lens_regression", d->present && d->regression);
}

void ex_tuned_position_window_json(const ExTunedD *d, int L_semantic_norm, JsonW *j) {
    jw_obj(j);
    jw_key(j, "grid"); j_grid(d, j);
    jw_k_opt_int(j, "L_semantic_norm", L_semantic_norm);
    jw_k_real(j, "rank1_frac", d->present ? d->rank1_frac : NAN);
    jw_k_int(j, "n_positions", d->present ? d->n_positions : 0);
    jw_k_null(j, "rank1_frac_strong_run2"); // strong_run2 never exists (§13 quirk); no positional rule for it
    jw_end(j);
}

void ex_lens_pair_json(JsonW *j, const int *layers, const double *j10, const double *j50, const double *sp, int n) {
    jw_obj(j);
    jw_key(j, "at_targets"); jw_arr(j);
    for (int i = 0; i < n; i++) {
        jw_obj(j);
        jw_k_int(j, "layer", layers[i]);
        jw_k_real(j, "jaccard@10", j10[i]);
        jw_k_real(j, "jaccard@50", j50[i]);
        jw_k_real(j, "spearman_top50", sp[i]);
        jw_end(j);
    }
    jw_end(j);
    jw_key(j, "p50"); jw_obj(j);
    jw_k_real(j, "jaccard@10", ex_percentile(j10, n, 0.5));
    jw_k_real(j, "jaccard@50", ex_percentile(j50, n, 0.5));
    jw_k_real(j, "spearman_top50", ex_percentile(sp, n, 0.5));
    jw_end(j);
    jw_end(j);
}

void ex_tuned_consistency_json(const ExRun *run, const ExTunedD *d, const int *layers, int n_targets, JsonW *j) {
    size_t m = n_targets ? n_targets : 1;
    double *v10 = xmalloc(m * sizeof(double)), *v50 = xmalloc(m * sizeof(double)), *vsp = xmalloc(m * sizeof(double));
    for (int i = 0; i < n_targets; i++)
        ex_tuned_pairwise(run, &run->passes[d->primary], &d->in->passes[d->primary], layers[i], &v10[i], &v50[i], &vsp[i]);
    ex_lens_pair_json(j, layers, v10, v50, vsp, n_targets);
    free(v10); free(v50); free(vsp);
}

// ---------------------------------------------------------------------------- CSV

static void csv_rank(CsvOut *o, int r) { if (r < 0) csv_field_empty(o); else csv_field_int(o, r); }
static void csv_rank_shift(CsvOut *o, int a, int b) { if (a < 0 || b < 0) csv_field_empty(o); else csv_field_int(o, a - b); }

void ex_tuned_write_variants(const ExRun *run, const ExTunedD *d, FILE *f) {
    fputs("layer,kl_bits_baseline,kl_bits_tuned,kl_bits_rot_only,kl_bits_temp_only,delta_kl_bits_tuned,"
          "delta_kl_bits_rot_only,delta_kl_bits_temp_only,delta_kl_bits_interaction,answer_rank_baseline,"
          "answer_rank_tuned,answer_rank_rot_only,answer_rank_temp_only,rank_shift_tuned,rank_shift_rot_only,"
          "rank_shift_temp_only,entropy_bits_baseline,entropy_bits_tuned\n", f);
    if (!d->present || d->audit < 0) return;
    const ExPass *p = &run->passes[d->audit];
    const ExTunedPass *t = &d->in->passes[d->audit];
    CsvOut o = {f, 0, 0};
    for (int L = 1; L <= d->n; L++) {
        double kb = p->norm.kl_to_final_bits[L], kt = t->next.kl_to_final_bits[L];
        double kr = t->kl_rot_only_bits[L], kp = t->kl_temp_only_bits[L];
        double dt = kb - kt, dr = kb - kr, dp = kb - kp;
        int rb = p->norm.answer_rank[L], rt = t->next.answer_rank[L];
        int rr = t->answer_rank_rot_only ? t->answer_rank_rot_only[L] : -1;
        int rp = t->answer_rank_temp_only ? t->answer_rank_temp_only[L] : -1;
        csv_field_int(&o, L);
        csv_field_float(&o, kb);
        csv_field_float(&o, kt);
        csv_field_float(&o, kr);
        csv_field_float(&o, kp);
        csv_field_float(&o, dt);
        csv_field_float(&o, dr);
        csv_field_float(&o, dp);
        csv_field_float(&o, dt - (dr + dp));
        csv_rank(&o, rb);
        csv_rank(&o, rt);
        csv_rank(&o, rr);
        csv_rank(&o, rp);
        csv_rank_shift(&o, rb, rt);
        csv_rank_shift(&o, rb, rr);
        csv_rank_shift(&o, rb, rp);
        csv_field_float(&o, p->norm.entropy_bits[L]);
        csv_field_float(&o, t->next.entropy_bits[L]);
        csv_end_row(&o);
    }
}

void ex_tuned_write_positions(const ExRun *run, const ExTunedD *d, FILE *f) {
    (void)run;
    fputs("pos_frac,pos_index,layer,kl_bits_baseline,kl_bits_tuned,delta_kl_bits_tuned,answer_rank_baseline,"
          "answer_rank_tuned,rank_shift_tuned,entropy_bits_baseline,entropy_bits_tuned\n", f);
    if (!d->present || d->audit < 0) return;
    const ExTunedPass *t = &d->in->passes[d->audit];
    CsvOut o = {f, 0, 0};
    int P = t->P;
    for (int L = 1; L <= d->n; L++)
        for (int q = 0; q < P; q++) {
            size_t at = (size_t)L * P + q;
            double kb = t->kl_norm_bits[at], kt = t->kl_tuned_bits[at];
            int rb = t->answer_rank_norm ? t->answer_rank_norm[at] : -1;
            int rt = t->answer_rank_tuned ? t->answer_rank_tuned[at] : -1;
            csv_field_float(&o, grid_label(t->pos_frac[q]));
            csv_field_int(&o, t->pos_index[q]);
            csv_field_int(&o, L);
            csv_field_float(&o, kb);
            csv_field_float(&o, kt);
            csv_field_float(&o, kb - kt);
            csv_rank(&o, rb);
            csv_rank(&o, rt);
            csv_rank_shift(&o, rb, rt);
            csv_field_float(&o, t->entropy_norm_bits[at]);
            csv_field_float(&o, t->entropy_tuned_bits[at]);
            csv_end_row(&o);
        }
}
