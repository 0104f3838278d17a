// Unit tests of the tuned lens's export rules and JSON/CSV writers (src/export/export_tuned.c,
// METRICS.md §19.3–§19.7, §15; OUTPUTS.md §7, §8, §11). Inputs are the in-memory fixture run of
// ex_fixture.h plus hand-planted tuned arrays; every expected value is derived by hand in the
// comment next to it. Key order and names are compared with the reference pipeline's Mistral-7B
// JSON (../shared/reference/logos-run-latest, the only reference with a tuned lens).
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>

#include "ex_fixture.h"
#include "export/export_rules.h"
#include "export/export_tuned.h"
#include "export/pyfmt.h"
#include "test.h"

static const char *ref_dir(void) {
    static char buf[512];
    const char *s = getenv("LW_SHARED");
    snprintf(buf, sizeof buf, "%s/reference/logos-run-latest", s && *s ? s : "../shared");
    if (!lw_is_dir(buf)) snprintf(buf, sizeof buf, "/work/shared/reference/logos-run-latest");
    return buf;
}

// ---------------------------------------------------------------------------- threshold rules

TEST(calibration_only_both_sides) {
    // §19.4: (rot_p50 < 0.2) ∧ (temp_p50 ≥ 0.8·tuned_p50)
    CHECK(ex_tuned_calibration_only(0.19, 0.8, 1.0) == 1);
    CHECK(ex_tuned_calibration_only(0.2, 0.8, 1.0) == 0);   // rot not < 0.2
    CHECK(ex_tuned_calibration_only(0.1, 0.79, 1.0) == 0);  // temp < 0.8·tuned
    CHECK(ex_tuned_calibration_only(0.1, 0.8, 1.0) == 1);   // temp = 0.8·tuned passes (≥)
    CHECK(ex_tuned_calibration_only(NAN, 0.8, 1.0) == 0);
    // the Gemma-2-27B reference numbers: rot -0.0295, temp 0.528, tuned 0.519 -> true
    CHECK(ex_tuned_calibration_only(-0.029490209108750776, 0.5280555312091693, 0.5190518954711969) == 1);
    // Mistral-7B: rot 2.21 -> false
    CHECK(ex_tuned_calibration_only(2.2116408237515386, -0.2633357074175118, 4.144432417047135) == 0);
}

TEST(hint_both_sides) {
    CHECK_STR(ex_tuned_hint(1, 5.0), "tuned_for_calibration_only");
    CHECK_STR(ex_tuned_hint(0, 0.21), "tuned");   // delta_kl_tuned_p50 > 0.2
    CHECK_STR(ex_tuned_hint(0, 0.2), "norm");     // not > 0.2
    CHECK_STR(ex_tuned_hint(0, 0.0), "norm");     // Gemma-2-9B: tuned_p50 0.0 -> "norm"
    CHECK_STR(ex_tuned_hint(0, NAN), "norm");
}

TEST(prefer_tuned_three_conditions) {
    // §19.5: ΔKL_rot(p50) ≥ 0.2 ∨ d ≥ 2 ∨ d ≥ round(0.05·n), d = le5(norm) − le5(tuned)
    CHECK(ex_tuned_prefer(0.2, 10, 10, 40) == 1);   // rot exactly 0.2
    CHECK(ex_tuned_prefer(0.19, 10, 10, 40) == 0); // rot below, d = 0, round(2.0) = 2
    CHECK(ex_tuned_prefer(0.0, 12, 10, 40) == 1);  // d = 2
    CHECK(ex_tuned_prefer(0.0, 11, 10, 30) == 0);  // d = 1 < round(1.5) = 2
    CHECK(ex_tuned_prefer(0.0, 11, 10, 29) == 1);  // d = 1 ≥ round(1.45) = 1
    CHECK(ex_tuned_prefer(0.0, 10, 10, 10) == 1);  // d = 0 ≥ round(0.5) = 0 (half to even)
    CHECK(ex_tuned_prefer(0.0, 9, 10, 10) == 0);   // d = -1
    CHECK(ex_tuned_prefer(0.0, -1, 10, 10) == 0);  // le5(norm) missing: no d
    CHECK(ex_tuned_prefer(0.0, 10, -1, 10) == 0);
}

TEST(ppl_delta) {
    // (e^tuned − e^base) / e^base: losses ln 4 and ln 2 -> (4 − 2) / 2 = 1
    CHECK_NEAR(ex_tuned_ppl_delta(log(4.0), log(2.0)), 1.0, 1e-12);
    CHECK_NEAR(ex_tuned_ppl_delta(log(2.0), log(2.0)), 0.0, 1e-12);
}

// ---------------------------------------------------------------------------- planted run

