// forward — the one forward pass of every family, on one rank's tensor-parallel slice.
//
// The five families differ only in data (LW_FAMILIES flags + ModelConfig values), so this file
// holds a single decoder loop (ARCHITECTURES.md §4):
//
//   h = E[ids] (· sqrt(d) for Gemma)                          vocab-parallel: all-reduce #0
//   per layer: a = norm_in(h); attention on the local heads; P = attn · Woᵀ (partial, double)
//              all-reduce #1(P) in double, rounded to fp32; [Gemma: P = norm_post_attn(P)]; h += P
//              m = norm(h) (Llama: post_attention_layernorm; Gemma: pre_feedforward)
//              P = act(m·Wgᵀ) ⊙ (m·Wuᵀ) · Wdᵀ (partial over the local ff slice, double)
//              all-reduce #2(P) in double, rounded to fp32; [Gemma: P = norm_post_ffn(P)]; h += P
//
// Tensor parallelism (TENSOR_PARALLEL.md §2-4) is the only code path: with comm NULL or of size 1
// the all-reduces are no-ops, and a rank with the whole model simply owns every head, every ff
// row and the whole vocabulary. Gemma's post-norms are non-linear, so they run after the
// all-reduce, on the complete vector.
//
// The residual stream is fp32 and written in place layer by layer: r_{i+1} starts as a copy of
// r_i and the two block outputs are added to it, so no extra [T, d] buffer is needed for h.
// Every op runs on the model's backend (m->backend, backend/backend.h), and every scratch buffer
// is the backend's memory: this file never names a device.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

// Column-parallel products (q/k/v, gate/up): each output column has its whole sum on this rank.
// By default accumulated in double and rounded once (matmul_exact): a fp32 GEMM (OpenBLAS's sgemm)
// may round a column differently depending on how many columns it is given, i.e. on the TP size.
static void matmul(const Model *m, const float *x, int T, const Mat *w, const float *bias, float *y) {
    if (m->fp32_sums) m->backend->matmul_fast(x, T, w->dtype, w->data, w->rows, w->cols, bias, y);
    else m->backend->matmul_exact(x, T, w->dtype, w->data, w->rows, w->cols, bias, y);
}

static void allreduce(Comm *comm, float *buf, size_t n) {
    if (comm) comm_allreduce_sum_f32(comm, buf, n);
}

// A row-parallel product and its all-reduce: part = Σ_ranks x_r · W_rᵀ. Accumulated and reduced in
// double and rounded to fp32 once, so the sum does not depend on how the inner dimension is split
// across ranks (matmul_f64): R = 1, 2, 4 give the same fp32 result, not one within summation
// noise. acc is a [T, d] double scratch buffer.
static void row_parallel(const Model *m, const float *x, int T, const Mat *w, double *acc, float *part,
                         Comm *comm) {
    const Backend *bk = m->backend;
    size_t n = (size_t)T * (size_t)w->rows;
    if (m->fp32_sums) { // option tp_exact: false
        bk->matmul_fast(x, T, w->dtype, w->data, w->rows, w->cols, NULL, part);
        allreduce(comm, part, n);
        return;
    }
    bk->matmul_f64(x, T, w->dtype, w->data, w->rows, w->cols, acc);
    if (comm) comm_allreduce_sum_f64(comm, acc, n);
    bk->round_f64(acc, part, n);
}

// The public functions below (model.h) take HOST buffers, as the lens hands them; they run on
// backend memory. Where host memory is backend memory (the CPU) the buffers are used in place;
// otherwise inputs are uploaded to backend copies and results downloaded.
static void *stage_in(const Backend *bk, const void *host, size_t bytes) {
    if (bk->host_memory) return (void *)host;
    void *d = bk->alloc(bytes);
    bk->upload(d, host, bytes);
    return d;
}
static void *stage_out(const Backend *bk, void *host, size_t bytes) { return bk->host_memory ? host : bk->alloc(bytes); }
static void stage_done(const Backend *bk, void *host, void *d, size_t bytes) { // host NULL: nothing to download
    if (bk->host_memory) return;
    if (host) bk->download(host, d, bytes);
    bk->free(d);
}

static void rmsnorm_bk(const Model *m, const float *w, const float *x, float *out, int rows) {
    m->backend->rmsnorm(x, w, out, rows, m->cfg.d_model, (float)m->cfg.rms_eps);
}

