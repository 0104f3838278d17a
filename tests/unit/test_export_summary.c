// test_export_summary — the one per-pass summary writer of the norm and the tuned lens
// (export/export_summary.h): the keys each lens's block has, and the differences between the two
// blocks that ExLensSummary carries (key suffix, depth_fractions, the confirmed-semantics keys,
// the sign of copy_detector's soft deltas, no values at all). Inputs are a hand-made summary of a
// 4-block model; every expected value is derived by hand in the comment next to it.
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "export/export_summary.h"
#include "test.h"

static LwRunConfig c;
static ExRun run;
static ExPass pass;
static ExNext x;
static ExRows r;
static ExSummary s;
// H(lens) at layers 0..4 against H(P_final) = 1 bit: gaps 2, 2, 1, 0, 0
static double entropy[5] = {3, 3, 2, 1, 1}, p_answer[5] = {0, 0, 0.25, 0.5, 0.75}, gap_logit[5] = {0, 0, 0.5, 1, 2};
static int margin_ok[5] = {0, 0, 1, 1, 1};

static json_t *block(const ExLensSummary *ls) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    JsonW j;
    jw_init(&j, f);
    jw_obj(&j);
    ex_summary_json(&c, &run, ls, &j);
    jw_end(&j);
    jw_finish(&j);
    fclose(f);
    json_error_t e;
    json_t *v = json_loads(buf, 0, &e);
    CHECKF(v != NULL, "JSON does not parse: %s\n%s", e.text, buf);
    free(buf);
    return v;
}

static json_t *at(json_t *o, const char *a, const char *b) { return b ? json_object_get(json_object_get(o, a), b) : json_object_get(o, a); }
static int is_int(json_t *v, long want) { return json_is_integer(v) && json_integer_value(v) == want; }

static ExLensSummary lens(const char *name, int norm) {
    return (ExLensSummary){.lens = name, .p = &pass, .x = &x, .r = &r, .s = &s, .teacher_entropy_bits = 1.0, .n = 4,
                           .has = 1, .first_layer = norm ? 0 : 1, .depth_fractions = norm, .confirmed = norm,
                           .L_confirmed = norm ? 2 : -1, .signed_soft_deltas = norm};
}

static void setup(void) {
    config_defaults(&c); // copy_soft_windows [1, 2, 3], kl_milestones_bits [0.5, 1.0], cos_milestones [0.2, 0.4, 0.6]
    run.vocab = 100;
    x.entropy_bits = entropy;
    x.p_answer = p_answer;
    r.margin_ok = margin_ok;
    r.answer_logit_gap = gap_logit;
    memset(&s, 0xff, sizeof s); // every layer -1 (null)
    s.n_kl = s.n_rank = s.n_soft_k = s.n_cos = 0;
    s.n_sweep = 0; // no strict-copy sweep: copy_thresholds has empty objects
    s.checked = NULL;
    s.L_semantic = 2;
    s.L_copy_soft[0] = 3; // k1: L_semantic − L_copy_soft = 2 − 3 = −1
    s.L_copy_soft[2] = 1; // k3: 2 − 1 = 1; k2: no soft copy (−1)
    s.first_kl[0] = 1;    // first_kl_below_0.5
    s.L_margin_ok = 2;
    s.L_run2 = 2;         // layers 2 and 3 rank 1
}

