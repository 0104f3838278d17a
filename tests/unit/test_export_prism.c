// The Prism lens end to end: `lensweep mktiny` -> `lensweep run --prism-dir` with a committed
// artifact -> `lensweep export`. The Prism sidecars' headers equal the reference pipeline's files
// (../shared/reference/logos-run-latest: the Mistral pure-next-token-prism CSV; the records
// sidecar has the records CSV's schema, OUTPUTS.md §3) and the JSON's prism_summary has the
// reference's key paths; the values equal an independent computation: numpy from the artifact,
// the checkpoint's weights and the run's stored residuals (tools/prism_run_fixture.py wrote
// tests/fixtures/prism_run/expected-*.csv; the run here writes the same residuals: same model,
// same probe set, deterministic forward). A run without prism_dir writes no Prism sidecar and
// removes one a previous export left.
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "report/report_csv.h"
#include "runfile/run_read.h"
#include "test.h"
#include "run_fixture.h"

#define FIX "tests/fixtures/prism_run"


// ---------------------------------------------------------------------------- JSON key paths

static void paths_of(json_t *j, const char *prefix, char ***v, int *n) {
    if (!json_is_object(j)) return;
    const char *k;
    json_t *x;
    json_object_foreach(j, k, x) {
        char *q = xasprintf("%s/%s", prefix, k);
        *v = xrealloc(*v, sizeof(char *) * (*n + 1));
        (*v)[(*n)++] = q;
        paths_of(x, q, v, n);
    }
}

static int has_path(char **v, int n, const char *p) {
    for (int i = 0; i < n; i++) if (!strcmp(v[i], p)) return 1;
    return 0;
}

// ---------------------------------------------------------------------------- the test

static char *out_dir, *run_h5;

TEST(prism_run_and_export) {
    char *tok = xasprintf("%s/tokenizers/mistral-7b-v0.1/tokenizer.json", shared_dir());
    out_dir = xasprintf("%s/ex", tmpdir);
    run_h5 = xasprintf("%s/run/m.h5", tmpdir);
    // the fixture's model: tools/prism_run_fixture.py's header comment names the same commands
    char *cmd = xasprintf("bin/lensweep mktiny --family llama --seed 5 --layers 4 --out %s/m --tokenizer %s && "
                          "bin/lensweep run --model %s/m --out %s/run --probes tests/fixtures/probes/one-fact.yaml --prism-dir " FIX "/artifact && "
                          "bin/lensweep export %s --out %s",
                          tmpdir, tok, tmpdir, tmpdir, run_h5, out_dir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "mktiny -> run --prism-dir -> export: exit %d: %s", rc, err);
    free(err); free(cmd); free(tok);
}

TEST(headers_equal_the_reference) {
    char *ours = xasprintf("%s/output-m-pure-next-token-prism.csv", out_dir), *rp = xasprintf("%s/reference/logos-run-latest/output-Mistral-7B-v0.1-pure-next-token-prism.csv", shared_dir());
    char *a = first_line(ours), *b = first_line(rp);
    CHECKF(*b && !strcmp(a, b), "pure-next-token-prism header differs from the reference's:\n ours %s\n ref  %s", a, b);
    free(a); free(b); free(ours); free(rp);
    ours = xasprintf("%s/output-m-records-prism.csv", out_dir);
    rp = xasprintf("%s/reference/logos-run-latest/output-Mistral-7B-v0.1-records.csv", shared_dir());
    a = first_line(ours);
    b = first_line(rp);
    CHECKF(*b && !strcmp(a, b), "records-prism header differs from the reference records CSV's:\n ours %s\n ref  %s", a, b);
    free(a); free(b); free(ours); free(rp);
}

// The columns OUTPUTS.md §4.1 lists as always empty in the Prism sidecar (control_margin is
// filled on the control rows only).
static const char *EMPTY[] = {"copy_strict@0.7", "copy_strict@0.8", "copy_strict@0.9", "semantic_margin_ok",
                              "kl_to_final_bits_norm_temp", "topk_jaccard_raw_norm@50", "topk_jaccard_consecutive@50",
                              "cos_to_answer", "cos_to_prompt_max", "geom_crossover", "echo_mass_prompt", "answer_mass",
                              "answer_minus_echo_mass", "mass_ratio_ans_over_prompt", "topk_prompt_mass@50",
                              "resid_norm_ratio", "delta_resid_cos"};

