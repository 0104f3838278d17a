// layout — the one table of the run file's names (docs/HDF5.md): every group, dataset and
// attribute that `lensweep run` writes (runfile_writer.c) and that `export`, `plan` and `report`
// read back (run_read.c). The writer and the reader take every name from here, so a name changed
// here changes on both sides, and the format is written down in one place.
//
// Two kinds of names:
//   - the lens's measurements: a LensField (lens/lens_sink.h) under the group of a LensAt
//     (`/lens/<lens>`, `/lens/<lens>/<pass>`, `.../next`, `.../positions`, `/prompts/<pass>`),
//     named by RF_FIELD[] and placed by rf_group_path / rf_field_path;
//   - everything else (root attributes, /vocab, the prompts' attributes, /calibration, /aux,
//     /battery): the RF_* macros below (string literals, so they also work in snprintf formats).
#ifndef LW_LAYOUT_H
#define LW_LAYOUT_H

#include <stddef.h>

#include "lens/lens_sink.h"

// "norm", "raw", "post_ln2", "prism", "tuned"
extern const char *const RF_LENS_NAME[LENS_N_KINDS];
// The dataset or attribute name of each lens field ("p_answer", ...).
extern const char *const RF_FIELD[LF_COUNT];

// The group of `at` into buf[n]: /lens/<lens> (LG_LENS), /lens/<lens>/<pass> (LG_ALL),
// /lens/<lens>/<pass>/next, /lens/<lens>/<pass>/positions, /prompts/<pass> (LG_HEAD).
void rf_group_path(char *buf, size_t n, LensAt at);
// <group of at>/<RF_FIELD[f]> into buf[n].
void rf_field_path(char *buf, size_t n, LensAt at, LensField f);
// /prompts/<pass>/<name> into buf[n] (a pass's own datasets: RF_PROMPT_IDS, ...).
void rf_prompt_path(char *buf, size_t n, const char *pass, const char *name);

// ---------------------------------------------------------------------------- root attributes
#define RF_ROOT "/"
#define RF_SCHEMA "schema"
#define RF_SCHEMA_NAME "lensweep" // the value of `schema`
#define RF_SCHEMA_VERSION "schema_version"
#define RF_SCHEMA_VERSION_WRITTEN 2
#define RF_RUN_KIND "run_kind"
#define RF_RUN_KIND_REFERENCE "reference"
#define RF_RUN_KIND_BATTERY "battery"
#define RF_COMPLETE "complete"   // written last (runfile/h5.c)
#define RF_INTEGRITY "integrity" // the checksum trailer's marker (runfile/h5.c, io/checksum.h)
#define RF_LENSWEEP_VERSION "lensweep_version"
#define RF_LENSWEEP_GIT "lensweep_git"
#define RF_MODEL_NAME "model_name"
#define RF_MODEL_ID "model_id"
#define RF_MODEL_PATH "model_path"
#define RF_FAMILY "family"
#define RF_ARCHITECTURE "architecture"
#define RF_N_LAYERS "n_layers"
#define RF_D_MODEL "d_model"
#define RF_N_HEADS "n_heads"
#define RF_N_KV_HEADS "n_kv_heads"
#define RF_HEAD_DIM "head_dim"
#define RF_D_FF "d_ff"
#define RF_VOCAB "vocab"
#define RF_N_CTX "n_ctx"
#define RF_TOKENIZER_N_IDS "tokenizer_n_ids"
#define RF_BOS_ID "bos_id"
#define RF_FINAL_SOFTCAP "final_softcap"
#define RF_NORM_TYPE "norm_type"
#define RF_WEIGHTS_DTYPE "weights_dtype"
#define RF_COMPUTE_DTYPE "compute_dtype"
#define RF_BACKEND "backend"
#define RF_DEVICE "device"
#define RF_TP_SIZE "tp_size"
#define RF_CONFIG_YAML "config_yaml"
#define RF_CONFIG_HASH "config_hash"
#define RF_START_TIME "start_time"
#define RF_END_TIME "end_time"
#define RF_WALL_SECONDS "wall_seconds"
#define RF_CHECKPOINT_FILES "checkpoint_files"
#define RF_CHECKPOINT_SHA256 "checkpoint_sha256"

// ---------------------------------------------------------------------------- vocabulary, prompts
#define RF_VOCAB_DECODED "/vocab/decoded"
#define RF_VOCAB_PIECES "/vocab/pieces"
#define RF_PROMPTS_ORDER "/prompts/order"
// attributes of /prompts/<pass>
#define RF_PROMPT_ID "prompt_id"
#define RF_PROMPT_VARIANT "prompt_variant"
#define RF_FACT_KEY "fact_key"
#define RF_FACT_INDEX "fact_index"
#define RF_TEXT "text"
#define RF_ANSWER "answer"
#define RF_ALIGN_OK "align_ok"
#define RF_ALIGN_STATUS "align_status"
#define RF_ALIGN_VARIANT "align_variant"
#define RF_ANSWER_IDS "answer_ids"
#define RF_FIRST_ID "first_id"
#define RF_CONTRAST_ID "contrast_id"         // the control pass only
#define RF_CONTRAST_ANSWER "contrast_answer" // the control pass only
#define RF_PROMPT_ID_CONTROL "ctl"           // the value of prompt_id on the control pass
#define RF_PASS_CONTROL "ctl_orig"           // the control pass
#define RF_PASS_PRIMARY "pos_orig_0"         // the first pass (the primary prompt)
// datasets of /prompts/<pass>
#define RF_PROMPT_IDS "ids"
#define RF_PROMPT_CTX_IDS "ctx_ids"
#define RF_PROMPT_RESID_NONFINITE "resid_nonfinite"

