// config — the option table and everything it drives: defaults, text/CLI/environment values,
// canonical printing, the config hash and `--help`. YAML files: config_load.c; probe sets:
// probe_set.c; checkpoints: checkpoint.c.
//
// Values live in typed fields of LwRunConfig; each table row carries the field's offset, so
// there is exactly one place (this table) that knows an option exists.
#include "config/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define H LW_OPTF_HASHED
#define S LW_OPTF_SWEEP_ONLY
#define O(nm, al, ty, fld, dflt, lo, hi, ch, env, fl, help) \
    {nm, al, ty, offsetof(LwRunConfig, fld), dflt, lo, hi, ch, env, fl, help}
#define BIG 1e18

// The ONE table. Defaults are the reference run's (METRICS.md §0.5 unless cited otherwise).
// H = part of the config hash: changes what `run` measures, so a complete HDF5 file made with a
// different value is stale. Rules over measurements (thresholds) are applied by `export` and
// are deliberately not hashed: changing one never needs a GPU again (DESIGN.md "Principle").
const LwOption LW_OPTIONS[] = {
    // ---- what to run, where
    O("name", NULL, LW_OPT_STRING, name, "", 0, 0, NULL, NULL, 0,
      "short model name; output file <out_dir>/<name>.h5 (empty: last part of `model`)"),
    O("model", NULL, LW_OPT_STRING, model, "", 0, 0, NULL, NULL, H,
      "checkpoint directory or .gguf file, or a Hugging Face id (org/name) found under model_root"),
    O("model_root", NULL, LW_OPT_STRING, model_root, "", 0, 0, NULL, "LENSWEEP_MODEL_ROOT", 0,
      "where Hugging Face ids are looked up (--local-dir layout or HF cache layout)"),
    O("out_dir", "out", LW_OPT_STRING, out_dir, "runs/latest", 0, 0, NULL, "LENSWEEP_OUT", 0,
      "run directory: <name>.h5, exports, logs/"),
    O("tp_size", NULL, LW_OPT_INT, tp_size, "0", 0, 64, NULL, NULL, 0,
      "tensor-parallel ranks = GPUs (TENSOR_PARALLEL.md §6); 0 = the rank count of mpirun/srun"),
    O("tp_uneven_heads", NULL, LW_OPT_BOOL, tp_uneven_heads, "false", 0, 0, NULL, NULL, 0,
      "allow tp_size values that do not divide the heads: balanced whole-head ranges per rank (model/tp.c)"),
    O("tp_exact", NULL, LW_OPT_BOOL, tp_exact, "true", 0, 0, NULL, NULL, 0,
      "forward products accumulated in double: identical results at any tp_size (false: fp32 sgemm, faster, ~1e-5 relative across tp_size)"),
    O("batch_memory_mb", NULL, LW_OPT_INT, batch_memory_mb, "256", 1, 10000000, NULL, NULL, 0,
      "memory per rank for one batched forward pass of independent prompts, in MB (1e6 bytes): sets the tokens per batch from the model's activation sizes; a longer prompt runs alone"),
    O("dtype", NULL, LW_OPT_STRING, dtype, "auto", 0, 0, "auto|bf16|fp16|fp32", NULL, H,
      "weight/compute dtype; auto = bf16 on GPUs, fp32 on the CPU backend (DESIGN.md Numerics); the CPU backend computes in fp32 only"),
    O("device", NULL, LW_OPT_STRING, device, "auto", 0, 0, "auto|cpu|cuda", NULL, 0,
      "backend; auto = cuda when this build has a complete CUDA backend and a GPU is visible, else cpu (today: cpu); cuda where it cannot run is refused"),
    O("lenses", NULL, LW_OPT_STRING_LIST, lenses, "[norm, raw]", 0, 0, "norm|raw|tuned|prism", NULL, H,
      "lenses to decode (METRICS.md §4); prism needs prism_dir, tuned needs tuned_lens_dir"),
    O("sidecars", NULL, LW_OPT_BOOL, sidecars, "true", 0, 0, NULL, NULL, 0,
      "export the sidecar CSVs (rawlens, tuned, prism) next to the main CSVs"),
    O("keep_residuals", NULL, LW_OPT_BOOL, keep_residuals, "false", 0, 0, NULL, NULL, H,
      "store residuals [L+1, T, d] in the HDF5 file"),
    O("keep_final_logits", NULL, LW_OPT_BOOL, keep_final_logits, "false", 0, 0, NULL, NULL, H,
      "store the final logits (parity checks on small models)"),
    O("probes", NULL, LW_OPT_STRING, probes, "", 0, 0, NULL, NULL, 0,
      "probe-set YAML (configs/probes/*.yaml) or a battery (.yaml with items:, .jsonl, .csv: docs/BATTERY.md); empty = the built-in reference set (METRICS.md §1)"),
    O("skip_bad_items", NULL, LW_OPT_BOOL, skip_bad_items, "false", 0, 0, NULL, NULL, 0,
      "battery: skip items that cannot be read, tokenized or aligned (listed in the run file and the JSON) instead of stopping"),
    O("seed", NULL, LW_OPT_INT, seed, "316", 0, 4294967295.0, NULL, NULL, H,
      "global seed (METRICS.md §0.4)"),
    O("positions", NULL, LW_OPT_INT, positions, "0", 0, 1048576, NULL, NULL, H,
      "0 = lens every prompt position; k = only the last k positions"),
    O("tuned_lens_dir", NULL, LW_OPT_STRING, tuned_lens_dir, "", 0, 0, NULL, NULL, H,
      "a tuned-lens artifact (`lensweep fit-tuned --out DIR`, docs/TUNED.md); set, the run decodes the tuned lens and export writes its sidecars"),
    O("prism_dir", NULL, LW_OPT_STRING, prism_dir, "", 0, 0, NULL, NULL, H,
      "a Prism artifact (`lensweep fit-prism --out DIR`, docs/PRISM.md); set, the run decodes the Prism lens and export writes its sidecars"),
    O("raw_lens_mode", NULL, LW_OPT_STRING, raw_lens_mode, "sample", 0, 0, "off|sample|full", "LENSWEEP_RAW_LENS", H,
      "raw-lens check mode (METRICS.md §8.1; the reference's LOGOS_RAW_LENS)"),

    // ---- top-k sizes
    O("topk_pure", NULL, LW_OPT_INT, topk_pure, "5", 1, 1000, NULL, NULL, H, "top-k of pure next-token rows"),
    O("topk_records", NULL, LW_OPT_INT, topk_records, "20", 1, 1000, NULL, NULL, H,
      "top-k of records rows at verbose positions"),
    O("topk_records_other", NULL, LW_OPT_INT, topk_records_other, "5", 1, 1000, NULL, NULL, H,
      "top-k of records rows elsewhere"),
    O("topk_final", NULL, LW_OPT_INT, topk_final, "20", 1, 1000, NULL, NULL, H, "top-k of final_prediction"),
    O("topk_test_prompts", NULL, LW_OPT_INT, topk_test_prompts, "10", 1, 1000, NULL, NULL, H,
      "top-k of each test prompt (METRICS.md §1.4)"),
    O("topk_temperature", NULL, LW_OPT_INT, topk_temperature, "15", 1, 1000, NULL, NULL, H,
      "top-k of temperature exploration (METRICS.md §1.4)"),

    // ---- copy / entropy (§6, §5)
    O("copy_threshold", NULL, LW_OPT_FLOAT, copy_threshold, "0.95", 0, 1, NULL, NULL, 0,
      "strict copy: p_top1 > threshold (§6.2)"),
    O("copy_margin", NULL, LW_OPT_FLOAT, copy_margin, "0.10", 0, 1, NULL, NULL, 0,
      "strict copy: p1 - p2 > margin (§6.2)"),
    O("copy_window_k", NULL, LW_OPT_INT, copy_window_k, "1", 1, 3, NULL, NULL, 0, "strict copy window (§6.2)"),
    O("copy_strict_sweep", NULL, LW_OPT_FLOAT_LIST, copy_strict_sweep, "[0.70, 0.80, 0.90, 0.95]", 0, 1, NULL, NULL, 0,
      "strict threshold sweep columns copy_strict@τ (§6.3)"),
    O("copy_soft_threshold", NULL, LW_OPT_FLOAT, copy_soft_threshold, "0.5", 0, 1, NULL, NULL, 0,
      "soft copy τ_soft (§6.4; [REF-QUIRK] §24.1: 0.5 was in effect)"),
    O("copy_soft_windows", NULL, LW_OPT_INT_LIST, copy_soft_windows, "[1, 2, 3]", 1, 3, NULL, NULL, 0,
      "soft copy windows k (§6.4)"),
    O("copy_soft_extra_thresholds", NULL, LW_OPT_FLOAT_LIST, copy_soft_extra_thresholds, "[]", 0, 1, NULL, NULL, 0,
      "extra soft-copy thresholds: columns copy_soft_k{k}@{τ} (§6.4)"),
    O("entropy_collapse_bits", NULL, LW_OPT_FLOAT, entropy_collapse_bits, "1.0", 0, 64, NULL, NULL, 0,
      "entropy_collapse: entropy <= this many bits (§5)"),

    // ---- surface / geometry (§7)
    O("surface_delta", NULL, LW_OPT_FLOAT, surface_delta, "0.05", 0, 1, NULL, NULL, 0,
      "L_surface_to_meaning: answer_mass >= echo_mass + δ (§7)"),
    O("geom_gamma", NULL, LW_OPT_FLOAT, geom_gamma, "0.02", 0, 2, NULL, NULL, 0,
      "geom_crossover: cos_to_answer >= cos_to_prompt_max + γ (§7)"),
    O("prompt_topk", NULL, LW_OPT_INT, prompt_topk, "50", 1, 100000, NULL, NULL, H,
      "K of topk_prompt_mass@K and the top-K Jaccard overlaps (§7, §8.3)"),
    O("prompt_topk_tau", NULL, LW_OPT_FLOAT, prompt_topk_tau, "0.33", 0, 1, NULL, NULL, 0,
      "L_topk_decay: topk_prompt_mass <= τ (§7)"),

    // ---- semantic milestones and gates (§13, §11, §16)
    O("semantic_delta_abs", NULL, LW_OPT_FLOAT, semantic_delta_abs, "0.002", 0, 1, NULL, NULL, 0,
      "semantic uniform margin δ_abs (§5, §13, §16)"),
    O("semantic_top2_gap", NULL, LW_OPT_FLOAT, semantic_top2_gap, "0.5", 0, 1000, NULL, NULL, 0,
      "top-2 logit gap of the semantic gate (§13, §16)"),
    O("control_top2_gap", NULL, LW_OPT_FLOAT, control_top2_gap, "0.5", 0, 1000, NULL, NULL, 0,
      "top-2 logit gap of first_control_strong_pos (§11)"),
    O("kl_milestones_bits", NULL, LW_OPT_FLOAT_LIST, kl_milestones_bits, "[0.5, 1.0]", 0, 1000, NULL, NULL, 0,
      "first_kl_below_X milestones (§13)"),
    O("rank_milestones", NULL, LW_OPT_INT_LIST, rank_milestones, "[1, 5, 10]", 1, 1000000, NULL, NULL, 0,
      "first_rank_le_X milestones (§13)"),
    O("cos_milestones", NULL, LW_OPT_FLOAT_LIST, cos_milestones, "[0.2, 0.4, 0.6]", -1, 1, NULL, NULL, 0,
      "cos_milestones ge_X (§13)"),

    // ---- last layer / temperatures (§9, §10)
    O("last_layer_kl_gate_bits", NULL, LW_OPT_FLOAT, last_layer_kl_gate_bits, "0.25", 0, 1000, NULL, NULL, 0,
      "warn_high_last_layer_kl threshold (§9)"),
    O("last_layer_temp_n", NULL, LW_OPT_INT, last_layer_temp_n, "25", 2, 10000, NULL, NULL, H,
      "last-layer temperature probe: grid size (§9)"),
    O("last_layer_temp_min", NULL, LW_OPT_FLOAT, last_layer_temp_min, "0.1", 1e-6, 1e6, NULL, NULL, H,
      "last-layer temperature probe: smallest s (§9)"),
    O("last_layer_temp_max", NULL, LW_OPT_FLOAT, last_layer_temp_max, "10", 1e-6, 1e6, NULL, NULL, H,
      "last-layer temperature probe: largest s (§9)"),
    O("norm_temp_n", NULL, LW_OPT_INT, norm_temp_n, "25", 2, 10000, NULL, NULL, H,
      "norm-lens temperature calibration: grid size (§10)"),
    O("norm_temp_min", NULL, LW_OPT_FLOAT, norm_temp_min, "0.2", 1e-6, 1e6, NULL, NULL, H,
      "norm-lens temperature calibration: smallest τ (§10)"),
    O("norm_temp_max", NULL, LW_OPT_FLOAT, norm_temp_max, "5.0", 1e-6, 1e6, NULL, NULL, H,
      "norm-lens temperature calibration: largest τ (§10)"),

    // ---- raw-lens diagnostics (§8)
    O("raw_lens_window_radius", NULL, LW_OPT_INT, raw_lens_window_radius, "4", 0, 1000, NULL, NULL, 0,
      "raw-lens window radius (§8.2)"),
    O("raw_lens_window_radius_escalated", NULL, LW_OPT_INT, raw_lens_window_radius_escalated, "8", 0, 1000, NULL, NULL, 0,
      "raw-lens window radius when the risk is high (§8.2)"),
    O("raw_lens_risk_high_kl_bits", NULL, LW_OPT_FLOAT, raw_lens_risk_high_kl_bits, "1.0", 0, 1000, NULL, NULL, 0,
      "lens_artifact_risk high: max KL >= this (§8.1)"),
    O("raw_lens_risk_medium_kl_bits", NULL, LW_OPT_FLOAT, raw_lens_risk_medium_kl_bits, "0.5", 0, 1000, NULL, NULL, 0,
      "lens_artifact_risk medium: max KL >= this (§8.1)"),
    O("artefact_weights", NULL, LW_OPT_FLOAT_LIST, artefact_weights, "[0.6, 0.3, 0.1]", 0, 1, NULL, NULL, 0,
      "lens-artefact score weights: pct KL>=1, norm-only semantics, max KL (§8.4)"),
    O("artefact_max_kl_scale", NULL, LW_OPT_FLOAT, artefact_max_kl_scale, "5", 1e-9, 1000, NULL, NULL, 0,
      "lens-artefact score: max-KL scale (§8.4)"),
    O("artefact_tier_low", NULL, LW_OPT_FLOAT, artefact_tier_low, "0.2", 0, 1, NULL, NULL, 0,
      "lens-artefact tier: score < this is low (§8.4)"),
    O("artefact_tier_medium", NULL, LW_OPT_FLOAT, artefact_tier_medium, "0.5", 0, 1, NULL, NULL, 0,
      "lens-artefact tier: score <= this is medium (§8.4)"),
    O("confirmed_window", NULL, LW_OPT_INT, confirmed_window, "2", 0, 1000, NULL, NULL, 0,
      "confirmed-semantics window ±layers (§8.5)"),

    // ---- consistency, stability, repeatability, trajectories, skip layers (§14–§19)
    O("decoding_point_jaccard", NULL, LW_OPT_FLOAT, decoding_point_jaccard, "0.5", 0, 1, NULL, NULL, 0,
      "decoding-point / forward-repeatability Jaccard gate (§14, §17.2)"),
    O("lens_consistency_alarm", NULL, LW_OPT_FLOAT, lens_consistency_alarm, "0.30", -1, 1, NULL, NULL, 0,
      "lens consistency alarm: Jaccard@10 or Spearman below this (§15)"),
    O("gate_stability_scales", NULL, LW_OPT_FLOAT_LIST, gate_stability_scales, "[0.90, 0.95, 1.05, 1.10]", 1e-6, 1000,
      NULL, NULL, 0, "gate-stability logit scales (§16)"),
    O("gate_stability_alarm", NULL, LW_OPT_FLOAT, gate_stability_alarm, "0.75", 0, 1, NULL, NULL, 0,
      "gate stability alarm: min both-pass fraction below this (§16)"),
    O("repeatability_max_rank_dev", NULL, LW_OPT_INT, repeatability_max_rank_dev, "5", 0, 1000000, NULL, NULL, 0,
      "repeatability alarm: max rank deviation above this (§17.1)"),
    O("repeatability_flip_rate", NULL, LW_OPT_FLOAT, repeatability_flip_rate, "0.02", 0, 1, NULL, NULL, 0,
      "repeatability alarm: top-1 flip rate above this (§17.1)"),
    O("norm_spike_ratio", NULL, LW_OPT_FLOAT, norm_spike_ratio, "3.0", 0, 1e6, NULL, NULL, 0,
      "norm trajectory spike: ratio above this (§18)"),
    O("norm_spike_cos", NULL, LW_OPT_FLOAT, norm_spike_cos, "0.8", -1, 1, NULL, NULL, 0,
      "norm trajectory spike: cosine below this (§18)"),
    O("norm_plateau_slope", NULL, LW_OPT_FLOAT, norm_plateau_slope, "0.01", 0, 1e6, NULL, NULL, 0,
      "norm trajectory plateau: slope <= this (§18)"),
    O("norm_monotonic_r2", NULL, LW_OPT_FLOAT, norm_monotonic_r2, "0.70", 0, 1, NULL, NULL, 0,
      "norm trajectory monotonic: r² >= this (§18)"),
    O("skip_layers_m", NULL, LW_OPT_INT_LIST, skip_layers_m, "[2, 4, 8]", 1, 1000, NULL, NULL, H,
      "skip-layer sanity m values (§19.6; each needs a forward)"),
    O("skip_layers_regression", NULL, LW_OPT_FLOAT, skip_layers_regression, "0.20", 0, 1000, NULL, NULL, 0,
      "skip-layer regression threshold at m=2 (§19.6)"),
    O("positional_grid", NULL, LW_OPT_FLOAT_LIST, positional_grid, "[0.20, 0.40, 0.60, 0.80, 0.92, 0.96, 0.98, 1.00]",
      0, 1, NULL, NULL, H, "positional audit grid (§19.4)"),

    // ---- [REF-QUIRK] switches: true = reproduce the reference outputs; false = evident intent
    O("quirks.soft_copy_threshold_05", NULL, LW_OPT_BOOL, quirk_soft_copy_threshold_05, "true", 0, 0, NULL, NULL, 0,
      "§24.1: record that 0.5 (not 0.33) was the soft-copy threshold in effect (the value itself is copy_soft_threshold)"),
    O("quirks.gap_milestones_null", NULL, LW_OPT_BOOL, quirk_gap_milestones_null, "true", 0, 0, NULL, NULL, 0,
      "§24.2/§13: answer_logit_gap milestones (top2_ok, strong, gap_ge_*) are null"),
    O("quirks.copy_stability_mixed", NULL, LW_OPT_BOOL, quirk_copy_stability_mixed, "true", 0, 0, NULL, NULL, 0,
      "§24.3/§6.5: copy_thresholds.stability is only none/mixed"),
    O("quirks.raw_summary_first_fact", NULL, LW_OPT_BOOL, quirk_raw_summary_first_fact, "true", 0, 0, NULL, NULL, 0,
      "§24.4/§8.1: raw_lens_check.summary uses the first fact's 4 samples only"),
    O("quirks.raw_window_primary_radius", NULL, LW_OPT_BOOL, quirk_raw_window_primary_radius, "true", 0, 0, NULL, NULL, 0,
      "§24.5/§8.2: the primary pass always uses radius 4; later passes may escalate"),
    O("quirks.jaccard_last_fact", NULL, LW_OPT_BOOL, quirk_jaccard_last_fact, "true", 0, 0, NULL, NULL, 0,
      "§24.6/§8.3: pure-CSV topk_jaccard_* of pos rows carry the last fact's values"),
    O("quirks.tuned_audit_last_fact", NULL, LW_OPT_BOOL, quirk_tuned_audit_last_fact, "true", 0, 0, NULL, NULL, 0,
      "§24.7/§19.4: tuned audit outputs describe the last fact (Canada→Ottawa)"),
    O("quirks.positional_grid_098", NULL, LW_OPT_BOOL, quirk_positional_grid_098, "true", 0, 0, NULL, NULL, 0,
      "§24.8: the true last position is labelled 0.98; answer ranks only there"),
    O("quirks.gemma_softcap_undetected", NULL, LW_OPT_BOOL, quirk_gemma_softcap_undetected, "true", 0, 0, NULL, NULL, 0,
      "§24.9/§9: the head-transform probe finds no softcap/scale (KLs after transform null)"),
    O("quirks.prism_transposed", NULL, LW_OPT_BOOL, quirk_prism_transposed, "true", 0, 0, NULL, NULL, H,
      "§24.10/§4.4: Prism whitening fitted on raw, applied to normalized residuals; Q transposed"),
    O("quirks.rank1_agree_both", NULL, LW_OPT_BOOL, quirk_rank1_agree_both, "true", 0, 0, NULL, NULL, 0,
      "§24.11/§14: decoding_point rank1_agree means both rank 1"),
    O("quirks.skip_layers_block_index", NULL, LW_OPT_BOOL, quirk_skip_layers_block_index, "true", 0, 0, NULL, NULL, H,
      "§24.12/§19.6: skip-layer m refers to block n-m (skips m-1 blocks)"),
    O("quirks.sidecar_empty_columns", NULL, LW_OPT_BOOL, quirk_sidecar_empty_columns, "true", 0, 0, NULL, NULL, 0,
      "§24.13: Prism/tuned sidecars leave the columns the reference leaves empty"),

    // ---- Slurm (used by slurm/submit through `lensweep plan --format tsv`)
    O("slurm.partition", NULL, LW_OPT_STRING, slurm_partition, "", 0, 0, NULL, "LENSWEEP_SLURM_PARTITION", S,
      "partition (empty: the cluster's default)"),
    O("slurm.account", NULL, LW_OPT_STRING, slurm_account, "", 0, 0, NULL, "LENSWEEP_SLURM_ACCOUNT", S,
      "account (empty: none)"),
    O("slurm.time", NULL, LW_OPT_STRING, slurm_time, "", 0, 0, NULL, NULL, S,
      "time limit [D-]HH:MM:SS (empty: 3 × the plan's estimate, at least 00:15:00)"),
    O("slurm.gpus_per_node", NULL, LW_OPT_INT, slurm_gpus_per_node, "8", 1, 1024, NULL, NULL, S,
      "GPUs (ranks) per node; nodes = ceil(tp_size / gpus_per_node)"),
    O("slurm.request_gpus", NULL, LW_OPT_BOOL, slurm_request_gpus, "true", 0, 0, NULL, NULL, S,
      "request --gpus-per-task=1 (false for CPU-only clusters and tests)"),
    O("slurm.cpus_per_task", NULL, LW_OPT_INT, slurm_cpus_per_task, "8", 1, 1024, NULL, NULL, S, "CPUs per rank"),
    O("slurm.mem_per_cpu", NULL, LW_OPT_STRING, slurm_mem_per_cpu, "", 0, 0, NULL, NULL, S,
      "memory per CPU, e.g. 8G (empty: cluster default)"),
    O("slurm.extra", NULL, LW_OPT_STRING, slurm_extra, "", 0, 0, NULL, NULL, S,
      "extra sbatch arguments (space-separated)"),

    // ---- fitting learned lenses before a sweep's model jobs (slurm/submit, docs/SLURM.md)
    O("fit.lenses", NULL, LW_OPT_STRING_LIST, fit_lenses, "[]", 0, 0, "prism|tuned", NULL, S,
      "lenses slurm/submit fits first when their artifact (prism_dir, tuned_lens_dir) holds none yet: one fit job per lens, the model's job after it"),
    O("fit.corpus", NULL, LW_OPT_STRING, fit_corpus, "", 0, 0, NULL, NULL, S,
      "text corpus of the tuned-lens fit (plain text, or JSON lines with a `text` field): fit-tuned --corpus"),
    O("fit.tokens", NULL, LW_OPT_INT, fit_tokens, "0", 0, 1e15, NULL, NULL, S,
      "token budget of the tuned-lens fit (fit-tuned --tokens); 0 = fit-tuned's default"),
    O("fit.tuned_args", NULL, LW_OPT_STRING, fit_tuned_args, "", 0, 0, NULL, NULL, S,
      "more fit-tuned arguments, space-separated (e.g. \"--seq-len 256 --micro-batch 8 --lr 5e-4\"; lensweep fit-tuned --help)"),
    O("fit.time", NULL, LW_OPT_STRING, fit_time, "12:00:00", 0, 0, NULL, NULL, S,
      "time limit of each fit job [D-]HH:MM:SS (a requeued tuned-lens fit resumes from its last checkpoint)"),

    // ---- plan estimates
    O("plan.gpu_mem_gb", NULL, LW_OPT_FLOAT, plan_gpu_mem_gb, "80", 1, 1e6, NULL, NULL, S,
      "GPU memory per rank in GB (1e9 bytes) for the fit check"),
    O("plan.read_gb_per_s", NULL, LW_OPT_FLOAT, plan_read_gb_per_s, "1.0", 1e-3, 1e6, NULL, NULL, S,
      "checkpoint read speed per rank (GB/s) for the time estimate"),
    O("plan.overhead_s", NULL, LW_OPT_FLOAT, plan_overhead_s, "120", 0, 1e7, NULL, NULL, S,
      "start-up, prompts and export time added to each estimate (s)"),
};
const int LW_N_OPTIONS = (int)(sizeof LW_OPTIONS / sizeof LW_OPTIONS[0]);

