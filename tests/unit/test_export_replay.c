// Replay of the reference run: the measurements that the Mistral-7B-v0.1 reference files show
// (pure-next-token, rawlens and records CSVs, a few JSON arrays) are loaded into an ExRun, exported
// with the default options (the reference's settings), and our files are compared with the
// reference files themselves — text-identical cells for every column that is a copy or a rule of
// those measurements (which also exercises Python's float repr on thousands of values), and equal
// JSON values for every summary that can be derived from them. Columns that need data the reference
// files do not show (top-50 lists: jaccards, topk_prompt_mass; the fp32 sum p_top5; logits beyond
// the gaps) are listed and skipped.
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>

#include "config/config.h"
#include "export/export.h"
#include "report/report_csv.h"
#include "test.h"

static const char *model; // Mistral-7B-v0.1 has every CSV kind; the others only the pure CSV
static int NL, NV, have_raw, have_rec;

static char ref[512], outdir[64];
static CsvTable pure, raw, rec, ours_pure, ours_raw, ours_rec, ours_ms, ref_ms, ours_win;
static json_t *rj, *oj;

static const char *C(const CsvTable *t, size_t r, const char *col) { return csv_table_cell(t, r, csv_table_col(t, col)); }
static double D(const CsvTable *t, size_t r, const char *col) {
    double v;
    return csv_cell_number(C(t, r, col), &v) ? v : NAN;
}
static int I(const CsvTable *t, size_t r, const char *col) { double v = D(t, r, col); return isnan(v) ? -1 : (int)v; }

// string -> id: real ids where the reference shows them (top-1 ids, gold ids), else synthetic ids
static char **vocab;
static int next_free;
static int id_of(const char *s) {
    for (int i = 0; i < NV; i++) if (vocab[i] && !strcmp(vocab[i], s)) return i;
    while (vocab[next_free]) next_free++;
    vocab[next_free] = xstrdup(s);
    return next_free;
}
static void put(int id, const char *s) { if (id >= 0 && id < NV && !vocab[id]) vocab[id] = xstrdup(s); }

