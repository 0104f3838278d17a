// config — YAML model/sweep configs (libyaml), the ONE table of run options, probe sets.
//
// Why one table: every option is declared once (name, type, default, bounds, help, environment
// twin) in config.c's LW_OPTIONS[]. That table alone drives the built-in defaults, YAML keys,
// `--key value` CLI overrides, `config_print` (the canonical YAML stored in every HDF5 file),
// `--help` text and the config hash used for resume — so a new threshold is one new row.
//
// Precedence, lowest first: built-in defaults < environment twins (LENSWEEP_MODEL_ROOT, ...) <
// the `defaults:` file(s) a config names < a sweep's shared keys < the model config < CLI flags.
//
// YAML layout (see configs/): flat keys for run and metric options; nested mappings `slurm:`,
// `plan:` and `quirks:` whose keys become "slurm.partition", "quirks.jaccard_last_fact", ... . A
// sweep is a file with a `models:` list (paths relative to the sweep file); every other key of a
// sweep is a shared setting for its models. `defaults: PATH` (or a list) loads those files first.
//
// Errors: unknown keys, wrong types, out-of-range values, duplicate keys, impossible TP sizes ->
// LwError "<file>:<line>:<col>: <key>: what is wrong" plus a hint (the nearest valid key name,
// the allowed range, ...). Callers report it with lw_die_err(err, LW_EXIT_INPUT) (exit 2).
#ifndef LW_CONFIG_H
#define LW_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/battery.h"
#include "config/model_shape.h"
#include "util/util.h"

// ---------------------------------------------------------------------------- option table

typedef enum {
    LW_OPT_BOOL,        // int (0/1); YAML true/false/yes/no/on/off; CLI `--flag` alone = true
    LW_OPT_INT,         // long, bounds [min, max]
    LW_OPT_FLOAT,       // double, bounds [min, max]
    LW_OPT_STRING,      // char * (NULL or "" = unset); `choices` restricts it when non-NULL
    LW_OPT_STRING_LIST, // LwStrList; `choices` restricts the elements when non-NULL
    LW_OPT_INT_LIST,    // LwIntList, each element within [min, max]
    LW_OPT_FLOAT_LIST,  // LwFloatList, each element within [min, max]
} LwOptType;

// Option flags.
#define LW_OPTF_HASHED 1u   // changes the measurements in the HDF5 file: part of the config hash
#define LW_OPTF_SWEEP_ONLY 2u // meaningful in a sweep (or defaults) only (e.g. slurm.*)

typedef struct {
    const char *name;        // YAML key path ("copy_threshold", "slurm.partition") and --flag
    const char *alias;       // second CLI spelling or NULL (e.g. "out" for out_dir)
    LwOptType type;
    size_t offset;           // offsetof(LwRunConfig, field)
    const char *default_yaml;// the built-in default, written as YAML flow text ("0.95", "[norm, raw]")
    double min, max;         // bounds for numbers and number-list elements
    const char *choices;     // "a|b|c" for strings / string-list elements, else NULL
    const char *env;         // environment twin (e.g. "LENSWEEP_MODEL_ROOT") or NULL
    unsigned flags;          // LW_OPTF_*
    const char *help;        // one line; cites the spec section the value comes from
} LwOption;

typedef struct { int n; char **v; } LwStrList;
typedef struct { int n; long *v; } LwIntList;
typedef struct { int n; double *v; } LwFloatList;

extern const LwOption LW_OPTIONS[];
extern const int LW_N_OPTIONS;

const LwOption *config_option_find(const char *name); // by name or alias; '-' == '_'; NULL if none

// Where an option's value came from (for error messages about combinations, e.g. TP size).
typedef struct {
    char where[640]; // "configs/models/x.yaml:4:11", "--tp_size (command line)", "$LENSWEEP_..." or "default"
} LwOptSource;

// ---------------------------------------------------------------------------- probe set

#define LW_MAX_FACTS 64
#define LW_MAX_TEST_PROMPTS 256
#define LW_MAX_TEMPS 32

