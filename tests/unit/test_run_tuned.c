// The tuned lens end to end: `lensweep mktiny` -> `lensweep run --tuned-lens-dir` with a committed
// artifact (tools/tuned_fixture.py: random rank-8 translators and temperatures) -> `lensweep
// export`. The /lens/tuned values equal an independent computation: numpy from the artifact, the
// checkpoint's weights and the run's stored residuals (tools/tuned_run_fixture.py wrote
// tests/fixtures/tuned_run/expected-*.csv; the run here writes the same residuals: same model,
// same probe set, deterministic forward), for a Llama model and a Gemma-2 one (whose soft-capped
// head makes the §19.4 τ* search non-trivial). Tolerance: the fp32 lens against numpy's float64 —
// measured at most 4.8e-6 relative (2.6e-5 absolute on KLs of ~12 bits; cosines 7e-8 absolute),
// checked at 1e-5 relative + 1e-5 absolute (cosines 1e-5 absolute); ids, ranks and τ* exactly
// (τ* to 1e-9: the same grid point). The sidecars' headers equal the reference pipeline's; an
// identity artifact (U = V = c = 0, θ = θ_init: τ rounds to 1.0f) decodes the norm lens's rows;
// a run without tuned_lens_dir writes no tuned sidecar and removes one a previous export left.
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/wait.h>

#include "report/report_csv.h"
#include "runfile/run_read.h"
#include "test.h"
#include "run_fixture.h"

#define FIX "tests/fixtures/tuned_run"
#define TOL 1e-5

static char *out_dir, *run_h5;

static const ExPass *pass_of(const ExRun *run, const char *name) {
    for (int i = 0; i < run->n_passes; i++)
        if (!strcmp(run->passes[i].name, name)) return &run->passes[i];
    CHECKF(0, "no pass %s", name);
    return &run->passes[0];
}

static int read_run(const char *path, ExRun *run) {
    LwError e = {0};
    int rc = ex_run_read(path, run, &e);
    CHECKF(rc == 0, "%s", e.msg);
    return rc;
}

// ---------------------------------------------------------------------------- the tests

TEST(tuned_run_and_export) {
    char *tok = xasprintf("%s/tokenizers/mistral-7b-v0.1/tokenizer.json", shared_dir());
    out_dir = xasprintf("%s/ex", tmpdir);
    run_h5 = xasprintf("%s/run/m.h5", tmpdir);
    // the fixture's model: tests/fixtures/tuned_run/README.md names the same commands
    char *cmd = xasprintf("bin/lensweep mktiny --family llama --seed 5 --layers 4 --out %s/m --tokenizer %s && "
                          "bin/lensweep run --model %s/m --out %s/run --probes tests/fixtures/probes/one-fact.yaml --tuned-lens-dir " FIX "/artifact && "
                          "bin/lensweep export %s --out %s",
                          tmpdir, tok, tmpdir, tmpdir, run_h5, out_dir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "mktiny -> run --tuned-lens-dir -> export: exit %d: %s", rc, err);
    free(err); free(cmd); free(tok);
}

TEST(headers_equal_the_reference) {
    char *ours = xasprintf("%s/output-m-pure-next-token-tuned.csv", out_dir),
         *rp = xasprintf("%s/reference/logos-run-latest/output-Mistral-7B-v0.1-pure-next-token-tuned.csv", shared_dir());
    char *a = first_line(ours), *b = first_line(rp);
    CHECKF(*b && !strcmp(a, b), "pure-next-token-tuned header differs from the reference's:\n ours %s\n ref  %s", a, b);
    free(a); free(b); free(ours); free(rp);
    ours = xasprintf("%s/output-m-records-tuned.csv", out_dir);
    rp = xasprintf("%s/reference/logos-run-latest/output-Mistral-7B-v0.1-records.csv", shared_dir());
    a = first_line(ours);
    b = first_line(rp);
    CHECKF(*b && !strcmp(a, b), "records-tuned header differs from the reference records CSV's:\n ours %s\n ref  %s", a, b);
    free(a); free(b); free(ours); free(rp);
}

