// run_read — the measurements of one `lensweep run` HDF5 file (docs/HDF5.md, schema 1) read
// into memory for `lensweep export`. Reading only: every rule over these numbers lives in
// export_rules.c, every file layout in export.c.
//
// Missing values follow the file: NaN for floats, -1 for ids and ranks. A missing attribute or
// dataset, a wrong shape, another schema, or a file without `complete = 1` is an LwError that
// names the file and the object ("<file>: /lens/norm/pos_orig_0/next/p_answer: missing").
#ifndef LW_RUN_READ_H
#define LW_RUN_READ_H

#include "util/util.h"

#define EX_SCHEMA_VERSION 2 // this build writes 2 and reads 1 and 2 (docs/HDF5.md)

// A battery's per item × layer measurements of one kind of prompt (`/battery/next`, the items'
// own prompts, or `/battery/control`): arrays [N, n+1] unless stated.
typedef struct {
    double *entropy_bits, *kl_to_final_bits, *p_answer, *p_answer_any, *answer_logit;
    int *answer_rank, *answer_best;
    int *top_ids; double *top_probs;       // [N, n+1, K]
    double *teacher_entropy_bits, *final_top1_prob; // [N]
    int *final_top1, *first_rank1;         // [N]
} ExBatteryTable;

// `/battery` of a battery run (root attribute run_kind = "battery"; docs/HDF5.md, BATTERY.md).
typedef struct {
    char *name, *source, *format, *answer_rule, *content_hash;
    int N, K, has_control, n_skipped;
    char **ids, **groups, **prompts, **controls; // [N]; controls "" when none
    int *line;                                   // [N]
    int *T;                                      // [N] forward length of each item's prompt (NEXT = T-1)
    int *answer_offsets;                         // [N+1] into answers / answer_first_ids
    char **answers; int *answer_first_ids;
    char **skipped_ids, **skipped_reasons; int *skipped_lines; // [n_skipped]
    ExBatteryTable next, control;                // control: NULL arrays without control prompts
    // /battery/positions (battery_positions != 1; has_positions 0 without): rows item after item,
    // each item's last pos_off[i+1] - pos_off[i] positions in order
    int has_positions, pos_k, pos_K;             // the option's value (0 = every position); top-K
    int *pos_off;                                // [N+1]
    int *pos_item, *pos_pos;                     // [P]: the row's item and position (0-based, BOS included)
    double *pos_entropy_bits;                    // [P, n+1]
    int *pos_top_ids; double *pos_top_probs;     // [P, n+1, pos_K]
    int *seq_ids, *seq_off;                      // the items' forward sequences [ΣT], offsets [N+1] (seq_ids: with positions only)
} ExBattery;

// The NEXT-position measurements of one lens in one pass (`/lens/<lens>/<pass>/next/`).
// Arrays are [n+1] unless stated; NULL when the lens does not store that dataset.
typedef struct {
    int present;
    int K;                      // top list length (50)
    int *top_ids;               // [n+1, K]
    double *top_probs, *top_logits;
    double *entropy_bits, *entropy_bits_pv;
    double *p_answer, *answer_logit, *p_contrast;
    int *answer_rank;
    double *kl_to_final_bits, *kl_to_final_bits_norm_temp;
    double *cos_to_final, *cos_to_answer, *cos_to_prompt_max, *echo_mass_prompt;
    double *resid_norm_ratio, *delta_resid_cos, *raw_resid_norm;
    double *max_abs_logit, *min_prob;
    int *nonfinite;
    int n_scales; double *scales, *scaled_p_answer; // [n+1, n_scales]
    int *repeat_rank_dev, *repeat_top1_flip;
    int n_temps; double *temps, *last_temp_kl;
    double transform_kl[3];
    // raw lens pairwise values (§8.3)
    double *kl_norm_vs_raw_bits, *kl_raw_to_norm_bits, *js_divergence, *l1_prob_diff;
    int *ranks_of_norm_top50;   // [n+1, 50] (raw and tuned lenses)
    // tuned lens §19.4 variants (NULL for the other lenses)
    double *kl_rot_only_bits, *kl_temp_only_bits;
    int *answer_rank_rot_only, *answer_rank_temp_only;
} ExNext;

// §19.4 positional rows of one pass (`/lens/tuned/<pass>/positions/`): [n+1, P], row 0 missing.
typedef struct {
    int P;
    double *pos_frac; int *pos_index; // [P]
    double *kl_norm_bits, *kl_tuned_bits, *entropy_norm_bits, *entropy_tuned_bits;
    int *answer_rank_norm, *answer_rank_tuned; // −1 except at the last position
} ExTunedPositions;

