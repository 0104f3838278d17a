// Unit tests of `lensweep export`'s rules and text formats (src/export/export_rules.c, pyfmt.c):
// expectations are derived by hand (explained at each check) or read from the reference outputs
// of the Python pipeline (../shared/reference/logos-run-latest, an independent source).
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>

#include "ex_fixture.h"
#include "export/export_rules.h"
#include "export/pyfmt.h"
#include "tok/tok.h"
#include "test.h"

static const char *ref_dir(void) {
    static char buf[512];
    const char *s = getenv("LW_SHARED");
    snprintf(buf, sizeof buf, "%s/reference/logos-run-latest", s && *s ? s : "../shared");
    if (!lw_is_dir(buf)) snprintf(buf, sizeof buf, "/work/shared/reference/logos-run-latest");
    return buf;
}

static const char *MODELS[10] = {"Mistral-7B-v0.1", "Meta-Llama-3-8B", "Qwen3-8B", "gemma-2-9b", "Qwen3-14B",
                                 "gemma-2-27b", "Yi-34B", "Meta-Llama-3-70B", "Mistral-Small-24B-Base-2501", "Qwen2.5-72B"};

static json_t *load_ref(const char *model) {
    char *p = xasprintf("%s/output-%s.json", ref_dir(), model);
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    free(p);
    return j;
}

// ---------------------------------------------------------------------------- formats

TEST(float_repr_matches_python) {
    // Expected strings written by hand from Python's repr rules (shortest round trip; exponent
    // form below 1e-4 and from 1e16 with sign and two digits; integral values keep ".0").
    struct { double v; const char *s; } cases[] = {
        {1e-05, "1e-05"},
        {4.45477562607266e-05, "4.45477562607266e-05"}, // pure CSV prob1 of Mistral layer 0
        {0.0, "0.0"},
        {-0.0, "-0.0"},
        {(double)1.0000007f, "1.0000007152557373"}, // fp32 1.0000007 widened (cos_to_final > 1)
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {0.0001, "0.0001"},
        {0.00012, "0.00012"},
        {1e16, "1e+16"},
        {9999999999999998.0, "9999999999999998.0"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {100.0, "100.0"},
        {-0.5, "-0.5"},
        {5e-324, "5e-324"},
        {1.0 / 64, "0.015625"},
        {7.79690618762475e-06, "7.79690618762475e-06"}, // 1/128256 in the Llama-3 JSON
    };
    char b[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) CHECK_STR(py_float_repr(cases[i].v, b), cases[i].s);
    CHECK_STR(py_float_repr(NAN, b), "nan");
    CHECK_STR(py_float_repr(-INFINITY, b), "-inf");
}

TEST(python_round_and_labels) {
    CHECK(py_round(25.0 / 32, 4) == 0.7812);  // Mistral evaluation_pack semantic_frac (exact tie -> even)
    CHECK(py_round(43.0 / 80, 3) == 0.537);   // Llama-3-70B L_semantic_run2_frac
    CHECK(py_round(2.675, 2) == 2.67);        // binary value is below the tie
    char b[32];
    CHECK_STR(py_thresh_label(0.95, b), "0.95");
    CHECK_STR(py_thresh_label(0.7, b), "0.7");
    CHECK_STR(py_thresh_label(0.5, b), "0.5");
    CHECK_STR(py_thresh_label(1.0, b), "1");
    CHECK_STR(py_thresh_label(1.0 / 3, b), "0.333333");
}

TEST(csv_minimal_quoting_and_backslash) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CsvOut o = {f, 0, 0};
    csv_field_str(&o, "a,b");
    csv_field_str(&o, "q\"t");
    csv_field_str(&o, "x\ny");
    csv_field_str(&o, "b\\s");
    csv_field_str(&o, "\\\"");
    csv_field_str(&o, NULL);
    csv_field_float(&o, NAN);
    csv_field_bool(&o, 1);
    csv_field_bool(&o, 0);
    csv_field_float(&o, 1e-05);
    csv_end_row(&o);
    fclose(f);
    // by hand: comma/quote/newline -> quoted, quotes doubled; backslash doubled (unquoted unless
    // the field needs quotes anyway); empty cells for null; \n terminator
    CHECK_STR(buf, "\"a,b\",\"q\"\"t\",\"x\ny\",b\\\\s,\"\\\\\"\"\",,,True,False,1e-05\n");
    free(buf);
}

