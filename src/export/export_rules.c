// export_rules — see export_rules.h. Section numbers refer to METRICS.md.
#include "export/export_rules.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/pyfmt.h"
#include "tok/tok.h"
#include "util/utf8.h"

// ---------------------------------------------------------------------------- small rules

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double ex_percentile(const double *v, int n, double p) {
    double *s = xmalloc((n ? n : 1) * sizeof(double));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) s[m++] = v[i];
    double out = NAN;
    if (m == 1) out = s[0];
    else if (m > 1) {
        qsort(s, m, sizeof(double), cmp_double);
        double r = p * (m - 1);
        int lo = (int)floor(r), hi = (int)ceil(r);
        double f = r - lo;
        // numpy's linear method: lo + (hi - lo) * f
        out = s[lo] + (s[hi] - s[lo]) * f;
        if (lo == hi) out = s[lo];
    }
    free(s);
    return out;
}

int ex_depth_layer(int n, double frac) {
    long l = lw_round_half_even(n * frac);
    if (l < 0) l = 0;
    if (l > n) l = n;
    return (int)l;
}

int ex_token_wsp(const ExRun *run, int id) {
    if (id < 0 || id >= run->V) return 1;
    return tok_wsp_token(run->decoded[id], run->pieces ? run->pieces[id] : NULL);
}

int ex_contig_subseq(const int *win, int k, const int *seq, int n) {
    if (k <= 0) return 0;
    for (int i = 0; i + k <= n; i++) {
        int ok = 1;
        for (int j = 0; j < k && ok; j++) ok = seq[i + j] == win[j];
        if (ok) return 1;
    }
    return 0;
}

static int in_list(int x, const int *v, int n) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

double ex_jaccard(const int *a, int na, const int *b, int nb) {
    int inter = 0, ua = 0, ub = 0;
    for (int i = 0; i < na; i++) {
        if (a[i] < 0 || in_list(a[i], a, i)) continue;
        ua++;
        if (in_list(a[i], b, nb)) inter++;
    }
    for (int i = 0; i < nb; i++)
        if (b[i] >= 0 && !in_list(b[i], b, i)) ub++;
    int uni = ua + ub - inter;
    return uni ? (double)inter / uni : NAN;
}

double ex_pearson(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) { mx += x[i]; my += y[i]; }
    mx /= n; my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (sxx <= 0 || syy <= 0) return NAN;
    return sxy / sqrt(sxx * syy);
}

int ex_copy_strict(const int *win, int k, const int *ctx, int nctx, double p1, double p2, double tau,
                   double margin, int top1_is_wsp) {
    if (!ex_contig_subseq(win, k, ctx, nctx)) return 0;
    if (!(p1 > tau) || !((p1 - p2) > margin)) return 0;
    return !top1_is_wsp;
}

int ex_copy_soft(const int *hist, int len, int k, const int *ctx, int nctx, double p1, double tau) {
    if (len < k) return 0;
    return ex_contig_subseq(hist + len - k, k, ctx, nctx) && p1 > tau;
}

double ex_artifact_score(const LwRunConfig *c, double pct_kl_ge_1, int n_norm_only, double max_kl) {
    const double *w = c->artefact_weights.v;
    double mk = isnan(max_kl) ? 0 : max_kl / c->artefact_max_kl_scale;
    if (mk > 1) mk = 1;
    return w[0] * (isnan(pct_kl_ge_1) ? 0 : pct_kl_ge_1) + w[1] * (n_norm_only > 0 ? 1.0 : 0.0) + w[2] * mk;
}

double ex_artifact_score_v2(const LwRunConfig *c, double score, double js_p50, double l1_p50) {
    (void)c;
    double js = isnan(js_p50) ? 0 : fmax(0, js_p50) / 0.1;
    double l1 = isnan(l1_p50) ? 0 : fmax(0, l1_p50) / 0.5;
    double v = score + 0.1 * fmin(1, js) + 0.05 * fmin(1, l1);
    return v < 0 ? 0 : v > 1 ? 1 : v;
}

