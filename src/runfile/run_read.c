// run_read — see run_read.h. HDF5 C API directly (no h5lt string helpers: the strings are
// variable-length UTF-8, which H5LT's fixed-buffer readers do not handle).
#include "runfile/run_read.h"

#include "io/checksum.h"
#include "io/filelock.h"
#include "runfile/layout.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    hid_t file;
    const char *path;
    LwError *err;
} Rd;

#define HINT_CORRUPT "the file was damaged after `lensweep run` wrote it (disk, copy, transfer); re-run `lensweep run` for this model or restore the file from a good copy"
#define HINT_SCHEMA "the file is not a complete lensweep run file (docs/HDF5.md, schemas 1 and 2); re-run `lensweep run`"

static int rd_fail(Rd *r, const char *obj, const char *what) {
    return lw_err(r->err, HINT_SCHEMA, "%s: %s: %s", r->path, obj, what);
}

static int link_exists(hid_t loc, const char *path) {
    // every prefix must exist for H5Lexists to be safe
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        htri_t e = H5Lexists(loc, buf, H5P_DEFAULT);
        *p = '/';
        if (e <= 0) return 0;
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

// ---------------------------------------------------------------------------- attributes

static hid_t attr_open(Rd *r, const char *obj, const char *name) {
    if (strcmp(obj, "/") && !link_exists(r->file, obj)) return -1;
    if (H5Aexists_by_name(r->file, obj, name, H5P_DEFAULT) <= 0) return -1;
    return H5Aopen_by_name(r->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
}

static void attr_label(char *buf, size_t n, const char *obj, const char *name) {
    snprintf(buf, n, "%s%sattribute '%s'", strcmp(obj, "/") ? obj : "", strcmp(obj, "/") ? ": " : "", name);
}

static int attr_str(Rd *r, const char *obj, const char *name, char **out) {
    char lbl[600];
    attr_label(lbl, sizeof lbl, obj, name);
    hid_t a = attr_open(r, obj, name);
    if (a < 0) return rd_fail(r, lbl, "missing");
    hid_t t = H5Aget_type(a);
    int rc = 0;
    if (H5Tget_class(t) != H5T_STRING) rc = rd_fail(r, lbl, "not a string");
    else if (H5Tis_variable_str(t) > 0) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char *s = NULL;
        if (H5Aread(a, mt, &s) < 0) rc = rd_fail(r, lbl, "unreadable");
        else { *out = xstrdup(s ? s : ""); H5free_memory(s); }
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        char *s = xcalloc(n + 1, 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, n + 1);
        if (H5Aread(a, mt, s) < 0) { rc = rd_fail(r, lbl, "unreadable"); free(s); }
        else *out = s;
        H5Tclose(mt);
    }
    H5Tclose(t);
    H5Aclose(a);
    return rc;
}

static int attr_nums(Rd *r, const char *obj, const char *name, hid_t mtype, void *out, size_t max, size_t *n) {
    char lbl[600];
    attr_label(lbl, sizeof lbl, obj, name);
    hid_t a = attr_open(r, obj, name);
    if (a < 0) return rd_fail(r, lbl, "missing");
    hid_t sp = H5Aget_space(a);
    hssize_t cnt = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    int rc = 0;
    if (cnt < 0 || (size_t)cnt > max) rc = rd_fail(r, lbl, "wrong size");
    else if (H5Aread(a, mtype, out) < 0) rc = rd_fail(r, lbl, "not a number");
    if (n) *n = cnt < 0 ? 0 : (size_t)cnt;
    H5Aclose(a);
    return rc;
}
static int attr_long(Rd *r, const char *obj, const char *name, long *v) {
    long long x = 0;
    if (attr_nums(r, obj, name, H5T_NATIVE_LLONG, &x, 1, NULL)) return -1;
    *v = (long)x;
    return 0;
}
static int attr_int(Rd *r, const char *obj, const char *name, int *v) {
    long x;
    if (attr_long(r, obj, name, &x)) return -1;
    *v = (int)x;
    return 0;
}
static int attr_double(Rd *r, const char *obj, const char *name, double *v) {
    return attr_nums(r, obj, name, H5T_NATIVE_DOUBLE, v, 1, NULL);
}
static int attr_int_array(Rd *r, const char *obj, const char *name, int **v, int *n) {
    int buf[4096];
    size_t cnt = 0;
    if (attr_nums(r, obj, name, H5T_NATIVE_INT, buf, 4096, &cnt)) return -1;
    *v = xmalloc((cnt ? cnt : 1) * sizeof(int));
    memcpy(*v, buf, cnt * sizeof(int));
    *n = (int)cnt;
    return 0;
}

// ---------------------------------------------------------------------------- datasets

// Reads a numeric dataset; dims checked against want[] (0 = any), rank must equal nd.
static int ds_read(Rd *r, const char *path, hid_t mtype, size_t esize, int nd, const hsize_t *want, hsize_t *got,
                   void **out) {
    if (!link_exists(r->file, path)) return rd_fail(r, path, "missing dataset");
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) return rd_fail(r, path, "not a dataset");
    hid_t sp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    int rc = 0;
    if (rank != nd) {
        char m[96];
        snprintf(m, sizeof m, "has %d dimensions, expected %d", rank, nd);
        rc = rd_fail(r, path, m);
    } else {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        size_t total = 1;
        for (int i = 0; i < nd; i++) {
            if (want && want[i] && dims[i] != want[i]) {
                char m[128];
                snprintf(m, sizeof m, "dimension %d is %llu, expected %llu", i, (unsigned long long)dims[i],
                         (unsigned long long)want[i]);
                rc = rd_fail(r, path, m);
                break;
            }
            total *= dims[i];
            if (got) got[i] = dims[i];
        }
        if (!rc) {
            void *buf = xmalloc((total ? total : 1) * esize);
            if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
                free(buf);
                rc = rd_fail(r, path, "unreadable (not numeric?)");
            } else *out = buf;
        }
    }
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}
static int ds_f64(Rd *r, const char *path, int nd, const hsize_t *want, hsize_t *got, double **out) {
    return ds_read(r, path, H5T_NATIVE_DOUBLE, sizeof(double), nd, want, got, (void **)out);
}
static int ds_i32(Rd *r, const char *path, int nd, const hsize_t *want, hsize_t *got, int **out) {
    return ds_read(r, path, H5T_NATIVE_INT, sizeof(int), nd, want, got, (void **)out);
}

static int ds_strs(Rd *r, const char *path, long want, long *n_out, char ***out) {
    if (!link_exists(r->file, path)) return rd_fail(r, path, "missing dataset");
    hid_t d = H5Dopen2(r->file, path, H5P_DEFAULT);
    if (d < 0) return rd_fail(r, path, "not a dataset");
    hid_t sp = H5Dget_space(d);
    hsize_t n = 0;
    int rc = 0;
    if (H5Sget_simple_extent_ndims(sp) != 1) rc = rd_fail(r, path, "not a 1-d string list");
    else {
        H5Sget_simple_extent_dims(sp, &n, NULL);
        if (want >= 0 && (long)n != want) {
            char m[96];
            snprintf(m, sizeof m, "has %llu entries, expected %ld", (unsigned long long)n, want);
            rc = rd_fail(r, path, m);
        }
    }
    if (!rc) {
        hid_t ft = H5Dget_type(d);
        if (H5Tget_class(ft) != H5T_STRING) rc = rd_fail(r, path, "not a list of strings");
        else if (H5Tis_variable_str(ft) <= 0) { // fixed-length strings (NUL-padded)
            size_t w = H5Tget_size(ft);
            char *buf = xcalloc((n ? n : 1) * (w + 1), 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, w + 1);
            if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) rc = rd_fail(r, path, "unreadable");
            else {
                char **v = xmalloc((n ? n : 1) * sizeof(char *));
                for (hsize_t i = 0; i < n; i++) v[i] = xstrdup(buf + i * (w + 1));
                *out = v;
                *n_out = (long)n;
            }
            H5Tclose(mt);
            free(buf);
            H5Tclose(ft);
            H5Sclose(sp);
            H5Dclose(d);
            return rc;
        }
        H5Tclose(ft);
    }
    if (!rc) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5T_CSET_UTF8);
        char **raw = xcalloc(n ? n : 1, sizeof(char *));
        if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) rc = rd_fail(r, path, "unreadable");
        else {
            char **v = xmalloc((n ? n : 1) * sizeof(char *));
            for (hsize_t i = 0; i < n; i++) v[i] = xstrdup(raw[i] ? raw[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, raw);
            *out = v;
            *n_out = (long)n;
        }
        free(raw);
        H5Tclose(mt);
    }
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