TEST(pure_values_equal_numpy) {
    ExRun run;
    LwError e = {0};
    CHECKF(ex_run_read(run_h5, &run, &e) == 0, "%s", e.msg);
    char *p = xasprintf("%s/output-m-pure-next-token-prism.csv", out_dir);
    CsvTable g = read_table(p), x = read_table(FIX "/expected-pure.csv");
    CHECKF(g.n_rows == 15 && x.n_rows == 15, "rows: ours %zu, expected %zu (3 passes x 5 layers)", g.n_rows, x.n_rows);
    int bad_tok = 0, checked_tok = 0;
    for (size_t r = 0; r < g.n_rows && r < x.n_rows; r++) {
        const char *pass = cell(&x, r, "pass");
        int ctl = !strcmp(pass, "ctl_orig");
        CHECKF(!strcmp(cell(&g, r, "prompt_id"), ctl ? "ctl" : "pos") && !strcmp(cell(&g, r, "layer"), cell(&x, r, "layer")),
               "row %zu: %s layer %s vs %s layer %s", r, cell(&g, r, "prompt_id"), cell(&g, r, "layer"), pass, cell(&x, r, "layer"));
        double H = num(&x, r, "entropy_bits");
        CHECKF(close_to_rel(num(&g, r, "entropy"), H, 1e-6, 1e-6) && close_to_rel(num(&g, r, "entropy_bits"), H, 1e-6, 1e-6),
               "row %zu entropy %s vs %.9g", r, cell(&g, r, "entropy"), H);
        double s5 = 0, pe[7];
        pe[0] = INFINITY;
        pe[6] = -INFINITY;
        for (int k = 1; k <= 5; k++) {
            char pc[16];
            snprintf(pc, sizeof pc, "prob%d", k);
            pe[k] = num(&x, r, pc);
        }
        for (int k = 1; k <= 5; k++) {
            char tc[16], pc[16];
            snprintf(tc, sizeof tc, "top%d", k);
            snprintf(pc, sizeof pc, "prob%d", k);
            s5 += num(&g, r, pc);
            CHECKF(close_to_rel(num(&g, r, pc), pe[k], 1e-5, 1e-9), "row %zu %s %s vs %.9g", r, pc, cell(&g, r, pc), pe[k]);
            // the token of numpy's k-th id, unless a neighbour ties with it within fp32 noise
            if (pe[k - 1] - pe[k] > 1e-5 * pe[k] && pe[k] - pe[k + 1] > 1e-5 * pe[k]) {
                long id = strtol(cell(&x, r, tc), NULL, 10);
                checked_tok++;
                if (id < 0 || id >= run.V || strcmp(cell(&g, r, tc), run.decoded[id])) bad_tok++;
            }
        }
        CHECKF(close_to_rel(num(&g, r, "p_top1"), num(&x, r, "prob1"), 1e-5, 1e-9), "row %zu p_top1", r);
        CHECKF(close_to_rel(num(&g, r, "p_top5"), s5, 1e-5, 1e-9), "row %zu p_top5 %s vs %.9g", r, cell(&g, r, "p_top5"), s5);
        CHECKF(close_to_rel(num(&g, r, "rest_mass"), 1 - s5, 1e-6, 1e-7), "row %zu rest_mass", r);
        double pa = num(&x, r, "p_answer");
        CHECKF(close_to_rel(num(&g, r, "p_answer"), pa, 1e-5, 1e-12), "row %zu p_answer %s vs %.9g", r, cell(&g, r, "p_answer"), pa);
        CHECKF(close_to_rel(num(&g, r, "answer_minus_uniform"), pa - 1.0 / run.vocab, 1e-5, 1e-9), "row %zu answer_minus_uniform", r);
        int rank = (int)num(&x, r, "answer_rank");
        CHECKF((int)num(&g, r, "answer_rank") == rank, "row %zu answer_rank %s vs %d", r, cell(&g, r, "answer_rank"), rank);
        CHECK_STR(cell(&g, r, "is_answer"), rank == 1 ? "True" : "False");
        CHECK_STR(cell(&g, r, "entropy_collapse"), H <= 1.0 ? "True" : "False");
        double kl = num(&x, r, "kl_to_final_bits");
        CHECKF(close_to_rel(num(&g, r, "kl_to_final_bits"), kl, 1e-5, 1e-6), "row %zu kl %s vs %.9g", r, cell(&g, r, "kl_to_final_bits"), kl);
        CHECKF(close_to_rel(num(&g, r, "cos_to_final"), num(&x, r, "cos_to_final"), 0, 1e-5), "row %zu cos_to_final %s vs %s", r,
               cell(&g, r, "cos_to_final"), cell(&x, r, "cos_to_final"));
        // the Prism path's own H(P_final) (sums in id order, bit-identical across rank counts): the
        // norm lens's value up to the fp32 rounding of the log-sum-exp (one ulp of lse_f ~ 1e-9)
        CHECKF(close_to_rel(num(&g, r, "teacher_entropy_bits"), run.passes[ctl ? 2 : (int)(r / 5)].teacher_entropy_bits, 1e-8, 0),
               "row %zu teacher_entropy_bits %s vs the norm lens's %.17g", r, cell(&g, r, "teacher_entropy_bits"),
               run.passes[ctl ? 2 : (int)(r / 5)].teacher_entropy_bits);
        if (rank > 1) {
            double gap = num(&x, r, "answer_logit") - num(&x, r, "top1_logit");
            CHECKF(close_to_rel(num(&g, r, "answer_vs_top1_gap"), gap, 1e-5, 1e-5), "row %zu answer_vs_top1_gap %s vs %.9g", r,
                   cell(&g, r, "answer_vs_top1_gap"), gap);
            CHECK_STR(cell(&g, r, "answer_logit_gap"), "");
        }
        if (ctl) {
            double cm = pa - num(&x, r, "p_contrast");
            CHECKF(close_to_rel(num(&g, r, "control_margin"), cm, 1e-5, 1e-12), "row %zu control_margin %s vs %.9g", r, cell(&g, r, "control_margin"), cm);
        } else {
            CHECK_STR(cell(&g, r, "control_margin"), "");
        }
        for (size_t k = 0; k < sizeof EMPTY / sizeof EMPTY[0]; k++)
            CHECKF(!*cell(&g, r, EMPTY[k]), "row %zu: %s = '%s', the Prism sidecar leaves it empty", r, EMPTY[k], cell(&g, r, EMPTY[k]));
        for (int k = 6; k <= 20; k++) {
            char tc[16];
            snprintf(tc, sizeof tc, "top%d", k);
            CHECK(!*cell(&g, r, tc));
        }
    }
    CHECKF(bad_tok == 0 && checked_tok > 50, "%d of %d top tokens differ from numpy's ids", bad_tok, checked_tok);
    csv_table_free(&g);
    csv_table_free(&x);
    free(p);
    ex_run_free(&run);
}