// A tuned artifact directory with a provenance.json in fit-tuned's format (docs/TUNED.md; the
// safetensors file is not read by the export).
static const char *PROV =
    "{\"format\": \"lensweep-tuned\", \"version\": 1, \"model_name\": \"Tiny-Model\", \"d_model\": 8,"
    " \"n_layers\": 4, \"vocab\": 64, \"rank\": 64, \"has_preconditioner\": false, \"final_identity\": true,"
    " \"temperature_eps\": 0.001, \"temperatures\": [0.5, 0.7, 0.6, 1.0],"
    " \"corpus\": {\"path\": \"/c/corpus.txt\", \"sha256\": \"abc\", \"format\": \"text\", \"n_tokens\": 100000},"
    " \"training\": {\"seed\": 316, \"steps\": 10, \"total_steps\": 10, \"tokens_seen\": 655360, \"micro_batch\": 32,"
    " \"grad_accum\": 4, \"seq_len\": 512, \"tokens_per_step\": 65536, \"k_layers\": 3, \"p_pos\": 12,"
    " \"betas\": [0.9, 0.999], \"lr\": 0.001, \"weight_decay\": 0.0001, \"regularization\": {\"l2\": 0.0001,"
    " \"smooth\": 0.0001}, \"position_window\": [307, 487], \"device\": \"cpu\", \"dtype\": \"float32\"}, \"final_loss\": [5.0, 6.0, null],"
    " \"created_utc\": \"2026-12-07T18:57:03Z\"}\n";

static const char *art_dir(void) {
    static char dir[64];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "/tmp/lw_tuned_art_XXXXXX");
    if (!mkdtemp(dir)) { dir[0] = 0; return "/nonexistent"; }
    char *p = xasprintf("%s/provenance.json", dir);
    FILE *f = fopen(p, "w");
    if (f) { fputs(PROV, f); fclose(f); }
    free(p);
    return dir;
}

typedef struct {
    ExTunedPass tp[11];
    ExTunedIn in;
    double *vars[11][2];
    int *vranks[11][2];
    double *pos_d[11][4];
    int *pos_i[11][2];
    double frac[3];
    int pidx[3];
} Planted;

static void set_row0_missing(ExNext *x) {
    for (int k = 0; k < x->K; k++) { x->top_ids[k] = -1; x->top_probs[k] = NAN; x->top_logits[k] = NAN; }
    double *cols[] = {x->entropy_bits, x->p_answer, x->answer_logit, x->p_contrast, x->kl_to_final_bits,
                      x->cos_to_final, x->cos_to_answer, x->cos_to_prompt_max, x->echo_mass_prompt};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cols[i][0] = NAN;
    x->answer_rank[0] = -1;
}

// The tuned lens for every pass. Primary pass (Germany orig): ranks [-, 20, 8, 3, 1], KL
// [-, 3, 1.0, 0.5, 0], entropy [-, 5, 4, 3, 2] (teacher 2.0), p_answer[4] = 0.9, ctl/no_filler
// p_answer chosen per test. Audit arrays in every pos/orig pass; Canada's (pass 8) planted:
// norm KL there is the fixture's [6, 6, 6, 6, 0].
static void plant(Planted *pl, ExRun *run, double p_skip) {
    memset(pl, 0, sizeof *pl);
    pl->frac[0] = 0.2; pl->frac[1] = (double)0.92f; pl->frac[2] = 0.98; // 0.92 as a float32 label
    pl->pidx[0] = 1; pl->pidx[1] = 3; pl->pidx[2] = 5;
    for (int i = 0; i < 11; i++) {
        ExTunedPass *t = &pl->tp[i];
        fx_next(&t->next, "norm", 3);
        set_row0_missing(&t->next);
        t->next.ranks_of_norm_top50 = fx_i(FX_L1 * 50, -1);
        t->teacher_entropy_bits = 2.0;
        t->kl_bits_tuned_final = 0.0;
        t->tau_star_modelcal = 1.0;
        t->kl_bits_tuned_final_after_tau_star = 0.0;
        const ExPass *p = &run->passes[i];
        if (!strcmp(p->prompt_id, "pos") && !strcmp(p->variant, "orig")) {
            int canada = p->fact_index == 4;
            double kt[5] = {NAN, 4, 3, 2, 0}, kr[5] = {NAN, 5, 5.5, 4, 0}, kp[5] = {NAN, 6.1, 6.2, 5.9, 0};
            pl->vars[i][0] = fx_d(FX_L1, NAN);
            pl->vars[i][1] = fx_d(FX_L1, NAN);
            pl->vranks[i][0] = fx_i(FX_L1, -1);
            pl->vranks[i][1] = fx_i(FX_L1, -1);
            for (int L = 1; L < FX_L1; L++) {
                pl->vars[i][0][L] = canada ? kr[L] : p->norm.kl_to_final_bits[L];
                pl->vars[i][1][L] = canada ? kp[L] : p->norm.kl_to_final_bits[L];
                pl->vranks[i][0][L] = 5 - L;
                pl->vranks[i][1][L] = 7 - L;
                if (i != 0) t->next.kl_to_final_bits[L] = canada ? kt[L] : p->norm.kl_to_final_bits[L];
            }
            t->kl_rot_only_bits = pl->vars[i][0];
            t->kl_temp_only_bits = pl->vars[i][1];
            t->answer_rank_rot_only = pl->vranks[i][0];
            t->answer_rank_temp_only = pl->vranks[i][1];
            t->P = 3;
            t->pos_frac = pl->frac;
            t->pos_index = pl->pidx;
            for (int k = 0; k < 4; k++) pl->pos_d[i][k] = fx_d(FX_L1 * 3, NAN);
            for (int k = 0; k < 2; k++) pl->pos_i[i][k] = fx_i(FX_L1 * 3, -1);
            for (int L = 1; L < FX_L1; L++) {
                double tun[3] = {4, 2, 4.5}; // Δ = 1, 3 (in-dist), 0.5 (ood)
                for (int q = 0; q < 3; q++) {
                    pl->pos_d[i][0][L * 3 + q] = 5;
                    pl->pos_d[i][1][L * 3 + q] = canada ? tun[q] : 5;
                    pl->pos_d[i][2][L * 3 + q] = 7;
                    pl->pos_d[i][3][L * 3 + q] = 6;
                }
                pl->pos_i[i][0][L * 3 + 2] = L == 3 ? 1 : 4; // rank 1 at L = 3 (norm L_semantic), last position
                pl->pos_i[i][1][L * 3 + 2] = 2;
            }
            t->kl_norm_bits = pl->pos_d[i][0];
            t->kl_tuned_bits = pl->pos_d[i][1];
            t->entropy_norm_bits = pl->pos_d[i][2];
            t->entropy_tuned_bits = pl->pos_d[i][3];
            t->answer_rank_norm = pl->pos_i[i][0];
            t->answer_rank_tuned = pl->pos_i[i][1];
        }
        // §19.6: tuned p_answer at L = n−m+1 = 3 (m = 2) and L = 1 (m = 4)
        for (int L = 1; L < FX_L1; L++) t->next.p_answer[L] = p_skip;
    }
    ExNext *x = &pl->tp[0].next;
    int rank[5] = {-1, 20, 8, 3, 1};
    double kl[5] = {NAN, 3, 1.0, 0.5, 0}, H[5] = {NAN, 5, 4, 3, 2};
    for (int L = 1; L < FX_L1; L++) {
        x->answer_rank[L] = rank[L];
        x->kl_to_final_bits[L] = kl[L];
        x->entropy_bits[L] = H[L];
    }
    x->p_answer[4] = 0.9;
    // §15: at L = 3 the tuned top-50 is the norm top-50 shifted by 5 places, ranks of the norm
    // top-50 under the tuned lens 1..50; at L = 2 the same ids and reversed ranks
    const ExNext *nx = &run->passes[0].norm;
    for (int k = 0; k < 50; k++) {
        x->top_ids[3 * 50 + k] = (40 + 3 + 7 * (k + 5)) % FX_V;
        x->ranks_of_norm_top50[3 * 50 + k] = k + 1;
        x->top_ids[2 * 50 + k] = nx->top_ids[2 * 50 + k];
        x->ranks_of_norm_top50[2 * 50 + k] = 50 - k;
    }
    pl->in.present = 1;
    pl->in.artifact_path = art_dir();
    pl->in.passes = pl->tp;
}