TEST(norm_block) {
    ExLensSummary ls = lens("norm", 1);
    json_t *b = block(&ls);
    if (!b) return;
    // the norm lens keeps a negative soft delta in copy_detector.deltas; delta_layers_soft writes
    // every negative difference as null (k1: 2 − 3 = −1)
    CHECK(is_int(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k1"), -1));
    CHECK(json_is_null(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k2")));
    CHECK(is_int(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k3"), 1));
    CHECK(json_is_null(at(b, "delta_layers_soft", "1")) && is_int(at(b, "delta_layers_soft", "3"), 1));
    CHECK(is_int(at(b, "first_kl_below_0.5", NULL), 1));
    // entropy gap over layers 0..4: gaps 2, 2, 1, 0, 0; median 1 (numpy linear)
    CHECK(is_int(at(b, "entropy_gap_samples", NULL), 5));
    CHECK(json_real_value(at(b, "entropy_gap_bits_percentiles", "p50")) == 1.0);
    // surface/geometry keys and cos_milestones carry the lens's name
    CHECK(json_is_null(at(b, "L_geom_norm", NULL)) && !at(b, "L_geom_tuned", NULL));
    CHECK(json_is_object(at(b, "cos_milestones", "norm")));
    // norm only: depth_fractions (L_semantic 2 of 4 blocks = 0.5), the confirmed-semantics keys
    CHECK(json_real_value(at(b, "depth_fractions", "L_semantic_frac")) == 0.5);
    CHECK(is_int(at(b, "semantic_margin", "L_semantic_confirmed_margin_ok_norm"), 2)); // confirmed 2 = margin-ok 2
    // run2 at 2 (and 3) within confirmed 2 ± confirmed_window
    CHECK(json_is_true(at(b, "semantic_gate", "run2_overlaps_confirmed_window")));
    CHECK(json_real_value(at(b, "semantic_margin", "p_answer_at_L_semantic_norm")) == 0.25); // p_answer[2]
    json_decref(b);
}

TEST(tuned_block) {
    ExLensSummary ls = lens("tuned", 0);
    json_t *b = block(&ls);
    if (!b) return;
    // the tuned lens writes the negative soft delta as null, the others as the norm lens does
    CHECK(json_is_null(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k1")));
    CHECK(is_int(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k3"), 1));
    // entropy gap over layers 1..4 (no row 0): gaps 2, 1, 0, 0; median (0 + 1) / 2
    CHECK(is_int(at(b, "entropy_gap_samples", NULL), 4));
    CHECK(json_real_value(at(b, "entropy_gap_bits_percentiles", "p50")) == 0.5);
    CHECK(json_is_null(at(b, "L_geom_tuned", NULL)) && !at(b, "L_geom_norm", NULL));
    CHECK(json_is_object(at(b, "cos_milestones", "tuned")) && !at(b, "cos_milestones", "norm"));
    CHECK(!at(b, "depth_fractions", NULL));
    CHECK(!at(b, "semantic_margin", "L_semantic_confirmed_margin_ok_norm"));
    CHECK(!at(b, "semantic_gate", "run2_overlaps_confirmed_window"));
    // the same keys otherwise, in the same order: the norm block's keys with the suffix swapped,
    // less depth_fractions
    ExLensSummary ln = lens("norm", 1);
    json_t *n = block(&ln);
    const char *kt, *kn;
    json_t *v;
    size_t it = 0, nt = json_object_size(b);
    const char **tk = xcalloc(nt, sizeof *tk);
    json_object_foreach(b, kt, v) tk[it++] = kt;
    size_t k = 0;
    int same = 1;
    json_object_foreach(n, kn, v) {
        if (!strcmp(kn, "depth_fractions")) continue;
        char want[96];
        size_t l = strlen(kn);
        if (l > 5 && !strcmp(kn + l - 5, "_norm")) snprintf(want, sizeof want, "%.*s_tuned", (int)(l - 5), kn);
        else snprintf(want, sizeof want, "%s", kn);
        if (k >= nt || strcmp(tk[k], want)) { same = 0; break; }
        k++;
    }
    CHECKF(same && k == nt, "key %zu: tuned '%s'", k, k < nt ? tk[k] : "(end)");
    free(tk);
    json_decref(n);
    json_decref(b);
}

// A pass without tuned values: every milestone null (even those the summary holds), no entropy gap.
TEST(no_values) {
    ExLensSummary ls = lens("tuned", 0);
    ls.has = 0;
    json_t *b = block(&ls);
    if (!b) return;
    CHECK(json_is_null(at(b, "first_kl_below_0.5", NULL)));
    CHECK(json_is_null(at(at(b, "copy_detector", "deltas"), "\xce\x94_sem_minus_copy_soft", "k3")));
    CHECK(json_is_null(at(b, "L_copy_soft", "3")) && json_is_null(at(b, "delta_layers_soft", "3")));
    CHECK(is_int(at(b, "entropy_gap_samples", NULL), 0));
    CHECK(json_is_null(at(b, "entropy_gap_bits_percentiles", "p50")));
    json_decref(b);
}

int main(void) {
    setup();
    RUN(norm_block);
    RUN(tuned_block);
    RUN(no_values);
    config_free(&c);
    return test_summary();
}