TEST(json_writer_layout) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    JsonW j;
    jw_init(&j, f);
    jw_obj(&j);
    jw_k_str(&j, "fact_key", "Germany\xe2\x86\x92" "Berlin");
    jw_key(&j, "empty_list"); jw_arr(&j); jw_end(&j);
    jw_key(&j, "empty_obj"); jw_obj(&j); jw_end(&j);
    jw_key(&j, "topk"); jw_arr(&j); jw_arr(&j); jw_str(&j, "a\"\\\n\x01"); jw_real(&j, 0.5); jw_end(&j); jw_end(&j);
    jw_k_real(&j, "x", 3.0);
    jw_k_int(&j, "n", 3);
    jw_k_real(&j, "missing", NAN);
    jw_k_bool(&j, "ok", 1);
    jw_end(&j);
    fclose(f);
    // json.dumps(obj, indent=2, ensure_ascii=False), written out by hand:
    const char *want = "{\n"
                       "  \"fact_key\": \"Germany\xe2\x86\x92" "Berlin\",\n"
                       "  \"empty_list\": [],\n"
                       "  \"empty_obj\": {},\n"
                       "  \"topk\": [\n"
                       "    [\n"
                       "      \"a\\\"\\\\\\n\\u0001\",\n"
                       "      0.5\n"
                       "    ]\n"
                       "  ],\n"
                       "  \"x\": 3.0,\n"
                       "  \"n\": 3,\n"
                       "  \"missing\": null,\n"
                       "  \"ok\": true\n"
                       "}";
    CHECK_STR(buf, want);
    free(buf);
}

// ---------------------------------------------------------------------------- rules

TEST(copy_rules) {
    int ctx[5] = {30, 3, 4, 1, 11};
    int w1[1] = {3};
    // fires: in ctx, 0.97 > 0.95, margin 0.96 > 0.10, not WSP
    CHECK(ex_copy_strict(w1, 1, ctx, 5, 0.97, 0.01, 0.95, 0.10, 0) == 1);
    // fails on the margin alone: 0.55 > 0.5 but 0.55 - 0.46 = 0.09 <= 0.10
    CHECK(ex_copy_strict(w1, 1, ctx, 5, 0.55, 0.46, 0.5, 0.10, 0) == 0);
    CHECK(ex_copy_strict(w1, 1, ctx, 5, 0.55, 0.44, 0.5, 0.10, 0) == 1);
    // WSP guard and membership
    CHECK(ex_copy_strict(w1, 1, ctx, 5, 0.99, 0.0, 0.95, 0.10, 1) == 0);
    int w9[1] = {9};
    CHECK(ex_copy_strict(w9, 1, ctx, 5, 0.99, 0.0, 0.95, 0.10, 0) == 0);
    // threshold is strict: p1 == tau does not fire
    CHECK(ex_copy_strict(w1, 1, ctx, 5, 0.95, 0.0, 0.95, 0.10, 0) == 0);
    // soft: needs len >= k and a contiguous window
    int h[3] = {3, 4, 1};
    CHECK(ex_copy_soft(h, 3, 3, ctx, 5, 0.6, 0.5) == 1);
    int h2[3] = {4, 3, 1};
    CHECK(ex_copy_soft(h2, 3, 2, ctx, 5, 0.6, 0.5) == 0); // [3,1] is not contiguous in ctx
    CHECK(ex_copy_soft(h, 2, 3, ctx, 5, 0.6, 0.5) == 0);  // only 2 layers seen
    CHECK(ex_copy_soft(h, 3, 1, ctx, 5, 0.5, 0.5) == 0);  // p1 must exceed tau
}

TEST(wsp_predicate) {
    CHECK(tok_wsp(""));
    CHECK(tok_wsp("   "));
    CHECK(tok_wsp(","));
    CHECK(tok_wsp(" ...!"));
    CHECK(tok_wsp("\xe2\x96\x81"));          // ▁
    CHECK(tok_wsp("\xc4\xa0\xc4\x8a"));      // ĠĊ
    CHECK(tok_wsp("\\"));
    CHECK(tok_wsp("\xc2\xa0"));              // NBSP is whitespace for str.strip()
    CHECK(!tok_wsp("\xe2\x80\x9c"));         // “ is not ASCII punctuation
    CHECK(!tok_wsp(" Berlin"));
    CHECK(!tok_wsp("\xe2\x96\x81" "Berlin"));
    CHECK(!tok_wsp("\xc4\xa0!"));            // marker + punctuation: neither rule covers it
}

