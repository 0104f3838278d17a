// runfile_writer — see runfile_writer.h. Names and paths: runfile/layout.h; the file format:
// docs/HDF5.md.
#include "runfile/runfile_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/gguf.h"
#include "runfile/h5.h"
#include "runfile/layout.h"

struct RunFile {
    H5Out *h;
    LensSink sink;
};

// Paths of this file stay well below this (pass names are at most 63 bytes).
#define PATH_MAX_BYTES 512

// ---------------------------------------------------------------------------- the lens's sink

static void sink_array(void *ctx, LensAt at, LensField f, LensDtype t, int rank, const size_t *dims, const void *v) {
    RunFile *rf = ctx;
    char p[PATH_MAX_BYTES];
    rf_field_path(p, sizeof p, at, f);
    switch (t) {
    case LENS_F64: h5_write_f64(rf->h, p, rank, dims, v); break;
    case LENS_I32: h5_write_i32(rf->h, p, rank, dims, v); break;
    case LENS_F32: h5_write_f32(rf->h, p, rank, dims, v); break;
    }
}

static void sink_attr_f64(void *ctx, LensAt at, LensField f, double v) {
    RunFile *rf = ctx;
    char g[PATH_MAX_BYTES];
    rf_group_path(g, sizeof g, at);
    h5_attr_f64(rf->h, g, RF_FIELD[f], v);
}

static void sink_attr_int(void *ctx, LensAt at, LensField f, long v) {
    RunFile *rf = ctx;
    char g[PATH_MAX_BYTES];
    rf_group_path(g, sizeof g, at);
    h5_attr_int(rf->h, g, RF_FIELD[f], v);
}

static void sink_attr_str(void *ctx, LensAt at, LensField f, const char *v) {
    RunFile *rf = ctx;
    char g[PATH_MAX_BYTES];
    rf_group_path(g, sizeof g, at);
    h5_attr_str(rf->h, g, RF_FIELD[f], v);
}

static void sink_array_attr_f64s(void *ctx, LensAt at, LensField array, LensField attr, const double *v, int n) {
    RunFile *rf = ctx;
    char p[PATH_MAX_BYTES];
    rf_field_path(p, sizeof p, at, array);
    h5_dset_attr_f64s(rf->h, p, RF_FIELD[attr], v, n);
}

static const LensSinkOps SINK_OPS = {
    .array = sink_array,
    .attr_f64 = sink_attr_f64,
    .attr_int = sink_attr_int,
    .attr_str = sink_attr_str,
    .array_attr_f64s = sink_array_attr_f64s,
};

// ---------------------------------------------------------------------------- the file

RunFile *runfile_create(const char *path, LwError *err) {
    H5Out *h = h5_create(path, err);
    if (!h) return NULL;
    RunFile *rf = xcalloc(1, sizeof *rf);
    rf->h = h;
    rf->sink.ops = &SINK_OPS;
    rf->sink.ctx = rf;
    return rf;
}

int runfile_finish(RunFile *rf, const char *end_time, double wall_seconds, LwError *err) {
    if (!rf) return 0;
    h5_attr_str(rf->h, RF_ROOT, RF_END_TIME, end_time);
    h5_attr_f64(rf->h, RF_ROOT, RF_WALL_SECONDS, wall_seconds);
    int rc = h5_finish(rf->h, err);
    free(rf);
    return rc;
}

const LensSink *runfile_lens_sink(RunFile *rf) { return rf ? &rf->sink : NULL; }

// ---------------------------------------------------------------------------- a run's header

static const char *dtype_long_name(DType t) {
    return t == DT_F32 ? "float32" : t == DT_BF16 ? "bfloat16" : t == DT_F16 ? "float16" : "unknown";
}