static void unplant(Planted *pl) {
    for (int i = 0; i < 11; i++) {
        ExNext *x = &pl->tp[i].next;
        void *ptrs[] = {x->top_ids, x->top_probs, x->top_logits, x->p_answer, x->answer_rank, x->entropy_bits_pv,
                        x->entropy_bits, x->answer_logit, x->p_contrast, x->kl_to_final_bits,
                        x->kl_to_final_bits_norm_temp, x->cos_to_final, x->cos_to_answer, x->cos_to_prompt_max,
                        x->echo_mass_prompt, x->resid_norm_ratio, x->delta_resid_cos, x->raw_resid_norm,
                        x->max_abs_logit, x->min_prob, x->nonfinite, x->scales, x->scaled_p_answer,
                        x->repeat_rank_dev, x->repeat_top1_flip, x->temps, x->last_temp_kl, x->ranks_of_norm_top50};
        for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++) free(ptrs[k]);
        for (int k = 0; k < 2; k++) { free(pl->vars[i][k]); free(pl->vranks[i][k]); free(pl->pos_i[i][k]); }
        for (int k = 0; k < 4; k++) free(pl->pos_d[i][k]);
    }
}

typedef struct {
    ExRun run;
    LwRunConfig c;
    ExCopyCols cc;
    ExRows rows[11];
    ExSummary sums[11];
    Planted pl;
    ExTunedD d;
} World;

static void world_make(World *w, double p_skip, int audit_last_fact, int skip_block_quirk) {
    memset(w, 0, sizeof *w);
    fx_make(&w->run);
    config_defaults(&w->c);
    w->c.quirk_tuned_audit_last_fact = audit_last_fact;
    w->c.quirk_skip_layers_block_index = skip_block_quirk;
    ex_copy_cols(&w->c, &w->cc);
    for (int i = 0; i < 11; i++) {
        const ExPass *p = &w->run.passes[i];
        ex_rows_build(&w->c, &w->run, p, &p->norm, &p->raw, &w->cc, &w->rows[i]);
        ex_summary_build(&w->c, &w->run, p, &p->norm, &w->rows[i], &w->cc, &w->sums[i]);
        ex_summary_window(&w->c, &w->run, &w->sums[i], 4);
    }
    plant(&w->pl, &w->run, p_skip);
    ex_tuned_derive(&w->c, &w->run, &w->pl.in, &w->cc, w->sums, &w->d);
}

static void world_free(World *w) {
    ex_tuned_free(&w->d);
    for (int i = 0; i < 11; i++) { ex_rows_free(&w->rows[i]); ex_summary_free(&w->sums[i]); }
    unplant(&w->pl);
    ex_run_free(&w->run);
    config_free(&w->c);
}

static json_t *to_json(void (*fn)(World *, JsonW *), World *w) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    JsonW j;
    jw_init(&j, f);
    fn(w, &j);
    jw_finish(&j);
    fclose(f);
    json_error_t e;
    json_t *v = json_loads(buf, 0, &e);
    CHECKF(v != NULL, "JSON does not parse: %s\n%s", e.text, buf);
    free(buf);
    return v;
}