TEST(records_values_equal_numpy) {
    ExRun run;
    LwError e = {0};
    CHECKF(ex_run_read(run_h5, &run, &e) == 0, "%s", e.msg);
    char *p = xasprintf("%s/output-m-records-prism.csv", out_dir);
    CsvTable g = read_table(p), x = read_table(FIX "/expected-records.csv");
    CHECKF(g.n_rows == x.n_rows && g.n_rows == 250, "rows: ours %zu, expected %zu (5 layers x (17 + 16 + 17) positions)", g.n_rows, x.n_rows);
    int bad = 0, bad_tok = 0;
    for (size_t r = 0; r < g.n_rows && r < x.n_rows; r++) {
        if (strcmp(cell(&g, r, "layer"), cell(&x, r, "layer")) || strcmp(cell(&g, r, "pos"), cell(&x, r, "pos"))) { bad++; continue; }
        if (!close_to_rel(num(&g, r, "entropy_bits"), num(&x, r, "entropy_bits"), 1e-6, 1e-6)) bad++;
        for (int k = 1; k <= 5; k++) {
            char tc[16], pc[16];
            snprintf(tc, sizeof tc, "top%d", k);
            snprintf(pc, sizeof pc, "prob%d", k);
            if (!close_to_rel(num(&g, r, pc), num(&x, r, pc), 1e-5, 1e-9)) bad++;
            if (k == 1 && num(&x, r, "prob1") - num(&x, r, "prob2") > 1e-5 * num(&x, r, "prob1")) {
                long id = strtol(cell(&x, r, tc), NULL, 10);
                if (id < 0 || id >= run.V || strcmp(cell(&g, r, tc), run.decoded[id])) bad_tok++;
            }
        }
    }
    CHECKF(bad == 0 && bad_tok == 0, "%d values and %d top-1 tokens differ from numpy's", bad, bad_tok);
    csv_table_free(&g);
    csv_table_free(&x);
    free(p);
    ex_run_free(&run);
}