void runfile_write_root(RunFile *rf, const LwRunConfig *cfg, const Model *m, const Tokenizer *tok, int bos_id,
                        const DeviceChoice *ran, int R, const char *start_time, const char *checkpoint_files,
                        const char *checkpoint_sha256) {
    if (!rf) return;
    H5Out *h = rf->h;
    const ModelConfig *c = &m->cfg;
    h5_attr_str(h, RF_ROOT, RF_SCHEMA, RF_SCHEMA_NAME);
    h5_attr_int(h, RF_ROOT, RF_SCHEMA_VERSION, RF_SCHEMA_VERSION_WRITTEN);
    h5_attr_str(h, RF_ROOT, RF_RUN_KIND, cfg->battery ? RF_RUN_KIND_BATTERY : RF_RUN_KIND_REFERENCE);
    h5_attr_str(h, RF_ROOT, RF_LENSWEEP_VERSION, LENSWEEP_VERSION);
    h5_attr_str(h, RF_ROOT, RF_LENSWEEP_GIT, LENSWEEP_GIT);
    h5_attr_str(h, RF_ROOT, RF_MODEL_NAME, cfg->name);
    h5_attr_str(h, RF_ROOT, RF_MODEL_ID, lw_is_dir(cfg->model) || lw_file_exists(cfg->model) ? cfg->name : cfg->model);
    h5_attr_str(h, RF_ROOT, RF_MODEL_PATH, cfg->model_dir);
    h5_attr_str(h, RF_ROOT, RF_FAMILY, LW_FAMILIES[c->family].name);
    h5_attr_str(h, RF_ROOT, RF_ARCHITECTURE, "pre_norm");
    h5_attr_int(h, RF_ROOT, RF_N_LAYERS, c->n_layers);
    h5_attr_int(h, RF_ROOT, RF_D_MODEL, c->d_model);
    h5_attr_int(h, RF_ROOT, RF_N_HEADS, c->n_heads);
    h5_attr_int(h, RF_ROOT, RF_N_KV_HEADS, c->n_kv_heads);
    h5_attr_int(h, RF_ROOT, RF_HEAD_DIM, c->head_dim);
    h5_attr_int(h, RF_ROOT, RF_D_FF, c->d_ff);
    h5_attr_int(h, RF_ROOT, RF_VOCAB, c->vocab);
    h5_attr_int(h, RF_ROOT, RF_N_CTX, c->max_pos);
    h5_attr_int(h, RF_ROOT, RF_TOKENIZER_N_IDS, tok_n_ids(tok));
    h5_attr_int(h, RF_ROOT, RF_BOS_ID, bos_id);
    h5_attr_f64(h, RF_ROOT, RF_FINAL_SOFTCAP, LW_FAMILIES[c->family].has_softcaps ? c->final_softcap : 0.0);
    h5_attr_str(h, RF_ROOT, RF_NORM_TYPE, "RMSNorm");
    char gguf_type[32];
    h5_attr_str(h, RF_ROOT, RF_WEIGHTS_DTYPE,
                gguf_weights_type(m->dir, gguf_type, sizeof gguf_type) ? gguf_type : dtype_long_name(m->embed.dtype));
    h5_attr_str(h, RF_ROOT, RF_COMPUTE_DTYPE, !strcmp(ran->compute_dtype, "bf16")   ? "bfloat16"
                                              : !strcmp(ran->compute_dtype, "fp16") ? "float16"
                                                                                    : "float32");
    h5_attr_str(h, RF_ROOT, RF_BACKEND, ran->backend); // what ran (device_choose), not what was asked for
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char *dev = xasprintf("CPU (%s), %d rank%s", host, R, R == 1 ? "" : "s");
    h5_attr_str(h, RF_ROOT, RF_DEVICE, dev);
    free(dev);
    h5_attr_int(h, RF_ROOT, RF_TP_SIZE, R);
    h5_attr_str(h, RF_ROOT, RF_CONFIG_YAML, cfg->yaml_text);
    h5_attr_str(h, RF_ROOT, RF_CONFIG_HASH, cfg->config_hash);
    h5_attr_str(h, RF_ROOT, RF_START_TIME, start_time);
    h5_attr_str(h, RF_ROOT, RF_CHECKPOINT_FILES, checkpoint_files);
    h5_attr_str(h, RF_ROOT, RF_CHECKPOINT_SHA256, checkpoint_sha256);
}