// /lens/tuned at NEXT of the run file h5 against numpy's <fix>/expected-pure.csv.
static void check_next(const char *h5, const char *fix) {
    ExRun run;
    if (read_run(h5, &run)) return;
    CHECK(run.has_tuned && run.tuned_k == 8);
    char *xp = xasprintf("%s/expected-pure.csv", fix);
    CsvTable x = read_table(xp);
    free(xp);
    CHECKF(x.n_rows == 12, "expected rows %zu (3 passes x 4 layers)", x.n_rows);
    int bad = 0;
    for (size_t r = 0; r < x.n_rows; r++) {
        const ExPass *p = pass_of(&run, cell(&x, r, "pass"));
        const ExNext *t = &p->tuned;
        int L = (int)num(&x, r, "layer");
#define NEAR(field, col, rel, abs_) do { double e_ = num(&x, r, col), g_ = t->field[L]; \
        if (!(isnan(e_) ? isnan(g_) : close_to_rel(g_, e_, rel, abs_))) { bad++; printf("    %s %s L=%d: %.9g vs numpy %.9g\n", p->name, col, L, g_, e_); } } while (0)
#define EXACT(field, col) do { int e_ = (int)num(&x, r, col); \
        if (t->field[L] != e_) { bad++; printf("    %s %s L=%d: %d vs numpy %d\n", p->name, col, L, t->field[L], e_); } } while (0)
        NEAR(entropy_bits, "entropy_bits", TOL, TOL);
        NEAR(p_answer, "p_answer", TOL, 0);
        NEAR(p_contrast, "p_contrast", TOL, 0);
        NEAR(kl_to_final_bits, "kl_to_final_bits", TOL, TOL);
        NEAR(cos_to_final, "cos_to_final", 0, TOL);
        NEAR(answer_logit, "answer_logit", TOL, TOL);
        NEAR(cos_to_answer, "cos_to_answer", 0, TOL);
        NEAR(kl_rot_only_bits, "kl_rot_only_bits", TOL, TOL);
        NEAR(kl_temp_only_bits, "kl_temp_only_bits", TOL, TOL);
        EXACT(answer_rank, "answer_rank");
        EXACT(answer_rank_rot_only, "answer_rank_rot_only");
        EXACT(answer_rank_temp_only, "answer_rank_temp_only");
#undef NEAR
#undef EXACT
        for (int k = 1; k <= 5; k++) {
            char tc[8], pc[8];
            snprintf(tc, sizeof tc, "top%d", k);
            snprintf(pc, sizeof pc, "prob%d", k);
            if (t->top_ids[(size_t)L * t->K + k - 1] != (int)num(&x, r, tc)) bad++;
            if (!close_to_rel(t->top_probs[(size_t)L * t->K + k - 1], num(&x, r, pc), TOL, 0)) bad++;
        }
        if (!close_to_rel(run.tuned_tau[L], num(&x, r, "tau"), 1e-12, 0)) bad++;
        // row 0 has no translator
        if (!isnan(t->kl_to_final_bits[0]) || t->answer_rank[0] != -1 || t->top_ids[0] != -1) bad++;
    }
    CHECKF(bad == 0, "%d NEXT values differ from numpy's", bad);
    CHECK(isnan(run.tuned_tau[0]) && run.tuned_tau[run.n_layers] == 1.0);
    csv_table_free(&x);
    ex_run_free(&run);
}