#define FIELD(cfg, o, T) ((T *)((char *)(cfg) + (o)->offset))

// ---------------------------------------------------------------------------- lookup

static int name_eq(const char *a, const char *b) { // '-' and '_' are the same letter
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

const LwOption *config_option_find(const char *name) {
    for (int i = 0; i < LW_N_OPTIONS; i++)
        if (name_eq(name, LW_OPTIONS[i].name) || (LW_OPTIONS[i].alias && name_eq(name, LW_OPTIONS[i].alias)))
            return &LW_OPTIONS[i];
    return NULL;
}

static const char *const STRUCT_KEYS[] = {"defaults", "models", "probe_set", NULL};

const char *config_nearest_key(const char *key) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const char *n = LW_OPTIONS[i].name;
        int d = lw_edit_distance(key, n);
        // A key given without its section ("partition") matches "slurm.partition".
        const char *dot = strchr(n, '.');
        if (dot && lw_edit_distance(key, dot + 1) < d) d = lw_edit_distance(key, dot + 1);
        if (d < bd) { bd = d; best = n; }
    }
    for (int i = 0; STRUCT_KEYS[i]; i++) {
        int d = lw_edit_distance(key, STRUCT_KEYS[i]);
        if (d < bd) { bd = d; best = STRUCT_KEYS[i]; }
    }
    int len = strlen(key);
    return bd <= (len < 6 ? 2 : len / 3 + 1) ? best : NULL;
}