void runfile_write_vocab(RunFile *rf, const Tokenizer *tok, int V) {
    if (!rf) return;
    const char **dec = xmalloc(sizeof(char *) * V), **pieces = xmalloc(sizeof(char *) * V);
    int n_ids = tok_n_ids(tok);
    for (int i = 0; i < V; i++) {
        dec[i] = i < n_ids ? tok_decode_one(tok, i) : "";
        const char *p = i < n_ids ? tok_id_to_token(tok, i) : NULL;
        pieces[i] = p ? p : "";
    }
    h5_write_strs(rf->h, RF_VOCAB_DECODED, V, dec);
    h5_write_strs(rf->h, RF_VOCAB_PIECES, V, pieces);
    free(dec);
    free(pieces);
}

// ---------------------------------------------------------------------------- the reference passes

void runfile_write_order(RunFile *rf, int n, const char *const *names) {
    if (rf) h5_write_strs(rf->h, RF_PROMPTS_ORDER, n, names);
}

void runfile_write_prompt(RunFile *rf, const RunFilePrompt *p) {
    if (!rf) return;
    H5Out *h = rf->h;
    char g[PATH_MAX_BYTES], ds[PATH_MAX_BYTES];
    rf_group_path(g, sizeof g, (LensAt){.group = LG_HEAD, .pass = p->name});
    h5_group(h, g);
    h5_attr_str(h, g, RF_PROMPT_ID, p->prompt_id);
    h5_attr_str(h, g, RF_PROMPT_VARIANT, p->variant);
    h5_attr_str(h, g, RF_FACT_KEY, p->fact_key);
    h5_attr_int(h, g, RF_FACT_INDEX, p->fact_index);
    h5_attr_str(h, g, RF_TEXT, p->text);
    h5_attr_str(h, g, RF_ANSWER, p->answer);
    h5_attr_int(h, g, RF_ALIGN_OK, p->align->ok);
    h5_attr_str(h, g, RF_ALIGN_STATUS, p->align->status);
    h5_attr_str(h, g, RF_ALIGN_VARIANT, p->align->variant);
    h5_attr_i32s(h, g, RF_ANSWER_IDS, p->align->answer_ids, p->align->n_answer_ids);
    h5_attr_int(h, g, RF_FIRST_ID, p->align->ok ? p->align->first_id : -1);
    size_t T = p->T, Tc = p->n_ctx;
    rf_prompt_path(ds, sizeof ds, p->name, RF_PROMPT_IDS);
    h5_write_i32(h, ds, 1, &T, p->ids);
    rf_prompt_path(ds, sizeof ds, p->name, RF_PROMPT_CTX_IDS);
    h5_write_i32(h, ds, 1, &Tc, p->ctx_ids);
    if (p->fact_index < 0) { // the control pass: the contrast answer (Berlin on the Germany prompt)
        rf_group_path(g, sizeof g, (LensAt){.group = LG_HEAD, .pass = RF_PASS_CONTROL});
        h5_attr_int(h, g, RF_CONTRAST_ID, p->contrast_id);
        h5_attr_str(h, g, RF_CONTRAST_ANSWER, p->contrast_answer);
    }
}

void runfile_write_resid_nonfinite(RunFile *rf, const char *pass, int n1, int T, const int32_t *mask) {
    if (!rf) return;
    char ds[PATH_MAX_BYTES];
    rf_prompt_path(ds, sizeof ds, pass, RF_PROMPT_RESID_NONFINITE);
    size_t dims[2] = {(size_t)n1, (size_t)T};
    h5_write_i32(rf->h, ds, 2, dims, mask);
}

void runfile_write_calibration(RunFile *rf, int G, const double *grid, int n1, const double *tau, int n_prompts,
                               const double *ce, const char *const *prompts) {
    if (!rf) return;
    size_t dg = G, dn = n1, dce[3] = {(size_t)n_prompts, (size_t)n1, (size_t)G};
    h5_write_f64(rf->h, RF_CALIBRATION_TAU_GRID, 1, &dg, grid);
    h5_write_f64(rf->h, RF_CALIBRATION_TAU_NORM, 1, &dn, tau);
    h5_write_f64(rf->h, RF_CALIBRATION_CE, 3, dce, ce);
    h5_write_strs(rf->h, RF_CALIBRATION_PROMPTS, n_prompts, prompts);
}