typedef struct {
    char *key;     // "Germany→Berlin" (U+2192), as in the reference `fact_key`
    int index;     // 0-based position in the suite (`fact_index`)
    char *country; // substituted for {country} in the templates
    char *answer;  // gold answer string ("Berlin"); its first token id is aligned by tok/
} LwFact;

typedef struct {
    char *name;                 // "reference"
    char *source;               // file it was read from, or "built-in"
    char *template_orig;        // "... The capital of {country} is called simply"
    char *template_no_filler;   // "... The capital of {country} is called"
    int n_facts;
    LwFact facts[LW_MAX_FACTS]; // facts[0] orig = the primary prompt (METRICS.md §1.1)
    char *control_prompt;       // ctl/orig prompt text
    char *control_answer;       // "Paris"; contrast answer = facts[0].answer (METRICS.md §11)
    int n_test_prompts;
    char *test_prompts[LW_MAX_TEST_PROMPTS]; // METRICS.md §1.4, in order
    int n_temps;
    double temps[LW_MAX_TEMPS]; // temperature exploration, e.g. {0.1, 2.0}
} LwProbeSet;

// The reference probe set of METRICS.md §1 (built in; configs/probes/reference.yaml is equal).
void probe_set_reference(LwProbeSet *ps);
// Reads a probe-set YAML file. Returns 0, or -1 with err set ("file:line:col: key: ...").
int probe_set_load(const char *path, LwProbeSet *ps, LwError *err);
// `{country}` substituted; returns a new string.
char *probe_set_prompt(const LwProbeSet *ps, const char *variant /* "orig"|"no_filler" */, int fact);
void probe_set_free(LwProbeSet *ps);

// ---------------------------------------------------------------------------- run config