// The §19.4 positional rows and head_mismatch of h5 against numpy's <fix>/expected-{positions,head}.csv.
static void check_positions_head(const char *h5, const char *fix) {
    ExRun run;
    if (read_run(h5, &run)) return;
    char *xp = xasprintf("%s/expected-positions.csv", fix);
    CsvTable x = read_table(xp);
    free(xp);
    CHECKF(x.n_rows == 72, "expected rows %zu (3 passes x 4 layers x 6 grid positions)", x.n_rows);
    int bad = 0;
    for (size_t r = 0; r < x.n_rows; r++) {
        const ExPass *p = pass_of(&run, cell(&x, r, "pass"));
        const ExTunedPositions *q = &p->tuned_pos;
        int L = (int)num(&x, r, "layer"), pi = (int)num(&x, r, "pos_index"), j = -1;
        for (int k = 0; k < q->P; k++)
            if (q->pos_index[k] == pi) j = k;
        if (j < 0 || q->pos_frac[j] != num(&x, r, "pos_frac")) { bad++; continue; }
        size_t o = (size_t)L * q->P + j;
        if (!close_to_rel(q->kl_norm_bits[o], num(&x, r, "kl_norm_bits"), TOL, TOL)) bad++;
        if (!close_to_rel(q->kl_tuned_bits[o], num(&x, r, "kl_tuned_bits"), TOL, TOL)) bad++;
        if (!close_to_rel(q->entropy_norm_bits[o], num(&x, r, "entropy_norm_bits"), TOL, TOL)) bad++;
        if (!close_to_rel(q->entropy_tuned_bits[o], num(&x, r, "entropy_tuned_bits"), TOL, TOL)) bad++;
        if (q->answer_rank_norm[o] != (int)num(&x, r, "answer_rank_norm")) bad++;
        if (q->answer_rank_tuned[o] != (int)num(&x, r, "answer_rank_tuned")) bad++;
    }
    CHECKF(bad == 0, "%d positional values differ from numpy's", bad);
    csv_table_free(&x);
    xp = xasprintf("%s/expected-head.csv", fix);
    x = read_table(xp);
    free(xp);
    CHECKF(x.n_rows == 3, "expected-head rows %zu", x.n_rows);
    for (size_t r = 0; r < x.n_rows; r++) {
        const ExPass *p = pass_of(&run, cell(&x, r, "pass"));
        CHECKF(close_to_rel(p->tuned_kl_bits_final, num(&x, r, "kl_bits_tuned_final"), TOL, TOL), "%s kl_bits_tuned_final", p->name);
        CHECK_NEAR(p->tuned_tau_star_modelcal, num(&x, r, "tau_star_modelcal"), 1e-9);
        CHECKF(close_to_rel(p->tuned_kl_bits_final_after_tau_star, num(&x, r, "kl_bits_tuned_final_after_tau_star"), TOL, TOL),
               "%s kl_bits_tuned_final_after_tau_star", p->name);
    }
    csv_table_free(&x);
    ex_run_free(&run);
}

TEST(next_values_equal_numpy) { check_next(run_h5, FIX); }

TEST(positions_and_head_mismatch_equal_numpy) {
    check_positions_head(run_h5, FIX);
    // the §19.4 worked example: 17 tokens -> 3, 6, 10, 13, 15, 16 labelled 0.2 .. 0.92, 0.98
    ExRun run;
    if (read_run(run_h5, &run)) return;
    const ExTunedPositions *q = &pass_of(&run, "pos_orig_0")->tuned_pos;
    static const int IDX[6] = {3, 6, 10, 13, 15, 16};
    static const double FR[6] = {0.2, 0.4, 0.6, 0.8, 0.92, 0.98};
    CHECKF(q->P == 6, "P = %d", q->P);
    for (int k = 0; k < 6 && k < q->P; k++) CHECK(q->pos_index[k] == IDX[k] && q->pos_frac[k] == FR[k]);
    ex_run_free(&run);
}