// ---------------------------------------------------------------------------- values

static const char *type_name(LwOptType t) {
    switch (t) {
    case LW_OPT_BOOL: return "a boolean (true/false)";
    case LW_OPT_INT: return "an integer";
    case LW_OPT_FLOAT: return "a number";
    case LW_OPT_STRING: return "a string";
    case LW_OPT_STRING_LIST: return "a list of strings";
    case LW_OPT_INT_LIST: return "a list of integers";
    case LW_OPT_FLOAT_LIST: return "a list of numbers";
    }
    return "?";
}

static int parse_bool(const char *s, int *out) {
    static const char *T[] = {"true", "yes", "on", "True", "TRUE", "Yes", "On", NULL};
    static const char *F[] = {"false", "no", "off", "False", "FALSE", "No", "Off", NULL};
    for (int i = 0; T[i]; i++) if (!strcmp(s, T[i])) { *out = 1; return 0; }
    for (int i = 0; F[i]; i++) if (!strcmp(s, F[i])) { *out = 0; return 0; }
    return -1;
}

static int parse_long(const char *s, long *out) {
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int choice_ok(const char *choices, const char *v) {
    if (!choices) return 1;
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static void bounds_text(const LwOption *o, char *buf, size_t n) {
    char a[40], b[40];
    snprintf(a, sizeof a, "%.15g", o->min);
    snprintf(b, sizeof b, "%.15g", o->max);
    snprintf(buf, n, "%s must lie in [%s, %s]", o->name, a, b);
}

// Checks one scalar against the option's element type and bounds. `where` prefixes errors.
static int check_scalar(const LwOption *o, const char *text, const char *where, long *lv, double *dv, int *bv,
                        LwError *err) {
    char hint[256];
    switch (o->type) {
    case LW_OPT_BOOL:
        if (parse_bool(text, bv))
            return lw_err(err, "write true or false", "%s: %s: expects %s, got '%s'", where, o->name,
                          type_name(o->type), text);
        return 0;
    case LW_OPT_INT:
    case LW_OPT_INT_LIST:
        if (parse_long(text, lv)) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: expects %s, got '%s'", where, o->name,
                          o->type == LW_OPT_INT ? "an integer" : "integers", text);
        }
        if (*lv < o->min || *lv > o->max) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: %ld is out of range", where, o->name, *lv);
        }
        return 0;
    case LW_OPT_FLOAT:
    case LW_OPT_FLOAT_LIST:
        if (parse_double(text, dv)) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: expects %s, got '%s'", where, o->name,
                          o->type == LW_OPT_FLOAT ? "a number" : "numbers", text);
        }
        if (*dv < o->min || *dv > o->max) {
            bounds_text(o, hint, sizeof hint);
            return lw_err(err, hint, "%s: %s: %s is out of range", where, o->name, text);
        }
        return 0;
    case LW_OPT_STRING:
    case LW_OPT_STRING_LIST:
        if (!choice_ok(o->choices, text)) {
            snprintf(hint, sizeof hint, "%s is one of: %s", o->name, o->choices);
            for (char *p = hint; *p; p++) if (*p == '|') *p = ',';
            return lw_err(err, hint, "%s: %s: '%s' is not a valid value", where, o->name, text);
        }
        return 0;
    }
    return 0;
}