void runfile_write_test_prompts(RunFile *rf, int n, int k, const char *const *text, const double *H_bits,
                                const int32_t *ids, const double *probs) {
    if (!rf) return;
    size_t dn = n, dk[2] = {(size_t)n, (size_t)k};
    h5_write_strs(rf->h, RF_AUX_TEST_PROMPTS_TEXT, dn, text);
    h5_write_f64(rf->h, RF_AUX_TEST_PROMPTS_ENTROPY_BITS, 1, &dn, H_bits);
    h5_write_i32(rf->h, RF_AUX_TEST_PROMPTS_TOPK_IDS, 2, dk, ids);
    h5_write_f64(rf->h, RF_AUX_TEST_PROMPTS_TOPK_PROBS, 2, dk, probs);
}

void runfile_write_temperature(RunFile *rf, int n, int k, const double *temps, const double *H_bits,
                               const int32_t *ids, const double *probs) {
    if (!rf) return;
    size_t dt = n, dtk[2] = {(size_t)n, (size_t)k};
    h5_write_f64(rf->h, RF_AUX_TEMPERATURE_TEMPS, 1, &dt, temps);
    h5_write_f64(rf->h, RF_AUX_TEMPERATURE_ENTROPY_BITS, 1, &dt, H_bits);
    h5_write_i32(rf->h, RF_AUX_TEMPERATURE_TOPK_IDS, 2, dtk, ids);
    h5_write_f64(rf->h, RF_AUX_TEMPERATURE_TOPK_PROBS, 2, dtk, probs);
}

// ---------------------------------------------------------------------------- a battery

static void write_battery_table(H5Out *h, const char *base, const RunFileBatteryTable *t, int N, int n1, int K) {
    size_t d2[2] = {(size_t)N, (size_t)n1}, d3[3] = {(size_t)N, (size_t)n1, (size_t)K}, d1 = (size_t)N;
    char p[PATH_MAX_BYTES];
#define AT(name) (snprintf(p, sizeof p, "%s/%s", base, name), p)
    h5_write_f64(h, AT(RF_BT_ENTROPY_BITS), 2, d2, t->entropy_bits);
    h5_write_f64(h, AT(RF_BT_KL_TO_FINAL_BITS), 2, d2, t->kl_to_final_bits);
    h5_write_f64(h, AT(RF_BT_P_ANSWER), 2, d2, t->p_answer);
    h5_write_f64(h, AT(RF_BT_P_ANSWER_ANY), 2, d2, t->p_answer_any);
    h5_write_f64(h, AT(RF_BT_ANSWER_LOGIT), 2, d2, t->answer_logit);
    h5_write_i32(h, AT(RF_BT_ANSWER_RANK), 2, d2, t->answer_rank);
    h5_write_i32(h, AT(RF_BT_ANSWER_BEST), 2, d2, t->answer_best);
    h5_write_i32(h, AT(RF_BT_TOP_IDS), 3, d3, t->top_ids);
    h5_write_f64(h, AT(RF_BT_TOP_PROBS), 3, d3, t->top_probs);
    h5_write_f64(h, AT(RF_BT_TEACHER_ENTROPY_BITS), 1, &d1, t->teacher_entropy_bits);
    h5_write_i32(h, AT(RF_BT_FINAL_TOP1), 1, &d1, t->final_top1);
    h5_write_f64(h, AT(RF_BT_FINAL_TOP1_PROB), 1, &d1, t->final_top1_prob);
    h5_write_i32(h, AT(RF_BT_FIRST_RANK1), 1, &d1, t->first_rank1);
#undef AT
}