typedef struct {
    // ---- run (all fields are set from LW_OPTIONS; see config.c for defaults, bounds, help)
    char *name;            // short model name: output file <out_dir>/<name>.h5 ("" = basename of model)
    char *model;           // checkpoint directory / .gguf file, or a Hugging Face id ("org/name")
    char *model_root;      // where HF ids are looked up (--local-dir or HF cache layout); $LENSWEEP_MODEL_ROOT
    char *out_dir;         // run directory (HDF5, exports, logs); $LENSWEEP_OUT
    long tp_size;          // tensor-parallel ranks; 0 = take the rank count from mpirun/srun
    int tp_uneven_heads;   // allow R that does not divide H (balanced whole-head ranges, config/tp.c)
    int tp_exact;          // forward products accumulated in double (results independent of R)
    long batch_memory_mb;  // memory per rank of one batched forward pass (model_batch_tokens)
    char *dtype;           // auto|bf16|fp16|fp32: weight/compute dtype on the device
    char *device;          // auto|cpu|cuda
    LwStrList lenses;      // subset of norm|raw|tuned|prism
    int sidecars;          // write the *-rawlens/*-tuned/*-prism sidecar CSVs on export
    int keep_residuals;    // store residuals [L+1, T, d] in the HDF5 file
    int keep_final_logits; // store the final logits (parity checks on small models)
    char *probes;          // probe-set YAML or battery file ("" = the built-in reference set)
    int skip_bad_items;    // battery: skip items that cannot be read, tokenized or aligned (listed)
    long battery_positions; // battery: 1 = NEXT only; k > 1 = the last k positions per item; 0 = every position
    long seed;             // global seed (METRICS.md §0.4: 316)
    long positions;        // 0 = lens every position; k > 0 = only the last k positions
    char *tuned_lens_dir;  // directory of fitted tuned-lens translators ("" = none)
    char *prism_dir;       // directory of fitted Prism matrices ("" = none)
    char *raw_lens_mode;   // off|sample|full (METRICS.md §8.1; reference LOGOS_RAW_LENS)

    // ---- top-k sizes (METRICS.md §0.5)
    long topk_pure;            // 5
    long topk_records;         // 20 at verbose positions
    long topk_records_other;   // 5 elsewhere
    long topk_final;           // 20 (final_prediction)
    long topk_test_prompts;    // 10
    long topk_temperature;     // 15

    // ---- copy / entropy (METRICS.md §6, §5)
    double copy_threshold;         // 0.95
    double copy_margin;            // 0.10
    long copy_window_k;            // 1
    LwFloatList copy_strict_sweep; // 0.70 0.80 0.90 0.95
    double copy_soft_threshold;    // 0.5
    LwIntList copy_soft_windows;   // 1 2 3
    LwFloatList copy_soft_extra_thresholds; // empty
    double entropy_collapse_bits;  // 1.0

    // ---- surface / geometry (§7)
    double surface_delta;   // 0.05
    double geom_gamma;      // 0.02
    long prompt_topk;       // 50
    double prompt_topk_tau; // 0.33

    // ---- semantic milestones and gates (§13, §11, §16)
    double semantic_delta_abs;    // 0.002
    double semantic_top2_gap;     // 0.5
    double control_top2_gap;      // 0.5
    LwFloatList kl_milestones_bits; // 0.5 1.0
    LwIntList rank_milestones;    // 1 5 10
    LwFloatList cos_milestones;   // 0.2 0.4 0.6

    // ---- last layer / temperatures (§9, §10)
    double last_layer_kl_gate_bits; // 0.25
    long last_layer_temp_n;         // 25
    double last_layer_temp_min;     // 0.1
    double last_layer_temp_max;     // 10
    long norm_temp_n;               // 25
    double norm_temp_min;           // 0.2
    double norm_temp_max;           // 5.0

    // ---- raw-lens diagnostics (§8)
    long raw_lens_window_radius;           // 4
    long raw_lens_window_radius_escalated; // 8
    double raw_lens_risk_high_kl_bits;     // 1.0
    double raw_lens_risk_medium_kl_bits;   // 0.5
    LwFloatList artefact_weights;          // 0.6 0.3 0.1
    double artefact_max_kl_scale;          // 5
    double artefact_tier_low;              // 0.2 (score < low -> low)
    double artefact_tier_medium;           // 0.5 (score <= medium -> medium)
    long confirmed_window;                 // 2

    // ---- consistency, stability, repeatability, norm trajectory, skip layers (§14-§19)
    double decoding_point_jaccard;     // 0.5
    double lens_consistency_alarm;     // 0.30
    LwFloatList gate_stability_scales; // 0.90 0.95 1.05 1.10
    double gate_stability_alarm;       // 0.75
    long repeatability_max_rank_dev;   // 5
    double repeatability_flip_rate;    // 0.02
    double norm_spike_ratio;           // 3.0
    double norm_spike_cos;             // 0.8
    double norm_plateau_slope;         // 0.01
    double norm_monotonic_r2;          // 0.70
    LwIntList skip_layers_m;           // 2 4 8
    double skip_layers_regression;     // 0.20
    LwFloatList positional_grid;       // 0.20 ... 1.00

    // ---- [REF-QUIRK] switches (METRICS.md §24). 1 = reproduce the reference outputs (default).
    int quirk_soft_copy_threshold_05;       // §24.1: documentation only (copy_soft_threshold is the knob)
    int quirk_gap_milestones_null;          // §24.2/§13: answer_logit_gap milestones are null
    int quirk_copy_stability_mixed;         // §24.3/§6.5: stability only none/mixed
    int quirk_raw_summary_first_fact;       // §24.4/§8.1: raw_lens_check.summary from the first fact only
    int quirk_raw_window_primary_radius;    // §24.5/§8.2: primary pass always radius 4
    int quirk_jaccard_last_fact;            // §24.6/§8.3: pure-CSV jaccard columns carry the last fact's values
    int quirk_tuned_audit_last_fact;        // §24.7/§19.4: tuned audits describe the last fact
    int quirk_positional_grid_098;          // §24.8: last position labelled 0.98
    int quirk_gemma_softcap_undetected;     // §24.9/§9: head transform not detected
    int quirk_prism_transposed;             // §24.10/§4.4: Prism whitening/Q as the reference applies them
    int quirk_rank1_agree_both;             // §24.11/§14: rank1_agree = both rank 1
    int quirk_skip_layers_block_index;      // §24.12/§19.6: m refers to block n-m
    int quirk_sidecar_empty_columns;        // §24.13: Prism/tuned sidecars leave those columns empty

    // ---- Slurm (sweep or defaults; read by `lensweep plan --format tsv` for slurm/submit)
    char *slurm_partition;     // "" = the cluster's default partition
    char *slurm_account;       // "" = none
    char *slurm_time;          // "" = from the plan's time estimate
    long slurm_gpus_per_node;  // GPUs per node; nodes = ceil(ranks / gpus_per_node)
    int slurm_request_gpus;    // add --gpus-per-task=1 (off for CPU-only clusters)
    long slurm_cpus_per_task;  // CPUs per rank
    char *slurm_mem_per_cpu;   // e.g. "4G" ("" = cluster default)
    char *slurm_extra;         // extra sbatch arguments, split on spaces

    // ---- fits before a sweep (slurm/submit through `lensweep plan --format fits`)
    LwStrList fit_lenses;      // subset of prism|tuned
    char *fit_corpus;          // fit-tuned --corpus ("" = none)
    long fit_tokens;           // fit-tuned --tokens (0 = its default)
    char *fit_tuned_args;      // more fit-tuned arguments, space-separated
    char *fit_time;            // time limit of a fit job

    // ---- plan estimates
    double plan_gpu_mem_gb;    // usable GPU memory (GB = 1e9 bytes) for the fit check (80 GB cards)
    double plan_read_gb_per_s; // checkpoint read speed per rank, for the time estimate
    double plan_overhead_s;    // start-up + prompts + export, seconds

    // ---- resolved by the loader (not options)
    char *config_path;     // the model config file ("" for CLI-only runs)
    char *sweep_path;      // the sweep that listed it, or NULL
    char *model_dir;       // set by config_resolve_checkpoint(): directory or file actually used
    LwProbeSet probe_set;  // loaded from `probes` (or the built-in reference set)
    int probe_set_inline;  // 1 when a `probe_set:` mapping was given inline (wins over `probes`)
    LwBattery *battery;    // `probes` names a battery (config/battery.h): its items; NULL otherwise
    int battery_no_load;   // set before loading: leave a battery named by `probes` unread (export: the run file holds it)
    char *yaml_text;       // config_print() output: canonical resolved YAML, stored in the HDF5 file
    char config_hash[17];  // 16 hex digits: FNV-1a 64 over hashed options + probe set (resume key)
    LwOptSource src[160];  // per option (index into LW_OPTIONS): where its value came from
} LwRunConfig;