// ---------------------------------------------------------------------------- groups

// path := <group of at>/<field f> (runfile/layout.h); evaluates to path.
#define FIELD(at, f) (rf_field_path(path, sizeof path, (at), (f)), path)

static int read_next(Rd *r, const ExRun *run, LensKind lens, const ExPass *p, ExNext *x) {
    char path[400];
    LensAt at = {lens, LG_NEXT, p->name};
    memset(x, 0, sizeof *x);
    for (int i = 0; i < 3; i++) x->transform_kl[i] = NAN;
    hsize_t L = (hsize_t)run->n_layers + 1;
    hsize_t w1[1] = {L}, w2[2] = {L, 0}, got[2];
#define F1(field, f) do { if (ds_f64(r, FIELD(at, f), 1, w1, NULL, &x->field)) return -1; } while (0)
#define I1(field, f) do { if (ds_i32(r, FIELD(at, f), 1, w1, NULL, &x->field)) return -1; } while (0)
    if (ds_i32(r, FIELD(at, LF_TOP_IDS), 2, w2, got, &x->top_ids)) return -1;
    x->K = (int)got[1];
    if (x->K < 2 || (lens == LENS_NORM && x->K < 50)) return rd_fail(r, path, "too few columns (schema: 50)");
    hsize_t wk[2] = {L, (hsize_t)x->K};
    if (ds_f64(r, FIELD(at, LF_TOP_PROBS), 2, wk, NULL, &x->top_probs)) return -1;
    if (ds_f64(r, FIELD(at, LF_TOP_LOGITS), 2, wk, NULL, &x->top_logits)) return -1;
    F1(p_answer, LF_P_ANSWER);
    I1(answer_rank, LF_ANSWER_RANK);
    if (lens == LENS_NORM) {
        F1(entropy_bits, LF_ENTROPY_BITS);
        F1(entropy_bits_pv, LF_ENTROPY_BITS_PV);
        F1(answer_logit, LF_ANSWER_LOGIT);
        F1(p_contrast, LF_P_CONTRAST);
        F1(kl_to_final_bits, LF_KL_TO_FINAL_BITS);
        F1(kl_to_final_bits_norm_temp, LF_KL_TO_FINAL_BITS_NORM_TEMP);
        F1(cos_to_final, LF_COS_TO_FINAL);
        F1(cos_to_answer, LF_COS_TO_ANSWER);
        F1(cos_to_prompt_max, LF_COS_TO_PROMPT_MAX);
        F1(echo_mass_prompt, LF_ECHO_MASS_PROMPT);
        F1(resid_norm_ratio, LF_RESID_NORM_RATIO);
        F1(delta_resid_cos, LF_DELTA_RESID_COS);
        F1(raw_resid_norm, LF_RAW_RESID_NORM);
        F1(max_abs_logit, LF_MAX_ABS_LOGIT);
        F1(min_prob, LF_MIN_PROB);
        I1(nonfinite, LF_NONFINITE);
        I1(repeat_rank_dev, LF_REPEAT_RANK_DEV);
        I1(repeat_top1_flip, LF_REPEAT_TOP1_FLIP);
        if (ds_f64(r, FIELD(at, LF_SCALED_P_ANSWER), 2, w2, got, &x->scaled_p_answer)) return -1;
        x->n_scales = (int)got[1];
        x->scales = xcalloc(x->n_scales + 1, sizeof(double));
        size_t ns = 0;
        if (attr_nums(r, path, RF_FIELD[LF_SCALES], H5T_NATIVE_DOUBLE, x->scales, x->n_scales, &ns)) return -1;
        if ((int)ns != x->n_scales) return rd_fail(r, path, "attribute 'scales' length differs from the dataset's columns");
        if (ds_f64(r, FIELD(at, LF_LAST_TEMP_KL), 1, NULL, got, &x->last_temp_kl)) return -1;
        x->n_temps = (int)got[0];
        x->temps = xcalloc(x->n_temps + 1, sizeof(double));
        if (attr_nums(r, path, RF_FIELD[LF_TEMPS], H5T_NATIVE_DOUBLE, x->temps, x->n_temps, &ns)) return -1;
        if ((int)ns != x->n_temps) return rd_fail(r, path, "attribute 'temps' length differs from the dataset");
        double *tk = NULL;
        hsize_t w3[1] = {3};
        if (ds_f64(r, FIELD(at, LF_TRANSFORM_KL), 1, w3, NULL, &tk)) return -1;
        memcpy(x->transform_kl, tk, sizeof x->transform_kl);
        free(tk);
    } else if (lens == LENS_PRISM) {
        F1(entropy_bits, LF_ENTROPY_BITS);
        F1(answer_logit, LF_ANSWER_LOGIT);
        F1(p_contrast, LF_P_CONTRAST);
        F1(kl_to_final_bits, LF_KL_TO_FINAL_BITS);
        F1(cos_to_final, LF_COS_TO_FINAL);
        F1(echo_mass_prompt, LF_ECHO_MASS_PROMPT);
        // not measured for Prism (OUTPUTS.md §4.1): NaN, so the row rules leave them empty
        double **none[] = {&x->kl_to_final_bits_norm_temp, &x->cos_to_answer, &x->cos_to_prompt_max,
                           &x->resid_norm_ratio, &x->delta_resid_cos};
        for (size_t k = 0; k < sizeof none / sizeof none[0]; k++) {
            *none[k] = xmalloc(sizeof(double) * L);
            for (hsize_t i = 0; i < L; i++) (*none[k])[i] = NAN;
        }
    } else if (lens == LENS_TUNED) {
        F1(entropy_bits, LF_ENTROPY_BITS);
        F1(answer_logit, LF_ANSWER_LOGIT);
        F1(p_contrast, LF_P_CONTRAST);
        F1(kl_to_final_bits, LF_KL_TO_FINAL_BITS);
        F1(cos_to_final, LF_COS_TO_FINAL);
        F1(cos_to_answer, LF_COS_TO_ANSWER);
        F1(cos_to_prompt_max, LF_COS_TO_PROMPT_MAX);
        F1(echo_mass_prompt, LF_ECHO_MASS_PROMPT);
        F1(kl_rot_only_bits, LF_KL_ROT_ONLY_BITS);
        F1(kl_temp_only_bits, LF_KL_TEMP_ONLY_BITS);
        I1(answer_rank_rot_only, LF_ANSWER_RANK_ROT_ONLY);
        I1(answer_rank_temp_only, LF_ANSWER_RANK_TEMP_ONLY);
        hsize_t w50[2] = {L, 50};
        if (ds_i32(r, FIELD(at, LF_RANKS_OF_NORM_TOP50), 2, w50, NULL, &x->ranks_of_norm_top50)) return -1;
        // not measured for the tuned lens (OUTPUTS.md §4.1): NaN
        double **none[] = {&x->kl_to_final_bits_norm_temp, &x->resid_norm_ratio, &x->delta_resid_cos};
        for (size_t k = 0; k < sizeof none / sizeof none[0]; k++) {
            *none[k] = xmalloc(sizeof(double) * L);
            for (hsize_t i = 0; i < L; i++) (*none[k])[i] = NAN;
        }
    } else if (lens == LENS_RAW) {
        F1(entropy_bits_pv, LF_ENTROPY_BITS_PV);
        F1(kl_norm_vs_raw_bits, LF_KL_NORM_VS_RAW_BITS);
        F1(kl_raw_to_norm_bits, LF_KL_RAW_TO_NORM_BITS);
        F1(js_divergence, LF_JS_DIVERGENCE);
        F1(l1_prob_diff, LF_L1_PROB_DIFF);
        hsize_t w50[2] = {L, 50};
        if (ds_i32(r, FIELD(at, LF_RANKS_OF_NORM_TOP50), 2, w50, NULL, &x->ranks_of_norm_top50)) return -1;
    }
#undef F1
#undef I1
    x->present = 1;
    return 0;
}

