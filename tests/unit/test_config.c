// test_config — the option table, YAML validation (every error names file:line:col), CLI
// overrides, defaults = METRICS.md §0.5, the probe set of METRICS.md §1, checkpoint lookup.
//
// Expected values come from the spec text (copied into each check's comment), and line:column
// positions are counted by hand in the snippets written here.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/model_shape.h"
#include "test.h"

static char g_dir[256];

static const char *write_tmp(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

// Loads `text` as a model config; returns the error message ("" when it loaded).
static const char *load_snippet(const char *text, LwRunConfig *cfg, LwError *err) {
    const char *p = write_tmp("snippet.yaml", text);
    memset(err, 0, sizeof *err);
    config_defaults(cfg);
    if (config_load_file(p, cfg, err) == 0) config_finalize(cfg, err);
    return err->set ? err->msg : "";
}

#define CHECK_CONTAINS(hay, needle) CHECKF(strstr((hay), (needle)) != NULL, "'%s' lacks '%s'", (hay), (needle))

TEST(defaults_equal_metrics_0_5) {
    LwRunConfig c;
    config_defaults(&c);
    // METRICS.md §0.5 "strict copy threshold / margin / window | 0.95 / 0.10 / k=1"
    CHECK(c.copy_threshold == 0.95); CHECK(c.copy_margin == 0.10); CHECK(c.copy_window_k == 1);
    // "strict sweep thresholds | 0.70, 0.80, 0.90, 0.95"
    CHECK(c.copy_strict_sweep.n == 4 && c.copy_strict_sweep.v[0] == 0.70 && c.copy_strict_sweep.v[3] == 0.95);
    // "soft copy threshold / windows | 0.5 / k ∈ {1,2,3}"
    CHECK(c.copy_soft_threshold == 0.5);
    CHECK(c.copy_soft_windows.n == 3 && c.copy_soft_windows.v[0] == 1 && c.copy_soft_windows.v[2] == 3);
    CHECK(c.copy_soft_extra_thresholds.n == 0);
    CHECK(c.entropy_collapse_bits == 1.0);            // "entropy ≤ 1.0 bit"
    // "top-k kept | pure rows 5; records 20 at verbose positions, else 5; final_prediction 20;
    //  test prompts 10; temperature exploration 15"
    CHECK(c.topk_pure == 5 && c.topk_records == 20 && c.topk_records_other == 5 && c.topk_final == 20 &&
          c.topk_test_prompts == 10 && c.topk_temperature == 15);
    CHECK(c.surface_delta == 0.05 && c.geom_gamma == 0.02); // "0.05 / 0.02"
    CHECK(c.prompt_topk == 50 && c.prompt_topk_tau == 0.33);  // "50 / 0.33"
    CHECK(c.semantic_delta_abs == 0.002);
    CHECK(c.semantic_top2_gap == 0.5 && c.control_top2_gap == 0.5);
    CHECK(c.kl_milestones_bits.n == 2 && c.kl_milestones_bits.v[0] == 0.5 && c.kl_milestones_bits.v[1] == 1.0);
    CHECK(c.rank_milestones.n == 3 && c.rank_milestones.v[1] == 5 && c.rank_milestones.v[2] == 10);
    CHECK(c.cos_milestones.n == 3 && c.cos_milestones.v[0] == 0.2 && c.cos_milestones.v[2] == 0.6);
    // "last-layer KL gate | 0.25 bits; temperature grid 25 log-spaced in [0.1, 10]"
    CHECK(c.last_layer_kl_gate_bits == 0.25 && c.last_layer_temp_n == 25 && c.last_layer_temp_min == 0.1 &&
          c.last_layer_temp_max == 10);
    CHECK(c.norm_temp_n == 25 && c.norm_temp_min == 0.2 && c.norm_temp_max == 5.0); // "25 log-spaced in [0.2, 5.0]"
    CHECK(c.raw_lens_window_radius == 4 && c.raw_lens_window_radius_escalated == 8);
    CHECK(c.raw_lens_risk_high_kl_bits == 1.0 && c.raw_lens_risk_medium_kl_bits == 0.5);
    CHECK(c.artefact_weights.n == 3 && c.artefact_weights.v[0] == 0.6 && c.artefact_weights.v[1] == 0.3 &&
          c.artefact_weights.v[2] == 0.1 && c.artefact_max_kl_scale == 5);
    CHECK(c.artefact_tier_low == 0.2 && c.artefact_tier_medium == 0.5);
    CHECK(c.confirmed_window == 2 && c.decoding_point_jaccard == 0.5 && c.lens_consistency_alarm == 0.30);
    CHECK(c.gate_stability_scales.n == 4 && c.gate_stability_scales.v[0] == 0.90 && c.gate_stability_scales.v[3] == 1.10);
    CHECK(c.gate_stability_alarm == 0.75);
    CHECK(c.repeatability_max_rank_dev == 5 && c.repeatability_flip_rate == 0.02);
    CHECK(c.norm_spike_ratio == 3.0 && c.norm_spike_cos == 0.8 && c.norm_plateau_slope == 0.01 &&
          c.norm_monotonic_r2 == 0.70);
    CHECK(c.skip_layers_m.n == 3 && c.skip_layers_m.v[2] == 8 && c.skip_layers_regression == 0.20);
    CHECK(c.positional_grid.n == 8 && c.positional_grid.v[4] == 0.92 && c.positional_grid.v[7] == 1.00);
    CHECK(c.seed == 316); // §0.4 "global seed 316"
    CHECK(c.tp_size == 0);
    CHECK(c.lenses.n == 2 && !strcmp(c.lenses.v[0], "norm") && !strcmp(c.lenses.v[1], "raw"));
    // every [REF-QUIRK] switch defaults to the reference behaviour
    CHECK(c.quirk_gap_milestones_null && c.quirk_jaccard_last_fact && c.quirk_prism_transposed &&
          c.quirk_raw_summary_first_fact && c.quirk_skip_layers_block_index);
    config_free(&c);
}

TEST(reference_probe_set) {
    LwProbeSet ps;
    probe_set_reference(&ps);
    CHECK(ps.n_facts == 5);
    // METRICS.md §1.1 fact 0: `Germany→Berlin` (U+2192 = E2 86 92)
    CHECK_STR(ps.facts[0].key, "Germany\xe2\x86\x92" "Berlin");
    CHECK_STR(ps.facts[4].key, "Canada\xe2\x86\x92" "Ottawa");
    CHECK(ps.facts[3].index == 3);
    char *p = probe_set_prompt(&ps, "orig", 0);
    CHECK_STR(p, "Give the city name only, plain text. The capital of Germany is called simply");
    free(p);
    p = probe_set_prompt(&ps, "no_filler", 2);
    CHECK_STR(p, "Give the city name only, plain text. The capital of Italy is called");
    free(p);
    CHECK_STR(ps.control_prompt, "Give the city name only, plain text. The capital of France is called simply");
    CHECK_STR(ps.control_answer, "Paris");
    CHECK(ps.n_test_prompts == 14); // §1.4 "test_prompts (14, in this order)"
    CHECK_STR(ps.test_prompts[0], "Berlin is the capital of");
    CHECK_STR(ps.test_prompts[13], "Give the city name only, plain text. In Germany, the capital city is known as");
    CHECK(ps.n_temps == 2 && ps.temps[0] == 0.1 && ps.temps[1] == 2.0); // §1.4 "T ∈ {0.1, 2.0}"
    probe_set_free(&ps);
}

// The committed configs/probes/reference.yaml and configs/defaults.yaml say exactly what the
// built-in values say: the same config hash and the same canonical text.
TEST(committed_files_equal_builtins) {
    LwRunConfig a, b;
    LwError err = {0};
    config_defaults(&a);
    CHECK(config_finalize(&a, &err) == 0);
    config_defaults(&b);
    CHECK(config_load_file("configs/defaults.yaml", &b, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    free(b.probes); b.probes = xstrdup("configs/probes/reference.yaml");
    CHECK(config_finalize(&b, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    CHECK_STR(a.config_hash, b.config_hash);
    // the canonical text differs only in `probes:` (a path vs empty)
    char *ta = strstr(a.yaml_text, "probe_set:"), *tb = strstr(b.yaml_text, "probe_set:");
    CHECK(ta && tb && !strcmp(ta, tb));
    config_free(&a); config_free(&b);
}

TEST(snippet_loads) {
    LwRunConfig c;
    LwError err;
    const char *m = load_snippet("model: org/Some-Model-7B\n"
                                 "tp_size: 2\n"
                                 "lenses: [norm, raw, tuned]\n"
                                 "copy_threshold: 0.9\n"
                                 "copy_strict_sweep: 0.5\n"
                                 "slurm:\n"
                                 "  partition: gpu\n"
                                 "quirks:\n"
                                 "  jaccard_last_fact: false\n",
                                 &c, &err);
    CHECK_STR(m, "");
    CHECK_STR(c.model, "org/Some-Model-7B");
    CHECK_STR(c.name, "Some-Model-7B"); // derived from the id
    CHECK(c.tp_size == 2 && c.lenses.n == 3 && c.copy_threshold == 0.9);
    CHECK(c.copy_strict_sweep.n == 1 && c.copy_strict_sweep.v[0] == 0.5);
    CHECK_STR(c.slurm_partition, "gpu");
    CHECK(c.quirk_jaccard_last_fact == 0 && c.quirk_gap_milestones_null == 1);
    CHECK(strlen(c.config_hash) == 16);
    // the canonical YAML loads back to the same configuration
    const char *p2 = write_tmp("canonical.yaml", c.yaml_text);
    LwRunConfig d;
    config_defaults(&d);
    memset(&err, 0, sizeof err);
    CHECK(config_load_file(p2, &d, &err) == 0 && config_finalize(&d, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    CHECK_STR(c.config_hash, d.config_hash);
    CHECK(!strcmp(c.yaml_text, d.yaml_text));
    config_free(&c); config_free(&d);
}

typedef struct {
    const char *yaml;
    const char *want_where; // "snippet.yaml:L:C"
    const char *want_msg;   // part of the message
    const char *want_hint;  // part of the hint, or NULL
} BadCase;

TEST(errors_name_line_and_column) {
    static const BadCase cases[] = {
        // unknown key with a near miss (line 2, column 1)
        {"model: x\ncopy_treshold: 0.9\n", "snippet.yaml:2:1", "copy_treshold: unknown key", "did you mean 'copy_threshold'"},
        // wrong type: "two" at line 1 column 10
        {"tp_size: two\n", "snippet.yaml:1:10", "tp_size: expects an integer, got 'two'", "[0, 64]"},
        // out of range: 1.5 at line 3 column 17
        {"model: x\nseed: 1\ncopy_threshold: 1.5\n", "snippet.yaml:3:17", "copy_threshold: 1.5 is out of range", "[0, 1]"},
        // a bad list element: the third element "fancy" sits at line 1, column 22
        {"lenses: [norm, raw,  fancy]\n", "snippet.yaml:1:22", "'fancy' is not a valid value", "norm,raw,tuned,prism"},
        // nested key under slurm: line 3 column 3
        {"slurm:\n  partition: gpu\n  partitio: x\n", "snippet.yaml:3:3", "slurm.partitio: unknown key", "slurm.partition"},
        // a section given a scalar: value at line 1 col 8
        {"slurm: gpu\n", "snippet.yaml:1:8", "slurm: expects a mapping", NULL},
        // duplicate key: second at line 2 col 1
        {"tp_size: 1\ntp_size: 2\n", "snippet.yaml:2:1", "tp_size: duplicate key", NULL},
        // boolean expected
        {"sidecars: maybe\n", "snippet.yaml:1:11", "sidecars: expects a boolean", "true or false"},
        // a list where a scalar belongs: the list starts at line 1 col 17
        {"copy_threshold: [0.9]\n", "snippet.yaml:1:17", "copy_threshold: expects a number, got a list", NULL},
        // YAML syntax error (an unclosed flow sequence) reported by libyaml with its position
        {"lenses: [norm, raw\nseed: 3\n", "snippet.yaml:", "YAML syntax error", NULL},
        // `models:` in a model config (it is a sweep)
        {"models:\n  - a.yaml\n", "snippet.yaml:1:1", "a sweep where one model config was expected", "slurm/submit"},
        // impossible TP for a known model: 3 ranks, 32 heads (Mistral-7B) — tp_size at line 2 col 10
        {"model: mistralai/Mistral-7B-v0.1\ntp_size: 3\n", "snippet.yaml:2:10", "tp_size: 3 is impossible", "TENSOR_PARALLEL"},
        // a missing defaults file, relative to the snippet
        {"defaults: nope.yaml\n", "snippet.yaml:1:11", "nope.yaml: no such file", NULL},
        // a probe set without {country}
        {"probe_set:\n  templates: {orig: \"no placeholder\", no_filler: \"x {country}\"}\n", "snippet.yaml:2:21",
         "templates.orig: has no {country}", "{country}"},
        // inverted temperature grid (cross-option check, points at the max)
        {"norm_temp_min: 3\nnorm_temp_max: 2\n", "snippet.yaml:2:16", "norm_temp_max must be larger", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        LwRunConfig c;
        LwError err;
        const char *m = load_snippet(cases[i].yaml, &c, &err);
        CHECKF(strstr(m, cases[i].want_where) != NULL, "case %zu: '%s' lacks '%s'", i, m, cases[i].want_where);
        CHECKF(strstr(m, cases[i].want_msg) != NULL, "case %zu: '%s' lacks '%s'", i, m, cases[i].want_msg);
        if (cases[i].want_hint)
            CHECKF(strstr(err.hint, cases[i].want_hint) != NULL, "case %zu: hint '%s' lacks '%s'", i, err.hint,
                   cases[i].want_hint);
        config_free(&c);
    }
}

TEST(cli_overrides) {
    LwRunConfig c;
    LwError err = {0};
    config_defaults(&c);
    char *argv[] = {"--copy-threshold", "0.8", "--lenses=norm,prism", "--keep_residuals", "--no-sidecars",
                    "--slurm.partition", "p1", "--out", "/tmp/x", "--tp_size", "4"};
    CHECK(config_apply_cli(&c, 11, argv, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    CHECK(c.copy_threshold == 0.8);
    CHECK(c.lenses.n == 2 && !strcmp(c.lenses.v[1], "prism"));
    CHECK(c.keep_residuals == 1 && c.sidecars == 0);
    CHECK_STR(c.slurm_partition, "p1");
    CHECK_STR(c.out_dir, "/tmp/x");
    CHECK(c.tp_size == 4);
    const LwOption *o = config_option_find("tp_size");
    CHECK_CONTAINS(c.src[o - LW_OPTIONS].where, "command line");
    config_free(&c);

    const char *bad[][3] = {
        {"--copy-treshold", "0.8", "did you mean --copy_threshold"},
        {"--tp_size", "-1", "[0, 64]"},
        {"--dtype", "int4", "auto,bf16,fp16,fp32"},
        {"stray", "x", "--key value"},
    };
    for (int i = 0; i < 4; i++) {
        config_defaults(&c);
        LwError e = {0};
        char *a[2] = {(char *)bad[i][0], (char *)bad[i][1]};
        CHECKF(config_apply_cli(&c, 2, a, &e) == -1, "%s accepted", bad[i][0]);
        CHECKF(strstr(e.hint, bad[i][2]) != NULL, "hint '%s' lacks '%s' (msg %s)", e.hint, bad[i][2], e.msg);
        CHECK_CONTAINS(e.msg, "command line");
        config_free(&c);
    }
    // a missing value
    config_defaults(&c);
    LwError e = {0};
    char *a[1] = {"--seed"};
    CHECK(config_apply_cli(&c, 1, a, &e) == -1);
    CHECK_CONTAINS(e.msg, "--seed: missing value");
    config_free(&c);
}

TEST(config_from_args_and_env) {
    const char *p = write_tmp("m.yaml", "model: org/M\ncopy_margin: 0.2\n");
    setenv("LENSWEEP_MODEL_ROOT", "/models/here", 1);
    LwRunConfig c;
    LwError err = {0};
    char *argv[] = {"--copy_margin", "0.3", (char *)p, "--seed", "7"};
    CHECK(config_from_args(&c, 5, argv, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    CHECK(c.copy_margin == 0.3 && c.seed == 7); // CLI wins over the file
    CHECK_STR(c.model_root, "/models/here");   // environment twin
    CHECK_STR(c.config_path, p);
    unsetenv("LENSWEEP_MODEL_ROOT");
    config_free(&c);
}

TEST(hash_tracks_measurements_only) {
    LwRunConfig a, b;
    LwError err = {0};
    config_defaults(&a); config_defaults(&b);
    config_finalize(&a, &err);
    // thresholds are applied by export: same hash
    b.copy_threshold = 0.5;
    free(b.out_dir); b.out_dir = xstrdup("/elsewhere");
    b.tp_size = 8;
    config_finalize(&b, &err);
    CHECK_STR(a.config_hash, b.config_hash);
    // top-k sizes, lenses and prompts change what is measured: different hash
    b.topk_pure = 6;
    config_finalize(&b, &err);
    CHECK(strcmp(a.config_hash, b.config_hash) != 0);
    b.topk_pure = 5;
    config_finalize(&b, &err);
    CHECK_STR(a.config_hash, b.config_hash);
    free(b.probe_set.facts[1].answer); b.probe_set.facts[1].answer = xstrdup("Lyon");
    config_finalize(&b, &err);
    CHECK(strcmp(a.config_hash, b.config_hash) != 0);
    config_free(&a); config_free(&b);
}

TEST(sweep_precedence_and_errors) {
    char d[400];
    snprintf(d, sizeof d, "%s/sw", g_dir);
    mkdir(d, 0755);
    char p[600];
    snprintf(p, sizeof p, "%s/defaults.yaml", d);
    FILE *f = fopen(p, "w"); fputs("copy_margin: 0.2\nseed: 11\nslurm:\n  time: \"01:00:00\"\n", f); fclose(f);
    snprintf(p, sizeof p, "%s/a.yaml", d);
    f = fopen(p, "w"); fputs("defaults: defaults.yaml\nmodel: org/A\nseed: 12\n", f); fclose(f);
    snprintf(p, sizeof p, "%s/b.yaml", d);
    f = fopen(p, "w"); fputs("defaults: defaults.yaml\nmodel: org/B\n", f); fclose(f);
    snprintf(p, sizeof p, "%s/sweep.yaml", d);
    f = fopen(p, "w"); fputs("name: two\ndefaults: defaults.yaml\nmodels: [a.yaml, b.yaml]\nseed: 13\ncopy_margin: 0.3\n", f); fclose(f);
    LwSweep sw;
    LwError err = {0};
    char *cli[] = {"--slurm.time", "02:00:00"};
    CHECK(sweep_load(p, 2, cli, &sw, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    if (!err.set) {
        CHECK_STR(sw.name, "two");
        CHECK(sw.n == 2);
        CHECK(sw.models[0].seed == 12);  // model beats sweep
        CHECK(sw.models[1].seed == 13);  // sweep beats defaults
        CHECK(sw.models[0].copy_margin == 0.3);
        CHECK_STR(sw.models[1].slurm_time, "02:00:00"); // CLI beats everything
        CHECK_STR(sw.models[1].name, "B");
        sweep_free(&sw);
    }
    // a sweep naming a missing model config: error at the list element, nothing loaded
    f = fopen(p, "w"); fputs("models:\n  - a.yaml\n  - missing.yaml\n", f); fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(sweep_load(p, 0, NULL, &sw, &err) == -1);
    CHECK_CONTAINS(err.msg, "sweep.yaml:3:5: models[1]");
    CHECK_CONTAINS(err.msg, "missing.yaml: no such model config");
    CHECK(sw.n == 0 && sw.models == NULL);
    // two models with the same name
    f = fopen(p, "w"); fputs("models: [a.yaml, a.yaml]\n", f); fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(sweep_load(p, 0, NULL, &sw, &err) == -1);
    CHECK_CONTAINS(err.msg, "same name 'A'");
}

static void mkdirs_file(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = tmp + 1; *s; s++) if (*s == '/') { *s = 0; mkdir(tmp, 0755); *s = '/'; }
    FILE *f = fopen(path, "w");
    fputs("{}\n", f);
    fclose(f);
}

TEST(checkpoint_lookup) {
    char root[400], p[800];
    snprintf(root, sizeof root, "%s/models", g_dir);
    LwRunConfig c;
    LwError err = {0};
    config_defaults(&c);
    unsetenv("LENSWEEP_MODEL_ROOT"); unsetenv("HF_HUB_CACHE");
    setenv("HF_HOME", g_dir, 1); // <g_dir>/hub
    free(c.model); c.model = xstrdup("org/Tiny-1");
    free(c.model_root); c.model_root = xstrdup(root);
    // nothing there: every place is listed
    CHECK(config_resolve_checkpoint(&c, &err) == -1);
    CHECK_CONTAINS(err.msg, "not found; looked in:");
    snprintf(p, sizeof p, "%s/org/Tiny-1", root); CHECK_CONTAINS(err.msg, p);
    snprintf(p, sizeof p, "%s/Tiny-1", root); CHECK_CONTAINS(err.msg, p);
    snprintf(p, sizeof p, "%s/hub/models--org--Tiny-1/snapshots", g_dir); CHECK_CONTAINS(err.msg, p);
    // the HF cache layout, revision from refs/main (an older snapshot also exists)
    snprintf(p, sizeof p, "%s/hub/models--org--Tiny-1/snapshots/aaaa/config.json", g_dir); mkdirs_file(p);
    snprintf(p, sizeof p, "%s/hub/models--org--Tiny-1/snapshots/bbbb/config.json", g_dir); mkdirs_file(p);
    snprintf(p, sizeof p, "%s/hub/models--org--Tiny-1/refs/main", g_dir); mkdirs_file(p);
    FILE *f = fopen(p, "w"); fputs("aaaa\n", f); fclose(f);
    memset(&err, 0, sizeof err);
    CHECK(config_resolve_checkpoint(&c, &err) == 0);
    snprintf(p, sizeof p, "%s/hub/models--org--Tiny-1/snapshots/aaaa", g_dir);
    CHECK_STR(c.model_dir, p);
    // the --local-dir layout <root>/<name> wins over the cache
    snprintf(p, sizeof p, "%s/Tiny-1/config.json", root); mkdirs_file(p);
    CHECK(config_resolve_checkpoint(&c, &err) == 0);
    snprintf(p, sizeof p, "%s/Tiny-1", root);
    CHECK_STR(c.model_dir, p);
    // <root>/<org>/<name> is tried before <root>/<name>
    snprintf(p, sizeof p, "%s/org/Tiny-1/config.json", root); mkdirs_file(p);
    CHECK(config_resolve_checkpoint(&c, &err) == 0);
    snprintf(p, sizeof p, "%s/org/Tiny-1", root);
    CHECK_STR(c.model_dir, p);
    // a path as given
    free(c.model); c.model = xstrdup(p);
    CHECK(config_resolve_checkpoint(&c, &err) == 0);
    CHECK_STR(c.model_dir, p);
    unsetenv("HF_HOME");
    config_free(&c);
}

// tp_size is checked against a checkpoint's config.json once the checkpoint is found and read:
// config_finalize (config_from_args) and config_resolve_checkpoint read nothing of it, so `run`
// reads config.json once; sweep_load's config_check_tp still reads a path's config.json. A
// config.json that is not JSON shows who reads it.
TEST(tp_check_reads_the_checkpoint_once_found) {
    char dir[400], cj[500];
    snprintf(dir, sizeof dir, "%s/tpmodel", g_dir);
    mkdir(dir, 0755);
    snprintf(cj, sizeof cj, "%s/config.json", dir);
    FILE *f = fopen(cj, "w");
    fputs("{ not json\n", f);
    fclose(f);
    LwRunConfig c;
    LwError err = {0};
    char *argv[] = {"--model", dir, "--tp_size", "3"};
    CHECKF(config_from_args(&c, 4, argv, &err) == 0, "%s", err.msg); // finalize: a path's shapes are its checkpoint's
    memset(&err, 0, sizeof err);
    CHECK(config_resolve_checkpoint(&c, &err) == 0);
    CHECK_STR(c.model_dir, dir);
    memset(&err, 0, sizeof err);
    CHECK(config_check_tp(&c, &err) == -1); // reads it
    CHECK_CONTAINS(err.msg, cj);
    CHECK_CONTAINS(err.msg, "invalid JSON");
    // the check against the shapes read: 2 query heads do not split over 3 ranks (hand count)
    f = fopen(cj, "w");
    fputs("{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 1, \"hidden_size\": 8,"
          " \"num_attention_heads\": 2, \"num_key_value_heads\": 1, \"intermediate_size\": 16, \"vocab_size\": 12,"
          " \"max_position_embeddings\": 64, \"rms_norm_eps\": 1e-5}\n", f);
    fclose(f);
    ModelConfig mc;
    memset(&err, 0, sizeof err);
    CHECKF(model_config_load(dir, &mc, &err) == 0, "%s", err.msg);
    LwModelShape s;
    model_shape_of_checkpoint(dir, &mc, &s);
    CHECK(config_check_tp_shape(&c, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "--tp_size (command line): tp_size: 3 is impossible for");
    CHECK_CONTAINS(err.msg, "2 attention heads");
    char src[600];
    snprintf(src, sizeof src, "(shapes from config.json at %s)", cj);
    CHECK_CONTAINS(err.msg, src);
    c.tp_size = 2; // 2 heads, 1 kv head (replicated), ff 16, vocab 12: every split is whole
    memset(&err, 0, sizeof err);
    CHECKF(config_check_tp_shape(&c, &s, &err) == 0, "%s", err.msg);
    config_free(&c);
}

TEST(param_counts_match_architectures_table) {
    // ARCHITECTURES.md §1 "Parameter counts": computed from shapes must reproduce them exactly.
    static const struct { const char *id; long long params; } P[] = {
        {"mistralai/Mistral-7B-v0.1", 7241732096LL}, {"meta-llama/Meta-Llama-3-8B", 8030261248LL},
        {"Qwen/Qwen3-8B", 8190735360LL}, {"google/gemma-2-9b", 9241705984LL}, {"Qwen/Qwen3-14B", 14768307200LL},
        {"google/gemma-2-27b", 27227128320LL}, {"01-ai/Yi-34B", 34388917248LL},
        {"meta-llama/Meta-Llama-3-70B", 70553706496LL}, {"mistralai/Mistral-Small-24B-Base-2501", 23572403200LL},
        {"Qwen/Qwen2.5-72B", 72706203648LL},
    };
    for (int i = 0; i < 10; i++) {
        LwModelShape s;
        CHECKF(model_shape_builtin(P[i].id, &s) == 1, "%s missing", P[i].id);
        CHECKF(model_shape_params(&s) == P[i].params, "%s: %lld vs %lld", P[i].id, (long long)model_shape_params(&s),
               P[i].params);
    }
    // TENSOR_PARALLEL.md §6: Llama-3-70B at TP=2 holds 70.6 GB per GPU; Mistral-7B at TP=1 14.5 GB
    LwModelShape s;
    model_shape_builtin("meta-llama/Meta-Llama-3-70B", &s);
    CHECK_NEAR(model_shape_bytes_per_rank(&s, 2, 2) / 1e9, 70.6, 0.05);
    model_shape_builtin("Mistral-7B-v0.1", &s);
    CHECK_NEAR(model_shape_bytes_per_rank(&s, 1, 2) / 1e9, 14.5, 0.05);
    model_shape_builtin("Qwen3-8B-Base", &s); // base checkpoint: same shapes
    CHECK(s.n_layers == 36);
}

TEST(shape_from_config_json_bad_sizes) {
    // Found by the hfconfig fuzz target: num_key_value_heads 0 passed the reader and `plan` with
    // tp_size > 1 then divided by it (tp % n_kv_heads). A head count of 0 is bad input.
    char d[300];
    snprintf(d, sizeof d, "%s/kv0", g_dir);
    mkdir(d, 0755);
    const char *base = "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 16, "
                       "\"num_attention_heads\": 2, \"intermediate_size\": 32, \"vocab_size\": 64, ";
    char text[600], name[320];
    snprintf(name, sizeof name, "kv0/config.json");
    snprintf(text, sizeof text, "%s\"num_key_value_heads\": 0}", base);
    write_tmp(name, text);
    LwModelShape s;
    LwError err = {0};
    CHECK(model_shape_from_config_json(d, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "num_key_value_heads = 0");
    // hidden_size smaller than the head count and no head_dim: head_dim 16 / 32 = 0
    memset(&err, 0, sizeof err);
    write_tmp(name, "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2, \"hidden_size\": 16, "
                    "\"num_attention_heads\": 32, \"intermediate_size\": 32, \"vocab_size\": 64}");
    CHECK(model_shape_from_config_json(d, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "head_dim = 0");
    // a size above the weights loader's int range is refused
    memset(&err, 0, sizeof err);
    snprintf(text, sizeof text, "%s\"num_key_value_heads\": 1, \"head_dim\": 4294967296}", base);
    write_tmp(name, text);
    CHECK(model_shape_from_config_json(d, &s, &err) == -1);
    CHECK_CONTAINS(err.msg, "\"head_dim\" = 4294967296 is out of range");
    // in-range but absurd sizes: the count saturates at INT64_MAX instead of overflowing.
    // 2^31-1 layers of d = ff = 2^31-1 hold > 3 * 2^93 parameters, far above 2^63.
    memset(&err, 0, sizeof err);
    write_tmp(name, "{\"architectures\": [\"LlamaForCausalLM\"], \"num_hidden_layers\": 2147483647, "
                    "\"hidden_size\": 2147483647, \"num_attention_heads\": 1, \"intermediate_size\": 2147483647, "
                    "\"vocab_size\": 2147483647}");
    CHECKF(model_shape_from_config_json(d, &s, &err) == 1, "%s", err.msg);
    CHECK(model_shape_params(&s) == INT64_MAX);
    CHECK(model_shape_bytes_per_rank(&s, 2, 2) == INT64_MAX);
}

TEST(committed_sweep_and_models) {
    LwSweep sw;
    LwError err = {0};
    CHECK(sweep_load("configs/sweeps/ten-models.yaml", 0, NULL, &sw, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    if (err.set) return;
    CHECK(sw.n == 10);
    // TENSOR_PARALLEL.md §6 "min TP on 80 GB": 1 for all but Llama-3-70B and Qwen2.5-72B (2)
    for (int i = 0; i < sw.n; i++) {
        const LwRunConfig *c = &sw.models[i];
        long want = strstr(c->name, "70B") || strstr(c->name, "72B") ? 2 : 1;
        CHECKF(c->tp_size == want, "%s: tp_size %ld", c->name, c->tp_size);
        LwModelShape s;
        CHECKF(model_shape_builtin(c->model, &s) == 1, "%s not in the shape table", c->model);
        // the chosen TP size fits: weights per GPU below 80 GB
        CHECKF(model_shape_bytes_per_rank(&s, c->tp_size, 2) < 80e9, "%s does not fit", c->name);
        CHECK(c->seed == 316 && c->copy_threshold == 0.95);
    }
    CHECK_STR(sw.models[2].model, "Qwen/Qwen3-8B"); // the post-trained release, as the reference
    sweep_free(&sw);
    LwRunConfig d;
    config_defaults(&d);
    CHECK(config_load_file("configs/demo.yaml", &d, &err) == 0 && config_finalize(&d, &err) == 0);
    CHECKF(!err.set, "%s", err.msg);
    CHECK_STR(d.name, "SmolLM2-135M-Instruct");
    config_free(&d);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lw_test_config.%d", (int)getpid());
    mkdir(g_dir, 0755);
    RUN(defaults_equal_metrics_0_5);
    RUN(reference_probe_set);
    RUN(committed_files_equal_builtins);
    RUN(snippet_loads);
    RUN(errors_name_line_and_column);
    RUN(cli_overrides);
    RUN(config_from_args_and_env);
    RUN(hash_tracks_measurements_only);
    RUN(sweep_precedence_and_errors);
    RUN(checkpoint_lookup);
    RUN(tp_check_reads_the_checkpoint_once_found);
    RUN(param_counts_match_architectures_table);
    RUN(shape_from_config_json_bad_sizes);
    RUN(committed_sweep_and_models);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) {}
    return test_summary();
}