// /battery/items: strings per item, answers and sequences flattened with offsets [N+1].
static void write_battery_items(H5Out *h, const LwBattery *b, const RunFileBatteryItem *items, int N) {
    const char **sid = xmalloc(sizeof(char *) * N), **sg = xmalloc(sizeof(char *) * N), **sp = xmalloc(sizeof(char *) * N),
               **sc = xmalloc(sizeof(char *) * N);
    int32_t *line = xmalloc(sizeof(int32_t) * N), *aoff = xmalloc(sizeof(int32_t) * (N + 1)),
            *ioff = xmalloc(sizeof(int32_t) * (N + 1)), *coff = xmalloc(sizeof(int32_t) * (N + 1));
    int na = 0;
    long ni = 0, nc = 0;
    for (int i = 0; i < N; i++) { na += b->items[i].n_answers; ni += items[i].T; nc += items[i].ctl_T; }
    const char **ans = xmalloc(sizeof(char *) * (na ? na : 1));
    int32_t *afirst = xmalloc(sizeof(int32_t) * (na ? na : 1)), *cfirst = xmalloc(sizeof(int32_t) * (na ? na : 1));
    int32_t *ids = xmalloc(sizeof(int32_t) * (ni ? ni : 1)), *cids = xmalloc(sizeof(int32_t) * (nc ? nc : 1));
    aoff[0] = ioff[0] = coff[0] = 0;
    for (int i = 0; i < N; i++) {
        const LwBatteryItem *x = &b->items[i];
        const RunFileBatteryItem *p = &items[i];
        sid[i] = x->id; sg[i] = x->group; sp[i] = x->prompt; sc[i] = x->control ? x->control : "";
        line[i] = x->line;
        for (int j = 0; j < x->n_answers; j++) {
            ans[aoff[i] + j] = x->answers[j];
            afirst[aoff[i] + j] = p->first_ids[j];
            cfirst[aoff[i] + j] = p->ctl_first_ids ? p->ctl_first_ids[j] : -1;
        }
        aoff[i + 1] = aoff[i] + x->n_answers;
        memcpy(ids + ioff[i], p->ids, sizeof(int32_t) * p->T);
        ioff[i + 1] = ioff[i] + p->T;
        if (p->ctl_T) memcpy(cids + coff[i], p->ctl_ids, sizeof(int32_t) * p->ctl_T);
        coff[i + 1] = coff[i] + p->ctl_T;
    }
    size_t dn = N, dn1 = N + 1, da = na, di = ni, dc = nc;
    h5_write_strs(h, RF_BATTERY_ITEMS_ID, dn, sid);
    h5_write_strs(h, RF_BATTERY_ITEMS_GROUP, dn, sg);
    h5_write_strs(h, RF_BATTERY_ITEMS_PROMPT, dn, sp);
    h5_write_strs(h, RF_BATTERY_ITEMS_CONTROL, dn, sc);
    h5_write_i32(h, RF_BATTERY_ITEMS_LINE, 1, &dn, line);
    h5_write_strs(h, RF_BATTERY_ITEMS_ANSWERS, da, ans);
    h5_write_i32(h, RF_BATTERY_ITEMS_ANSWER_OFFSETS, 1, &dn1, aoff);
    h5_write_i32(h, RF_BATTERY_ITEMS_ANSWER_FIRST_IDS, 1, &da, afirst);
    h5_write_i32(h, RF_BATTERY_ITEMS_CONTROL_ANSWER_FIRST_IDS, 1, &da, cfirst);
    h5_write_i32(h, RF_BATTERY_ITEMS_IDS, 1, &di, ids);
    h5_write_i32(h, RF_BATTERY_ITEMS_IDS_OFFSETS, 1, &dn1, ioff);
    h5_write_i32(h, RF_BATTERY_ITEMS_CONTROL_IDS, 1, &dc, cids);
    h5_write_i32(h, RF_BATTERY_ITEMS_CONTROL_IDS_OFFSETS, 1, &dn1, coff);
    free(sid); free(sg); free(sp); free(sc); free(line); free(aoff); free(ioff); free(coff);
    free(ans); free(afirst); free(cfirst); free(ids); free(cids);
}