static double *nd(size_t n) { double *p = xmalloc(n * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = NAN; return p; }
static int *ni(size_t n, int v) { int *p = xmalloc(n * sizeof *p); for (size_t i = 0; i < n; i++) p[i] = v; return p; }

static void build(ExRun *run) {
    memset(run, 0, sizeof *run);
    json_t *d = json_object_get(rj, "diagnostics");
    run->path = xstrdup("replay");
    run->model_name = xstrdup(model);
    run->model_id = xstrdup(json_string_value(json_object_get(json_object_get(rj, "diagnostics"), "model")));
    run->architecture = xstrdup("pre_norm"); run->norm_type = xstrdup("RMSNorm");
    const char *dc = json_string_value(json_object_get(json_object_get(json_object_get(rj, "provenance"), "env"), "dtype_compute"));
    run->compute_dtype = xstrdup(dc && strstr(dc, "bfloat16") ? "bfloat16" : "float32"); run->backend = xstrdup("cpu");
    run->lensweep_version = xstrdup("t"); run->lensweep_git = xstrdup("t");
    run->n_layers = NL - 1; run->d_model = 4096; run->n_heads = 32; run->vocab = NV; run->n_ctx = 2048; run->V = NV;
    // known ids first
    for (size_t r = 0; have_raw && r < raw.n_rows; r++) {
        put(I(&raw, r, "top1_token_id_norm"), C(&raw, r, "top1_token_str_norm"));
        put(I(&raw, r, "top1_token_id_raw"), C(&raw, r, "top1_token_str_raw"));
    }
    // decoding point (M§14): the reference's per-target values are the post_ln2 lens's measurements
    // at those layers (and the norm lens's real top-1 id there)
    json_t *dpt = json_object_get(json_object_get(d, "decoding_point"), "per_target");
    for (size_t i = 0; i < json_array_size(dpt); i++) {
        json_t *t = json_array_get(dpt, i);
        int L = (int)json_integer_value(json_object_get(t, "layer"));
        put((int)json_integer_value(json_object_get(t, "top1_id_next_ln1")), C(&pure, (size_t)L, "top1"));
    }
    json_t *gp = json_object_get(d, "gold_alignment_prompts");
    // decoded[a] = the top-1 string of a row where the answer has rank 1 (the gold "string" lacks
    // the leading space byte-level tokenizers keep)
    for (size_t i = 0; i < json_array_size(gp); i++) {
        json_t *e = json_array_get(gp, i);
        int a = (int)json_integer_value(json_object_get(e, "first_id"));
        const char *pid = json_string_value(json_object_get(e, "prompt_id")), *pv = json_string_value(json_object_get(e, "prompt_variant"));
        for (size_t r = 0; r < pure.n_rows; r++) {
            if (strcmp(C(&pure, r, "prompt_id"), pid) || strcmp(C(&pure, r, "prompt_variant"), pv)) continue;
            if (!strcmp(pid, "pos") && I(&pure, r, "fact_index") != json_integer_value(json_object_get(e, "fact_index"))) continue;
            if (I(&pure, r, "answer_rank") == 1) { put(a, C(&pure, r, "top1")); break; }
        }
    }
    for (size_t i = 0; i < json_array_size(gp); i++) {
        json_t *e = json_array_get(gp, i);
        put((int)json_integer_value(json_object_get(e, "first_id")), json_string_value(json_object_get(e, "string")));
    }
    run->n_passes = 11;
    run->passes = xcalloc(11, sizeof(ExPass));
    size_t rrow = 0;
    for (int pi = 0; pi < 11; pi++) {
        ExPass *p = &run->passes[pi];
        size_t r0 = (size_t)pi * NL;
        p->prompt_id = xstrdup(C(&pure, r0, "prompt_id"));
        p->variant = xstrdup(C(&pure, r0, "prompt_variant"));
        p->fact_key = xstrdup(C(&pure, r0, "fact_key"));
        p->fact_index = I(&pure, r0, "fact_index");
        int ctl = !strcmp(p->prompt_id, "ctl");
        p->name = ctl ? xstrdup("ctl_orig") : xasprintf("pos_%s_%d", p->variant, p->fact_index);
        // alignment entry of this pass
        for (size_t i = 0; i < json_array_size(gp); i++) {
            json_t *e = json_array_get(gp, i);
            if (strcmp(json_string_value(json_object_get(e, "prompt_id")), p->prompt_id) ||
                strcmp(json_string_value(json_object_get(e, "prompt_variant")), p->variant))
                continue;
            if (!ctl && json_integer_value(json_object_get(e, "fact_index")) != p->fact_index) continue;
            p->answer = xstrdup(json_string_value(json_object_get(e, "string")));
            p->first_id = (int)json_integer_value(json_object_get(e, "first_id"));
            json_t *ids = json_object_get(e, "answer_ids");
            p->n_answer_ids = (int)json_array_size(ids);
            p->answer_ids = ni(p->n_answer_ids + 1, 0);
            for (int k = 0; k < p->n_answer_ids; k++) p->answer_ids[k] = (int)json_integer_value(json_array_get(ids, k));
            p->align_ok = 1;
            p->align_status = xstrdup("ok");
            p->align_variant = xstrdup(json_string_value(json_object_get(e, "variant")));
        }
        p->text = xstrdup(ctl ? json_string_value(json_object_get(json_object_get(rj, "control_prompt"), "context_prompt"))
                              : json_string_value(json_object_get(json_object_get(rj, "prompt"), "context_prompt")));
        p->contrast_id = ctl ? 8430 : -1; // Berlin on the Germany prompt
        p->teacher_entropy_bits = D(&pure, r0, "teacher_entropy_bits");
        // records block of this pass: rows with this pass's identification, layer-major
        size_t start = rrow;
        int T = 0;
        if (have_rec)
            while (start + T < rec.n_rows && I(&rec, start + T, "layer") == 0 && (T == 0 || I(&rec, start + T, "pos") > 0)) T++;
        else T = I(&pure, r0, "pos") + 1;
        p->T = T;
        p->ids = ni(T, 0);
        for (int t = 0; t < T; t++) p->ids[t] = have_rec ? id_of(C(&rec, start + t, "token")) : id_of("\x01unknown prompt token");
        p->Tc = T - 1;
        p->ctx_ids = ni(T, 0);
        for (int t = 1; t < T; t++) p->ctx_ids[t - 1] = p->ids[t];
        p->rec_k = 20;
        p->rec_entropy_bits = nd((size_t)NL * T);
        p->rec_topk_ids = ni((size_t)NL * T * 20, -1);
        p->rec_topk_probs = nd((size_t)NL * T * 20);
        for (int L = 0; have_rec && L < NL; L++)
            for (int t = 0; t < T; t++) {
                size_t r = start + (size_t)L * T + t, o = ((size_t)L * T + t) * 20;
                p->rec_entropy_bits[(size_t)L * T + t] = D(&rec, r, "entropy");
                for (int k = 0; k < 20; k++) {
                    char c1[16], c2[16];
                    snprintf(c1, sizeof c1, "top%d", k + 1);
                    snprintf(c2, sizeof c2, "prob%d", k + 1);
                    const char *s = C(&rec, r, c1);
                    (void)s;
                    if (k < 5 || *C(&rec, r, c2)) { /* a token can decode to "": test the probability cell */ p->rec_topk_ids[o + k] = id_of(C(&rec, r, c1)); p->rec_topk_probs[o + k] = D(&rec, r, c2); }
                    else { p->rec_topk_ids[o + k] = 1; p->rec_topk_probs[o + k] = 1e-9; } // must not be printed
                }
            }
        rrow = start + (size_t)NL * T;
        p->final_k = 20;
        p->final_entropy_bits = nd(T);
        p->final_topk_ids = ni((size_t)T * 20, 1);
        p->final_topk_probs = nd((size_t)T * 20);
        // NEXT, norm and raw lenses
        ExNext *x = &p->norm, *w = &p->raw, *q = &p->post_ln2;
        ExNext *all[3] = {x, w, q};
        for (int k = 0; k < 3; k++) {
            ExNext *e = all[k];
            e->present = 1;
            e->K = 5;
            e->top_ids = ni(NL * 5, 1);
            e->top_probs = nd(NL * 5);
            e->top_logits = nd(NL * 5);
            e->p_answer = nd(NL);
            e->answer_rank = ni(NL, -1);
            e->entropy_bits_pv = nd(NL);
            for (int i = 0; i < 3; i++) e->transform_kl[i] = NAN;
        }
        x->entropy_bits = nd(NL); x->answer_logit = nd(NL); x->p_contrast = nd(NL); x->kl_to_final_bits = nd(NL);
        x->kl_to_final_bits_norm_temp = nd(NL); x->cos_to_final = nd(NL); x->cos_to_answer = nd(NL);
        x->cos_to_prompt_max = nd(NL); x->echo_mass_prompt = nd(NL); x->resid_norm_ratio = nd(NL);
        x->delta_resid_cos = nd(NL); x->raw_resid_norm = nd(NL); x->max_abs_logit = nd(NL); x->min_prob = nd(NL);
        x->nonfinite = ni(NL, 0); x->repeat_rank_dev = ni(NL, 0); x->repeat_top1_flip = ni(NL, 0);
        x->n_scales = 4; x->scales = nd(4); x->scaled_p_answer = nd(NL * 4);
        x->scales[0] = 0.9; x->scales[1] = 0.95; x->scales[2] = 1.05; x->scales[3] = 1.1;
        x->n_temps = 1; x->temps = nd(1); x->last_temp_kl = nd(1);
        w->kl_norm_vs_raw_bits = nd(NL); w->kl_raw_to_norm_bits = nd(NL); w->js_divergence = nd(NL);
        w->l1_prob_diff = nd(NL); w->ranks_of_norm_top50 = ni(NL * 50, 1);
        json_t *pl = json_object_get(json_object_get(d, "normalization_provenance"), "per_layer");
        for (int L = 0; L < NL; L++) {
            size_t r = r0 + L;
            for (int k = 0; k < 5; k++) {
                char c1[16], c2[16];
                snprintf(c1, sizeof c1, "top%d", k + 1);
                snprintf(c2, sizeof c2, "prob%d", k + 1);
                x->top_ids[L * 5 + k] = k == 0 && have_raw ? I(&raw, r, "top1_token_id_norm") : id_of(C(&pure, r, c1));
                x->top_probs[L * 5 + k] = D(&pure, r, c2);
            }
            x->entropy_bits[L] = D(&pure, r, "entropy");
            // softmax(s·z)[a] is not in the files; P[a] itself stands in (the uniform-margin gate is
            // far from its threshold at every reference target, so the 4 scales agree with s = 1)
            for (int k = 0; k < 4; k++) x->scaled_p_answer[L * 4 + k] = D(&pure, r, "p_answer");
            x->p_answer[L] = D(&pure, r, "p_answer");
            x->answer_rank[L] = I(&pure, r, "answer_rank");
            x->kl_to_final_bits[L] = D(&pure, r, "kl_to_final_bits");
            x->kl_to_final_bits_norm_temp[L] = D(&pure, r, "kl_to_final_bits_norm_temp");
            x->cos_to_final[L] = D(&pure, r, "cos_to_final");
            x->cos_to_answer[L] = D(&pure, r, "cos_to_answer");
            x->cos_to_prompt_max[L] = D(&pure, r, "cos_to_prompt_max");
            x->echo_mass_prompt[L] = D(&pure, r, "echo_mass_prompt");
            x->resid_norm_ratio[L] = D(&pure, r, "resid_norm_ratio");
            x->delta_resid_cos[L] = D(&pure, r, "delta_resid_cos");
            if (pi == 0) x->raw_resid_norm[L] = json_real_value(json_object_get(json_array_get(pl, L), "raw_resid_norm"));
            else x->raw_resid_norm[L] = 1.0;
            if (ctl) x->p_contrast[L] = x->p_answer[L] - D(&pure, r, "control_margin");
            // logits: only the gaps are known; place z[top1] = 0
            double gap = D(&pure, r, "answer_logit_gap"), vs = D(&pure, r, "answer_vs_top1_gap");
            x->top_logits[L * 5] = 0;
            x->top_logits[L * 5 + 1] = isnan(gap) ? -1e-3 : -gap;
            x->answer_logit[L] = isnan(vs) ? 0 : vs;
            if (!have_raw) { memcpy(q->top_ids + L * 5, x->top_ids + L * 5, 5 * sizeof(int)); continue; }
            x->entropy_bits_pv[L] = D(&raw, r, "entropy_bits_norm");
            w->top_ids[L * 5] = I(&raw, r, "top1_token_id_raw");
            w->top_probs[L * 5] = D(&raw, r, "p_top1_raw");
            w->top_probs[L * 5 + 1] = 0;
            w->p_answer[L] = D(&raw, r, "p_answer_raw");
            w->answer_rank[L] = I(&raw, r, "answer_rank_raw");
            w->entropy_bits_pv[L] = D(&raw, r, "entropy_bits_raw");
            w->kl_norm_vs_raw_bits[L] = D(&raw, r, "kl_norm_vs_raw_bits");
            w->kl_raw_to_norm_bits[L] = D(&raw, r, "kl_raw_to_norm_bits");
            w->js_divergence[L] = D(&raw, r, "js_divergence");
            w->l1_prob_diff[L] = D(&raw, r, "l1_prob_diff");
            memcpy(q->top_ids + L * 5, x->top_ids + L * 5, 5 * sizeof(int));
            q->answer_rank[L] = x->answer_rank[L];
        }
        for (size_t i = 0; pi == 0 && i < json_array_size(dpt); i++) {
            json_t *t = json_array_get(dpt, i);
            int L = (int)json_integer_value(json_object_get(t, "layer"));
            memcpy(q->top_ids + L * 5, x->top_ids + L * 5, 5 * sizeof(int));
            x->top_ids[L * 5] = (int)json_integer_value(json_object_get(t, "top1_id_next_ln1"));
            q->top_ids[L * 5] = (int)json_integer_value(json_object_get(t, "top1_id_post_ln2"));
            q->answer_rank[L] = (int)json_integer_value(json_object_get(t, "answer_rank_post_ln2"));
            q->p_answer[L] = json_real_value(json_object_get(t, "p_answer_post_ln2"));
            q->top_probs[L * 5] = json_real_value(json_object_get(t, "p_top1_post_ln2"));
        }
    }
    // auxiliary prompts and the model head as the JSON shows them (their writers are checked)
    json_t *tp = json_object_get(rj, "test_prompts"), *te = json_object_get(rj, "temperature_exploration");
    run->n_test = (int)json_array_size(tp);
    run->test_k = 10;
    run->test_text = xcalloc(run->n_test + 1, sizeof(char *));
    run->test_entropy = nd(run->n_test + 1);
    run->test_ids = ni((size_t)(run->n_test + 1) * 10, -1);
    run->test_probs = nd((size_t)(run->n_test + 1) * 10);
    for (int i = 0; i < run->n_test; i++) {
        json_t *e = json_array_get(tp, i), *tk = json_object_get(e, "topk");
        run->test_text[i] = xstrdup(json_string_value(json_object_get(e, "prompt")));
        run->test_entropy[i] = json_real_value(json_object_get(e, "entropy"));
        for (size_t k = 0; k < json_array_size(tk) && k < 10; k++) {
            run->test_ids[i * 10 + k] = id_of(json_string_value(json_array_get(json_array_get(tk, k), 0)));
            run->test_probs[i * 10 + k] = json_real_value(json_array_get(json_array_get(tk, k), 1));
        }
    }
    run->n_temp = (int)json_array_size(te);
    run->temp_k = 15;
    run->temp_values = nd(run->n_temp + 1);
    run->temp_entropy = nd(run->n_temp + 1);
    run->temp_ids = ni((size_t)(run->n_temp + 1) * 15, -1);
    run->temp_probs = nd((size_t)(run->n_temp + 1) * 15);
    for (int i = 0; i < run->n_temp; i++) {
        json_t *e = json_array_get(te, i), *tk = json_object_get(e, "topk");
        run->temp_values[i] = json_real_value(json_object_get(e, "temperature"));
        run->temp_entropy[i] = json_real_value(json_object_get(e, "entropy"));
        for (size_t k = 0; k < json_array_size(tk) && k < 15; k++) {
            run->temp_ids[i * 15 + k] = id_of(json_string_value(json_array_get(json_array_get(tk, k), 0)));
            run->temp_probs[i * 15 + k] = json_real_value(json_array_get(json_array_get(tk, k), 1));
        }
    }
    ExPass *p0 = &run->passes[0];
    int NEXT = p0->T - 1;
    json_t *fp = json_object_get(rj, "final_prediction"), *ftk = json_object_get(fp, "topk");
    p0->final_entropy_bits[NEXT] = json_real_value(json_object_get(fp, "entropy"));
    for (size_t k = 0; k < json_array_size(ftk) && k < 20; k++) {
        p0->final_topk_ids[NEXT * 20 + k] = id_of(json_string_value(json_array_get(json_array_get(ftk, k), 0)));
        p0->final_topk_probs[NEXT * 20 + k] = json_real_value(json_array_get(json_array_get(ftk, k), 1));
    }
    // §9 temperature probe: only its minimum is in the JSON
    json_t *ll = json_object_get(d, "last_layer_consistency");
    p0->norm.temps[0] = json_real_value(json_object_get(ll, "temp_est"));
    p0->norm.last_temp_kl[0] = json_real_value(json_object_get(ll, "kl_after_temp_bits"));
    json_t *ms = json_object_get(rj, "model_stats");
    run->n_heads = json_integer_value(json_object_get(ms, "n_heads"));
    run->d_model = json_integer_value(json_object_get(ms, "d_model"));
    run->n_ctx = json_integer_value(json_object_get(ms, "n_ctx"));
    run->decoded = xcalloc(NV, sizeof(char *));
    run->pieces = xcalloc(NV, sizeof(char *));
    for (int i = 0; i < NV; i++) { run->decoded[i] = xstrdup(vocab[i] ? vocab[i] : ""); run->pieces[i] = xstrdup(""); }
    // raw vocabulary strings of the answer ids, as the alignment entries show them
    for (size_t i = 0; i < json_array_size(gp); i++) {
        json_t *e = json_array_get(gp, i), *ids = json_object_get(e, "answer_ids"), *pcs = json_object_get(e, "pieces");
        for (size_t k = 0; k < json_array_size(pcs) && k < json_array_size(ids); k++) {
            int id = (int)json_integer_value(json_array_get(ids, k));
            free(run->pieces[id]);
            run->pieces[id] = xstrdup(json_string_value(json_array_get(pcs, k)));
        }
    }
    for (int i = 0; i < NV; i++) free(vocab[i]);
    free(vocab);
    json_t *tn = json_object_get(d, "tau_norm_per_layer");
    run->tau_norm = nd(NL);
    for (int L = 0; L < NL; L++) run->tau_norm[L] = json_real_value(json_array_get(tn, L));
}

// JSON numbers must be equal doubles (so their repr text is equal), except where noted (cmp_loose)
static int cmp_loose;
static int num_eq(json_t *a, json_t *b) {
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return x == y || (cmp_loose && fabs(x - y) <= 1e-13 * fmax(1, fabs(y)));
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++) if (!num_eq(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b)) return 0;
        json_object_foreach(b, k, v) if (!num_eq(json_object_get(a, k), v)) return 0;
        return 1;
    }
    return json_equal(a, b);
}