static double jnum(json_t *o, const char *path) {
    // dotted path; a component "#k" indexes an array
    char *p = xstrdup(path), *save = NULL;
    json_t *v = o;
    for (char *t = strtok_r(p, ".", &save); t && v; t = strtok_r(NULL, ".", &save))
        v = t[0] == '#' ? json_array_get(v, (size_t)atoi(t + 1)) : json_object_get(v, t);
    free(p);
    if (!v || json_is_null(v)) return NAN;
    if (json_is_true(v)) return 1;
    if (json_is_false(v)) return 0;
    return json_number_value(v);
}

static void w_top(World *w, JsonW *j) { ex_tuned_lens_json(&w->c, &w->run, &w->d, 1, j); }
static void w_diag(World *w, JsonW *j) { jw_obj(j); ex_tuned_diag_json(&w->c, &w->d, j); jw_end(j); }
static void w_pw(World *w, JsonW *j) { ex_tuned_position_window_json(&w->d, w->sums[0].L_semantic, j); }
static void w_lc(World *w, JsonW *j) {
    int layers[3] = {0, 3, 2};
    ex_tuned_consistency_json(&w->run, &w->d, layers, 3, j);
}

// ---------------------------------------------------------------------------- derivations

TEST(summary_metrics_and_attribution) {
    World w;
    world_make(&w, 0.5, 1, 1);
    json_t *t = to_json(w_top, &w);
    // rank milestones: norm ranks [30, 12, 4, 1, 1] -> le_10 = le_5 = 2, le_1 = 3; tuned
    // [-, 20, 8, 3, 1] -> le_10 = 2, le_5 = 3, le_1 = 4; delta = tuned − baseline
    CHECK(jnum(t, "summary.metrics.rank_milestones.baseline.le_10") == 2);
    CHECK(jnum(t, "summary.metrics.rank_milestones.baseline.le_1") == 3);
    CHECK(jnum(t, "summary.metrics.rank_milestones.tuned.le_10") == 2);
    CHECK(jnum(t, "summary.metrics.rank_milestones.tuned.le_5") == 3);
    CHECK(jnum(t, "summary.metrics.rank_milestones.tuned.le_1") == 4);
    CHECK(jnum(t, "summary.metrics.rank_milestones.delta.le_10") == 0);
    CHECK(jnum(t, "summary.metrics.rank_milestones.delta.le_5") == 1);
    CHECK(jnum(t, "summary.metrics.rank_milestones.delta.le_1") == 1);
    // depth layers of n = 4: 1, 2, 3; norm KL 5, 2, 0.8; tuned 3, 1.0, 0.5; delta = baseline − tuned
    CHECK_NEAR(jnum(t, "summary.metrics.kl_bits_at_percentiles.baseline.p25"), 5.0, 0);
    CHECK_NEAR(jnum(t, "summary.metrics.kl_bits_at_percentiles.tuned.p50"), 1.0, 0);
    CHECK_NEAR(jnum(t, "summary.metrics.kl_bits_at_percentiles.delta.p25"), 2.0, 1e-12);
    CHECK_NEAR(jnum(t, "summary.metrics.kl_bits_at_percentiles.delta.p50"), 1.0, 1e-12);
    CHECK_NEAR(jnum(t, "summary.metrics.kl_bits_at_percentiles.delta.p75"), 0.3, 1e-12);
    // first KL <= 1.0 (inclusive): norm 3, tuned 2 (KL exactly 1.0); delta = tuned − baseline = -1
    json_t *fk = json_object_get(json_object_get(json_object_get(t, "summary"), "metrics"), "first_kl_le_1.0");
    CHECK(json_integer_value(json_object_get(fk, "baseline")) == 3);
    CHECK(json_integer_value(json_object_get(fk, "tuned")) == 2);
    CHECK(json_integer_value(json_object_get(fk, "delta")) == -1);
    // attribution: ΔKL_tuned = [2, 1, 0.3]; ΔKL_temp = KL − KL_norm_temp (5.5) = [-0.5, -3.5, -4.7];
    // ΔKL_rot = tuned − temp = [2.5, 4.5, 5.0]; prefer_tuned: rot p50 4.5 ≥ 0.2
    json_t *ap = json_object_get(json_object_get(t, "attribution"), "percentiles");
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(ap, "p25"), "\xce\x94KL_tuned")), 2.0, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(ap, "p50"), "\xce\x94KL_temp")), -3.5, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(json_object_get(ap, "p75"), "\xce\x94KL_rot")), 5.0, 1e-12);
    CHECK(json_is_true(json_object_get(json_object_get(t, "attribution"), "prefer_tuned")));
    CHECK_STR(json_string_value(json_object_get(t, "status")), "loaded");
    CHECK_STR(json_string_value(json_object_get(t, "path")), art_dir());
    // provenance mapped from the artifact's provenance.json: tl_version from created_utc; effective
    // batch 32·4; samples 655360 / 512 = 1280; final loss mean of 5, 6; position window 307/512,
    // 487/512 -> [0.6, 0.95]; temperatures [0.5, 0.7, 0.6, 1.0] -> sorted 0.5, 0.6, 0.7, 1.0:
    // p25 at r = 0.75 -> 0.575, p50 0.65, p75 at r = 2.25 -> 0.775; tokens 65536·10
    CHECK_STR(json_string_value(json_object_get(json_object_get(t, "provenance"), "tl_version")), "20261207T1857Z");
    CHECK(jnum(t, "provenance.training.effective_batch") == 128);
    CHECK(jnum(t, "provenance.training.dataset.samples_streamed") == 1280);
    CHECK_NEAR(jnum(t, "provenance.training.final_loss"), 5.5, 0);
    // device and dtype: the artifact's training.device / training.dtype, as written
    json_t *ptr = json_object_get(json_object_get(t, "provenance"), "training");
    CHECK_STR(json_string_value(json_object_get(ptr, "device")), "cpu");
    CHECK_STR(json_string_value(json_object_get(ptr, "dtype")), "float32");
    CHECK_NEAR(jnum(t, "provenance.training.dataset.position_fraction_range.#0"), 0.6, 0);
    CHECK_NEAR(jnum(t, "provenance.training.dataset.position_fraction_range.#1"), 0.95, 0);
    CHECK_NEAR(jnum(t, "provenance_snapshot.temperatures_stats.p25"), 0.575, 1e-15);
    CHECK_NEAR(jnum(t, "provenance_snapshot.temperatures_stats.p50"), 0.65, 1e-15);
    CHECK_NEAR(jnum(t, "provenance_snapshot.temperatures_stats.p75"), 0.775, 1e-15);
    CHECK_NEAR(jnum(t, "provenance_snapshot.temperatures_stats.max"), 1.0, 0);
    CHECK_NEAR(jnum(t, "provenance_snapshot.fit_total_tokens_est"), 655360.0, 0);
    CHECK(json_array_size(json_object_get(t, "summaries")) == 11);
    json_decref(t);
    world_free(&w);
}

