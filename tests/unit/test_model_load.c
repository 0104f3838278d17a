// test_model_load — model_load puts the right block of every tensor in the right place.
//
// The checkpoint is written here with the safetensors writer, every element holding a value
// that encodes (tensor number, flat index): val = 32768·k + i, exact in fp32. Tensor names and
// full shapes are typed in from ARCHITECTURES.md §2, and each rank's expected block from
// TENSOR_PARALLEL.md §2-4 by hand, independently of load.c's plan. So a wrong slice, a
// transposed block, a missed Gemma (1 + w), an untied Gemma head or a wrong kv replica shows as
// a value that decodes to the wrong tensor or index.
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "test.h"

enum { L_ = 2, D = 16, H = 4, KV = 2, HD = 6, FF = 12, V = 22 };

typedef struct { char name[96]; int ndim; int64_t s0, s1; } Spec;
static Spec specs[64];
static int nspec;

static void spec_add(const char *name, int ndim, int64_t s0, int64_t s1) {
    Spec *s = &specs[nspec++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim; s->s0 = s0; s->s1 = s1;
}

static int spec_index(const char *name) {
    for (int k = 0; k < nspec; k++)
        if (!strcmp(specs[k].name, name)) return k;
    return -1;
}

static float val(const char *name, int64_t i) { return (float)(32768 * spec_index(name) + i); }

static void write_ckpt(const char *dir, Family f, int tied_flag, int with_lm_head, int shards) {
    const FamilyInfo *fi = &LW_FAMILIES[f];
    nspec = 0;
    char n[96];
    spec_add("model.embed_tokens.weight", 2, V, D);
    for (int i = 0; i < L_; i++) {
#define NM(s) (snprintf(n, sizeof n, "model.layers.%d.%s", i, s), n)
        spec_add(NM("self_attn.q_proj.weight"), 2, H * HD, D);
        spec_add(NM("self_attn.k_proj.weight"), 2, KV * HD, D);
        spec_add(NM("self_attn.v_proj.weight"), 2, KV * HD, D);
        spec_add(NM("self_attn.o_proj.weight"), 2, D, H * HD);
        if (f == FAM_QWEN2) {
            spec_add(NM("self_attn.q_proj.bias"), 1, H * HD, 0);
            spec_add(NM("self_attn.k_proj.bias"), 1, KV * HD, 0);
            spec_add(NM("self_attn.v_proj.bias"), 1, KV * HD, 0);
        }
        if (f == FAM_QWEN3) {
            spec_add(NM("self_attn.q_norm.weight"), 1, HD, 0);
            spec_add(NM("self_attn.k_norm.weight"), 1, HD, 0);
        }
        spec_add(NM("mlp.gate_proj.weight"), 2, FF, D);
        spec_add(NM("mlp.up_proj.weight"), 2, FF, D);
        spec_add(NM("mlp.down_proj.weight"), 2, D, FF);
        spec_add(NM("input_layernorm.weight"), 1, D, 0);
        spec_add(NM("post_attention_layernorm.weight"), 1, D, 0);
        if (f == FAM_GEMMA2) {
            spec_add(NM("pre_feedforward_layernorm.weight"), 1, D, 0);
            spec_add(NM("post_feedforward_layernorm.weight"), 1, D, 0);
        }
#undef NM
    }
    spec_add("model.norm.weight", 1, D, 0);
    if (with_lm_head) spec_add("lm_head.weight", 2, V, D);

    StWriteTensor t[64];
    for (int k = 0; k < nspec; k++) {
        int64_t ne = specs[k].s0 * (specs[k].ndim == 2 ? specs[k].s1 : 1);
        float *data = malloc(ne * sizeof *data);
        for (int64_t i = 0; i < ne; i++) data[i] = (float)(32768 * k + i);
        memset(&t[k], 0, sizeof t[k]);
        t[k].name = specs[k].name;
        t[k].dtype = DT_F32;
        t[k].ndim = specs[k].ndim;
        t[k].shape[0] = specs[k].s0;
        t[k].shape[1] = specs[k].s1;
        t[k].data = data;
    }
    LwError err = {0};
    CHECKF(st_write(dir, t, nspec, shards, &err) == 0, "%s", err.msg);
    for (int k = 0; k < nspec; k++) free((void *)t[k].data);

    json_t *c = json_pack("{s:[s], s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:f, s:b, s:s}", "architectures", fi->hf_arch,
                          "hidden_size", D, "intermediate_size", FF, "num_hidden_layers", L_, "num_attention_heads", H,
                          "num_key_value_heads", KV, "head_dim", HD, "vocab_size", V, "max_position_embeddings", 64,
                          "rms_norm_eps", 1e-5, "rope_theta", 10000.0, "tie_word_embeddings", tied_flag, "torch_dtype", "float32");
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_dump_file(c, path, 0);
    json_decref(c);
}

// Checks Mat m == rows [r0, r0+nr) x cols [c0, c0+nc) of tensor `name` (full width `cols`).
static int mat_is_block(const Mat *m, const char *name, int64_t cols, int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
    if (m->rows != nr || m->cols != nc || m->dtype != DT_F32 || spec_index(name) < 0) return 0;
    const float *p = m->data;
    for (int64_t r = 0; r < nr; r++)
        for (int64_t c = 0; c < nc; c++)
            if (p[r * nc + c] != val(name, (r0 + r) * cols + c0 + c)) return 0;
    return 1;
}

static int vec_is(const float *v, const char *name, int64_t start, int64_t n, float plus) {
    if (!v || spec_index(name) < 0) return 0;
    for (int64_t i = 0; i < n; i++)
        if (v[i] != val(name, start + i) + plus) return 0;
    return 1;
}

static void check_rank(const char *dir, Family f, int r, int R) {
    LwError err = {0};
    Model *m = model_load(dir, r, R, &err);
    CHECKF(m != NULL, "%s rank %d/%d: %s", LW_FAMILIES[f].name, r, R, err.msg);
    if (!m) return;
    // Hand-derived blocks (TENSOR_PARALLEL.md §2-4) for H=4, KV=2, FF=12, V=22.
    int hq = H / R, h0 = r * hq;
    int nkv = R <= KV ? KV / R : 1, kv0 = R <= KV ? r * nkv : r * KV / R;
    int ffn = FF / R, ff0 = r * ffn;
    int vs = (V + R - 1) / R, v0 = r * vs, vn = V - v0 < vs ? V - v0 : vs;
    float p1 = f == FAM_GEMMA2 ? 1.0f : 0.0f;
    CHECK(mat_is_block(&m->embed, "model.embed_tokens.weight", D, v0, vn, 0, D));
    if (f == FAM_GEMMA2) CHECK(m->unembed.data == m->embed.data);
    else CHECK(mat_is_block(&m->unembed, "lm_head.weight", D, v0, vn, 0, D));
    CHECK(vec_is(m->ln_final, "model.norm.weight", 0, D, p1));
    char n[96];
    for (int i = 0; i < L_; i++) {
        LayerWeights *Lw = &m->layers[i];
#define NM(s) (snprintf(n, sizeof n, "model.layers.%d.%s", i, s), n)
        CHECKF(mat_is_block(&Lw->wq, NM("self_attn.q_proj.weight"), D, h0 * HD, hq * HD, 0, D), "%s", n);
        CHECKF(mat_is_block(&Lw->wk, NM("self_attn.k_proj.weight"), D, kv0 * HD, nkv * HD, 0, D), "%s", n);
        CHECKF(mat_is_block(&Lw->wv, NM("self_attn.v_proj.weight"), D, kv0 * HD, nkv * HD, 0, D), "%s", n);
        CHECKF(mat_is_block(&Lw->wo, NM("self_attn.o_proj.weight"), H * HD, 0, D, h0 * HD, hq * HD), "%s", n);
        CHECKF(mat_is_block(&Lw->wgate, NM("mlp.gate_proj.weight"), D, ff0, ffn, 0, D), "%s", n);
        CHECKF(mat_is_block(&Lw->wup, NM("mlp.up_proj.weight"), D, ff0, ffn, 0, D), "%s", n);
        CHECKF(mat_is_block(&Lw->wdown, NM("mlp.down_proj.weight"), FF, 0, D, ff0, ffn), "%s", n);
        CHECK(vec_is(Lw->ln_in, NM("input_layernorm.weight"), 0, D, p1));
        CHECK(vec_is(Lw->ln_post_attn, NM("post_attention_layernorm.weight"), 0, D, p1));
        if (f == FAM_GEMMA2) {
            CHECK(vec_is(Lw->ln_pre_ffn, NM("pre_feedforward_layernorm.weight"), 0, D, 1.0f));
            CHECK(vec_is(Lw->ln_post_ffn, NM("post_feedforward_layernorm.weight"), 0, D, 1.0f));
        } else CHECK(!Lw->ln_pre_ffn && !Lw->ln_post_ffn);
        if (f == FAM_QWEN2) {
            CHECK(vec_is(Lw->bq, NM("self_attn.q_proj.bias"), h0 * HD, hq * HD, 0));
            CHECK(vec_is(Lw->bk, NM("self_attn.k_proj.bias"), kv0 * HD, nkv * HD, 0));
            CHECK(vec_is(Lw->bv, NM("self_attn.v_proj.bias"), kv0 * HD, nkv * HD, 0));
        } else CHECK(!Lw->bq && !Lw->bk && !Lw->bv);
        if (f == FAM_QWEN3) {
            CHECK(vec_is(Lw->q_norm, NM("self_attn.q_norm.weight"), 0, HD, 0));
            CHECK(vec_is(Lw->k_norm, NM("self_attn.k_norm.weight"), 0, HD, 0));
        } else CHECK(!Lw->q_norm && !Lw->k_norm);
#undef NM
    }
    // Bytes read: exactly the row blocks this rank keeps (norms replicated), except that the
    // column blocks of o_proj / down_proj are this tiny (< 4 KiB per row) so whole rows are read
    // and the columns picked out (safetensors.c): those two count in full.
    size_t want = (size_t)vn * D * (f == FAM_GEMMA2 ? 1 : 2) + D;
    size_t per_layer = (size_t)hq * HD * D + D * H * HD + 2 * nkv * HD * D + 2 * ffn * D + D * FF + 2 * D;
    if (f == FAM_QWEN2) per_layer += H * HD + 2 * KV * HD; // 1-D slices: same rule, whole vector read
    if (f == FAM_QWEN3) per_layer += 2 * HD;
    if (f == FAM_GEMMA2) per_layer += 2 * D;
    CHECKF(m->bytes_read == 4 * (want + L_ * per_layer), "%s %d/%d: bytes_read %zu, expected %zu", LW_FAMILIES[f].name, r, R, m->bytes_read, 4 * (want + L_ * per_layer));
    CHECK_STR(m->name, lw_basename(dir));
    model_free(m);
}

TEST(all_families_all_ranks) {
    char tmpl[] = "/tmp/lwtest_load.XXXXXX";
    char *root = mkdtemp(tmpl);
    for (int f = 0; f < FAM_COUNT; f++) {
        char dir[256];
        snprintf(dir, sizeof dir, "%s/%s", root, LW_FAMILIES[f].name);
        write_ckpt(dir, (Family)f, 0, f != FAM_GEMMA2, f % 2 ? 3 : 1);
        // R = 4 > KV = 2: kv heads replicated; V = 22 over 4 ranks: shards 6, 6, 6, 4.
        for (int R = 1; R <= 4; R *= 2)
            for (int r = 0; r < R; r++) check_rank(dir, (Family)f, r, R);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

// A Llama checkpoint with tie_word_embeddings = true and an lm_head present: the tie wins.
TEST(tie_preferred_over_lm_head) {
    char tmpl[] = "/tmp/lwtest_tie.XXXXXX";
    char *root = mkdtemp(tmpl);
    write_ckpt(root, FAM_LLAMA, 1, 1, 1);
    LwError err = {0};
    Model *m = model_load(root, 0, 1, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) {
        CHECK(m->cfg.tied);
        CHECK(m->unembed.data == m->embed.data);
        CHECK(mat_is_block(&m->unembed, "model.embed_tokens.weight", D, 0, V, 0, D));
        model_free(m);
    }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

// R = 3 does not divide H = 4: refused with the valid sizes named.
TEST(invalid_tp_refused) {
    char tmpl[] = "/tmp/lwtest_tp.XXXXXX";
    char *root = mkdtemp(tmpl);
    write_ckpt(root, FAM_LLAMA, 0, 1, 1);
    LwError err = {0};
    Model *m = model_load(root, 0, 3, &err);
    CHECK(m == NULL);
    CHECKF(strstr(err.msg, "valid sizes: 1, 2, 4") != NULL, "%s", err.msg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(all_families_all_ranks);
    RUN(tie_preferred_over_lm_head);
    RUN(invalid_tp_refused);
    return test_summary();
}