// The tuned lens of one pass (docs/HDF5.md `/lens/tuned`): all positions, NEXT, the §19.4 audit.
static int read_tuned(Rd *r, const ExRun *run, ExPass *p) {
    char path[400];
    LensAt all = {LENS_TUNED, LG_ALL, p->name}, next = {LENS_TUNED, LG_NEXT, p->name}, pos = {LENS_TUNED, LG_POSITIONS, p->name};
    hsize_t got[3], L = (hsize_t)run->n_layers + 1;
    hsize_t wLT[2] = {L, (hsize_t)p->T}, wLTk[3] = {L, (hsize_t)p->T, 0};
    if (ds_f64(r, FIELD(all, LF_ENTROPY_BITS), 2, wLT, NULL, &p->tuned_rec_entropy_bits)) return -1;
    if (ds_i32(r, FIELD(all, LF_TOPK_IDS), 3, wLTk, got, &p->tuned_rec_topk_ids)) return -1;
    p->tuned_rec_k = (int)got[2];
    hsize_t wLTk3[3] = {L, (hsize_t)p->T, (hsize_t)p->tuned_rec_k};
    if (ds_f64(r, FIELD(all, LF_TOPK_PROBS), 3, wLTk3, NULL, &p->tuned_rec_topk_probs)) return -1;
    if (read_next(r, run, LENS_TUNED, p, &p->tuned)) return -1;
    rf_group_path(path, sizeof path, next);
    if (attr_double(r, path, RF_FIELD[LF_TEACHER_ENTROPY_BITS], &p->tuned_teacher_entropy_bits) ||
        attr_double(r, path, RF_FIELD[LF_KL_BITS_TUNED_FINAL], &p->tuned_kl_bits_final) ||
        attr_double(r, path, RF_FIELD[LF_TAU_STAR_MODELCAL], &p->tuned_tau_star_modelcal) ||
        attr_double(r, path, RF_FIELD[LF_KL_BITS_TUNED_FINAL_AFTER_TAU_STAR], &p->tuned_kl_bits_final_after_tau_star))
        return -1;
    for (hsize_t i = 0; i < L * (hsize_t)p->T * p->tuned_rec_k; i++)
        if (p->tuned_rec_topk_ids[i] >= run->V || p->tuned_rec_topk_ids[i] < -1)
            return rd_fail(r, FIELD(all, LF_TOPK_IDS), "id outside the vocabulary");
    for (hsize_t i = 0; i < L * (hsize_t)p->tuned.K; i++)
        if (p->tuned.top_ids[i] >= run->V || p->tuned.top_ids[i] < -1)
            return rd_fail(r, FIELD(next, LF_TOP_IDS), "id outside the vocabulary");
    ExTunedPositions *q = &p->tuned_pos;
    if (ds_f64(r, FIELD(pos, LF_POS_FRAC), 1, NULL, got, &q->pos_frac)) return -1;
    q->P = (int)got[0];
    if (q->P < 1 || q->P > 8) return rd_fail(r, path, "not 1..8 grid positions (§19.4)");
    hsize_t wP[1] = {(hsize_t)q->P}, wLP[2] = {L, (hsize_t)q->P};
    if (ds_i32(r, FIELD(pos, LF_POS_INDEX), 1, wP, NULL, &q->pos_index)) return -1;
    for (int i = 0; i < q->P; i++)
        if (q->pos_index[i] < 0 || q->pos_index[i] >= p->T) return rd_fail(r, path, "position outside the pass");
#define P2F(field, f) do { if (ds_f64(r, FIELD(pos, f), 2, wLP, NULL, &q->field)) return -1; } while (0)
#define P2I(field, f) do { if (ds_i32(r, FIELD(pos, f), 2, wLP, NULL, &q->field)) return -1; } while (0)
    P2F(kl_norm_bits, LF_KL_NORM_BITS); P2F(kl_tuned_bits, LF_KL_TUNED_BITS);
    P2F(entropy_norm_bits, LF_ENTROPY_NORM_BITS); P2F(entropy_tuned_bits, LF_ENTROPY_TUNED_BITS);
    P2I(answer_rank_norm, LF_ANSWER_RANK_NORM); P2I(answer_rank_tuned, LF_ANSWER_RANK_TUNED);
#undef P2F
#undef P2I
    return 0;
}