TEST(prism_summary_keys_and_values) {
    json_error_t je;
    char *jp = xasprintf("%s/output-m.json", out_dir), *rp = xasprintf("%s/reference/logos-run-latest/output-Mistral-7B-v0.1.json", shared_dir());
    json_t *ours = json_load_file(jp, 0, &je), *ref = json_load_file(rp, 0, &je);
    CHECKF(ours && ref, "%s or %s unreadable", jp, rp);
    if (!ours || !ref) return;
    json_t *ps = json_object_get(json_object_get(ours, "diagnostics"), "prism_summary");
    json_t *rs = json_object_get(json_object_get(ref, "diagnostics"), "prism_summary");
    char **po = NULL, **pr = NULL;
    int no = 0, nr = 0;
    paths_of(ps, "", &po, &no);
    paths_of(rs, "", &pr, &nr);
    int diff = 0;
    for (int i = 0; i < nr; i++) if (!has_path(po, no, pr[i])) { diff++; printf("    missing prism_summary%s\n", pr[i]); }
    for (int i = 0; i < no; i++) if (!has_path(pr, nr, po[i])) { diff++; printf("    extra prism_summary%s\n", po[i]); }
    CHECKF(diff == 0 && nr > 30, "%d key paths differ from the reference's %d", diff, nr);
    // key order of the block and its metrics as the reference's
    const char *k;
    json_t *v;
    void *it = json_object_iter(ps);
    json_object_foreach(rs, k, v) {
        CHECKF(it && !strcmp(json_object_iter_key(it), k), "prism_summary key order: want %s", k);
        if (it) it = json_object_iter_next(ps, it);
    }
    CHECK(json_is_true(json_object_get(ps, "present")) && json_is_true(json_object_get(ps, "compatible")));
    CHECK(json_is_null(json_object_get(ps, "error")));
    CHECK_STR(json_string_value(json_object_get(ps, "mode")), "auto");
    CHECK_STR(json_string_value(json_object_get(ps, "artifact_path")), FIX "/artifact");
    CHECK(json_integer_value(json_object_get(ps, "k")) == 64);
    char *lay = json_dumps(json_object_get(ps, "layers"), JSON_COMPACT);
    CHECK_STR(lay, "[\"embed\",0,1,2]"); // n = 4: blocks ⌊n/4⌋−1, ⌊n/2⌋−1, ⌊3n/4⌋−1
    free(lay);

    // values: Prism from numpy (Germany orig = the first 5 rows), baseline from the norm-lens CSV
    CsvTable x = read_table(FIX "/expected-pure.csv");
    char *np = xasprintf("%s/output-m-pure-next-token.csv", out_dir);
    CsvTable b = read_table(np);
    json_t *m = json_object_get(ps, "metrics");
    static const int depth[3] = {1, 2, 3}; // round-half-even(4·0.25/0.5/0.75)
    static const char *pk[3] = {"p25", "p50", "p75"};
    for (int i = 0; i < 3; i++) {
        double want_p = num(&x, depth[i], "kl_to_final_bits"), want_b = num(&b, depth[i], "kl_to_final_bits");
        json_t *kl = json_object_get(m, "kl_bits_at_percentiles");
        double gp = json_real_value(json_object_get(json_object_get(kl, "prism"), pk[i]));
        double gb = json_real_value(json_object_get(json_object_get(kl, "baseline"), pk[i]));
        double gd = json_real_value(json_object_get(json_object_get(kl, "delta"), pk[i]));
        CHECKF(close_to_rel(gp, want_p, 1e-5, 1e-6), "kl prism %s %.9g vs %.9g", pk[i], gp, want_p);
        CHECKF(gb == want_b, "kl baseline %s %.17g vs %.17g", pk[i], gb, want_b);
        CHECKF(gd == gb - gp, "kl delta %s = baseline − prism", pk[i]);
    }
    static const int rk[3] = {10, 5, 1};
    static const char *rkey[3] = {"le_10", "le_5", "le_1"};
    json_t *rm = json_object_get(m, "rank_milestones");
    for (int i = 0; i < 3; i++) {
        int want = -1, want_b = -1;
        for (int L = 4; L >= 0; L--) {
            int r = (int)num(&x, L, "answer_rank"), rb = (int)num(&b, L, "answer_rank");
            if (r >= 1 && r <= rk[i]) want = L;
            if (rb >= 1 && rb <= rk[i]) want_b = L;
        }
        json_t *gp = json_object_get(json_object_get(rm, "prism"), rkey[i]), *gb = json_object_get(json_object_get(rm, "baseline"), rkey[i]);
        json_t *gd = json_object_get(json_object_get(rm, "delta"), rkey[i]);
        CHECKF(want < 0 ? json_is_null(gp) : json_integer_value(gp) == want, "rank prism %s", rkey[i]);
        CHECKF(want_b < 0 ? json_is_null(gb) : json_integer_value(gb) == want_b, "rank baseline %s", rkey[i]);
        CHECKF(want < 0 || want_b < 0 ? json_is_null(gd) : json_integer_value(gd) == want - want_b, "rank delta %s", rkey[i]);
    }
    int fk = -1, fb = -1;
    for (int L = 4; L >= 0; L--) {
        if (num(&x, L, "kl_to_final_bits") <= 1.0) fk = L;
        if (num(&b, L, "kl_to_final_bits") <= 1.0) fb = L;
    }
    json_t *f1 = json_object_get(m, "first_kl_le_1.0");
    CHECKF(fk < 0 ? json_is_null(json_object_get(f1, "prism")) : json_integer_value(json_object_get(f1, "prism")) == fk, "first_kl_le_1.0 prism (want %d)", fk);
    CHECKF(fb < 0 ? json_is_null(json_object_get(f1, "baseline")) : json_integer_value(json_object_get(f1, "baseline")) == fb, "first_kl_le_1.0 baseline (want %d)", fb);
    CHECKF(fk < 0 || fb < 0 ? json_is_null(json_object_get(f1, "delta")) : json_integer_value(json_object_get(f1, "delta")) == fk - fb, "first_kl_le_1.0 delta");
    csv_table_free(&x);
    csv_table_free(&b);
    free(np);
    for (int i = 0; i < no; i++) free(po[i]);
    for (int i = 0; i < nr; i++) free(pr[i]);
    free(po); free(pr); free(jp); free(rp);
    json_decref(ours);
    json_decref(ref);
}