static json_t *at(json_t *j, const char *path) {
    char *p = xstrdup(path), *save = NULL;
    for (char *k = strtok_r(p, "|", &save); k && j; k = strtok_r(NULL, "|", &save)) j = json_object_get(j, k);
    free(p);
    return j;
}

static void cmp_json(const char *path) {
    json_t *a = at(oj, path), *b = at(rj, path);
    // the least-squares fit of the norm trajectory: the reference's summation order is not
    // recoverable from its outputs (numpy vs Python sums each match some models); last-bit level
    cmp_loose = strstr(path, "norm_trajectory") != NULL;
    CHECKF(b != NULL, "reference lacks %s", path);
    if (!num_eq(a, b)) {
        printf("    [%s]\n", model);
        char *sa = a ? json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("(missing)");
        char *sb = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECKF(0, "%s:\n      ours %.300s\n      ref  %.300s", path, sa, sb);
        free(sa); free(sb);
    }
}

static void tables_free(void) {
    CsvTable *ts[] = {&pure, &raw, &rec, &ours_pure, &ours_raw, &ours_rec, &ours_ms, &ref_ms, &ours_win};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) { if (ts[i]->cells || ts[i]->header) csv_table_free(ts[i]); memset(ts[i], 0, sizeof *ts[i]); }
    if (rj) json_decref(rj);
    if (oj) json_decref(oj);
    rj = oj = NULL;
}