const char *ex_artifact_tier(const LwRunConfig *c, double score) {
    if (score < c->artefact_tier_low) return "low";
    if (score <= c->artefact_tier_medium) return "medium";
    return "high";
}

int ex_last_layer_warn(const LwRunConfig *c, double kl_final, double kl_after_temp) {
    return kl_final >= c->last_layer_kl_gate_bits || (kl_final - kl_after_temp) >= c->last_layer_kl_gate_bits;
}

// ---------------------------------------------------------------------------- copy columns

void ex_copy_cols(const LwRunConfig *c, ExCopyCols *cc) {
    memset(cc, 0, sizeof *cc);
    char lbl[32];
    cc->strict_tau[cc->n_strict++] = c->copy_threshold;
    for (int i = 0; i < c->copy_strict_sweep.n && cc->n_strict < EX_MAX_COPY_COLS / 2; i++)
        if (c->copy_strict_sweep.v[i] != c->copy_threshold) cc->strict_tau[cc->n_strict++] = c->copy_strict_sweep.v[i];
    for (int t = -1; t < c->copy_soft_extra_thresholds.n; t++)
        for (int i = 0; i < c->copy_soft_windows.n && cc->n_strict + cc->n_soft < EX_MAX_COPY_COLS; i++) {
            cc->soft_tau[cc->n_soft] = t < 0 ? c->copy_soft_threshold : c->copy_soft_extra_thresholds.v[t];
            cc->soft_k[cc->n_soft++] = (int)c->copy_soft_windows.v[i];
        }
    cc->n = cc->n_strict + cc->n_soft;
    for (int i = 0; i < cc->n_strict; i++)
        snprintf(cc->names[i], sizeof cc->names[i], "copy_strict@%s", py_thresh_label(cc->strict_tau[i], lbl));
    for (int i = 0; i < cc->n_soft; i++)
        snprintf(cc->names[cc->n_strict + i], sizeof cc->names[0], "copy_soft_k%d@%s", cc->soft_k[i],
                 py_thresh_label(cc->soft_tau[i], lbl));
}

// ---------------------------------------------------------------------------- rows

#define NEWD(n) ((double *)xmalloc((n) * sizeof(double)))
#define NEWI(n) ((int *)xcalloc((n), sizeof(int)))

static int trimmed_eq(const char *tok, const char *ans) {
    // Python s.strip() == answer (ASCII/Unicode whitespace at both ends)
    const unsigned char *p = (const unsigned char *)tok;
    const unsigned char *start = p, *end = p;
    int seen = 0;
    while (*p) {
        const unsigned char *q = p;
        unsigned c = utf8_next(&p);
        if (!utf8_py_isspace(c)) { if (!seen) start = q; seen = 1; end = p; }
    }
    if (!seen) return ans[0] == 0;
    size_t n = (size_t)(end - start);
    return strlen(ans) == n && !memcmp(start, ans, n);
}

