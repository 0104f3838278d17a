// config_options — the option table (LW_OPTIONS): every option's name, type, field, default,
// bounds, choices, environment twin, flags and help, and the `--help` text printed from it. The
// parser that the table drives is config.c.
#include "config/config.h"

#include <stddef.h>
#include <stdio.h>

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
      "allow tp_size values that do not divide the heads: balanced whole-head ranges per rank (config/tp.c)"),
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
    // not H: part of the config hash only for a battery and a value other than 1 (config.c
    // compute_hash), so the hash of every run without it stays what it was
    O("battery_positions", NULL, LW_OPT_INT, battery_positions, "1", 0, 1048576, NULL, NULL, 0,
      "battery: positions decoded per item: 1 = NEXT only; k > 1 = the last k positions of each item (all of an item shorter than k); 0 = every position; > 1 or 0 add per-position records (docs/BATTERY.md; hashed when not 1)"),
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
