// model/gguf_load — GGUF checkpoints (gguf_load.h).
//
// llama.cpp names (convert_hf_to_gguf.py's tensor map) against the Hugging Face ones:
//   token_embd            model.embed_tokens      [V, d]   (GGUF dims are [d, V]: fastest first)
//   blk.N.attn_q/k/v      self_attn.q/k/v_proj    rows cut per rank; q/k rows permuted (below)
//   blk.N.attn_output     self_attn.o_proj        columns cut per rank
//   blk.N.ffn_gate/up     mlp.gate/up_proj        rows cut per rank
//   blk.N.ffn_down        mlp.down_proj           columns cut per rank
//   blk.N.attn_norm       input_layernorm
//   blk.N.ffn_norm        post_attention_layernorm
//   output_norm           model.norm
//   output                lm_head                 absent when the embeddings are tied
// Only general.architecture = "llama" is read (Llama, Mistral, SmolLM, Yi use it); its q/k rows
// are stored in the interleaved-RoPE order: inside every head, HF row h·hd/2 + j is GGUF row
// 2j + h (h ∈ {0, 1}, j < hd/2). We copy each row back to its HF place, so the half-split RoPE
// of forward.c applies unchanged.
//
// The whole model is dequantized to fp32 at load (the CPU backend computes in fp32): 135M
// parameters are 0.54 GB. Each rank decodes only the rows / columns of its TpSlice.
#include "model/gguf_load.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/load.h"

// ---------------------------------------------------------------------------- loading

typedef enum { CUT_ROWS, CUT_COLS } Cut;

typedef struct {
    char name[64];
    int64_t rows, cols;   // full matrix as in HF ([out, in]); GGUF dims are {cols, rows}
    Cut cut;
    int64_t start, len;
    int perm_heads;       // > 0: q/k row permutation with this many heads in the full tensor
    Mat *mat;
    float **vec;          // 1-D: destination
} GJob;

static GJob *gjob(GJob *v, int *n, const char *name, int64_t rows, int64_t cols, Cut cut, int64_t start, int64_t len) {
    GJob *j = &v[(*n)++];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    j->rows = rows;
    j->cols = cols;
    j->cut = cut;
    j->start = start;
    j->len = len;
    return j;
}

static int check_tensor(const Gguf *g, const GJob *j, const GgufTensor *t, LwError *err) {
    if (!t)
        return lw_err(err, "the GGUF is incomplete or not a llama-architecture conversion; re-convert it with llama.cpp",
                      "%s: tensor \"%s\" is missing", g->path, j->name);
    int want_nd = j->vec ? 1 : 2;
    int ok = t->ndim == want_nd && t->dims[0] == j->cols && (want_nd == 1 || t->dims[1] == j->rows);
    if (!ok)
        return lw_err(err, "the metadata and the weights disagree; the file is corrupt",
                      "%s: tensor \"%s\" has GGUF dims [%lld, %lld], expected [%lld, %lld] from the metadata", g->path, j->name,
                      (long long)t->dims[0], (long long)(t->ndim > 1 ? t->dims[1] : 1), (long long)j->cols, (long long)(j->vec ? 1 : j->rows));
    return gguf_check_type(g, t, err);
}