void runfile_write_battery(RunFile *rf, const LwBattery *b, const RunFileBatteryItem *items, int N, int n1, int K,
                           const RunFileBatteryTable *next, const RunFileBatteryTable *control) {
    if (!rf) return;
    H5Out *h = rf->h;
    h5_group(h, RF_BATTERY);
    h5_attr_str(h, RF_BATTERY, RF_BATTERY_NAME, b->name);
    h5_attr_str(h, RF_BATTERY, RF_BATTERY_SOURCE, b->path);
    h5_attr_str(h, RF_BATTERY, RF_BATTERY_FORMAT, b->format);
    h5_attr_int(h, RF_BATTERY, RF_BATTERY_N_ITEMS, N);
    h5_attr_int(h, RF_BATTERY, RF_BATTERY_N_SKIPPED, b->n_skipped);
    h5_attr_int(h, RF_BATTERY, RF_BATTERY_TOPK, K);
    h5_attr_str(h, RF_BATTERY, RF_BATTERY_ANSWER_RULE, "best rank over the acceptable answers' first tokens");
    char hx[24];
    snprintf(hx, sizeof hx, "%016llx", (unsigned long long)b->content_hash);
    h5_attr_str(h, RF_BATTERY, RF_BATTERY_CONTENT_HASH, hx);
    write_battery_items(h, b, items, N);
    {
        int S = b->n_skipped;
        const char **sid = xmalloc(sizeof(char *) * (S ? S : 1)), **sw = xmalloc(sizeof(char *) * (S ? S : 1));
        int32_t *sl = xmalloc(sizeof(int32_t) * (S ? S : 1));
        for (int i = 0; i < S; i++) { sid[i] = b->skipped[i].id; sw[i] = b->skipped[i].what; sl[i] = b->skipped[i].line; }
        size_t ds = S;
        h5_write_strs(h, RF_BATTERY_SKIPPED_ID, ds, sid);
        h5_write_i32(h, RF_BATTERY_SKIPPED_LINE, 1, &ds, sl);
        h5_write_strs(h, RF_BATTERY_SKIPPED_REASON, ds, sw);
        free(sid); free(sw); free(sl);
    }
    write_battery_table(h, RF_BATTERY_NEXT, next, N, n1, K);
    h5_attr_int(h, RF_BATTERY, RF_BATTERY_HAS_CONTROL, control != NULL);
    if (control) write_battery_table(h, RF_BATTERY_CONTROL, control, N, n1, K);
}

void runfile_write_battery_positions(RunFile *rf, const RunFileBatteryItem *items, int N, int n1,
                                     const RunFileBatteryPositions *pos) {
    if (!rf) return;
    H5Out *h = rf->h;
    size_t P = (size_t)pos->off[N], K = (size_t)pos->K;
    int32_t *off = xmalloc(sizeof(int32_t) * (N + 1)), *item = xmalloc(sizeof(int32_t) * (P ? P : 1)),
            *at = xmalloc(sizeof(int32_t) * (P ? P : 1));
    for (int i = 0; i <= N; i++) off[i] = (int32_t)pos->off[i];
    for (int i = 0; i < N; i++) {
        int np = off[i + 1] - off[i];
        for (int r = 0; r < np; r++) { item[off[i] + r] = i; at[off[i] + r] = items[i].T - np + r; }
    }
    h5_group(h, RF_BATTERY_POSITIONS);
    h5_attr_int(h, RF_BATTERY_POSITIONS, RF_BP_K, pos->k);
    h5_attr_int(h, RF_BATTERY_POSITIONS, RF_BP_TOPK, pos->K);
    size_t dn1 = (size_t)N + 1, d2[2] = {P, (size_t)n1}, d3[3] = {P, (size_t)n1, K};
    h5_write_i32(h, RF_BATTERY_POSITIONS_OFFSETS, 1, &dn1, off);
    h5_write_i32(h, RF_BATTERY_POSITIONS_ITEM, 1, &P, item);
    h5_write_i32(h, RF_BATTERY_POSITIONS_POS, 1, &P, at);
    h5_write_f64(h, RF_BATTERY_POSITIONS_ENTROPY_BITS, 2, d2, pos->entropy_bits);
    h5_write_i32(h, RF_BATTERY_POSITIONS_TOP_IDS, 3, d3, pos->top_ids);
    h5_write_f64(h, RF_BATTERY_POSITIONS_TOP_PROBS, 3, d3, pos->top_probs);
    free(off); free(item); free(at);
}