static int setup(const char *m) {
    tables_free();
    model = m;
    const char *s = getenv("LW_SHARED");
    snprintf(ref, sizeof ref, "%s/reference/logos-run-latest", s && *s ? s : "../shared");
    if (!lw_is_dir(ref)) snprintf(ref, sizeof ref, "/work/shared/reference/logos-run-latest");
    LwError e = {0};
    char *p;
    json_error_t je;
    p = xasprintf("%s/output-%s.json", ref, model);
    rj = json_load_file(p, 0, &je);
    free(p);
    if (!rj) return -1;
    NL = (int)json_integer_value(at(rj, "model_stats|num_layers")) + 1;
    NV = (int)json_integer_value(at(rj, "model_stats|d_vocab"));
    vocab = xcalloc(NV, sizeof(char *));
    next_free = 1000;
#define RD(t, dir, suf) do { p = xasprintf("%s/output-%s%s.csv", dir, model, suf); if (csv_table_read(p, &t, &e)) { printf("%s\n", e.msg); return -1; } free(p); } while (0)
    RD(pure, ref, "-pure-next-token");
    RD(ref_ms, ref, "-milestones");
    p = xasprintf("%s/output-%s-records.csv", ref, model);
    have_rec = lw_file_exists(p);
    free(p);
    have_raw = have_rec;
    if (have_raw) RD(raw, ref, "-pure-next-token-rawlens");
    if (have_rec) RD(rec, ref, "-records");
    ExRun run;
    build(&run);
    LwRunConfig cfg;
    config_defaults(&cfg);
    snprintf(outdir, sizeof outdir, "/tmp/lwreplay.XXXXXX");
    if (!mkdtemp(outdir)) return -1;
    int rc = ex_export(&cfg, &run, outdir, &e);
    ex_run_free(&run);
    config_free(&cfg);
    if (rc) { printf("export: %s\n", e.msg); return -1; }
    RD(ours_pure, outdir, "-pure-next-token");
    RD(ours_ms, outdir, "-milestones");
    if (have_raw) RD(ours_raw, outdir, "-pure-next-token-rawlens");
    if (have_raw) RD(ours_win, outdir, "-pure-next-token-rawlens-window");
    if (have_rec) RD(ours_rec, outdir, "-records");
#undef RD
    p = xasprintf("%s/output-%s.json", outdir, model);
    oj = json_load_file(p, 0, &je);
    free(p);
    if (getenv("LW_KEEP")) printf("kept %s\n", outdir); // for inspection
    else {
        char *cmd = xasprintf("rm -rf %s", outdir);
        if (system(cmd)) {}
        free(cmd);
    }
    return oj ? 0 : -1;
}