TEST(per_pass_summary_tuned_layers) {
    World w;
    world_make(&w, 0.5, 1, 1);
    json_t *t = to_json(w_top, &w);
    json_t *s0 = json_array_get(json_object_get(t, "summaries"), 0);
    // L_semantic = first rank 1 = 4; first_kl_below_1.0 = 2, below_0.5 = 3 (inclusive)
    CHECK(jnum(s0, "L_semantic") == 4);
    CHECK(jnum(s0, "first_rank_le_10") == 2);
    CHECK(jnum(s0, "first_rank_le_5") == 3);
    CHECK(json_integer_value(json_object_get(s0, "first_kl_below_1.0")) == 2);
    CHECK(json_integer_value(json_object_get(s0, "first_kl_below_0.5")) == 3);
    // the top-k prompt mass at L = 0 is not a layer of the tuned lens (its row is empty: mass 0
    // would pass <= 0.33); at L = 1 the prompt ids 3, 4, 11 sit at places 49, 40, 41 of the tuned
    // list (30 is not in it): mass < 1e-11 <= 0.33 -> decay at L = 1
    CHECK(jnum(s0, "L_topk_decay_tuned") == 1);
    // entropy gap over L = 1..4: [5, 4, 3, 2] − 2 = [3, 2, 1, 0] -> p25 0.75, p50 1.5, p75 2.25; 4 samples
    CHECK_NEAR(jnum(s0, "entropy_gap_bits_percentiles.p25"), 0.75, 1e-12);
    CHECK_NEAR(jnum(s0, "entropy_gap_bits_percentiles.p50"), 1.5, 1e-12);
    CHECK_NEAR(jnum(s0, "entropy_gap_bits_percentiles.p75"), 2.25, 1e-12);
    CHECK(jnum(s0, "entropy_gap_samples") == 4);
    // semantic margin at L_semantic = 4: p 0.9 − 1/64 ≥ 0.002 -> true; the margin-ok layer is
    // null by the sidecar quirk (the tuned sidecar's semantic_margin_ok column is empty)
    CHECK(jnum(s0, "semantic_margin.margin_ok_at_L_semantic_norm") == 1);
    CHECK_NEAR(jnum(s0, "semantic_margin.p_answer_at_L_semantic_norm"), 0.9, 0);
    CHECK(isnan(jnum(s0, "semantic_margin.L_semantic_margin_ok_norm")));
    CHECK(isnan(jnum(s0, "L_semantic_margin_ok")));
    CHECK(isnan(jnum(s0, "semantic_gate.L_semantic_run2"))); // rank 1 only at L = 4 (no L + 1)
    json_decref(t);
    world_free(&w);
    // without the quirk the margin-ok layer is computed: 4
    World w2;
    world_make(&w2, 0.5, 1, 1);
    w2.c.quirk_sidecar_empty_columns = 0;
    ex_tuned_free(&w2.d);
    ex_tuned_derive(&w2.c, &w2.run, &w2.pl.in, &w2.cc, w2.sums, &w2.d);
    t = to_json(w_top, &w2);
    s0 = json_array_get(json_object_get(t, "summaries"), 0);
    CHECK(jnum(s0, "L_semantic_margin_ok") == 4);
    json_decref(t);
    world_free(&w2);
}