TEST(gemma2_softcapped_head) {
    // Gemma-2: the model head applies the final soft-cap (3.0 in mktiny), the lenses do not, so at
    // L = n the tuned lens (identity, τ = 1) differs from the head and the §19.4 τ* search has a
    // non-trivial minimum (numpy: τ* ≈ 2.5-3.2, KL 9-13 bits -> 0.2-0.4 bits)
    char *tok = xasprintf("%s/tokenizers/mistral-7b-v0.1/tokenizer.json", shared_dir());
    char *cmd = xasprintf("bin/lensweep mktiny --family gemma2 --seed 3 --layers 4 --out %s/g --tokenizer %s && "
                          "bin/lensweep run --model %s/g --out %s/rung --probes tests/fixtures/probes/one-fact.yaml --tuned-lens-dir " FIX "/gemma2/artifact",
                          tmpdir, tok, tmpdir, tmpdir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "mktiny gemma2 -> run --tuned-lens-dir: exit %d: %s", rc, err);
    free(err); free(cmd); free(tok);
    if (rc) return;
    char *h5 = xasprintf("%s/rung/g.h5", tmpdir);
    check_next(h5, FIX "/gemma2");
    check_positions_head(h5, FIX "/gemma2");
    free(h5);
}

// The columns OUTPUTS.md §4.1 lists as always empty in the tuned pure sidecar (control_margin:
// on pos rows).
static const char *EMPTY[] = {"semantic_margin_ok", "kl_to_final_bits_norm_temp", "topk_jaccard_raw_norm@50",
                              "topk_jaccard_consecutive@50", "resid_norm_ratio", "delta_resid_cos"};

TEST(pure_sidecar_rows) {
    ExRun run;
    if (read_run(run_h5, &run)) return;
    char *p = xasprintf("%s/output-m-pure-next-token-tuned.csv", out_dir);
    CsvTable g = read_table(p), x = read_table(FIX "/expected-pure.csv");
    CHECKF(g.n_rows == 12 && x.n_rows == 12, "rows: ours %zu, expected %zu (11 x n in the reference: passes x layers 1..n)",
           g.n_rows, x.n_rows);
    int bad = 0, bad_tok = 0;
    for (size_t r = 0; r < g.n_rows && r < x.n_rows; r++) {
        int ctl = !strcmp(cell(&x, r, "pass"), "ctl_orig");
        if (strcmp(cell(&g, r, "layer"), cell(&x, r, "layer")) || strcmp(cell(&g, r, "prompt_id"), ctl ? "ctl" : "pos")) { bad++; continue; }
        if (!close_to_rel(num(&g, r, "entropy_bits"), num(&x, r, "entropy_bits"), 0, TOL)) bad++;
        if (!close_to_rel(num(&g, r, "p_answer"), num(&x, r, "p_answer"), TOL, 0)) bad++;
        if (!close_to_rel(num(&g, r, "kl_to_final_bits"), num(&x, r, "kl_to_final_bits"), 0, TOL)) bad++;
        if (!close_to_rel(num(&g, r, "cos_to_final"), num(&x, r, "cos_to_final"), 0, TOL)) bad++;
        if (!close_to_rel(num(&g, r, "cos_to_answer"), num(&x, r, "cos_to_answer"), 0, TOL)) bad++;
        if ((int)num(&g, r, "answer_rank") != (int)num(&x, r, "answer_rank")) bad++;
        if (!close_to_rel(num(&g, r, "p_top1"), num(&x, r, "prob1"), TOL, 0)) bad++;
        long id = strtol(cell(&x, r, "top1"), NULL, 10);
        if (id < 0 || id >= run.V || strcmp(cell(&g, r, "top1"), run.decoded[id])) bad_tok++;
        CHECK(*cell(&g, r, "cos_to_prompt_max") && *cell(&g, r, "echo_mass_prompt") && *cell(&g, r, "teacher_entropy_bits"));
        for (size_t k = 0; k < sizeof EMPTY / sizeof EMPTY[0]; k++)
            CHECKF(!*cell(&g, r, EMPTY[k]), "row %zu: %s = '%s', the tuned sidecar leaves it empty", r, EMPTY[k], cell(&g, r, EMPTY[k]));
        if (ctl) {
            double cm = num(&x, r, "p_answer") - num(&x, r, "p_contrast");
            if (!close_to_rel(num(&g, r, "control_margin"), cm, 1e-4, 1e-9)) bad++;
        } else {
            CHECK_STR(cell(&g, r, "control_margin"), "");
        }
    }
    CHECKF(bad == 0 && bad_tok == 0, "%d values and %d top-1 tokens differ from numpy's", bad, bad_tok);
    csv_table_free(&g);
    csv_table_free(&x);
    free(p);
    ex_run_free(&run);
}