// ---------------------------------------------------------------------------- calibration, auxiliary prompts
#define RF_CALIBRATION_TAU_GRID "/calibration/tau_grid"
#define RF_CALIBRATION_TAU_NORM "/calibration/tau_norm"
#define RF_CALIBRATION_CE "/calibration/ce"
#define RF_CALIBRATION_PROMPTS "/calibration/prompts"
#define RF_AUX_TEST_PROMPTS_TEXT "/aux/test_prompts/text"
#define RF_AUX_TEST_PROMPTS_ENTROPY_BITS "/aux/test_prompts/entropy_bits"
#define RF_AUX_TEST_PROMPTS_TOPK_IDS "/aux/test_prompts/topk_ids"
#define RF_AUX_TEST_PROMPTS_TOPK_PROBS "/aux/test_prompts/topk_probs"
#define RF_AUX_TEMPERATURE_TEMPS "/aux/temperature/temps"
#define RF_AUX_TEMPERATURE_ENTROPY_BITS "/aux/temperature/entropy_bits"
#define RF_AUX_TEMPERATURE_TOPK_IDS "/aux/temperature/topk_ids"
#define RF_AUX_TEMPERATURE_TOPK_PROBS "/aux/temperature/topk_probs"

// ---------------------------------------------------------------------------- battery (schema 2)
#define RF_BATTERY "/battery"
#define RF_BATTERY_NAME "name"
#define RF_BATTERY_SOURCE "source"
#define RF_BATTERY_FORMAT "format"
#define RF_BATTERY_N_ITEMS "n_items"
#define RF_BATTERY_N_SKIPPED "n_skipped"
#define RF_BATTERY_TOPK "topk"
#define RF_BATTERY_ANSWER_RULE "answer_rule"
#define RF_BATTERY_CONTENT_HASH "content_hash"
#define RF_BATTERY_HAS_CONTROL "has_control"
#define RF_BATTERY_ITEMS_ID "/battery/items/id"
#define RF_BATTERY_ITEMS_GROUP "/battery/items/group"
#define RF_BATTERY_ITEMS_PROMPT "/battery/items/prompt"
#define RF_BATTERY_ITEMS_CONTROL "/battery/items/control"
#define RF_BATTERY_ITEMS_LINE "/battery/items/line"
#define RF_BATTERY_ITEMS_ANSWERS "/battery/items/answers"
#define RF_BATTERY_ITEMS_ANSWER_OFFSETS "/battery/items/answer_offsets"
#define RF_BATTERY_ITEMS_ANSWER_FIRST_IDS "/battery/items/answer_first_ids"
#define RF_BATTERY_ITEMS_CONTROL_ANSWER_FIRST_IDS "/battery/items/control_answer_first_ids"
#define RF_BATTERY_ITEMS_IDS "/battery/items/ids"
#define RF_BATTERY_ITEMS_IDS_OFFSETS "/battery/items/ids_offsets"
#define RF_BATTERY_ITEMS_CONTROL_IDS "/battery/items/control_ids"
#define RF_BATTERY_ITEMS_CONTROL_IDS_OFFSETS "/battery/items/control_ids_offsets"
#define RF_BATTERY_SKIPPED_ID "/battery/skipped/id"
#define RF_BATTERY_SKIPPED_LINE "/battery/skipped/line"
#define RF_BATTERY_SKIPPED_REASON "/battery/skipped/reason"
// the two tables of item × layer values, and their datasets
#define RF_BATTERY_NEXT "/battery/next"
#define RF_BATTERY_CONTROL "/battery/control"
#define RF_BT_ENTROPY_BITS "entropy_bits"
#define RF_BT_KL_TO_FINAL_BITS "kl_to_final_bits"
#define RF_BT_P_ANSWER "p_answer"
#define RF_BT_P_ANSWER_ANY "p_answer_any"
#define RF_BT_ANSWER_LOGIT "answer_logit"
#define RF_BT_ANSWER_RANK "answer_rank"
#define RF_BT_ANSWER_BEST "answer_best"
#define RF_BT_TOP_IDS "top_ids"
#define RF_BT_TOP_PROBS "top_probs"
#define RF_BT_TEACHER_ENTROPY_BITS "teacher_entropy_bits"
#define RF_BT_FINAL_TOP1 "final_top1"
#define RF_BT_FINAL_TOP1_PROB "final_top1_prob"
#define RF_BT_FIRST_RANK1 "first_rank1"
// battery_positions != 1: per item × decoded position × layer (rows indexed by (item, position))
#define RF_BATTERY_POSITIONS "/battery/positions"
#define RF_BP_K "battery_positions" // attribute: the option's value (0 = every position)
#define RF_BP_TOPK "topk"           // attribute: K of top_ids / top_probs (topk_records)
#define RF_BATTERY_POSITIONS_OFFSETS "/battery/positions/offsets"
#define RF_BATTERY_POSITIONS_ITEM "/battery/positions/item"
#define RF_BATTERY_POSITIONS_POS "/battery/positions/pos"
#define RF_BATTERY_POSITIONS_ENTROPY_BITS "/battery/positions/entropy_bits"
#define RF_BATTERY_POSITIONS_TOP_IDS "/battery/positions/top_ids"
#define RF_BATTERY_POSITIONS_TOP_PROBS "/battery/positions/top_probs"

#endif