TEST(audit_summary_last_fact) {
    World w;
    world_make(&w, 0.5, 1, 1);
    CHECK(w.d.audit == 8); // Canada→Ottawa orig
    json_t *t = to_json(w_top, &w);
    json_t *a = json_object_get(t, "audit_summary");
    // Canada: base KL [6, 6, 6, 0]; Δ_tuned = [2, 3, 4, 0] -> p50 2.5; Δ_rot = [1, 0.5, 2, 0] ->
    // p25 0.375, p50 0.75, p75 1.25; Δ_temp = [-0.1, -0.2, 0.1, 0] -> -0.125, -0.05, 0.025;
    // interaction = Δ_tuned − (Δ_rot + Δ_temp) = [1.1, 2.7, 1.9, 0] -> p50 1.5
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_rot_p25"), 0.375, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_rot_p50"), 0.75, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_rot_p75"), 1.25, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_temp_p25"), -0.125, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_temp_p50"), -0.05, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_temp_p75"), 0.025, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_interaction_p50"), 1.5, 1e-12);
    CHECK_NEAR(jnum(a, "rotation_vs_temperature.delta_kl_tuned_p50"), 2.5, 1e-12);
    // positional: Δ = 1, 3 at 0.2 and 0.92 (a float32 label, still <= 0.92), 0.5 at 0.98
    json_t *pos = json_object_get(a, "positional");
    CHECK_NEAR(json_number_value(json_object_get(pos, "pos_in_dist_le_0.92")), 2.0, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(pos, "pos_ood_ge_0.96")), 0.5, 1e-12);
    CHECK_NEAR(json_number_value(json_object_get(pos, "pos_ood_gap")), -1.5, 1e-12);
    CHECK_NEAR(json_number_value(json_array_get(json_object_get(pos, "pos_grid"), 1)), 0.92, 0);
    CHECK(!json_is_true(json_object_get(a, "tuned_is_calibration_only"))); // rot p50 0.75 ≥ 0.2
    CHECK_STR(json_string_value(json_object_get(a, "preferred_semantics_lens_hint")), "tuned"); // 2.5 > 0.2
    CHECK_NEAR(jnum(a, "head_mismatch.tau_star_modelcal"), 1.0, 0);
    json_decref(t);
    world_free(&w);
    // quirk off: the audit describes Germany, whose rot/temp variants equal the norm lens (Δ 0)
    // and whose tuned KL [3, 1.0, 0.5, 0] against norm [5, 2, 0.8, 0] gives Δ_tuned [2, 1, 0.3, 0]
    // -> p50 0.65: not calibration-only (temp p50 0 < 0.8·0.65), hint "tuned" (0.65 > 0.2)
    World w2;
    world_make(&w2, 0.5, 0, 1);
    CHECK(w2.d.audit == 0);
    CHECK_NEAR(w2.d.rot_p[1], 0.0, 0);
    CHECK_NEAR(w2.d.temp_p[1], 0.0, 0);
    CHECK_NEAR(w2.d.tuned_p50, 0.65, 1e-12);
    CHECK(w2.d.calib_only == 0);
    CHECK_STR(w2.d.hint, "tuned");
    world_free(&w2);
}

TEST(skip_layers_both_sides) {
    // P_final[a] = 0.5 for Germany orig / no_filler (Berlin) and control (Paris) (fixture head);
    // tuned p_answer p at every layer: ppl_delta = (1/p − 1/0.5)·0.5 = 0.5/p − 1 (1e-12 guard negligible)
    World w;
    world_make(&w, 0.5 / 1.21, 1, 1);
    json_t *t = to_json(w_diag, &w);
    CHECK_NEAR(jnum(t, "skip_layers_sanity.m=2"), 0.21, 1e-9);
    CHECK_NEAR(jnum(t, "skip_layers_sanity.m=4"), 0.21, 1e-9);       // L = 1
    CHECK(json_is_null(json_object_get(json_object_get(t, "skip_layers_sanity"), "m=8"))); // L = -3: none
    CHECK(json_is_true(json_object_get(t, "tuned_lens_regression"))); // 0.21 > 0.20
    CHECK_NEAR(jnum(t, "tuned_lens_skip_warning"), 0.21, 1e-9);
    CHECK(jnum(t, "L_topk_decay_tuned") == 1);
    json_decref(t);
    world_free(&w);
    world_make(&w, 0.5 / 1.19, 1, 1);
    t = to_json(w_diag, &w);
    CHECK_NEAR(jnum(t, "skip_layers_sanity.m=2"), 0.19, 1e-9);
    CHECK(json_is_false(json_object_get(t, "tuned_lens_regression")));
    CHECK(json_object_get(t, "tuned_lens_skip_warning") == NULL);
    json_decref(t);
    world_free(&w);
    // quirk off: m = 2 reads layer n − m = 2; plant p there only
    world_make(&w, 0.5, 1, 0);
    for (int i = 0; i < 11; i++) w.pl.tp[i].next.p_answer[2] = 0.25; // 0.5/0.25 − 1 = 1
    ex_tuned_free(&w.d);
    ex_tuned_derive(&w.c, &w.run, &w.pl.in, &w.cc, w.sums, &w.d);
    CHECK_NEAR(w.d.skip[0], 1.0, 1e-9);
    CHECK(isnan(w.d.skip[1])); // m = 4: layer n − 4 = 0 has no tuned row
    world_free(&w);
}