// Built-in defaults (the values of METRICS.md §0.5); no environment, no files.
void config_defaults(LwRunConfig *cfg);
// Applies environment twins of options that are set and non-empty (LENSWEEP_MODEL_ROOT, ...).
int config_apply_env(LwRunConfig *cfg, LwError *err);
// Loads a model config on top of cfg (which must hold defaults): its `defaults:` files first, then
// its keys. A sweep file (it has `models:`) is an error with a hint to use sweep_load.
// Returns 0 or -1 with err = "<file>:<line>:<col>: <key>: ..." plus a hint.
int config_load_file(const char *path, LwRunConfig *cfg, LwError *err);
// Applies `--key value`, `--key=value`, `--flag` (bool true), `--flag true|false`, `--flag=VALUE`
// and `--no-flag` (the negation of each of these) for every option; list values are
// comma-separated ("--lenses norm,raw"). Every argv word must be an option or its value; anything
// else is an error naming it (with the nearest option as hint).
int config_apply_cli(LwRunConfig *cfg, int argc, char **argv, LwError *err);
// How many argv words the option word argv[i] takes as config_apply_cli() reads it: 2 for
// `--key value` and for a boolean followed by true/false/yes/no/on/off, else 1 (`--key=value`, a
// boolean standing alone, an unknown option, a word that is not an option). Commands that pick
// their own arguments out of argv use it to keep an option and its value together.
int config_cli_words(int argc, char *const *argv, int i);
// The usual front door for a command: defaults, environment, then the first argument that does
// not start with "--" (a model config YAML, if any), then the CLI overrides; then
// config_finalize(). argv excludes the command name. Returns 0 or -1 with err.
int config_from_args(LwRunConfig *cfg, int argc, char **argv, LwError *err);
// Cross-option checks (e.g. lenses unique, temp ranges ordered), fills `name` when empty, loads
// the probe set, computes yaml_text and config_hash. Call after the last override.
int config_finalize(LwRunConfig *cfg, LwError *err);
// Writes the canonical resolved YAML (every option, then the probe set) to f.
void config_print(FILE *f, const LwRunConfig *cfg);
// Like config_print, but only the options whose value did not come from the built-in defaults,
// each with a comment naming its source ("configs/sweeps/x.yaml:12:3", "--tp_size (command
// line)"), so a program reading it sees the same values set by the same places as the original
// files (checks that spare built-in defaults spare them here too) and the same config hash.
void config_print_sourced(FILE *f, const LwRunConfig *cfg);
// The value of one option as `--name VALUE` takes it (lists comma-separated, strings bare);
// config_apply_cli() reads it back to the same value. Returns a malloc'd string.
char *config_value_text(const LwRunConfig *cfg, const LwOption *o);
// One line per option: --name TYPE (default) [env] help.
void config_print_help(FILE *f);
void config_free(LwRunConfig *cfg);