TEST(percentiles_and_depth_layers) {
    double v[4] = {4, 1, 3, 2};
    CHECK_NEAR(ex_percentile(v, 4, 0.25), 1.75, 1e-15); // r = 0.75 between 1 and 2
    CHECK_NEAR(ex_percentile(v, 4, 0.5), 2.5, 1e-15);   // mean of the two middle values
    CHECK_NEAR(ex_percentile(v, 4, 0.75), 3.25, 1e-15);
    CHECK(ex_percentile(v, 1, 0.3) == 4);
    CHECK(isnan(ex_percentile(v, 0, 0.5)));
    double w[3] = {NAN, 5, 7};
    CHECK(ex_percentile(w, 3, 0.5) == 6); // NaN (missing) skipped
    // round half to even: 42·0.25 = 10.5 -> 10, 42·0.75 = 31.5 -> 32; n = 46: 11.5 -> 12, 34.5 -> 34
    CHECK(ex_depth_layer(42, 0.25) == 10 && ex_depth_layer(42, 0.5) == 21 && ex_depth_layer(42, 0.75) == 32);
    CHECK(ex_depth_layer(46, 0.25) == 12 && ex_depth_layer(46, 0.5) == 23 && ex_depth_layer(46, 0.75) == 34);
    CHECK(ex_depth_layer(32, 0.25) == 8 && ex_depth_layer(32, 0.75) == 24);
}

TEST(jaccard_and_pearson) {
    int a[4] = {1, 2, 3, 4}, b[4] = {3, 4, 5, 6};
    CHECK_NEAR(ex_jaccard(a, 4, b, 4), 2.0 / 6, 1e-15);
    CHECK_NEAR(ex_jaccard(a, 4, a, 4), 1.0, 0);
    CHECK_NEAR(ex_jaccard(a, 2, b, 2), 0.0, 0);
    double x[3] = {1, 2, 3}, y[3] = {2, 4, 6}, z[3] = {3, 2, 1};
    CHECK_NEAR(ex_pearson(x, y, 3), 1.0, 1e-15);
    CHECK_NEAR(ex_pearson(x, z, 3), -1.0, 1e-15);
}

TEST(last_layer_gate) {
    LwRunConfig c;
    config_defaults(&c);
    // Gemma-2-9B reference: KL 1.0129 bits at L = n -> warn; Llama-3-70B: 0.00073 -> no warn
    CHECK(ex_last_layer_warn(&c, 1.0128875226902398, 0.34989104995242076) == 1);
    CHECK(ex_last_layer_warn(&c, 0.0007293472672488833, 0.0007293472672488833) == 0);
    CHECK(ex_last_layer_warn(&c, 0.2, 0.0) == 0);     // 0.2 < 0.25 and the temperature gain too
    CHECK(ex_last_layer_warn(&c, 0.24, -0.01) == 1);  // gain 0.25 >= 0.25
    config_free(&c);
}

