// batch — how many tokens one packed forward pass (model_forward_batch) may hold under a memory
// budget, and the grouping of independent prompts into such batches.
//
// A batch reads every weight matrix once for all its rows, so bigger batches amortize the weight
// traffic (and, on the CPU, the widening of bf16 weights) over more tokens; what grows with the
// batch is the activations, which this file counts per token from the model's sizes on this rank.
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

size_t model_token_bytes(long n_layers, long d_model, long head_dim, long n_heads, long n_kv, long ff_len, int exact) {
    size_t d = (size_t)d_model, hd = (size_t)head_dim, ff = (size_t)ff_len;
    size_t qw = (size_t)n_heads * hd, kw = (size_t)n_kv * hd;
    size_t resid = (size_t)(n_layers + 1) * d * sizeof(float); // the residual stream it returns
    size_t scratch = (2 * d + 2 * qw + 2 * kw + 2 * ff + hd) * sizeof(float) // a, part, q, att, k, v, gate, up, RoPE rows
                     + d * sizeof(double);                                 // row-parallel partial sums
    if (exact) { // the exact products widen a row of x to double and hold a row of double outputs
        size_t wide = d > qw ? d : qw;
        if (ff > wide) wide = ff;
        scratch += 2 * wide * sizeof(double);
    }
    return resid + scratch;
}

size_t model_forward_token_bytes(const Model *m) {
    const ModelConfig *c = &m->cfg;
    return model_token_bytes(c->n_layers, c->d_model, c->head_dim, m->tp.n_heads, m->tp.n_kv, m->tp.ff_len, !m->fp32_sums);
}

int model_batch_tokens_of(size_t token_bytes, double budget_mb) {
    double n = budget_mb * 1e6 / (double)token_bytes;
    if (!(n >= 1)) return 1;
    return n > INT32_MAX / 2 ? INT32_MAX / 2 : (int)n;
}

int model_batch_tokens(const Model *m, double budget_mb) {
    return model_batch_tokens_of(model_forward_token_bytes(m), budget_mb);
}

int model_batch_plan(const int *lens, int n, int max_tokens, int *first) {
    LW_ASSERT(n >= 0 && max_tokens >= 1 && (n == 0 || lens));
    int nb = 0, i = 0;
    while (i < n) {
        first[nb++] = i;
        int64_t tokens = lens[i++]; // the batch's first prompt goes in even when it alone exceeds the budget
        while (i < n && tokens + lens[i] <= max_tokens) tokens += lens[i++];
    }
    first[nb] = n;
    return nb;
}

int model_forward_prompts(const Model *m, const int32_t *const *ids, const int *lens, int n, int max_tokens,
                          Comm *comm, ModelBatchSink each, void *ctx) {
    LW_ASSERT(n >= 0 && ids && lens && each);
    if (n == 0) return 0;
    int *first = xmalloc(sizeof(int) * ((size_t)n + 1)), *off = xmalloc(sizeof(int) * ((size_t)n + 1));
    int nb = model_batch_plan(lens, n, max_tokens, first);
    size_t d = (size_t)m->cfg.d_model, n1 = (size_t)m->cfg.n_layers + 1;
    for (int b = 0; b < nb; b++) {
        int p0 = first[b], np = first[b + 1] - p0, T = 0;
        for (int p = 0; p < np; p++) { off[p] = T; T += lens[p0 + p]; }
        int32_t *bids = xmalloc(sizeof(int32_t) * (size_t)T);
        for (int p = 0; p < np; p++) memcpy(bids + off[p], ids[p0 + p], sizeof(int32_t) * (size_t)lens[p0 + p]);
        float *resid = xmalloc(sizeof(float) * n1 * (size_t)T * d);
        model_forward_batch(m, bids, lens + p0, np, resid, comm);
        for (int p = 0; p < np; p++) each(ctx, p0 + p, resid, T, off[p]);
        free(resid);
        free(bids);
    }
    free(first);
    free(off);
    return nb;
}