static void cmp_table(const CsvTable *o, const CsvTable *r, const char *const *skip, const char *what) {
    CHECKF(o->n_rows == r->n_rows && o->n_cols == r->n_cols, "%s: %zux%d vs %zux%d", what, o->n_rows, o->n_cols, r->n_rows, r->n_cols);
    if (o->n_rows != r->n_rows || o->n_cols != r->n_cols) return;
    int bad = 0;
    for (int c = 0; c < r->n_cols; c++) {
        int sk = 0;
        for (int i = 0; skip && skip[i]; i++) sk |= !strcmp(skip[i], r->header[c]);
        if (sk) continue;
        for (size_t row = 0; row < r->n_rows; row++) {
            const char *a = csv_table_cell(o, row, c), *b = csv_table_cell(r, row, c);
            if (strcmp(a, b) && bad++ < 8) printf("    %s row %zu %s: ours '%s' ref '%s'\n", what, row, r->header[c], a, b);
        }
    }
    CHECKF(bad == 0, "%s: %d cells differ", what, bad);
}

TEST(pure_csv_cells_equal_reference) {
    // not derivable from what the reference files show: top-50 lists (jaccards, prompt mass in the
    // top-50); without the records CSV the prompt ids (copy rules) are unknown too
    const char *skip_full[] = {"topk_jaccard_raw_norm@50", "topk_jaccard_consecutive@50", "topk_prompt_mass@50", NULL};
    const char *skip_pure[] = {"topk_jaccard_raw_norm@50", "topk_jaccard_consecutive@50", "topk_prompt_mass@50",
                               "copy_collapse", "copy_strict@0.95", "copy_strict@0.7", "copy_strict@0.8", "copy_strict@0.9",
                               "copy_soft_k1@0.5", "copy_soft_k2@0.5", "copy_soft_k3@0.5", NULL};
    char what[96];
    snprintf(what, sizeof what, "%s pure", model);
    cmp_table(&ours_pure, &pure, have_rec ? skip_full : skip_pure, what);
}

