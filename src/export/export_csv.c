// export_csv — the CSV writers over a derived Ex. See export_internal.h; section numbers:
// METRICS.md (M§) and OUTPUTS.md (O§).
#include "export/export_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int ex_verbose_pos(const char *t) {
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
                int k = (t == p->T - 1 || ex_verbose_pos(ts)) ? K : (int)e->c->topk_records_other;
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

void ex_write_records(const Ex *e, FILE *f) { write_records_lens(e, f, 0); }
void ex_write_records_prism(const Ex *e, FILE *f) { write_records_lens(e, f, 1); }
void ex_write_records_tuned(const Ex *e, FILE *f) { write_records_lens(e, f, 2); }

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
void ex_write_pure(const Ex *e, FILE *f) { write_pure_lens(e, f, 0); }
void ex_write_pure_prism(const Ex *e, FILE *f) { write_pure_lens(e, f, 1); }
void ex_write_pure_tuned(const Ex *e, FILE *f) { write_pure_lens(e, f, 2); }
void ex_write_tuned_variants(const Ex *e, FILE *f) { ex_tuned_write_variants(e->run, &e->td, f); }
void ex_write_tuned_positions(const Ex *e, FILE *f) { ex_tuned_write_positions(e->run, &e->td, f); }

void ex_write_rawlens(const Ex *e, FILE *f) {
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

void ex_write_window(const Ex *e, FILE *f) {
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

void ex_write_milestones(const Ex *e, FILE *f) {
    fputs("layer,csv_row_index,is_copy_strict,is_copy_soft_k,is_semantic_norm,is_semantic_confirmed,answer_rank,"
          "p_answer,kl_to_final_bits,entropy_bits,lens\n", f);
    CsvOut o = {f, 0, 0};
    const ExSummary *s = &e->sums[0];
    milestone_row(e, &o, s->L_copy, 1, 0, 0, 0, "norm");
    milestone_row(e, &o, s->L_soft_min, 0, s->L_soft_min_k, 0, 0, "norm");
    milestone_row(e, &o, s->L_semantic, 0, 0, 1, 0, "norm");
    milestone_row(e, &o, e->L_confirmed, 0, 0, 0, 1, e->L_confirmed >= 0 ? e->confirmed_source : "none");
}

void ex_write_audit(const Ex *e, FILE *f) {
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
