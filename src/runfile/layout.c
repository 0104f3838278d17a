// layout — see layout.h: the names of the lens's fields and the groups they go under.
#include "runfile/layout.h"

#include <stdio.h>
#include <string.h>

#include "util/util.h"

const char *const RF_LENS_NAME[LENS_N_KINDS] = {
    [LENS_NORM] = "norm", [LENS_RAW] = "raw", [LENS_POST_LN2] = "post_ln2", [LENS_PRISM] = "prism", [LENS_TUNED] = "tuned",
};

const char *const RF_FIELD[LF_COUNT] = {
    [LF_TOPK_IDS] = "topk_ids",
    [LF_TOPK_PROBS] = "topk_probs",
    [LF_FINAL_ENTROPY_BITS] = "final_entropy_bits",
    [LF_FINAL_TOPK_IDS] = "final_topk_ids",
    [LF_FINAL_TOPK_PROBS] = "final_topk_probs",
    [LF_FINAL_P_ANSWER] = "final_p_answer",
    [LF_FINAL_LOGITS] = "final_logits",
    [LF_RESIDUALS] = "residuals",
    [LF_TEACHER_ENTROPY_BITS] = "teacher_entropy_bits",
    [LF_ENTROPY_BITS] = "entropy_bits",
    [LF_TOP_IDS] = "top_ids",
    [LF_TOP_PROBS] = "top_probs",
    [LF_TOP_LOGITS] = "top_logits",
    [LF_ENTROPY_BITS_PV] = "entropy_bits_pv",
    [LF_KL_TO_FINAL_BITS] = "kl_to_final_bits",
    [LF_P_ANSWER] = "p_answer",
    [LF_ANSWER_LOGIT] = "answer_logit",
    [LF_ANSWER_RANK] = "answer_rank",
    [LF_P_CONTRAST] = "p_contrast",
    [LF_KL_TO_FINAL_BITS_NORM_TEMP] = "kl_to_final_bits_norm_temp",
    [LF_COS_TO_FINAL] = "cos_to_final",
    [LF_ECHO_MASS_PROMPT] = "echo_mass_prompt",
    [LF_COS_TO_ANSWER] = "cos_to_answer",
    [LF_COS_TO_PROMPT_MAX] = "cos_to_prompt_max",
    [LF_RESID_NORM_RATIO] = "resid_norm_ratio",
    [LF_DELTA_RESID_COS] = "delta_resid_cos",
    [LF_RAW_RESID_NORM] = "raw_resid_norm",
    [LF_MAX_ABS_LOGIT] = "max_abs_logit",
    [LF_MIN_PROB] = "min_prob",
    [LF_NONFINITE] = "nonfinite",
    [LF_SCALED_P_ANSWER] = "scaled_p_answer",
    [LF_SCALES] = "scales",
    [LF_REPEAT_RANK_DEV] = "repeat_rank_dev",
    [LF_REPEAT_TOP1_FLIP] = "repeat_top1_flip",
    [LF_LAST_TEMP_KL] = "last_temp_kl",
    [LF_TEMPS] = "temps",
    [LF_TRANSFORM_KL] = "transform_kl",
    [LF_KL_NORM_VS_RAW_BITS] = "kl_norm_vs_raw_bits",
    [LF_KL_RAW_TO_NORM_BITS] = "kl_raw_to_norm_bits",
    [LF_L1_PROB_DIFF] = "l1_prob_diff",
    [LF_JS_DIVERGENCE] = "js_divergence",
    [LF_RANKS_OF_NORM_TOP50] = "ranks_of_norm_top50",
    [LF_KL_ROT_ONLY_BITS] = "kl_rot_only_bits",
    [LF_ANSWER_RANK_ROT_ONLY] = "answer_rank_rot_only",
    [LF_KL_TEMP_ONLY_BITS] = "kl_temp_only_bits",
    [LF_ANSWER_RANK_TEMP_ONLY] = "answer_rank_temp_only",
    [LF_KL_BITS_TUNED_FINAL] = "kl_bits_tuned_final",
    [LF_TAU_STAR_MODELCAL] = "tau_star_modelcal",
    [LF_KL_BITS_TUNED_FINAL_AFTER_TAU_STAR] = "kl_bits_tuned_final_after_tau_star",
    [LF_POS_FRAC] = "pos_frac",
    [LF_POS_INDEX] = "pos_index",
    [LF_KL_NORM_BITS] = "kl_norm_bits",
    [LF_KL_TUNED_BITS] = "kl_tuned_bits",
    [LF_ENTROPY_NORM_BITS] = "entropy_norm_bits",
    [LF_ENTROPY_TUNED_BITS] = "entropy_tuned_bits",
    [LF_ANSWER_RANK_NORM] = "answer_rank_norm",
    [LF_ANSWER_RANK_TUNED] = "answer_rank_tuned",
    [LF_ARTIFACT_PATH] = "artifact_path",
    [LF_K] = "k",
    [LF_LAYERS] = "layers",
    [LF_CONFIG_SHA256] = "config_sha256",
    [LF_TRANSPOSED] = "transposed",
    [LF_TAU] = "tau",
};

void rf_group_path(char *buf, size_t n, LensAt at) {
    LW_ASSERT((unsigned)at.lens < LENS_N_KINDS);
    const char *lens = RF_LENS_NAME[at.lens];
    int w;
    switch (at.group) {
    case LG_LENS: w = snprintf(buf, n, "/lens/%s", lens); break;
    case LG_ALL: w = snprintf(buf, n, "/lens/%s/%s", lens, at.pass); break;
    case LG_NEXT: w = snprintf(buf, n, "/lens/%s/%s/next", lens, at.pass); break;
    case LG_POSITIONS: w = snprintf(buf, n, "/lens/%s/%s/positions", lens, at.pass); break;
    case LG_HEAD: w = snprintf(buf, n, "/prompts/%s", at.pass); break;
    default: w = -1;
    }
    LW_ASSERT(w >= 0 && (size_t)w < n);
}

void rf_field_path(char *buf, size_t n, LensAt at, LensField f) {
    LW_ASSERT((unsigned)f < LF_COUNT && RF_FIELD[f]);
    rf_group_path(buf, n, at);
    size_t l = strlen(buf);
    int w = snprintf(buf + l, n - l, "/%s", RF_FIELD[f]);
    LW_ASSERT(w >= 0 && (size_t)w < n - l);
}

void rf_prompt_path(char *buf, size_t n, const char *pass, const char *name) {
    int w = snprintf(buf, n, "/prompts/%s/%s", pass, name);
    LW_ASSERT(w >= 0 && (size_t)w < n);
}