TEST(records_values_equal_numpy) {
    ExRun run;
    if (read_run(run_h5, &run)) return;
    char *p = xasprintf("%s/output-m-records-tuned.csv", out_dir);
    CsvTable g = read_table(p), x = read_table(FIX "/expected-records.csv");
    CHECKF(g.n_rows == x.n_rows && g.n_rows == 200, "rows: ours %zu, expected %zu (4 layers x (17 + 16 + 17) positions)", g.n_rows, x.n_rows);
    int bad = 0, bad_tok = 0;
    for (size_t r = 0; r < g.n_rows && r < x.n_rows; r++) {
        if (strcmp(cell(&g, r, "layer"), cell(&x, r, "layer")) || strcmp(cell(&g, r, "pos"), cell(&x, r, "pos"))) { bad++; continue; }
        if (!close_to_rel(num(&g, r, "entropy_bits"), num(&x, r, "entropy_bits"), 0, TOL)) bad++;
        for (int k = 1; k <= 5; k++) {
            char pc[16];
            snprintf(pc, sizeof pc, "prob%d", k);
            if (!close_to_rel(num(&g, r, pc), num(&x, r, pc), TOL, 0)) bad++;
        }
        if (num(&x, r, "prob1") - num(&x, r, "prob2") > TOL * num(&x, r, "prob1")) {
            long id = strtol(cell(&x, r, "top1"), NULL, 10);
            if (id < 0 || id >= run.V || strcmp(cell(&g, r, "top1"), run.decoded[id])) bad_tok++;
        }
    }
    CHECKF(bad == 0 && bad_tok == 0, "%d values and %d top-1 tokens differ from numpy's", bad, bad_tok);
    csv_table_free(&g);
    csv_table_free(&x);
    free(p);
    ex_run_free(&run);
}