static int read_pass(Rd *r, ExRun *run, ExPass *p) {
    char g[300], path[400];
    LensAt head = {LENS_NORM, LG_HEAD, p->name}, nall = {LENS_NORM, LG_ALL, p->name};
    rf_group_path(g, sizeof g, head);
    if (!link_exists(r->file, g)) return rd_fail(r, g, "missing group (listed in /prompts/order)");
    if (attr_str(r, g, RF_PROMPT_ID, &p->prompt_id) || attr_str(r, g, RF_PROMPT_VARIANT, &p->variant) ||
        attr_str(r, g, RF_FACT_KEY, &p->fact_key) || attr_int(r, g, RF_FACT_INDEX, &p->fact_index) ||
        attr_str(r, g, RF_TEXT, &p->text) || attr_str(r, g, RF_ANSWER, &p->answer) ||
        attr_int(r, g, RF_ALIGN_OK, &p->align_ok) || attr_str(r, g, RF_ALIGN_STATUS, &p->align_status) ||
        attr_str(r, g, RF_ALIGN_VARIANT, &p->align_variant) ||
        attr_int_array(r, g, RF_ANSWER_IDS, &p->answer_ids, &p->n_answer_ids) ||
        attr_int(r, g, RF_FIRST_ID, &p->first_id) ||
        attr_double(r, g, RF_FIELD[LF_TEACHER_ENTROPY_BITS], &p->teacher_entropy_bits))
        return -1;
    p->contrast_id = -1;
    if (!strcmp(p->prompt_id, RF_PROMPT_ID_CONTROL)) {
        if (attr_int(r, g, RF_CONTRAST_ID, &p->contrast_id) || attr_str(r, g, RF_CONTRAST_ANSWER, &p->contrast_answer))
            return -1;
    }
    hsize_t got[3];
    rf_prompt_path(path, sizeof path, p->name, RF_PROMPT_IDS);
    if (ds_i32(r, path, 1, NULL, got, &p->ids)) return -1;
    p->T = (int)got[0];
    if (p->T < 1) return rd_fail(r, path, "empty forward sequence");
    rf_prompt_path(path, sizeof path, p->name, RF_PROMPT_CTX_IDS);
    if (ds_i32(r, path, 1, NULL, got, &p->ctx_ids)) return -1;
    p->Tc = (int)got[0];
    hsize_t wT[1] = {(hsize_t)p->T}, wT2[2] = {(hsize_t)p->T, 0};
    if (ds_f64(r, FIELD(head, LF_FINAL_ENTROPY_BITS), 1, wT, NULL, &p->final_entropy_bits)) return -1;
    if (ds_i32(r, FIELD(head, LF_FINAL_TOPK_IDS), 2, wT2, got, &p->final_topk_ids)) return -1;
    p->final_k = (int)got[1];
    hsize_t wTk[2] = {(hsize_t)p->T, (hsize_t)p->final_k};
    if (ds_f64(r, FIELD(head, LF_FINAL_TOPK_PROBS), 2, wTk, NULL, &p->final_topk_probs)) return -1;
    // final_p_answer: files written before it have none (export falls back, export_tuned.c)
    p->has_final_p_answer = H5Aexists_by_name(r->file, g, RF_FIELD[LF_FINAL_P_ANSWER], H5P_DEFAULT) > 0;
    p->final_p_answer = NAN;
    if (p->has_final_p_answer && attr_double(r, g, RF_FIELD[LF_FINAL_P_ANSWER], &p->final_p_answer)) return -1;

    hsize_t L = (hsize_t)run->n_layers + 1;
    hsize_t wLT[2] = {L, (hsize_t)p->T}, wLTk[3] = {L, (hsize_t)p->T, 0};
    rf_prompt_path(path, sizeof path, p->name, RF_PROMPT_RESID_NONFINITE);
    if (link_exists(r->file, path) && ds_i32(r, path, 2, wLT, NULL, &p->resid_nonfinite)) return -1;
    if (ds_f64(r, FIELD(nall, LF_ENTROPY_BITS), 2, wLT, NULL, &p->rec_entropy_bits)) return -1;
    if (ds_i32(r, FIELD(nall, LF_TOPK_IDS), 3, wLTk, got, &p->rec_topk_ids)) return -1;
    p->rec_k = (int)got[2];
    hsize_t wLTk2[3] = {L, (hsize_t)p->T, (hsize_t)p->rec_k};
    if (ds_f64(r, FIELD(nall, LF_TOPK_PROBS), 3, wLTk2, NULL, &p->rec_topk_probs)) return -1;

    if (read_next(r, run, LENS_NORM, p, &p->norm)) return -1;
    rf_group_path(path, sizeof path, (LensAt){LENS_RAW, LG_LENS, NULL});
    if (link_exists(r->file, path)) { // the raw lens is optional (lenses: [norm])
        if (read_next(r, run, LENS_RAW, p, &p->raw)) return -1;
    } else memset(&p->raw, 0, sizeof p->raw);
    if (read_next(r, run, LENS_POST_LN2, p, &p->post_ln2)) return -1;
    if (run->has_prism) { // the Prism lens (docs/HDF5.md): all positions and NEXT
        LensAt all = {LENS_PRISM, LG_ALL, p->name}, next = {LENS_PRISM, LG_NEXT, p->name};
        if (ds_f64(r, FIELD(all, LF_ENTROPY_BITS), 2, wLT, NULL, &p->prism_rec_entropy_bits)) return -1;
        if (ds_i32(r, FIELD(all, LF_TOPK_IDS), 3, wLTk, got, &p->prism_rec_topk_ids)) return -1;
        p->prism_rec_k = (int)got[2];
        hsize_t wLTk3[3] = {L, (hsize_t)p->T, (hsize_t)p->prism_rec_k};
        if (ds_f64(r, FIELD(all, LF_TOPK_PROBS), 3, wLTk3, NULL, &p->prism_rec_topk_probs)) return -1;
        if (read_next(r, run, LENS_PRISM, p, &p->prism)) return -1;
        rf_group_path(path, sizeof path, next);
        if (attr_double(r, path, RF_FIELD[LF_TEACHER_ENTROPY_BITS], &p->prism_teacher_entropy_bits)) return -1;
        for (hsize_t i = 0; i < L * (hsize_t)p->T * p->prism_rec_k; i++)
            if (p->prism_rec_topk_ids[i] >= run->V || p->prism_rec_topk_ids[i] < -1)
                return rd_fail(r, FIELD(all, LF_TOPK_IDS), "id outside the vocabulary");
        for (hsize_t i = 0; i < L * (hsize_t)p->prism.K; i++)
            if (p->prism.top_ids[i] >= run->V || p->prism.top_ids[i] < -1)
                return rd_fail(r, FIELD(next, LF_TOP_IDS), "id outside the vocabulary");
    }
    if (run->has_tuned && read_tuned(r, run, p)) return -1;
    // ids must be inside the vocabulary (they index /vocab/decoded)
    for (int i = 0; i < p->T; i++)
        if (p->ids[i] < 0 || p->ids[i] >= run->V) { rf_prompt_path(path, sizeof path, p->name, RF_PROMPT_IDS); return rd_fail(r, path, "id outside the vocabulary"); }
    for (int i = 0; i < p->Tc; i++)
        if (p->ctx_ids[i] < 0 || p->ctx_ids[i] >= run->V) { rf_prompt_path(path, sizeof path, p->name, RF_PROMPT_CTX_IDS); return rd_fail(r, path, "id outside the vocabulary"); }
    ExNext *xs[3] = {&p->norm, &p->raw, &p->post_ln2};
    static const LensKind xk[3] = {LENS_NORM, LENS_RAW, LENS_POST_LN2};
    for (int k = 0; k < 3; k++)
        for (hsize_t i = 0; xs[k]->present && i < L * (hsize_t)xs[k]->K; i++)
            if (xs[k]->top_ids[i] >= run->V || xs[k]->top_ids[i] < -1)
                return rd_fail(r, FIELD(((LensAt){xk[k], LG_NEXT, p->name}), LF_TOP_IDS), "id outside the vocabulary");
    for (hsize_t i = 0; i < L * (hsize_t)p->T * p->rec_k; i++)
        if (p->rec_topk_ids[i] >= run->V || p->rec_topk_ids[i] < -1)
            return rd_fail(r, FIELD(nall, LF_TOPK_IDS), "id outside the vocabulary");
    if (p->first_id >= run->V) { snprintf(path, sizeof path, "%s: attribute '%s'", g, RF_FIRST_ID); return rd_fail(r, path, "outside the vocabulary"); }
    return 0;
}

// ---------------------------------------------------------------------------- battery

static int read_battery_table(Rd *r, const ExRun *run, const ExBattery *b, const char *base, ExBatteryTable *t) {
    char path[300];
    hsize_t N = (hsize_t)b->N, L = (hsize_t)run->n_layers + 1, w1[1] = {N}, w2[2] = {N, L}, w3[3] = {N, L, (hsize_t)b->K};
#define BF(field, name, nd, w) do { snprintf(path, sizeof path, "%s/%s", base, name); \
        if (ds_f64(r, path, nd, w, NULL, &t->field)) return -1; } while (0)
#define BI(field, name, nd, w) do { snprintf(path, sizeof path, "%s/%s", base, name); \
        if (ds_i32(r, path, nd, w, NULL, &t->field)) return -1; } while (0)
    BF(entropy_bits, RF_BT_ENTROPY_BITS, 2, w2);
    BF(kl_to_final_bits, RF_BT_KL_TO_FINAL_BITS, 2, w2);
    BF(p_answer, RF_BT_P_ANSWER, 2, w2);
    BF(p_answer_any, RF_BT_P_ANSWER_ANY, 2, w2);
    BF(answer_logit, RF_BT_ANSWER_LOGIT, 2, w2);
    BI(answer_rank, RF_BT_ANSWER_RANK, 2, w2);
    BI(answer_best, RF_BT_ANSWER_BEST, 2, w2);
    BI(top_ids, RF_BT_TOP_IDS, 3, w3);
    BF(top_probs, RF_BT_TOP_PROBS, 3, w3);
    BF(teacher_entropy_bits, RF_BT_TEACHER_ENTROPY_BITS, 1, w1);
    BF(final_top1_prob, RF_BT_FINAL_TOP1_PROB, 1, w1);
    BI(final_top1, RF_BT_FINAL_TOP1, 1, w1);
    BI(first_rank1, RF_BT_FIRST_RANK1, 1, w1);
