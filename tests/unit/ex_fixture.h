// ex_fixture.h — a small, schema-conforming lensweep run (docs/HDF5.md) built in memory with
// chosen values, and its writer. Used by the export tests: the values below are planted so that
// every rule has a hand-derived expectation (see the comments at each planted value).
//
//   n = 4 blocks (layers 0..4), V = 64, 11 passes in METRICS.md §1.2 order, T = 6 (orig) / 5
//   (no_filler); ids: 0 "<s>" BOS, 1 "," (WSP), 2 " Berlin", 3 " Germany", 4 " capital",
//   5 "a,b", 6 "q\"t", 7 "x\ny", 8 "b\\s", 9 " Paris", 10 "▁" (WSP), 11 " simply", 12 " " (WSP),
//   13 "Ott", 14 "“" (not WSP: non-ASCII), 20 " Rome", 21 " Tokyo", 22 "awa", others "w<id>".
#ifndef EX_FIXTURE_H
#define EX_FIXTURE_H

#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "runfile/run_read.h"

#define FX_N 4
#define FX_L1 5
#define FX_V 64
#define FX_K 50

static double *fx_d(size_t n, double v) { double *p = xmalloc(n * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = v; return p; }
static int *fx_i(size_t n, int v) { int *p = xmalloc(n * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = v; return p; }

static void fx_next(ExNext *x, const char *lens, int shift) {
    memset(x, 0, sizeof *x);
    x->present = 1;
    x->K = FX_K;
    x->top_ids = fx_i(FX_L1 * FX_K, 0);
    x->top_probs = fx_d(FX_L1 * FX_K, 0);
    x->top_logits = fx_d(FX_L1 * FX_K, 0);
    for (int L = 0; L < FX_L1; L++)
        for (int k = 0; k < FX_K; k++) {
            x->top_ids[L * FX_K + k] = (40 + shift + L + 7 * k) % FX_V;
            x->top_probs[L * FX_K + k] = 0.3 * pow(0.5, k);
            x->top_logits[L * FX_K + k] = 10.0 - 0.25 * k;
        }
    x->p_answer = fx_d(FX_L1, 0.001);
    x->answer_rank = fx_i(FX_L1, 60);
    x->entropy_bits_pv = fx_d(FX_L1, 5.0);
    for (int i = 0; i < 3; i++) x->transform_kl[i] = NAN;
    if (!strcmp(lens, "norm")) {
        x->entropy_bits = fx_d(FX_L1, 5.0);
        x->answer_logit = fx_d(FX_L1, 1.0);
        x->p_contrast = fx_d(FX_L1, NAN);
        x->kl_to_final_bits = fx_d(FX_L1, 6.0);
        x->kl_to_final_bits[FX_N] = 0.0;
        x->kl_to_final_bits_norm_temp = fx_d(FX_L1, 5.5);
        x->cos_to_final = fx_d(FX_L1, 0.1);
        x->cos_to_answer = fx_d(FX_L1, 0.01);
        x->cos_to_prompt_max = fx_d(FX_L1, 0.02);
        x->echo_mass_prompt = fx_d(FX_L1, 0.01);
        x->resid_norm_ratio = fx_d(FX_L1, 10.0);
        x->delta_resid_cos = fx_d(FX_L1, 0.9);
        x->raw_resid_norm = fx_d(FX_L1, 1.0);
        x->max_abs_logit = fx_d(FX_L1, 10.0);
        x->min_prob = fx_d(FX_L1, 1e-6);
        x->nonfinite = fx_i(FX_L1, 0);
        x->n_scales = 4;
        x->scales = fx_d(4, 0);
        x->scales[0] = 0.9; x->scales[1] = 0.95; x->scales[2] = 1.05; x->scales[3] = 1.1;
        x->scaled_p_answer = fx_d(FX_L1 * 4, 0.001);
        x->repeat_rank_dev = fx_i(FX_L1, 0);
        x->repeat_top1_flip = fx_i(FX_L1, 0);
        x->n_temps = 25;
        x->temps = fx_d(25, 0);
        x->last_temp_kl = fx_d(25, 0);
        for (int i = 0; i < 25; i++) {
            x->temps[i] = (double)(float)pow(10.0, -1.0 + 2.0 * i / 24);
            x->last_temp_kl[i] = abs(i - 12) * 0.1; // minimum 0.0 at i = 12 (s = 1.0)
        }
    } else if (!strcmp(lens, "raw")) {
        x->kl_norm_vs_raw_bits = fx_d(FX_L1, 0.1);
        x->kl_raw_to_norm_bits = fx_d(FX_L1, 0.1);
        x->js_divergence = fx_d(FX_L1, 0.05);
        x->l1_prob_diff = fx_d(FX_L1, 0.3);
        x->ranks_of_norm_top50 = fx_i(FX_L1 * 50, 0);
        for (int L = 0; L < FX_L1; L++)
            for (int k = 0; k < 50; k++) x->ranks_of_norm_top50[L * 50 + k] = k + 1 + (k % 3);
    }
}

static const char *FX_FACTS[5] = {"Germany\xe2\x86\x92" "Berlin", "France\xe2\x86\x92" "Paris", "Italy\xe2\x86\x92" "Rome",
                                  "Japan\xe2\x86\x92" "Tokyo", "Canada\xe2\x86\x92" "Ottawa"};
static const char *FX_ANS[5] = {"Berlin", "Paris", "Rome", "Tokyo", "Ottawa"};
static const int FX_ANS_ID[5] = {2, 9, 20, 21, 13};

static void fx_pass(ExRun *run, ExPass *p, int fact, const char *variant) {
    memset(p, 0, sizeof *p);
    int ctl = fact < 0;
    p->name = ctl ? xstrdup("ctl_orig") : xasprintf("pos_%s_%d", variant, fact);
    p->prompt_id = xstrdup(ctl ? "ctl" : "pos");
    p->variant = xstrdup(variant);
    p->fact_key = xstrdup(ctl ? "" : FX_FACTS[fact]);
    p->fact_index = ctl ? -1 : fact;
    int f = ctl ? 1 : fact;
    p->text = xasprintf("Give the city name only, plain text. The capital of X%d is called%s", f,
                        strcmp(variant, "orig") ? "" : " simply");
    p->answer = xstrdup(FX_ANS[f]);
    p->align_ok = 1;
    p->align_status = xstrdup("ok");
    p->align_variant = xstrdup("with_space");
    p->n_answer_ids = f == 4 ? 2 : 1;
    p->answer_ids = fx_i(2, FX_ANS_ID[f]);
    p->answer_ids[1] = 22;
    p->first_id = FX_ANS_ID[f];
    p->contrast_id = ctl ? 2 : -1;
    p->contrast_answer = ctl ? xstrdup("Berlin") : NULL;
    p->teacher_entropy_bits = 2.0;
    p->T = strcmp(variant, "orig") ? 5 : 6;
    int ids[6] = {0, 30 + f, 3, 4, 1, 11};
    p->ids = fx_i(p->T, 0);
    memcpy(p->ids, ids, p->T * sizeof(int));
    p->Tc = p->T - 1;
    p->ctx_ids = fx_i(p->Tc, 0);
    memcpy(p->ctx_ids, ids + 1, p->Tc * sizeof(int));
    p->final_entropy_bits = fx_d(p->T, 2.0);
    p->final_k = 20;
    p->final_topk_ids = fx_i(p->T * 20, 0);
    p->final_topk_probs = fx_d(p->T * 20, 0);
    for (int t = 0; t < p->T; t++)
        for (int k = 0; k < 20; k++) {
            p->final_topk_ids[t * 20 + k] = (FX_ANS_ID[f] + 3 * k) % FX_V;
            p->final_topk_probs[t * 20 + k] = 0.5 * pow(0.5, k);
        }
    p->rec_entropy_bits = fx_d(FX_L1 * p->T, 4.0);
    p->rec_k = 20;
    p->rec_topk_ids = fx_i(FX_L1 * p->T * 20, 0);
    p->rec_topk_probs = fx_d(FX_L1 * p->T * 20, 0);
    for (int i = 0; i < FX_L1 * p->T * 20; i++) {
        p->rec_topk_ids[i] = (i * 5) % FX_V;
        p->rec_topk_probs[i] = 0.04 - 0.001 * (i % 20);
    }
    fx_next(&p->norm, "norm", 0);
    fx_next(&p->raw, "raw", fact == 4 && !strcmp(variant, "orig") ? 0 : 1); // Canada orig: raw top-50 = norm top-50
    fx_next(&p->post_ln2, "post_ln2", 0);
    for (int L = 0; L < FX_L1; L++) p->raw.top_probs[L * FX_K] = 0.2;
    (void)run;
}

static void fx_set_top(ExNext *x, int L, int id, double p1, double p2) {
    x->top_ids[L * x->K] = id;
    x->top_probs[L * x->K] = p1;
    x->top_probs[L * x->K + 1] = p2;
    // keep the list duplicate-free: the id's old position (if any) gets the old top-1
    (void)0;
}

static void fx_make(ExRun *run) {
    memset(run, 0, sizeof *run);
    run->path = xstrdup("fixture");
    run->model_name = xstrdup("Tiny-Model");
    run->model_id = xstrdup("org/Tiny-Model");
    run->model_path = xstrdup("/nowhere/Tiny-Model");
    run->family = xstrdup("llama");
    run->architecture = xstrdup("pre_norm");
    run->norm_type = xstrdup("RMSNorm");
    run->weights_dtype = xstrdup("float32");
    run->compute_dtype = xstrdup("float32");
    run->backend = xstrdup("cpu");
    run->device = xstrdup("cpu");
    LwRunConfig cfg;
    config_defaults(&cfg);
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    config_print(mf, &cfg);
    fclose(mf);
    run->config_yaml = buf;
    config_free(&cfg);
    run->config_hash = xstrdup("0123456789abcdef");
    run->lensweep_version = xstrdup("0.1.0");
    run->lensweep_git = xstrdup("test");
    run->start_time = xstrdup("2026-01-01T00:00:00Z");
    run->end_time = xstrdup("2026-01-01T00:00:01Z");
    run->n_layers = FX_N; run->d_model = 8; run->n_heads = 2; run->n_kv_heads = 1; run->head_dim = 4;
    run->d_ff = 16; run->vocab = FX_V; run->n_ctx = 128; run->tokenizer_n_ids = FX_V; run->bos_id = 0; run->tp_size = 1;
    run->final_softcap = 0; run->wall_seconds = 1.5;
    run->V = FX_V;
    run->decoded = xcalloc(FX_V, sizeof(char *));
    run->pieces = xcalloc(FX_V, sizeof(char *));
    const char *special[23] = {"<s>", ",", " Berlin", " Germany", " capital", "a,b", "q\"t", "x\ny", "b\\s", " Paris",
                               "\xe2\x96\x81", " simply", " ", "Ott", "\xe2\x80\x9c", NULL, NULL, NULL, NULL, NULL,
                               " Rome", " Tokyo", "awa"};
    for (int i = 0; i < FX_V; i++) {
        run->decoded[i] = i < 23 && special[i] ? xstrdup(special[i]) : xasprintf("w%d", i);
        run->pieces[i] = xasprintf("P%d", i);
    }
    free(run->pieces[2]); run->pieces[2] = xstrdup("\xc4\xa0" "Berlin");
    free(run->pieces[9]); run->pieces[9] = xstrdup("\xc4\xa0" "Paris");
    run->n_passes = 11;
    run->passes = xcalloc(11, sizeof(ExPass));
    for (int f = 0; f < 5; f++) {
        fx_pass(run, &run->passes[2 * f], f, "orig");
        fx_pass(run, &run->passes[2 * f + 1], f, "no_filler");
    }
    fx_pass(run, &run->passes[10], -1, "orig");

    // ---- planted primary-pass values (pass 0, Germany orig; ctx = [30, 3, 4, 1, 11])
    ExPass *p = &run->passes[0];
    ExNext *x = &p->norm, *w = &p->raw;
    fx_set_top(x, 0, 3, 0.97, 0.01);  // " Germany" in ctx, p1 > 0.95, margin 0.96: strict copy at L=0
    fx_set_top(x, 1, 4, 0.55, 0.30);  // " capital": only soft (p1 > 0.5); window k2 [3,4] is in ctx
    fx_set_top(x, 2, 1, 0.99, 0.001); // "," WSP: strict vetoed by the WSP guard; soft k1,k2,k3 fire
    fx_set_top(x, 3, 2, 0.60, 0.10);  // " Berlin" = answer, rank 1
    fx_set_top(x, 4, 2, 0.90, 0.05);
    int rank[5] = {30, 12, 4, 1, 1};   // first_rank_le_10 = le_5 = 2, L_semantic = 3
    double kl[5] = {9, 5, 2, 0.8, 0.0}; // first_kl_below_1.0 = 3, below_0.5 = 4
    double H[5] = {0.5, 3, 0.2, 2, 1}; // L_copy_H = 0 (entropy <= 1 bit)
    double pa[5] = {1e-05, 0.001, 0.01, 0.6, 0.9};
    int raw_rank[5] = {40, 20, 9, 2, 1}; // L_semantic_raw = 4: inside [3-2, 3+2] -> confirmed 3 (raw)
    double kl_nr[5] = {0.1, 0.2, 0.3, 1.5, 0.4}; // pct >= 1.0: 1/5; max 1.5
    for (int L = 0; L < FX_L1; L++) {
        x->answer_rank[L] = rank[L];
        x->kl_to_final_bits[L] = kl[L];
        x->entropy_bits[L] = H[L];
        x->p_answer[L] = pa[L];
        x->answer_logit[L] = L >= 3 ? 10.0 : 5.0;
        w->answer_rank[L] = raw_rank[L];
        w->kl_norm_vs_raw_bits[L] = kl_nr[L];
        x->scaled_p_answer[L * 4 + 0] = 0.9; // uniform margin passes at every scale
        x->scaled_p_answer[L * 4 + 1] = 0.9;
        x->scaled_p_answer[L * 4 + 2] = 0.9;
        x->scaled_p_answer[L * 4 + 3] = 0.9;
    }
    // post_ln2 at L=3: rank 2 -> rank1_agree false (decoding point sensitive)
    p->post_ln2.answer_rank[3] = 2;
    // micro suite: L_semantic of facts 1, 2, 3, 4 = 2, 3, none, 0
    int sem[5] = {-1, 2, 3, -1, 0};
    for (int f = 1; f < 5; f++)
        for (int L = 0; L < FX_L1; L++)
            run->passes[2 * f].norm.answer_rank[L] = (sem[f] >= 0 && L >= sem[f]) ? 1 : 7;
    // control: p(Paris) - p(Berlin) = [-0.1, 0.1, 0.2, 0.3, 0.4]
    ExPass *c = &run->passes[10];
    for (int L = 0; L < FX_L1; L++) {
        c->norm.p_answer[L] = 0.1 * (L + 1);
        c->norm.p_contrast[L] = L == 0 ? 0.2 : 0.1;
    }
    c->norm.p_answer[2] = 0.3;
    c->norm.p_answer[4] = 0.5;
    // calibration and aux
    run->n_tau = 25;
    run->tau_grid = fx_d(25, 1.0);
    run->tau_norm = fx_d(FX_L1, 5.0);
    run->tau_norm[FX_N] = 1.0;
    run->n_test = 2;
    run->test_text = xcalloc(2, sizeof(char *));
    run->test_text[0] = xstrdup("Berlin is the capital of");
    run->test_text[1] = xstrdup("Germany's capital city is called simply");
    run->test_entropy = fx_d(2, 1.25);
    run->test_k = 10;
    run->test_ids = fx_i(20, 3);
    run->test_probs = fx_d(20, 0.05);
    run->n_temp = 2;
    run->temp_values = fx_d(2, 0.1);
    run->temp_values[1] = 2.0;
    run->temp_entropy = fx_d(2, 0.5);
    run->temp_k = 15;
    run->temp_ids = fx_i(30, 2);
    run->temp_probs = fx_d(30, 0.01);
}

// ---------------------------------------------------------------------------- writer

typedef struct {
    int omit_complete;        // leave out the `complete` attribute
    int schema_version;       // 0 = 1
    const char *omit_dataset; // full path of one dataset not to write
    int omit_raw;             // no /lens/raw (a run with lenses: [norm])
    const char *short_dataset;// full path of one dataset written with one row too few
} FxWriteOpts;

static const FxWriteOpts *fx_opts;

static int fx_skip(hid_t loc, const char *name) {
    if (!fx_opts || !fx_opts->omit_dataset) return 0;
    char path[512];
    H5Iget_name(loc, path, sizeof path);
    char full[700];
    snprintf(full, sizeof full, "%s/%s", path, name);
    return !strcmp(full, fx_opts->omit_dataset);
}

static void fx_attr_str(hid_t loc, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, &v);
    H5Aclose(a); H5Sclose(sp); H5Tclose(t);
}
static void fx_attr_i64(hid_t loc, const char *name, long v) {
    long long x = v;
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_LLONG, &x);
    H5Aclose(a); H5Sclose(sp);
}
static void fx_attr_f64(hid_t loc, const char *name, double v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a); H5Sclose(sp);
}
static void fx_attr_f64s(hid_t loc, const char *obj, const char *name, const double *v, int n) {
    H5LTset_attribute_double(loc, obj, name, v, n);
}
static void fx_attr_i32s(hid_t loc, const char *name, const int *v, int n) {
    hsize_t d = n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, v);
    H5Aclose(a); H5Sclose(sp);
}
static int fx_short(hid_t loc, const char *name) {
    if (!fx_opts || !fx_opts->short_dataset) return 0;
    char path[512], full[700];
    H5Iget_name(loc, path, sizeof path);
    snprintf(full, sizeof full, "%s/%s", path, name);
    return !strcmp(full, fx_opts->short_dataset);
}
static void fx_ds_f(hid_t loc, const char *name, int rank, const hsize_t *dims, const double *v) {
    if (fx_skip(loc, name)) return;
    hsize_t d[4];
    memcpy(d, dims, rank * sizeof(hsize_t));
    if (fx_short(loc, name)) d[0]--;
    H5LTmake_dataset_double(loc, name, rank, d, v);
}
static void fx_ds_i(hid_t loc, const char *name, int rank, const hsize_t *dims, const int *v) {
    if (fx_skip(loc, name)) return;
    hsize_t d[4];
    memcpy(d, dims, rank * sizeof(hsize_t));
    if (fx_short(loc, name)) d[0]--;
    H5LTmake_dataset_int(loc, name, rank, d, v);
}
static void fx_ds_strs(hid_t loc, const char *name, char *const *v, long n) {
    if (fx_skip(loc, name)) return;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t d = n;
    hid_t sp = H5Screate_simple(1, &d, NULL);
    hid_t ds = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(ds); H5Sclose(sp); H5Tclose(t);
}