void ex_rows_build(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExNext *x, const ExNext *w_in,
                   const ExCopyCols *cc, ExRows *r) {
    memset(r, 0, sizeof *r);
    int L1 = (int)run->n_layers + 1;
    r->L1 = L1;
    static const ExNext absent;
    const ExNext *w = w_in ? w_in : &absent;
    int K = x->K;
    r->top1 = NEWI(L1); r->top1_raw = NEWI(L1);
    r->p_top1 = NEWD(L1); r->p_top5 = NEWD(L1); r->rest_mass = NEWD(L1); r->amu = NEWD(L1);
    r->control_margin = NEWD(L1); r->answer_logit_gap = NEWD(L1); r->answer_vs_top1_gap = NEWD(L1);
    r->answer_minus_echo = NEWD(L1); r->mass_ratio = NEWD(L1); r->topk_prompt_mass = NEWD(L1);
    r->control_top2_gap = NEWD(L1);
    r->copy = NEWI((size_t)L1 * (cc->n ? cc->n : 1));
    int nsw = c->copy_strict_sweep.n;
    r->copy_sweep = NEWI((size_t)L1 * (nsw ? nsw : 1));
    r->entropy_collapse = NEWI(L1); r->is_answer = NEWI(L1); r->margin_ok = NEWI(L1);
    r->geom_crossover = NEWI(L1); r->norm_only_semantics = NEWI(L1);
    r->jac_raw_norm = NEWD(L1); r->jac_consec = NEWD(L1); r->jac10_raw_norm = NEWD(L1);
    r->spearman_raw_norm = NEWD(L1);

    // prompt_vocab_ids (§7): unique ctx ids, first occurrence, not WSP
    r->prompt_vocab = NEWI(p->Tc + 1);
    for (int i = 0; i < p->Tc; i++) {
        int id = p->ctx_ids[i];
        if (in_list(id, r->prompt_vocab, r->n_prompt_vocab) || ex_token_wsp(run, id)) continue;
        r->prompt_vocab[r->n_prompt_vocab++] = id;
    }
    double inv_v = 1.0 / (double)run->vocab;
    int hist[3] = {-1, -1, -1}, hlen = 0; // rolling top-1 window (§6.1), last 3
    int a = p->first_id;
    int kwin = (int)c->copy_window_k;
    int kj = K < 50 ? K : 50;
    for (int L = 0; L < L1; L++) {
        const int *ids = x->top_ids + (size_t)L * K;
        const double *pr = x->top_probs + (size_t)L * K, *lg = x->top_logits + (size_t)L * K;
        int t1 = ids[0];
        r->top1[L] = t1;
        r->top1_raw[L] = w->present ? w->top_ids[(size_t)L * w->K] : -1;
        r->p_top1[L] = pr[0];
        // fp32 sum in the order torch's vectorized CPU reduction uses for 5 values (4 lanes, the
        // 5th folded into lane 0, then the lanes in order): ((p1 + p5) + p2) + p3) + p4 — this
        // order reproduces every p_top5 cell of the reference CSVs (6193 rows, all sidecars)
        float s5;
        if (K >= 5) {
            s5 = (float)pr[0] + (float)pr[4];
            s5 += (float)pr[1];
            s5 += (float)pr[2];
            s5 += (float)pr[3];
        } else {
            s5 = 0;
            for (int i = 0; i < K; i++) s5 += (float)pr[i];
        }
        r->p_top5[L] = s5;
        double sd;
        int np = (int)(c->topk_pure < K ? c->topk_pure : K);
        sd = 0;
        for (int i = 0; i < np; i++) sd += pr[i];
        r->rest_mass[L] = fmax(0.0, 1.0 - sd);
        double pa = x->p_answer[L];
        r->amu[L] = a >= 0 ? pa - inv_v : NAN;
        int rank = x->answer_rank[L];
        if (a >= 0) r->is_answer[L] = rank == 1;
        else r->is_answer[L] = t1 >= 0 && trimmed_eq(run->decoded[t1], p->answer);
        r->margin_ok[L] = rank == 1 && a >= 0 && r->amu[L] >= c->semantic_delta_abs;
        r->entropy_collapse[L] = x->entropy_bits[L] <= c->entropy_collapse_bits;
        r->control_margin[L] = p->contrast_id >= 0 ? pa - x->p_contrast[L] : NAN;
        r->answer_logit_gap[L] = (a >= 0 && rank == 1 && t1 == a && K > 1) ? x->answer_logit[L] - lg[1] : NAN;
        r->answer_vs_top1_gap[L] = (a >= 0 && rank > 1) ? x->answer_logit[L] - lg[0] : NAN;
        r->control_top2_gap[L] = (p->contrast_id >= 0 && t1 == a && a >= 0 && K > 1) ? lg[0] - lg[1] : NAN;
        double echo = x->echo_mass_prompt[L];
        r->answer_minus_echo[L] = pa - echo;
        r->mass_ratio[L] = pa / (echo + 1e-9);
        double tpm = 0;
        int kp = (int)(c->prompt_topk < K ? c->prompt_topk : K);
        for (int i = 0; i < kp; i++)
            if (in_list(ids[i], r->prompt_vocab, r->n_prompt_vocab)) tpm += pr[i];
        r->topk_prompt_mass[L] = tpm;
        r->geom_crossover[L] = x->cos_to_answer[L] >= x->cos_to_prompt_max[L] + c->geom_gamma;
        // copy (§6)
        // a lens without layer 0 (tuned: row 0 missing) starts its window at layer 1 (OUTPUTS.md §4.1)
        if (L > 0 || t1 >= 0) {
            if (hlen == 3) { hist[0] = hist[1]; hist[1] = hist[2]; hlen = 2; }
            hist[hlen++] = t1;
        }
        int kk = kwin < hlen ? kwin : hlen;
        int wsp = ex_token_wsp(run, t1);
        double p1 = pr[0], p2 = K > 1 ? pr[1] : 0;
        for (int i = 0; i < cc->n_strict; i++)
            r->copy[(size_t)L * cc->n + i] =
                ex_copy_strict(hist + hlen - kk, kk, p->ctx_ids, p->Tc, p1, p2, cc->strict_tau[i], c->copy_margin, wsp);
        for (int i = 0; i < cc->n_soft; i++)
            r->copy[(size_t)L * cc->n + cc->n_strict + i] =
                ex_copy_soft(hist, hlen, cc->soft_k[i], p->ctx_ids, p->Tc, p1, cc->soft_tau[i]);
        for (int i = 0; i < nsw; i++)
            r->copy_sweep[(size_t)L * nsw + i] = ex_copy_strict(hist + hlen - kk, kk, p->ctx_ids, p->Tc, p1, p2,
                                                                c->copy_strict_sweep.v[i], c->copy_margin, wsp);
        // raw vs norm (§8.3, §15)
        r->jac_consec[L] = L ? ex_jaccard(ids, kj, x->top_ids + (size_t)(L - 1) * K, kj) : NAN;
        if (!w->present) {
            r->jac_raw_norm[L] = r->jac10_raw_norm[L] = r->spearman_raw_norm[L] = NAN;
            continue;
        }
        const int *rids = w->top_ids + (size_t)L * w->K;
        int kr = w->K < kj ? w->K : kj;
        r->jac_raw_norm[L] = ex_jaccard(ids, kj, rids, kr);
        r->jac10_raw_norm[L] = ex_jaccard(ids, K < 10 ? K : 10, rids, w->K < 10 ? w->K : 10);
        double xs[50], ys[50];
        for (int i = 0; i < kj; i++) { xs[i] = i + 1; ys[i] = w->ranks_of_norm_top50[(size_t)L * 50 + i]; if (ys[i] < 0) ys[i] = (double)run->vocab; }
        r->spearman_raw_norm[L] = ex_pearson(xs, ys, kj);
        r->norm_only_semantics[L] = rank == 1 && w->answer_rank[L] != 1;
    }
}