// ---------------------------------------------------------------------------- checkpoints

// Finds the checkpoint for cfg->model: an existing path (directory or file); else a Hugging Face
// id under model_root / $LENSWEEP_MODEL_ROOT in the `--local-dir` layout (<root>/<org>/<name>,
// <root>/<name>) or in the HF cache layout (<hub>/models--org--name/snapshots/<rev>, rev from
// refs/main when present) where hub is each of model_root, $HF_HUB_CACHE, $HF_HOME/hub,
// ~/.cache/huggingface/hub. Sets cfg->model_dir. On failure err lists every place it looked.
// Reads nothing of the checkpoint: the caller, which reads its config.json (plan_model the shape
// keys, run all of it), checks tp_size against it with config_check_tp_shape.
int config_resolve_checkpoint(LwRunConfig *cfg, LwError *err);

// Checks tp_size against the model's shapes (config.json in model_dir when resolved, or in the
// model when it is a directory path, else the built-in table of the ten models): heads, KV heads
// (or R multiple of KV), ff and vocab rows must split evenly. Errors point at where tp_size was
// set. Unknown shapes: returns 0. sweep_load runs it on each model.
int config_check_tp(const LwRunConfig *cfg, LwError *err);
// The same check against the built-in table only, for a model named by its id; a model given as a
// path is left to the check against its checkpoint once that is read. config_finalize runs it, so
// that `run` reads config.json once, after config_resolve_checkpoint.
int config_check_tp_builtin(const LwRunConfig *cfg, LwError *err);
// The same check against shapes already read (s->source names where from).
int config_check_tp_shape(const LwRunConfig *cfg, const LwModelShape *s, LwError *err);

// ---------------------------------------------------------------------------- sweeps

typedef struct {
    char *path;           // the sweep (or single model config) file
    char *name;           // sweep `name:` or the file's basename without .yaml
    int n;                // number of models
    LwRunConfig *models;  // resolved configs, in file order (each finalized)
} LwSweep;

// Loads a sweep file or a single model config (then n = 1). Every model config is validated
// (and finalized); the first error stops (nothing half-loaded is returned).
// cli_argc/argv: overrides applied to every model (may be 0/NULL).
int sweep_load(const char *path, int cli_argc, char **cli_argv, LwSweep *sw, LwError *err);
void sweep_free(LwSweep *sw);

// ---------------------------------------------------------------------------- small helpers

// FNV-1a 64-bit, for the config hash.
uint64_t config_fnv1a64(const void *data, size_t n, uint64_t h);
#define LW_FNV1A64_INIT 0xcbf29ce484222325ULL

#endif