TEST(without_prism_no_sidecars) {
    // the same model without prism_dir, exported into the same directory: the Prism sidecars of
    // the previous export are stale and removed; prism_summary says absent with empty metrics
    char *cmd = xasprintf("bin/lensweep run --model %s/m --out %s/run2 --probes tests/fixtures/probes/one-fact.yaml && "
                          "bin/lensweep export %s/run2/m.h5 --out %s", tmpdir, tmpdir, tmpdir, out_dir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "run without prism_dir: exit %d: %s", rc, err);
    free(err); free(cmd);
    char *a = xasprintf("%s/output-m-pure-next-token-prism.csv", out_dir), *b = xasprintf("%s/output-m-records-prism.csv", out_dir);
    CHECK(!lw_file_exists(a) && !lw_file_exists(b));
    free(a); free(b);
    json_error_t je;
    char *jp = xasprintf("%s/output-m.json", out_dir);
    json_t *j = json_load_file(jp, 0, &je);
    json_t *ps = json_object_get(json_object_get(j, "diagnostics"), "prism_summary");
    CHECK(json_is_false(json_object_get(ps, "present")) && json_object_size(json_object_get(ps, "metrics")) == 0);
    CHECK(json_is_null(json_object_get(ps, "k")) && json_is_null(json_object_get(ps, "layers")));
    json_decref(j);
    free(jp);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lwprism.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(prism_run_and_export);
    RUN(headers_equal_the_reference);
    RUN(pure_values_equal_numpy);
    RUN(records_values_equal_numpy);
    RUN(prism_summary_keys_and_values);
    RUN(without_prism_no_sidecars);
    char *cmd = xasprintf("rm -rf %s", tmpdir);
    if (system(cmd)) {}
    free(cmd);
    free(out_dir); free(run_h5);
    return test_summary();
}