#undef BF
#undef BI
    for (size_t i = 0; i < (size_t)N * L * b->K; i++)
        if (t->top_ids[i] >= run->V) { snprintf(path, sizeof path, "%s/%s", base, RF_BT_TOP_IDS); return rd_fail(r, path, "id outside the vocabulary"); }
    for (size_t i = 0; i < (size_t)N; i++)
        if (t->final_top1[i] >= run->V) { snprintf(path, sizeof path, "%s/%s", base, RF_BT_FINAL_TOP1); return rd_fail(r, path, "id outside the vocabulary"); }
    for (size_t i = 0; i < (size_t)N * L; i++) {
        int a = t->answer_best[i], item = (int)(i / L);
        if (a >= b->answer_offsets[item + 1] - b->answer_offsets[item]) {
            snprintf(path, sizeof path, "%s/%s", base, RF_BT_ANSWER_BEST);
            return rd_fail(r, path, "names an answer the item does not have");
        }
    }
    return 0;
}

// /battery/positions: rows that agree with the items' lengths and the option's value.
static int read_battery_positions(Rd *r, const ExRun *run, ExBattery *b) {
    const char *g = RF_BATTERY_POSITIONS;
    if (attr_int(r, g, RF_BP_K, &b->pos_k) || attr_int(r, g, RF_BP_TOPK, &b->pos_K)) return -1;
    if (b->pos_k < 0 || b->pos_k == 1) return rd_fail(r, RF_BATTERY_POSITIONS ": attribute '" RF_BP_K "'", "out of range (0 or at least 2)");
    if (b->pos_K < 1 || b->pos_K > 1000) return rd_fail(r, RF_BATTERY_POSITIONS ": attribute '" RF_BP_TOPK "'", "out of range (1..1000)");
    hsize_t wo[1] = {(hsize_t)b->N + 1};
    if (ds_i32(r, RF_BATTERY_POSITIONS_OFFSETS, 1, wo, NULL, &b->pos_off)) return -1;
    for (int i = 0; i < b->N; i++) {
        int want = b->pos_k == 0 || b->pos_k >= b->T[i] ? b->T[i] : b->pos_k;
        if (b->pos_off[0] != 0 || b->pos_off[i + 1] - b->pos_off[i] != want)
            return rd_fail(r, RF_BATTERY_POSITIONS_OFFSETS, "does not give each item its last battery_positions positions");
    }
    hsize_t P = (hsize_t)b->pos_off[b->N], L = (hsize_t)run->n_layers + 1, w1[1] = {P}, w2[2] = {P, L},
            w3[3] = {P, L, (hsize_t)b->pos_K};
    if (ds_i32(r, RF_BATTERY_POSITIONS_ITEM, 1, w1, NULL, &b->pos_item) || ds_i32(r, RF_BATTERY_POSITIONS_POS, 1, w1, NULL, &b->pos_pos) ||
        ds_f64(r, RF_BATTERY_POSITIONS_ENTROPY_BITS, 2, w2, NULL, &b->pos_entropy_bits) ||
        ds_i32(r, RF_BATTERY_POSITIONS_TOP_IDS, 3, w3, NULL, &b->pos_top_ids) ||
        ds_f64(r, RF_BATTERY_POSITIONS_TOP_PROBS, 3, w3, NULL, &b->pos_top_probs))
        return -1;
    for (int i = 0; i < b->N; i++)
        for (int q = b->pos_off[i]; q < b->pos_off[i + 1]; q++) {
            if (b->pos_item[q] != i) return rd_fail(r, RF_BATTERY_POSITIONS_ITEM, "does not follow the offsets");
            if (b->pos_pos[q] != b->T[i] - (b->pos_off[i + 1] - q)) return rd_fail(r, RF_BATTERY_POSITIONS_POS, "not the item's last positions in order");
        }
    for (size_t i = 0; i < (size_t)P * L * b->pos_K; i++)
        if (b->pos_top_ids[i] >= run->V || b->pos_top_ids[i] < -1) return rd_fail(r, RF_BATTERY_POSITIONS_TOP_IDS, "id outside the vocabulary");
    hsize_t wi[1] = {(hsize_t)b->seq_off[b->N]};
    if (ds_i32(r, RF_BATTERY_ITEMS_IDS, 1, wi, NULL, &b->seq_ids)) return -1;
    for (int i = 0; i < b->seq_off[b->N]; i++)
        if (b->seq_ids[i] < 0 || b->seq_ids[i] >= run->V) return rd_fail(r, RF_BATTERY_ITEMS_IDS, "id outside the vocabulary");
    b->has_positions = 1;
    return 0;
}

static int read_battery(Rd *r, ExRun *run) {
    ExBattery *b = run->battery = xcalloc(1, sizeof *b);
    const char *g = RF_BATTERY;
    if (attr_str(r, g, RF_BATTERY_NAME, &b->name) || attr_str(r, g, RF_BATTERY_SOURCE, &b->source) || attr_str(r, g, RF_BATTERY_FORMAT, &b->format) ||
        attr_str(r, g, RF_BATTERY_ANSWER_RULE, &b->answer_rule) || attr_str(r, g, RF_BATTERY_CONTENT_HASH, &b->content_hash) ||
        attr_int(r, g, RF_BATTERY_N_ITEMS, &b->N) || attr_int(r, g, RF_BATTERY_TOPK, &b->K) || attr_int(r, g, RF_BATTERY_HAS_CONTROL, &b->has_control) ||
        attr_int(r, g, RF_BATTERY_N_SKIPPED, &b->n_skipped))
        return -1;
    if (b->N < 1) return rd_fail(r, RF_BATTERY ": attribute '" RF_BATTERY_N_ITEMS "'", "out of range (at least 1)");
    if (b->K < 1 || b->K > 1000) return rd_fail(r, RF_BATTERY ": attribute '" RF_BATTERY_TOPK "'", "out of range (1..1000)");
    if (b->n_skipped < 0) return rd_fail(r, RF_BATTERY ": attribute '" RF_BATTERY_N_SKIPPED "'", "negative");
    long n = 0;
    hsize_t w1[1] = {(hsize_t)b->N}, wo[1] = {(hsize_t)b->N + 1}, got[1];
    if (ds_strs(r, RF_BATTERY_ITEMS_ID, b->N, &n, &b->ids) || ds_strs(r, RF_BATTERY_ITEMS_GROUP, b->N, &n, &b->groups) ||
        ds_strs(r, RF_BATTERY_ITEMS_PROMPT, b->N, &n, &b->prompts) ||
        ds_strs(r, RF_BATTERY_ITEMS_CONTROL, b->N, &n, &b->controls) ||
        ds_i32(r, RF_BATTERY_ITEMS_LINE, 1, w1, NULL, &b->line) ||
        ds_i32(r, RF_BATTERY_ITEMS_ANSWER_OFFSETS, 1, wo, NULL, &b->answer_offsets))
        return -1;
    int *ioff = NULL;
    if (ds_i32(r, RF_BATTERY_ITEMS_IDS_OFFSETS, 1, wo, NULL, &ioff)) return -1;
    b->T = xmalloc(sizeof(int) * b->N);
    for (int i = 0; i < b->N; i++) b->T[i] = ioff[i + 1] - ioff[i];
    int bad_off = ioff[0] != 0;
    for (int i = 0; i < b->N; i++) bad_off |= b->T[i] < 1;
    b->seq_off = ioff;
    if (bad_off) return rd_fail(r, RF_BATTERY_ITEMS_IDS_OFFSETS, "not increasing from 0 (every prompt has ids)");
    int na = b->answer_offsets[b->N];
    for (int i = 0; i < b->N; i++)
        if (b->answer_offsets[i] < 0 || b->answer_offsets[i + 1] <= b->answer_offsets[i] || b->answer_offsets[0] != 0)
            return rd_fail(r, RF_BATTERY_ITEMS_ANSWER_OFFSETS, "not increasing from 0 (every item has an answer)");
    hsize_t wa[1] = {(hsize_t)na};
    if (ds_strs(r, RF_BATTERY_ITEMS_ANSWERS, na, &n, &b->answers) ||
        ds_i32(r, RF_BATTERY_ITEMS_ANSWER_FIRST_IDS, 1, wa, got, &b->answer_first_ids))
        return -1;
    for (int i = 0; i < na; i++)
        if (b->answer_first_ids[i] < 0 || b->answer_first_ids[i] >= run->V)
            return rd_fail(r, RF_BATTERY_ITEMS_ANSWER_FIRST_IDS, "id outside the vocabulary");
    hsize_t ws[1] = {(hsize_t)b->n_skipped};
    if (ds_strs(r, RF_BATTERY_SKIPPED_ID, b->n_skipped, &n, &b->skipped_ids) ||
        ds_strs(r, RF_BATTERY_SKIPPED_REASON, b->n_skipped, &n, &b->skipped_reasons) ||
        ds_i32(r, RF_BATTERY_SKIPPED_LINE, 1, ws, NULL, &b->skipped_lines))
        return -1;
    if (read_battery_table(r, run, b, RF_BATTERY_NEXT, &b->next)) return -1;
    if (b->has_control && read_battery_table(r, run, b, RF_BATTERY_CONTROL, &b->control)) return -1;
    if (link_exists(r->file, RF_BATTERY_POSITIONS) && read_battery_positions(r, run, b)) return -1;
    return 0;
}