void model_rmsnorm(const Model *m, const float *w, const float *x, float *out, int rows) {
    const Backend *bk = m->backend;
    size_t bytes = (size_t)rows * m->cfg.d_model * sizeof(float);
    float *dx = stage_in(bk, x, bytes), *dout = out == x ? dx : stage_out(bk, out, bytes);
    rmsnorm_bk(m, w, dx, dout, rows);
    if (dout != dx) stage_done(bk, out, dout, bytes);
    stage_done(bk, out == x ? out : NULL, dx, bytes);
}

static void unembed_bk(const Model *m, const float *x, int rows, float *out) {
    LW_ASSERT(m->unembed.rows == m->tp.vocab_len && m->unembed.cols == m->cfg.d_model);
    // The lens decode (all layers × positions × the vocab shard) is the bulk of a run. OpenBLAS's
    // sgemm rounds one logit differently depending on the call's shape and on the logit's place
    // in it (measured on AMD Zen: a 1000-logit sample differs from the full product for every
    // sub-shape tried, and by placement within one fixed shape), i.e. on the shard width and the
    // chunk rows. matmul_rowdot computes every logit by one fixed sequence of fp32 operations:
    // the same number at any rank count and chunking, and the lens at the last layer equals the
    // final logits bit for bit (KL exactly 0), at fp32 speed. Both tp_exact settings use it.
    m->backend->matmul_rowdot(x, rows, m->unembed.dtype, m->unembed.data, m->unembed.rows, m->unembed.cols, out);
}

void model_unembed(const Model *m, const float *x, int rows, float *out) {
    const Backend *bk = m->backend;
    size_t yb = (size_t)rows * m->tp.vocab_len * sizeof(float);
    float *dout = stage_out(bk, out, yb);
    model_unembed_bk(m, x, rows, dout);
    stage_done(bk, out, dout, yb);
}

void model_unembed_bk(const Model *m, const float *x, int rows, float *out) {
    const Backend *bk = m->backend;
    size_t xb = (size_t)rows * m->cfg.d_model * sizeof(float);
    float *dx = stage_in(bk, x, xb);
    unembed_bk(m, dx, rows, out);
    stage_done(bk, NULL, dx, xb);
}

void model_final_logits(const Model *m, const float *r_last, int rows, float *out) {
    const Backend *bk = m->backend;
    size_t yb = (size_t)rows * m->tp.vocab_len * sizeof(float);
    float *dout = stage_out(bk, out, yb);
    model_final_logits_bk(m, r_last, rows, dout);
    stage_done(bk, out, dout, yb);
}

void model_final_logits_bk(const Model *m, const float *r_last, int rows, float *out) {
    const Backend *bk = m->backend;
    const FamilyInfo *fam = &LW_FAMILIES[m->cfg.family];
    size_t xb = (size_t)rows * m->cfg.d_model * sizeof(float);
    float *dx = stage_in(bk, r_last, xb);
    float *normed = bk->alloc(xb);
    rmsnorm_bk(m, m->ln_final, dx, normed, rows);
    unembed_bk(m, normed, rows, out);
    if (fam->has_softcaps && m->cfg.final_softcap > 0)
        bk->softcap(out, (size_t)rows * m->tp.vocab_len, (float)m->cfg.final_softcap);
    bk->free(normed);
    stage_done(bk, NULL, dx, xb);
}

float *model_unembed_rows(const Model *m, const int32_t *ids, int n, Comm *comm) {
    const Backend *bk = m->backend;
    int d = m->cfg.d_model;
    float *out = xcalloc((size_t)(n ? n : 1) * d, sizeof(float));
    if (n <= 0) return out;
    size_t bytes = (size_t)n * d * sizeof(float);
    float *dout = stage_out(bk, out, bytes);
    bk->embed_rows(m->unembed.dtype, m->unembed.data, m->tp.vocab_start, m->tp.vocab_len, d, ids, n, dout);
    stage_done(bk, out, dout, bytes);
    if (comm) comm_allreduce_sum_f32(comm, out, (size_t)n * d);
    return out;
}

// Vocab-parallel embedding lookup: rows owned by this rank are widened, others are zeros; the
// all-reduce then has exactly one non-zero term per element, so the sum is exact.
static void embed_lookup(const Model *m, const int32_t *ids, int T, float *h, Comm *comm) {
    int d = m->cfg.d_model;
    for (int t = 0; t < T; t++)
        LW_ASSERT(ids[t] >= 0 && ids[t] < m->cfg.vocab); // callers validate ids against the vocab
    m->backend->embed_rows(m->embed.dtype, m->embed.data, m->tp.vocab_start, m->tp.vocab_len, d, ids, T, h);
    allreduce(comm, h, (size_t)T * d);
    if (LW_FAMILIES[m->cfg.family].embed_scale_sqrt_d) {
        // HF: torch.tensor(hidden_size ** 0.5) in the run dtype; the CPU backend runs in fp32.
        m->backend->scale(h, (size_t)T * d, (float)sqrt((double)d));
    }
}