static void list_clear(const LwRunConfig *cfg, const LwOption *o) {
    if (o->type == LW_OPT_STRING_LIST) {
        LwStrList *l = FIELD(cfg, o, LwStrList);
        for (int i = 0; i < l->n; i++) free(l->v[i]);
        free(l->v);
        l->v = NULL; l->n = 0;
    } else if (o->type == LW_OPT_INT_LIST) {
        LwIntList *l = FIELD(cfg, o, LwIntList);
        free(l->v); l->v = NULL; l->n = 0;
    } else if (o->type == LW_OPT_FLOAT_LIST) {
        LwFloatList *l = FIELD(cfg, o, LwFloatList);
        free(l->v); l->v = NULL; l->n = 0;
    }
}

// Sets a scalar option or appends to a list option (after check_scalar). Lists are cleared by
// the caller first.
static int set_or_append(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err) {
    long lv = 0; double dv = 0; int bv = 0;
    if (check_scalar(o, text, where, &lv, &dv, &bv, err)) return -1;
    switch (o->type) {
    case LW_OPT_BOOL: *FIELD(cfg, o, int) = bv; break;
    case LW_OPT_INT: *FIELD(cfg, o, long) = lv; break;
    case LW_OPT_FLOAT: *FIELD(cfg, o, double) = dv; break;
    case LW_OPT_STRING: {
        char **s = FIELD(cfg, o, char *);
        free(*s);
        *s = xstrdup(text);
        break;
    }
    case LW_OPT_STRING_LIST: {
        LwStrList *l = FIELD(cfg, o, LwStrList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = xstrdup(text);
        break;
    }
    case LW_OPT_INT_LIST: {
        LwIntList *l = FIELD(cfg, o, LwIntList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = lv;
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        LwFloatList *l = FIELD(cfg, o, LwFloatList);
        l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
        l->v[l->n++] = dv;
        break;
    }
    }
    return 0;
}

static int is_list(const LwOption *o) {
    return o->type == LW_OPT_STRING_LIST || o->type == LW_OPT_INT_LIST || o->type == LW_OPT_FLOAT_LIST;
}

static void record_source(LwRunConfig *cfg, const LwOption *o, const char *where) {
    int i = (int)(o - LW_OPTIONS);
    snprintf(cfg->src[i].where, sizeof cfg->src[i].where, "%s", where);
}

int opt_set_text(LwRunConfig *cfg, const LwOption *o, const char *text, const char *where, LwError *err) {
    if (!is_list(o)) {
        if (set_or_append(cfg, o, text, where, err)) return -1;
        record_source(cfg, o, where);
        return 0;
    }
    // "[a, b]" or "a,b" or "" (empty list)
    char *buf = xstrdup(text), *p = buf;
    while (isspace((unsigned char)*p)) p++;
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1])) p[--n] = 0;
    if (*p == '[' && n && p[n - 1] == ']') { p[n - 1] = 0; p++; }
    list_clear(cfg, o);
    int rc = 0;
    for (char *tok = p; tok && rc == 0;) {
        char *comma = strchr(tok, ',');
        if (comma) *comma = 0;
        while (isspace((unsigned char)*tok)) tok++;
        size_t m = strlen(tok);
        while (m && isspace((unsigned char)tok[m - 1])) tok[--m] = 0;
        if (m) rc = set_or_append(cfg, o, tok, where, err);
        else if (comma) rc = lw_err(err, "separate list elements by single commas, e.g. norm,raw",
                                    "%s: %s: empty list element", where, o->name);
        tok = comma ? comma + 1 : NULL;
    }
    free(buf);
    if (!rc) record_source(cfg, o, where);
    return rc;
}