static void battery_table_free(ExBatteryTable *t) {
    void *ptrs[] = {t->entropy_bits, t->kl_to_final_bits, t->p_answer, t->p_answer_any, t->answer_logit, t->answer_rank,
                    t->answer_best, t->top_ids, t->top_probs, t->teacher_entropy_bits, t->final_top1_prob, t->final_top1,
                    t->first_rank1};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
}

static void strs_free(char **v, int n) {
    if (v) for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void battery_free_ex(ExBattery *b) {
    if (!b) return;
    int na = b->answer_offsets ? b->answer_offsets[b->N] : 0;
    free(b->name); free(b->source); free(b->format); free(b->answer_rule); free(b->content_hash);
    strs_free(b->ids, b->ids ? b->N : 0); strs_free(b->groups, b->groups ? b->N : 0);
    strs_free(b->prompts, b->prompts ? b->N : 0); strs_free(b->controls, b->controls ? b->N : 0);
    strs_free(b->answers, b->answers ? na : 0);
    strs_free(b->skipped_ids, b->skipped_ids ? b->n_skipped : 0);
    strs_free(b->skipped_reasons, b->skipped_reasons ? b->n_skipped : 0);
    free(b->line); free(b->T); free(b->answer_offsets); free(b->answer_first_ids); free(b->skipped_lines);
    battery_table_free(&b->next);
    battery_table_free(&b->control);
    free(b->pos_off); free(b->pos_item); free(b->pos_pos); free(b->pos_entropy_bits); free(b->pos_top_ids);
    free(b->pos_top_probs); free(b->seq_ids); free(b->seq_off);
    free(b);
}

static int read_all(Rd *r, ExRun *run) {
    char *schema = NULL;
    if (attr_str(r, RF_ROOT, RF_SCHEMA, &schema)) return -1;
    int bad = strcmp(schema, RF_SCHEMA_NAME) != 0;
    free(schema);
    if (bad) return rd_fail(r, "attribute '" RF_SCHEMA "'", "is not \"" RF_SCHEMA_NAME "\"");
    long ver = 0;
    if (attr_long(r, RF_ROOT, RF_SCHEMA_VERSION, &ver)) return -1;
    if (ver != 1 && ver != EX_SCHEMA_VERSION)
        return lw_err(r->err, "this lensweep reads schemas 1 and 2; export with the lensweep version that wrote the file",
                      "%s: attribute '" RF_SCHEMA_VERSION "': is %ld, this build reads 1 and %d", r->path, ver, EX_SCHEMA_VERSION);
    if (ver == 1) run->run_kind = xstrdup(RF_RUN_KIND_REFERENCE);
    else if (H5Aexists(r->file, RF_RUN_KIND) <= 0)
        return lw_err(r->err, HINT_SCHEMA, "%s: attribute '" RF_RUN_KIND "': missing (schema_version 2 names the kind of run)", r->path);
    else if (attr_str(r, RF_ROOT, RF_RUN_KIND, &run->run_kind)) return -1;
    else if (strcmp(run->run_kind, RF_RUN_KIND_REFERENCE) && strcmp(run->run_kind, RF_RUN_KIND_BATTERY))
        return rd_fail(r, "attribute '" RF_RUN_KIND "'", "neither \"" RF_RUN_KIND_REFERENCE "\" nor \"" RF_RUN_KIND_BATTERY "\"");
    long complete = 0;
    if (H5Aexists(r->file, RF_COMPLETE) <= 0 || attr_long(r, RF_ROOT, RF_COMPLETE, &complete))
        return lw_err(r->err, "the run did not finish (killed or failed); re-run `lensweep run` for this model",
                      "%s: attribute '" RF_COMPLETE "': missing (unfinished run)", r->path);
    if (complete != 1)
        return lw_err(r->err, "the run did not finish (killed or failed); re-run `lensweep run` for this model",
                      "%s: attribute '" RF_COMPLETE "': is %ld, not 1 (unfinished run)", r->path, complete);
    if (attr_str(r, RF_ROOT, RF_MODEL_NAME, &run->model_name) || attr_str(r, RF_ROOT, RF_MODEL_ID, &run->model_id) ||
        attr_str(r, RF_ROOT, RF_MODEL_PATH, &run->model_path) || attr_str(r, RF_ROOT, RF_FAMILY, &run->family) ||
        attr_str(r, RF_ROOT, RF_ARCHITECTURE, &run->architecture) || attr_str(r, RF_ROOT, RF_NORM_TYPE, &run->norm_type) ||
        attr_str(r, RF_ROOT, RF_WEIGHTS_DTYPE, &run->weights_dtype) ||
        attr_str(r, RF_ROOT, RF_COMPUTE_DTYPE, &run->compute_dtype) || attr_str(r, RF_ROOT, RF_BACKEND, &run->backend) ||
        attr_str(r, RF_ROOT, RF_DEVICE, &run->device) || attr_str(r, RF_ROOT, RF_CONFIG_YAML, &run->config_yaml) ||
        attr_str(r, RF_ROOT, RF_CONFIG_HASH, &run->config_hash) ||
        attr_str(r, RF_ROOT, RF_LENSWEEP_VERSION, &run->lensweep_version) ||
        attr_str(r, RF_ROOT, RF_LENSWEEP_GIT, &run->lensweep_git) || attr_str(r, RF_ROOT, RF_START_TIME, &run->start_time) ||
        attr_str(r, RF_ROOT, RF_END_TIME, &run->end_time) || attr_long(r, RF_ROOT, RF_N_LAYERS, &run->n_layers) ||
        attr_long(r, RF_ROOT, RF_D_MODEL, &run->d_model) || attr_long(r, RF_ROOT, RF_N_HEADS, &run->n_heads) ||
        attr_long(r, RF_ROOT, RF_N_KV_HEADS, &run->n_kv_heads) || attr_long(r, RF_ROOT, RF_HEAD_DIM, &run->head_dim) ||
        attr_long(r, RF_ROOT, RF_D_FF, &run->d_ff) || attr_long(r, RF_ROOT, RF_VOCAB, &run->vocab) ||
        attr_long(r, RF_ROOT, RF_N_CTX, &run->n_ctx) || attr_long(r, RF_ROOT, RF_TOKENIZER_N_IDS, &run->tokenizer_n_ids) ||
        attr_long(r, RF_ROOT, RF_BOS_ID, &run->bos_id) || attr_long(r, RF_ROOT, RF_TP_SIZE, &run->tp_size) ||
        attr_double(r, RF_ROOT, RF_FINAL_SOFTCAP, &run->final_softcap) ||
        attr_double(r, RF_ROOT, RF_WALL_SECONDS, &run->wall_seconds))
        return -1;
    if (run->n_layers < 1 || run->n_layers > 4000) return rd_fail(r, "attribute '" RF_N_LAYERS "'", "out of range (1..4000)");
    if (run->vocab < 2) return rd_fail(r, "attribute '" RF_VOCAB "'", "out of range");
    if (ds_strs(r, RF_VOCAB_DECODED, run->vocab, &run->V, &run->decoded)) return -1;
    long nv = 0;
    if (ds_strs(r, RF_VOCAB_PIECES, run->vocab, &nv, &run->pieces)) return -1;

    if (!strcmp(run->run_kind, RF_RUN_KIND_BATTERY)) return read_battery(r, run);

    char g[64];
    rf_group_path(g, sizeof g, (LensAt){LENS_PRISM, LG_LENS, NULL});
    if (link_exists(r->file, g)) { // a run with a Prism artifact (docs/HDF5.md)
        run->has_prism = 1;
        if (attr_str(r, g, RF_FIELD[LF_ARTIFACT_PATH], &run->prism_artifact_path) ||
            attr_str(r, g, RF_FIELD[LF_LAYERS], &run->prism_layers) || attr_long(r, g, RF_FIELD[LF_K], &run->prism_k))
            return -1;
    }
    LensAt tuned = {LENS_TUNED, LG_LENS, NULL};
    rf_group_path(g, sizeof g, tuned);
    if (link_exists(r->file, g)) { // a run with a tuned-lens artifact (docs/HDF5.md)
        run->has_tuned = 1;
        hsize_t wL[1] = {(hsize_t)run->n_layers + 1};
        char path[64];
        if (attr_str(r, g, RF_FIELD[LF_ARTIFACT_PATH], &run->tuned_artifact_path) ||
            attr_str(r, g, RF_FIELD[LF_CONFIG_SHA256], &run->tuned_config_sha256) ||
            attr_long(r, g, RF_FIELD[LF_K], &run->tuned_k) || ds_f64(r, FIELD(tuned, LF_TAU), 1, wL, NULL, &run->tuned_tau))
            return -1;
    }
    long np = 0;
    char **order = NULL;
    if (ds_strs(r, RF_PROMPTS_ORDER, -1, &np, &order)) return -1;
    if (np < 1) return rd_fail(r, RF_PROMPTS_ORDER, "empty");
    run->n_passes = (int)np;
    run->passes = xcalloc(np, sizeof(ExPass));
    for (long i = 0; i < np; i++) run->passes[i].name = order[i];
    free(order);
    if (strcmp(run->passes[0].name, RF_PASS_PRIMARY))
        return rd_fail(r, RF_PROMPTS_ORDER, "the first pass is not " RF_PASS_PRIMARY " (the primary prompt)");
    for (int i = 0; i < run->n_passes; i++)
        if (read_pass(r, run, &run->passes[i])) return -1;

    hsize_t got[2], L = (hsize_t)run->n_layers + 1, wL[1] = {L};
    if (ds_f64(r, RF_CALIBRATION_TAU_GRID, 1, NULL, got, &run->tau_grid)) return -1;
    run->n_tau = (int)got[0];
    if (ds_f64(r, RF_CALIBRATION_TAU_NORM, 1, wL, NULL, &run->tau_norm)) return -1;

    long nt = 0;
    if (ds_strs(r, RF_AUX_TEST_PROMPTS_TEXT, -1, &nt, &run->test_text)) return -1;
    run->n_test = (int)nt;
    hsize_t wn[1] = {(hsize_t)nt}, wn2[2] = {(hsize_t)nt, 0};
    if (ds_f64(r, RF_AUX_TEST_PROMPTS_ENTROPY_BITS, 1, wn, NULL, &run->test_entropy)) return -1;
    if (ds_i32(r, RF_AUX_TEST_PROMPTS_TOPK_IDS, 2, wn2, got, &run->test_ids)) return -1;
    run->test_k = (int)got[1];
    hsize_t wnk[2] = {(hsize_t)nt, (hsize_t)run->test_k};
    if (ds_f64(r, RF_AUX_TEST_PROMPTS_TOPK_PROBS, 2, wnk, NULL, &run->test_probs)) return -1;
    if (ds_f64(r, RF_AUX_TEMPERATURE_TEMPS, 1, NULL, got, &run->temp_values)) return -1;
    run->n_temp = (int)got[0];
    hsize_t wm[1] = {got[0]}, wm2[2] = {got[0], 0};
    if (ds_f64(r, RF_AUX_TEMPERATURE_ENTROPY_BITS, 1, wm, NULL, &run->temp_entropy)) return -1;
    if (ds_i32(r, RF_AUX_TEMPERATURE_TOPK_IDS, 2, wm2, got, &run->temp_ids)) return -1;
    run->temp_k = (int)got[1];
    hsize_t wmk[2] = {(hsize_t)run->n_temp, (hsize_t)run->temp_k};
    if (ds_f64(r, RF_AUX_TEMPERATURE_TOPK_PROBS, 2, wmk, NULL, &run->temp_probs)) return -1;
    for (long i = 0; i < nt * run->test_k; i++)
        if (run->test_ids[i] >= run->V) return rd_fail(r, RF_AUX_TEST_PROMPTS_TOPK_IDS, "id outside the vocabulary");
    for (long i = 0; i < (long)run->n_temp * run->temp_k; i++)
        if (run->temp_ids[i] >= run->V) return rd_fail(r, RF_AUX_TEMPERATURE_TOPK_IDS, "id outside the vocabulary");
    return 0;
}

int ex_run_read(const char *path, ExRun *run, LwError *err) {
    memset(run, 0, sizeof *run);
    run->path = xstrdup(path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!lw_file_exists(path))
        return lw_err(err, "give the <out>/<model>.h5 file written by `lensweep run`", "%s: no such file", path);
    if (ex_run_unfinished(path, NULL, 0, err)) return -1;
    // the checksum first: libhdf5 never parses a file whose bytes changed after it was written
    char why[300];
    int sealed = runfile_verify(path, why, sizeof why);
    if (sealed == -1) return lw_err(err, HINT_CORRUPT, "%s: corrupt: %s", path, why);
    if (sealed == -2) return lw_err(err, "check the file's permissions", "%s: cannot read: %s", path, why);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0)
        return lw_err(err, "give the <out>/<model>.h5 file written by `lensweep run`", "%s: not an HDF5 file", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return lw_err(err, "the file is truncated or corrupt (or unreadable: check its permissions); re-run `lensweep run`",
                      "%s: cannot open as HDF5", path);
    if (sealed == 0 && H5Aexists(f, RF_INTEGRITY) > 0) { // written with a trailer that is gone now
        H5Fclose(f);
        return lw_err(err, HINT_CORRUPT, "%s: corrupt: its checksum trailer is missing or damaged (root attribute 'integrity' says it was written)", path);
    }
    Rd r = {f, path, err};
    int rc = read_all(&r, run);
    H5Fclose(f);
    return rc;
}

// <target>.h5.tmp.<digits>: the name `lensweep run` writes under (runfile/h5.h).
static const char *tmp_suffix(const char *path) {
    const char *t = strstr(path, ".h5.tmp.");
    while (t) {
        const char *d = t + 8;
        if (*d) {
            while (*d >= '0' && *d <= '9') d++;
            if (!*d) return t + 3;
        }
        t = strstr(t + 1, ".h5.tmp.");
    }
    return NULL;
}

int ex_run_unfinished(const char *path, char *what, size_t len, LwError *err) {
    const char *suffix = tmp_suffix(path);
    if (!suffix) return 0;
    char *target = strndup(path, (size_t)(suffix - path));
    char holder[400];
    int live = 0;
    target_lock_holder(target, holder, sizeof holder, &live);
    char buf[600];
    if (live) snprintf(buf, sizeof buf, "still being written (%s)", holder);
    else if (!lw_file_exists(path)) snprintf(buf, sizeof buf, "its run has just finished: give %s", target);
    else snprintf(buf, sizeof buf, "its run was interrupted (killed or failed) and will not finish it");
    if (what) snprintf(what, len, "%s", buf);
    lw_err(err, live ? "export the finished <name>.h5 once the run completes" : "re-run `lensweep run` for this model; the next run into this directory removes the file",
           "%s: an unfinished run's temporary file: %s", path, buf);
    free(target);
    return -1;
}

int ex_run_pass(const ExRun *run, const char *name) {
    for (int i = 0; i < run->n_passes; i++)
        if (!strcmp(run->passes[i].name, name)) return i;
    return -1;
}

static void next_free(ExNext *x) {
    void *ptrs[] = {x->top_ids, x->top_probs, x->top_logits, x->entropy_bits, x->entropy_bits_pv, x->p_answer,
                    x->answer_logit, x->p_contrast, x->answer_rank, x->kl_to_final_bits,
                    x->kl_to_final_bits_norm_temp, x->cos_to_final, x->cos_to_answer, x->cos_to_prompt_max,
                    x->echo_mass_prompt, x->resid_norm_ratio, x->delta_resid_cos, x->raw_resid_norm,
                    x->max_abs_logit, x->min_prob, x->nonfinite, x->scales, x->scaled_p_answer,
                    x->repeat_rank_dev, x->repeat_top1_flip, x->temps, x->last_temp_kl,
                    x->kl_norm_vs_raw_bits, x->kl_raw_to_norm_bits, x->js_divergence, x->l1_prob_diff,
                    x->ranks_of_norm_top50, x->kl_rot_only_bits, x->kl_temp_only_bits, x->answer_rank_rot_only,
                    x->answer_rank_temp_only};
    for (size_t i = 0; i < sizeof ptrs / sizeof ptrs[0]; i++) free(ptrs[i]);
}

void ex_run_free(ExRun *run) {
    for (int i = 0; i < run->n_passes; i++) {
        ExPass *p = &run->passes[i];
        void *ptrs[] = {p->name, p->prompt_id, p->variant, p->fact_key, p->text, p->answer, p->align_status,
                        p->align_variant, p->answer_ids, p->contrast_answer, p->ids, p->ctx_ids,
                        p->final_entropy_bits, p->final_topk_ids, p->final_topk_probs, p->resid_nonfinite, p->rec_entropy_bits,
                        p->rec_topk_ids, p->rec_topk_probs, p->prism_rec_entropy_bits, p->prism_rec_topk_ids,
                        p->prism_rec_topk_probs, p->tuned_rec_entropy_bits, p->tuned_rec_topk_ids,
                        p->tuned_rec_topk_probs, p->tuned_pos.pos_frac, p->tuned_pos.pos_index,
                        p->tuned_pos.kl_norm_bits, p->tuned_pos.kl_tuned_bits, p->tuned_pos.entropy_norm_bits,
                        p->tuned_pos.entropy_tuned_bits, p->tuned_pos.answer_rank_norm, p->tuned_pos.answer_rank_tuned};
        for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++) free(ptrs[k]);
        next_free(&p->norm); next_free(&p->raw); next_free(&p->post_ln2); next_free(&p->prism); next_free(&p->tuned);
    }
    free(run->passes);
    battery_free_ex(run->battery);
    free(run->run_kind);
    if (run->decoded) for (long i = 0; i < run->V; i++) free(run->decoded[i]);
    if (run->pieces) for (long i = 0; i < run->V; i++) free(run->pieces[i]);
    free(run->decoded); free(run->pieces);
    if (run->test_text) for (int i = 0; i < run->n_test; i++) free(run->test_text[i]);
    void *ptrs[] = {run->path, run->model_name, run->model_id, run->model_path, run->family, run->architecture,
                    run->norm_type, run->weights_dtype, run->compute_dtype, run->backend, run->device,
                    run->config_yaml, run->config_hash, run->lensweep_version, run->lensweep_git,
                    run->start_time, run->end_time, run->tau_grid, run->tau_norm, run->test_text,
                    run->test_entropy, run->test_ids, run->test_probs, run->temp_values, run->temp_entropy,
                    run->temp_ids, run->temp_probs, run->prism_artifact_path, run->prism_layers,
                    run->tuned_artifact_path, run->tuned_config_sha256, run->tuned_tau};
    for (size_t k = 0; k < sizeof ptrs / sizeof ptrs[0]; k++) free(ptrs[k]);
    memset(run, 0, sizeof *run);
}