Model *model_load_gguf(const char *path, int tp_rank, int tp_size, const ModelLoadOpts *o, LwError *err) {
    Gguf g;
    if (gguf_open(path, &g, err)) return NULL;
    ModelConfig cfg;
    if (o->cfg) cfg = *o->cfg;
    else if (model_config_from_gguf(&g, &cfg, err)) { gguf_close(&g); return NULL; }
    TpSlice s;
    char why[512];
    if (tp_slice_plan(&cfg, tp_rank, tp_size, o->uneven_heads, &s, why, sizeof why)) {
        lw_err(err, "choose a tensor-parallel size from the valid ones listed", "%s: tensor-parallel size %d: %s", path, tp_size, why);
        gguf_close(&g);
        return NULL;
    }
    Model *m = xcalloc(1, sizeof *m);
    m->backend = backend_default();
    m->cfg = cfg;
    m->tp = s;
    m->layers = xcalloc(cfg.n_layers, sizeof *m->layers);
    snprintf(m->dir, sizeof m->dir, "%s", path);
    snprintf(m->name, sizeof m->name, "%s", lw_basename(path));
    size_t nl = strlen(m->name);
    if (nl > 5 && !strcmp(m->name + nl - 5, ".gguf")) m->name[nl - 5] = 0;

    int64_t d = cfg.d_model, hd = cfg.head_dim, q = (int64_t)cfg.n_heads * hd, kv = (int64_t)cfg.n_kv_heads * hd;
    int64_t q0 = (int64_t)s.head_start * hd, qn = (int64_t)s.n_heads * hd;
    int64_t k0 = (int64_t)s.kv_start * hd, kn = (int64_t)s.n_kv * hd;
    int cap = 4 + 9 * cfg.n_layers, n = 0;
    GJob *jobs = xcalloc(cap, sizeof *jobs);
    char nm[64];
    gjob(jobs, &n, "token_embd.weight", cfg.vocab, d, CUT_ROWS, s.vocab_start, s.vocab_len)->mat = &m->embed;
    for (int i = 0; i < cfg.n_layers; i++) {
        LayerWeights *L = &m->layers[i];
#define NM(suffix) (snprintf(nm, sizeof nm, "blk.%d.%s", i, suffix), nm)
        GJob *j = gjob(jobs, &n, NM("attn_q.weight"), q, d, CUT_ROWS, q0, qn);
        j->mat = &L->wq;
        j->perm_heads = cfg.n_heads;
        j = gjob(jobs, &n, NM("attn_k.weight"), kv, d, CUT_ROWS, k0, kn);
        j->mat = &L->wk;
        j->perm_heads = cfg.n_kv_heads;
        gjob(jobs, &n, NM("attn_v.weight"), kv, d, CUT_ROWS, k0, kn)->mat = &L->wv;
        gjob(jobs, &n, NM("attn_output.weight"), d, q, CUT_COLS, q0, qn)->mat = &L->wo;
        gjob(jobs, &n, NM("ffn_gate.weight"), cfg.d_ff, d, CUT_ROWS, s.ff_start, s.ff_len)->mat = &L->wgate;
        gjob(jobs, &n, NM("ffn_up.weight"), cfg.d_ff, d, CUT_ROWS, s.ff_start, s.ff_len)->mat = &L->wup;
        gjob(jobs, &n, NM("ffn_down.weight"), d, cfg.d_ff, CUT_COLS, s.ff_start, s.ff_len)->mat = &L->wdown;
        gjob(jobs, &n, NM("attn_norm.weight"), 1, d, CUT_COLS, 0, d)->vec = &L->ln_in;
        gjob(jobs, &n, NM("ffn_norm.weight"), 1, d, CUT_COLS, 0, d)->vec = &L->ln_post_attn;
#undef NM
    }
    gjob(jobs, &n, "output_norm.weight", 1, d, CUT_COLS, 0, d)->vec = &m->ln_final;
    if (!cfg.tied) gjob(jobs, &n, "output.weight", cfg.vocab, d, CUT_ROWS, s.vocab_start, s.vocab_len)->mat = &m->unembed;
    LW_ASSERT(n <= cap);

    // Validate everything before allocating or decoding anything.
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (check_tensor(&g, &jobs[i], gguf_find_tensor(&g, jobs[i].name), err)) goto fail;
        int64_t other = jobs[i].cut == CUT_ROWS ? jobs[i].cols : jobs[i].rows;
        total += ((size_t)jobs[i].len * (size_t)other * 4 + 63) & ~(size_t)63;
    }
    m->arena = model_arena_alloc(total, "dequantized weights", path);
    m->arena_bytes = total;

    char *p = m->arena;
    for (int i = 0; i < n; i++) {
        GJob *j = &jobs[i];
        const GgufTensor *t = gguf_find_tensor(&g, j->name);
        float *dst = (float *)p;
        int64_t other = j->cut == CUT_ROWS ? j->cols : j->rows;
        if (j->vec) {
            if (gguf_read_f32(&g, t, 0, 1, 0, j->cols, dst, err)) goto fail;
            *j->vec = dst;
        } else if (j->cut == CUT_COLS) {
            if (gguf_read_f32(&g, t, 0, j->rows, j->start, j->len, dst, err)) goto fail;
            *j->mat = (Mat){DT_F32, j->rows, j->len, dst};
        } else if (j->perm_heads > 0) {
            // HF row r = head·hd + h·hd/2 + jj  <-  GGUF row head·hd + 2·jj + h.
            for (int64_t r = j->start; r < j->start + j->len; r++) {
                int64_t head = r / hd, within = r % hd, h = within / (hd / 2), jj = within % (hd / 2);
                int64_t src = head * hd + 2 * jj + h;
                if (gguf_read_f32(&g, t, src, 1, 0, j->cols, dst + (size_t)(r - j->start) * j->cols, err)) goto fail;
            }
            *j->mat = (Mat){DT_F32, j->len, j->cols, dst};
        } else {
            if (gguf_read_f32(&g, t, j->start, j->len, 0, j->cols, dst, err)) goto fail;
            *j->mat = (Mat){DT_F32, j->len, j->cols, dst};
        }
        p += ((size_t)j->len * (size_t)other * 4 + 63) & ~(size_t)63;
    }
    if (cfg.tied) m->unembed = m->embed;
    m->bytes_read = g.bytes_read;
    free(jobs);
    gguf_close(&g);
    return m;
fail:
    free(jobs);
    gguf_close(&g);
    model_free(m);
    return NULL;
}