TEST(rawlens_csv_cells_equal_reference) {
    const char *skip[] = {"topk_jaccard_raw_norm@50", "topk_jaccard_consecutive@50", NULL};
    cmp_table(&ours_raw, &raw, skip, "rawlens");
}

TEST(records_csv_cells_equal_reference) { cmp_table(&ours_rec, &rec, NULL, "records"); }

TEST(milestones_csv_equals_reference) { cmp_table(&ours_ms, &ref_ms, NULL, "milestones"); }

// OUTPUTS.md §6: the Mistral window CSV has 398 rows (the file itself is not in the reference);
// M§8.2: Germany orig checks 12 layers (radius 4), Germany no_filler 19 (radius 8: escalated)
TEST(window_csv_row_count) {
    CHECKF(ours_win.n_rows == 398, "%zu rows", ours_win.n_rows);
    size_t orig = 0, nf = 0;
    for (size_t r = 0; r < ours_win.n_rows; r++) {
        if (strcmp(C(&ours_win, r, "fact_index"), "0")) continue;
        if (!strcmp(C(&ours_win, r, "prompt_variant"), "orig")) orig++; else nf++;
    }
    CHECKF(orig == 2 * 12 && nf == 2 * 19, "Germany orig %zu rows, no_filler %zu", orig, nf);
}