// ---------------------------------------------------------------------------- a file's state (report)

int ex_run_state(const char *path, char *msg, size_t msg_len) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // a corrupt file is an expected case: no HDF5 stack dump
    int state = -1;
    char why[300];
    int sealed = runfile_verify(path, why, sizeof why); // before libhdf5 parses a byte (io/checksum.h)
    if (sealed < 0) {
        snprintf(msg, msg_len, "%s: %s%s", lw_basename(path), sealed == -1 ? "corrupt: " : "unreadable: ", why);
        H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(msg, msg_len, "%s: not a readable HDF5 file (truncated or corrupt)", lw_basename(path));
        goto done;
    }
    if (sealed == 0 && H5Aexists(f, RF_INTEGRITY) > 0) {
        snprintf(msg, msg_len, "%s: corrupt: its checksum trailer is missing or damaged", lw_basename(path));
        H5Fclose(f);
        goto done;
    }
    if (H5Aexists(f, RF_COMPLETE) <= 0) {
        snprintf(msg, msg_len, "%s: root attribute '" RF_COMPLETE "' is missing (the run did not finish)", lw_basename(path));
        state = 0;
    } else {
        hid_t a = H5Aopen(f, RF_COMPLETE, H5P_DEFAULT);
        hid_t ty = a >= 0 ? H5Aget_type(a) : -1;
        int ok = 0;
        if (ty >= 0 && H5Tget_class(ty) == H5T_INTEGER) {
            long long v = 0;
            ok = H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0 && v != 0;
        } else if (ty >= 0 && H5Tget_class(ty) == H5T_STRING && !H5Tis_variable_str(ty)) {
            size_t n = H5Tget_size(ty);
            char *buf = xcalloc(n + 1, 1);
            hid_t mt = H5Tcopy(ty);
            if (H5Aread(a, mt, buf) >= 0) ok = !strcmp(buf, "true") || !strcmp(buf, "1") || !strcmp(buf, "yes");
            H5Tclose(mt);
            free(buf);
        } else {
            ok = 1; // present with another type: the writer's convention is "written last"
        }
        if (ty >= 0) H5Tclose(ty);
        if (a >= 0) H5Aclose(a);
        state = ok ? 1 : 0;
        if (!ok) snprintf(msg, msg_len, "%s: root attribute '" RF_COMPLETE "' is false (the run did not finish)", lw_basename(path));
        else snprintf(msg, msg_len, "%s: complete HDF5 run, not exported yet", lw_basename(path));
    }
    H5Fclose(f);
done:
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return state;
}

int ex_run_is_battery(const char *path) {
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    int yes = 0;
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (f >= 0) {
        if (H5Aexists(f, RF_RUN_KIND) > 0) {
            hid_t a = H5Aopen(f, RF_RUN_KIND, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
            if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0) {
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, H5T_VARIABLE);
                H5Tset_cset(mt, H5T_CSET_UTF8);
                char *v = NULL;
                if (H5Aread(a, mt, &v) >= 0 && v) { yes = !strcmp(v, RF_RUN_KIND_BATTERY); H5free_memory(v); }
                H5Tclose(mt);
            }
            if (t >= 0) H5Tclose(t);
            if (a >= 0) H5Aclose(a);
        }
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return yes;
}