// Every reference model: our score/tier/gates from the reference's own inputs equal its outputs.
TEST(reference_summaries_recomputed) {
    LwRunConfig c;
    config_defaults(&c);
    int checked = 0;
    for (int m = 0; m < 10; m++) {
        json_t *j = load_ref(MODELS[m]);
        CHECKF(j != NULL, "%s: reference JSON unreadable", MODELS[m]);
        if (!j) continue;
        json_t *d = json_object_get(j, "diagnostics");
        json_t *full = json_object_get(d, "raw_lens_full");
        double pct = json_real_value(json_object_get(full, "pct_layers_kl_ge_1.0"));
        int nno = (int)json_integer_value(json_object_get(full, "n_norm_only_semantics_layers"));
        double mk = json_number_value(json_object_get(full, "max_kl_norm_vs_raw_bits"));
        double js = json_number_value(json_object_get(json_object_get(full, "js_divergence_percentiles"), "p50"));
        double l1 = json_number_value(json_object_get(json_object_get(full, "l1_prob_diff_percentiles"), "p50"));
        json_t *sc = json_object_get(full, "score");
        double s1 = ex_artifact_score(&c, pct, nno, mk);
        CHECKF(fabs(s1 - json_number_value(json_object_get(sc, "lens_artifact_score"))) < 1e-12, "%s score %.17g", MODELS[m], s1);
        double s2 = ex_artifact_score_v2(&c, s1, js, l1);
        CHECKF(fabs(s2 - json_number_value(json_object_get(sc, "lens_artifact_score_v2"))) < 1e-12, "%s v2 %.17g", MODELS[m], s2);
        CHECK_STR(ex_artifact_tier(&c, s1), json_string_value(json_object_get(sc, "tier")));
        json_t *ll = json_object_get(d, "last_layer_consistency");
        int warn = ex_last_layer_warn(&c, json_number_value(json_object_get(ll, "kl_to_final_bits")),
                                      json_number_value(json_object_get(ll, "kl_after_temp_bits")));
        CHECKF(warn == json_is_true(json_object_get(ll, "warn_high_last_layer_kl")), "%s warn", MODELS[m]);
        int n = (int)json_integer_value(json_object_get(json_object_get(j, "model_stats"), "num_layers"));
        const char *pk[3] = {"kl_to_final_bits_norm_temp@25%", "kl_to_final_bits_norm_temp@50%", "kl_to_final_bits_norm_temp@75%"};
        const double fr[3] = {0.25, 0.5, 0.75};
        for (int i = 0; i < 3; i++)
            CHECKF(ex_depth_layer(n, fr[i]) == json_integer_value(json_object_get(json_object_get(d, pk[i]), "layer")),
                   "%s %s", MODELS[m], pk[i]);
        json_t *Ls = json_object_get(d, "L_semantic");
        if (json_is_integer(Ls)) {
            double want = json_number_value(json_object_get(json_object_get(d, "depth_fractions"), "L_semantic_frac"));
            CHECKF(py_round((double)json_integer_value(Ls) / n, 3) == want, "%s L_semantic_frac", MODELS[m]);
        }
        // micro-suite median: round-half-even of the median of the non-null L_semantic_norm values
        json_t *facts = json_object_get(json_object_get(d, "micro_suite"), "facts");
        double v[8];
        int nv = 0;
        for (size_t i = 0; i < json_array_size(facts); i++) {
            json_t *x = json_object_get(json_array_get(facts, i), "L_semantic_norm");
            if (json_is_integer(x)) v[nv++] = (double)json_integer_value(x);
        }
        json_t *agg = json_object_get(json_object_get(d, "micro_suite"), "aggregates");
        if (nv) CHECKF(lw_round_half_even(ex_percentile(v, nv, 0.5)) == json_integer_value(json_object_get(agg, "L_semantic_norm_median")),
                       "%s L_semantic_norm_median", MODELS[m]);
        json_decref(j);
        checked++;
    }
    CHECK(checked == 10);
    config_free(&c);
}

// ---------------------------------------------------------------------------- rows on the fixture

