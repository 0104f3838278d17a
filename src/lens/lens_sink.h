// lens_sink — where the lens hands its measurements. The lens says WHAT it measured: which lens
// (norm, raw, ...), which pass, which group of that pass (every position, NEXT, the grid
// positions, the model head) and which field (LensField); the sink decides WHERE that goes. The
// one sink today is the run file's writer (runfile/runfile_writer.h), which maps every field to
// its dataset or attribute of docs/HDF5.md through the layout table (runfile/layout.h); the lens
// itself names no file, path or dataset.
//
// Only rank 0 writes: the other ranks run the same lens calls with a NULL sink, and every call
// below does nothing then (the collectives inside the lens still run on every rank).
#ifndef LW_LENS_SINK_H
#define LW_LENS_SINK_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LENS_NORM, LENS_RAW, LENS_POST_LN2, LENS_PRISM, LENS_TUNED, LENS_N_KINDS } LensKind;

typedef enum {
    LG_LENS,      // the lens itself, over all passes (a learned lens's artifact, the tuned τ)
    LG_ALL,       // one pass, every position (layer × position)
    LG_NEXT,      // one pass at the NEXT position (layer rows)
    LG_POSITIONS, // one pass at the tuned lens's grid positions (§19.4)
    LG_HEAD,      // one pass, the model head at every position and the pass's residuals (`lens` unused)
} LensGroup;

// Where a measurement belongs: lens, group, pass (NULL for LG_LENS).
typedef struct {
    LensKind lens;
    LensGroup group;
    const char *pass;
} LensAt;

// Every field the lens hands over. Their names in the run file: runfile/layout.c.
typedef enum {
    // every position (LG_ALL) and the model head (LG_HEAD)
    LF_TOPK_IDS, LF_TOPK_PROBS, LF_FINAL_ENTROPY_BITS, LF_FINAL_TOPK_IDS, LF_FINAL_TOPK_PROBS, LF_FINAL_P_ANSWER,
    LF_FINAL_LOGITS,
    LF_RESIDUALS, LF_TEACHER_ENTROPY_BITS,
    // NEXT (LG_NEXT); entropy_bits also every position
    LF_ENTROPY_BITS, LF_TOP_IDS, LF_TOP_PROBS, LF_TOP_LOGITS, LF_ENTROPY_BITS_PV, LF_KL_TO_FINAL_BITS,
    LF_P_ANSWER, LF_ANSWER_LOGIT, LF_ANSWER_RANK, LF_P_CONTRAST, LF_KL_TO_FINAL_BITS_NORM_TEMP, LF_COS_TO_FINAL,
    LF_ECHO_MASS_PROMPT, LF_COS_TO_ANSWER, LF_COS_TO_PROMPT_MAX, LF_RESID_NORM_RATIO, LF_DELTA_RESID_COS,
    LF_RAW_RESID_NORM, LF_MAX_ABS_LOGIT, LF_MIN_PROB, LF_NONFINITE, LF_SCALED_P_ANSWER, LF_SCALES,
    LF_REPEAT_RANK_DEV, LF_REPEAT_TOP1_FLIP, LF_LAST_TEMP_KL, LF_TEMPS, LF_TRANSFORM_KL,
    // the raw lens against the norm lens (§8.3)
    LF_KL_NORM_VS_RAW_BITS, LF_KL_RAW_TO_NORM_BITS, LF_L1_PROB_DIFF, LF_JS_DIVERGENCE, LF_RANKS_OF_NORM_TOP50,
    // the tuned lens (§19.4): variants at NEXT, head mismatch, the grid positions
    LF_KL_ROT_ONLY_BITS, LF_ANSWER_RANK_ROT_ONLY, LF_KL_TEMP_ONLY_BITS, LF_ANSWER_RANK_TEMP_ONLY,
    LF_KL_BITS_TUNED_FINAL, LF_TAU_STAR_MODELCAL, LF_KL_BITS_TUNED_FINAL_AFTER_TAU_STAR,
    LF_POS_FRAC, LF_POS_INDEX, LF_KL_NORM_BITS, LF_KL_TUNED_BITS, LF_ENTROPY_NORM_BITS, LF_ENTROPY_TUNED_BITS,
    LF_ANSWER_RANK_NORM, LF_ANSWER_RANK_TUNED,
    // a learned lens's own group (LG_LENS)
    LF_ARTIFACT_PATH, LF_K, LF_LAYERS, LF_CONFIG_SHA256, LF_TRANSPOSED, LF_TAU,
    LF_COUNT
} LensField;

typedef enum { LENS_F64, LENS_I32, LENS_F32 } LensDtype;

// The sink's operations. `rank` 1..3 dimensions dims[0..rank). An attribute goes on the group
// of `at` (attr_*) or on an array written before (array_attr_f64s: `scales` on scaled_p_answer).
// Failures are the sink's (the run file's writer dies with exit 1 naming the file and object).
typedef struct {
    void (*array)(void *ctx, LensAt at, LensField f, LensDtype t, int rank, const size_t *dims, const void *v);
    void (*attr_f64)(void *ctx, LensAt at, LensField f, double v);
    void (*attr_int)(void *ctx, LensAt at, LensField f, long v);
    void (*attr_str)(void *ctx, LensAt at, LensField f, const char *v);
    void (*array_attr_f64s)(void *ctx, LensAt at, LensField array, LensField attr, const double *v, int n);
} LensSinkOps;

typedef struct {
    const LensSinkOps *ops;
    void *ctx;
} LensSink;

// ---------------------------------------------------------------------------- calls (NULL sink: nothing)

static inline void lens_sink_f64(const LensSink *s, LensAt at, LensField f, int rank, size_t d0, size_t d1, size_t d2,
                                 const double *v) {
    size_t dims[3] = {d0, d1, d2};
    if (s) s->ops->array(s->ctx, at, f, LENS_F64, rank, dims, v);
}
static inline void lens_sink_i32(const LensSink *s, LensAt at, LensField f, int rank, size_t d0, size_t d1, size_t d2,
                                 const int32_t *v) {
    size_t dims[3] = {d0, d1, d2};
    if (s) s->ops->array(s->ctx, at, f, LENS_I32, rank, dims, v);
}
static inline void lens_sink_f32(const LensSink *s, LensAt at, LensField f, int rank, size_t d0, size_t d1, size_t d2,
                                 const float *v) {
    size_t dims[3] = {d0, d1, d2};
    if (s) s->ops->array(s->ctx, at, f, LENS_F32, rank, dims, v);
}
static inline void lens_sink_attr_f64(const LensSink *s, LensAt at, LensField f, double v) {
    if (s) s->ops->attr_f64(s->ctx, at, f, v);
}
static inline void lens_sink_attr_int(const LensSink *s, LensAt at, LensField f, long v) {
    if (s) s->ops->attr_int(s->ctx, at, f, v);
}
static inline void lens_sink_attr_str(const LensSink *s, LensAt at, LensField f, const char *v) {
    if (s) s->ops->attr_str(s->ctx, at, f, v);
}
static inline void lens_sink_array_attr_f64s(const LensSink *s, LensAt at, LensField array, LensField attr,
                                             const double *v, int n) {
    if (s) s->ops->array_attr_f64s(s->ctx, at, array, attr, v, n);
}

#endif