TEST(identity_artifact_decodes_the_norm_lens) {
    // U = V = c = 0 and θ = θ_init: y = x exactly and (float)τ = 1.0f, so every tuned row is the
    // norm lens's row; only the order of the vocabulary sums differs (~1e-14)
    char *cmd = xasprintf("bin/lensweep run --model %s/m --out %s/runid --probes tests/fixtures/probes/one-fact.yaml --tuned-lens-dir " FIX "/identity",
                          tmpdir, tmpdir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "run with the identity artifact: exit %d: %s", rc, err);
    free(err); free(cmd);
    char *h5 = xasprintf("%s/runid/m.h5", tmpdir);
    ExRun run;
    if (rc || read_run(h5, &run)) { free(h5); return; }
    int bad = 0, n = (int)run.n_layers;
    for (int i = 0; i < run.n_passes; i++) {
        const ExPass *p = &run.passes[i];
        const ExNext *t = &p->tuned, *m = &p->norm;
        for (int L = 1; L <= n; L++) {
            if (run.tuned_tau[L] < 1 - 1e-7 || run.tuned_tau[L] > 1 + 1e-7) bad++;
            for (int k = 0; k < 50; k++) {
                if (t->top_ids[(size_t)L * t->K + k] != m->top_ids[(size_t)L * m->K + k]) bad++;
                if (t->ranks_of_norm_top50[(size_t)L * 50 + k] != k + 1) bad++; // ties aside: none in these rows
            }
            if (!close_to_rel(t->entropy_bits[L], m->entropy_bits[L], 1e-9, 1e-9)) bad++;
            if (!close_to_rel(t->kl_to_final_bits[L], m->kl_to_final_bits[L], 1e-6, 1e-9)) bad++;
            if (!close_to_rel(t->p_answer[L], m->p_answer[L], 1e-6, 0)) bad++;
            if (t->answer_rank[L] != m->answer_rank[L]) bad++;
            if (!close_to_rel(t->cos_to_final[L], m->cos_to_final[L], 0, 1e-6)) bad++;
            if (!close_to_rel(t->cos_to_answer[L], m->cos_to_answer[L], 0, 1e-6)) bad++;
            if (!close_to_rel(t->cos_to_prompt_max[L], m->cos_to_prompt_max[L], 0, 1e-6)) bad++;
            if (!close_to_rel(t->echo_mass_prompt[L], m->echo_mass_prompt[L], 1e-6, 1e-12)) bad++;
            // the §19.4 variants coincide with the tuned lens itself
            if (t->kl_rot_only_bits[L] != t->kl_to_final_bits[L] || t->kl_temp_only_bits[L] != t->kl_to_final_bits[L]) bad++;
            if (t->answer_rank_rot_only[L] != t->answer_rank[L] || t->answer_rank_temp_only[L] != t->answer_rank[L]) bad++;
            for (int t0 = 0; t0 < p->T; t0++)
                if (!close_to_rel(p->tuned_rec_entropy_bits[(size_t)L * p->T + t0], p->rec_entropy_bits[(size_t)L * p->T + t0], 1e-9, 1e-9)) bad++;
            const ExTunedPositions *q = &p->tuned_pos;
            for (int j = 0; j < q->P; j++) {
                size_t o = (size_t)L * q->P + j;
                if (q->kl_norm_bits[o] != q->kl_tuned_bits[o] || q->entropy_norm_bits[o] != q->entropy_tuned_bits[o]) bad++;
                if (q->answer_rank_norm[o] != q->answer_rank_tuned[o]) bad++;
            }
        }
    }
    CHECKF(bad == 0, "%d tuned values differ from the norm lens's under the identity artifact", bad);
    ex_run_free(&run);
    free(h5);
}

TEST(without_tuned_no_sidecars) {
    // the same model without tuned_lens_dir, exported into the same directory: the tuned sidecars
    // of the previous export are stale and removed
    char *cmd = xasprintf("bin/lensweep run --model %s/m --out %s/run2 --probes tests/fixtures/probes/one-fact.yaml && "
                          "bin/lensweep export %s/run2/m.h5 --out %s", tmpdir, tmpdir, tmpdir, out_dir);
    char *err = NULL;
    int rc = sh(cmd, &err);
    CHECKF(rc == 0, "run without tuned_lens_dir: exit %d: %s", rc, err);
    free(err); free(cmd);
    char *a = xasprintf("%s/output-m-pure-next-token-tuned.csv", out_dir), *b = xasprintf("%s/output-m-records-tuned.csv", out_dir);
    CHECK(!lw_file_exists(a) && !lw_file_exists(b));
    free(a); free(b);
    ExRun run;
    char *h5 = xasprintf("%s/run2/m.h5", tmpdir);
    if (!read_run(h5, &run)) {
        CHECK(!run.has_tuned && !run.passes[0].tuned.present);
        ex_run_free(&run);
    }
    free(h5);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lwtuned.XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    RUN(tuned_run_and_export);
    RUN(headers_equal_the_reference);
    RUN(next_values_equal_numpy);
    RUN(positions_and_head_mismatch_equal_numpy);
    RUN(gemma2_softcapped_head);
    RUN(pure_sidecar_rows);
    RUN(records_values_equal_numpy);
    RUN(identity_artifact_decodes_the_norm_lens);
    RUN(without_tuned_no_sidecars);
    char *cmd = xasprintf("rm -rf %s", tmpdir);
    if (system(cmd)) {}
    free(cmd);
    free(out_dir); free(run_h5);
    return test_summary();
}