TEST(position_window_both_sides) {
    World w;
    world_make(&w, 0.5, 1, 1);
    // norm L_semantic (Germany) = 3; Canada's positional rows at L = 3: rank 1 at the last of 3
    // positions -> 1/3 < 0.5: low stability
    json_t *t = to_json(w_pw, &w);
    CHECK_NEAR(jnum(t, "rank1_frac"), 1.0 / 3, 1e-15);
    CHECK(jnum(t, "n_positions") == 3);
    CHECK(jnum(t, "L_semantic_norm") == 3);
    CHECK(json_array_size(json_object_get(t, "grid")) == 3);
    CHECK(ex_tuned_pos_window_low(&w.d) == 1);
    json_decref(t);
    // two positions, one rank 1 -> 0.5: not low
    w.pl.tp[8].P = 2;
    w.pl.frac[1] = 0.98;
    for (int L = 0; L < FX_L1; L++) w.pl.pos_i[8][0][L * 2 + 1] = L == 3 ? 1 : 4;
    ex_tuned_free(&w.d);
    ex_tuned_derive(&w.c, &w.run, &w.pl.in, &w.cc, w.sums, &w.d);
    CHECK_NEAR(w.d.rank1_frac, 0.5, 0);
    CHECK(ex_tuned_pos_window_low(&w.d) == 0);
    world_free(&w);
    // without a tuned lens: grid [], n_positions 0, fractions null
    ExTunedD none;
    memset(&none, 0, sizeof none);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    JsonW j;
    jw_init(&j, f);
    ex_tuned_position_window_json(&none, 25, &j);
    jw_finish(&j);
    fclose(f);
    json_t *v = json_loads(buf, 0, NULL);
    CHECK(json_array_size(json_object_get(v, "grid")) == 0);
    CHECK(jnum(v, "n_positions") == 0);
    CHECK(json_is_null(json_object_get(v, "rank1_frac")));
    CHECK(jnum(v, "L_semantic_norm") == 25);
    json_decref(v);
    free(buf);
}

TEST(norm_vs_tuned_consistency) {
    World w;
    world_make(&w, 0.5, 1, 1);
    json_t *t = to_json(w_lc, &w);
    json_t *at = json_object_get(t, "at_targets");
    // L = 0: no tuned row -> null
    CHECK(json_is_null(json_object_get(json_array_get(at, 0), "jaccard@10")));
    // L = 3: the fixture's norm list is s(k) = (43 + 7k) mod 64 with s(0) replaced by id 2 = s(49),
    // so it holds 49 distinct ids; the tuned list is s(5..54) (50 ids). Top-10: s(1..9) + {2} vs
    // s(5..14) share 5 of 15 -> 1/3; top-50: share s(5..49) = 45 of 49 + 50 − 45 = 54 -> 5/6;
    // ranks 1..50 -> Pearson 1
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(at, 1), "jaccard@10")), 1.0 / 3, 1e-15);
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(at, 1), "jaccard@50")), 45.0 / 54, 1e-15);
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(at, 1), "spearman_top50")), 1.0, 1e-12);
    // L = 2: same ids, reversed ranks -> 1, 1, -1
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(at, 2), "jaccard@50")), 1.0, 0);
    CHECK_NEAR(json_number_value(json_object_get(json_array_get(at, 2), "spearman_top50")), -1.0, 1e-12);
    // p50 over the non-null entries: jaccard@10 of {1/3, 1} -> 2/3
    CHECK_NEAR(jnum(t, "p50.jaccard@10"), 2.0 / 3, 1e-15);
    json_decref(t);
    world_free(&w);
}

// ---------------------------------------------------------------------------- CSVs

static char *csv_text(World *w, int which) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (which == 0) ex_tuned_write_variants(&w->run, &w->d, f);
    else ex_tuned_write_positions(&w->run, &w->d, f);
    fclose(f);
    return buf;
}

TEST(variants_csv) {
    World w;
    world_make(&w, 0.5, 1, 1);
    char *s = csv_text(&w, 0);
    // header: OUTPUTS.md §7, 18 columns; rows: layers 1..n of Canada (n = 4)
    const char *head = "layer,kl_bits_baseline,kl_bits_tuned,kl_bits_rot_only,kl_bits_temp_only,delta_kl_bits_tuned,"
                       "delta_kl_bits_rot_only,delta_kl_bits_temp_only,delta_kl_bits_interaction,answer_rank_baseline,"
                       "answer_rank_tuned,answer_rank_rot_only,answer_rank_temp_only,rank_shift_tuned,"
                       "rank_shift_rot_only,rank_shift_temp_only,entropy_bits_baseline,entropy_bits_tuned\n";
    CHECK(!strncmp(s, head, strlen(head)));
    // layer 2 of Canada: base KL 6.0, tuned 3.0, rot 5.5, temp 6.2 -> Δ 3.0, 0.5, 6.0 − 6.2 (in
    // doubles), interaction 3 − (0.5 + (6 − 6.2)); ranks: norm 1 (fixture: Canada rank 1 from L = 0),
    // tuned 60, rot 5 − L = 3, temp 7 − L = 5 -> shifts -59, -2, -4; entropies 5.0 (fixture)
    char want[512], a[32], b[32];
    snprintf(want, sizeof want, "\n2,6.0,3.0,5.5,6.2,3.0,0.5,%s,%s,1,60,3,5,-59,-2,-4,5.0,5.0\n", py_float_repr(6.0 - 6.2, a),
             py_float_repr(3.0 - (0.5 + (6.0 - 6.2)), b));
    CHECKF(strstr(s, want) != NULL, "no row\n%s\nin\n%s", want, s);
    int rows = 0;
    for (char *q = s; *q; q++) rows += *q == '\n';
    CHECK(rows == 1 + 4);
    free(s);
    s = csv_text(&w, 1);
    const char *head2 = "pos_frac,pos_index,layer,kl_bits_baseline,kl_bits_tuned,delta_kl_bits_tuned,answer_rank_baseline,"
                        "answer_rank_tuned,rank_shift_tuned,entropy_bits_baseline,entropy_bits_tuned\n";
    CHECK(!strncmp(s, head2, strlen(head2)));
    // rows by layer then position; ranks only at the last position; the float32 0.92 label prints 0.92
    CHECK(strstr(s, "\n0.2,1,1,5.0,4.0,1.0,,,,7.0,6.0\n") != NULL);
    CHECK(strstr(s, "\n0.92,3,1,5.0,2.0,3.0,,,,7.0,6.0\n") != NULL);
    CHECK(strstr(s, "\n0.98,5,3,5.0,4.5,0.5,1,2,-1,7.0,6.0\n") != NULL);
    rows = 0;
    for (char *q = s; *q; q++) rows += *q == '\n';
    CHECK(rows == 1 + 4 * 3);
    free(s);
    world_free(&w);
}