// A packed batch (seg_off NULL: one prompt of T rows): rows seg_off[s] .. seg_off[s+1]-1 are one
// prompt. Every row-wise op (norms, products, activations) runs on all rows at once, so each
// weight matrix is read once per batch; attention keeps each prompt to itself (its own causal
// mask and window), and RoPE positions restart at 0 with each prompt.
static void forward_bk(const Model *m, const int32_t *ids, int T, const int32_t *seg_off, int n_seg, float *resid,
                       Comm *comm) {
    const ModelConfig *c = &m->cfg;
    const FamilyInfo *fam = &LW_FAMILIES[c->family];
    const TpSlice *tp = &m->tp;
    const Backend *bk = m->backend;
    LW_ASSERT(ids && resid && T > 0);
    int d = c->d_model, hd = c->head_dim, nh = tp->n_heads, nkv = tp->n_kv, ff = tp->ff_len;
    int qw = nh * hd, kw = nkv * hd;
    float eps = (float)c->rms_eps;
    size_t Td = (size_t)T * d;

    embed_lookup(m, ids, T, resid, comm);

    float *inv_freq = xmalloc((size_t)hd / 2 * sizeof(float)); // host (backend.h)
    float *cos_tab = bk->alloc((size_t)T * hd / 2 * sizeof(float));
    float *sin_tab = bk->alloc((size_t)T * hd / 2 * sizeof(float));
    bk->rope_inv_freq(c->rope_theta, hd, inv_freq);
    if (!seg_off) {
        bk->rope_tables(inv_freq, hd, T, cos_tab, sin_tab);
    } else { // the tables of positions 0 .. longest-1, then each prompt's first rows of them
        int longest = 0;
        for (int s = 0; s < n_seg; s++)
            if (seg_off[s + 1] - seg_off[s] > longest) longest = seg_off[s + 1] - seg_off[s];
        size_t half = (size_t)hd / 2;
        float *ct = bk->alloc((size_t)longest * half * sizeof(float)), *st = bk->alloc((size_t)longest * half * sizeof(float));
        bk->rope_tables(inv_freq, hd, longest, ct, st);
        for (int s = 0; s < n_seg; s++) {
            size_t n = (size_t)(seg_off[s + 1] - seg_off[s]) * half * sizeof(float);
            bk->copy(cos_tab + (size_t)seg_off[s] * half, ct, n);
            bk->copy(sin_tab + (size_t)seg_off[s] * half, st, n);
        }
        bk->free(ct);
        bk->free(st);
    }

    float *a = bk->alloc(Td * sizeof(float));        // normed block input
    float *part = bk->alloc(Td * sizeof(float));     // o_proj / down_proj output (all-reduced)
    double *acc = bk->alloc(Td * sizeof(double));    // their partial sums, in double
    float *q = bk->alloc((size_t)T * qw * sizeof(float));
    float *k = bk->alloc((size_t)T * kw * sizeof(float));
    float *v = bk->alloc((size_t)T * kw * sizeof(float));
    float *att = bk->alloc((size_t)T * qw * sizeof(float));
    float *gate = bk->alloc((size_t)T * ff * sizeof(float));
    float *up = bk->alloc((size_t)T * ff * sizeof(float));

    AttnParams ap = {
        .n_heads = nh, .n_kv = nkv, .head_dim = hd, .q_per_kv = c->n_heads / c->n_kv_heads,
        .head_start = tp->head_start, .kv_start = tp->kv_start,
        .scale = (float)pow(fam->has_query_pre_attn_scalar && c->query_pre_attn_scalar > 0
                                ? c->query_pre_attn_scalar : (double)hd, -0.5),
        .softcap = fam->has_softcaps && c->attn_softcap > 0 ? (float)c->attn_softcap : 0.0f,
    };

    for (int i = 0; i < c->n_layers; i++) {
        const LayerWeights *lw = &m->layers[i];
        LW_ASSERT(lw->wq.rows == qw && lw->wq.cols == d && lw->wk.rows == kw && lw->wk.cols == d);
        LW_ASSERT(lw->wv.rows == kw && lw->wv.cols == d && lw->wo.rows == d && lw->wo.cols == qw);
        LW_ASSERT(lw->wgate.rows == ff && lw->wup.rows == ff && lw->wdown.rows == d && lw->wdown.cols == ff);
        float *h = resid + (size_t)(i + 1) * Td;
        bk->copy(h, resid + (size_t)i * Td, Td * sizeof(float));

        // attention
        rmsnorm_bk(m, lw->ln_in, h, a, T);
        matmul(m, a, T, &lw->wq, lw->bq, q);
        matmul(m, a, T, &lw->wk, lw->bk, k);
        matmul(m, a, T, &lw->wv, lw->bv, v);
        if (fam->qk_norm) {
            bk->rmsnorm(q, lw->q_norm, q, T * nh, hd, eps);
            bk->rmsnorm(k, lw->k_norm, k, T * nkv, hd, eps);
        }
        bk->rope_apply(q, T, nh, hd, qw, cos_tab, sin_tab);
        bk->rope_apply(k, T, nkv, hd, kw, cos_tab, sin_tab);
        ap.window = c->sliding_window > 0 && (!fam->sliding_even_layers || i % 2 == 0) ? c->sliding_window : 0;
        bk->attention(q, k, v, T, seg_off, n_seg, &ap, att);
        row_parallel(m, att, T, &lw->wo, acc, part, comm);
        if (fam->sandwich_norms) rmsnorm_bk(m, lw->ln_post_attn, part, part, T);
        bk->add(h, part, Td);

        // gated MLP
        rmsnorm_bk(m, fam->sandwich_norms ? lw->ln_pre_ffn : lw->ln_post_attn, h, a, T);
        matmul(m, a, T, &lw->wgate, NULL, gate);
        matmul(m, a, T, &lw->wup, NULL, up);
        bk->gated_act(gate, up, (size_t)T * ff, fam->gelu_tanh);
        row_parallel(m, gate, T, &lw->wdown, acc, part, comm);
        if (fam->sandwich_norms) rmsnorm_bk(m, lw->ln_post_ffn, part, part, T);
        bk->add(h, part, Td);
    }

    free(inv_freq);
    void *scratch[] = {cos_tab, sin_tab, a, part, acc, q, k, v, att, gate, up};
    for (size_t j = 0; j < sizeof scratch / sizeof *scratch; j++) bk->free(scratch[j]);
}