static void fx_write_next(hid_t g, const char *lens, const ExNext *x) {
    hid_t n = H5Gcreate2(g, "next", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t L[1] = {FX_L1}, LK[2] = {FX_L1, (hsize_t)x->K};
    fx_ds_i(n, "top_ids", 2, LK, x->top_ids);
    fx_ds_f(n, "top_probs", 2, LK, x->top_probs);
    fx_ds_f(n, "top_logits", 2, LK, x->top_logits);
    fx_ds_f(n, "p_answer", 1, L, x->p_answer);
    fx_ds_i(n, "answer_rank", 1, L, x->answer_rank);
    if (!strcmp(lens, "norm")) {
#define W(f) fx_ds_f(n, #f, 1, L, x->f)
        W(entropy_bits); W(entropy_bits_pv); W(answer_logit); W(p_contrast); W(kl_to_final_bits);
        W(kl_to_final_bits_norm_temp); W(cos_to_final); W(cos_to_answer); W(cos_to_prompt_max); W(echo_mass_prompt);
        W(resid_norm_ratio); W(delta_resid_cos); W(raw_resid_norm); W(max_abs_logit); W(min_prob);
#undef W
        fx_ds_i(n, "nonfinite", 1, L, x->nonfinite);
        fx_ds_i(n, "repeat_rank_dev", 1, L, x->repeat_rank_dev);
        fx_ds_i(n, "repeat_top1_flip", 1, L, x->repeat_top1_flip);
        hsize_t LS[2] = {FX_L1, (hsize_t)x->n_scales}, T[1] = {(hsize_t)x->n_temps}, three[1] = {3};
        fx_ds_f(n, "scaled_p_answer", 2, LS, x->scaled_p_answer);
        if (!fx_skip(n, "scaled_p_answer")) fx_attr_f64s(n, "scaled_p_answer", "scales", x->scales, x->n_scales);
        fx_ds_f(n, "last_temp_kl", 1, T, x->last_temp_kl);
        if (!fx_skip(n, "last_temp_kl")) fx_attr_f64s(n, "last_temp_kl", "temps", x->temps, x->n_temps);
        fx_ds_f(n, "transform_kl", 1, three, x->transform_kl);
    } else if (!strcmp(lens, "raw")) {
        fx_ds_f(n, "entropy_bits_pv", 1, L, x->entropy_bits_pv);
        fx_ds_f(n, "kl_norm_vs_raw_bits", 1, L, x->kl_norm_vs_raw_bits);
        fx_ds_f(n, "kl_raw_to_norm_bits", 1, L, x->kl_raw_to_norm_bits);
        fx_ds_f(n, "js_divergence", 1, L, x->js_divergence);
        fx_ds_f(n, "l1_prob_diff", 1, L, x->l1_prob_diff);
        hsize_t L50[2] = {FX_L1, 50};
        fx_ds_i(n, "ranks_of_norm_top50", 2, L50, x->ranks_of_norm_top50);
    }
    H5Gclose(n);
}

static hid_t fx_group(hid_t loc, const char *name) {
    if (H5Lexists(loc, name, H5P_DEFAULT) > 0) return H5Gopen2(loc, name, H5P_DEFAULT);
    return H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
}

__attribute__((unused)) static void fx_write(const ExRun *run, const char *path, const FxWriteOpts *o) {
    fx_opts = o;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    fx_attr_str(f, "schema", "lensweep");
    fx_attr_i64(f, "schema_version", o && o->schema_version ? o->schema_version : 1);
    fx_attr_str(f, "lensweep_version", run->lensweep_version);
    fx_attr_str(f, "lensweep_git", run->lensweep_git);
    fx_attr_str(f, "model_name", run->model_name);
    fx_attr_str(f, "model_id", run->model_id);
    fx_attr_str(f, "model_path", run->model_path);
    fx_attr_str(f, "family", run->family);
    fx_attr_str(f, "architecture", run->architecture);
    fx_attr_i64(f, "n_layers", run->n_layers);
    fx_attr_i64(f, "d_model", run->d_model);
    fx_attr_i64(f, "n_heads", run->n_heads);
    fx_attr_i64(f, "n_kv_heads", run->n_kv_heads);
    fx_attr_i64(f, "head_dim", run->head_dim);
    fx_attr_i64(f, "d_ff", run->d_ff);
    fx_attr_i64(f, "vocab", run->vocab);
    fx_attr_i64(f, "n_ctx", run->n_ctx);
    fx_attr_i64(f, "tokenizer_n_ids", run->tokenizer_n_ids);
    fx_attr_i64(f, "bos_id", run->bos_id);
    fx_attr_f64(f, "final_softcap", run->final_softcap);
    fx_attr_str(f, "norm_type", run->norm_type);
    fx_attr_str(f, "weights_dtype", run->weights_dtype);
    fx_attr_str(f, "compute_dtype", run->compute_dtype);
    fx_attr_str(f, "backend", run->backend);
    fx_attr_str(f, "device", run->device);
    fx_attr_i64(f, "tp_size", run->tp_size);
    fx_attr_str(f, "config_yaml", run->config_yaml);
    fx_attr_str(f, "config_hash", run->config_hash);
    fx_attr_str(f, "start_time", run->start_time);
    fx_attr_str(f, "end_time", run->end_time);
    fx_attr_f64(f, "wall_seconds", run->wall_seconds);
    hid_t v = fx_group(f, "vocab");
    fx_ds_strs(v, "decoded", run->decoded, run->V);
    fx_ds_strs(v, "pieces", run->pieces, run->V);
    H5Gclose(v);
    hid_t pr = fx_group(f, "prompts");
    char **order = xcalloc(run->n_passes, sizeof(char *));
    for (int i = 0; i < run->n_passes; i++) order[i] = run->passes[i].name;
    fx_ds_strs(pr, "order", order, run->n_passes);
    free(order);
    for (int i = 0; i < run->n_passes; i++) {
        const ExPass *p = &run->passes[i];
        hid_t g = fx_group(pr, p->name);
        fx_attr_str(g, "prompt_id", p->prompt_id);
        fx_attr_str(g, "prompt_variant", p->variant);
        fx_attr_str(g, "fact_key", p->fact_key);
        fx_attr_i64(g, "fact_index", p->fact_index);
        fx_attr_str(g, "text", p->text);
        fx_attr_str(g, "answer", p->answer);
        fx_attr_i64(g, "align_ok", p->align_ok);
        fx_attr_str(g, "align_status", p->align_status);
        fx_attr_str(g, "align_variant", p->align_variant);
        fx_attr_i32s(g, "answer_ids", p->answer_ids, p->n_answer_ids);
        fx_attr_i64(g, "first_id", p->first_id);
        fx_attr_f64(g, "teacher_entropy_bits", p->teacher_entropy_bits);
        if (p->contrast_id >= 0) {
            fx_attr_i64(g, "contrast_id", p->contrast_id);
            fx_attr_str(g, "contrast_answer", p->contrast_answer);
        }
        hsize_t T[1] = {(hsize_t)p->T}, Tc[1] = {(hsize_t)p->Tc}, Tk[2] = {(hsize_t)p->T, (hsize_t)p->final_k};
        fx_ds_i(g, "ids", 1, T, p->ids);
        fx_ds_i(g, "ctx_ids", 1, Tc, p->ctx_ids);
        fx_ds_f(g, "final_entropy_bits", 1, T, p->final_entropy_bits);
        fx_ds_i(g, "final_topk_ids", 2, Tk, p->final_topk_ids);
        fx_ds_f(g, "final_topk_probs", 2, Tk, p->final_topk_probs);
        H5Gclose(g);
        const char *lenses[3] = {"norm", "raw", "post_ln2"};
        const ExNext *xs[3] = {&p->norm, &p->raw, &p->post_ln2};
        hid_t lg = fx_group(f, "lens");
        for (int k = 0; k < 3; k++) {
            if (k == 1 && o && o->omit_raw) continue;
            hid_t l = fx_group(lg, lenses[k]);
            hid_t pg = fx_group(l, p->name);
            if (k == 0) {
                hsize_t LT[2] = {FX_L1, (hsize_t)p->T}, LTk[3] = {FX_L1, (hsize_t)p->T, (hsize_t)p->rec_k};
                fx_ds_f(pg, "entropy_bits", 2, LT, p->rec_entropy_bits);
                fx_ds_i(pg, "topk_ids", 3, LTk, p->rec_topk_ids);
                fx_ds_f(pg, "topk_probs", 3, LTk, p->rec_topk_probs);
            }
            fx_write_next(pg, lenses[k], xs[k]);
            H5Gclose(pg);
            H5Gclose(l);
        }
        H5Gclose(lg);
    }
    H5Gclose(pr);
    hid_t c = fx_group(f, "calibration");
    hsize_t n25[1] = {(hsize_t)run->n_tau}, L[1] = {FX_L1};
    fx_ds_f(c, "tau_grid", 1, n25, run->tau_grid);
    fx_ds_f(c, "tau_norm", 1, L, run->tau_norm);
    H5Gclose(c);
    hid_t a = fx_group(f, "aux");
    hid_t tp = fx_group(a, "test_prompts");
    hsize_t nt[1] = {(hsize_t)run->n_test}, ntk[2] = {(hsize_t)run->n_test, (hsize_t)run->test_k};
    fx_ds_strs(tp, "text", run->test_text, run->n_test);
    fx_ds_f(tp, "entropy_bits", 1, nt, run->test_entropy);
    fx_ds_i(tp, "topk_ids", 2, ntk, run->test_ids);
    fx_ds_f(tp, "topk_probs", 2, ntk, run->test_probs);
    H5Gclose(tp);
    hid_t te = fx_group(a, "temperature");
    hsize_t nm[1] = {(hsize_t)run->n_temp}, nmk[2] = {(hsize_t)run->n_temp, (hsize_t)run->temp_k};
    fx_ds_f(te, "temps", 1, nm, run->temp_values);
    fx_ds_f(te, "entropy_bits", 1, nm, run->temp_entropy);
    fx_ds_i(te, "topk_ids", 2, nmk, run->temp_ids);
    fx_ds_f(te, "topk_probs", 2, nmk, run->temp_probs);
    H5Gclose(te);
    H5Gclose(a);
    if (!(o && o->omit_complete)) fx_attr_i64(f, "complete", 1);
    H5Fclose(f);
    fx_opts = NULL;
}

#endif