// ---------------------------------------------------------------------------- keys against the reference

// Key paths of a JSON value in order (objects recursed; arrays: their first element as "[]").
static void key_paths(json_t *v, const char *pre, char ***out, int *n) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            char *p = xasprintf("%s/%s", pre, k);
            *out = xrealloc(*out, (*n + 1) * sizeof(char *));
            (*out)[(*n)++] = p;
            key_paths(x, p, out, n);
        }
    } else if (json_is_array(v) && json_array_size(v) && (json_is_object(json_array_get(v, 0)))) {
        char *p = xasprintf("%s[]", pre);
        key_paths(json_array_get(v, 0), p, out, n);
        free(p);
    }
}

static void same_keys(json_t *mine, json_t *ref, const char *what, const char *skip_prefix) {
    char **a = NULL, **b = NULL;
    int na = 0, nb = 0;
    key_paths(mine, "", &a, &na);
    key_paths(ref, "", &b, &nb);
    int j = 0;
    for (int i = 0; i < nb; i++) {
        if (skip_prefix && !strncmp(b[i], skip_prefix, strlen(skip_prefix))) continue;
        CHECKF(j < na && !strcmp(a[j], b[i]), "%s: key %d: mine %s, reference %s", what, j, j < na ? a[j] : "(end)", b[i]);
        if (j < na && strcmp(a[j], b[i])) break;
        j++;
    }
    CHECKF(j == na, "%s: %d keys of mine, %d matched the reference", what, na, j);
    for (int i = 0; i < na; i++) free(a[i]);
    for (int i = 0; i < nb; i++) free(b[i]);
    free(a); free(b);
}

TEST(keys_equal_reference) {
    char *path = xasprintf("%s/output-Mistral-7B-v0.1.json", ref_dir());
    json_t *ref = json_load_file(path, 0, NULL);
    CHECKF(ref != NULL, "%s", path);
    free(path);
    if (!ref) return;
    World w;
    world_make(&w, 0.3, 1, 1); // ppl_delta 0.5/0.3 − 1 > 0.2: the warning key exists, as in the reference
    json_t *t = to_json(w_top, &w);
    json_t *rt = json_deep_copy(json_object_get(ref, "tuned_lens"));
    same_keys(t, rt, "tuned_lens", NULL);
    json_t *d = to_json(w_diag, &w);
    json_t *rd = json_object(), *dg = json_object_get(ref, "diagnostics");
    const char *k;
    json_t *x;
    int on = 0;
    json_object_foreach(dg, k, x) { // the keys from L_surface_to_meaning_tuned to tuned_lens_regression
        if (!strcmp(k, "L_surface_to_meaning_tuned")) on = 1;
        if (on) json_object_set(rd, k, x);
        if (!strcmp(k, "tuned_lens_regression")) on = 0;
    }
    same_keys(d, rd, "diagnostics", NULL);
    json_t *pw = to_json(w_pw, &w);
    same_keys(pw, json_object_get(dg, "position_window"), "position_window", NULL);
    json_t *lc = to_json(w_lc, &w);
    same_keys(lc, json_object_get(json_object_get(dg, "lens_consistency"), "norm_vs_tuned"), "norm_vs_tuned", NULL);
    json_decref(t); json_decref(rt); json_decref(d); json_decref(rd); json_decref(pw); json_decref(lc);
    json_decref(ref);
    world_free(&w);
}

int main(void) {
    art_dir();
    RUN(calibration_only_both_sides);
    RUN(hint_both_sides);
    RUN(prefer_tuned_three_conditions);
    RUN(ppl_delta);
    RUN(summary_metrics_and_attribution);
    RUN(per_pass_summary_tuned_layers);
    RUN(audit_summary_last_fact);
    RUN(skip_layers_both_sides);
    RUN(position_window_both_sides);
    RUN(norm_vs_tuned_consistency);
    RUN(variants_csv);
    RUN(keys_equal_reference);
    char *rm = xasprintf("rm -rf %s", art_dir());
    if (system(rm)) {}
    free(rm);
    return test_summary();
}