void yaml_where(char *buf, size_t n, const char *file, const yaml_node_t *node) {
    snprintf(buf, n, "%s:%zu:%zu", file, node->start_mark.line + 1, node->start_mark.column + 1);
}

const char *yaml_scalar(const yaml_node_t *node) {
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

int opt_set_node(LwRunConfig *cfg, const LwOption *o, yaml_document_t *doc, yaml_node_t *node, const char *file,
                 LwError *err) {
    char where[600];
    yaml_where(where, sizeof where, file, node);
    if (node->type == YAML_MAPPING_NODE)
        return lw_err(err, "write the value on the same line as its key (see lensweep run --help)",
                      "%s: %s: expects %s, got a mapping", where, o->name, type_name(o->type));
    if (node->type == YAML_SCALAR_NODE) {
        const char *v = yaml_scalar(node);
        int plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (plain && (!strcmp(v, "null") || !strcmp(v, "~") || !*v)) {
            // null: strings become unset, lists empty; numbers and booleans need a value.
            if (o->type == LW_OPT_STRING) {
                char **s = FIELD(cfg, o, char *);
                free(*s);
                *s = xstrdup("");
                record_source(cfg, o, where);
                return 0;
            }
            if (is_list(o)) { list_clear(cfg, o); record_source(cfg, o, where); return 0; }
            return lw_err(err, "give a value or delete the line to keep the default",
                          "%s: %s: expects %s, got null", where, o->name, type_name(o->type));
        }
        if (is_list(o)) list_clear(cfg, o); // a scalar for a list = a one-element list
        if (set_or_append(cfg, o, v, where, err)) return -1;
        record_source(cfg, o, where);
        return 0;
    }
    // sequence
    if (!is_list(o))
        return lw_err(err, "give a single value, not a list",
                      "%s: %s: expects %s, got a list", where, o->name, type_name(o->type));
    list_clear(cfg, o);
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        yaml_node_t *el = yaml_document_get_node(doc, *it);
        char ew[600];
        yaml_where(ew, sizeof ew, file, el);
        const char *v = yaml_scalar(el);
        if (!v)
            return lw_err(err, "list elements are plain values, e.g. [norm, raw]",
                          "%s: %s: expects %s, got a nested %s", ew, o->name, type_name(o->type),
                          el->type == YAML_MAPPING_NODE ? "mapping" : "list");
        if (set_or_append(cfg, o, v, ew, err)) return -1;
    }
    record_source(cfg, o, where);
    return 0;
}