void ex_rows_free(ExRows *r) {
    void *ptrs[] = {r->top1, r->top1_raw, r->p_top1, r->p_top5, r->rest_mass, r->amu, r->control_margin,
                    r->answer_logit_gap, r->answer_vs_top1_gap, r->answer_minus_echo, r->mass_ratio,
                    r->topk_prompt_mass, r->control_top2_gap, r->copy, r->copy_sweep, r->entropy_collapse,
                    r->is_answer, r->margin_ok, r->geom_crossover, r->norm_only_semantics, r->jac_raw_norm,
                    r->jac_consec, r->jac10_raw_norm, r->spearman_raw_norm, r->prompt_vocab};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
    memset(r, 0, sizeof *r);
}

// ---------------------------------------------------------------------------- summary

#define FIRST(var, cond) do { var = -1; for (int L = 0; L < L1; L++) if (cond) { var = L; break; } } while (0)

void ex_summary_build(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExNext *x, const ExRows *r,
                      const ExCopyCols *cc, ExSummary *s) {
    memset(s, 0, sizeof *s);
    (void)run;
    int L1 = r->L1;
    FIRST(s->L_copy, r->copy[(size_t)L * cc->n]); // column 0 = copy_collapse
    FIRST(s->L_copy_H, r->entropy_collapse[L]);
    FIRST(s->L_semantic, r->is_answer[L]);
    s->n_kl = c->kl_milestones_bits.n < EX_MAX_MS ? c->kl_milestones_bits.n : EX_MAX_MS;
    for (int i = 0; i < s->n_kl; i++) FIRST(s->first_kl[i], x->kl_to_final_bits[L] <= c->kl_milestones_bits.v[i]);
    s->n_rank = c->rank_milestones.n < EX_MAX_MS ? c->rank_milestones.n : EX_MAX_MS;
    for (int i = 0; i < s->n_rank; i++)
        FIRST(s->first_rank[i], x->answer_rank[L] >= 1 && x->answer_rank[L] <= c->rank_milestones.v[i]);
    s->n_sweep = c->copy_strict_sweep.n < EX_MAX_MS ? c->copy_strict_sweep.n : EX_MAX_MS;
    for (int i = 0; i < s->n_sweep; i++) FIRST(s->L_sweep[i], r->copy_sweep[(size_t)L * c->copy_strict_sweep.n + i]);
    s->n_soft_k = c->copy_soft_windows.n < EX_MAX_MS ? c->copy_soft_windows.n : EX_MAX_MS;
    for (int i = 0; i < s->n_soft_k; i++) FIRST(s->L_copy_soft[i], r->copy[(size_t)L * cc->n + cc->n_strict + i]);
    FIRST(s->L_surface, p->first_id >= 0 && x->p_answer[L] >= x->echo_mass_prompt[L] + c->surface_delta);
    FIRST(s->L_geom, r->geom_crossover[L]);
    FIRST(s->L_topk_decay, r->topk_prompt_mass[L] <= c->prompt_topk_tau);
    s->n_cos = c->cos_milestones.n < EX_MAX_MS ? c->cos_milestones.n : EX_MAX_MS;
    for (int i = 0; i < s->n_cos; i++) FIRST(s->cos_ge[i], x->cos_to_final[L] >= c->cos_milestones.v[i]);
    FIRST(s->L_margin_ok, r->margin_ok[L]);
    FIRST(s->L_run2, L + 1 < L1 && x->answer_rank[L] == 1 && x->answer_rank[L + 1] == 1);
    double g2 = c->semantic_top2_gap;
#define STRONG(L) (x->answer_rank[L] == 1 && r->amu[L] >= c->semantic_delta_abs && r->answer_logit_gap[L] >= g2)
    FIRST(s->L_top2_ok, x->answer_rank[L] == 1 && r->answer_logit_gap[L] >= g2);
    FIRST(s->L_strong, STRONG(L));
    FIRST(s->L_strong_run2, L + 1 < L1 && STRONG(L) && STRONG(L + 1));
#undef STRONG
    FIRST(s->gap_ge_05, r->answer_logit_gap[L] >= 0.5);
    FIRST(s->gap_ge_10, r->answer_logit_gap[L] >= 1.0);
    FIRST(s->L_semantic_raw, p->raw.present && p->raw.answer_rank[L] == 1);
    s->first_rank_le_5 = s->first_rank_le_10 = s->first_kl_le_1 = -1;
    for (int i = 0; i < s->n_rank; i++) {
        if (c->rank_milestones.v[i] == 5) s->first_rank_le_5 = s->first_rank[i];
        if (c->rank_milestones.v[i] == 10) s->first_rank_le_10 = s->first_rank[i];
    }
    for (int i = 0; i < s->n_kl; i++)
        if (c->kl_milestones_bits.v[i] == 1.0) s->first_kl_le_1 = s->first_kl[i];
    s->L_soft_min = s->L_soft_min_k = -1;
    for (int i = 0; i < s->n_soft_k; i++)
        if (s->L_copy_soft[i] >= 0 && (s->L_soft_min < 0 || s->L_copy_soft[i] < s->L_soft_min ||
                                       (s->L_copy_soft[i] == s->L_soft_min && c->copy_soft_windows.v[i] < s->L_soft_min_k))) {
            s->L_soft_min = s->L_copy_soft[i];
            s->L_soft_min_k = (int)c->copy_soft_windows.v[i];
        }
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

void ex_summary_window(const LwRunConfig *c, const ExRun *run, ExSummary *s, int radius) {
    (void)c;
    int n = (int)run->n_layers;
    int cand[5] = {s->L_semantic, s->first_rank_le_5, s->first_kl_le_1, s->L_copy, s->L_soft_min};
    s->n_centers = 0;
    for (int i = 0; i < 5; i++) {
        int v = cand[i];
        if (v < 0 || v > n || in_list(v, s->centers, s->n_centers)) continue;
        s->centers[s->n_centers++] = v;
    }
    qsort(s->centers, s->n_centers, sizeof(int), cmp_int);
    s->radius = radius;
    free(s->checked);
    s->checked = NEWI(n + 1);
    s->n_checked = 0;
    for (int L = 0; L <= n; L++)
        for (int i = 0; i < s->n_centers; i++)
            if (L >= s->centers[i] - radius && L <= s->centers[i] + radius) { s->checked[s->n_checked++] = L; break; }
}

int ex_copy_norm_only(const LwRunConfig *c, const ExRun *run, const ExPass *p, const ExSummary *s, int i) {
    int L = s->L_sweep[i];
    if (L < 0 || !p->raw.present) return -1;
    int raw_hit = 0;
    const ExNext *w = &p->raw;
    for (int LL = L - s->radius; LL <= L + s->radius; LL++) {
        if (LL < 0 || LL > run->n_layers) continue;
        int t1 = w->top_ids[(size_t)LL * w->K];
        if (t1 < 0) continue;
        raw_hit |= ex_copy_strict(&t1, 1, p->ctx_ids, p->Tc, w->top_probs[(size_t)LL * w->K],
                                  w->K > 1 ? w->top_probs[(size_t)LL * w->K + 1] : 0, c->copy_strict_sweep.v[i],
                                  c->copy_margin, ex_token_wsp(run, t1));
    }
    return !raw_hit;
}

const char *ex_copy_stability(const LwRunConfig *c, const ExSummary *s, int n, int any_flag) {
    if (!any_flag) return "none";
    if (c->quirk_copy_stability_mixed) return "mixed";
    // intended rule: the sweep's highest threshold (0.95) against its lowest (0.70)
    int l95 = -1, l70 = -1, ihi = 0, ilo = 0;
    for (int i = 1; i < s->n_sweep; i++) {
        if (c->copy_strict_sweep.v[i] > c->copy_strict_sweep.v[ihi]) ihi = i;
        if (c->copy_strict_sweep.v[i] < c->copy_strict_sweep.v[ilo]) ilo = i;
    }
    if (s->n_sweep) { l95 = s->L_sweep[ihi]; l70 = s->L_sweep[ilo]; }
    if (l95 < 0 || l70 < 0) return "mixed";
    int d = abs(l95 - l70);
    return (d <= 2 || d <= 0.05 * n) ? "stable" : (d >= 6 || d >= 0.15 * n) ? "fragile" : "mixed";
}

void ex_summary_free(ExSummary *s) { free(s->checked); s->checked = NULL; }