// resid is host memory (model.h); the pass runs on a backend copy where the two differ.
void model_forward(const Model *m, const int32_t *ids, int T, float *resid, Comm *comm) {
    LW_ASSERT(ids && resid && T > 0);
    const Backend *bk = m->backend;
    size_t bytes = (size_t)(m->cfg.n_layers + 1) * (size_t)T * m->cfg.d_model * sizeof(float);
    float *dres = stage_out(bk, resid, bytes);
    // the collectives run on backend buffers: on the CUDA backend through NCCL (model.h dev_comm)
    forward_bk(m, ids, T, NULL, 1, dres, m->dev_comm && comm ? m->dev_comm : comm);
    stage_done(bk, resid, dres, bytes);
}

void model_forward_batch(const Model *m, const int32_t *ids, const int *lens, int n_prompts, float *resid,
                         Comm *comm) {
    LW_ASSERT(ids && lens && resid && n_prompts > 0);
    int32_t *seg_off = xmalloc(sizeof(int32_t) * ((size_t)n_prompts + 1));
    seg_off[0] = 0;
    for (int p = 0; p < n_prompts; p++) {
        LW_ASSERT(lens[p] > 0 && (int64_t)seg_off[p] + lens[p] <= INT32_MAX);
        seg_off[p + 1] = seg_off[p] + lens[p];
    }
    int T = seg_off[n_prompts];
    const Backend *bk = m->backend;
    size_t bytes = (size_t)(m->cfg.n_layers + 1) * (size_t)T * m->cfg.d_model * sizeof(float);
    float *dres = stage_out(bk, resid, bytes);
    forward_bk(m, ids, T, n_prompts > 1 ? seg_off : NULL, n_prompts, dres, m->dev_comm && comm ? m->dev_comm : comm);
    stage_done(bk, resid, dres, bytes);
    free(seg_off);
}

void model_batch_resid(const Model *m, const float *resid, int T_batch, int off, int T, float *out) {
    LW_ASSERT(resid && out && off >= 0 && T > 0 && off + T <= T_batch);
    size_t d = (size_t)m->cfg.d_model;
    for (int l = 0; l <= m->cfg.n_layers; l++)
        memcpy(out + (size_t)l * T * d, resid + ((size_t)l * T_batch + off) * d, (size_t)T * d * sizeof(float));
}