// ---------------------------------------------------------------------------- defaults, env

void config_defaults(LwRunConfig *cfg) {
    memset(cfg, 0, sizeof *cfg);
    LW_ASSERT(LW_N_OPTIONS <= (int)(sizeof cfg->src / sizeof cfg->src[0]));
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        LwError err = {0};
        if (opt_set_text(cfg, &LW_OPTIONS[i], LW_OPTIONS[i].default_yaml, "default", &err))
            lw_die_err(&err, LW_EXIT_RUNTIME); // a bad row in the table is a bug
    }
    probe_set_reference(&cfg->probe_set);
}

int config_apply_env(LwRunConfig *cfg, LwError *err) {
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (!v || !*v) continue;
        char where[128];
        snprintf(where, sizeof where, "$%s (environment)", o->env);
        if (opt_set_text(cfg, o, v, where, err)) return -1;
    }
    return 0;
}

// ---------------------------------------------------------------------------- CLI

// A boolean option's name: `--flag` or `--no-flag` (*negated = 1). NULL for any other word.
static const LwOption *bool_option(const char *key, int *negated) {
    const LwOption *o = config_option_find(key);
    *negated = 0;
    if (!o && !strncmp(key, "no-", 3)) {
        o = config_option_find(key + 3);
        *negated = 1;
    }
    return o && o->type == LW_OPT_BOOL ? o : NULL;
}

int config_cli_words(int argc, char *const *argv, int i) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) || strchr(a, '=')) return 1;
    int negated, b;
    if (bool_option(a + 2, &negated)) return i + 1 < argc && parse_bool(argv[i + 1], &b) == 0 ? 2 : 1;
    return config_option_find(a + 2) && i + 1 < argc ? 2 : 1;
}

int config_apply_cli(LwRunConfig *cfg, int argc, char **argv, LwError *err) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) || !a[2]) {
            return lw_err(err, "options are written --key value (lensweep run --help lists them)",
                          "command line: unexpected argument '%s'", a);
        }
        char key[256];
        snprintf(key, sizeof key, "%s", a + 2);
        const char *val = NULL;
        char *eq = strchr(key, '=');
        if (eq) { *eq = 0; val = a + 2 + (eq - key) + 1; }
        int negated = 0;
        const LwOption *o = bool_option(key, &negated);
        if (!o) o = config_option_find(key);
        if (!o) {
            const char *near = config_nearest_key(key);
            char hint[300];
            if (near) snprintf(hint, sizeof hint, "did you mean --%s? (lensweep run --help lists every option)", near);
            else snprintf(hint, sizeof hint, "lensweep run --help lists every option");
            return lw_err(err, hint, "command line: --%s: unknown option", key);
        }
        char where[300];
        snprintf(where, sizeof where, "--%s (command line)", o->name);
        if (o->type == LW_OPT_BOOL) {
            // `--flag`, `--flag true|false`, `--flag=VALUE`; `--no-flag` (and its forms) negates
            int b;
            if (!val) val = config_cli_words(argc, argv, i) == 2 ? argv[++i] : "true";
            if (parse_bool(val, &b))
                return lw_err(err, "write --flag, --flag true|false or --flag=true|false",
                              "%s: %s: expects %s, got '%s'", where, o->name, type_name(o->type), val);
            if (negated) val = b ? "false" : "true";
        } else if (!val) {
            if (i + 1 >= argc)
                return lw_err(err, "give a value after the option, e.g. --tp_size 2",
                              "command line: --%s: missing value", o->name);
            val = argv[++i];
        }
        if (opt_set_text(cfg, o, val, where, err)) return -1;
    }
    return 0;
}

int config_from_args(LwRunConfig *cfg, int argc, char **argv, LwError *err) {
    config_defaults(cfg);
    if (config_apply_env(cfg, err)) return -1;
    int file_at = -1;
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "--", 2)) {
            // skip the option's value when it is written as a second word (`--flag true` too); an
            // unknown option takes the word after it, so config_apply_cli() names the option
            int words = config_cli_words(argc, argv, i);
            int negated;
            if (words == 1 && !strchr(argv[i], '=') && !config_option_find(argv[i] + 2) &&
                !bool_option(argv[i] + 2, &negated) && i + 1 < argc && strncmp(argv[i + 1], "--", 2))
                words = 2;
            i += words - 1;
            continue;
        }
        file_at = i;
        break;
    }
    int negated;
    const LwOption *before = file_at > 0 && !strncmp(argv[file_at - 1], "--", 2) && !strchr(argv[file_at - 1], '=')
                                 ? bool_option(argv[file_at - 1] + 2, &negated) : NULL;
    if (before && !lw_file_exists(argv[file_at]) && !lw_is_dir(argv[file_at]))
        // `--flag maybe`: the word after a boolean that is not true/false reads as a config path
        return lw_err(err, "write --flag, --flag true|false or --flag=true|false (a config file is given as a path)",
                      "--%s (command line): %s: expects %s, got '%s' (and no config file has that name)",
                      before->name, before->name, type_name(before->type), argv[file_at]);
    if (file_at >= 0 && config_load_file(argv[file_at], cfg, err)) return -1;
    char **rest = xmalloc((argc + 1) * sizeof *rest);
    int n = 0;
    for (int i = 0; i < argc; i++) if (i != file_at) rest[n++] = argv[i];
    int rc = config_apply_cli(cfg, n, rest, err);
    free(rest);
    if (rc) return -1;
    return config_finalize(cfg, err);
}

// ---------------------------------------------------------------------------- printing, hash

void config_format_double(char *buf, size_t n, double v) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    // keep a float looking like one in YAML ("1" -> "1.0") unless it uses an exponent
    if (!strpbrk(buf, ".eEn") && strlen(buf) + 3 < n) strcat(buf, ".0");
}