TEST(fixture_rows_and_summary) {
    LwRunConfig c;
    config_defaults(&c);
    ExRun run;
    fx_make(&run);
    ExCopyCols cc;
    ex_copy_cols(&c, &cc);
    CHECK(cc.n == 7);
    CHECK_STR(cc.names[0], "copy_strict@0.95");
    CHECK_STR(cc.names[1], "copy_strict@0.7");
    CHECK_STR(cc.names[3], "copy_strict@0.9");
    CHECK_STR(cc.names[4], "copy_soft_k1@0.5");
    CHECK_STR(cc.names[6], "copy_soft_k3@0.5");
    ExRows r;
    ex_rows_build(&c, &run, &run.passes[0], &run.passes[0].norm, &run.passes[0].raw, &cc, &r);
#define CP(L, col) r.copy[(L) * cc.n + (col)]
    // planted (see ex_fixture.h): L0 strict copy; L1 soft k1,k2 only; L2 WSP top-1: strict vetoed, soft k1..k3 fire
    CHECK(CP(0, 0) && CP(0, 1) && CP(0, 4) && !CP(0, 5) && !CP(0, 6));
    CHECK(!CP(1, 0) && !CP(1, 1) && CP(1, 4) && CP(1, 5) && !CP(1, 6));
    CHECK(!CP(2, 0) && !CP(2, 3) && CP(2, 4) && CP(2, 5) && CP(2, 6));
    CHECK(!CP(3, 0) && !CP(3, 4));
    // prompt vocabulary: ctx [30,3,4,1,11] without the WSP ","
    CHECK(r.n_prompt_vocab == 4);
    CHECK(r.is_answer[3] && !r.is_answer[2]);
    CHECK(r.margin_ok[3]); // 0.6 - 1/64 >= 0.002
    CHECK_NEAR(r.amu[0], 1e-05 - 1.0 / 64, 1e-18);
    CHECK(r.entropy_collapse[0] && !r.entropy_collapse[1] && r.entropy_collapse[2] && r.entropy_collapse[4]);
    CHECK_NEAR(r.answer_logit_gap[3], 10.0 - 9.75, 1e-12); // answer is top-1: z[a] - second logit
    CHECK(isnan(r.answer_vs_top1_gap[3]));
    CHECK_NEAR(r.answer_vs_top1_gap[0], 5.0 - 10.0, 1e-12);
    CHECK(r.norm_only_semantics[3] && !r.norm_only_semantics[4]); // raw ranks 2 and 1
    ExSummary s;
    ex_summary_build(&c, &run, &run.passes[0], &run.passes[0].norm, &r, &cc, &s);
    CHECK(s.L_copy == 0 && s.L_copy_H == 0 && s.L_semantic == 3);
    CHECK(s.L_copy_soft[0] == 0 && s.L_copy_soft[1] == 1 && s.L_copy_soft[2] == 2);
    CHECK(s.first_rank[0] == 3 && s.first_rank[1] == 2 && s.first_rank[2] == 2); // le_1, le_5, le_10
    CHECK(s.first_kl[0] == 4 && s.first_kl[1] == 3);  // <= 0.5 at L4 (0.0), <= 1.0 at L3 (0.8)
    CHECK(s.L_semantic_raw == 4 && s.L_run2 == 3 && s.L_soft_min == 0 && s.L_soft_min_k == 1);
    ex_summary_window(&c, &run, &s, 4);
    CHECK(s.n_centers == 3 && s.centers[0] == 0 && s.centers[1] == 2 && s.centers[2] == 3 && s.n_checked == 5);
    ex_summary_window(&c, &run, &s, 1);
    CHECK(s.n_checked == 5); // [0-1,0+1] ∪ [1,3] ∪ [2,4]
    ex_summary_free(&s);
    ex_rows_free(&r);

    // answer-rank ties: the answer shares the top probability but another id has the top logit:
    // rank stays 1 (strictly-greater count), is_answer true, but answer_logit_gap needs argmax == a
    run.passes[0].norm.top_ids[3 * FX_K] = 5;
    ex_rows_build(&c, &run, &run.passes[0], &run.passes[0].norm, &run.passes[0].raw, &cc, &r);
    CHECK(r.is_answer[3] == 1);
    CHECK(isnan(r.answer_logit_gap[3]) && isnan(r.answer_vs_top1_gap[3]));
    ex_rows_free(&r);
    // unresolved answer: is_answer falls back to the trimmed top-1 decode == answer string
    run.passes[0].first_id = -1;
    run.passes[0].norm.top_ids[3 * FX_K] = 2; // " Berlin"
    ex_rows_build(&c, &run, &run.passes[0], &run.passes[0].norm, &run.passes[0].raw, &cc, &r);
    CHECK(r.is_answer[3] == 1 && r.is_answer[2] == 0 && isnan(r.amu[3]));
    ex_rows_free(&r);
    ex_run_free(&run);
    config_free(&c);
}

int main(void) {
    RUN(float_repr_matches_python);
    RUN(python_round_and_labels);
    RUN(csv_minimal_quoting_and_backslash);
    RUN(json_writer_layout);
    RUN(copy_rules);
    RUN(wsp_predicate);
    RUN(percentiles_and_depth_layers);
    RUN(jaccard_and_pearson);
    RUN(last_layer_gate);
    RUN(reference_summaries_recomputed);
    RUN(fixture_rows_and_summary);
    return test_summary();
}