typedef struct {
    char *name;            // pos_orig_0, pos_no_filler_0, ..., ctl_orig
    char *prompt_id;       // pos / ctl
    char *variant;         // orig / no_filler
    char *fact_key;        // "" for ctl
    int fact_index;        // -1 for ctl
    char *text, *answer;
    int align_ok;
    char *align_status, *align_variant;
    int n_answer_ids; int *answer_ids;
    int first_id;          // -1 unresolved
    int contrast_id;       // ctl only (else -1)
    char *contrast_answer; // ctl only
    double teacher_entropy_bits;
    int T; int *ids;       // forward sequence
    int Tc; int *ctx_ids;  // prompt ids without specials
    double *final_entropy_bits; // [T]
    int final_k; int *final_topk_ids; double *final_topk_probs; // [T, final_k]
    // P_final[first_id] at NEXT (the head's full softmax, soft-cap included; NaN without an answer
    // id); has_final_p_answer = 0: a file written before it was stored (final_p_answer NaN)
    int has_final_p_answer; double final_p_answer;
    int *resid_nonfinite;       // [n+1, T]: 1 NaN, 2 Inf in the residual stream; NULL in older files
    // norm lens, all positions
    double *rec_entropy_bits;   // [n+1, T]
    int rec_k; int *rec_topk_ids; double *rec_topk_probs; // [n+1, T, rec_k]
    ExNext norm, raw, post_ln2;
    // Prism lens (/lens/prism, only when the run had a prism_dir; prism.present = 0 otherwise):
    // NEXT values as ExNext (the columns Prism does not measure are NaN), all positions as rec_*
    ExNext prism;
    double prism_teacher_entropy_bits; // H(P_final) by the Prism code path (next/ attribute)
    double *prism_rec_entropy_bits;
    int prism_rec_k; int *prism_rec_topk_ids; double *prism_rec_topk_probs;
    // tuned lens (/lens/tuned, only when the run had a tuned_lens_dir; tuned.present = 0 otherwise):
    // rows L = 1..n (row 0 NaN / −1); NEXT values as ExNext (resid_norm_ratio, delta_resid_cos and
    // kl_to_final_bits_norm_temp NaN), all positions as rec_*, the §19.4 audit values
    ExNext tuned;
    double tuned_teacher_entropy_bits;
    double tuned_kl_bits_final, tuned_tau_star_modelcal, tuned_kl_bits_final_after_tau_star; // head_mismatch
    double *tuned_rec_entropy_bits;
    int tuned_rec_k; int *tuned_rec_topk_ids; double *tuned_rec_topk_probs;
    ExTunedPositions tuned_pos;
} ExPass;

typedef struct {
    char *path;
    char *run_kind;        // "reference" or "battery" (schema 1: "reference")
    ExBattery *battery;    // a battery run: its items; then n_passes = 0 and /calibration, /aux absent
    // root attributes
    char *model_name, *model_id, *model_path, *family, *architecture, *norm_type;
    char *weights_dtype, *compute_dtype, *backend, *device, *config_yaml, *config_hash;
    char *lensweep_version, *lensweep_git, *start_time, *end_time;
    long n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab, n_ctx, tokenizer_n_ids;
    long bos_id, tp_size;
    double final_softcap, wall_seconds;
    // /lens/prism group attributes (has_prism = 0: the run decoded no Prism lens)
    int has_prism;
    char *prism_artifact_path, *prism_layers;
    long prism_k;
    // /lens/tuned (has_tuned = 0: the run decoded no tuned lens)
    int has_tuned;
    char *tuned_artifact_path, *tuned_config_sha256;
    long tuned_k;
    double *tuned_tau;     // [n+1], row 0 NaN, row n 1
    // /vocab
    long V;
    char **decoded, **pieces;
    // /prompts
    int n_passes;
    ExPass *passes;
    // /calibration
    int n_tau; double *tau_grid;
    double *tau_norm;      // [n+1]
    // /aux
    int n_test; char **test_text; double *test_entropy; int test_k; int *test_ids; double *test_probs;
    int n_temp; double *temp_values, *temp_entropy; int temp_k; int *temp_ids; double *temp_probs;
} ExRun;

// Reads the whole file. Returns 0 or -1 with err set (file and object named, hint given).
int ex_run_read(const char *path, ExRun *run, LwError *err);
void ex_run_free(ExRun *run);

// -1 with err (and `what`, when given: "still being written (holder)" or why it will never
// finish) when path is a `<name>.h5.tmp.<pid>` file of an unfinished run; 0 otherwise.
int ex_run_unfinished(const char *path, char *what, size_t len, LwError *err);

// State of a run file from its checksum and root attributes only (report): 1 complete, 0 not
// complete (the reason in msg), -1 unreadable or corrupt (the reason in msg).
int ex_run_state(const char *path, char *msg, size_t msg_len);
// 1 when path is a battery run's file (root attribute run_kind = "battery"), else 0.
int ex_run_is_battery(const char *path);

// Index of the pass called name, or -1.
int ex_run_pass(const ExRun *run, const char *name);

#endif