void config_print_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", f);
        else if (*p == '\t') fputs("\\t", f);
        else if (*p < 0x20) fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void print_value(FILE *f, const LwRunConfig *cfg, const LwOption *o) {
    char b[64];
    switch (o->type) {
    case LW_OPT_BOOL: fputs(*FIELD(cfg, o, int) ? "true" : "false", f); break;
    case LW_OPT_INT: fprintf(f, "%ld", *FIELD(cfg, o, long)); break;
    case LW_OPT_FLOAT: config_format_double(b, sizeof b, *FIELD(cfg, o, double)); fputs(b, f); break;
    case LW_OPT_STRING: config_print_string(f, *FIELD(cfg, o, char *)); break;
    case LW_OPT_STRING_LIST: {
        const LwStrList *l = FIELD(cfg, o, LwStrList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) { if (i) fputs(", ", f); config_print_string(f, l->v[i]); }
        fputc(']', f);
        break;
    }
    case LW_OPT_INT_LIST: {
        const LwIntList *l = FIELD(cfg, o, LwIntList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%ld", i ? ", " : "", l->v[i]);
        fputc(']', f);
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        const LwFloatList *l = FIELD(cfg, o, LwFloatList);
        fputc('[', f);
        for (int i = 0; i < l->n; i++) {
            config_format_double(b, sizeof b, l->v[i]);
            fprintf(f, "%s%s", i ? ", " : "", b);
        }
        fputc(']', f);
        break;
    }
    }
}

char *config_value_text(const LwRunConfig *cfg, const LwOption *o) {
    char *buf = NULL, b[64];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    LW_ASSERT(f);
    switch (o->type) {
    case LW_OPT_STRING: fputs(*FIELD(cfg, o, char *) ? *FIELD(cfg, o, char *) : "", f); break;
    case LW_OPT_STRING_LIST: {
        const LwStrList *l = FIELD(cfg, o, LwStrList);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%s", i ? "," : "", l->v[i]);
        break;
    }
    case LW_OPT_INT_LIST: {
        const LwIntList *l = FIELD(cfg, o, LwIntList);
        for (int i = 0; i < l->n; i++) fprintf(f, "%s%ld", i ? "," : "", l->v[i]);
        break;
    }
    case LW_OPT_FLOAT_LIST: {
        const LwFloatList *l = FIELD(cfg, o, LwFloatList);
        for (int i = 0; i < l->n; i++) {
            config_format_double(b, sizeof b, l->v[i]);
            fprintf(f, "%s%s", i ? "," : "", b);
        }
        break;
    }
    default: print_value(f, cfg, o); break; // bool, int, float: the same text as in YAML
    }
    fclose(f);
    return buf;
}

// need_flags: only options with one of these flags (0 = all). sourced: only options not at their
// built-in default, each followed by a comment naming where its value came from.
static void print_options_sel(FILE *f, const LwRunConfig *cfg, unsigned need_flags, int sourced) {
    char section[64] = "";
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        if (need_flags && !(o->flags & need_flags)) continue;
        if (sourced && (!cfg->src[i].where[0] || !strcmp(cfg->src[i].where, "default"))) continue;
        const char *dot = strchr(o->name, '.');
        const char *leaf = o->name;
        if (dot) {
            size_t len = dot - o->name;
            if (strlen(section) != len || strncmp(section, o->name, len)) {
                snprintf(section, sizeof section, "%.*s", (int)len, o->name);
                fprintf(f, "%s:\n", section);
            }
            leaf = dot + 1;
        } else section[0] = 0;
        fprintf(f, "%s%s: ", dot ? "  " : "", leaf);
        print_value(f, cfg, o);
        if (sourced) fprintf(f, "  # %s", cfg->src[i].where);
        fputc('\n', f);
    }
}

static void print_options(FILE *f, const LwRunConfig *cfg, unsigned need_flags) {
    print_options_sel(f, cfg, need_flags, 0);
}

void config_print_sourced(FILE *f, const LwRunConfig *cfg) {
    fprintf(f, "# lensweep %s resolved configuration; config_hash %s\n", LENSWEEP_VERSION, cfg->config_hash);
    fprintf(f, "# options at their built-in defaults are left out; each other value names its source\n");
    print_options_sel(f, cfg, 0, 1);
    if (cfg->battery) { // read back, `probes` names the battery again (an inline probe_set would win)
        fprintf(f, "# probes names a battery of %d items (content hash %016llx)\n", cfg->battery->n_items,
                (unsigned long long)cfg->battery->content_hash);
        return;
    }
    fprintf(f, "probe_set:  # %s\n", cfg->probe_set.source ? cfg->probe_set.source : "built-in");
    probe_set_print(f, &cfg->probe_set, "  ");
}

void config_print(FILE *f, const LwRunConfig *cfg) {
    fprintf(f, "# lensweep %s resolved configuration; config_hash %s\n", LENSWEEP_VERSION, cfg->config_hash);
    print_options(f, cfg, 0);
    if (cfg->battery) {
        fprintf(f, "# probes names a battery of %d items (content hash %016llx)\n", cfg->battery->n_items,
                (unsigned long long)cfg->battery->content_hash);
        return;
    }
    fprintf(f, "probe_set:\n");
    probe_set_print(f, &cfg->probe_set, "  ");
}

void config_print_help(FILE *f) {
    fprintf(f, "options (YAML key or --key value; H = changes the measurements, part of the config hash):\n");
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        const char *t = o->type == LW_OPT_BOOL ? "bool" : o->type == LW_OPT_INT ? "int" : o->type == LW_OPT_FLOAT ? "float"
                        : o->type == LW_OPT_STRING ? "string" : o->type == LW_OPT_STRING_LIST ? "list" : "list";
        fprintf(f, "  --%-34s %-6s %s default %s%s%s%s%s\n      %s\n", o->name, t, o->flags & LW_OPTF_HASHED ? "H" : " ",
                *o->default_yaml ? o->default_yaml : "\"\"", o->choices ? " {" : "", o->choices ? o->choices : "",
                o->choices ? "}" : "", o->env ? (o->env[0] ? "" : "") : "", o->help);
        if (o->env) fprintf(f, "      environment: %s\n", o->env);
    }
}

uint64_t config_fnv1a64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}

static void compute_hash(LwRunConfig *cfg) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    LW_ASSERT(f);
    fprintf(f, "lensweep-config-hash-v1\n");
    print_options(f, cfg, LW_OPTF_HASHED);
    probe_set_print(f, &cfg->probe_set, "");
    if (cfg->battery) fprintf(f, "battery: %d items %016llx\n", cfg->battery->n_items, (unsigned long long)cfg->battery->content_hash);
    fclose(f);
    uint64_t h = config_fnv1a64(buf, len, LW_FNV1A64_INIT);
    snprintf(cfg->config_hash, sizeof cfg->config_hash, "%016llx", (unsigned long long)h);
    free(buf);
}

// ---------------------------------------------------------------------------- finalize

static int where_of(const LwRunConfig *cfg, const char *name, char *buf, size_t n) {
    const LwOption *o = config_option_find(name);
    snprintf(buf, n, "%s", o ? cfg->src[o - LW_OPTIONS].where : "?");
    return 0;
}

// Slurm's time limit syntax (sbatch(1) --time): MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS.
static int slurm_time_ok(const char *t) {
    if (!strcasecmp(t, "UNLIMITED") || !strcasecmp(t, "INFINITE")) return 1;
    const char *p = t;
    int fields = 0;
    const char *dash = strchr(t, '-');
    if (dash) {
        if (dash == t) return 0;
        for (const char *q = t; q < dash; q++) if (!isdigit((unsigned char)*q)) return 0;
        p = dash + 1;
    }
    int digits = 0;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (*p == ':' && digits) { fields++; digits = 0; }
        else return 0;
    }
    if (!digits) return 0;
    return ++fields <= 3;
}