// JSON values that need only the pure CSV (norm lens) and the JSON's own per-layer arrays
TEST(json_norm_summaries_equal_reference) {
    const char *paths[] = {
        "diagnostics|L_semantic", "diagnostics|first_kl_below_0.5", "diagnostics|first_kl_below_1.0",
        "diagnostics|first_rank_le_1", "diagnostics|first_rank_le_5", "diagnostics|first_rank_le_10",
        "diagnostics|L_copy_H", "diagnostics|answer_margin_thresholds", "diagnostics|entropy_gap_bits_percentiles",
        "diagnostics|entropy_gap_samples", "diagnostics|L_surface_to_meaning_norm",
        "diagnostics|answer_mass_at_L_surface_norm", "diagnostics|echo_mass_at_L_surface_norm", "diagnostics|L_geom_norm",
        "diagnostics|cos_to_answer_at_L_geom_norm", "diagnostics|cos_to_prompt_max_at_L_geom_norm",
        "diagnostics|cos_milestones", "diagnostics|depth_fractions|L_semantic_frac",
        "diagnostics|depth_fractions|first_rank_le_5_frac", "diagnostics|depth_fractions|L_semantic_run2_frac",
        "diagnostics|depth_fractions|L_semantic_strong_frac", "diagnostics|L_semantic_margin_ok",
        "diagnostics|semantic_margin|p_uniform", "diagnostics|semantic_margin|L_semantic_margin_ok_norm",
        "diagnostics|semantic_margin|margin_ok_at_L_semantic_norm", "diagnostics|semantic_margin|p_answer_at_L_semantic_norm",
        "diagnostics|semantic_gate|L_semantic_run2", "diagnostics|semantic_gate|L_semantic_strong",
        "diagnostics|semantic_gate|gap_at_L_semantic_norm", "diagnostics|kl_to_final_bits_norm_temp@25%",
        "diagnostics|kl_to_final_bits_norm_temp@50%", "diagnostics|kl_to_final_bits_norm_temp@75%",
        "diagnostics|norm_trajectory", "diagnostics|tau_norm_per_layer", "diagnostics|repeatability",
        "diagnostics|normalization_provenance|per_layer", "control_summary", "ablation_summary|L_sem_orig",
        "ablation_summary|L_sem_nf", "ablation_summary|delta_L_sem",
        "diagnostics|micro_suite|aggregates|L_semantic_norm_median", "diagnostics|micro_suite|aggregates|L_semantic_norm_iqr",
        "diagnostics|micro_suite|aggregates|n_missing", "diagnostics|micro_suite|aggregates|L_semantic_margin_ok_norm_median",
        "diagnostics|micro_suite|citations", "evaluation_pack|norm_trajectory", "evaluation_pack|entropy",
        "evaluation_pack|milestones|L_semantic_norm", "copy_flag_columns", "diagnostics|gate_stability_small_scale",
        "diagnostics|decoding_point|targets", "diagnostics|decoding_point|strategies", "diagnostics|decoding_point|arch",
        "diagnostics|gold_alignment_prompts", "diagnostics|gold_alignment", "gold_answer", "control_prompt|gold_answer",
        "control_prompt|gold_alignment", "prompt", "prompts", "test_prompts", "temperature_exploration",
        "final_prediction", "model_stats", "diagnostics|last_layer_consistency", "diagnostics|repeatability_forward",
        "diagnostics|type", "diagnostics|model", "diagnostics|device", "diagnostics|use_norm_lens",
        "diagnostics|use_fp32_unembed", "diagnostics|unembed_dtype", "diagnostics|first_block_ln1_type",
        "diagnostics|final_ln_type", "diagnostics|layernorm_bias_fix", "diagnostics|norm_alignment_fix",
        "diagnostics|layer0_norm_fix", "diagnostics|mixed_precision_fix", "diagnostics|layer0_position_info",
        "diagnostics|context_prompt", "diagnostics|target_prediction", "diagnostics|surface_diagnostics_config",
        "diagnostics|answer_margin_unit", "diagnostics|unembed_bias", "diagnostics|copy_soft_config",
        "diagnostics|copy_thresh", "diagnostics|copy_window_k", "diagnostics|copy_match_level",
        "diagnostics|copy_soft_threshold", "diagnostics|copy_soft_window_ks", "diagnostics|config",
        "measurement_guidance|notes", "measurement_guidance|notes_append", "provenance|env|dtype_compute",
        "provenance|env|device", "provenance|env|seed", "provenance|env|deterministic_algorithms",
        "provenance|env|cudnn_benchmark", "evaluation_pack|model", "evaluation_pack|n_layers",
        "raw_lens_check|mode",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) cmp_json(paths[i]);
    // decoding point per target and gate; Jaccard/Spearman need the top-50 lists (not in the files)
    json_t *a = json_deep_copy(at(oj, "diagnostics|decoding_point")), *b = json_deep_copy(at(rj, "diagnostics|decoding_point"));
    json_t *lists[2] = {json_object_get(a, "per_target"), json_object_get(b, "per_target")};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < json_array_size(lists[k]); i++) {
            json_t *t = json_array_get(lists[k], i);
            json_object_del(t, "spearman_top50");
            json_object_del(t, "jaccard@10");
            json_object_del(t, "jaccard@50");
        }
    if (!num_eq(a, b)) {
        char *sa = json_dumps(a, JSON_COMPACT), *sb = json_dumps(b, JSON_COMPACT);
        CHECKF(0, "%s decoding_point:\n      ours %.600s\n      ref  %.600s", model, sa, sb);
        free(sa); free(sb);
    }
    json_decref(a);
    json_decref(b);
}