// A Slurm memory size: digits and an optional K/M/G/T unit.
static int slurm_mem_ok(const char *m) {
    const char *p = m;
    while (isdigit((unsigned char)*p)) p++;
    if (p == m) return 0;
    if (*p && strchr("KMGTkmgt", *p)) p++;
    return *p == 0;
}

int config_finalize(LwRunConfig *cfg, LwError *err) {
    char w[512];
    for (int i = 0; i < cfg->lenses.n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->lenses.v[i], cfg->lenses.v[j])) {
                where_of(cfg, "lenses", w, sizeof w);
                return lw_err(err, "name each lens once", "%s: lenses: '%s' is listed twice", w, cfg->lenses.v[i]);
            }
    if (cfg->lenses.n == 0) {
        where_of(cfg, "lenses", w, sizeof w);
        return lw_err(err, "the norm lens is the primary lens: lenses: [norm, raw]", "%s: lenses: empty", w);
    }
    if (cfg->last_layer_temp_min >= cfg->last_layer_temp_max) {
        where_of(cfg, "last_layer_temp_max", w, sizeof w);
        return lw_err(err, "the grid runs from last_layer_temp_min up to last_layer_temp_max",
                      "%s: last_layer_temp_max must be larger than last_layer_temp_min", w);
    }
    if (cfg->norm_temp_min >= cfg->norm_temp_max) {
        where_of(cfg, "norm_temp_max", w, sizeof w);
        return lw_err(err, "the grid runs from norm_temp_min up to norm_temp_max",
                      "%s: norm_temp_max must be larger than norm_temp_min", w);
    }
    if (cfg->artefact_weights.n != 3) {
        where_of(cfg, "artefact_weights", w, sizeof w);
        return lw_err(err, "three weights: KL>=1 fraction, norm-only semantics, max KL (METRICS.md §8.4)",
                      "%s: artefact_weights: %d values, need 3", w, cfg->artefact_weights.n);
    }
    if (!cfg->model || !*cfg->model) {
        if (!cfg->name || !*cfg->name) {
            // nothing to name yet: callers that need a model check cfg->model themselves
        }
    }
    if ((!cfg->name || !*cfg->name) && cfg->model && *cfg->model) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", cfg->model);
        size_t n = strlen(tmp);
        while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
        const char *b = strrchr(tmp, '/');
        b = b ? b + 1 : tmp;
        char nm[512];
        snprintf(nm, sizeof nm, "%s", b);
        size_t m = strlen(nm);
        if (m > 5 && !strcmp(nm + m - 5, ".gguf")) nm[m - 5] = 0;
        free(cfg->name);
        cfg->name = xstrdup(nm);
    }
    if (cfg->name && (strchr(cfg->name, '/') || !strcmp(cfg->name, ".") || !strcmp(cfg->name, ".."))) {
        where_of(cfg, "name", w, sizeof w);
        return lw_err(err, "name is a file name (no '/'), e.g. Mistral-7B-v0.1",
                      "%s: name: '%s' cannot be a file name", w, cfg->name);
    }
    if (cfg->slurm_time && *cfg->slurm_time && !slurm_time_ok(cfg->slurm_time)) {
        where_of(cfg, "slurm.time", w, sizeof w);
        return lw_err(err, "Slurm time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (e.g. \"02:00:00\")",
                      "%s: slurm.time: '%s' is not a Slurm time limit", w, cfg->slurm_time);
    }
    if (cfg->fit_time && *cfg->fit_time && !slurm_time_ok(cfg->fit_time)) {
        where_of(cfg, "fit.time", w, sizeof w);
        return lw_err(err, "Slurm time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS (e.g. \"12:00:00\")",
                      "%s: fit.time: '%s' is not a Slurm time limit", w, cfg->fit_time);
    }
    for (int i = 0; i < cfg->fit_lenses.n; i++) {
        const char *l = cfg->fit_lenses.v[i];
        int prism = !strcmp(l, "prism");
        const char *dir = prism ? cfg->prism_dir : cfg->tuned_lens_dir;
        if (!dir || !*dir) {
            where_of(cfg, "fit.lenses", w, sizeof w);
            return lw_err(err, prism ? "set prism_dir: the fit writes the artifact there and the run decodes with it"
                                     : "set tuned_lens_dir: the fit writes the translators there and the run decodes with them",
                          "%s: fit.lenses: %s is fitted into %s, which is not set", w, l, prism ? "prism_dir" : "tuned_lens_dir");
        }
        if (!prism && (!cfg->fit_corpus || !*cfg->fit_corpus)) {
            where_of(cfg, "fit.lenses", w, sizeof w);
            return lw_err(err, "set fit.corpus to a text file (plain text, or JSON lines with a `text` field)",
                          "%s: fit.lenses: the tuned-lens fit needs a corpus (fit.corpus), which is not set", w);
        }
    }
    if (cfg->slurm_mem_per_cpu && *cfg->slurm_mem_per_cpu && !slurm_mem_ok(cfg->slurm_mem_per_cpu)) {
        where_of(cfg, "slurm.mem_per_cpu", w, sizeof w);
        return lw_err(err, "a whole number with an optional unit K, M, G or T (e.g. \"8G\")",
                      "%s: slurm.mem_per_cpu: '%s' is not a Slurm memory size", w, cfg->slurm_mem_per_cpu);
    }
    if (cfg->battery) { battery_free(cfg->battery); free(cfg->battery); cfg->battery = NULL; }
    if (cfg->probes && *cfg->probes && !cfg->probe_set_inline && cfg->battery_no_load) {
        // export: the run file holds what was probed (a reference run's config has its probe set inline)
    } else if (cfg->probes && *cfg->probes && !cfg->probe_set_inline && battery_is_battery_path(cfg->probes)) {
        // a battery: its item problems wait for `run`, which adds the tokenizer's and reports all
        cfg->battery = xcalloc(1, sizeof *cfg->battery);
        if (battery_load(cfg->probes, cfg->battery, err)) { free(cfg->battery); cfg->battery = NULL; return -1; }
    } else if (cfg->probes && *cfg->probes && !cfg->probe_set_inline) {
        LwProbeSet ps;
        if (probe_set_load(cfg->probes, &ps, err)) return -1;
        probe_set_free(&cfg->probe_set);
        cfg->probe_set = ps;
    }
    if (config_check_tp(cfg, err)) return -1;
    compute_hash(cfg);
    free(cfg->yaml_text);
    size_t len = 0;
    FILE *f = open_memstream(&cfg->yaml_text, &len);
    LW_ASSERT(f);
    config_print(f, cfg);
    fclose(f);
    return 0;
}

void config_free(LwRunConfig *cfg) {
    for (int i = 0; i < LW_N_OPTIONS; i++) {
        const LwOption *o = &LW_OPTIONS[i];
        if (o->type == LW_OPT_STRING) { free(*FIELD(cfg, o, char *)); *FIELD(cfg, o, char *) = NULL; }
        else if (is_list(o)) list_clear(cfg, o);
    }
    free(cfg->config_path); free(cfg->sweep_path); free(cfg->model_dir); free(cfg->yaml_text);
    probe_set_free(&cfg->probe_set);
    if (cfg->battery) { battery_free(cfg->battery); free(cfg->battery); }
    memset(cfg, 0, sizeof *cfg);
}