TEST(json_summaries_equal_reference) {
    const char *paths[] = {
        "diagnostics|L_copy", "diagnostics|L_copy_H", "diagnostics|L_semantic", "diagnostics|delta_layers",
        "diagnostics|first_kl_below_0.5", "diagnostics|first_kl_below_1.0", "diagnostics|first_rank_le_1",
        "diagnostics|first_rank_le_5", "diagnostics|first_rank_le_10", "diagnostics|L_copy_soft",
        "diagnostics|delta_layers_soft", "diagnostics|copy_detector", "diagnostics|answer_margin_thresholds",
        "diagnostics|entropy_gap_bits_percentiles", "diagnostics|entropy_gap_samples", "diagnostics|copy_thresholds",
        "diagnostics|L_surface_to_meaning_norm", "diagnostics|answer_mass_at_L_surface_norm",
        "diagnostics|echo_mass_at_L_surface_norm", "diagnostics|L_geom_norm", "diagnostics|cos_to_answer_at_L_geom_norm",
        "diagnostics|cos_to_prompt_max_at_L_geom_norm", "diagnostics|topk_prompt_tau_norm", "diagnostics|surface_delta_norm",
        "diagnostics|geom_gamma_norm", "diagnostics|cos_milestones", "diagnostics|depth_fractions",
        "diagnostics|L_semantic_margin_ok", "diagnostics|semantic_margin", "diagnostics|semantic_gate",
        "diagnostics|raw_lens_window", "diagnostics|raw_lens_full|pct_layers_kl_ge_1.0",
        "diagnostics|raw_lens_full|pct_layers_kl_ge_0.5", "diagnostics|raw_lens_full|n_norm_only_semantics_layers",
        "diagnostics|raw_lens_full|earliest_norm_only_semantic", "diagnostics|raw_lens_full|max_kl_norm_vs_raw_bits",
        "diagnostics|raw_lens_full|js_divergence_percentiles", "diagnostics|raw_lens_full|l1_prob_diff_percentiles",
        "diagnostics|raw_lens_full|first_js_le_0.1", "diagnostics|raw_lens_full|first_l1_le_0.5",
        "diagnostics|raw_lens_full|teacher_entropy_bits", "diagnostics|raw_lens_full|score",
        "diagnostics|repeatability", "diagnostics|kl_to_final_bits_norm_temp@25%",
        "diagnostics|kl_to_final_bits_norm_temp@50%", "diagnostics|kl_to_final_bits_norm_temp@75%",
        "diagnostics|gold_alignment_rate", "diagnostics|L_semantic_confirmed", "diagnostics|config",
        "diagnostics|micro_suite", "diagnostics|norm_trajectory", "diagnostics|tau_norm_per_layer",
        "raw_lens_check", "copy_flag_columns", "ablation_summary", "control_summary", "summary|micro_suite",
        "summary|semantic_margin", "summary|semantic_gate", "micro_suite",
        "evaluation_pack|milestones", "evaluation_pack|repeatability", "evaluation_pack|norm_trajectory",
        "evaluation_pack|entropy", "evaluation_pack|micro_suite", "evaluation_pack|artifact|lens_artifact_score",
        "evaluation_pack|artifact|lens_artifact_score_v2", "evaluation_pack|artifact|risk_tier",
        "evaluation_pack|artifact|js_divergence_p50", "evaluation_pack|artifact|l1_prob_diff_p50",
        "evaluation_pack|artifact|pct_layers_kl_ge_1.0", "evaluation_pack|artifact|n_norm_only_semantics_layers",
        "evaluation_pack|artifact|earliest_norm_only_semantic", "evaluation_pack|citations|layers",
        "evaluation_pack|alignment", "diagnostics|normalization_provenance|per_layer",
        "diagnostics|lens_consistency|targets", "diagnostics|normalization_provenance|strategy",
        "diagnostics|layer_map", "diagnostics|gold_alignment_prompts", "diagnostics|raw_lens_window",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) cmp_json(paths[i]);
    // confirmed_semantics except the tuned layer (no tuned lens here)
    json_t *a = at(oj, "diagnostics|confirmed_semantics"), *b = json_deep_copy(at(rj, "diagnostics|confirmed_semantics"));
    json_object_set_new(b, "L_semantic_tuned", json_null());
    CHECK(num_eq(a, b));
    json_decref(b);
}

static const char *MODELS[10] = {"Mistral-7B-v0.1", "Meta-Llama-3-8B", "Qwen3-8B", "gemma-2-9b", "Qwen3-14B",
                                 "gemma-2-27b", "Yi-34B", "Meta-Llama-3-70B", "Mistral-Small-24B-Base-2501", "Qwen2.5-72B"};

int main(void) {
    for (int m = 0; m < 10; m++) {
        if (setup(MODELS[m])) { printf("FAIL: %s: setup %s\n", __FILE__, MODELS[m]); return 1; }
        printf("model %s (n = %d, V = %d%s)\n", model, NL - 1, NV, have_rec ? ", every CSV kind" : ", pure CSV");
        RUN(pure_csv_cells_equal_reference);
        RUN(json_norm_summaries_equal_reference);
        if (have_rec) {
            RUN(rawlens_csv_cells_equal_reference);
            RUN(records_csv_cells_equal_reference);
            RUN(milestones_csv_equals_reference);
            RUN(window_csv_row_count);
            RUN(json_summaries_equal_reference);
        }
    }
    tables_free();
    return test_summary();
}
